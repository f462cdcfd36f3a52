/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_RESPONDER_H
#define LANNER_RESPONSE_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "outputs/sink.h"

/*
 * The responder: a sink that acts on alerts. Enabled by `response.enabled: true`; its options
 * live under response.* (response.policy_file, response.dry_run, response.kubeconfig,
 * response.context, response.namespace, response.protected_namespaces, ...).
 *
 * For each alert (except its own audit alerts, source "response") it runs, in order, the named
 * actions the alert's rule lists in `actions: [...]` (see responder_set_rule_actions) and the
 * actions of every matching policy of the policy file, and reports every decision as an audit
 * alert (source "response") through env->submit. It always reports SINK_OK: a failed action is
 * an audit alert, not a redelivery (redelivery would repeat actions that succeeded).
 */
extern const struct sink_ops responder_sink_ops;

/* The responder's settings, bound from response.* (also used by `lanner response`). */
struct responder_settings {
	bool enabled;
	const char *policy_file; /* NULL: only the rules' actions, with built-in defaults */
	bool dry_run; /* global: on top of the policy file's dry_run */
	const char *kubeconfig; /* NULL: in-cluster credentials */
	const char *context;
	const char *namespace; /* lanner's own namespace, always protected; NULL: from creds */
	int64_t timeout_ms; /* per API request */
	int64_t max_retries;
	const char *proc_root; /* "/proc" */
};
extern const struct config_option responder_options[];

/*
 * Rule -> named actions, from the rules' `actions:` key. The gateway calls this once per rule
 * that has actions, before the pipeline starts (names are copied; calling it again for a rule
 * replaces its list). A process-wide table: 0 or -ENOMEM. responder_clear_rule_actions() empties
 * it (tests, reload).
 */
int responder_set_rule_actions(const char *rule, const char *const *actions, size_t n);
void responder_clear_rule_actions(void);

/*
 * Decisions so far, process-wide: fn is called once per (action, outcome) pair with a count,
 * e.g. ("k8s.scale_down", "done", 3), for rendering as lanner_response_actions_total.
 */
typedef void (*responder_count_fn)(void *ctx, const char *action, const char *outcome, uint64_t n);
void responder_counters(responder_count_fn fn, void *ctx);

#endif
