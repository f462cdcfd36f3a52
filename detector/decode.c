// SPDX-License-Identifier: Apache-2.0
/*
 * Raw kernel records (bpf/events.h) to decoded events (detector/event.h). See decode.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>

#include "detector/decode.h"
#include "detector/probe.h"

const void *decode_blob(const struct lanner_rec *rec, size_t size, unsigned id, size_t *len,
			unsigned *flags)
{
	size_t off = sizeof(*rec);

	if (size < sizeof(*rec) || rec->size > size)
		return NULL;
	size = rec->size;
	for (unsigned i = 0; i < rec->nblobs; i++) {
		struct lanner_blob b;

		if (size - off < sizeof(b))
			return NULL;
		memcpy(&b, (const char *)rec + off, sizeof(b));
		off += sizeof(b);
		if (size - off < b.len)
			return NULL;
		if (b.id == id) {
			if (len)
				*len = b.len;
			if (flags)
				*flags = b.flags;
			return (const char *)rec + off;
		}
		off += b.len;
	}
	return NULL;
}

const char *decode_str(const struct lanner_rec *rec, size_t size, unsigned id)
{
	size_t len = 0;
	const char *s = decode_blob(rec, size, id, &len, NULL);

	if (!s || !len || s[len - 1] != '\0')
		return NULL;
	return s;
}

int64_t decode_boot_to_epoch(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return (int64_t)(rt.tv_sec - bt.tv_sec) * 1000000000 + (rt.tv_nsec - bt.tv_nsec);
}

/* x86_64 syscall number -> event type, built once from the two name tables. */
static int16_t nr_type[PROBE_NR_SYSCALLS];
static pthread_once_t nr_type_once = PTHREAD_ONCE_INIT;

static void nr_type_init(void)
{
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++) {
		const char *name = probe_syscall_name(nr);

		nr_type[nr] = name ? (int16_t)syscall_event_type_from_name(name) : -1;
	}
}

static int type_of(int nr)
{
	pthread_once(&nr_type_once, nr_type_init);
	return nr >= 0 && nr < PROBE_NR_SYSCALLS ? nr_type[nr] : -1;
}

bool decode_sockaddr(const void *sa, size_t len, struct event_sockaddr *out)
{
	sa_family_t family;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(family))
		return false;
	memcpy(&family, sa, sizeof(family));
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		out->family = AF_INET;
		out->port = ntohs(in.sin_port);
		memcpy(out->addr, &in.sin_addr, 4);
		return true;
	}
	if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		out->family = AF_INET6;
		out->port = ntohs(in6.sin6_port);
		memcpy(out->addr, &in6.sin6_addr, 16);
		return true;
	}
	if (family == AF_UNIX) {
		const char *path = (const char *)sa + offsetof(struct sockaddr_un, sun_path);
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		out->family = AF_UNIX;
		if (len > offsetof(struct sockaddr_un, sun_path) && path[0] && memchr(path, 0, n))
			out->path = path;
		return true;
	}
	return false;
}

void decode_tuple(const struct lanner_sock_tuple *t, bool local_is_server,
		  struct event_sockaddr *client, struct event_sockaddr *server)
{
	struct event_sockaddr *local = local_is_server ? server : client;
	struct event_sockaddr *remote = local_is_server ? client : server;
	size_t alen = t->family == AF_INET6 ? 16 : 4;

	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	if (t->family != AF_INET && t->family != AF_INET6) {
		local->family = remote->family = t->family;
		return;
	}
	local->family = remote->family = t->family;
	local->port = t->lport;
	remote->port = t->rport;
	memcpy(local->addr, t->laddr, alen);
	memcpy(remote->addr, t->raddr, alen);
}

