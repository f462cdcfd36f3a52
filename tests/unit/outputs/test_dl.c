// SPDX-License-Identifier: Apache-2.0
/*
 * Libraries loaded on first use (outputs/dl.h): a missing library or symbol is named with
 * dlerror()'s reason; libcurl and librdkafka load by soname and their tables work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "outputs/curl_dl.h"
#include "outputs/dl.h"
#include "outputs/kafka_dl.h"

static void test_missing_library_named(void **state)
{
	char err[512];

	assert_null(
		dl_open("liblanner-missing.so.7", "the lanner-missing package", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot load liblanner-missing.so.7: "));
	/* dlerror()'s own text follows */
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, "(the lanner-missing package)"));
}

static void test_missing_symbol_named(void **state)
{
	char err[512];
	void *h = dl_open("libc.so.6", "libc6", err, sizeof(err));

	assert_non_null(h);
	assert_non_null(dl_sym(h, "libc.so.6", "malloc", err, sizeof(err)));
	assert_null(dl_sym(h, "libc.so.6", "lanner_no_such_symbol", err, sizeof(err)));
	assert_non_null(strstr(err, "libc.so.6: symbol lanner_no_such_symbol: "));
	assert_non_null(strstr(err, "undefined symbol"));
}

static void test_curl_table(void **state)
{
	const curl_version_info_data *vi;
	struct curl_slist *l;

	assert_int_equal(curl_dl_load(), 0);
	assert_string_equal(curl_dl_error(), "");
	/* Loaded once: the second call returns the first outcome. */
	assert_int_equal(curl_dl_load(), 0);
	vi = curl_fn.version_info(CURLVERSION_NOW);
	assert_non_null(vi);
	assert_true(vi->features & CURL_VERSION_SSL);
	l = curl_fn.slist_append(NULL, "X-A: 1");
	assert_non_null(l);
	assert_string_equal(l->data, "X-A: 1");
	curl_fn.slist_free_all(l);
	assert_string_equal(curl_fn.easy_strerror(CURLE_COULDNT_CONNECT),
			    "Couldn't connect to server");
}

static void test_kafka_table(void **state)
{
	rd_kafka_conf_t *conf;
	char errstr[256];

	assert_int_equal(kafka_dl_load(), 0);
	assert_string_equal(kafka_dl_error(), "");
	conf = kafka_fn.conf_new();
	assert_non_null(conf);
	assert_int_equal(kafka_fn.conf_set(conf, "client.id", "lanner", errstr, sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(kafka_fn.conf_set(conf, "no.such.property", "1", errstr, sizeof(errstr)),
			 RD_KAFKA_CONF_UNKNOWN);
	kafka_fn.conf_destroy(conf);
	assert_string_equal(kafka_fn.err2name(RD_KAFKA_RESP_ERR__TIMED_OUT), "_TIMED_OUT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_library_named),
		cmocka_unit_test(test_missing_symbol_named),
		cmocka_unit_test(test_curl_table),
		cmocka_unit_test(test_kafka_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
