// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config/log.h"
#include "detector/decode.h"
#include "detector/detector.h"
#include "detector/event_json.h"
#include "detector/podmeta.h"
#include "detector/probe.h"
#include "detector/proctable.h"

#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif

struct detector {
	struct detector_opts o;

	/* start / command hand-shake (gateway thread <-> detector thread) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started; /* the thread finished starting (ok or not) */
	int start_err;
	char err[256];
	bool stop_req;
	const struct rules *pending_rules;
	bool rules_pending;
	int rules_err;

	/* detector thread */
	uv_loop_t loop;
	uv_async_t cmd;
	uv_timer_t tick;
	struct probe *probe;
	struct proctable *procs;
	const struct rules *rules;
	struct rules_eval *eval;
	int src;
	int64_t b2e;
	uint64_t num;
	FILE *capture;
	struct event_writer *capw; /* writes to capture, each process once */
	uint64_t last_drops, last_overflows;
	uint64_t last_internal_ms;
	bool have_internal;
	struct event_fd fdtmp;
	uv_check_t check;
	struct seq_sample *smp; /* MAX_SAMPLES, see on_check */
	size_t n_smp;
	uint64_t next_release; /* boot ns, see RELEASE_EVERY_NS */
	size_t merge_k; /* seq_time's place in smp during a merge */
	uint64_t merge_now;
	char path[LANNER_PATH_MAX];
	char tuple[LANNER_PATH_MAX];

	/* hand-off queue to the gateway loop */
	pthread_mutex_t qlock;
	struct alert **q;
	size_t qcap, qhead, qlen;
	uv_async_t to_gw;

	/* statistics, written by the detector thread */
	_Atomic uint64_t events, alerts, overflows, bad, internal, capture_errors, procs_now,
		proc_overflows, syscalls, loader_bad;
	_Atomic uint64_t drops[LANNER_DROP_MAX];
	_Atomic uint64_t kstats[LANNER_STAT_MAX]; /* enum lanner_stat */
	_Atomic bool fast_reads;
};

/* ---- hand-off queue ------------------------------------------------------------------- */

static void queue_push(struct detector *d, struct alert *a)
{
	bool ok = false;

	pthread_mutex_lock(&d->qlock);
	if (d->qlen < d->qcap) {
		d->q[(d->qhead + d->qlen) % d->qcap] = a;
		d->qlen++;
		ok = true;
	}
	pthread_mutex_unlock(&d->qlock);
	if (!ok) {
		atomic_fetch_add(&d->overflows, 1);
		alert_unref(a);
		return;
	}
	atomic_fetch_add(&d->alerts, 1);
	uv_async_send(&d->to_gw);
}

/* Gateway loop: hand everything queued to submit. */
static void drain_queue(struct detector *d)
{
	for (;;) {
		struct alert *batch[64];
		size_t n = 0;

		pthread_mutex_lock(&d->qlock);
		while (n < 64 && d->qlen) {
			batch[n++] = d->q[d->qhead];
			d->qhead = (d->qhead + 1) % d->qcap;
			d->qlen--;
		}
		pthread_mutex_unlock(&d->qlock);
		if (!n)
			return;
		for (size_t i = 0; i < n; i++)
			d->o.submit(d->o.submit_ctx, batch[i]);
	}
}

static void on_to_gw(uv_async_t *h)
{
	drain_queue(h->data);
}

/* ---- alerts --------------------------------------------------------------------------- */

static json_t *tags_of(const struct rule *rule)
{
	json_t *tags = json_array();

	for (size_t i = 0; tags && i < rule_tag_count(rule); i++) {
		if (json_array_append_new(tags, json_string(rule_tag(rule, i)))) {
			json_decref(tags);
			return NULL;
		}
	}
	return tags;
}

static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	struct detector *d = ctx;
	const struct syscall_event *e = event;
	struct alert_init init = { 0 };
	char *text = NULL, *output = NULL;
	json_t *fields = NULL;
	struct alert *a;

	if (rules_format(d->eval, rule, event, &text, &fields))
		return;
	output = alert_compose_output((int64_t)e->ts, rule_priority(rule), text);
	if (!output)
		goto out;
	init.rule = rule_name(rule);
	init.priority = rule_priority(rule);
	init.source = "syscall";
	init.output = output;
	init.time_ns = (int64_t)e->ts;
	init.output_fields = fields; /* stolen */
	init.tags = tags_of(rule); /* stolen */
	fields = NULL;
	a = alert_new(&init);
	if (a)
		queue_push(d, a);
