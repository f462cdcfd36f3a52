// SPDX-License-Identifier: Apache-2.0
/*
 * Exact request bodies of the HTTP outputs built on the chat helpers (mattermost, teams,
 * discord, googlechat, loki, alertmanager, elasticsearch) for the issue's fixture alert, their options, and
 * how their answers map to sink results. Each test drives the real sink against
 * tests/integration/receiver.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "outputs/template.h"
#include "sink_harness.h"

extern const struct sink_ops mattermost_sink_ops;
extern const struct sink_ops teams_sink_ops;
extern const struct sink_ops discord_sink_ops;
extern const struct sink_ops googlechat_sink_ops;
extern const struct sink_ops loki_sink_ops;
extern const struct sink_ops alertmanager_sink_ops;
extern const struct sink_ops elasticsearch_sink_ops;

#define FIXTURE_TIME "2001-01-01 01:10:00 +0000 UTC"

static char *fixture(void)
{
	char *in = harness_read_file(TEST_DATA_DIR "/outputs/falcosidekick_input.json", NULL);

	assert_non_null(in);
	return in;
}

/* Copy tmpl into buf with every "%d" replaced by port. */
static void with_port(char *buf, size_t len, const char *tmpl, int port)
{
	size_t k = 0;

	for (const char *p = tmpl; *p && k + 8 < len; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			k += (size_t)snprintf(buf + k, len - k, "%d", port);
			p++;
		} else {
			buf[k++] = *p;
		}
	}
	buf[k] = '\0';
}

/*
 * Start a receiver (flags: NULL-terminated, may be NULL), configure ops with yaml (a format
 * with one %d for the receiver's port), deliver alert_json, and return the recorded request
 * (caller decrefs). The sink's result must be want.
 */
static json_t *one_request(const struct sink_ops *ops, const char *yaml_fmt, const char *alert_json,
			   const char *const *flags, enum sink_result want)
{
	struct receiver r;
	struct harness h;
	char yaml[2048];
	struct alert *a;
	json_t *reqs, *req;

	assert_int_equal(receiver_start(&r, flags), 0);
	with_port(yaml, sizeof(yaml), yaml_fmt, r.port);
	if (harness_start(&h, ops, yaml))
		fail_msg("%s: init failed: %s", ops->name, h.diag);
	a = harness_alert(alert_json);
	assert_non_null(a);
	assert_int_equal(harness_send(&h, a, 0), 0);
	harness_wait(&h, 1);
	assert_int_equal(h.done_calls, 1);
	if (h.last.result != want)
		fail_msg("%s: result %d (%s), expected %d", ops->name, h.last.result, h.last.msg,
			 want);
	assert_int_equal(harness_stop(&h), 0);
	alert_unref(a);
	reqs = receiver_requests(&r);
	receiver_stop(&r);
	assert_int_equal(json_array_size(reqs), 1);
	req = json_incref(json_array_get(reqs, 0));
	json_decref(reqs);
	return req;
}

/*
 * One receiver and one sink for the alert of each priority (rule "r", no output): the parsed
 * request bodies in priority order (caller decrefs), every send OK. Receivers are slow to start
 * on a loaded machine, so the loops over priorities share one.
 */
static json_t *bodies_per_priority(const struct sink_ops *ops, const char *yaml_fmt)
{
	struct receiver r;
	struct harness h;
	struct alert *a[PRIORITY__COUNT];
	char yaml[2048];
	json_t *reqs, *bodies = json_array();

	assert_int_equal(receiver_start(&r, NULL), 0);
	with_port(yaml, sizeof(yaml), yaml_fmt, r.port);
	if (harness_start(&h, ops, yaml))
		fail_msg("%s: init failed: %s", ops->name, h.diag);
	for (int p = 0; p < PRIORITY__COUNT; p++) {
		char json[256];

		snprintf(json, sizeof(json),
			 "{\"priority\":\"%s\",\"rule\":\"r\",\"time\":\"2025-05-07T12:50:34Z\","
			 "\"output_fields\":{}}",
			 priority_name((enum priority)p));
		a[p] = harness_alert(json);
		assert_non_null(a[p]);
		/* One at a time, so that the receiver records them in priority order. */
		assert_int_equal(harness_send(&h, a[p], (size_t)p), 0);
		harness_wait(&h, p + 1);
		assert_int_equal(h.results[p], SINK_OK);
	}
	assert_int_equal(harness_stop(&h), 0);
	reqs = receiver_requests(&r);
	receiver_stop(&r);
	assert_int_equal(json_array_size(reqs), PRIORITY__COUNT);
	for (int p = 0; p < PRIORITY__COUNT; p++) {
		json_t *b = json_loads(
			json_string_value(json_object_get(json_array_get(reqs, p), "body")), 0,
			NULL);

		assert_non_null(b);
		json_array_append_new(bodies, b);
		alert_unref(a[p]);
	}
	json_decref(reqs);
	return bodies;
}

