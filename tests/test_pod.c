// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pod.c - finding sidecar pods: name validation, the fake /proc tree
 * and the crictl stand-in of tests/fakes/ (built by tests/fakes/mkfakes.py).
 * A real process in a throwaway network namespace needs root:
 * test_pod_root.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pod.h"
#include "spawn.h"
#include "testlib.h"

#define FAKES ST_SAMPLES "/../tests/fakes"
#define FAKE_PROC FAKES "/proc"

static char *orig_path;

static void set_path(const char *dir)
{
	char buf[4096];

	if (dir == NULL) {
		setenv("PATH", orig_path, 1);
		return;
	}
	snprintf(buf, sizeof(buf), "%s:%s", dir, orig_path);
	setenv("PATH", buf, 1);
}

static int restore_env(void **state)
{
	(void)state;
	set_path(NULL);
	unsetenv("ST_FAKE_CRICTL_FAIL");
	unsetenv("ST_FAKE_CRICTL_LOG");
	return 0;
}

/* ---- names ------------------------------------------------------------ */

struct name_case {
	const char *s;
	bool name_ok;	 /* as a pod name (subdomain) */
	bool ns_ok;	 /* as a namespace (label) */
	const char *why; /* in the pod-name message when !name_ok */
};

static const struct name_case name_cases[] = {
	{"productpage-v1-6b746f74dc-9stfl", true, true, NULL},
	{"a", true, true, NULL},
	{"0", true, true, NULL},
	{"web.example.com", true, false, NULL},
	{"a-b.c-d", true, false, NULL},
	{"", false, false, "is empty"},
	{"Productpage", false, false, "uppercase"},
	{"-leading", false, false, "start and end"},
	{"trailing-", false, false, "start and end"},
	{".dot", false, false, "start and end"},
	{"dot.", false, false, "start and end"},
	{"a..b", false, false, "label"},
	{"a.-b", false, false, "label"},
	{"a-.b", false, false, "label"},
	{"under_score", false, false, "a-z, 0-9, '-' and '.'"},
	{"space name", false, false, "a-z, 0-9, '-' and '.'"},
	{"slash/name", false, false, "a-z, 0-9, '-' and '.'"},
	{"esc\033[31m", false, false, "a-z, 0-9, '-' and '.'"},
	{"caf\xc3\xa9", false, false, "a-z, 0-9, '-' and '.'"},
	/* 63 characters: the longest label */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 true, true, NULL},
	/* 64 characters: a fine name, too long for a namespace */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 true, false, NULL},
};

static void test_names(void **state)
{
	char err[ST_ERRBUF_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		int r;

		err[0] = '\0';
		r = st_pod_check_name(c->s, err);
		if (r != (c->name_ok ? 0 : -EINVAL))
			fail_msg("name case %zu \"%s\": got %d (%s)", i, c->s,
				 r, err);
		if (!c->name_ok) {
			assert_non_null(strstr(err, "invalid pod name"));
			assert_non_null(strstr(err, c->why));
			/* Untrusted text never reaches a terminal raw. */
			assert_null(strchr(err, '\033'));
			assert_null(strchr(err, '\xc3'));
		}
		err[0] = '\0';
		r = st_pod_check_namespace(c->s, err);
		if (r != (c->ns_ok ? 0 : -EINVAL))
			fail_msg("namespace case %zu \"%s\": got %d (%s)", i,
				 c->s, r, err);
		if (!c->ns_ok)
			assert_non_null(strstr(err, "invalid namespace"));
	}
	assert_int_equal(st_pod_check_name(NULL, err), -EINVAL);
	assert_int_equal(st_pod_check_namespace(NULL, err), -EINVAL);
}

static void test_name_lengths(void **state)
{
	char err[ST_ERRBUF_SIZE];
	char s[300];

	(void)state;
	/* 253 = the longest subdomain: labels of 63 joined by dots. */
	memset(s, 'a', sizeof(s));
	s[63] = s[127] = s[191] = '.';
	s[253] = '\0';
	assert_int_equal(st_pod_check_name(s, err), 0);
	s[253] = 'a';
	s[254] = '\0';
	assert_int_equal(st_pod_check_name(s, err), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	assert_non_null(strstr(err, "253"));
	/* The message shows a bounded prefix of a long name. */
	assert_true(strlen(err) < ST_ERRBUF_SIZE - 1);
	assert_non_null(strstr(err, "..."));
}

/*
 * ---- the fake tree ----------------------------------------------------
 * Scans name FAKES as the node's root: the machine's own /run/netns (and
 * any ambient lab in it) stays out of them.
 */

static ino_t fake_ino(const char *netns)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), FAKES "/netns/%s", netns);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

