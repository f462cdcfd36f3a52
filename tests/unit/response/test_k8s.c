// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes client against the HTTPS stand-in: kubeconfig with file and -data credentials,
 * in-cluster credentials with token rotation, Status decoding, kubeconfig errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "outputs/http_client.h"
#include "response/k8s.h"
#include "standin.h"

struct call {
	int n;
	long status;
	char reason[64], message[512];
	json_t *body;
};

static void on_done(void *data, const struct k8s_response *r)
{
	struct call *c = data;

	c->n++;
	c->status = r->status;
	snprintf(c->reason, sizeof(c->reason), "%s", r->reason);
	snprintf(c->message, sizeof(c->message), "%s", r->message);
	json_decref(c->body);
	c->body = r->body ? json_incref(r->body) : NULL;
}

struct fx {
	struct standin k;
	uv_loop_t loop;
	struct http_client *http;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || standin_start(&f->k, 0) || uv_loop_init(&f->loop))
		return -1;
	f->http = http_client_new(&f->loop);
	*state = f;
	return f->http ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_client_free(f->http);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	standin_stop(&f->k);
	free(f);
	return 0;
}

static void get(struct fx *f, struct k8s_client *c, const char *path, struct call *out)
{
	int n = out->n;

	assert_int_equal(k8s_request(c, "GET", path, NULL, NULL, on_done, out), 0);
	/* never completes inside the call */
	assert_int_equal(out->n, n);
	while (out->n == n)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *b64_file(const char *path)
{
	char cmd[256], buf[8192];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "base64 -w0 %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	pclose(p);
	buf[n] = '\0';
	return strdup(buf);
}

static void test_kubeconfig_file_and_status(void **state)
{
	struct fx *f = *state;
	struct k8s_settings s = { .kubeconfig = f->k.kubeconfig, .max_retries = 0 };
	struct call c = { 0 };
	char err[256];
	struct k8s_client *k = k8s_client_new(&f->loop, f->http, &s, err, sizeof(err));

	assert_non_null(k);
	assert_string_equal(k8s_client_namespace(k), "lanner");
	get(f, k, "/apis/apps/v1/namespaces/shop/deployments/web", &c);
	assert_int_equal(c.status, 200);
	assert_string_equal(json_string_value(json_object_get(c.body, "kind")), "Deployment");
	get(f, k, "/apis/apps/v1/namespaces/shop/deployments/nope", &c);
	assert_int_equal(c.status, 404);
	assert_string_equal(c.reason, "NotFound");
	assert_string_equal(c.message, "deployments.apps \"nope\" not found");
	/* with no retries a 503 is reported as it is */
	assert_int_equal(standin_inject(&f->k, 503, "GET", "/api/v1/namespaces/shop/pods/debug", 1),
			 0);
	get(f, k, "/api/v1/namespaces/shop/pods/debug", &c);
	assert_int_equal(c.status, 503);
	assert_string_equal(c.message, "injected failure 503");
	json_decref(c.body);
	k8s_client_free(k);
}

static void test_kubeconfig_data_fields_and_wrong_token(void **state)
{
	struct fx *f = *state;
	char *ca = b64_file(f->k.cert), path[160], text[12288], err[256];
	struct k8s_settings s = { .kubeconfig = path, .max_retries = 0 };
	struct call c = { 0 };
	struct k8s_client *k;

	snprintf(path, sizeof(path), "%s/kc-data", f->k.dir);
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
		 "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:%d/\n"
		 "    certificate-authority-data: %s\n"
		 "users:\n- name: good\n  user: {token: " STANDIN_TOKEN "}\n"
		 "- name: bad\n  user: {token: wrong}\n"
		 "contexts:\n- name: a\n  context: {cluster: c, user: good}\n"
		 "- name: b\n  context: {cluster: c, user: bad}\n",
		 f->k.port, ca);
	free(ca);
	write_file(path, text);
	k = k8s_client_new(&f->loop, f->http, &s, err, sizeof(err));
	assert_non_null(k);
	/* the trailing slash is dropped so paths join with one */
	snprintf(text, sizeof(text), "https://127.0.0.1:%d", f->k.port);
	assert_string_equal(k8s_client_server(k), text);
	get(f, k, "/api/v1/namespaces/shop/pods/debug", &c);
	assert_int_equal(c.status, 200);
	k8s_client_free(k);
	/* the other context: 401 with the API's Status */
	s.context = "b";
	k = k8s_client_new(&f->loop, f->http, &s, err, sizeof(err));
	assert_non_null(k);
	get(f, k, "/api/v1/namespaces/shop/pods/debug", &c);
	assert_int_equal(c.status, 401);
	assert_string_equal(c.reason, "Unauthorized");
	k8s_client_free(k);
	s.context = "zzz";
	assert_null(k8s_client_new(&f->loop, f->http, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "context 'zzz' not found"));
	json_decref(c.body);
}

