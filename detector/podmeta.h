/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LANNER_DETECTOR_PODMETA_H
#define LANNER_DETECTOR_PODMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "detector/event.h"

/*
 * The pod-metadata cache: Kubernetes metadata of this node's containers, keyed by the full
 * container id (64 hex, as the cgroup path and status.containerStatuses[].containerID carry
 * it). Filled from Pod objects (list + watch, gateway/podwatch.c) on the gateway loop, read by
 * the detector thread for every event of a containerised process.
 *
 * Threading: one mutex guards the hash table; it is held only for a lookup or an update, never
 * while a rule is evaluated. Entries are immutable once published and reference-counted
 * (atomically): podmeta_get takes a reference under the lock, the reader uses the entry without
 * the lock and drops it with podmeta_put. A writer replacing or deleting a pod unlinks its
 * entries under the lock and drops the table's references after unlocking, so an entry a reader
 * still holds stays valid until that reader puts it. Lookups on an empty table take no lock.
 *
 * Bounded: at most max_containers entries; a container beyond that is not cached (counted in
 * overflows). Deleted pods' entries are removed; a relist (podmeta_sync_begin/end) removes
 * everything the new list did not mention.
 */

struct podmeta;

/* What an event gets: the pod's metadata and the container's. Valid until podmeta_put. */
struct podmeta_info {
	struct event_k8s k8s;
	const char *name; /* container name in the pod spec */
	const char *image; /* status image, else spec image */
	const char *image_repository;
	const char *image_tag; /* NULL when the image has none */
	const char *image_digest; /* "sha256:...", or NULL */
	int8_t privileged; /* spec securityContext.privileged: 1, else 0 */
};

/* Constructor; NULL with errno set. max_containers 0 = 4096. */
struct podmeta *podmeta_new(size_t max_containers);
/* Frees the table and the entries no reader holds; call when no reader can look up any more
 * (the detector stopped). Accepts NULL. */
void podmeta_free(struct podmeta *pm);

/*
 * Add or replace the containers of one Pod object (borrowed): every entry of the pod's uid is
 * replaced by the containers the pod lists in status.{init,ephemeral,}ContainerStatuses with a
 * containerID ("containerd://<id>", "cri-o://<id>", "docker://<id>"; the runtime prefix is
 * stripped). Returns the number of containers cached, -EINVAL for an object without
 * metadata.uid, -ENOMEM; containers refused by the cap are counted, not an error.
 */
int podmeta_apply_pod(struct podmeta *pm, const json_t *pod);
/* Remove every entry of the pod with this uid. Returns how many were removed. */
size_t podmeta_delete_pod(struct podmeta *pm, const char *uid);
/*
 * A relist: entries applied after podmeta_sync_begin are current; podmeta_sync_end removes
 * every entry not applied since (pods deleted while the watch was down). Returns how many went.
 */
void podmeta_sync_begin(struct podmeta *pm);
size_t podmeta_sync_end(struct podmeta *pm);
/* Empty the table (credentials lost for good). */
void podmeta_clear(struct podmeta *pm);

/*
 * Reader side (any thread): the entry of full container id `id` with a reference taken, or
 * NULL. Release it with podmeta_put (accepts NULL).
 */
const struct podmeta_info *podmeta_get(struct podmeta *pm, const char *id);
void podmeta_put(const struct podmeta_info *info);

size_t podmeta_count(struct podmeta *pm);
/* Containers not cached because the table was full, since the start. */
uint64_t podmeta_overflows(struct podmeta *pm);

/*
 * Split an image reference into repository, tag and digest:
 * "registry:5000/ns/app:1.2@sha256:ab" -> "registry:5000/ns/app", "1.2", "sha256:ab". The
 * outputs are malloc'ed (caller frees); tag and digest are NULL when absent. 0 or -ENOMEM.
 */
int podmeta_split_image(const char *image, char **repo, char **tag, char **digest);

#endif
