// SPDX-License-Identifier: Apache-2.0
/*
 * The BPF loader: skeleton open/configure/load, per-syscall attach, per-CPU ring buffers
 * drained from a uv_poll, drop counters. See probe.h and docs/detector.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config/log.h"
#include "detector/dmap.h"
#include "detector/errbuf.h"
#include "detector/lring.h"
#include "detector/probe.h"
#include "lanner.skel.h"

#define BTF_VMLINUX "/sys/kernel/btf/vmlinux"
#define TRACEFS "/sys/kernel/tracing"
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define DEFAULT_RINGBUF_BYTES (8u << 20)
#define DEFAULT_DRAIN_MS 20

/* x86_64 syscall numbers (asm/unistd_64.h), for translating the names rules use. */
static const char *const syscall_names[PROBE_NR_SYSCALLS] = {
	[0] = "read",
	[1] = "write",
	[2] = "open",
	[3] = "close",
	[4] = "stat",
	[5] = "fstat",
	[6] = "lstat",
	[7] = "poll",
	[8] = "lseek",
	[9] = "mmap",
	[10] = "mprotect",
	[11] = "munmap",
	[12] = "brk",
	[13] = "rt_sigaction",
	[14] = "rt_sigprocmask",
	[15] = "rt_sigreturn",
	[16] = "ioctl",
	[17] = "pread64",
	[18] = "pwrite64",
	[19] = "readv",
	[20] = "writev",
	[21] = "access",
	[22] = "pipe",
	[23] = "select",
	[24] = "sched_yield",
	[25] = "mremap",
	[26] = "msync",
	[27] = "mincore",
	[28] = "madvise",
	[29] = "shmget",
	[30] = "shmat",
	[31] = "shmctl",
	[32] = "dup",
	[33] = "dup2",
	[34] = "pause",
	[35] = "nanosleep",
	[36] = "getitimer",
	[37] = "alarm",
	[38] = "setitimer",
	[39] = "getpid",
	[40] = "sendfile",
	[41] = "socket",
	[42] = "connect",
	[43] = "accept",
	[44] = "sendto",
	[45] = "recvfrom",
	[46] = "sendmsg",
	[47] = "recvmsg",
	[48] = "shutdown",
	[49] = "bind",
	[50] = "listen",
	[51] = "getsockname",
	[52] = "getpeername",
	[53] = "socketpair",
	[54] = "setsockopt",
	[55] = "getsockopt",
	[56] = "clone",
	[57] = "fork",
	[58] = "vfork",
	[59] = "execve",
	[60] = "exit",
	[61] = "wait4",
	[62] = "kill",
	[63] = "uname",
	[64] = "semget",
	[65] = "semop",
	[66] = "semctl",
	[67] = "shmdt",
	[68] = "msgget",
	[69] = "msgsnd",
	[70] = "msgrcv",
	[71] = "msgctl",
	[72] = "fcntl",
	[73] = "flock",
	[74] = "fsync",
	[75] = "fdatasync",
	[76] = "truncate",
	[77] = "ftruncate",
	[78] = "getdents",
	[79] = "getcwd",
	[80] = "chdir",
	[81] = "fchdir",
	[82] = "rename",
	[83] = "mkdir",
	[84] = "rmdir",
	[85] = "creat",
	[86] = "link",
	[87] = "unlink",
	[88] = "symlink",
	[89] = "readlink",
	[90] = "chmod",
	[91] = "fchmod",
	[92] = "chown",
	[93] = "fchown",
	[94] = "lchown",
	[95] = "umask",
	[96] = "gettimeofday",
	[97] = "getrlimit",
	[98] = "getrusage",
	[99] = "sysinfo",
	[100] = "times",
	[101] = "ptrace",
	[102] = "getuid",
	[103] = "syslog",
	[104] = "getgid",
	[105] = "setuid",
	[106] = "setgid",
	[107] = "geteuid",
	[108] = "getegid",
	[109] = "setpgid",
	[110] = "getppid",
	[111] = "getpgrp",
	[112] = "setsid",
	[113] = "setreuid",
	[114] = "setregid",
	[115] = "getgroups",
	[116] = "setgroups",
	[117] = "setresuid",
	[118] = "getresuid",
	[119] = "setresgid",
	[120] = "getresgid",
	[121] = "getpgid",
	[122] = "setfsuid",
	[123] = "setfsgid",
	[124] = "getsid",
	[125] = "capget",
	[126] = "capset",
	[127] = "rt_sigpending",
	[128] = "rt_sigtimedwait",
	[129] = "rt_sigqueueinfo",
	[130] = "rt_sigsuspend",
	[131] = "sigaltstack",
	[132] = "utime",
	[133] = "mknod",
	[134] = "uselib",
	[135] = "personality",
	[136] = "ustat",
	[137] = "statfs",
	[138] = "fstatfs",
	[139] = "sysfs",
	[140] = "getpriority",
	[141] = "setpriority",
	[142] = "sched_setparam",
	[143] = "sched_getparam",
	[144] = "sched_setscheduler",
	[145] = "sched_getscheduler",
	[146] = "sched_get_priority_max",
	[147] = "sched_get_priority_min",
	[148] = "sched_rr_get_interval",
	[149] = "mlock",
	[150] = "munlock",
	[151] = "mlockall",
	[152] = "munlockall",
	[153] = "vhangup",
	[154] = "modify_ldt",
	[155] = "pivot_root",
	[156] = "_sysctl",
	[157] = "prctl",
	[158] = "arch_prctl",
	[159] = "adjtimex",
	[160] = "setrlimit",
	[161] = "chroot",
	[162] = "sync",
	[163] = "acct",
	[164] = "settimeofday",
	[165] = "mount",
	[166] = "umount2",
	[167] = "swapon",
	[168] = "swapoff",
	[169] = "reboot",
	[170] = "sethostname",
	[171] = "setdomainname",
	[172] = "iopl",
	[173] = "ioperm",
	[174] = "create_module",
	[175] = "init_module",
	[176] = "delete_module",
	[177] = "get_kernel_syms",
	[178] = "query_module",
	[179] = "quotactl",
	[180] = "nfsservctl",
	[181] = "getpmsg",
	[182] = "putpmsg",
	[183] = "afs_syscall",
	[184] = "tuxcall",
	[185] = "security",
	[186] = "gettid",
	[187] = "readahead",
	[188] = "setxattr",
	[189] = "lsetxattr",
	[190] = "fsetxattr",
	[191] = "getxattr",
	[192] = "lgetxattr",
	[193] = "fgetxattr",
	[194] = "listxattr",
	[195] = "llistxattr",
	[196] = "flistxattr",
	[197] = "removexattr",
	[198] = "lremovexattr",
	[199] = "fremovexattr",
	[200] = "tkill",
	[201] = "time",
	[202] = "futex",
	[203] = "sched_setaffinity",
	[204] = "sched_getaffinity",
	[205] = "set_thread_area",
	[206] = "io_setup",
	[207] = "io_destroy",
	[208] = "io_getevents",
	[209] = "io_submit",
	[210] = "io_cancel",
	[211] = "get_thread_area",
	[212] = "lookup_dcookie",
	[213] = "epoll_create",
	[214] = "epoll_ctl_old",
	[215] = "epoll_wait_old",
	[216] = "remap_file_pages",
	[217] = "getdents64",
	[218] = "set_tid_address",
	[219] = "restart_syscall",
	[220] = "semtimedop",
	[221] = "fadvise64",
	[222] = "timer_create",
	[223] = "timer_settime",
	[224] = "timer_gettime",
	[225] = "timer_getoverrun",
	[226] = "timer_delete",
	[227] = "clock_settime",
	[228] = "clock_gettime",
	[229] = "clock_getres",
	[230] = "clock_nanosleep",
	[231] = "exit_group",
	[232] = "epoll_wait",
	[233] = "epoll_ctl",
	[234] = "tgkill",
	[235] = "utimes",
	[236] = "vserver",
	[237] = "mbind",
	[238] = "set_mempolicy",
	[239] = "get_mempolicy",
	[240] = "mq_open",
	[241] = "mq_unlink",
	[242] = "mq_timedsend",
	[243] = "mq_timedreceive",
	[244] = "mq_notify",
	[245] = "mq_getsetattr",
	[246] = "kexec_load",
	[247] = "waitid",
	[248] = "add_key",
	[249] = "request_key",
	[250] = "keyctl",
	[251] = "ioprio_set",
	[252] = "ioprio_get",
	[253] = "inotify_init",
	[254] = "inotify_add_watch",
	[255] = "inotify_rm_watch",
	[256] = "migrate_pages",
	[257] = "openat",
	[258] = "mkdirat",
	[259] = "mknodat",
	[260] = "fchownat",
	[261] = "futimesat",
	[262] = "newfstatat",
	[263] = "unlinkat",
	[264] = "renameat",
	[265] = "linkat",
	[266] = "symlinkat",
	[267] = "readlinkat",
	[268] = "fchmodat",
	[269] = "faccessat",
	[270] = "pselect6",
	[271] = "ppoll",
	[272] = "unshare",
	[273] = "set_robust_list",
	[274] = "get_robust_list",
	[275] = "splice",
	[276] = "tee",
	[277] = "sync_file_range",
	[278] = "vmsplice",
	[279] = "move_pages",
	[280] = "utimensat",
	[281] = "epoll_pwait",
	[282] = "signalfd",
	[283] = "timerfd_create",
	[284] = "eventfd",
	[285] = "fallocate",
	[286] = "timerfd_settime",
	[287] = "timerfd_gettime",
	[288] = "accept4",
	[289] = "signalfd4",
	[290] = "eventfd2",
	[291] = "epoll_create1",
	[292] = "dup3",
	[293] = "pipe2",
	[294] = "inotify_init1",
	[295] = "preadv",
	[296] = "pwritev",
	[297] = "rt_tgsigqueueinfo",
	[298] = "perf_event_open",
	[299] = "recvmmsg",
	[300] = "fanotify_init",
	[301] = "fanotify_mark",
	[302] = "prlimit64",
	[303] = "name_to_handle_at",
	[304] = "open_by_handle_at",
	[305] = "clock_adjtime",
	[306] = "syncfs",
	[307] = "sendmmsg",
	[308] = "setns",
	[309] = "getcpu",
	[310] = "process_vm_readv",
	[311] = "process_vm_writev",
	[312] = "kcmp",
	[313] = "finit_module",
	[314] = "sched_setattr",
	[315] = "sched_getattr",
	[316] = "renameat2",
	[317] = "seccomp",
	[318] = "getrandom",
	[319] = "memfd_create",
	[320] = "kexec_file_load",
	[321] = "bpf",
	[322] = "execveat",
	[323] = "userfaultfd",
	[324] = "membarrier",
	[325] = "mlock2",
	[326] = "copy_file_range",
	[327] = "preadv2",
	[328] = "pwritev2",
	[329] = "pkey_mprotect",
	[330] = "pkey_alloc",
	[331] = "pkey_free",
	[332] = "statx",
	[333] = "io_pgetevents",
	[334] = "rseq",
	[424] = "pidfd_send_signal",
	[425] = "io_uring_setup",
	[426] = "io_uring_enter",
	[427] = "io_uring_register",
	[428] = "open_tree",
	[429] = "move_mount",
	[430] = "fsopen",
	[431] = "fsconfig",
	[432] = "fsmount",
	[433] = "fspick",
	[434] = "pidfd_open",
	[435] = "clone3",
	[436] = "close_range",
	[437] = "openat2",
	[438] = "pidfd_getfd",
	[439] = "faccessat2",
	[440] = "process_madvise",
	[441] = "epoll_pwait2",
	[442] = "mount_setattr",
	[443] = "quotactl_fd",
	[444] = "landlock_create_ruleset",
	[445] = "landlock_add_rule",
	[446] = "landlock_restrict_self",
	[447] = "memfd_secret",
	[448] = "process_mrelease",
	[449] = "futex_waitv",
	[450] = "set_mempolicy_home_node",
	[451] = "cachestat",
	[452] = "fchmodat2",
	[453] = "map_shadow_stack",
	[454] = "futex_wake",
	[455] = "futex_wait",
	[456] = "futex_requeue",
	[457] = "statmount",
	[458] = "listmount",
	[459] = "lsm_get_self_attr",
	[460] = "lsm_set_self_attr",
	[461] = "lsm_list_modules",
	[462] = "mseal",
};

