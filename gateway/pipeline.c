// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config/log.h"
#include "gateway/dedup.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/sink_filter.h"
#include "gateway/spool.h"
#include "outputs/http_client.h"

/* An alert in the durable spool: shared by the queue entries of every sink it is routed to. */
struct spooled {
	int64_t id;
	unsigned refs; /* sinks that still hold it */
	size_t bytes;
};

struct pending {
	struct alert *a;
	unsigned attempts; /* failed attempts so far */
	struct spooled *sp; /* NULL in memory mode */
	uint64_t queued_ms; /* uv_now when it entered the queue (batch.wait) */
};

/* A submitted alert waiting for its spool transaction to commit. */
struct spool_wait {
	struct pipeline *p;
	struct alert *a;
	struct spooled *sp;
	uint64_t targets; /* bit i: slots[i] */
	pipeline_done_fn cb;
	pipeline_held_fn held_cb; /* pipeline_submit_held(): hold instead of queueing */
	void *data;
};

/* A held alert (pipeline_submit_held, or loaded from the spool with a Kafka origin). */
struct pipeline_hold {
	struct alert *a;
	struct spooled *sp; /* NULL in memory mode */
	uint64_t targets;
	bool startup; /* loaded from the spool, not taken yet (pipeline_take_spooled) */
	bool committing; /* loaded: origin_committing */
	char *topic; /* origin of a spooled one */
	int32_t partition;
	int64_t offset;
	struct pipeline_hold *prev, *next;
};

/* Per-sink state: the sink, its bounded queue, its concurrency and backoff. */
struct slot {
	struct pipeline *p;
	struct sink *sink;
	struct pipeline_sink_settings set;
	struct sink_filter *filter; /* match, ratelimit, batch (gateway/sink_filter.h) */
	/* Ring buffer; capacity = queue_max + maxconcurrentrequests * batch.size so that
	 * in-flight alerts coming back for a retry always have room at the head. */
	struct pending *q;
	size_t cap, head, len;
	unsigned inflight; /* alerts */
	unsigned requests; /* send / send_batch calls not finished: maxconcurrentrequests */
	unsigned failures; /* consecutive retryable failures */
	bool paused; /* in backoff */
	bool probing; /* after a backoff: one alert at a time until one succeeds */
	bool pumping;
	bool closed;
	uv_timer_t timer;
	uint64_t drops_unlogged;
	uint64_t last_drop_log_ms;
	char last_error[256];
	int64_t last_error_ms; /* Unix ms of last_error, 0 when none */
	uint64_t delivered, failed, dropped, retries; /* since start, for pipeline_sink_stats */
};

/* The token of one alert in flight. */
struct inflight {
	struct flight *f;
	struct pending pd;
	bool retry; /* came back SINK_RETRY: requeued when its request ends */
};

/*
 * One request: the alerts of a send (one) or send_batch (several) call. Retries are requeued
 * when the last alert is done, in their original order, with one backoff for the request.
 */
struct flight {
	struct slot *slot;
	size_t n, left;
	unsigned ok, retries;
	int64_t retry_after_ms;
	char retry_msg[256];
	struct inflight tok[];
};

struct pipeline {
	uv_loop_t *loop;
	struct metrics *metrics;
	struct http_client *http;
	struct pipeline_settings set;
	char hostname[256];
	struct slot *slots;
	size_t n_slots;

	bool shutting_down;
	bool closing;
	int handles_open;
	uv_timer_t shutdown_timer;
	void (*shutdown_cb)(void *data);
	void *shutdown_data;

	struct metric *m_events;
	struct metric *m_outputs;
	struct metric *m_retries;
	struct metric *m_dropped;
	struct metric *m_dedup;

	struct dedup *dedup; /* uuid window and content aggregation (dedup.*) */

	struct pipeline_hold holds; /* list head */
	size_t n_holds;

	struct spool *spool;
	size_t spool_bytes;
	size_t spool_alerts; /* alerts in the spool some sink still holds */
	unsigned spool_waiting; /* inserts not yet committed */
	uint64_t spool_evicted; /* since the last internal alert */
	uint64_t spool_alert_ms;
	bool in_internal;
};

static int parse_minimumpriority(const char *text, void *dst, char *err, size_t errlen)
{
	enum priority p;

	/* Falcosidekick: an empty minimumpriority means every priority. */
	if (!text || !*text) {
		*(int *)dst = PRIORITY_DEBUG;
		return 0;
	}
	if (priority_parse(text, &p)) {
		snprintf(err, errlen,
			 "unknown priority '%s' (expected emergency, alert, critical, error, "
			 "warning, notice, informational or debug)",
			 text);
		return -EINVAL;
	}
	*(int *)dst = (int)p;
	return 0;
}

static const char *const spool_modes[] = { "disk", "memory", NULL };
static const char *const spool_syncs[] = { "normal", "full", NULL };

const struct config_option pipeline_options[] = {
	{ "queue.max_alerts", CONFIG_INT, "10000", offsetof(struct pipeline_settings, queue_max), 1,
	  10000000, NULL, NULL,
	  "alerts each sink may hold waiting for delivery (memory mode; spooled alerts are "
	  "bounded by spool.max_bytes)" },
	{ "retry.initial", CONFIG_DURATION, "500ms",
	  offsetof(struct pipeline_settings, retry_initial_ms), 1, 3600000, NULL, NULL,
	  "first backoff after a retryable failure (doubles, with jitter)" },
	{ "retry.max", CONFIG_DURATION, "30s", offsetof(struct pipeline_settings, retry_max_ms), 1,
	  86400000, NULL, NULL, "longest backoff between two attempts" },
	{ "retry.max_attempts", CONFIG_INT, "0",
	  offsetof(struct pipeline_settings, retry_max_attempts), 0, 1000000000, NULL, NULL,
	  "give up an alert after this many failed attempts (0: retry until delivered)" },
	{ "retry.retry_after_max", CONFIG_DURATION, "5m",
	  offsetof(struct pipeline_settings, retry_after_max_ms), 0, 86400000, NULL, NULL,
	  "cap on a server's Retry-After" },
	{ "hostname", CONFIG_STRING, NULL, offsetof(struct pipeline_settings, hostname), 0, 0, NULL,
	  NULL, "hostname put on alerts that carry none (default: this machine's)" },
	{ "customfields", CONFIG_MAP, NULL, offsetof(struct pipeline_settings, customfields), 0, 0,
	  NULL, NULL, "fields added to every alert's output_fields (k:v,k:v)" },
	{ "customtags", CONFIG_STRLIST, NULL, offsetof(struct pipeline_settings, customtags), 0, 0,
	  NULL, NULL, "tags added to every alert" },
	{ "spool.mode", CONFIG_ENUM, "disk", offsetof(struct pipeline_settings, spool_mode), 0, 0,
	  spool_modes, NULL,
	  "disk: keep undelivered alerts in SQLite across crashes; memory: queues only" },
	{ "spool.path", CONFIG_STRING, "/var/lib/lanner/spool.db",
	  offsetof(struct pipeline_settings, spool_path), 0, 0, NULL, NULL,
	  "the spool's first SQLite file (WAL); the second is this path + \".1\"" },
	{ "spool.max_bytes", CONFIG_SIZE, "256MiB", offsetof(struct pipeline_settings, spool_max),
	  4096, (int64_t)1 << 50, NULL, NULL,
	  "spool size bound: past it, the lowest-priority oldest alerts go first" },
	{ "spool.sync", CONFIG_ENUM, "normal", offsetof(struct pipeline_settings, spool_sync), 0, 0,
	  spool_syncs, NULL,
	  "normal: survives a crash of lanner; full: also a power loss (fsync per batch)" },
	{ "metrics.pod_labels", CONFIG_BOOL, "false",
	  offsetof(struct pipeline_settings, pod_labels), 0, 0, NULL, NULL,
	  "add k8s_ns_name and k8s_pod_name labels to events_total (high cardinality)" },
	{ NULL },
};

