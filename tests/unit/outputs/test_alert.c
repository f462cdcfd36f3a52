// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "outputs/alert.h"

/* Falco's own JSON (FALCO-COMPAT.md section 2), keys alphabetical, compact. */
static const char falco_json[] =
	"{\"hostname\":\"node-1\",\"output\":\"14:50:34.502309868: Warning Sensitive file opened "
	"for reading by non-trusted program (file=/etc/shadow)\",\"output_fields\":{\"evt.time\":"
	"1746622234502309868,\"fd.name\":\"/etc/shadow\",\"proc.cmdline\":\"cat /etc/shadow\","
	"\"proc.name\":\"cat\",\"proc.tty\":34820,\"user.name\":\"root\",\"user.uid\":0},"
	"\"priority\":\"Warning\",\"rule\":\"Read sensitive file untrusted\",\"source\":\"syscall\","
	"\"tags\":[\"T1555\",\"container\",\"filesystem\",\"host\",\"maturity_stable\","
	"\"mitre_credential_access\"],\"time\":\"2025-05-07T12:50:34.502309868Z\"}";

static void test_round_trip_is_byte_compatible(void **state)
{
	struct alert_error err;
	struct alert *a = alert_parse(falco_json, strlen(falco_json), &err);
	const char *json;
	size_t len;

	assert_non_null(a);
	assert_int_equal(alert_freeze(a), 0);
	json = alert_json(a, &len);
	/* Falco's bytes, plus ,"uuid":"..." before the closing brace. */
	assert_int_equal(len, strlen(falco_json) - 1 + strlen(",\"uuid\":\"\"}") + ALERT_UUID_LEN);
	assert_memory_equal(json, falco_json, strlen(falco_json) - 1);
	assert_memory_equal(json + strlen(falco_json) - 1, ",\"uuid\":\"", 9);
	assert_string_equal(alert_rule(a), "Read sensitive file untrusted");
	assert_int_equal(alert_priority(a), PRIORITY_WARNING);
	assert_int_equal(alert_time_ns(a), 1746622234502309868LL);
	assert_string_equal(alert_time_str(a), "2025-05-07T12:50:34.502309868Z");
	alert_unref(a);
}

static void test_uuid_kept_when_given(void **state)
{
	static const char body[] =
		"{\"priority\":\"error\",\"rule\":\"r\",\"time\":\"2001-01-01T01:"
		"10:00Z\",\"output_fields\":{},\"uuid\":\"0f8fad5b-d9cb-469f-"
		"a165-70867728950e\"}";
	struct alert_error err;
	struct alert *a = alert_parse(body, strlen(body), &err);

	assert_non_null(a);
	assert_string_equal(alert_uuid(a), "0f8fad5b-d9cb-469f-a165-70867728950e");
	/* Defaults as Falcosidekick applies them. */
	assert_string_equal(alert_source(a), "syscalls");
	assert_string_equal(alert_output(a), "");
	assert_int_equal(alert_priority(a), PRIORITY_ERROR);
	assert_string_equal(alert_time_str(a), "2001-01-01T01:10:00.000000000Z");
	alert_unref(a);
}

struct bad_case {
	const char *body;
	const char *field;
	const char *msg;
};

