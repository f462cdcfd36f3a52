/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_STANDIN_H
#define LANNER_TEST_STANDIN_H

/*
 * Start tests/integration/k8s_standin.py (the local HTTPS Kubernetes API stand-in) for a unit
 * test: a self-signed certificate made with openssl, the small cluster of small_cluster(), a
 * kubeconfig pointing at it; read its state back; stop it. Header-only: each cmocka executable
 * is one .c file.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <jansson.h>

#define STANDIN_PY TEST_DATA_DIR "/../integration/k8s_standin.py"
#define STANDIN_TOKEN "unit-test-token"

struct standin {
	pid_t pid;
	int port;
	char dir[64];
	char cert[128], key[128], state[128], kubeconfig[128];
};

static inline int standin_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int standin_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* extra_deployments: bench/app-N Deployments added to the small cluster. 0 or -errno. */
static inline int standin_start(struct standin *s, int extra_deployments)
{
	const char *argv[] = { "python3", STANDIN_PY, "--state", s->state, "--token", STANDIN_TOKEN,
			       "--cert",  s->cert,    "--key",	 s->key,   NULL };
	char n[16], line[64];
	int fds[2];
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/lanner-k8s-XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	snprintf(s->cert, sizeof(s->cert), "%s/cert.pem", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/key.pem", s->dir);
	snprintf(s->state, sizeof(s->state), "%s/state.json", s->dir);
	snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s/kubeconfig", s->dir);
	argv[3] = s->state;
	argv[7] = s->cert;
	argv[9] = s->key;
	if (standin_sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
		       "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
		       s->key, s->cert))
		return -EIO;
	snprintf(n, sizeof(n), "%d", extra_deployments);
	if (standin_sh("cd %s && python3 -c 'import json,sys,k8s_standin as k; "
		       "json.dump(k.small_cluster(%s), open(\"%s\",\"w\"))'",
		       TEST_DATA_DIR "/../integration", n, s->state))
		return -EIO;
	if (pipe(fds) < 0)
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &s->port) != 1) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	f = fopen(s->kubeconfig, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		"clusters:\n- name: standin\n  cluster:\n    server: https://127.0.0.1:%d\n"
		"    certificate-authority: %s\n"
		"users:\n- name: lanner\n  user:\n    token: %s\n"
		"contexts:\n- name: test\n  context:\n    cluster: standin\n    user: lanner\n"
		"    namespace: lanner\n",
		s->port, s->cert, STANDIN_TOKEN);
	fclose(f);
	return 0;
}

/* curl against a control endpoint; returns the parsed JSON answer (caller decrefs) or NULL. */
static inline json_t *standin_control(const struct standin *s, const char *method, const char *path,
				      const char *body)
{
	char cmd[1024];
	json_t *out;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "curl -s --cacert %s -X %s -H 'Content-Type: application/json' %s%s%s "
		 "https://127.0.0.1:%d%s",
		 s->cert, method, body ? "--data '" : "", body ? body : "", body ? "'" : "",
		 s->port, path);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	out = json_loadf(p, 0, NULL);
	pclose(p);
	return out;
}

/* The object plural/ns/name in the stand-in's state now (new reference), or NULL. */
static inline json_t *standin_get(const struct standin *s, const char *kind, const char *ns,
				  const char *name)
{
	json_t *st = standin_control(s, "GET", "/__standin/state", NULL), *it, *out = NULL;
	size_t i;

	json_array_foreach(json_object_get(st, "items"), i, it) {
		const json_t *md = json_object_get(it, "metadata");

		if (!strcmp(json_string_value(json_object_get(it, "kind")), kind) &&
		    !strcmp(json_string_value(json_object_get(md, "namespace")), ns) &&
		    !strcmp(json_string_value(json_object_get(md, "name")), name))
			out = json_incref(it);
	}
	json_decref(st);
	return out;
}

/* Inject `count` failures with HTTP code for method+path. 0 or -EIO. */
static inline int standin_inject(const struct standin *s, int code, const char *method,
				 const char *path, int count)
{
	char body[512];
	json_t *r;

	snprintf(body, sizeof(body), "{\"code\":%d,\"method\":\"%s\",\"path\":\"%s\",\"count\":%d}",
		 code, method, path, count);
	r = standin_control(s, "POST", "/__standin/fail", body);
	json_decref(r);
	return r ? 0 : -EIO;
}

/* Number of API requests seen with method and path. */
static inline int standin_count(const struct standin *s, const char *method, const char *path)
{
	json_t *reqs = standin_control(s, "GET", "/__standin/requests", NULL), *it;
	size_t i;
	int n = 0;

	json_array_foreach(reqs, i, it) {
		const char *p = json_string_value(json_object_get(it, "path"));

		if (!strcmp(json_string_value(json_object_get(it, "method")), method) && p &&
		    !strncmp(p, path, strlen(path)) && (!p[strlen(path)] || p[strlen(path)] == '?'))
			n++;
	}
	json_decref(reqs);
	return n;
}

static inline void standin_stop(struct standin *s)
{
	char cmd[128];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", s->dir);
	}
}

#endif
