// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/strbuf.h"
#include "gateway/metrics.h"

#define MAX_LABELS 8
#define N_BUCKETS 256

struct series {
	struct series *next; /* hash chain */
	struct series *next_all; /* insertion order, for stable output */
	uint64_t hash;
	uint64_t value;
	char *key; /* label values joined by '\x1f' */
	char *values[MAX_LABELS];
};

struct metric {
	struct metric *next;
	struct metrics *owner;
	const char *name;
	const char *help;
	const char *const *labels;
	size_t n_labels;
	/* counters */
	struct series *buckets[N_BUCKETS];
	struct series *first, *last;
	size_t n_series;
	/* gauges */
	metrics_gauge_fn gauge;
	void *gauge_data;
	bool gauge_is_counter;
};

struct metrics {
	struct metric *first, *last;
	size_t max_series;
	struct metric *folded; /* lanner_metrics_series_folded_total */
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		strbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static void sb_label_value(struct strbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			strbuf_puts(b, "\\\\");
		else if (*v == '"')
			strbuf_puts(b, "\\\"");
		else if (*v == '\n')
			strbuf_puts(b, "\\n");
		else
			strbuf_add(b, v, 1);
	}
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Label values joined by '\x1f' into buf when they fit (the common case: no allocation per
 * increment), else into a malloc'd string. Free with key_release().
 */
static char *join_key(const char *const *values, size_t n, char *buf, size_t buflen)
{
	size_t len = 1;
	char *key, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(values[i] ? values[i] : "") + 1;
	key = len <= buflen ? buf : malloc(len);
	if (!key)
		return NULL;
	p = key;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t l = strlen(v);

		memcpy(p, v, l);
		p += l;
		*p++ = '\x1f';
	}
	*p = '\0';
	return key;
}

static void key_release(char *key, const char *buf)
{
	if (key != buf)
		free(key);
}

struct metrics *metrics_new(size_t max_series)
{
	static const char *const folded_labels[] = { "metric" };
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->max_series = max_series ? max_series : 10000;
	m->folded = metrics_counter(m, "lanner_metrics_series_folded_total",
				    "Label sets folded into \"other\" because a family hit its "
				    "series limit",
				    folded_labels, 1);
	if (!m->folded) {
		metrics_free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

static void series_free(struct series *s, size_t n)
{
	free(s->key);
	for (size_t i = 0; i < n; i++)
		free(s->values[i]);
	free(s);
}

void metrics_free(struct metrics *m)
{
	struct metric *f, *next;

	if (!m)
		return;
	for (f = m->first; f; f = next) {
		struct series *s, *sn;

		next = f->next;
		for (s = f->first; s; s = sn) {
			sn = s->next_all;
			series_free(s, f->n_labels);
		}
		free(f);
	}
	free(m);
}

static struct metric *family_new(struct metrics *m, const char *name, const char *help,
				 const char *const *label_names, size_t n)
{
	struct metric *f;

	if (n > MAX_LABELS) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->owner = m;
	f->name = name;
	f->help = help;
	f->labels = label_names;
	f->n_labels = n;
	if (m->last)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	return f;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *label_names, size_t n)
{
	return family_new(m, name, help, label_names, n);
}

int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  const char *const *label_names, size_t n, metrics_gauge_fn fn, void *data)
{
	struct metric *f = family_new(m, name, help, label_names, n);

	if (!f)
		return -errno;
	f->gauge = fn;
	f->gauge_data = data;
	return 0;
}

int metrics_counter_fn(struct metrics *m, const char *name, const char *help,
		       const char *const *label_names, size_t n, metrics_gauge_fn fn, void *data)
{
	int err = metrics_gauge(m, name, help, label_names, n, fn, data);

	if (!err)
		m->last->gauge_is_counter = true;
	return err;
}

static struct series *series_find(const struct metric *f, const char *key, uint64_t h)
{
	for (struct series *s = f->buckets[h % N_BUCKETS]; s; s = s->next)
		if (s->hash == h && !strcmp(s->key, key))
			return s;
	return NULL;
}

static struct series *series_get(struct metric *f, const char *const *values, bool *folded)
{
	static const char *const other[MAX_LABELS] = { "other", "other", "other", "other",
						       "other", "other", "other", "other" };
	struct series *s;
	char buf[512];
	uint64_t h;
	char *key;

