// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pcapin_root.c - a fresh capture by tcpdump in a throwaway network
 * namespace, of connections from uid 1000 to 127.0.0.1 and ::1 through an
 * NFLOG rule (nflog:7) and through TRACE (nflog:0), must pass the same
 * checks as the stored ones of samples/captures/synthetic/.  Needs root,
 * tcpdump, the legacy iptables, setpriv and python3: skipped (exit 77)
 * otherwise.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "pcapin.h"
#include "spawn.h"
#include "testlib.h"
#include "testlib_pcapin.h"

#define TAG TL_PCAPIN_TAG
#define PYTHON "/usr/bin/python3"

static void run(int ns_fd, char *const argv[])
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int ret;

	ret = st_spawn(argv, ns_fd, NULL, 0, 20000, &res, err);
	if (ret != 0 || res.status != 0)
		fail_msg("%s failed (%d, status %d): %s%s", argv[0], ret,
			 res.status, err, res.errout ? res.errout : "");
	st_spawn_result_free(&res);
}

/* Write a sysctl of the namespace: /proc/sys/net is per namespace. */
static void ns_sysctl(int ns_fd, const char *path, const char *val)
{
	char err[ST_ERRBUF_SIZE] = "";
	int saved = -1, fd, ret;
	ssize_t n = -1;

	ret = st_netns_enter(ns_fd, &saved, err);
	if (ret < 0)
		fail_msg("%s", err);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = write(fd, val, strlen(val));
		close(fd);
	}
	if (st_netns_leave(saved, err) < 0)
		abort(); /* cannot go on in the wrong namespace */
	assert_int_equal(n, (ssize_t)strlen(val));
}

/* tcpdump in the namespace, stderr to @log; returns its pid. */
static pid_t start_tcpdump(int ns_fd, const char *iface, const char *out,
			   const char *log)
{
	char *const argv[] = {"tcpdump",     "-Z", "root",	"-U", "-i",
			      (char *)iface, "-w", (char *)out, NULL};
	int saved = -1, fd;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	/* The child: never back to the test, so no need to leave. */
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0 ||
	    st_netns_enter(ns_fd, &saved, NULL) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

static bool file_has(const char *path, const char *what)
{
	char buf[1024] = "";
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0)
		buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Records of @path so far matching @prefix with uid 1000 (-1: unreadable). */
static int count_uid1000(const char *path, const char *prefix)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	int n = 0;
	size_t i;

	assert_non_null(c);
	if (tl_pcapin_read(path, c, &st, err) != 0) {
		free(c);
		return -1;
	}
	for (i = 0; i < c->n && i < ST_ARRAY_SIZE(c->recs); i++)
		if (c->recs[i].has_uid && c->recs[i].uid == 1000 &&
		    strcmp(c->recs[i].prefix, prefix) == 0)
			n++;
	free(c);
	return n;
}

/* What the live test made; its teardown removes it, pass or fail. */
static struct {
	char ns[64];
	int ns_fd;
	pid_t pid[2];
	char cap[2][256], log[2][256];
} live = {.ns_fd = -1, .pid = {-1, -1}};

static int live_teardown(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_spawn_result res;
	int i, st, ret = 0;

	(void)state;
	for (i = 0; i < 2; i++) {
		if (live.pid[i] > 0) {
			kill(live.pid[i], SIGINT);
			waitpid(live.pid[i], &st, 0);
			live.pid[i] = -1;
		}
		unlink(live.cap[i]);
		unlink(live.log[i]);
	}
	if (live.ns_fd >= 0)
		close(live.ns_fd);
	live.ns_fd = -1;
	if (live.ns[0] != '\0') {
		ret = st_spawn(TL_ARGV("ip", "netns", "del", live.ns), -1, NULL,
			       0, 20000, &res, err);
		if (ret == 0 && res.status != 0)
			ret = -1;
		st_spawn_result_free(&res);
		live.ns[0] = '\0';
	}
	return ret;
}

