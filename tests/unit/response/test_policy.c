// SPDX-License-Identifier: Apache-2.0
/* The response policy file: loading, references, errors with their place, and matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "response/policy.h"
#include "response/yaml_json.h"

static struct policy_set *load(const char *yaml, char *err, size_t len)
{
	json_t *doc = yaml_json_load_buffer("p.yaml", yaml, strlen(yaml), err, len);
	struct policy_set *ps;

	if (!doc)
		return NULL;
	ps = policy_set_from_json(doc, "p.yaml", err, len);
	json_decref(doc);
	return ps;
}

static struct alert *mk(const char *rule, enum priority p, const char *source, const char *ns,
			const char *tag1, const char *tag2)
{
	json_t *f = json_pack("{s:s, s:i}", "k8s.ns.name", ns, "proc.pid", 42);
	json_t *tags = json_array();
	struct alert *a;

	if (tag1)
		json_array_append_new(tags, json_string(tag1));
	if (tag2)
		json_array_append_new(tags, json_string(tag2));
	a = alert_new(&(struct alert_init){ .rule = rule,
					    .priority = p,
					    .source = source,
					    .time_ns = 1,
					    .output_fields = f,
					    .tags = tags });
	assert_non_null(a);
	return a;
}

static const char *const FILE1 =
	"dry_run: true\n"
	"protected_namespaces: [kube-system, infra]\n"
	"max_actions_per_minute: 30\n"
	"cooldown: 5m\n"
	"actions:\n"
	"  - name: scale_down_deployment\n"
	"    action: k8s.scale_down\n"
	"    cooldown: 10m\n"
	"    rate_limit: 5\n"
	"  - name: notify_security_team\n"
	"    action: notify\n"
	"    parameters: {outputs: [slack]}\n"
	"policies:\n"
	"  - name: miners\n"
	"    match:\n"
	"      rules: [Detect crypto miners, Other]\n"
	"      priority: \">=Critical\"\n"
	"      source: syscall\n"
	"      tags: [\"container,process\", mitre]\n"
	"      output_fields: [\"k8s.ns.name!=kube-system\", \"k8s.ns.name in (shop, web)\","
	" \"proc.pid=42\"]\n"
	"    actions:\n"
	"      - scale_down_deployment\n"
	"      - action: notify_security_team\n"
	"        parameters: {outputs: [webhook]}\n"
	"        ignore_errors: true\n"
	"    continue: true\n";

static void test_load_and_match(void **state)
{
	char err[512];
	struct policy_set *ps = load(FILE1, err, sizeof(err));
	struct policy *p;
	struct alert *a;

	(void)state;
	assert_non_null(ps);
	assert_true(ps->dry_run);
	assert_int_equal(ps->n_protected, 2);
	assert_int_equal(ps->max_per_minute, 30);
	assert_int_equal(ps->cooldown_ms, 300000);
	assert_int_equal(ps->n_named, 2);
	assert_int_equal(ps->n_steps, 3);
	assert_int_equal(ps->steps[0].cooldown_ms, 600000);
	assert_int_equal(ps->steps[0].rate_limit, 5);
	p = &ps->policies[0];
	assert_int_equal(p->n_steps, 2);
	assert_int_equal(p->steps[0], 0);
	/* the inline use of a named action gets its own parameters */
	assert_ptr_equal(ps->steps[p->steps[1]].ops, &action_notify);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(ps->steps[p->steps[1]].params, "outputs"), 0)),
			    "webhook");
	assert_true(ps->steps[p->steps[1]].ignore_errors);
	assert_true(p->cont);

	a = mk("Detect crypto miners", PRIORITY_CRITICAL, "syscall", "shop", "container",
	       "process");
	assert_true(policy_match(p, a));
	alert_unref(a);
	a = mk("Detect crypto miners", PRIORITY_EMERGENCY, "syscall", "web", "mitre", NULL);
	assert_true(policy_match(p, a));
	alert_unref(a);
	/* each criterion failing on its own */
	a = mk("Detect crypto miners", PRIORITY_ERROR, "syscall", "shop", "mitre", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	a = mk("Nope", PRIORITY_CRITICAL, "syscall", "shop", "mitre", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	a = mk("Other", PRIORITY_CRITICAL, "k8s_audit", "shop", "mitre", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	a = mk("Other", PRIORITY_CRITICAL, "syscall", "shop", "container", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	a = mk("Other", PRIORITY_CRITICAL, "syscall", "kube-system", "mitre", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	a = mk("Other", PRIORITY_CRITICAL, "syscall", "db", "mitre", NULL);
	assert_false(policy_match(p, a));
	alert_unref(a);
	policy_set_free(ps);
}

static void test_priority_comparators(void **state)
{
	static const struct {
		const char *spec;
		enum priority p;
		bool match;
	} cases[] = {
		{ ">=Critical", PRIORITY_CRITICAL, true }, { ">=Critical", PRIORITY_ERROR, false },
		{ ">Critical", PRIORITY_CRITICAL, false }, { ">Critical", PRIORITY_ALERT, true },
		{ "<Warning", PRIORITY_NOTICE, true },	   { "<=Warning", PRIORITY_ERROR, false },
		{ "=Warning", PRIORITY_WARNING, true },	   { "!=Warning", PRIORITY_WARNING, false },
		{ "warning", PRIORITY_WARNING, true },
	};
	char yaml[256], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_set *ps;
		struct alert *a;

		snprintf(yaml, sizeof(yaml),
			 "policies:\n  - match: {priority: \"%s\"}\n    actions: [{action: "
			 "k8s.label_pod}]\n",
			 cases[i].spec);
		ps = load(yaml, err, sizeof(err));
		assert_non_null(ps);
		a = mk("r", cases[i].p, "syscall", "shop", NULL, NULL);
		assert_int_equal(policy_match(&ps->policies[0], a), cases[i].match);
		alert_unref(a);
		policy_set_free(ps);
	}
}

static void test_errors_name_the_place(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
		{ "policies:\n  - name: x\n    actions: [nope]\n",
		  "p.yaml: policy 'x': actions[0]: no named action 'nope' (define it under "
		  "actions:)" },
		{ "policies:\n  - name: x\n    actions: [{action: k8s.scale}]\n",
		  "p.yaml: policy 'x': actions[0]: unknown action 'k8s.scale'" },
		{ "policies:\n  - name: x\n    match: {priority: \">=Huge\"}\n    actions: "
		  "[{action: notify, parameters: {outputs: [a]}}]\n",
		  "p.yaml: policy 'x': priority: unknown priority 'Huge'" },
		{ "actions:\n  - name: n\n    action: notify\n",
		  "p.yaml: actions[0]: notify: parameter 'outputs': a non-empty list of output "
		  "names" },
		{ "cooldown: soon\n",
		  "p.yaml: cooldown: expected a duration (250ms, 10s, 5m, 1h)" },
		{ "dryrun: true\n", "p.yaml: top level: unknown key 'dryrun'" },
		{ "policies:\n  - name: x\n    match: {output_fields: [\"k8s.ns.name ~ a\"]}\n"
		  "    actions: [{action: k8s.label_pod}]\n",
		  "p.yaml: policy 'x': condition 'k8s.ns.name ~ a': expected =, !=, in or not in" },
		{ "policies:\n  - name: x\n    actions: [{action: k8s.delete_pod, parameters: "
		  "{grace: 1}}]\n",
		  "p.yaml: policy 'x': actions[0]: k8s.delete_pod: unknown parameter 'grace'" },
		{ "policies: [\n", NULL },
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_set *ps = load(cases[i].yaml, err, sizeof(err));

		assert_null(ps);
		if (cases[i].msg)
			assert_string_equal(err, cases[i].msg);
		else
			assert_non_null(strstr(err, "p.yaml:"));
	}
}

static void test_durations_and_yaml_scalars(void **state)
{
	int64_t ms;
	char err[256];
	json_t *doc;

	(void)state;
	assert_int_equal(policy_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(policy_parse_duration("10", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(policy_parse_duration("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(policy_parse_duration("-1s", &ms), -EINVAL);
	assert_int_equal(policy_parse_duration("5 m", &ms), -EINVAL);
	doc = yaml_json_load_buffer("d", "a: 1\nb: \"1\"\nc: true\nd: ~\ne: [x, 'y']\n", 37, err,
				    sizeof(err));
	assert_non_null(doc);
	assert_true(json_is_integer(json_object_get(doc, "a")));
	assert_true(json_is_string(json_object_get(doc, "b")));
	assert_true(json_is_true(json_object_get(doc, "c")));
	assert_true(json_is_null(json_object_get(doc, "d")));
	assert_int_equal(json_array_size(json_object_get(doc, "e")), 2);
	json_decref(doc);
	assert_null(yaml_json_load_buffer("d", "a: &x 1\nb: *x\n", 14, err, sizeof(err)));
	assert_string_equal(err, "d:2:4: aliases are not supported");
}

/* The shipped example loads, ships dry run on, and wires the seed's named actions. */
static void test_shipped_example(void **state)
{
	char err[512];
	struct policy_set *ps = policy_set_load(
		TEST_DATA_DIR "/../../config/response-policy.example.yaml", err, sizeof(err));

	(void)state;
	if (!ps)
		fail_msg("%s", err);
	assert_true(ps->dry_run);
	assert_non_null(policy_set_named(ps, "scale_down_deployment"));
	assert_ptr_equal(policy_set_named(ps, "notify_security_team")->ops, &action_notify);
	assert_int_equal(ps->n_policies, 2);
	policy_set_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_match),
		cmocka_unit_test(test_priority_comparators),
		cmocka_unit_test(test_errors_name_the_place),
		cmocka_unit_test(test_durations_and_yaml_scalars),
		cmocka_unit_test(test_shipped_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
