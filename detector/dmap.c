// SPDX-License-Identifier: Apache-2.0
/*
 * Turning on the direct-map reads of user strings: the loader's half of bpf/events.h's
 * struct lanner_dmap (layout, calibration, checks). See dmap.h and docs/detector.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf/events.h"
#include "detector/dmap.h"
#include "detector/errbuf.h"

#define PAGE 4096ull
#define USER_END_4 0x00007ffffffff000ull /* TASK_SIZE_MAX, 4-level tables */
#define USER_END_5 0x00fffffffffff000ull /* with LA57 */
/* where the kernel's direct-map region starts before randomization (__PAGE_OFFSET_BASE_L4/5) */
#define DMAP_LO_4 0xffff888000000000ull
#define DMAP_LO_5 0xff11000000000000ull

/*
 * lanner_dmap in the object's .bss, read and written through the map (libbpf maps .bss into
 * this process only for skeletons, and only in some versions): the whole value is read, the
 * variable changed, the whole value written back, so the object's other globals keep theirs.
 */
struct bss {
	int fd;
	size_t size, off;
	char *buf;
};

static int bss_open(struct bpf_object *obj, struct bss *b)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".bss");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	int id;

	if (!m || !btf || bpf_map__fd(m) < 0)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), "lanner_dmap"))
			continue;
		b->size = bpf_map__value_size(m);
		if (vs->size != sizeof(struct lanner_dmap) || vs->offset + vs->size > b->size)
			return -EINVAL;
		b->buf = malloc(b->size);
		if (!b->buf)
			return -ENOMEM;
		b->fd = bpf_map__fd(m);
		b->off = vs->offset;
		return 0;
	}
	return -ENOENT;
}

static int bss_get(struct bss *b, struct lanner_dmap *d)
{
	int zero = 0;

	if (bpf_map_lookup_elem(b->fd, &zero, b->buf))
		return -errno;
	memcpy(d, b->buf + b->off, sizeof(*d));
	return 0;
}

static int bss_put(struct bss *b, const struct lanner_dmap *d)
{
	int zero = 0;

	if (bpf_map_lookup_elem(b->fd, &zero, b->buf))
		return -errno;
	memcpy(b->buf + b->off, d, sizeof(*d));
	return bpf_map_update_elem(b->fd, &zero, b->buf, BPF_ANY) ? -errno : 0;
}

/*
 * Physical RAM from /proc/iomem's top-level "System RAM" lines (root sees real addresses),
 * adjacent ranges merged; past LANNER_DMAP_RAM_MAX ranges the rest is left to the helper.
 */
static int read_ram(struct lanner_dmap *d, uint64_t *end)
{
	FILE *f = fopen("/proc/iomem", "re");
	char line[256];
	uint64_t lo, hi;
	int n = 0;

	if (!f)
		return -errno;
	*end = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) != 2 || hi < lo)
			continue;
		hi += 1; /* iomem ends are inclusive */
		if (n && d->ram_hi[n - 1] == lo) {
			d->ram_hi[n - 1] = hi;
		} else if (n < LANNER_DMAP_RAM_MAX) {
			d->ram_lo[n] = lo;
			d->ram_hi[n] = hi;
			n++;
		}
		if (hi > *end)
			*end = hi;
	}
	fclose(f);
	d->nram = (uint32_t)n;
	/* a reader without root sees every address as 0 */
	return n && *end > PAGE ? 0 : -EPERM;
}

/* 5-level tables are in use when a user mapping above 47 bits can be made (LA57). */
static uint32_t paging_levels(void)
{
	void *want = (void *)(1ull << 50), *p;

	p = mmap(want, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return errno == EEXIST ? 5 : 4; /* something is mapped there already */
	munmap(p, PAGE);
	return p == want ? 5 : 4;
}

/* The physical address of this process's byte at va (/proc/self/pagemap; frames need root). */
static int phys_of(const void *va, uint64_t *phys)
{
	uint64_t ent, off = (uint64_t)(uintptr_t)va / PAGE * sizeof(ent);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &ent, sizeof(ent), (off_t)off) != (ssize_t)sizeof(ent))
		e = -ENODATA;
	close(fd);
	if (e)
		return e;
	/* bit 63: present; bits 0-54: the frame, 0 when hidden from this reader */
	if (!(ent & (1ull << 63)) || !(ent & ((1ull << 55) - 1)))
		return -EPERM;
	*phys = (ent & ((1ull << 55) - 1)) * PAGE + (uint64_t)(uintptr_t)va % PAGE;
	return 0;
}

/* One run of lanner_dmap_calib with d as its input; d gets what it left. */
static int run_calib(struct bpf_program *prog, struct bss *b, struct lanner_dmap *d)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int e = bss_put(b, d);

	if (!e && bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		e = -errno;
	return e ? e : bss_get(b, d);
}

