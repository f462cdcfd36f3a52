// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "config/log.h"
#include "gateway/audit_route.h"
#include "gateway/gateway.h"
#include "gateway/http_server.h"
#include "gateway/k8s_audit.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "outputs/alert.h"
#include "rules/rules.h"

/* The route's state: one gateway per process, so one route. */
static struct audit_route {
	struct gateway *g;
	struct metric *m_events; /* lanner_k8s_audit_events_total{status} */
	struct metric *m_requests; /* lanner_k8s_audit_requests_total{status} */
} route;

/* What one request did, reported in the 200 body. */
struct audit_req {
	struct rules_eval *ev;
	int src;
	unsigned long events, invalid, alerts, rejected;
	int first_invalid; /* index of the first item that is not an Event, -1 */
	int index;
};

static void count(struct metric *m, const char *status)
{
	const char *labels[] = { status };

	metric_add(m, labels, 1);
}

/* Answer an error: "what: detail\n" as text. */
static void reply_error(struct http_req *req, int status, const char *req_status, const char *what,
			const char *detail)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s%s%s\n", what, *detail ? ": " : "", detail);

	count(route.m_requests, req_status);
	http_reply(req, status, "text/plain; charset=utf-8", msg,
		   n < 0		   ? 0 :
		   (size_t)n < sizeof(msg) ? (size_t)n :
					     sizeof(msg) - 1);
}

static json_t *rule_tags(const struct rule *rule)
{
	json_t *tags = json_array();

	for (size_t i = 0; tags && i < rule_tag_count(rule); i++) {
		if (json_array_append_new(tags, json_string(rule_tag(rule, i)))) {
			json_decref(tags);
			return NULL;
		}
	}
	return tags;
}

/* A rule matched an audit event: build the alert as the detector does and submit it. */
static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	struct audit_req *ar = ctx;
	int64_t t = k8s_audit_event_time(event);
	struct alert_init init = { 0 };
	struct alert *a = NULL;
	char *text = NULL, *output = NULL;
	json_t *fields = NULL;

	if (rules_format(ar->ev, rule, event, &text, &fields))
		goto fail;
	output = alert_compose_output(t, rule_priority(rule), text);
	if (!output)
		goto fail;
	init.rule = rule_name(rule);
	init.priority = rule_priority(rule);
	init.source = rule_source(rule);
	init.output = output;
	init.time_ns = t;
	init.output_fields = fields; /* stolen */
	init.tags = rule_tags(rule); /* stolen */
	fields = NULL;
	a = alert_new(&init);
	if (!a)
		goto fail;
	if (pipeline_submit(route.g->pipeline, a)) /* releases a either way */
		goto fail_counted;
	ar->alerts++;
	goto out;
fail:
	alert_unref(a);
fail_counted:
	ar->rejected++;
out:
	json_decref(fields);
	free(output);
	free(text);
}

static void on_item(void *ctx, const json_t *item, int is_event)
{
	struct audit_req *ar = ctx;

	if (!is_event) {
		if (ar->first_invalid < 0)
			ar->first_invalid = ar->index;
		ar->index++;
		ar->invalid++;
		count(route.m_events, "invalid");
		return;
	}
	ar->index++;
	ar->events++;
	count(route.m_events, "evaluated");
	if (ar->ev && ar->src >= 0)
		rules_eval(ar->ev, ar->src, item, on_match, ar);
}

/*
 * Inflate a gzip (or zlib) body into *out, at most limit bytes. 0, -EFBIG beyond the limit,
 * -EINVAL for a corrupt or truncated stream (msg says why), -ENOMEM.
 */
static int inflate_body(const char *in, size_t len, size_t limit, char **out, size_t *out_len,
			const char **msg)
{
	z_stream zs = { 0 };
	size_t cap = len * 4 < 65536 ? 65536 : len * 4;
	char *buf = NULL;
	int zr, err = 0;

	*msg = NULL;
	if (cap > limit + 1)
		cap = limit + 1;
	if (inflateInit2(&zs, 15 + 32) != Z_OK) /* gzip or zlib header, detected */
		return -ENOMEM;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		if (zs.total_out == cap) {
			char *nb;

			if (cap > limit) {
				err = -EFBIG;
				goto out;
			}
			cap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		zs.next_out = (Bytef *)buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && zs.avail_out) {
			*msg = "truncated compressed body";
			err = -EINVAL;
			goto out;
		}
		if (zr == Z_BUF_ERROR)
			continue;
		if (zr == Z_MEM_ERROR) {
			err = -ENOMEM;
			goto out;
		}
		*msg = zs.msg ? zs.msg : "corrupt compressed body";
		err = -EINVAL;
		goto out;
	}
	if (zs.total_out > limit) {
		err = -EFBIG;
		goto out;
	}
	*out = buf;
	*out_len = zs.total_out;
	buf = NULL;
