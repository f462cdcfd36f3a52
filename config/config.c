// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config/config.h"
#include "config/suggest.h"

/* Limits that keep hostile input from exhausting memory or stack (alias bombs included). */
#define MAX_DEPTH 64
#define MAX_VALUES 10000 /* per loaded buffer, all its documents */
#define MAX_FILE_SIZE (4u << 20)
#define SHOWN_MAX 64

enum src { SRC_FILE, SRC_SET };
enum kind { KIND_SCALAR, KIND_LIST, KIND_MAP };

/* One value from a file or a -o override, under its dotted path. */
struct entry {
	char *path; /* as written */
	char *lcpath; /* lower case, for matching */
	char *where; /* "file:line" or "-o key=value" */
	enum src src;
	enum kind kind;
	bool dead; /* dropped by a later duplicate key in the same mapping */
	bool has_parent; /* nested in a YAML mapping that has its own entry */
	char *text; /* KIND_SCALAR */
	size_t n; /* list items, or scalar pairs of a mapping */
	size_t cap;
	char **items; /* list items, or mapping keys as written */
	char **values; /* mapping values */
	size_t nchildren; /* KIND_MAP: keys of the YAML mapping */
	char *bad_where; /* first non-scalar item of a list or mapping */
	const char *bad_what; /* "a mapping", "a list" */
};

struct envvar {
	char *where; /* "env NAME"; the name is where + 4 */
	char *value;
};

struct decl {
	char *key; /* full dotted key, lower case */
	char *env;
	const struct config_option *opt;
};

/* Memory handed out by config_bind(), freed with the config. */
struct blob {
	struct blob *next;
	max_align_t data[];
};

struct config {
	struct entry **e;
	size_t ne, cap_e;
	struct envvar *env;
	size_t nenv, cap_env;
	struct decl *d;
	size_t nd, cap_d;
	char **seen; /* reported diagnostics, so check + bind do not repeat one */
	size_t nseen, cap_seen;
	size_t *seen_slots; /* open addressing over seen[]: index + 1, 0 = free */
	size_t seen_cap; /* power of two */
	struct blob *blobs;
	config_report_fn report;
	void *report_ctx;
};

struct val {
	const char *text; /* scalar text; NULL for a YAML list or mapping */
	const struct entry *e; /* the file / -o entry, or NULL */
	const char *where;
};

static const char *const kind_names[] = {
	[KIND_SCALAR] = "a scalar",
	[KIND_LIST] = "a list",
	[KIND_MAP] = "a mapping",
};

/* Grow an array to hold need elements; returns the (maybe moved) array or NULL. */
static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return arr;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	p = reallocarray(arr, ncap, size);
	if (!p)
		return NULL;
	*cap = ncap;
	return p;
}

static char *lower_dup(const char *s)
{
	char *r = strdup(s);

	if (r)
		for (char *p = r; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return r;
}

static char *env_name(const char *key)
{
	char *r = strdup(key);

	if (r)
		for (char *p = r; *p; p++)
			*p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
	return r;
}

/* User text quoted in a message: bounded, without control characters. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 4 < len && i < SHOWN_MAX; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static void default_report(void *ctx, enum config_severity sev, const char *where, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", where, sev == CONFIG_ERROR ? "error" : "warning", msg);
}

/* FNV-1a, optionally folding ASCII case. */
static uint64_t hash_str(const char *s, size_t len, bool fold)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		h ^= fold ? (unsigned char)tolower(c) : c;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void seen_insert(struct config *cfg, size_t i)
{
	for (size_t j = hash_str(cfg->seen[i], strlen(cfg->seen[i]), false);; j++) {
		size_t *slot = &cfg->seen_slots[j & (cfg->seen_cap - 1)];

		if (!*slot) {
			*slot = i + 1;
			return;
		}
	}
}

/* Index seen[i] (i == nseen) in the hash, growing the table to stay under half load. */
static int seen_index(struct config *cfg, size_t i)
{
	if ((i + 1) * 2 > cfg->seen_cap) {
		size_t cap = cfg->seen_cap ? cfg->seen_cap * 2 : 64;
		size_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		free(cfg->seen_slots);
		cfg->seen_slots = slots;
		cfg->seen_cap = cap;
		for (size_t j = 0; j < i; j++)
			seen_insert(cfg, j);
	}
	seen_insert(cfg, i);
	return 0;
}

static bool seen_has(const struct config *cfg, const char *key)
{
	if (!cfg->seen_cap)
		return false;
	for (size_t j = hash_str(key, strlen(key), false);; j++) {
		size_t slot = cfg->seen_slots[j & (cfg->seen_cap - 1)];

		if (!slot)
			return false;
		if (!strcmp(cfg->seen[slot - 1], key))
			return true;
	}
}

/* Report a diagnostic once: config_check() and config_bind() meet the same values. */
__attribute__((format(printf, 4, 5))) static void
report(struct config *cfg, enum config_severity sev, const char *where, const char *fmt, ...)
{
	char msg[1024], *key;
	va_list ap;
	char **p;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&key, "%d%s\n%s", (int)sev, where, msg) >= 0) {
		if (seen_has(cfg, key)) {
			free(key);
			return;
		}
		p = grow(cfg->seen, &cfg->cap_seen, cfg->nseen + 1, sizeof(*p));
		if (p) {
			cfg->seen = p;
			cfg->seen[cfg->nseen] = key;
			/* Without an index entry the line is merely not deduplicated. */
			if (!seen_index(cfg, cfg->nseen))
				cfg->nseen++;
			else
				free(key);
		} else {
			free(key);
		}
	}
	cfg->report(cfg->report_ctx, sev, where, msg);
}