	*folded = false;
	key = join_key(values, f->n_labels, buf, sizeof(buf));
	if (!key)
		return NULL;
	h = fnv1a(key);
	s = series_find(f, key, h);
	if (s) {
		key_release(key, buf);
		return s;
	}
	if (f->n_series >= f->owner->max_series && values != other) {
		key_release(key, buf);
		s = series_get(f, other, folded);
		*folded = true;
		return s;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto err;
	s->key = key == buf ? strdup(buf) : key;
	key = NULL;
	if (!s->key)
		goto err;
	s->hash = h;
	for (size_t i = 0; i < f->n_labels; i++) {
		s->values[i] = strdup(values[i] ? values[i] : "");
		if (!s->values[i])
			goto err;
	}
	s->next = f->buckets[h % N_BUCKETS];
	f->buckets[h % N_BUCKETS] = s;
	if (f->last)
		f->last->next_all = s;
	else
		f->first = s;
	f->last = s;
	f->n_series++;
	return s;
err:
	if (s)
		series_free(s, f->n_labels);
	else if (key)
		key_release(key, buf);
	return NULL;
}

void metric_add(struct metric *f, const char *const *label_values, uint64_t by)
{
	bool folded;
	struct series *s = series_get(f, label_values, &folded);

	if (s)
		s->value += by;
	if (folded && f != f->owner->folded) {
		const char *name[] = { f->name };

		metric_add(f->owner->folded, name, 1);
	}
}

uint64_t metric_value(const struct metric *f, const char *const *label_values)
{
	char buf[512];
	char *key = join_key(label_values, f->n_labels, buf, sizeof(buf));
	struct series *s;

	if (!key)
		return 0;
	s = series_find(f, key, fnv1a(key));
	key_release(key, buf);
	return s ? s->value : 0;
}

static void sb_series(struct strbuf *b, const struct metric *f, const char *const *values)
{
	strbuf_puts(b, f->name);
	if (f->n_labels) {
		strbuf_puts(b, "{");
		for (size_t i = 0; i < f->n_labels; i++) {
			if (i)
				strbuf_puts(b, ",");
			strbuf_puts(b, f->labels[i]);
			strbuf_puts(b, "=\"");
			sb_label_value(b, values[i] ? values[i] : "");
			strbuf_puts(b, "\"");
		}
		strbuf_puts(b, "}");
	}
}

struct emit_ctx {
	struct strbuf *b;
	const struct metric *f;
};

static void emit_gauge(void *ctx, const char *const *label_values, double value)
{
	struct emit_ctx *e = ctx;

	sb_series(e->b, e->f, label_values);
	sb_printf(e->b, " %.17g\n", value);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct strbuf b = { 0 };

	for (struct metric *f = m->first; f; f = f->next) {
		sb_printf(&b, "# HELP %s ", f->name);
		strbuf_puts(&b, f->help);
		sb_printf(&b, "\n# TYPE %s %s\n", f->name,
			  f->gauge && !f->gauge_is_counter ? "gauge" : "counter");
		if (f->gauge) {
			struct emit_ctx e = { &b, f };

			f->gauge(f->gauge_data, emit_gauge, &e);
			continue;
		}
		for (struct series *s = f->first; s; s = s->next_all) {
			sb_series(&b, f, (const char *const *)s->values);
			sb_printf(&b, " %llu\n", (unsigned long long)s->value);
		}
	}
	if (b.oom || !b.p) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}