out:
	json_decref(fields);
	free(output);
	free(text);
}

static void internal_alert(struct detector *d, uint64_t drops, uint64_t overflows)
{
	struct alert_init init = { 0 };
	char text[256], *output;
	json_t *fields;
	struct alert *a;
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(text, sizeof(text),
		 "Detector dropped events (kernel_drops=%llu queue_overflows=%llu)",
		 (unsigned long long)drops, (unsigned long long)overflows);
	output = alert_compose_output(now, PRIORITY_WARNING, text);
	fields = json_pack("{s:I,s:I}", "lanner.kernel_drops", (json_int_t)drops,
			   "lanner.queue_overflows", (json_int_t)overflows);
	if (!output || !fields) {
		free(output);
		json_decref(fields);
		return;
	}
	init.rule = "Detector dropped events";
	init.priority = PRIORITY_WARNING;
	init.source = "internal";
	init.output = output;
	init.time_ns = now;
	init.output_fields = fields;
	init.tags = json_pack("[s]", "lanner");
	a = alert_new(&init);
	free(output);
	if (a) {
		atomic_fetch_add(&d->internal, 1);
		queue_push(d, a);
	}
}

/* ---- fd tracking ---------------------------------------------------------------------- */

static struct event_fd *fd_of(struct detector *d, struct proc_entry *e, int64_t num)
{
	struct event_fd *f;

	(void)d;
	if (num < 0)
		return NULL;
	f = fdtable_get(e->fds, num);
	if (!f && !e->exited)
		f = fdtable_learn(e->fds, (int)e->p.pid, num);
	return f;
}

/* Resolves an open's path against its dirfd or the cwd into d->path; NULL when unknown. */
static const char *resolve_at(struct detector *d, struct proc_entry *e, const struct event_args *a,
			      const char *path)
{
	const char *base = e->p.cwd;

	if (!path)
		return NULL;
	if (path[0] != '/' && (a->valid & EVENT_ARG_DIRFD) && a->dirfd != AT_FDCWD) {
		struct event_fd *dir = fd_of(d, e, a->dirfd);

		base = dir ? dir->name : NULL;
	}
	return fd_path_resolve(base, path, d->path, sizeof(d->path)) >= 0 ? d->path : NULL;
}

static char sock_typechar(int family)
{
	switch (family) {
	case AF_INET:
		return '4';
	case AF_INET6:
		return '6';
	case AF_UNIX:
		return 'u';
	case AF_NETLINK:
		return 'n';
	default:
		return 'o';
	}
}

/* The socket's ends from the record's kernel tuple (and the syscall's address argument). */
static void update_socket(struct detector *d, struct proc_entry *e, int64_t num,
			  const struct lanner_rec *rec, size_t size, const struct syscall_event *ev,
			  bool local_is_server, bool connected)
{
	struct event_fd *f = fd_of(d, e, num), copy;
	struct event_sockaddr client = { 0 }, server = { 0 };
	struct lanner_sock_tuple t;
	const void *p;
	size_t len = 0;
	bool have = false;

	if (!f)
		return;
	p = decode_blob(rec, size, LANNER_B_TUPLE, &len, NULL);
	if (p && len >= sizeof(t)) {
		memcpy(&t, p, sizeof(t));
		decode_tuple(&t, local_is_server, &client, &server);
		have = client.family == AF_INET || client.family == AF_INET6;
		if (t.protocol)
			f->l4proto = (uint8_t)t.protocol;
		f->type = sock_typechar(t.family);
	}
	/* the address argument names the peer even when the kernel already reset it */
	if ((ev->args.valid & EVENT_ARG_ADDR) && !local_is_server) {
		if (ev->args.sockaddr.family == AF_UNIX) {
			f->type = 'u';
			copy = *f;
			copy.server = ev->args.sockaddr;
			copy.client = (struct event_sockaddr){ 0 };
			copy.name = ev->args.sockaddr.path;
			copy.connected = connected;
			copy.valid |= EVENT_FD_CONNECTED;
			fdtable_set(e->fds, num, &copy, false);
			return;
		}
		server = ev->args.sockaddr;
		if (!have) {
			client = (struct event_sockaddr){ .family = server.family };
			have = true;
		}
	}
	if (!have)
		return;
	f->client = client;
	f->server = server;
	f->client.path = f->server.path = NULL;
	f->is_server = local_is_server;
	if (connected)
		f->connected = true;
	f->valid |= EVENT_FD_TUPLE | EVENT_FD_ROLE | EVENT_FD_CONNECTED;
	if (f->name)
		f->name_changed = true;
	event_fd_format_tuple(&client, &server, d->tuple, sizeof(d->tuple));
	fdtable_rename(e->fds, num, d->tuple);
}

