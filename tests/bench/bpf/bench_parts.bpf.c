// SPDX-License-Identifier: Apache-2.0
/*
 * Where a record's program time goes: each program below does one more piece of what lanner's
 * sys_exit_openat does (or an alternative to a piece), all attached the same way
 * (tracepoint/syscalls/sys_exit_openat), one at a time, by bench_bpf_parts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "events.h"
#include "dmap.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct scratch {
	__u8 buf[8192];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} parts_scratch SEC(".maps");

/* One ring buffer per CPU, as lanner's; the runner creates and drains them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(
		values, struct {
			__uint(type, BPF_MAP_TYPE_RINGBUF);
			__uint(max_entries, 1 << 20);
		});
} parts_rbs SEC(".maps");

__u64 parts_sink, parts_seq;
__s64 parts_regs_off;

static __always_inline struct pt_regs *regs_cast(struct task_struct *t)
{
	struct pt_regs *r;

	if (!parts_regs_off) {
		r = (struct pt_regs *)bpf_task_pt_regs(t);
		parts_regs_off = (__s64)(unsigned long)r - (__s64)(unsigned long)t->stack;
	}
	return bpf_rdonly_cast((void *)((unsigned long)t->stack + parts_regs_off),
			       bpf_core_type_id_kernel(struct pt_regs));
}

#define PART(name)                                 \
	SEC("tracepoint/syscalls/sys_exit_openat") \
	int name(struct trace_event_raw_sys_exit *ctx)

PART(p00_empty)
{
	return 0;
}

PART(p01_current_task)
{
	parts_sink = bpf_get_current_task_btf()->tgid;
	return 0;
}

PART(p02_ktime_boot)
{
	parts_sink = bpf_ktime_get_boot_ns();
	return 0;
}

PART(p03_seq_atomic)
{
	parts_sink = __sync_fetch_and_add(&parts_seq, 1);
	return 0;
}

PART(p04_task_pt_regs)
{
	parts_sink = ((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()))->si;
	return 0;
}

PART(p05_regs_rdonly_cast)
{
	parts_sink = regs_cast(bpf_get_current_task_btf())->si;
	return 0;
}

PART(p06_header_loads)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);
	__u32 *h;

	if (!s)
		return 0;
	h = (__u32 *)s->buf;
	h[0] = t->tgid;
	h[1] = t->pid;
	h[2] = t->real_parent->tgid;
	h[3] = t->cred->uid.val;
	h[4] = t->cred->euid.val;
	h[5] = t->loginuid.val;
	h[6] = t->cgroups->dfl_cgrp->kn->id;
	*(__u64 *)&h[8] = *(__u64 *)&t->comm[0];
	return 0;
}

PART(p07_user_str_path)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);

	if (!s)
		return 0;
	parts_sink = bpf_probe_read_user_str(s->buf, 4096, (void *)regs_cast(t)->si);
	return 0;
}

PART(p08_user_fixed_16)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);

	if (!s)
		return 0;
	parts_sink = bpf_probe_read_user(s->buf, 16, (void *)regs_cast(t)->si);
	return 0;
}

PART(p09_kernel_str_comm)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);

	if (!s)
		return 0;
	parts_sink = bpf_probe_read_kernel_str(s->buf, 64, t->comm);
	return 0;
}

PART(p10_ringbuf_output_192)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);
	void *rb = bpf_map_lookup_elem(&parts_rbs, &cpu);

	if (!s || !rb)
		return 0;
	bpf_ringbuf_output(rb, s->buf, 192, BPF_RB_NO_WAKEUP);
	return 0;
}

PART(p11_ringbuf_reserve_submit_192)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *rb = bpf_map_lookup_elem(&parts_rbs, &cpu);
	__u64 *r;

	if (!rb)
		return 0;
	r = bpf_ringbuf_reserve(rb, 192, 0);
	if (!r)
		return 0;
	r[0] = 1;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

PART(p12_user_fixed_16_stack)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 b[2];

	parts_sink = bpf_probe_read_user(b, 16, (void *)regs_cast(t)->si);
	parts_sink += b[0];
	return 0;
}

PART(p13_kernel_fixed_16)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);

	if (!s)
		return 0;
	parts_sink = bpf_probe_read_kernel(s->buf, 16, t->comm);
	return 0;
}

PART(p14_user_str_stack_64)
{
	struct task_struct *t = bpf_get_current_task_btf();
	char b[64];

	parts_sink = bpf_probe_read_user_str(b, sizeof(b), (void *)regs_cast(t)->si);
	parts_sink += b[0];
	return 0;
}

PART(p15_user_str_scratch_64)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&parts_scratch, &zero);

	if (!s)
		return 0;
	parts_sink = bpf_probe_read_user_str(s->buf, 64, (void *)regs_cast(t)->si);
	return 0;
}

/* An own per-CPU ring in an mmapable array (one element per CPU): head/tail, records in place. */
#define PR_CAP (1u << 20)
#define PR_SLACK 28672
struct pring {
	__u64 head;
	__u64 pad0[7];
	__u64 tail;
	__u64 pad1[7];
	__u8 data[PR_CAP + PR_SLACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pring);
} parts_pring SEC(".maps");

