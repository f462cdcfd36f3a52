/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_CURL_DL_H
#define LANNER_OUTPUTS_CURL_DL_H

#include <curl/curl.h>

/*
 * libcurl, loaded on first use (outputs/dl.h): lanner does not link it, so a gateway without
 * HTTP outputs or responders never maps libcurl and its dependency chain (gnutls, krb5, ldap,
 * ssh2, rtmp, nghttp2, ...: about 3.5 MB of resident pages). Calls go through curl_fn, whose
 * members have the types of the real declarations in <curl/curl.h>:
 *
 *	if (curl_dl_load())
 *		log_error("%s", curl_dl_error());
 *	e = curl_fn.easy_init();
 *
 * (curl's compile-time curl_easy_setopt() type checks are macros around the direct call: they
 * do not apply through the table.)
 */

#define CURL_DL_SONAME "libcurl.so.4"

/* Every libcurl function lanner calls, without the curl_ prefix. */
#define CURL_DL_FUNCS(X)       \
	X(global_init)         \
	X(version_info)        \
	X(easy_init)           \
	X(easy_cleanup)        \
	X(easy_setopt)         \
	X(easy_getinfo)        \
	X(easy_strerror)       \
	X(getdate)             \
	X(multi_init)          \
	X(multi_cleanup)       \
	X(multi_setopt)        \
	X(multi_add_handle)    \
	X(multi_remove_handle) \
	X(multi_assign)        \
	X(multi_info_read)     \
	X(multi_socket_action) \
	X(slist_append)        \
	X(slist_free_all)

struct curl_dl {
#define CURL_DL_MEMBER(f) __typeof__(curl_##f) *f;
	CURL_DL_FUNCS(CURL_DL_MEMBER)
#undef CURL_DL_MEMBER
};

/* Filled by a successful curl_dl_load(); not to be called before. */
extern struct curl_dl curl_fn;

/*
 * Load libcurl once (thread-safe; later calls return the first outcome). 0, or -ELIBACC with
 * curl_dl_error() naming the library and dlerror()'s reason.
 */
int curl_dl_load(void);
const char *curl_dl_error(void);

#endif
