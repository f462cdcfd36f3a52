/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_SINKTEST_H
#define LANNER_TEST_SINKTEST_H

/*
 * Drive one sink as the pipeline does, for the foundation sinks' unit tests: a uv loop, the
 * shared HTTP client, a configuration from a YAML string, init / send / close, and every
 * sink_done() recorded by token index. Header-only: each cmocka executable is one .c file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "outputs/alert.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"

#define ST_MAX 2048

struct st {
	uv_loop_t loop;
	struct http_client *http;
	struct config *cfg;
	struct sink *sink;
	const struct sink_ops *ops;
	int calls;
	int order[ST_MAX]; /* token index of each completion, in order */
	int per_token[ST_MAX]; /* completions per token */
	struct sink_status status[ST_MAX]; /* by token index */
};

/* The top-level keys the gateway declares and sinks read through config_get(). */
static const struct config_option st_toplevel[] = {
	{ .key = "mutualtlsclient.certfile", .type = CONFIG_STRING },
	{ .key = "mutualtlsclient.keyfile", .type = CONFIG_STRING },
	{ .key = "mutualtlsclient.cacertfile", .type = CONFIG_STRING },
	{ .key = NULL },
};

static inline void st_done(struct sink *s, void *token, const struct sink_status *status)
{
	struct st *t = s->owner;
	size_t i = (size_t)(uintptr_t)token;

	if (i < ST_MAX) {
		t->status[i] = *status;
		t->per_token[i]++;
	}
	if (t->calls < ST_MAX)
		t->order[t->calls] = (int)i;
	t->calls++;
}

/* Configure from yaml and init the sink. Returns init's (or the configuration's) error. */
static inline int st_start(struct st *t, const struct sink_ops *ops, const char *yaml)
{
	struct sink_env env = { 0 };
	int err;

	memset(t, 0, sizeof(*t));
	t->ops = ops;
	if (uv_loop_init(&t->loop))
		return -EIO;
	t->http = http_client_new(&t->loop);
	t->cfg = config_new();
	if (!t->http || !t->cfg)
		return -ENOMEM;
	err = config_declare(t->cfg, "", st_toplevel);
	if (!err)
		err = config_declare(t->cfg, ops->name, ops->options);
	if (!err)
		err = config_load_buffer(t->cfg, "test.yaml", yaml, strlen(yaml));
	if (!err)
		err = config_check(t->cfg);
	if (err)
		return err;
	t->sink = calloc(1, ops->size);
	if (!t->sink)
		return -ENOMEM;
	t->sink->ops = ops;
	t->sink->name = ops->name;
	t->sink->loop = &t->loop;
	t->sink->done = st_done;
	t->sink->owner = t;
	env.loop = &t->loop;
	env.http = t->http;
	env.hostname = "test-host";
	err = ops->init(t->sink, t->cfg, &env);
	if (err) {
		free(t->sink);
		t->sink = NULL;
	}
	return err;
}

static inline int st_send(struct st *t, struct alert *a, size_t idx)
{
	return t->ops->send(t->sink, a, (void *)(uintptr_t)idx);
}

/* Run the loop until n completions were reported. */
static inline void st_wait(struct st *t, int n)
{
	while (t->calls < n)
		uv_run(&t->loop, UV_RUN_ONCE);
}

/* Close sink and client, run the loop dry; returns uv_loop_close()'s result. */
static inline int st_stop(struct st *t)
{
	int rc;

	if (t->sink && t->ops->close)
		t->ops->close(t->sink);
	http_client_free(t->http);
	t->http = NULL;
	uv_run(&t->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&t->loop);
	free(t->sink);
	t->sink = NULL;
	config_free(t->cfg);
	t->cfg = NULL;
	return rc;
}

/* A frozen alert with a recognisable rule and output; NULL on failure. */
static inline struct alert *st_alert(int i)
{
	char output[96];
	json_t *fields = json_pack("{s:s, s:i}", "proc.name", "bash", "seq", i);
	struct alert_init init = {
		.rule = "Test rule",
		.priority = PRIORITY_WARNING,
		.source = "syscall",
		.output = output,
		.time_ns = 1700000000123456789LL + i,
		.hostname = "test-host",
		.output_fields = fields,
		.tags = json_pack("[s,s]", "test", "é-unicode"),
	};
	struct alert *a;

	snprintf(output, sizeof(output), "alert number %d (proc.name=bash \"quoted\")", i);
	a = alert_new(&init);
	if (!a)
		return NULL;
	if (alert_freeze(a)) {
		alert_unref(a);
		return NULL;
	}
	return a;
}

#endif
