// SPDX-License-Identifier: Apache-2.0
/*
 * lanner response restore NAMESPACE/NAME   undo k8s.scale_down (response/restore.c)
 * lanner response check [POLICY.yaml]      load and check a response policy file
 *
 * Kubernetes access and the policy file come from the response.* settings of the configuration
 * (-c FILE, the environment, -o key=value), as the running gateway reads them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "gateway/commands.h"
#include "outputs/http_client.h"
#include "response/k8s.h"
#include "response/policy.h"
#include "response/responder.h"
#include "response/restore.h"

/* Declared here until gateway/commands.h lists it (the lead's file); same signature. */
int cmd_response(int argc, char **argv);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lanner response restore [-c FILE] [-o KEY=VALUE]... [--statefulset] "
		"NAMESPACE/NAME\n"
		"       lanner response check [-c FILE] [-o KEY=VALUE]... [POLICY.yaml]\n"
		"restore scales a Deployment (or StatefulSet) that k8s.scale_down set to 0 back to "
		"its recorded replica count and removes lanner's annotations.\n"
		"Kubernetes access: response.kubeconfig / response.context, else in-cluster.\n");
}

struct restore_wait {
	bool done;
	int err;
};

static void on_restored(void *data, int err, const char *msg)
{
	struct restore_wait *w = data;

	w->done = true;
	w->err = err;
	fprintf(err ? stderr : stdout, "%s%s\n", err ? "lanner response restore: " : "", msg);
}

static int restore(const struct responder_settings *set, const char *target, bool sts)
{
	struct k8s_settings ks = {
		.kubeconfig = set->kubeconfig,
		.context = set->context,
		.timeout_ms = (long)set->timeout_ms,
		.max_retries = (int)set->max_retries,
	};
	struct restore_wait w = { 0 };
	char ns[256], err[512];
	const char *slash = strchr(target, '/');
	struct http_client *http;
	struct k8s_client *k;
	uv_loop_t loop;
	int rc = 1;

	if (!slash || (size_t)(slash - target) >= sizeof(ns)) {
		fprintf(stderr, "lanner response restore: expected NAMESPACE/NAME, got '%s'\n",
			target);
		return 2;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - target), target);
	if (uv_loop_init(&loop))
		return 1;
	http = http_client_new(&loop);
	k = http ? k8s_client_new(&loop, http, &ks, err, sizeof(err)) : NULL;
	if (!k) {
		fprintf(stderr, "lanner response restore: Kubernetes API: %s\n",
			http ? err : strerror(errno));
		goto out;
	}
	rc = response_restore(k, ns, sts ? "statefulset" : "deployment", slash + 1, on_restored,
			      &w);
	if (rc) {
		fprintf(stderr, "lanner response restore: %s: %s\n", target,
			rc == -EINVAL ? "not a valid Kubernetes name" : strerror(-rc));
		rc = rc == -EINVAL ? 2 : 1;
		goto out;
	}
	while (!w.done)
		uv_run(&loop, UV_RUN_ONCE);
	rc = w.err ? 1 : 0;
out:
	k8s_client_free(k);
	http_client_free(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc;
}

static int check(const struct responder_settings *set, const char *file)
{
	const char *path = file ? file : set->policy_file;
	struct policy_set *ps;
	char err[512];

	if (!path) {
		fprintf(stderr, "lanner response check: no policy file (give one, or set "
				"response.policy_file)\n");
		return 2;
	}
	ps = policy_set_load(path, err, sizeof(err));
	if (!ps) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: %zu named actions, %zu policies%s\n", path, ps->n_named, ps->n_policies,
	       ps->dry_run ? ", dry run" : "");
	policy_set_free(ps);
	return 0;
}

int cmd_response(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "option", required_argument, NULL, 'o' },
		{ "statefulset", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct responder_settings set = { 0 };
	const char *cfgfile = NULL, *sub;
	struct config *cfg;
	bool sts = false;
	int c, rc = 1;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	cfg = config_new();
	if (!cfg || config_declare(cfg, "response", responder_options)) {
		config_free(cfg);
		return 1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:o:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfgfile = optarg;
			break;
		case 'o':
			if (config_set(cfg, optarg)) {
				fprintf(stderr, "lanner response: -o expects KEY=VALUE\n");
				rc = 2;
				goto out;
			}
			break;
		case 's':
			sts = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if ((cfgfile && config_load_file(cfg, cfgfile)) || config_load_env(cfg, NULL) ||
	    config_bind(cfg, "response", responder_options, &set))
		goto out;
	if (!strcmp(sub, "restore") && optind == argc - 1) {
		rc = restore(&set, argv[optind], sts);
	} else if (!strcmp(sub, "check") && optind >= argc - 1) {
		rc = check(&set, optind < argc ? argv[optind] : NULL);
	} else {
		usage(stderr);
		rc = 2;
	}
out:
	config_free(cfg);
	return rc;
}
