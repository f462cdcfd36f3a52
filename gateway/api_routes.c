// SPDX-License-Identifier: Apache-2.0
/*
 * The web UI's store and API (docs/ui-api.md).
 *
 * The store is fed by a sink, "ui", registered with the other outputs and created only when
 * ui.enabled is set: it gets its own bounded queue and concurrency from the pipeline like any
 * output, so a slow or failing store (disk full, corrupt file) shows as that sink's failures
 * and drops and never holds back delivery to the others. Its send() queues the alert to the
 * store's writer thread and completes when the batch is written; written alerts go to the live
 * streams.
 *
 * The routes under /api/v1/ authenticate by themselves (Basic or Bearer, constant time), parse
 * the query on the loop, and run SQLite queries on libuv's worker threads (uv_queue_work), so
 * the loop never waits on the database.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "config/log.h"
#include "gateway/gateway.h"
#include "gateway/http_server.h"
#include "gateway/pipeline.h"
#include "gateway/store.h"
#include "outputs/sink.h"
#include "rules/rules.h"

#define KEEPALIVE_MS 15000
#define STREAM_MAX_BUFFERED (1024 * 1024)
#define MAX_VALUES 256 /* filter values in one request */
#define DAY_MS 86400000LL

struct ui_settings {
	bool enabled;
	const char *username;
	const char *password;
	const char *token;
	const char *store_path;
	int64_t max_age_ms;
	uint64_t max_bytes;
	int64_t retention_interval_ms;
};

static const struct config_option ui_options[] = {
	{ "enabled", CONFIG_BOOL, "false", offsetof(struct ui_settings, enabled), 0, 0, NULL, NULL,
	  "serve the web UI's API under /api/v1/ and keep the event store" },
	{ "username", CONFIG_STRING, NULL, offsetof(struct ui_settings, username), 0, 0, NULL, NULL,
	  "web UI: HTTP Basic user (with ui.password); no default" },
	{ "password", CONFIG_STRING, NULL, offsetof(struct ui_settings, password), 0, 0, NULL, NULL,
	  "web UI: HTTP Basic password; no default: lanner refuses to start the UI without a "
	  "secret" },
	{ "token", CONFIG_STRING, NULL, offsetof(struct ui_settings, token), 0, 0, NULL, NULL,
	  "web UI: bearer token (Authorization: Bearer ...)" },
	{ "store.path", CONFIG_STRING, "/var/lib/lanner/events.db",
	  offsetof(struct ui_settings, store_path), 0, 0, NULL, NULL,
	  "web UI: the event store's SQLite file (WAL), a sibling of the spool" },
	{ "store.max_age", CONFIG_DURATION, "7d", offsetof(struct ui_settings, max_age_ms), 1000,
	  (int64_t)3650 * DAY_MS, NULL, NULL,
	  "web UI: alerts older than this leave the store (continuously)" },
	{ "store.max_bytes", CONFIG_SIZE, "1GiB", offsetof(struct ui_settings, max_bytes), 1048576,
	  (int64_t)1 << 50, NULL, NULL,
	  "web UI: the store's size bound (pages in use): past it, the oldest alerts go first" },
	{ "store.retention_interval", CONFIG_DURATION, "1s",
	  offsetof(struct ui_settings, retention_interval_ms), 100, 3600000, NULL, NULL,
	  "web UI: how often retention runs" },
	{ NULL },
};

struct subscriber {
	struct subscriber *next;
	struct ui_sink *u;
	struct http_stream *st;
	struct query *q; /* its filters */
};

struct ui_sink {
	struct sink base;
	struct ui_settings set;
	struct store *store; /* NULL once closed */
	unsigned char basic_digest[SHA256_DIGEST_LENGTH]; /* of "user:password" */
	unsigned char token_digest[SHA256_DIGEST_LENGTH];
	bool basic, bearer;
	struct subscriber *subs;
	uv_timer_t keepalive;
	unsigned queries; /* on worker threads */
	bool closed;
	uint64_t stream_dropped; /* subscribers disconnected for being slow */
};

/* ---- the sink ---- */

struct write_ctx {
	struct ui_sink *u;
	void *token;
	struct alert *a;
	int64_t id;
};

