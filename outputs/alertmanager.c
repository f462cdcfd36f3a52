// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus Alertmanager v2 API (POST hostport + endpoint, default /api/v2/alerts). The alert
 * is Falcosidekick's (outputs/alertmanager.go):
 *
 *	[{"labels":{...sorted},"annotations":{...sorted},"startsAt":time[,"endsAt":...]}]
 *
 * labels: every string or numeric output field under a safe label name (n_evts* skipped),
 * source "falco", rule and alertname = the rule, eventsource = the alert's source, hostname,
 * tags (joined by ","), priority, severity (customseveritymap, else Debug..Notice
 * "information", Warning/Error "warning", Critical..Emergency "critical"), then extralabels.
 * annotations: info and description = output, summary = rule, then extraannotations.
 * startsAt is the event time (Falcosidekick sends none); endsAt = time + expiresafter seconds
 * when set (Falcosidekick sends Go's zero time otherwise; lanner leaves it out).
 *
 * Several hosts (alertmanager.hostport: a list): as Prometheus does for an HA cluster, the
 * alert goes to every instance, and counts as delivered when at least one accepted it; when
 * none did, it is retried (to all) if any failure was retryable.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

struct alertmanager_settings {
	struct config_strlist hostport;
	const char *endpoint;
	int64_t expiresafter;
	struct config_map extralabels;
	struct config_map extraannotations;
	struct config_map customseveritymap;
	struct config_map customheaders;
	struct chat_http http;
};

struct alertmanager {
	struct sink base;
	struct alertmanager_settings set;
	struct http_client *http;
	char **urls;
	size_t n_urls;
	struct http_header *headers;
	size_t n_headers;
	const char *severity[PRIORITY__COUNT];
	bool closed; /* urls are gone; aborted requests still report back */
};

/* One alert on its way to every host. */
struct am_send {
	struct alertmanager *am;
	void *token;
	size_t pending;
	unsigned ok, retry;
	int64_t retry_after_ms;
	char msg[256];
};

/* One request of an am_send. */
struct am_req {
	struct am_send *send;
	size_t host;
};

#define AO(m) offsetof(struct alertmanager_settings, m)

static const struct config_option alertmanager_options[] = {
	{ "hostport", CONFIG_STRLIST, NULL, AO(hostport), 0, 0, NULL, NULL,
	  "Alertmanager base URLs, every instance of the cluster (enables the output)" },
	{ "endpoint", CONFIG_STRING, "/api/v2/alerts", AO(endpoint), 0, 0, NULL, NULL,
	  "alerts API path" },
	{ "expiresafter", CONFIG_INT, "0", AO(expiresafter), 0, 315360000, NULL, NULL,
	  "seconds after the event when the alert resolves (endsAt); 0: Alertmanager decides" },
	{ "extralabels", CONFIG_MAP, NULL, AO(extralabels), 0, 0, NULL, NULL,
	  "labels added to every alert, name: value" },
	{ "extraannotations", CONFIG_MAP, NULL, AO(extraannotations), 0, 0, NULL, NULL,
	  "annotations added to every alert, name: value" },
	{ "customseveritymap", CONFIG_MAP, NULL, AO(customseveritymap), 0, 0, NULL, NULL,
	  "severity label per priority, priority: severity (critical: page)" },
	{ "customheaders", CONFIG_MAP, NULL, AO(customheaders), 0, 0, NULL, NULL,
	  "extra HTTP headers, name: value" },
	CHAT_HTTP_OPTIONS(struct alertmanager_settings, http),
	{ NULL },
};

/* Falcosidekick's alertmanagerSafeLabel: [^a-zA-Z0-9_] -> _, "__" -> "_", trim "_". */
static char *safe_label(const char *name)
{
	size_t n = strlen(name), k = 0, start = 0;
	char *s = malloc(n + 1), *out;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		s[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ?
			       c :
			       '_';
	}
	s[n] = '\0';
	/* strings.ReplaceAll(s, "__", "_"): one left-to-right pass over non-overlapping pairs. */
	for (size_t i = 0; i < n; i++) {
		s[k++] = s[i];
		if (s[i] == '_' && i + 1 < n && s[i + 1] == '_')
			i++;
	}
	s[k] = '\0';
	while (k && s[k - 1] == '_')
		s[--k] = '\0';
	while (s[start] == '_')
		start++;
	out = strdup(s + start);
	free(s);
	return out;
}

static json_t *am_labels(const struct alertmanager *am, const struct alert *a)
{
	const json_t *of = alert_output_fields(a), *v;
	const char *key;
	json_t *labels = json_object(), *sorted = NULL;
	int err = 0;

	if (!labels)
		return NULL;
	json_object_foreach((json_t *)of, key, v) {
		char *name, *val;

		if (!strncmp(key, "n_evts", 6) || (!json_is_string(v) && !json_is_number(v)))
			continue;
		name = safe_label(key);
		val = chat_value_string(v, "");
		/* A name Alertmanager would refuse (empty, leading digit) would fail the alert. */
		if (name && val && *name && !(*name >= '0' && *name <= '9'))
			err |= json_object_set_new(labels, name, json_string(val));
		else if (!name || !val)
			err = -1;
		free(name);
		free(val);
	}
	err |= json_object_set_new(labels, "source", json_string("falco"));
	err |= json_object_set_new(labels, "rule", json_string(alert_rule(a)));
	err |= json_object_set_new(labels, "alertname", json_string(alert_rule(a)));
	err |= json_object_set_new(labels, "eventsource", json_string(alert_source(a)));
	if (alert_hostname(a)[0])
		err |= json_object_set_new(labels, "hostname", json_string(alert_hostname(a)));
	if (json_array_size(alert_tags(a))) {
		char *tags = chat_join_tags(alert_tags(a), ",");

		err |= !tags || json_object_set_new(labels, "tags", json_string(tags));
		free(tags);
	}
	err |= json_object_set_new(labels, "priority",
				   json_string(priority_name(alert_priority(a))));
	err |= json_object_set_new(labels, "severity",
				   json_string(am->severity[alert_priority(a)]));
	for (size_t i = 0; i < am->set.extralabels.n; i++)
		err |= json_object_set_new(labels, am->set.extralabels.keys[i],
					   json_string(am->set.extralabels.values[i]));
	if (!err)
		sorted = chat_sorted_object(labels);
	json_decref(labels);
	return sorted;
}

static json_t *am_annotations(const struct alertmanager *am, const struct alert *a)
{
	json_t *ann = json_object(), *sorted = NULL;
	int err = 0;

	if (!ann)
		return NULL;
	err |= json_object_set_new(ann, "info", json_string(alert_output(a)));
	err |= json_object_set_new(ann, "description", json_string(alert_output(a)));
	err |= json_object_set_new(ann, "summary", json_string(alert_rule(a)));
	for (size_t i = 0; i < am->set.extraannotations.n; i++)
		err |= json_object_set_new(ann, am->set.extraannotations.keys[i],
					   json_string(am->set.extraannotations.values[i]));
	if (!err)
		sorted = chat_sorted_object(ann);
	json_decref(ann);
	return sorted;
}

static char *am_body(const struct alertmanager *am, const struct alert *a, size_t *len)
{
	json_t *labels = am_labels(am, a), *ann = am_annotations(am, a), *one = NULL, *root;
	char ends[40], *body = NULL;
	int err = 0;

	if (labels && ann)
		one = json_pack("{s:O, s:O, s:s}", "labels", labels, "annotations", ann, "startsAt",
				alert_time_str(a));
	if (one && am->set.expiresafter > 0) {
		alert_format_time(alert_time_ns(a) + am->set.expiresafter * 1000000000LL, ends,
				  sizeof(ends));
		err = json_object_set_new(one, "endsAt", json_string(ends));
	}
	root = one && !err ? json_pack("[O]", one) : NULL;
	if (root)
		body = chat_json_dumps(root, len);
	json_decref(root);
	json_decref(one);
	json_decref(ann);
	json_decref(labels);
	return body;
}

static void am_release(struct alertmanager *am)
{
	for (size_t i = 0; am->urls && i < am->n_urls; i++)
		free(am->urls[i]);
	free(am->urls);
	am->urls = NULL;
	am->n_urls = 0;
	free(am->headers);
	am->headers = NULL;
}

static int am_severities(struct alertmanager *am)
{
	static const char *const def[PRIORITY__COUNT] = {
		"critical", "critical",	   "critical",	  "warning",
		"warning",  "information", "information", "information",
	};
	const struct config_map *m = &am->set.customseveritymap;

	memcpy(am->severity, def, sizeof(def));
	for (size_t i = 0; i < m->n; i++) {
		enum priority p;

		if (priority_parse(m->keys[i], &p)) {
			log_error("alertmanager.customseveritymap: unknown priority '%s'",
				  m->keys[i]);
			return -EINVAL;
		}
		am->severity[p] = m->values[i];
	}
	return 0;
}

static int alertmanager_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct alertmanager *am = (struct alertmanager *)s;
	int err;

	am->http = env->http;
	err = config_bind(cfg, "alertmanager", alertmanager_options, &am->set);
	if (!err && !am->set.hostport.n) {
		log_error("alertmanager.hostport: no host");
		err = -EINVAL;
	}
	for (size_t i = 0; !err && i < am->set.hostport.n; i++)
		err = chat_check_url("alertmanager.hostport", am->set.hostport.v[i]);
	if (!err)
		err = chat_http_init(&am->set.http, "alertmanager", cfg);
	if (!err)
		err = am_severities(am);
	if (err)
		return err;
	am->urls = calloc(am->set.hostport.n, sizeof(*am->urls));
	if (!am->urls)
		goto nomem;
	for (size_t i = 0; i < am->set.hostport.n; i++) {
		am->urls[i] = chat_join_url(am->set.hostport.v[i], am->set.endpoint);
		if (!am->urls[i])
			goto nomem;
		am->n_urls++;
	}
	am->headers =
		chat_headers(&am->set.customheaders, "application/json", NULL, 0, &am->n_headers);
	if (!am->headers) {
		int err2 = -errno;

		am_release(am);
		return err2;
	}
	return 0;
nomem:
	am_release(am);
	return -ENOMEM;
}

