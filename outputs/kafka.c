// SPDX-License-Identifier: Apache-2.0
/*
 * The `kafka` sink: one librdkafka producer driven by the gateway loop.
 *
 * librdkafka runs its own broker threads; what comes back to us (delivery reports, errors, admin
 * results) lands on its main queue and an admin queue. Both queues write a byte to a pipe when
 * they become non-empty (rd_kafka_queue_io_event_enable); the loop polls the pipe's read end
 * and drains the queues with zero-timeout polls. Nothing here blocks the loop but close(),
 * which flushes for at most a second at shutdown.
 *
 * An alert is delivered when its delivery report says so (msg_opaque = our per-message record);
 * message.timeout.ms (kafka.timeout) bounds how long librdkafka keeps trying on its own, after
 * which the pipeline's retry with backoff takes over.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/log.h"
#include "outputs/kafka.h"
#include "outputs/kafka_dl.h"

static const char *const sasl_choices[] = { "PLAIN", "SCRAM_SHA256", "SCRAM_SHA512", NULL };
static const char *const sasl_mechanisms[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" };
static const char *const compression_choices[] = { "NONE", "GZIP", "SNAPPY", "LZ4", "ZSTD", NULL };
static const char *const compression_codecs[] = { "none", "gzip", "snappy", "lz4", "zstd" };
static const char *const acks_choices[] = { "NONE", "ONE", "ALL", NULL };
static const char *const acks_values[] = { "0", "1", "all" };

enum { BAL_ROUND_ROBIN, BAL_LEAST_BYTES };

/*
 * Falcosidekick's balancers (kafka-go) and what they become here:
 *	round_robin     lanner's partitioner: next available partition, key ignored
 *	least_bytes     lanner's partitioner: the partition this process sent fewest bytes to
 *	hash            librdkafka fnv1a_random (kafka-go Hash is FNV-1a; keyless: random)
 *	crc32           librdkafka consistent (CRC32 of the key, as kafka-go CRC32Balancer)
 *	crc32_random    librdkafka consistent_random
 *	murmur2         librdkafka murmur2 (Java client compatible)
 *	murmur2_random  librdkafka murmur2_random
 */
const char *const kafka_balancer_choices[] = { "round_robin",	 "least_bytes",
					       "hash",		 "crc32",
					       "crc32_random",	 "murmur2",
					       "murmur2_random", NULL };
static const char *const balancer_partitioners[] = {
	NULL, NULL, "fnv1a_random", "consistent", "consistent_random", "murmur2", "murmur2_random"
};

const char *kafka_balancer_partitioner(int balancer)
{
	if (balancer < 0 ||
	    balancer >= (int)(sizeof(balancer_partitioners) / sizeof(balancer_partitioners[0])))
		return NULL;
	return balancer_partitioners[balancer];
}

struct kafka_settings {
	const char *hostport;
	const char *topic;
	const char *clientid;
	int sasl;
	const char *username;
	const char *password;
	bool tls;
	int compression;
	int requiredacks;
	int balancer;
	bool topiccreation;
	bool async;
	struct kafka_key key;
	int64_t timeout_ms;
	struct config_map properties;
};