const struct config_option pipeline_sink_options[] = {
	{ "minimumpriority", CONFIG_CUSTOM, "",
	  offsetof(struct pipeline_sink_settings, minimumpriority), 0, 0, NULL,
	  parse_minimumpriority, "least severe priority sent to this sink (empty: all)" },
	{ "maxconcurrentrequests", CONFIG_INT, "4",
	  offsetof(struct pipeline_sink_settings, maxconcurrentrequests), 1, 1024, NULL, NULL,
	  "deliveries in flight at once" },
	{ NULL },
};

int pipeline_declare(struct config *cfg)
{
	return pipeline_declare_with(cfg, sink_registry);
}

int pipeline_declare_with(struct config *cfg, const struct sink_ops *const *registry)
{
	int err = config_declare(cfg, "", pipeline_options);

	if (!err)
		err = config_declare(cfg, "dedup", dedup_options);

	for (size_t i = 0; !err && registry[i]; i++) {
		const struct sink_ops *ops = registry[i];

		err = config_declare(cfg, ops->name, pipeline_sink_options);
		if (!err)
			err = sink_filter_declare(cfg, ops);
		if (!err && ops->options)
			err = config_declare(cfg, ops->name, ops->options);
	}
	return err;
}

int64_t pipeline_backoff_ms(int64_t initial_ms, int64_t max_ms, unsigned attempt, uint64_t rnd)
{
	int64_t d = initial_ms > 0 ? initial_ms : 1;

	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* "Equal jitter": half fixed, half random, so retries spread but never collapse to 0. */
	return d / 2 + (int64_t)(rnd % (uint64_t)(d - d / 2 + 1));
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)rand() << 32 | (uint64_t)rand();
	return v;
}

/* --- the bounded queue ------------------------------------------------------------------ */

static struct pending *q_at(struct slot *sl, size_t i)
{
	return &sl->q[(sl->head + i) % sl->cap];
}

/*
 * Room for one more entry. Memory-mode queues never need to grow (their capacity covers
 * queue.max_alerts plus what is in flight); spooled alerts are bounded by spool.max_bytes
 * instead, so their queue grows by doubling. False on ENOMEM.
 */
static bool q_reserve(struct slot *sl)
{
	struct pending *q;
	size_t cap;

	if (sl->len < sl->cap)
		return true;
	cap = sl->cap * 2;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return false;
	for (size_t i = 0; i < sl->len; i++)
		q[i] = *q_at(sl, i);
	free(sl->q);
	sl->q = q;
	sl->cap = cap;
	sl->head = 0;
	return true;
}

static void q_push_back(struct slot *sl, struct pending pd)
{
	*q_at(sl, sl->len) = pd;
	sl->len++;
}

static void q_push_front(struct slot *sl, struct pending pd)
{
	sl->head = (sl->head + sl->cap - 1) % sl->cap;
	sl->q[sl->head] = pd;
	sl->len++;
}

static struct pending q_pop_front(struct slot *sl)
{
	struct pending pd = sl->q[sl->head];

	sl->head = (sl->head + 1) % sl->cap;
	sl->len--;
	return pd;
}

static struct pending q_remove(struct slot *sl, size_t idx)
{
	struct pending pd = *q_at(sl, idx);

	for (size_t i = idx; i + 1 < sl->len; i++)
		*q_at(sl, i) = *q_at(sl, i + 1);
	sl->len--;
	return pd;
}

static void count_drop(struct slot *sl, const char *reason, struct alert *a)
{
	const char *labels[] = { sl->sink->name, reason };
	uint64_t now = uv_now(sl->p->loop);

	metric_add(sl->p->m_dropped, labels, 1);
	sl->dropped++;
	sl->drops_unlogged++;
	/* Log at most once a second per sink, with the count since the last line. */
	if (now - sl->last_drop_log_ms >= 1000 || sl->last_drop_log_ms == 0) {
		log_warn("sink %s: dropped %llu alert(s) (%s); last: rule '%s' priority %s uuid %s",
			 sl->sink->name, (unsigned long long)sl->drops_unlogged, reason,
			 alert_rule(a), priority_name(alert_priority(a)), alert_uuid(a));
		sl->drops_unlogged = 0;
		sl->last_drop_log_ms = now ? now : 1;
	}
}

/*
 * A queue entry leaves its sink for good. `acked`: the sink is done with it (delivered,
 * refused, dropped), so the spool forgets it for that sink; otherwise (shutdown) it stays in the
 * spool and is delivered after the next start.
 */
static void pending_release(struct slot *sl, struct pending *pd, bool acked)
{
	struct pipeline *p = sl->p;

	if (pd->sp) {
		if (acked && p->spool)
			spool_ack(p->spool, pd->sp->id, sl->sink->name);
		if (--pd->sp->refs == 0) {
			p->spool_bytes -= pd->sp->bytes;
			p->spool_alerts--;
			free(pd->sp);
		}
		pd->sp = NULL;
	}
	alert_unref(pd->a);
	pd->a = NULL;
}

/* Queue an alert; when full, the oldest alert of the lowest priority goes first. */
static void slot_enqueue(struct slot *sl, struct alert *a, struct spooled *sp)
{
	struct pending pd = { alert_ref(a), 0, sp, uv_now(sl->p->loop) };

	/*
	 * A spooled alert is on disk: the spool's byte bound (lowest priority first) applies to
	 * it, not queue.max_alerts, so a long outage loses nothing that fits spool.max_bytes.
	 */
	if (sp) {
		if (!q_reserve(sl)) {
			/* Kept on disk: the next start delivers it. */
			count_drop(sl, "no_memory", a);
			pending_release(sl, &pd, false);
			return;
		}
		q_push_back(sl, pd);
		return;
	}
	if (sl->len >= (size_t)sl->p->set.queue_max) {
		size_t victim = 0;
		enum priority worst = alert_priority(q_at(sl, 0)->a);

		for (size_t i = 1; i < sl->len; i++) {
			enum priority pr = alert_priority(q_at(sl, i)->a);

			if (pr > worst) {
				worst = pr;
				victim = i;
			}
		}
		if (alert_priority(a) > worst) {
			/* The newcomer is the least severe of all: it is the one to go. */
			count_drop(sl, "queue_full", a);
			pending_release(sl, &pd, true);
			return;
		}
		{
			struct pending old = q_remove(sl, victim);

			count_drop(sl, "queue_full", old.a);
			pending_release(sl, &old, true);
		}
	}
	q_push_back(sl, pd);
}

