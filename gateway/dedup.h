/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_DEDUP_H
#define LANNER_GATEWAY_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "outputs/alert.h"

/*
 * Deduplication and aggregation of alerts, on the gateway loop (issue 9).
 *
 * 1. uuid window (dedup.uuid_window): a uuid accepted within the window is dropped when it comes
 *    again, so at-least-once transport (a Kafka partition replayed after a crash or a rebalance,
 *    an agent retrying a POST) does not become a duplicate delivery. Memory is bounded by
 *    dedup.max_entries: past it the oldest uuid is forgotten first (and counted).
 *
 * 2. Content aggregation (dedup.aggregate.fields, dedup.aggregate.window): alerts whose key
 *    (the values of the chosen fields: rule, hostname, priority, source, or an output field
 *    name) repeats within the window are folded. The first alert of a key passes at once; the
 *    following ones within the window are absorbed; when the window of that key ends and at
 *    least one was absorbed, one summary alert is emitted: a copy of the first (same rule,
 *    priority, source, output, hostname, tags; a fresh uuid; the time of the last one) whose
 *    output_fields gain "lanner.count" (alerts in the window, the first included) and
 *    "lanner.aggregated_by" (the field list). The window of a key starts with its first alert.
 *
 * A window of 0 turns the feature off. Loop-thread only.
 */

struct dedup;

struct dedup_settings {
	int64_t uuid_window_ms; /* dedup.uuid_window; 0 = off */
	int64_t max_entries; /* dedup.max_entries: uuids remembered, and aggregation keys */
	struct config_strlist agg_fields; /* dedup.aggregate.fields */
	int64_t agg_window_ms; /* dedup.aggregate.window; 0 = off */
};

/* Declared under "dedup" (dedup.uuid_window, ...). */
extern const struct config_option dedup_options[];

/* Receives a summary alert (mutable, one reference handed over) when a window ends. */
typedef void (*dedup_emit_fn)(void *data, struct alert *summary);

/*
 * Constructor. loop and emit are needed only when aggregation is on (its expiry timer runs on
 * loop); NULL otherwise. The settings' strings are borrowed (they point into the config).
 * NULL with errno set (EINVAL: aggregation on without fields or without loop/emit).
 */
struct dedup *dedup_new(uv_loop_t *loop, const struct dedup_settings *set, dedup_emit_fn emit,
			void *data);

/* True when either feature is on. */
bool dedup_uuid_enabled(const struct dedup *d);
bool dedup_aggregate_enabled(const struct dedup *d);

/*
 * The uuid window: true when uuid was already accepted within the window ending at now_ms
 * (drop the alert); else remembers it (accepted at now_ms) and returns false. Always false
 * when the uuid window is off.
 */
bool dedup_seen(struct dedup *d, const char *uuid, uint64_t now_ms);

/*
 * Forget uuid (accepted earlier, but that alert will not be delivered by this instance after
 * all: the consumer group replays it), so that its replay is accepted. True when it was known.
 */
bool dedup_forget(struct dedup *d, const char *uuid);

enum dedup_verdict {
	DEDUP_PASS, /* deliver the alert */
	DEDUP_ABSORBED, /* folded into its key's window: drop it (its count is in the summary) */
};

/*
 * Aggregation: pass the first alert of a key (keeping a reference to it for the summary),
 * absorb the next ones within its window. The alert is borrowed; it may be mutable or frozen,
 * and should be enriched (hostname) when hostname is a key field. Always DEDUP_PASS when
 * aggregation is off or out of memory (never loses an alert).
 */
enum dedup_verdict dedup_aggregate(struct dedup *d, struct alert *a, uint64_t now_ms);

/* Emit due summaries whose window ended by now_ms (the timer does it; tests call it). */
void dedup_expire(struct dedup *d, uint64_t now_ms);

/* Counters since creation. */
struct dedup_stats {
	uint64_t uuid_dropped; /* dedup_seen() answered true */
	uint64_t uuid_forgotten; /* evicted by max_entries before their window ended */
	uint64_t absorbed; /* DEDUP_ABSORBED */
	uint64_t summaries; /* summary alerts emitted */
	size_t uuid_entries, agg_keys; /* current sizes */
};
void dedup_get_stats(const struct dedup *d, struct dedup_stats *st);

/*
 * At shutdown: emit every pending summary now (to be submitted before the pipeline shuts
 * down), stop and close the timer. dedup_free() after the loop ran the close callbacks.
 */
void dedup_close(struct dedup *d);

/* Accepts NULL. */
void dedup_free(struct dedup *d);

#endif
