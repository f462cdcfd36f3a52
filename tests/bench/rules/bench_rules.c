// SPDX-License-Identifier: Apache-2.0
/*
 * Rules engine benchmark (not part of ctest): evaluates a recorded mix of syscall events
 * against the upstream stable + incubating rules on one core.
 *
 * How to run (from the build directory; Release-like flags, no sanitizers, for real figures):
 *   cmake -S .. -B build-bench -DCMAKE_BUILD_TYPE=Release -DSANITIZE= -DLANNER_TESTS=ON
 *   cmake --build build-bench --target bench_rules bench_rules_gen
 *   build-bench/tests/bench/rules/bench_rules_gen -n 1000000 /tmp/events.jsonl
 *   build-bench/tests/bench/rules/bench_rules /tmp/events.jsonl
 * Options: -r FILE (repeatable) replaces the default rule files
 * (../shared/data/falco-rules/falco_rules.yaml then falco-incubating_rules.yaml); -x N evaluates
 * every batch N times over, in stream order, so that `perf record` sees mostly the engine
 * (figures stay per event); -c adds the pessimistic figure below.
 *
 * The JSON lines are read into a recording first (jansson builds and frees a tree per line,
 * ~40 us, which would drown the engine and churn its caches); the detector instead decodes each
 * kernel record into its event right before evaluating it. The two timed passes replay that,
 * over batches of the recording, on one pinned CPU, in this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: preemption on a shared machine does not count):
 *  - decode only: each recorded event materialized into a current-event buffer (its
 *    arguments, strings and fd copied; its process, container and pod stay in the recording,
 *    as the detector's events point into its process table and caches);
 *  - decode + eval: the same, each followed by rules_eval: events/s, target >= 1,000,000, and
 *    the ratio to decode only; their difference is the engine alone.
 * -c: also decode the JSON lines again and time each rules_eval call on its own right after its
 * JSON decode, minus the clock's own cost (the clock is a system call: the engine then starts
 * with cold caches and branch predictors).
 * Also printed: the compiled ruleset's memory, heap in use (mallinfo2) and RSS growth across
 * load+compile.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detector/event_json.h"
#include "rules/rules.h"

/* -x N: evaluate each batch N times (for profiling the engine with perf); figures stay per event */
static unsigned repeat = 1;

static double now(void)
{
	struct timespec ts;

	/* CPU time of this thread: other load on the machine does not inflate the figures */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	(*(unsigned long *)ctx)++;
}

static FILE *open_events(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	return f;
}

/* What reading the clock twice costs, to take it out of the per-event intervals. */
static double clock_overhead(void)
{
	double x = 0;

	for (int i = 0; i < 100000; i++) {
		double a = now();

		x += now() - a;
	}
	return x / 100000;
}

/*
 * Decoded events are copied into an arena so that a batch of them can be evaluated back to
 * back: the detector evaluates each kernel record right after decoding it from a ring buffer,
 * which touches little memory, while decoding a JSON line (jansson: a tree of small
 * allocations, then freed) churns the caches between two evaluations. Copying batches keeps
 * that churn out of the engine's figure, as a detector draining its ring buffers sees it.
 */
struct arena {
	char *buf;
	size_t cap, used;
	bool full;
};

static void *arena_alloc(struct arena *a, size_t len)
{
	size_t n = (len + 15) & ~(size_t)15;
	void *p;

	if (a->cap - a->used < n) {
		a->full = true;
		return NULL;
	}
	p = a->buf + a->used;
	a->used += n;
	return p;
}