/* --- delivery ----------------------------------------------------------------------------- */

static void slot_pump(struct slot *sl);
static void maybe_finish_shutdown(struct pipeline *p);

static void on_backoff_timer(uv_timer_t *t)
{
	struct slot *sl = t->data;

	sl->paused = false;
	sl->probing = true;
	slot_pump(sl);
}

static void slot_pause(struct slot *sl, int64_t retry_after_ms)
{
	struct pipeline *p = sl->p;
	int64_t delay;

	sl->failures++;
	if (retry_after_ms >= 0)
		delay = retry_after_ms < p->set.retry_after_max_ms ? retry_after_ms :
								     p->set.retry_after_max_ms;
	else
		delay = pipeline_backoff_ms(p->set.retry_initial_ms, p->set.retry_max_ms,
					    sl->failures, random_u64());
	if (sl->paused)
		return;
	sl->paused = true;
	uv_timer_start(&sl->timer, on_backoff_timer, (uint64_t)delay, 0);
}

static void set_last_error(struct slot *sl, const char *msg)
{
	struct timespec ts;

	snprintf(sl->last_error, sizeof(sl->last_error), "%s", msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	sl->last_error_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last alert of a request is done: requeue its retries, pause once, go on. */
static void flight_end(struct flight *f)
{
	struct slot *sl = f->slot;
	struct pipeline *p = sl->p;

	sl->requests--;
	if (f->retries) {
		if (sl->failures == 0)
			log_warn("sink %s: delivery failed, will retry: %s", sl->sink->name,
				 f->retry_msg);
		/* Back at the head in their order: pushed front from the last one. */
		for (size_t i = f->n; i-- > 0;) {
			struct inflight *in = &f->tok[i];

			if (!in->retry)
				continue;
			if (sl->closed) {
				/* With the spool on it is delivered after the next start. */
				if (!in->pd.sp)
					count_drop(sl, "shutdown", in->pd.a);
				pending_release(sl, &in->pd, false);
			} else if (!q_reserve(sl)) {
				/* Spooled: kept on disk for the next start; else lost, and counted. */
				count_drop(sl, "no_memory", in->pd.a);
				pending_release(sl, &in->pd, false);
			} else {
				q_push_front(sl, in->pd);
			}
		}
		if (!sl->closed)
			slot_pause(sl, f->retry_after_ms);
	} else if (f->ok) {
		sl->failures = 0;
		sl->probing = false;
	}
	free(f);
	slot_pump(sl);
	if (p->shutting_down)
		maybe_finish_shutdown(p);
}

static void on_sink_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct inflight *in = token;
	struct flight *f = in->f;
	struct slot *sl = f->slot;
	struct pipeline *p = sl->p;
	struct pending *pd = &in->pd;
	const char *ok[] = { s->name, "ok" }, *error[] = { s->name, "error" };
	const char *retry[] = { s->name };

	sl->inflight--;
	switch (st->result) {
	case SINK_OK:
		metric_add(p->m_outputs, ok, 1);
		sl->delivered++;
		f->ok++;
		pending_release(sl, pd, true);
		break;
	case SINK_FAIL:
		metric_add(p->m_outputs, error, 1);
		sl->failed++;
		set_last_error(sl, st->msg);
		log_error("sink %s: alert %s (rule '%s') refused, not retried: %s", s->name,
			  alert_uuid(pd->a), alert_rule(pd->a), st->msg);
		pending_release(sl, pd, true);
		break;
	case SINK_RETRY:
		metric_add(p->m_outputs, error, 1);
		set_last_error(sl, st->msg);
		if (sl->closed) {
			/* With the spool on it is delivered after the next start. */
			if (!pd->sp)
				count_drop(sl, "shutdown", pd->a);
			pending_release(sl, pd, false);
			break;
		}
		pd->attempts++;
		if (p->set.retry_max_attempts && pd->attempts >= p->set.retry_max_attempts) {
			log_error("sink %s: alert %s (rule '%s') given up after %u attempts: %s",
				  s->name, alert_uuid(pd->a), alert_rule(pd->a), pd->attempts,
				  st->msg);
			count_drop(sl, "retries_exhausted", pd->a);
			pending_release(sl, pd, true);
			break;
		}
		metric_add(p->m_retries, retry, 1);
		sl->retries++;
		in->retry = true;
		f->retries++;
		if (st->retry_after_ms > f->retry_after_ms)
			f->retry_after_ms = st->retry_after_ms;
		snprintf(f->retry_msg, sizeof(f->retry_msg), "%s", st->msg);
		break;
	}
	if (--f->left == 0)
		flight_end(f);
}

static void on_wake_timer(uv_timer_t *t)
{
	slot_pump(t->data);
}

/*
 * Start one request with the n alerts at the head of the queue. 0, or -1 when the pump must
 * stop: out of memory (the alerts stay queued), or the sink could not start (they come back
 * as retries, which already pumped).
 */
static int slot_send(struct slot *sl, size_t n)
{
	const struct sink_ops *ops = sl->sink->ops;
	struct flight *f = calloc(1, sizeof(*f) + n * sizeof(f->tok[0]));
	struct alert **alerts = NULL;
	void **tokens = NULL;
	int err;

	if (f && ops->send_batch) {
		alerts = malloc(n * sizeof(*alerts));
		tokens = malloc(n * sizeof(*tokens));
	}
	if (!f || (ops->send_batch && (!alerts || !tokens))) {
		free(alerts);
		free(tokens);
		free(f);
		return -1;
	}
	f->slot = sl;
	f->n = f->left = n;
	f->retry_after_ms = -1;
	for (size_t i = 0; i < n; i++) {
		f->tok[i].f = f;
		f->tok[i].pd = q_pop_front(sl);
		if (alerts) {
			alerts[i] = f->tok[i].pd.a;
			tokens[i] = &f->tok[i];
		}
	}
	sl->inflight += (unsigned)n;
	sl->requests++;
	if (ops->send_batch)
		err = ops->send_batch(sl->sink, alerts, tokens, n);
	else
		err = ops->send(sl->sink, f->tok[0].pd.a, &f->tok[0]);
	free(alerts);
	free(tokens);
	if (err) {
		struct sink_status st = { .result = SINK_RETRY, .retry_after_ms = -1 };

		snprintf(st.msg, sizeof(st.msg), "send: %s", strerror(-err));
		/* Same path as an asynchronous retryable failure; the last one frees f. */
		sl->pumping = false;
		for (size_t i = 0; i < n; i++)
			on_sink_done(sl->sink, &f->tok[i], &st);
		return -1;
	}
	return 0;
}

static void slot_pump(struct slot *sl)
{
	struct pipeline *p = sl->p;

	if (sl->pumping)
		return;
	sl->pumping = true;
	while (sl->len && !sl->paused && !sl->closed) {
		unsigned limit = sl->probing ? 1 : (unsigned)sl->set.maxconcurrentrequests;
		uint64_t now = uv_now(p->loop), wait = 1;
		size_t n;

		if (sl->requests >= limit)
			break;
		/*
		 * A partial batch waits for batch.wait, except the probe after a backoff and at
		 * shutdown; a request waits for a ratelimit token.
		 */
		n = sink_filter_batch(sl->filter, sl->len, now - q_at(sl, 0)->queued_ms,
				      p->shutting_down || sl->probing, &wait);
		if (n && !sink_filter_take(sl->filter, now, &wait))
			n = 0;
		if (!n) {
			uv_timer_start(&sl->timer, on_wake_timer, wait ? wait : 1, 0);
			break;
		}
		if (slot_send(sl, n))
			return;
	}
	sl->pumping = false;
}

/* --- submit ------------------------------------------------------------------------------- */

static int enrich(struct pipeline *p, struct alert *a)
{
	int err = 0;

	if (!alert_hostname(a)[0])
		err = alert_set_hostname(a, p->hostname);
	for (size_t i = 0; !err && i < p->set.customfields.n; i++)
		err = alert_add_field(a, p->set.customfields.keys[i],
				      p->set.customfields.values[i]);
	for (size_t i = 0; !err && i < p->set.customtags.n; i++)
		err = alert_add_tag(a, p->set.customtags.v[i]);
	return err;
}

static const char *field_string(const struct alert *a, const char *key)
{
	const char *v = json_string_value(json_object_get(alert_output_fields(a), key));

	return v ? v : "";
}

static void report_spool_full(struct pipeline *p);
static bool spool_evict_one(struct pipeline *p);

static void enqueue_targets(struct pipeline *p, struct alert *a, uint64_t targets,
			    struct spooled *sp)
{
	for (size_t i = 0; i < p->n_slots; i++) {
		if (targets & (1ULL << i)) {
			slot_enqueue(&p->slots[i], a, sp);
			slot_pump(&p->slots[i]);
		}
	}
}

static struct pipeline_hold *hold_new(struct pipeline *p, struct alert *a, uint64_t targets,
				      struct spooled *sp)
{
	struct pipeline_hold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->a = alert_ref(a);
	h->targets = targets;
	h->sp = sp;
	h->prev = p->holds.prev;
	h->next = &p->holds;
	h->prev->next = h;
	p->holds.prev = h;
	p->n_holds++;
	return h;
}

static void hold_free(struct pipeline *p, struct pipeline_hold *h)
{
	h->prev->next = h->next;
	h->next->prev = h->prev;
	p->n_holds--;
	alert_unref(h->a);
	free(h->topic);
	free(h);
}

/* Every sink of h lets it go: acked (the spool forgets it) or not (it stays for next start). */
static void hold_drop(struct pipeline *p, struct pipeline_hold *h, bool acked)
{
	for (size_t i = 0; i < p->n_slots; i++) {
		if (h->targets & (1ULL << i)) {
			struct pending pd = { alert_ref(h->a), 0, h->sp };

			if (!h->sp && !acked)
				count_drop(&p->slots[i], "shutdown", h->a);
			pending_release(&p->slots[i], &pd, acked);
		}
	}
	hold_free(p, h);
	if (p->shutting_down)
		maybe_finish_shutdown(p);
}

void pipeline_release(struct pipeline *p, struct pipeline_hold *h)
{
	if (p->closing) {
		hold_drop(p, h, false);
		return;
	}
	enqueue_targets(p, h->a, h->targets, h->sp);
	hold_free(p, h);
}

void pipeline_discard(struct pipeline *p, struct pipeline_hold *h)
{
	if (p->dedup)
		dedup_forget(p->dedup, alert_uuid(h->a));
	hold_drop(p, h, true);
}

void pipeline_abandon(struct pipeline *p, struct pipeline_hold *h)
{
	hold_drop(p, h, false);
}

int pipeline_mark_committing(struct pipeline *p, const struct pipeline_origin *o, size_t n,
			     bool wait, pipeline_done_fn cb, void *data)
{
	int err = 0;

	/* One queue, applied in order: the last mark's callback says all are written. */
	for (size_t i = 0; p->spool && !err && i < n; i++)
		err = spool_mark_committing(p->spool, o[i].topic, o[i].partition, o[i].offset, wait,
					    i + 1 == n ? cb : NULL, i + 1 == n ? data : NULL);
	if (err)
		return err;
	if ((!p->spool || !n) && !wait && cb)
		cb(data, 0);
	return 0;
}

void pipeline_forget_uuid(struct pipeline *p, const char *uuid)
{
	if (p->dedup)
		dedup_forget(p->dedup, uuid);
}

const char *pipeline_hold_uuid(const struct pipeline_hold *h)
{
	return alert_uuid(h->a);
}

size_t pipeline_take_spooled(struct pipeline *p,
			     void (*fn)(void *ctx, struct pipeline_hold *h,
					const struct pipeline_origin *o),
			     void *ctx)
{
	struct pipeline_hold *h, *next;
	size_t n = 0;

	for (h = p->holds.next; h != &p->holds; h = next) {
		next = h->next;
		if (h->startup) {
			struct pipeline_origin o = { h->topic, h->partition, h->offset,
						     h->committing };

			h->startup = false;
			n++;
			fn(ctx, h, &o);
		}
	}
	return n;
}

void pipeline_release_spooled(struct pipeline *p)
{
	struct pipeline_hold *h, *next;

	for (h = p->holds.next; h != &p->holds; h = next) {
		next = h->next;
		if (h->startup)
			pipeline_release(p, h);
	}
}

static void on_spooled(void *data, int err)
{
	struct spool_wait *w = data;
	struct pipeline *p = w->p;

	p->spool_waiting--;
	if (p->closing) {
		/* Committed (or not) while closing: the next start delivers what was written. */
		for (size_t i = 0; i < p->n_slots; i++) {
			if (w->targets & (1ULL << i)) {
				struct pending pd = { alert_ref(w->a), 0, w->sp };

				pending_release(&p->slots[i], &pd, false);
			}
		}
	} else if (w->held_cb) {
		struct pipeline_hold *h = hold_new(p, w->a, w->targets, w->sp);

		if (!h) {
			log_error("alert %s: %s holding it: delivered now", alert_uuid(w->a),
				  strerror(ENOMEM));
			enqueue_targets(p, w->a, w->targets, w->sp);
		}
		w->held_cb(w->data, 0, h);
		w->held_cb = NULL;
		w->cb = NULL;
	} else {
		/* A spool write error is logged and counted; the alert still goes out. */
		enqueue_targets(p, w->a, w->targets, w->sp);
		/* Inserts of one burst commit together: enforce the bound once they are queued. */
		while (p->spool_bytes > p->set.spool_max && spool_evict_one(p))
			;
	}
	if (w->held_cb)
		w->held_cb(w->data, 0, NULL);
	else if (w->cb)
		w->cb(w->data, 0);
	alert_unref(w->a);
	free(w);
	if (p->shutting_down)
		maybe_finish_shutdown(p);
	else
		report_spool_full(p);
}

/* Make room in the spool: drop the lowest-priority oldest queued alert, from every sink. */
static bool spool_evict_one(struct pipeline *p)
{
	struct spooled *victim = NULL;
	enum priority worst = PRIORITY_EMERGENCY;

	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *sl = &p->slots[i];

		for (size_t j = 0; j < sl->len; j++) {
			struct pending *pd = q_at(sl, j);
			enum priority pr = alert_priority(pd->a);

			if (!pd->sp)
				continue;
			if (!victim || pr > worst || (pr == worst && pd->sp->id < victim->id)) {
				victim = pd->sp;
				worst = pr;
			}
		}
	}
	if (!victim)
		return false;
	/* Release from every queue holding it; the last release frees victim. */
	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *sl = &p->slots[i];

		for (size_t j = 0; j < sl->len; j++) {
			if (q_at(sl, j)->sp == victim) {
				struct pending pd = q_remove(sl, j);

				count_drop(sl, "spool_full", pd.a);
				pending_release(sl, &pd, true);
				break;
			}
		}
	}
	p->spool_evicted++;
	return true;
}

