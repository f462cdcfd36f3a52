// SPDX-License-Identifier: Apache-2.0
/*
 * The `syslog` sink: RFC 5424 (default) or RFC 3164 messages carrying the alert's JSON or its
 * CEF line, over udp (one datagram per alert), tcp (RFC 6587 octet counting over ONE persistent
 * connection, reconnected on the next send after an error) or a local unix datagram socket
 * (/dev/log). All on the gateway loop: DNS through uv_getaddrinfo, connects and writes through
 * libuv, the unix socket non-blocking under a uv_poll.
 *
 * "Delivered" for syslog can only mean "handed to the kernel": a send is SINK_OK in its write
 * callback. Anything in flight when a connection fails comes back as SINK_RETRY, and the
 * pipeline's backoff paces the reconnects. The read side of a tcp connection is watched so that
 * a collector closing it (restart) is noticed before the next write, not after.
 *
 * Compatibility with Falcosidekick: same keys (host, port, protocol, format), the same default
 * protocol (tcp), tag "falco", the same CEF fields and severities. Falcosidekick dials a new
 * connection per alert and sends facility 0 (kern, it passes a bare severity to Go's
 * log/syslog); lanner keeps one connection and defaults to facility local0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/log.h"
#include "outputs/syslog_format.h"

/* --- formatting ----------------------------------------------------------------------------- */

const char *const syslog_facility_names[] = {
	"kern",	   "user",	   "mail",   "daemon",	 "auth",   "syslog", "lpr",
	"news",	   "uucp",	   "cron",   "authpriv", "ftp",	   "ntp",    "security",
	"console", "solaris-cron", "local0", "local1",	 "local2", "local3", "local4",
	"local5",  "local6",	   "local7", NULL,
};

int syslog_severity(enum priority p)
{
	/* Falco's eight priorities are syslog's eight severities, in the same order. */
	return p >= PRIORITY_EMERGENCY && p <= PRIORITY_DEBUG ? (int)p : 7;
}

int syslog_cef_severity(enum priority p)
{
	static const int sev[] = { 10, 9, 8, 7, 6, 4, 3, 0 };

	return p >= PRIORITY_EMERGENCY && p <= PRIORITY_DEBUG ? sev[p] : 0;
}

/* CEF escaping: header fields escape '|', extension values '='; both '\' and line breaks. */
static void put_cef(FILE *f, const char *s, size_t n, bool header)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (header && c == '|')
			fputs("\\|", f);
		else if (!header && c == '=')
			fputs("\\=", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else
			fputc(c, f);
	}
}

static void put_cef_str(FILE *f, const char *s, bool header)
{
	put_cef(f, s, strlen(s), header);
}

