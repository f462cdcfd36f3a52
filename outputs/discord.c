// SPDX-License-Identifier: Apache-2.0
/*
 * Discord webhook: Falcosidekick's message (outputs/discord.go), one embed with the output as
 * description, a colour per priority and inline fields (rule, priority, source, hostname,
 * output fields in ```code```, tags, time). Differences: the colour is a JSON integer as
 * Discord's API documents it (Falcosidekick sends a string), the empty title and url are left
 * out, numeric output fields are shown, `content` can be set with a messageformat, no avatar by
 * default (Falcosidekick's is an image on GitHub), and texts are cut to Discord's limits
 * (description 4096, field value 1024 characters, 25 fields, 6000 characters for the whole
 * embed, content 2000) instead of being refused with a 400: output fields that do not fit are
 * left out. Empty values (which Discord refuses) are left out, and so is an empty content.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

#define DISCORD_MAX_FIELDS 25
#define DISCORD_MAX_VALUE 1024
#define DISCORD_MAX_DESCRIPTION 4096
#define DISCORD_MAX_CONTENT 2000
#define DISCORD_MAX_EMBED 6000

struct discord_settings {
	const char *webhookurl;
	const char *icon;
	struct template *messageformat;
	struct chat_http http;
};

struct discord {
	struct sink base;
	struct discord_settings set;
	struct http_client *http;
};

#define DO(m) offsetof(struct discord_settings, m)

static const struct config_option discord_options[] = {
	{ "webhookurl", CONFIG_STRING, NULL, DO(webhookurl), 0, 0, NULL, NULL,
	  "Discord webhook URL (enables the output)" },
	{ "icon", CONFIG_STRING, NULL, DO(icon), 0, 0, NULL, NULL,
	  "avatar_url of the message (default: none)" },
	{ "messageformat", CONFIG_CUSTOM, NULL, DO(messageformat), 0, 0, NULL,
	  template_config_parse, "message content above the embed ({{ .Rule }}, ...)" },
	CHAT_HTTP_OPTIONS(struct discord_settings, http),
	{ NULL },
};

/* Falcosidekick's palette (Discord's named colours), as integers. */
static json_int_t discord_color(enum priority p)
{
	static const json_int_t colors[PRIORITY__COUNT] = {
		15158332, /* Emergency: red */
		11027200, /* Alert: dark orange */
		15105570, /* Critical: orange */
		15844367, /* Error: gold */
		12745742, /* Warning: dark gold */
		3066993, /* Notice: teal */
		3447003, /* Informational: blue */
		12370112, /* Debug: light grey */
	};

	return (unsigned)p < PRIORITY__COUNT ? colors[p] : colors[PRIORITY_DEBUG];
}

/* Characters a field costs in the embed's 6000 (name + value as sent). */
static size_t field_cost(const char *name, const char *value)
{
	size_t v = chat_utf8_len(value);

	return chat_utf8_len(name) + (v < DISCORD_MAX_VALUE ? v : DISCORD_MAX_VALUE);
}

static int add_field(json_t *fields, const char *name, const char *value)
{
	char *v, *n;
	int err;

	/* Discord refuses an empty name or value. */
	if (!*value || !*name)
		return 0;
	v = chat_truncate(value, DISCORD_MAX_VALUE);
	n = chat_truncate(name, 256);
	err = !v || !n ||
	      json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "name", n, "value", v,
						      "inline", 1));
	free(v);
	free(n);
	return err;
}

