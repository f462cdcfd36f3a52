/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_CONFIG_H
#define LANNER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Table-driven configuration (nginx ngx_command_t, h2o configurator).
 *
 * Every module declares a table of options; the loader reads YAML files, the environment and
 * `-o key=value` overrides into one tree of values that remember where they came from, and then
 * binds each table into the module's settings struct through `offsetof`.
 *
 * Keys are dotted paths, matched case-insensitively ("webhook.address" == "Webhook.Address").
 * Precedence: table default < file < environment < -o override.
 * Environment variable of a key: the upper-cased path with '.' -> '_' ("SLACK_WEBHOOKURL",
 * "LISTENPORT", "QUEUE_MAX_ALERTS"); lists are "a,b,c", maps "k:v,k:v".
 *
 * Diagnostics carry an origin: "lanner.yaml:12: error: webhook.method: expected one of POST,
 * PUT, got 'GET'", "env WEBHOOK_METHOD: ...", "-o webhook.method=GET: ...". An unknown key is a
 * warning naming the closest declared key; a wrong type or value is an error.
 */

struct config;

enum config_type {
	CONFIG_BOOL, /* bool; true/false/yes/no/on/off/1/0 */
	CONFIG_INT, /* int64_t, checked against [min, max] */
	CONFIG_DURATION, /* int64_t milliseconds; "250ms", "10s", "5m", "1h"; a bare number is seconds */
	CONFIG_SIZE, /* uint64_t bytes; "512", "64k", "64KiB", "10MB", "1G" (k = 1024) */
	CONFIG_STRING, /* const char *, NULL when unset (or empty); owned by the config */
	CONFIG_ENUM, /* int index into choices[], matched case-insensitively; -1 if unset */
	CONFIG_STRLIST, /* struct config_strlist; YAML sequence or "a,b" */
	CONFIG_MAP, /* struct config_map; YAML mapping of scalars or "k:v,k:v" */
	CONFIG_CUSTOM, /* parsed by option->parse from the scalar text */
};
/*
 * An empty value ("key:", "-o key=") of a BOOL, INT, DURATION, SIZE or ENUM key means its table
 * default. A key unset and without default binds the type's zero (false, 0, NULL, {0}, -1 for an
 * ENUM); a CUSTOM one is left untouched. CUSTOM values are parsed (and their errors reported) by
 * config_bind(); config_check() checks only their shape.
 */

struct config_strlist {
	size_t n;
	const char *const *v; /* owned by the config */
};

struct config_map {
	size_t n;
	const char *const *keys; /* owned by the config; in file order */
	const char *const *values;
};

struct config_option {
	const char *key; /* dotted path, lower case; NULL ends a table */
	enum config_type type;
	const char *def; /* default, as the text a user would write; NULL = unset */
	size_t offset; /* offsetof(settings struct, member) */
	int64_t min, max; /* CONFIG_INT / DURATION / SIZE bounds when max > min */
	const char *const *choices; /* CONFIG_ENUM: NULL-terminated */
	/*
	 * CONFIG_CUSTOM: parse text into dst; return 0, or -EINVAL with a reason in err (reported
	 * as "key: <err>"; "key: invalid value '<text>'" when err is left empty).
	 */
	int (*parse)(const char *text, void *dst, char *err, size_t errlen);
	const char *help; /* one line, for `lanner --help-config` and the README */
};

enum config_severity { CONFIG_WARNING, CONFIG_ERROR };

/* Receives every diagnostic; `where` is "file:line", "env NAME" or "-o key=value". */
typedef void (*config_report_fn)(void *ctx, enum config_severity sev, const char *where,
				 const char *msg);

/* Constructor: an empty configuration. Reports go to stderr until config_set_reporter(). */
struct config *config_new(void);
/* Frees the tree and every string handed out by config_bind(). Accepts NULL. */
void config_free(struct config *cfg);
void config_set_reporter(struct config *cfg, config_report_fn fn, void *ctx);

/*
 * Declare a table under a prefix ("" for top level, "webhook" for webhook.*). The table is
 * borrowed and must outlive cfg. Declaring the same key twice returns -EEXIST.
 */
int config_declare(struct config *cfg, const char *prefix, const struct config_option *table);

/* Merge a YAML file / buffer. Syntax errors are reported with file:line and return -EINVAL. */
int config_load_file(struct config *cfg, const char *path);
int config_load_buffer(struct config *cfg, const char *name, const char *buf, size_t len);
/*
 * Merge variables of declared keys from envp (NULL = environ). A copy is kept and looked up
 * when a key is resolved, so tables declared after this call see their variables too; an empty
 * variable counts as unset.
 */
int config_load_env(struct config *cfg, char *const *envp);
/* Merge one "key=value" override. Returns -EINVAL when it has no '='. */
int config_set(struct config *cfg, const char *assignment);

/*
 * Check every value against the declared tables: unknown keys are warnings (with the closest
 * declared key), wrong types and values are errors. Returns 0 or -EINVAL when any error was
 * reported. Call after all loads and declarations.
 */
int config_check(struct config *cfg);

/*
 * Fill the settings struct at base from the table declared under prefix (defaults for what
 * is unset). Strings, lists and maps point into cfg. Returns 0 or -EINVAL (already reported).
 */
int config_bind(struct config *cfg, const char *prefix, const struct config_option *table,
		void *base);

/* True when key has a non-empty value from any origin other than the table default. */
bool config_is_set(const struct config *cfg, const char *key);
/*
 * The raw scalar text of key (after precedence, the table default last), or NULL (also for a
 * YAML list or mapping). Borrowed from cfg.
 */
const char *config_get(const struct config *cfg, const char *key);
/* "file:line" (or "env NAME", "-o ...", "default") of key's effective value; borrowed. */
const char *config_origin(const struct config *cfg, const char *key);

/* Print every declared key with type, default, env var name and help, one per line. */
void config_print_reference(const struct config *cfg, void *stream /* FILE * */);

#endif
