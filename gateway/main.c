// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>

#include "gateway/commands.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "rules", cmd_rules }, { "fields", cmd_fields },     { "replay", cmd_replay },
	{ "spool", cmd_spool }, { "response", cmd_response },
};

int main(int argc, char **argv)
{
	/* `lanner NAME ...` runs a subcommand; options or nothing run the gateway. */
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].run(argc - 1, argv + 1);
		}
		fprintf(stderr, "lanner: unknown command '%s' (try lanner --help)\n", argv[1]);
		return 2;
	}
	return cmd_run(argc, argv);
}