static void *arena_alloc(struct config *cfg, size_t size)
{
	struct blob *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = cfg->blobs;
	cfg->blobs = b;
	return b->data;
}

struct config *config_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->report = default_report;
	return cfg;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->items[i]);
		if (e->values)
			free(e->values[i]);
	}
	free(e->items);
	free(e->values);
	free(e->path);
	free(e->lcpath);
	free(e->where);
	free(e->text);
	free(e->bad_where);
	free(e);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->ne; i++)
		entry_free(cfg->e[i]);
	free(cfg->e);
	for (size_t i = 0; i < cfg->nenv; i++) {
		free(cfg->env[i].where);
		free(cfg->env[i].value);
	}
	free(cfg->env);
	for (size_t i = 0; i < cfg->nd; i++) {
		free(cfg->d[i].key);
		free(cfg->d[i].env);
	}
	free(cfg->d);
	for (size_t i = 0; i < cfg->nseen; i++)
		free(cfg->seen[i]);
	free(cfg->seen);
	free(cfg->seen_slots);
	while (cfg->blobs) {
		struct blob *b = cfg->blobs;

		cfg->blobs = b->next;
		free(b);
	}
	free(cfg);
}

void config_set_reporter(struct config *cfg, config_report_fn fn, void *ctx)
{
	cfg->report = fn ? fn : default_report;
	cfg->report_ctx = fn ? ctx : NULL;
}

static char *join_key(const char *prefix, const char *key)
{
	char *r;

	if (!prefix || !*prefix)
		return strdup(key);
	if (asprintf(&r, "%s.%s", prefix, key) < 0)
		return NULL;
	return r;
}

static const struct decl *find_decl(const struct config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->nd; i++)
		if (!strcasecmp(cfg->d[i].key, key))
			return &cfg->d[i];
	return NULL;
}

int config_declare(struct config *cfg, const char *prefix, const struct config_option *table)
{
	size_t start = cfg->nd;
	int err = 0;

	for (const struct config_option *o = table; o->key; o++) {
		struct decl *d;
		char *key;

		if (!*o->key || (o->type == CONFIG_ENUM && !o->choices) ||
		    (o->type == CONFIG_CUSTOM && !o->parse)) {
			err = -EINVAL;
			goto err_rollback;
		}
		key = join_key(prefix, o->key);
		if (!key) {
			err = -ENOMEM;
			goto err_rollback;
		}
		if (find_decl(cfg, key)) {
			free(key);
			err = -EEXIST;
			goto err_rollback;
		}
		d = grow(cfg->d, &cfg->cap_d, cfg->nd + 1, sizeof(*d));
		if (!d) {
			free(key);
			err = -ENOMEM;
			goto err_rollback;
		}
		cfg->d = d;
		d = &cfg->d[cfg->nd];
		d->key = lower_dup(key);
		d->env = env_name(key);
		d->opt = o;
		free(key);
		if (!d->key || !d->env) {
			free(d->key);
			free(d->env);
			err = -ENOMEM;
			goto err_rollback;
		}
		cfg->nd++;
	}
	return 0;

err_rollback:
	while (cfg->nd > start) {
		cfg->nd--;
		free(cfg->d[cfg->nd].key);
		free(cfg->d[cfg->nd].env);
	}
	return err;
}

static struct entry *entry_add(struct config *cfg, enum src src, const char *path, char *where)
{
	struct entry **arr, *e;

	arr = grow(cfg->e, &cfg->cap_e, cfg->ne + 1, sizeof(*arr));
	if (!arr)
		goto err_where;
	cfg->e = arr;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto err_where;
	e->src = src;
	e->where = where;
	e->path = strdup(path);
	e->lcpath = lower_dup(path);
	if (!e->path || !e->lcpath) {
		entry_free(e);
		return NULL;
	}
	cfg->e[cfg->ne++] = e;
	return e;

err_where:
	free(where);
	return NULL;
}

static void entries_truncate(struct config *cfg, size_t n)
{
	while (cfg->ne > n)
		entry_free(cfg->e[--cfg->ne]);
}

/* ---- YAML ---- */

struct loader {
	struct config *cfg;
	const char *name;
	yaml_document_t *doc;
	size_t values;
};

static char *where_at(const struct loader *ld, yaml_mark_t m)
{
	char *r;

	if (asprintf(&r, "%s:%zu", ld->name, m.line + 1) < 0)
		return NULL;
	return r;
}

__attribute__((format(printf, 4, 5))) static int
load_error(struct loader *ld, enum config_severity sev, yaml_mark_t m, const char *fmt, ...)
{
	char where[512], msg[1024];
	va_list ap;

	snprintf(where, sizeof(where), "%s:%zu", ld->name, m.line + 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ld->cfg, sev, where, "%s", msg);
	return -EINVAL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->tag && !strcmp((const char *)n->tag, YAML_NULL_TAG))
		return true;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* The text of a scalar node, "" for null; NULL with *err set on failure. */
static char *scalar_dup(struct loader *ld, const yaml_node_t *n, const char *path, int *err)
{
	size_t len = n->data.scalar.length;
	char *r;

	if (is_null(n))
		len = 0;
	if (memchr(n->data.scalar.value, '\0', len)) {
		*err = load_error(ld, CONFIG_ERROR, n->start_mark, "%s: value contains a NUL byte",
				  path);
		return NULL;
	}
	r = strndup((const char *)n->data.scalar.value, len);
	if (!r)
		*err = -ENOMEM;
	return r;
}

static int add_node(struct loader *ld, yaml_node_t *node, const char *path, yaml_mark_t key_mark,
		    int depth, bool has_parent);

