// SPDX-License-Identifier: Apache-2.0
/*
 * Where a traced openat's program time goes, and before/after comparisons of lanner's kernel
 * programs, in one run (root, real kernel).
 *
 * usage: bench_bpf_parts [ROUNDS [LANNER.bpf.o ...]]
 *
 * A worker process pinned to CPU 0 runs 20,000 openat+close per measurement; a thread on CPU 1
 * drains the ring buffers every millisecond. Each program of bench_parts.bpf.c (one more piece
 * of a record each, or an alternative to one) is attached alone to sys_exit_openat, and each
 * lanner object given (e.g. this build's bpf/lanner.bpf.o and one built from an older
 * revision) gets its sys_exit_openat and sys_exit_close attached. Rounds interleave all of
 * them; bpf_stats (run_time_ns / run_cnt of the openat program, BPF_ENABLE_STATS held for the
 * run) give the best and the median round; for lanner's objects also of sys_exit_close.
 *
 * A lanner object with direct-map reads (lanner_dmap_calib) gets them turned on as lanner's
 * loader does (detector/dmap.h), unless given as nodmap:PATH; the count of strings its helper
 * path read is printed after it. bench_parts' own p18-p20 measure the direct-map read's pieces.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf/events.h"
#include "bench_parts.skel.h"
#include "detector/dmap.h"
#include "detector/lring.h"

#define N_OPEN 20000
#define MAX_CASES 64
#define MAX_ROUNDS 101
#define RING_BYTES (4u << 20) /* lanner's default detector.ringbuf_bytes */
static unsigned ring_bytes = RING_BYTES;
static unsigned drain_us = 1000; /* DRAIN_US: the consumer's period */

struct bench_case {
	const char *name;
	struct bpf_program *prog; /* the openat program whose stats count */
	struct bpf_program *also; /* attached with it (lanner's sys_exit_close) */
	double ns[MAX_ROUNDS];
	double also_ns[MAX_ROUNDS]; /* the same for `also` */
	struct bpf_map *stats; /* lanner_stats: strings the helper read */
};

/* lanner_stats[LANNER_STAT_USER_HELPER] summed over CPUs (-1: the object has none). */
static long long helper_reads(const struct bench_case *c, int ncpu)
{
	__u32 key = LANNER_STAT_USER_HELPER;
	long long n = -1;
	__u64 *v;

	if (!c->stats || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return -1;
	if (!bpf_map_lookup_elem(bpf_map__fd(c->stats), &key, v))
		for (int i = n = 0; i < ncpu; i++)
			n += (long long)v[i];
	free(v);
	return n;
}

static struct ring_buffer *rings;
static volatile int stop_consumer;
static unsigned long long records, bad_records;
/* lanner's own record rings (objects with lanner_rings), ncpu per object */
static struct lring lrings[MAX_CASES * 4];
static int nlrings;

static int on_sample(void *ctx, void *data, size_t size)
{
	records++;
	return 0;
}

static void on_lrecord(void *ctx, const void *rec, size_t size)
{
	records++;
}

static void *consumer(void *arg)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!stop_consumer) {
		ring_buffer__consume(rings);
		for (int i = 0; i < nlrings; i++)
			lring_drain(&lrings[i], on_lrecord, NULL, (uint64_t *)&bad_records);
		usleep(drain_us);
	}
	return NULL;
}

/* Per-CPU rings for an ARRAY_OF_MAPS map of an object not loaded yet; filled after load. */
static int rings_for(struct bpf_map *outer, int ncpu, int *fds)
{
	for (int i = 0; i < ncpu; i++) {
		fds[i] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, RING_BYTES, NULL);
		if (fds[i] < 0)
			return -errno;
	}
	if (bpf_map__set_inner_map_fd(outer, fds[0]) || bpf_map__set_max_entries(outer, ncpu))
		return -EINVAL;
	return 0;
}

/* Sets a const volatile __u64 of an object not loaded yet (its .rodata initial value). */
static int set_rodata_u64(struct bpf_object *obj, const char *name, __u64 v)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	const char *init;
	size_t size;
	char *data;
	int id, e;

	if (!m || !btf || !(init = bpf_map__initial_value(m, &size)))
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != sizeof(v) || vs->offset + sizeof(v) > size)
			return -EINVAL;
		data = malloc(size);
		if (!data)
			return -ENOMEM;
		memcpy(data, init, size);
		memcpy(data + vs->offset, &v, sizeof(v));
		e = bpf_map__set_initial_value(m, data, size);
		free(data);
		return e;
	}
	return -ENOENT;
}

/* lanner's own per-CPU record rings for an object not loaded yet; filled after load. */
static int lrings_for(struct bpf_object *obj, struct bpf_map *outer, int ncpu, int *fds)
{
	int e = set_rodata_u64(obj, "ring_mask", ring_bytes - 1);

	if (e)
		return e;
	for (int i = 0; i < ncpu; i++) {
		if (nlrings >= (int)(sizeof(lrings) / sizeof(lrings[0])))
			return -E2BIG;
		e = lring_open(&lrings[nlrings], ring_bytes);
		if (e)
			return e;
		fds[i] = lrings[nlrings++].fd;
	}
	if (bpf_map__set_inner_map_fd(outer, fds[0]) || bpf_map__set_max_entries(outer, ncpu))
		return -EINVAL;
	return 0;
}

