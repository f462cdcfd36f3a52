// SPDX-License-Identifier: Apache-2.0
#include "response/responder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/log.h"
#include "response/action.h"
#include "response/k8s.h"
#include "response/policy.h"

#define RS(m) offsetof(struct responder_settings, m)

const struct config_option responder_options[] = {
	{ "enabled", CONFIG_BOOL, "false", RS(enabled), 0, 0, NULL, NULL,
	  "run response actions on matching alerts" },
	{ "policy_file", CONFIG_STRING, NULL, RS(policy_file), 0, 0, NULL, NULL,
	  "response policy file (YAML): named actions, policies, safety settings" },
	{ "dry_run", CONFIG_BOOL, "false", RS(dry_run), 0, 0, NULL, NULL,
	  "decide and audit, but change nothing (the policy file can also set it)" },
	{ "kubeconfig", CONFIG_STRING, NULL, RS(kubeconfig), 0, 0, NULL, NULL,
	  "kubeconfig for the Kubernetes API; unset: in-cluster service account" },
	{ "context", CONFIG_STRING, NULL, RS(context), 0, 0, NULL, NULL,
	  "kubeconfig context (default: current-context)" },
	{ "namespace", CONFIG_STRING, NULL, RS(namespace), 0, 0, NULL, NULL,
	  "lanner's own namespace, never acted on (default: the service account's)" },
	{ "timeout", CONFIG_DURATION, "10s", RS(timeout_ms), 100, 300000, NULL, NULL,
	  "timeout of one Kubernetes API request" },
	{ "max_retries", CONFIG_INT, "3", RS(max_retries), 0, 10, NULL, NULL,
	  "retries of a Kubernetes API request after 429, 5xx or a connection error" },
	{ "proc_root", CONFIG_STRING, "/proc", RS(proc_root), 0, 0, NULL, NULL,
	  "procfs mount used by process.kill" },
	{ NULL },
};

/* --- process-wide tables: rule actions, counters ------------------------------------------ */

struct rule_actions {
	char *rule;
	char **names;
	size_t n;
};

static struct rule_actions *rule_table;
static size_t rule_table_n;

#define N_OUTCOMES 4
static uint64_t counters[16][N_OUTCOMES];

static void rule_actions_free(struct rule_actions *ra)
{
	free(ra->rule);
	for (size_t i = 0; i < ra->n; i++)
		free(ra->names[i]);
	free(ra->names);
}

int responder_set_rule_actions(const char *rule, const char *const *actions, size_t n)
{
	struct rule_actions ra = { .n = n }, *slot = NULL;

	ra.rule = strdup(rule);
	ra.names = calloc(n ? n : 1, sizeof(char *));
	if (!ra.rule || !ra.names)
		goto err;
	for (size_t i = 0; i < n; i++)
		if (!(ra.names[i] = strdup(actions[i])))
			goto err;
	for (size_t i = 0; i < rule_table_n; i++)
		if (!strcmp(rule_table[i].rule, rule))
			slot = &rule_table[i];
	if (!slot) {
		struct rule_actions *t = realloc(rule_table, (rule_table_n + 1) * sizeof(*t));

		if (!t)
			goto err;
		rule_table = t;
		slot = &rule_table[rule_table_n++];
	} else {
		rule_actions_free(slot);
	}
	*slot = ra;
	return 0;
err:
	rule_actions_free(&ra);
	return -ENOMEM;
}

void responder_clear_rule_actions(void)
{
	for (size_t i = 0; i < rule_table_n; i++)
		rule_actions_free(&rule_table[i]);
	free(rule_table);
	rule_table = NULL;
	rule_table_n = 0;
}

static const struct rule_actions *rule_actions_of(const char *rule)
{
	for (size_t i = 0; i < rule_table_n; i++)
		if (!strcmp(rule_table[i].rule, rule))
			return &rule_table[i];
	return NULL;
}

static size_t action_index(const struct action_ops *ops)
{
	size_t i;

	if (!ops)
		return 15;
	for (i = 0; action_registry[i] && action_registry[i] != ops; i++)
		;
	return i < 15 ? i : 15; /* slot 15: decisions about no known action */
}

void responder_counters(responder_count_fn fn, void *ctx)
{
	for (size_t i = 0; action_registry[i]; i++)
		for (int o = 0; o < N_OUTCOMES; o++)
			fn(ctx, action_registry[i]->name, action_outcome_name(o), counters[i][o]);
	for (int o = 0; o < N_OUTCOMES; o++)
		if (counters[15][o])
			fn(ctx, "unknown", action_outcome_name(o), counters[15][o]);
}

