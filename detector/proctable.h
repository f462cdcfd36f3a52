/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_PROCTABLE_H
#define LANNER_DETECTOR_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "detector/container.h"
#include "detector/decode.h"
#include "detector/event.h"
#include "detector/fdtable.h"

/*
 * The detector's process table: one entry per process (tgid), seeded from /proc and kept
 * current by the kernel records (fork, exec, exit, chdir/fchdir, and every record's header:
 * ppid, uids/gids, loginuid, main-thread comm). Each entry has its fd table and container.
 *
 * Bounded: an exited process stays for `exit_grace_ms` (its children's proc.pname, late
 * records) and is then freed; beyond `max_procs` entries the oldest exited ones are freed first
 * and, when none is, new processes are not added (counted in proctable_overflows; their events
 * carry no process). User and group names are resolved once per id (getpwuid_r/getgrgid_r) and
 * cached for the table's life.
 *
 * Pointers into an entry (its event_process, strings) stay valid until the next call that
 * changes the table. Single-threaded: the detector thread owns it.
 */

struct proctable;

struct proc_entry {
	struct event_process p; /* what the rules see; parent is set by proctable_bind */
	struct fdtable *fds;
	struct container_info cont;
	bool cont_known;
	uint64_t cgroup_id; /* record header's cgroup id when the container was read */
	bool exited;
	uint64_t exit_ms; /* monotonic ms of the exit */
	/* owned storage behind p */
	char comm[LANNER_COMM_LEN + 1];
	char *exe, *exepath, *cwd;
	char *argbuf; /* argv[1..] strings */
	const char **argv;
	/* table links */
	struct proc_entry *hnext, *xprev, *xnext;
	uint64_t bind_gen; /* table gen + 1 when proctable_bind last walked the parents */
};

struct proctable_opts {
	size_t max_procs; /* 0: 32768 */
	size_t max_fds; /* per process; 0: 65536 */
	uint32_t exit_grace_ms; /* 0: 5000 */
	int64_t boot_to_epoch; /* decode_boot_to_epoch() */
	const char *proc_root; /* "/proc" unless testing */
};

/* NULL with errno set. opts may be NULL. */
struct proctable *proctable_new(const struct proctable_opts *opts);
void proctable_free(struct proctable *t);

/* Adds every process of /proc. Returns the number added, or -errno. */
int proctable_seed(struct proctable *t);

/*
 * The entry of process `pid`; when absent it is read from /proc (seeded) if the process still
 * exists. NULL when unknown (gone, or the table is full).
 */
struct proc_entry *proctable_get(struct proctable *t, int64_t pid);
/* The entry only if present (no /proc read). */
struct proc_entry *proctable_find(struct proctable *t, int64_t pid);

/*
 * The entry of the record's process, created from /proc or failing that from the header, and
 * refreshed from the header (ppid, ids, loginuid, main thread's comm, container when the cgroup
 * changed). NULL when the table is full.
 */
struct proc_entry *proctable_of_record(struct proctable *t, const struct lanner_rec *rec);

/* sched_process_fork: a new process copies its parent (strings, cwd, fds, container). */
void proctable_fork(struct proctable *t, const struct lanner_rec *rec,
		    const struct lanner_fork_info *f);

/* sched_process_exec: comm, exe, args, exepath, caps, tty, session, exe flags; cloexec fds. */
struct proc_entry *proctable_exec(struct proctable *t, const struct lanner_rec *rec,
				  const struct decode_exec *x);

/* The last thread of the process exited: marked, freed after the grace period. */
void proctable_exit(struct proctable *t, int64_t pid, uint64_t now_ms);

/* Working directory change (chdir to a path resolved against the old cwd, or fchdir's fd). */
void proctable_chdir(struct proctable *t, struct proc_entry *e, const char *dir);

/*
 * Links the ancestor chain of e (p.parent pointers, at most 32 deep, the last NULL) and sets
 * p.tid: call before the rules look at an event of e.
 */
void proctable_bind(struct proctable *t, struct proc_entry *e, int64_t tid);

/* Frees exited entries past their grace period. */
void proctable_gc(struct proctable *t, uint64_t now_ms);

size_t proctable_count(const struct proctable *t);
uint64_t proctable_overflows(const struct proctable *t);

/* Name of a user/group id (cached), or NULL. */
const char *proctable_user_name(struct proctable *t, uint32_t uid);
const char *proctable_group_name(struct proctable *t, uint32_t gid);

/* Monotonic milliseconds, the clock of exit_ms and proctable_gc. */
uint64_t proctable_now_ms(void);

#endif
