// SPDX-License-Identifier: Apache-2.0
/*
 * The BPF loader on the real kernel (root): records of a child's openat, connect and execve
 * arrive with the right tid, path and return value; an uninteresting syscall, a syscall with a
 * program that is not in the set, and lanner's own process produce nothing; the set changes at
 * runtime; drop counters are readable; the loop closes cleanly. The syscall-name table and the
 * program list are checked without root.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "detector/decode.h"
#include "detector/probe.h"
#include "lanner.skel.h"

struct seen {
	struct lanner_rec **recs;
	size_t n, cap;
};

static void on_record(void *ctx, const struct lanner_rec *rec, size_t size)
{
	struct seen *s = ctx;
	struct lanner_rec *copy;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct lanner_rec **r = realloc(s->recs, cap * sizeof(*r));

		assert_non_null(r);
		s->recs = r;
		s->cap = cap;
	}
	copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, rec, size);
	s->recs[s->n++] = copy;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->recs[i]);
	free(s->recs);
	memset(s, 0, sizeof(*s));
}

/* The payload of the first blob `id` of a record, or NULL; its flags in *flags. */
static const void *blob_flags(const struct lanner_rec *r, unsigned id, size_t *len, unsigned *flags)
{
	size_t off = sizeof(*r);

	for (unsigned i = 0; i < r->nblobs; i++) {
		struct lanner_blob b;

		memcpy(&b, (const char *)r + off, sizeof(b));
		off += sizeof(b);
		if (b.id == id) {
			if (len)
				*len = b.len;
			if (flags)
				*flags = b.flags;
			return (const char *)r + off;
		}
		off += b.len;
	}
	return NULL;
}

static const void *blob(const struct lanner_rec *r, unsigned id, size_t *len)
{
	return blob_flags(r, id, len, NULL);
}

/* The nth syscall record of tid with number nr, in seq order: each CPU has its own ring
 * buffer, so a process that moved between CPUs has its records read out of order. */
static const struct lanner_rec *find_sys(struct seen *s, pid_t tid, int nr, int nth)
{
	const struct lanner_rec *prev = NULL, *best = NULL;

	for (int k = 0; k <= nth; k++) {
		best = NULL;
		for (size_t i = 0; i < s->n; i++) {
			const struct lanner_rec *r = s->recs[i];

			if (r->type != LANNER_REC_SYSCALL || r->tid != (uint32_t)tid || r->nr != nr)
				continue;
			if (prev && r->seq <= prev->seq)
				continue;
			if (!best || r->seq < best->seq)
				best = r;
		}
		if (!best)
			return NULL;
		prev = best;
	}
	return best;
}

static const struct lanner_rec *find_type(struct seen *s, pid_t tgid, int type)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->recs[i]->type == type && s->recs[i]->tgid == (uint32_t)tgid)
			return s->recs[i];
	return NULL;
}

static size_t count_tgid(struct seen *s, pid_t tgid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->recs[i]->tgid == (uint32_t)tgid;
	return n;
}

static void test_syscall_names(void **state)
{
	assert_int_equal(probe_syscall_nr("openat"), 257);
	assert_int_equal(probe_syscall_nr("execve"), 59);
	assert_int_equal(probe_syscall_nr("connect"), 42);
	assert_int_equal(probe_syscall_nr("read"), 0);
	assert_int_equal(probe_syscall_nr("umount"), 166);
	assert_int_equal(probe_syscall_nr("umount2"), 166);
	assert_int_equal(probe_syscall_nr("fchmodat2"), 452);
	assert_int_equal(probe_syscall_nr("no_such_call"), -ENOENT);
	assert_int_equal(probe_syscall_nr(NULL), -ENOENT);
	assert_string_equal(probe_syscall_name(257), "openat");
	assert_null(probe_syscall_name(-1));
	assert_null(probe_syscall_name(PROBE_NR_SYSCALLS));
	assert_true(probe_syscall_supported(257));
	assert_false(probe_syscall_supported(110)); /* getppid */

	struct probe_set s = { 0 };

	probe_set_add_state(&s);
	assert_true(probe_set_has(&s, 56)); /* clone */
	assert_true(probe_set_has(&s, 3)); /* close */
	assert_true(probe_set_has(&s, 319)); /* memfd_create */
	assert_false(probe_set_has(&s, 110));
	probe_set_add(&s, -1);
	probe_set_add(&s, PROBE_NR_SYSCALLS);
	assert_false(probe_set_has(&s, PROBE_NR_SYSCALLS));
}

/* Every sys_exit_NAME program in the object is in the supported table, and back. */
static void test_programs_match_table(void **state)
{
	struct lanner_bpf *skel = lanner_bpf__open();
	struct bpf_program *prog;
	int n_prog = 0, n_table = 0;

	assert_non_null(skel);
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		int nr;

		if (strncmp(name, "sys_exit_", 9))
			continue;
		nr = probe_syscall_nr(name + 9);
		assert_true(nr >= 0);
		if (!probe_syscall_supported(nr))
			fail_msg("program %s not in probe.c's supported table", name);
		n_prog++;
	}
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++)
		n_table += probe_syscall_supported(nr);
	assert_int_equal(n_prog, n_table);
	lanner_bpf__destroy(skel);
}

