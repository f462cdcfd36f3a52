// SPDX-License-Identifier: Apache-2.0
/*
 * The responder sink end to end against the local HTTPS Kubernetes API stand-in: scale-down and
 * restore, dry run, protected namespaces, API errors, cooldown, isolation, delete, label,
 * notify, the rules' own actions, retries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "respond.h"
#include "response/restore.h"

#define WEB_POD "web-5d4f8c7b9-abcde"
#define DEPLOY_WEB "/apis/apps/v1/namespaces/shop/deployments/web"

struct fx {
	struct standin k;
	struct rt t;
	char yaml[2048];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || standin_start(&f->k, 0))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	standin_stop(&f->k);
	free(f);
	return 0;
}

/* Start the responder with a policy file (text) and extra response.* YAML. */
static void start(struct fx *f, const char *policy, const char *extra)
{
	const char *pf = rt_write(&f->t, f->k.dir, "policy.yaml", policy);
	char path[160];

	assert_non_null(pf);
	snprintf(path, sizeof(path), "%s", pf);
	snprintf(f->yaml, sizeof(f->yaml),
		 "response:\n  enabled: true\n  kubeconfig: %s\n  policy_file: %s\n%s",
		 f->k.kubeconfig, path, extra ? extra : "");
	assert_int_equal(rt_start(&f->t, f->yaml), 0);
}

static const char *const SCALE_POLICY = "cooldown: 10m\n"
					"policies:\n"
					"  - name: contain\n"
					"    match:\n"
					"      priority: \">=Critical\"\n"
					"      output_fields: [\"k8s.ns.name!=kube-system\"]\n"
					"    actions: [{action: k8s.scale_down}]\n";

static struct alert *web_alert(void)
{
	return rt_alert("Crypto miner", PRIORITY_CRITICAL, "syscall", "k8s.ns.name", "shop",
			"k8s.pod.name", WEB_POD, NULL);
}

static long long replicas_of(struct fx *f, const char *kind, const char *ns, const char *name)
{
	json_t *o = standin_get(&f->k, kind, ns, name);
	long long n = json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas"));

	json_decref(o);
	return n;
}

static const char *annotation(json_t *o, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(o, "metadata"), "annotations"), key));
}

struct restored {
	int calls, err;
	char msg[600];
};

