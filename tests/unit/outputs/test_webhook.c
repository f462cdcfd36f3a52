// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "receiver.h"
#include "sinktest.h"

extern const struct sink_ops webhook_sink_ops;

static char yaml[2048];

static const char *cfg_for(const struct receiver *r, const char *scheme, const char *extra)
{
	snprintf(yaml, sizeof(yaml), "webhook:\n  address: %s://127.0.0.1:%d/falco\n%s", scheme,
		 r->port, extra ? extra : "");
	return yaml;
}

static json_t *only_request(const struct receiver *r, size_t expect)
{
	json_t *reqs = receiver_requests(r);

	assert_int_equal(json_array_size(reqs), expect);
	return reqs;
}

static void test_post_body_and_headers(void **state)
{
	struct receiver rcv;
	struct st t;
	struct alert *a[3];
	json_t *reqs;
	size_t i, len;

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(st_start(&t, &webhook_sink_ops,
				  cfg_for(&rcv, "http",
					  "  customheaders:\n    X-Team: sec ops\n"
					  "    Authorization: Bearer abc\n")),
			 0);
	for (i = 0; i < 3; i++) {
		a[i] = st_alert((int)i);
		assert_non_null(a[i]);
		assert_int_equal(st_send(&t, a[i], i), 0);
	}
	st_wait(&t, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(t.per_token[i], 1);
		assert_int_equal(t.status[i].result, SINK_OK);
	}
	assert_int_equal(st_stop(&t), 0);

	reqs = only_request(&rcv, 3);
	for (i = 0; i < 3; i++) {
		json_t *r = json_array_get(reqs, i);
		const char *body = json_string_value(json_object_get(r, "body"));
		size_t k, found = 0;

		assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
		assert_string_equal(json_string_value(json_object_get(r, "path")), "/falco");
		assert_string_equal(receiver_header(r, "Content-Type"), "application/json");
		assert_string_equal(receiver_header(r, "X-Team"), "sec ops");
		assert_string_equal(receiver_header(r, "Authorization"), "Bearer abc");
		/* Body bytes: exactly one alert's canonical JSON (requests may arrive in any order). */
		for (k = 0; k < 3; k++)
			if (!strcmp(body, alert_json(a[k], &len)) && strlen(body) == len)
				found++;
		assert_int_equal(found, 1);
	}
	json_decref(reqs);
	for (i = 0; i < 3; i++)
		alert_unref(a[i]);
	receiver_stop(&rcv);
}

