/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_KAFKA_DL_H
#define LANNER_OUTPUTS_KAFKA_DL_H

#include <librdkafka/rdkafka.h>

/*
 * librdkafka, loaded on first use (outputs/dl.h): lanner does not link it, so a gateway with
 * neither the kafka output nor the kafka input never maps librdkafka and its dependencies
 * (sasl2, lz4, zstd, ...). Calls go through kafka_fn, whose members have the types of the real
 * declarations in <librdkafka/rdkafka.h>:
 *
 *	if (kafka_dl_load())
 *		log_error("kafka: %s", kafka_dl_error());
 *	rk = kafka_fn.new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
 */

#define KAFKA_DL_SONAME "librdkafka.so.1"

/* Every librdkafka function lanner calls, without the rd_kafka_ prefix. */
#define KAFKA_DL_FUNCS(X)                     \
	X(AdminOptions_destroy)               \
	X(AdminOptions_new)                   \
	X(AdminOptions_set_operation_timeout) \
	X(AdminOptions_set_request_timeout)   \
	X(CreateTopics)                       \
	X(CreateTopics_result_topics)         \
	X(NewTopic_destroy)                   \
	X(NewTopic_new)                       \
	X(assign)                             \
	X(assignment_lost)                    \
	X(commit_queue)                       \
	X(committed)                          \
	X(conf_destroy)                       \
	X(conf_new)                           \
	X(conf_set)                           \
	X(conf_set_default_topic_conf)        \
	X(conf_set_dr_msg_cb)                 \
	X(conf_set_error_cb)                  \
	X(conf_set_log_cb)                    \
	X(conf_set_opaque)                    \
	X(conf_set_rebalance_cb)              \
	X(consumer_close)                     \
	X(consumer_poll)                      \
	X(destroy)                            \
	X(err2name)                           \
	X(err2str)                            \
	X(error_destroy)                      \
	X(error_string)                       \
	X(event_CreateTopics_result)          \
	X(event_destroy)                      \
	X(event_error)                        \
	X(event_error_string)                 \
	X(fatal_error)                        \
	X(flush)                              \
	X(get_watermark_offsets)              \
	X(incremental_assign)                 \
	X(incremental_unassign)               \
	X(last_error)                         \
	X(message_destroy)                    \
	X(message_errstr)                     \
	X(new)                                \
	X(outq_len)                           \
	X(poll)                               \
	X(poll_set_consumer)                  \
	X(produce)                            \
	X(producev)                           \
	X(purge)                              \
	X(queue_destroy)                      \
	X(queue_get_consumer)                 \
	X(queue_get_main)                     \
	X(queue_io_event_enable)              \
	X(queue_new)                          \
	X(queue_poll)                         \
	X(queue_poll_callback)                \
	X(rebalance_protocol)                 \
	X(subscribe)                          \
	X(topic_conf_new)                     \
	X(topic_conf_set)                     \
	X(topic_conf_set_opaque)              \
	X(topic_conf_set_partitioner_cb)      \
	X(topic_destroy)                      \
	X(topic_name)                         \
	X(topic_new)                          \
	X(topic_partition_available)          \
	X(topic_partition_list_add)           \
	X(topic_partition_list_destroy)       \
	X(topic_partition_list_find)          \
	X(topic_partition_list_new)           \
	X(topic_result_error)                 \
	X(topic_result_error_string)          \
	X(topic_result_name)

struct kafka_dl {
#define KAFKA_DL_MEMBER(f) __typeof__(rd_kafka_##f) *f;
	KAFKA_DL_FUNCS(KAFKA_DL_MEMBER)
#undef KAFKA_DL_MEMBER
};

/* Filled by a successful kafka_dl_load(); not to be called before. */
extern struct kafka_dl kafka_fn;

/*
 * Load librdkafka once (thread-safe; later calls return the first outcome). 0, or -ELIBACC
 * with kafka_dl_error() naming the library and dlerror()'s reason.
 */
int kafka_dl_load(void);
const char *kafka_dl_error(void);

#endif
