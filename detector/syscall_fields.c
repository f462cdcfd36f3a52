// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "detector/event.h"

/*
 * The `syscall` field source: Falco's evt.* / proc.* / thread.* / user.* / group.* / fd.* /
 * container.* / k8s.* fields over struct syscall_event. Every extractor reads the decoded event
 * only; what the event does not carry is missing (false), never guessed.
 */

const char *const syscall_event_type_names[] = {
#define LANNER_EVT_NAME(e, n) n,
	SYSCALL_EVENT_TYPES(LANNER_EVT_NAME)
#undef LANNER_EVT_NAME
};

_Static_assert(sizeof(syscall_event_type_names) / sizeof(syscall_event_type_names[0]) ==
		       SYSCALL_EVT__COUNT,
	       "event type names");

int syscall_event_type_from_name(const char *name)
{
	for (int i = 0; i < SYSCALL_EVT__COUNT; i++)
		if (!strcmp(syscall_event_type_names[i], name))
			return i;
	return -1;
}

/* ---- flags ---------------------------------------------------------------------------- */

/*
 * The kernel's O_LARGEFILE: glibc defines O_LARGEFILE as 0 for 64-bit programs, but the flag
 * reaches the kernel (and our records) with its kernel value.
 */
#if defined(__aarch64__) || defined(__arm__)
#define K_O_LARGEFILE 0400000
#elif defined(__powerpc__)
#define K_O_LARGEFILE 0200000
#else
#define K_O_LARGEFILE 0100000
#endif

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

enum flag_family {
	FAM_NONE,
	FAM_OPEN,
	FAM_AT,
	FAM_RENAME,
	FAM_MFD,
	FAM_CLONE,
	FAM_SOCK,
	FAM_MOUNT,
	FAM_MODULE,
};

/* Match kinds: a bit set (all bits of raw), or an access mode (flags & O_ACCMODE == raw). */
enum { FM_BITS, FM_ACC };

struct flag_name {
	uint8_t family;
	uint8_t match;
	const char *name;
	uint64_t raw;
};

/*
 * Every flag evt.arg.flags can name, by family: an event type's flags render with its family's
 * names only, so `evt.arg.flags contains O_TRUNC` can never match an unlinkat's AT_REMOVEDIR
 * (same raw bit).
 * At most 64 entries.
 */
static const struct flag_name flag_names[] = {
	{ FAM_OPEN, FM_ACC, "O_RDONLY", O_RDONLY },
	{ FAM_OPEN, FM_ACC, "O_WRONLY", O_WRONLY },
	{ FAM_OPEN, FM_ACC, "O_RDWR", O_RDWR },
	{ FAM_OPEN, FM_BITS, "O_CREAT", O_CREAT },
	{ FAM_OPEN, FM_BITS, "O_EXCL", O_EXCL },
	{ FAM_OPEN, FM_BITS, "O_NOCTTY", O_NOCTTY },
	{ FAM_OPEN, FM_BITS, "O_TRUNC", O_TRUNC },
	{ FAM_OPEN, FM_BITS, "O_APPEND", O_APPEND },
	{ FAM_OPEN, FM_BITS, "O_NONBLOCK", O_NONBLOCK },
	{ FAM_OPEN, FM_BITS, "O_DSYNC", O_DSYNC },
	{ FAM_OPEN, FM_BITS, "O_ASYNC", O_ASYNC },
	{ FAM_OPEN, FM_BITS, "O_DIRECT", O_DIRECT },
	{ FAM_OPEN, FM_BITS, "O_LARGEFILE", K_O_LARGEFILE },
	{ FAM_OPEN, FM_BITS, "O_DIRECTORY", O_DIRECTORY },
	{ FAM_OPEN, FM_BITS, "O_NOFOLLOW", O_NOFOLLOW },
	{ FAM_OPEN, FM_BITS, "O_NOATIME", O_NOATIME },
	{ FAM_OPEN, FM_BITS, "O_CLOEXEC", O_CLOEXEC },
	{ FAM_OPEN, FM_BITS, "O_SYNC", O_SYNC },
	{ FAM_OPEN, FM_BITS, "O_PATH", O_PATH },
	{ FAM_OPEN, FM_BITS, "O_TMPFILE", O_TMPFILE },
	{ FAM_AT, FM_BITS, "AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW },
	{ FAM_AT, FM_BITS, "AT_REMOVEDIR", AT_REMOVEDIR },
	{ FAM_AT, FM_BITS, "AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW },
	{ FAM_AT, FM_BITS, "AT_EMPTY_PATH", AT_EMPTY_PATH },
	{ FAM_RENAME, FM_BITS, "RENAME_NOREPLACE", 1 },
	{ FAM_RENAME, FM_BITS, "RENAME_EXCHANGE", 2 },
	{ FAM_RENAME, FM_BITS, "RENAME_WHITEOUT", 4 },
	{ FAM_MFD, FM_BITS, "MFD_CLOEXEC", 0x1 },
	{ FAM_MFD, FM_BITS, "MFD_ALLOW_SEALING", 0x2 },
	{ FAM_MFD, FM_BITS, "MFD_HUGETLB", 0x4 },
	{ FAM_MFD, FM_BITS, "MFD_NOEXEC_SEAL", MFD_NOEXEC_SEAL },
	{ FAM_MFD, FM_BITS, "MFD_EXEC", MFD_EXEC },
	{ FAM_CLONE, FM_BITS, "CLONE_VM", CLONE_VM },
	{ FAM_CLONE, FM_BITS, "CLONE_FS", CLONE_FS },
	{ FAM_CLONE, FM_BITS, "CLONE_FILES", CLONE_FILES },
	{ FAM_CLONE, FM_BITS, "CLONE_SIGHAND", CLONE_SIGHAND },
	{ FAM_CLONE, FM_BITS, "CLONE_PTRACE", CLONE_PTRACE },
	{ FAM_CLONE, FM_BITS, "CLONE_VFORK", CLONE_VFORK },
	{ FAM_CLONE, FM_BITS, "CLONE_PARENT", CLONE_PARENT },
	{ FAM_CLONE, FM_BITS, "CLONE_THREAD", CLONE_THREAD },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWNS", CLONE_NEWNS },
	{ FAM_CLONE, FM_BITS, "CLONE_SYSVSEM", CLONE_SYSVSEM },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWCGROUP", CLONE_NEWCGROUP },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWUTS", CLONE_NEWUTS },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWIPC", CLONE_NEWIPC },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWUSER", CLONE_NEWUSER },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWPID", CLONE_NEWPID },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWNET", CLONE_NEWNET },
	{ FAM_CLONE, FM_BITS, "CLONE_NEWTIME", CLONE_NEWTIME },
	{ FAM_SOCK, FM_BITS, "SOCK_NONBLOCK", SOCK_NONBLOCK },
	{ FAM_SOCK, FM_BITS, "SOCK_CLOEXEC", SOCK_CLOEXEC },
	{ FAM_MOUNT, FM_BITS, "MS_RDONLY", MS_RDONLY },
	{ FAM_MOUNT, FM_BITS, "MS_NOSUID", MS_NOSUID },
	{ FAM_MOUNT, FM_BITS, "MS_NODEV", MS_NODEV },
	{ FAM_MOUNT, FM_BITS, "MS_NOEXEC", MS_NOEXEC },
	{ FAM_MOUNT, FM_BITS, "MS_REMOUNT", MS_REMOUNT },
	{ FAM_MOUNT, FM_BITS, "MS_BIND", MS_BIND },
	{ FAM_MOUNT, FM_BITS, "MS_MOVE", MS_MOVE },
	{ FAM_MOUNT, FM_BITS, "MS_REC", MS_REC },
	{ FAM_MOUNT, FM_BITS, "MS_PRIVATE", MS_PRIVATE },
	{ FAM_MOUNT, FM_BITS, "MS_SHARED", MS_SHARED },
	{ FAM_MODULE, FM_BITS, "MODULE_INIT_IGNORE_MODVERSIONS", 1 },
	{ FAM_MODULE, FM_BITS, "MODULE_INIT_IGNORE_VERMAGIC", 2 },
	{ FAM_MODULE, FM_BITS, "MODULE_INIT_COMPRESSED_FILE", 4 },
};

#define N_FLAG_NAMES (sizeof(flag_names) / sizeof(flag_names[0]))
_Static_assert(sizeof(flag_names) / sizeof(flag_names[0]) <= 64, "flag bits fit in 64");

/* The flag family of each event type's `flags` parameter; FAM_NONE: it has none. */
static uint8_t type_family(unsigned type)
{
	switch (type) {
	case SYSCALL_EVT_OPEN:
	case SYSCALL_EVT_OPENAT:
	case SYSCALL_EVT_OPENAT2:
	case SYSCALL_EVT_OPEN_BY_HANDLE_AT:
	case SYSCALL_EVT_DUP3:
		return FAM_OPEN;
	case SYSCALL_EVT_UNLINKAT:
	case SYSCALL_EVT_LINKAT:
	case SYSCALL_EVT_EXECVEAT:
	case SYSCALL_EVT_FCHMODAT:
	case SYSCALL_EVT_FCHOWNAT:
		return FAM_AT;
	case SYSCALL_EVT_RENAMEAT2:
		return FAM_RENAME;
	case SYSCALL_EVT_MEMFD_CREATE:
		return FAM_MFD;
	case SYSCALL_EVT_CLONE:
	case SYSCALL_EVT_CLONE3:
	case SYSCALL_EVT_UNSHARE:
		return FAM_CLONE;
	case SYSCALL_EVT_ACCEPT4:
		return FAM_SOCK;
	case SYSCALL_EVT_MOUNT:
	case SYSCALL_EVT_UMOUNT2:
		return FAM_MOUNT;
	case SYSCALL_EVT_FINIT_MODULE:
		return FAM_MODULE;
	default:
		return FAM_NONE;
	}
}

static bool flag_set(const struct flag_name *f, uint64_t flags)
{
	if (f->match == FM_ACC)
		return (flags & O_ACCMODE) == f->raw;
	return f->raw && (flags & f->raw) == f->raw;
}

bool syscall_flag_from_name(unsigned type, const char *name, uint64_t *raw)
{
	uint8_t fam = type_family(type);

	for (size_t i = 0; i < N_FLAG_NAMES; i++) {
		if (flag_names[i].family == fam && fam != FAM_NONE &&
		    !strcmp(flag_names[i].name, name)) {
			*raw = flag_names[i].raw;
			return true;
		}
	}
	return false;
}

void syscall_flags_foreach(unsigned type, uint64_t flags, void (*fn)(void *ctx, const char *name),
			   void *ctx)
{
	uint8_t fam = type_family(type);
	uint64_t named = 0;
	char hex[24];

	for (size_t i = 0; i < N_FLAG_NAMES; i++) {
		const struct flag_name *f = &flag_names[i];

		if (f->family != fam || !flag_set(f, flags))
			continue;
		fn(ctx, f->name);
		named |= f->match == FM_ACC ? O_ACCMODE : f->raw;
	}
	if (flags & ~named) {
		snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)(flags & ~named));
		fn(ctx, hex);
	}
}

/* ---- other value names ---------------------------------------------------------------- */

struct value_name {
	uint64_t v;
	const char *name;
};

static const char *value_name(const struct value_name *t, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].v == v)
			return t[i].name;
	return NULL;
}

#define NAMES(t) t, sizeof(t) / sizeof(t[0])

static const struct value_name ptrace_names[] = {
	{ 0, "PTRACE_TRACEME" },
	{ 1, "PTRACE_PEEKTEXT" },
	{ 2, "PTRACE_PEEKDATA" },
	{ 3, "PTRACE_PEEKUSR" },
	{ 4, "PTRACE_POKETEXT" },
	{ 5, "PTRACE_POKEDATA" },
	{ 6, "PTRACE_POKEUSR" },
	{ 7, "PTRACE_CONT" },
	{ 8, "PTRACE_KILL" },
	{ 9, "PTRACE_SINGLESTEP" },
	{ 12, "PTRACE_GETREGS" },
	{ 13, "PTRACE_SETREGS" },
	{ 14, "PTRACE_GETFPREGS" },
	{ 15, "PTRACE_SETFPREGS" },
	{ 16, "PTRACE_ATTACH" },
	{ 17, "PTRACE_DETACH" },
	{ 18, "PTRACE_GETFPXREGS" },
	{ 19, "PTRACE_SETFPXREGS" },
	{ 24, "PTRACE_SYSCALL" },
	{ 31, "PTRACE_SYSEMU" },
	{ 32, "PTRACE_SYSEMU_SINGLESTEP" },
	{ 0x4200, "PTRACE_SETOPTIONS" },
	{ 0x4201, "PTRACE_GETEVENTMSG" },
	{ 0x4202, "PTRACE_GETSIGINFO" },
	{ 0x4203, "PTRACE_SETSIGINFO" },
	{ 0x4204, "PTRACE_GETREGSET" },
	{ 0x4205, "PTRACE_SETREGSET" },
	{ 0x4206, "PTRACE_SEIZE" },
	{ 0x4207, "PTRACE_INTERRUPT" },
	{ 0x4208, "PTRACE_LISTEN" },
	{ 0x4209, "PTRACE_PEEKSIGINFO" },
	{ 0x420a, "PTRACE_GETSIGMASK" },
	{ 0x420b, "PTRACE_SETSIGMASK" },
	{ 0x420c, "PTRACE_SECCOMP_GET_FILTER" },
	{ 0x420d, "PTRACE_SECCOMP_GET_METADATA" },
	{ 0x420e, "PTRACE_GET_SYSCALL_INFO" },
};

