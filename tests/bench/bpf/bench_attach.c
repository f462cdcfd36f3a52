// SPDX-License-Identifier: Apache-2.0
/*
 * Attach-method and per-syscall cost benchmark (root, real kernel).
 *
 * Runs tight syscall loops pinned to CPU 0 and reports ns per loop iteration with no program,
 * with empty programs attached each way lanner could attach (the floors), with the dispatcher's
 * early-return path, and with lanner's real programs loaded by the detector's loader (probe.c,
 * its ring buffers drained by a libuv loop on another thread, as in production), plus bpf_stats
 * run_time_ns / run_cnt per program, all in one run. bpf_stats are enabled through a
 * BPF_ENABLE_STATS file descriptor held only for the measuring pass, so
 * kernel.bpf_stats_enabled is unchanged when we exit.
 *
 * usage: bench_bpf_attach [N]   (N getppid calls per round; openat+close N/10; fork+exec N/1000)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uv.h>

#include "bench_floor.skel.h"
#include "detector/probe.h"

#define ROUNDS 9
/* The empty tp_btf/sys_exit program's run time where issue 4's targets were set (bpf_stats). */
#define REF_EMPTY_NS 48.0
#define STATS_PASSES 9 /* bpf_stats passes per attached case: best and median shown */

struct result {
	double runs_per_call; /* lanner programs run per loop iteration (all of them), or -1 */
	double ns; /* wall ns per loop iteration, best round */
	double prog_ns; /* bpf_stats run_time_ns / run_cnt, best of STATS_PASSES, or -1 */
	double prog_med; /* the median pass */
	double beside_med; /* the program attached beside it in the same passes (median), or -1 */
	double own_med; /* per pass, prog minus beside: the median, or -1 */
};

/* The detector's loop on its own thread (CPU 1), driven through run_on_loop(). */
struct consumer {
	pthread_t th;
	uv_loop_t loop;
	uv_async_t async;
	struct probe *probe;
	struct probe_set set;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*fn)(struct consumer *c, void *arg);
	void *arg;
	bool pending;
	int ready; /* 0 starting, 1 running, -1 failed */
	char err[512];
	unsigned long long records;
};

static struct consumer cons = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

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

