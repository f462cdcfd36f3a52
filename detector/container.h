/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_CONTAINER_H
#define LANNER_DETECTOR_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

#include "detector/event.h"

/*
 * container.id from cgroup paths, as Falco derives it: a path component that is a 64-hex id,
 * bare (/kubepods/.../<id>, /docker/<id>) or in a systemd scope (docker-<id>.scope,
 * cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope). Only the id and the runtime
 * type are knowable from the path; name, image, ... stay NULL (missing).
 */

/* Container info with its own storage: `c` points into the struct. */
struct container_info {
	struct event_container c;
	char id[13]; /* short id, or "host" */
	char full_id[65];
	char type[16];
};

/*
 * Parses one cgroup path ("/kubepods/besteffort/pod.../<64hex>"). Returns true and fills *out
 * for a container path; false (and *out set to "host") otherwise.
 */
bool container_from_cgroup_path(const char *path, struct container_info *out);

/*
 * Parses a /proc/PID/cgroup text ("ID:CONTROLLERS:PATH" lines; every hierarchy is tried, v1 and
 * v2). Returns true for a container, false for host (*out set to "host").
 */
bool container_from_cgroup_file_text(const char *text, struct container_info *out);

/*
 * Reads /proc/PID/cgroup. Returns 1 for a container, 0 for host, -errno when the file cannot be
 * read (the process is gone): *out is then untouched.
 */
int container_of_pid(int pid, struct container_info *out);

/* "host" info. */
void container_host(struct container_info *out);

#endif