/* An output field's value as Falcosidekick prints it with %v (json.Number keeps its digits). */
static void put_cef_value(FILE *f, const json_t *v)
{
	char buf[64];

	if (json_is_string(v)) {
		put_cef(f, json_string_value(v), json_string_length(v), false);
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		fputs(buf, f);
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
		if (strtod(buf, NULL) != json_real_value(v))
			snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		fputs(buf, f);
	} else if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "true" : "false", f);
	} else if (json_is_null(v) || !v) {
		fputs("<nil>", f); /* Go's %v of a JSON null */
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

		if (s)
			put_cef_str(f, s, false);
		free(s);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_cef_line(FILE *f, const struct alert *a)
{
	const json_t *fields = alert_output_fields(a), *tags = alert_tags(a);
	const char *host = alert_hostname(a);
	size_t n = json_object_size(fields), i = 0;
	const char **keys = n ? calloc(n, sizeof(*keys)) : NULL;
	const char *key;
	json_t *v;

	fputs("CEF:0|Falcosecurity|Falco|1.0|Falco Event|", f);
	put_cef_str(f, alert_rule(a), true);
	fprintf(f, "|%d|uuid=", syslog_cef_severity(alert_priority(a)));
	put_cef_str(f, alert_uuid(a), false);
	/* start: RFC 3339 to the second, as Go's time.RFC3339 prints it. */
	fprintf(f, " start=%.19sZ msg=", alert_time_str(a));
	put_cef_str(f, alert_output(a), false);
	fputs(" source=", f);
	put_cef_str(f, alert_source(a), false);
	if (*host) {
		fputs(" hostname=", f);
		put_cef_str(f, host, false);
	}
	fputs(" outputfields=", f);
	json_object_foreach((json_t *)fields, key, v) {
		if (keys)
			keys[i++] = key;
	}
	if (keys)
		qsort(keys, i, sizeof(*keys), cmp_str);
	for (size_t j = 0; j < i; j++) {
		if (j)
			fputc(' ', f);
		put_cef_str(f, keys[j], false);
		fputc(':', f);
		put_cef_value(f, json_object_get(fields, keys[j]));
	}
	free(keys);
	if (json_array_size(tags)) {
		fputs(" tags=", f);
		for (size_t j = 0; j < json_array_size(tags); j++) {
			if (j)
				fputc(',', f);
			put_cef_str(f, json_string_value(json_array_get(tags, j)) ?: "", false);
		}
	}
}

char *syslog_cef(const struct alert *a, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	put_cef_line(f, a);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

/* A header field: printable US-ASCII without spaces (RFC 5424 PRINTUSASCII), or "-". */
static void put_header_field(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s && n < max; s++, n++)
		fputc(*s > 32 && *s < 127 ? *s : '_', f);
	if (!n)
		fputc('-', f);
}

char *syslog_format(const struct syslog_fmt *fmt, const struct alert *a, size_t *len)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const char *host = *alert_hostname(a) ? alert_hostname(a) : fmt->hostname;
	int pri = fmt->facility * 8 + syslog_severity(alert_priority(a));
	char *buf = NULL;
	size_t n = 0, jlen;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	if (fmt->rfc == SYSLOG_RFC5424) {
		/* TIME-SECFRAC has at most 6 digits: the alert's time to the microsecond. */
		fprintf(f, "<%d>1 %.26sZ ", pri, alert_time_str(a));
		put_header_field(f, host, 255);
		fputc(' ', f);
		put_header_field(f, fmt->appname, 48);
		fprintf(f, " %d - - ", fmt->pid);
	} else {
		time_t t = (time_t)(alert_time_ns(a) / 1000000000);
		struct tm tm;

		if (alert_time_ns(a) < 0 && alert_time_ns(a) % 1000000000)
			t--;
		localtime_r(&t, &tm);
		fprintf(f, "<%d>%s %2d %02d:%02d:%02d ", pri, months[tm.tm_mon % 12], tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
		put_header_field(f, host, 255);
		fputc(' ', f);
		put_header_field(f, fmt->appname, 32);
		fprintf(f, "[%d]: ", fmt->pid);
	}
	if (fmt->payload == SYSLOG_CEF) {
		put_cef_line(f, a);
	} else {
		const char *json = alert_json(a, &jlen);

		fwrite(json, 1, jlen, f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

/* --- the sink ------------------------------------------------------------------------------- */

enum proto { PROTO_UDP, PROTO_TCP, PROTO_UNIX, PROTO_TLS };

static const char *const proto_choices[] = { "udp", "tcp", "unix", "tls", NULL };
static const char *const format_choices[] = { "json", "cef", NULL };
static const char *const rfc_choices[] = { "5424", "3164", NULL };

struct syslog_settings {
	const char *host;
	int64_t port;
	int protocol;
	int format;
	int rfc;
	int facility;
	const char *appname;
	int64_t timeout_ms;
	int64_t replay_ms;
	const char *tls_ca;
	bool tls_checkcert;
};

static const struct config_option syslog_options[] = {
	{ "host", CONFIG_STRING, NULL, offsetof(struct syslog_settings, host), 0, 0, NULL, NULL,
	  "collector host (or the socket path, /dev/log, with protocol unix); enables the output" },
	{ "port", CONFIG_INT, "514", offsetof(struct syslog_settings, port), 1, 65535, NULL, NULL,
	  "collector port (udp and tcp)" },
	{ "protocol", CONFIG_ENUM, "tcp", offsetof(struct syslog_settings, protocol), 0, 0,
	  proto_choices, NULL,
	  "udp (one datagram per alert), tcp (octet-counted, one persistent connection; "
	  "Falcosidekick's default), tls (tcp in TLS, RFC 5425) or unix (local datagram "
	  "socket)" },
	{ "format", CONFIG_ENUM, "json", offsetof(struct syslog_settings, format), 0, 0,
	  format_choices, NULL, "payload: the alert's JSON, or a CEF line (Falcosidekick's)" },
	{ "rfc", CONFIG_ENUM, "5424", offsetof(struct syslog_settings, rfc), 0, 0, rfc_choices,
	  NULL, "message format: 5424, or 3164 (BSD, local time)" },
	{ "facility", CONFIG_ENUM, "local0", offsetof(struct syslog_settings, facility), 0, 0,
	  syslog_facility_names, NULL,
	  "facility (kern, user, daemon, auth, local0..local7, ...); Falcosidekick sends kern" },
	{ "appname", CONFIG_STRING, "falco", offsetof(struct syslog_settings, appname), 0, 0, NULL,
	  NULL, "APP-NAME / tag, \"falco\" as Falcosidekick writes it" },
	{ "timeout", CONFIG_DURATION, "10s", offsetof(struct syslog_settings, timeout_ms), 100,
	  3600000, NULL, NULL,
	  "a connect, or a write that makes no progress, failing after this long is retried" },
	{ "tcpreplay", CONFIG_DURATION, "1s", offsetof(struct syslog_settings, replay_ms), 0, 60000,
	  NULL, NULL,
	  "tcp: when the collector resets the connection (it closed with our data unread), "
	  "write again what was written this long before; duplicates possible, 0: off" },
	{ "tls.ca", CONFIG_STRING, NULL, offsetof(struct syslog_settings, tls_ca), 0, 0, NULL, NULL,
	  "tls: CA file (PEM) the collector's certificate must chain to (default: system store)" },
	{ "tls.checkcert", CONFIG_BOOL, "true", offsetof(struct syslog_settings, tls_checkcert), 0,
	  0, NULL, NULL, "tls: verify the collector's certificate and that it names syslog.host" },
	{ NULL },
};

struct syslog_sink;

/* One transport endpoint: a tcp connection, a connected udp socket, or a unix socket. */
struct conn {
	struct syslog_sink *s;
	union {
		uv_handle_t handle;
		uv_tcp_t tcp;
		uv_udp_t udp;
		uv_poll_t poll;
	} h;
	int fd; /* unix: the socket */
	bool up; /* connected, writes go straight out */
	bool dead; /* failed or closing: no new writes */
	bool reset; /* failed in a way that may have lost written data */
	unsigned refs; /* writes in flight + the sink's own pointer */
	uv_connect_t connect;
	uv_getaddrinfo_t resolve;
	bool resolving;
	bool handle_open;
	SSL *ssl; /* tls: over memory BIOs, bytes moved by uv_write / on_read */
	bool handshaking;
	struct wreq *waiting; /* written once connected (tcp, udp) or writable (unix) */
	struct wreq **waiting_tail;
	char errmsg[160];
};

/* One message from send() to its write callback. */
struct wreq {
	union {
		uv_write_t write;
		uv_udp_send_t udp;
	} req;
	struct conn *c;
	void *token;
	char *buf;
	size_t len;
	char *cbuf; /* tls: the record(s) actually written */
	uint64_t written_at; /* in the replay window: when its write completed */
	struct wreq *next;
};

/* A FIFO of written messages (token NULL). */
struct wlist {
	struct wreq *head, *tail;
	size_t n;
};

struct syslog_sink {
	struct sink base;
	struct syslog_settings set;
	struct syslog_fmt fmt;
	char port[8];
	struct conn *conn;
	uv_timer_t timer; /* connect / write progress timeout */
	unsigned inflight;
	bool closed;
	SSL_CTX *ssl_ctx;
	struct wlist recent; /* tcp: written within the replay window */
	struct wlist resend; /* tcp: to write again on the next connection */
};

/* Bound on what the replay window keeps, whatever the rate. */
#define REPLAY_MAX 10000

static void conn_fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_flush(struct conn *c);
static void on_unix_writable(uv_poll_t *h, int status, int events);
static void on_timeout(uv_timer_t *t);
static struct conn *conn_open(struct syslog_sink *s);
static int tls_take(struct conn *c, char **out, size_t *len);
static void tls_start(struct conn *c);
static void tls_input(struct conn *c, const char *data, size_t n);

static bool is_stream(const struct syslog_sink *s)
{
	return s->set.protocol == PROTO_TCP || s->set.protocol == PROTO_TLS;
}

static void wlist_push(struct wlist *l, struct wreq *w)
{
	w->next = NULL;
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	l->n++;
}

static struct wreq *wlist_pop(struct wlist *l)
{
	struct wreq *w = l->head;

	if (w) {
		l->head = w->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return w;
}

static void wreq_free(struct wreq *w)
{
	free(w->cbuf);
	free(w->buf);
	free(w);
}

static void wlist_clear(struct wlist *l)
{
	struct wreq *w;

	while ((w = wlist_pop(l)))
		wreq_free(w);
}

/*
 * A write finished. Messages of a send are reported to the pipeline; a written tcp message is
 * then kept for the replay window, and a replayed one that failed waits for the next connection.
 */
static void wreq_done(struct wreq *w, enum sink_result r, const char *msg)
{
	struct syslog_sink *s = w->c->s;
	bool keep = is_stream(s) && s->set.replay_ms > 0 && !s->closed && r != SINK_FAIL;
	void *token = w->token;

	w->token = NULL;
	free(w->cbuf); /* tls records are per connection: a replay encrypts again */
	w->cbuf = NULL;
	if (r == SINK_OK && keep) {
		uint64_t now = uv_now(s->base.loop);

		w->written_at = now;
		wlist_push(&s->recent, w);
		while (s->recent.head &&
		       (now - s->recent.head->written_at > (uint64_t)s->set.replay_ms ||
			s->recent.n > REPLAY_MAX))
			wreq_free(wlist_pop(&s->recent));
	} else if (r == SINK_RETRY && keep && !token && s->resend.n < REPLAY_MAX) {
		wlist_push(&s->resend, w);
	} else {
		wreq_free(w);
	}
	if (token) {
		struct sink_status st;

		if (r == SINK_OK)
			sink_status_set(&st, SINK_OK, "written");
		else
			sink_status_set(&st, r, "%s", msg);
		s->inflight--;
		sink_done(&s->base, token, &st);
	}
}

/*
 * Not inlined: with it inlined into callers that also run conn_fail() (which takes and drops its
 * own reference), GCC's -Wuse-after-free cannot follow the count and warns in Release builds.
 */
__attribute__((noinline)) static void conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		free(c);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (c->fd >= 0 && c->s->set.protocol == PROTO_UNIX)
		close(c->fd);
	SSL_free(c->ssl);
	conn_unref(c);
}

static void timer_update(struct syslog_sink *s)
{
	/* Restarted on every completion: it measures time without progress. */
	if (s->inflight && !s->closed)
		uv_timer_start(&s->timer, on_timeout, (uint64_t)s->set.timeout_ms,
			       (uint64_t)s->set.timeout_ms);
	else
		uv_timer_stop(&s->timer);
}

/*
 * The connection failed: fail what waits for it, close it (writes in flight come back through
 * their callbacks with UV_ECANCELED), and forget it so the next send starts a new one.
 */
static void conn_fail(struct conn *c, const char *fmt, ...)
{
	struct syslog_sink *s = c->s;
	va_list ap;

	bool was_up = c->up;

	if (c->dead)
		return;
	c->dead = true;
	c->up = false;
	c->refs++; /* hold c until the end */
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	if (was_up && !s->closed)
		log_warn("syslog: connection lost: %s", c->errmsg);
	/*
	 * Neither a reset nor a clean EOF tells what the collector read: a collector that stops
	 * (rsyslogd restarting) may close with our last writes unread, or still in flight. What
	 * was written in the replay window goes out again: at least once, never lost.
	 */
	if (was_up && s->recent.n && !s->closed) {
		log_warn("syslog: writing the last %zu message(s) again on the next connection",
			 s->recent.n);
		while (s->recent.head)
			wlist_push(&s->resend, wlist_pop(&s->recent));
	} else if (was_up) {
		wlist_clear(&s->recent);
	}
	if (s->conn == c) {
		s->conn = NULL;
		c->refs--;
	}
	while (c->waiting) {
		struct wreq *w = c->waiting;

		c->waiting = w->next;
		if (!c->waiting)
			c->waiting_tail = &c->waiting;
		wreq_done(w, SINK_RETRY, c->errmsg);
		c->refs--;
	}
	if (c->resolving)
		uv_cancel((uv_req_t *)&c->resolve);
	if (c->handle_open && !uv_is_closing(&c->h.handle)) {
		if (is_stream(s))
			uv_read_stop((uv_stream_t *)&c->h.tcp);
		uv_close(&c->h.handle, on_conn_closed);
	}
	conn_unref(c);
	/* Replay without waiting for the next alert; if the collector is still down, the next
	 * send tries again. */
	if (s->resend.n && was_up && !s->closed && !s->conn)
		conn_open(s);
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct conn *c = w->c;

	if (status) {
		char msg[200];

		snprintf(msg, sizeof(msg), "tcp %s:%s: %s", c->s->set.host, c->s->port,
			 status == UV_ECANCELED && *c->errmsg ? c->errmsg : uv_strerror(status));
		if (status != UV_ECANCELED)
			c->reset = true;
		wreq_done(w, SINK_RETRY, msg);
		conn_fail(c, "tcp %s:%s: %s", c->s->set.host, c->s->port, uv_strerror(status));
	} else {
		wreq_done(w, SINK_OK, NULL);
	}
	timer_update(c->s);
	conn_unref(c);
}

static void on_udp_send(uv_udp_send_t *req, int status)
{
	struct wreq *w = req->data;
	struct conn *c = w->c;

	if (status) {
		char msg[200];

		snprintf(msg, sizeof(msg), "udp %s:%s: %s", c->s->set.host, c->s->port,
			 uv_strerror(status));
		wreq_done(w, SINK_RETRY, msg);
		conn_fail(c, "%s", msg);
	} else {
		wreq_done(w, SINK_OK, NULL);
	}
	timer_update(c->s);
	conn_unref(c);
}

/* --- tls: OpenSSL over memory BIOs, the bytes carried by the uv_tcp stream ------------------ */

/* Move what OpenSSL wants to send out of its write BIO into a fresh buffer. */
static int tls_take(struct conn *c, char **out, size_t *len)
{
	BIO *wbio = SSL_get_wbio(c->ssl);
	size_t n = (size_t)BIO_ctrl_pending(wbio);

	*out = NULL;
	*len = 0;
	if (!n)
		return 0;
	*out = malloc(n);
	if (!*out)
		return UV_ENOMEM;
	if (BIO_read(wbio, *out, (int)n) != (int)n) {
		free(*out);
		*out = NULL;
		return UV_EPROTO;
	}
	*len = n;
	return 0;
}

struct rawwrite {
	uv_write_t req;
	struct conn *c;
	char *buf;
};

static void on_raw_write(uv_write_t *req, int status)
{
	struct rawwrite *r = req->data;
	struct conn *c = r->c;

	if (status && status != UV_ECANCELED) {
		c->reset = true;
		conn_fail(c, "tls %s:%s: %s", c->s->set.host, c->s->port, uv_strerror(status));
	}
	free(r->buf);
	free(r);
	conn_unref(c);
}

/* Handshake and protocol records, written on nobody's behalf. */
static void tls_flush(struct conn *c)
{
	struct rawwrite *r;
	uv_buf_t b;
	size_t n;
	char *buf;
	int err = tls_take(c, &buf, &n);

	if (!err && !n)
		return;
	r = err ? NULL : malloc(sizeof(*r));
	if (!r) {
		free(buf);
		conn_fail(c, "tls %s:%s: %s", c->s->set.host, c->s->port,
			  uv_strerror(err ? err : UV_ENOMEM));
		return;
	}
	r->c = c;
	r->buf = buf;
	r->req.data = r;
	c->refs++;
	b = uv_buf_init(buf, (unsigned)n);
	err = uv_write(&r->req, (uv_stream_t *)&c->h.tcp, &b, 1, on_raw_write);
	if (err) {
		free(buf);
		free(r);
		conn_fail(c, "tls %s:%s: %s", c->s->set.host, c->s->port, uv_strerror(err));
		conn_unref(c);
	}
}

static void tls_error(struct conn *c, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	long v = SSL_get_verify_result(c->ssl);

	if (v != X509_V_OK)
		snprintf(buf, sizeof(buf), "certificate: %s", X509_verify_cert_error_string(v));
	else if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "protocol error");
	ERR_clear_error();
	conn_fail(c, "tls %s:%s: %s: %s", c->s->set.host, c->s->port, what, buf);
}

static void tls_handshake(struct conn *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (rc == 1) {
		c->handshaking = false;
		c->up = true;
		log_info("syslog: connected to %s:%s over tls (%s)", c->s->set.host, c->s->port,
			 SSL_get_version(c->ssl));
		tls_flush(c);
		conn_flush(c);
		return;
	}
	if (SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_READ) {
		tls_flush(c);
		return;
	}
	tls_flush(c); /* an alert for the collector, if any */
	tls_error(c, "handshake");
}

static bool is_ip_literal(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static void tls_start(struct conn *c)
{
	struct syslog_sink *s = c->s;
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());

	c->ssl = SSL_new(s->ssl_ctx);
	if (!c->ssl || !rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		conn_fail(c, "tls %s:%s: out of memory", s->set.host, s->port);
		return;
	}
	SSL_set_bio(c->ssl, rbio, wbio); /* takes both */
	SSL_set_connect_state(c->ssl);
	if (is_ip_literal(s->set.host)) {
		/* No SNI for an address (RFC 6066); the certificate must carry it as an IP SAN. */
		if (s->set.tls_checkcert)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), s->set.host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, s->set.host);
		if (s->set.tls_checkcert)
			SSL_set1_host(c->ssl, s->set.host);
	}
	c->handshaking = true;
	c->refs++;
	tls_handshake(c);
	conn_unref(c);
}

/* Bytes from the collector: handshake, then only alerts and close_notify are expected. */
static void tls_input(struct conn *c, const char *data, size_t n)
{
	char sink_buf[512];
	int rc;

	c->refs++;
	if (BIO_write(SSL_get_rbio(c->ssl), data, (int)n) != (int)n) {
		conn_fail(c, "tls %s:%s: out of memory", c->s->set.host, c->s->port);
		goto out;
	}
	if (c->handshaking) {
		tls_handshake(c);
		if (c->handshaking || c->dead)
			goto out;
	}
	while ((rc = SSL_read(c->ssl, sink_buf, sizeof(sink_buf))) > 0)
		;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		tls_flush(c);
		break;
	case SSL_ERROR_ZERO_RETURN:
		conn_fail(c, "tls %s:%s: connection closed by the collector", c->s->set.host,
			  c->s->port);
		break;
	default:
		c->reset = true;
		tls_error(c, "read");
		break;
	}
out:
	conn_unref(c);
}

