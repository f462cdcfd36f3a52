// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config/config.h"
#include "gateway/kafka_input.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "outputs/sink.h"
#include "outputs/alert.h"

/*
 * kafka_input against librdkafka's mock cluster in this process: a submit function that holds
 * the durable callbacks, so the test decides when (and in which order) alerts become durable
 * and checks what the group has committed.
 */

#define MAXHELD 256

static struct {
	pipeline_done_fn cb[MAXHELD];
	void *data[MAXHELD];
	char uuid[MAXHELD][ALERT_UUID_LEN + 1];
	size_t n;
	bool sync; /* answer durable at once (memory mode) */
} held;

static int hold_submit(void *ctx, struct alert *a, pipeline_done_fn cb, void *data)
{
	if (held.sync) {
		alert_unref(a);
		cb(data, 0);
		held.n++;
		return 0;
	}
	assert_true(held.n < MAXHELD);
	held.cb[held.n] = cb;
	held.data[held.n] = data;
	snprintf(held.uuid[held.n], sizeof(held.uuid[0]), "%s", alert_uuid(a));
	held.n++;
	alert_unref(a);
	return 0;
}

struct env {
	rd_kafka_t *mrk;
	rd_kafka_mock_cluster_t *mc;
	const char *bootstrap;
	uv_loop_t loop;
	struct config *cfg;
	struct metrics *m;
	struct kafka_input *ki;
};

static const char alert_fmt[] =
	"{\"output\":\"x\",\"priority\":\"Warning\",\"rule\":\"R\",\"time\":"
	"\"2025-05-07T12:50:34.502309868Z\",\"output_fields\":{},\"uuid\":"
	"\"00000000-0000-4000-8000-%012d\"}";

static void produce(struct env *e, const char *topic, int32_t part, const char *v)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *p;

	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", e->bootstrap, errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(p);
	assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					   RD_KAFKA_V_VALUE((void *)v, strlen(v)), RD_KAFKA_V_END),
			 0);
	assert_int_equal(rd_kafka_flush(p, 10000), 0);
	rd_kafka_destroy(p);
}

static void produce_alerts(struct env *e, int32_t part, int from, int to)
{
	char buf[512];

	for (int i = from; i < to; i++) {
		snprintf(buf, sizeof(buf), alert_fmt, i);
		produce(e, "alerts", part, buf);
	}
}

/* The group's committed offset of alerts[part], read with a separate client. */
static int64_t committed(struct env *e, int32_t part)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *c;
	int64_t off;

	rd_kafka_conf_set(conf, "bootstrap.servers", e->bootstrap, errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "group.id", "g", errstr, sizeof(errstr));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	assert_non_null(c);
	rd_kafka_topic_partition_list_add(l, "alerts", part);
	assert_int_equal(rd_kafka_committed(c, l, 10000), 0);
	off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
	return off;
}

static void run_for(struct env *e, uint64_t ms)
{
	uint64_t end = uv_hrtime() + ms * 1000000ull;

	while (uv_hrtime() < end) {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		uv_sleep(5);
	}
}

static bool run_until_held(struct env *e, size_t n, uint64_t ms)
{
	uint64_t end = uv_hrtime() + ms * 1000000ull;

	while (held.n < n && uv_hrtime() < end) {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		uv_sleep(5);
	}
	return held.n >= n;
}

/*
 * Run the loop until the group's committed offset of partition part is want, 15 s at most
 * (commits go through librdkafka's threads and the mock cluster: late on a loaded machine).
 */
static int64_t run_until_committed(struct env *e, int32_t part, int64_t want)
{
	uint64_t end = uv_hrtime() + 15000ull * 1000000ull;
	int64_t off;

	while ((off = committed(e, part)) != want && uv_hrtime() < end)
		run_for(e, 50);
	return off;
}

