// SPDX-License-Identifier: Apache-2.0
/*
 * The webhook sink (Falcosidekick's "webhook" output): the alert's canonical JSON, POSTed (or
 * PUT) to webhook.address with Content-Type application/json and the user's custom headers, on
 * the shared HTTP client. The retry policy is http_response_status()'s.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"

enum webhook_method { WEBHOOK_POST, WEBHOOK_PUT };

struct webhook_settings {
	const char *address;
	int method;
	struct config_map customheaders;
	bool checkcert;
	bool mutualtls;
	int64_t timeout_ms;
};

struct webhook {
	struct sink base;
	struct webhook_settings set;
	struct http_client *http;
	struct http_header *headers; /* custom headers + Content-Type unless overridden */
	size_t n_headers;
	const char *cert_file, *key_file, *ca_file; /* mutual TLS, borrowed from the config */
	bool closed;
};

/* One request in flight. */
struct webhook_req {
	struct webhook *w;
	void *token;
};

static const char *const method_choices[] = { "POST", "PUT", NULL };

static const struct config_option webhook_options[] = {
	{ .key = "address",
	  .type = CONFIG_STRING,
	  .offset = offsetof(struct webhook_settings, address),
	  .help = "URL alerts are sent to (http:// or https://)" },
	{ .key = "method",
	  .type = CONFIG_ENUM,
	  .def = "POST",
	  .offset = offsetof(struct webhook_settings, method),
	  .choices = method_choices,
	  .help = "HTTP method: POST or PUT" },
	{ .key = "customheaders",
	  .type = CONFIG_MAP,
	  .offset = offsetof(struct webhook_settings, customheaders),
	  .help = "extra HTTP headers, name: value (they win over Content-Type)" },
	{ .key = "checkcert",
	  .type = CONFIG_BOOL,
	  .def = "true",
	  .offset = offsetof(struct webhook_settings, checkcert),
	  .help = "verify the server's TLS certificate" },
	{ .key = "mutualtls",
	  .type = CONFIG_BOOL,
	  .def = "false",
	  .offset = offsetof(struct webhook_settings, mutualtls),
	  .help = "present mutualtlsclient.certfile/keyfile, verify with mutualtlsclient.cacertfile" },
	{ .key = "timeout",
	  .type = CONFIG_DURATION,
	  .def = "10s",
	  .offset = offsetof(struct webhook_settings, timeout_ms),
	  .min = 1,
	  .max = 3600000,
	  .help = "time allowed for one request, connection included" },
	{ .key = NULL },
};

static int webhook_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct webhook *w = (struct webhook *)s;
	const struct config_map *ch;
	bool has_ctype = false;
	size_t i;
	int err;

	err = config_bind(cfg, s->ops->name, webhook_options, &w->set);
	if (err)
		return err;
	if (!w->set.address || !*w->set.address) {
		log_error("webhook: webhook.address is empty");
		return -EINVAL;
	}
	if (strncasecmp(w->set.address, "http://", 7) &&
	    strncasecmp(w->set.address, "https://", 8)) {
		log_error("webhook: webhook.address '%s' is not an http:// or https:// URL",
			  w->set.address);
		return -EINVAL;
	}
	if (!env->http) {
		log_error("webhook: no HTTP client");
		return -EINVAL;
	}
	w->http = env->http;
	if (http_client_load("webhook"))
		return -ELIBACC;
	if (w->set.mutualtls) {
		w->cert_file = config_get(cfg, "mutualtlsclient.certfile");
		w->key_file = config_get(cfg, "mutualtlsclient.keyfile");
		w->ca_file = config_get(cfg, "mutualtlsclient.cacertfile");
		if (!w->cert_file || !*w->cert_file || !w->key_file || !*w->key_file) {
			log_error("webhook: webhook.mutualtls is on but mutualtlsclient.certfile "
				  "and mutualtlsclient.keyfile are not both set");
			return -EINVAL;
		}
		if (w->ca_file && !*w->ca_file)
			w->ca_file = NULL;
	}

	ch = &w->set.customheaders;
	w->headers = calloc(ch->n + 1, sizeof(*w->headers));
	if (!w->headers)
		return -ENOMEM;
	for (i = 0; i < ch->n; i++) {
		if (!http_header_valid(ch->keys[i], ch->values[i])) {
			log_error(
				"webhook: webhook.customheaders: invalid header '%s' (a name is a "
				"token, a value has no line break)",
				ch->keys[i]);
			free(w->headers);
			w->headers = NULL;
			return -EINVAL;
		}
		w->headers[w->n_headers].name = ch->keys[i];
		w->headers[w->n_headers++].value = ch->values[i];
		if (!strcasecmp(ch->keys[i], "Content-Type"))
			has_ctype = true;
	}
	if (!has_ctype) {
		w->headers[w->n_headers].name = "Content-Type";
		w->headers[w->n_headers++].value = "application/json";
	}
	return 0;
}

static void on_response(void *data, const struct http_response *resp)
{
	struct webhook_req *r = data;
	struct sink_status st;

	http_response_status(resp, &st);
	sink_done(&r->w->base, r->token, &st);
	free(r);
}

static int webhook_send(struct sink *s, struct alert *a, void *token)
{
	struct webhook *w = (struct webhook *)s;
	struct http_request req = {
		.method = method_choices[w->set.method],
		.url = w->set.address,
		.headers = w->headers,
		.n_headers = w->n_headers,
		.timeout_ms = (long)w->set.timeout_ms,
		.insecure = !w->set.checkcert,
		.ca_file = w->ca_file,
		.cert_file = w->cert_file,
		.key_file = w->key_file,
	};
	struct webhook_req *r;
	int err;

	if (w->closed)
		return -ESHUTDOWN;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->w = w;
	r->token = token;
	req.body = alert_json(a, &req.body_len);
	err = http_client_request(w->http, &req, on_response, r);
	if (err)
		free(r);
	return err;
}

/*
 * Requests in flight belong to the shared client: they complete normally, or come back as
 * SINK_RETRY when the pipeline frees the client right after closing its sinks.
 */
static void webhook_close(struct sink *s)
{
	struct webhook *w = (struct webhook *)s;

	w->closed = true;
	free(w->headers);
	w->headers = NULL;
	w->n_headers = 0;
}

const struct sink_ops webhook_sink_ops = {
	.name = "webhook",
	.size = sizeof(struct webhook),
	.options = webhook_options,
	.enable_key = "webhook.address",
	.init = webhook_init,
	.send = webhook_send,
	.close = webhook_close,
};
