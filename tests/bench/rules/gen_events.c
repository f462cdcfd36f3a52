// SPDX-License-Identifier: Apache-2.0
/*
 * Writes a recorded mix of syscall events (JSON lines, detector/event_json.h) for the rules
 * benchmark: a node running web servers, databases, Python and Java services in pods, shells,
 * cron jobs and system daemons. Mostly benign, as production traffic is: library and config
 * opens, /proc reads, connects and sends, execs of common tools, forks; a small share touches
 * what rules look for (/etc/shadow, shells in containers, writes below /etc, ...).
 *
 *   bench_rules_gen [-n EVENTS] [-s SEED] OUT.jsonl      (default 1000000 events, seed 1)
 *
 * Deterministic for a seed. See bench_rules.c for running the benchmark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "detector/event_json.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: fast and reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct app {
	const char *name, *exepath;
	const char *const *args;
	size_t n_args;
	const char *cwd, *user;
	uint32_t uid;
	bool in_container;
	const char *image_repo, *image_tag, *ns;
};

static const char *const a_nginx[] = { "-g", "daemon off;" };
static const char *const a_py[] = { "/app/server.py", "--port", "8080" };
static const char *const a_java[] = { "-Xmx512m", "-jar", "/opt/app/service.jar" };
static const char *const a_pg[] = { "-D", "/var/lib/postgresql/data" };
static const char *const a_node[] = { "/srv/index.js" };
static const char *const a_redis[] = { "*:6379" };
static const char *const a_cron[] = { "-f" };
static const char *const a_sshd[] = { "-D" };
static const char *const a_kubelet[] = { "--config=/var/lib/kubelet/config.yaml" };
static const char *const a_containerd[] = { "" };
static const char *const a_bash[] = { "" };

static const struct app apps[] = {
	{ "nginx", "/usr/sbin/nginx", a_nginx, 2, "/", "www-data", 33, true,
	  "docker.io/library/nginx", "1.25", "shop" },
	{ "python3", "/usr/local/bin/python3.12", a_py, 3, "/app/", "app", 1000, true,
	  "ghcr.io/acme/api", "v2.3.1", "shop" },
	{ "java", "/opt/java/openjdk/bin/java", a_java, 3, "/opt/app/", "app", 1000, true,
	  "registry.acme.io/billing", "2024.11", "billing" },
	{ "postgres", "/usr/lib/postgresql/16/bin/postgres", a_pg, 2, "/var/lib/postgresql/",
	  "postgres", 999, true, "docker.io/library/postgres", "16", "data" },
	{ "node", "/usr/local/bin/node", a_node, 1, "/srv/", "node", 1000, true,
	  "docker.io/library/node", "20-alpine", "web" },
	{ "redis-server", "/usr/local/bin/redis-server", a_redis, 1, "/data/", "redis", 999, true,
	  "docker.io/library/redis", "7", "data" },
	{ "cron", "/usr/sbin/cron", a_cron, 1, "/", "root", 0, false, NULL, NULL, NULL },
	{ "sshd", "/usr/sbin/sshd", a_sshd, 1, "/", "root", 0, false, NULL, NULL, NULL },
	{ "kubelet", "/usr/bin/kubelet", a_kubelet, 1, "/", "root", 0, false, NULL, NULL, NULL },
	{ "containerd", "/usr/bin/containerd", a_containerd, 0, "/", "root", 0, false, NULL, NULL,
	  NULL },
	{ "bash", "/usr/bin/bash", a_bash, 0, "/root/", "root", 0, false, NULL, NULL, NULL },
};

/* Tools that apps and shells exec. */
struct tool {
	const char *name, *path, *args[4];
	size_t n_args;
};

static const struct tool tools[] = {
	{ "ls", "/usr/bin/ls", { "-la" }, 1 },
	{ "cat", "/usr/bin/cat", { "/etc/os-release" }, 1 },
	{ "grep", "/usr/bin/grep", { "-r", "TODO", "." }, 3 },
	{ "sh", "/bin/sh", { "-c", "date" }, 2 },
	{ "curl", "/usr/bin/curl", { "-s", "http://10.96.0.10:8080/healthz" }, 2 },
	{ "ps", "/usr/bin/ps", { "aux" }, 1 },
	{ "date", "/usr/bin/date", { "+%s" }, 1 },
	{ "find", "/usr/bin/find", { "/tmp", "-mtime", "+7" }, 3 },
	{ "tar", "/usr/bin/tar", { "czf", "/backup/db.tgz", "/var/lib/db" }, 3 },
	{ "git", "/usr/bin/git", { "pull" }, 1 },
	{ "bash", "/usr/bin/bash", { "" }, 0 },
	{ "python3", "/usr/bin/python3", { "-c", "print(1)" }, 2 },
};

