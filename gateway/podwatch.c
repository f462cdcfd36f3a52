// SPDX-License-Identifier: Apache-2.0
#include "gateway/podwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "response/k8s.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define LIST_MAX_BYTES (64u << 20)
#define LINE_MAX_BYTES (8u << 20) /* one Pod object in a watch event */

struct podwatch_settings {
	bool enabled;
	const char *node_name;
	const char *kubeconfig;
	const char *context;
	int64_t max_containers;
	int64_t watch_timeout_ms;
	int64_t timeout_ms;
	int64_t page_size;
};

#define PS(m) offsetof(struct podwatch_settings, m)

const struct config_option podwatch_options[] = {
	{ "metadata.enabled", CONFIG_BOOL, "true", PS(enabled), 0, 0, NULL, NULL,
	  "put pod metadata (k8s.pod.*, k8s.ns.name, container.name/image/privileged) on syscall "
	  "alerts by listing and watching this node's pods (needs a kubeconfig or in-cluster "
	  "credentials; without them the fields are missing)" },
	{ "node_name", CONFIG_STRING, NULL, PS(node_name), 0, 0, NULL, NULL,
	  "this node's name in the cluster (default: $NODE_NAME, then the host name)" },
	{ "kubeconfig", CONFIG_STRING, NULL, PS(kubeconfig), 0, 0, NULL, NULL,
	  "kubeconfig for pod metadata (default: response.kubeconfig; unset: in-cluster)" },
	{ "context", CONFIG_STRING, NULL, PS(context), 0, 0, NULL, NULL,
	  "kubeconfig context for pod metadata (default: response.context, then current)" },
	{ "metadata.max_containers", CONFIG_INT, "4096", PS(max_containers), 16, 1048576, NULL,
	  NULL, "containers whose pod metadata is cached at most" },
	{ "metadata.watch_timeout", CONFIG_DURATION, "5m", PS(watch_timeout_ms), 1000, 3600000,
	  NULL, NULL, "a pod watch is ended by the API server after this and resumed" },
	{ "metadata.timeout", CONFIG_DURATION, "30s", PS(timeout_ms), 100, 300000, NULL, NULL,
	  "timeout of one pod LIST request" },
	{ "metadata.page_size", CONFIG_INT, "500", PS(page_size), 1, 10000, NULL, NULL,
	  "pods per LIST page (limit; the rest follows with continue)" },
	{ NULL },
};

struct podwatch {
	uv_loop_t *loop;
	struct http_client *http;
	struct k8s_client *k8s;
	struct podmeta *pm;
	char *node;
	char *selector; /* "fieldSelector=spec.nodeName%3DNODE" */
	char rv[128]; /* resourceVersion to watch from; "" = list first */
	char *cont; /* continue token of the list page asked for */
	int64_t watch_timeout_ms, list_timeout_ms, backoff_ms, page_size;
	uv_timer_t timer;
	unsigned refs; /* owner until stop, the timer handle, the request in flight */
	bool stopping;
	bool gone, watch_err; /* seen in the current watch stream */
	bool failing; /* the outage was logged */
	bool ever_synced;
	uint64_t watch_start_ms, watch_events;
	char msg[256];
	struct watch_lines lines;
	struct podwatch_stats st;
};

/* ---- watch-stream lines -------------------------------------------------------------------- */

void watch_lines_init(struct watch_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max;
}

