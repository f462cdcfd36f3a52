// SPDX-License-Identifier: Apache-2.0
/*
 * Record decoders on records built here exactly as the kernel programs lay them out
 * (bpf/events.h); the live layout itself is checked by test_probe.c on the real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>

#include <cmocka.h>

#include "detector/decode.h"

struct builder {
	union {
		struct lanner_rec rec;
		unsigned char buf[LANNER_REC_MAX];
	};
	size_t off;
};

static struct lanner_rec *rec_new(struct builder *b, unsigned type, unsigned nr, long ret)
{
	memset(b, 0, sizeof(*b));
	b->rec.type = type;
	b->rec.nr = nr;
	b->rec.ret = ret;
	b->rec.tid = 4242;
	b->rec.tgid = 4240;
	b->rec.ts_ns = 1000;
	b->off = sizeof(b->rec);
	b->rec.size = b->off;
	return &b->rec;
}

static void add_blob(struct builder *b, unsigned id, const void *data, size_t len, unsigned flags)
{
	struct lanner_blob h = { .id = id, .flags = flags, .len = len };

	memcpy(b->buf + b->off, &h, sizeof(h));
	memcpy(b->buf + b->off + sizeof(h), data, len);
	b->off += sizeof(h) + len;
	b->rec.size = b->off;
	b->rec.nblobs++;
}

static void add_str(struct builder *b, unsigned id, const char *s)
{
	add_blob(b, id, s, strlen(s) + 1, 0);
}

static void test_openat(void **state)
{
	static struct builder b;
	struct syscall_event ev;
	struct lanner_rec *r = rec_new(&b, LANNER_REC_SYSCALL, 257, 5);

	r->args[0] = (uint64_t)(int64_t)AT_FDCWD;
	r->args[2] = O_WRONLY | O_TRUNC;
	r->args[3] = 0644;
	add_str(&b, LANNER_B_PATH, "/var/log/syslog");
	assert_int_equal(decode_event(r, b.off, 7000, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_OPENAT);
	assert_int_equal(ev.tid, 4242);
	assert_int_equal(ev.res, 5);
	assert_int_equal(ev.ts, 8000);
	assert_int_equal(ev.args.dirfd, AT_FDCWD);
	assert_string_equal(ev.args.name, "/var/log/syslog");
	assert_int_equal(ev.args.flags, O_WRONLY | O_TRUNC);
	assert_int_equal(ev.args.mode, 0644);
	assert_true(ev.args.valid & EVENT_ARG_DIRFD);
	assert_true(ev.args.valid & EVENT_ARG_FLAGS);
	assert_null(ev.proc);
	assert_null(ev.fd);
}

static void test_connect_and_accept(void **state)
{
	static struct builder b;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4444) };
	struct lanner_sock_tuple t = { .family = AF_INET, .protocol = IPPROTO_TCP };
	struct event_sockaddr client, server;
	struct syscall_event ev;
	struct lanner_rec *r;

	sin.sin_addr.s_addr = htonl(0xc6336407); /* 198.51.100.7 */
	r = rec_new(&b, LANNER_REC_SYSCALL, 42, -EINPROGRESS);
	r->args[0] = 3;
	add_blob(&b, LANNER_B_SOCKADDR, &sin, sizeof(sin), 0);
	t.lport = 50000;
	t.rport = 4444;
	memcpy(t.laddr, "\x0a\0\0\x02", 4);
	memcpy(t.raddr, "\xc6\x33\x64\x07", 4);
	add_blob(&b, LANNER_B_TUPLE, &t, sizeof(t), 0);
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_CONNECT);
	assert_int_equal(ev.res, -EINPROGRESS);
	assert_int_equal(ev.args.fd, 3);
	assert_int_equal(ev.args.sockaddr.family, AF_INET);
	assert_int_equal(ev.args.sockaddr.port, 4444);
	assert_memory_equal(ev.args.sockaddr.addr, "\xc6\x33\x64\x07", 4);

	decode_tuple(&t, false, &client, &server);
	assert_int_equal(client.port, 50000);
	assert_int_equal(server.port, 4444);
	assert_memory_equal(server.addr, "\xc6\x33\x64\x07", 4);

	/* accept4: the new fd is the result, the peer comes from the kernel tuple. */
	r = rec_new(&b, LANNER_REC_SYSCALL, 288, 7);
	r->args[0] = 3;
	r->args[3] = SOCK_CLOEXEC;
	t.lport = 80;
	t.rport = 41000;
	add_blob(&b, LANNER_B_TUPLE, &t, sizeof(t), 0);
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_ACCEPT4);
	assert_int_equal(ev.args.fd, 7);
	assert_int_equal(ev.args.flags, SOCK_CLOEXEC);
	assert_int_equal(ev.args.sockaddr.port, 41000);
}

