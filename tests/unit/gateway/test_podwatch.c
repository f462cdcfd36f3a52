// SPDX-License-Identifier: Apache-2.0
/*
 * Watch-stream parsing: the line buffer cut at every possible chunk boundary, over-long lines
 * skipped, and each kind of watch event (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410, other
 * ERROR, garbage) applied to a podmeta table with the resourceVersion tracked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/podwatch.h"
#include "../response/standin.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct collected {
	char lines[16][512];
	size_t n;
};

static void collect(void *ctx, const char *line, size_t len)
{
	struct collected *c = ctx;

	assert_true(c->n < 16);
	assert_true(len < 512);
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
}

static void test_lines_every_split(void **state)
{
	static const char stream[] = "{\"a\":1}\n\n{\"b\":\"two\"}\n{\"c\":[3]}\npartial";
	size_t len = strlen(stream);

	(void)state;
	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct watch_lines l;
		struct collected c = { .n = 0 };

		watch_lines_init(&l, 1024);
		for (size_t off = 0; off < len; off += chunk)
			assert_int_equal(watch_lines_feed(&l, stream + off,
							  off + chunk > len ? len - off : chunk,
							  collect, &c),
					 0);
		assert_int_equal(c.n, 4);
		assert_string_equal(c.lines[0], "{\"a\":1}");
		assert_string_equal(c.lines[1], "");
		assert_string_equal(c.lines[2], "{\"b\":\"two\"}");
		assert_string_equal(c.lines[3], "{\"c\":[3]}");
		assert_int_equal(l.len, strlen("partial")); /* waits for its '\n' */
		watch_lines_release(&l);
	}
}

