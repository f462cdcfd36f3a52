/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_GATEWAY_COMMANDS_H
#define LANNER_GATEWAY_COMMANDS_H

#include <stddef.h>

#include "rules/field.h"

/*
 * Subcommands of the lanner binary. main.c dispatches `lanner NAME ...` to the function in the
 * table there, with argv[0] = NAME. Each returns the process exit status: 0 success, 1 failure
 * of what was asked (validation errors, ...), 2 usage error.
 */

int cmd_run(int argc, char **argv); /* gateway/run.c: the default, no subcommand */
int cmd_rules(int argc, char **argv); /* gateway/cmd_rules.c: rules validate|list */
int cmd_fields(int argc, char **argv); /* gateway/cmd_rules.c: fields [--source NAME] */
int cmd_replay(int argc, char **argv);
int cmd_spool(int argc, char **argv);
int cmd_response(int argc, char **argv); /* gateway/cmd_response.c: response restore|check */
/* gateway/cmd_spool.c: spool stats */ /* gateway/cmd_replay.c */

/*
 * Every field source lanner ships, NULL-terminated (gateway/sources.c): the syscall source of
 * the detector, the k8s_audit source. Register them all on a ruleset before loading rules.
 */
extern const struct field_source *const lanner_field_sources[];

/*
 * The default rules of rules/default/, embedded in the binary at build time, in load order,
 * terminated by {NULL}. Loaded (rules_load_buffer with .name as the file name) when neither -r
 * nor rules_files is given.
 */
struct embedded_file {
	const char *name; /* "rules/default/lanner_rules.yaml" */
	const char *data;
	size_t len;
};
extern const struct embedded_file lanner_default_rules[];

#endif