static bool need_root(void)
{
	const char *ci = getenv("CI");

	if (geteuid() == 0)
		return true;
	if (ci && !strcmp(ci, "true"))
		fail_msg("CI=true but not root: the probe tests need root on the real kernel");
	print_message("skipping: loading BPF programs needs root (CAP_BPF + CAP_PERFMON)\n");
	return false;
}

struct run {
	uv_loop_t loop;
	uv_timer_t timer;
	struct probe *probe;
	struct seen seen;
	pid_t child;
	int status;
	int ticks;
};

/*
 * Polls for the child's exit, then gives the probe's own drain (poll + 20 ms timer) a few
 * ticks: records must arrive through the loop, not through an explicit probe_consume.
 */
static void on_tick(uv_timer_t *t)
{
	struct run *r = t->data;

	if (r->child > 0) {
		pid_t w = waitpid(r->child, &r->status, WNOHANG);

		if (w == r->child)
			r->child = -r->child;
		if (++r->ticks > 500) /* 10 s: the child is stuck */
			fail_msg("child did not exit");
		return;
	}
	if (++r->ticks % 5 == 0) {
		uv_timer_stop(t);
		uv_stop(t->loop); /* the probe's poll handle keeps the loop alive */
	}
}

static pid_t run_child(struct run *r, void (*body)(void *), void *arg)
{
	pid_t pid;

	r->ticks = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		body(arg);
		_exit(0);
	}
	r->child = pid;
	assert_int_equal(uv_timer_start(&r->timer, on_tick, 20, 20), 0);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_true(WIFEXITED(r->status));
	assert_int_equal(WEXITSTATUS(r->status), 0);
	return pid;
}

/* A loop with the probe on it, recording into r->seen. */
static void run_start(struct run *r, const struct probe_opts *o, const struct probe_set *set)
{
	char err[512] = "";

	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(uv_timer_init(&r->loop, &r->timer), 0);
	r->timer.data = r;
	r->probe = probe_new(&r->loop, o, set, on_record, &r->seen, err, sizeof(err));
	if (!r->probe)
		fail_msg("probe_new: %s", err);
}

/* Frees the probe; the loop must then close with nothing left on it. */
static void run_finish(struct run *r)
{
	probe_free(r->probe);
	uv_close((uv_handle_t *)&r->timer, NULL);
	assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	seen_clear(&r->seen);
}

struct phase1 {
	char path[64];
	uint16_t port;
};

static void child_phase1(void *arg)
{
	struct phase1 *ph = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ph->port) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(9),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	char *const argv[] = { "true", "lanner-arg", NULL };
	char *const envp[] = { NULL };
	int fd, dup;

	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	fd = syscall(SYS_openat, AT_FDCWD, ph->path, O_RDONLY);
	if (fd < 0)
		_exit(10);
	/* fcntl: only the duplicating commands are recorded */
	if (fcntl(fd, F_GETFD) < 0 || (dup = fcntl(fd, F_DUPFD, 3)) < 0)
		_exit(14);
	close(dup);
	close(fd);
	if (syscall(SYS_openat, AT_FDCWD, "/nonexistent/lanner", O_RDONLY) != -1)
		_exit(11);
	/* unlink has a program, but it is not in the set: nothing must come of it. */
	unlink("/nonexistent/lanner");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		_exit(12);
	close(fd);
	/* IPv6 and UDP: a connect needs no listener (port 9, discard) */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&s6, sizeof(s6)))
		_exit(15);
	close(fd);
	execve("/bin/true", argv, envp);
	_exit(13);
}

