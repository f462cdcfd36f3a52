// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "outputs/sink.h"

void sink_status_set(struct sink_status *st, enum sink_result r, const char *fmt, ...)
{
	va_list ap;

	st->result = r;
	st->retry_after_ms = -1;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
}

const struct sink_ops *sink_registry_find(const char *name)
{
	const struct sink_ops *const *ops;

	if (!name)
		return NULL;
	for (ops = sink_registry; *ops; ops++)
		if (strcasecmp((*ops)->name, name) == 0)
			return *ops;
	return NULL;
}
