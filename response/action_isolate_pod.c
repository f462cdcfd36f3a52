// SPDX-License-Identifier: Apache-2.0
/*
 * k8s.isolate_pod: a NetworkPolicy in the pod's namespace that selects the quarantine label and
 * denies all ingress and egress (optionally allowing DNS to kube-dns and listed CIDRs), created
 * first, then the label on the pod, so the pod is cut off the moment it carries the label.
 * Parameters: label ("key=value", default lanner.dev/quarantine=true), policy_name (default
 * lanner-quarantine), allow_dns (false), allow_cidrs ([]).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response/action.h"

#define DEFAULT_LABEL "lanner.dev/quarantine=true"
#define DEFAULT_POLICY "lanner-quarantine"

struct iso {
	struct action_call *call;
	char key[256], value[64];
	bool existed;
};

static void iso_end(struct iso *s, enum action_outcome o, const char *what,
		    const struct k8s_response *resp)
{
	struct action_call *call = s->call;

	free(s);
	if (resp)
		action_finish(call, o, "%s: %s (HTTP %ld)", what, resp->message, resp->status);
	else
		action_finish(call, o, "%s", what);
}

static int split_label(const char *label, char *key, size_t klen, char *value, size_t vlen)
{
	const char *eq = strchr(label, '=');

	if (!eq || eq == label || (size_t)(eq - label) >= klen || strlen(eq + 1) >= vlen)
		return -EINVAL;
	snprintf(key, klen, "%.*s", (int)(eq - label), label);
	snprintf(value, vlen, "%s", eq + 1);
	return 0;
}

/* The NetworkPolicy, exactly: deny all, plus the allowed egress. New reference or NULL. */
static json_t *build_policy(const struct action_call *call, const char *key, const char *value)
{
	const char *name = action_param_str(call->params, "policy_name", DEFAULT_POLICY);
	const json_t *cidrs = json_object_get(call->params, "allow_cidrs"), *c;
	json_t *egress = json_array(), *np;
	size_t i;

	if (!egress)
		return NULL;
	if (action_param_bool(call->params, "allow_dns", false))
		json_array_append_new(
			egress, json_pack("{s:[{s:{}, s:{s:{s:s}}}], s:[{s:s, s:i}, {s:s, s:i}]}",
					  "to", "namespaceSelector", "podSelector", "matchLabels",
					  "k8s-app", "kube-dns", "ports", "protocol", "UDP", "port",
					  53, "protocol", "TCP", "port", 53));
	json_array_foreach(cidrs, i, c)
		json_array_append_new(egress,
				      json_pack("{s:[{s:{s:O}}]}", "to", "ipBlock", "cidr", c));
	np = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s, s:s}}, "
		       "s:{s:{s:{s:s}}, s:[s, s], s:[], s:o}}",
		       "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
		       "name", name, "namespace", call->ns, "labels",
		       "app.kubernetes.io/managed-by", "lanner", "annotations",
		       "lanner.dev/alert-rule", alert_rule(call->alert), "lanner.dev/alert-uuid",
		       alert_uuid(call->alert), "spec", "podSelector", "matchLabels", key, value,
		       "policyTypes", "Ingress", "Egress", "ingress", "egress", egress);
	return np;
}

static void on_labelled(void *data, const struct k8s_response *resp)
{
	struct iso *s = data;
	struct action_call *call = s->call;
	const char *name = action_param_str(call->params, "policy_name", DEFAULT_POLICY);
	char msg[400];

	if (!resp->ok) {
		iso_end(s, ACTION_FAILED, "label pod", resp);
		return;
	}
	snprintf(msg, sizeof(msg), "isolated: NetworkPolicy %s/%s %s, pod labelled %s=%s", call->ns,
		 name, s->existed ? "already present" : "created", s->key, s->value);
	iso_end(s, ACTION_DONE, msg, NULL);
}

