// SPDX-License-Identifier: Apache-2.0
/*
 * Slack incoming webhook. The body is byte for byte Falcosidekick's (outputs/slack.go): same
 * keys in the same order, same colours, fields, `short` rule, time text and Go JSON escaping,
 * with one deliberate difference: numeric (and boolean, null) output fields are shown too.
 * Defaults differ where Falcosidekick points at the internet: username "lanner" (theirs
 * "Falcosidekick"), footer "lanner" (theirs the project's GitHub URL), no icon (theirs an image
 * on GitHub).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "config/log.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

static const char *const slack_formats[] = { "all", "text", "fields", NULL };

struct slack_settings {
	const char *webhookurl;
	const char *channel;
	const char *footer;
	const char *icon;
	const char *username;
	int outputformat;
	struct template *messageformat;
	struct chat_http http;
};

struct slack {
	struct sink base;
	struct slack_settings set;
	struct http_client *http;
};

#define SO(m) offsetof(struct slack_settings, m)

static const struct config_option slack_options[] = {
	{ "webhookurl", CONFIG_STRING, NULL, SO(webhookurl), 0, 0, NULL, NULL,
	  "Slack incoming webhook URL (enables the output)" },
	{ "channel", CONFIG_STRING, NULL, SO(channel), 0, 0, NULL, NULL,
	  "channel to post to instead of the webhook's own" },
	{ "footer", CONFIG_STRING, "lanner", SO(footer), 0, 0, NULL, NULL,
	  "attachment footer (empty: none)" },
	{ "icon", CONFIG_STRING, NULL, SO(icon), 0, 0, NULL, NULL,
	  "icon_url of the message (default: none)" },
	{ "username", CONFIG_STRING, "lanner", SO(username), 0, 0, NULL, NULL,
	  "name the message is posted as" },
	{ "outputformat", CONFIG_ENUM, "all", SO(outputformat), 0, 0, slack_formats, NULL,
	  "all: text and fields; text: the output only; fields: the fields only" },
	{ "messageformat", CONFIG_CUSTOM, NULL, SO(messageformat), 0, 0, NULL,
	  template_config_parse,
	  "message text above the attachment, e.g. 'Rule {{ .Rule }} on {{ .Hostname }}'" },
	CHAT_HTTP_OPTIONS(struct slack_settings, http),
	{ NULL },
};

static int add_field(json_t *fields, const char *title, const char *value, bool is_short)
{
	return json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "title", title, "value",
						       value, "short", is_short));
}

static int add_output_fields(json_t *fields, const struct alert *a)
{
	const json_t *of = alert_output_fields(a);
	size_t n;
	const char **keys = chat_sorted_keys(of, &n);
	int err = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		char *v = chat_value_string(json_object_get(of, keys[i]), "<NA>");

		/* Falcosidekick: a field is short when its value has fewer than 36 runes. */
		err = v ? add_field(fields, keys[i], v, chat_utf8_len(v) < 36) : -ENOMEM;
		free(v);
	}
	free(keys);
	return err ? -ENOMEM : 0;
}

static json_t *slack_fields(const struct alert *a, bool mattermost)
{
	json_t *fields = json_array();
	const char *host = alert_hostname(a);
	char tb[64], *tags = NULL;
	int err;

	if (!fields)
		return NULL;
	/* Slack: rule, priority, source, hostname; Mattermost: rule, hostname, priority, source. */
	err = add_field(fields, "rule", alert_rule(a), true);
	if (!err && mattermost && host[0])
		err = add_field(fields, "hostname", host, true);
	if (!err)
		err = add_field(fields, "priority", priority_name(alert_priority(a)), true) ||
		      add_field(fields, "source", alert_source(a), true);
	if (!err && !mattermost && host[0])
		err = add_field(fields, "hostname", host, true);
	if (!err && json_array_size(alert_tags(a))) {
		tags = chat_join_tags(alert_tags(a), ", ");
		err = !tags || add_field(fields, "tags", tags, true);
		free(tags);
	}
	if (!err)
		err = add_output_fields(fields, a);
	if (!err) {
		chat_go_time(alert_time_ns(a), tb, sizeof(tb));
		err = add_field(fields, "time", tb, false);
	}
	if (err) {
		json_decref(fields);
		return NULL;
	}
	return fields;
}

