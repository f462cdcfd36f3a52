/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_RULES_SOURCE_H
#define LANNER_TEST_RULES_SOURCE_H

/*
 * A small field source for the rules engine's own tests and fuzzers, independent of the real
 * syscall source: it declares the fields the upstream Falco rules use (FALCO-COMPAT.md
 * section 1) with Falco's types, and reads them from a text event
 * "evt.type=open|fd.name=/etc/shadow|proc.aname=bash,sshd,systemd".
 * Conventions of the text: ancestors (proc.aname, ...) are a comma list, index 1 first;
 * key-argument fields are "k=v;k2=v2"; list fields (ka.user.groups) a comma list.
 */

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rules/field.h"

#define TS_MAX_FIELDS 128

struct tev {
	unsigned type;
	const char *v[TS_MAX_FIELDS]; /* text per field, NULL when missing */
	char buf[4096];
};

static const char *const ts_types[] = {
	"unknown",
	"open",
	"openat",
	"openat2",
	"creat",
	"execve",
	"execveat",
	"connect",
	"accept",
	"accept4",
	"sendto",
	"sendmsg",
	"recvfrom",
	"recvmsg",
	"socket",
	"bind",
	"listen",
	"dup",
	"dup2",
	"dup3",
	"symlink",
	"symlinkat",
	"link",
	"linkat",
	"init_module",
	"finit_module",
	"ptrace",
	"bpf",
	"chmod",
	"fchmod",
	"fchmodat",
	"rename",
	"renameat",
	"renameat2",
	"rmdir",
	"mkdir",
	"mkdirat",
	"unlink",
	"unlinkat",
	"setns",
	"setuid",
	"setgid",
	"unshare",
	"clone",
	"clone3",
	"fork",
	"vfork",
	"close",
	"read",
	"write",
	"mmap",
	"mprotect",
	"memfd_create",
	"pidfd_open",
	"pidfd_getfd",
	"process_vm_writev",
	"process_vm_readv",
	"kill",
	"tkill",
	"tgkill",
	"mount",
	"umount",
	"umount2",
	"chown",
	"fchown",
	"fchownat",
	"lchown",
	"truncate",
	"ftruncate",
	"userfaultfd",
	"prctl",
	"capset",
	"setresuid",
	"setresgid",
	"setreuid",
	"setregid",
	"switch",
	"procexit",
	"container",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"copy_file_range",
	"splice",
	"sendfile",
	"chdir",
	"fchdir",
	"seccomp",
	"quotactl",
	"mknod",
	"mknodat",
	"sethostname",
	"setdomainname",
	"delete_module",
	"getsockopt",
	"setsockopt",
	"execve_exit",
	"socketpair",
	"pipe",
	"pipe2",
	"eventfd",
	"signalfd",
	"timerfd_create",
	"inotify_init",
	"epoll_create",
	"fanotify_init",
	"fsconfig",
	"open_by_handle_at",
	"utimensat",
	"futimesat",
	"utimes",
	"access",
	"faccessat",
	"stat",
	"lstat",
	"newfstatat",
	"statx",
	"readlink",
	"readlinkat",
	"getdents",
	"getdents64",
};

#define TS_ANC (FIELD_ARG_INDEX | FIELD_ANY_ANCESTOR)

static bool ts_flag_value(const char *name, uint64_t *bit)
{
	static const struct {
		const char *n;
		uint64_t v;
	} f[] = { { "O_RDONLY", 0 }, { "O_WRONLY", 1 },	 { "O_RDWR", 2 },
		  { "O_CREAT", 64 }, { "O_TRUNC", 512 }, { "O_APPEND", 1024 } };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(f[i].n, name)) {
			*bit = f[i].v;
			return true;
		}
	return false;
}

