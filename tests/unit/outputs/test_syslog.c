// SPDX-License-Identifier: Apache-2.0
/*
 * The syslog sink: exact RFC 5424 / RFC 3164 / CEF strings for fixed alerts, and the transports
 * on a libuv loop against in-process receivers (tcp with octet counting and reconnect, udp,
 * unix datagram).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "outputs/syslog_format.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

/* Characters CEF must escape in the rule (header) and in extension values. */
static const char tricky[] =
	"{\"hostname\":\"node-1\",\"output\":\"12:50:34.502309868: Warning x=1|y\\\\z\\nnext\","
	"\"output_fields\":{\"fd.name\":\"/etc/shadow\",\"proc.tty\":34820,\"user.name\":null,"
	"\"a=b\":\"c\\\\d\"},\"priority\":\"Warning\",\"rule\":\"Read|sensitive\\\\file\","
	"\"source\":\"syscall\",\"tags\":[\"T1555\",\"filesystem\"],"
	"\"time\":\"2025-05-07T12:50:34.502309868Z\",\"uuid\":\"" UUID "\"}";

/* The Falcosidekick fixture of issue 5. */
static const char fixture[] =
	"{\"output\":\"This is a test from falcosidekick\",\"priority\":\"Debug\",\"rule\":\"Test "
	"rule\",\"time\":\"2001-01-01T01:10:00Z\",\"source\":\"syscalls\",\"output_fields\":{"
	"\"proc.name\":\"falcosidekick\",\"proc.tty\":1234},\"tags\":[\"test\",\"example\"],"
	"\"hostname\":\"test-host\",\"uuid\":\"" UUID "\"}";

static struct alert *parse(const char *body)
{
	struct alert_error err;
	struct alert *a = alert_parse(body, strlen(body), &err);

	if (!a)
		fail_msg("%s", err.msg);
	assert_int_equal(alert_freeze(a), 0);
	return a;
}

/* --- formatting ---------------------------------------------------------------------------- */