/* Syscalls with a sys_exit program in bpf/lanner.bpf.c (the unit test checks the object). */
static const char *const supported_names[] = {
	"accept",
	"accept4",
	"bind",
	"bpf",
	"capset",
	"chdir",
	"chmod",
	"chown",
	"clone",
	"clone3",
	"close",
	"connect",
	"creat",
	"delete_module",
	"dup",
	"dup2",
	"dup3",
	"execve",
	"execveat",
	"fchdir",
	"fchmod",
	"fchmodat",
	"fchmodat2",
	"fchown",
	"fchownat",
	"fcntl",
	"finit_module",
	"fork",
	"ftruncate",
	"init_module",
	"io_uring_setup",
	"kill",
	"lchown",
	"link",
	"linkat",
	"listen",
	"memfd_create",
	"mkdir",
	"mkdirat",
	"mmap",
	"mount",
	"mprotect",
	"open",
	"open_by_handle_at",
	"openat",
	"openat2",
	"prctl",
	"ptrace",
	"read",
	"recvfrom",
	"recvmsg",
	"rename",
	"renameat",
	"renameat2",
	"rmdir",
	"sendmsg",
	"sendto",
	"setfsgid",
	"setfsuid",
	"setgid",
	"setns",
	"setregid",
	"setresgid",
	"setresuid",
	"setreuid",
	"setuid",
	"shutdown",
	"socket",
	"socketpair",
	"symlink",
	"symlinkat",
	"tgkill",
	"tkill",
	"truncate",
	"umount2",
	"unlink",
	"unlinkat",
	"unshare",
	"userfaultfd",
	"vfork",
	"write",
};

