// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config/log.h"
#include "outputs/file.h"
#include "outputs/line_writer.h"

struct file_settings {
	const char *path;
};

struct file_sink {
	struct sink base;
	struct file_settings set;
	struct line_writer *w;
};

static const struct config_option file_options[] = {
	{ .key = "path",
	  .type = CONFIG_STRING,
	  .offset = offsetof(struct file_settings, path),
	  .help = "append alerts as JSON lines to this file (reopened on SIGHUP)" },
	{ .key = NULL },
};

static void on_line_done(void *ctx, void *token, int err)
{
	struct file_sink *f = ctx;
	struct sink_status st;

	if (err)
		sink_status_set(&st, SINK_RETRY, "%s: %s", f->set.path, strerror(-err));
	else
		sink_status_set(&st, SINK_OK, "written");
	sink_done(&f->base, token, &st);
}

static int file_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct file_sink *f = (struct file_sink *)s;
	int err;

	err = config_bind(cfg, s->ops->name, file_options, &f->set);
	if (err)
		return err;
	if (!f->set.path || !*f->set.path) {
		log_error("file: file.path is empty");
		return -EINVAL;
	}
	f->w = line_writer_new(s->loop, -1, f->set.path, on_line_done, f);
	if (!f->w) {
		err = -errno;
		log_error("file: cannot open %s: %s", f->set.path, strerror(errno));
		return err;
	}
	return 0;
}

static int file_send(struct sink *s, struct alert *a, void *token)
{
	struct file_sink *f = (struct file_sink *)s;
	const char *json;
	size_t len;

	if (!f->w)
		return -ESHUTDOWN;
	json = alert_json(a, &len);
	return line_writer_write(f->w, json, len, token);
}

static void file_close(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;

	if (f->w)
		line_writer_close(f->w, NULL);
	f->w = NULL;
}

void file_sink_reopen(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;

	if (f->w)
		line_writer_reopen(f->w);
}

const struct sink_ops file_sink_ops = {
	.name = "file",
	.size = sizeof(struct file_sink),
	.options = file_options,
	.enable_key = "file.path",
	.init = file_init,
	.send = file_send,
	.close = file_close,
	.reopen = file_sink_reopen,
	/* Lines are batched by the writer: a deep window costs nothing and avoids drops. */
	.default_concurrency = 256,
};
