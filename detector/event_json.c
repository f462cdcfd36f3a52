// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "detector/event_json.h"

struct event_reader {
	json_t *root; /* tree of the current event: its strings are borrowed by the event */
	struct syscall_event ev;
	struct event_process *procs; /* [0] the process, [1..] its ancestors */
	size_t procs_cap;
	const char **strs; /* argv/env/label vectors of the current event */
	size_t strs_cap;
	struct event_fd fd;
	struct event_container ctr;
	struct event_k8s k8s;
	char *line;
	size_t line_cap;
	unsigned long lineno, bad;
	event_reader_report_fn report;
	void *report_ctx;
	char *name;
	/* process references (see event_json.h): defs[id] is the last object defined with that id;
	 * hold keeps the objects the current event borrows from */
	json_t **defs;
	size_t defs_cap;
	json_t *hold;
};

/* Decoding context: where the first error goes. */
struct dctx {
	char *err;
	size_t errlen;
	const char **strs; /* next free slot of reader->strs */
};

__attribute__((format(printf, 2, 3))) static int fail(struct dctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

struct event_reader *event_reader_new(void)
{
	struct event_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->hold = json_array();
	if (!r->hold) {
		free(r);
		return NULL;
	}
	return r;
}

void event_reader_free(struct event_reader *r)
{
	if (!r)
		return;
	json_decref(r->root);
	for (size_t i = 0; i < r->defs_cap; i++)
		json_decref(r->defs[i]);
	free(r->defs);
	json_decref(r->hold);
	free(r->procs);
	free(r->strs);
	free(r->line);
	free(r->name);
	free(r);
}

void event_reader_set_reporter(struct event_reader *r, event_reader_report_fn fn, void *ctx)
{
	r->report = fn;
	r->report_ctx = ctx;
}

void event_reader_set_name(struct event_reader *r, const char *name)
{
	free(r->name);
	r->name = name ? strdup(name) : NULL;
}

unsigned long event_reader_lines(const struct event_reader *r)
{
	return r->lineno;
}

unsigned long event_reader_bad_lines(const struct event_reader *r)
{
	return r->bad;
}

/* ---- typed getters: absent is fine (*present = false), a wrong type is an error ---------- */

static int get_i64(struct dctx *c, json_t *o, const char *where, const char *key, int64_t *out,
		   bool *present)
{
	json_t *v = json_object_get(o, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return fail(c, "%s.%s: expected an integer", where, key);
	*out = json_integer_value(v);
	*present = true;
	return 0;
}

/* An unsigned 32-bit id; -1 stands for 4294967295 (an unset loginuid). */
static int get_u32(struct dctx *c, json_t *o, const char *where, const char *key, uint32_t *out,
		   bool *present)
{
	int64_t v = 0;
	int err = get_i64(c, o, where, key, &v, present);

	if (err || !*present)
		return err;
	if (v < -1 || v > UINT32_MAX)
		return fail(c, "%s.%s: %" PRId64 " out of range", where, key, v);
	*out = (uint32_t)v;
	return 0;
}

static int get_str(struct dctx *c, json_t *o, const char *where, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(c, "%s.%s: expected a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int get_bool(struct dctx *c, json_t *o, const char *where, const char *key, bool *out,
		    bool *present)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail(c, "%s.%s: expected true or false", where, key);
	*out = json_is_true(v);
	*present = true;
	return 0;
}

static int get_obj(struct dctx *c, json_t *o, const char *where, const char *key, json_t **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(c, "%s.%s: expected an object", where, key);
	*out = v;
	return 0;
}

/* Integer, or a name of `kind` (syscall_value_from_name). */
static int get_named(struct dctx *c, json_t *o, const char *where, const char *key,
		     const char *kind, int64_t *out, bool *present)
{
	json_t *v = json_object_get(o, key);

	*present = false;
	if (v && json_is_string(v)) {
		if (!syscall_value_from_name(kind, json_string_value(v), out))
			return fail(c, "%s.%s: unknown name '%s'", where, key,
				    json_string_value(v));
		*present = true;
		return 0;
	}
	return get_i64(c, o, where, key, out, present);
}

/* A string array into the reader's vector. */
static int get_strv(struct dctx *c, json_t *o, const char *where, const char *key,
		    const char *const **out, size_t *n)
{
	json_t *v = json_object_get(o, key), *s;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(c, "%s.%s: expected an array of strings", where, key);
	json_array_foreach(v, i, s) {
		if (!json_is_string(s))
			return fail(c, "%s.%s[%zu]: expected a string", where, key, i);
		c->strs[i] = json_string_value(s);
	}
	*out = c->strs;
	*n = json_array_size(v);
	c->strs += *n;
	return 0;
}

static int get_caps(struct dctx *c, json_t *o, const char *where, const char *key, uint64_t *out,
		    bool *present)
{
	json_t *v = json_object_get(o, key), *s;
	size_t i;
	int64_t bit;

	if (!v || json_is_null(v))
		return 0;
	*present = true;
	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_array(v))
		return fail(c, "%s.%s: expected a mask or an array of CAP_* names", where, key);
	*out = 0;
	json_array_foreach(v, i, s) {
		if (!json_is_string(s) ||
		    !syscall_value_from_name("cap", json_string_value(s), &bit))
			return fail(c, "%s.%s[%zu]: not a capability name", where, key, i);
		*out |= 1ull << bit;
	}
	return 0;
}

static int get_sockaddr(struct dctx *c, json_t *o, const char *where, const char *key,
			struct event_sockaddr *a, bool *present)
{
	json_t *v;
	const char *ip = NULL, *path = NULL;
	int64_t port = 0;
	bool has_port = false;
	int err;

	if ((err = get_obj(c, o, where, key, &v)) || !v)
		return err;
	if ((err = get_str(c, v, key, "ip", &ip)) || (err = get_str(c, v, key, "path", &path)) ||
	    (err = get_i64(c, v, key, "port", &port, &has_port)))
		return err;
	memset(a, 0, sizeof(*a));
	if (path) {
		a->family = AF_UNIX;
		a->path = path;
	} else if (ip && inet_pton(AF_INET, ip, a->addr) == 1) {
		a->family = AF_INET;
	} else if (ip && inet_pton(AF_INET6, ip, a->addr) == 1) {
		a->family = AF_INET6;
	} else {
		return fail(c, "%s.%s: expected {\"ip\": ADDRESS, \"port\": N} or {\"path\": P}",
			    where, key);
	}
	if (port < 0 || port > 65535)
		return fail(c, "%s.%s.port: %" PRId64 " out of range", where, key, port);
	a->port = (uint16_t)port;
	*present = true;
	return 0;
}

/* ---- sections --------------------------------------------------------------------------- */

static int parse_flags(struct dctx *c, json_t *args, unsigned type, uint64_t *out, bool *present)
{
	json_t *v = json_object_get(args, "flags"), *s;
	size_t i;
	uint64_t raw;

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		*present = true;
		return 0;
	}
	if (!json_is_array(v))
		return fail(c, "args.flags: expected an integer or an array of flag names");
	*out = 0;
	json_array_foreach(v, i, s) {
		const char *name = json_is_string(s) ? json_string_value(s) : NULL;
		char *end;

		if (!name)
			return fail(c, "args.flags[%zu]: expected a flag name", i);
		if (!strncmp(name, "0x", 2)) {
			errno = 0;
			raw = strtoull(name, &end, 16);
			if (errno || *end || end == name + 2)
				return fail(c, "args.flags[%zu]: bad number '%s'", i, name);
		} else if (!syscall_flag_from_name(type, name, &raw)) {
			return fail(c, "args.flags[%zu]: unknown flag '%s' for %s", i, name,
				    syscall_event_type_names[type]);
		}
		*out |= raw;
	}
	*present = true;
	return 0;
}

