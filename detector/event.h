/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_EVENT_H
#define LANNER_DETECTOR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/field.h"

/*
 * The decoded syscall event: what the detector's decoders (and `lanner replay`, from JSON lines,
 * see detector/event_json.h) hand to the rules engine through the `syscall` field source
 * (syscall_field_source below, detector/syscall_fields.c).
 *
 * Ownership and lifetime. Everything here is fixed-size or a borrowed pointer: filling an event
 * allocates nothing. Strings are NUL-terminated and borrowed from whoever fills the event (the
 * detector's process/fd/container tables, a decoder's record buffer, a JSON reader's storage);
 * they, and the process, fd, container and k8s structs pointed to, must stay valid and unchanged
 * until the rules engine is done with the event (rules_eval and rules_format on it returned).
 * NULL for a string or a struct pointer means "unknown": the matching fields are missing (a
 * comparison on them is false, outputs show <NA>), never a made-up value. Numbers that can be
 * unknown have a bit in a `valid` mask.
 *
 * Values are raw Linux values (open flags as in <fcntl.h>, ptrace requests, AF_* domains,
 * st_mode bits, errno as a negative res); the field source renders them the way Falco does
 * (evt.arg.flags names, evt.res "SUCCESS"/"ENOENT", ...).
 */

/*
 * Event types: every syscall that the upstream rule files compare evt.type with, the state
 * syscalls of the detector, and Falco's meta events (procexit, container, switch). The code is
 * the index in syscall_event_type_names[]; `evt.type = NAME` compares with that name.
 * X(ENUM_SUFFIX, "name"): append at the end only (codes are recorded in captures by name, but
 * keep them stable anyway).
 */
#define SYSCALL_EVENT_TYPES(X)                    \
	X(UNKNOWN, "unknown")                     \
	X(EXECVE, "execve")                       \
	X(EXECVEAT, "execveat")                   \
	X(CLONE, "clone")                         \
	X(CLONE3, "clone3")                       \
	X(FORK, "fork")                           \
	X(VFORK, "vfork")                         \
	X(PROCEXIT, "procexit")                   \
	X(OPEN, "open")                           \
	X(OPENAT, "openat")                       \
	X(OPENAT2, "openat2")                     \
	X(CREAT, "creat")                         \
	X(OPEN_BY_HANDLE_AT, "open_by_handle_at") \
	X(CLOSE, "close")                         \
	X(DUP, "dup")                             \
	X(DUP2, "dup2")                           \
	X(DUP3, "dup3")                           \
	X(FCNTL, "fcntl")                         \
	X(READ, "read")                           \
	X(WRITE, "write")                         \
	X(SOCKET, "socket")                       \
	X(SOCKETPAIR, "socketpair")               \
	X(CONNECT, "connect")                     \
	X(ACCEPT, "accept")                       \
	X(ACCEPT4, "accept4")                     \
	X(BIND, "bind")                           \
	X(LISTEN, "listen")                       \
	X(SENDTO, "sendto")                       \
	X(SENDMSG, "sendmsg")                     \
	X(RECVFROM, "recvfrom")                   \
	X(RECVMSG, "recvmsg")                     \
	X(SHUTDOWN, "shutdown")                   \
	X(CHDIR, "chdir")                         \
	X(FCHDIR, "fchdir")                       \
	X(MKDIR, "mkdir")                         \
	X(MKDIRAT, "mkdirat")                     \
	X(RMDIR, "rmdir")                         \
	X(UNLINK, "unlink")                       \
	X(UNLINKAT, "unlinkat")                   \
	X(RENAME, "rename")                       \
	X(RENAMEAT, "renameat")                   \
	X(RENAMEAT2, "renameat2")                 \
	X(SYMLINK, "symlink")                     \
	X(SYMLINKAT, "symlinkat")                 \
	X(LINK, "link")                           \
	X(LINKAT, "linkat")                       \
	X(CHMOD, "chmod")                         \
	X(FCHMOD, "fchmod")                       \
	X(FCHMODAT, "fchmodat")                   \
	X(CHOWN, "chown")                         \
	X(FCHOWN, "fchown")                       \
	X(FCHOWNAT, "fchownat")                   \
	X(LCHOWN, "lchown")                       \
	X(TRUNCATE, "truncate")                   \
	X(FTRUNCATE, "ftruncate")                 \
	X(MOUNT, "mount")                         \
	X(UMOUNT, "umount")                       \
	X(UMOUNT2, "umount2")                     \
	X(SETUID, "setuid")                       \
	X(SETGID, "setgid")                       \
	X(SETREUID, "setreuid")                   \
	X(SETREGID, "setregid")                   \
	X(SETRESUID, "setresuid")                 \
	X(SETRESGID, "setresgid")                 \
	X(SETFSUID, "setfsuid")                   \
	X(SETFSGID, "setfsgid")                   \
	X(SETNS, "setns")                         \
	X(UNSHARE, "unshare")                     \
	X(PTRACE, "ptrace")                       \
	X(INIT_MODULE, "init_module")             \
	X(FINIT_MODULE, "finit_module")           \
	X(DELETE_MODULE, "delete_module")         \
	X(BPF, "bpf")                             \
	X(MEMFD_CREATE, "memfd_create")           \
	X(MMAP, "mmap")                           \
	X(MPROTECT, "mprotect")                   \
	X(KILL, "kill")                           \
	X(TKILL, "tkill")                         \
	X(TGKILL, "tgkill")                       \
	X(PRCTL, "prctl")                         \
	X(CAPSET, "capset")                       \
	X(USERFAULTFD, "userfaultfd")             \
	X(IO_URING_SETUP, "io_uring_setup")       \
	X(CONTAINER, "container")                 \
	X(SWITCH, "switch")

