// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "gateway/k8s_audit.h"
#include "rules/rules.h"

/*
 * The k8s_audit extractors through the rules engine, as the route and replay use them: a rule
 * whose output names the fields under test matches every Event, and rules_format gives each
 * field's value (JSON: text, list as array, missing as null). Events are the upstream samples
 * (SHARED_DATA_DIR/k8saudit) and lanner's hand-written ones (TEST_DATA_DIR/k8saudit/lanner).
 */

/* Line `line` (1-based) of a JSON-lines file, parsed. */
static json_t *load_line(const char *dir, const char *file, int line)
{
	char path[1024];
	char *buf = NULL;
	size_t cap = 0;
	json_t *j = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	assert_non_null(f);
	for (int i = 0; i < line; i++)
		assert_true(getline(&buf, &cap, f) > 0);
	j = json_loads(buf, 0, NULL);
	free(buf);
	fclose(f);
	assert_non_null(j);
	return j;
}

static json_t *sample(const char *file, int line)
{
	return load_line(SHARED_DATA_DIR "/k8saudit", file, line);
}

static json_t *own(const char *file, int line)
{
	return load_line(TEST_DATA_DIR "/k8saudit/lanner", file, line);
}

struct fmt_ctx {
	struct rules_eval *ev;
	json_t *fields;
	char *text;
};

static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	struct fmt_ctx *c = ctx;

	assert_int_equal(rules_format(c->ev, rule, event, &c->text, &c->fields), 0);
}

/* The output_fields of a rule `condition` with output `output` on event; NULL when no match. */
static json_t *eval_fields(const json_t *event, const char *condition, const char *output,
			   char **text)
{
	char yaml[4096];
	struct fmt_ctx c = { 0 };
	struct rules *r = rules_new();
	int src, n;

	assert_non_null(r);
	src = rules_add_source(r, &k8s_audit_field_source);
	assert_true(src >= 0);
	n = snprintf(yaml, sizeof(yaml),
		     "- rule: t\n  desc: t\n  condition: %s\n  output: \"%s\"\n"
		     "  priority: WARNING\n  source: k8s_audit\n",
		     condition, output);
	assert_true(n > 0 && (size_t)n < sizeof(yaml));
	assert_int_equal(rules_load_buffer(r, "test.yaml", yaml, (size_t)n), 0);
	assert_int_equal(rules_compile(r), 0);
	c.ev = rules_eval_new(r);
	assert_non_null(c.ev);
	rules_eval(c.ev, src, event, on_match, &c);
	rules_eval_free(c.ev);
	rules_free(r);
	if (text)
		*text = c.text;
	else
		free(c.text);
	return c.fields;
}

static json_t *fields_of(const json_t *event, const char *output)
{
	json_t *f = eval_fields(event, "ka.auditid exists", output, NULL);

	assert_non_null(f);
	return f;
}

static void assert_str(const json_t *fields, const char *name, const char *want)
{
	const json_t *v = json_object_get(fields, name);

	if (!json_is_string(v))
		fail_msg("%s: not a string", name);
	if (strcmp(json_string_value(v), want))
		fail_msg("%s: '%s', want '%s'", name, json_string_value(v), want);
}

static void assert_missing(const json_t *fields, const char *name)
{
	if (!json_is_null(json_object_get(fields, name)))
		fail_msg("%s: not missing", name);
}

/* A list field equals the strings given, in order (NULL-terminated). */
static void assert_list(const json_t *fields, const char *name, ...)
{
	const json_t *v = json_object_get(fields, name);
	size_t i = 0;
	const char *s;
	va_list ap;

	if (!json_is_array(v))
		fail_msg("%s: not a list", name);
	va_start(ap, name);
	while ((s = va_arg(ap, const char *))) {
		const char *got = json_string_value(json_array_get(v, i));

		if (!got || strcmp(got, s))
			fail_msg("%s[%zu]: '%s', want '%s'", name, i, got ? got : "(none)", s);
		i++;
	}
	va_end(ap);
	assert_int_equal(json_array_size(v), i);
}

