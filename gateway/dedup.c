// SPDX-License-Identifier: Apache-2.0
/*
 * uuid window and content aggregation (gateway/dedup.h).
 *
 * Both tables are chained hash tables (FNV-1a) whose nodes are also on a FIFO list in arrival
 * order. With one window per table, arrival order is expiry order: expiring and bounding only
 * ever pop the list's head, so every operation is O(1) amortized.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/log.h"
#include "gateway/dedup.h"

const struct config_option dedup_options[] = {
	{ "uuid_window", CONFIG_DURATION, "0", offsetof(struct dedup_settings, uuid_window_ms), 0,
	  86400000, NULL, NULL,
	  "drop an alert whose uuid was already accepted within this window (e.g. 10m; 0: off)" },
	{ "max_entries", CONFIG_INT, "100000", offsetof(struct dedup_settings, max_entries), 16,
	  100000000, NULL, NULL,
	  "uuids (and aggregation keys) remembered at most; the oldest is forgotten first" },
	{ "aggregate.fields", CONFIG_STRLIST, NULL, offsetof(struct dedup_settings, agg_fields), 0,
	  0, NULL, NULL,
	  "aggregate alerts of the same rule and these fields (hostname, priority, source, or "
	  "output fields) within dedup.aggregate.window into one with lanner.count" },
	{ "aggregate.window", CONFIG_DURATION, "0", offsetof(struct dedup_settings, agg_window_ms),
	  0, 86400000, NULL, NULL,
	  "aggregation window (e.g. 1m; 0: off); the first alert passes at once, a summary "
	  "with the count follows when the window ends" },
	{ NULL },
};

struct unode {
	char uuid[ALERT_UUID_LEN + 1];
	uint64_t t;
	bool gone; /* dedup_forget(): out of the hash table, still on the FIFO list */
	struct unode *hnext, *next;
};

struct anode {
	char *key;
	uint64_t h;
	struct alert *first;
	uint64_t start, count;
	int64_t last_time_ns;
	struct anode *hnext, *next;
};

struct dedup {
	struct dedup_settings set;
	char *agg_by; /* "rule,hostname,..." */
	uv_loop_t *loop;
	uv_timer_t timer;
	bool timer_init;
	dedup_emit_fn emit;
	void *data;
	/* uuid window */
	struct unode **ubuckets;
	size_t umask, un;
	struct unode *uhead, *utail;
	/* aggregation */
	struct anode **abuckets;
	size_t amask, an;
	struct anode *ahead, *atail;
	struct dedup_stats st;
};

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static size_t table_size(int64_t max)
{
	size_t n = 16;

	while (n < (size_t)max && n < ((size_t)1 << 26))
		n <<= 1;
	return n;
}

bool dedup_uuid_enabled(const struct dedup *d)
{
	return d && d->set.uuid_window_ms > 0;
}

bool dedup_aggregate_enabled(const struct dedup *d)
{
	return d && d->set.agg_window_ms > 0;
}

static void on_timer(uv_timer_t *t);

struct dedup *dedup_new(uv_loop_t *loop, const struct dedup_settings *set, dedup_emit_fn emit,
			void *data)
{
	struct dedup *d = calloc(1, sizeof(*d));
	size_t len = 5;

	if (!d)
		return NULL;
	d->set = *set;
	if (d->set.max_entries < 16)
		d->set.max_entries = 16;
	d->loop = loop;
	d->emit = emit;
	d->data = data;
	if (d->set.uuid_window_ms > 0) {
		size_t n = table_size(d->set.max_entries);

		d->ubuckets = calloc(n, sizeof(*d->ubuckets));
		if (!d->ubuckets)
			goto err;
		d->umask = n - 1;
	}
	if (d->set.agg_window_ms > 0) {
		size_t n = table_size(d->set.max_entries < 65536 ? d->set.max_entries : 65536);

		if (!d->set.agg_fields.n || !loop || !emit) {
			errno = EINVAL;
			goto err_free;
		}
		d->abuckets = calloc(n, sizeof(*d->abuckets));
		if (!d->abuckets)
			goto err;
		d->amask = n - 1;
		for (size_t i = 0; i < d->set.agg_fields.n; i++)
			len += strlen(d->set.agg_fields.v[i]) + 1;
		d->agg_by = malloc(len);
		if (!d->agg_by)
			goto err;
		strcpy(d->agg_by, "rule");
		for (size_t i = 0; i < d->set.agg_fields.n; i++) {
			if (!strcasecmp(d->set.agg_fields.v[i], "rule"))
				continue;
			strcat(d->agg_by, ",");
			strcat(d->agg_by, d->set.agg_fields.v[i]);
		}
		uv_timer_init(loop, &d->timer);
		d->timer.data = d;
		d->timer_init = true;
	}
	return d;

err:
	errno = ENOMEM;
err_free:
	free(d->ubuckets);
	free(d->abuckets);
	free(d->agg_by);
	free(d);
	return NULL;
}

/* --- uuid window ----------------------------------------------------------------------------- */

