/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The record ABI between lanner's kernel programs (bpf/lanner.bpf.c) and the detector.
 *
 * Every record starts with struct lanner_rec (fixed size, naturally aligned, no pointers),
 * followed by rec.nblobs blobs packed back to back: struct lanner_blob (4 bytes) then
 * blob.len payload bytes, no padding. Payloads are strings (NUL-terminated when complete,
 * blob.len includes the NUL), raw user structures (sockaddr, open_how, clone_args) or the
 * fixed structs below. Readers must bounds-check every blob against rec.size and copy
 * payloads with memcpy (they are not aligned).
 */
#ifndef LANNER_BPF_EVENTS_H
#define LANNER_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LANNER_COMM_LEN 16
#define LANNER_PATH_MAX 4096 /* one path string, NUL included */
#define LANNER_ARGV_MAX 4096 /* exec argv, NUL-separated, all arguments together */
#define LANNER_SOCKADDR_MAX 128
#define LANNER_REC_MAX 16384 /* no record is larger */

enum lanner_rec_type {
	LANNER_REC_SYSCALL = 1, /* a syscall returned: rec.nr, rec.args, rec.ret */
	LANNER_REC_PROC_EXEC = 2, /* sched_process_exec: a successful execve/execveat */
	LANNER_REC_PROC_EXIT = 3, /* sched_process_exit: a thread exited */
	LANNER_REC_PROC_FORK = 4, /* sched_process_fork: a thread or process was created */
};

/* rec.flags */
#define LANNER_RF_TRUNCATED (1u << 0) /* some blob was cut at its cap */
#define LANNER_RF_FAULT (1u << 1) /* some user or kernel read failed */
#define LANNER_RF_NO_ARGS (1u << 2) /* args capture is off: no blobs */

struct lanner_rec {
	/*
	 * Global record order: one counter shared by every CPU, taken as the record is built
	 * (records of different CPUs arrive through different rings, this puts them back in order).
	 */
	__u64 seq;
	/*
	 * bpf_ktime_get_boot_ns() when the loader asked for kernel timestamps (precise_time); else
	 * 0 and the consumer stamps the record (a clock read costs ~80 ns of program time here).
	 */
	__u64 ts_ns;
	__u64 cgroup_id; /* current task's cgroup v2 id */
	__u64 args[6]; /* raw syscall arguments (di si dx r10 r8 r9) for SYSCALL records */
	__s64 ret; /* syscall return value; exit code for PROC_EXIT */
	__u32 size; /* whole record in bytes, header and blobs */
	__u16 type; /* enum lanner_rec_type */
	__u16 nr; /* x86_64 syscall number (SYSCALL, PROC_EXEC) */
	__u32 tgid; /* process id as userspace sees it (init pid namespace) */
	__u32 tid;
	__u32 ppid; /* real parent's tgid */
	__u32 uid, gid, euid, egid;
	__u32 loginuid; /* (u32)-1 when unset */
	__u16 nblobs;
	__u16 flags; /* LANNER_RF_* */
	char comm[LANNER_COMM_LEN];
};

enum lanner_blob_id {
	LANNER_B_PATH = 1, /* first path argument (string) */
	LANNER_B_PATH2 = 2, /* second path argument: rename/link/symlink target side (string) */
	LANNER_B_SOCKADDR = 3, /* raw struct sockaddr from user memory */
	LANNER_B_TUPLE = 4, /* struct lanner_sock_tuple from the kernel socket */
	LANNER_B_ARGV = 5, /* exec argv, NUL-separated */
	LANNER_B_FILENAME = 6, /* exec filename as passed to execve (string) */
	LANNER_B_EXEC = 7, /* struct lanner_exec_info */
	LANNER_B_FORK = 8, /* struct lanner_fork_info */
	LANNER_B_EXIT = 9, /* struct lanner_exit_info */
	LANNER_B_RAW = 10, /* a raw user structure: open_how (openat2), clone_args (clone3) */
	LANNER_B_STR = 11, /* another string argument: module params, memfd name */
};

