// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <uv.h>

#include "outputs/http_client.h"
#include "receiver.h"

struct result {
	int calls;
	long status;
	int curl_code;
	size_t body_len;
	bool truncated;
	char body_head[64];
	struct sink_status st;
};

static void on_done(void *data, const struct http_response *resp)
{
	struct result *r = data;

	r->calls++;
	r->status = resp->status;
	r->curl_code = resp->curl_code;
	r->body_len = resp->body_len;
	r->truncated = resp->body_truncated;
	snprintf(r->body_head, sizeof(r->body_head), "%s", resp->body);
	assert_int_equal(strlen(resp->body), resp->body_len); /* NUL-terminated */
	http_response_status(resp, &r->st);
}

static void run_until(uv_loop_t *loop, const int *counter, int target)
{
	while (*counter < target)
		uv_run(loop, UV_RUN_ONCE);
}

/* Free the client and check the loop ends with nothing left open. */
static void finish(uv_loop_t *loop, struct http_client *c)
{
	http_client_free(c);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static char *url_of(const struct receiver *r, const char *path)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", r->port, path);
	return buf;
}

/* One request against a receiver started with flags; result in *res. */
static void one_request(const char *const *flags, const struct http_request *tmpl,
			struct result *res, struct receiver *rcv)
{
	struct http_request req = *tmpl;
	struct http_client *c;
	uv_loop_t loop;

	assert_int_equal(receiver_start(rcv, flags), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	assert_non_null(c);
	if (!req.url)
		req.url = url_of(rcv, "/hook");
	memset(res, 0, sizeof(*res));
	assert_int_equal(http_client_request(c, &req, on_done, res), 0);
	assert_int_equal(http_client_inflight(c), 1);
	run_until(&loop, &res->calls, 1);
	assert_int_equal(http_client_inflight(c), 0);
	finish(&loop, c);
}

static void test_post_200(void **state)
{
	static const char body[] = "{\"rule\":\"Test rule\"}";
	const struct http_header hdrs[] = { { "Content-Type", "application/json" },
					    { "X-Custom", "abc def" } };
	const struct http_request req = { .method = "POST",
					  .body = body,
					  .body_len = sizeof(body) - 1,
					  .headers = hdrs,
					  .n_headers = 2,
					  .bearer_token = "s3cret" };
	struct receiver rcv;
	struct result res;
	json_t *reqs, *r0;

	one_request(NULL, &req, &res, &rcv);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.curl_code, 0);
	assert_int_equal(res.st.result, SINK_OK);
	assert_string_equal(res.body_head, "ok\n");
	assert_false(res.truncated);

	reqs = receiver_requests(&rcv);
	assert_int_equal(json_array_size(reqs), 1);
	r0 = json_array_get(reqs, 0);
	assert_string_equal(json_string_value(json_object_get(r0, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(r0, "path")), "/hook");
	assert_string_equal(json_string_value(json_object_get(r0, "body")), body);
	assert_string_equal(receiver_header(r0, "Content-Type"), "application/json");
	assert_string_equal(receiver_header(r0, "X-Custom"), "abc def");
	assert_string_equal(receiver_header(r0, "Authorization"), "Bearer s3cret");
	assert_null(receiver_header(r0, "Expect"));
	assert_non_null(strstr(receiver_header(r0, "User-Agent"), "lanner/"));
	json_decref(reqs);
	receiver_stop(&rcv);
}

static void test_put_and_body_copied(void **state)
{
	char *body = strdup("{\"k\":\"v\"}");
	struct http_request req = { .method = "PUT", .body = body, .body_len = strlen(body) };
	struct receiver rcv;
	struct http_client *c;
	struct result res = { 0 };
	uv_loop_t loop;
	json_t *reqs;

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	req.url = url_of(&rcv, "/put");
	assert_int_equal(http_client_request(c, &req, on_done, &res), 0);
	/* The client copied the body: the caller's buffer may go at once. */
	memset(body, 'Z', strlen(body));
	free(body);
	run_until(&loop, &res.calls, 1);
	assert_int_equal(res.st.result, SINK_OK);
	finish(&loop, c);

	reqs = receiver_requests(&rcv);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "method")),
			    "PUT");
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
			    "{\"k\":\"v\"}");
	json_decref(reqs);
	receiver_stop(&rcv);
}

