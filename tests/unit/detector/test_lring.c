// SPDX-License-Identifier: Apache-2.0
/*
 * The consumer side of a record ring on plain memory (no kernel): records are shown in ring
 * order up to what lring_sync() saw, taken, freed by lring_release(); records published after
 * the sync wait for the next one (so a walk ends however fast the producer writes); a record
 * crossing the ring's end is shown whole through the slack; a bad size skips what was synced.
 * lring_merge() over 1-7 rings fed at random hands on every good record below its limit once,
 * in seq order, and counts the bad ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector/lring.h"

#define CAP (1u << 16)

struct fake {
	struct lring r;
	struct lanner_ring *ctl;
	uint64_t seq;
};

/* A ring of CAP bytes on plain memory; free(r->ctl) frees it. */
static void ring_init(struct lring *r)
{
	memset(r, 0, sizeof(*r));
	r->ctl = aligned_alloc(64, sizeof(struct lanner_ring) + CAP + LANNER_RING_SLACK);
	assert_non_null(r->ctl);
	memset(r->ctl, 0, sizeof(struct lanner_ring) + CAP + LANNER_RING_SLACK);
	r->data = (const uint8_t *)(r->ctl + 1);
	r->mask = CAP - 1;
	r->fd = -1;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	ring_init(&f->r);
	f->ctl = f->r.ctl;
}

/* The byte a record's payload is filled with. */
static uint8_t fill(uint64_t seq)
{
	return (uint8_t)(seq * 7 + 0xab);
}

/* The producer: a record of size bytes (>= the header) at head, published. */
static void ring_put(struct lanner_ring *ctl, uint64_t seq, uint32_t size, uint16_t type)
{
	uint8_t *at = (uint8_t *)(ctl + 1) + (ctl->head & (CAP - 1));
	struct lanner_rec rec = { 0 };

	rec.seq = seq;
	rec.size = size;
	rec.type = type;
	memset(at, fill(seq), size);
	memcpy(at, &rec, sizeof(rec));
	ctl->head += (size + 7) & ~7u;
}

static void put(struct fake *f, uint32_t size)
{
	ring_put(f->ctl, f->seq++, size, LANNER_REC_SYSCALL);
}

/* Takes every record lring_peek() shows; returns how many, checking their seqs run on. */
static size_t take_all(struct fake *f, uint64_t *next_seq, uint64_t *bad)
{
	const struct lanner_rec *rec;
	size_t n = 0, size;

	while ((rec = lring_peek(&f->r, &size, bad))) {
		assert_int_equal(rec->seq, *next_seq);
		assert_int_equal(rec->size, size);
		(*next_seq)++;
		lring_take(&f->r, size);
		n++;
	}
	return n;
}

static void on_rec(void *ctx, const void *rec, size_t size)
{
	(void)rec;
	(void)size;
	(*(size_t *)ctx)++;
}

static void test_sync_bounds(void **state)
{
	struct fake f;
	uint64_t next = 0, bad = 0;

	(void)state;
	fake_init(&f);
	assert_null(lring_peek(&f.r, &(size_t){ 0 }, &bad)); /* nothing synced yet */
	put(&f, 200);
	put(&f, 300);
	assert_null(lring_peek(&f.r, &(size_t){ 0 }, &bad)); /* published, not synced */
	lring_sync(&f.r);
	put(&f, 400); /* after the sync: waits for the next one */
	assert_int_equal(take_all(&f, &next, &bad), 2);
	assert_int_equal(f.ctl->tail, 0); /* taken, not yet freed */
	assert_int_equal(lring_used(&f.r), 200 + 304 + 400);
	lring_release(&f.r);
	assert_int_equal(f.ctl->tail, 200 + 304);
	lring_sync(&f.r);
	assert_int_equal(take_all(&f, &next, &bad), 1);
	lring_release(&f.r);
	assert_int_equal(lring_used(&f.r), 0);
	assert_int_equal(lring_room(&f.r), CAP - LANNER_RING_SLACK);
	assert_int_equal(bad, 0);
	free(f.ctl);
}

