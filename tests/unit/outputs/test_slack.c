// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "outputs/template.h"
#include "sink_harness.h"

extern const struct sink_ops slack_sink_ops;

static const char *const FALCOSIDEKICK_ICON =
	"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/"
	"falcosidekick.png";

#define assert_prefix(s, p)                                                  \
	do {                                                                 \
		if (strncmp((s), (p), strlen(p)))                            \
			fail_msg("'%s' does not start with '%s'", (s), (p)); \
	} while (0)

struct ctx {
	struct receiver rcv;
	struct harness h;
	char yaml[2048];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || receiver_start(&c->rcv, (const char *const[]){ NULL }))
		return -1;
	*state = c;
	return 0;
}

static int setup_status(void **state, const char *status)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || receiver_start(&c->rcv, (const char *const[]){ "--status", status, NULL }))
		return -1;
	*state = c;
	return 0;
}

static int setup_500(void **state)
{
	return setup_status(state, "500");
}

static int setup_400(void **state)
{
	return setup_status(state, "400");
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	receiver_stop(&c->rcv);
	free(c);
	return 0;
}

/* Start the slack sink against the receiver with extra YAML lines under slack:. */
static int start(struct ctx *c, const char *extra)
{
	snprintf(c->yaml, sizeof(c->yaml), "slack:\n  webhookurl: http://127.0.0.1:%d/hook\n%s",
		 c->rcv.port, extra);
	return harness_start(&c->h, &slack_sink_ops, c->yaml);
}

/* Deliver one alert (JSON text) and return the body the receiver got; caller frees. */
static char *deliver(struct ctx *c, const char *alert_json, enum sink_result want)
{
	struct alert *a = harness_alert(alert_json);
	int before = c->h.done_calls;
	json_t *reqs = receiver_requests(&c->rcv);
	size_t idx = json_array_size(reqs);

	assert_non_null(a);
	assert_int_equal(harness_send(&c->h, a, 0), 0);
	harness_wait(&c->h, before + 1);
	assert_int_equal(c->h.done_calls, before + 1);
	assert_int_equal(c->h.last.result, want);
	alert_unref(a);
	json_decref(reqs);
	return harness_body(&c->rcv, idx);
}

static char *fixture_input(void)
{
	char *in = harness_read_file(TEST_DATA_DIR "/outputs/falcosidekick_input.json", NULL);

	assert_non_null(in);
	return in;
}

/* The fixture, configured as Falcosidekick's own slack_test.go: byte for byte. */
static void test_falcosidekick_fixture_bytes(void **state)
{
	struct ctx *c = *state;
	char extra[512], *in = fixture_input(), *want, *got;
	json_t *reqs;

	want = harness_read_file(TEST_DATA_DIR "/outputs/slack_falcosidekick.json", NULL);
	assert_non_null(want);
	snprintf(extra, sizeof(extra),
		 "  username: Falcosidekick\n  icon: %s\n"
		 "  footer: https://github.com/falcosecurity/falcosidekick\n"
		 "  messageformat: 'Rule: {{ .Rule }} Priority: {{ .Priority }}'\n",
		 FALCOSIDEKICK_ICON);
	assert_int_equal(start(c, extra), 0);
	got = deliver(c, in, SINK_OK);
	assert_non_null(got);
	assert_string_equal(got, want);

	reqs = receiver_requests(&c->rcv);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "method")),
			    "POST");
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "path")),
			    "/hook");
	assert_string_equal(receiver_header(json_array_get(reqs, 0), "Content-Type"),
			    "application/json; charset=utf-8");
	json_decref(reqs);
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(want);
	free(in);
}