static const struct config_option kafka_options[] = {
	{ "hostport", CONFIG_STRING, NULL, offsetof(struct kafka_settings, hostport), 0, 0, NULL,
	  NULL, "bootstrap brokers, comma separated (host:port,...); enables the output" },
	{ "topic", CONFIG_STRING, NULL, offsetof(struct kafka_settings, topic), 0, 0, NULL, NULL,
	  "topic alerts are produced to (required)" },
	{ "clientid", CONFIG_STRING, NULL, offsetof(struct kafka_settings, clientid), 0, 0, NULL,
	  NULL, "client.id sent to the brokers (default: librdkafka's)" },
	{ "sasl", CONFIG_ENUM, NULL, offsetof(struct kafka_settings, sasl), 0, 0, sasl_choices,
	  NULL, "SASL mechanism, PLAIN, SCRAM_SHA256 or SCRAM_SHA512 (empty: no SASL)" },
	{ "username", CONFIG_STRING, NULL, offsetof(struct kafka_settings, username), 0, 0, NULL,
	  NULL, "SASL user name" },
	{ "password", CONFIG_STRING, NULL, offsetof(struct kafka_settings, password), 0, 0, NULL,
	  NULL, "SASL password" },
	{ "tls", CONFIG_BOOL, "false", offsetof(struct kafka_settings, tls), 0, 0, NULL, NULL,
	  "connect with TLS (system CA store; ssl.* in kafka.properties for more)" },
	{ "compression", CONFIG_ENUM, "NONE", offsetof(struct kafka_settings, compression), 0, 0,
	  compression_choices, NULL, "compression codec: NONE, GZIP, SNAPPY, LZ4 or ZSTD" },
	{ "requiredacks", CONFIG_ENUM, "ALL", offsetof(struct kafka_settings, requiredacks), 0, 0,
	  acks_choices, NULL,
	  "acks: NONE, ONE or ALL (Falcosidekick's default is NONE; lanner's ALL, so a delivery "
	  "report means the alert is stored)" },
	{ "balancer", CONFIG_ENUM, "round_robin", offsetof(struct kafka_settings, balancer), 0, 0,
	  kafka_balancer_choices, NULL,
	  "partitioning: round_robin, least_bytes (lanner's), hash (fnv1a_random), crc32 "
	  "(consistent), crc32_random, murmur2, murmur2_random (librdkafka's)" },
	{ "topiccreation", CONFIG_BOOL, "false", offsetof(struct kafka_settings, topiccreation), 0,
	  0, NULL, NULL,
	  "create the topic at start (admin API) and let brokers auto-create it; false: never "
	  "create it" },
	{ "async", CONFIG_BOOL, "false", offsetof(struct kafka_settings, async), 0, 0, NULL, NULL,
	  "accepted for Falcosidekick compatibility; lanner never blocks and always confirms "
	  "delivery by the delivery report" },
	{ "key", CONFIG_CUSTOM, "hostname", offsetof(struct kafka_settings, key), 0, 0, NULL,
	  kafka_key_parse,
	  "message key: hostname, rule, priority, source, uuid, none, or field:NAME (an output "
	  "field)" },
	{ "timeout", CONFIG_DURATION, "30s", offsetof(struct kafka_settings, timeout_ms), 100,
	  900000, NULL, NULL,
	  "message.timeout.ms: how long librdkafka retries one message before the pipeline's "
	  "retry takes over" },
	{ "properties", CONFIG_MAP, NULL, offsetof(struct kafka_settings, properties), 0, 0, NULL,
	  NULL, "raw librdkafka properties (k:v,...), applied last" },
	{ NULL },
};

/* One produced message, from kafka_fn.produce() to its delivery report. */
struct kmsg {
	struct kafka *k;
	void *token;
	size_t len;
	struct kmsg *prev, *next;
};

struct kafka {
	struct sink base;
	struct kafka_settings set;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *mainq;
	rd_kafka_queue_t *adminq;
	int pipefd[2];
	uv_poll_t poll;
	struct kmsg pending; /* list head of messages awaiting their report */
	size_t n_pending;
	bool draining;
	bool close_requested;
	bool closed;
	/* Partitioners run on librdkafka's threads too. */
	atomic_uint rr_next;
	pthread_mutex_t lb_lock;
	uint64_t *lb_bytes;
	int32_t lb_n;
};

/* --- pure helpers ------------------------------------------------------------------------ */