static const char *const state_names[] = {
	"fork",	    "vfork",	 "clone",     "clone3",	  "execve",   "execveat",     "open",
	"openat",   "openat2",	 "creat",     "close",	  "dup",      "dup2",	      "dup3",
	"fcntl",    "socket",	 "connect",   "accept",	  "accept4",  "bind",	      "listen",
	"sendto",   "sendmsg",	 "chdir",     "fchdir",	  "setuid",   "setgid",	      "setreuid",
	"setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "memfd_create",
};

struct probe {
	uv_poll_t poll;
	uv_timer_t timer;
	uv_loop_t *loop;
	int refs; /* open loop handles + detach work in flight; released at 0 */
	struct lanner_bpf *skel;
	struct ring_buffer *wake; /* the programs' wakeup tokens (lanner_wake) */
	struct lring *rings; /* one per possible CPU */
	int ncpu;
	struct bpf_link *sys_links[PROBE_NR_SYSCALLS];
	struct bpf_link *sched_links[3];
	struct probe_set attached;
	struct probe_set wanted; /* the last set asked for */
	struct probe_set detaching; /* links being destroyed in the threadpool */
	struct probe_set missing; /* syscalls this kernel lacks, already logged once */
	bool closing;
	bool fast_reads; /* direct-map reads of user strings are on (dmap.h) */
	int inflight; /* detach works queued */
	const char *tracefs;
	probe_record_fn cb;
	void *ctx;
	uint64_t bad;
	bool hold; /* probe_opts.hold */
	struct lring_merge_ent *heap; /* probe_merge's, one per ring */
};