static void test_lines_too_long(void **state)
{
	struct watch_lines l;
	struct collected c = { .n = 0 };
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	watch_lines_init(&l, 32);
	assert_int_equal(watch_lines_feed(&l, "ok1\n", 4, collect, &c), 0);
	/* an over-long line arriving in pieces is skipped whole */
	assert_int_equal(watch_lines_feed(&l, big, 20, collect, &c), 0);
	assert_int_equal(watch_lines_feed(&l, big, 50, collect, &c), 0);
	assert_int_equal(watch_lines_feed(&l, "tail\nok2\n", 9, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "ok1");
	assert_string_equal(c.lines[1], "ok2");
	assert_int_equal(l.skipped, 1);
	watch_lines_release(&l);
}

static char *event(const char *type, const char *uid, const char *name, const char *rv,
		   const char *cid)
{
	char *s;

	assert_true(asprintf(&s,
			     "{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
			     "\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"uid\":\"%s\","
			     "\"resourceVersion\":\"%s\",\"labels\":{\"app\":\"%s\"}},"
			     "\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"app\","
			     "\"image\":\"nginx:1.27\"}]},\"status\":{\"containerStatuses\":[{"
			     "\"name\":\"app\",\"image\":\"nginx:1.27\",\"containerID\":"
			     "\"containerd://%s\"}]}}}",
			     type, name, uid, rv, name, cid) > 0);
	return s;
}

static enum watch_event_result apply(struct podmeta *pm, const char *line, char *rv)
{
	char msg[128];

	return podwatch_apply_line(pm, line, strlen(line), rv, 64, msg, sizeof(msg));
}

static void test_events(void **state)
{
	struct podmeta *pm = podmeta_new(0);
	const struct podmeta_info *i;
	char rv[64], msg[128], *e;

	(void)state;
	e = event("ADDED", "u1", "web", "101", ID_A);
	assert_int_equal(apply(pm, e, rv), WATCH_EVENT_APPLIED);
	assert_string_equal(rv, "101");
	free(e);
	i = podmeta_get(pm, ID_A);
	assert_non_null(i);
	assert_string_equal(i->k8s.pod_name, "web");
	podmeta_put(i);

	/* MODIFIED: the container restarted with another id */
	e = event("MODIFIED", "u1", "web", "102", ID_B);
	assert_int_equal(apply(pm, e, rv), WATCH_EVENT_APPLIED);
	assert_string_equal(rv, "102");
	free(e);
	assert_null(podmeta_get(pm, ID_A));
	podmeta_put(podmeta_get(pm, ID_B));

	assert_int_equal(apply(pm,
			       "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
			       "{\"resourceVersion\":\"150\"}}}",
			       rv),
			 WATCH_EVENT_BOOKMARK);
	assert_string_equal(rv, "150");

	e = event("DELETED", "u1", "web", "151", ID_B);
	assert_int_equal(apply(pm, e, rv), WATCH_EVENT_APPLIED);
	free(e);
	assert_int_equal(podmeta_count(pm), 0);

	/* ERROR 410 Expired: relist; another ERROR: restart; the message is kept */
	{
		static const char gone[] =
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":"
			"\"Failure\",\"message\":\"too old resource version: 1 (5)\","
			"\"reason\":\"Expired\",\"code\":410}}";

		assert_int_equal(podwatch_apply_line(pm, gone, strlen(gone), rv, sizeof(rv), msg,
						     sizeof(msg)),
				 WATCH_EVENT_GONE);
	}
	assert_string_equal(msg, "too old resource version: 1 (5)");
	assert_int_equal(apply(pm,
			       "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
			       "\"message\":\"etcd\"}}",
			       rv),
			 WATCH_EVENT_ERROR);

	/* not events */
	assert_int_equal(apply(pm, "{\"type\":\"ADDED\"", rv), WATCH_EVENT_BAD);
	assert_int_equal(apply(pm, "[1,2]", rv), WATCH_EVENT_BAD);
	assert_int_equal(apply(pm, "{\"type\":\"SOMETHING\",\"object\":{}}", rv), WATCH_EVENT_BAD);
	assert_int_equal(apply(pm, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}", rv),
			 WATCH_EVENT_BAD);
	assert_string_equal(rv, "");
	podmeta_free(pm);
}

/* A whole stream cut into odd pieces, lines applied as they complete. */
struct stream_ctx {
	struct podmeta *pm;
	char rv[64];
	int applied;
};

static void on_line(void *ctx, const char *line, size_t len)
{
	struct stream_ctx *s = ctx;
	char rv[64], msg[64];

	if (!len)
		return;
	if (podwatch_apply_line(s->pm, line, len, rv, sizeof(rv), msg, sizeof(msg)) ==
	    WATCH_EVENT_APPLIED) {
		s->applied++;
		strcpy(s->rv, rv);
	}
}

static void test_stream(void **state)
{
	struct stream_ctx s = { .pm = podmeta_new(0) };
	struct watch_lines l;
	char *a = event("ADDED", "u1", "web", "201", ID_A);
	char *b = event("ADDED", "u2", "api", "202", ID_B);
	char *d = event("DELETED", "u1", "web", "203", ID_A);
	char *all;
	size_t len, off = 0, step = 7;

	(void)state;
	assert_true(asprintf(&all, "%s\n%s\n%s\n", a, b, d) > 0);
	len = strlen(all);
	watch_lines_init(&l, 4096);
	while (off < len) {
		size_t n = off + step > len ? len - off : step;

		assert_int_equal(watch_lines_feed(&l, all + off, n, on_line, &s), 0);
		off += n;
		step = step * 3 % 61 + 1;
	}
	assert_int_equal(s.applied, 3);
	assert_string_equal(s.rv, "203");
	assert_null(podmeta_get(s.pm, ID_A));
	{
		const struct podmeta_info *i = podmeta_get(s.pm, ID_B);

		assert_non_null(i);
		assert_string_equal(i->k8s.pod_name, "api");
		podmeta_put(i);
	}
	watch_lines_release(&l);
	free(a);
	free(b);
	free(d);
	free(all);
	podmeta_free(s.pm);
}

/* ---- the watcher on a loop against the Kubernetes API stand-in ---------------------------- */

#define ID_LOOP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void tick(uv_timer_t *t)
{
	(void)t;
}

/* Run the loop until pred(w, pm) or 20 s. */
static bool run_until_pred(uv_loop_t *loop, struct podwatch *w, struct podmeta *pm,
			   bool (*pred)(struct podwatch *, struct podmeta *))
{
	uv_timer_t t;
	bool ok = false;

	uv_timer_init(loop, &t);
	uv_timer_start(&t, tick, 20, 20);
	for (int i = 0; i < 2000 && !(ok = pred(w, pm)); i++)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

static bool listed(struct podwatch *w, struct podmeta *pm)
{
	struct podwatch_stats st;

	(void)pm;
	podwatch_get_stats(w, &st);
	return st.lists >= 1 && st.watches >= 1;
}

static bool has_loop_pod(struct podwatch *w, struct podmeta *pm)
{
	const struct podmeta_info *i = podmeta_get(pm, ID_LOOP);

	(void)w;
	podmeta_put(i);
	return i != NULL;
}

static bool relisted(struct podwatch *w, struct podmeta *pm)
{
	struct podwatch_stats st;

	(void)pm;
	podwatch_get_stats(w, &st);
	return st.relists_gone >= 1 && st.lists >= 2 && st.watches >= 3;
}

/* LIST requests that followed a continue token. */
static int continued(const struct standin *s)
{
	json_t *reqs = standin_control(s, "GET", "/__standin/requests", NULL), *it;
	size_t i;
	int n = 0;

	json_array_foreach(reqs, i, it) {
		const char *p = json_string_value(json_object_get(it, "path"));

		n += p && strstr(p, "/api/v1/pods?") && strstr(p, "&limit=2&continue=");
	}
	json_decref(reqs);
	return n;
}

static void test_watcher_loop(void **state)
{
	struct standin s;
	struct config *cfg = config_new();
	struct podmeta *pm;
	struct podwatch *w;
	char set[256];
	uv_loop_t loop;
	json_t *r;

	(void)state;
	assert_int_equal(standin_start(&s, 0), 0);
	assert_int_equal(config_declare(cfg, "kubernetes", podwatch_options), 0);
	snprintf(set, sizeof(set), "kubernetes.kubeconfig=%s", s.kubeconfig);
	assert_int_equal(config_set(cfg, set), 0);
	assert_int_equal(config_set(cfg, "kubernetes.node_name=node-1"), 0);
	assert_int_equal(config_set(cfg, "kubernetes.metadata.watch_timeout=1s"), 0);
	/* node-1 has 5 pods in the small cluster: 3 pages of 2 */
	assert_int_equal(config_set(cfg, "kubernetes.metadata.page_size=2"), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(podwatch_start(&loop, cfg, &pm, &w), 0);
	assert_non_null(w);
	assert_non_null(pm);

	/* list, then watch; the small cluster's pods have no running containers yet */
	assert_true(run_until_pred(&loop, w, pm, listed));
	assert_int_equal(podmeta_count(pm), 0);
	assert_true(standin_count(&s, "GET", "/api/v1/pods") >= 3); /* the list's pages */
	assert_true(continued(&s) == 2);

	/* the kubelet reports a running container: the watch brings it */
	r = standin_control(
		&s, "POST", "/__standin/pod-event",
		"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
		"\"metadata\":{\"name\":\"late\",\"namespace\":\"shop\",\"uid\":\"u-late\","
		"\"labels\":{\"app\":\"late\"}},\"spec\":{\"nodeName\":\"node-1\","
		"\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.27\"}]},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"app\",\"image\":"
		"\"nginx:1.27\",\"containerID\":\"containerd://" ID_LOOP "\"}]}}}");
	assert_non_null(r);
	json_decref(r);
	assert_true(run_until_pred(&loop, w, pm, has_loop_pod));
	assert_true(standin_count(&s, "GET", "/api/v1/pods") >= 4); /* the pages and a watch */

	/* history compacted: ERROR 410 on the watch, a relist, and the pod is still there */
	r = standin_control(&s, "POST", "/__standin/expire", "{}");
	assert_non_null(r);
	json_decref(r);
	assert_true(run_until_pred(&loop, w, pm, relisted));
	assert_true(has_loop_pod(w, pm));

	/* stop with a watch on the wire: everything closes */
	podwatch_stop(w);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	podmeta_free(pm);
	config_free(cfg);
	standin_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_every_split),
		cmocka_unit_test(test_lines_too_long),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_watcher_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