static void test_severities(void **state)
{
	static const int sev[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	static const int cef[] = { 10, 9, 8, 7, 6, 4, 3, 0 };

	for (int p = PRIORITY_EMERGENCY; p <= PRIORITY_DEBUG; p++) {
		assert_int_equal(syslog_severity((enum priority)p), sev[p]);
		assert_int_equal(syslog_cef_severity((enum priority)p), cef[p]);
	}
	assert_string_equal(syslog_facility_names[0], "kern");
	assert_string_equal(syslog_facility_names[1], "user");
	assert_string_equal(syslog_facility_names[16], "local0");
	assert_string_equal(syslog_facility_names[23], "local7");
	assert_null(syslog_facility_names[24]);
}

static void test_cef_fixture(void **state)
{
	struct alert *a = parse(fixture);
	size_t len;
	char *s = syslog_cef(a, &len);

	assert_string_equal(s, "CEF:0|Falcosecurity|Falco|1.0|Falco Event|Test rule|0|uuid=" UUID
			       " start=2001-01-01T01:10:00Z msg=This is a test from falcosidekick "
			       "source=syscalls hostname=test-host outputfields=proc.name:"
			       "falcosidekick proc.tty:1234 tags=example,test");
	assert_int_equal(len, strlen(s));
	free(s);
	alert_unref(a);
}

static void test_cef_escaping(void **state)
{
	struct alert *a = parse(tricky);
	char *s = syslog_cef(a, NULL);

	assert_string_equal(s, "CEF:0|Falcosecurity|Falco|1.0|Falco Event|Read\\|sensitive\\\\file|"
			       "6|uuid=" UUID " start=2025-05-07T12:50:34Z msg=12:50:34.502309868: "
			       "Warning x\\=1|y\\\\z\\nnext source=syscall hostname=node-1 "
			       "outputfields=a\\=b:c\\\\d fd.name:/etc/shadow proc.tty:34820 "
			       "user.name:<nil> tags=T1555,filesystem");
	free(s);
	alert_unref(a);
}

static void test_rfc5424(void **state)
{
	struct syslog_fmt f = { SYSLOG_RFC5424, SYSLOG_JSON, 16, "falco", 4242, "fallback" };
	struct alert *a = parse(tricky);
	size_t len, jlen;
	char *s = syslog_format(&f, a, &len);
	const char *json = alert_json(a, &jlen);
	const char head[] = "<132>1 2025-05-07T12:50:34.502309Z node-1 falco 4242 - - ";

	assert_int_equal(len, strlen(head) + jlen);
	assert_memory_equal(s, head, strlen(head));
	assert_memory_equal(s + strlen(head), json, jlen);
	free(s);

	/* CEF payload, facility kern, Debug: PRI 7. */
	alert_unref(a);
	a = parse(fixture);
	f.payload = SYSLOG_CEF;
	f.facility = 0;
	s = syslog_format(&f, a, &len);
	assert_string_equal(s, "<7>1 2001-01-01T01:10:00.000000Z test-host falco 4242 - - "
			       "CEF:0|Falcosecurity|Falco|1.0|Falco Event|Test rule|0|uuid=" UUID
			       " start=2001-01-01T01:10:00Z msg=This is a test from falcosidekick "
			       "source=syscalls hostname=test-host outputfields=proc.name:"
			       "falcosidekick proc.tty:1234 tags=example,test");
	free(s);
	alert_unref(a);
}

static void test_rfc3164(void **state)
{
	struct syslog_fmt f = { SYSLOG_RFC3164, SYSLOG_JSON, 16, "falco", 4242, "fallback" };
	struct alert *a = parse(tricky);
	size_t len, jlen;
	char *s;
	const char *json = alert_json(a, &jlen);
	const char head[] = "<132>May  7 12:50:34 node-1 falco[4242]: ";

	/* BSD syslog stamps local time. */
	setenv("TZ", "UTC", 1);
	tzset();
	s = syslog_format(&f, a, &len);
	assert_int_equal(len, strlen(head) + jlen);
	assert_memory_equal(s, head, strlen(head));
	assert_memory_equal(s + strlen(head), json, jlen);
	free(s);
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	s = syslog_format(&f, a, &len);
	assert_memory_equal(s, "<132>May  7 14:50:34 node-1 falco[4242]: ", strlen(head));
	free(s);
	setenv("TZ", "UTC", 1);
	tzset();
	alert_unref(a);
}

static void test_header_fields_are_sanitised(void **state)
{
	static const char body[] =
		"{\"priority\":\"Error\",\"rule\":\"r\",\"time\":\"2001-01-01T01:"
		"10:00Z\",\"output_fields\":{},\"uuid\":\"" UUID "\"}";
	struct syslog_fmt f = { SYSLOG_RFC5424, SYSLOG_CEF, 1, "my app", 7, NULL };
	struct alert *a = parse(body);
	char *s = syslog_format(&f, a, NULL);

	/* No hostname anywhere: "-"; spaces in APP-NAME are not allowed: '_'. */
	assert_string_equal(s,
			    "<11>1 2001-01-01T01:10:00.000000Z - my_app 7 - - CEF:0|Falcosecurity|"
			    "Falco|1.0|Falco Event|r|7|uuid=" UUID " start=2001-01-01T01:10:00Z "
			    "msg= source=syscalls outputfields=");
	free(s);
	alert_unref(a);
}

/* --- transports on a loop ------------------------------------------------------------------ */

struct harness {
	uv_loop_t loop;
	uv_timer_t tick;
	struct config *cfg;
	struct sink *s;
	int ok, retry, fail;
	char last[256];
	/* tcp receiver */
	uv_tcp_t server;
	uv_tcp_t *clients[4];
	int n_clients;
	char rx[65536];
	size_t rx_len;
	/* udp receiver */
	uv_udp_t udp;
	char dgram[8][4096];
	int n_dgram;
};

static void on_done(struct sink *s, void *token, const struct sink_status *st)
{
	struct harness *h = s->owner;

	if (st->result == SINK_OK)
		h->ok++;
	else if (st->result == SINK_RETRY)
		h->retry++;
	else
		h->fail++;
	snprintf(h->last, sizeof(h->last), "%s", st->msg);
}

static void on_tick(uv_timer_t *t)
{
}

static void harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(uv_loop_init(&h->loop), 0);
	uv_timer_init(&h->loop, &h->tick);
	h->cfg = config_new();
	assert_int_equal(config_declare(h->cfg, "syslog", syslog_sink_ops.options), 0);
}

