// SPDX-License-Identifier: Apache-2.0
#include "detector/podmeta.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX 4096

struct pm_entry {
	struct podmeta_info info; /* first: podmeta_put finds the entry from it */
	_Atomic unsigned refs;
	struct pm_entry *next; /* bucket chain */
	uint64_t gen; /* sync generation it was applied in */
	char *id;
	char *pod_uid, *pod_name, *ns_name;
	char *name, *image, *repo, *tag, *digest;
	char **keys, **values;
	size_t n_labels;
};

struct podmeta {
	pthread_mutex_t lock;
	struct pm_entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t max;
	_Atomic size_t count;
	_Atomic uint64_t overflows;
	uint64_t gen;
};

/* The whole id, 8 bytes at a time (a 64-hex id: 8 multiply-xorshift rounds). */
static uint64_t hash_str(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = n * 0x9e3779b97f4a7c15ull, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0x94d049bb133111ebull;
	return h ^ (h >> 32);
}

static void entry_free(struct pm_entry *e)
{
	for (size_t i = 0; i < e->n_labels; i++) {
		free(e->keys[i]);
		free(e->values[i]);
	}
	free(e->keys);
	free(e->values);
	free(e->id);
	free(e->pod_uid);
	free(e->pod_name);
	free(e->ns_name);
	free(e->name);
	free(e->image);
	free(e->repo);
	free(e->tag);
	free(e->digest);
	free(e);
}

static void entry_unref(struct pm_entry *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

struct podmeta *podmeta_new(size_t max_containers)
{
	struct podmeta *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->max = max_containers ? max_containers : DEFAULT_MAX;
	pm->n_buckets = 64;
	while (pm->n_buckets < pm->max / 2 && pm->n_buckets < (1u << 20))
		pm->n_buckets *= 2;
	pm->buckets = calloc(pm->n_buckets, sizeof(*pm->buckets));
	if (!pm->buckets || pthread_mutex_init(&pm->lock, NULL)) {
		free(pm->buckets);
		free(pm);
		errno = ENOMEM;
		return NULL;
	}
	return pm;
}

/* Unlink every entry for which drop() is true; returns them chained through next. */
static struct pm_entry *
unlink_if(struct podmeta *pm, bool (*drop)(const struct pm_entry *, const void *), const void *arg)
{
	struct pm_entry *gone = NULL;

	for (size_t b = 0; b < pm->n_buckets; b++) {
		struct pm_entry **pp = &pm->buckets[b];

		while (*pp) {
			struct pm_entry *e = *pp;

			if (drop(e, arg)) {
				*pp = e->next;
				e->next = gone;
				gone = e;
				atomic_fetch_sub(&pm->count, 1);
			} else {
				pp = &e->next;
			}
		}
	}
	return gone;
}

static size_t unref_chain(struct pm_entry *e)
{
	size_t n = 0;

	while (e) {
		struct pm_entry *next = e->next;

		entry_unref(e);
		e = next;
		n++;
	}
	return n;
}

static bool drop_all(const struct pm_entry *e, const void *arg)
{
	(void)e;
	(void)arg;
	return true;
}

static bool drop_uid(const struct pm_entry *e, const void *arg)
{
	return !strcmp(e->pod_uid, arg);
}

static bool drop_stale(const struct pm_entry *e, const void *arg)
{
	return e->gen < *(const uint64_t *)arg;
}

void podmeta_clear(struct podmeta *pm)
{
	struct pm_entry *gone;

	pthread_mutex_lock(&pm->lock);
	gone = unlink_if(pm, drop_all, NULL);
	pthread_mutex_unlock(&pm->lock);
	unref_chain(gone);
}

void podmeta_free(struct podmeta *pm)
{
	if (!pm)
		return;
	podmeta_clear(pm);
	pthread_mutex_destroy(&pm->lock);
	free(pm->buckets);
	free(pm);
}

size_t podmeta_delete_pod(struct podmeta *pm, const char *uid)
{
	struct pm_entry *gone;

	pthread_mutex_lock(&pm->lock);
	gone = unlink_if(pm, drop_uid, uid);
	pthread_mutex_unlock(&pm->lock);
	return unref_chain(gone);
}

void podmeta_sync_begin(struct podmeta *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->gen++;
	pthread_mutex_unlock(&pm->lock);
}

size_t podmeta_sync_end(struct podmeta *pm)
{
	struct pm_entry *gone;
	uint64_t gen;

	pthread_mutex_lock(&pm->lock);
	gen = pm->gen;
	gone = unlink_if(pm, drop_stale, &gen);
	pthread_mutex_unlock(&pm->lock);
	return unref_chain(gone);
}

const struct podmeta_info *podmeta_get(struct podmeta *pm, const char *id)
{
	struct pm_entry *e;

	if (!pm || !id || !atomic_load_explicit(&pm->count, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&pm->lock);
	for (e = pm->buckets[hash_str(id) & (pm->n_buckets - 1)]; e; e = e->next)
		if (!strcmp(e->id, id))
			break;
	if (e)
		atomic_fetch_add(&e->refs, 1);
	pthread_mutex_unlock(&pm->lock);
	return e ? &e->info : NULL;
}

void podmeta_put(const struct podmeta_info *info)
{
	/* info is the first member of its entry */
	entry_unref((struct pm_entry *)(uintptr_t)info);
}

size_t podmeta_count(struct podmeta *pm)
{
	return atomic_load(&pm->count);
}

uint64_t podmeta_overflows(struct podmeta *pm)
{
	return atomic_load(&pm->overflows);
}

/* ---- Pod objects -> entries --------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int podmeta_split_image(const char *image, char **repo, char **tag, char **digest)
{
	const char *at = strchr(image, '@');
	size_t n = at ? (size_t)(at - image) : strlen(image);
	const char *slash, *colon = NULL;

	*repo = *tag = *digest = NULL;
	/* the tag's ':' comes after the last '/' (a registry port's ':' comes before it) */
	slash = memrchr(image, '/', n);
	for (const char *p = slash ? slash : image; p < image + n; p++)
		if (*p == ':')
			colon = p;
	*repo = strndup(image, colon ? (size_t)(colon - image) : n);
	if (colon && colon + 1 < image + n)
		*tag = strndup(colon + 1, (size_t)(image + n - colon - 1));
	if (at && at[1])
		*digest = strdup(at + 1);
	if (!*repo || (colon && colon + 1 < image + n && !*tag) || (at && at[1] && !*digest)) {
		free(*repo);
		free(*tag);
		free(*digest);
		*repo = *tag = *digest = NULL;
		return -ENOMEM;
	}
	return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The spec container of that name in spec[list]. */
static const json_t *spec_container(const json_t *spec, const char *list, const char *name)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(spec, list), i, c) {
		const char *n = jstr(c, "name");

		if (n && name && !strcmp(n, name))
			return c;
	}
	return NULL;
}

