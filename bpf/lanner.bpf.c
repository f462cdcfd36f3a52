// SPDX-License-Identifier: Apache-2.0
/*
 * lanner's kernel programs. One classic tracepoint program per captured syscall
 * (tracepoint/syscalls/sys_exit_NAME), attached by the loader only for the syscalls some rule
 * or the state tracker needs (docs/detector.md explains the measured choice), plus
 * sched_process_{exec,exit,fork} for process state. Records (header + blobs, see events.h)
 * are built in place in this CPU's record ring (struct lanner_ring).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "events.h"
#include "dmap.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Knobs, set by the loader before load. */
const volatile __u32 lanner_tgid = 0; /* lanner's own process: never recorded */
const volatile bool drop_failed = false; /* drop syscalls that returned an error */
const volatile bool capture_args = true; /* copy paths, addresses, argv (blobs) */
/* Stamp records with bpf_ktime_get_boot_ns() (~80 ns each here); else the consumer does. */
const volatile bool precise_time = false;
/* Every this many records (a power of two) a CPU wakes the consumer; a timer drains the rest. */
const volatile __u32 wakeup_every = 1024;

/* The global record order (lanner_rec.seq); the loader reads it through the mmapped .bss. */
__u64 lanner_seq = 0;
/* task_pt_regs(t) - t->stack: the same for every task of this kernel, learnt on first use. */
__s64 lanner_regs_off = 0;

/* bpf_rdonly_cast(), a weak kfunc, is declared in dmap.bpf.h. */

/* The record writes of one record reach at most LANNER_REC_MAX + the largest masked blob. */
_Static_assert(LANNER_RING_SLACK > LANNER_REC_MAX + 8191 + 4, "ring slack");
#define OFF_MASK (LANNER_REC_MAX - 1)

/* Each ring's capacity - 1 (a power of two): set by the loader. */
const volatile __u64 ring_mask = (1 << 16) - 1;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LANNER_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lanner_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LANNER_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lanner_stats SEC(".maps");

/*
 * One record ring per possible CPU (struct lanner_ring in an mmapable array): records are
 * built in place, with no copy and no helper call, where a BPF ring buffer costs a reservation
 * (a locked, irq-saving helper) or an output copy per record: ~100 ns here, measured in
 * docs/detector.md. The loader sizes both levels and fills the slots.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(
		values, struct {
			__uint(type, BPF_MAP_TYPE_ARRAY);
			__uint(map_flags, BPF_F_MMAPABLE);
			__uint(max_entries, 1);
			__type(key, __u32);
			/* as declared; the loader creates them at the configured capacity */
			__uint(value_size,
			       sizeof(struct lanner_ring) + (1 << 16) + LANNER_RING_SLACK);
		});
} lanner_rings SEC(".maps");

/* Wakeups only: every wakeup_every-th record of a CPU puts a token here and wakes the poll. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} lanner_wake SEC(".maps");

struct rctx {
	struct task_struct *task; /* current, as a BTF pointer */
	struct lanner_rec *rec;
	__u8 *buf; /* the record's start in the ring */
	struct lanner_ring *ring;
	__u64 head;
	__u32 off;
};

static __always_inline void drop_inc(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lanner_drops, &what);

	if (n)
		*n += 1;
}

/* The current task when its record is to be made, else NULL (lanner itself, a failure). */
static __always_inline struct task_struct *rec_task(__u16 type, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (t->tgid == lanner_tgid)
		return NULL;
	/* A non-blocking connect in progress (-EINPROGRESS) is not a failure. */
	if (drop_failed && type == LANNER_REC_SYSCALL && ret < 0 && ret != -115)
		return NULL;
	return t;
}

/*
 * Fills a record's header from the task.
 *
 * The hot path reads the task through its BTF pointer (direct loads that the JIT turns into
 * single faulting-safe moves) rather than bpf_probe_read_kernel(): each helper call costs
 * 40-60 ns on this machine, and a header needs a dozen fields.
 */