static int map_append(struct entry *m, char *key, char *value)
{
	char **k, **v;
	size_t cap = m->cap;

	k = grow(m->items, &cap, m->n + 1, sizeof(*k));
	if (!k)
		goto err_free;
	m->items = k;
	cap = m->cap;
	v = grow(m->values, &cap, m->n + 1, sizeof(*v));
	if (!v)
		goto err_free;
	m->values = v;
	m->cap = cap;
	m->items[m->n] = key;
	m->values[m->n++] = value;
	return 0;

err_free:
	free(key);
	free(value);
	return -ENOMEM;
}

/* Remember the first non-scalar item of a list or mapping, reported if the key needs scalars. */
static int set_bad(struct loader *ld, struct entry *e, const yaml_node_t *n)
{
	if (e->bad_where)
		return 0;
	e->bad_where = where_at(ld, n->start_mark);
	e->bad_what = n->type == YAML_MAPPING_NODE ? kind_names[KIND_MAP] : kind_names[KIND_LIST];
	return e->bad_where ? 0 : -ENOMEM;
}

/* Per-mapping bookkeeping for duplicate keys. */
struct mapwalk {
	size_t *slots; /* hash of the keys seen so far: pair index + 1, 0 = free */
	size_t cap; /* power of two */
	size_t *first, *last; /* entries created for each pair: [first, last) */
	size_t *mapidx; /* index of the pair in the mapping entry, or SIZE_MAX */
};

static bool same_key(const yaml_node_t *a, const char *key, size_t len)
{
	return a && a->type == YAML_SCALAR_NODE && a->data.scalar.length == len &&
	       !strncasecmp((const char *)a->data.scalar.value, key, len);
}

/*
 * Find an earlier pair with the same key (case-insensitive) and make pair i the one the table
 * points to. Returns the earlier index or SIZE_MAX.
 */
static size_t dup_lookup(struct loader *ld, yaml_node_t *node, struct mapwalk *w, size_t i,
			 const char *key)
{
	yaml_node_pair_t *pairs = node->data.mapping.pairs.start;
	size_t len = strlen(key);

	for (size_t j = hash_str(key, len, true);; j++) {
		size_t *slot = &w->slots[j & (w->cap - 1)];
		size_t prev;

		if (!*slot) {
			*slot = i + 1;
			return SIZE_MAX;
		}
		prev = *slot - 1;
		if (same_key(yaml_document_get_node(ld->doc, pairs[prev].key), key, len)) {
			*slot = i + 1;
			return prev;
		}
	}
}

static int walk_pair(struct loader *ld, yaml_node_t *node, size_t i, struct mapwalk *w,
		     const char *parent, struct entry *pe, int depth)
{
	yaml_node_pair_t *pair = node->data.mapping.pairs.start + i;
	yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);
	yaml_node_t *v = yaml_document_get_node(ld->doc, pair->value);
	char *key = NULL, *path = NULL;
	size_t prev;
	int err = 0;

	if (!k || !v)
		return load_error(ld, CONFIG_ERROR, node->start_mark, "malformed mapping");
	if (k->type != YAML_SCALAR_NODE)
		return load_error(ld, CONFIG_ERROR, k->start_mark,
				  "%s%smapping keys must be scalars, got %s", parent,
				  *parent ? ": " : "",
				  kind_names[k->type == YAML_MAPPING_NODE ? KIND_MAP : KIND_LIST]);
	key = scalar_dup(ld, k, parent, &err);
	if (!key)
		return err;
	if (!*key) {
		err = load_error(ld, CONFIG_ERROR, k->start_mark, "%s%sempty key", parent,
				 *parent ? ": " : "");
		goto out;
	}
	path = join_key(parent, key);
	if (!path) {
		err = -ENOMEM;
		goto out;
	}
	/* Case-insensitive duplicate within this mapping: warn, the last one wins. */
	prev = dup_lookup(ld, node, w, i, key);
	if (prev != SIZE_MAX) {
		load_error(ld, CONFIG_WARNING, k->start_mark,
			   "duplicate key '%s' (the last one wins)", path);
		for (size_t j = w->first[prev]; j < w->last[prev]; j++)
			ld->cfg->e[j]->dead = true;
		if (w->mapidx[prev] != SIZE_MAX) {
			free(pe->items[w->mapidx[prev]]);
			free(pe->values[w->mapidx[prev]]);
			pe->items[w->mapidx[prev]] = NULL;
			pe->values[w->mapidx[prev]] = NULL;
		}
	}
	w->mapidx[i] = SIZE_MAX;
	if (pe && v->type == YAML_SCALAR_NODE) {
		char *value = scalar_dup(ld, v, path, &err);

		if (!value)
			goto out;
		w->mapidx[i] = pe->n;
		err = map_append(pe, key, value);
		key = NULL;
		if (err)
			goto out;
	} else if (pe) {
		err = set_bad(ld, pe, v);
		if (err)
			goto out;
	}
	w->first[i] = ld->cfg->ne;
	err = add_node(ld, v, path, k->start_mark, depth + 1, pe != NULL);
	w->last[i] = ld->cfg->ne;
out:
	free(key);
	free(path);
	return err;
}