static void uuid_pop_head(struct dedup *d)
{
	struct unode *n = d->uhead, **pp;

	d->uhead = n->next;
	if (!d->uhead)
		d->utail = NULL;
	if (!n->gone) {
		pp = &d->ubuckets[fnv1a(n->uuid, strlen(n->uuid)) & d->umask];
		while (*pp != n)
			pp = &(*pp)->hnext;
		*pp = n->hnext;
	}
	d->un--;
	free(n);
}

/* Lower-case uuid into low (ALERT_UUID_LEN + 1 bytes); its length, 0 when unusable. */
static size_t uuid_key(const char *uuid, char *low)
{
	size_t len = uuid ? strlen(uuid) : 0;

	if (!len || len > ALERT_UUID_LEN)
		return 0;
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)((uuid[i] >= 'A' && uuid[i] <= 'Z') ? uuid[i] + 32 : uuid[i]);
	return len;
}

bool dedup_forget(struct dedup *d, const char *uuid)
{
	char low[ALERT_UUID_LEN + 1];
	size_t len;
	struct unode **pp;

	if (!dedup_uuid_enabled(d) || !(len = uuid_key(uuid, low)))
		return false;
	for (pp = &d->ubuckets[fnv1a(low, len) & d->umask]; *pp; pp = &(*pp)->hnext) {
		struct unode *n = *pp;

		if (!strcmp(n->uuid, low)) {
			/* Unlinked from its chain now; the FIFO list frees it in its turn. */
			*pp = n->hnext;
			n->gone = true;
			return true;
		}
	}
	return false;
}

bool dedup_seen(struct dedup *d, const char *uuid, uint64_t now_ms)
{
	size_t len = uuid ? strlen(uuid) : 0;
	char low[ALERT_UUID_LEN + 1];
	uint64_t w;
	struct unode *n, **b;

	if (!dedup_uuid_enabled(d) || !len || len > ALERT_UUID_LEN)
		return false;
	/* uuids compare case-insensitively: keep and hash them lower-cased. */
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)((uuid[i] >= 'A' && uuid[i] <= 'Z') ? uuid[i] + 32 : uuid[i]);
	uuid = low;
	w = (uint64_t)d->set.uuid_window_ms;
	while (d->uhead && d->uhead->t + w <= now_ms)
		uuid_pop_head(d);
	b = &d->ubuckets[fnv1a(uuid, len) & d->umask];
	for (n = *b; n; n = n->hnext) {
		if (!strcmp(n->uuid, uuid)) {
			d->st.uuid_dropped++;
			return true;
		}
	}
	while (d->un >= (size_t)d->set.max_entries) {
		uuid_pop_head(d);
		d->st.uuid_forgotten++;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return false; /* not remembered: never drop an alert for want of memory */
	memcpy(n->uuid, uuid, len + 1);
	n->t = now_ms;
	n->hnext = *b;
	*b = n;
	if (d->utail)
		d->utail->next = n;
	else
		d->uhead = n;
	d->utail = n;
	d->un++;
	return false;
}

/* --- aggregation ----------------------------------------------------------------------------- */

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 2 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 128) + n;
		char *nb = realloc(*buf, nc);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[(*len)++] = '\x1f';
	(*buf)[*len] = '\0';
	return 0;
}

/* The key of a: rule, then each field's value, separated by 0x1f. NULL on ENOMEM. */
static char *agg_key(const struct dedup *d, const struct alert *a, size_t *klen)
{
	char *buf = NULL, num[64];
	size_t len = 0, cap = 0;
	int err = append(&buf, &len, &cap, alert_rule(a), strlen(alert_rule(a)));

	for (size_t i = 0; !err && i < d->set.agg_fields.n; i++) {
		const char *f = d->set.agg_fields.v[i], *v = "";
		const json_t *j;

		if (!strcasecmp(f, "rule"))
			continue;
		if (!strcasecmp(f, "hostname")) {
			v = alert_hostname(a);
		} else if (!strcasecmp(f, "priority")) {
			v = priority_name(alert_priority(a));
		} else if (!strcasecmp(f, "source")) {
			v = alert_source(a);
		} else {
			j = json_object_get(alert_output_fields(a), f);
			if (json_is_string(j))
				v = json_string_value(j);
			else if (json_is_integer(j) &&
				 snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
					  json_integer_value(j)) > 0)
				v = num;
			else if (json_is_real(j) &&
				 snprintf(num, sizeof(num), "%.17g", json_real_value(j)) > 0)
				v = num;
			else if (json_is_boolean(j))
				v = json_is_true(j) ? "true" : "false";
			else if (json_is_null(j))
				v = "<NA>";
		}
		err = append(&buf, &len, &cap, v, strlen(v));
	}
	if (err) {
		free(buf);
		return NULL;
	}
	*klen = len;
	return buf;
}

static struct alert *summary_of(const struct dedup *d, const struct anode *n)
{
	const struct alert *f = n->first;
	json_t *fields = json_deep_copy(alert_output_fields(f));
	json_t *tags = json_deep_copy(alert_tags(f));
	struct alert_init init = {
		.rule = alert_rule(f),
		.priority = alert_priority(f),
		.source = alert_source(f),
		.output = *alert_output(f) ? alert_output(f) : NULL,
		.time_ns = n->last_time_ns,
		.hostname = *alert_hostname(f) ? alert_hostname(f) : NULL,
	};

