// SPDX-License-Identifier: Apache-2.0
/*
 * The event store on a real SQLite file in a temp folder and a real loop: alerts go in through
 * store_add (the writer thread), the loop runs until their callbacks came back, then queries
 * run from the test's thread (as they would on a worker thread).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "gateway/store.h"

#define NS 1000000000LL
#define MINUTE (60 * NS)

static char dir[256];
static char path[300];
static size_t window; /* store_opts.search_window of the next fx_open (0: default) */

struct fx {
	uv_loop_t loop;
	struct store *s;
	int done, failed;
};

static void on_done(void *data, int err)
{
	struct fx *f = data;

	f->done++;
	if (err)
		f->failed++;
}

static void fx_open(struct fx *f, const struct store_opts *o)
{
	struct store_opts def = { .path = path, .search_window = window };

	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->s = store_open(&f->loop, o ? o : &def);
	assert_non_null(f->s);
}

static void fx_close(struct fx *f)
{
	store_close(f->s);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void on_tick(uv_timer_t *t)
{
	struct fx *f = t->data;
	(void)f;
}

/* Run the loop until cond(f) or 20 s. */
static bool run_until(struct fx *f, bool (*cond)(struct fx *f, void *arg), void *arg)
{
	uv_timer_t t;
	int i;

	uv_timer_init(&f->loop, &t);
	t.data = f;
	uv_timer_start(&t, on_tick, 10, 10);
	for (i = 0; i < 2000 && !cond(f, arg); i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return cond(f, arg);
}

static bool all_done(struct fx *f, void *arg)
{
	return f->done >= *(int *)arg;
}

static struct alert *mk(const char *rule, enum priority p, const char *source, const char *host,
			int64_t t, const char *output, const char *tags, const char *proc,
			const char *uuid)
{
	json_t *tag_list = json_array();
	struct alert_init in = {
		.rule = rule,
		.priority = p,
		.source = source,
		.output = output,
		.time_ns = t,
		.hostname = host,
		.output_fields = json_pack("{sssi}", "proc.name", proc, "n", 7),
		.tags = tag_list,
		.uuid = uuid,
	};
	char *copy = strdup(tags), *save = NULL;
	struct alert *a;

	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
		json_array_append_new(tag_list, json_string(w));
	free(copy);
	a = alert_new(&in);
	assert_non_null(a);
	alert_freeze(a);
	return a;
}

static void add(struct fx *f, struct alert *a)
{
	assert_true(store_add(f->s, a, on_done, f) > 0);
	alert_unref(a);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* A fixed set: 60 alerts, one every 10 s over 10 minutes before base. */
static int64_t base;

static void add_set(struct fx *f)
{
	static const char *rules[] = { "Shell", "Netcat", "Read shadow" };
	static const char *hosts[] = { "a", "b" };
	static const char *procs[] = { "bash", "nc", "cat", "sh" };
	char out[128];
	int n = 60;

	base = now_ns() / MINUTE * MINUTE - 10 * MINUTE;
	for (int i = 0; i < n; i++) {
		snprintf(out, sizeof(out), "alert %d %s", i, i % 5 == 0 ? "Shadow file" : "plain");
		add(f, mk(rules[i % 3], (enum priority)(i % 8), i % 4 ? "syscall" : "k8s_audit",
			  hosts[i % 2], base + (int64_t)i * 10 * NS, out,
			  i % 2 ? "container,T1059" : "host", procs[i % 4], NULL));
	}
	assert_true(run_until(f, all_done, &n));
	assert_int_equal(f->failed, 0);
}

static size_t count_events(struct fx *f, const struct store_filter *flt)
{
	json_t *res;
	size_t n;

	assert_int_equal(store_search(f->s, flt, 1000, NULL, &res), 0);
	n = json_array_size(json_object_get(res, "events"));
	assert_true(json_is_null(json_object_get(res, "next")));
	json_decref(res);
	return n;
}

static void test_add_search_filters(void **state)
{
	const char *rule[] = { "Netcat" }, *tag2[] = { "container", "T1059" }, *host[] = { "a" };
	const char *fname[] = { "proc.name" }, *fval[] = { "nc" }, *words[] = { "SHADOW", "fi" };
	const char *num_name[] = { "n" }, *num_val[] = { "7" };
	struct store_filter flt;
	struct store_stats st;
	struct fx f;

	fx_open(&f, NULL);
	add_set(&f);
	store_get_stats(f.s, &st);
	assert_int_equal(st.alerts, 60);

	store_filter_init(&flt);
	assert_int_equal(count_events(&f, &flt), 60);
	flt.rules = rule;
	flt.n_rules = 1;
	assert_int_equal(count_events(&f, &flt), 20);
	store_filter_init(&flt);
	flt.priorities = 1u << PRIORITY_ERROR | 1u << PRIORITY_EMERGENCY;
	assert_int_equal(count_events(&f, &flt), 16);
	store_filter_init(&flt);
	flt.tags = tag2;
	flt.n_tags = 2;
	flt.hosts = host; /* host a: even i, whose tag is "host": none */
	flt.n_hosts = 1;
	assert_int_equal(count_events(&f, &flt), 0);
	flt.n_hosts = 0;
	assert_int_equal(count_events(&f, &flt), 30);
	store_filter_init(&flt);
	flt.field_names = fname;
	flt.field_values = fval;
	flt.n_fields = 1;
	assert_int_equal(count_events(&f, &flt), 15);
	flt.field_names = num_name; /* numbers in string form */
	flt.field_values = num_val;
	assert_int_equal(count_events(&f, &flt), 60);
	store_filter_init(&flt);
	flt.words = words; /* trigram word and a 2-byte word (LIKE) */
	flt.n_words = 2;
	assert_int_equal(count_events(&f, &flt), 12);
	store_filter_init(&flt);
	flt.since_ns = base + 100 * NS;
	flt.until_ns = base + 200 * NS;
	assert_int_equal(count_events(&f, &flt), 10);
	fx_close(&f);
}

/* The same with a window of 5 events: searches take the second plan (filters' indexes). */
static void test_add_search_filters_small_window(void **state)
{
	window = 5;
	test_add_search_filters(state);
	window = 0;
}

static void test_cursor_pages(void **state)
{
	struct store_filter flt;
	struct store_cursor cur;
	int64_t last_t = INT64_MAX, last_id = INT64_MAX;
	bool more = true, has_cur = false;
	size_t total = 0;
	struct fx f;

	fx_open(&f, NULL);
	add_set(&f);
	store_filter_init(&flt);
	while (more) {
		json_t *res, *ev;
		const json_t *next;
		size_t i;

		assert_int_equal(store_search(f.s, &flt, 7, has_cur ? &cur : NULL, &res), 0);
		json_array_foreach(json_object_get(res, "events"), i, ev) {
			int64_t t = 0, id = json_integer_value(json_object_get(ev, "id"));
			const char *ts = json_string_value(json_object_get(ev, "time"));

			assert_int_equal(alert_parse_time(ts, &t), 0);
			assert_true(t < last_t || (t == last_t && id < last_id));
			last_t = t;
			last_id = id;
			total++;
		}
		next = json_object_get(res, "next");
		more = json_is_string(next);
		if (more) {
			assert_int_equal(sscanf(json_string_value(next), "%ld.%ld", &cur.time_ns,
						&cur.id),
					 2);
			has_cur = true;
		}
		json_decref(res);
	}
	assert_int_equal(total, 60);
	fx_close(&f);
}

static void test_cursor_pages_small_window(void **state)
{
	window = 5;
	test_cursor_pages(state);
	window = 0;
}

static json_t *counts(struct fx *f, const struct store_filter *flt, enum store_group by,
		      int64_t since, int64_t until, int64_t bucket)
{
	json_t *res = NULL;

	assert_int_equal(store_counts(f->s, flt, by, since, until, bucket, 0, &res), 0);
	return res;
}

/* The rollups and the raw rows agree, including partial minutes at both ends. */
static void test_counts_rollup_equals_raw(void **state)
{
	const char *fname[] = { "n" }, *fval[] = { "7" }; /* every alert: forces the raw path */
	struct store_filter plain, raw;
	int64_t since = base / 1000000 + 15000, until = base / 1000000 + 9 * 60000 + 5000;
	enum store_group by;
	struct fx f;

	fx_open(&f, NULL);
	add_set(&f);
	since = base / 1000000 + 15000;
	until = base / 1000000 + 9 * 60000 + 5000;
	store_filter_init(&plain);
	store_filter_init(&raw);
	raw.field_names = fname;
	raw.field_values = fval;
	raw.n_fields = 1;
	for (by = STORE_BY_PRIORITY; by <= STORE_BY_HOST; by++) {
		json_t *a = counts(&f, &plain, by, since, until, 60000);
		json_t *b = counts(&f, &raw, by, since, until, 60000);

		assert_true(json_equal(a, b));
		assert_int_equal(json_integer_value(json_object_get(a, "total")), 53);
		json_decref(a);
		json_decref(b);
	}
	/* by tag: the total counts alerts, groups count tags */
	{
		json_t *a = counts(&f, &plain, STORE_BY_TAG, base / 1000000,
				   base / 1000000 + 10 * 60000, 0);
		json_t *g = json_object_get(a, "groups");

		assert_int_equal(json_integer_value(json_object_get(a, "total")), 60);
		assert_int_equal(json_array_size(g), 3);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(g, 0), "count")),
				 30);
		json_decref(a);
	}
	assert_int_equal(store_counts(f.s, &plain, STORE_BY_RULE, 0, 100000000, 1000, 0,
				      &(json_t *){ NULL }),
			 -ERANGE);
	fx_close(&f);
}

