// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detector/event_json.h"
#include "gateway/commands.h"
#include "gateway/k8s_audit.h"
#include "outputs/alert.h"
#include "rules/rules.h"

/*
 * lanner replay [-r FILE]... [--source NAME] EVENTS.jsonl
 *
 * Evaluates recorded events (JSON lines, detector/event_json.h; "-" reads stdin) against the
 * rules (-r files in order, else the embedded defaults) and prints each alert as one line of
 * Falco JSON (outputs/alert.h canonical form). A summary goes to stderr: events read, bad lines,
 * alerts by rule. Exit status: 0, 1 when the rules do not compile, the events cannot be read or a
 * line was bad, 2 for a usage error.
 */

struct rule_count {
	const struct rule *rule;
	unsigned long n;
};

struct replay {
	struct rules *rules;
	struct rules_eval *ev;
	int src;
	const char *src_name;
	char hostname[256];
	struct rule_count *counts;
	size_t n_counts;
	unsigned long events, alerts;
	int err; /* first error while emitting alerts */
};

/* A reader per source: decodes a stream and feeds rules_eval. Add a line for a new source. */
struct replay_reader {
	const char *source;
	int (*run)(struct replay *rp, FILE *f, const char *name, unsigned long *bad);
};

static void count_rule(struct replay *rp, const struct rule *rule)
{
	for (size_t i = 0; i < rp->n_counts; i++) {
		if (rp->counts[i].rule == rule) {
			rp->counts[i].n++;
			return;
		}
	}
	/* n_counts < number of rules, allocated up front */
	rp->counts[rp->n_counts].rule = rule;
	rp->counts[rp->n_counts++].n = 1;
}

static json_t *tags_of(const struct rule *rule)
{
	json_t *tags = json_array();

	for (size_t i = 0; tags && i < rule_tag_count(rule); i++) {
		if (json_array_append_new(tags, json_string(rule_tag(rule, i)))) {
			json_decref(tags);
			return NULL;
		}
	}
	return tags;
}

static int emit(struct replay *rp, const struct rule *rule, const void *event, int64_t time_ns)
{
	struct alert_init init = { 0 };
	struct alert *a = NULL;
	char *text = NULL, *output = NULL;
	json_t *fields = NULL;
	const char *json;
	size_t len;
	int err;

	err = rules_format(rp->ev, rule, event, &text, &fields);
	if (err)
		return err;
	output = alert_compose_output(time_ns, rule_priority(rule), text);
	if (!output) {
		err = -ENOMEM;
		goto out;
	}
	init.rule = rule_name(rule);
	init.priority = rule_priority(rule);
	init.source = rule_source(rule);
	init.output = output;
	init.time_ns = time_ns;
	init.hostname = rp->hostname;
	init.output_fields = fields; /* stolen */
	init.tags = tags_of(rule); /* stolen */
	fields = NULL;
	a = alert_new(&init);
	if (!a || alert_freeze(a)) {
		err = -ENOMEM;
		goto out;
	}
	json = alert_json(a, &len);
	if (fwrite(json, 1, len, stdout) != len || putchar('\n') == EOF)
		err = -EIO;
	count_rule(rp, rule);
	rp->alerts++;
out:
	alert_unref(a);
	json_decref(fields);
	free(output);
	free(text);
	return err;
}

static void on_syscall_match(void *ctx, const struct rule *rule, const void *event)
{
	struct replay *rp = ctx;
	const struct syscall_event *e = event;
	int err = emit(rp, rule, event, (int64_t)e->ts);

	if (err && !rp->err)
		rp->err = err;
}

static int run_syscall(struct replay *rp, FILE *f, const char *name, unsigned long *bad)
{
	struct event_reader *r = event_reader_new();
	const struct syscall_event *e;
	int rc;

	if (!r)
		return -ENOMEM;
	event_reader_set_name(r, name);
	while ((rc = event_reader_next(r, f, &e)) == 1) {
		rp->events++;
		rules_eval(rp->ev, rp->src, e, on_syscall_match, rp);
		if (rp->err) {
			rc = rp->err;
			break;
		}
	}
	*bad = event_reader_bad_lines(r);
	event_reader_free(r);
	return rc;
}

static void on_k8s_audit_match(void *ctx, const struct rule *rule, const void *event)
{
	struct replay *rp = ctx;
	int err = emit(rp, rule, event, k8s_audit_event_time(event));

	if (err && !rp->err)
		rp->err = err;
}