struct want_pod {
	const char *ns;
	const char *name;
	const char *netns; /* file under fakes/netns */
	int pid;
	unsigned int nprocs;
	unsigned int sources;
	const char *ip;
	const char *mode;
	const char *sa;
	bool host;
	bool cri_path;	       /* netns_path is the fake's netns file */
	const char *sandbox;   /* two hex digits repeated, or NULL */
	enum st_pod_mode kind; /* 0: sidecar */
};

#define PROC ST_POD_SRC_PROC
#define CRI ST_POD_SRC_CRI

/* /proc alone: sorted by namespace, name, then namespace inode. */
static const struct want_pod want_proc[] = {
	{"bookinfo", "reviews-v2-xyz", "pod-b", 200, 2, PROC, "fd00:244::1:20",
	 "TPROXY", "bookinfo-reviews", false, false, NULL, 0},
	{"default", "dup-pod", "pod-c1", 300, 1, PROC, "10.244.1.40",
	 "REDIRECT", "", false, false, NULL, 0},
	{"default", "dup-pod", "pod-c2", 310, 1, PROC, "10.244.1.40",
	 "REDIRECT", "", false, false, NULL, 0},
	/* hostile values dropped, the first POD_NAME wins */
	{"default", "odd-values", "pod-h", 620, 1, PROC, "", "", "", false,
	 false, NULL, 0},
	/* the pilot-agent speaks for the pod; the app (pid 90) is no proxy */
	{"default", "productpage-v1-abc", "pod-a", 100, 2, PROC, "10.244.1.10",
	 "REDIRECT", "bookinfo-productpage", false, false, NULL, 0},
	/* a native sidecar's processes look as ever: a sidecar to /proc */
	{"default", "ratings-v1-native", "pod-n", 1010, 2, PROC, "10.244.1.70",
	 "REDIRECT", "bookinfo-ratings", false, false, NULL, 0},
	{"kube-system", "hostnet-proxy", "host", 800, 1, PROC, "192.168.49.2",
	 "REDIRECT", "default", true, false, NULL, 0},
};

/* With the crictl stand-in. */
static const struct want_pod want_cri[] = {
	/* inspectp has no path: /proc/<info.pid>/ns/net */
	{"bookinfo", "reviews-v2-xyz", "pod-b", 200, 2, PROC | CRI,
	 "fd00:244::1:20", "TPROXY", "bookinfo-reviews", false, false, "b2", 0},
	/* containerd 1.0's info.netNamespace, no pid */
	{"default", "details-v1-old", "pod-d", 0, 0, CRI, "10.244.1.31", "", "",
	 false, true, "d4", 0},
	{"default", "dup-pod", "pod-c1", 300, 1, PROC, "10.244.1.40",
	 "REDIRECT", "", false, false, NULL, 0},
	{"default", "dup-pod", "pod-c2", 310, 1, PROC, "10.244.1.40",
	 "REDIRECT", "", false, false, NULL, 0},
	{"default", "odd-values", "pod-h", 620, 1, PROC, "", "", "", false,
	 false, NULL, 0},
	{"default", "productpage-v1-abc", "pod-a", 100, 2, PROC | CRI,
	 "10.244.1.10", "REDIRECT", "bookinfo-productpage", false, true, "a1",
	 0},
	/* only crictl knows it: the sandbox pid, the annotation's mode */
	{"default", "ratings-v1-cri", "pod-r", 900, 0, CRI, "10.244.1.30",
	 "TPROXY", "", false, true, "c3", 0},
	/* the status annotation lists istio-proxy among the init containers */
	{"default", "ratings-v1-native", "pod-n", 1010, 2, PROC | CRI,
	 "10.244.1.70", "REDIRECT", "bookinfo-ratings", false, true, "a7",
	 ST_POD_MODE_NATIVE_SIDECAR},
	{"kube-system", "hostnet-proxy", "host", 800, 1, PROC, "192.168.49.2",
	 "REDIRECT", "default", true, false, NULL, 0},
};

