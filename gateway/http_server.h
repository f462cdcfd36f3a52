/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_HTTP_SERVER_H
#define LANNER_GATEWAY_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * lanner's HTTP server: libh2o's libuv build behind a small interface, so the rest of the
 * gateway never includes h2o.h. HTTP/1.1 with keep-alive (and HTTP/2 over TLS), optional TLS
 * and mutual TLS, optional bearer-token auth, a body limit (413 beyond it), 404 for unknown
 * paths and 405 (with Allow) for a known path with the wrong method.
 */

struct http_server;
struct http_req; /* one request, valid until http_reply() */

struct http_server_opts {
	const char *address; /* "0.0.0.0", "127.0.0.1", "::" */
	int port; /* 0 = pick a free port (see http_server_port) */
	size_t max_body; /* bytes; 0 = 1 MiB */
	const char *bearer_token; /* when set, every route except /healthz and /ping needs it */
	const char *tls_cert; /* PEM files: TLS on when both set */
	const char *tls_key;
	const char *tls_client_ca; /* mutual TLS: require a client certificate signed by this CA */
};

/* Handler of one route; must call http_reply() exactly once (now or later on the loop). */
typedef void (*http_handler_fn)(void *data, struct http_req *req);

/* Constructor: binds and listens on loop. NULL with errno set (EADDRINUSE, ...). */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_opts *opts);
/* Stop accepting; open connections are closed once their in-flight request is answered. */
void http_server_stop(struct http_server *s);
/*
 * Free after stop, once the loop has run the close callbacks. Accepts NULL.
 * Call it outside loop callbacks once uv_run() returned, and before closing leftover handles
 * with uv_walk(): h2o's context keeps unreferenced timers and an async handle open until
 * here, where h2o closes them and runs the loop once (UV_RUN_NOWAIT). After stop, uv_run()
 * returns when the last connection is closed (idle ones are closed by stop).
 */
void http_server_free(struct http_server *s);
int http_server_port(const struct http_server *s);

/*
 * Route METHOD PATH (exact path match, query string ignored) to fn. Several methods may share
 * a path; the others get 405. Returns 0 or -ENOMEM. Before the first request.
 */
int http_server_route(struct http_server *s, const char *method, const char *path,
		      http_handler_fn fn, void *data);

/*
 * Route METHOD for every path that starts with prefix ("/ui/", "/api/v1/events/"). Exact
 * routes are tried first, then the longest matching prefix; a path matched by a prefix but not
 * its method gets 405. Returns 0, -EINVAL or -ENOMEM. Before the first request.
 */
int http_server_route_prefix(struct http_server *s, const char *method, const char *prefix,
			     http_handler_fn fn, void *data);
/*
 * Paths under prefix skip the server's bearer token (opts.bearer_token): their handlers
 * authenticate by themselves (the web UI has its own credentials). 0, -EINVAL or -ENOMEM.
 */
int http_server_public_prefix(struct http_server *s, const char *prefix);

/* Request accessors: all borrowed until http_reply(). */
const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r); /* without the query */
const char *http_req_query(const struct http_req *r); /* after '?', or "" */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Header value by case-insensitive name, or NULL; *len gets its length. */
const char *http_req_header(const struct http_req *r, const char *name, size_t *len);
/* "127.0.0.1:51234"; "unknown" when first asked after the client went away */
const char *http_req_peer(const struct http_req *r);
/*
 * The client went away before the reply (HTTP/2 stream reset, connection lost): body and
 * headers are then gone (NULL), and http_reply() only frees r. A handler that replies later
 * copies what it needs from the body and headers before it returns.
 */
bool http_req_gone(const struct http_req *r);

/* Send the response (body copied) and end the request. */
void http_reply(struct http_req *r, int status, const char *content_type, const char *body,
		size_t len);
/* Same, with extra headers (name, value pairs). */
void http_reply_headers(struct http_req *r, int status, const char *content_type,
			const char *const *headers, size_t n_headers, const char *body, size_t len);

/*
 * Streaming responses (Server-Sent Events, long downloads): http_stream_start() answers the
 * request with status and headers at once (no Content-Length: chunked on HTTP/1.1) and hands
 * back a stream that the owner writes to from the loop, as data comes. Bytes written wait in
 * a buffer while the client reads the previous ones; when the buffer would pass max_buffered
 * the client is too slow: its connection is closed and the write returns -ENOBUFS.
 *
 * The client going away (connection closed, HTTP/2 stream reset, a failed write, the server
 * stopping) calls gone(data, st) once, on the loop; a client that closes is noticed on the next
 * write (HTTP/1.1 does not read while a response is in progress), so write something
 * periodically (an SSE comment) to learn of it. After gone, writes return -EPIPE.
 *
 * The owner releases the stream with http_stream_end() exactly once, whether gone or not
 * (from gone itself too): the response is then ended cleanly after the buffered bytes.
 */
struct http_stream;
typedef void (*http_stream_gone_fn)(void *data, struct http_stream *st);

/*
 * Start the response; r is consumed (do not reply to it). NULL when the client is already gone
 * (r is then freed) or on ENOMEM (a 503 was sent). max_buffered 0 = 1 MiB.
 */
struct http_stream *http_stream_start(struct http_req *r, int status, const char *content_type,
				      const char *const *headers, size_t n_headers,
				      size_t max_buffered, http_stream_gone_fn gone, void *data);
/* Queue len bytes: 0, -EPIPE once the client is gone, -ENOBUFS (connection closed) if slow. */
int http_stream_write(struct http_stream *st, const void *buf, size_t len);
/* Bytes written and not yet handed to the socket. */
size_t http_stream_buffered(const struct http_stream *st);
bool http_stream_is_gone(const struct http_stream *st);
/* End the response after what is buffered, and free st. Accepts NULL. */
void http_stream_end(struct http_stream *st);

#endif