static const struct value_name af_names[] = {
	{ AF_UNSPEC, "AF_UNSPEC" },
	{ AF_UNIX, "AF_UNIX" },
	{ AF_INET, "AF_INET" },
	{ AF_AX25, "AF_AX25" },
	{ AF_IPX, "AF_IPX" },
	{ AF_APPLETALK, "AF_APPLETALK" },
	{ AF_NETROM, "AF_NETROM" },
	{ AF_BRIDGE, "AF_BRIDGE" },
	{ AF_ATMPVC, "AF_ATMPVC" },
	{ AF_X25, "AF_X25" },
	{ AF_INET6, "AF_INET6" },
	{ AF_ROSE, "AF_ROSE" },
	{ AF_DECnet, "AF_DECnet" },
	{ AF_NETBEUI, "AF_NETBEUI" },
	{ AF_SECURITY, "AF_SECURITY" },
	{ AF_KEY, "AF_KEY" },
	{ AF_NETLINK, "AF_NETLINK" },
	{ AF_PACKET, "AF_PACKET" },
	{ AF_ASH, "AF_ASH" },
	{ AF_ECONET, "AF_ECONET" },
	{ AF_ATMSVC, "AF_ATMSVC" },
	{ AF_RDS, "AF_RDS" },
	{ AF_SNA, "AF_SNA" },
	{ AF_IRDA, "AF_IRDA" },
	{ AF_PPPOX, "AF_PPPOX" },
	{ AF_WANPIPE, "AF_WANPIPE" },
	{ AF_LLC, "AF_LLC" },
	{ AF_IB, "AF_IB" },
	{ AF_MPLS, "AF_MPLS" },
	{ AF_CAN, "AF_CAN" },
	{ AF_TIPC, "AF_TIPC" },
	{ AF_BLUETOOTH, "AF_BLUETOOTH" },
	{ AF_IUCV, "AF_IUCV" },
	{ AF_RXRPC, "AF_RXRPC" },
	{ AF_ISDN, "AF_ISDN" },
	{ AF_PHONET, "AF_PHONET" },
	{ AF_IEEE802154, "AF_IEEE802154" },
	{ AF_CAIF, "AF_CAIF" },
	{ AF_ALG, "AF_ALG" },
	{ AF_NFC, "AF_NFC" },
	{ AF_VSOCK, "AF_VSOCK" },
	{ AF_KCM, "AF_KCM" },
	{ AF_QIPCRTR, "AF_QIPCRTR" },
	{ AF_SMC, "AF_SMC" },
	{ 44, "AF_XDP" },
};

static const struct value_name socktype_names[] = {
	{ SOCK_STREAM, "SOCK_STREAM" },
	{ SOCK_DGRAM, "SOCK_DGRAM" },
	{ SOCK_RAW, "SOCK_RAW" },
	{ SOCK_RDM, "SOCK_RDM" },
	{ SOCK_SEQPACKET, "SOCK_SEQPACKET" },
	{ SOCK_DCCP, "SOCK_DCCP" },
	{ SOCK_PACKET, "SOCK_PACKET" },
};

static const struct value_name bpf_cmd_names[] = {
	{ 0, "BPF_MAP_CREATE" },
	{ 1, "BPF_MAP_LOOKUP_ELEM" },
	{ 2, "BPF_MAP_UPDATE_ELEM" },
	{ 3, "BPF_MAP_DELETE_ELEM" },
	{ 4, "BPF_MAP_GET_NEXT_KEY" },
	{ 5, "BPF_PROG_LOAD" },
	{ 6, "BPF_OBJ_PIN" },
	{ 7, "BPF_OBJ_GET" },
	{ 8, "BPF_PROG_ATTACH" },
	{ 9, "BPF_PROG_DETACH" },
	{ 10, "BPF_PROG_TEST_RUN" },
	{ 11, "BPF_PROG_GET_NEXT_ID" },
	{ 12, "BPF_MAP_GET_NEXT_ID" },
	{ 13, "BPF_PROG_GET_FD_BY_ID" },
	{ 14, "BPF_MAP_GET_FD_BY_ID" },
	{ 15, "BPF_OBJ_GET_INFO_BY_FD" },
	{ 16, "BPF_PROG_QUERY" },
	{ 17, "BPF_RAW_TRACEPOINT_OPEN" },
	{ 18, "BPF_BTF_LOAD" },
	{ 19, "BPF_BTF_GET_FD_BY_ID" },
	{ 20, "BPF_TASK_FD_QUERY" },
	{ 21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM" },
	{ 22, "BPF_MAP_FREEZE" },
	{ 23, "BPF_BTF_GET_NEXT_ID" },
	{ 24, "BPF_MAP_LOOKUP_BATCH" },
	{ 25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH" },
	{ 26, "BPF_MAP_UPDATE_BATCH" },
	{ 27, "BPF_MAP_DELETE_BATCH" },
	{ 28, "BPF_LINK_CREATE" },
	{ 29, "BPF_LINK_UPDATE" },
	{ 30, "BPF_LINK_GET_FD_BY_ID" },
	{ 31, "BPF_LINK_GET_NEXT_ID" },
	{ 32, "BPF_ENABLE_STATS" },
	{ 33, "BPF_ITER_CREATE" },
	{ 34, "BPF_LINK_DETACH" },
	{ 35, "BPF_PROG_BIND_MAP" },
	{ 36, "BPF_TOKEN_CREATE" },
};

static const char *const cap_names[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

#define N_CAPS (sizeof(cap_names) / sizeof(cap_names[0]))

/* chmod-family modes, in Falco's rendering order. */
static const struct value_name mode_names[] = {
	{ 0001, "S_IXOTH" }, { 0002, "S_IWOTH" },  { 0004, "S_IROTH" },	 { 0010, "S_IXGRP" },
	{ 0020, "S_IWGRP" }, { 0040, "S_IRGRP" },  { 0100, "S_IXUSR" },	 { 0200, "S_IWUSR" },
	{ 0400, "S_IRUSR" }, { 01000, "S_ISVTX" }, { 02000, "S_ISGID" }, { 04000, "S_ISUID" },
};

/* Falco's execve exit flags (PPM_EXE_*), derived from the process's exe properties. */
static const struct value_name exe_flag_names[] = {
	{ 1, "EXE_WRITABLE" },
	{ 2, "EXE_UPPER_LAYER" },
	{ 4, "EXE_FROM_MEMFD" },
	{ 8, "EXE_LOWER_LAYER" },
};

static const struct value_name nstype_names[] = {
	{ CLONE_NEWNS, "CLONE_NEWNS" },	    { CLONE_NEWCGROUP, "CLONE_NEWCGROUP" },
	{ CLONE_NEWUTS, "CLONE_NEWUTS" },   { CLONE_NEWIPC, "CLONE_NEWIPC" },
	{ CLONE_NEWUSER, "CLONE_NEWUSER" }, { CLONE_NEWPID, "CLONE_NEWPID" },
	{ CLONE_NEWNET, "CLONE_NEWNET" },   { CLONE_NEWTIME, "CLONE_NEWTIME" },
};

static const struct value_name *value_table(const char *kind, size_t *n)
{
	static const struct {
		const char *kind;
		const struct value_name *t;
		size_t n;
	} tables[] = {
		{ "request", NAMES(ptrace_names) },
		{ "domain", NAMES(af_names) },
		{ "socktype", NAMES(socktype_names) },
		{ "bpf_cmd", NAMES(bpf_cmd_names) },
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (!strcmp(tables[i].kind, kind)) {
			*n = tables[i].n;
			return tables[i].t;
		}
	}
	return NULL;
}

bool syscall_value_from_name(const char *kind, const char *name, int64_t *v)
{
	const struct value_name *t;
	size_t n;

	if (!strcmp(kind, "cap")) {
		for (size_t i = 0; i < N_CAPS; i++) {
			if (!strcmp(cap_names[i], name)) {
				*v = (int64_t)i;
				return true;
			}
		}
		return false;
	}
	if (!(t = value_table(kind, &n)))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(t[i].name, name)) {
			*v = (int64_t)t[i].v;
			return true;
		}
	}
	return false;
}

const char *syscall_value_name(const char *kind, int64_t v)
{
	const struct value_name *t;
	size_t n;

	if (!strcmp(kind, "cap"))
		return v >= 0 && (uint64_t)v < N_CAPS ? cap_names[v] : NULL;
	if (!(t = value_table(kind, &n)))
		return NULL;
	return value_name(t, n, (uint64_t)v);
}

/* ---- small string builder over a stack buffer ------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap; /* cap includes the NUL */
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + 1 >= b->cap)
		return;
	if (n > b->cap - 1 - b->len)
		n = b->cap - 1 - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - 1 - b->len;
}

#define SBUF(name, size)                                          \
	char name##_mem[size];                                    \
	struct sbuf name = { name##_mem, 0, sizeof(name##_mem) }; \
	name##_mem[0] = 0

/* ---- value helpers --------------------------------------------------------------------- */

static bool ret_str(struct field_value *out, const char *s)
{
	if (!s)
		return false;
	out->type = FIELD_STRING;
	out->str.p = s;
	out->str.len = strlen(s);
	return true;
}

static bool ret_strn(struct field_value *out, const char *s, size_t len)
{
	out->type = FIELD_STRING;
	out->str.p = s;
	out->str.len = len;
	return true;
}

/* Copy a built string into the per-event scratch. */
static bool ret_copy(struct field_scratch *scratch, struct field_value *out, const char *s,
		     size_t len)
{
	char *p = field_scratch_alloc(scratch, len + 1);

	if (!p)
		return false;
	memcpy(p, s, len);
	p[len] = 0;
	return ret_strn(out, p, len);
}

static bool ret_sb(struct field_scratch *scratch, struct field_value *out, const struct sbuf *b)
{
	return ret_copy(scratch, out, b->p, b->len);
}

static bool ret_int(struct field_value *out, int64_t v)
{
	out->type = FIELD_INT;
	out->i = v;
	return true;
}

static bool ret_uint(struct field_value *out, enum field_type t, uint64_t v)
{
	out->type = t;
	out->u = v;
	return true;
}

static bool ret_bool(struct field_value *out, bool v)
{
	out->type = FIELD_BOOL;
	out->b = v;
	return true;
}

#define EV(ev) ((const struct syscall_event *)(ev))

#define EXTRACTOR(fn)                                                  \
	static bool fn(const void *event, const struct field_arg *arg, \
		       struct field_scratch *scratch, struct field_value *out)

/* ---- rendering helpers ----------------------------------------------------------------- */

/* Decimal digits of v at the end of buf[10]; returns where they start. */
static char *u32_digits(char *end, uint32_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static void sb_uint(struct sbuf *b, uint32_t v)
{
	char d[10], *p = u32_digits(d + sizeof(d), v);

	sb_putn(b, p, (size_t)(d + sizeof(d) - p));
}

/*
 * IPv4 by hand: inet_ntop goes through sprintf, which was most of formatting a connect's
 * fd.name (once per connect/accept/sendto, for the fd table).
 */
static void sb_ip(struct sbuf *b, const struct event_sockaddr *a)
{
	char ip[INET6_ADDRSTRLEN], *o = ip;

	if (a->family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			char d[10], *p = u32_digits(d + sizeof(d), a->addr[i]);

			if (i)
				*o++ = '.';
			while (p < d + sizeof(d))
				*o++ = *p++;
		}
		sb_putn(b, ip, (size_t)(o - ip));
	} else if (a->family == AF_INET6) {
		if (inet_ntop(a->family, a->addr, ip, sizeof(ip)))
			sb_puts(b, ip);
	}
}

int event_fd_format_tuple(const struct event_sockaddr *client, const struct event_sockaddr *server,
			  char *buf, size_t len)
{
	struct sbuf b = { buf, 0, len };

	if (!len)
		return 0;
	buf[0] = 0;
	if (server->family == AF_UNIX || client->family == AF_UNIX) {
		const char *path = server->path ? server->path : client->path;

		return snprintf(buf, len, "%s", path ? path : "");
	}
	sb_ip(&b, client);
	sb_putn(&b, ":", 1);
	sb_uint(&b, client->port);
	sb_putn(&b, "->", 2);
	sb_ip(&b, server);
	sb_putn(&b, ":", 1);
	sb_uint(&b, server->port);
	return (int)b.len;
}

static void sb_sockaddr(struct sbuf *b, const struct event_sockaddr *a)
{
	if (a->family == AF_UNIX) {
		sb_puts(b, a->path ? a->path : "");
		return;
	}
	sb_ip(b, a);
	sb_printf(b, ":%u", a->port);
}

/* "A|B|C" from a value_name bit table, Falco-style; "" for 0. */
static void sb_bits(struct sbuf *b, const struct value_name *t, size_t n, uint64_t v)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if ((v & t[i].v) == t[i].v && t[i].v) {
			sb_printf(b, "%s%s", first ? "" : "|", t[i].name);
			first = false;
		}
	}
}

struct flags_ctx {
	struct sbuf *b;
	bool first;
};

static void flags_cb(void *ctx, const char *name)
{
	struct flags_ctx *c = ctx;

	sb_printf(c->b, "%s%s", c->first ? "" : "|", name);
	c->first = false;
}

/* On every open event a rule looks at: names appended directly, no printf. */
static void sb_flags(struct sbuf *b, unsigned type, uint64_t flags)
{
	uint8_t fam = type_family(type);
	uint64_t named = 0;

	if (fam == FAM_NONE) {
		struct flags_ctx c = { b, true };

		syscall_flags_foreach(type, flags, flags_cb, &c);
		return;
	}
	for (size_t i = 0; i < N_FLAG_NAMES; i++) {
		const struct flag_name *f = &flag_names[i];

		if (f->family != fam || !flag_set(f, flags))
			continue;
		if (b->len)
			sb_putn(b, "|", 1);
		sb_puts(b, f->name);
		named |= f->match == FM_ACC ? O_ACCMODE : f->raw;
	}
	if (flags & ~named)
		sb_printf(b, "%s0x%llx", b->len ? "|" : "", (unsigned long long)(flags & ~named));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_putn(b, tmp + i, sizeof(tmp) - i);
}

static void sb_caps(struct sbuf *b, uint64_t caps)
{
	bool first = true;

	for (size_t i = 0; i < N_CAPS; i++) {
		if (caps & (1ull << i)) {
			sb_printf(b, "%s%s", first ? "" : " ", cap_names[i]);
			first = false;
		}
	}
}

static const char *errno_name(int64_t res)
{
	const char *s = NULL;

	if (res < 0 && res > -4096)
		s = strerrorname_np((int)-res);
	return s;
}

