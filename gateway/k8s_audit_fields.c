// SPDX-License-Identifier: Apache-2.0
#define _DEFAULT_SOURCE /* timegm */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/k8s_audit.h"

/*
 * Field semantics follow Falco's k8saudit and json plugins: a ka.* field reads one path of the
 * Event; a JSON value that is not a string reads as its compact JSON text; list fields fan out
 * over arrays met on the way (every container, every rule), and an index argument picks one
 * element of each array instead. A path that does not exist is a missing value.
 */

#define NOIDX (-1)
#define MAX_KEYS 8

/* ---- JSON helpers ---------------------------------------------------------------------- */

static const json_t *path_get(const json_t *j, const char *const *keys, size_t nk)
{
	for (size_t i = 0; j && i < nk; i++)
		j = json_object_get(j, keys[i]);
	return j;
}

/* The value as text: a string's content, anything else its compact JSON. */
static bool to_text(const json_t *v, struct field_scratch *s, const char **p, size_t *len)
{
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	size_t n;
	char *buf;

	if (!v)
		return false;
	if (json_is_string(v)) {
		*p = json_string_value(v);
		*len = json_string_length(v);
		return true;
	}
	n = json_dumpb(v, NULL, 0, flags);
	if (!n)
		return false;
	buf = field_scratch_alloc(s, n + 1);
	if (!buf || json_dumpb(v, buf, n, flags) != n)
		return false;
	buf[n] = '\0';
	*p = buf;
	*len = n;
	return true;
}

static bool out_text(const json_t *v, struct field_scratch *s, struct field_value *out)
{
	out->type = FIELD_STRING;
	return to_text(v, s, &out->str.p, &out->str.len);
}

static bool out_const(const char *text, struct field_value *out)
{
	out->type = FIELD_STRING;
	out->str.p = text;
	out->str.len = strlen(text);
	return true;
}

/* A list value under construction, in scratch memory: sized first, then filled. */
struct list {
	const char **v;
	size_t *lens;
	size_t n, cap;
};

static bool list_init(struct list *l, struct field_scratch *s, size_t cap)
{
	size_t c = cap ? cap : 1;

	l->n = 0;
	l->cap = cap;
	l->v = field_scratch_alloc(s, c * sizeof(*l->v));
	l->lens = field_scratch_alloc(s, c * sizeof(*l->lens));
	return l->v && l->lens;
}

static void list_add(struct list *l, const char *p, size_t len)
{
	if (l->n < l->cap) {
		l->v[l->n] = p;
		l->lens[l->n++] = len;
	}
}

static bool list_out(const struct list *l, struct field_value *out)
{
	out->type = FIELD_LIST;
	out->list.v = l->v;
	out->list.lens = l->lens;
	out->list.n = l->n;
	return true;
}

/* Values collected along a path; NULL entries stand for array elements without the path. */
struct coll {
	const json_t **v;
	size_t n, cap;
};

static void coll_add(struct coll *c, const json_t *j)
{
	if (c->v && c->n < c->cap)
		c->v[c->n] = j;
	c->n++;
}

/*
 * Follow keys from j; an array met before the last key fans out over its elements (or takes
 * element idx when idx >= 0). 0, or -1 when the path does not exist.
 */
static int walk(const json_t *j, int64_t idx, const char *const *keys, size_t nk, struct coll *c)
{
	for (size_t i = 0; i < nk; i++) {
		if (json_is_array(j)) {
			if (idx < 0) {
				const json_t *e;
				size_t a;

				json_array_foreach(j, a, e)
					if (walk(e, idx, keys + i, nk - i, c))
						coll_add(c, NULL);
				return 0;
			}
			j = json_array_get(j, (size_t)idx);
			if (!j)
				return -1;
		}
		j = json_object_get(j, keys[i]);
		if (!j)
			return -1;
	}
	coll_add(c, j);
	return 0;
}

/* Collect into scratch memory: *out gets the values (NULL for missing), *n their count. */
static bool collect(const json_t *root, int64_t idx, const char *const *keys, size_t nk,
		    struct field_scratch *s, const json_t ***out, size_t *n)
{
	struct coll c = { 0 };

	if (walk(root, idx, keys, nk, &c))
		return false;
	c.cap = c.n;
	c.n = 0;
	c.v = field_scratch_alloc(s, (c.cap ? c.cap : 1) * sizeof(*c.v));
	if (!c.v)
		return false;
	walk(root, idx, keys, nk, &c);
	*out = c.v;
	*n = c.n;
	return true;
}

static int64_t arg_index(const struct field_arg *arg)
{
	return arg && arg->present && arg->index >= 0 ? arg->index : NOIDX;
}

/* A list of the collected values as text, the missing ones skipped. */
static bool collected_list(const json_t *const *v, size_t n, struct field_scratch *s,
			   struct field_value *out)
{
	struct list l;

	if (!list_init(&l, s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *p;
		size_t len;

		if (v[i] && to_text(v[i], s, &p, &len))
			list_add(&l, p, len);
	}
	return list_out(&l, out);
}

/* Like collected_list, but array values are flattened into their elements. */
static bool flat_list(const json_t *const *v, size_t n, struct field_scratch *s,
		      struct field_value *out)
{
	size_t total = 0;
	struct list l;

