// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/log.h"
#include "gateway/audit_route.h"
#include "gateway/gateway.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "outputs/alert.h"

static void count_input(struct gateway *g, const char *source, const char *status)
{
	const char *labels[] = { source, status };

	metric_add(g->m_inputs, labels, 1);
}

static void reply_text(struct http_req *req, int status, const char *msg)
{
	http_reply(req, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

struct accept_ctx {
	struct gateway *g;
	struct http_req *req;
	const char *source;
	char uuid[ALERT_UUID_LEN + 1];
};

/* The alert is durable (spooled, or queued in memory mode): answer 200 with its uuid. */
static void on_accepted(void *data, int err)
{
	struct accept_ctx *c = data;
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"uuid\":\"%s\"}\n", c->uuid);

	count_input(c->g, c->source, "accepted");
	http_reply(c->req, 200, "application/json", body, (size_t)n);
	free(c);
}

/* Hand a parsed alert to the pipeline; the answer comes once it is safely accepted. */
static void accept_alert(struct gateway *g, struct http_req *req, struct alert *a,
			 const char *source)
{
	struct accept_ctx *c = malloc(sizeof(*c));
	int err;

	if (!c) {
		alert_unref(a);
		count_input(g, source, "rejected");
		reply_text(req, 500, "alert not accepted: out of memory\n");
		return;
	}
	c->g = g;
	c->req = req;
	c->source = source;
	memcpy(c->uuid, alert_uuid(a), sizeof(c->uuid));
	err = pipeline_submit_cb(g->pipeline, a, on_accepted, c);
	if (err) {
		free(c);
		count_input(g, source, "rejected");
		if (err == -ESHUTDOWN)
			reply_text(req, 503, "lanner is shutting down\n");
		else
			reply_text(req, 500, "alert not accepted: out of memory\n");
	}
}

/*
 * A JSON-lines body (Content-Type application/x-ndjson or application/jsonl): many alerts in
 * one request, all or nothing. Every line is validated first; one bad line rejects the request
 * with its line number and nothing is accepted. The answer comes once all are durable:
 * {"accepted": N}. Only shutdown or memory exhaustion can stop a batch halfway; the answer
 * then says how many of the first lines were accepted.
 */
struct batch_ctx {
	struct gateway *g;
	struct http_req *req;
	size_t n, submitted, done;
	bool closed; /* every alert submitted (or submission stopped) */
	int err;
};

static void batch_reply(struct batch_ctx *b)
{
	char body[160];
	int n;

	if (b->err) {
		n = snprintf(body, sizeof(body),
			     "{\"accepted\":%zu,\"error\":\"%s: lines after %zu not accepted\"}\n",
			     b->submitted,
			     b->err == -ESHUTDOWN ? "lanner is shutting down" : "out of memory",
			     b->submitted);
		http_reply(b->req, b->err == -ESHUTDOWN ? 503 : 500, "application/json", body,
			   (size_t)n);
	} else {
		n = snprintf(body, sizeof(body), "{\"accepted\":%zu}\n", b->submitted);
		http_reply(b->req, 200, "application/json", body, (size_t)n);
	}
	free(b);
}

static void on_batch_accepted(void *data, int err)
{
	struct batch_ctx *b = data;

	count_input(b->g, "requests", "accepted");
	if (++b->done == b->submitted && b->closed)
		batch_reply(b);
}

static bool is_jsonl(struct http_req *req)
{
	size_t len;
	const char *ct = http_req_header(req, "content-type", &len);

	if (!ct)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (ct[i] == ';' || ct[i] == ' ') {
			len = i;
			break;
		}
	}
	return (len == 20 && !strncasecmp(ct, "application/x-ndjson", len)) ||
	       (len == 17 && !strncasecmp(ct, "application/jsonl", len)) ||
	       (len == 18 && !strncasecmp(ct, "application/x-jsonl", len));
}