__u64 parts_full;

PART(p16_own_ring_192)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pring *r = bpf_map_lookup_elem(&parts_pring, &cpu);
	__u64 head, *w;

	if (!r)
		return 0;
	head = r->head;
	if (head - *(volatile __u64 *)&r->tail > PR_CAP - PR_SLACK)
		parts_full++;
	w = (__u64 *)(r->data + (head & (PR_CAP - 1)));
	for (int i = 0; i < 24; i++)
		w[i] = i;
	asm volatile("" ::: "memory");
	r->head = head + 192;
	r->tail = head + 192;
	return 0;
}

/*
 * A record in the own ring: 144 header bytes, then the path read by the helper, or through
 * the direct map first when fast (dmap_str(), dmap.bpf.h).
 */
static __always_inline int own_ring_path(bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 cpu = bpf_get_smp_processor_id();
	struct pring *r = bpf_map_lookup_elem(&parts_pring, &cpu);
	__u64 head, *w;
	long n = 0;

	if (!r)
		return 0;
	head = r->head;
	if (head - *(volatile __u64 *)&r->tail > PR_CAP - PR_SLACK)
		parts_full++;
	w = (__u64 *)(r->data + (head & (PR_CAP - 1)));
	for (int i = 0; i < 18; i++)
		w[i] = i;
	if (fast)
		n = dmap_str(t, (__u8 *)&w[18], regs_cast(t)->si);
	if (!n)
		n = bpf_probe_read_user_str(&w[18], 4096, (void *)regs_cast(t)->si);
	if (n < 0)
		n = 0;
	r->head = head + 144 + ((n + 7) & ~7);
	r->tail = r->head;
	return 0;
}

PART(p17_own_ring_path)
{
	return own_ring_path(false);
}

/* The direct-map reads (dmap.bpf.h), piece by piece; bench_bpf_parts turns them on first. */
PART(p18_dmap_walk)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct dmap_leaf leaf;

	parts_sink = dmap_phys(t, regs_cast(t)->si, lanner_dmap.base, &leaf);
	return 0;
}

PART(p19_dmap_root_4_loads)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pgd = kload(&t->mm->pgd);

	parts_sink = kload((void *)pgd) + kload((void *)(pgd + 8)) + kload((void *)(pgd + 16)) +
		     kload((void *)(pgd + 24));
	return 0;
}

PART(p20_own_ring_dmap_path)
{
	return own_ring_path(true);
}

/* Turns the direct-map reads on (bench_bpf_parts runs it as lanner's loader does). */
SEC("raw_tp")
int lanner_dmap_calib(void *ctx)
{
	return dmap_calib();
}
