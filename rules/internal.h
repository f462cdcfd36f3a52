/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_RULES_INTERNAL_H
#define LANNER_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules/cond.h"
#include "rules/rules.h"

/* Private to rules/: the ruleset's layout, shared by load.c, compile.c, eval.c, format.c. */

/* A loaded file's text, kept so compile-time errors can point into it. */
struct src_file {
	char *name;
	char *buf;
	size_t len;
};

/* Where a piece of text came from: a YAML scalar of a file. */
struct src_loc {
	int file; /* index into rules.files, -1 when none */
	int line, col; /* 1-based position of the scalar (its first character) */
	size_t start, end; /* byte range of the scalar in the file */
	int style; /* yaml_scalar_style_t */
};

/* A condition assembled from pieces (definition + appends), each with its origin. */
struct text_piece {
	size_t off; /* offset of the piece in the assembled text */
	struct src_loc loc;
};

struct ctext {
	char *s;
	size_t len;
	struct text_piece *pieces;
	size_t n;
};

struct strvec {
	char **v;
	size_t n;
};

struct list_def {
	char *name;
	struct strvec items;
	struct src_loc loc;
	unsigned index, visibility;
	bool expanding;
};

struct macro_def {
	char *name;
	struct ctext cond;
	struct src_loc loc;
	unsigned index, visibility;
	struct cond_node *ast; /* parsed at compile time */
	bool parsed, parse_failed, expanding, used;
};

struct exception_def {
	char *name;
	struct strvec fields; /* one entry for the single-field form */
	bool single; /* `fields: name` rather than a list */
	struct strvec comps;
	/* values: for the tuple form, each value is a tuple of strvec (one per field, an entry
	 * of a list op holds several items); for the single form one strvec per value. */
	struct strvec *vals; /* n_vals * n_fields */
	size_t n_vals;
	struct src_loc loc;
};

struct cnode;
struct fmt;

struct rule {
	char *name;
	char *desc;
	struct ctext cond;
	struct ctext output;
	char *source;
	enum priority priority;
	bool enabled, warn_evttypes, skip_unknown, capture;
	int64_t capture_duration;
	struct strvec tags; /* sorted at compile */
	struct strvec actions;
	struct exception_def *exc;
	size_t n_exc;
	struct src_loc loc;
	char *file; /* borrowed from rules.files */
	unsigned index, visibility;
	/* compiled */
	int src_index; /* -1 when the source is not registered */
	struct cnode *root;
	struct fnode *flat; /* sources without event types: the one block */
	struct fnode **tflat; /* [n_types]: the block for each event type, NULL when none */
	struct fnode **blocks; /* the distinct blocks of tflat */
	size_t n_blocks;
	pcre2_code **res; /* the compiled regexes the blocks use */
	size_t n_res;
	uint64_t *types; /* bitmap over the source's event types */
	struct fmt *fmt;
	bool compiled;
	size_t order; /* position in rules.rules */
	size_t n_types; /* event types of its source */
};

/* Interned extraction slot: (field, argument, transformers). */
struct slot_def {
	const struct field_def *def;
	struct field_arg arg;
	uint8_t xf[COND_MAX_XFORM];
	uint8_t nxf;
	int src_index;
	int anc; /* index into the evaluator's ancestor cache, -1 when not iterated */
};

struct fnode;

struct bucket_ent {
	const struct fnode *flat;
	const struct rule *rule;
};

struct type_bucket {
	struct bucket_ent *ents;
	size_t n;
};

struct rules {
	rules_report_fn report;
	void *report_ctx;
	enum rules_matching matching;
	unsigned n_err, n_warn;

	const struct field_source **sources;
	size_t n_sources;

	struct src_file *files;
	size_t n_files;

	struct list_def *lists;
	size_t n_lists;
	struct macro_def *macros;
	size_t n_macros;
	struct rule **rules;
	size_t n_rules;
	unsigned counter; /* item definition counter, for visibility */

	bool compiled, compile_failed;

	/* compiled state */
	struct slot_def *slots;
	size_t n_slots;
	size_t n_memo; /* macro memo slots: n_macros * n_sources */
	size_t n_anc; /* slots iterated over ancestors (FIELD_ANY_ANCESTOR without index) */
	/* per source, per event type: the rules to evaluate, in definition order */
	struct type_bucket **index; /* [src][type] */
	size_t max_regex_ovec;
	int depth; /* compile nesting, against COND_MAX_DEPTH */
	const struct rule *cur_rule; /* for diagnostics during compile */
};

/* Compiled condition tree (compile.c builds it, eval.c walks it). */
enum cn_kind { CN_AND, CN_OR, CN_NOT, CN_TRUE, CN_FALSE, CN_TYPE, CN_CHECK, CN_MACRO };

/*
 * A rule's condition for one event type, compiled to a short program that evaluate() runs in a
 * single loop, no recursion: `acc` holds the last value; an and/or operand that decides the
 * answer jumps straight past the operands left (to where the value is used next).
 */
