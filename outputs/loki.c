// SPDX-License-Identifier: Apache-2.0
/*
 * Grafana Loki push API (POST hostport + endpoint, default /loki/api/v1/push), streams as
 * Falcosidekick builds them (outputs/loki.go):
 *
 *	{"streams":[{"stream":{labels, sorted},"values":[["<ns since epoch>","<line>"], ...]}]}
 *
 * Batching is the pipeline's (loki.batch.size, loki.batch.wait) through send_batch: the alerts
 * of a batch with the same labels share one stream, their entries in time order. Loki answers
 * for the whole push, so every alert of a batch gets the same result.
 *
 * Labels: rule, priority, source, hostname, tags (joined by ","), k8s_ns_name / k8s_pod_name
 * when present, and the output fields listed in loki.extralabels under their sanitized names
 * ("proc.aname[2]" -> "proc_aname2"; numbers too, where Falcosidekick keeps strings only).
 * The line is the output (format text; the alert's text line when it has none) or the
 * alert's canonical JSON (format json). loki.tenant -> X-Scope-OrgID; loki.user + loki.apikey
 * -> basic auth.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

enum loki_format { LOKI_TEXT, LOKI_JSON };

static const char *const loki_formats[] = { "text", "json", NULL };

struct loki_settings {
	const char *hostport;
	const char *endpoint;
	const char *user;
	const char *apikey;
	const char *tenant;
	int format;
	struct config_strlist extralabels;
	struct config_map customheaders;
	struct chat_http http;
};

struct loki {
	struct sink base;
	struct loki_settings set;
	struct http_client *http;
	char *url;
	char *auth;
	struct http_header *headers;
	size_t n_headers;
	char **label_names; /* sanitized names of extralabels, same order */
};

#define LO(m) offsetof(struct loki_settings, m)

static const struct config_option loki_options[] = {
	{ "hostport", CONFIG_STRING, NULL, LO(hostport), 0, 0, NULL, NULL,
	  "Loki base URL, http://host:3100 (enables the output)" },
	{ "endpoint", CONFIG_STRING, "/loki/api/v1/push", LO(endpoint), 0, 0, NULL, NULL,
	  "push API path" },
	{ "user", CONFIG_STRING, NULL, LO(user), 0, 0, NULL, NULL, "basic auth user" },
	{ "apikey", CONFIG_STRING, NULL, LO(apikey), 0, 0, NULL, NULL,
	  "basic auth password / API key" },
	{ "tenant", CONFIG_STRING, NULL, LO(tenant), 0, 0, NULL, NULL,
	  "tenant, sent as X-Scope-OrgID" },
	{ "format", CONFIG_ENUM, "text", LO(format), 0, 0, loki_formats, NULL,
	  "log line: text (the output) or json (the alert)" },
	{ "extralabels", CONFIG_STRLIST, NULL, LO(extralabels), 0, 0, NULL, NULL,
	  "output fields added as labels (proc.name,k8s.pod.name)" },
	{ "customheaders", CONFIG_MAP, NULL, LO(customheaders), 0, 0, NULL, NULL,
	  "extra HTTP headers, name: value" },
	CHAT_HTTP_OPTIONS(struct loki_settings, http),
	{ NULL },
};

/* Set label name to the output field's value when it is a string or a number. */
static int label_from_field(json_t *labels, const char *name, const json_t *v)
{
	char *s;
	int err;

	if (!json_is_string(v) && !json_is_number(v))
		return 0;
	s = chat_value_string(v, "");
	if (!s)
		return -1;
	err = json_object_set_new(labels, name, json_string(s));
	free(s);
	return err;
}

static json_t *loki_labels(const struct loki *l, const struct alert *a)
{
	const json_t *of = alert_output_fields(a);
	json_t *labels = json_object(), *sorted = NULL;
	int err = 0;

	if (!labels)
		return NULL;
	err |= json_object_set_new(labels, "rule", json_string(alert_rule(a)));
	err |= json_object_set_new(labels, "source", json_string(alert_source(a)));
	err |= json_object_set_new(labels, "priority",
				   json_string(priority_name(alert_priority(a))));
	if (json_is_string(json_object_get(of, "k8s.ns.name")))
		err |= label_from_field(labels, "k8s_ns_name", json_object_get(of, "k8s.ns.name"));
	if (json_is_string(json_object_get(of, "k8s.pod.name")))
		err |= label_from_field(labels, "k8s_pod_name",
					json_object_get(of, "k8s.pod.name"));
	for (size_t i = 0; i < l->set.extralabels.n; i++)
		err |= label_from_field(labels, l->label_names[i],
					json_object_get(of, l->set.extralabels.v[i]));
	if (alert_hostname(a)[0])
		err |= json_object_set_new(labels, "hostname", json_string(alert_hostname(a)));
	/* Loki drops a label with an empty value; leave it out so the stream is what it sees. */
	{
		const char *k;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(labels, tmp, k, v) if (!json_string_length(v))
			json_object_del(labels, k);
	}
	if (json_array_size(alert_tags(a))) {
		char *tags = chat_join_tags(alert_tags(a), ",");

		err |= !tags || json_object_set_new(labels, "tags", json_string(tags));
		free(tags);
	}
	if (!err)
		sorted = chat_sorted_object(labels);
	json_decref(labels);
	return sorted;
}

/* The log line of an alert; *text receives what the caller frees. NULL on ENOMEM. */
static const char *loki_line(const struct loki *l, const struct alert *a, char **text)
{
	*text = NULL;
	if (l->set.format == LOKI_JSON)
		return alert_json(a, NULL);
	if (alert_output(a)[0])
		return alert_output(a);
	*text = alert_text(a);
	return *text;
}