static void broadcast(struct ui_sink *u, int64_t id, struct alert *a);

static void on_stored(void *data, int err)
{
	struct write_ctx *w = data;
	struct sink_status st = { SINK_OK, -1, "" };

	if (err)
		sink_status_set(&st, SINK_FAIL, "event store: write failed (%s)", strerror(-err));
	else
		broadcast(w->u, w->id, w->a);
	alert_unref(w->a);
	sink_done(&w->u->base, w->token, &st);
	free(w);
}

static int ui_send(struct sink *s, struct alert *a, void *token)
{
	struct ui_sink *u = (struct ui_sink *)s;
	struct write_ctx *w;

	if (!u->store)
		return -ESHUTDOWN;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->u = u;
	w->token = token;
	w->a = alert_ref(a);
	w->id = store_add(u->store, a, on_stored, w);
	if (w->id < 0) {
		int err = (int)w->id;

		alert_unref(a);
		free(w);
		return err;
	}
	return 0;
}

static void digest(const char *s, unsigned char out[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)s, strlen(s), out);
}

static void on_keepalive(uv_timer_t *t);

static int ui_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct ui_sink *u = (struct ui_sink *)s;
	struct store_opts o = { 0 };
	int err;

	err = config_bind(cfg, "ui", ui_options, &u->set);
	if (err)
		return err;
	u->bearer = u->set.token && *u->set.token;
	if ((u->set.username && *u->set.username) != (u->set.password && *u->set.password)) {
		log_error("ui: ui.username and ui.password go together (both set and non-empty)");
		return -EINVAL;
	}
	u->basic = u->set.username && *u->set.username;
	if (!u->basic && !u->bearer) {
		log_error("ui.enabled is on but no secret is set: set ui.token, or ui.username and "
			  "ui.password (there is no default password)");
		return -EINVAL;
	}
	if (u->basic) {
		size_t n = strlen(u->set.username) + strlen(u->set.password) + 2;
		char *up = malloc(n);

		if (!up)
			return -ENOMEM;
		snprintf(up, n, "%s:%s", u->set.username, u->set.password);
		digest(up, u->basic_digest);
		OPENSSL_cleanse(up, n);
		free(up);
	}
	if (u->bearer)
		digest(u->set.token, u->token_digest);
	o.path = u->set.store_path;
	o.max_age_ms = u->set.max_age_ms;
	o.max_bytes = u->set.max_bytes;
	o.retention_interval_ms = u->set.retention_interval_ms;
	u->store = store_open(env->loop, &o);
	if (!u->store)
		return errno ? -errno : -EIO;
	uv_timer_init(env->loop, &u->keepalive);
	u->keepalive.data = u;
	uv_timer_start(&u->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
	uv_unref((uv_handle_t *)&u->keepalive);
	return 0;
}

static void query_free(struct query *q);

static void end_streams(struct ui_sink *u)
{
	struct subscriber *sub, *next;

	for (sub = u->subs; sub; sub = next) {
		next = sub->next;
		http_stream_end(sub->st);
		query_free(sub->q);
		free(sub);
	}
	u->subs = NULL;
}

static void ui_close(struct sink *s)
{
	struct ui_sink *u = (struct ui_sink *)s;

	u->closed = true;
	end_streams(u);
	uv_close((uv_handle_t *)&u->keepalive, NULL);
	/* queries still on worker threads close it when the last one is back */
	if (!u->queries) {
		store_close(u->store);
		u->store = NULL;
	}
}

const struct sink_ops ui_sink_ops = {
	.name = "ui",
	.size = sizeof(struct ui_sink),
	.options = ui_options,
	.enable_key = "ui.enabled",
	.init = ui_init,
	.send = ui_send,
	.close = ui_close,
	/* many alerts in one write transaction */
	.default_concurrency = 1024,
};

/* ---- replies ---- */

static void reply_json(struct http_req *req, int status, json_t *body)
{
	static const char *const hdr[] = { "Cache-Control", "no-store" };
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	if (!text) {
		http_reply_headers(req, 500, "application/json", hdr, 1,
				   "{\"error\":\"out of memory\"}", 26);
	} else {
		http_reply_headers(req, status, "application/json", hdr, 1, text, strlen(text));
	}
	free(text);
	json_decref(body);
}