/* The sockaddr argument, else the kernel tuple's remote end (accept's peer). */
static void set_addr(const struct lanner_rec *r, size_t size, struct event_args *a, bool from_tuple)
{
	struct lanner_sock_tuple t;
	struct event_sockaddr client, server;
	const void *p;
	size_t len = 0;

	p = decode_blob(r, size, LANNER_B_SOCKADDR, &len, NULL);
	if (p && decode_sockaddr(p, len, &a->sockaddr)) {
		a->valid |= EVENT_ARG_ADDR;
		return;
	}
	p = decode_blob(r, size, LANNER_B_TUPLE, &len, NULL);
	if (!from_tuple || !p || len < sizeof(t))
		return;
	memcpy(&t, p, sizeof(t));
	decode_tuple(&t, true, &client, &server);
	if (client.family == AF_INET || client.family == AF_INET6) {
		a->sockaddr = client;
		a->valid |= EVENT_ARG_ADDR;
	}
}

static void set_fd(struct event_args *a, int64_t fd)
{
	a->fd = (int32_t)fd;
	a->valid |= EVENT_ARG_FD;
}

static void set_dirfd(struct event_args *a, int64_t fd)
{
	a->dirfd = (int32_t)fd; /* AT_FDCWD and fds are ints */
	a->valid |= EVENT_ARG_DIRFD;
}

static void set_flags(struct event_args *a, uint64_t flags)
{
	a->flags = flags;
	a->valid |= EVENT_ARG_FLAGS;
}

static void set_mode(struct event_args *a, uint64_t mode)
{
	a->mode = (uint32_t)mode;
	a->valid |= EVENT_ARG_MODE;
}

/* The first 8 bytes of a raw user structure (open_how.flags, clone_args.flags). */
static bool raw_u64(const struct lanner_rec *r, size_t size, size_t at, uint64_t *v)
{
	size_t len = 0;
	const char *p = decode_blob(r, size, LANNER_B_RAW, &len, NULL);

	if (!p || len < at + sizeof(*v))
		return false;
	memcpy(v, p + at, sizeof(*v));
	return true;
}

/* Arguments by event type, with Falco's parameter meaning (see syscall_fields.c). */
static void decode_args(const struct lanner_rec *r, size_t size, unsigned type,
			struct event_args *a)
{
	const __u64 *x = r->args;
	const char *p1 = decode_str(r, size, LANNER_B_PATH);
	const char *p2 = decode_str(r, size, LANNER_B_PATH2);
	const char *str = decode_str(r, size, LANNER_B_STR);
	uint64_t v;

