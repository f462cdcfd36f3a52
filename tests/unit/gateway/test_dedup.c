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

#include "config/config.h"
#include "gateway/dedup.h"
#include "outputs/alert.h"

#define U1 "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define U2 "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"

static struct dedup_settings uuid_set(int64_t window, int64_t max)
{
	struct dedup_settings s = { .uuid_window_ms = window, .max_entries = max };

	return s;
}

static void test_uuid_window(void **state)
{
	struct dedup_settings s = uuid_set(1000, 100);
	struct dedup *d = dedup_new(NULL, &s, NULL, NULL);
	struct dedup_stats st;

	assert_non_null(d);
	assert_true(dedup_uuid_enabled(d));
	assert_false(dedup_aggregate_enabled(d));
	assert_false(dedup_seen(d, U1, 0));
	assert_true(dedup_seen(d, U1, 10));
	/* Case does not matter. */
	assert_true(dedup_seen(d, "3F2504E0-4F89-41D3-9A0C-0305E82C3301", 20));
	assert_false(dedup_seen(d, U2, 500));
	assert_true(dedup_seen(d, U1, 999));
	/* The window is counted from acceptance: at 1000 U1 is forgotten, U2 not yet. */
	assert_false(dedup_seen(d, U1, 1000));
	assert_true(dedup_seen(d, U2, 1499));
	assert_false(dedup_seen(d, U2, 1500));
	/* No uuid, or an over-long one: never dropped. */
	assert_false(dedup_seen(d, "", 1600));
	assert_false(dedup_seen(d, NULL, 1600));
	dedup_get_stats(d, &st);
	assert_int_equal(st.uuid_dropped, 4);
	assert_int_equal(st.uuid_entries, 2);
	dedup_free(d);
}

/* A forgotten uuid is accepted again (the Kafka input left its alert to the group's replay). */
static void test_uuid_forget(void **state)
{
	struct dedup_settings s = uuid_set(1000, 16);
	struct dedup *d = dedup_new(NULL, &s, NULL, NULL);
	char u[64];

	assert_non_null(d);
	assert_false(dedup_seen(d, U1, 0));
	assert_false(dedup_seen(d, U2, 0));
	assert_true(dedup_forget(d, "3F2504E0-4F89-41D3-9A0C-0305E82C3301"));
	assert_false(dedup_forget(d, U1));
	assert_true(dedup_seen(d, U2, 1));
	assert_false(dedup_seen(d, U1, 2));
	assert_true(dedup_seen(d, U1, 3));
	/* Forgotten entries still leave through expiry and the bound without harm. */
	assert_true(dedup_forget(d, U2));
	for (int i = 0; i < 40; i++) {
		snprintf(u, sizeof(u), "00000000-0000-4000-8000-%012d", i);
		assert_false(dedup_seen(d, u, 10));
		if (i % 3 == 0)
			assert_true(dedup_forget(d, u));
	}
	assert_false(dedup_seen(d, U1, 2000));
	assert_false(dedup_seen(d, U2, 2000));
	dedup_free(d);
}

static void test_uuid_off(void **state)
{
	struct dedup_settings s = uuid_set(0, 100);
	struct dedup *d = dedup_new(NULL, &s, NULL, NULL);

	assert_non_null(d);
	assert_false(dedup_uuid_enabled(d));
	assert_false(dedup_seen(d, U1, 0));
	assert_false(dedup_seen(d, U1, 1));
	dedup_free(d);
}

/* Memory is bounded: past max_entries the oldest uuid is forgotten first. */
static void test_uuid_bound(void **state)
{
	struct dedup_settings s = uuid_set(600000, 16);
	struct dedup *d = dedup_new(NULL, &s, NULL, NULL);
	struct dedup_stats st;
	char u[64];

	assert_non_null(d);
	for (int i = 0; i < 1000; i++) {
		snprintf(u, sizeof(u), "00000000-0000-4000-8000-%012d", i);
		assert_false(dedup_seen(d, u, (uint64_t)i));
	}
	dedup_get_stats(d, &st);
	assert_int_equal(st.uuid_entries, 16);
	assert_int_equal(st.uuid_forgotten, 1000 - 16);
	/* The 16 newest are still known, the older are not. */
	for (int i = 999; i >= 984; i--) {
		snprintf(u, sizeof(u), "00000000-0000-4000-8000-%012d", i);
		assert_true(dedup_seen(d, u, 1000));
	}
	snprintf(u, sizeof(u), "00000000-0000-4000-8000-%012d", 0);
	assert_false(dedup_seen(d, u, 1000));
	dedup_free(d);
}

