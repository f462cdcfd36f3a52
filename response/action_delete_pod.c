// SPDX-License-Identifier: Apache-2.0
/*
 * k8s.delete_pod, Talon's kubernetes:terminate: delete the alert's pod with a grace period,
 * skipping DaemonSet, StatefulSet and standalone pods unless allowed, and pods whose
 * ReplicaSet would drop below min_healthy_replicas ready replicas.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response/action.h"

static const char *const known[] = { "grace_period_seconds", "allow_standalone",
				     "allow_daemonset",	     "allow_statefulset",
				     "min_healthy_replicas", NULL };

struct del {
	struct action_call *call;
	char uid[128];
};

static void del_end(struct del *d, enum action_outcome o, const char *what,
		    const struct k8s_response *resp)
{
	struct action_call *call = d->call;

	free(d);
	if (resp)
		action_finish(call, o, "%s: %s (HTTP %ld)", what, resp->message, resp->status);
	else
		action_finish(call, o, "%s", what);
}

static void on_deleted(void *data, const struct k8s_response *resp)
{
	struct del *d = data;
	struct action_call *call = d->call;

	if (resp->status == 404) {
		del_end(d, ACTION_SKIPPED, "already gone", resp);
		return;
	}
	if (!resp->ok) {
		del_end(d, ACTION_FAILED, "delete", resp);
		return;
	}
	free(d);
	action_finish(call, ACTION_DONE, "deleted (grace period %lld s)",
		      action_param_int(call->params, "grace_period_seconds", -1));
}

static void do_delete(struct del *d)
{
	struct action_call *call = d->call;
	long long grace = action_param_int(call->params, "grace_period_seconds", -1);
	char path[600];
	json_t *body;
	int err;

	if (!action_cooldown_take(call, call->target)) {
		free(d);
		call->done(call, ACTION_SKIPPED);
		return;
	}
	if (call->dry_run) {
		free(d);
		if (grace >= 0)
			action_finish(call, ACTION_DRY_RUN, "would delete (grace period %lld s)",
				      grace);
		else
			action_finish(call, ACTION_DRY_RUN,
				      "would delete (the pod's own grace period)");
		return;
	}
	/* the uid precondition: delete this pod, not a new one that took its name */
	body = json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
			 "preconditions", "uid", d->uid);
	if (body && grace >= 0)
		json_object_set_new(body, "gracePeriodSeconds", json_integer(grace));
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", call->ns, call->pod);
	err = body ? k8s_request(call->k8s, "DELETE", path, NULL, body, on_deleted, d) : -ENOMEM;
	json_decref(body);
	if (err)
		del_end(d, ACTION_FAILED, strerror(-err), NULL);
}

static void on_replicaset(void *data, const struct k8s_response *resp)
{
	struct del *d = data;
	struct action_call *call = d->call;
	long long min = action_param_int(call->params, "min_healthy_replicas", 0);
	const json_t *ready;

	if (!resp->ok) {
		del_end(d, ACTION_FAILED, "get replicaset", resp);
		return;
	}
	ready = json_object_get(json_object_get(resp->body, "status"), "readyReplicas");
	if ((json_is_integer(ready) ? json_integer_value(ready) : 0) - 1 < min) {
		struct action_call *c = d->call;

		free(d);
		action_finish(c, ACTION_SKIPPED,
			      "its ReplicaSet has %lld ready replicas; deleting would go below "
			      "min_healthy_replicas %lld",
			      (long long)(json_is_integer(ready) ? json_integer_value(ready) : 0),
			      min);
		return;
	}
	do_delete(d);
}

static void on_pod(struct action_call *call, json_t *pod)
{
	const json_t *owner = action_controller_of(pod);
	const char *kind = json_string_value(json_object_get(owner, "kind"));
	const char *name = json_string_value(json_object_get(owner, "name"));
	const char *uid =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
	const struct {
		const char *kind, *param;
	} guarded[] = { { "DaemonSet", "allow_daemonset" },
			{ "StatefulSet", "allow_statefulset" } };
	struct del *d;

	if (!kind && !action_param_bool(call->params, "allow_standalone", false)) {
		action_finish(call, ACTION_SKIPPED,
			      "standalone pod (no controller): set allow_standalone to delete it");
		return;
	}
	for (size_t i = 0; kind && i < 2; i++) {
		if (!strcmp(kind, guarded[i].kind) &&
		    !action_param_bool(call->params, guarded[i].param, false)) {
			action_finish(call, ACTION_SKIPPED, "owned by %s %s: set %s to delete it",
				      kind, name ? name : "", guarded[i].param);
			return;
		}
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		action_finish(call, ACTION_FAILED, "out of memory");
		return;
	}
	d->call = call;
	snprintf(d->uid, sizeof(d->uid), "%s", uid ? uid : "");
	if (kind && !strcmp(kind, "ReplicaSet") && k8s_valid_name(name) &&
	    action_param_int(call->params, "min_healthy_replicas", 0) > 0) {
		char path[600];
		int err;

		snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/replicasets/%s", call->ns,
			 name);
		err = k8s_request(call->k8s, "GET", path, NULL, NULL, on_replicaset, d);
		if (err)
			del_end(d, ACTION_FAILED, strerror(-err), NULL);
		return;
	}
	do_delete(d);
}

static void delete_start(struct action_call *call)
{
	int err;

	snprintf(call->target, sizeof(call->target), "pod %s/%s", call->ns, call->pod);
	err = action_get_pod(call, on_pod);
	if (err)
		action_finish(call, ACTION_FAILED, "get pod: %s", strerror(-err));
}

static int delete_check(const json_t *params, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		bool ok = false;

		for (size_t i = 0; known[i]; i++)
			ok = ok || !strcmp(k, known[i]);
		if (!ok) {
			snprintf(err, errlen, "unknown parameter '%s'", k);
			return -EINVAL;
		}
	}
	if (action_check_type(params, "grace_period_seconds", JSON_INTEGER, err, errlen) ||
	    action_check_type(params, "min_healthy_replicas", JSON_INTEGER, err, errlen) ||
	    action_check_type(params, "allow_standalone", JSON_TRUE, err, errlen) ||
	    action_check_type(params, "allow_daemonset", JSON_TRUE, err, errlen) ||
	    action_check_type(params, "allow_statefulset", JSON_TRUE, err, errlen))
		return -EINVAL;
	if (action_param_int(params, "grace_period_seconds", 0) < 0 ||
	    action_param_int(params, "min_healthy_replicas", 0) < 0) {
		snprintf(err, errlen, "grace_period_seconds and min_healthy_replicas must be >= 0");
		return -EINVAL;
	}
	return 0;
}

const struct action_ops action_delete_pod = {
	.name = "k8s.delete_pod",
	.needs_k8s = true,
	.check = delete_check,
	.start = delete_start,
};
