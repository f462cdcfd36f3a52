// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/sink_filter.h"

struct rate {
	double per_ms; /* 0: no limit */
	double count;
};

struct sink_filter_settings {
	struct config_strlist rules_in, rules_ex, tags_in, tags_ex, sources_in, sources_ex;
	struct rate rate;
	int64_t burst;
	int64_t batch_size;
	int64_t batch_wait_ms;
};

struct sink_filter {
	struct sink_filter_settings set;
	bool batching;
	double burst;
	double tokens;
	uint64_t last_ms;
	bool started;
};

int sink_filter_parse_rate(const char *text, double *per_ms, double *count)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = {
		{ "s", 1e3 },	 { "sec", 1e3 },     { "second", 1e3 }, { "m", 60e3 },
		{ "min", 60e3 }, { "minute", 60e3 }, { "h", 3600e3 },	{ "hour", 3600e3 },
	};
	char *end;
	double n;

	errno = 0;
	n = strtod(text, &end);
	if (errno || end == text || !isfinite(n) || n <= 0 || *end != '/')
		return -EINVAL;
	end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(end, units[i].name)) {
			*per_ms = n / units[i].ms;
			*count = n;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_rate(const char *text, void *dst, char *err, size_t errlen)
{
	struct rate *r = dst;

	if (!text || !*text) {
		r->per_ms = r->count = 0;
		return 0;
	}
	if (sink_filter_parse_rate(text, &r->per_ms, &r->count)) {
		snprintf(err, errlen,
			 "invalid rate '%s' (expected a positive number, '/' and s, m or h: 10/s, "
			 "600/m)",
			 text);
		return -EINVAL;
	}
	return 0;
}

#define FO(m) offsetof(struct sink_filter_settings, m)

static const struct config_option filter_options[] = {
	{ "match.rules.include", CONFIG_STRLIST, NULL, FO(rules_in), 0, 0, NULL, NULL,
	  "send only alerts of these rules (* and ? wildcards; empty: all)" },
	{ "match.rules.exclude", CONFIG_STRLIST, NULL, FO(rules_ex), 0, 0, NULL, NULL,
	  "never send alerts of these rules (wins over include)" },
	{ "match.tags.include", CONFIG_STRLIST, NULL, FO(tags_in), 0, 0, NULL, NULL,
	  "send only alerts carrying one of these tags (empty: all)" },
	{ "match.tags.exclude", CONFIG_STRLIST, NULL, FO(tags_ex), 0, 0, NULL, NULL,
	  "never send alerts carrying one of these tags" },
	{ "match.sources.include", CONFIG_STRLIST, NULL, FO(sources_in), 0, 0, NULL, NULL,
	  "send only alerts of these sources (syscall, k8s_audit, ...; empty: all)" },
	{ "match.sources.exclude", CONFIG_STRLIST, NULL, FO(sources_ex), 0, 0, NULL, NULL,
	  "never send alerts of these sources" },
	{ "ratelimit.rate", CONFIG_CUSTOM, "", FO(rate), 0, 0, NULL, parse_rate,
	  "most requests per time unit (10/s, 600/m, 1000/h; empty: no limit); alerts over it wait "
	  "in the queue" },
	{ "ratelimit.burst", CONFIG_INT, "0", FO(burst), 0, 1000000, NULL, NULL,
	  "requests that may go at once after a quiet time (0: the rate's number)" },
	{ NULL },
};

static const struct config_option batch_options[] = {
	{ "batch.size", CONFIG_INT, "100", FO(batch_size), 1, 100000, NULL, NULL,
	  "most alerts in one request" },
	{ "batch.wait", CONFIG_DURATION, "1s", FO(batch_wait_ms), 0, 3600000, NULL, NULL,
	  "longest time a partial batch waits for more alerts (0: send at once)" },
	{ NULL },
};

int sink_filter_declare(struct config *cfg, const struct sink_ops *ops)
{
	int err = config_declare(cfg, ops->name, filter_options);

	if (!err && ops->send_batch)
		err = config_declare(cfg, ops->name, batch_options);
	return err;
}

struct sink_filter *sink_filter_new(struct config *cfg, const struct sink_ops *ops)
{
	struct sink_filter *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return NULL;
	err = config_bind(cfg, ops->name, filter_options, &f->set);
	if (!err && ops->send_batch) {
		err = config_bind(cfg, ops->name, batch_options, &f->set);
		f->batching = true;
	}
	if (err) {
		free(f);
		errno = -err;
		return NULL;
	}
	if (!f->batching)
		f->set.batch_size = 1;
	f->burst = f->set.burst > 0 ? (double)f->set.burst : floor(f->set.rate.count);
	if (f->burst < 1)
		f->burst = 1;
	f->tokens = f->burst;
	return f;
}

void sink_filter_free(struct sink_filter *f)
{
	free(f);
}

static bool pattern_match(const char *pattern, const char *s)
{
	if (strpbrk(pattern, "*?"))
		return fnmatch(pattern, s, 0) == 0;
	return strcmp(pattern, s) == 0;
}

static bool list_match(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (pattern_match(l->v[i], s))
			return true;
	return false;
}

static bool tags_match(const struct config_strlist *l, const json_t *tags)
{
	for (size_t i = 0; i < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));

		if (t && list_match(l, t))
			return true;
	}
	return false;
}

bool sink_filter_match(const struct sink_filter *f, const struct alert *a)
{
	const struct sink_filter_settings *s = &f->set;
	const json_t *tags = alert_tags(a);

	if ((s->rules_in.n && !list_match(&s->rules_in, alert_rule(a))) ||
	    list_match(&s->rules_ex, alert_rule(a)))
		return false;
	if ((s->sources_in.n && !list_match(&s->sources_in, alert_source(a))) ||
	    list_match(&s->sources_ex, alert_source(a)))
		return false;
	if ((s->tags_in.n && !tags_match(&s->tags_in, tags)) || tags_match(&s->tags_ex, tags))
		return false;
	return true;
}

bool sink_filter_take(struct sink_filter *f, uint64_t now_ms, uint64_t *wait_ms)
{
	double per_ms = f->set.rate.per_ms;

	if (per_ms <= 0)
		return true;
	if (f->started && now_ms > f->last_ms)
		f->tokens = fmin(f->burst, f->tokens + (double)(now_ms - f->last_ms) * per_ms);
	if (!f->started || now_ms > f->last_ms)
		f->last_ms = now_ms;
	f->started = true;
	if (f->tokens >= 1) {
		f->tokens -= 1;
		return true;
	}
	*wait_ms = (uint64_t)ceil((1 - f->tokens) / per_ms);
	if (*wait_ms == 0)
		*wait_ms = 1;
	return false;
}

size_t sink_filter_batch(const struct sink_filter *f, size_t queued, uint64_t age_ms, bool flush,
			 uint64_t *wait_ms)
{
	size_t size = (size_t)f->set.batch_size;

	if (queued >= size)
		return size;
	if (flush || age_ms >= (uint64_t)f->set.batch_wait_ms)
		return queued;
	*wait_ms = (uint64_t)f->set.batch_wait_ms - age_ms;
	return 0;
}

size_t sink_filter_batch_size(const struct sink_filter *f)
{
	return (size_t)f->set.batch_size;
}
