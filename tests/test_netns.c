// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_netns.c - opening namespaces by name and path, refusing what is not
 * one, and failing to enter one without moving.  Entering and leaving a
 * real namespace needs root: test_netns_root.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "spawn.h"
#include "testlib.h"

struct open_case {
	const char *spec;
	int ret; /* 0: a valid fd expected */
};

static const struct open_case open_cases[] = {
	{"/proc/self/ns/net", 0},
	{"/proc/thread-self/ns/net", 0},
	{"/proc/1/ns/net", 0},
	{NULL, -EINVAL},
	{"", -EINVAL},
	{".", -EINVAL},
	{"..", -EINVAL},
	{"stt-no-such-namespace", -ENOENT},
	{"/nonexistent/stt", -ENOENT},
	{"/etc/hostname", -EINVAL},	/* a file, not a namespace */
	{"/proc/self/ns/uts", -EINVAL}, /* a namespace, not a network one */
	{"/proc/self/ns", -EINVAL},	/* a directory */
};

static void test_open(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(open_cases); i++) {
		const struct open_case *c = &open_cases[i];
		char err[ST_ERRBUF_SIZE] = "";
		int fd;

		print_message("open case %zu: %s\n", i,
			      c->spec ? c->spec : "(null)");
		if (c->ret == 0 && access(c->spec, R_OK) != 0) {
			print_message("  (not readable here, skipped)\n");
			continue;
		}
		fd = st_netns_open(c->spec, err);
		if (c->ret == 0) {
			assert_true(fd >= 0);
			assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
			close(fd);
		} else {
			assert_int_equal(fd, c->ret);
			assert_true(err[0] != '\0');
		}
	}
}

static void test_open_long_name(void **state)
{
	char err[ST_ERRBUF_SIZE];
	char *name = malloc(5000);

	(void)state;
	assert_non_null(name);
	memset(name, 'a', 4999);
	name[4999] = '\0';
	assert_int_equal(st_netns_open(name, err), -ENAMETOOLONG);
	name[0] = '/';
	assert_int_equal(st_netns_open(name, err), -ENAMETOOLONG);
	free(name);
}

/* Failing to enter changes nothing and leaves no saved fd. */
static void test_enter_failures(void **state)
{
	char err[ST_ERRBUF_SIZE];
	ino_t before = tl_cur_netns();
	int saved = 1234;
	int fd;

	(void)state;
	assert_true(st_netns_enter(-1, &saved, err) < 0);
	assert_int_equal(saved, -1);
	assert_true(st_netns_enter(0, NULL, err) < 0);

	/* Not a namespace at all. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	saved = 1234;
	assert_int_equal(st_netns_enter(fd, &saved, err), -EINVAL);
	assert_int_equal(saved, -1);
	close(fd);

	/* A namespace of another kind. */
	fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(st_netns_enter(fd, &saved, err) < 0);
	assert_int_equal(saved, -1);
	close(fd);

	assert_int_equal(tl_cur_netns(), before);
	assert_int_equal(st_netns_leave(-1, err), 0);
	assert_int_equal(tl_cur_netns(), before);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_open_long_name),
		cmocka_unit_test(test_enter_failures),
	};

	return cmocka_run_group_tests_name("netns", tests, NULL, NULL);
}