static void reply_error(struct http_req *req, int status, const char *msg, const char *param)
{
	json_t *b = json_pack("{ss}", "error", msg);

	if (b && param)
		json_object_set_new(b, "parameter", json_string(param));
	reply_json(req, status, b);
}

/* ---- authentication ---- */

static bool base64_decode(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
	int n;

	if (len % 4 || len / 4 * 3 + 1 > cap)
		return false;
	n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return false;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (len >= 1 && in[len - 1] == '=')
		n--;
	if (len >= 2 && in[len - 2] == '=')
		n--;
	*out_len = (size_t)n;
	out[n] = '\0';
	return true;
}

/* Digests compared with CRYPTO_memcmp: the time says nothing about the secret. */
static bool authorized(const struct ui_sink *u, struct http_req *req)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	size_t len = 0, dlen;
	const char *h = http_req_header(req, "authorization", &len), *end;
	char buf[1024];

	if (!h)
		return false;
	end = h + len;
	if (len > 7 && !strncasecmp(h, "bearer ", 7) && u->bearer) {
		h += 7;
		while (h < end && *h == ' ')
			h++;
		while (end > h && end[-1] == ' ')
			end--;
		SHA256((const unsigned char *)h, (size_t)(end - h), d);
		return CRYPTO_memcmp(d, u->token_digest, sizeof(d)) == 0;
	}
	if (len > 6 && !strncasecmp(h, "basic ", 6) && u->basic) {
		h += 6;
		while (h < end && *h == ' ')
			h++;
		while (end > h && end[-1] == ' ')
			end--;
		if (!base64_decode(h, (size_t)(end - h), buf, sizeof(buf), &dlen))
			return false;
		SHA256((const unsigned char *)buf, dlen, d);
		OPENSSL_cleanse(buf, sizeof(buf));
		return CRYPTO_memcmp(d, u->basic_digest, sizeof(d)) == 0;
	}
	return false;
}

/* The ui sink when it runs and the request is authorized; else the reply is sent. */
static struct ui_sink *ui_for(struct gateway *g, struct http_req *req)
{
	struct ui_sink *u = (struct ui_sink *)pipeline_sink_find(g->pipeline, "ui");
	const char *const hdr_basic[] = { "WWW-Authenticate", "Basic realm=\"lanner\"",
					  "Cache-Control", "no-store" };
	const char *const hdr_bearer[] = { "WWW-Authenticate", "Bearer realm=\"lanner\"",
					   "Cache-Control", "no-store" };
	static const char body[] = "{\"error\":\"missing or invalid credentials\"}";

	if (!u || u->closed || !u->store) {
		reply_error(req, 503, "the web UI is shutting down", NULL);
		return NULL;
	}
	if (!authorized(u, req)) {
		http_reply_headers(req, 401, "application/json", u->basic ? hdr_basic : hdr_bearer,
				   2, body, sizeof(body) - 1);
		return NULL;
	}
	return u;
}

/* ---- query strings ---- */

/* Everything a request asked, with its strings owned (one block). */
struct query {
	struct store_filter f;
	const char *values[MAX_VALUES]; /* the filter's arrays point in here */
	size_t n_values;
	bool has_cursor;
	struct store_cursor cursor;
	int64_t limit;
	int by; /* enum store_group, -1 unset */
	int64_t bucket_ms;
	int64_t top;
	int64_t since_ms, until_ms; /* INT64_MIN / INT64_MAX when unset */
	char *strings; /* decoded copies */
	size_t strings_len, strings_cap;
	char uuid[ALERT_UUID_LEN + 1];
};

