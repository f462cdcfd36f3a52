// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP server on a real loop and real sockets: the loop runs in the test's thread, a
 * client thread drives it with libcurl (or a raw socket) and records what it saw; assertions
 * run after the loop ended, in the test's thread (cmocka is not thread-safe).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "gateway/http_server.h"

#define MAX_BODY 1024
#define TOKEN "s3cret-token"

static char cert_dir[256];

struct resp {
	CURLcode rc;
	long code;
	long http_version;
	long connects;
	long local_port;
	char body[8192];
	size_t len;
	char headers[4096];
	size_t hlen;
};

struct fx {
	uv_loop_t loop;
	struct http_server *s;
	uv_async_t done;
	pthread_t thread;
	void (*client)(struct fx *f);
	bool done_sent; /* the client signalled done itself */
	struct http_server_opts opts;
	int port;
	uint64_t stopped_at;
	/* server side */
	int late_replies;
	int gone_seen;
	bool stopped;
	/* streaming */
	int st_mode; /* see on_stream */
	size_t max_buffered;
	struct http_stream *st;
	uv_timer_t st_timer;
	int st_ticks;
	bool gone_before_stop;
	int overflows;
	atomic_int gone_flag;
	atomic_int overflow_flag;
	/* client side */
	struct resp r[4];
	int raw_status;
	char raw[2048];
};

struct late {
	uv_timer_t timer;
	struct http_req *req;
	struct fx *f;
};

/* ---- routes ---- */

static void on_hello(void *data, struct http_req *req)
{
	http_reply(req, 200, "text/plain", "hello\n", 6);
}

static void on_echo(void *data, struct http_req *req)
{
	size_t len;
	const char *body = http_req_body(req, &len);

	http_reply(req, 200, "application/octet-stream", body, len);
}

static void on_info(void *data, struct http_req *req)
{
	char out[512];
	size_t hlen = 0;
	const char *h = http_req_header(req, "x-TEST", &hlen);
	const char *const extra[] = { "X-Reply", "yes", "Retry-After", "7" };
	int n;

	n = snprintf(out, sizeof(out), "%s %s [%s] %.*s %s", http_req_method(req),
		     http_req_path(req), http_req_query(req), (int)hlen, h ? h : "",
		     http_req_peer(req));
	http_reply_headers(req, 202, "text/plain", extra, 2, out, (size_t)n);
}

static void late_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_late_timer(uv_timer_t *t)
{
	struct late *l = t->data;

	l->f->late_replies++;
	if (http_req_gone(l->req))
		l->f->gone_seen++;
	http_reply(l->req, 200, "text/plain", "late\n", 5);
	uv_close((uv_handle_t *)&l->timer, late_closed);
}

static void reply_later(struct fx *f, struct http_req *req, uint64_t ms)
{
	struct late *l = malloc(sizeof(*l));

	assert_non_null(l);
	l->req = req;
	l->f = f;
	uv_timer_init(&f->loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, on_late_timer, ms, 0);
}

static void on_async(void *data, struct http_req *req)
{
	reply_later(data, req, 50);
}

static void on_slow(void *data, struct http_req *req)
{
	reply_later(data, req, 400);
}

static void on_prefix(void *data, struct http_req *req)
{
	char out[256];
	int n = snprintf(out, sizeof(out), "%s %s", (const char *)data, http_req_path(req));

	http_reply(req, 200, "text/plain", out, (size_t)n);
}

/* ---- streaming: modes 0 finite, 1 endless, 2 flood (slow client), 3 until stop ---- */

enum { ST_FINITE, ST_ENDLESS, ST_FLOOD, ST_UNTIL_STOP };

static void st_timer_closed(uv_handle_t *h)
{
}

static void stream_finish(struct fx *f)
{
	if (uv_is_active((uv_handle_t *)&f->st_timer) || f->st_mode != ST_UNTIL_STOP) {
		if (!uv_is_closing((uv_handle_t *)&f->st_timer))
			uv_close((uv_handle_t *)&f->st_timer, st_timer_closed);
	}
	http_stream_end(f->st);
	f->st = NULL;
}

static void on_stream_gone(void *data, struct http_stream *st)
{
	struct fx *f = data;

	assert_ptr_equal(st, f->st);
	assert_true(http_stream_is_gone(st));
	assert_int_equal(http_stream_write(st, "x", 1), -EPIPE);
	f->gone_seen++;
	if (!f->stopped)
		f->gone_before_stop = true;
	atomic_store(&f->gone_flag, 1);
	stream_finish(f);
}