/* The fast read of the string at va: d->calib_len and d->calib_out (0: left to the helper). */
static int fast_read(struct bpf_program *prog, struct bss *b, struct lanner_dmap *d, const void *va)
{
	d->calib_op = 2;
	d->calib_va = (uint64_t)(uintptr_t)va;
	d->calib_len = -1;
	return run_calib(prog, b, d);
}

/*
 * Strings placed so that each exercises one branch of the fast read, with what it must give:
 * the string itself, or 0 (the helper's turn).
 */
enum check_want {
	FAST, /* read by the fast path, exactly */
	SLOW, /* left to the helper */
	EITHER, /* either is right */
};

struct check {
	const char *what;
	size_t off; /* in the test pages */
	size_t len; /* without the NUL */
	enum check_want want;
};

static const struct check checks[] = {
	{ "a path", 64, 23, FAST },
	{ "an unaligned path", 203, 40, FAST },
	{ "the longest fast string", 1024, 8 * 32 - 1, FAST },
	{ "a string one byte too long", 2048, 8 * 32, SLOW },
	{ "a string ending on the page's last byte", PAGE - 16, 15, FAST },
	{ "an unaligned one ending there", PAGE - 21, 20, FAST },
	{ "one ending one byte short of it", PAGE - 30, 28, FAST },
	{ "a string crossing into the next page", PAGE - 6, 20, SLOW },
	{ "a longer part of one before the page's end", PAGE - 13, 20, SLOW },
	{ "a string in the second page", PAGE + 512, 11, FAST },
	/* non-zero bytes after its NUL: the fast path may read it (1 byte) */
	{ "an empty string", 3000, 0, EITHER },
};

static int check_reads(struct bpf_program *prog, struct bss *b, struct lanner_dmap *d, char *pages,
		       char *err, size_t errlen)
{
	int e;

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check *c = &checks[i];
		char *s = pages + c->off;

		for (size_t k = 0; k < c->len; k++)
			s[k] = (char)('!' + (k * 7 + i) % 90);
		s[c->len] = 0;
		s[c->len + 1] = 'x';
		e = fast_read(prog, b, d, s);
		if (e) {
			errbuf_set(err, errlen, "test run: %s", strerror(-e));
			return e;
		}
		if (c->want != FAST && d->calib_len == 0)
			continue;
		if (c->want != SLOW && d->calib_len == (int64_t)c->len + 1 &&
		    !memcmp(d->calib_out, s, c->len + 1))
			continue;
		errbuf_set(err, errlen, "check failed: %s read %lld bytes", c->what,
			   (long long)d->calib_len);
		return -EPROTO;
	}
	/* an inaccessible page, and a kernel address: the helper's turn (it will fail too) */
	e = fast_read(prog, b, d, pages + 2 * PAGE);
	if (!e && d->calib_len)
		e = -EPROTO;
	if (!e)
		e = fast_read(prog, b, d, (void *)(uintptr_t)d->base);
	if (!e && d->calib_len)
		e = -EPROTO;
	if (e)
		errbuf_set(err, errlen,
			   "check failed: an inaccessible page or a kernel address: %s",
			   strerror(-e));
	return e;
}

/*
 * A confidential VM (SEV, TDX) or host memory encryption (SME): page-table entries carry an
 * encryption bit and RAM may be unaccepted; direct-map reads are not attempted there.
 */
static const char *encrypted_memory(void)
{
	static const char *const flags[] = { " sme", " sev", " sev_es", " sev_snp", " tdx_guest" };
	FILE *f = fopen("/proc/cpuinfo", "re");
	const char *found = NULL;
	char line[4096];

	if (!f)
		return NULL;
	/* the first CPU's flags line; whole words (its newline becomes the last separator) */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && !found; i++) {
			char word[32];

			snprintf(word, sizeof(word), "%s ", flags[i]);
			if (strstr(line, word))
				found = flags[i] + 1;
		}
		break;
	}
	fclose(f);
	return found;
}

/*
 * The direct map's start from a packet socket's receive ring: the kernel allocates its blocks
 * with __get_free_pages() and keeps their direct-map addresses, lanner_dmap_calib reports them;
 * they are mapped into this process as ordinary pages, pagemap gives their physical addresses.
 * The socket (protocol 0) is bound to nothing and receives nothing. Both blocks and the
 * page-table root must agree before the start is believed.
 */
