/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_ACTION_H
#define LANNER_RESPONSE_ACTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "outputs/alert.h"
#include "outputs/sink.h"
#include "response/k8s.h"

/*
 * One response action ("actionner"): a const struct action_ops per file (action_*.c), listed
 * in action_registry[]. The responder hands each invocation a struct action_call; the action
 * reads the alert and its parameters, acts (or, in dry run, only reads and describes), writes
 * `target` and `detail`, and calls action_finish() exactly once, possibly from inside start().
 * Alert data reaches the API only as JSON values and path segments checked by k8s_valid_name().
 */

enum action_outcome {
	ACTION_DONE,
	ACTION_DRY_RUN, /* nothing changed; detail says what would have been done */
	ACTION_SKIPPED, /* a safety rule or the target's state said no; detail says why */
	ACTION_FAILED, /* detail carries the API's (or the system's) message */
};

const char *action_outcome_name(enum action_outcome o); /* "done", "dry-run", ... */

struct action_call;

struct action_ops {
	const char *name; /* "k8s.scale_down" */
	bool needs_k8s; /* needs the Kubernetes client, and a namespace + pod target */
	/* Check parameters when the policy is loaded: 0, or -EINVAL with a reason in err. */
	int (*check)(const json_t *params, char *err, size_t errlen);
	void (*start)(struct action_call *call);
};

struct action_call {
	const struct action_ops *ops;
	struct k8s_client *k8s; /* NULL when no Kubernetes access is configured */
	const struct sink_env *env;
	struct alert *alert; /* frozen, borrowed for the call */
	const json_t *params; /* object, borrowed */
	const char *ns, *pod; /* target from the alert (validated names), or NULL */
	bool dry_run;
	pid_t self_pid; /* lanner's own pid, never killed */
	const char *proc_root; /* "/proc" (tests may point elsewhere) */
	/* Results, for the audit alert */
	char target[320]; /* "deployment shop/web" */
	char detail[512];
	/* Set by the responder */
	void (*done)(struct action_call *call, enum action_outcome o);
	void *owner;
	void *state; /* the action's own, freed by the action before it finishes */
};

/*
 * Per-target cooldown: true (and the window starts now) when `key` ("deployment shop/web") has
 * not been acted on by this action within its cooldown; false when it has, with detail filled.
 * In dry run it only looks.
 */
bool action_cooldown_take(struct action_call *call, const char *key);

/* Fill detail from fmt and report the outcome. */
void action_finish(struct action_call *call, enum action_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parameter helpers: the value, or def when absent; -EINVAL for a wrong type. */
bool action_param_bool(const json_t *params, const char *key, bool def);
long long action_param_int(const json_t *params, const char *key, long long def);
const char *action_param_str(const json_t *params, const char *key, const char *def);
/* check helper: a missing key is fine; a present one must have the JSON type. */
int action_check_type(const json_t *params, const char *key, json_type t, char *err, size_t errlen);
/* check helper: an object of string values (labels, annotations); optional */
int action_check_string_map(const json_t *params, const char *key, char *err, size_t errlen);

/* An output-field string of the alert: NULL when absent, null, "" or "<NA>". */
const char *action_alert_field(const struct alert *a, const char *key);

extern const struct action_ops action_scale_down;
extern const struct action_ops action_delete_pod;
extern const struct action_ops action_label_pod;
extern const struct action_ops action_annotate_pod;
extern const struct action_ops action_isolate_pod;
extern const struct action_ops action_process_kill;
extern const struct action_ops action_notify;

/* Every action, NULL-terminated; and lookup by name. */
extern const struct action_ops *const action_registry[];
const struct action_ops *action_find(const char *name);

/*
 * Shared by the pod actions: GET the pod (call->ns, call->pod) and hand it to cb (NULL with the
 * failure already finished when it is gone or unreadable). The pod JSON is borrowed for cb.
 */
typedef void (*action_pod_fn)(struct action_call *call, json_t *pod);
int action_get_pod(struct action_call *call, action_pod_fn cb);

/* The controller ownerReference of obj ({kind,name,...}), or NULL. Borrowed. */
const json_t *action_controller_of(const json_t *obj);

#endif