static void test_filter_match_agrees_with_sql(void **state)
{
	const char *words[] = { "shadow" }, *tags[] = { "host" };
	struct store_filter flt;
	struct alert *yes, *no;

	store_filter_init(&flt);
	flt.words = words;
	flt.n_words = 1;
	flt.tags = tags;
	flt.n_tags = 1;
	flt.priorities = 1u << PRIORITY_WARNING;
	yes = mk("r", PRIORITY_WARNING, "syscall", "h", 5 * NS, "read SHADOW", "host,x", "cat",
		 NULL);
	no = mk("r", PRIORITY_ERROR, "syscall", "h", 5 * NS, "read SHADOW", "host,x", "cat", NULL);
	assert_true(store_filter_match(&flt, yes));
	assert_false(store_filter_match(&flt, no));
	flt.until_ns = 5 * NS;
	assert_false(store_filter_match(&flt, yes));
	alert_unref(yes);
	alert_unref(no);
}

static void test_duplicate_uuid_once(void **state)
{
	const char *u = "5b0f2d1c-8a55-4d84-9a0e-3f0f8b7c1e21";
	struct store_stats st;
	json_t *ev = NULL;
	int n = 2;
	struct fx f;

	fx_open(&f, NULL);
	add(&f, mk("r", PRIORITY_ERROR, "syscall", "h", now_ns(), "one", "a", "x", u));
	add(&f, mk("r", PRIORITY_ERROR, "syscall", "h", now_ns(), "two", "a", "x", u));
	assert_true(run_until(&f, all_done, &n));
	store_get_stats(f.s, &st);
	assert_int_equal(st.alerts, 1);
	assert_int_equal(store_get(f.s, u, &ev), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "output")), "one");
	assert_non_null(strstr(json_string_value(json_object_get(ev, "raw")), "\"one\""));
	json_decref(ev);
	assert_int_equal(store_get(f.s, "00000000-0000-4000-8000-000000000000", &ev), -ENOENT);
	fx_close(&f);
}