static void check_pods(const struct st_pod_list *l, const struct want_pod *w,
		       size_t n)
{
	size_t i;

	if (st_pod_list_count(l) != n) {
		for (i = 0; i < st_pod_list_count(l); i++)
			print_message("found %s/%s pid %d\n",
				      st_pod_list_get(l, i)->ns,
				      st_pod_list_get(l, i)->name,
				      st_pod_list_get(l, i)->pid);
		fail_msg("found %zu pods, want %zu", st_pod_list_count(l), n);
	}
	for (i = 0; i < n; i++) {
		const struct st_pod *p = st_pod_list_get(l, i);
		char path[512], sid[129];
		size_t k;

		assert_non_null(p);
		assert_string_equal(p->ns, w[i].ns);
		assert_string_equal(p->name, w[i].name);
		assert_int_equal(p->netns_ino, fake_ino(w[i].netns));
		assert_int_equal(p->pid, w[i].pid);
		assert_int_equal(p->nprocs, w[i].nprocs);
		assert_int_equal(p->sources, w[i].sources);
		assert_string_equal(p->instance_ip, w[i].ip);
		assert_string_equal(p->interception_mode, w[i].mode);
		assert_string_equal(p->service_account, w[i].sa);
		assert_int_equal(p->host_netns, w[i].host);
		assert_string_equal(
			st_pod_mode_name(p->mode),
			st_pod_mode_name(w[i].kind ? w[i].kind
						   : ST_POD_MODE_SIDECAR));
		if (w[i].cri_path) {
			snprintf(path, sizeof(path), "%s/netns/%s", FAKES,
				 w[i].netns);
			assert_non_null(realpath(path, sid));
			assert_string_equal(p->netns_path, sid);
		} else {
			assert_string_equal(p->netns_path, "");
		}
		sid[0] = '\0';
		for (k = 0; w[i].sandbox != NULL && k < 32; k++)
			memcpy(sid + 2 * k, w[i].sandbox, 3);
		assert_string_equal(p->sandbox_id, sid);
	}
	assert_null(st_pod_list_get(l, n));
}

static void test_scan_proc(void **state)
{
	struct st_pod_opts o = {
		.proc_root = FAKE_PROC, .host_root = FAKES, .crictl = ""};
	struct st_pod_list *l = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	check_pods(l, want_proc, ST_ARRAY_SIZE(want_proc));
	/* the gateway is named, environ-as-directory counted */
	assert_non_null(strstr(
		st_pod_list_note(l),
		"istio-system/istio-ingressgateway-7d4b9 is an Istio gateway"));
	assert_non_null(
		strstr(st_pod_list_note(l), "1 process(es) could not be read"));
	assert_null(strstr(st_pod_list_note(l), "crictl"));
	st_pod_list_free(l);
}

static void test_scan_crictl(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKE_PROC, .host_root = FAKES};
	struct st_pod_list *l = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	set_path(FAKES);
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	check_pods(l, want_cri, ST_ARRAY_SIZE(want_cri));
	/* "--help" is never passed to crictl as a sandbox id */
	assert_non_null(strstr(st_pod_list_note(l),
			       "crictl: skipped a sandbox with an invalid id"));
	st_pod_list_free(l);
}

static void test_crictl_absent_or_failing(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKE_PROC, .host_root = FAKES};
	struct st_pod_list *l = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	/* not installed: silently /proc alone */
	setenv("PATH", "/nonexistent-h9", 1);
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	check_pods(l, want_proc, ST_ARRAY_SIZE(want_proc));
	assert_null(strstr(st_pod_list_note(l), "crictl"));
	st_pod_list_free(l);
	l = NULL;

	/* installed but no runtime: noted, /proc stands */
	set_path(FAKES);
	setenv("ST_FAKE_CRICTL_FAIL", "1", 1);
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	check_pods(l, want_proc, ST_ARRAY_SIZE(want_proc));
	assert_non_null(strstr(st_pod_list_note(l),
			       "'crictl pods' failed (exit 1): time="));
	st_pod_list_free(l);
}

struct find_case {
	const char *name;
	const char *ns;
	int ret;
	int pid;	    /* when ret == 0 */
	const char *msg[3]; /* substrings of the error */
};

