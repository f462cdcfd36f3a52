/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_FUZZ_COMMON_H
#define LANNER_FUZZ_COMMON_H

#include <stdlib.h>

#include "rules/rules.h"
#include "test_source.h"

/* Shared by the fuzz targets: quiet reporter, and a few events to evaluate and format. */

static void fuzz_quiet(void *ctx, const struct rules_diag *d)
{
	(void)ctx;
	(void)d;
}

static void fuzz_on_match(void *ctx, const struct rule *rule, const void *event)
{
	struct rules_eval *ev = ctx;
	char *text = NULL;
	json_t *fields = NULL;

	if (!rules_format(ev, rule, event, &text, &fields)) {
		free(text);
		json_decref(fields);
	}
}

static void fuzz_events(struct rules *r)
{
	static const char *const evs[] = {
		"evt.type=open|proc.name=cat|fd.name=/etc/shadow|fd.num=3|user.uid=0|"
		"proc.aname=bash,sshd|ka.user.groups=a,b|evt.is_open_read=true|evt.flagsnum=577",
		"evt.type=execve|proc.name=bash|proc.cmdline=bash -i|proc.args=ZWNobw==|"
		"ka.uri.param=user=bob|proc.env=HOME=/root|evt.time=1746622234502309868",
		"evt.type=connect|fd.sip=10.0.0.1|fd.snet=10.0.0.1|fd.ip=::1|fd.sport=22",
		"evt.type=read",
	};
	struct rules_eval *ev = rules_eval_new(r);
	struct tev tev;

	if (!ev)
		return;
	rules_set_matching(r, RULES_MATCH_ALL);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (tev_parse(&tev, evs[i]))
			abort();
		rules_eval(ev, 0, &tev, fuzz_on_match, ev);
	}
	rules_eval_free(ev);
}

#endif
