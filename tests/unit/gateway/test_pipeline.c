// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>
#include <sqlite3.h>

#include "config/config.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/sink_filter.h"
#include "outputs/alert.h"
#include "outputs/sink.h"

/*
 * The pipeline against a scripted sink: each send takes the next result of the script, answers
 * synchronously or holds the token (to test concurrency, the queue bound and shutdown).
 */

#define MAX_SENDS 128

struct script_settings {
	bool enabled;
};

struct script_sink {
	struct sink base;
	struct script_settings set;
};

static struct {
	struct sink_status results[MAX_SENDS];
	size_t n_results; /* sends beyond the script answer OK */
	bool hold; /* keep tokens instead of answering */
	size_t sends;
	uint64_t send_ms[MAX_SENDS];
	char json[MAX_SENDS][1024];
	enum priority prio[MAX_SENDS];
	void *held[MAX_SENDS];
	struct sink *held_sink;
	size_t n_held;
	bool closed;
} sc;

static const struct config_option script_options[] = {
	{ "enabled", CONFIG_BOOL, "true", offsetof(struct script_settings, enabled), 0, 0, NULL,
	  NULL, "on" },
	{ NULL },
};

static int script_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct script_sink *ss = (struct script_sink *)s;

	return config_bind(cfg, "script", script_options, &ss->set);
}

static int script_send(struct sink *s, struct alert *a, void *token)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	size_t i = sc.sends++;

	assert_true(i < MAX_SENDS);
	sc.send_ms[i] = uv_now(s->loop);
	sc.prio[i] = alert_priority(a);
	snprintf(sc.json[i], sizeof(sc.json[i]), "%s", alert_json(a, NULL));
	if (sc.hold) {
		sc.held[sc.n_held++] = token;
		sc.held_sink = s;
		return 0;
	}
	sink_done(s, token, i < sc.n_results ? &sc.results[i] : &ok);
	return 0;
}

static void script_close(struct sink *s)
{
	struct sink_status st = { .result = SINK_RETRY, .retry_after_ms = -1 };

	sc.closed = true;
	/* Abandon what is held, as a real sink abandons in-flight requests. */
	while (sc.n_held)
		sink_done(s, sc.held[--sc.n_held], &st);
}

static const struct sink_ops script_ops = {
	.name = "script",
	.size = sizeof(struct script_sink),
	.options = script_options,
	.enable_key = "script.enabled",
	.init = script_init,
	.send = script_send,
	.close = script_close,
};

/*
 * A batching sink ("batchy", off unless batchy.enabled): records every send_batch call's size
 * and answers each alert from the script (by alert index over all calls).
 */
static struct {
	size_t calls, alerts;
	size_t sizes[MAX_SENDS];
	uint64_t call_ms[MAX_SENDS];
	char rules[MAX_SENDS][32];
} bc;

static const struct config_option batchy_options[] = {
	{ "enabled", CONFIG_BOOL, "false", offsetof(struct script_settings, enabled), 0, 0, NULL,
	  NULL, "on" },
	{ NULL },
};

static int batchy_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct script_sink *ss = (struct script_sink *)s;

	return config_bind(cfg, "batchy", batchy_options, &ss->set);
}

static int batchy_send_batch(struct sink *s, struct alert *const *alerts, void *const *tokens,
			     size_t n)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };

	assert_true(bc.calls < MAX_SENDS);
	bc.sizes[bc.calls] = n;
	bc.call_ms[bc.calls++] = uv_now(s->loop);
	for (size_t i = 0; i < n; i++) {
		size_t k = bc.alerts++;

		assert_true(k < MAX_SENDS);
		snprintf(bc.rules[k], sizeof(bc.rules[k]), "%s", alert_rule(alerts[i]));
		sink_done(s, tokens[i], k < sc.n_results ? &sc.results[k] : &ok);
	}
	return 0;
}

static int batchy_send(struct sink *s, struct alert *a, void *token)
{
	return batchy_send_batch(s, &a, &token, 1);
}

static void batchy_close(struct sink *s)
{
}

static const struct sink_ops batchy_ops = {
	.name = "batchy",
	.size = sizeof(struct script_sink),
	.options = batchy_options,
	.enable_key = "batchy.enabled",
	.init = batchy_init,
	.send = batchy_send,
	.send_batch = batchy_send_batch,
	.close = batchy_close,
};

static const struct sink_ops *const test_registry[] = { &script_ops, &batchy_ops, NULL };

struct fixture {
	uv_loop_t loop;
	struct config *cfg;
	struct metrics *m;
	struct pipeline *p;
	bool closed;
};

/* The script sink holds from the start (alerts loaded from the spool are sent at once). */
static bool hold_from_start;

static struct fixture *fixture_new(const char *yaml)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(&sc, 0, sizeof(sc));
	sc.hold = hold_from_start;
	memset(&bc, 0, sizeof(bc));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->cfg = config_new();
	assert_non_null(f->cfg);
	assert_int_equal(pipeline_declare_with(f->cfg, test_registry), 0);
	/* Queues only, unless the test is about the spool. */
	if (!strstr(yaml, "spool"))
		assert_int_equal(config_load_buffer(f->cfg, "mem.yaml", "spool: {mode: memory}\n",
						    strlen("spool: {mode: memory}\n")),
				 0);
	assert_int_equal(config_load_buffer(f->cfg, "test.yaml", yaml, strlen(yaml)), 0);
	assert_int_equal(config_check(f->cfg), 0);
	f->m = metrics_new(0);
	assert_non_null(f->m);
	f->p = pipeline_new_with(&f->loop, f->cfg, f->m, test_registry);
	assert_non_null(f->p);
	return f;
}

static void on_closed(void *data)
{
	((struct fixture *)data)->closed = true;
}

static void fixture_free(struct fixture *f)
{
	pipeline_shutdown(f->p, 0, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	pipeline_free(f->p);
	metrics_free(f->m);
	config_free(f->cfg);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
}

static struct alert *make_alert(const char *rule, enum priority p)
{
	struct alert_init init = {
		.rule = rule,
		.priority = p,
		.source = "syscall",
		.output = "something happened",
		.time_ns = 1746622234502309868LL,
	};
	struct alert *a = alert_new(&init);

	assert_non_null(a);
	return a;
}

static void on_run_for_timer(uv_timer_t *t)
{
	uv_timer_stop(t);
}

/* Run the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;

	/*
	 * From now, not from the loop's last iteration: a timer already due when uv_run starts
	 * fires before it polls, and with nothing else to wait for the poll would then block.
	 */
	uv_update_time(loop);
	uv_timer_init(loop, &t);
	uv_timer_start(&t, on_run_for_timer, ms, 0);
	while (uv_is_active((uv_handle_t *)&t) && uv_run(loop, UV_RUN_ONCE))
		;
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/*
 * Run the loop until cond holds, for at most 10 s of wall time: what depends on the spool's
 * writer thread or on timers is late on a loaded machine, and the assertions after it check
 * cond itself (a fixed run_for followed by them is flaky).
 */
#define RUN_UNTIL(f, cond)                                                      \
	do {                                                                    \
		uint64_t run_until_t0_ = uv_hrtime();                           \
		while (!(cond) && uv_hrtime() - run_until_t0_ < 10000000000ULL) \
			run_for(&(f)->loop, 10);                                \
	} while (0)

static uint64_t counter(struct fixture *f, const char *needle)
{
	char *text = metrics_render(f->m, NULL);
	const char *at;
	uint64_t v = 0;

	assert_non_null(text);
	at = strstr(text, needle);
	if (at)
		v = strtoull(at + strlen(needle) + 1, NULL, 10);
	free(text);
	return v;
}

static void test_backoff_bounds(void **state)
{
	for (uint64_t rnd = 0; rnd < 1000; rnd += 37) {
		int64_t d1 = pipeline_backoff_ms(500, 30000, 1, rnd);
		int64_t d3 = pipeline_backoff_ms(500, 30000, 3, rnd);
		int64_t d20 = pipeline_backoff_ms(500, 30000, 20, rnd);

		assert_true(d1 >= 250 && d1 <= 500);
		assert_true(d3 >= 1000 && d3 <= 2000);
		assert_true(d20 >= 15000 && d20 <= 30000);
	}
}

static void retry(size_t i, int64_t retry_after)
{
	sc.results[i].result = SINK_RETRY;
	sc.results[i].retry_after_ms = retry_after;
	snprintf(sc.results[i].msg, sizeof(sc.results[i].msg), "HTTP 500");
}

/* 500 three times, then 200: four sends, and no fifth. */
static void test_retry_until_delivered(void **state)
{
	struct fixture *f = fixture_new("retry: {initial: 10ms, max: 40ms}\n");

	retry(0, -1);
	retry(1, -1);
	retry(2, -1);
	sc.n_results = 3;
	assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	RUN_UNTIL(f, sc.sends >= 4);
	/* and no fifth */
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 4);
	assert_string_equal(sc.json[0], sc.json[3]);
	assert_int_equal(pipeline_pending(f->p), 0);
	assert_int_equal(counter(f, "lanner_retries_total{sink=\"script\"}"), 3);
	assert_int_equal(counter(f,
				 "falcosecurity_falcosidekick_outputs_total{destination=\"script\","
				 "status=\"ok\"}"),
			 1);
	fixture_free(f);
}