static void env_up(struct env *e, const char *extra)
{
	char errstr[256], yaml[1024];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	memset(&held, 0, sizeof(held));
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	e->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(e->mrk);
	e->mc = rd_kafka_mock_cluster_new(e->mrk, 3);
	assert_non_null(e->mc);
	assert_int_equal(rd_kafka_mock_topic_create(e->mc, "alerts", 2, 3), 0);
	assert_int_equal(rd_kafka_mock_topic_create(e->mc, "dlq", 1, 3), 0);
	e->bootstrap = rd_kafka_mock_cluster_bootstraps(e->mc);
	snprintf(yaml, sizeof(yaml),
		 "kafka_input:\n  brokers: '%s'\n  topics: [alerts]\n  group: g\n"
		 "  commit_interval: 20ms\n%s",
		 e->bootstrap, extra);
	uv_loop_init(&e->loop);
	e->cfg = config_new();
	e->m = metrics_new(0);
	assert_non_null(e->cfg);
	assert_non_null(e->m);
	assert_int_equal(config_declare(e->cfg, "kafka_input", kafka_input_options), 0);
	assert_int_equal(config_load_buffer(e->cfg, "t.yaml", yaml, strlen(yaml)), 0);
	assert_int_equal(config_check(e->cfg), 0);
	assert_true(kafka_input_configured(e->cfg));
	e->ki = kafka_input_new_with(&e->loop, e->cfg, e->m, hold_submit, NULL);
	assert_non_null(e->ki);
}

static void env_down(struct env *e)
{
	struct kafka_input_stats st;

	kafka_input_stop(e->ki, 2000);
	while (!(kafka_input_get_stats(e->ki, &st), st.stopped))
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	kafka_input_free(e->ki);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	metrics_free(e->m);
	config_free(e->cfg);
}

static void cluster_down(struct env *e)
{
	rd_kafka_mock_cluster_destroy(e->mc);
	rd_kafka_destroy(e->mrk);
}

/* Offsets are committed only once durable, and only up to the first one that is not. */
static void test_commit_in_order(void **state)
{
	struct env e = { 0 };
	struct kafka_input_stats st;

	env_up(&e, "");
	produce_alerts(&e, 0, 0, 5);
	assert_true(run_until_held(&e, 5, 15000));
	for (size_t i = 0; i < 5; i++) {
		char want[64];

		snprintf(want, sizeof(want), "00000000-0000-4000-8000-%012zu", i);
		assert_string_equal(held.uuid[i], want); /* alert_parse kept the uuid, in order */
	}
	run_for(&e, 200);
	assert_true(committed(&e, 0) < 0); /* nothing durable: nothing committed */
	/* 0, 1 and 3 durable: offsets 0-1 are done, 3 waits for 2. */
	held.cb[0](held.data[0], 0);
	held.cb[1](held.data[1], 0);
	held.cb[3](held.data[3], 0);
	assert_int_equal(run_until_committed(&e, 0, 2), 2);
	held.cb[2](held.data[2], 0);
	assert_int_equal(run_until_committed(&e, 0, 4), 4);
	kafka_input_get_stats(e.ki, &st);
	assert_int_equal(st.consumed, 5);
	assert_int_equal(st.submitted, 5);
	assert_int_equal(st.durable, 4);
	assert_int_equal(st.pending, 1);
	/* Stop waits for the last one, then commits it. */
	kafka_input_stop(e.ki, 5000);
	run_for(&e, 50);
	kafka_input_get_stats(e.ki, &st);
	assert_false(st.stopped);
	held.cb[4](held.data[4], 0);
	env_down(&e);
	assert_int_equal(committed(&e, 0), 5);
	cluster_down(&e);
}

/* Count the dead-letter topic's messages whose value is v. */
static int dlq_count(struct env *e, const char *v)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *c;
	int n = 0;

	rd_kafka_conf_set(conf, "bootstrap.servers", e->bootstrap, errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "group.id", "dlqreader", errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	assert_non_null(c);
	rd_kafka_topic_partition_list_add(l, "dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(c, l), 0);
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10000);
		const void *hv = NULL;
		size_t hl = 0;
		rd_kafka_headers_t *h = NULL;

		assert_non_null(m);
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			break;
		}
		assert_int_equal(m->err, 0);
		if (m->len == strlen(v) && !memcmp(m->payload, v, m->len)) {
			n++;
			assert_int_equal(rd_kafka_message_headers(m, &h), 0);
			assert_int_equal(rd_kafka_header_get_last(h, "lanner.offset", &hv, &hl), 0);
			assert_int_equal(hl, 1);
			assert_memory_equal(hv, "2", 1);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return n;
}

