// SPDX-License-Identifier: Apache-2.0
/*
 * Attach-method benchmark. Runs a tight syscall loop pinned to one CPU and reports ns per
 * syscall with no program, with empty programs attached each way (the floors), and with the
 * dispatcher's early-return path, plus bpf_stats run_time_ns / run_cnt per program, all in the
 * same run. Needs root. bpf_stats are enabled through BPF_ENABLE_STATS (a file descriptor held
 * for the run), so kernel.bpf_stats_enabled is back to its previous value when we exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_floor.skel.h"

#define ROUNDS 15

struct result {
	double ns; /* wall ns per loop iteration, best round */
	double prog_ns; /* bpf_stats run_time_ns / run_cnt, or -1 */
	unsigned long long runs;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void loop_getppid(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

static const char *open_path;

static void loop_openat(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = syscall(SYS_openat, AT_FDCWD, open_path, O_RDONLY);

		if (fd >= 0)
			syscall(SYS_close, fd);
	}
}

static int prog_stats(struct bpf_program *p, unsigned long long *t, unsigned long long *c)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return -errno;
	*t = info.run_time_ns;
	*c = info.run_cnt;
	return 0;
}

struct attach_case {
	const char *how;
	struct bpf_program *prog; /* NULL: nothing attached */
	struct result r;
};

static double timed(void (*fn)(long), long n)
{
	double s = now_ns();

	fn(n);
	return (now_ns() - s) / n;
}

/*
 * Cases are interleaved round by round and each keeps its best round, so a burst of noise from
 * other work on the machine hits one round of every case rather than all rounds of one case.
 * Wall time is taken with bpf_stats off (they add two clock reads per run); program time in a
 * separate pass with them on, through a BPF_ENABLE_STATS fd closed right after.
 */
static int run_cases(const char *sys, void (*fn)(long), long n, struct attach_case *c, int nc)
{
	unsigned long long t0, c0, t1, c1;
	struct bpf_link *l;
	double none = 0;
	int stats_fd;

	for (int i = 0; i < nc; i++)
		c[i].r = (struct result){ .ns = 1e18, .prog_ns = -1 };
	fn(n / 10); /* warm caches and the dentry */
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < nc; i++) {
			double ns;

			l = NULL;
			if (c[i].prog && !(l = bpf_program__attach(c[i].prog))) {
				fprintf(stderr, "attach %s: %s\n", c[i].how, strerror(errno));
				return -1;
			}
			fn(n / 20); /* settle after attach */
			ns = timed(fn, n);
			bpf_link__destroy(l);
			if (ns < c[i].r.ns)
				c[i].r.ns = ns;
		}
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		fprintf(stderr, "BPF_ENABLE_STATS: %s\n", strerror(errno));
	for (int i = 0; i < nc && stats_fd >= 0; i++) {
		if (!c[i].prog || !(l = bpf_program__attach(c[i].prog)))
			continue;
		if (!prog_stats(c[i].prog, &t0, &c0)) {
			fn(n);
			/* Only the loop's own calls count; stray runs from other processes are noise. */
			if (!prog_stats(c[i].prog, &t1, &c1) && c1 - c0 >= (unsigned long long)n) {
				c[i].r.prog_ns = (double)(t1 - t0) / (double)(c1 - c0);
				c[i].r.runs = c1 - c0;
			}
		}
		bpf_link__destroy(l);
	}
	if (stats_fd >= 0)
		close(stats_fd);

	for (int i = 0; i < nc; i++)
		if (!c[i].prog)
			none = c[i].r.ns;
	for (int i = 0; i < nc; i++) {
		printf("%-13s %-40s %7.1f ns %+7.1f", sys, c[i].how, c[i].r.ns, c[i].r.ns - none);
		if (c[i].r.prog_ns >= 0)
			printf("   prog %6.1f ns/run", c[i].r.prog_ns);
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n_fast = argc > 1 ? atol(argv[1]) : 200000;
	long n_open = n_fast / 10;
	char tmpl[] = "/tmp/lanner-bench-XXXXXX";
	struct bench_floor_bpf *skel;
	cpu_set_t set;
	int fd, err = 1;
	__u32 key;
	__u8 on = 1;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity (continuing unpinned)");
	fd = mkstemp(tmpl);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	open_path = tmpl;

	skel = bench_floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "load bench programs: %s (needs root)\n", strerror(errno));
		goto out_unlink;
	}
	key = SYS_openat;
	bpf_map_update_elem(bpf_map__fd(skel->maps.bench_interesting), &key, &on, BPF_ANY);

	printf("%-13s %-40s %10s %7s\n", "loop", "attached", "wall/call", "added");
	struct attach_case uninteresting[] = {
		{ "no program", NULL },
		{ "empty tp_btf/sys_exit", skel->progs.empty_tp_btf },
		{ "empty raw_tp/sys_exit", skel->progs.empty_raw_tp },
		{ "dispatcher tp_btf, early return", skel->progs.dispatch_tp_btf },
		{ "empty tracepoint sys_exit_openat only", skel->progs.empty_tp_openat },
	};
	struct attach_case traced[] = {
		{ "no program", NULL },
		{ "empty tp_btf/sys_exit", skel->progs.empty_tp_btf },
		{ "empty tracepoint sys_exit_openat", skel->progs.empty_tp_openat },
	};
	if (run_cases("getppid", loop_getppid, n_fast, uninteresting, 5) ||
	    run_cases("openat+close", loop_openat, n_open, traced, 3))
		goto out_destroy;
	err = 0;
out_destroy:
	bench_floor_bpf__destroy(skel);
out_unlink:
	unlink(tmpl);
	return err;
}