static const struct find_case find_cases[] = {
	{"productpage-v1-abc", "default", 0, 100, {NULL}},
	{"reviews-v2-xyz", "bookinfo", 0, 200, {NULL}},
	{"hostnet-proxy", "kube-system", 0, 800, {NULL}},
	{"ratings-v1-cri", "default", 0, 900, {NULL}},
	/* native sidecar: found as before, by its pilot-agent */
	{"ratings-v1-native", "default", 0, 1010, {NULL}},
	/* ztunnel's own pod is no sidecar pod */
	{"ztunnel-x7k2p", "istio-system", -ENOENT, 0, {"no Istio pod", NULL}},
	/* right name, wrong namespace: say so and list what there is */
	{"reviews-v2-xyz",
	 "default",
	 -ENOENT,
	 0,
	 {"no Istio pod reviews-v2-xyz in namespace default; ",
	  "Istio pods on this node: bookinfo/reviews-v2-xyz, "
	  "default/details-v1-old, default/dup-pod, default/dup-pod, "
	  "default/odd-values, default/productpage-v1-abc, "
	  "default/ratings-v1-cri, default/ratings-v1-native, "
	  "kube-system/hostnet-proxy",
	  NULL}},
	/* the application container alone is not a sidecar */
	{"plain-app",
	 "default",
	 -ENOENT,
	 0,
	 {"no Istio pod plain-app in namespace default", NULL}},
	/* gateways are not sidecars */
	{"istio-ingressgateway-7d4b9",
	 "istio-system",
	 -ENOENT,
	 0,
	 {"no Istio pod istio-ingressgateway-7d4b9", NULL}},
	/* a stale (not ready) sandbox does not count twice */
	{"dup-pod",
	 "default",
	 -EEXIST,
	 0,
	 {"pod dup-pod in namespace default is ambiguous: found in 2 network namespaces",
	  "pid 300 netns ", "pid 310 netns "}},
	{"Productpage-v1-abc",
	 "default",
	 -EINVAL,
	 0,
	 {"invalid pod name \"Productpage-v1-abc\"", "uppercase", NULL}},
	{"productpage-v1-abc",
	 "Default",
	 -EINVAL,
	 0,
	 {"invalid namespace \"Default\"", NULL}},
	{"productpage-v1-abc",
	 "my.ns",
	 -EINVAL,
	 0,
	 {"invalid namespace", "a-z, 0-9 and '-'", NULL}},
	{"",
	 "default",
	 -EINVAL,
	 0,
	 {"invalid pod name \"\": it is empty", NULL}},
	/* a hostile process's name was never listed */
	{"Bad_Name\033[31m", "default", -EINVAL, 0, {"Bad_Name?[31m", NULL}},
};

static void test_find(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKE_PROC, .host_root = FAKES};
	struct st_pod_list *l = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	size_t i, k;

	(void)state;
	set_path(FAKES);
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	for (i = 0; i < ST_ARRAY_SIZE(find_cases); i++) {
		const struct find_case *c = &find_cases[i];
		const struct st_pod *p = NULL;
		int r;

		err[0] = '\0';
		r = st_pod_find(l, c->name, c->ns, &p, err);
		if (r != c->ret)
			fail_msg("find case %zu: got %d (%s), want %d", i, r,
				 err, c->ret);
		if (r == 0) {
			assert_non_null(p);
			assert_string_equal(p->name, c->name);
			assert_string_equal(p->ns, c->ns);
			assert_int_equal(p->pid, c->pid);
			continue;
		}
		assert_null(p);
		for (k = 0; k < 3 && c->msg[k] != NULL; k++)
			if (strstr(err, c->msg[k]) == NULL)
				fail_msg("find case %zu: \"%s\" not in \"%s\"",
					 i, c->msg[k], err);
		assert_null(strchr(err, '\033'));
	}
	st_pod_list_free(l);
}

