// SPDX-License-Identifier: Apache-2.0
/*
 * notify: send the alert to named outputs (the seed's notify_security_team), through the
 * pipeline's queue of each one, bypassing their minimumpriority. Parameter: outputs, a list of
 * output names ("slack", "webhook"). Notifying changes nothing, so dry run does not hold it back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "response/action.h"

static void notify_start(struct action_call *call)
{
	const json_t *outs = json_object_get(call->params, "outputs"), *o;
	char sent[400] = "", missing[400] = "";
	size_t i;

	json_array_foreach(outs, i, o) {
		const char *name = json_string_value(o);
		int err = call->env && call->env->deliver_to ?
				  call->env->deliver_to(call->env->ctx, call->alert, name) :
				  -ENOSYS;
		char *buf = err ? missing : sent;
		size_t len = strlen(buf);

		snprintf(buf + len, 400 - len, "%s%s%s%s", len ? ", " : "", name,
			 err && err != -ENOENT ? ": " : "",
			 err && err != -ENOENT ? strerror(-err) : "");
	}
	snprintf(call->target, sizeof(call->target), "outputs %s", sent[0] ? sent : "-");
	if (missing[0])
		action_finish(call, ACTION_FAILED,
			      "not delivered to %s (no such output running)%s%s", missing,
			      sent[0] ? "; queued for " : "", sent);
	else
		action_finish(call, ACTION_DONE, "queued for %s", sent);
}

static int notify_check(const json_t *params, char *err, size_t errlen)
{
	const json_t *outs = json_object_get(params, "outputs"), *o;
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)params, k, v) {
		if (strcmp(k, "outputs")) {
			snprintf(err, errlen, "unknown parameter '%s' (known: outputs)", k);
			return -EINVAL;
		}
	}
	if (!json_is_array(outs) || !json_array_size(outs)) {
		snprintf(err, errlen, "parameter 'outputs': a non-empty list of output names");
		return -EINVAL;
	}
	json_array_foreach(outs, i, o) {
		if (!json_is_string(o)) {
			snprintf(err, errlen, "parameter 'outputs': names must be strings");
			return -EINVAL;
		}
	}
	return 0;
}

const struct action_ops action_notify = {
	.name = "notify",
	.needs_k8s = false,
	.check = notify_check,
	.start = notify_start,
};