	for (size_t i = 0; i < n; i++)
		total += json_is_array(v[i]) ? json_array_size(v[i]) : v[i] != NULL;
	if (!list_init(&l, s, total))
		return false;
	for (size_t i = 0; i < n; i++) {
		const json_t *e;
		const char *p;
		size_t a, len;

		if (!json_is_array(v[i])) {
			if (v[i] && to_text(v[i], s, &p, &len))
				list_add(&l, p, len);
			continue;
		}
		json_array_foreach(v[i], a, e)
			if (to_text(e, s, &p, &len))
				list_add(&l, p, len);
	}
	return list_out(&l, out);
}

/* The value at keys as text. */
static bool keys_text(const void *event, const char *const *keys, size_t nk,
		      struct field_scratch *s, struct field_value *out)
{
	return out_text(path_get(event, keys, nk), s, out);
}

/* The array at keys as a list of its elements' text; missing when not an array. */
static bool keys_list(const void *event, const char *const *keys, size_t nk,
		      struct field_scratch *s, struct field_value *out)
{
	const json_t *a = path_get(event, keys, nk), *e;
	struct list l;
	size_t i;

	if (!json_is_array(a) || !list_init(&l, s, json_array_size(a)))
		return false;
	json_array_foreach(a, i, e) {
		const char *p;
		size_t len;

		if (!to_text(e, s, &p, &len))
			return false;
		list_add(&l, p, len);
	}
	return list_out(&l, out);
}

/* The array at keys as a list, or with an index argument its one element. */
static bool keys_list_idx(const void *event, const struct field_arg *arg, const char *const *keys,
			  size_t nk, struct field_scratch *s, struct field_value *out)
{
	int64_t idx = arg_index(arg);
	const json_t *a, *e;
	struct list l;

	if (idx < 0)
		return keys_list(event, keys, nk, s, out);
	a = path_get(event, keys, nk);
	e = json_array_get(a, (size_t)idx);
	if (!e || !list_init(&l, s, 1))
		return false;
	if (!to_text(e, s, &l.v[0], &l.lens[0]))
		return false;
	l.n = 1;
	return list_out(&l, out);
}

/* Fan-out path (optionally indexed), values as a list of text. */
static bool walk_list(const void *event, const struct field_arg *arg, const char *const *keys,
		      size_t nk, bool flatten, struct field_scratch *s, struct field_value *out)
{
	const json_t **v;
	size_t n;

	if (!collect(event, arg_index(arg), keys, nk, s, &v, &n))
		return false;
	return flatten ? flat_list(v, n, s, out) : collected_list(v, n, s, out);
}

#define NK(a) (sizeof(a) / sizeof((a)[0]))

#define X(fn)                                                                                   \
	static bool fn(const void *event, const struct field_arg *arg, struct field_scratch *s, \
		       struct field_value *out)

/* A field reading the text at a fixed path. */
#define TEXT_FIELD(fn, ...)                                     \
	X(fn)                                                   \
	{                                                       \
		static const char *const k[] = { __VA_ARGS__ }; \
		(void)arg;                                      \
		return keys_text(event, k, NK(k), s, out);      \
	}
/* A list field reading the array at a fixed path. */
#define LIST_FIELD(fn, ...)                                     \
	X(fn)                                                   \
	{                                                       \
		static const char *const k[] = { __VA_ARGS__ }; \
		(void)arg;                                      \
		return keys_list(event, k, NK(k), s, out);      \
	}
/* A list field reading the array at a fixed path, or one element of it with an index. */
#define LIST_IDX_FIELD(fn, ...)                                     \
	X(fn)                                                       \
	{                                                           \
		static const char *const k[] = { __VA_ARGS__ };     \
		return keys_list_idx(event, arg, k, NK(k), s, out); \
	}
/* A list field fanning out over arrays on a path, flattening the arrays at its end or not. */
#define WALK_FIELD(fn, flatten, ...)                                     \
	X(fn)                                                            \
	{                                                                \
		static const char *const k[] = { __VA_ARGS__ };          \
		return walk_list(event, arg, k, NK(k), flatten, s, out); \
	}

/* ---- time ------------------------------------------------------------------------------ */

static int64_t parse_time(const char *t)
{
	struct tm tm = { 0 };
	int64_t ns = 0, sec;
	int consumed = 0, digits = 0;
	const char *p;

	if (!t ||
	    sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
	    !consumed)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	sec = (int64_t)timegm(&tm);
	if (sec < 0)
		return 0;
	p = t + consumed;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits < 9) {
				ns = ns * 10 + (*p - '0');
				digits++;
			}
		}
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int h = 0, m = 0;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) == 2)
			sec -= (*p == '+' ? 1 : -1) * (int64_t)(h * 3600 + m * 60);
	}
	return sec * 1000000000 + ns;
}

int64_t k8s_audit_event_time(const json_t *event)
{
	static const char *const keys[] = { "stageTimestamp", "requestReceivedTimestamp",
					    "timestamp" };

	for (size_t i = 0; i < NK(keys); i++) {
		int64_t t = parse_time(json_string_value(json_object_get(event, keys[i])));

		if (t)
			return t;
	}
	return 0;
}

