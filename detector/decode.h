/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_DECODE_H
#define LANNER_DETECTOR_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bpf/events.h"
#include "detector/event.h"

/*
 * Decoders from the kernel programs' raw records (bpf/events.h, as probe.c hands them over) to
 * the decoded event of detector/event.h. They allocate nothing: strings in the results point
 * into the record (borrowed, valid as long as the record is), and every length is checked
 * against the record's size, so a record the loader did not check is safe too.
 */

/*
 * Payload of the first blob `id` of a record, its length in *len and its LANNER_BF_* flags in
 * *flags (either may be NULL); NULL when the record has no such blob or is malformed.
 */
const void *decode_blob(const struct lanner_rec *rec, size_t size, unsigned id, size_t *len,
			unsigned *flags);

/*
 * The string blob `id`, NUL-terminated inside the record, or NULL (absent, unreadable in the
 * kernel, or not terminated).
 */
const char *decode_str(const struct lanner_rec *rec, size_t size, unsigned id);

/*
 * What to add to a record's ts_ns (CLOCK_BOOTTIME) for ns since the epoch: CLOCK_REALTIME -
 * CLOCK_BOOTTIME now. Sample it at start and again when the wall clock may have been set.
 */
int64_t decode_boot_to_epoch(void);

/*
 * Fills *ev from a SYSCALL, PROC_EXEC (an execve/execveat exit, res 0) or PROC_EXIT (procexit,
 * res = exit status) record: type, ts, tid, res and the arguments Falco names for that type
 * (args.valid says which numbers are set; path strings are as the program passed them, not
 * resolved). proc, fd, container and k8s are left NULL and num, cpu 0: the detector's tables
 * fill them. Returns 0; -ENOENT for a record that is no event of its own (PROC_FORK, a syscall
 * without an event type); -EINVAL for a malformed record.
 */
int decode_event(const struct lanner_rec *rec, size_t size, int64_t boot_to_epoch,
		 struct syscall_event *ev);

/*
 * A raw struct sockaddr (AF_INET, AF_INET6, AF_UNIX) as an event address; a unix path is
 * borrowed from `sa` and only set when NUL-terminated there (abstract names are not). Returns
 * false for another family or a short address.
 */
bool decode_sockaddr(const void *sa, size_t len, struct event_sockaddr *out);

/*
 * The two ends of a kernel socket tuple: the local end is the server for an accepted or
 * listening socket (local_is_server), the client otherwise (connect, sendto).
 */
void decode_tuple(const struct lanner_sock_tuple *t, bool local_is_server,
		  struct event_sockaddr *client, struct event_sockaddr *server);

/* A PROC_EXEC record's process data, for the process table. */
struct decode_exec {
	const char *filename; /* as passed to execve (NULL when unreadable) */
	const char *argv; /* argv[0] NUL argv[1] NUL ...; argv_len bytes, may be cut */
	size_t argv_len;
	bool argv_truncated; /* the last argument may be cut */
	struct lanner_exec_info info;
};

/* Returns 0, or -EINVAL when rec is no well-formed PROC_EXEC record. */
int decode_exec(const struct lanner_rec *rec, size_t size, struct decode_exec *out);

/* PROC_FORK and PROC_EXIT payloads. Return 0 or -EINVAL. */
int decode_fork(const struct lanner_rec *rec, size_t size, struct lanner_fork_info *out);
int decode_exit(const struct lanner_rec *rec, size_t size, struct lanner_exit_info *out);

/*
 * Zeroes n bytes through the C library's memset. GCC turns a constant-size memset of a few
 * hundred bytes (the decoded event, an fd template) into an inline `rep stos`, which took ~100
 * cycles per call on this machine's CPU (AMD EPYC, in a VM: 5-8% of the detector's CPU under
 * load, by perf annotate) where the library's vector stores take a few. explicit_bzero is
 * never inlined nor elided.
 */
static inline void decode_zero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

#endif
