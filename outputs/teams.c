// SPDX-License-Identifier: Apache-2.0
/*
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is received")
 * webhook: a message with one Adaptive Card 1.4 attachment. Falcosidekick still sends the
 * MessageCard of the retired Office 365 connectors; the card carries the same content:
 *
 *	[Image activityimage]                      when teams.activityimage is set
 *	TextBlock "Priority: rule"                 bold, coloured by priority
 *	TextBlock time                             subtle
 *	TextBlock output                           outputformat all | text
 *	FactSet rule, priority, source, hostname,  outputformat all | facts
 *	        output fields (sorted), tags
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/http_client.h"
#include "outputs/sink.h"
#include "outputs/template.h"

enum teams_format { TEAMS_ALL, TEAMS_TEXT, TEAMS_FACTS };

static const char *const teams_formats[] = { "all", "text", "facts", NULL };

struct teams_settings {
	const char *webhookurl;
	const char *activityimage;
	int outputformat;
	struct chat_http http;
};

struct teams {
	struct sink base;
	struct teams_settings set;
	struct http_client *http;
};

#define TO(m) offsetof(struct teams_settings, m)

static const struct config_option teams_options[] = {
	{ "webhookurl", CONFIG_STRING, NULL, TO(webhookurl), 0, 0, NULL, NULL,
	  "Teams Workflows webhook URL (enables the output)" },
	{ "activityimage", CONFIG_STRING, NULL, TO(activityimage), 0, 0, NULL, NULL,
	  "URL of an image shown at the top of the card (default: none)" },
	{ "outputformat", CONFIG_ENUM, "all", TO(outputformat), 0, 0, teams_formats, NULL,
	  "all: output and facts; text: the output only; facts: the facts only" },
	CHAT_HTTP_OPTIONS(struct teams_settings, http),
	{ NULL },
};

/* Adaptive Card colours, from the most to the least severe. */
static const char *teams_color(enum priority p)
{
	if (p <= PRIORITY_ERROR)
		return "Attention";
	if (p == PRIORITY_WARNING)
		return "Warning";
	if (p == PRIORITY_NOTICE)
		return "Good";
	if (p == PRIORITY_INFORMATIONAL)
		return "Accent";
	return "Default";
}

static int add_fact(json_t *facts, const char *title, const char *value)
{
	return json_array_append_new(facts,
				     json_pack("{s:s, s:s}", "title", title, "value", value));
}

static json_t *teams_facts(const struct alert *a)
{
	const json_t *of = alert_output_fields(a);
	json_t *facts = json_array();
	const char **keys = NULL;
	size_t n = 0;
	int err;

	if (!facts)
		return NULL;
	err = add_fact(facts, "rule", alert_rule(a)) ||
	      add_fact(facts, "priority", priority_name(alert_priority(a))) ||
	      add_fact(facts, "source", alert_source(a));
	if (!err && alert_hostname(a)[0])
		err = add_fact(facts, "hostname", alert_hostname(a));
	keys = err ? NULL : chat_sorted_keys(of, &n);
	if (!keys)
		err = -1;
	for (size_t i = 0; !err && i < n; i++) {
		char *v = chat_value_string(json_object_get(of, keys[i]), "<NA>");

		err = !v || add_fact(facts, keys[i], v);
		free(v);
	}
	free(keys);
	if (!err && json_array_size(alert_tags(a))) {
		char *tags = chat_join_tags(alert_tags(a), ", ");

		err = !tags || add_fact(facts, "tags", tags);
		free(tags);
	}
	if (err) {
		json_decref(facts);
		return NULL;
	}
	return facts;
}

static char *teams_body(const struct teams_settings *set, const struct alert *a, size_t *len)
{
	const char *rule = alert_rule(a), *prio = priority_name(alert_priority(a));
	json_t *root = NULL, *body = json_array(), *facts = NULL;
	char *title = malloc(strlen(rule) + strlen(prio) + 3), tb[64], *out = NULL;
	int err = 0;

	if (!body || !title)
		goto done;
	sprintf(title, "%s: %s", prio, rule);
	chat_go_time(alert_time_ns(a), tb, sizeof(tb));
	if (set->activityimage)
		err |= json_array_append_new(body,
					     json_pack("{s:s, s:s, s:s}", "type", "Image", "url",
						       set->activityimage, "size", "Small"));
	err |= json_array_append_new(body, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "type",
						     "TextBlock", "text", title, "weight", "Bolder",
						     "size", "Medium", "color",
						     teams_color(alert_priority(a)), "wrap", 1));
	err |= json_array_append_new(body, json_pack("{s:s, s:s, s:b, s:s, s:b}", "type",
						     "TextBlock", "text", tb, "isSubtle", 1,
						     "spacing", "None", "wrap", 1));
	if (set->outputformat != TEAMS_FACTS && alert_output(a)[0])
		err |= json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
							     "text", alert_output(a), "wrap", 1));
	if (set->outputformat != TEAMS_TEXT) {
		facts = teams_facts(a);
		if (!facts)
			goto done;
		err |= json_array_append_new(body, json_pack("{s:s, s:O}", "type", "FactSet",
							     "facts", facts));
	}
	if (err)
		goto done;
	root = json_pack("{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:{s:s}, s:O}}]}", "type",
			 "message", "attachments", "contentType",
			 "application/vnd.microsoft.card.adaptive", "contentUrl", "content",
			 "$schema", "http://adaptivecards.io/schemas/adaptive-card.json", "type",
			 "AdaptiveCard", "version", "1.4", "msteams", "width", "Full", "body",
			 body);
	if (root)
		out = chat_json_dumps(root, len);
done:
	free(title);
	json_decref(facts);
	json_decref(body);
	json_decref(root);
	return out;
}

static int teams_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct teams *t = (struct teams *)s;
	int err;

	t->http = env->http;
	err = config_bind(cfg, "teams", teams_options, &t->set);
	if (!err)
		err = chat_check_url("teams.webhookurl", t->set.webhookurl);
	if (!err)
		err = chat_http_init(&t->set.http, "teams", cfg);
	return err;
}

static int teams_send(struct sink *s, struct alert *a, void *token)
{
	struct teams *t = (struct teams *)s;
	static const struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
	};
	struct http_request req = {
		.method = "POST",
		.url = t->set.webhookurl,
		.headers = headers,
		.n_headers = 1,
	};
	size_t len;
	char *body = teams_body(&t->set, a, &len);
	int err;

	if (!body)
		return -ENOMEM;
	chat_http_apply(&t->set.http, &req);
	req.body = body;
	req.body_len = len;
	err = chat_http_send(s, t->http, &req, token);
	free(body);
	return err;
}

static void teams_close(struct sink *s)
{
	/* Nothing of its own to release; requests in flight end through the shared client. */
}

const struct sink_ops teams_sink_ops = {
	.name = "teams",
	.size = sizeof(struct teams),
	.options = teams_options,
	.enable_key = "teams.webhookurl",
	.init = teams_init,
	.send = teams_send,
	.close = teams_close,
};
