/* SPDX-License-Identifier: Apache-2.0 */
/* The loaders' one-line error messages for a human (probe.c, dmap.c). */
#ifndef LANNER_DETECTOR_ERRBUF_H
#define LANNER_DETECTOR_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (errlen bytes, always terminated); nothing when err is NULL. */
static inline void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif /* LANNER_DETECTOR_ERRBUF_H */
