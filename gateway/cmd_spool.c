// SPDX-License-Identifier: Apache-2.0
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "gateway/commands.h"
#include "gateway/gateway.h"
#include "gateway/spool.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: lanner spool stats [-c FILE] [-o KEY=VALUE]... [--path SPOOL.db]\n"
		   "  what waits in the durable spool, per output\n");
}

/* `lanner spool stats`: the spool path comes from --path, else from the configuration. */
int cmd_spool(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "option", required_argument, NULL, 'o' },
		{ "path", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct config *cfg;
	int c, rc = 1;

	if (argc < 2 || strcmp(argv[1], "stats")) {
		usage(stderr);
		return 2;
	}
	cfg = config_new();
	if (!cfg || gateway_declare(cfg))
		goto out;
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (config_load_file(cfg, optarg))
				goto out;
			break;
		case 'o':
			if (config_set(cfg, optarg))
				goto out;
			break;
		case 'p':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (config_load_env(cfg, NULL) || config_check(cfg))
		goto out;
	if (!path)
		path = config_get(cfg, "spool.path");
	printf("spool %s\n", path);
	rc = spool_print_stats(path, stdout);
out:
	config_free(cfg);
	return rc;
}