static void on_stream_tick(uv_timer_t *t)
{
	static char chunk[16384];
	struct fx *f = t->data;
	char line[64];
	int n, err;

	f->st_ticks++;
	switch (f->st_mode) {
	case ST_FINITE:
		n = snprintf(line, sizeof(line), "data: %d\n\n", f->st_ticks);
		assert_int_equal(http_stream_write(f->st, line, (size_t)n), 0);
		if (f->st_ticks == 3)
			stream_finish(f);
		break;
	case ST_ENDLESS:
		assert_int_equal(http_stream_write(f->st, ": tick\n", 7), 0);
		break;
	case ST_FLOOD:
		memset(chunk, 'z', sizeof(chunk));
		err = http_stream_write(f->st, chunk, sizeof(chunk));
		if (err == -ENOBUFS) {
			f->overflows++;
			assert_true(http_stream_buffered(f->st) <= f->max_buffered);
			atomic_store(&f->overflow_flag, 1);
			uv_timer_stop(t);
		} else {
			assert_int_equal(err, 0);
		}
		break;
	}
}

static void on_stream(void *data, struct http_req *req)
{
	static const char *const hdr[2] = { "Cache-Control", "no-store" };
	struct fx *f = data;

	assert_null(f->st);
	f->st = http_stream_start(req, 200, "text/event-stream", hdr, 1, f->max_buffered,
				  on_stream_gone, f);
	assert_non_null(f->st);
	assert_int_equal(http_stream_write(f->st, "data: 0\n\n", 9), 0);
	if (f->st_mode == ST_UNTIL_STOP)
		return;
	uv_timer_init(&f->loop, &f->st_timer);
	f->st_timer.data = f;
	uv_timer_start(&f->st_timer, on_stream_tick, f->st_mode == ST_FLOOD ? 1 : 20,
		       f->st_mode == ST_FLOOD ? 1 : 20);
}

static void on_stop_now(void *data, struct http_req *req)
{
	struct fx *f = data;

	http_server_stop(f->s);
	reply_later(f, req, 100);
}

/* ---- harness ---- */

static void on_done(uv_async_t *a)
{
	struct fx *f = a->data;

	f->stopped_at = uv_now(&f->loop);
	f->stopped = true;
	http_server_stop(f->s);
	uv_close((uv_handle_t *)a, NULL);
}

static void *client_main(void *arg)
{
	struct fx *f = arg;

	f->client(f);
	if (!f->done_sent)
		uv_async_send(&f->done);
	return NULL;
}

static void fx_start(struct fx *f)
{
	assert_int_equal(uv_loop_init(&f->loop), 0);
	if (!f->opts.address)
		f->opts.address = "127.0.0.1";
	if (!f->opts.max_body)
		f->opts.max_body = MAX_BODY;
	f->s = http_server_new(&f->loop, &f->opts);
	assert_non_null(f->s);
	f->port = http_server_port(f->s);
	assert_true(f->port > 0);
	assert_int_equal(http_server_route(f->s, "GET", "/hello", on_hello, f), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/healthz", on_hello, f), 0);
	assert_int_equal(http_server_route(f->s, "POST", "/echo", on_echo, f), 0);
	assert_int_equal(http_server_route(f->s, "PUT", "/echo", on_echo, f), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/info", on_info, f), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/async", on_async, f), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/slow", on_slow, f), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/stop", on_stop_now, f), 0);
	assert_int_equal(http_server_route_prefix(f->s, "GET", "/p/", on_prefix, "short"), 0);
	assert_int_equal(http_server_route_prefix(f->s, "GET", "/p/long/", on_prefix, "long"), 0);
	assert_int_equal(http_server_route_prefix(f->s, "HEAD", "/p/long/", on_prefix, "long"), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/p/exact", on_prefix, "exact"), 0);
	assert_int_equal(http_server_route_prefix(f->s, "GET", "/pub/", on_prefix, "pub"), 0);
	assert_int_equal(http_server_public_prefix(f->s, "/pub/"), 0);
	assert_int_equal(http_server_route(f->s, "GET", "/stream", on_stream, f), 0);
	assert_int_equal(http_server_route_prefix(f->s, "GET", "", on_prefix, "x"), -EINVAL);
}