static void test_put_and_content_type_override(void **state)
{
	struct receiver rcv;
	struct st t;
	struct alert *a = st_alert(1);
	json_t *reqs, *r;
	int n = 0;

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(st_start(&t, &webhook_sink_ops,
				  cfg_for(&rcv, "http",
					  "  method: put\n  customheaders:\n"
					  "    content-type: application/x-falco\n")),
			 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(t.status[0].result, SINK_OK);
	assert_int_equal(st_stop(&t), 0);
	reqs = only_request(&rcv, 1);
	r = json_array_get(reqs, 0);
	assert_string_equal(json_string_value(json_object_get(r, "method")), "PUT");
	assert_string_equal(receiver_header(r, "Content-Type"), "application/x-falco");
	for (size_t i = 0; i < json_array_size(json_object_get(r, "headers")); i++)
		if (!strcasecmp(json_string_value(json_array_get(
					json_array_get(json_object_get(r, "headers"), i), 0)),
				"Content-Type"))
			n++;
	assert_int_equal(n, 1);
	json_decref(reqs);
	alert_unref(a);
	receiver_stop(&rcv);
}

static void test_status_mapping(void **state)
{
	const char *const f500[] = { "--status", "500", NULL };
	const char *const f400[] = { "--status", "400", NULL };
	const char *const f429[] = { "--status-429-first", "1", "--retry-after", "4", NULL };
	const char *const *flags[] = { f500, f400, f429 };
	const enum sink_result want[] = { SINK_RETRY, SINK_FAIL, SINK_RETRY };
	struct alert *a = st_alert(2);

	for (int i = 0; i < 3; i++) {
		struct receiver rcv;
		struct st t;

		assert_int_equal(receiver_start(&rcv, flags[i]), 0);
		assert_int_equal(st_start(&t, &webhook_sink_ops, cfg_for(&rcv, "http", NULL)), 0);
		assert_int_equal(st_send(&t, a, 0), 0);
		st_wait(&t, 1);
		assert_int_equal(t.status[0].result, want[i]);
		if (i == 2)
			assert_int_equal(t.status[0].retry_after_ms, 4000);
		assert_int_equal(st_stop(&t), 0);
		receiver_stop(&rcv);
	}
	alert_unref(a);
}

static void test_timeout_option(void **state)
{
	/* the answer comes in 20 s, the sink gives up after 200 ms */
	const char *const flags[] = { "--delay-ms", "20000", NULL };
	struct receiver rcv;
	struct st t;
	struct alert *a = st_alert(3);
	uint64_t t0;

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(
		st_start(&t, &webhook_sink_ops, cfg_for(&rcv, "http", "  timeout: 200ms\n")), 0);
	t0 = uv_hrtime();
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	assert_int_equal(t.status[0].result, SINK_RETRY);
	/* 10 s: generous for a loaded machine, well short of the answer */
	assert_true(uv_hrtime() - t0 < 10000ull * 1000000);
	assert_int_equal(st_stop(&t), 0);
	alert_unref(a);
	receiver_stop(&rcv);
}

static void test_close_abandons_in_flight(void **state)
{
	const char *const flags[] = { "--delay-ms", "5000", NULL };
	struct receiver rcv;
	struct st t;
	struct alert *a = st_alert(4);
	json_t *reqs;

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(st_start(&t, &webhook_sink_ops, cfg_for(&rcv, "http", NULL)), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	for (;;) {
		size_t n;

		uv_run(&t.loop, UV_RUN_NOWAIT);
		reqs = receiver_requests(&rcv);
		n = json_array_size(reqs);
		json_decref(reqs);
		if (n)
			break;
		usleep(10000);
	}
	/* The pipeline's order: close the sink, then free the client. */
	t.ops->close(t.sink);
	assert_int_equal(st_send(&t, a, 1), -ESHUTDOWN);
	http_client_free(t.http);
	t.http = NULL;
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.status[0].result, SINK_RETRY);
	t.ops = &(struct sink_ops){ .name = "closed" }; /* st_stop: no second close */
	assert_int_equal(st_stop(&t), 0);
	alert_unref(a);
	receiver_stop(&rcv);
}

static void test_bad_config(void **state)
{
	struct st t;

	assert_int_equal(st_start(&t, &webhook_sink_ops, "webhook:\n  address: ftp://x/\n"),
			 -EINVAL);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
	assert_int_equal(st_start(&t, &webhook_sink_ops,
				  "webhook:\n  address: https://127.0.0.1:1/\n  mutualtls: true\n"),
			 -EINVAL);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
	/* A header value with a line break would smuggle in another header. */
	assert_int_equal(st_start(&t, &webhook_sink_ops,
				  "webhook:\n  address: http://127.0.0.1:1/\n  customheaders:\n"
				  "    X-A: \"v\\r\\nX-Injected: 1\"\n"),
			 -EINVAL);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
	/* A method other than POST or PUT is a configuration error. */
	assert_int_not_equal(st_start(&t, &webhook_sink_ops,
				      "webhook:\n  address: http://127.0.0.1:1/\n  method: GET\n"),
			     0);
	t.ops = &(struct sink_ops){ .name = "none" };
	assert_int_equal(st_stop(&t), 0);
}

/* --- TLS: a CA, a server certificate for 127.0.0.1 and a client certificate, made now. */

static char tls_dir[64];

static int make_certs(void **state)
{
	char cmd[2048];

	snprintf(tls_dir, sizeof(tls_dir), "/tmp/lanner-tls-XXXXXX");
	if (!mkdtemp(tls_dir))
		return -1;
	snprintf(
		cmd, sizeof(cmd),
		"exec >/dev/null 2>&1; cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
		"openssl req -x509 $K -keyout ca.key -out ca.crt -days 1 -subj /CN=lanner-test-ca && "
		"openssl req $K -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		"echo subjectAltName=IP:127.0.0.1 > server.ext && "
		"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"-days 1 -extfile server.ext -out server.crt && "
		"openssl req $K -keyout client.key -out client.csr -subj /CN=lanner-client && "
		"echo extendedKeyUsage=clientAuth > client.ext && "
		"openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"-days 1 -extfile client.ext -out client.crt",
		tls_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void start_tls_receiver(struct receiver *rcv, bool mutual)
{
	char cert[128], key[128], ca[128];
	const char *flags[] = { "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca, NULL };

	snprintf(cert, sizeof(cert), "%s/server.crt", tls_dir);
	snprintf(key, sizeof(key), "%s/server.key", tls_dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
	if (!mutual)
		flags[4] = NULL;
	assert_int_equal(receiver_start(rcv, flags), 0);
}

static enum sink_result tls_send(struct receiver *rcv, const char *extra)
{
	struct st t;
	struct alert *a = st_alert(5);
	enum sink_result r;

	assert_int_equal(st_start(&t, &webhook_sink_ops, cfg_for(rcv, "https", extra)), 0);
	assert_int_equal(st_send(&t, a, 0), 0);
	st_wait(&t, 1);
	r = t.status[0].result;
	assert_int_equal(st_stop(&t), 0);
	alert_unref(a);
	return r;
}

static void test_checkcert(void **state)
{
	struct receiver rcv;
	json_t *reqs;

	start_tls_receiver(&rcv, false);
	/* Self-signed CA unknown to the system store: verification fails, permanently. */
	assert_int_equal(tls_send(&rcv, NULL), SINK_FAIL);
	assert_int_equal(tls_send(&rcv, "  checkcert: true\n"), SINK_FAIL);
	/* checkcert: false accepts it. */
	assert_int_equal(tls_send(&rcv, "  checkcert: false\n"), SINK_OK);
	reqs = only_request(&rcv, 1);
	json_decref(reqs);
	receiver_stop(&rcv);
}

static void test_mutualtls(void **state)
{
	struct receiver rcv;
	char extra[1024];
	json_t *reqs;

	start_tls_receiver(&rcv, true);
	/* No client certificate: the server refuses the handshake. */
	assert_int_not_equal(tls_send(&rcv, "  checkcert: false\n"), SINK_OK);
	/* mutualtls: client certificate presented, server verified with the cacertfile. */
	snprintf(extra, sizeof(extra),
		 "  mutualtls: true\nmutualtlsclient:\n  certfile: %s/client.crt\n"
		 "  keyfile: %s/client.key\n  cacertfile: %s/ca.crt\n",
		 tls_dir, tls_dir, tls_dir);
	assert_int_equal(tls_send(&rcv, extra), SINK_OK);
	reqs = only_request(&rcv, 1);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(reqs, 0), "client_cn")),
		"lanner-client");
	json_decref(reqs);
	receiver_stop(&rcv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_body_and_headers),
		cmocka_unit_test(test_put_and_content_type_override),
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_timeout_option),
		cmocka_unit_test(test_close_abandons_in_flight),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test_setup_teardown(test_checkcert, make_certs, remove_certs),
		cmocka_unit_test_setup_teardown(test_mutualtls, make_certs, remove_certs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
