// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/suggest.h"

size_t suggest_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row, best = cap;

	if ((la > lb ? la - lb : lb - la) >= cap)
		return cap;
	row = malloc((lb + 1) * sizeof(*row));
	if (!row)
		return cap;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], row_min;

		row[0] = i;
		row_min = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			size_t v = diag + cost;

			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			if (up + 1 < v)
				v = up + 1;
			row[j] = v;
			diag = up;
			if (v < row_min)
				row_min = v;
		}
		/* Every path through this row already costs more than the cap. */
		if (row_min >= cap)
			goto out;
	}
	best = row[lb] < cap ? row[lb] : cap;
out:
	free(row);
	return best;
}

const char *suggest_closest(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word);
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	size_t best = limit + 1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = suggest_distance(word, candidates[i], best);

		if (d < best) {
			best = d;
			pick = candidates[i];
		}
	}
	return pick;
}
