// SPDX-License-Identifier: Apache-2.0
/*
 * The process and fd tables: seeding from /proc (this test's own process and a child), fork /
 * exec / exit from synthetic records, the ancestor chain, eviction and the size cap; fd table
 * set / dup / close / cloexec at exec / copy at fork / learning from /proc; path resolution.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "detector/proctable.h"

static void resolve(const char *base, const char *path, const char *want)
{
	char out[256];
	int n = fd_path_resolve(base, path, out, sizeof(out));

	assert_true(n >= 0);
	assert_string_equal(out, want);
	assert_int_equal((size_t)n, strlen(want));
}

static void test_resolve(void **state)
{
	char small[8];

	(void)state;
	resolve(NULL, "/etc/../etc/../etc/shadow", "/etc/shadow");
	resolve("/root/", "x/./y//z", "/root/x/y/z");
	resolve("/root", "../../..", "/");
	resolve("/a/b/", "..", "/a");
	resolve("/", ".", "/");
	resolve("/tmp/", "/usr/bin/", "/usr/bin");
	assert_int_equal(fd_path_resolve(NULL, "rel", small, sizeof(small)), -EINVAL);
	assert_int_equal(fd_path_resolve(NULL, "/abcdefghijk", small, sizeof(small)),
			 -ENAMETOOLONG);
}

static void test_fdtable(void **state)
{
	struct fdtable *t = fdtable_new(4), *c;
	struct event_fd tmpl = { .type = 'f', .name = "/etc/passwd" }, *f;
	char buf[64];

	(void)state;
	assert_non_null(t);
	f = fdtable_set(t, 3, &tmpl, false);
	assert_non_null(f);
	assert_int_equal(f->num, 3);
	assert_true(f->valid & EVENT_FD_NUM);
	assert_string_equal(f->name, "/etc/passwd");
	assert_ptr_not_equal(f->name, tmpl.name); /* a copy */
	tmpl.name = "/etc/shadow";
	assert_non_null(fdtable_set(t, 4, &tmpl, true));
	assert_int_equal(fdtable_dup(t, 3, 10, false), 0);
	assert_int_equal(fdtable_dup(t, 99, 11, false), -ENOENT);
	assert_string_equal(fdtable_get(t, 10)->name, "/etc/passwd");
	assert_int_equal(fdtable_count(t), 3);

	/* a unix socket's path is the name */
	{
		struct event_fd u = { .type = 'u' };

		u.server.family = AF_UNIX;
		u.server.path = "/run/x.sock";
		f = fdtable_set(t, 5, &u, false);
		assert_non_null(f);
		assert_string_equal(f->name, "/run/x.sock");
		assert_ptr_equal(f->server.path, f->name);
	}
	/* full: counted */
	assert_null(fdtable_set(t, 6, &tmpl, false));
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(fdtable_overflows(t), 1);
	/* replacing an existing fd is no growth */
	assert_non_null(fdtable_set(t, 5, &tmpl, false));
	assert_int_equal(fdtable_rename(t, 5, "10.0.0.1:1->10.0.0.2:2"), 0);
	assert_string_equal(fdtable_get(t, 5)->name, "10.0.0.1:1->10.0.0.2:2");
	assert_int_equal(fdtable_rename(t, 77, "x"), -ENOENT);

	c = fdtable_clone(t);
	assert_non_null(c);
	fdtable_del(t, 3);
	assert_null(fdtable_get(t, 3));
	assert_non_null(fdtable_get(c, 3));
	assert_string_equal(fdtable_get(c, 3)->name, "/etc/passwd");
	fdtable_exec(c); /* 4 was close-on-exec */
	assert_null(fdtable_get(c, 4));
	assert_non_null(fdtable_get(c, 10));
	assert_int_equal(fdtable_count(c), 3);
	/* cleared (the process exited): empty, yet usable and clonable */
	fdtable_clear(c);
	assert_int_equal(fdtable_count(c), 0);
	assert_null(fdtable_get(c, 10));
	assert_null(fdtable_get(c, 5));
	fdtable_exec(c);
	{
		struct fdtable *cc = fdtable_clone(c);

		assert_non_null(cc);
		assert_int_equal(fdtable_count(cc), 0);
		assert_null(fdtable_get(cc, 3));
		assert_non_null(fdtable_set(cc, 3, &tmpl, false));
		assert_string_equal(fdtable_get(cc, 3)->name, "/etc/shadow");
		fdtable_free(cc);
	}
	assert_non_null(fdtable_set(c, 9, &tmpl, false));
	assert_string_equal(fdtable_get(c, 9)->name, "/etc/shadow");
	assert_int_equal(fdtable_count(c), 1);
	fdtable_free(c);

	/* many inserts and deletes through rehashes */
	fdtable_free(t);
	t = fdtable_new(0);
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "/f/%d", i);
		tmpl.name = buf;
		assert_non_null(fdtable_set(t, i, &tmpl, i % 2));
		if (i % 3 == 0)
			fdtable_del(t, i);
	}
	for (int i = 0; i < 5000; i++) {
		f = fdtable_get(t, i);
		if (i % 3 == 0) {
			assert_null(f);
		} else {
			snprintf(buf, sizeof(buf), "/f/%d", i);
			assert_non_null(f);
			assert_string_equal(f->name, buf);
		}
	}
	fdtable_free(t);
}