/* The collector never talks; EOF or an error on the read side means the connection is gone. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char sink_buf[512];

	*buf = uv_buf_init(sink_buf, sizeof(sink_buf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (nread > 0 && c->ssl) {
		tls_input(c, buf->base, (size_t)nread);
		return;
	}
	if (nread < 0) {
		c->reset = nread != UV_EOF;
		conn_fail(c, "tcp %s:%s: %s", c->s->set.host, c->s->port,
			  nread == UV_EOF ? "connection closed by the collector" :
					    uv_strerror((int)nread));
	}
}

/* Write one message now (tcp, udp) or try to (unix). */
static void conn_write(struct conn *c, struct wreq *w)
{
	struct syslog_sink *s = c->s;
	uv_buf_t b = uv_buf_init(w->buf, (unsigned)w->len);
	int err;

	if (s->set.protocol == PROTO_TLS) {
		/* Memory BIOs: SSL_write always takes it all; the records wait in wbio. */
		size_t n = 0;

		err = SSL_write(c->ssl, w->buf, (int)w->len) == (int)w->len ? 0 : UV_EPROTO;
		if (!err)
			err = tls_take(c, &w->cbuf, &n);
		b = uv_buf_init(w->cbuf, (unsigned)n);
		w->req.write.data = w;
		if (!err)
			err = uv_write(&w->req.write, (uv_stream_t *)&c->h.tcp, &b, 1, on_write);
	} else if (s->set.protocol == PROTO_TCP) {
		w->req.write.data = w;
		err = uv_write(&w->req.write, (uv_stream_t *)&c->h.tcp, &b, 1, on_write);
	} else {
		w->req.udp.data = w;
		err = uv_udp_send(&w->req.udp, &c->h.udp, &b, 1, NULL, on_udp_send);
	}
	if (err) {
		char msg[200];

		snprintf(msg, sizeof(msg), "%s %s:%s: %s", proto_choices[s->set.protocol],
			 s->set.host, s->port, uv_strerror(err));
		wreq_done(w, SINK_RETRY, msg);
		conn_fail(c, "%s", msg);
		conn_unref(c);
	}
}