static void test_delete_without_body(void **state)
{
	const struct http_request req = { .method = "DELETE" };
	struct receiver rcv;
	struct result res;
	json_t *reqs, *r0;

	one_request(NULL, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_OK);
	reqs = receiver_requests(&rcv);
	r0 = json_array_get(reqs, 0);
	assert_string_equal(json_string_value(json_object_get(r0, "method")), "DELETE");
	assert_null(receiver_header(r0, "Content-Type"));
	assert_null(receiver_header(r0, "Content-Length"));
	json_decref(reqs);
	receiver_stop(&rcv);
}

static void test_500_retry(void **state)
{
	const char *const flags[] = { "--status", "500", NULL };
	const struct http_request req = { .method = "POST", .body = "x", .body_len = 1 };
	struct receiver rcv;
	struct result res;

	one_request(flags, &req, &res, &rcv);
	assert_int_equal(res.status, 500);
	assert_int_equal(res.st.result, SINK_RETRY);
	assert_int_equal(res.st.retry_after_ms, -1);
	assert_non_null(strstr(res.st.msg, "HTTP 500"));
	assert_non_null(strstr(res.st.msg, "receiver says 500"));
	receiver_stop(&rcv);
}

static void test_429_retry_after_seconds(void **state)
{
	const char *const flags[] = { "--status-429-first", "1", "--retry-after", "7", NULL };
	const struct http_request req = { .method = "POST", .body = "x", .body_len = 1 };
	struct receiver rcv;
	struct result res;

	one_request(flags, &req, &res, &rcv);
	assert_int_equal(res.status, 429);
	assert_int_equal(res.st.result, SINK_RETRY);
	assert_int_equal(res.st.retry_after_ms, 7000);
	receiver_stop(&rcv);
}

static void test_429_retry_after_date(void **state)
{
	const char *const flags[] = { "--status-429-first", "1", "--retry-after", "30",
				      "--retry-after-date", NULL };
	const struct http_request req = { .method = "POST", .body = "x", .body_len = 1 };
	struct receiver rcv;
	struct result res;

	one_request(flags, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_RETRY);
	/* An HTTP-date has 1 s resolution: 30 s ahead, give or take 2 s of test time. */
	assert_in_range(res.st.retry_after_ms, 28000, 31000);
	receiver_stop(&rcv);
}

static void test_4xx_fail_and_408_retry(void **state)
{
	const char *const f404[] = { "--status", "404", NULL };
	const char *const f408[] = { "--status", "408", NULL };
	const char *const f302[] = { "--status", "302", NULL };
	const struct http_request req = { .method = "POST", .body = "x", .body_len = 1 };
	struct receiver rcv;
	struct result res;

	one_request(f404, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_FAIL);
	assert_non_null(strstr(res.st.msg, "HTTP 404"));
	receiver_stop(&rcv);

	one_request(f408, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_RETRY);
	receiver_stop(&rcv);

	one_request(f302, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_FAIL);
	assert_non_null(strstr(res.st.msg, "redirect"));
	receiver_stop(&rcv);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_connect_refused_retry(void **state)
{
	char url[64];
	struct http_request req = { .method = "POST", .url = url, .body = "x", .body_len = 1 };
	struct http_client *c;
	struct result res = { 0 };
	uv_loop_t loop;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", free_port());
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	assert_int_equal(http_client_request(c, &req, on_done, &res), 0);
	run_until(&loop, &res.calls, 1);
	assert_int_equal(res.curl_code, CURLE_COULDNT_CONNECT);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.st.result, SINK_RETRY);
	finish(&loop, c);
}

