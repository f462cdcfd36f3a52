// SPDX-License-Identifier: Apache-2.0
/*
 * Compiler: condition AST -> evaluation tree. Expands macros (by visibility) and lists (inside
 * list values), rewrites exceptions, resolves fields through the rule's source, precompiles
 * constants per field type, derives each rule's event-type set and builds the index.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/suggest.h"
#include "rules/internal.h"

#define MAX_COMPILE_DEPTH 2000
#define TOO_MANY_TYPES 100

struct cctx {
	struct rules *r;
	struct rule *rule;
	int src;
	const struct field_source *fs;
	const struct ctext *text; /* text the current AST offsets point into, or NULL */
	const struct src_loc *loc; /* fallback location (exceptions) */
	const char *item; /* "rule 'X'" / "macro 'Y'" */
	char rule_item[600];
	unsigned visibility;
	int depth;
	bool failed, skipped;
	struct macro_def *in_macro;
};

static void cerr(struct cctx *c, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cerr(struct cctx *c, size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->in_macro && c->in_macro->parse_failed)
		return; /* already reported for this macro */
	if (c->in_macro)
		c->in_macro->parse_failed = true;
	if (c->text)
		rules_diag_text(c->r, RULES_ERROR, c->text, off, c->item, "%s", msg);
	else
		rules_diag(c->r, RULES_ERROR, c->loc, c->item, "%s", msg);
}

uint64_t strset_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h | 1; /* 0 marks an empty bucket */
}

static int strset_add(struct strset *s, const char *p, size_t len, size_t idx)
{
	uint64_t h = strset_hash(p, len);

	if (strset_has(s, p, len))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct strset_ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			size_t j;

			if (!s->ent[i].h)
				continue;
			for (j = s->ent[i].h & (cap - 1); e[j].h; j = (j + 1) & (cap - 1))
				;
			e[j] = s->ent[i];
		}
		free(s->ent);
		s->ent = e;
		s->cap = cap;
	}
	size_t j;
	for (j = h & (s->cap - 1); s->ent[j].h; j = (j + 1) & (s->cap - 1))
		;
	s->ent[j].h = h;
	s->ent[j].s = p;
	s->ent[j].len = (uint32_t)len;
	s->ent[j].idx = (uint32_t)idx;
	s->n++;
	return 0;
}

bool strset_has(const struct strset *s, const char *p, size_t len)
{
	uint64_t h;

	if (!s->cap)
		return false;
	h = strset_hash(p, len);
	for (size_t j = h & (s->cap - 1); s->ent[j].h; j = (j + 1) & (s->cap - 1))
		if (s->ent[j].h == h && s->ent[j].len == len && !memcmp(s->ent[j].s, p, len))
			return true;
	return false;
}

static int cmp_lower(int c, bool icase)
{
	return icase ? tolower(c) : c;
}

/* fnmatch-like without FNM_PATHNAME: '*' crosses '/', '?' one byte, [a-z] [!x] classes. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool icase)
{
	size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;

	while (i < slen) {
		if (p < plen && pat[p] == '*') {
			star_p = ++p;
			star_i = i;
			continue;
		}
		if (p < plen && pat[p] == '?') {
			p++;
			i++;
			continue;
		}
		if (p < plen && pat[p] == '[') {
			size_t q = p + 1;
			bool neg = false, hit = false;
			int c = cmp_lower((unsigned char)s[i], icase);

			if (q < plen && (pat[q] == '!' || pat[q] == '^')) {
				neg = true;
				q++;
			}
			size_t first = q;
			while (q < plen && (pat[q] != ']' || q == first)) {
				int lo = cmp_lower((unsigned char)pat[q], icase), hi = lo;

				if (q + 2 < plen && pat[q + 1] == '-' && pat[q + 2] != ']') {
					hi = cmp_lower((unsigned char)pat[q + 2], icase);
					q += 2;
				}
				if (c >= lo && c <= hi)
					hit = true;
				q++;
			}
			if (q < plen && hit != neg) {
				p = q + 1;
				i++;
				continue;
			}
			if (q >= plen && pat[p] == (char)s[i]) {
				/* unterminated class: literal '[' */
				p++;
				i++;
				continue;
			}
		} else if (p < plen) {
			size_t q = p;

			if (pat[q] == '\\' && q + 1 < plen)
				q++;
			if (cmp_lower((unsigned char)pat[q], icase) ==
			    cmp_lower((unsigned char)s[i], icase)) {
				p = q + 1;
				i++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		p = star_p;
		i = ++star_i;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	for (size_t i = 0; i < n->nvals; i++)
		free(n->vals[i].s);
	free(n->vals);
	free(n->set.ent);
	if (n->re)
		pcre2_code_free(n->re);
	free(n->types);
	free(n);
}

static size_t type_words(const struct field_source *fs)
{
	return (fs->n_event_types + 63) / 64;
}

static struct cnode *cnode_new(struct cctx *c, enum cn_kind kind)
{
	struct cnode *n = calloc(1, sizeof(*n));

	if (!n) {
		cerr(c, 0, "out of memory");
		return NULL;
	}
	n->kind = (uint8_t)kind;
	n->slot = n->rhs_slot = -1;
	return n;
}

/* Room for `more` kids; geometric growth (a 100000-term `or` stays linear). */
static int kids_reserve(struct cnode *p, size_t more)
{
	struct cnode **nk;
	size_t cap = p->cap ? p->cap : 4;

	if (p->n + more <= p->cap)
		return 0;
	while (cap < p->n + more) {
		if (cap > SIZE_MAX / 2 / sizeof(*nk))
			return -ENOMEM;
		cap *= 2;
	}
	nk = realloc(p->kids, cap * sizeof(*nk));
	if (!nk)
		return -ENOMEM;
	p->kids = nk;
	p->cap = cap;
	return 0;
}

static int cnode_add(struct cnode *p, struct cnode *k)
{
	/* Flatten and(and(..)) / or(or(..)): fewer calls on the hot path. */
	if (k->kind == p->kind && (k->kind == CN_AND || k->kind == CN_OR)) {
		if (kids_reserve(p, k->n))
			return -ENOMEM;
		memcpy(p->kids + p->n, k->kids, k->n * sizeof(*p->kids));
		p->n += k->n;
		k->n = 0;
		cnode_free(k);
		return 0;
	}
	if (kids_reserve(p, 1))
		return -ENOMEM;
	p->kids[p->n++] = k;
	return 0;
}

const struct field_def *field_source_find(const struct field_source *src, const char *name)
{
	for (size_t i = 0; i < src->n_fields; i++)
		if (!strcmp(src->fields[i].name, name))
			return &src->fields[i];
	return NULL;
}

const struct field_def *rules_resolve_field(const struct field_source *src, const char *name,
					    const char *argtext, struct field_arg *arg, char *err,
					    size_t errlen)
{
	const struct field_def *d = field_source_find(src, name);
	const char *key = argtext;
	char buf[256];

	memset(arg, 0, sizeof(*arg));
	err[0] = '\0';
	if (!d && !argtext) {
		/* evt.arg.flags -> field "evt.arg" with key "flags" when the source has that. */
		const char *dot = strrchr(name, '.');

		if (dot && (size_t)(dot - name) < sizeof(buf)) {
			memcpy(buf, name, (size_t)(dot - name));
			buf[dot - name] = '\0';
			d = field_source_find(src, buf);
			if (d && (d->flags & FIELD_ARG_KEY))
				key = dot + 1;
			else
				d = NULL;
		}
	}
	if (!d) {
		snprintf(err, errlen, "unknown field '%s'", name);
		return NULL;
	}
	if (!key) {
		if (d->flags & FIELD_ARG_REQUIRED) {
			snprintf(err, errlen, "field '%s' requires an argument", name);
			return NULL;
		}
		return d;
	}
	if (!(d->flags & (FIELD_ARG_INDEX | FIELD_ARG_KEY))) {
		snprintf(err, errlen, "field '%s' does not take an argument", d->name);
		return NULL;
	}
	arg->present = true;
	arg->key = key;
	arg->key_len = strlen(key);
	if (d->flags & FIELD_ARG_INDEX) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(key, &end, 10);
		if (!errno && *key && !*end) {
			arg->index = v;
		} else if (!(d->flags & FIELD_ARG_KEY)) {
			snprintf(err, errlen, "field '%s' takes a numeric index, not '%s'", d->name,
				 key);
			return NULL;
		}
	}
	return d;
}