static void harness_start(struct harness *h)
{
	struct sink_env env = { &h->loop, NULL, "test-host" };

	h->s = calloc(1, syslog_sink_ops.size);
	h->s->ops = &syslog_sink_ops;
	h->s->name = "syslog";
	h->s->loop = &h->loop;
	h->s->done = on_done;
	h->s->owner = h;
	assert_int_equal(syslog_sink_ops.init(h->s, h->cfg, &env), 0);
}

static void run_until(struct harness *h, bool (*pred)(struct harness *h), unsigned ms)
{
	uint64_t end = uv_now(&h->loop) + ms;

	uv_timer_start(&h->tick, on_tick, 5, 5);
	while (!pred(h) && uv_now(&h->loop) < end)
		uv_run(&h->loop, UV_RUN_ONCE);
	uv_timer_stop(&h->tick);
}

static void harness_close(struct harness *h)
{
	syslog_sink_ops.close(h->s);
	uv_close((uv_handle_t *)&h->tick, NULL);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&h->loop), 0);
	free(h->s);
	config_free(h->cfg);
}

static void set(struct harness *h, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(config_set(h->cfg, buf), 0);
}

static int n_done;
static bool done_n(struct harness *h)
{
	return h->ok + h->retry + h->fail >= n_done;
}

static void on_rx_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *buf)
{
	static char b[65536];

	*buf = uv_buf_init(b, sizeof(b));
}

static void on_rx(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct harness *h = st->data;

	if (n > 0) {
		assert_true(h->rx_len + (size_t)n <= sizeof(h->rx));
		memcpy(h->rx + h->rx_len, buf->base, (size_t)n);
		h->rx_len += (size_t)n;
	}
}

static void on_accept(uv_stream_t *server, int status)
{
	struct harness *h = server->data;
	uv_tcp_t *c = malloc(sizeof(*c));

	assert_int_equal(status, 0);
	uv_tcp_init(&h->loop, c);
	c->data = h;
	assert_int_equal(uv_accept(server, (uv_stream_t *)c), 0);
	uv_read_start((uv_stream_t *)c, on_rx_alloc, on_rx);
	h->clients[h->n_clients++] = c;
}

static void free_handle(uv_handle_t *hd)
{
	free(hd);
}

static int tcp_listen(struct harness *h)
{
	struct sockaddr_in sa;
	int len = sizeof(sa);

	uv_ip4_addr("127.0.0.1", 0, &sa);
	uv_tcp_init(&h->loop, &h->server);
	h->server.data = h;
	assert_int_equal(uv_tcp_bind(&h->server, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&h->server, 8, on_accept), 0);
	uv_tcp_getsockname(&h->server, (struct sockaddr *)&sa, &len);
	return ntohs(sa.sin_port);
}

/* Check that rx holds exactly n RFC 6587 octet-counted frames, each equal to want. */
static void assert_frames(struct harness *h, int n, const char *want, size_t wlen)
{
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		char *sp;
		unsigned long fl = strtoul(h->rx + off, &sp, 10);

		assert_int_equal(*sp, ' ');
		assert_int_equal(fl, wlen);
		assert_memory_equal(sp + 1, want, wlen);
		off = (size_t)(sp + 1 - h->rx) + fl;
	}
	assert_int_equal(off, h->rx_len);
}

/* The bytes of n octet-counted frames of wlen bytes each. */
static size_t frames_len(int n, size_t wlen)
{
	return (size_t)n * ((size_t)snprintf(NULL, 0, "%zu ", wlen) + wlen);
}

static size_t rx_want;

/* The receiver read rx_want bytes: a frame at a time on a loaded machine. */
static bool rx_has_want(struct harness *h)
{
	return h->rx_len >= rx_want;
}

static bool rx_frames_3(struct harness *h)
{
	return h->ok == 3 && h->n_clients == 1 && rx_has_want(h);
}

static bool rx_two_clients(struct harness *h)
{
	return h->ok + h->retry >= n_done && h->n_clients == 2;
}

