// SPDX-License-Identifier: Apache-2.0
/*
 * The pod-metadata cache: Pod objects -> entries by container id (runtime prefixes stripped,
 * images split, privileged from the spec), replace / delete / relist, the cap, entries held by
 * a reader outliving their removal, and a reader thread racing a writer.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector/podmeta.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

/* A pod: uid, name, and up to two (status name, containerID, image) containers. */
static json_t *pod(const char *uid, const char *name, const char *cid1, const char *cid2)
{
	json_error_t e;
	json_t *p = json_pack_ex(&e, 0,
				 "{s:{s:s, s:s, s:s, s:{s:s, s:s}}, "
				 "s:{s:s, s:[{s:s, s:s, s:{s:b}}, {s:s, s:s}], s:[{s:s, s:s}]}, "
				 "s:{s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}], s:[{s:s, s:s}]}}",
				 "metadata", "uid", uid, "name", name, "namespace", "shop",
				 "labels", "app", "web", "tier", "front", "spec", "nodeName",
				 "node-1", "containers", "name", "app", "image", "nginx:1.27",
				 "securityContext", "privileged", 1, "name", "side", "image",
				 "busybox", "initContainers", "name", "init", "image", "alpine:3",
				 "status", "containerStatuses", "name", "app", "image",
				 "docker.io/library/nginx:1.27", "imageID",
				 "docker.io/library/nginx@sha256:1234", "containerID", cid1, "name",
				 "side", "image", "", "containerID", cid2, "initContainerStatuses",
				 "name", "init", "image", "alpine:3");

	assert_non_null(p);
	return p;
}

static void test_apply_and_fields(void **state)
{
	struct podmeta *pm = podmeta_new(0);
	json_t *p = pod("uid-1", "web-1", "containerd://" ID_A, "cri-o://" ID_B);
	const struct podmeta_info *i;

	(void)state;
	assert_int_equal(podmeta_apply_pod(pm, p), 2);
	assert_int_equal(podmeta_count(pm), 2);
	i = podmeta_get(pm, ID_A);
	assert_non_null(i);
	assert_string_equal(i->k8s.pod_name, "web-1");
	assert_string_equal(i->k8s.ns_name, "shop");
	assert_string_equal(i->k8s.pod_uid, "uid-1");
	assert_int_equal(i->k8s.n_labels, 2);
	for (size_t k = 0; k < 2; k++)
		assert_string_equal(i->k8s.label_values[k],
				    !strcmp(i->k8s.label_keys[k], "app") ? "web" : "front");
	assert_string_equal(i->name, "app");
	assert_string_equal(i->image, "docker.io/library/nginx:1.27");
	assert_string_equal(i->image_repository, "docker.io/library/nginx");
	assert_string_equal(i->image_tag, "1.27");
	assert_string_equal(i->image_digest, "sha256:1234"); /* from imageID */
	assert_int_equal(i->privileged, 1);
	podmeta_put(i);
	/* second container: no status image -> the spec's, not privileged */
	i = podmeta_get(pm, ID_B);
	assert_non_null(i);
	assert_string_equal(i->name, "side");
	assert_string_equal(i->image, "busybox");
	assert_string_equal(i->image_repository, "busybox");
	assert_null(i->image_tag);
	assert_null(i->image_digest);
	assert_int_equal(i->privileged, 0);
	podmeta_put(i);
	/* the init container has no containerID yet: not cached; unknown ids miss */
	assert_null(podmeta_get(pm, ID_C));
	assert_null(podmeta_get(pm, "containerd://" ID_A));
	assert_null(podmeta_get(pm, NULL));
	podmeta_put(NULL);
	json_decref(p);
	podmeta_free(pm);
}

static void test_replace_delete(void **state)
{
	struct podmeta *pm = podmeta_new(0);
	json_t *p1 = pod("uid-1", "web-1", "containerd://" ID_A, "docker://" ID_B);
	json_t *p1b = pod("uid-1", "web-1", "containerd://" ID_C, "docker://" ID_B);
	json_t *p2 = pod("uid-2", "web-2", "containerd://" ID_D, "");
	const struct podmeta_info *held;

	(void)state;
	assert_int_equal(podmeta_apply_pod(pm, p1), 2);
	assert_int_equal(podmeta_apply_pod(pm, p2), 1);
	/* a reader holds A while the pod is modified (container restarted: A -> C) */
	held = podmeta_get(pm, ID_A);
	assert_non_null(held);
	assert_int_equal(podmeta_apply_pod(pm, p1b), 2);
	assert_null(podmeta_get(pm, ID_A));
	assert_string_equal(held->k8s.pod_name, "web-1"); /* still valid (ASan would see) */
	podmeta_put(held);
	held = podmeta_get(pm, ID_C);
	assert_non_null(held);
	podmeta_put(held);
	assert_int_equal(podmeta_count(pm), 3);
	assert_int_equal(podmeta_delete_pod(pm, "uid-1"), 2);
	assert_int_equal(podmeta_delete_pod(pm, "uid-1"), 0);
	assert_null(podmeta_get(pm, ID_B));
	assert_int_equal(podmeta_count(pm), 1);
	/* no uid: refused */
	json_object_del(json_object_get(p2, "metadata"), "uid");
	assert_int_equal(podmeta_apply_pod(pm, p2), -EINVAL);
	json_decref(p1);
	json_decref(p1b);
	json_decref(p2);
	podmeta_free(pm);
}

