// SPDX-License-Identifier: Apache-2.0
/*
 * Rules engine tests. Most cases are data files:
 *   tests/data/rules/valid/NAME.yaml + NAME.events: the rules load and compile without error;
 *     each line of NAME.events is one of
 *       EVENT => Rule A; Rule B      (exactly these rules match, in order; nothing after => = none)
 *       % EVENT => RULE :: TEXT      (rendered output of RULE for EVENT)
 *       %json EVENT => RULE :: JSON  (output_fields, compact, sorted keys)
 *       @ RULE :: KEY = VALUE        (priority, enabled, source, desc, tags, actions, types)
 *       #load A.yaml B.yaml          (first line: files to load instead of NAME.yaml)
 *     An EVENT is "evt.type=open|fd.name=/etc/shadow" (see test_source.h).
 *   tests/data/rules/invalid/NAME.yaml: lines "# expect: LINE:COL: error|warning: ITEM: MSG"
 *     (ITEM omitted when none); exactly these errors are reported (warnings listed must appear).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules/rules.h"
#include "test_source.h"

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, not shipped with gcc). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
					      void (*f)(const volatile void *));
#define HAVE_MALLOC_HOOKS 1
#endif

struct diags {
	char **v;
	size_t n;
	unsigned errors;
};

static void collect(void *ctx, const struct rules_diag *d)
{
	struct diags *ds = ctx;
	char buf[2048];

	snprintf(buf, sizeof(buf), "%d:%d: %s: %s%s%s", d->line, d->column,
		 d->severity == RULES_ERROR ? "error" : "warning", d->item ? d->item : "",
		 d->item ? ": " : "", d->msg);
	ds->v = realloc(ds->v, (ds->n + 1) * sizeof(*ds->v));
	assert_non_null(ds->v);
	ds->v[ds->n] = strdup(buf);
	assert_non_null(ds->v[ds->n]);
	ds->n++;
	if (d->severity == RULES_ERROR)
		ds->errors++;
}

static void diags_print(const struct diags *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		print_message("  diag: %s\n", ds->v[i]);
}

static void diags_free(struct diags *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->v[i]);
	free(ds->v);
	memset(ds, 0, sizeof(*ds));
}

static struct rules *new_rules(struct diags *ds)
{
	struct rules *r = rules_new();

	assert_non_null(r);
	rules_set_reporter(r, collect, ds);
	assert_int_equal(rules_add_source(r, &ts_source), 0);
	return r;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

struct matches {
	char names[16][256];
	size_t n;
};

static void on_match(void *ctx, const struct rule *rule, const void *event)
{
	struct matches *m = ctx;

	(void)event;
	assert_true(m->n < 16);
	snprintf(m->names[m->n++], sizeof(m->names[0]), "%s", rule_name(rule));
}

static void check_match_line(struct rules_eval *ev, const char *where, char *line)
{
	char *sep = strstr(line, "=>"), *exp;
	struct matches m = { 0 };
	struct tev tev;
	char got[4096] = "", want[4096] = "";

	if (!sep)
		fail_msg("%s: no '=>' in '%s'", where, line);
	*sep = '\0';
	exp = trim(sep + 2);
	if (tev_parse(&tev, trim(line)))
		fail_msg("%s: bad event '%s'", where, line);
	rules_eval(ev, 0, &tev, on_match, &m);
	for (size_t i = 0; i < m.n; i++) {
		strcat(got, i ? "; " : "");
		strncat(got, m.names[i], sizeof(got) - strlen(got) - 1);
	}
	for (char *tok = strtok(exp, ";"); tok; tok = strtok(NULL, ";")) {
		strcat(want, *want ? "; " : "");
		strncat(want, trim(tok), sizeof(want) - strlen(want) - 1);
	}
	if (strcmp(got, want))
		fail_msg("%s: event '%s': matched [%s], expected [%s]", where, line, got, want);
}

static void check_format_line(struct rules *r, struct rules_eval *ev, const char *where, char *line,
			      bool json)
{
	char *arrow = strstr(line, "=>"), *colons, *text = NULL;
	const struct rule *rule;
	json_t *fields = NULL;
	struct tev tev;
	struct matches m = { 0 };

	colons = arrow ? strstr(arrow, "::") : NULL;
	if (!arrow || !colons)
		fail_msg("%s: bad format line '%s'", where, line);
	*arrow = '\0';
	*colons = '\0';
	if (tev_parse(&tev, trim(line)))
		fail_msg("%s: bad event '%s'", where, line);
	rule = rules_find(r, trim(arrow + 2));
	if (!rule)
		fail_msg("%s: no rule '%s'", where, trim(arrow + 2));
	rules_eval(ev, 0, &tev, on_match, &m);
	assert_int_equal(rules_format(ev, rule, &tev, &text, &fields), 0);
	if (json) {
		char *dump = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);

		if (strcmp(dump, trim(colons + 2)))
			fail_msg("%s: fields %s, expected %s", where, dump, trim(colons + 2));
		free(dump);
	} else if (strcmp(text, trim(colons + 2))) {
		fail_msg("%s: output '%s', expected '%s'", where, text, trim(colons + 2));
	}
	free(text);
	json_decref(fields);
}

static void check_prop_line(struct rules *r, const char *where, char *line)
{
	char *colons = strstr(line, "::"), *eq, got[4096] = "";
	const struct rule *rule;
	const char *key, *want;

	if (!colons || !(eq = strchr(colons, '=')))
		fail_msg("%s: bad property line '%s'", where, line);
	*colons = '\0';
	*eq = '\0';
	rule = rules_find(r, trim(line + 1));
	if (!rule)
		fail_msg("%s: no rule '%s'", where, trim(line + 1));
	key = trim(colons + 2);
	want = trim(eq + 1);
	if (!strcmp(key, "priority")) {
		snprintf(got, sizeof(got), "%s", priority_name(rule_priority(rule)));
	} else if (!strcmp(key, "enabled")) {
		snprintf(got, sizeof(got), "%s", rule_enabled(rule) ? "true" : "false");
	} else if (!strcmp(key, "source")) {
		snprintf(got, sizeof(got), "%s", rule_source(rule));
	} else if (!strcmp(key, "desc")) {
		snprintf(got, sizeof(got), "%s", rule_desc(rule));
	} else if (!strcmp(key, "tags") || !strcmp(key, "actions")) {
		bool tags = !strcmp(key, "tags");
		size_t n = tags ? rule_tag_count(rule) : rule_action_count(rule);

		for (size_t i = 0; i < n; i++) {
			strcat(got, i ? "," : "");
			strcat(got, tags ? rule_tag(rule, i) : rule_action(rule, i));
		}
	} else if (!strcmp(key, "types")) {
		for (unsigned t = 0; t < ts_source.n_event_types; t++) {
			if (!rule_has_event_type(rule, t))
				continue;
			strcat(got, *got ? "," : "");
			strcat(got, ts_types[t]);
		}
		if (!*got)
			strcpy(got, "-");
	} else {
		fail_msg("%s: unknown property '%s'", where, key);
	}
	if (strcmp(got, want))
		fail_msg("%s: rule '%s' %s is '%s', expected '%s'", where, rule_name(rule), key,
			 got, want);
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

static void run_valid(const char *dir, const char *name)
{
	char path[1024], line[8192], where[1200];
	struct diags ds = { 0 };
	struct rules *r = new_rules(&ds);
	struct rules_eval *ev;
	FILE *f;
	int lineno = 0;
	bool loaded = false;

	snprintf(path, sizeof(path), "%s/%.*s.events", dir, (int)(strlen(name) - 5), name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: missing events file", path);
	if (fgets(line, sizeof(line), f) && !strncmp(line, "#load ", 6)) {
		for (char *tok = strtok(line + 6, " \n"); tok; tok = strtok(NULL, " \n")) {
			char p2[1024];

			snprintf(p2, sizeof(p2), "%s/%s", dir, tok);
			rules_load_file(r, p2);
		}
		loaded = true;
	}
	if (!loaded) {
		snprintf(where, sizeof(where), "%s/%s", dir, name);
		rules_load_file(r, where);
	}
	rules_set_matching(r, RULES_MATCH_ALL);
	rules_compile(r);
	if (ds.errors) {
		diags_print(&ds);
		fail_msg("%s: %u errors", name, ds.errors);
	}
	ev = rules_eval_new(r);
	assert_non_null(ev);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line);

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!*l || (l[0] == '#'))
			continue;
		if (!strncmp(l, "%json ", 6))
			check_format_line(r, ev, where, l + 6, true);
		else if (l[0] == '%')
			check_format_line(r, ev, where, l + 1, false);
		else if (l[0] == '@')
			check_prop_line(r, where, l);
		else
			check_match_line(ev, where, l);
	}
	fclose(f);
	rules_eval_free(ev);
	rules_free(r);
	diags_free(&ds);
}

static void run_invalid(const char *dir, const char *name)
{
	char path[1024], line[4096];
	struct diags ds = { 0 };
	struct rules *r = new_rules(&ds);
	unsigned want_errors = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rules_load_file(r, path);
	rules_compile(r);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), *e;
		bool found = false;

		if (strncmp(l, "# expect:", 9))
			continue;
		e = trim(l + 9);
		if (strstr(e, ": error: "))
			want_errors++;
		for (size_t i = 0; i < ds.n; i++)
			found |= !strcmp(ds.v[i], e);
		if (!found) {
			diags_print(&ds);
			fail_msg("%s: expected diagnostic not reported: %s", name, e);
		}
	}
	fclose(f);
	if (!want_errors)
		fail_msg("%s: no '# expect: ... error' line", name);
	if (ds.errors != want_errors) {
		diags_print(&ds);
		fail_msg("%s: %u errors, expected %u", name, ds.errors, want_errors);
	}
	assert_null(rules_eval_new(r));
	rules_free(r);
	diags_free(&ds);
}

static void run_dir(const char *sub, void (*fn)(const char *, const char *))
{
	char dir[1024];
	struct dirent **list;
	int n, ran = 0;

	snprintf(dir, sizeof(dir), "%s/rules/%s", TEST_DATA_DIR, sub);
	n = scandir(dir, &list, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;

		if (ends_with(name, ".yaml") && !ends_with(name, ".part.yaml")) {
			print_message("[ fixture ] %s/%s\n", sub, name);
			fn(dir, name);
			ran++;
		}
		free(list[i]);
	}
	free(list);
	assert_true(ran > 0);
}

static void test_valid_fixtures(void **state)
{
	(void)state;
	run_dir("valid", run_valid);
}

static void test_invalid_fixtures(void **state)
{
	(void)state;
	run_dir("invalid", run_invalid);
}

/* The upstream rulesets load and compile cleanly; the stable set needs exactly these types. */
static void test_falco_rules(void **state)
{
	static const char *const stable_types[] = {
		"execve",  "execveat",	  "open",	  "openat",    "openat2",
		"connect", "sendto",	  "sendmsg",	  "socket",    "dup",
		"dup2",	   "dup3",	  "symlink",	  "symlinkat", "link",
		"linkat",  "init_module", "finit_module", "ptrace",
	};
	char stable[1024], incub[1024];
	struct diags ds = { 0 };
	struct rules *r;
	uint64_t bm[4];
	size_t n = 0;
	FILE *f;

	(void)state;
	snprintf(stable, sizeof(stable), "%s/falco-rules/falco_rules.yaml", SHARED_DATA_DIR);
	snprintf(incub, sizeof(incub), "%s/falco-rules/falco-incubating_rules.yaml",
		 SHARED_DATA_DIR);
	f = fopen(stable, "r");
	if (!f && !getenv("CI")) {
		print_message("[  SKIP    ] %s absent\n", stable);
		skip();
	}
	assert_non_null(f);
	fclose(f);

	r = new_rules(&ds);
	assert_int_equal(rules_load_file(r, stable), 0);
	assert_int_equal(rules_compile(r), 0);
	assert_int_equal(ds.errors, 0);
	assert_int_equal(rules_count(r), 25);
	for (size_t i = 0; i < rules_count(r); i++)
		assert_non_null(rules_at(r, i));
	rules_event_types(r, 0, bm, 4);
	for (unsigned t = 0; t < ts_source.n_event_types; t++) {
		bool want = false;

		for (size_t k = 0; k < sizeof(stable_types) / sizeof(stable_types[0]); k++)
			want |= !strcmp(stable_types[k], ts_types[t]);
		if (want != !!(bm[t / 64] & (1ull << (t % 64))))
			fail_msg("event type %s: %s", ts_types[t], want ? "missing" : "unexpected");
		n += want;
	}
	assert_int_equal(n, sizeof(stable_types) / sizeof(stable_types[0]));
	rules_free(r);
	diags_free(&ds);

	r = new_rules(&ds);
	assert_int_equal(rules_load_file(r, stable), 0);
	assert_int_equal(rules_load_file(r, incub), 0);
	assert_int_equal(rules_compile(r), 0);
	if (ds.errors)
		diags_print(&ds);
	assert_int_equal(ds.errors, 0);
	assert_int_equal(rules_count(r), 56);
	rules_free(r);
	diags_free(&ds);
}

