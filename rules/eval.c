// SPDX-License-Identifier: Apache-2.0
/*
 * Evaluator: walks the compiled trees of the rules indexed under an event's type, extracting
 * fields lazily into a per-event cache (a slot is valid when its generation equals the
 * evaluator's, so moving to the next event is one increment). Extractors build values in a
 * scratch arena that is reset per event and only grows, so a warm evaluator allocates nothing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/internal.h"

#define MAX_ANCESTORS 64
#define SCRATCH_MIN 4096

struct scratch_chunk {
	struct scratch_chunk *next;
	size_t len;
	max_align_t data[];
};

struct field_scratch {
	char *buf;
	size_t cap, used;
	struct scratch_chunk *extra; /* overflow of this event, merged into buf at reset */
	size_t extra_total;
};

/*
 * One extraction slot of this evaluator: what to call and the cached value, in one cache line
 * (the shared slot_def is only read for arguments and transformers).
 */
struct cache_ent {
	uint32_t gen;
	uint8_t present;
	uint8_t simple; /* no argument, no transformer */
	uint8_t type;
	field_extract_fn fn;
	const struct slot_def *sd;
	struct field_value v;
} __attribute__((aligned(64)));

struct memo_ent {
	uint32_t gen;
	uint8_t val;
};

struct rules_eval {
	const struct rules *r;
	uint32_t gen; /* wraps: every cache is cleared then (eval_begin) */
	const void *event;
	struct cache_ent *cache;
	struct memo_ent *memo; /* [n_memo] */
	struct cache_ent *anc; /* [n_anc][MAX_ANCESTORS]: index i at [.. + i - 1] */
	struct field_scratch scratch;
	pcre2_match_data *md;
	char numbuf[2][64];
};

void *field_scratch_alloc(struct field_scratch *s, size_t len)
{
	size_t a = (len + 15) & ~(size_t)15;
	struct scratch_chunk *c;

	if (a < len)
		return NULL;
	if (s->cap - s->used >= a) {
		void *p = s->buf + s->used;

		s->used += a;
		return p;
	}
	/* Earlier values of this event point into buf: keep it, chain an extra chunk. */
	c = malloc(sizeof(*c) + a);
	if (!c)
		return NULL;
	c->next = s->extra;
	c->len = a;
	s->extra = c;
	s->extra_total += a;
	return c->data;
}

static void scratch_reset(struct field_scratch *s)
{
	if (s->extra) {
		size_t cap = s->cap + s->extra_total;
		char *nb;

		while (s->extra) {
			struct scratch_chunk *n = s->extra->next;

			free(s->extra);
			s->extra = n;
		}
		s->extra_total = 0;
		nb = malloc(cap);
		if (nb) {
			free(s->buf);
			s->buf = nb;
			s->cap = cap;
		}
	}
	s->used = 0;
}

static void cache_init(struct cache_ent *c, const struct slot_def *sd)
{
	memset(c, 0, sizeof(*c));
	c->fn = sd->def->extract;
	c->sd = sd;
	c->type = (uint8_t)sd->def->type;
	c->simple = !sd->arg.present && !sd->nxf;
}

struct rules_eval *rules_eval_new(const struct rules *r)
{
	struct rules_eval *ev;

