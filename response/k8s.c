// SPDX-License-Identifier: Apache-2.0
#include "response/k8s.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/log.h"
#include "outputs/curl_dl.h"
#include "response/yaml_json.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define N_TMP 3

struct k8s_req;

struct k8s_client {
	uv_loop_t *loop;
	struct http_client *http;
	char *server;
	char *ca_file, *cert_file, *key_file;
	bool insecure;
	char *token; /* current bearer token, or NULL */
	char *token_file; /* re-read when it changes */
	struct timespec token_mtime;
	off_t token_size;
	ino_t token_ino;
	char *tmp[N_TMP]; /* private copies of -data fields */
	char *ns;
	long timeout_ms;
	int max_retries;
	unsigned refs; /* owner + requests alive */
	bool closed;
	struct k8s_req *waiting; /* requests waiting on their retry timer */
};

struct k8s_req {
	struct k8s_client *c;
	char *method, *url, *ctype, *body;
	size_t body_len;
	k8s_done_fn cb;
	void *data;
	int attempt;
	struct k8s_request_opts o;
	bool in_wait;
	struct k8s_req *prev, *next;
	uv_timer_t timer;
	/* a final outcome decided before or between attempts */
	long fail_status;
	char fail_msg[256];
};

bool k8s_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.'))
			return false;
	}
	return name[0] != '-' && name[0] != '.' && name[n - 1] != '-' && name[n - 1] != '.';
}

/* --- credentials -------------------------------------------------------------------------- */