static void test_find_empty_and_long_lists(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKES "/netns",
				.host_root = FAKES,
				.crictl = ""}; /* no pid dirs */
	struct st_pod_list *l = NULL;
	const struct st_pod *p = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	assert_int_equal(st_pod_scan(&o, &l, err), 0);
	assert_int_equal(st_pod_list_count(l), 0);
	assert_int_equal(st_pod_find(l, "x", "default", &p, err), -ENOENT);
	assert_string_equal(err, "no Istio pod x in namespace default; no "
				 "Istio pods (sidecar or ambient) were found "
				 "on this node");
	st_pod_list_free(l);

	/* NULL list and no result pointer are refused, not crashed on */
	assert_int_equal(st_pod_find(NULL, "x", "default", &p, err), -EINVAL);
	assert_int_equal(st_pod_list_count(NULL), 0);
	assert_null(st_pod_list_get(NULL, 0));
	assert_string_equal(st_pod_list_note(NULL), "");
	st_pod_list_free(NULL);
}

static void test_lookup(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKE_PROC, .crictl = ""};
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pod pod;

	(void)state;
	assert_int_equal(
		st_pod_lookup(&o, "productpage-v1-abc", "default", &pod, err),
		0);
	assert_int_equal(pod.pid, 100);
	assert_int_equal(pod.netns_ino, fake_ino("pod-a"));
	assert_int_equal(
		st_pod_lookup(&o, "ratings-v1-cri", "default", &pod, err),
		-ENOENT);
	assert_int_equal(st_pod_lookup(&o, "a_b", "default", &pod, err),
			 -EINVAL);

	/* the node's own namespace is never handed out */
	assert_int_equal(
		st_pod_lookup(&o, "hostnet-proxy", "kube-system", &pod, err),
		0);
	assert_true(pod.host_netns);
	assert_int_equal(st_pod_netns_open(&pod, &o, err), -EPERM);
	assert_non_null(strstr(err, "node's network namespace"));

	/* a fake ns/net is no namespace: reported as gone */
	assert_int_equal(
		st_pod_lookup(&o, "productpage-v1-abc", "default", &pod, err),
		0);
	assert_int_equal(st_pod_netns_open(&pod, &o, err), -ESRCH);
	assert_non_null(strstr(err, "default/productpage-v1-abc is gone"));
}

