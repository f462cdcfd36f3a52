// SPDX-License-Identifier: Apache-2.0
/* container.id from cgroup paths: each runtime's pattern, look-alikes stay host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "detector/container.h"

#define HEX "3f1c7a9e5b2d4f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"

static void check(const char *path, const char *id, const char *type)
{
	struct container_info ci;
	bool is = container_from_cgroup_path(path, &ci);

	assert_int_equal(is, strcmp(id, "host") != 0);
	assert_string_equal(ci.c.id, id);
	assert_string_equal(ci.c.type, type);
	if (is)
		assert_string_equal(ci.c.full_id, HEX);
	else
		assert_null(ci.c.full_id);
}

static void test_patterns(void **state)
{
	(void)state;
	check("/kubepods/besteffort/pod0c6f2e1a-1234-4cde-9f00-aa11bb22cc33/" HEX, "3f1c7a9e5b2d",
	      "containerd");
	check("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
	      "cri-containerd-" HEX ".scope",
	      "3f1c7a9e5b2d", "containerd");
	check("/system.slice/docker-" HEX ".scope", "3f1c7a9e5b2d", "docker");
	check("/docker/" HEX, "3f1c7a9e5b2d", "docker");
	check("/kubepods.slice/kubepods-pod2.slice/crio-" HEX ".scope", "3f1c7a9e5b2d", "cri-o");
	check("/machine.slice/libpod-" HEX ".scope/container", "3f1c7a9e5b2d", "podman");
	check("/libpod_parent/libpod-" HEX, "3f1c7a9e5b2d", "podman");
}

static void test_host(void **state)
{
	(void)state;
	check("/", "host", "host");
	check("", "host", "host");
	check("/user.slice/user-0.slice/session-3.scope", "host", "host");
	/* 63 and 65 hex, upper case, a conmon scope: not container ids */
	check("/kubepods/x/3f1c7a9e5b2d4f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071", "host",
	      "host");
	check("/kubepods/x/" HEX "0", "host", "host");
	check("/kubepods/x/3F1C7A9E5B2D4F60A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718",
	      "host", "host");
	check("/machine.slice/libpod-conmon-" HEX ".scope", "host", "host");
	check("/system.slice/docker-" HEX ".scopex", "host", "host");
}

static void test_file_text(void **state)
{
	struct container_info ci;

	(void)state;
	assert_true(container_from_cgroup_file_text("12:pids:/kubepods/burstable/pod1/" HEX "\n"
						    "0::/\n",
						    &ci));
	assert_string_equal(ci.c.id, "3f1c7a9e5b2d");
	assert_false(container_from_cgroup_file_text("9:name=systemd:/\n0::/init.scope\n", &ci));
	assert_string_equal(ci.c.id, "host");
	assert_false(container_from_cgroup_file_text("garbage", &ci));
	assert_string_equal(ci.c.id, "host");
}

static void test_own_pid(void **state)
{
	struct container_info ci;

	(void)state;
	assert_in_range(container_of_pid(getpid(), &ci), 0, 1);
	assert_non_null(ci.c.id);
	assert_true(container_of_pid(-5, &ci) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_file_text),
		cmocka_unit_test(test_own_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
