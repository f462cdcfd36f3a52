// SPDX-License-Identifier: Apache-2.0
/*
 * Mattermost incoming webhook: the Slack-compatible attachment message Falcosidekick sends
 * (outputs/mattermost.go), with Mattermost's field order (rule, hostname, priority, source,
 * tags, output fields, time). As for Slack, numeric output fields are shown too, and nothing
 * points at the internet by default: username and footer "lanner", no icon (Falcosidekick:
 * "Falcosidekick", its GitHub URL and a GitHub-hosted image).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

static const char *const mattermost_formats[] = { "all", "text", "fields", NULL };

struct mattermost_settings {
	const char *webhookurl;
	const char *footer;
	const char *icon;
	const char *username;
	int outputformat;
	struct template *messageformat;
	struct chat_http http;
};

struct mattermost {
	struct sink base;
	struct mattermost_settings set;
	struct http_client *http;
};

#define MO(m) offsetof(struct mattermost_settings, m)

static const struct config_option mattermost_options[] = {
	{ "webhookurl", CONFIG_STRING, NULL, MO(webhookurl), 0, 0, NULL, NULL,
	  "Mattermost incoming webhook URL (enables the output)" },
	{ "footer", CONFIG_STRING, "lanner", MO(footer), 0, 0, NULL, NULL,
	  "attachment footer (empty: none)" },
	{ "icon", CONFIG_STRING, NULL, MO(icon), 0, 0, NULL, NULL,
	  "icon_url of the message (default: none)" },
	{ "username", CONFIG_STRING, "lanner", MO(username), 0, 0, NULL, NULL,
	  "name the message is posted as" },
	{ "outputformat", CONFIG_ENUM, "all", MO(outputformat), 0, 0, mattermost_formats, NULL,
	  "all: text and fields; text: the output only; fields: the fields only" },
	{ "messageformat", CONFIG_CUSTOM, NULL, MO(messageformat), 0, 0, NULL,
	  template_config_parse, "message text above the attachment ({{ .Rule }}, ...)" },
	CHAT_HTTP_OPTIONS(struct mattermost_settings, http),
	{ NULL },
};

static int mattermost_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct mattermost *mm = (struct mattermost *)s;
	int err;

	mm->http = env->http;
	err = config_bind(cfg, "mattermost", mattermost_options, &mm->set);
	if (!err)
		err = chat_check_url("mattermost.webhookurl", mm->set.webhookurl);
	if (!err)
		err = chat_http_init(&mm->set.http, "mattermost", cfg);
	if (err) {
		template_free(mm->set.messageformat);
		mm->set.messageformat = NULL;
	}
	return err;
}

static int mattermost_send(struct sink *s, struct alert *a, void *token)
{
	struct mattermost *mm = (struct mattermost *)s;
	static const struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
	};
	struct http_request req = {
		.method = "POST",
		.url = mm->set.webhookurl,
		.headers = headers,
		.n_headers = 1,
	};
	struct slack_message m = {
		.username = mm->set.username,
		.icon = mm->set.icon,
		.footer = mm->set.footer,
		.format = mm->set.outputformat,
		.messageformat = mm->set.messageformat,
		.mattermost = true,
	};
	size_t len;
	char *body = slack_message_body(&m, a, &len);
	int err;

	if (!body)
		return -ENOMEM;
	chat_http_apply(&mm->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = chat_http_send(s, mm->http, &req, token);
	free(body);
	return err;
}

static void mattermost_close(struct sink *s)
{
	struct mattermost *mm = (struct mattermost *)s;

	template_free(mm->set.messageformat);
	mm->set.messageformat = NULL;
}

const struct sink_ops mattermost_sink_ops = {
	.name = "mattermost",
	.size = sizeof(struct mattermost),
	.options = mattermost_options,
	.enable_key = "mattermost.webhookurl",
	.init = mattermost_init,
	.send = mattermost_send,
	.close = mattermost_close,
};
