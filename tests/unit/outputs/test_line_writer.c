// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "outputs/line_writer.h"

#define MAX_LINES 4096

struct rec {
	int calls;
	int order[MAX_LINES];
	int err[MAX_LINES];
	bool closed;
};

static void on_done(void *ctx, void *token, int err)
{
	struct rec *r = ctx;
	int i = (int)(intptr_t)token;

	assert_true(r->calls < MAX_LINES);
	r->order[r->calls++] = i;
	r->err[i] = err;
}

static void on_closed(void *ctx)
{
	((struct rec *)ctx)->closed = true;
}

struct reader {
	int fd;
	int delay_us; /* slow reader: the pipe fills up */
	char *buf;
	size_t len;
};

static void *read_all(void *arg)
{
	struct reader *rd = arg;
	size_t cap = 1 << 20;
	ssize_t n;

	rd->buf = malloc(cap);
	for (;;) {
		if (rd->len + 65536 > cap) {
			cap *= 2;
			rd->buf = realloc(rd->buf, cap);
		}
		if (rd->delay_us)
			usleep((useconds_t)rd->delay_us);
		n = read(rd->fd, rd->buf + rd->len, 65536);
		if (n <= 0)
			break;
		rd->len += (size_t)n;
	}
	return NULL;
}

static void make_line(char *buf, size_t size, int i)
{
	size_t len;

	snprintf(buf, size, "line %05d ", i);
	len = strlen(buf);
	/* Lengths vary from 11 to ~600 bytes, so writes end mid-line. */
	memset(buf + len, 'a' + i % 26, (size_t)(i * 37 % 600));
	buf[len + (size_t)(i * 37 % 600)] = '\0';
}

/*
 * A non-blocking pipe with a slow reader: short writes and EAGAIN both happen; every byte still
 * arrives once, in order, and completions come in order.
 */
static void test_pipe_short_writes_and_eagain(void **state)
{
	enum { N = 3000 };
	struct rec *r = calloc(1, sizeof(*r));
	struct reader rd = { .delay_us = 2000 };
	struct line_writer *w;
	pthread_t th;
	uv_loop_t loop;
	char line[700], *expect = malloc((size_t)N * 700);
	size_t elen = 0;
	int fds[2], i;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	rd.fd = fds[0];
	assert_int_equal(pthread_create(&th, NULL, read_all, &rd), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	w = line_writer_new(&loop, fds[1], NULL, on_done, r);
	assert_non_null(w);
	for (i = 0; i < N; i++) {
		make_line(line, sizeof(line), i);
		assert_int_equal(line_writer_write(w, line, strlen(line), (void *)(intptr_t)i), 0);
		memcpy(expect + elen, line, strlen(line));
		elen += strlen(line);
		expect[elen++] = '\n';
	}
	while (r->calls < N)
		uv_run(&loop, UV_RUN_ONCE);
	for (i = 0; i < N; i++) {
		assert_int_equal(r->order[i], i);
		assert_int_equal(r->err[i], 0);
	}
	line_writer_close(w, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(r->closed);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fds[1]); /* borrowed fd: the writer left it open */
	pthread_join(th, NULL);
	close(fds[0]);
	assert_int_equal(rd.len, elen);
	assert_memory_equal(rd.buf, expect, elen);
	free(rd.buf);
	free(expect);
	free(r);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A reopen asked for while a write is in flight lands exactly between two lines. */
static void test_reopen_between_lines(void **state)
{
	struct rec *r = calloc(1, sizeof(*r));
	char dir[] = "/tmp/lanner-lw-XXXXXX", path[64], rotated[64], cmd[96], *a, *b;
	struct line_writer *w;
	uv_loop_t loop;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(rotated, sizeof(rotated), "%s/out.1", dir);
	assert_int_equal(uv_loop_init(&loop), 0);
	w = line_writer_new(&loop, -1, path, on_done, r);
	assert_non_null(w);
	assert_int_equal(line_writer_write(w, "one", 3, (void *)0), 0);
	assert_int_equal(line_writer_write(w, "two", 3, (void *)1), 0);
	/* "one" is in flight, "two" queued: rotate now, before either completed. */
	assert_int_equal(rename(path, rotated), 0);
	line_writer_reopen(w);
	assert_int_equal(line_writer_write(w, "three", 5, (void *)2), 0);
	while (r->calls < 3)
		uv_run(&loop, UV_RUN_ONCE);
	line_writer_close(w, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	a = slurp(rotated);
	b = slurp(path);
	/* Whatever was queued before the reopen went to the old file. */
	assert_string_equal(a, "one\n");
	assert_string_equal(b, "two\nthree\n");
	free(a);
	free(b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

/* close: queued lines complete with -ECANCELED at once, the one in flight finishes. */
static void test_close_cancels_queue(void **state)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct line_writer *w;
	uv_loop_t loop;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC), i;

	assert_int_equal(uv_loop_init(&loop), 0);
	w = line_writer_new(&loop, fd, NULL, on_done, r);
	for (i = 0; i < 5; i++)
		assert_int_equal(line_writer_write(w, "x", 1, (void *)(intptr_t)i), 0);
	/* Line 0 went out alone (the writer was idle); 1..4 wait. */
	line_writer_close(w, on_closed);
	assert_int_equal(r->calls, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(r->order[i], i + 1);
		assert_int_equal(r->err[i + 1], -ECANCELED);
	}
	assert_false(r->closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(r->closed);
	assert_int_equal(r->calls, 5);
	assert_int_equal(r->err[0], 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fd);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_short_writes_and_eagain),
		cmocka_unit_test(test_reopen_between_lines),
		cmocka_unit_test(test_close_cancels_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
