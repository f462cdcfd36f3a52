// SPDX-License-Identifier: Apache-2.0
/*
 * fill_store PATH N [HOURS]: write N synthetic alerts, spread evenly over the last HOURS (24),
 * into the event store at PATH through store_add (the writer thread, batched transactions),
 * the way the "ui" sink does. Prints the insert rate. Deterministic (fixed seed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <uv.h>

#include "gateway/store.h"

static const char *const rules[] = {
	"Read sensitive file untrusted",
	"Terminal shell in container",
	"Write below etc",
	"Netcat remote code execution",
	"Launch privileged container",
	"Modify shell config",
	"Clear log activities",
	"Packet socket created",
	"Create symlink over sensitive files",
	"Drift detected (chmod)",
	"Contact K8S API server",
	"Redirect STDOUT/STDIN to network",
	"Search private keys or passwords",
	"Fileless execution via memfd_create",
	"Disallowed SSH connection",
	"Execution from /dev/shm",
	"PTRACE attached to process",
	"Run shell untrusted",
	"System user interactive",
	"Unexpected UDP traffic",
};
static const char *const sources[] = { "syscall", "syscall", "syscall", "k8s_audit" };
static const char *const tags[] = { "container",  "host",    "mitre_execution", "T1059",
				    "filesystem", "network", "mitre_discovery", "T1611" };
static const char *const procs[] = {
	"bash", "sh", "nc", "cat", "python3", "curl", "kubectl", "sshd"
};
static const char *const files[] = { "/etc/shadow", "/etc/passwd", "/root/.ssh/id_rsa",
				     "/etc/sudoers", "/var/run/secrets/token" };

static int pending;

static void on_done(void *data, int err)
{
	pending--;
	if (err)
		(*(int *)data)++;
}

int main(int argc, char **argv)
{
	struct store_opts o = { 0 };
	struct timespec t0, t1;
	uv_loop_t loop;
	struct store *s;
	long n, hours = 24;
	int64_t now, span;
	int failed = 0;
	unsigned seed = 42;

	if (argc < 3) {
		fprintf(stderr, "usage: fill_store PATH N [HOURS]\n");
		return 2;
	}
	n = atol(argv[2]);
	if (argc > 3)
		hours = atol(argv[3]);
	o.path = argv[1];
	o.max_bytes = 0;
	o.max_age_ms = 0;
	uv_loop_init(&loop);
	s = store_open(&loop, &o);
	if (!s)
		return 1;
	clock_gettime(CLOCK_REALTIME, &t0);
	now = (int64_t)t0.tv_sec * 1000000000LL + t0.tv_nsec;
	span = (int64_t)hours * 3600 * 1000000000LL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		char out[512];
		int r = rand_r(&seed), ri = r % 20, pi = (r / 20) % 8;
		const char *proc = procs[(r / 160) % 8], *file = files[(r / 1280) % 5];
		json_t *tl = json_array();
		struct alert_init in = { 0 };
		struct alert *a;
		int ntags = 1 + (r / 6400) % 3;

		for (int k = 0; k < ntags; k++)
			json_array_append_new(tl, json_string(tags[(ri + k * 3) % 8]));
		snprintf(out, sizeof(out),
			 "12:00:00.000000000: %s %s (user=root process=%s file=%s "
			 "container_id=c%04ld image=registry.local/app:%ld)",
			 "Warning", rules[ri], proc, file, i % 997, i % 13);
		in.rule = rules[ri];
		in.priority = (enum priority)pi;
		in.source = sources[(r / 7) % 4];
		in.output = out;
		in.time_ns = now - span + (int64_t)((double)span * (double)i / (double)n);
		in.hostname = (const char *[]){ "node-a", "node-b", "node-c", "node-d",
						"node-e" }[(r / 3) % 5];
		in.output_fields = json_pack("{ssssss si}", "proc.name", proc, "fd.name", file,
					     "user.name", "root", "evt.num", (int)i);
		in.tags = tl;
		a = alert_new(&in);
		if (!a)
			return 1;
		alert_freeze(a);
		if (store_add(s, a, on_done, &failed) < 0)
			return 1;
		alert_unref(a);
		pending++;
		/* bounded memory: let the writer catch up */
		while (pending > 50000)
			uv_run(&loop, UV_RUN_ONCE);
	}
	while (pending > 0)
		uv_run(&loop, UV_RUN_ONCE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("filled %ld alerts in %.1f s (%.0f alerts/s), %d failed\n", n, secs,
	       (double)n / secs, failed);
	return failed ? 1 : 0;
}