static void test_bad_url_fail(void **state)
{
	struct http_request req = { .method = "POST", .url = "gopher://127.0.0.1:1/" };
	struct http_client *c;
	struct result res = { 0 };
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	assert_int_equal(http_client_request(c, &req, on_done, &res), 0);
	run_until(&loop, &res.calls, 1);
	assert_int_equal(res.curl_code, CURLE_UNSUPPORTED_PROTOCOL);
	assert_int_equal(res.st.result, SINK_FAIL);
	finish(&loop, c);
}

static void test_timeout_retry(void **state)
{
	const char *const flags[] = { "--delay-ms", "20000", NULL };
	const struct http_request req = {
		.method = "POST", .body = "x", .body_len = 1, .timeout_ms = 300
	};
	struct receiver rcv;
	struct result res;
	uint64_t t0 = uv_hrtime();

	one_request(flags, &req, &res, &rcv);
	assert_int_equal(res.curl_code, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(res.st.result, SINK_RETRY);
	/* Timed out by our 300 ms, not by the receiver's 20 s answer (10 s: receiver start and
	 * all, on a loaded machine). */
	assert_true(uv_hrtime() - t0 < 10000ull * 1000000);
	receiver_stop(&rcv);
}

static void test_response_body_capped(void **state)
{
	const char *const flags[] = { "--response-bytes", "200000", NULL };
	const struct http_request req = { .method = "GET" };
	struct receiver rcv;
	struct result res;

	one_request(flags, &req, &res, &rcv);
	assert_int_equal(res.st.result, SINK_OK);
	assert_int_equal(res.body_len, 64 * 1024);
	assert_true(res.truncated);
	receiver_stop(&rcv);

	/* A caller that needs whole documents asks for more. */
	{
		struct http_request big = req;

		big.max_response_bytes = 1 << 20;
		one_request(flags, &big, &res, &rcv);
		assert_int_equal(res.body_len, 200000);
		assert_false(res.truncated);
		receiver_stop(&rcv);
	}
}

/* Sequential requests: each started from the previous one's callback, on one connection. */
struct chain {
	struct http_client *c;
	struct http_request req;
	int calls, ok;
	long connects;
};

static void chain_done(void *data, const struct http_response *resp)
{
	struct chain *ch = data;
	struct sink_status st;

	ch->calls++;
	http_response_status(resp, &st);
	if (st.result == SINK_OK)
		ch->ok++;
	if (ch->calls < 5)
		assert_int_equal(http_client_request(ch->c, &ch->req, chain_done, ch), 0);
}

static void test_keepalive_reuse(void **state)
{
	struct receiver rcv;
	struct chain ch = { .req = { .method = "POST", .body = "{}", .body_len = 2 } };
	uv_loop_t loop;
	json_t *reqs;
	size_t i;

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	ch.c = http_client_new(&loop);
	ch.req.url = url_of(&rcv, "/");
	assert_int_equal(http_client_request(ch.c, &ch.req, chain_done, &ch), 0);
	run_until(&loop, &ch.calls, 5);
	assert_int_equal(ch.ok, 5);
	finish(&loop, ch.c);

	reqs = receiver_requests(&rcv);
	assert_int_equal(json_array_size(reqs), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(
			json_integer_value(json_object_get(json_array_get(reqs, i), "conn")),
			json_integer_value(json_object_get(json_array_get(reqs, 0), "conn")));
	json_decref(reqs);
	receiver_stop(&rcv);
}

/* Concurrent requests run in parallel on the one loop. */
static void test_concurrent(void **state)
{
	const char *const flags[] = { "--delay-ms", "2000", NULL };
	struct http_request req = { .method = "POST", .body = "{}", .body_len = 2 };
	struct result res[8] = { { 0 } };
	struct receiver rcv;
	struct http_client *c;
	uv_loop_t loop;
	uint64_t t0;
	int i, done;

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	req.url = url_of(&rcv, "/");
	t0 = uv_hrtime();
	for (i = 0; i < 8; i++)
		assert_int_equal(http_client_request(c, &req, on_done, &res[i]), 0);
	assert_int_equal(http_client_inflight(c), 8);
	do {
		uv_run(&loop, UV_RUN_ONCE);
		for (done = 0, i = 0; i < 8; i++)
			done += res[i].calls;
	} while (done < 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(res[i].st.result, SINK_OK);
	/* 8 x 2 s in series would take 16 s (10 s: in parallel on a loaded machine). */
	assert_true(uv_hrtime() - t0 < 10000ull * 1000000);
	finish(&loop, c);
	receiver_stop(&rcv);
}

/* Far more requests than connections: curl queues them, every one completes once. */
static void test_many_requests(void **state)
{
	enum { N = 300 };
	struct http_request req = { .method = "POST", .body = "{}", .body_len = 2 };
	struct result *res = calloc(N, sizeof(*res));
	struct receiver rcv;
	struct http_client *c;
	uv_loop_t loop;
	json_t *reqs;
	int i, done, maxconn = 0;

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	req.url = url_of(&rcv, "/");
	for (i = 0; i < N; i++)
		assert_int_equal(http_client_request(c, &req, on_done, &res[i]), 0);
	do {
		uv_run(&loop, UV_RUN_ONCE);
		for (done = 0, i = 0; i < N; i++)
			done += res[i].calls;
	} while (done < N);
	for (i = 0; i < N; i++) {
		assert_int_equal(res[i].calls, 1);
		if (res[i].st.result != SINK_OK)
			fail_msg("request %d: %s", i, res[i].st.msg);
	}
	finish(&loop, c);
	reqs = receiver_requests(&rcv);
	assert_int_equal(json_array_size(reqs), N);
	for (i = 0; i < N; i++) {
		int conn = (int)json_integer_value(
			json_object_get(json_array_get(reqs, (size_t)i), "conn"));

		if (conn > maxconn)
			maxconn = conn;
	}
	/* Connections are capped per host and reused. */
	assert_in_range(maxconn, 1, 64);
	json_decref(reqs);
	receiver_stop(&rcv);
	free(res);
}

/* A host name goes through curl's threaded resolver, whose wake-up fd the loop polls too. */
static void test_resolve_localhost(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result res = { 0 };
	struct receiver rcv;
	struct http_client *c;
	uv_loop_t loop;
	char url[64];

	assert_int_equal(receiver_start(&rcv, NULL), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	snprintf(url, sizeof(url), "http://localhost:%d/", rcv.port);
	req.url = url;
	assert_int_equal(http_client_request(c, &req, on_done, &res), 0);
	run_until(&loop, &res.calls, 1);
	/* localhost may resolve to ::1 first: curl falls back to 127.0.0.1 (happy eyeballs). */
	assert_int_equal(res.st.result, SINK_OK);
	finish(&loop, c);
	receiver_stop(&rcv);
}

static void test_abort_on_free(void **state)
{
	const char *const flags[] = { "--delay-ms", "5000", NULL };
	struct http_request req = { .method = "POST", .body = "{}", .body_len = 2 };
	struct result res[3] = { { 0 } };
	struct receiver rcv;
	struct http_client *c;
	uv_loop_t loop;
	json_t *reqs;
	int i;

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	req.url = url_of(&rcv, "/");
	for (i = 0; i < 3; i++)
		assert_int_equal(http_client_request(c, &req, on_done, &res[i]), 0);
	/* Let the requests reach the receiver, then shut down under them. */
	for (;;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		reqs = receiver_requests(&rcv);
		i = (int)json_array_size(reqs);
		json_decref(reqs);
		if (i == 3)
			break;
		usleep(10000);
	}
	http_client_free(c);
	for (i = 0; i < 3; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
		assert_int_equal(res[i].st.result, SINK_RETRY);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	receiver_stop(&rcv);
}

/* A callback may free the client: the rest are aborted once it returns. */
struct selfkill {
	struct http_client *c;
	int calls, aborted;
};

static void selfkill_done(void *data, const struct http_response *resp)
{
	struct selfkill *sk = data;
	const struct http_request req = { .method = "GET", .url = "http://127.0.0.1:1/" };

	sk->calls++;
	if (resp->curl_code == CURLE_ABORTED_BY_CALLBACK) {
		sk->aborted++;
		/* No new work once shutting down. */
		assert_int_equal(http_client_request(sk->c, &req, selfkill_done, sk), -ESHUTDOWN);
		return;
	}
	http_client_free(sk->c);
}

static void test_free_from_callback(void **state)
{
	const char *const flags[] = { "--delay-ms", "5000", NULL };
	struct http_request slow = { .method = "POST", .body = "{}", .body_len = 2 };
	struct http_request fast = { .method = "POST", .body = "{}", .body_len = 2 };
	struct receiver rcv, rcv_fast;
	struct selfkill sk = { 0 };
	uv_loop_t loop;
	char fast_url[128];

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(receiver_start(&rcv_fast, NULL), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	sk.c = http_client_new(&loop);
	slow.url = url_of(&rcv, "/");
	snprintf(fast_url, sizeof(fast_url), "%s", url_of(&rcv_fast, "/"));
	fast.url = fast_url;
	assert_int_equal(http_client_request(sk.c, &slow, selfkill_done, &sk), 0);
	assert_int_equal(http_client_request(sk.c, &slow, selfkill_done, &sk), 0);
	assert_int_equal(http_client_request(sk.c, &fast, selfkill_done, &sk), 0);
	run_until(&loop, &sk.calls, 3);
	assert_int_equal(sk.aborted, 2);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	receiver_stop(&rcv);
	receiver_stop(&rcv_fast);
}

static void test_parse_retry_after(void **state)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) */
	const time_t t = 784111777;

	assert_int_equal(http_parse_retry_after("120", t), 120000);
	assert_int_equal(http_parse_retry_after(" 0 ", t), 0);
	assert_int_equal(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 5), 5000);
	assert_int_equal(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t + 5), 0);
	assert_int_equal(http_parse_retry_after("12abc", t), -1);
	assert_int_equal(http_parse_retry_after("soon", t), -1);
	assert_int_equal(http_parse_retry_after("", t), -1);
}

static void test_header_validation(void **state)
{
	const struct http_header bad[] = { { "X-A", "ok\r\nX-Injected: 1" } };
	const struct http_header badname[] = { { "X A", "v" } };
	struct http_request req = { .method = "POST", .url = "http://127.0.0.1:1/" };
	struct http_client *c;
	struct result res = { 0 };
	uv_loop_t loop;

	assert_true(http_header_valid("X-Custom_1", "any value: with colons"));
	assert_true(http_header_valid("X-Empty", ""));
	assert_false(http_header_valid("", "v"));
	assert_false(http_header_valid("X:Y", "v"));
	assert_false(http_header_valid("X-A", "a\nb"));
	assert_false(http_header_valid("X-A", "a\rb"));

	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	req.headers = bad;
	req.n_headers = 1;
	assert_int_equal(http_client_request(c, &req, on_done, &res), -EINVAL);
	req.headers = badname;
	assert_int_equal(http_client_request(c, &req, on_done, &res), -EINVAL);
	req.n_headers = 0;
	req.bearer_token = "tok\nX-Injected: 1";
	assert_int_equal(http_client_request(c, &req, on_done, &res), -EINVAL);
	assert_int_equal(http_client_inflight(c), 0);
	assert_int_equal(res.calls, 0);
	finish(&loop, c);
}

static void test_status_policy(void **state)
{
	struct http_response r = { .retry_after_ms = 2000 };
	struct sink_status st;

	r.status = 204;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_OK);
	assert_int_equal(st.retry_after_ms, -1);
	r.status = 503;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_RETRY);
	assert_int_equal(st.retry_after_ms, 2000);
	r.status = 400;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_FAIL);
	r.status = 0;
	r.curl_code = CURLE_COULDNT_RESOLVE_HOST;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_RETRY);
	r.curl_code = CURLE_SSL_CONNECT_ERROR;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_RETRY);
	r.curl_code = CURLE_PEER_FAILED_VERIFICATION;
	http_response_status(&r, &st);
	assert_int_equal(st.result, SINK_FAIL);
}