/* One container status -> a new entry (one reference), or NULL (no id, or ENOMEM in *err). */
static struct pm_entry *entry_of(const json_t *pod, const json_t *st, const char *spec_list,
				 int *err)
{
	const json_t *md = json_object_get(pod, "metadata");
	const json_t *labels = json_object_get(md, "labels");
	const char *cid = jstr(st, "containerID"), *sep, *image, *image_id, *key;
	const json_t *sc, *v;
	struct pm_entry *e;

	if (!cid || !(sep = strstr(cid, "://")) || !sep[3])
		return NULL;
	sc = spec_container(json_object_get(pod, "spec"), spec_list, jstr(st, "name"));
	e = calloc(1, sizeof(*e));
	if (!e)
		goto err;
	atomic_init(&e->refs, 1);
	image = jstr(st, "image");
	if (!image || !*image)
		image = jstr(sc, "image");
	e->id = strdup(sep + 3);
	e->pod_uid = dup_or_null(jstr(md, "uid"));
	e->pod_name = dup_or_null(jstr(md, "name"));
	e->ns_name = dup_or_null(jstr(md, "namespace"));
	e->name = dup_or_null(jstr(st, "name"));
	e->image = dup_or_null(image);
	if (!e->id || !e->pod_uid || (jstr(md, "name") && !e->pod_name) ||
	    (jstr(md, "namespace") && !e->ns_name) || (jstr(st, "name") && !e->name) ||
	    (image && !e->image))
		goto err;
	if (image && podmeta_split_image(image, &e->repo, &e->tag, &e->digest))
		goto err;
	/* no digest in the reference: the one the runtime resolved (imageID) */
	image_id = jstr(st, "imageID");
	if (!e->digest && image_id && strchr(image_id, '@') && strchr(image_id, '@')[1]) {
		e->digest = strdup(strchr(image_id, '@') + 1);
		if (!e->digest)
			goto err;
	}
	e->info.privileged =
		json_is_true(json_object_get(json_object_get(sc, "securityContext"), "privileged"));
	if (json_is_object(labels) && json_object_size(labels)) {
		size_t n = json_object_size(labels);

		e->keys = calloc(n, sizeof(*e->keys));
		e->values = calloc(n, sizeof(*e->values));
		if (!e->keys || !e->values)
			goto err;
		json_object_foreach((json_t *)labels, key, v) {
			if (!json_is_string(v))
				continue;
			e->keys[e->n_labels] = strdup(key);
			e->values[e->n_labels] = strdup(json_string_value(v));
			if (!e->keys[e->n_labels] || !e->values[e->n_labels]) {
				e->n_labels++;
				goto err;
			}
			e->n_labels++;
		}
	}
	e->info.k8s.pod_name = e->pod_name;
	e->info.k8s.ns_name = e->ns_name;
	e->info.k8s.pod_uid = e->pod_uid;
	/* a pod without labels: k8s.pod.labels is missing */
	e->info.k8s.label_keys = (const char *const *)e->keys;
	e->info.k8s.label_values = (const char *const *)e->values;
	e->info.k8s.n_labels = e->n_labels;
	e->info.name = e->name;
	e->info.image = e->image;
	e->info.image_repository = e->repo;
	e->info.image_tag = e->tag;
	e->info.image_digest = e->digest;
	return e;
err:
	if (e)
		entry_free(e);
	*err = -ENOMEM;
	return NULL;
}

