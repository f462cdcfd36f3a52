// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP server on libh2o 2.2.5 (libuv build): one host, one catch-all handler of ours that
 * dispatches on the exact normalized path, then the method. We own the listening socket and
 * every accepted uv_tcp_t, so stop can close idle connections and wait for busy ones.
 */
#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <h2o.h>
#include <h2o/http2.h>

#include "config/log.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define LISTEN_BACKLOG 1024
#define LINGER_MS 2000
#define RECYCLED_BUFFERS 128 /* h2o socket input buffers kept for reuse */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct route {
	char *method;
	char *path;
	size_t path_len;
	bool prefix; /* path is a prefix */
	http_handler_fn fn;
	void *data;
};

/* One accepted connection; h2o owns the socket, we keep the handle to shut it at stop. */
struct conn {
	uv_tcp_t tcp;
	h2o_socket_t *sock; /* NULL once h2o closed it */
	h2o_linklist_t link; /* server->conns, until the lingering close ends */
	int linger_fd; /* a dup of the socket for the lingering close, or -1 */
	uv_poll_t linger_poll;
	uv_timer_t linger_timer;
	int linger_handles; /* linger handles not yet closed */
};

struct dispatch_handler {
	h2o_handler_t super;
	struct http_server *s;
};

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool stopping;
	int port;
	size_t max_body;
	bool auth;
	unsigned char token_digest[SHA256_DIGEST_LENGTH];
	SSL_CTX *ssl_ctx;
	h2o_globalconf_t conf;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	struct route *routes;
	size_t n_routes;
	char **public_prefixes; /* skip the bearer token */
	size_t n_public;
	h2o_linklist_t conns; /* struct conn */
	h2o_linklist_t reqs; /* struct http_req handed to a handler, not yet replied */
	h2o_linklist_t streams; /* struct stream_gen of streaming responses */
	h2o_linklist_t gone; /* struct http_stream whose gone callback is due */
	uv_timer_t gone_timer; /* runs those callbacks outside h2o's and the owner's calls */
};

/*
 * A streaming response: the generator lives in the request's pool (h2o may use its buffers
 * until the request is disposed), the owner's handle is malloc'd; each forgets the other when
 * it goes first.
 */
struct stream_gen {
	h2o_generator_t super;
	struct http_server *s;
	h2o_req_t *req;
	struct http_stream *st; /* NULL once the owner ended it */
	h2o_linklist_t link; /* s->streams */
	char *sending; /* handed to h2o, until proceed */
	size_t sending_len, sending_cap;
	char *pending; /* written since */
	size_t pending_len, pending_cap;
	size_t max;
	bool busy; /* an h2o_send is in progress */
	bool ending; /* send FINAL once the buffers drained */
	bool done; /* FINAL or ERROR sent, or h2o stopped us */
};

struct http_stream {
	struct stream_gen *gen; /* NULL once gone */
	struct http_server *s;
	http_stream_gone_fn gone;
	void *data;
	bool is_gone;
	h2o_linklist_t gone_link; /* s->gone while the callback is due */
};

/*
 * The handle a route gets. It is malloc'd, not in the request's pool: a handler may reply after
 * h2o disposed the request (HTTP/2 stream reset, connection lost). A small shared object in the
 * pool points back here; its dispose callback clears req, so http_reply() then only frees.
 */
struct http_req {
	struct http_server *s;
	h2o_req_t *req; /* NULL once h2o disposed the request */
	struct http_req **sentinel; /* in req's pool, NULL once detached */
	h2o_linklist_t link; /* s->reqs */
	const char *method;
	const char *path;
	const char *query;
	char peer[64]; /* formatted on the first http_req_peer(), empty until then */
	char strings[]; /* method, path, query, NUL-terminated */
};

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	if (status < 200)
		return "Informational";
	if (status < 300)
		return "Success";
	if (status < 400)
		return "Redirection";
	if (status < 500)
		return "Client Error";
	return "Server Error";
}