/* The internal alert telling that the spool was full, at most once a minute. */
static void report_spool_full(struct pipeline *p)
{
	uint64_t now = uv_now(p->loop);
	struct alert_init init = { 0 };
	struct timespec ts;
	char *out = NULL;
	struct alert *a;

	if (!p->spool_evicted || p->in_internal ||
	    (p->spool_alert_ms && now - p->spool_alert_ms < 60000))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	init.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	init.rule = "lanner spool full";
	init.priority = PRIORITY_ERROR;
	init.source = "internal";
	init.output_fields = json_pack("{s:I, s:I}", "spool.max_bytes",
				       (json_int_t)p->set.spool_max, "spool.dropped",
				       (json_int_t)p->spool_evicted);
	if (asprintf(&out,
		     "lanner: spool full (spool.max_bytes=%llu): dropped %llu alert(s), lowest "
		     "priority and oldest first",
		     (unsigned long long)p->set.spool_max,
		     (unsigned long long)p->spool_evicted) < 0)
		out = NULL;
	init.output = out;
	a = alert_new(&init);
	free(out);
	p->spool_evicted = 0;
	p->spool_alert_ms = now ? now : 1;
	if (!a)
		return;
	p->in_internal = true;
	pipeline_submit(p, a);
	p->in_internal = false;
}

