// SPDX-License-Identifier: Apache-2.0
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config/strbuf.h"
#include "outputs/alert.h"

struct alert {
	atomic_int refcnt;
	bool frozen;
	bool test;
	enum priority priority;
	int64_t time_ns;
	char *rule;
	char *source;
	char *output;
	char *hostname;
	json_t *output_fields;
	json_t *tags;
	char *json;
	size_t json_len;
	char time_str[40];
	char uuid[ALERT_UUID_LEN + 1];
};

/*
 * Random bytes for uuids, refilled 4 KiB at a time: one getrandom() per 256 alerts instead of
 * one per alert. Per thread, so the detector and the gateway never share it.
 */
static void random_bytes(uint8_t *out, size_t n)
{
	static _Thread_local uint8_t pool[4096];
	static _Thread_local size_t left;

	if (left < n) {
		size_t got = 0;

		while (got < sizeof(pool)) {
			ssize_t r = getrandom(pool + got, sizeof(pool) - got, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* Cannot happen on Linux >= 3.17 with a valid buffer; stay safe. */
				for (; got < sizeof(pool); got++)
					pool[got] = (uint8_t)rand();
				break;
			}
			got += (size_t)r;
		}
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	left -= n;
}

void alert_uuid_generate(char *buf)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	char *p = buf;

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != ALERT_UUID_LEN)
		return false;
	for (int i = 0; i < ALERT_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/* Once per alert: digits by hand, not gmtime_r and snprintf (a lock and a format parser). */
void alert_format_time(int64_t time_ns, char *buf, size_t len)
{
	int64_t secs = time_ns / 1000000000, days, year;
	long nsec = (long)(time_ns % 1000000000);
	char text[sizeof("YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ")], *p = text;
	int mon, mday, sod;

	if (!len)
		return;
	if (nsec < 0) {
		nsec += 1000000000;
		secs--;
	}
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = (int)(secs - days * 86400);
	civil_from_days(days, &year, &mon, &mday);
	/* int64_t nanoseconds span 1677-2262: the year has four digits */
	p = put_digits(p, (unsigned)year, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)mon, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(sod / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(sod / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(sod % 60), 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)nsec, 9);
	*p++ = 'Z';
	/* truncated to len, as snprintf would */
	len = len - 1 < (size_t)(p - text) ? len - 1 : (size_t)(p - text);
	memcpy(buf, text, len);
	buf[len] = '\0';
}

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

static int days_in_month(int year, int mon)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon - 1] + (mon == 2 && leap);
}

/* Arithmetic, not timegm(): the same seconds without the time zone machinery. */
int alert_parse_time(const char *s, int64_t *time_ns)
{
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0;
	int64_t frac = 0, offset = 0, secs;
	const char *p = s;

	if (parse_digits(&p, 4, &year) || expect(&p, '-') || parse_digits(&p, 2, &mon) ||
	    expect(&p, '-') || parse_digits(&p, 2, &day))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (parse_digits(&p, 2, &hour) || expect(&p, ':') || parse_digits(&p, 2, &min) ||
	    expect(&p, ':') || parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		int digits = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			/* Keep nanoseconds; further digits are below Falco's resolution. */
			if (digits < 9) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (!digits)
			return -EINVAL;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;

		p++;
		if (parse_digits(&p, 2, &off_h) || expect(&p, ':') || parse_digits(&p, 2, &off_m) ||
		    off_h > 23 || off_m > 59)
			return -EINVAL;
		offset = sign * ((int64_t)off_h * 3600 + off_m * 60);
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	/* Dates that do not exist (31 February); a leap second may not roll over the day. */
	if (day > days_in_month(year, mon) || (sec == 60 && hour == 23 && min == 59))
		return -EINVAL;
	secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	*time_ns = (secs - offset) * 1000000000 + frac;
	return 0;
}

static int tag_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	return strcmp(json_string_value(x), json_string_value(y));
}