int probe_syscall_nr(const char *name)
{
	if (!name)
		return -ENOENT;
	if (!strcmp(name, "umount"))
		name = "umount2";
	for (int i = 0; i < PROBE_NR_SYSCALLS; i++)
		if (syscall_names[i] && !strcmp(syscall_names[i], name))
			return i;
	return -ENOENT;
}

const char *probe_syscall_name(int nr)
{
	if (nr < 0 || nr >= PROBE_NR_SYSCALLS)
		return NULL;
	return syscall_names[nr];
}

bool probe_syscall_supported(int nr)
{
	const char *name = probe_syscall_name(nr);

	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(supported_names) / sizeof(supported_names[0]); i++)
		if (!strcmp(supported_names[i], name))
			return true;
	return false;
}

void probe_set_add_state(struct probe_set *s)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		probe_set_add(s, probe_syscall_nr(state_names[i]));
}

/* The tracepoint a syscall's exit program is attached to: umount2's is sys_exit_umount. */
static const char *tp_name(int nr)
{
	const char *name = syscall_names[nr];

	return strcmp(name, "umount2") ? name : "umount";
}

/*
 * libbpf's messages go to lanner's log. A verifier log can be megabytes; its end says why a
 * program was refused, so long messages keep their last LOG_TAIL bytes.
 */
#define LOG_TAIL 4096

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	const char *msg;
	va_list aq;
	char *buf;
	int n;

	if (level == LIBBPF_DEBUG && !log_enabled(LOG_LEVEL_DEBUG))
		return 0;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n <= 0)
		return 0;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return 0;
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	msg = n > LOG_TAIL ? buf + n - LOG_TAIL : buf;
	if (level == LIBBPF_WARN)
		log_warn("%s%s", n > LOG_TAIL ? "libbpf: ..." : "", msg);
	else
		log_debug("%s%s", n > LOG_TAIL ? "libbpf: ..." : "", msg);
	free(buf);
	return 0;
}

/* Classic tracepoints are attached through tracefs: find it, or mount it where it belongs. */
static const char *find_tracefs(void)
{
	if (!access(TRACEFS "/events/syscalls", F_OK))
		return TRACEFS;
	if (errno == EACCES)
		return NULL;
	if (!access(DEBUGFS_TRACING "/events/syscalls", F_OK))
		return DEBUGFS_TRACING;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY)
		return NULL;
	if (!access(TRACEFS "/events/syscalls", F_OK))
		return TRACEFS;
	errno = ENOENT;
	return NULL;
}