/* A server's Retry-After wins over the (short) backoff. */
static void test_retry_after_honoured(void **state)
{
	struct fixture *f = fixture_new("retry: {initial: 1ms}\n");

	retry(0, 300);
	sc.n_results = 1;
	assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	RUN_UNTIL(f, sc.sends >= 2);
	assert_int_equal(sc.sends, 2);
	assert_true(sc.send_ms[1] - sc.send_ms[0] >= 300);
	fixture_free(f);
}

static void test_permanent_failure_not_retried(void **state)
{
	struct fixture *f = fixture_new("retry: {initial: 1ms}\n");

	sc.results[0].result = SINK_FAIL;
	snprintf(sc.results[0].msg, sizeof(sc.results[0].msg), "HTTP 400");
	sc.n_results = 1;
	assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	run_for(&f->loop, 50);
	assert_int_equal(sc.sends, 1);
	assert_int_equal(counter(f,
				 "falcosecurity_falcosidekick_outputs_total{destination=\"script\","
				 "status=\"error\"}"),
			 1);
	fixture_free(f);
}

static void test_max_attempts(void **state)
{
	struct fixture *f = fixture_new("retry: {initial: 1ms, max: 2ms, max_attempts: 2}\n");

	retry(0, -1);
	retry(1, -1);
	retry(2, -1);
	sc.n_results = 3;
	assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	RUN_UNTIL(f,
		  counter(f, "lanner_dropped_total{sink=\"script\",reason=\"retries_exhausted\"}"));
	/* and no third attempt */
	run_for(&f->loop, 50);
	assert_int_equal(sc.sends, 2);
	assert_int_equal(
		counter(f, "lanner_dropped_total{sink=\"script\",reason=\"retries_exhausted\"}"),
		1);
	fixture_free(f);
}

/* minimumpriority filters; the test alert bypasses it. */
static void test_minimum_priority(void **state)
{
	struct fixture *f = fixture_new("script: {minimumpriority: error}\n");
	struct alert_init init = {
		.rule = "Test rule", .priority = PRIORITY_DEBUG, .source = "internal", .test = true
	};

	assert_int_equal(pipeline_submit(f->p, make_alert("w", PRIORITY_WARNING)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("c", PRIORITY_CRITICAL)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("e", PRIORITY_ERROR)), 0);
	assert_int_equal(pipeline_submit(f->p, alert_new(&init)), 0);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 3);
	assert_int_equal(sc.prio[0], PRIORITY_CRITICAL);
	assert_int_equal(sc.prio[1], PRIORITY_ERROR);
	assert_int_equal(sc.prio[2], PRIORITY_DEBUG);
	fixture_free(f);
}

static struct alert *make_tagged(const char *rule, const char *source, const char *tag)
{
	struct alert_init init = {
		.rule = rule,
		.priority = PRIORITY_WARNING,
		.source = source,
		.output = "x",
		.time_ns = 1746622234502309868LL,
	};
	struct alert *a = alert_new(&init);

	assert_non_null(a);
	if (tag)
		assert_int_equal(alert_add_tag(a, tag), 0);
	return a;
}

static bool sent_rule(const char *rule)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"rule\":\"%s\"", rule);
	for (size_t i = 0; i < sc.sends; i++)
		if (strstr(sc.json[i], needle))
			return true;
	return false;
}

/* match: include/exclude lists of rules (with wildcards), tags and sources; exclude wins. */
static void test_match_lists(void **state)
{
	struct fixture *f = fixture_new("script:\n"
					"  match:\n"
					"    rules: {include: ['Shell*', 'Write below etc'], "
					"exclude: ['Shell in test']}\n"
					"    tags: {exclude: [noisy]}\n"
					"    sources: {include: [syscall, k8s_audit]}\n");
	struct alert_init init = {
		.rule = "Test rule", .priority = PRIORITY_DEBUG, .source = "internal", .test = true
	};

	assert_int_equal(
		pipeline_submit(f->p, make_tagged("Shell in container", "syscall", "mitre")), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("Shell in test", "syscall", NULL)), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("Shell noisy", "syscall", "noisy")), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("Write below etc", "k8s_audit", NULL)),
			 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("Shell from aws", "aws", NULL)), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("Other rule", "syscall", NULL)), 0);
	/* POST /test reaches every sink, as it bypasses minimumpriority. */
	assert_int_equal(pipeline_submit(f->p, alert_new(&init)), 0);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 3);
	assert_true(sent_rule("Shell in container"));
	assert_true(sent_rule("Write below etc"));
	assert_true(sent_rule("Test rule"));
	assert_false(sent_rule("Shell noisy"));
	fixture_free(f);
}

/* tags.include: any tag of the alert in the list. */
static void test_match_tags_include(void **state)
{
	struct fixture *f = fixture_new("script: {match: {tags: {include: [mitre_*, pci]}}}\n");

	assert_int_equal(pipeline_submit(f->p, make_tagged("a", "syscall", "mitre_execution")), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("b", "syscall", "container")), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("c", "syscall", NULL)), 0);
	assert_int_equal(pipeline_submit(f->p, make_tagged("d", "syscall", "pci")), 0);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 2);
	assert_true(sent_rule("a"));
	assert_true(sent_rule("d"));
	fixture_free(f);
}

static void test_rate_parse(void **state)
{
	double per_ms, count;

	assert_int_equal(sink_filter_parse_rate("10/s", &per_ms, &count), 0);
	assert_true(per_ms > 0.0099 && per_ms < 0.0101 && count == 10);
	assert_int_equal(sink_filter_parse_rate("600/m", &per_ms, &count), 0);
	assert_true(per_ms > 0.0099 && per_ms < 0.0101);
	assert_int_equal(sink_filter_parse_rate("0.5/s", &per_ms, &count), 0);
	assert_int_equal(sink_filter_parse_rate("3600/hour", &per_ms, &count), 0);
	assert_int_equal(sink_filter_parse_rate("10", &per_ms, &count), -EINVAL);
	assert_int_equal(sink_filter_parse_rate("10/x", &per_ms, &count), -EINVAL);
	assert_int_equal(sink_filter_parse_rate("-1/s", &per_ms, &count), -EINVAL);
	assert_int_equal(sink_filter_parse_rate("/s", &per_ms, &count), -EINVAL);
}

