/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_AUDIT_ROUTE_H
#define LANNER_GATEWAY_AUDIT_ROUTE_H

struct gateway;

/*
 * POST /k8s-audit: what a Kubernetes API server's audit webhook sends, an audit.k8s.io
 * EventList or one Event, optionally Content-Encoding gzip (or deflate). The compressed body is
 * bounded by http.max_body (the server answers 413 beyond it); the decompressed body by
 * AUDIT_ROUTE_INFLATE_FACTOR times that (413 with a message beyond). Every Event is evaluated
 * against the gateway's rules of source k8s_audit (g->rules), each match becomes an alert of
 * source k8s_audit submitted to the pipeline. Items that are not Events are counted
 * (lanner_k8s_audit_events_total{status="invalid"}) and reported; a body that does not parse
 * gets 400 with a message. 200 answers {"events":N,"invalid":N,"alerts":N,"rejected":N}.
 *
 * Call once, after g->http, g->metrics and g->pipeline exist. 0 or -ENOMEM.
 */
#define AUDIT_ROUTE_INFLATE_FACTOR 16
int audit_route_register(struct gateway *g);

#endif