/* --- the responder ------------------------------------------------------------------------ */

struct cooldown {
	char *key;
	uint64_t until_ms;
};

struct core {
	unsigned refs;
	bool closed;
	struct sink *sink;
	struct sink_env env;
	struct responder_settings set;
	struct k8s_client *k8s;
	char k8s_err[256];
	struct policy_set *ps;
	char *self_ns;
	struct cooldown *cd;
	size_t n_cd, cap_cd;
	uint64_t win_start_ms;
	int win_count;
	struct run *runs;
};

struct responder {
	struct sink base;
	struct core *core;
};

struct run_step {
	struct policy_step *st; /* NULL: unknown named action */
	const char *name; /* what the rule or policy asked for */
	const char *policy; /* "rule actions" or the policy's name */
	size_t group;
	bool dry_run;
};

struct run {
	struct core *core;
	struct alert *alert;
	void *token;
	bool abandoned;
	struct run_step *steps;
	size_t n, i;
	bool group_failed;
	size_t failed_group;
	const char *ns, *pod;
	struct action_call call;
	char cd_key[400]; /* cooldown taken by the current step */
	struct run *prev, *next;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void core_unref(struct core *c)
{
	if (--c->refs)
		return;
	for (size_t i = 0; i < c->n_cd; i++)
		free(c->cd[i].key);
	free(c->cd);
	policy_set_free(c->ps);
	free(c->self_ns);
	free(c);
}

static struct cooldown *cooldown_find(struct core *c, const char *key, uint64_t now)
{
	size_t w = 0;
	struct cooldown *hit = NULL;

	/* drop expired entries while looking */
	for (size_t i = 0; i < c->n_cd; i++) {
		if (c->cd[i].until_ms <= now) {
			free(c->cd[i].key);
			continue;
		}
		c->cd[w] = c->cd[i];
		if (!strcmp(c->cd[w].key, key))
			hit = &c->cd[w];
		w++;
	}
	c->n_cd = w;
	return hit;
}

bool action_cooldown_take(struct action_call *call, const char *key)
{
	struct run *r = call->owner;
	struct core *c = r->core;
	const struct run_step *rs = &r->steps[r->i - 1];
	int64_t win = rs->st->cooldown_ms >= 0 ? rs->st->cooldown_ms : c->ps->cooldown_ms;
	uint64_t now = now_ms();
	struct cooldown *hit;
	char full[400];

	if (win <= 0)
		return true;
	snprintf(full, sizeof(full), "%s|%s", call->ops->name, key);
	hit = cooldown_find(c, full, now);
	if (hit) {
		snprintf(call->detail, sizeof(call->detail),
			 "cooldown: %s was acted on by %s %llu s ago (window %lld s)", key,
			 call->ops->name,
			 (unsigned long long)((now - (hit->until_ms - (uint64_t)win)) / 1000),
			 (long long)(win / 1000));
		return false;
	}
	if (call->dry_run)
		return true;
	if (c->n_cd == c->cap_cd) {
		size_t cap = c->cap_cd ? c->cap_cd * 2 : 64;
		struct cooldown *t = realloc(c->cd, cap * sizeof(*t));

		if (!t)
			return true; /* no memory to remember: act rather than refuse */
		c->cd = t;
		c->cap_cd = cap;
	}
	c->cd[c->n_cd].key = strdup(full);
	if (!c->cd[c->n_cd].key)
		return true;
	c->cd[c->n_cd++].until_ms = now + (uint64_t)win;
	snprintf(r->cd_key, sizeof(r->cd_key), "%s", full);
	return true;
}

static void cooldown_release(struct core *c, const char *full)
{
	for (size_t i = 0; i < c->n_cd; i++) {
		if (!strcmp(c->cd[i].key, full)) {
			free(c->cd[i].key);
			c->cd[i] = c->cd[--c->n_cd];
			return;
		}
	}
}

/* --- audit -------------------------------------------------------------------------------- */

static enum priority outcome_priority(enum action_outcome o)
{
	switch (o) {
	case ACTION_DONE:
		return PRIORITY_NOTICE;
	case ACTION_FAILED:
		return PRIORITY_ERROR;
	default:
		return PRIORITY_INFORMATIONAL;
	}
}

static void audit(struct run *r, const struct run_step *rs, const struct action_ops *ops,
		  enum action_outcome o, const char *target, const char *detail)
{
	struct core *c = r->core;
	const char *aname = ops ? ops->name : rs->name;
	enum priority prio = outcome_priority(o);
	struct timespec ts;
	char rule[160], *text = NULL, *output = NULL;
	json_t *fields, *tags;
	struct alert *a;
	int64_t t;
	int rc;