/* The fields, within `budget` characters (what the description left of the embed's 6000). */
static json_t *discord_fields(const struct alert *a, size_t budget)
{
	const json_t *of = alert_output_fields(a);
	bool has_tags = json_array_size(alert_tags(a)) > 0;
	json_t *fields = json_array();
	const char **keys = NULL;
	size_t n = 0, room, used = 0;
	char tb[64], *tags = has_tags ? chat_join_tags(alert_tags(a), ", ") : NULL;
	int err;

	chat_go_time(alert_time_ns(a), tb, sizeof(tb));
	if (!fields || (has_tags && !tags)) {
		json_decref(fields);
		free(tags);
		return NULL;
	}
	/* What is always sent: rule, priority, source, hostname, tags, time. */
	used = field_cost("rule", alert_rule(a)) +
	       field_cost("priority", priority_name(alert_priority(a))) +
	       field_cost("source", alert_source(a)) + field_cost("hostname", alert_hostname(a)) +
	       (tags ? field_cost("tags", tags) : 0) + field_cost("time", tb);
	err = add_field(fields, "rule", alert_rule(a)) ||
	      add_field(fields, "priority", priority_name(alert_priority(a))) ||
	      add_field(fields, "source", alert_source(a));
	if (!err && alert_hostname(a)[0])
		err = add_field(fields, "hostname", alert_hostname(a));
	keys = err ? NULL : chat_sorted_keys(of, &n);
	if (!keys)
		err = -1;
	/* Keep room for tags and time within Discord's 25 fields. */
	room = DISCORD_MAX_FIELDS - (has_tags ? 2 : 1);
	for (size_t i = 0; !err && i < n && json_array_size(fields) < room; i++) {
		char *v = chat_value_string(json_object_get(of, keys[i]), "<NA>"), *code = NULL;

		/* Leave room for the six backticks inside the value limit. */
		if (v)
			code = chat_truncate(v, DISCORD_MAX_VALUE - 6);
		if (code && used + chat_utf8_len(keys[i]) + chat_utf8_len(code) + 6 > budget) {
			/* Sorted order: the ones that do not fit in the embed stay out. */
			free(code);
			free(v);
			continue;
		}
		if (code) {
			char *wrapped = malloc(strlen(code) + 7);

			used += chat_utf8_len(keys[i]) + chat_utf8_len(code) + 6;
			if (wrapped) {
				sprintf(wrapped, "```%s```", code);
				err = add_field(fields, keys[i], wrapped);
			} else {
				err = -1;
			}
			free(wrapped);
		} else {
			err = -1;
		}
		free(code);
		free(v);
	}
	free(keys);
	if (!err && tags)
		err = add_field(fields, "tags", tags);
	free(tags);
	if (!err)
		err = add_field(fields, "time", tb);
	if (err) {
		json_decref(fields);
		return NULL;
	}
	return fields;
}

static char *discord_body(const struct discord_settings *set, const struct alert *a, size_t *len)
{
	char *content = NULL, *desc = chat_truncate(alert_output(a), DISCORD_MAX_DESCRIPTION);
	json_t *root = json_object(), *embed = json_object(), *fields = NULL;
	char *body = NULL;
	int err = 0;

	if (!root || !embed || !desc)
		goto out;
	fields = discord_fields(a, DISCORD_MAX_EMBED - chat_utf8_len(desc));
	if (!fields)
		goto out;
	if (set->messageformat) {
		char *text = template_render(set->messageformat, a);

		content = text ? chat_truncate(text, DISCORD_MAX_CONTENT) : NULL;
		free(text);
		if (!content)
			goto out;
	}
	if (content && *content)
		err |= json_object_set_new(root, "content", json_string(content));
	if (set->icon)
		err |= json_object_set_new(root, "avatar_url", json_string(set->icon));
	if (*desc)
		err |= json_object_set_new(embed, "description", json_string(desc));
	err |= json_object_set_new(embed, "color", json_integer(discord_color(alert_priority(a))));
	err |= json_object_set(embed, "fields", fields);
	err |= json_object_set_new(root, "embeds", json_pack("[O]", embed));
	if (!err)
		body = chat_json_dumps(root, len);
out:
	free(content);
	free(desc);
	json_decref(fields);
	json_decref(embed);
	json_decref(root);
	return body;
}

static int discord_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct discord *d = (struct discord *)s;
	int err;

	d->http = env->http;
	err = config_bind(cfg, "discord", discord_options, &d->set);
	if (!err)
		err = chat_check_url("discord.webhookurl", d->set.webhookurl);
	if (!err)
		err = chat_http_init(&d->set.http, "discord", cfg);
	if (err) {
		template_free(d->set.messageformat);
		d->set.messageformat = NULL;
	}
	return err;
}

static int discord_send(struct sink *s, struct alert *a, void *token)
{
	struct discord *d = (struct discord *)s;
	static const struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
	};
	struct http_request req = {
		.method = "POST",
		.url = d->set.webhookurl,
		.headers = headers,
		.n_headers = 1,
	};
	size_t len;
	char *body = discord_body(&d->set, a, &len);
	int err;

	if (!body)
		return -ENOMEM;
	chat_http_apply(&d->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = chat_http_send(s, d->http, &req, token);
	free(body);
	return err;
}

static void discord_close(struct sink *s)
{
	struct discord *d = (struct discord *)s;

	template_free(d->set.messageformat);
	d->set.messageformat = NULL;
}

const struct sink_ops discord_sink_ops = {
	.name = "discord",
	.size = sizeof(struct discord),
	.options = discord_options,
	.enable_key = "discord.webhookurl",
	.init = discord_init,
	.send = discord_send,
	.close = discord_close,
};