/* 200,000 distinct uuids with a window covering them all: nothing is dropped wrongly. */
static void test_uuid_many(void **state)
{
	struct dedup_settings s = uuid_set(600000, 300000);
	struct dedup *d = dedup_new(NULL, &s, NULL, NULL);
	char u[64];

	assert_non_null(d);
	for (int i = 0; i < 200000; i++) {
		alert_uuid_generate(u);
		assert_false(dedup_seen(d, u, 1));
		if (i % 1000 == 0)
			assert_true(dedup_seen(d, u, 2));
	}
	dedup_free(d);
}

/* --- aggregation ------------------------------------------------------------------------- */

static struct {
	struct alert *got[16];
	size_t n;
} em;

static void on_emit(void *data, struct alert *a)
{
	assert_true(em.n < 16);
	em.got[em.n++] = a;
}

static struct alert *mk(const char *rule, const char *host, const char *proc, int64_t t)
{
	struct alert_init init = {
		.rule = rule,
		.priority = PRIORITY_WARNING,
		.source = "syscall",
		.output = "an output",
		.time_ns = t,
		.hostname = host,
		.output_fields = json_pack("{s:s, s:i}", "proc.name", proc, "user.uid", 0),
		.tags = json_pack("[s]", "T1555"),
	};
	struct alert *a = alert_new(&init);

	assert_non_null(a);
	return a;
}

static const char *const fields_host[] = { "hostname", "user.uid" };

static struct dedup *agg_new(uv_loop_t *loop, int64_t window, int64_t max)
{
	struct dedup_settings s = {
		.max_entries = max,
		.agg_fields = { 2, fields_host },
		.agg_window_ms = window,
	};

	memset(&em, 0, sizeof(em));
	return dedup_new(loop, &s, on_emit, NULL);
}

static void free_emitted(void)
{
	for (size_t i = 0; i < em.n; i++)
		alert_unref(em.got[i]);
	em.n = 0;
}