static void test_learn(void **state)
{
	struct fdtable *t = fdtable_new(0);
	struct event_fd *f;
	int fd = open("/etc/passwd", O_RDONLY), p[2];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(pipe(p), 0);
	f = fdtable_learn(t, getpid(), fd);
	assert_non_null(f);
	assert_int_equal(f->type, 'f');
	assert_string_equal(f->name, "/etc/passwd");
	assert_true(f->valid & EVENT_FD_INO);
	f = fdtable_learn(t, getpid(), p[0]);
	assert_non_null(f);
	assert_int_equal(f->type, 'p');
	assert_null(fdtable_learn(t, getpid(), 100000));
	close(fd);
	close(p[0]);
	close(p[1]);
	fdtable_free(t);
}

static struct proctable *table(size_t max)
{
	struct proctable_opts o = { .max_procs = max,
				    .exit_grace_ms = 1000,
				    .boot_to_epoch = decode_boot_to_epoch() };
	struct proctable *t = proctable_new(&o);

	assert_non_null(t);
	return t;
}

static void test_seed(void **state)
{
	struct proctable *t = table(0);
	struct proc_entry *e, *parent;
	char cwd[4096], exe[4096];
	ssize_t n;
	struct passwd *pw = getpwuid(getuid());

	(void)state;
	assert_true(proctable_seed(t) > 0);
	assert_true(proctable_count(t) > 0);
	e = proctable_find(t, getpid());
	assert_non_null(e);
	assert_int_equal(e->p.ppid, getppid());
	assert_non_null(getcwd(cwd, sizeof(cwd) - 1));
	strcat(cwd, "/");
	if (strcmp(cwd, "//"))
		assert_string_equal(e->p.cwd, cwd);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = 0;
	assert_string_equal(e->p.exepath, exe);
	assert_true(e->p.valid & EVENT_PROC_UID);
	assert_int_equal(e->p.uid, getuid());
	if (pw)
		assert_string_equal(e->p.user, pw->pw_name);
	assert_true(e->p.valid & EVENT_PROC_START);
	assert_true(e->p.start_ns > 1600000000ull * 1000000000ull);
	assert_true(e->p.valid & EVENT_PROC_CAPS);
	assert_false(e->p.exe_from_memfd);
	assert_non_null(e->cont.c.id);
	assert_true(e->p.n_args == 0 || e->p.args[0] != NULL);

	proctable_bind(t, e, getpid());
	parent = proctable_find(t, getppid());
	if (parent)
		assert_ptr_equal(e->p.parent, &parent->p);
	/* the chain is finite */
	{
		int depth = 0;

		for (const struct event_process *p = &e->p; p; p = p->parent)
			assert_true(++depth < 40);
	}
	proctable_free(t);
}

