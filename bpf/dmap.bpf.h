/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading user strings through the kernel's direct map instead of bpf_probe_read_user_str()
 * (events.h, struct lanner_dmap, says why and how the loader turns it on). Included by the
 * programs that read user strings: bpf/lanner.bpf.c and the benchmark's parts.
 */
#ifndef LANNER_BPF_DMAP_BPF_H
#define LANNER_BPF_DMAP_BPF_H

/* A kfunc (Linux 6.2+); weak: on a kernel without it every string goes to the helper. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#ifndef bpf_ksym_exists /* libbpf >= 1.2 has it */
#define bpf_ksym_exists(sym) (!!(sym))
#endif

/* Written by the loader (detector/dmap.c) before anything is attached. */
struct lanner_dmap lanner_dmap = {};

/*
 * An 8-byte load from a kernel address, 0 when it faults: bpf_rdonly_cast() (inlined to a move)
 * makes the address an untrusted pointer to a kernel struct with an unsigned long at offset 0,
 * whose load the JIT emits as one faulting-safe move. No helper call.
 */
static __always_inline __u64 kload(const void *addr)
{
	return ((struct pt_regs *)bpf_rdonly_cast(addr, bpf_core_type_id_kernel(struct pt_regs)))
		->r15;
}

#define PT_PRESENT 0x1ULL
#define PT_USER 0x4ULL
#define PT_HUGE 0x80ULL
#define PT_SPECIAL 0x200ULL /* a PFN mapping (device memory, /dev/mem): no struct page */
#define PT_ADDR 0x000ffffffffff000ULL
#define PT_USER_OK(e) (((e) & (PT_PRESENT | PT_USER)) == (PT_PRESENT | PT_USER))
#define SZ_2M (1ULL << 21)
#define SZ_1G (1ULL << 30)

/* One page-table entry: table is the entry's table's direct-map address. */
static __always_inline __u64 pt_entry(__u64 table, __u64 va, int shift)
{
	return kload((const void *)(table + ((va >> shift) & 511) * 8));
}

/*
 * The physical address user address va maps to in t's page tables, 0 unless it is a present
 * user page of RAM (the ranges the loader read from /proc/iomem); *room: the bytes from there
 * to the end of its RAM range. The same walk the MMU does, on x86_64 4- or 5-level tables,
 * with 1 GiB and 2 MiB pages.
 */
static __always_inline __u64 dmap_phys(struct task_struct *t, __u64 va, __u64 base, __u64 *room)
{
	struct lanner_dmap *d = &lanner_dmap;
	__u64 e, tab, phys;

	tab = kload(&t->mm->pgd); /* a direct-map address itself */
	if (!tab)
		return 0;
	if (d->levels == 5) {
		e = pt_entry(tab, va, 48);
		if (!PT_USER_OK(e))
			return 0;
		tab = base + (e & PT_ADDR);
	}
	e = pt_entry(tab, va, 39);
	if (!PT_USER_OK(e))
		return 0;
	e = pt_entry(base + (e & PT_ADDR), va, 30);
	if (!PT_USER_OK(e))
		return 0;
	if (e & PT_HUGE) {
		phys = (e & PT_ADDR & ~(SZ_1G - 1)) | (va & (SZ_1G - 1));
	} else {
		e = pt_entry(base + (e & PT_ADDR), va, 21);
		if (!PT_USER_OK(e))
			return 0;
		if (e & PT_HUGE) {
			phys = (e & PT_ADDR & ~(SZ_2M - 1)) | (va & (SZ_2M - 1));
		} else {
			e = pt_entry(base + (e & PT_ADDR), va, 12);
			if (!PT_USER_OK(e) || (e & PT_SPECIAL))
				return 0;
			phys = (e & PT_ADDR) | (va & 4095);
		}
	}
	for (int i = 0; i < LANNER_DMAP_RAM_MAX; i++)
		if (i < d->nram && phys >= d->ram_lo[i] && phys < d->ram_hi[i]) {
			*room = d->ram_hi[i] - phys;
			return phys;
		}
	return 0;
}

/* The fast copy's longest string: 255 bytes and the NUL (longer ones go to the helper). */
#define DMAP_WORDS 32
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Copies the NUL-terminated string at user address va into dst through the direct map, 8 bytes
 * at a time; returns its length with the NUL, or 0 when the helper must read it (fast reads
 * off, not plain RAM, an empty string, one longer than DMAP_WORDS words, or one that does not
 * end inside its 4 KiB page). The copy stays inside one 4 KiB page, whose first load (non-zero)
 * proved it mapped: no later load can fault and read as zeros. Bytes after the NUL in its
 * word are cleared, so dst holds exactly what the helper would have written up to the NUL.
 * Like the helper, it reads the string as it is when the syscall returns.
 */