static void on_restored(void *data, int err, const char *msg)
{
	struct restored *r = data;

	r->calls++;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void test_scale_down_and_restore(void **state)
{
	struct fx *f = *state;
	struct k8s_settings ks = { .kubeconfig = f->k.kubeconfig, .max_retries = -1 };
	struct restored r = { 0 };
	struct k8s_client *c;
	char err[256];
	json_t *d;

	start(f, SCALE_POLICY, NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_int_equal(f->t.last, SINK_OK);
	assert_int_equal(json_array_size(f->t.audits), 1);
	assert_string_equal(rt_audit(&f->t, 0, "rule"), "lanner response: k8s.scale_down done");
	assert_string_equal(rt_audit(&f->t, 0, "source"), "response");
	assert_string_equal(rt_audit(&f->t, 0, "response.target"), "deployment shop/web");
	assert_string_equal(rt_audit(&f->t, 0, "response.detail"), "scaled from 3 to 0 replicas");
	assert_string_equal(rt_audit(&f->t, 0, "alert.rule"), "Crypto miner");

	d = standin_get(&f->k, "Deployment", "shop", "web");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 0);
	assert_string_equal(annotation(d, RESTORE_ANN_FROM), "3");
	assert_string_equal(annotation(d, RESTORE_ANN_REASON), "Crypto miner");
	assert_non_null(annotation(d, RESTORE_ANN_AT));
	json_decref(d);
	/* the scale went through the /scale subresource as a merge patch */
	assert_int_equal(standin_count(&f->k, "PATCH", DEPLOY_WEB "/scale"), 1);

	/* restore: back to 3, annotations gone */
	c = k8s_client_new(&f->t.loop, f->t.http, &ks, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(response_restore(c, "shop", NULL, "web", on_restored, &r), 0);
	while (!r.calls)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.msg, "deployment shop/web: restored to 3 replicas");
	d = standin_get(&f->k, "Deployment", "shop", "web");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 3);
	assert_null(annotation(d, RESTORE_ANN_FROM));
	assert_null(annotation(d, RESTORE_ANN_AT));
	json_decref(d);

	/* restoring again is refused: lanner's annotation is gone */
	r.calls = 0;
	assert_int_equal(response_restore(c, "shop", NULL, "web", on_restored, &r), 0);
	while (!r.calls)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_int_equal(r.err, -ENOENT);
	assert_non_null(strstr(r.msg, "was not scaled down by lanner"));
	assert_int_equal(response_restore(c, "shop", NULL, "../x", on_restored, &r), -EINVAL);
	k8s_client_free(c);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_statefulset_scale_down_and_restore(void **state)
{
	struct fx *f = *state;
	struct k8s_settings ks = { .kubeconfig = f->k.kubeconfig, .max_retries = -1 };
	struct restored r = { 0 };
	struct k8s_client *c;
	char err[256];
	json_t *o;

	start(f, SCALE_POLICY, NULL);
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_ALERT, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "db-0", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.target"), "statefulset shop/db");
	assert_string_equal(rt_audit(&f->t, 0, "response.detail"), "scaled from 1 to 0 replicas");
	assert_int_equal(replicas_of(f, "StatefulSet", "shop", "db"), 0);
	/* pods of a DaemonSet or standalone ones have nothing to scale */
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_ALERT, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "agent-x1", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "skipped");
	assert_non_null(strstr(rt_audit(&f->t, 1, "response.detail"), "owned by DaemonSet agent"));
	c = k8s_client_new(&f->t.loop, f->t.http, &ks, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(response_restore(c, "shop", "statefulset", "db", on_restored, &r), 0);
	while (!r.calls)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_int_equal(r.err, 0);
	o = standin_get(&f->k, "StatefulSet", "shop", "db");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")), 1);
	json_decref(o);
	k8s_client_free(c);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_second_alert_in_cooldown_does_not_act(void **state)
{
	struct fx *f = *state;

	start(f, SCALE_POLICY, NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	/* a second alert within the window must not act again */
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_int_equal(json_array_size(f->t.audits), 2);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "skipped");
	assert_non_null(strstr(rt_audit(&f->t, 1, "response.detail"), "cooldown"));
	assert_int_equal(standin_count(&f->k, "PATCH", DEPLOY_WEB "/scale"), 1);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	char policy[1024];

	snprintf(policy, sizeof(policy), "dry_run: true\n%s", SCALE_POLICY);
	start(f, policy, NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "rule"), "lanner response: k8s.scale_down dry-run");
	assert_string_equal(rt_audit(&f->t, 0, "response.detail"),
			    "would scale from 3 to 0 replicas");
	assert_string_equal(rt_audit(&f->t, 0, "priority"), "Informational");
	assert_int_equal(replicas_of(f, "Deployment", "shop", "web"), 3);
	assert_int_equal(standin_count(&f->k, "PATCH", DEPLOY_WEB), 0);
	assert_int_equal(standin_count(&f->k, "PATCH", DEPLOY_WEB "/scale"), 0);
	assert_int_equal(rt_stop(&f->t), 0);

	/* the global response.dry_run does the same with a policy that does not ask for it */
	start(f, SCALE_POLICY, "  dry_run: true\n");
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.outcome"), "dry-run");
	assert_int_equal(replicas_of(f, "Deployment", "shop", "web"), 3);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_protected_namespace_never_touched(void **state)
{
	struct fx *f = *state;

	/* a policy that does not exclude kube-system still cannot act there */
	start(f,
	      "policies:\n  - name: all\n    actions: [{action: k8s.scale_down}, "
	      "{action: k8s.delete_pod, parameters: {allow_standalone: true}}]\n    continue: "
	      "true\n",
	      "  namespace: lanner\n");
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "kube-system", "k8s.pod.name",
						 "coredns-5d4f8c7b9-kube1", NULL)),
			 0);
	assert_int_equal(json_array_size(f->t.audits), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(rt_audit(&f->t, i, "response.outcome"), "skipped");
		assert_string_equal(rt_audit(&f->t, i, "response.detail"),
				    "namespace kube-system is protected");
	}
	/* lanner's own namespace too */
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "lanner", "k8s.pod.name", "lanner-0", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 2, "response.detail"), "namespace lanner is protected");
	assert_int_equal(replicas_of(f, "Deployment", "kube-system", "coredns"), 2);
	assert_int_equal(
		standin_count(&f->k, "GET",
			      "/api/v1/namespaces/kube-system/pods/coredns-5d4f8c7b9-kube1"),
		0);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_forbidden_is_a_failed_audit_with_the_api_message(void **state)
{
	struct fx *f = *state;

	assert_int_equal(standin_inject(&f->k, 403, "PATCH", DEPLOY_WEB "/scale", 1), 0);
	start(f, SCALE_POLICY, NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "rule"), "lanner response: k8s.scale_down failed");
	assert_string_equal(rt_audit(&f->t, 0, "priority"), "Error");
	assert_string_equal(
		rt_audit(&f->t, 0, "response.detail"),
		"patch scale: deployments.apps \"web\" is forbidden: User "
		"\"system:serviceaccount:lanner:lanner\" cannot patch resource "
		"\"deployments/scale\" in API group \"apps\" in the namespace \"shop\" (HTTP 403)");
	/* a 403 is final: one attempt */
	assert_int_equal(standin_count(&f->k, "PATCH", DEPLOY_WEB "/scale"), 1);
	/* a failure does not hold the cooldown: the next alert acts */
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "done");
	assert_int_equal(replicas_of(f, "Deployment", "shop", "web"), 0);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_retries_5xx_not_404(void **state)
{
	struct fx *f = *state;

	assert_int_equal(standin_inject(&f->k, 503, "GET", DEPLOY_WEB, 2), 0);
	start(f, SCALE_POLICY, "  max_retries: 3\n");
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.outcome"), "done");
	assert_int_equal(standin_count(&f->k, "GET", DEPLOY_WEB), 3);
	/* a pod that does not exist: one GET, skipped */
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "ghost", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "skipped");
	assert_string_equal(rt_audit(&f->t, 1, "response.detail"), "pod shop/ghost does not exist");
	assert_int_equal(standin_count(&f->k, "GET", "/api/v1/namespaces/shop/pods/ghost"), 1);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_isolate_creates_the_exact_network_policy(void **state)
{
	struct fx *f = *state;
	json_t *np, *want, *pod;

	start(f,
	      "policies:\n  - name: isolate\n    actions:\n      - action: k8s.isolate_pod\n"
	      "        parameters: {allow_dns: true, allow_cidrs: [10.1.0.0/16]}\n",
	      NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.outcome"), "done");
	np = standin_get(&f->k, "NetworkPolicy", "shop", "lanner-quarantine");
	assert_non_null(np);
	want = json_loads(
		"{\"podSelector\":{\"matchLabels\":{\"lanner.dev/quarantine\":\"true\"}},"
		"\"policyTypes\":[\"Ingress\",\"Egress\"],\"ingress\":[],"
		"\"egress\":[{\"to\":[{\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":"
		"{\"k8s-app\":\"kube-dns\"}}}],\"ports\":[{\"protocol\":\"UDP\",\"port\":53},"
		"{\"protocol\":\"TCP\",\"port\":53}]},{\"to\":[{\"ipBlock\":{\"cidr\":"
		"\"10.1.0.0/16\"}}]}]}",
		0, NULL);
	assert_true(json_equal(json_object_get(np, "spec"), want));
	json_decref(want);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(np, "metadata"), "labels"),
				    "app.kubernetes.io/managed-by")),
			    "lanner");
	json_decref(np);
	pod = standin_get(&f->k, "Pod", "shop", WEB_POD);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(pod, "metadata"), "labels"),
				    "lanner.dev/quarantine")),
			    "true");
	json_decref(pod);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_delete_pod_rules(void **state)
{
	struct fx *f = *state;
	json_t *p;

	start(f,
	      "cooldown: 0s\npolicies:\n  - name: kill\n    actions:\n"
	      "      - action: k8s.delete_pod\n        parameters: {grace_period_seconds: 5, "
	      "min_healthy_replicas: 1}\n",
	      NULL);
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "agent-x1", NULL)),
			 0);
	assert_non_null(strstr(rt_audit(&f->t, 0, "response.detail"), "owned by DaemonSet agent"));
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "db-0", NULL)),
			 0);
	assert_non_null(strstr(rt_audit(&f->t, 1, "response.detail"), "owned by StatefulSet db"));
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "debug", NULL)),
			 0);
	assert_non_null(strstr(rt_audit(&f->t, 2, "response.detail"), "standalone pod"));
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 3, "response.outcome"), "done");
	assert_string_equal(rt_audit(&f->t, 3, "response.detail"), "deleted (grace period 5 s)");
	p = standin_get(&f->k, "Pod", "shop", WEB_POD);
	assert_null(p);
	p = standin_get(&f->k, "Pod", "shop", "agent-x1");
	assert_non_null(p);
	json_decref(p);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_rule_actions_scale_and_notify(void **state)
{
	struct fx *f = *state;
	const char *const acts[] = { "scale_down_deployment", "notify_security_team" };

	start(f,
	      "actions:\n"
	      "  - name: scale_down_deployment\n    action: k8s.scale_down\n"
	      "  - name: notify_security_team\n    action: notify\n"
	      "    parameters: {outputs: [slack]}\n",
	      NULL);
	f->t.running_outputs = "slack";
	assert_int_equal(responder_set_rule_actions("Crypto miner", acts, 2), 0);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_int_equal(json_array_size(f->t.audits), 2);
	assert_string_equal(rt_audit(&f->t, 0, "rule"), "lanner response: k8s.scale_down done");
	assert_string_equal(rt_audit(&f->t, 0, "response.name"), "scale_down_deployment");
	assert_string_equal(rt_audit(&f->t, 1, "rule"), "lanner response: notify done");
	assert_int_equal(json_array_size(f->t.delivered), 1);
	assert_string_equal(json_string_value(json_array_get(json_array_get(f->t.delivered, 0), 0)),
			    "slack");
	assert_int_equal(replicas_of(f, "Deployment", "shop", "web"), 0);
	/* another rule: nothing */
	assert_int_equal(rt_send(&f->t,
				 rt_alert("Other", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
					  "shop", "k8s.pod.name", WEB_POD, NULL)),
			 0);
	assert_int_equal(json_array_size(f->t.audits), 2);
	/* the responder's own audit alerts are never acted on */
	assert_int_equal(rt_send(&f->t,
				 rt_alert("Crypto miner", PRIORITY_CRITICAL, "response",
					  "k8s.ns.name", "shop", "k8s.pod.name", WEB_POD, NULL)),
			 0);
	assert_int_equal(json_array_size(f->t.audits), 2);
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_label_annotate_and_failure_stops_the_policy(void **state)
{
	struct fx *f = *state;
	json_t *p;

	assert_int_equal(
		standin_inject(&f->k, 403, "PATCH", "/api/v1/namespaces/shop/pods/db-0", 1), 0);
	start(f,
	      "policies:\n  - name: mark\n    actions:\n"
	      "      - action: k8s.label_pod\n        parameters: {labels: {quarantined: \"yes\"}}\n"
	      "      - action: k8s.annotate_pod\n        parameters: {annotations: {why: test}}\n",
	      NULL);
	assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.outcome"), "done");
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "done");
	p = standin_get(&f->k, "Pod", "shop", WEB_POD);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(p, "metadata"), "labels"), "quarantined")),
		"yes");
	assert_string_equal(annotation(p, "why"), "test");
	json_decref(p);
	/* label fails (403) -> annotate skipped */
	assert_int_equal(rt_send(&f->t, rt_alert("X", PRIORITY_CRITICAL, "syscall", "k8s.ns.name",
						 "shop", "k8s.pod.name", "db-0", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 2, "response.outcome"), "failed");
	assert_string_equal(rt_audit(&f->t, 3, "response.outcome"), "skipped");
	assert_string_equal(rt_audit(&f->t, 3, "response.detail"), "an earlier action failed");
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_rate_limit_and_cap(void **state)
{
	struct fx *f = *state;

	start(f,
	      "max_actions_per_minute: 2\ncooldown: 0s\npolicies:\n  - name: l\n    actions:\n"
	      "      - action: k8s.label_pod\n",
	      NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rt_send(&f->t, web_alert()), 0);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "done");
	assert_string_equal(rt_audit(&f->t, 2, "response.outcome"), "skipped");
	assert_non_null(strstr(rt_audit(&f->t, 2, "response.detail"), "max_actions_per_minute"));
	assert_int_equal(rt_stop(&f->t), 0);
}