int rules_slot(struct rules *r, int src_index, const struct field_def *def,
	       const struct field_arg *arg, const uint8_t *xf, uint8_t nxf)
{
	struct slot_def *s;

	for (size_t i = 0; i < r->n_slots; i++) {
		s = &r->slots[i];
		if (s->def != def || s->src_index != src_index || s->nxf != nxf ||
		    (nxf && memcmp(s->xf, xf, nxf)) || s->arg.present != arg->present)
			continue;
		if (arg->present && (s->arg.index != arg->index || s->arg.key_len != arg->key_len ||
				     memcmp(s->arg.key, arg->key, arg->key_len)))
			continue;
		return (int)i;
	}
	s = realloc(r->slots, (r->n_slots + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	r->slots = s;
	s = &r->slots[r->n_slots];
	memset(s, 0, sizeof(*s));
	s->def = def;
	s->src_index = src_index;
	s->anc = -1;
	s->arg = *arg;
	if (arg->present && arg->key) {
		char *k = malloc(arg->key_len + 1);

		if (!k)
			return -ENOMEM;
		memcpy(k, arg->key, arg->key_len);
		k[arg->key_len] = '\0';
		s->arg.key = k;
	}
	if (nxf)
		memcpy(s->xf, xf, nxf);
	s->nxf = nxf;
	return (int)r->n_slots++;
}

static void suggest_field(struct cctx *c, const char *name, char *out, size_t len)
{
	const char **names = malloc((c->fs->n_fields + c->r->n_macros + 1) * sizeof(*names));
	const char *pick;
	size_t n = 0;

	out[0] = '\0';
	if (!names)
		return;
	for (size_t i = 0; i < c->fs->n_fields; i++)
		names[n++] = c->fs->fields[i].name;
	if (!strchr(name, '.'))
		for (size_t i = 0; i < c->r->n_macros; i++)
			names[n++] = c->r->macros[i].name;
	pick = suggest_closest(name, names, n);
	if (pick)
		snprintf(out, len, " (did you mean %s?)", pick);
	free(names);
}

/* Resolve a parsed field; returns the def (NULL: error reported, or rule skipped). */
static const struct field_def *resolve(struct cctx *c, const struct cond_field *f,
				       struct field_arg *arg, enum field_type *type)
{
	char err[300], sug[300];
	const struct field_def *d;

	d = rules_resolve_field(c->fs, f->name, f->arg, arg, err, sizeof(err));
	if (!d) {
		if (!strncmp(err, "unknown field", 13)) {
			if (c->rule->skip_unknown) {
				c->skipped = true;
				c->failed = true;
				return NULL;
			}
			suggest_field(c, f->name, sug, sizeof(sug));
			cerr(c, f->off, "%s%s", err, sug);
		} else {
			cerr(c, f->off, "%s", err);
		}
		return NULL;
	}
	*type = d->type;
	for (uint8_t i = 0; i < f->nxf; i++) {
		if (f->xf[i] == XF_LEN) {
			if (*type != FIELD_STRING && *type != FIELD_LIST) {
				cerr(c, f->off, "len() needs a string or list field, '%s' is not",
				     d->name);
				return NULL;
			}
			*type = FIELD_INT;
		} else if (*type != FIELD_STRING) {
			cerr(c, f->off, "transformers need a string field, '%s' is not", d->name);
			return NULL;
		}
	}
	return d;
}

static bool is_num_type(enum field_type t)
{
	return t == FIELD_INT || t == FIELD_UINT || t == FIELD_ABSTIME || t == FIELD_RELTIME ||
	       t == FIELD_PORT;
}

static bool parse_num(const char *s, struct cval *v)
{
	const char *p = s;
	bool neg = false;
	char *end;
	unsigned long long u;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		return false;
	errno = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		u = strtoull(p + 2, &end, 16);
	else
		u = strtoull(p, &end, 10);
	if (errno || *end)
		return false;
	if (neg) {
		if (u > (unsigned long long)INT64_MAX + 1)
			return false;
		v->i = u == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else if (u > INT64_MAX) {
		v->big = true;
		v->u = u;
	} else {
		v->i = (int64_t)u;
		v->u = u;
	}
	return true;
}

static bool parse_ip(const char *s, struct field_ip *ip, bool *has_prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	*has_prefix = false;
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, buf, ip->addr) == 1) {
		ip->family = 4;
		ip->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, ip->addr) == 1) {
		ip->family = 6;
		ip->prefix = 128;
	} else {
		return false;
	}
	if (slash) {
		char *end;
		unsigned long p;

		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || p > ip->prefix)
			return false;
		ip->prefix = (uint8_t)p;
		*has_prefix = true;
	}
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Convert one constant for node n (op and comparison kind already set). */
static bool compile_const(struct cctx *c, struct cnode *n, const struct field_def *d,
			  const struct cond_value *in, struct cval *v)
{
	switch (n->cmp) {
	case CMP_NUM:
		if (!parse_num(in->s, v)) {
			cerr(c, in->off, "'%s' is not a valid number for field '%s'", in->s,
			     d->name);
			return false;
		}
		return true;
	case CMP_BOOL:
		if (!strcasecmp(in->s, "true") || !strcmp(in->s, "1")) {
			v->b = true;
		} else if (!strcasecmp(in->s, "false") || !strcmp(in->s, "0")) {
			v->b = false;
		} else {
			cerr(c, in->off, "'%s' is not a valid boolean for field '%s'", in->s,
			     d->name);
			return false;
		}
		return true;
	case CMP_IP: {
		bool pfx;

		if (!parse_ip(in->s, &v->ip, &pfx)) {
			cerr(c, in->off, "'%s' is not a valid IP address or network for field '%s'",
			     in->s, d->name);
			return false;
		}
		return true;
	}
	case CMP_FLAGS:
		if (parse_num(in->s, v))
			return true;
		if (!d->flag_value || !d->flag_value(in->s, &v->u)) {
			cerr(c, in->off, "unknown flag '%s' for field '%s'", in->s, d->name);
			return false;
		}
		v->i = (int64_t)v->u;
		return true;
	default:
		break;
	}
	if (n->op == OP_BCONTAINS || n->op == OP_BSTARTSWITH) {
		if (in->len % 2) {
			cerr(c, in->off, "'%s' is not a hex byte string", in->s);
			return false;
		}
		v->s = malloc(in->len / 2 + 1);
		if (!v->s) {
			cerr(c, in->off, "out of memory");
			return false;
		}
		for (size_t i = 0; i < in->len; i += 2) {
			int hi = hexval((unsigned char)in->s[i]),
			    lo = hexval((unsigned char)in->s[i + 1]);

			if (hi < 0 || lo < 0) {
				cerr(c, in->off, "'%s' is not a hex byte string", in->s);
				return false;
			}
			v->s[i / 2] = (char)(hi << 4 | lo);
		}
		v->len = in->len / 2;
		return true;
	}
	v->s = malloc(in->len + 1);
	if (!v->s) {
		cerr(c, in->off, "out of memory");
		return false;
	}
	memcpy(v->s, in->s, in->len + 1);
	v->len = in->len;
	if (n->op == OP_ICONTAINS || n->op == OP_IGLOB)
		for (size_t i = 0; i < v->len; i++)
			v->s[i] = (char)tolower((unsigned char)v->s[i]);
	if (n->op == OP_PMATCH) {
		/* Whole components: "/usr/bin/" is the prefix "/usr/bin", "/" the root "". */
		while (v->len && v->s[v->len - 1] == '/')
			v->s[--v->len] = '\0';
	}
	if (n->op == OP_REGEX) {
		int ec;
		PCRE2_SIZE eo;

		n->re = pcre2_compile((PCRE2_SPTR)v->s, v->len, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
				      &ec, &eo, NULL);
		if (!n->re) {
			PCRE2_UCHAR m[200];

			pcre2_get_error_message(ec, m, sizeof(m));
			cerr(c, in->off, "invalid regex '%s': %s at offset %zu", in->s,
			     (const char *)m, (size_t)eo);
			return false;
		}
		pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
	}
	return true;
}

