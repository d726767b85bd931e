// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_spawn_root.c - running programs inside a throwaway network
 * namespace: they see its links, not ours; a missing program is reported
 * as such there too; and 10,000 rules in through iptables-legacy-restore's
 * stdin and out again through iptables-legacy-save.  Needs root: skipped
 * (exit 77) otherwise.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spawn.h"
#include "testlib.h"

static struct tl_netns ns = {"", -1};

static int ns_setup(void **state)
{
	if (tl_netns_add(&ns, "stt-spawn") < 0)
		return -1;
	*state = (void *)(intptr_t)ns.fd;
	return 0;
}

static int ns_teardown(void **state)
{
	(void)state;
	return tl_netns_del(&ns);
}

static void test_in_netns(void **state)
{
	struct st_spawn_result res, host;
	char err[ST_ERRBUF_SIZE] = "";
	int fd = (int)(intptr_t)*state;

	assert_int_equal(st_spawn(TL_ARGV("ip", "-o", "addr"), fd, NULL, 0,
				  10000, &res, err),
			 0);
	assert_int_equal(res.status, 0);
	/* A new namespace: only lo, and it is down, so no address. */
	assert_string_equal(res.out, "");
	st_spawn_result_free(&res);

	assert_int_equal(st_spawn(TL_ARGV("ip", "-o", "link"), fd, NULL, 0,
				  10000, &res, err),
			 0);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.out, "1: lo:"));
	/* One line: nothing but lo. */
	assert_ptr_equal(strchr(res.out, '\n'), res.out + res.out_len - 1);

	/* The namespace is the child's only: we are still in ours. */
	assert_int_equal(st_spawn(TL_ARGV("ip", "-o", "link"), -1, NULL, 0,
				  10000, &host, err),
			 0);
	assert_string_not_equal(res.out, host.out);
	st_spawn_result_free(&host);
	st_spawn_result_free(&res);

	/* Missing programs are still reported as such in a namespace. */
	assert_int_equal(st_spawn(TL_ARGV("stt-no-such-program-here"), fd, NULL,
				  0, 5000, &res, err),
			 -ENOENT);
}

/* The real use: 10,000 rules in through stdin, out through iptables-save. */
static void test_restore_save_netns(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int fd = (int)(intptr_t)*state;
	size_t size = 64 + 10000 * 48, len = 0, lines = 0;
	char *in = malloc(size);
	const char *p;
	int i;

	assert_non_null(in);
	len += (size_t)snprintf(in + len, size - len, "*filter\n");
	for (i = 0; i < 10000; i++)
		len += (size_t)snprintf(
			in + len, size - len,
			"-A OUTPUT -d 10.%d.%d.1/32 -j ACCEPT\n", i / 256,
			i % 256);
	len += (size_t)snprintf(in + len, size - len, "COMMIT\n");
	assert_true(len < size);

	i = st_spawn(TL_ARGV("iptables-legacy-restore", "-w"), fd, in, len,
		     60000, &res, err);
	if (i == -ENOENT) {
		free(in);
		skip(); /* no iptables-legacy here */
	}
	assert_int_equal(i, 0);
	assert_int_equal(res.status, 0);
	st_spawn_result_free(&res);
	assert_int_equal(
		st_spawn(TL_ARGV("iptables-legacy-save", "-t", "filter"), fd,
			 NULL, 0, 60000, &res, err),
		0);
	assert_int_equal(res.status, 0);
	for (p = res.out; (p = strstr(p, "\n-A OUTPUT -d 10.")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 10000);
	assert_non_null(
		strstr(res.out, "-A OUTPUT -d 10.39.15.1/32 -j ACCEPT"));
	st_spawn_result_free(&res);
	free(in);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_netns),
		cmocka_unit_test(test_restore_save_netns),
	};

	tl_need_root("spawn", TL_TOOLS("ip"));
	return cmocka_run_group_tests_name("spawn-netns", tests, ns_setup,
					   ns_teardown);
}