static struct lanner_rec header(uint32_t tgid, uint32_t ppid, const char *comm)
{
	struct lanner_rec r = { 0 };

	r.tgid = r.tid = tgid;
	r.ppid = ppid;
	r.loginuid = (uint32_t)-1;
	r.uid = r.euid = 0;
	snprintf(r.comm, sizeof(r.comm), "%s", comm);
	return r;
}

/* Pids far above pid_max so /proc has none of them. */
#define P1 900000001u
#define P2 900000002u
#define P3 900000003u

static void test_lifecycle(void **state)
{
	struct proctable *t = table(0);
	struct lanner_rec r = header(P1, 1, "httpd");
	struct lanner_fork_info fi = { .child_tgid = P2, .child_tid = P2, .child_start_ns = 5 };
	struct decode_exec x = { 0 };
	struct proc_entry *a, *b, *c;
	struct event_fd tmpl = { .type = 'f', .name = "/var/log/x" };
	static const char argv[] = "sh\0-c\0id";

	(void)state;
	a = proctable_of_record(t, &r);
	assert_non_null(a);
	assert_string_equal(a->p.name, "httpd");
	assert_string_equal(a->p.user, "root");
	assert_null(a->p.cwd); /* unknown: not made up */
	proctable_chdir(t, a, "/srv/www");
	assert_string_equal(a->p.cwd, "/srv/www/");
	proctable_chdir(t, a, "../tmp");
	assert_string_equal(a->p.cwd, "/srv/tmp/");
	assert_non_null(fdtable_set(a->fds, 7, &tmpl, false));
	assert_non_null(fdtable_set(a->fds, 8, &tmpl, true));

	proctable_fork(t, &r, &fi);
	b = proctable_find(t, P2);
	assert_non_null(b);
	assert_int_equal(b->p.ppid, P1);
	assert_string_equal(b->p.name, "httpd");
	assert_string_equal(b->p.cwd, "/srv/tmp/");
	assert_non_null(fdtable_get(b->fds, 7));

	r = header(P2, P1, "sh");
	x.argv = argv;
	x.argv_len = sizeof(argv);
	x.filename = "/bin/sh";
	x.info.tty = 34816;
	x.info.exe_flags = LANNER_EXE_MEMFD;
	b = proctable_exec(t, &r, &x);
	assert_non_null(b);
	assert_string_equal(b->p.name, "sh");
	assert_string_equal(b->p.exe, "sh");
	assert_int_equal(b->p.n_args, 2);
	assert_string_equal(b->p.args[0], "-c");
	assert_string_equal(b->p.args[1], "id");
	assert_string_equal(b->p.exepath, "/bin/sh");
	assert_true(b->p.exe_from_memfd);
	assert_int_equal(b->p.tty, 34816);
	assert_non_null(fdtable_get(b->fds, 7));
	assert_null(fdtable_get(b->fds, 8)); /* cloexec */

	/* a grandchild whose exec record came before its fork record */
	r = header(P3, P2, "cat");
	x.filename = "cat";
	x.info.exe_flags = 0;
	c = proctable_exec(t, &r, &x);
	assert_non_null(c);
	assert_null(c->p.cwd);
	proctable_bind(t, c, P3);
	assert_non_null(c->p.parent);
	assert_string_equal(c->p.parent->name, "sh");
	assert_string_equal(c->p.parent->parent->name, "httpd");
	r = header(P2, P1, "sh");
	fi.child_tgid = fi.child_tid = P3;
	proctable_fork(t, &r, &fi); /* ignored: the child is known */
	assert_ptr_equal(proctable_find(t, P3), c);
	assert_string_equal(c->p.name, "cat");

	/* thread forks add nothing */
	fi.child_tgid = P2;
	fi.child_tid = P2 + 10;
	fi.clone_flags_hint = 1;
	proctable_fork(t, &r, &fi);
	assert_null(proctable_find(t, P2 + 10));

	/* exit: kept for the grace period (without its closed fds), then freed */
	assert_non_null(fdtable_get(proctable_find(t, P2)->fds, 7));
	proctable_exit(t, P2, 100);
	assert_non_null(proctable_find(t, P2));
	assert_int_equal(fdtable_count(proctable_find(t, P2)->fds), 0);
	assert_null(fdtable_get(proctable_find(t, P2)->fds, 7));
	proctable_gc(t, 500);
	assert_non_null(proctable_find(t, P2));
	proctable_bind(t, c, P3);
	assert_string_equal(c->p.parent->name, "sh");
	proctable_gc(t, 1100);
	assert_null(proctable_find(t, P2));
	proctable_bind(t, c, P3);
	assert_null(c->p.parent);
	proctable_free(t);
}