static bool alerts_at_most(struct fx *f, void *arg)
{
	struct store_stats st;

	store_get_stats(f->s, &st);
	return st.queued == 0 && st.alerts <= *(uint64_t *)arg;
}

static void test_retention_by_age(void **state)
{
	struct store_opts o = { .path = path,
				.max_age_ms = 3600 * 1000,
				.retention_interval_ms = 100 };
	int64_t now = now_ns();
	uint64_t want = 20;
	struct store_filter flt;
	int n = 50;
	struct fx f;

	fx_open(&f, &o);
	for (int i = 0; i < 30; i++)
		add(&f, mk("old", PRIORITY_ERROR, "syscall", "h", now - 7200 * NS + i, "o", "t",
			   "x", NULL));
	for (int i = 0; i < 20; i++)
		add(&f,
		    mk("new", PRIORITY_ERROR, "syscall", "h", now - i * NS, "n", "t", "x", NULL));
	assert_true(run_until(&f, all_done, &n));
	assert_true(run_until(&f, alerts_at_most, &want));
	store_filter_init(&flt);
	assert_int_equal(count_events(&f, &flt), 20);
	/* the rollups followed: counts see only the young ones */
	{
		json_t *c = counts(&f, &flt, STORE_BY_RULE, now / 1000000 - 3 * 3600 * 1000,
				   now / 1000000 + 1000, 0);

		assert_int_equal(json_integer_value(json_object_get(c, "total")), 20);
		json_decref(c);
	}
	fx_close(&f);
}

