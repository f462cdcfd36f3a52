// SPDX-License-Identifier: Apache-2.0
/*
 * Rules-file loader: libyaml's document API (marks kept on every node) into lists, macros and
 * rules, applying Falco's item semantics (redefinition, `override`, legacy `append`, enable
 * toggles, exceptions) in file order. Conditions stay text here; compile.c parses them.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/priority.h"
#include "rules/internal.h"

struct loader {
	struct rules *r;
	yaml_document_t *doc;
	int file;
	const char *fname;
	unsigned errs_before;
};

static void loc_of(struct loader *l, const yaml_node_t *n, struct src_loc *loc)
{
	loc->file = l->file;
	loc->line = (int)n->start_mark.line + 1;
	loc->col = (int)n->start_mark.column + 1;
	loc->start = n->start_mark.index;
	loc->end = n->end_mark.index;
	loc->style = n->type == YAML_SCALAR_NODE ? (int)n->data.scalar.style : 0;
}

static yaml_node_t *node(struct loader *l, int id)
{
	return yaml_document_get_node(l->doc, id);
}

static bool is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A YAML null: empty plain scalar, "~" or "null". */
static bool is_null(const yaml_node_t *n)
{
	if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n->data.scalar.length == 0 || !strcmp(sval(n), "~") || !strcmp(sval(n), "null") ||
	       !strcmp(sval(n), "Null") || !strcmp(sval(n), "NULL");
}