static __always_inline long dmap_str(struct task_struct *t, __u8 *dst, __u64 va)
{
	__u64 base = lanner_dmap.base, phys, src, left, room = 0, w, m, k;

	if (!bpf_ksym_exists(bpf_rdonly_cast) || !base || va >= lanner_dmap.user_end)
		return 0;
	phys = dmap_phys(t, va, base, &room);
	if (!phys)
		return 0;
	src = base + phys;
	/* inside its 4 KiB page and its RAM range (ranges need not end on a page) */
	left = 4096 - (phys & 4095);
	if (room < left)
		left = room;
	for (int i = 0; i < DMAP_WORDS; i++) {
		if ((__u64)(i + 1) * 8 > left)
			return 0;
		w = kload((const void *)(src + i * 8));
		if (!w && !i)
			return 0;
		/*
		 * The lowest flagged byte is the first NUL (bytes above it may be flagged wrongly).
		 * Branch-free from here: its index k and the mask of the k bytes before it.
		 */
		m = (w - ONES) & ~w & HIGHS;
		if (m) {
			m = ((m & -m) >> 7) - 1;
			k = ((m & ONES) * ONES) >> 56;
			*(__u64 *)(dst + i * 8) = w & m;
			return i * 8 + k + 1;
		}
		*(__u64 *)(dst + i * 8) = w;
	}
	return 0;
}

/*
 * Copies len raw user bytes (a sockaddr, at most LANNER_SOCKADDR_MAX) at va into dst through the
 * direct map; false when the helper must: as for dmap_str(), plus when the bytes, rounded up to
 * whole words, do not fit in the page, or the first word reads as zeros (a fault cannot be
 * told from zeros otherwise). dst's bytes past len up to the next word are zeroed.
 */
static __always_inline bool dmap_raw(struct task_struct *t, __u8 *dst, __u64 va, __u32 len)
{
	__u64 base = lanner_dmap.base, phys, src, left, room = 0, w;

	if (!bpf_ksym_exists(bpf_rdonly_cast) || !base || va >= lanner_dmap.user_end || !len ||
	    len > LANNER_SOCKADDR_MAX)
		return false;
	phys = dmap_phys(t, va, base, &room);
	if (!phys)
		return false;
	src = base + phys;
	left = 4096 - (phys & 4095);
	if (room < left)
		left = room;
	if (((len + 7) & ~7u) > left)
		return false;
	for (int i = 0; i < LANNER_SOCKADDR_MAX / 8; i++) {
		if (i * 8 >= len)
			break;
		w = kload((const void *)(src + i * 8));
		if (!w && !i)
			return false;
		if ((i + 1) * 8 > len)
			w &= (1ULL << ((len - i * 8) * 8)) - 1;
		*(__u64 *)(dst + i * 8) = w;
	}
	return true;
}

/*
 * The calibration program's body (lanner_dmap_calib, SEC("raw_tp")), run by the loader in its
 * own context through BPF_PROG_TEST_RUN, never attached.
 *
 * calib_op 1: the direct map starts at a 1 GiB boundary (the kernel randomizes it in 1 GiB
 * steps) at or below the address of this task's page-table root, which lives in it, and at
 * most RAM's size below it; the candidate whose mapping of calib_phys holds the loader's
 * 16-byte random nonce is it. Candidates are tried from the lowest up, never below where the
 * kernel's direct-map region can start (calib_lo), and the first match stops the search: every
 * address read is then below the real start plus calib_phys, i.e. either in the unmapped gap
 * before the direct map or in the direct map itself, which maps RAM only. Nothing above the
 * direct map is ever touched. A load that finds nothing mapped faults harmlessly and reads 0.
 *
 * calib_op 2: the fast read of the string at calib_va, as the syscall programs do it, for the
 * loader to compare with what it wrote.
 */
struct dmap_search {
	__u64 lowest; /* the first candidate */
	__u64 top; /* the last: the page-table root's 1 GiB boundary */
};

/* bpf_loop() callback: candidate k; 1 stops the loop (found, or past the last). */
static long dmap_try(__u64 k, void *ctx)
{
	struct dmap_search *s = ctx;
	struct lanner_dmap *d = &lanner_dmap;
	__u64 cand = s->lowest + k * SZ_1G;

	if (cand > s->top)
		return 1;
	if (kload((const void *)(cand + d->calib_phys)) != d->calib_nonce[0] ||
	    kload((const void *)(cand + d->calib_phys + 8)) != d->calib_nonce[1])
		return 0;
	d->base = cand;
	return 1;
}

static __always_inline int dmap_calib(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct lanner_dmap *d = &lanner_dmap;
	struct dmap_search s;
	__u64 below;

	if (!bpf_ksym_exists(bpf_rdonly_cast))
		return 0;
	if (d->calib_op == 1) {
		d->base = 0;
		s.top = kload(&t->mm->pgd) & ~(SZ_1G - 1);
		if (s.top < d->calib_lo || !d->calib_kmax)
			return 0;
		below = (__u64)(d->calib_kmax - 1) * SZ_1G;
		s.lowest = s.top - below < d->calib_lo ? d->calib_lo : s.top - below;
		/* calib_lo is 1 GiB-aligned: every candidate is too */
		bpf_loop(d->calib_kmax, dmap_try, &s, 0);
	} else if (d->calib_op == 2) {
		d->calib_len = dmap_str(t, d->calib_out, d->calib_va);
	}
	return 0;
}

#endif /* LANNER_BPF_DMAP_BPF_H */
