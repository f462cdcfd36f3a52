/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RESPONSE_RESTORE_H
#define LANNER_RESPONSE_RESTORE_H

#include <stddef.h>

#include "response/k8s.h"

/* Annotations k8s.scale_down leaves on the workload it scaled to zero. */
#define RESTORE_ANN_FROM "lanner.dev/scaled-down-from" /* previous spec.replicas */
#define RESTORE_ANN_REASON "lanner.dev/scaled-down-reason" /* the rule, or parameter reason */
#define RESTORE_ANN_AT "lanner.dev/scaled-down-at" /* RFC 3339 UTC */
#define RESTORE_ANN_ALERT "lanner.dev/scaled-down-alert" /* the alert's uuid */

/* Now as "2026-11-28T05:00:00Z" into buf (>= 21 bytes). */
void restore_format_time(char *buf, size_t len);

/* err 0 on success, else -errno; msg is readable either way (borrowed for the call). */
typedef void (*restore_done_fn)(void *data, int err, const char *msg);

/*
 * Undo k8s.scale_down on the workload ns/name (kind "deployment" or "statefulset"; NULL =
 * deployment): read its lanner.dev/scaled-down-from annotation, PATCH /scale back to that
 * count, then remove lanner's annotations. Refuses (-ENOENT) a workload lanner did not scale
 * down, and (-EBUSY) one that is no longer at 0 replicas (someone scaled it since). cb runs
 * once, on the loop. Returns 0 when started, or -errno (-EINVAL for an invalid name).
 */
int response_restore(struct k8s_client *c, const char *ns, const char *kind, const char *name,
		     restore_done_fn cb, void *data);

#endif