static struct rules *load_str(struct diags *ds, const char *yaml)
{
	struct rules *r = new_rules(ds);

	rules_load_buffer(r, "mem.yaml", yaml, strlen(yaml));
	rules_compile(r);
	return r;
}

/* A real Falco rule end to end: match, output text, typed output_fields. */
static void test_format(void **state)
{
	static const char *yaml =
		"- macro: open_read\n"
		"  condition: evt.type in (open, openat) and evt.is_open_read=true\n"
		"- rule: Read shadow\n"
		"  desc: d\n"
		"  condition: open_read and fd.name = /etc/shadow\n"
		"  output: \"file=%fd.name uid=%user.uid tty=%proc.tty gp=%proc.aname[2] "
		"ip=%fd.sip ok=%evt.is_open_read groups=%ka.user.groups cwd=%proc.cwd 100%\"\n"
		"  priority: warning\n"
		"  tags: [b, a]\n";
	struct diags ds = { 0 };
	struct rules *r = load_str(&ds, yaml);
	struct rules_eval *ev = rules_eval_new(r);
	struct tev tev;
	json_t *fields;
	char *text, *dump;
	const struct rule *rule;

	(void)state;
	assert_int_equal(ds.errors, 0);
	assert_non_null(ev);
	rule = rules_find(r, "Read shadow");
	assert_non_null(rule);
	assert_int_equal(rule_priority(rule), PRIORITY_WARNING);
	assert_string_equal(rule_tag(rule, 0), "a");
	assert_int_equal(
		tev_parse(&tev, "evt.type=openat|evt.is_open_read=true|fd.name=/etc/shadow|"
				"user.uid=0|proc.tty=34820|proc.aname=sh,bash,sshd|"
				"fd.sip=10.1.2.3|ka.user.groups=x,y|evt.time=1746622234502309868"),
		0);
	assert_int_equal(rules_eval(ev, 0, &tev, NULL, NULL), 1);
	assert_int_equal(rules_format(ev, rule, &tev, &text, &fields), 0);
	assert_string_equal(text, "file=/etc/shadow uid=0 tty=34820 gp=bash ip=10.1.2.3 ok=true "
				  "groups=(x,y) cwd=<NA> 100%");
	dump = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(dump, "{\"evt.is_open_read\":true,\"evt.time\":1746622234502309868,"
				  "\"fd.name\":\"/etc/shadow\",\"fd.sip\":\"10.1.2.3\","
				  "\"ka.user.groups\":[\"x\",\"y\"],\"proc.aname[2]\":\"bash\","
				  "\"proc.cwd\":null,\"proc.tty\":34820,\"user.uid\":0}");
	free(dump);
	free(text);
	json_decref(fields);
	/* Only the JSON-less form. */
	assert_int_equal(rules_format(ev, rule, &tev, &text, NULL), 0);
	free(text);
	/* A near miss: not the file. */
	assert_int_equal(
		tev_parse(&tev, "evt.type=openat|evt.is_open_read=true|fd.name=/etc/shadowx"), 0);
	assert_int_equal(rules_eval(ev, 0, &tev, NULL, NULL), 0);
	rules_eval_free(ev);
	rules_free(r);
	diags_free(&ds);
}