/*
 * Table updates an event makes before the rules see it, and ev->fd. Returns the fd to close
 * after evaluation, or -1.
 */
static int64_t track_fds(struct detector *d, struct proc_entry *e, const struct lanner_rec *rec,
			 size_t size, struct syscall_event *ev)
{
	const struct event_args *a = &ev->args;
	struct event_fd tmpl, *f = NULL;
	const char *name;
	int64_t res = ev->res;

	decode_zero(&tmpl, sizeof(tmpl));
	switch (ev->type) {
	case SYSCALL_EVT_OPEN:
	case SYSCALL_EVT_OPENAT:
	case SYSCALL_EVT_OPENAT2:
	case SYSCALL_EVT_CREAT:
		name = resolve_at(d, e, a, a->name);
		tmpl.type = (a->flags & O_DIRECTORY) ? 'd' : 'f';
		tmpl.name = name;
		if (a->valid & EVENT_ARG_DEV_INO) {
			tmpl.dev = a->dev;
			tmpl.ino = a->ino;
			tmpl.valid |= EVENT_FD_INO;
		}
		if (res >= 0) {
			f = fdtable_set(e->fds, res, &tmpl, a->flags & O_CLOEXEC);
			if (f) {
				d->fdtmp = *f;
				d->fdtmp.nameraw = a->name;
				ev->fd = &d->fdtmp;
			}
		} else {
			/* a failed open: fd.num -1 and the path it tried */
			d->fdtmp = tmpl;
			d->fdtmp.num = -1;
			d->fdtmp.valid |= EVENT_FD_NUM;
			d->fdtmp.nameraw = a->name;
			ev->fd = &d->fdtmp;
		}
		return -1;
	case SYSCALL_EVT_OPEN_BY_HANDLE_AT:
		if (res >= 0 && !e->exited)
			ev->fd = fdtable_learn(e->fds, (int)e->p.pid, res);
		return -1;
	case SYSCALL_EVT_MEMFD_CREATE:
		if (res >= 0) {
			snprintf(d->path, sizeof(d->path), "memfd:%s", a->name ? a->name : "");
			tmpl.type = 'f';
			tmpl.is_memfd = true;
			tmpl.name = d->path;
			ev->fd = fdtable_set(e->fds, res, &tmpl, a->flags & 1 /* MFD_CLOEXEC */);
		}
		return -1;
	case SYSCALL_EVT_SOCKET:
		if (res >= 0) {
			int st = a->type & 0xf;

			tmpl.type = sock_typechar(a->domain);
			if (a->domain == AF_INET || a->domain == AF_INET6)
				tmpl.l4proto = st == SOCK_STREAM ? IPPROTO_TCP :
					       st == SOCK_DGRAM	 ? IPPROTO_UDP :
					       a->proto		 ? (uint8_t)a->proto :
								   IPPROTO_RAW;
			ev->fd = fdtable_set(e->fds, res, &tmpl, a->type & SOCK_CLOEXEC);
		}
		return -1;
	case SYSCALL_EVT_DUP:
	case SYSCALL_EVT_DUP2:
	case SYSCALL_EVT_DUP3:
		if (res >= 0) {
			if (fdtable_dup(e->fds, a->oldfd, res,
					ev->type == SYSCALL_EVT_DUP3 && (a->flags & O_CLOEXEC)) ==
			    -ENOENT) {
				fd_of(d, e, a->oldfd);
				fdtable_dup(e->fds, a->oldfd, res, false);
			}
			ev->fd = fdtable_get(e->fds, res);
		}
		return -1;
	case SYSCALL_EVT_FCNTL:
		if (res >= 0 && (a->cmd == F_DUPFD || a->cmd == F_DUPFD_CLOEXEC)) {
			fd_of(d, e, a->fd);
			fdtable_dup(e->fds, a->fd, res, a->cmd == F_DUPFD_CLOEXEC);
		}
		ev->fd = fd_of(d, e, a->fd);
		return -1;
	case SYSCALL_EVT_CONNECT:
		update_socket(d, e, a->fd, rec, size, ev, false, res == 0 || res == -EINPROGRESS);
		ev->fd = fd_of(d, e, a->fd);
		return -1;
	case SYSCALL_EVT_ACCEPT:
	case SYSCALL_EVT_ACCEPT4:
		if (res >= 0) {
			tmpl.type = 'o';
			fdtable_set(e->fds, res, &tmpl,
				    ev->type == SYSCALL_EVT_ACCEPT4 && (a->flags & SOCK_CLOEXEC));
			update_socket(d, e, res, rec, size, ev, true, true);
			ev->fd = fdtable_get(e->fds, res);
		}
		return -1;
	case SYSCALL_EVT_SENDTO:
	case SYSCALL_EVT_SENDMSG:
		if (a->valid & EVENT_ARG_ADDR)
			update_socket(d, e, a->fd, rec, size, ev, false, false);
		ev->fd = fd_of(d, e, a->fd);
		return -1;
	case SYSCALL_EVT_CHDIR:
		if (res == 0)
			proctable_chdir(d->procs, e, a->path);
		return -1;
	case SYSCALL_EVT_FCHDIR:
		f = fd_of(d, e, a->fd);
		if (res == 0 && f && f->name && f->name[0] == '/')
			proctable_chdir(d->procs, e, f->name);
		ev->fd = f;
		return -1;
	case SYSCALL_EVT_CLOSE:
		ev->fd = fdtable_get(e->fds, a->fd); /* no /proc read: it is closed */
		return res == 0 ? a->fd : -1;
	default:
		if (a->valid & EVENT_ARG_FD)
			ev->fd = fd_of(d, e, a->fd);
		return -1;
	}
}

