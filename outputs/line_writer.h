/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_OUTPUTS_LINE_WRITER_H
#define LANNER_OUTPUTS_LINE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/*
 * Ordered, non-blocking line output to a file descriptor for the stdout and file sinks.
 *
 * Lines are written with uv_fs_write on libuv's thread pool (a pipe, a tty or a regular file
 * may all block), one write in flight at a time so lines keep their order; lines queued
 * meanwhile go out together in the next writev. Each line's completion is reported through
 * done(ctx, token, err) with err 0 or -errno, in order, on the loop thread.
 *
 * An optional path makes the writer reopen it on request (logrotate's SIGHUP): the reopen runs
 * between two writes, so no line is split across files.
 */

struct line_writer;

typedef void (*line_writer_done_fn)(void *ctx, void *token, int err);

/*
 * Constructor on loop for an open fd (borrowed: never closed) or, when path is non-NULL, for
 * path opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC with mode 0640 (owned, opened synchronously
 * here: call at init, not per event). NULL with errno set.
 */
struct line_writer *line_writer_new(uv_loop_t *loop, int fd, const char *path,
				    line_writer_done_fn done, void *ctx);

/*
 * Queue text (len bytes, copied) followed by '\n'. done() follows exactly once unless this
 * returns -errno (-ENOMEM, -ESHUTDOWN after close).
 */
int line_writer_write(struct line_writer *w, const char *text, size_t len, void *token);

/* Reopen path before the next write (no-op without a path). Errors are reported on stderr
 * and the old file stays in use. */
void line_writer_reopen(struct line_writer *w);

/*
 * Stop: lines not yet handed to the kernel complete with -ECANCELED now; a write in progress
 * finishes (its done() calls follow). The writer frees itself once nothing is in flight, then
 * calls closed(ctx) (may be NULL). Keeps the loop alive until then.
 */
void line_writer_close(struct line_writer *w, void (*closed)(void *ctx));

#endif
