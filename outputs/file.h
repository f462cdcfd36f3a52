/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_FILE_H
#define LANNER_OUTPUTS_FILE_H

#include "outputs/sink.h"

/*
 * The file sink: one alert per line (canonical JSON) appended to file.path, opened
 * O_WRONLY|O_APPEND|O_CREAT with mode 0640. Writes run on libuv's thread pool in order.
 */
extern const struct sink_ops file_sink_ops;

/*
 * Reopen file.path before the next line (SIGHUP after logrotate moved the file away); also
 * file_sink_ops.reopen. A failed reopen is logged and the old file stays in use.
 */
void file_sink_reopen(struct sink *s);

#endif
