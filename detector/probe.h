/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_PROBE_H
#define LANNER_DETECTOR_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bpf/events.h"

/*
 * The kernel side's loader: opens, configures, loads and attaches lanner's BPF programs
 * (bpf/lanner.bpf.c, one sys_exit tracepoint program per captured syscall plus
 * sched_process_{exec,exit,fork}), and drains the per-CPU ring buffers from a uv_poll (and a
 * uv_timer, see probe_opts.drain_ms) on the caller's loop, handing each raw record
 * (bpf/events.h) to a callback.
 *
 * Threading: a probe belongs to the loop it was created on; call everything from that loop's
 * thread.
 */

#define PROBE_NR_SYSCALLS 512 /* x86_64 syscall numbers are below this */

/* A set of x86_64 syscall numbers: the syscalls whose exits are to be recorded. */
struct probe_set {
	uint64_t bits[PROBE_NR_SYSCALLS / 64];
};

static inline void probe_set_add(struct probe_set *s, int nr)
{
	if (nr >= 0 && nr < PROBE_NR_SYSCALLS)
		s->bits[nr / 64] |= 1ull << (nr % 64);
}

static inline bool probe_set_has(const struct probe_set *s, int nr)
{
	return nr >= 0 && nr < PROBE_NR_SYSCALLS && (s->bits[nr / 64] >> (nr % 64)) & 1;
}

/* x86_64 number of a syscall name ("openat" -> 257), or -ENOENT. "umount" is umount2. */
int probe_syscall_nr(const char *name);

/* Name of an x86_64 syscall number, or NULL. */
const char *probe_syscall_name(int nr);

/* Whether lanner has a kernel program recording this syscall's exit. */
bool probe_syscall_supported(int nr);

/*
 * Adds the syscalls the detector's state tracking needs whatever the rules say (process
 * lifecycle, fd table, cwd, credentials): fork/vfork/clone/clone3, execve/execveat, open family,
 * close, dup family, fcntl, socket, connect, accept/accept4, bind, listen, sendto/sendmsg,
 * chdir/fchdir, setuid/setgid family, memfd_create.
 */
void probe_set_add_state(struct probe_set *s);

/*
 * Called for each record, borrowed for the duration of the call. The record passed the
 * loader's checks: size >= sizeof(struct lanner_rec), rec->size == size, known type, and
 * every blob lies inside the record.
 */
typedef void (*probe_record_fn)(void *ctx, const struct lanner_rec *rec, size_t size);

struct probe_opts {
	uint32_t exclude_tgid; /* never recorded; 0 means this process (getpid()) */
	bool drop_failed; /* drop syscalls that returned an error (-EINPROGRESS is kept) */
	bool no_args; /* record headers only: no paths, addresses, argv */
	/*
	 * Stamp records in the kernel (lanner_rec.ts_ns, bpf_ktime_get_boot_ns: ~80 ns more per
	 * record here). Off: ts_ns is 0 and the consumer dates records from their seq and
	 * probe_seq() samples (see detector.c).
	 */
	bool precise_time;
	/*
	 * Read every user string with bpf_probe_read_user_str(). Off (the default), the loader
	 * turns on the programs' direct-map reads (detector/dmap.h: ~100 ns less per path here)
	 * when its checks pass, and logs why when they do not.
	 */
	bool no_fast_reads;
	uint32_t ringbuf_bytes; /* record ring per CPU, a power of two >= 64 KiB; 0 means 8 MiB */
	/*
	 * The programs wake the loop once every ringbuf_bytes / 1024 records of a CPU, 1024 at
	 * most (a wakeup per record costs microseconds; 64 records for a 64 KiB ring, a quarter of
	 * the 36 KiB it can hold in the smallest records, so a small ring is drained before it
	 * fills); in between the loop drains every drain_ms. 0 means 20 ms.
	 */
	uint32_t drain_ms;
	/*
	 * Leave the records in the rings: the loop's poll and timer only wake it, and the caller
	 * takes them with probe_merge(), in seq order across CPUs, without copying them out.
	 */
	bool hold;
};