/* Is path relative (needs the cwd to be absolute)? */
static bool is_relative(const char *p)
{
	return p[0] != '/';
}

/*
 * Falco resolves FSPATH arguments against the cwd (and *at() arguments against their dirfd when
 * it is AT_FDCWD). A relative path with a real dirfd cannot be resolved here: raw.
 */
static void sb_path(struct sbuf *b, const struct syscall_event *e, const char *path, bool has_dirfd,
		    int64_t dirfd)
{
	const char *cwd = e->proc ? e->proc->cwd : NULL;
	size_t cl;

	if (!is_relative(path) || !cwd || (has_dirfd && dirfd != AT_FDCWD)) {
		sb_puts(b, path);
		return;
	}
	cl = strlen(cwd);
	sb_puts(b, cwd);
	if (cl && cwd[cl - 1] != '/')
		sb_puts(b, "/");
	if (path[0] == '.' && path[1] == '/')
		path += 2;
	sb_puts(b, path);
}

/* ---- per event type parameters (evt.arg.NAME, evt.arg[N], evt.args) ------------------ */

enum pslot {
	P_RES, /* res as an errno result: number, resolved to E* on failure */
	P_RES_FD, /* res as a returned fd */
	P_RES_PID, /* res as a returned pid */
	P_FD,
	P_DIRFD,
	P_NEWDIRFD,
	P_NAME, /* args.name, resolved against cwd/dirfd */
	P_PATH, /* args.path, resolved against cwd/dirfd */
	P_RAWNAME, /* args.name, not a path (memfd_create) */
	P_FLAGS,
	P_EXE_FLAGS, /* execve's "flags": EXE_WRITABLE|EXE_UPPER_LAYER|... from the process */
	P_MODE_OCT,
	P_MODE_NAMES,
	P_TARGET,
	P_LINKPATH,
	P_OLDPATH,
	P_NEWPATH,
	P_TUPLE, /* the fd's tuple, or the sockaddr */
	P_ADDR, /* the sockaddr argument */
	P_REQUEST,
	P_PID,
	P_DOMAIN,
	P_STYPE,
	P_PROTO,
	P_UID,
	P_EUID,
	P_SUID,
	P_GID,
	P_EGID,
	P_SGID,
	P_BPFCMD,
	P_CMD,
	P_NSTYPE,
	P_OLDFD,
	P_NEWFD,
	P_SIG,
	P_SIZE,
	P_BACKLOG,
	P_DEV,
	P_INO,
	P_PTRACE_ADDR,
	P_PTRACE_DATA,
	P_UARGS,
	P_FSTYPE,
	P_EXE,
	P_ARGS,
	P_TID,
	P_PROCPID,
	P_PPID,
	P_CWD,
	P_COMM,
};

struct param {
	const char *name;
	uint8_t slot;
};

struct type_params {
	const struct param *p;
	uint8_t n;
};

#define PARAMS(...)                                                                          \
	{                                                                                    \
		(const struct param[]){ __VA_ARGS__ },                                       \
			sizeof((const struct param[]){ __VA_ARGS__ }) / sizeof(struct param) \
	}

#define PROC_PARAMS                                                                   \
	{ "exe", P_EXE }, { "args", P_ARGS }, { "tid", P_TID }, { "pid", P_PROCPID }, \
		{ "ptid", P_PPID }, { "cwd", P_CWD },                                 \
	{                                                                             \
		"comm", P_COMM                                                        \
	}

/* Falco's exit-event parameter names per type (libscap event table, newest layouts). */
static const struct type_params type_params[SYSCALL_EVT__COUNT] = {
	[SYSCALL_EVT_EXECVE] = PARAMS({ "res", P_RES }, PROC_PARAMS, { "flags", P_EXE_FLAGS },
				      { "filename", P_PATH }),
	[SYSCALL_EVT_EXECVEAT] = PARAMS({ "res", P_RES }, PROC_PARAMS, { "dirfd", P_DIRFD },
					{ "pathname", P_PATH }, { "flags", P_EXE_FLAGS }),
	[SYSCALL_EVT_CLONE] = PARAMS({ "res", P_RES_PID }, PROC_PARAMS, { "flags", P_FLAGS }),
	[SYSCALL_EVT_CLONE3] = PARAMS({ "res", P_RES_PID }, PROC_PARAMS, { "flags", P_FLAGS }),
	[SYSCALL_EVT_FORK] = PARAMS({ "res", P_RES_PID }, PROC_PARAMS),
	[SYSCALL_EVT_VFORK] = PARAMS({ "res", P_RES_PID }, PROC_PARAMS),
	[SYSCALL_EVT_PROCEXIT] = PARAMS({ "status", P_RES }, { "sig", P_SIG }),
	[SYSCALL_EVT_OPEN] = PARAMS({ "fd", P_RES_FD }, { "name", P_NAME }, { "flags", P_FLAGS },
				    { "mode", P_MODE_OCT }, { "dev", P_DEV }, { "ino", P_INO }),
	[SYSCALL_EVT_OPENAT] = PARAMS({ "fd", P_RES_FD }, { "dirfd", P_DIRFD }, { "name", P_NAME },
				      { "flags", P_FLAGS }, { "mode", P_MODE_OCT },
				      { "dev", P_DEV }, { "ino", P_INO }),
	[SYSCALL_EVT_OPENAT2] = PARAMS({ "fd", P_RES_FD }, { "dirfd", P_DIRFD }, { "name", P_NAME },
				       { "flags", P_FLAGS }, { "mode", P_MODE_OCT },
				       { "dev", P_DEV }, { "ino", P_INO }),
	[SYSCALL_EVT_CREAT] = PARAMS({ "fd", P_RES_FD }, { "name", P_NAME }, { "mode", P_MODE_OCT },
				     { "dev", P_DEV }, { "ino", P_INO }),
	[SYSCALL_EVT_OPEN_BY_HANDLE_AT] = PARAMS({ "fd", P_RES_FD }, { "mountfd", P_DIRFD },
						 { "flags", P_FLAGS }, { "path", P_NAME }),
	[SYSCALL_EVT_CLOSE] = PARAMS({ "res", P_RES }, { "fd", P_FD }),
	[SYSCALL_EVT_DUP] = PARAMS({ "res", P_RES_FD }, { "oldfd", P_OLDFD }),
	[SYSCALL_EVT_DUP2] =
		PARAMS({ "res", P_RES_FD }, { "oldfd", P_OLDFD }, { "newfd", P_NEWFD }),
	[SYSCALL_EVT_DUP3] = PARAMS({ "res", P_RES_FD }, { "oldfd", P_OLDFD }, { "newfd", P_NEWFD },
				    { "flags", P_FLAGS }),
	[SYSCALL_EVT_FCNTL] = PARAMS({ "res", P_RES_FD }, { "fd", P_FD }, { "cmd", P_CMD }),
	[SYSCALL_EVT_READ] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }),
	[SYSCALL_EVT_WRITE] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }),
	[SYSCALL_EVT_SOCKET] = PARAMS({ "fd", P_RES_FD }, { "domain", P_DOMAIN },
				      { "type", P_STYPE }, { "proto", P_PROTO }),
	[SYSCALL_EVT_SOCKETPAIR] = PARAMS({ "res", P_RES }, { "domain", P_DOMAIN },
					  { "type", P_STYPE }, { "proto", P_PROTO }),
	[SYSCALL_EVT_CONNECT] =
		PARAMS({ "res", P_RES }, { "tuple", P_TUPLE }, { "fd", P_FD }, { "addr", P_ADDR }),
	[SYSCALL_EVT_ACCEPT] = PARAMS({ "fd", P_RES_FD }, { "tuple", P_TUPLE }),
	[SYSCALL_EVT_ACCEPT4] =
		PARAMS({ "fd", P_RES_FD }, { "tuple", P_TUPLE }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_BIND] = PARAMS({ "res", P_RES }, { "addr", P_ADDR }, { "fd", P_FD }),
	[SYSCALL_EVT_LISTEN] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "backlog", P_BACKLOG }),
	[SYSCALL_EVT_SENDTO] =
		PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }, { "tuple", P_TUPLE }),
	[SYSCALL_EVT_SENDMSG] =
		PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }, { "tuple", P_TUPLE }),
	[SYSCALL_EVT_RECVFROM] =
		PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }, { "tuple", P_TUPLE }),
	[SYSCALL_EVT_RECVMSG] =
		PARAMS({ "res", P_RES }, { "fd", P_FD }, { "size", P_SIZE }, { "tuple", P_TUPLE }),
	[SYSCALL_EVT_SHUTDOWN] = PARAMS({ "res", P_RES }, { "fd", P_FD }),
	[SYSCALL_EVT_CHDIR] = PARAMS({ "res", P_RES }, { "path", P_PATH }),
	[SYSCALL_EVT_FCHDIR] = PARAMS({ "res", P_RES }, { "fd", P_FD }),
	[SYSCALL_EVT_MKDIR] = PARAMS({ "res", P_RES }, { "path", P_PATH }, { "mode", P_MODE_OCT }),
	[SYSCALL_EVT_MKDIRAT] = PARAMS({ "res", P_RES }, { "dirfd", P_DIRFD }, { "path", P_PATH },
				       { "mode", P_MODE_OCT }),
	[SYSCALL_EVT_RMDIR] = PARAMS({ "res", P_RES }, { "path", P_PATH }),
	[SYSCALL_EVT_UNLINK] = PARAMS({ "res", P_RES }, { "path", P_PATH }),
	[SYSCALL_EVT_UNLINKAT] = PARAMS({ "res", P_RES }, { "dirfd", P_DIRFD }, { "name", P_NAME },
					{ "flags", P_FLAGS }),
	[SYSCALL_EVT_RENAME] =
		PARAMS({ "res", P_RES }, { "oldpath", P_OLDPATH }, { "newpath", P_NEWPATH }),
	[SYSCALL_EVT_RENAMEAT] = PARAMS({ "res", P_RES }, { "olddirfd", P_DIRFD },
					{ "oldpath", P_OLDPATH }, { "newdirfd", P_NEWDIRFD },
					{ "newpath", P_NEWPATH }),
	[SYSCALL_EVT_RENAMEAT2] = PARAMS({ "res", P_RES }, { "olddirfd", P_DIRFD },
					 { "oldpath", P_OLDPATH }, { "newdirfd", P_NEWDIRFD },
					 { "newpath", P_NEWPATH }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_SYMLINK] =
		PARAMS({ "res", P_RES }, { "target", P_TARGET }, { "linkpath", P_LINKPATH }),
	[SYSCALL_EVT_SYMLINKAT] = PARAMS({ "res", P_RES }, { "target", P_TARGET },
					 { "linkdirfd", P_DIRFD }, { "linkpath", P_LINKPATH }),
	[SYSCALL_EVT_LINK] =
		PARAMS({ "res", P_RES }, { "oldpath", P_OLDPATH }, { "newpath", P_NEWPATH }),
	[SYSCALL_EVT_LINKAT] = PARAMS({ "res", P_RES }, { "olddir", P_DIRFD },
				      { "oldpath", P_OLDPATH }, { "newdir", P_NEWDIRFD },
				      { "newpath", P_NEWPATH }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_CHMOD] =
		PARAMS({ "res", P_RES }, { "filename", P_PATH }, { "mode", P_MODE_NAMES }),
	[SYSCALL_EVT_FCHMOD] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "mode", P_MODE_NAMES }),
	[SYSCALL_EVT_FCHMODAT] = PARAMS({ "res", P_RES }, { "dirfd", P_DIRFD },
					{ "filename", P_PATH }, { "mode", P_MODE_NAMES }),
	[SYSCALL_EVT_CHOWN] =
		PARAMS({ "res", P_RES }, { "path", P_PATH }, { "uid", P_UID }, { "gid", P_GID }),
	[SYSCALL_EVT_LCHOWN] =
		PARAMS({ "res", P_RES }, { "path", P_PATH }, { "uid", P_UID }, { "gid", P_GID }),
	[SYSCALL_EVT_FCHOWN] =
		PARAMS({ "res", P_RES }, { "fd", P_FD }, { "uid", P_UID }, { "gid", P_GID }),
	[SYSCALL_EVT_FCHOWNAT] = PARAMS({ "res", P_RES }, { "dirfd", P_DIRFD },
					{ "pathname", P_PATH }, { "uid", P_UID }, { "gid", P_GID },
					{ "flags", P_FLAGS }),
	[SYSCALL_EVT_TRUNCATE] = PARAMS({ "res", P_RES }, { "path", P_PATH }),
	[SYSCALL_EVT_FTRUNCATE] = PARAMS({ "res", P_RES }, { "fd", P_FD }),
	[SYSCALL_EVT_MOUNT] = PARAMS({ "res", P_RES }, { "dev", P_RAWNAME }, { "dir", P_PATH },
				     { "type", P_FSTYPE }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_UMOUNT] = PARAMS({ "res", P_RES }, { "name", P_PATH }),
	[SYSCALL_EVT_UMOUNT2] = PARAMS({ "res", P_RES }, { "name", P_PATH }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_SETUID] = PARAMS({ "res", P_RES }, { "uid", P_UID }),
	[SYSCALL_EVT_SETGID] = PARAMS({ "res", P_RES }, { "gid", P_GID }),
	[SYSCALL_EVT_SETREUID] = PARAMS({ "res", P_RES }, { "ruid", P_UID }, { "euid", P_EUID }),
	[SYSCALL_EVT_SETREGID] = PARAMS({ "res", P_RES }, { "rgid", P_GID }, { "egid", P_EGID }),
	[SYSCALL_EVT_SETRESUID] =
		PARAMS({ "res", P_RES }, { "ruid", P_UID }, { "euid", P_EUID }, { "suid", P_SUID }),
	[SYSCALL_EVT_SETRESGID] =
		PARAMS({ "res", P_RES }, { "rgid", P_GID }, { "egid", P_EGID }, { "sgid", P_SGID }),
	[SYSCALL_EVT_SETFSUID] = PARAMS({ "res", P_RES }, { "uid", P_UID }),
	[SYSCALL_EVT_SETFSGID] = PARAMS({ "res", P_RES }, { "gid", P_GID }),
	[SYSCALL_EVT_SETNS] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "nstype", P_NSTYPE }),
	[SYSCALL_EVT_UNSHARE] = PARAMS({ "res", P_RES }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_PTRACE] = PARAMS({ "res", P_RES }, { "addr", P_PTRACE_ADDR },
				      { "data", P_PTRACE_DATA }, { "request", P_REQUEST },
				      { "pid", P_PID }),
	[SYSCALL_EVT_INIT_MODULE] =
		PARAMS({ "res", P_RES }, { "length", P_SIZE }, { "uargs", P_UARGS }),
	[SYSCALL_EVT_FINIT_MODULE] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "uargs", P_UARGS },
					    { "flags", P_FLAGS }),
	[SYSCALL_EVT_DELETE_MODULE] = PARAMS({ "res", P_RES }, { "name", P_RAWNAME }),
	[SYSCALL_EVT_BPF] = PARAMS({ "res_or_fd", P_RES_FD }, { "cmd", P_BPFCMD }),
	[SYSCALL_EVT_MEMFD_CREATE] =
		PARAMS({ "fd", P_RES_FD }, { "name", P_RAWNAME }, { "flags", P_FLAGS }),
	[SYSCALL_EVT_KILL] = PARAMS({ "res", P_RES }, { "pid", P_PID }, { "sig", P_SIG }),
	[SYSCALL_EVT_TKILL] = PARAMS({ "res", P_RES }, { "tid", P_PID }, { "sig", P_SIG }),
	[SYSCALL_EVT_TGKILL] = PARAMS({ "res", P_RES }, { "pid", P_PID }, { "sig", P_SIG }),
	[SYSCALL_EVT_PRCTL] = PARAMS({ "res", P_RES }, { "option", P_CMD }),
	[SYSCALL_EVT_MMAP] = PARAMS({ "res", P_RES }, { "fd", P_FD }, { "length", P_SIZE }),
	[SYSCALL_EVT_MPROTECT] = PARAMS({ "res", P_RES }, { "length", P_SIZE }),
	[SYSCALL_EVT_USERFAULTFD] = PARAMS({ "res", P_RES_FD }),
	[SYSCALL_EVT_IO_URING_SETUP] = PARAMS({ "res", P_RES_FD }),
	[SYSCALL_EVT_CAPSET] = PARAMS({ "res", P_RES }),
};