static void child_unlink(void *arg)
{
	unlink((const char *)arg);
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Opens arg, then a path that does not exist. */
static void child_fail_open(void *arg)
{
	int fd = open((const char *)arg, O_RDONLY);

	if (fd >= 0)
		close(fd);
	if (open("/nonexistent/lanner", O_RDONLY) >= 0)
		_exit(1);
}

static void test_live(void **state)
{
	struct probe_set set = { 0 }, got;
	struct phase1 ph = { .path = "/tmp/lanner-probe-XXXXXX" };
	const struct lanner_rec *rec;
	uint64_t drops[LANNER_DROP_MAX];
	struct run r = { 0 };
	size_t len;
	int lfd, fd;
	pid_t pid;

	if (!need_root()) {
		skip();
		return;
	}
	fd = mkstemp(ph.path);
	assert_true(fd >= 0);
	close(fd);
	lfd = listen_loopback(&ph.port);

	probe_set_add(&set, probe_syscall_nr("openat"));
	probe_set_add(&set, probe_syscall_nr("connect"));
	probe_set_add(&set, probe_syscall_nr("execve"));
	probe_set_add(&set, probe_syscall_nr("fcntl"));
	probe_set_add(&set, probe_syscall_nr("getppid")); /* no program: skipped */
	run_start(&r, NULL, &set);
	probe_get_syscalls(r.probe, &got);
	assert_true(probe_set_has(&got, 257));
	assert_false(probe_set_has(&got, 110));

	/* lanner's own process is excluded: this openat must not show up. */
	fd = open(ph.path, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);

	pid = run_child(&r, child_phase1, &ph);

	rec = find_sys(&r.seen, pid, 257, 0);
	assert_non_null(rec);
	assert_int_equal(rec->tgid, pid);
	assert_true(rec->ret >= 0);
	assert_int_equal(rec->ppid, getpid());
	assert_int_equal((int)rec->args[0], AT_FDCWD);
	assert_string_equal((const char *)blob(rec, LANNER_B_PATH, NULL), ph.path);
	assert_int_equal(rec->size, sizeof(*rec) + 4 + strlen(ph.path) + 1);
	/* fcntl: F_DUPFD recorded with its arguments, F_GETFD not at all */
	{
		const struct lanner_rec *f = find_sys(&r.seen, pid, 72, 0);

		assert_non_null(f);
		assert_int_equal(f->args[1], F_DUPFD);
		assert_int_equal(f->args[2], 3);
		assert_true(f->ret >= 3);
		assert_null(find_sys(&r.seen, pid, 72, 1));
	}
	/* No kernel timestamp by default (the consumer dates records); the global order. */
	assert_int_equal(rec->ts_ns, 0);
	assert_true(rec->seq < probe_seq(r.probe));
	{
		/* The decoder on a live record: type, path, flags. */
		struct syscall_event ev;

		assert_int_equal(decode_event(rec, rec->size, decode_boot_to_epoch(), &ev), 0);
		assert_int_equal(ev.type, SYSCALL_EVT_OPENAT);
		assert_int_equal(ev.tid, pid);
		assert_string_equal(ev.args.name, ph.path);
		assert_int_equal(ev.args.flags, O_RDONLY);
		assert_int_equal(ev.args.dirfd, AT_FDCWD);
	}

	/* Failed syscalls are kept by default. */
	rec = find_sys(&r.seen, pid, 257, 1);
	assert_non_null(rec);
	assert_int_equal(rec->ret, -ENOENT);
	assert_string_equal((const char *)blob(rec, LANNER_B_PATH, NULL), "/nonexistent/lanner");

	rec = find_sys(&r.seen, pid, 42, 0);
	assert_non_null(rec);
	assert_int_equal(rec->ret, 0);
	{
		const struct sockaddr_in *sa = blob(rec, LANNER_B_SOCKADDR, &len);
		struct lanner_sock_tuple tp;
		const void *t = blob(rec, LANNER_B_TUPLE, &len);
		struct sockaddr_in sin;

		assert_non_null(sa);
		memcpy(&sin, sa, sizeof(sin));
		assert_int_equal(sin.sin_family, AF_INET);
		assert_int_equal(ntohs(sin.sin_port), ph.port);
		assert_int_equal(ntohl(sin.sin_addr.s_addr), INADDR_LOOPBACK);
		assert_non_null(t);
		assert_int_equal(len, sizeof(tp));
		memcpy(&tp, t, sizeof(tp));
		assert_int_equal(tp.family, AF_INET);
		assert_int_equal(tp.protocol, IPPROTO_TCP);
		assert_int_equal(tp.rport, ph.port);
		assert_true(tp.lport != 0);
		assert_memory_equal(tp.raddr, "\x7f\0\0\1", 4);
	}
	/* the IPv6 UDP connect: sockaddr as passed, tuple with both ends on ::1 */
	rec = find_sys(&r.seen, pid, 42, 1);
	assert_non_null(rec);
	assert_int_equal(rec->ret, 0);
	{
		const void *sa = blob(rec, LANNER_B_SOCKADDR, &len);
		struct lanner_sock_tuple tp;
		struct sockaddr_in6 sin6;
		const void *t;

		assert_non_null(sa);
		assert_int_equal(len, sizeof(sin6));
		memcpy(&sin6, sa, sizeof(sin6));
		assert_int_equal(sin6.sin6_family, AF_INET6);
		assert_int_equal(ntohs(sin6.sin6_port), 9);
		assert_true(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr));
		t = blob(rec, LANNER_B_TUPLE, &len);
		assert_non_null(t);
		assert_int_equal(len, sizeof(tp));
		memcpy(&tp, t, sizeof(tp));
		assert_int_equal(tp.family, AF_INET6);
		assert_int_equal(tp.protocol, IPPROTO_UDP);
		assert_int_equal(tp.rport, 9);
		assert_true(tp.lport != 0);
		assert_memory_equal(tp.raddr, &in6addr_loopback, 16);
		assert_memory_equal(tp.laddr, &in6addr_loopback, 16);
	}

	/* The exec: one record from sched_process_exec, with filename and argv. */
	rec = find_type(&r.seen, pid, LANNER_REC_PROC_EXEC);
	assert_non_null(rec);
	assert_int_equal(rec->nr, 59);
	assert_string_equal((const char *)blob(rec, LANNER_B_FILENAME, NULL), "/bin/true");
	{
		const char *argv = blob(rec, LANNER_B_ARGV, &len);

		assert_non_null(argv);
		assert_int_equal(len, sizeof("true\0lanner-arg"));
		assert_memory_equal(argv, "true\0lanner-arg", len);
		assert_non_null(blob(rec, LANNER_B_EXEC, &len));
		assert_int_equal(len, sizeof(struct lanner_exec_info));
	}
	assert_string_equal(rec->comm, "true");
	{
		struct decode_exec de;

		assert_int_equal(decode_exec(rec, rec->size, &de), 0);
		assert_string_equal(de.filename, "/bin/true");
		assert_int_equal(de.argv_len, sizeof("true\0lanner-arg"));
		assert_false(de.argv_truncated);
		assert_true(de.info.exe_ino != 0);
		assert_int_equal(de.info.exe_flags & LANNER_EXE_MEMFD, 0);
		if (geteuid() == 0)
			assert_true(de.info.cap_effective != 0);
	}
	/* A successful execve is not recorded twice (sys_exit_execve keeps only failures). */
	assert_null(find_sys(&r.seen, pid, 59, 0));

	rec = find_type(&r.seen, pid, LANNER_REC_PROC_EXIT);
	assert_non_null(rec);
	{
		struct lanner_exit_info xi;

		memcpy(&xi, blob(rec, LANNER_B_EXIT, NULL), sizeof(xi));
		assert_int_equal(xi.group_dead, 1);
	}

	/* Nothing from getppid (no program), unlink (not in the set) or ourselves. */
	assert_null(find_sys(&r.seen, pid, 110, 0));
	assert_null(find_sys(&r.seen, pid, 87, 0));
	assert_int_equal(count_tgid(&r.seen, getpid()), 0);

	/* Rules reload: add unlink at runtime, drop openat. */
	probe_set_add(&set, 87);
	set.bits[257 / 64] &= ~(1ull << (257 % 64));
	assert_int_equal(probe_set_syscalls(r.probe, &set), 0);
	probe_get_syscalls(r.probe, &got);
	assert_true(probe_set_has(&got, 87));
	assert_false(probe_set_has(&got, 257));
	pid = run_child(&r, child_unlink, ph.path);
	rec = find_sys(&r.seen, pid, 87, 0);
	assert_non_null(rec);
	assert_int_equal(rec->ret, 0);
	assert_string_equal((const char *)blob(rec, LANNER_B_PATH, NULL), ph.path);

	/*
	 * Asked for again right after removal: the old link is still being destroyed in the
	 * threadpool, so the loader attaches it once that is done.
	 */
	probe_set_add(&set, 257);
	assert_int_equal(probe_set_syscalls(r.probe, &set), 0);
	for (int i = 0; i < 1000; i++) {
		probe_get_syscalls(r.probe, &got);
		if (probe_set_has(&got, 257))
			break;
		uv_run(&r.loop, UV_RUN_ONCE);
	}
	assert_true(probe_set_has(&got, 257));
	assert_false(probe_busy(r.probe));
	pid = run_child(&r, child_fail_open, ph.path);
	rec = find_sys(&r.seen, pid, 257, 0);
	assert_non_null(rec);
	assert_string_equal((const char *)blob(rec, LANNER_B_PATH, NULL), ph.path);

	assert_int_equal(probe_drops(r.probe, drops), 0);
	assert_int_equal(drops[LANNER_DROP_RINGBUF_FULL], 0);
	assert_int_equal(drops[LANNER_DROP_NO_RINGBUF], 0);
	assert_int_equal(probe_bad_records(r.probe), 0);

	run_finish(&r);
	close(lfd);
}