static void diag_node(struct loader *l, enum rules_severity sev, const yaml_node_t *n,
		      const char *item, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diag_node(struct loader *l, enum rules_severity sev, const yaml_node_t *n,
		      const char *item, const char *fmt, ...)
{
	struct src_loc loc;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	loc_of(l, n, &loc);
	rules_diag(l->r, sev, &loc, item, "%s", msg);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", "y" };
	static const char *const f[] = { "false", "no", "off", "n" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Scalars of a sequence (or a lone scalar when allow_scalar) into v. */
static int get_strings(struct loader *l, const yaml_node_t *n, struct strvec *v, bool allow_scalar,
		       const char *item, const char *key)
{
	if (is_null(n))
		return 0;
	if (is_scalar(n) && allow_scalar)
		return strvec_push(v, sval(n), n->data.scalar.length) ? -ENOMEM : 0;
	if (n->type != YAML_SEQUENCE_NODE) {
		diag_node(l, RULES_ERROR, n, item, "'%s' must be a list", key);
		return -EINVAL;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = node(l, *it);

		if (!is_scalar(e)) {
			diag_node(l, RULES_ERROR, e, item, "'%s' items must be strings", key);
			return -EINVAL;
		}
		if (strvec_push(v, sval(e), e->data.scalar.length))
			return -ENOMEM;
	}
	return 0;
}

/* The key/value pairs of an item we know, with their nodes (NULL when absent). */
enum key_id {
	K_RULE,
	K_MACRO,
	K_LIST,
	K_DESC,
	K_CONDITION,
	K_OUTPUT,
	K_PRIORITY,
	K_SOURCE,
	K_ENABLED,
	K_TAGS,
	K_EXCEPTIONS,
	K_WARN_EVTTYPES,
	K_SKIP_UNKNOWN,
	K_CAPTURE,
	K_CAPTURE_DURATION,
	K_ACTIONS,
	K_ITEMS,
	K_APPEND,
	K_OVERRIDE,
	K__COUNT,
};

static const char *const key_names[K__COUNT] = {
	"rule",
	"macro",
	"list",
	"desc",
	"condition",
	"output",
	"priority",
	"source",
	"enabled",
	"tags",
	"exceptions",
	"warn_evttypes",
	"skip-if-unknown-filter",
	"capture",
	"capture_duration",
	"actions",
	"items",
	"append",
	"override",
};

struct item {
	yaml_node_t *self;
	yaml_node_t *key[K__COUNT];
	yaml_node_t *val[K__COUNT];
	char name[512];
	char label[600]; /* "rule 'X'" */
};

static const unsigned rule_keys = (1u << K_RULE) | (1u << K_DESC) | (1u << K_CONDITION) |
				  (1u << K_OUTPUT) | (1u << K_PRIORITY) | (1u << K_SOURCE) |
				  (1u << K_ENABLED) | (1u << K_TAGS) | (1u << K_EXCEPTIONS) |
				  (1u << K_WARN_EVTTYPES) | (1u << K_SKIP_UNKNOWN) |
				  (1u << K_CAPTURE) | (1u << K_CAPTURE_DURATION) |
				  (1u << K_ACTIONS) | (1u << K_APPEND) | (1u << K_OVERRIDE);
static const unsigned macro_keys = (1u << K_MACRO) | (1u << K_CONDITION) | (1u << K_APPEND) |
				   (1u << K_OVERRIDE);
static const unsigned list_keys = (1u << K_LIST) | (1u << K_ITEMS) | (1u << K_APPEND) |
				  (1u << K_OVERRIDE);

/* Override modes allowed per key (bit 0 append, bit 1 replace), per item kind. */
static unsigned override_modes(enum key_id kind, enum key_id k)
{
	if (kind == K_LIST)
		return k == K_ITEMS ? 3 : 0;
	if (kind == K_MACRO)
		return k == K_CONDITION ? 3 : 0;
	switch (k) {
	case K_CONDITION:
	case K_OUTPUT:
	case K_DESC:
	case K_TAGS:
	case K_EXCEPTIONS:
		return 3;
	case K_PRIORITY:
	case K_ENABLED:
	case K_WARN_EVTTYPES:
	case K_SKIP_UNKNOWN:
	case K_CAPTURE:
	case K_CAPTURE_DURATION:
		return 2;
	default:
		return 0;
	}
}

static int collect(struct loader *l, yaml_node_t *map, struct item *it, enum key_id kind)
{
	unsigned allowed = kind == K_RULE ? rule_keys : kind == K_MACRO ? macro_keys : list_keys;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		int id = -1;

		if (!is_scalar(k)) {
			diag_node(l, RULES_ERROR, k, it->label, "item keys must be strings");
			return -EINVAL;
		}
		for (int i = 0; i < K__COUNT; i++)
			if (!strcmp(sval(k), key_names[i]))
				id = i;
		if (id < 0 || !(allowed & (1u << id))) {
			diag_node(l, RULES_WARNING, k, it->label, "unknown key '%s'", sval(k));
			continue;
		}
		if (it->key[id]) {
			diag_node(l, RULES_ERROR, k, it->label, "duplicate key '%s'", sval(k));
			return -EINVAL;
		}
		it->key[id] = k;
		it->val[id] = v;
	}
	return 0;
}

static bool need_scalar(struct loader *l, struct item *it, enum key_id k)
{
	if (is_scalar(it->val[k]))
		return true;
	diag_node(l, RULES_ERROR, it->val[k], it->label, "'%s' must be a string", key_names[k]);
	return false;
}

/* override: {key: append|replace}; fills modes[k] = 1 append, 2 replace. */
static int parse_override(struct loader *l, struct item *it, enum key_id kind, int *modes)
{
	yaml_node_t *o = it->val[K_OVERRIDE];

	if (o->type != YAML_MAPPING_NODE) {
		diag_node(l, RULES_ERROR, o, it->label, "'override' must be a mapping");
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = o->data.mapping.pairs.start; p < o->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		int id = -1, mode;

		if (!is_scalar(k) || !is_scalar(v)) {
			diag_node(l, RULES_ERROR, k, it->label,
				  "'override' entries must be 'key: append|replace'");
			return -EINVAL;
		}
		for (int i = 0; i < K__COUNT; i++)
			if (!strcmp(sval(k), key_names[i]))
				id = i;
		if (!strcmp(sval(v), "append")) {
			mode = 1;
		} else if (!strcmp(sval(v), "replace")) {
			mode = 2;
		} else {
			diag_node(l, RULES_ERROR, v, it->label,
				  "invalid override mode '%s' (expected append or replace)",
				  sval(v));
			return -EINVAL;
		}
		if (id < 0 || !(override_modes(kind, id) & mode)) {
			diag_node(l, RULES_ERROR, k, it->label, "key '%s' cannot be %s", sval(k),
				  mode == 1 ? "appended" : "replaced");
			return -EINVAL;
		}
		if (!it->key[id]) {
			diag_node(l, RULES_ERROR, k, it->label,
				  "override of '%s' but the item has no '%s' key", sval(k),
				  sval(k));
			return -EINVAL;
		}
		modes[id] = mode;
	}
	for (int i = 0; i < K__COUNT; i++) {
		if (i == (int)kind || i == K_OVERRIDE || !it->key[i] || modes[i])
			continue;
		diag_node(l, RULES_ERROR, it->key[i], it->label,
			  "key '%s' must be listed in 'override' to change an existing item",
			  key_names[i]);
		return -EINVAL;
	}
	return 0;
}

static int get_append(struct loader *l, struct item *it, bool *append)
{
	*append = false;
	if (!it->key[K_APPEND])
		return 0;
	if (!is_scalar(it->val[K_APPEND]) || parse_bool(sval(it->val[K_APPEND]), append)) {
		diag_node(l, RULES_ERROR, it->val[K_APPEND], it->label,
			  "'append' must be true or false");
		return -EINVAL;
	}
	if (*append && it->key[K_OVERRIDE]) {
		diag_node(l, RULES_ERROR, it->key[K_OVERRIDE], it->label,
			  "'append' and 'override' cannot be used together");
		return -EINVAL;
	}
	return 0;
}

static struct list_def *find_list(struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->n_lists; i++)
		if (!strcmp(r->lists[i].name, name))
			return &r->lists[i];
	return NULL;
}

static struct macro_def *find_macro(struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->n_macros; i++)
		if (!strcmp(r->macros[i].name, name))
			return &r->macros[i];
	return NULL;
}

