// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_session.c - a tracing session's argument checks (the sessions
 * themselves, which need root: test_session_root.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "session.h"

static void test_target_args(void **state)
{
	struct st_session_target t;
	char err[ST_ERRBUF_SIZE];

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(st_session_target_open(&t, NULL, 0, err), -EINVAL);
	assert_non_null(strstr(err, "exactly one target"));
	t.netns = "/nonexistent/netns";
	t.pid = 1;
	assert_int_equal(st_session_target_open(&t, NULL, 0, err), -EINVAL);
	t.pid = 0;
	assert_true(st_session_target_open(&t, NULL, 0, err) < 0);
	assert_non_null(strstr(err, "/nonexistent/netns"));
}

static void test_run_args(void **state)
{
	struct st_session_opts o;
	struct st_session_result res;
	char err[ST_ERRBUF_SIZE];

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(st_session_run(&o, &res, err), -EINVAL);
	assert_false(res.attached);
	assert_string_equal(st_session_stop_name(ST_STOP_DURATION), "duration");
	assert_string_equal(st_session_stop_name(ST_STOP_SIGNAL), "signal");
	assert_string_equal(st_session_stop_name((enum st_session_stop)99),
			    "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_args),
		cmocka_unit_test(test_run_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