/* Append the items of a list value, expanding list names (recursively, by visibility). */
static int push_value(struct cctx *c, struct cond_value **vals, size_t *n, size_t *cap,
		      const char *s, size_t len, bool quoted, size_t off)
{
	struct cond_value *v;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;

		v = realloc(*vals, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*vals = v;
		*cap = nc;
	}
	v = &(*vals)[*n];
	v->s = malloc(len + 1);
	if (!v->s)
		return -ENOMEM;
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
	v->quoted = quoted;
	v->off = off;
	(*n)++;
	return 0;
}

static int expand_item(struct cctx *c, const char *s, size_t len, bool quoted, size_t off,
		       unsigned visibility, struct cond_value **vals, size_t *n, size_t *cap,
		       int depth)
{
	struct list_def *l;
	int err;

	if (!quoted && depth < 64) {
		l = rules_list_visible(c->r, s, visibility);
		if (l && !l->expanding) {
			l->expanding = true;
			for (size_t i = 0; i < l->items.n; i++) {
				const char *it = l->items.v[i];
				size_t il = strlen(it);
				bool q = false;

				/* '"10.0.0.0/8"': an item may carry its own quotes. */
				if (il >= 2 && (it[0] == '"' || it[0] == '\'') &&
				    it[il - 1] == it[0]) {
					it++;
					il -= 2;
					q = true;
				}
				err = expand_item(c, it, il, q, off, l->visibility, vals, n, cap,
						  depth + 1);
				if (err) {
					l->expanding = false;
					return err;
				}
			}
			l->expanding = false;
			return 0;
		}
	}
	return push_value(c, vals, n, cap, s, len, quoted, off);
}

static bool ip_type(enum field_type t)
{
	return t == FIELD_IPADDR || t == FIELD_IPNET;
}

static struct cnode *compile_node(struct cctx *c, const struct cond_node *a);

