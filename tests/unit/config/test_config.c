// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/priority.h"

#define DATA TEST_DATA_DIR "/config"

/* Diagnostics captured from the reporter, one "where: severity: msg" line each. */
struct diags {
	char lines[64][512];
	size_t n;
};

struct t {
	struct config *cfg;
	struct diags d;
};

struct settings {
	int64_t listenport;
	bool debug;
	int64_t timeout;
	uint64_t maxsize;
	const char *address;
	int method;
	struct config_strlist hosts;
	struct config_map customfields;
	enum priority minprio;
	const char *webhookurl;
};

static int parse_prio(const char *text, void *dst, char *err, size_t errlen)
{
	if (!*text) {
		*(enum priority *)dst = PRIORITY_DEBUG;
		return 0;
	}
	if (priority_parse(text, dst)) {
		snprintf(err, errlen, "expected a Falco priority, got '%s'", text);
		return -EINVAL;
	}
	return 0;
}

static const char *const methods[] = { "POST", "PUT", NULL };

static const struct config_option top[] = {
	{ .key = "listenport",
	  .type = CONFIG_INT,
	  .def = "2801",
	  .offset = offsetof(struct settings, listenport),
	  .min = 1,
	  .max = 65535,
	  .help = "HTTP port" },
	{ .key = "debug",
	  .type = CONFIG_BOOL,
	  .def = "false",
	  .offset = offsetof(struct settings, debug),
	  .help = "verbose" },
	{ .key = "timeout",
	  .type = CONFIG_DURATION,
	  .def = "10s",
	  .offset = offsetof(struct settings, timeout),
	  .help = "request timeout" },
	{ .key = "queue.max_bytes",
	  .type = CONFIG_SIZE,
	  .def = "64MiB",
	  .offset = offsetof(struct settings, maxsize),
	  .min = 1024,
	  .max = 1ll << 30,
	  .help = "queue limit" },
	{ .key = "customfields",
	  .type = CONFIG_MAP,
	  .offset = offsetof(struct settings, customfields),
	  .help = "added to output_fields" },
	{ .key = "kafka.hostport",
	  .type = CONFIG_STRLIST,
	  .offset = offsetof(struct settings, hosts),
	  .help = "brokers" },
	{ .key = "slack.webhookurl",
	  .type = CONFIG_STRING,
	  .offset = offsetof(struct settings, webhookurl),
	  .help = "Slack incoming webhook" },
	{ 0 },
};

static const struct config_option hook[] = {
	{ .key = "address",
	  .type = CONFIG_STRING,
	  .offset = offsetof(struct settings, address),
	  .help = "URL" },
	{ .key = "method",
	  .type = CONFIG_ENUM,
	  .def = "POST",
	  .choices = methods,
	  .offset = offsetof(struct settings, method),
	  .help = "HTTP method" },
	{ .key = "minimumpriority",
	  .type = CONFIG_CUSTOM,
	  .def = "",
	  .offset = offsetof(struct settings, minprio),
	  .parse = parse_prio,
	  .help = "minimum priority" },
	{ 0 },
};

static void capture(void *ctx, enum config_severity sev, const char *where, const char *msg)
{
	struct diags *d = ctx;

	assert_true(d->n < 64);
	snprintf(d->lines[d->n++], sizeof(d->lines[0]), "%s: %s: %s", where,
		 sev == CONFIG_ERROR ? "error" : "warning", msg);
}

static bool has_diag(const struct diags *d, const char *line)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->lines[i], line))
			return true;
	return false;
}

/* Fails with the captured lines printed, which makes a mismatch easy to read. */
static void expect_diag(const struct diags *d, const char *line)
{
	if (has_diag(d, line))
		return;
	for (size_t i = 0; i < d->n; i++)
		print_error("got: %s\n", d->lines[i]);
	fail_msg("missing diagnostic: %s", line);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->cfg = config_new();
	assert_non_null(t->cfg);
	config_set_reporter(t->cfg, capture, &t->d);
	assert_int_equal(config_declare(t->cfg, "", top), 0);
	assert_int_equal(config_declare(t->cfg, "webhook", hook), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	config_free(t->cfg);
	free(t);
	return 0;
}

static int load(struct t *t, const char *name, const char *yaml)
{
	return config_load_buffer(t->cfg, name, yaml, strlen(yaml));
}

static void test_defaults(void **state)
{
	struct t *t = *state;
	struct settings s;

	memset(&s, 0xa5, sizeof(s));
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.listenport, 2801);
	assert_false(s.debug);
	assert_int_equal(s.timeout, 10000);
	assert_int_equal(s.maxsize, 64ull << 20);
	assert_null(s.address);
	assert_int_equal(s.method, 0);
	assert_int_equal(s.hosts.n, 0);
	assert_int_equal(s.customfields.n, 0);
	assert_int_equal(s.minprio, PRIORITY_DEBUG);
	assert_false(config_is_set(t->cfg, "listenport"));
	assert_string_equal(config_get(t->cfg, "listenport"), "2801");
	assert_string_equal(config_origin(t->cfg, "listenport"), "default");
	assert_null(config_origin(t->cfg, "webhook.address"));
	assert_null(config_get(t->cfg, "nothing"));
	assert_int_equal(t->d.n, 0);
}

