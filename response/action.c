// SPDX-License-Identifier: Apache-2.0
#include "response/action.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct action_ops *const action_registry[] = {
	&action_scale_down,  &action_delete_pod,   &action_label_pod, &action_annotate_pod,
	&action_isolate_pod, &action_process_kill, &action_notify,    NULL,
};

const struct action_ops *action_find(const char *name)
{
	for (size_t i = 0; name && action_registry[i]; i++)
		if (!strcmp(action_registry[i]->name, name))
			return action_registry[i];
	return NULL;
}

const char *action_outcome_name(enum action_outcome o)
{
	switch (o) {
	case ACTION_DONE:
		return "done";
	case ACTION_DRY_RUN:
		return "dry-run";
	case ACTION_SKIPPED:
		return "skipped";
	case ACTION_FAILED:
		return "failed";
	}
	return "unknown";
}

void action_finish(struct action_call *call, enum action_outcome o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->detail, sizeof(call->detail), fmt, ap);
	va_end(ap);
	call->done(call, o);
}

bool action_param_bool(const json_t *params, const char *key, bool def)
{
	const json_t *v = json_object_get(params, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

long long action_param_int(const json_t *params, const char *key, long long def)
{
	const json_t *v = json_object_get(params, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

const char *action_param_str(const json_t *params, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(params, key));

	return v ? v : def;
}

int action_check_type(const json_t *params, const char *key, json_type t, char *err, size_t errlen)
{
	static const char *const names[] = { "a mapping",     "a list",	  "a string",
					     "an integer",    "a number", "true or false",
					     "true or false", "null" };
	const json_t *v = json_object_get(params, key);

	if (!v)
		return 0;
	if (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)))
		return 0;
	snprintf(err, errlen, "parameter '%s': expected %s", key, names[t]);
	return -EINVAL;
}

int action_check_string_map(const json_t *params, const char *key, char *err, size_t errlen)
{
	const json_t *m = json_object_get(params, key), *v;
	const char *k;

	if (!m)
		return 0;
	if (!json_is_object(m)) {
		snprintf(err, errlen, "parameter '%s': expected a mapping of strings", key);
		return -EINVAL;
	}
	json_object_foreach((json_t *)m, k, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen,
				 "parameter '%s': value of '%s' must be a string "
				 "(quote numbers and booleans)",
				 key, k);
			return -EINVAL;
		}
	}
	return 0;
}

const char *action_alert_field(const struct alert *a, const char *key)
{
	const char *v = json_string_value(json_object_get(alert_output_fields(a), key));

	if (!v || !*v || !strcmp(v, "<NA>"))
		return NULL;
	return v;
}

const json_t *action_controller_of(const json_t *obj)
{
	const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	const json_t *r;
	size_t i;

	json_array_foreach(refs, i, r) {
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	}
	return NULL;
}

struct pod_get {
	struct action_call *call;
	action_pod_fn cb;
};

static void on_pod(void *data, const struct k8s_response *resp)
{
	struct pod_get *g = data;
	struct action_call *call = g->call;
	action_pod_fn cb = g->cb;

	free(g);
	if (resp->status == 404) {
		action_finish(call, ACTION_SKIPPED, "pod %s/%s does not exist", call->ns,
			      call->pod);
		return;
	}
	if (!resp->ok || !json_is_object(resp->body)) {
		action_finish(call, ACTION_FAILED, "get pod %s/%s: %s (HTTP %ld)", call->ns,
			      call->pod, resp->message, resp->status);
		return;
	}
	cb(call, resp->body);
}

int action_get_pod(struct action_call *call, action_pod_fn cb)
{
	struct pod_get *g = malloc(sizeof(*g));
	char path[600];
	int err;

	if (!g)
		return -ENOMEM;
	g->call = call;
	g->cb = cb;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", call->ns, call->pod);
	err = k8s_request(call->k8s, "GET", path, NULL, NULL, on_pod, g);
	if (err)
		free(g);
	return err;
}