static struct cnode *compile_type_check(struct cctx *c, const struct cond_node *a,
					const struct cond_value *vals, size_t nv)
{
	const struct field_source *fs = c->fs;
	struct cnode *n = cnode_new(c, CN_TYPE);
	size_t w = type_words(fs);

	if (!n)
		return NULL;
	n->types = calloc(w ? w : 1, sizeof(uint64_t));
	if (!n->types) {
		cnode_free(n);
		cerr(c, a->off, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < nv; i++) {
		bool found = false;

		for (size_t t = 0; t < fs->n_event_types; t++) {
			if (fs->event_type_names[t] &&
			    !strcmp(fs->event_type_names[t], vals[i].s)) {
				n->types[t / 64] |= 1ull << (t % 64);
				found = true;
			}
		}
		if (!found && c->text)
			rules_diag_text(c->r, RULES_WARNING, c->text, vals[i].off, c->item,
					"unknown event type '%s' for source '%s'", vals[i].s,
					fs->name);
		else if (!found)
			rules_diag(c->r, RULES_WARNING, c->loc, c->item,
				   "unknown event type '%s' for source '%s'", vals[i].s, fs->name);
	}
	if (a->op == OP_NE) {
		for (size_t i = 0; i < w; i++)
			n->types[i] = ~n->types[i];
		if (fs->n_event_types % 64)
			n->types[w - 1] &= (1ull << (fs->n_event_types % 64)) - 1;
	}
	return n;
}

static struct cnode *compile_check(struct cctx *c, const struct cond_node *a)
{
	struct cond_value *vals = NULL;
	size_t nv = 0, cap = 0;
	struct cnode *n = NULL;
	const struct field_def *d;
	struct field_arg arg;
	enum field_type type;
	const char *fname = a->field.name;
	int err;

	/* Obsolete or constant checks that Falco folds: evt.dir, evt.num = 0. */
	if (!a->field.nxf && !a->field.arg && a->rhs == RHS_VALUE && a->nvals == 1 &&
	    (a->op == OP_EQ || a->op == OP_NE)) {
		bool eq = a->op == OP_EQ;

		if (!strcmp(fname, "evt.dir") &&
		    (!strcmp(a->vals[0].s, "<") || !strcmp(a->vals[0].s, ">")))
			return cnode_new(c, (a->vals[0].s[0] == '<') == eq ? CN_TRUE : CN_FALSE);
		if (!strcmp(fname, "evt.num") && !strcmp(a->vals[0].s, "0"))
			return cnode_new(c, eq ? CN_FALSE : CN_TRUE);
	}
	d = resolve(c, &a->field, &arg, &type);
	if (!d)
		return NULL;
	if (a->rhs == RHS_LIST || a->rhs == RHS_VALUE) {
		for (size_t i = 0; i < a->nvals; i++) {
			if (a->rhs == RHS_LIST)
				err = expand_item(c, a->vals[i].s, a->vals[i].len,
						  a->vals[i].quoted, a->vals[i].off, c->visibility,
						  &vals, &nv, &cap, 0);
			else
				err = push_value(c, &vals, &nv, &cap, a->vals[i].s, a->vals[i].len,
						 a->vals[i].quoted, a->vals[i].off);
			if (err) {
				cerr(c, a->off, "out of memory");
				goto out;
			}
		}
	}
	/* evt.type = / != / in on the type field: a bitmap test on the event's type code. */
	if (c->fs->type_field && !strcmp(d->name, c->fs->type_field) && !a->field.nxf &&
	    !arg.present && (a->op == OP_EQ || a->op == OP_NE || a->op == OP_IN) &&
	    a->rhs != RHS_FIELD && c->fs->n_event_types) {
		n = compile_type_check(c, a, vals, nv);
		goto out;
	}
	n = cnode_new(c, CN_CHECK);
	if (!n)
		goto out;
	n->op = (uint8_t)a->op;
	n->anc = (d->flags & FIELD_ANY_ANCESTOR) && !arg.present;
	if (n->anc && a->op == OP_NE) {
		/* proc.aname != x, fd.ip != x: no ancestor (no end) equals x. */
		n->anc_ne = true;
		n->op = OP_EQ;
	}
	err = rules_slot(c->r, c->src, d, &arg, a->field.xf, a->field.nxf);
	if (err < 0) {
		cerr(c, a->off, "out of memory");
		goto err;
	}
	n->slot = err;
	if (n->anc && c->r->slots[n->slot].anc < 0)
		c->r->slots[n->slot].anc = (int)c->r->n_anc++;
	if (a->op == OP_EXISTS)
		goto out;
	if (a->rhs == RHS_FIELD) {
		struct field_arg rarg;
		enum field_type rtype;
		const struct field_def *rd = resolve(c, &a->rhs_field, &rarg, &rtype);

		if (!rd)
			goto err;
		err = rules_slot(c->r, c->src, rd, &rarg, a->rhs_field.xf, a->rhs_field.nxf);
		if (err < 0) {
			cerr(c, a->off, "out of memory");
			goto err;
		}
		n->rhs_slot = err;
		n->cmp = CMP_FIELD;
		if (cond_op_is_list(a->op) || a->op == OP_REGEX || a->op == OP_BCONTAINS ||
		    a->op == OP_BSTARTSWITH) {
			cerr(c, a->off, "operator '%s' cannot compare with val()",
			     cond_op_name(a->op));
			goto err;
		}
		goto out;
	}

	/* Choose how to compare from the type and the operator. */
	switch (a->op) {
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		if (!is_num_type(type)) {
			cerr(c, a->off, "operator '%s' needs a numeric field, '%s' is not",
			     cond_op_name(a->op), d->name);
			goto err;
		}
		n->cmp = CMP_NUM;
		break;
	case OP_EQ:
	case OP_NE:
	case OP_IN:
	case OP_INTERSECTS:
		n->cmp = is_num_type(type)  ? CMP_NUM :
			 type == FIELD_BOOL ? CMP_BOOL :
			 ip_type(type)	    ? CMP_IP :
					      CMP_STR;
		if (n->cmp == CMP_NUM && (d->flags & FIELD_FLAGS_VALUE) && a->op != OP_IN &&
		    a->op != OP_INTERSECTS)
			n->cmp = CMP_FLAGS;
		break;
	case OP_CONTAINS:
		if (is_num_type(type) && (d->flags & FIELD_FLAGS_VALUE)) {
			n->cmp = CMP_FLAGS;
			break;
		}
		/* fall through */
	default:
		if (type == FIELD_BOOL || ip_type(type)) {
			cerr(c, a->off, "operator '%s' is not supported on field '%s'",
			     cond_op_name(a->op), d->name);
			goto err;
		}
		n->cmp = CMP_STR;
		n->text_lhs = type != FIELD_STRING && type != FIELD_LIST;
		break;
	}
	if (n->cmp == CMP_STR && !n->text_lhs && !n->anc) {
		switch (a->op) {
		case OP_EQ:
			n->fast = FAST_EQ;
			break;
		case OP_NE:
			n->fast = FAST_NE;
			break;
		case OP_STARTSWITH:
		case OP_BSTARTSWITH:
			n->fast = FAST_STARTSWITH;
			break;
		case OP_ENDSWITH:
			n->fast = FAST_ENDSWITH;
			break;
		case OP_CONTAINS:
		case OP_BCONTAINS:
			n->fast = FAST_CONTAINS;
			break;
		case OP_IN:
		case OP_INTERSECTS:
			n->fast = nv <= 4 ? FAST_IN_FEW : FAST_IN_SET;
			break;
		default:
			break;
		}
	}
	if (a->op == OP_PMATCH && n->cmp != CMP_STR) {
		cerr(c, a->off, "operator 'pmatch' needs a string field, '%s' is not", d->name);
		goto err;
	}
	if (!cond_op_is_list(a->op) && nv != 1) {
		cerr(c, a->off, "operator '%s' takes a single value", cond_op_name(a->op));
		goto err;
	}
	n->vals = calloc(nv ? nv : 1, sizeof(*n->vals));
	if (!n->vals) {
		cerr(c, a->off, "out of memory");
		goto err;
	}
	for (size_t i = 0; i < nv; i++) {
		n->nvals = i + 1;
		if (!compile_const(c, n, d, &vals[i], &n->vals[i]))
			goto err;
		if (n->cmp == CMP_STR && cond_op_is_list(a->op) &&
		    (n->vals[i].len > UINT32_MAX ||
		     strset_add(&n->set, n->vals[i].s, n->vals[i].len, i))) {
			cerr(c, a->off, "out of memory");
			goto err;
		}
	}
	goto out;
err:
	cnode_free(n);
	n = NULL;
out:
	for (size_t i = 0; i < nv; i++)
		free(vals[i].s);
	free(vals);
	return n;
}

static struct cnode *compile_macro(struct cctx *c, const struct cond_node *a)
{
	struct macro_def *m = rules_macro_visible(c->r, a->ident, c->visibility);
	const struct ctext *save_text = c->text;
	const char *save_item = c->item;
	struct macro_def *save_macro = c->in_macro;
	unsigned save_vis = c->visibility;
	char item[600];
	struct cnode *n;

	if (!m && rules_macro_visible(c->r, a->ident, UINT_MAX)) {
		cerr(c, a->off, "macro '%s' is used before its definition", a->ident);
		return NULL;
	}
	if (!m) {
		char sug[300];

		suggest_field(c, a->ident, sug, sizeof(sug));
		cerr(c, a->off, "undefined macro or unknown field '%s'%s", a->ident, sug);
		return NULL;
	}
	if (m->expanding) {
		cerr(c, a->off, "macro '%s' references itself", m->name);
		return NULL;
	}
	m->used = true;
	if (!m->parsed) {
		struct cond_error e;

		m->parsed = true;
		m->ast = cond_parse(m->cond.s, m->cond.len, &e);
		if (!m->ast) {
			snprintf(item, sizeof(item), "macro '%s'", m->name);
			rules_diag_text(c->r, RULES_ERROR, &m->cond, e.off, item, "%s", e.msg);
			m->parse_failed = true;
		}
	}
	if (!m->ast) {
		c->failed = true;
		return NULL;
	}
	snprintf(item, sizeof(item), "macro '%s'", m->name);
	c->text = &m->cond;
	c->item = item;
	c->in_macro = m;
	c->visibility = m->visibility;
	m->expanding = true;
	n = compile_node(c, m->ast);
	m->expanding = false;
	if (n) {
		/* The body compiles the same wherever it is used (the macro's own visibility), so
		 * its value is memoised per event and source. */
		struct cnode *w = cnode_new(c, CN_MACRO);

		if (!w || cnode_add(w, n)) {
			cnode_free(w);
			cnode_free(n);
			n = NULL;
		} else {
			w->slot = (int)((size_t)(m - c->r->macros) * c->r->n_sources +
					(size_t)c->src);
			n = w;
		}
	}
	c->text = save_text;
	c->item = save_item;
	c->in_macro = save_macro;
	c->visibility = save_vis;
	return n;
}

static struct cnode *compile_node(struct cctx *c, const struct cond_node *a)
{
	struct cnode *n, *k;

	if (++c->depth > MAX_COMPILE_DEPTH) {
		cerr(c, a->off, "condition nested deeper than %d levels after macro expansion",
		     MAX_COMPILE_DEPTH);
		c->depth--;
		return NULL;
	}
	switch (a->kind) {
	case COND_AND:
	case COND_OR:
	case COND_NOT:
		n = cnode_new(c, a->kind == COND_AND ? CN_AND :
				 a->kind == COND_OR  ? CN_OR :
						       CN_NOT);
		if (!n)
			break;
		for (size_t i = 0; i < a->n; i++) {
			k = compile_node(c, a->kids[i]);
			if (!k || cnode_add(n, k)) {
				if (k)
					cerr(c, a->off, "out of memory");
				cnode_free(k);
				cnode_free(n);
				n = NULL;
				break;
			}
		}
		break;
	case COND_IDENT:
		n = compile_macro(c, a);
		break;
	default:
		n = compile_check(c, a);
		break;
	}
	c->depth--;
	return n;
}

/* Event-type algebra with negation pushed to the leaves. */
static void node_types(const struct cnode *n, bool neg, uint64_t *out, size_t w, size_t ntypes,
		       uint64_t *tmp_pool)
{
	size_t i;

	switch (n->kind) {
	case CN_TYPE:
		for (i = 0; i < w; i++)
			out[i] = neg ? ~n->types[i] : n->types[i];
		break;
	case CN_FALSE:
	case CN_TRUE:
		for (i = 0; i < w; i++)
			out[i] = (n->kind == CN_TRUE) != neg ? ~0ull : 0;
		break;
	case CN_CHECK:
		for (i = 0; i < w; i++)
			out[i] = ~0ull;
		break;
	case CN_NOT:
		node_types(n->kids[0], !neg, out, w, ntypes, tmp_pool);
		break;
	case CN_MACRO:
		node_types(n->kids[0], neg, out, w, ntypes, tmp_pool);
		break;
	default: {
		bool inter = (n->kind == CN_AND) != neg;

		for (i = 0; i < w; i++)
			out[i] = inter ? ~0ull : 0;
		for (size_t k = 0; k < n->n; k++) {
			node_types(n->kids[k], neg, tmp_pool, w, ntypes, tmp_pool + w);
			for (i = 0; i < w; i++)
				out[i] = inter ? out[i] & tmp_pool[i] : out[i] | tmp_pool[i];
		}
		break;
	}
	}
	if (ntypes % 64)
		out[w - 1] &= (1ull << (ntypes % 64)) - 1;
}

/*
 * Constant folding after the event-type algebra: `not never_true`, `x and always_true`, the
 * folded evt.dir / evt.num checks and disabled-by-macro branches disappear from the hot path.
 * Returns the node to use instead of n (n itself, a child, or n turned into a constant).
 */
static struct cnode *fold(struct cnode *n)
{
	size_t w = 0;

	for (size_t i = 0; i < n->n; i++)
		n->kids[i] = fold(n->kids[i]);
	switch (n->kind) {
	case CN_NOT:
	case CN_MACRO: {
		struct cnode *k = n->kids[0];

		if (k->kind != CN_TRUE && k->kind != CN_FALSE)
			return n;
		n->kind = (k->kind == CN_TRUE) != (n->kind == CN_NOT) ? CN_TRUE : CN_FALSE;
		cnode_free(k);
		n->n = 0;
		return n;
	}
	case CN_AND:
	case CN_OR: {
		enum cn_kind absorb = n->kind == CN_AND ? CN_FALSE : CN_TRUE;
		enum cn_kind neutral = n->kind == CN_AND ? CN_TRUE : CN_FALSE;
		bool absorbed = false;

		for (size_t i = 0; i < n->n; i++) {
			struct cnode *k = n->kids[i];

			if (k->kind == absorb)
				absorbed = true;
			if (absorbed || k->kind == neutral)
				cnode_free(k);
			else
				n->kids[w++] = k;
		}
		if (absorbed) {
			for (size_t i = 0; i < w; i++)
				cnode_free(n->kids[i]);
			w = 0;
		}
		n->n = w;
		if (absorbed || !w) {
			n->kind = absorbed ? absorb : neutral;
			n->n = 0;
			return n;
		}
		if (w == 1) {
			struct cnode *k = n->kids[0];

			n->n = 0;
			cnode_free(n);
			return k;
		}
		return n;
	}
	default:
		return n;
	}
}

/* Building a block (build_flat): blk.p == NULL is the sizing pass. */
struct blk {
	char *p;
	size_t off;
};

static void *balloc(struct blk *b, size_t n)
{
	void *r = b->p ? b->p + b->off : NULL;

	b->off += (n + 15) & ~(size_t)15;
	return r;
}

/* The rule owns its regexes (rule->res); blocks borrow them. */
static const struct cnode *copy_leaf(struct blk *b, const struct cnode *src, size_t words)
{
	struct cnode *d = balloc(b, sizeof(*d));

	if (d) {
		*d = *src;
		d->kids = NULL;
		d->n = 0;
	}
	if (src->types) {
		uint64_t *t = balloc(b, words * sizeof(*t));

		if (t) {
			memcpy(t, src->types, words * sizeof(*t));
			d->types = t;
		}
	}
	if (src->nvals) {
		struct cval *v = balloc(b, src->nvals * sizeof(*v));

		for (size_t i = 0; i < src->nvals; i++) {
			char *str = src->vals[i].s ? balloc(b, src->vals[i].len + 1) : NULL;

			if (!v)
				continue;
			v[i] = src->vals[i];
			if (str) {
				memcpy(str, src->vals[i].s, src->vals[i].len + 1);
				v[i].s = str;
			}
		}
		if (d)
			d->vals = v;
	}
	if (src->set.cap) {
		struct strset_ent *e = balloc(b, src->set.cap * sizeof(*e));

		if (e) {
			for (size_t i = 0; i < src->set.cap; i++) {
				e[i] = src->set.ent[i];
				if (e[i].h)
					e[i].s = d->vals[e[i].idx].s;
			}
			d->set.ent = e;
		}
	}
	return d;
}

/*
 * Per-event-type specialisation. For an event of type t every `evt.type` check is a constant,
 * so the block evaluated for t leaves them out, with whatever they decide: a branch for other
 * event types disappears, an AND/OR left with one operand is that operand. NOSPEC keeps the
 * tree as it is (sources without event types).
 */
#define NOSPEC UINT_MAX

enum { SV_FALSE, SV_TRUE, SV_UNKNOWN };

static int spec_val(const struct cnode *n, unsigned t)
{
	int v, res;

	switch (n->kind) {
	case CN_TRUE:
		return SV_TRUE;
	case CN_FALSE:
		return SV_FALSE;
	case CN_TYPE:
		if (t == NOSPEC)
			return SV_UNKNOWN;
		return (n->types[t / 64] >> (t % 64)) & 1 ? SV_TRUE : SV_FALSE;
	case CN_NOT:
		v = spec_val(n->kids[0], t);
		return v == SV_UNKNOWN ? v : !v;
	case CN_MACRO:
		return spec_val(n->kids[0], t);
	case CN_AND:
	case CN_OR:
		res = n->kind == CN_AND ? SV_TRUE : SV_FALSE;
		for (size_t i = 0; i < n->n; i++) {
			v = spec_val(n->kids[i], t);
			if (v == SV_UNKNOWN)
				res = SV_UNKNOWN;
			else if (v != (n->kind == CN_AND ? SV_TRUE : SV_FALSE))
				return v;
		}
		return res;
	default:
		return SV_UNKNOWN;
	}
}

/* What stands for n (undecided for t): an AND/OR with one undecided operand is that operand. */
static const struct cnode *spec_self(const struct cnode *n, unsigned t)
{
	while (n->kind == CN_AND || n->kind == CN_OR) {
		const struct cnode *only = NULL;
		size_t cnt = 0;

		for (size_t i = 0; i < n->n; i++) {
			if (spec_val(n->kids[i], t) == SV_UNKNOWN) {
				only = n->kids[i];
				cnt++;
			}
		}
		if (cnt != 1)
			break;
		n = only;
	}
	return n;
}

/* The operands of n kept for t: the undecided ones, each as spec_self. */
static bool spec_kid(const struct cnode *n, size_t i, unsigned t, const struct cnode **k)
{
	if (spec_val(n->kids[i], t) != SV_UNKNOWN)
		return false;
	*k = spec_self(n->kids[i], t);
	return true;
}

static void put(struct fnode *ops, size_t *pos, uint8_t kind, int32_t memo,
		const struct cnode *leaf)
{
	if (ops) {
		ops[*pos].kind = kind;
		ops[*pos].memo = memo;
		ops[*pos].target = UINT32_MAX;
		ops[*pos].leaf = leaf;
	}
	(*pos)++;
}

/*
 * The program of n (undecided for t) at ops[*pos]; ops == NULL is the sizing pass. The leaves'
 * copies go to b in the order the program tests them.
 */
static void emit(struct blk *b, const struct cnode *n, unsigned t, struct fnode *ops, size_t *pos,
		 size_t words)
{
	const struct cnode *k, *last = NULL;
	size_t start = *pos;

	switch (n->kind) {
	case CN_CHECK:
	case CN_TYPE:
		put(ops, pos, n->kind == CN_CHECK ? OPC_TEST : OPC_TYPE, -1,
		    copy_leaf(b, n, words));
		return;
	case CN_TRUE:
	case CN_FALSE:
		put(ops, pos, n->kind == CN_TRUE ? OPC_TRUE : OPC_FALSE, -1, NULL);
		return;
	case CN_NOT:
		if (spec_kid(n, 0, t, &k))
			emit(b, k, t, ops, pos, words);
		put(ops, pos, OPC_NOT, -1, NULL);
		return;
	case CN_MACRO:
		put(ops, pos, OPC_MEMO, n->slot, NULL);
		if (spec_kid(n, 0, t, &k))
			emit(b, k, t, ops, pos, words);
		put(ops, pos, OPC_STORE, n->slot, NULL);
		if (ops)
			ops[start].target = (uint32_t)*pos;
		return;
	default: /* CN_AND, CN_OR: each operand but the last may decide */
		for (size_t i = 0; i < n->n; i++) {
			if (!spec_kid(n, i, t, &k))
				continue;
			if (last) {
				emit(b, last, t, ops, pos, words);
				put(ops, pos, n->kind == CN_AND ? OPC_JF : OPC_JT, -1, NULL);
			}
			last = k;
		}
		if (last)
			emit(b, last, t, ops, pos, words);
		/* this node's jumps are the ones inside it still unpatched */
		for (size_t i = start; ops && i < *pos; i++)
			if ((ops[i].kind == OPC_JF || ops[i].kind == OPC_JT) &&
			    ops[i].target == UINT32_MAX)
				ops[i].target = (uint32_t)*pos;
		return;
	}
}

/*
 * A jump lands where acc is used next; when that is another jump on the same value (an
 * enclosing and/or decided too), go straight to its end.
 */
static void thread_jumps(struct fnode *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t j;

		if (ops[i].kind != OPC_JF && ops[i].kind != OPC_JT)
			continue;
		j = ops[i].target;
		for (;;) {
			if (ops[j].kind == ops[i].kind)
				j = ops[j].target; /* taken again: acc is unchanged */
			else if (ops[j].kind == OPC_JF || ops[j].kind == OPC_JT)
				j++; /* the opposite jump falls through */
			else
				break;
		}
		ops[i].target = j;
	}
}