char *slack_message_body(const struct slack_message *m, const struct alert *a, size_t *len)
{
	json_t *root = json_object(), *att = json_object(), *fields = json_null();
	char *text = NULL, *body = NULL;
	int err = 0;

	if (!root || !att)
		goto out;
	if (m->messageformat) {
		text = template_render(m->messageformat, a);
		if (!text)
			goto out;
		if (*text)
			err |= json_object_set_new(root, "text", json_string(text));
	}
	if (m->username)
		err |= json_object_set_new(root, "username", json_string(m->username));
	if (m->icon)
		err |= json_object_set_new(root, "icon_url", json_string(m->icon));
	if (m->channel)
		err |= json_object_set_new(root, "channel", json_string(m->channel));

	err |= json_object_set_new(att, "fallback", json_string(alert_output(a)));
	err |= json_object_set_new(att, "color", json_string(chat_color(alert_priority(a))));
	if (m->format != CHAT_FORMAT_FIELDS && alert_output(a)[0])
		err |= json_object_set_new(att, "text", json_string(alert_output(a)));
	if (m->format != CHAT_FORMAT_TEXT) {
		json_decref(fields);
		fields = slack_fields(a, m->mattermost);
		if (!fields)
			goto out;
	}
	/* Go marshals the nil slice of the text format as null. */
	err |= json_object_set(att, "fields", fields);
	if (m->format != CHAT_FORMAT_TEXT && m->footer)
		err |= json_object_set_new(att, "footer", json_string(m->footer));
	err |= json_object_set_new(root, "attachments", json_pack("[O]", att));
	if (!err)
		body = chat_json_dumps(root, len);
out:
	free(text);
	json_decref(fields);
	json_decref(att);
	json_decref(root);
	return body;
}

static int slack_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct slack *sl = (struct slack *)s;
	int err;

	sl->http = env->http;
	err = config_bind(cfg, "slack", slack_options, &sl->set);
	if (!err)
		err = chat_check_url("slack.webhookurl", sl->set.webhookurl);
	if (!err)
		err = chat_http_init(&sl->set.http, "slack", cfg);
	if (err) {
		template_free(sl->set.messageformat);
		sl->set.messageformat = NULL;
	}
	return err;
}

static int slack_send(struct sink *s, struct alert *a, void *token)
{
	struct slack *sl = (struct slack *)s;
	static const struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
	};
	struct http_request req = {
		.method = "POST",
		.url = sl->set.webhookurl,
		.headers = headers,
		.n_headers = 1,
	};
	struct slack_message m = {
		.username = sl->set.username,
		.icon = sl->set.icon,
		.channel = sl->set.channel,
		.footer = sl->set.footer,
		.format = sl->set.outputformat,
		.messageformat = sl->set.messageformat,
	};
	size_t len;
	char *body = slack_message_body(&m, a, &len);
	int err;

	if (!body)
		return -ENOMEM;
	chat_http_apply(&sl->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = chat_http_send(s, sl->http, &req, token);
	free(body);
	return err;
}

static void slack_close(struct sink *s)
{
	struct slack *sl = (struct slack *)s;

	/* In-flight requests end through the shared client, which the pipeline frees next. */
	template_free(sl->set.messageformat);
	sl->set.messageformat = NULL;
}

const struct sink_ops slack_sink_ops = {
	.name = "slack",
	.size = sizeof(struct slack),
	.options = slack_options,
	.enable_key = "slack.webhookurl",
	.init = slack_init,
	.send = slack_send,
	.close = slack_close,
};
