// SPDX-License-Identifier: Apache-2.0
/*
 * k8s.scale_down: pod -> ReplicaSet -> Deployment (or pod -> StatefulSet) through the
 * controller ownerReferences, then record the replica count, the reason and the time in
 * annotations on the workload (restore.c undoes it) and PATCH its /scale to 0 replicas.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "response/action.h"
#include "response/restore.h"

struct scale {
	struct action_call *call;
	char kind[16]; /* "deployment", "statefulset" */
	char name[256];
	char path[640]; /* the workload's API path */
	long long from;
};

static void scale_end(struct scale *sc, enum action_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void scale_end(struct scale *sc, enum action_outcome o, const char *fmt, ...)
{
	struct action_call *call = sc->call;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(sc);
	action_finish(call, o, "%s", msg);
}

static void on_scaled(void *data, const struct k8s_response *resp)
{
	struct scale *sc = data;
	struct action_call *call = sc->call;
	long long from = sc->from;

	if (!resp->ok) {
		scale_end(sc, ACTION_FAILED, "patch scale: %s (HTTP %ld)", resp->message,
			  resp->status);
		return;
	}
	free(sc);
	action_finish(call, ACTION_DONE, "scaled from %lld to 0 replicas", from);
}

static void on_annotated(void *data, const struct k8s_response *resp)
{
	struct scale *sc = data;
	char path[700];
	json_t *body;
	int err;

	if (!resp->ok) {
		scale_end(sc, ACTION_FAILED, "annotate: %s (HTTP %ld)", resp->message,
			  resp->status);
		return;
	}
	snprintf(path, sizeof(path), "%s/scale", sc->path);
	body = json_pack("{s:{s:i}}", "spec", "replicas", 0);
	err = body ? k8s_request(sc->call->k8s, "PATCH", path, "application/merge-patch+json", body,
				 on_scaled, sc) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		scale_end(sc, ACTION_FAILED, "patch scale: %s", strerror(-err));
}

static void on_workload(void *data, const struct k8s_response *resp)
{
	struct scale *sc = data;
	struct action_call *call = sc->call;
	const json_t *spec = json_object_get(resp->body, "spec");
	const char *reason;
	char at[32], from[32];
	json_t *body;
	int err;

	if (!resp->ok) {
		scale_end(sc, resp->status == 404 ? ACTION_SKIPPED : ACTION_FAILED,
			  "get workload: %s (HTTP %ld)", resp->message, resp->status);
		return;
	}
	sc->from = json_is_integer(json_object_get(spec, "replicas")) ?
			   json_integer_value(json_object_get(spec, "replicas")) :
			   1;
	/* the cooldown first: one scale-down per workload per window, whatever its state */
	snprintf(call->target, sizeof(call->target), "%s %s/%s", sc->kind, call->ns, sc->name);
	if (!action_cooldown_take(call, call->target)) {
		free(sc);
		call->done(call, ACTION_SKIPPED);
		return;
	}
	if (sc->from == 0) {
		scale_end(sc, ACTION_SKIPPED, "already at 0 replicas");
		return;
	}
	if (call->dry_run) {
		long long n = sc->from;

		free(sc);
		action_finish(call, ACTION_DRY_RUN, "would scale from %lld to 0 replicas", n);
		return;
	}
	reason = action_param_str(call->params, "reason", alert_rule(call->alert));
	restore_format_time(at, sizeof(at));
	snprintf(from, sizeof(from), "%lld", sc->from);
	body = json_pack("{s:{s:{s:s, s:s, s:s, s:s}}}", "metadata", "annotations",
			 RESTORE_ANN_FROM, from, RESTORE_ANN_REASON, reason, RESTORE_ANN_AT, at,
			 RESTORE_ANN_ALERT, alert_uuid(call->alert));
	err = body ? k8s_request(call->k8s, "PATCH", sc->path, "application/merge-patch+json", body,
				 on_annotated, sc) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		scale_end(sc, ACTION_FAILED, "annotate: %s", strerror(-err));
}

static void get_workload(struct scale *sc, const char *plural, const char *name)
{
	struct action_call *call = sc->call;
	int err;

	snprintf(sc->kind, sizeof(sc->kind), "%s",
		 strcmp(plural, "deployments") ? "statefulset" : "deployment");
	snprintf(sc->name, sizeof(sc->name), "%s", name);
	snprintf(call->target, sizeof(call->target), "%s %s/%s", sc->kind, call->ns, name);
	snprintf(sc->path, sizeof(sc->path), "/apis/apps/v1/namespaces/%s/%s/%s", call->ns, plural,
		 name);
	err = k8s_request(call->k8s, "GET", sc->path, NULL, NULL, on_workload, sc);
	if (err)
		scale_end(sc, ACTION_FAILED, "get workload: %s", strerror(-err));
}

static void on_replicaset(void *data, const struct k8s_response *resp)
{
	struct scale *sc = data;
	const json_t *owner;
	const char *kind, *name;

	if (!resp->ok) {
		scale_end(sc, resp->status == 404 ? ACTION_SKIPPED : ACTION_FAILED,
			  "get replicaset: %s (HTTP %ld)", resp->message, resp->status);
		return;
	}
	owner = action_controller_of(resp->body);
	kind = json_string_value(json_object_get(owner, "kind"));
	name = json_string_value(json_object_get(owner, "name"));
	if (!kind || strcmp(kind, "Deployment") || !k8s_valid_name(name)) {
		scale_end(sc, ACTION_SKIPPED, "its ReplicaSet is not owned by a Deployment");
		return;
	}
	get_workload(sc, "deployments", name);
}

static void on_pod(struct action_call *call, json_t *pod)
{
	const json_t *owner = action_controller_of(pod);
	const char *kind = json_string_value(json_object_get(owner, "kind"));
	const char *name = json_string_value(json_object_get(owner, "name"));
	struct scale *sc;
	char path[600];
	int err;

	snprintf(call->target, sizeof(call->target), "pod %s/%s", call->ns, call->pod);
	if (!kind || !k8s_valid_name(name)) {
		action_finish(call, ACTION_SKIPPED, "standalone pod: no controller to scale down");
		return;
	}
	if (strcmp(kind, "ReplicaSet") && strcmp(kind, "StatefulSet")) {
		action_finish(call, ACTION_SKIPPED,
			      "owned by %s %s: only Deployments and StatefulSets are scaled down",
			      kind, name);
		return;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		action_finish(call, ACTION_FAILED, "out of memory");
		return;
	}
	sc->call = call;
	if (!strcmp(kind, "StatefulSet")) {
		get_workload(sc, "statefulsets", name);
		return;
	}
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/replicasets/%s", call->ns, name);
	err = k8s_request(call->k8s, "GET", path, NULL, NULL, on_replicaset, sc);
	if (err)
		scale_end(sc, ACTION_FAILED, "get replicaset: %s", strerror(-err));
}

static void scale_start(struct action_call *call)
{
	int err = action_get_pod(call, on_pod);

	if (err)
		action_finish(call, ACTION_FAILED, "get pod: %s", strerror(-err));
}

static int scale_check(const json_t *params, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		if (strcmp(k, "reason")) {
			snprintf(err, errlen, "unknown parameter '%s' (known: reason)", k);
			return -EINVAL;
		}
	}
	return action_check_type(params, "reason", JSON_STRING, err, errlen);
}

const struct action_ops action_scale_down = {
	.name = "k8s.scale_down",
	.needs_k8s = true,
	.check = scale_check,
	.start = scale_start,
};