static const char *body_of(const json_t *req)
{
	return json_string_value(json_object_get(req, "body"));
}

static void expect_body(const struct sink_ops *ops, const char *yaml_fmt, const char *alert_json,
			const char *want)
{
	json_t *req = one_request(ops, yaml_fmt, alert_json, NULL, SINK_OK);

	assert_string_equal(body_of(req), want);
	assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
	json_decref(req);
}

/* --- mattermost ----------------------------------------------------------------------------- */

static void test_mattermost_fixture(void **state)
{
	char *in = fixture();

	expect_body(
		&mattermost_sink_ops, "mattermost: {webhookurl: 'http://127.0.0.1:%d/hook'}\n", in,
		"{\"username\":\"lanner\",\"attachments\":[{\"fallback\":\"This is a test from "
		"falcosidekick\",\"color\":\"#ccfff2\",\"text\":\"This is a test from falcosidekick\","
		"\"fields\":[{\"title\":\"rule\",\"value\":\"Test rule\",\"short\":true},{\"title\":"
		"\"hostname\",\"value\":\"test-host\",\"short\":true},{\"title\":\"priority\",\"value\":"
		"\"Debug\",\"short\":true},{\"title\":\"source\",\"value\":\"syscalls\",\"short\":true},"
		"{\"title\":\"tags\",\"value\":\"example, test\",\"short\":true},{\"title\":"
		"\"proc.name\",\"value\":\"falcosidekick\",\"short\":true},{\"title\":\"proc.tty\","
		"\"value\":\"1234\",\"short\":true},{\"title\":\"time\",\"value\":\"" FIXTURE_TIME
		"\",\"short\":false}],\"footer\":\"lanner\"}]}\n");
	expect_body(&mattermost_sink_ops,
		    "mattermost:\n  webhookurl: 'http://127.0.0.1:%d/hook'\n  outputformat: text\n"
		    "  icon: http://icons.local/i.png\n  username: bot\n"
		    "  messageformat: '*{{ .Priority }}* {{ .Rule }}'\n",
		    in,
		    "{\"text\":\"*Debug* Test rule\",\"username\":\"bot\",\"icon_url\":"
		    "\"http://icons.local/i.png\",\"attachments\":[{\"fallback\":\"This is a test "
		    "from falcosidekick\",\"color\":\"#ccfff2\",\"text\":\"This is a test from "
		    "falcosidekick\",\"fields\":null}]}\n");
	free(in);
}

/* --- teams ---------------------------------------------------------------------------------- */

#define TEAMS_HEAD                                                                      \
	"{\"type\":\"message\",\"attachments\":[{\"contentType\":"                      \
	"\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null,\"content\":{" \
	"\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"type\":"  \
	"\"AdaptiveCard\",\"version\":\"1.4\",\"msteams\":{\"width\":\"Full\"},\"body\":["
#define TEAMS_TITLE                                                                                        \
	"{\"type\":\"TextBlock\",\"text\":\"Debug: Test rule\",\"weight\":\"Bolder\",\"size\":"            \
	"\"Medium\",\"color\":\"Default\",\"wrap\":true},{\"type\":\"TextBlock\",\"text\":\"" FIXTURE_TIME \
	"\",\"isSubtle\":true,\"spacing\":\"None\",\"wrap\":true}"
#define TEAMS_OUTPUT \
	"{\"type\":\"TextBlock\",\"text\":\"This is a test from falcosidekick\",\"wrap\":true}"
#define TEAMS_FACTS                                                                      \
	"{\"type\":\"FactSet\",\"facts\":[{\"title\":\"rule\",\"value\":\"Test rule\"}," \
	"{\"title\":\"priority\",\"value\":\"Debug\"},{\"title\":\"source\",\"value\":"  \
	"\"syscalls\"},{\"title\":\"hostname\",\"value\":\"test-host\"},{\"title\":"     \
	"\"proc.name\",\"value\":\"falcosidekick\"},{\"title\":\"proc.tty\",\"value\":"  \
	"\"1234\"},{\"title\":\"tags\",\"value\":\"example, test\"}]}"
