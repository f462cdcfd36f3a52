// SPDX-License-Identifier: Apache-2.0
#include "response/policy.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "response/yaml_json.h"

#define DEFAULT_COOLDOWN_MS (10 * 60 * 1000)

int policy_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 } };
	char *end;
	long long v;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].suffix)) {
			if (v > INT64_MAX / units[i].mult)
				return -EINVAL;
			*ms = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

const char *policy_field_text(const struct alert *a, const char *field, char *buf, size_t len)
{
	const json_t *v = json_object_get(alert_output_fields(a), field);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return "";
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void policy_set_free(struct policy_set *ps)
{
	if (!ps)
		return;
	free_strv(ps->protected_ns, ps->n_protected);
	for (size_t i = 0; i < ps->n_steps; i++) {
		free(ps->steps[i].name);
		json_decref(ps->steps[i].params);
	}
	free(ps->steps);
	for (size_t i = 0; i < ps->n_policies; i++) {
		struct policy *p = &ps->policies[i];

		free(p->name);
		free_strv(p->rules, p->n_rules);
		free(p->source);
		free_strv(p->tags, p->n_tags);
		for (size_t j = 0; j < p->n_conds; j++) {
			free(p->conds[j].field);
			free_strv(p->conds[j].values, p->conds[j].n);
		}
		free(p->conds);
		free(p->steps);
	}
	free(ps->policies);
	free(ps);
}

struct policy_set *policy_set_empty(void)
{
	struct policy_set *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->cooldown_ms = DEFAULT_COOLDOWN_MS;
	ps->protected_ns = calloc(1, sizeof(char *));
	if (!ps->protected_ns || !(ps->protected_ns[0] = strdup("kube-system"))) {
		policy_set_free(ps);
		errno = ENOMEM;
		return NULL;
	}
	ps->n_protected = 1;
	return ps;
}

/* --- loading ------------------------------------------------------------------------------ */

struct loader {
	const char *name;
	char *err;
	size_t errlen;
};

static int fail(struct loader *l, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct loader *l, const char *where, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s: %s: %s", l->name, where, msg);
	return -EINVAL;
}

/* A string or a list of strings (scalars printed) into a new vector. */
static int strv(struct loader *l, const char *where, const json_t *v, char ***out, size_t *n)
{
	size_t cnt = json_is_array(v) ? json_array_size(v) : 1, i;
	const json_t *it;
	char **vec;

	*out = NULL;
	*n = 0;
	if (!v)
		return 0;
	vec = calloc(cnt ? cnt : 1, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		it = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(it)) {
			free_strv(vec, i);
			return fail(l, where, "expected a string or a list of strings");
		}
		vec[i] = strdup(json_string_value(it));
		if (!vec[i]) {
			free_strv(vec, i);
			return -ENOMEM;
		}
	}
	*out = vec;
	*n = cnt;
	return 0;
}

static int duration_of(struct loader *l, const char *where, const json_t *v, int64_t *ms)
{
	char buf[32];
	const char *s = json_string_value(v);

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = buf;
	}
	if (policy_parse_duration(s, ms))
		return fail(l, where, "expected a duration (250ms, 10s, 5m, 1h)");
	return 0;
}

static int bool_of(struct loader *l, const char *where, const json_t *v, int *out)
{
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(l, where, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

static const char *const step_keys[] = { "name",    "action",	"parameters", "ignore_errors",
					 "dry_run", "cooldown", "rate_limit", NULL };

static int check_keys(struct loader *l, const char *where, const json_t *o,
		      const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++)
			ok = ok || !strcmp(allowed[i], k);
		if (!ok)
			return fail(l, where, "unknown key '%s'", k);
	}
	return 0;
}