static void test_cap(void **state)
{
	struct proctable *t = table(2);
	struct lanner_rec r1 = header(P1, 1, "a"), r2 = header(P2, 1, "b"), r3 = header(P3, 1, "c");

	(void)state;
	assert_non_null(proctable_of_record(t, &r1));
	assert_non_null(proctable_of_record(t, &r2));
	assert_null(proctable_of_record(t, &r3));
	assert_int_equal(proctable_overflows(t), 1);
	/* an exited entry makes room */
	proctable_exit(t, P1, 0);
	assert_non_null(proctable_of_record(t, &r3));
	assert_null(proctable_find(t, P1));
	assert_int_equal(proctable_count(t), 2);
	proctable_free(t);
}

static void test_pid_cycle(void **state)
{
	struct proctable *t = table(0);
	struct lanner_rec r1 = header(P1, P2, "a"), r2 = header(P2, P3, "b"),
			  r3 = header(P3, P2, "c");
	struct proc_entry *e;
	int depth = 0;

	(void)state;
	e = proctable_of_record(t, &r1);
	proctable_of_record(t, &r2);
	proctable_of_record(t, &r3);
	proctable_bind(t, e, P1);
	for (const struct event_process *p = &e->p; p; p = p->parent)
		assert_true(++depth <= 33);
	proctable_free(t);
}

static void test_child_from_proc(void **state)
{
	struct proctable *t = table(0);
	int p[2];
	pid_t pid;
	char c;
	struct proc_entry *e;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		if (chdir("/tmp"))
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	close(p[0]);
	/* wait for the exec to complete: the exe link changes before the new arguments are in
	 * place (load_elf_binary sets mm->arg_start after begin_new_exec), so wait for both */
	for (int i = 0; i < 500; i++) {
		char path[64], buf[64];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n > 0 && (buf[n] = 0, strstr(buf, "sleep"))) {
			snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
			fd = open(path, O_RDONLY);
			n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
			if (fd >= 0)
				close(fd);
			if (n == (ssize_t)sizeof("sleep\0"
						 "30"))
				break;
		}
		usleep(10000);
	}
	e = proctable_get(t, pid);
	assert_non_null(e);
	assert_string_equal(e->p.name, "sleep");
	assert_string_equal(e->p.cwd, "/tmp/");
	assert_int_equal(e->p.n_args, 1);
	assert_string_equal(e->p.args[0], "30");
	assert_int_equal(e->p.ppid, getpid());
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[1]);
	(void)c;
	assert_null(proctable_get(t, 900000009));
	proctable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),	  cmocka_unit_test(test_fdtable),
		cmocka_unit_test(test_learn),	  cmocka_unit_test(test_seed),
		cmocka_unit_test(test_lifecycle), cmocka_unit_test(test_cap),
		cmocka_unit_test(test_pid_cycle), cmocka_unit_test(test_child_from_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