static int walk_mapping(struct loader *ld, yaml_node_t *node, const char *parent, struct entry *pe,
			int depth)
{
	size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	struct mapwalk w = { .cap = 8 };
	size_t kept = 0;
	int err = 0;

	while (w.cap < 2 * n)
		w.cap *= 2;
	w.slots = calloc(w.cap, sizeof(*w.slots));
	w.first = calloc(n + 1, sizeof(*w.first));
	w.last = calloc(n + 1, sizeof(*w.last));
	w.mapidx = calloc(n + 1, sizeof(*w.mapidx));
	if (!w.slots || !w.first || !w.last || !w.mapidx) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = walk_pair(ld, node, i, &w, parent, pe, depth);
	/* Drop the scalar pairs that a later duplicate replaced. */
	for (size_t i = 0; pe && i < pe->n; i++) {
		if (!pe->items[i])
			continue;
		pe->items[kept] = pe->items[i];
		pe->values[kept++] = pe->values[i];
	}
	if (pe)
		pe->n = kept;
out:
	free(w.slots);
	free(w.first);
	free(w.last);
	free(w.mapidx);
	return err;
}

static int add_node(struct loader *ld, yaml_node_t *node, const char *path, yaml_mark_t key_mark,
		    int depth, bool has_parent)
{
	char *where, sb[SHOWN_MAX + 8];
	struct entry *e;
	int err = 0;

	if (depth > MAX_DEPTH)
		return load_error(ld, CONFIG_ERROR, key_mark, "%s: nesting deeper than %d levels",
				  shown(path, sb, sizeof(sb)), MAX_DEPTH);
	if (++ld->values > MAX_VALUES)
		return load_error(ld, CONFIG_ERROR, node->start_mark, "more than %d values",
				  MAX_VALUES);
	where = where_at(ld, key_mark);
	if (!where)
		return -ENOMEM;
	e = entry_add(ld->cfg, SRC_FILE, path, where);
	if (!e)
		return -ENOMEM;
	e->has_parent = has_parent;

	switch (node->type) {
	case YAML_SCALAR_NODE:
		e->kind = KIND_SCALAR;
		e->text = scalar_dup(ld, node, path, &err);
		return e->text ? 0 : err;
	case YAML_SEQUENCE_NODE:
		e->kind = KIND_LIST;
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++) {
			yaml_node_t *n = yaml_document_get_node(ld->doc, *it);
			char **items, *text;

			if (!n)
				continue;
			if (++ld->values > MAX_VALUES)
				return load_error(ld, CONFIG_ERROR, n->start_mark,
						  "more than %d values", MAX_VALUES);
			if (n->type != YAML_SCALAR_NODE) {
				err = set_bad(ld, e, n);
				if (err)
					return err;
				continue;
			}
			text = scalar_dup(ld, n, path, &err);
			if (!text)
				return err;
			items = grow(e->items, &e->cap, e->n + 1, sizeof(*items));
			if (!items) {
				free(text);
				return -ENOMEM;
			}
			e->items = items;
			e->items[e->n++] = text;
		}
		return 0;
	case YAML_MAPPING_NODE:
		e->kind = KIND_MAP;
		e->nchildren =
			(size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
		return walk_mapping(ld, node, path, e, depth);
	default:
		return load_error(ld, CONFIG_ERROR, node->start_mark, "%s: empty node", path);
	}
}

static int load_root(struct loader *ld, yaml_node_t *root)
{
	if (root->type == YAML_MAPPING_NODE)
		return walk_mapping(ld, root, "", NULL, 0);
	if (root->type == YAML_SCALAR_NODE && is_null(root))
		return 0;
	return load_error(ld, CONFIG_ERROR, root->start_mark,
			  "expected a mapping of keys at the top level, got %s",
			  kind_names[root->type == YAML_SEQUENCE_NODE ? KIND_LIST : KIND_SCALAR]);
}

static int syntax_error(struct config *cfg, const char *name, const yaml_parser_t *p,
			const char *buf, size_t len)
{
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	char where[512];

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		/* The reader knows only a byte offset. */
		size_t off = p->problem_offset < len ? p->problem_offset : len;

		line = 1;
		col = 1;
		for (size_t i = 0; i < off; i++, col++) {
			if (buf[i] == '\n') {
				line++;
				col = 0;
			}
		}
	}
	snprintf(where, sizeof(where), "%s:%zu:%zu", name, line, col);
	if (p->context)
		report(cfg, CONFIG_ERROR, where, "%s (%s)",
		       p->problem ? p->problem : "syntax error", p->context);
	else
		report(cfg, CONFIG_ERROR, where, "%s", p->problem ? p->problem : "syntax error");
	return -EINVAL;
}

int config_load_buffer(struct config *cfg, const char *name, const char *buf, size_t len)
{
	struct loader ld = { .cfg = cfg, .name = name };
	size_t start = cfg->ne;
	yaml_parser_t parser;
	yaml_document_t doc;
	int err = 0;

	if (len > MAX_FILE_SIZE) {
		report(cfg, CONFIG_ERROR, name, "larger than %u bytes", MAX_FILE_SIZE);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	/* One budget of values for all the documents of a buffer. */
	for (;;) {
		yaml_node_t *root;

		if (!yaml_parser_load(&parser, &doc)) {
			err = syntax_error(cfg, name, &parser, buf, len);
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		ld.doc = &doc;
		err = load_root(&ld, root);
		yaml_document_delete(&doc);
		if (err)
			break;
	}
	yaml_parser_delete(&parser);
	/* A file with an error contributes nothing. */
	if (err)
		entries_truncate(cfg, start);
	return err;
}

int config_load_file(struct config *cfg, const char *path)
{
	size_t got = 0, cap = 0;
	char *buf = NULL;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		report(cfg, CONFIG_ERROR, path, "cannot open: %s", strerror(-err));
		return err;
	}
	/* Read to EOF rather than trusting st_size, so pipes (-c <(...)) work too. */
	for (;;) {
		ssize_t r;

		if (got == cap) {
			char *nb;

			/* One byte past the cap is enough to know the file is too big. */
			cap = cap ? cap * 2 : 4096;
			if (cap > MAX_FILE_SIZE + 1)
				cap = MAX_FILE_SIZE + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto err_free;
			}
			buf = nb;
		}
		r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			report(cfg, CONFIG_ERROR, path, "cannot read: %s", strerror(-err));
			goto err_free;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > MAX_FILE_SIZE) {
			err = -EFBIG;
			report(cfg, CONFIG_ERROR, path, "larger than %u bytes", MAX_FILE_SIZE);
			goto err_free;
		}
	}
	close(fd);
	err = config_load_buffer(cfg, path, buf ? buf : "", got);
	free(buf);
	return err;

