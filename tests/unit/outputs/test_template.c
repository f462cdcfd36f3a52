// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/template.h"

/* The Falcosidekick test alert (FALCO-COMPAT.md, issue 5). */
static const char *const FIXTURE =
	"{\"output\":\"This is a test from falcosidekick\",\"priority\":\"Debug\",\"rule\":"
	"\"Test rule\",\"time\":\"2001-01-01T01:10:00Z\",\"source\":\"syscalls\","
	"\"output_fields\":{\"proc.name\":\"falcosidekick\",\"proc.tty\":1234},\"tags\":"
	"[\"test\",\"example\"],\"hostname\":\"test-host\","
	"\"uuid\":\"0b9d3f2c-6a4e-4c1a-9f0e-2d3c4b5a6f70\"}";

static struct alert *parse(const char *json)
{
	struct alert_error e;
	struct alert *a = alert_parse(json, strlen(json), &e);

	assert_non_null(a);
	assert_int_equal(alert_freeze(a), 0);
	return a;
}

static void expect_render(const char *tmpl, const char *alert_json, const char *want)
{
	char err[512] = "";
	struct template *t = template_compile(tmpl, err, sizeof(err));
	struct alert *a = parse(alert_json);
	char *got;

	if (!t)
		fail_msg("compile '%s': %s", tmpl, err);
	got = template_render(t, a);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	template_free(t);
	alert_unref(a);
}

static void expect_error(const char *tmpl, const char *want_substring)
{
	char err[512] = "";
	struct template *t = template_compile(tmpl, err, sizeof(err));

	if (t) {
		template_free(t);
		fail_msg("'%s' compiled, expected an error containing \"%s\"", tmpl,
			 want_substring);
	}
	assert_int_equal(errno, EINVAL);
	if (!strstr(err, want_substring))
		fail_msg("error for '%s' is \"%s\", expected it to contain \"%s\"", tmpl, err,
			 want_substring);
}

static void test_every_placeholder(void **state)
{
	expect_render(
		"{{ .Output }}|{{ .Priority }}|{{ .Rule }}|{{ .Time }}|{{ .Source }}|"
		"{{ .Hostname }}|{{ .Tags }}|{{ .UUID }}|{{ index .OutputFields \"proc.name\" }}",
		FIXTURE,
		"This is a test from falcosidekick|Debug|Test rule|"
		"2001-01-01 01:10:00 +0000 UTC|syscalls|test-host|[example test]|"
		"0b9d3f2c-6a4e-4c1a-9f0e-2d3c4b5a6f70|falcosidekick");
}

static void test_falcosidekick_examples(void **state)
{
	/* Falcosidekick's slack_test.go template, and its documentation's example. */
	expect_render("Rule: {{ .Rule }} Priority: {{ .Priority }}", FIXTURE,
		      "Rule: Test rule Priority: Debug");
	expect_render("Alert : rule *{{ .Rule }}* triggered by user *{{ index .OutputFields "
		      "\"proc.name\" }}*",
		      FIXTURE, "Alert : rule *Test rule* triggered by user *falcosidekick*");
}

static void test_whitespace_and_trim(void **state)
{
	expect_render("a{{.Rule}}b{{   .Priority\t}}c{{\n.Source\n}}", FIXTURE,
		      "aTest rulebDebugcsyscalls");
	expect_render("x  \n {{- .Rule -}} \n  y", FIXTURE, "xTest ruley");
	/* "-" glued to the braces without a space is not a trim marker in Go: here an error. */
	expect_error("x {{-.Rule}}", "unsupported placeholder '{{-.Rule}}'");
	expect_render("plain text only } { }}", FIXTURE, "plain text only } { }}");
	expect_render("", FIXTURE, "");
}

static void test_comment(void **state)
{
	expect_render("a{{/* a comment with }} inside */}}b", FIXTURE, "ab");
	expect_error("a{{/* not closed }}b", "unterminated comment '{{/* not closed }}'");
	expect_error("a{{/* no delimiter */ .Rule }}b", "unterminated comment");
	expect_render("a{{/* note */}}b {{- /* trimmed */ -}} c", FIXTURE, "abc");
}

