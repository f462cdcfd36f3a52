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
#define PT_PKEY 0x7800000000000000ULL /* a protection key: the helper may be refused */
#define PT_ADDR 0x000ffffffffff000ULL
#define PT_USER_OK(e) (((e) & (PT_PRESENT | PT_USER)) == (PT_PRESENT | PT_USER))
#define SZ_2M (1ULL << 21)
#define SZ_1G (1ULL << 30)

/* The entry for va in the table at direct-map address tab; *at: the entry's address. */
static __always_inline __u64 pt_load(__u64 tab, __u64 va, int shift, __u64 *at)
{
	*at = tab + ((va >> shift) & 511) * 8;
	return kload((const void *)*at);
}

/*
 * The direct-map address of the table entry e points to; 0 unless e is a present user entry
 * whose table lies in RAM (an encryption bit or a torn entry would point elsewhere).
 */
static __always_inline __u64 pt_down(__u64 e, __u64 base)
{
	if (!PT_USER_OK(e) || (e & PT_ADDR) >= lanner_dmap.ram_end)
		return 0;
	return base + (e & PT_ADDR);
}

/* Where a walk ended: the leaf entry, to be read again once the copy is done. */
struct dmap_leaf {
	__u64 at; /* the entry's direct-map address */
	__u64 val; /* its value */
	__u64 room; /* bytes from the physical address to the end of its RAM range */
};

/*
 * The physical address user address va maps to in t's page tables, 0 unless it is a present
 * user page of RAM (the ranges the loader read from /proc/iomem) that the helper could read
 * too (no PFN mapping, no protection key). The same walk the MMU does, on x86_64 4- or 5-level
 * tables, with 1 GiB and 2 MiB pages.
 */
static __always_inline __u64 dmap_phys(struct task_struct *t, __u64 va, __u64 base,
				       struct dmap_leaf *leaf)
{
	struct lanner_dmap *d = &lanner_dmap;
	__u64 e, tab, phys, at;

	tab = kload(&t->mm->pgd); /* a direct-map address itself */
	if (!tab)
		return 0;
	if (d->levels == 5) {
		tab = pt_down(pt_load(tab, va, 48, &at), base);
		if (!tab)
			return 0;
	}
	tab = pt_down(pt_load(tab, va, 39, &at), base);
	if (!tab)
		return 0;
	e = pt_load(tab, va, 30, &at);
	if (PT_USER_OK(e) && (e & PT_HUGE)) {
		phys = (e & PT_ADDR & ~(SZ_1G - 1)) | (va & (SZ_1G - 1));
	} else {
		tab = pt_down(e, base);
		if (!tab)
			return 0;
		e = pt_load(tab, va, 21, &at);
		if (PT_USER_OK(e) && (e & PT_HUGE)) {
			phys = (e & PT_ADDR & ~(SZ_2M - 1)) | (va & (SZ_2M - 1));
		} else {
			tab = pt_down(e, base);
			if (!tab)
				return 0;
			e = pt_load(tab, va, 12, &at);
			phys = (e & PT_ADDR) | (va & 4095);
		}
	}
	if (!PT_USER_OK(e) || (e & (PT_SPECIAL | PT_PKEY)))
		return 0;
	leaf->at = at;
	leaf->val = e;
	for (int i = 0; i < LANNER_DMAP_RAM_MAX; i++)
		if (i < d->nram && phys >= d->ram_lo[i] && phys < d->ram_hi[i]) {
			leaf->room = d->ram_hi[i] - phys;
			return phys;
		}
	return 0;
}

/*
 * True while the leaf entry still holds what the walk read: the page was mapped there for the
 * whole copy (a page is freed only after its entry is cleared), so the copy read that page and
 * not one freed and reused meanwhile, which the helper could not have read either.
 */
static __always_inline bool dmap_still(const struct dmap_leaf *leaf)
{
	return kload((const void *)leaf->at) == leaf->val;
}

/*
 * Where a fast read of user address va starts: its direct-map address, with *left the bytes
 * that may be read from there (to the end of its 4 KiB page and of its RAM range: ranges need
 * not end on a page); 0 when the helper must read it (fast reads off, not a user address, not
 * plain RAM).
 */
static __always_inline __u64 dmap_src(struct task_struct *t, __u64 va, struct dmap_leaf *leaf,
				      __u64 *left)
{
	__u64 base = lanner_dmap.base, phys;

	if (!bpf_ksym_exists(bpf_rdonly_cast) || !base || va >= lanner_dmap.user_end)
		return 0;
	phys = dmap_phys(t, va, base, leaf);
	if (!phys)
		return 0;
	*left = 4096 - (phys & 4095);
	if (leaf->room < *left)
		*left = leaf->room;
	return base + phys;
}

