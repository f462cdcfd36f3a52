/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_CONFIG_PRIORITY_H
#define LANNER_CONFIG_PRIORITY_H

#include <stdbool.h>

/*
 * Falco priorities, most severe first. The numeric order is the severity order: a lower value is
 * more severe, so "at least Warning" is `p <= PRIORITY_WARNING`.
 */
enum priority {
	PRIORITY_EMERGENCY = 0,
	PRIORITY_ALERT,
	PRIORITY_CRITICAL,
	PRIORITY_ERROR,
	PRIORITY_WARNING,
	PRIORITY_NOTICE,
	PRIORITY_INFORMATIONAL,
	PRIORITY_DEBUG,
	PRIORITY__COUNT,
};

/*
 * Parse a priority name case-insensitively ("warning", "WARNING", "info" for Informational).
 * Returns 0 and sets *out, or -EINVAL for an unknown name (NULL and "" included).
 */
int priority_parse(const char *name, enum priority *out);

/* Title-case name as Falco prints it ("Informational"); "Unknown" for an out-of-range value. */
const char *priority_name(enum priority p);

/* True when p is at least as severe as min. */
static inline bool priority_at_least(enum priority p, enum priority min)
{
	return p <= min;
}

#endif