static __always_inline void rec_fill(struct lanner_rec *r, struct task_struct *t, __u16 type,
				     __u16 nr, long ret)
{
	const struct cred *cred;

	/*
	 * Order, not time: a locked add costs ~2 ns (~20 ns when every CPU hammers it) where the
	 * clock helper costs ~80 ns. The consumer turns seq into time between two of its drains.
	 */
	r->seq = __sync_fetch_and_add(&lanner_seq, 1);
	r->ts_ns = precise_time ? bpf_ktime_get_boot_ns() : 0;
	r->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	r->ret = ret;
	r->size = sizeof(*r);
	r->type = type;
	r->nr = nr;
	r->tgid = t->tgid;
	r->tid = t->pid;
	r->ppid = t->real_parent->tgid;
	cred = t->cred;
	r->uid = cred->uid.val;
	r->gid = cred->gid.val;
	r->euid = cred->euid.val;
	r->egid = cred->egid.val;
	if (bpf_core_field_exists(t->loginuid))
		r->loginuid = t->loginuid.val;
	else
		r->loginuid = (__u32)-1;
	r->nblobs = 0;
	r->flags = capture_args ? 0 : LANNER_RF_NO_ARGS;
	/* a syscall record's arguments are written by sys_begin() */
	if (type != LANNER_REC_SYSCALL)
		for (int i = 0; i < 6; i++)
			r->args[i] = 0;
	/* comm as two loads: bpf_get_current_comm() alone costs ~100 ns here. */
	*(__u64 *)&r->comm[0] = *(__u64 *)&t->comm[0];
	*(__u64 *)&r->comm[8] = *(__u64 *)&t->comm[8];
}

/*
 * This CPU's ring with room for a record, marked busy; NULL (and a drop counted) when the
 * record cannot be made.
 */
static __always_inline struct lanner_ring *ring_start(void)
{
	__u32 cpu = bpf_get_smp_processor_id(), zero = 0;
	struct lanner_ring *r;
	void *inner;

	inner = bpf_map_lookup_elem(&lanner_rings, &cpu);
	if (!inner) {
		drop_inc(LANNER_DROP_NO_RINGBUF);
		return NULL;
	}
	r = bpf_map_lookup_elem(inner, &zero);
	if (!r) {
		drop_inc(LANNER_DROP_NO_RINGBUF);
		return NULL;
	}
	/*
	 * Programs of one CPU do not nest (tracepoint programs run with preemption off and the
	 * process tracepoints never fire inside one); should a kernel ever interleave two, the
	 * second one's record is dropped and counted rather than written over the first.
	 */
	if (r->busy) {
		drop_inc(LANNER_DROP_RING_BUSY);
		return NULL;
	}
	/*
	 * Room for the largest record? The consumer's tail is read only when the last value read
	 * says no: its cache line then stays with the consumer's CPU on most records.
	 */
	if (r->head - r->tail_seen > ring_mask + 1 - LANNER_RING_SLACK) {
		r->tail_seen = *(volatile __u64 *)&r->tail;
		if (r->head - r->tail_seen > ring_mask + 1 - LANNER_RING_SLACK) {
			drop_inc(LANNER_DROP_RINGBUF_FULL);
			return NULL;
		}
	}
	r->busy = 1;
	return r;
}

/* Starts a record in this CPU's ring; false when none is to be made. */
static __always_inline bool rec_begin(struct rctx *c, __u16 type, __u16 nr, long ret)
{
	struct task_struct *t = rec_task(type, ret);
	struct lanner_ring *ring;
	struct lanner_rec *r;

	if (!t)
		return false;
	ring = ring_start();
	if (!ring)
		return false;
	c->head = ring->head;
	c->buf = (__u8 *)(ring + 1) + (c->head & ring_mask);
	r = (void *)c->buf;
	rec_fill(r, t, type, nr, ret);
	c->task = t;
	c->rec = r;
	c->ring = ring;
	c->off = sizeof(*r);
	return true;
}