	if (!r->compiled || r->compile_failed) {
		errno = EINVAL;
		return NULL;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->r = r;
	ev->gen = 1;
	ev->cache = aligned_alloc(64, (r->n_slots ? r->n_slots : 1) * sizeof(*ev->cache));
	ev->memo = calloc(r->n_memo ? r->n_memo : 1, sizeof(*ev->memo));
	ev->anc = aligned_alloc(64, (r->n_anc ? r->n_anc * MAX_ANCESTORS : 1) * sizeof(*ev->anc));
	ev->scratch.buf = malloc(SCRATCH_MIN);
	ev->scratch.cap = SCRATCH_MIN;
	ev->md = pcre2_match_data_create(1, NULL);
	if (!ev->cache || !ev->memo || !ev->anc || !ev->scratch.buf || !ev->md) {
		rules_eval_free(ev);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < r->n_slots; i++)
		cache_init(&ev->cache[i], &r->slots[i]);
	for (size_t i = 0; i < r->n_slots; i++) {
		const struct slot_def *sd = &r->slots[i];

		for (size_t k = 0; sd->anc >= 0 && k < MAX_ANCESTORS; k++)
			cache_init(&ev->anc[(size_t)sd->anc * MAX_ANCESTORS + k], sd);
	}
	return ev;
}

void rules_eval_free(struct rules_eval *ev)
{
	if (!ev)
		return;
	scratch_reset(&ev->scratch);
	free(ev->scratch.buf);
	free(ev->cache);
	free(ev->anc);
	free(ev->memo);
	if (ev->md)
		pcre2_match_data_free(ev->md);
	free(ev);
}

void eval_begin(struct rules_eval *ev, const void *event)
{
	if (++ev->gen == 0) {
		/* 2^32 events: forget every cached generation before reusing the numbers */
		for (size_t i = 0; i < ev->r->n_slots; i++)
			ev->cache[i].gen = 0;
		for (size_t i = 0; i < ev->r->n_anc * MAX_ANCESTORS; i++)
			ev->anc[i].gen = 0;
		for (size_t i = 0; i < ev->r->n_memo; i++)
			ev->memo[i].gen = 0;
		ev->gen = 1;
	}
	ev->event = event;
	scratch_reset(&ev->scratch);
}

static bool b64_val(int c, unsigned *v)
{
	if (c >= 'A' && c <= 'Z')
		*v = (unsigned)(c - 'A');
	else if (c >= 'a' && c <= 'z')
		*v = (unsigned)(c - 'a' + 26);
	else if (c >= '0' && c <= '9')
		*v = (unsigned)(c - '0' + 52);
	else if (c == '+' || c == '-')
		*v = 62;
	else if (c == '/' || c == '_')
		*v = 63;
	else
		return false;
	return true;
}

/* Apply transformers in order; false when a transformer cannot apply (the value is missing). */
static bool transform(struct rules_eval *ev, const uint8_t *xf, uint8_t nxf, struct field_value *v)
{
	for (uint8_t k = 0; k < nxf; k++) {
		const char *p = v->str.p;
		size_t n = v->str.len;
		char *d;

		switch (xf[k]) {
		case XF_LEN:
			if (v->type == FIELD_LIST) {
				v->i = (int64_t)v->list.n;
			} else {
				v->i = (int64_t)n;
			}
			v->type = FIELD_INT;
			break;
		case XF_BASENAME: {
			size_t e = n;

			while (e && p[e - 1] == '/')
				e--;
			size_t b = e;
			while (b && p[b - 1] != '/')
				b--;
			v->str.p = p + b;
			v->str.len = e - b;
			break;
		}
		case XF_TOLOWER:
		case XF_TOUPPER:
			d = field_scratch_alloc(&ev->scratch, n + 1);
			if (!d)
				return false;
			for (size_t i = 0; i < n; i++)
				d[i] = (char)(xf[k] == XF_TOLOWER ? tolower((unsigned char)p[i]) :
								    toupper((unsigned char)p[i]));
			d[n] = '\0';
			v->str.p = d;
			break;
		case XF_B64: {
			unsigned acc = 0, bits = 0, x;
			size_t o = 0;

			d = field_scratch_alloc(&ev->scratch, n / 4 * 3 + 4);
			if (!d)
				return false;
			for (size_t i = 0; i < n; i++) {
				if (p[i] == '=')
					break;
				if (!b64_val((unsigned char)p[i], &x))
					return false;
				acc = (acc << 6) | x;
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					d[o++] = (char)((acc >> bits) & 0xff);
				}
			}
			d[o] = '\0';
			v->str.p = d;
			v->str.len = o;
			break;
		}
		default:
			break;
		}
	}
	return true;
}

static const struct field_arg no_arg;