/* A bad rate is a configuration error naming the key. */
static void test_rate_config_error(void **state)
{
	static const char yaml[] = "script: {ratelimit: {rate: 10 per second}}\n";
	struct config *cfg = config_new();

	assert_int_equal(pipeline_declare_with(cfg, test_registry), 0);
	assert_int_equal(config_load_buffer(cfg, "t.yaml", yaml, strlen(yaml)), 0);
	/* config_check only checks the shape of a custom value: binding reports it. */
	if (config_check(cfg) == 0) {
		uv_loop_t loop;
		struct metrics *m = metrics_new(0);

		assert_int_equal(uv_loop_init(&loop), 0);
		errno = 0;
		assert_null(pipeline_new_with(&loop, cfg, m, test_registry));
		assert_int_equal(errno, EINVAL);
		metrics_free(m);
		assert_int_equal(uv_loop_close(&loop), 0);
	}
	config_free(cfg);
}

/* ratelimit: a burst goes at once, the rest waits in the queue (nothing dropped). */
static void test_ratelimit(void **state)
{
	struct fixture *f =
		fixture_new("spool: {mode: memory}\nscript: {ratelimit: {rate: 5/s, burst: 2}}\n");

	for (int i = 0; i < 6; i++)
		assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	/* the burst at once (on submit: running the loop first would let a stall of it as long
	 * as a token's 200 ms let a third through) */
	assert_int_equal(sc.sends, 2);
	assert_int_equal(pipeline_pending(f->p), 4);
	for (int i = 0; i < 500 && sc.sends < 6; i++)
		run_for(&f->loop, 20);
	assert_int_equal(sc.sends, 6);
	/* Four tokens at 5/s take at least 800 ms (uv_now has ms granularity). */
	assert_true(sc.send_ms[5] - sc.send_ms[0] >= 799);
	assert_true(sc.send_ms[2] - sc.send_ms[0] >= 199);
	assert_int_equal(counter(f, "lanner_dropped_total{sink=\"script\""), 0);
	fixture_free(f);
}

/* batch.size / batch.wait: full batches at once, a partial one after batch.wait. */
static void test_batch_size_and_wait(void **state)
{
	struct fixture *f = fixture_new("script: {enabled: false}\n"
					"batchy: {enabled: true, maxconcurrentrequests: 1, "
					"batch: {size: 3, wait: 150ms}}\n");
	uint64_t t0 = uv_now(&f->loop);

	for (int i = 0; i < 7; i++) {
		char rule[8];

		snprintf(rule, sizeof(rule), "r%d", i);
		assert_int_equal(pipeline_submit(f->p, make_alert(rule, PRIORITY_WARNING)), 0);
	}
	run_for(&f->loop, 10);
	assert_int_equal(bc.calls, 2);
	assert_int_equal(bc.sizes[0], 3);
	assert_int_equal(bc.sizes[1], 3);
	for (int i = 0; i < 500 && bc.calls < 3; i++)
		run_for(&f->loop, 20);
	assert_int_equal(bc.calls, 3);
	assert_int_equal(bc.sizes[2], 1);
	assert_true(bc.call_ms[2] - t0 >= 150);
	for (int i = 0; i < 7; i++) {
		char rule[8];

		snprintf(rule, sizeof(rule), "r%d", i);
		assert_string_equal(bc.rules[i], rule);
	}
	assert_int_equal(pipeline_pending(f->p), 0);
	fixture_free(f);
}

/* Shutdown sends a partial batch at once instead of waiting for its batch.wait. */
static void test_batch_flushed_at_shutdown(void **state)
{
	struct fixture *f = fixture_new("script: {enabled: false}\n"
					"batchy: {enabled: true, batch: {size: 10, wait: 60s}}\n");

	assert_int_equal(pipeline_submit(f->p, make_alert("a", PRIORITY_WARNING)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("b", PRIORITY_WARNING)), 0);
	run_for(&f->loop, 20);
	assert_int_equal(bc.calls, 0);
	pipeline_shutdown(f->p, 10000, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(bc.calls, 1);
	assert_int_equal(bc.sizes[0], 2);
	pipeline_free(f->p);
	metrics_free(f->m);
	config_free(f->cfg);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
}

/* Per-alert results of a batch: only the retryable ones go again, in their order. */
static void test_batch_partial_retry(void **state)
{
	struct fixture *f = fixture_new("script: {enabled: false}\n"
					"retry: {initial: 10ms, max: 20ms}\n"
					"batchy: {enabled: true, batch: {size: 4, wait: 10s}}\n");

	retry(1, -1);
	sc.results[2].result = SINK_FAIL;
	retry(3, -1);
	sc.n_results = 4;
	for (int i = 0; i < 4; i++) {
		char rule[8];

		snprintf(rule, sizeof(rule), "r%d", i);
		assert_int_equal(pipeline_submit(f->p, make_alert(rule, PRIORITY_WARNING)), 0);
	}
	for (int i = 0; i < 500 && pipeline_pending(f->p); i++)
		run_for(&f->loop, 20);
	assert_int_equal(pipeline_pending(f->p), 0);
	/* One full batch, then the two retries together as the probe after the backoff. */
	assert_int_equal(bc.calls, 2);
	assert_int_equal(bc.sizes[1], 2);
	assert_int_equal(bc.alerts, 6);
	assert_string_equal(bc.rules[4], "r1");
	assert_string_equal(bc.rules[5], "r3");
	assert_int_equal(counter(f, "lanner_retries_total{sink=\"batchy\"}"), 2);
	fixture_free(f);
}

/* Full queue: the oldest alert of the lowest priority goes first, and it is counted. */
static void test_queue_full_drops_lowest_priority(void **state)
{
	struct fixture *f = fixture_new("queue: {max_alerts: 3}\n"
					"script: {maxconcurrentrequests: 1}\n");

	sc.hold = true;
	assert_int_equal(pipeline_submit(f->p, make_alert("inflight", PRIORITY_DEBUG)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("w1", PRIORITY_WARNING)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("n1", PRIORITY_NOTICE)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("w2", PRIORITY_WARNING)), 0);
	assert_int_equal(sc.sends, 1);
	assert_int_equal(pipeline_pending(f->p), 4);
	/* Error pushes out the Notice. */
	assert_int_equal(pipeline_submit(f->p, make_alert("e1", PRIORITY_ERROR)), 0);
	/* Debug is the least severe of all: it is the one dropped. */
	assert_int_equal(pipeline_submit(f->p, make_alert("d1", PRIORITY_DEBUG)), 0);
	assert_int_equal(pipeline_pending(f->p), 4);
	assert_int_equal(counter(f, "lanner_dropped_total{sink=\"script\",reason=\"queue_full\"}"),
			 2);
	/* Release the held one: the queue drains in order w1, w2, e1. */
	sc.hold = false;
	{
		struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };

		sink_done(sc.held_sink, sc.held[0], &ok);
		sc.n_held = 0;
	}
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 4);
	assert_non_null(strstr(sc.json[1], "\"rule\":\"w1\""));
	assert_non_null(strstr(sc.json[2], "\"rule\":\"w2\""));
	assert_non_null(strstr(sc.json[3], "\"rule\":\"e1\""));
	fixture_free(f);
}