static void test_validation_names_the_field(void **state)
{
	static const struct bad_case cases[] = {
		{ "{\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\",\"output_fields\":{}}",
		  "priority", "priority: missing" },
		{ "{\"priority\":\"loud\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{}}",
		  "priority", "priority: unknown priority 'loud'" },
		{ "{\"priority\":7,\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{}}",
		  "priority", "priority: expected a string" },
		{ "{\"priority\":\"Debug\",\"rule\":\"\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{}}",
		  "rule", "rule: missing or empty" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"output_fields\":{}}", "time",
		  "time: missing" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"yesterday\","
		  "\"output_fields\":{}}",
		  "time", "time: not an RFC 3339 time: 'yesterday'" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-02-30T01:10:00Z\","
		  "\"output_fields\":{}}",
		  "time", "time: not an RFC 3339 time: '2001-02-30T01:10:00Z'" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\"}",
		  "output_fields", "output_fields: missing" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":[]}",
		  "output_fields", "output_fields: expected an object" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{},\"tags\":[1]}",
		  "tags", "tags: expected an array of strings" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{},\"output\":{}}",
		  "output", "output: expected a string" },
		{ "{\"priority\":\"Debug\",\"rule\":\"r\",\"time\":\"2001-01-01T01:10:00Z\","
		  "\"output_fields\":{},\"uuid\":\"nope\"}",
		  "uuid", "uuid: not a UUID: 'nope'" },
		{ "[1,2]", "(body)", "(body): expected a JSON object" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert_error err;
		struct alert *a = alert_parse(cases[i].body, strlen(cases[i].body), &err);

		assert_null(a);
		assert_string_equal(err.field, cases[i].field);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void test_syntax_error_has_position(void **state)
{
	static const char truncated[] = "{\"priority\":\"Debug\",\n\"rule\":\"r";
	static const char latin1[] = "{\"priority\":\"Debug\",\"rule\":\"caf\xe9\"}";
	struct alert_error err;

	assert_null(alert_parse(truncated, strlen(truncated), &err));
	assert_null(err.field);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "invalid JSON at line 2"));

	assert_null(alert_parse(latin1, strlen(latin1), &err));
	assert_null(err.field);
	assert_non_null(strstr(err.msg, "invalid JSON"));
}

static void test_time_parsing(void **state)
{
	int64_t ns;
	char buf[40];

	assert_int_equal(alert_parse_time("2025-05-07T12:50:34.502309868Z", &ns), 0);
	assert_int_equal(ns, 1746622234502309868LL);
	assert_int_equal(alert_parse_time("2025-05-07T14:50:34.5+02:00", &ns), 0);
	assert_int_equal(ns, 1746622234500000000LL);
	assert_int_equal(alert_parse_time("2025-05-07T12:50:34.1234567891Z", &ns), 0);
	assert_int_equal(ns, 1746622234123456789LL);
	assert_int_equal(alert_parse_time("2025-05-07T12:50:34", &ns), -EINVAL);
	assert_int_equal(alert_parse_time("2025-05-07T12:50:34.Z", &ns), -EINVAL);
	assert_int_equal(alert_parse_time("2025-13-07T12:50:34Z", &ns), -EINVAL);
	assert_int_equal(alert_parse_time("", &ns), -EINVAL);
	alert_format_time(1746622234502309868LL, buf, sizeof(buf));
	assert_string_equal(buf, "2025-05-07T12:50:34.502309868Z");
	alert_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
}

/* The arithmetic calendar agrees with the C library's over the int64_t nanoseconds (1677-2262). */
static void test_time_matches_libc(void **state)
{
	char buf[40], want[40];
	int64_t ns, next;

	/* a stride that is no multiple of a day, so every time of day and date comes by */
	for (int64_t t = -9223372035LL; t < 9223372035LL; t += 777777 + 12345) {
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ",
			 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
			 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, 123456789);
		alert_format_time(t * 1000000000 + 123456789, buf, sizeof(buf));
		assert_string_equal(buf, want);
		assert_int_equal(alert_parse_time(want, &ns), 0);
		assert_int_equal(ns, t * 1000000000 + 123456789);
	}
	/* before 1970, the nanoseconds still count forward */
	alert_format_time(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	assert_int_equal(alert_parse_time(buf, &ns), 0);
	assert_int_equal(ns, -1);
	/* dates that do not exist */
	assert_int_equal(alert_parse_time("2024-02-29T00:00:00Z", &ns), 0);
	assert_int_equal(alert_parse_time("2025-02-29T00:00:00Z", &ns), -EINVAL);
	assert_int_equal(alert_parse_time("2000-02-29T00:00:00Z", &ns), 0);
	assert_int_equal(alert_parse_time("1900-02-29T00:00:00Z", &ns), -EINVAL);
	assert_int_equal(alert_parse_time("2025-04-31T00:00:00Z", &ns), -EINVAL);
	/* a leap second within the day is the next minute; one that rolls the day over is not */
	assert_int_equal(alert_parse_time("2025-05-07T12:51:00Z", &next), 0);
	assert_int_equal(alert_parse_time("2025-05-07T12:50:60Z", &ns), 0);
	assert_int_equal(ns, next);
	assert_int_equal(alert_parse_time("2025-12-31T23:59:60Z", &ns), -EINVAL);
	/* a buffer too short gets the truncated text, as snprintf would */
	alert_format_time(0, buf, 11);
	assert_string_equal(buf, "1970-01-01");
}

static void test_enrich_then_freeze(void **state)
{
	struct alert_init init = {
		.rule = "r",
		.priority = PRIORITY_NOTICE,
		.source = "syscall",
		.output_fields = json_pack("{s:s}", "proc.name", "cat"),
		.tags = json_pack("[s,s,s]", "b", "a", "b"),
	};
	struct alert *a = alert_new(&init), *b;
	const char *json;

	assert_non_null(a);
	assert_int_equal(alert_set_hostname(a, "h"), 0);
	assert_int_equal(alert_add_field(a, "env", "prod"), 0);
	/* An existing field is never overwritten by a custom field. */
	assert_int_equal(alert_add_field(a, "proc.name", "evil"), 0);
	assert_int_equal(alert_add_tag(a, "c"), 0);
	assert_int_equal(alert_add_tag(a, "a"), 0);
	assert_int_equal(alert_freeze(a), 0);
	json = alert_json(a, NULL);
	assert_non_null(strstr(json, "\"output_fields\":{\"env\":\"prod\",\"proc.name\":\"cat\"}"));
	assert_non_null(strstr(json, "\"tags\":[\"a\",\"b\",\"c\"]"));
	assert_non_null(strstr(json, "\"hostname\":\"h\""));
	/* Shared by reference. */
	b = alert_ref(a);
	alert_unref(a);
	assert_string_equal(alert_json(b, NULL), json);
	alert_unref(b);
	alert_unref(NULL);
}

static void test_text_and_compose(void **state)
{
	struct alert_init init = { .rule = "Some rule",
				   .priority = PRIORITY_CRITICAL,
				   .source = "syscall",
				   .time_ns = 1746622234502309868LL };
	struct alert *a;
	char *text, *out;

	setenv("TZ", "UTC", 1);
	out = alert_compose_output(1746622234502309868LL, PRIORITY_WARNING, "file=/etc/shadow");
	assert_string_equal(out, "12:50:34.502309868: Warning file=/etc/shadow");
	init.output = out;
	a = alert_new(&init);
	assert_non_null(a);
	text = alert_text(a);
	assert_string_equal(text, out);
	free(text);
	alert_unref(a);
	free(out);

	init.output = NULL;
	a = alert_new(&init);
	text = alert_text(a);
	assert_string_equal(text, "12:50:34.502309868: Critical Some rule");
	free(text);
	alert_unref(a);
}

static void test_uuid_generation(void **state)
{
	char u1[ALERT_UUID_LEN + 1], u2[ALERT_UUID_LEN + 1];

	alert_uuid_generate(u1);
	alert_uuid_generate(u2);
	assert_int_equal(strlen(u1), ALERT_UUID_LEN);
	assert_int_equal(u1[14], '4');
	assert_true(strchr("89ab", u1[19]) != NULL);
	assert_string_not_equal(u1, u2);
}

/* jansson's compact, key-sorted dump of the same alert: what alert_json must equal. */
static char *reference_json(const struct alert *a)
{
	json_t *root = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:O, s:s, s:s}", "hostname",
				 alert_hostname(a), "output", alert_output(a), "output_fields",
				 alert_output_fields(a), "priority",
				 priority_name(alert_priority(a)), "rule", alert_rule(a), "source",
				 alert_source(a), "tags", alert_tags(a), "time", alert_time_str(a),
				 "uuid", alert_uuid(a));
	char *s = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(root);
	return s;
}