static void on_policy(void *data, const struct k8s_response *resp)
{
	struct iso *s = data;
	struct action_call *call = s->call;
	char path[600];
	json_t *body;
	int err;

	if (resp->status == 409 && !strcmp(resp->reason, "AlreadyExists")) {
		s->existed = true;
	} else if (!resp->ok) {
		iso_end(s, ACTION_FAILED, "create NetworkPolicy", resp);
		return;
	}
	body = json_pack("{s:{s:{s:s}}}", "metadata", "labels", s->key, s->value);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", call->ns, call->pod);
	err = body ? k8s_request(call->k8s, "PATCH", path, "application/merge-patch+json", body,
				 on_labelled, s) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		iso_end(s, ACTION_FAILED, strerror(-err), NULL);
}

static void on_pod(struct action_call *call, json_t *pod)
{
	const char *name = action_param_str(call->params, "policy_name", DEFAULT_POLICY);
	struct iso *s = calloc(1, sizeof(*s));
	char path[600];
	json_t *np;
	int err;

	(void)pod;
	if (!s) {
		action_finish(call, ACTION_FAILED, "out of memory");
		return;
	}
	s->call = call;
	split_label(action_param_str(call->params, "label", DEFAULT_LABEL), s->key, sizeof(s->key),
		    s->value, sizeof(s->value));
	if (!action_cooldown_take(call, call->target)) {
		free(s);
		call->done(call, ACTION_SKIPPED);
		return;
	}
	if (call->dry_run) {
		char msg[500];

		snprintf(msg, sizeof(msg),
			 "would create NetworkPolicy %s/%s denying all ingress and egress of pods "
			 "labelled %s=%s%s, and label the pod",
			 call->ns, name, s->key, s->value,
			 action_param_bool(call->params, "allow_dns", false) ? " (DNS allowed)" :
									       "");
		iso_end(s, ACTION_DRY_RUN, msg, NULL);
		return;
	}
	np = build_policy(call, s->key, s->value);
	snprintf(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies",
		 call->ns);
	err = np ? k8s_request(call->k8s, "POST", path, NULL, np, on_policy, s) : -ENOMEM;
	json_decref(np);
	if (err)
		iso_end(s, ACTION_FAILED, strerror(-err), NULL);
}

static void isolate_start(struct action_call *call)
{
	int err;

	snprintf(call->target, sizeof(call->target), "pod %s/%s", call->ns, call->pod);
	err = action_get_pod(call, on_pod);
	if (err)
		action_finish(call, ACTION_FAILED, "get pod: %s", strerror(-err));
}

static int isolate_check(const json_t *params, char *err, size_t errlen)
{
	static const char *const known[] = { "label", "policy_name", "allow_dns", "allow_cidrs",
					     NULL };
	const json_t *cidrs = json_object_get(params, "allow_cidrs"), *c;
	char key[256], value[64];
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)params, k, v) {
		bool ok = false;

		for (i = 0; known[i]; i++)
			ok = ok || !strcmp(k, known[i]);
		if (!ok) {
			snprintf(err, errlen, "unknown parameter '%s'", k);
			return -EINVAL;
		}
	}
	if (action_check_type(params, "label", JSON_STRING, err, errlen) ||
	    action_check_type(params, "policy_name", JSON_STRING, err, errlen) ||
	    action_check_type(params, "allow_dns", JSON_TRUE, err, errlen) ||
	    action_check_type(params, "allow_cidrs", JSON_ARRAY, err, errlen))
		return -EINVAL;
	if (split_label(action_param_str(params, "label", DEFAULT_LABEL), key, sizeof(key), value,
			sizeof(value))) {
		snprintf(err, errlen, "parameter 'label': expected key=value");
		return -EINVAL;
	}
	if (!k8s_valid_name(action_param_str(params, "policy_name", DEFAULT_POLICY))) {
		snprintf(err, errlen, "parameter 'policy_name': not a valid Kubernetes name");
		return -EINVAL;
	}
	json_array_foreach(cidrs, i, c) {
		if (!json_is_string(c) || !strchr(json_string_value(c), '/')) {
			snprintf(err, errlen,
				 "parameter 'allow_cidrs': expected CIDRs (10.0.0.0/8)");
			return -EINVAL;
		}
	}
	return 0;
}

const struct action_ops action_isolate_pod = {
	.name = "k8s.isolate_pod",
	.needs_k8s = true,
	.check = isolate_check,
	.start = isolate_start,
};
