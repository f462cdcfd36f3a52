// SPDX-License-Identifier: Apache-2.0
/*
 * process.kill against a real child process: killed only when pid, start time, name and host
 * all match; never pid 1 or itself; refused when the alert cannot be checked; dry run only says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "response/action.h"

struct result {
	int calls;
	enum action_outcome o;
};

static void on_done(struct action_call *call, enum action_outcome o)
{
	struct result *r = call->owner;

	r->calls++;
	r->o = o;
}

/* The child's start time, ns since the epoch, as the detector reports proc.pid.ts. */
static long long start_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	struct timespec rt, bt;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')') + 2;
	for (int i = 3; i < 22; i++)
		p = strchr(p, ' ') + 1;
	assert_int_equal(sscanf(p, "%llu", &ticks), 1);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((long long)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec) +
	       (long long)ticks * (1000000000LL / sysconf(_SC_CLK_TCK));
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	/* wait until it is sleep, not still our fork */
	for (int i = 0; i < 500; i++) {
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		if (!strncmp(comm, "sleep", 5))
			break;
		usleep(2000);
	}
	return pid;
}

static bool alive(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static struct alert *kill_alert(const char *host, long long pid, long long ts, const char *name)
{
	json_t *f = json_object();
	struct alert *a;

	if (pid)
		json_object_set_new(f, "proc.pid", json_integer(pid));
	if (ts)
		json_object_set_new(f, "proc.pid.ts", json_integer(ts));
	if (name)
		json_object_set_new(f, "proc.name", json_string(name));
	a = alert_new(&(struct alert_init){ .rule = "Run sleep",
					    .priority = PRIORITY_CRITICAL,
					    .source = "syscall",
					    .time_ns = 1,
					    .hostname = host,
					    .output_fields = f });
	assert_non_null(a);
	assert_int_equal(alert_freeze(a), 0);
	return a;
}

static enum action_outcome run(struct alert *a, bool dry_run, char *detail, size_t len)
{
	struct sink_env env = { .hostname = "node-1" };
	json_t *params = json_object();
	struct result r = { 0 };
	struct action_call call = {
		.ops = &action_process_kill,
		.env = &env,
		.alert = a,
		.params = params,
		.dry_run = dry_run,
		.self_pid = getpid(),
		.proc_root = "/proc",
		.done = on_done,
		.owner = &r,
	};

	action_process_kill.start(&call);
	assert_int_equal(r.calls, 1);
	snprintf(detail, len, "%s", call.detail);
	json_decref(params);
	alert_unref(a);
	return r.o;
}

static void test_kills_the_matching_process_only(void **state)
{
	pid_t victim = spawn_sleeper(), bystander = spawn_sleeper();
	long long ts = start_ns(victim);
	char detail[512];
	int st;

	(void)state;
	/* dry run: says, does not kill */
	assert_int_equal(run(kill_alert("node-1", victim, ts, "sleep"), true, detail,
			     sizeof(detail)),
			 ACTION_DRY_RUN);
	assert_non_null(strstr(detail, "would send SIGKILL"));
	assert_true(alive(victim));
	/* wrong start time: another process now */
	assert_int_equal(run(kill_alert("node-1", victim, ts - 5000000000LL, "sleep"), false,
			     detail, sizeof(detail)),
			 ACTION_SKIPPED);
	assert_non_null(strstr(detail, "another process"));
	/* wrong name */
	assert_int_equal(run(kill_alert("node-1", victim, ts, "bash"), false, detail,
			     sizeof(detail)),
			 ACTION_SKIPPED);
	/* another node's alert */
	assert_int_equal(run(kill_alert("node-2", victim, ts, "sleep"), false, detail,
			     sizeof(detail)),
			 ACTION_SKIPPED);
	assert_non_null(strstr(detail, "not this node"));
	/* no start time: refused */
	assert_int_equal(run(kill_alert("node-1", victim, 0, "sleep"), false, detail,
			     sizeof(detail)),
			 ACTION_SKIPPED);
	assert_non_null(strstr(detail, "proc.pid.ts"));
	assert_true(alive(victim));

	assert_int_equal(run(kill_alert("node-1", victim, ts, "sleep"), false, detail,
			     sizeof(detail)),
			 ACTION_DONE);
	assert_int_equal(waitpid(victim, &st, 0), victim);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(alive(bystander));
	/* gone now */
	assert_int_equal(run(kill_alert("node-1", victim, ts, "sleep"), false, detail,
			     sizeof(detail)),
			 ACTION_SKIPPED);
	assert_non_null(strstr(detail, "exited"));

	kill(bystander, SIGTERM);
	waitpid(bystander, NULL, 0);
}

static void test_never_pid_1_or_itself(void **state)
{
	char detail[512];

	(void)state;
	assert_int_equal(run(kill_alert("node-1", 1, 1, NULL), false, detail, sizeof(detail)),
			 ACTION_SKIPPED);
	assert_string_equal(detail, "never pid 1");
	assert_int_equal(run(kill_alert("node-1", getpid(), start_ns(getpid()), NULL), false,
			     detail, sizeof(detail)),
			 ACTION_SKIPPED);
	assert_string_equal(detail, "never lanner itself");
	assert_int_equal(run(kill_alert("node-1", 0, 0, NULL), false, detail, sizeof(detail)),
			 ACTION_SKIPPED);
	assert_string_equal(detail, "the alert has no proc.pid");
}

static void test_check_refuses_parameters(void **state)
{
	json_t *p = json_pack("{s:i}", "signal", 9);
	char err[128];

	(void)state;
	assert_int_equal(action_process_kill.check(p, err, sizeof(err)), -EINVAL);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kills_the_matching_process_only),
		cmocka_unit_test(test_never_pid_1_or_itself),
		cmocka_unit_test(test_check_refuses_parameters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
