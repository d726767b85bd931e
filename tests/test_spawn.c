// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_spawn.c - running programs: output, input, exit status, missing
 * programs, timeouts, big outputs, descriptor hygiene and SIGPIPE.
 * Running them inside a network namespace needs root: test_spawn_root.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"
#include "testlib.h"

struct run_case {
	const char *name;
	char *const *argv;
	const char *input;
	int status;
	const char *out; /* exact stdout, or NULL: not checked */
	const char *errout;
};

static const struct run_case run_cases[] = {
	{"echo", TL_ARGV("echo", "hello", "world"), NULL, 0, "hello world\n",
	 ""},
	{"cat stdin", TL_ARGV("cat"), "line 1\nline 2\n", 0, "line 1\nline 2\n",
	 ""},
	{"cat /dev/null stdin", TL_ARGV("cat"), NULL, 0, "", ""},
	{"cat empty stdin", TL_ARGV("cat"), "", 0, "", ""},
	{"false", TL_ARGV("false"), NULL, 1, "", ""},
	{"exit code and stderr", TL_ARGV("sh", "-c", "echo oops >&2; exit 3"),
	 NULL, 3, "", "oops\n"},
	{"killed by a signal", TL_ARGV("sh", "-c", "kill -TERM $$"), NULL,
	 128 + SIGTERM, "", ""},
	/* No shell in between: metacharacters reach the program as is. */
	{"no shell", TL_ARGV("printf", "%s|", "$HOME", "a b", "`id`", ";"),
	 NULL, 0, "$HOME|a b|`id`|;|", ""},
};

static void test_run(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(run_cases); i++) {
		const struct run_case *c = &run_cases[i];
		struct st_spawn_result res;
		char err[ST_ERRBUF_SIZE] = "";

		print_message("run case %zu: %s\n", i, c->name);
		assert_int_equal(st_spawn(c->argv, -1, c->input,
					  c->input ? strlen(c->input) : 0, 5000,
					  &res, err),
				 0);
		assert_int_equal(res.status, c->status);
		assert_non_null(res.out);
		assert_non_null(res.errout);
		assert_int_equal(strlen(res.out), res.out_len);
		assert_int_equal(strlen(res.errout), res.err_len);
		if (c->out != NULL)
			assert_string_equal(res.out, c->out);
		if (c->errout != NULL)
			assert_string_equal(res.errout, c->errout);
		st_spawn_result_free(&res);
		assert_null(res.out);
	}
}

static void test_missing(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	assert_int_equal(st_spawn(TL_ARGV("stt-no-such-program-here"), -1, NULL,
				  0, 5000, &res, err),
			 -ENOENT);
	assert_non_null(strstr(err, "stt-no-such-program-here"));
	assert_non_null(strstr(err, "not installed"));
	assert_null(res.out);
	assert_int_equal(st_spawn(TL_ARGV("/nonexistent/stt"), -1, NULL, 0,
				  5000, &res, err),
			 -ENOENT);
	/* A directory is found but cannot be run. */
	assert_int_equal(
		st_spawn(TL_ARGV("/tmp"), -1, NULL, 0, 5000, &res, err),
		-EACCES);
	st_spawn_result_free(&res);
	st_spawn_result_free(NULL);
}

static void test_bad_args(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	char *const empty[] = {NULL};
	char *const blank[] = {"", NULL};

	(void)state;
	assert_int_equal(st_spawn(NULL, -1, NULL, 0, 0, &res, err), -EINVAL);
	assert_int_equal(st_spawn(empty, -1, NULL, 0, 0, &res, err), -EINVAL);
	assert_int_equal(st_spawn(blank, -1, NULL, 0, 0, &res, err), -EINVAL);
	assert_int_equal(st_spawn(TL_ARGV("true"), -1, NULL, 0, 0, NULL, err),
			 -EINVAL);
}

