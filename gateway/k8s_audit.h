/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_K8S_AUDIT_H
#define LANNER_GATEWAY_K8S_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rules/field.h"

/*
 * The k8s_audit field source (FALCO-COMPAT.md section 4): the ka.* fields of Falco's k8saudit
 * plugin, jevt.* / json.* of its json plugin, and evt.time, over a Kubernetes audit.k8s.io
 * Event. The opaque event handed to rules_eval is a `const json_t *` (an Event object,
 * borrowed: it must stay alive while the rules evaluate and format it). Every ka.* value has
 * Falco's type for it (text, or a list of text); a JSON value that is not a string reads as its
 * compact JSON text, as in Falco.
 *
 * Where the upstream plugin's behaviour is an accident, lanner does what the field's
 * description says: ka.req.binding.subject.has_name[n] is "true"/"false" from the subjects
 * (upstream: always "true"); ka.target.pod.name is objectRef.name for pods and their
 * subresources; image.repository drops ":tag" only after the last '/' (registry:5000/app stays
 * whole) and "@digest"; add_capabilities, ka.req.service.ports and ka.sourceips list one element
 * per capability / port / address (an index argument picks one); eff_run_as_user/group read
 * securityContext.runAsUser/Group of the container, else of the pod, else "0".
 */
extern const struct field_source k8s_audit_field_source;

/*
 * The event's time in ns since the epoch: stageTimestamp, else requestReceivedTimestamp, else
 * timestamp (RFC 3339, fraction optional). 0 when none parses.
 */
int64_t k8s_audit_event_time(const json_t *event);

/* Whether a JSON value looks like an audit Event (an object with a string auditID). */
int k8s_audit_is_event(const json_t *j);

/*
 * Calls fn for each Event of an audit document: the items of an EventList ({"kind":"EventList",
 * "items":[...]}) or the document itself when it is a single Event. Items that are not Events
 * are passed too, with is_event 0, so the caller can count them. Returns the number of items
 * seen, or -EINVAL when the document is neither an EventList nor an Event.
 */
typedef void (*k8s_audit_item_fn)(void *ctx, const json_t *item, int is_event);
int k8s_audit_for_each(const json_t *doc, k8s_audit_item_fn fn, void *ctx);

#endif