/*
 * The task's saved user registers. bpf_task_pt_regs() is a helper call (~40 ns here); the
 * registers sit at a fixed offset from the task's stack page on x86_64, so after one call has
 * told the offset they are read through an untrusted BTF pointer: plain faulting-safe loads.
 */
static __always_inline struct pt_regs *task_regs(struct task_struct *t)
{
	struct pt_regs *regs;
	__s64 off = lanner_regs_off;

	if (!bpf_ksym_exists(bpf_rdonly_cast) || !off) {
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
		if (bpf_ksym_exists(bpf_rdonly_cast))
			lanner_regs_off =
				(__s64)(unsigned long)regs - (__s64)(unsigned long)t->stack;
		return regs;
	}
	return bpf_rdonly_cast((void *)((unsigned long)t->stack + off),
			       bpf_core_type_id_kernel(struct pt_regs));
}

/* Publishes the record rec_begin() started (every rec_begin() that succeeded ends here). */
static __always_inline int rec_submit(struct rctx *c)
{
	struct lanner_ring *ring = c->ring;
	__u32 size = c->off;
	__u64 token;

	if (size > LANNER_REC_MAX)
		size = LANNER_REC_MAX;
	c->rec->size = size;
	/*
	 * The record's stores before head's: x86 keeps stores in order (this object is built for
	 * x86_64 only), so a compiler barrier is the release the consumer's acquiring load pairs with.
	 */
	asm volatile("" ::: "memory");
	ring->head = c->head + ((size + 7) & ~7u);
	ring->busy = 0;
	/*
	 * No wakeup per record (a wakeup is a self-IPI, microseconds in a VM): every wakeup_every-th
	 * record of a CPU wakes the consumer through lanner_wake; its periodic drain takes the rest.
	 */
	token = ++ring->nrec;
	/* a token that finds lanner_wake full is not needed: the consumer has not drained yet */
	if ((token & (wakeup_every - 1)) == 0)
		bpf_ringbuf_output(&lanner_wake, &token, sizeof(token), BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* Reserves a blob of len payload bytes; returns the payload. */
static __always_inline void *blob_reserve(struct rctx *c, __u8 id, __u16 len)
{
	__u32 o = c->off & OFF_MASK;
	struct lanner_blob *b = (void *)(c->buf + o);

	b->id = id;
	b->flags = 0;
	b->len = len;
	c->off = o + sizeof(*b) + len;
	c->rec->nblobs++;
	return c->buf + o + sizeof(*b);
}

static __always_inline void blob_mark(struct rctx *c, struct lanner_blob *b, long n, long cap)
{
	if (n < 0) {
		b->flags |= LANNER_BF_FAULT;
		c->rec->flags |= LANNER_RF_FAULT;
		drop_inc(LANNER_DROP_READ_FAULT);
	} else if (n >= cap) {
		b->flags |= LANNER_BF_TRUNCATED;
		c->rec->flags |= LANNER_RF_TRUNCATED;
		drop_inc(LANNER_DROP_TRUNCATED);
	}
}

static __always_inline void stat_inc(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lanner_stats, &what);

	if (n)
		*n += 1;
}

/*
 * A NUL-terminated string from user (or kernel) memory. No blob for a NULL pointer; an empty
 * blob with LANNER_BF_FAULT when unreadable.
 */
static __always_inline void blob_str(struct rctx *c, __u8 id, __u64 ptr, bool user)
{
	__u32 o = c->off & OFF_MASK;
	struct lanner_blob *b = (void *)(c->buf + o);
	__u8 flags = 0;
	long n;

	if (!capture_args || !ptr)
		return;
	if (user) {
		n = dmap_str(c->task, c->buf + o + sizeof(*b), ptr);
		/*
		 * Through memory the verifier does not track: n is then any u16 to it, so it walks
		 * the rest of the program once, not once per length the fast copy can return.
		 */
		b->len = n;
		n = *(volatile __u16 *)&b->len;
		if (!n) {
			n = bpf_probe_read_user_str(c->buf + o + sizeof(*b), LANNER_PATH_MAX,
						    (const void *)ptr);
			stat_inc(LANNER_STAT_USER_HELPER);
			flags = LANNER_BF_SLOW;
		}
	} else
		n = bpf_probe_read_kernel_str(c->buf + o + sizeof(*b), LANNER_PATH_MAX,
					      (const void *)ptr);
	b->id = id;
	b->flags = flags;
	/* A full buffer whose last byte is the NUL may be exact; it is still reported cut. */
	blob_mark(c, b, n, LANNER_PATH_MAX);
	if (n < 0)
		n = 0;
	b->len = n;
	c->off = o + sizeof(*b) + (n & (LANNER_PATH_MAX * 2 - 1));
	c->rec->nblobs++;
}

/* Raw user bytes (sockaddr, open_how, clone_args), at most cap. */
static __always_inline void blob_user_raw(struct rctx *c, __u8 id, __u64 ptr, __u64 len, __u32 cap)
{
	__u32 o = c->off & OFF_MASK;
	struct lanner_blob *b = (void *)(c->buf + o);
	__u32 n = len;

	if (!capture_args || !ptr)
		return;
	if (len > cap)
		n = cap;
	/* Keep the bound where the verifier sees it: clang would fold the mask into the clamp. */
	barrier_var(n);
	n &= LANNER_SOCKADDR_MAX * 2 - 1;
	b->id = id;
	b->flags = 0;
	if (n && !dmap_raw(c->task, c->buf + o + sizeof(*b), ptr, n)) {
		stat_inc(LANNER_STAT_USER_HELPER);
		b->flags = LANNER_BF_SLOW;
		if (bpf_probe_read_user(c->buf + o + sizeof(*b), n, (const void *)ptr)) {
			blob_mark(c, b, -1, 0);
			n = 0;
		}
	}
	b->len = n;
	c->off = o + sizeof(*b) + n;
	c->rec->nblobs++;
}

static __always_inline struct file *fd_file(struct task_struct *t, __s64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

/*
 * blob_tuple() on a kernel without bpf_rdonly_cast() (before 6.2): a helper call per field.
 */
static __always_inline void blob_tuple_helper(struct rctx *c, __s64 fd)
{
	struct task_struct *t = c->task;
	struct lanner_sock_tuple *tp;
	struct socket *sock;
	struct file *f;
	struct sock *sk;
	__u16 family;

	if (!capture_args)
		return;
	f = fd_file(t, fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	tp = blob_reserve(c, LANNER_B_TUPLE, sizeof(*tp));
	__builtin_memset(tp, 0, sizeof(*tp));
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	tp->family = family;
	tp->type = BPF_CORE_READ(sk, sk_type);
	tp->protocol = BPF_CORE_READ(sk, sk_protocol);
	tp->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	tp->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	tp->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == 2 /* AF_INET */) {
		bpf_core_read(tp->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(tp->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == 10 /* AF_INET6 */) {
		bpf_core_read(tp->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(tp->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * The socket behind fd, as the kernel holds it (both ends, after connect/accept/bind). The
 * kernel's structures are read with the JIT's faulting-safe loads (BTF pointers, and
 * bpf_rdonly_cast() where the kernel keeps a plain pointer: the fd array, private_data), not
 * with a bpf_probe_read_kernel() per field: 17 helper calls cost ~0.8 us a record here.
 */
static __always_inline void blob_tuple(struct rctx *c, __s64 fd)
{
	struct lanner_sock_tuple *tp;
	struct socket *sock;
	struct file *f;
	struct sock *sk;
	__u16 family;

	if (!capture_args)
		return;
	if (!bpf_ksym_exists(bpf_rdonly_cast)) {
		blob_tuple_helper(c, fd);
		return;
	}
	f = task_fd_file(c->task, fd);
	if (!f || (f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return;
	sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	sk = sock->sk;
	if (!sk)
		return;
	tp = blob_reserve(c, LANNER_B_TUPLE, sizeof(*tp));
	__builtin_memset(tp, 0, sizeof(*tp));
	family = sk->__sk_common.skc_family;
	tp->family = family;
	tp->type = sk->sk_type;
	tp->protocol = sk->sk_protocol;
	tp->state = sk->__sk_common.skc_state;
	tp->lport = sk->__sk_common.skc_num;
	tp->rport = __builtin_bswap16(sk->__sk_common.skc_dport);
	if (family == 2 /* AF_INET */) {
		*(__u32 *)tp->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)tp->raddr = sk->__sk_common.skc_daddr;
	} else if (family == 10 /* AF_INET6 */) {
		for (int i = 0; i < 4; i++) {
			((__u32 *)tp->laddr)[i] =
				sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)tp->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
}

/* Common start of a sys_exit program: header plus the six raw arguments. */
static __always_inline bool sys_begin(struct rctx *c, struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;

	if (!rec_begin(c, LANNER_REC_SYSCALL, ctx->id, ctx->ret))
		return false;
	regs = task_regs(c->task);
	c->rec->args[0] = regs->di;
	c->rec->args[1] = regs->si;
	c->rec->args[2] = regs->dx;
	c->rec->args[3] = regs->r10;
	c->rec->args[4] = regs->r8;
	c->rec->args[5] = regs->r9;
	return true;
}

/* A syscall recorded with its header and raw arguments only (close, dup*, socket, set*id, ...). */
static __always_inline int sys_header_only(struct trace_event_raw_sys_exit *ctx)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	return rec_submit(&c);
}

#define SYS_EXIT(name)                             \
	SEC("tracepoint/syscalls/sys_exit_" #name) \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)

/* Syscalls recorded with their raw arguments only. */
#define SYS_EXIT_ARGS(name)                  \
	SYS_EXIT(name)                       \
	{                                    \
		return sys_header_only(ctx); \
	}

/* Syscalls with one path argument, argument number idx. */
#define SYS_EXIT_PATH(name, idx)                                     \
	SYS_EXIT(name)                                               \
	{                                                            \
		struct rctx c;                                       \
		if (!sys_begin(&c, ctx))                             \
			return 0;                                    \
		blob_str(&c, LANNER_B_PATH, c.rec->args[idx], true); \
		return rec_submit(&c);                               \
	}

/* Syscalls with two path arguments: PATH is argument a, PATH2 argument b. */
#define SYS_EXIT_PATH2(name, a, b)                                  \
	SYS_EXIT(name)                                              \
	{                                                           \
		struct rctx c;                                      \
		if (!sys_begin(&c, ctx))                            \
			return 0;                                   \
		blob_str(&c, LANNER_B_PATH, c.rec->args[a], true);  \
		blob_str(&c, LANNER_B_PATH2, c.rec->args[b], true); \
		return rec_submit(&c);                              \
	}

/* Syscalls on a socket fd (argument 0, or the returned fd): the kernel's socket tuple. */
#define SYS_EXIT_SOCK(name, from_ret)                                          \
	SYS_EXIT(name)                                                         \
	{                                                                      \
		struct rctx c;                                                 \
		if (!sys_begin(&c, ctx))                                       \
			return 0;                                              \
		blob_tuple(&c, from_ret ? c.rec->ret : (__s64)c.rec->args[0]); \
		return rec_submit(&c);                                         \
	}

/* Files and directories. */
SYS_EXIT_PATH(open, 0)
SYS_EXIT_PATH(openat, 1)
SYS_EXIT_PATH(creat, 0)
SYS_EXIT_PATH(unlink, 0)
SYS_EXIT_PATH(unlinkat, 1)
SYS_EXIT_PATH(rmdir, 0)
SYS_EXIT_PATH(mkdir, 0)
SYS_EXIT_PATH(mkdirat, 1)
SYS_EXIT_PATH(chmod, 0)
SYS_EXIT_PATH(fchmodat, 1)
SYS_EXIT_PATH(fchmodat2, 1)
SYS_EXIT_PATH(chdir, 0)
SYS_EXIT_PATH2(symlink, 0, 1)
SYS_EXIT_PATH2(symlinkat, 0, 2)
SYS_EXIT_PATH2(link, 0, 1)
SYS_EXIT_PATH2(linkat, 1, 3)
SYS_EXIT_PATH2(rename, 0, 1)
SYS_EXIT_PATH2(renameat, 1, 3)
SYS_EXIT_PATH2(renameat2, 1, 3)
SYS_EXIT_ARGS(fchmod)
SYS_EXIT_ARGS(fchdir)
SYS_EXIT_ARGS(close)
SYS_EXIT_ARGS(dup)
SYS_EXIT_ARGS(dup2)
SYS_EXIT_ARGS(dup3)

SYS_EXIT(openat2)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_PATH, c.rec->args[1], true);
	blob_user_raw(&c, LANNER_B_RAW, c.rec->args[2], c.rec->args[3], sizeof(struct open_how));
	return rec_submit(&c);
}

/* Only the duplicating commands: fcntl is hot and the others change no state we track. */
SYS_EXIT(fcntl)
{
	__u64 cmd = task_regs(bpf_get_current_task_btf())->si;

	/* the command first: the others cost neither a record nor a seq */
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return 0;
	return sys_header_only(ctx);
}

/*
 * Exec: a successful exec is recorded by sched_process_exec (the new image, its argv and
 * executable); these record the failed attempts, whose arguments are still in user memory.
 */
SYS_EXIT(execve)
{
	struct rctx c;

	if (ctx->ret == 0 || !sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_PATH, c.rec->args[0], true);
	return rec_submit(&c);
}

SYS_EXIT(execveat)
{
	struct rctx c;

	if (ctx->ret == 0 || !sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_PATH, c.rec->args[1], true);
	return rec_submit(&c);
}

/* Network. */
SYS_EXIT_ARGS(socket)
SYS_EXIT_SOCK(listen, false)
SYS_EXIT_SOCK(accept, true)
SYS_EXIT_SOCK(accept4, true)

SYS_EXIT(connect)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_user_raw(&c, LANNER_B_SOCKADDR, c.rec->args[1], c.rec->args[2], LANNER_SOCKADDR_MAX);
	blob_tuple(&c, c.rec->args[0]);
	return rec_submit(&c);
}

SYS_EXIT(bind)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_user_raw(&c, LANNER_B_SOCKADDR, c.rec->args[1], c.rec->args[2], LANNER_SOCKADDR_MAX);
	blob_tuple(&c, c.rec->args[0]);
	return rec_submit(&c);
}

SYS_EXIT(sendto)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_user_raw(&c, LANNER_B_SOCKADDR, c.rec->args[4], c.rec->args[5], LANNER_SOCKADDR_MAX);
	blob_tuple(&c, c.rec->args[0]);
	return rec_submit(&c);
}

SYS_EXIT(sendmsg)
{
	struct user_msghdr mh = {};
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	if (capture_args && !bpf_probe_read_user(&mh, sizeof(mh), (void *)c.rec->args[1]))
		blob_user_raw(&c, LANNER_B_SOCKADDR, (__u64)mh.msg_name, mh.msg_namelen,
			      LANNER_SOCKADDR_MAX);
	blob_tuple(&c, c.rec->args[0]);
	return rec_submit(&c);
}

/* Processes, credentials, namespaces, modules, tracing. */
SYS_EXIT_ARGS(fork)
SYS_EXIT_ARGS(vfork)
SYS_EXIT_ARGS(clone)
SYS_EXIT_ARGS(ptrace)
SYS_EXIT_ARGS(bpf)
SYS_EXIT_ARGS(setns)
SYS_EXIT_ARGS(unshare)
SYS_EXIT_ARGS(setuid)
SYS_EXIT_ARGS(setgid)
SYS_EXIT_ARGS(setreuid)
SYS_EXIT_ARGS(setregid)
SYS_EXIT_ARGS(setresuid)
SYS_EXIT_ARGS(setresgid)
SYS_EXIT_ARGS(setfsuid)
SYS_EXIT_ARGS(setfsgid)

SYS_EXIT(clone3)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_user_raw(&c, LANNER_B_RAW, c.rec->args[0], c.rec->args[1], 64);
	return rec_submit(&c);
}

SYS_EXIT(memfd_create)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_STR, c.rec->args[0], true);
	return rec_submit(&c);
}

SYS_EXIT(init_module)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_STR, c.rec->args[2], true);
	return rec_submit(&c);
}

