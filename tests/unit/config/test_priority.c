// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/priority.h"
#include "config/suggest.h"

static void test_parse_names(void **state)
{
	static const struct {
		const char *name;
		enum priority p;
	} cases[] = {
		{ "Emergency", PRIORITY_EMERGENCY },
		{ "alert", PRIORITY_ALERT },
		{ "CRITICAL", PRIORITY_CRITICAL },
		{ "error", PRIORITY_ERROR },
		{ "Warning", PRIORITY_WARNING },
		{ "nOtIcE", PRIORITY_NOTICE },
		{ "informational", PRIORITY_INFORMATIONAL },
		{ "info", PRIORITY_INFORMATIONAL },
		{ "INFO", PRIORITY_INFORMATIONAL },
		{ "debug", PRIORITY_DEBUG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum priority p = PRIORITY__COUNT;

		assert_int_equal(priority_parse(cases[i].name, &p), 0);
		assert_int_equal(p, cases[i].p);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = { "", "warn", "Warnings", " debug", "debug ", "crit", "7" };
	enum priority p = PRIORITY_NOTICE;

	assert_int_equal(priority_parse(NULL, &p), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(priority_parse(bad[i], &p), -EINVAL);
	/* A failed parse leaves the output alone. */
	assert_int_equal(p, PRIORITY_NOTICE);
}

static void test_names_roundtrip(void **state)
{
	static const char *const names[] = { "Emergency", "Alert",  "Critical",	     "Error",
					     "Warning",	  "Notice", "Informational", "Debug" };

	for (int i = 0; i < PRIORITY__COUNT; i++) {
		enum priority p;

		assert_string_equal(priority_name((enum priority)i), names[i]);
		assert_int_equal(priority_parse(priority_name((enum priority)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(priority_name(PRIORITY__COUNT), "Unknown");
	assert_string_equal(priority_name((enum priority) - 1), "Unknown");
}

static void test_at_least(void **state)
{
	assert_true(priority_at_least(PRIORITY_CRITICAL, PRIORITY_WARNING));
	assert_true(priority_at_least(PRIORITY_WARNING, PRIORITY_WARNING));
	assert_false(priority_at_least(PRIORITY_NOTICE, PRIORITY_WARNING));
	assert_true(priority_at_least(PRIORITY_DEBUG, PRIORITY_DEBUG));
	assert_false(priority_at_least(PRIORITY_DEBUG, PRIORITY_EMERGENCY));
}

static void test_distance(void **state)
{
	assert_int_equal(suggest_distance("kitten", "sitting", 10), 3);
	assert_int_equal(suggest_distance("", "abc", 10), 3);
	assert_int_equal(suggest_distance("abc", "", 10), 3);
	assert_int_equal(suggest_distance("same", "same", 10), 0);
	assert_int_equal(suggest_distance("WebhookURL", "webhookurl", 10), 0);
	/* Capped: the cap is returned as soon as it is certain to be exceeded. */
	assert_int_equal(suggest_distance("abcdefgh", "zyxwvuts", 3), 3);
	assert_int_equal(suggest_distance("a", "abcdefgh", 2), 2);
}

static void test_closest(void **state)
{
	static const char *const keys[] = { "listenport",	"listenaddress",
					    "webhook.address",	"webhook.method",
					    "slack.webhookurl", "slack.minimumpriority" };
	const size_t n = sizeof(keys) / sizeof(*keys);

	assert_string_equal(suggest_closest("webhook.adress", keys, n), "webhook.address");
	assert_string_equal(suggest_closest("lisenport", keys, n), "listenport");
	assert_string_equal(suggest_closest("Slack.WebhookULR", keys, n), "slack.webhookurl");
	assert_string_equal(suggest_closest("slack.minimumpriorty", keys, n),
			    "slack.minimumpriority");
	assert_string_equal(suggest_closest("WEBHOOK.METHOD", keys, n), "webhook.method");
	/* Too far from everything: no suggestion. */
	assert_null(suggest_closest("zzzzzzzzz", keys, n));
	assert_null(suggest_closest("kafka.hostport", keys, n));
	assert_null(suggest_closest("x", keys, 0));
	/* The returned pointer is the candidate itself. */
	assert_ptr_equal(suggest_closest("listenpor", keys, n), keys[0]);
}

static void test_closest_threshold(void **state)
{
	static const char *const short_keys[] = { "abcd" };
	static const char *const long_keys[] = { "abcdefghijklmnopqr" };

	/* Short words allow two edits, longer ones a third of their length. */
	assert_non_null(suggest_closest("abxy", short_keys, 1));
	assert_null(suggest_closest("axyz", short_keys, 1));
	assert_non_null(suggest_closest("abcdefghijklXXXXXX", long_keys, 1)); /* 6 <= 18 / 3 */
	assert_null(suggest_closest("abcdefghijkXXXXXXX", long_keys, 1)); /* 7 > 18 / 3 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_names),	  cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_names_roundtrip),	  cmocka_unit_test(test_at_least),
		cmocka_unit_test(test_distance),	  cmocka_unit_test(test_closest),
		cmocka_unit_test(test_closest_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