static int parse_args(struct dctx *c, json_t *o, struct syscall_event *e)
{
	struct event_args *a = &e->args;
	static const struct {
		const char *key;
		uint32_t bit;
		size_t off;
	} ints[] = {
		{ "fd", EVENT_ARG_FD, offsetof(struct event_args, fd) },
		{ "dirfd", EVENT_ARG_DIRFD, offsetof(struct event_args, dirfd) },
		{ "newdirfd", EVENT_ARG_NEWDIRFD, offsetof(struct event_args, newdirfd) },
		{ "oldfd", EVENT_ARG_OLDFD, offsetof(struct event_args, oldfd) },
		{ "newfd", EVENT_ARG_NEWFD, offsetof(struct event_args, newfd) },
		{ "pid", EVENT_ARG_PID, offsetof(struct event_args, pid) },
		{ "nstype", EVENT_ARG_NSTYPE, offsetof(struct event_args, nstype) },
	};
	int64_t v;
	bool has, has2;
	int err;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if ((err = get_i64(c, o, "args", ints[i].key, &v, &has)))
			return err;
		if (has) {
			*(int64_t *)((char *)a + ints[i].off) = v;
			a->valid |= ints[i].bit;
		}
	}
	if ((err = parse_flags(c, o, e->type, &a->flags, &has)))
		return err;
	a->valid |= has ? EVENT_ARG_FLAGS : 0;
	if ((err = get_u32(c, o, "args", "mode", &a->mode, &has)))
		return err;
	a->valid |= has ? EVENT_ARG_MODE : 0;
	if ((err = get_named(c, o, "args", "request", "request", &v, &has)))
		return err;
	if (has) {
		a->request = (uint64_t)v;
		a->valid |= EVENT_ARG_REQUEST;
	}
	if ((err = get_named(c, o, "args", "domain", "domain", &v, &has)))
		return err;
	if (has) {
		a->domain = (int32_t)v;
		a->valid |= EVENT_ARG_DOMAIN;
		if ((err = get_named(c, o, "args", "type", "socktype", &v, &has)))
			return err;
		a->type = has ? (int32_t)v : 0;
		if ((err = get_i64(c, o, "args", "proto", &v, &has)))
			return err;
		a->proto = has ? (int32_t)v : 0;
	}
	if ((err = get_u32(c, o, "args", "uid", &a->uid, &has)))
		return err;
	if (has) {
		a->valid |= EVENT_ARG_UID;
		a->euid = a->suid = a->uid;
		if ((err = get_u32(c, o, "args", "euid", &a->euid, &has2)) ||
		    (err = get_u32(c, o, "args", "suid", &a->suid, &has2)))
			return err;
	}
	if ((err = get_u32(c, o, "args", "gid", &a->gid, &has)))
		return err;
	if (has) {
		a->valid |= EVENT_ARG_GID;
		a->egid = a->sgid = a->gid;
		if ((err = get_u32(c, o, "args", "egid", &a->egid, &has2)) ||
		    (err = get_u32(c, o, "args", "sgid", &a->sgid, &has2)))
			return err;
	}
	if ((err = get_named(c, o, "args", "cmd", "bpf_cmd", &a->cmd, &has)))
		return err;
	a->valid |= has ? EVENT_ARG_CMD : 0;
	if ((err = get_i64(c, o, "args", "sig", &v, &has)))
		return err;
	if (has) {
		a->sig = (int32_t)v;
		a->valid |= EVENT_ARG_SIG;
	}
	if ((err = get_i64(c, o, "args", "size", &v, &has)))
		return err;
	if (has) {
		a->size = (uint64_t)v;
		a->valid |= EVENT_ARG_SIZE;
	}
	if ((err = get_i64(c, o, "args", "backlog", &v, &has)))
		return err;
	if (has) {
		a->backlog = (uint32_t)v;
		a->valid |= EVENT_ARG_BACKLOG;
	}
	if ((err = get_i64(c, o, "args", "dev", &v, &has)))
		return err;
	if (has) {
		a->dev = (uint64_t)v;
		if ((err = get_i64(c, o, "args", "ino", &v, &has2)))
			return err;
		a->ino = has2 ? (uint64_t)v : 0;
		a->valid |= EVENT_ARG_DEV_INO;
	}
	if ((err = get_i64(c, o, "args", "addr", &v, &has)))
		return err;
	if (has) {
		a->addr = (uint64_t)v;
		if ((err = get_i64(c, o, "args", "data", &v, &has2)))
			return err;
		a->data = has2 ? (uint64_t)v : 0;
		a->valid |= EVENT_ARG_DATA;
	}
	if ((err = get_sockaddr(c, o, "args", "sockaddr", &a->sockaddr, &has)))
		return err;
	a->valid |= has ? EVENT_ARG_ADDR : 0;
	if ((err = get_str(c, o, "args", "name", &a->name)) ||
	    (err = get_str(c, o, "args", "path", &a->path)) ||
	    (err = get_str(c, o, "args", "target", &a->target)) ||
	    (err = get_str(c, o, "args", "linkpath", &a->linkpath)) ||
	    (err = get_str(c, o, "args", "oldpath", &a->oldpath)) ||
	    (err = get_str(c, o, "args", "newpath", &a->newpath)) ||
	    (err = get_str(c, o, "args", "fstype", &a->fstype)) ||
	    (err = get_str(c, o, "args", "uargs", &a->uargs)))
		return err;
	return 0;
}

