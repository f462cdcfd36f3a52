// SPDX-License-Identifier: Apache-2.0
#include <stddef.h>

#include "detector/event.h"
#include "gateway/commands.h"
#include "gateway/k8s_audit.h"

/* Every field source lanner ships; a new source is one line here. */
const struct field_source *const lanner_field_sources[] = {
	&syscall_field_source,
	&k8s_audit_field_source,
	NULL,
};
