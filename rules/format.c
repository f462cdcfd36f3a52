// SPDX-License-Identifier: Apache-2.0
/*
 * Output formatter: a rule's `output` is split at compile time into literal text and field
 * references (%proc.name, %proc.aname[2]); rules_format renders it for the current event and
 * builds the typed output_fields object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/suggest.h"
#include "rules/internal.h"

struct fmt_seg {
	size_t lit_off, lit_len; /* literal text before the field, in fmt->text */
	int slot; /* -1: literal only */
	char *key; /* "proc.aname[2]": the output_fields key */
};

struct fmt {
	char *text;
	struct fmt_seg *segs;
	size_t n;
	int time_slot; /* source time_field, -1 when none */
};

void fmt_free(struct fmt *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->segs[i].key);
	free(f->segs);
	free(f->text);
	free(f);
}

static bool fname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

static int add_seg(struct fmt *f, size_t lit_off, size_t lit_len, int slot, const char *key,
		   size_t klen)
{
	struct fmt_seg *s = realloc(f->segs, (f->n + 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	f->segs = s;
	s = &f->segs[f->n];
	s->lit_off = lit_off;
	s->lit_len = lit_len;
	s->slot = slot;
	s->key = NULL;
	if (key) {
		s->key = malloc(klen + 1);
		if (!s->key)
			return -ENOMEM;
		memcpy(s->key, key, klen);
		s->key[klen] = '\0';
	}
	f->n++;
	return 0;
}

static void report(struct rules *r, struct rule *rule, size_t off, const char *msg,
		   const char *name, const char *sug)
{
	char item[600];

	snprintf(item, sizeof(item), "rule '%s'", rule->name);
	rules_diag_text(r, rule->skip_unknown ? RULES_WARNING : RULES_ERROR, &rule->output, off,
			item, "%s '%s' in output%s%s", msg, name, sug,
			rule->skip_unknown ? ", rule skipped (skip-if-unknown-filter)" : "");
}

struct fmt *fmt_compile(struct rules *r, struct rule *rule)
{
	const struct field_source *fs = r->sources[rule->src_index];
	const char *s = rule->output.s ? rule->output.s : "";
	size_t len = rule->output.len, lit = 0, i = 0;
	struct fmt *f = calloc(1, sizeof(*f));
	char name[256], err[300];

	if (!f)
		goto nomem;
	f->time_slot = -1;
	f->text = strdup(s);
	if (!f->text)
		goto nomem;
	while (i < len) {
		size_t start = i, e, arg_s = 0, arg_e = 0;
		const struct field_def *d = NULL;
		struct field_arg arg;
		char argbuf[256];
		int slot;

		if (s[i] != '%' || i + 1 >= len ||
		    !((s[i + 1] >= 'a' && s[i + 1] <= 'z') ||
		      (s[i + 1] >= 'A' && s[i + 1] <= 'Z'))) {
			i++;
			continue;
		}
		e = i + 1;
		while (e < len && fname_char(s[e]))
			e++;
		while (e > i + 1 && s[e - 1] == '.')
			e--;
		if (e < len && s[e] == '[') {
			const char *close = memchr(s + e, ']', len - e);

			if (close) {
				arg_s = e + 1;
				arg_e = (size_t)(close - s);
			}
		}
		/* The longest known field name at this position (Falco's greedy match). */
		for (size_t k = e; k > i + 1; k--) {
			if (k != e && s[k] != '.')
				continue;
			if (k - i - 1 >= sizeof(name))
				continue;
			memcpy(name, s + i + 1, k - i - 1);
			name[k - i - 1] = '\0';
			if (arg_e && k == e && arg_e - arg_s < sizeof(argbuf)) {
				memcpy(argbuf, s + arg_s, arg_e - arg_s);
				argbuf[arg_e - arg_s] = '\0';
				d = rules_resolve_field(fs, name, argbuf, &arg, err, sizeof(err));
			} else {
				d = rules_resolve_field(fs, name, NULL, &arg, err, sizeof(err));
			}
			if (d) {
				if (k != e)
					arg_e = 0;
				e = k;
				break;
			}
		}
		if (!d) {
			size_t nl = e - i - 1 < sizeof(name) ? e - i - 1 : sizeof(name) - 1;
			const char **names = malloc((fs->n_fields + 1) * sizeof(*names));
			const char *pick = NULL;
			char sug[300] = "";

			memcpy(name, s + i + 1, nl);
			name[nl] = '\0';
			if (names) {
				for (size_t k = 0; k < fs->n_fields; k++)
					names[k] = fs->fields[k].name;
				pick = suggest_closest(name, names, fs->n_fields);
				free(names);
			}
			if (pick)
				snprintf(sug, sizeof(sug), " (did you mean %s?)", pick);
			if (!strncmp(err, "unknown field", 13))
				report(r, rule, i, "unknown field", name, sug);
			else
				report(r, rule, i, err, name, "");
			fmt_free(f);
			return NULL;
		}
		if (arg_e)
			e = arg_e + 1;
		slot = rules_slot(r, rule->src_index, d, &arg, NULL, 0);
		if (slot < 0 || add_seg(f, lit, start - lit, slot, s + i + 1, e - i - 1))
			goto nomem;
		lit = i = e;
	}
	if (add_seg(f, lit, len - lit, -1, NULL, 0))
		goto nomem;
	if (fs->time_field) {
		const struct field_def *d = field_source_find(fs, fs->time_field);
		struct field_arg none = { 0 };

		if (d) {
			f->time_slot = rules_slot(r, rule->src_index, d, &none, NULL, 0);
			if (f->time_slot < 0)
				goto nomem;
		}
	}
	return f;
nomem:
	fmt_free(f);
	rules_diag(r, RULES_ERROR, &rule->loc, NULL, "out of memory");
	return NULL;
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static json_t *to_json(const struct field_value *v)
{
	char buf[128];
	json_t *a;

	if (!v)
		return json_null();
	switch (v->type) {
	case FIELD_STRING:
		return json_stringn_nocheck(v->str.p, v->str.len);
	case FIELD_INT:
		return json_integer((json_int_t)v->i);
	case FIELD_BOOL:
		return json_boolean(v->b);
	case FIELD_LIST:
		a = json_array();
		for (size_t i = 0; a && i < v->list.n; i++)
			if (json_array_append_new(a, json_stringn_nocheck(v->list.v[i],
									  v->list.lens[i]))) {
				json_decref(a);
				return NULL;
			}
		return a;
	case FIELD_IPADDR:
	case FIELD_IPNET:
		value_to_text(v, buf, sizeof(buf));
		return json_string(buf);
	default:
		return json_integer((json_int_t)v->u);
	}
}

int rules_format(struct rules_eval *ev, const struct rule *rule, const void *event, char **text,
		 json_t **fields)
{
	const struct fmt *f = rule->fmt;
	struct sbuf b = { 0 };
	json_t *obj = NULL;
	char small[128];

	*text = NULL;
	if (fields)
		*fields = NULL;
	if (!f)
		return -EINVAL;
	if (fields && !(obj = json_object()))
		return -ENOMEM;
	sb_add(&b, "", 0);
	for (size_t i = 0; i < f->n; i++) {
		const struct fmt_seg *s = &f->segs[i];
		const struct field_value *v;

		sb_add(&b, f->text + s->lit_off, s->lit_len);
		if (s->slot < 0)
			continue;
		v = eval_slot(ev, s->slot, event);
		if (!v) {
			sb_add(&b, "<NA>", 4);
		} else if (v->type == FIELD_STRING) {
			sb_add(&b, v->str.p, v->str.len);
		} else {
			int n = value_to_text(v, small, sizeof(small));

			if (n >= (int)sizeof(small)) {
				char *big = malloc((size_t)n + 1);

				if (!big) {
					b.oom = true;
					break;
				}
				value_to_text(v, big, (size_t)n + 1);
				sb_add(&b, big, (size_t)n);
				free(big);
			} else if (n > 0) {
				sb_add(&b, small, (size_t)n);
			}
		}
		if (obj && json_object_set_new(obj, s->key, to_json(v)))
			b.oom = true;
	}
	if (obj && f->time_slot >= 0) {
		const struct field_value *v = eval_slot(ev, f->time_slot, event);

		if (json_object_set_new(obj, "evt.time",
					v ? json_integer((json_int_t)v->u) : json_null()))
			b.oom = true;
	}
	if (b.oom) {
		free(b.p);
		json_decref(obj);
		return -ENOMEM;
	}
	*text = b.p;
	if (fields)
		*fields = obj;
	return 0;
}
