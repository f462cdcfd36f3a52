/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_STORE_H
#define LANNER_GATEWAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "outputs/alert.h"

/*
 * The web UI's event store (docs/ui-api.md): every alert the pipeline hands the "ui" sink, in
 * its own SQLite database (WAL), indexed for the API's queries, bounded by age and by size.
 *
 * Writes run on the store's own thread, in batched transactions (one per wake-up); the loop
 * only queues copies of the alerts and hears, through a uv_async, when their transaction is
 * done. Retention runs on the same thread, continuously, in small batches of deletes.
 * Queries (store_search, store_get, store_counts) take a read connection from a small pool:
 * call them from worker threads (uv_queue_work), never from the loop.
 *
 *	events(id INTEGER PRIMARY KEY, uuid UNIQUE, time_ns, priority, rule, source, hostname,
 *	       output, raw)                         indexes: time, (priority|rule|source|hostname, time)
 *	tags(event, tag), fields(event, name, value)  side tables, indexed by value
 *	events_fts                                   FTS5 trigram index over output (when built in)
 *	rollup(minute, priority, rule, source, hostname, n), rollup_tags(minute, tag, ..., n)
 *	                                             per-minute counts for GET /api/v1/counts
 */

struct store;

struct store_opts {
	const char *path;
	int64_t max_age_ms; /* 0 = no bound by age */
	uint64_t max_bytes; /* 0 = no bound by size */
	int64_t retention_interval_ms; /* how often retention runs; 0 = 1000 */
	size_t search_window; /* events a search walks in time order first; 0 = 20000 (tests) */
};

/*
 * Open (creating the file and its folder), check the schema, start the writer thread.
 * Blocking: before the loop runs. NULL with errno set, after logging why.
 */
struct store *store_open(uv_loop_t *loop, const struct store_opts *o);

/* Runs on the loop when the alert's transaction is done: 0, or -EIO (logged and counted). */
typedef void (*store_done_fn)(void *data, int err);

/*
 * Queue one frozen alert (its fields are copied; a is borrowed for the call). Returns the id
 * it gets in the store (> 0), or -ENOMEM / -ESHUTDOWN. done may be NULL.
 */
int64_t store_add(struct store *s, struct alert *a, store_done_fn done, void *data);

/* Counters, readable from any thread. */
struct store_stats {
	uint64_t alerts; /* rows in the store */
	uint64_t bytes; /* database pages in use */
	int64_t oldest_ns; /* time of the oldest alert, 0 when empty */
	uint64_t written, deleted, errors; /* since open */
	uint64_t queued; /* waiting for the writer */
};
void store_get_stats(struct store *s, struct store_stats *out);
bool store_has_fts(const struct store *s);

/*
 * Apply what is queued, stop the thread, close the database; the memory goes in the uv_async's
 * close callback (run the loop). Queries must have finished. Accepts NULL.
 */
void store_close(struct store *s);

/* ---- queries ---- */

/* The common filters of the API; arrays and strings borrowed for the call. */
struct store_filter {
	const char *const *words; /* free text: each word a case-insensitive substring of output */
	size_t n_words;
	unsigned priorities; /* bit p set: priority p allowed; 0 = all */
	const char *const *rules;
	size_t n_rules;
	const char *const *sources;
	size_t n_sources;
	const char *const *tags; /* all of them */
	size_t n_tags;
	const char *const *hosts;
	size_t n_hosts;
	const char *const *field_names; /* output_fields[name] == value (string form), all */
	const char *const *field_values;
	size_t n_fields;
	int64_t since_ns, until_ns; /* [since, until); INT64_MIN / INT64_MAX when open */
};

/* Reset to "everything". */
void store_filter_init(struct store_filter *f);

/* The filter tested on an alert in memory (the live stream). */
bool store_filter_match(const struct store_filter *f, const struct alert *a);

/* Keyset position: events strictly older than (time_ns, id). */
struct store_cursor {
	int64_t time_ns;
	int64_t id;
};

/*
 * Newest first. *out gets {"events": [...], "next": cursor or null}; cursor text is
 * "<time_ns>.<id>" (opaque to clients). 0, -EIO, -ENOMEM.
 */
int store_search(struct store *s, const struct store_filter *f, size_t limit,
		 const struct store_cursor *after, json_t **out);

/* One event by uuid, with "raw". 0, -ENOENT, -EIO. */
int store_get(struct store *s, const char *uuid, json_t **out);

enum store_group { STORE_BY_PRIORITY, STORE_BY_RULE, STORE_BY_SOURCE, STORE_BY_TAG, STORE_BY_HOST };

/*
 * Counts of the events matching f in [since_ms, until_ms), grouped; with bucket_ms > 0 a time
 * series per group. top 0 = all groups. *out as in docs/ui-api.md. 0, -EIO, -ENOMEM, -ERANGE
 * (more than 10000 buckets).
 */
int store_counts(struct store *s, const struct store_filter *f, enum store_group by,
		 int64_t since_ms, int64_t until_ms, int64_t bucket_ms, size_t top, json_t **out);

/* The API's event object ({"id":..,"uuid":..,...}) for an alert's canonical JSON. NULL on error. */
json_t *store_event_json(int64_t id, const char *raw, size_t len);

#endif
