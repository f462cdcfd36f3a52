// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>

#include "outputs/kafka_dl.h"
#include "outputs/dl.h"

struct kafka_dl kafka_fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[512];

static void load(void)
{
	void *h = dl_open(KAFKA_DL_SONAME, "package librdkafka1", load_err, sizeof(load_err));
	struct kafka_dl fn;

	if (!h) {
		load_rc = -ELIBACC;
		return;
	}
#define KAFKA_DL_RESOLVE(f)                                                           \
	fn.f = (__typeof__(fn.f))dl_sym(h, KAFKA_DL_SONAME, "rd_kafka_" #f, load_err, \
					sizeof(load_err));                            \
	if (!fn.f) {                                                                  \
		load_rc = -ELIBACC;                                                   \
		return;                                                               \
	}
	KAFKA_DL_FUNCS(KAFKA_DL_RESOLVE)
#undef KAFKA_DL_RESOLVE
	/* Kept loaded for the process's lifetime: never dlclose()d. */
	kafka_fn = fn;
}

int kafka_dl_load(void)
{
	pthread_once(&load_once, load);
	return load_rc;
}

const char *kafka_dl_error(void)
{
	return load_rc ? load_err : "";
}
