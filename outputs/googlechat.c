// SPDX-License-Identifier: Apache-2.0
/*
 * Google Chat incoming webhook. outputformat "text": {"text": messageformat} (the output when
 * no messageformat is set; Falcosidekick would send an empty message). "all": the rendered
 * messageformat as text (left out when empty) and a card in the current cardsV2 format
 * (Falcosidekick still sends the deprecated "cards"): header = rule and priority, one section
 * with the output and a decoratedText per field (rule, priority, source, hostname, output
 * fields sorted, tags, time). Card texts are HTML-escaped, since Chat reads them as HTML.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

static const char *const googlechat_formats[] = { "all", "text", NULL };

struct googlechat_settings {
	const char *webhookurl;
	int outputformat; /* CHAT_FORMAT_ALL or CHAT_FORMAT_TEXT */
	struct template *messageformat;
	struct chat_http http;
};

struct googlechat {
	struct sink base;
	struct googlechat_settings set;
	struct http_client *http;
};

#define GO(m) offsetof(struct googlechat_settings, m)

static const struct config_option googlechat_options[] = {
	{ "webhookurl", CONFIG_STRING, NULL, GO(webhookurl), 0, 0, NULL, NULL,
	  "Google Chat space webhook URL (enables the output)" },
	{ "outputformat", CONFIG_ENUM, "all", GO(outputformat), 0, 0, googlechat_formats, NULL,
	  "all: text and a card; text: the text only" },
	{ "messageformat", CONFIG_CUSTOM, NULL, GO(messageformat), 0, 0, NULL,
	  template_config_parse, "message text ({{ .Rule }}, ...)" },
	CHAT_HTTP_OPTIONS(struct googlechat_settings, http),
	{ NULL },
};

static int add_widget(json_t *widgets, const char *label, const char *text)
{
	char *esc = chat_html_escape(text);
	int err;

	if (!esc)
		return -1;
	err = json_array_append_new(widgets, json_pack("{s:{s:s, s:s}}", "decoratedText",
						       "topLabel", label, "text", esc));
	free(esc);
	return err;
}

static json_t *googlechat_widgets(const struct alert *a)
{
	const json_t *of = alert_output_fields(a);
	json_t *widgets = json_array();
	const char **keys = NULL;
	char tb[64], *out = NULL;
	size_t n = 0;
	int err = 0;

	if (!widgets)
		return NULL;
	if (alert_output(a)[0]) {
		out = chat_html_escape(alert_output(a));
		err = !out || json_array_append_new(widgets, json_pack("{s:{s:s}}", "textParagraph",
								       "text", out));
		free(out);
	}
	if (!err)
		err = add_widget(widgets, "rule", alert_rule(a)) ||
		      add_widget(widgets, "priority", priority_name(alert_priority(a))) ||
		      add_widget(widgets, "source", alert_source(a));
	if (!err && alert_hostname(a)[0])
		err = add_widget(widgets, "hostname", alert_hostname(a));
	keys = err ? NULL : chat_sorted_keys(of, &n);
	if (!keys)
		err = -1;
	for (size_t i = 0; !err && i < n; i++) {
		char *v = chat_value_string(json_object_get(of, keys[i]), "<NA>");

		err = !v || add_widget(widgets, keys[i], v);
		free(v);
	}
	free(keys);
	if (!err && json_array_size(alert_tags(a))) {
		char *tags = chat_join_tags(alert_tags(a), ", ");

		err = !tags || add_widget(widgets, "tags", tags);
		free(tags);
	}
	if (!err) {
		chat_go_time(alert_time_ns(a), tb, sizeof(tb));
		err = add_widget(widgets, "time", tb);
	}
	if (err) {
		json_decref(widgets);
		return NULL;
	}
	return widgets;
}

static char *googlechat_body(const struct googlechat_settings *set, const struct alert *a,
			     size_t *len)
{
	json_t *root = json_object(), *widgets = NULL;
	char *text = NULL, *body = NULL, *title = NULL;
	int err = 0;

	if (!root)
		goto out;
	if (set->messageformat) {
		text = template_render(set->messageformat, a);
		if (!text)
			goto out;
	}
	if (set->outputformat == CHAT_FORMAT_TEXT) {
		err |= json_object_set_new(root, "text",
					   json_string(text ? text : alert_output(a)));
	} else {
		if (text && *text)
			err |= json_object_set_new(root, "text", json_string(text));
		widgets = googlechat_widgets(a);
		title = chat_html_escape(alert_rule(a));
		if (!widgets || !title)
			goto out;
		err |= json_object_set_new(root, "cardsV2",
					   json_pack("[{s:s, s:{s:{s:s, s:s}, s:[{s:O}]}}]",
						     "cardId", "lanner-alert", "card", "header",
						     "title", title, "subtitle",
						     priority_name(alert_priority(a)), "sections",
						     "widgets", widgets));
	}
	if (!err)
		body = chat_json_dumps(root, len);
out:
	free(text);
	free(title);
	json_decref(widgets);
	json_decref(root);
	return body;
}

static int googlechat_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct googlechat *g = (struct googlechat *)s;
	int err;

	g->http = env->http;
	err = config_bind(cfg, "googlechat", googlechat_options, &g->set);
	if (!err)
		err = chat_check_url("googlechat.webhookurl", g->set.webhookurl);
	if (!err)
		err = chat_http_init(&g->set.http, "googlechat", cfg);
	if (err) {
		template_free(g->set.messageformat);
		g->set.messageformat = NULL;
	}
	return err;
}

static int googlechat_send(struct sink *s, struct alert *a, void *token)
{
	struct googlechat *g = (struct googlechat *)s;
	static const struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
	};
	struct http_request req = {
		.method = "POST",
		.url = g->set.webhookurl,
		.headers = headers,
		.n_headers = 1,
	};
	size_t len;
	char *body = googlechat_body(&g->set, a, &len);
	int err;

	if (!body)
		return -ENOMEM;
	chat_http_apply(&g->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = chat_http_send(s, g->http, &req, token);
	free(body);
	return err;
}

static void googlechat_close(struct sink *s)
{
	struct googlechat *g = (struct googlechat *)s;

	template_free(g->set.messageformat);
	g->set.messageformat = NULL;
}

const struct sink_ops googlechat_sink_ops = {
	.name = "googlechat",
	.size = sizeof(struct googlechat),
	.options = googlechat_options,
	.enable_key = "googlechat.webhookurl",
	.init = googlechat_init,
	.send = googlechat_send,
	.close = googlechat_close,
};