static void test_output_field_values(void **state)
{
	static const char *const json =
		"{\"output\":\"o\",\"priority\":\"Warning\",\"rule\":\"r\",\"time\":"
		"\"2025-05-07T12:50:34.502309868Z\",\"output_fields\":{\"s\":\"str\",\"i\":1234,"
		"\"big\":1746622234502309868,\"neg\":-5,\"r\":1.5,\"t\":true,\"f\":false,\"n\":null,"
		"\"arr\":[\"a\",1,null],\"obj\":{\"z\":1,\"a\":\"b\"}}}";

	expect_render("{{ index .OutputFields \"s\" }} {{ index .OutputFields \"i\" }} "
		      "{{ index .OutputFields \"big\" }} {{ index .OutputFields \"neg\" }} "
		      "{{ index .OutputFields \"r\" }} {{ index .OutputFields \"t\" }} "
		      "{{ index .OutputFields \"f\" }}",
		      json, "str 1234 1746622234502309868 -5 1.5 true false");
	/* Go's text/template prints a missing key and a JSON null as "<no value>". */
	expect_render("[{{ index .OutputFields \"n\" }}][{{ index .OutputFields \"missing\" }}]",
		      json, "[<no value>][<no value>]");
	expect_render("{{ index .OutputFields \"arr\" }} {{ index .OutputFields \"obj\" }}", json,
		      "[a 1 <nil>] map[a:b z:1]");
	expect_render("{{ index .OutputFields `s` }}", json, "str");
	expect_render("{{ .Time }}", json, "2025-05-07 12:50:34.502309868 +0000 UTC");
	expect_render("{{ .Tags }}", json, "[]");
	expect_render("{{ .Hostname }}.", json, ".");
}

static void test_output_fields_map(void **state)
{
	expect_render("{{ .OutputFields }}", FIXTURE, "map[proc.name:falcosidekick proc.tty:1234]");
}

static void test_key_with_escapes(void **state)
{
	static const char *const json =
		"{\"priority\":\"Notice\",\"rule\":\"r\",\"time\":\"2025-05-07T12:50:34Z\","
		"\"output_fields\":{\"a\\\"b\":\"quoted\",\"proc.aname[2]\":\"bash\"}}";

	expect_render("{{ index .OutputFields \"a\\\"b\" }} {{ index .OutputFields "
		      "\"proc.aname[2]\" }}",
		      json, "quoted bash");
	/* A "}}" inside the key's string literal does not end the action. */
	expect_render("{{ index .OutputFields \"x}}y\" }}", json, "<no value>");
}

static void test_errors(void **state)
{
	expect_error("Rule {{ .Foo }}", "unknown placeholder '{{ .Foo }}'");
	expect_error("{{ .rule }}", "unknown placeholder '{{ .rule }}'");
	expect_error("{{ .Rule.Name }}", "unknown placeholder '{{ .Rule.Name }}'");
	expect_error("{{ .Rule | printf \"%s\" }}", "unsupported placeholder '{{ .Rule | printf");
	expect_error("{{ if .Rule }}x{{ end }}", "unsupported placeholder '{{ if .Rule }}'");
	expect_error("{{ index .OutputFields proc.name }}",
		     "unsupported placeholder '{{ index .OutputFields proc.name }}'");
	expect_error("{{ index .Tags 0 }}", "unsupported placeholder");
	expect_error("{{ }}", "empty placeholder '{{ }}'");
	expect_error("abc {{ .Rule ", "unterminated placeholder '{{ .Rule '");
	expect_error("{{ index .OutputFields \"abc }}", "unterminated placeholder");
	expect_error("{{ index .OutputFields \"a\\qb\" }}", "bad string in placeholder");
	expect_error("ok {{ .Rule }} then {{ Rule }}", "unsupported placeholder '{{ Rule }}'");
	/* The message names what is known. */
	expect_error("{{ .Foo }}", "known: .Output .Priority .Rule");
}

static void test_long_action_is_cut_in_messages(void **state)
{
	char tmpl[300], err[512];
	struct template *t;

	memset(tmpl, 'x', sizeof(tmpl));
	memcpy(tmpl, "{{ .", 4);
	memcpy(tmpl + sizeof(tmpl) - 4, " }}", 4);
	t = template_compile(tmpl, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "...'"));
	assert_true(strlen(err) < 300);
}

