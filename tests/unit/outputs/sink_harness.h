/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_SINK_HARNESS_H
#define LANNER_TEST_SINK_HARNESS_H

/*
 * Drive one sink the way the pipeline does, for unit tests: a uv loop, the shared HTTP client,
 * a configuration from a YAML string (only the sink's own table declared), init / send / close,
 * and the requests tests/integration/receiver.py recorded. Header-only, like receiver.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "outputs/alert.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "receiver.h"

struct harness {
	uv_loop_t loop;
	struct http_client *http;
	struct config *cfg;
	struct sink *sink;
	const struct sink_ops *ops;
	int done_calls;
	struct sink_status last;
	enum sink_result results[64]; /* by token index */
	char diag[2048]; /* configuration diagnostics, one per line */
};

static inline void harness_report(void *ctx, enum config_severity sev, const char *where,
				  const char *msg)
{
	struct harness *h = ctx;
	size_t used = strlen(h->diag);

	snprintf(h->diag + used, sizeof(h->diag) - used, "%s: %s: %s\n", where,
		 sev == CONFIG_ERROR ? "error" : "warning", msg);
}

static inline void harness_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct harness *h = s->owner;
	size_t i = (size_t)(uintptr_t)token;

	h->done_calls++;
	h->last = *st;
	if (i < sizeof(h->results) / sizeof(h->results[0]))
		h->results[i] = st->result;
}

/* Configure with yaml and init the sink. Returns ops->init's result (or a config error). */
static inline int harness_start(struct harness *h, const struct sink_ops *ops, const char *yaml)
{
	struct sink_env env;
	int err;

	memset(h, 0, sizeof(*h));
	h->ops = ops;
	if (uv_loop_init(&h->loop))
		return -EIO;
	h->http = http_client_new(&h->loop);
	h->cfg = config_new();
	if (!h->http || !h->cfg)
		return -ENOMEM;
	config_set_reporter(h->cfg, harness_report, h);
	err = config_declare(h->cfg, ops->name, ops->options);
	if (!err)
		err = config_load_buffer(h->cfg, "test.yaml", yaml, strlen(yaml));
	if (!err)
		err = config_check(h->cfg);
	if (err)
		return err;
	h->sink = calloc(1, ops->size);
	if (!h->sink)
		return -ENOMEM;
	h->sink->ops = ops;
	h->sink->name = ops->name;
	h->sink->loop = &h->loop;
	h->sink->done = harness_done;
	h->sink->owner = h;
	env = (struct sink_env){ &h->loop, h->http, "harness-host" };
	err = ops->init(h->sink, h->cfg, &env);
	if (err) {
		free(h->sink);
		h->sink = NULL;
	}
	return err;
}

/* Run the loop until `target` completions were reported (or 20 s passed). */
static inline void harness_wait(struct harness *h, int target)
{
	uint64_t end = uv_now(&h->loop) + 20000;

	while (h->done_calls < target && uv_now(&h->loop) < end) {
		uv_run(&h->loop, UV_RUN_ONCE);
		uv_update_time(&h->loop);
	}
}

/* Send one alert with token index idx; 0 or send's error. Does not wait. */
static inline int harness_send(struct harness *h, struct alert *a, size_t idx)
{
	return h->ops->send(h->sink, a, (void *)(uintptr_t)idx);
}

/* Close the sink and the client, run the loop dry; returns uv_loop_close()'s result. */
static inline int harness_stop(struct harness *h)
{
	int rc;

	if (h->sink && h->ops->close)
		h->ops->close(h->sink);
	http_client_free(h->http);
	h->http = NULL;
	uv_run(&h->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&h->loop);
	free(h->sink);
	h->sink = NULL;
	config_free(h->cfg);
	h->cfg = NULL;
	return rc;
}

/* A frozen alert parsed from JSON (hostname set when the JSON has none), or NULL. */
static inline struct alert *harness_alert(const char *json)
{
	struct alert_error e;
	struct alert *a = alert_parse(json, strlen(json), &e);

	if (!a)
		return NULL;
	if (!alert_hostname(a)[0])
		alert_set_hostname(a, "harness-host");
	if (alert_freeze(a)) {
		alert_unref(a);
		return NULL;
	}
	return a;
}

/* Read a whole file (NUL-terminated); caller frees. */
static inline char *harness_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* The body of recorded request i (0-based) as a fresh string, or NULL. */
static inline char *harness_body(const struct receiver *r, size_t i)
{
	json_t *reqs = receiver_requests(r);
	const char *b = json_string_value(json_object_get(json_array_get(reqs, i), "body"));
	char *out = b ? strdup(b) : NULL;

	json_decref(reqs);
	return out;
}

#endif
