// SPDX-License-Identifier: Apache-2.0
/*
 * The consumer side of a record ring on plain memory (no kernel): records are shown in ring
 * order up to what lring_sync() saw, taken, freed by lring_release(); records published after
 * the sync wait for the next one (so a walk ends however fast the producer writes); a record
 * crossing the ring's end is shown whole through the slack; a bad size skips what was synced.
 */
#include <setjmp.h>
#include <stdarg.h>
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

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->ctl = aligned_alloc(64, sizeof(struct lanner_ring) + CAP + LANNER_RING_SLACK);
	assert_non_null(f->ctl);
	memset(f->ctl, 0, sizeof(struct lanner_ring) + CAP + LANNER_RING_SLACK);
	f->r.ctl = f->ctl;
	f->r.data = (const uint8_t *)(f->ctl + 1);
	f->r.mask = CAP - 1;
	f->r.fd = -1;
}

/* The producer: a record of size bytes (>= the header) at head, published. */
static void put(struct fake *f, uint32_t size)
{
	uint8_t *at = (uint8_t *)(f->ctl + 1) + (f->ctl->head & (CAP - 1));
	struct lanner_rec rec = { 0 };

	rec.seq = f->seq++;
	rec.size = size;
	rec.type = LANNER_REC_SYSCALL;
	memset(at, 0xab, size);
	memcpy(at, &rec, sizeof(rec));
	f->ctl->head += (size + 7) & ~7u;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_bounds),
		cmocka_unit_test(test_wrap_and_bad),
		cmocka_unit_test(test_bad_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
