/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_GATEWAY_H
#define LANNER_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"

/*
 * The running gateway: what `lanner` (cmd_run) builds on the main loop and what the HTTP routes
 * see. One per process; everything here belongs to the gateway loop thread.
 */

struct metrics;
struct metric;
struct pipeline;
struct kafka_input;
struct http_server;
struct rules;
struct ingest_worker;

/* Top-level settings (gateway_options in run.c). */
struct gateway_settings {
	const char *listenaddress;
	int64_t listenport;
	bool debug;
	bool tls_deploy;
	const char *tls_certfile;
	const char *tls_keyfile;
	const char *tls_cacertfile;
	bool tls_mutual;
	const char *bearer_token;
	uint64_t max_body;
	int64_t shutdown_timeout_ms;
	struct config_strlist rules_files;
	int rule_matching; /* enum rules_matching */
};

struct gateway {
	uv_loop_t *loop;
	struct config *cfg;
	struct gateway_settings set;
	struct metrics *metrics;
	struct metric *m_inputs; /* falcosecurity_falcosidekick_inputs_total{source,status} */
	struct pipeline *pipeline;
	struct kafka_input *kafka_input; /* kafka_input: consumer, NULL when off */
	struct http_server *http;
	struct rules *rules;
	uv_signal_t sig_int, sig_term, sig_hup;
	bool stopping;
	struct ingest_worker *ingest; /* POST / parser thread (routes.c), or NULL */
	unsigned parsing; /* POST / bodies out for parsing */
	bool pipeline_stop_due; /* stopping: the pipeline stops once parsing is 0 */
};

struct sink_ops;

/* Every sink backend the gateway runs (outputs, then the responder), NULL-terminated. */
const struct sink_ops *const *gateway_sinks(void);

/* Declare every configuration table lanner has (gateway, pipeline, every sink). 0 or -errno. */
int gateway_declare(struct config *cfg);

/*
 * Stopping: the pipeline stops (drains, then closes) now, or when the last body being parsed
 * was submitted (run.c).
 */
void gateway_stop_pipeline(struct gateway *g);

/* Register the HTTP routes (gateway/routes.c): POST /, /test, GET /healthz, /ping, /metrics. */
int routes_register(struct gateway *g);
/* Stop the routes' parser thread, once the loop ran until no body was out for parsing. */
void routes_free(struct gateway *g);

/*
 * The web UI's API under /api/v1/ (gateway/api_routes.c, docs/ui-api.md), when the "ui" sink
 * runs (ui.enabled). After routes_register. 0 or -errno.
 */
int api_routes_register(struct gateway *g);

#endif
