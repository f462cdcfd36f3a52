// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/metrics.h"

static void test_counters_render_prometheus_text(void **state)
{
	static const char *const labels[] = { "destination", "status" };
	struct metrics *m = metrics_new(0);
	struct metric *c;
	const char *ok[] = { "webhook", "ok" }, *err[] = { "webhook", "error" };
	char *text;

	assert_non_null(m);
	c = metrics_counter(m, "falcosecurity_falcosidekick_outputs_total", "Deliveries", labels,
			    2);
	assert_non_null(c);
	metric_add(c, ok, 2);
	metric_add(c, err, 1);
	metric_add(c, ok, 1);
	assert_int_equal(metric_value(c, ok), 3);
	assert_int_equal(metric_value(c, err), 1);
	text = metrics_render(m, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE falcosecurity_falcosidekick_outputs_total counter\n"));
	assert_non_null(strstr(text, "falcosecurity_falcosidekick_outputs_total{destination="
				     "\"webhook\",status=\"ok\"} 3\n"));
	assert_non_null(strstr(text, "falcosecurity_falcosidekick_outputs_total{destination="
				     "\"webhook\",status=\"error\"} 1\n"));
	free(text);
	metrics_free(m);
}

static void test_label_values_are_escaped(void **state)
{
	static const char *const labels[] = { "rule" };
	struct metrics *m = metrics_new(0);
	struct metric *c = metrics_counter(m, "x_total", "x", labels, 1);
	const char *v[] = { "a \"quoted\" \\ rule\nwith newline" };
	char *text;

	metric_add(c, v, 1);
	text = metrics_render(m, NULL);
	assert_non_null(
		strstr(text, "x_total{rule=\"a \\\"quoted\\\" \\\\ rule\\nwith newline\"} 1"));
	free(text);
	metrics_free(m);
}

/* Past the series limit, new label sets fold into "other" and are counted. */
static void test_series_are_bounded(void **state)
{
	static const char *const labels[] = { "rule" };
	struct metrics *m = metrics_new(3);
	struct metric *c = metrics_counter(m, "events_total", "e", labels, 1);
	char name[32];
	const char *v[] = { name };
	const char *other[] = { "other" };
	const char *fam[] = { "events_total" };
	char *text;

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "rule-%d", i);
		metric_add(c, v, 1);
	}
	/* Three real series, then everything else in "other". */
	assert_int_equal(metric_value(c, other), 97);
	text = metrics_render(m, NULL);
	assert_non_null(
		strstr(text, "lanner_metrics_series_folded_total{metric=\"events_total\"} 97"));
	assert_null(strstr(text, "rule-50"));
	free(text);
	(void)fam;
	metrics_free(m);
}

static void gauge(void *data, metrics_emit_fn emit, void *ctx)
{
	const char *a[] = { "webhook" }, *b[] = { "slack" };

	emit(ctx, a, 12);
	emit(ctx, b, 0);
}

static void test_gauges_are_read_at_scrape_time(void **state)
{
	static const char *const labels[] = { "sink" };
	struct metrics *m = metrics_new(0);
	char *text;

	assert_int_equal(metrics_gauge(m, "lanner_queue_depth", "q", labels, 1, gauge, NULL), 0);
	text = metrics_render(m, NULL);
	assert_non_null(strstr(text, "# TYPE lanner_queue_depth gauge\n"));
	assert_non_null(strstr(text, "lanner_queue_depth{sink=\"webhook\"} 12\n"));
	assert_non_null(strstr(text, "lanner_queue_depth{sink=\"slack\"} 0\n"));
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_render_prometheus_text),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_series_are_bounded),
		cmocka_unit_test(test_gauges_are_read_at_scrape_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