SYS_EXIT(finit_module)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_STR, c.rec->args[1], true);
	return rec_submit(&c);
}

/* Captured when a rule asks for them (none is in the state set). */
SYS_EXIT_PATH(chown, 0)
SYS_EXIT_PATH(lchown, 0)
SYS_EXIT_PATH(fchownat, 1)
SYS_EXIT_PATH(truncate, 0)
SYS_EXIT_PATH(umount, 0) /* umount2(2): its tracepoint is sys_exit_umount on x86_64 */
SYS_EXIT_ARGS(fchown)
SYS_EXIT_ARGS(ftruncate)
SYS_EXIT_ARGS(kill)
SYS_EXIT_ARGS(tkill)
SYS_EXIT_ARGS(tgkill)
SYS_EXIT_ARGS(prctl)
SYS_EXIT_ARGS(capset)
SYS_EXIT_ARGS(userfaultfd)
SYS_EXIT_ARGS(io_uring_setup)
SYS_EXIT_ARGS(mprotect)
SYS_EXIT_ARGS(mmap)
SYS_EXIT_ARGS(read)
SYS_EXIT_ARGS(write)
SYS_EXIT_ARGS(socketpair)
SYS_EXIT_ARGS(shutdown)
SYS_EXIT_ARGS(open_by_handle_at)
SYS_EXIT_SOCK(recvfrom, false)
SYS_EXIT_SOCK(recvmsg, false)

