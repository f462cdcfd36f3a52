/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_METRICS_H
#define LANNER_GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Prometheus metrics of the gateway: counter families with labels, and gauges read through a
 * callback at scrape time. Loop-thread only (the detector hands its numbers over through the
 * pipeline). Label sets are bounded per family: past max_series, new label sets are folded
 * into one series whose label values are all "other", and lanner_metrics_series_folded_total
 * counts them, so an agent sending random rule names cannot grow memory without bound.
 */

struct metrics;
struct metric;

/* Constructor; NULL with errno set. */
struct metrics *metrics_new(size_t max_series);
/* Accepts NULL. */
void metrics_free(struct metrics *m);

/*
 * Declare a counter family. label_names is borrowed (static storage); n <= 8. Returns the
 * family, or NULL with errno set.
 */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *label_names, size_t n);

/* Add `by` to the series of these label values (n values, as declared). */
void metric_add(struct metric *f, const char *const *label_values, uint64_t by);
/* The current value of a series, 0 when absent. For tests and the UI. */
uint64_t metric_value(const struct metric *f, const char *const *label_values);

/*
 * Declare a gauge family whose series are produced at scrape time: fn calls emit() once per
 * series with its label values and value.
 */
typedef void (*metrics_emit_fn)(void *emit_ctx, const char *const *label_values, double value);
typedef void (*metrics_gauge_fn)(void *data, metrics_emit_fn emit, void *emit_ctx);
int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  const char *const *label_names, size_t n, metrics_gauge_fn fn, void *data);

/* Same, for a counter family whose values another module keeps (rendered with TYPE counter). */
int metrics_counter_fn(struct metrics *m, const char *name, const char *help,
		       const char *const *label_names, size_t n, metrics_gauge_fn fn, void *data);

/* Render the Prometheus text exposition format (0.0.4). Caller frees; NULL on ENOMEM. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