/* JSON lines of audit Events; blank lines are skipped, others that are not an Event are bad. */
static int run_k8s_audit(struct replay *rp, FILE *f, const char *name, unsigned long *bad)
{
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	errno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		json_error_t jerr;
		json_t *e;
		size_t i = 0;

		lineno++;
		while (i < (size_t)len && strchr(" \t\r\n", line[i]))
			i++;
		if (i == (size_t)len)
			continue;
		e = json_loadb(line, (size_t)len, 0, &jerr);
		if (!e || !k8s_audit_is_event(e)) {
			fprintf(stderr, "%s:%lu: %s\n", name, lineno,
				e ? "not an audit Event (no auditID)" : jerr.text);
			json_decref(e);
			(*bad)++;
			continue;
		}
		rp->events++;
		rules_eval(rp->ev, rp->src, e, on_k8s_audit_match, rp);
		json_decref(e);
		if (rp->err) {
			rc = rp->err;
			break;
		}
	}
	if (!rc && ferror(f))
		rc = errno ? -errno : -EIO;
	free(line);
	return rc;
}

static const struct replay_reader readers[] = {
	{ "syscall", run_syscall },
	{ "k8s_audit", run_k8s_audit },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lanner replay [-r RULES.yaml]... [--source NAME] EVENTS.jsonl\n"
		   "  -r, --rules FILE   rules file (repeatable, loaded in order; default: the\n"
		   "                     embedded default rules)\n"
		   "  -s, --source NAME  event source of the file (default: syscall)\n"
		   "Prints each alert as one line of Falco JSON; a summary goes to stderr.\n");
}

static int load_rules(struct replay *rp, char **files, size_t n)
{
	int err = 0;

	for (size_t i = 0; lanner_field_sources[i]; i++)
		if (rules_add_source(rp->rules, lanner_field_sources[i]) < 0)
			return -ENOMEM;
	if (n) {
		for (size_t i = 0; i < n; i++)
			if (rules_load_file(rp->rules, files[i]))
				err = -EINVAL;
	} else {
		for (size_t i = 0; lanner_default_rules[i].name; i++)
			if (rules_load_buffer(rp->rules, lanner_default_rules[i].name,
					      lanner_default_rules[i].data,
					      lanner_default_rules[i].len))
				err = -EINVAL;
	}
	if (err)
		return err;
	return rules_compile(rp->rules);
}

static void summary(const struct replay *rp, unsigned long bad)
{
	fprintf(stderr, "replay: %lu events, %lu bad lines, %lu alerts\n", rp->events, bad,
		rp->alerts);
	for (size_t i = 0; i < rp->n_counts; i++)
		fprintf(stderr, "  %lu\t%s\n", rp->counts[i].n, rule_name(rp->counts[i].rule));
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replay rp = { .src_name = "syscall" };
	const struct replay_reader *reader = NULL;
	char **files = NULL;
	size_t n_files = 0;
	unsigned long bad = 0;
	FILE *f = NULL;
	int c, rc = 2, err;

	files = calloc((size_t)argc + 1, sizeof(*files));
	if (!files) {
		perror("lanner replay");
		return 1;
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "r:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			files[n_files++] = optarg;
			break;
		case 's':
			rp.src_name = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		goto out;
	}

	/* Load and compile the rules with every source registered. */
	rc = 1;
	rp.rules = rules_new();
	if (!rp.rules) {
		perror("lanner replay");
		goto out;
	}
	err = load_rules(&rp, files, n_files);
	if (err) {
		fprintf(stderr, "lanner replay: rules failed to load (%u errors)\n",
			rules_error_count(rp.rules));
		goto out;
	}
	rp.src = rules_source_index(rp.rules, rp.src_name);
	if (rp.src < 0) {
		fprintf(stderr, "lanner replay: unknown source '%s'\n", rp.src_name);
		rc = 2;
		goto out;
	}
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		if (!strcmp(readers[i].source, rp.src_name))
			reader = &readers[i];
	if (!reader) {
		fprintf(stderr, "lanner replay: no event reader for source '%s'\n", rp.src_name);
		rc = 2;
		goto out;
	}
	rp.counts = calloc(rules_count(rp.rules) + 1, sizeof(*rp.counts));
	rp.ev = rules_eval_new(rp.rules);
	if (!rp.counts || !rp.ev) {
		perror("lanner replay");
		goto out;
	}
	if (gethostname(rp.hostname, sizeof(rp.hostname) - 1))
		rp.hostname[0] = 0;

	/* Replay. */
	if (!strcmp(argv[optind], "-")) {
		f = stdin;
	} else if (!(f = fopen(argv[optind], "r"))) {
		fprintf(stderr, "lanner replay: %s: %s\n", argv[optind], strerror(errno));
		goto out;
	}
	err = reader->run(&rp, f, argv[optind], &bad);
	if (fflush(stdout) && !err)
		err = -errno;
	summary(&rp, bad);
	if (err < 0)
		fprintf(stderr, "lanner replay: %s: %s\n", argv[optind], strerror(-err));
	rc = err < 0 || bad ? 1 : 0;
out:
	if (f && f != stdin)
		fclose(f);
	rules_eval_free(rp.ev);
	rules_free(rp.rules);
	free(rp.counts);
	free(files);
	return rc;
}