static void test_concurrency_limit(void **state)
{
	struct fixture *f = fixture_new("script: {maxconcurrentrequests: 2}\n");

	sc.hold = true;
	for (int i = 0; i < 5; i++)
		assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	assert_int_equal(sc.sends, 2);
	assert_int_equal(pipeline_pending(f->p), 5);
	/* Shutdown with a zero timeout abandons the rest, counted as shutdown drops. */
	pipeline_shutdown(f->p, 0, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_true(sc.closed);
	assert_int_equal(counter(f, "lanner_dropped_total{sink=\"script\",reason=\"shutdown\"}"),
			 5);
	pipeline_free(f->p);
	metrics_free(f->m);
	config_free(f->cfg);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
}

static void test_enrichment(void **state)
{
	struct fixture *f = fixture_new("hostname: node-7\n"
					"customfields: {env: prod, team: sec}\n"
					"customtags: [lanner, zz]\n");

	assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 1);
	assert_non_null(strstr(sc.json[0], "\"hostname\":\"node-7\""));
	assert_non_null(
		strstr(sc.json[0], "\"output_fields\":{\"env\":\"prod\",\"team\":\"sec\"}"));
	assert_non_null(strstr(sc.json[0], "\"tags\":[\"lanner\",\"zz\"]"));
	assert_int_equal(counter(f, "falcosecurity_falcosidekick_falco_events_total{rule=\"r\","
				    "priority=\"Warning\",source=\"syscall\",hostname=\"node-7\"}"),
			 1);
	fixture_free(f);
}

/* Shutdown waits for in-flight deliveries that finish within the timeout. */
static void finish_held(uv_timer_t *t)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };

	while (sc.n_held)
		sink_done(sc.held_sink, sc.held[--sc.n_held], &ok);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_shutdown_drains(void **state)
{
	struct fixture *f = fixture_new("script: {maxconcurrentrequests: 8}\n");
	uv_timer_t t;

	sc.hold = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipeline_submit(f->p, make_alert("r", PRIORITY_WARNING)), 0);
	uv_timer_init(&f->loop, &t);
	uv_timer_start(&t, finish_held, 50, 0);
	pipeline_shutdown(f->p, 5000, on_closed, f);
	assert_int_equal(pipeline_submit(f->p, make_alert("late", PRIORITY_WARNING)), -ESHUTDOWN);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(counter(f, "lanner_dropped_total{sink=\"script\",reason=\"shutdown\"}"),
			 0);
	assert_int_equal(counter(f,
				 "falcosecurity_falcosidekick_outputs_total{destination=\"script\","
				 "status=\"ok\"}"),
			 3);
	pipeline_free(f->p);
	metrics_free(f->m);
	config_free(f->cfg);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
}

static void submitted(void *data, int err)
{
	(*(int *)data)++;
	assert_int_equal(err, 0);
}

/* A start on the spool of yaml sends nothing (all was delivered); then dir is removed. */
static void expect_nothing_left(const char *yaml, const char *dir)
{
	struct fixture *f = fixture_new(yaml);
	char cmd[160];

	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 0);
	fixture_free(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Disk spool: what is not delivered at shutdown is delivered by the next start, once. */
static void test_spool_redelivers_after_restart(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], uuids[3][ALERT_UUID_LEN + 1];
	struct fixture *f;
	int accepted = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s/spool.db'}\n", dir);

	f = fixture_new(yaml);
	sc.hold = true;
	for (int i = 0; i < 3; i++) {
		struct alert *a = make_alert("spooled", PRIORITY_WARNING);

		memcpy(uuids[i], alert_uuid(a), sizeof(uuids[i]));
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
	}
	/* Accepted only once the transaction committed. */
	RUN_UNTIL(f, accepted >= 3 && sc.sends >= 3);
	assert_int_equal(accepted, 3);
	assert_int_equal(sc.sends, 3);
	/* Shut down without waiting: the held deliveries stay in the spool. */
	fixture_free(f);

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 3);
	assert_int_equal(sc.sends, 3);
	for (int i = 0; i < 3; i++)
		assert_non_null(strstr(sc.json[i], uuids[i]));
	fixture_free(f);

	/* Delivered means forgotten: a third start has nothing to send. */
	expect_nothing_left(yaml, dir);
}

/*
 * One transaction much larger than a write (spool_wal.c gathers a commit's WAL frames and
 * writes them in 64 KiB pieces): 60 alerts of 8 KiB (some 600 KiB of frames, in one commit) are
 * all there after a restart, and forgotten once delivered.
 */
static void test_spool_large_transaction(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], *big = malloc(8192);
	struct fixture *f;
	int accepted = 0;

	assert_non_null(big);
	memset(big, 'x', 8191);
	big[8191] = '\0';
	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s/spool.db'}\n", dir);
	f = fixture_new(yaml);
	sc.hold = true;
	/* submitted in one loop iteration: one commit */
	for (int i = 0; i < 60; i++) {
		struct alert_init init = {
			.rule = "large",
			.priority = PRIORITY_WARNING,
			.source = "syscall",
			.output = big,
			.time_ns = 1746622234502309868LL,
		};
		struct alert *a = alert_new(&init);

		assert_non_null(a);
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
	}
	RUN_UNTIL(f, accepted >= 60);
	assert_int_equal(accepted, 60);
	fixture_free(f);

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 60);
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 60);
	for (int i = 0; i < 60; i++)
		assert_non_null(strstr(sc.json[i], "xxxxxxxxxxxxxxxx"));
	fixture_free(f);

	free(big);
	expect_nothing_left(yaml, dir);
}

/*
 * The spool forgets an alert once every sink it is routed to is done with it, and only then:
 * acks are applied as ranges of consecutive ids, so the alerts between two delivered ones that
 * are still in flight must stay, and so must those another sink still holds.
 */
static void test_spool_forgets_only_acknowledged(void **state)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[320], uuids[6][ALERT_UUID_LEN + 1];
	struct fixture *f;
	int accepted = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml),
		 "spool: {path: '%s/spool.db'}\nscript: {maxconcurrentrequests: 8}\n"
		 "batchy: {enabled: true}\n",
		 dir);
	f = fixture_new(yaml);
	sc.hold = true;
	for (int i = 0; i < 6; i++) {
		struct alert *a = make_alert("spooled", PRIORITY_WARNING);

		memcpy(uuids[i], alert_uuid(a), sizeof(uuids[i]));
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
	}
	/* batchy delivers all six at once; script holds them, in submission order */
	RUN_UNTIL(f, accepted >= 6 && sc.n_held >= 6 && bc.alerts >= 6);
	assert_int_equal(sc.n_held, 6);
	assert_int_equal(bc.alerts, 6);
	for (int i = 0; i < 6; i++)
		assert_non_null(strstr(sc.json[i], uuids[i]));
	/* script delivers the 1st, 2nd, 4th and 6th; the 3rd and 5th stay in flight */
	sink_done(sc.held_sink, sc.held[0], &ok);
	sink_done(sc.held_sink, sc.held[1], &ok);
	sink_done(sc.held_sink, sc.held[3], &ok);
	sink_done(sc.held_sink, sc.held[5], &ok);
	sc.held[0] = sc.held[2];
	sc.held[1] = sc.held[4];
	sc.n_held = 2;
	RUN_UNTIL(f, counter(f, "falcosecurity_falcosidekick_outputs_total{destination=\"script\","
				"status=\"ok\"}") >= 4);
	/* the held two are abandoned at shutdown: they stay in the spool for script only */
	fixture_free(f);

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 2);
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 2);
	assert_non_null(strstr(sc.json[0], uuids[2]));
	assert_non_null(strstr(sc.json[1], uuids[4]));
	assert_int_equal(bc.alerts, 0);
	fixture_free(f);

	/* delivered now: a third start has nothing to send */
	f = fixture_new(yaml);
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 0);
	assert_int_equal(bc.alerts, 0);
	fixture_free(f);

	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

