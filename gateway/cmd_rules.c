// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/priority.h"
#include "gateway/commands.h"
#include "rules/rules.h"

/*
 * lanner rules validate FILE...     load FILEs in order, compile, print every diagnostic as
 *                                   "file:line:col: error|warning: ..." and a summary
 * lanner rules list [-r FILE]...    one line per rule: name, priority, source, enabled, event
 *                                   types (the embedded defaults without -r)
 * lanner fields [--source NAME]     each source's fields: name, type, argument, description
 */

struct counts {
	unsigned errors, warnings;
	bool quiet_warnings;
};

static void report(void *ctx, const struct rules_diag *d)
{
	struct counts *c = ctx;

	if (d->severity == RULES_ERROR)
		c->errors++;
	else
		c->warnings++;
	if (d->severity == RULES_WARNING && c->quiet_warnings)
		return;
	if (d->file && d->line)
		fprintf(stderr, "%s:%d:%d: ", d->file, d->line, d->column);
	else if (d->file)
		fprintf(stderr, "%s: ", d->file);
	fprintf(stderr, "%s: %s%s%s\n", d->severity == RULES_ERROR ? "error" : "warning",
		d->item ? d->item : "", d->item ? ": " : "", d->msg);
}

/* A ruleset with every shipped source registered. NULL on ENOMEM. */
static struct rules *new_ruleset(struct counts *c)
{
	struct rules *r = rules_new();

	if (!r)
		return NULL;
	rules_set_reporter(r, report, c);
	for (size_t i = 0; lanner_field_sources[i]; i++) {
		if (rules_add_source(r, lanner_field_sources[i]) < 0) {
			rules_free(r);
			return NULL;
		}
	}
	return r;
}

static int validate(int argc, char **argv)
{
	struct counts c = { 0 };
	struct rules *r;
	size_t enabled = 0, compiled = 0;
	int err;

	if (argc < 1) {
		fprintf(stderr, "usage: lanner rules validate FILE...\n");
		return 2;
	}
	r = new_ruleset(&c);
	if (!r) {
		fprintf(stderr, "lanner: out of memory\n");
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		err = rules_load_file(r, argv[i]);
		if (err == -ENOMEM)
			break;
	}
	rules_compile(r);
	for (size_t i = 0; i < rules_count(r); i++) {
		const struct rule *rule = rules_at(r, i);

		enabled += rule_enabled(rule);
		compiled += rule_compiled(rule);
	}
	printf("%s: %zu rules (%zu enabled, %zu compiled), %u error%s, %u warning%s\n",
	       c.errors ? "invalid" : "ok", rules_count(r), enabled, compiled, c.errors,
	       c.errors == 1 ? "" : "s", c.warnings, c.warnings == 1 ? "" : "s");
	rules_free(r);
	return c.errors ? 1 : 0;
}

static void print_types(const struct rule *rule, const struct field_source *fs)
{
	size_t n = 0, total = fs ? fs->n_event_types : 0;
	bool first = true;

	for (size_t t = 0; t < total; t++)
		n += rule_has_event_type(rule, (unsigned)t);
	if (!fs || !fs->type_field) {
		printf("%s", n ? "*" : "-");
		return;
	}
	if (n == 0) {
		printf("-");
		return;
	}
	if (n > total / 2) {
		/* compact: "all" or "all except a,b" */
		printf("all");
		for (size_t t = 0; t < total; t++) {
			if (rule_has_event_type(rule, (unsigned)t))
				continue;
			printf("%s%s", first ? " except " : ",", fs->event_type_names[t]);
			first = false;
		}
		return;
	}
	for (size_t t = 0; t < total; t++) {
		if (!rule_has_event_type(rule, (unsigned)t))
			continue;
		printf("%s%s", first ? "" : ",", fs->event_type_names[t]);
		first = false;
	}
}

