// SPDX-License-Identifier: Apache-2.0
/*
 * process.kill: SIGKILL the process an alert from this node names (proc.pid), after checking
 * it is still the same process: its start time in /proc/PID/stat must match the alert's
 * proc.pid.ts (ns since the epoch), and its comm the alert's proc.name when present. Never pid 1,
 * never lanner itself. An alert without what is needed to check is refused, not guessed at.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "response/action.h"

/* Start times agree within a few clock ticks (stat has 10 ms resolution at USER_HZ 100). */
#define START_TOLERANCE_NS (50 * 1000000LL)

/* An integer output field (JSON integer or decimal string). */
static bool field_i64(const struct alert *a, const char *key, long long *out)
{
	const json_t *v = json_object_get(alert_output_fields(a), key);
	const char *s = json_string_value(v);
	char *end;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && !*end;
}

/* Start time of pid in ns since the epoch, and its comm; -errno. */
static int proc_start(const char *root, long long pid, long long *start_ns, char *comm, size_t clen)
{
	char path[300], buf[1024], *rp, *p;
	unsigned long long ticks = 0;
	struct timespec rt, bt;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;
	int field;

	snprintf(path, sizeof(path), "%s/%lld/stat", root, pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ..." : comm may hold spaces and ')' */
	p = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!p || !rp || rp < p)
		return -EINVAL;
	snprintf(comm, clen, "%.*s", (int)(rp - p - 1), p + 1);
	p = rp + 2;
	/* after comm, starttime is the 20th field (field 22 of the line) */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &ticks) != 1 || hz <= 0)
		return -EINVAL;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	*start_ns = ((long long)rt.tv_sec - bt.tv_sec) * 1000000000LL +
		    ((long long)rt.tv_nsec - bt.tv_nsec) +
		    (long long)(ticks * (1000000000ULL / (unsigned long long)hz));
	return 0;
}

static void kill_start(struct action_call *call)
{
	const struct alert *a = call->alert;
	const char *host = alert_hostname(a), *name = action_alert_field(a, "proc.name");
	long long pid, ts, start;
	char comm[64];
	int err;

	if (!field_i64(a, "proc.pid", &pid) || pid <= 0) {
		action_finish(call, ACTION_SKIPPED, "the alert has no proc.pid");
		return;
	}
	snprintf(call->target, sizeof(call->target), "pid %lld%s%s", pid, name ? " " : "",
		 name ? name : "");
	if (call->env && call->env->hostname && host[0] && strcmp(host, call->env->hostname)) {
		action_finish(call, ACTION_SKIPPED,
			      "the alert comes from host %s, not this node (%s)", host,
			      call->env->hostname);
		return;
	}
	if (pid == 1 || pid == (long long)call->self_pid) {
		action_finish(call, ACTION_SKIPPED, "never %s",
			      pid == 1 ? "pid 1" : "lanner itself");
		return;
	}
	if (!field_i64(a, "proc.pid.ts", &ts)) {
		action_finish(call, ACTION_SKIPPED,
			      "the alert has no proc.pid.ts (process start time): cannot check "
			      "pid %lld is still the same process",
			      pid);
		return;
	}
	err = proc_start(call->proc_root, pid, &start, comm, sizeof(comm));
	if (err == -ENOENT) {
		action_finish(call, ACTION_SKIPPED, "process %lld has already exited", pid);
		return;
	}
	if (err) {
		action_finish(call, ACTION_FAILED, "cannot read process %lld: %s", pid,
			      strerror(-err));
		return;
	}
	if (llabs(start - ts) > START_TOLERANCE_NS) {
		action_finish(call, ACTION_SKIPPED,
			      "pid %lld is another process now (started at %lld, the alert's at "
			      "%lld)",
			      pid, start, ts);
		return;
	}
	if (name && strncmp(name, comm, 15)) {
		action_finish(call, ACTION_SKIPPED, "pid %lld is '%s', the alert says '%s'", pid,
			      comm, name);
		return;
	}
	if (call->dry_run) {
		action_finish(call, ACTION_DRY_RUN, "would send SIGKILL to pid %lld (%s)", pid,
			      comm);
		return;
	}
	if (kill((pid_t)pid, SIGKILL)) {
		err = errno;
		action_finish(call, err == ESRCH ? ACTION_SKIPPED : ACTION_FAILED,
			      "kill pid %lld: %s", pid, strerror(err));
		return;
	}
	action_finish(call, ACTION_DONE, "sent SIGKILL to pid %lld (%s)", pid, comm);
}

static int kill_check(const json_t *params, char *err, size_t errlen)
{
	if (json_object_size(params)) {
		snprintf(err, errlen, "process.kill takes no parameters");
		return -EINVAL;
	}
	return 0;
}

const struct action_ops action_process_kill = {
	.name = "process.kill",
	.needs_k8s = false,
	.check = kill_check,
	.start = kill_start,
};
