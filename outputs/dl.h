/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_DL_H
#define LANNER_OUTPUTS_DL_H

#include <stddef.h>

/*
 * Shared libraries only some configurations need (libcurl for HTTP outputs and responders,
 * librdkafka for Kafka) are loaded with dlopen() on first use, so a gateway that uses neither
 * never maps them, nor their dependency chains (gnutls, krb5, ldap, sasl2, ...): see
 * outputs/curl_dl.h and outputs/kafka_dl.h. They stay loaded for the life of the process.
 */

/*
 * dlopen(soname); NULL with err = "cannot load SONAME: dlerror() (HINT)", HINT naming what
 * provides it ("package libcurl4").
 */
void *dl_open(const char *soname, const char *hint, char *err, size_t errlen);

/* dlsym(h, name); NULL with err = "SONAME: symbol NAME: dlerror()". */
void *dl_sym(void *h, const char *soname, const char *name, char *err, size_t errlen);

#endif