/* unix datagram: non-blocking send(); on EAGAIN wait for the socket to be writable. */
static void unix_pump(struct conn *c)
{
	while (c->waiting && !c->dead) {
		struct wreq *w = c->waiting;
		ssize_t n = send(c->fd, w->buf, w->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uv_poll_start(&c->h.poll, UV_WRITABLE, on_unix_writable);
			return;
		}
		c->waiting = w->next;
		if (!c->waiting)
			c->waiting_tail = &c->waiting;
		if (n < 0) {
			int e = errno;
			char msg[200];

			snprintf(msg, sizeof(msg), "unix %s: %s", c->s->set.host, strerror(e));
			wreq_done(w, e == EMSGSIZE ? SINK_FAIL : SINK_RETRY, msg);
			conn_unref(c);
			if (e != EMSGSIZE)
				conn_fail(c, "%s", msg);
			continue;
		}
		wreq_done(w, SINK_OK, NULL);
		conn_unref(c);
	}
	if (c->handle_open && !c->dead)
		uv_poll_stop(&c->h.poll);
}

static void on_unix_writable(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;

	if (status < 0) {
		conn_fail(c, "unix %s: %s", c->s->set.host, uv_strerror(status));
		return;
	}
	c->refs++;
	unix_pump(c);
	timer_update(c->s);
	conn_unref(c);
}