#define TEAMS_TAIL "]}}]}\n"

static void test_teams_adaptive_card(void **state)
{
	char *in = fixture();

	expect_body(&teams_sink_ops, "teams: {webhookurl: 'http://127.0.0.1:%d/wf'}\n", in,
		    TEAMS_HEAD TEAMS_TITLE "," TEAMS_OUTPUT "," TEAMS_FACTS TEAMS_TAIL);
	expect_body(&teams_sink_ops,
		    "teams: {webhookurl: 'http://127.0.0.1:%d/wf', outputformat: text}\n", in,
		    TEAMS_HEAD TEAMS_TITLE "," TEAMS_OUTPUT TEAMS_TAIL);
	expect_body(&teams_sink_ops,
		    "teams: {webhookurl: 'http://127.0.0.1:%d/wf', outputformat: facts, "
		    "activityimage: 'http://img.local/a.png'}\n",
		    in,
		    TEAMS_HEAD "{\"type\":\"Image\",\"url\":\"http://img.local/a.png\",\"size\":"
			       "\"Small\"}," TEAMS_TITLE "," TEAMS_FACTS TEAMS_TAIL);
	free(in);
}

static void test_teams_colors(void **state)
{
	static const char *const want[PRIORITY__COUNT] = {
		"Attention", "Attention", "Attention", "Attention",
		"Warning",   "Good",	  "Accent",    "Default",
	};

	json_t *bodies = bodies_per_priority(&teams_sink_ops,
					     "teams: {webhookurl: 'http://127.0.0.1:%d/'}\n");

	for (int p = 0; p < PRIORITY__COUNT; p++) {
		json_t *body = json_array_get(bodies, (size_t)p);

		assert_string_equal(
			json_string_value(json_object_get(
				json_array_get(
					json_object_get(
						json_object_get(
							json_array_get(json_object_get(
									       body, "attachments"),
								       0),
							"content"),
						"body"),
					0),
				"color")),
			want[p]);
	}
	json_decref(bodies);
}

/* --- discord -------------------------------------------------------------------------------- */

static void test_discord_fixture(void **state)
{
	char *in = fixture();

	expect_body(
		&discord_sink_ops, "discord: {webhookurl: 'http://127.0.0.1:%d/api/webhooks/1'}\n",
		in,
		"{\"embeds\":[{\"description\":\"This is a test from "
		"falcosidekick\",\"color\":12370112,\"fields\":[{\"name\":\"rule\",\"value\":"
		"\"Test rule\",\"inline\":true},{\"name\":\"priority\",\"value\":\"Debug\","
		"\"inline\":true},{\"name\":\"source\",\"value\":\"syscalls\",\"inline\":true},"
		"{\"name\":\"hostname\",\"value\":\"test-host\",\"inline\":true},{\"name\":"
		"\"proc.name\",\"value\":\"```falcosidekick```\",\"inline\":true},{\"name\":"
		"\"proc.tty\",\"value\":\"```1234```\",\"inline\":true},{\"name\":\"tags\","
		"\"value\":\"example, test\",\"inline\":true},{\"name\":\"time\",\"value\":\"" FIXTURE_TIME
		"\",\"inline\":true}]}]}\n");
	free(in);
}