X(x_evt_time)
{
	int64_t t = k8s_audit_event_time(event);

	(void)arg;
	(void)s;
	if (!t)
		return false;
	out->type = FIELD_ABSTIME;
	out->u = (uint64_t)t;
	return true;
}

X(x_rawtime)
{
	int64_t t = k8s_audit_event_time(event);
	char *buf;
	int n;

	(void)arg;
	if (!t)
		return false;
	buf = field_scratch_alloc(s, 24);
	if (!buf)
		return false;
	n = snprintf(buf, 24, "%lld", (long long)t);
	out->type = FIELD_STRING;
	out->str.p = buf;
	out->str.len = (size_t)n;
	return true;
}

/* ---- jevt.* / json.* ------------------------------------------------------------------- */

/* RFC 6901: "" is the whole document, "/a/0/b~1c" walks objects and arrays. */
X(x_json_value)
{
	const json_t *j = event;
	const char *p = arg->key, *end = arg->key + arg->key_len;
	char *tok;

	if (p == end)
		return out_text(j, s, out);
	if (*p != '/')
		return false;
	tok = field_scratch_alloc(s, arg->key_len + 1);
	if (!tok)
		return false;
	while (j && p < end && *p == '/') {
		size_t n = 0;

		for (p++; p < end && *p != '/'; p++) {
			if (*p == '~' && p + 1 < end && (p[1] == '0' || p[1] == '1')) {
				tok[n++] = p[1] == '0' ? '~' : '/';
				p++;
			} else {
				tok[n++] = *p;
			}
		}
		tok[n] = '\0';
		if (json_is_array(j)) {
			char *e;
			unsigned long long i;

			errno = 0;
			i = strtoull(tok, &e, 10);
			if (!n || *e || errno || (n > 1 && tok[0] == '0'))
				return false;
			j = json_array_get(j, (size_t)i);
		} else {
			j = json_object_getn(j, tok, n);
		}
	}
	return out_text(j, s, out);
}

X(x_json_obj)
{
	(void)arg;
	return out_text(event, s, out);
}

/* ---- ka.* scalars ---------------------------------------------------------------------- */

TEXT_FIELD(x_auditid, "auditID")
TEXT_FIELD(x_stage, "stage")
TEXT_FIELD(x_auth_decision, "annotations", "authorization.k8s.io/decision")
TEXT_FIELD(x_auth_reason, "annotations", "authorization.k8s.io/reason")
TEXT_FIELD(x_os_decision, "annotations", "authentication.openshift.io/decision")
TEXT_FIELD(x_os_username, "annotations", "authentication.openshift.io/username")
TEXT_FIELD(x_policy_failure, "annotations", "validation.policy.admission.k8s.io/validation_failure")
TEXT_FIELD(x_pod_violations, "annotations", "pod-security.kubernetes.io/audit-violations")
TEXT_FIELD(x_cluster_name, "annotations", "cluster_name")
TEXT_FIELD(x_user_name, "user", "username")
LIST_FIELD(x_user_groups, "user", "groups")
TEXT_FIELD(x_impuser_name, "impersonatedUser", "username")
TEXT_FIELD(x_verb, "verb")
TEXT_FIELD(x_uri, "requestURI")
TEXT_FIELD(x_target_name, "objectRef", "name")
TEXT_FIELD(x_target_namespace, "objectRef", "namespace")
TEXT_FIELD(x_target_resource, "objectRef", "resource")
TEXT_FIELD(x_target_subresource, "objectRef", "subresource")
LIST_FIELD(x_binding_subjects, "requestObject", "subjects")
TEXT_FIELD(x_binding_role, "requestObject", "roleRef", "name")
TEXT_FIELD(x_configmap_obj, "requestObject", "data")
TEXT_FIELD(x_pod_host_ipc, "requestObject", "spec", "hostIPC")
TEXT_FIELD(x_pod_host_network, "requestObject", "spec", "hostNetwork")
TEXT_FIELD(x_pod_host_pid, "requestObject", "spec", "hostPID")
TEXT_FIELD(x_pod_run_as_user, "requestObject", "spec", "securityContext", "runAsUser")
TEXT_FIELD(x_pod_run_as_group, "requestObject", "spec", "securityContext", "runAsGroup")
TEXT_FIELD(x_pod_fs_group, "requestObject", "spec", "securityContext", "fsGroup")
LIST_FIELD(x_pod_supp_groups, "requestObject", "spec", "securityContext", "supplementalGroups")
LIST_FIELD(x_role_rules, "requestObject", "rules")
WALK_FIELD(x_rules_api_groups, true, "requestObject", "rules", "apiGroups")
WALK_FIELD(x_rules_nonres_urls, true, "requestObject", "rules", "nonResourceURLs")
WALK_FIELD(x_rules_verbs, true, "requestObject", "rules", "verbs")
WALK_FIELD(x_rules_resources, true, "requestObject", "rules", "resources")
TEXT_FIELD(x_service_type, "requestObject", "spec", "type")
LIST_IDX_FIELD(x_service_ports, "requestObject", "spec", "ports")
WALK_FIELD(x_pod_hostpaths, false, "requestObject", "spec", "volumes", "hostPath", "path")
WALK_FIELD(x_pod_flexvolume, false, "requestObject", "spec", "volumes", "flexVolume", "driver")
TEXT_FIELD(x_resp_name, "responseObject", "metadata", "name")
TEXT_FIELD(x_response_code, "responseStatus", "code")
TEXT_FIELD(x_response_reason, "responseStatus", "reason")
TEXT_FIELD(x_useragent, "userAgent")
LIST_IDX_FIELD(x_sourceips, "sourceIPs")

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent- and '+'-decode [p, p+n) into d; returns the decoded length. */
static size_t url_decode(const char *p, size_t n, char *d)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			d[o++] = ' ';
		} else if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 &&
			   hexval(p[i + 2]) >= 0) {
			d[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			i += 2;
		} else {
			d[o++] = p[i];
		}
	}
	d[o] = '\0';
	return o;
}