/* True when the alert must not go on: its uuid was accepted within dedup.uuid_window, or it
 * was absorbed by content aggregation. Counted either way. */
static bool deduplicated(struct pipeline *p, struct alert *a)
{
	uint64_t now = uv_now(p->loop);
	const char *reason = NULL;

	if (!p->dedup)
		return false;
	if (dedup_seen(p->dedup, alert_uuid(a), now))
		reason = "uuid";
	else if (dedup_aggregate(p->dedup, a, now) == DEDUP_ABSORBED)
		reason = "aggregated";
	if (!reason)
		return false;
	metric_add(p->m_dedup, &reason, 1);
	return true;
}

/* A content-aggregation window ended: its summary goes through the pipeline like any alert. */
static void on_dedup_summary(void *data, struct alert *summary)
{
	struct pipeline *p = data;
	int err = pipeline_submit(p, summary);

	if (err)
		log_warn("dedup: summary alert not accepted: %s", strerror(-err));
}

int pipeline_submit(struct pipeline *p, struct alert *a)
{
	return pipeline_submit_cb(p, a, NULL, NULL);
}

static int submit(struct pipeline *p, struct alert *a, pipeline_done_fn cb,
		  pipeline_held_fn held_cb, void *data, const struct pipeline_origin *origin);

int pipeline_submit_cb(struct pipeline *p, struct alert *a, pipeline_done_fn cb, void *data)
{
	return submit(p, a, cb, NULL, data, NULL);
}

int pipeline_submit_held(struct pipeline *p, struct alert *a, const struct pipeline_origin *o,
			 pipeline_held_fn cb, void *data)
{
	return submit(p, a, NULL, cb, data, o);
}

static int submit(struct pipeline *p, struct alert *a, pipeline_done_fn cb,
		  pipeline_held_fn held_cb, void *data, const struct pipeline_origin *origin)
{
	const char *labels[6], *names[64];
	struct spool_wait *w = NULL;
	uint64_t targets = 0;
	size_t n = 0, len = 0;
	const char *json;
	int err;

	if (p->shutting_down) {
		alert_unref(a);
		return -ESHUTDOWN;
	}
	err = enrich(p, a);
	if (!err && !alert_is_test(a) && deduplicated(p, a)) {
		/* Already accepted (uuid) or folded into a pending summary: done, like delivered. */
		alert_unref(a);
		if (held_cb)
			held_cb(data, 0, NULL);
		else if (cb)
			cb(data, 0);
		return 0;
	}
	if (!err)
		err = alert_freeze(a);
	if (err) {
		log_error("alert %s: %s", alert_uuid(a), strerror(-err));
		alert_unref(a);
		return err;
	}
	labels[0] = alert_rule(a);
	labels[1] = priority_name(alert_priority(a));
	labels[2] = alert_source(a);
	labels[3] = alert_hostname(a);
	labels[4] = field_string(a, "k8s.ns.name");
	labels[5] = field_string(a, "k8s.pod.name");
	metric_add(p->m_events, labels, 1);

	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *sl = &p->slots[i];

		if (!alert_is_test(a) &&
		    (!priority_at_least(alert_priority(a),
					(enum priority)sl->set.minimumpriority) ||
		     !sink_filter_match(sl->filter, a)))
			continue;
		targets |= 1ULL << i;
		names[n++] = sl->sink->name;
	}
	json = p->spool && n ? alert_json(a, &len) : NULL;
	if (json)
		w = calloc(1, sizeof(*w));
	if (w)
		w->sp = calloc(1, sizeof(*w->sp));
	if (!w || !w->sp) {
		/* Memory mode, no sink, or no memory for the spool's bookkeeping: straight on. */
		struct pipeline_hold *h = held_cb && targets ? hold_new(p, a, targets, NULL) : NULL;

		if (w)
			free(w);
		if (!h)
			enqueue_targets(p, a, targets, NULL);
		alert_unref(a);
		if (held_cb)
			held_cb(data, 0, h);
		else if (cb)
			cb(data, 0);
		return 0;
	}
	w->p = p;
	w->a = a;
	w->targets = targets;
	w->cb = cb;
	w->held_cb = held_cb;
	w->data = data;
	w->sp->id = spool_next_id(p->spool);
	w->sp->refs = (unsigned)n;
	w->sp->bytes = len;
	while (p->spool_bytes + len > p->set.spool_max && spool_evict_one(p))
		;
	p->spool_bytes += len;
	p->spool_alerts++;
	{
		struct spool_origin so = { 0 };

		if (origin)
			so = (struct spool_origin){ origin->topic, origin->partition,
						    origin->offset };
		err = spool_insert_origin(p->spool, w->sp->id, alert_priority(a), json, len, &so,
					  names, n, on_spooled, w);
	}
	if (err) {
		log_error("spool: alert %s not written (%s): delivering from memory", alert_uuid(a),
			  strerror(-err));
		p->spool_waiting++;
		on_spooled(w, err);
	} else {
		p->spool_waiting++;
	}
	report_spool_full(p);
	return 0;
}