static void test_discord_limits_icon_content(void **state)
{
	static const json_int_t colors[PRIORITY__COUNT] = {
		15158332, 11027200, 15105570, 15844367, 12745742, 3066993, 3447003, 12370112,
	};
	json_t *fields = json_object(), *alert, *req, *body, *f;
	char *json, *out = malloc(5001), *val = malloc(2001), name[16];

	/* A 5000-character output, two 2000-character fields and 40 more. */
	memset(out, 'o', 5000);
	out[5000] = '\0';
	memset(val, 'v', 2000);
	val[2000] = '\0';
	json_object_set_new(fields, "big", json_string(val));
	json_object_set_new(fields, "big2", json_string(val));
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		json_object_set_new(fields, name, json_integer(i));
	}
	alert = json_pack("{s:s, s:s, s:s, s:s, s:O, s:[s]}", "output", out, "priority", "Error",
			  "rule", "r", "time", "2025-05-07T12:50:34Z", "output_fields", fields,
			  "tags", "t1");
	json = json_dumps(alert, JSON_COMPACT);
	req = one_request(
		&discord_sink_ops,
		"discord:\n  webhookurl: 'http://127.0.0.1:%d/'\n  icon: http://i.local/x\n"
		"  messageformat: '{{ .Rule }} on {{ .Hostname }}'\n",
		json, NULL, SINK_OK);
	body = json_loads(body_of(req), 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "content")),
			    "r on harness-host");
	assert_string_equal(json_string_value(json_object_get(body, "avatar_url")),
			    "http://i.local/x");
	f = json_array_get(json_object_get(body, "embeds"), 0);
	assert_int_equal(json_integer_value(json_object_get(f, "color")), colors[PRIORITY_ERROR]);
	assert_int_equal(chat_utf8_len(json_string_value(json_object_get(f, "description"))), 4096);
	f = json_object_get(f, "fields");
	assert_int_equal(json_array_size(f), 25);
	/*
	 * rule, priority, source, hostname, big, f00..f17, tags, time:
	 * big2 does not fit in the embed's 6000 characters after the 4096 of the description.
	 */
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 4), "name")),
			    "big");
	assert_int_equal(
		chat_utf8_len(json_string_value(json_object_get(json_array_get(f, 4), "value"))),
		1024);
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 5), "name")),
			    "f00");
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 22), "name")),
			    "f17");
	{
		size_t total = 4096;

		for (size_t i = 0; i < json_array_size(f); i++) {
			json_t *one = json_array_get(f, i);

			total += chat_utf8_len(json_string_value(json_object_get(one, "name"))) +
				 chat_utf8_len(json_string_value(json_object_get(one, "value")));
			assert_true(json_string_length(json_object_get(one, "value")) > 0);
		}
		assert_true(total <= 6000);
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 23), "name")),
			    "tags");
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 24), "name")),
			    "time");
	json_decref(body);
	json_decref(req);

	body = bodies_per_priority(&discord_sink_ops,
				   "discord: {webhookurl: 'http://127.0.0.1:%d/'}\n");
	for (int p = 0; p < PRIORITY__COUNT; p++) {
		f = json_array_get(json_object_get(json_array_get(body, (size_t)p), "embeds"), 0);
		assert_int_equal(json_integer_value(json_object_get(f, "color")), colors[p]);
		/* No output: no description. */
		assert_null(json_object_get(f, "description"));
	}
	json_decref(body);
	free(json);
	free(out);
	free(val);
	json_decref(alert);
	json_decref(fields);
}

/* --- googlechat ----------------------------------------------------------------------------- */

static void test_googlechat(void **state)
{
	char *in = fixture();

	expect_body(
		&googlechat_sink_ops,
		"googlechat: {webhookurl: 'http://127.0.0.1:%d/v1/spaces/x'}\n", in,
		"{\"cardsV2\":[{\"cardId\":\"lanner-alert\",\"card\":{\"header\":{\"title\":\"Test "
		"rule\",\"subtitle\":\"Debug\"},\"sections\":[{\"widgets\":[{\"textParagraph\":{"
		"\"text\":\"This is a test from falcosidekick\"}},{\"decoratedText\":{\"topLabel\":"
		"\"rule\",\"text\":\"Test rule\"}},{\"decoratedText\":{\"topLabel\":\"priority\","
		"\"text\":\"Debug\"}},{\"decoratedText\":{\"topLabel\":\"source\",\"text\":"
		"\"syscalls\"}},{\"decoratedText\":{\"topLabel\":\"hostname\",\"text\":\"test-host\"}},"
		"{\"decoratedText\":{\"topLabel\":\"proc.name\",\"text\":\"falcosidekick\"}},"
		"{\"decoratedText\":{\"topLabel\":\"proc.tty\",\"text\":\"1234\"}},{\"decoratedText\":"
		"{\"topLabel\":\"tags\",\"text\":\"example, test\"}},{\"decoratedText\":{\"topLabel\":"
		"\"time\",\"text\":\"" FIXTURE_TIME "\"}}]}]}}]}\n");
	/* Text only: the output when no messageformat is set, else the rendered template. */
	expect_body(&googlechat_sink_ops,
		    "googlechat: {webhookurl: 'http://127.0.0.1:%d/', outputformat: text}\n", in,
		    "{\"text\":\"This is a test from falcosidekick\"}\n");
	expect_body(&googlechat_sink_ops,
		    "googlechat: {webhookurl: 'http://127.0.0.1:%d/', outputformat: text, "
		    "messageformat: '{{ .Rule }} ({{ .Priority }})'}\n",
		    in, "{\"text\":\"Test rule (Debug)\"}\n");
	free(in);
	/* Card texts are HTML for Chat: escaped (and then JSON-escaped as Go does). */
	expect_body(
		&googlechat_sink_ops,
		"googlechat: {webhookurl: 'http://127.0.0.1:%d/', messageformat: 'x'}\n",
		"{\"output\":\"a<b>&c\",\"priority\":\"Notice\",\"rule\":\"<r>\",\"time\":"
		"\"2025-05-07T12:50:34Z\",\"output_fields\":{},\"hostname\":\"h\"}",
		"{\"text\":\"x\",\"cardsV2\":[{\"cardId\":\"lanner-alert\",\"card\":{\"header\":{"
		"\"title\":\"\\u0026lt;r\\u0026gt;\",\"subtitle\":\"Notice\"},\"sections\":[{"
		"\"widgets\":[{\"textParagraph\":{\"text\":\"a\\u0026lt;b\\u0026gt;\\u0026amp;c\"}},"
		"{\"decoratedText\":{\"topLabel\":\"rule\",\"text\":\"\\u0026lt;r\\u0026gt;\"}},"
		"{\"decoratedText\":{\"topLabel\":\"priority\",\"text\":\"Notice\"}},"
		"{\"decoratedText\":{\"topLabel\":\"source\",\"text\":\"syscalls\"}},"
		"{\"decoratedText\":{\"topLabel\":\"hostname\",\"text\":\"h\"}},"
		"{\"decoratedText\":{\"topLabel\":\"time\",\"text\":\"2025-05-07 12:50:34 +0000 "
		"UTC\"}}]}]}}]}\n");
}