/*
 * A rule's evaluation data in one block: its program, then each leaf with its constants, sets
 * and type bitmap, in the order the program tests them. An event touches few cache lines.
 * root must be undecided for t (or t == NOSPEC).
 */
static struct fnode *build_flat(const struct cnode *root, unsigned t, size_t words)
{
	struct blk b = { 0 };
	struct fnode *f;
	size_t nops = 0;

	root = spec_self(root, t);
	/* sizing pass: b.off sums the leaves' bytes, nops counts the ops */
	emit(&b, root, t, NULL, &nops, words);
	nops++; /* OPC_END */
	b.off += (nops * sizeof(struct fnode) + 15) & ~(size_t)15;
	b.p = aligned_alloc(64, (b.off + 63) & ~(size_t)63);
	if (!b.p)
		return NULL;
	f = (struct fnode *)b.p;
	b.off = (nops * sizeof(struct fnode) + 15) & ~(size_t)15; /* the leaves follow the ops */
	nops = 0;
	emit(&b, root, t, f, &nops, words);
	put(f, &nops, OPC_END, -1, NULL);
	thread_jumps(f, nops);
	return f;
}

/* A block that is always true (a rule whose condition is decided by the event type alone). */
static struct fnode *build_true(void)
{
	struct fnode *f = aligned_alloc(64, 64);
	size_t n = 0;