static int parse_proc(struct dctx *c, json_t *o, const char *where, struct event_process *p)
{
	static const struct {
		const char *key;
		uint32_t bit;
		size_t off;
	} ints[] = {
		{ "pid", EVENT_PROC_PID, offsetof(struct event_process, pid) },
		{ "tid", EVENT_PROC_TID, offsetof(struct event_process, tid) },
		{ "ppid", EVENT_PROC_PPID, offsetof(struct event_process, ppid) },
		{ "vpid", EVENT_PROC_VPID, offsetof(struct event_process, vpid) },
		{ "vtid", EVENT_PROC_TID, offsetof(struct event_process, vtid) },
		{ "sid", EVENT_PROC_SID, offsetof(struct event_process, sid) },
		{ "vpgid", EVENT_PROC_VPGID, offsetof(struct event_process, vpgid) },
	};
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "name", offsetof(struct event_process, name) },
		{ "exe", offsetof(struct event_process, exe) },
		{ "exepath", offsetof(struct event_process, exepath) },
		{ "cwd", offsetof(struct event_process, cwd) },
		{ "user", offsetof(struct event_process, user) },
		{ "group", offsetof(struct event_process, group) },
		{ "loginname", offsetof(struct event_process, loginname) },
		{ "homedir", offsetof(struct event_process, homedir) },
		{ "shell", offsetof(struct event_process, shell) },
	};
	int64_t v;
	bool has, has2, any = false;
	uint64_t caps;
	int err;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if ((err = get_i64(c, o, where, ints[i].key, &v, &has)))
			return err;
		if (has) {
			*(int64_t *)((char *)p + ints[i].off) = v;
			p->valid |= ints[i].bit;
		}
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((err = get_str(c, o, where, strs[i].key,
				   (const char **)((char *)p + strs[i].off))))
			return err;
	if ((err = get_strv(c, o, where, "args", &p->args, &p->n_args)) ||
	    (err = get_strv(c, o, where, "env", &p->env, &p->n_env)))
		return err;
	if ((err = get_u32(c, o, where, "tty", &p->tty, &has)))
		return err;
	p->valid |= has ? EVENT_PROC_TTY : 0;
	if ((err = get_u32(c, o, where, "uid", &p->uid, &has)))
		return err;
	if (has) {
		if ((err = get_u32(c, o, where, "gid", &p->gid, &has2)))
			return err;
		if (!has2)
			return fail(c, "%s: uid without gid", where);
		p->euid = p->uid;
		p->egid = p->gid;
		if ((err = get_u32(c, o, where, "euid", &p->euid, &has2)) ||
		    (err = get_u32(c, o, where, "egid", &p->egid, &has2)))
			return err;
		p->valid |= EVENT_PROC_UID;
	}
	if ((err = get_u32(c, o, where, "loginuid", &p->loginuid, &has)))
		return err;
	p->valid |= has ? EVENT_PROC_LOGINUID : 0;
	has = false;
	if ((err = get_caps(c, o, where, "cap_effective", &p->cap_effective, &has)))
		return err;
	if (has) {
		p->valid |= EVENT_PROC_CAPS;
		p->cap_permitted = p->cap_effective;
	}
	has2 = false;
	if ((err = get_caps(c, o, where, "cap_permitted", &caps, &has2)))
		return err;
	if (has2)
		p->cap_permitted = caps;
	if ((err = get_caps(c, o, where, "cap_inheritable", &p->cap_inheritable, &has2)))
		return err;
	if ((err = get_i64(c, o, where, "start_ts", &v, &has)))
		return err;
	if (has) {
		p->start_ns = (uint64_t)v;
		p->valid |= EVENT_PROC_START;
	}
	if ((err = get_bool(c, o, where, "exe_from_memfd", &p->exe_from_memfd, &any)) ||
	    (err = get_bool(c, o, where, "exe_upper_layer", &p->exe_upper_layer, &any)) ||
	    (err = get_bool(c, o, where, "exe_lower_layer", &p->exe_lower_layer, &any)) ||
	    (err = get_bool(c, o, where, "exe_writable", &p->exe_writable, &any)))
		return err;
	p->valid |= any ? EVENT_PROC_EXE_FLAGS : 0;
	if ((err = get_i64(c, o, where, "exe_ino", &v, &has)))
		return err;
	if (has) {
		p->exe_ino = (uint64_t)v;
		p->valid |= EVENT_PROC_EXE_INO;
		if ((err = get_i64(c, o, where, "exe_ctime", &v, &has2)))
			return err;
		p->exe_ctime_ns = has2 ? (uint64_t)v : 0;
		if ((err = get_i64(c, o, where, "exe_mtime", &v, &has2)))
			return err;
		p->exe_mtime_ns = has2 ? (uint64_t)v : 0;
	}
	return 0;
}

