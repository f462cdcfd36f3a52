/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer side of the kernel programs' record rings (struct lanner_ring in bpf/events.h):
 * creating one ring's map, mapping it, and reading the records it holds.
 */
#ifndef LANNER_DETECTOR_LRING_H
#define LANNER_DETECTOR_LRING_H

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

/* Bytes published and not yet freed. */
uint64_t lring_used(const struct lring *r);

/* The most lring_used() can reach: the programs refuse a record beyond it (the slack). */
uint64_t lring_room(const struct lring *r);

/* Unmaps and closes (a zeroed or already closed ring is fine). */
void lring_close(struct lring *r);

#endif /* LANNER_DETECTOR_LRING_H */