/* dedup.uuid_window: a uuid accepted once is not delivered again; test alerts are exempt. */
static void test_dedup_uuid_window(void **state)
{
	struct fixture *f = fixture_new("dedup: {uuid_window: 10m}\n");
	struct alert *a = make_alert("r", PRIORITY_WARNING);
	char uuid[ALERT_UUID_LEN + 1], json[512];
	struct alert_error e;
	int accepted = 0;

	memcpy(uuid, alert_uuid(a), sizeof(uuid));
	assert_int_equal(pipeline_submit(f->p, a), 0);
	snprintf(json, sizeof(json),
		 "{\"uuid\":\"%s\",\"output\":\"x\",\"priority\":\"Warning\",\"rule\":\"r\","
		 "\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{}}",
		 uuid);
	for (int i = 0; i < 2; i++) {
		a = alert_parse(json, strlen(json), &e);
		assert_non_null(a);
		/* a duplicate is still acknowledged (the sender must not retry it) */
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
	}
	assert_int_equal(accepted, 2);
	assert_int_equal(pipeline_submit(f->p, make_alert("other", PRIORITY_WARNING)), 0);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 2);
	assert_non_null(strstr(sc.json[0], uuid));
	assert_null(strstr(sc.json[1], uuid));
	assert_int_equal(counter(f, "lanner_dedup_total{reason=\"uuid\"}"), 2);
	fixture_free(f);
}

/* dedup.aggregate: the first of a key passes, the rest become one summary with the count. */
static void test_dedup_aggregate(void **state)
{
	struct fixture *f = fixture_new("dedup: {aggregate: {fields: [hostname], window: 50ms}}\n");

	for (int i = 0; i < 5; i++)
		assert_int_equal(pipeline_submit(f->p, make_alert("storm", PRIORITY_WARNING)), 0);
	assert_int_equal(pipeline_submit(f->p, make_alert("calm", PRIORITY_WARNING)), 0);
	/* checked on submit: running the loop first, a stall of it past the 50 ms window would
	 * let the summary out too */
	assert_int_equal(sc.sends, 2);
	assert_int_equal(counter(f, "lanner_dedup_total{reason=\"aggregated\"}"), 4);
	RUN_UNTIL(f, sc.sends >= 3);
	assert_int_equal(sc.sends, 3);
	assert_non_null(strstr(sc.json[2], "\"rule\":\"storm\""));
	assert_non_null(strstr(sc.json[2], "\"lanner.count\":5"));
	fixture_free(f);
}

/* A spooled alert replayed by its source after a restart (a Kafka partition read again) is a
 * duplicate of what the spool delivers. */
static void test_dedup_remembers_spooled(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], json[512];
	struct fixture *f;
	struct alert *a;
	struct alert_error e;
	int accepted = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s/spool.db'}\ndedup: {uuid_window: 1m}\n",
		 dir);
	f = fixture_new(yaml);
	sc.hold = true;
	a = make_alert("spooled", PRIORITY_WARNING);
	snprintf(json, sizeof(json),
		 "{\"uuid\":\"%s\",\"output\":\"x\",\"priority\":\"Warning\",\"rule\":\"r\","
		 "\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{}}",
		 alert_uuid(a));
	assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
	RUN_UNTIL(f, accepted >= 1);
	assert_int_equal(accepted, 1);
	fixture_free(f);

	f = fixture_new(yaml);
	a = alert_parse(json, strlen(json), &e);
	assert_non_null(a);
	assert_int_equal(pipeline_submit(f->p, a), 0);
	RUN_UNTIL(f, sc.sends >= 1);
	/* and not the replay */
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 1);
	assert_int_equal(counter(f, "lanner_dedup_total{reason=\"uuid\"}"), 1);
	fixture_free(f);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

static struct {
	struct pipeline_hold *h[8];
	size_t n;
	struct pipeline_origin o[8];
	char topic[8][32];
	size_t taken;
} hd;

static void on_held(void *data, int err, struct pipeline_hold *h)
{
	assert_int_equal(err, 0);
	hd.h[(size_t)(uintptr_t)data] = h;
	hd.n++;
}

static void take(void *ctx, struct pipeline_hold *h, const struct pipeline_origin *o)
{
	assert_true(hd.taken < 8);
	hd.h[hd.taken] = h;
	hd.o[hd.taken] = *o;
	snprintf(hd.topic[hd.taken], sizeof(hd.topic[0]), "%s", o->topic);
	hd.o[hd.taken].topic = hd.topic[hd.taken];
	hd.taken++;
}

static void submit_held(struct fixture *f, size_t i, int64_t offset, char *json, size_t len)
{
	struct alert *a = make_alert("kafka", PRIORITY_WARNING);
	struct pipeline_origin o = { "alerts", 3, offset, false };

	if (json)
		snprintf(
			json, len,
			"{\"uuid\":\"%s\",\"output\":\"x\",\"priority\":\"Warning\",\"rule\":\"r\","
			"\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{}}",
			alert_uuid(a));
	assert_int_equal(pipeline_submit_held(f->p, a, &o, on_held, (void *)(uintptr_t)i), 0);
}

/*
 * Held alerts (the Kafka input): spooled with their origin, delivered only when released;
 * discarded ones are forgotten by the spool and the uuid window; a restart holds the spooled
 * ones again and hands them over with their origin and whether a commit had covered them.
 */