	if (f) {
		memset(f, 0, 64);
		put(f, &n, OPC_TRUE, -1, NULL);
		put(f, &n, OPC_END, -1, NULL);
	}
	return f;
}

/* Move every regex of the tree to the rule (blocks borrow them, the rule frees them). */
static int take_regexes(struct rule *rule, struct cnode *n)
{
	for (size_t i = 0; i < n->n; i++)
		if (take_regexes(rule, n->kids[i]))
			return -1;
	if (n->re) {
		pcre2_code **v = realloc(rule->res, (rule->n_res + 1) * sizeof(*v));

		if (!v)
			return -1;
		rule->res = v;
		rule->res[rule->n_res++] = n->re;
	}
	return 0;
}

static void forget_regexes(struct cnode *n)
{
	for (size_t i = 0; i < n->n; i++)
		forget_regexes(n->kids[i]);
	n->re = NULL;
}

/* The evt.type checks of a tree, in tree order. 0 or -1 (out of memory). */
static int type_leaves(const struct cnode *n, const struct cnode ***v, size_t *cnt, size_t *cap)
{
	if (n->kind == CN_TYPE) {
		if (*cnt == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			const struct cnode **nv = realloc(*v, nc * sizeof(*nv));

			if (!nv)
				return -1;
			*v = nv;
			*cap = nc;
		}
		(*v)[(*cnt)++] = n;
	}
	for (size_t i = 0; i < n->n; i++)
		if (type_leaves(n->kids[i], v, cnt, cap))
			return -1;
	return 0;
}

