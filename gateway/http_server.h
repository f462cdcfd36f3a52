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

/* Request accessors: all borrowed until http_reply(). */
const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r); /* without the query */
const char *http_req_query(const struct http_req *r); /* after '?', or "" */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Header value by case-insensitive name, or NULL; *len gets its length. */
const char *http_req_header(const struct http_req *r, const char *name, size_t *len);
const char *http_req_peer(const struct http_req *r); /* "127.0.0.1:51234" */
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

#endif