enum endpoint { EP_EVENTS, EP_COUNTS, EP_STREAM };

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* URL-decode [s, e) in place into out (NUL-terminated). false on a bad escape. */
static bool url_decode(const char *s, const char *e, char *out)
{
	for (; s < e; s++) {
		if (*s == '+') {
			*out++ = ' ';
		} else if (*s == '%') {
			int hi, lo;

			if (e - s < 3 || (hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				return false;
			*out++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
	return true;
}

static bool parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* RFC 3339, or integer Unix milliseconds. */
static bool parse_time_ms(const char *s, int64_t *ms)
{
	int64_t ns;

	if (parse_int(s, ms))
		return true;
	if (alert_parse_time(s, &ns))
		return false;
	*ms = ns / 1000000 - (ns % 1000000 < 0);
	return true;
}

/* "10s", "1m", "1h", "1d", "500ms"; a bare number is seconds. */
static bool parse_duration_ms(const char *s, int64_t *ms)
{
	char *end;
	long long v;
	int64_t unit;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return false;
	if (!*end || !strcmp(end, "s"))
		unit = 1000;
	else if (!strcmp(end, "ms"))
		unit = 1;
	else if (!strcmp(end, "m"))
		unit = 60000;
	else if (!strcmp(end, "h"))
		unit = 3600000;
	else if (!strcmp(end, "d"))
		unit = DAY_MS;
	else
		return false;
	if (v > INT64_MAX / unit)
		return false;
	*ms = v * unit;
	return true;
}

static bool add_value(struct query *q, const char ***list, size_t *n, const char *v)
{
	if (q->n_values >= MAX_VALUES)
		return false;
	/* one list is filled by consecutive values: keep it contiguous */
	if (*n && *list + *n != &q->values[q->n_values]) {
		/* interleaved parameters: move this list to the end */
		if (q->n_values + *n + 1 > MAX_VALUES)
			return false;
		memcpy(&q->values[q->n_values], *list, *n * sizeof(**list));
		*list = &q->values[q->n_values];
		q->n_values += *n;
	}
	if (!*n)
		*list = &q->values[q->n_values];
	q->values[q->n_values++] = v;
	(*n)++;
	return true;
}

struct parse_error {
	const char *msg;
	char param[128];
};

static bool fail(struct parse_error *e, const char *param, const char *msg)
{
	snprintf(e->param, sizeof(e->param), "%s", param);
	e->msg = msg;
	return false;
}

static bool add_words(struct query *q, char *text)
{
	char *save = NULL, *w;

	for (w = strtok_r(text, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save))
		if (!add_value(q, (const char ***)&q->f.words, &q->f.n_words, w))
			return false;
	return true;
}

/*
 * Parse a query string for one endpoint into q (which owns the decoded strings).
 * Field names and values are interleaved in values[]: fields use their own two arrays.
 */
static bool parse_query(struct query *q, const char *qs, enum endpoint ep, struct parse_error *e)
{
	size_t qlen = strlen(qs);
	unsigned exact = 0, min_mask = (1u << PRIORITY__COUNT) - 1;
	bool has_exact = false;
	const char *p = qs;
	char *buf;

	store_filter_init(&q->f);
	q->limit = 100;
	q->by = -1;
	q->since_ms = INT64_MIN;
	q->until_ms = INT64_MAX;
	q->strings = buf = malloc(qlen + 1 > 16 ? qlen * 2 + 2 : 34);
	if (!buf)
		return fail(e, "", "out of memory");
	/* field names and values: their own two arrays */
	const char **names = calloc(MAX_VALUES, sizeof(*names));
	const char **vals = calloc(MAX_VALUES, sizeof(*vals));

	if (!names || !vals) {
		free(names);
		free(vals);
		return fail(e, "", "out of memory");
	}
	q->f.field_names = names;
	q->f.field_values = vals;
	while (*p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		char *key = buf, *val;
		enum priority pr;
		int64_t v;

		if (end == p) {
			p = amp ? amp + 1 : end;
			continue;
		}
		if (!url_decode(p, eq ? eq : end, key))
			return fail(e, "", "malformed percent-encoding in the query string");
		val = key + strlen(key) + 1;
		if (!url_decode(eq ? eq + 1 : end, end, val))
			return fail(e, key, "malformed percent-encoding");
		buf = val + strlen(val) + 1;
		p = amp ? amp + 1 : end;

		if (!strcmp(key, "q")) {
			if (!add_words(q, val))
				return fail(e, key, "too many values");
		} else if (!strcmp(key, "priority")) {
			if (priority_parse(val, &pr))
				return fail(e, key, "unknown priority");
			exact |= 1u << pr;
			has_exact = true;
		} else if (!strcmp(key, "min_priority")) {
			if (priority_parse(val, &pr))
				return fail(e, key, "unknown priority");
			min_mask &= (1u << (pr + 1)) - 1;
		} else if (!strcmp(key, "rule")) {
			if (!add_value(q, (const char ***)&q->f.rules, &q->f.n_rules, val))
				return fail(e, key, "too many values");
		} else if (!strcmp(key, "source")) {
			if (!add_value(q, (const char ***)&q->f.sources, &q->f.n_sources, val))
				return fail(e, key, "too many values");
		} else if (!strcmp(key, "tag")) {
			if (!add_value(q, (const char ***)&q->f.tags, &q->f.n_tags, val))
				return fail(e, key, "too many values");
		} else if (!strcmp(key, "hostname")) {
			if (!add_value(q, (const char ***)&q->f.hosts, &q->f.n_hosts, val))
				return fail(e, key, "too many values");
		} else if (!strncmp(key, "field.", 6) && key[6]) {
			if (q->f.n_fields >= MAX_VALUES)
				return fail(e, key, "too many values");
			names[q->f.n_fields] = key + 6;
			vals[q->f.n_fields++] = val;
		} else if (!strcmp(key, "since") || !strcmp(key, "until")) {
			if (!parse_time_ms(val, &v))
				return fail(e, key,
					    "expected RFC 3339 time or integer Unix milliseconds");
			if (key[0] == 's')
				q->since_ms = v;
			else
				q->until_ms = v;
		} else if (ep == EP_EVENTS && !strcmp(key, "limit")) {
			if (!parse_int(val, &q->limit) || q->limit < 1 || q->limit > 1000)
				return fail(e, key, "expected an integer from 1 to 1000");
		} else if (ep == EP_EVENTS && !strcmp(key, "cursor")) {
			char *dot = strchr(val, '.');

			if (!dot)
				return fail(e, key, "not a cursor from this API");
			*dot = '\0';
			if (!parse_int(val, &q->cursor.time_ns) ||
			    !parse_int(dot + 1, &q->cursor.id))
				return fail(e, key, "not a cursor from this API");
			q->has_cursor = true;
		} else if (ep == EP_COUNTS && !strcmp(key, "by")) {
			static const char *const bys[] = { "priority", "rule", "source", "tag",
							   "hostname" };

			q->by = -1;
			for (int i = 0; i < 5; i++)
				if (!strcmp(val, bys[i]))
					q->by = i;
			if (q->by < 0)
				return fail(e, key,
					    "expected priority, rule, source, tag or hostname");
		} else if (ep == EP_COUNTS && !strcmp(key, "bucket")) {
			if (!parse_duration_ms(val, &q->bucket_ms))
				return fail(e, key, "expected a duration (10s, 1m, 1h, 1d)");
		} else if (ep == EP_COUNTS && !strcmp(key, "top")) {
			if (!parse_int(val, &q->top) || q->top < 1)
				return fail(e, key, "expected a positive integer");
		} else {
			return fail(e, key, "unknown parameter");
		}
	}
	if (ep == EP_COUNTS && q->by < 0)
		return fail(e, "by", "required: priority, rule, source, tag or hostname");
	q->f.priorities = (has_exact ? exact : (1u << PRIORITY__COUNT) - 1) & min_mask;
	if (q->f.priorities == (1u << PRIORITY__COUNT) - 1)
		q->f.priorities = 0;
	else if (!q->f.priorities)
		q->f.priorities = 1u << PRIORITY__COUNT; /* nothing matches */
	if (q->since_ms != INT64_MIN)
		q->f.since_ns = q->since_ms > INT64_MAX / 1000000 ? INT64_MAX :
				q->since_ms < INT64_MIN / 1000000 ? INT64_MIN :
								    q->since_ms * 1000000;
	if (q->until_ms != INT64_MAX)
		q->f.until_ns = q->until_ms > INT64_MAX / 1000000 ? INT64_MAX :
				q->until_ms < INT64_MIN / 1000000 ? INT64_MIN :
								    q->until_ms * 1000000;
	return true;
}

static void query_free(struct query *q)
{
	if (!q)
		return;
	free((void *)q->f.field_names);
	free((void *)q->f.field_values);
	free(q->strings);
	free(q);
}

/* The query of req for ep, or NULL after a 400 was sent. */
static struct query *query_of(struct http_req *req, enum endpoint ep)
{
	struct query *q = calloc(1, sizeof(*q));
	struct parse_error e = { 0 };

	if (!q) {
		reply_error(req, 500, "out of memory", NULL);
		return NULL;
	}
	if (!parse_query(q, http_req_query(req), ep, &e)) {
		reply_error(req, 400, e.msg, e.param);
		query_free(q);
		return NULL;
	}
	return q;
}

/* ---- queries on worker threads ---- */

enum job_kind { JOB_EVENTS, JOB_EVENT, JOB_COUNTS };

struct job {
	uv_work_t work;
	enum job_kind kind;
	struct ui_sink *u;
	struct store *store;
	struct http_req *req;
	struct query *q;
	int err;
	json_t *result;
};

static void job_run(uv_work_t *w)
{
	struct job *j = w->data;
	struct query *q = j->q;

	switch (j->kind) {
	case JOB_EVENTS:
		j->err = store_search(j->store, &q->f, (size_t)q->limit,
				      q->has_cursor ? &q->cursor : NULL, &j->result);
		break;
	case JOB_EVENT:
		j->err = store_get(j->store, q->uuid, &j->result);
		break;
	case JOB_COUNTS: {
		struct timespec ts;
		int64_t now, until, since;

		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		until = q->until_ms != INT64_MAX ? q->until_ms : now;
		since = q->since_ms != INT64_MIN ? q->since_ms : until - DAY_MS;
		j->err = store_counts(j->store, &q->f, (enum store_group)q->by, since, until,
				      q->bucket_ms, (size_t)q->top, &j->result);
		break;
	}
	}
}

static void job_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct ui_sink *u = j->u;

	if (j->err == -ENOENT)
		reply_error(j->req, 404, "no such event", NULL);
	else if (j->err == -ERANGE)
		reply_error(j->req, 400, "more than 10000 buckets: use a larger bucket", "bucket");
	else if (j->err || status)
		reply_error(j->req, 500, "the event store could not answer (see lanner's log)",
			    NULL);
	else
		reply_json(j->req, 200, j->result), j->result = NULL;
	json_decref(j->result);
	query_free(j->q);
	free(j);
	if (--u->queries == 0 && u->closed && u->store) {
		store_close(u->store);
		u->store = NULL;
	}
}

static void start_job(struct ui_sink *u, struct http_req *req, enum job_kind kind, struct query *q)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		query_free(q);
		reply_error(req, 500, "out of memory", NULL);
		return;
	}
	j->kind = kind;
	j->u = u;
	j->store = u->store;
	j->req = req;
	j->q = q;
	j->work.data = j;
	if (uv_queue_work(u->base.loop, &j->work, job_run, job_done)) {
		query_free(q);
		free(j);
		reply_error(req, 500, "cannot queue the query", NULL);
		return;
	}
	u->queries++;
}

/* ---- routes ---- */

static void on_events(void *data, struct http_req *req)
{
	struct ui_sink *u = ui_for(data, req);
	struct query *q;

	if (!u || !(q = query_of(req, EP_EVENTS)))
		return;
	start_job(u, req, JOB_EVENTS, q);
}

static bool uuid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != ALERT_UUID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : hexval(s[i]) < 0)
			return false;
	}
	return true;
}

