// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <strings.h>

#include "config/priority.h"

static const char *const names[PRIORITY__COUNT] = {
	[PRIORITY_EMERGENCY] = "Emergency",
	[PRIORITY_ALERT] = "Alert",
	[PRIORITY_CRITICAL] = "Critical",
	[PRIORITY_ERROR] = "Error",
	[PRIORITY_WARNING] = "Warning",
	[PRIORITY_NOTICE] = "Notice",
	[PRIORITY_INFORMATIONAL] = "Informational",
	[PRIORITY_DEBUG] = "Debug",
};

int priority_parse(const char *name, enum priority *out)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; i < PRIORITY__COUNT; i++) {
		if (!strcasecmp(name, names[i])) {
			*out = (enum priority)i;
			return 0;
		}
	}
	/* Falco accepts "info" as an alias of Informational. */
	if (!strcasecmp(name, "info")) {
		*out = PRIORITY_INFORMATIONAL;
		return 0;
	}
	return -EINVAL;
}

const char *priority_name(enum priority p)
{
	if ((unsigned)p >= PRIORITY__COUNT)
		return "Unknown";
	return names[p];
}
