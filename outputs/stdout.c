// SPDX-License-Identifier: Apache-2.0
/*
 * The stdout sink: one line per alert, Falco's JSON (default) or Falco's text line. Writes go
 * through the line writer (thread pool), so a slow pipe or terminal never blocks the loop and
 * lines keep their order. stdout's flags are left alone (no O_NONBLOCK behind anyone's back).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "outputs/line_writer.h"
#include "outputs/sink.h"

enum stdout_format { STDOUT_JSON, STDOUT_TEXT };

struct stdout_settings {
	bool enabled;
	int format;
};

struct stdout_sink {
	struct sink base;
	struct stdout_settings set;
	struct line_writer *w;
};

static const char *const format_choices[] = { "json", "text", NULL };

static const struct config_option stdout_options[] = {
	{ .key = "enabled",
	  .type = CONFIG_BOOL,
	  .def = "true",
	  .offset = offsetof(struct stdout_settings, enabled),
	  .help = "print alerts on standard output" },
	{ .key = "format",
	  .type = CONFIG_ENUM,
	  .def = "json",
	  .offset = offsetof(struct stdout_settings, format),
	  .choices = format_choices,
	  .help = "json: Falco's JSON output plus uuid, one per line; text: Falco's text line" },
	{ .key = NULL },
};

static void on_line_done(void *ctx, void *token, int err)
{
	struct sink *s = ctx;
	struct sink_status st;

	if (err)
		sink_status_set(&st, SINK_RETRY, "stdout: %s", strerror(-err));
	else
		sink_status_set(&st, SINK_OK, "written");
	sink_done(s, token, &st);
}

static int stdout_init(struct sink *s, struct config *cfg, const struct sink_env *env)
{
	struct stdout_sink *so = (struct stdout_sink *)s;
	int err;

	err = config_bind(cfg, s->ops->name, stdout_options, &so->set);
	if (err)
		return err;
	/* A daemon started with fd 1 closed would retry every alert forever: say so now. */
	if (fcntl(STDOUT_FILENO, F_GETFL) < 0 ||
	    (fcntl(STDOUT_FILENO, F_GETFL) & O_ACCMODE) == O_RDONLY) {
		log_error("stdout: standard output is closed or not writable; set stdout.enabled: "
			  "false");
		return -EBADF;
	}
	so->w = line_writer_new(s->loop, STDOUT_FILENO, NULL, on_line_done, s);
	if (!so->w) {
		err = -errno;
		log_error("stdout: %s", strerror(errno));
		return err;
	}
	return 0;
}

static int stdout_send(struct sink *s, struct alert *a, void *token)
{
	struct stdout_sink *so = (struct stdout_sink *)s;
	const char *json;
	size_t len;
	char *text;
	int err;

	if (!so->w)
		return -ESHUTDOWN;
	if (so->set.format == STDOUT_TEXT) {
		text = alert_text(a);
		if (!text)
			return -ENOMEM;
		err = line_writer_write(so->w, text, strlen(text), token);
		free(text);
		return err;
	}
	json = alert_json(a, &len);
	return line_writer_write(so->w, json, len, token);
}

static void stdout_close(struct sink *s)
{
	struct stdout_sink *so = (struct stdout_sink *)s;

	if (so->w)
		line_writer_close(so->w, NULL);
	so->w = NULL;
}

const struct sink_ops stdout_sink_ops = {
	.name = "stdout",
	.size = sizeof(struct stdout_sink),
	.options = stdout_options,
	.enable_key = "stdout.enabled",
	.init = stdout_init,
	.send = stdout_send,
	.close = stdout_close,
	/* Lines are batched by the writer: a deep window costs nothing and avoids drops. */
	.default_concurrency = 256,
};