/* ---- records -------------------------------------------------------------------------- */

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void handle_record(struct detector *d, const struct lanner_rec *rec, size_t size)
{
	struct syscall_event ev;
	struct event_container cm;
	const struct podmeta_info *pi = NULL;
	struct proc_entry *e = NULL;
	struct decode_exec x;
	struct lanner_fork_info fi;
	struct lanner_exit_info xi = { 0 };
	int64_t close_fd = -1;
	int rc;

	switch (rec->type) {
	case LANNER_REC_PROC_FORK:
		if (decode_fork(rec, size, &fi))
			atomic_fetch_add(&d->bad, 1);
		else
			proctable_fork(d->procs, rec, &fi);
		return;
	case LANNER_REC_PROC_EXEC:
		if (decode_exec(rec, size, &x)) {
			atomic_fetch_add(&d->bad, 1);
			return;
		}
		e = proctable_exec(d->procs, rec, &x);
		break;
	case LANNER_REC_PROC_EXIT:
		if (decode_exit(rec, size, &xi)) {
			atomic_fetch_add(&d->bad, 1);
			return;
		}
		e = proctable_find(d->procs, rec->tgid);
		if (e)
			e = proctable_of_record(d->procs, rec);
		break;
	default:
		e = proctable_of_record(d->procs, rec);
		break;
	}
	rc = decode_event(rec, size, d->b2e, &ev);
	if (rc) {
		if (rc != -ENOENT)
			atomic_fetch_add(&d->bad, 1);
		goto after;
	}
	ev.num = ++d->num;
	if (e) {
		proctable_bind(d->procs, e, rec->tid);
		ev.proc = &e->p;
		ev.container = e->cont_known ? &e->cont.c : NULL;
		/* the pod's metadata, held (a reference) until this event is done */
		if (e->cont_known && d->o.podmeta && e->cont.full_id[0] &&
		    (pi = podmeta_get(d->o.podmeta, e->cont.full_id))) {
			cm = e->cont.c;
			cm.name = pi->name;
			cm.image = pi->image;
			cm.image_repository = pi->image_repository;
			cm.image_tag = pi->image_tag;
			cm.image_digest = pi->image_digest;
			cm.privileged = pi->privileged;
			ev.container = &cm;
			ev.k8s = &pi->k8s;
		}
		close_fd = track_fds(d, e, rec, size, &ev);
	}
	atomic_fetch_add(&d->events, 1);
	if (d->capw && event_writer_write(d->capw, &ev))
		atomic_fetch_add(&d->capture_errors, 1);
	if (d->eval)
		rules_eval(d->eval, d->src, &ev, on_match, d);
	d->fdtmp.nameraw = NULL; /* it pointed into the record, which is freed after this */
after:
	podmeta_put(pi);
	if (e && close_fd >= 0)
		fdtable_del(e->fds, close_fd);
	if (rec->type == LANNER_REC_PROC_EXIT && xi.group_dead)
		proctable_exit(d->procs, rec->tgid, proctable_now_ms());
}