/* The whole log of the crictl stand-in, or "" (a static buffer). */
static const char *crictl_log(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/*
 * A lookup asks crictl for the one pod (--name, --namespace), and the
 * native sidecar is told by the runtime; under a host root crictl talks to
 * the node's runtime socket.
 */
static void test_lookup_crictl(void **state)
{
	struct st_pod_opts o = {.proc_root = FAKE_PROC};
	char err[ST_ERRBUF_SIZE] = "", log[] = "/tmp/st-test-pod-XXXXXX";
	char host[] = "/tmp/st-test-host-XXXXXX", sock[256], want[512];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct st_pod pod;
	int fd, lfd;

	(void)state;
	set_path(FAKES);
	lfd = mkstemp(log);
	assert_true(lfd >= 0);
	close(lfd);
	setenv("ST_FAKE_CRICTL_LOG", log, 1);
	assert_int_equal(
		st_pod_lookup(&o, "ratings-v1-native", "default", &pod, err),
		0);
	assert_int_equal(pod.mode, ST_POD_MODE_NATIVE_SIDECAR);
	assert_int_equal(pod.sources, ST_POD_SRC_PROC | ST_POD_SRC_CRI);
	assert_int_equal(pod.pid, 1010);
	assert_non_null(strstr(crictl_log(log),
			       "crictl pods --name ratings-v1-native "
			       "--namespace default -o json\n"));
	/* crictl's --name is a pattern: "ratings-v1-cri" is not ratings-v1 */
	assert_int_equal(st_pod_lookup(&o, "ratings-v1", "default", &pod, err),
			 -ENOENT);

	/* a node's root with containerd's socket */
	assert_non_null(mkdtemp(host));
	snprintf(sock, sizeof(sock), "%s/run", host);
	assert_int_equal(mkdir(sock, 0700), 0);
	snprintf(sock, sizeof(sock), "%s/run/containerd", host);
	assert_int_equal(mkdir(sock, 0700), 0);
	snprintf(sock, sizeof(sock), "%s/run/containerd/containerd.sock", host);
	st_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	o.host_root = host;
	assert_int_equal(
		st_pod_lookup(&o, "ratings-v1-cri", "default", &pod, err), 0);
	assert_int_equal(pod.pid, 900);
	snprintf(want, sizeof(want),
		 "crictl --runtime-endpoint unix://%s pods --name "
		 "ratings-v1-cri --namespace default -o json\n",
		 sock);
	assert_non_null(strstr(crictl_log(log), want));
	close(fd);
	unlink(sock);
	snprintf(sock, sizeof(sock), "%s/run/containerd", host);
	rmdir(sock);
	snprintf(sock, sizeof(sock), "%s/run", host);
	rmdir(sock);
	rmdir(host);
	unlink(log);
}

/*
 * Inside the pod: the name from POD_NAME, else HOSTNAME; the namespace
 * from POD_NAMESPACE, else resolv.conf's first search domain NS.svc.DOMAIN.
 */
struct self_case {
	const char *pod_name, *pod_ns, *hostname; /* environment; NULL: unset */
	const char *resolv;			  /* resolv.conf's text */
	const char *name, *ns, *from;
};

static const struct self_case self_cases[] = {
	{"reviews-v2-xyz", "bookinfo", "ignored-host",
	 "search other.svc.cluster.local\n", "reviews-v2-xyz", "bookinfo",
	 "POD_NAME, POD_NAMESPACE"},
	{NULL, NULL, "productpage-v1-abc",
	 "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
	 "productpage-v1-abc", "default", "HOSTNAME, the DNS search domain"},
	/* not a pod's resolv.conf: no namespace */
	{NULL, NULL, "productpage-v1-abc", "search example.org\n",
	 "productpage-v1-abc", "", "HOSTNAME"},
	{NULL, NULL, "productpage-v1-abc", "search Bad_NS.svc.cluster.local\n",
	 "productpage-v1-abc", "", "HOSTNAME"},
	{NULL, "kube-system", "Not_A_Name", "", "", "kube-system",
	 "POD_NAMESPACE"},
};

static void test_self(void **state)
{
	char path[] = "/tmp/st-test-resolv-XXXXXX", from[128];
	char err[ST_ERRBUF_SIZE] = "", host[256];
	struct st_pod pod;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(self_cases); i++) {
		const struct self_case *c = &self_cases[i];

		fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, c->resolv, strlen(c->resolv)),
				 (ssize_t)strlen(c->resolv));
		close(fd);
		c->pod_name ? setenv("POD_NAME", c->pod_name, 1)
			    : unsetenv("POD_NAME");
		c->pod_ns ? setenv("POD_NAMESPACE", c->pod_ns, 1)
			  : unsetenv("POD_NAMESPACE");
		c->hostname ? setenv("HOSTNAME", c->hostname, 1)
			    : unsetenv("HOSTNAME");
		assert_int_equal(
			st_pod_self(path, &pod, from, sizeof(from), err), 0);
		unlink(path);
		strcpy(path, "/tmp/st-test-resolv-XXXXXX");
		/* an invalid HOSTNAME falls back to the host name, if valid */
		if (c->name[0] == '\0' &&
		    gethostname(host, sizeof(host)) == 0 &&
		    st_pod_check_name(host, NULL) == 0)
			continue;
		assert_string_equal(pod.name, c->name);
		assert_string_equal(pod.ns, c->ns);
		assert_string_equal(from, c->from);
		assert_string_equal(pod.netns_path, "/proc/self/ns/net");
	}
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");
	unsetenv("HOSTNAME");
}

static void test_bad_root(void **state)
{
	struct st_pod_opts o = {.proc_root = "/nonexistent-h9/proc",
				.crictl = ""};
	struct st_pod_list *l = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	assert_int_equal(st_pod_scan(&o, &l, err), -ENOENT);
	assert_null(l);
	assert_non_null(strstr(err, "/nonexistent-h9/proc"));
	assert_int_equal(st_pod_scan(&o, NULL, err), -EINVAL);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_lengths),
		cmocka_unit_test_teardown(test_scan_proc, restore_env),
		cmocka_unit_test_teardown(test_scan_crictl, restore_env),
		cmocka_unit_test_teardown(test_crictl_absent_or_failing,
					  restore_env),
		cmocka_unit_test_teardown(test_find, restore_env),
		cmocka_unit_test(test_find_empty_and_long_lists),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test_teardown(test_lookup_crictl, restore_env),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_bad_root),
	};
	const char *p = getenv("PATH");
	int ret;

	orig_path = strdup(p != NULL ? p : "/usr/sbin:/usr/bin:/sbin:/bin");
	ret = cmocka_run_group_tests_name("pod", tests, NULL, NULL);
	free(orig_path);
	return ret;
}
