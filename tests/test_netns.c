// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_netns.c - opening namespaces by name and path, refusing what is not
 * one, and (as root, in a throwaway namespace) entering and leaving: after
 * enter /proc/thread-self/ns/net is the target, after leave ours again,
 * and every failure leaves us where we were.
 *
 * Exit status 77 when the unprivileged part passed but the root-only part
 * could not run.
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

static ino_t cur_netns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

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
	{"h6t-no-such-namespace", -ENOENT},
	{"/nonexistent/h6t", -ENOENT},
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
	ino_t before = cur_netns();
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

	assert_int_equal(cur_netns(), before);
	assert_int_equal(st_netns_leave(-1, err), 0);
	assert_int_equal(cur_netns(), before);
}

/* ---- root only ----------------------------------------------------- */

static struct tl_netns ns = {"", -1};

static int ns_setup(void **state)
{
	(void)state;
	return tl_netns_add(&ns, "h6t-netns");
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
	ino_t orig = cur_netns();
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
	assert_int_not_equal(cur_netns(), orig);
	assert_int_equal(cur_netns(), st.st_ino);

	/* Nested: entering the same one again and coming back to it. */
	assert_int_equal(st_netns_enter(by_path, &saved2, err), 0);
	assert_int_equal(cur_netns(), st.st_ino);
	assert_int_equal(st_netns_leave(saved2, err), 0);
	assert_int_equal(cur_netns(), st.st_ino);

	/* A failing enter while inside leaves us inside. */
	assert_true(st_netns_enter(-1, &saved2, err) < 0);
	assert_int_equal(cur_netns(), st.st_ino);

	assert_int_equal(st_netns_leave(saved, err), 0);
	assert_int_equal(cur_netns(), orig);
	/* leave closed the saved fd */
	assert_int_equal(fcntl(saved, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	close(by_name);
	close(by_path);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_open_long_name),
		cmocka_unit_test(test_enter_failures),
	};
	static const struct CMUnitTest root_tests[] = {
		cmocka_unit_test(test_enter_leave),
	};
	int ret;

	ret = cmocka_run_group_tests_name("netns", tests, NULL, NULL);
	if (ret != 0)
		return ret;
	if (geteuid() != 0) {
		fprintf(stderr, "not root: enter/leave part skipped\n");
		return 77;
	}
	return cmocka_run_group_tests_name("netns-root", root_tests, ns_setup,
					   ns_teardown);
}