static int parse_fd(struct dctx *c, json_t *o, struct event_fd *f)
{
	const char *type = NULL;
	json_t *proto;
	int64_t v;
	bool has, b;
	int err;

	memset(f, 0, sizeof(*f));
	if ((err = get_i64(c, o, "fd", "num", &f->num, &has)))
		return err;
	f->valid |= has ? EVENT_FD_NUM : 0;
	if ((err = get_str(c, o, "fd", "type", &type)))
		return err;
	if (type) {
		if (strlen(type) != 1)
			return fail(c, "fd.type: expected one character (f, d, 4, 6, u, p, ...)");
		f->type = type[0];
	}
	if ((err = get_str(c, o, "fd", "name", &f->name)) ||
	    (err = get_str(c, o, "fd", "nameraw", &f->nameraw)))
		return err;
	proto = json_object_get(o, "l4proto");
	if (proto && json_is_string(proto)) {
		const char *s = json_string_value(proto);

		if (!strcmp(s, "tcp"))
			f->l4proto = IPPROTO_TCP;
		else if (!strcmp(s, "udp"))
			f->l4proto = IPPROTO_UDP;
		else if (!strcmp(s, "icmp"))
			f->l4proto = IPPROTO_ICMP;
		else if (!strcmp(s, "raw"))
			f->l4proto = IPPROTO_RAW;
		else
			return fail(c, "fd.l4proto: unknown protocol '%s'", s);
	} else {
		if ((err = get_i64(c, o, "fd", "l4proto", &v, &has)))
			return err;
		f->l4proto = has ? (uint8_t)v : 0;
	}
	has = false;
	if ((err = get_sockaddr(c, o, "fd", "client", &f->client, &has)) ||
	    (err = get_sockaddr(c, o, "fd", "server", &f->server, &has)))
		return err;
	f->valid |= has ? EVENT_FD_TUPLE : 0;
	has = false;
	if ((err = get_bool(c, o, "fd", "is_server", &f->is_server, &has)))
		return err;
	f->valid |= has ? EVENT_FD_ROLE : 0;
	has = false;
	if ((err = get_bool(c, o, "fd", "connected", &f->connected, &has)))
		return err;
	f->valid |= has ? EVENT_FD_CONNECTED : 0;
	if ((err = get_bool(c, o, "fd", "name_changed", &f->name_changed, &b)) ||
	    (err = get_bool(c, o, "fd", "memfd", &f->is_memfd, &b)))
		return err;
	if ((err = get_i64(c, o, "fd", "ino", &v, &has)))
		return err;
	if (has) {
		f->ino = (uint64_t)v;
		f->valid |= EVENT_FD_INO;
		if ((err = get_i64(c, o, "fd", "dev", &v, &has)))
			return err;
		f->dev = has ? (uint64_t)v : 0;
	}
	return 0;
}

static int parse_container(struct dctx *c, json_t *o, struct event_container *ct)
{
	bool priv = false, has = false;
	int64_t v;
	int err;

	memset(ct, 0, sizeof(*ct));
	if ((err = get_str(c, o, "container", "id", &ct->id)) ||
	    (err = get_str(c, o, "container", "full_id", &ct->full_id)) ||
	    (err = get_str(c, o, "container", "name", &ct->name)) ||
	    (err = get_str(c, o, "container", "type", &ct->type)) ||
	    (err = get_str(c, o, "container", "image", &ct->image)) ||
	    (err = get_str(c, o, "container", "image_repository", &ct->image_repository)) ||
	    (err = get_str(c, o, "container", "image_tag", &ct->image_tag)) ||
	    (err = get_str(c, o, "container", "image_digest", &ct->image_digest)) ||
	    (err = get_bool(c, o, "container", "privileged", &priv, &has)))
		return err;
	ct->privileged = has ? priv : -1;
	if ((err = get_i64(c, o, "container", "start_ts", &v, &has)))
		return err;
	ct->start_ns = has ? (uint64_t)v : 0;
	return 0;
}

static int parse_k8s(struct dctx *c, json_t *o, struct event_k8s *k)
{
	json_t *labels, *v;
	const char *key;
	size_t n;
	int err;

	memset(k, 0, sizeof(*k));
	if ((err = get_str(c, o, "k8s", "pod_name", &k->pod_name)) ||
	    (err = get_str(c, o, "k8s", "ns_name", &k->ns_name)) ||
	    (err = get_str(c, o, "k8s", "pod_uid", &k->pod_uid)) ||
	    (err = get_obj(c, o, "k8s", "labels", &labels)))
		return err;
	if (!labels)
		return 0;
	n = json_object_size(labels);
	k->label_keys = c->strs;
	k->label_values = c->strs + n;
	k->n_labels = n;
	n = 0;
	json_object_foreach(labels, key, v) {
		if (!json_is_string(v))
			return fail(c, "k8s.labels.%s: expected a string", key);
		c->strs[n] = key;
		c->strs[k->n_labels + n] = json_string_value(v);
		n++;
	}
	c->strs += 2 * n;
	return 0;
}

static size_t strv_len(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_array(v) ? json_array_size(v) : 0;
}

/* Grow the reader's vectors for this event before anything points into them. */
static int reserve(struct event_reader *r, json_t *procs, json_t *k8s)
{
	size_t nprocs = json_array_size(procs) ? json_array_size(procs) : 1;
	size_t nstrs = 0, i;
	json_t *a;

	json_array_foreach(procs, i, a)
		nstrs += strv_len(a, "args") + strv_len(a, "env");
	if (k8s && json_is_object(json_object_get(k8s, "labels")))
		nstrs += 2 * json_object_size(json_object_get(k8s, "labels"));
	if (nprocs > r->procs_cap) {
		void *p = reallocarray(r->procs, nprocs, sizeof(*r->procs));

		if (!p)
			return -ENOMEM;
		r->procs = p;
		r->procs_cap = nprocs;
	}
	if (nstrs > r->strs_cap) {
		void *p = reallocarray(r->strs, nstrs, sizeof(*r->strs));

		if (!p)
			return -ENOMEM;
		r->strs = p;
		r->strs_cap = nstrs;
	}
	return 0;
}