err_free:
	free(buf);
	close(fd);
	return err;
}

/* ---- environment and -o ---- */

int config_load_env(struct config *cfg, char *const *envp)
{
	if (!envp)
		envp = environ;
	/*
	 * Keep a copy and look names up when a key is resolved, so tables declared after this
	 * call still see their variables. Nothing is reported about unrelated variables.
	 */
	for (; *envp; envp++) {
		const char *eq = strchr(*envp, '=');
		struct envvar *v;

		if (!eq || eq == *envp)
			continue;
		v = grow(cfg->env, &cfg->cap_env, cfg->nenv + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		cfg->env = v;
		v = &cfg->env[cfg->nenv];
		if (asprintf(&v->where, "env %.*s", (int)(eq - *envp), *envp) < 0)
			return -ENOMEM;
		v->value = strdup(eq + 1);
		if (!v->value) {
			free(v->where);
			return -ENOMEM;
		}
		cfg->nenv++;
	}
	return 0;
}

int config_set(struct config *cfg, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	struct entry *e;
	char *where, *path;

	if (asprintf(&where, "-o %s", assignment) < 0)
		return -ENOMEM;
	if (!eq || eq == assignment) {
		report(cfg, CONFIG_ERROR, where, "expected key=value");
		free(where);
		return -EINVAL;
	}
	path = strndup(assignment, (size_t)(eq - assignment));
	if (!path) {
		free(where);
		return -ENOMEM;
	}
	e = entry_add(cfg, SRC_SET, path, where);
	free(path);
	if (!e)
		return -ENOMEM;
	e->kind = KIND_SCALAR;
	e->text = strdup(eq + 1);
	if (!e->text) {
		entries_truncate(cfg, cfg->ne - 1);
		return -ENOMEM;
	}
	return 0;
}

/* ---- resolution ---- */

static const char *env_lookup(const struct config *cfg, const char *name, const char **where)
{
	for (size_t i = cfg->nenv; i-- > 0;) {
		if (strcmp(cfg->env[i].where + 4, name))
			continue;
		/* An empty variable counts as unset (compose files often carry FOO=). */
		if (!*cfg->env[i].value)
			return NULL;
		*where = cfg->env[i].where;
		return cfg->env[i].value;
	}
	return NULL;
}

/* Effective value of key: -o, then the environment (env != NULL), then files. */
static bool resolve(const struct config *cfg, const char *key, const char *env, struct val *v)
{
	const struct entry *e;

	for (size_t i = cfg->ne; i-- > 0;) {
		e = cfg->e[i];
		if (e->src == SRC_SET && !e->dead && !strcasecmp(e->lcpath, key))
			goto found;
	}
	if (env) {
		v->text = env_lookup(cfg, env, &v->where);
		if (v->text) {
			v->e = NULL;
			return true;
		}
	}
	for (size_t i = cfg->ne; i-- > 0;) {
		e = cfg->e[i];
		if (e->src == SRC_FILE && !e->dead && !strcasecmp(e->lcpath, key))
			goto found;
	}
	return false;

found:
	v->e = e;
	v->text = e->kind == KIND_SCALAR ? e->text : NULL;
	v->where = e->where;
	return true;
}

static bool val_nonempty(const struct val *v)
{
	if (v->text)
		return *v->text;
	return v->e->kind == KIND_LIST ? v->e->n || v->e->bad_where : v->e->nchildren;
}

bool config_is_set(const struct config *cfg, const char *key)
{
	const struct decl *d = find_decl(cfg, key);
	struct val v;

	return resolve(cfg, key, d ? d->env : NULL, &v) && val_nonempty(&v);
}

const char *config_get(const struct config *cfg, const char *key)
{
	const struct decl *d = find_decl(cfg, key);
	struct val v;

	if (resolve(cfg, key, d ? d->env : NULL, &v))
		return v.text;
	if (d)
		return d->opt->def;
	return NULL;
}

const char *config_origin(const struct config *cfg, const char *key)
{
	const struct decl *d = find_decl(cfg, key);
	struct val v;

	if (resolve(cfg, key, d ? d->env : NULL, &v))
		return v.where;
	if (d && d->opt->def)
		return "default";
	return NULL;
}

/* ---- value parsers ---- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", "1" };
	static const char *const f[] = { "false", "no", "off", "0" };

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

static int parse_int(const char *s, int64_t *out)
{
	long long v;
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "<digits>[.<digits>]<unit>": value * unit with the fraction, overflow-checked. */
static int parse_scaled(const char *s, const char *const *units, const uint64_t *mult,
			size_t nunits, uint64_t *out)
{
	uint64_t ip = 0, frac = 0, scale = 1, m = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (ip > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		ip = ip * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			/* Six digits are finer than any unit here; more could overflow below. */
			if (scale < 1000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
	}
	for (size_t i = 0; i < nunits; i++) {
		if (!strcasecmp(p, units[i])) {
			m = mult[i];
			break;
		}
	}
	if (!m || ip > INT64_MAX / m)
		return -EINVAL;
	/* frac < scale <= 1e6 and m <= 2^40 keep this product inside 64 bits. */
	*out = ip * m + frac * m / scale;
	if (*out > INT64_MAX)
		return -EINVAL;
	return 0;
}

static int parse_duration(const char *s, int64_t *ms)
{
	static const char *const units[] = { "", "s", "ms", "m", "h", "d" };
	static const uint64_t mult[] = { 1000, 1000, 1, 60000, 3600000, 86400000 };
	uint64_t v;
	int err = parse_scaled(s, units, mult, 6, &v);

	if (!err)
		*ms = (int64_t)v;
	return err;
}

static int parse_size(const char *s, uint64_t *bytes)
{
	static const char *const units[] = { "",    "b", "k",  "kb",  "kib", "m",  "mb",
					     "mib", "g", "gb", "gib", "t",   "tb", "tib" };
	static const uint64_t mult[] = { 1,	     1,		 1ull << 10, 1ull << 10, 1ull << 10,
					 1ull << 20, 1ull << 20, 1ull << 20, 1ull << 30, 1ull << 30,
					 1ull << 30, 1ull << 40, 1ull << 40, 1ull << 40 };

	return parse_scaled(s, units, mult, 14, bytes);
}

static const char *fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms && !(ms % 3600000))
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms && !(ms % 60000))
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms && !(ms % 1000))
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
	return buf;
}