/*
 * ---- order and time across CPUs -------------------------------------------------------
 *
 * Each CPU has its own ring, so records reach us grouped by CPU: a process that execs on one
 * CPU and opens a file on another could be seen opening before it exec'ed. Every record carries
 * lanner_rec.seq, taken from one counter all CPUs share, and one CPU's records are in seq
 * order in its ring (its programs never interleave: see ring_start in bpf/lanner.bpf.c). So the
 * records stay in the rings until they are handed on, merged in seq order by probe_merge()
 * from a uv_check handle, without being copied out. Each check samples the counter and the
 * clock (probe_seq, CLOCK_BOOTTIME); a record whose seq is below a sample taken
 * REORDER_MARGIN_NS ago was started before that sample and has been committed long since:
 * those are handed on, the rest wait for a later check (the probe's timer wakes the loop every
 * few ms).
 *
 * The samples also date the records when the kernel does not (probe_opts.precise_time off: a
 * clock read costs ~80 ns of program time per record here): a record with seq s between the
 * samples (S1 last seen at T1) and (S2 first seen at T2) was made between T1 and T2, and gets
 * the time interpolated by its place in S1..S2 (so a lone record is off by at most half the
 * interval between two checks; its real time is unknown within it). Under load the checks
 * come every few hundred microseconds; idle, a lone record is dated within the drain interval
 * (20 ms).
 */
#define REORDER_MARGIN_NS 1000000ull
/*
 * Under load the loop can turn every few tens of microseconds with a handful of new records
 * each time: merging runs at most once per RELEASE_EVERY_NS, so records wait 1-2 ms.
 */
#define RELEASE_EVERY_NS 1000000ull
/*
 * A ring this full (percent of what it holds) is emptied at once, without waiting for the
 * margin (records of other CPUs not yet published may then come after it): the programs
 * drop records only once it is full.
 */
#define BACKLOG_RELEASE_PCT 50
#define MAX_SAMPLES 4096

/* The kernel counter was `seq` from first_ns to last_ns (CLOCK_BOOTTIME). */
struct seq_sample {
	uint64_t seq, first_ns, last_ns;
};

static void sample_add(struct detector *d, uint64_t seq, uint64_t now)
{
	struct seq_sample *last = d->n_smp ? &d->smp[d->n_smp - 1] : NULL;

	if (last && last->seq == seq) {
		last->last_ns = now; /* nothing new was started meanwhile */
		return;
	}
	if (d->n_smp == MAX_SAMPLES) {
		/* records below the oldest are dated by the next one: only an older bound lost */
		memmove(d->smp, d->smp + 1, (MAX_SAMPLES - 1) * sizeof(*d->smp));
		d->n_smp--;
	}
	d->smp[d->n_smp++] = (struct seq_sample){ seq, now, now };
}

/*
 * Boot-time ns of a record with this seq, from the samples from index *k on (both walked in
 * increasing seq order, so *k only moves forward); `now` for one no sample bounds yet.
 */
static uint64_t seq_time(const struct detector *d, size_t *k, uint64_t seq, uint64_t now)
{
	const struct seq_sample *lo, *hi;

	while (*k < d->n_smp && d->smp[*k].seq <= seq)
		(*k)++;
	if (*k == d->n_smp)
		return now; /* started after the last sample */
	hi = &d->smp[*k];
	if (*k == 0)
		return hi->first_ns; /* before the first sample */
	lo = &d->smp[*k - 1];
	if (hi->first_ns <= lo->last_ns)
		return lo->last_ns;
	/* the middle of its share of the interval: a lone record is off by half of it at most */
	return lo->last_ns +
	       (uint64_t)((double)(hi->first_ns - lo->last_ns) * ((double)(seq - lo->seq) + 0.5) /
			  (double)(hi->seq - lo->seq));
}