static void test_two_paths(void **state)
{
	static struct builder b;
	struct syscall_event ev;
	struct lanner_rec *r = rec_new(&b, LANNER_REC_SYSCALL, 316, 0); /* renameat2 */

	r->args[0] = 3;
	r->args[2] = 4;
	r->args[4] = 1; /* RENAME_NOREPLACE */
	add_str(&b, LANNER_B_PATH, "a");
	add_str(&b, LANNER_B_PATH2, "b");
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_RENAMEAT2);
	assert_int_equal(ev.args.dirfd, 3);
	assert_int_equal(ev.args.newdirfd, 4);
	assert_string_equal(ev.args.oldpath, "a");
	assert_string_equal(ev.args.newpath, "b");
	assert_int_equal(ev.args.flags, 1);

	r = rec_new(&b, LANNER_REC_SYSCALL, 266, 0); /* symlinkat */
	r->args[1] = (uint64_t)(int64_t)AT_FDCWD;
	add_str(&b, LANNER_B_PATH, "/etc");
	add_str(&b, LANNER_B_PATH2, "/tmp/x/link");
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_SYMLINKAT);
	assert_string_equal(ev.args.target, "/etc");
	assert_string_equal(ev.args.linkpath, "/tmp/x/link");
	assert_int_equal(ev.args.dirfd, AT_FDCWD);
}

static void test_process_records(void **state)
{
	static struct builder b;
	struct lanner_exec_info ei = { .cap_effective = 0x1ff, .exe_flags = LANNER_EXE_MEMFD };
	struct lanner_fork_info fi = { .child_tgid = 77, .child_tid = 77 };
	struct lanner_exit_info xi = { .exit_code = 9, .group_dead = 1 };
	struct decode_exec de;
	struct syscall_event ev;
	struct lanner_rec *r;

	r = rec_new(&b, LANNER_REC_PROC_EXEC, 59, 0);
	add_blob(&b, LANNER_B_EXEC, &ei, sizeof(ei), 0);
	add_str(&b, LANNER_B_FILENAME, "/bin/true");
	add_blob(&b, LANNER_B_ARGV, "true\0-x", 8, LANNER_BF_TRUNCATED);
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_EXECVE);
	assert_int_equal(ev.res, 0);
	assert_string_equal(ev.args.path, "/bin/true");
	assert_int_equal(decode_exec(r, b.off, &de), 0);
	assert_string_equal(de.filename, "/bin/true");
	assert_int_equal(de.argv_len, 8);
	assert_memory_equal(de.argv, "true\0-x", 8);
	assert_true(de.argv_truncated);
	assert_int_equal(de.info.cap_effective, 0x1ff);
	assert_int_equal(de.info.exe_flags, LANNER_EXE_MEMFD);
	r->nr = 322;
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_EXECVEAT);

	r = rec_new(&b, LANNER_REC_PROC_FORK, 0, 0);
	add_blob(&b, LANNER_B_FORK, &fi, sizeof(fi), 0);
	assert_int_equal(decode_event(r, b.off, 0, &ev), -ENOENT);
	memset(&fi, 0, sizeof(fi));
	assert_int_equal(decode_fork(r, b.off, &fi), 0);
	assert_int_equal(fi.child_tgid, 77);
	assert_int_equal(decode_exec(r, b.off, &de), -EINVAL);

	r = rec_new(&b, LANNER_REC_PROC_EXIT, 0, 9);
	add_blob(&b, LANNER_B_EXIT, &xi, sizeof(xi), 0);
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_int_equal(ev.type, SYSCALL_EVT_PROCEXIT);
	assert_int_equal(ev.args.sig, 9);
	memset(&xi, 0, sizeof(xi));
	assert_int_equal(decode_exit(r, b.off, &xi), 0);
	assert_int_equal(xi.group_dead, 1);
}