static void test_matching_first_all(void **state)
{
	static const char *yaml = "- rule: A\n  desc: d\n  condition: evt.type = open\n"
				  "  output: a\n  priority: info\n"
				  "- rule: B\n  desc: d\n  condition: evt.type in (open, connect)\n"
				  "  output: b\n  priority: debug\n";
	struct diags ds = { 0 };
	struct rules *r = load_str(&ds, yaml);
	struct rules_eval *ev;
	struct matches m = { 0 };
	struct tev tev;

	(void)state;
	assert_int_equal(ds.errors, 0);
	ev = rules_eval_new(r);
	assert_int_equal(tev_parse(&tev, "evt.type=open"), 0);
	assert_int_equal(rules_eval(ev, 0, &tev, on_match, &m), 1);
	assert_string_equal(m.names[0], "A");
	rules_set_matching(r, RULES_MATCH_ALL);
	m.n = 0;
	assert_int_equal(rules_eval(ev, 0, &tev, on_match, &m), 2);
	assert_string_equal(m.names[1], "B");
	assert_int_equal(tev_parse(&tev, "evt.type=read"), 0);
	assert_int_equal(rules_eval(ev, 0, &tev, on_match, &m), 0);
	/* Out-of-range source and type. */
	assert_int_equal(rules_eval(ev, 7, &tev, on_match, &m), 0);
	tev.type = 100000;
	assert_int_equal(rules_eval(ev, 0, &tev, on_match, &m), 0);
	rules_eval_free(ev);
	rules_free(r);
	diags_free(&ds);
}

