// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "sinktest.h"

extern const struct sink_ops stdout_sink_ops;

static int saved_stdout = -1, pipe_rd = -1;

/* Point fd 1 at a pipe the test reads. */
static int capture(void **state)
{
	int fds[2];

	fflush(stdout);
	if (pipe(fds) < 0)
		return -1;
	saved_stdout = dup(STDOUT_FILENO);
	if (saved_stdout < 0 || dup2(fds[1], STDOUT_FILENO) < 0)
		return -1;
	close(fds[1]);
	pipe_rd = fds[0];
	return 0;
}

static int restore(void **state)
{
	fflush(stdout);
	dup2(saved_stdout, STDOUT_FILENO);
	close(saved_stdout);
	close(pipe_rd);
	return 0;
}

/* Everything written to the pipe so far (caller frees). */
static char *drain(void)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	assert_int_equal(fcntl(pipe_rd, F_SETFL, O_NONBLOCK), 0);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(pipe_rd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static void test_json_lines(void **state)
{
	struct alert *a[3];
	struct st t;
	char *out, expect[8192] = "";
	int i;

	assert_int_equal(st_start(&t, &stdout_sink_ops, "stdout:\n  enabled: true\n"), 0);
	for (i = 0; i < 3; i++) {
		a[i] = st_alert(i);
		assert_int_equal(st_send(&t, a[i], (size_t)i), 0);
		strcat(expect, alert_json(a[i], NULL));
		strcat(expect, "\n");
	}
	st_wait(&t, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(t.order[i], i);
		assert_int_equal(t.status[i].result, SINK_OK);
	}
	assert_int_equal(st_stop(&t), 0);
	out = drain();
	assert_string_equal(out, expect);
	free(out);
	for (i = 0; i < 3; i++)
		alert_unref(a[i]);
}

static void test_text_format(void **state)
{
	struct alert *a = st_alert(9);
	struct st t;
	char *out, *text;

	assert_int_equal(st_start(&t, &stdout_sink_ops, "stdout:\n  format: text\n"), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(t.status[0].result, SINK_OK);
	assert_int_equal(st_stop(&t), 0);
	out = drain();
	text = alert_text(a);
	assert_non_null(strstr(text, "alert number 9"));
	assert_int_equal(strlen(out), strlen(text) + 1);
	assert_memory_equal(out, text, strlen(text));
	assert_int_equal(out[strlen(text)], '\n');
	free(text);
	free(out);
	alert_unref(a);
}

/* The stdout flags are left alone: the sink never makes fd 1 non-blocking. */
static void test_flags_untouched(void **state)
{
	struct alert *a = st_alert(1);
	struct st t;
	int before = fcntl(STDOUT_FILENO, F_GETFL);
	char *out;

	assert_int_equal(st_start(&t, &stdout_sink_ops, "stdout:\n  format: json\n"), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(fcntl(STDOUT_FILENO, F_GETFL), before);
	assert_int_equal(st_stop(&t), 0);
	out = drain();
	free(out);
	alert_unref(a);
}

/* A reader that closed its end: EPIPE comes back as a retryable failure, not a crash. */
static void test_broken_pipe_retry(void **state)
{
	struct alert *a = st_alert(1);
	struct st t;

	signal(SIGPIPE, SIG_IGN);
	close(pipe_rd);
	pipe_rd = -1;
	assert_int_equal(st_start(&t, &stdout_sink_ops, "stdout: {}\n"), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(t.status[0].result, SINK_RETRY);
	assert_non_null(strstr(t.status[0].msg, strerror(EPIPE)));
	assert_int_equal(st_stop(&t), 0);
	alert_unref(a);
}

static void test_unwritable_stdout(void **state)
{
	int saved = dup(STDOUT_FILENO), ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct st t;

	/* fd 1 read-only (closing it outright would let the loop's own fds take number 1). */
	assert_int_equal(dup2(ro, STDOUT_FILENO), STDOUT_FILENO);
	close(ro);
	assert_int_equal(st_start(&t, &stdout_sink_ops, "stdout: {}\n"), -EBADF);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
}

static void test_bad_format(void **state)
{
	struct st t;

	assert_int_not_equal(st_start(&t, &stdout_sink_ops, "stdout:\n  format: xml\n"), 0);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_lines, capture, restore),
		cmocka_unit_test_setup_teardown(test_text_format, capture, restore),
		cmocka_unit_test_setup_teardown(test_flags_untouched, capture, restore),
		cmocka_unit_test_setup_teardown(test_broken_pipe_retry, capture, restore),
		cmocka_unit_test(test_unwritable_stdout),
		cmocka_unit_test(test_bad_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