	switch (type) {
	case SYSCALL_EVT_OPEN:
		a->name = p1;
		set_flags(a, x[1]);
		set_mode(a, x[2]);
		break;
	case SYSCALL_EVT_OPENAT:
		set_dirfd(a, (int)x[0]);
		a->name = p1;
		set_flags(a, x[2]);
		set_mode(a, x[3]);
		break;
	case SYSCALL_EVT_OPENAT2:
		set_dirfd(a, (int)x[0]);
		a->name = p1;
		if (raw_u64(r, size, 0, &v))
			set_flags(a, v);
		if (raw_u64(r, size, 8, &v))
			set_mode(a, v);
		break;
	case SYSCALL_EVT_CREAT:
		a->name = p1;
		set_flags(a, O_CREAT | O_WRONLY | O_TRUNC);
		set_mode(a, x[1]);
		break;
	case SYSCALL_EVT_OPEN_BY_HANDLE_AT:
		set_dirfd(a, (int)x[0]);
		set_flags(a, x[2]);
		break;
	case SYSCALL_EVT_EXECVE:
		a->path = p1;
		break;
	case SYSCALL_EVT_EXECVEAT:
		set_dirfd(a, (int)x[0]);
		a->path = p1;
		set_flags(a, x[4]);
		break;
	case SYSCALL_EVT_CLONE:
		set_flags(a, x[0]);
		break;
	case SYSCALL_EVT_CLONE3:
		if (raw_u64(r, size, 0, &v))
			set_flags(a, v);
		break;
	case SYSCALL_EVT_CLOSE:
	case SYSCALL_EVT_FCHDIR:
	case SYSCALL_EVT_FTRUNCATE:
	case SYSCALL_EVT_SHUTDOWN:
		set_fd(a, (int)x[0]);
		break;
	case SYSCALL_EVT_DUP:
		a->oldfd = (int)x[0];
		a->valid |= EVENT_ARG_OLDFD;
		break;
	case SYSCALL_EVT_DUP2:
	case SYSCALL_EVT_DUP3:
		a->oldfd = (int)x[0];
		a->newfd = (int)x[1];
		a->valid |= EVENT_ARG_OLDFD | EVENT_ARG_NEWFD;
		if (type == SYSCALL_EVT_DUP3)
			set_flags(a, x[2]);
		break;
	case SYSCALL_EVT_FCNTL:
		set_fd(a, (int)x[0]);
		a->cmd = (int)x[1];
		a->valid |= EVENT_ARG_CMD;
		break;
	case SYSCALL_EVT_READ:
	case SYSCALL_EVT_WRITE:
	case SYSCALL_EVT_SENDTO:
	case SYSCALL_EVT_RECVFROM:
		set_fd(a, (int)x[0]);
		a->size = x[2];
		a->valid |= EVENT_ARG_SIZE;
		if (type == SYSCALL_EVT_SENDTO || type == SYSCALL_EVT_RECVFROM)
			set_addr(r, size, a, false);
		break;
	case SYSCALL_EVT_SENDMSG:
	case SYSCALL_EVT_RECVMSG:
		set_fd(a, (int)x[0]);
		set_addr(r, size, a, false);
		break;
	case SYSCALL_EVT_SOCKET:
	case SYSCALL_EVT_SOCKETPAIR:
		a->domain = (int)x[0];
		a->type = (int)x[1];
		a->proto = (int)x[2];
		a->valid |= EVENT_ARG_DOMAIN;
		break;
	case SYSCALL_EVT_CONNECT:
	case SYSCALL_EVT_BIND:
		set_fd(a, (int)x[0]);
		set_addr(r, size, a, false);
		break;
	case SYSCALL_EVT_ACCEPT:
	case SYSCALL_EVT_ACCEPT4:
		/* Falco's accept "fd" is the new connection's; the peer comes from its tuple. */
		if (r->ret >= 0)
			set_fd(a, r->ret);
		if (type == SYSCALL_EVT_ACCEPT4)
			set_flags(a, x[3]);
		set_addr(r, size, a, true);
		break;
	case SYSCALL_EVT_LISTEN:
		set_fd(a, (int)x[0]);
		a->backlog = (uint32_t)x[1];
		a->valid |= EVENT_ARG_BACKLOG;
		break;
	case SYSCALL_EVT_CHDIR:
	case SYSCALL_EVT_RMDIR:
	case SYSCALL_EVT_UNLINK:
	case SYSCALL_EVT_TRUNCATE:
		a->path = p1;
		break;
	case SYSCALL_EVT_MKDIR:
		a->path = p1;
		set_mode(a, x[1]);
		break;
	case SYSCALL_EVT_MKDIRAT:
		set_dirfd(a, (int)x[0]);
		a->path = p1;
		set_mode(a, x[2]);
		break;
	case SYSCALL_EVT_UNLINKAT:
		set_dirfd(a, (int)x[0]);
		a->name = p1;
		set_flags(a, x[2]);
		break;
	case SYSCALL_EVT_RENAME:
	case SYSCALL_EVT_LINK:
		a->oldpath = p1;
		a->newpath = p2;
		break;
	case SYSCALL_EVT_RENAMEAT:
	case SYSCALL_EVT_RENAMEAT2:
	case SYSCALL_EVT_LINKAT:
		set_dirfd(a, (int)x[0]);
		a->oldpath = p1;
		a->newdirfd = (int)x[2];
		a->valid |= EVENT_ARG_NEWDIRFD;
		a->newpath = p2;
		if (type != SYSCALL_EVT_RENAMEAT)
			set_flags(a, x[4]);
		break;
	case SYSCALL_EVT_SYMLINK:
		a->target = p1;
		a->linkpath = p2;
		break;
	case SYSCALL_EVT_SYMLINKAT:
		a->target = p1;
		set_dirfd(a, (int)x[1]);
		a->linkpath = p2;
		break;
	case SYSCALL_EVT_CHMOD:
		a->path = p1;
		set_mode(a, x[1]);
		break;
	case SYSCALL_EVT_FCHMOD:
		set_fd(a, (int)x[0]);
		set_mode(a, x[1]);
		break;
	case SYSCALL_EVT_FCHMODAT:
		set_dirfd(a, (int)x[0]);
		a->path = p1;
		set_mode(a, x[2]);
		break;
	case SYSCALL_EVT_CHOWN:
	case SYSCALL_EVT_LCHOWN:
		a->path = p1;
		a->uid = (uint32_t)x[1];
		a->gid = (uint32_t)x[2];
		a->valid |= EVENT_ARG_UID | EVENT_ARG_GID;
		break;
	case SYSCALL_EVT_FCHOWN:
		set_fd(a, (int)x[0]);
		a->uid = (uint32_t)x[1];
		a->gid = (uint32_t)x[2];
		a->valid |= EVENT_ARG_UID | EVENT_ARG_GID;
		break;
	case SYSCALL_EVT_FCHOWNAT:
		set_dirfd(a, (int)x[0]);
		a->path = p1;
		a->uid = (uint32_t)x[2];
		a->gid = (uint32_t)x[3];
		a->valid |= EVENT_ARG_UID | EVENT_ARG_GID;
		set_flags(a, x[4]);
		break;
	case SYSCALL_EVT_MOUNT:
		a->name = p1; /* dev */
		a->path = p2; /* dir */
		a->fstype = str;
		set_flags(a, x[3]);
		break;
	case SYSCALL_EVT_UMOUNT2:
		a->path = p1;
		set_flags(a, x[1]);
		break;
	case SYSCALL_EVT_SETUID:
	case SYSCALL_EVT_SETFSUID:
		a->uid = (uint32_t)x[0];
		a->valid |= EVENT_ARG_UID;
		break;
	case SYSCALL_EVT_SETGID:
	case SYSCALL_EVT_SETFSGID:
		a->gid = (uint32_t)x[0];
		a->valid |= EVENT_ARG_GID;
		break;
	case SYSCALL_EVT_SETREUID:
	case SYSCALL_EVT_SETRESUID:
		a->uid = (uint32_t)x[0];
		a->euid = (uint32_t)x[1];
		if (type == SYSCALL_EVT_SETRESUID)
			a->suid = (uint32_t)x[2];
		a->valid |= EVENT_ARG_UID;
		break;
	case SYSCALL_EVT_SETREGID:
	case SYSCALL_EVT_SETRESGID:
		a->gid = (uint32_t)x[0];
		a->egid = (uint32_t)x[1];
		if (type == SYSCALL_EVT_SETRESGID)
			a->sgid = (uint32_t)x[2];
		a->valid |= EVENT_ARG_GID;
		break;
	case SYSCALL_EVT_SETNS:
		set_fd(a, (int)x[0]);
		a->nstype = (int)x[1];
		a->valid |= EVENT_ARG_NSTYPE;
		break;
	case SYSCALL_EVT_UNSHARE:
		set_flags(a, x[0]);
		break;
	case SYSCALL_EVT_PTRACE:
		a->request = x[0];
		a->pid = (int)x[1];
		a->addr = x[2];
		a->data = x[3];
		a->valid |= EVENT_ARG_REQUEST | EVENT_ARG_PID | EVENT_ARG_DATA;
		break;
	case SYSCALL_EVT_INIT_MODULE:
		a->size = x[1];
		a->valid |= EVENT_ARG_SIZE;
		a->uargs = str;
		break;
	case SYSCALL_EVT_FINIT_MODULE:
		set_fd(a, (int)x[0]);
		a->uargs = str;
		set_flags(a, x[2]);
		break;
	case SYSCALL_EVT_DELETE_MODULE:
		a->name = str;
		set_flags(a, x[1]);
		break;
	case SYSCALL_EVT_BPF:
	case SYSCALL_EVT_PRCTL:
		a->cmd = (int64_t)x[0];
		a->valid |= EVENT_ARG_CMD;
		break;
	case SYSCALL_EVT_MEMFD_CREATE:
		a->name = str;
		set_flags(a, x[1]);
		break;
	case SYSCALL_EVT_KILL:
	case SYSCALL_EVT_TKILL:
		a->pid = (int)x[0];
		a->sig = (int)x[1];
		a->valid |= EVENT_ARG_PID | EVENT_ARG_SIG;
		break;
	case SYSCALL_EVT_TGKILL:
		a->pid = (int)x[0];
		a->sig = (int)x[2];
		a->valid |= EVENT_ARG_PID | EVENT_ARG_SIG;
		break;
	case SYSCALL_EVT_MMAP:
		set_fd(a, (int)x[4]);
		a->size = x[1];
		a->valid |= EVENT_ARG_SIZE;
		set_flags(a, x[3]);
		break;
	case SYSCALL_EVT_MPROTECT:
		a->size = x[1];
		a->valid |= EVENT_ARG_SIZE;
		set_flags(a, x[2]);
		break;
	case SYSCALL_EVT_USERFAULTFD:
		set_flags(a, x[0]);
		break;
	default:
		break;
	}
}