static void on_ingest_lines(struct gateway *g, struct http_req *req, const char *body, size_t len)
{
	struct alert **v = NULL;
	struct batch_ctx *b;
	size_t n = 0, cap = 0, line = 0;
	struct alert_error err;
	char msg[400];

	for (size_t off = 0; off < len;) {
		const char *nl = memchr(body + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - body) : len, l = end - off;
		const char *p = body + off;
		struct alert *a;

		line++;
		off = end + 1;
		while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (!l)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct alert **nv = realloc(v, nc * sizeof(*nv));

			if (!nv) {
				snprintf(msg, sizeof(msg), "out of memory\n");
				errno = ENOMEM;
				goto reject;
			}
			v = nv;
			cap = nc;
		}
		a = alert_parse(p, l, &err);
		if (!a) {
			snprintf(msg, sizeof(msg), "line %zu: %s\n", line, err.msg);
			goto reject;
		}
		v[n++] = a;
	}
	if (!n) {
		snprintf(msg, sizeof(msg),
			 "empty body: expected Falco JSON alerts, one per line\n");
		errno = EINVAL;
		goto reject;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(msg, sizeof(msg), "out of memory\n");
		errno = ENOMEM;
		goto reject;
	}
	b->g = g;
	b->req = req;
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		int e = b->err ? b->err :
				 pipeline_submit_cb(g->pipeline, v[i], on_batch_accepted, b);

		if (e) {
			/* pipeline_submit_cb took the alert even when it failed */
			b->err = e;
			count_input(g, "requests", "rejected");
			continue;
		}
		b->submitted++;
	}
	free(v);
	b->closed = true;
	if (b->done == b->submitted)
		batch_reply(b);
	return;
reject:
	for (size_t i = 0; i < n; i++)
		alert_unref(v[i]);
	free(v);
	count_input(g, "requests", "rejected");
	reply_text(req, errno == ENOMEM ? 500 : 400, msg);
	log_debug("POST / (JSON lines) from %s rejected: %s", http_req_peer(req), msg);
}

/* POST /: one Falco JSON alert, validated as Falcosidekick does (or JSON lines, above). */
static void on_ingest(void *data, struct http_req *req)
{
	struct gateway *g = data;
	struct alert_error err;
	struct alert *a;
	const char *body;
	char msg[320];
	size_t len;

	body = http_req_body(req, &len);
	if (is_jsonl(req)) {
		on_ingest_lines(g, req, body, len);
		return;
	}
	if (!len) {
		count_input(g, "requests", "rejected");
		reply_text(req, 400, "empty body: expected one Falco JSON alert\n");
		return;
	}
	a = alert_parse(body, len, &err);
	if (!a) {
		count_input(g, "requests", "rejected");
		snprintf(msg, sizeof(msg), "%s\n", err.msg);
		reply_text(req, errno == ENOMEM ? 500 : 400, msg);
		log_debug("POST / from %s rejected: %s", http_req_peer(req), err.msg);
		return;
	}
	accept_alert(g, req, a, "requests");
}

/* POST /test: Falcosidekick's test alert; it bypasses every sink's minimumpriority. */
static void on_test(void *data, struct http_req *req)
{
	struct gateway *g = data;
	struct timespec ts;
	struct alert *a;
	json_t *tags = json_pack("[s, s]", "test", "example");
	json_t *fields = json_pack("{s:s, s:s}", "proc.name", "lanner", "user.name", "lanner");
	struct alert_init init = {
		.rule = "Test rule",
		.priority = PRIORITY_DEBUG,
		.source = "internal",
		.output = "This is a test from lanner",
		.output_fields = fields,
		.tags = tags,
		.test = true,
	};

	clock_gettime(CLOCK_REALTIME, &ts);
	init.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	a = alert_new(&init);
	if (!a) {
		count_input(g, "test", "rejected");
		reply_text(req, 500, "out of memory\n");
		return;
	}
	accept_alert(g, req, a, "test");
}

static void on_healthz(void *data, struct http_req *req)
{
	static const char body[] = "{\"status\": \"ok\"}";

	http_reply(req, 200, "application/json", body, sizeof(body) - 1);
}

static void on_ping(void *data, struct http_req *req)
{
	reply_text(req, 200, "pong\n");
}

static void on_metrics(void *data, struct http_req *req)
{
	struct gateway *g = data;
	size_t len;
	char *text = metrics_render(g->metrics, &len);

	if (!text) {
		reply_text(req, 500, "out of memory\n");
		return;
	}
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

int routes_register(struct gateway *g)
{
	static const struct {
		const char *method, *path;
		http_handler_fn fn;
	} routes[] = {
		{ "POST", "/", on_ingest },	   { "POST", "/test", on_test },
		{ "GET", "/healthz", on_healthz }, { "GET", "/ping", on_ping },
		{ "GET", "/metrics", on_metrics },
	};
	static const char *const input_labels[] = { "source", "status" };

	g->m_inputs = metrics_counter(g->metrics, "falcosecurity_falcosidekick_inputs_total",
				      "Alerts received, by input and result", input_labels, 2);
	if (!g->m_inputs)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int err = http_server_route(g->http, routes[i].method, routes[i].path, routes[i].fn,
					    g);

		if (err)
			return err;
	}
	/* POST /k8s-audit: the API server's audit webhook. */
	return audit_route_register(g);
}
