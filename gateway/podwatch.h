/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_PODWATCH_H
#define LANNER_GATEWAY_PODWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "detector/podmeta.h"

/*
 * Pod metadata for syscall alerts: lists this node's pods through the Kubernetes API
 * (GET /api/v1/pods?fieldSelector=spec.nodeName=NODE, paged), then watches them from the list's
 * resourceVersion (a streamed answer of JSON lines, parsed line by line as it arrives), and
 * keeps a podmeta table current for the detector. Runs on the gateway loop, with its own HTTP
 * client and Kubernetes client (response/k8s.h).
 *
 * A watch that ends is resumed from the last resourceVersion seen (bookmarks included); a
 * 410 Gone (HTTP status or an ERROR event) leads to a relist; connection errors and other
 * statuses are retried with exponential backoff (0.5 s doubling to 30 s). A relist replaces the
 * table's content (pods deleted meanwhile go). Without credentials, or while the API cannot be
 * reached, the table stays as it is (empty at first): syscall alerts simply lack those fields.
 * The reason is logged once per outage.
 */

extern const struct config_option podwatch_options[]; /* declared under "kubernetes" */

struct podwatch;

struct podwatch_stats {
	uint64_t lists; /* LIST sequences completed */
	uint64_t watches; /* WATCH requests started */
	uint64_t relists_gone; /* relists after a 410 */
	uint64_t events; /* watch events applied */
	uint64_t bad_events; /* watch lines that were not a valid event */
	uint64_t errors; /* failed requests */
	bool synced; /* a list completed and the watch is up or being resumed */
};

/*
 * Reads the kubernetes.* options (and response.kubeconfig / response.context when
 * kubernetes.kubeconfig / .context are unset). Returns a podmeta table for the detector in *pm
 * (NULL when metadata is off) and the watcher (NULL when off or without credentials: the
 * reason is logged). 0, or -EINVAL on a configuration error (reported), -ENOMEM.
 */
int podwatch_start(uv_loop_t *loop, struct config *cfg, struct podmeta **pm, struct podwatch **w);

/* Stops the watcher; its memory goes once its handles closed (keep running the loop). The
 * podmeta table is not the watcher's: free it after the detector stopped. Accepts NULL. */
void podwatch_stop(struct podwatch *w);

void podwatch_get_stats(const struct podwatch *w, struct podwatch_stats *out);

/*
 * Watch-stream parsing, exposed for tests. A line buffer: feed it the bytes as they arrive; fn
 * gets each complete line (without its '\n'). A line that must be buffered (it spans pieces)
 * beyond max bytes is skipped whole and counted in `skipped`; buf grows as needed up to max.
 */
struct watch_lines {
	char *buf;
	size_t len, cap, max;
	bool skipping; /* inside an over-long line */
	uint64_t skipped;
};

void watch_lines_init(struct watch_lines *l, size_t max);
void watch_lines_release(struct watch_lines *l);
void watch_lines_clear(struct watch_lines *l);
/* 0, or -ENOMEM (the bytes are then lost: the caller restarts the stream). */
int watch_lines_feed(struct watch_lines *l, const char *data, size_t len,
		     void (*fn)(void *ctx, const char *line, size_t len), void *ctx);

enum watch_event_result {
	WATCH_EVENT_APPLIED, /* ADDED / MODIFIED / DELETED applied */
	WATCH_EVENT_BOOKMARK, /* resourceVersion advanced only */
	WATCH_EVENT_GONE, /* ERROR with code 410: relist */
	WATCH_EVENT_ERROR, /* another ERROR Status: restart the watch */
	WATCH_EVENT_BAD, /* not a watch event (bad JSON, unknown type, no object) */
};

/*
 * Apply one watch line ({"type":"ADDED","object":{Pod}}) to pm; rv (rvlen bytes) receives the
 * object's metadata.resourceVersion when it has one. msg (msglen) receives an ERROR's message.
 */
enum watch_event_result podwatch_apply_line(struct podmeta *pm, const char *line, size_t len,
					    char *rv, size_t rvlen, char *msg, size_t msglen);

#endif
