/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RULES_H
#define LANNER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config/priority.h"
#include "rules/field.h"

/*
 * The rules engine: loads Falco-compatible rule files (FALCO-COMPAT.md section 1), compiles
 * conditions against the registered field sources, indexes rules by event type and evaluates
 * events. It knows nothing of the kernel or the gateway.
 *
 * Life of a ruleset:
 *	r = rules_new();
 *	rules_add_source(r, &syscall_field_source);	 (every source first)
 *	rules_load_file(r, "a.yaml"); rules_load_file(r, "b.yaml");
 *	rules_compile(r);				 (errors via the reporter)
 *	ev = rules_eval_new(r);				 (one per evaluating thread)
 *	rules_eval(ev, source_index, event, on_match, ctx);
 * A compiled ruleset is immutable and may be shared by threads, each with its own rules_eval.
 */

struct rules;
struct rule;
struct rules_eval;

enum rules_severity { RULES_WARNING, RULES_ERROR };

/* Where and what: "rules.yaml:41:12: error: rule 'X': unknown field 'proc.nme' (did you ...)" */
struct rules_diag {
	enum rules_severity severity;
	const char *file; /* NULL for an error without a file */
	int line, column; /* 1-based; 0 when unknown */
	const char *item; /* "rule 'Write below etc'", "macro 'spawned_process'" or NULL */
	const char *msg;
};

typedef void (*rules_report_fn)(void *ctx, const struct rules_diag *d);

enum rules_matching { RULES_MATCH_FIRST, RULES_MATCH_ALL };

/* Constructor; reports go to stderr as "file:line:col: error: ..." until set_reporter. */
struct rules *rules_new(void);
/* Accepts NULL. Must not be called while an evaluator of it is alive. */
void rules_free(struct rules *r);
void rules_set_reporter(struct rules *r, rules_report_fn fn, void *ctx);
void rules_set_matching(struct rules *r, enum rules_matching m);

/* Register a field source (borrowed, must outlive r). Before any load. Returns its index. */
int rules_add_source(struct rules *r, const struct field_source *src);
size_t rules_source_count(const struct rules *r);
const struct field_source *rules_source_at(const struct rules *r, size_t i);
/* Index of the source named name, or -ENOENT. */
int rules_source_index(const struct rules *r, const char *name);

/*
 * Load one rules file (or an in-memory buffer named `name` in diagnostics). Items accumulate in
 * order across calls, so later files override earlier ones. Returns 0, or -EINVAL after
 * reporting errors (YAML syntax, schema); -errno when the file cannot be read.
 */
int rules_load_file(struct rules *r, const char *path);
int rules_load_buffer(struct rules *r, const char *name, const char *buf, size_t len);

/*
 * Expand lists and macros, compile every enabled rule, build the event-type index. Returns 0,
 * or -EINVAL when any error was reported (the ruleset is then unusable).
 */
int rules_compile(struct rules *r);

/* Counters of what the reporter saw. */
unsigned rules_error_count(const struct rules *r);
unsigned rules_warning_count(const struct rules *r);

/* Introspection of the loaded rules, in definition order (disabled ones included). */
size_t rules_count(const struct rules *r);
const struct rule *rules_at(const struct rules *r, size_t i);
const struct rule *rules_find(const struct rules *r, const char *name);

const char *rule_name(const struct rule *rule);
const char *rule_desc(const struct rule *rule);
const char *rule_source(const struct rule *rule);
enum priority rule_priority(const struct rule *rule);
bool rule_enabled(const struct rule *rule);
size_t rule_tag_count(const struct rule *rule);
const char *rule_tag(const struct rule *rule, size_t i); /* sorted */
size_t rule_action_count(const struct rule *rule);
const char *rule_action(const struct rule *rule, size_t i); /* `actions: [...]`, in order */
/* The compiled event-type set: bitmap over the rule's source's event types. */
bool rule_has_event_type(const struct rule *rule, unsigned type);
/*
 * Whether rules_compile compiled the rule (false before compiling, after errors, and for rules
 * of an unregistered source or skipped by skip-if-unknown-filter).
 */
bool rule_compiled(const struct rule *rule);
/* Where the rule was defined. */
const char *rule_file(const struct rule *rule);
int rule_line(const struct rule *rule);

/*
 * The union over enabled rules of source `source_index` of their event-type sets: what the
 * kernel side must capture. Fills bitmap (n_event_types bits, caller-allocated, zeroed here).
 */
void rules_event_types(const struct rules *r, int source_index, uint64_t *bitmap, size_t words);

/* Per-thread evaluation state: field cache and scratch. NULL with errno set. */
struct rules_eval *rules_eval_new(const struct rules *r);
void rules_eval_free(struct rules_eval *ev);

/* Called for each matching rule; `event` is the one passed to rules_eval. */
typedef void (*rules_match_fn)(void *ctx, const struct rule *rule, const void *event);

/*
 * Evaluate one event of source source_index against the rules indexed under its event type.
 * Calls on_match per match (only the first with RULES_MATCH_FIRST). Returns the number of
 * matches. Allocates nothing once warm.
 */
int rules_eval(struct rules_eval *ev, int source_index, const void *event, rules_match_fn on_match,
	       void *ctx);

/*
 * Render the rule's output for the event currently being evaluated (call from on_match, or
 * with the same event): *text gets the rendered output ("%proc.name" substituted, <NA> for
 * missing), *fields an object with every %field of the output plus evt.time (numbers as
 * numbers, missing as null). Both owned by the caller (free / json_decref). 0 or -ENOMEM.
 */
int rules_format(struct rules_eval *ev, const struct rule *rule, const void *event, char **text,
		 json_t **fields);

#endif