static struct field_def ts_fields[] = {
	{ "evt.type", FIELD_STRING, 0, "event type" },
	{ "evt.num", FIELD_UINT, 0, "event number" },
	{ "evt.time", FIELD_ABSTIME, 0, "event time in ns" },
	{ "evt.res", FIELD_STRING, 0, "result as text" },
	{ "evt.rawres", FIELD_INT, 0, "raw result" },
	{ "evt.dir", FIELD_STRING, 0, "direction" },
	{ "evt.args", FIELD_STRING, 0, "all arguments" },
	{ "evt.arg", FIELD_STRING, FIELD_ARG_KEY | FIELD_ARG_REQUIRED, "argument by name" },
	{ "evt.is_open_read", FIELD_BOOL, 0, "open for reading" },
	{ "evt.is_open_write", FIELD_BOOL, 0, "open for writing" },
	{ "evt.flagsnum", FIELD_UINT, FIELD_FLAGS_VALUE, "open flags as bits" },
	{ "proc.name", FIELD_STRING, 0, "process name" },
	{ "proc.pname", FIELD_STRING, 0, "parent name" },
	{ "proc.aname", FIELD_STRING, TS_ANC, "ancestor name" },
	{ "proc.exe", FIELD_STRING, 0, "exe" },
	{ "proc.pexe", FIELD_STRING, 0, "parent exe" },
	{ "proc.aexe", FIELD_STRING, TS_ANC, "ancestor exe" },
	{ "proc.exepath", FIELD_STRING, 0, "exe path" },
	{ "proc.pexepath", FIELD_STRING, 0, "parent exe path" },
	{ "proc.aexepath", FIELD_STRING, TS_ANC, "ancestor exe path" },
	{ "proc.cmdline", FIELD_STRING, 0, "command line" },
	{ "proc.pcmdline", FIELD_STRING, 0, "parent command line" },
	{ "proc.args", FIELD_STRING, 0, "arguments" },
	{ "proc.cwd", FIELD_STRING, 0, "cwd" },
	{ "proc.tty", FIELD_INT, 0, "tty" },
	{ "proc.pid", FIELD_INT, 0, "pid" },
	{ "proc.vpid", FIELD_INT, 0, "virtual pid" },
	{ "proc.duration", FIELD_RELTIME, 0, "age" },
	{ "proc.ppid.duration", FIELD_RELTIME, 0, "parent age" },
	{ "proc.sname", FIELD_STRING, 0, "session leader name" },
	{ "proc.env", FIELD_STRING, FIELD_ARG_KEY, "environment" },
	{ "proc.is_exe_upper_layer", FIELD_BOOL, 0, "exe in overlay upper layer" },
	{ "proc.is_exe_from_memfd", FIELD_BOOL, 0, "exe from memfd" },
	{ "proc.is_vpgid_leader", FIELD_BOOL, 0, "vpgid leader" },
	{ "proc.vpgid.name", FIELD_STRING, 0, "vpgid leader name" },
	{ "proc.vpgid.exe", FIELD_STRING, 0, "vpgid leader exe" },
	{ "proc.exe_ino.mtime", FIELD_ABSTIME, 0, "exe mtime" },
	{ "proc.exe_ino.ctime", FIELD_ABSTIME, 0, "exe ctime" },
	{ "proc.exe_ino.ctime_duration_proc_start", FIELD_RELTIME, 0, "ctime to start" },
	{ "thread.cap_effective", FIELD_STRING, 0, "effective caps" },
	{ "thread.cap_permitted", FIELD_STRING, 0, "permitted caps" },
	{ "user.name", FIELD_STRING, 0, "user" },
	{ "user.uid", FIELD_UINT, 0, "uid" },
	{ "user.loginuid", FIELD_INT, 0, "login uid" },
	{ "user.loginname", FIELD_STRING, 0, "login name" },
	{ "group.gid", FIELD_UINT, 0, "gid" },
	{ "group.name", FIELD_STRING, 0, "group" },
	{ "fd.num", FIELD_INT, 0, "fd" },
	{ "fd.name", FIELD_STRING, 0, "fd name" },
	{ "fd.nameraw", FIELD_STRING, 0, "fd raw name" },
	{ "fd.directory", FIELD_STRING, 0, "fd dir" },
	{ "fd.filename", FIELD_STRING, 0, "fd file" },
	{ "fd.typechar", FIELD_STRING, 0, "fd type char" },
	{ "fd.type", FIELD_STRING, 0, "fd type" },
	{ "fd.l4proto", FIELD_STRING, 0, "l4 proto" },
	{ "fd.sockfamily", FIELD_STRING, 0, "socket family" },
	{ "fd.connected", FIELD_BOOL, 0, "connected" },
	{ "fd.name_changed", FIELD_BOOL, 0, "name changed" },
	{ "fd.ip", FIELD_IPADDR, 0, "ip" },
	{ "fd.sip", FIELD_IPADDR, 0, "server ip" },
	{ "fd.net", FIELD_IPNET, 0, "net" },
	{ "fd.snet", FIELD_IPNET, 0, "server net" },
	{ "fd.rnet", FIELD_IPNET, 0, "remote net" },
	{ "fd.sport", FIELD_PORT, 0, "server port" },
	{ "fd.lport", FIELD_PORT, 0, "local port" },
	{ "fd.rport", FIELD_PORT, 0, "remote port" },
	{ "fd.port", FIELD_PORT, 0, "port" },
	{ "fd.sip.name", FIELD_STRING, 0, "server name" },
	{ "fd.rip.name", FIELD_STRING, 0, "remote name" },
	{ "fd.lip.name", FIELD_STRING, 0, "local name" },
	{ "fd.cip.name", FIELD_STRING, 0, "client name" },
	{ "container.id", FIELD_STRING, 0, "container id" },
	{ "container.name", FIELD_STRING, 0, "container name" },
	{ "container.image.repository", FIELD_STRING, 0, "image repository" },
	{ "container.privileged", FIELD_BOOL, 0, "privileged" },
	{ "container.start_ts", FIELD_ABSTIME, 0, "container start" },
	{ "k8s.ns.name", FIELD_STRING, 0, "namespace" },
	{ "k8s.pod.name", FIELD_STRING, 0, "pod" },
	{ "ka.user.groups", FIELD_LIST, 0, "groups (list)" },
	{ "ka.uri.param", FIELD_STRING, FIELD_ARG_KEY | FIELD_ARG_REQUIRED, "uri parameter" },
};