static void on_event(void *data, struct http_req *req)
{
	struct ui_sink *u = ui_for(data, req);
	const char *id;
	struct query *q;

	if (!u)
		return;
	id = http_req_path(req) + strlen("/api/v1/events/");
	if (*http_req_query(req)) {
		reply_error(req, 400, "unknown parameter", "");
		return;
	}
	if (!uuid_ok(id)) {
		reply_error(req, 404, "no such event", NULL);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		reply_error(req, 500, "out of memory", NULL);
		return;
	}
	snprintf(q->uuid, sizeof(q->uuid), "%s", id);
	start_job(u, req, JOB_EVENT, q);
}

static void on_counts(void *data, struct http_req *req)
{
	struct ui_sink *u = ui_for(data, req);
	struct query *q;

	if (!u || !(q = query_of(req, EP_COUNTS)))
		return;
	start_job(u, req, JOB_COUNTS, q);
}

static void set_time(json_t *o, const char *key, int64_t ms)
{
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		json_object_set_new(o, key, json_null());
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, key, json_string(buf));
}

static void on_outputs(void *data, struct http_req *req)
{
	struct gateway *g = data;
	struct ui_sink *u = ui_for(g, req);
	struct pipeline_spool_stats sp;
	struct store_stats ss;
	json_t *res, *outs;

	if (!u)
		return;
	if (*http_req_query(req)) {
		reply_error(req, 400, "unknown parameter", "");
		return;
	}
	res = json_object();
	outs = json_array();
	for (size_t i = 0; i < pipeline_sink_count(g->pipeline); i++) {
		struct pipeline_sink_stats st;
		json_t *o;

		if (pipeline_sink_stats(g->pipeline, i, &st))
			continue;
		o = json_pack("{ss sI sI sI sI sI sI sb}", "name", st.name, "queue",
			      (json_int_t)st.queue, "inflight", (json_int_t)st.inflight,
			      "delivered", (json_int_t)st.delivered, "failed",
			      (json_int_t)st.failed, "dropped", (json_int_t)st.dropped, "retries",
			      (json_int_t)st.retries, "backoff", st.backoff);
		if (!o)
			continue;
		json_object_set_new(o, "last_error",
				    *st.last_error ? json_string(st.last_error) : json_null());
		set_time(o, "last_error_time", st.last_error_ms);
		json_array_append_new(outs, o);
	}
	json_object_set_new(res, "outputs", outs);
	pipeline_spool_stats(g->pipeline, &sp);
	json_object_set_new(res, "spool",
			    json_pack("{ss sI sI sI}", "mode", sp.disk ? "disk" : "memory", "bytes",
				      (json_int_t)sp.bytes, "max_bytes", (json_int_t)sp.max_bytes,
				      "pending", (json_int_t)sp.pending));
	store_get_stats(u->store, &ss);
	{
		json_t *st = json_pack("{sI sI sI sI sI sI sb}", "alerts", (json_int_t)ss.alerts,
				       "bytes", (json_int_t)ss.bytes, "max_bytes",
				       (json_int_t)u->set.max_bytes, "max_age_ms",
				       (json_int_t)u->set.max_age_ms, "errors",
				       (json_int_t)ss.errors, "queued", (json_int_t)ss.queued,
				       "full_text_index", store_has_fts(u->store));

		if (st)
			set_time(st, "oldest", ss.oldest_ns / 1000000);
		json_object_set_new(res, "store", st);
	}
	reply_json(req, 200, res);
}

