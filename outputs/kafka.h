/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_KAFKA_H
#define LANNER_OUTPUTS_KAFKA_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "outputs/alert.h"
#include "outputs/sink.h"

/*
 * The `kafka` sink (outputs/kafka.c): librdkafka producer on the gateway loop. This header
 * exposes its pure helpers to the unit tests; the sink itself is kafka_sink_ops.
 */

extern const struct sink_ops kafka_sink_ops;

/* kafka.key: what the message key is made of. */
enum kafka_key_kind {
	KAFKA_KEY_NONE, /* "none": no key (Falcosidekick sends none) */
	KAFKA_KEY_HOSTNAME, /* "hostname" (default) */
	KAFKA_KEY_RULE,
	KAFKA_KEY_PRIORITY,
	KAFKA_KEY_SOURCE,
	KAFKA_KEY_UUID,
	KAFKA_KEY_FIELD, /* "field:k8s.ns.name": an output field's value */
};

struct kafka_key {
	enum kafka_key_kind kind;
	char field[192]; /* KAFKA_KEY_FIELD: the output field name */
};

/* CONFIG_CUSTOM parser of kafka.key (dst: struct kafka_key). 0 or -EINVAL with err filled. */
int kafka_key_parse(const char *text, void *dst, char *err, size_t errlen);

/*
 * The key of alert a under k: a pointer to len bytes, borrowed from the alert or written into
 * buf (numbers and booleans of output fields). NULL (len 0) when the key is none, or the field is
 * missing or null.
 */
const void *kafka_key_value(const struct kafka_key *k, const struct alert *a, char *buf,
			    size_t buflen, size_t *len);

/* How a librdkafka error counts: transient ones are SINK_RETRY, refusals SINK_FAIL. */
enum sink_result kafka_err_result(rd_kafka_resp_err_t err);

/*
 * The librdkafka `partitioner` of a kafka.balancer choice (see kafka_balancer_choices), or
 * NULL for the balancers lanner implements itself (round_robin, least_bytes).
 */
extern const char *const kafka_balancer_choices[];
const char *kafka_balancer_partitioner(int balancer);

#endif