static const struct param *param_by_name(unsigned type, const char *name, size_t len)
{
	const struct type_params *tp;

	if (type >= SYSCALL_EVT__COUNT)
		return NULL;
	tp = &type_params[type];
	for (uint8_t i = 0; i < tp->n; i++)
		if (strlen(tp->p[i].name) == len && !memcmp(tp->p[i].name, name, len))
			return &tp->p[i];
	return NULL;
}

static bool av(const struct syscall_event *e, uint32_t bit)
{
	return (e->args.valid & bit) != 0;
}

static void sb_fd_resolved(struct sbuf *b, const struct syscall_event *e, int64_t fd)
{
	if (e->fd && (e->fd->valid & EVENT_FD_NUM) && e->fd->num == fd && e->fd->type &&
	    e->fd->name)
		sb_printf(b, "<%c>%s", e->fd->type, e->fd->name);
}

static void sb_id_name(struct sbuf *b, uint32_t id, uint32_t proc_id, const char *name)
{
	/* Only the event's own user/group name is known; other ids stay numeric. */
	if (name && id == proc_id)
		sb_puts(b, name);
}

/*
 * Render one parameter: raw (Falco's paramstr) into `raw`, Falco's resolved form (flag names,
 * errno name, fd path, absolute path) into `res` (left empty when there is none). Returns false
 * when the event does not carry the value.
 */
static bool render_param(const struct syscall_event *e, uint8_t slot, struct sbuf *raw,
			 struct sbuf *res)
{
	const struct event_args *a = &e->args;
	const struct event_process *p = e->proc;
	const char *s;

	switch (slot) {
	case P_RES:
	case P_RES_FD:
	case P_RES_PID:
		sb_printf(raw, "%lld", (long long)e->res);
		if (e->res < 0 && (s = errno_name(e->res)))
			sb_puts(res, s);
		else if (slot == P_RES_FD)
			sb_fd_resolved(res, e, e->res);
		return true;
	case P_FD:
		if (!av(e, EVENT_ARG_FD))
			return false;
		sb_printf(raw, "%lld", (long long)a->fd);
		sb_fd_resolved(res, e, a->fd);
		return true;
	case P_DIRFD:
	case P_NEWDIRFD: {
		int64_t fd = slot == P_DIRFD ? a->dirfd : a->newdirfd;

		if (!av(e, slot == P_DIRFD ? EVENT_ARG_DIRFD : EVENT_ARG_NEWDIRFD))
			return false;
		sb_printf(raw, "%lld", (long long)fd);
		if (fd == AT_FDCWD)
			sb_puts(res, "AT_FDCWD");
		return true;
	}
	case P_NAME:
	case P_PATH:
		s = slot == P_NAME ? a->name : a->path;
		if (!s)
			return false;
		sb_puts(raw, s);
		if (is_relative(s))
			sb_path(res, e, s, av(e, EVENT_ARG_DIRFD), a->dirfd);
		return true;
	case P_OLDPATH:
		if (!a->oldpath)
			return false;
		sb_puts(raw, a->oldpath);
		if (is_relative(a->oldpath))
			sb_path(res, e, a->oldpath, av(e, EVENT_ARG_DIRFD), a->dirfd);
		return true;
	case P_NEWPATH:
		if (!a->newpath)
			return false;
		sb_puts(raw, a->newpath);
		if (is_relative(a->newpath))
			sb_path(res, e, a->newpath, av(e, EVENT_ARG_NEWDIRFD), a->newdirfd);
		return true;
	case P_LINKPATH:
		if (!a->linkpath)
			return false;
		sb_puts(raw, a->linkpath);
		if (is_relative(a->linkpath))
			sb_path(res, e, a->linkpath, av(e, EVENT_ARG_DIRFD), a->dirfd);
		return true;
	case P_RAWNAME:
		if (!a->name)
			return false;
		sb_puts(raw, a->name);
		return true;
	case P_TARGET:
		if (!a->target)
			return false;
		sb_puts(raw, a->target);
		return true;
	case P_UARGS:
		if (!a->uargs)
			return false;
		sb_puts(raw, a->uargs);
		return true;
	case P_FSTYPE:
		if (!a->fstype)
			return false;
		sb_puts(raw, a->fstype);
		return true;
	case P_FLAGS:
		if (!av(e, EVENT_ARG_FLAGS))
			return false;
		sb_u64(raw, a->flags);
		sb_flags(res, e->type, a->flags);
		return true;
	case P_EXE_FLAGS: {
		uint32_t v;

		if (!p || !(p->valid & EVENT_PROC_EXE_FLAGS))
			return false;
		v = (p->exe_writable ? 1u : 0) | (p->exe_upper_layer ? 2u : 0) |
		    (p->exe_from_memfd ? 4u : 0) | (p->exe_lower_layer ? 8u : 0);
		sb_printf(raw, "%u", v);
		sb_bits(res, NAMES(exe_flag_names), v);
		return true;
	}
	case P_MODE_OCT:
		if (!av(e, EVENT_ARG_MODE))
			return false;
		sb_printf(raw, "0%o", a->mode);
		return true;
	case P_MODE_NAMES:
		if (!av(e, EVENT_ARG_MODE))
			return false;
		sb_printf(raw, "0%o", a->mode);
		sb_bits(res, NAMES(mode_names), a->mode);
		return true;
	case P_TUPLE:
		if (e->fd && (e->fd->valid & EVENT_FD_TUPLE)) {
			char t[PATH_MAX + 128];

			event_fd_format_tuple(&e->fd->client, &e->fd->server, t, sizeof(t));
			sb_puts(raw, t);
			return true;
		}
		/* the sockaddr argument alone */
		__attribute__((fallthrough));
	case P_ADDR:
		if (!av(e, EVENT_ARG_ADDR))
			return false;
		sb_sockaddr(raw, &a->sockaddr);
		return true;
	case P_REQUEST:
		if (!av(e, EVENT_ARG_REQUEST))
			return false;
		sb_printf(raw, "%llu", (unsigned long long)a->request);
		if ((s = value_name(NAMES(ptrace_names), a->request)))
			sb_puts(res, s);
		return true;
	case P_PID:
		if (!av(e, EVENT_ARG_PID))
			return false;
		sb_printf(raw, "%lld", (long long)a->pid);
		return true;
	case P_DOMAIN:
		if (!av(e, EVENT_ARG_DOMAIN))
			return false;
		sb_printf(raw, "%d", a->domain);
		if ((s = value_name(NAMES(af_names), (uint64_t)a->domain)))
			sb_puts(res, s);
		return true;
	case P_STYPE:
		if (!av(e, EVENT_ARG_DOMAIN))
			return false;
		sb_printf(raw, "%d", a->type);
		if ((s = value_name(NAMES(socktype_names), (uint64_t)(a->type & 0xf))))
			sb_puts(res, s);
		return true;
	case P_PROTO:
		if (!av(e, EVENT_ARG_DOMAIN))
			return false;
		sb_printf(raw, "%d", a->proto);
		return true;
	case P_UID:
	case P_EUID:
	case P_SUID: {
		uint32_t id = slot == P_UID ? a->uid : slot == P_EUID ? a->euid : a->suid;

		if (!av(e, EVENT_ARG_UID))
			return false;
		sb_printf(raw, "%u", id);
		if (p && (p->valid & EVENT_PROC_UID))
			sb_id_name(res, id, p->uid, p->user);
		return true;
	}
	case P_GID:
	case P_EGID:
	case P_SGID: {
		uint32_t id = slot == P_GID ? a->gid : slot == P_EGID ? a->egid : a->sgid;

		if (!av(e, EVENT_ARG_GID))
			return false;
		sb_printf(raw, "%u", id);
		if (p && (p->valid & EVENT_PROC_UID))
			sb_id_name(res, id, p->gid, p->group);
		return true;
	}
	case P_BPFCMD:
		if (!av(e, EVENT_ARG_CMD))
			return false;
		sb_printf(raw, "%lld", (long long)a->cmd);
		if ((s = value_name(NAMES(bpf_cmd_names), (uint64_t)a->cmd)))
			sb_puts(res, s);
		return true;
	case P_CMD:
		if (!av(e, EVENT_ARG_CMD))
			return false;
		sb_printf(raw, "%lld", (long long)a->cmd);
		return true;
	case P_NSTYPE:
		if (!av(e, EVENT_ARG_NSTYPE))
			return false;
		sb_printf(raw, "%lld", (long long)a->nstype);
		sb_bits(res, NAMES(nstype_names), (uint64_t)a->nstype);
		return true;
	case P_OLDFD:
		if (!av(e, EVENT_ARG_OLDFD))
			return false;
		sb_printf(raw, "%lld", (long long)a->oldfd);
		return true;
	case P_NEWFD:
		if (!av(e, EVENT_ARG_NEWFD))
			return false;
		sb_printf(raw, "%lld", (long long)a->newfd);
		return true;
	case P_SIG:
		if (!av(e, EVENT_ARG_SIG))
			return false;
		sb_printf(raw, "%d", a->sig);
		if (a->sig > 0 && (s = sigabbrev_np(a->sig)))
			sb_printf(res, "SIG%s", s);
		return true;
	case P_SIZE:
		if (!av(e, EVENT_ARG_SIZE))
			return false;
		sb_printf(raw, "%llu", (unsigned long long)a->size);
		return true;
	case P_BACKLOG:
		if (!av(e, EVENT_ARG_BACKLOG))
			return false;
		sb_printf(raw, "%u", a->backlog);
		return true;
	case P_DEV:
		if (!av(e, EVENT_ARG_DEV_INO))
			return false;
		sb_printf(raw, "%llx", (unsigned long long)a->dev);
		return true;
	case P_INO:
		if (!av(e, EVENT_ARG_DEV_INO))
			return false;
		sb_printf(raw, "%llu", (unsigned long long)a->ino);
		return true;
	case P_PTRACE_ADDR:
		if (!av(e, EVENT_ARG_DATA))
			return false;
		sb_printf(raw, "%llX", (unsigned long long)a->addr);
		return true;
	case P_PTRACE_DATA:
		if (!av(e, EVENT_ARG_DATA))
			return false;
		sb_printf(raw, "%llX", (unsigned long long)a->data);
		return true;
	case P_EXE:
		if (!p || !p->exe)
			return false;
		sb_puts(raw, p->exe);
		return true;
	case P_ARGS:
		if (!p || !p->args)
			return false;
		for (size_t i = 0; i < p->n_args; i++)
			sb_printf(raw, "%s%s", i ? "." : "", p->args[i]);
		return true;
	case P_TID:
		sb_printf(raw, "%lld", (long long)e->tid);
		return true;
	case P_PROCPID:
		if (!p || !(p->valid & EVENT_PROC_PID))
			return false;
		sb_printf(raw, "%lld", (long long)p->pid);
		return true;
	case P_PPID:
		if (!p || !(p->valid & EVENT_PROC_PPID))
			return false;
		sb_printf(raw, "%lld", (long long)p->ppid);
		return true;
	case P_CWD:
		if (!p || !p->cwd)
			return false;
		sb_puts(raw, p->cwd);
		return true;
	case P_COMM:
		if (!p || !p->name)
			return false;
		sb_puts(raw, p->name);
		return true;
	}
	return false;
}

/* evt.arg.NAME / evt.arg[N]: the resolved form when there is one, else the raw one. */
static bool arg_value(const struct syscall_event *e, const struct param *prm,
		      struct field_scratch *scratch, struct field_value *out)
{
	SBUF(raw, PATH_MAX + 256);
	SBUF(res, PATH_MAX + 256);

	if (!prm || !render_param(e, prm->slot, &raw, &res))
		return false;
	if (res.len)
		return ret_sb(scratch, out, &res);
	return ret_sb(scratch, out, &raw);
}

