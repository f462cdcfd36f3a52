/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_CONFIG_STRBUF_H
#define LANNER_CONFIG_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * A growable NUL-terminated string. Zero-initialise it; appends after a failed allocation do
 * nothing and leave oom set, so a caller checks once at the end. p is the caller's to free.
 */
struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Make room for n more bytes and the NUL; false (and oom set) when it cannot. */
bool strbuf_grow(struct strbuf *b, size_t n);

static inline void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->oom || (b->len + n + 1 > b->cap && !strbuf_grow(b, n)))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

#endif
