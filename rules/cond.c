// SPDX-License-Identifier: Apache-2.0
/*
 * Condition lexer and recursive-descent parser, following libsinsp's grammar: or/and loops
 * (n-ary nodes, so long chains do not nest), `not` and parentheses recurse and are counted
 * against COND_MAX_DEPTH so a hostile condition ends in an error, not a stack overflow.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/cond.h"

struct parser {
	const char *s;
	size_t len, pos;
	int depth;
	struct cond_error *err;
	bool failed;
};

static const char *const op_names[OP__COUNT] = {
	[OP_EQ] = "=",
	[OP_NE] = "!=",
	[OP_LT] = "<",
	[OP_LE] = "<=",
	[OP_GT] = ">",
	[OP_GE] = ">=",
	[OP_CONTAINS] = "contains",
	[OP_ICONTAINS] = "icontains",
	[OP_BCONTAINS] = "bcontains",
	[OP_STARTSWITH] = "startswith",
	[OP_BSTARTSWITH] = "bstartswith",
	[OP_ENDSWITH] = "endswith",
	[OP_GLOB] = "glob",
	[OP_IGLOB] = "iglob",
	[OP_REGEX] = "regex",
	[OP_IN] = "in",
	[OP_INTERSECTS] = "intersects",
	[OP_PMATCH] = "pmatch",
	[OP_EXISTS] = "exists",
};

const char *cond_op_name(enum cond_op op)
{
	return op < OP__COUNT ? op_names[op] : "?";
}

int cond_op_parse(const char *name)
{
	if (!strcmp(name, "=="))
		return OP_EQ;
	for (int i = 0; i < OP__COUNT; i++)
		if (!strcmp(name, op_names[i]))
			return i;
	return -1;
}

bool cond_op_is_list(enum cond_op op)
{
	return op == OP_IN || op == OP_INTERSECTS || op == OP_PMATCH;
}

static void fail(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err->off = off;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static void fail_nomem(struct parser *p)
{
	fail(p, p->pos, "out of memory");
	errno = ENOMEM;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\b' || c == '\f' ||
	       c == '\v';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static char peek(const struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : '\0';
}

static void skip_blank(struct parser *p)
{
	while (p->pos < p->len && is_blank(p->s[p->pos]))
		p->pos++;
}

/* A keyword or word operator: the word, not followed by an identifier character. */
static bool lex_word(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n))
		return false;
	if (p->pos + n < p->len && is_ident(p->s[p->pos + n]))
		return false;
	p->pos += n;
	return true;
}

static bool lex_sym(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n))
		return false;
	p->pos += n;
	return true;
}