static bool fits(struct fx *f, void *arg)
{
	struct store_stats st;

	store_get_stats(f->s, &st);
	return st.queued == 0 && st.alerts < 2000 && st.bytes <= *(uint64_t *)arg;
}

static void test_retention_by_size(void **state)
{
	struct store_opts o = { .path = path,
				.max_bytes = 1024 * 1024,
				.retention_interval_ms = 100 };
	char out[2048];
	int64_t now = now_ns();
	uint64_t cap = 1024 * 1024;
	struct store_stats st;
	int n = 2000;
	struct fx f;

	fx_open(&f, &o);
	for (int i = 0; i < n; i++) {
		int k = snprintf(out, sizeof(out), "alert %d ", i);

		for (int j = 0; k < 600; j++)
			k += snprintf(out + k, sizeof(out) - (size_t)k, "w%d-%d ", i, j);
		add(&f, mk("r", PRIORITY_ERROR, "syscall", "h", now - (n - i) * NS, out, "t", "x",
			   NULL));
	}
	assert_true(run_until(&f, all_done, &n));
	assert_true(run_until(&f, fits, &cap));
	store_get_stats(f.s, &st);
	assert_true(st.alerts > 50);
	/* the oldest went first: what is left is the newest */
	assert_true(st.oldest_ns >= now - (int64_t)st.alerts * NS - NS);
	fx_close(&f);
}

static void test_corrupt_file_set_aside(void **state)
{
	FILE *fp = fopen(path, "w");
	struct dirent *de;
	bool found = false;
	DIR *d;
	struct fx f;

	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a SQLite database at all; ", fp);
	fclose(fp);
	fx_open(&f, NULL);
	d = opendir(dir);
	while ((de = readdir(d)))
		found |= strstr(de->d_name, "events.db.corrupt-") != NULL;
	closedir(d);
	assert_true(found);
	fx_close(&f);
}

static void test_event_json(void **state)
{
	const char raw[] =
		"{\"hostname\":\"h\",\"output\":\"o\",\"output_fields\":{\"a\":1},"
		"\"priority\":\"Error\",\"rule\":\"r\",\"source\":\"s\",\"tags\":[\"t\"],"
		"\"time\":\"2026-01-01T00:00:00Z\",\"uuid\":\"u\"}";
	json_t *ev = store_event_json(42, raw, sizeof(raw) - 1);
	char *text;

	assert_non_null(ev);
	text = json_dumps(ev, JSON_COMPACT);
	assert_string_equal(text, "{\"id\":42,\"uuid\":\"u\",\"time\":\"2026-01-01T00:00:00Z\","
				  "\"priority\":\"Error\",\"rule\":\"r\",\"source\":\"s\","
				  "\"hostname\":\"h\",\"output\":\"o\",\"tags\":[\"t\"],"
				  "\"output_fields\":{\"a\":1}}");
	free(text);
	json_decref(ev);
	assert_null(store_event_json(1, "{", 1));
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lanner-test-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/events.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_search_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_search_filters_small_window, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cursor_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_pages_small_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_rollup_equals_raw, setup, teardown),
		cmocka_unit_test(test_filter_match_agrees_with_sql),
		cmocka_unit_test_setup_teardown(test_duplicate_uuid_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file_set_aside, setup, teardown),
		cmocka_unit_test(test_event_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
