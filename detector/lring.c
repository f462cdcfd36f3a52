// SPDX-License-Identifier: Apache-2.0
/* See lring.h and the ring protocol in bpf/events.h. */
#include "detector/lring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

int lring_open(struct lring *r, uint32_t capacity)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	size_t value = sizeof(struct lanner_ring) + (size_t)capacity + LANNER_RING_SLACK;
	long page = sysconf(_SC_PAGESIZE);
	void *m;
	int e;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (capacity < (1u << 16) || (capacity & (capacity - 1)))
		return -EINVAL;
	r->fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lanner_ring", sizeof(uint32_t), (uint32_t)value,
			       1, &o);
	if (r->fd < 0)
		return -errno;
	r->map_len = (value + (size_t)page - 1) / (size_t)page * (size_t)page;
	m = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED) {
		e = -errno;
		close(r->fd);
		r->fd = -1;
		return e;
	}
	/* A fork (lanner runs response commands) must not copy these page tables. */
	madvise(m, r->map_len, MADV_DONTFORK);
	r->ctl = m;
	r->data = (const uint8_t *)m + sizeof(struct lanner_ring);
	r->mask = capacity - 1;
	return 0;
}

void lring_sync(struct lring *r)
{
	if (!r->ctl)
		return;
	/* Acquire: the records up to head are written before head is. */
	r->head = __atomic_load_n(&r->ctl->head, __ATOMIC_ACQUIRE);
	if (r->pos < r->ctl->tail)
		r->pos = r->ctl->tail; /* first use */
}

const void *lring_peek(struct lring *r, size_t *size, uint64_t *bad)
{
	const uint8_t *rec;
	uint32_t sz;

	if (!r->ctl || r->pos >= r->head)
		return NULL;
	rec = r->data + (r->pos & r->mask);
	memcpy(&sz, rec + offsetof(struct lanner_rec, size), sizeof(sz));
	if (sz < sizeof(struct lanner_rec) || sz > LANNER_REC_MAX || r->head - r->pos < sz) {
		(*bad)++;
		r->pos = r->head;
		return NULL;
	}
	*size = sz;
	return rec;
}

void lring_take(struct lring *r, size_t size)
{
	r->pos += (size + 7) & ~(size_t)7;
}

void lring_release(struct lring *r)
{
	/* Release: the program may reuse the space once it sees the new tail. */
	if (r->ctl && r->ctl->tail != r->pos)
		__atomic_store_n(&r->ctl->tail, r->pos, __ATOMIC_RELEASE);
}

uint64_t lring_used(const struct lring *r)
{
	return r->ctl ? __atomic_load_n(&r->ctl->head, __ATOMIC_ACQUIRE) - r->ctl->tail : 0;
}

uint64_t lring_room(const struct lring *r)
{
	return r->mask + 1 - LANNER_RING_SLACK;
}

size_t lring_drain(struct lring *r, lring_record_fn cb, void *ctx, uint64_t *bad)
{
	const void *rec;
	size_t n = 0, size;

	lring_sync(r); /* what is published now: a drain ends even if the programs keep writing */
	while ((rec = lring_peek(r, &size, bad))) {
		cb(ctx, rec, size);
		lring_take(r, size);
		/*
		 * Stored every 256 records of a long drain (the producer reads the tail only when it
		 * believes the ring full, but then it should find space) and at the end.
		 */
		if ((++n & 255) == 0)
			lring_release(r);
	}
	lring_release(r);
	return n;
}

/* Ring i's next good record below limit into *m; false when it has none (yet). */
static bool merge_next(struct lring *rings, int i, uint64_t limit, lring_check_fn ok, uint64_t *bad,
		       struct lring_merge_ent *m)
{
	const struct lanner_rec *rec;
	size_t size;

	while ((rec = lring_peek(&rings[i], &size, bad))) {
		if (ok(rec, size)) {
			if (rec->seq >= limit)
				return false;
			*m = (struct lring_merge_ent){ rec, size, i };
			return true;
		}
		(*bad)++; /* a bad record is counted and skipped */
		lring_take(&rings[i], size);
	}
	return false;
}

static void merge_down(struct lring_merge_ent *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct lring_merge_ent t;

		if (l < n && h[l].rec->seq < h[m].rec->seq)
			m = l;
		if (l + 1 < n && h[l + 1].rec->seq < h[m].rec->seq)
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

size_t lring_merge(struct lring *rings, int n, struct lring_merge_ent *heap, uint64_t limit,
		   lring_check_fn ok, lring_merge_fn cb, void *ctx, uint64_t *bad)
{
	struct lring_merge_ent *h = heap;
	size_t k = 0, handed = 0;

	/* up to what is published now: a merge ends even if the programs keep writing */
	for (int i = 0; i < n; i++) {
		lring_sync(&rings[i]);
		if (merge_next(rings, i, limit, ok, bad, &h[k]))
			k++;
	}
	for (size_t i = k / 2; i-- > 0;)
		merge_down(h, k, i);
	while (k) {
		int ring = h[0].ring;

		cb(ctx, h[0].rec, h[0].size);
		lring_take(&rings[ring], h[0].size);
		/*
		 * The producer reads a tail only when it believes its ring full, but then it should
		 * find space: a long merge frees what it took every 256 records.
		 */
		if ((++handed & 255) == 0)
			for (int i = 0; i < n; i++)
				lring_release(&rings[i]);
		if (!merge_next(rings, ring, limit, ok, bad, &h[0]))
			h[0] = h[--k];
		merge_down(h, k, 0);
	}
	for (int i = 0; i < n; i++)
		lring_release(&rings[i]);
	return handed;
}

void lring_close(struct lring *r)
{
	if (!r->ctl)
		return;
	munmap(r->ctl, r->map_len);
	close(r->fd);
	r->ctl = NULL;
	r->data = NULL;
	r->fd = -1;
}