/* The fast copy's longest string: 255 bytes and the NUL (longer ones go to the helper). */
#define DMAP_WORDS 32
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Copies the NUL-terminated string at user address va into dst through the direct map, 8 bytes
 * at a time; returns its length with the NUL, or 0 when the helper must read it (dmap_src()
 * says no, a first word of zeros: an empty string or a page gone from the direct map, a string
 * longer than DMAP_WORDS words, or one that does not end inside its 4 KiB page). The copy stays inside one 4 KiB page, whose first load (non-zero)
 * proved it mapped: no later load can fault and read as zeros. Bytes after the NUL in its
 * word are cleared, so dst holds exactly what the helper would have written up to the NUL.
 * Like the helper, it reads the string as it is when the syscall returns.
 */
static __always_inline long dmap_str(struct task_struct *t, __u8 *dst, __u64 va)
{
	struct dmap_leaf leaf;
	__u64 src, left = 0, w, m, k;

	src = dmap_src(t, va, &leaf, &left);
	if (!src)
		return 0;
	for (int i = 0; i < DMAP_WORDS; i++) {
		__u64 real = ~0ULL; /* the bytes of w that are the string's */

		if ((__u64)(i + 1) * 8 <= left) {
			w = kload((const void *)(src + i * 8));
		} else {
			/*
			 * The page's last 1-7 bytes: the word that ends with the page (its first
			 * bytes are already copied), shifted down; the zeros shifted in are not NULs.
			 */
			__u64 rem = left - (__u64)i * 8;

			if (left < 8 || !rem || rem > 7)
				return 0;
			w = kload((const void *)(src + left - 8)) >> ((8 - rem) * 8);
			real = (1ULL << (rem * 8)) - 1;
		}
		if (!w && !i)
			return 0;
		/*
		 * The lowest flagged byte is the first NUL (bytes above it may be flagged wrongly).
		 * Branch-free from here: its index k and the mask of the k bytes before it.
		 */
		m = (w - ONES) & ~w & HIGHS & real;
		if (!m && real != ~0ULL)
			return 0; /* the string goes on into the next page */
		if (m) {
			m = ((m & -m) >> 7) - 1;
			k = ((m & ONES) * ONES) >> 56;
			*(__u64 *)(dst + i * 8) = w & m;
			return dmap_still(&leaf) ? i * 8 + k + 1 : 0;
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
	struct dmap_leaf leaf;
	__u64 src, left = 0, w;

	if (!len || len > LANNER_SOCKADDR_MAX)
		return false;
	src = dmap_src(t, va, &leaf, &left);
	if (!src || ((len + 7) & ~7u) > left)
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
	return dmap_still(&leaf);
}

/*
 * The file behind fd in t's fd table, or NULL: the kernel's own loads (the fd array is a plain
 * pointer: read with kload() and cast).
 */
static __always_inline struct file *task_fd_file(struct task_struct *t, __s64 fd)
{
	struct fdtable *fdt = t->files->fdt;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	return bpf_rdonly_cast((void *)kload((const void *)((__u64)fdt->fd + fd * 8)),
			       bpf_core_type_id_kernel(struct file));
}

/*
 * The calibration program's body (lanner_dmap_calib, SEC("raw_tp")), run by the loader in its
 * own context through BPF_PROG_TEST_RUN, never attached. It reads no memory but the kernel
 * structures it is pointed at.
 *
 * calib_op 1: calib_fd is the loader's packet socket, whose receive ring it has mapped. The
 * kernel allocates the ring's blocks with __get_free_pages() and addresses them through the
 * direct map (packet_sock.rx_ring.pg_vec[i].buffer); pagemap gives the loader their physical
 * addresses: the difference is the direct map's start. Both blocks and the page-table root
 * (which lives in the direct map too) are reported, so the loader can check they agree.
 *
 * calib_op 2: the fast read of the string at calib_va, as the syscall programs do it, for the
 * loader to compare with what it wrote.
 */
static __always_inline int dmap_calib(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct lanner_dmap *d = &lanner_dmap;
	struct packet_sock *po;
	struct socket *sock;
	struct pgv *pgv;
	struct file *f;

	if (!bpf_ksym_exists(bpf_rdonly_cast))
		return 0;
	if (d->calib_op == 1) {
		d->calib_page[0] = d->calib_page[1] = 0;
		d->calib_pgd = kload(&t->mm->pgd);
		f = task_fd_file(t, d->calib_fd);
		if (!f)
			return 0;
		sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
		po = bpf_rdonly_cast(sock->sk, bpf_core_type_id_kernel(struct packet_sock));
		pgv = po->rx_ring.pg_vec;
		if (!pgv)
			return 0;
		d->calib_page[0] = kload(&pgv[0].buffer);
		d->calib_page[1] = kload(&pgv[1].buffer);
	} else if (d->calib_op == 2) {
		d->calib_len = dmap_str(t, d->calib_out, d->calib_va);
	}
	return 0;
}

#endif /* LANNER_BPF_DMAP_BPF_H */