static void test_exec_sample(void **state)
{
	json_t *e = sample("exec_pod.json", 1);
	json_t *f = fields_of(
		e,
		"%ka.auditid %ka.stage %ka.auth.decision %ka.auth.reason %ka.user.name "
		"%ka.user.groups %ka.verb %ka.uri.param[command] %ka.uri.param[container] "
		"%ka.uri.param[nope] %ka.target.name %ka.target.namespace %ka.target.resource "
		"%ka.target.subresource %ka.target.pod.name %ka.response.code %ka.sourceips "
		"%jevt.value[/stage] %json.value[/objectRef/namespace] %jevt.value[/sourceIPs/0] "
		"%jevt.value[/sourceIPs/1] %jevt.value[/responseStatus] %jevt.rawtime "
		"%ka.impuser.name %ka.useragent %ka.req.pod.containers.image");

	(void)state;
	assert_str(f, "ka.auditid", "ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6");
	assert_str(f, "ka.stage", "ResponseStarted");
	assert_str(f, "ka.auth.decision", "allow");
	assert_str(f, "ka.auth.reason", "");
	assert_str(f, "ka.user.name", "minikube-user");
	assert_list(f, "ka.user.groups", "system:masters", "system:authenticated", NULL);
	assert_str(f, "ka.verb", "create");
	assert_str(f, "ka.uri.param[command]", "bash");
	assert_str(f, "ka.uri.param[container]", "nginx1");
	assert_missing(f, "ka.uri.param[nope]");
	assert_str(f, "ka.target.name", "nginx-deployment-7998647bdf-phvq7");
	assert_str(f, "ka.target.namespace", "default");
	assert_str(f, "ka.target.resource", "pods");
	assert_str(f, "ka.target.subresource", "exec");
	assert_str(f, "ka.target.pod.name", "nginx-deployment-7998647bdf-phvq7");
	assert_str(f, "ka.response.code", "101"); /* a number reads as its JSON text */
	assert_list(f, "ka.sourceips", "192.168.99.1", NULL);
	assert_str(f, "jevt.value[/stage]", "ResponseStarted");
	assert_str(f, "json.value[/objectRef/namespace]", "default");
	assert_str(f, "jevt.value[/sourceIPs/0]", "192.168.99.1");
	assert_missing(f, "jevt.value[/sourceIPs/1]");
	assert_str(f, "jevt.value[/responseStatus]", "{\"code\":101,\"metadata\":{}}");
	/* stageTimestamp 2018-10-26T13:38:34.902914Z */
	assert_str(f, "jevt.rawtime", "1540561114902914000");
	assert_int_equal(json_integer_value(json_object_get(f, "evt.time")), 1540561114902914000);
	assert_int_equal(k8s_audit_event_time(e), 1540561114902914000);
	assert_missing(f, "ka.impuser.name");
	assert_missing(f, "ka.useragent");
	assert_missing(f, "ka.req.pod.containers.image");
	json_decref(f);
	json_decref(e);
}

static void test_privileged_pod_sample(void **state)
{
	json_t *e = sample("create_nginx_pod_privileged.json", 1);
	json_t *f = fields_of(e,
			      "%ka.req.pod.containers.image %ka.req.pod.containers.privileged "
			      "%ka.req.pod.containers.image.repository %ka.req.container.image "
			      "%ka.req.container.privileged %ka.req.pod.containers.name "
			      "%ka.req.pod.containers.eff_run_as_user "
			      "%ka.req.pod.initContainers.image %ka.target.pod.name %ka.resp.name "
			      "%ka.req.pod.host_network %ka.target.name");

	(void)state;
	assert_list(f, "ka.req.pod.containers.image", "nginx", NULL);
	assert_list(f, "ka.req.pod.containers.privileged", "true", NULL);
	assert_list(f, "ka.req.pod.containers.image.repository", "nginx", NULL);
	assert_str(f, "ka.req.container.image", "nginx");
	assert_str(f, "ka.req.container.privileged", "true");
	assert_list(f, "ka.req.pod.containers.name", "nginx", NULL);
	assert_list(f, "ka.req.pod.containers.eff_run_as_user", "0", NULL);
	assert_missing(f, "ka.req.pod.initContainers.image");
	/* created pods have no objectRef.name: the name comes from the response */
	assert_missing(f, "ka.target.name");
	assert_str(f, "ka.target.pod.name", "nginx-deployment-5cdcc99dbf-rgw6z");
	assert_str(f, "ka.resp.name", "nginx-deployment-5cdcc99dbf-rgw6z");
	assert_missing(f, "ka.req.pod.host_network");
	json_decref(f);
	json_decref(e);
}

