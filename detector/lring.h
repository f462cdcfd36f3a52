/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer side of the kernel programs' record rings (struct lanner_ring in bpf/events.h):
 * creating one ring's map, mapping it, reading the records it holds, and merging the records
 * of several rings in seq order.
 */
#ifndef LANNER_DETECTOR_LRING_H
#define LANNER_DETECTOR_LRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"

struct lring {
	struct lanner_ring *ctl; /* the mapped element; NULL when not mapped */
	const uint8_t *data; /* records: capacity + LANNER_RING_SLACK bytes */
	uint64_t mask; /* capacity - 1 */
	uint64_t pos; /* the next record lring_peek() shows: tail <= pos <= head */
	uint64_t head; /* the published end as lring_sync() last read it */
	size_t map_len;
	int fd;
};

/* Called for each record in ring order; the bytes are valid only during the call. */
typedef void (*lring_record_fn)(void *ctx, const void *rec, size_t size);

/*
 * Creates the mmapable array map of one ring of capacity bytes (a power of two >= 64 KiB) and
 * maps it. 0, or a negative errno with the map closed.
 */
int lring_open(struct lring *r, uint32_t capacity);

/*
 * Hands every published record to cb and frees its space. A record whose size field cannot be
 * right (smaller than a header, larger than LANNER_REC_MAX, or past what is published) means
 * the ring cannot be walked further: everything published is skipped and counted in *bad.
 * Returns the number of records handed to cb.
 */
size_t lring_drain(struct lring *r, lring_record_fn cb, void *ctx, uint64_t *bad);

/*
 * Reads how far the programs have published: lring_peek() shows records up to there and no
 * further until the next lring_sync(), so a walk over a ring always ends.
 */
void lring_sync(struct lring *r);

/*
 * The oldest record up to the last lring_sync() not yet taken, left in the ring (valid until
 * lring_release() frees it): its size in *size. NULL when there is none. A size field that
 * cannot be right skips everything synced, counted in *bad, as lring_drain() does.
 */
const void *lring_peek(struct lring *r, size_t *size, uint64_t *bad);

/* Moves past the record lring_peek() showed (size as it gave). */
void lring_take(struct lring *r, size_t size);

/* Frees the space of every record taken: the programs may write over it from now on. */
void lring_release(struct lring *r);

/* lring_merge()'s check of a record: false for one that must not be handed on. */
typedef bool (*lring_check_fn)(const struct lanner_rec *rec, size_t size);

/* Called for each record lring_merge() hands on, borrowed for the call (cb may write to it). */
typedef void (*lring_merge_fn)(void *ctx, const struct lanner_rec *rec, size_t size);

/* A ring's next record in lring_merge()'s heap. */
struct lring_merge_ent {
	const struct lanner_rec *rec;
	size_t size;
	int ring;
};

/*
 * Hands every record of the n rings with seq below limit to cb, in seq order across the rings
 * (each ring must be in seq order), and frees their space, every 256 records and at the end;
 * the others stay for a later call. Each ring is lring_sync()ed once at the start, so a merge
 * ends however fast the programs write. A record failing ok (checked before its seq is read)
 * is counted in *bad and skipped, as a bad size is (lring_peek()). heap is the caller's
 * scratch space for n entries. Returns the number of records handed to cb.
 */
size_t lring_merge(struct lring *rings, int n, struct lring_merge_ent *heap, uint64_t limit,
		   lring_check_fn ok, lring_merge_fn cb, void *ctx, uint64_t *bad);

/* Bytes published and not yet freed. */
uint64_t lring_used(const struct lring *r);

/* The most lring_used() can reach: the programs refuse a record beyond it (the slack). */
uint64_t lring_room(const struct lring *r);

/* Unmaps and closes (a zeroed or already closed ring is fine). */
void lring_close(struct lring *r);

#endif /* LANNER_DETECTOR_LRING_H */