/* Sort and deduplicate a tags array in place. */
static int tags_normalise(json_t *tags)
{
	size_t n = json_array_size(tags);
	json_t **v, *sorted;
	int err = 0;

	if (n < 2)
		return 0;
	/* Falco sends its tags sorted: nothing to do then. */
	for (size_t i = 1; i < n; i++) {
		if (strcmp(json_string_value(json_array_get(tags, i - 1)),
			   json_string_value(json_array_get(tags, i))) >= 0)
			break;
		if (i == n - 1)
			return 0;
	}
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(tags, i));
	qsort(v, n, sizeof(*v), tag_cmp);
	sorted = json_array();
	if (!sorted) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(json_string_value(v[i]), json_string_value(v[i - 1])))
			continue;
		if (json_array_append(sorted, v[i])) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (json_array_clear(tags) || json_array_extend(tags, sorted))
		err = -ENOMEM;
out:
	json_decref(sorted);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	return err;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

struct alert *alert_new(const struct alert_init *init)
{
	struct alert *a = calloc(1, sizeof(*a));

	if (!a)
		goto err_steal;
	atomic_init(&a->refcnt, 1);
	a->test = init->test;
	a->priority = init->priority;
	a->time_ns = init->time_ns;
	a->rule = dup_or_empty(init->rule);
	a->source = dup_or_empty(init->source);
	a->output = dup_or_empty(init->output);
	a->hostname = dup_or_empty(init->hostname);
	a->output_fields = init->output_fields ? init->output_fields : json_object();
	a->tags = init->tags ? init->tags : json_array();
	if (!a->rule || !a->source || !a->output || !a->hostname || !a->output_fields || !a->tags)
		goto err_free;
	if (tags_normalise(a->tags))
		goto err_free;
	if (init->uuid && uuid_valid(init->uuid))
		memcpy(a->uuid, init->uuid, sizeof(a->uuid));
	else
		alert_uuid_generate(a->uuid);
	alert_format_time(a->time_ns, a->time_str, sizeof(a->time_str));
	return a;

err_steal:
	/* The init's JSON references are stolen even on failure (jansson _new convention). */
	json_decref(init->output_fields);
	json_decref(init->tags);
	errno = ENOMEM;
	return NULL;
err_free:
	alert_unref(a);
	errno = ENOMEM;
	return NULL;
}

/* Fill err with "field: reason". */
static void parse_fail(struct alert_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void parse_fail(struct alert_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	err->field = field;
	err->line = 0;
	err->column = 0;
	n = snprintf(err->msg, sizeof(err->msg), "%s: ", field);
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	errno = EINVAL;
}

/* Optional string member: NULL when absent, error when present with another type. */
static int get_string(json_t *root, const char *key, const char **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = json_string_value(v);
	return 0;
}

struct alert *alert_parse(const char *buf, size_t len, struct alert_error *err)
{
	const char *rule, *prio, *time_s, *output, *source, *hostname, *uuid;
	struct alert_init init = { 0 };
	json_t *root, *fields, *tags;
	struct alert *a = NULL;
	json_error_t jerr;

	memset(err, 0, sizeof(*err));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err->line = jerr.line;
		err->column = jerr.column;
		snprintf(err->msg, sizeof(err->msg), "invalid JSON at line %d, column %d: %.160s",
			 jerr.line, jerr.column, jerr.text);
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		parse_fail(err, "(body)", "expected a JSON object");
		goto out;
	}
	if (get_string(root, "priority", &prio)) {
		parse_fail(err, "priority", "expected a string");
		goto out;
	}
	if (!prio) {
		parse_fail(err, "priority", "missing");
		goto out;
	}
	if (priority_parse(prio, &init.priority)) {
		parse_fail(err, "priority", "unknown priority '%.64s'", prio);
		goto out;
	}
	if (get_string(root, "rule", &rule)) {
		parse_fail(err, "rule", "expected a string");
		goto out;
	}
	if (!rule || !*rule) {
		parse_fail(err, "rule", "missing or empty");
		goto out;
	}
	if (get_string(root, "time", &time_s)) {
		parse_fail(err, "time", "expected an RFC 3339 string");
		goto out;
	}
	if (!time_s) {
		parse_fail(err, "time", "missing");
		goto out;
	}
	if (alert_parse_time(time_s, &init.time_ns)) {
		parse_fail(err, "time", "not an RFC 3339 time: '%.64s'", time_s);
		goto out;
	}
	fields = json_object_get(root, "output_fields");
	if (!fields) {
		parse_fail(err, "output_fields", "missing");
		goto out;
	}
	if (!json_is_object(fields)) {
		parse_fail(err, "output_fields", "expected an object");
		goto out;
	}
	if (get_string(root, "output", &output)) {
		parse_fail(err, "output", "expected a string");
		goto out;
	}
	if (get_string(root, "source", &source)) {
		parse_fail(err, "source", "expected a string");
		goto out;
	}
	if (get_string(root, "hostname", &hostname)) {
		parse_fail(err, "hostname", "expected a string");
		goto out;
	}
	if (get_string(root, "uuid", &uuid)) {
		parse_fail(err, "uuid", "expected a string");
		goto out;
	}
	if (uuid && !uuid_valid(uuid)) {
		parse_fail(err, "uuid", "not a UUID: '%.40s'", uuid);
		goto out;
	}
	tags = json_object_get(root, "tags");
	if (tags && !json_is_null(tags)) {
		size_t i;
		json_t *t;

		if (!json_is_array(tags)) {
			parse_fail(err, "tags", "expected an array of strings");
			goto out;
		}
		json_array_foreach(tags, i, t) {
			if (!json_is_string(t)) {
				parse_fail(err, "tags", "expected an array of strings");
				goto out;
			}
		}
		/* The parsed document is ours alone: share its nodes instead of copying. */
		init.tags = json_incref(tags);
	} else {
		init.tags = NULL;
	}
	init.rule = rule;
	init.output = output;
	/* Falcosidekick's default when an agent does not say. */
	init.source = source && *source ? source : "syscalls";
	init.hostname = hostname;
	init.uuid = uuid;
	init.output_fields = json_incref(fields);
	a = alert_new(&init);
	if (!a) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		errno = ENOMEM;
	}