static struct rule *find_rule(struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (!strcmp(r->rules[i]->name, name))
			return r->rules[i];
	return NULL;
}

static int load_list(struct loader *l, struct item *it)
{
	struct rules *r = l->r;
	struct list_def *d;
	struct strvec items = { 0 };
	int modes[K__COUNT] = { 0 };
	bool append;
	int err;

	if ((err = get_append(l, it, &append)))
		return err;
	if (it->key[K_OVERRIDE] && (err = parse_override(l, it, K_LIST, modes)))
		return err;
	if (!it->key[K_ITEMS]) {
		diag_node(l, RULES_ERROR, it->self, it->label, "missing required key 'items'");
		return -EINVAL;
	}
	if ((err = get_strings(l, it->val[K_ITEMS], &items, false, it->label, "items")))
		goto out;
	d = find_list(r, it->name);
	if (append || modes[K_ITEMS]) {
		if (!d) {
			diag_node(l, RULES_ERROR, it->self, it->label,
				  "list has '%s' but no list by that name already exists",
				  append ? "append" : "override");
			err = -EINVAL;
			goto out;
		}
		if (modes[K_ITEMS] == 2)
			strvec_clear(&d->items);
		for (size_t i = 0; i < items.n; i++)
			if ((err = strvec_push(&d->items, items.v[i], strlen(items.v[i]))))
				goto out;
		d->visibility = ++r->counter;
		goto out;
	}
	if (d) {
		strvec_clear(&d->items);
		d->items = items;
		items = (struct strvec){ 0 };
		loc_of(l, it->self, &d->loc);
		d->visibility = ++r->counter;
		goto out;
	}
	d = realloc(r->lists, (r->n_lists + 1) * sizeof(*d));
	if (!d) {
		err = -ENOMEM;
		goto out;
	}
	r->lists = d;
	d = &r->lists[r->n_lists];
	memset(d, 0, sizeof(*d));
	d->name = strdup(it->name);
	if (!d->name) {
		err = -ENOMEM;
		goto out;
	}
	r->n_lists++;
	d->items = items;
	items = (struct strvec){ 0 };
	loc_of(l, it->self, &d->loc);
	d->index = d->visibility = ++r->counter;
out:
	strvec_clear(&items);
	return err;
}

static int text_of(struct loader *l, yaml_node_t *n, struct ctext *t, const char *sep)
{
	struct src_loc loc;

	loc_of(l, n, &loc);
	return ctext_append(t, sep, sval(n), n->data.scalar.length, &loc);
}