int decode_event(const struct lanner_rec *rec, size_t size, int64_t boot_to_epoch,
		 struct syscall_event *ev)
{
	int type;

	if (size < sizeof(*rec) || rec->size > size)
		return -EINVAL;
	decode_zero(ev, sizeof(*ev));
	switch (rec->type) {
	case LANNER_REC_SYSCALL:
		type = type_of(rec->nr);
		if (type <= SYSCALL_EVT_UNKNOWN)
			return -ENOENT;
		decode_args(rec, size, type, &ev->args);
		break;
	case LANNER_REC_PROC_EXEC:
		type = rec->nr == 322 ? SYSCALL_EVT_EXECVEAT : SYSCALL_EVT_EXECVE;
		ev->args.path = decode_str(rec, size, LANNER_B_FILENAME);
		break;
	case LANNER_REC_PROC_EXIT:
		type = SYSCALL_EVT_PROCEXIT;
		/* A signal death: the low 7 bits of the wait status. */
		if (rec->ret & 0x7f) {
			ev->args.sig = rec->ret & 0x7f;
			ev->args.valid |= EVENT_ARG_SIG;
		}
		break;
	case LANNER_REC_PROC_FORK:
		return -ENOENT;
	default:
		return -EINVAL;
	}
	ev->type = (uint16_t)type;
	ev->ts = rec->ts_ns + boot_to_epoch;
	ev->tid = rec->tid;
	ev->res = rec->ret;
	return 0;
}