/* Runs the loop until the client is done and the server has closed; checks the loop is empty. */
static void fx_run(struct fx *f, void (*client)(struct fx *f))
{
	uint64_t ended;

	fx_start(f);
	f->client = client;
	assert_int_equal(uv_async_init(&f->loop, &f->done, on_done), 0);
	f->done.data = f;
	assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	uv_update_time(&f->loop);
	ended = uv_now(&f->loop);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	http_server_free(f->s);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	/* stop closed idle keep-alive connections at once, not after h2o's 10 s timeout (8 s:
	 * a loaded machine is slow, yet not that slow) */
	assert_true(ended - f->stopped_at < 8000);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, room = sizeof(r->headers) - 1 - r->hlen;

	memcpy(r->headers + r->hlen, p, len < room ? len : room);
	r->hlen += len < room ? len : room;
	r->headers[r->hlen] = '\0';
	return len;
}

static CURL *client_new(void)
{
	CURL *h = curl_easy_init();

	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	return h;
}

static void perform(CURL *h, struct fx *f, const char *method, const char *path,
		    struct curl_slist *hdrs, const char *body, long body_len, struct resp *r)
{
	char url[256];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", f->opts.tls_cert ? "https" : "http",
		 f->port, path);
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, body_len);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	r->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &r->http_version);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &r->local_port);
}

static void request(struct fx *f, const char *method, const char *path, const char *header,
		    const char *body, long body_len, struct resp *r)
{
	struct curl_slist *hdrs = header ? curl_slist_append(NULL, header) : NULL;
	CURL *h = client_new();

	perform(h, f, method, path, hdrs, body, body_len, r);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
}

static void assert_resp(const struct resp *r, long code, const char *body_part)
{
	if (r->rc != CURLE_OK || r->code != code || !strstr(r->body, body_part))
		print_error("want %ld: rc=%d (%s) code=%ld body=%s\n", code, r->rc,
			    curl_easy_strerror(r->rc), r->code, r->body);
	assert_int_equal(r->rc, CURLE_OK);
	assert_int_equal(r->code, code);
	assert_non_null(strstr(r->body, body_part));
}

/* ---- tests ---- */

static void client_dispatch(struct fx *f)
{
	request(f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	request(f, "GET", "/nope", NULL, NULL, 0, &f->r[1]);
	request(f, "GET", "/echo", NULL, NULL, 0, &f->r[2]);
	request(f, "GET", "/info?a=1&b=2", "X-Test: yes", NULL, 0, &f->r[3]);
}

static void test_dispatch(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_dispatch);
	assert_resp(&f.r[0], 200, "hello\n");
	assert_non_null(strcasestr(f.r[0].headers, "content-length: 6"));
	assert_resp(&f.r[1], 404, "not found");
	assert_resp(&f.r[2], 405, "method not allowed");
	assert_non_null(strstr(f.r[2].headers, "allow: POST, PUT\r\n"));
	assert_resp(&f.r[3], 202, "GET /info [a=1&b=2] yes 127.0.0.1:");
	assert_non_null(strstr(f.r[3].headers, "x-reply: yes\r\n"));
	assert_non_null(strstr(f.r[3].headers, "retry-after: 7\r\n"));
}

static char big[64 * 1024];

static void client_echo(struct fx *f)
{
	request(f, "POST", "/echo", NULL, big, MAX_BODY, &f->r[0]);
	request(f, "PUT", "/echo", NULL, "", 0, &f->r[1]);
}

static void test_body_echo(void **state)
{
	struct fx f = { 0 };
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 1);
	big[10] = '\0';
	fx_run(&f, client_echo);
	assert_int_equal(f.r[0].rc, CURLE_OK);
	assert_int_equal(f.r[0].code, 200);
	assert_int_equal(f.r[0].len, MAX_BODY);
	assert_memory_equal(f.r[0].body, big, MAX_BODY);
	assert_resp(&f.r[1], 200, "");
	assert_int_equal(f.r[1].len, 0);
}

struct upload {
	const char *data;
	size_t left;
	size_t chunk;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n;

	if (len > u->chunk)
		len = u->chunk;
	if (len > u->left)
		len = u->left;
	memcpy(buf, u->data, len);
	u->data += len;
	u->left -= len;
	return len;
}