static void test_held_alerts(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], json[512];
	struct alert_error e;
	struct fixture *f;
	struct alert *a;
	struct pipeline_origin mark = { "alerts", 3, 13, false };

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s/spool.db'}\ndedup: {uuid_window: 1m}\n",
		 dir);
	memset(&hd, 0, sizeof(hd));
	f = fixture_new(yaml);
	submit_held(f, 0, 10, NULL, 0);
	submit_held(f, 1, 11, json, sizeof(json));
	submit_held(f, 2, 12, NULL, 0);
	submit_held(f, 3, 20, NULL, 0);
	RUN_UNTIL(f, hd.n >= 4);
	assert_int_equal(hd.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_non_null(hd.h[i]);
	/* Durable, not delivered. */
	assert_int_equal(sc.sends, 0);
	assert_int_equal(pipeline_pending(f->p), 4);
	pipeline_release(f->p, hd.h[0]);
	RUN_UNTIL(f, sc.sends >= 1);
	assert_int_equal(sc.sends, 1);
	/* Discarded: its replay is accepted (not a duplicate) and delivered. */
	pipeline_discard(f->p, hd.h[1]);
	a = alert_parse(json, strlen(json), &e);
	assert_non_null(a);
	assert_int_equal(pipeline_submit(f->p, a), 0);
	RUN_UNTIL(f, sc.sends >= 2);
	assert_int_equal(sc.sends, 2);
	assert_int_equal(counter(f, "lanner_dedup_total{reason=\"uuid\"}"), 0);
	/* Offsets below 13 are being committed: alert 2 (offset 12) is marked, 3 (20) is not. */
	assert_int_equal(pipeline_mark_committing(f->p, &mark, 1, true, NULL, NULL), 0);
	fixture_free(f);

	memset(&hd, 0, sizeof(hd));
	f = fixture_new(yaml);
	run_for(&f->loop, 100);
	assert_int_equal(sc.sends, 0);
	assert_int_equal(pipeline_take_spooled(f->p, take, NULL), 2);
	assert_int_equal(hd.taken, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(hd.o[i].topic, "alerts");
		assert_int_equal(hd.o[i].partition, 3);
		assert_int_equal(hd.o[i].committing, hd.o[i].offset == 12);
	}
	assert_true(hd.o[0].offset == 12 || hd.o[1].offset == 12);
	assert_true(hd.o[0].offset == 20 || hd.o[1].offset == 20);
	/* Taken once only. */
	assert_int_equal(pipeline_take_spooled(f->p, take, NULL), 0);
	pipeline_release(f->p, hd.h[0]);
	pipeline_discard(f->p, hd.h[1]);
	RUN_UNTIL(f, sc.sends >= 1);
	assert_int_equal(sc.sends, 1);
	fixture_free(f);

	/* Delivered or discarded: a third start has nothing. */
	f = fixture_new(yaml);
	run_for(&f->loop, 100);
	pipeline_release_spooled(f->p);
	run_for(&f->loop, 10);
	assert_int_equal(sc.sends, 0);
	fixture_free(f);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

/* A spool of an earlier version (no origin columns) is migrated and delivered. */
static void test_spool_migrates_origin_columns(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128], sql[768];
	struct fixture *f;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/spool.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL;"
		 "CREATE TABLE alerts(id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, json TEXT "
		 "NOT NULL);"
		 "CREATE TABLE pending(id INTEGER NOT NULL, sink TEXT NOT NULL, PRIMARY KEY(id, "
		 "sink)) WITHOUT ROWID;"
		 "INSERT INTO alerts VALUES(7, 4, '{\"uuid\":\"3f2504e0-4f89-41d3-9a0c-"
		 "0305e82c3301\",\"output\":\"x\",\"priority\":\"Warning\",\"rule\":\"old\","
		 "\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{}}');"
		 "INSERT INTO pending VALUES(7, 'script');");
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s'}\n", path);
	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 1);
	assert_int_equal(sc.sends, 1);
	assert_non_null(strstr(sc.json[0], "\"rule\":\"old\""));
	assert_int_equal(pipeline_take_spooled(f->p, take, NULL), 0);
	fixture_free(f);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "SELECT origin_topic, origin_partition, origin_offset, "
				      "origin_committing FROM alerts",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

/*
 * The alerts the spool file at path holds for some sink, as "id,id,..." in id order (the file
 * must exist). Rows of delivered alerts may stay until the file is made again or reopened.
 */
static void spool_ids(const char *path, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "SELECT id FROM alerts WHERE id IN (SELECT id FROM pending) "
				   "ORDER BY id",
				   -1, &st, NULL),
		SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += (size_t)snprintf(out + n, size - n, "%s%lld", n ? "," : "",
				      (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int count_ids(const char *ids)
{
	int n = *ids ? 1 : 0;

	for (; *ids; ids++)
		n += *ids == ',';
	return n;
}

/*
 * The spool is two files, ids in runs of 2^20 alternating between them: a spool of the one-file
 * versions holding an id of the second file's runs has that row moved there, and both are
 * delivered, in id order, then forgotten.
 */
static void test_spool_moves_rows_to_their_shard(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128], path1[136], sql[1024];
	char ids[64];
	struct fixture *f;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/spool.db", dir);
	snprintf(path1, sizeof(path1), "%s.1", path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(
		sql, sizeof(sql),
		"PRAGMA journal_mode=WAL;"
		"CREATE TABLE alerts(id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, json TEXT "
		"NOT NULL);"
		"CREATE TABLE pending(id INTEGER NOT NULL, sink TEXT NOT NULL, PRIMARY KEY(id, "
		"sink)) WITHOUT ROWID;"
		"INSERT INTO alerts VALUES(1048579, 4, '{\"output\":\"x\",\"priority\":\"Warning\","
		"\"rule\":\"second\",\"time\":\"2026-01-01T00:00:01Z\",\"output_fields\":{}}');"
		"INSERT INTO alerts VALUES(7, 4, '{\"output\":\"x\",\"priority\":\"Warning\","
		"\"rule\":\"first\",\"time\":\"2026-01-01T00:00:00Z\",\"output_fields\":{}}');"
		"INSERT INTO pending VALUES(7, 'script');"
		"INSERT INTO pending VALUES(1048579, 'script');");
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(yaml, sizeof(yaml), "spool: {path: '%s'}\n", path);

	hold_from_start = true;
	f = fixture_new(yaml);
	hold_from_start = false;
	RUN_UNTIL(f, sc.sends >= 2);
	assert_int_equal(sc.sends, 2);
	assert_non_null(strstr(sc.json[0], "\"rule\":\"first\""));
	assert_non_null(strstr(sc.json[1], "\"rule\":\"second\""));
	fixture_free(f);
	/* held at shutdown: each in the file of its id */
	spool_ids(path, ids, sizeof(ids));
	assert_string_equal(ids, "7");
	spool_ids(path1, ids, sizeof(ids));
	assert_string_equal(ids, "1048579");

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 2);
	run_for(&f->loop, 50);
	assert_int_equal(sc.sends, 2);
	assert_non_null(strstr(sc.json[0], "\"rule\":\"first\""));
	fixture_free(f);
	spool_ids(path, ids, sizeof(ids));
	assert_string_equal(ids, "");
	spool_ids(path1, ids, sizeof(ids));
	assert_string_equal(ids, "");
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

/*
 * Alerts committed over more than the shard period land in both files (the loop moves to the
 * other one after 50 ms of commits); acks of either file are applied, and what no sink
 * delivered comes back after a restart, in order, once.
 */
static void across_shards(const char *sync)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128], path1[136];
	char uuids[9][ALERT_UUID_LEN + 1], ids0[256], ids1[256];
	struct fixture *f;
	int accepted = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/spool.db", dir);
	snprintf(path1, sizeof(path1), "%s.1", path);
	snprintf(yaml, sizeof(yaml),
		 "spool: {path: '%s', sync: %s}\nscript: {maxconcurrentrequests: 16}\n", path,
		 sync);
	f = fixture_new(yaml);
	sc.hold = true;
	for (int i = 0; i < 9; i++) {
		struct alert *a = make_alert("spooled", PRIORITY_WARNING);

		memcpy(uuids[i], alert_uuid(a), sizeof(uuids[i]));
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, &accepted), 0);
		RUN_UNTIL(f, accepted >= i + 1);
		/* three commits per shard period */
		if (i % 3 == 2)
			run_for(&f->loop, 60);
	}
	RUN_UNTIL(f, sc.n_held >= 9);
	assert_int_equal(sc.n_held, 9);
	/* deliver every other one; the rest are abandoned at shutdown */
	for (int i = 0; i < 9; i += 2)
		sink_done(sc.held_sink, sc.held[i], &ok);
	for (int i = 1, j = 0; i < 9; i += 2)
		sc.held[j++] = sc.held[i];
	sc.n_held = 4;
	RUN_UNTIL(f, counter(f, "falcosecurity_falcosidekick_outputs_total{destination=\"script\","
				"status=\"ok\"}") >= 5);
	fixture_free(f);
	spool_ids(path, ids0, sizeof(ids0));
	spool_ids(path1, ids1, sizeof(ids1));
	/* both files took alerts; the four undelivered remain, in all */
	assert_true(ids0[0] && ids1[0]);
	assert_int_equal(count_ids(ids0) + count_ids(ids1), 4);

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 4);
	run_for(&f->loop, 50);
	assert_int_equal(sc.sends, 4);
	for (int i = 0; i < 4; i++)
		assert_non_null(strstr(sc.json[i], uuids[2 * i + 1]));
	fixture_free(f);

	expect_nothing_left(yaml, dir);
}

