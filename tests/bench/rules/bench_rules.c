// SPDX-License-Identifier: Apache-2.0
/*
 * Rules engine benchmark (not part of ctest): evaluates a recorded mix of syscall events
 * against the upstream stable + incubating rules on one core.
 *
 * How to run (from the build directory; Release-like flags, no sanitizers, for real figures):
 *   cmake -S .. -B build-bench -DCMAKE_BUILD_TYPE=Release -DSANITIZE= -DLANNER_TESTS=ON
 *   cmake --build build-bench --target bench_rules bench_rules_gen
 *   build-bench/tests/bench/rules/bench_rules_gen -n 1000000 /tmp/events.jsonl
 *   build-bench/tests/bench/rules/bench_rules /tmp/events.jsonl
 * Options: -r FILE (repeatable) replaces the default rule files
 * (../shared/data/falco-rules/falco_rules.yaml then falco-incubating_rules.yaml); -x N evaluates
 * every event N times, so that `perf record` sees mostly the engine (matches are counted N times).
 *
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), pinned to one CPU. It prints, over
 * the same stream:
 *  - decode only: reading and decoding the JSON lines (the baseline);
 *  - decode + eval: the same plus rules_eval on every event, and its ratio to decode only;
 *  - eval only: rules_eval alone, each call timed by the thread CPU clock minus the clock's
 *    own cost: the engine's rate, target >= 1,000,000 events/s;
 *  - the compiled ruleset's memory: heap in use (mallinfo2) and RSS growth across load+compile.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detector/event_json.h"
#include "rules/rules.h"

/* -x N: evaluate each event N times (for profiling the engine with perf); figures stay per event */
static unsigned repeat = 1;

static double now(void)
{
	struct timespec ts;

	/* CPU time of this thread: other load on the machine does not inflate the figures */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	(*(unsigned long *)ctx)++;
}

static FILE *open_events(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	return f;
}

/* Pass 1: decode only. */
static int pass_decode(const char *path, unsigned long *n, double *secs)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e;
	FILE *f = open_events(path);
	double t0;
	int rc;

	if (!r || !f) {
		event_reader_free(r);
		if (f)
			fclose(f);
		return -1;
	}
	*n = 0;
	t0 = now();
	while ((rc = event_reader_next(r, f, &e)) == 1)
		(*n)++;
	*secs = now() - t0;
	event_reader_free(r);
	fclose(f);
	return rc;
}

/* What reading the clock twice costs, to take it out of the per-event intervals. */
static double clock_overhead(void)
{
	double x = 0;

	for (int i = 0; i < 100000; i++) {
		double a = now();

		x += now() - a;
	}
	return x / 100000;
}

/*
 * Pass 2: the same decode, plus rules_eval on each event timed on its own (thread CPU time, so
 * preemption on a shared machine does not count), minus the clock's own cost.
 */
static int pass_eval(const char *path, struct rules_eval *ev, int src, unsigned long *n,
		     unsigned long *matches, double *total, double *eval)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e;
	FILE *f = open_events(path);
	double t0, overhead = clock_overhead(), sum = 0;
	int rc = -1;

	if (!r || !f)
		goto out;
	*n = *matches = 0;
	t0 = now();
	while ((rc = event_reader_next(r, f, &e)) == 1) {
		double a = now();

		for (unsigned x = 0; x < repeat; x++)
			rules_eval(ev, src, e, on_match, matches);
		sum += now() - a;
		(*n)++;
	}
	*total = now() - t0 - overhead * (double)*n;
	*eval = (sum - overhead * (double)*n) / repeat;
out:
	event_reader_free(r);
	if (f)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *files[16];
	size_t n_files = 0;
	struct rules *rules;
	struct rules_eval *ev;
	struct mallinfo2 m0, m1;
	long rss0, rss1;
	unsigned long n1 = 0, n2 = 0, matches = 0;
	double t_dec = 0, t_full = 0, t_eval = 0;
	struct stat st;
	cpu_set_t set;
	int c, src, cpu;

	while ((c = getopt(argc, argv, "r:x:")) != -1) {
		if (c == 'r' && n_files < 16) {
			files[n_files++] = optarg;
			continue;
		}
		if (c == 'x' && atoi(optarg) > 0) {
			repeat = (unsigned)atoi(optarg);
			continue;
		}
		fprintf(stderr, "usage: %s [-r RULES.yaml]... EVENTS.jsonl\n", argv[0]);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-r RULES.yaml]... EVENTS.jsonl\n", argv[0]);
		return 2;
	}
	if (!n_files) {
		files[n_files++] = SHARED_DATA_DIR "/falco-rules/falco_rules.yaml";
		files[n_files++] = SHARED_DATA_DIR "/falco-rules/falco-incubating_rules.yaml";
	}

	/* One core: stay on the CPU we started on. */
	cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu >= 0 ? cpu : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity (continuing unpinned)");

	/* Load and compile, measuring the ruleset's memory. */
	m0 = mallinfo2();
	rss0 = rss_kib();
	rules = rules_new();
	if (!rules || rules_add_source(rules, &syscall_field_source) < 0)
		return 1;
	for (size_t i = 0; i < n_files; i++)
		if (rules_load_file(rules, files[i]))
			return 1;
	if (rules_compile(rules))
		return 1;
	ev = rules_eval_new(rules);
	if (!ev)
		return 1;
	m1 = mallinfo2();
	rss1 = rss_kib();
	src = rules_source_index(rules, "syscall");

	if (pass_decode(argv[optind], &n1, &t_dec) < 0)
		return 1;
	if (pass_eval(argv[optind], ev, src, &n2, &matches, &t_full, &t_eval) < 0)
		return 1;
	if (n1 != n2 || !n1) {
		fprintf(stderr, "event counts differ or are zero: %lu vs %lu\n", n1, n2);
		return 1;
	}
	stat(argv[optind], &st);
	printf("rules: %zu loaded from %zu files, compiled ruleset: %.1f KiB heap (mallinfo2), "
	       "RSS +%ld KiB\n",
	       rules_count(rules), n_files, (double)(m1.uordblks - m0.uordblks) / 1024.0,
	       rss1 - rss0);
	printf("events: %lu (%.1f MB of JSON lines), cpu %d\n", n1, (double)st.st_size / 1e6, cpu);
	printf("decode only:   %8.3f s  %10.0f events/s\n", t_dec, (double)n1 / t_dec);
	printf("decode + eval: %8.3f s  %10.0f events/s  (%.2fx the decode-only time)\n", t_full,
	       (double)n2 / t_full, t_full / t_dec);
	printf("eval only:     %8.3f s  %10.0f events/s  (%.0f ns/event; target >= 1000000/s)\n",
	       t_eval, (double)n2 / t_eval, t_eval * 1e9 / (double)n2);
	printf("matches: %lu\n", matches / repeat);
	rules_eval_free(ev);
	rules_free(rules);
	return 0;
}
