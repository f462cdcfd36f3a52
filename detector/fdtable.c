// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "detector/fdtable.h"

#define EMPTY (-1)
#define TOMB (-2)

struct slot {
	int64_t num; /* EMPTY, TOMB or the fd */
	bool cloexec;
	char *name;
	struct event_fd fd;
};

struct fdtable {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t used; /* live entries */
	size_t filled; /* live + tombstones */
	size_t max;
	uint64_t overflows;
};

static size_t hash(int64_t num, size_t cap)
{
	return ((uint64_t)num * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
}

static struct slot *slots_new(size_t cap)
{
	struct slot *s = malloc(cap * sizeof(*s));

	if (!s)
		return NULL;
	for (size_t i = 0; i < cap; i++)
		s[i].num = EMPTY;
	return s;
}

struct fdtable *fdtable_new(size_t max)
{
	struct fdtable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = 16;
	t->max = max ? max : 65536;
	t->slots = slots_new(t->cap);
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void fdtable_free(struct fdtable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].num >= 0)
			free(t->slots[i].name);
	free(t->slots);
	free(t);
}

/* Points name and a unix socket's path at the slot's own copy. */
static void fix_ptrs(struct slot *s)
{
	s->fd.name = s->name;
	s->fd.nameraw = NULL;
	if (s->fd.client.path)
		s->fd.client.path = s->name;
	if (s->fd.server.path)
		s->fd.server.path = s->name;
}

static struct slot *find(const struct fdtable *t, int64_t num)
{
	size_t i = hash(num, t->cap);

	for (size_t n = 0; n < t->cap; n++, i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].num == num)
			return &t->slots[i];
		if (t->slots[i].num == EMPTY)
			return NULL;
	}
	return NULL;
}

static int rehash(struct fdtable *t, size_t cap)
{
	struct slot *ns = slots_new(cap), *old = t->slots;
	size_t ocap = t->cap;

	if (!ns)
		return -ENOMEM;
	t->slots = ns;
	t->cap = cap;
	t->filled = t->used;
	for (size_t i = 0; i < ocap; i++) {
		size_t j;

		if (old[i].num < 0)
			continue;
		j = hash(old[i].num, cap);
		while (ns[j].num != EMPTY)
			j = (j + 1) & (cap - 1);
		ns[j] = old[i];
	}
	free(old);
	return 0;
}

struct fdtable *fdtable_clone(const struct fdtable *t)
{
	struct fdtable *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	*c = *t;
	c->overflows = 0;
	if (!t->cap)
		return c; /* cleared: nothing to copy */
	c->slots = malloc(t->cap * sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	memcpy(c->slots, t->slots, t->cap * sizeof(*c->slots));
	for (size_t i = 0; i < c->cap; i++) {
		struct slot *s = &c->slots[i];

		if (s->num < 0)
			continue;
		if (s->name && !(s->name = strdup(s->name))) {
			for (size_t j = 0; j < i; j++)
				if (c->slots[j].num >= 0)
					free(c->slots[j].name);
			free(c->slots);
			free(c);
			errno = ENOMEM;
			return NULL;
		}
		fix_ptrs(s);
	}
	return c;
}

struct event_fd *fdtable_get(struct fdtable *t, int64_t num)
{
	struct slot *s = num >= 0 ? find(t, num) : NULL;

	return s ? &s->fd : NULL;
}

/* The slot for num, created empty when absent. NULL with errno set. */
static struct slot *slot_for(struct fdtable *t, int64_t num)
{
	struct slot *s = find(t, num);
	size_t i;

	if (s)
		return s;
	if (t->used >= t->max) {
		t->overflows++;
		errno = ENOSPC;
		return NULL;
	}
	if (!t->cap && rehash(t, 16)) { /* cleared by fdtable_clear */
		errno = ENOMEM;
		return NULL;
	}
	if ((t->filled + 1) * 4 > t->cap * 3 &&
	    rehash(t, (t->used + 1) * 4 > t->cap * 2 ? t->cap * 2 : t->cap)) {
		errno = ENOMEM;
		return NULL;
	}
	i = hash(num, t->cap);
	while (t->slots[i].num >= 0)
		i = (i + 1) & (t->cap - 1);
	s = &t->slots[i];
	if (s->num == EMPTY)
		t->filled++;
	t->used++;
	s->num = num;
	s->name = NULL;
	memset(&s->fd, 0, sizeof(s->fd));
	return s;
}

struct event_fd *fdtable_set(struct fdtable *t, int64_t num, const struct event_fd *tmpl,
			     bool cloexec)
{
	const char *src = tmpl->name;
	char *name = NULL;
	struct slot *s;

	if (num < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!src)
		src = tmpl->server.path ? tmpl->server.path : tmpl->client.path;
	if (src && !(name = strdup(src)))
		return NULL;
	s = slot_for(t, num);
	if (!s) {
		free(name);
		return NULL;
	}
	free(s->name);
	s->name = name;
	s->cloexec = cloexec;
	s->fd = *tmpl;
	s->fd.num = num;
	s->fd.valid |= EVENT_FD_NUM;
	fix_ptrs(s);
	return &s->fd;
}

int fdtable_rename(struct fdtable *t, int64_t num, const char *name)
{
	struct slot *s = num >= 0 ? find(t, num) : NULL;
	char *n;

	if (!s)
		return -ENOENT;
	if (s->name && name && !strcmp(s->name, name))
		return 0;
	n = name ? strdup(name) : NULL;
	if (name && !n)
		return -ENOMEM;
	free(s->name);
	s->name = n;
	fix_ptrs(s);
	return 0;
}

int fdtable_dup(struct fdtable *t, int64_t oldfd, int64_t newfd, bool cloexec)
{
	struct event_fd copy;
	struct slot *o = oldfd >= 0 ? find(t, oldfd) : NULL;
	char *name;

	if (!o)
		return -ENOENT;
	if (oldfd == newfd)
		return 0;
	copy = o->fd;
	name = o->name ? strdup(o->name) : NULL;
	if (o->name && !name)
		return -ENOMEM;
	copy.name = name;
	copy.client.path = copy.client.path ? name : NULL;
	copy.server.path = copy.server.path ? name : NULL;
	if (!fdtable_set(t, newfd, &copy, cloexec)) {
		free(name);
		return -errno;
	}
	free(name);
	return 0;
}

void fdtable_del(struct fdtable *t, int64_t num)
{
	struct slot *s = num >= 0 ? find(t, num) : NULL;

	if (!s)
		return;
	free(s->name);
	s->name = NULL;
	s->num = TOMB;
	t->used--;
}

void fdtable_exec(struct fdtable *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].num >= 0 && t->slots[i].cloexec)
			fdtable_del(t, t->slots[i].num);
}

