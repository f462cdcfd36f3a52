/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_PIPELINE_H
#define LANNER_GATEWAY_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "config/priority.h"
#include "outputs/alert.h"
#include "outputs/sink.h"

/*
 * The gateway pipeline, on the gateway's libuv loop:
 *
 *	submit -> enrich (hostname, customfields, customtags) -> freeze -> count
 *	       -> per sink: minimumpriority and match lists (POST /test bypasses them) -> bounded
 *	          queue -> batch (sinks with send_batch) -> ratelimit token
 *	       -> send under the sink's concurrency limit -> done, per alert:
 *		  OK: delivered; FAIL: counted and logged; RETRY: back to the queue's head and the
 *		  sink pauses for an exponential backoff with jitter (or the server's Retry-After),
 *		  then probes with one alert before resuming full concurrency.
 *
 * Every queue is bounded: when a sink's queue is full the oldest alert of the lowest priority
 * is dropped, counted in metrics and logged. Sinks only format and transmit (outputs/sink.h).
 */

struct pipeline;
struct metrics;
struct http_client;

/* Settings of the pipeline (top-level config keys, see pipeline_options). */
struct pipeline_settings {
	int64_t queue_max; /* queue.max_alerts: per sink */
	int64_t retry_initial_ms; /* retry.initial */
	int64_t retry_max_ms; /* retry.max */
	int64_t retry_max_attempts; /* retry.max_attempts: 0 = until delivered */
	int64_t retry_after_max_ms; /* retry.retry_after_max: cap on a server's Retry-After */
	const char *hostname; /* hostname: NULL = gethostname() */
	struct config_map customfields;
	struct config_strlist customtags;
	bool pod_labels; /* metrics.pod_labels: k8s_ns_name/k8s_pod_name on events_total */
	int spool_mode; /* spool.mode: 0 disk, 1 memory */
	const char *spool_path;
	uint64_t spool_max; /* spool.max_bytes */
	int spool_sync; /* spool.sync: 0 normal, 1 full */
};

/* Options every sink section gets from the pipeline: "<sink>.minimumpriority", ... */
struct pipeline_sink_settings {
	int minimumpriority; /* enum priority, or -1 for all */
	int64_t maxconcurrentrequests;
};

/* Top-level option table (declared under ""), and the per-sink table (under "<sink>"). */
extern const struct config_option pipeline_options[];
extern const struct config_option pipeline_sink_options[];

/*
 * Declare pipeline_options at top level, and for every sink of the registry its own options
 * plus pipeline_sink_options under its name. Before config_check(). 0 or -errno.
 */
int pipeline_declare(struct config *cfg);

/*
 * Constructor: binds the settings from cfg, creates every sink of the registry whose
 * enable_key is set, and declares the pipeline's metrics in m (borrowed, must outlive p).
 * Returns NULL with errno set after reporting on stderr what failed.
 */
struct pipeline *pipeline_new(uv_loop_t *loop, struct config *cfg, struct metrics *m);

/*
 * Hand one alert to the pipeline (takes ownership of the caller's reference). The alert must
 * be mutable (not frozen): the pipeline enriches and freezes it. Returns 0, -ESHUTDOWN while
 * shutting down, or -ENOMEM (the alert is released either way).
 */
int pipeline_submit(struct pipeline *p, struct alert *a);

/* Runs when a submitted alert is safely accepted (written to the spool when it is on). */
typedef void (*pipeline_done_fn)(void *data, int err);

/*
 * pipeline_submit, telling cb (on the loop) once the alert is durable: in disk spool mode after
 * its spool transaction committed, else at once (possibly before this returns). cb is not
 * called when this returns an error. The ingest route answers 200 from cb.
 */
int pipeline_submit_cb(struct pipeline *p, struct alert *a, pipeline_done_fn cb, void *data);

/*
 * Held alerts (the Kafka input, issue 9): an alert from a consumer group must reach the sinks
 * only once the group will not replay it (its offset committed), else a crash or a rebalance
 * delivers it twice (here, and from the instance the group replays it to). So the Kafka input
 * submits "held": the alert is spooled with its origin and dedup'ed like any alert, but waits
 * out of the queues until the input releases it (commit acknowledged) or discards it (the
 * partition went to another instance, which replays it).
 */
struct pipeline_origin {
	const char *topic;
	int32_t partition;
	int64_t offset;
	bool committing; /* pipeline_take_spooled(): a commit covering it had been sent */
};
struct pipeline_hold;

/*
 * Runs on the loop once the held alert is durable (in the spool; at once in memory mode). h is
 * the hold to release, discard or abandon later; NULL when nothing is left to do (a duplicate
 * uuid, an aggregated alert, or it was written while the pipeline was closing: it stays in the
 * spool for the next start).
 */
typedef void (*pipeline_held_fn)(void *data, int err, struct pipeline_hold *h);

/* pipeline_submit_cb, held, with the origin kept in the spool. cb is not called on error. */
int pipeline_submit_held(struct pipeline *p, struct alert *a, const struct pipeline_origin *o,
			 pipeline_held_fn cb, void *data);
