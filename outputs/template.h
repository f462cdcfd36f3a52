/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_TEMPLATE_H
#define LANNER_OUTPUTS_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/priority.h"
#include "outputs/alert.h"
#include "outputs/http_client.h"
#include "outputs/sink.h"

/*
 * The `messageformat` engine of the chat outputs (slack, mattermost, googlechat, discord): the
 * subset of Go's text/template that Falcosidekick users write, compiled once at init.
 *
 *	{{ .Output }} {{ .Priority }} {{ .Rule }} {{ .Time }} {{ .Source }} {{ .Hostname }}
 *	{{ .Tags }} {{ .UUID }} {{ .OutputFields }} {{ index .OutputFields "proc.name" }}
 *
 * Text outside actions is copied. Whitespace inside the braces is free; `{{-` and `-}}` trim
 * the whitespace before / after the action and a comment action (slash-star ... star-slash
 * inside the braces) renders nothing, as in Go. Values
 * print as Go prints them: .Priority "Warning", .Time "2001-01-01 01:10:00 +0000 UTC", .Tags
 * "[a b]", a missing or null output field "<no value>", a number as its JSON text. Anything
 * else (unknown fields, pipelines, functions, if/range) is a compile error naming the action,
 * never a silent blank.
 */

struct template;

/*
 * Compile text. Returns the template, or NULL with errno EINVAL and a reason naming the
 * offending action in err ("unknown placeholder '{{ .Foo }}'"), or ENOMEM.
 */
struct template *template_compile(const char *text, char *err, size_t errlen);
/* Accepts NULL. */
void template_free(struct template *t);
/* Render for a frozen alert. Caller frees; NULL on ENOMEM. */
char *template_render(const struct template *t, const struct alert *a);

/*
 * A CONFIG_CUSTOM parser for a messageformat option: dst is a struct template * that receives
 * the compiled template (NULL for an empty text); the owner frees it with template_free().
 */
int template_config_parse(const char *text, void *dst, char *err, size_t errlen);

/*
 * Helpers shared by the chat and HTTP outputs (slack, teams, discord, mattermost, googlechat,
 * loki, elasticsearch, alertmanager).
 */

/* Falcosidekick's attachment colour of a priority: "#e20b0b", ..., "#ccfff2". */
const char *chat_color(enum priority p);

/* Go's time.Time.String() of a UTC time: "2001-01-01 01:10:00.5 +0000 UTC"; len >= 48. */
void chat_go_time(int64_t time_ns, char *buf, size_t len);

/*
 * An output field's value as text: a string as is, a number as its JSON text, true/false,
 * null as null_text, an array or object as compact JSON. Caller frees; NULL on ENOMEM.
 */
char *chat_value_string(const json_t *v, const char *null_text);

/* The keys of obj in byte order (Go's sort.Strings). Caller frees the array; NULL on ENOMEM. */
const char **chat_sorted_keys(const json_t *obj, size_t *n);

/* The strings of a tags array joined by sep. Caller frees; NULL on ENOMEM. */
char *chat_join_tags(const json_t *tags, const char *sep);

/* Number of characters (UTF-8 code points) of s. */
size_t chat_utf8_len(const char *s);

/*
 * s cut to at most max characters (code points, max >= 1), the last being U+2026 "..." when
 * something was cut. Caller frees; NULL on ENOMEM.
 */
char *chat_truncate(const char *s, size_t max);

/* s with & < > replaced by HTML entities. Caller frees; NULL on ENOMEM. */
char *chat_html_escape(const char *s);

/* The outputformat choices of the chat outputs, in this order: "all", "text", "fields". */
enum chat_format { CHAT_FORMAT_ALL, CHAT_FORMAT_TEXT, CHAT_FORMAT_FIELDS };

/*
 * The Slack-compatible message (slack.c; reused by mattermost.c): Falcosidekick's slackPayload
 * with its keys in struct order, Go-encoded. NULL strings are left out.
 */
