// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
	static const char head[] = "{\"uuid\":\"", tail[] = "\"}\n";
	char body[sizeof(head) + ALERT_UUID_LEN + sizeof(tail)], *p = body;

	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memcpy(p, c->uuid, ALERT_UUID_LEN);
	p += ALERT_UUID_LEN;
	memcpy(p, tail, sizeof(tail) - 1);
	p += sizeof(tail) - 1;
	count_input(c->g, c->source, "accepted");
	http_reply(c->req, 200, "application/json", body, (size_t)(p - body));
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
 * POST / parses on a thread of its own: jansson is most of what an alert costs (some 15 us for
 * a 750-byte Falco alert), and meanwhile the loop thread serves the other connections. A job is
 * one body: one alert, or a JSON-lines body of many. The worker takes every job queued at once
 * and hands each back as soon as it is parsed; the loop collects whatever is parsed when it
 * gets round to it (the async send coalesces), so a busy gateway pays for a wakeup per loop
 * turn, not per alert (libuv's shared pool signalled per job, and SQLite queries of the web UI
 * could hold its threads). A job owns a copy of the body (h2o frees its own when the client
 * goes away); its alerts go to the pipeline back on the loop thread, in the order received.
 */
#define INGEST_BACKLOG 8 /* bodies queued for the worker at most; more parse on the loop */

struct ingest_job {
	struct ingest_job *next;
	struct http_req *req;
	bool lines; /* a JSON-lines body: v and n, or msg and parse_errno */
	struct alert *a; /* parsed, or NULL with err and parse_errno */
	int parse_errno;
	struct alert_error err;
	struct alert **v;
	size_t n;
	char msg[400];
	size_t len;
	char body[];
};

struct job_list {
	struct ingest_job *head, **tail;
};

struct ingest_worker {
	struct gateway *g;
	pthread_t thread;
	uv_async_t async; /* parsed jobs are waiting in done */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job_list todo, done; /* under mu */
	atomic_uint unparsed; /* queued or being parsed: the worker's backlog, now */
	bool waiting; /* the worker sleeps on cv (under mu) */
	bool quit; /* under mu */
};

static void list_init(struct job_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void list_append(struct job_list *l, struct ingest_job *first, struct ingest_job **last)
{
	*l->tail = first;
	l->tail = last;
}

static void ingest_parsed(struct gateway *g, struct http_req *req, struct alert *a,
			  const struct alert_error *err, int parse_errno)
{
	char msg[320];

	if (a) {
		accept_alert(g, req, a, "requests");
		return;
	}
	count_input(g, "requests", "rejected");
	snprintf(msg, sizeof(msg), "%s\n", err->msg);
	reply_text(req, parse_errno == ENOMEM ? 500 : 400, msg);
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("POST / from %s rejected: %s", http_req_peer(req), err->msg);
}

static int parse_lines(const char *body, size_t len, struct alert ***pv, size_t *pn, char *msg,
		       size_t msg_size);
static void lines_parsed(struct gateway *g, struct http_req *req, struct alert **v, size_t n,
			 const char *msg, int parse_errno);

/*
 * The worker thread: the jobs alone, nothing of the gateway. Each parsed job goes back to the
 * loop at once, not with the rest of its batch: the loop accepts (and spools) the first alerts
 * while the later ones are parsed, instead of the two threads taking turns. Measured with
 * tests/bench/outputs (16 connections, same runs): JSON-lines bodies, which the loop parsed
 * itself before, +35% (disk spool) and +68% (memory); single alerts with the disk spool
 * +15-25% in the rounds of a toggled build, within the noise against the previous binary.
 */
static void *ingest_main(void *data)
{
	struct ingest_worker *w = data;
	struct ingest_job *batch, *j;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->todo.head && !w->quit) {
			w->waiting = true;
			pthread_cond_wait(&w->cv, &w->mu);
			w->waiting = false;
		}
		if (!w->todo.head)
			break;
		batch = w->todo.head;
		list_init(&w->todo);
		pthread_mutex_unlock(&w->mu);
		while ((j = batch)) {
			batch = j->next;
			j->next = NULL;
			if (j->lines) {
				j->parse_errno = parse_lines(j->body, j->len, &j->v, &j->n, j->msg,
							     sizeof(j->msg));
			} else {
				j->a = alert_parse(j->body, j->len, &j->err);
				j->parse_errno = j->a ? 0 : errno;
			}
			atomic_fetch_sub_explicit(&w->unparsed, 1, memory_order_relaxed);
			pthread_mutex_lock(&w->mu);
			list_append(&w->done, j, &j->next);
			pthread_mutex_unlock(&w->mu);
			/* coalesces: one callback for whatever is done by then */
			uv_async_send(&w->async);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void on_parsed(uv_async_t *h)
{
	struct ingest_worker *w = h->data;
	struct gateway *g = w->g;
	struct ingest_job *j;

	pthread_mutex_lock(&w->mu);
	j = w->done.head;
	list_init(&w->done);
	pthread_mutex_unlock(&w->mu);
	while (j) {
		struct ingest_job *next = j->next;

		if (j->lines)
			lines_parsed(g, j->req, j->v, j->n, j->msg, j->parse_errno);
		else
			ingest_parsed(g, j->req, j->a, &j->err, j->parse_errno);
		free(j);
		j = next;
		/* the loop stays up while bodies are out for parsing */
		if (--g->parsing == 0)
			uv_unref((uv_handle_t *)&w->async);
	}
	if (!g->parsing && g->pipeline_stop_due)
		gateway_stop_pipeline(g);
}

static void on_worker_closed(uv_handle_t *h)
{
	free(h->data);
}

/* The worker, or NULL (POST / then parses on the loop thread). */
static struct ingest_worker *ingest_worker_new(struct gateway *g)
{
	struct ingest_worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	w->g = g;
	atomic_init(&w->unparsed, 0);
	list_init(&w->todo);
	list_init(&w->done);
	if (uv_async_init(g->loop, &w->async, on_parsed)) {
		free(w);
		return NULL;
	}
	w->async.data = w;
	uv_unref((uv_handle_t *)&w->async);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	err = pthread_create(&w->thread, NULL, ingest_main, w);
	if (err) {
		log_warn("POST /: no parser thread (%s): parsing on the loop", strerror(err));
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		uv_close((uv_handle_t *)&w->async, on_worker_closed);
		return NULL;
	}
	return w;
}

void routes_free(struct gateway *g)
{
	struct ingest_worker *w = g->ingest;

	if (!w)
		return;
	g->ingest = NULL;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* the loop ran until no body was out: todo and done are empty */
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	uv_close((uv_handle_t *)&w->async, on_worker_closed);
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
	size_t submitted, done;
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

/*
 * Any thread: every line of a JSON-lines body parsed and validated, into *pv (*pn alerts);
 * else 0 alerts, msg saying which line is wrong (or that the body is empty) and the errno
 * (ENOMEM: the server's fault) returned.
 */
static int parse_lines(const char *body, size_t len, struct alert ***pv, size_t *pn, char *msg,
		       size_t msg_size)
{
	struct alert **v = NULL;
	size_t n = 0, cap = 0, line = 0;
	struct alert_error err;
	int e = EINVAL;

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
				snprintf(msg, msg_size, "out of memory\n");
				e = ENOMEM;
				goto reject;
			}
			v = nv;
			cap = nc;
		}
		a = alert_parse(p, l, &err);
		if (!a) {
			e = errno == ENOMEM ? ENOMEM : EINVAL;
			snprintf(msg, msg_size, "line %zu: %s\n", line, err.msg);
			goto reject;
		}
		v[n++] = a;
	}
	if (!n) {
		snprintf(msg, msg_size, "empty body: expected Falco JSON alerts, one per line\n");
		goto reject;
	}
	*pv = v;
	*pn = n;
	return 0;
reject:
	for (size_t i = 0; i < n; i++)
		alert_unref(v[i]);
	free(v);
	*pv = NULL;
	*pn = 0;
	return e;
}