static void test_tcp_octet_counting_and_reconnect(void **state)
{
	struct harness h;
	struct syslog_fmt f = { SYSLOG_RFC5424, SYSLOG_JSON, 16, "falco", (int)getpid(), NULL };
	struct alert *a = parse(tricky);
	char *want;
	size_t wlen;
	int port;

	harness_init(&h);
	port = tcp_listen(&h);
	set(&h, "syslog.host=127.0.0.1");
	set(&h, "syslog.port=%d", port);
	set(&h, "syslog.protocol=tcp");
	/* Reconnection alone: the replay after a lost connection has its own test. */
	set(&h, "syslog.tcpreplay=0");
	harness_start(&h);
	want = syslog_format(&f, a, &wlen);

	for (int i = 0; i < 3; i++)
		assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 3;
	rx_want = frames_len(3, wlen);
	run_until(&h, rx_frames_3, 10000);
	run_until(&h, done_n, 10000); /* let the receiver read everything */
	assert_int_equal(h.ok, 3);
	assert_int_equal(h.n_clients, 1); /* one connection for all */
	assert_frames(&h, 3, want, wlen);

	/* The collector goes away: the sink notices EOF and reconnects on the next send. */
	uv_close((uv_handle_t *)h.clients[0], free_handle);
	h.rx_len = 0;
	for (int i = 0; i < 30 && h.n_clients == 1; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	usleep(50000);
	uv_run(&h.loop, UV_RUN_NOWAIT);
	for (int i = 0; i < 2; i++)
		assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 5;
	run_until(&h, rx_two_clients, 10000);
	rx_want = frames_len(2, wlen);
	run_until(&h, rx_has_want, 10000);
	assert_int_equal(h.ok, 5);
	assert_int_equal(h.retry, 0);
	assert_int_equal(h.n_clients, 2);
	assert_frames(&h, 2, want, wlen);

	uv_close((uv_handle_t *)h.clients[1], free_handle);
	uv_close((uv_handle_t *)&h.server, NULL);
	harness_close(&h);
	free(want);
	alert_unref(a);
}

static bool second_conn_has_3(struct harness *h)
{
	return h->n_clients == 2 && rx_has_want(h);
}

static void test_tcp_reset_replays_the_window(void **state)
{
	struct harness h;
	struct syslog_fmt f = { SYSLOG_RFC5424, SYSLOG_JSON, 16, "falco", (int)getpid(), NULL };
	struct alert *a = parse(tricky);
	char *want;
	size_t wlen;
	int port;

	harness_init(&h);
	port = tcp_listen(&h);
	set(&h, "syslog.host=127.0.0.1");
	set(&h, "syslog.port=%d", port);
	harness_start(&h);
	want = syslog_format(&f, a, &wlen);
	for (int i = 0; i < 3; i++)
		assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 3;
	rx_want = frames_len(3, wlen);
	run_until(&h, rx_frames_3, 10000);
	run_until(&h, done_n, 10000);
	assert_int_equal(h.ok, 3);

	/*
	 * The collector resets the connection (as rsyslogd does when it exits with data unread):
	 * what was written in the replay window is written again on a new connection, unasked.
	 */
	h.rx_len = 0;
	uv_read_stop((uv_stream_t *)h.clients[0]);
	assert_int_equal(uv_tcp_close_reset(h.clients[0], free_handle), 0);
	rx_want = frames_len(3, wlen);
	run_until(&h, second_conn_has_3, 10000);
	for (int i = 0; i < 20; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_int_equal(h.n_clients, 2);
	assert_frames(&h, 3, want, wlen);
	assert_int_equal(h.ok, 3); /* the pipeline saw each alert once */

	uv_close((uv_handle_t *)h.clients[1], free_handle);
	uv_close((uv_handle_t *)&h.server, NULL);
	harness_close(&h);
	free(want);
	alert_unref(a);
}

static void test_tcp_refused_is_retry(void **state)
{
	struct harness h;
	struct alert *a = parse(tricky);
	int port;

	harness_init(&h);
	port = tcp_listen(&h);
	uv_close((uv_handle_t *)&h.server, NULL); /* nobody listens there any more */
	uv_run(&h.loop, UV_RUN_NOWAIT);
	set(&h, "syslog.host=127.0.0.1");
	set(&h, "syslog.port=%d", port);
	harness_start(&h);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 2;
	run_until(&h, done_n, 10000);
	assert_int_equal(h.retry, 2);
	assert_non_null(strstr(h.last, "connection refused"));
	harness_close(&h);
	alert_unref(a);
}

static void on_udp_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *buf)
{
	struct harness *h = hd->data;

	*buf = uv_buf_init(h->dgram[h->n_dgram % 8], sizeof(h->dgram[0]) - 1);
}

static void on_udp_rx(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		      unsigned flags)
{
	struct harness *h = u->data;

	if (n > 0) {
		buf->base[n] = '\0';
		h->n_dgram++;
	}
}

static bool udp_got_2(struct harness *h)
{
	return h->ok == 2 && h->n_dgram == 2;
}

static void test_udp_one_datagram_per_alert(void **state)
{
	struct harness h;
	struct syslog_fmt f = { SYSLOG_RFC3164, SYSLOG_CEF, 3, "falco", (int)getpid(), NULL };
	struct alert *a = parse(fixture);
	struct sockaddr_in sa;
	int len = sizeof(sa);
	char *want;

	harness_init(&h);
	uv_udp_init(&h.loop, &h.udp);
	h.udp.data = &h;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_udp_bind(&h.udp, (struct sockaddr *)&sa, 0), 0);
	uv_udp_getsockname(&h.udp, (struct sockaddr *)&sa, &len);
	uv_udp_recv_start(&h.udp, on_udp_alloc, on_udp_rx);
	set(&h, "syslog.host=127.0.0.1");
	set(&h, "syslog.port=%d", ntohs(sa.sin_port));
	set(&h, "syslog.protocol=udp");
	set(&h, "syslog.rfc=3164");
	set(&h, "syslog.format=cef");
	set(&h, "syslog.facility=daemon");
	harness_start(&h);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	run_until(&h, udp_got_2, 10000);
	assert_int_equal(h.ok, 2);
	assert_int_equal(h.n_dgram, 2);
	want = syslog_format(&f, a, NULL);
	assert_string_equal(h.dgram[0], want);
	assert_string_equal(h.dgram[1], want);
	assert_memory_equal(want, "<31>Jan  1 01:10:00 test-host falco[", 36);
	free(want);
	uv_close((uv_handle_t *)&h.udp, NULL);
	harness_close(&h);
	alert_unref(a);
}