enum syscall_event_type {
#define LANNER_EVT_ENUM(e, n) SYSCALL_EVT_##e,
	SYSCALL_EVENT_TYPES(LANNER_EVT_ENUM)
#undef LANNER_EVT_ENUM
		SYSCALL_EVT__COUNT,
};

/* Names indexed by enum syscall_event_type; SYSCALL_EVT__COUNT entries. */
extern const char *const syscall_event_type_names[];

/* Code of a type name ("openat"), or -1 when unknown. */
int syscall_event_type_from_name(const char *name);

/* A socket address: an argument (connect's sockaddr) or one end of an fd's tuple. */
struct event_sockaddr {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX; 0 = none/unknown */
	uint16_t port; /* host byte order */
	uint8_t addr[16]; /* AF_INET: first 4 bytes, network order; AF_INET6: 16 bytes */
	const char *path; /* AF_UNIX path (borrowed), else NULL */
};

/* Which members of struct event_args hold a value (for numbers; strings use NULL). */
enum event_arg_bit {
	EVENT_ARG_FD = 1u << 0, /* fd: the fd operated on (fchmod, connect, close, ...) */
	EVENT_ARG_DIRFD = 1u << 1, /* dirfd / olddirfd / linkdirfd */
	EVENT_ARG_NEWDIRFD = 1u << 2, /* newdirfd (renameat, linkat) */
	EVENT_ARG_FLAGS = 1u << 3,
	EVENT_ARG_MODE = 1u << 4,
	EVENT_ARG_ADDR = 1u << 5, /* sockaddr (connect, bind, sendto, accept's peer) */
	EVENT_ARG_REQUEST = 1u << 6,
	EVENT_ARG_PID = 1u << 7, /* ptrace / kill target pid */
	EVENT_ARG_DOMAIN = 1u << 8, /* socket domain, type, proto together */
	EVENT_ARG_UID = 1u << 9, /* setuid family: uid (ruid/euid/suid for setres*) */
	EVENT_ARG_GID = 1u << 10,
	EVENT_ARG_CMD = 1u << 11, /* bpf cmd, fcntl cmd, prctl option */
	EVENT_ARG_NSTYPE = 1u << 12, /* setns nstype */
	EVENT_ARG_OLDFD = 1u << 13, /* dup*: oldfd; newfd in newfd */
	EVENT_ARG_NEWFD = 1u << 14,
	EVENT_ARG_SIG = 1u << 15,
	EVENT_ARG_SIZE = 1u << 16, /* length of sendto/read/write/init_module */
	EVENT_ARG_BACKLOG = 1u << 17,
	EVENT_ARG_DEV_INO = 1u << 18, /* dev and ino of an opened file */
	EVENT_ARG_DATA = 1u << 19, /* ptrace addr/data */
};

/*
 * Decoded arguments. Which are meaningful depends on the event type; `valid` says which numbers
 * were decoded. Names follow Falco's parameter names so evt.arg.NAME finds them (see the
 * per-type parameter table in syscall_fields.c).
 */
