// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_session_root.c - a tracing session's setup, stop and cleanup, in a
 * network namespace "st-test-session-PID" of our own with Istio 1.17's rules loaded through
 * iptables-legacy-restore; sessions stopped by --duration, by a signal
 * that came before attaching and by one that came while tracing; the rules
 * must read exactly as before each time.  The namespace is always removed.
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

#include "flowout.h"
#include "instrument.h"
#include "netns.h"
#include "session.h"
#include "spawn.h"
#include "testlib.h"

#define RULES ST_SAMPLES "/rules/istio-1.17_redirect_default_legacy.rules"

static char ns_name[32];
static char ns_path[64];
static char lock_dir[64];
static bool have_ns;

static int run(char *const argv[], int netns_fd, const char *input,
	       struct st_spawn_result *res)
{
	char err[ST_ERRBUF_SIZE];
	int ret;

	ret = st_spawn(argv, netns_fd, input, input ? strlen(input) : 0, 0, res,
		       err);
	if (ret < 0)
		return ret;
	return res->status == 0 ? 0 : -EIO;
}

/* iptables-legacy-save of the namespace, without "#" lines and counters. */
static char *snapshot(void)
{
	char *argv[] = {"iptables-legacy-save", NULL};
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE];
	char *norm = NULL;
	int fd;

	fd = st_netns_open(ns_path, err);
	assert_true(fd >= 0);
	assert_int_equal(run(argv, fd, NULL, &res), 0);
	assert_int_equal(st_instr_normalize(ST_BACKEND_LEGACY, res.out,
					    res.out_len, &norm, err),
			 0);
	st_spawn_result_free(&res);
	close(fd);
	return norm;
}

static int setup_ns(void **state)
{
	char *add[] = {"ip", "netns", "add", ns_name, NULL};
	char *restore[] = {"iptables-legacy-restore", NULL};
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE];
	char *rules = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	(void)state;
	snprintf(ns_name, sizeof(ns_name), "st-test-session-%d", (int)getpid());
	snprintf(ns_path, sizeof(ns_path), "/var/run/netns/%s", ns_name);
	snprintf(lock_dir, sizeof(lock_dir), "/tmp/st-test-session-lock-%d",
		 (int)getpid());
	if (run(add, -1, NULL, &res) != 0) {
		st_spawn_result_free(&res);
		return 0; /* no ip netns: the root tests skip */
	}
	st_spawn_result_free(&res);
	have_ns = true;
	f = fopen(RULES, "r");
	if (f == NULL)
		return -1;
	rules = calloc(1, 1 << 16);
	if (rules != NULL)
		len = fread(rules, 1, (1 << 16) - 1, f);
	fclose(f);
	fd = st_netns_open(ns_path, err);
	if (fd < 0 || rules == NULL || len == 0 ||
	    run(restore, fd, rules, &res) != 0) {
		fprintf(stderr, "loading %s failed: %s\n", RULES,
			res.errout ? res.errout : err);
		have_ns = false;
	}
	st_spawn_result_free(&res);
	if (fd >= 0)
		close(fd);
	free(rules);
	return 0;
}

static int teardown_ns(void **state)
{
	char *del[] = {"ip", "netns", "del", ns_name, NULL};
	struct st_spawn_result res;

	(void)state;
	if (ns_name[0] != '\0') {
		run(del, -1, NULL, &res);
		st_spawn_result_free(&res);
	}
	return 0;
}

/* A session of the namespace whose flows go to @fo (freed by the caller). */
static void opts_init(struct st_session_opts *o, struct st_flowout *fo)
{
	memset(o, 0, sizeof(*o));
	o->target.netns = ns_path;
	o->group = -1;
	o->lock_dir = lock_dir;
	o->diag = NULL;
	o->sinks[o->nsinks++] = (struct st_sink){st_flowout_ops(), fo};
}

#define NEED_NS()               \
	do {                    \
		if (!have_ns)   \
			skip(); \
	} while (0)

