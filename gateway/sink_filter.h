/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_SINK_FILTER_H
#define LANNER_GATEWAY_SINK_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "outputs/alert.h"
#include "outputs/sink.h"

/*
 * Per-sink controls the pipeline applies on top of minimumpriority and maxconcurrentrequests,
 * declared under every sink's name:
 *
 *	<sink>.match.{rules,tags,sources}.{include,exclude}   routing (lists; * and ? wildcards)
 *	<sink>.ratelimit.rate / .burst                        token bucket on requests ("10/s")
 *	<sink>.batch.size / .wait                             only for sinks with send_batch
 *
 * An alert goes to the sink when, for each of rules, tags and sources, the include list is
 * empty or matches, and the exclude list does not match (exclude wins). A tag list matches when
 * any tag of the alert matches any pattern of the list.
 */

struct sink_filter;

/* Declare the options above under ops->name. 0 or -errno. */
int sink_filter_declare(struct config *cfg, const struct sink_ops *ops);

/* Bind them for ops->name. NULL with errno set (EINVAL: reported by the config). */
struct sink_filter *sink_filter_new(struct config *cfg, const struct sink_ops *ops);
/* Accepts NULL. */
void sink_filter_free(struct sink_filter *f);

/* True when the match lists let a (frozen) alert through to this sink. */
bool sink_filter_match(const struct sink_filter *f, const struct alert *a);

/*
 * Rate limit: true when one more request may start at now_ms (a token is taken); else false
 * and *wait_ms is how long until one may. Always true without a rate.
 */
bool sink_filter_take(struct sink_filter *f, uint64_t now_ms, uint64_t *wait_ms);

/*
 * Batching: how many of the `queued` alerts to send in the next request, given that the
 * oldest waited age_ms. 0 (and *wait_ms until the batch is due) when a partial batch should
 * still wait; `flush` sends a partial batch at once (shutdown). 1 for a sink without batching.
 */
size_t sink_filter_batch(const struct sink_filter *f, size_t queued, uint64_t age_ms, bool flush,
			 uint64_t *wait_ms);

/* batch.size (1 for a sink without batching). */
size_t sink_filter_batch_size(const struct sink_filter *f);

/*
 * Parse a rate "<number>/<unit>" (unit s, m or h; "10/s", "600/m", "0.5/s") into requests per
 * millisecond and the number as written (the default burst). 0 or -EINVAL.
 */
int sink_filter_parse_rate(const char *text, double *per_ms, double *count);

#endif