int kafka_key_parse(const char *text, void *dst, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum kafka_key_kind kind;
	} names[] = {
		{ "none", KAFKA_KEY_NONE },	{ "hostname", KAFKA_KEY_HOSTNAME },
		{ "rule", KAFKA_KEY_RULE },	{ "priority", KAFKA_KEY_PRIORITY },
		{ "source", KAFKA_KEY_SOURCE }, { "uuid", KAFKA_KEY_UUID },
	};
	struct kafka_key *k = dst;

	memset(k, 0, sizeof(*k));
	if (!text || !*text) {
		k->kind = KAFKA_KEY_HOSTNAME;
		return 0;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(text, names[i].name)) {
			k->kind = names[i].kind;
			return 0;
		}
	}
	if (!strncasecmp(text, "field:", 6)) {
		const char *f = text + 6;

		if (!*f || strlen(f) >= sizeof(k->field)) {
			snprintf(err, errlen,
				 "'%s': expected field:NAME with a field name of 1 to %zu "
				 "characters",
				 text, sizeof(k->field) - 1);
			return -EINVAL;
		}
		k->kind = KAFKA_KEY_FIELD;
		memcpy(k->field, f, strlen(f) + 1);
		return 0;
	}
	snprintf(err, errlen,
		 "unknown key '%s' (expected hostname, rule, priority, source, uuid, none or "
		 "field:NAME)",
		 text);
	return -EINVAL;
}

static const void *text_key(const char *s, size_t *len)
{
	*len = s ? strlen(s) : 0;
	return *len ? s : NULL;
}

const void *kafka_key_value(const struct kafka_key *k, const struct alert *a, char *buf,
			    size_t buflen, size_t *len)
{
	const json_t *v;
	int n;

	*len = 0;
	switch (k->kind) {
	case KAFKA_KEY_NONE:
		return NULL;
	case KAFKA_KEY_HOSTNAME:
		return text_key(alert_hostname(a), len);
	case KAFKA_KEY_RULE:
		return text_key(alert_rule(a), len);
	case KAFKA_KEY_PRIORITY:
		return text_key(priority_name(alert_priority(a)), len);
	case KAFKA_KEY_SOURCE:
		return text_key(alert_source(a), len);
	case KAFKA_KEY_UUID:
		return text_key(alert_uuid(a), len);
	case KAFKA_KEY_FIELD:
		break;
	}
	v = json_object_get(alert_output_fields(a), k->field);
	if (json_is_string(v)) {
		*len = json_string_length(v);
		return json_string_value(v);
	}
	if (json_is_integer(v))
		n = snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		n = snprintf(buf, buflen, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		n = snprintf(buf, buflen, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL; /* missing, null, or not a scalar */
	if (n < 0 || (size_t)n >= buflen)
		return NULL;
	*len = (size_t)n;
	return buf;
}

enum sink_result kafka_err_result(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return SINK_OK;
	/* The message or the request is refused as such: sending it again changes nothing. */
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR__INVALID_TYPE:
	case RD_KAFKA_RESP_ERR__BAD_MSG:
		return SINK_FAIL;
	/*
	 * Everything else is transient from where we stand: broker down or unreachable, timed
	 * out, queue full, leader moving, topic not (yet) known, purged at shutdown.
	 */
	default:
		return SINK_RETRY;
	}
}

/* --- partitioners (librdkafka threads) ----------------------------------------------------- */

static int32_t partition_round_robin(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
				     int32_t cnt, void *rkt_opaque, void *msg_opaque)
{
	struct kafka *k = rkt_opaque;
	unsigned start = atomic_fetch_add(&k->rr_next, 1);

	for (int32_t i = 0; i < cnt; i++) {
		int32_t p = (int32_t)((start + (unsigned)i) % (unsigned)cnt);

		if (kafka_fn.topic_partition_available(rkt, p))
			return p;
	}
	return (int32_t)(start % (unsigned)cnt);
}

static int32_t partition_least_bytes(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
				     int32_t cnt, void *rkt_opaque, void *msg_opaque)
{
	struct kafka *k = rkt_opaque;
	struct kmsg *m = msg_opaque;
	int32_t best = -1;

	pthread_mutex_lock(&k->lb_lock);
	if (cnt > k->lb_n) {
		uint64_t *nb = realloc(k->lb_bytes, (size_t)cnt * sizeof(*nb));

		if (nb) {
			memset(nb + k->lb_n, 0, (size_t)(cnt - k->lb_n) * sizeof(*nb));
			k->lb_bytes = nb;
			k->lb_n = cnt;
		}
	}
	for (int32_t p = 0; p < cnt && p < k->lb_n; p++) {
		if (!kafka_fn.topic_partition_available(rkt, p))
			continue;
		if (best < 0 || k->lb_bytes[p] < k->lb_bytes[best])
			best = p;
	}
	if (best < 0)
		best = (int32_t)(atomic_fetch_add(&k->rr_next, 1) % (unsigned)cnt);
	if (best < k->lb_n)
		k->lb_bytes[best] += m->len + keylen;
	pthread_mutex_unlock(&k->lb_lock);
	return best;
}

/* --- delivery ----------------------------------------------------------------------------- */

static void kmsg_unlink(struct kmsg *m)
{
	m->prev->next = m->next;
	m->next->prev = m->prev;
	m->k->n_pending--;
}

static void report(struct kafka *k, void *token, rd_kafka_resp_err_t err, const char *what)
{
	struct sink_status st;
	enum sink_result r = kafka_err_result(err);

	if (r == SINK_OK)
		sink_status_set(&st, SINK_OK, "delivered");
	else
		sink_status_set(&st, r, "%s: %s", what, kafka_fn.err2str(err));
	sink_done(&k->base, token, &st);
}

/* Runs on the loop thread, from kafka_fn.poll(). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct kmsg *m = msg->_private;
	struct kafka *k = m->k;
	void *token = m->token;

	kmsg_unlink(m);
	free(m);
	report(k, token, msg->err, "kafka");
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[256];

		kafka_fn.fatal_error(rk, buf, sizeof(buf));
		log_error("kafka: fatal: %s", buf);
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		log_warn("kafka: %s", reason);
	} else {
		log_debug("kafka: %s: %s", kafka_fn.err2name(err), reason);
	}
}

/* librdkafka's own log lines (any thread; log_msg is thread-safe). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* Its errors are about connections it retries on its own: warnings to us. */
	if (level <= 4)
		log_warn("kafka: %s: %s", fac, buf);
	else if (level <= 6)
		log_info("kafka: %s: %s", fac, buf);
	else
		log_debug("kafka: %s: %s", fac, buf);
}

