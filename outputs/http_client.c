// SPDX-License-Identifier: Apache-2.0
/*
 * The shared asynchronous HTTP client: libcurl's multi_socket API on a libuv loop, after curl's
 * docs/examples/multi-uv.c. curl tells us which sockets to watch (socket callback -> one
 * uv_poll_t per socket) and when to call it back (timer callback -> one uv_timer_t); we feed
 * events back through curl_fn.multi_socket_action() and drain curl_fn.multi_info_read() each time.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>

#include "config/log.h"
#include "outputs/curl_dl.h"
#include "outputs/http_client.h"

#define HTTP_BODY_KEEP (64 * 1024) /* response bytes kept by default */
#define HTTP_MAX_HOST_CONNECTIONS 64L /* per host: above what any sink runs concurrently */
#define HTTP_MAX_TOTAL_CONNECTIONS 256L
#define HTTP_MAX_CACHED_CONNECTIONS 128L
#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000L

struct http_xfer;

/* One socket curl asked us to watch. */
struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http_client *c;
	struct http_sock *prev, *next;
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_xfer *xfers; /* in flight, doubly linked */
	struct http_sock *socks; /* watched sockets, doubly linked */
	unsigned inflight;
	unsigned open_handles; /* uv handles not yet through their close callback */
	unsigned dispatching; /* depth of callbacks into users */
	bool closing; /* http_client_free() called */
	bool free_deferred; /* ... from inside a user callback */
};

/* One request. */
struct http_xfer {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *headers;
	http_done_fn cb;
	bool (*on_data)(void *data, const char *buf, size_t len);
	void *data;
	char *body; /* response, at most keep bytes + NUL */
	size_t keep;
	bool truncated, truncated_by_oom;
	size_t body_len, body_cap;
	int64_t retry_after_ms;
	struct http_xfer *prev, *next;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	const curl_version_info_data *vi;

	global_rc = curl_fn.global_init(CURL_GLOBAL_DEFAULT);
	if (global_rc != CURLE_OK)
		return;
	/* Without an asynchronous resolver, name lookups would block the loop. */
	vi = curl_fn.version_info(CURLVERSION_NOW);
	if (!(vi->features & CURL_VERSION_ASYNCHDNS))
		log_warn("libcurl %s has no asynchronous resolver: host names in output URLs may "
			 "stall the event loop (use IP addresses)",
			 vi->version);
}

static void client_maybe_free(struct http_client *c)
{
	if (c->closing && c->open_handles == 0 && c->dispatching == 0 && !c->free_deferred)
		free(c);
}

static void handle_closed(struct http_client *c)
{
	c->open_handles--;
	client_maybe_free(c);
}

static void sock_close_cb(uv_handle_t *h)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;

	free(s);
	handle_closed(c);
}