/*
 * A process object as written: {"ref": N} stands for the object last defined with "id": N
 * (earlier in the file, or earlier in this line); an object with "id" defines N. The object to
 * read the fields from goes to r->hold, which keeps it alive while the event borrows from it.
 */
#define PROC_ID_MAX (1u << 20)

static int resolve_proc(struct event_reader *r, struct dctx *c, json_t *o, const char *where)
{
	json_t *ref = json_object_get(o, "ref"), *id = json_object_get(o, "id"), *def = o;
	json_int_t n;

	if (ref) {
		n = json_is_integer(ref) ? json_integer_value(ref) : -1;
		if (n < 0 || (uint64_t)n >= PROC_ID_MAX)
			return fail(c, "%s.ref: expected an integer from 0 to %u", where,
				    PROC_ID_MAX - 1);
		if ((size_t)n >= r->defs_cap || !r->defs[n])
			return fail(c, "%s.ref: process %lld was not defined earlier in the file",
				    where, (long long)n);
		def = r->defs[n];
	} else if (id) {
		n = json_is_integer(id) ? json_integer_value(id) : -1;
		if (n < 0 || (uint64_t)n >= PROC_ID_MAX)
			return fail(c, "%s.id: expected an integer from 0 to %u", where,
				    PROC_ID_MAX - 1);
		if ((size_t)n >= r->defs_cap) {
			size_t cap = r->defs_cap ? r->defs_cap : 64;
			json_t **d;

			while (cap <= (size_t)n)
				cap *= 2;
			d = reallocarray(r->defs, cap, sizeof(*d));
			if (!d)
				return -ENOMEM;
			memset(d + r->defs_cap, 0, (cap - r->defs_cap) * sizeof(*d));
			r->defs = d;
			r->defs_cap = cap;
		}
		/* the definition without the event's ancestors */
		if (json_object_get(o, "ancestors")) {
			def = json_copy(o);
			if (!def || json_object_del(def, "ancestors")) {
				json_decref(def);
				return -ENOMEM;
			}
		} else {
			json_incref(def);
		}
		json_decref(r->defs[n]);
		r->defs[n] = def;
	}
	return json_array_append(r->hold, def) ? -ENOMEM : 0;
}

static int decode(struct event_reader *r, struct dctx *c, json_t *root)
{
	struct syscall_event *e = &r->ev;
	json_t *args, *proc, *fd, *ctr, *k8s, *ancestors = NULL, *a;
	const char *type = NULL;
	int64_t v;
	bool has;
	int t, err;
	size_t i;

	if (!json_is_object(root))
		return fail(c, "expected a JSON object");
	memset(e, 0, sizeof(*e));
	if ((err = get_str(c, root, "event", "type", &type)))
		return err;
	if (!type)
		return fail(c, "missing \"type\"");
	if ((t = syscall_event_type_from_name(type)) < 0)
		return fail(c, "unknown event type '%s'", type);
	e->type = (uint16_t)t;
	if ((err = get_i64(c, root, "event", "num", &v, &has)))
		return err;
	e->num = has ? (uint64_t)v : 0;
	if ((err = get_i64(c, root, "event", "ts", &v, &has)))
		return err;
	e->ts = has ? (uint64_t)v : 0;
	if ((err = get_i64(c, root, "event", "cpu", &v, &has)))
		return err;
	e->cpu = has ? (uint16_t)v : 0;
	if ((err = get_i64(c, root, "event", "tid", &e->tid, &has)) ||
	    (err = get_i64(c, root, "event", "res", &e->res, &has)))
		return err;
	if ((err = get_obj(c, root, "event", "args", &args)) ||
	    (err = get_obj(c, root, "event", "proc", &proc)) ||
	    (err = get_obj(c, root, "event", "fd", &fd)) ||
	    (err = get_obj(c, root, "event", "container", &ctr)) ||
	    (err = get_obj(c, root, "event", "k8s", &k8s)))
		return err;
	json_array_clear(r->hold);
	if (proc) {
		ancestors = json_object_get(proc, "ancestors");
		if (ancestors && !json_is_array(ancestors))
			return fail(c, "proc.ancestors: expected an array of objects");
		if ((err = resolve_proc(r, c, proc, "proc")))
			return err;
		json_array_foreach(ancestors, i, a) {
			char where[48];

			snprintf(where, sizeof(where), "proc.ancestors[%zu]", i);
			if (!json_is_object(a))
				return fail(c, "%s: expected an object", where);
			if ((err = resolve_proc(r, c, a, where)))
				return err;
		}
	}
	if ((err = reserve(r, r->hold, k8s)))
		return err;
	c->strs = r->strs;
	if (args && (err = parse_args(c, args, e)))
		return err;
	if (proc) {
		if ((err = parse_proc(c, json_array_get(r->hold, 0), "proc", &r->procs[0])))
			return err;
		for (i = 1; i < json_array_size(r->hold); i++) {
			char where[48];

			snprintf(where, sizeof(where), "proc.ancestors[%zu]", i - 1);
			if ((err = parse_proc(c, json_array_get(r->hold, i), where, &r->procs[i])))
				return err;
			r->procs[i - 1].parent = &r->procs[i];
		}
		e->proc = &r->procs[0];
	}
	if (fd) {
		if ((err = parse_fd(c, fd, &r->fd)))
			return err;
		e->fd = &r->fd;
	}
	if (ctr) {
		if ((err = parse_container(c, ctr, &r->ctr)))
			return err;
		e->container = &r->ctr;
	}
	if (k8s) {
		if ((err = parse_k8s(c, k8s, &r->k8s)))
			return err;
		e->k8s = &r->k8s;
	}
	return 0;
}

static bool blank(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i == len || s[i] == '#';
}