static void test_duration(void **state)
{
	struct st_session_opts o;
	struct st_session_result res;
	char err[ST_ERRBUF_SIZE] = "";
	char *before, *after, *buf = NULL;
	struct st_flowout *fo;
	size_t len = 0;
	FILE *out;
	int ret;

	(void)state;
	NEED_NS();
	before = snapshot();
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	fo = st_flowout_new(out, NULL, ST_FLOWOUT_JSON);
	assert_non_null(fo);
	opts_init(&o, fo);
	o.duration_ms = 300;
	ret = st_session_run(&o, &res, err);
	if (ret != 0)
		fail_msg("session: %s", err);
	st_flowout_free(fo);
	fclose(out);
	assert_int_equal(res.stop, ST_STOP_DURATION);
	assert_true(res.attached);
	assert_true(res.detached);
	assert_int_equal(res.backend, ST_BACKEND_LEGACY);
	assert_true(res.group >= ST_INSTR_GROUP_BASE);
	assert_true(res.instr.nrules > 0);
	assert_int_equal(res.written, 0);
	/* The only line: the summary. */
	assert_non_null(strstr(buf, "{\"summary\":"));
	assert_int_equal(strchr(buf, '\n') - buf + 1, (long)strlen(buf));
	after = snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(buf);
}

static void test_signal_before_attach(void **state)
{
	struct st_session_opts o;
	struct st_session_result res;
	char err[ST_ERRBUF_SIZE] = "";
	sigset_t set, old;
	char *before, *after;
	struct st_flowout *fo;
	FILE *out;

	(void)state;
	NEED_NS();
	before = snapshot();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGTERM); /* pending: the session sees it at once */
	out = fopen("/dev/null", "w");
	fo = st_flowout_new(out, NULL, ST_FLOWOUT_JSON);
	assert_non_null(fo);
	opts_init(&o, fo);
	assert_int_equal(st_session_run(&o, &res, err), 0);
	st_flowout_free(fo);
	fclose(out);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(res.stop, ST_STOP_SIGNAL);
	assert_int_equal(res.signo, SIGTERM);
	assert_false(res.attached);
	after = snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_signal_while_tracing(void **state)
{
	struct st_session_opts o;
	struct st_session_result res;
	char err[ST_ERRBUF_SIZE] = "";
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;
	char *before, *after;
	struct st_flowout *fo;
	FILE *out;
	int ret;

	(void)state;
	NEED_NS();
	before = snapshot();
	/* SIGHUP in 700 ms: after attaching, while the loop polls. */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGHUP;
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 700 * 1000000L;
	out = fopen("/dev/null", "w");
	fo = st_flowout_new(out, NULL, 0); /* text */
	assert_non_null(fo);
	opts_init(&o, fo);
	o.duration_ms = 10000; /* the signal must come first */
	/*
	 * The timer is armed before the session blocks SIGHUP; attaching
	 * takes longer than that only on a very slow machine, and SIGHUP
	 * during setup is blocked and taken up there as well.
	 */
	{
		sigset_t set, old;

		sigemptyset(&set);
		sigaddset(&set, SIGHUP);
		sigprocmask(SIG_BLOCK, &set, &old);
		assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
		ret = st_session_run(&o, &res, err);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	timer_delete(timer);
	st_flowout_free(fo);
	fclose(out);
	if (ret != 0)
		fail_msg("session: %s", err);
	assert_int_equal(res.stop, ST_STOP_SIGNAL);
	assert_int_equal(res.signo, SIGHUP);
	if (res.attached)
		assert_true(res.detached);
	after = snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_signal_before_attach),
		cmocka_unit_test(test_signal_while_tracing),
	};
	int ret;

	tl_need_root("session", TL_TOOLS("ip", "iptables-legacy-save",
					 "iptables-legacy-restore"));
	ret = cmocka_run_group_tests_name("session", tests, setup_ns,
					  teardown_ns);
	rmdir(lock_dir);
	return ret;
}
