// SPDX-License-Identifier: Apache-2.0
/*
 * k8s.label_pod and k8s.annotate_pod: merge labels or annotations into the alert's pod
 * (quarantine markers). Parameters: labels / annotations, a mapping of strings; label_pod
 * defaults to lanner.dev/quarantine: "true".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response/action.h"

static void on_patched(void *data, const struct k8s_response *resp)
{
	struct action_call *call = data;

	if (resp->status == 404)
		action_finish(call, ACTION_SKIPPED, "pod does not exist");
	else if (!resp->ok)
		action_finish(call, ACTION_FAILED, "patch: %s (HTTP %ld)", resp->message,
			      resp->status);
	else
		call->done(call, ACTION_DONE); /* detail already says what was set */
}

static void meta_start(struct action_call *call, const char *member, const json_t *map)
{
	char path[600], *text;
	json_t *body;
	int err;

	snprintf(call->target, sizeof(call->target), "pod %s/%s", call->ns, call->pod);
	text = json_dumps(map, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(call->detail, sizeof(call->detail), "%s%s %s", call->dry_run ? "would set " : "",
		 member, text ? text : "");
	free(text);
	if (call->dry_run) {
		call->done(call, ACTION_DRY_RUN);
		return;
	}
	body = json_pack("{s:{s:O}}", "metadata", member, map);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", call->ns, call->pod);
	err = body ? k8s_request(call->k8s, "PATCH", path, "application/merge-patch+json", body,
				 on_patched, call) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		action_finish(call, ACTION_FAILED, "patch: %s", strerror(-err));
}

static void label_start(struct action_call *call)
{
	const json_t *labels = json_object_get(call->params, "labels");
	json_t *def = NULL;

	if (!labels)
		labels = def = json_pack("{s:s}", "lanner.dev/quarantine", "true");
	if (!labels) {
		action_finish(call, ACTION_FAILED, "out of memory");
		return;
	}
	meta_start(call, "labels", labels);
	json_decref(def);
}

static void annotate_start(struct action_call *call)
{
	meta_start(call, "annotations", json_object_get(call->params, "annotations"));
}

static int only(const json_t *params, const char *key, bool required, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		if (strcmp(k, key)) {
			snprintf(err, errlen, "unknown parameter '%s' (known: %s)", k, key);
			return -EINVAL;
		}
	}
	if (required && !json_object_size(json_object_get(params, key))) {
		snprintf(err, errlen, "parameter '%s' is required", key);
		return -EINVAL;
	}
	return action_check_string_map(params, key, err, errlen);
}

static int label_check(const json_t *params, char *err, size_t errlen)
{
	return only(params, "labels", false, err, errlen);
}

static int annotate_check(const json_t *params, char *err, size_t errlen)
{
	return only(params, "annotations", true, err, errlen);
}

const struct action_ops action_label_pod = {
	.name = "k8s.label_pod",
	.needs_k8s = true,
	.check = label_check,
	.start = label_start,
};

const struct action_ops action_annotate_pod = {
	.name = "k8s.annotate_pod",
	.needs_k8s = true,
	.check = annotate_check,
	.start = annotate_start,
};