out:
	inflateEnd(&zs);
	free(buf);
	return err;
}

static size_t decompressed_limit(const struct gateway *g)
{
	uint64_t body = g->set.max_body ? g->set.max_body : 1024 * 1024;

	return (size_t)body * AUDIT_ROUTE_INFLATE_FACTOR;
}

/* POST /k8s-audit: an EventList or one Event from an API server's audit webhook. */
static void on_audit(void *data, struct http_req *req)
{
	struct gateway *g = data;
	struct audit_req ar = { .src = -1, .first_invalid = -1 };
	const char *body, *enc, *zmsg;
	char *inflated = NULL, limit_text[32], reply[256];
	size_t len, elen, ilen;
	json_error_t jerr;
	json_t *doc = NULL;
	int n;

	body = http_req_body(req, &len);
	enc = http_req_header(req, "content-encoding", &elen);
	if (enc && elen && !(elen == 8 && !strncasecmp(enc, "identity", 8))) {
		int err;

		if (!(elen == 4 && !strncasecmp(enc, "gzip", 4)) &&
		    !(elen == 7 && !strncasecmp(enc, "deflate", 7))) {
			reply_error(req, 415, "unsupported_encoding",
				    "unsupported Content-Encoding (gzip, deflate or identity)", "");
			return;
		}
		err = inflate_body(body, len, decompressed_limit(g), &inflated, &ilen, &zmsg);
		if (err == -EFBIG) {
			snprintf(limit_text, sizeof(limit_text), "%zu", decompressed_limit(g));
			reply_error(req, 413, "too_large",
				    "decompressed body exceeds the limit (bytes)", limit_text);
			return;
		}
		if (err == -EINVAL) {
			reply_error(req, 400, "invalid", "invalid compressed body", zmsg);
			return;
		}
		if (err) {
			reply_error(req, 500, "error", "out of memory", "");
			return;
		}
		body = inflated;
		len = ilen;
	}
	doc = json_loadb(body ? body : "", body ? len : 0, 0, &jerr);
	if (!doc) {
		char detail[256];

		snprintf(detail, sizeof(detail), "line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		reply_error(req, 400, "invalid", "invalid JSON", detail);
		goto out;
	}
	if (g->rules) {
		ar.src = rules_source_index(g->rules, "k8s_audit");
		/* one evaluator per request: the rules may be swapped by SIGHUP between requests */
		ar.ev = ar.src >= 0 ? rules_eval_new(g->rules) : NULL;
		if (ar.src >= 0 && !ar.ev) {
			reply_error(req, 500, "error", "out of memory", "");
			goto out;
		}
	}
	if (k8s_audit_for_each(doc, on_item, &ar) < 0) {
		reply_error(req, 400, "invalid",
			    "not an audit.k8s.io EventList or Event (kind EventList with items, "
			    "or an object with auditID)",
			    "");
		goto out;
	}
	if (ar.invalid)
		log_warn("POST /k8s-audit from %s: %lu of %lu item(s) are not audit Events "
			 "(first: item %d)",
			 http_req_peer(req), ar.invalid, ar.invalid + ar.events, ar.first_invalid);
	if (ar.rejected)
		log_warn("POST /k8s-audit: %lu alert(s) not accepted by the pipeline", ar.rejected);
	count(route.m_requests, "accepted");
	n = snprintf(reply, sizeof(reply),
		     "{\"events\":%lu,\"invalid\":%lu,\"alerts\":%lu,\"rejected\":%lu}\n",
		     ar.events, ar.invalid, ar.alerts, ar.rejected);
	http_reply(req, 200, "application/json", reply, (size_t)n);
out:
	rules_eval_free(ar.ev);
	json_decref(doc);
	free(inflated);
}

int audit_route_register(struct gateway *g)
{
	static const char *const status_label[] = { "status" };

	route.g = g;
	route.m_events =
		metrics_counter(g->metrics, "lanner_k8s_audit_events_total",
				"Kubernetes audit events received on /k8s-audit, by status "
				"(evaluated, invalid)",
				status_label, 1);
	route.m_requests =
		metrics_counter(g->metrics, "lanner_k8s_audit_requests_total",
				"POST /k8s-audit requests, by status (accepted, invalid, "
				"too_large, unsupported_encoding, error)",
				status_label, 1);
	if (!route.m_events || !route.m_requests)
		return -ENOMEM;
	return http_server_route(g->http, "POST", "/k8s-audit", on_audit, g);
}