static char *read_small_file(const char *path, int *err)
{
	FILE *f = fopen(path, "rb");
	char buf[16384];
	size_t n;
	char *out;

	if (!f) {
		*err = -errno;
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	out = strdup(buf);
	if (!out)
		*err = -ENOMEM;
	return out;
}

/* Re-read the token file when it changed (kubelet rotates it by replacing a symlink). */
static int refresh_token(struct k8s_client *c)
{
	struct stat st;
	char *tok;
	int err = 0;

	if (!c->token_file)
		return 0;
	if (stat(c->token_file, &st))
		return c->token ? 0 : -errno;
	if (c->token && st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec && st.st_size == c->token_size &&
	    st.st_ino == c->token_ino)
		return 0;
	tok = read_small_file(c->token_file, &err);
	if (!tok)
		return c->token ? 0 : err;
	free(c->token);
	c->token = tok;
	c->token_mtime = st.st_mtim;
	c->token_size = st.st_size;
	c->token_ino = st.st_ino;
	return 0;
}

/* Write base64 PEM data to a 0600 temp file; returns its path (kept in c->tmp). */
static char *write_data_file(struct k8s_client *c, const char *b64, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	size_t inlen = strlen(b64), outlen = 0, slot;
	unsigned char *pem = NULL;
	char *path = NULL;
	int fd = -1;

	for (slot = 0; slot < N_TMP && c->tmp[slot]; slot++)
		;
	if (slot == N_TMP)
		goto err;
	pem = malloc(inlen / 4 * 3 + 4);
	if (!pem)
		goto err;
	/* base64 decode (RFC 4648, whitespace ignored) */
	{
		unsigned v = 0;
		int bits = 0;

		for (size_t i = 0; i < inlen; i++) {
			char ch = b64[i];
			int d;

			if (ch >= 'A' && ch <= 'Z')
				d = ch - 'A';
			else if (ch >= 'a' && ch <= 'z')
				d = ch - 'a' + 26;
			else if (ch >= '0' && ch <= '9')
				d = ch - '0' + 52;
			else if (ch == '+')
				d = 62;
			else if (ch == '/')
				d = 63;
			else if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ')
				continue;
			else {
				snprintf(err, errlen, "kubeconfig: invalid base64 data");
				goto err;
			}
			v = (v << 6) | (unsigned)d;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				pem[outlen++] = (unsigned char)(v >> bits);
				v &= (1u << bits) - 1;
			}
		}
	}
	if (asprintf(&path, "%s/lanner-k8s-XXXXXX", dir && *dir ? dir : "/tmp") < 0) {
		path = NULL;
		goto err;
	}
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0 || write(fd, pem, outlen) != (ssize_t)outlen) {
		snprintf(err, errlen, "kubeconfig: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(path);
		goto err;
	}
	close(fd);
	free(pem);
	c->tmp[slot] = path;
	return path;
err:
	if (fd >= 0)
		close(fd);
	free(pem);
	free(path);
	if (!err[0])
		snprintf(err, errlen, "kubeconfig: out of memory");
	return NULL;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Find the entry of list (clusters/users/contexts) whose name is name; returns its sub-object. */
static const json_t *named(const json_t *cfg, const char *list, const char *sub, const char *name)
{
	const json_t *arr = json_object_get(cfg, list), *it;
	size_t i;

	json_array_foreach(arr, i, it) {
		const char *n = jstr(it, "name");

		if (n && name && !strcmp(n, name))
			return json_object_get(it, sub);
	}
	return NULL;
}

/* A file named by the kubeconfig, relative to its folder; or the -data twin. */
static int file_or_data(struct k8s_client *c, const json_t *o, const char *fkey, const char *dkey,
			const char *base, char **out, char *err, size_t errlen)
{
	const char *f = jstr(o, fkey), *d = jstr(o, dkey);

	if (d && *d) {
		const char *p = write_data_file(c, d, err, errlen);

		if (!p)
			return -EINVAL;
		*out = strdup(p);
	} else if (f && *f) {
		if (f[0] == '/') {
			*out = strdup(f);
		} else if (asprintf(out, "%s/%s", base, f) < 0) {
			*out = NULL;
		}
	} else {
		return 0;
	}
	return *out ? 0 : -ENOMEM;
}

static int load_kubeconfig(struct k8s_client *c, const struct k8s_settings *s, char *err,
			   size_t errlen)
{
	const json_t *cluster, *user, *ctx;
	const char *ctxname, *server, *tok, *tokfile;
	char *pathcopy = strdup(s->kubeconfig), *base;
	json_t *cfg;
	int rc = -EINVAL;

	if (!pathcopy)
		return -ENOMEM;
	base = dirname(pathcopy);
	cfg = yaml_json_load_file(s->kubeconfig, err, errlen);
	if (!cfg) {
		rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	ctxname = s->context && *s->context ? s->context : jstr(cfg, "current-context");
	if (!ctxname) {
		snprintf(err, errlen, "%s: no current-context and no context given", s->kubeconfig);
		goto out;
	}
	ctx = named(cfg, "contexts", "context", ctxname);
	if (!ctx) {
		snprintf(err, errlen, "%s: context '%s' not found", s->kubeconfig, ctxname);
		goto out;
	}
	cluster = named(cfg, "clusters", "cluster", jstr(ctx, "cluster"));
	user = named(cfg, "users", "user", jstr(ctx, "user"));
	server = jstr(cluster, "server");
	if (!cluster || !server || !*server) {
		snprintf(err, errlen, "%s: context '%s': cluster '%s' has no server", s->kubeconfig,
			 ctxname, jstr(ctx, "cluster") ? jstr(ctx, "cluster") : "");
		goto out;
	}
	c->server = strdup(server);
	c->ns = strdup(jstr(ctx, "namespace") ? jstr(ctx, "namespace") : "");
	if (!c->server || !c->ns) {
		rc = -ENOMEM;
		goto out;
	}
	c->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
	rc = file_or_data(c, cluster, "certificate-authority", "certificate-authority-data", base,
			  &c->ca_file, err, errlen);
	if (!rc && user)
		rc = file_or_data(c, user, "client-certificate", "client-certificate-data", base,
				  &c->cert_file, err, errlen);
	if (!rc && user)
		rc = file_or_data(c, user, "client-key", "client-key-data", base, &c->key_file, err,
				  errlen);
	if (rc)
		goto out;
	tok = jstr(user, "token");
	tokfile = jstr(user, "tokenFile");
	if (tok && *tok) {
		c->token = strdup(tok);
		if (!c->token)
			rc = -ENOMEM;
	} else if (tokfile && *tokfile) {
		if (tokfile[0] == '/')
			c->token_file = strdup(tokfile);
		else if (asprintf(&c->token_file, "%s/%s", base, tokfile) < 0)
			c->token_file = NULL;
		rc = c->token_file ? refresh_token(c) : -ENOMEM;
		if (rc)
			snprintf(err, errlen, "%s: tokenFile %s: %s", s->kubeconfig, tokfile,
				 strerror(-rc));
	} else if (!c->cert_file && user && json_object_get(user, "exec")) {
		snprintf(err, errlen,
			 "%s: user '%s': exec credential plugins are not supported; use a token "
			 "or a client certificate",
			 s->kubeconfig, jstr(ctx, "user"));
		rc = -EINVAL;
	}
out:
	json_decref(cfg);
	free(pathcopy);
	return rc;
}

static int load_incluster(struct k8s_client *c, const struct k8s_settings *s, char *err,
			  size_t errlen)
{
	const char *dir = s->sa_dir && *s->sa_dir ? s->sa_dir : SA_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *nsfile = NULL;
	int rc;

	if (!host || !*host) {
		snprintf(err, errlen,
			 "no kubeconfig given and KUBERNETES_SERVICE_HOST is not set (not in a "
			 "cluster)");
		return -EINVAL;
	}
	/* asprintf leaves its pointer undefined on failure: keep only what succeeded */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port && *port ? port : "443") < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->ca_file, "%s/ca.crt", dir) < 0) {
		c->ca_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->token_file, "%s/token", dir) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&nsfile, "%s/namespace", dir) < 0)
		return -ENOMEM;
	rc = refresh_token(c);
	if (rc) {
		snprintf(err, errlen, "service-account token %s: %s", c->token_file, strerror(-rc));
		free(nsfile);
		return rc;
	}
	c->ns = read_small_file(nsfile, &rc);
	free(nsfile);
	if (!c->ns)
		c->ns = strdup("");
	return c->ns ? 0 : -ENOMEM;
}

