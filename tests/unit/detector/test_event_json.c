// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "detector/event_json.h"

/* A bump arena standing in for the engine's scratch (see test_syscall_fields.c). */
struct field_scratch {
	char buf[1 << 16];
	size_t used;
};

__attribute__((weak)) void *field_scratch_alloc(struct field_scratch *s, size_t len)
{
	void *p;

	len = (len + 15) & ~(size_t)15;
	if (len > sizeof(s->buf) - s->used)
		return NULL;
	p = s->buf + s->used;
	s->used += len;
	return p;
}

static struct field_scratch scratch;

static bool field(const struct syscall_event *e, const char *name, const char *argtext,
		  struct field_value *v)
{
	const struct field_source *src = &syscall_field_source;
	struct field_arg arg = { 0 };

	if (argtext) {
		arg.present = true;
		arg.index = atoi(argtext);
	}
	for (size_t i = 0; i < src->n_fields; i++)
		if (!strcmp(src->fields[i].name, name))
			return src->fields[i].extract(e, &arg, &scratch, v);
	fail_msg("no field %s", name);
	return false;
}

static void assert_field_str(const struct syscall_event *e, const char *name, const char *arg,
			     const char *want)
{
	struct field_value v;

	if (!field(e, name, arg, &v))
		fail_msg("%s missing", name);
	assert_int_equal(v.type, FIELD_STRING);
	if (v.str.len != strlen(want) || memcmp(v.str.p, want, v.str.len))
		fail_msg("%s: '%.*s' != '%s'", name, (int)v.str.len, v.str.p, want);
}

static const char full_line[] =
	"{\"type\":\"openat\",\"num\":12,\"ts\":1746622234502309868,\"cpu\":1,\"tid\":4242,"
	"\"res\":3,\"args\":{\"fd\":3,\"dirfd\":-100,\"name\":\"/etc/shadow\","
	"\"flags\":[\"O_RDONLY\",\"O_CLOEXEC\"],\"mode\":0},"
	"\"proc\":{\"pid\":4242,\"ppid\":4100,\"vpid\":4242,\"sid\":4100,\"name\":\"cat\","
	"\"exe\":\"cat\",\"exepath\":\"/usr/bin/cat\",\"args\":[\"/etc/shadow\"],"
	"\"env\":[\"HOME=/root\",\"TERM=xterm\"],\"cwd\":\"/root/\",\"tty\":34820,\"uid\":0,"
	"\"gid\":0,\"loginuid\":-1,\"user\":\"root\",\"group\":\"root\","
	"\"cap_effective\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"],\"start_ts\":1746622234000000000,"
	"\"exe_from_memfd\":false,\"ancestors\":[{\"pid\":4100,\"name\":\"bash\",\"exe\":\"-bash\","
	"\"exepath\":\"/usr/bin/bash\",\"sid\":4100},{\"pid\":1,\"name\":\"systemd\"}]},"
	"\"fd\":{\"num\":3,\"type\":\"f\",\"name\":\"/etc/shadow\"},"
	"\"container\":{\"id\":\"host\",\"privileged\":false},"
	"\"k8s\":{\"pod_name\":\"web-1\",\"ns_name\":\"prod\",\"labels\":{\"app\":\"web\"}}}";

static void test_parse_full(void **state)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e = NULL;
	struct field_value v;
	char err[128] = "";

	assert_non_null(r);
	assert_int_equal(event_reader_parse(r, full_line, strlen(full_line), &e, err, sizeof(err)),
			 0);
	assert_non_null(e);
	assert_int_equal(e->type, SYSCALL_EVT_OPENAT);
	assert_int_equal(e->ts, 1746622234502309868ull);
	assert_int_equal(e->args.flags, O_RDONLY | O_CLOEXEC);
	assert_int_equal(e->args.dirfd, -100);
	assert_non_null(e->proc);
	assert_int_equal(e->proc->loginuid, UINT32_MAX);
	assert_int_equal(e->proc->n_env, 2);
	assert_field_str(e, "proc.cmdline", NULL, "cat /etc/shadow");
	assert_field_str(e, "proc.pname", NULL, "bash");
	assert_field_str(e, "proc.aname", "2", "systemd");
	assert_false(field(e, "proc.aname", "3", &v));
	assert_field_str(e, "proc.sname", NULL, "bash");
	assert_field_str(e, "proc.pexepath", NULL, "/usr/bin/bash");
	assert_field_str(e, "thread.cap_effective", NULL, "CAP_CHOWN CAP_SYS_ADMIN");
	assert_field_str(e, "fd.name", NULL, "/etc/shadow");
	assert_field_str(e, "container.id", NULL, "host");
	assert_field_str(e, "k8s.ns.name", NULL, "prod");
	assert_field_str(e, "evt.res", NULL, "SUCCESS");
	assert_true(field(e, "user.loginuid", NULL, &v));
	assert_int_equal(v.i, -1);
	assert_true(field(e, "container.privileged", NULL, &v));
	assert_false(v.b);
	assert_true(field(e, "evt.is_open_read", NULL, &v));
	assert_true(v.b);
	/* absent means unknown */
	assert_false(field(e, "proc.vpgid", NULL, &v));
	assert_false(field(e, "k8s.pod.uid", NULL, &v));
	assert_false(field(e, "proc.is_exe_upper_layer", NULL, &v) && v.b);
	event_reader_free(r);
}