/* Fill c for the current event; arg overrides the slot's (ancestor iteration). */
static void extract(struct rules_eval *ev, struct cache_ent *c, const struct field_arg *arg,
		    const void *event)
{
	const struct slot_def *sd;

	c->gen = ev->gen;
	memset(&c->v, 0, sizeof(c->v));
	c->v.type = (enum field_type)c->type;
	if (c->simple && !arg) {
		c->present = c->fn && c->fn(event, &no_arg, &ev->scratch, &c->v);
		return;
	}
	sd = c->sd;
	c->present = c->fn && c->fn(event, arg ? arg : &sd->arg, &ev->scratch, &c->v) &&
		     (!sd->nxf || transform(ev, sd->xf, sd->nxf, &c->v));
}

const struct field_value *eval_slot(struct rules_eval *ev, int slot, const void *event)
{
	struct cache_ent *c = &ev->cache[slot];

	if (ev->event != event)
		eval_begin(ev, event);
	if (c->gen != ev->gen)
		extract(ev, c, NULL, event);
	return c->present ? &c->v : NULL;
}

int value_to_text(const struct field_value *v, char *buf, size_t len)
{
	switch (v->type) {
	case FIELD_STRING:
		return snprintf(buf, len, "%.*s", (int)v->str.len, v->str.p);
	case FIELD_INT:
		return snprintf(buf, len, "%" PRId64, v->i);
	case FIELD_BOOL:
		return snprintf(buf, len, "%s", v->b ? "true" : "false");
	case FIELD_IPADDR:
	case FIELD_IPNET: {
		char a[INET6_ADDRSTRLEN];

		if (!inet_ntop(v->ip.family == 6 ? AF_INET6 : AF_INET, v->ip.addr, a, sizeof(a)))
			return snprintf(buf, len, "<NA>");
		if (v->type == FIELD_IPNET)
			return snprintf(buf, len, "%s/%u", a, v->ip.prefix);
		return snprintf(buf, len, "%s", a);
	}
	case FIELD_LIST: {
		size_t o = 0;
		int n = snprintf(buf, len, "(");

		o = n > 0 ? (size_t)n : 0;
		for (size_t i = 0; i < v->list.n; i++) {
			n = snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, "%s%.*s",
				     i ? "," : "", (int)v->list.lens[i], v->list.v[i]);
			o += n > 0 ? (size_t)n : 0;
		}
		n = snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, ")");
		return (int)(o + (n > 0 ? (size_t)n : 0));
	}
	default:
		return snprintf(buf, len, "%" PRIu64, v->u);
	}
}

/* Three-way compare of an extracted number with a constant. */
static int num_cmp(const struct field_value *v, const struct cval *c)
{
	if (v->type == FIELD_INT) {
		if (c->big)
			return -1;
		return v->i < c->i ? -1 : v->i > c->i;
	}
	if (!c->big && c->i < 0)
		return 1;
	return v->u < c->u ? -1 : v->u > c->u;
}

static bool num_op(uint8_t op, int r)
{
	switch (op) {
	case OP_EQ:
	case OP_IN:
	case OP_INTERSECTS:
		return r == 0;
	case OP_NE:
		return r != 0;
	case OP_LT:
		return r < 0;
	case OP_LE:
		return r <= 0;
	case OP_GT:
		return r > 0;
	case OP_GE:
		return r >= 0;
	default:
		return false;
	}
}

static bool ip_in(const struct field_ip *a, const struct field_ip *net)
{
	unsigned bits = net->prefix, full = bits / 8, rest = bits % 8;

	if (a->family != net->family)
		return false;
	if (memcmp(a->addr, net->addr, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		return (a->addr[full] & m) == (net->addr[full] & m);
	}
	return true;
}

static bool memmem_icase(const char *h, size_t hl, const char *n, size_t nl)
{
	if (!nl)
		return true;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t k = 0;

		while (k < nl && tolower((unsigned char)h[i + k]) == (unsigned char)n[k])
			k++;
		if (k == nl)
			return true;
	}
	return false;
}

static bool pmatch(const struct strset *set, const char *p, size_t n)
{
	/* Every whole-component prefix of the path: "", "/usr", "/usr/bin", ... */
	for (size_t k = 0; k <= n; k++)
		if ((k == n || p[k] == '/') && strset_has(set, p, k))
			return true;
	return false;
}