/* Headers and body go into the request's pool: h2o may send them after we return. */
static void send_response(h2o_req_t *req, int status, const char *content_type,
			  const char *const *headers, size_t n_headers, const char *body,
			  size_t len)
{
	size_t i;

	req->res.status = status;
	req->res.reason = reason_phrase(status);
	if (content_type) {
		h2o_iovec_t ct = h2o_strdup(&req->pool, content_type, SIZE_MAX);

		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct.base,
			       ct.len);
	}
	for (i = 0; i < n_headers; i++) {
		h2o_iovec_t name = h2o_strdup(&req->pool, headers[2 * i], SIZE_MAX);
		h2o_iovec_t value = h2o_strdup(&req->pool, headers[2 * i + 1], SIZE_MAX);

		/* HTTP/2 wants lower-case names, and h2o looks its tokens up in lower case */
		h2o_strtolower(name.base, name.len);
		h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
				      value.base, value.len);
	}
	req->res.content_length = len;
	h2o_send_inline(req, body ? body : "", len);
}

static void send_text(h2o_req_t *req, int status, const char *const *headers, size_t n_headers,
		      const char *msg)
{
	send_response(req, status, "text/plain; charset=utf-8", headers, n_headers, msg,
		      strlen(msg));
}

static bool iov_eq(h2o_iovec_t v, const char *s)
{
	size_t n = strlen(s);

	return v.len == n && memcmp(v.base, s, n) == 0;
}

static bool iov_has_prefix(h2o_iovec_t v, const char *prefix, size_t n)
{
	return v.len >= n && memcmp(v.base, prefix, n) == 0;
}

/*
 * GET /healthz and /ping stay open for probes when a bearer token is configured; public
 * prefixes authenticate in their handlers.
 */
static bool auth_exempt(const struct http_server *s, h2o_iovec_t path)
{
	size_t i;

	if (iov_eq(path, "/healthz") || iov_eq(path, "/ping"))
		return true;
	for (i = 0; i < s->n_public; i++) {
		if (iov_has_prefix(path, s->public_prefixes[i], strlen(s->public_prefixes[i])))
			return true;
	}
	return false;
}

/*
 * The routes a path is for: the exact ones (prefix_len 0) if any, else those of the longest
 * matching prefix (prefix_len = its length). False when none.
 */
static bool match_len(const struct http_server *s, h2o_iovec_t path, size_t *prefix_len)
{
	size_t i, best = 0;

	for (i = 0; i < s->n_routes; i++) {
		const struct route *rt = &s->routes[i];

		if (!rt->prefix && iov_eq(path, rt->path)) {
			*prefix_len = 0;
			return true;
		}
		if (rt->prefix && rt->path_len > best &&
		    iov_has_prefix(path, rt->path, rt->path_len))
			best = rt->path_len;
	}
	*prefix_len = best;
	return best > 0;
}

static bool route_hit(const struct route *rt, h2o_iovec_t path, size_t prefix_len)
{
	if (!prefix_len)
		return !rt->prefix && iov_eq(path, rt->path);
	return rt->prefix && rt->path_len == prefix_len &&
	       iov_has_prefix(path, rt->path, rt->path_len);
}

/* Compare digests, so the time taken says nothing about the token, not even its length. */
static bool authorized(const struct http_server *s, const h2o_req_t *req)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const h2o_iovec_t *v;
	const char *p, *end;
	ssize_t i;

	i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i < 0)
		return false;
	v = &req->headers.entries[i].value;
	if (v->len < 7 || strncasecmp(v->base, "bearer ", 7) != 0)
		return false;
	p = v->base + 7;
	end = v->base + v->len;
	while (p < end && *p == ' ')
		p++;
	while (end > p && end[-1] == ' ')
		end--;
	SHA256((const unsigned char *)p, (size_t)(end - p), digest);
	return CRYPTO_memcmp(digest, s->token_digest, sizeof(digest)) == 0;
}

static void format_peer(h2o_req_t *req, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN];
	socklen_t len;

	snprintf(buf, size, "unknown");
	len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
	if (len == 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)))
			snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
			snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static void on_req_pool_dispose(void *p)
{
	struct http_req **slot = p;

	if (*slot) {
		(*slot)->req = NULL;
		(*slot)->sentinel = NULL;
	}
}

static struct http_req *req_new(struct http_server *s, h2o_req_t *req)
{
	size_t ml = req->method.len, pl = req->path_normalized.len, ql = 0;
	const char *query = "";
	struct http_req *r;
	char *p;