static void on_rules(void *data, struct http_req *req)
{
	struct gateway *g = data;
	json_t *res, *list;

	if (!ui_for(g, req))
		return;
	if (*http_req_query(req)) {
		reply_error(req, 400, "unknown parameter", "");
		return;
	}
	res = json_object();
	list = json_array();
	for (size_t i = 0; g->rules && i < rules_count(g->rules); i++) {
		const struct rule *r = rules_at(g->rules, i);
		json_t *tags = json_array();
		const char *desc = rule_desc(r);

		for (size_t t = 0; t < rule_tag_count(r); t++)
			json_array_append_new(tags, json_string(rule_tag(r, t)));
		json_array_append_new(
			list, json_pack("{ss ss ss sb so ss}", "name", rule_name(r), "priority",
					priority_name(rule_priority(r)), "source",
					rule_source(r) ? rule_source(r) : "", "enabled",
					rule_enabled(r), "tags", tags, "desc", desc ? desc : ""));
	}
	json_object_set_new(res, "rules", list);
	reply_json(req, 200, res);
}

/* Unknown paths under /api/v1/: JSON, after authentication (says nothing to strangers). */
static void on_api_unknown(void *data, struct http_req *req)
{
	if (!ui_for(data, req))
		return;
	reply_error(req, 404, "no such endpoint", NULL);
}