/*
 * rule->tflat[t] for each event type t of the rule: one block per distinct outcome of the
 * rule's evt.type checks (types deciding them alike share a block), NULL where the condition
 * is false for t. Returns 0 or -ENOMEM.
 */
static int build_blocks(struct rule *rule, const struct cnode *root, size_t words)
{
	const struct cnode **leaves = NULL;
	size_t n_leaves = 0, cap = 0, nt = rule->n_types;
	unsigned char *keys = NULL; /* per block: one byte per evt.type check */
	unsigned char *key = NULL;
	int rc = -ENOMEM, lrc;

	lrc = type_leaves(root, &leaves, &n_leaves, &cap);
	rule->tflat = calloc(nt ? nt : 1, sizeof(*rule->tflat));
	rule->blocks = calloc(nt + 1, sizeof(*rule->blocks));
	key = malloc(n_leaves + 1);
	if (!rule->tflat || !rule->blocks || !key || lrc)
		goto out;
	for (unsigned t = 0; t < nt; t++) {
		size_t b;
		int v;

		if (!(rule->types[t / 64] & (1ull << (t % 64))))
			continue;
		v = spec_val(root, t);
		if (v == SV_FALSE)
			continue;
		for (size_t i = 0; i < n_leaves; i++)
			key[i] = (leaves[i]->types[t / 64] >> (t % 64)) & 1;
		for (b = 0; b < rule->n_blocks; b++)
			if (!memcmp(keys + b * (n_leaves + 1), key, n_leaves))
				break;
		if (b == rule->n_blocks) {
			unsigned char *nk = realloc(keys, (b + 1) * (n_leaves + 1));
			struct fnode *f = v == SV_TRUE ? build_true() : build_flat(root, t, words);

			if (!nk || !f) {
				free(nk ? nk : keys);
				keys = NULL;
				free(f);
				goto out;
			}
			keys = nk;
			memcpy(keys + b * (n_leaves + 1), key, n_leaves);
			rule->blocks[rule->n_blocks++] = f;
		}
		rule->tflat[t] = rule->blocks[b];
	}
	rc = 0;
out:
	free(keys);
	free(key);
	free(leaves);
	return rc;
}

/* Does evaluating n risk an expensive step: a rendered field, a regex, an ancestor walk? */
static bool costly(const struct rules *r, const struct cnode *n)
{
	if (n->kind == CN_CHECK) {
		const struct slot_def *sd = &r->slots[n->slot];

		if (n->re || n->anc || (sd->def->flags & FIELD_COSTLY))
			return true;
		return n->cmp == CMP_FIELD && (r->slots[n->rhs_slot].def->flags & FIELD_COSTLY);
	}
	for (size_t i = 0; i < n->n; i++)
		if (costly(r, n->kids[i]))
			return true;
	return false;
}

/*
 * The operands of an and/or are independent tests without side effects, so their order only
 * changes how soon the answer is known: costly operands move behind the others (each group
 * keeps the order the rule was written in, which usually puts the selective tests first).
 */
static void reorder(const struct rules *r, struct cnode *n)
{
	for (size_t i = 0; i < n->n; i++)
		reorder(r, n->kids[i]);
	if ((n->kind == CN_AND || n->kind == CN_OR) && n->n > 1) {
		struct cnode *tmp[64];
		size_t w = 0, m = 0;

		if (n->n > 64)
			return;
		for (size_t i = 0; i < n->n; i++) {
			if (costly(r, n->kids[i]))
				tmp[m++] = n->kids[i];
			else
				n->kids[w++] = n->kids[i];
		}
		memcpy(n->kids + w, tmp, m * sizeof(*tmp));
	}
}

static size_t tree_depth(const struct cnode *n)
{
	size_t d = 0;

	for (size_t i = 0; i < n->n; i++) {
		size_t k = tree_depth(n->kids[i]);

		if (k > d)
			d = k;
	}
	return d + 1;
}

/* Parse "FIELD" of an exception through the condition parser: "FIELD exists". */
static struct cond_node *exc_field(struct cctx *c, const char *field)
{
	size_t len = strlen(field);
	char *buf = malloc(len + 8);
	struct cond_error e;
	struct cond_node *n;

	if (!buf) {
		cerr(c, 0, "out of memory");
		return NULL;
	}
	memcpy(buf, field, len);
	memcpy(buf + len, " exists", 8);
	n = cond_parse(buf, len + 7, &e);
	free(buf);
	if (!n || n->kind != COND_CHECK || n->field.off != 0) {
		cerr(c, 0, "invalid exception field '%s'", field);
		cond_free(n);
		return NULL;
	}
	return n;
}

static struct cond_node *exc_check(struct cctx *c, const struct exception_def *e, size_t f,
				   const struct strvec *vals)
{
	struct cond_node *n = exc_field(c, e->fields.v[f]);
	int op;

	if (!n)
		return NULL;
	op = cond_op_parse(e->comps.v[f]);
	n->op = (enum cond_op)op;
	n->rhs = cond_op_is_list(n->op) ? RHS_LIST : RHS_VALUE;
	if (n->rhs == RHS_VALUE && vals->n != 1) {
		cerr(c, 0, "exception '%s': operator '%s' needs a single value for field '%s'",
		     e->name, e->comps.v[f], e->fields.v[f]);
		cond_free(n);
		return NULL;
	}
	n->vals = calloc(vals->n ? vals->n : 1, sizeof(*n->vals));
	if (!n->vals)
		goto nomem;
	for (size_t i = 0; i < vals->n; i++) {
		n->vals[i].s = strdup(vals->v[i]);
		if (!n->vals[i].s)
			goto nomem;
		n->vals[i].len = strlen(vals->v[i]);
		n->nvals = i + 1;
	}
	return n;
nomem:
	cerr(c, 0, "out of memory");
	cond_free(n);
	return NULL;
}

/* (COND) and not ((f1 c1 v1 and f2 c2 v2) or ...), as AST, over every exception. */
static struct cnode *compile_exceptions(struct cctx *c)
{
	struct rule *rule = c->rule;
	struct cond_node *any = cond_node_new(COND_OR, 0), *t = NULL;
	struct cnode *res = NULL;
	const struct ctext *save = c->text;