static void am_finish(struct am_send *sd)
{
	struct sink_status st;

	if (sd->ok)
		sink_status_set(&st, SINK_OK, "accepted by %u host(s)", sd->ok);
	else
		sink_status_set(&st, sd->retry ? SINK_RETRY : SINK_FAIL, "%s", sd->msg);
	if (!sd->ok && sd->retry)
		st.retry_after_ms = sd->retry_after_ms;
	sink_done(&sd->am->base, sd->token, &st);
	free(sd);
}

static void am_done(void *data, const struct http_response *resp)
{
	struct am_req *r = data;
	struct am_send *sd = r->send;
	struct sink_status st;

	http_response_status(resp, &st);
	if (st.result == SINK_OK) {
		sd->ok++;
	} else {
		if (st.result == SINK_RETRY) {
			sd->retry++;
			if (st.retry_after_ms > sd->retry_after_ms)
				sd->retry_after_ms = st.retry_after_ms;
		}
		if (sd->am->closed) {
			snprintf(sd->msg, sizeof(sd->msg), "%s", st.msg);
		} else {
			snprintf(sd->msg, sizeof(sd->msg), "%.120s: %.120s", sd->am->urls[r->host],
				 st.msg);
			if (sd->am->n_urls > 1)
				log_warn("alertmanager: %s: %s", sd->am->urls[r->host], st.msg);
		}
	}
	free(r);
	if (--sd->pending == 0)
		am_finish(sd);
}