/* ka.uri.param[k]: the first value of query parameter k of the request URI. */
X(x_uri_param)
{
	const char *uri = json_string_value(json_object_get(event, "requestURI"));
	const char *q, *end;
	char *kbuf;

	if (!uri || !(q = strchr(uri, '?')))
		return false;
	q++;
	end = q + strcspn(q, "#");
	kbuf = field_scratch_alloc(s, (size_t)(end - q) + 1);
	if (!kbuf)
		return false;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe;
		size_t kl = url_decode(q, (size_t)(ke - q), kbuf);

		if (kl == arg->key_len && !memcmp(kbuf, arg->key, kl)) {
			const char *v = eq ? eq + 1 : pe;

			out->type = FIELD_STRING;
			out->str.len = url_decode(v, (size_t)(pe - v), kbuf);
			out->str.p = kbuf;
			return true;
		}
		q = pe + (amp != NULL);
	}
	return false;
}

/* ka.target.pod.name: the pod's name when the target is a pod or one of its subresources. */
X(x_target_pod_name)
{
	const json_t *ref = json_object_get(event, "objectRef");
	const char *res = json_string_value(json_object_get(ref, "resource"));
	const json_t *name = json_object_get(ref, "name");

	(void)arg;
	if (!res || strcmp(res, "pods"))
		return false;
	if (!name)
		name = path_get(event,
				(const char *const[]){ "responseObject", "metadata", "name" }, 3);
	return out_text(name, s, out);
}

/* ka.req.binding.subjects.*_names: names of the subjects of a kind ("ns:name" for SAs). */
static bool subject_names(const void *event, const char *kind, bool with_ns,
			  struct field_scratch *s, struct field_value *out)
{
	const json_t *subj =
		path_get(event, (const char *const[]){ "requestObject", "subjects" }, 2);
	const json_t *e;
	struct list l;
	size_t i;

	if (!subj) {
		list_init(&l, s, 0);
		return list_out(&l, out);
	}
	if (!json_is_array(subj) || !list_init(&l, s, json_array_size(subj)))
		return false;
	json_array_foreach(subj, i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		const json_t *name = json_object_get(e, "name");
		const char *p;
		size_t len;

		if (!k || strcmp(k, kind) || !to_text(name, s, &p, &len))
			continue;
		if (with_ns) {
			const char *ns = json_string_value(json_object_get(e, "namespace"));
			size_t nl;
			char *d;

			if (!ns)
				continue;
			nl = strlen(ns);
			d = field_scratch_alloc(s, nl + 1 + len + 1);
			if (!d)
				return false;
			memcpy(d, ns, nl);
			d[nl] = ':';
			memcpy(d + nl + 1, p, len);
			d[nl + 1 + len] = '\0';
			p = d;
			len += nl + 1;
		}
		list_add(&l, p, len);
	}
	return list_out(&l, out);
}

X(x_subj_users)
{
	(void)arg;
	return subject_names(event, "User", false, s, out);
}

X(x_subj_sas)
{
	(void)arg;
	return subject_names(event, "ServiceAccount", false, s, out);
}

X(x_subj_ns_sas)
{
	(void)arg;
	return subject_names(event, "ServiceAccount", true, s, out);
}

X(x_subj_groups)
{
	(void)arg;
	return subject_names(event, "Group", false, s, out);
}

/* ka.req.binding.subject.has_name[name]: whether a subject of the binding has that name. */
X(x_subj_has_name)
{
	const json_t *subj =
		path_get(event, (const char *const[]){ "requestObject", "subjects" }, 2);
	const json_t *e;
	size_t i;

	(void)s;
	if (!json_is_array(subj))
		return false;
	json_array_foreach(subj, i, e) {
		const json_t *name = json_object_get(e, "name");

		if (json_is_string(name) && json_string_length(name) == arg->key_len &&
		    !memcmp(json_string_value(name), arg->key, arg->key_len))
			return out_const("true", out);
	}
	return out_const("false", out);
}