int pipeline_deliver_to(struct pipeline *p, struct alert *a, const char *sink_name)
{
	if (p->shutting_down)
		return -ESHUTDOWN;
	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *sl = &p->slots[i];

		if (sl->sink && !strcmp(sl->sink->name, sink_name)) {
			slot_enqueue(sl, a, NULL);
			slot_pump(sl);
			return 0;
		}
	}
	return -ENOENT;
}

static int env_submit(void *ctx, struct alert *a)
{
	return pipeline_submit(ctx, a);
}

static int env_deliver_to(void *ctx, struct alert *a, const char *sink_name)
{
	return pipeline_deliver_to(ctx, a, sink_name);
}

/* --- metrics ------------------------------------------------------------------------------ */

static void gauge_queue(void *data, metrics_emit_fn emit, void *ctx)
{
	struct pipeline *p = data;

	for (size_t i = 0; i < p->n_slots; i++) {
		const char *l[] = { p->slots[i].sink->name };

		emit(ctx, l, (double)p->slots[i].len);
	}
}

static void gauge_inflight(void *data, metrics_emit_fn emit, void *ctx)
{
	struct pipeline *p = data;

	for (size_t i = 0; i < p->n_slots; i++) {
		const char *l[] = { p->slots[i].sink->name };

		emit(ctx, l, (double)p->slots[i].inflight);
	}
}

static void gauge_backoff(void *data, metrics_emit_fn emit, void *ctx)
{
	struct pipeline *p = data;

	for (size_t i = 0; i < p->n_slots; i++) {
		const char *l[] = { p->slots[i].sink->name };

		emit(ctx, l, p->slots[i].paused ? 1.0 : 0.0);
	}
}

static void gauge_spool(void *data, metrics_emit_fn emit, void *ctx)
{
	struct pipeline *p = data;
	const char *bytes[] = { "bytes" }, *errors[] = { "write_errors" };

	emit(ctx, bytes, (double)p->spool_bytes);
	emit(ctx, errors, p->spool ? (double)spool_errors(p->spool) : 0.0);
}

static int declare_metrics(struct pipeline *p)
{
	static const char *const what[] = { "what" };

	static const char *const ev4[] = { "rule", "priority", "source", "hostname" };
	static const char *const ev6[] = { "rule",     "priority",    "source",
					   "hostname", "k8s_ns_name", "k8s_pod_name" };
	static const char *const out[] = { "destination", "status" };
	static const char *const sink[] = { "sink" };
	static const char *const drop[] = { "sink", "reason" };
	static const char *const reason[] = { "reason" };
	struct metrics *m = p->metrics;

	p->m_events = metrics_counter(m, "falcosecurity_falcosidekick_falco_events_total",
				      "Alerts accepted by the pipeline",
				      p->set.pod_labels ? ev6 : ev4, p->set.pod_labels ? 6 : 4);
	p->m_outputs = metrics_counter(m, "falcosecurity_falcosidekick_outputs_total",
				       "Delivery attempts per output and result", out, 2);
	p->m_retries = metrics_counter(m, "lanner_retries_total",
				       "Deliveries scheduled again after a retryable failure", sink,
				       1);
	p->m_dropped = metrics_counter(m, "lanner_dropped_total",
				       "Alerts a sink will never deliver, by reason", drop, 2);
	p->m_dedup =
		metrics_counter(m, "lanner_dedup_total",
				"Alerts not delivered again: uuid seen within dedup.uuid_window, "
				"or aggregated into a summary",
				reason, 1);
	if (!p->m_events || !p->m_outputs || !p->m_retries || !p->m_dropped || !p->m_dedup)
		return -ENOMEM;
	if (metrics_gauge(m, "lanner_queue_depth", "Alerts waiting in a sink's queue", sink, 1,
			  gauge_queue, p) ||
	    metrics_gauge(m, "lanner_inflight", "Deliveries in flight per sink", sink, 1,
			  gauge_inflight, p) ||
	    metrics_gauge(m, "lanner_sink_backoff", "1 while a sink waits before retrying", sink, 1,
			  gauge_backoff, p) ||
	    metrics_gauge(m, "lanner_spool", "Spool: bytes of undelivered alerts, write errors",
			  what, 1, gauge_spool, p))
		return -ENOMEM;
	return 0;
}

/* --- spool at startup --------------------------------------------------------------------- */

struct spool_loader {
	struct pipeline *p;
	int64_t id;
	struct alert *a;
	struct spooled *sp;
	struct pipeline_hold *hold; /* the current alert has a Kafka origin */
	size_t alerts, deliveries, held;
};

static void loader_release(struct spool_loader *l)
{
	if (l->hold && !l->hold->targets) {
		/* No configured sink wants it any more (acked for each, above). */
		l->hold->sp = NULL;
		hold_free(l->p, l->hold);
	}
	l->hold = NULL;
	/* The loader's own hold on the record (refs started at 1). */
	if (l->sp && --l->sp->refs == 0) {
		l->p->spool_bytes -= l->sp->bytes;
		l->p->spool_alerts--;
		free(l->sp);
	}
	l->sp = NULL;
	alert_unref(l->a);
	l->a = NULL;
}

static void on_spooled_row(void *ctx, int64_t id, int priority, const char *json, size_t len,
			   const char *sink)
{
	struct spool_loader *l = ctx;
	struct pipeline *p = l->p;
	struct slot *sl = NULL;

	if (id != l->id) {
		struct alert_error err;

		loader_release(l);
		l->id = id;
		l->a = alert_parse(json, len, &err);
		if (!l->a) {
			log_error("spool: alert %lld unreadable (%s): dropped", (long long)id,
				  err.msg);
		} else {
			alert_freeze(l->a);
			/* a replay of what the previous run accepted is a duplicate */
			if (p->dedup)
				dedup_seen(p->dedup, alert_uuid(l->a), uv_now(p->loop));
			l->sp = calloc(1, sizeof(*l->sp));
			if (!l->sp) {
				log_error("spool: out of memory loading alert %lld", (long long)id);
				alert_unref(l->a);
				l->a = NULL;
			} else {
				l->sp->id = id;
				l->sp->refs = 1;
				l->sp->bytes = len;
				p->spool_bytes += len;
				p->spool_alerts++;
				l->alerts++;
			}
		}
	}
	for (size_t i = 0; i < p->n_slots; i++)
		if (!strcmp(p->slots[i].sink->name, sink))
			sl = &p->slots[i];
	if (!l->a || !sl) {
		if (l->a)
			log_warn("spool: alert %lld waits for output '%s', which is not configured "
				 "any more: dropped for it",
				 (long long)id, sink);
		spool_ack(p->spool, id, sink);
		return;
	}
	(void)priority;
	l->sp->refs++;
	slot_enqueue(sl, l->a, l->sp);
	l->deliveries++;
}