void watch_lines_release(struct watch_lines *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

void watch_lines_clear(struct watch_lines *l)
{
	l->len = 0;
	l->skipping = false;
}

static int lines_append(struct watch_lines *l, const char *p, size_t n)
{
	if (l->skipping)
		return 0;
	if (l->len + n > l->max) {
		l->skipping = true;
		l->skipped++;
		l->len = 0;
		return 0;
	}
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *b;

		while (cap < l->len + n + 1)
			cap *= 2;
		b = realloc(l->buf, cap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return 0;
}

int watch_lines_feed(struct watch_lines *l, const char *data, size_t len,
		     void (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (!nl)
			return lines_append(l, data, n);
		if (!l->skipping && !l->len) {
			fn(ctx, data, n); /* a whole line in this piece: no copy */
		} else {
			if (lines_append(l, data, n)) {
				watch_lines_clear(l);
				return -ENOMEM;
			}
			if (!l->skipping) {
				l->buf[l->len] = '\0';
				fn(ctx, l->buf, l->len);
			}
		}
		watch_lines_clear(l);
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* ---- watch events ---------------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

enum watch_event_result podwatch_apply_line(struct podmeta *pm, const char *line, size_t len,
					    char *rv, size_t rvlen, char *msg, size_t msglen)
{
	enum watch_event_result res = WATCH_EVENT_BAD;
	json_t *ev = json_loadb(line, len, 0, NULL);
	const json_t *obj = json_object_get(ev, "object");
	const char *type = jstr(ev, "type"), *v;

	rv[0] = '\0';
	msg[0] = '\0';
	if (!type || !json_is_object(obj))
		goto out;
	if (!strcmp(type, "ERROR")) {
		snprintf(msg, msglen, "%s", jstr(obj, "message") ? jstr(obj, "message") : "");
		res = json_integer_value(json_object_get(obj, "code")) == 410 ? WATCH_EVENT_GONE :
										WATCH_EVENT_ERROR;
		goto out;
	}
	v = jstr(json_object_get(obj, "metadata"), "resourceVersion");
	if (v && strlen(v) < rvlen)
		strcpy(rv, v);
	if (!strcmp(type, "BOOKMARK")) {
		res = WATCH_EVENT_BOOKMARK;
	} else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		if (podmeta_apply_pod(pm, obj) >= 0)
			res = WATCH_EVENT_APPLIED;
	} else if (!strcmp(type, "DELETED")) {
		v = jstr(json_object_get(obj, "metadata"), "uid");
		if (v) {
			podmeta_delete_pod(pm, v);
			res = WATCH_EVENT_APPLIED;
		}
	}
out:
	if (res == WATCH_EVENT_BAD)
		rv[0] = '\0';
	json_decref(ev);
	return res;
}

/* ---- the watcher ----------------------------------------------------------------------------- */

static void step(struct podwatch *w);

static void unref(struct podwatch *w)
{
	if (--w->refs)
		return;
	watch_lines_release(&w->lines);
	free(w->node);
	free(w->selector);
	free(w->cont);
	free(w);
}

static void on_timer(uv_timer_t *t)
{
	step(t->data);
}

static void later(struct podwatch *w, int64_t ms)
{
	if (!w->stopping)
		uv_timer_start(&w->timer, on_timer, (uint64_t)ms, 0);
}

static int64_t next_backoff(struct podwatch *w)
{
	int64_t ms = w->backoff_ms ? w->backoff_ms : BACKOFF_FIRST_MS;

	w->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
	return ms;
}

/* Log an outage once; later failures of the same outage go to debug. */
static void failed(struct podwatch *w, const char *what, const struct k8s_response *r)
{
	int64_t ms = next_backoff(w);

	w->st.errors++;
	if (!w->failing)
		log_warn("pod metadata: %s pods of node %s on %s: %s; syscall alerts lack k8s.* "
			 "fields until it works (retrying every %d s at most)",
			 what, w->node, k8s_client_server(w->k8s), r->message,
			 BACKOFF_MAX_MS / 1000);
	else
		log_debug("pod metadata: %s: %s (retry in %lld ms)", what, r->message,
			  (long long)ms);
	w->failing = true;
	later(w, ms);
}

/* k8s paths: a continue token is opaque base64-ish text; percent-encode what is not safe. */
static char *urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

static void on_list(void *data, const struct k8s_response *r);
static void on_watch(void *data, const struct k8s_response *r);

static void start(struct podwatch *w, const char *path, const struct k8s_request_opts *o,
		  k8s_done_fn cb)
{
	int err = k8s_request_ex(w->k8s, "GET", path, NULL, NULL, o, cb, w);

	if (err) {
		struct k8s_response r = { .message = strerror(-err), .reason = "" };

		failed(w, "cannot ask for", &r);
		return;
	}
	w->refs++;
}

static void list(struct podwatch *w)
{
	struct k8s_request_opts o = {
		.timeout_ms = w->list_timeout_ms,
		.max_response_bytes = LIST_MAX_BYTES,
		.no_retry = true,
	};
	char *path = NULL, *tok = w->cont ? urlencode(w->cont) : NULL;

	if ((w->cont && !tok) ||
	    asprintf(&path, "/api/v1/pods?%s&limit=%lld%s%s", w->selector, (long long)w->page_size,
		     tok ? "&continue=" : "", tok ? tok : "") < 0) {
		struct k8s_response r = { .message = "out of memory", .reason = "" };

		free(tok);
		failed(w, "cannot list", &r);
		return;
	}
	free(tok);
	start(w, path, &o, on_list);
	free(path);
}

static void on_line(void *ctx, const char *line, size_t len)
{
	struct podwatch *w = ctx;
	char rv[sizeof(w->rv)];

	if (!len || w->gone || w->watch_err)
		return;
	switch (podwatch_apply_line(w->pm, line, len, rv, sizeof(rv), w->msg, sizeof(w->msg))) {
	case WATCH_EVENT_APPLIED:
		w->st.events++;
		w->watch_events++;
		/* fall through */
	case WATCH_EVENT_BOOKMARK:
		if (rv[0])
			strcpy(w->rv, rv);
		break;
	case WATCH_EVENT_GONE:
		w->gone = true;
		break;
	case WATCH_EVENT_ERROR:
		w->watch_err = true;
		break;
	case WATCH_EVENT_BAD:
		w->st.bad_events++;
		log_debug("pod metadata: a watch line is not a pod event: %.*s",
			  (int)(len > 200 ? 200 : len), line);
		break;
	}
}

static bool on_watch_data(void *data, const char *buf, size_t len)
{
	struct podwatch *w = data;

	if (w->stopping)
		return false;
	if (watch_lines_feed(&w->lines, buf, len, on_line, w))
		return false;
	/* an ERROR event ends this watch: stop reading now */
	return !w->gone && !w->watch_err;
}

static void watch(struct podwatch *w)
{
	struct k8s_request_opts o = {
		/* the server ends the watch at timeoutSeconds; curl's limit only catches a hang */
		.timeout_ms = w->watch_timeout_ms + 30000,
		.no_retry = true,
		.on_data = on_watch_data,
	};
	char *path;

	if (asprintf(&path,
		     "/api/v1/pods?%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s"
		     "&timeoutSeconds=%lld",
		     w->selector, w->rv, (long long)(w->watch_timeout_ms / 1000)) < 0) {
		struct k8s_response r = { .message = "out of memory", .reason = "" };

		failed(w, "cannot watch", &r);
		return;
	}
	watch_lines_clear(&w->lines);
	w->gone = w->watch_err = false;
	w->msg[0] = '\0';
	w->watch_events = 0;
	w->watch_start_ms = uv_now(w->loop);
	w->st.watches++;
	log_debug("pod metadata: watching from resourceVersion %s", w->rv);
	start(w, path, &o, on_watch);
	free(path);
}

static void step(struct podwatch *w)
{
	if (w->stopping)
		return;
	if (w->rv[0])
		watch(w);
	else
		list(w);
}

static void relist(struct podwatch *w)
{
	w->rv[0] = '\0';
	free(w->cont);
	w->cont = NULL;
	later(w, 0);
}

static void on_list(void *data, const struct k8s_response *r)
{
	struct podwatch *w = data;
	const json_t *md, *it;
	const char *next, *rv;
	size_t i, removed;

	if (w->stopping)
		goto out;
	if (!r->ok) {
		/* an expired continue token: start the list again */
		if (r->status == 410 && w->cont) {
			relist(w);
			goto out;
		}
		failed(w, "cannot list", r);
		goto out;
	}
	if (!json_is_array(json_object_get(r->body, "items"))) {
		struct k8s_response bad = { .message = "the answer is not a PodList",
					    .reason = "" };

		failed(w, "cannot list", &bad);
		goto out;
	}
	if (!w->cont)
		podmeta_sync_begin(w->pm);
	json_array_foreach(json_object_get(r->body, "items"), i, it)
		podmeta_apply_pod(w->pm, it);
	md = json_object_get(r->body, "metadata");
	next = jstr(md, "continue");
	free(w->cont);
	w->cont = NULL;
	if (next && *next) {
		w->cont = strdup(next);
		if (!w->cont) {
			relist(w);
			goto out;
		}
		later(w, 0);
		goto out;
	}
	rv = jstr(md, "resourceVersion");
	if (!rv || !*rv || strlen(rv) >= sizeof(w->rv)) {
		struct k8s_response bad = { .message = "the PodList has no resourceVersion",
					    .reason = "" };

		failed(w, "cannot list", &bad);
		goto out;
	}
	strcpy(w->rv, rv);
	removed = podmeta_sync_end(w->pm);
	w->st.lists++;
	w->st.synced = true;
	w->backoff_ms = 0;
	if (w->failing || !w->ever_synced)
		log_info("pod metadata: %zu container(s) of node %s cached (resourceVersion %s)%s",
			 podmeta_count(w->pm), w->node, w->rv,
			 w->failing ? ", the Kubernetes API answers again" : "");
	else
		log_debug("pod metadata: relisted, %zu container(s), %zu gone",
			  podmeta_count(w->pm), removed);
	w->failing = false;
	w->ever_synced = true;
	later(w, 0);
out:
	unref(w);
}

static void on_watch(void *data, const struct k8s_response *r)
{
	struct podwatch *w = data;

	if (w->stopping)
		goto out;
	if (w->gone || r->status == 410) {
		w->st.relists_gone++;
		log_info("pod metadata: watch expired (410 Gone%s%s): relisting",
			 w->msg[0] ? ": " : "", w->msg);
		relist(w);
	} else if (w->watch_err) {
		struct k8s_response er = { .message = w->msg[0] ? w->msg : "watch ERROR event",
					   .reason = "" };

		failed(w, "cannot watch", &er);
	} else if (r->ok) {
		/* the server ended the watch (timeoutSeconds): resume at once, unless it ends
		 * right away without events (then back off rather than spin) */
		if (w->watch_events || uv_now(w->loop) - w->watch_start_ms >= 1000) {
			w->backoff_ms = 0;
			later(w, 0);
		} else {
			later(w, next_backoff(w));
		}
		if (w->failing)
			log_info("pod metadata: the Kubernetes API answers again");
		w->failing = false;
	} else {
		failed(w, "cannot watch", r);
	}
out:
	unref(w);
}

/* ---- start / stop ---------------------------------------------------------------------------- */

int podwatch_start(uv_loop_t *loop, struct config *cfg, struct podmeta **pmp, struct podwatch **wp)
{
	struct podwatch_settings set;
	struct k8s_settings ks = { .max_retries = 0 };
	char err[256] = "", host[256] = "";
	const char *node;
	struct podwatch *w;
	int rc;

	*pmp = NULL;
	*wp = NULL;
	rc = config_bind(cfg, "kubernetes", podwatch_options, &set);
	if (rc)
		return rc;
	if (!set.enabled) {
		log_info("pod metadata: off (kubernetes.metadata.enabled: false)");
		return 0;
	}
	ks.kubeconfig = set.kubeconfig ? set.kubeconfig : config_get(cfg, "response.kubeconfig");
	ks.context = set.context ? set.context : config_get(cfg, "response.context");
	if ((!ks.kubeconfig || !*ks.kubeconfig) && !getenv("KUBERNETES_SERVICE_HOST")) {
		log_info("pod metadata: off: no kubeconfig (kubernetes.kubeconfig or "
			 "response.kubeconfig) and not in a cluster; syscall alerts carry no k8s.* "
			 "fields");
		return 0;
	}
	node = set.node_name;
	if (!node || !*node)
		node = getenv("NODE_NAME");
	if ((!node || !*node) && !gethostname(host, sizeof(host) - 1))
		node = host;
	if (!node || !k8s_valid_name(node)) {
		/* a wrong setting is an error; a host name that is no node name only turns this off */
		if (set.node_name && *set.node_name) {
			log_error(
				"pod metadata: kubernetes.node_name '%s' is not a valid Kubernetes "
				"node name",
				node);
			return -EINVAL;
		}
		log_warn("pod metadata: off: '%s' is not a valid Kubernetes node name (set "
			 "kubernetes.node_name or NODE_NAME); syscall alerts carry no k8s.* fields",
			 node ? node : "");
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->refs = 2; /* owner + timer */
	w->watch_timeout_ms = set.watch_timeout_ms;
	w->list_timeout_ms = set.timeout_ms;
	w->page_size = set.page_size;
	watch_lines_init(&w->lines, LINE_MAX_BYTES);
	w->node = strdup(node);
	if (!w->node || asprintf(&w->selector, "fieldSelector=spec.nodeName%%3D%s", node) < 0) {
		w->selector = NULL;
		goto err_nomem;
	}
	w->pm = podmeta_new((size_t)set.max_containers);
	if (!w->pm)
		goto err_nomem;
	w->http = http_client_new(loop);
	if (!w->http)
		goto err_nomem;
	ks.timeout_ms = (long)set.timeout_ms;
	w->k8s = k8s_client_new(loop, w->http, &ks, err, sizeof(err));
	if (!w->k8s) {
		/* no credentials: metadata off, detection goes on */
		log_warn("pod metadata: off: Kubernetes API: %s; syscall alerts carry no k8s.* "
			 "fields",
			 err);
		http_client_free(w->http);
		podmeta_free(w->pm);
		w->refs = 1;
		unref(w);
		return 0;
	}
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	log_info("pod metadata: listing and watching the pods of node %s on %s", w->node,
		 k8s_client_server(w->k8s));
	later(w, 0);
	*pmp = w->pm;
	*wp = w;
	return 0;
err_nomem:
	http_client_free(w->http);
	podmeta_free(w->pm);
	w->refs = 1;
	unref(w);
	return -ENOMEM;
}

static void on_timer_closed(uv_handle_t *h)
{
	unref(h->data);
}

void podwatch_stop(struct podwatch *w)
{
	if (!w)
		return;
	w->stopping = true;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, on_timer_closed);
	/* requests waiting complete now, the one on the wire is aborted; both see stopping */
	k8s_client_free(w->k8s);
	http_client_free(w->http);
	unref(w);
}

void podwatch_get_stats(const struct podwatch *w, struct podwatch_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (w)
		*out = w->st;
}