/* lanner's defaults: no messageformat text, username and footer "lanner", no icon. */
static void test_lanner_defaults(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input(), *got;

	assert_int_equal(start(c, ""), 0);
	got = deliver(c, in, SINK_OK);
	assert_string_equal(
		got,
		"{\"username\":\"lanner\",\"attachments\":[{\"fallback\":\"This is a test from "
		"falcosidekick\",\"color\":\"#ccfff2\",\"text\":\"This is a test from falcosidekick\","
		"\"fields\":[{\"title\":\"rule\",\"value\":\"Test rule\",\"short\":true},"
		"{\"title\":\"priority\",\"value\":\"Debug\",\"short\":true},{\"title\":\"source\","
		"\"value\":\"syscalls\",\"short\":true},{\"title\":\"hostname\",\"value\":"
		"\"test-host\",\"short\":true},{\"title\":\"tags\",\"value\":\"example, test\","
		"\"short\":true},{\"title\":\"proc.name\",\"value\":\"falcosidekick\",\"short\":true},"
		"{\"title\":\"proc.tty\",\"value\":\"1234\",\"short\":true},{\"title\":\"time\","
		"\"value\":\"2001-01-01 01:10:00 +0000 UTC\",\"short\":false}],\"footer\":"
		"\"lanner\"}]}\n");
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(in);
}

static void test_outputformat_text(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input(), *got;

	assert_int_equal(start(c, "  outputformat: text\n  channel: '#alerts'\n  footer: ''\n"), 0);
	got = deliver(c, in, SINK_OK);
	/* Falcosidekick marshals the missing field list as null and sets no footer. */
	assert_string_equal(got, "{\"username\":\"lanner\",\"channel\":\"#alerts\",\"attachments\":"
				 "[{\"fallback\":\"This is a test from falcosidekick\",\"color\":"
				 "\"#ccfff2\",\"text\":\"This is a test from falcosidekick\","
				 "\"fields\":null}]}\n");
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(in);
}

static void test_outputformat_fields(void **state)
{
	struct ctx *c = *state;
	char *got;

	assert_int_equal(start(c, "  outputformat: FIELDS\n  username: ''\n  footer: f\n"), 0);
	got = deliver(
		c,
		"{\"output\":\"out\",\"priority\":\"Critical\",\"rule\":\"R\",\"time\":"
		"\"2025-05-07T12:50:34.502309868Z\",\"output_fields\":{\"z\":null,\"b\":false,"
		"\"a\":1.5}}",
		SINK_OK);
	/* No attachment text; numbers, booleans and nulls are shown; no tags field. */
	assert_string_equal(
		got,
		"{\"attachments\":[{\"fallback\":\"out\",\"color\":\"#ff5400\",\"fields\":["
		"{\"title\":\"rule\",\"value\":\"R\",\"short\":true},{\"title\":\"priority\","
		"\"value\":\"Critical\",\"short\":true},{\"title\":\"source\",\"value\":"
		"\"syscalls\",\"short\":true},{\"title\":\"hostname\",\"value\":"
		"\"harness-host\",\"short\":true},{\"title\":\"a\",\"value\":\"1.5\",\"short\":"
		"true},{\"title\":\"b\",\"value\":\"false\",\"short\":true},{\"title\":\"z\","
		"\"value\":\"\\u003cNA\\u003e\",\"short\":true},{\"title\":\"time\",\"value\":"
		"\"2025-05-07 12:50:34.502309868 +0000 UTC\",\"short\":false}],\"footer\":"
		"\"f\"}]}\n");
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
}

static void test_colors_short_rule_and_escaping(void **state)
{
	static const char *const colors[PRIORITY__COUNT] = {
		"#e20b0b", "#ff5400", "#ff5400", "#e20b0b",
		"#ffc700", "#5bffb5", "#68c2ff", "#ccfff2",
	};
	struct ctx *c = *state;
	char json[1024], *got;
	json_t *j, *fields;

	assert_int_equal(start(c, "  outputformat: all\n"), 0);
	for (int p = 0; p < PRIORITY__COUNT; p++) {
		/* 35 two-byte characters are short (35 runes), 36 ASCII characters are not. */
		snprintf(json, sizeof(json),
			 "{\"output\":\"a <b> & c\",\"priority\":\"%s\",\"rule\":\"r\",\"time\":"
			 "\"2025-05-07T12:50:34Z\",\"output_fields\":{\"long\":\"%s\",\"runes\":"
			 "\"%s\"}}",
			 priority_name((enum priority)p), "123456789012345678901234567890123456",
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
		got = deliver(c, json, SINK_OK);
		assert_non_null(strstr(got, "\"fallback\":\"a \\u003cb\\u003e \\u0026 c\""));
		j = json_loads(got, 0, NULL);
		assert_non_null(j);
		fields = json_object_get(json_array_get(json_object_get(j, "attachments"), 0),
					 "fields");
		assert_string_equal(
			json_string_value(json_object_get(
				json_array_get(json_object_get(j, "attachments"), 0), "color")),
			colors[p]);
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(fields, 4), "title")),
			"long");
		assert_false(
			json_boolean_value(json_object_get(json_array_get(fields, 4), "short")));
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(fields, 5), "title")),
			"runes");
		assert_true(
			json_boolean_value(json_object_get(json_array_get(fields, 5), "short")));
		json_decref(j);
		free(got);
	}
	assert_int_equal(harness_stop(&c->h), 0);
}