static void client_unref(struct k8s_client *c)
{
	if (--c->refs)
		return;
	for (int i = 0; i < N_TMP; i++) {
		if (c->tmp[i])
			unlink(c->tmp[i]);
		free(c->tmp[i]);
	}
	free(c->server);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->token);
	free(c->token_file);
	free(c->ns);
	free(c);
}

struct k8s_client *k8s_client_new(uv_loop_t *loop, struct http_client *http,
				  const struct k8s_settings *s, char *err, size_t errlen)
{
	struct k8s_client *c = calloc(1, sizeof(*c));
	int rc;

	err[0] = '\0';
	if (!c) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	/* libcurl is loaded on first use (outputs/curl_dl.h): fail here, not on the first call. */
	if (curl_dl_load()) {
		snprintf(err, errlen, "%s", curl_dl_error());
		free(c);
		errno = ELIBACC;
		return NULL;
	}
	c->loop = loop;
	c->http = http;
	c->refs = 1;
	c->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 10000;
	c->max_retries = s->max_retries >= 0 ? s->max_retries : 3;
	if (s->kubeconfig && *s->kubeconfig)
		rc = load_kubeconfig(c, s, err, errlen);
	else
		rc = load_incluster(c, s, err, errlen);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(-rc));
		c->closed = true;
		client_unref(c);
		errno = -rc;
		return NULL;
	}
	/* "https://host:6443/" -> "https://host:6443" so paths join with one slash */
	for (size_t n = strlen(c->server); n && c->server[n - 1] == '/'; n--)
		c->server[n - 1] = '\0';
	return c;
}

const char *k8s_client_namespace(const struct k8s_client *c)
{
	return c->ns ? c->ns : "";
}

const char *k8s_client_server(const struct k8s_client *c)
{
	return c->server;
}

/* --- requests ----------------------------------------------------------------------------- */

void k8s_decode_response(const struct http_response *hr, json_t **body, struct k8s_response *r,
			 char *msgbuf, size_t msglen)
{
	const char *m = NULL;

	memset(r, 0, sizeof(*r));
	*body = NULL;
	r->status = hr->status;
	r->reason = "";
	if (hr->body && hr->body_len)
		*body = json_loadb(hr->body, hr->body_len, 0, NULL);
	r->body = *body;
	r->ok = hr->status >= 200 && hr->status < 300 && !hr->curl_code;
	if (json_is_object(*body) &&
	    !strcmp(jstr(*body, "kind") ? jstr(*body, "kind") : "", "Status")) {
		if (jstr(*body, "reason"))
			r->reason = jstr(*body, "reason");
		m = jstr(*body, "message");
	}
	if (r->ok) {
		r->message = "OK";
	} else if (hr->curl_code && !hr->status) {
		snprintf(msgbuf, msglen, "%s", hr->error && *hr->error ? hr->error : "no answer");
		r->message = msgbuf;
	} else if (m && *m) {
		r->message = m;
	} else {
		snprintf(msgbuf, msglen, "HTTP %ld", hr->status);
		r->message = msgbuf;
	}
}

static void req_free_cb(uv_handle_t *h)
{
	struct k8s_req *q = h->data;
	struct k8s_client *c = q->c;

	free(q->method);
	free(q->url);
	free(q->ctype);
	free(q->body);
	free(q);
	client_unref(c);
}

static void wait_unlink(struct k8s_req *q)
{
	if (!q->in_wait)
		return;
	if (q->prev)
		q->prev->next = q->next;
	else
		q->c->waiting = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	q->in_wait = false;
}

/* Report the final outcome and let the request go. */
static void req_finish(struct k8s_req *q, const struct k8s_response *r)
{
	wait_unlink(q);
	uv_timer_stop(&q->timer);
	q->cb(q->data, r);
	uv_close((uv_handle_t *)&q->timer, req_free_cb);
}

static void req_finish_failed(struct k8s_req *q)
{
	struct k8s_response r = {
		.status = q->fail_status,
		.reason = "",
		.message = q->fail_msg,
	};

	req_finish(q, &r);
}