/* ka.req.volume.hostpath[path]: whether a hostPath volume is path (or starts with it, "p*"). */
X(x_volume_hostpath)
{
	static const char *const k[] = { "requestObject", "spec", "volumes", "hostPath", "path" };
	bool prefix = arg->key_len && arg->key[arg->key_len - 1] == '*';
	size_t kl = arg->key_len - prefix;
	const json_t **v;
	size_t n;

	if (!collect(event, NOIDX, k, NK(k), s, &v, &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *p = json_string_value(v[i]);
		size_t len = p ? json_string_length(v[i]) : 0;

		if (p && (prefix ? len >= kl : len == kl) && !memcmp(p, arg->key, kl))
			return out_const("true", out);
	}
	return out_const("false", out);
}

/* ka.req.pod.volumes.volume_type: the type key of each volume (hostPath, configMap, ...). */
X(x_volume_types)
{
	static const char *const k[] = { "requestObject", "spec", "volumes" };
	const json_t **v;
	size_t n, total = 0;
	struct list l;

	if (!collect(event, arg_index(arg), k, NK(k), s, &v, &n))
		return false;
	/* the path ends at the volumes array itself, or at one volume with an index */
	for (size_t i = 0; i < n; i++) {
		const json_t *vols = v[i];

		if (json_is_array(vols)) {
			const json_t *e;
			size_t a;

			json_array_foreach(vols, a, e)
				total += json_object_size(e);
		} else {
			total += json_object_size(vols);
		}
	}
	if (!list_init(&l, s, total))
		return false;
	for (size_t i = 0; i < n; i++) {
		const json_t *vols = v[i], *e, *val;
		const char *key;
		size_t a;

		if (json_is_array(vols)) {
			if (arg_index(arg) >= 0)
				vols = json_array_get(vols, (size_t)arg_index(arg));
			else {
				json_array_foreach(v[i], a, e)
					json_object_foreach((json_t *)e, key, val)
						if (strcmp(key, "name"))
							list_add(&l, key, strlen(key));
				continue;
			}
		}
		json_object_foreach((json_t *)vols, key, val)
			if (strcmp(key, "name"))
				list_add(&l, key, strlen(key));
	}
	return list_out(&l, out);
}

/* ---- containers ------------------------------------------------------------------------ */

enum csub {
	C_NAME,
	C_IMAGE,
	C_REPO,
	C_COMMAND,
	C_ARGS,
	C_PRIV,
	C_ESCALATION,
	C_RO_FS,
	C_RUN_AS_USER,
	C_EFF_USER,
	C_RUN_AS_GROUP,
	C_EFF_GROUP,
	C_PROC_MOUNT,
	C_ADD_CAPS,
	C_HOST_PORT,
};

/* The repository part of an image reference: without @digest and without :tag. */
static size_t repo_len(const char *p, size_t len)
{
	const char *at = memchr(p, '@', len);
	size_t n = at ? (size_t)(at - p) : len;
	size_t slash = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] == '/')
			slash = i + 1;
	for (size_t i = n; i > slash; i--)
		if (p[i - 1] == ':')
			return i - 1;
	return n;
}

/* Join the strings of an array with spaces (command, args). */
static bool join_array(const json_t *a, struct field_scratch *s, const char **p, size_t *len)
{
	const json_t *e;
	size_t i, n = 0, o = 0;
	char *d;

	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			return false;
		n += json_string_length(e) + 1;
	}
	d = field_scratch_alloc(s, n + 1);
	if (!d)
		return false;
	json_array_foreach(a, i, e) {
		if (o)
			d[o++] = ' ';
		memcpy(d + o, json_string_value(e), json_string_length(e));
		o += json_string_length(e);
	}
	d[o] = '\0';
	*p = d;
	*len = o;
	return true;
}

static bool container_field(const void *event, const struct field_arg *arg, struct field_scratch *s,
			    struct field_value *out, const char *list, enum csub sub)
{
	const char *k[MAX_KEYS] = { "requestObject", "spec", list };
	size_t nk = 3, total = 0;
	const char *pod_default = NULL;
	size_t pod_default_len = 0;
	const json_t **v;
	struct list l;
	size_t n;

	switch (sub) {
	case C_NAME:
		k[nk++] = "name";
		break;
	case C_IMAGE:
	case C_REPO:
		k[nk++] = "image";
		break;
	case C_COMMAND:
		k[nk++] = "command";
		break;
	case C_ARGS:
		k[nk++] = "args";
		break;
	case C_HOST_PORT:
		k[nk++] = "ports";
		break;
	case C_ADD_CAPS:
		k[nk++] = "securityContext";
		k[nk++] = "capabilities";
		k[nk++] = "add";
		break;
	default:
		k[nk++] = "securityContext";
		k[nk++] = sub == C_PRIV				    ? "privileged" :
			  sub == C_ESCALATION			    ? "allowPrivilegeEscalation" :
			  sub == C_RO_FS			    ? "readOnlyRootFilesystem" :
			  sub == C_PROC_MOUNT			    ? "procMount" :
			  sub == C_RUN_AS_USER || sub == C_EFF_USER ? "runAsUser" :
								      "runAsGroup";
		break;
	}
	if (sub == C_EFF_USER || sub == C_EFF_GROUP) {
		const char *pk[] = { "requestObject", "spec", "securityContext", k[nk - 1] };
		const json_t *pv = path_get(event, pk, NK(pk));

		if (pv) {
			if (!to_text(pv, s, &pod_default, &pod_default_len))
				return false;
		} else {
			pod_default = "0";
			pod_default_len = 1;
		}
	}
	if (!collect(event, arg_index(arg), k, nk, s, &v, &n))
		return false;

