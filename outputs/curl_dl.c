// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>

#include "outputs/curl_dl.h"
#include "outputs/dl.h"

struct curl_dl curl_fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[512];

static void load(void)
{
	void *h = dl_open(CURL_DL_SONAME, "package libcurl4", load_err, sizeof(load_err));
	struct curl_dl fn;

	if (!h) {
		load_rc = -ELIBACC;
		return;
	}
#define CURL_DL_RESOLVE(f)                                                       \
	fn.f = (__typeof__(fn.f))dl_sym(h, CURL_DL_SONAME, "curl_" #f, load_err, \
					sizeof(load_err));                       \
	if (!fn.f) {                                                             \
		load_rc = -ELIBACC;                                              \
		return;                                                          \
	}
	CURL_DL_FUNCS(CURL_DL_RESOLVE)
#undef CURL_DL_RESOLVE
	/* Kept loaded for the process's lifetime: never dlclose()d. */
	curl_fn = fn;
}

int curl_dl_load(void)
{
	pthread_once(&load_once, load);
	return load_rc;
}

const char *curl_dl_error(void)
{
	return load_rc ? load_err : "";
}