static void on_admin_event(struct kafka *k, rd_kafka_event_t *ev)
{
	const rd_kafka_CreateTopics_result_t *res = kafka_fn.event_CreateTopics_result(ev);
	const rd_kafka_topic_result_t **topics;
	size_t n = 0;

	if (!res) {
		log_warn("kafka.topiccreation: %s", kafka_fn.event_error_string(ev));
		return;
	}
	if (kafka_fn.event_error(ev)) {
		log_warn("kafka.topiccreation: cannot create topic %s: %s (relying on broker "
			 "auto-creation)",
			 k->set.topic, kafka_fn.event_error_string(ev));
		return;
	}
	topics = kafka_fn.CreateTopics_result_topics(res, &n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t err = kafka_fn.topic_result_error(topics[i]);
		const char *msg = kafka_fn.topic_result_error_string(topics[i]);

		if (!err)
			log_info("kafka: created topic %s", kafka_fn.topic_result_name(topics[i]));
		else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			log_debug("kafka: topic %s exists", kafka_fn.topic_result_name(topics[i]));
		else
			log_warn("kafka.topiccreation: cannot create topic %s: %s (relying on "
				 "broker auto-creation)",
				 kafka_fn.topic_result_name(topics[i]),
				 msg ? msg : kafka_fn.err2str(err));
	}
}

static void teardown(struct kafka *k);