static void test_service_binding_configmap_samples(void **state)
{
	json_t *e = sample("create_nginx_service_nodeport.json", 1);
	json_t *f = fields_of(e, "%ka.req.service.type %ka.req.service.ports "
				 "%ka.req.service.ports[0] %ka.req.service.ports[1]");

	(void)state;
	assert_str(f, "ka.req.service.type", "NodePort");
	assert_list(f, "ka.req.service.ports",
		    "{\"nodePort\":30080,\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}",
		    NULL);
	assert_list(f, "ka.req.service.ports[0]",
		    "{\"nodePort\":30080,\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}",
		    NULL);
	assert_missing(f, "ka.req.service.ports[1]");
	json_decref(f);
	json_decref(e);

	e = sample("attach_cluster_admin_role.json", 1);
	f = fields_of(e, "%ka.req.binding.role %ka.req.binding.subjects "
			 "%ka.req.binding.subjects.user_names %ka.req.binding.subjects.group_names "
			 "%ka.req.binding.subject.has_name[minikube] "
			 "%ka.req.binding.subject.has_name[someone]");
	assert_str(f, "ka.req.binding.role", "cluster-admin");
	assert_list(f, "ka.req.binding.subjects",
		    "{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\",\"name\":"
		    "\"minikube\"}",
		    NULL);
	assert_list(f, "ka.req.binding.subjects.user_names", "minikube", NULL);
	assert_list(f, "ka.req.binding.subjects.group_names", NULL);
	assert_str(f, "ka.req.binding.subject.has_name[minikube]", "true");
	assert_str(f, "ka.req.binding.subject.has_name[someone]", "false");
	json_decref(f);
	json_decref(e);

	e = sample("create_configmap_sensitive_values.json", 1);
	f = eval_fields(e, "ka.req.configmap.obj contains aws_access_key_id",
			"%ka.req.configmap.name %ka.target.resource", NULL);
	assert_non_null(f);
	assert_str(f, "ka.target.resource", "configmaps");
	json_decref(f);
	json_decref(e);

	e = sample("anonymous_creates_namespace_foo.json", 1);
	f = fields_of(e, "%ka.user.name %ka.target.name %ka.target.pod.name");
	assert_str(f, "ka.user.name", "system:anonymous");
	assert_str(f, "ka.target.name", "foo");
	assert_missing(f, "ka.target.pod.name"); /* not a pod */
	json_decref(f);
	json_decref(e);
}

static void test_container_lists(void **state)
{
	/* line 3: two containers, hostPID; line 4: a privileged init container */
	json_t *e = own("privileged_pod.json", 3);
	json_t *f = fields_of(e, "%ka.req.pod.containers.name %ka.req.pod.containers.name[1] "
				 "%ka.req.pod.containers.name[2] %ka.req.pod.host_pid "
				 "%ka.req.pod.containers.privileged %ka.req.pod.host_ipc");

	(void)state;
	assert_list(f, "ka.req.pod.containers.name", "a", "b", NULL);
	assert_list(f, "ka.req.pod.containers.name[1]", "b", NULL);
	assert_missing(f, "ka.req.pod.containers.name[2]");
	assert_str(f, "ka.req.pod.host_pid", "true");
	/* no securityContext in either container: nothing to list */
	assert_list(f, "ka.req.pod.containers.privileged", NULL);
	assert_missing(f, "ka.req.pod.host_ipc");
	json_decref(f);
	json_decref(e);

	e = own("privileged_pod.json", 4);
	f = fields_of(e, "%ka.req.pod.initContainers.privileged %ka.req.pod.initContainers.image "
			 "%ka.req.pod.initContainers.image.repository "
			 "%ka.req.pod.ephemeralContainers.name");
	assert_list(f, "ka.req.pod.initContainers.privileged", "true", NULL);
	assert_list(f, "ka.req.pod.initContainers.image", "busybox:1.36", NULL);
	assert_list(f, "ka.req.pod.initContainers.image.repository", "busybox", NULL);
	assert_missing(f, "ka.req.pod.ephemeralContainers.name");
	json_decref(f);
	json_decref(e);

	e = own("sensitive_mount.json", 2);
	f = fields_of(e, "%ka.req.pod.volumes.hostpath %ka.req.pod.volumes.volume_type "
			 "%ka.req.volume.hostpath[/etc] %ka.req.volume.hostpath[/et*] "
			 "%ka.req.volume.hostpath[/var] %ka.req.pod.containers.image.repository");
	assert_list(f, "ka.req.pod.volumes.hostpath", "/etc", NULL);
	assert_list(f, "ka.req.pod.volumes.volume_type", "configMap", "hostPath", NULL);
	assert_str(f, "ka.req.volume.hostpath[/etc]", "true");
	assert_str(f, "ka.req.volume.hostpath[/et*]", "true");
	assert_str(f, "ka.req.volume.hostpath[/var]", "false");
	assert_list(f, "ka.req.pod.containers.image.repository", "docker.io/library/nginx", NULL);
	json_decref(f);
	json_decref(e);
}

