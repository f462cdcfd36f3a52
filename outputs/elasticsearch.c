// SPDX-License-Identifier: Apache-2.0
/*
 * Elasticsearch / OpenSearch bulk API (POST hostport/_bulk, NDJSON). Each alert becomes
 *
 *	{"create":{"_index":"falco-2025.05.07","_id":"<uuid>"}}
 *	{...the alert's canonical JSON...,"@timestamp":"<time>"}
 *
 * The index is elasticsearch.index formatted by strftime with the event's UTC time when it has a
 * '%' ("falco-%Y.%m.%d"), else elasticsearch.index plus a date suffix (elasticsearch.suffix:
 * daily "-2025.05.07", monthly "-2025.05", annually "-2025", none); Falcosidekick dates it by
 * the wall clock at sending instead. The alert's uuid as _id makes a retried alert idempotent:
 * a copy that already made it comes back 409 and counts as delivered.
 *
 * Batching is the pipeline's (elasticsearch.batch.size alerts, or what came within
 * elasticsearch.batch.wait) through send_batch; a batch whose body would pass
 * elasticsearch.batch.maxbytes is split into several bulk requests. The bulk answer is mapped
 * per alert: 200/201/409 OK, 429 and 5xx RETRY (only those alerts go again), any other item
 * error FAIL; a failed request (or an unreadable answer) applies to every alert it carried.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

enum es_suffix { ES_DAILY, ES_MONTHLY, ES_ANNUALLY, ES_NONE };

static const char *const es_suffixes[] = { "daily", "monthly", "annually", "none", NULL };

struct es_settings {
	const char *hostport;
	const char *index;
	int suffix;
	const char *username;
	const char *password;
	const char *apikey;
	const char *pipeline;
	bool flattenfields;
	uint64_t maxbytes;
	struct config_map customheaders;
	struct chat_http http;
};

/* One alert waiting in a batch. */
struct es_item {
	void *token;
	char *lines; /* action + document, each ending in '\n' */
	size_t len;
};

/* A bulk request in flight. */
struct es_batch {
	struct elasticsearch *es;
	struct es_item *items;
	size_t n;
};

struct elasticsearch {
	struct sink base;
	struct es_settings set;
	struct http_client *http;
	char *url;
	char *auth;
	struct http_header *headers;
	size_t n_headers;
	bool closed;
};

#define EO(m) offsetof(struct es_settings, m)

static const struct config_option es_options[] = {
	{ "hostport", CONFIG_STRING, NULL, EO(hostport), 0, 0, NULL, NULL,
	  "Elasticsearch base URL, http://host:9200 (enables the output)" },
	{ "index", CONFIG_STRING, "falco", EO(index), 0, 0, NULL, NULL,
	  "index name; with a '%' a strftime pattern of the event time, UTC (falco-%Y.%m.%d)" },
	{ "suffix", CONFIG_ENUM, "daily", EO(suffix), 0, 0, es_suffixes, NULL,
	  "date suffix of an index without '%', from the event time (UTC): daily, monthly, "
	  "annually, none" },
	{ "username", CONFIG_STRING, NULL, EO(username), 0, 0, NULL, NULL, "basic auth user" },
	{ "password", CONFIG_STRING, NULL, EO(password), 0, 0, NULL, NULL, "basic auth password" },
	{ "apikey", CONFIG_STRING, NULL, EO(apikey), 0, 0, NULL, NULL,
	  "API key (Authorization: ApiKey ...)" },
	{ "pipeline", CONFIG_STRING, NULL, EO(pipeline), 0, 0, NULL, NULL,
	  "ingest pipeline to run on the documents" },
	{ "flattenfields", CONFIG_BOOL, "false", EO(flattenfields), 0, 0, NULL, NULL,
	  "write output field names with '_' for '.' (avoids mapping conflicts)" },
	{ "batch.maxbytes", CONFIG_SIZE, "5MiB", EO(maxbytes), 1024, 1073741824, NULL, NULL,
	  "largest bulk request body: a bigger batch is split" },
	{ "customheaders", CONFIG_MAP, NULL, EO(customheaders), 0, 0, NULL, NULL,
	  "extra HTTP headers, name: value" },
	CHAT_HTTP_OPTIONS(struct es_settings, http),
	{ NULL },
};