static const char *const read_paths[] = {
	"/etc/ld.so.cache",
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
	"/usr/lib/x86_64-linux-gnu/libssl.so.3",
	"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
	"/usr/lib/x86_64-linux-gnu/libz.so.1",
	"/etc/nsswitch.conf",
	"/etc/passwd",
	"/etc/group",
	"/etc/hosts",
	"/etc/resolv.conf",
	"/etc/localtime",
	"/proc/self/stat",
	"/proc/self/status",
	"/proc/meminfo",
	"/proc/stat",
	"/sys/fs/cgroup/cpu.max",
	"/app/templates/index.html",
	"/srv/node_modules/express/index.js",
	"/opt/app/config/application.yaml",
	"/var/lib/postgresql/data/base/16384/2619",
	"/usr/share/zoneinfo/UTC",
	"/etc/ssl/certs/ca-certificates.crt",
	"/root/.bashrc",
	"/home/alice/.profile",
	"/var/lib/kubelet/pods/3f2a/volumes/kubernetes.io~secret/token",
	"/etc/shadow", /* the occasional alert */
};

static const char *const write_paths[] = {
	"/var/log/nginx/access.log",
	"/tmp/tmp.XXa81kd",
	"/var/lib/postgresql/data/pg_wal/000000010000000000000001",
	"/app/cache/session.db",
	"/data/dump.rdb",
	"/var/log/syslog",
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json",
	"/root/.bash_history",
	"/etc/cron.d/backup", /* writes below /etc: rules care */
};

static const char *const remote_ips[] = { "10.96.0.1",	  "10.96.0.10",	  "10.244.1.23",
					  "10.244.2.7",	  "172.17.0.3",	  "93.184.216.34",
					  "140.82.114.4", "151.101.1.69", "169.254.169.254",
					  "192.168.1.20", "198.51.100.7" };
static const uint16_t remote_ports[] = { 443, 80, 5432, 6379, 8080, 53, 9092, 22 };

/* The process table of the recorded node. */
#define N_PROCS 256

static struct event_process procs[N_PROCS];
static struct event_container containers[8];
static struct event_k8s pods[8];
static char names[N_PROCS][8][64]; /* per-process string storage: container ids etc. */
static const struct event_container *proc_ctr[N_PROCS];
static const struct event_k8s *proc_pod[N_PROCS];
static struct event_container host = { .id = "host", .privileged = -1 };
static const char *const pod_label_keys[] = { "app", "pod-template-hash" };
static const char *pod_label_values[8][2];

static const uint64_t T0 = 1746622234000000000ull;