static void timer_close_cb(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void sock_unlink_close(struct http_sock *s)
{
	struct http_client *c = s->c;

	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	uv_close((uv_handle_t *)&s->poll, sock_close_cb);
}

static void xfer_unlink(struct http_xfer *x)
{
	struct http_client *c = x->c;

	if (x->prev)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	c->inflight--;
}

static void xfer_free(struct http_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_fn.easy_cleanup(x->easy);
	curl_fn.slist_free_all(x->headers);
	free(x->body);
	free(x);
}

/* Deliver the result of a finished (or aborted) transfer, then free it. */
static void xfer_finish(struct http_xfer *x, CURLcode code)
{
	struct http_client *c = x->c;
	struct http_response resp = { .curl_code = code, .retry_after_ms = x->retry_after_ms };
	long status = 0;

	curl_fn.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	resp.status = status;
	if (code != CURLE_OK)
		resp.error = x->errbuf[0] ? x->errbuf : curl_fn.easy_strerror(code);
	resp.body = x->body ? x->body : "";
	resp.body_len = x->body_len;
	resp.body_truncated = x->truncated;

	c->dispatching++;
	x->cb(x->data, &resp);
	c->dispatching--;
	xfer_free(x);
}

static void http_client_teardown(struct http_client *c);

/* Drain every completed transfer curl has for us. */
static void check_multi_info(struct http_client *c)
{
	CURLMsg *msg;
	int pending;

	while (c->multi && !c->free_deferred &&
	       (msg = curl_fn.multi_info_read(c->multi, &pending))) {
		struct http_xfer *x = NULL;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		curl_fn.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_fn.multi_remove_handle(c->multi, x->easy);
		xfer_unlink(x);
		xfer_finish(x, code);
	}
	if (c->free_deferred && c->dispatching == 0) {
		c->free_deferred = false;
		http_client_teardown(c);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	/* s may be closed from inside this call (CURL_POLL_REMOVE): don't touch it afterwards. */
	c->dispatching++;
	curl_fn.multi_socket_action(c->multi, s->fd, flags, &running);
	c->dispatching--;
	check_multi_info(c);
}

static void on_timer(uv_timer_t *h)
{
	struct http_client *c = h->data;
	int running;

	c->dispatching++;
	curl_fn.multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	c->dispatching--;
	check_multi_info(c);
}

/* CURLMOPT_SOCKETFUNCTION */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	int events = 0, err;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_fn.multi_assign(c->multi, fd, NULL);
			sock_unlink_close(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		err = uv_poll_init_socket(c->loop, &s->poll, fd);
		if (err < 0) {
			log_error("http client: uv_poll_init_socket(%d): %s", (int)fd,
				  uv_strerror(err));
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->fd = fd;
		s->c = c;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		c->open_handles++;
		curl_fn.multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	err = uv_poll_start(&s->poll, events, on_poll);
	return err < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	if (timeout_ms < 0 || c->closing) {
		uv_timer_stop(&c->timer);
		return 0;
	}
	/* 0 means "as soon as possible": not from inside this callback, so on the next turn. */
	if (timeout_ms == 0)
		timeout_ms = 1;
	return uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

int http_client_load(const char *who)
{
	static atomic_bool logged;
	int err = curl_dl_load();

	if (err && !atomic_exchange(&logged, true))
		log_error("%s: %s", who, curl_dl_error());
	return err;
}

/*
 * libcurl's global state (and with it OpenSSL's: configuration file, providers, several MB of
 * libcrypto made resident) is set up on the first request, not when the client is created: a
 * lanner with no HTTP output or responder in use never pays for it. Loop thread only.
 */
static int client_start(struct http_client *c)
{
	int err;

	if (c->multi)
		return 0;
	err = http_client_load("http client");
	if (err)
		return err;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOMEM;
	c->multi = curl_fn.multi_init();
	if (!c->multi)
		return -ENOMEM;
	curl_fn.multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_fn.multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_fn.multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_fn.multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_fn.multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, HTTP_MAX_HOST_CONNECTIONS);
	curl_fn.multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, HTTP_MAX_TOTAL_CONNECTIONS);
	curl_fn.multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, HTTP_MAX_CACHED_CONNECTIONS);
	return 0;
}

struct http_client *http_client_new(uv_loop_t *loop)
{
	struct http_client *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	err = uv_timer_init(loop, &c->timer);
	if (err < 0) {
		free(c);
		errno = -err;
		return NULL;
	}
	c->timer.data = c;
	c->open_handles = 1;
	return c;
}

static void http_client_teardown(struct http_client *c)
{
	/* Abort what is in flight: each callback still runs once. */
	while (c->xfers) {
		struct http_xfer *x = c->xfers;

		curl_fn.multi_remove_handle(c->multi, x->easy);
		xfer_unlink(x);
		snprintf(x->errbuf, sizeof(x->errbuf), "aborted: HTTP client shut down");
		xfer_finish(x, CURLE_ABORTED_BY_CALLBACK);
	}
	/* Closes cached connections; curl may still call socket_cb with CURL_POLL_REMOVE. */
	if (c->multi)
		curl_fn.multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks) {
		uv_poll_stop(&c->socks->poll);
		sock_unlink_close(c->socks);
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, timer_close_cb);
}

void http_client_free(struct http_client *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	/* From inside a request callback: finish once the dispatch loop unwinds. */
	if (c->dispatching) {
		c->free_deferred = true;
		return;
	}
	http_client_teardown(c);
}