static void test_wrap_and_bad(void **state)
{
	struct fake f;
	uint64_t next = 0, bad = 0;
	size_t got = 0;

	(void)state;
	fake_init(&f);
	/* many ring turns, records of every size up to 3 KiB crossing the end through the slack */
	for (int i = 0; i < 2000; i++) {
		put(&f, (uint32_t)(sizeof(struct lanner_rec) + (i * 37) % 3000));
		if (i % 10 == 9) { /* at most 30 KiB: within the 36 KiB the ring holds */
			lring_sync(&f.r);
			got += take_all(&f, &next, &bad);
			lring_release(&f.r);
		}
	}
	assert_int_equal(got, 2000);
	assert_int_equal(bad, 0);
	assert_true(f.ctl->head > 4 * CAP);
	/* a drain hands on what is published and frees it */
	got = 0;
	put(&f, 500);
	put(&f, 600);
	assert_int_equal(lring_drain(&f.r, on_rec, &got, &bad), 2);
	assert_int_equal(got, 2);
	assert_int_equal(f.ctl->tail, f.ctl->head);
	free(f.ctl);
}

static void test_bad_size(void **state)
{
	struct fake f;
	uint64_t next = 0, bad = 0;
	size_t n = 0;
	uint8_t *at;

	(void)state;
	fake_init(&f);
	put(&f, 200);
	at = (uint8_t *)(f.ctl + 1) + f.ctl->head;
	put(&f, 200);
	memset(at + offsetof(struct lanner_rec, size), 0xff, 4); /* a size past what is published */
	put(&f, 200);
	lring_sync(&f.r);
	assert_int_equal(take_all(&f, &next, &bad), 1);
	assert_int_equal(bad, 1); /* the rest of what was synced is skipped */
	lring_release(&f.r);
	assert_int_equal(f.ctl->tail, f.ctl->head);
	/* the ring goes on after it */
	put(&f, 200);
	assert_int_equal(lring_drain(&f.r, on_rec, &n, &bad), 1);
	assert_int_equal(n, 1);
	assert_int_equal(f.ctl->tail, f.ctl->head);
	free(f.ctl);
}

/* The check the merge tests give lring_merge(): type 0 marks a bad record. */
static bool merge_ok(const struct lanner_rec *rec, size_t size)
{
	return rec->type == LANNER_REC_SYSCALL && rec->size == size;
}

static void on_merged(void *ctx, const struct lanner_rec *rec, size_t size)
{
	(void)rec;
	(void)size;
	(*(size_t *)ctx)++;
}

static void test_merge_edges(void **state)
{
	struct lring rings[3];
	struct lring_merge_ent heap[3];
	uint64_t bad = 0;
	size_t got = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		ring_init(&rings[i]);
	assert_int_equal(lring_merge(rings, 0, heap, UINT64_MAX, merge_ok, on_merged, &got, &bad),
			 0);
	assert_int_equal(lring_merge(rings, 3, heap, UINT64_MAX, merge_ok, on_merged, &got, &bad),
			 0);
	ring_put(rings[0].ctl, 0, 200, LANNER_REC_SYSCALL);
	ring_put(rings[1].ctl, 1, 300, LANNER_REC_SYSCALL);
	ring_put(rings[2].ctl, 2, 200, 0);
	/* limit 0: nothing is handed on, but a bad record is counted before its seq is looked at */
	assert_int_equal(lring_merge(rings, 3, heap, 0, merge_ok, on_merged, &got, &bad), 0);
	assert_int_equal(got, 0);
	assert_int_equal(bad, 1);
	assert_int_equal(rings[0].ctl->tail, 0);
	assert_int_equal(rings[1].ctl->tail, 0);
	assert_int_equal(rings[2].ctl->tail, 200);
	assert_int_equal(lring_merge(rings, 3, heap, UINT64_MAX, merge_ok, on_merged, &got, &bad),
			 2);
	assert_int_equal(got, 2);
	assert_int_equal(bad, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rings[i].ctl->tail, rings[i].ctl->head);
		free(rings[i].ctl);
	}
}

/*
 * The randomized merge: a model of what each ring holds, checked against what lring_merge()
 * hands on. seq is one counter over all rings, as in the kernel; a bad record gets a random
 * one (a merge that read it before the check would stop there, or hand it on).
 */
#define MAX_RINGS 7
#define QLEN 512 /* > the records a ring holds: CAP / sizeof(struct lanner_rec) */

struct model_rec {
	uint64_t pos; /* where it starts in its ring (bytes ever written before it) */
	uint64_t seq;
	uint64_t id; /* publication order over all rings */
	uint32_t size;
	bool good;
};