static void chunked(struct fx *f, size_t total, struct resp *r)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	struct upload u = { big, total, 512 };
	CURL *h = client_new();

	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	perform(h, f, "POST", "/echo", hdrs, NULL, 0, r);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
}

/* A raw request whose Content-Length is over the limit, body never sent. */
static void raw_oversized(struct fx *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
	char req[256];
	ssize_t n;
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	n = snprintf(req, sizeof(req),
		     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n");
	if (write(fd, req, (size_t)n) != n)
		goto out;
	while (got < sizeof(f->raw) - 1 &&
	       (n = read(fd, f->raw + got, sizeof(f->raw) - 1 - got)) > 0)
		got += (size_t)n;
	f->raw[got] = '\0';
	sscanf(f->raw, "HTTP/1.1 %d", &f->raw_status);
out:
	close(fd);
}

static void client_too_large(struct fx *f)
{
	request(f, "POST", "/echo", NULL, big, MAX_BODY + 1, &f->r[0]);
	request(f, "POST", "/echo", NULL, big, sizeof(big), &f->r[1]);
	chunked(f, MAX_BODY, &f->r[2]);
	chunked(f, sizeof(big), &f->r[3]);
	raw_oversized(f);
}

static void test_too_large(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_too_large);
	assert_resp(&f.r[0], 413, "too large");
	assert_resp(&f.r[1], 413, "too large");
	assert_resp(&f.r[2], 200, "");
	assert_int_equal(f.r[2].len, MAX_BODY);
	assert_memory_equal(f.r[2].body, big, MAX_BODY);
	assert_resp(&f.r[3], 413, "too large");
	assert_int_equal(f.raw_status, 413);
	assert_non_null(strstr(f.raw, "too large"));
}

static void client_auth(struct fx *f)
{
	request(f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	request(f, "GET", "/hello", "Authorization: Bearer wrong", NULL, 0, &f->r[1]);
	request(f, "GET", "/hello", "Authorization: Bearer " TOKEN, NULL, 0, &f->r[2]);
	request(f, "GET", "/healthz", NULL, NULL, 0, &f->r[3]);
}

static void test_bearer(void **state)
{
	struct fx f = { .opts.bearer_token = TOKEN };

	fx_run(&f, client_auth);
	assert_resp(&f.r[0], 401, "bearer token");
	assert_non_null(strstr(f.r[0].headers, "www-authenticate: Bearer"));
	assert_resp(&f.r[1], 401, "bearer token");
	assert_resp(&f.r[2], 200, "hello");
	assert_resp(&f.r[3], 200, "hello");
}

static void client_keepalive(struct fx *f)
{
	CURL *h = client_new();

	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	perform(h, f, "POST", "/echo", NULL, "abc", 3, &f->r[1]);
	curl_easy_cleanup(h);
}

static void test_keepalive(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_keepalive);
	assert_resp(&f.r[0], 200, "hello");
	assert_resp(&f.r[1], 200, "abc");
	assert_int_equal(f.r[0].connects, 1);
	assert_int_equal(f.r[1].connects, 0);
	assert_int_equal(f.r[0].local_port, f.r[1].local_port);
	assert_non_null(strcasestr(f.r[1].headers, "connection: keep-alive"));
}

static void client_async(struct fx *f)
{
	request(f, "GET", "/async", NULL, NULL, 0, &f->r[0]);
}

static void test_async_reply(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_async);
	assert_resp(&f.r[0], 200, "late\n");
	assert_int_equal(f.late_replies, 1);
	assert_int_equal(f.gone_seen, 0);
}

static void client_disconnect(struct fx *f)
{
	CURL *h = client_new();

	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 100L);
	perform(h, f, "GET", "/slow", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
}

/* HTTP/1.1 stops reading during a request: the late reply meets a closed socket. */
static void test_disconnect_before_reply(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_disconnect);
	assert_int_equal(f.r[0].rc, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(f.late_replies, 1);
}

/* Idle keep-alive connection at stop: closed by the server, the loop ends. */
static void tls_client(CURL *h, bool with_cert, bool h2);

static void client_idle(struct fx *f)
{
	CURL *h = client_new();

	if (f->opts.tls_cert)
		tls_client(h, false, true);
	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	f->done_sent = true;
	uv_async_send(&f->done);
	/* the listener closes once the loop ran the stop: late on a loaded machine, so try
	 * again (10 s at most) until the connection is refused */
	for (int i = 0; i < 200; i++) {
		usleep(50 * 1000);
		perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[1]);
		if (f->r[1].rc == CURLE_COULDNT_CONNECT)
			break;
	}
	curl_easy_cleanup(h);
}

