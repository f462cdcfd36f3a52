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
#include <time.h>
#include <linux/sched.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "detector/event.h"

/*
 * The extractors only need field_scratch_alloc from the engine; the engine's own arena has no
 * public constructor, so the test brings a bump arena. Weak, so that a build where the real one
 * gets linked in for another reason does not clash.
 */
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

static const struct field_def *def(const char *name)
{
	for (size_t i = 0; i < syscall_field_source.n_fields; i++)
		if (!strcmp(syscall_field_source.fields[i].name, name))
			return &syscall_field_source.fields[i];
	return NULL;
}

static bool get_arg(const struct syscall_event *e, const char *name, const char *argtext,
		    struct field_value *v)
{
	const struct field_def *d = def(name);
	struct field_arg arg = { 0 };
	char *end;

	if (!d)
		fail_msg("no field %s", name);
	if (argtext) {
		arg.present = true;
		arg.index = strtoll(argtext, &end, 10);
		if (*end || end == argtext) {
			arg.key = argtext;
			arg.key_len = strlen(argtext);
		}
	}
	memset(v, 0, sizeof(*v));
	return d->extract(e, &arg, &scratch, v);
}

static bool get(const struct syscall_event *e, const char *name, struct field_value *v)
{
	return get_arg(e, name, NULL, v);
}

static void assert_str(const struct syscall_event *e, const char *name, const char *arg,
		       const char *want)
{
	struct field_value v;

	if (!get_arg(e, name, arg, &v))
		fail_msg("%s%s%s%s: missing, want '%s'", name, arg ? "[" : "", arg ? arg : "",
			 arg ? "]" : "", want);
	assert_int_equal(v.type, FIELD_STRING);
	if (v.str.len != strlen(want) || memcmp(v.str.p, want, v.str.len))
		fail_msg("%s: got '%.*s', want '%s'", name, (int)v.str.len, v.str.p, want);
}

static void assert_missing(const struct syscall_event *e, const char *name, const char *arg)
{
	struct field_value v;

	if (get_arg(e, name, arg, &v))
		fail_msg("%s: expected missing", name);
}

static int64_t get_int(const struct syscall_event *e, const char *name, enum field_type t)
{
	struct field_value v;

	if (!get(e, name, &v))
		fail_msg("%s: missing", name);
	assert_int_equal(v.type, t);
	return t == FIELD_INT ? v.i : (int64_t)v.u;
}

static bool get_bool(const struct syscall_event *e, const char *name)
{
	struct field_value v;

	if (!get(e, name, &v))
		fail_msg("%s: missing", name);
	assert_int_equal(v.type, FIELD_BOOL);
	return v.b;
}

/* A small process tree: sshd -> bash -> cat, in a container of a pod. */
static const char *const cat_args[] = { "/etc/shadow" };
static const char *const bash_args[] = { "-i" };
static struct event_process sshd, bash, cat;
static struct event_fd file_fd;
static struct event_container ctr;
static const char *const lkeys[] = { "app", "tier" };
static const char *const lvals[] = { "web", "front" };
static struct event_k8s pod;

static void fixtures(void)
{
	sshd = (struct event_process){
		.valid = EVENT_PROC_PID | EVENT_PROC_SID | EVENT_PROC_VPID,
		.pid = 100,
		.vpid = 100,
		.sid = 100,
		.name = "sshd",
		.exe = "/usr/sbin/sshd",
		.exepath = "/usr/sbin/sshd",
	};
	bash = (struct event_process){
		.valid = EVENT_PROC_PID | EVENT_PROC_SID | EVENT_PROC_VPID | EVENT_PROC_PPID,
		.pid = 200,
		.vpid = 200,
		.ppid = 100,
		.sid = 200,
		.name = "bash",
		.exe = "-bash",
		.exepath = "/usr/bin/bash",
		.args = bash_args,
		.n_args = 1,
		.parent = &sshd,
	};
	cat = (struct event_process){
		.valid = EVENT_PROC_PID | EVENT_PROC_PPID | EVENT_PROC_SID | EVENT_PROC_VPID |
			 EVENT_PROC_TTY | EVENT_PROC_UID | EVENT_PROC_LOGINUID | EVENT_PROC_CAPS |
			 EVENT_PROC_START | EVENT_PROC_EXE_FLAGS,
		.pid = 300,
		.vpid = 300,
		.ppid = 200,
		.sid = 200,
		.name = "cat",
		.exe = "cat",
		.exepath = "/usr/bin/cat",
		.args = cat_args,
		.n_args = 1,
		.cwd = "/root/",
		.tty = 34820,
		.uid = 0,
		.gid = 0,
		.loginuid = 4294967295u,
		.user = "root",
		.group = "root",
		.cap_effective = (1ull << 21) | (1ull << 0), /* CAP_SYS_ADMIN, CAP_CHOWN */
		.start_ns = 1000,
		.exe_from_memfd = true,
		.parent = &bash,
	};
	file_fd = (struct event_fd){
		.valid = EVENT_FD_NUM,
		.num = 3,
		.type = 'f',
		.name = "/etc/shadow",
		.nameraw = "shadow",
	};
	ctr = (struct event_container){
		.id = "0123456789ab",
		.image_repository = "docker.io/library/nginx",
		.privileged = -1,
	};
	pod = (struct event_k8s){
		.pod_name = "web-1",
		.ns_name = "prod",
		.label_keys = lkeys,
		.label_values = lvals,
		.n_labels = 2,
	};
}