static int load_macro(struct loader *l, struct item *it)
{
	struct rules *r = l->r;
	struct macro_def *d;
	int modes[K__COUNT] = { 0 };
	bool append;
	int err;

	if ((err = get_append(l, it, &append)))
		return err;
	if (it->key[K_OVERRIDE] && (err = parse_override(l, it, K_MACRO, modes)))
		return err;
	if (!it->key[K_CONDITION]) {
		diag_node(l, RULES_ERROR, it->self, it->label, "missing required key 'condition'");
		return -EINVAL;
	}
	if (!need_scalar(l, it, K_CONDITION))
		return -EINVAL;
	d = find_macro(r, it->name);
	if (append || modes[K_CONDITION]) {
		if (!d) {
			diag_node(l, RULES_ERROR, it->self, it->label,
				  "macro has '%s' but no macro by that name already exists",
				  append ? "append" : "override");
			return -EINVAL;
		}
		if (modes[K_CONDITION] == 2)
			ctext_clear(&d->cond);
		d->visibility = ++r->counter;
		return text_of(l, it->val[K_CONDITION], &d->cond, " ");
	}
	if (d) {
		ctext_clear(&d->cond);
		loc_of(l, it->self, &d->loc);
		d->visibility = ++r->counter;
		return text_of(l, it->val[K_CONDITION], &d->cond, NULL);
	}
	d = realloc(r->macros, (r->n_macros + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	r->macros = d;
	d = &r->macros[r->n_macros];
	memset(d, 0, sizeof(*d));
	d->name = strdup(it->name);
	if (!d->name)
		return -ENOMEM;
	r->n_macros++;
	loc_of(l, it->self, &d->loc);
	d->index = d->visibility = ++r->counter;
	return text_of(l, it->val[K_CONDITION], &d->cond, NULL);
}

/* One tuple element: a scalar or a list of scalars. */
static int exc_value(struct loader *l, yaml_node_t *n, struct strvec *out, const char *label)
{
	return get_strings(l, n, out, true, label, "values");
}

static int parse_exception(struct loader *l, yaml_node_t *n, struct exception_def *e,
			   struct exception_def *prev, const char *label)
{
	yaml_node_t *name = NULL, *fields = NULL, *comps = NULL, *values = NULL;
	size_t nf;
	int err;

	if (n->type != YAML_MAPPING_NODE) {
		diag_node(l, RULES_ERROR, n, label, "each exception must be a mapping");
		return -EINVAL;
	}
	loc_of(l, n, &e->loc);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);

		if (!is_scalar(k))
			continue;
		if (!strcmp(sval(k), "name"))
			name = v;
		else if (!strcmp(sval(k), "fields"))
			fields = v;
		else if (!strcmp(sval(k), "comps"))
			comps = v;
		else if (!strcmp(sval(k), "values"))
			values = v;
		else
			diag_node(l, RULES_WARNING, k, label, "unknown exception key '%s'",
				  sval(k));
	}
	if (!name || !is_scalar(name) || !name->data.scalar.length) {
		diag_node(l, RULES_ERROR, n, label, "exception without a 'name'");
		return -EINVAL;
	}
	e->name = strdup(sval(name));
	if (!e->name)
		return -ENOMEM;
	if (fields) {
		e->single = is_scalar(fields);
		if ((err = get_strings(l, fields, &e->fields, true, label, "fields")))
			return err;
	} else if (prev) {
		e->single = prev->single;
		for (size_t i = 0; i < prev->fields.n; i++)
			if (strvec_push(&e->fields, prev->fields.v[i], strlen(prev->fields.v[i])))
				return -ENOMEM;
		for (size_t i = 0; i < prev->comps.n; i++)
			if (strvec_push(&e->comps, prev->comps.v[i], strlen(prev->comps.v[i])))
				return -ENOMEM;
	} else {
		diag_node(l, RULES_ERROR, n, label, "exception '%s' has no 'fields'", e->name);
		return -EINVAL;
	}
	nf = e->fields.n;
	if (!nf) {
		diag_node(l, RULES_ERROR, n, label, "exception '%s' has an empty 'fields'",
			  e->name);
		return -EINVAL;
	}
	if (comps) {
		strvec_clear(&e->comps);
		if ((err = get_strings(l, comps, &e->comps, true, label, "comps")))
			return err;
		if (e->comps.n != nf) {
			diag_node(l, RULES_ERROR, comps, label,
				  "exception '%s': 'fields' and 'comps' have different lengths",
				  e->name);
			return -EINVAL;
		}
		for (size_t i = 0; i < nf; i++) {
			if (cond_op_parse(e->comps.v[i]) < 0 ||
			    cond_op_parse(e->comps.v[i]) == OP_EXISTS) {
				diag_node(l, RULES_ERROR, comps, label,
					  "exception '%s': invalid comparison operator '%s'",
					  e->name, e->comps.v[i]);
				return -EINVAL;
			}
		}
	} else if (!e->comps.n) {
		for (size_t i = 0; i < nf; i++)
			if (strvec_push(&e->comps, e->single ? "in" : "=", e->single ? 2 : 1))
				return -ENOMEM;
	}
	if (!values || is_null(values))
		return 0;
	if (values->type != YAML_SEQUENCE_NODE) {
		diag_node(l, RULES_ERROR, values, label, "exception '%s': 'values' must be a list",
			  e->name);
		return -EINVAL;
	}
	for (yaml_node_item_t *vi = values->data.sequence.items.start;
	     vi < values->data.sequence.items.top; vi++) {
		yaml_node_t *t = node(l, *vi);
		struct strvec *nv;
		size_t i = 0;

		nv = realloc(e->vals, (e->n_vals + 1) * nf * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		e->vals = nv;
		memset(&e->vals[e->n_vals * nf], 0, nf * sizeof(*nv));
		e->n_vals++;
		if (e->single) {
			if ((err = exc_value(l, t, &e->vals[(e->n_vals - 1) * nf], label)))
				return err;
			continue;
		}
		if (t->type != YAML_SEQUENCE_NODE) {
			diag_node(l, RULES_ERROR, t, label,
				  "exception '%s': each value must be a list matching 'fields'",
				  e->name);
			return -EINVAL;
		}
		for (yaml_node_item_t *x = t->data.sequence.items.start;
		     x < t->data.sequence.items.top; x++, i++) {
			if (i >= nf)
				break;
			if ((err = exc_value(l, node(l, *x), &e->vals[(e->n_vals - 1) * nf + i],
					     label)))
				return err;
		}
		if ((size_t)(t->data.sequence.items.top - t->data.sequence.items.start) != nf) {
			diag_node(l, RULES_ERROR, t, label,
				  "exception '%s': value has a different number of items than "
				  "'fields'",
				  e->name);
			return -EINVAL;
		}
	}
	return 0;
}

static struct exception_def *find_exc(struct rule *rule, const char *name)
{
	for (size_t i = 0; i < rule->n_exc; i++)
		if (!strcmp(rule->exc[i].name, name))
			return &rule->exc[i];
	return NULL;
}

/* exceptions: [...] into rule; merge=true appends values to same-named exceptions. */
static int load_exceptions(struct loader *l, struct item *it, struct rule *rule, bool merge)
{
	yaml_node_t *n = it->val[K_EXCEPTIONS];
	int err;

	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE) {
		diag_node(l, RULES_ERROR, n, it->label, "'exceptions' must be a list");
		return -EINVAL;
	}
	for (yaml_node_item_t *x = n->data.sequence.items.start; x < n->data.sequence.items.top;
	     x++) {
		struct exception_def e = { 0 }, *prev = NULL, *ne;
		yaml_node_t *en = node(l, *x);

		/* Peek the name to find the exception being appended to. */
		if (merge && en->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *p = en->data.mapping.pairs.start;
			     p < en->data.mapping.pairs.top; p++) {
				yaml_node_t *k = node(l, p->key), *v = node(l, p->value);

				if (is_scalar(k) && !strcmp(sval(k), "name") && is_scalar(v))
					prev = find_exc(rule, sval(v));
			}
		}
		err = parse_exception(l, en, &e, prev, it->label);
		if (err) {
			exception_clear(&e);
			return err;
		}
		if (prev) {
			size_t nf = prev->fields.n;
			struct strvec *nv;

			if (e.fields.n != nf) {
				diag_node(
					l, RULES_ERROR, en, it->label,
					"exception '%s': appended fields differ from the original",
					e.name);
				exception_clear(&e);
				return -EINVAL;
			}
			nv = realloc(prev->vals, (prev->n_vals + e.n_vals) * nf * sizeof(*nv));
			if (!nv && prev->n_vals + e.n_vals) {
				exception_clear(&e);
				return -ENOMEM;
			}
			prev->vals = nv;
			memcpy(&prev->vals[prev->n_vals * nf], e.vals, e.n_vals * nf * sizeof(*nv));
			prev->n_vals += e.n_vals;
			free(e.vals);
			e.vals = NULL;
			e.n_vals = 0;
			exception_clear(&e);
			continue;
		}
		ne = realloc(rule->exc, (rule->n_exc + 1) * sizeof(*ne));
		if (!ne) {
			exception_clear(&e);
			return -ENOMEM;
		}
		rule->exc = ne;
		rule->exc[rule->n_exc++] = e;
	}
	return 0;
}

