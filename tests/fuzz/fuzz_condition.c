// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the input is one condition. It goes through the parser directly, then
 * through a whole rules file (as a double-quoted YAML scalar with every byte escaped) so the
 * compiler, the event-type algebra, the evaluator and the formatter see it too.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "rules/cond.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
	"- list: l\n  items: [a, '\"b c\"', l2]\n"
	"- list: l2\n  items: [/etc, \"10.0.0.0/8\"]\n"
	"- macro: m\n  condition: evt.type in (open, execve)\n"
	"- rule: fuzz\n  desc: d\n  output: \"%proc.name %fd.name %proc.aname[2]\"\n"
	"  priority: info\n  exceptions:\n    - name: e\n"
	"      fields: [proc.name, fd.name]\n      comps: [=, pmatch]\n"
	"      values: [[cat, [l2]]]\n  condition: \"";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct cond_error err;
	struct cond_node *n;
	struct rules *r;
	char *yaml, *p;

	if (!init) {
		ts_init();
		init = true;
	}
	if (size > 1 << 16)
		return 0;
	n = cond_parse((const char *)data, size, &err);
	if (n) {
		struct cond_node *c = cond_clone(n);

		cond_free(c);
	}
	cond_free(n);

	yaml = malloc(sizeof(head) + size * 4 + 8);
	if (!yaml)
		return 0;
	p = yaml + sprintf(yaml, "%s", head);
	for (size_t i = 0; i < size; i++)
		p += sprintf(p, "\\x%02x", data[i]);
	strcpy(p, "\"\n");
	r = rules_new();
	if (r) {
		rules_set_reporter(r, fuzz_quiet, NULL);
		rules_add_source(r, &ts_source);
		if (!rules_load_buffer(r, "fuzz.yaml", yaml, strlen(yaml)) && !rules_compile(r))
			fuzz_events(r);
		rules_free(r);
	}
	free(yaml);
	return 0;
}
