// SPDX-License-Identifier: Apache-2.0
/*
 * The kafka sink: key and option parsing, error classification, and the sink itself on a libuv
 * loop against librdkafka's in-process mock cluster (real protocol on loopback ports).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "outputs/kafka.h"
#include "config/log.h"

static const char alert_body[] =
	"{\"hostname\":\"node-1\",\"output\":\"12:00:00.000000000: Warning x\",\"output_fields\":"
	"{\"k8s.ns.name\":\"prod\",\"proc.tty\":34820,\"ok\":true,\"nothing\":null},"
	"\"priority\":\"Warning\",\"rule\":\"Some rule\",\"source\":\"syscall\",\"tags\":[],"
	"\"time\":\"2025-05-07T12:50:34.502309868Z\","
	"\"uuid\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"}";

static struct alert *make_alert(void)
{
	struct alert_error err;
	struct alert *a = alert_parse(alert_body, strlen(alert_body), &err);

	assert_non_null(a);
	assert_int_equal(alert_freeze(a), 0);
	return a;
}

/* --- pure helpers --------------------------------------------------------------------------- */

static void test_key_parse(void **state)
{
	struct kafka_key k;
	char err[256];

	assert_int_equal(kafka_key_parse("hostname", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_HOSTNAME);
	assert_int_equal(kafka_key_parse("", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_HOSTNAME);
	assert_int_equal(kafka_key_parse("RULE", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_RULE);
	assert_int_equal(kafka_key_parse("uuid", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_UUID);
	assert_int_equal(kafka_key_parse("none", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_NONE);
	assert_int_equal(kafka_key_parse("field:k8s.ns.name", &k, err, sizeof(err)), 0);
	assert_int_equal(k.kind, KAFKA_KEY_FIELD);
	assert_string_equal(k.field, "k8s.ns.name");

	assert_int_equal(kafka_key_parse("field:", &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field:NAME"));
	assert_int_equal(kafka_key_parse("hostnam", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'hostnam' (expected hostname, rule, priority, "
				 "source, uuid, none or field:NAME)");
}

static void test_key_value(void **state)
{
	struct alert *a = make_alert();
	struct kafka_key k;
	char buf[64], err[128];
	const char *v;
	size_t len;

	kafka_key_parse("hostname", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_int_equal(len, 6);
	assert_memory_equal(v, "node-1", 6);
	kafka_key_parse("rule", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_int_equal(len, 9);
	assert_memory_equal(v, "Some rule", 9);
	kafka_key_parse("priority", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_memory_equal(v, "Warning", len);
	kafka_key_parse("uuid", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_int_equal(len, 36);
	assert_memory_equal(v, "0f8fad5b-d9cb-469f-a165-70867728950e", 36);
	kafka_key_parse("field:k8s.ns.name", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_int_equal(len, 4);
	assert_memory_equal(v, "prod", 4);
	kafka_key_parse("field:proc.tty", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "34820", 5);
	kafka_key_parse("field:ok", &k, err, sizeof(err));
	v = kafka_key_value(&k, a, buf, sizeof(buf), &len);
	assert_memory_equal(v, "true", len);
	/* Missing and null fields, and "none": no key at all. */
	kafka_key_parse("field:nothing", &k, err, sizeof(err));
	assert_null(kafka_key_value(&k, a, buf, sizeof(buf), &len));
	assert_int_equal(len, 0);
	kafka_key_parse("field:absent", &k, err, sizeof(err));
	assert_null(kafka_key_value(&k, a, buf, sizeof(buf), &len));
	kafka_key_parse("none", &k, err, sizeof(err));
	assert_null(kafka_key_value(&k, a, buf, sizeof(buf), &len));
	alert_unref(a);
}

static void test_error_classes(void **state)
{
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_NO_ERROR), SINK_OK);
	/* Transient. */
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__TRANSPORT), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__QUEUE_FULL), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__PURGE_QUEUE), SINK_RETRY);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC), SINK_RETRY);
	/* Refusals. */
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), SINK_FAIL);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), SINK_FAIL);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION), SINK_FAIL);
	assert_int_equal(kafka_err_result(RD_KAFKA_RESP_ERR_INVALID_RECORD), SINK_FAIL);
}