/* A poison message is counted, dead-lettered and skipped; the partition keeps flowing. */
static void test_poison(void **state)
{
	static const char poison[] = "{\"rule\": 42}";
	struct env e = { 0 };
	struct kafka_input_stats st;
	char *text;

	env_up(&e, "  deadletter_topic: dlq\n");
	held.sync = true;
	produce_alerts(&e, 1, 0, 2);
	produce(&e, "alerts", 1, poison);
	produce_alerts(&e, 1, 2, 4);
	assert_true(run_until_held(&e, 4, 15000));
	for (int i = 0; i < 200; i++) {
		kafka_input_get_stats(e.ki, &st);
		if (st.deadlettered)
			break;
		run_for(&e, 20);
	}
	/* Everything done, the poison's offset (2) included: committed past the end. */
	assert_int_equal(run_until_committed(&e, 1, 5), 5);
	kafka_input_get_stats(e.ki, &st);
	assert_int_equal(st.consumed, 5);
	assert_int_equal(st.submitted, 4);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.deadlettered, 1);
	text = metrics_render(e.m, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "lanner_kafka_input_lag{topic=\"alerts\",partition=\"1\"} 0"));
	free(text);
	env_down(&e);
	assert_int_equal(dlq_count(&e, poison), 1);
	cluster_down(&e);
}

/* Past max_inflight the input stops reading, and resumes once half are durable. */
static void test_backpressure(void **state)
{
	struct env e = { 0 };
	struct kafka_input_stats st;

	env_up(&e, "  max_inflight: 4\n");
	produce_alerts(&e, 0, 0, 10);
	assert_true(run_until_held(&e, 4, 15000));
	run_for(&e, 300);
	assert_int_equal(held.n, 4);
	held.cb[0](held.data[0], 0);
	run_for(&e, 100);
	assert_int_equal(held.n, 4); /* 3 pending: above half */
	held.cb[1](held.data[1], 0);
	assert_true(run_until_held(&e, 6, 15000));
	run_for(&e, 100);
	assert_int_equal(held.n, 6);
	for (size_t i = 2; i < 6; i++)
		held.cb[i](held.data[i], 0);
	assert_true(run_until_held(&e, 10, 15000));
	for (size_t i = 6; i < 10; i++)
		held.cb[i](held.data[i], 0);
	assert_int_equal(run_until_committed(&e, 0, 10), 10);
	kafka_input_get_stats(e.ki, &st);
	assert_int_equal(st.pending, 0);
	env_down(&e);
	cluster_down(&e);
}

/* Stop with an alert never made durable: bounded wait, its offset stays uncommitted. */
static void test_stop_timeout(void **state)
{
	struct env e = { 0 };
	struct kafka_input_stats st;

	env_up(&e, "");
	produce_alerts(&e, 0, 0, 2);
	assert_true(run_until_held(&e, 2, 15000));
	held.cb[0](held.data[0], 0);
	kafka_input_stop(e.ki, 100);
	while (!(kafka_input_get_stats(e.ki, &st), st.stopped))
		uv_run(&e.loop, UV_RUN_ONCE);
	assert_int_equal(committed(&e, 0), 1);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	/* The pipeline answers after the input stopped: harmless. */
	held.cb[1](held.data[1], 0);
	kafka_input_free(e.ki);
	assert_int_equal(uv_loop_close(&e.loop), 0);
	metrics_free(e.m);
	config_free(e.cfg);
	assert_int_equal(committed(&e, 0), 1);
	cluster_down(&e);
}

static void test_config_required(void **state)
{
	struct config *cfg = config_new();
	static const char y[] = "kafka_input:\n  brokers: 127.0.0.1:1\n";
	uv_loop_t loop;

	uv_loop_init(&loop);
	assert_int_equal(config_declare(cfg, "kafka_input", kafka_input_options), 0);
	assert_int_equal(config_load_buffer(cfg, "t.yaml", y, sizeof(y) - 1), 0);
	assert_int_equal(config_check(cfg), 0);
	assert_null(kafka_input_new_with(&loop, cfg, NULL, hold_submit, NULL));
	config_free(cfg);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* --- with the pipeline: held alerts ------------------------------------------------------- */

static struct {
	size_t sends;
} cs;

static int count_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	return 0;
}

static int count_send(struct sink *s, struct alert *a, void *token)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };

	cs.sends++;
	sink_done(s, token, &ok);
	return 0;
}

static const struct config_option count_options[] = {
	{ "enabled", CONFIG_BOOL, "true", 0, 0, 0, NULL, NULL, "on" },
	{ NULL },
};