unsigned http_client_inflight(const struct http_client *c)
{
	return c->inflight;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb, room, keep;

	if (x->on_data) {
		long status = 0;

		curl_fn.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			return x->on_data(x->data, ptr, n) ? n : 0;
	}
	/* Keep the first x->keep bytes, swallow (and flag) the rest. */
	room = x->keep - x->body_len;
	keep = n < room ? n : room;
	if (keep < n)
		x->truncated = true;
	if (!keep || x->truncated_by_oom)
		return n;
	if (x->body_len + keep + 1 > x->body_cap) {
		size_t cap = x->body_cap ? x->body_cap : 1024;
		char *p;

		while (cap < x->body_len + keep + 1)
			cap *= 2;
		if (cap > x->keep + 1)
			cap = x->keep + 1;
		p = realloc(x->body, cap);
		if (!p) {
			/* Finish the transfer (the status still counts) with what we have. */
			x->truncated = x->truncated_by_oom = true;
			return n;
		}
		x->body = p;
		x->body_cap = cap;
	}
	memcpy(x->body + x->body_len, ptr, keep);
	x->body_len += keep;
	x->body[x->body_len] = '\0';
	return n;
}

int64_t http_parse_retry_after(const char *value, time_t now)
{
	const char *p = value;
	int64_t secs = 0;
	time_t when;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p)) {
			if (secs > INT64_MAX / 10000)
				secs = INT64_MAX / 10000; /* saturate; the pipeline caps it */
			else
				secs = secs * 10 + (*p - '0');
			p++;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		return *p ? -1 : secs * 1000;
	}
	if (curl_dl_load())
		return -1;
	when = curl_fn.getdate(p, NULL);
	if (when == -1)
		return -1;
	return when <= now ? 0 : (int64_t)(when - now) * 1000;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";
	char value[128];
	size_t vlen;

	/* A new status line (after 100 Continue or a redirect) starts a new header set. */
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		x->retry_after_ms = -1;
		return n;
	}
	if (n <= sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return n;
	vlen = n - (sizeof(name) - 1);
	if (vlen >= sizeof(value))
		return n;
	memcpy(value, buf + sizeof(name) - 1, vlen);
	value[vlen] = '\0';
	while (vlen && (value[vlen - 1] == '\r' || value[vlen - 1] == '\n' ||
			value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		value[--vlen] = '\0';
	x->retry_after_ms = http_parse_retry_after(value, time(NULL));
	return n;
}

bool http_header_valid(const char *name, const char *value)
{
	const unsigned char *p;

	if (!name || !*name)
		return false;
	/* RFC 9110 token characters only in the name. */
	for (p = (const unsigned char *)name; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p))
			return false;
	/* No CR or LF in the value: nothing can smuggle in another header. */
	for (p = (const unsigned char *)(value ? value : ""); *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (!http_header_valid(name, value))
		return -EINVAL;
	/* "Name;" is curl's way to send a header with an empty value. */
	if (asprintf(&line, value && *value ? "%s: %s" : "%s;", name, value) < 0)
		return -ENOMEM;
	l = curl_fn.slist_append(*list, line);
	free(line);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

int http_client_request(struct http_client *c, const struct http_request *req, http_done_fn cb,
			void *data)
{
	const char *method = req->method ? req->method : "GET";
	struct http_xfer *x;
	struct curl_slist *l;
	CURL *e;
	size_t i;
	int err = -ENOMEM;
	CURLMcode mc;

	if (c->closing)
		return -ESHUTDOWN;
	if (!req->url || !cb)
		return -EINVAL;
	err = client_start(c);
	if (err)
		return err;
	err = -ENOMEM;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->c = c;
	x->cb = cb;
	x->data = data;
	x->on_data = req->on_data;
	x->retry_after_ms = -1;
	x->keep = req->max_response_bytes ? req->max_response_bytes : HTTP_BODY_KEEP;
	x->easy = e = curl_fn.easy_init();
	if (!e)
		goto err_free;

	for (i = 0; i < req->n_headers; i++) {
		err = add_header(&x->headers, req->headers[i].name, req->headers[i].value);
		if (err)
			goto err_free;
	}
	err = -ENOMEM;
	if (req->bearer_token && *req->bearer_token) {
		if (!http_header_valid("Authorization", req->bearer_token)) {
			err = -EINVAL;
			goto err_free;
		}
		char *line;

		if (asprintf(&line, "Authorization: Bearer %s", req->bearer_token) < 0)
			goto err_free;
		l = curl_fn.slist_append(x->headers, line);
		free(line);
		if (!l)
			goto err_free;
		x->headers = l;
	}
	/* No "Expect: 100-continue" round trip before a body. */
	l = curl_fn.slist_append(x->headers, "Expect:");
	if (!l)
		goto err_free;
	x->headers = l;

	if (curl_fn.easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK) {
		err = -EINVAL;
		goto err_free;
	}
	curl_fn.easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_fn.easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_fn.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_fn.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_fn.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_fn.easy_setopt(e, CURLOPT_USERAGENT, "lanner/" LANNER_VERSION);
	curl_fn.easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_fn.easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_fn.easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_fn.easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_fn.easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_fn.easy_setopt(e, CURLOPT_TIMEOUT_MS,
			    req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
	curl_fn.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			    req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
							  HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	curl_fn.easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (req->insecure) {
		curl_fn.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_fn.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (req->ca_file)
		curl_fn.easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	if (req->cert_file)
		curl_fn.easy_setopt(e, CURLOPT_SSLCERT, req->cert_file);
	if (req->key_file)
		curl_fn.easy_setopt(e, CURLOPT_SSLKEY, req->key_file);

	/* Method and body; the body is copied so the caller's buffer may go right away. */
	if (strcmp(method, "GET") == 0) {
		curl_fn.easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_fn.easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (!req->body && strcmp(method, "POST") && strcmp(method, "PUT") &&
		   strcmp(method, "PATCH")) {
		/* DELETE and friends without a body: no Content-Length, no form Content-Type. */
		curl_fn.easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else {
		if (strcmp(method, "POST") != 0)
			curl_fn.easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_fn.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				    (curl_off_t)(req->body ? req->body_len : 0));
		if (curl_fn.easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") !=
		    CURLE_OK)
			goto err_free;
	}

	mc = curl_fn.multi_add_handle(c->multi, e);
	if (mc != CURLM_OK) {
		err = mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
		goto err_free;
	}
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	c->inflight++;
	return 0;

err_free:
	xfer_free(x);
	return err;
}

/* curl errors that retrying cannot fix: the request or the configuration is wrong. */
static bool curl_code_permanent(int code)
{
	switch (code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_TOO_MANY_REDIRECTS:
		return true;
	default:
		return false;
	}
}

/* libcurl's text for a CURLcode, also when libcurl could not be loaded. */
static const char *curl_strerror(int code)
{
	return curl_dl_load() ? "libcurl error" : curl_fn.easy_strerror((CURLcode)code);
}

/* Append up to ~160 printable bytes of the server's answer: that is usually the reason. */
static void append_body_snippet(char *msg, size_t size, const char *body, size_t len)
{
	size_t off = strlen(msg), i;

	if (!body || !len || off + 4 >= size)
		return;
	msg[off++] = ':';
	msg[off++] = ' ';
	for (i = 0; i < len && i < 160 && off + 1 < size; i++) {
		unsigned char ch = (unsigned char)body[i];

		msg[off++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	while (off > 0 && msg[off - 1] == ' ')
		off--;
	msg[off] = '\0';
}

void http_response_status(const struct http_response *resp, struct sink_status *st)
{
	long s = resp->status;

	st->retry_after_ms = -1;
	if (resp->curl_code != CURLE_OK) {
		sink_status_set(st, curl_code_permanent(resp->curl_code) ? SINK_FAIL : SINK_RETRY,
				"%s", resp->error ? resp->error : curl_strerror(resp->curl_code));
		return;
	}
	if (s >= 200 && s < 300) {
		sink_status_set(st, SINK_OK, "HTTP %ld", s);
		return;
	}
	if (s >= 300 && s < 400) {
		sink_status_set(
			st, SINK_FAIL,
			"HTTP %ld: redirects are not followed; set the final URL as address", s);
		return;
	}
	if (s == 0) {
		sink_status_set(st, SINK_RETRY, "no HTTP status received");
		return;
	}
	if (s >= 500 || s == 408 || s == 429) {
		sink_status_set(st, SINK_RETRY, "HTTP %ld", s);
		st->retry_after_ms = resp->retry_after_ms;
	} else {
		sink_status_set(st, SINK_FAIL, "HTTP %ld", s);
	}
	append_body_snippet(st->msg, sizeof(st->msg), resp->body, resp->body_len);
}