static void test_spool_across_shards(void **state)
{
	across_shards("normal");
}

/* The same with FULL sync: every commit on the writer thread, an fsync each. */
static void test_spool_across_shards_full_sync(void **state)
{
	across_shards("full");
}

/* Bytes of the two spool files at path and path + ".1", with their WALs (missing: 0). */
static off_t spool_bytes(const char *path)
{
	const char *suffix[] = { "", "-wal", ".1", ".1-wal" };
	char name[160];
	struct stat st;
	off_t n = 0;

	for (size_t i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
		if (!stat(name, &st))
			n += st.st_size;
	}
	return n;
}

/* One commit of 64 alerts, 63 of 64 KiB (some 1,100 WAL frames: past the idle checkpoint's
 * 1,000) and a small last one, "kept"; its uuid in uuid. */
static void submit_big_batch(struct fixture *f, const char *big, int *accepted, char *uuid)
{
	for (int i = 0; i < 64; i++) {
		struct alert_init init = {
			.rule = "large",
			.priority = PRIORITY_WARNING,
			.source = "syscall",
			.output = i == 63 ? "kept" : big,
			.time_ns = 1746622234502309868LL,
		};
		struct alert *a = alert_new(&init);

		assert_non_null(a);
		if (i == 63)
			memcpy(uuid, alert_uuid(a), ALERT_UUID_LEN + 1);
		assert_int_equal(pipeline_submit_cb(f->p, a, submitted, accepted), 0);
	}
}

/* For submit_big_batch: big filled, a spool folder made, path its spool file, yaml to use. */
static void big_batch_setup(char big[65536], char dir[], char path[128], char yaml[256])
{
	memset(big, 'y', 65535);
	big[65535] = '\0';
	assert_non_null(mkdtemp(dir));
	snprintf(path, 128, "%s/spool.db", dir);
	snprintf(yaml, 256, "spool: {path: '%s'}\nscript: {maxconcurrentrequests: 64}\n", path);
}

/*
 * A spool file whose alerts were all delivered is made again (dropped, its WAL never
 * checkpointed) once its WAL is due for a checkpoint; one that still holds an alert is
 * checkpointed instead, and the alert survives.
 */
static void test_spool_recycles_delivered_files(void **state)
{
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128];
	char big[65536], uuid[ALERT_UUID_LEN + 1];
	struct fixture *f;
	int accepted = 0;

	big_batch_setup(big, dir, path, yaml);
	f = fixture_new(yaml);

	/* all delivered: once the loop is idle, the file is dropped and made again (some 4 MiB of
	 * WAL gone, never checkpointed) */
	submit_big_batch(f, big, &accepted, uuid);
	RUN_UNTIL(f, accepted >= 64 && sc.sends >= 64);
	assert_true(spool_bytes(path) > 4 << 20);
	RUN_UNTIL(f, spool_bytes(path) < 1 << 20);
	assert_true(spool_bytes(path) < 1 << 20);

	/* all but "kept" delivered: the file is checkpointed, not dropped */
	sc.hold = true;
	submit_big_batch(f, big, &accepted, uuid);
	RUN_UNTIL(f, accepted >= 128 && sc.n_held >= 64);
	assert_int_equal(sc.n_held, 64);
	for (int i = 0; i < 63; i++)
		sink_done(sc.held_sink, sc.held[i], &ok);
	sc.held[0] = sc.held[63];
	sc.n_held = 1;
	run_for(&f->loop, 800);
	fixture_free(f);

	f = fixture_new(yaml);
	RUN_UNTIL(f, sc.sends >= 1);
	run_for(&f->loop, 50);
	assert_int_equal(sc.sends, 1);
	assert_non_null(strstr(sc.json[0], uuid));
	fixture_free(f);

	expect_nothing_left(yaml, dir);
}

