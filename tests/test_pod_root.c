// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pod_root.c - finding a real sidecar-looking process: one started in
 * a throwaway network namespace is found with its namespace, environment
 * and pid, and is gone once killed; one in the node's own namespace is
 * found, flagged and its namespace refused; the node's root is found at
 * /host by default only where / is not one.  Needs root: skipped (exit 77)
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
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pod.h"
#include "testlib.h"

static struct tl_netns netns = {"", -1};
static char pod_name[64];
static pid_t child = -1;
static pid_t host_child = -1;

static int real_setup(void **state)
{
	(void)state;
	snprintf(pod_name, sizeof(pod_name), "stt-sleeper-%d", (int)getpid());
	if (tl_tmpdir_make("stt-pod") < 0)
		return -1;
	return tl_netns_add(&netns, "stt-pod");
}

static int real_teardown(void **state)
{
	int ws;

	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, &ws, 0);
		child = -1;
	}
	if (host_child > 0) {
		kill(host_child, SIGKILL);
		waitpid(host_child, &ws, 0);
		host_child = -1;
	}
	tl_tmpdir_remove();
	return tl_netns_del(&netns);
}

static void test_real_process(void **state)
{
	struct st_pod_opts o = {.crictl = ""};
	char err[ST_ERRBUF_SIZE] = "";
	char env_name[128], path[128];
	struct stat want, got;
	struct st_pod pod;
	int i, fd, r = -ENOENT;

	(void)state;
	snprintf(env_name, sizeof(env_name), "POD_NAME=%s", pod_name);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execlp("ip", "ip", "netns", "exec", netns.name, "env", "-i",
		       "PATH=/usr/bin:/bin", env_name, "POD_NAMESPACE=stt-ns",
		       "INSTANCE_IP=10.255.0.9", "SERVICE_ACCOUNT=stt-sa",
		       "ISTIO_META_INTERCEPTION_MODE=TPROXY", "sleep", "30",
		       (char *)NULL);
		_exit(127);
	}
	/* until `ip netns exec` and env have exec'd sleep */
	for (i = 0; i < 200 && r == -ENOENT; i++) {
		r = st_pod_lookup(&o, pod_name, "stt-ns", &pod, err);
		if (r == -ENOENT)
			usleep(10000);
	}
	if (r != 0)
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "/var/run/netns/%s", netns.name);
	assert_int_equal(stat(path, &want), 0);
	assert_int_equal(pod.netns_ino, want.st_ino);
	assert_int_equal(pod.netns_dev, want.st_dev);
	/* ip netns exec and env exec in place: the pid is sleep's */
	assert_int_equal(pod.pid, child);
	assert_false(pod.host_netns);
	assert_int_equal(pod.sources, ST_POD_SRC_PROC);
	assert_int_equal(pod.nprocs, 1);
	assert_string_equal(pod.instance_ip, "10.255.0.9");
	assert_string_equal(pod.interception_mode, "TPROXY");
	assert_string_equal(pod.service_account, "stt-sa");

	fd = st_pod_netns_open(&pod, &o, err);
	if (fd < 0)
		fail_msg("%s", err);
	assert_int_equal(fstat(fd, &got), 0);
	assert_int_equal(got.st_ino, want.st_ino);
	close(fd);

	/* gone: the namespace is still there, but no process names it */
	kill(child, SIGKILL);
	waitpid(child, &i, 0);
	child = -1;
	assert_int_equal(st_pod_netns_open(&pod, &o, err), -ESRCH);
	assert_int_equal(st_pod_lookup(&o, pod_name, "stt-ns", &pod, err),
			 -ENOENT);
}

/*
 * A proxy-looking process in the node's own namespace (as a hostNetwork
 * pod would be): found, flagged, and its namespace refused.  Only a process
 * is started; nothing of the root namespace is changed.
 */