static int find_base(struct bpf_program *prog, struct bss *b, struct lanner_dmap *d,
		     uint64_t ram_end, char *err, size_t errlen)
{
	struct tpacket_req req = {
		.tp_block_size = PAGE,
		.tp_block_nr = 2,
		.tp_frame_size = PAGE / 2,
		.tp_frame_nr = 4,
	};
	uint64_t lo = d->levels == 5 ? DMAP_LO_5 : DMAP_LO_4, phys[2] = { 0, 0 }, base;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), e = 0;
	volatile char *ring = MAP_FAILED;

	if (fd < 0) {
		e = -errno;
		errbuf_set(err, errlen, "a packet socket (needs CAP_NET_RAW): %s", strerror(-e));
		return e;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		e = -errno;
	else
		ring = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!e && ring == MAP_FAILED)
		e = -errno;
	if (e) {
		errbuf_set(err, errlen, "a packet socket's receive ring: %s", strerror(-e));
		goto out_close;
	}
	(void)ring[0];
	(void)ring[PAGE];
	e = phys_of((const void *)ring, &phys[0]);
	if (!e)
		e = phys_of((const void *)(ring + PAGE), &phys[1]);
	if (e) {
		errbuf_set(err, errlen, "no physical address in /proc/self/pagemap: %s",
			   strerror(-e));
		goto out_unmap;
	}
	d->calib_op = 1;
	d->calib_fd = fd;
	e = run_calib(prog, b, d);
	if (e) {
		errbuf_set(err, errlen, "test run: %s", strerror(-e));
		goto out_unmap;
	}
	base = d->calib_page[0] - phys[0];
	/* randomized in 1 GiB steps, never below the region's start, holding the page tables */
	if (!d->calib_page[0] || d->calib_page[1] - phys[1] != base || base % (1ull << 30) ||
	    base < lo || d->calib_pgd < base || d->calib_pgd - base >= ram_end) {
		errbuf_set(err, errlen,
			   "the kernel's direct map was not found (ring blocks at %#llx and %#llx, "
			   "page-table root at %#llx)",
			   (unsigned long long)d->calib_page[0],
			   (unsigned long long)d->calib_page[1], (unsigned long long)d->calib_pgd);
		e = -ENOENT;
		goto out_unmap;
	}
	d->base = base;
out_unmap:
	munmap((void *)ring, 2 * PAGE);
out_close:
	close(fd);
	d->calib_page[0] = d->calib_page[1] = d->calib_pgd = 0;
	d->calib_fd = 0;
	return e;
}

int dmap_enable(struct bpf_object *obj, uint64_t *base_out, char *err, size_t errlen)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "lanner_dmap_calib");
	uint64_t ram_end = 0;
	struct lanner_dmap d;
	struct bss b = { 0 };
	const char *enc;
	char *pages;
	int e = prog ? bss_open(obj, &b) : -ENOENT;

	if (e) {
		errbuf_set(err, errlen, "the BPF object has no lanner_dmap: %s", strerror(-e));
		return e;
	}
	enc = encrypted_memory();
	if (enc) {
		errbuf_set(err, errlen, "memory encryption (CPU flag %s) is not supported", enc);
		e = -EOPNOTSUPP;
		goto out_free;
	}
	memset(&d, 0, sizeof(d));
	e = read_ram(&d, &ram_end);
	if (e) {
		errbuf_set(err, errlen, "cannot read the RAM ranges in /proc/iomem: %s",
			   strerror(-e));
		goto out_free;
	}
	d.ram_end = ram_end;
	d.levels = paging_levels();
	d.user_end = d.levels == 5 ? USER_END_5 : USER_END_4;
	e = find_base(prog, &b, &d, ram_end, err, errlen);
	if (e)
		goto out_off;

	/* Two test pages and a third PROT_NONE one. */
	pages = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED) {
		e = -errno;
		errbuf_set(err, errlen, "mmap: %s", strerror(-e));
		goto out_off;
	}
	if (mprotect(pages + 2 * PAGE, PAGE, PROT_NONE)) {
		e = -errno;
		errbuf_set(err, errlen, "mprotect: %s", strerror(-e));
	} else {
		e = check_reads(prog, &b, &d, pages, err, errlen);
	}
	munmap(pages, 3 * PAGE);
	if (e)
		goto out_off;
	/* On: base stays, the calibration's traces go. */
	d.calib_op = 0;
	d.calib_va = 0;
	d.calib_len = 0;
	memset(d.calib_out, 0, sizeof(d.calib_out));
	e = bss_put(&b, &d);
	if (e) {
		errbuf_set(err, errlen, "writing the settings: %s", strerror(-e));
		goto out_off;
	}
	if (base_out)
		*base_out = d.base;
	goto out_free;

out_off:
	/* Off, for sure: the programs must not be attached with a base that failed. */
	memset(&d, 0, sizeof(d));
	if (bss_put(&b, &d)) {
		errbuf_set(err, errlen,
			   "direct-map reads could not be turned off after a failed check");
		e = -ENOTRECOVERABLE;
	}
out_free:
	free(b.buf);
	return e;
}