/* probe_merge's callback: the record in its ring, dated, then handled. */
static void on_merged(void *ctx, const struct lanner_rec *rec, size_t size)
{
	struct detector *d = ctx;

	if (!rec->ts_ns) /* the ring is ours to write until the record is freed */
		((struct lanner_rec *)rec)->ts_ns =
			seq_time(d, &d->merge_k, rec->seq, d->merge_now);
	handle_record(d, rec, size);
}

/* Hands on the records with seq below limit, in seq order, dated. */
static void release_below(struct detector *d, uint64_t limit, uint64_t now)
{
	if (!d->probe)
		return;
	d->merge_k = 0;
	d->merge_now = now;
	probe_merge(d->probe, limit, on_merged, d);
}

/*
 * The seq below which every record is committed: that of the newest sample at least a margin
 * old (index in *at), or 0.
 */
static uint64_t release_limit(const struct detector *d, uint64_t now, size_t *at)
{
	for (size_t i = d->n_smp; i-- > 0;)
		if (d->smp[i].first_ns + REORDER_MARGIN_NS <= now) {
			*at = i;
			return d->smp[i].seq;
		}
	*at = 0;
	return 0;
}

static void on_check(uv_check_t *h)
{
	struct detector *d = h->data;
	uint64_t now = boot_ns(), limit;
	unsigned backlog;
	size_t at;

	if (!d->probe)
		return;
	sample_add(d, probe_seq(d->probe), now);
	backlog = probe_backlog(d->probe);
	if (now < d->next_release && backlog < BACKLOG_RELEASE_PCT && d->n_smp < MAX_SAMPLES / 2)
		return;
	d->next_release = now + RELEASE_EVERY_NS;
	limit = release_limit(d, now, &at);
	release_below(d, backlog >= BACKLOG_RELEASE_PCT ? UINT64_MAX : limit, now);
	/*
	 * Every record below the limit has been handed on, the others date from the limit's sample
	 * on: the older samples are done with (seqs taken without a record, e.g. an fcntl that is
	 * no F_DUPFD, would otherwise pile them up).
	 */
	if (at) {
		memmove(d->smp, d->smp + at, (d->n_smp - at) * sizeof(*d->smp));
		d->n_smp -= at;
	}
}

/* ---- captured set --------------------------------------------------------------------- */

void detector_capture_set(const struct rules *r, struct probe_set *out)
{
	uint64_t bits[(SYSCALL_EVT__COUNT + 63) / 64];
	int src = rules_source_index(r, "syscall");

	memset(out, 0, sizeof(*out));
	probe_set_add_state(out);
	if (src < 0)
		return; /* no syscall source: state only */
	rules_event_types(r, src, bits, sizeof(bits) / sizeof(bits[0]));
	for (int i = 0; i < SYSCALL_EVT__COUNT; i++) {
		int nr;

		if (!((bits[i / 64] >> (i % 64)) & 1))
			continue;
		nr = probe_syscall_nr(syscall_event_type_names[i]);
		if (nr >= 0 && probe_syscall_supported(nr))
			probe_set_add(out, nr);
	}
}

static void compute_set(const struct rules *r, struct probe_set *set, int *src)
{
	detector_capture_set(r, set);
	*src = rules_source_index(r, "syscall");
}

static uint64_t set_count(const struct probe_set *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		n += (uint64_t)__builtin_popcountll(s->bits[i]);
	return n;
}

/* Detector thread: switch to d->pending_rules. 0 or -errno. */
static int switch_rules(struct detector *d, const struct rules *r)
{
	struct rules_eval *ev = rules_eval_new(r);
	struct probe_set set;
	int src, err;

	if (!ev)
		return -errno;
	compute_set(r, &set, &src);
	err = probe_set_syscalls(d->probe, &set);
	if (err)
		log_warn("detector: some syscalls could not be attached: %s", strerror(-err));
	rules_eval_free(d->eval);
	d->eval = ev;
	d->rules = r;
	d->src = src;
	atomic_store(&d->syscalls, set_count(&set));
	log_info("detector: capturing %llu syscalls", (unsigned long long)set_count(&set));
	return 0;
}

/* ---- detector thread ------------------------------------------------------------------ */