static int set_priority(struct loader *l, struct item *it, struct rule *rule)
{
	if (!need_scalar(l, it, K_PRIORITY))
		return -EINVAL;
	if (priority_parse(sval(it->val[K_PRIORITY]), &rule->priority)) {
		diag_node(l, RULES_ERROR, it->val[K_PRIORITY], it->label, "invalid priority '%s'",
			  sval(it->val[K_PRIORITY]));
		return -EINVAL;
	}
	return 0;
}

static int set_bool(struct loader *l, struct item *it, enum key_id k, bool *out)
{
	if (!is_scalar(it->val[k]) || parse_bool(sval(it->val[k]), out)) {
		diag_node(l, RULES_ERROR, it->val[k], it->label, "'%s' must be true or false",
			  key_names[k]);
		return -EINVAL;
	}
	return 0;
}

static int set_string(struct loader *l, struct item *it, enum key_id k, char **out, bool append)
{
	char *s;

	if (!need_scalar(l, it, k))
		return -EINVAL;
	if (append && *out) {
		size_t a = strlen(*out), b = it->val[k]->data.scalar.length;

		s = malloc(a + b + 2);
		if (!s)
			return -ENOMEM;
		memcpy(s, *out, a);
		s[a] = ' ';
		memcpy(s + a + 1, sval(it->val[k]), b + 1);
	} else {
		s = strdup(sval(it->val[k]));
		if (!s)
			return -ENOMEM;
	}
	free(*out);
	*out = s;
	return 0;
}