static void test_malformed(void **state)
{
	static struct builder b;
	struct syscall_event ev;
	struct lanner_rec *r = rec_new(&b, LANNER_REC_SYSCALL, 257, 0);
	size_t len;

	/* A blob claiming more bytes than the record has. */
	add_str(&b, LANNER_B_PATH, "/etc/shadow");
	assert_non_null(decode_blob(r, b.off, LANNER_B_PATH, &len, NULL));
	assert_null(decode_blob(r, b.off - 1, LANNER_B_PATH, &len, NULL));
	r->size = b.off;
	r->nblobs = 2;
	assert_null(decode_blob(r, b.off, LANNER_B_PATH2, &len, NULL));
	assert_int_equal(decode_event(r, sizeof(*r) - 1, 0, &ev), -EINVAL);

	/* A string without its NUL, or empty (unreadable in the kernel). */
	r = rec_new(&b, LANNER_REC_SYSCALL, 87, 0);
	add_blob(&b, LANNER_B_PATH, "abc", 3, 0);
	assert_null(decode_str(r, b.off, LANNER_B_PATH));
	r = rec_new(&b, LANNER_REC_SYSCALL, 87, -EFAULT);
	add_blob(&b, LANNER_B_PATH, "", 0, LANNER_BF_FAULT);
	assert_int_equal(decode_event(r, b.off, 0, &ev), 0);
	assert_null(ev.args.path);

	/* A syscall without an event type, a record type that does not exist. */
	r = rec_new(&b, LANNER_REC_SYSCALL, 110, 1);
	assert_int_equal(decode_event(r, b.off, 0, &ev), -ENOENT);
	r = rec_new(&b, 99, 0, 0);
	assert_int_equal(decode_event(r, b.off, 0, &ev), -EINVAL);
}

static void test_sockaddr(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/docker.sock" };
	struct sockaddr_un abstract = { .sun_family = AF_UNIX, .sun_path = "\0hidden" };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct event_sockaddr sa;
	sa_family_t other = AF_NETLINK;

	assert_true(decode_sockaddr(&un, sizeof(un), &sa));
	assert_int_equal(sa.family, AF_UNIX);
	assert_string_equal(sa.path, "/run/docker.sock");
	assert_true(decode_sockaddr(&abstract, sizeof(abstract), &sa));
	assert_null(sa.path);
	in6.sin6_addr = in6addr_loopback;
	assert_true(decode_sockaddr(&in6, sizeof(in6), &sa));
	assert_int_equal(sa.port, 443);
	assert_int_equal(sa.addr[15], 1);
	assert_false(decode_sockaddr(&in6, sizeof(in6) - 1, &sa));
	assert_false(decode_sockaddr(&other, sizeof(other), &sa));
	assert_false(decode_sockaddr(&other, 1, &sa));
}

static void test_boot_to_epoch(void **state)
{
	/*
	 * The realtime clock read between two boottime reads, plus the offset, within 50 ms.
	 * A preemption between two clock reads (on a loaded machine) skews one measurement:
	 * one of five attempts must hold; a wrong offset fails all five.
	 */
	bool ok = false;

	for (int i = 0; i < 5 && !ok; i++) {
		struct timespec rt, bt0, bt1;
		int64_t off = decode_boot_to_epoch(), lo, hi, r;

		clock_gettime(CLOCK_BOOTTIME, &bt0);
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_BOOTTIME, &bt1);
		lo = (int64_t)bt0.tv_sec * 1000000000 + bt0.tv_nsec + off;
		hi = (int64_t)bt1.tv_sec * 1000000000 + bt1.tv_nsec + off;
		r = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
		ok = r >= lo - 50000000 && r <= hi + 50000000 && hi - lo < 50000000;
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openat),	      cmocka_unit_test(test_connect_and_accept),
		cmocka_unit_test(test_two_paths),     cmocka_unit_test(test_process_records),
		cmocka_unit_test(test_malformed),     cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_boot_to_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
