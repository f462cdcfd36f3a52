// SPDX-License-Identifier: Apache-2.0
/*
 * The floor of the detector's fixed-workload benchmark (bench_detector.py): empty programs
 * attached exactly where lanner attaches its own for the given rules files.
 *
 *   bench_detector_floor RULES.yaml...
 *
 * Compiles the rules as lanner does, takes the captured set lanner would (detector_capture_set:
 * the rules' syscalls plus the state set), attaches bench_floor's empty classic tracepoint
 * program to syscalls/sys_exit_NAME for each of them whose tracepoint this kernel has (lanner
 * skips the others too) and the empty tp_btf programs to sched_process_{exec,exit,fork}, prints
 * "ready N of M" (N tracepoints attached, M syscalls in the set: lanner logs
 * "capturing M syscalls") on stdout, and waits for SIGTERM or SIGINT; then detaches and exits.
 * Root (BPF).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "detector/detector.h"
#include "detector/event.h"
#include "detector/probe.h"
#include "rules/rules.h"
#include "bench_floor.skel.h"

#define TRACEFS "/sys/kernel/tracing"

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static unsigned long long set_size(const struct probe_set *s)
{
	unsigned long long n = 0;

	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++)
		n += probe_set_has(s, nr);
	return n;
}

int main(int argc, char **argv)
{
	static struct bpf_link *links[PROBE_NR_SYSCALLS + 3];
	struct bench_floor_bpf *skel = NULL;
	struct rules *r = rules_new();
	struct probe_set set;
	size_t n_links = 0;
	int sig, err = 1;
	sigset_t ss;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_detector_floor RULES.yaml...\n");
		return 2;
	}
	if (!r || rules_add_source(r, &syscall_field_source) < 0)
		return 1;
	for (int i = 1; i < argc; i++)
		if (rules_load_file(r, argv[i])) {
			fprintf(stderr, "bench_detector_floor: cannot load %s\n", argv[i]);
			goto out;
		}
	if (rules_compile(r)) {
		fprintf(stderr, "bench_detector_floor: the rules do not compile\n");
		goto out;
	}
	detector_capture_set(r, &set);

	/* SIGTERM/SIGINT are taken with sigwait, so block them before anything is attached */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);

	libbpf_set_print(quiet_libbpf);
	skel = bench_floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "bench_detector_floor: load: %s (needs root)\n", strerror(errno));
		goto out;
	}
	struct bpf_program *sched[] = { skel->progs.empty_exec, skel->progs.empty_exit,
					skel->progs.empty_fork };
	for (size_t i = 0; i < sizeof(sched) / sizeof(sched[0]); i++) {
		links[n_links] = bpf_program__attach(sched[i]);
		if (!links[n_links]) {
			fprintf(stderr, "bench_detector_floor: attach %s: %s\n",
				bpf_program__name(sched[i]), strerror(errno));
			goto out;
		}
		n_links++;
	}
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++) {
		const char *name = probe_syscall_name(nr);
		char path[160];

		if (!probe_set_has(&set, nr) || !name)
			continue;
		if (!strcmp(name, "umount2"))
			name = "umount"; /* its tracepoint's name, as the loader knows */
		/* a kernel without the syscall (init_module without modules) has no tracepoint */
		snprintf(path, sizeof(path), TRACEFS "/events/syscalls/sys_exit_%s", name);
		if (access(path, F_OK)) {
			fprintf(stderr,
				"bench_detector_floor: no tracepoint sys_exit_%s, skipped\n", name);
			continue;
		}
		snprintf(path, sizeof(path), "sys_exit_%s", name);
		/* one empty program serves every tracepoint: a classic tracepoint program may */
		links[n_links] = bpf_program__attach_tracepoint(skel->progs.empty_tp_openat,
								"syscalls", path);
		if (!links[n_links]) {
			fprintf(stderr, "bench_detector_floor: attach %s: %s\n", path,
				strerror(errno));
			goto out;
		}
		n_links++;
	}
	printf("ready %zu of %llu\n", n_links - 3, (unsigned long long)set_size(&set));
	fflush(stdout);
	sigwait(&ss, &sig);
	err = 0;
out:
	while (n_links)
		bpf_link__destroy(links[--n_links]);
	bench_floor_bpf__destroy(skel);
	rules_free(r);
	return err;
}
