// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "detector/container.h"

/* systemd scope prefixes and the runtime they mean. */
static const struct {
	const char *prefix;
	const char *type;
} scopes[] = {
	{ "docker-", "docker" },
	{ "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },
	{ "libpod-", "podman" },
};

static bool is_hex64(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static void fill(struct container_info *out, const char *id, const char *type)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->full_id, id, 64);
	out->full_id[64] = 0;
	memcpy(out->id, id, 12);
	out->id[12] = 0;
	snprintf(out->type, sizeof(out->type), "%s", type);
	out->c.id = out->id;
	out->c.full_id = out->full_id;
	out->c.type = out->type;
	out->c.privileged = -1;
}

void container_host(struct container_info *out)
{
	memset(out, 0, sizeof(*out));
	strcpy(out->id, "host");
	strcpy(out->type, "host");
	out->c.id = out->id;
	out->c.type = out->type;
	out->c.privileged = -1;
}

/* One path component: a container id with its runtime, or false. */
static bool component(const char *s, size_t len, const char *prev, size_t prev_len,
		      struct container_info *out)
{
	const char *suffix = ".scope";
	size_t sl = strlen(suffix);

	if (len > sl && !memcmp(s + len - sl, suffix, sl)) {
		for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
			size_t pl = strlen(scopes[i].prefix);

			if (len == pl + 64 + sl && !memcmp(s, scopes[i].prefix, pl) &&
			    is_hex64(s + pl, 64)) {
				fill(out, s + pl, scopes[i].type);
				return true;
			}
		}
		return false;
	}
	if (len == 7 + 64 && !memcmp(s, "libpod-", 7) && is_hex64(s + 7, 64)) {
		fill(out, s + 7, "podman");
		return true;
	}
	if (!is_hex64(s, len))
		return false;
	/* A bare id: under /docker/ it is docker's; else a CRI runtime (kubepods, containerd). */
	fill(out, s, prev && prev_len == 6 && !memcmp(prev, "docker", 6) ? "docker" : "containerd");
	return true;
}

bool container_from_cgroup_path(const char *path, struct container_info *out)
{
	const char *p = path, *prev = NULL;
	size_t prev_len = 0;

	/* The deepest container component wins (nested runtimes name the inner one last). */
	struct container_info found;
	bool any = false;

	while (p && *p) {
		const char *slash;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (component(p, len, prev, prev_len, &found))
			any = true;
		prev = p;
		prev_len = len;
		p = slash;
	}
	if (any) {
		*out = found;
		out->c.id = out->id;
		out->c.full_id = out->full_id;
		out->c.type = out->type;
		return true;
	}
	container_host(out);
	return false;
}

bool container_from_cgroup_file_text(const char *text, struct container_info *out)
{
	const char *line = text;
	char path[4096];

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len), *c2;

		if (c1) {
			c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
			if (c2) {
				size_t pl = len - (size_t)(c2 + 1 - line);

				if (pl >= sizeof(path))
					pl = sizeof(path) - 1;
				memcpy(path, c2 + 1, pl);
				path[pl] = 0;
				if (container_from_cgroup_path(path, out))
					return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	container_host(out);
	return false;
}

int container_of_pid(int pid, struct container_info *out)
{
	char path[64], buf[8192];
	ssize_t n;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (!got)
		return -ESRCH; /* an exited process' file reads empty */
	buf[got] = 0;
	return container_from_cgroup_file_text(buf, out) ? 1 : 0;
}
