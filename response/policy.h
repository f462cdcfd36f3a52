/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_POLICY_H
#define LANNER_RESPONSE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/priority.h"
#include "outputs/alert.h"
#include "response/action.h"

/*
 * The response policy file (YAML; documented in config/response-policy.example.yaml):
 *
 *   dry_run: true                      # global: nothing is changed, decisions are audited
 *   protected_namespaces: [kube-system]
 *   max_actions_per_minute: 60         # cap over every action (0 = no cap)
 *   cooldown: 10m                      # default per-target cooldown of every action
 *   actions:                           # named actions (rules' `actions: [...]` use these)
 *     - name: scale_down_deployment
 *       action: k8s.scale_down         # the actionner
 *       parameters: {}
 *       cooldown: 10m                  # one scale-down per Deployment per 10 minutes
 *       rate_limit: 30                 # at most 30 of this action per minute (0 = no limit)
 *       ignore_errors: false
 *       dry_run: false
 *   policies:
 *     - name: contain crypto miners
 *       match:                         # every criterion given must hold
 *         rules: [Detect crypto miners]
 *         priority: ">=Critical"       # =, !=, <, <=, >, >=; ">" is more severe
 *         source: syscall
 *         tags: [mitre_execution, "container,process"]  # any entry; "a,b" = all of a and b
 *         output_fields: ["k8s.ns.name!=kube-system", "k8s.ns.name in (shop, web)"]
 *       actions:                       # in order; a failure stops the rest unless
 *         - scale_down_deployment      # ignore_errors
 *         - action: k8s.label_pod
 *           parameters: {labels: {lanner.dev/quarantine: "true"}}
 *           ignore_errors: true
 *       continue: true                 # also try the next policies (default false)
 *       dry_run: false
 */

enum policy_cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOT_IN };

struct policy_step {
	char *name; /* named action, or the actionner for an inline step */
	const struct action_ops *ops;
	json_t *params; /* object */
	bool ignore_errors;
	int dry_run; /* -1 unset, else 0/1 */
	int64_t cooldown_ms; /* -1 = the file's default */
	int rate_limit; /* per minute, 0 = none */
	/* runtime: the current one-minute window of the rate limit */
	uint64_t window_start_ms;
	int window_count;
};

struct policy_cond {
	char *field;
	enum policy_cmp op;
	char **values;
	size_t n;
};

struct policy {
	char *name;
	char **rules;
	size_t n_rules;
	bool has_priority;
	enum policy_cmp prio_op;
	enum priority prio;
	char *source;
	char **tags; /* each "a,b": all of them */
	size_t n_tags;
	struct policy_cond *conds;
	size_t n_conds;
	size_t *steps; /* indices into policy_set.steps */
	size_t n_steps;
	bool cont;
	int dry_run; /* -1 unset */
};

struct policy_set {
	bool dry_run;
	char **protected_ns;
	size_t n_protected;
	int max_per_minute;
	int64_t cooldown_ms;
	struct policy_step *steps; /* named first (n_named), then inline ones */
	size_t n_steps, n_named;
	struct policy *policies;
	size_t n_policies;
};

/*
 * Load and check a policy file: every actionner known, every parameter checked, every named
 * reference resolved. NULL with "file: where: reason" in err (errno EINVAL/ENOENT/ENOMEM).
 */
struct policy_set *policy_set_load(const char *path, char *err, size_t errlen);
/* The same from a parsed document (borrowed); name is used in messages. */
struct policy_set *policy_set_from_json(const json_t *doc, const char *name, char *err,
					size_t errlen);
/* An empty set (no policies, no named actions, defaults). */
struct policy_set *policy_set_empty(void);
void policy_set_free(struct policy_set *ps);

/* True when the alert meets every criterion of p. */
bool policy_match(const struct policy *p, const struct alert *a);
/* The named action called name, or NULL. */
struct policy_step *policy_set_named(struct policy_set *ps, const char *name);

/* "10m", "30s", "1h", "250ms", or a bare number of seconds; -EINVAL otherwise. */
int policy_parse_duration(const char *s, int64_t *ms);
/* The text of an output field for comparisons: strings as is, numbers and booleans printed,
 * "" when absent or null. buf holds printed values. */
const char *policy_field_text(const struct alert *a, const char *field, char *buf, size_t len);

#endif
