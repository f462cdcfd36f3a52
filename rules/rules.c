// SPDX-License-Identifier: Apache-2.0
/* The ruleset object: lifecycle, diagnostics, introspection. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/internal.h"

static void default_report(void *ctx, const struct rules_diag *d)
{
	FILE *out = ctx ? ctx : stderr;

	if (d->file && d->line)
		fprintf(out, "%s:%d:%d: ", d->file, d->line, d->column);
	else if (d->file)
		fprintf(out, "%s: ", d->file);
	fprintf(out, "%s: ", d->severity == RULES_ERROR ? "error" : "warning");
	if (d->item)
		fprintf(out, "%s: ", d->item);
	fprintf(out, "%s\n", d->msg);
}

struct rules *rules_new(void)
{
	struct rules *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->report = default_report;
	r->matching = RULES_MATCH_FIRST;
	return r;
}

void strvec_clear(struct strvec *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int strvec_push(struct strvec *v, const char *s, size_t len)
{
	char **nv, *d;

	if (v->n >= SIZE_MAX / sizeof(*nv) - 1)
		return -ENOMEM;
	d = malloc(len + 1);
	if (!d)
		return -ENOMEM;
	memcpy(d, s, len);
	d[len] = '\0';
	nv = realloc(v->v, (v->n + 1) * sizeof(*nv));
	if (!nv) {
		free(d);
		return -ENOMEM;
	}
	v->v = nv;
	v->v[v->n++] = d;
	return 0;
}

void ctext_clear(struct ctext *t)
{
	free(t->s);
	free(t->pieces);
	memset(t, 0, sizeof(*t));
}

int ctext_append(struct ctext *t, const char *sep, const char *s, size_t len,
		 const struct src_loc *loc)
{
	size_t sl = t->len && sep ? strlen(sep) : 0;
	struct text_piece *p;
	char *ns;

	ns = realloc(t->s, t->len + sl + len + 1);
	if (!ns)
		return -ENOMEM;
	t->s = ns;
	p = realloc(t->pieces, (t->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->pieces = p;
	if (sl)
		memcpy(t->s + t->len, sep, sl);
	t->len += sl;
	p[t->n].off = t->len;
	p[t->n].loc = *loc;
	t->n++;
	memcpy(t->s + t->len, s, len);
	t->len += len;
	t->s[t->len] = '\0';
	return 0;
}

void exception_clear(struct exception_def *e)
{
	size_t n = e->n_vals * (e->fields.n ? e->fields.n : 1);

	free(e->name);
	for (size_t i = 0; i < n; i++)
		strvec_clear(&e->vals[i]);
	strvec_clear(&e->fields);
	strvec_clear(&e->comps);
	free(e->vals);
	memset(e, 0, sizeof(*e));
}

void rule_free_compiled(struct rule *rule)
{
	cnode_free(rule->root);
	rule->root = NULL;
	for (size_t i = 0; i < rule->n_res; i++)
		pcre2_code_free(rule->res[i]);
	free(rule->res);
	rule->res = NULL;
	rule->n_res = 0;
	free(rule->flat);
	rule->flat = NULL;
	for (size_t i = 0; i < rule->n_blocks; i++)
		free(rule->blocks[i]);
	free(rule->blocks);
	rule->blocks = NULL;
	rule->n_blocks = 0;
	free(rule->tflat);
	rule->tflat = NULL;
	free(rule->types);
	rule->types = NULL;
	fmt_free(rule->fmt);
	rule->fmt = NULL;
	rule->compiled = false;
}

void rule_destroy(struct rule *rule)
{
	if (!rule)
		return;
	rule_free_compiled(rule);
	free(rule->name);
	free(rule->desc);
	ctext_clear(&rule->cond);
	ctext_clear(&rule->output);
	free(rule->source);
	strvec_clear(&rule->tags);
	strvec_clear(&rule->actions);
	for (size_t i = 0; i < rule->n_exc; i++)
		exception_clear(&rule->exc[i]);
	free(rule->exc);
	free(rule);
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_rules; i++)
		rule_destroy(r->rules[i]);
	free(r->rules);
	for (size_t i = 0; i < r->n_lists; i++) {
		free(r->lists[i].name);
		strvec_clear(&r->lists[i].items);
	}
	free(r->lists);
	for (size_t i = 0; i < r->n_macros; i++) {
		free(r->macros[i].name);
		ctext_clear(&r->macros[i].cond);
		cond_free(r->macros[i].ast);
	}
	free(r->macros);
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].name);
		free(r->files[i].buf);
	}
	free(r->files);
	for (size_t i = 0; i < r->n_slots; i++)
		if (r->slots[i].arg.present)
			free((char *)r->slots[i].arg.key);
	free(r->slots);
	for (size_t s = 0; r->index && s < r->n_sources; s++) {
		for (size_t t = 0; r->index[s] && t < r->sources[s]->n_event_types; t++)
			free(r->index[s][t].ents);
		free(r->index[s]);
	}
	free(r->index);
	free(r->sources);
	free(r);
}

void rules_set_reporter(struct rules *r, rules_report_fn fn, void *ctx)
{
	r->report = fn ? fn : default_report;
	r->report_ctx = fn ? ctx : NULL;
}

void rules_set_matching(struct rules *r, enum rules_matching m)
{
	r->matching = m;
}

int rules_add_source(struct rules *r, const struct field_source *src)
{
	const struct field_source **s;

	if (r->n_files || r->compiled)
		return -EBUSY;
	if (rules_source_index(r, src->name) >= 0)
		return -EEXIST;
	s = realloc(r->sources, (r->n_sources + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	r->sources = s;
	r->sources[r->n_sources] = src;
	return (int)r->n_sources++;
}

size_t rules_source_count(const struct rules *r)
{
	return r->n_sources;
}

const struct field_source *rules_source_at(const struct rules *r, size_t i)
{
	return i < r->n_sources ? r->sources[i] : NULL;
}

int rules_source_index(const struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->n_sources; i++)
		if (!strcmp(r->sources[i]->name, name))
			return (int)i;
	return -ENOENT;
}

static void emit(struct rules *r, enum rules_severity sev, const char *file, int line, int col,
		 const char *item, const char *msg)
{
	struct rules_diag d = {
		.severity = sev, .file = file, .line = line, .column = col, .item = item, .msg = msg
	};

	if (sev == RULES_ERROR)
		r->n_err++;
	else
		r->n_warn++;
	r->report(r->report_ctx, &d);
}

void rules_diag(struct rules *r, enum rules_severity sev, const struct src_loc *loc,
		const char *item, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	const char *file = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (loc && loc->file >= 0 && (size_t)loc->file < r->n_files)
		file = r->files[loc->file].name;
	emit(r, sev, file, loc && file ? loc->line : 0, loc && file ? loc->col : 0, item, msg);
}

void rules_diag_file(struct rules *r, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(r, RULES_ERROR, path, 0, 0, NULL, msg);
}

/*
 * Map offset `rel` inside a scalar's value back to the file: walk value and source together,
 * skipping what YAML folded away (indentation, line breaks, quotes, escapes).
 */