/* Apply the keys of `it` to rule; modes[k]: 0 set (new rule), 1 append, 2 replace. */
static int apply_rule_keys(struct loader *l, struct item *it, struct rule *rule, const int *modes)
{
	int err = 0;

	if (it->key[K_DESC] && (err = set_string(l, it, K_DESC, &rule->desc, modes[K_DESC] == 1)))
		return err;
	if (it->key[K_CONDITION]) {
		if (!need_scalar(l, it, K_CONDITION))
			return -EINVAL;
		if (modes[K_CONDITION] != 1)
			ctext_clear(&rule->cond);
		if ((err = text_of(l, it->val[K_CONDITION], &rule->cond, " ")))
			return err;
	}
	if (it->key[K_OUTPUT]) {
		if (!need_scalar(l, it, K_OUTPUT))
			return -EINVAL;
		if (modes[K_OUTPUT] != 1)
			ctext_clear(&rule->output);
		if ((err = text_of(l, it->val[K_OUTPUT], &rule->output, " ")))
			return err;
	}
	if (it->key[K_PRIORITY] && (err = set_priority(l, it, rule)))
		return err;
	if (it->key[K_SOURCE]) {
		if (modes[K_SOURCE] || !need_scalar(l, it, K_SOURCE))
			return -EINVAL;
		free(rule->source);
		rule->source = strdup(sval(it->val[K_SOURCE]));
		if (!rule->source)
			return -ENOMEM;
	}
	if (it->key[K_ENABLED] && (err = set_bool(l, it, K_ENABLED, &rule->enabled)))
		return err;
	if (it->key[K_WARN_EVTTYPES] &&
	    (err = set_bool(l, it, K_WARN_EVTTYPES, &rule->warn_evttypes)))
		return err;
	if (it->key[K_SKIP_UNKNOWN] && (err = set_bool(l, it, K_SKIP_UNKNOWN, &rule->skip_unknown)))
		return err;
	if (it->key[K_CAPTURE] && (err = set_bool(l, it, K_CAPTURE, &rule->capture)))
		return err;
	if (it->key[K_CAPTURE_DURATION]) {
		char *end;
		long long v;

		if (!need_scalar(l, it, K_CAPTURE_DURATION))
			return -EINVAL;
		errno = 0;
		v = strtoll(sval(it->val[K_CAPTURE_DURATION]), &end, 10);
		if (errno || *end || end == sval(it->val[K_CAPTURE_DURATION]) || v < 0) {
			diag_node(l, RULES_ERROR, it->val[K_CAPTURE_DURATION], it->label,
				  "'capture_duration' must be a number of milliseconds");
			return -EINVAL;
		}
		rule->capture_duration = v;
	}
	if (it->key[K_TAGS]) {
		if (modes[K_TAGS] != 1)
			strvec_clear(&rule->tags);
		if ((err = get_strings(l, it->val[K_TAGS], &rule->tags, false, it->label, "tags")))
			return err;
	}
	if (it->key[K_ACTIONS]) {
		strvec_clear(&rule->actions);
		if ((err = get_strings(l, it->val[K_ACTIONS], &rule->actions, false, it->label,
				       "actions")))
			return err;
	}
	if (it->key[K_EXCEPTIONS]) {
		if (modes[K_EXCEPTIONS] != 1) {
			for (size_t i = 0; i < rule->n_exc; i++)
				exception_clear(&rule->exc[i]);
			free(rule->exc);
			rule->exc = NULL;
			rule->n_exc = 0;
		}
		if ((err = load_exceptions(l, it, rule, modes[K_EXCEPTIONS] == 1)))
			return err;
	}
	return 0;
}

