/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_KAFKA_INPUT_H
#define LANNER_GATEWAY_KAFKA_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "gateway/pipeline.h"
#include "outputs/alert.h"

/*
 * The `kafka_input:` source: Falco JSON alerts consumed from Kafka topics as one consumer group,
 * on the gateway loop (issue 9).
 *
 * librdkafka's consumer queue (the main queue is forwarded to it) writes a byte to a pipe when
 * it turns non-empty; the loop polls the pipe and drains the queue with zero-timeout polls, so
 * the loop never blocks while consuming. Each message is parsed (alert_parse keeps its uuid) and
 * submitted like a `POST /` alert. Offsets are neither auto-committed nor auto-stored: a
 * message's offset is done when the pipeline says its alert is durable (in the spool, or queued
 * when the spool is in memory mode), and per partition only the highest contiguous done offset
 * is committed (as soon as a spool batch is durable, at least every
 * kafka_input.commit_interval, on revoke and at shutdown). A crash therefore replays what was
 * not durable yet instead of losing it.
 *
 * With kafka_input_new() (the pipeline), alerts are held: spooled with their origin, delivered
 * only once the commit of their offset is acknowledged, dropped on revoke when it is not (the
 * group replays them elsewhere); at start, the spool's leftovers read from Kafka are delivered
 * only when a commit covered them (docs/fleet.md, "Duplicates"). kafka_input_new_with() (tests)
 * keeps the plain done callback.
 *
 * A message that does not parse is counted (lanner_kafka_input_messages_total{status=
 * "malformed"}), logged with topic/partition/offset, produced to kafka_input.deadletter_topic
 * when set (done once that delivery is reported), and otherwise done at once: it never stalls
 * its partition.
 *
 * Backpressure: past kafka_input.max_inflight alerts not durable yet, the queue is left alone
 * (librdkafka's prefetch bounds what it buffers) until half of them are.
 */

struct kafka_input;
struct metrics;

/* Declared under "kafka_input". */
extern const struct config_option kafka_input_options[];

/* True when kafka_input.brokers is set (the input is on). */
bool kafka_input_configured(const struct config *cfg);

/* Same contract as pipeline_submit_cb (takes the alert; cb not called on error). */
typedef int (*kafka_input_submit_fn)(void *ctx, struct alert *a, pipeline_done_fn cb, void *data);

/*
 * Constructor: binds kafka_input.* from cfg, declares its metrics in m (borrowed), creates the
 * consumer (and the dead-letter producer) and subscribes. Alerts go to pipeline_submit_cb(p).
 * Returns NULL with errno set after logging what failed.
 */
struct kafka_input *kafka_input_new(uv_loop_t *loop, struct config *cfg, struct pipeline *p,
				    struct metrics *m);
/* The same with another submit function (tests). */
struct kafka_input *kafka_input_new_with(uv_loop_t *loop, struct config *cfg, struct metrics *m,
					 kafka_input_submit_fn submit, void *ctx);

/*
 * Stop consuming, wait on the loop (up to timeout_ms) for the alerts submitted but not durable
 * yet, commit what is durable, then close the consumer (rd_kafka_consumer_close: it blocks, at
 * shutdown only, bounded by librdkafka's timeouts) and the loop handles. Call before
 * pipeline_shutdown(): the alerts already submitted still become durable after it. Idempotent.
 */
void kafka_input_stop(struct kafka_input *ki, int64_t timeout_ms);

/* Counters since creation (tests, bench). */
struct kafka_input_stats {
	uint64_t consumed; /* messages read */
	uint64_t submitted; /* alerts handed to the pipeline */
	uint64_t durable; /* of which the pipeline reported durable */
	uint64_t malformed; /* messages that did not parse */
	uint64_t deadlettered; /* malformed messages the dead-letter topic acknowledged */
	uint64_t commits; /* commit requests sent */
	uint64_t released; /* held alerts released to the sinks once their commit was acked */
	uint64_t left_to_group; /* held alerts dropped: the group replays them elsewhere */
	uint64_t pending; /* submitted, not durable yet */
	bool stopped; /* kafka_input_stop() completed */
};
void kafka_input_get_stats(const struct kafka_input *ki, struct kafka_input_stats *st);

/* After kafka_input_stop() completed and the loop ran the close callbacks. Accepts NULL. */
void kafka_input_free(struct kafka_input *ki);

#endif