/* Deliver a held alert (its hold is freed). */
void pipeline_release(struct pipeline *p, struct pipeline_hold *h);
/*
 * Never deliver it from this instance: the spool forgets it, the uuid window too (so that the
 * group's replay is accepted, should it come back here). The hold is freed.
 */
void pipeline_discard(struct pipeline *p, struct pipeline_hold *h);
/* Free the hold, leaving the alert in the spool: the next start decides (shutdown). */
void pipeline_abandon(struct pipeline *p, struct pipeline_hold *h);
/*
 * At startup: the alerts of the spool that have a Kafka origin are held too (not delivered).
 * fn receives each of them once, with its origin, and must release, discard or abandon it
 * (before or after returning). Returns how many.
 */
size_t pipeline_take_spooled(struct pipeline *p,
			     void (*fn)(void *ctx, struct pipeline_hold *h,
					const struct pipeline_origin *o),
			     void *ctx);
/* Release the spooled holds nobody took (no Kafka input configured any more). */
void pipeline_release_spooled(struct pipeline *p);
/*
 * Before committing offsets: mark in the spool the alerts of each o[i] (topic, partition) below
 * o[i].offset as covered by a commit being sent (see spool_mark_committing). With wait, blocks
 * until written; else cb runs on the loop once durable (at once without a spool). 0 or -ENOMEM.
 */
int pipeline_mark_committing(struct pipeline *p, const struct pipeline_origin *o, size_t n,
			     bool wait, pipeline_done_fn cb, void *data);
/*
 * The uuid window forgets uuid (an alert whose fate is not decided yet but that must be accepted
 * if the group replays it to this instance: its partition was revoked).
 */
void pipeline_forget_uuid(struct pipeline *p, const char *uuid);
/* Uuid of a held alert (logs). */
const char *pipeline_hold_uuid(const struct pipeline_hold *h);

/*
 * Queue a frozen alert (borrowed) for the sink named sink_name only, bypassing its
 * minimumpriority (the `notify` response action). 0, -ENOENT, -ESHUTDOWN.
 */
int pipeline_deliver_to(struct pipeline *p, struct alert *a, const char *sink_name);

/*
 * Stop accepting, wait until every queue is empty and nothing is in flight, or until
 * timeout_ms, then close every sink; cb runs on the loop when all is closed. What could not be
 * delivered in time is counted (lanner_dropped_total{reason="shutdown"}) and logged.
 */
void pipeline_shutdown(struct pipeline *p, int64_t timeout_ms, void (*cb)(void *data), void *data);

/* The same, with another registry (NULL-terminated; tests use their own sinks). */
int pipeline_declare_with(struct config *cfg, const struct sink_ops *const *registry);
struct pipeline *pipeline_new_with(uv_loop_t *loop, struct config *cfg, struct metrics *m,
				   const struct sink_ops *const *registry);

/* Free after shutdown completed and the loop ran the close callbacks. Accepts NULL. */
void pipeline_free(struct pipeline *p);

/* SIGHUP: let sinks that write files reopen them (logrotate). */
void pipeline_reopen(struct pipeline *p);

/* Number of sinks, and by name (NULL when absent), for routes and tests. */
size_t pipeline_sink_count(const struct pipeline *p);
const char *pipeline_sink_name(const struct pipeline *p, size_t i);
/* Alerts waiting in queues and in flight over all sinks, being spooled, and held. */
size_t pipeline_pending(const struct pipeline *p);

/* The backoff before retry number `attempt` (1-based), with jitter in [d/2, d]. */
int64_t pipeline_backoff_ms(int64_t initial_ms, int64_t max_ms, unsigned attempt, uint64_t rnd);

/* Health of one sink, read-only, for GET /api/v1/outputs. Strings borrowed until the next
 * delivery of that sink. */
struct pipeline_sink_stats {
	const char *name;
	size_t queue; /* waiting */
	unsigned inflight;
	uint64_t delivered, failed, dropped, retries; /* since start */
	bool backoff; /* paused after a retryable failure */
	const char *last_error; /* "" when none */
	int64_t last_error_ms; /* Unix ms, 0 when none */
};

/* Stats of sink i (0 <= i < pipeline_sink_count): 0 or -ENOENT. */
int pipeline_sink_stats(const struct pipeline *p, size_t i, struct pipeline_sink_stats *out);

struct pipeline_spool_stats {
	bool disk; /* spool.mode disk (and open) */
	uint64_t bytes; /* of alerts some sink still holds */
	uint64_t max_bytes; /* spool.max_bytes */
	size_t pending; /* alerts some sink still holds */
};
void pipeline_spool_stats(const struct pipeline *p, struct pipeline_spool_stats *out);

/* The running sink of that name (borrowed), or NULL. */
struct sink *pipeline_sink_find(const struct pipeline *p, const char *name);

/* The shared HTTP client the pipeline created for its sinks (borrowed). */
struct http_client *pipeline_http(const struct pipeline *p);

#endif
