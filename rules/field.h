/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RULES_FIELD_H
#define LANNER_RULES_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The field-source interface: how an event source (syscall, k8s_audit) plugs into the rules
 * engine. The engine knows nothing of where events come from; a source registers a table of
 * fields and one extractor per field, reading from an opaque event pointer.
 */

enum field_type {
	FIELD_STRING, /* text (Falco CHARBUF / FSPATH) */
	FIELD_INT, /* int64_t (INT8..INT64, ERRNO, PID, FD) */
	FIELD_UINT, /* uint64_t (UINT*, FLAGS, MODE, UID, GID) */
	FIELD_BOOL,
	FIELD_ABSTIME, /* uint64_t ns since the epoch */
	FIELD_RELTIME, /* uint64_t ns */
	FIELD_IPADDR, /* struct field_ip */
	FIELD_IPNET, /* struct field_ip with prefix */
	FIELD_PORT, /* uint64_t */
	FIELD_LIST, /* list of strings (ka.user.groups, proc.args as list is NOT this) */
};

/* Flags of a field definition. */
#define FIELD_ARG_NONE 0u
#define FIELD_ARG_INDEX 1u /* takes [N]: proc.aname[2] */
#define FIELD_ARG_KEY 2u /* takes [key]: ka.uri.param[key], k8s.pod.label[app] */
#define FIELD_ARG_REQUIRED 4u /* the argument cannot be omitted */
#define FIELD_FLAGS_VALUE 8u /* `contains NAME` tests a flag: evt.arg.flags contains O_TRUNC */
#define FIELD_ANY_ANCESTOR 16u /* without an index, compares against every ancestor */
/*
 * The value is built per event (text rendered from arguments, a joined command line): the
 * engine tests such a check after the cheaper operands of the same and/or.
 */
#define FIELD_COSTLY 32u

/*
 * How the engine uses FIELD_ANY_ANCESTOR (with FIELD_ARG_INDEX): a condition on the field
 * without an index calls the extractor with index 1, 2, ... (arg->present, arg->index = i) until
 * it returns false (at most 64 levels), and the check holds when any of those values satisfies
 * it; `!=` holds when none is equal (and at least one exists). Values are cached per index per
 * event. Outputs (%proc.aname) call the extractor once without an index.
 */

struct field_ip {
	uint8_t family; /* 4 or 6 */
	uint8_t prefix; /* IPNET only */
	uint8_t addr[16];
};

/* Parsed field argument: proc.aname[2] -> index 2; ka.uri.param[user] -> key "user". */
struct field_arg {
	bool present;
	int64_t index;
	const char *key; /* NUL-terminated, owned by the compiled ruleset */
	size_t key_len;
};

/*
 * One extracted value. Strings and lists point into the event or into scratch memory handed to
 * the extractor; they stay valid until the engine moves to the next event.
 */
struct field_value {
	enum field_type type;
	union {
		struct {
			const char *p;
			size_t len;
		} str;
		int64_t i;
		uint64_t u;
		bool b;
		struct field_ip ip;
		struct {
			const char *const *v;
			const size_t *lens;
			size_t n;
		} list;
	};
};

/*
 * Scratch memory for extractors that must build a value (proc.cmdline = name + args). The
 * engine resets it per event; no allocation per event once warm (field_scratch_alloc grows a
 * reusable arena and only allocates when an event needs more than any before).
 */
struct field_scratch;
void *field_scratch_alloc(struct field_scratch *s, size_t len);

/*
 * Fills *out and returns true when the event has the value; returns false when it is missing
 * (a comparison on a missing value is false, `not` of it true, output shows <NA> / null).
 */
typedef bool (*field_extract_fn)(const void *event, const struct field_arg *arg,
				 struct field_scratch *scratch, struct field_value *out);

struct field_def {
	const char *name; /* "proc.aname" */
	enum field_type type;
	unsigned flags; /* FIELD_ARG_* ... */
	const char *desc; /* one line */
	field_extract_fn extract;
	/*
	 * FIELD_FLAGS_VALUE fields: map a flag name ("O_TRUNC") to its bit; NULL otherwise.
	 * Returns false for an unknown name.
	 */
	bool (*flag_value)(const char *name, uint64_t *bit);
};

struct field_source {
	const char *name; /* "syscall", "k8s_audit" */
	const struct field_def *fields;
	size_t n_fields;
	/*
	 * Event types of this source, for rule indexing: event type codes are 0..n_event_types-1
	 * and event_type_names[code] is what `evt.type = NAME` compares with (syscall names).
	 * A source without types (k8s_audit) has n_event_types = 1 and type_field = NULL.
	 */
	const char *const *event_type_names;
	size_t n_event_types;
	const char *type_field; /* "evt.type": comparisons on it give a rule's event-type set */
	unsigned (*event_type)(const void *event);
	/* Field holding the event time in ns for output_fields' evt.time; NULL if none. */
	const char *time_field;
};

/* Find a field definition by exact name; NULL when unknown. */
const struct field_def *field_source_find(const struct field_source *src, const char *name);

#endif