static void test_messageformat_empty_render_omits_text(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input(), *got;

	assert_int_equal(start(c, "  messageformat: '{{ index .OutputFields \"proc.name\" }} on "
				  "{{ .Hostname }} ({{ index .OutputFields \"proc.tty\" }})'\n"),
			 0);
	got = deliver(c, in, SINK_OK);
	assert_prefix(got, "{\"text\":\"falcosidekick on test-host (1234)\",\"username\"");
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);

	/* A template that renders nothing leaves no "text" key. */
	assert_int_equal(start(c, "  messageformat: '{{/* nothing */}}'\n"), 0);
	got = deliver(c, in, SINK_OK);
	assert_prefix(got, "{\"username\":\"lanner\",\"attachments\"");
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(in);
}

static void test_bad_messageformat_is_config_error(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(start(c, "  messageformat: 'Rule {{ .Foo }} on {{ .Hostname }}'\n"),
			 -EINVAL);
	if (!strstr(c->h.diag, "test.yaml:3: error: slack.messageformat: unknown placeholder "
			       "'{{ .Foo }}'"))
		fail_msg("diagnostics: %s", c->h.diag);
	assert_int_equal(harness_stop(&c->h), 0);

	assert_int_equal(start(c, "  messageformat: '{{ .Rule '\n"), -EINVAL);
	assert_non_null(strstr(c->h.diag, "slack.messageformat: unterminated placeholder"));
	assert_int_equal(harness_stop(&c->h), 0);

	assert_int_equal(harness_start(&c->h, &slack_sink_ops,
				       "slack: {webhookurl: 'hooks.slack.com/services/x'}\n"),
			 -EINVAL);
	assert_int_equal(harness_stop(&c->h), 0);

	assert_int_equal(start(c, "  outputformat: markdown\n"), -EINVAL);
	assert_non_null(strstr(c->h.diag, "slack.outputformat"));
	assert_int_equal(harness_stop(&c->h), 0);
}

static void test_500_is_retry(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input(), *got;

	assert_int_equal(start(c, ""), 0);
	got = deliver(c, in, SINK_RETRY);
	assert_non_null(got);
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(in);
}

static void test_400_is_fail(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input(), *got;

	assert_int_equal(start(c, ""), 0);
	got = deliver(c, in, SINK_FAIL);
	assert_non_null(got);
	assert_int_equal(harness_stop(&c->h), 0);
	free(got);
	free(in);
}

/* close() with a request in flight: it still completes exactly once (as a retry). */
static void test_close_in_flight(void **state)
{
	struct ctx *c = *state;
	char *in = fixture_input();
	struct alert *a = harness_alert(in);

	assert_int_equal(start(c, ""), 0);
	assert_int_equal(harness_send(&c->h, a, 3), 0);
	slack_sink_ops.close(c->h.sink);
	http_client_free(c->h.http);
	c->h.http = NULL;
	uv_run(&c->h.loop, UV_RUN_DEFAULT);
	assert_int_equal(c->h.done_calls, 1);
	assert_int_equal(c->h.results[3], SINK_RETRY);
	c->h.ops = &(const struct sink_ops){ 0 };
	assert_int_equal(harness_stop(&c->h), 0);
	alert_unref(a);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_falcosidekick_fixture_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lanner_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outputformat_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outputformat_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_colors_short_rule_and_escaping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_messageformat_empty_render_omits_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_messageformat_is_config_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_500_is_retry, setup_500, teardown),
		cmocka_unit_test_setup_teardown(test_400_is_fail, setup_400, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