static void test_relist(void **state)
{
	struct podmeta *pm = podmeta_new(0);
	json_t *p1 = pod("uid-1", "web-1", "containerd://" ID_A, "");
	json_t *p2 = pod("uid-2", "web-2", "containerd://" ID_B, "");

	(void)state;
	podmeta_apply_pod(pm, p1);
	podmeta_apply_pod(pm, p2);
	/* the new list has only web-2: web-1 was deleted while the watch was down */
	podmeta_sync_begin(pm);
	podmeta_apply_pod(pm, p2);
	assert_int_equal(podmeta_sync_end(pm), 1);
	assert_null(podmeta_get(pm, ID_A));
	podmeta_put(podmeta_get(pm, ID_B));
	assert_int_equal(podmeta_count(pm), 1);
	podmeta_clear(pm);
	assert_int_equal(podmeta_count(pm), 0);
	json_decref(p1);
	json_decref(p2);
	podmeta_free(pm);
}

static void test_cap(void **state)
{
	struct podmeta *pm = podmeta_new(16);
	char uid[32], cid[80];

	(void)state;
	for (int n = 0; n < 20; n++) {
		json_t *p;

		snprintf(uid, sizeof(uid), "uid-%d", n);
		snprintf(cid, sizeof(cid), "containerd://%064d", n);
		p = pod(uid, "p", cid, "");
		podmeta_apply_pod(pm, p);
		json_decref(p);
	}
	assert_int_equal(podmeta_count(pm), 16);
	assert_int_equal(podmeta_overflows(pm), 4);
	/* deleting makes room */
	podmeta_delete_pod(pm, "uid-0");
	{
		json_t *p = pod("uid-new", "p", "containerd://" ID_A, "");

		assert_int_equal(podmeta_apply_pod(pm, p), 1);
		json_decref(p);
	}
	podmeta_free(pm);
}

static void check_split(const char *img, const char *repo, const char *tag, const char *dig)
{
	char *r, *t, *d;

	assert_int_equal(podmeta_split_image(img, &r, &t, &d), 0);
	assert_string_equal(r, repo);
	if (tag)
		assert_string_equal(t, tag);
	else
		assert_null(t);
	if (dig)
		assert_string_equal(d, dig);
	else
		assert_null(d);
	free(r);
	free(t);
	free(d);
}

static void test_split_image(void **state)
{
	(void)state;
	check_split("nginx", "nginx", NULL, NULL);
	check_split("nginx:1.27", "nginx", "1.27", NULL);
	check_split("docker.io/library/nginx:1.27", "docker.io/library/nginx", "1.27", NULL);
	check_split("registry:5000/ns/app", "registry:5000/ns/app", NULL, NULL);
	check_split("registry:5000/ns/app:1.2@sha256:ab", "registry:5000/ns/app", "1.2",
		    "sha256:ab");
	check_split("app@sha256:ff", "app", NULL, "sha256:ff");
	check_split("app:", "app", NULL, NULL);
}

/* The detector's pattern (get, read, put) racing a writer replacing and deleting the pod. */
static _Atomic int stop_reader;

static void *reader(void *arg)
{
	struct podmeta *pm = arg;
	unsigned long hits = 0;

	while (!stop_reader) {
		const struct podmeta_info *i = podmeta_get(pm, ID_A);

		if (i) {
			assert_true(!strcmp(i->k8s.pod_name, "web-1") ||
				    !strcmp(i->k8s.pod_name, "web-1b"));
			assert_string_equal(i->image_tag, "1.27");
			hits++;
		}
		podmeta_put(i);
	}
	return (void *)hits;
}

static void test_reader_writer(void **state)
{
	struct podmeta *pm = podmeta_new(0);
	json_t *p1 = pod("uid-1", "web-1", "containerd://" ID_A, "");
	json_t *p2 = pod("uid-1", "web-1b", "containerd://" ID_A, "");
	pthread_t t;
	void *hits;

	(void)state;
	stop_reader = 0;
	assert_int_equal(pthread_create(&t, NULL, reader, pm), 0);
	for (int n = 0; n < 3000; n++) {
		podmeta_apply_pod(pm, n & 1 ? p2 : p1);
		if (n % 7 == 0)
			podmeta_delete_pod(pm, "uid-1");
	}
	podmeta_apply_pod(pm, p1);
	stop_reader = 1;
	pthread_join(t, &hits);
	json_decref(p1);
	json_decref(p2);
	podmeta_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_and_fields), cmocka_unit_test(test_replace_delete),
		cmocka_unit_test(test_relist),		 cmocka_unit_test(test_cap),
		cmocka_unit_test(test_split_image),	 cmocka_unit_test(test_reader_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