static int load_rule(struct loader *l, struct item *it)
{
	struct rules *r = l->r;
	struct rule *rule, *old, **nr;
	int modes[K__COUNT] = { 0 };
	bool append;
	size_t nkeys = 0;
	int err;

	if ((err = get_append(l, it, &append)))
		return err;
	for (int i = 0; i < K__COUNT; i++)
		nkeys += it->key[i] != NULL;
	old = find_rule(r, it->name);

	/* rule + enabled only: toggle an existing rule. */
	if (nkeys == 2 && it->key[K_ENABLED]) {
		bool en;

		if (set_bool(l, it, K_ENABLED, &en))
			return -EINVAL;
		if (!old) {
			diag_node(l, RULES_ERROR, it->self, it->label,
				  "rule has 'enabled' but no rule by that name already exists");
			return -EINVAL;
		}
		old->enabled = en;
		return 0;
	}
	if (it->key[K_OVERRIDE]) {
		if ((err = parse_override(l, it, K_RULE, modes)))
			return err;
	} else if (append) {
		/* Legacy append: condition and exceptions append, other keys are ignored. */
		modes[K_CONDITION] = modes[K_EXCEPTIONS] = 1;
		for (int i = 0; i < K__COUNT; i++) {
			if (!it->key[i] || i == K_RULE || i == K_APPEND || i == K_CONDITION ||
			    i == K_EXCEPTIONS)
				continue;
			diag_node(l, RULES_WARNING, it->key[i], it->label,
				  "key '%s' is ignored by 'append: true' (use 'override')",
				  key_names[i]);
			it->key[i] = NULL;
		}
	}
	if (it->key[K_OVERRIDE] || append) {
		if (!old) {
			diag_node(l, RULES_ERROR, it->self, it->label,
				  "rule has '%s' but no rule by that name already exists",
				  append ? "append" : "override");
			return -EINVAL;
		}
		err = apply_rule_keys(l, it, old, modes);
		old->visibility = ++r->counter;
		return err;
	}
	static const enum key_id req[] = { K_CONDITION, K_OUTPUT, K_DESC, K_PRIORITY };
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		if (!it->key[req[i]]) {
			diag_node(l, RULES_ERROR, it->self, it->label, "missing required key '%s'",
				  key_names[req[i]]);
			return -EINVAL;
		}
	}
	rule = calloc(1, sizeof(*rule));
	if (!rule)
		return -ENOMEM;
	rule->enabled = true;
	rule->warn_evttypes = true;
	rule->src_index = -1;
	rule->name = strdup(it->name);
	rule->source = strdup("syscall");
	if (!rule->name || !rule->source) {
		rule_destroy(rule);
		return -ENOMEM;
	}
	loc_of(l, it->self, &rule->loc);
	rule->file = r->files[l->file].name;
	err = apply_rule_keys(l, it, rule, modes);
	if (err) {
		rule_destroy(rule);
		return err;
	}
	if (old) {
		/* Redefinition: replaces the rule where it was first defined. */
		rule->index = old->index;
		rule->order = old->order;
		rule->visibility = ++r->counter;
		r->rules[old->order] = rule;
		rule_destroy(old);
		return 0;
	}
	nr = realloc(r->rules, (r->n_rules + 1) * sizeof(*nr));
	if (!nr) {
		rule_destroy(rule);
		return -ENOMEM;
	}
	r->rules = nr;
	rule->index = rule->visibility = ++r->counter;
	rule->order = r->n_rules;
	r->rules[r->n_rules++] = rule;
	return 0;
}

static int check_version(struct loader *l, yaml_node_t *v, const char *what)
{
	const char *s;
	unsigned a, b, c;
	char extra;

	if (!is_scalar(v)) {
		diag_node(l, RULES_ERROR, v, NULL, "'%s' must be a version", what);
		return -EINVAL;
	}
	s = sval(v);
	/* An integer N means 0.N.0; we accept any version. */
	if (sscanf(s, "%u%c", &a, &extra) == 1 || sscanf(s, "%u.%u.%u%c", &a, &b, &c, &extra) == 3)
		return 0;
	diag_node(l, RULES_WARNING, v, NULL, "'%s': cannot parse version '%s'", what, s);
	return 0;
}

static int load_plugins(struct loader *l, yaml_node_t *v)
{
	/* Recorded for the user's information only: lanner provides those fields itself. */
	if (v->type != YAML_SEQUENCE_NODE && !is_null(v)) {
		diag_node(l, RULES_WARNING, v, NULL, "'required_plugin_versions' should be a list");
	}
	return 0;
}