/* Returns false for a record whose header or blobs do not fit in it. */
static bool record_ok(const struct lanner_rec *r, size_t size)
{
	size_t off = sizeof(*r);

	if (size < sizeof(*r) || r->size != size || r->type < LANNER_REC_SYSCALL ||
	    r->type > LANNER_REC_PROC_FORK)
		return false;
	for (unsigned i = 0; i < r->nblobs; i++) {
		struct lanner_blob b;

		if (size - off < sizeof(b))
			return false;
		memcpy(&b, (const char *)r + off, sizeof(b));
		off += sizeof(b);
		if (size - off < b.len)
			return false;
		off += b.len;
	}
	return true;
}

static void on_record(void *ctx, const void *data, size_t size)
{
	struct probe *p = ctx;

	/* A bad record is counted and skipped. */
	if (!record_ok(data, size)) {
		p->bad++;
		return;
	}
	p->cb(p->ctx, data, size);
}

/* A wakeup token carries nothing: the rings are drained after the tokens. */
static int on_wake(void *ctx, void *data, size_t size)
{
	return 0;
}

/* A wakeup or the drain timer: with hold, the loop's turn is the point (see probe_merge). */
static void on_wakeup(struct probe *p)
{
	if (p->hold)
		ring_buffer__consume(p->wake);
	else
		probe_consume(p);
}

static void on_timer(uv_timer_t *t)
{
	on_wakeup(t->data);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct probe *p = h->data;

	if (status < 0) {
		log_warn("detector: ring buffer poll: %s", uv_strerror(status));
		return;
	}
	on_wakeup(p);
}

int probe_consume(struct probe *p)
{
	size_t n = 0;

	ring_buffer__consume(p->wake);
	for (int i = 0; i < p->ncpu; i++)
		n += lring_drain(&p->rings[i], on_record, p, &p->bad);
	return n > INT_MAX ? INT_MAX : (int)n;
}

size_t probe_merge(struct probe *p, uint64_t limit, probe_record_fn cb, void *ctx)
{
	return lring_merge(p->rings, p->ncpu, p->heap, limit, record_ok, cb, ctx, &p->bad);
}

unsigned probe_backlog(const struct probe *p)
{
	unsigned most = 0;

	for (int i = 0; i < p->ncpu; i++) {
		uint64_t pct = lring_used(&p->rings[i]) * 100 / lring_room(&p->rings[i]);

		if (pct > most)
			most = pct > 100 ? 100 : (unsigned)pct;
	}
	return most;
}

static int attach_sys(struct probe *p, int nr)
{
	char name[96];
	struct bpf_program *prog;
	struct bpf_link *l;

	snprintf(name, sizeof(name), "sys_exit_%s", tp_name(nr));
	prog = bpf_object__find_program_by_name(p->skel->obj, name);
	if (!prog)
		return -ENOENT;
	/* A kernel without the syscall (init_module without modules) has no tracepoint. */
	snprintf(name, sizeof(name), "%s/events/syscalls/sys_exit_%s", p->tracefs, tp_name(nr));
	if (access(name, F_OK))
		return -ENOENT;
	l = bpf_program__attach(prog);
	if (!l)
		return -errno;
	p->sys_links[nr] = l;
	probe_set_add(&p->attached, nr);
	return 0;
}

/*
 * Links waiting to be destroyed off the loop thread: a tracepoint detach waits for an RCU
 * grace period (~65 ms each, measured here), which would stall the loop for seconds.
 */
struct detach_work {
	uv_work_t req;
	struct probe *p;
	int n;
	struct bpf_link *links[PROBE_NR_SYSCALLS + 3];
	int nrs[PROBE_NR_SYSCALLS + 3]; /* syscall of each link, -1 for the sched programs */
};

static int attach_sys(struct probe *p, int nr);

static void probe_release(struct probe *p);

static void probe_unref(struct probe *p)
{
	if (--p->refs == 0)
		probe_release(p);
}

static void detach_run(uv_work_t *req)
{
	struct detach_work *d = req->data;

	for (int i = 0; i < d->n; i++)
		bpf_link__destroy(d->links[i]);
}

/*
 * A program cannot be attached twice to one tracepoint, so a syscall asked for again while its
 * old link was being destroyed is attached here, once that is done.
 */
static void detach_done(uv_work_t *req, int status)
{
	struct detach_work *d = req->data;
	struct probe *p = d->p;

	p->inflight--;
	for (int i = 0; i < d->n; i++) {
		int nr = d->nrs[i], err;

		if (nr < 0)
			continue;
		p->detaching.bits[nr / 64] &= ~(1ull << (nr % 64));
		if (p->closing || !probe_set_has(&p->wanted, nr) || p->sys_links[nr])
			continue;
		err = attach_sys(p, nr);
		if (err)
			log_warn("detector: attach sys_exit_%s: %s", syscall_names[nr],
				 strerror(-err));
	}
	free(d);
	probe_unref(p);
}