static void on_cmd(uv_async_t *h)
{
	struct detector *d = h->data;
	const struct rules *r = NULL;
	bool stop;

	pthread_mutex_lock(&d->lock);
	stop = d->stop_req;
	if (d->rules_pending)
		r = d->pending_rules;
	pthread_mutex_unlock(&d->lock);
	if (r) {
		int err = switch_rules(d, r);

		pthread_mutex_lock(&d->lock);
		d->rules_err = err;
		d->rules_pending = false;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
	if (stop) {
		release_below(d, UINT64_MAX, boot_ns());
		probe_free(d->probe);
		d->probe = NULL;
		uv_close((uv_handle_t *)&d->check, NULL);
		uv_close((uv_handle_t *)&d->cmd, NULL);
		uv_close((uv_handle_t *)&d->tick, NULL);
	}
}

static void on_tick(uv_timer_t *h)
{
	struct detector *d = h->data;
	uint64_t drops[LANNER_DROP_MAX] = { 0 }, stats[LANNER_STAT_MAX], lost, ovf;
	uint64_t now = proctable_now_ms();

	proctable_gc(d->procs, now);
	d->b2e = decode_boot_to_epoch();
	if (d->probe && !probe_drops(d->probe, drops))
		for (int i = 0; i < LANNER_DROP_MAX; i++)
			atomic_store(&d->drops[i], drops[i]);
	if (d->probe && !probe_stats(d->probe, stats))
		for (int i = 0; i < LANNER_STAT_MAX; i++)
			atomic_store(&d->kstats[i], stats[i]);
	if (d->probe)
		atomic_store(&d->loader_bad, probe_bad_records(d->probe));
	atomic_store(&d->procs_now, proctable_count(d->procs));
	atomic_store(&d->proc_overflows, proctable_overflows(d->procs));
	if (d->capture)
		fflush(d->capture);
	/* records lost: ring full, missing or busy */
	lost = drops[LANNER_DROP_RINGBUF_FULL] + drops[LANNER_DROP_NO_RINGBUF] +
	       drops[LANNER_DROP_RING_BUSY];
	ovf = atomic_load(&d->overflows);
	if ((lost > d->last_drops || ovf > d->last_overflows) &&
	    (!d->have_internal || now - d->last_internal_ms >= d->o.internal_alert_interval_ms)) {
		log_warn("detector: events dropped (kernel %llu, queue %llu)",
			 (unsigned long long)lost, (unsigned long long)ovf);
		internal_alert(d, lost, ovf);
		d->last_internal_ms = now;
		d->have_internal = true;
		d->last_drops = lost;
		d->last_overflows = ovf;
	}
}

static void *thread_main(void *arg)
{
	struct detector *d = arg;
	struct probe_opts po = { 0 };
	struct proctable_opts pto = { 0 };
	struct probe_set set;
	int src, err = 0;

	d->b2e = decode_boot_to_epoch();
	pto.max_procs = d->o.max_procs;
	pto.boot_to_epoch = d->b2e;
	d->procs = proctable_new(&pto);
	d->eval = rules_eval_new(d->rules);
	if (!d->procs || !d->eval) {
		err = -ENOMEM;
		snprintf(d->err, sizeof(d->err), "out of memory");
		goto report;
	}
	if (d->o.capture_path) {
		d->capture = fopen(d->o.capture_path, "we");
		if (!d->capture) {
			err = -errno;
			snprintf(d->err, sizeof(d->err), "capture file %s: %s", d->o.capture_path,
				 strerror(errno));
			goto report;
		}
		d->capw = event_writer_new(d->capture);
		if (!d->capw) {
			err = -ENOMEM;
			snprintf(d->err, sizeof(d->err), "out of memory");
			goto report;
		}
	}
	uv_loop_init(&d->loop);
	compute_set(d->rules, &set, &src);
	d->src = src;
	po.drop_failed = d->o.drop_failed;
	po.precise_time = d->o.precise_time;
	po.no_fast_reads = d->o.no_fast_reads;
	po.ringbuf_bytes = d->o.ringbuf_bytes;
	po.hold = true; /* the records are merged from the rings: on_check */
	/* programs first (records queue in the ring buffers), then /proc: nothing falls between */
	d->probe = probe_new(&d->loop, &po, &set, on_merged, d, d->err, sizeof(d->err));
	if (!d->probe) {
		err = -errno;
		uv_loop_close(&d->loop);
		goto report;
	}
	atomic_store(&d->syscalls, set_count(&set));
	atomic_store(&d->fast_reads, probe_fast_reads(d->probe));
	sample_add(d, probe_seq(d->probe), boot_ns());
	proctable_seed(d->procs);
	atomic_store(&d->procs_now, proctable_count(d->procs));
	uv_async_init(&d->loop, &d->cmd, on_cmd);
	d->cmd.data = d;
	uv_timer_init(&d->loop, &d->tick);
	d->tick.data = d;
	uv_timer_start(&d->tick, on_tick, 1000, 1000);
	uv_check_init(&d->loop, &d->check);
	d->check.data = d;
	uv_check_start(&d->check, on_check);
report:
	pthread_mutex_lock(&d->lock);
	d->start_err = err;
	d->started = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (err)
		return NULL;
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop))
		log_error("detector: loop still had handles at exit");
	return NULL;
}