static void test_knobs(void **state)
{
	struct probe_opts o = {
		.drop_failed = true, .no_args = true, .precise_time = true, .ringbuf_bytes = 1 << 16
	};
	struct probe_set set = { 0 };
	const struct lanner_rec *rec;
	struct run r = { 0 };
	struct syscall_event ev;
	struct timespec now;
	pid_t pid;

	if (!need_root()) {
		skip();
		return;
	}
	probe_set_add(&set, 257);
	run_start(&r, &o, &set);
	pid = run_child(&r, child_fail_open, "/etc/hostname");
	rec = find_sys(&r.seen, pid, 257, 0);
	assert_non_null(rec);
	assert_true(rec->ret >= 0);
	assert_int_equal(rec->nblobs, 0);
	assert_true(rec->flags & LANNER_RF_NO_ARGS);
	/* precise_time: the kernel stamps the record (boot time), the decoder makes it epoch ns */
	assert_int_equal(decode_event(rec, rec->size, decode_boot_to_epoch(), &ev), 0);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(ev.ts <= (uint64_t)now.tv_sec * 1000000000 + now.tv_nsec);
	assert_true(ev.ts + 30ull * 1000000000 > (uint64_t)now.tv_sec * 1000000000);
	assert_null(find_sys(&r.seen, pid, 257, 1)); /* the failed open was dropped */
	run_finish(&r);
}

/*
 * Failed opens of paths of varying length (up to ~3 KiB), so that records of many sizes meet
 * the ring's end.
 */
#define OPEN_PREFIX "/nonexistent/lanner-ring-"
struct opens {
	int first, n;
};

static void open_path(char *buf, size_t len, int i)
{
	int pad = i % 10 == 9 ? 3000 : (i * 37) % 300;

	snprintf(buf, len, OPEN_PREFIX "%d-%0*d", i, pad, 0);
}

static void child_opens(void *arg)
{
	const struct opens *o = arg;
	char path[4096];

	for (int i = o->first; i < o->first + o->n; i++) {
		open_path(path, sizeof(path), i);
		if (syscall(SYS_openat, AT_FDCWD, path, O_RDONLY) != -1)
			_exit(1);
	}
}

