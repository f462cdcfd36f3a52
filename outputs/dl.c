// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <stdio.h>

#include "outputs/dl.h"

void *dl_open(const char *soname, const char *hint, char *err, size_t errlen)
{
	/* RTLD_NOW: a library that cannot be completed fails here, not in the middle of a call. */
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		const char *why = dlerror();

		snprintf(err, errlen, "cannot load %s: %s (%s)", soname,
			 why ? why : "unknown error", hint);
	}
	return h;
}

void *dl_sym(void *h, const char *soname, const char *name, char *err, size_t errlen)
{
	void *p;

	dlerror();
	p = dlsym(h, name);
	if (!p) {
		const char *why = dlerror();

		snprintf(err, errlen, "%s: symbol %s: %s", soname, name,
			 why ? why : "resolves to NULL");
	}
	return p;
}