/* ---- the live stream ---- */

static void subscriber_remove(struct ui_sink *u, struct subscriber *sub)
{
	struct subscriber **pp;

	for (pp = &u->subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	}
	http_stream_end(sub->st);
	query_free(sub->q);
	free(sub);
}

static void on_stream_gone(void *data, struct http_stream *st)
{
	struct subscriber *sub = data;

	subscriber_remove(sub->u, sub);
}

static void stream_write(struct ui_sink *u, struct subscriber *sub, const char *buf, size_t len)
{
	int err = http_stream_write(sub->st, buf, len);

	if (err == -ENOBUFS) {
		u->stream_dropped++;
		log_warn("ui: live stream client too slow: disconnected");
	}
	/* on errors the gone callback follows and removes the subscriber */
}

static void broadcast(struct ui_sink *u, int64_t id, struct alert *a)
{
	char *msg = NULL;
	size_t len = 0;

	for (struct subscriber *sub = u->subs; sub; sub = sub->next) {
		if (http_stream_is_gone(sub->st) || !store_filter_match(&sub->q->f, a))
			continue;
		if (!msg) {
			size_t rl;
			const char *raw = alert_json(a, &rl);
			json_t *ev = raw ? store_event_json(id, raw, rl) : NULL;
			char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

			json_decref(ev);
			if (!text)
				return;
			len = strlen(text) + 32;
			msg = malloc(len);
			if (!msg) {
				free(text);
				return;
			}
			len = (size_t)snprintf(msg, len, "event: alert\ndata: %s\n\n", text);
			free(text);
		}
		stream_write(u, sub, msg, len);
	}
	free(msg);
}