static int grow(void **arr, size_t n, size_t size)
{
	void *p;

	if (n > SIZE_MAX / size - 1)
		return -ENOMEM;
	p = realloc(*arr, (n + 1) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* Parse one step object (named definition or inline), appended to ps->steps. */
static int parse_step(struct loader *l, struct policy_set *ps, const char *where, const json_t *o,
		      bool named, size_t *idx)
{
	const char *act = json_string_value(json_object_get(o, "action"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const json_t *params = json_object_get(o, "parameters");
	struct policy_step st = { .dry_run = -1, .cooldown_ms = -1 };
	struct policy_step *base = NULL;
	char perr[256] = "";
	int ib = 0, rc;

	if (!json_is_object(o))
		return fail(l, where, "expected a mapping with 'action'");
	rc = check_keys(l, where, o, step_keys);
	if (rc)
		return rc;
	if (!act || !*act)
		return fail(l, where, "'action' is required");
	if (named && (!name || !*name))
		return fail(l, where, "a named action needs 'name'");
	if (named && policy_set_named(ps, name))
		return fail(l, where, "action '%s' is defined twice", name);
	if (params && !json_is_object(params))
		return fail(l, where, "'parameters' must be a mapping");
	st.ops = action_find(act);
	if (!st.ops && !named)
		base = policy_set_named(ps, act);
	if (!st.ops && !base)
		return fail(l, where, "unknown action '%s'", act);
	if (base) {
		/* an inline use of a named action: its settings, parameters merged over */
		st.ops = base->ops;
		st.params = json_deep_copy(base->params);
		st.ignore_errors = base->ignore_errors;
		st.dry_run = base->dry_run;
		st.cooldown_ms = base->cooldown_ms;
		st.rate_limit = base->rate_limit;
		if (st.params && params)
			json_object_update(st.params, (json_t *)params);
	} else {
		st.params = params ? json_deep_copy(params) : json_object();
	}
	st.name = strdup(named ? name : act);
	if (!st.params || !st.name) {
		rc = -ENOMEM;
		goto err;
	}
	ib = st.ignore_errors;
	rc = bool_of(l, where, json_object_get(o, "ignore_errors"), &ib);
	if (!rc)
		rc = bool_of(l, where, json_object_get(o, "dry_run"), &st.dry_run);
	st.ignore_errors = ib;
	if (!rc && json_object_get(o, "cooldown"))
		rc = duration_of(l, where, json_object_get(o, "cooldown"), &st.cooldown_ms);
	if (!rc && json_object_get(o, "rate_limit")) {
		json_t *r = json_object_get(o, "rate_limit");

		if (!json_is_integer(r) || json_integer_value(r) < 0 ||
		    json_integer_value(r) > 1000000)
			rc = fail(l, where, "rate_limit: expected a number of actions per minute");
		else
			st.rate_limit = (int)json_integer_value(r);
	}
	if (!rc && st.ops->check && st.ops->check(st.params, perr, sizeof(perr)))
		rc = fail(l, where, "%s: %s", st.ops->name, perr);
	if (rc)
		goto err;
	rc = grow((void **)&ps->steps, ps->n_steps, sizeof(*ps->steps));
	if (rc)
		goto err;
	*idx = ps->n_steps;
	ps->steps[ps->n_steps++] = st;
	return 0;
err:
	free(st.name);
	json_decref(st.params);
	return rc;
}

static int parse_cond(struct loader *l, const char *where, const char *text, struct policy_cond *c)
{
	const char *p = text, *op;
	size_t flen;

	memset(c, 0, sizeof(*c));
	while (*p && !isspace((unsigned char)*p) && *p != '=' && *p != '!')
		p++;
	flen = (size_t)(p - text);
	op = p;
	while (isspace((unsigned char)*op))
		op++;
	if (!flen)
		return fail(l, where, "condition '%s': no field", text);
	if (!strncmp(op, "!=", 2)) {
		c->op = CMP_NE;
		op += 2;
	} else if (!strncmp(op, "==", 2)) {
		c->op = CMP_EQ;
		op += 2;
	} else if (*op == '=') {
		c->op = CMP_EQ;
		op += 1;
	} else if (!strncmp(op, "in", 2) && (isspace((unsigned char)op[2]) || op[2] == '(')) {
		c->op = CMP_IN;
		op += 2;
	} else if (!strncmp(op, "not", 3) && isspace((unsigned char)op[3])) {
		op += 3;
		while (isspace((unsigned char)*op))
			op++;
		if (strncmp(op, "in", 2))
			return fail(l, where, "condition '%s': expected 'not in'", text);
		c->op = CMP_NOT_IN;
		op += 2;
	} else {
		return fail(l, where, "condition '%s': expected =, !=, in or not in", text);
	}
	while (isspace((unsigned char)*op))
		op++;
	c->field = strndup(text, flen);
	if (!c->field)
		return -ENOMEM;
	if (c->op == CMP_IN || c->op == CMP_NOT_IN) {
		const char *end = op + strlen(op);

		if (*op != '(' || end == op || end[-1] != ')')
			return fail(l, where, "condition '%s': expected a list (a, b)", text);
		op++;
		end--;
		while (op < end) {
			const char *comma = memchr(op, ',', (size_t)(end - op));
			const char *e = comma ? comma : end, *s = op;

			while (s < e && isspace((unsigned char)*s))
				s++;
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			if (grow((void **)&c->values, c->n, sizeof(char *)))
				return -ENOMEM;
			c->values[c->n] = strndup(s, (size_t)(e - s));
			if (!c->values[c->n])
				return -ENOMEM;
			c->n++;
			op = comma ? comma + 1 : end;
		}
	} else {
		c->values = calloc(1, sizeof(char *));
		if (!c->values || !(c->values[0] = strdup(op)))
			return -ENOMEM;
		c->n = 1;
	}
	return 0;
}

static int parse_priority(struct loader *l, const char *where, const char *s, struct policy *p)
{
	static const struct {
		const char *tok;
		enum policy_cmp op;
	} ops[] = { { ">=", CMP_GE }, { "<=", CMP_LE }, { "!=", CMP_NE }, { "==", CMP_EQ },
		    { ">", CMP_GT },  { "<", CMP_LT },	{ "=", CMP_EQ } };

	p->prio_op = CMP_EQ;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!strncmp(s, ops[i].tok, strlen(ops[i].tok))) {
			p->prio_op = ops[i].op;
			s += strlen(ops[i].tok);
			break;
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	if (priority_parse(s, &p->prio))
		return fail(l, where, "priority: unknown priority '%s'", s);
	p->has_priority = true;
	return 0;
}

static const char *const match_keys[] = { "rules", "priority",	    "source",
					  "tags",  "output_fields", NULL };
static const char *const policy_keys[] = { "name", "match", "actions", "continue", "dry_run", NULL };
static const char *const top_keys[] = { "dry_run",
					"protected_namespaces",
					"max_actions_per_minute",
					"cooldown",
					"actions",
					"policies",
					NULL };

static int parse_policy(struct loader *l, struct policy_set *ps, size_t pi, const json_t *o)
{
	struct policy *p = &ps->policies[pi];
	const json_t *m, *acts, *v;
	char where[160];
	int rc, cont = 0;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->dry_run = -1;
	snprintf(where, sizeof(where), "policies[%zu]", pi);
	if (!json_is_object(o))
		return fail(l, where, "expected a mapping");
	rc = check_keys(l, where, o, policy_keys);
	if (rc)
		return rc;
	p->name = strdup(json_string_value(json_object_get(o, "name")) ?
				 json_string_value(json_object_get(o, "name")) :
				 where);
	if (!p->name)
		return -ENOMEM;
	snprintf(where, sizeof(where), "policy '%s'", p->name);
	m = json_object_get(o, "match");
	if (m && !json_is_object(m))
		return fail(l, where, "match: expected a mapping");
	if (m && (rc = check_keys(l, where, m, match_keys)))
		return rc;
	if ((rc = strv(l, where, json_object_get(m, "rules"), &p->rules, &p->n_rules)) ||
	    (rc = strv(l, where, json_object_get(m, "tags"), &p->tags, &p->n_tags)))
		return rc;
	v = json_object_get(m, "source");
	if (v && !json_is_string(v))
		return fail(l, where, "source: expected a string");
	if (v && !(p->source = strdup(json_string_value(v))))
		return -ENOMEM;
	v = json_object_get(m, "priority");
	if (v && !json_is_string(v))
		return fail(l, where, "priority: expected a string such as \">=Critical\"");
	if (v && (rc = parse_priority(l, where, json_string_value(v), p)))
		return rc;
	v = json_object_get(m, "output_fields");
	if (v) {
		char **conds;
		size_t n;

		if ((rc = strv(l, where, v, &conds, &n)))
			return rc;
		p->conds = calloc(n ? n : 1, sizeof(*p->conds));
		rc = p->conds ? 0 : -ENOMEM;
		for (i = 0; !rc && i < n; i++) {
			rc = parse_cond(l, where, conds[i], &p->conds[i]);
			p->n_conds = i + 1;
		}
		free_strv(conds, n);
		if (rc)
			return rc;
	}
	if ((rc = bool_of(l, where, json_object_get(o, "continue"), &cont)) ||
	    (rc = bool_of(l, where, json_object_get(o, "dry_run"), &p->dry_run)))
		return rc;
	p->cont = cont;
	acts = json_object_get(o, "actions");
	if (!json_is_array(acts) || !json_array_size(acts))
		return fail(l, where, "actions: expected a non-empty list");
	p->steps = calloc(json_array_size(acts), sizeof(*p->steps));
	if (!p->steps)
		return -ENOMEM;
	json_array_foreach(acts, i, v) {
		char w[200];

		snprintf(w, sizeof(w), "%s: actions[%zu]", where, i);
		if (json_is_string(v)) {
			struct policy_step *st = policy_set_named(ps, json_string_value(v));

			if (!st)
				return fail(l, w, "no named action '%s' (define it under actions:)",
					    json_string_value(v));
			p->steps[i] = (size_t)(st - ps->steps);
		} else if ((rc = parse_step(l, ps, w, v, false, &p->steps[i]))) {
			return rc;
		}
		p->n_steps = i + 1;
	}
	return 0;
}

struct policy_set *policy_set_from_json(const json_t *doc, const char *name, char *err,
					size_t errlen)
{
	struct loader l = { .name = name, .err = err, .errlen = errlen };
	struct policy_set *ps = policy_set_empty();
	const json_t *v, *it;
	int rc = 0, dr = 0;
	size_t i;

	err[0] = '\0';
	if (!ps)
		return NULL;
	if (json_is_null(doc))
		return ps;
	if (!json_is_object(doc)) {
		rc = fail(&l, "top level", "expected a mapping");
		goto err;
	}
	if ((rc = check_keys(&l, "top level", doc, top_keys)) ||
	    (rc = bool_of(&l, "dry_run", json_object_get(doc, "dry_run"), &dr)))
		goto err;
	ps->dry_run = dr;
	v = json_object_get(doc, "protected_namespaces");
	if (v) {
		free_strv(ps->protected_ns, ps->n_protected);
		ps->protected_ns = NULL;
		ps->n_protected = 0;
		if ((rc = strv(&l, "protected_namespaces", v, &ps->protected_ns, &ps->n_protected)))
			goto err;
	}
	v = json_object_get(doc, "max_actions_per_minute");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000) {
			rc = fail(&l, "max_actions_per_minute", "expected a number (0 = no cap)");
			goto err;
		}
		ps->max_per_minute = (int)json_integer_value(v);
	}
	v = json_object_get(doc, "cooldown");
	if (v && (rc = duration_of(&l, "cooldown", v, &ps->cooldown_ms)))
		goto err;
	v = json_object_get(doc, "actions");
	if (v && !json_is_array(v)) {
		rc = fail(&l, "actions", "expected a list of named actions");
		goto err;
	}
	json_array_foreach(v, i, it) {
		char w[64];
		size_t idx;

		snprintf(w, sizeof(w), "actions[%zu]", i);
		if ((rc = parse_step(&l, ps, w, it, true, &idx)))
			goto err;
		ps->n_named++;
	}
	v = json_object_get(doc, "policies");
	if (v && !json_is_array(v)) {
		rc = fail(&l, "policies", "expected a list");
		goto err;
	}
	if (json_array_size(v)) {
		ps->policies = calloc(json_array_size(v), sizeof(*ps->policies));
		if (!ps->policies) {
			rc = -ENOMEM;
			goto err;
		}
	}
	json_array_foreach(v, i, it) {
		ps->n_policies = i + 1;
		if ((rc = parse_policy(&l, ps, i, it)))
			goto err;
	}
	return ps;
err:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "%s: out of memory", name);
	policy_set_free(ps);
	errno = -rc;
	return NULL;
}

struct policy_set *policy_set_load(const char *path, char *err, size_t errlen)
{
	json_t *doc = yaml_json_load_file(path, err, errlen);
	struct policy_set *ps;
	int e;

	if (!doc)
		return NULL;
	ps = policy_set_from_json(doc, path, err, errlen);
	e = errno;
	json_decref(doc);
	errno = e;
	return ps;
}

struct policy_step *policy_set_named(struct policy_set *ps, const char *name)
{
	for (size_t i = 0; i < ps->n_named && name; i++)
		if (!strcmp(ps->steps[i].name, name))
			return &ps->steps[i];
	return NULL;
}

/* --- matching ----------------------------------------------------------------------------- */

static bool prio_match(const struct policy *p, enum priority a)
{
	/* severity: a lower enum value is more severe, so "a > p" means a < p numerically */
	switch (p->prio_op) {
	case CMP_EQ:
		return a == p->prio;
	case CMP_NE:
		return a != p->prio;
	case CMP_GT:
		return a < p->prio;
	case CMP_GE:
		return a <= p->prio;
	case CMP_LT:
		return a > p->prio;
	case CMP_LE:
		return a >= p->prio;
	default:
		return false;
	}
}

static bool has_tag(const struct alert *a, const char *tag, size_t len)
{
	const json_t *tags = alert_tags(a), *t;
	size_t i;

	json_array_foreach(tags, i, t) {
		const char *s = json_string_value(t);

		if (s && strlen(s) == len && !strncmp(s, tag, len))
			return true;
	}
	return false;
}

/* "a,b": every listed tag present */
static bool tags_all(const struct alert *a, const char *spec)
{
	while (*spec) {
		const char *comma = strchr(spec, ','), *e, *s = spec;

		e = comma ? comma : spec + strlen(spec);
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e > s && !has_tag(a, s, (size_t)(e - s)))
			return false;
		if (!comma)
			break;
		spec = comma + 1;
	}
	return true;
}