int event_reader_parse(struct event_reader *r, const char *line, size_t len,
		       const struct syscall_event **ev, char *err, size_t errlen)
{
	struct dctx c = { err, errlen, NULL };
	json_error_t jerr;
	json_t *root;
	int rc;

	if (blank(line, len))
		return 1;
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return fail(&c, "JSON column %d: %s", jerr.column, jerr.text);
	}
	json_decref(r->root);
	r->root = root;
	rc = decode(r, &c, root);
	if (rc)
		return rc;
	*ev = &r->ev;
	return 0;
}

int event_reader_next(struct event_reader *r, FILE *f, const struct syscall_event **ev)
{
	char msg[256];
	ssize_t n;
	int rc;

	for (;;) {
		errno = 0;
		n = getline(&r->line, &r->line_cap, f);
		if (n < 0)
			return errno ? -errno : 0;
		r->lineno++;
		if (n && r->line[n - 1] == '\n')
			n--;
		msg[0] = 0;
		rc = event_reader_parse(r, r->line, (size_t)n, ev, msg, sizeof(msg));
		if (rc == 0)
			return 1;
		if (rc == 1)
			continue;
		if (rc == -ENOMEM)
			return rc;
		r->bad++;
		if (r->report)
			r->report(r->report_ctx, r->lineno, msg);
		else
			fprintf(stderr, "%s:%lu: bad event: %s\n", r->name ? r->name : "events",
				r->lineno, msg);
	}
}

/* ---- writer ------------------------------------------------------------------------------ */

/* json_object_set_new that remembers a failure (a NULL value is jansson's ENOMEM). */
struct wctx {
	bool oom;
	struct event_writer *ew; /* NULL: every process written in full */
};

/* A writer remembers, per slot, the process it last defined there (see event_json.h). */
#define WRITER_SLOTS 4096u

struct wslot {
	int64_t pid;
	uint64_t hash;
	bool used;
};

struct event_writer {
	FILE *f;
	struct wslot slots[WRITER_SLOTS];
};

static void put(struct wctx *w, json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		w->oom = true;
}

static void put_str(struct wctx *w, json_t *o, const char *key, const char *s)
{
	if (s)
		put(w, o, key, json_string(s));
}

static void put_int(struct wctx *w, json_t *o, const char *key, int64_t v)
{
	put(w, o, key, json_integer(v));
}

static json_t *strv(struct wctx *w, const char *const *v, size_t n)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(v[i])))
			w->oom = true;
	return a;
}

static json_t *sockaddr_json(const struct event_sockaddr *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == AF_UNIX)
		return json_pack("{s:s}", "path", a->path ? a->path : "");
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, a->addr, ip, sizeof(ip)))
		return json_object();
	return json_pack("{s:s,s:i}", "ip", ip, "port", (json_int_t)a->port);
}

struct flags_json {
	json_t *a;
	struct wctx *w;
};

static void flag_cb(void *ctx, const char *name)
{
	struct flags_json *f = ctx;

	if (json_array_append_new(f->a, json_string(name)))
		f->w->oom = true;
}

static void put_named(struct wctx *w, json_t *o, const char *key, const char *kind, int64_t v)
{
	const char *name = syscall_value_name(kind, v);

	if (name)
		put_str(w, o, key, name);
	else
		put_int(w, o, key, v);
}

static json_t *args_json(struct wctx *w, const struct syscall_event *e)
{
	const struct event_args *a = &e->args;
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (a->valid & EVENT_ARG_FD)
		put_int(w, o, "fd", a->fd);
	if (a->valid & EVENT_ARG_DIRFD)
		put_int(w, o, "dirfd", a->dirfd);
	if (a->valid & EVENT_ARG_NEWDIRFD)
		put_int(w, o, "newdirfd", a->newdirfd);
	if (a->valid & EVENT_ARG_OLDFD)
		put_int(w, o, "oldfd", a->oldfd);
	if (a->valid & EVENT_ARG_NEWFD)
		put_int(w, o, "newfd", a->newfd);
	if (a->valid & EVENT_ARG_PID)
		put_int(w, o, "pid", a->pid);
	if (a->valid & EVENT_ARG_NSTYPE)
		put_int(w, o, "nstype", a->nstype);
	if (a->valid & EVENT_ARG_FLAGS) {
		/* names of the type's flag family; bits without a name as "0x..." strings */
		struct flags_json f = { json_array(), w };

		if (f.a)
			syscall_flags_foreach(e->type, a->flags, flag_cb, &f);
		put(w, o, "flags", f.a);
	}
	if (a->valid & EVENT_ARG_MODE)
		put_int(w, o, "mode", a->mode);
	if (a->valid & EVENT_ARG_REQUEST)
		put_named(w, o, "request", "request", (int64_t)a->request);
	if (a->valid & EVENT_ARG_DOMAIN) {
		put_named(w, o, "domain", "domain", a->domain);
		put_named(w, o, "type", "socktype", a->type);
		put_int(w, o, "proto", a->proto);
	}
	if (a->valid & EVENT_ARG_UID) {
		put_int(w, o, "uid", a->uid);
		put_int(w, o, "euid", a->euid);
		put_int(w, o, "suid", a->suid);
	}
	if (a->valid & EVENT_ARG_GID) {
		put_int(w, o, "gid", a->gid);
		put_int(w, o, "egid", a->egid);
		put_int(w, o, "sgid", a->sgid);
	}
	if (a->valid & EVENT_ARG_CMD) {
		if (e->type == SYSCALL_EVT_BPF)
			put_named(w, o, "cmd", "bpf_cmd", a->cmd);
		else
			put_int(w, o, "cmd", a->cmd);
	}
	if (a->valid & EVENT_ARG_SIG)
		put_int(w, o, "sig", a->sig);
	if (a->valid & EVENT_ARG_SIZE)
		put_int(w, o, "size", (int64_t)a->size);
	if (a->valid & EVENT_ARG_BACKLOG)
		put_int(w, o, "backlog", a->backlog);
	if (a->valid & EVENT_ARG_DEV_INO) {
		put_int(w, o, "dev", (int64_t)a->dev);
		put_int(w, o, "ino", (int64_t)a->ino);
	}
	if (a->valid & EVENT_ARG_DATA) {
		put_int(w, o, "addr", (int64_t)a->addr);
		put_int(w, o, "data", (int64_t)a->data);
	}
	if (a->valid & EVENT_ARG_ADDR)
		put(w, o, "sockaddr", sockaddr_json(&a->sockaddr));
	put_str(w, o, "name", a->name);
	put_str(w, o, "path", a->path);
	put_str(w, o, "target", a->target);
	put_str(w, o, "linkpath", a->linkpath);
	put_str(w, o, "oldpath", a->oldpath);
	put_str(w, o, "newpath", a->newpath);
	put_str(w, o, "fstype", a->fstype);
	put_str(w, o, "uargs", a->uargs);
	return o;
}

