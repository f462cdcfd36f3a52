// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "detector/proctable.h"

#define NBUCKETS 8192
#define MAX_NAMES 1024
#define MAX_DEPTH 32
#define OVERLAYFS_MAGIC 0x794c7630

struct id_name {
	uint32_t id;
	bool group;
	char *name, *home, *shell;
};

struct proctable {
	struct proctable_opts o;
	struct proc_entry *buckets[NBUCKETS];
	size_t count;
	uint64_t overflows;
	struct proc_entry *xhead, *xtail; /* exited, oldest first */
	/* bumped when an entry comes or goes or a ppid changes: parent chains may differ */
	uint64_t gen;
	struct id_name *names;
	size_t n_names;
	long hz;
};

uint64_t proctable_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t bucket(int64_t pid)
{
	return (size_t)((uint64_t)pid * 0x9E3779B97F4A7C15ull >> 51) & (NBUCKETS - 1);
}

struct proctable *proctable_new(const struct proctable_opts *opts)
{
	struct proctable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (opts)
		t->o = *opts;
	if (!t->o.max_procs)
		t->o.max_procs = 32768;
	if (!t->o.exit_grace_ms)
		t->o.exit_grace_ms = 5000;
	if (!t->o.proc_root)
		t->o.proc_root = "/proc";
	t->hz = sysconf(_SC_CLK_TCK);
	if (t->hz <= 0)
		t->hz = 100;
	t->names = calloc(MAX_NAMES, sizeof(*t->names));
	if (!t->names) {
		free(t);
		return NULL;
	}
	return t;
}

static void entry_free(struct proc_entry *e)
{
	fdtable_free(e->fds);
	free(e->exe);
	free(e->exepath);
	free(e->cwd);
	free(e->argbuf);
	free(e->argv);
	free(e);
}

void proctable_free(struct proctable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct proc_entry *e = t->buckets[i], *n;

		for (; e; e = n) {
			n = e->hnext;
			entry_free(e);
		}
	}
	for (size_t i = 0; i < t->n_names; i++) {
		free(t->names[i].name);
		free(t->names[i].home);
		free(t->names[i].shell);
	}
	free(t->names);
	free(t);
}

/* ---- user and group names ------------------------------------------------------------- */

static struct id_name *id_lookup(struct proctable *t, uint32_t id, bool group)
{
	struct id_name *n;
	char buf[4096];

	for (size_t i = 0; i < t->n_names; i++)
		if (t->names[i].id == id && t->names[i].group == group)
			return &t->names[i];
	if (t->n_names == MAX_NAMES)
		return NULL;
	n = &t->names[t->n_names];
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->group = group;
	if (group) {
		struct group gr, *res = NULL;

		if (!getgrgid_r(id, &gr, buf, sizeof(buf), &res) && res)
			n->name = strdup(gr.gr_name);
	} else {
		struct passwd pw, *res = NULL;

		if (!getpwuid_r(id, &pw, buf, sizeof(buf), &res) && res) {
			n->name = strdup(pw.pw_name);
			n->home = strdup(pw.pw_dir);
			n->shell = strdup(pw.pw_shell);
		}
	}
	/* An id without a name is cached too: NULL (missing), looked up once. */
	t->n_names++;
	return n;
}

const char *proctable_user_name(struct proctable *t, uint32_t uid)
{
	struct id_name *n = id_lookup(t, uid, false);

	return n ? n->name : NULL;
}

const char *proctable_group_name(struct proctable *t, uint32_t gid)
{
	struct id_name *n = id_lookup(t, gid, true);

	return n ? n->name : NULL;
}

static void set_ids(struct proctable *t, struct proc_entry *e, uint32_t uid, uint32_t gid,
		    uint32_t euid, uint32_t egid, uint32_t loginuid)
{
	struct id_name *u;

	if (!(e->p.valid & EVENT_PROC_UID) || e->p.uid != uid || !e->p.user) {
		u = id_lookup(t, uid, false);
		e->p.user = u ? u->name : NULL;
		e->p.homedir = u ? u->home : NULL;
		e->p.shell = u ? u->shell : NULL;
	}
	if (!(e->p.valid & EVENT_PROC_UID) || e->p.gid != gid || !e->p.group)
		e->p.group = proctable_group_name(t, gid);
	if (!(e->p.valid & EVENT_PROC_LOGINUID) || e->p.loginuid != loginuid)
		e->p.loginname = loginuid == (uint32_t)-1 ? NULL : proctable_user_name(t, loginuid);
	e->p.uid = uid;
	e->p.gid = gid;
	e->p.euid = euid;
	e->p.egid = egid;
	e->p.loginuid = loginuid;
	e->p.valid |= EVENT_PROC_UID | EVENT_PROC_LOGINUID;
}