void fdtable_clear(struct fdtable *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].num >= 0)
			free(t->slots[i].name);
	free(t->slots);
	t->slots = NULL;
	t->cap = t->used = t->filled = 0;
}

size_t fdtable_count(const struct fdtable *t)
{
	return t->used;
}

uint64_t fdtable_overflows(const struct fdtable *t)
{
	return t->overflows;
}

/* Type char of an anonymous inode's link text, or 'o'. */
static char anon_type(const char *link)
{
	static const struct {
		const char *s;
		char c;
	} map[] = {
		{ "anon_inode:[eventfd]", 'e' },     { "anon_inode:[eventpoll]", 'l' },
		{ "anon_inode:inotify", 'i' },	     { "anon_inode:[signalfd]", 's' },
		{ "anon_inode:[timerfd]", 't' },     { "anon_inode:bpf", 'b' },
		{ "anon_inode:[userfaultfd]", 'r' }, { "anon_inode:[io_uring]", 'c' },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strncmp(link, map[i].s, strlen(map[i].s)))
			return map[i].c;
	return 'o';
}

struct event_fd *fdtable_learn(struct fdtable *t, int pid, int64_t num)
{
	char path[64], link[4096];
	struct event_fd tmpl = { 0 };
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%lld", pid, (long long)num);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return NULL;
	link[n] = 0;
	if (link[0] == '/') {
		bool memfd = !strncmp(link, "/memfd:", 7);

		tmpl.type = 'f';
		if (!memfd && !stat(path, &st)) {
			if (S_ISDIR(st.st_mode))
				tmpl.type = 'd';
			tmpl.dev = st.st_dev;
			tmpl.ino = st.st_ino;
			tmpl.valid |= EVENT_FD_INO;
		}
		tmpl.is_memfd = memfd;
		tmpl.name = memfd ? link + 1 : link;
	} else if (!strncmp(link, "pipe:", 5)) {
		tmpl.type = 'p';
		tmpl.name = link;
	} else if (!strncmp(link, "socket:", 7)) {
		tmpl.type = 'o'; /* the family shows once a connect/sendto tuple is seen */
	} else {
		tmpl.type = anon_type(link);
		tmpl.name = link;
	}
	return fdtable_set(t, num, &tmpl, false);
}

int fd_path_resolve(const char *base, const char *path, char *out, size_t len)
{
	size_t o = 0;
	const char *parts[2] = { NULL, path };

	if (!path)
		return -EINVAL;
	if (path[0] != '/') {
		if (!base || base[0] != '/')
			return -EINVAL;
		parts[0] = base;
	}
	if (len < 2)
		return -ENAMETOOLONG;
	out[o++] = '/';
	for (int k = 0; k < 2; k++) {
		const char *p = parts[k];

		while (p && *p) {
			const char *e;
			size_t cl;

			while (*p == '/')
				p++;
			if (!*p)
				break;
			e = strchr(p, '/');
			cl = e ? (size_t)(e - p) : strlen(p);
			if (cl == 1 && p[0] == '.') {
				/* nothing */
			} else if (cl == 2 && p[0] == '.' && p[1] == '.') {
				if (o > 1) {
					o--; /* the '/' after the last component */
					while (o > 1 && out[o - 1] != '/')
						o--;
				}
			} else {
				if (o + cl + 1 >= len)
					return -ENAMETOOLONG;
				memcpy(out + o, p, cl);
				o += cl;
				out[o++] = '/';
			}
			p += cl;
		}
	}
	if (o > 1)
		o--; /* no trailing '/' */
	out[o] = 0;
	return (int)o;
}