/* Destroys the links of d in libuv's threadpool, or here when that is not possible. */
static void detach_links(struct probe *p, struct detach_work *d)
{
	if (!d)
		return;
	d->p = p;
	d->req.data = d;
	if (d->n && p->refs && !uv_queue_work(p->loop, &d->req, detach_run, detach_done)) {
		p->refs++;
		p->inflight++;
		return;
	}
	detach_run(&d->req);
	for (int i = 0; i < d->n; i++)
		if (d->nrs[i] >= 0)
			p->detaching.bits[d->nrs[i] / 64] &= ~(1ull << (d->nrs[i] % 64));
	free(d);
}

/* Moves a link into d (allocated on first use) or, without memory, destroys it now. */
static void detach_link(struct detach_work **d, struct bpf_link *l, int nr)
{
	if (!l)
		return;
	if (!*d)
		*d = calloc(1, sizeof(**d));
	if (!*d) {
		bpf_link__destroy(l);
		return;
	}
	(*d)->nrs[(*d)->n] = nr;
	(*d)->links[(*d)->n++] = l;
}

static void detach_sys(struct probe *p, int nr, struct detach_work **d)
{
	if (!p->sys_links[nr])
		return;
	detach_link(d, p->sys_links[nr], nr);
	if (*d)
		probe_set_add(&p->detaching, nr);
	p->sys_links[nr] = NULL;
	p->attached.bits[nr / 64] &= ~(1ull << (nr % 64));
}

int probe_set_syscalls(struct probe *p, const struct probe_set *set)
{
	struct detach_work *d = NULL;
	int err, ret = 0;

	p->wanted = *set;
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++) {
		bool want = probe_set_has(set, nr), have = p->sys_links[nr] != NULL;

		if (want == have)
			continue;
		if (!want) {
			detach_sys(p, nr, &d);
			continue;
		}
		if (probe_set_has(&p->detaching, nr))
			continue; /* attached again when its old link is gone (detach_done) */
		if (!probe_syscall_supported(nr)) {
			log_info("detector: no kernel program for syscall %s (%d): not recorded",
				 syscall_names[nr] ? syscall_names[nr] : "?", nr);
			continue;
		}
		err = attach_sys(p, nr);
		if (err == -ENOENT) {
			if (!probe_set_has(&p->missing, nr))
				log_info("detector: this kernel has no syscall %s: not recorded",
					 syscall_names[nr]);
			probe_set_add(&p->missing, nr);
		} else if (err) {
			log_warn("detector: attach sys_exit_%s: %s", tp_name(nr), strerror(-err));
			if (!ret)
				ret = err;
		}
	}
	detach_links(p, d);
	return ret;
}

void probe_get_syscalls(const struct probe *p, struct probe_set *out)
{
	*out = p->attached;
}

bool probe_busy(const struct probe *p)
{
	return p->inflight > 0;
}

uint64_t probe_seq(const struct probe *p)
{
	return __atomic_load_n(&p->skel->bss->lanner_seq, __ATOMIC_ACQUIRE);
}

/* A per-CPU counter array's n counters, summed over CPUs. */
static int sum_counters(const struct probe *p, int fd, uint32_t n, uint64_t *out)
{
	uint64_t *vals = calloc(p->ncpu, sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < p->ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

int probe_drops(const struct probe *p, uint64_t out[LANNER_DROP_MAX])
{
	return sum_counters(p, bpf_map__fd(p->skel->maps.lanner_drops), LANNER_DROP_MAX, out);
}

int probe_stats(const struct probe *p, uint64_t out[LANNER_STAT_MAX])
{
	return sum_counters(p, bpf_map__fd(p->skel->maps.lanner_stats), LANNER_STAT_MAX, out);
}

bool probe_fast_reads(const struct probe *p)
{
	return p->fast_reads;
}

int probe_prog_stats(const struct probe *p, const char *prog, uint64_t *run_ns, uint64_t *run_cnt)
{
	struct bpf_program *bp = bpf_object__find_program_by_name(p->skel->obj, prog);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	if (!bp)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(bp), &info, &len))
		return -errno;
	*run_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

uint64_t probe_bad_records(const struct probe *p)
{
	return p->bad;
}

/* Releases everything but the poll handle. */
static void probe_release(struct probe *p)
{
	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++)
		bpf_link__destroy(p->sys_links[nr]);
	for (int i = 0; i < 3; i++)
		bpf_link__destroy(p->sched_links[i]);
	ring_buffer__free(p->wake);
	for (int i = 0; p->rings && i < p->ncpu; i++)
		lring_close(&p->rings[i]);
	free(p->rings);
	free(p->heap);
	lanner_bpf__destroy(p->skel);
	free(p);
}