/*
 * A row of an alert read from Kafka: held instead of queued, until the Kafka input has asked the
 * group whether it will replay it (pipeline_take_spooled).
 */
static void on_spooled_row_origin(void *ctx, const struct spool_row *r)
{
	struct spool_loader *l = ctx;
	struct pipeline *p = l->p;
	struct slot *sl = NULL;

	if (!r->origin.topic) {
		on_spooled_row(ctx, r->id, r->priority, r->json, r->len, r->sink);
		return;
	}
	if (r->id != l->id) {
		struct alert_error err;

		loader_release(l);
		l->id = r->id;
		l->a = alert_parse(r->json, r->len, &err);
		if (!l->a) {
			log_error("spool: alert %lld unreadable (%s): dropped", (long long)r->id,
				  err.msg);
		} else {
			alert_freeze(l->a);
			/* a replay of what the previous run accepted is a duplicate (unless the
			 * Kafka input discards it: then the uuid is forgotten again) */
			if (p->dedup)
				dedup_seen(p->dedup, alert_uuid(l->a), uv_now(p->loop));
			l->sp = calloc(1, sizeof(*l->sp));
			l->hold = l->sp ? hold_new(p, l->a, 0, l->sp) : NULL;
			if (l->hold)
				l->hold->topic = strdup(r->origin.topic);
			if (!l->hold || !l->hold->topic) {
				log_error("spool: out of memory loading alert %lld",
					  (long long)r->id);
				if (l->hold)
					hold_free(p, l->hold);
				l->hold = NULL;
				free(l->sp);
				l->sp = NULL;
				alert_unref(l->a);
				l->a = NULL;
			} else {
				l->sp->id = r->id;
				l->sp->refs = 1;
				l->sp->bytes = r->len;
				p->spool_bytes += r->len;
				p->spool_alerts++;
				l->hold->partition = r->origin.partition;
				l->hold->offset = r->origin.offset;
				l->hold->committing = r->origin.committing;
				l->hold->startup = true;
				l->held++;
			}
		}
	}
	for (size_t i = 0; i < p->n_slots; i++)
		if (!strcmp(p->slots[i].sink->name, r->sink))
			sl = &p->slots[i];
	if (!l->hold || !sl) {
		if (l->hold)
			log_warn("spool: alert %lld waits for output '%s', which is not configured "
				 "any more: dropped for it",
				 (long long)r->id, r->sink);
		spool_ack(p->spool, r->id, r->sink);
		return;
	}
	l->sp->refs++;
	l->hold->targets |= 1ULL << (size_t)(sl - p->slots);
	l->deliveries++;
}

static int open_spool(struct pipeline *p)
{
	struct spool_loader l = { .p = p, .id = -1 };
	int err;

	p->spool = spool_open(p->loop, p->set.spool_path, p->set.spool_sync == 1);
	if (!p->spool)
		return -errno;
	err = spool_load_rows(p->spool, on_spooled_row_origin, &l);
	loader_release(&l);
	if (err)
		return err;
	if (l.alerts)
		log_info("spool %s: delivering %zu alert(s) (%zu deliveries) left from a previous "
			 "run",
			 p->set.spool_path, l.alerts, l.deliveries);
	if (l.held)
		log_info("spool %s: %zu alert(s) read from Kafka wait for the consumer group's "
			 "committed offsets (delivered, or left to the group's replay)",
			 p->set.spool_path, l.held);
	for (size_t i = 0; i < p->n_slots; i++)
		slot_pump(&p->slots[i]);
	return 0;
}

/* --- life cycle --------------------------------------------------------------------------- */

static bool sink_wanted(struct config *cfg, const struct sink_ops *ops)
{
	const char *v = config_get(cfg, ops->enable_key);
	size_t plen = strlen(ops->name);

	/* A list (alertmanager.hostport: [a, b]) has no scalar text, yet it is set. */
	if (!v && config_is_set(cfg, ops->enable_key))
		return true;
	/* Unset: the table default of the enable key decides (stdout.enabled: true). */
	if (!v && ops->options && !strncmp(ops->enable_key, ops->name, plen) &&
	    ops->enable_key[plen] == '.') {
		for (const struct config_option *o = ops->options; o->key; o++)
			if (!strcasecmp(o->key, ops->enable_key + plen + 1))
				v = o->def;
	}
	if (!v || !*v)
		return false;
	return strcasecmp(v, "false") && strcasecmp(v, "no") && strcasecmp(v, "off") &&
	       strcmp(v, "0");
}

static int slot_init(struct pipeline *p, struct slot *sl, struct config *cfg,
		     const struct sink_ops *ops)
{
	struct sink_env env = {
		.loop = p->loop,
		.http = p->http,
		.hostname = p->hostname,
		.submit = env_submit,
		.deliver_to = env_deliver_to,
		.ctx = p,
	};
	struct sink *s;
	int err;

	sl->p = p;
	uv_timer_init(p->loop, &sl->timer);
	sl->timer.data = sl;
	p->handles_open++;
	sl->set.minimumpriority = PRIORITY_DEBUG;
	sl->set.maxconcurrentrequests = 4;
	err = config_bind(cfg, ops->name, pipeline_sink_options, &sl->set);
	if (err)
		return err;
	if (ops->default_concurrency) {
		char key[96];

		snprintf(key, sizeof(key), "%s.maxconcurrentrequests", ops->name);
		if (!config_is_set(cfg, key))
			sl->set.maxconcurrentrequests = ops->default_concurrency;
	}
	sl->filter = sink_filter_new(cfg, ops);
	if (!sl->filter)
		return -errno;
	sl->cap = (size_t)p->set.queue_max +
		  (size_t)sl->set.maxconcurrentrequests * sink_filter_batch_size(sl->filter);
	sl->q = calloc(sl->cap, sizeof(*sl->q));
	s = calloc(1, ops->size);
	if (!sl->q || !s) {
		free(s);
		return -ENOMEM;
	}
	s->ops = ops;
	s->name = ops->name;
	s->loop = p->loop;
	s->done = on_sink_done;
	s->owner = sl;
	err = ops->init(s, cfg, &env);
	if (err) {
		log_error("output %s: cannot start: %s", ops->name, strerror(-err));
		free(s);
		return err;
	}
	sl->sink = s;
	return 0;
}

struct pipeline *pipeline_new(uv_loop_t *loop, struct config *cfg, struct metrics *m)
{
	return pipeline_new_with(loop, cfg, m, sink_registry);
}