	counters[action_index(ops)][o]++;
	log_msg(o == ACTION_FAILED ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
		"response: %s %s: %s%s%s (rule '%s', %s)", aname, action_outcome_name(o), target,
		*target ? ": " : "", detail, alert_rule(r->alert), rs->policy);
	if (c->closed || !c->env.submit)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(rule, sizeof(rule), "lanner response: %s %s", aname, action_outcome_name(o));
	fields = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "response.action",
			   aname, "response.name", rs->name, "response.outcome",
			   action_outcome_name(o), "response.target", target, "response.detail",
			   detail, "response.policy", rs->policy, "response.dry_run",
			   (int)rs->dry_run, "alert.rule", alert_rule(r->alert), "alert.uuid",
			   alert_uuid(r->alert), "alert.priority",
			   priority_name(alert_priority(r->alert)));
	tags = json_pack("[s, s]", "lanner", "response");
	if (fields && r->ns)
		json_object_set_new(fields, "k8s.ns.name", json_string(r->ns));
	if (fields && r->pod)
		json_object_set_new(fields, "k8s.pod.name", json_string(r->pod));
	if (asprintf(&text, "%s %s: %s%s%s (rule=%s policy=%s)", aname, action_outcome_name(o),
		     target, *target ? ": " : "", detail, alert_rule(r->alert), rs->policy) < 0)
		text = NULL;
	if (text)
		output = alert_compose_output(t, prio, text);
	if (!fields || !tags || !output) {
		json_decref(fields);
		json_decref(tags);
		goto out;
	}
	a = alert_new(&(struct alert_init){
		.rule = rule,
		.priority = prio,
		.source = "response",
		.output = output,
		.time_ns = t,
		.output_fields = fields,
		.tags = tags,
	});
	/* while the pipeline drains at shutdown it takes no new alerts: the log line above stays */
	if (!a)
		log_warn("response: cannot build the audit alert of %s", aname);
	else if ((rc = c->env.submit(c->env.ctx, a)) && rc != -ESHUTDOWN)
		log_warn("response: cannot submit the audit alert of %s: %s", aname, strerror(-rc));
out:
	free(text);
	free(output);
}

/* --- running the steps of one alert ------------------------------------------------------- */

static void run_next(struct run *r);

static void run_free(struct run *r)
{
	struct core *c = r->core;

	if (r->prev)
		r->prev->next = r->next;
	else if (c->runs == r)
		c->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (!r->abandoned && c->sink) {
		struct sink_status st = { .result = SINK_OK, .retry_after_ms = -1 };

		sink_done(c->sink, r->token, &st);
	}
	alert_unref(r->alert);
	free(r->steps);
	free(r);
	core_unref(c);
}

static void on_action_done(struct action_call *call, enum action_outcome o)
{
	struct run *r = call->owner;
	const struct run_step *rs = &r->steps[r->i - 1];

	if (r->abandoned) {
		run_next(r);
		return;
	}
	if (o == ACTION_FAILED && r->cd_key[0])
		cooldown_release(r->core, r->cd_key);
	if (o == ACTION_FAILED && !rs->st->ignore_errors) {
		r->group_failed = true;
		r->failed_group = rs->group;
	}
	audit(r, rs, call->ops, o, call->target, call->detail);
	run_next(r);
}

static bool is_protected(const struct core *c, const char *ns)
{
	if (!ns)
		return false;
	if (c->self_ns && *c->self_ns && !strcmp(ns, c->self_ns))
		return true;
	for (size_t i = 0; i < c->ps->n_protected; i++)
		if (!strcmp(ns, c->ps->protected_ns[i]))
			return true;
	return false;
}

/* Rate limits: per action definition and over all actions, in one-minute windows. */
static bool rate_take(struct core *c, struct policy_step *st, char *why, size_t len)
{
	uint64_t now = now_ms();

	if (now - st->window_start_ms >= 60000) {
		st->window_start_ms = now;
		st->window_count = 0;
	}
	if (now - c->win_start_ms >= 60000) {
		c->win_start_ms = now;
		c->win_count = 0;
	}
	if (st->rate_limit && st->window_count >= st->rate_limit) {
		snprintf(why, len, "rate limit: %s ran %d times this minute (rate_limit %d)",
			 st->name, st->window_count, st->rate_limit);
		return false;
	}
	if (c->ps->max_per_minute && c->win_count >= c->ps->max_per_minute) {
		snprintf(why, len, "rate limit: %d actions this minute (max_actions_per_minute)",
			 c->win_count);
		return false;
	}
	st->window_count++;
	c->win_count++;
	return true;
}