static void test_live_tcpdump(void **state)
{
	static const char *const ifaces[] = {"nflog:7", "nflog:0"};
	char err[ST_ERRBUF_SIZE] = "";
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		snprintf(live.cap[i], sizeof(live.cap[i]), "%s/live-%d.pcap",
			 tl_tmpdir(), i);
		snprintf(live.log[i], sizeof(live.log[i]), "%s/live-%d.log",
			 tl_tmpdir(), i);
	}
	snprintf(live.ns, sizeof(live.ns), "stt-pcapin-%d", (int)getpid());
	run(-1, TL_ARGV("ip", "netns", "add", live.ns));
	live.ns_fd = st_netns_open(live.ns, err);
	if (live.ns_fd < 0)
		fail_msg("%s", err);

	run(live.ns_fd, TL_ARGV("ip", "link", "set", "lo", "up"));
	/*
	 * nat chains see packets only once conntrack runs in the namespace;
	 * a lone NFLOG rule does not turn it on, -m conntrack does.
	 */
	run(live.ns_fd,
	    TL_ARGV("iptables-legacy", "-w", "-t", "nat", "-A", "OUTPUT", "-p",
		    "tcp", "-m", "conntrack", "--ctstate", "NEW", "-j", "NFLOG",
		    "--nflog-group", "7", "--nflog-prefix", TAG));
	run(live.ns_fd,
	    TL_ARGV("ip6tables-legacy", "-w", "-t", "nat", "-A", "OUTPUT", "-p",
		    "tcp", "-m", "conntrack", "--ctstate", "NEW", "-j", "NFLOG",
		    "--nflog-group", "7", "--nflog-prefix", TAG));
	run(live.ns_fd,
	    TL_ARGV("iptables-legacy", "-w", "-t", "raw", "-A", "OUTPUT", "-p",
		    "tcp", "--dport", "8080", "-j", "TRACE"));
	run(live.ns_fd,
	    TL_ARGV("ip6tables-legacy", "-w", "-t", "raw", "-A", "OUTPUT", "-p",
		    "tcp", "--dport", "8080", "-j", "TRACE"));
	/* TRACE records go to nfnetlink_log, group 0. */
	ns_sysctl(live.ns_fd, "/proc/sys/net/netfilter/nf_log/2",
		  "nfnetlink_log");
	ns_sysctl(live.ns_fd, "/proc/sys/net/netfilter/nf_log/10",
		  "nfnetlink_log");

	for (i = 0; i < 2; i++)
		live.pid[i] = start_tcpdump(live.ns_fd, ifaces[i], live.cap[i],
					    live.log[i]);
	for (i = 0; i < 100 && !(file_has(live.log[0], "listening on") &&
				 file_has(live.log[1], "listening on"));
	     i++)
		sleep_ms(100);

	run(live.ns_fd, TL_ARGV("setpriv", "--reuid", "1000", "--regid", "1000",
				"--clear-groups", PYTHON, "-c",
				"import socket\n"
				"for f, a in ((socket.AF_INET, '127.0.0.1'),"
				" (socket.AF_INET6, '::1')):\n"
				"    s = socket.socket(f, socket.SOCK_STREAM)\n"
				"    s.settimeout(2)\n"
				"    try:\n"
				"        s.connect((a, 8080))\n"
				"    except OSError:\n"
				"        pass\n"
				"    s.close()\n"));
	/*
	 * The kernel may hold records up to its flush timeout (1 s for
	 * libpcap's groups) before sending them: wait for them to land.
	 */
	for (i = 0; i < 100 && (count_uid1000(live.cap[0], TAG) < 2 ||
				count_uid1000(live.cap[1],
					      "TRACE: nat:OUTPUT:rule:1 ") < 2);
	     i++)
		sleep_ms(100);
	/* Stop tcpdump: the files are complete once it has exited. */
	for (i = 0; i < 2; i++) {
		int st;

		kill(live.pid[i], SIGINT);
		waitpid(live.pid[i], &st, 0);
		live.pid[i] = -1;
	}

	tl_pcapin_check_group7(live.cap[0]);
	tl_pcapin_check_trace(live.cap[1]);
}

static int setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("stt-pcapin-root");
}

static int teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_live_tcpdump, live_teardown),
	};

	tl_need_root("pcapin",
		     TL_TOOLS("ip", "iptables-legacy", "ip6tables-legacy",
			      "tcpdump", "setpriv", PYTHON));
	return cmocka_run_group_tests_name("pcapin-root", tests, setup,
					   teardown);
}