/* How many of tid's records carry the paths first.. in order; fails on a wrong one. */
static int check_opens(struct seen *s, pid_t tid, int first, int n)
{
	char want[4096];
	int got = 0, next = first;
	uint64_t last = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct lanner_rec *r = s->recs[i];
		const char *path;
		size_t len = 0;
		int k;

		if (r->type != LANNER_REC_SYSCALL || r->tid != (uint32_t)tid || r->nr != 257)
			continue;
		path = blob(r, LANNER_B_PATH, &len);
		assert_non_null(path);
		assert_true(len > 0 && path[len - 1] == '\0');
		assert_int_equal(sscanf(path, OPEN_PREFIX "%d-", &k), 1);
		/* one process, one thread: its records are in seq order and lost ones leave gaps */
		assert_true(k >= next && k < first + n);
		assert_true(!got || r->seq > last);
		open_path(want, sizeof(want), k);
		assert_string_equal(path, want);
		assert_int_equal(r->ret, -ENOENT);
		next = k + 1;
		last = r->seq;
		got++;
	}
	return got;
}

/*
 * The record rings: records of every size cross the end of a small ring many times and all
 * arrive intact and in order; a ring nobody drains fills up, the records that do not fit are
 * counted as ringbuf_full (none is half written), and the ring works again once drained.
 */
static void test_ring_wrap_and_full(void **state)
{
	struct probe_opts o = { .ringbuf_bytes = 1 << 16 };
	uint64_t before[LANNER_DROP_MAX], after[LANNER_DROP_MAX];
	struct probe_set set = { 0 };
	struct run r = { 0 };
	struct opens op;
	int got, first = 0, status;
	pid_t pid;

	if (!need_root()) {
		skip();
		return;
	}
	probe_set_add(&set, 257);
	run_start(&r, &o, &set);
	/* 120 records of 0.2-3.2 KiB per child, 24 children: each 64 KiB ring turns over */
	for (int k = 0; k < 24; k++) {
		assert_int_equal(probe_drops(r.probe, before), 0);
		op = (struct opens){ first, 120 };
		pid = run_child(&r, child_opens, &op);
		assert_int_equal(probe_drops(r.probe, after), 0);
		got = check_opens(&r.seen, pid, first, 120);
		/* no record of this child may be lost unless the kernel counted a loss */
		if (got != 120)
			assert_true(after[LANNER_DROP_RINGBUF_FULL] >
				    before[LANNER_DROP_RINGBUF_FULL]);
		first += 120;
		seen_clear(&r.seen);
	}
	assert_int_equal(probe_bad_records(r.probe), 0);

	/* Nobody drains while the child runs: its ring fills. */
	assert_int_equal(probe_drops(r.probe, before), 0);
	op = (struct opens){ first, 3000 };
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_opens(&op);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(probe_drops(r.probe, after), 0);
	r.child = -pid;
	r.ticks = 0;
	assert_int_equal(uv_timer_start(&r.timer, on_tick, 20, 20), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	/* (other processes' opens share the rings: in theory they could take all the room) */
	got = check_opens(&r.seen, pid, first, 3000);
	assert_true(got < 3000);
	/* every lost record was counted (other processes' lost opens count there too) */
	assert_true(after[LANNER_DROP_RINGBUF_FULL] - before[LANNER_DROP_RINGBUF_FULL] >=
		    (uint64_t)(3000 - got));
	assert_int_equal(probe_bad_records(r.probe), 0);
	seen_clear(&r.seen);
	first += 3000;

	/* drained: the ring takes records again */
	assert_int_equal(probe_drops(r.probe, before), 0);
	op = (struct opens){ first, 50 };
	pid = run_child(&r, child_opens, &op);
	assert_int_equal(probe_drops(r.probe, after), 0);
	got = check_opens(&r.seen, pid, first, 50);
	assert_true(got > 0);
	if (got != 50)
		assert_true(after[LANNER_DROP_RINGBUF_FULL] > before[LANNER_DROP_RINGBUF_FULL]);
	run_finish(&r);
}

/* n opens of /etc/hostname (162-byte records), a 2 ms pause after every 16 when paced. */
static void open_hostname(int n, bool paced)
{
	for (int i = 0; i < n; i++) {
		int fd = open("/etc/hostname", O_RDONLY);

		if (fd < 0)
			_exit(20);
		close(fd);
		if (paced && i % 16 == 15)
			usleep(2000);
	}
}

#define PACED_OPENS 600
static void child_paced_opens(void *arg)
{
	(void)arg;
	open_hostname(PACED_OPENS, true);
}

/*
 * A small ring is drained before it fills: the programs' wakeups come often enough for its
 * size (a 64 KiB ring takes 220 such records, 168 bytes each in the ring, before it refuses
 * one: it starts a record only while at most 64 - 28 KiB of slack is used; a large ring waits
 * for 1024), so with no drain timer to help, 600 records in paced bursts all arrive and none
 * is dropped.
 */
static void test_small_ring_wakes(void **state)
{
	struct probe_opts o = { .ringbuf_bytes = 1 << 16, .drain_ms = 60000 };
	uint64_t before[LANNER_DROP_MAX], after[LANNER_DROP_MAX];
	struct probe_set set = { 0 };
	struct run r = { 0 };
	size_t got = 0;
	pid_t pid;

	(void)state;
	if (!need_root()) {
		skip();
		return;
	}
	probe_set_add(&set, 257);
	run_start(&r, &o, &set);
	assert_int_equal(probe_drops(r.probe, before), 0);
	pid = run_child(&r, child_paced_opens, NULL);
	assert_int_equal(probe_drops(r.probe, after), 0);
	probe_consume(r.probe); /* the last records, fewer than a wakeup's worth */
	for (size_t i = 0; i < r.seen.n; i++)
		if (r.seen.recs[i]->type == LANNER_REC_SYSCALL &&
		    r.seen.recs[i]->tid == (uint32_t)pid && r.seen.recs[i]->nr == 257)
			got++;
	assert_int_equal(after[LANNER_DROP_RINGBUF_FULL], before[LANNER_DROP_RINGBUF_FULL]);
	assert_int_equal(got, PACED_OPENS);
	run_finish(&r);
}

/* The child's openat records in s. */
static size_t count_opens(const struct seen *s, pid_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->recs[i]->type == LANNER_REC_SYSCALL && s->recs[i]->tid == (uint32_t)pid &&
		     s->recs[i]->nr == 257;
	return n;
}

/* 100 opens of /etc/hostname at once (~17 KiB of records: a 64 KiB ring takes them). */
#define HELD_OPENS 100
static void child_held_opens(void *arg)
{
	(void)arg;
	open_hostname(HELD_OPENS, false);
}

/*
 * The detector's way (probe_opts.hold): the loop's poll only wakes it and a uv_check merges
 * what the rings hold. The loop turns only for the programs' wakeups and the child's end (its
 * pipe closes): no timer.
 */
struct hold {
	struct run *r;
	uv_check_t check;
	uv_poll_t eof;
	struct seen merged; /* what probe_merge handed on */
	bool merging;
	pid_t pid; /* the child */
	uint64_t last_seq; /* the child's last record merged */
	size_t merges; /* that handed something on */
};

static void on_hold_check(uv_check_t *c)
{
	struct hold *h = c->data;
	size_t from = h->merged.n;

	if (!h->merging)
		return;
	if (probe_merge(h->r->probe, UINT64_MAX, on_record, &h->merged))
		h->merges++;
	/*
	 * Other processes' records may come out of order across merges without a seq limit (one
	 * started before a merge but published after it), the child's not: it has one ring.
	 */
	for (size_t i = from; i < h->merged.n; i++) {
		if (h->merged.recs[i]->tid != (uint32_t)h->pid)
			continue;
		assert_true(!h->last_seq || h->merged.recs[i]->seq > h->last_seq);
		h->last_seq = h->merged.recs[i]->seq;
	}
}

static void on_child_eof(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	uv_poll_stop(p);
	uv_stop(p->loop);
}

/*
 * Runs body in a child pinned to one CPU (its records all go to one ring) until it exits,
 * turning the loop meanwhile.
 */
static pid_t hold_child(struct hold *h, void (*body)(void *))
{
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cpu_set_t set, one;
		int cpu = 0;

		close(fds[0]);
		if (sched_getaffinity(0, sizeof(set), &set))
			_exit(30);
		while (!CPU_ISSET(cpu, &set))
			cpu++;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			_exit(31);
		body(NULL);
		_exit(0);
	}
	close(fds[1]);
	h->pid = pid;
	assert_int_equal(uv_poll_init(&h->r->loop, &h->eof, fds[0]), 0);
	assert_int_equal(uv_poll_start(&h->eof, UV_READABLE, on_child_eof), 0);
	uv_run(&h->r->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&h->eof, NULL);
	uv_run(&h->r->loop, UV_RUN_NOWAIT);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return pid;
}