struct event_args {
	uint32_t valid; /* enum event_arg_bit */
	int64_t fd;
	int64_t dirfd; /* dirfd, olddirfd (renameat, linkat), linkdirfd (symlinkat) */
	int64_t newdirfd;
	uint64_t flags; /* raw: open flags, AT_*, MFD_*, RENAME_*, CLONE_*, SOCK_*, mount flags */
	uint32_t mode; /* raw st_mode permission bits (open, creat, chmod, mkdir) */
	uint64_t request; /* ptrace request */
	int64_t pid; /* ptrace / kill target */
	int32_t domain, type, proto; /* socket(2) */
	uint32_t uid, euid, suid; /* setuid: uid; setresuid: ruid in uid, euid, suid */
	uint32_t gid, egid, sgid;
	int64_t cmd; /* bpf cmd, fcntl cmd, prctl option */
	int64_t nstype; /* setns */
	int64_t oldfd, newfd;
	int32_t sig;
	uint64_t size;
	uint32_t backlog;
	uint64_t dev, ino;
	uint64_t addr, data; /* ptrace */
	/* path-like arguments, raw as the program passed them (not resolved against cwd) */
	const char *name; /* open/openat/creat/memfd_create name, unlinkat name, mkdirat path */
	const char *path; /* chdir, rmdir, unlink, mkdir, execve filename, chmod filename */
	const char *target; /* symlink target */
	const char *linkpath; /* symlink linkpath */
	const char *oldpath; /* link, rename */
	const char *newpath;
	const char *fstype; /* mount type; mount's dev in name, dir in path */
	const char *uargs; /* init_module / finit_module parameters */
	struct event_sockaddr sockaddr;
};

/* struct event_process.valid bits for numbers that may be unknown. */
enum event_proc_bit {
	EVENT_PROC_PPID = 1u << 0,
	EVENT_PROC_VPID = 1u << 1,
	EVENT_PROC_SID = 1u << 2,
	EVENT_PROC_VPGID = 1u << 3,
	EVENT_PROC_TTY = 1u << 4,
	EVENT_PROC_UID = 1u << 5, /* uid, gid, euid, egid together */
	EVENT_PROC_LOGINUID = 1u << 6,
	EVENT_PROC_CAPS = 1u << 7, /* cap_effective, cap_permitted, cap_inheritable */
	EVENT_PROC_START = 1u << 8,
	EVENT_PROC_EXE_FLAGS = 1u << 9, /* exe_from_memfd, exe_upper_layer, exe_writable known */
	EVENT_PROC_EXE_INO = 1u << 10, /* exe_ino, exe_ctime, exe_mtime */
	EVENT_PROC_PID = 1u << 11,
	EVENT_PROC_TID = 1u << 12,
};

/*
 * A process (Falco's thread info), as the detector's process table knows it. `parent` links the
 * ancestor chain (NULL when unknown or at init): proc.pname is parent->name, proc.aname[2] is
 * parent->parent->name. The chain must be finite (a table entry never points to itself).
 */
struct event_process {
	uint32_t valid; /* enum event_proc_bit */
	int64_t pid, tid, ppid;
	int64_t vpid, vtid; /* pid/tid in the process's pid namespace */
	int64_t sid; /* session id */
	int64_t vpgid; /* process group id in its pid namespace */
	const char *name; /* comm (proc.name), up to 16 bytes or the exe basename */
	const char *exe; /* argv[0] (proc.exe) */
	const char *exepath; /* full executable path (proc.exepath) */
	const char *const *args; /* argv[1..] (proc.args joins them with spaces) */
	size_t n_args;
	const char *const *env; /* "KEY=VALUE" strings (proc.env); n_env may be 0 */
	size_t n_env;
	const char *cwd; /* proc.cwd, with a trailing '/' as Falco prints it */
	uint32_t tty; /* controlling terminal dev number, 0 = none */
	uint32_t uid, gid, euid, egid;
	uint32_t loginuid; /* (uint32_t)-1 when unset, as the kernel reports it */
	const char *user; /* name of uid, NULL when not resolvable */
	const char *group; /* name of gid */
	const char *loginname; /* name of loginuid */
	const char *homedir, *shell; /* of uid */
	uint64_t cap_effective, cap_permitted, cap_inheritable; /* CAP_* bit masks */
	uint64_t start_ns; /* process start, ns since the epoch */
	bool exe_from_memfd, exe_upper_layer, exe_writable, exe_lower_layer;
	uint64_t exe_ino, exe_ctime_ns, exe_mtime_ns;
	const struct event_process *parent; /* borrowed; NULL when unknown */
};

/* struct event_fd.valid bits. */
enum event_fd_bit {
	EVENT_FD_NUM = 1u << 0,
	EVENT_FD_TUPLE = 1u << 1, /* client/server addresses known */
	EVENT_FD_CONNECTED = 1u << 2, /* `connected` is known */
	EVENT_FD_ROLE = 1u << 3, /* `is_server` is known: which end is local */
	EVENT_FD_INO = 1u << 4,
};

/*
 * The fd an event operates on (the fd a successful open/socket/accept returned, the fd of
 * connect/sendto/dup/...), as the detector's fd table knows it at the event's exit.
 */
