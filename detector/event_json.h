/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_EVENT_JSON_H
#define LANNER_DETECTOR_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "detector/event.h"

/*
 * The JSON-lines form of decoded syscall events: what `lanner --capture FILE` writes and
 * `lanner replay FILE` reads back. One JSON object per line; blank lines and lines starting
 * with '#' are ignored. Every key but "type" is optional: what is absent is unknown (missing
 * for the rules), never zero. Example (wrapped here, one line in a file):
 *
 *   {"type":"openat","num":12,"ts":1746622234502309868,"cpu":1,"tid":4242,"res":3,
 *    "args":{"fd":3,"dirfd":-100,"name":"/etc/shadow","flags":["O_RDONLY","O_CLOEXEC"],"mode":0},
 *    "proc":{"pid":4242,"ppid":4100,"vpid":4242,"sid":4100,"name":"cat","exe":"cat",
 *            "exepath":"/usr/bin/cat","args":["/etc/shadow"],"cwd":"/root/","tty":34820,
 *            "uid":0,"gid":0,"euid":0,"egid":0,"loginuid":-1,"user":"root","group":"root",
 *            "cap_effective":["CAP_CHOWN","CAP_SYS_ADMIN"],"start_ts":1746622234000000000,
 *            "exe_from_memfd":false,
 *            "ancestors":[{"pid":4100,"name":"bash","exe":"-bash","exepath":"/usr/bin/bash"},
 *                         {"pid":1,"name":"systemd"}]},
 *    "fd":{"num":3,"type":"f","name":"/etc/shadow"},
 *    "container":{"id":"host"},
 *    "k8s":{"pod_name":"web-1","ns_name":"prod","labels":{"app":"web"}}}
 *
 * Keys:
 *  - top: type (syscall name, required), num, ts (ns since the epoch), cpu, tid, res (return
 *    value, -errno on failure), args, proc, fd, container, k8s.
 *  - args: fd, dirfd, newdirfd, oldfd, newfd, pid, sig, size, backlog, dev, ino, nstype, cmd,
 *    addr, data (ptrace), mode, uid, euid, suid, gid, egid, sgid: integers; request (ptrace),
 *    domain, type (socket), cmd (bpf): integer or name ("PTRACE_ATTACH", "AF_PACKET",
 *    "SOCK_RAW", "BPF_PROG_LOAD"); proto: integer; flags: integer (raw) or array of names valid
 *    for the event type ("O_WRONLY", "AT_REMOVEDIR", "MFD_CLOEXEC", "CLONE_NEWNET", ...);
 *    name, path, target, linkpath, oldpath, newpath, fstype, uargs: strings; sockaddr:
 *    {"ip":"198.51.100.7","port":443} or {"path":"/run/x.sock"}.
 *  - proc (and each element of proc.ancestors, parent first, without ancestors of its own):
 *    pid, tid, ppid, vpid, vtid, sid, vpgid, tty, uid, gid, euid, egid, loginuid (-1 or
 *    4294967295 when unset), start_ts, exe_ino, exe_ctime, exe_mtime: integers; name, exe,
 *    exepath, cwd, user, group, loginname, homedir, shell: strings; args, env: arrays of
 *    strings; cap_effective, cap_permitted, cap_inheritable: integer mask or array of CAP_*
 *    names; exe_from_memfd, exe_upper_layer, exe_lower_layer, exe_writable: booleans.
 *  - fd: num, dev, ino: integers; type: one character ("f", "d", "4", "6", "u", "p", ...);
 *    name, nameraw: strings; l4proto: "tcp", "udp", "icmp", "raw"; client, server:
 *    {"ip":..,"port":..} or {"path":..}; is_server, connected, name_changed, memfd: booleans.
 *  - container: id, full_id, name, type, image, image_repository, image_tag, image_digest:
 *    strings; privileged: boolean; start_ts: integer.
 *  - k8s: pod_name, ns_name, pod_uid: strings; labels: object of strings.
 */

struct event_reader;

/* Called for each bad line: line number (1-based) and reason. */
typedef void (*event_reader_report_fn)(void *ctx, unsigned long line, const char *msg);

/*
 * A reader owns the storage of the event it last decoded (a jansson tree and reusable vectors)
 * and reuses it: the event returned by event_reader_parse / event_reader_next, and all it points
 * to, stays valid until the next call on the same reader or its free. NULL with errno set.
 */
struct event_reader *event_reader_new(void);
void event_reader_free(struct event_reader *r);

/* Reports go to stderr as "NAME:LINE: bad event: MSG" until set (name may be NULL). */
void event_reader_set_reporter(struct event_reader *r, event_reader_report_fn fn, void *ctx);
void event_reader_set_name(struct event_reader *r, const char *name);

/*
 * Decode one line (without its newline; need not be NUL-terminated). Returns 0 and sets *ev,
 * 1 for a blank or comment line (no event), -EINVAL for a bad line (*err filled when non-NULL,
 * nothing reported), -ENOMEM.
 */
int event_reader_parse(struct event_reader *r, const char *line, size_t len,
		       const struct syscall_event **ev, char *err, size_t errlen);

/*
 * Read lines from f until one decodes: returns 1 and sets *ev, 0 at end of file, -errno on a
 * read error or ENOMEM. Bad lines are reported (with their line number), counted and skipped.
 */
int event_reader_next(struct event_reader *r, FILE *f, const struct syscall_event **ev);
unsigned long event_reader_lines(const struct event_reader *r); /* lines read so far */
unsigned long event_reader_bad_lines(const struct event_reader *r); /* bad lines so far */

/*
 * Process references. The ancestors of every event repeat what earlier events said, so a
 * capture written through an event_writer says each process once: a process object carrying
 * "id": N (0 <= N < 2^20) defines N, and a later {"ref": N} (in the event's "proc", with its
 * "ancestors" beside it, or in an ancestors element) stands for the object last defined as N,
 * earlier in the file or earlier in the same line. Ids are reused: a new definition replaces
 * the old one. A ref to an id not defined before is a bad line. Files without ids and refs
 * (hand-written, or from event_json_dump) read as before.
 */
struct event_writer;

/* A writer appending to f (borrowed). NULL with errno set. */
struct event_writer *event_writer_new(FILE *f);
void event_writer_free(struct event_writer *w);
/* Append one event and a newline: 0 or -errno (after an error every process is written in
 * full again). */
int event_writer_write(struct event_writer *w, const struct syscall_event *e);

/*
 * Writer: the JSON object of one event (compact, one line, no newline). Caller frees. NULL with
 * errno set. event_json_fwrite appends it and a newline to f: 0 or -errno.
 */
char *event_json_dump(const struct syscall_event *e);
int event_json_fwrite(const struct syscall_event *e, FILE *f);

#endif