static void test_stop_idle(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_idle);
	assert_resp(&f.r[0], 200, "hello");
	assert_int_equal(f.r[1].rc, CURLE_COULDNT_CONNECT);
}

/* Stop while a request is with its handler: it is answered, then the connection closes. */
static void client_stop_inflight(struct fx *f)
{
	CURL *h = client_new();

	perform(h, f, "GET", "/stop", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
}

static void test_stop_inflight(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_stop_inflight);
	assert_resp(&f.r[0], 200, "late\n");
	assert_non_null(strcasestr(f.r[0].headers, "connection: close"));
}

static void test_bind_errors(void **state)
{
	struct http_server_opts o = { .address = "127.0.0.1" };
	struct http_server *a, *b;
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	a = http_server_new(&loop, &o);
	assert_non_null(a);
	o.port = http_server_port(a);
	errno = 0;
	b = http_server_new(&loop, &o);
	assert_null(b);
	assert_int_equal(errno, EADDRINUSE);
	o.port = 0;
	o.address = "not-an-address";
	errno = 0;
	assert_null(http_server_new(&loop, &o));
	assert_int_equal(errno, EINVAL);
	o.address = "127.0.0.1";
	o.tls_cert = "/nonexistent/cert.pem";
	o.tls_key = "/nonexistent/key.pem";
	errno = 0;
	assert_null(http_server_new(&loop, &o));
	assert_int_equal(errno, ENOENT);
	o.tls_key = NULL;
	errno = 0;
	assert_null(http_server_new(&loop, &o));
	assert_int_equal(errno, EINVAL);

	http_server_stop(a);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	http_server_free(a);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- TLS ---- */

static void tls_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", cert_dir, name);
}

static void tls_client(CURL *h, bool with_cert, bool h2)
{
	char ca[300], crt[300], key[300];

	tls_path(ca, sizeof(ca), "ca.crt");
	tls_path(crt, sizeof(crt), "client.crt");
	tls_path(key, sizeof(key), "client.key");
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
			 h2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	if (with_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(h, CURLOPT_SSLKEY, key);
	}
}

static void client_tls(struct fx *f)
{
	CURL *h = client_new();

	tls_client(h, false, true);
	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	perform(h, f, "POST", "/echo", NULL, "over h2", 7, &f->r[1]);
	curl_easy_cleanup(h);
	h = client_new();
	tls_client(h, false, false);
	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[2]);
	curl_easy_cleanup(h);
	/* the server closes with the body still coming: the lingering close saves the 413 */
	h = client_new();
	tls_client(h, false, false);
	perform(h, f, "POST", "/echo", NULL, big, sizeof(big), &f->r[3]);
	curl_easy_cleanup(h);
}

static struct fx tls_fx(char *crt, char *key, size_t size)
{
	struct fx f = { 0 };

	tls_path(crt, size, "server.crt");
	tls_path(key, size, "server.key");
	f.opts.tls_cert = crt;
	f.opts.tls_key = key;
	return f;
}

static void test_tls(void **state)
{
	char crt[300], key[300];
	struct fx f = tls_fx(crt, key, sizeof(crt));

	fx_run(&f, client_tls);
	assert_resp(&f.r[0], 200, "hello");
	assert_int_equal(f.r[0].http_version, CURL_HTTP_VERSION_2_0);
	assert_resp(&f.r[1], 200, "over h2");
	assert_int_equal(f.r[1].connects, 0);
	assert_resp(&f.r[2], 200, "hello");
	assert_int_equal(f.r[2].http_version, CURL_HTTP_VERSION_1_1);
	assert_resp(&f.r[3], 413, "too large");
}

static void client_mtls(struct fx *f)
{
	CURL *h = client_new();

	tls_client(h, false, false);
	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
	h = client_new();
	tls_client(h, true, true);
	perform(h, f, "GET", "/hello", NULL, NULL, 0, &f->r[1]);
	curl_easy_cleanup(h);
}

