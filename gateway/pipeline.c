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
};

/* A submitted alert waiting for its spool transaction to commit. */
struct spool_wait {
	struct pipeline *p;
	struct alert *a;
	struct spooled *sp;
	uint64_t targets; /* bit i: slots[i] */
	pipeline_done_fn cb;
	void *data;
};

/* Per-sink state: the sink, its bounded queue, its concurrency and backoff. */
struct slot {
	struct pipeline *p;
	struct sink *sink;
	struct pipeline_sink_settings set;
	/* Ring buffer; capacity = queue_max + maxconcurrentrequests so that in-flight alerts
	 * coming back for a retry always have room at the head. */
	struct pending *q;
	size_t cap, head, len;
	unsigned inflight;
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

/* The token of one send. */
struct inflight {
	struct slot *slot;
	struct pending pd;
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
	  "the spool's SQLite file (WAL)" },
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
	struct pending pd = { alert_ref(a), 0, sp };

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

static void on_sink_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct inflight *in = token;
	struct slot *sl = in->slot;
	struct pipeline *p = sl->p;
	struct pending pd = in->pd;
	const char *ok[] = { s->name, "ok" }, *error[] = { s->name, "error" };
	const char *retry[] = { s->name };

	free(in);
	sl->inflight--;
	switch (st->result) {
	case SINK_OK:
		metric_add(p->m_outputs, ok, 1);
		sl->delivered++;
		sl->failures = 0;
		sl->probing = false;
		pending_release(sl, &pd, true);
		break;
	case SINK_FAIL:
		metric_add(p->m_outputs, error, 1);
		sl->failed++;
		set_last_error(sl, st->msg);
		log_error("sink %s: alert %s (rule '%s') refused, not retried: %s", s->name,
			  alert_uuid(pd.a), alert_rule(pd.a), st->msg);
		pending_release(sl, &pd, true);
		break;
	case SINK_RETRY:
		metric_add(p->m_outputs, error, 1);
		set_last_error(sl, st->msg);
		if (sl->closed) {
			/* With the spool on it is delivered after the next start. */
			if (!pd.sp)
				count_drop(sl, "shutdown", pd.a);
			pending_release(sl, &pd, false);
			break;
		}
		pd.attempts++;
		if (p->set.retry_max_attempts && pd.attempts >= p->set.retry_max_attempts) {
			log_error("sink %s: alert %s (rule '%s') given up after %u attempts: %s",
				  s->name, alert_uuid(pd.a), alert_rule(pd.a), pd.attempts,
				  st->msg);
			count_drop(sl, "retries_exhausted", pd.a);
			pending_release(sl, &pd, true);
			break;
		}
		metric_add(p->m_retries, retry, 1);
		sl->retries++;
		if (sl->failures == 0)
			log_warn("sink %s: delivery failed, will retry: %s", s->name, st->msg);
		if (!q_reserve(sl)) {
			/* Spooled: kept on disk for the next start; else lost, and counted. */
			count_drop(sl, "no_memory", pd.a);
			pending_release(sl, &pd, false);
		} else {
			q_push_front(sl, pd);
		}
		slot_pause(sl, st->retry_after_ms);
		break;
	}
	slot_pump(sl);
	if (p->shutting_down)
		maybe_finish_shutdown(p);
}

static void slot_pump(struct slot *sl)
{
	if (sl->pumping)
		return;
	sl->pumping = true;
	while (sl->len && !sl->paused && !sl->closed) {
		unsigned limit = sl->probing ? 1 : (unsigned)sl->set.maxconcurrentrequests;
		struct inflight *in;
		int err;

		if (sl->inflight >= limit)
			break;
		in = malloc(sizeof(*in));
		if (!in)
			break;
		in->slot = sl;
		in->pd = q_pop_front(sl);
		sl->inflight++;
		err = sl->sink->ops->send(sl->sink, in->pd.a, in);
		if (err) {
			struct sink_status st = { .result = SINK_RETRY, .retry_after_ms = -1 };

			snprintf(st.msg, sizeof(st.msg), "send: %s", strerror(-err));
			/* Same path as an asynchronous retryable failure. */
			sl->pumping = false;
			on_sink_done(sl->sink, in, &st);
			return;
		}
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
	} else {
		/* A spool write error is logged and counted; the alert still goes out. */
		enqueue_targets(p, w->a, w->targets, w->sp);
		/* Inserts of one burst commit together: enforce the bound once they are queued. */
		while (p->spool_bytes > p->set.spool_max && spool_evict_one(p))
			;
	}
	if (w->cb)
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

int pipeline_submit_cb(struct pipeline *p, struct alert *a, pipeline_done_fn cb, void *data)
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
		if (cb)
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
		    !priority_at_least(alert_priority(a), (enum priority)sl->set.minimumpriority))
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
		if (w)
			free(w);
		enqueue_targets(p, a, targets, NULL);
		alert_unref(a);
		if (cb)
			cb(data, 0);
		return 0;
	}
	w->p = p;
	w->a = a;
	w->targets = targets;
	w->cb = cb;
	w->data = data;
	w->sp->id = spool_next_id(p->spool);
	w->sp->refs = (unsigned)n;
	w->sp->bytes = len;
	while (p->spool_bytes + len > p->set.spool_max && spool_evict_one(p))
		;
	p->spool_bytes += len;
	p->spool_alerts++;
	err = spool_insert(p->spool, w->sp->id, alert_priority(a), json, len, names, n, on_spooled,
			   w);
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
	size_t alerts, deliveries;
};

static void loader_release(struct spool_loader *l)
{
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

static int open_spool(struct pipeline *p)
{
	struct spool_loader l = { .p = p, .id = -1 };
	int err;

	p->spool = spool_open(p->loop, p->set.spool_path, p->set.spool_sync == 1);
	if (!p->spool)
		return -errno;
	err = spool_load(p->spool, on_spooled_row, &l);
	loader_release(&l);
	if (err)
		return err;
	if (l.alerts)
		log_info("spool %s: delivering %zu alert(s) (%zu deliveries) left from a previous "
			 "run",
			 p->set.spool_path, l.alerts, l.deliveries);
	for (size_t i = 0; i < p->n_slots; i++)
		slot_pump(&p->slots[i]);
	return 0;
}

/* --- life cycle --------------------------------------------------------------------------- */

static bool sink_wanted(struct config *cfg, const struct sink_ops *ops)
{
	const char *v = config_get(cfg, ops->enable_key);
	size_t plen = strlen(ops->name);

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
	sl->cap = (size_t)p->set.queue_max + (size_t)sl->set.maxconcurrentrequests;
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
	return n + p->spool_waiting;
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