static void map_pos(const struct src_file *f, const struct src_loc *loc, const char *val,
		    size_t rel, int *line, int *col)
{
	size_t j = loc->start, end = loc->end < f->len ? loc->end : f->len;
	size_t i = 0;

	if (loc->style == 4 || loc->style == 5) {
		/* literal / folded block: content starts after the header line */
		while (j < end && f->buf[j] != '\n')
			j++;
		while (j < end && (f->buf[j] == '\n' || f->buf[j] == ' '))
			j++;
	} else if (loc->style == 2 || loc->style == 3) {
		j++;
	}
	while (i < rel && j < end) {
		char s = f->buf[j], v = val[i];

		if (s == v) {
			i++;
			j++;
		} else if (s == ' ' || s == '\n' || s == '\r' || s == '\t' || s == '\\' ||
			   s == '\'' || s == '"') {
			j++;
		} else if (v == ' ' || v == '\n') {
			i++;
		} else {
			i++;
			j++;
		}
	}
	*line = 1;
	*col = 1;
	for (size_t k = 0; k < j && k < f->len; k++) {
		if (f->buf[k] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

void rules_diag_text(struct rules *r, enum rules_severity sev, const struct ctext *t, size_t off,
		     const char *item, const char *fmt, ...)
{
	const struct text_piece *p = NULL;
	const char *file = NULL;
	char msg[1024];
	int line = 0, col = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; t && i < t->n; i++)
		if (t->pieces[i].off <= off || !p)
			p = &t->pieces[i];
	if (p && p->loc.file >= 0 && (size_t)p->loc.file < r->n_files) {
		const struct src_file *f = &r->files[p->loc.file];

		file = f->name;
		map_pos(f, &p->loc, t->s + p->off, off >= p->off ? off - p->off : 0, &line, &col);
	}
	emit(r, sev, file, line, col, item, msg);
}

struct list_def *rules_list_visible(struct rules *r, const char *name, unsigned visibility)
{
	for (size_t i = 0; i < r->n_lists; i++)
		if (r->lists[i].index < visibility && !strcmp(r->lists[i].name, name))
			return &r->lists[i];
	return NULL;
}

struct macro_def *rules_macro_visible(struct rules *r, const char *name, unsigned visibility)
{
	for (size_t i = 0; i < r->n_macros; i++)
		if (r->macros[i].index < visibility && !strcmp(r->macros[i].name, name))
			return &r->macros[i];
	return NULL;
}

int rules_compile(struct rules *r)
{
	int err;

	if (r->compiled)
		return r->compile_failed ? -EINVAL : 0;
	r->compiled = true;
	if (r->n_err) {
		r->compile_failed = true;
		return -EINVAL;
	}
	err = rules_compile_all(r);
	if (err)
		r->compile_failed = true;
	return err;
}

unsigned rules_error_count(const struct rules *r)
{
	return r->n_err;
}

unsigned rules_warning_count(const struct rules *r)
{
	return r->n_warn;
}

size_t rules_count(const struct rules *r)
{
	return r->n_rules;
}

const struct rule *rules_at(const struct rules *r, size_t i)
{
	return i < r->n_rules ? r->rules[i] : NULL;
}

const struct rule *rules_find(const struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (!strcmp(r->rules[i]->name, name))
			return r->rules[i];
	return NULL;
}

const char *rule_name(const struct rule *rule)
{
	return rule->name;
}

const char *rule_desc(const struct rule *rule)
{
	return rule->desc ? rule->desc : "";
}

const char *rule_source(const struct rule *rule)
{
	return rule->source;
}

enum priority rule_priority(const struct rule *rule)
{
	return rule->priority;
}

bool rule_enabled(const struct rule *rule)
{
	return rule->enabled;
}

size_t rule_tag_count(const struct rule *rule)
{
	return rule->tags.n;
}

const char *rule_tag(const struct rule *rule, size_t i)
{
	return i < rule->tags.n ? rule->tags.v[i] : NULL;
}

size_t rule_action_count(const struct rule *rule)
{
	return rule->actions.n;
}

const char *rule_action(const struct rule *rule, size_t i)
{
	return i < rule->actions.n ? rule->actions.v[i] : NULL;
}

bool rule_has_event_type(const struct rule *rule, unsigned type)
{
	if (!rule->types || !rule->compiled || type >= rule->n_types)
		return false;
	return rule->types[type / 64] & (1ull << (type % 64));
}

bool rule_compiled(const struct rule *rule)
{
	return rule->compiled;
}

const char *rule_file(const struct rule *rule)
{
	return rule->file;
}

int rule_line(const struct rule *rule)
{
	return rule->loc.line;
}

void rules_event_types(const struct rules *r, int source_index, uint64_t *bitmap, size_t words)
{
	const struct field_source *fs;

	memset(bitmap, 0, words * sizeof(*bitmap));
	if (source_index < 0 || (size_t)source_index >= r->n_sources)
		return;
	fs = r->sources[source_index];
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct rule *rule = r->rules[i];

		if (!rule->compiled || !rule->enabled || rule->src_index != source_index)
			continue;
		for (size_t w = 0; w < words && w < (fs->n_event_types + 63) / 64; w++)
			bitmap[w] |= rule->types[w];
	}
}