static const char *fmt_bytes(int64_t b, char *buf, size_t len)
{
	if (b && !(b % (1 << 30)))
		snprintf(buf, len, "%" PRId64 "G", b >> 30);
	else if (b && !(b % (1 << 20)))
		snprintf(buf, len, "%" PRId64 "M", b >> 20);
	else if (b && !(b % (1 << 10)))
		snprintf(buf, len, "%" PRId64 "k", b >> 10);
	else
		snprintf(buf, len, "%" PRId64, b);
	return buf;
}

static bool bounded(const struct config_option *o)
{
	return o->max > o->min;
}

/* Split "a, b,c" into the arena; NULL on allocation failure. */
static int split_list(struct config *cfg, const char *text, struct config_strlist *out)
{
	size_t n = 1, len = strlen(text), i = 0;
	const char **v;
	char *copy, *tok, *save;

	for (const char *p = text; *p; p++)
		n += *p == ',';
	v = arena_alloc(cfg, n * sizeof(*v) + len + 1);
	if (!v)
		return -ENOMEM;
	copy = (char *)(v + n);
	memcpy(copy, text, len + 1);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end = tok + strlen(tok);

		while (isspace((unsigned char)*tok))
			tok++;
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok)
			v[i++] = tok;
	}
	out->n = i;
	out->v = v;
	return 0;
}

/* "k:v,k:v" into the arena; -EINVAL when an item has no ':' or an empty key. */
static int split_map(struct config *cfg, const char *text, struct config_map *out, bool store)
{
	struct config_strlist items;
	const char **k, **v;
	int err;

	err = split_list(cfg, text, &items);
	if (err)
		return err;
	for (size_t i = 0; i < items.n; i++) {
		const char *colon = strchr(items.v[i], ':');

		if (!colon || colon == items.v[i])
			return -EINVAL;
	}
	if (!store)
		return 0;
	k = arena_alloc(cfg, items.n * 2 * sizeof(*k) + 1);
	if (!k)
		return -ENOMEM;
	v = k + items.n;
	for (size_t i = 0; i < items.n; i++) {
		/* Items point into arena memory owned by cfg, so they can be split in place. */
		char *item = (char *)items.v[i], *colon = strchr(item, ':'), *end = colon;

		while (end > item && isspace((unsigned char)end[-1]))
			end--;
		*end = '\0';
		*colon = '\0';
		colon++;
		while (isspace((unsigned char)*colon))
			colon++;
		k[i] = item;
		v[i] = colon;
	}
	out->n = items.n;
	out->keys = k;
	out->values = v;
	return 0;
}