/* A string operator on one string. */
static bool str_op(struct rules_eval *ev, const struct cnode *n, const char *p, size_t len)
{
	const struct cval *c = n->vals;

	switch (n->op) {
	case OP_EQ:
		return len == c->len && !memcmp(p, c->s, len);
	case OP_NE:
		return !(len == c->len && !memcmp(p, c->s, len));
	case OP_CONTAINS:
	case OP_BCONTAINS:
		return c->len <= len && (!c->len || memmem(p, len, c->s, c->len));
	case OP_ICONTAINS:
		return memmem_icase(p, len, c->s, c->len);
	case OP_STARTSWITH:
	case OP_BSTARTSWITH:
		return len >= c->len && !memcmp(p, c->s, c->len);
	case OP_ENDSWITH:
		return len >= c->len && !memcmp(p + len - c->len, c->s, c->len);
	case OP_GLOB:
	case OP_IGLOB:
		return glob_match(c->s, c->len, p, len, n->op == OP_IGLOB);
	case OP_REGEX:
		return pcre2_match(n->re, (PCRE2_SPTR)p, len, 0, 0, ev->md, NULL) >= 0;
	case OP_IN:
	case OP_INTERSECTS:
		if (n->nvals <= 4) {
			for (size_t i = 0; i < n->nvals; i++)
				if (n->vals[i].len == len && !memcmp(n->vals[i].s, p, len))
					return true;
			return false;
		}
		return strset_has(&n->set, p, len);
	case OP_PMATCH:
		return pmatch(&n->set, p, len);
	default:
		return false;
	}
}

static bool cmp_value(struct rules_eval *ev, const struct cnode *n, const struct field_value *v)
{
	switch (n->cmp) {
	case CMP_STR:
		if (v->type == FIELD_LIST) {
			if (n->op == OP_IN) {
				if (!v->list.n)
					return false;
				for (size_t i = 0; i < v->list.n; i++)
					if (!str_op(ev, n, v->list.v[i], v->list.lens[i]))
						return false;
				return true;
			}
			for (size_t i = 0; i < v->list.n; i++)
				if (str_op(ev, n, v->list.v[i], v->list.lens[i]))
					return true;
			return false;
		}
		if (n->text_lhs) {
			char *buf = ev->numbuf[0];
			int len = value_to_text(v, buf, sizeof(ev->numbuf[0]));

			return str_op(ev, n, buf, len > 0 ? (size_t)len : 0);
		}
		return str_op(ev, n, v->str.p, v->str.len);
	case CMP_NUM:
		if (n->op == OP_IN || n->op == OP_INTERSECTS) {
			for (size_t i = 0; i < n->nvals; i++)
				if (num_cmp(v, &n->vals[i]) == 0)
					return true;
			return false;
		}
		return num_op(n->op, num_cmp(v, n->vals));
	case CMP_FLAGS:
		if (n->op == OP_CONTAINS)
			return n->vals->u ? (v->u & n->vals->u) == n->vals->u : v->u == 0;
		return num_op(n->op, num_cmp(v, n->vals));
	case CMP_BOOL:
		if (n->op == OP_NE)
			return v->b != n->vals->b;
		for (size_t i = 0; i < n->nvals; i++)
			if (v->b == n->vals[i].b)
				return true;
		return false;
	case CMP_IP:
		for (size_t i = 0; i < n->nvals; i++)
			if (ip_in(&v->ip, &n->vals[i].ip))
				return n->op != OP_NE;
		return n->op == OP_NE;
	default:
		return false;
	}
}

static bool is_num(const struct field_value *v)
{
	return v->type != FIELD_STRING && v->type != FIELD_LIST && v->type != FIELD_IPADDR &&
	       v->type != FIELD_IPNET && v->type != FIELD_BOOL;
}