static struct syscall_event open_event(void)
{
	struct syscall_event e = {
		.type = SYSCALL_EVT_OPENAT,
		.num = 7,
		.ts = 5000,
		.tid = 300,
		.res = 3,
		.proc = &cat,
		.fd = &file_fd,
		.container = &ctr,
		.k8s = &pod,
	};

	e.args.valid = EVENT_ARG_DIRFD | EVENT_ARG_FLAGS | EVENT_ARG_MODE;
	e.args.dirfd = AT_FDCWD;
	e.args.name = "shadow";
	e.args.flags = O_RDONLY | O_CLOEXEC;
	return e;
}

static int setup(void **state)
{
	fixtures();
	scratch.used = 0;
	return 0;
}

static void test_table_sane(void **state)
{
	const struct field_source *src = &syscall_field_source;

	assert_string_equal(src->name, "syscall");
	assert_int_equal(src->n_event_types, SYSCALL_EVT__COUNT);
	assert_non_null(def(src->type_field));
	assert_non_null(def(src->time_field));
	for (size_t i = 0; i < src->n_fields; i++) {
		const struct field_def *d = &src->fields[i];

		assert_non_null(d->extract);
		assert_true(d->desc && d->desc[0]);
		assert_true(!(d->flags & FIELD_FLAGS_VALUE) == !d->flag_value);
		for (size_t j = i + 1; j < src->n_fields; j++)
			if (!strcmp(d->name, src->fields[j].name))
				fail_msg("duplicate field %s", d->name);
	}
	for (int t = 0; t < SYSCALL_EVT__COUNT; t++)
		assert_int_equal(syscall_event_type_from_name(syscall_event_type_names[t]), t);
	assert_int_equal(syscall_event_type_from_name("nosuchcall"), -1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Blank out '#' comment lines so commented-out examples do not count. */
static void strip_comments(char *s)
{
	char *line = s;

	while (*line) {
		char *p = line, *nl = strchr(line, '\n');

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#')
			memset(line, ' ', nl ? (size_t)(nl - line) : strlen(line));
		if (!nl)
			break;
		line = nl + 1;
	}
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Every evt.type comparison and every field of the upstream rule files must be known. */
static void check_rules_file(const char *name)
{
	char path[512];
	char *buf;
	size_t checked_types = 0, checked_fields = 0;

	snprintf(path, sizeof(path), "%s/falco-rules/%s", SHARED_DATA_DIR, name);
	buf = slurp(path);
	if (!buf) {
		print_message("skipping %s: %s\n", path, strerror(errno));
		return;
	}
	strip_comments(buf);
	for (char *p = buf; (p = strstr(p, "evt.type")); p += 8) {
		char *q = p + 8;
		bool list = false;

		while (*q == ' ')
			q++;
		if (q[0] == '=' || (q[0] == '!' && q[1] == '='))
			q += q[0] == '=' ? 1 : 2;
		else if (q[0] == 'i' && q[1] == 'n' && !word_char(q[2]))
			q += 2, list = true;
		else
			continue;
		while (*q == ' ')
			q++;
		if (list && *q++ != '(')
			continue;
		for (;;) {
			char w[64];
			size_t n = 0;

			while (*q == ' ' || *q == ',')
				q++;
			while (word_char(*q) && n < sizeof(w) - 1)
				w[n++] = *q++;
			w[n] = 0;
			if (n) {
				if (syscall_event_type_from_name(w) < 0)
					fail_msg("%s: unknown event type '%s'", name, w);
				checked_types++;
			}
			if (!list || *q == ')' || !*q || !n)
				break;
		}
	}
	for (char *p = buf; *p; p++) {
		static const char *const prefixes[] = { "evt.",	  "proc.",	"fd.",	"user.",
							"group.", "container.", "k8s.", "thread." };
		char f[128];
		size_t n = 0;

		if (p > buf && (word_char(p[-1]) || p[-1] == '.' || p[-1] == '/' || p[-1] == '-'))
			continue;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			if (!strncmp(p, prefixes[i], strlen(prefixes[i]))) {
				n = 1;
				break;
			}
		}
		if (!n)
			continue;
		n = 0;
		while ((word_char(p[n]) || p[n] == '.') && n < sizeof(f) - 1) {
			f[n] = p[n];
			n++;
		}
		while (n && f[n - 1] == '.')
			n--;
		f[n] = 0;
		/* Not fields: image registries and log file names inside lists. */
		if (!strcmp(f, "k8s.io") || !strcmp(f, "user.log") || !strchr(f, '.'))
			continue;
		if (!def(f))
			fail_msg("%s: unknown field '%s'", name, f);
		checked_fields++;
	}
	assert_true(checked_types > 10);
	assert_true(checked_fields > 100);
	free(buf);
}

static void test_upstream_names_known(void **state)
{
	check_rules_file("falco_rules.yaml");
	check_rules_file("falco-incubating_rules.yaml");
	/* state syscalls of the detector */
	static const char *const state_calls[] = {
		"fork",	       "vfork",	  "clone",  "clone3",  "execve",    "execveat",
		"procexit",    "open",	  "openat", "openat2", "creat",	    "close",
		"dup",	       "dup2",	  "dup3",   "fcntl",   "socket",    "connect",
		"accept",      "accept4", "bind",   "listen",  "sendto",    "sendmsg",
		"chdir",       "fchdir",  "setuid", "setgid",  "setresuid", "setresgid",
		"memfd_create"
	};
	for (size_t i = 0; i < sizeof(state_calls) / sizeof(state_calls[0]); i++)
		assert_true(syscall_event_type_from_name(state_calls[i]) >= 0);
}

static void test_process_fields(void **state)
{
	struct syscall_event e = open_event();
	struct field_value v;

	assert_str(&e, "proc.name", NULL, "cat");
	assert_str(&e, "proc.exe", NULL, "cat");
	assert_str(&e, "proc.exepath", NULL, "/usr/bin/cat");
	assert_str(&e, "proc.args", NULL, "/etc/shadow");
	assert_str(&e, "proc.cmdline", NULL, "cat /etc/shadow");
	assert_str(&e, "proc.exeline", NULL, "cat /etc/shadow");
	assert_str(&e, "proc.pname", NULL, "bash");
	assert_str(&e, "proc.pexe", NULL, "-bash");
	assert_str(&e, "proc.pexepath", NULL, "/usr/bin/bash");
	assert_str(&e, "proc.pcmdline", NULL, "bash -i");
	assert_str(&e, "proc.aname", "0", "cat");
	assert_str(&e, "proc.aname", "1", "bash");
	assert_str(&e, "proc.aname", "2", "sshd");
	assert_missing(&e, "proc.aname", "3");
	assert_str(&e, "proc.aexepath", "2", "/usr/sbin/sshd");
	assert_str(&e, "proc.acmdline", "2", "sshd");
	assert_str(&e, "proc.cwd", NULL, "/root/");
	assert_int_equal(get_int(&e, "proc.pid", FIELD_INT), 300);
	assert_int_equal(get_int(&e, "proc.ppid", FIELD_INT), 200);
	assert_int_equal(get_int(&e, "proc.apid", FIELD_INT), 200);
	assert_int_equal(get_int(&e, "proc.tty", FIELD_UINT), 34820);
	assert_int_equal(get_int(&e, "proc.duration", FIELD_RELTIME), 4000);
	assert_str(&e, "proc.sname", NULL, "bash");
	assert_int_equal(get_int(&e, "proc.loginshellid", FIELD_INT), 200);
	assert_true(get_bool(&e, "proc.is_exe_from_memfd"));
	assert_false(get_bool(&e, "proc.is_exe_upper_layer"));
	assert_false(get_bool(&e, "proc.is_sid_leader"));
	assert_int_equal(get_int(&e, "thread.tid", FIELD_INT), 300);
	assert_str(&e, "thread.cap_effective", NULL, "CAP_CHOWN CAP_SYS_ADMIN");
	assert_int_equal(get_int(&e, "user.uid", FIELD_UINT), 0);
	assert_str(&e, "user.name", NULL, "root");
	assert_int_equal(get_int(&e, "user.loginuid", FIELD_INT), -1);
	assert_missing(&e, "user.loginname", NULL);
	assert_str(&e, "group.name", NULL, "root");
	/* unknown things are missing, not made up */
	assert_missing(&e, "proc.vpgid", NULL);
	assert_missing(&e, "proc.env", NULL);
	assert_missing(&e, "proc.exe_ino.ctime", NULL);
	cat.valid &= ~(uint32_t)EVENT_PROC_TTY;
	assert_missing(&e, "proc.tty", NULL);
	cat.parent = NULL;
	assert_missing(&e, "proc.pname", NULL);
	assert_missing(&e, "proc.aname", "1");
	e.proc = NULL;
	assert_missing(&e, "proc.name", NULL);
	assert_missing(&e, "user.uid", NULL);
	assert_false(get(&e, "proc.cmdline", &v));
}

static void test_event_fields(void **state)
{
	struct syscall_event e = open_event();
	assert_str(&e, "evt.type", NULL, "openat");
	assert_str(&e, "evt.dir", NULL, "<");
	assert_str(&e, "evt.res", NULL, "SUCCESS");
	assert_int_equal(get_int(&e, "evt.rawres", FIELD_INT), 3);
	assert_int_equal(get_int(&e, "evt.num", FIELD_UINT), 7);
	e.num = 0;
	assert_missing(&e, "evt.num", NULL); /* never_true (evt.num=0) must stay false */
	e.num = 7;
	assert_int_equal(get_int(&e, "evt.time", FIELD_ABSTIME), 5000);
	assert_true(get_bool(&e, "evt.is_open_read"));
	assert_false(get_bool(&e, "evt.is_open_write"));
	assert_str(&e, "evt.arg.name", NULL, "/root/shadow");
	assert_str(&e, "evt.rawarg.name", NULL, "shadow");
	assert_str(&e, "evt.arg", "name", "/root/shadow");
	assert_str(&e, "evt.arg", "0", "<f>/etc/shadow");
	assert_str(&e, "evt.arg.fd", NULL, "<f>/etc/shadow");
	assert_str(&e, "evt.arg.dirfd", NULL, "AT_FDCWD");
	assert_str(&e, "evt.args", NULL,
		   "fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=shadow(/root/shadow) "
		   "flags=524288(O_RDONLY|O_CLOEXEC) mode=00");
	assert_missing(&e, "evt.arg.target", NULL);
	assert_missing(&e, "evt.arg", "9");

	/* evt.arg.flags: the names of the event type's flag family, as Falco renders them */
	assert_str(&e, "evt.arg.flags", NULL, "O_RDONLY|O_CLOEXEC");
	assert_int_equal(get_int(&e, "evt.rawarg.flags", FIELD_UINT), O_RDONLY | O_CLOEXEC);
	e.args.flags = O_RDWR | O_CREAT | O_TRUNC;
	assert_true(get_bool(&e, "evt.is_open_read"));
	assert_true(get_bool(&e, "evt.is_open_write"));
	assert_str(&e, "evt.arg.flags", NULL, "O_RDWR|O_CREAT|O_TRUNC");

	/* the same raw bit in another family is another flag: AT_REMOVEDIR == O_TRUNC's 0x200 */
	e.type = SYSCALL_EVT_UNLINKAT;
	e.args.flags = AT_REMOVEDIR;
	assert_str(&e, "evt.arg.flags", NULL, "AT_REMOVEDIR");
	assert_false(get_bool(&e, "evt.is_open_write"));

	/* execve's flags are the executable's properties (Falco's EXE_*) */
	e.type = SYSCALL_EVT_EXECVE;
	assert_str(&e, "evt.arg.flags", NULL, "EXE_FROM_MEMFD");
	cat.exe_writable = true;
	assert_str(&e, "evt.arg.flags", NULL, "EXE_WRITABLE|EXE_FROM_MEMFD");
	assert_int_equal(get_int(&e, "evt.rawarg.flags", FIELD_UINT), 5);
	cat.exe_writable = cat.exe_from_memfd = false;
	assert_str(&e, "evt.arg.flags", NULL, "0");
	cat.valid &= ~(uint32_t)EVENT_PROC_EXE_FLAGS;
	assert_missing(&e, "evt.arg.flags", NULL);

	/* failure */
	e.type = SYSCALL_EVT_OPENAT;
	e.res = -ENOENT;
	assert_str(&e, "evt.res", NULL, "ENOENT");
	assert_true(get_bool(&e, "evt.failed"));
	assert_int_equal(get_int(&e, "evt.rawres", FIELD_INT), -ENOENT);
	assert_str(&e, "evt.arg.fd", NULL, "ENOENT");

	/* creat has no flags parameter */
	e.type = SYSCALL_EVT_CREAT;
	assert_missing(&e, "evt.arg.flags", NULL);
}

static void test_fd_fields(void **state)
{
	struct syscall_event e = open_event();
	struct event_fd sock = {
		.valid = EVENT_FD_NUM | EVENT_FD_TUPLE | EVENT_FD_CONNECTED | EVENT_FD_ROLE,
		.num = 4,
		.type = '4',
		.l4proto = IPPROTO_TCP,
		.client = { .family = AF_INET, .port = 43210, .addr = { 10, 0, 0, 5 } },
		.server = { .family = AF_INET, .port = 443, .addr = { 198, 51, 100, 7 } },
		.connected = true,
		.is_server = false,
	};
	struct field_value v;
	char name[128];

	assert_str(&e, "fd.name", NULL, "/etc/shadow");
	assert_str(&e, "fd.nameraw", NULL, "shadow");
	assert_str(&e, "fd.directory", NULL, "/etc");
	assert_str(&e, "fd.filename", NULL, "shadow");
	assert_str(&e, "fd.typechar", NULL, "f");
	assert_str(&e, "fd.type", NULL, "file");
	assert_int_equal(get_int(&e, "fd.num", FIELD_INT), 3);
	assert_missing(&e, "fd.sip", NULL);
	assert_missing(&e, "fd.l4proto", NULL);

	event_fd_format_tuple(&sock.client, &sock.server, name, sizeof(name));
	assert_string_equal(name, "10.0.0.5:43210->198.51.100.7:443");
	sock.name = name;
	e.type = SYSCALL_EVT_CONNECT;
	e.res = 0;
	e.fd = &sock;
	e.args.valid = EVENT_ARG_FD;
	e.args.fd = 4;
	assert_str(&e, "fd.name", NULL, "10.0.0.5:43210->198.51.100.7:443");
	assert_str(&e, "fd.typechar", NULL, "4");
	assert_str(&e, "fd.type", NULL, "ipv4");
	assert_str(&e, "fd.l4proto", NULL, "tcp");
	assert_str(&e, "fd.sockfamily", NULL, "ip");
	assert_missing(&e, "fd.directory", NULL);
	assert_missing(&e, "fd.filename", NULL);
	assert_true(get_bool(&e, "fd.connected"));
	assert_true(get(&e, "fd.sip", &v));
	assert_int_equal(v.type, FIELD_IPADDR);
	assert_int_equal(v.ip.family, 4);
	assert_memory_equal(v.ip.addr, ((uint8_t[]){ 198, 51, 100, 7 }), 4);
	assert_true(get(&e, "fd.snet", &v));
	assert_int_equal(v.type, FIELD_IPNET);
	assert_true(get(&e, "fd.rip", &v));
	assert_memory_equal(v.ip.addr, ((uint8_t[]){ 198, 51, 100, 7 }), 4);
	assert_true(get(&e, "fd.lip", &v));
	assert_memory_equal(v.ip.addr, ((uint8_t[]){ 10, 0, 0, 5 }), 4);
	assert_int_equal(get_int(&e, "fd.sport", FIELD_PORT), 443);
	assert_int_equal(get_int(&e, "fd.rport", FIELD_PORT), 443);
	assert_int_equal(get_int(&e, "fd.lport", FIELD_PORT), 43210);
	assert_int_equal(get_int(&e, "fd.cport", FIELD_PORT), 43210);
	/* either-end fields: index 1 server, 2 client */
	assert_true(get_arg(&e, "fd.ip", "1", &v));
	assert_memory_equal(v.ip.addr, ((uint8_t[]){ 198, 51, 100, 7 }), 4);
	assert_true(get_arg(&e, "fd.ip", "2", &v));
	assert_memory_equal(v.ip.addr, ((uint8_t[]){ 10, 0, 0, 5 }), 4);
	assert_false(get_arg(&e, "fd.ip", "3", &v));
	assert_missing(&e, "fd.sip.name", NULL);
	assert_str(&e, "evt.arg.tuple", NULL, "10.0.0.5:43210->198.51.100.7:443");
	assert_str(&e, "evt.arg.fd", NULL, "<4>10.0.0.5:43210->198.51.100.7:443");

	/* role unknown: local/remote are missing */
	sock.valid &= ~(uint32_t)EVENT_FD_ROLE;
	assert_missing(&e, "fd.lip", NULL);
	assert_missing(&e, "fd.rport", NULL);
	assert_int_equal(get_int(&e, "fd.sport", FIELD_PORT), 443);
}

static void test_arg_renderings(void **state)
{
	struct syscall_event e = { .type = SYSCALL_EVT_PTRACE, .proc = &cat };

	e.args.valid = EVENT_ARG_REQUEST | EVENT_ARG_PID;
	e.args.request = 16;
	e.args.pid = 4242;
	assert_str(&e, "evt.arg.request", NULL, "PTRACE_ATTACH");
	assert_str(&e, "evt.arg.pid", NULL, "4242");
	e.args.request = 0;
	assert_str(&e, "evt.arg.request", NULL, "PTRACE_TRACEME");

	e = (struct syscall_event){ .type = SYSCALL_EVT_SOCKET, .res = 5, .proc = &cat };
	e.args.valid = EVENT_ARG_DOMAIN;
	e.args.domain = AF_PACKET;
	e.args.type = SOCK_RAW;
	e.args.proto = 768;
	assert_str(&e, "evt.arg.domain", NULL, "AF_PACKET");
	assert_str(&e, "evt.arg.type", NULL, "SOCK_RAW");
	assert_str(&e, "evt.arg.proto", NULL, "768");

	e = (struct syscall_event){ .type = SYSCALL_EVT_SYMLINKAT, .proc = &cat };
	e.args.valid = EVENT_ARG_DIRFD;
	e.args.dirfd = AT_FDCWD;
	e.args.target = "/etc";
	e.args.linkpath = "tmp/link";
	assert_str(&e, "evt.arg.target", NULL, "/etc");
	assert_str(&e, "evt.arg.linkpath", NULL, "/root/tmp/link");

	e = (struct syscall_event){ .type = SYSCALL_EVT_LINKAT, .proc = &cat };
	e.args.oldpath = "/etc/shadow";
	e.args.newpath = "/tmp/l";
	assert_str(&e, "evt.arg.oldpath", NULL, "/etc/shadow");
	assert_str(&e, "evt.arg.newpath", NULL, "/tmp/l");

	e = (struct syscall_event){ .type = SYSCALL_EVT_FCHMODAT, .proc = &cat };
	e.args.valid = EVENT_ARG_MODE;
	e.args.mode = 04755;
	e.args.path = "/tmp/x";
	assert_str(&e, "evt.arg.mode", NULL,
		   "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID");
	assert_str(&e, "evt.arg.filename", NULL, "/tmp/x");

	e = (struct syscall_event){ .type = SYSCALL_EVT_BPF, .res = 7, .proc = &cat };
	e.args.valid = EVENT_ARG_CMD;
	e.args.cmd = 5;
	assert_str(&e, "evt.arg.cmd", NULL, "BPF_PROG_LOAD");
	assert_int_equal(get_int(&e, "evt.rawarg.cmd", FIELD_INT), 5);

	e = (struct syscall_event){ .type = SYSCALL_EVT_SETUID, .proc = &cat };
	e.args.valid = EVENT_ARG_UID;
	e.args.uid = 0;
	assert_str(&e, "evt.arg.uid", NULL, "root");
	e.args.uid = 65534;
	assert_str(&e, "evt.arg.uid", NULL, "65534");

	e = (struct syscall_event){ .type = SYSCALL_EVT_MEMFD_CREATE, .res = 3, .proc = &cat };
	e.args.valid = EVENT_ARG_FLAGS;
	e.args.name = "payload";
	e.args.flags = 1;
	assert_str(&e, "evt.arg.name", NULL, "payload");
	assert_str(&e, "evt.args", NULL, "fd=3 name=payload flags=1(MFD_CLOEXEC)");
}

static const char *const env[] = { "HOME=/root", "LD_PRELOAD=/tmp/x.so", "TERM=xterm" };

static void test_more_process_fields(void **state)
{
	struct syscall_event e = open_event();
	struct field_value v;

	setenv("TZ", "UTC", 1);
	tzset();
	e.ts = 1746622234502309868ull;
	assert_str(&e, "evt.time.s", NULL, "12:50:34");
	assert_str(&e, "evt.datetime", NULL, "2025-05-07 12:50:34.502309868");
	assert_str(&e, "evt.time.iso8601", NULL, "2025-05-07T12:50:34.502309868Z");
	assert_int_equal(get_int(&e, "evt.rawtime.s", FIELD_UINT), 1746622234);
	assert_int_equal(get_int(&e, "evt.rawtime.ns", FIELD_UINT), 502309868);
	assert_true(get(&e, "evt.hostname", &v) && v.str.len > 0);

	cat.env = env;
	cat.n_env = 3;
	assert_str(&e, "proc.env", NULL, "HOME=/root LD_PRELOAD=/tmp/x.so TERM=xterm");
	assert_str(&e, "proc.env", "LD_PRELOAD", "/tmp/x.so");
	assert_missing(&e, "proc.env", "PATH");
	assert_int_equal(get_int(&e, "proc.cmdnargs", FIELD_UINT), 1);
	assert_int_equal(get_int(&e, "proc.cmdlenargs", FIELD_UINT), strlen("/etc/shadow"));

	/* process groups: bash leads the group cat is in */
	bash.valid |= EVENT_PROC_VPGID;
	bash.vpgid = 200;
	cat.valid |= EVENT_PROC_VPGID;
	cat.vpgid = 200;
	assert_str(&e, "proc.vpgid.name", NULL, "bash");
	assert_str(&e, "proc.vpgid.exepath", NULL, "/usr/bin/bash");
	assert_false(get_bool(&e, "proc.is_vpgid_leader"));
	assert_str(&e, "proc.sid.exe", NULL, "-bash");

	/* the session leader is the eldest ancestor of the same session */
	bash.sid = 100;
	cat.sid = 100;
	assert_str(&e, "proc.sname", NULL, "sshd");
	assert_int_equal(get_int(&e, "proc.loginshellid", FIELD_INT), 200);

	/* thread and user details */
	assert_missing(&e, "thread.vtid", NULL);
	cat.valid |= EVENT_PROC_TID;
	cat.vtid = 7;
	assert_int_equal(get_int(&e, "thread.vtid", FIELD_INT), 7);
	assert_missing(&e, "user.homedir", NULL);
	cat.homedir = "/root";
	assert_str(&e, "user.homedir", NULL, "/root");
	assert_str(&e, "thread.cap_permitted", NULL, "");
	cat.cap_permitted = ~0ull >> (64 - 41);
	assert_true(get(&e, "thread.cap_permitted", &v));
	assert_non_null(memmem(v.str.p, v.str.len, "CAP_CHECKPOINT_RESTORE", 22));

	/* the parent's start time is unknown */
	assert_missing(&e, "proc.ppid.duration", NULL);
}

static void test_container_k8s(void **state)
{
	struct syscall_event e = open_event();
	struct field_value v;

	assert_str(&e, "container.id", NULL, "0123456789ab");
	assert_str(&e, "container.image.repository", NULL, "docker.io/library/nginx");
	assert_missing(&e, "container.privileged", NULL);
	assert_missing(&e, "container.name", NULL);
	assert_missing(&e, "container.start_ts", NULL);
	ctr.privileged = 1;
	assert_true(get_bool(&e, "container.privileged"));
	assert_str(&e, "k8s.pod.name", NULL, "web-1");
	assert_str(&e, "k8s.ns.name", NULL, "prod");
	assert_str(&e, "k8s.pod.label", "tier", "front");
	assert_missing(&e, "k8s.pod.label", "nope");
	assert_missing(&e, "k8s.pod.uid", NULL);
	assert_true(get(&e, "k8s.pod.labels", &v));
	assert_int_equal(v.type, FIELD_LIST);
	assert_int_equal(v.list.n, 2);
	assert_string_equal(v.list.v[0], "app:web");
	assert_int_equal(v.list.lens[1], strlen("tier:front"));
	e.k8s = NULL;
	e.container = NULL;
	assert_missing(&e, "k8s.ns.name", NULL);
	assert_missing(&e, "container.id", NULL);
}

struct names {
	char buf[256];
};

static void collect(void *ctx, const char *name)
{
	struct names *n = ctx;

	if (n->buf[0])
		strcat(n->buf, ",");
	strcat(n->buf, name);
}

static void test_flag_names(void **state)
{
	struct names n = { "" };
	uint64_t raw;

	syscall_flags_foreach(SYSCALL_EVT_OPENAT, O_WRONLY | O_CREAT | O_TRUNC, collect, &n);
	assert_string_equal(n.buf, "O_WRONLY,O_CREAT,O_TRUNC");
	n.buf[0] = 0;
	syscall_flags_foreach(SYSCALL_EVT_OPEN, 0, collect, &n);
	assert_string_equal(n.buf, "O_RDONLY");
	n.buf[0] = 0;
	syscall_flags_foreach(SYSCALL_EVT_UNSHARE, CLONE_NEWNET | 0x1000000000ull, collect, &n);
	assert_string_equal(n.buf, "CLONE_NEWNET,0x1000000000");
	assert_true(syscall_flag_from_name(SYSCALL_EVT_OPENAT, "O_TRUNC", &raw));
	assert_int_equal(raw, O_TRUNC);
	assert_true(syscall_flag_from_name(SYSCALL_EVT_OPENAT, "O_RDONLY", &raw));
	assert_int_equal(raw, 0);
	assert_true(syscall_flag_from_name(SYSCALL_EVT_UNLINKAT, "AT_REMOVEDIR", &raw));
	assert_false(syscall_flag_from_name(SYSCALL_EVT_UNLINKAT, "O_TRUNC", &raw));
	assert_false(syscall_flag_from_name(SYSCALL_EVT_EXECVE, "O_TRUNC", &raw));
}

/* IPv4 and ports are formatted by hand: the extremes, IPv6 through inet_ntop, truncation. */
static void test_tuple_format(void **state)
{
	struct event_sockaddr c = { .family = AF_INET, .port = 0, .addr = { 0, 0, 0, 0 } };
	struct event_sockaddr s = { .family = AF_INET,
				    .port = 65535,
				    .addr = { 255, 255, 255, 255 } };
	char buf[64];
	int n;

	(void)state;
	n = event_fd_format_tuple(&c, &s, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0:0->255.255.255.255:65535");
	assert_int_equal(n, (int)strlen(buf));
	c.addr[0] = 127, c.addr[3] = 1, c.port = 10;
	s.addr[0] = 192, s.addr[1] = 168, s.addr[2] = 0, s.addr[3] = 9, s.port = 8;
	event_fd_format_tuple(&c, &s, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:10->192.168.0.9:8");
	/* cut, NUL-terminated inside the buffer */
	n = event_fd_format_tuple(&c, &s, buf, 12);
	assert_string_equal(buf, "127.0.0.1:1");
	assert_int_equal(n, 11);
	c.family = s.family = AF_INET6;
	memset(c.addr, 0, sizeof(c.addr));
	c.addr[15] = 1;
	memset(s.addr, 0, sizeof(s.addr));
	s.addr[0] = 0x20, s.addr[1] = 0x01, s.addr[2] = 0x0d, s.addr[3] = 0xb8, s.addr[15] = 7;
	event_fd_format_tuple(&c, &s, buf, sizeof(buf));
	assert_string_equal(buf, "::1:10->2001:db8::7:8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_table_sane, setup),
		cmocka_unit_test_setup(test_upstream_names_known, setup),
		cmocka_unit_test_setup(test_process_fields, setup),
		cmocka_unit_test_setup(test_event_fields, setup),
		cmocka_unit_test_setup(test_fd_fields, setup),
		cmocka_unit_test_setup(test_arg_renderings, setup),
		cmocka_unit_test_setup(test_more_process_fields, setup),
		cmocka_unit_test_setup(test_container_k8s, setup),
		cmocka_unit_test_setup(test_flag_names, setup),
		cmocka_unit_test(test_tuple_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