static void test_mtls(void **state)
{
	char crt[300], key[300], ca[300];
	struct fx f = tls_fx(crt, key, sizeof(crt));

	tls_path(ca, sizeof(ca), "ca.crt");
	f.opts.tls_client_ca = ca;
	fx_run(&f, client_mtls);
	assert_int_not_equal(f.r[0].rc, CURLE_OK);
	assert_int_not_equal(f.r[0].code, 200);
	assert_resp(&f.r[1], 200, "hello");
}

/* HTTP/2 reads on: the stream is gone before the reply, which then only frees. */
static void client_h2_disconnect(struct fx *f)
{
	CURL *h = client_new();

	tls_client(h, false, true);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 150L);
	perform(h, f, "GET", "/slow", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
}

/* An idle HTTP/2 connection at stop (GOAWAY, then end-of-file): closed, the loop ends. */
static void test_h2_stop_idle(void **state)
{
	char crt[300], key[300];
	struct fx f = tls_fx(crt, key, sizeof(crt));

	fx_run(&f, client_idle);
	assert_resp(&f.r[0], 200, "hello");
	assert_int_equal(f.r[0].http_version, CURL_HTTP_VERSION_2_0);
	assert_int_equal(f.r[1].rc, CURLE_COULDNT_CONNECT);
}

static void test_h2_disconnect_before_reply(void **state)
{
	char crt[300], key[300];
	struct fx f = tls_fx(crt, key, sizeof(crt));

	fx_run(&f, client_h2_disconnect);
	assert_int_equal(f.r[0].rc, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(f.late_replies, 1);
	assert_int_equal(f.gone_seen, 1);
}

/* ---- prefix routes ---- */

static void client_prefix(struct fx *f)
{
	request(f, "GET", "/p/a/b", NULL, NULL, 0, &f->r[0]);
	request(f, "GET", "/p/long/x", NULL, NULL, 0, &f->r[1]);
	request(f, "GET", "/p/exact", NULL, NULL, 0, &f->r[2]);
	request(f, "POST", "/p/long/y", NULL, "b", 1, &f->r[3]);
}

static void test_prefix(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, client_prefix);
	assert_resp(&f.r[0], 200, "short /p/a/b");
	assert_resp(&f.r[1], 200, "long /p/long/x");
	assert_resp(&f.r[2], 200, "exact /p/exact");
	assert_resp(&f.r[3], 405, "method not allowed");
	assert_non_null(strstr(f.r[3].headers, "allow: GET, HEAD\r\n"));
}

static void client_prefix_404(struct fx *f)
{
	request(f, "GET", "/p", NULL, NULL, 0, &f->r[0]);
	request(f, "GET", "/pub/x", NULL, NULL, 0, &f->r[1]);
	request(f, "GET", "/p/x", NULL, NULL, 0, &f->r[2]);
	request(f, "GET", "/p/x", "Authorization: Bearer " TOKEN, NULL, 0, &f->r[3]);
}

/* Under a bearer token: a public prefix is open, the others are not. */
static void test_prefix_public(void **state)
{
	struct fx f = { .opts.bearer_token = TOKEN };

	fx_run(&f, client_prefix_404);
	assert_resp(&f.r[0], 401, "bearer token");
	assert_resp(&f.r[1], 200, "pub /pub/x");
	assert_resp(&f.r[2], 401, "bearer token");
	assert_resp(&f.r[3], 200, "short /p/x");
}

/* ---- streaming ---- */

static void client_stream(struct fx *f)
{
	request(f, "GET", "/stream", NULL, NULL, 0, &f->r[0]);
}