/* val(field) on the right: numbers compare as numbers, everything else as text. */
static bool cmp_fields(struct rules_eval *ev, const struct cnode *n, const struct field_value *a,
		       const struct field_value *b)
{
	const char *pa, *pb;
	size_t la, lb;
	int r;

	if (is_num(a) && is_num(b)) {
		struct cval c = { 0 };

		if (b->type == FIELD_INT) {
			c.i = b->i;
			c.u = (uint64_t)b->i;
		} else if (b->u > INT64_MAX) {
			c.big = true;
			c.u = b->u;
		} else {
			c.i = (int64_t)b->u;
			c.u = b->u;
		}
		r = num_cmp(a, &c);
		return n->op <= OP_GE ? num_op(n->op, r) : false;
	}
	if (a->type == FIELD_STRING) {
		pa = a->str.p;
		la = a->str.len;
	} else {
		int k = value_to_text(a, ev->numbuf[0], sizeof(ev->numbuf[0]));

		pa = ev->numbuf[0];
		la = k > 0 ? (size_t)k : 0;
	}
	if (b->type == FIELD_STRING) {
		pb = b->str.p;
		lb = b->str.len;
	} else {
		int k = value_to_text(b, ev->numbuf[1], sizeof(ev->numbuf[1]));

		pb = ev->numbuf[1];
		lb = k > 0 ? (size_t)k : 0;
	}
	switch (n->op) {
	case OP_EQ:
		return la == lb && !memcmp(pa, pb, la);
	case OP_NE:
		return !(la == lb && !memcmp(pa, pb, la));
	case OP_CONTAINS:
		return lb <= la && (!lb || memmem(pa, la, pb, lb));
	case OP_ICONTAINS: {
		for (size_t i = 0; i + lb <= la; i++) {
			size_t k = 0;

			while (k < lb &&
			       tolower((unsigned char)pa[i + k]) == tolower((unsigned char)pb[k]))
				k++;
			if (k == lb)
				return true;
		}
		return false;
	}
	case OP_STARTSWITH:
		return la >= lb && !memcmp(pa, pb, lb);
	case OP_ENDSWITH:
		return la >= lb && !memcmp(pa + la - lb, pb, lb);
	case OP_GLOB:
	case OP_IGLOB:
		return glob_match(pb, lb, pa, la, n->op == OP_IGLOB);
	default:
		r = memcmp(pa, pb, la < lb ? la : lb);
		if (!r)
			r = la < lb ? -1 : la > lb;
		return num_op(n->op, r);
	}
}

/* Ancestor i (1-based) of an any-ancestor slot, cached per event like plain slots. */
static const struct field_value *anc_slot(struct rules_eval *ev, const struct slot_def *sd,
					  int64_t i, const void *event)
{
	struct cache_ent *c = &ev->anc[(size_t)sd->anc * MAX_ANCESTORS + (size_t)(i - 1)];

	if (c->gen != ev->gen) {
		struct field_arg arg = { .present = true, .index = i };

		extract(ev, c, &arg, event);
	}
	return c->present ? &c->v : NULL;
}

static bool check_ancestors(struct rules_eval *ev, const struct cnode *n, const void *event)
{
	const struct slot_def *sd = &ev->r->slots[n->slot];

	for (int64_t i = 1; i <= MAX_ANCESTORS; i++) {
		const struct field_value *v = anc_slot(ev, sd, i, event);

		if (!v)
			return i > 1 && n->anc_ne;
		if (n->op == OP_EXISTS || cmp_value(ev, n, v))
			return !n->anc_ne;
	}
	return n->anc_ne;
}

/*
 * The common checks, a string operator on a plain string value, without the general dispatch
 * (str_op gives the same answers). Returns -1 when the value is not a plain string.
 */
static int fast_check(const struct cnode *n, const struct field_value *v)
{
	const struct cval *k = n->vals;
	const char *p = v->str.p;
	size_t len = v->str.len;

	if (v->type != FIELD_STRING)
		return -1;
	switch (n->fast) {
	case FAST_EQ:
		return len == k->len && !memcmp(p, k->s, len);
	case FAST_NE:
		return !(len == k->len && !memcmp(p, k->s, len));
	case FAST_STARTSWITH:
		return len >= k->len && !memcmp(p, k->s, k->len);
	case FAST_ENDSWITH:
		return len >= k->len && !memcmp(p + len - k->len, k->s, k->len);
	case FAST_CONTAINS:
		return k->len <= len && (!k->len || memmem(p, len, k->s, k->len));
	case FAST_IN_FEW:
		for (size_t i = 0; i < n->nvals; i++)
			if (k[i].len == len && !memcmp(k[i].s, p, len))
				return 1;
		return 0;
	case FAST_IN_SET:
		return strset_has(&n->set, p, len);
	default:
		return -1;
	}
}