static void conn_flush(struct conn *c)
{
	struct syslog_sink *s = c->s;

	c->refs++;
	/* What a reset may have lost goes first, in its order. */
	while (s->resend.head && c->up && !c->dead) {
		struct wreq *w = wlist_pop(&s->resend);

		w->c = c;
		c->refs++;
		conn_write(c, w);
	}
	while (c->waiting && c->up && !c->dead) {
		struct wreq *w = c->waiting;

		c->waiting = w->next;
		if (!c->waiting)
			c->waiting_tail = &c->waiting;
		conn_write(c, w);
	}
	conn_unref(c);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (c->dead) {
		conn_unref(c);
		return;
	}
	if (status) {
		conn_fail(c, "tcp connect %s:%s: %s", c->s->set.host, c->s->port,
			  uv_strerror(status));
		conn_unref(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->h.tcp, on_alloc, on_read);
	if (c->s->set.protocol == PROTO_TLS) {
		tls_start(c);
		conn_unref(c);
		return;
	}
	c->up = true;
	log_info("syslog: connected to %s:%s over tcp", c->s->set.host, c->s->port);
	conn_flush(c);
	conn_unref(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct conn *c = req->data;
	struct syslog_sink *s = c->s;
	int err;

	c->resolving = false;
	if (c->dead || status) {
		if (!c->dead)
			conn_fail(c, "%s %s: %s", proto_choices[s->set.protocol], s->set.host,
				  uv_strerror(status));
		uv_freeaddrinfo(res);
		conn_unref(c);
		return;
	}
	if (is_stream(s)) {
		err = uv_tcp_init(s->base.loop, &c->h.tcp);
		if (!err) {
			c->handle_open = true;
			c->refs++; /* released in on_conn_closed */
			c->h.tcp.data = c;
			uv_tcp_nodelay(&c->h.tcp, 1);
			c->connect.data = c;
			c->refs++;
			err = uv_tcp_connect(&c->connect, &c->h.tcp, res->ai_addr, on_connect);
			if (err)
				c->refs--;
		}
	} else {
		err = uv_udp_init(s->base.loop, &c->h.udp);
		if (!err) {
			c->handle_open = true;
			c->refs++; /* released in on_conn_closed */
			c->h.udp.data = c;
			/* Connected: an ICMP port unreachable comes back as ECONNREFUSED. */
			err = uv_udp_connect(&c->h.udp, res->ai_addr);
			if (!err)
				c->up = true;
		}
	}
	uv_freeaddrinfo(res);
	if (err)
		conn_fail(c, "%s %s:%s: %s", proto_choices[s->set.protocol], s->set.host, s->port,
			  uv_strerror(err));
	else if (c->up)
		conn_flush(c);
	conn_unref(c);
}

static struct conn *conn_open(struct syslog_sink *s)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct addrinfo hints = { .ai_family = AF_UNSPEC };
	int err;

	if (!c)
		return NULL;
	c->s = s;
	c->fd = -1;
	c->refs = 1; /* s->conn */
	c->waiting_tail = &c->waiting;
	s->conn = c;
	if (s->set.protocol == PROTO_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			err = errno;
			conn_fail(c, "unix %s: %s", s->set.host, strerror(err));
			return NULL;
		}
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->set.host);
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			err = errno;
			close(c->fd);
			c->fd = -1;
			conn_fail(c, "unix %s: %s", s->set.host, strerror(err));
			return NULL;
		}
		err = uv_poll_init(s->base.loop, &c->h.poll, c->fd);
		if (err) {
			close(c->fd);
			c->fd = -1;
			conn_fail(c, "unix %s: %s", s->set.host, uv_strerror(err));
			return NULL;
		}
		c->h.poll.data = c;
		c->handle_open = true;
		c->refs++; /* released in on_conn_closed */
		c->up = true;
		return c;
	}
	hints.ai_socktype = is_stream(s) ? SOCK_STREAM : SOCK_DGRAM;
	c->resolve.data = c;
	c->resolving = true;
	c->refs++;
	err = uv_getaddrinfo(s->base.loop, &c->resolve, on_resolved, s->set.host, s->port, &hints);
	if (err) {
		c->resolving = false;
		c->refs--;
		conn_fail(c, "%s %s: %s", proto_choices[s->set.protocol], s->set.host,
			  uv_strerror(err));
		return NULL;
	}
	return c;
}