static const char *expectation(const struct config_option *o, char *buf, size_t len)
{
	char a[32], b[32];

	switch (o->type) {
	case CONFIG_BOOL:
		return "a boolean (true/false, yes/no, on/off, 1/0)";
	case CONFIG_INT:
		if (!bounded(o))
			return "an integer";
		snprintf(buf, len, "an integer between %" PRId64 " and %" PRId64, o->min, o->max);
		return buf;
	case CONFIG_DURATION:
		if (!bounded(o))
			return "a duration (250ms, 10s, 5m, 1h)";
		snprintf(buf, len, "a duration between %s and %s", fmt_ms(o->min, a, sizeof(a)),
			 fmt_ms(o->max, b, sizeof(b)));
		return buf;
	case CONFIG_SIZE:
		if (!bounded(o))
			return "a size (512, 64k, 10MB, 1G)";
		snprintf(buf, len, "a size between %s and %s", fmt_bytes(o->min, a, sizeof(a)),
			 fmt_bytes(o->max, b, sizeof(b)));
		return buf;
	case CONFIG_ENUM: {
		size_t off = (size_t)snprintf(buf, len, "one of ");

		for (const char *const *c = o->choices; *c && off < len; c++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", *c, c[1] ? ", " : "");
		return buf;
	}
	case CONFIG_STRLIST:
		return "a list";
	case CONFIG_MAP:
		return "a mapping (or key:value,key:value)";
	case CONFIG_STRING:
	case CONFIG_CUSTOM:
	default:
		return "a scalar";
	}
}

static void zero_value(const struct config_option *o, void *dst)
{
	switch (o->type) {
	case CONFIG_BOOL:
		*(bool *)dst = false;
		break;
	case CONFIG_INT:
	case CONFIG_DURATION:
		*(int64_t *)dst = 0;
		break;
	case CONFIG_SIZE:
		*(uint64_t *)dst = 0;
		break;
	case CONFIG_STRING:
		*(const char **)dst = NULL;
		break;
	case CONFIG_ENUM:
		*(int *)dst = -1;
		break;
	case CONFIG_STRLIST:
		*(struct config_strlist *)dst = (struct config_strlist){ 0 };
		break;
	case CONFIG_MAP:
		*(struct config_map *)dst = (struct config_map){ 0 };
		break;
	case CONFIG_CUSTOM:
		break;
	}
}

/*
 * Convert v for option o (full key `key`) and store it at dst, or only validate when dst is
 * NULL. Reports what is wrong. Returns 0, -EINVAL, -ENOMEM, or 1 when an empty scalar means
 * "use the default" for this type.
 */
static int convert(struct config *cfg, const char *key, const struct config_option *o,
		   const struct val *v, void *dst)
{
	char exp[512], sb[SHOWN_MAX + 8], err[256] = "";
	const char *t = v->text;
	int r;

	if (!t) {
		const struct entry *e = v->e;

		if (o->type == CONFIG_STRLIST && e->kind == KIND_LIST) {
			if (e->bad_where) {
				report(cfg, CONFIG_ERROR, e->bad_where,
				       "%s: expected a list of scalars, got %s in the list", key,
				       e->bad_what);
				return -EINVAL;
			}
			if (dst)
				*(struct config_strlist *)dst = (struct config_strlist){
					.n = e->n, .v = (const char *const *)e->items
				};
			return 0;
		}
		if (o->type == CONFIG_MAP && e->kind == KIND_MAP) {
			if (e->bad_where) {
				report(cfg, CONFIG_ERROR, e->bad_where,
				       "%s: expected a mapping of scalars, got %s as a value", key,
				       e->bad_what);
				return -EINVAL;
			}
			if (dst)
				*(struct config_map *)dst = (struct config_map){
					.n = e->n,
					.keys = (const char *const *)e->items,
					.values = (const char *const *)e->values,
				};
			return 0;
		}
		report(cfg, CONFIG_ERROR, v->where, "%s: expected %s, got %s", key,
		       expectation(o, exp, sizeof(exp)), kind_names[e->kind]);
		return -EINVAL;
	}

	if (!*t && o->type != CONFIG_STRING && o->type != CONFIG_STRLIST && o->type != CONFIG_MAP &&
	    o->type != CONFIG_CUSTOM)
		return 1;

	switch (o->type) {
	case CONFIG_BOOL: {
		bool b;

		if (parse_bool(t, &b))
			goto bad;
		if (dst)
			*(bool *)dst = b;
		return 0;
	}
	case CONFIG_INT:
	case CONFIG_DURATION: {
		int64_t i;

		if (o->type == CONFIG_INT ? parse_int(t, &i) : parse_duration(t, &i))
			goto bad;
		if (bounded(o) && (i < o->min || i > o->max))
			goto bad;
		if (dst)
			*(int64_t *)dst = i;
		return 0;
	}
	case CONFIG_SIZE: {
		uint64_t u;

		if (parse_size(t, &u))
			goto bad;
		if (bounded(o) && (u > (uint64_t)o->max || (o->min > 0 && u < (uint64_t)o->min)))
			goto bad;
		if (dst)
			*(uint64_t *)dst = u;
		return 0;
	}
	case CONFIG_STRING:
		if (dst)
			*(const char **)dst = *t ? t : NULL;
		return 0;
	case CONFIG_ENUM:
		for (int i = 0; o->choices[i]; i++) {
			if (!strcasecmp(t, o->choices[i])) {
				if (dst)
					*(int *)dst = i;
				return 0;
			}
		}
		goto bad;
	case CONFIG_STRLIST:
		if (!dst)
			return 0;
		return split_list(cfg, t, dst);
	case CONFIG_MAP: {
		struct config_map m;

		r = split_map(cfg, t, dst ? dst : &m, dst != NULL);
		if (r == -EINVAL)
			goto bad;
		return r;
	}
	case CONFIG_CUSTOM:
		if (!dst)
			return 0;
		r = o->parse(t, dst, err, sizeof(err));
		if (!r)
			return 0;
		/* The reason is the parser's own words; it may quote the value already. */
		if (*err)
			report(cfg, CONFIG_ERROR, v->where, "%s: %s", key, err);
		else
			report(cfg, CONFIG_ERROR, v->where, "%s: invalid value '%s'", key,
			       shown(t, sb, sizeof(sb)));
		return -EINVAL;
	}
	return -EINVAL;

bad:
	report(cfg, CONFIG_ERROR, v->where, "%s: expected %s, got '%s'", key,
	       expectation(o, exp, sizeof(exp)), shown(t, sb, sizeof(sb)));
	return -EINVAL;
}

/* Apply the table default for o; unset without a default is the type's zero. */
static int convert_default(struct config *cfg, const char *key, const struct config_option *o,
			   void *dst)
{
	struct val v = { .text = o->def, .where = "default" };
	int r;

	if (!o->def) {
		if (dst)
			zero_value(o, dst);
		return 0;
	}
	r = convert(cfg, key, o, &v, dst);
	if (r == 1) {
		if (dst)
			zero_value(o, dst);
		r = 0;
	}
	return r;
}

static int convert_key(struct config *cfg, const char *key, const struct config_option *o,
		       const char *env, void *dst)
{
	struct val v;
	int r;

	if (!resolve(cfg, key, env, &v))
		return convert_default(cfg, key, o, dst);
	r = convert(cfg, key, o, &v, dst);
	if (r == 1)
		return convert_default(cfg, key, o, dst);
	if (r == -EINVAL && dst)
		convert_default(cfg, key, o, dst);
	return r;
}

int config_bind(struct config *cfg, const char *prefix, const struct config_option *table,
		void *base)
{
	int ret = 0;

	for (const struct config_option *o = table; o->key; o++) {
		char *key = join_key(prefix, o->key), *env;
		int r;

		if (!key)
			return -ENOMEM;
		env = env_name(key);
		if (!env) {
			free(key);
			return -ENOMEM;
		}
		r = convert_key(cfg, key, o, env, (char *)base + o->offset);
		free(key);
		free(env);
		if (r == -ENOMEM)
			return r;
		if (r)
			ret = -EINVAL;
	}
	return ret;
}

/* ---- check ---- */

static bool is_section(const struct config *cfg, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < cfg->nd; i++)
		if (!strncasecmp(cfg->d[i].key, path, len) && cfg->d[i].key[len] == '.')
			return true;
	return false;
}

