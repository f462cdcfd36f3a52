/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_TEST_RECEIVER_H
#define LANNER_TEST_RECEIVER_H

/*
 * Start tests/integration/receiver.py on 127.0.0.1 (any free port) for a unit test, read back
 * what it recorded, stop it. Header-only: each cmocka executable is one .c file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <jansson.h>

#define RECEIVER_PY LANNER_SOURCE_DIR "/tests/integration/receiver.py"

struct receiver {
	pid_t pid;
	int port;
	char dir[64];
	char out[128];
};

/* extra: NULL-terminated receiver flags. 0 or -errno. */
static inline int receiver_start(struct receiver *r, const char *const *extra)
{
	const char *argv[32] = { "python3", RECEIVER_PY, "--out", r->out };
	int fds[2], n = 4, i;
	char line[64];
	FILE *f;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/lanner-recv-XXXXXX");
	if (!mkdtemp(r->dir))
		return -errno;
	snprintf(r->out, sizeof(r->out), "%s/requests.jsonl", r->dir);
	argv[3] = r->out;
	for (i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe(fds) < 0)
		return -errno;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		/* Dies with the test, even when an assertion ends it early. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &r->port) != 1) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

static inline void receiver_stop(struct receiver *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	unlink(r->out);
	rmdir(r->dir);
}

/* Every recorded request, as a JSON array of objects (caller decrefs). */
static inline json_t *receiver_requests(const struct receiver *r)
{
	json_t *arr = json_array();
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(r->out, "r");

	if (!f)
		return arr;
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);

		if (j)
			json_array_append_new(arr, j);
	}
	free(line);
	fclose(f);
	return arr;
}

/* Value of header name (case-insensitive) in a recorded request, or NULL. */
static inline const char *receiver_header(const json_t *req, const char *name)
{
	const json_t *h = json_object_get(req, "headers");
	size_t i;

	for (i = 0; i < json_array_size(h); i++) {
		const json_t *kv = json_array_get(h, i);

		if (strcasecmp(json_string_value(json_array_get(kv, 0)), name) == 0)
			return json_string_value(json_array_get(kv, 1));
	}
	return NULL;
}

#endif