/* --- loki ----------------------------------------------------------------------------------- */

static void test_loki_fixture(void **state)
{
	char *in = fixture();
	json_t *req = one_request(&loki_sink_ops, "loki: {hostport: 'http://127.0.0.1:%d'}\n", in,
				  NULL, SINK_OK);

	assert_string_equal(json_string_value(json_object_get(req, "path")), "/loki/api/v1/push");
	assert_string_equal(receiver_header(req, "Content-Type"), "application/json");
	assert_null(receiver_header(req, "X-Scope-OrgID"));
	assert_null(receiver_header(req, "Authorization"));
	assert_string_equal(
		body_of(req),
		"{\"streams\":[{\"stream\":{\"hostname\":\"test-host\",\"priority\":"
		"\"Debug\",\"rule\":\"Test rule\",\"source\":\"syscalls\",\"tags\":"
		"\"example,test\"},\"values\":[[\"978311400000000000\",\"This is a test "
		"from falcosidekick\"]]}]}\n");
	json_decref(req);
	free(in);
}

static void test_loki_labels_tenant_auth_json(void **state)
{
	static const char *const alert =
		"{\"priority\":\"Warning\",\"rule\":\"R\",\"time\":\"2025-05-07T12:50:34.5Z\","
		"\"source\":\"syscall\",\"output_fields\":{\"proc.name\":\"cat\",\"proc.tty\":34820,"
		"\"proc.aname[2]\":\"bash\",\"k8s.ns.name\":\"prod\",\"k8s.pod.name\":\"web-1\","
		"\"fd.name\":null},\"hostname\":\"n1\",\"uuid\":"
		"\"0b9d3f2c-6a4e-4c1a-9f0e-2d3c4b5a6f70\"}";
	json_t *req = one_request(
		&loki_sink_ops,
		"loki:\n  hostport: 'http://127.0.0.1:%d/'\n  endpoint: /push\n  tenant: team-a\n"
		"  user: u\n  apikey: p\n  format: json\n"
		"  extralabels: [proc.name, proc.tty, 'proc.aname[2]', fd.name, missing]\n"
		"  customheaders: {X-Extra: '1'}\n",
		alert, NULL, SINK_OK);
	json_t *body = json_loads(body_of(req), 0, NULL), *want;

	assert_string_equal(json_string_value(json_object_get(req, "path")), "/push");
	assert_string_equal(receiver_header(req, "X-Scope-OrgID"), "team-a");
	assert_string_equal(receiver_header(req, "Authorization"), "Basic dTpw");
	assert_string_equal(receiver_header(req, "X-Extra"), "1");
	/* Timestamps are strings of nanoseconds; the line is the alert's JSON in json format. */
	want = json_pack(
		"{s:[{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:[[s, s]]}]}", "streams",
		"stream", "hostname", "n1", "k8s_ns_name", "prod", "k8s_pod_name", "web-1",
		"priority", "Warning", "proc_aname2", "bash", "proc_name", "cat", "proc_tty",
		"34820", "rule", "R", "source", "syscall", "values", "1746622234500000000",
		"{\"hostname\":\"n1\",\"output\":\"\",\"output_fields\":{\"fd.name\":null,"
		"\"k8s.ns.name\":\"prod\",\"k8s.pod.name\":\"web-1\",\"proc.aname[2]\":\"bash\","
		"\"proc.name\":\"cat\",\"proc.tty\":34820},\"priority\":\"Warning\",\"rule\":\"R\","
		"\"source\":\"syscall\",\"tags\":[],\"time\":\"2025-05-07T12:50:34.500000000Z\","
		"\"uuid\":\"0b9d3f2c-6a4e-4c1a-9f0e-2d3c4b5a6f70\"}");
	assert_non_null(want);
	if (!json_equal(body, want))
		fail_msg("loki body: %s", body_of(req));
	json_decref(want);
	json_decref(body);
	json_decref(req);
}