static void es_index_name(const struct es_settings *set, int64_t time_ns, char *buf, size_t len)
{
	time_t t = (time_t)(time_ns / 1000000000 - (time_ns % 1000000000 < 0));
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strchr(set->index, '%')) {
		/* The user's pattern: strftime reads no arguments, so any text is safe. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (!strftime(buf, len, set->index, &tm))
			snprintf(buf, len, "%s", set->index);
#pragma GCC diagnostic pop
		return;
	}
	switch (set->suffix) {
	case ES_DAILY:
		snprintf(buf, len, "%s-%04d.%02d.%02d", set->index, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday);
		break;
	case ES_MONTHLY:
		snprintf(buf, len, "%s-%04d.%02d", set->index, tm.tm_year + 1900, tm.tm_mon + 1);
		break;
	case ES_ANNUALLY:
		snprintf(buf, len, "%s-%04d", set->index, tm.tm_year + 1900);
		break;
	default:
		snprintf(buf, len, "%s", set->index);
		break;
	}
}

/* The document: the alert's JSON plus @timestamp (output field names flattened if asked). */
static char *es_document(const struct es_settings *set, const struct alert *a)
{
	size_t len;
	const char *json = alert_json(a, &len);
	char *doc = NULL;

	if (set->flattenfields) {
		json_t *j = json_loadb(json, len, 0, NULL), *flat = json_object(), *v;
		json_t *of = json_object_get(j, "output_fields");
		const char *k;
		int err = !j || !flat || !json_is_object(of);

		json_object_foreach(of, k, v) {
			char *name = strdup(k);

			for (char *p = name; p && *p; p++)
				if (*p == '.')
					*p = '_';
			err |= !name || json_object_set(flat, name, v);
			free(name);
		}
		if (!err)
			err = json_object_set(j, "output_fields", flat) ||
			      json_object_set_new(j, "@timestamp", json_string(alert_time_str(a)));
		if (!err)
			doc = json_dumps(j, JSON_COMPACT);
		json_decref(flat);
		json_decref(j);
		return doc;
	}
	/* Canonical JSON ends in '}': splice the timestamp in. */
	doc = malloc(len + 64);
	if (doc)
		snprintf(doc, len + 64, "%.*s,\"@timestamp\":\"%s\"}", (int)(len - 1), json,
			 alert_time_str(a));
	return doc;
}

static int es_item_lines(const struct elasticsearch *es, const struct alert *a, struct es_item *it)
{
	char index[512];
	json_t *action;
	char *act, *doc;
	size_t al, dl;

	es_index_name(&es->set, alert_time_ns(a), index, sizeof(index));
	action = json_pack("{s:{s:s, s:s}}", "create", "_index", index, "_id", alert_uuid(a));
	act = action ? json_dumps(action, JSON_COMPACT) : NULL;
	json_decref(action);
	doc = es_document(&es->set, a);
	if (!act || !doc) {
		free(act);
		free(doc);
		return -ENOMEM;
	}
	al = strlen(act);
	dl = strlen(doc);
	it->lines = malloc(al + dl + 3);
	if (it->lines) {
		memcpy(it->lines, act, al);
		it->lines[al] = '\n';
		memcpy(it->lines + al + 1, doc, dl);
		it->lines[al + 1 + dl] = '\n';
		it->lines[al + dl + 2] = '\0';
		it->len = al + dl + 2;
	}
	free(act);
	free(doc);
	return it->lines ? 0 : -ENOMEM;
}

static void es_complete(struct elasticsearch *es, struct es_item *it, const struct sink_status *st)
{
	free(it->lines);
	it->lines = NULL;
	sink_done(&es->base, it->token, st);
}

static const char *json_str(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Map the bulk answer onto the batch's alerts. */
static void es_bulk_result(struct es_batch *b, const struct http_response *resp)
{
	struct elasticsearch *es = b->es;
	struct sink_status st;
	json_t *root = NULL, *items;

	http_response_status(resp, &st);
	if (st.result == SINK_OK) {
		root = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, NULL);
		items = json_object_get(root, "items");
		/* Unreadable: retry them all, the uuid _ids make that idempotent. */
		if (!json_is_array(items) || json_array_size(items) != b->n) {
			sink_status_set(&st, SINK_RETRY, "bulk answer unreadable (%zu items sent)",
					b->n);
			items = NULL;
		}
		for (size_t i = 0; items && i < b->n; i++) {
			json_t *item = json_object_get(json_array_get(items, i), "create");
			json_int_t code = json_integer_value(json_object_get(item, "status"));
			json_t *e = json_object_get(item, "error");
			struct sink_status ist;

			if (code == 200 || code == 201)
				sink_status_set(&ist, SINK_OK, "HTTP %d", (int)code);
			else if (code == 409)
				sink_status_set(&ist, SINK_OK, "already indexed");
			else
				sink_status_set(&ist,
						code == 429 || code >= 500 ? SINK_RETRY : SINK_FAIL,
						"HTTP %d %s: %s", (int)code,
						json_str(json_object_get(e, "type")),
						json_str(json_object_get(e, "reason")));
			es_complete(es, &b->items[i], &ist);
		}
		json_decref(root);
		if (items)
			return;
	}
	for (size_t i = 0; i < b->n; i++)
		es_complete(es, &b->items[i], &st);
}

static void es_bulk_done(void *data, const struct http_response *resp)
{
	struct es_batch *b = data;

	es_bulk_result(b, resp);
	free(b->items);
	free(b);
}

/* One bulk request for items[0..n) (taken over); 0 or -errno (items untouched). */
static int es_post(struct elasticsearch *es, struct es_item *items, size_t n)
{
	struct http_request req = {
		.method = "POST",
		.url = es->url,
		.headers = es->headers,
		.n_headers = es->n_headers,
	};
	struct es_batch *b = malloc(sizeof(*b));
	size_t len = 0, off = 0;
	char *body;
	int err;

	for (size_t i = 0; i < n; i++)
		len += items[i].len;
	body = b ? malloc(len + 1) : NULL;
	if (!body) {
		free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(body + off, items[i].lines, items[i].len);
		off += items[i].len;
	}
	b->es = es;
	b->items = items;
	b->n = n;
	chat_http_apply(&es->set.http, &req);
	req.body = body;
	req.body_len = off;
	err = http_client_request(es->http, &req, es_bulk_done, b);
	free(body);
	if (err)
		free(b);
	return err;
}

static int es_send_batch(struct sink *s, struct alert *const *alerts, void *const *tokens, size_t n)
{
	struct elasticsearch *es = (struct elasticsearch *)s;
	struct es_item *items;
	size_t start = 0, bytes = 0, sent = 0;
	struct sink_status st;
	int err = 0;

	if (es->closed)
		return -ESHUTDOWN;
	items = calloc(n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		items[i].token = tokens[i];
		err = es_item_lines(es, alerts[i], &items[i]);
	}
	if (err) {
		for (size_t i = 0; i < n; i++)
			free(items[i].lines);
		free(items);
		return err;
	}
	/* Split where the body would pass batch.maxbytes (an alert alone may). */
	for (size_t i = 0; i <= n; i++) {
		struct es_item *part;

		if (i < n && (i == start || bytes + items[i].len <= es->set.maxbytes)) {
			bytes += items[i].len;
			continue;
		}
		part = malloc((i - start) * sizeof(*part));
		err = part ? 0 : -ENOMEM;
		if (part) {
			memcpy(part, items + start, (i - start) * sizeof(*part));
			err = es_post(es, part, i - start);
			if (err)
				free(part);
		}
		if (err) {
			/* Once a request left, the rest must report through sink_done too. */
			if (!sent)
				break;
			sink_status_set(&st, SINK_RETRY, "bulk request: %s", strerror(-err));
			for (size_t k = start; k < i; k++)
				es_complete(es, &items[k], &st);
		}
		sent += i - start;
		start = i;
		bytes = i < n ? items[i].len : 0;
	}
	if (err && !sent) {
		for (size_t i = 0; i < n; i++)
			free(items[i].lines);
		free(items);
		return err;
	}
	free(items);
	return 0;
}

static int es_send(struct sink *s, struct alert *a, void *token)
{
	return es_send_batch(s, &a, &token, 1);
}

static void es_release(struct elasticsearch *es)
{
	free(es->url);
	es->url = NULL;
	free(es->auth);
	es->auth = NULL;
	free(es->headers);
	es->headers = NULL;
}

/* Percent-encode everything but RFC 3986 unreserved characters (as curl_easy_escape does). */
static char *es_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static char *es_build_url(const char *host, const char *pipeline)
{
	static const char filter[] =
		"filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason";
	char *pipe = NULL, *path, *url;
	size_t n;

	if (pipeline) {
		pipe = es_escape(pipeline);
		if (!pipe)
			return NULL;
	}
	n = sizeof(filter) + (pipe ? strlen(pipe) + 16 : 0) + 16;
	path = malloc(n);
	if (path)
		snprintf(path, n, "/_bulk?%s%s%s", filter, pipe ? "&pipeline=" : "",
			 pipe ? pipe : "");
	url = path ? chat_join_url(host, path) : NULL;
	free(path);
	free(pipe);
	return url;
}

static int es_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct elasticsearch *es = (struct elasticsearch *)s;
	struct http_header extra[1];
	char *apikey = NULL;
	int err;

	es->http = env->http;
	err = config_bind(cfg, "elasticsearch", es_options, &es->set);
	if (!err)
		err = chat_check_url("elasticsearch.hostport", es->set.hostport);
	if (!err)
		err = chat_http_init(&es->set.http, "elasticsearch", cfg);
	if (!err && !es->set.index) {
		log_error("elasticsearch.index: empty");
		err = -EINVAL;
	}
	if (!err) {
		char name[512];

		/* Elasticsearch refuses such names with a 400 for every alert: say it now. */
		es_index_name(&es->set, 0, name, sizeof(name));
		if (name[strcspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ \\/*?\"<>|,#:")] ||
		    name[0] == '-' || name[0] == '_' || name[0] == '+') {
			log_error("elasticsearch.index: '%s' gives index '%s', which Elasticsearch "
				  "refuses (lower case, none of \\/*?\"<>|,#: or space, not "
				  "starting with - _ +)",
				  es->set.index, name);
			err = -EINVAL;
		}
	}
	if (err)
		return err;
	err = -ENOMEM;
	es->url = es_build_url(es->set.hostport, es->set.pipeline);
	if (!es->url)
		goto fail;
	if (es->set.apikey) {
		apikey = malloc(strlen(es->set.apikey) + 8);
		if (!apikey)
			goto fail;
		sprintf(apikey, "ApiKey %s", es->set.apikey);
		es->auth = apikey;
	} else if (es->set.username && es->set.password) {
		es->auth = chat_basic_auth(es->set.username, es->set.password);
		if (!es->auth)
			goto fail;
	}
	extra[0] = (struct http_header){ "Authorization", es->auth };
	es->headers = chat_headers(&es->set.customheaders, "application/x-ndjson", extra, 1,
				   &es->n_headers);
	if (!es->headers) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	es_release(es);
	return err;
}

static void es_close(struct sink *s)
{
	struct elasticsearch *es = (struct elasticsearch *)s;

	/* Bulk requests in flight end through the shared client (aborted: SINK_RETRY). */
	es->closed = true;
	es_release(es);
}

const struct sink_ops elasticsearch_sink_ops = {
	.name = "elasticsearch",
	.size = sizeof(struct elasticsearch),
	.options = es_options,
	.enable_key = "elasticsearch.hostport",
	.init = es_init,
	.send = es_send,
	.send_batch = es_send_batch,
	.close = es_close,
};