static json_t *proc_json(struct wctx *w, const struct event_process *p)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (p->valid & EVENT_PROC_PID)
		put_int(w, o, "pid", p->pid);
	if (p->valid & EVENT_PROC_TID) {
		put_int(w, o, "tid", p->tid);
		put_int(w, o, "vtid", p->vtid);
	}
	if (p->valid & EVENT_PROC_PPID)
		put_int(w, o, "ppid", p->ppid);
	if (p->valid & EVENT_PROC_VPID)
		put_int(w, o, "vpid", p->vpid);
	if (p->valid & EVENT_PROC_SID)
		put_int(w, o, "sid", p->sid);
	if (p->valid & EVENT_PROC_VPGID)
		put_int(w, o, "vpgid", p->vpgid);
	put_str(w, o, "name", p->name);
	put_str(w, o, "exe", p->exe);
	put_str(w, o, "exepath", p->exepath);
	if (p->args)
		put(w, o, "args", strv(w, p->args, p->n_args));
	if (p->env)
		put(w, o, "env", strv(w, p->env, p->n_env));
	put_str(w, o, "cwd", p->cwd);
	if (p->valid & EVENT_PROC_TTY)
		put_int(w, o, "tty", p->tty);
	if (p->valid & EVENT_PROC_UID) {
		put_int(w, o, "uid", p->uid);
		put_int(w, o, "gid", p->gid);
		put_int(w, o, "euid", p->euid);
		put_int(w, o, "egid", p->egid);
	}
	if (p->valid & EVENT_PROC_LOGINUID)
		put_int(w, o, "loginuid", p->loginuid == UINT32_MAX ? -1 : (int64_t)p->loginuid);
	put_str(w, o, "user", p->user);
	put_str(w, o, "group", p->group);
	put_str(w, o, "loginname", p->loginname);
	put_str(w, o, "homedir", p->homedir);
	put_str(w, o, "shell", p->shell);
	if (p->valid & EVENT_PROC_CAPS) {
		/* masks, not names: captures stay compact (readers accept both) */
		put_int(w, o, "cap_effective", (int64_t)p->cap_effective);
		put_int(w, o, "cap_permitted", (int64_t)p->cap_permitted);
		put_int(w, o, "cap_inheritable", (int64_t)p->cap_inheritable);
	}
	if (p->valid & EVENT_PROC_START)
		put_int(w, o, "start_ts", (int64_t)p->start_ns);
	if (p->valid & EVENT_PROC_EXE_FLAGS) {
		put(w, o, "exe_from_memfd", json_boolean(p->exe_from_memfd));
		put(w, o, "exe_upper_layer", json_boolean(p->exe_upper_layer));
		put(w, o, "exe_lower_layer", json_boolean(p->exe_lower_layer));
		put(w, o, "exe_writable", json_boolean(p->exe_writable));
	}
	if (p->valid & EVENT_PROC_EXE_INO) {
		put_int(w, o, "exe_ino", (int64_t)p->exe_ino);
		put_int(w, o, "exe_ctime", (int64_t)p->exe_ctime_ns);
		put_int(w, o, "exe_mtime", (int64_t)p->exe_mtime_ns);
	}
	return o;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* NULL and "" differ: NULL is "unknown" */
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

/* A hash of everything proc_json writes of p. */
static uint64_t proc_hash(const struct event_process *p)
{
	const char *strs[] = { p->name,	 p->exe,       p->exepath, p->cwd,  p->user,
			       p->group, p->loginname, p->homedir, p->shell };
	const uint64_t nums[] = {
		p->valid,
		(uint64_t)p->pid,
		(uint64_t)p->tid,
		(uint64_t)p->ppid,
		(uint64_t)p->vpid,
		(uint64_t)p->vtid,
		(uint64_t)p->sid,
		(uint64_t)p->vpgid,
		p->tty,
		p->uid,
		p->gid,
		p->euid,
		p->egid,
		p->loginuid,
		p->cap_effective,
		p->cap_permitted,
		p->cap_inheritable,
		p->start_ns,
		p->exe_from_memfd,
		p->exe_upper_layer,
		p->exe_writable,
		p->exe_lower_layer,
		p->exe_ino,
		p->exe_ctime_ns,
		p->exe_mtime_ns,
		p->n_args,
		p->n_env,
		!!p->args,
		!!p->env,
	};
	uint64_t h = fnv(0xcbf29ce484222325ull, nums, sizeof(nums));

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		h = fnv_str(h, strs[i]);
	for (size_t i = 0; p->args && i < p->n_args; i++)
		h = fnv_str(h, p->args[i]);
	for (size_t i = 0; p->env && i < p->n_env; i++)
		h = fnv_str(h, p->env[i]);
	return h;
}

/* One process: {"ref": slot} when the writer defined this very content there last, else in
 * full (with "id": slot when writing through a writer). */
static json_t *proc_or_ref(struct wctx *w, const struct event_process *p)
{
	struct wslot *sl;
	uint64_t h, slot;
	json_t *o;

	if (!w->ew)
		return proc_json(w, p);
	h = proc_hash(p);
	slot = ((uint64_t)p->pid * 0x9e3779b97f4a7c15ull >> 32) % WRITER_SLOTS;
	sl = &w->ew->slots[slot];
	if (sl->used && sl->pid == p->pid && sl->hash == h)
		return json_pack("{s:I}", "ref", (json_int_t)slot);
	o = proc_json(w, p);
	if (o) {
		put_int(w, o, "id", (int64_t)slot);
		*sl = (struct wslot){ p->pid, h, true };
	}
	return o;
}