static void on_keepalive(uv_timer_t *t)
{
	struct ui_sink *u = t->data;

	for (struct subscriber *sub = u->subs; sub; sub = sub->next)
		if (!http_stream_is_gone(sub->st))
			stream_write(u, sub, ": keepalive\n\n", 13);
}

static void on_stream(void *data, struct http_req *req)
{
	static const char *const hdr[] = { "Cache-Control", "no-store", "X-Accel-Buffering", "no" };
	struct ui_sink *u = ui_for(data, req);
	struct subscriber *sub;
	struct query *q;

	if (!u || !(q = query_of(req, EP_STREAM)))
		return;
	sub = calloc(1, sizeof(*sub));
	if (!sub) {
		query_free(q);
		reply_error(req, 500, "out of memory", NULL);
		return;
	}
	sub->u = u;
	sub->q = q;
	sub->st = http_stream_start(req, 200, "text/event-stream", hdr, 2, STREAM_MAX_BUFFERED,
				    on_stream_gone, sub);
	if (!sub->st) {
		query_free(q);
		free(sub);
		return;
	}
	sub->next = u->subs;
	u->subs = sub;
	/* the headers are out; a first comment lets clients know the stream is live */
	stream_write(u, sub, ": connected\n\n", 13);
}

int api_routes_register(struct gateway *g)
{
	static const struct {
		const char *path;
		bool prefix;
		http_handler_fn fn;
	} routes[] = {
		{ "/api/v1/events", false, on_events },	  { "/api/v1/events/", true, on_event },
		{ "/api/v1/counts", false, on_counts },	  { "/api/v1/stream", false, on_stream },
		{ "/api/v1/outputs", false, on_outputs }, { "/api/v1/rules", false, on_rules },
		{ "/api/v1/", true, on_api_unknown },
	};
	static const char *const methods[] = { "GET", "HEAD" };
	int err;

	if (!pipeline_sink_find(g->pipeline, "ui"))
		return 0;
	err = http_server_public_prefix(g->http, "/api/v1/");
	for (size_t i = 0; !err && i < sizeof(routes) / sizeof(routes[0]); i++) {
		for (size_t m = 0; !err && m < 2; m++) {
			if (routes[i].prefix)
				err = http_server_route_prefix(g->http, methods[m], routes[i].path,
							       routes[i].fn, g);
			else
				err = http_server_route(g->http, methods[m], routes[i].path,
							routes[i].fn, g);
		}
	}
	if (!err)
		log_info("web UI API on /api/v1/ (event store %s)",
			 ((struct ui_sink *)pipeline_sink_find(g->pipeline, "ui"))->set.store_path);
	return err;
}