	if (req->query_at != SIZE_MAX) {
		query = req->path.base + req->query_at + 1;
		ql = req->path.len - req->query_at - 1;
	}
	r = malloc(sizeof(*r) + ml + pl + ql + 3);
	if (!r)
		return NULL;
	r->s = s;
	r->req = req;
	p = r->strings;
	r->method = memcpy(p, req->method.base, ml);
	p[ml] = '\0';
	p += ml + 1;
	r->path = memcpy(p, req->path_normalized.base, pl);
	p[pl] = '\0';
	p += pl + 1;
	r->query = memcpy(p, query, ql);
	p[ql] = '\0';
	/* formatting the peer (inet_ntop, snprintf) is for the rare log line that asks */
	r->peer[0] = '\0';
	/* h2o_mem_alloc_shared aborts on ENOMEM, as all of h2o does */
	r->sentinel = h2o_mem_alloc_shared(&req->pool, sizeof(*r->sentinel), on_req_pool_dispose);
	*r->sentinel = r;
	r->link = (h2o_linklist_t){ NULL, NULL };
	h2o_linklist_insert(&s->reqs, &r->link);
	return r;
}

static void send_not_allowed(struct http_server *s, h2o_req_t *req, size_t prefix_len)
{
	char allow[256];
	size_t i, n = 0;
	const char *hdr[2] = { "Allow", allow };

	allow[0] = '\0';
	for (i = 0; i < s->n_routes; i++) {
		if (!route_hit(&s->routes[i], req->path_normalized, prefix_len))
			continue;
		n += (size_t)snprintf(allow + n, n < sizeof(allow) ? sizeof(allow) - n : 0, "%s%s",
				      n ? ", " : "", s->routes[i].method);
		if (n >= sizeof(allow)) {
			n = sizeof(allow) - 1;
			break;
		}
	}
	send_text(req, 405, hdr, 1, "method not allowed\n");
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct http_server *s = container_of(self, struct dispatch_handler, super)->s;
	const struct route *rt = NULL;
	bool path_known;
	struct http_req *r;
	size_t i, prefix_len;

	if (s->auth && !auth_exempt(s, req->path_normalized) && !authorized(s, req)) {
		static const char *const hdr[2] = { "WWW-Authenticate", "Bearer realm=\"lanner\"" };

		send_text(req, 401, hdr, 1, "missing or invalid bearer token\n");
		return 0;
	}
	path_known = match_len(s, req->path_normalized, &prefix_len);
	for (i = 0; i < s->n_routes && path_known && !rt; i++) {
		if (route_hit(&s->routes[i], req->path_normalized, prefix_len) &&
		    iov_eq(req->method, s->routes[i].method))
			rt = &s->routes[i];
	}
	if (!rt) {
		if (path_known)
			send_not_allowed(s, req, prefix_len);
		else
			send_text(req, 404, NULL, 0, "not found\n");
		return 0;
	}
	/* h2o's limit is max_body + 1 (its chunked check is >=): the exact bound is ours */
	if (req->entity.len > s->max_body) {
		send_text(req, 413, NULL, 0, "request entity is too large\n");
		return 0;
	}
	r = req_new(s, req);
	if (!r) {
		send_text(req, 503, NULL, 0, "out of memory\n");
		return 0;
	}
	rt->fn(rt->data, r);
	return 0;
}

static void conn_release(struct conn *c)
{
	h2o_linklist_unlink(&c->link);
	free(c);
}

static void on_linger_handle_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->linger_handles == 0) {
		close(c->linger_fd);
		conn_release(c);
	}
}

static void linger_end(struct conn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->linger_poll))
		return;
	uv_close((uv_handle_t *)&c->linger_poll, on_linger_handle_close);
	uv_close((uv_handle_t *)&c->linger_timer, on_linger_handle_close);
}

static void on_linger_timeout(uv_timer_t *t)
{
	linger_end(t->data);
}

/* Discard what the client still sends; true once it closed (or failed). Bounded per call. */
static bool linger_drain(int fd)
{
	char buf[16384];
	ssize_t n = 0;
	int i;

	for (i = 0; i < 16; i++) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
	}
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void on_linger_readable(uv_poll_t *p, int status, int events)
{
	struct conn *c = p->data;

	if (status < 0 || linger_drain(c->linger_fd))
		linger_end(c);
}

/*
 * h2o closed the socket, maybe while the client was still sending (413 on a large body,
 * "Connection: close"): closing with unread data resets the connection, and the reset can
 * destroy the response before the client reads it. The dup keeps the socket open: send FIN,
 * discard input until the client closes or LINGER_MS passed, then close (nginx's lingering
 * close).
 */