out:
	json_decref(root);
	return a;
}

int alert_set_hostname(struct alert *a, const char *hostname)
{
	char *h;

	assert(!a->frozen);
	h = strdup(hostname ? hostname : "");
	if (!h)
		return -ENOMEM;
	free(a->hostname);
	a->hostname = h;
	return 0;
}

int alert_add_field(struct alert *a, const char *key, const char *value)
{
	assert(!a->frozen);
	if (json_object_get(a->output_fields, key))
		return 0;
	if (json_object_set_new(a->output_fields, key, json_string(value)))
		return -ENOMEM;
	return 0;
}

int alert_add_tag(struct alert *a, const char *tag)
{
	size_t i;
	json_t *t;

	assert(!a->frozen);
	json_array_foreach(a->tags, i, t) {
		if (!strcmp(json_string_value(t), tag))
			return 0;
	}
	if (json_array_append_new(a->tags, json_string(tag)))
		return -ENOMEM;
	return tags_normalise(a->tags);
}

int alert_freeze(struct alert *a)
{
	a->frozen = true;
	return 0;
}

static int jb_dump_cb(const char *s, size_t n, void *data)
{
	strbuf_add(data, s, n);
	return ((struct strbuf *)data)->oom ? -1 : 0;
}

/* Length of the valid UTF-8 sequence at s (lim bytes left), 0 when invalid (as jansson). */
static size_t utf8_seq(const unsigned char *s, size_t lim)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (n > lim)
		return 0;
	cp = c & (0x7F >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/*
 * A JSON string exactly as jansson's compact dump writes it (no JSON_ENSURE_ASCII, no
 * JSON_ESCAPE_SLASH): short escapes, \uXXXX (upper-case hex) for other controls, UTF-8 as is;
 * invalid UTF-8 fails, as json_string() would.
 */
static void jb_string(struct strbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str, *run = s;
	const unsigned char *end = s + strlen(str);
	size_t n;

	strbuf_add(b, "\"", 1);
	while (*s) {
		const char *esc = NULL;
		char seq[8];

		if (*s >= 0x20 && *s != '"' && *s != '\\') {
			n = *s < 0x80 ? 1 : utf8_seq(s, (size_t)(end - s));
			if (!n) {
				b->oom = true;
				return;
			}
			s += n;
			continue;
		}
		strbuf_add(b, (const char *)run, (size_t)(s - run));
		switch (*s) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)*s);
			esc = seq;
		}
		strbuf_puts(b, esc);
		run = ++s;
	}
	strbuf_add(b, (const char *)run, (size_t)(s - run));
	strbuf_add(b, "\"", 1);
}