/* Insert e (the table takes its reference); false when the table is full. Lock held. */
static bool insert_locked(struct podmeta *pm, struct pm_entry *e, struct pm_entry **gone)
{
	struct pm_entry **pp = &pm->buckets[hash_str(e->id) & (pm->n_buckets - 1)];

	/* the same container id under another pod uid: the newer object wins */
	for (; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->id, e->id)) {
			struct pm_entry *old = *pp;

			e->next = old->next;
			*pp = e;
			old->next = *gone;
			*gone = old;
			return true;
		}
	}
	if (atomic_load(&pm->count) >= pm->max)
		return false;
	e->next = NULL;
	*pp = e;
	atomic_fetch_add(&pm->count, 1);
	return true;
}

int podmeta_apply_pod(struct podmeta *pm, const json_t *pod)
{
	static const char *const lists[][2] = {
		{ "containerStatuses", "containers" },
		{ "initContainerStatuses", "initContainers" },
		{ "ephemeralContainerStatuses", "ephemeralContainers" },
	};
	const char *uid = jstr(json_object_get(pod, "metadata"), "uid");
	const json_t *status = json_object_get(pod, "status"), *st;
	struct pm_entry *fresh = NULL, *gone, *e;
	int err = 0, n = 0;
	size_t i;

	if (!uid || !*uid)
		return -EINVAL;
	/* build outside the lock */
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]) && !err; l++) {
		json_array_foreach(json_object_get(status, lists[l][0]), i, st) {
			e = entry_of(pod, st, lists[l][1], &err);
			if (err)
				break;
			if (e) {
				e->next = fresh;
				fresh = e;
			}
		}
	}
	if (err) {
		unref_chain(fresh);
		return err;
	}
	pthread_mutex_lock(&pm->lock);
	gone = unlink_if(pm, drop_uid, uid);
	while (fresh) {
		e = fresh;
		fresh = e->next;
		e->gen = pm->gen;
		if (insert_locked(pm, e, &gone)) {
			n++;
		} else {
			atomic_fetch_add(&pm->overflows, 1);
			e->next = gone;
			gone = e;
		}
	}
	pthread_mutex_unlock(&pm->lock);
	unref_chain(gone);
	return n;
}