static bool parse_index(const struct field_arg *arg, int64_t *idx)
{
	char *end;
	long long v;

	if (!arg->present)
		return false;
	if (!arg->key) {
		*idx = arg->index;
		return true;
	}
	errno = 0;
	v = strtoll(arg->key, &end, 10);
	if (errno || end == arg->key || *end)
		return false;
	*idx = v;
	return true;
}

EXTRACTOR(x_evt_arg)
{
	const struct syscall_event *e = EV(event);
	int64_t idx;

	if (!arg->present || e->type >= SYSCALL_EVT__COUNT)
		return false;
	if (parse_index(arg, &idx)) {
		if (idx < 0 || idx >= type_params[e->type].n)
			return false;
		return arg_value(e, &type_params[e->type].p[idx], scratch, out);
	}
	return arg_value(e, param_by_name(e->type, arg->key, arg->key_len), scratch, out);
}

/* evt.args: "name=raw(resolved) name=raw ..." over the exit parameters, as Falco prints. */
EXTRACTOR(x_evt_args)
{
	const struct syscall_event *e = EV(event);
	const struct type_params *tp;
	SBUF(b, 2 * PATH_MAX);

	if (e->type >= SYSCALL_EVT__COUNT)
		return false;
	tp = &type_params[e->type];
	for (uint8_t i = 0; i < tp->n; i++) {
		SBUF(raw, PATH_MAX + 256);
		SBUF(res, PATH_MAX + 256);

		if (!render_param(e, tp->p[i].slot, &raw, &res))
			continue;
		sb_printf(&b, "%s%s=%s", b.len ? " " : "", tp->p[i].name, raw.p);
		if (res.len && strcmp(res.p, raw.p))
			sb_printf(&b, "(%s)", res.p);
	}
	return ret_sb(scratch, out, &b);
}

/* evt.arg.NAME as its own field: one tiny wrapper per parameter name. */
#define ARG_FIELD(n)                                                                           \
	EXTRACTOR(x_arg_##n)                                                                   \
	{                                                                                      \
		const struct syscall_event *e = EV(event);                                     \
		return arg_value(e, param_by_name(e->type, #n, sizeof(#n) - 1), scratch, out); \
	}

ARG_FIELD(fd)
ARG_FIELD(flags)
ARG_FIELD(name)
ARG_FIELD(mode)
ARG_FIELD(path)
ARG_FIELD(filename)
ARG_FIELD(pathname)
ARG_FIELD(target)
ARG_FIELD(linkpath)
ARG_FIELD(oldpath)
ARG_FIELD(newpath)
ARG_FIELD(request)
ARG_FIELD(pid)
ARG_FIELD(domain)
ARG_FIELD(type)
ARG_FIELD(proto)
ARG_FIELD(uid)
ARG_FIELD(gid)
ARG_FIELD(cmd)
ARG_FIELD(res)
ARG_FIELD(res_or_fd)
ARG_FIELD(status)
ARG_FIELD(tuple)
ARG_FIELD(addr)
ARG_FIELD(data)
ARG_FIELD(dirfd)
ARG_FIELD(olddirfd)
ARG_FIELD(newdirfd)
ARG_FIELD(linkdirfd)
ARG_FIELD(olddir)
ARG_FIELD(newdir)
ARG_FIELD(nstype)
ARG_FIELD(oldfd)
ARG_FIELD(newfd)
ARG_FIELD(sig)
ARG_FIELD(size)
ARG_FIELD(length)
ARG_FIELD(backlog)
ARG_FIELD(exe)
ARG_FIELD(args)
ARG_FIELD(cwd)
ARG_FIELD(dev)
ARG_FIELD(ino)
ARG_FIELD(uargs)
ARG_FIELD(dir)
ARG_FIELD(ruid)
ARG_FIELD(euid)
ARG_FIELD(suid)
ARG_FIELD(rgid)
ARG_FIELD(egid)
ARG_FIELD(sgid)
ARG_FIELD(option)

/* evt.rawarg.NAME: the raw value with its type. */
static bool rawarg(const struct syscall_event *e, const char *name, size_t len,
		   struct field_scratch *scratch, struct field_value *out)
{
	const struct param *prm = param_by_name(e->type, name, len);
	const struct event_args *a = &e->args;

	if (!prm)
		return false;
	switch (prm->slot) {
	case P_RES:
	case P_RES_FD:
	case P_RES_PID:
		return ret_int(out, e->res);
	case P_FD:
		return av(e, EVENT_ARG_FD) && ret_int(out, a->fd);
	case P_DIRFD:
		return av(e, EVENT_ARG_DIRFD) && ret_int(out, a->dirfd);
	case P_NEWDIRFD:
		return av(e, EVENT_ARG_NEWDIRFD) && ret_int(out, a->newdirfd);
	case P_FLAGS:
		return av(e, EVENT_ARG_FLAGS) && ret_uint(out, FIELD_UINT, a->flags);
	case P_EXE_FLAGS: {
		SBUF(raw, 32);
		SBUF(res, 128);

		if (!render_param(e, prm->slot, &raw, &res))
			return false;
		return ret_uint(out, FIELD_UINT, strtoull(raw.p, NULL, 10));
	}
	case P_MODE_OCT:
	case P_MODE_NAMES:
		return av(e, EVENT_ARG_MODE) && ret_uint(out, FIELD_UINT, a->mode);
	case P_REQUEST:
		return av(e, EVENT_ARG_REQUEST) && ret_uint(out, FIELD_UINT, a->request);
	case P_PID:
		return av(e, EVENT_ARG_PID) && ret_int(out, a->pid);
	case P_DOMAIN:
		return av(e, EVENT_ARG_DOMAIN) && ret_int(out, a->domain);
	case P_STYPE:
		return av(e, EVENT_ARG_DOMAIN) && ret_int(out, a->type);
	case P_PROTO:
		return av(e, EVENT_ARG_DOMAIN) && ret_int(out, a->proto);
	case P_UID:
		return av(e, EVENT_ARG_UID) && ret_uint(out, FIELD_UINT, a->uid);
	case P_GID:
		return av(e, EVENT_ARG_GID) && ret_uint(out, FIELD_UINT, a->gid);
	case P_BPFCMD:
	case P_CMD:
		return av(e, EVENT_ARG_CMD) && ret_int(out, a->cmd);
	case P_SIZE:
		return av(e, EVENT_ARG_SIZE) && ret_uint(out, FIELD_UINT, a->size);
	case P_SIG:
		return av(e, EVENT_ARG_SIG) && ret_int(out, a->sig);
	default: {
		SBUF(raw, PATH_MAX + 256);
		SBUF(res, PATH_MAX + 256);

		if (!render_param(e, prm->slot, &raw, &res))
			return false;
		return ret_sb(scratch, out, &raw);
	}
	}
}

EXTRACTOR(x_evt_rawarg)
{
	if (!arg->present || !arg->key)
		return false;
	return rawarg(EV(event), arg->key, arg->key_len, scratch, out);
}

#define RAWARG_FIELD(n)                                                     \
	EXTRACTOR(x_rawarg_##n)                                             \
	{                                                                   \
		return rawarg(EV(event), #n, sizeof(#n) - 1, scratch, out); \
	}

RAWARG_FIELD(res)
RAWARG_FIELD(fd)
RAWARG_FIELD(flags)
RAWARG_FIELD(mode)
RAWARG_FIELD(request)
RAWARG_FIELD(pid)
RAWARG_FIELD(domain)
RAWARG_FIELD(type)
RAWARG_FIELD(proto)
RAWARG_FIELD(uid)
RAWARG_FIELD(gid)
RAWARG_FIELD(cmd)
RAWARG_FIELD(size)
RAWARG_FIELD(sig)
RAWARG_FIELD(name)
RAWARG_FIELD(path)
RAWARG_FIELD(dirfd)

/* ---- evt.* ------------------------------------------------------------------------------ */

/* 0 means "not numbered": missing, so Falco's never_true macro (evt.num=0) stays false. */
EXTRACTOR(x_evt_num)
{
	uint64_t n = EV(event)->num;

	return n && ret_uint(out, FIELD_UINT, n);
}

EXTRACTOR(x_evt_time)
{
	return ret_uint(out, FIELD_ABSTIME, EV(event)->ts);
}

static void split_time(uint64_t ts, struct tm *tm, long *nsec)
{
	time_t secs = (time_t)(ts / 1000000000ull);

	*nsec = (long)(ts % 1000000000ull);
	localtime_r(&secs, tm);
}

EXTRACTOR(x_evt_time_s)
{
	struct tm tm;
	long ns;
	char b[32];
	int n;

	split_time(EV(event)->ts, &tm, &ns);
	n = snprintf(b, sizeof(b), "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	return ret_copy(scratch, out, b, (size_t)n);
}

EXTRACTOR(x_evt_datetime)
{
	struct tm tm;
	long ns;
	char b[64];
	int n;

	split_time(EV(event)->ts, &tm, &ns);
	n = snprintf(b, sizeof(b), "%04d-%02d-%02d %02d:%02d:%02d.%09ld", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
	return ret_copy(scratch, out, b, (size_t)n);
}

EXTRACTOR(x_evt_time_iso8601)
{
	uint64_t ts = EV(event)->ts;
	time_t secs = (time_t)(ts / 1000000000ull);
	struct tm tm;
	char b[64];
	int n;

	gmtime_r(&secs, &tm);
	n = snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (unsigned long long)(ts % 1000000000ull));
	return ret_copy(scratch, out, b, (size_t)n);
}

EXTRACTOR(x_evt_rawtime_s)
{
	return ret_uint(out, FIELD_UINT, EV(event)->ts / 1000000000ull);
}

EXTRACTOR(x_evt_rawtime_ns)
{
	return ret_uint(out, FIELD_UINT, EV(event)->ts % 1000000000ull);
}

EXTRACTOR(x_evt_type)
{
	unsigned t = EV(event)->type;

	if (t >= SYSCALL_EVT__COUNT)
		return false;
	return ret_str(out, syscall_event_type_names[t]);
}

EXTRACTOR(x_evt_dir)
{
	return ret_strn(out, "<", 1);
}

EXTRACTOR(x_evt_cpu)
{
	return ret_int(out, EV(event)->cpu);
}

EXTRACTOR(x_evt_source)
{
	return ret_strn(out, "syscall", 7);
}

EXTRACTOR(x_evt_res)
{
	const struct syscall_event *e = EV(event);
	const char *s;
	char b[24];
	int n;

	if (e->res >= 0)
		return ret_strn(out, "SUCCESS", 7);
	if ((s = errno_name(e->res)))
		return ret_str(out, s);
	n = snprintf(b, sizeof(b), "%lld", (long long)e->res);
	return ret_copy(scratch, out, b, (size_t)n);
}

EXTRACTOR(x_evt_rawres)
{
	return ret_int(out, EV(event)->res);
}

EXTRACTOR(x_evt_failed)
{
	return ret_bool(out, EV(event)->res < 0);
}

static bool is_open_type(unsigned t)
{
	return t == SYSCALL_EVT_OPEN || t == SYSCALL_EVT_OPENAT || t == SYSCALL_EVT_OPENAT2 ||
	       t == SYSCALL_EVT_OPEN_BY_HANDLE_AT;
}

EXTRACTOR(x_evt_is_open_read)
{
	const struct syscall_event *e = EV(event);
	unsigned acc = (unsigned)(e->args.flags & O_ACCMODE);

	if (!is_open_type(e->type) || !av(e, EVENT_ARG_FLAGS))
		return ret_bool(out, false);
	return ret_bool(out, acc == O_RDONLY || acc == O_RDWR);
}

EXTRACTOR(x_evt_is_open_write)
{
	const struct syscall_event *e = EV(event);
	unsigned acc = (unsigned)(e->args.flags & O_ACCMODE);

	if (!is_open_type(e->type) || !av(e, EVENT_ARG_FLAGS))
		return ret_bool(out, false);
	return ret_bool(out, acc == O_WRONLY || acc == O_RDWR);
}

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_name[256];

static void host_init(void)
{
	if (gethostname(host_name, sizeof(host_name) - 1))
		host_name[0] = 0;
}

EXTRACTOR(x_evt_hostname)
{
	pthread_once(&host_once, host_init);
	if (!host_name[0])
		return false;
	return ret_str(out, host_name);
}

/* ---- proc.* ----------------------------------------------------------------------------- */

#define PROC(ev) (EV(ev)->proc)

static bool pvalid(const struct event_process *p, uint32_t bit)
{
	return p && (p->valid & bit);
}

EXTRACTOR(x_proc_pid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_PID) && ret_int(out, p->pid);
}

EXTRACTOR(x_proc_ppid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_PPID) && ret_int(out, p->ppid);
}

EXTRACTOR(x_proc_vpid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_VPID) && ret_int(out, p->vpid);
}

EXTRACTOR(x_proc_sid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_SID) && ret_int(out, p->sid);
}

EXTRACTOR(x_proc_vpgid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_VPGID) && ret_int(out, p->vpgid);
}

EXTRACTOR(x_proc_tty)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_TTY) && ret_uint(out, FIELD_UINT, p->tty);
}

EXTRACTOR(x_proc_name)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->name);
}

EXTRACTOR(x_proc_exe)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->exe);
}

EXTRACTOR(x_proc_exepath)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->exepath);
}

EXTRACTOR(x_proc_cwd)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->cwd);
}

static void sb_args(struct sbuf *b, const struct event_process *p)
{
	for (size_t i = 0; i < p->n_args; i++) {
		if (i)
			sb_putn(b, " ", 1);
		sb_puts(b, p->args[i]);
	}
}

EXTRACTOR(x_proc_args)
{
	const struct event_process *p = PROC(event);
	SBUF(b, 8192);

	if (!p || !p->args)
		return false;
	if (p->n_args == 1)
		return ret_str(out, p->args[0]);
	sb_args(&b, p);
	return ret_sb(scratch, out, &b);
}

/* name + " " + args, Falco's proc.cmdline; `first` is proc.name or proc.exe. */
static bool cmdline(const struct event_process *p, const char *first, struct field_scratch *scratch,
		    struct field_value *out)
{
	SBUF(b, 8192);

