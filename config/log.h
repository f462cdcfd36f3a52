/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_CONFIG_LOG_H
#define LANNER_CONFIG_LOG_H

#include <stdbool.h>

/*
 * lanner's own log lines, on stderr: "2026-11-28T04:30:00.123Z lanner[123]: warning: msg".
 * Thread-safe (one write per line). Lives beside config because every module may log and
 * config is the one folder everything may use.
 */

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Lines above this level are dropped; default LOG_LEVEL_INFO (`debug: true` -> DEBUG). */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