/* True when a proper ancestor of path ("a" or "a.b" of "a.b.c") is a declared key. */
static bool under_declared(const struct config *cfg, const char *path)
{
	for (size_t i = 0; i < cfg->nd; i++) {
		size_t len = strlen(cfg->d[i].key);

		if (!strncasecmp(cfg->d[i].key, path, len) && path[len] == '.')
			return true;
	}
	return false;
}

static int check_entry(struct config *cfg, const struct entry *e, const char **keys)
{
	char sb[SHOWN_MAX + 8];
	const char *near;

	if (e->dead || find_decl(cfg, e->lcpath))
		return 0;
	if (e->src == SRC_FILE && e->has_parent && under_declared(cfg, e->lcpath))
		return 0;
	if (is_section(cfg, e->lcpath)) {
		if (e->kind == KIND_MAP || (e->kind == KIND_SCALAR && !*e->text))
			return 0;
		if (e->kind == KIND_LIST)
			report(cfg, CONFIG_ERROR, e->where, "%s: expected a mapping, got a list",
			       e->path);
		else
			report(cfg, CONFIG_ERROR, e->where, "%s: expected a mapping, got '%s'",
			       e->path, shown(e->text, sb, sizeof(sb)));
		return -EINVAL;
	}
	/* A mapping with keys is reported through its children. */
	if (e->kind == KIND_MAP && e->nchildren)
		return 0;
	near = keys ? suggest_closest(e->path, keys, cfg->nd) : NULL;
	if (near)
		report(cfg, CONFIG_WARNING, e->where, "unknown key '%s' (did you mean %s?)",
		       e->path, near);
	else
		report(cfg, CONFIG_WARNING, e->where, "unknown key '%s'", e->path);
	return 0;
}

int config_check(struct config *cfg)
{
	const char **keys = calloc(cfg->nd ? cfg->nd : 1, sizeof(*keys));
	int ret = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->nd; i++)
		keys[i] = cfg->d[i].key;
	for (size_t i = 0; i < cfg->ne; i++)
		if (check_entry(cfg, cfg->e[i], keys))
			ret = -EINVAL;
	free(keys);
	for (size_t i = 0; i < cfg->nd; i++) {
		int r = convert_key(cfg, cfg->d[i].key, cfg->d[i].opt, cfg->d[i].env, NULL);

		if (r == -ENOMEM)
			return r;
		if (r)
			ret = -EINVAL;
	}
	return ret;
}

/* ---- reference ---- */

static const char *type_name(const struct config_option *o, char *buf, size_t len)
{
	static const char *const names[] = {
		[CONFIG_BOOL] = "bool",		[CONFIG_INT] = "int",
		[CONFIG_DURATION] = "duration", [CONFIG_SIZE] = "size",
		[CONFIG_STRING] = "string",	[CONFIG_ENUM] = "enum",
		[CONFIG_STRLIST] = "list",	[CONFIG_MAP] = "map",
		[CONFIG_CUSTOM] = "custom",
	};
	size_t off;

	if (o->type != CONFIG_ENUM)
		return (unsigned)o->type < sizeof(names) / sizeof(*names) ? names[o->type] : "?";
	off = (size_t)snprintf(buf, len, "enum:");
	for (const char *const *c = o->choices; *c && off < len; c++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", *c, c[1] ? "|" : "");
	return buf;
}

static const char *default_text(const struct config_option *o)
{
	if (!o->def)
		return "-";
	return *o->def ? o->def : "\"\"";
}

void config_print_reference(const struct config *cfg, void *stream)
{
	int wk = 0, wt = 0, wd = 0, we = 0;
	FILE *f = stream;
	char tb[256];

	for (size_t i = 0; i < cfg->nd; i++) {
		const struct decl *d = &cfg->d[i];
		int l;

		l = (int)strlen(d->key);
		wk = l > wk ? l : wk;
		l = (int)strlen(type_name(d->opt, tb, sizeof(tb)));
		wt = l > wt ? l : wt;
		l = (int)strlen(default_text(d->opt));
		wd = l > wd ? l : wd;
		l = (int)strlen(d->env);
		we = l > we ? l : we;
	}
	for (size_t i = 0; i < cfg->nd; i++) {
		const struct decl *d = &cfg->d[i];

		fprintf(f, "%-*s  %-*s  %-*s  %-*s  %s\n", wk, d->key, wt,
			type_name(d->opt, tb, sizeof(tb)), wd, default_text(d->opt), we, d->env,
			d->opt->help ? d->opt->help : "");
	}
}