	if (!p || !first)
		return false;
	if (!p->n_args)
		return ret_str(out, first);
	sb_puts(&b, first);
	sb_putn(&b, " ", 1);
	sb_args(&b, p);
	return ret_sb(scratch, out, &b);
}

EXTRACTOR(x_proc_cmdline)
{
	const struct event_process *p = PROC(event);

	return p && cmdline(p, p->name, scratch, out);
}

EXTRACTOR(x_proc_exeline)
{
	const struct event_process *p = PROC(event);

	return p && cmdline(p, p->exe, scratch, out);
}

EXTRACTOR(x_proc_cmdnargs)
{
	const struct event_process *p = PROC(event);

	return p && p->args && ret_uint(out, FIELD_UINT, p->n_args);
}

EXTRACTOR(x_proc_cmdlenargs)
{
	const struct event_process *p = PROC(event);
	uint64_t n = 0;

	if (!p || !p->args)
		return false;
	for (size_t i = 0; i < p->n_args; i++)
		n += strlen(p->args[i]);
	return ret_uint(out, FIELD_UINT, n);
}

EXTRACTOR(x_proc_env)
{
	const struct event_process *p = PROC(event);
	SBUF(b, 16384);

	if (!p || !p->env)
		return false;
	if (arg->present && arg->key) {
		for (size_t i = 0; i < p->n_env; i++) {
			const char *kv = p->env[i];

			if (!strncmp(kv, arg->key, arg->key_len) && kv[arg->key_len] == '=')
				return ret_str(out, kv + arg->key_len + 1);
		}
		return false;
	}
	for (size_t i = 0; i < p->n_env; i++) {
		if (i)
			sb_putn(&b, " ", 1);
		sb_puts(&b, p->env[i]);
	}
	return ret_sb(scratch, out, &b);
}

/* The ancestor n generations up: 0 is the process itself. NULL when the chain is shorter. */
static const struct event_process *ancestor(const struct event_process *p, int64_t n)
{
	if (n < 0)
		return NULL;
	while (p && n-- > 0)
		p = p->parent;
	return p;
}

/*
 * proc.aname[N] & co. With an index, the N-th ancestor (0 = the process, 1 = the parent).
 * Without one (FIELD_ANY_ANCESTOR), the engine iterates index 1, 2, ... itself until the
 * extractor returns false; called without an index anyway, these return the parent.
 */
static const struct event_process *ancestor_arg(const void *event, const struct field_arg *arg)
{
	int64_t n = 1;

	if (arg->present && !parse_index(arg, &n))
		return NULL;
	return ancestor(PROC(event), n);
}

EXTRACTOR(x_proc_pname)
{
	const struct event_process *p = ancestor(PROC(event), 1);

	return p && ret_str(out, p->name);
}

EXTRACTOR(x_proc_pexe)
{
	const struct event_process *p = ancestor(PROC(event), 1);

	return p && ret_str(out, p->exe);
}

EXTRACTOR(x_proc_pexepath)
{
	const struct event_process *p = ancestor(PROC(event), 1);

	return p && ret_str(out, p->exepath);
}

EXTRACTOR(x_proc_pcmdline)
{
	const struct event_process *p = ancestor(PROC(event), 1);

	return p && cmdline(p, p->name, scratch, out);
}

EXTRACTOR(x_proc_aname)
{
	const struct event_process *p = ancestor_arg(event, arg);

	return p && ret_str(out, p->name);
}

EXTRACTOR(x_proc_aexe)
{
	const struct event_process *p = ancestor_arg(event, arg);

	return p && ret_str(out, p->exe);
}

EXTRACTOR(x_proc_aexepath)
{
	const struct event_process *p = ancestor_arg(event, arg);

	return p && ret_str(out, p->exepath);
}

EXTRACTOR(x_proc_acmdline)
{
	const struct event_process *p = ancestor_arg(event, arg);

	return p && cmdline(p, p->name, scratch, out);
}

EXTRACTOR(x_proc_apid)
{
	const struct event_process *p = ancestor_arg(event, arg);

	return pvalid(p, EVENT_PROC_PID) && ret_int(out, p->pid);
}

/* The session leader: the eldest known ancestor (or self) in the same session. */
static const struct event_process *session_leader(const struct event_process *p)
{
	const struct event_process *lead = NULL;

	if (!pvalid(p, EVENT_PROC_SID))
		return NULL;
	for (const struct event_process *a = p; a; a = a->parent) {
		if (!pvalid(a, EVENT_PROC_SID) || a->sid != p->sid)
			break;
		lead = a;
		if (pvalid(a, EVENT_PROC_PID) && a->pid == p->sid)
			break;
	}
	return lead;
}

EXTRACTOR(x_proc_sname)
{
	const struct event_process *p = session_leader(PROC(event));

	return p && ret_str(out, p->name);
}

EXTRACTOR(x_proc_sid_exe)
{
	const struct event_process *p = session_leader(PROC(event));

	return p && ret_str(out, p->exe);
}

EXTRACTOR(x_proc_sid_exepath)
{
	const struct event_process *p = session_leader(PROC(event));

	return p && ret_str(out, p->exepath);
}

EXTRACTOR(x_proc_is_sid_leader)
{
	const struct event_process *p = PROC(event);

	if (!pvalid(p, EVENT_PROC_SID))
		return false;
	if (pvalid(p, EVENT_PROC_VPID))
		return ret_bool(out, p->sid == p->vpid);
	return pvalid(p, EVENT_PROC_PID) && ret_bool(out, p->sid == p->pid);
}

/* The process group leader in the chain (vpid == vpgid), self included. */
static const struct event_process *vpgid_leader(const struct event_process *p)
{
	if (!pvalid(p, EVENT_PROC_VPGID))
		return NULL;
	for (const struct event_process *a = p; a; a = a->parent)
		if (pvalid(a, EVENT_PROC_VPID) && a->vpid == p->vpgid)
			return a;
	return NULL;
}

EXTRACTOR(x_proc_vpgid_name)
{
	const struct event_process *p = vpgid_leader(PROC(event));

	return p && ret_str(out, p->name);
}

EXTRACTOR(x_proc_vpgid_exe)
{
	const struct event_process *p = vpgid_leader(PROC(event));

	return p && ret_str(out, p->exe);
}

EXTRACTOR(x_proc_vpgid_exepath)
{
	const struct event_process *p = vpgid_leader(PROC(event));

	return p && ret_str(out, p->exepath);
}

EXTRACTOR(x_proc_is_vpgid_leader)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_VPGID) && pvalid(p, EVENT_PROC_VPID) &&
	       ret_bool(out, p->vpid == p->vpgid);
}

static bool is_shell(const char *name)
{
	static const char *const shells[] = { "sh",   "bash", "zsh", "ksh",  "csh",
					      "tcsh", "dash", "ash", "fish", "mksh" };

	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		if (!strcmp(name, shells[i]))
			return true;
	return false;
}

EXTRACTOR(x_proc_loginshellid)
{
	const struct event_process *found = NULL;

	for (const struct event_process *a = PROC(event); a; a = a->parent)
		if (is_shell(a->name) && pvalid(a, EVENT_PROC_PID))
			found = a;
	return found && ret_int(out, found->pid);
}

EXTRACTOR(x_proc_duration)
{
	const struct event_process *p = PROC(event);
	uint64_t ts = EV(event)->ts;

	if (!pvalid(p, EVENT_PROC_START) || ts < p->start_ns)
		return false;
	return ret_uint(out, FIELD_RELTIME, ts - p->start_ns);
}

EXTRACTOR(x_proc_ppid_duration)
{
	const struct event_process *p = ancestor(PROC(event), 1);
	uint64_t ts = EV(event)->ts;

	if (!pvalid(p, EVENT_PROC_START) || ts < p->start_ns)
		return false;
	return ret_uint(out, FIELD_RELTIME, ts - p->start_ns);
}

EXTRACTOR(x_proc_start_ts)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_START) && ret_uint(out, FIELD_ABSTIME, p->start_ns);
}

#define PROC_BOOL(fn, member)                                                       \
	EXTRACTOR(fn)                                                               \
	{                                                                           \
		const struct event_process *p = PROC(event);                        \
		return pvalid(p, EVENT_PROC_EXE_FLAGS) && ret_bool(out, p->member); \
	}

PROC_BOOL(x_proc_is_exe_writable, exe_writable)
PROC_BOOL(x_proc_is_exe_upper_layer, exe_upper_layer)
PROC_BOOL(x_proc_is_exe_lower_layer, exe_lower_layer)
PROC_BOOL(x_proc_is_exe_from_memfd, exe_from_memfd)

EXTRACTOR(x_proc_exe_ino)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_EXE_INO) && ret_uint(out, FIELD_UINT, p->exe_ino);
}

EXTRACTOR(x_proc_exe_ino_ctime)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_EXE_INO) && ret_uint(out, FIELD_ABSTIME, p->exe_ctime_ns);
}

EXTRACTOR(x_proc_exe_ino_mtime)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_EXE_INO) && ret_uint(out, FIELD_ABSTIME, p->exe_mtime_ns);
}

EXTRACTOR(x_proc_exe_ino_ctime_duration_proc_start)
{
	const struct event_process *p = PROC(event);

	if (!pvalid(p, EVENT_PROC_EXE_INO) || !pvalid(p, EVENT_PROC_START) ||
	    p->start_ns < p->exe_ctime_ns)
		return false;
	return ret_uint(out, FIELD_RELTIME, p->start_ns - p->exe_ctime_ns);
}

/* ---- thread.* --------------------------------------------------------------------------- */

EXTRACTOR(x_thread_tid)
{
	return ret_int(out, EV(event)->tid);
}

EXTRACTOR(x_thread_vtid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_TID) && ret_int(out, p->vtid);
}

/*
 * Capabilities render as Falco does, CAP names separated by spaces, so `contains CAP_SYS_ADMIN`
 * is the substring test Falco performs.
 */
static bool caps(const void *event, int which, struct field_scratch *scratch,
		 struct field_value *out)
{
	const struct event_process *p = PROC(event);
	SBUF(b, 1024);

	if (!pvalid(p, EVENT_PROC_CAPS))
		return false;
	sb_caps(&b, which == 0 ? p->cap_effective :
		    which == 1 ? p->cap_permitted :
				 p->cap_inheritable);
	return ret_sb(scratch, out, &b);
}

EXTRACTOR(x_thread_cap_effective)
{
	return caps(event, 0, scratch, out);
}

EXTRACTOR(x_thread_cap_permitted)
{
	return caps(event, 1, scratch, out);
}

EXTRACTOR(x_thread_cap_inheritable)
{
	return caps(event, 2, scratch, out);
}

/* ---- user.* / group.* ------------------------------------------------------------------- */

EXTRACTOR(x_user_uid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_UID) && ret_uint(out, FIELD_UINT, p->uid);
}

EXTRACTOR(x_user_name)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->user);
}

EXTRACTOR(x_user_homedir)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->homedir);
}

EXTRACTOR(x_user_shell)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->shell);
}

/* Falco prints an unset loginuid (4294967295) as -1. */
EXTRACTOR(x_user_loginuid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_LOGINUID) && ret_int(out, (int32_t)p->loginuid);
}

EXTRACTOR(x_user_loginname)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->loginname);
}

EXTRACTOR(x_group_gid)
{
	const struct event_process *p = PROC(event);

	return pvalid(p, EVENT_PROC_UID) && ret_uint(out, FIELD_UINT, p->gid);
}

EXTRACTOR(x_group_name)
{
	const struct event_process *p = PROC(event);

	return p && ret_str(out, p->group);
}

/* ---- fd.* ------------------------------------------------------------------------------- */

#define FD(ev) (EV(ev)->fd)

static bool fdvalid(const struct event_fd *f, uint32_t bit)
{
	return f && (f->valid & bit);
}

static bool is_ip_fd(const struct event_fd *f)
{
	return f && (f->type == '4' || f->type == '6');
}

static bool is_file_fd(const struct event_fd *f)
{
	return f && f->type == 'f';
}

EXTRACTOR(x_fd_num)
{
	const struct event_fd *f = FD(event);

	return fdvalid(f, EVENT_FD_NUM) && ret_int(out, f->num);
}

EXTRACTOR(x_fd_typechar)
{
	const struct event_fd *f = FD(event);

	if (!f || !f->type)
		return false;
	return ret_strn(out, &f->type, 1);
}

static const char *fd_type_name(char c)
{
	switch (c) {
	case 'f':
		return "file";
	case 'd':
		return "directory";
	case '4':
		return "ipv4";
	case '6':
		return "ipv6";
	case 'u':
		return "unix";
	case 'p':
		return "pipe";
	case 'e':
		return "event";
	case 's':
		return "signalfd";
	case 'l':
		return "eventpoll";
	case 'i':
		return "inotify";
	case 't':
		return "timerfd";
	case 'n':
		return "netlink";
	case 'b':
		return "bpf";
	case 'r':
		return "userfaultfd";
	case 'c':
		return "io_uring";
	case 'o':
		return "unknown";
	default:
		return NULL;
	}
}

EXTRACTOR(x_fd_type)
{
	const struct event_fd *f = FD(event);

	return f && ret_str(out, fd_type_name(f->type));
}

EXTRACTOR(x_fd_name)
{
	const struct event_fd *f = FD(event);

	return f && ret_str(out, f->name);
}

EXTRACTOR(x_fd_nameraw)
{
	const struct event_fd *f = FD(event);

	return f && ret_str(out, f->nameraw);
}

/* fd.directory: a directory's own name, a file's containing directory. */
EXTRACTOR(x_fd_directory)
{
	const struct event_fd *f = FD(event);
	const char *slash;

	if (!f || !f->name)
		return false;
	if (f->type == 'd')
		return ret_str(out, f->name);
	if (!is_file_fd(f) || !(slash = strrchr(f->name, '/')))
		return false;
	if (slash == f->name)
		return ret_strn(out, "/", 1);
	return ret_strn(out, f->name, (size_t)(slash - f->name));
}

EXTRACTOR(x_fd_filename)
{
	const struct event_fd *f = FD(event);
	const char *slash;

	if (!is_file_fd(f) || !f->name)
		return false;
	slash = strrchr(f->name, '/');
	return ret_str(out, slash ? slash + 1 : f->name);
}