static char *nested(const char *open, const char *close, int depth, const char *core)
{
	size_t lo = strlen(open), lc = strlen(close), n = strlen(core);
	char *s = malloc((size_t)depth * (lo + lc) + n + 1), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, core, n);
	p += n;
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	static const char *head = "- rule: Deep\n  desc: d\n  output: o\n  priority: info\n"
				  "  condition: ";
	struct diags ds = { 0 };
	struct rules *r;
	char *cond, *yaml;

	(void)state;
	/* 999 parentheses (plus the top level) are fine ... */
	cond = nested("(", ")", 998, "evt.type = open");
	yaml = malloc(strlen(head) + strlen(cond) + 2);
	sprintf(yaml, "%s%s\n", head, cond);
	r = load_str(&ds, yaml);
	assert_int_equal(ds.errors, 0);
	rules_free(r);
	diags_free(&ds);
	free(yaml);
	free(cond);
	/* ... 100000 are an error, not a stack overflow; so is a long chain of `not`. */
	for (int k = 0; k < 2; k++) {
		cond = k ? nested("not ", "", 100000, "evt.type = open") :
			   nested("(", ")", 100000, "evt.type = open");
		yaml = malloc(strlen(head) + strlen(cond) + 2);
		sprintf(yaml, "%s%s\n", head, cond);
		r = load_str(&ds, yaml);
		assert_int_equal(ds.errors, 1);
		assert_non_null(strstr(ds.v[0], "nested deeper than 1000 levels"));
		assert_non_null(strstr(ds.v[0], "rule 'Deep'"));
		rules_free(r);
		diags_free(&ds);
		free(yaml);
		free(cond);
	}
	/* A flat chain of 100000 `or` does not nest at all. */
	{
		size_t n = 100000, len = strlen(head) + n * 20 + 2;
		char *p;

		yaml = malloc(len);
		p = yaml + sprintf(yaml, "%sevt.type = open", head);
		for (size_t i = 1; i < n; i++)
			p += sprintf(p, " or proc.pid = %zu", i);
		strcpy(p, "\n");
		r = load_str(&ds, yaml);
		assert_int_equal(ds.errors, 0);
		rules_free(r);
		diags_free(&ds);
		free(yaml);
	}
}