/* Streaming (http_request.on_data): a 2xx body goes to on_data piece by piece, not kept. */
struct stream_res {
	struct result r; /* first: on_done reads it */
	size_t streamed, abort_after;
	int pieces;
	bool only_x;
};

static bool on_piece(void *data, const char *buf, size_t len)
{
	struct stream_res *s = data;

	s->pieces++;
	s->streamed += len;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 'x')
			s->only_x = false;
	return !s->abort_after || s->streamed < s->abort_after;
}

static void stream_one(const char *const *flags, struct stream_res *s)
{
	struct http_request req = { .method = "GET", .on_data = on_piece };
	struct receiver rcv;
	struct http_client *c;
	uv_loop_t loop;

	assert_int_equal(receiver_start(&rcv, flags), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	c = http_client_new(&loop);
	assert_non_null(c);
	req.url = url_of(&rcv, "/watch");
	s->only_x = true;
	assert_int_equal(http_client_request(c, &req, on_done, s), 0);
	run_until(&loop, &s->r.calls, 1);
	finish(&loop, c);
	receiver_stop(&rcv);
}

static void test_stream_body(void **state)
{
	static const char *const big[] = { "--response-bytes", "300000", NULL };
	static const char *const err[] = { "--status", "500", "--response-bytes", "1000", NULL };
	struct stream_res s = { .abort_after = 0 };

	(void)state;
	stream_one(big, &s);
	assert_int_equal(s.r.status, 200);
	assert_int_equal(s.r.curl_code, 0);
	assert_int_equal(s.streamed, 300000); /* every byte, beyond the 64 KiB kept otherwise */
	assert_true(s.pieces > 1);
	assert_true(s.only_x);
	assert_int_equal(s.r.body_len, 0);
	/* on_data false aborts the transfer */
	memset(&s, 0, sizeof(s));
	s.abort_after = 1;
	stream_one(big, &s);
	assert_int_equal(s.r.curl_code, CURLE_WRITE_ERROR);
	assert_true(s.streamed < 300000);
	/* a non-2xx body is kept for its message, not streamed */
	memset(&s, 0, sizeof(s));
	stream_one(err, &s);
	assert_int_equal(s.r.status, 500);
	assert_int_equal(s.streamed, 0);
	assert_int_equal(s.r.body_len, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_200),
		cmocka_unit_test(test_put_and_body_copied),
		cmocka_unit_test(test_delete_without_body),
		cmocka_unit_test(test_500_retry),
		cmocka_unit_test(test_429_retry_after_seconds),
		cmocka_unit_test(test_429_retry_after_date),
		cmocka_unit_test(test_4xx_fail_and_408_retry),
		cmocka_unit_test(test_connect_refused_retry),
		cmocka_unit_test(test_bad_url_fail),
		cmocka_unit_test(test_timeout_retry),
		cmocka_unit_test(test_response_body_capped),
		cmocka_unit_test(test_keepalive_reuse),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_many_requests),
		cmocka_unit_test(test_resolve_localhost),
		cmocka_unit_test(test_abort_on_free),
		cmocka_unit_test(test_free_from_callback),
		cmocka_unit_test(test_parse_retry_after),
		cmocka_unit_test(test_header_validation),
		cmocka_unit_test(test_status_policy),
		cmocka_unit_test(test_stream_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