struct event_fd {
	uint32_t valid; /* enum event_fd_bit */
	int64_t num;
	/*
	 * Falco's fd.typechar: 'f' file, 'd' directory, '4' IPv4 socket, '6' IPv6 socket, 'u' unix
	 * socket, 'p' pipe, 'e' eventfd, 's' signalfd, 'l' eventpoll, 'i' inotify, 't' timerfd,
	 * 'n' netlink, 'o' unknown/other, 'b' bpf, 'r' userfaultfd, 'm' memfd (shown as 'f' by
	 * Falco: use 'f' with is_memfd), 'c' io_uring. 0 when unknown.
	 */
	char type;
	bool is_memfd;
	/*
	 * fd.name: the absolute path for files and directories; for sockets the tuple
	 * "CIP:CPORT->SIP:SPORT" (IPv6 addresses bare, unix sockets their path), as the fd table
	 * renders it (event_fd_format_tuple() helps).
	 */
	const char *name;
	const char *nameraw; /* the path as the program passed it, before resolution */
	uint8_t l4proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_RAW; 0 unknown */
	struct event_sockaddr client, server;
	bool is_server; /* the local end is the server (accepted/listening) */
	bool connected; /* a connected socket */
	bool name_changed; /* the name changed since creation (connected UDP, bound socket) */
	uint64_t dev, ino;
};

/* Container of the event's thread. container.id is "host" outside any container. */
struct event_container {
	const char *id; /* 12-hex short id as Falco prints it, or "host" */
	const char *full_id;
	const char *name;
	const char *type; /* "docker", "containerd", "cri-o", "podman", "host" */
	const char *image; /* as the runtime reports it: "docker.io/library/nginx:1.25" */
	const char *image_repository; /* "docker.io/library/nginx" */
	const char *image_tag; /* "1.25" */
	const char *image_digest;
	int8_t privileged; /* -1 unknown, 0 no, 1 yes */
	uint64_t start_ns; /* 0 = unknown */
};

/* Kubernetes metadata of the container's pod; absent without API access. */
struct event_k8s {
	const char *pod_name;
	const char *ns_name;
	const char *pod_uid;
	const char *const *label_keys; /* n_labels pairs */
	const char *const *label_values;
	size_t n_labels;
};

/*
 * One decoded syscall (at its exit). `proc` may be NULL only for meta events without a thread;
 * `fd`, `container`, `k8s` are NULL when there is none or it is unknown.
 */
struct syscall_event {
	uint16_t type; /* enum syscall_event_type */
	uint16_t cpu;
	uint64_t num; /* sequence number (evt.num) from 1; 0 = not numbered (missing) */
	uint64_t ts; /* ns since the epoch (CLOCK_REALTIME) */
	int64_t tid; /* thread id (thread.tid) */
	int64_t res; /* return value: >= 0 success (an fd or pid for some), -errno on failure */
	struct event_args args;
	const struct event_process *proc;
	const struct event_fd *fd;
	const struct event_container *container;
	const struct event_k8s *k8s;
};

/* The `syscall` field source: event pointers handed to the engine are struct syscall_event. */
extern const struct field_source syscall_field_source;

/*
 * Render a socket tuple as Falco's fd.name: "10.0.0.1:43210->93.184.216.34:443", IPv6
 * addresses as "::1:80->..." (bare), AF_UNIX as the path. Returns the length written
 * (snprintf semantics: truncated when >= len).
 */
int event_fd_format_tuple(const struct event_sockaddr *client, const struct event_sockaddr *server,
			  char *buf, size_t len);

/*
 * The open flags, ptrace requests, ... by name, for writers and readers of event captures:
 * fills *raw with the raw Linux value of a flag name valid for event type `type` (O_TRUNC for
 * openat, AT_REMOVEDIR for unlinkat, MFD_CLOEXEC for memfd_create, CLONE_NEWNET for unshare,
 * ...). Returns false for an unknown name.
 */
bool syscall_flag_from_name(unsigned type, const char *name, uint64_t *raw);
/*
 * Calls fn for each flag name set in raw `flags` of an event of type `type` (O_RDONLY for an
 * open with access mode 0). Bits without a name are passed as "0x..." strings.
 */
void syscall_flags_foreach(unsigned type, uint64_t flags, void (*fn)(void *ctx, const char *name),
			   void *ctx);

/*
 * Other value names for capture readers and writers. kind: "request" (ptrace requests,
 * PTRACE_ATTACH), "domain" (AF_PACKET), "socktype" (SOCK_RAW), "bpf_cmd" (BPF_PROG_LOAD),
 * "cap" (capability number of CAP_SYS_ADMIN). Returns false for an unknown kind or name; the
 * name lookup returns NULL for a value without a name.
 */
bool syscall_value_from_name(const char *kind, const char *name, int64_t *v);
const char *syscall_value_name(const char *kind, int64_t v);

#endif