static void test_in_cluster_token_rotation(void **state)
{
	struct fx *f = *state;
	char dir[160], p[512], err[512];
	struct k8s_settings s = { .sa_dir = dir, .max_retries = 0 };
	struct call c = { 0 };
	struct k8s_client *k;
	char port[16];

	snprintf(dir, sizeof(dir), "%s/sa", f->k.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(p, sizeof(p), "%s/token", dir);
	write_file(p, "wrong-token\n");
	snprintf(p, sizeof(p), "%s/namespace", dir);
	write_file(p, "lanner-system");
	snprintf(p, sizeof(p), "cp %s %s/ca.crt", f->k.cert, dir);
	assert_int_equal(system(p), 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_null(k8s_client_new(&f->loop, f->http, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	snprintf(port, sizeof(port), "%d", f->k.port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	k = k8s_client_new(&f->loop, f->http, &s, err, sizeof(err));
	assert_non_null(k);
	assert_string_equal(k8s_client_namespace(k), "lanner-system");
	get(f, k, "/api/v1/namespaces/shop/pods/debug", &c);
	assert_int_equal(c.status, 401);
	/* kubelet rotates the token: the next request uses the new one */
	snprintf(p, sizeof(p), "%s/token.new", dir);
	write_file(p, STANDIN_TOKEN "\n");
	snprintf(err, sizeof(err), "%s/token", dir);
	assert_int_equal(rename(p, err), 0);
	get(f, k, "/api/v1/namespaces/shop/pods/debug", &c);
	assert_int_equal(c.status, 200);
	k8s_client_free(k);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	json_decref(c.body);
}

static void test_free_ends_waiting_retries(void **state)
{
	struct fx *f = *state;
	struct k8s_settings s = { .kubeconfig = f->k.kubeconfig, .max_retries = 5 };
	struct call c = { 0 };
	char err[256];
	struct k8s_client *k = k8s_client_new(&f->loop, f->http, &s, err, sizeof(err));

	assert_non_null(k);
	assert_int_equal(
		standin_inject(&f->k, 503, "GET", "/api/v1/namespaces/shop/pods/debug", -1), 0);
	assert_int_equal(k8s_request(k, "GET", "/api/v1/namespaces/shop/pods/debug", NULL, NULL,
				     on_done, &c),
			 0);
	/* run until the first 503 came back and a retry is waiting */
	while (standin_count(&f->k, "GET", "/api/v1/namespaces/shop/pods/debug") < 1)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	for (int i = 0; i < 50 && !c.n; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	k8s_client_free(k);
	while (!c.n)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(c.n, 1);
	assert_true(!strcmp(c.message, "shutting down") || c.status == 503);
	json_decref(c.body);
}

static void test_valid_names(void **state)
{
	(void)state;
	assert_true(k8s_valid_name("web-5d4f8c7b9-abcde"));
	assert_true(k8s_valid_name("a.b"));
	assert_false(k8s_valid_name(""));
	assert_false(k8s_valid_name(NULL));
	assert_false(k8s_valid_name("../secrets"));
	assert_false(k8s_valid_name("Web"));
	assert_false(k8s_valid_name("a/b"));
	assert_false(k8s_valid_name("-a"));
	assert_false(k8s_valid_name("a?x=1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kubeconfig_file_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_data_fields_and_wrong_token, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster_token_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_ends_waiting_retries, setup, teardown),
		cmocka_unit_test(test_valid_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