static void loop_exec(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

/*
 * The syscall loops run in a worker process forked before anything is loaded: like a monitored
 * workload it is not lanner's own process (which the programs exclude), and it does not hold
 * the ring buffers' mappings, which would make each of its forks copy their page tables.
 */
enum { LOOP_GETPPID, LOOP_OPENAT, LOOP_EXEC };

static int worker_cmd = -1, worker_res = -1;
static pid_t worker_pid;

struct loop_req {
	int kind;
	long n;
};

static void worker_main(int in, int out)
{
	static void (*const fns[])(long) = { loop_getppid, loop_openat, loop_exec };
	struct loop_req q;

	while (read(in, &q, sizeof(q)) == sizeof(q)) {
		double ns = now_ns();

		fns[q.kind](q.n);
		ns = (now_ns() - ns) / q.n;
		if (write(out, &ns, sizeof(ns)) != sizeof(ns))
			break;
	}
	_exit(0);
}

static int worker_start(void)
{
	int cmd[2], res[2];

	if (pipe(cmd) || pipe(res))
		return -1;
	worker_pid = fork();
	if (worker_pid < 0)
		return -1;
	if (worker_pid == 0) {
		close(cmd[1]);
		close(res[0]);
		worker_main(cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	worker_cmd = cmd[1];
	worker_res = res[0];
	return 0;
}

static void worker_stop(void)
{
	close(worker_cmd);
	close(worker_res);
	waitpid(worker_pid, NULL, 0);
}

/* Runs loop `kind` n times in the worker; returns ns per iteration, or -1. */
static double run_loop(int kind, long n)
{
	struct loop_req q = { kind, n };
	double ns;

	if (write(worker_cmd, &q, sizeof(q)) != sizeof(q) ||
	    read(worker_res, &ns, sizeof(ns)) != sizeof(ns))
		return -1;
	return ns;
}

/* Runs fn on the detector loop's thread and waits for it. */
static void run_on_loop(void (*fn)(struct consumer *c, void *arg), void *arg)
{
	pthread_mutex_lock(&cons.mu);
	cons.fn = fn;
	cons.arg = arg;
	cons.pending = true;
	uv_async_send(&cons.async);
	while (cons.pending)
		pthread_cond_wait(&cons.cv, &cons.mu);
	pthread_mutex_unlock(&cons.mu);
}

static void on_async(uv_async_t *a)
{
	pthread_mutex_lock(&cons.mu);
	if (cons.pending) {
		cons.fn(&cons, cons.arg);
		cons.pending = false;
		pthread_cond_broadcast(&cons.cv);
	}
	pthread_mutex_unlock(&cons.mu);
}

static void on_record(void *ctx, const struct lanner_rec *rec, size_t size)
{
	cons.records++;
}

static void *consumer_main(void *arg)
{
	/* the rings of lanner's default configuration (detector.ringbuf_bytes: 4MiB) */
	struct probe_opts o = { .ringbuf_bytes = 4u << 20 };
	struct probe_set none = { 0 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
	uv_loop_init(&cons.loop);
	uv_async_init(&cons.loop, &cons.async, on_async);
	cons.probe = probe_new(&cons.loop, &o, &none, on_record, NULL, cons.err, sizeof(cons.err));
	pthread_mutex_lock(&cons.mu);
	cons.ready = cons.probe ? 1 : -1;
	pthread_cond_broadcast(&cons.cv);
	pthread_mutex_unlock(&cons.mu);
	if (!cons.probe)
		uv_close((uv_handle_t *)&cons.async, NULL);
	uv_run(&cons.loop, UV_RUN_DEFAULT);
	uv_loop_close(&cons.loop);
	return NULL;
}

static void do_set(struct consumer *c, void *arg)
{
	probe_set_syscalls(c->probe, arg);
}

static void do_busy(struct consumer *c, void *arg)
{
	*(bool *)arg = probe_busy(c->probe);
}

/* Sets lanner's syscalls and waits until the detaches (threadpool) are done. */
static void lanner_set(const struct probe_set *set)
{
	bool busy = true;

	run_on_loop(do_set, (void *)set);
	while (busy) {
		run_on_loop(do_busy, &busy);
		if (busy)
			usleep(5000);
	}
}

static void do_stop(struct consumer *c, void *arg)
{
	probe_consume(c->probe);
	probe_free(c->probe);
	c->probe = NULL;
	uv_close((uv_handle_t *)&c->async, NULL);
}

struct stats_req {
	const char *prog;
	unsigned long long ns, cnt;
	int err;
};

/* Runs of every lanner program, summed: proof that an unneeded syscall runs none. */
static void do_runs_all(struct consumer *c, void *arg)
{
	unsigned long long *total = arg;
	static const char *const sched[] = { "sched_exec", "sched_exit", "sched_fork" };
	uint64_t ns, cnt;
	char name[64];

	*total = 0;
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++) {
		if (!probe_syscall_supported(nr))
			continue;
		snprintf(name, sizeof(name), "sys_exit_%s",
			 strcmp(probe_syscall_name(nr), "umount2") ? probe_syscall_name(nr) :
								     "umount");
		if (!probe_prog_stats(c->probe, name, &ns, &cnt))
			*total += cnt;
	}
	for (int i = 0; i < 3; i++)
		if (!probe_prog_stats(c->probe, sched[i], &ns, &cnt))
			*total += cnt;
}

static void do_stats(struct consumer *c, void *arg)
{
	struct stats_req *r = arg;
	uint64_t ns = 0, cnt = 0;

	r->err = probe_prog_stats(c->probe, r->prog, &ns, &cnt);
	r->ns = ns;
	r->cnt = cnt;
}

struct drops_req {
	uint64_t d[LANNER_DROP_MAX];
	uint64_t bad;
};

static void do_drops(struct consumer *c, void *arg)
{
	struct drops_req *r = arg;

	probe_consume(c->probe);
	probe_drops(c->probe, r->d);
	r->bad = probe_bad_records(c->probe);
}

/* A way of attaching: a floor program, lanner's programs for a syscall set, or nothing. */
struct attach_case {
	const char *how;
	struct bpf_program *prog; /* floor program */
	const struct probe_set *lanner; /* lanner's programs for this set */
	const char *stat_prog; /* lanner program whose bpf_stats are shown */
	struct bpf_program *beside; /* a floor attached with lanner's for more passes, or NULL */
	struct bpf_link *link;
	struct result r;
};

static int case_attach(struct attach_case *c)
{
	if (c->prog) {
		c->link = bpf_program__attach(c->prog);
		if (!c->link) {
			fprintf(stderr, "attach %s: %s\n", c->how, strerror(errno));
			return -1;
		}
	} else if (c->lanner) {
		lanner_set(c->lanner);
	}
	return 0;
}

static void case_detach(struct attach_case *c)
{
	static const struct probe_set none;

	if (c->link)
		bpf_link__destroy(c->link);
	c->link = NULL;
	if (c->lanner)
		lanner_set(&none);
}

static int stats_of(struct attach_case *c, unsigned long long *ns, unsigned long long *cnt)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	if (c->prog) {
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(c->prog), &info, &len))
			return -1;
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
		return 0;
	}
	if (c->stat_prog) {
		struct stats_req r = { .prog = c->stat_prog };

		run_on_loop(do_stats, &r);
		*ns = r.ns;
		*cnt = r.cnt;
		return r.err;
	}
	return -1;
}