/* Loop thread: a parsed JSON-lines body (v owned), or its rejection (parse_errno). */
static void lines_parsed(struct gateway *g, struct http_req *req, struct alert **v, size_t n,
			 const char *msg, int parse_errno)
{
	struct batch_ctx *b = NULL;

	if (!parse_errno) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			for (size_t i = 0; i < n; i++)
				alert_unref(v[i]);
			free(v);
			msg = "out of memory\n";
			parse_errno = ENOMEM;
		}
	}
	if (parse_errno) {
		count_input(g, "requests", "rejected");
		/* before the reply, which ends req */
		if (log_enabled(LOG_LEVEL_DEBUG))
			log_debug("POST / (JSON lines) from %s rejected: %s", http_req_peer(req),
				  msg);
		reply_text(req, parse_errno == ENOMEM ? 500 : 400, msg);
		return;
	}
	b->g = g;
	b->req = req;
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
}

/* POST /: one Falco JSON alert, validated as Falcosidekick does (or JSON lines, above). */
static void on_ingest(void *data, struct http_req *req)
{
	struct gateway *g = data;
	struct ingest_worker *w = g->ingest;
	struct alert_error err;
	struct ingest_job *j;
	struct alert *a;
	const char *body;
	size_t len;
	bool lines;

	body = http_req_body(req, &len);
	lines = is_jsonl(req);
	if (!len && !lines) {
		count_input(g, "requests", "rejected");
		reply_text(req, 400, "empty body: expected one Falco JSON alert\n");
		return;
	}
	/*
	 * The worker is behind (a burst, or short of CPU): this one is quicker parsed here, while
	 * the worker goes on with its queue (g->parsing only drops when the loop collects).
	 */
	if (w && atomic_load_explicit(&w->unparsed, memory_order_relaxed) < INGEST_BACKLOG)
		j = malloc(sizeof(*j) + len);
	else
		j = NULL;
	if (j) {
		j->next = NULL;
		j->req = req;
		j->lines = lines;
		j->a = NULL;
		j->len = len;
		memcpy(j->body, body, len);
		if (g->parsing++ == 0)
			uv_ref((uv_handle_t *)&w->async);
		atomic_fetch_add_explicit(&w->unparsed, 1, memory_order_relaxed);
		pthread_mutex_lock(&w->mu);
		list_append(&w->todo, j, &j->next);
		if (w->waiting)
			pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	/* no worker, a backlog, or no memory for the job: parse here */
	if (lines) {
		struct alert **v;
		size_t n;
		char msg[400];
		int e = parse_lines(body, len, &v, &n, msg, sizeof(msg));

		lines_parsed(g, req, v, n, msg, e);
		return;
	}
	a = alert_parse(body, len, &err);
	ingest_parsed(g, req, a, &err, a ? 0 : errno);
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
	g->ingest = ingest_worker_new(g);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int err = http_server_route(g->http, routes[i].method, routes[i].path, routes[i].fn,
					    g);

		if (err)
			return err;
	}
	/* POST /k8s-audit: the API server's audit webhook. */
	return audit_route_register(g);
}