	switch (sub) {
	case C_COMMAND:
	case C_ARGS:
		if (!list_init(&l, s, n))
			return false;
		for (size_t i = 0; i < n; i++) {
			const char *p;
			size_t len;

			if (!v[i])
				continue;
			if (!json_is_array(v[i]) || !join_array(v[i], s, &p, &len))
				return false;
			list_add(&l, p, len);
		}
		if (!l.n)
			return false;
		return list_out(&l, out);
	case C_HOST_PORT:
		for (size_t i = 0; i < n; i++)
			total += json_array_size(v[i]);
		if (!list_init(&l, s, total))
			return false;
		for (size_t i = 0; i < n; i++) {
			const json_t *port;
			size_t a;

			if (v[i] && !json_is_array(v[i]))
				return false;
			json_array_foreach(v[i], a, port) {
				const json_t *hp = json_object_get(port, "hostPort");
				const char *p;
				size_t len;

				if (!hp)
					hp = json_object_get(port, "containerPort");
				if (hp && to_text(hp, s, &p, &len))
					list_add(&l, p, len);
			}
		}
		return list_out(&l, out);
	case C_ADD_CAPS:
		return flat_list(v, n, s, out);
	case C_NAME:
	case C_IMAGE:
	case C_REPO:
		if (!list_init(&l, s, n))
			return false;
		for (size_t i = 0; i < n; i++) {
			const char *p;
			size_t len;

			if (!to_text(v[i], s, &p, &len))
				return false; /* a container without it */
			list_add(&l, p, sub == C_REPO ? repo_len(p, len) : len);
		}
		return list_out(&l, out);
	case C_EFF_USER:
	case C_EFF_GROUP:
		if (!list_init(&l, s, n))
			return false;
		for (size_t i = 0; i < n; i++) {
			const char *p = pod_default;
			size_t len = pod_default_len;

			if (v[i] && !to_text(v[i], s, &p, &len))
				return false;
			list_add(&l, p, len);
		}
		return list_out(&l, out);
	default:
		return collected_list(v, n, s, out);
	}
}

