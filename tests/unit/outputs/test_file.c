// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "outputs/file.h"
#include "sinktest.h"

static char dir[64], path[128], yaml[256];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lanner-file-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
	snprintf(yaml, sizeof(yaml), "file:\n  path: %s\n", path);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The file's lines (caller frees each and the array); *n gets their number. */
static char **read_lines(const char *p, size_t *n)
{
	char **v = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f = fopen(p, "r");

	*n = 0;
	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		assert_int_equal(line[len - 1], '\n');
		line[len - 1] = '\0';
		v = realloc(v, (*n + 1) * sizeof(*v));
		assert_non_null(v);
		v[(*n)++] = strdup(line);
	}
	free(line);
	fclose(f);
	return v;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void test_lines_in_order(void **state)
{
	enum { N = 700 }; /* several batches */
	struct alert *a[N];
	struct st t;
	struct stat sb;
	mode_t um = umask(022);
	char **lines;
	size_t n, i;

	umask(um);
	assert_int_equal(st_start(&t, &file_sink_ops, yaml), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640 & ~um);
	for (i = 0; i < N; i++) {
		a[i] = st_alert((int)i);
		assert_int_equal(st_send(&t, a[i], i), 0);
	}
	st_wait(&t, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(t.order[i], (int)i); /* completions in order */
		assert_int_equal(t.per_token[i], 1);
		assert_int_equal(t.status[i].result, SINK_OK);
	}
	assert_int_equal(st_stop(&t), 0);

	lines = read_lines(path, &n);
	assert_int_equal(n, N);
	for (i = 0; i < N; i++) {
		assert_string_equal(lines[i], alert_json(a[i], NULL));
		alert_unref(a[i]);
	}
	free_lines(lines, n);
}

static void test_appends(void **state)
{
	struct alert *a = st_alert(1);
	struct st t;
	char **lines;
	size_t n;
	FILE *f = fopen(path, "w");

	fputs("existing line\n", f);
	fclose(f);
	assert_int_equal(st_start(&t, &file_sink_ops, yaml), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(st_stop(&t), 0);
	lines = read_lines(path, &n);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], "existing line");
	assert_string_equal(lines[1], alert_json(a, NULL));
	free_lines(lines, n);
	alert_unref(a);
}

/* logrotate: rename the file, SIGHUP -> reopen, new lines go to a new file at path. */
static void test_reopen_after_rename(void **state)
{
	struct alert *a[4];
	struct st t;
	char rotated[160], **lines;
	size_t n, i;

	snprintf(rotated, sizeof(rotated), "%s.1", path);
	for (i = 0; i < 4; i++)
		a[i] = st_alert((int)i);
	assert_int_equal(st_start(&t, &file_sink_ops, yaml), 0);
	assert_int_equal(st_send(&t, a[0], 0), 0);
	assert_int_equal(st_send(&t, a[1], 1), 0);
	st_wait(&t, 2);
	assert_int_equal(rename(path, rotated), 0);
	/* Through the generic hook, as the gateway's SIGHUP handler does. */
	assert_non_null(file_sink_ops.reopen);
	file_sink_ops.reopen(t.sink);
	assert_int_equal(st_send(&t, a[2], 2), 0);
	assert_int_equal(st_send(&t, a[3], 3), 0);
	st_wait(&t, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(t.status[i].result, SINK_OK);
	assert_int_equal(st_stop(&t), 0);

	lines = read_lines(rotated, &n);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], alert_json(a[0], NULL));
	assert_string_equal(lines[1], alert_json(a[1], NULL));
	free_lines(lines, n);
	lines = read_lines(path, &n);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], alert_json(a[2], NULL));
	assert_string_equal(lines[1], alert_json(a[3], NULL));
	free_lines(lines, n);
	for (i = 0; i < 4; i++)
		alert_unref(a[i]);
}

/* A reopen that fails keeps writing to the old file. */
static void test_reopen_failure_keeps_old_file(void **state)
{
	struct alert *a = st_alert(7);
	struct st t;
	char old[160], **lines;
	size_t n;

	snprintf(old, sizeof(old), "%s.old", path);
	assert_int_equal(st_start(&t, &file_sink_ops, yaml), 0);
	assert_int_equal(rename(path, old), 0);
	/* path is now a directory: open(O_WRONLY) fails with EISDIR. */
	assert_int_equal(mkdir(path, 0700), 0);
	file_sink_reopen(t.sink);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(t.status[0].result, SINK_OK);
	assert_int_equal(st_stop(&t), 0);
	assert_int_equal(rmdir(path), 0);
	lines = read_lines(old, &n);
	assert_int_equal(n, 1);
	assert_string_equal(lines[0], alert_json(a, NULL));
	free_lines(lines, n);
	alert_unref(a);
}

/* Write errors are retryable and carry the errno text. */
static void test_write_error_retry(void **state)
{
	struct alert *a = st_alert(1);
	struct st t;

	assert_int_equal(st_start(&t, &file_sink_ops, "file:\n  path: /dev/full\n"), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	assert_int_equal(st_send(&t, a, 1), 0);
	st_wait(&t, 2);
	assert_int_equal(t.status[0].result, SINK_RETRY);
	assert_non_null(strstr(t.status[0].msg, strerror(ENOSPC)));
	assert_int_equal(t.status[1].result, SINK_RETRY);
	assert_int_equal(st_stop(&t), 0);
	alert_unref(a);
}

static void test_open_error(void **state)
{
	struct st t;

	assert_int_equal(st_start(&t, &file_sink_ops, "file:\n  path: /nonexistent-dir/x.jsonl\n"),
			 -ENOENT);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
}

/* close: what the kernel has not got yet completes as SINK_RETRY, every token exactly once. */
static void test_close_with_pending(void **state)
{
	enum { N = 600 };
	struct alert *a = st_alert(1);
	struct st t;
	size_t i, ok = 0;
	char **lines;
	size_t n;

	assert_int_equal(st_start(&t, &file_sink_ops, yaml), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(st_send(&t, a, i), 0);
	t.ops->close(t.sink);
	assert_int_equal(st_send(&t, a, N), -ESHUTDOWN);
	t.ops = &(struct sink_ops){ .name = "closed" };
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.calls, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(t.per_token[i], 1);
		if (t.status[i].result == SINK_OK) {
			assert_int_equal(ok, i); /* the OKs are a prefix */
			ok++;
		} else {
			assert_int_equal(t.status[i].result, SINK_RETRY);
		}
	}
	assert_true(ok > 0 && ok < N);
	assert_int_equal(st_stop(&t), 0);
	lines = read_lines(path, &n);
	assert_int_equal(n, ok);
	free_lines(lines, n);
	alert_unref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_failure_keeps_old_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_error_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