static void run_next(struct run *r)
{
	struct core *c = r->core;

	while (r->i < r->n) {
		struct run_step *rs = &r->steps[r->i++];
		const struct action_ops *ops = rs->st ? rs->st->ops : NULL;
		struct action_call *call = &r->call;
		char why[300];

		if (r->abandoned || c->closed)
			break;
		memset(call, 0, sizeof(*call));
		r->cd_key[0] = '\0';
		call->ops = ops;
		if (!rs->st) {
			audit(r, rs, NULL, ACTION_SKIPPED, "",
			      "no named action of this name in the policy file");
			continue;
		}
		if (r->group_failed && r->failed_group == rs->group) {
			audit(r, rs, ops, ACTION_SKIPPED, "", "an earlier action failed");
			continue;
		}
		if (is_protected(c, r->ns)) {
			snprintf(why, sizeof(why), "namespace %s is protected", r->ns);
			audit(r, rs, ops, ACTION_SKIPPED, r->pod ? r->pod : "", why);
			continue;
		}
		if (ops->needs_k8s && (!r->ns || !r->pod)) {
			audit(r, rs, ops, ACTION_SKIPPED, "",
			      "the alert names no pod (k8s.pod.name/k8s.ns.name or ka.target.*)");
			continue;
		}
		if (ops->needs_k8s && (!k8s_valid_name(r->ns) || !k8s_valid_name(r->pod))) {
			audit(r, rs, ops, ACTION_SKIPPED, "",
			      "the alert's pod or namespace is not a valid Kubernetes name");
			continue;
		}
		if (ops->needs_k8s && !c->k8s) {
			snprintf(why, sizeof(why), "no Kubernetes access: %s", c->k8s_err);
			audit(r, rs, ops, ACTION_FAILED, "", why);
			continue;
		}
		if (!rs->dry_run && !rate_take(c, rs->st, why, sizeof(why))) {
			audit(r, rs, ops, ACTION_SKIPPED, "", why);
			continue;
		}
		call->k8s = c->k8s;
		call->env = &c->env;
		call->alert = r->alert;
		call->params = rs->st->params;
		call->ns = r->ns;
		call->pod = r->pod;
		call->dry_run = rs->dry_run;
		call->self_pid = getpid();
		call->proc_root = c->set.proc_root ? c->set.proc_root : "/proc";
		call->done = on_action_done;
		call->owner = r;
		ops->start(call);
		return; /* on_action_done continues */
	}
	run_free(r);
}

