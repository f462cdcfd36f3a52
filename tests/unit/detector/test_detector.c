// SPDX-License-Identifier: Apache-2.0
/*
 * The detector thread on the real kernel (root): a child's open of a marker file becomes an
 * alert on the test's (gateway) loop with the process, parent, fd and user fields filled from
 * the tables; a rules switch changes what matches; the capture file holds the decoded events;
 * statistics count; two processes on two CPUs taking turns are seen in the order they took
 * them. Skips with a reason when not root (fails when CI=true).
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "detector/detector.h"
#include "detector/event.h"
#include "detector/event_json.h"

struct got {
	struct alert *a[16];
	size_t n, internal;
	uv_loop_t *loop;
};

static int submit(void *ctx, struct alert *a)
{
	struct got *g = ctx;

	if (!strcmp(alert_source(a), "internal")) {
		/* drops under a machine's load elsewhere: counted, not what is tested here */
		g->internal++;
		alert_unref(a);
		return 0;
	}
	if (g->n < 16)
		g->a[g->n++] = a;
	else
		alert_unref(a);
	return 0;
}

static bool need_root(void)
{
	const char *ci = getenv("CI");

	if (geteuid() == 0)
		return true;
	if (ci && !strcmp(ci, "true"))
		fail_msg("CI=true but not root: the detector tests need root on the real kernel");
	print_message("skipping: loading BPF programs needs root (CAP_BPF + CAP_PERFMON)\n");
	return false;
}

static struct rules *load(const char *yaml)
{
	struct rules *r = rules_new();

	assert_non_null(r);
	assert_true(rules_add_source(r, &syscall_field_source) >= 0);
	assert_int_equal(rules_load_buffer(r, "test.yaml", yaml, strlen(yaml)), 0);
	assert_int_equal(rules_compile(r), 0);
	return r;
}