static char *dup_range(struct parser *p, const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d) {
		fail_nomem(p);
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

struct cond_node *cond_node_new(enum cond_kind kind, size_t off)
{
	struct cond_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->off = off;
	return n;
}

int cond_node_add(struct cond_node *parent, struct cond_node *kid)
{
	struct cond_node **k;

	if (parent->n >= SIZE_MAX / sizeof(*k) / 2)
		return -ENOMEM;
	/* Grow in powers of two: n is a power of two exactly when the array is full. */
	if (parent->n == 0 || (parent->n & (parent->n - 1)) == 0) {
		k = realloc(parent->kids, (parent->n ? parent->n * 2 : 2) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		parent->kids = k;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static void field_clear(struct cond_field *f)
{
	free(f->name);
	free(f->arg);
}

void cond_free(struct cond_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cond_free(n->kids[i]);
	free(n->kids);
	free(n->ident);
	field_clear(&n->field);
	field_clear(&n->rhs_field);
	for (size_t i = 0; i < n->nvals; i++)
		free(n->vals[i].s);
	free(n->vals);
	free(n);
}

static int field_copy(struct cond_field *d, const struct cond_field *s)
{
	*d = *s;
	d->name = NULL;
	d->arg = NULL;
	if (s->name && !(d->name = strdup(s->name)))
		return -ENOMEM;
	if (s->arg && !(d->arg = strdup(s->arg)))
		return -ENOMEM;
	return 0;
}

struct cond_node *cond_clone(const struct cond_node *n)
{
	struct cond_node *c = cond_node_new(n->kind, n->off);

	if (!c)
		return NULL;
	c->op = n->op;
	c->rhs = n->rhs;
	if (n->ident && !(c->ident = strdup(n->ident)))
		goto err;
	if (field_copy(&c->field, &n->field) || field_copy(&c->rhs_field, &n->rhs_field))
		goto err;
	if (n->nvals) {
		c->vals = calloc(n->nvals, sizeof(*c->vals));
		if (!c->vals)
			goto err;
		for (size_t i = 0; i < n->nvals; i++) {
			c->vals[i] = n->vals[i];
			c->vals[i].s = malloc(n->vals[i].len + 1);
			if (!c->vals[i].s)
				goto err;
			c->nvals = i + 1;
			memcpy(c->vals[i].s, n->vals[i].s, n->vals[i].len + 1);
		}
	}
	for (size_t i = 0; i < n->n; i++) {
		struct cond_node *k = cond_clone(n->kids[i]);

		if (!k || cond_node_add(c, k)) {
			cond_free(k);
			goto err;
		}
	}
	return c;
err:
	cond_free(c);
	errno = ENOMEM;
	return NULL;
}

static struct cond_node *parse_or(struct parser *p);

static bool depth_push(struct parser *p)
{
	if (++p->depth > COND_MAX_DEPTH) {
		fail(p, p->pos, "condition nested deeper than %d levels", COND_MAX_DEPTH);
		return false;
	}
	return true;
}

/* "..." or '...' with libsinsp's escapes; the unescaped text in *out. */
static bool lex_quoted(struct parser *p, struct cond_value *out)
{
	char q = peek(p);
	size_t start = p->pos, n = 0;
	char *d;

	if (q != '"' && q != '\'')
		return false;
	d = malloc(p->len - p->pos + 1);
	if (!d) {
		fail_nomem(p);
		return false;
	}
	p->pos++;
	while (p->pos < p->len && p->s[p->pos] != q) {
		char c = p->s[p->pos++];

		if (c == '\\' && p->pos < p->len) {
			c = p->s[p->pos++];
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case '\\':
			case '"':
			case '\'':
				break;
			default:
				/* Unknown escapes stay as written (regexes, Windows paths). */
				d[n++] = '\\';
				break;
			}
		}
		d[n++] = c;
	}
	if (p->pos >= p->len) {
		free(d);
		fail(p, start, "unterminated quoted string");
		return false;
	}
	p->pos++;
	d[n] = '\0';
	out->s = d;
	out->len = n;
	out->quoted = true;
	out->off = start;
	return true;
}

static bool is_barestr(char c)
{
	return c && !is_blank(c) && c != '(' && c != ')' && c != ',' && c != '=' && c != '"' &&
	       c != '\'';
}

static bool lex_value(struct parser *p, struct cond_value *out)
{
	size_t start = p->pos;

	if (lex_quoted(p, out))
		return true;
	if (p->failed)
		return false;
	while (p->pos < p->len && is_barestr(p->s[p->pos]))
		p->pos++;
	if (p->pos == start) {
		fail(p, start, "expected a value");
		return false;
	}
	out->s = dup_range(p, p->s + start, p->pos - start);
	if (!out->s)
		return false;
	out->len = p->pos - start;
	out->quoted = false;
	out->off = start;
	return true;
}

static int xform_word(struct parser *p)
{
	static const struct {
		const char *w;
		enum cond_xform x;
	} xf[] = { { "tolower", XF_TOLOWER },
		   { "toupper", XF_TOUPPER },
		   { "b64", XF_B64 },
		   { "basename", XF_BASENAME },
		   { "len", XF_LEN } };
	size_t save = p->pos;

	for (size_t i = 0; i < sizeof(xf) / sizeof(xf[0]); i++) {
		if (lex_word(p, xf[i].w)) {
			skip_blank(p);
			if (lex_sym(p, "("))
				return xf[i].x;
			p->pos = save;
		}
	}
	return XF_NONE;
}

/* name.name(.name)* ['[' arg ']'], the caller knows a name starts here. */
static bool lex_field_name(struct parser *p, struct cond_field *f)
{
	size_t start = p->pos;

	while (p->pos < p->len) {
		if (!is_alpha(peek(p)) && peek(p) != '_')
			break;
		while (p->pos < p->len && is_ident(p->s[p->pos]))
			p->pos++;
		if (peek(p) == '.' && p->pos + 1 < p->len &&
		    (is_alpha(p->s[p->pos + 1]) || p->s[p->pos + 1] == '_' ||
		     (p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '9')))
			p->pos++;
		else
			break;
	}
	if (!memchr(p->s + start, '.', p->pos - start)) {
		p->pos = start;
		return false;
	}
	f->name = dup_range(p, p->s + start, p->pos - start);
	if (!f->name)
		return false;
	f->off = start;
	if (peek(p) == '[') {
		size_t astart = ++p->pos;
		struct cond_value v;

		if (peek(p) == '"' || peek(p) == '\'') {
			if (!lex_quoted(p, &v))
				return false;
			f->arg = v.s;
		} else {
			while (p->pos < p->len && !is_blank(p->s[p->pos]) && p->s[p->pos] != '[' &&
			       p->s[p->pos] != ']' && p->s[p->pos] != '"' && p->s[p->pos] != '\'')
				p->pos++;
			if (p->pos == astart) {
				fail(p, astart, "expected a field argument");
				return false;
			}
			f->arg = dup_range(p, p->s + astart, p->pos - astart);
			if (!f->arg)
				return false;
		}
		if (!lex_sym(p, "]")) {
			fail(p, p->pos, "expected ']' after the argument of '%s'", f->name);
			return false;
		}
	}
	return true;
}

/* field, or transformer '(' field ')' nested. Returns false without error when no field. */
static bool parse_field(struct parser *p, struct cond_field *f, bool *found)
{
	size_t start = p->pos;
	int x = xform_word(p);

	*found = false;
	if (x != XF_NONE) {
		skip_blank(p);
		if (!parse_field(p, f, found))
			return false;
		if (!*found) {
			fail(p, p->pos, "expected a field inside the transformer");
			return false;
		}
		skip_blank(p);
		if (!lex_sym(p, ")")) {
			fail(p, p->pos, "expected ')' to close the transformer");
			return false;
		}
		if (f->nxf >= COND_MAX_XFORM) {
			fail(p, start, "too many nested transformers");
			return false;
		}
		f->xf[f->nxf++] = (uint8_t)x;
		f->off = start;
		return true;
	}
	if (!lex_field_name(p, f))
		return !p->failed;
	*found = true;
	return true;
}

static bool add_value(struct parser *p, struct cond_node *n, const struct cond_value *v)
{
	if ((n->nvals & (n->nvals - 1)) == 0) {
		struct cond_value *nv =
			realloc(n->vals, (n->nvals ? n->nvals * 2 : 1) * sizeof(*nv));

		if (!nv) {
			fail_nomem(p);
			return false;
		}
		n->vals = nv;
	}
	n->vals[n->nvals++] = *v;
	return true;
}

static bool parse_list(struct parser *p, struct cond_node *n)
{
	struct cond_value v;

	if (!lex_sym(p, "(")) {
		/* A single value stands for a one-element list. */
		if (!lex_value(p, &v))
			return false;
		if (!add_value(p, n, &v)) {
			free(v.s);
			return false;
		}
		return true;
	}
	skip_blank(p);
	if (lex_sym(p, ")"))
		return true;
	for (;;) {
		skip_blank(p);
		if (!lex_value(p, &v))
			return false;
		if (!add_value(p, n, &v)) {
			free(v.s);
			return false;
		}
		skip_blank(p);
		if (lex_sym(p, ")"))
			return true;
		if (!lex_sym(p, ",")) {
			fail(p, p->pos, "expected ',' or ')' in the list of values");
			return false;
		}
	}
}

static bool parse_rhs(struct parser *p, struct cond_node *n)
{
	struct cond_value v;

	skip_blank(p);
	if (cond_op_is_list(n->op)) {
		n->rhs = RHS_LIST;
		return parse_list(p, n);
	}
	if (lex_sym(p, "val(")) {
		bool found;

		skip_blank(p);
		if (!parse_field(p, &n->rhs_field, &found))
			return false;
		if (!found) {
			fail(p, p->pos, "expected a field inside val()");
			return false;
		}
		skip_blank(p);
		if (!lex_sym(p, ")")) {
			fail(p, p->pos, "expected ')' to close val()");
			return false;
		}
		n->rhs = RHS_FIELD;
		return true;
	}
	n->rhs = RHS_VALUE;
	if (!lex_value(p, &v))
		return false;
	if (!add_value(p, n, &v)) {
		free(v.s);
		return false;
	}
	return true;
}

static bool lex_op(struct parser *p, enum cond_op *op)
{
	static const struct {
		const char *s;
		enum cond_op op;
	} syms[] = { { "==", OP_EQ }, { "=", OP_EQ },  { "!=", OP_NE }, { "<=", OP_LE },
		     { "<", OP_LT },  { ">=", OP_GE }, { ">", OP_GT } };

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (lex_sym(p, syms[i].s)) {
			*op = syms[i].op;
			return true;
		}
	for (int i = OP_CONTAINS; i < OP__COUNT; i++)
		if (lex_word(p, op_names[i])) {
			*op = (enum cond_op)i;
			return true;
		}
	return false;
}

static struct cond_node *parse_check(struct parser *p)
{
	struct cond_node *n;
	size_t start = p->pos;
	bool found;

	if (lex_sym(p, "(")) {
		n = parse_or(p);
		if (!n)
			return NULL;
		skip_blank(p);
		if (!lex_sym(p, ")")) {
			fail(p, p->pos, "expected ')'");
			cond_free(n);
			return NULL;
		}
		return n;
	}
	n = cond_node_new(COND_CHECK, start);
	if (!n) {
		fail_nomem(p);
		return NULL;
	}
	if (!parse_field(p, &n->field, &found))
		goto err;
	if (!found) {
		size_t id = p->pos;

		if (is_alpha(peek(p)) || peek(p) == '_') {
			while (p->pos < p->len && is_ident(p->s[p->pos]))
				p->pos++;
			n->ident = dup_range(p, p->s + id, p->pos - id);
			if (!n->ident)
				goto err;
			if (!strcmp(n->ident, "and") || !strcmp(n->ident, "or")) {
				fail(p, id, "unexpected '%s'", n->ident);
				goto err;
			}
			n->kind = COND_IDENT;
			return n;
		}
		if (p->pos >= p->len)
			fail(p, p->pos, "unexpected end of condition");
		else
			fail(p, p->pos, "expected a '(' token, a field check, or an identifier");
		goto err;
	}
	skip_blank(p);
	if (!lex_op(p, &n->op)) {
		fail(p, p->pos, "expected a valid operator after field '%s'", n->field.name);
		goto err;
	}
	if (n->op == OP_EXISTS) {
		n->rhs = RHS_NONE;
		return n;
	}
	if (!parse_rhs(p, n))
		goto err;
	return n;
err:
	cond_free(n);
	return NULL;
}

static struct cond_node *parse_not(struct parser *p)
{
	struct cond_node *n, *k;
	size_t start;

	skip_blank(p);
	start = p->pos;
	if (!depth_push(p))
		return NULL;
	if (lex_word(p, "not")) {
		k = parse_not(p);
		if (!k)
			return NULL;
		n = cond_node_new(COND_NOT, start);
		if (!n || cond_node_add(n, k)) {
			cond_free(n);
			cond_free(k);
			fail_nomem(p);
			return NULL;
		}
	} else {
		n = parse_check(p);
	}
	p->depth--;
	return n;
}

static struct cond_node *parse_chain(struct parser *p, enum cond_kind kind)
{
	const char *kw = kind == COND_OR ? "or" : "and";
	struct cond_node *first, *n = NULL, *k;
	size_t start;

	skip_blank(p);
	start = p->pos;
	first = kind == COND_OR ? parse_chain(p, COND_AND) : parse_not(p);
	if (!first)
		return NULL;
	for (;;) {
		size_t save;

		skip_blank(p);
		save = p->pos;
		if (!lex_word(p, kw))
			break;
		/* "or(" and "and(" are fine, "orx" is not a keyword (lex_word checked). */
		(void)save;
		k = kind == COND_OR ? parse_chain(p, COND_AND) : parse_not(p);
		if (!k)
			goto err;
		if (!n) {
			n = cond_node_new(kind, start);
			if (!n || cond_node_add(n, first)) {
				cond_free(k);
				goto err_nomem;
			}
			first = NULL;
		}
		if (cond_node_add(n, k)) {
			cond_free(k);
			goto err_nomem;
		}
	}
	return n ? n : first;
err_nomem:
	fail_nomem(p);
err:
	cond_free(first);
	cond_free(n);
	return NULL;
}

/* Depth is counted in parse_not only: one level per `not` and per parenthesis. */
static struct cond_node *parse_or(struct parser *p)
{
	return parse_chain(p, COND_OR);
}

struct cond_node *cond_parse(const char *s, size_t len, struct cond_error *err)
{
	struct parser p = { .s = s, .len = len, .err = err };
	struct cond_node *n;

	err->off = 0;
	err->msg[0] = '\0';
	if (memchr(s, '\0', len)) {
		fail(&p, (size_t)((const char *)memchr(s, '\0', len) - s), "NUL byte in condition");
		errno = EINVAL;
		return NULL;
	}
	n = parse_or(&p);
	if (n) {
		skip_blank(&p);
		if (p.pos < p.len) {
			fail(&p, p.pos, "unexpected token after the end of the expression");
			cond_free(n);
			n = NULL;
		}
	}
	if (!n) {
		if (!p.failed)
			fail(&p, p.pos, "invalid condition");
		if (strcmp(err->msg, "out of memory"))
			errno = EINVAL;
	}
	return n;
}