enum op_code {
	OPC_TEST, /* acc = the check `leaf` */
	OPC_TYPE, /* acc = the event type is in leaf->types (sources without per-type blocks) */
	OPC_TRUE,
	OPC_FALSE,
	OPC_NOT, /* acc = !acc */
	OPC_JF, /* when !acc, go to `target` */
	OPC_JT, /* when acc, go to `target` */
	OPC_MEMO, /* macro `memo` already known for this event: acc = it, go to `target` */
	OPC_STORE, /* remember acc as macro `memo`'s value for this event */
	OPC_END, /* the rule's answer is acc */
};

struct fnode {
	uint8_t kind; /* enum op_code */
	int32_t memo; /* OPC_MEMO, OPC_STORE: per-event memo slot of the macro */
	uint32_t target; /* jumps, OPC_MEMO: index of the next op */
	const struct cnode *leaf; /* OPC_TEST, OPC_TYPE */
};

/* How a check compares: chosen at compile time from the field type and operator. */
enum cn_cmp {
	CMP_STR, /* string operators on text (numbers rendered as text when asked) */
	CMP_NUM, /* numeric comparisons and sets */
	CMP_BOOL,
	CMP_IP, /* addresses and networks */
	CMP_FLAGS, /* contains NAME on a FIELD_FLAGS_VALUE field: bit test */
	CMP_FIELD, /* val(field) on the right */
};

struct cval {
	char *s; /* string constant (lower-cased for icontains/iglob), bytes for b* ops */
	size_t len;
	int64_t i; /* numeric constant: i when !big, else u (> INT64_MAX) */
	uint64_t u;
	bool big;
	bool b;
	struct field_ip ip; /* prefix = bits compared */
};

struct strset_ent {
	uint64_t h;
	const char *s;
	uint32_t len;
	uint32_t idx; /* index of the value in its node's vals */
};

struct strset {
	struct strset_ent *ent;
	size_t cap; /* power of two, 0 when empty */
	size_t n;
};

/* A check's fast path (eval_leaf), chosen at compile time: a string operator on a string. */
enum cn_fast {
	FAST_NONE,
	FAST_EQ,
	FAST_NE,
	FAST_STARTSWITH,
	FAST_ENDSWITH,
	FAST_CONTAINS,
	FAST_IN_FEW,
	FAST_IN_SET
};

struct cnode {
	uint8_t kind, op, cmp;
	uint8_t fast; /* enum cn_fast */
	bool anc; /* any-ancestor field: iterate indexes 1.. */
	bool anc_ne; /* any-ancestor `!=`: compiled as `=`, true when no ancestor equals */
	bool text_lhs; /* numeric field under a string operator: render as text */
	int slot; /* LHS slot */
	int rhs_slot; /* CMP_FIELD */
	size_t n, cap;
	struct cnode **kids;
	struct cval *vals;
	size_t nvals;
	struct strset set; /* in / intersects / pmatch on strings */
	pcre2_code *re;
	uint64_t *types; /* CN_TYPE: bitmap over the source's event types */
};

bool strset_has(const struct strset *s, const char *p, size_t len);
uint64_t strset_hash(const char *p, size_t len);
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool icase);

/* Diagnostics (rules.c). loc may be NULL; off is an offset inside a ctext (or SIZE_MAX). */
void rules_diag(struct rules *r, enum rules_severity sev, const struct src_loc *loc,
		const char *item, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An error about a whole file (cannot open, ...): "path: error: msg". */
void rules_diag_file(struct rules *r, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Diagnostic at offset `off` of an assembled text: maps back into its file. */
void rules_diag_text(struct rules *r, enum rules_severity sev, const struct ctext *t, size_t off,
		     const char *item, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

void strvec_clear(struct strvec *v);
int strvec_push(struct strvec *v, const char *s, size_t len);
void ctext_clear(struct ctext *t);
/* Append text with its origin; sep is inserted first when t is not empty (" " for appends). */
int ctext_append(struct ctext *t, const char *sep, const char *s, size_t len,
		 const struct src_loc *loc);
void exception_clear(struct exception_def *e);
void rule_free_compiled(struct rule *rule);
void rule_destroy(struct rule *rule);

/* Item lookup honouring visibility: defined (first) before `visibility`. */
struct list_def *rules_list_visible(struct rules *r, const char *name, unsigned visibility);
struct macro_def *rules_macro_visible(struct rules *r, const char *name, unsigned visibility);

/* compile.c */
int rules_compile_all(struct rules *r);
void cnode_free(struct cnode *n);

/* format.c */
struct fmt *fmt_compile(struct rules *r, struct rule *rule);
void fmt_free(struct fmt *f);

/* Intern an extraction slot; returns its index or -ENOMEM. arg->key is copied. */
int rules_slot(struct rules *r, int src_index, const struct field_def *def,
	       const struct field_arg *arg, const uint8_t *xf, uint8_t nxf);

/* Resolve "name" (+ optional "[arg]" text) in a source, with the evt.arg.X key fallback. */
const struct field_def *rules_resolve_field(const struct field_source *src, const char *name,
					    const char *argtext, struct field_arg *arg, char *err,
					    size_t errlen);

/* eval.c: value of a slot for the current event (NULL when missing). */
struct rules_eval;
const struct field_value *eval_slot(struct rules_eval *ev, int slot, const void *event);
void eval_begin(struct rules_eval *ev, const void *event);
int value_to_text(const struct field_value *v, char *buf, size_t len); /* snprintf-like */

#endif