static bool cond_match(const struct policy_cond *c, const struct alert *a)
{
	char buf[64];
	const char *v = policy_field_text(a, c->field, buf, sizeof(buf));
	bool in = false;

	for (size_t i = 0; i < c->n; i++)
		in = in || !strcmp(v, c->values[i]);
	switch (c->op) {
	case CMP_EQ:
	case CMP_IN:
		return in;
	case CMP_NE:
	case CMP_NOT_IN:
		return !in;
	default:
		return false;
	}
}

bool policy_match(const struct policy *p, const struct alert *a)
{
	bool ok;

	if (p->n_rules) {
		ok = false;
		for (size_t i = 0; i < p->n_rules && !ok; i++)
			ok = !strcmp(p->rules[i], alert_rule(a));
		if (!ok)
			return false;
	}
	if (p->has_priority && !prio_match(p, alert_priority(a)))
		return false;
	if (p->source && strcmp(p->source, alert_source(a)))
		return false;
	if (p->n_tags) {
		ok = false;
		for (size_t i = 0; i < p->n_tags && !ok; i++)
			ok = tags_all(a, p->tags[i]);
		if (!ok)
			return false;
	}
	for (size_t i = 0; i < p->n_conds; i++)
		if (!cond_match(&p->conds[i], a))
			return false;
	return true;
}