static void test_real_host_netns(void **state)
{
	struct st_pod_opts o = {.crictl = ""};
	char err[ST_ERRBUF_SIZE] = "";
	char env_name[128];
	struct st_pod pod;
	int i, r = -ENOENT;

	(void)state;
	snprintf(env_name, sizeof(env_name), "POD_NAME=%s-host", pod_name);
	host_child = fork();
	assert_true(host_child >= 0);
	if (host_child == 0) {
		execlp("env", "env", "-i", "PATH=/usr/bin:/bin", env_name,
		       "POD_NAMESPACE=stt-ns",
		       "ISTIO_META_INTERCEPTION_MODE=REDIRECT", "sleep", "30",
		       (char *)NULL);
		_exit(127);
	}
	snprintf(env_name, sizeof(env_name), "%s-host", pod_name);
	for (i = 0; i < 200 && r == -ENOENT; i++) {
		r = st_pod_lookup(&o, env_name, "stt-ns", &pod, err);
		if (r == -ENOENT)
			usleep(10000);
	}
	if (r != 0)
		fail_msg("%s", err);
	assert_int_equal(pod.pid, host_child);
	assert_true(pod.host_netns);
	assert_int_equal(st_pod_netns_open(&pod, &o, err), -EPERM);
	assert_non_null(strstr(err, "refusing to touch the node's rules"));
}

/*
 * Where the node's root is by default, seen from a root directory laid out
 * as a debugger pod's (kubectl debug node: the node's root at /host), as a
 * node's own, or as neither.  The check runs chrooted in a child, since it
 * looks at the absolute paths / and /host.
 */
struct host_root_case {
	const char *name;
	const char *const *dirs; /* made under the scratch root, NULL-ended */
	const char *want;	 /* st_pod_default_host_root() */
};

static const char *const dirs_debug_pod[] = {"host/var/lib/kubelet", NULL};
static const char *const dirs_crio_pod[] = {"host/run/crio/crio.sock", NULL};
static const char *const dirs_on_node[] = {"var/lib/kubelet",
					   "host/var/lib/kubelet", NULL};
static const char *const dirs_plain[] = {"host/etc", NULL};

static const struct host_root_case host_root_cases[] = {
	{.name = "debug-pod", .dirs = dirs_debug_pod, .want = "/host"},
	{.name = "debug-pod-crio", .dirs = dirs_crio_pod, .want = "/host"},
	{.name = "on-the-node", .dirs = dirs_on_node, .want = NULL},
	{.name = "no-node-root", .dirs = dirs_plain, .want = NULL},
};

static void mkdirs(const char *root, const char *rel)
{
	char path[512];

	for (const char *p = rel; (p = strchr(p, '/')) != NULL; p++) {
		snprintf(path, sizeof(path), "%s/%.*s", root, (int)(p - rel),
			 rel);
		(void)mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void test_default_host_root(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(host_root_cases) / sizeof(host_root_cases[0]); i++) {
		const struct host_root_case *c = &host_root_cases[i];
		char root[256];
		int status = 0;
		pid_t pid;

		tl_tmp_path(root, sizeof(root), c->name);
		assert_int_equal(mkdir(root, 0755), 0);
		for (const char *const *d = c->dirs; *d != NULL; d++)
			mkdirs(root, *d);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			const char *got = NULL;

			if (chroot(root) != 0 || chdir("/") != 0)
				_exit(2);
			got = st_pod_default_host_root();
			if (c->want == NULL)
				_exit(got == NULL ? 0 : 1);
			_exit(got != NULL && strcmp(got, c->want) == 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("%s: default host root is not %s", c->name,
				 c->want ? c->want : "none");
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_process),
		cmocka_unit_test(test_real_host_netns),
		cmocka_unit_test(test_default_host_root),
	};

	tl_need_root("pod", TL_TOOLS("ip", "env", "sleep"));
	return cmocka_run_group_tests_name("pod-real", tests, real_setup,
					   real_teardown);
}