/*
 * Hold mode on a small ring: a burst the ring can take stays in it (the wakeups hand nothing
 * to the probe's callback) until probe_merge takes it, whole; then, merging at every loop turn
 * as the detector does, the programs' wakeups alone come often enough that the paced 600
 * records of test_small_ring_wakes, all in one ring, arrive in seq order and none is dropped.
 */
static void test_small_ring_holds(void **state)
{
	struct probe_opts o = { .ringbuf_bytes = 1 << 16, .drain_ms = 60000, .hold = true };
	uint64_t before[LANNER_DROP_MAX], after[LANNER_DROP_MAX];
	struct probe_set set = { 0 };
	struct run r = { 0 };
	struct hold h = { .r = &r };
	pid_t pid;

	(void)state;
	if (!need_root()) {
		skip();
		return;
	}
	probe_set_add(&set, 257);
	run_start(&r, &o, &set);
	assert_int_equal(uv_check_init(&r.loop, &h.check), 0);
	h.check.data = &h;
	assert_int_equal(uv_check_start(&h.check, on_hold_check), 0);

	/* Held: nothing is handed on until probe_merge. */
	assert_int_equal(probe_drops(r.probe, before), 0);
	pid = hold_child(&h, child_held_opens);
	assert_int_equal(probe_drops(r.probe, after), 0);
	assert_int_equal(r.seen.n, 0);
	assert_true(probe_backlog(r.probe) > 0);
	assert_true(probe_merge(r.probe, UINT64_MAX, on_record, &h.merged) >= HELD_OPENS);
	assert_int_equal(after[LANNER_DROP_RINGBUF_FULL], before[LANNER_DROP_RINGBUF_FULL]);
	assert_int_equal(count_opens(&h.merged, pid), HELD_OPENS);
	seen_clear(&h.merged);

	/* Merged at every loop turn: the wakeups drain the ring in time. */
	h.merging = true;
	assert_int_equal(probe_drops(r.probe, before), 0);
	pid = hold_child(&h, child_paced_opens);
	assert_int_equal(probe_drops(r.probe, after), 0);
	on_hold_check(&h.check); /* the last records, fewer than a wakeup's worth */
	assert_int_equal(r.seen.n, 0);
	assert_int_equal(after[LANNER_DROP_RINGBUF_FULL], before[LANNER_DROP_RINGBUF_FULL]);
	assert_int_equal(count_opens(&h.merged, pid), PACED_OPENS);
	print_message("%zu merges handed records on\n", h.merges);
	seen_clear(&h.merged);
	uv_close((uv_handle_t *)&h.check, NULL);
	run_finish(&r);
}