EXTRACTOR(x_fd_l4proto)
{
	const struct event_fd *f = FD(event);

	if (!is_ip_fd(f))
		return false;
	switch (f->l4proto) {
	case IPPROTO_TCP:
		return ret_strn(out, "tcp", 3);
	case IPPROTO_UDP:
		return ret_strn(out, "udp", 3);
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return ret_strn(out, "icmp", 4);
	case IPPROTO_RAW:
		return ret_strn(out, "raw", 3);
	default:
		return false;
	}
}

EXTRACTOR(x_fd_sockfamily)
{
	const struct event_fd *f = FD(event);

	if (is_ip_fd(f))
		return ret_strn(out, "ip", 2);
	if (f && f->type == 'u')
		return ret_strn(out, "unix", 4);
	return false;
}

EXTRACTOR(x_fd_connected)
{
	const struct event_fd *f = FD(event);

	return fdvalid(f, EVENT_FD_CONNECTED) && ret_bool(out, f->connected);
}

EXTRACTOR(x_fd_name_changed)
{
	const struct event_fd *f = FD(event);

	return f && ret_bool(out, f->name_changed);
}

EXTRACTOR(x_fd_is_server)
{
	const struct event_fd *f = FD(event);

	return fdvalid(f, EVENT_FD_ROLE) && ret_bool(out, f->is_server);
}

EXTRACTOR(x_fd_dev)
{
	const struct event_fd *f = FD(event);

	return fdvalid(f, EVENT_FD_INO) && ret_uint(out, FIELD_UINT, f->dev);
}

EXTRACTOR(x_fd_ino)
{
	const struct event_fd *f = FD(event);

	return fdvalid(f, EVENT_FD_INO) && ret_uint(out, FIELD_UINT, f->ino);
}

/* Socket ends: 'c' client, 's' server, 'l' local, 'r' remote. */
static const struct event_sockaddr *fd_end(const void *event, char which)
{
	const struct event_fd *f = FD(event);
	const struct event_sockaddr *a;

	if (!is_ip_fd(f) || !fdvalid(f, EVENT_FD_TUPLE))
		return NULL;
	if (which == 'l' || which == 'r') {
		if (!fdvalid(f, EVENT_FD_ROLE))
			return NULL;
		which = ((which == 'l') == f->is_server) ? 's' : 'c';
	}
	a = which == 'c' ? &f->client : &f->server;
	if (a->family != AF_INET && a->family != AF_INET6)
		return NULL;
	return a;
}

static bool ret_ip(struct field_value *out, enum field_type t, const struct event_sockaddr *a)
{
	if (!a)
		return false;
	out->type = t;
	memset(&out->ip, 0, sizeof(out->ip));
	out->ip.family = a->family == AF_INET ? 4 : 6;
	out->ip.prefix = a->family == AF_INET ? 32 : 128;
	memcpy(out->ip.addr, a->addr, a->family == AF_INET ? 4 : 16);
	return true;
}

static bool ret_port(struct field_value *out, const struct event_sockaddr *a)
{
	return a && ret_uint(out, FIELD_PORT, a->port);
}

/*
 * fd.ip, fd.port, fd.net match either end in Falco (`=`: client or server; `!=`: neither).
 * They are FIELD_ANY_ANCESTOR fields over the two ends: index 1 the server, index 2 the client;
 * without an index, the server end (the remote one of an outbound connection).
 */
static const struct event_sockaddr *fd_either(const void *event, const struct field_arg *arg)
{
	int64_t n = 1;

	if (arg->present && !parse_index(arg, &n))
		return NULL;
	if (n == 1)
		return fd_end(event, 's');
	if (n == 2)
		return fd_end(event, 'c');
	return NULL;
}

EXTRACTOR(x_fd_ip)
{
	return ret_ip(out, FIELD_IPADDR, fd_either(event, arg));
}

EXTRACTOR(x_fd_net)
{
	return ret_ip(out, FIELD_IPNET, fd_either(event, arg));
}

EXTRACTOR(x_fd_port)
{
	return ret_port(out, fd_either(event, arg));
}

