/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RULES_COND_H
#define LANNER_RULES_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Private to rules/: the condition language (FALCO-COMPAT.md section 1, libsinsp grammar).
 * cond_parse() turns a condition string into an AST; every value is kept as text (numbers
 * included): the compiler converts constants according to the field type. Identifiers (names
 * without a dot) are macro references, resolved by the compiler; list names inside list values
 * are expanded by the compiler too.
 */

enum cond_kind { COND_AND, COND_OR, COND_NOT, COND_CHECK, COND_IDENT };

enum cond_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_CONTAINS,
	OP_ICONTAINS,
	OP_BCONTAINS,
	OP_STARTSWITH,
	OP_BSTARTSWITH,
	OP_ENDSWITH,
	OP_GLOB,
	OP_IGLOB,
	OP_REGEX,
	OP_IN,
	OP_INTERSECTS,
	OP_PMATCH,
	OP_EXISTS,
	OP__COUNT,
};

enum cond_xform { XF_NONE, XF_TOLOWER, XF_TOUPPER, XF_B64, XF_BASENAME, XF_LEN };

#define COND_MAX_XFORM 8
#define COND_MAX_DEPTH 1000

enum cond_rhs { RHS_NONE, RHS_VALUE, RHS_LIST, RHS_FIELD };

struct cond_field {
	char *name; /* "proc.aname" */
	char *arg; /* text between [ ], NULL without */
	uint8_t xf[COND_MAX_XFORM]; /* innermost first */
	uint8_t nxf;
	size_t off; /* offset of the field (or its first transformer) in the condition */
};

struct cond_value {
	char *s; /* NUL-terminated, unescaped */
	size_t len;
	bool quoted;
	size_t off;
};

struct cond_node {
	enum cond_kind kind;
	size_t off;
	/* AND / OR (n >= 2), NOT (n == 1) */
	struct cond_node **kids;
	size_t n;
	/* IDENT */
	char *ident;
	/* CHECK */
	struct cond_field field;
	enum cond_op op;
	enum cond_rhs rhs;
	struct cond_value *vals;
	size_t nvals;
	struct cond_field rhs_field;
};

struct cond_error {
	size_t off;
	char msg[256];
};

/* Parse a condition. NULL with err filled (errno EINVAL, or ENOMEM). */
struct cond_node *cond_parse(const char *s, size_t len, struct cond_error *err);
void cond_free(struct cond_node *n);

/* Node constructors for the compiler's rewrites (exceptions); NULL on ENOMEM. */
struct cond_node *cond_node_new(enum cond_kind kind, size_t off);
int cond_node_add(struct cond_node *parent, struct cond_node *kid);
/* Deep copy; NULL on ENOMEM. */
struct cond_node *cond_clone(const struct cond_node *n);

const char *cond_op_name(enum cond_op op);
/* Operator by name ("=", "in", "startswith"); -1 when unknown. */
int cond_op_parse(const char *name);
bool cond_op_is_list(enum cond_op op);

#endif