static void print_case(const char *sys, struct attach_case *c, double none)
{
	printf("%-13s %-44s %9.1f ns %+8.1f", sys, c->how, c->r.ns, c->r.ns - none);
	if (c->r.prog_ns >= 0)
		printf("   prog %6.1f ns/run (median %6.1f)", c->r.prog_ns, c->r.prog_med);
	if (c->r.runs_per_call >= 0)
		printf("   lanner programs run %.4f per call (all, any process)",
		       c->r.runs_per_call);
	printf("\n");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* A floor program's run time and count so far. */
static int prog_stats(struct bpf_program *prog, unsigned long long *ns, unsigned long long *cnt)
{
	struct attach_case c = { .prog = prog };

	return stats_of(&c, ns, cnt);
}

/*
 * More passes with the case's beside program attached too (an empty program on the same
 * tracepoint): both run on every call, so the machine's state of the moment weighs on both, and
 * the difference per pass is the case's own work, steadier than either figure alone.
 */
static void beside_passes(struct attach_case *c, int kind, long n)
{
	double floor[STATS_PASSES], own[STATS_PASSES];
	unsigned long long t0, c0, t1, c1, u0, d0, u1, d1;
	struct bpf_link *link = bpf_program__attach(c->beside);
	int got = 0;

	if (!link) {
		fprintf(stderr, "attach the floor beside %s: %s\n", c->how, strerror(errno));
		return;
	}
	for (int i = 0; i < STATS_PASSES; i++) {
		if (stats_of(c, &t0, &c0) || prog_stats(c->beside, &u0, &d0))
			break;
		run_loop(kind, n);
		if (stats_of(c, &t1, &c1) || prog_stats(c->beside, &u1, &d1))
			break;
		if (c1 - c0 < (unsigned long long)n || d1 - d0 < (unsigned long long)n)
			continue;
		floor[got] = (double)(u1 - u0) / (double)(d1 - d0);
		own[got] = (double)(t1 - t0) / (double)(c1 - c0) - floor[got];
		got++;
	}
	bpf_link__destroy(link);
	if (got) {
		c->r.beside_med = median(floor, got);
		c->r.own_med = median(own, got);
	}
}

/* bpf_stats passes for an attached case, with stats enabled only around them. */
static void stats_pass(struct attach_case *c, int kind, long n)
{
	unsigned long long t0, c0, t1, c1;
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (stats_fd < 0) {
		fprintf(stderr, "BPF_ENABLE_STATS: %s\n", strerror(errno));
		return;
	}
	if (c->lanner && !c->stat_prog) {
		unsigned long long r0, r1;

		run_on_loop(do_runs_all, &r0);
		run_loop(kind, n);
		run_on_loop(do_runs_all, &r1);
		c->r.runs_per_call = (double)(r1 - r0) / (double)n;
	} else {
		double ns[STATS_PASSES];
		int got = 0;

		/* Several passes while attached: the machine's noise shows in the median. */
		for (int i = 0; i < STATS_PASSES; i++) {
			if (stats_of(c, &t0, &c0))
				break;
			run_loop(kind, n);
			/* Only the loop's own calls count; a few stray runs from others are noise. */
			if (!stats_of(c, &t1, &c1) && c1 - c0 >= (unsigned long long)n)
				ns[got++] = (double)(t1 - t0) / (double)(c1 - c0);
		}
		if (got) {
			c->r.prog_med = median(ns, got);
			c->r.prog_ns = ns[0];
		}
		if (c->beside)
			beside_passes(c, kind, n);
	}
	close(stats_fd);
}

/*
 * Cases are interleaved round by round and each keeps its best round, so a burst of noise from
 * other work on the machine hits one round of every case rather than all rounds of one case
 * (lanner's case re-attaches its ~50 tracepoints each round and waits for the detaches, each of
 * which waits for an RCU grace period: a round is slow but not noisy). Wall time is taken with
 * bpf_stats off (they add two clock reads per run); program time in a separate pass. Each case is
 * printed against the list's "no program" case, which is stored in *none; a list without one is
 * printed against *none as an earlier list measured it.
 */
static int run_cases(const char *sys, int kind, long n, int rounds, struct attach_case *c, int nc,
		     double *none)
{
	for (int i = 0; i < nc; i++)
		c[i].r = (struct result){ .ns = 1e18,
					  .prog_ns = -1,
					  .prog_med = -1,
					  .beside_med = -1,
					  .own_med = -1,
					  .runs_per_call = -1 };
	run_loop(kind, n / 10 + 1); /* warm caches and the dentry */
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < nc; i++) {
			double ns;

			if (case_attach(&c[i]))
				return -1;
			run_loop(kind, n / 20 + 1); /* settle after attach */
			ns = run_loop(kind, n);
			case_detach(&c[i]);
			if (ns > 0 && ns < c[i].r.ns)
				c[i].r.ns = ns;
		}
	}
	for (int i = 0; i < nc; i++) {
		if (!c[i].prog && !c[i].lanner)
			continue;
		if (case_attach(&c[i]))
			return -1;
		stats_pass(&c[i], kind, n);
		case_detach(&c[i]);
	}
	for (int i = 0; i < nc; i++)
		if (!c[i].prog && !c[i].lanner && none)
			*none = c[i].r.ns;
	for (int i = 0; i < nc; i++)
		print_case(sys, &c[i], none ? *none : 0);
	return 0;
}