/* Leaves stay out of line so the recursive walker keeps a small frame. */
static __attribute__((noinline)) bool eval_leaf(struct rules_eval *ev, const struct cnode *n,
						const void *event)
{
	const struct field_value *v, *w;

	if (n->fast) {
		/* rules_eval began this event: the slot's generation says whether it is cached */
		struct cache_ent *c = &ev->cache[n->slot];
		int r;

		if (c->gen != ev->gen)
			extract(ev, c, NULL, event);
		if (!c->present)
			return false;
		r = fast_check(n, &c->v);
		if (r >= 0)
			return r;
	}

	if (n->anc)
		return check_ancestors(ev, n, event);
	v = eval_slot(ev, n->slot, event);
	if (!v)
		return false;
	if (n->op == OP_EXISTS)
		return true;
	if (n->cmp == CMP_FIELD) {
		w = eval_slot(ev, n->rhs_slot, event);
		return w && cmp_fields(ev, n, v, w);
	}
	return cmp_value(ev, n, v);
}

/* Run one rule's program (see struct fnode) for the current event. */
static bool evaluate(struct rules_eval *ev, const struct fnode *prog, const void *event,
		     unsigned type)
{
	const struct fnode *pc = prog;
	struct memo_ent *m;
	bool acc = false;

	for (;;) {
		switch (pc->kind) {
		case OPC_TEST:
			acc = eval_leaf(ev, pc->leaf, event);
			pc++;
			break;
		case OPC_JF:
			pc = acc ? pc + 1 : prog + pc->target;
			break;
		case OPC_JT:
			pc = acc ? prog + pc->target : pc + 1;
			break;
		case OPC_MEMO:
			m = &ev->memo[pc->memo];
			if (m->gen == ev->gen) {
				acc = m->val;
				pc = prog + pc->target;
			} else {
				pc++;
			}
			break;
		case OPC_STORE:
			m = &ev->memo[pc->memo];
			m->gen = ev->gen;
			m->val = acc;
			pc++;
			break;
		case OPC_NOT:
			acc = !acc;
			pc++;
			break;
		case OPC_TYPE:
			acc = pc->leaf->types[type / 64] & (1ull << (type % 64));
			pc++;
			break;
		case OPC_TRUE:
		case OPC_FALSE:
			acc = pc->kind == OPC_TRUE;
			pc++;
			break;
		default: /* OPC_END */
			return acc;
		}
	}
}

int rules_eval(struct rules_eval *ev, int source_index, const void *event, rules_match_fn on_match,
	       void *ctx)
{
	const struct rules *r = ev->r;
	const struct field_source *fs;
	const struct bucket_ent *list;
	unsigned type = 0;
	size_t n;
	int matches = 0;

	if (source_index < 0 || (size_t)source_index >= r->n_sources)
		return 0;
	fs = r->sources[source_index];
	if (fs->event_type)
		type = fs->event_type(event);
	if (type >= fs->n_event_types)
		return 0;
	n = r->index[source_index][type].n;
	if (!n)
		return 0;
	list = r->index[source_index][type].ents;
	/* Start fetching every candidate rule's block now: misses overlap instead of queueing. */
	for (size_t i = 0; i < n; i++) {
		__builtin_prefetch(list[i].flat);
		__builtin_prefetch((const char *)list[i].flat + 64);
	}
	eval_begin(ev, event);
	for (size_t i = 0; i < n; i++) {
		if (!evaluate(ev, list[i].flat, event, type))
			continue;
		matches++;
		if (on_match)
			on_match(ctx, list[i].rule, event);
		if (r->matching == RULES_MATCH_FIRST)
			break;
	}
	return matches;
}