static void on_timer(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop until `want` alerts arrived or 10 s passed (slow on a loaded machine). */
static void wait_alerts(struct got *g, size_t want)
{
	uv_timer_t t;

	uv_timer_init(g->loop, &t);
	for (int i = 0; i < 200 && g->n < want; i++) {
		uv_timer_start(&t, on_timer, 50, 0);
		uv_run(g->loop, UV_RUN_DEFAULT);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(g->loop, UV_RUN_NOWAIT);
}

static const char *field(const struct alert *a, const char *k)
{
	const json_t *v = json_object_get(alert_output_fields(a), k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Starts a detector with rules r and a capture file, its alerts to g on loop. */
static struct detector *start(struct got *g, uv_loop_t *loop, const struct rules *r,
			      const char *cap)
{
	struct detector_opts o = { 0 };
	struct detector *d;
	char err[256] = "";

	uv_loop_init(loop);
	g->loop = loop;
	o.rules = r;
	o.gateway_loop = loop;
	o.submit = submit;
	o.submit_ctx = g;
	o.capture_path = cap;
	d = detector_start(&o, err, sizeof(err));
	if (!d)
		fail_msg("detector_start: %s", err);
	return d;
}

/* Stops d and runs its hand-off down on loop. */
static void stop(struct detector *d, uv_loop_t *loop)
{
	detector_stop(d);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

/* A child named lanner-child that chdirs to dir and runs op(rel). */
static void child(const char *dir, int op, const char *name)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		prctl(PR_SET_NAME, "lanner-child");
		if (chdir(dir))
			_exit(1);
		if (op == 0) {
			fd = open(name, O_RDONLY);
			if (fd < 0)
				_exit(2);
			close(fd);
		} else if (unlink(name)) {
			_exit(3);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_alerts(void **state)
{
	char dir[] = "/tmp/lanner-detector-XXXXXX", marker[128], rel[160], cap[160], yaml[1024],
	     yaml2[1024], line[8192];
	struct got g = { 0 };
	struct detector_stats st;
	struct detector *d;
	struct rules *r1, *r2;
	uv_loop_t loop;
	FILE *f;
	struct event_reader *rd;
	const struct syscall_event *ev;
	struct timespec t0, t1;
	bool seen = false;
	int fd;

	(void)state;
	if (!need_root())
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	snprintf(rel, sizeof(rel), "sub/../marker");
	snprintf(cap, sizeof(cap), "%s/capture.jsonl", dir);
	assert_int_equal(mkdir(strcat(strcpy(line, dir), "/sub"), 0755), 0);
	fd = open(marker, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(yaml, sizeof(yaml),
		 "- rule: Marker opened\n"
		 "  desc: t\n"
		 "  condition: evt.type in (open, openat) and fd.name = \"%s\"\n"
		 "  output: opened (proc.name=%%proc.name proc.pname=%%proc.pname "
		 "fd.name=%%fd.name user.name=%%user.name container.id=%%container.id)\n"
		 "  priority: WARNING\n"
		 "  tags: [test_tag]\n",
		 marker);
	snprintf(yaml2, sizeof(yaml2),
		 "- rule: Marker removed\n"
		 "  desc: t\n"
		 "  condition: evt.type in (unlink, unlinkat) and proc.name = lanner-child\n"
		 "  output: removed (proc.name=%%proc.name)\n"
		 "  priority: ERROR\n");
	r1 = load(yaml);
	r2 = load(yaml2);

	d = start(&g, &loop, r1, cap);

	clock_gettime(CLOCK_REALTIME, &t0);
	child(dir, 0, rel);
	wait_alerts(&g, 1);
	clock_gettime(CLOCK_REALTIME, &t1);
	assert_int_equal(g.n, 1);
	/*
	 * Dated by the detector between two of its drains (no kernel clock read): not after the
	 * alert arrived, and before the child ran by no more than the time between two drains
	 * (20 ms; 5 s allowed for a starved thread on a loaded machine).
	 */
	assert_true(alert_time_ns(g.a[0]) <= (int64_t)t1.tv_sec * 1000000000 + t1.tv_nsec);
	assert_true(alert_time_ns(g.a[0]) >= (int64_t)(t0.tv_sec - 5) * 1000000000 + t0.tv_nsec);
	assert_string_equal(alert_rule(g.a[0]), "Marker opened");
	assert_int_equal(alert_priority(g.a[0]), PRIORITY_WARNING);
	assert_string_equal(alert_source(g.a[0]), "syscall");
	assert_string_equal(field(g.a[0], "proc.name"), "lanner-child");
	assert_string_equal(field(g.a[0], "fd.name"), marker);
	assert_string_equal(field(g.a[0], "user.name"), "root");
	assert_non_null(field(g.a[0], "proc.pname"));
	assert_non_null(field(g.a[0], "container.id"));
	assert_string_equal(json_string_value(json_array_get(alert_tags(g.a[0]), 0)), "test_tag");
	assert_non_null(strstr(alert_output(g.a[0]), "Warning opened (proc.name=lanner-child"));

	/* switch rules: the open no longer matches, the unlink does */
	assert_int_equal(detector_set_rules(d, r1), 0);
	assert_int_equal(detector_set_rules(d, r2), 0);
	rules_free(r1);
	child(dir, 0, "marker");
	child(dir, 1, "marker");
	wait_alerts(&g, 2);
	assert_int_equal(g.n, 2);
	assert_string_equal(alert_rule(g.a[1]), "Marker removed");

	detector_get_stats(d, &st);
	assert_true(st.events > 0);
	assert_true(st.alerts == 2 + g.internal);
	assert_true(st.procs > 0);
	assert_true(st.syscalls > 10);
	assert_int_equal(st.queue_overflows, 0);

	stop(d, &loop);
	rules_free(r2);

	/* the capture holds the child's open with its resolved fd, read back as replay does */
	f = fopen(cap, "r");
	assert_non_null(f);
	rd = event_reader_new();
	assert_non_null(rd);
	while (event_reader_next(rd, f, &ev) == 1)
		if (!strcmp(syscall_event_type_names[ev->type], "openat") && ev->proc &&
		    ev->proc->name && !strcmp(ev->proc->name, "lanner-child") && ev->fd &&
		    ev->fd->name && !strcmp(ev->fd->name, marker))
			seen = true;
	assert_int_equal(event_reader_bad_lines(rd), 0);
	event_reader_free(rd);
	fclose(f);
	assert_true(seen);
	for (size_t i = 0; i < g.n; i++)
		alert_unref(g.a[i]);
	unlink(cap);
	rmdir(strcat(strcpy(line, dir), "/sub"));
	rmdir(dir);
}

#define TURNS 400

/*
 * A child pinned to `cpu`, named lanner-order, that opens DIR/o-NNN for every second turn
 * from `first` on, each after the other child's turn (read from `in`), then passes the turn
 * (writes to `out`).
 */
static pid_t order_child(const char *dir, int cpu, int first, int in, int out)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		cpu_set_t set;
		char name[256], tok;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			_exit(10);
		prctl(PR_SET_NAME, "lanner-order");
		for (int t = first; t < TURNS; t += 2) {
			int fd;

			if (t > 0 && read(in, &tok, 1) != 1)
				_exit(11);
			if (sched_getcpu() != cpu)
				_exit(12);
			snprintf(name, sizeof(name), "%s/o-%03d", dir, t);
			fd = open(name, O_RDONLY | O_CREAT, 0644);
			if (fd < 0)
				_exit(13);
			close(fd);
			if (write(out, "t", 1) != 1)
				_exit(14);
		}
		_exit(0);
	}
	return pid;
}

/*
 * Each CPU has its own ring: two processes on two CPUs opening files in turns must still be
 * seen in the order of their turns (the detector merges the rings by the kernel's sequence),
 * numbered and dated in that order.
 */
static void test_order(void **state)
{
	char dir[] = "/tmp/lanner-order-XXXXXX", cap[160], name[256], yaml[256];
	struct got g = { 0 };
	struct detector *d;
	struct rules *r;
	struct event_reader *rd;
	const struct syscall_event *ev;
	uint64_t last_num = 0, last_ts = 0;
	int ab[2], ba[2], st, next = 0;
	uv_loop_t loop;
	pid_t a, b;
	FILE *f;

	(void)state;
	if (!need_root())
		skip();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		print_message("skipping test_order: one CPU online, so one ring\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(cap, sizeof(cap), "%s/capture.jsonl", dir);
	snprintf(
		yaml, sizeof(yaml),
		"- rule: Never\n  desc: t\n  condition: evt.type = openat and proc.name = nobody-x\n"
		"  output: x\n  priority: DEBUG\n");
	r = load(yaml);
	d = start(&g, &loop, r, cap);

	assert_int_equal(pipe(ab), 0);
	assert_int_equal(pipe(ba), 0);
	a = order_child(dir, 0, 0, ba[0], ab[1]);
	b = order_child(dir, 1, 1, ab[0], ba[1]);
	close(ab[0]);
	close(ab[1]);
	close(ba[0]);
	close(ba[1]);
	assert_int_equal(waitpid(a, &st, 0), a);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(waitpid(b, &st, 0), b);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	wait_alerts(&g, 1); /* none come: the detector's loop turns meanwhile */
	stop(d, &loop);
	rules_free(r);

	f = fopen(cap, "r");
	assert_non_null(f);
	rd = event_reader_new();
	assert_non_null(rd);
	while (event_reader_next(rd, f, &ev) == 1) {
		const char *n = ev->fd ? ev->fd->name : NULL;

		if (ev->type != SYSCALL_EVT_OPENAT || !ev->proc || !ev->proc->name ||
		    strcmp(ev->proc->name, "lanner-order") || !n || strncmp(n, dir, strlen(dir)))
			continue;
		snprintf(name, sizeof(name), "%s/o-%03d", dir, next);
		if (strcmp(n, name))
			fail_msg("turn %d: expected %s, the detector handed on %s", next, name, n);
		assert_true(ev->num > last_num);
		assert_true(ev->ts >= last_ts);
		last_num = ev->num;
		last_ts = ev->ts;
		next++;
	}
	assert_int_equal(event_reader_bad_lines(rd), 0);
	event_reader_free(rd);
	fclose(f);
	assert_int_equal(next, TURNS);
	for (size_t i = 0; i < g.n; i++)
		alert_unref(g.a[i]);
	for (int t = 0; t < TURNS; t++) {
		snprintf(name, sizeof(name), "%s/o-%03d", dir, t);
		unlink(name);
	}
	unlink(cap);
	rmdir(dir);
}

static void test_refused(void **state)
{
	struct detector_opts o = { 0 };
	struct rules *r = load("- rule: x\n  desc: x\n  condition: evt.type = openat\n"
			       "  output: x\n  priority: INFO\n");
	uv_loop_t loop;
	char err[256] = "";

	(void)state;
	uv_loop_init(&loop);
	o.rules = r;
	o.gateway_loop = &loop;
	o.submit = submit;
	o.capture_path = "/nonexistent-dir/capture.jsonl";
	assert_null(detector_start(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "capture file"));
	if (geteuid() != 0) {
		o.capture_path = NULL;
		assert_null(detector_start(&o, err, sizeof(err)));
		assert_true(err[0] != 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
