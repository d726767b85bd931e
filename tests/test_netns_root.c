// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_netns_root.c - entering and leaving a throwaway namespace: after
 * enter /proc/thread-self/ns/net is the target, after leave ours again,
 * also nested, and a failing enter while inside leaves us inside.  Needs
 * root: skipped (exit 77) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "testlib.h"

static struct tl_netns ns = {"", -1};

static int ns_setup(void **state)
{
	(void)state;
	return tl_netns_add(&ns, "stt-netns");
}

static int ns_teardown(void **state)
{
	(void)state;
	return tl_netns_del(&ns);
}

static void test_enter_leave(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	char path[128];
	ino_t orig = tl_cur_netns();
	struct stat st;
	int by_name, by_path, saved = -1, saved2 = -1;

	(void)state;
	by_name = st_netns_open(ns.name, err);
	assert_true(by_name >= 0);
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns.name);
	by_path = st_netns_open(path, err);
	assert_true(by_path >= 0);
	assert_int_equal(fstat(by_name, &st), 0);
	assert_int_not_equal(st.st_ino, orig);

	assert_int_equal(st_netns_enter(by_name, &saved, err), 0);
	assert_true(saved >= 0);
	assert_int_equal(fcntl(saved, F_GETFD), FD_CLOEXEC);
	assert_int_not_equal(tl_cur_netns(), orig);
	assert_int_equal(tl_cur_netns(), st.st_ino);

	/* Nested: entering the same one again and coming back to it. */
	assert_int_equal(st_netns_enter(by_path, &saved2, err), 0);
	assert_int_equal(tl_cur_netns(), st.st_ino);
	assert_int_equal(st_netns_leave(saved2, err), 0);
	assert_int_equal(tl_cur_netns(), st.st_ino);

	/* A failing enter while inside leaves us inside. */
	assert_true(st_netns_enter(-1, &saved2, err) < 0);
	assert_int_equal(tl_cur_netns(), st.st_ino);

	assert_int_equal(st_netns_leave(saved, err), 0);
	assert_int_equal(tl_cur_netns(), orig);
	/* leave closed the saved fd */
	assert_int_equal(fcntl(saved, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	close(by_name);
	close(by_path);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enter_leave),
	};

	tl_need_root("netns", TL_TOOLS("ip"));
	return cmocka_run_group_tests_name("netns-root", tests, ns_setup,
					   ns_teardown);
}