static const char *arena_str(struct arena *a, const char *s)
{
	size_t n;
	char *d;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	d = arena_alloc(a, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static const char *const *arena_strv(struct arena *a, const char *const *v, size_t n)
{
	const char **d;

	if (!v)
		return NULL;
	d = arena_alloc(a, (n ? n : 1) * sizeof(*d));
	for (size_t i = 0; d && i < n; i++)
		d[i] = arena_str(a, v[i]);
	return d;
}

static void arena_sockaddr(struct arena *a, struct event_sockaddr *s)
{
	s->path = arena_str(a, s->path);
}

static const struct event_process *arena_proc(struct arena *a, const struct event_process *p,
					      unsigned depth)
{
	struct event_process *d;

	if (!p || depth > 64)
		return NULL;
	d = arena_alloc(a, sizeof(*d));
	if (!d)
		return NULL;
	*d = *p;
	d->name = arena_str(a, p->name);
	d->exe = arena_str(a, p->exe);
	d->exepath = arena_str(a, p->exepath);
	d->args = arena_strv(a, p->args, p->n_args);
	d->env = arena_strv(a, p->env, p->n_env);
	d->cwd = arena_str(a, p->cwd);
	d->user = arena_str(a, p->user);
	d->group = arena_str(a, p->group);
	d->loginname = arena_str(a, p->loginname);
	d->homedir = arena_str(a, p->homedir);
	d->shell = arena_str(a, p->shell);
	d->parent = arena_proc(a, p->parent, depth + 1);
	return d;
}

/*
 * The recording holds each process (with its ancestors), container and pod once per batch, as
 * the detector's process table and metadata caches do: events of the same process point to
 * the same object, so what one event brought into the cache the next finds there. Objects are
 * shared only when every field is equal (a key of all of them), per batch (the arena's life).
 */
struct keybuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void kb_put(struct keybuf *k, const void *v, size_t n)
{
	if (k->len + n > k->cap) {
		k->over = true;
		return;
	}
	memcpy(k->p + k->len, v, n);
	k->len += n;
}

static void kb_str(struct keybuf *k, const char *s)
{
	size_t n = s ? strlen(s) + 1 : 0;

	kb_put(k, &n, sizeof(n));
	if (s)
		kb_put(k, s, n);
}

static void kb_strv(struct keybuf *k, const char *const *v, size_t n)
{
	kb_put(k, &n, sizeof(n));
	for (size_t i = 0; v && i < n; i++)
		kb_str(k, v[i]);
}

static void key_proc(struct keybuf *k, const struct event_process *p, unsigned depth)
{
	struct event_process c;

	if (!p || depth > 64) {
		kb_put(k, "", 1);
		return;
	}
	c = *p;
	c.name = c.exe = c.exepath = c.cwd = NULL;
	c.user = c.group = c.loginname = c.homedir = c.shell = NULL;
	c.args = c.env = NULL;
	c.parent = NULL;
	kb_put(k, &c, sizeof(c));
	kb_str(k, p->name);
	kb_str(k, p->exe);
	kb_str(k, p->exepath);
	kb_str(k, p->cwd);
	kb_str(k, p->user);
	kb_str(k, p->group);
	kb_str(k, p->loginname);
	kb_str(k, p->homedir);
	kb_str(k, p->shell);
	kb_strv(k, p->args, p->n_args);
	kb_strv(k, p->env, p->n_env);
	key_proc(k, p->parent, depth + 1);
}

static void key_container(struct keybuf *k, const struct event_container *c)
{
	struct event_container x = *c;

	x.id = x.full_id = x.name = x.type = x.image = NULL;
	x.image_repository = x.image_tag = x.image_digest = NULL;
	kb_put(k, &x, sizeof(x));
	kb_str(k, c->id);
	kb_str(k, c->full_id);
	kb_str(k, c->name);
	kb_str(k, c->type);
	kb_str(k, c->image);
	kb_str(k, c->image_repository);
	kb_str(k, c->image_tag);
	kb_str(k, c->image_digest);
}

static void key_k8s(struct keybuf *k, const struct event_k8s *p)
{
	kb_str(k, p->pod_name);
	kb_str(k, p->ns_name);
	kb_str(k, p->pod_uid);
	kb_strv(k, p->label_keys, p->n_labels);
	kb_strv(k, p->label_values, p->n_labels);
}

#define INTERN_SLOTS 16384

static struct interned {
	unsigned batch;
	uint64_t h;
	const char *key;
	size_t klen;
	const void *obj;
} intern_tab[INTERN_SLOTS];
static unsigned intern_batch = 1; /* bumped when the arena is reset */
static char intern_key[1 << 16];

/* The object of this key in the current batch, or NULL; *slot is where to add it. */
static const void *intern_find(const struct keybuf *k, uint64_t *h, size_t *slot)
{
	uint64_t x = 1469598103934665603ull;
	size_t i;

	for (size_t j = 0; j < k->len; j++)
		x = (x ^ (unsigned char)k->p[j]) * 1099511628211ull;
	*h = x;
	for (i = x % INTERN_SLOTS;; i = (i + 1) % INTERN_SLOTS) {
		struct interned *e = &intern_tab[i];

		if (e->batch != intern_batch)
			break;
		if (e->h == x && e->klen == k->len && !memcmp(e->key, k->p, k->len))
			return e->obj;
	}
	*slot = i;
	return NULL;
}

static void intern_add(struct arena *a, const struct keybuf *k, uint64_t h, size_t slot,
		       const void *obj)
{
	char *key = arena_alloc(a, k->len);

	if (!key || !obj)
		return;
	memcpy(key, k->p, k->len);
	intern_tab[slot] = (struct interned){ intern_batch, h, key, k->len, obj };
}

static const void *copy_proc(struct arena *a, const void *obj)
{
	return arena_proc(a, obj, 0);
}

static const void *copy_container(struct arena *a, const void *obj)
{
	struct event_container *c = arena_alloc(a, sizeof(*c));

	if (c) {
		*c = *(const struct event_container *)obj;
		c->id = arena_str(a, c->id);
		c->full_id = arena_str(a, c->full_id);
		c->name = arena_str(a, c->name);
		c->type = arena_str(a, c->type);
		c->image = arena_str(a, c->image);
		c->image_repository = arena_str(a, c->image_repository);
		c->image_tag = arena_str(a, c->image_tag);
		c->image_digest = arena_str(a, c->image_digest);
	}
	return c;
}

static const void *copy_k8s(struct arena *a, const void *obj)
{
	struct event_k8s *k = arena_alloc(a, sizeof(*k));

	if (k) {
		*k = *(const struct event_k8s *)obj;
		k->pod_name = arena_str(a, k->pod_name);
		k->ns_name = arena_str(a, k->ns_name);
		k->pod_uid = arena_str(a, k->pod_uid);
		k->label_keys = arena_strv(a, k->label_keys, k->n_labels);
		k->label_values = arena_strv(a, k->label_values, k->n_labels);
	}
	return k;
}

static void key_proc0(struct keybuf *k, const void *obj)
{
	key_proc(k, obj, 0);
}

static void key_container0(struct keybuf *k, const void *obj)
{
	key_container(k, obj);
}

static void key_k8s0(struct keybuf *k, const void *obj)
{
	key_k8s(k, obj);
}

/* obj's copy of this batch: the one already made for an equal object, else a new one. */
static const void *intern(struct arena *a, char kind, const void *obj,
			  void (*key)(struct keybuf *, const void *),
			  const void *(*copy)(struct arena *, const void *))
{
	struct keybuf k = { intern_key, 0, sizeof(intern_key), false };
	const void *o;
	uint64_t h = 0;
	size_t slot = 0;

	if (!obj)
		return NULL;
	kb_put(&k, &kind, 1);
	key(&k, obj);
	if (k.over)
		return copy(a, obj);
	o = intern_find(&k, &h, &slot);
	if (!o) {
		o = copy(a, obj);
		intern_add(a, &k, h, slot, o);
	}
	return o;
}

/*
 * A copy of e in the arena: its arguments and fd always; its process (with ancestors),
 * container and k8s data too when `tables` (interned, see above), else they stay shared with
 * e, as the detector's events point into its process table and metadata caches. NULL when the
 * arena is full (the batch ends there).
 */
static const struct syscall_event *arena_event(struct arena *a, const struct syscall_event *e,
					       bool tables)
{
	struct syscall_event *d = arena_alloc(a, sizeof(*d));
	struct event_args *g;

	if (!d)
		return NULL;
	*d = *e;
	g = &d->args;
	g->name = arena_str(a, g->name);
	g->path = arena_str(a, g->path);
	g->target = arena_str(a, g->target);
	g->linkpath = arena_str(a, g->linkpath);
	g->oldpath = arena_str(a, g->oldpath);
	g->newpath = arena_str(a, g->newpath);
	g->fstype = arena_str(a, g->fstype);
	g->uargs = arena_str(a, g->uargs);
	arena_sockaddr(a, &g->sockaddr);
	if (e->fd) {
		struct event_fd *fd = arena_alloc(a, sizeof(*fd));

		if (fd) {
			*fd = *e->fd;
			fd->name = arena_str(a, fd->name);
			fd->nameraw = arena_str(a, fd->nameraw);
			arena_sockaddr(a, &fd->client);
			arena_sockaddr(a, &fd->server);
		}
		d->fd = fd;
	}
	if (tables) {
		d->proc = intern(a, 'p', e->proc, key_proc0, copy_proc);
		d->container = intern(a, 'c', e->container, key_container0, copy_container);
		d->k8s = intern(a, 'k', e->k8s, key_k8s0, copy_k8s);
	}
	return a->full ? NULL : d;
}

#define BATCH 1024
#define ARENA_BYTES (32u << 20)
#define EVENT_BYTES (1u << 20)

struct batch_figures {
	unsigned long n, matches;
	double json; /* JSON lines -> recorded copies (not part of either figure) */
	double decode; /* decode only: each recorded event materialized */
	double full; /* decode + eval */
};

/* The decode step of both timed passes: one recorded event into the current-event arena. */
static const struct syscall_event *materialize(struct arena *cur, const struct syscall_event *e)
{
	cur->used = 0;
	cur->full = false;
	return arena_event(cur, e, false);
}

static void run_batch(const struct syscall_event **batch, size_t nb, struct arena *cur,
		      struct rules_eval *ev, int src, struct batch_figures *fig)
{
	volatile uintptr_t sink = 0;
	double t0;

	t0 = now();
	for (unsigned x = 0; x < repeat; x++)
		for (size_t i = 0; i < nb; i++)
			sink = (uintptr_t)materialize(cur, batch[i]);
	fig->decode += now() - t0;
	(void)sink;
	t0 = now();
	for (unsigned x = 0; x < repeat; x++)
		for (size_t i = 0; i < nb; i++)
			rules_eval(ev, src, materialize(cur, batch[i]), on_match, &fig->matches);
	fig->full += now() - t0;
}

/*
 * The timed passes. The JSON lines are first read into a recording, BATCH events at a time
 * (jansson, untimed: see arena above); then, over the same batch, with one clock read before
 * and after each pass (thread CPU time, so preemption on a shared machine does not count):
 *  - decode only: each recorded event materialized into the current-event buffer, as the
 *    detector decodes a kernel record into its event (see arena_event);
 *  - decode + eval: the same, each followed by rules_eval.
 * Each event is evaluated once (each batch repeat times over with -x).
 */
static int pass_batches(const char *path, struct rules_eval *ev, int src, struct batch_figures *fig)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e, **batch = calloc(BATCH, sizeof(*batch));
	struct arena a = { .buf = malloc(ARENA_BYTES), .cap = ARENA_BYTES };
	struct arena cur = { .buf = malloc(EVENT_BYTES), .cap = EVENT_BYTES };
	FILE *f = open_events(path);
	size_t nb = 0;
	int rc = -1;
	bool more = true;
	double t0;

	memset(fig, 0, sizeof(*fig));
	if (!r || !f || !batch || !a.buf || !cur.buf)
		goto out;
	t0 = now();
	while (more) {
		const struct syscall_event *copy = NULL;

		rc = event_reader_next(r, f, &e);
		if (rc < 0)
			goto out;
		more = rc == 1;
		if (more) {
			copy = arena_event(&a, e, true);
			if (!copy && !nb) {
				fprintf(stderr, "an event larger than the %u-byte arena\n",
					ARENA_BYTES);
				rc = -1;
				goto out;
			}
			if (copy)
				batch[nb++] = copy;
		}
		if (nb < BATCH && more && copy)
			continue;
		fig->json += now() - t0;
		run_batch(batch, nb, &cur, ev, src, fig);
		fig->n += nb;
		nb = 0;
		a.used = 0;
		a.full = false;
		intern_batch++;
		t0 = now();
		if (more && !copy)
			batch[nb++] = arena_event(&a, e, true);
	}
	fig->decode /= repeat;
	fig->full /= repeat;
	fig->matches /= repeat;
	rc = 0;
out:
	event_reader_free(r);
	free(batch);
	free(a.buf);
	free(cur.buf);
	if (f)
		fclose(f);
	return rc;
}

/*
 * Pass 3: decode and evaluate each event in turn, each rules_eval call timed on its own minus
 * the clock's own cost: the engine right after a JSON decode, caches cold.
 */
static int pass_eval(const char *path, struct rules_eval *ev, int src, unsigned long *n,
		     unsigned long *matches, double *total, double *eval)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e;
	FILE *f = open_events(path);
	double t0, overhead = clock_overhead(), sum = 0;
	int rc = -1;

	if (!r || !f)
		goto out;
	*n = *matches = 0;
	t0 = now();
	while ((rc = event_reader_next(r, f, &e)) == 1) {
		double a = now();

		rules_eval(ev, src, e, on_match, matches);
		sum += now() - a;
		(*n)++;
	}
	*total = now() - t0 - overhead * (double)*n;
	*eval = sum - overhead * (double)*n;
out:
	event_reader_free(r);
	if (f)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *files[16];
	size_t n_files = 0;
	struct rules *rules;
	struct rules_eval *ev;
	struct mallinfo2 m0, m1;
	long rss0, rss1;
	struct batch_figures fig;
	unsigned long n2 = 0, matches = 0;
	double t_full = 0, t_eval = 0;
	bool cold = false;
	struct stat st;
	cpu_set_t set;
	int c, src, cpu;

	while ((c = getopt(argc, argv, "r:x:c")) != -1) {
		if (c == 'c') {
			cold = true;
			continue;
		}
		if (c == 'r' && n_files < 16) {
			files[n_files++] = optarg;
			continue;
		}
		if (c == 'x' && atoi(optarg) > 0) {
			repeat = (unsigned)atoi(optarg);
			continue;
		}
		fprintf(stderr, "usage: %s [-r RULES.yaml]... [-x N] [-c] EVENTS.jsonl\n", argv[0]);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-r RULES.yaml]... [-x N] [-c] EVENTS.jsonl\n", argv[0]);
		return 2;
	}
	if (!n_files) {
		files[n_files++] = SHARED_DATA_DIR "/falco-rules/falco_rules.yaml";
		files[n_files++] = SHARED_DATA_DIR "/falco-rules/falco-incubating_rules.yaml";
	}

	/* One core: stay on the CPU we started on. */
	cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu >= 0 ? cpu : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity (continuing unpinned)");

	/* Load and compile, measuring the ruleset's memory. */
	m0 = mallinfo2();
	rss0 = rss_kib();
	rules = rules_new();
	if (!rules || rules_add_source(rules, &syscall_field_source) < 0)
		return 1;
	for (size_t i = 0; i < n_files; i++)
		if (rules_load_file(rules, files[i]))
			return 1;
	if (rules_compile(rules))
		return 1;
	ev = rules_eval_new(rules);
	if (!ev)
		return 1;
	m1 = mallinfo2();
	rss1 = rss_kib();
	src = rules_source_index(rules, "syscall");

	if (pass_batches(argv[optind], ev, src, &fig) < 0)
		return 1;
	if (!fig.n) {
		fprintf(stderr, "%s: no events\n", argv[optind]);
		return 1;
	}
	if (cold && pass_eval(argv[optind], ev, src, &n2, &matches, &t_full, &t_eval) < 0)
		return 1;
	if (cold && (n2 != fig.n || matches != fig.matches)) {
		fprintf(stderr, "event or match counts differ: %lu vs %lu events, %lu vs %lu\n",
			fig.n, n2, fig.matches, matches);
		return 1;
	}
	stat(argv[optind], &st);
	printf("rules: %zu loaded from %zu files, compiled ruleset: %.1f KiB heap (mallinfo2), "
	       "RSS +%ld KiB\n",
	       rules_count(rules), n_files, (double)(m1.uordblks - m0.uordblks) / 1024.0,
	       rss1 - rss0);
	printf("events: %lu (%.1f MB of JSON lines, read in %.1f s), cpu %d\n", fig.n,
	       (double)st.st_size / 1e6, fig.json, cpu);
	printf("decode only:   %8.3f s  %10.0f events/s\n", fig.decode, (double)fig.n / fig.decode);
	printf("decode + eval: %8.3f s  %10.0f events/s  (%.2fx the decode-only time; "
	       "target >= 1000000 events/s)\n",
	       fig.full, (double)fig.n / fig.full, fig.full / fig.decode);
	printf("eval alone:    %8.3f s  %10.0f events/s  (%.0f ns/event)\n", fig.full - fig.decode,
	       (double)fig.n / (fig.full - fig.decode),
	       (fig.full - fig.decode) * 1e9 / (double)fig.n);
	if (cold)
		printf("eval right after each JSON decode, each call timed (cold caches): %.3f s  "
		       "%.0f events/s  (%.0f ns/event)\n",
		       t_eval, (double)n2 / t_eval, t_eval * 1e9 / (double)n2);
	printf("matches: %lu\n", fig.matches);
	rules_eval_free(ev);
	rules_free(rules);
	return 0;
}
