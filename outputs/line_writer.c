// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "outputs/line_writer.h"

#define LW_BATCH 256 /* lines per writev, well under IOV_MAX */
#define LW_EAGAIN_MS 10 /* someone made the fd non-blocking and it is full: wait a little */

struct lw_line {
	struct lw_line *next;
	void *token;
	size_t len; /* with the '\n' */
	char text[];
};

struct line_writer {
	uv_loop_t *loop;
	int fd;
	bool owns_fd;
	char *path;
	line_writer_done_fn done;
	void *ctx;
	void (*closed)(void *ctx);

	struct lw_line *queue, **queue_tail; /* waiting */
	struct lw_line *batch; /* in the write in flight, in order */
	size_t batch_off; /* bytes of batch's first line already written */
	uv_buf_t bufs[LW_BATCH];
	uv_fs_t req;
	/* Retry timer after EAGAIN; closing it is the writer's last act (it is freed then). */
	uv_timer_t timer;
	bool busy;
	bool reopen_pending;
	bool closing;
	bool handle_closing;
};

static void kick(struct line_writer *w);

static void timer_close_cb(uv_handle_t *h)
{
	struct line_writer *w = h->data;

	if (w->closed)
		w->closed(w->ctx);
	free(w->path);
	free(w);
}

/* Last step of close: nothing in flight any more. */
static void finish(struct line_writer *w)
{
	if (w->handle_closing)
		return;
	w->handle_closing = true;
	if (w->owns_fd && w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	uv_close((uv_handle_t *)&w->timer, timer_close_cb);
}

static void submit(struct line_writer *w);

static void on_retry_timer(uv_timer_t *t)
{
	uv_unref((uv_handle_t *)t);
	submit(t->data);
}

static void on_write(uv_fs_t *req)
{
	struct line_writer *w = req->data;
	ssize_t res = req->result;
	size_t n;

	uv_fs_req_cleanup(req);
	if (res == UV_EAGAIN || res == UV_EINTR) {
		/* The timer is unreferenced while idle; a pending retry must keep the loop alive. */
		uv_ref((uv_handle_t *)&w->timer);
		uv_timer_start(&w->timer, on_retry_timer, LW_EAGAIN_MS, 0);
		return;
	}
	/* No progress at all would resubmit forever. */
	if (res == 0 && w->batch)
		res = UV_EIO;
	/* Report every line the kernel took completely, in order. */
	n = res < 0 ? 0 : (size_t)res;
	while (w->batch && w->batch_off + n >= w->batch->len) {
		struct lw_line *l = w->batch;

		n -= l->len - w->batch_off;
		w->batch_off = 0;
		w->batch = l->next;
		w->done(w->ctx, l->token, 0);
		free(l);
	}
	w->batch_off += n;
	if (w->batch && res >= 0) {
		submit(w); /* short write: the rest of the batch */
		return;
	}
	/* An error fails what is left of the batch; later lines get their own attempt. */
	while (w->batch) {
		struct lw_line *l = w->batch;

		w->batch = l->next;
		w->done(w->ctx, l->token, (int)res);
		free(l);
	}
	w->batch_off = 0;
	w->busy = false;
	kick(w);
}

/* (Re)submit the batch from batch_off on. */
static void submit(struct line_writer *w)
{
	struct lw_line *l;
	unsigned n = 0;
	int err;

	for (l = w->batch; l; l = l->next, n++) {
		size_t off = n == 0 ? w->batch_off : 0;

		w->bufs[n] = uv_buf_init(l->text + off, (unsigned)(l->len - off));
	}
	w->req.data = w;
	err = uv_fs_write(w->loop, &w->req, w->fd, w->bufs, n, -1, on_write);
	if (err < 0) {
		/* Could not even queue the work: complete as a failed write. */
		w->req.result = err;
		w->req.fs_type = UV_FS_WRITE;
		on_write(&w->req);
	}
}

static void on_open(uv_fs_t *req)
{
	struct line_writer *w = req->data;
	ssize_t fd = req->result;

	uv_fs_req_cleanup(req);
	if (fd < 0) {
		log_warn("reopen %s: %s (still writing to the old file)", w->path,
			 uv_strerror((int)fd));
	} else {
		close(w->fd);
		w->fd = (int)fd;
	}
	w->busy = false;
	kick(w);
}

/* Start the next step if idle: a pending reopen first, then the next batch. */
static void kick(struct line_writer *w)
{
	struct lw_line **tail;
	unsigned n;
	int err;

	if (w->busy)
		return;
	if (w->reopen_pending && !w->closing && w->path) {
		w->reopen_pending = false;
		w->busy = true;
		w->req.data = w;
		err = uv_fs_open(w->loop, &w->req, w->path,
				 O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640, on_open);
		if (err < 0) {
			w->req.result = err;
			on_open(&w->req);
		}
		return;
	}
	if (!w->queue) {
		if (w->closing)
			finish(w);
		return;
	}
	/* Take up to LW_BATCH queued lines. */
	w->batch = w->queue;
	for (n = 1, tail = &w->queue->next; *tail && n < LW_BATCH; n++)
		tail = &(*tail)->next;
	w->queue = *tail;
	*tail = NULL;
	if (!w->queue)
		w->queue_tail = &w->queue;
	w->batch_off = 0;
	w->busy = true;
	submit(w);
}

struct line_writer *line_writer_new(uv_loop_t *loop, int fd, const char *path,
				    line_writer_done_fn done, void *ctx)
{
	struct line_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->done = done;
	w->ctx = ctx;
	w->queue_tail = &w->queue;
	w->fd = fd;
	if (path) {
		w->path = strdup(path);
		if (!w->path) {
			err = -ENOMEM;
			goto err_free;
		}
		w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (w->fd < 0) {
			err = -errno;
			goto err_free;
		}
		w->owns_fd = true;
	}
	err = uv_timer_init(loop, &w->timer);
	if (err < 0)
		goto err_close;
	w->timer.data = w;
	uv_unref((uv_handle_t *)&w->timer);
	return w;

err_close:
	if (w->owns_fd)
		close(w->fd);
err_free:
	free(w->path);
	free(w);
	errno = -err;
	return NULL;
}

int line_writer_write(struct line_writer *w, const char *text, size_t len, void *token)
{
	struct lw_line *l;

	if (w->closing)
		return -ESHUTDOWN;
	l = malloc(sizeof(*l) + len + 1);
	if (!l)
		return -ENOMEM;
	l->next = NULL;
	l->token = token;
	l->len = len + 1;
	memcpy(l->text, text, len);
	l->text[len] = '\n';
	*w->queue_tail = l;
	w->queue_tail = &l->next;
	kick(w);
	return 0;
}

void line_writer_reopen(struct line_writer *w)
{
	if (!w->path || w->closing)
		return;
	w->reopen_pending = true;
	kick(w);
}

void line_writer_close(struct line_writer *w, void (*closed)(void *ctx))
{
	if (w->closing)
		return;
	w->closing = true;
	w->closed = closed;
	while (w->queue) {
		struct lw_line *l = w->queue;

		w->queue = l->next;
		w->done(w->ctx, l->token, -ECANCELED);
		free(l);
	}
	w->queue_tail = &w->queue;
	if (!w->busy)
		finish(w);
}