static void test_precedence(void **state)
{
	struct t *t = *state;
	char *envp[] = { "LISTENPORT=3000",
			 "WEBHOOK_METHOD=put",
			 "DEBUG=",
			 "HOME=/root",
			 "WEBHOOK_ADRESS=typo-is-not-warned",
			 NULL };
	struct settings s;

	assert_int_equal(load(t, "a.yaml",
			      "listenport: 1000\ndebug: yes\ntimeout: 1s\n"
			      "webhook:\n  address: http://a\n  method: POST\n"),
			 0);
	assert_int_equal(load(t, "b.yaml", "timeout: 2s\nwebhook:\n  address: http://b\n"), 0);
	assert_int_equal(config_load_env(t->cfg, envp), 0);
	assert_int_equal(config_set(t->cfg, "listenport=4000"), 0);
	assert_int_equal(config_set(t->cfg, "webhook.address=http://o"), 0);

	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(t->d.n, 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.listenport, 4000); /* -o beats env and file */
	assert_true(s.debug); /* empty env var ignored: file value */
	assert_int_equal(s.timeout, 2000); /* later file wins */
	assert_int_equal(s.method, 1); /* env beats file */
	assert_string_equal(s.address, "http://o");

	assert_string_equal(config_origin(t->cfg, "listenport"), "-o listenport=4000");
	assert_string_equal(config_origin(t->cfg, "webhook.method"), "env WEBHOOK_METHOD");
	assert_string_equal(config_origin(t->cfg, "timeout"), "b.yaml:1");
	assert_string_equal(config_origin(t->cfg, "debug"), "a.yaml:2");
	assert_string_equal(config_get(t->cfg, "webhook.method"), "put");
	assert_true(config_is_set(t->cfg, "webhook.address"));
	assert_true(config_is_set(t->cfg, "Listenport"));
	assert_false(config_is_set(t->cfg, "queue.max_bytes"));

	/* Another override emptied the address: not set any more, binds NULL. */
	assert_int_equal(config_set(t->cfg, "webhook.address="), 0);
	assert_false(config_is_set(t->cfg, "webhook.address"));
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_null(s.address);
}

static void test_env_declared_later(void **state)
{
	struct t *t = *state;
	char *envp[] = { "SLACK2_WEBHOOKURL=http://later", NULL };
	static const struct config_option slack[] = {
		{ .key = "webhookurl", .type = CONFIG_STRING, .offset = 0 },
		{ 0 },
	};
	const char *url = NULL;

	assert_int_equal(config_load_env(t->cfg, envp), 0);
	assert_int_equal(config_declare(t->cfg, "slack2", slack), 0);
	assert_int_equal(config_bind(t->cfg, "slack2", slack, &url), 0);
	assert_string_equal(url, "http://later");
	assert_string_equal(config_origin(t->cfg, "slack2.webhookurl"), "env SLACK2_WEBHOOKURL");
}