	if (!any) {
		cerr(c, 0, "out of memory");
		return NULL;
	}
	c->text = NULL;
	for (size_t x = 0; x < rule->n_exc && !c->failed; x++) {
		const struct exception_def *e = &rule->exc[x];
		size_t nf = e->fields.n;

		c->loc = &e->loc;
		/* Fields must exist even when the exception has no values yet. */
		for (size_t f = 0; f < nf && !c->failed; f++) {
			struct cond_node *fn = exc_field(c, e->fields.v[f]);
			struct field_arg arg;
			enum field_type type;

			if (fn && !resolve(c, &fn->field, &arg, &type) && !c->failed)
				c->failed = true;
			cond_free(fn);
		}
		for (size_t v = 0; v < e->n_vals && !c->failed; v++) {
			const struct strvec *tuple = &e->vals[v * nf];

			if (e->single && !cond_op_is_list(cond_op_parse(e->comps.v[0])) &&
			    tuple->n != 1) {
				cerr(c, 0, "exception '%s': one value expected", e->name);
				break;
			}
			t = cond_node_new(COND_AND, 0);
			if (!t) {
				cerr(c, 0, "out of memory");
				break;
			}
			for (size_t f = 0; f < nf; f++) {
				struct cond_node *k = exc_check(c, e, f, &tuple[f]);

				if (!k || cond_node_add(t, k)) {
					cond_free(k);
					cerr(c, 0, "out of memory");
					break;
				}
			}
			if (c->failed || cond_node_add(any, t)) {
				cond_free(t);
				cerr(c, 0, "out of memory");
				break;
			}
		}
	}
	if (!c->failed && any->n) {
		/* One-child AND/OR nodes are fine for compile_node: they just nest. */
		struct cond_node *neg = cond_node_new(COND_NOT, 0);

		if (!neg || cond_node_add(neg, any)) {
			cond_free(neg);
			cerr(c, 0, "out of memory");
		} else {
			any = NULL;
			res = compile_node(c, neg);
			cond_free(neg);
		}
	}
	cond_free(any);
	c->text = save;
	c->loc = &rule->loc;
	return res;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void compile_rule(struct rules *r, struct rule *rule)
{
	struct cctx c = { .r = r, .rule = rule };
	struct cond_node *ast;
	struct cond_error e;
	struct cnode *root = NULL, *exc;
	size_t w;

	snprintf(c.rule_item, sizeof(c.rule_item), "rule '%s'", rule->name);
	c.item = c.rule_item;
	c.loc = &rule->loc;
	c.text = &rule->cond;
	/* As in Falco, a rule sees every macro and list; macros only earlier ones. */
	c.visibility = UINT_MAX;
	if (rule->tags.n)
		qsort(rule->tags.v, rule->tags.n, sizeof(char *), cmp_str);

	c.src = rules_source_index(r, rule->source);
	if (c.src < 0) {
		rules_diag(r, RULES_WARNING, &rule->loc, c.item,
			   "unknown source '%s', rule skipped", rule->source);
		return;
	}
	rule->src_index = c.src;
	c.fs = r->sources[c.src];

	ast = cond_parse(rule->cond.s ? rule->cond.s : "", rule->cond.len, &e);
	if (!ast) {
		rules_diag_text(r, RULES_ERROR, &rule->cond, e.off, c.item, "%s", e.msg);
		return;
	}
	root = compile_node(&c, ast);
	cond_free(ast);
	if (root && rule->n_exc) {
		exc = compile_exceptions(&c);
		if (exc) {
			struct cnode *and = cnode_new(&c, CN_AND);

			if (!and || cnode_add(and, root) || cnode_add(and, exc)) {
				cnode_free(and);
				cnode_free(exc);
				root = NULL;
				c.failed = true;
			} else {
				root = and;
			}
		}
	}
	if (c.failed || !root) {
		cnode_free(root);
		if (c.skipped)
			rules_diag(r, RULES_WARNING, &rule->loc, c.item,
				   "rule skipped: unknown field (skip-if-unknown-filter)");
		return;
	}
	w = type_words(c.fs);
	rule->n_types = c.fs->n_event_types;
	rule->types = calloc(w ? w : 1, sizeof(uint64_t));
	if (!rule->types) {
		cnode_free(root);
		rules_diag(r, RULES_ERROR, &rule->loc, c.item, "out of memory");
		return;
	}
	{
		size_t depth = tree_depth(root);
		uint64_t *pool = calloc((depth + 1) * (w ? w : 1), sizeof(uint64_t));

		if (!pool) {
			cnode_free(root);
			rules_diag(r, RULES_ERROR, &rule->loc, c.item, "out of memory");
			return;
		}
		if (w)
			node_types(root, false, rule->types, w, c.fs->n_event_types, pool);
		free(pool);
	}
	if (c.fs->type_field && rule->warn_evttypes) {
		size_t cnt = 0;

		for (size_t i = 0; i < w; i++)
			cnt += (size_t)__builtin_popcountll(rule->types[i]);
		if (cnt > TOO_MANY_TYPES)
			rules_diag(r, RULES_WARNING, &rule->loc, c.item,
				   "Rule matches too many evt.type values. This has a significant "
				   "performance penalty.");
	}
	root = fold(root);
	reorder(r, root);
	rule->root = root;
	if (take_regexes(rule, root) ||
	    (c.fs->n_event_types > 1 ? build_blocks(rule, root, w ? w : 1) :
				       !(rule->flat = build_flat(root, NOSPEC, w ? w : 1)))) {
		forget_regexes(root);
		rules_diag(r, RULES_ERROR, &rule->loc, c.item, "out of memory");
		return;
	}
	/* The tree served the type algebra and folding; evaluation uses the blocks. */
	forget_regexes(root);
	cnode_free(root);
	root = rule->root = NULL;
	rule->fmt = fmt_compile(r, rule);
	if (!rule->fmt) {
		cnode_free(rule->root);
		rule->root = NULL;
		return;
	}
	rule->compiled = true;
}

static int build_index(struct rules *r)
{
	r->index = calloc(r->n_sources ? r->n_sources : 1, sizeof(*r->index));
	if (!r->index)
		return -ENOMEM;
	for (size_t s = 0; s < r->n_sources; s++) {
		size_t nt = r->sources[s]->n_event_types;

		r->index[s] = calloc(nt ? nt : 1, sizeof(**r->index));
		if (!r->index[s])
			return -ENOMEM;
		for (size_t t = 0; t < nt; t++) {
			struct type_bucket *b = &r->index[s][t];
			size_t n = 0;

			for (int pass = 0; pass < 2; pass++) {
				for (size_t i = 0; i < r->n_rules; i++) {
					struct rule *rule = r->rules[i];

					if (!rule->compiled || !rule->enabled ||
					    rule->src_index != (int)s ||
					    !rule_has_event_type(rule, (unsigned)t))
						continue;
					if (rule->tflat && !rule->tflat[t])
						continue;
					if (pass) {
						b->ents[b->n].flat = rule->tflat ? rule->tflat[t] :
										   rule->flat;
						b->ents[b->n++].rule = rule;
					} else {
						n++;
					}
				}
				if (!n)
					break;
				if (!pass && !(b->ents = malloc(n * sizeof(*b->ents))))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

int rules_compile_all(struct rules *r)
{
	unsigned errs = r->n_err;

	r->n_memo = r->n_macros * r->n_sources;

	for (size_t i = 0; i < r->n_rules; i++)
		compile_rule(r, r->rules[i]);
	/* Macros nobody uses still get a syntax check, so typos surface. */
	for (size_t i = 0; i < r->n_macros; i++) {
		struct macro_def *m = &r->macros[i];
		struct cond_error e;
		char item[600];

		if (m->parsed)
			continue;
		m->parsed = true;
		m->ast = cond_parse(m->cond.s ? m->cond.s : "", m->cond.len, &e);
		if (!m->ast) {
			snprintf(item, sizeof(item), "macro '%s'", m->name);
			rules_diag_text(r, RULES_ERROR, &m->cond, e.off, item, "%s", e.msg);
		}
	}
	if (r->n_err > errs)
		return -EINVAL;
	/* What only diagnostics needed: the macros' ASTs and the files' text. */
	for (size_t i = 0; i < r->n_macros; i++) {
		cond_free(r->macros[i].ast);
		r->macros[i].ast = NULL;
	}
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].buf);
		r->files[i].buf = NULL;
		r->files[i].len = 0;
	}
	return build_index(r);
}