static void test_config_parse(void **state)
{
	struct template *t = (struct template *)1;
	char err[256] = "";

	assert_int_equal(template_config_parse("", &t, err, sizeof(err)), 0);
	assert_null(t);
	assert_int_equal(template_config_parse("{{ .Rule }}", &t, err, sizeof(err)), 0);
	assert_non_null(t);
	template_free(t);
	assert_int_equal(template_config_parse("{{ .Nope }}", &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown placeholder '{{ .Nope }}'"));
	template_free(NULL);
}

static void test_go_time(void **state)
{
	char buf[64];

	chat_go_time(978311400000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "2001-01-01 01:10:00 +0000 UTC");
	chat_go_time(978311400500000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "2001-01-01 01:10:00.5 +0000 UTC");
	chat_go_time(1746622234502309868LL, buf, sizeof(buf));
	assert_string_equal(buf, "2025-05-07 12:50:34.502309868 +0000 UTC");
	chat_go_time(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01 00:00:00.000001 +0000 UTC");
	chat_go_time(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31 23:59:59.999999999 +0000 UTC");
}

static void test_json_dumps_like_go(void **state)
{
	json_t *j = json_pack("{s:s, s:s, s:[i, b, n], s:s}", "b", "<a href=\"x\">&</a>", "a",
			      "tab\there\x01\x1f\xe2\x80\xa8\xe2\x80\xa9 \xc3\xa9 back\\slash/u",
			      "c", 1, 1, "d", "\\u0041");
	size_t len;
	char *s = chat_json_dumps(j, &len);

	assert_non_null(s);
	assert_string_equal(s, "{\"b\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\","
			       "\"a\":\"tab\\there\\u0001\\u001f\\u2028\\u2029 \xc3\xa9 "
			       "back\\\\slash/u\",\"c\":[1,true,null],\"d\":\"\\\\u0041\"}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(j);
}

static void test_helpers(void **state)
{
	json_t *obj = json_pack("{s:i, s:i, s:i, s:i}", "b", 1, "a.c", 2, "a", 3, "B", 4);
	json_t *tags = json_pack("[s, s, i, s]", "x", "y", 3, "z");
	const char **keys;
	size_t n;
	char *s;

	keys = chat_sorted_keys(obj, &n);
	assert_int_equal(n, 4);
	assert_string_equal(keys[0], "B");
	assert_string_equal(keys[1], "a");
	assert_string_equal(keys[2], "a.c");
	assert_string_equal(keys[3], "b");
	free(keys);

	s = chat_join_tags(tags, ", ");
	assert_string_equal(s, "x, y, z");
	free(s);
	s = chat_join_tags(json_array_get(tags, 9), ",");
	assert_string_equal(s, "");
	free(s);

	s = chat_label_name("proc.aname[2]");
	assert_string_equal(s, "proc_aname2");
	free(s);
	s = chat_label_name("9lives-x.y");
	assert_string_equal(s, "_9lives_x_y");
	free(s);

	assert_int_equal(chat_utf8_len("h\xc3\xa9llo \xe2\x82\xac"), 7);
	assert_string_equal(chat_color(PRIORITY_EMERGENCY), "#e20b0b");
	assert_string_equal(chat_color(PRIORITY_ALERT), "#ff5400");
	assert_string_equal(chat_color(PRIORITY_CRITICAL), "#ff5400");
	assert_string_equal(chat_color(PRIORITY_ERROR), "#e20b0b");
	assert_string_equal(chat_color(PRIORITY_WARNING), "#ffc700");
	assert_string_equal(chat_color(PRIORITY_NOTICE), "#5bffb5");
	assert_string_equal(chat_color(PRIORITY_INFORMATIONAL), "#68c2ff");
	assert_string_equal(chat_color(PRIORITY_DEBUG), "#ccfff2");

	s = chat_value_string(json_object_get(obj, "a"), "<NA>");
	assert_string_equal(s, "3");
	free(s);
	s = chat_value_string(json_null(), "<NA>");
	assert_string_equal(s, "<NA>");
	free(s);
	s = chat_value_string(NULL, "<NA>");
	assert_string_equal(s, "<NA>");
	free(s);
	s = chat_value_string(tags, "<NA>");
	assert_string_equal(s, "[\"x\",\"y\",3,\"z\"]");
	free(s);
	json_decref(obj);
	json_decref(tags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_placeholder),
		cmocka_unit_test(test_falcosidekick_examples),
		cmocka_unit_test(test_whitespace_and_trim),
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_output_field_values),
		cmocka_unit_test(test_output_fields_map),
		cmocka_unit_test(test_key_with_escapes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_action_is_cut_in_messages),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_go_time),
		cmocka_unit_test(test_json_dumps_like_go),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