static void build_world(void)
{
	static struct event_process systemd, shim;

	systemd = (struct event_process){ .valid = EVENT_PROC_PID | EVENT_PROC_SID,
					  .pid = 1,
					  .sid = 1,
					  .name = "systemd",
					  .exe = "/sbin/init",
					  .exepath = "/usr/lib/systemd/systemd" };
	shim = (struct event_process){ .valid = EVENT_PROC_PID | EVENT_PROC_PPID | EVENT_PROC_SID,
				       .pid = 900,
				       .ppid = 1,
				       .sid = 900,
				       .name = "containerd-shim",
				       .exe = "/usr/bin/containerd-shim-runc-v2",
				       .exepath = "/usr/bin/containerd-shim-runc-v2",
				       .parent = &systemd };
	for (int c = 0; c < 8; c++) {
		const struct app *a = &apps[c % 6];

		snprintf(names[c][0], 64, "%012llx",
			 (unsigned long long)(rnd() & 0xffffffffffffull));
		snprintf(names[c][1], 64, "%s:%s", a->image_repo, a->image_tag);
		snprintf(names[c][2], 64, "%s-%llx-%04x", a->name,
			 (unsigned long long)(rnd() & 0xffffff), pick(0x10000));
		snprintf(names[c][3], 64, "%08x-%04x-4%03x-8%03x-%012llx", pick(~0u), pick(0x10000),
			 pick(0x1000), pick(0x1000),
			 (unsigned long long)(rnd() & 0xffffffffffffull));
		containers[c] = (struct event_container){
			.id = names[c][0],
			.name = a->name,
			.type = "containerd",
			.image = names[c][1],
			.image_repository = a->image_repo,
			.image_tag = a->image_tag,
			.privileged = c == 7,
			.start_ns = T0 - 86400000000000ull,
		};
		pod_label_values[c][0] = a->name;
		pod_label_values[c][1] = "7d9f8c6b5";
		pods[c] = (struct event_k8s){ .pod_name = names[c][2],
					      .ns_name = a->ns,
					      .pod_uid = names[c][3],
					      .label_keys = pod_label_keys,
					      .label_values = pod_label_values[c],
					      .n_labels = 2 };
	}
	/* long-running apps first, then their children (tools, shells) */
	for (int i = 0; i < N_PROCS; i++) {
		struct event_process *p = &procs[i];
		bool child = i >= 64;
		const struct app *a = &apps[child ? pick(N(apps)) : (unsigned)i % N(apps)];
		const struct tool *t = child ? &tools[pick(N(tools))] : NULL;
		int ctr = a->in_container ? i % 8 : -1;

		*p = (struct event_process){
			.valid = EVENT_PROC_PID | EVENT_PROC_PPID | EVENT_PROC_VPID |
				 EVENT_PROC_SID | EVENT_PROC_TTY | EVENT_PROC_UID |
				 EVENT_PROC_LOGINUID | EVENT_PROC_CAPS | EVENT_PROC_START |
				 EVENT_PROC_EXE_FLAGS,
			.pid = 1000 + i,
			.vpid = a->in_container ? 1 + i % 50 : 1000 + i,
			.sid = 1000 + i,
			.name = t ? t->name : a->name,
			.exe = t ? t->name : a->name,
			.exepath = t ? t->path : a->exepath,
			.args = t ? t->args : a->args,
			.n_args = t ? t->n_args : a->n_args,
			.cwd = a->cwd,
			.tty = t && !strcmp(t->name, "bash") && pick(4) == 0 ? 34816 : 0,
			.uid = a->uid,
			.gid = a->uid,
			.euid = a->uid,
			.egid = a->uid,
			.loginuid = a->in_container ? UINT32_MAX : 1000,
			.user = a->user,
			.group = a->user,
			.cap_effective = a->uid ? 0 : 0x1ffffffffffull,
			.cap_permitted = a->uid ? 0 : 0x1ffffffffffull,
			.start_ns = T0 - (child ? 2000000000ull : 3600000000000ull),
			.exe_lower_layer = a->in_container,
		};
		if (child) {
			const struct event_process *parent = &procs[pick(64)];

			p->parent = parent;
			p->ppid = parent->pid;
			p->sid = parent->sid;
			p->cwd = parent->cwd;
			p->user = parent->user;
			p->uid = p->gid = p->euid = p->egid = parent->uid;
			ctr = parent->vpid != parent->pid ? (int)(parent - procs) % 8 : -1;
		} else {
			p->parent = a->in_container ? &shim : &systemd;
			p->ppid = p->parent->pid;
		}
		proc_ctr[i] = ctr >= 0 ? &containers[ctr] : &host;
		proc_pod[i] = ctr >= 0 ? &pods[ctr] : NULL;
	}
}

