// SPDX-License-Identifier: Apache-2.0
/*
 * What pod metadata costs the detector per event: podmeta_get + podmeta_put for a hit in a
 * node-sized table (110 pods x 3 containers), a miss, and an empty table (no API access), each
 * against a baseline measured in the same run: one uncontended mutex lock/unlock pair.
 * Then the same hit while a writer thread replaces pods as fast as it can (a watch storm).
 *   build-bench/tests/bench/detector/bench_podmeta [iterations]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "detector/podmeta.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A sha256-like id (64 hex) derived from n, as runtimes make them. */
static void id_of(int n, char *buf, size_t len, const char *prefix)
{
	uint64_t x = (uint64_t)n * 0x9e3779b97f4a7c15ull + 1;
	int off = snprintf(buf, len, "%s", prefix);

	for (int i = 0; i < 4; i++) {
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		off += snprintf(buf + off, len - (size_t)off, "%016llx", (unsigned long long)x);
	}
}

static json_t *pod(int n, int gen)
{
	char uid[32], name[32], cid[3][80];

	snprintf(uid, sizeof(uid), "uid-%d", n);
	snprintf(name, sizeof(name), "pod-%d-%d", n, gen);
	for (int c = 0; c < 3; c++)
		id_of(n * 3 + c, cid[c], sizeof(cid[c]), "containerd://");
	return json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:s}},s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}",
			 "metadata", "uid", uid, "name", name, "namespace", "bench", "labels",
			 "app", "web", "tier", "front", "status", "containerStatuses", "name", "a",
			 "containerID", cid[0], "name", "b", "containerID", cid[1], "name", "c",
			 "containerID", cid[2]);
}

static _Atomic int stop;

static void *writer(void *arg)
{
	struct podmeta *pm = arg;
	unsigned long n = 0;

	while (!stop) {
		json_t *p = pod((int)(n % 110), (int)n);

		podmeta_apply_pod(pm, p);
		json_decref(p);
		n++;
	}
	return (void *)n;
}

static double lookups(struct podmeta *pm, const char *id, long iters)
{
	double t0 = now_ns();
	long hits = 0;

	for (long i = 0; i < iters; i++) {
		const struct podmeta_info *p = podmeta_get(pm, id);

		hits += p != NULL;
		podmeta_put(p);
	}
	if (hits == -1)
		puts("");
	return (now_ns() - t0) / iters;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 5000000;
	struct podmeta *pm = podmeta_new(0), *empty = podmeta_new(0);
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	char hit[65], miss[65];
	double base, t;
	pthread_t th;
	void *writes;

	for (int n = 0; n < 110; n++) {
		json_t *p = pod(n, 0);

		podmeta_apply_pod(pm, p);
		json_decref(p);
	}
	id_of(57 * 3 + 1, hit, sizeof(hit), "");
	id_of(999999, miss, sizeof(miss), "");
	t = now_ns();
	for (long i = 0; i < iters; i++) {
		pthread_mutex_lock(&mu);
		pthread_mutex_unlock(&mu);
	}
	base = (now_ns() - t) / iters;
	printf("table: %zu containers; baseline mutex lock+unlock: %.1f ns\n", podmeta_count(pm),
	       base);
	t = lookups(pm, hit, iters);
	printf("hit:   %.1f ns/event (%.2fx baseline)\n", t, t / base);
	t = lookups(pm, miss, iters);
	printf("miss:  %.1f ns/event (%.2fx baseline)\n", t, t / base);
	t = lookups(empty, hit, iters);
	printf("empty: %.1f ns/event (%.2fx baseline)\n", t, t / base);
	pthread_create(&th, NULL, writer, pm);
	t = lookups(pm, hit, iters);
	stop = 1;
	pthread_join(th, &writes);
	printf("hit during a watch storm: %.1f ns/event (%.2fx baseline), %lu pod updates meanwhile\n",
	       t, t / base, (unsigned long)writes);
	podmeta_free(pm);
	podmeta_free(empty);
	return 0;
}