static void test_loki_text_without_output_and_errors(void **state)
{
	static const char *const fail_flags[] = { "--status", "400", NULL };
	static const char *const retry_flags[] = { "--status", "503", NULL };
	static const char *const alert = "{\"priority\":\"Notice\",\"rule\":\"Some rule\",\"time\":"
					 "\"2025-05-07T12:50:34Z\",\"output_fields\":{}}";
	json_t *req = one_request(&loki_sink_ops, "loki: {hostport: 'http://127.0.0.1:%d'}\n",
				  alert, NULL, SINK_OK);
	json_t *body = json_loads(body_of(req), 0, NULL);
	const char *line = json_string_value(json_array_get(
		json_array_get(json_object_get(json_array_get(json_object_get(body, "streams"), 0),
					       "values"),
			       0),
		1));

	/* No output: the alert's text line, "HH:MM:SS.nnnnnnnnn: Notice Some rule". */
	assert_non_null(line);
	assert_non_null(strstr(line, ": Notice Some rule"));
	json_decref(body);
	json_decref(req);
	json_decref(one_request(&loki_sink_ops, "loki: {hostport: 'http://127.0.0.1:%d'}\n", alert,
				fail_flags, SINK_FAIL));
	json_decref(one_request(&loki_sink_ops, "loki: {hostport: 'http://127.0.0.1:%d'}\n", alert,
				retry_flags, SINK_RETRY));
}

/* --- alertmanager --------------------------------------------------------------------------- */

static void test_alertmanager_fixture(void **state)
{
	char *in = fixture();
	json_t *req = one_request(&alertmanager_sink_ops,
				  "alertmanager: {hostport: 'http://127.0.0.1:%d'}\n", in, NULL,
				  SINK_OK);

	assert_string_equal(json_string_value(json_object_get(req, "path")), "/api/v2/alerts");
	assert_string_equal(
		body_of(req),
		"[{\"labels\":{\"alertname\":\"Test rule\",\"eventsource\":\"syscalls\",\"hostname\":"
		"\"test-host\",\"priority\":\"Debug\",\"proc_name\":\"falcosidekick\",\"proc_tty\":"
		"\"1234\",\"rule\":\"Test rule\",\"severity\":\"information\",\"source\":\"falco\","
		"\"tags\":\"example,test\"},\"annotations\":{\"description\":\"This is a test from "
		"falcosidekick\",\"info\":\"This is a test from falcosidekick\",\"summary\":\"Test "
		"rule\"},\"startsAt\":\"2001-01-01T01:10:00.000000000Z\"}]\n");
	json_decref(req);
	free(in);
}

static void test_alertmanager_options(void **state)
{
	static const char *const alert =
		"{\"output\":\"o\",\"priority\":\"Critical\",\"rule\":\"R\",\"time\":"
		"\"2025-05-07T12:50:34Z\",\"output_fields\":{\"n_evts\":5,\"__weird..name__\":\"w\","
		"\"9x\":\"skip\",\"b\":true,\"ka.uri.param[x]\":\"q\"},\"hostname\":\"h\"}";
	json_t *req = one_request(
		&alertmanager_sink_ops,
		"alertmanager:\n  hostport: 'http://127.0.0.1:%d'\n  endpoint: /api/v2/alerts\n"
		"  expiresafter: 3600\n  customseveritymap: {critical: page, debug: none}\n"
		"  extralabels: {team: sec}\n  extraannotations: {runbook: 'http://rb'}\n"
		"  customheaders: {X-Org: o1}\n",
		alert, NULL, SINK_OK);

	assert_string_equal(receiver_header(req, "X-Org"), "o1");
	assert_string_equal(
		body_of(req),
		"[{\"labels\":{\"alertname\":\"R\",\"eventsource\":\"syscalls\",\"hostname\":\"h\","
		"\"ka_uri_param_x\":\"q\",\"priority\":\"Critical\",\"rule\":\"R\",\"severity\":"
		"\"page\",\"source\":\"falco\",\"team\":\"sec\",\"weird_name\":\"w\"},"
		"\"annotations\":{\"description\":\"o\",\"info\":\"o\",\"runbook\":\"http://rb\","
		"\"summary\":\"R\"},\"startsAt\":\"2025-05-07T12:50:34.000000000Z\",\"endsAt\":"
		"\"2025-05-07T13:50:34.000000000Z\"}]\n");
	json_decref(req);
}