/* The event's process and, under "ancestors", its parents (parent first). */
static json_t *proc_tree_json(struct wctx *w, const struct event_process *p)
{
	json_t *o = proc_or_ref(w, p), *anc;

	if (!o || !p->parent)
		return o;
	anc = json_array();
	if (!anc) {
		w->oom = true;
		return o;
	}
	for (const struct event_process *a = p->parent; a; a = a->parent)
		if (json_array_append_new(anc, proc_or_ref(w, a)))
			w->oom = true;
	put(w, o, "ancestors", anc);
	return o;
}

static json_t *fd_json(struct wctx *w, const struct event_fd *f)
{
	json_t *o = json_object();
	char type[2] = { f->type, 0 };

	if (!o)
		return NULL;
	if (f->valid & EVENT_FD_NUM)
		put_int(w, o, "num", f->num);
	if (f->type)
		put_str(w, o, "type", type);
	put_str(w, o, "name", f->name);
	put_str(w, o, "nameraw", f->nameraw);
	switch (f->l4proto) {
	case 0:
		break;
	case IPPROTO_TCP:
		put_str(w, o, "l4proto", "tcp");
		break;
	case IPPROTO_UDP:
		put_str(w, o, "l4proto", "udp");
		break;
	case IPPROTO_ICMP:
		put_str(w, o, "l4proto", "icmp");
		break;
	case IPPROTO_RAW:
		put_str(w, o, "l4proto", "raw");
		break;
	default:
		put_int(w, o, "l4proto", f->l4proto);
	}
	if (f->valid & EVENT_FD_TUPLE) {
		put(w, o, "client", sockaddr_json(&f->client));
		put(w, o, "server", sockaddr_json(&f->server));
	}
	if (f->valid & EVENT_FD_ROLE)
		put(w, o, "is_server", json_boolean(f->is_server));
	if (f->valid & EVENT_FD_CONNECTED)
		put(w, o, "connected", json_boolean(f->connected));
	if (f->name_changed)
		put(w, o, "name_changed", json_true());
	if (f->is_memfd)
		put(w, o, "memfd", json_true());
	if (f->valid & EVENT_FD_INO) {
		put_int(w, o, "dev", (int64_t)f->dev);
		put_int(w, o, "ino", (int64_t)f->ino);
	}
	return o;
}

static json_t *container_json(struct wctx *w, const struct event_container *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put_str(w, o, "id", c->id);
	put_str(w, o, "full_id", c->full_id);
	put_str(w, o, "name", c->name);
	put_str(w, o, "type", c->type);
	put_str(w, o, "image", c->image);
	put_str(w, o, "image_repository", c->image_repository);
	put_str(w, o, "image_tag", c->image_tag);
	put_str(w, o, "image_digest", c->image_digest);
	if (c->privileged >= 0)
		put(w, o, "privileged", json_boolean(c->privileged));
	if (c->start_ns)
		put_int(w, o, "start_ts", (int64_t)c->start_ns);
	return o;
}

static json_t *k8s_json(struct wctx *w, const struct event_k8s *k)
{
	json_t *o = json_object(), *labels;

	if (!o)
		return NULL;
	put_str(w, o, "pod_name", k->pod_name);
	put_str(w, o, "ns_name", k->ns_name);
	put_str(w, o, "pod_uid", k->pod_uid);
	if (k->label_keys) {
		labels = json_object();
		if (!labels) {
			w->oom = true;
			return o;
		}
		for (size_t i = 0; i < k->n_labels; i++)
			put_str(w, labels, k->label_keys[i], k->label_values[i]);
		put(w, o, "labels", labels);
	}
	return o;
}

static char *dump(const struct syscall_event *e, struct event_writer *ew)
{
	struct wctx w = { false, ew };
	json_t *o;
	char *s = NULL;

	if (e->type >= SYSCALL_EVT__COUNT) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	if (!o) {
		errno = ENOMEM;
		return NULL;
	}
	put_str(&w, o, "type", syscall_event_type_names[e->type]);
	if (e->num)
		put_int(&w, o, "num", (int64_t)e->num);
	put_int(&w, o, "ts", (int64_t)e->ts);
	put_int(&w, o, "cpu", e->cpu);
	put_int(&w, o, "tid", e->tid);
	put_int(&w, o, "res", e->res);
	put(&w, o, "args", args_json(&w, e));
	if (e->proc)
		put(&w, o, "proc", proc_tree_json(&w, e->proc));
	if (e->fd)
		put(&w, o, "fd", fd_json(&w, e->fd));
	if (e->container)
		put(&w, o, "container", container_json(&w, e->container));
	if (e->k8s)
		put(&w, o, "k8s", k8s_json(&w, e->k8s));
	if (!w.oom)
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		errno = ENOMEM;
	return s;
}

int event_json_fwrite(const struct syscall_event *e, FILE *f)
{
	char *s = event_json_dump(e);
	int err = 0;

	if (!s)
		return -errno;
	if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
		err = -EIO;
	free(s);
	return err;
}

char *event_json_dump(const struct syscall_event *e)
{
	return dump(e, NULL);
}

struct event_writer *event_writer_new(FILE *f)
{
	struct event_writer *w = calloc(1, sizeof(*w));

	if (w)
		w->f = f;
	return w;
}

void event_writer_free(struct event_writer *w)
{
	free(w);
}

int event_writer_write(struct event_writer *w, const struct syscall_event *e)
{
	char *s = dump(e, w);
	int err = 0;

	if (!s || fputs(s, w->f) == EOF || fputc('\n', w->f) == EOF) {
		err = s ? -EIO : -errno;
		/* what the file holds is unknown now: define every process again */
		memset(w->slots, 0, sizeof(w->slots));
	}
	free(s);
	return err;
}