#define TS_NFIELDS (sizeof(ts_fields) / sizeof(ts_fields[0]))

static unsigned ts_event_type(const void *e)
{
	return ((const struct tev *)e)->type;
}

static struct field_source ts_source = {
	.name = "syscall",
	.fields = ts_fields,
	.n_fields = TS_NFIELDS,
	.event_type_names = ts_types,
	.n_event_types = sizeof(ts_types) / sizeof(ts_types[0]),
	.type_field = "evt.type",
	.event_type = ts_event_type,
	.time_field = "evt.time",
};

/* n-th (1-based) comma-separated element of t */
static bool ts_nth(const char *t, int64_t n, const char **p, size_t *len)
{
	for (int64_t i = 1; t; i++) {
		const char *c = strchr(t, ',');

		if (i == n) {
			*p = t;
			*len = c ? (size_t)(c - t) : strlen(t);
			return true;
		}
		t = c ? c + 1 : NULL;
	}
	return false;
}

static bool ts_extract(size_t idx, const void *event, const struct field_arg *arg,
		       struct field_scratch *s, struct field_value *out)
{
	const struct tev *ev = event;
	const struct field_def *d = &ts_fields[idx];
	const char *t = ev->v[idx];

	out->type = d->type;
	if (!strcmp(d->name, "evt.type")) {
		out->str.p = ts_types[ev->type];
		out->str.len = strlen(out->str.p);
		return true;
	}
	if (!t)
		return false;
	switch (d->type) {
	case FIELD_STRING:
		if ((d->flags & FIELD_ARG_INDEX) && arg->present)
			return ts_nth(t, arg->index, &out->str.p, &out->str.len);
		if ((d->flags & FIELD_ARG_INDEX))
			return ts_nth(t, 1, &out->str.p, &out->str.len);
		if ((d->flags & FIELD_ARG_KEY) && arg->present) {
			size_t kl = arg->key_len;

			for (const char *p = t; p && *p;) {
				const char *semi = strchr(p, ';');
				size_t l = semi ? (size_t)(semi - p) : strlen(p);

				if (l > kl && !strncmp(p, arg->key, kl) && p[kl] == '=') {
					out->str.p = p + kl + 1;
					out->str.len = l - kl - 1;
					return true;
				}
				p = semi ? semi + 1 : NULL;
			}
			return false;
		}
		out->str.p = t;
		out->str.len = strlen(t);
		return true;
	case FIELD_INT:
		out->i = strtoll(t, NULL, 0);
		return true;
	case FIELD_BOOL:
		out->b = !strcmp(t, "true");
		return true;
	case FIELD_IPADDR:
	case FIELD_IPNET:
		memset(&out->ip, 0, sizeof(out->ip));
		if (inet_pton(AF_INET, t, out->ip.addr) == 1) {
			out->ip.family = 4;
			out->ip.prefix = 32;
		} else if (inet_pton(AF_INET6, t, out->ip.addr) == 1) {
			out->ip.family = 6;
			out->ip.prefix = 128;
		} else {
			return false;
		}
		return true;
	case FIELD_LIST: {
		size_t n = *t ? 1 : 0;
		const char **v;
		size_t *lens;

		for (const char *p = t; *p; p++)
			n += *p == ',';
		v = field_scratch_alloc(s, (n + 1) * sizeof(*v));
		lens = field_scratch_alloc(s, (n + 1) * sizeof(*lens));
		if (!v || !lens)
			return false;
		for (size_t i = 0; i < n; i++)
			ts_nth(t, (int64_t)i + 1, &v[i], &lens[i]);
		out->list.v = v;
		out->list.lens = lens;
		out->list.n = n;
		return true;
	}
	default:
		out->u = strtoull(t, NULL, 0);
		return true;
	}
}