/*
 * The canonical JSON, rendered on first use: an alert no sink serialises never pays for it.
 * Written directly, keys in sorted order, byte for byte what json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) gives for the same object, without building that object first (the
 * output fields still go through jansson).
 */
static int render_json(struct alert *a)
{
	struct strbuf b = { 0 };
	size_t i;
	json_t *t;

	strbuf_puts(&b, "{\"hostname\":");
	jb_string(&b, a->hostname);
	strbuf_puts(&b, ",\"output\":");
	jb_string(&b, a->output);
	strbuf_puts(&b, ",\"output_fields\":");
	if (!b.oom &&
	    json_dump_callback(a->output_fields, jb_dump_cb, &b, JSON_COMPACT | JSON_SORT_KEYS))
		b.oom = true;
	strbuf_puts(&b, ",\"priority\":");
	jb_string(&b, priority_name(a->priority));
	strbuf_puts(&b, ",\"rule\":");
	jb_string(&b, a->rule);
	strbuf_puts(&b, ",\"source\":");
	jb_string(&b, a->source);
	strbuf_puts(&b, ",\"tags\":[");
	json_array_foreach(a->tags, i, t) {
		if (i)
			strbuf_add(&b, ",", 1);
		jb_string(&b, json_string_value(t));
	}
	strbuf_puts(&b, "],\"time\":");
	jb_string(&b, a->time_str);
	strbuf_puts(&b, ",\"uuid\":");
	jb_string(&b, a->uuid);
	strbuf_add(&b, "}", 1);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	a->json = b.p;
	a->json_len = b.len;
	return 0;
}

struct alert *alert_ref(struct alert *a)
{
	atomic_fetch_add_explicit(&a->refcnt, 1, memory_order_relaxed);
	return a;
}

void alert_unref(struct alert *a)
{
	if (!a || atomic_fetch_sub_explicit(&a->refcnt, 1, memory_order_acq_rel) != 1)
		return;
	free(a->rule);
	free(a->source);
	free(a->output);
	free(a->hostname);
	json_decref(a->output_fields);
	json_decref(a->tags);
	free(a->json);
	free(a);
}

const char *alert_rule(const struct alert *a)
{
	return a->rule;
}

enum priority alert_priority(const struct alert *a)
{
	return a->priority;
}

const char *alert_source(const struct alert *a)
{
	return a->source;
}

const char *alert_output(const struct alert *a)
{
	return a->output;
}

const char *alert_hostname(const struct alert *a)
{
	return a->hostname;
}

const char *alert_uuid(const struct alert *a)
{
	return a->uuid;
}

int64_t alert_time_ns(const struct alert *a)
{
	return a->time_ns;
}

const char *alert_time_str(const struct alert *a)
{
	return a->time_str;
}

const json_t *alert_output_fields(const struct alert *a)
{
	return a->output_fields;
}

const json_t *alert_tags(const struct alert *a)
{
	return a->tags;
}

bool alert_is_test(const struct alert *a)
{
	return a->test;
}

const char *alert_json(const struct alert *a, size_t *len)
{
	struct alert *m = (struct alert *)a;

	assert(a->frozen);
	/* Rendering fills a cache; the alert's content is unchanged (loop thread only). */
	if (!a->json && render_json(m)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = a->json_len;
	return a->json;
}

char *alert_compose_output(int64_t time_ns, enum priority p, const char *rendered)
{
	time_t secs = (time_t)(time_ns / 1000000000);
	long nsec = (long)(time_ns % 1000000000);
	struct tm tm;
	char *out;

	if (nsec < 0) {
		nsec += 1000000000;
		secs--;
	}
	localtime_r(&secs, &tm);
	if (asprintf(&out, "%02d:%02d:%02d.%09ld: %s %s", tm.tm_hour, tm.tm_min, tm.tm_sec, nsec,
		     priority_name(p), rendered ? rendered : "") < 0)
		return NULL;
	return out;
}

char *alert_text(const struct alert *a)
{
	if (a->output[0])
		return strdup(a->output);
	return alert_compose_output(a->time_ns, a->priority, a->rule);
}