/* Serve everything librdkafka queued for us: delivery reports, errors, admin results. */
static void drain(struct kafka *k)
{
	char buf[256];

	k->draining = true;
	while (read(k->pipefd[0], buf, sizeof(buf)) > 0)
		;
	while (!k->close_requested && kafka_fn.poll(k->rk, 0) > 0)
		;
	while (!k->close_requested && k->adminq) {
		rd_kafka_event_t *ev = kafka_fn.queue_poll(k->adminq, 0);

		if (!ev)
			break;
		on_admin_event(k, ev);
		kafka_fn.event_destroy(ev);
	}
	k->draining = false;
	/* close() was called from inside a delivery report: finish it now rd_kafka_poll is out. */
	if (k->close_requested && !k->closed)
		teardown(k);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct kafka *k = h->data;

	if (status < 0)
		log_warn("kafka: event pipe: %s", uv_strerror(status));
	drain(k);
}

static int kafka_send(struct sink *s, struct alert *a, void *token)
{
	struct kafka *k = (struct kafka *)s;
	char keybuf[64];
	size_t len, keylen;
	const char *json = alert_json(a, &len);
	const void *key = kafka_key_value(&k->set.key, a, keybuf, sizeof(keybuf), &keylen);
	struct kmsg *m = malloc(sizeof(*m));
	rd_kafka_resp_err_t err;

	if (!m)
		return -ENOMEM;
	m->k = k;
	m->token = token;
	m->len = len;
	/* The value stays borrowed from the frozen alert until its report; the key is copied. */
	if (kafka_fn.produce(k->rkt, RD_KAFKA_PARTITION_UA, 0, (void *)json, len, key, keylen, m) ==
	    -1) {
		err = kafka_fn.last_error();
		free(m);
		report(k, token, err, "kafka: produce");
		return 0;
	}
	m->prev = k->pending.prev;
	m->next = &k->pending;
	m->prev->next = m;
	k->pending.prev = m;
	k->n_pending++;
	return 0;
}