static void test_unix_datagram(void **state)
{
	struct harness h;
	struct syslog_fmt f = { SYSLOG_RFC5424, SYSLOG_JSON, 16, "falco", (int)getpid(), NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct alert *a = parse(tricky);
	char path[] = "/tmp/lanner-syslog-XXXXXX", sock[64], buf[8192], *want;
	int fd;
	ssize_t n;

	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/log", path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

	harness_init(&h);
	set(&h, "syslog.host=%s", sock);
	set(&h, "syslog.protocol=unix");
	harness_start(&h);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 1;
	run_until(&h, done_n, 10000);
	assert_int_equal(h.ok, 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	want = syslog_format(&f, a, NULL);
	assert_string_equal(buf, want);
	free(want);

	/* The listener is gone: retry, and a new socket on the next send. */
	close(fd);
	unlink(sock);
	assert_int_equal(syslog_sink_ops.send(h.s, a, &h), 0);
	n_done = 2;
	run_until(&h, done_n, 10000);
	assert_int_equal(h.retry, 1);
	assert_non_null(strstr(h.last, sock));
	harness_close(&h);
	rmdir(path);
	alert_unref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severities),
		cmocka_unit_test(test_cef_fixture),
		cmocka_unit_test(test_cef_escaping),
		cmocka_unit_test(test_rfc5424),
		cmocka_unit_test(test_rfc3164),
		cmocka_unit_test(test_header_fields_are_sanitised),
		cmocka_unit_test(test_tcp_octet_counting_and_reconnect),
		cmocka_unit_test(test_tcp_reset_replays_the_window),
		cmocka_unit_test(test_tcp_refused_is_retry),
		cmocka_unit_test(test_udp_one_datagram_per_alert),
		cmocka_unit_test(test_unix_datagram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
