// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/ui_static.h"

/* The embedded table: an index.html, the scripts and styles it names, sane entries. */
static void test_embedded_table(void **state)
{
	const struct ui_asset *index = ui_asset_find("");
	const struct ui_asset *a;
	size_t n = 0, scripts = 0, styles = 0;

	assert_non_null(index);
	assert_ptr_equal(index, ui_asset_find("index.html"));
	assert_string_equal(index->path, "index.html");
	assert_false(index->immutable);
	for (a = lanner_ui_assets; a->path; a++, n++) {
		assert_true(a->len > 0);
		assert_int_equal(a->data[a->len], 0); /* NUL after the bytes */
		assert_int_equal(strlen(a->etag), 18); /* quoted 16 hex digits */
		assert_true(a->etag[0] == '"' && a->etag[17] == '"');
		assert_int_equal(a->immutable, strncmp(a->path, "assets/", 7) == 0);
		assert_null(strstr(a->path, ".."));
		assert_ptr_equal(ui_asset_find(a->path), a);
		if (strstr(a->path, ".js"))
			scripts++;
		if (strstr(a->path, ".css"))
			styles++;
		/* index.html refers to each top-level script and style by its relative name */
		if (!strcmp(ui_content_type(a->path), "text/css; charset=utf-8") ||
		    (strstr(a->path, "assets/") && strstr(a->path, ".js"))) {
			char ref[256];

			snprintf(ref, sizeof(ref), "\"./%s\"", a->path);
			assert_non_null(strstr((const char *)index->data, ref));
		}
	}
	assert_true(n >= 3);
	assert_true(scripts >= 1);
	assert_true(styles >= 1);
	assert_non_null(strstr(lanner_ui_origin, "vite") ? lanner_ui_origin :
							   strstr(lanner_ui_origin, "unbundled"));
}

static void test_only_exact_names(void **state)
{
	static const char *const bad[] = { "/index.html",   "./index.html", "index.html/",
					   "../index.html", "INDEX.HTML",   "index",
					   "assets",	    "assets/",	    "src/../index.html",
					   "index.html%00" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(ui_asset_find(bad[i]));
}

static void test_content_types(void **state)
{
	assert_string_equal(ui_content_type("index.html"), "text/html; charset=utf-8");
	assert_string_equal(ui_content_type("assets/index-1a2b.js"),
			    "text/javascript; charset=utf-8");
	assert_string_equal(ui_content_type("assets/index-1a2b.css"), "text/css; charset=utf-8");
	assert_string_equal(ui_content_type("a.svg"), "image/svg+xml");
	assert_string_equal(ui_content_type("a.woff2"), "font/woff2");
	assert_string_equal(ui_content_type("a.map"), "application/json");
	assert_string_equal(ui_content_type("a.js.gz"), "application/octet-stream");
	assert_string_equal(ui_content_type("a.d/file"), "application/octet-stream");
	assert_string_equal(ui_content_type("noext"), "application/octet-stream");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_table),
		cmocka_unit_test(test_only_exact_names),
		cmocka_unit_test(test_content_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