static void test_capabilities_ports_users(void **state)
{
	json_t *e = json_pack(
		"{s:s, s:{s:{s:{s:i}, s:[{s:s, s:s, s:{s:{s:[s,s]}, s:i}, s:[{s:i, s:i}, {s:i}]},"
		" {s:s, s:s}]}}}",
		"auditID", "x", "requestObject", "spec", "securityContext", "runAsUser", 1000,
		"containers", "name", "a", "image", "reg.example:5000/team/app@sha256:abcd",
		"securityContext", "capabilities", "add", "NET_ADMIN", "SYS_ADMIN", "runAsUser", 0,
		"ports", "containerPort", 80, "hostPort", 8080, "containerPort", 9090, "name", "b",
		"image", "reg.example:5000/team/side:1.2");
	json_t *f;

	(void)state;
	assert_non_null(e);
	f = fields_of(e,
		      "%ka.req.pod.containers.add_capabilities "
		      "%ka.req.pod.containers.host_port %ka.req.pod.containers.eff_run_as_user "
		      "%ka.req.pod.containers.run_as_user %ka.req.pod.containers.image.repository "
		      "%ka.req.pod.containers.add_capabilities[0] "
		      "%ka.req.pod.containers.add_capabilities[1] %ka.req.pod.run_as_user");
	assert_list(f, "ka.req.pod.containers.add_capabilities", "NET_ADMIN", "SYS_ADMIN", NULL);
	/* the index picks a container: the second one adds nothing */
	assert_list(f, "ka.req.pod.containers.add_capabilities[0]", "NET_ADMIN", "SYS_ADMIN", NULL);
	assert_missing(f, "ka.req.pod.containers.add_capabilities[1]");
	assert_list(f, "ka.req.pod.containers.host_port", "8080", "9090", NULL);
	assert_list(f, "ka.req.pod.containers.eff_run_as_user", "0", "1000", NULL);
	assert_list(f, "ka.req.pod.containers.run_as_user", "0", NULL);
	assert_list(f, "ka.req.pod.containers.image.repository", "reg.example:5000/team/app",
		    "reg.example:5000/team/side", NULL);
	assert_str(f, "ka.req.pod.run_as_user", "1000");
	json_decref(f);
	json_decref(e);
}