struct sim {
	struct lring rings[MAX_RINGS];
	struct lring_merge_ent heap[MAX_RINGS];
	int n;
	uint64_t rnd;
	struct model_rec q[MAX_RINGS][QLEN]; /* each ring's records not yet taken */
	uint64_t q_head[MAX_RINGS], q_tail[MAX_RINGS];
	uint64_t seq; /* the kernel's counter */
	uint64_t ids;
	uint64_t bad, bad_want;
	bool writing; /* the programs write during a merge */
	bool small; /* they write only small records */
	/* the merge under way */
	uint64_t limit;
	uint64_t synced; /* records with ids below were published when it started */
	size_t handed;
	int last_ring;
	uint64_t last_end; /* where the last record handed on ends in last_ring */
	/* across merges */
	uint64_t last_seq;
	bool any;
	uint64_t total, dropped, crossed, long_merges;
};

/* xorshift64*: the same sequence on every run */
static uint64_t rnd(struct sim *s)
{
	s->rnd ^= s->rnd >> 12;
	s->rnd ^= s->rnd << 25;
	s->rnd ^= s->rnd >> 27;
	return s->rnd * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(struct sim *s, uint32_t n)
{
	return (uint32_t)(rnd(s) % n);
}

/* Mostly small records, some of a few KiB, a few of about LANNER_REC_MAX. */
static uint32_t rnd_size(struct sim *s)
{
	uint32_t k = rnd_below(s, 16);

	if (s->small)
		return (uint32_t)sizeof(struct lanner_rec) + rnd_below(s, 256);
	if (k == 0)
		return LANNER_REC_MAX - rnd_below(s, 64);
	if (k < 4)
		return (uint32_t)sizeof(struct lanner_rec) + rnd_below(s, 4096);
	return (uint32_t)sizeof(struct lanner_rec) + rnd_below(s, 512);
}

/* The programs of a random CPU write a record, or drop it when the ring may be full. */
static void sim_put(struct sim *s)
{
	int i = (int)rnd_below(s, (uint32_t)s->n);
	struct lanner_ring *ctl = s->rings[i].ctl;
	uint32_t size = rnd_size(s);
	bool good = rnd_below(s, 20) != 0;
	struct model_rec *m;

	if (ctl->head - ctl->tail > CAP - LANNER_RING_SLACK) {
		s->dropped++; /* no seq taken */
		return;
	}
	assert_true(s->q_head[i] - s->q_tail[i] < QLEN);
	m = &s->q[i][s->q_head[i]++ % QLEN];
	*m = (struct model_rec){ ctl->head, good ? s->seq++ : rnd(s), s->ids++, size, good };
	if ((ctl->head & (CAP - 1)) + size > CAP)
		s->crossed++;
	ring_put(ctl, m->seq, size, good ? LANNER_REC_SYSCALL : 0);
}

static void sim_on_record(void *ctx, const struct lanner_rec *rec, size_t size)
{
	struct sim *s = ctx;
	const uint8_t *at = (const uint8_t *)rec;
	struct model_rec *m;
	int i = 0;

	while (i < s->n && !(at >= s->rings[i].data && at < s->rings[i].data + CAP))
		i++;
	assert_true(i < s->n);
	/* the bad records before it in its ring were skipped (and counted, checked after) */
	while (s->q_tail[i] < s->q_head[i] && !s->q[i][s->q_tail[i] % QLEN].good) {
		assert_true(s->q[i][s->q_tail[i] % QLEN].id < s->synced);
		s->bad_want++;
		s->q_tail[i]++;
	}
	/* it is its ring's next record, good, published before the merge started */
	assert_true(s->q_tail[i] < s->q_head[i]);
	m = &s->q[i][s->q_tail[i]++ % QLEN];
	assert_int_equal(at - s->rings[i].data, m->pos & (CAP - 1));
	assert_true(m->good);
	assert_true(m->id < s->synced);
	assert_int_equal(rec->seq, m->seq);
	assert_int_equal(size, m->size);
	if (size > sizeof(*rec)) /* whole, through the slack */
		assert_int_equal(at[size - 1], fill(rec->seq));
	/* below the limit, after every seq handed on before (in this merge or an earlier one) */
	assert_true(rec->seq < s->limit);
	assert_true(!s->any || rec->seq > s->last_seq);
	s->last_seq = rec->seq;
	s->any = true;
	/* not freed before it is handed on; freed every 256 records of a long merge */
	assert_true(s->rings[i].ctl->tail <= m->pos);
	if (s->handed && s->handed % 256 == 0)
		assert_true(s->rings[s->last_ring].ctl->tail >= s->last_end);
	s->handed++;
	s->last_ring = i;
	s->last_end = m->pos + ((m->size + 7) & ~7u);
	/* the programs go on writing: that waits for the next merge */
	if (s->writing && rnd_below(s, 8) == 0)
		sim_put(s);
}

static void sim_merge(struct sim *s, uint64_t limit)
{
	size_t n;

	s->limit = limit;
	s->synced = s->ids;
	s->handed = 0;
	n = lring_merge(s->rings, s->n, s->heap, limit, merge_ok, sim_on_record, s, &s->bad);
	assert_int_equal(n, s->handed);
	s->total += n;
	s->long_merges += n > 256;
	for (int i = 0; i < s->n; i++) {
		const struct model_rec *m;

		/* the merge went through each ring's bad records up to a good one it left */
		while (s->q_tail[i] < s->q_head[i] && !s->q[i][s->q_tail[i] % QLEN].good &&
		       s->q[i][s->q_tail[i] % QLEN].id < s->synced) {
			s->bad_want++;
			s->q_tail[i]++;
		}
		if (s->q_tail[i] == s->q_head[i]) {
			assert_int_equal(s->rings[i].ctl->tail, s->rings[i].ctl->head);
			continue;
		}
		/* a record left was at or above the limit, or published after the merge started */
		m = &s->q[i][s->q_tail[i] % QLEN];
		assert_true(m->seq >= limit || m->id >= s->synced);
		assert_int_equal(s->rings[i].ctl->tail, m->pos); /* what was taken is freed */
	}
	assert_int_equal(s->bad, s->bad_want);
}

static void test_merge_random(void **state)
{
	uint64_t rounds = 0, handed = 0, dropped = 0, crossed = 0, bad = 0, longer = 0;

	(void)state;
	for (int n = 1; n <= MAX_RINGS; n++) {
		struct sim *s = calloc(1, sizeof(*s));

		assert_non_null(s);
		s->n = n;
		s->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)n;
		s->writing = true;
		for (int i = 0; i < n; i++)
			ring_init(&s->rings[i]);
		for (int round = 0; round < 1000; round++, rounds++) {
			uint32_t puts = rnd_below(s, 8) ? rnd_below(s, 24) : rnd_below(s, 100);
			uint64_t span = s->seq < 300 ? s->seq + 1 : 300, limit;

			/* rounds 80-99 of a hundred write small records, held until the last one */
			s->small = round % 100 >= 80;
			for (uint32_t k = 0; k < puts; k++)
				sim_put(s);
			switch (s->small ? (round % 100 < 99 ? 0 : 1) : rnd_below(s, 10)) {
			case 0:
				limit = 0;
				break;
			case 1:
				limit = UINT64_MAX;
				break;
			default: /* up to 300 below the counter: some records are left for later */
				limit = s->seq + 1 - rnd_below(s, (uint32_t)span + 1);
			}
			sim_merge(s, limit);
		}
		s->writing = false;
		sim_merge(s, UINT64_MAX);
		for (int i = 0; i < n; i++) {
			assert_int_equal(s->q_tail[i], s->q_head[i]);
			free(s->rings[i].ctl);
		}
		/* every good record was handed on once, every bad one counted */
		assert_int_equal(s->total, s->seq);
		assert_int_equal(s->bad, s->ids - s->seq);
		handed += s->total;
		longer += s->long_merges;
		dropped += s->dropped;
		crossed += s->crossed;
		bad += s->bad;
		free(s);
	}
	print_message("%llu rounds: %llu records handed on, %llu crossed the end, %llu dropped, "
		      "%llu bad; %llu merges freed records before their end\n",
		      (unsigned long long)rounds, (unsigned long long)handed,
		      (unsigned long long)crossed, (unsigned long long)dropped,
		      (unsigned long long)bad, (unsigned long long)longer);
	/* the cases the test is for did happen */
	assert_true(dropped > 0);
	assert_true(crossed > 100);
	assert_true(bad > 100);
	assert_true(longer > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_bounds),  cmocka_unit_test(test_wrap_and_bad),
		cmocka_unit_test(test_bad_size),     cmocka_unit_test(test_merge_edges),
		cmocka_unit_test(test_merge_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