static int list(int argc, char **argv)
{
	static const struct option opts[] = { { "rules", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct counts c = { .quiet_warnings = true };
	const char **files = NULL;
	size_t n_files = 0;
	struct rules *r = NULL;
	int opt, ret = 1;

	files = calloc((size_t)argc + 1, sizeof(*files));
	if (!files)
		return 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			files[n_files++] = optarg;
			break;
		case 'h':
			printf("usage: lanner rules list [-r FILE]...\n");
			free(files);
			return 0;
		default:
			free(files);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usage: lanner rules list [-r FILE]...\n");
		free(files);
		return 2;
	}
	r = new_ruleset(&c);
	if (!r)
		goto out;
	if (n_files) {
		for (size_t i = 0; i < n_files; i++)
			rules_load_file(r, files[i]);
	} else {
		for (size_t i = 0; lanner_default_rules[i].name; i++)
			rules_load_buffer(r, lanner_default_rules[i].name,
					  lanner_default_rules[i].data,
					  lanner_default_rules[i].len);
	}
	if (rules_compile(r)) {
		fprintf(stderr, "lanner: the rules do not compile (%u errors)\n", c.errors);
		goto out;
	}
	printf("%-60s %-13s %-9s %-7s %s\n", "RULE", "PRIORITY", "SOURCE", "ENABLED",
	       "EVENT TYPES");
	for (size_t i = 0; i < rules_count(r); i++) {
		const struct rule *rule = rules_at(r, i);
		int si = rules_source_index(r, rule_source(rule));

		printf("%-60s %-13s %-9s %-7s ", rule_name(rule),
		       priority_name(rule_priority(rule)), rule_source(rule),
		       rule_enabled(rule) ? "true" : "false");
		print_types(rule, si >= 0 ? rules_source_at(r, (size_t)si) : NULL);
		printf("\n");
	}
	ret = 0;
out:
	rules_free(r);
	free(files);
	return ret;
}

int cmd_rules(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "validate"))
		return validate(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return list(argc - 1, argv + 1);
	fprintf(stderr, "usage: lanner rules validate FILE...\n"
			"       lanner rules list [-r FILE]...\n");
	return 2;
}

static const char *type_name(enum field_type t)
{
	static const char *const names[] = {
		[FIELD_STRING] = "string", [FIELD_INT] = "int",		[FIELD_UINT] = "uint",
		[FIELD_BOOL] = "bool",	   [FIELD_ABSTIME] = "abstime", [FIELD_RELTIME] = "reltime",
		[FIELD_IPADDR] = "ipaddr", [FIELD_IPNET] = "ipnet",	[FIELD_PORT] = "port",
		[FIELD_LIST] = "list",
	};

	return (size_t)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "?";
}

static const char *arg_name(unsigned flags)
{
	if (flags & FIELD_ARG_INDEX)
		return flags & FIELD_ARG_REQUIRED ? "[N]" : "[N]?";
	if (flags & FIELD_ARG_KEY)
		return flags & FIELD_ARG_REQUIRED ? "[key]" : "[key]?";
	return "";
}

int cmd_fields(int argc, char **argv)
{
	static const struct option opts[] = { { "source", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *want = NULL;
	bool found = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			want = optarg;
			break;
		case 'h':
			printf("usage: lanner fields [--source NAME]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usage: lanner fields [--source NAME]\n");
		return 2;
	}
	for (size_t s = 0; lanner_field_sources[s]; s++) {
		const struct field_source *fs = lanner_field_sources[s];

		if (want && strcmp(want, fs->name))
			continue;
		found = true;
		printf("%sSource %s (%zu fields)\n\n", s && !want ? "\n" : "", fs->name,
		       fs->n_fields);
		printf("%-40s %-8s %-7s %s\n", "FIELD", "TYPE", "ARG", "DESCRIPTION");
		for (size_t i = 0; i < fs->n_fields; i++) {
			const struct field_def *d = &fs->fields[i];

			printf("%-40s %-8s %-7s %s\n", d->name, type_name(d->type),
			       arg_name(d->flags), d->desc ? d->desc : "");
		}
	}
	if (!found) {
		fprintf(stderr, "lanner fields: no source named '%s' (", want);
		for (size_t s = 0; lanner_field_sources[s]; s++)
			fprintf(stderr, "%s%s", s ? ", " : "", lanner_field_sources[s]->name);
		fprintf(stderr, ")\n");
		return 1;
	}
	return 0;
}
