/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_K8S_H
#define LANNER_RESPONSE_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

#include "outputs/http_client.h"

/*
 * A small asynchronous Kubernetes API client on the shared HTTP client.
 *
 * Credentials come from a kubeconfig (server, certificate-authority[-data],
 * insecure-skip-tls-verify, token / tokenFile or client-certificate[-data] + client-key[-data],
 * the current or a named context; relative paths are relative to the kubeconfig's folder;
 * -data fields are written to private 0600 temp files removed by k8s_client_free) or, without a
 * kubeconfig, from in-cluster service-account files (token, ca.crt, namespace) and
 * KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT. A token read from a file is read again
 * whenever the file changes (kubelet rotates projected tokens).
 *
 * Retries: 429, 5xx and connection errors are retried (max_retries times, exponential backoff
 * from 100 ms, or the server's Retry-After up to 10 s). 401/403/404/409/422 and every other
 * status are final and reported to the caller with the API's Status message.
 */

struct k8s_client;

struct k8s_settings {
	const char *kubeconfig; /* path; NULL/"" = in-cluster */
	const char *context; /* kubeconfig context; NULL = current-context */
	const char *sa_dir; /* NULL = /var/run/secrets/kubernetes.io/serviceaccount */
	long timeout_ms; /* per attempt; 0 = 10 s */
	int max_retries; /* retryable failures tried again; < 0 = 3 */
};

/* The outcome of one request, borrowed for the callback only. */
struct k8s_response {
	long status; /* HTTP status; 0 when none was received */
	json_t *body; /* parsed JSON body, or NULL */
	const char *reason; /* Status.reason ("Forbidden", "NotFound"), or "" */
	const char *message; /* readable: Status.message, curl's error, or "HTTP 500" */
	bool ok; /* 2xx */
};

typedef void (*k8s_done_fn)(void *data, const struct k8s_response *resp);

/*
 * Constructor. http and loop are borrowed and must outlive the client's requests. On failure
 * returns NULL with errno set and a reason in err ("kubeconfig: context 'x' not found").
 */
struct k8s_client *k8s_client_new(uv_loop_t *loop, struct http_client *http,
				  const struct k8s_settings *s, char *err, size_t errlen);
/*
 * Stop: requests waiting to be retried complete now with status 0 and message "shutting
 * down"; requests on the wire complete when the HTTP client finishes or aborts them. The
 * memory goes with the last of them. New requests fail with -ESHUTDOWN. Accepts NULL.
 */
void k8s_client_free(struct k8s_client *c);

/*
 * Start METHOD on path ("/api/v1/namespaces/shop/pods/web-1"), with an optional JSON body
 * (borrowed, serialised now) sent as content_type (NULL = application/json). cb runs exactly
 * once, on the loop, never from inside this call. 0 or -errno.
 */
int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, const json_t *body, k8s_done_fn cb, void *data);

/* Per-request options of k8s_request_ex. */
struct k8s_request_opts {
	long timeout_ms; /* whole request; 0 = the client's timeout */
	size_t max_response_bytes; /* body kept for the callback; 0 = 64 KiB */
	bool no_retry; /* report the first outcome (the caller has its own backoff) */
	/*
	 * Streaming (watches): the body of a 2xx answer goes to on_data as it arrives (see
	 * http_request.on_data: false aborts, no http_client calls from inside); the final
	 * response then has no body. Called with the request's data.
	 */
	bool (*on_data)(void *data, const char *buf, size_t len);
};

/* k8s_request with options (NULL = k8s_request's behaviour). */
int k8s_request_ex(struct k8s_client *c, const char *method, const char *path,
		   const char *content_type, const json_t *body, const struct k8s_request_opts *o,
		   k8s_done_fn cb, void *data);

/* The namespace the client's credentials belong to (in-cluster namespace file, kubeconfig
 * context namespace), or "" when unknown. Borrowed. */
const char *k8s_client_namespace(const struct k8s_client *c);
/* The API server URL. Borrowed. */
const char *k8s_client_server(const struct k8s_client *c);

/* True for a valid DNS-1123 subdomain (<= 253, [a-z0-9.-]): safe to put in an API path. */
bool k8s_valid_name(const char *name);

/*
 * Decode an API answer into r (status, JSON body, Status reason and message). msgbuf receives
 * the message when it must be composed. Exposed for tests.
 */
void k8s_decode_response(const struct http_response *hr, json_t **body, struct k8s_response *r,
			 char *msgbuf, size_t msglen);

#endif