static int load_item(struct loader *l, yaml_node_t *n)
{
	struct item it = { .self = n };
	enum key_id kind;
	yaml_node_t *namev = NULL;
	const char *kname = NULL;
	int err;

	if (n->type != YAML_MAPPING_NODE) {
		diag_node(l, RULES_ERROR, n, NULL,
			  "unexpected element: rules items must be mappings");
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key);

		if (!is_scalar(k))
			continue;
		if (!strcmp(sval(k), "required_engine_version"))
			return check_version(l, node(l, p->value), "required_engine_version");
		if (!strcmp(sval(k), "required_plugin_versions"))
			return load_plugins(l, node(l, p->value));
		if (!strcmp(sval(k), "rule") || !strcmp(sval(k), "macro") ||
		    !strcmp(sval(k), "list")) {
			kname = sval(k);
			namev = node(l, p->value);
			break;
		}
	}
	if (!kname) {
		diag_node(l, RULES_WARNING, n, NULL,
			  "unknown top-level item (no rule, macro or list key)");
		return 0;
	}
	kind = kname[0] == 'r' ? K_RULE : kname[0] == 'm' ? K_MACRO : K_LIST;
	if (!is_scalar(namev) || !namev->data.scalar.length) {
		diag_node(l, RULES_ERROR, namev, NULL, "%s name must be a non-empty string", kname);
		return -EINVAL;
	}
	snprintf(it.name, sizeof(it.name), "%s", sval(namev));
	snprintf(it.label, sizeof(it.label), "%s '%s'", kname, it.name);
	if ((err = collect(l, n, &it, kind)))
		return err;
	if (kind == K_LIST)
		return load_list(l, &it);
	if (kind == K_MACRO)
		return load_macro(l, &it);
	return load_rule(l, &it);
}

static int load_doc(struct loader *l)
{
	yaml_node_t *root = yaml_document_get_root_node(l->doc);
	int err = 0;

	if (!root || is_null(root))
		return 0;
	if (root->type != YAML_SEQUENCE_NODE) {
		diag_node(l, RULES_ERROR, root, NULL, "rules content is not a YAML list of items");
		return -EINVAL;
	}
	for (yaml_node_item_t *x = root->data.sequence.items.start;
	     x < root->data.sequence.items.top; x++) {
		int e = load_item(l, node(l, *x));

		if (e == -ENOMEM)
			return e;
		if (e)
			err = e;
	}
	return err;
}

int rules_load_buffer(struct rules *r, const char *name, const char *buf, size_t len)
{
	struct loader l = { .r = r, .fname = name };
	struct src_file *f;
	yaml_parser_t parser;
	int err = 0;

	if (r->compiled) {
		rules_diag_file(r, name, "cannot load rules after compiling");
		return -EINVAL;
	}
	f = realloc(r->files, (r->n_files + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	r->files = f;
	f = &r->files[r->n_files];
	f->name = strdup(name);
	f->buf = malloc(len + 1);
	if (!f->name || !f->buf) {
		free(f->name);
		free(f->buf);
		return -ENOMEM;
	}
	memcpy(f->buf, buf, len);
	f->buf[len] = '\0';
	f->len = len;
	l.file = (int)r->n_files++;
	l.errs_before = r->n_err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)f->buf, len);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;

		if (!yaml_parser_load(&parser, &doc)) {
			struct src_loc loc = { .file = l.file,
					       .line = (int)parser.problem_mark.line + 1,
					       .col = (int)parser.problem_mark.column + 1 };

			if (parser.error == YAML_MEMORY_ERROR) {
				err = -ENOMEM;
				break;
			}
			rules_diag(r, RULES_ERROR, &loc, NULL, "invalid YAML: %s%s%s",
				   parser.problem ? parser.problem : "syntax error",
				   parser.context ? " " : "", parser.context ? parser.context : "");
			err = -EINVAL;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		l.doc = &doc;
		err = load_doc(&l);
		yaml_document_delete(&doc);
		if (err == -ENOMEM)
			break;
	}
	yaml_parser_delete(&parser);
	if (err == -ENOMEM)
		return err;
	return r->n_err > l.errs_before ? -EINVAL : 0;
}

int rules_load_file(struct rules *r, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		rules_diag_file(r, path, "cannot open: %s", strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		rules_diag_file(r, path, "not a regular file");
		goto err_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto err_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			rules_diag_file(r, path, "read: %s", strerror(-err));
			goto err_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	err = rules_load_buffer(r, path, buf, got);
	free(buf);
	return err;
err_free:
	free(buf);
err_close:
	close(fd);
	return err;
}
