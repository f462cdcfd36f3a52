/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_CONFIG_SUGGEST_H
#define LANNER_CONFIG_SUGGEST_H

#include <stddef.h>

/*
 * "Did you mean ...?": the candidate closest to word by edit distance (case-insensitive), or
 * NULL when none is close enough to be a plausible typo (distance > max(2, strlen(word) / 3)).
 * The returned pointer is one of the candidates (borrowed).
 */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

/* Case-insensitive Levenshtein distance, capped at `cap` (returns cap when it is exceeded). */
size_t suggest_distance(const char *a, const char *b, size_t cap);

#endif