#ifdef HAVE_MALLOC_HOOKS
static long n_mallocs;
static void malloc_hook(const volatile void *p, size_t size)
{
	(void)p;
	(void)size;
	n_mallocs++;
}
static void free_hook(const volatile void *p)
{
	(void)p;
}
#endif

/* Once warm, evaluating and extracting allocates nothing (regex, sets, scratch included). */
static void test_no_alloc_when_warm(void **state)
{
	char stable[1024];
	struct diags ds = { 0 };
	struct rules *r;
	struct rules_eval *ev;
	static const char *const evs[] = {
		"evt.type=openat|evt.is_open_read=true|fd.typechar=f|fd.num=3|fd.name=/etc/shadow|"
		"proc.name=cat|proc.aname=bash,sshd|user.name=root|ka.user.groups=a,b",
		"evt.type=execve|proc.name=bash|proc.pname=nginx|container.id=abc|proc.tty=0|"
		"proc.cmdline=bash -i|proc.aname=nginx,containerd-shim",
		"evt.type=connect|fd.sip=10.0.0.1|fd.net=10.0.0.1|fd.snet=10.0.0.1|fd.l4proto=tcp|"
		"proc.name=nc|fd.sport=4444",
	};
	struct tev tev[3];

	(void)state;
	snprintf(stable, sizeof(stable), "%s/falco-rules/falco_rules.yaml", SHARED_DATA_DIR);
	r = new_rules(&ds);
	if (rules_load_file(r, stable)) {
		rules_free(r);
		diags_free(&ds);
		skip();
	}
	rules_set_matching(r, RULES_MATCH_ALL);
	assert_int_equal(rules_compile(r), 0);
	ev = rules_eval_new(r);
	assert_non_null(ev);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tev_parse(&tev[i], evs[i]), 0);
	for (int k = 0; k < 10; k++)
		for (int i = 0; i < 3; i++)
			rules_eval(ev, 0, &tev[i], NULL, NULL);