#define TS_EX(n)                                                                                \
	static bool ts_ex##n(const void *e, const struct field_arg *a, struct field_scratch *s, \
			     struct field_value *o)                                             \
	{                                                                                       \
		return ts_extract(n, e, a, s, o);                                               \
	}
#define TS_EX10(n)  \
	TS_EX(n##0) \
	TS_EX(n##1) \
	TS_EX(n##2) \
	TS_EX(n##3) \
	TS_EX(n##4) \
	TS_EX(n##5) \
	TS_EX(n##6) \
	TS_EX(n##7) \
	TS_EX(n##8) \
	TS_EX(n##9)
TS_EX(0)
TS_EX(1)
TS_EX(2)
TS_EX(3)
TS_EX(4)
TS_EX(5)
TS_EX(6)
TS_EX(7)
TS_EX(8)
TS_EX(9)
TS_EX10(1)
TS_EX10(2)
TS_EX10(3)
TS_EX10(4)
TS_EX10(5)
TS_EX10(6)
TS_EX10(7)
TS_EX10(8)
TS_EX10(9)

#define TS_REF10(n)                                                                                \
	ts_ex##n##0, ts_ex##n##1, ts_ex##n##2, ts_ex##n##3, ts_ex##n##4, ts_ex##n##5, ts_ex##n##6, \
		ts_ex##n##7, ts_ex##n##8, ts_ex##n##9

static const field_extract_fn ts_ex[] = { ts_ex0,      ts_ex1,	    ts_ex2,	 ts_ex3,
					  ts_ex4,      ts_ex5,	    ts_ex6,	 ts_ex7,
					  ts_ex8,      ts_ex9,	    TS_REF10(1), TS_REF10(2),
					  TS_REF10(3), TS_REF10(4), TS_REF10(5), TS_REF10(6),
					  TS_REF10(7), TS_REF10(8), TS_REF10(9) };

static inline void ts_init(void)
{
	_Static_assert(TS_NFIELDS <= sizeof(ts_ex) / sizeof(ts_ex[0]), "extractors");
	for (size_t i = 0; i < TS_NFIELDS; i++) {
		ts_fields[i].extract = ts_ex[i];
		if (ts_fields[i].flags & FIELD_FLAGS_VALUE)
			ts_fields[i].flag_value = ts_flag_value;
	}
}

static inline int ts_field_index(const char *name)
{
	for (size_t i = 0; i < TS_NFIELDS; i++)
		if (!strcmp(ts_fields[i].name, name))
			return (int)i;
	return -1;
}

/* "evt.type=open|fd.name=/etc/shadow" -> ev; returns -1 on an unknown field or type. */
static inline int tev_parse(struct tev *ev, const char *text)
{
	char *p;

	memset(ev, 0, sizeof(*ev));
	if (strlen(text) >= sizeof(ev->buf))
		return -1;
	strcpy(ev->buf, text);
	for (p = ev->buf; p && *p;) {
		char *bar = strchr(p, '|'), *eq;
		int idx;

		if (bar)
			*bar = '\0';
		eq = strchr(p, '=');
		if (!eq)
			return -1;
		*eq = '\0';
		idx = ts_field_index(p);
		if (idx < 0)
			return -1;
		if (!strcmp(p, "evt.type")) {
			size_t t;

			for (t = 0; t < sizeof(ts_types) / sizeof(ts_types[0]); t++)
				if (!strcmp(ts_types[t], eq + 1))
					break;
			if (t == sizeof(ts_types) / sizeof(ts_types[0]))
				return -1;
			ev->type = (unsigned)t;
		}
		ev->v[idx] = eq + 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

#endif