/* Chunks written from timers arrive in order; end() ends the response cleanly. */
static void test_stream(void **state)
{
	struct fx f = { .st_mode = ST_FINITE };

	fx_run(&f, client_stream);
	assert_resp(&f.r[0], 200, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
	assert_int_equal(f.r[0].len, 36);
	assert_non_null(strcasestr(f.r[0].headers, "content-type: text/event-stream"));
	assert_non_null(strcasestr(f.r[0].headers, "cache-control: no-store"));
	assert_non_null(strcasestr(f.r[0].headers, "transfer-encoding: chunked"));
	assert_int_equal(f.gone_seen, 0);
}

static size_t on_body_abort(char *p, size_t size, size_t n, void *arg)
{
	return 0;
}

static void wait_flag(atomic_int *flag)
{
	int i;

	for (i = 0; i < 1000 && !atomic_load(flag); i++)
		usleep(10 * 1000);
}

static void client_stream_abort(struct fx *f)
{
	CURL *h = client_new();

	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_abort);
	perform(h, f, "GET", "/stream", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
	wait_flag(&f->gone_flag);
}

/* The client closes: the next writes fail and the owner hears it is gone, before any stop. */
static void test_stream_client_gone(void **state)
{
	struct fx f = { .st_mode = ST_ENDLESS };

	fx_run(&f, client_stream_abort);
	assert_int_equal(f.r[0].rc, CURLE_WRITE_ERROR);
	assert_int_equal(f.gone_seen, 1);
	assert_true(f.gone_before_stop);
}

static void h2_stream_abort(struct fx *f)
{
	CURL *h = client_new();

	tls_client(h, false, true);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_abort);
	perform(h, f, "GET", "/stream", NULL, NULL, 0, &f->r[0]);
	curl_easy_cleanup(h);
	wait_flag(&f->gone_flag);
}

static void test_h2_stream_client_gone(void **state)
{
	char crt[300], key[300];
	struct fx f = tls_fx(crt, key, sizeof(crt));

	f.st_mode = ST_ENDLESS;
	fx_run(&f, h2_stream_abort);
	assert_int_equal(f.r[0].rc, CURLE_WRITE_ERROR);
	assert_int_equal(f.gone_seen, 1);
	assert_true(f.gone_before_stop);
}

/* A client that does not read: the buffer stays bounded, its connection is closed. */
static void client_stream_slow(struct fx *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
	const char *req = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[65536];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	wait_flag(&f->overflow_flag);
	/* what was sent before the close, then end-of-file (or a reset) */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	f->raw_status = n == 0 || (n < 0 && errno == ECONNRESET) ? 1 : -1;
	wait_flag(&f->gone_flag);
out:
	close(fd);
}

static void test_stream_slow_client(void **state)
{
	struct fx f = { .st_mode = ST_FLOOD, .max_buffered = 64 * 1024 };

	fx_run(&f, client_stream_slow);
	assert_int_equal(f.overflows, 1);
	assert_int_equal(f.raw_status, 1);
	assert_int_equal(f.gone_seen, 1);
	assert_true(f.gone_before_stop);
}

static size_t on_body_then_stop(char *p, size_t size, size_t n, void *arg)
{
	struct fx *f = arg;

	if (!f->done_sent) {
		f->done_sent = true;
		uv_async_send(&f->done);
	}
	return on_body(p, size, n, &f->r[0]);
}

static void client_stream_stop(struct fx *f)
{
	CURL *h = client_new();
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stream", f->port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_then_stop);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &f->r[0]);
	f->r[0].rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->r[0].code);
	curl_easy_cleanup(h);
}

/* Stop with a stream open: the response ends cleanly, the owner hears gone, the loop ends. */
static void test_stream_stop(void **state)
{
	struct fx f = { .st_mode = ST_UNTIL_STOP };

	fx_run(&f, client_stream_stop);
	assert_resp(&f.r[0], 200, "data: 0\n\n");
	assert_int_equal(f.gone_seen, 1);
	assert_false(f.gone_before_stop);
}

static int group_setup(void **state)
{
	char cmd[2048];

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	snprintf(cert_dir, sizeof(cert_dir), "/tmp/lanner-test-http-XXXXXX");
	if (!mkdtemp(cert_dir))
		return -1;
	/* a test CA, a server certificate for 127.0.0.1 and a client certificate */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && (K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
		 "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca && "
		 "openssl req $K -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out server.crt -days 2 -extfile san.ext && "
		 "openssl req $K -keyout client.key -out client.csr -subj /CN=client && "
		 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out client.crt -days 2) >openssl.log 2>&1 || { cat openssl.log; exit 1; }",
		 cert_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cert_dir);
	curl_global_cleanup();
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_body_echo),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_async_reply),
		cmocka_unit_test(test_disconnect_before_reply),
		cmocka_unit_test(test_stop_idle),
		cmocka_unit_test(test_stop_inflight),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_mtls),
		cmocka_unit_test(test_h2_stop_idle),
		cmocka_unit_test(test_h2_disconnect_before_reply),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_public),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_client_gone),
		cmocka_unit_test(test_h2_stream_client_gone),
		cmocka_unit_test(test_stream_slow_client),
		cmocka_unit_test(test_stream_stop),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