static void on_close(uv_handle_t *h)
{
	probe_unref(h->data);
}

void probe_free(struct probe *p)
{
	if (!p)
		return;
	if (!p->refs) {
		probe_release(p);
		return;
	}
	/* Detach everything (in the threadpool); the rest goes when the loop is done with it. */
	p->closing = true;
	struct detach_work *d = NULL;

	for (int nr = 0; nr < PROBE_NR_SYSCALLS; nr++)
		detach_sys(p, nr, &d);
	for (int i = 0; i < 3; i++) {
		detach_link(&d, p->sched_links[i], -1);
		p->sched_links[i] = NULL;
	}
	detach_links(p, d);
	uv_close((uv_handle_t *)&p->poll, on_close);
	uv_close((uv_handle_t *)&p->timer, on_close);
}

static const char *eperm_hint(int err)
{
	if (err == -EACCES)
		return ": the verifier refused a program (see the log above)";
	if (err == -EPERM)
		return ": the kernel refused BPF (EPERM): run lanner as root, or give it CAP_BPF "
		       "and CAP_PERFMON (and CAP_SYS_ADMIN for tracefs), or set "
		       "detector.enabled: false";
	return "";
}

static int create_rings(struct probe *p, uint32_t bytes, char *err, size_t errlen)
{
	p->rings = calloc((size_t)p->ncpu, sizeof(*p->rings));
	p->heap = calloc((size_t)p->ncpu, sizeof(*p->heap));
	if (!p->rings || !p->heap)
		return -ENOMEM;
	for (int i = 0; i < p->ncpu; i++) {
		int e = lring_open(&p->rings[i], bytes);

		if (e) {
			errbuf_set(
				err, errlen,
				"detector: cannot create the %u-byte record ring of CPU %d: %s%s",
				bytes, i, strerror(-e), eperm_hint(e));
			return e;
		}
	}
	return 0;
}

