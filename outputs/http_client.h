/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_HTTP_CLIENT_H
#define LANNER_OUTPUTS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "outputs/sink.h"

/*
 * The shared asynchronous HTTP client: libcurl's multi_socket API driven by a libuv loop
 * (curl docs/examples/multi-uv.c): CURLMOPT_SOCKETFUNCTION -> uv_poll, CURLMOPT_TIMERFUNCTION ->
 * uv_timer (0 ms becomes 1 ms). One connection cache for every sink, so keep-alive connections
 * are reused. Never blocks the loop (curl's threaded resolver).
 */

struct http_client;

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method; /* "POST", "PUT", "GET", "PATCH", "DELETE" */
	const char *url;
	const struct http_header *headers; /* borrowed for the call only (copied) */
	size_t n_headers;
	const char *body; /* copied; may be NULL */
	size_t body_len;
	long timeout_ms; /* whole request; 0 = 10 s */
	long connect_timeout_ms; /* 0 = 5 s */
	bool insecure; /* skip certificate verification (checkcert: false) */
	const char *ca_file; /* NULL = system store */
	const char *cert_file; /* mutual TLS client certificate (PEM) */
	const char *key_file;
	const char *bearer_token; /* adds Authorization: Bearer */
	size_t max_response_bytes; /* response body bytes kept (rest discarded); 0 = 64 KiB */
	/*
	 * Streaming (watches): when set, the body of a 2xx answer is handed to on_data (with the
	 * request's data) piece by piece as it arrives, and not kept (the response's body is then
	 * empty); other statuses are kept as usual for their error message. on_data returns false
	 * to abort the transfer (curl_code CURLE_WRITE_ERROR). It runs inside curl: it must not
	 * call http_client functions.
	 */
	bool (*on_data)(void *data, const char *buf, size_t len);
};

struct http_response {
	long status; /* HTTP status, 0 when none was received */
	int curl_code; /* CURLcode */
	const char *error; /* curl's message when curl_code != 0; borrowed */
	const char *body; /* borrowed for the callback only, NUL-terminated */
	size_t body_len;
	bool body_truncated; /* more than max_response_bytes came; body has the start */
	int64_t retry_after_ms; /* Retry-After (seconds or HTTP date), or -1 */
};

typedef void (*http_done_fn)(void *data, const struct http_response *resp);

/* Constructor on loop; NULL with errno set. */
struct http_client *http_client_new(uv_loop_t *loop);
/*
 * Abort every request in flight (their callbacks run with curl_code CURLE_ABORTED_BY_CALLBACK),
 * close the client's handles, free the client once they are closed. Accepts NULL.
 */
void http_client_free(struct http_client *c);

/*
 * Load libcurl now (outputs/curl_dl.h); otherwise the first request does. HTTP sinks call it
 * from their init so that a missing library stops lanner at start. 0, or -ELIBACC with the
 * library and dlerror()'s reason logged (once) under `who`.
 */
int http_client_load(const char *who);

/*
 * Start a request; cb runs exactly once on the loop thread, never from inside this call.
 * 0 or -errno: -EINVAL for a header that fails http_header_valid(), -ESHUTDOWN after
 * http_client_free(), -ELIBACC when libcurl cannot be loaded.
 */
int http_client_request(struct http_client *c, const struct http_request *req, http_done_fn cb,
			void *data);

/* Number of requests in flight. */
unsigned http_client_inflight(const struct http_client *c);

/*
 * The retry policy of every HTTP sink: 2xx OK; connect errors, timeouts, 5xx, 408 and 429
 * RETRY (with Retry-After); any other status FAIL. Fills st with a readable reason.
 */
void http_response_status(const struct http_response *resp, struct sink_status *st);

/* True when name is an RFC 9110 token and value has no CR or LF (no header injection). */
bool http_header_valid(const char *name, const char *value);

/*
 * Parse a Retry-After value: delta-seconds or an HTTP-date (RFC 9110 10.2.3), relative to now.
 * Returns milliseconds (0 for a date in the past), or -1 when the value is neither.
 */
int64_t http_parse_retry_after(const char *value, time_t now);

#endif