int decode_exec(const struct lanner_rec *rec, size_t size, struct decode_exec *out)
{
	const void *info;
	size_t len = 0;
	unsigned flags = 0;

	memset(out, 0, sizeof(*out));
	if (size < sizeof(*rec) || rec->type != LANNER_REC_PROC_EXEC)
		return -EINVAL;
	info = decode_blob(rec, size, LANNER_B_EXEC, &len, NULL);
	if (!info || len < sizeof(out->info))
		return -EINVAL;
	memcpy(&out->info, info, sizeof(out->info));
	out->filename = decode_str(rec, size, LANNER_B_FILENAME);
	out->argv = decode_blob(rec, size, LANNER_B_ARGV, &out->argv_len, &flags);
	if (!out->argv)
		out->argv_len = 0;
	out->argv_truncated = flags & LANNER_BF_TRUNCATED;
	return 0;
}

int decode_fork(const struct lanner_rec *rec, size_t size, struct lanner_fork_info *out)
{
	size_t len = 0;
	const void *p;

	if (size < sizeof(*rec) || rec->type != LANNER_REC_PROC_FORK)
		return -EINVAL;
	p = decode_blob(rec, size, LANNER_B_FORK, &len, NULL);
	if (!p || len < sizeof(*out))
		return -EINVAL;
	memcpy(out, p, sizeof(*out));
	return 0;
}

int decode_exit(const struct lanner_rec *rec, size_t size, struct lanner_exit_info *out)
{
	size_t len = 0;
	const void *p;

	if (size < sizeof(*rec) || rec->type != LANNER_REC_PROC_EXIT)
		return -EINVAL;
	p = decode_blob(rec, size, LANNER_B_EXIT, &len, NULL);
	if (!p || len < sizeof(*out))
		return -EINVAL;
	memcpy(out, p, sizeof(*out));
	return 0;
}