struct pipeline *pipeline_new_with(uv_loop_t *loop, struct config *cfg, struct metrics *m,
				   const struct sink_ops *const *registry)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	size_t n = 0;
	int err;

	if (!p)
		return NULL;
	p->loop = loop;
	p->metrics = m;
	p->holds.next = p->holds.prev = &p->holds;
	err = config_bind(cfg, "", pipeline_options, &p->set);
	if (err)
		goto err_free;
	if (p->set.hostname && *p->set.hostname)
		snprintf(p->hostname, sizeof(p->hostname), "%s", p->set.hostname);
	else if (gethostname(p->hostname, sizeof(p->hostname) - 1))
		snprintf(p->hostname, sizeof(p->hostname), "unknown");
	err = declare_metrics(p);
	if (err)
		goto err_free;
	p->http = http_client_new(loop);
	if (!p->http) {
		err = -errno;
		goto err_free;
	}
	uv_timer_init(loop, &p->shutdown_timer);
	p->shutdown_timer.data = p;
	p->handles_open++;

	for (size_t i = 0; registry[i]; i++)
		n++;
	p->slots = calloc(n ? n : 1, sizeof(*p->slots));
	if (!p->slots) {
		err = -ENOMEM;
		goto err_close;
	}
	for (size_t i = 0; registry[i]; i++) {
		if (!sink_wanted(cfg, registry[i]))
			continue;
		if (p->n_slots == 64) {
			log_error("more than 64 outputs configured");
			err = -E2BIG;
			goto err_close;
		}
		err = slot_init(p, &p->slots[p->n_slots++], cfg, registry[i]);
		if (err)
			goto err_close;
	}
	{
		struct dedup_settings ds = { 0 };

		err = config_bind(cfg, "dedup", dedup_options, &ds);
		if (err)
			goto err_close;
		if (ds.uuid_window_ms > 0 || ds.agg_window_ms > 0) {
			p->dedup = dedup_new(loop, &ds, on_dedup_summary, p);
			if (!p->dedup) {
				err = -errno;
				log_error("dedup: %s", errno == EINVAL ?
							       "dedup.aggregate.window needs "
							       "dedup.aggregate.fields" :
							       strerror(errno));
				goto err_close;
			}
		}
	}
	if (p->set.spool_mode == 0) {
		err = open_spool(p);
		if (err)
			goto err_close;
	}
	return p;

err_close:
	/* Started sinks and handles are closed through the normal shutdown path. */
	pipeline_shutdown(p, 0, NULL, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	pipeline_free(p);
	errno = -err;
	return NULL;
err_free:
	free(p);
	errno = -err;
	return NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct pipeline *p = h->data;

	if (h != (uv_handle_t *)&p->shutdown_timer)
		p = ((struct slot *)h->data)->p;
	if (--p->handles_open == 0 && p->shutdown_cb)
		p->shutdown_cb(p->shutdown_data);
}

static void finish_shutdown(struct pipeline *p)
{
	size_t left_in_spool = 0;

	if (p->closing)
		return;
	p->closing = true;
	uv_timer_stop(&p->shutdown_timer);
	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *sl = &p->slots[i];

		sl->closed = true;
		uv_timer_stop(&sl->timer);
		while (sl->sink && sl->len) {
			struct pending pd = q_pop_front(sl);

			if (pd.sp)
				left_in_spool++;
			else
				count_drop(sl, "shutdown", pd.a);
			pending_release(sl, &pd, false);
		}
		/* Abandoned in-flight sends come back through on_sink_done as drops. */
		if (sl->sink && sl->sink->ops->close)
			sl->sink->ops->close(sl->sink);
	}
	http_client_free(p->http);
	p->http = NULL;
	if (left_in_spool)
		log_info("%zu undelivered alert deliveries stay in the spool for the next start",
			 left_in_spool);
	/* Joins the writer: what is queued is written; late commits find the sinks closed. */
	spool_close(p->spool);
	p->spool = NULL;
	for (size_t i = 0; i < p->n_slots; i++)
		uv_close((uv_handle_t *)&p->slots[i].timer, on_handle_closed);
	uv_close((uv_handle_t *)&p->shutdown_timer, on_handle_closed);
}

static void maybe_finish_shutdown(struct pipeline *p)
{
	if (!p->closing && pipeline_pending(p) == 0)
		finish_shutdown(p);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct pipeline *p = t->data;

	log_warn("shutdown: %zu alert(s) still undelivered after the drain timeout",
		 pipeline_pending(p));
	finish_shutdown(p);
}

void pipeline_shutdown(struct pipeline *p, int64_t timeout_ms, void (*cb)(void *data), void *data)
{
	/* pending aggregation summaries go out with the rest */
	if (p->dedup && !p->shutting_down)
		dedup_close(p->dedup);
	p->shutting_down = true;
	p->shutdown_cb = cb;
	p->shutdown_data = data;
	/* Partial batches go now instead of waiting for their batch.wait. */
	for (size_t i = 0; i < p->n_slots && !p->closing; i++)
		slot_pump(&p->slots[i]);
	if (pipeline_pending(p) == 0 || timeout_ms <= 0) {
		finish_shutdown(p);
		return;
	}
	uv_timer_start(&p->shutdown_timer, on_shutdown_timeout, (uint64_t)timeout_ms, 0);
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_slots; i++) {
		free(p->slots[i].q);
		free(p->slots[i].sink);
		sink_filter_free(p->slots[i].filter);
	}
	/* Holds nobody released: their alerts stay in the spool (the next start decides). */
	while (p->holds.next != &p->holds) {
		struct pipeline_hold *h = p->holds.next;

		free(h->sp); /* held by this hold only */
		hold_free(p, h);
	}
	free(p->slots);
	dedup_free(p->dedup);
	free(p);
}

void pipeline_reopen(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_slots; i++) {
		struct sink *s = p->slots[i].sink;

		if (s->ops->reopen)
			s->ops->reopen(s);
	}
}

size_t pipeline_sink_count(const struct pipeline *p)
{
	return p->n_slots;
}

const char *pipeline_sink_name(const struct pipeline *p, size_t i)
{
	return i < p->n_slots ? p->slots[i].sink->name : NULL;
}

size_t pipeline_pending(const struct pipeline *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_slots; i++)
		n += p->slots[i].len + p->slots[i].inflight;
	return n + p->spool_waiting + p->n_holds;
}

struct http_client *pipeline_http(const struct pipeline *p)
{
	return p->http;
}

int pipeline_sink_stats(const struct pipeline *p, size_t i, struct pipeline_sink_stats *out)
{
	const struct slot *sl;

	if (i >= p->n_slots)
		return -ENOENT;
	sl = &p->slots[i];
	out->name = sl->sink->name;
	out->queue = sl->len;
	out->inflight = sl->inflight;
	out->delivered = sl->delivered;
	out->failed = sl->failed;
	out->dropped = sl->dropped;
	out->retries = sl->retries;
	out->backoff = sl->paused;
	out->last_error = sl->last_error;
	out->last_error_ms = sl->last_error_ms;
	return 0;
}

void pipeline_spool_stats(const struct pipeline *p, struct pipeline_spool_stats *out)
{
	out->disk = p->spool != NULL;
	out->bytes = p->spool_bytes;
	out->max_bytes = p->set.spool_max;
	out->pending = p->spool_alerts;
}

struct sink *pipeline_sink_find(const struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->n_slots; i++)
		if (!strcmp(p->slots[i].sink->name, name))
			return p->slots[i].sink;
	return NULL;
}