/* --- life cycle ---------------------------------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *why)
{
	char errstr[512];

	if (kafka_fn.conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return 0;
	log_error("%s: librdkafka refused %s=%s: %s", why, name, value, errstr);
	return -EINVAL;
}

static rd_kafka_conf_t *build_conf(struct kafka *k, struct config *cfg)
{
	const struct kafka_settings *set = &k->set;
	rd_kafka_conf_t *conf = kafka_fn.conf_new();
	rd_kafka_topic_conf_t *tconf = kafka_fn.topic_conf_new();
	const char *proto = set->tls ? (set->sasl >= 0 ? "SASL_SSL" : "SSL") :
				       (set->sasl >= 0 ? "SASL_PLAINTEXT" : "PLAINTEXT");
	const char *partitioner = kafka_balancer_partitioner(set->balancer);
	char timeout[32], where[300];
	int err = 0;

	snprintf(timeout, sizeof(timeout), "%" PRId64, set->timeout_ms);
	kafka_fn.topic_conf_set_opaque(tconf, k);
	if (partitioner) {
		char errstr[256];

		if (kafka_fn.topic_conf_set(tconf, "partitioner", partitioner, errstr,
					    sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			log_error("kafka.balancer: librdkafka refused partitioner=%s: %s",
				  partitioner, errstr);
			err = 1;
		}
	} else {
		kafka_fn.topic_conf_set_partitioner_cb(tconf, set->balancer == BAL_LEAST_BYTES ?
								      partition_least_bytes :
								      partition_round_robin);
	}
	/* First: topic-level properties set on conf below (acks, ...) then land in tconf. */
	kafka_fn.conf_set_default_topic_conf(conf, tconf); /* takes tconf */

	/* Our settings first, kafka.properties last so they can override anything. */
	err |= conf_set(conf, "bootstrap.servers", set->hostport, "kafka.hostport");
	if (set->clientid)
		err |= conf_set(conf, "client.id", set->clientid, "kafka.clientid");
	err |= conf_set(conf, "security.protocol", proto, "kafka.tls/kafka.sasl");
	if (set->sasl >= 0) {
		err |= conf_set(conf, "sasl.mechanisms", sasl_mechanisms[set->sasl], "kafka.sasl");
		if (set->username)
			err |= conf_set(conf, "sasl.username", set->username, "kafka.username");
		if (set->password)
			err |= conf_set(conf, "sasl.password", set->password, "kafka.password");
	}
	err |= conf_set(conf, "compression.codec", compression_codecs[set->compression],
			"kafka.compression");
	err |= conf_set(conf, "acks", acks_values[set->requiredacks], "kafka.requiredacks");
	err |= conf_set(conf, "message.timeout.ms", timeout, "kafka.timeout");
	err |= conf_set(conf, "allow.auto.create.topics", set->topiccreation ? "true" : "false",
			"kafka.topiccreation");

	kafka_fn.conf_set_opaque(conf, k);
	kafka_fn.conf_set_dr_msg_cb(conf, on_delivery);
	kafka_fn.conf_set_error_cb(conf, on_error);
	kafka_fn.conf_set_log_cb(conf, on_log);

	snprintf(where, sizeof(where), "%s: kafka.properties",
		 config_origin(cfg, "kafka.properties") ? config_origin(cfg, "kafka.properties") :
							  "config");
	for (size_t i = 0; i < set->properties.n; i++)
		err |= conf_set(conf, set->properties.keys[i], set->properties.values[i], where);
	if (err) {
		kafka_fn.conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static void create_topic(struct kafka *k)
{
	char errstr[256];
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_NewTopic_t *nt =
		kafka_fn.NewTopic_new(k->set.topic, -1, -1, errstr, sizeof(errstr));

	if (!nt) {
		log_warn("kafka.topiccreation: %s", errstr);
		return;
	}
	/* Answered on adminq, served by drain(); bounded so the outcome is always logged. */
	opts = kafka_fn.AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (opts) {
		kafka_fn.AdminOptions_set_request_timeout(opts, 10000, errstr, sizeof(errstr));
		kafka_fn.AdminOptions_set_operation_timeout(opts, 10000, errstr, sizeof(errstr));
	}
	kafka_fn.CreateTopics(k->rk, &nt, 1, opts, k->adminq);
	if (opts)
		kafka_fn.AdminOptions_destroy(opts);
	kafka_fn.NewTopic_destroy(nt);
}

static void release(struct kafka *k)
{
	if (k->rkt)
		kafka_fn.topic_destroy(k->rkt);
	if (k->adminq)
		kafka_fn.queue_destroy(k->adminq);
	if (k->mainq)
		kafka_fn.queue_destroy(k->mainq);
	if (k->rk)
		kafka_fn.destroy(k->rk);
	k->rkt = NULL;
	k->adminq = k->mainq = NULL;
	k->rk = NULL;
	free(k->lb_bytes);
	k->lb_bytes = NULL;
	pthread_mutex_destroy(&k->lb_lock);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct kafka *k = h->data;

	close(k->pipefd[0]);
	close(k->pipefd[1]);
}

static int kafka_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct kafka *k = (struct kafka *)s;
	rd_kafka_conf_t *conf;
	char errstr[512];
	int err;

	k->pending.next = k->pending.prev = &k->pending;
	k->pipefd[0] = k->pipefd[1] = -1;
	pthread_mutex_init(&k->lb_lock, NULL);
	err = config_bind(cfg, "kafka", kafka_options, &k->set);
	if (err)
		goto err_release;
	if (!k->set.topic) {
		log_error("kafka.topic: required when kafka.hostport is set");
		err = -EINVAL;
		goto err_release;
	}
	if (k->set.sasl >= 0 && (!k->set.username || !k->set.password)) {
		log_error("kafka.sasl: %s needs kafka.username and kafka.password",
			  sasl_choices[k->set.sasl]);
		err = -EINVAL;
		goto err_release;
	}
	if (kafka_dl_load()) {
		log_error("kafka: %s", kafka_dl_error());
		err = -ELIBACC;
		goto err_release;
	}
	conf = build_conf(k, cfg);
	if (!conf) {
		err = -EINVAL;
		goto err_release;
	}
	k->rk = kafka_fn.new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!k->rk) {
		log_error("kafka: %s", errstr);
		kafka_fn.conf_destroy(conf);
		err = -EINVAL;
		goto err_release;
	}
	k->rkt = kafka_fn.topic_new(k->rk, k->set.topic, NULL);
	if (!k->rkt) {
		log_error("kafka.topic: %s: %s", k->set.topic,
			  kafka_fn.err2str(kafka_fn.last_error()));
		err = -EINVAL;
		goto err_release;
	}
	k->mainq = kafka_fn.queue_get_main(k->rk);
	k->adminq = kafka_fn.queue_new(k->rk);
	if (pipe2(k->pipefd, O_NONBLOCK | O_CLOEXEC)) {
		err = -errno;
		goto err_release;
	}
	err = uv_poll_init(s->loop, &k->poll, k->pipefd[0]);
	if (err)
		goto err_close_pipe;
	k->poll.data = k;
	uv_poll_start(&k->poll, UV_READABLE, on_readable);
	kafka_fn.queue_io_event_enable(k->mainq, k->pipefd[1], "k", 1);
	kafka_fn.queue_io_event_enable(k->adminq, k->pipefd[1], "a", 1);
	/*
	 * librdkafka writes to the pipe when a queue turns non-empty: what its threads queued
	 * before this point (a connection error, say) would never wake us. Drain once now.
	 */
	if (write(k->pipefd[1], "i", 1) != 1)
		log_warn("kafka: event pipe: %s", strerror(errno));
	if (k->set.topiccreation)
		create_topic(k);
	log_info("kafka: producing to topic %s on %s (acks %s, balancer %s, key %s)", k->set.topic,
		 k->set.hostport, acks_values[k->set.requiredacks],
		 kafka_balancer_choices[k->set.balancer],
		 config_get(cfg, "kafka.key") ? config_get(cfg, "kafka.key") : "hostname");
	return 0;