/*
 * Direct-map reads of user strings (detector/dmap.h): every string the child opens arrives
 * exactly as it wrote it, fast reads on and off. The strings cover every alignment with the NUL
 * at every byte of a word and bytes 0x01/0x7f/0x80/0xff next to it, the stack, the longest fast
 * string and one byte more, a string crossing into the next page and one ending on a page's last
 * byte, a transparent huge page (when THP gives one), a shared file page, and an unreadable
 * one (PROT_NONE: the syscall fails with EFAULT, the blob is empty and flagged). The helper
 * counter shows which path read them: a build whose fast path never runs fails here.
 */
#define FAST_GRID (8 * 40) /* alignments 0-7 x lengths 1-40 */
enum {
	FC_STACK = FAST_GRID,
	FC_LONGEST,
	FC_TOO_LONG,
	FC_CROSSING,
	FC_PAGE_END,
	FC_HUGE,
	FC_SHARED,
	FC_PROT_NONE,
	FC_N,
};
#define FAST_ROUNDS 3
#define FC_SLOW 3 /* cases the helper must read: too long, crossing, PROT_NONE */

static size_t fast_len(int c)
{
	static const size_t len[] = { 30, 255, 256, 30, 20, 50, 50, 20 };

	return c < FAST_GRID ? (size_t)(1 + c / 8) : len[c - FAST_GRID];
}

/* Case c's text, NUL-terminated; "z..." relative paths that do not exist. */
static void fast_text(int c, char *out)
{
	static const char bytes[] = "\x80q\x01\xff/7\x7fZ";
	size_t n = fast_len(c);

	out[0] = 'z';
	for (size_t k = 1; k < n; k++)
		out[k] = bytes[(k + (size_t)c) % 8];
	out[n] = '\0';
}

static void fast_open(const char *path)
{
	syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
}

/* Whether the child's 2 MiB region became a transparent huge page (shared with the parent). */
struct fast_report {
	volatile int huge;
};