#ifdef HAVE_MALLOC_HOOKS
	__sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook);
	n_mallocs = 0;
	for (int k = 0; k < 1000; k++)
		for (int i = 0; i < 3; i++)
			rules_eval(ev, 0, &tev[i], NULL, NULL);
	__sanitizer_install_malloc_and_free_hooks(NULL, NULL);
	assert_int_equal(n_mallocs, 0);
#endif
	rules_eval_free(ev);
	rules_free(r);
	diags_free(&ds);
}

static void test_api_edges(void **state)
{
	struct diags ds = { 0 };
	struct rules *r = new_rules(&ds);

	(void)state;
	assert_int_equal(rules_add_source(r, &ts_source), -EEXIST);
	assert_int_equal(rules_source_index(r, "syscall"), 0);
	assert_int_equal(rules_source_index(r, "nope"), -ENOENT);
	assert_int_equal(rules_source_count(r), 1);
	assert_ptr_equal(rules_source_at(r, 0), &ts_source);
	assert_null(rules_source_at(r, 1));
	assert_int_equal(rules_load_file(r, "/nonexistent/rules.yaml"), -ENOENT);
	assert_int_equal(ds.errors, 1);
	assert_int_equal(rules_error_count(r), 1);
	assert_null(rules_eval_new(r));
	assert_null(rules_find(r, "x"));
	assert_null(rules_at(r, 0));
	rules_free(r);
	rules_free(NULL);
	rules_eval_free(NULL);
	diags_free(&ds);

	assert_non_null(field_source_find(&ts_source, "proc.name"));
	assert_null(field_source_find(&ts_source, "proc.nam"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_fixtures),	   cmocka_unit_test(test_invalid_fixtures),
		cmocka_unit_test(test_falco_rules),	   cmocka_unit_test(test_format),
		cmocka_unit_test(test_matching_first_all), cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_no_alloc_when_warm), cmocka_unit_test(test_api_edges),
	};

	ts_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