struct probe *probe_new(uv_loop_t *loop, const struct probe_opts *opts, const struct probe_set *set,
			probe_record_fn cb, void *ctx, char *err, size_t errlen)
{
	struct probe_opts o = { 0 };
	struct bpf_program *sched[3];
	struct probe *p;
	uint32_t bytes, drain_ms;
	int e;

	if (opts)
		o = *opts;
	bytes = o.ringbuf_bytes ? o.ringbuf_bytes : DEFAULT_RINGBUF_BYTES;
	drain_ms = o.drain_ms ? o.drain_ms : DEFAULT_DRAIN_MS;
	if (!loop || !set || !cb || bytes < (1u << 16) || (bytes & (bytes - 1))) {
		errbuf_set(
			err, errlen,
			"detector: invalid probe options (ring buffer size %u: a power of two of at "
			"least 65536 bytes, and a loop, a syscall set and a callback)",
			bytes);
		errno = EINVAL;
		return NULL;
	}
	if (access(BTF_VMLINUX, R_OK)) {
		e = errno;
		errbuf_set(
			err, errlen,
			"detector: the running kernel has no BTF (%s: %s): lanner's detector needs a "
			"kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8 or later); set "
			"detector.enabled: false to run as a pure gateway",
			BTF_VMLINUX, strerror(e));
		errno = e;
		return NULL;
	}
	libbpf_set_print(libbpf_log);

	p = calloc(1, sizeof(*p));
	if (!p) {
		errbuf_set(err, errlen, "detector: out of memory");
		return NULL;
	}
	p->cb = cb;
	p->ctx = ctx;
	p->hold = o.hold;
	p->loop = loop;
	p->ncpu = libbpf_num_possible_cpus();
	if (p->ncpu <= 0) {
		e = p->ncpu ? p->ncpu : -EINVAL;
		errbuf_set(err, errlen, "detector: cannot count CPUs: %s", strerror(-e));
		goto err_release;
	}
	/* Open, set the knobs and the ring-buffer layout, then load (the verifier runs here). */
	p->skel = lanner_bpf__open();
	if (!p->skel) {
		e = -errno;
		errbuf_set(err, errlen, "detector: cannot open the BPF object: %s", strerror(-e));
		goto err_release;
	}
	p->skel->rodata->lanner_tgid = o.exclude_tgid ? o.exclude_tgid : (uint32_t)getpid();
	p->skel->rodata->drop_failed = o.drop_failed;
	p->skel->rodata->precise_time = o.precise_time;
	p->skel->rodata->capture_args = !o.no_args;
	p->skel->rodata->ring_mask = bytes - 1;
	/* a power of two, as the programs mask with it: bytes is one, >= 64 KiB */
	p->skel->rodata->wakeup_every = bytes / 1024 < 1024 ? bytes / 1024 : 1024;
	/* The first bpf() call: a refusal here is about rights, and says so. */
	e = create_rings(p, bytes, err, errlen);
	if (e)
		goto err_release;
	p->tracefs = find_tracefs();
	if (!p->tracefs) {
		e = -errno;
		errbuf_set(err, errlen,
			   "detector: tracefs (needed to attach tracepoints) %s %s: %s%s",
			   e == -EACCES ? "is not readable at" :
					  "is not mounted and cannot be mounted on",
			   TRACEFS, strerror(-e), eperm_hint(e == -EACCES ? -EPERM : e));
		goto err_release;
	}
	e = bpf_map__set_inner_map_fd(p->skel->maps.lanner_rings, p->rings[0].fd);
	if (!e)
		e = bpf_map__set_max_entries(p->skel->maps.lanner_rings, p->ncpu);
	if (e) {
		errbuf_set(err, errlen, "detector: record ring map setup: %s", strerror(-e));
		goto err_release;
	}
	e = lanner_bpf__load(p->skel);
	if (e) {
		errbuf_set(err, errlen, "detector: loading the BPF programs failed: %s%s",
			   strerror(-e), eperm_hint(e));
		goto err_release;
	}
	for (int i = 0; i < p->ncpu; i++) {
		if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.lanner_rings), &i,
					&p->rings[i].fd, BPF_ANY)) {
			e = -errno;
			errbuf_set(err, errlen, "detector: record ring %d: %s", i, strerror(-e));
			goto err_release;
		}
	}

	/* User strings through the direct map when this kernel passes the checks (dmap.h). */
	if (!o.no_fast_reads) {
		char why[256];

		e = dmap_enable(p->skel->obj, NULL, why, sizeof(why));
		if (e == -ENOTRECOVERABLE) {
			errbuf_set(err, errlen, "detector: %s", why);
			goto err_release;
		}
		if (e) {
			log_warn("detector: user strings are read by the BPF helper (~100 ns more "
				 "per path): direct-map reads are off: %s",
				 why);
		} else {
			p->fast_reads = true;
			log_info("detector: user strings are read through the kernel's direct map");
		}
	}

	/* Consumer side: the wakeup tokens' epoll fd, polled by the loop, then every ring. */
	p->wake = ring_buffer__new(bpf_map__fd(p->skel->maps.lanner_wake), on_wake, p, NULL);
	if (!p->wake) {
		e = -errno;
		errbuf_set(err, errlen, "detector: wakeup ring buffer consumer: %s", strerror(-e));
		goto err_release;
	}

	/* Attach: process state always, syscalls as asked. */
	sched[0] = p->skel->progs.sched_exec;
	sched[1] = p->skel->progs.sched_exit;
	sched[2] = p->skel->progs.sched_fork;
	for (int i = 0; i < 3; i++) {
		p->sched_links[i] = bpf_program__attach(sched[i]);
		if (!p->sched_links[i]) {
			e = -errno;
			errbuf_set(err, errlen, "detector: attach %s: %s%s",
				   bpf_program__name(sched[i]), strerror(-e), eperm_hint(e));
			goto err_release;
		}
	}
	e = probe_set_syscalls(p, set);
	if (e) {
		errbuf_set(err, errlen, "detector: attaching syscall programs failed: %s%s",
			   strerror(-e), eperm_hint(e));
		goto err_release;
	}

	/*
	 * The poll wakes on the programs' forced wakeups (enough data waiting); the timer drains
	 * what arrives between them, so a lone record waits at most drain_ms.
	 */
	e = uv_poll_init(loop, &p->poll, ring_buffer__epoll_fd(p->wake));
	if (e) {
		errbuf_set(err, errlen, "detector: uv_poll_init: %s", uv_strerror(e));
		e = -EIO;
		goto err_release;
	}
	p->poll.data = p;
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	p->refs = 2;
	e = uv_poll_start(&p->poll, UV_READABLE, on_poll);
	if (!e)
		e = uv_timer_start(&p->timer, on_timer, drain_ms, drain_ms);
	if (e) {
		errbuf_set(err, errlen, "detector: starting the ring buffer poll: %s",
			   uv_strerror(e));
		probe_free(p);
		errno = EIO;
		return NULL;
	}
	return p;

err_release:
	probe_release(p);
	errno = -e;
	return NULL;
}