struct slack_message {
	const char *username, *icon, *channel, *footer;
	int format; /* enum chat_format */
	const struct template *messageformat; /* NULL: no top-level text */
	bool mattermost; /* Mattermost's field order: rule, hostname, priority, source, tags */
};
/* Caller frees; NULL on ENOMEM. */
char *slack_message_body(const struct slack_message *m, const struct alert *a, size_t *len);

/*
 * Serialize j exactly as Go's json.NewEncoder(w).Encode() does (Falcosidekick's request
 * bodies): compact, keys in j's insertion order, '<' '>' '&' U+2028 U+2029 escaped as \u003c
 * ..., lower-case \u00xx for control characters, and a trailing newline. Caller frees; NULL
 * on ENOMEM or a value jansson cannot encode.
 */
char *chat_json_dumps(const json_t *j, size_t *len);

/*
 * Replace every character outside [A-Za-z0-9_] of a field name with '_' and drop '[' and ']'
 * ("proc.aname[2]" -> "proc_aname2"), prefixing '_' when it would start with a digit: a valid
 * Prometheus / Loki label name. Caller frees; NULL on ENOMEM.
 */
char *chat_label_name(const char *field);

/*
 * The options every HTTP output of this family shares, embedded in its settings struct as
 * `struct chat_http http;` and declared with CHAT_HTTP_OPTIONS(struct x_settings, http).
 */
struct chat_http {
	bool checkcert;
	bool mutualtls;
	int64_t timeout_ms;
	/* Filled by chat_http_init() from mutualtlsclient.*; borrowed from the config. */
	const char *cert_file, *key_file, *ca_file;
};

/* clang-format off */
#define CHAT_HTTP_OPTIONS(stype, member)                                                        \
	{ .key = "checkcert", .type = CONFIG_BOOL, .def = "true",                              \
	  .offset = offsetof(stype, member.checkcert),                                          \
	  .help = "verify the server's TLS certificate" },                                     \
	{ .key = "mutualtls", .type = CONFIG_BOOL, .def = "false",                             \
	  .offset = offsetof(stype, member.mutualtls),                                          \
	  .help = "present mutualtlsclient.certfile/keyfile, verify with "                     \
		  "mutualtlsclient.cacertfile" },                                              \
	{ .key = "timeout", .type = CONFIG_DURATION, .def = "10s",                             \
	  .offset = offsetof(stype, member.timeout_ms), .min = 1, .max = 3600000,               \
	  .help = "time allowed for one request, connection included" }
/* clang-format on */

/*
 * A header array: Content-Type (unless custom sets it; NULL for none), then the extra headers
 * whose value is not NULL, then custom's. Strings are borrowed; caller frees the array. NULL
 * with errno ENOMEM, or EINVAL (logged) when a custom header is not a valid one.
 */
struct http_header *chat_headers(const struct config_map *custom, const char *content_type,
				 const struct http_header *extra, size_t n_extra, size_t *n);
/* "Basic " + base64(user ":" password). Caller frees; NULL on ENOMEM. */
char *chat_basic_auth(const char *user, const char *password);
/* A copy of s with its keys sorted (Go marshals maps so). NULL on ENOMEM. */
json_t *chat_sorted_object(const json_t *obj);

/*
 * Load libcurl (http_client_load) and resolve mutual TLS files for sink `name`. 0, or -ELIBACC
 * or -EINVAL after logging why.
 */
int chat_http_init(struct chat_http *h, const char *name, struct config *cfg);
/* Copy the TLS and timeout settings into req. */
void chat_http_apply(const struct chat_http *h, struct http_request *req);
/* base (trailing '/' dropped) + path. Caller frees; NULL on ENOMEM. */
char *chat_join_url(const char *base, const char *path);
/* 0 when url is an http:// or https:// URL, else -EINVAL after logging "<option>: ...". */
int chat_check_url(const char *option, const char *url);

/*
 * POST (or req->method) req to the shared client and report the outcome of this send through
 * sink_done(s, token, ...) with the retry policy of http_response_status(). 0, or -errno when
 * the request could not start (then no sink_done() follows).
 */
int chat_http_send(struct sink *s, struct http_client *http, const struct http_request *req,
		   void *token);

#endif