static int by_time(const void *x, const void *y)
{
	int64_t a = alert_time_ns(*(struct alert *const *)x);
	int64_t b = alert_time_ns(*(struct alert *const *)y);

	return (a > b) - (a < b);
}

/* The push body of alerts[0..n): one stream per label set, entries in time order. */
static char *loki_body(const struct loki *l, struct alert *const *alerts, size_t n, size_t *len)
{
	json_t *root = json_object(), *streams = json_array(), *index = json_object();
	struct alert **sorted = malloc((n ? n : 1) * sizeof(*sorted));
	char *body = NULL;
	int err = !root || !streams || !index || !sorted;

	if (!err) {
		memcpy(sorted, alerts, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), by_time);
	}
	for (size_t i = 0; !err && i < n; i++) {
		json_t *labels = loki_labels(l, sorted[i]), *stream;
		char *key = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		char ns[32], *text;
		const char *line = loki_line(l, sorted[i], &text);

		snprintf(ns, sizeof(ns), "%" PRId64, alert_time_ns(sorted[i]));
		err = !labels || !key || !line;
		stream = err ? NULL : json_object_get(index, key);
		if (!err && !stream) {
			stream = json_pack("{s:O, s:[]}", "stream", labels, "values");
			err = !stream || json_array_append_new(streams, stream) ||
			      json_object_set(index, key, stream);
		}
		if (!err)
			err = json_array_append_new(json_object_get(stream, "values"),
						    json_pack("[s, s]", ns, line));
		free(text);
		free(key);
		json_decref(labels);
	}
	if (!err)
		err = json_object_set(root, "streams", streams);
	if (!err)
		body = chat_json_dumps(root, len);
	free(sorted);
	json_decref(index);
	json_decref(streams);
	json_decref(root);
	return body;
}

static void loki_release(struct loki *l)
{
	if (l->label_names)
		for (size_t i = 0; i < l->set.extralabels.n; i++)
			free(l->label_names[i]);
	free(l->label_names);
	l->label_names = NULL;
	free(l->headers);
	l->headers = NULL;
	free(l->auth);
	l->auth = NULL;
	free(l->url);
	l->url = NULL;
}

static int loki_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct loki *l = (struct loki *)s;
	struct http_header extra[2];
	int err;

	l->http = env->http;
	err = config_bind(cfg, "loki", loki_options, &l->set);
	if (!err)
		err = chat_check_url("loki.hostport", l->set.hostport);
	if (!err)
		err = chat_http_init(&l->set.http, "loki", cfg);
	if (!err && l->set.tenant && !http_header_valid("X-Scope-OrgID", l->set.tenant)) {
		log_error("loki.tenant: a line break is not allowed");
		err = -EINVAL;
	}
	if (err)
		return err;
	err = -ENOMEM;
	l->url = chat_join_url(l->set.hostport, l->set.endpoint);
	if (!l->url)
		goto fail;
	if (l->set.user && l->set.apikey) {
		l->auth = chat_basic_auth(l->set.user, l->set.apikey);
		if (!l->auth)
			goto fail;
	} else if (l->set.user || l->set.apikey) {
		log_warn("loki: basic auth needs both loki.user and loki.apikey; sending none");
	}
	extra[0] = (struct http_header){ "X-Scope-OrgID", l->set.tenant };
	extra[1] = (struct http_header){ "Authorization", l->auth };
	l->headers =
		chat_headers(&l->set.customheaders, "application/json", extra, 2, &l->n_headers);
	if (!l->headers) {
		err = -errno;
		goto fail;
	}
	l->label_names = calloc(l->set.extralabels.n + 1, sizeof(*l->label_names));
	if (!l->label_names)
		goto fail;
	for (size_t i = 0; i < l->set.extralabels.n; i++) {
		l->label_names[i] = chat_label_name(l->set.extralabels.v[i]);
		if (!l->label_names[i])
			goto fail;
	}
	return 0;
fail:
	loki_release(l);
	return err;
}

/* One push in flight: the tokens it answers for. */
struct loki_push {
	struct loki *l;
	size_t n;
	void *tokens[];
};

static void loki_done(void *data, const struct http_response *resp)
{
	struct loki_push *lp = data;
	struct sink_status st;

	http_response_status(resp, &st);
	for (size_t i = 0; i < lp->n; i++)
		sink_done(&lp->l->base, lp->tokens[i], &st);
	free(lp);
}

static int loki_send_batch(struct sink *s, struct alert *const *alerts, void *const *tokens,
			   size_t n)
{
	struct loki *l = (struct loki *)s;
	struct http_request req = {
		.method = "POST",
		.url = l->url,
		.headers = l->headers,
		.n_headers = l->n_headers,
	};
	struct loki_push *lp;
	size_t len;
	char *body;
	int err;

	if (!l->url)
		return -ESHUTDOWN;
	lp = malloc(sizeof(*lp) + n * sizeof(lp->tokens[0]));
	body = lp ? loki_body(l, alerts, n, &len) : NULL;
	if (!body) {
		free(lp);
		return -ENOMEM;
	}
	lp->l = l;
	lp->n = n;
	memcpy(lp->tokens, tokens, n * sizeof(lp->tokens[0]));
	chat_http_apply(&l->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = http_client_request(l->http, &req, loki_done, lp);
	free(body);
	if (err)
		free(lp);
	return err;
}

static int loki_send(struct sink *s, struct alert *a, void *token)
{
	return loki_send_batch(s, &a, &token, 1);
}

static void loki_close(struct sink *s)
{
	loki_release((struct loki *)s);
}

const struct sink_ops loki_sink_ops = {
	.name = "loki",
	.size = sizeof(struct loki),
	.options = loki_options,
	.enable_key = "loki.hostport",
	.init = loki_init,
	.send = loki_send,
	.send_batch = loki_send_batch,
	.close = loki_close,
};