static void child_fast(void *arg)
{
	struct fast_report *rep = arg;
	char stack[64], *heap, *two, *huge, *shared, *none, line[256];
	int mfd = memfd_create("lanner-fast", 0);
	FILE *f;

	heap = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	huge = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mfd < 0 || ftruncate(mfd, 8192) || heap == MAP_FAILED || two == MAP_FAILED ||
	    huge == MAP_FAILED || none == MAP_FAILED)
		_exit(2);
	shared = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (shared == MAP_FAILED)
		_exit(2);
	huge = (char *)(((uintptr_t)huge + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	madvise(huge, 2 << 20, MADV_HUGEPAGE);
	/* short strings everywhere else: a read at a wrong offset gives a wrong string */
	for (int i = 0; i < 4 * 4096; i++)
		huge[i] = shared[i % 8192] = i % 16 == 15 ? '\0' : 'w';
	fast_text(FC_PROT_NONE, none + 100);
	if (mprotect(none, 4096, PROT_NONE))
		_exit(2);
	for (int round = 0; round < FAST_ROUNDS; round++) {
		for (int c = 0; c < FAST_GRID; c++) {
			fast_text(c, heap + 128 + c % 8);
			fast_open(heap + 128 + c % 8);
		}
		fast_text(FC_STACK, stack);
		fast_open(stack);
		fast_text(FC_LONGEST, heap + 512);
		fast_open(heap + 512);
		fast_text(FC_TOO_LONG, heap + 1024);
		fast_open(heap + 1024);
		fast_text(FC_CROSSING, two + 4096 - 10);
		fast_open(two + 4096 - 10);
		fast_text(FC_PAGE_END, two + 4096 - 21);
		fast_open(two + 4096 - 21);
		fast_text(FC_HUGE, huge + 3 * 4096 + 100);
		fast_open(huge + 3 * 4096 + 100);
		fast_text(FC_SHARED, shared + 200);
		fast_open(shared + 200);
		fast_open(none + 100);
	}
	/* after the cases: this open is recorded too, and check_fast stops before it */
	f = fopen("/proc/self/smaps_rollup", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			rep->huge = atol(line + 14) >= 2048;
	if (f)
		fclose(f);
}

/* The child's openat records, in order, against the cases; returns how many were seen. */
static int check_fast(struct seen *s, pid_t tid, bool fast)
{
	char want[512];
	uint64_t last = 0;
	int got = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct lanner_rec *r = s->recs[i];
		int c = got % FC_N;
		const char *path;
		unsigned flags = 0;
		size_t len = 0;

		if (r->type != LANNER_REC_SYSCALL || r->tid != (uint32_t)tid || r->nr != 257 ||
		    got == FC_N * FAST_ROUNDS)
			continue;
		assert_true(!got || r->seq > last);
		last = r->seq;
		got++;
		path = blob_flags(r, LANNER_B_PATH, &len, &flags);
		assert_non_null(path);
		/* which reader: the helper for the three slow cases, or for all when not fast */
		if (!fast || c == FC_TOO_LONG || c == FC_CROSSING || c == FC_PROT_NONE) {
			if (!(flags & LANNER_BF_SLOW))
				fail_msg("case %d: read fast, the helper was expected", c);
		} else if (flags & LANNER_BF_SLOW) {
			fail_msg("case %d: read by the helper, the direct map was expected", c);
		}
		if (c == FC_PROT_NONE) {
			assert_int_equal(r->ret, -EFAULT);
			assert_int_equal(len, 0);
			assert_true(r->flags & LANNER_RF_FAULT);
			continue;
		}
		fast_text(c, want);
		if (len != strlen(want) + 1 || memcmp(path, want, len))
			fail_msg("case %d: %zu bytes, want %zu", c, len, strlen(want) + 1);
		assert_false(r->flags & (LANNER_RF_FAULT | LANNER_RF_TRUNCATED));
	}
	return got;
}

/* THP for madvised regions ("always" or "madvise"), so a 2 MiB page should form. */
static bool thp_madvise(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

static void test_fast_reads(void **state)
{
	const char *ci = getenv("CI");
	struct fast_report *rep;

	if (!need_root()) {
		skip();
		return;
	}
	rep = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(rep != MAP_FAILED);
	for (int off = 0; off < 2; off++) {
		struct probe_opts o = { .no_fast_reads = off };
		uint64_t before[LANNER_STAT_MAX], after[LANNER_STAT_MAX], helper;
		struct probe_set set = { 0 };
		struct run r = { 0 };
		pid_t pid;

		probe_set_add(&set, 257);
		run_start(&r, &o, &set);
		if (!off && !probe_fast_reads(r.probe)) {
			/* this kernel failed the loader's checks (the log says why) */
			if (ci && !strcmp(ci, "true"))
				fail_msg("CI=true: direct-map reads must work on the CI kernel");
			print_message("direct-map reads are off on this kernel: helper only\n");
		}
		if (off)
			assert_false(probe_fast_reads(r.probe));
		assert_int_equal(probe_stats(r.probe, before), 0);
		rep->huge = 0;
		pid = run_child(&r, child_fast, rep);
		assert_int_equal(probe_stats(r.probe, after), 0);
		assert_int_equal(check_fast(&r.seen, pid, probe_fast_reads(r.probe)),
				 FC_N * FAST_ROUNDS);
		/* the 2 MiB case must have been one in CI (this kernel allows it) */
		if (!rep->huge && thp_madvise() && ci && !strcmp(ci, "true"))
			fail_msg("CI=true: no transparent huge page formed for the 2 MiB case");
		if (!rep->huge)
			print_message(
				"no transparent huge page formed: the 2 MiB case was 4 KiB\n");
		assert_int_equal(probe_bad_records(r.probe), 0);
		/* other processes' opens count too: only more helper reads, never fewer */
		helper = after[LANNER_STAT_USER_HELPER] - before[LANNER_STAT_USER_HELPER];
		if (off || !probe_fast_reads(r.probe)) {
			assert_true(helper >= FC_N * FAST_ROUNDS);
		} else {
			assert_true(helper >= FC_SLOW * FAST_ROUNDS);
			assert_true(helper < (FC_N - FC_SLOW) * FAST_ROUNDS / 2);
		}
		run_finish(&r);
	}
	munmap(rep, 4096);
}

static void test_bad_options(void **state)
{
	struct probe_opts o = { .ringbuf_bytes = 5000 };
	struct probe_set set = { 0 };
	uv_loop_t loop;
	char err[256] = "";

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_null(probe_new(&loop, &o, &set, on_record, NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "ring buffer size"));
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Without BPF rights, probe_new refuses with the reason and what is needed. */
static void check_unprivileged(void)
{
	struct probe_set set = { 0 };
	uv_loop_t loop;
	char err[512] = "";
	struct probe *p;

	assert_int_equal(uv_loop_init(&loop), 0);
	p = probe_new(&loop, NULL, &set, on_record, NULL, err, sizeof(err));
	assert_null(p);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(err, "EPERM"));
	assert_non_null(strstr(err, "CAP_BPF and CAP_PERFMON"));
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_unprivileged(void **state)
{
	int status;
	pid_t pid;

	if (geteuid() != 0) {
		check_unprivileged();
		return;
	}
	/* As root, drop to nobody in a child (the parent keeps its rights). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct probe_set set = { 0 };
		char err[512] = "";
		uv_loop_t loop;
		struct probe *p;

		if (setgid(65534) || setuid(65534) || uv_loop_init(&loop))
			_exit(2);
		p = probe_new(&loop, NULL, &set, on_record, NULL, err, sizeof(err));
		if (p || errno != EPERM || !strstr(err, "CAP_BPF and CAP_PERFMON")) {
			fprintf(stderr, "unprivileged probe_new: %s (errno %d)\n", err, errno);
			_exit(1);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_names),
		cmocka_unit_test(test_programs_match_table),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_unprivileged),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_knobs),
		cmocka_unit_test(test_ring_wrap_and_full),
		cmocka_unit_test(test_small_ring_wakes),
		cmocka_unit_test(test_small_ring_holds),
		cmocka_unit_test(test_fast_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