static void test_balancers(void **state)
{
	assert_string_equal(kafka_balancer_choices[0], "round_robin");
	assert_null(kafka_balancer_partitioner(0));
	assert_string_equal(kafka_balancer_choices[1], "least_bytes");
	assert_null(kafka_balancer_partitioner(1));
	assert_string_equal(kafka_balancer_choices[2], "hash");
	assert_string_equal(kafka_balancer_partitioner(2), "fnv1a_random");
	assert_string_equal(kafka_balancer_choices[3], "crc32");
	assert_string_equal(kafka_balancer_partitioner(3), "consistent");
	assert_string_equal(kafka_balancer_partitioner(4), "consistent_random");
	assert_string_equal(kafka_balancer_partitioner(5), "murmur2");
	assert_string_equal(kafka_balancer_partitioner(6), "murmur2_random");
	assert_null(kafka_balancer_choices[7]);
	assert_null(kafka_balancer_partitioner(7));
}

/* --- the sink on a loop, against the mock cluster ------------------------------------------ */

struct harness {
	uv_loop_t loop;
	uv_timer_t tick;
	rd_kafka_t *mock_rk;
	rd_kafka_mock_cluster_t *mc;
	struct config *cfg;
	struct sink *s;
	int ok, retry, fail;
	char last[256];
};

static void on_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct harness *h = s->owner;

	assert_non_null(token);
	if (st->result == SINK_OK)
		h->ok++;
	else if (st->result == SINK_RETRY)
		h->retry++;
	else
		h->fail++;
	snprintf(h->last, sizeof(h->last), "%s", st->msg);
}

static void on_tick(uv_timer_t *t)
{
}

static struct harness *harness_new(const char *const *settings)
{
	struct harness *h = calloc(1, sizeof(*h));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256], hostport[512];

	assert_non_null(h);
	rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
	h->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(h->mock_rk);
	h->mc = rd_kafka_mock_cluster_new(h->mock_rk, 3);
	assert_non_null(h->mc);
	assert_int_equal(rd_kafka_mock_topic_create(h->mc, "alerts", 4, 3), 0);
	assert_int_equal(uv_loop_init(&h->loop), 0);
	uv_timer_init(&h->loop, &h->tick);
	h->cfg = config_new();
	assert_non_null(h->cfg);
	assert_int_equal(config_declare(h->cfg, "kafka", kafka_sink_ops.options), 0);
	snprintf(hostport, sizeof(hostport), "kafka.hostport=%s",
		 rd_kafka_mock_cluster_bootstraps(h->mc));
	assert_int_equal(config_set(h->cfg, hostport), 0);
	for (size_t i = 0; settings && settings[i]; i++)
		assert_int_equal(config_set(h->cfg, settings[i]), 0);
	return h;
}

static int harness_start(struct harness *h)
{
	struct sink_env env = { &h->loop, NULL, "test-host" };
	int err;

	h->s = calloc(1, kafka_sink_ops.size);
	assert_non_null(h->s);
	h->s->ops = &kafka_sink_ops;
	h->s->name = "kafka";
	h->s->loop = &h->loop;
	h->s->done = on_done;
	h->s->owner = h;
	err = kafka_sink_ops.init(h->s, h->cfg, &env);
	if (err) {
		free(h->s);
		h->s = NULL;
	}
	return err;
}

/* Run the loop until done() was called n times in all, or timeout_ms passed. */
static void run_until(struct harness *h, int n, unsigned timeout_ms)
{
	uint64_t end = uv_now(&h->loop) + timeout_ms;

	uv_timer_start(&h->tick, on_tick, 10, 10);
	while (h->ok + h->retry + h->fail < n && uv_now(&h->loop) < end)
		uv_run(&h->loop, UV_RUN_ONCE);
	uv_timer_stop(&h->tick);
}

static void harness_free(struct harness *h)
{
	if (h->s)
		kafka_sink_ops.close(h->s);
	uv_close((uv_handle_t *)&h->tick, NULL);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&h->loop), 0);
	free(h->s);
	config_free(h->cfg);
	rd_kafka_mock_cluster_destroy(h->mc);
	rd_kafka_destroy(h->mock_rk);
	free(h);
}

static void send_n(struct harness *h, struct alert *a, int n)
{
	static int tokens[1000];

	for (int i = 0; i < n; i++)
		assert_int_equal(kafka_sink_ops.send(h->s, a, &tokens[i % 1000]), 0);
}

static void test_delivers_on_report(void **state)
{
	static const char *const settings[] = { "kafka.topic=alerts", "kafka.key=rule",
						"kafka.compression=GZIP", NULL };
	struct harness *h = harness_new(settings);
	struct alert *a = make_alert();

	assert_int_equal(harness_start(h), 0);
	send_n(h, a, 50);
	/* Nothing is delivered before librdkafka's report comes back through the loop. */
	assert_int_equal(h->ok, 0);
	run_until(h, 50, 15000);
	assert_int_equal(h->ok, 50);
	assert_int_equal(h->retry + h->fail, 0);
	harness_free(h);
	alert_unref(a);
}

