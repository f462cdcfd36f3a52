// SPDX-License-Identifier: Apache-2.0
#include "response/restore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void restore_format_time(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct restore {
	struct k8s_client *c;
	restore_done_fn cb;
	void *data;
	char what[300]; /* "deployment shop/web" */
	char path[640];
	long long to;
};

static void restore_end(struct restore *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void restore_end(struct restore *r, int err, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->cb(r->data, err, msg);
	free(r);
}

static void on_unannotated(void *data, const struct k8s_response *resp)
{
	struct restore *r = data;

	if (!resp->ok) {
		restore_end(r, -EIO,
			    "%s: scaled back to %lld replicas, but removing the annotations "
			    "failed: %s (HTTP %ld)",
			    r->what, r->to, resp->message, resp->status);
		return;
	}
	restore_end(r, 0, "%s: restored to %lld replicas", r->what, r->to);
}

static void on_scaled(void *data, const struct k8s_response *resp)
{
	struct restore *r = data;
	json_t *body;
	int err;

	if (!resp->ok) {
		restore_end(r, -EIO, "%s: patch scale: %s (HTTP %ld)", r->what, resp->message,
			    resp->status);
		return;
	}
	body = json_pack("{s:{s:{s:n, s:n, s:n, s:n}}}", "metadata", "annotations",
			 RESTORE_ANN_FROM, RESTORE_ANN_REASON, RESTORE_ANN_AT, RESTORE_ANN_ALERT);
	err = body ? k8s_request(r->c, "PATCH", r->path, "application/merge-patch+json", body,
				 on_unannotated, r) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		restore_end(r, err, "%s: %s", r->what, strerror(-err));
}

static void on_workload(void *data, const struct k8s_response *resp)
{
	struct restore *r = data;
	const json_t *md = json_object_get(resp->body, "metadata");
	const char *from = json_string_value(
		json_object_get(json_object_get(md, "annotations"), RESTORE_ANN_FROM));
	const json_t *cur = json_object_get(json_object_get(resp->body, "spec"), "replicas");
	char path[700], *end;
	json_t *body;
	int err;

	if (!resp->ok) {
		restore_end(r, resp->status == 404 ? -ENOENT : -EIO, "%s: %s (HTTP %ld)", r->what,
			    resp->message, resp->status);
		return;
	}
	if (!from) {
		restore_end(r, -ENOENT, "%s was not scaled down by lanner (no %s annotation)",
			    r->what, RESTORE_ANN_FROM);
		return;
	}
	errno = 0;
	r->to = strtoll(from, &end, 10);
	if (errno || *end || end == from || r->to < 0) {
		restore_end(r, -EINVAL, "%s: invalid %s annotation '%s'", r->what, RESTORE_ANN_FROM,
			    from);
		return;
	}
	if (json_is_integer(cur) && json_integer_value(cur) != 0) {
		restore_end(r, -EBUSY,
			    "%s is at %lld replicas, not 0: it was scaled since lanner scaled it "
			    "down; not touching it",
			    r->what, (long long)json_integer_value(cur));
		return;
	}
	snprintf(path, sizeof(path), "%s/scale", r->path);
	body = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)r->to);
	err = body ? k8s_request(r->c, "PATCH", path, "application/merge-patch+json", body,
				 on_scaled, r) :
		     -ENOMEM;
	json_decref(body);
	if (err)
		restore_end(r, err, "%s: %s", r->what, strerror(-err));
}

int response_restore(struct k8s_client *c, const char *ns, const char *kind, const char *name,
		     restore_done_fn cb, void *data)
{
	struct restore *r;
	int err;

	if (!kind)
		kind = "deployment";
	if (!k8s_valid_name(ns) || !k8s_valid_name(name) ||
	    (strcmp(kind, "deployment") && strcmp(kind, "statefulset")))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->c = c;
	r->cb = cb;
	r->data = data;
	snprintf(r->what, sizeof(r->what), "%s %s/%s", kind, ns, name);
	snprintf(r->path, sizeof(r->path), "/apis/apps/v1/namespaces/%s/%ss/%s", ns, kind, name);
	err = k8s_request(c, "GET", r->path, NULL, NULL, on_workload, r);
	if (err)
		free(r);
	return err;
}