static void on_timeout(uv_timer_t *t)
{
	struct syslog_sink *s = t->data;

	if (!s->conn)
		return;
	s->conn->reset = true; /* what was written may be stuck, or lost */
	conn_fail(s->conn, "%s %s:%s: no progress in %" PRId64 " ms",
		  proto_choices[s->set.protocol], s->set.host, s->port, s->set.timeout_ms);
}

static int syslog_send(struct sink *base, struct alert *a, void *token)
{
	struct syslog_sink *s = (struct syslog_sink *)base;
	struct wreq *w = calloc(1, sizeof(*w));
	struct conn *c;
	char *msg;
	size_t len;

	if (!w)
		return -ENOMEM;
	msg = syslog_format(&s->fmt, a, &len);
	if (!msg) {
		free(w);
		return -ENOMEM;
	}
	w->token = token;
	if (is_stream(s)) {
		/* RFC 6587 (and RFC 5425 in TLS) octet counting: "LEN SP MSG". */
		int hl = snprintf(NULL, 0, "%zu ", len);

		w->buf = malloc(len + (size_t)hl + 1);
		if (!w->buf) {
			free(msg);
			free(w);
			return -ENOMEM;
		}
		snprintf(w->buf, (size_t)hl + 1, "%zu ", len);
		memcpy(w->buf + hl, msg, len);
		w->len = len + (size_t)hl;
		free(msg);
	} else {
		w->buf = msg;
		w->len = len;
	}
	s->inflight++;
	if (s->set.protocol == PROTO_UDP && w->len > 65507) {
		w->c = &(struct conn){ .s = s };
		wreq_done(w, SINK_FAIL, "message too large for one udp datagram");
		return 0;
	}
	c = s->conn ? s->conn : conn_open(s);
	if (!c) {
		/* conn_open reported why; fail this one the same way. */
		w->c = &(struct conn){ .s = s };
		wreq_done(w, SINK_RETRY, "syslog: cannot open the connection");
		return 0;
	}
	w->c = c;
	c->refs++;
	if (!uv_is_active((uv_handle_t *)&s->timer))
		timer_update(s);
	if (s->set.protocol == PROTO_UNIX) {
		*c->waiting_tail = w;
		c->waiting_tail = &w->next;
		c->refs++;
		unix_pump(c);
		timer_update(s);
		conn_unref(c);
	} else if (c->up) {
		conn_write(c, w);
	} else {
		*c->waiting_tail = w;
		c->waiting_tail = &w->next;
	}
	return 0;
}