static void on_conn_close(uv_handle_t *h)
{
	struct conn *c = container_of(h, struct conn, tcp);

	c->sock = NULL;
	if (c->linger_fd < 0)
		goto release;
	if (shutdown(c->linger_fd, SHUT_WR) != 0 || linger_drain(c->linger_fd) ||
	    uv_poll_init(h->loop, &c->linger_poll, c->linger_fd) != 0)
		goto close_fd;
	c->linger_poll.data = c;
	uv_timer_init(h->loop, &c->linger_timer);
	c->linger_timer.data = c;
	c->linger_handles = 2;
	uv_poll_start(&c->linger_poll, UV_READABLE | UV_DISCONNECT, on_linger_readable);
	uv_timer_start(&c->linger_timer, on_linger_timeout, LINGER_MS, 0);
	return;

close_fd:
	close(c->linger_fd);
release:
	conn_release(c);
}

static void on_rejected_close(uv_handle_t *h)
{
	free(container_of(h, struct conn, tcp));
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct http_server *s = container_of(listener, struct http_server, listener);
	struct conn *c;
	uv_os_fd_t fd;

	if (status < 0) {
		log_warn("http: accept: %s", uv_strerror(status));
		return;
	}
	/* h2o_mem_alloc aborts on ENOMEM: a connection not accepted would stall the listener */
	c = h2o_mem_alloc(sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->linger_fd = -1;
	uv_tcp_init(s->loop, &c->tcp);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_rejected_close);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		c->linger_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	h2o_linklist_insert(&s->conns, &c->link);
	c->sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
	h2o_accept(&s->accept_ctx, c->sock);
}

static void tls_log_error(const char *what, const char *path)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	log_error("http: %s %s: %s", what, path, buf);
	ERR_clear_error();
}