struct probe;

/*
 * Loads and attaches the programs for the syscalls in `set` (syscalls without a program, or
 * whose tracepoint this kernel lacks, are skipped with a log line) and starts polling the ring
 * buffers on `loop`. `opts` may be NULL for defaults. On failure returns NULL with errno set and
 * a one-line reason for a human in `err` (when non-NULL): the kernel has no BTF, BPF is refused
 * (EPERM: root or CAP_BPF + CAP_PERFMON are needed), tracefs cannot be mounted, ...
 */
struct probe *probe_new(uv_loop_t *loop, const struct probe_opts *opts, const struct probe_set *set,
			probe_record_fn cb, void *ctx, char *err, size_t errlen);

/*
 * Changes the recorded syscalls at runtime (rules reload): attaches the programs newly in `set`
 * (about 0.1 ms each), detaches those no longer in it. Nothing is reloaded. A detach waits for
 * an RCU grace period (tens of ms), so detaches run in libuv's threadpool: records of a removed
 * syscall may still arrive for a moment. Returns 0 or -errno (attachments that failed stay
 * off; the others are done).
 */
int probe_set_syscalls(struct probe *p, const struct probe_set *set);

/* The syscalls currently recorded (attached). */
void probe_get_syscalls(const struct probe *p, struct probe_set *out);

/*
 * True while detaches run in the threadpool (and syscalls asked for again wait for them); once
 * false, the attached set is what the last probe_set_syscalls asked for.
 */
bool probe_busy(const struct probe *p);

/* Drains all ring buffers now (also done by the uv_poll). Returns records handled or -errno. */
int probe_consume(struct probe *p);

/*
 * Hands every published record with seq below `limit` to cb, in seq order across the CPUs'
 * rings (each ring is in seq order: a CPU's programs never interleave their records), then
 * frees their space; the others stay for a later call. Only what is published when the call
 * starts is handed on, so it ends however fast the programs write. The record is borrowed for
 * the call; cb may change its ts_ns. Returns records handed. For probe_opts.hold; without it
 * the loop drains the rings itself.
 */
size_t probe_merge(struct probe *p, uint64_t limit, probe_record_fn cb, void *ctx);

/* The fullest ring's published, not yet freed bytes, in percent of what it can hold. */
unsigned probe_backlog(const struct probe *p);

/*
 * The kernel's record counter now: every record with seq below it has been started (it is in
 * its ring within microseconds, or lost and counted as a drop).
 */
uint64_t probe_seq(const struct probe *p);

/* Kernel drop counters summed over CPUs, indexed by enum lanner_drop. Returns 0 or -errno. */
int probe_drops(const struct probe *p, uint64_t out[LANNER_DROP_MAX]);

/* The kernel's other counters summed over CPUs, indexed by enum lanner_stat. 0 or -errno. */
int probe_stats(const struct probe *p, uint64_t out[LANNER_STAT_MAX]);

/* True when the programs read user strings through the direct map (probe_opts.no_fast_reads). */
bool probe_fast_reads(const struct probe *p);

/*
 * Kernel run-time statistics of one program ("sys_exit_openat", "sched_exec", "sched_exit",
 * "sched_fork"): cumulative run_time_ns and run_cnt, counted only while bpf_stats are enabled
 * (kernel.bpf_stats_enabled or a BPF_ENABLE_STATS fd). Returns 0, -ENOENT or -errno.
 */
int probe_prog_stats(const struct probe *p, const char *prog, uint64_t *run_ns, uint64_t *run_cnt);

/* Records that failed the loader's checks (counted, skipped). */
uint64_t probe_bad_records(const struct probe *p);

/*
 * Detaches every program (in libuv's threadpool, see probe_set_syscalls) and closes the loop
 * handles; the memory (BPF objects, ring buffers) is released once both are done, so the caller
 * runs the loop afterwards (uv_loop_close then returns 0). No callback runs after this call.
 * Accepts NULL.
 */
void probe_free(struct probe *p);

#endif