err_close_pipe:
	close(k->pipefd[0]);
	close(k->pipefd[1]);
err_release:
	release(k);
	return err;
}

/*
 * Give librdkafka up to a second to deliver what it holds, purge the rest, collect every report
 * (purged messages come back with _PURGE_QUEUE / _PURGE_INFLIGHT: SINK_RETRY), and destroy.
 */
static void teardown(struct kafka *k)
{
	struct kmsg lost;
	uint64_t end;

	k->closed = true;
	kafka_fn.queue_io_event_enable(k->mainq, -1, NULL, 0);
	kafka_fn.queue_io_event_enable(k->adminq, -1, NULL, 0);
	if (k->n_pending)
		kafka_fn.flush(k->rk, 1000);
	kafka_fn.purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	end = uv_hrtime() + 2000000000ull;
	while (k->n_pending && uv_hrtime() < end)
		kafka_fn.poll(k->rk, 100);
	/* Reports librdkafka never gave back (it should not happen): abandon them ourselves. */
	lost.next = lost.prev = &lost;
	while (k->n_pending) {
		struct kmsg *m = k->pending.next;
		struct sink_status st;

		kmsg_unlink(m);
		m->prev = lost.prev;
		m->next = &lost;
		lost.prev->next = m;
		lost.prev = m;
		sink_status_set(&st, SINK_RETRY, "kafka: abandoned at shutdown");
		sink_done(&k->base, m->token, &st);
	}
	release(k);
	/* librdkafka is gone: nothing refers to the records any more. */
	while (lost.next != &lost) {
		struct kmsg *m = lost.next;

		lost.next = m->next;
		free(m);
	}
	uv_close((uv_handle_t *)&k->poll, on_poll_closed);
}

static void kafka_close(struct sink *s)
{
	struct kafka *k = (struct kafka *)s;

	if (k->closed || k->close_requested)
		return;
	k->close_requested = true;
	if (!k->draining)
		teardown(k);
}

const struct sink_ops kafka_sink_ops = {
	.name = "kafka",
	.size = sizeof(struct kafka),
	.options = kafka_options,
	.enable_key = "kafka.hostport",
	.init = kafka_init,
	.send = kafka_send,
	.close = kafka_close,
	/* librdkafka batches what is in flight; the delivery report is the completion. */
	.default_concurrency = 1000,
};