static void test_aggregate(void **state)
{
	uv_loop_t loop;
	struct dedup *d;
	struct alert *a[6];
	struct dedup_stats st;
	const json_t *f;

	uv_loop_init(&loop);
	d = agg_new(&loop, 1000, 100);
	assert_non_null(d);
	assert_true(dedup_aggregate_enabled(d));
	a[0] = mk("R", "node-1", "cat", 100);
	a[1] = mk("R", "node-1", "vi", 200); /* proc.name is not a key field */
	a[2] = mk("R", "node-2", "cat", 300); /* other host: its own key */
	a[3] = mk("Other", "node-1", "cat", 400); /* other rule */
	a[4] = mk("R", "node-1", "cat", 500);
	a[5] = mk("R", "node-1", "cat", 600);
	assert_int_equal(dedup_aggregate(d, a[0], 0), DEDUP_PASS);
	assert_int_equal(dedup_aggregate(d, a[1], 10), DEDUP_ABSORBED);
	assert_int_equal(dedup_aggregate(d, a[2], 20), DEDUP_PASS);
	assert_int_equal(dedup_aggregate(d, a[3], 30), DEDUP_PASS);
	assert_int_equal(dedup_aggregate(d, a[4], 999), DEDUP_ABSORBED);
	/* Nothing due before the first key's window ends. */
	dedup_expire(d, 999);
	assert_int_equal(em.n, 0);
	/* At 1000 the node-1 window ends: one summary with the count; node-2 passed alone. */
	assert_int_equal(dedup_aggregate(d, a[5], 1000), DEDUP_PASS);
	assert_int_equal(em.n, 1);
	assert_string_equal(alert_rule(em.got[0]), "R");
	assert_string_equal(alert_hostname(em.got[0]), "node-1");
	assert_int_equal(alert_time_ns(em.got[0]), 500);
	assert_string_not_equal(alert_uuid(em.got[0]), alert_uuid(a[0]));
	f = alert_output_fields(em.got[0]);
	assert_int_equal(json_integer_value(json_object_get(f, "lanner.count")), 3);
	assert_string_equal(json_string_value(json_object_get(f, "lanner.aggregated_by")),
			    "rule,hostname,user.uid");
	assert_string_equal(json_string_value(json_object_get(f, "proc.name")), "cat");
	assert_int_equal(json_array_size(alert_tags(em.got[0])), 1);
	/* The second and third keys end without anything absorbed: no summary. */
	dedup_expire(d, 1100);
	assert_int_equal(em.n, 1);
	dedup_get_stats(d, &st);
	assert_int_equal(st.absorbed, 2);
	assert_int_equal(st.summaries, 1);
	assert_int_equal(st.agg_keys, 1); /* a[5]'s new window */
	for (int i = 0; i < 6; i++)
		alert_unref(a[i]);
	free_emitted();
	dedup_close(d);
	uv_run(&loop, UV_RUN_DEFAULT);
	dedup_free(d);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The loop's timer emits the summary when the window ends, without any further alert. */
static void test_aggregate_timer(void **state)
{
	uv_loop_t loop;
	struct dedup *d;
	struct alert *a = mk("R", "node-1", "cat", 1), *b = mk("R", "node-1", "cat", 2);
	uint64_t t0;

	uv_loop_init(&loop);
	d = agg_new(&loop, 50, 100);
	assert_non_null(d);
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	assert_int_equal(dedup_aggregate(d, a, t0), DEDUP_PASS);
	assert_int_equal(dedup_aggregate(d, b, t0), DEDUP_ABSORBED);
	alert_unref(a);
	alert_unref(b);
	uv_run(&loop, UV_RUN_DEFAULT); /* returns once the timer fired and stopped */
	assert_int_equal(em.n, 1);
	assert_true(uv_now(&loop) >= t0 + 50);
	assert_int_equal(
		json_integer_value(json_object_get(alert_output_fields(em.got[0]), "lanner.count")),
		2);
	free_emitted();
	dedup_close(d);
	uv_run(&loop, UV_RUN_DEFAULT);
	dedup_free(d);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Bounded keys: past max_entries the oldest key's summary is emitted early. Close flushes. */
static void test_aggregate_bound_and_close(void **state)
{
	uv_loop_t loop;
	struct dedup *d;
	char host[32];

	uv_loop_init(&loop);
	d = agg_new(&loop, 60000, 16);
	assert_non_null(d);
	for (int i = 0; i < 17; i++) {
		for (int k = 0; k < 2; k++) {
			struct alert *a;

			snprintf(host, sizeof(host), "node-%d", i);
			a = mk("R", host, "cat", i);
			assert_int_equal(dedup_aggregate(d, a, (uint64_t)i),
					 k ? DEDUP_ABSORBED : DEDUP_PASS);
			alert_unref(a);
		}
	}
	assert_int_equal(em.n, 1);
	assert_string_equal(alert_hostname(em.got[0]), "node-0");
	free_emitted();
	dedup_close(d);
	assert_int_equal(em.n, 16);
	free_emitted();
	uv_run(&loop, UV_RUN_DEFAULT);
	dedup_free(d);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_aggregate_needs_fields(void **state)
{
	uv_loop_t loop;
	struct dedup_settings s = { .max_entries = 10, .agg_window_ms = 1000 };

	uv_loop_init(&loop);
	assert_null(dedup_new(&loop, &s, on_emit, NULL));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_options(void **state)
{
	struct config *cfg = config_new();
	struct dedup_settings s;
	static const char y[] = "dedup:\n  uuid_window: 10m\n  max_entries: 5000\n"
				"  aggregate:\n    fields: [hostname, proc.name]\n"
				"    window: 30s\n";

	assert_non_null(cfg);
	assert_int_equal(config_declare(cfg, "dedup", dedup_options), 0);
	assert_int_equal(config_load_buffer(cfg, "t.yaml", y, sizeof(y) - 1), 0);
	assert_int_equal(config_check(cfg), 0);
	assert_int_equal(config_bind(cfg, "dedup", dedup_options, &s), 0);
	assert_int_equal(s.uuid_window_ms, 600000);
	assert_int_equal(s.max_entries, 5000);
	assert_int_equal(s.agg_fields.n, 2);
	assert_string_equal(s.agg_fields.v[1], "proc.name");
	assert_int_equal(s.agg_window_ms, 30000);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_window),
		cmocka_unit_test(test_uuid_off),
		cmocka_unit_test(test_uuid_forget),
		cmocka_unit_test(test_uuid_bound),
		cmocka_unit_test(test_uuid_many),
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_aggregate_timer),
		cmocka_unit_test(test_aggregate_bound_and_close),
		cmocka_unit_test(test_aggregate_needs_fields),
		cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
