/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_ALERT_H
#define LANNER_OUTPUTS_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/priority.h"

/*
 * The alert model: one Falco JSON alert (FALCO-COMPAT.md section 2) plus a uuid.
 *
 * An alert is built mutable (alert_new / alert_parse), enriched by the pipeline, then frozen
 * by alert_freeze(): from then on it is immutable, shared by every sink through alert_ref /
 * alert_unref, and its canonical JSON is computed once. The mutators below abort (assert) on a
 * frozen alert.
 */

struct alert;

#define ALERT_UUID_LEN 36

/* Where a field failed validation: `field` is NULL for a JSON syntax error. */
struct alert_error {
	const char *field;
	int line, column; /* of a JSON syntax error, 1-based; 0 otherwise */
	char msg[256];
};

/* What a detector or the audit route knows when a rule matched. */
struct alert_init {
	const char *rule;
	enum priority priority;
	const char *source; /* "syscall", "k8s_audit", "internal", ... */
	const char *output; /* full text, or NULL to derive nothing */
	int64_t time_ns; /* event time, ns since the epoch, UTC */
	const char *hostname; /* NULL: filled in by the pipeline */
	json_t *output_fields; /* object, stolen (jansson "_new" convention); NULL = {} */
	json_t *tags; /* array of strings, stolen; NULL = none */
	const char *uuid; /* NULL: a fresh v4 uuid */
	bool test; /* POST /test: bypasses every sink's minimumpriority */
};

/* Constructor: returns a mutable alert with one reference, or NULL with errno set. */
struct alert *alert_new(const struct alert_init *init);

/*
 * Parse and validate one Falco JSON alert as Falcosidekick does (FALCO-COMPAT.md section 3):
 * priority known, rule non-empty, time RFC 3339, output_fields an object; output optional,
 * source defaults to "syscalls", uuid kept when present and well formed, else generated.
 * Returns a mutable alert, or NULL with *err filled (errno EINVAL, or ENOMEM).
 */
struct alert *alert_parse(const char *buf, size_t len, struct alert_error *err);

/* Enrichment, on a mutable alert only. */
int alert_set_hostname(struct alert *a, const char *hostname);
/* Adds key=value to output_fields unless the key is already there. */
int alert_add_field(struct alert *a, const char *key, const char *value);
/* Adds a tag unless present; tags stay sorted. */
int alert_add_tag(struct alert *a, const char *tag);

/* Freezes the alert. Returns 0. */
int alert_freeze(struct alert *a);

struct alert *alert_ref(struct alert *a);
/* Drops a reference; frees on the last. Accepts NULL. */
void alert_unref(struct alert *a);

/* Accessors; returned pointers are borrowed for the alert's lifetime. */
const char *alert_rule(const struct alert *a);
enum priority alert_priority(const struct alert *a);
const char *alert_source(const struct alert *a);
const char *alert_output(const struct alert *a); /* "" when absent */
const char *alert_hostname(const struct alert *a); /* "" when unknown */
const char *alert_uuid(const struct alert *a);
int64_t alert_time_ns(const struct alert *a);
/* "2025-05-07T12:50:34.502309868Z" */
const char *alert_time_str(const struct alert *a);
const json_t *alert_output_fields(const struct alert *a);
const json_t *alert_tags(const struct alert *a); /* array, possibly empty */
bool alert_is_test(const struct alert *a); /* injected by POST /test: bypasses minimumpriority */

/*
 * Canonical JSON (frozen alerts only): Falco's keys in alphabetical order, compact, plus uuid:
 * {"hostname":..,"output":..,"output_fields":{..},"priority":..,"rule":..,"source":..,
 *  "tags":[..],"time":..,"uuid":..}. Borrowed; *len (if non-NULL) gets its length.
 * Rendered on first call and cached: call it from the gateway loop thread only. NULL on ENOMEM.
 */
const char *alert_json(const struct alert *a, size_t *len);

/*
 * The text line Falco prints for the alert: its `output` when there is one (Falco's output
 * already starts with "HH:MM:SS.nnnnnnnnn: Priority "), else "HH:MM:SS.nnnnnnnnn: Priority rule".
 * Caller frees; NULL on ENOMEM.
 */
char *alert_text(const struct alert *a);

/*
 * Falco's `output` for a rule match: "HH:MM:SS.nnnnnnnnn: Priority rendered", the time in local
 * time (TZ), as the detector and the audit route build it. Caller frees; NULL on ENOMEM.
 */
char *alert_compose_output(int64_t time_ns, enum priority p, const char *rendered);

/* Format ns since the epoch as RFC 3339 UTC with 9 decimals into buf (>= 31 bytes). */
void alert_format_time(int64_t time_ns, char *buf, size_t len);
/* Parse RFC 3339 ("...Z" or "+hh:mm", 0-9 decimals). Returns 0 or -EINVAL. */
int alert_parse_time(const char *s, int64_t *time_ns);
/* Fill buf (>= 37 bytes) with a random v4 uuid. */
void alert_uuid_generate(char *buf);

#endif