/* ---- entries -------------------------------------------------------------------------- */

struct proc_entry *proctable_find(struct proctable *t, int64_t pid)
{
	struct proc_entry *e = t->buckets[bucket(pid)];

	while (e && e->p.pid != pid)
		e = e->hnext;
	return e;
}

static void x_unlink(struct proctable *t, struct proc_entry *e)
{
	if (e->xprev)
		e->xprev->xnext = e->xnext;
	else
		t->xhead = e->xnext;
	if (e->xnext)
		e->xnext->xprev = e->xprev;
	else
		t->xtail = e->xprev;
	e->xprev = e->xnext = NULL;
}

static void remove_entry(struct proctable *t, struct proc_entry *e)
{
	struct proc_entry **pp = &t->buckets[bucket(e->p.pid)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->exited)
		x_unlink(t, e);
	t->count--;
	t->gen++;
	entry_free(e);
}

/*
 * A new empty entry for pid (an exited one with that pid is replaced), with an empty fd table
 * when fds; without one, the caller gives it its table. NULL when full.
 */
static struct proc_entry *add_entry(struct proctable *t, int64_t pid, bool fds)
{
	struct proc_entry *e = proctable_find(t, pid);
	size_t b;

	if (e)
		remove_entry(t, e);
	if (t->count >= t->o.max_procs && t->xhead)
		remove_entry(t, t->xhead);
	if (t->count >= t->o.max_procs) {
		t->overflows++;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fds = fds ? fdtable_new(t->o.max_fds) : NULL;
	if (fds && !e->fds) {
		free(e);
		return NULL;
	}
	e->p.pid = e->p.tid = pid;
	e->p.loginuid = (uint32_t)-1;
	e->p.valid = EVENT_PROC_PID | EVENT_PROC_TID;
	e->p.name = e->comm;
	b = bucket(pid);
	e->hnext = t->buckets[b];
	t->buckets[b] = e;
	t->count++;
	t->gen++;
	return e;
}

static int set_str(char **dst, const char **view, const char *s)
{
	char *n = s ? strdup(s) : NULL;

	if (s && !n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	*view = n;
	return 0;
}

/* argv[1..] from a NUL-separated argv block (argv[0] included, len bytes). */
static int set_args(struct proc_entry *e, const char *argv, size_t len)
{
	size_t n = 0, first;
	char *buf;
	const char **v;

	free(e->argbuf);
	free(e->argv);
	e->argbuf = NULL;
	e->argv = NULL;
	e->p.args = NULL;
	e->p.n_args = 0;
	if (!argv || !len)
		return 0;
	first = strnlen(argv, len);
	if (first >= len)
		return 0;
	argv += first + 1;
	len -= first + 1;
	if (!len)
		return 0;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, argv, len);
	buf[len] = 0;
	for (size_t i = 0; i < len; i++)
		if (!buf[i] || i == len - 1)
			n++;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v) {
		free(buf);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < len;) {
		v[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	e->argbuf = buf;
	e->argv = v;
	e->p.args = v;
	e->p.n_args = n;
	return 0;
}

/* argv[0] of a NUL-separated block. */
static int set_exe(struct proc_entry *e, const char *argv, size_t len)
{
	char tmp[4096];
	size_t l;

	if (!argv || !len)
		return set_str(&e->exe, &e->p.exe, NULL);
	l = strnlen(argv, len);
	if (l >= sizeof(tmp))
		l = sizeof(tmp) - 1;
	memcpy(tmp, argv, l);
	tmp[l] = 0;
	return set_str(&e->exe, &e->p.exe, tmp);
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return (ssize_t)got;
}

static void set_cwd(struct proc_entry *e, const char *dir)
{
	size_t l = strlen(dir);
	char *c = malloc(l + 2);

	if (!c)
		return;
	memcpy(c, dir, l + 1);
	if (!l || c[l - 1] != '/') {
		c[l] = '/';
		c[l + 1] = 0;
	}
	free(e->cwd);
	e->cwd = c;
	e->p.cwd = c;
}

/* exe flags and inode from the exe link of a live process (stat through /proc). */
static void exe_stat(struct proc_entry *e, const char *exe_link)
{
	struct stat st;
	struct statfs sf;

	if (stat(exe_link, &st))
		return;
	e->p.exe_ino = st.st_ino;
	e->p.exe_ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000ull + st.st_ctim.tv_nsec;
	e->p.exe_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	e->p.valid |= EVENT_PROC_EXE_INO;
	e->p.exe_writable = st.st_mode & S_IWUSR;
	e->p.exe_from_memfd = e->exepath && !strncmp(e->exepath, "/memfd:", 7);
	/* On overlayfs the layer is not knowable from here: leave the flags unknown. */
	if (!statfs(exe_link, &sf) && sf.f_type != OVERLAYFS_MAGIC) {
		e->p.exe_upper_layer = false;
		e->p.exe_lower_layer = false;
		e->p.valid |= EVENT_PROC_EXE_FLAGS;
	}
}

static void fix_container_ptrs(struct proc_entry *e)
{
	e->cont.c.id = e->cont.id;
	e->cont.c.type = e->cont.type;
	e->cont.c.full_id = e->cont.full_id[0] ? e->cont.full_id : NULL;
}

/* Reads /proc/PID into a new entry. NULL when the process is gone or the table full. */
static struct proc_entry *load_pid(struct proctable *t, int64_t pid)
{
	char path[128], buf[8192], link[4096];
	struct proc_entry *e;
	unsigned long long start = 0, caps[3] = { 0 };
	unsigned int u[4] = { 0 }, g[4] = { 0 }, loginuid = (unsigned)-1;
	long long ppid = 0, pgrp = 0, sid = 0, tty = 0, nspid = -1;
	bool have_caps = false, have_ids = false;
	ssize_t n;
	char *p, *close_paren, *line;

	snprintf(path, sizeof(path), "%s/%lld/stat", t->o.proc_root, (long long)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return NULL;
	close_paren = strrchr(buf, ')');
	p = strchr(buf, '(');
	if (!close_paren || !p)
		return NULL;
	e = add_entry(t, pid, true);
	if (!e)
		return NULL;
	{
		size_t cl = (size_t)(close_paren - p - 1);

		if (cl > LANNER_COMM_LEN - 1)
			cl = LANNER_COMM_LEN - 1;
		memcpy(e->comm, p + 1, cl);
		e->comm[cl] = 0;
	}
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice num_threads itrealvalue starttime */
	if (sscanf(close_paren + 2,
		   "%*c %lld %lld %lld %lld %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &ppid, &pgrp, &sid, &tty, &start) == 5) {
		e->p.ppid = ppid;
		e->p.sid = sid;
		e->p.vpgid = pgrp;
		e->p.tty = (uint32_t)tty;
		e->p.start_ns = (uint64_t)t->o.boot_to_epoch +
				start * 1000000000ull / (unsigned long long)t->hz;
		e->p.valid |= EVENT_PROC_PPID | EVENT_PROC_SID | EVENT_PROC_VPGID | EVENT_PROC_TTY |
			      EVENT_PROC_START;
	}
	snprintf(path, sizeof(path), "%s/%lld/status", t->o.proc_root, (long long)pid);
	if (read_file(path, buf, sizeof(buf)) > 0) {
		for (line = buf; line && *line;
		     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
			if (sscanf(line, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) == 4)
				have_ids = true;
			else if (sscanf(line, "Gid: %u %u %u %u", &g[0], &g[1], &g[2], &g[3]) == 4)
				;
			else if (sscanf(line, "CapInh: %llx", &caps[0]) == 1)
				;
			else if (sscanf(line, "CapPrm: %llx", &caps[1]) == 1)
				;
			else if (sscanf(line, "CapEff: %llx", &caps[2]) == 1)
				have_caps = true;
			else if (!strncmp(line, "NSpid:", 6)) {
				char *s = line + 6, *end;

				for (;;) {
					long long v = strtoll(s, &end, 10);

					if (end == s)
						break;
					nspid = v;
					s = end;
				}
			}
		}
	}
	snprintf(path, sizeof(path), "%s/%lld/loginuid", t->o.proc_root, (long long)pid);
	if (read_file(path, buf, sizeof(buf)) > 0)
		loginuid = (unsigned)strtoul(buf, NULL, 10);
	if (have_ids)
		set_ids(t, e, u[0], g[0], u[1], g[1], loginuid);
	if (have_caps) {
		e->p.cap_inheritable = caps[0];
		e->p.cap_permitted = caps[1];
		e->p.cap_effective = caps[2];
		e->p.valid |= EVENT_PROC_CAPS;
	}
	if (nspid >= 0) {
		e->p.vpid = e->p.vtid = nspid;
		e->p.valid |= EVENT_PROC_VPID;
	}
	snprintf(path, sizeof(path), "%s/%lld/cmdline", t->o.proc_root, (long long)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n > 0) {
		set_exe(e, buf, (size_t)n);
		set_args(e, buf, (size_t)n);
	}
	snprintf(path, sizeof(path), "%s/%lld/cwd", t->o.proc_root, (long long)pid);
	n = readlink(path, link, sizeof(link) - 2);
	if (n > 0) {
		link[n] = 0;
		set_cwd(e, link);
	}
	snprintf(path, sizeof(path), "%s/%lld/exe", t->o.proc_root, (long long)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		set_str(&e->exepath, &e->p.exepath, link);
		exe_stat(e, path);
	}
	if (container_of_pid((int)pid, &e->cont) >= 0) {
		e->cont_known = true;
		e->cont.c.id = e->cont.id;
		e->cont.c.type = e->cont.type;
		e->cont.c.full_id = e->cont.full_id[0] ? e->cont.full_id : NULL;
	}
	return e;
}

int proctable_seed(struct proctable *t)
{
	DIR *d = opendir(t->o.proc_root);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long long pid = strtoll(de->d_name, &end, 10);

		if (*end || pid <= 0 || proctable_find(t, pid))
			continue;
		if (load_pid(t, pid))
			n++;
	}
	closedir(d);
	return n;
}

struct proc_entry *proctable_get(struct proctable *t, int64_t pid)
{
	struct proc_entry *e = proctable_find(t, pid);

	return e ? e : load_pid(t, pid);
}

static void refresh_container(struct proc_entry *e, uint64_t cgroup_id)
{
	struct container_info ci;

	e->cgroup_id = cgroup_id;
	if (container_of_pid((int)e->p.pid, &ci) >= 0) {
		e->cont = ci;
		e->cont_known = true;
		fix_container_ptrs(e);
	}
}

struct proc_entry *proctable_of_record(struct proctable *t, const struct lanner_rec *rec)
{
	struct proc_entry *e = proctable_find(t, rec->tgid);

	if (!e) {
		e = load_pid(t, rec->tgid);
		if (e)
			e->cgroup_id = rec->cgroup_id;
	}
	if (!e) {
		struct proc_entry *parent = proctable_find(t, rec->ppid);

		e = add_entry(t, rec->tgid, true);
		if (!e)
			return NULL;
		e->cgroup_id = rec->cgroup_id;
		/* gone from /proc already: a child stays in its parent's container */
		if (parent && parent != e && parent->cont_known &&
		    (!parent->cgroup_id || parent->cgroup_id == rec->cgroup_id)) {
			e->cont = parent->cont;
			e->cont_known = true;
			fix_container_ptrs(e);
		}
	}
	if (rec->ppid && rec->ppid != rec->tgid &&
	    (e->p.ppid != rec->ppid || !(e->p.valid & EVENT_PROC_PPID))) {
		e->p.ppid = rec->ppid; /* reparented */
		e->p.valid |= EVENT_PROC_PPID;
		t->gen++;
	}
	set_ids(t, e, rec->uid, rec->gid, rec->euid, rec->egid, rec->loginuid);
	if (rec->tid == rec->tgid && strncmp(e->comm, rec->comm, LANNER_COMM_LEN)) {
		memcpy(e->comm, rec->comm, LANNER_COMM_LEN);
		e->comm[LANNER_COMM_LEN] = 0;
	}
	if (rec->cgroup_id != e->cgroup_id && !e->exited)
		refresh_container(e, rec->cgroup_id);
	return e;
}

void proctable_fork(struct proctable *t, const struct lanner_rec *rec,
		    const struct lanner_fork_info *f)
{
	struct proc_entry *parent, *c;

	if (f->clone_flags_hint == 1 || f->child_tgid == rec->tgid)
		return; /* a new thread */
	c = proctable_find(t, f->child_tgid);
	if (c && !c->exited)
		return; /* already known (its records came first, from another CPU) */
	parent = proctable_of_record(t, rec);
	if (!parent || parent->exited)
		return; /* a late record: the child is read from /proc on its first record */
	c = add_entry(t, f->child_tgid, false);
	if (!c)
		return;
	/* add_entry may have freed an exited entry but never a live parent */
	c->fds = fdtable_clone(parent->fds);
	if (!c->fds) {
		c->fds = fdtable_new(t->o.max_fds);
		if (!c->fds) {
			remove_entry(t, c);
			return;
		}
	}
	memcpy(c->comm, parent->comm, sizeof(c->comm));
	c->p.valid = parent->p.valid | EVENT_PROC_PID | EVENT_PROC_TID | EVENT_PROC_PPID;
	c->p.valid &= ~(uint32_t)EVENT_PROC_VPID;
	if ((parent->p.valid & EVENT_PROC_VPID) && parent->p.vpid == parent->p.pid) {
		/* the parent lives in the initial pid namespace: so does the child */
		c->p.vpid = c->p.vtid = f->child_tgid;
		c->p.valid |= EVENT_PROC_VPID;
	}
	c->p.pid = c->p.tid = f->child_tgid;
	c->p.ppid = rec->tgid;
	c->p.sid = parent->p.sid;
	c->p.vpgid = parent->p.vpgid;
	c->p.tty = parent->p.tty;
	set_ids(t, c, parent->p.uid, parent->p.gid, parent->p.euid, parent->p.egid,
		parent->p.loginuid);
	c->p.cap_effective = parent->p.cap_effective;
	c->p.cap_permitted = parent->p.cap_permitted;
	c->p.cap_inheritable = parent->p.cap_inheritable;
	c->p.start_ns = (uint64_t)(f->child_start_ns + (uint64_t)t->o.boot_to_epoch);
	c->p.valid |= EVENT_PROC_START;
	c->p.exe_from_memfd = parent->p.exe_from_memfd;
	c->p.exe_upper_layer = parent->p.exe_upper_layer;
	c->p.exe_lower_layer = parent->p.exe_lower_layer;
	c->p.exe_writable = parent->p.exe_writable;
	c->p.exe_ino = parent->p.exe_ino;
	c->p.exe_ctime_ns = parent->p.exe_ctime_ns;
	c->p.exe_mtime_ns = parent->p.exe_mtime_ns;
	set_str(&c->exe, &c->p.exe, parent->exe);
	set_str(&c->exepath, &c->p.exepath, parent->exepath);
	if (parent->cwd)
		set_cwd(c, parent->cwd);
	if (parent->p.n_args) {
		size_t len = 0;

		for (size_t i = 0; i < parent->p.n_args; i++)
			len += strlen(parent->p.args[i]) + 1;
		/* set_args skips argv[0]: prepend an empty one */
		{
			char *blk = malloc(len + 1);

			if (blk) {
				size_t o = 0;

				blk[o++] = 0;
				for (size_t i = 0; i < parent->p.n_args; i++) {
					size_t l = strlen(parent->p.args[i]) + 1;

					memcpy(blk + o, parent->p.args[i], l);
					o += l;
				}
				set_args(c, blk, o);
				free(blk);
			}
		}
	}
	c->cont = parent->cont;
	c->cont_known = parent->cont_known;
	fix_container_ptrs(c);
	c->cgroup_id = rec->cgroup_id;
}

struct proc_entry *proctable_exec(struct proctable *t, const struct lanner_rec *rec,
				  const struct decode_exec *x)
{
	struct proc_entry *e = proctable_of_record(t, rec);
	char path[128], link[4096];
	ssize_t n;

	if (!e)
		return NULL;
	memcpy(e->comm, rec->comm, LANNER_COMM_LEN);
	e->comm[LANNER_COMM_LEN] = 0;
	set_exe(e, x->argv, x->argv_len);
	set_args(e, x->argv, x->argv_len);
	e->p.cap_effective = x->info.cap_effective;
	e->p.cap_permitted = x->info.cap_permitted;
	e->p.cap_inheritable = x->info.cap_inheritable;
	e->p.valid |= EVENT_PROC_CAPS;
	e->p.tty = x->info.tty;
	e->p.sid = x->info.sid;
	e->p.vpgid = x->info.pgid;
	e->p.valid |= EVENT_PROC_TTY | EVENT_PROC_SID | EVENT_PROC_VPGID;
	if (x->info.start_ns) {
		e->p.start_ns = x->info.start_ns + (uint64_t)t->o.boot_to_epoch;
		e->p.valid |= EVENT_PROC_START;
	}
	e->p.exe_from_memfd = x->info.exe_flags & LANNER_EXE_MEMFD;
	e->p.exe_upper_layer = x->info.exe_flags & LANNER_EXE_UPPER_LAYER;
	e->p.exe_writable = x->info.exe_flags & LANNER_EXE_WRITABLE;
	e->p.exe_lower_layer = false;
	e->p.exe_ino = x->info.exe_ino;
	e->p.valid |= EVENT_PROC_EXE_FLAGS;
	/* The executable's path as the kernel holds it; else the filename against the cwd. */
	snprintf(path, sizeof(path), "%s/%lld/exe", t->o.proc_root, (long long)e->p.pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		set_str(&e->exepath, &e->p.exepath, link);
	} else if (x->filename && fd_path_resolve(e->cwd, x->filename, link, sizeof(link)) >= 0) {
		set_str(&e->exepath, &e->p.exepath, link);
	} else {
		set_str(&e->exepath, &e->p.exepath, x->filename);
	}
	fdtable_exec(e->fds);
	refresh_container(e, rec->cgroup_id);
	return e;
}

void proctable_exit(struct proctable *t, int64_t pid, uint64_t now_ms)
{
	struct proc_entry *e = proctable_find(t, pid);

	if (!e || e->exited)
		return;
	e->exited = true;
	e->exit_ms = now_ms;
	/* its fds are closed; the entry stays for its children's parent chain */
	fdtable_clear(e->fds);
	e->xprev = t->xtail;
	e->xnext = NULL;
	if (t->xtail)
		t->xtail->xnext = e;
	else
		t->xhead = e;
	t->xtail = e;
}

void proctable_chdir(struct proctable *t, struct proc_entry *e, const char *dir)
{
	char buf[4096];

	(void)t;
	if (!dir || fd_path_resolve(e->cwd, dir, buf, sizeof(buf)) < 0)
		return;
	set_cwd(e, buf);
}

void proctable_bind(struct proctable *t, struct proc_entry *e, int64_t tid)
{
	struct proc_entry *cur = e;

	e->p.tid = tid;
	if ((e->p.valid & EVENT_PROC_VPID) && e->p.vpid == e->p.pid)
		e->p.vtid = tid; /* initial pid namespace */
	else if (tid == e->p.pid)
		e->p.vtid = e->p.vpid;
	/* the chain is as the last walk left it unless the table changed since (most events) */
	if (e->bind_gen == t->gen + 1)
		return;
	e->bind_gen = t->gen + 1;
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		struct proc_entry *par = NULL;

		if ((cur->p.valid & EVENT_PROC_PPID) && cur->p.ppid > 0 &&
		    cur->p.ppid != cur->p.pid)
			par = proctable_find(t, cur->p.ppid);
		if (par == e)
			par = NULL; /* a cycle through reused pids */
		cur->p.parent = par ? &par->p : NULL;
		if (!par)
			return;
		cur = par;
	}
	cur->p.parent = NULL;
}

void proctable_gc(struct proctable *t, uint64_t now_ms)
{
	while (t->xhead && now_ms - t->xhead->exit_ms >= t->o.exit_grace_ms)
		remove_entry(t, t->xhead);
}

size_t proctable_count(const struct proctable *t)
{
	return t->count;
}

uint64_t proctable_overflows(const struct proctable *t)
{
	return t->overflows;
}