static void release(struct detector *d)
{
	event_writer_free(d->capw);
	if (d->capture)
		fclose(d->capture);
	rules_eval_free(d->eval);
	proctable_free(d->procs);
	free(d->smp);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->qlock);
	free(d->q);
	free(d);
}

static void on_gw_closed(uv_handle_t *h)
{
	release(h->data);
}

struct detector *detector_start(const struct detector_opts *opts, char *err, size_t errlen)
{
	struct detector *d = calloc(1, sizeof(*d));
	int e;

	if (!d)
		return NULL;
	d->o = *opts;
	if (!d->o.queue_len)
		d->o.queue_len = 8192;
	if (!d->o.internal_alert_interval_ms)
		d->o.internal_alert_interval_ms = 60000;
	d->rules = opts->rules;
	d->qcap = d->o.queue_len;
	d->q = calloc(d->qcap, sizeof(*d->q));
	d->smp = calloc(MAX_SAMPLES, sizeof(*d->smp));
	if (!d->q || !d->smp) {
		free(d->q);
		free(d->smp);
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	pthread_mutex_init(&d->qlock, NULL);
	/* before the thread: its first alert may come as soon as it runs */
	uv_async_init(d->o.gateway_loop, &d->to_gw, on_to_gw);
	d->to_gw.data = d;
	e = pthread_create(&d->thread, NULL, thread_main, d);
	if (e) {
		if (err)
			snprintf(err, errlen, "cannot start the detector thread: %s", strerror(e));
		uv_close((uv_handle_t *)&d->to_gw, on_gw_closed);
		errno = e;
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	while (!d->started)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	if (d->start_err) {
		pthread_join(d->thread, NULL);
		if (err)
			snprintf(err, errlen, "%s", d->err);
		e = -d->start_err;
		drain_queue(d); /* nothing: the thread ran no loop */
		uv_close((uv_handle_t *)&d->to_gw, on_gw_closed);
		errno = e;
		return NULL;
	}
	return d;
}

int detector_set_rules(struct detector *d, const struct rules *r)
{
	int err;

	pthread_mutex_lock(&d->lock);
	d->pending_rules = r;
	d->rules_pending = true;
	uv_async_send(&d->cmd);
	while (d->rules_pending)
		pthread_cond_wait(&d->cond, &d->lock);
	err = d->rules_err;
	pthread_mutex_unlock(&d->lock);
	return err;
}

void detector_get_stats(struct detector *d, struct detector_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->events = atomic_load(&d->events);
	out->alerts = atomic_load(&d->alerts);
	out->queue_overflows = atomic_load(&d->overflows);
	for (int i = 0; i < LANNER_DROP_MAX; i++)
		out->kernel_drops[i] = atomic_load(&d->drops[i]);
	for (int i = 0; i < LANNER_STAT_MAX; i++)
		out->kernel_stats[i] = atomic_load(&d->kstats[i]);
	out->fast_reads = atomic_load(&d->fast_reads);
	out->proc_overflows = atomic_load(&d->proc_overflows);
	out->bad_records = atomic_load(&d->bad) + atomic_load(&d->loader_bad);
	out->internal_alerts = atomic_load(&d->internal);
	out->capture_errors = atomic_load(&d->capture_errors);
	out->procs = atomic_load(&d->procs_now);
	out->syscalls = atomic_load(&d->syscalls);
}

void detector_stop(struct detector *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop_req = true;
	uv_async_send(&d->cmd);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	drain_queue(d);
	uv_close((uv_handle_t *)&d->to_gw, on_gw_closed);
}