	if (!fields)
		fields = json_object();
	if (!fields ||
	    json_object_set_new(fields, "lanner.count", json_integer((json_int_t)n->count)) ||
	    json_object_set_new(fields, "lanner.aggregated_by", json_string(d->agg_by))) {
		json_decref(fields);
		json_decref(tags);
		return NULL;
	}
	init.output_fields = fields;
	init.tags = json_array_size(tags) ? tags : NULL;
	if (!init.tags)
		json_decref(tags);
	return alert_new(&init);
}

/* Unlink the head key, emit its summary when something was absorbed, free it. */
static void agg_pop_head(struct dedup *d)
{
	struct anode *n = d->ahead, **pp;

	d->ahead = n->next;
	if (!d->ahead)
		d->atail = NULL;
	pp = &d->abuckets[n->h & d->amask];
	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	d->an--;
	if (n->count > 1) {
		struct alert *s = summary_of(d, n);

		if (s) {
			d->st.summaries++;
			d->emit(d->data, s);
		} else {
			log_error("dedup: cannot build the summary of %llu '%s' alerts: %s",
				  (unsigned long long)n->count, alert_rule(n->first),
				  strerror(ENOMEM));
		}
	}
	alert_unref(n->first);
	free(n->key);
	free(n);
}

static void arm(struct dedup *d)
{
	uint64_t now, due;

	if (!d->timer_init || uv_is_closing((uv_handle_t *)&d->timer))
		return;
	if (!d->ahead) {
		uv_timer_stop(&d->timer);
		return;
	}
	now = uv_now(d->loop);
	due = d->ahead->start + (uint64_t)d->set.agg_window_ms;
	uv_timer_start(&d->timer, on_timer, due > now ? due - now : 0, 0);
}

void dedup_expire(struct dedup *d, uint64_t now_ms)
{
	if (!dedup_aggregate_enabled(d))
		return;
	while (d->ahead && d->ahead->start + (uint64_t)d->set.agg_window_ms <= now_ms)
		agg_pop_head(d);
	arm(d);
}

static void on_timer(uv_timer_t *t)
{
	struct dedup *d = t->data;

	dedup_expire(d, uv_now(d->loop));
}

enum dedup_verdict dedup_aggregate(struct dedup *d, struct alert *a, uint64_t now_ms)
{
	struct anode *n, **b;
	size_t klen;
	char *key;
	uint64_t h;

	if (!dedup_aggregate_enabled(d) || !d->timer_init ||
	    uv_is_closing((uv_handle_t *)&d->timer))
		return DEDUP_PASS;
	while (d->ahead && d->ahead->start + (uint64_t)d->set.agg_window_ms <= now_ms)
		agg_pop_head(d);
	key = agg_key(d, a, &klen);
	if (!key)
		return DEDUP_PASS;
	h = fnv1a(key, klen);
	b = &d->abuckets[h & d->amask];
	for (n = *b; n; n = n->hnext) {
		if (n->h == h && !strcmp(n->key, key)) {
			free(key);
			n->count++;
			if (alert_time_ns(a) > n->last_time_ns)
				n->last_time_ns = alert_time_ns(a);
			d->st.absorbed++;
			return DEDUP_ABSORBED;
		}
	}
	while (d->an >= (size_t)d->set.max_entries)
		agg_pop_head(d); /* early summary: memory stays bounded */
	n = calloc(1, sizeof(*n));
	if (!n) {
		free(key);
		return DEDUP_PASS;
	}
	n->key = key;
	n->h = h;
	n->first = alert_ref(a);
	n->start = now_ms;
	n->count = 1;
	n->last_time_ns = alert_time_ns(a);
	b = &d->abuckets[h & d->amask];
	n->hnext = *b;
	*b = n;
	if (d->atail)
		d->atail->next = n;
	else
		d->ahead = n;
	d->atail = n;
	d->an++;
	if (d->ahead == n)
		arm(d);
	return DEDUP_PASS;
}

void dedup_get_stats(const struct dedup *d, struct dedup_stats *st)
{
	*st = d->st;
	st->uuid_entries = d->un;
	st->agg_keys = d->an;
}

void dedup_close(struct dedup *d)
{
	if (!d)
		return;
	while (d->ahead)
		agg_pop_head(d);
	if (d->timer_init && !uv_is_closing((uv_handle_t *)&d->timer)) {
		uv_timer_stop(&d->timer);
		uv_close((uv_handle_t *)&d->timer, NULL);
	}
}

void dedup_free(struct dedup *d)
{
	if (!d)
		return;
	while (d->uhead)
		uuid_pop_head(d);
	while (d->ahead) {
		struct anode *n = d->ahead;

		d->ahead = n->next;
		alert_unref(n->first);
		free(n->key);
		free(n);
	}
	free(d->ubuckets);
	free(d->abuckets);
	free(d->agg_by);
	free(d);
}