static int tls_init(struct http_server *s, const struct http_server_opts *o)
{
	const char *files[] = { o->tls_cert, o->tls_key, o->tls_client_ca };
	STACK_OF(X509_NAME) * names;
	SSL_CTX *ctx;
	size_t i;
	int err;

	/* a missing file is the common mistake: say ENOENT/EACCES, not EINVAL */
	for (i = 0; i < 3; i++) {
		if (files[i] && access(files[i], R_OK) != 0) {
			err = -errno;
			log_error("http: %s: %s", files[i], strerror(-err));
			return err;
		}
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
		tls_log_error("loading certificate", o->tls_cert);
		goto err_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_error("loading private key", o->tls_key);
		goto err_free;
	}
	if (o->tls_client_ca) {
		if (SSL_CTX_load_verify_locations(ctx, o->tls_client_ca, NULL) != 1) {
			tls_log_error("loading client CA", o->tls_client_ca);
			goto err_free;
		}
		names = SSL_load_client_CA_file(o->tls_client_ca);
		if (!names) {
			tls_log_error("loading client CA names", o->tls_client_ca);
			goto err_free;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
	s->ssl_ctx = ctx;
	return 0;

err_free:
	SSL_CTX_free(ctx);
	return -EINVAL;
}

/* Plain syscalls, so a failure leaves no libuv handle behind to close. */
static int listen_socket(const char *address, int port, int *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	memset(&ss, 0, sizeof(ss));
	if (!address || !*address)
		address = "0.0.0.0";
	if (uv_ip4_addr(address, port, (struct sockaddr_in *)&ss) == 0)
		len = sizeof(struct sockaddr_in);
	else if (uv_ip6_addr(address, port, (struct sockaddr_in6 *)&ss) == 0)
		len = sizeof(struct sockaddr_in6);
	else
		return -EINVAL;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		goto err_close;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		goto err_close;
	*bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;

err_close:
	err = -errno;
	close(fd);
	return err;
}

/*
 * h2o's context keeps a uv_async (its cross-thread queue, whose first member it is) and timers
 * embedded in the context. Unreferenced, they no longer keep the loop alive once the server is
 * stopped; while a connection is open its own handle does.
 */
static void unref_context_handle(uv_handle_t *h, void *arg)
{
	struct http_server *s = arg;
	const char *p = (const char *)h, *ctx = (const char *)&s->ctx;

	if ((p >= ctx && p < ctx + sizeof(s->ctx)) ||
	    (h->type == UV_ASYNC && (void *)h == (void *)s->ctx.queue))
		uv_unref(h);
}

static void server_dispose(struct http_server *s)
{
	h2o_linklist_t *node;
	size_t i;

	/* handlers that still hold a request (gone) reply later: detach them from s */
	while (!h2o_linklist_is_empty(&s->reqs)) {
		node = s->reqs.next;
		h2o_linklist_unlink(node);
		container_of(node, struct http_req, link)->s = NULL;
	}
	while (!h2o_linklist_is_empty(&s->gone)) {
		node = s->gone.next;
		h2o_linklist_unlink(node);
		container_of(node, struct http_stream, gone_link)->s = NULL;
	}
	uv_close((uv_handle_t *)&s->gone_timer, NULL);
	/* a stopped HTTP/2 graceful shutdown may still sit in the one-second timeout */
	h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
	/* runs the loop once (UV_RUN_NOWAIT) to finish the closes, ours included */
	h2o_context_dispose(&s->ctx);
	h2o_config_dispose(&s->conf);
	SSL_CTX_free(s->ssl_ctx);
	for (i = 0; i < s->n_routes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
	}
	free(s->routes);
	for (i = 0; i < s->n_public; i++)
		free(s->public_prefixes[i]);
	free(s->public_prefixes);
	free(s);
}

/* Each connection holds two descriptors (see on_conn_close): use the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_opts *opts)
{
	struct dispatch_handler *handler;
	h2o_hostconf_t *host;
	struct http_server *s;
	int fd, err;

	if (!loop || !opts || opts->port < 0 || opts->port > 65535 ||
	    !opts->tls_cert != !opts->tls_key || (opts->tls_client_ca && !opts->tls_cert) ||
	    (opts->bearer_token && !*opts->bearer_token)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
	if (opts->bearer_token) {
		s->auth = true;
		SHA256((const unsigned char *)opts->bearer_token, strlen(opts->bearer_token),
		       s->token_digest);
	}
	h2o_linklist_init_anchor(&s->conns);
	h2o_linklist_init_anchor(&s->reqs);
	h2o_linklist_init_anchor(&s->streams);
	h2o_linklist_init_anchor(&s->gone);
	if (opts->tls_cert) {
		err = tls_init(s, opts);
		if (err)
			goto err_free;
	}
	fd = listen_socket(opts->address, opts->port, &s->port);
	if (fd < 0) {
		err = fd;
		goto err_free_tls;
	}
	/* a peer that closes first must not kill us on the next write */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	/*
	 * h2o frees a connection's input buffer each time it is drained (once per request) and
	 * keeps 16 for reuse: past 16 busy connections every request paid a malloc and free of
	 * 8 KB, which also consolidates the small chunks jansson just freed. Keep up to 128
	 * (1 MiB at most, once that many connections were busy at once).
	 */
	if (h2o_socket_buffer_prototype.allocator.max < RECYCLED_BUFFERS)
		h2o_socket_buffer_prototype.allocator.max = RECYCLED_BUFFERS;
	h2o_config_init(&s->conf);
	s->conf.max_request_entity_size = s->max_body + 1;
	s->conf.http1.upgrade_to_http2 = 0;
	s->conf.server_name = h2o_iovec_init(H2O_STRLIT("lanner"));
	host = h2o_config_register_host(&s->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	handler = (void *)h2o_create_handler(h2o_config_register_path(host, "/", 0),
					     sizeof(*handler));
	handler->super.on_req = on_req;
	handler->s = s;
	h2o_context_init(&s->ctx, loop, &s->conf);
	uv_walk(loop, unref_context_handle, s);
	s->accept_ctx.ctx = &s->ctx;
	s->accept_ctx.hosts = s->conf.hosts;
	s->accept_ctx.ssl_ctx = s->ssl_ctx;

	uv_timer_init(loop, &s->gone_timer);
	s->gone_timer.data = s;
	uv_unref((uv_handle_t *)&s->gone_timer);
	err = uv_tcp_init(loop, &s->listener);
	if (err) {
		close(fd);
		goto err_dispose;
	}
	err = uv_tcp_open(&s->listener, fd);
	if (err)
		close(fd);
	else
		err = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
	if (err) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		goto err_dispose;
	}
	return s;

err_dispose:
	uv_close((uv_handle_t *)&s->gone_timer, NULL);
	/* runs the loop once, which completes the listener's close */
	h2o_context_dispose(&s->ctx);
	h2o_config_dispose(&s->conf);
err_free_tls:
	SSL_CTX_free(s->ssl_ctx);
err_free:
	free(s);
	errno = err < 0 ? -err : ENOMEM;
	return NULL;
}

/* An open connection is busy when its request is being read or is with a handler. */
static bool conn_busy(const struct http_server *s, const struct conn *c)
{
	const h2o_linklist_t *node;

	if (c->sock->input && c->sock->input->size)
		return true;
	for (node = s->reqs.next; node != &s->reqs; node = node->next) {
		const struct http_req *r = container_of(node, struct http_req, link);

		if (r->req && (void *)r->req->conn == c->sock->data)
			return true;
	}
	for (node = s->streams.next; node != &s->streams; node = node->next) {
		const struct stream_gen *g = container_of(node, struct stream_gen, link);

		if ((void *)g->req->conn == c->sock->data)
			return true;
	}
	return false;
}

static void stream_flush(struct stream_gen *g);

void http_server_stop(struct http_server *s)
{
	h2o_linklist_t *node;

	if (!s || s->stopping)
		return;
	s->stopping = true;
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	/* HTTP/1: no more keep-alive; HTTP/2: GOAWAY */
	h2o_context_request_shutdown(&s->ctx);
	/* streaming responses end after what is buffered; their owners hear they are gone */
	for (node = s->streams.next; node != &s->streams;) {
		struct stream_gen *g = container_of(node, struct stream_gen, link);

		node = node->next;
		if (g->req->version < 0x200)
			g->req->http1_is_persistent = 0;
		g->ending = true;
		/* may dispose g synchronously: node was read first */
		stream_flush(g);
	}
	/*
	 * An idle connection gets end-of-file on its read side, so h2o closes it as if the peer
	 * had; busy ones close after their response (see http_reply_headers).
	 */
	for (node = s->conns.next; node != &s->conns; node = node->next) {
		struct conn *c = container_of(node, struct conn, link);
		uv_os_fd_t fd;

		if (!c->sock || uv_is_closing((uv_handle_t *)&c->tcp) || conn_busy(s, c))
			continue;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			shutdown(fd, SHUT_RD);
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	if (!h2o_linklist_is_empty(&s->conns)) {
		/* h2o would abort on its linked timeouts: leaking is the lesser harm */
		log_error("http: server freed with connections open; run the loop after stop");
		return;
	}
	if (uv_is_closing((uv_handle_t *)&s->ctx.zero_timeout._backend.timer)) {
		/* h2o would close them again and abort: leak, and say why */
		log_error("http: h2o's handles were closed before http_server_free (uv_walk?); "
			  "free the server first");
		return;
	}
	server_dispose(s);
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

static int add_route(struct http_server *s, const char *method, const char *path, bool prefix,
		     http_handler_fn fn, void *data)
{
	struct route *routes, *rt;

	if (!s || !method || !path || !fn || (prefix && !*path))
		return -EINVAL;
	routes = realloc(s->routes, (s->n_routes + 1) * sizeof(*routes));
	if (!routes)
		return -ENOMEM;
	s->routes = routes;
	rt = &routes[s->n_routes];
	rt->method = strdup(method);
	rt->path = strdup(path);
	if (!rt->method || !rt->path) {
		free(rt->method);
		free(rt->path);
		return -ENOMEM;
	}
	rt->path_len = strlen(path);
	rt->prefix = prefix;
	rt->fn = fn;
	rt->data = data;
	s->n_routes++;
	return 0;
}

int http_server_route(struct http_server *s, const char *method, const char *path,
		      http_handler_fn fn, void *data)
{
	return add_route(s, method, path, false, fn, data);
}

int http_server_route_prefix(struct http_server *s, const char *method, const char *prefix,
			     http_handler_fn fn, void *data)
{
	return add_route(s, method, prefix, true, fn, data);
}

int http_server_public_prefix(struct http_server *s, const char *prefix)
{
	char **v, *p;

	if (!s || !prefix || !*prefix)
		return -EINVAL;
	v = realloc(s->public_prefixes, (s->n_public + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->public_prefixes = v;
	p = strdup(prefix);
	if (!p)
		return -ENOMEM;
	v[s->n_public++] = p;
	return 0;
}

const char *http_req_method(const struct http_req *r)
{
	return r->method;
}

const char *http_req_path(const struct http_req *r)
{
	return r->path;
}

const char *http_req_query(const struct http_req *r)
{
	return r->query;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
	if (!r->req || !r->req->entity.base) {
		*len = 0;
		return r->req ? "" : NULL;
	}
	*len = r->req->entity.len;
	return r->req->entity.base;
}

const char *http_req_header(const struct http_req *r, const char *name, size_t *len)
{
	size_t i, n = strlen(name);

	if (!r->req)
		return NULL;
	for (i = 0; i < r->req->headers.size; i++) {
		const h2o_header_t *h = &r->req->headers.entries[i];

		if (h->name->len == n && strncasecmp(h->name->base, name, n) == 0) {
			*len = h->value.len;
			return h->value.base;
		}
	}
	return NULL;
}

const char *http_req_peer(const struct http_req *r)
{
	struct http_req *m = (struct http_req *)r;

	/* a cache of what the request already says; once it is gone, the peer is unknown */
	if (!r->peer[0]) {
		if (r->req)
			format_peer(r->req, m->peer, sizeof(m->peer));
		else
			snprintf(m->peer, sizeof(m->peer), "unknown");
	}
	return r->peer;
}

bool http_req_gone(const struct http_req *r)
{
	return !r->req;
}

void http_reply_headers(struct http_req *r, int status, const char *content_type,
			const char *const *headers, size_t n_headers, const char *body, size_t len)
{
	h2o_req_t *req = r->req;

	/* detach first: sending may dispose the request (and its pool) synchronously */
	if (r->sentinel)
		*r->sentinel = NULL;
	if (h2o_linklist_is_linked(&r->link))
		h2o_linklist_unlink(&r->link);
	if (req) {
		if (r->s->stopping && req->version < 0x200)
			req->http1_is_persistent = 0;
		send_response(req, status, content_type, headers, n_headers, body, len);
	}
	free(r);
}

void http_reply(struct http_req *r, int status, const char *content_type, const char *body,
		size_t len)
{
	http_reply_headers(r, status, content_type, NULL, 0, body, len);
}

/* ---- streaming responses ---- */

#define DEFAULT_MAX_BUFFERED (1024 * 1024)

static void on_gone_timer(uv_timer_t *t)
{
	struct http_server *s = t->data;
	struct http_stream *st;

	/* one at a time: a callback may end other streams (unlinking them) */
	while (!h2o_linklist_is_empty(&s->gone)) {
		st = container_of(s->gone.next, struct http_stream, gone_link);
		h2o_linklist_unlink(&st->gone_link);
		st->gone(st->data, st);
	}
	uv_unref((uv_handle_t *)&s->gone_timer);
}

/* The client is gone: tell the owner from the loop, never inside h2o or the owner's call. */
static void stream_detach(struct stream_gen *g)
{
	struct http_stream *st = g->st;

	g->st = NULL;
	if (!st)
		return;
	st->gen = NULL;
	st->is_gone = true;
	if (st->gone && st->s) {
		h2o_linklist_insert(&g->s->gone, &st->gone_link);
		/* referenced while a callback is due, so the loop runs it */
		uv_ref((uv_handle_t *)&g->s->gone_timer);
		uv_timer_start(&g->s->gone_timer, on_gone_timer, 0, 0);
	}
}

static void on_gen_dispose(void *p)
{
	struct stream_gen *g = p;

	if (h2o_linklist_is_linked(&g->link))
		h2o_linklist_unlink(&g->link);
	stream_detach(g);
	free(g->sending);
	free(g->pending);
}

/* Hand the pending bytes (and the end) to h2o when it is not busy. May dispose g. */
static void stream_flush(struct stream_gen *g)
{
	h2o_iovec_t buf;
	char *tmp;
	size_t cap;

	if (g->busy || g->done)
		return;
	if (!g->pending_len && !g->ending)
		return;
	tmp = g->sending;
	cap = g->sending_cap;
	g->sending = g->pending;
	g->sending_cap = g->pending_cap;
	g->sending_len = g->pending_len;
	g->pending = tmp;
	g->pending_cap = cap;
	g->pending_len = 0;
	buf = h2o_iovec_init(g->sending, g->sending_len);
	g->busy = true;
	if (g->ending)
		g->done = true;
	h2o_send(g->req, &buf, buf.len ? 1 : 0,
		 g->ending ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_gen_proceed(h2o_generator_t *self, h2o_req_t *req)
{
	struct stream_gen *g = (struct stream_gen *)self;

	g->busy = false;
	g->sending_len = 0;
	stream_flush(g);
}

/* h2o ends the response abruptly (connection closed, stream reset); dispose follows. */
static void on_gen_stop(h2o_generator_t *self, h2o_req_t *req)
{
	struct stream_gen *g = (struct stream_gen *)self;

	g->done = true;
	stream_detach(g);
}

/* Too slow: close its connection (the whole one on HTTP/2), which disposes the request. */
static void stream_kill(struct stream_gen *g)
{
	struct http_server *s = g->s;
	h2o_linklist_t *node;
	uv_os_fd_t fd;

	log_warn("http: streaming client too slow (%zu bytes buffered), disconnecting",
		 g->sending_len + g->pending_len);
	g->pending_len = 0;
	if (!g->busy) {
		g->done = true;
		g->busy = true;
		h2o_send(g->req, NULL, 0, H2O_SEND_STATE_ERROR);
		return;
	}
	g->done = true;
	for (node = s->conns.next; node != &s->conns; node = node->next) {
		struct conn *c = container_of(node, struct conn, link);

		if (c->sock && c->sock->data == (void *)g->req->conn &&
		    uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			shutdown(fd, SHUT_RDWR);
	}
}

struct http_stream *http_stream_start(struct http_req *r, int status, const char *content_type,
				      const char *const *headers, size_t n_headers,
				      size_t max_buffered, http_stream_gone_fn gone, void *data)
{
	h2o_req_t *req = r->req;
	struct http_stream *st;
	struct stream_gen *g;
	size_t i;

	if (r->sentinel)
		*r->sentinel = NULL;
	if (h2o_linklist_is_linked(&r->link))
		h2o_linklist_unlink(&r->link);
	if (!req || !r->s) {
		free(r);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		send_text(req, 503, NULL, 0, "out of memory\n");
		free(r);
		return NULL;
	}
	st->s = r->s;
	st->gone = gone;
	st->data = data;
	/* h2o_mem_alloc_shared aborts on ENOMEM, as all of h2o does */
	g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_gen_dispose);
	memset(g, 0, sizeof(*g));
	g->super.proceed = on_gen_proceed;
	g->super.stop = on_gen_stop;
	g->s = r->s;
	g->req = req;
	g->st = st;
	g->max = max_buffered ? max_buffered : DEFAULT_MAX_BUFFERED;
	st->gen = g;
	h2o_linklist_insert(&r->s->streams, &g->link);
	free(r);

	req->res.status = status;
	req->res.reason = reason_phrase(status);
	if (content_type) {
		h2o_iovec_t ct = h2o_strdup(&req->pool, content_type, SIZE_MAX);

		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct.base,
			       ct.len);
	}
	for (i = 0; i < n_headers; i++) {
		h2o_iovec_t name = h2o_strdup(&req->pool, headers[2 * i], SIZE_MAX);
		h2o_iovec_t value = h2o_strdup(&req->pool, headers[2 * i + 1], SIZE_MAX);

		h2o_strtolower(name.base, name.len);
		h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
				      value.base, value.len);
	}
	if (g->s->stopping)
		g->ending = true;
	h2o_start_response(req, &g->super);
	/* the headers go now; proceed follows once they are written */
	g->busy = true;
	if (g->ending)
		g->done = true;
	h2o_send(req, NULL, 0, g->ending ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
	return st;
}

int http_stream_write(struct http_stream *st, const void *buf, size_t len)
{
	struct stream_gen *g = st->gen;
	size_t need;
	char *p;

	if (!g || g->done || g->ending)
		return -EPIPE;
	if (g->sending_len + g->pending_len + len > g->max) {
		stream_kill(g);
		return -ENOBUFS;
	}
	need = g->pending_len + len;
	if (need > g->pending_cap) {
		size_t cap = g->pending_cap ? g->pending_cap : 4096;

		while (cap < need)
			cap *= 2;
		p = realloc(g->pending, cap);
		if (!p)
			return -ENOMEM;
		g->pending = p;
		g->pending_cap = cap;
	}
	memcpy(g->pending + g->pending_len, buf, len);
	g->pending_len += len;
	stream_flush(g);
	return 0;
}

size_t http_stream_buffered(const struct http_stream *st)
{
	return st->gen ? st->gen->sending_len + st->gen->pending_len : 0;
}

bool http_stream_is_gone(const struct http_stream *st)
{
	return st->is_gone;
}

void http_stream_end(struct http_stream *st)
{
	struct stream_gen *g;

	if (!st)
		return;
	g = st->gen;
	if (h2o_linklist_is_linked(&st->gone_link))
		h2o_linklist_unlink(&st->gone_link);
	free(st);
	if (!g)
		return;
	g->st = NULL;
	g->ending = true;
	/* may dispose g */
	stream_flush(g);
}