#define FD_END_FIELDS(c)                                                \
	EXTRACTOR(x_fd_##c##ip)                                         \
	{                                                               \
		return ret_ip(out, FIELD_IPADDR, fd_end(event, #c[0])); \
	}                                                               \
	EXTRACTOR(x_fd_##c##net)                                        \
	{                                                               \
		return ret_ip(out, FIELD_IPNET, fd_end(event, #c[0]));  \
	}                                                               \
	EXTRACTOR(x_fd_##c##port)                                       \
	{                                                               \
		return ret_port(out, fd_end(event, #c[0]));             \
	}

FD_END_FIELDS(c)
FD_END_FIELDS(s)
FD_END_FIELDS(l)
FD_END_FIELDS(r)

/* lanner resolves no DNS names: fd.*ip.name are always missing. */
EXTRACTOR(x_fd_ip_name)
{
	return false;
}

/* ---- container.* / k8s.* ---------------------------------------------------------------- */

#define CT(ev) (EV(ev)->container)
#define K8S(ev) (EV(ev)->k8s)

#define CT_STR(fn, member)                                   \
	EXTRACTOR(fn)                                        \
	{                                                    \
		const struct event_container *c = CT(event); \
		return c && ret_str(out, c->member);         \
	}

CT_STR(x_container_id, id)
CT_STR(x_container_full_id, full_id)
CT_STR(x_container_name, name)
CT_STR(x_container_type, type)
CT_STR(x_container_image, image)
CT_STR(x_container_image_repository, image_repository)
CT_STR(x_container_image_tag, image_tag)
CT_STR(x_container_image_digest, image_digest)

EXTRACTOR(x_container_privileged)
{
	const struct event_container *c = CT(event);

	return c && c->privileged >= 0 && ret_bool(out, c->privileged);
}

EXTRACTOR(x_container_start_ts)
{
	const struct event_container *c = CT(event);

	return c && c->start_ns && ret_uint(out, FIELD_ABSTIME, c->start_ns);
}

EXTRACTOR(x_container_duration)
{
	const struct event_container *c = CT(event);
	uint64_t ts = EV(event)->ts;

	return c && c->start_ns && ts >= c->start_ns &&
	       ret_uint(out, FIELD_RELTIME, ts - c->start_ns);
}

#define K8S_STR(fn, member)                             \
	EXTRACTOR(fn)                                   \
	{                                               \
		const struct event_k8s *k = K8S(event); \
		return k && ret_str(out, k->member);    \
	}

K8S_STR(x_k8s_pod_name, pod_name)
K8S_STR(x_k8s_ns_name, ns_name)
K8S_STR(x_k8s_pod_uid, pod_uid)

EXTRACTOR(x_k8s_pod_label)
{
	const struct event_k8s *k = K8S(event);

	if (!k || !arg->present || !arg->key)
		return false;
	for (size_t i = 0; i < k->n_labels; i++)
		if (strlen(k->label_keys[i]) == arg->key_len &&
		    !memcmp(k->label_keys[i], arg->key, arg->key_len))
			return ret_str(out, k->label_values[i]);
	return false;
}

/* k8s.pod.labels: a list of "key:value". */
EXTRACTOR(x_k8s_pod_labels)
{
	const struct event_k8s *k = K8S(event);
	const char **v;
	size_t *lens;

	if (!k || !k->label_keys)
		return false;
	v = field_scratch_alloc(scratch, sizeof(*v) * (k->n_labels + 1));
	lens = field_scratch_alloc(scratch, sizeof(*lens) * (k->n_labels + 1));
	if (!v || !lens)
		return false;
	for (size_t i = 0; i < k->n_labels; i++) {
		size_t kl = strlen(k->label_keys[i]), vl = strlen(k->label_values[i]);
		char *s = field_scratch_alloc(scratch, kl + vl + 2);

		if (!s)
			return false;
		memcpy(s, k->label_keys[i], kl);
		s[kl] = ':';
		memcpy(s + kl + 1, k->label_values[i], vl + 1);
		v[i] = s;
		lens[i] = kl + vl + 1;
	}
	out->type = FIELD_LIST;
	out->list.v = v;
	out->list.lens = lens;
	out->list.n = k->n_labels;
	return true;
}

/* ---- the table -------------------------------------------------------------------------- */

#define F(n, t, fl, d, x)            \
	{                            \
		n, t, fl, d, x, NULL \
	}
#define S FIELD_STRING
#define I FIELD_INT
#define U FIELD_UINT
#define B FIELD_BOOL
#define IDX (FIELD_ARG_INDEX | FIELD_ARG_REQUIRED)
#define ANC (FIELD_ARG_INDEX | FIELD_ANY_ANCESTOR)
#define KEY (FIELD_ARG_KEY | FIELD_ARG_REQUIRED)

#define ARG_DEF(n, d) F("evt.arg." #n, S, FIELD_COSTLY, d, x_arg_##n)
#define RAWARG_DEF(n, t, d) F("evt.rawarg." #n, t, 0, d, x_rawarg_##n)

static const struct field_def syscall_fields[] = {
	/* evt.* */
	F("evt.num", U, 0, "event sequence number", x_evt_num),
	F("evt.time", FIELD_ABSTIME, 0, "event timestamp (ns since the epoch)", x_evt_time),
	F("evt.time.s", S, 0, "event time as HH:MM:SS (local time)", x_evt_time_s),
	F("evt.time.iso8601", S, 0, "event time in ISO 8601 UTC with nanoseconds",
	  x_evt_time_iso8601),
	F("evt.datetime", S, 0, "event date and time, YYYY-MM-DD HH:MM:SS.ns (local time)",
	  x_evt_datetime),
	F("evt.rawtime", FIELD_ABSTIME, 0, "event timestamp in ns since the epoch", x_evt_time),
	F("evt.rawtime.s", U, 0, "seconds part of the event timestamp", x_evt_rawtime_s),
	F("evt.rawtime.ns", U, 0, "nanoseconds part of the event timestamp", x_evt_rawtime_ns),
	F("evt.type", S, 0, "event type: the syscall name (openat, execve, ...)", x_evt_type),
	F("evt.dir", S, 0, "event direction; lanner sees exits only: always '<'", x_evt_dir),
	F("evt.cpu", I, 0, "CPU the event happened on", x_evt_cpu),
	F("evt.source", S, 0, "event source name: syscall", x_evt_source),
	F("evt.hostname", S, 0, "host name of the machine the event came from", x_evt_hostname),
	F("evt.res", S, 0, "return value as a string: SUCCESS or the errno name (ENOENT)",
	  x_evt_res),
	F("evt.rawres", I, 0, "return value as a number (negative errno on failure)", x_evt_rawres),
	F("evt.failed", B, 0, "true when the syscall returned an error", x_evt_failed),
	F("evt.is_open_read", B, 0, "open* event with read access (O_RDONLY or O_RDWR)",
	  x_evt_is_open_read),
	F("evt.is_open_write", B, 0, "open* event with write access (O_WRONLY or O_RDWR)",
	  x_evt_is_open_write),
	F("evt.args", S, FIELD_COSTLY, "all event arguments as name=value pairs", x_evt_args),
	F("evt.arg", S, FIELD_ARG_INDEX | FIELD_ARG_KEY | FIELD_ARG_REQUIRED | FIELD_COSTLY,
	  "one argument by position (evt.arg[0]) or name (evt.arg[name]), rendered", x_evt_arg),
	F("evt.rawarg", S, KEY, "one argument by name, raw", x_evt_rawarg),
	/*
	 * Flags render as Falco renders them, names joined by '|' ("O_WRONLY|O_CREAT|O_TRUNC"),
	 * and `contains O_TRUNC` is the substring test Falco performs on that text. A numeric
	 * FIELD_FLAGS_VALUE would print numbers where Falco's outputs print names
	 * (exe_flags=%evt.arg.flags), so this is a string.
	 */
	ARG_DEF(flags, "flags argument by name (O_*, AT_*, MFD_*, CLONE_*, ...; execve: EXE_*)"),
	ARG_DEF(fd, "fd argument (or returned fd), with <type>name when resolved"),
	ARG_DEF(name, "name/path argument of open*, creat, unlinkat, memfd_create"),
	ARG_DEF(mode, "mode argument (octal, or S_I* names for chmod)"),
	ARG_DEF(path, "path argument (chdir, mkdir, rmdir, unlink, ...)"),
	ARG_DEF(filename, "filename argument (execve, chmod, fchmodat)"),
	ARG_DEF(pathname, "pathname argument (execveat, fchownat)"),
	ARG_DEF(target, "symlink target"),
	ARG_DEF(linkpath, "symlink path created"),
	ARG_DEF(oldpath, "link/rename source path"),
	ARG_DEF(newpath, "link/rename destination path"),
	ARG_DEF(request, "ptrace request (PTRACE_ATTACH, ...)"),
	ARG_DEF(pid, "target pid (ptrace, kill)"),
	ARG_DEF(domain, "socket domain (AF_INET, AF_PACKET, ...)"),
	ARG_DEF(type, "socket type"),
	ARG_DEF(proto, "socket protocol"),
	ARG_DEF(uid, "uid argument (setuid, chown)"),
	ARG_DEF(gid, "gid argument (setgid, chown)"),
	ARG_DEF(cmd, "command argument (bpf cmd, fcntl cmd)"),
	ARG_DEF(res, "return value argument"),
	ARG_DEF(res_or_fd, "bpf return value or fd"),
	ARG_DEF(status, "exit status (procexit)"),
	ARG_DEF(tuple, "socket tuple cip:cport->sip:sport"),
	ARG_DEF(addr, "socket address argument (connect, bind) or ptrace addr"),
	ARG_DEF(data, "ptrace data"),
	ARG_DEF(dirfd, "directory fd of *at syscalls"),
	ARG_DEF(olddirfd, "old directory fd (renameat)"),
	ARG_DEF(newdirfd, "new directory fd (renameat)"),
	ARG_DEF(linkdirfd, "directory fd of symlinkat"),
	ARG_DEF(olddir, "old directory fd (linkat)"),
	ARG_DEF(newdir, "new directory fd (linkat)"),
	ARG_DEF(nstype, "namespace type (setns)"),
	ARG_DEF(oldfd, "old fd (dup*)"),
	ARG_DEF(newfd, "new fd (dup2, dup3)"),
	ARG_DEF(sig, "signal (kill, procexit)"),
	ARG_DEF(size, "size argument (read, write, sendto)"),
	ARG_DEF(length, "length argument (init_module, mmap)"),
	ARG_DEF(backlog, "listen backlog"),
	ARG_DEF(exe, "executable (execve, clone)"),
	ARG_DEF(args, "arguments (execve, clone)"),
	ARG_DEF(cwd, "working directory (execve, clone)"),
	ARG_DEF(dev, "device (open) or mount source"),
	ARG_DEF(ino, "inode number (open)"),
	ARG_DEF(uargs, "module parameters (init_module, finit_module)"),
	ARG_DEF(dir, "mount point (mount)"),
	ARG_DEF(ruid, "real uid (setreuid, setresuid)"),
	ARG_DEF(euid, "effective uid (setreuid, setresuid)"),
	ARG_DEF(suid, "saved uid (setresuid)"),
	ARG_DEF(rgid, "real gid (setregid, setresgid)"),
	ARG_DEF(egid, "effective gid (setregid, setresgid)"),
	ARG_DEF(sgid, "saved gid (setresgid)"),
	ARG_DEF(option, "prctl option"),
	RAWARG_DEF(res, I, "raw return value"),
	RAWARG_DEF(fd, I, "raw fd argument"),
	RAWARG_DEF(flags, U, "raw flags argument"),
	RAWARG_DEF(mode, U, "raw mode argument"),
	RAWARG_DEF(request, U, "raw ptrace request"),
	RAWARG_DEF(pid, I, "raw pid argument"),
	RAWARG_DEF(domain, I, "raw socket domain"),
	RAWARG_DEF(type, I, "raw socket type"),
	RAWARG_DEF(proto, I, "raw socket protocol"),
	RAWARG_DEF(uid, U, "raw uid argument"),
	RAWARG_DEF(gid, U, "raw gid argument"),
	RAWARG_DEF(cmd, I, "raw command argument"),
	RAWARG_DEF(size, U, "raw size argument"),
	RAWARG_DEF(sig, I, "raw signal number"),
	RAWARG_DEF(name, S, "raw name argument (not resolved)"),
	RAWARG_DEF(path, S, "raw path argument (not resolved)"),
	RAWARG_DEF(dirfd, I, "raw directory fd"),

	/* proc.* */
	F("proc.pid", I, 0, "id of the process generating the event", x_proc_pid),
	F("proc.ppid", I, 0, "pid of the parent process", x_proc_ppid),
	F("proc.vpid", I, 0, "pid as seen from its own pid namespace", x_proc_vpid),
	F("proc.sid", I, 0, "session id", x_proc_sid),
	F("proc.vpgid", I, 0, "process group id as seen from its pid namespace", x_proc_vpgid),
	F("proc.name", S, 0, "name of the executable (comm)", x_proc_name),
	F("proc.exe", S, 0, "first command-line argument (argv[0])", x_proc_exe),
	F("proc.exepath", S, 0, "full path of the executable", x_proc_exepath),
	F("proc.args", S, FIELD_COSTLY, "command-line arguments, space separated", x_proc_args),
	F("proc.cmdline", S, FIELD_COSTLY, "name plus arguments", x_proc_cmdline),
	F("proc.exeline", S, 0, "exe (argv[0]) plus arguments", x_proc_exeline),
	F("proc.cmdnargs", U, 0, "number of command-line arguments", x_proc_cmdnargs),
	F("proc.cmdlenargs", U, 0, "total length of the command-line arguments", x_proc_cmdlenargs),
	F("proc.env", S, FIELD_ARG_KEY | FIELD_COSTLY,
	  "environment (KEY=VALUE ...), or one variable: proc.env[KEY]", x_proc_env),
	F("proc.cwd", S, 0, "current working directory", x_proc_cwd),
	F("proc.tty", U, 0, "controlling terminal (0 when none)", x_proc_tty),
	F("proc.pname", S, 0, "name of the parent process", x_proc_pname),
	F("proc.pexe", S, 0, "argv[0] of the parent process", x_proc_pexe),
	F("proc.pexepath", S, 0, "executable path of the parent process", x_proc_pexepath),
	F("proc.pcmdline", S, FIELD_COSTLY, "command line of the parent process", x_proc_pcmdline),
	F("proc.aname", S, ANC,
	  "name of an ancestor: proc.aname[1] parent, [2] grandparent; without index any ancestor",
	  x_proc_aname),
	F("proc.aexe", S, ANC, "argv[0] of an ancestor (index as proc.aname)", x_proc_aexe),
	F("proc.aexepath", S, ANC, "executable path of an ancestor (index as proc.aname)",
	  x_proc_aexepath),
	F("proc.acmdline", S, ANC, "command line of an ancestor (index as proc.aname)",
	  x_proc_acmdline),
	F("proc.apid", I, ANC, "pid of an ancestor (index as proc.aname)", x_proc_apid),
	F("proc.sname", S, 0, "name of the session leader", x_proc_sname),
	F("proc.sid.exe", S, 0, "argv[0] of the session leader", x_proc_sid_exe),
	F("proc.sid.exepath", S, 0, "executable path of the session leader", x_proc_sid_exepath),
	F("proc.is_sid_leader", B, 0, "the process leads its session", x_proc_is_sid_leader),
	F("proc.vpgid.name", S, 0, "name of the process group leader", x_proc_vpgid_name),
	F("proc.vpgid.exe", S, 0, "argv[0] of the process group leader", x_proc_vpgid_exe),
	F("proc.vpgid.exepath", S, 0, "executable path of the process group leader",
	  x_proc_vpgid_exepath),
	F("proc.is_vpgid_leader", B, 0, "the process leads its process group",
	  x_proc_is_vpgid_leader),
	F("proc.loginshellid", I, 0, "pid of the eldest shell among the process and its ancestors",
	  x_proc_loginshellid),
	F("proc.duration", FIELD_RELTIME, 0, "ns since the process started", x_proc_duration),
	F("proc.ppid.duration", FIELD_RELTIME, 0, "ns since the parent process started",
	  x_proc_ppid_duration),
	F("proc.pid.ts", FIELD_ABSTIME, 0, "start time of the process", x_proc_start_ts),
	F("proc.is_exe_writable", B, 0, "the executable is writable by the process's user",
	  x_proc_is_exe_writable),
	F("proc.is_exe_upper_layer", B, 0, "the executable is on an overlayfs upper layer",
	  x_proc_is_exe_upper_layer),
	F("proc.is_exe_lower_layer", B, 0, "the executable is on an overlayfs lower layer",
	  x_proc_is_exe_lower_layer),
	F("proc.is_exe_from_memfd", B, 0, "the executable is a memfd (fileless execution)",
	  x_proc_is_exe_from_memfd),
	F("proc.exe_ino", U, 0, "inode number of the executable", x_proc_exe_ino),
	F("proc.exe_ino.ctime", FIELD_ABSTIME, 0, "ctime of the executable's inode",
	  x_proc_exe_ino_ctime),
	F("proc.exe_ino.mtime", FIELD_ABSTIME, 0, "mtime of the executable's inode",
	  x_proc_exe_ino_mtime),
	F("proc.exe_ino.ctime_duration_proc_start", FIELD_RELTIME, 0,
	  "ns between the executable's ctime and the process start",
	  x_proc_exe_ino_ctime_duration_proc_start),

	/* thread.* */
	F("thread.tid", I, 0, "id of the thread generating the event", x_thread_tid),
	F("thread.vtid", I, 0, "thread id in its pid namespace", x_thread_vtid),
	F("thread.cap_effective", S, 0, "effective capabilities (CAP_* names)",
	  x_thread_cap_effective),
	F("thread.cap_permitted", S, 0, "permitted capabilities (CAP_* names)",
	  x_thread_cap_permitted),
	F("thread.cap_inheritable", S, 0, "inheritable capabilities (CAP_* names)",
	  x_thread_cap_inheritable),

	/* user.* / group.* */
	F("user.uid", U, 0, "user id", x_user_uid),
	F("user.name", S, 0, "user name", x_user_name),
	F("user.homedir", S, 0, "home directory of the user", x_user_homedir),
	F("user.shell", S, 0, "login shell of the user", x_user_shell),
	F("user.loginuid", I, 0, "audit login uid (-1 when unset)", x_user_loginuid),
	F("user.loginname", S, 0, "name of the audit login user", x_user_loginname),
	F("group.gid", U, 0, "group id", x_group_gid),
	F("group.name", S, 0, "group name", x_group_name),

	/* fd.* */
	F("fd.num", I, 0, "fd number", x_fd_num),
	F("fd.type", S, 0, "fd type: file, directory, ipv4, ipv6, unix, pipe, ...", x_fd_type),
	F("fd.typechar", S, 0, "fd type as one character: f d 4 6 u p e s l i t n ...",
	  x_fd_typechar),
	F("fd.name", S, 0, "full path of a file, or the connection tuple of a socket", x_fd_name),
	F("fd.nameraw", S, 0, "the name as the program passed it, before resolution", x_fd_nameraw),
	F("fd.directory", S, 0, "directory of a file fd (a directory fd's own path)",
	  x_fd_directory),
	F("fd.filename", S, 0, "file name without the directory", x_fd_filename),
	F("fd.l4proto", S, 0, "IP protocol: tcp, udp, icmp, raw", x_fd_l4proto),
	F("fd.sockfamily", S, 0, "socket family: ip or unix", x_fd_sockfamily),
	F("fd.is_server", B, 0, "the process is the server end of the connection", x_fd_is_server),
	F("fd.connected", B, 0, "the socket is connected", x_fd_connected),
	F("fd.name_changed", B, 0, "the fd name changed (connected UDP, bind)", x_fd_name_changed),
	F("fd.dev", U, 0, "device number of the file", x_fd_dev),
	F("fd.ino", U, 0, "inode number of the file", x_fd_ino),
	F("fd.ip", FIELD_IPADDR, FIELD_ANY_ANCESTOR,
	  "IP of either end (= matches client or server)", x_fd_ip),
	F("fd.net", FIELD_IPNET, FIELD_ANY_ANCESTOR, "network of either end (fd.net = 10.0.0.0/8)",
	  x_fd_net),
	F("fd.port", FIELD_PORT, FIELD_ANY_ANCESTOR, "port of either end", x_fd_port),
	F("fd.cip", FIELD_IPADDR, 0, "client IP", x_fd_cip),
	F("fd.sip", FIELD_IPADDR, 0, "server IP", x_fd_sip),
	F("fd.lip", FIELD_IPADDR, 0, "local IP", x_fd_lip),
	F("fd.rip", FIELD_IPADDR, 0, "remote IP", x_fd_rip),
	F("fd.cnet", FIELD_IPNET, 0, "client network", x_fd_cnet),
	F("fd.snet", FIELD_IPNET, 0, "server network", x_fd_snet),
	F("fd.lnet", FIELD_IPNET, 0, "local network", x_fd_lnet),
	F("fd.rnet", FIELD_IPNET, 0, "remote network", x_fd_rnet),
	F("fd.cport", FIELD_PORT, 0, "client port", x_fd_cport),
	F("fd.sport", FIELD_PORT, 0, "server port", x_fd_sport),
	F("fd.lport", FIELD_PORT, 0, "local port", x_fd_lport),
	F("fd.rport", FIELD_PORT, 0, "remote port", x_fd_rport),
	F("fd.cip.name", S, 0, "domain name of the client IP (lanner: never resolved)",
	  x_fd_ip_name),
	F("fd.sip.name", S, 0, "domain name of the server IP (lanner: never resolved)",
	  x_fd_ip_name),
	F("fd.lip.name", S, 0, "domain name of the local IP (lanner: never resolved)",
	  x_fd_ip_name),
	F("fd.rip.name", S, 0, "domain name of the remote IP (lanner: never resolved)",
	  x_fd_ip_name),

	/* container.* */
	F("container.id", S, 0, "container id (12 hex digits), or host", x_container_id),
	F("container.full_id", S, 0, "full container id", x_container_full_id),
	F("container.name", S, 0, "container name", x_container_name),
	F("container.type", S, 0, "container runtime: docker, containerd, cri-o, podman",
	  x_container_type),
	F("container.image", S, 0, "container image as the runtime reports it", x_container_image),
	F("container.image.repository", S, 0, "image repository", x_container_image_repository),
	F("container.image.tag", S, 0, "image tag", x_container_image_tag),
	F("container.image.digest", S, 0, "image digest", x_container_image_digest),
	F("container.privileged", B, 0, "the container runs privileged", x_container_privileged),
	F("container.start_ts", FIELD_ABSTIME, 0, "container start time", x_container_start_ts),
	F("container.duration", FIELD_RELTIME, 0, "ns since the container started",
	  x_container_duration),

	/* k8s.* */
	F("k8s.pod.name", S, 0, "Kubernetes pod name", x_k8s_pod_name),
	F("k8s.ns.name", S, 0, "Kubernetes namespace", x_k8s_ns_name),
	F("k8s.pod.uid", S, 0, "Kubernetes pod uid", x_k8s_pod_uid),
	F("k8s.pod.id", S, 0, "Kubernetes pod uid (alias of k8s.pod.uid)", x_k8s_pod_uid),
	F("k8s.pod.label", S, KEY, "one pod label: k8s.pod.label[app]", x_k8s_pod_label),
	F("k8s.pod.labels", FIELD_LIST, 0, "pod labels as key:value", x_k8s_pod_labels),
};

static unsigned event_type_of(const void *event)
{
	return EV(event)->type;
}

const struct field_source syscall_field_source = {
	.name = "syscall",
	.fields = syscall_fields,
	.n_fields = sizeof(syscall_fields) / sizeof(syscall_fields[0]),
	.event_type_names = syscall_event_type_names,
	.n_event_types = SYSCALL_EVT__COUNT,
	.type_field = "evt.type",
	.event_type = event_type_of,
	.time_field = "evt.time",
};