#define CONTAINER_FN(tag, list, sub)                                   \
	X(x_##tag##_##sub)                                             \
	{                                                              \
		return container_field(event, arg, s, out, list, sub); \
	}
#define CONTAINER_FNS(tag, list)                \
	CONTAINER_FN(tag, list, C_NAME)         \
	CONTAINER_FN(tag, list, C_IMAGE)        \
	CONTAINER_FN(tag, list, C_REPO)         \
	CONTAINER_FN(tag, list, C_COMMAND)      \
	CONTAINER_FN(tag, list, C_ARGS)         \
	CONTAINER_FN(tag, list, C_PRIV)         \
	CONTAINER_FN(tag, list, C_ESCALATION)   \
	CONTAINER_FN(tag, list, C_RO_FS)        \
	CONTAINER_FN(tag, list, C_RUN_AS_USER)  \
	CONTAINER_FN(tag, list, C_EFF_USER)     \
	CONTAINER_FN(tag, list, C_RUN_AS_GROUP) \
	CONTAINER_FN(tag, list, C_EFF_GROUP)    \
	CONTAINER_FN(tag, list, C_PROC_MOUNT)   \
	CONTAINER_FN(tag, list, C_ADD_CAPS)

CONTAINER_FNS(ctr, "containers")
CONTAINER_FNS(init, "initContainers")
CONTAINER_FNS(eph, "ephemeralContainers")
CONTAINER_FN(ctr, "containers", C_HOST_PORT)
CONTAINER_FN(init, "initContainers", C_HOST_PORT)

/* Legacy single-container fields: the first container. */
X(x_req_container_image)
{
	struct field_arg first = { .present = true, .index = 0 };

	(void)arg;
	if (!container_field(event, &first, s, out, "containers", C_IMAGE) || !out->list.n)
		return false;
	out->type = FIELD_STRING;
	out->str.len = out->list.lens[0];
	out->str.p = out->list.v[0];
	return true;
}

X(x_req_container_repo)
{
	struct field_arg first = { .present = true, .index = 0 };

	(void)arg;
	if (!container_field(event, &first, s, out, "containers", C_REPO) || !out->list.n)
		return false;
	out->type = FIELD_STRING;
	out->str.len = out->list.lens[0];
	out->str.p = out->list.v[0];
	return true;
}

/* ka.req.container.privileged: "true" when any container is privileged. */
X(x_req_container_priv)
{
	static const char *const k[] = { "requestObject", "spec", "containers", "securityContext",
					 "privileged" };
	const json_t **v;
	size_t n;

	(void)arg;
	if (!collect(event, NOIDX, k, NK(k), s, &v, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (json_is_true(v[i]))
			return out_const("true", out);
	return out_const("false", out);
}

/* ---- the table ------------------------------------------------------------------------- */

#define F(n, t, fl, d, x)            \
	{                            \
		n, t, fl, d, x, NULL \
	}
#define S FIELD_STRING
#define L FIELD_LIST
#define IDX FIELD_ARG_INDEX
#define KEY (FIELD_ARG_KEY | FIELD_ARG_REQUIRED)

#define CONTAINER_DEFS(tag, prefix, what)                                                    \
	F(prefix "name", L, IDX, "names of the " what, x_##tag##_C_NAME),                    \
		F(prefix "image", L, IDX, "images of the " what, x_##tag##_C_IMAGE),         \
		F(prefix "image.repository", L, IDX, "image repositories of the " what,      \
		  x_##tag##_C_REPO),                                                         \
		F(prefix "command", L, IDX, "commands of the " what " (joined by spaces)",   \
		  x_##tag##_C_COMMAND),                                                      \
		F(prefix "args", L, IDX, "args of the " what " (joined by spaces)",          \
		  x_##tag##_C_ARGS),                                                         \
		F(prefix "privileged", L, IDX, "securityContext.privileged of the " what,    \
		  x_##tag##_C_PRIV),                                                         \
		F(prefix "allow_privilege_escalation", L, IDX,                               \
		  "securityContext.allowPrivilegeEscalation of the " what,                   \
		  x_##tag##_C_ESCALATION),                                                   \
		F(prefix "read_only_fs", L, IDX,                                             \
		  "securityContext.readOnlyRootFilesystem of the " what, x_##tag##_C_RO_FS), \
		F(prefix "run_as_user", L, IDX, "securityContext.runAsUser of the " what,    \
		  x_##tag##_C_RUN_AS_USER),                                                  \
		F(prefix "eff_run_as_user", L, IDX,                                          \
		  "effective runAsUser of the " what " (container, else pod, else 0)",       \
		  x_##tag##_C_EFF_USER),                                                     \
		F(prefix "run_as_group", L, IDX, "securityContext.runAsGroup of the " what,  \
		  x_##tag##_C_RUN_AS_GROUP),                                                 \
		F(prefix "eff_run_as_group", L, IDX,                                         \
		  "effective runAsGroup of the " what " (container, else pod, else 0)",      \
		  x_##tag##_C_EFF_GROUP),                                                    \
		F(prefix "proc_mount", L, IDX, "securityContext.procMount of the " what,     \
		  x_##tag##_C_PROC_MOUNT),                                                   \
		F(prefix "add_capabilities", L, IDX, "capabilities added to the " what,      \
		  x_##tag##_C_ADD_CAPS)

static const struct field_def k8s_audit_fields[] = {
	F("evt.time", FIELD_ABSTIME, 0, "event time (stageTimestamp), ns since the epoch",
	  x_evt_time),
	F("jevt.value", S, KEY, "the value at a JSON pointer: jevt.value[/objectRef/name]",
	  x_json_value),
	F("jevt.obj", S, 0, "the whole event as JSON", x_json_obj),
	F("jevt.rawtime", S, 0, "event time in ns since the epoch", x_rawtime),
	F("json.value", S, KEY, "the value at a JSON pointer (alias of jevt.value)", x_json_value),
	F("json.obj", S, 0, "the whole event as JSON (alias of jevt.obj)", x_json_obj),
	F("json.rawtime", S, 0, "event time in ns since the epoch (alias of jevt.rawtime)",
	  x_rawtime),
	F("ka.auditid", S, 0, "the event's auditID", x_auditid),
	F("ka.stage", S, 0, "the stage (RequestReceived, ResponseComplete, ...)", x_stage),
	F("ka.auth.decision", S, 0, "authorization decision (allow, forbid)", x_auth_decision),
	F("ka.auth.reason", S, 0, "authorization reason", x_auth_reason),
	F("ka.auth.openshift.decision", S, 0, "OpenShift authentication decision", x_os_decision),
	F("ka.auth.openshift.username", S, 0, "OpenShift authentication user name", x_os_username),
	F("ka.validations.admission.policy.failure", S, 0, "validating admission policy failures",
	  x_policy_failure),
	F("ka.security.pod.violations", S, 0, "pod security audit violations", x_pod_violations),
	F("ka.user.name", S, 0, "user name of the request", x_user_name),
	F("ka.user.groups", L, 0, "groups of the requesting user", x_user_groups),
	F("ka.impuser.name", S, 0, "impersonated user name", x_impuser_name),
	F("ka.verb", S, 0, "action (create, get, list, patch, ...)", x_verb),
	F("ka.uri", S, 0, "request URI", x_uri),
	F("ka.uri.param", S, KEY, "a query parameter of the URI: ka.uri.param[command]",
	  x_uri_param),
	F("ka.target.name", S, 0, "target object name", x_target_name),
	F("ka.target.namespace", S, 0, "target object namespace", x_target_namespace),
	F("ka.target.resource", S, 0, "target object resource (pods, configmaps, ...)",
	  x_target_resource),
	F("ka.target.subresource", S, 0, "target object subresource (exec, attach, ...)",
	  x_target_subresource),
	F("ka.target.pod.name", S, 0, "pod name when the target is a pod or its subresource",
	  x_target_pod_name),
	F("ka.req.binding.subjects", L, 0, "subjects of a role binding (JSON each)",
	  x_binding_subjects),
	F("ka.req.binding.subjects.user_names", L, 0, "User subjects of a role binding",
	  x_subj_users),
	F("ka.req.binding.subjects.serviceaccount_names", L, 0,
	  "ServiceAccount subjects of a role binding", x_subj_sas),
	F("ka.req.binding.subjects.serviceaccount_ns_names", L, 0,
	  "ServiceAccount subjects of a role binding as namespace:name", x_subj_ns_sas),
	F("ka.req.binding.subjects.group_names", L, 0, "Group subjects of a role binding",
	  x_subj_groups),
	F("ka.req.binding.role", S, 0, "role referenced by a role binding", x_binding_role),
	F("ka.req.binding.subject.has_name", S, KEY,
	  "whether a binding subject has the name: ...has_name[sysadm]", x_subj_has_name),
	F("ka.req.configmap.name", S, 0, "ConfigMap name", x_target_name),
	F("ka.req.configmap.obj", S, 0, "ConfigMap data as JSON", x_configmap_obj),
	CONTAINER_DEFS(ctr, "ka.req.pod.containers.", "pod's containers"),
	F("ka.req.pod.containers.host_port", L, IDX, "hostPort (else containerPort) of every port",
	  x_ctr_C_HOST_PORT),
	CONTAINER_DEFS(init, "ka.req.pod.initContainers.", "pod's init containers"),
	F("ka.req.pod.initContainers.host_port", L, IDX,
	  "hostPort (else containerPort) of every init container port", x_init_C_HOST_PORT),
	CONTAINER_DEFS(eph, "ka.req.pod.ephemeralContainers.", "pod's ephemeral containers"),
	F("ka.req.container.image", S, 0, "image of the first container", x_req_container_image),
	F("ka.req.container.image.repository", S, 0, "image repository of the first container",
	  x_req_container_repo),
	F("ka.req.container.privileged", S, 0, "whether any container is privileged",
	  x_req_container_priv),
	F("ka.req.container.host_network", S, 0, "spec.hostNetwork (legacy name)",
	  x_pod_host_network),
	F("ka.req.pod.host_ipc", S, 0, "spec.hostIPC", x_pod_host_ipc),
	F("ka.req.pod.host_network", S, 0, "spec.hostNetwork", x_pod_host_network),
	F("ka.req.pod.host_pid", S, 0, "spec.hostPID", x_pod_host_pid),
	F("ka.req.pod.run_as_user", S, 0, "pod securityContext.runAsUser", x_pod_run_as_user),
	F("ka.req.pod.run_as_group", S, 0, "pod securityContext.runAsGroup", x_pod_run_as_group),
	F("ka.req.pod.fs_group", S, 0, "pod securityContext.fsGroup", x_pod_fs_group),
	F("ka.req.pod.supplemental_groups", L, 0, "pod securityContext.supplementalGroups",
	  x_pod_supp_groups),
	F("ka.req.pod.volumes.hostpath", L, IDX, "hostPath paths of the pod's volumes",
	  x_pod_hostpaths),
	F("ka.req.pod.volumes.flexvolume_driver", L, IDX, "flexVolume drivers of the volumes",
	  x_pod_flexvolume),
	F("ka.req.pod.volumes.volume_type", L, IDX, "volume types (hostPath, secret, ...)",
	  x_volume_types),
	F("ka.req.volume.hostpath", S, KEY,
	  "whether a hostPath volume is the path (prefix with a trailing *)", x_volume_hostpath),
	F("ka.req.role.rules", L, 0, "rules of a role (JSON each)", x_role_rules),
	F("ka.req.role.rules.apiGroups", L, IDX, "apiGroups of the role's rules",
	  x_rules_api_groups),
	F("ka.req.role.rules.nonResourceURLs", L, IDX, "nonResourceURLs of the role's rules",
	  x_rules_nonres_urls),
	F("ka.req.role.rules.verbs", L, IDX, "verbs of the role's rules", x_rules_verbs),
	F("ka.req.role.rules.resources", L, IDX, "resources of the role's rules",
	  x_rules_resources),
	F("ka.req.service.type", S, 0, "service type (ClusterIP, NodePort, ...)", x_service_type),
	F("ka.req.service.ports", L, IDX, "service ports (JSON each)", x_service_ports),
	F("ka.resp.name", S, 0, "name of the response object", x_resp_name),
	F("ka.response.code", S, 0, "HTTP response code", x_response_code),
	F("ka.response.reason", S, 0, "response reason", x_response_reason),
	F("ka.useragent", S, 0, "user agent of the client", x_useragent),
	F("ka.sourceips", L, IDX, "source IPs of the request", x_sourceips),
	F("ka.cluster.name", S, 0, "cluster name (annotation cluster_name)", x_cluster_name),
};

const struct field_source k8s_audit_field_source = {
	.name = "k8s_audit",
	.fields = k8s_audit_fields,
	.n_fields = sizeof(k8s_audit_fields) / sizeof(k8s_audit_fields[0]),
	.event_type_names = NULL,
	.n_event_types = 1,
	.type_field = NULL,
	.event_type = NULL,
	.time_field = "evt.time",
};

/* ---- documents ------------------------------------------------------------------------- */

int k8s_audit_is_event(const json_t *j)
{
	return json_is_object(j) && json_is_string(json_object_get(j, "auditID"));
}

int k8s_audit_for_each(const json_t *doc, k8s_audit_item_fn fn, void *ctx)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const json_t *items = json_object_get(doc, "items"), *e;
	size_t i;

	if (kind && !strcmp(kind, "EventList")) {
		if (!json_is_array(items))
			return -EINVAL;
		json_array_foreach(items, i, e)
			fn(ctx, e, k8s_audit_is_event(e));
		return (int)json_array_size(items);
	}
	if (!k8s_audit_is_event(doc))
		return -EINVAL;
	fn(ctx, doc, 1);
	return 1;
}
