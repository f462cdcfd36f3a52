// SPDX-License-Identifier: Apache-2.0
#include "outputs/file.h"
#include "outputs/sink.h"

extern const struct sink_ops stdout_sink_ops;
extern const struct sink_ops webhook_sink_ops;
extern const struct sink_ops slack_sink_ops;
extern const struct sink_ops mattermost_sink_ops;
extern const struct sink_ops teams_sink_ops;
extern const struct sink_ops discord_sink_ops;
extern const struct sink_ops googlechat_sink_ops;
extern const struct sink_ops loki_sink_ops;
extern const struct sink_ops elasticsearch_sink_ops;
extern const struct sink_ops alertmanager_sink_ops;
extern const struct sink_ops kafka_sink_ops;
extern const struct sink_ops syslog_sink_ops;

/* Every backend lanner knows: one line each, in --help-config order. */
/* clang-format off */
const struct sink_ops *const sink_registry[] = {
	&stdout_sink_ops,
	&file_sink_ops,
	&webhook_sink_ops,
	&slack_sink_ops,
	&mattermost_sink_ops,
	&teams_sink_ops,
	&discord_sink_ops,
	&googlechat_sink_ops,
	&loki_sink_ops,
	&elasticsearch_sink_ops,
	&alertmanager_sink_ops,
	&kafka_sink_ops,
	&syslog_sink_ops,
	NULL,
};
/* clang-format on */