SYS_EXIT(mount)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_PATH, c.rec->args[0], true); /* dev */
	blob_str(&c, LANNER_B_PATH2, c.rec->args[1], true); /* dir */
	blob_str(&c, LANNER_B_STR, c.rec->args[2], true); /* fstype */
	return rec_submit(&c);
}

SYS_EXIT(delete_module)
{
	struct rctx c;

	if (!sys_begin(&c, ctx))
		return 0;
	blob_str(&c, LANNER_B_STR, c.rec->args[0], true);
	return rec_submit(&c);
}

/* Process state. */

/* Direct loads through BTF pointers throughout: an exec record reads ~30 fields. */
static __always_inline __u32 exe_flags(struct file *f)
{
	struct inode *ino = f->f_inode;
	char name[8] = {};
	__u32 flags = 0;

	bpf_probe_read_kernel_str(name, sizeof(name), f->f_path.dentry->d_name.name);
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	    name[4] == 'd' && name[5] == ':')
		flags |= LANNER_EXE_MEMFD;
	if (ino->i_mode & 0200)
		flags |= LANNER_EXE_WRITABLE;
	if (bpf_core_type_exists(struct ovl_inode) && ino->i_sb->s_magic == OVERLAYFS_SUPER_MAGIC) {
		/* container_of: not expressible as a direct load, so a probe read. */
		struct ovl_inode *oi =
			(void *)((__u8 *)ino - bpf_core_field_offset(struct ovl_inode, vfs_inode));

		if (BPF_CORE_READ(oi, __upperdentry))
			flags |= LANNER_EXE_UPPER_LAYER;
	}
	return flags;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct lanner_exec_info *ei;
	const struct cred *cred;
	struct tty_struct *tty;
	struct signal_struct *sig;
	struct pt_regs *regs;
	struct file *f;
	struct inode *ino;
	unsigned long as, ae;
	struct rctx c;
	__u32 o, n;

	regs = task_regs(t);
	if (!rec_begin(&c, LANNER_REC_PROC_EXEC, regs->orig_ax, 0))
		return 0;

	ei = blob_reserve(&c, LANNER_B_EXEC, sizeof(*ei));
	__builtin_memset(ei, 0, sizeof(*ei));
	cred = t->cred;
	if (bpf_core_field_exists(cred->cap_effective.val)) {
		ei->cap_effective = cred->cap_effective.val;
		ei->cap_permitted = cred->cap_permitted.val;
		ei->cap_inheritable = cred->cap_inheritable.val;
	} else {
		/* Before 6.3 kernel_cap_t was two u32 words: the same 8 bytes. */
		bpf_core_read(&ei->cap_effective, 8, &cred->cap_effective);
		bpf_core_read(&ei->cap_permitted, 8, &cred->cap_permitted);
		bpf_core_read(&ei->cap_inheritable, 8, &cred->cap_inheritable);
	}
	ei->start_ns = t->start_boottime;
	ei->old_pid = old_pid;
	sig = t->signal;
	ei->sid = sig->pids[PIDTYPE_SID]->numbers[0].nr;
	ei->pgid = sig->pids[PIDTYPE_PGID]->numbers[0].nr;
	tty = sig->tty;
	if (tty)
		ei->tty = ((__u32)tty->driver->major << 20) |
			  (tty->driver->minor_start + tty->index);
	f = bprm->file;
	ino = f->f_inode;
	ei->exe_ino = ino->i_ino;
	ei->exe_dev = ino->i_sb->s_dev;
	ei->exe_nlink = ino->i_nlink;
	ei->exe_mode = ino->i_mode;
	ei->exe_flags = exe_flags(f);

	blob_str(&c, LANNER_B_FILENAME, (__u64)bprm->filename, false);

	/* argv as the new image sees it: NUL-separated, between mm->arg_start and arg_end. */
	if (capture_args) {
		as = t->mm->arg_start;
		ae = t->mm->arg_end;
		n = ae > as ? ae - as : 0;
		o = c.off & OFF_MASK;
		struct lanner_blob *b = (void *)(c.buf + o);

		b->id = LANNER_B_ARGV;
		b->flags = 0;
		if (n > LANNER_ARGV_MAX) {
			n = LANNER_ARGV_MAX;
			blob_mark(&c, b, n, n);
		}
		barrier_var(n);
		n &= LANNER_ARGV_MAX * 2 - 1;
		if (n && bpf_probe_read_user(c.buf + o + sizeof(*b), n, (void *)as)) {
			blob_mark(&c, b, -1, 0);
			n = 0;
		}
		b->len = n;
		c.off = o + sizeof(*b) + n;
		c.rec->nblobs++;
	}
	return rec_submit(&c);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p)
{
	struct lanner_exit_info *xi;
	struct rctx c;

	if (!rec_begin(&c, LANNER_REC_PROC_EXIT, 0, 0))
		return 0;
	xi = blob_reserve(&c, LANNER_B_EXIT, sizeof(*xi));
	xi->exit_code = p->exit_code;
	xi->group_dead = p->signal->live.counter == 0;
	c.rec->ret = xi->exit_code;
	return rec_submit(&c);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	struct lanner_fork_info *fi;
	struct rctx c;

	if (!rec_begin(&c, LANNER_REC_PROC_FORK, 0, 0))
		return 0;
	fi = blob_reserve(&c, LANNER_B_FORK, sizeof(*fi));
	fi->child_tgid = child->tgid;
	fi->child_tid = child->pid;
	fi->child_start_ns = child->start_boottime;
	fi->clone_flags_hint = fi->child_tgid == parent->tgid;
	fi->pad = 0;
	return rec_submit(&c);
}

/* Calibration of the direct-map reads (dmap.bpf.h), run by the loader, never attached. */
SEC("raw_tp")
int lanner_dmap_calib(void *ctx)
{
	return dmap_calib();
}