static int syslog_init(struct sink *base, struct config *cfg, const struct sink_env *env)
{
	struct syslog_sink *s = (struct syslog_sink *)base;
	int err;

	err = config_bind(cfg, "syslog", syslog_options, &s->set);
	if (err)
		return err;
	if (s->set.protocol == PROTO_UNIX &&
	    strlen(s->set.host) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error("syslog.host: socket path too long: %s", s->set.host);
		return -EINVAL;
	}
	snprintf(s->port, sizeof(s->port), "%d", (int)s->set.port);
	if (s->set.protocol == PROTO_TLS) {
		s->ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (!s->ssl_ctx)
			return -ENOMEM;
		SSL_CTX_set_min_proto_version(s->ssl_ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(s->ssl_ctx,
				   s->set.tls_checkcert ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
		if (s->set.tls_ca ?
			    !SSL_CTX_load_verify_locations(s->ssl_ctx, s->set.tls_ca, NULL) :
			    !SSL_CTX_set_default_verify_paths(s->ssl_ctx)) {
			char buf[256];

			ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
			log_error("syslog.tls.ca: cannot load %s: %s",
				  s->set.tls_ca ? s->set.tls_ca : "the system CA store", buf);
			SSL_CTX_free(s->ssl_ctx);
			s->ssl_ctx = NULL;
			return -EINVAL;
		}
	}
	s->fmt.rfc = s->set.rfc == 1 ? SYSLOG_RFC3164 : SYSLOG_RFC5424;
	s->fmt.payload = s->set.format == 1 ? SYSLOG_CEF : SYSLOG_JSON;
	s->fmt.facility = s->set.facility;
	s->fmt.appname = s->set.appname ? s->set.appname : "falco";
	s->fmt.pid = (int)getpid();
	s->fmt.hostname = env->hostname;
	uv_timer_init(base->loop, &s->timer);
	s->timer.data = s;
	if (s->set.protocol == PROTO_UNIX)
		log_info("syslog: RFC %s %s messages to unix socket %s", rfc_choices[s->set.rfc],
			 format_choices[s->set.format], s->set.host);
	else
		log_info("syslog: RFC %s %s messages to %s:%s over %s", rfc_choices[s->set.rfc],
			 format_choices[s->set.format], s->set.host, s->port,
			 proto_choices[s->set.protocol]);
	return 0;
}

static void syslog_close(struct sink *base)
{
	struct syslog_sink *s = (struct syslog_sink *)base;

	if (s->closed)
		return;
	s->closed = true;
	/* Writes in flight come back through their callbacks as the handle closes. */
	if (s->conn)
		conn_fail(s->conn, "syslog: closed at shutdown");
	if (s->resend.n)
		log_warn(
			"syslog: %zu message(s) to write again after a reset abandoned at shutdown",
			s->resend.n);
	wlist_clear(&s->resend);
	wlist_clear(&s->recent);
	SSL_CTX_free(s->ssl_ctx); /* connections still closing hold their own reference */
	s->ssl_ctx = NULL;
	uv_close((uv_handle_t *)&s->timer, NULL);
}

const struct sink_ops syslog_sink_ops = {
	.name = "syslog",
	.size = sizeof(struct syslog_sink),
	.options = syslog_options,
	.enable_key = "syslog.host",
	.init = syslog_init,
	.send = syslog_send,
	.close = syslog_close,
};