/* blob.flags */
#define LANNER_BF_TRUNCATED (1u << 0)
#define LANNER_BF_FAULT (1u << 1)
/* a user string or structure read by the BPF helper, not through the direct map (lanner_dmap) */
#define LANNER_BF_SLOW (1u << 2)

struct lanner_blob {
	__u8 id; /* enum lanner_blob_id */
	__u8 flags; /* LANNER_BF_* */
	__u16 len; /* payload bytes that follow */
};

/* Addresses as the socket holds them; ports in host order. */
struct lanner_sock_tuple {
	__u16 family; /* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 type; /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol; /* IPPROTO_* */
	__u16 lport;
	__u16 rport;
	__u16 state; /* skc_state */
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

#define LANNER_EXE_MEMFD (1u << 0) /* executable file is a memfd ("memfd:" dentry) */
#define LANNER_EXE_UPPER_LAYER (1u << 1) /* executable is on an overlayfs upper layer */
#define LANNER_EXE_WRITABLE (1u << 2) /* executable is writable by its owner */

struct lanner_exec_info {
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
	__u64 start_ns; /* task start, boot-based clock */
	__u64 exe_ino;
	__u32 exe_dev; /* superblock s_dev (kernel dev_t: major << 20 | minor) */
	__u32 exe_flags; /* LANNER_EXE_* */
	__u32 tty; /* controlling tty as kernel dev_t, 0 when none */
	__u32 sid; /* session id */
	__u32 pgid;
	__u32 old_pid; /* pid before exec (a non-leader thread's exec) */
	__u32 exe_nlink;
	__u32 exe_mode;
};

struct lanner_fork_info {
	__u64 child_start_ns;
	__u32 child_tgid;
	__u32 child_tid;
	__u32 clone_flags_hint; /* 1: new thread (same tgid), 0: new process */
	__u32 pad;
};

struct lanner_exit_info {
	__u32 exit_code; /* task->exit_code (wait status encoding) */
	__u32 group_dead; /* 1 when the last thread of the process exited */
};

/* Per-CPU drop counters (array map lanner_drops, one __u64 per category per CPU). */
enum lanner_drop {
	LANNER_DROP_RINGBUF_FULL = 0, /* a record was lost: the CPU's ring buffer was full */
	LANNER_DROP_TRUNCATED = 1, /* a string or argv was cut at its cap (record kept) */
	LANNER_DROP_READ_FAULT = 2, /* a user/kernel read failed (record kept, blob empty) */
	LANNER_DROP_NO_RINGBUF = 3, /* no ring buffer for this CPU (record lost) */
	LANNER_DROP_RING_BUSY = 4, /* the CPU's ring was being written by an interrupted program */
	LANNER_DROP_MAX = 5,
};

/* Per-CPU counters that are not drops (array map lanner_stats, one __u64 each per CPU). */
enum lanner_stat {
	/*
	 * a user string or structure was read by the BPF helper: the direct map could not serve
	 * it, or direct-map reads are off (struct lanner_dmap)
	 */
	LANNER_STAT_USER_HELPER = 0,
	LANNER_STAT_MAX = 1,
};

/*
 * Reading user strings through the kernel's direct map (the .bss variable lanner_dmap;
 * bpf/dmap.bpf.h, detector/dmap.h, docs/detector.md).
 *
 * bpf_probe_read_user_str() costs ~165 ns per call on this kind of VM (mitigations on every call
 * and return, hardened-usercopy checks), half of a traced openat. The programs instead walk the
 * current task's page tables with plain faulting-safe loads and read the string where the
 * kernel maps all RAM (the direct map). base is that mapping's start (page_offset_base), which
 * the kernel randomizes and does not export: the loader derives it once from pages whose kernel
 * address lanner_dmap_calib reports (its packet socket's receive ring, run in the loader's
 * context by BPF_PROG_TEST_RUN) and whose physical address /proc/self/pagemap gives, then
 * checks the whole read path on strings of its own before turning it on. base 0 (the default,
 * and whenever anything above fails) means every string is read by the helper, exactly as
 * before. A string the direct map cannot serve (not mapped, not RAM, crossing a page, longer
 * than the fast copy) goes to the helper.
 */
#define LANNER_DMAP_RAM_MAX 8
#define LANNER_DMAP_CALIB_OUT 512

struct lanner_dmap {
	__u64 base; /* the direct map's start; 0: helper reads only */
	__u64 user_end; /* user addresses are below this (TASK_SIZE_MAX) */
	__u64 ram_lo[LANNER_DMAP_RAM_MAX]; /* physical RAM ranges [lo, hi) (/proc/iomem) */
	__u64 ram_hi[LANNER_DMAP_RAM_MAX];
	__u64 ram_end; /* the end of the highest RAM range: page tables lie below */
	__u32 levels; /* page-table levels: 4, or 5 with LA57 */
	__u32 nram;
	/* calibration (lanner_dmap_calib): inputs */
	__u32 calib_op; /* 1: report the addresses below, 2: read the string at calib_va */
	__s32 calib_fd; /* op 1: the loader's packet socket (its receive ring mapped) */
	__u64 calib_va; /* op 2: user address of a test string */
	/* outputs */
	__u64 calib_page[2]; /* op 1: the ring's two blocks, as the kernel addresses them */
	__u64 calib_pgd; /* op 1: the loader's page-table root, the same */
	__s64 calib_len; /* op 2: bytes read with the NUL, 0 when the helper would be used */
	__u8 calib_out[LANNER_DMAP_CALIB_OUT];
};

/*
 * Each CPU's record ring: the one element of an mmapable BPF array map (an inner map of
 * lanner_rings), shared by that CPU's programs (the producer) and the detector (the consumer).
 *
 * data holds capacity bytes (a power of two, the loader's ring_mask + 1) plus LANNER_RING_SLACK.
 * A record starts at data[head & ring_mask], 8-byte aligned, and is contiguous: one that starts
 * near the end runs on into the slack instead of wrapping, so neither side ever splits one.
 * The producer starts a record only when capacity - (head - tail) >= LANNER_RING_SLACK (the
 * most a record's writes reach past its start), writes it, then publishes it by advancing head
 * by its size rounded up to 8; the consumer reads records between tail and head and advances
 * tail. head and tail only grow (bytes ever written / consumed), on separate cache lines.
 */
#define LANNER_RING_SLACK 28672

struct lanner_ring {
	__u64 head; /* producer: published bytes */
	__u64 nrec; /* producer: records (paces the wakeups) */
	__u32 busy; /* producer: a program of this CPU is between start and publish */
	__u32 pad0;
	__u64 tail_seen; /* producer: tail as last read (the consumer's line is read only when
			    this says the ring may be full) */
	__u64 pad1[12];
	__u64 tail; /* consumer: consumed bytes */
	__u64 pad2[15];
	/* __u8 data[capacity + LANNER_RING_SLACK] follows */
};

/* The ABI is these exact sizes on both sides (BPF and x86_64 userspace). */
_Static_assert(sizeof(struct lanner_rec) == 144, "lanner_rec layout");
_Static_assert(sizeof(struct lanner_blob) == 4, "lanner_blob layout");
_Static_assert(sizeof(struct lanner_sock_tuple) == 44, "lanner_sock_tuple layout");
_Static_assert(sizeof(struct lanner_exec_info) == 72, "lanner_exec_info layout");
_Static_assert(sizeof(struct lanner_fork_info) == 24, "lanner_fork_info layout");
_Static_assert(sizeof(struct lanner_exit_info) == 8, "lanner_exit_info layout");
_Static_assert(sizeof(struct lanner_ring) == 256, "lanner_ring layout");

#endif /* LANNER_BPF_EVENTS_H */