static void test_alertmanager_bad_config(void **state)
{
	struct harness h;

	assert_int_equal(harness_start(&h, &alertmanager_sink_ops,
				       "alertmanager: {hostport: 'http://127.0.0.1:1', "
				       "customseveritymap: {urgent: page}}\n"),
			 -EINVAL);
	assert_int_equal(harness_stop(&h), 0);
	assert_int_equal(
		harness_start(&h, &alertmanager_sink_ops,
			      "alertmanager: {hostport: 'http://127.0.0.1:1,127.0.0.1:2'}\n"),
		-EINVAL);
	assert_int_equal(harness_stop(&h), 0);
}

/* Two instances answering a, b: the alert reaches both; the result is want. */
static void am_pair(const char *a, const char *b, enum sink_result want)
{
	const char *const fa[] = { "--status", a, NULL }, *const fb[] = { "--status", b, NULL };
	struct receiver r1, r2;
	struct harness h;
	char yaml[256], *in = fixture();
	struct alert *al = harness_alert(in);
	json_t *q1, *q2;

	assert_int_equal(receiver_start(&r1, fa), 0);
	assert_int_equal(receiver_start(&r2, fb), 0);
	snprintf(yaml, sizeof(yaml),
		 "alertmanager:\n  hostport: [ 'http://127.0.0.1:%d', 'http://127.0.0.1:%d' ]\n",
		 r1.port, r2.port);
	assert_int_equal(harness_start(&h, &alertmanager_sink_ops, yaml), 0);
	assert_int_equal(harness_send(&h, al, 0), 0);
	harness_wait(&h, 1);
	assert_int_equal(h.done_calls, 1);
	if (h.last.result != want)
		fail_msg("%s + %s: result %d (%s), expected %d", a, b, h.last.result, h.last.msg,
			 want);
	assert_int_equal(harness_stop(&h), 0);
	q1 = receiver_requests(&r1);
	q2 = receiver_requests(&r2);
	assert_int_equal(json_array_size(q1), 1);
	assert_int_equal(json_array_size(q2), 1);
	assert_string_equal(body_of(json_array_get(q1, 0)), body_of(json_array_get(q2, 0)));
	json_decref(q1);
	json_decref(q2);
	receiver_stop(&r1);
	receiver_stop(&r2);
	alert_unref(al);
	free(in);
}

static void test_alertmanager_ha_pair(void **state)
{
	am_pair("200", "200", SINK_OK);
	am_pair("503", "200", SINK_OK);
	am_pair("400", "503", SINK_RETRY);
	am_pair("400", "422", SINK_FAIL);
}

/* --- elasticsearch -------------------------------------------------------------------------- */

/*
 * One send_batch of three alerts over a 1 KiB batch.maxbytes: split into several bulk requests,
 * each item's answer deciding for its own alert (201 OK, 429 RETRY, 400 FAIL).
 */
