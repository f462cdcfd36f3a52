// SPDX-License-Identifier: Apache-2.0
/*
 * Floors for the attach-method benchmark: empty programs attached each way lanner could attach,
 * plus the dispatcher's early-return path (one array lookup keyed by the syscall number), and
 * the floor of the detector's fixed workload (tests/bench/detector/bench_detector_floor.c: the
 * empty per-syscall program on every tracepoint lanner attaches, the empty sched_process_*).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u8);
} bench_interesting SEC(".maps");

__u64 dispatched;

SEC("tp_btf/sys_exit")
int BPF_PROG(empty_tp_btf, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("raw_tp/sys_exit")
int empty_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int empty_tp_openat(void *ctx)
{
	return 0;
}

/* The dispatcher's cost for a syscall it does not want: read the number, look it up, return. */
SEC("tp_btf/sys_exit")
int BPF_PROG(dispatch_tp_btf, struct pt_regs *regs, long ret)
{
	u32 nr = (u32)regs->orig_ax;
	u8 *on = bpf_map_lookup_elem(&bench_interesting, &nr);

	if (!on || !*on)
		return 0;
	__sync_fetch_and_add(&dispatched, 1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(empty_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

/* With empty_exec, the process-event floor of the detector's fixed workload. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(empty_exit, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(empty_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}
