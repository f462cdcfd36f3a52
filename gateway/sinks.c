// SPDX-License-Identifier: Apache-2.0
#include <pthread.h>
#include <stddef.h>

#include "gateway/gateway.h"
#include "outputs/sink.h"
#include "response/responder.h"

extern const struct sink_ops ui_sink_ops; /* api_routes.c: the web UI's event store */

/*
 * Every sink the gateway can run: the outputs of outputs/registry.c, the responder, and the
 * web UI's event store (created only when ui.enabled is set).
 */
static const struct sink_ops *all[64];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
	size_t n = 0;

	for (size_t i = 0; sink_registry[i] && n < 61; i++)
		all[n++] = sink_registry[i];
	all[n++] = &responder_sink_ops;
	all[n++] = &ui_sink_ops;
	all[n] = NULL;
}

const struct sink_ops *const *gateway_sinks(void)
{
	pthread_once(&once, build);
	return all;
}