static void test_elasticsearch_batch_split_and_items(void **state)
{
	static const char *const flags[] = { "--bulk",	    "--bulk-item", "r1=429",
					     "--bulk-item", "r2=400",	   NULL };
	struct alert *a[3];
	void *tokens[3];
	struct receiver r;
	struct harness h;
	char yaml[256], json[700], pad[301];
	json_t *reqs;
	size_t lines = 0;

	memset(pad, 'x', 300);
	pad[300] = '\0';
	assert_int_equal(receiver_start(&r, flags), 0);
	snprintf(yaml, sizeof(yaml),
		 "elasticsearch: {hostport: 'http://127.0.0.1:%d', index: 'sec-%%Y', "
		 "pipeline: 'geo ip/1~', batch: {maxbytes: 1KiB}}\n",
		 r.port);
	if (harness_start(&h, &elasticsearch_sink_ops, yaml))
		fail_msg("init failed: %s", h.diag);
	for (int i = 0; i < 3; i++) {
		snprintf(json, sizeof(json),
			 "{\"output\":\"%s\",\"priority\":\"Error\",\"rule\":\"r%d\",\"time\":"
			 "\"2025-05-07T12:50:34Z\",\"output_fields\":{}}",
			 pad, i);
		a[i] = harness_alert(json);
		assert_non_null(a[i]);
		tokens[i] = (void *)(uintptr_t)i;
	}
	assert_int_equal(elasticsearch_sink_ops.send_batch(h.sink, a, tokens, 3), 0);
	harness_wait(&h, 3);
	assert_int_equal(h.done_calls, 3);
	assert_int_equal(h.results[0], SINK_OK);
	assert_int_equal(h.results[1], SINK_RETRY);
	assert_int_equal(h.results[2], SINK_FAIL);
	assert_int_equal(harness_stop(&h), 0);
	reqs = receiver_requests(&r);
	receiver_stop(&r);
	/* Each document is over 300 bytes: no request carries all three. */
	assert_true(json_array_size(reqs) >= 2);
	for (size_t i = 0; i < json_array_size(reqs); i++) {
		const char *b = body_of(json_array_get(reqs, i));
		const char *path =
			json_string_value(json_object_get(json_array_get(reqs, i), "path"));

		/* The ingest pipeline's name, percent-encoded but for RFC 3986 unreserved ones. */
		assert_non_null(path);
		assert_non_null(strstr(path, "&pipeline=geo%20ip%2F1~"));

		assert_non_null(strstr(b, "{\"create\":{\"_index\":\"sec-2025\",\"_id\":\""));
		for (const char *p = b; (p = strchr(p, '\n')); p++)
			lines++;
	}
	assert_int_equal(lines, 6);
	json_decref(reqs);
	for (int i = 0; i < 3; i++)
		alert_unref(a[i]);
}

/* An index Elasticsearch would refuse stops lanner at start, with the reason. */
static void test_elasticsearch_bad_index(void **state)
{
	struct harness h;

	assert_int_not_equal(harness_start(&h, &elasticsearch_sink_ops,
					   "elasticsearch: {hostport: 'http://127.0.0.1:9', "
					   "index: 'Falco-%Y'}\n"),
			     0);
	assert_int_equal(harness_stop(&h), 0);
}

static void test_bad_urls(void **state)
{
	const struct sink_ops *ops[] = { &mattermost_sink_ops, &teams_sink_ops, &discord_sink_ops,
					 &googlechat_sink_ops };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct harness h;
		char yaml[128];

		snprintf(yaml, sizeof(yaml), "%s: {webhookurl: 'example.com/hook'}\n",
			 ops[i]->name);
		assert_int_equal(harness_start(&h, ops[i], yaml), -EINVAL);
		assert_int_equal(harness_stop(&h), 0);
	}
	{
		struct harness h;

		assert_int_equal(harness_start(&h, &loki_sink_ops,
					       "loki: {hostport: 'loki:3100'}\n"),
				 -EINVAL);
		assert_int_equal(harness_stop(&h), 0);
		assert_int_equal(harness_start(&h, &discord_sink_ops,
					       "discord: {webhookurl: 'http://x/', "
					       "messageformat: '{{ .Nope }}'}\n"),
				 -EINVAL);
		assert_non_null(strstr(h.diag, "discord.messageformat: unknown placeholder "
					       "'{{ .Nope }}'"));
		assert_int_equal(harness_stop(&h), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mattermost_fixture),
		cmocka_unit_test(test_teams_adaptive_card),
		cmocka_unit_test(test_teams_colors),
		cmocka_unit_test(test_discord_fixture),
		cmocka_unit_test(test_discord_limits_icon_content),
		cmocka_unit_test(test_googlechat),
		cmocka_unit_test(test_loki_fixture),
		cmocka_unit_test(test_loki_labels_tenant_auth_json),
		cmocka_unit_test(test_loki_text_without_output_and_errors),
		cmocka_unit_test(test_alertmanager_fixture),
		cmocka_unit_test(test_alertmanager_options),
		cmocka_unit_test(test_alertmanager_bad_config),
		cmocka_unit_test(test_alertmanager_ha_pair),
		cmocka_unit_test(test_elasticsearch_batch_split_and_items),
		cmocka_unit_test(test_elasticsearch_bad_index),
		cmocka_unit_test(test_bad_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