static int alertmanager_send(struct sink *s, struct alert *a, void *token)
{
	struct alertmanager *am = (struct alertmanager *)s;
	struct http_request req = {
		.method = "POST",
		.headers = am->headers,
		.n_headers = am->n_headers,
	};
	struct am_send *sd;
	size_t len, started = 0;
	char *body = am_body(am, a, &len);
	int err = 0;

	if (!body)
		return -ENOMEM;
	sd = calloc(1, sizeof(*sd));
	if (!sd) {
		free(body);
		return -ENOMEM;
	}
	sd->am = am;
	sd->token = token;
	sd->retry_after_ms = -1;
	/* Held by this function so that no completion can finish the send before the loop ends. */
	sd->pending = 1;
	chat_http_apply(&am->set.http, &req);
	req.body = body;
	req.body_len = len;
	for (size_t i = 0; i < am->n_urls; i++) {
		struct am_req *r = malloc(sizeof(*r));

		err = r ? 0 : -ENOMEM;
		if (r) {
			r->send = sd;
			r->host = i;
			req.url = am->urls[i];
			sd->pending++;
			err = http_client_request(am->http, &req, am_done, r);
			if (err) {
				sd->pending--;
				free(r);
			}
		}
		if (err) {
			sd->retry++;
			snprintf(sd->msg, sizeof(sd->msg), "%s: cannot start: %s", am->urls[i],
				 strerror(-err));
		} else {
			started++;
		}
	}
	free(body);
	if (!started) {
		free(sd);
		return err;
	}
	if (--sd->pending == 0)
		am_finish(sd);
	return 0;
}

static void alertmanager_close(struct sink *s)
{
	struct alertmanager *am = (struct alertmanager *)s;

	am->closed = true;
	am_release(am);
}

const struct sink_ops alertmanager_sink_ops = {
	.name = "alertmanager",
	.size = sizeof(struct alertmanager),
	.options = alertmanager_options,
	.enable_key = "alertmanager.hostport",
	.init = alertmanager_init,
	.send = alertmanager_send,
	.close = alertmanager_close,
};