static void test_roles_and_uri(void **state)
{
	json_t *e = own("wildcard_role.json", 1);
	json_t *f = fields_of(e, "%ka.req.role.rules.verbs %ka.req.role.rules.verbs[1] "
				 "%ka.req.role.rules.resources %ka.req.role.rules.apiGroups");

	(void)state;
	assert_list(f, "ka.req.role.rules.verbs", "get", "*", NULL);
	assert_list(f, "ka.req.role.rules.verbs[1]", "*", NULL);
	assert_list(f, "ka.req.role.rules.resources", "pods", "secrets", NULL);
	assert_list(f, "ka.req.role.rules.apiGroups", "", "", NULL);
	json_decref(f);
	json_decref(e);

	e = own("cluster_admin_binding.json", 1);
	f = fields_of(e, "%ka.req.binding.subjects.serviceaccount_names "
			 "%ka.req.binding.subjects.serviceaccount_ns_names %ka.useragent");
	assert_list(f, "ka.req.binding.subjects.serviceaccount_names", "deployer", NULL);
	assert_list(f, "ka.req.binding.subjects.serviceaccount_ns_names", "ci:deployer", NULL);
	assert_str(f, "ka.useragent", "kubectl/v1.29.0 (linux/amd64)");
	json_decref(f);
	json_decref(e);

	/* the first of repeated parameters; percent and + decoding */
	e = json_pack("{s:s, s:s, s:s}", "auditID", "x", "requestURI",
		      "/api/v1/x?command=sh&command=-c&q=a%2Fb+c&empty=&flag", "stageTimestamp",
		      "2026-11-20T12:00:00.5+02:00");
	f = fields_of(e, "%ka.uri.param[command] %ka.uri.param[q] %ka.uri.param[empty] "
			 "%ka.uri.param[flag] %evt.time");
	assert_str(f, "ka.uri.param[command]", "sh");
	assert_str(f, "ka.uri.param[q]", "a/b c");
	assert_str(f, "ka.uri.param[empty]", "");
	assert_str(f, "ka.uri.param[flag]", "");
	/* 10:00:00.5 UTC */
	assert_int_equal(json_integer_value(json_object_get(f, "evt.time")), 1795168800500000000);
	json_decref(f);
	json_decref(e);
}

static void test_conditions(void **state)
{
	json_t *e = sample("create_nginx_pod_privileged.json", 1);
	json_t *f;

	(void)state;
	f = eval_fields(e, "ka.req.pod.containers.privileged intersects (true)", "%ka.verb", NULL);
	assert_non_null(f);
	json_decref(f);
	f = eval_fields(e, "ka.req.pod.containers.image.repository in (nginx, redis)", "%ka.verb",
			NULL);
	assert_non_null(f);
	json_decref(f);
	/* a missing value never equals, and its negation holds */
	assert_null(eval_fields(e, "ka.req.pod.host_network = true", "%ka.verb", NULL));
	f = eval_fields(e, "not ka.req.pod.host_network = true", "%ka.verb", NULL);
	assert_non_null(f);
	json_decref(f);
	assert_null(eval_fields(e, "ka.user.groups intersects (system:masters)", "%ka.verb", NULL));
	json_decref(e);
}

struct seen {
	int events, others;
};

static void on_item(void *ctx, const json_t *item, int is_event)
{
	struct seen *s = ctx;

	(void)item;
	if (is_event)
		s->events++;
	else
		s->others++;
}

static void test_documents(void **state)
{
	json_t *ev = sample("exec_pod.json", 1);
	json_t *list = json_pack("{s:s, s:[O, i, {s:s}, O]}", "kind", "EventList", "items", ev, 3,
				 "kind", "Event", ev);
	json_t *bad = json_pack("{s:s}", "kind", "Pod");
	json_t *badlist = json_pack("{s:s, s:i}", "kind", "EventList", "items", 1);
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(k8s_audit_for_each(list, on_item, &s), 4);
	assert_int_equal(s.events, 2);
	assert_int_equal(s.others, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(k8s_audit_for_each(ev, on_item, &s), 1);
	assert_int_equal(s.events, 1);
	assert_int_equal(k8s_audit_for_each(bad, on_item, &s), -EINVAL);
	assert_int_equal(k8s_audit_for_each(badlist, on_item, &s), -EINVAL);
	assert_int_equal(s.events, 1);
	assert_int_equal(k8s_audit_is_event(ev), 1);
	assert_int_equal(k8s_audit_is_event(bad), 0);
	json_decref(list);
	json_decref(bad);
	json_decref(badlist);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_sample),
		cmocka_unit_test(test_privileged_pod_sample),
		cmocka_unit_test(test_service_binding_configmap_samples),
		cmocka_unit_test(test_container_lists),
		cmocka_unit_test(test_capabilities_ports_users),
		cmocka_unit_test(test_roles_and_uri),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
