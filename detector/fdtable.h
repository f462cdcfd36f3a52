/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_FDTABLE_H
#define LANNER_DETECTOR_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detector/event.h"

/*
 * One process' open file descriptors as the detector knows them (fd.* fields): an open
 * addressing hash keyed by fd number. Entries own their name; the event_fd returned by get/set
 * is valid until the next set/dup/del/clone on the same table (a set may rehash). Bounded:
 * beyond `max` entries a set fails and is counted (fdtable_overflows). Single-threaded.
 */

struct fdtable;

/* NULL with errno set. max 0 means 65536. */
struct fdtable *fdtable_new(size_t max);
void fdtable_free(struct fdtable *t); /* accepts NULL */
/* A copy (fork). NULL with errno set. */
struct fdtable *fdtable_clone(const struct fdtable *t);

struct event_fd *fdtable_get(struct fdtable *t, int64_t num);

/*
 * Inserts or replaces fd `num` with a copy of *tmpl (num and valid's EVENT_FD_NUM set here) and
 * its name copied (tmpl->name; a unix socket's path in tmpl->server.path/client.path is stored
 * as the name and pointed to). cloexec: the fd goes away at exec. Returns the entry, or NULL
 * (ENOSPC: table full, counted; ENOMEM).
 */
struct event_fd *fdtable_set(struct fdtable *t, int64_t num, const struct event_fd *tmpl,
			     bool cloexec);

/* Changes an entry's name (connect, bind): 0 or -ENOENT / -ENOMEM. */
int fdtable_rename(struct fdtable *t, int64_t num, const char *name);

/* newfd becomes a copy of oldfd (dup family, F_DUPFD). 0, -ENOENT (oldfd unknown), -ENOSPC. */
int fdtable_dup(struct fdtable *t, int64_t oldfd, int64_t newfd, bool cloexec);

void fdtable_del(struct fdtable *t, int64_t num);

/* Removes the close-on-exec entries (a successful execve). */
void fdtable_exec(struct fdtable *t);

/*
 * Forgets every entry and gives the slots' memory back (the process exited: its fds are
 * closed). The table stays usable.
 */
void fdtable_clear(struct fdtable *t);

size_t fdtable_count(const struct fdtable *t);
uint64_t fdtable_overflows(const struct fdtable *t);

/*
 * Learns fd `num` of process `pid` from /proc/PID/fd/NUM (an fd opened before the detector
 * started): files get their path ('f' or 'd'), pipes, anon inodes and sockets their type char.
 * Returns the entry, or NULL with errno set (the process or fd is gone, table full).
 */
struct event_fd *fdtable_learn(struct fdtable *t, int pid, int64_t num);

/*
 * Joins `path` to directory `base` (when path is relative and base non-NULL) and normalizes the
 * result ("//", "/./" and "/x/../" removed, ".." at the root stays at the root), as Falco
 * renders fd.name. Writes at most len bytes (NUL included). Returns the length, or -ENAMETOOLONG
 * / -EINVAL (relative path without base).
 */
int fd_path_resolve(const char *base, const char *path, char *out, size_t len);

#endif