static int rings_fill(struct bpf_map *outer, int ncpu, const int *fds)
{
	for (int i = 0; i < ncpu; i++) {
		__u32 k = i;

		if (bpf_map_update_elem(bpf_map__fd(outer), &k, &fds[i], BPF_ANY))
			return -errno;
		if (!rings)
			rings = ring_buffer__new(fds[i], on_sample, NULL, NULL);
		else if (ring_buffer__add(rings, fds[i], on_sample, NULL))
			return -errno;
		if (!rings)
			return -errno;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int worker_cmd[2], worker_res[2];

static void worker(const char *path)
{
	char c;

	close(worker_cmd[1]);
	close(worker_res[0]);
	while (read(worker_cmd[0], &c, 1) == 1) {
		for (int i = 0; i < N_OPEN; i++) {
			int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);

			if (fd >= 0)
				close(fd);
		}
		if (write(worker_res[1], &c, 1) != 1)
			break;
	}
	_exit(0);
}

/* ns per run of prog between two info snapshots, or -1 when it ran less than N_OPEN times. */
static double per_run(const struct bpf_prog_info *a, const struct bpf_prog_info *b)
{
	if (b->run_cnt - a->run_cnt < N_OPEN)
		return -1;
	return (double)(b->run_time_ns - a->run_time_ns) / (double)(b->run_cnt - a->run_cnt);
}

/* One measurement: ns per run of c->prog (and c->also) over N_OPEN openat+close, or -1. */
static double measure(struct bench_case *c, double *also_ns)
{
	struct bpf_link *l1 = bpf_program__attach(c->prog), *l2 = NULL;
	struct bpf_prog_info a = { 0 }, b = { 0 }, aa = { 0 }, ab = { 0 };
	__u32 len = sizeof(a);
	char x = 1;
	double ns = -1;

	if (!l1)
		return -1;
	if (c->also && !(l2 = bpf_program__attach(c->also))) {
		bpf_link__destroy(l1);
		return -1;
	}
	bpf_obj_get_info_by_fd(bpf_program__fd(c->prog), &a, &len);
	if (c->also) {
		len = sizeof(aa);
		bpf_obj_get_info_by_fd(bpf_program__fd(c->also), &aa, &len);
	}
	*also_ns = -1;
	if (write(worker_cmd[1], &x, 1) == 1 && read(worker_res[0], &x, 1) == 1) {
		len = sizeof(b);
		bpf_obj_get_info_by_fd(bpf_program__fd(c->prog), &b, &len);
		ns = per_run(&a, &b);
		if (c->also) {
			len = sizeof(ab);
			bpf_obj_get_info_by_fd(bpf_program__fd(c->also), &ab, &len);
			*also_ns = per_run(&aa, &ab);
		}
	}
	bpf_link__destroy(l1);
	bpf_link__destroy(l2);
	return ns;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 9, ncpu = libbpf_num_possible_cpus(), nc = 0;
	char path[] = "/tmp/lanner-parts-XXXXXX";
	struct bench_case cases[MAX_CASES];
	struct bench_parts_bpf *skel;
	struct bpf_program *p;
	pthread_t th;
	cpu_set_t set;
	pid_t pid;
	int fd, stats, *fds, err = 1;

	if (getenv("RING_BYTES")) /* lanner's own rings: another size, e.g. to see cache effects */
		ring_bytes = (unsigned)strtoul(getenv("RING_BYTES"), NULL, 0);
	if (getenv("DRAIN_US")) /* e.g. 20000: lanner's drain_ms when no wakeup comes */
		drain_us = (unsigned)strtoul(getenv("DRAIN_US"), NULL, 0);
	if (rounds < 1 || rounds > MAX_ROUNDS || ncpu <= 0) {
		fprintf(stderr, "usage: bench_bpf_parts [ROUNDS (1-%d) [LANNER.bpf.o ...]]\n",
			MAX_ROUNDS);
		return 2;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	if (pipe(worker_cmd) || pipe(worker_res)) {
		perror("pipe");
		goto out_unlink;
	}
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pid = fork(); /* before anything is loaded: the worker maps no ring */
	if (pid < 0) {
		perror("fork");
		goto out_unlink;
	}
	if (pid == 0)
		worker(path);
	close(worker_cmd[0]);
	close(worker_res[1]);
	fds = calloc((size_t)ncpu * (size_t)(argc + 1), sizeof(*fds));
	if (!fds)
		goto out_worker;

	skel = bench_parts_bpf__open();
	if (!skel || rings_for(skel->maps.parts_rbs, ncpu, fds) || bench_parts_bpf__load(skel) ||
	    rings_fill(skel->maps.parts_rbs, ncpu, fds)) {
		fprintf(stderr, "load bench_parts: %s (needs root)\n", strerror(errno));
		goto out_worker;
	}
	{
		char why[256];

		if (dmap_enable(skel->obj, NULL, why, sizeof(why)))
			printf("bench_parts: direct-map reads off (p18-p20 measure the fallback only): %s\n",
			       why);
	}
	bpf_object__for_each_program(p, skel->obj)
		if (nc < MAX_CASES && strcmp(bpf_program__name(p), "lanner_dmap_calib"))
			cases[nc++] = (struct bench_case){ bpf_program__name(p), p, NULL, { 0 } };
	for (int i = 2; i < argc && nc < MAX_CASES; i++) {
		/* "nodmap:OBJ": the same object with the direct-map reads left off */
		bool nodmap = !strncmp(argv[i], "nodmap:", 7);
		struct bpf_object *obj = bpf_object__open_file(argv[i] + (nodmap ? 7 : 0), NULL);
		/* lanner_rings: own record rings (now); lanner_rbs: BPF ring buffers (before) */
		struct bpf_map *own = obj ? bpf_object__find_map_by_name(obj, "lanner_rings") :
					    NULL;
		struct bpf_map *outer = own ? own :
					obj ? bpf_object__find_map_by_name(obj, "lanner_rbs") :
					      NULL;
		struct bpf_map *wake = own ? bpf_object__find_map_by_name(obj, "lanner_wake") :
					     NULL;
		int *f = fds + (size_t)ncpu * (size_t)(i - 1), e;

		if (!outer)
			e = -ENOENT;
		else if (own)
			e = lrings_for(obj, own, ncpu, f);
		else
			e = rings_for(outer, ncpu, f);
		if (!e && bpf_object__load(obj))
			e = -errno;
		if (!e && own) {
			for (int k = 0; k < ncpu && !e; k++) {
				__u32 key = k;

				if (bpf_map_update_elem(bpf_map__fd(own), &key, &f[k], BPF_ANY))
					e = -errno;
			}
			if (!e && wake &&
			    ring_buffer__add(rings, bpf_map__fd(wake), on_sample, NULL))
				e = -errno;
		} else if (!e) {
			e = rings_fill(outer, ncpu, f);
		}
		if (e) {
			fprintf(stderr, "load %s: %s\n", argv[i], strerror(e < 0 ? -e : errno));
			goto out_worker;
		}
		/* direct-map string reads, as lanner's loader turns them on (older objects: none) */
		if (bpf_object__find_program_by_name(obj, "lanner_dmap_calib")) {
			char why[256];
			uint64_t base;

			if (nodmap)
				printf("%s: direct-map reads off\n", argv[i]);
			else if (dmap_enable(obj, &base, why, sizeof(why)))
				printf("%s: direct-map reads off: %s\n", argv[i], why);
			else
				printf("%s: direct-map reads on\n", argv[i]);
		}
		cases[nc++] = (struct bench_case){
			argv[i],
			bpf_object__find_program_by_name(obj, "sys_exit_openat"),
			bpf_object__find_program_by_name(obj, "sys_exit_close"),
			{ 0 },
			{ 0 },
			bpf_object__find_map_by_name(obj, "lanner_stats")
		};
		if (!cases[nc - 1].prog) {
			fprintf(stderr, "%s has no sys_exit_openat\n", argv[i]);
			goto out_worker;
		}
	}
	if (pthread_create(&th, NULL, consumer, NULL))
		goto out_worker;
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0) {
		fprintf(stderr, "BPF_ENABLE_STATS: %s\n", strerror(errno));
	} else {
		for (int r = 0; r < rounds; r++)
			for (int i = 0; i < nc; i++)
				cases[i].ns[r] = measure(&cases[i], &cases[i].also_ns[r]);
		close(stats);
		printf("%-44s %10s %10s   (ns of program time per openat, %d rounds)\n",
		       "program on sys_exit_openat", "best", "median", rounds);
		for (int i = 0; i < nc; i++) {
			qsort(cases[i].ns, rounds, sizeof(double), cmp_double);
			printf("%-44s %10.1f %10.1f\n", cases[i].name, cases[i].ns[0],
			       cases[i].ns[rounds / 2]);
			if (!cases[i].also)
				continue;
			qsort(cases[i].also_ns, rounds, sizeof(double), cmp_double);
			printf("  %-42s %10.1f %10.1f\n", "its sys_exit_close", cases[i].also_ns[0],
			       cases[i].also_ns[rounds / 2]);
			if (helper_reads(&cases[i], ncpu) >= 0)
				printf("  strings read by the helper: %lld\n",
				       helper_reads(&cases[i], ncpu));
		}
		printf("records drained: %llu (%llu bad)\n", records, bad_records);
		err = 0;
	}
	stop_consumer = 1;
	pthread_join(th, NULL);
out_worker:
	close(worker_cmd[1]);
	waitpid(pid, NULL, 0);
out_unlink:
	unlink(path);
	return err;
}