static int add_step(struct run *r, size_t *cap, struct policy_step *st, const char *name,
		    const char *policy, size_t group, bool dry_run)
{
	if (r->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct run_step *t = realloc(r->steps, ncap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		r->steps = t;
		*cap = ncap;
	}
	r->steps[r->n++] = (struct run_step){
		.st = st, .name = name, .policy = policy, .group = group, .dry_run = dry_run
	};
	return 0;
}

static int plan(struct core *c, struct run *r)
{
	const struct rule_actions *ra = rule_actions_of(alert_rule(r->alert));
	bool global_dry = c->set.dry_run || c->ps->dry_run;
	size_t cap = 0;
	int err = 0;

	/* the rule's own actions: group 0 */
	for (size_t i = 0; ra && !err && i < ra->n; i++) {
		struct policy_step *st = policy_set_named(c->ps, ra->names[i]);

		err = add_step(r, &cap, st, ra->names[i], "rule actions", 0,
			       global_dry || (st && st->dry_run == 1));
	}
	for (size_t p = 0; !err && p < c->ps->n_policies; p++) {
		struct policy *pol = &c->ps->policies[p];

		if (!policy_match(pol, r->alert))
			continue;
		for (size_t i = 0; !err && i < pol->n_steps; i++) {
			struct policy_step *st = &c->ps->steps[pol->steps[i]];

			err = add_step(r, &cap, st, st->name, pol->name, p + 1,
				       global_dry || pol->dry_run == 1 || st->dry_run == 1);
		}
		if (!pol->cont)
			break;
	}
	return err;
}

static const char *target_field(const struct alert *a, const char *first, const char *second)
{
	const char *v = action_alert_field(a, first);

	return v ? v : (second ? action_alert_field(a, second) : NULL);
}

static int responder_send(struct sink *s, struct alert *a, void *token)
{
	struct responder *rp = (struct responder *)s;
	struct core *c = rp->core;
	struct sink_status ok = { .result = SINK_OK, .retry_after_ms = -1 };
	struct run *r;
	int err;

	/* our own audit trail comes back through the pipeline: never act on it */
	if (!strcmp(alert_source(a), "response")) {
		sink_done(s, token, &ok);
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->core = c;
	r->alert = alert_ref(a);
	r->token = token;
	r->ns = target_field(a, "k8s.ns.name", "ka.target.namespace");
	r->pod = target_field(a, "k8s.pod.name", "ka.target.pod.name");
	if (!r->pod) {
		const char *res = action_alert_field(a, "ka.target.resource");

		if (res && !strcmp(res, "pods"))
			r->pod = action_alert_field(a, "ka.target.name");
	}
	err = plan(c, r);
	if (err) {
		alert_unref(r->alert);
		free(r->steps);
		free(r);
		return err;
	}
	c->refs++;
	r->next = c->runs;
	if (c->runs)
		c->runs->prev = r;
	c->runs = r;
	run_next(r);
	return 0;
}

static int responder_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct responder *rp = (struct responder *)s;
	struct core *c = calloc(1, sizeof(*c));
	char err[512];
	int rc;

	if (!c)
		return -ENOMEM;
	c->refs = 1;
	c->sink = s;
	c->env = *env;
	rc = config_bind(cfg, s->name, responder_options, &c->set);
	if (rc)
		goto err;
	if (c->set.policy_file) {
		c->ps = policy_set_load(c->set.policy_file, err, sizeof(err));
		if (!c->ps) {
			rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
			fprintf(stderr, "response: %s\n", err);
			goto err;
		}
	} else if (!(c->ps = policy_set_empty())) {
		rc = -ENOMEM;
		goto err;
	}
	if ((c->set.kubeconfig && *c->set.kubeconfig) || getenv("KUBERNETES_SERVICE_HOST")) {
		struct k8s_settings ks = {
			.kubeconfig = c->set.kubeconfig,
			.context = c->set.context,
			.timeout_ms = (long)c->set.timeout_ms,
			.max_retries = (int)c->set.max_retries,
		};

		c->k8s = k8s_client_new(env->loop, env->http, &ks, c->k8s_err, sizeof(c->k8s_err));
		if (!c->k8s) {
			rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
			fprintf(stderr, "response: Kubernetes API: %s\n", c->k8s_err);
			goto err;
		}
	} else {
		snprintf(c->k8s_err, sizeof(c->k8s_err),
			 "set response.kubeconfig, or run in a cluster");
	}
	c->self_ns = strdup(c->set.namespace ? c->set.namespace :
			    c->k8s	     ? k8s_client_namespace(c->k8s) :
					       "");
	if (!c->self_ns) {
		rc = -ENOMEM;
		goto err;
	}
	rp->core = c;
	log_info("response: %zu named actions, %zu policies%s%s%s", c->ps->n_named,
		 c->ps->n_policies, c->set.dry_run || c->ps->dry_run ? ", dry run" : "",
		 c->k8s ? ", Kubernetes API " : "", c->k8s ? k8s_client_server(c->k8s) : "");
	return 0;
err:
	c->closed = true;
	k8s_client_free(c->k8s);
	core_unref(c);
	return rc;
}

static void responder_close(struct sink *s)
{
	struct responder *rp = (struct responder *)s;
	struct core *c = rp->core;
	struct sink_status st;

	sink_status_set(&st, SINK_RETRY, "shutting down");
	st.retry_after_ms = -1;
	for (struct run *r = c->runs; r; r = r->next) {
		if (!r->abandoned)
			sink_done(s, r->token, &st);
		r->abandoned = true;
	}
	c->closed = true;
	c->sink = NULL;
	/* requests waiting to be retried end now; runs free themselves as their calls return */
	k8s_client_free(c->k8s);
	c->k8s = NULL;
	core_unref(c);
}

const struct sink_ops responder_sink_ops = {
	.name = "response",
	.size = sizeof(struct responder),
	.options = responder_options,
	.enable_key = "response.enabled",
	.init = responder_init,
	.send = responder_send,
	.close = responder_close,
};