static void set_ip(struct event_sockaddr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->port = port;
	inet_pton(AF_INET, ip, a->addr);
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000;
	char tuple[128];
	FILE *f;
	int c;

	rng_state = 1;
	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10) | 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-n EVENTS] [-s SEED] OUT.jsonl\n", argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-n EVENTS] [-s SEED] OUT.jsonl\n", argv[0]);
		return 2;
	}
	f = fopen(argv[optind], "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	build_world();
	for (unsigned long i = 0; i < n; i++) {
		unsigned r = pick(1000), pi = pick(N_PROCS);
		struct event_process *p;

		/* network traffic comes from the long-running workloads, seldom from host daemons */
		if (r >= 560 && r < 800) {
			pi = pick(64);
			while (proc_ctr[pi] == &host && pick(20))
				pi = pick(64);
		}
		p = &procs[pi];
		struct syscall_event e = { .num = i + 1,
					   .ts = T0 + i * 1000,
					   .cpu = (uint16_t)pick(4),
					   .tid = p->pid,
					   .proc = p,
					   .container = proc_ctr[pi],
					   .k8s = proc_pod[pi] };
		struct event_fd fd = { .valid = EVENT_FD_NUM };

		if (r < 450) { /* open / openat reads */
			const char *path = read_paths[pick(N(read_paths))];

			e.type = r < 50 ? SYSCALL_EVT_OPEN : SYSCALL_EVT_OPENAT;
			if (pick(100) == 0 && strcmp(path, "/etc/shadow"))
				path = "/etc/shadow";
			else if (!strcmp(path, "/etc/shadow") && pick(20))
				path = "/etc/passwd";
			e.res = pick(20) ? (int64_t)(3 + pick(60)) : -2;
			e.args.valid = EVENT_ARG_FLAGS | EVENT_ARG_DIRFD | EVENT_ARG_MODE;
			e.args.dirfd = AT_FDCWD;
			e.args.name = path;
			e.args.flags = O_RDONLY | O_CLOEXEC;
			fd.num = e.res >= 0 ? e.res : -1;
			fd.type = 'f';
			fd.name = path;
			e.fd = &fd;
		} else if (r < 560) { /* writes */
			/* the last two (shell history, cron.d) are what rules look for: rarer */
			const char *path =
				write_paths[pick(pick(50) ? N(write_paths) - 2 : N(write_paths))];

			e.type = SYSCALL_EVT_OPENAT;
			e.res = 3 + pick(60);
			e.args.valid = EVENT_ARG_FLAGS | EVENT_ARG_DIRFD | EVENT_ARG_MODE;
			e.args.dirfd = AT_FDCWD;
			e.args.name = path;
			e.args.flags = O_WRONLY | O_CREAT | (pick(4) ? O_APPEND : O_TRUNC);
			e.args.mode = 0644;
			fd.num = e.res;
			fd.type = 'f';
			fd.name = path;
			e.fd = &fd;
		} else if (r < 660) { /* connects */
			const char *ip = remote_ips[pick(N(remote_ips))];
			uint16_t port = remote_ports[pick(N(remote_ports))];

			e.type = SYSCALL_EVT_CONNECT;
			e.res = pick(10) ? 0 : -115;
			e.args.valid = EVENT_ARG_FD | EVENT_ARG_ADDR;
			e.args.fd = 5 + pick(20);
			set_ip(&e.args.sockaddr, ip, port);
			fd.valid |= EVENT_FD_TUPLE | EVENT_FD_ROLE | EVENT_FD_CONNECTED;
			fd.num = e.args.fd;
			fd.type = '4';
			fd.l4proto = port == 53 ? IPPROTO_UDP : IPPROTO_TCP;
			set_ip(&fd.client, "10.244.1.17", (uint16_t)(32768 + pick(28000)));
			fd.server = e.args.sockaddr;
			fd.connected = true;
			event_fd_format_tuple(&fd.client, &fd.server, tuple, sizeof(tuple));
			fd.name = tuple;
			e.fd = &fd;
		} else if (r < 760) { /* sendto / sendmsg on connected sockets */
			e.type = pick(2) ? SYSCALL_EVT_SENDTO : SYSCALL_EVT_SENDMSG;
			e.res = 64 + pick(1400);
			e.args.valid = EVENT_ARG_FD | EVENT_ARG_SIZE;
			e.args.fd = 5 + pick(20);
			e.args.size = (uint64_t)e.res;
			fd.valid |= EVENT_FD_TUPLE | EVENT_FD_ROLE | EVENT_FD_CONNECTED;
			fd.num = e.args.fd;
			fd.type = '4';
			fd.l4proto = IPPROTO_TCP;
			set_ip(&fd.client, "10.244.1.17", (uint16_t)(32768 + pick(28000)));
			set_ip(&fd.server, remote_ips[pick(5)],
			       remote_ports[pick(N(remote_ports))]);
			fd.connected = true;
			event_fd_format_tuple(&fd.client, &fd.server, tuple, sizeof(tuple));
			fd.name = tuple;
			e.fd = &fd;
		} else if (r < 800) { /* accepts */
			e.type = pick(2) ? SYSCALL_EVT_ACCEPT4 : SYSCALL_EVT_ACCEPT;
			e.res = 10 + pick(100);
			fd.valid |= EVENT_FD_TUPLE | EVENT_FD_ROLE | EVENT_FD_CONNECTED;
			fd.num = e.res;
			fd.type = '4';
			fd.l4proto = IPPROTO_TCP;
			set_ip(&fd.client, remote_ips[pick(N(remote_ips))],
			       (uint16_t)(32768 + pick(28000)));
			set_ip(&fd.server, "10.244.1.17", 8080);
			fd.is_server = true;
			fd.connected = true;
			event_fd_format_tuple(&fd.client, &fd.server, tuple, sizeof(tuple));
			fd.name = tuple;
			e.fd = &fd;
		} else if (r < 860) { /* exec */
			e.type = pick(20) ? SYSCALL_EVT_EXECVE : SYSCALL_EVT_EXECVEAT;
			e.res = 0;
			e.args.path = p->exepath;
		} else if (r < 900) { /* fork / clone */
			e.type = pick(2) ? SYSCALL_EVT_CLONE : SYSCALL_EVT_CLONE3;
			e.res = 20000 + pick(10000);
			e.args.valid = EVENT_ARG_FLAGS;
			e.args.flags =
				0x1200011; /* CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD */
		} else if (r < 930) { /* socket */
			e.type = SYSCALL_EVT_SOCKET;
			e.res = 5 + pick(20);
			e.args.valid = EVENT_ARG_DOMAIN;
			e.args.domain = pick(5) ? AF_INET : AF_UNIX;
			e.args.type = SOCK_STREAM;
			fd.num = e.res;
			fd.type = e.args.domain == AF_INET ? '4' : 'u';
			e.fd = &fd;
		} else if (r < 955) { /* dup2 */
			e.type = SYSCALL_EVT_DUP2;
			e.res = pick(3);
			e.args.valid = EVENT_ARG_OLDFD | EVENT_ARG_NEWFD;
			e.args.oldfd = 5 + pick(10);
			e.args.newfd = e.res;
			fd.num = e.res;
			fd.type = pick(3) ? 'p' : '4';
			e.fd = &fd;
		} else if (r < 975) { /* unlink / rename / chmod */
			e.type = pick(3) == 0 ? SYSCALL_EVT_UNLINKAT :
				 pick(2) == 0 ? SYSCALL_EVT_RENAMEAT2 :
						SYSCALL_EVT_FCHMODAT;
			e.res = 0;
			e.args.valid = EVENT_ARG_DIRFD | EVENT_ARG_MODE;
			e.args.dirfd = AT_FDCWD;
			e.args.name = "/tmp/tmp.XXa81kd";
			e.args.path = "/tmp/tmp.XXa81kd";
			e.args.oldpath = "/tmp/tmp.XXa81kd";
			e.args.newpath = "/tmp/out.json";
			e.args.mode = 0644;
		} else if (r < 985) { /* setuid family */
			e.type = SYSCALL_EVT_SETUID;
			e.res = 0;
			e.args.valid = EVENT_ARG_UID;
			e.args.uid = e.args.euid = e.args.suid = 33;
		} else if (r < 990) { /* ptrace / bpf / module: rare */
			e.type = pick(3) == 0 ? SYSCALL_EVT_PTRACE :
				 pick(2) == 0 ? SYSCALL_EVT_BPF :
						SYSCALL_EVT_FINIT_MODULE;
			e.res = 0;
			e.args.valid = EVENT_ARG_REQUEST | EVENT_ARG_PID | EVENT_ARG_CMD |
				       EVENT_ARG_FD;
			e.args.request = 16;
			e.args.pid = 1234;
			e.args.cmd = 5;
			e.args.fd = 3;
		} else { /* close, the commonest state syscall */
			e.type = SYSCALL_EVT_CLOSE;
			e.res = 0;
			e.args.valid = EVENT_ARG_FD;
			e.args.fd = 3 + pick(60);
		}
		if (event_json_fwrite(&e, f)) {
			fprintf(stderr, "%s: write failed\n", argv[optind]);
			fclose(f);
			return 1;
		}
	}
	if (fclose(f)) {
		fprintf(stderr, "%s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	return 0;
}