/* A WAL's salts (bytes 16-23 of its header: a new WAL has new ones) and size; false: none. */
static bool wal_identity(const char *wal, uint64_t *salts, off_t *size)
{
	struct stat st;
	int fd = open(wal, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = !fstat(fd, &st) && pread(fd, salts, sizeof(*salts), 16) == (ssize_t)sizeof(*salts);
	*size = ok ? st.st_size : 0;
	close(fd);
	return ok;
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/*
 * Under load, a delivered file still one page long (nothing checkpointed into it) is not
 * removed: its WAL is forgotten in place, the same files go on and the WAL keeps its size (its
 * pages are written over). A copy of the files taken then, as a crash would leave them, holds
 * none of the forgotten alerts although their frames are still in it. Once the load stops, the
 * WALs are given back (truncated).
 */
static void test_spool_forgets_wal_in_place(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128];
	char big[65536], uuid[ALERT_UUID_LEN + 1], db[2][160], wal[2][176], copy[2][176];
	uint64_t salts[2], now_salts;
	off_t sizes[2], now_size;
	struct fixture *f;
	struct stat st;
	sqlite3 *check;
	sqlite3_stmt *count;
	int accepted = 0, k = -1;

	big_batch_setup(big, dir, path, yaml);
	f = fixture_new(yaml);
	for (int i = 0; i < 2; i++) {
		snprintf(db[i], sizeof(db[i]), i ? "%s.1" : "%s", path);
		snprintf(wal[i], sizeof(wal[i]), i ? "%s.1-wal" : "%s-wal", path);
	}
	submit_big_batch(f, big, &accepted, uuid);
	RUN_UNTIL(f, accepted >= 64 && sc.sends >= 64);
	for (int i = 0; i < 2; i++)
		assert_true(wal_identity(wal[i], &salts[i], &sizes[i]));

	/*
	 * Batch after batch (~1,100 frames each) until the writer forgets a WAL of 8,000 frames: a
	 * new WAL (new salts) in a file as large as the old one (a WAL made again starts small),
	 * its database still one page (a checkpoint writes more). Its two files are copied then, as
	 * a crash would leave them, and the copy is kept if the live WAL did not change meanwhile
	 * (the writer may find the loop idle and tidy it: then another round).
	 */
	for (int i = 0; i < 2; i++)
		snprintf(copy[i], sizeof(copy[i]), "%s/copy.db%s", dir, i ? "-wal" : "");
	for (int n = 2; n <= 48 && k < 0; n++) {
		sc.sends = 0;
		submit_big_batch(f, big, &accepted, uuid);
		RUN_UNTIL(f, accepted >= 64 * n && sc.sends >= 64);
		for (int i = 0; i < 2 && k < 0; i++) {
			if (!wal_identity(wal[i], &now_salts, &now_size))
				continue;
			if (now_salts != salts[i] && sizes[i] >= 16 << 20 && now_size >= sizes[i] &&
			    !stat(db[i], &st) && st.st_size <= 4096) {
				copy_file(db[i], copy[0]);
				copy_file(wal[i], copy[1]);
				if (wal_identity(wal[i], &salts[i], &sizes[i]) &&
				    salts[i] == now_salts && sizes[i] == now_size)
					k = i;
			}
			salts[i] = now_salts;
			sizes[i] = now_size;
		}
	}
	assert_true(k >= 0);
	/* what a crash would leave: the old frames are there, and none counts */
	assert_int_equal(stat(copy[1], &st), 0);
	assert_true(st.st_size >= 16 << 20);
	assert_int_equal(sqlite3_open_v2(copy[0], &check, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(check, "PRAGMA integrity_check", -1, &count, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(count), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(count, 0), "ok");
	sqlite3_finalize(count);
	/*
	 * The forgotten WAL held 8,000 frames: 470 alerts or more. The new one: a batch or two at
	 * most, or not even its tables (they reach the file with the first commit).
	 */
	if (sqlite3_prepare_v2(check, "SELECT COUNT(*) FROM alerts", -1, &count, NULL) ==
	    SQLITE_OK) {
		assert_int_equal(sqlite3_step(count), SQLITE_ROW);
		assert_true(sqlite3_column_int(count, 0) <= 128);
		sqlite3_finalize(count);
	} else {
		assert_string_equal(sqlite3_errmsg(check), "no such table: alerts");
	}
	sqlite3_close(check);

	/* idle: both WALs given back */
	RUN_UNTIL(f, spool_bytes(path) < 1 << 20);
	assert_true(spool_bytes(path) < 1 << 20);
	fixture_free(f);
	expect_nothing_left(yaml, dir);
}

/*
 * A spool file that cannot be made again (its path taken by a folder meanwhile) fails its inserts
 * (their alerts are delivered from memory, none lost), and is made again once it can be.
 */
static void test_spool_file_that_cannot_be_made_again(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256], path[128];
	char big[65536], uuid[ALERT_UUID_LEN + 1];
	struct fixture *f;
	struct stat st;
	int accepted = 0;

	big_batch_setup(big, dir, path, yaml);
	f = fixture_new(yaml);
	/* the open file goes on working; its path is a folder by the time it is to be made again */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	submit_big_batch(f, big, &accepted, uuid);
	RUN_UNTIL(f, accepted >= 64 && sc.sends >= 64);
	assert_int_equal(sc.sends, 64);
	/* the idle tidy drops the file, and cannot make it again */
	run_for(&f->loop, 600);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipeline_submit_cb(f->p, make_alert("after", PRIORITY_WARNING),
						    submitted, &accepted),
				 0);
	RUN_UNTIL(f, accepted >= 67 && sc.sends >= 67);
	assert_int_equal(sc.sends, 67);
	/* the path free again: made again within a second or so */
	assert_int_equal(rmdir(path), 0);
	RUN_UNTIL(f, !stat(path, &st) && S_ISREG(st.st_mode));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	fixture_free(f);
	expect_nothing_left(yaml, dir);
}

/* Spool bound: past spool.max_bytes the lowest-priority oldest alert goes, and it is told. */
static void test_spool_full_drops_lowest_priority(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256];
	struct fixture *f;
	size_t one;

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml),
		 "spool: {path: '%s/spool.db', max_bytes: 4096}\n"
		 "script: {maxconcurrentrequests: 1}\n",
		 dir);
	f = fixture_new(yaml);
	sc.hold = true;
	/* One in flight (not evictable), then more alerts than the bound holds. */
	assert_int_equal(pipeline_submit(f->p, make_alert("first", PRIORITY_CRITICAL)), 0);
	/* sent once its spool transaction committed: slow on a loaded machine */
	RUN_UNTIL(f, sc.sends >= 1);
	assert_int_equal(sc.sends, 1);
	one = strlen(sc.json[0]);
	assert_true(one > 150);
	for (int i = 0; i < 40; i++)
		assert_int_equal(pipeline_submit(f->p, make_alert(i == 3 ? "notice" : "warning",
								  i == 3 ? PRIORITY_NOTICE :
									   PRIORITY_WARNING)),
				 0);
	RUN_UNTIL(f, counter(f, "lanner_dropped_total{sink=\"script\",reason=\"spool_full\"}") >=
			     40 - 4096 / one);
	assert_true(counter(f, "lanner_dropped_total{sink=\"script\",reason=\"spool_full\"}") >=
		    40 - 4096 / one);
	/* Let everything left through: the Notice was the first to go; the loss was reported. */
	sc.hold = false;
	{
		struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };

		sink_done(sc.held_sink, sc.held[0], &ok);
		sc.n_held = 0;
	}
	RUN_UNTIL(f, sent_rule("lanner spool full") && !pipeline_pending(f->p));
	{
		bool internal = false;

		for (size_t i = 1; i < sc.sends; i++) {
			assert_null(strstr(sc.json[i], "\"rule\":\"notice\""));
			if (strstr(sc.json[i], "\"rule\":\"lanner spool full\""))
				internal = true;
		}
		assert_true(internal);
	}
	fixture_free(f);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

/* Spooled alerts are bounded by spool.max_bytes, not queue.max_alerts: an outage loses none. */
static void test_spooled_backlog_exceeds_queue_bound(void **state)
{
	char dir[] = "/tmp/lanner-spool-XXXXXX", yaml[256];
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	struct fixture *f;

	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof(yaml),
		 "spool: {path: '%s/spool.db'}\nqueue: {max_alerts: 3}\n"
		 "script: {maxconcurrentrequests: 1}\n",
		 dir);
	f = fixture_new(yaml);
	sc.hold = true;
	for (int i = 0; i < 40; i++) {
		assert_int_equal(pipeline_submit(f->p, make_alert("backlog", PRIORITY_WARNING)), 0);
		run_for(&f->loop, 2);
	}
	RUN_UNTIL(f, pipeline_pending(f->p) >= 40);
	assert_int_equal(pipeline_pending(f->p), 40);
	assert_int_equal(counter(f, "lanner_dropped_total{sink=\"script\",reason=\"queue_full\"}"),
			 0);
	sc.hold = false;
	sink_done(sc.held_sink, sc.held[0], &ok);
	sc.n_held = 0;
	RUN_UNTIL(f, sc.sends >= 40 && !pipeline_pending(f->p));
	assert_int_equal(sc.sends, 40);
	assert_int_equal(pipeline_pending(f->p), 0);
	fixture_free(f);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	assert_int_equal(system(yaml), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_retry_until_delivered),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_permanent_failure_not_retried),
		cmocka_unit_test(test_max_attempts),
		cmocka_unit_test(test_minimum_priority),
		cmocka_unit_test(test_queue_full_drops_lowest_priority),
		cmocka_unit_test(test_concurrency_limit),
		cmocka_unit_test(test_enrichment),
		cmocka_unit_test(test_shutdown_drains),
		cmocka_unit_test(test_spool_redelivers_after_restart),
		cmocka_unit_test(test_spool_large_transaction),
		cmocka_unit_test(test_spool_moves_rows_to_their_shard),
		cmocka_unit_test(test_spool_across_shards),
		cmocka_unit_test(test_spool_across_shards_full_sync),
		cmocka_unit_test(test_spool_recycles_delivered_files),
		cmocka_unit_test(test_spool_forgets_wal_in_place),
		cmocka_unit_test(test_spool_file_that_cannot_be_made_again),
		cmocka_unit_test(test_spool_forgets_only_acknowledged),
		cmocka_unit_test(test_spool_full_drops_lowest_priority),
		cmocka_unit_test(test_spooled_backlog_exceeds_queue_bound),
		cmocka_unit_test(test_dedup_uuid_window),
		cmocka_unit_test(test_match_lists),
		cmocka_unit_test(test_match_tags_include),
		cmocka_unit_test(test_rate_parse),
		cmocka_unit_test(test_rate_config_error),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_batch_size_and_wait),
		cmocka_unit_test(test_batch_partial_retry),
		cmocka_unit_test(test_batch_flushed_at_shutdown),
		cmocka_unit_test(test_dedup_aggregate),
		cmocka_unit_test(test_dedup_remembers_spooled),
		cmocka_unit_test(test_held_alerts),
		cmocka_unit_test(test_spool_migrates_origin_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