/* Audit-log alerts name their target with ka.target.*: the pod of a `kubectl exec`. */
static void test_audit_alert_targets(void **state)
{
	struct fx *f = *state;
	json_t *p;

	start(f,
	      "policies:\n  - name: l\n    match: {source: k8s_audit}\n    actions: "
	      "[{action: k8s.label_pod}]\n",
	      NULL);
	assert_int_equal(rt_send(&f->t,
				 rt_alert("Exec", PRIORITY_NOTICE, "k8s_audit",
					  "ka.target.namespace", "shop", "ka.target.resource",
					  "pods", "ka.target.name", "debug", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 0, "response.outcome"), "done");
	assert_string_equal(rt_audit(&f->t, 0, "response.target"), "pod shop/debug");
	p = standin_get(&f->k, "Pod", "shop", "debug");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(p, "metadata"), "labels"),
				    "lanner.dev/quarantine")),
			    "true");
	json_decref(p);
	/* a name that is not a Kubernetes name never reaches an API path */
	assert_int_equal(rt_send(&f->t, rt_alert("Exec", PRIORITY_NOTICE, "k8s_audit",
						 "ka.target.namespace", "shop",
						 "ka.target.pod.name", "../../secrets/x", NULL)),
			 0);
	assert_string_equal(rt_audit(&f->t, 1, "response.outcome"), "skipped");
	assert_non_null(
		strstr(rt_audit(&f->t, 1, "response.detail"), "not a valid Kubernetes name"));
	assert_int_equal(rt_stop(&f->t), 0);
}

static void test_bad_policy_fails_init(void **state)
{
	struct fx *f = *state;
	const char *pf = rt_write(&f->t, f->k.dir, "bad.yaml",
				  "policies:\n  - name: x\n    actions: [{action: k8s.scale}]\n");
	char yaml[512];
	struct rt t;

	snprintf(yaml, sizeof(yaml), "response:\n  enabled: true\n  policy_file: %s\n", pf);
	assert_int_equal(rt_start(&t, yaml), -EINVAL);
	assert_int_equal(rt_stop(&t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scale_down_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statefulset_scale_down_and_restore, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_second_alert_in_cooldown_does_not_act, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protected_namespace_never_touched, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_forbidden_is_a_failed_audit_with_the_api_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_5xx_not_404, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolate_creates_the_exact_network_policy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_pod_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_actions_scale_and_notify, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_label_annotate_and_failure_stops_the_policy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_alert_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_policy_fails_init, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