static struct alert *new_alert(const char *rule, const char *output, json_t *fields, json_t *tags)
{
	struct alert_init init = { .rule = rule,
				   .priority = PRIORITY_NOTICE,
				   .source = "syscall",
				   .output = output,
				   .hostname = "node-1",
				   .time_ns = 1746622234502309868LL,
				   .output_fields = fields,
				   .tags = tags };
	struct alert *a = alert_new(&init);

	assert_non_null(a);
	assert_int_equal(alert_freeze(a), 0);
	return a;
}

/* The hand-written rendering escapes as jansson does, and refuses what jansson refuses. */
static void test_json_rendering_matches_jansson(void **state)
{
	static const char *const texts[] = {
		"plain",
		"",
		"quote \" backslash \\ slash / newline \n tab \t cr \r bs \b ff \f",
		"controls \x01\x1f del \x7f",
		"utf-8 \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80",
		"max \xf4\x8f\xbf\xbf",
	};
	static const char *const invalid[] = {
		"bad \xc3\x28", "overlong \xc0\xaf",	   "surrogate \xed\xa0\x80",
		"cut \xe4\xb8", "beyond \xf4\x90\x80\x80", "lone \x80",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct alert *a = new_alert(texts[i], texts[(i + 1) % 6],
					    json_pack("{s:s, s:s, s:I, s:f, s:b, s:n}", "k",
						      texts[i], texts[i], "v", "n", (json_int_t)-5,
						      "r", 1.5, "b", 1, "z"),
					    json_pack("[s, s]", texts[i], "alpha"));
		char *ref = reference_json(a);
		size_t len;
		const char *json = alert_json(a, &len);

		assert_non_null(ref);
		assert_non_null(json);
		assert_string_equal(json, ref);
		assert_int_equal(len, strlen(ref));
		free(ref);
		alert_unref(a);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct alert *a = new_alert(invalid[i], "x", NULL, NULL);

		assert_null(reference_json(a));
		assert_null(alert_json(a, NULL));
		alert_unref(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_is_byte_compatible),
		cmocka_unit_test(test_uuid_kept_when_given),
		cmocka_unit_test(test_validation_names_the_field),
		cmocka_unit_test(test_syntax_error_has_position),
		cmocka_unit_test(test_time_parsing),
		cmocka_unit_test(test_time_matches_libc),
		cmocka_unit_test(test_enrich_then_freeze),
		cmocka_unit_test(test_text_and_compose),
		cmocka_unit_test(test_uuid_generation),
		cmocka_unit_test(test_json_rendering_matches_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
