/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_RESPOND_H
#define LANNER_TEST_RESPOND_H

/*
 * Drive the responder sink the way the pipeline does: a uv loop, the shared HTTP client, a
 * configuration from YAML, init / send / close, with env->submit collecting the audit alerts
 * and env->deliver_to recording notify deliveries. Header-only.
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
#include "response/responder.h"
#include "standin.h"

struct rt {
	uv_loop_t loop;
	struct http_client *http;
	struct config *cfg;
	struct sink *sink;
	int done;
	enum sink_result last;
	json_t *audits; /* canonical JSON of every audit alert, in order */
	json_t *delivered; /* [[sink name, alert rule], ...] */
	const char *running_outputs; /* "slack,webhook": deliver_to succeeds for these */
	char path[160];
};

static inline int rt_submit(void *ctx, struct alert *a)
{
	struct rt *t = ctx;
	int err = alert_set_hostname(a, "test-node");

	if (!err)
		err = alert_freeze(a);
	if (!err)
		json_array_append_new(t->audits, json_loads(alert_json(a, NULL), 0, NULL));
	alert_unref(a);
	return err;
}

static inline int rt_deliver_to(void *ctx, struct alert *a, const char *name)
{
	struct rt *t = ctx;
	const char *o = t->running_outputs ? t->running_outputs : "";
	size_t n = strlen(name);

	for (const char *p = o; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n)) {
			json_array_append_new(t->delivered,
					      json_pack("[s, s]", name, alert_rule(a)));
			return 0;
		}
		p += len + (e ? 1 : 0);
	}
	return -ENOENT;
}

static inline void rt_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct rt *t = s->owner;

	(void)token;
	t->done++;
	t->last = st->result;
}

/* Write text to a file in dir; returns its path in t->path. */
static inline const char *rt_write(struct rt *t, const char *dir, const char *name,
				   const char *text)
{
	FILE *f;

	snprintf(t->path, sizeof(t->path), "%s/%s", dir, name);
	f = fopen(t->path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return t->path;
}

static inline int rt_start(struct rt *t, const char *yaml)
{
	struct sink_env env;
	int err;

	memset(t, 0, sizeof(*t));
	if (uv_loop_init(&t->loop))
		return -EIO;
	t->http = http_client_new(&t->loop);
	t->cfg = config_new();
	t->audits = json_array();
	t->delivered = json_array();
	if (!t->http || !t->cfg || !t->audits || !t->delivered)
		return -ENOMEM;
	err = config_declare(t->cfg, "response", responder_options);
	if (!err)
		err = config_load_buffer(t->cfg, "test.yaml", yaml, strlen(yaml));
	if (err)
		return err;
	t->sink = calloc(1, responder_sink_ops.size);
	if (!t->sink)
		return -ENOMEM;
	t->sink->ops = &responder_sink_ops;
	t->sink->name = "response";
	t->sink->loop = &t->loop;
	t->sink->done = rt_done;
	t->sink->owner = t;
	env = (struct sink_env){
		.loop = &t->loop,
		.http = t->http,
		.hostname = "test-node",
		.submit = rt_submit,
		.deliver_to = rt_deliver_to,
		.ctx = t,
	};
	err = responder_sink_ops.init(t->sink, t->cfg, &env);
	if (err) {
		free(t->sink);
		t->sink = NULL;
	}
	return err;
}

/* Run the loop until `done` sends completed (false after 20 s). */
static inline bool rt_wait(struct rt *t, int done)
{
	uint64_t end;

	uv_update_time(&t->loop);
	end = uv_now(&t->loop) + 20000;
	while (t->done < done && uv_now(&t->loop) < end) {
		uv_run(&t->loop, UV_RUN_ONCE);
		uv_update_time(&t->loop);
	}
	return t->done >= done;
}

/* A frozen alert; fields is "key", "value", ..., NULL. Caller unrefs. */
static inline struct alert *rt_alert(const char *rule, enum priority p, const char *source, ...)
{
	json_t *f = json_object();
	struct alert *a;
	const char *k;
	va_list ap;

	va_start(ap, source);
	while ((k = va_arg(ap, const char *)))
		json_object_set_new(f, k, json_string(va_arg(ap, const char *)));
	va_end(ap);
	a = alert_new(&(struct alert_init){ .rule = rule,
					    .priority = p,
					    .source = source,
					    .output = "12:00:00.000000000: Critical test",
					    .time_ns = 1746622234502309868,
					    .hostname = "test-node",
					    .output_fields = f });
	if (a && alert_freeze(a)) {
		alert_unref(a);
		a = NULL;
	}
	return a;
}

/* Send and wait for its completion: 0, or -1 on timeout, or send's -errno. */
static inline int rt_send(struct rt *t, struct alert *a)
{
	int before = t->done, err = responder_sink_ops.send(t->sink, a, NULL);

	if (!err && !rt_wait(t, before + 1))
		err = -1;
	alert_unref(a);
	return err;
}

/* The i-th audit alert's output field, or "". */
static inline const char *rt_audit(struct rt *t, size_t i, const char *field)
{
	const json_t *a = json_array_get(t->audits, i);
	const char *v;

	if (!strcmp(field, "rule") || !strcmp(field, "priority") || !strcmp(field, "source"))
		v = json_string_value(json_object_get(a, field));
	else
		v = json_string_value(json_object_get(json_object_get(a, "output_fields"), field));
	return v ? v : "";
}

static inline int rt_stop(struct rt *t)
{
	if (t->sink)
		responder_sink_ops.close(t->sink);
	http_client_free(t->http);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	free(t->sink);
	config_free(t->cfg);
	json_decref(t->audits);
	json_decref(t->delivered);
	responder_clear_rule_actions();
	return uv_loop_close(&t->loop);
}

#endif