static void test_every_balancer_delivers(void **state)
{
	for (int b = 0; kafka_balancer_choices[b]; b++) {
		char bal[64];
		const char *settings[] = { "kafka.topic=alerts", bal, NULL };
		struct harness *h;
		struct alert *a = make_alert();

		snprintf(bal, sizeof(bal), "kafka.balancer=%s", kafka_balancer_choices[b]);
		h = harness_new(settings);
		assert_int_equal(harness_start(h), 0);
		send_n(h, a, 20);
		run_until(h, 20, 15000);
		assert_int_equal(h->ok, 20);
		harness_free(h);
		alert_unref(a);
	}
}

static void test_refused_message_fails_with_reason(void **state)
{
	static const char *const settings[] = { "kafka.topic=alerts", NULL };
	struct harness *h = harness_new(settings);
	struct alert *a = make_alert();
	rd_kafka_resp_err_t errs[20];

	/* Every Produce request is answered MESSAGE_TOO_LARGE: permanent, not retried. */
	for (size_t i = 0; i < 20; i++)
		errs[i] = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
	rd_kafka_mock_push_request_errors_array(h->mc, 0 /* Produce */, 20, errs);
	assert_int_equal(harness_start(h), 0);
	send_n(h, a, 1);
	run_until(h, 1, 15000);
	assert_int_equal(h->fail, 1);
	assert_string_equal(h->last, "kafka: Broker: Message size too large");
	harness_free(h);
	alert_unref(a);
}

static void test_brokers_down_times_out_as_retry(void **state)
{
	static const char *const settings[] = { "kafka.topic=alerts", "kafka.timeout=600ms", NULL };
	struct harness *h = harness_new(settings);
	struct alert *a = make_alert();

	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_set_down(h->mc, id);
	assert_int_equal(harness_start(h), 0);
	send_n(h, a, 5);
	run_until(h, 5, 10000);
	assert_int_equal(h->retry, 5);
	assert_string_equal(h->last, "kafka: Local: Message timed out");
	harness_free(h);
	alert_unref(a);
}

static void test_close_abandons_pending_as_retry(void **state)
{
	static const char *const settings[] = { "kafka.topic=alerts", NULL };
	struct harness *h = harness_new(settings);
	struct alert *a = make_alert();

	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_set_down(h->mc, id);
	assert_int_equal(harness_start(h), 0);
	send_n(h, a, 7);
	kafka_sink_ops.close(h->s);
	/* Every token came back, inside close(), as a retry. */
	assert_int_equal(h->retry, 7);
	assert_int_equal(h->ok + h->fail, 0);
	uv_close((uv_handle_t *)&h->tick, NULL);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&h->loop), 0);
	free(h->s);
	h->s = NULL;
	config_free(h->cfg);
	rd_kafka_mock_cluster_destroy(h->mc);
	rd_kafka_destroy(h->mock_rk);
	free(h);
	alert_unref(a);
}

static void test_bad_settings_refuse_to_start(void **state)
{
	static const char *const no_topic[] = { NULL };
	static const char *const bad_prop[] = { "kafka.topic=alerts",
						"kafka.properties=no.such.property:1", NULL };
	static const char *const bad_value[] = { "kafka.topic=alerts",
						 "kafka.properties=linger.ms:forever", NULL };
	static const char *const sasl_no_user[] = { "kafka.topic=alerts", "kafka.sasl=PLAIN",
						    NULL };
	const char *const *cases[] = { no_topic, bad_prop, bad_value, sasl_no_user };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct harness *h = harness_new(cases[i]);

		assert_int_equal(harness_start(h), -EINVAL);
		harness_free(h);
	}
}

static void test_properties_apply(void **state)
{
	static const char *const settings[] = { "kafka.topic=alerts",
						"kafka.properties=linger.ms:0,client.id:unit",
						NULL };
	struct harness *h = harness_new(settings);
	struct alert *a = make_alert();

	assert_int_equal(harness_start(h), 0);
	send_n(h, a, 3);
	run_until(h, 3, 15000);
	assert_int_equal(h->ok, 3);
	harness_free(h);
	alert_unref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_key_value),
		cmocka_unit_test(test_error_classes),
		cmocka_unit_test(test_balancers),
		cmocka_unit_test(test_delivers_on_report),
		cmocka_unit_test(test_every_balancer_delivers),
		cmocka_unit_test(test_refused_message_fails_with_reason),
		cmocka_unit_test(test_brokers_down_times_out_as_retry),
		cmocka_unit_test(test_close_abandons_pending_as_retry),
		cmocka_unit_test(test_bad_settings_refuse_to_start),
		cmocka_unit_test(test_properties_apply),
	};

	if (getenv("KDEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