static void on_http_done(void *data, const struct http_response *hr);

/* Streamed body bytes go to the caller with the caller's data. */
static bool req_on_data(void *data, const char *buf, size_t len)
{
	struct k8s_req *q = data;

	return q->o.on_data(q->data, buf, len);
}

static void req_start(struct k8s_req *q)
{
	struct k8s_client *c = q->c;
	struct http_header hdrs[2] = {
		{ "Accept", "application/json" },
		{ "Content-Type", q->ctype },
	};
	struct http_request hreq = {
		.method = q->method,
		.url = q->url,
		.headers = hdrs,
		.n_headers = q->body ? 2 : 1,
		.body = q->body,
		.body_len = q->body_len,
		.timeout_ms = q->o.timeout_ms > 0 ? q->o.timeout_ms : c->timeout_ms,
		.max_response_bytes = q->o.max_response_bytes,
		.on_data = q->o.on_data ? req_on_data : NULL,
		.insecure = c->insecure,
		.ca_file = c->ca_file,
		.cert_file = c->cert_file,
		.key_file = c->key_file,
	};
	int err;

	refresh_token(c);
	hreq.bearer_token = c->token;
	q->attempt++;
	err = http_client_request(c->http, &hreq, on_http_done, q);
	if (err) {
		q->fail_status = 0;
		snprintf(q->fail_msg, sizeof(q->fail_msg), "cannot start request: %s",
			 strerror(-err));
		req_finish_failed(q);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct k8s_req *q = t->data;

	wait_unlink(q);
	if (q->fail_msg[0])
		req_finish_failed(q);
	else
		req_start(q);
}

static void wait_then(struct k8s_req *q, uint64_t ms)
{
	struct k8s_client *c = q->c;

	q->in_wait = true;
	q->prev = NULL;
	q->next = c->waiting;
	if (c->waiting)
		c->waiting->prev = q;
	c->waiting = q;
	uv_timer_start(&q->timer, on_timer, ms, 0);
}

static bool retryable(const struct http_response *hr)
{
	if (!hr->status)
		return hr->curl_code != CURLE_ABORTED_BY_CALLBACK;
	return hr->status == 429 || hr->status >= 500;
}

static void on_http_done(void *data, const struct http_response *hr)
{
	struct k8s_req *q = data;
	struct k8s_client *c = q->c;
	struct k8s_response r;
	char msg[256];
	json_t *body;

	if (!c->closed && !q->o.no_retry && retryable(hr) && q->attempt <= c->max_retries) {
		int64_t ms = (int64_t)BACKOFF_FIRST_MS << (q->attempt - 1);

		if (hr->retry_after_ms >= 0)
			ms = hr->retry_after_ms;
		if (ms > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		log_debug("k8s: %s %s: %ld, retry %d in %lld ms", q->method, q->url, hr->status,
			  q->attempt, (long long)ms);
		wait_then(q, (uint64_t)ms);
		return;
	}
	k8s_decode_response(hr, &body, &r, msg, sizeof(msg));
	req_finish(q, &r);
	json_decref(body);
}

int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, const json_t *body, k8s_done_fn cb, void *data)
{
	return k8s_request_ex(c, method, path, content_type, body, NULL, cb, data);
}

int k8s_request_ex(struct k8s_client *c, const char *method, const char *path,
		   const char *content_type, const json_t *body, const struct k8s_request_opts *o,
		   k8s_done_fn cb, void *data)
{
	struct k8s_req *q;

	if (c->closed)
		return -ESHUTDOWN;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->cb = cb;
	q->data = data;
	if (o)
		q->o = *o;
	q->method = strdup(method);
	q->ctype = strdup(content_type ? content_type : "application/json");
	if (asprintf(&q->url, "%s%s", c->server, path) < 0)
		q->url = NULL;
	if (body) {
		q->body = json_dumps(body, JSON_COMPACT);
		q->body_len = q->body ? strlen(q->body) : 0;
	}
	if (!q->method || !q->ctype || !q->url || (body && !q->body)) {
		free(q->method);
		free(q->ctype);
		free(q->url);
		free(q->body);
		free(q);
		return -ENOMEM;
	}
	uv_timer_init(c->loop, &q->timer);
	q->timer.data = q;
	c->refs++;
	/* start from the loop so cb never runs inside this call */
	wait_then(q, 0);
	return 0;
}

void k8s_client_free(struct k8s_client *c)
{
	if (!c)
		return;
	c->closed = true;
	while (c->waiting) {
		struct k8s_req *q = c->waiting;

		q->fail_status = 0;
		snprintf(q->fail_msg, sizeof(q->fail_msg), "shutting down");
		req_finish_failed(q);
	}
	client_unref(c);
}