static long elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 +
	       (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void test_timeout(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	struct timespec t0;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
		st_spawn(TL_ARGV("sleep", "10"), -1, NULL, 0, 300, &res, err),
		-ETIMEDOUT);
	assert_true(elapsed_ms(&t0) >= 300);
	assert_true(elapsed_ms(&t0) < 3000);
	assert_non_null(strstr(err, "sleep"));
	assert_null(res.out);
	/* Killed and reaped: no child of ours is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/*
	 * Output keeps coming, and still the deadline holds. (Slowly: yes(1)
	 * at full speed hits the output cap, -EFBIG, before 300 ms.)
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
		st_spawn(TL_ARGV("sh", "-c",
				 "while :; do echo x; sleep 0.01; done"),
			 -1, NULL, 0, 300, &res, err),
		-ETIMEDOUT);
	assert_true(elapsed_ms(&t0) >= 300);
	assert_true(elapsed_ms(&t0) < 3000);
	/* The shell is gone, and reaped. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static bool alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p == NULL || p[1] != ' ' || (p[2] != 'Z' && p[2] != 'X');
}

/* A timeout kills what the program started, too. */
static void test_timeout_group(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	char file[64], script[160];
	long grandchild = 0;
	FILE *f;
	int i;

	(void)state;
	snprintf(file, sizeof(file), "/tmp/stt-spawn-%d.pid", (int)getpid());
	snprintf(script, sizeof(script), "sleep 30 & echo $! > %s; wait", file);
	assert_int_equal(st_spawn(TL_ARGV("sh", "-c", script), -1, NULL, 0, 300,
				  &res, err),
			 -ETIMEDOUT);
	f = fopen(file, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &grandchild), 1);
	fclose(f);
	unlink(file);
	assert_true(grandchild > 1);
	/* Dead: gone, or a zombie if our init is slow to reap orphans. */
	for (i = 0; i < 100 && alive((pid_t)grandchild); i++)
		usleep(10000);
	assert_false(alive((pid_t)grandchild));
}

/* 2,000,000 lines, 14,888,896 bytes: far beyond any pipe buffer. */
static void test_big_output(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	size_t lines = 0, i;

	(void)state;
	assert_int_equal(st_spawn(TL_ARGV("seq", "1", "2000000"), -1, NULL, 0,
				  30000, &res, err),
			 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.out_len, 14888896);
	for (i = 0; i < res.out_len; i++)
		lines += res.out[i] == '\n';
	assert_int_equal(lines, 2000000);
	assert_memory_equal(res.out, "1\n2\n3\n", 6);
	assert_string_equal(res.out + res.out_len - 8, "2000000\n");
	st_spawn_result_free(&res);
}

/* Input and output both far beyond a pipe: written and read together. */
static void test_big_input(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	size_t len = 8u << 20, i;
	char *in = malloc(len);

	(void)state;
	assert_non_null(in);
	for (i = 0; i < len; i++)
		in[i] = (char)('a' + i % 26);
	assert_int_equal(
		st_spawn(TL_ARGV("cat"), -1, in, len, 30000, &res, err), 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.out_len, len);
	assert_memory_equal(res.out, in, len);
	st_spawn_result_free(&res);

	/* A program that reads nothing: no SIGPIPE for us, its status. */
	assert_int_equal(st_spawn(TL_ARGV("sh", "-c", "exit 4"), -1, in, len,
				  5000, &res, err),
			 0);
	assert_int_equal(res.status, 4);
	st_spawn_result_free(&res);
	free(in);
}

/* Our descriptors, CLOEXEC or not, never reach the program. */
static void test_fd_hygiene(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int fd;

	(void)state;
	fd = open("/dev/null", O_RDONLY); /* deliberately no O_CLOEXEC */
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 57), 57);
	assert_int_equal(st_spawn(TL_ARGV("ls", "/proc/self/fd"), -1, NULL, 0,
				  5000, &res, err),
			 0);
	/* 0-2, plus the one ls opens to read the directory. */
	assert_string_equal(res.out, "0\n1\n2\n3\n");
	st_spawn_result_free(&res);
	close(57);
	close(fd);
}

/* With stdin closed our pipes land on fd 0; the child must not mind. */
static void test_closed_stdio(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int saved = dup(0);

	(void)state;
	assert_true(saved >= 0);
	close(0);
	assert_int_equal(
		st_spawn(TL_ARGV("cat"), -1, "abc", 3, 5000, &res, err), 0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_string_equal(res.out, "abc");
	st_spawn_result_free(&res);
}

/* A namespace fd that is not one: the child reports the failed setns(). */
static void test_bad_netns_fd(void **state)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(
		st_spawn(TL_ARGV("true"), fd, NULL, 0, 5000, &res, err),
		-EINVAL);
	assert_non_null(strstr(err, "network namespace"));
	close(fd);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_group),
		cmocka_unit_test(test_big_output),
		cmocka_unit_test(test_big_input),
		cmocka_unit_test(test_fd_hygiene),
		cmocka_unit_test(test_closed_stdio),
		cmocka_unit_test(test_bad_netns_fd),
	};

	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