static const struct sink_ops count_ops = {
	.name = "count",
	.size = sizeof(struct sink),
	.options = count_options,
	.enable_key = "count.enabled",
	.init = count_init,
	.send = count_send,
};

static const struct sink_ops *const count_registry[] = { &count_ops, NULL };

static void on_pipeline_closed(void *data)
{
	*(bool *)data = true;
}

/*
 * An alert read from Kafka reaches the sinks only once the group acknowledged the commit of its
 * offset: while the coordinator refuses the commits, nothing is delivered; after, everything.
 */
static void test_held_until_commit_acked(void **state)
{
	char dir[] = "/tmp/lanner-kin-XXXXXX", yaml[1024], errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct kafka_input_stats st;
	struct pipeline *p;
	struct env e = { 0 };
	bool closed = false;

	memset(&cs, 0, sizeof(cs));
	assert_non_null(mkdtemp(dir));
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	e.mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(e.mrk);
	e.mc = rd_kafka_mock_cluster_new(e.mrk, 3);
	assert_non_null(e.mc);
	assert_int_equal(rd_kafka_mock_topic_create(e.mc, "alerts", 2, 3), 0);
	e.bootstrap = rd_kafka_mock_cluster_bootstraps(e.mc);
	snprintf(yaml, sizeof(yaml),
		 "kafka_input:\n  brokers: '%s'\n  topics: [alerts]\n  group: g\n"
		 "  commit_interval: 50ms\n"
		 "spool: {path: '%s/spool.db'}\ndedup: {uuid_window: 1m}\n",
		 e.bootstrap, dir);
	uv_loop_init(&e.loop);
	e.cfg = config_new();
	e.m = metrics_new(0);
	assert_int_equal(config_declare(e.cfg, "kafka_input", kafka_input_options), 0);
	assert_int_equal(pipeline_declare_with(e.cfg, count_registry), 0);
	assert_int_equal(config_load_buffer(e.cfg, "t.yaml", yaml, strlen(yaml)), 0);
	assert_int_equal(config_check(e.cfg), 0);
	p = pipeline_new_with(&e.loop, e.cfg, e.m, count_registry);
	assert_non_null(p);
	e.ki = kafka_input_new(&e.loop, e.cfg, p, e.m);
	assert_non_null(e.ki);

	/* Every commit refused for a while (a coordinator error on the whole request). */
	rd_kafka_mock_push_request_errors(e.mc, 8 /* OffsetCommit */, 6,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE);
	produce_alerts(&e, 0, 0, 5);
	for (int i = 0; i < 1500; i++) {
		kafka_input_get_stats(e.ki, &st);
		if (st.durable == 5 && st.commits >= 2)
			break;
		run_for(&e, 10);
	}
	kafka_input_get_stats(e.ki, &st);
	assert_int_equal(st.durable, 5);
	/* Durable, commits refused: held, not delivered. */
	assert_int_equal(cs.sends, 0);
	assert_int_equal(st.released, 0);
	/* The errors run out: the next commit is acknowledged, the alerts go out, once. */
	for (int i = 0; i < 1500 && cs.sends < 5; i++)
		run_for(&e, 10);
	assert_int_equal(cs.sends, 5);
	assert_int_equal(run_until_committed(&e, 0, 5), 5);
	for (int i = 0; i < 1500 && (kafka_input_get_stats(e.ki, &st), st.released < 5); i++)
		run_for(&e, 10);
	/* and no second delivery */
	run_for(&e, 200);
	kafka_input_get_stats(e.ki, &st);
	assert_int_equal(st.released, 5);
	assert_int_equal(cs.sends, 5);

	kafka_input_stop(e.ki, 2000);
	pipeline_shutdown(p, 2000, on_pipeline_closed, &closed);
	while (!(kafka_input_get_stats(e.ki, &st), st.stopped) || !closed)
		uv_run(&e.loop, UV_RUN_ONCE);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	pipeline_free(p);
	kafka_input_free(e.ki);
	assert_int_equal(uv_loop_close(&e.loop), 0);
	metrics_free(e.m);
	config_free(e.cfg);
	cluster_down(&e);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_in_order),
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_stop_timeout),
		cmocka_unit_test(test_config_required),
		cmocka_unit_test(test_held_until_commit_acked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