static void test_round_trip(void **state)
{
	static const char *const lines[] = {
		full_line,
		"{\"type\":\"connect\",\"ts\":5,\"tid\":10,\"res\":0,\"args\":{\"fd\":4,"
		"\"sockaddr\":{\"ip\":\"198.51.100.7\",\"port\":443}},\"proc\":{\"pid\":10,"
		"\"name\":\"curl\"},\"fd\":{\"num\":4,\"type\":\"4\",\"name\":\"10.0.0.5:4000->"
		"198.51.100.7:443\",\"l4proto\":\"tcp\",\"client\":{\"ip\":\"10.0.0.5\","
		"\"port\":4000},\"server\":{\"ip\":\"198.51.100.7\",\"port\":443},"
		"\"is_server\":false,\"connected\":true}}",
		"{\"type\":\"ptrace\",\"ts\":6,\"tid\":11,\"res\":0,\"args\":{\"request\":"
		"\"PTRACE_ATTACH\",\"pid\":99}}",
		"{\"type\":\"socket\",\"ts\":7,\"tid\":12,\"res\":3,\"args\":{\"domain\":\"AF_PACKET\","
		"\"type\":\"SOCK_RAW\",\"proto\":768}}",
		"{\"type\":\"unlinkat\",\"ts\":8,\"tid\":13,\"res\":-2,\"args\":{\"dirfd\":-100,"
		"\"name\":\"x\",\"flags\":[\"AT_REMOVEDIR\"]}}",
		"{\"type\":\"unshare\",\"ts\":9,\"tid\":13,\"res\":0,\"args\":{\"flags\":["
		"\"CLONE_NEWNET\",\"0x1000000000\"]}}",
		"{\"type\":\"execve\",\"ts\":9,\"tid\":13,\"res\":0,\"proc\":{\"pid\":13,"
		"\"name\":\"x\",\"exe_from_memfd\":true,\"exe_ino\":5,\"exe_ctime\":1,"
		"\"exe_mtime\":2,\"cap_effective\":1,\"cap_permitted\":[\"CAP_BPF\"]}}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct event_reader *r1 = event_reader_new(), *r2 = event_reader_new();
		const struct syscall_event *e1, *e2;
		char err[128] = "";
		char *d1, *d2;

		assert_true(r1 && r2);
		if (event_reader_parse(r1, lines[i], strlen(lines[i]), &e1, err, sizeof(err)))
			fail_msg("line %zu: %s", i, err);
		d1 = event_json_dump(e1);
		assert_non_null(d1);
		if (event_reader_parse(r2, d1, strlen(d1), &e2, err, sizeof(err)))
			fail_msg("dump %zu: %s: %s", i, err, d1);
		d2 = event_json_dump(e2);
		assert_non_null(d2);
		assert_string_equal(d1, d2);
		assert_int_equal(e1->args.valid, e2->args.valid);
		assert_int_equal(e1->args.flags, e2->args.flags);
		free(d1);
		free(d2);
		event_reader_free(r1);
		event_reader_free(r2);
	}
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} bad[] = {
		{ "not json", "JSON column" },
		{ "[1,2]", "expected a JSON object" },
		{ "{\"ts\":1}", "missing \"type\"" },
		{ "{\"type\":\"frobnicate\"}", "unknown event type 'frobnicate'" },
		{ "{\"type\":\"openat\",\"ts\":\"x\"}", "event.ts: expected an integer" },
		{ "{\"type\":\"openat\",\"args\":{\"flags\":[\"O_NOPE\"]}}",
		  "args.flags[0]: unknown flag 'O_NOPE' for openat" },
		{ "{\"type\":\"unlinkat\",\"args\":{\"flags\":[\"O_TRUNC\"]}}",
		  "unknown flag 'O_TRUNC'" },
		{ "{\"type\":\"openat\",\"proc\":{\"uid\":0}}", "proc: uid without gid" },
		{ "{\"type\":\"openat\",\"proc\":{\"ancestors\":[1]}}",
		  "proc.ancestors[0]: expected" },
		{ "{\"type\":\"openat\",\"proc\":{\"args\":[1]}}",
		  "proc.args[0]: expected a string" },
		{ "{\"type\":\"openat\",\"fd\":{\"type\":\"file\"}}",
		  "fd.type: expected one character" },
		{ "{\"type\":\"connect\",\"args\":{\"sockaddr\":{\"ip\":\"999.1.1.1\"}}}",
		  "args.sockaddr: expected" },
		{ "{\"type\":\"ptrace\",\"args\":{\"request\":\"PTRACE_NOPE\"}}",
		  "args.request: unknown name 'PTRACE_NOPE'" },
		{ "{\"type\":\"openat\",\"type\":\"open\"}", "JSON column" },
		{ "{\"type\":\"openat\",\"k8s\":{\"labels\":{\"a\":1}}}",
		  "k8s.labels.a: expected a string" },
		{ "{\"type\":\"openat\",\"proc\":{\"cap_effective\":[\"CAP_NOPE\"]}}",
		  "not a capability name" },
	};
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e;
	char err[160];

	assert_non_null(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(event_reader_parse(r, bad[i].line, strlen(bad[i].line), &e, err,
						    sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("'%s': got '%s', want '%s'", bad[i].line, err, bad[i].msg);
	}
	assert_int_equal(event_reader_parse(r, "  # comment", 11, &e, err, sizeof(err)), 1);
	assert_int_equal(event_reader_parse(r, "", 0, &e, err, sizeof(err)), 1);
	event_reader_free(r);
}

struct report {
	unsigned long lines[8];
	int n;
};

static void on_bad(void *ctx, unsigned long line, const char *msg)
{
	struct report *rep = ctx;

	assert_true(msg[0]);
	if (rep->n < 8)
		rep->lines[rep->n++] = line;
}

/* A stream with bad lines between good ones, and ancestor counts that grow and shrink. */
static void test_stream(void **state)
{
	char buf[8192];
	int n = snprintf(
		buf, sizeof(buf),
		"%s\n"
		"garbage\n"
		"\n"
		"{\"type\":\"execve\",\"proc\":{\"name\":\"a\",\"args\":[\"1\",\"2\",\"3\"],"
		"\"ancestors\":[{\"name\":\"b\"},{\"name\":\"c\"},{\"name\":\"d\"},{\"name\":\"e\"}]}}\n"
		"{\"type\":\"nope\"}\n"
		"{\"type\":\"execve\",\"proc\":{\"name\":\"z\"}}\n"
		"{\"type\":\"close\"",
		full_line);
	FILE *f = fmemopen(buf, (size_t)n, "r");
	struct event_reader *r = event_reader_new();
	struct report rep = { { 0 }, 0 };
	const struct syscall_event *e;
	struct field_value v;

	assert_non_null(f);
	assert_non_null(r);
	event_reader_set_reporter(r, on_bad, &rep);
	assert_int_equal(event_reader_next(r, f, &e), 1);
	assert_field_str(e, "proc.aname", "2", "systemd");
	assert_int_equal(event_reader_next(r, f, &e), 1);
	assert_field_str(e, "proc.aname", "4", "e");
	assert_field_str(e, "proc.args", NULL, "1 2 3");
	assert_int_equal(event_reader_next(r, f, &e), 1);
	assert_field_str(e, "proc.name", NULL, "z");
	assert_false(field(e, "proc.pname", NULL, &v));
	assert_int_equal(event_reader_next(r, f, &e), 0);
	assert_int_equal(event_reader_lines(r), 7);
	assert_int_equal(event_reader_bad_lines(r), 3);
	assert_int_equal(rep.n, 3);
	assert_int_equal(rep.lines[0], 2);
	assert_int_equal(rep.lines[1], 5);
	assert_int_equal(rep.lines[2], 7);
	fclose(f);
	event_reader_free(r);
}

static void test_fwrite(void **state)
{
	struct event_process p = { .valid = EVENT_PROC_PID, .pid = 1, .name = "init" };
	struct syscall_event e = { .type = SYSCALL_EVT_PROCEXIT, .ts = 1, .proc = &p };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(event_json_fwrite(&e, f), 0);
	fclose(f);
	assert_string_equal(buf, "{\"type\":\"procexit\",\"ts\":1,\"cpu\":0,\"tid\":0,\"res\":0,"
				 "\"args\":{},\"proc\":{\"pid\":1,\"name\":\"init\"}}\n");
	free(buf);
	e.type = SYSCALL_EVT__COUNT;
	assert_null(event_json_dump(&e));
	assert_int_equal(errno, EINVAL);
}

/* Through a writer each process is said once; a reader gives back the same events. */
static void test_writer_refs(void **state)
{
	const char *const args1[] = { "-c", "x" }, *const args2[] = { "/etc/shadow" };
	struct event_process init = { .valid = EVENT_PROC_PID, .pid = 1, .name = "init" };
	struct event_process sh = { .valid = EVENT_PROC_PID | EVENT_PROC_START,
				    .pid = 40,
				    .name = "sh",
				    .args = args1,
				    .n_args = 2,
				    .start_ns = 7,
				    .parent = &init };
	struct event_process cat = { .valid = EVENT_PROC_PID,
				     .pid = 41,
				     .name = "cat",
				     .args = args2,
				     .n_args = 1,
				     .parent = &sh };
	/* pid 4137 lands in the slot of pid 41? whatever it hits, replacing must stay exact */
	struct event_process other = {
		.valid = EVENT_PROC_PID, .pid = 4137, .name = "other", .parent = &init
	};
	struct syscall_event ev[6];
	char *expect[6], *buf = NULL, *line = NULL, err[128] = "";
	size_t len = 0, cap = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);
	struct event_writer *w;
	struct event_reader *r;
	const struct syscall_event *got;

	assert_non_null(f);
	w = event_writer_new(f);
	assert_non_null(w);
	for (int i = 0; i < 6; i++) {
		ev[i] = (struct syscall_event){ .type = SYSCALL_EVT_PROCEXIT, .ts = (uint64_t)i };
		ev[i].proc = i == 4 ? &other : &cat;
	}
	ev[2].proc = &sh;
	for (int i = 0; i < 6; i++) {
		if (i == 5)
			sh.name = "sh2"; /* a change: defined again */
		expect[i] = event_json_dump(&ev[i]);
		assert_non_null(expect[i]);
		assert_int_equal(event_writer_write(w, &ev[i]), 0);
	}
	event_writer_free(w);
	fclose(f);
	/* the second event refers to all three processes */
	assert_non_null(strstr(buf, "\"proc\":{\"ref\":"));
	/* init is an ancestor of every event and never changes: written once */
	assert_non_null(strstr(buf, "\"name\":\"init\""));
	assert_null(strstr(strstr(buf, "\"name\":\"init\"") + 1, "\"name\":\"init\""));

	r = event_reader_new();
	assert_non_null(r);
	f = fmemopen(buf, len, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		char *d;

		line[strcspn(line, "\n")] = 0;
		if (event_reader_parse(r, line, strlen(line), &got, err, sizeof(err)))
			fail_msg("line %zu: %s", n + 1, err);
		d = event_json_dump(got);
		assert_non_null(d);
		assert_true(n < 6);
		assert_string_equal(d, expect[n]);
		free(d);
		free(expect[n]);
		n++;
	}
	assert_int_equal(n, 6);
	fclose(f);
	free(line);
	free(buf);

	/* a ref to nothing defined is a bad line that names it */
	assert_int_equal(
		event_reader_parse(r, "{\"type\":\"procexit\",\"proc\":{\"ref\":4095}}",
				   strlen("{\"type\":\"procexit\",\"proc\":{\"ref\":4095}}"), &got,
				   err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "proc.ref: process 4095 was not defined"));
	assert_int_equal(event_reader_parse(r, "{\"type\":\"procexit\",\"proc\":{\"id\":-1}}",
					    strlen("{\"type\":\"procexit\",\"proc\":{\"id\":-1}}"),
					    &got, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "proc.id"));
	event_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full), cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_lines),  cmocka_unit_test(test_stream),
		cmocka_unit_test(test_fwrite),	   cmocka_unit_test(test_writer_refs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
