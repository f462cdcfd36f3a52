/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_SINK_H
#define LANNER_OUTPUTS_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "outputs/alert.h"

/*
 * The sink contract: how an alert leaves lanner (an output that notifies, or a responder that
 * acts). A sink only formats and transmits. The pipeline owns the queue, the concurrency limit,
 * retries with backoff, the spool and the metrics.
 *
 * A backend is a const struct sink_ops plus an instance struct whose first member is
 * struct sink (h2o handler style):
 *
 *	struct webhook { struct sink base; ...; };
 *	const struct sink_ops webhook_sink_ops = { .name = "webhook", .size = sizeof(struct
 *	webhook), ... };
 *
 * and one line in outputs/registry.c.
 */

struct sink;
struct http_client;

enum sink_result {
	SINK_OK = 0, /* delivered */
	SINK_RETRY, /* transient: connect error, timeout, 5xx, 429, broker down */
	SINK_FAIL, /* permanent: other 4xx, payload refused; not retried */
};

struct sink_status {
	enum sink_result result;
	int64_t retry_after_ms; /* server's Retry-After, or -1 */
	char msg[256]; /* human reason for a failure ("HTTP 503", "connect refused") */
};

/* What the pipeline hands every sink at init. Borrowed; valid until the sink is closed. */
struct sink_env {
	uv_loop_t *loop;
	struct http_client *http; /* the shared async HTTP client */
	const char *hostname;
	/*
	 * Hand a new alert (mutable, reference taken) to the pipeline, as if it came in from an
	 * input: responders report their decisions this way (source "response"). 0 or -errno.
	 */
	int (*submit)(void *ctx, struct alert *a);
	/*
	 * Queue a frozen alert (borrowed: the pipeline takes its own reference) for one named
	 * sink only, bypassing its minimumpriority: the `notify` action. -ENOENT when no sink
	 * of that name is running.
	 */
	int (*deliver_to)(void *ctx, struct alert *a, const char *sink_name);
	void *ctx;
};

struct sink_ops {
	const char *name; /* also its config section: "webhook" -> webhook.* */
	size_t size; /* size of the instance struct (first member: struct sink) */
	/* Options under "<name>."; the pipeline adds minimumpriority, maxconcurrentrequests, ... */
	const struct config_option *options;
	/* The sink is created when this key is set (non-empty, not "false"): "webhook.address". */
	const char *enable_key;
	/*
	 * Bind settings, open what must be open. 0, or -errno after reporting why on stderr;
	 * on failure init releases what it took (close is not called).
	 */
	int (*init)(struct sink *s, struct config *cfg, const struct sink_env *env);
	/*
	 * Start delivering a (frozen, borrowed until done) alert. Exactly one sink_done() call
	 * per accepted send, possibly from inside send(). Returns 0 when accepted, or -errno
	 * when it could not even start (then no sink_done() follows and it counts as a retry).
	 */
	int (*send)(struct sink *s, struct alert *a, void *token);
	/*
	 * Stop: finish or abandon in-flight sends (each still gets its sink_done(), SINK_RETRY
	 * when abandoned) and uv_close every handle. The pipeline frees the instance memory
	 * only after the loop has run the close callbacks.
	 */
	void (*close)(struct sink *s);
	/*
	 * Optional, for APIs that take many alerts in one request (Elasticsearch bulk, Loki
	 * push): deliver alerts[0..n) (frozen, borrowed until each one's done) together.
	 * tokens[i] belongs to alerts[i]; exactly one sink_done() per token, in any order,
	 * possibly from inside the call, so that a bulk answer can accept some alerts and retry
	 * others. Returns 0, or -errno when nothing was started (then no sink_done() follows and
	 * every alert counts as a retry). When set, the pipeline declares <name>.batch.size and
	 * <name>.batch.wait, groups queued alerts and calls this instead of send; one call is one
	 * request of maxconcurrentrequests.
	 */
	int (*send_batch)(struct sink *s, struct alert *const *alerts, void *const *tokens,
			  size_t n);
	/* Optional, SIGHUP: reopen files (logrotate). */
	void (*reopen)(struct sink *s);
	/* Default of <name>.maxconcurrentrequests when unset; 0 = the pipeline's (4). */
	unsigned default_concurrency;
};

typedef void (*sink_done_fn)(struct sink *s, void *token, const struct sink_status *st);

/* The common base. Fields are set by the pipeline before init; sinks read them. */
struct sink {
	const struct sink_ops *ops;
	const char *name; /* instance name, "webhook" */
	uv_loop_t *loop;
	sink_done_fn done; /* pipeline callback */
	void *owner; /* pipeline's per-sink state */
};

/* Report completion of one send. */
static inline void sink_done(struct sink *s, void *token, const struct sink_status *st)
{
	s->done(s, token, st);
}

/* Convenience for building a status. */
void sink_status_set(struct sink_status *st, enum sink_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The registry: every backend lanner knows, NULL-terminated (outputs/registry.c). */
extern const struct sink_ops *const sink_registry[];
const struct sink_ops *sink_registry_find(const char *name);

#endif