/* The syscalls lanner records with the stable and incubating rules plus its state set. */
static const char *const rule_syscalls[] = {
	"execve",   "execveat",	 "open",	"openat",	"openat2", "connect", "sendto",
	"sendmsg",  "socket",	 "dup",		"dup2",		"dup3",	   "symlink", "symlinkat",
	"link",	    "linkat",	 "init_module", "finit_module", "ptrace",  "accept",  "accept4",
	"bpf",	    "chmod",	 "fchmod",	"fchmodat",	"creat",   "listen",  "rename",
	"renameat", "renameat2", "rmdir",	"setns",	"setuid",  "unlink",  "unlinkat",
	"unshare",  "mkdir",	 "mkdirat",
};

int main(int argc, char **argv)
{
	long n_fast = argc > 1 ? atol(argv[1]) : 200000;
	long n_open = n_fast / 10, n_exec = n_fast / 1000;
	char tmpl[] = "/tmp/lanner-bench-XXXXXX";
	struct probe_set full = { 0 }, only_openat = { 0 };
	struct bench_floor_bpf *skel;
	struct drops_req dr = { { 0 } };
	double none_exec = 0, none_u = 0, none_t = 0;
	cpu_set_t set;
	int fd, err = 1;
	__u32 key;
	__u8 on = 1;

	fd = mkstemp(tmpl);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	open_path = tmpl;
	/* The worker runs the loops on CPU 0; the detector loop drains on CPU 1. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity (continuing unpinned)");
	if (worker_start()) {
		perror("worker");
		goto out_unlink;
	}
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
	probe_set_add(&only_openat, SYS_openat);
	probe_set_add_state(&full);
	for (size_t i = 0; i < sizeof(rule_syscalls) / sizeof(rule_syscalls[0]); i++)
		probe_set_add(&full, probe_syscall_nr(rule_syscalls[i]));

	skel = bench_floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "load bench programs: %s (needs root)\n", strerror(errno));
		goto out_destroy;
	}
	key = SYS_openat;
	bpf_map_update_elem(bpf_map__fd(skel->maps.bench_interesting), &key, &on, BPF_ANY);

	/* fork+exec first: lanner's sched_process_* programs stay attached once it is loaded. */
	printf("%-13s %-44s %12s %8s\n", "loop", "attached", "wall/iter", "added");
	struct attach_case exec_floor[] = {
		{ "no program", NULL },
		{ "empty tp_btf/sched_process_exec", skel->progs.empty_exec },
	};
	if (run_cases("fork+exec", LOOP_EXEC, n_exec, 5, exec_floor, 2, &none_exec))
		goto out_destroy;

	if (pthread_create(&cons.th, NULL, consumer_main, NULL))
		goto out_destroy;
	pthread_mutex_lock(&cons.mu);
	while (!cons.ready)
		pthread_cond_wait(&cons.cv, &cons.mu);
	pthread_mutex_unlock(&cons.mu);
	if (cons.ready < 0) {
		fprintf(stderr, "%s\n", cons.err);
		pthread_join(cons.th, NULL);
		goto out_destroy;
	}

	/* fork+exec with lanner: compare with the no-program row measured before it loaded. */
	struct attach_case exec_lanner[] = {
		{ "lanner (sched_process_* + execve set)", NULL, &full, "sched_exec" },
	};
	struct attach_case uninteresting[] = {
		{ "no program", NULL },
		{ "empty tp_btf/sys_exit", skel->progs.empty_tp_btf },
		{ "empty raw_tp/sys_exit", skel->progs.empty_raw_tp },
		{ "dispatcher tp_btf, early return", skel->progs.dispatch_tp_btf },
		{ "empty tracepoint sys_exit_openat only", skel->progs.empty_tp_openat },
		{ "lanner, openat only", NULL, &only_openat },
		{ "lanner, all rule + state syscalls", NULL, &full },
	};
	struct attach_case traced[] = {
		{ "no program", NULL },
		{ "empty tp_btf/sys_exit", skel->progs.empty_tp_btf },
		{ "empty tracepoint sys_exit_openat", skel->progs.empty_tp_openat },
		{ "lanner, all rule + state syscalls", NULL, &full, "sys_exit_openat",
		  skel->progs.empty_tp_openat },
	};
	if (run_cases("fork+exec", LOOP_EXEC, n_exec, 5, exec_lanner, 1, &none_exec) ||
	    run_cases("getppid", LOOP_GETPPID, n_fast, ROUNDS, uninteresting, 7, &none_u) ||
	    run_cases("openat+close", LOOP_OPENAT, n_open, ROUNDS, traced, 4, &none_t))
		goto out_stop;

	/* Targets (issue 4): the cheapest attached floor is the per-syscall tracepoint row. */
	double floor_u = uninteresting[4].r.ns, lanner_u = uninteresting[6].r.ns;

	run_on_loop(do_drops, &dr);
	printf("\nfork+exec: lanner %+.1f us per fork+exec vs no program (%.1f%%)\n",
	       (exec_lanner[0].r.ns - none_exec) / 1000,
	       100 * (exec_lanner[0].r.ns - none_exec) / none_exec);
	printf("unneeded syscall: lanner %+.1f ns vs the cheapest attached floor (target <= +10)\n",
	       lanner_u - floor_u);
	printf("traced openat: lanner program %.1f ns/run best pass, %.1f median (target <= 300)\n",
	       traced[3].r.prog_ns, traced[3].r.prog_med);
	/*
	 * The issue's own figures were taken on a machine where the empty tp_btf/sys_exit program
	 * ran 48 ns by bpf_stats: the same row of this run gives the ratio, and the figure at that
	 * machine's speed. The empty program touches almost no memory, so this corrects for the
	 * CPU's speed only; on this VM the memory system's slow spells (page walks and cache misses
	 * 1.5-2x slower) leave the empty program as it was and show in the ratio (docs/detector.md).
	 */
	if (uninteresting[1].r.prog_ns > 0 && uninteresting[1].r.prog_med > 0)
		printf("traced openat against this run's empty tp_btf/sys_exit (%.1f ns best, %.1f "
		       "median; %.0f ns where the issue measured it): %.2fx / %.2fx it, "
		       "%.1f / %.1f ns at the issue's speed\n",
		       uninteresting[1].r.prog_ns, uninteresting[1].r.prog_med, REF_EMPTY_NS,
		       traced[3].r.prog_ns / uninteresting[1].r.prog_ns,
		       traced[3].r.prog_med / uninteresting[1].r.prog_med,
		       traced[3].r.prog_ns * REF_EMPTY_NS / uninteresting[1].r.prog_ns,
		       traced[3].r.prog_med * REF_EMPTY_NS / uninteresting[1].r.prog_med);
	if (traced[3].r.own_med >= 0)
		printf("traced openat, with the empty sys_exit_openat program attached beside it: "
		       "that one %.1f ns/run, lanner's %.1f more (medians of the same passes)\n",
		       traced[3].r.beside_med, traced[3].r.own_med);
	printf("records consumed %llu; drops: ringbuf full %llu, truncated %llu, read fault %llu, "
	       "no ringbuf %llu; bad records %llu\n",
	       cons.records, (unsigned long long)dr.d[LANNER_DROP_RINGBUF_FULL],
	       (unsigned long long)dr.d[LANNER_DROP_TRUNCATED],
	       (unsigned long long)dr.d[LANNER_DROP_READ_FAULT],
	       (unsigned long long)dr.d[LANNER_DROP_NO_RINGBUF], (unsigned long long)dr.bad);
	err = 0;
out_stop:
	run_on_loop(do_stop, NULL);
	pthread_join(cons.th, NULL);
out_destroy:
	bench_floor_bpf__destroy(skel);
	worker_stop();
out_unlink:
	unlink(tmpl);
	return err;
}