static void test_env_environ(void **state)
{
	struct t *t = *state;
	static const struct config_option o[] = {
		{ .key = "probe", .type = CONFIG_INT, .def = "1" },
		{ 0 },
	};
	int64_t v = 0;

	assert_int_equal(setenv("LANNER_TEST_PROBE", "42", 1), 0);
	assert_int_equal(config_declare(t->cfg, "lanner_test", o), 0);
	assert_int_equal(config_load_env(t->cfg, NULL), 0);
	assert_int_equal(unsetenv("LANNER_TEST_PROBE"), 0);
	/* The loader keeps its own copy. */
	assert_int_equal(config_bind(t->cfg, "lanner_test", o, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(t->d.n, 0);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "true", "YES", "On", "1" };
	static const char *const no[] = { "False", "no", "OFF", "0" };
	struct t *t = *state;
	struct settings s;
	char buf[64];

	for (size_t i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "debug=%s", yes[i]);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
		assert_true(s.debug);
		snprintf(buf, sizeof(buf), "debug=%s", no[i]);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
		assert_false(s.debug);
	}
	assert_int_equal(load(t, "b.yaml", "debug: maybe\n"), 0);
	assert_int_equal(config_check(t->cfg), 0); /* -o 0 still wins */
	assert_int_equal(config_set(t->cfg, "debug=maybe"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "-o debug=maybe: error: debug: expected a boolean (true/false, yes/no, "
			   "on/off, 1/0), got 'maybe'");
}

static void test_int(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "lanner.yaml", "# comment\n\n\n\n\n\nlistenport: abc\n"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "lanner.yaml:7: error: listenport: expected an integer between 1 and "
			   "65535, got 'abc'");
	/* bind reports the same problem only once, and falls back to the default */
	assert_int_equal(config_bind(t->cfg, "", top, &s), -EINVAL);
	assert_int_equal(t->d.n, 1);
	assert_int_equal(s.listenport, 2801);

	assert_int_equal(config_set(t->cfg, "listenport=65536"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "-o listenport=65536: error: listenport: expected an integer between 1 "
			   "and 65535, got '65536'");
	assert_int_equal(config_set(t->cfg, "listenport=99999999999999999999"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	assert_int_equal(config_set(t->cfg, "listenport= 80"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	assert_int_equal(config_set(t->cfg, "listenport=65535"), 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(s.listenport, 65535);
}

static void test_int_unbounded(void **state)
{
	struct t *t = *state;
	static const struct config_option o[] = {
		{ .key = "n", .type = CONFIG_INT, .def = "-5" },
		{ 0 },
	};
	int64_t v = 0;

	assert_int_equal(config_declare(t->cfg, "x", o), 0);
	assert_int_equal(config_bind(t->cfg, "x", o, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(config_set(t->cfg, "x.n=-9223372036854775808"), 0);
	assert_int_equal(config_bind(t->cfg, "x", o, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(config_set(t->cfg, "x.n=1.5"), 0);
	assert_int_equal(config_bind(t->cfg, "x", o, &v), -EINVAL);
	expect_diag(&t->d, "-o x.n=1.5: error: x.n: expected an integer, got '1.5'");
}

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {
		{ "250ms", 250 }, { "10s", 10000 },    { "5m", 300000 },   { "1h", 3600000 },
		{ "3", 3000 },	  { "1.5s", 1500 },    { "0.25", 250 },	   { "2H", 7200000 },
		{ "0", 0 },	  { "1.0005s", 1000 }, { "1d", 86400000 }, { "0.5m", 30000 },
	};
	static const char *const bad[] = { "-1s",
					   "abc",
					   "1x",
					   "1.s",
					   ".5s",
					   "1 s",
					   "s",
					   "99999999999999999999s",
					   "9999999999999999h" };
	struct t *t = *state;
	struct settings s;
	char buf[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		snprintf(buf, sizeof(buf), "timeout=%s", ok[i].text);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
		assert_int_equal(s.timeout, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(buf, sizeof(buf), "timeout=%s", bad[i]);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_check(t->cfg), -EINVAL);
	}
	expect_diag(&t->d, "-o timeout=1x: error: timeout: expected a duration (250ms, 10s, 5m, "
			   "1h), got '1x'");
}

static void test_duration_bounds(void **state)
{
	struct t *t = *state;
	static const struct config_option o[] = {
		{ .key = "retry", .type = CONFIG_DURATION, .def = "1s", .min = 100, .max = 3600000 },
		{ 0 },
	};
	int64_t v;

	assert_int_equal(config_declare(t->cfg, "", o), 0);
	assert_int_equal(load(t, "f.yaml", "retry: 2h\n"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "f.yaml:1: error: retry: expected a duration between 100ms and 1h, got "
			   "'2h'");
	assert_int_equal(config_set(t->cfg, "retry=59m"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(v, 59 * 60000);
}

static void test_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "1024", 1024 },	 { "64k", 65536 },	   { "64K", 65536 },
		{ "64KB", 65536 },	 { "64KiB", 65536 },	   { "10M", 10ull << 20 },
		{ "10MB", 10ull << 20 }, { "10mib", 10ull << 20 }, { "1G", 1ull << 30 },
		{ "1GiB", 1ull << 30 },	 { "1.5k", 1536 },	   { "2048b", 2048 },
	};
	static const char *const bad[] = { "1023", "2G", "-1k", "1x", "k", "1kk", "1.k" };
	struct t *t = *state;
	struct settings s;
	char buf[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		snprintf(buf, sizeof(buf), "queue.max_bytes=%s", ok[i].text);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
		assert_int_equal(s.maxsize, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(buf, sizeof(buf), "queue.max_bytes=%s", bad[i]);
		assert_int_equal(config_set(t->cfg, buf), 0);
		assert_int_equal(config_check(t->cfg), -EINVAL);
	}
	expect_diag(&t->d, "-o queue.max_bytes=2G: error: queue.max_bytes: expected a size between "
			   "1k and 1G, got '2G'");
}

static void test_size_unbounded(void **state)
{
	struct t *t = *state;
	static const struct config_option o[] = {
		{ .key = "buf", .type = CONFIG_SIZE },
		{ 0 },
	};
	uint64_t v = 7;

	assert_int_equal(config_declare(t->cfg, "", o), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_set(t->cfg, "buf=3T"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(v, 3ull << 40);
	/* Fractions keep six digits, without overflowing on the largest unit. */
	assert_int_equal(config_set(t->cfg, "buf=1.999999999T"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(v, 2199022156040ull);
	assert_int_equal(config_set(t->cfg, "buf=0.5t"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(v, 1ull << 39);
	assert_int_equal(config_set(t->cfg, "buf=8388607T"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), 0);
	assert_int_equal(config_set(t->cfg, "buf=8388608T"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &v), -EINVAL);
	assert_int_equal(config_set(t->cfg, "buf=big"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d,
		    "-o buf=big: error: buf: expected a size (512, 64k, 10MB, 1G), got 'big'");
}

static void test_enum(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "lanner.yaml", "webhook:\n  address: x\n  method: GET\n"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "lanner.yaml:3: error: webhook.method: expected one of POST, PUT, got "
			   "'GET'");
	assert_int_equal(config_set(t->cfg, "webhook.method=pUt"), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.method, 1);
	/* An empty value means the default. */
	assert_int_equal(config_set(t->cfg, "webhook.method="), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.method, 0);
}

static void test_custom(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "c.yaml", "webhook:\n  minimumpriority: warning\n"), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.minprio, PRIORITY_WARNING);
	assert_int_equal(config_set(t->cfg, "webhook.minimumpriority=loud"), 0);
	/* Custom values are checked when bound. */
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), -EINVAL);
	expect_diag(&t->d, "-o webhook.minimumpriority=loud: error: webhook.minimumpriority: "
			   "expected a Falco priority, got 'loud'");
	assert_int_equal(s.minprio, PRIORITY_DEBUG); /* default "" */
}

static int parse_never(const char *text, void *dst, char *err, size_t errlen)
{
	return -EINVAL;
}

static void test_custom_no_reason(void **state)
{
	struct t *t = *state;
	static const struct config_option o[] = {
		{ .key = "c", .type = CONFIG_CUSTOM, .parse = parse_never },
		{ 0 },
	};
	int untouched = 7;

	assert_int_equal(config_declare(t->cfg, "", o), 0);
	/* Unset without default: the parser is not called, dst is left alone. */
	assert_int_equal(config_bind(t->cfg, "", o, &untouched), 0);
	assert_int_equal(untouched, 7);
	assert_int_equal(config_set(t->cfg, "c=x\x01y"), 0);
	assert_int_equal(config_bind(t->cfg, "", o, &untouched), -EINVAL);
	expect_diag(&t->d, "-o c=x\x01y: error: c: invalid value 'x?y'");
	/* A mapping where the parser wants text is a shape error found by config_check(). */
	{
		struct config *cfg = config_new();

		assert_non_null(cfg);
		config_set_reporter(cfg, capture, &t->d);
		assert_int_equal(config_declare(cfg, "", o), 0);
		assert_int_equal(config_load_buffer(cfg, "m.yaml", "c: {a: 1}\n", 10), 0);
		assert_int_equal(config_check(cfg), -EINVAL);
		expect_diag(&t->d, "m.yaml:1: error: c: expected a scalar, got a mapping");
		config_free(cfg);
	}
}

static void test_unknown_key(void **state)
{
	struct t *t = *state;

	assert_int_equal(load(t, "lanner.yaml",
			      "listenport: 2801\nwebhook:\n  adress: http://x\n"
			      "zzzzzzzzz: 1\nwebhok:\n  address: y\n"),
			 0);
	assert_int_equal(config_set(t->cfg, "lisenport=1"), 0);
	assert_int_equal(config_check(t->cfg), 0);
	expect_diag(&t->d, "lanner.yaml:3: warning: unknown key 'webhook.adress' (did you mean "
			   "webhook.address?)");
	expect_diag(&t->d, "lanner.yaml:4: warning: unknown key 'zzzzzzzzz'");
	expect_diag(&t->d, "lanner.yaml:6: warning: unknown key 'webhok.address' (did you mean "
			   "webhook.address?)");
	expect_diag(&t->d, "-o lisenport=1: warning: unknown key 'lisenport' (did you mean "
			   "listenport?)");
	assert_int_equal(t->d.n, 4); /* nothing for the sections webhook / webhok */
}

static void test_case_insensitive(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "f.yaml",
			      "Slack:\n  WebhookURL: http://hooks\nLISTENPORT: 1\n"
			      "Webhook: {Method: put}\n"),
			 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(t->d.n, 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_string_equal(s.webhookurl, "http://hooks");
	assert_int_equal(s.listenport, 1);
	assert_int_equal(s.method, 1);
	assert_string_equal(config_get(t->cfg, "slack.webhookurl"), "http://hooks");
	assert_string_equal(config_get(t->cfg, "SLACK.WEBHOOKURL"), "http://hooks");
}

static void test_lists_maps_yaml(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "f.yaml",
			      "kafka:\n  hostport:\n    - a:9092\n    - b:9092\n"
			      "customfields:\n  Zeta: 1\n  Alpha: 'two'\n  env: ''\n"),
			 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(t->d.n, 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(s.hosts.n, 2);
	assert_string_equal(s.hosts.v[0], "a:9092");
	assert_string_equal(s.hosts.v[1], "b:9092");
	assert_int_equal(s.customfields.n, 3);
	assert_string_equal(s.customfields.keys[0], "Zeta"); /* as written, in order */
	assert_string_equal(s.customfields.values[0], "1");
	assert_string_equal(s.customfields.keys[1], "Alpha");
	assert_string_equal(s.customfields.values[1], "two");
	assert_string_equal(s.customfields.keys[2], "env");
	assert_string_equal(s.customfields.values[2], "");
	assert_true(config_is_set(t->cfg, "customfields"));
	assert_null(config_get(t->cfg, "customfields"));

	/* A comma list in a YAML scalar is a list too (Falcosidekick's kafka.hostport). */
	assert_int_equal(load(t, "g.yaml", "kafka: {hostport: 'x:1, y:2,,'}\n"), 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(s.hosts.n, 2);
	assert_string_equal(s.hosts.v[0], "x:1");
	assert_string_equal(s.hosts.v[1], "y:2");
}

static void test_lists_maps_env(void **state)
{
	struct t *t = *state;
	char *envp[] = { "KAFKA_HOSTPORT=k1:9092,k2:9092, k3:9092",
			 "CUSTOMFIELDS=team:sec, url:http://x:8080/y", NULL };
	struct settings s;

	assert_int_equal(load(t, "f.yaml", "customfields: {a: b}\n"), 0);
	assert_int_equal(config_load_env(t->cfg, envp), 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(s.hosts.n, 3);
	assert_string_equal(s.hosts.v[2], "k3:9092");
	assert_int_equal(s.customfields.n, 2);
	assert_string_equal(s.customfields.keys[0], "team");
	assert_string_equal(s.customfields.values[0], "sec");
	assert_string_equal(s.customfields.keys[1], "url");
	assert_string_equal(s.customfields.values[1], "http://x:8080/y");

	assert_int_equal(config_set(t->cfg, "customfields=novalue"), 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "-o customfields=novalue: error: customfields: expected a mapping (or "
			   "key:value,key:value), got 'novalue'");
}

static void test_shape_errors(void **state)
{
	struct t *t = *state;

	assert_int_equal(load(t, "s.yaml",
			      "slack:\n  webhookurl:\n    nested: x\n"
			      "webhook: http://not-a-section\n"
			      "customfields:\n  a: [1, 2]\n"
			      "kafka:\n  hostport:\n    - a\n    - {b: c}\n"
			      "listenport: [1]\n"),
			 0);
	assert_int_equal(config_check(t->cfg), -EINVAL);
	expect_diag(&t->d, "s.yaml:2: error: slack.webhookurl: expected a scalar, got a mapping");
	expect_diag(&t->d, "s.yaml:4: error: webhook: expected a mapping, got "
			   "'http://not-a-section'");
	expect_diag(&t->d, "s.yaml:6: error: customfields: expected a mapping of scalars, got a "
			   "list as a value");
	expect_diag(&t->d, "s.yaml:10: error: kafka.hostport: expected a list of scalars, got a "
			   "mapping in the list");
	expect_diag(&t->d, "s.yaml:11: error: listenport: expected an integer between 1 and 65535, "
			   "got a list");
	assert_int_equal(t->d.n, 5);
}

static void test_duplicate_key(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "d.yaml",
			      "listenport: 1\nwebhook:\n  address: a\n"
			      "ListenPort: 2\nwebhook:\n  method: PUT\n"
			      "customfields: {k: 1, K: 2}\n"),
			 0);
	expect_diag(&t->d, "d.yaml:4: warning: duplicate key 'ListenPort' (the last one wins)");
	expect_diag(&t->d, "d.yaml:5: warning: duplicate key 'webhook' (the last one wins)");
	expect_diag(&t->d, "d.yaml:7: warning: duplicate key 'customfields.K' (the last one wins)");
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &s), 0);
	assert_int_equal(s.listenport, 2);
	assert_null(s.address); /* the whole first webhook: mapping is replaced */
	assert_int_equal(s.method, 1);
	assert_int_equal(s.customfields.n, 1);
	assert_string_equal(s.customfields.keys[0], "K");
	assert_string_equal(s.customfields.values[0], "2");
}

static void test_syntax_error(void **state)
{
	struct t *t = *state;

	assert_int_equal(load(t, "bad.yaml",
			      "listenport: 1\nwebhook:\n  address: [a, b\n"
			      "debug: true\n"),
			 -EINVAL);
	assert_int_equal(t->d.n, 1);
	assert_non_null(strstr(t->d.lines[0], "bad.yaml:4:6: error: "));
	assert_non_null(strstr(t->d.lines[0], "did not find expected ',' or ']'"));
	/* A file with an error contributes nothing. */
	assert_false(config_is_set(t->cfg, "listenport"));

	assert_int_equal(load(t, "tab.yaml", "a:\n\tb: 1\n"), -EINVAL);
	expect_diag(&t->d, "tab.yaml:2:1: error: found character that cannot start any token "
			   "(while scanning for the next token)");

	assert_int_equal(load(t, "utf.yaml", "a: 1\nb: \xff\n"), -EINVAL);
	assert_non_null(strstr(t->d.lines[t->d.n - 1], "utf.yaml:2:4: error: "));
}

static void test_structure_errors(void **state)
{
	struct t *t = *state;

	assert_int_equal(load(t, "top.yaml", "- a\n- b\n"), -EINVAL);
	expect_diag(&t->d, "top.yaml:1: error: expected a mapping of keys at the top level, got a "
			   "list");
	assert_int_equal(load(t, "key.yaml", "webhook:\n  ? [a]\n  : b\n"), -EINVAL);
	expect_diag(&t->d, "key.yaml:2: error: webhook: mapping keys must be scalars, got a list");
	assert_int_equal(load(t, "empty.yaml", "\"\": 1\n"), -EINVAL);
	expect_diag(&t->d, "empty.yaml:1: error: empty key");
	assert_int_equal(load(t, "alias.yaml", "a: *nope\n"), -EINVAL);
	expect_diag(&t->d, "alias.yaml:1:4: error: found undefined alias");
	assert_int_equal(config_set(t->cfg, "novalue"), -EINVAL);
	expect_diag(&t->d, "-o novalue: error: expected key=value");
	assert_int_equal(config_set(t->cfg, "=x"), -EINVAL);
	assert_int_equal(config_load_file(t->cfg, DATA "/does-not-exist.yaml"), -ENOENT);
	expect_diag(&t->d, DATA "/does-not-exist.yaml: error: cannot open: No such file or "
				"directory");
	assert_int_equal(config_load_file(t->cfg, DATA), -EISDIR);
	expect_diag(&t->d, DATA ": error: cannot read: Is a directory");
}

static void test_load_file(void **state)
{
	struct t *t = *state;
	char path[] = "/tmp/lanner-config-test-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	/* Bigger than one read buffer, and just under the size cap is fine. */
	fputs("listenport: 1234\n", f);
	for (int i = 0; i < 20000; i++)
		fputs("# padding padding padding padding padding padding\n", f);
	fputs("debug: on\n", f);
	fclose(f);
	assert_int_equal(config_load_file(t->cfg, path), 0);
	assert_string_equal(config_get(t->cfg, "debug"), "on");
	assert_int_equal(config_check(t->cfg), 0);
	{
		char want[128];

		snprintf(want, sizeof(want), "%s:20002", path);
		assert_string_equal(config_origin(t->cfg, "debug"), want);
	}
	/* Over the cap. */
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 90000; i++)
		fputs("# padding padding padding padding padding padding\n", f);
	fclose(f);
	assert_int_equal(config_load_file(t->cfg, path), -EFBIG);
	assert_non_null(strstr(t->d.lines[t->d.n - 1], "error: larger than 4194304 bytes"));
	unlink(path);
	/* A pipe has no size to trust. */
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		assert_int_equal(write(p[1], "listenport: 99\n", 15), 15);
		close(p[1]);
		snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
		assert_int_equal(config_load_file(t->cfg, path), 0);
		close(p[0]);
		assert_string_equal(config_get(t->cfg, "listenport"), "99");
	}
}

static void test_depth_limit(void **state)
{
	struct t *t = *state;
	char buf[4096];
	size_t off = 0;

	/* 64 nested mappings are fine, 65 are not. */
	for (int i = 0; i < 64; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "{k%d: ", i);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "v");
	for (int i = 0; i < 64; i++)
		buf[off++] = '}';
	buf[off] = '\0';
	assert_int_equal(config_load_buffer(t->cfg, "deep.yaml", buf + 5, strlen(buf + 5) - 1), 0);

	off = 0;
	for (int i = 0; i < 66; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "{k%d: ", i);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "v");
	for (int i = 0; i < 66; i++)
		buf[off++] = '}';
	buf[off] = '\0';
	assert_int_equal(load(t, "deeper.yaml", buf), -EINVAL);
	assert_non_null(strstr(t->d.lines[t->d.n - 1], "nesting deeper than 64 levels"));

	/* A mapping that contains itself through an alias stops at the same limit. */
	assert_int_equal(load(t, "loop.yaml", "a: &x {b: *x}\n"), -EINVAL);
	assert_non_null(strstr(t->d.lines[t->d.n - 1], "loop.yaml:1: error: "));
}

static void test_alias_bomb(void **state)
{
	struct t *t = *state;
	const char *bomb = "a: &a {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9}\n"
			   "b: &b {a: *a, b: *a, c: *a, d: *a, e: *a, f: *a, g: *a, h: *a}\n"
			   "c: &c {a: *b, b: *b, c: *b, d: *b, e: *b, f: *b, g: *b, h: *b}\n"
			   "d: &d {a: *c, b: *c, c: *c, d: *c, e: *c, f: *c, g: *c, h: *c}\n"
			   "e: &e {a: *d, b: *d, c: *d, d: *d, e: *d, f: *d, g: *d, h: *d}\n"
			   "f: &f {a: *e, b: *e, c: *e, d: *e, e: *e, f: *e, g: *e, h: *e}\n"
			   "g: &g {a: *f, b: *f, c: *f, d: *f, e: *f, f: *f, g: *f, h: *f}\n";

	assert_int_equal(load(t, "bomb.yaml", bomb), -EINVAL);
	assert_non_null(strstr(t->d.lines[t->d.n - 1], "more than 10000 values"));
	/* The budget covers all the documents of one buffer. */
	{
		size_t n = 10001, len = n * 9;
		char *docs = malloc(len + 1);

		assert_non_null(docs);
		for (size_t i = 0; i < n; i++)
			memcpy(docs + i * 9, "a: 1\n---\n", 9);
		docs[len] = '\0';
		assert_int_equal(load(t, "docs.yaml", docs), -EINVAL);
		assert_non_null(strstr(t->d.lines[t->d.n - 1], "more than 10000 values"));
		free(docs);
	}
	/* Size cap. */
	{
		size_t len = (4u << 20) + 1;
		char *huge = malloc(len);

		assert_non_null(huge);
		memset(huge, '#', len);
		assert_int_equal(config_load_buffer(t->cfg, "huge.yaml", huge, len), -EFBIG);
		expect_diag(&t->d, "huge.yaml: error: larger than 4194304 bytes");
		free(huge);
	}
	/* Aliases in sane amounts work. */
	assert_int_equal(load(t, "alias.yaml", "base: &b {address: http://x}\nwebhook: *b\n"), 0);
	assert_string_equal(config_get(t->cfg, "webhook.address"), "http://x");
}

static void test_empty_and_multidoc(void **state)
{
	struct t *t = *state;
	struct settings s;

	assert_int_equal(load(t, "empty.yaml", ""), 0);
	assert_int_equal(load(t, "comments.yaml", "# nothing\n\n"), 0);
	assert_int_equal(load(t, "null.yaml", "~\n"), 0);
	assert_int_equal(load(t, "docs.yaml", "listenport: 1\n---\nlistenport: 2\n---\n"), 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(t->d.n, 0);
	assert_int_equal(config_bind(t->cfg, "", top, &s), 0);
	assert_int_equal(s.listenport, 2);
	assert_string_equal(config_origin(t->cfg, "listenport"), "docs.yaml:3");
	/* A null section (`webhook:` with nothing under it) is not an error. */
	assert_int_equal(load(t, "n.yaml", "webhook:\nslack: ~\n"), 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(t->d.n, 0);
}

static void test_bind_instances(void **state)
{
	struct t *t = *state;
	struct settings a, b;

	assert_int_equal(config_declare(t->cfg, "webhook2", hook), 0);
	assert_int_equal(config_declare(t->cfg, "webhook2", hook), -EEXIST);
	assert_int_equal(load(t, "i.yaml",
			      "webhook: {address: one}\nwebhook2: {address: two, "
			      "method: PUT}\n"),
			 0);
	assert_int_equal(config_check(t->cfg), 0);
	assert_int_equal(config_bind(t->cfg, "webhook", hook, &a), 0);
	assert_int_equal(config_bind(t->cfg, "webhook2", hook, &b), 0);
	assert_string_equal(a.address, "one");
	assert_int_equal(a.method, 0);
	assert_string_equal(b.address, "two");
	assert_int_equal(b.method, 1);
}

static void test_declare_invalid(void **state)
{
	struct t *t = *state;
	static const struct config_option bad_enum[] = {
		{ .key = "e", .type = CONFIG_ENUM },
		{ 0 },
	};
	static const struct config_option dup[] = {
		{ .key = "fresh", .type = CONFIG_BOOL },
		{ .key = "listenport", .type = CONFIG_INT },
		{ 0 },
	};
	static const struct config_option fresh[] = {
		{ .key = "fresh", .type = CONFIG_BOOL },
		{ 0 },
	};

	assert_int_equal(config_declare(t->cfg, "", bad_enum), -EINVAL);
	assert_int_equal(config_declare(t->cfg, "", dup), -EEXIST);
	/* The failed table was rolled back: "fresh" can be declared alone. */
	assert_int_equal(config_declare(t->cfg, "", dup), -EEXIST);
	assert_int_equal(config_declare(t->cfg, "", fresh), 0);
	assert_int_equal(config_declare(t->cfg, "", fresh), -EEXIST);
}

/* The reference line of key: "key  type  default  ENV  help", columns aligned. */
static void expect_ref(const char *out, const char *key, const char *type, const char *def,
		       const char *env, const char *help)
{
	char k[64], ty[64], d[64], e[64];
	const char *line = out;
	int used = 0;

	for (; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ')
			break;
	assert_non_null(line);
	assert_int_equal(sscanf(line, "%63s %63s %63s %63s %n", k, ty, d, e, &used), 4);
	assert_string_equal(k, key);
	assert_string_equal(ty, type);
	assert_string_equal(d, def);
	assert_string_equal(e, env);
	assert_true(!strncmp(line + used, help, strlen(help)));
	assert_int_equal(line[used + (int)strlen(help)], '\n');
}

static void test_reference(void **state)
{
	struct t *t = *state;
	char *out = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	config_print_reference(t->cfg, f);
	fclose(f);
	expect_ref(out, "listenport", "int", "2801", "LISTENPORT", "HTTP port");
	expect_ref(out, "webhook.method", "enum:POST|PUT", "POST", "WEBHOOK_METHOD", "HTTP method");
	expect_ref(out, "queue.max_bytes", "size", "64MiB", "QUEUE_MAX_BYTES", "queue limit");
	expect_ref(out, "slack.webhookurl", "string", "-", "SLACK_WEBHOOKURL",
		   "Slack incoming webhook");
	expect_ref(out, "webhook.minimumpriority", "custom", "\"\"", "WEBHOOK_MINIMUMPRIORITY",
		   "minimum priority");
	/* One line per declared key. */
	for (const char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 10);
	free(out);
}

/* Each fixture's first line: "# expect: <diagnostic after the path>", or "# expect: ok". */
static void run_fixtures(const char *dir, bool valid)
{
	char path[1024], first[512];
	struct dirent *de;
	size_t count = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct t t = { 0 };
		const char *expect;
		FILE *f;
		int rl, rc;

		if (!strstr(de->d_name, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(first, sizeof(first), f));
		fclose(f);
		first[strcspn(first, "\n")] = '\0';
		assert_true(!strncmp(first, "# expect: ", 10));
		expect = first + 10;

		t.cfg = config_new();
		assert_non_null(t.cfg);
		config_set_reporter(t.cfg, capture, &t.d);
		assert_int_equal(config_declare(t.cfg, "", top), 0);
		assert_int_equal(config_declare(t.cfg, "webhook", hook), 0);
		rl = config_load_file(t.cfg, path);
		rc = rl ? rl : config_check(t.cfg);
		if (valid) {
			struct settings s;

			if (rc || t.d.n)
				print_error("%s: %s\n", path, t.d.n ? t.d.lines[0] : "failed");
			assert_int_equal(rc, 0);
			assert_int_equal(t.d.n, 0);
			assert_int_equal(config_bind(t.cfg, "", top, &s), 0);
			assert_int_equal(config_bind(t.cfg, "webhook", hook, &s), 0);
		} else {
			char want[1536];

			snprintf(want, sizeof(want), "%s%s", path, expect);
			expect_diag(&t.d, want);
			/* Warnings alone do not fail a load. */
			if (strstr(expect, ": error: "))
				assert_int_equal(rc, -EINVAL);
			else
				assert_int_equal(rc, 0);
		}
		config_free(t.cfg);
		count++;
	}
	closedir(d);
	assert_true(count >= 3);
}

static void test_fixtures_valid(void **state)
{
	run_fixtures(DATA "/valid", true);
}

static void test_fixtures_invalid(void **state)
{
	run_fixtures(DATA "/invalid", false);
}

static void test_default_reporter(void **state)
{
	struct config *cfg = config_new();

	assert_non_null(cfg);
	/* Writes to stderr; the point is that it is callable and the reporter can be reset. */
	config_set_reporter(cfg, NULL, NULL);
	assert_int_equal(config_set(cfg, "oops"), -EINVAL);
	config_free(cfg);
	config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_defaults),
		T(test_precedence),
		T(test_env_declared_later),
		T(test_env_environ),
		T(test_bool),
		T(test_int),
		T(test_int_unbounded),
		T(test_duration),
		T(test_duration_bounds),
		T(test_size),
		T(test_size_unbounded),
		T(test_enum),
		T(test_custom),
		T(test_custom_no_reason),
		T(test_unknown_key),
		T(test_case_insensitive),
		T(test_lists_maps_yaml),
		T(test_lists_maps_env),
		T(test_shape_errors),
		T(test_duplicate_key),
		T(test_syntax_error),
		T(test_structure_errors),
		T(test_load_file),
		T(test_depth_limit),
		T(test_alias_bomb),
		T(test_empty_and_multidoc),
		T(test_bind_instances),
		T(test_declare_invalid),
		T(test_reference),
		cmocka_unit_test(test_fixtures_valid),
		cmocka_unit_test(test_fixtures_invalid),
		cmocka_unit_test(test_default_reporter),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
