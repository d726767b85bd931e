// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod-cri.c - pods from the container runtime: `crictl pods -o json` for
 * the ready sandboxes (a lookup adds --name and --namespace), `crictl
 * inspectp -o json` for the network namespace of each.  Injected
 * sandboxes are sidecar pods; the others are ambient pods when their
 * namespace holds ztunnel's in-pod rules (pod-ns.c).  Under a host root
 * (`kubectl debug node` mounts the node's root at /host) crictl is the
 * node's and talks to the node's runtime socket.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pod-int.h"
#include "spawn.h"

#define ST_POD_CRICTL_TIMEOUT_MS 10000
#define ST_POD_SANDBOX_ID_MAX 128

/* Annotation the sidecar injector puts on every pod it injected. */
#define ST_POD_INJECTED_ANNOTATION "sidecar.istio.io/status"
#define ST_POD_MODE_ANNOTATION "sidecar.istio.io/interceptionMode"
#define ST_POD_NATIVE_ANNOTATION "sidecar.istio.io/nativeSidecar"

/* The CRI sockets crictl knows, as a node has them. */
static const char *const st_cri_sockets[] = {
	"run/containerd/containerd.sock",
	"run/crio/crio.sock",
	"var/run/cri-dockerd.sock",
};

/* crictl and its leading arguments; with a host root, the node's. */
struct st_cri_cmd {
	char prog[PATH_MAX];
	char endpoint[PATH_MAX + 8];
	char *argv[12];
	int n; /* arguments before the subcommand */
};

static void st_cri_cmd_init(struct st_cri_cmd *c, const struct st_pod_opts *o)
{
	const char *host = o != NULL ? o->host_root : NULL;
	char path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	st_strlcpy(c->prog,
		   o != NULL && o->crictl != NULL ? o->crictl : "crictl",
		   sizeof(c->prog));
	c->argv[c->n++] = c->prog;
	if (host == NULL || strcmp(host, "/") == 0 || c->prog[0] == '\0')
		return;
	/* The node's crictl when there is one (ours may be another version). */
	if (o->crictl == NULL) {
		snprintf(path, sizeof(path), "%s/usr/bin/crictl", host);
		if (access(path, X_OK) == 0)
			st_strlcpy(c->prog, path, sizeof(c->prog));
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_cri_sockets); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", host, st_cri_sockets[i]);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			snprintf(c->endpoint, sizeof(c->endpoint), "unix://%s",
				 path);
			c->argv[c->n++] = "--runtime-endpoint";
			c->argv[c->n++] = c->endpoint;
			break;
		}
	}
}

/* Injected as a native sidecar: istio-proxy among the init containers. */
static bool st_cri_native(json_t *ann)
{
	const char *status = json_string_value(
		json_object_get(ann, "sidecar.istio.io/status"));
	const char *native = json_string_value(
		json_object_get(ann, ST_POD_NATIVE_ANNOTATION));
	json_t *st, *inits, *v;
	bool yes = false;
	size_t i;

	if (status == NULL)
		return native != NULL && strcmp(native, "true") == 0;
	st = json_loads(status, 0, NULL);
	inits = json_object_get(st, "initContainers");
	json_array_foreach(inits, i, v)
	{
		const char *name = json_string_value(v);

		if (name != NULL && strcmp(name, "istio-proxy") == 0)
			yes = true;
	}
	json_decref(st);
	return yes;
}

/* Sandbox ids become an argument: hex/alnum only, never an option. */
static bool st_cri_id_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z')) ||
		    i >= ST_POD_SANDBOX_ID_MAX)
			return false;
	return i > 0;
}

static const char *st_cri_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Run crictl; 1 when it ran and exited 0, 0 when noted/absent, <0 ENOMEM. */
static int st_cri_run(struct st_scan *sc, const struct st_pod_opts *o,
		      char *const argv[], const char *sub,
		      struct st_spawn_result *res)
{
	char lerr[ST_ERRBUF_SIZE], show[ST_POD_SHOW_MAX + 1];
	int tmo = o != NULL && o->timeout_ms > 0 ? o->timeout_ms
						 : ST_POD_CRICTL_TIMEOUT_MS;
	int ret;

	ret = st_spawn(argv, -1, NULL, 0, tmo, res, lerr);
	if (ret == -ENOENT)
		return 0; /* not installed: /proc alone */
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		st_pod_note(sc->l, "crictl: %s", lerr);
		return 0;
	}
	if (res->status != 0) {
		st_pod_note(sc->l, "'crictl %s' failed (exit %d): %s", sub,
			    res->status,
			    st_spawn_errline(res, show, sizeof(show)));
		st_spawn_result_free(res);
		return 0;
	}
	return 1;
}

static json_t *st_cri_json(struct st_scan *sc, const char *what,
			   const struct st_spawn_result *res)
{
	json_error_t jerr;
	json_t *root = json_loadb(res->out, res->out_len, 0, &jerr);

	if (root == NULL || !json_is_object(root)) {
		st_pod_note(sc->l, "'crictl %s': not JSON (line %d: %s)", what,
			    jerr.line, root == NULL ? jerr.text : "no object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* The network namespace path in `crictl inspectp -o json` output. */
static const char *st_cri_netns(json_t *info)
{
	json_t *nss = json_object_get(
		json_object_get(json_object_get(info, "runtimeSpec"), "linux"),
		"namespaces");
	size_t i;
	json_t *v;

	json_array_foreach(nss, i, v)
	{
		const char *type = st_cri_jstr(v, "type");

		if (type != NULL && strcmp(type, "network") == 0)
			return st_cri_jstr(v, "path");
	}
	/* containerd before 1.1 said it here. */
	return st_cri_jstr(info, "netNamespace");
}

/* Add or merge one injected, ready sandbox. */
static int st_cri_sandbox(struct st_scan *sc, const struct st_pod_opts *o,
			  const struct st_cri_cmd *c, const char *id,
			  const char *name, const char *ns, const char *mode,
			  enum st_pod_mode kind)
{
	struct st_spawn_result res = {0};
	char *argv[ST_ARRAY_SIZE(c->argv)];
	char show[ST_POD_SHOW_MAX + 8];
	struct st_pod_entry *g = NULL;
	json_t *root = NULL, *info, *status;
	const char *path, *ip, *netmode;
	char hpath[PATH_MAX];
	json_int_t pid = 0;
	struct stat st;
	int n, ret;

	for (n = 0; n < c->n; n++)
		argv[n] = c->argv[n];
	argv[n++] = "inspectp";
	argv[n++] = "-o";
	argv[n++] = "json";
	argv[n++] = (char *)id;
	argv[n] = NULL;
	ret = st_cri_run(sc, o, argv, "inspectp", &res);
	if (ret <= 0)
		return ret;
	root = st_cri_json(sc, "inspectp", &res);
	if (root == NULL)
		goto out;
	info = json_object_get(root, "info");
	status = json_object_get(root, "status");
	path = st_cri_netns(info);
	if (json_is_integer(json_object_get(info, "pid")))
		pid = json_integer_value(json_object_get(info, "pid"));
	if (pid < 0 || pid > INT_MAX)
		pid = 0;
	ip = st_cri_jstr(json_object_get(status, "network"), "ip");
	netmode = st_cri_jstr(
		json_object_get(
			json_object_get(json_object_get(status, "linux"),
					"namespaces"),
			"options"),
		"network");
	/* A host-network pod (hostNetwork: true) has the node's rules. */
	if (kind == ST_POD_MODE_AMBIENT && netmode != NULL &&
	    strcmp(netmode, "NODE") == 0)
		goto out;

	/* The runtime's path is the node's: under the host root first. */
	if (path != NULL && path[0] == '/' && o != NULL &&
	    o->host_root != NULL && strcmp(o->host_root, "/") != 0 &&
	    (size_t)snprintf(hpath, sizeof(hpath), "%s%s", o->host_root, path) <
		    sizeof(hpath) &&
	    stat(hpath, &st) == 0) {
		path = hpath;
	} else if (path != NULL && path[0] == '/' && stat(path, &st) == 0) {
		/* the path is what the runtime gave */
	} else if (pid > 0) {
		char rel[32];

		path = NULL;
		snprintf(rel, sizeof(rel), "%d/ns/net", (int)pid);
		if (fstatat(sc->procfd, rel, &st, 0) < 0) {
			st_pod_note(
				sc->l,
				"sandbox of %s/%s: network namespace of pid %d: %s",
				ns, name, (int)pid, strerror(errno));
			goto out;
		}
	} else {
		st_pod_note(
			sc->l,
			"sandbox of %s/%s: no network namespace in 'crictl inspectp' (%s)",
			ns, name,
			path == NULL ? "no path"
				     : st_pod_show(path, show, sizeof(show)));
		goto out;
	}

	if (kind == ST_POD_MODE_AMBIENT) {
		char rel[PATH_MAX];

		if (st_pod_is_host(sc, &st))
			goto out;
		if (path == NULL)
			snprintf(rel, sizeof(rel), "%s/%d/ns/net", sc->root,
				 (int)pid);
		ret = st_ns_ambient(sc, &st, path != NULL ? path : rel);
		if (ret <= 0)
			goto out;
		ret = 0;
	}
	g = st_pod_group(sc->l, &st, name, ns);
	if (g == NULL) {
		g = st_pod_append(sc->l);
		if (g == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		st_strlcpy(g->pod.name, name, sizeof(g->pod.name));
		st_strlcpy(g->pod.ns, ns, sizeof(g->pod.ns));
		g->pod.netns_dev = (uint64_t)st.st_dev;
		g->pod.netns_ino = (uint64_t)st.st_ino;
		g->pod.pid = (int)pid;
	}
	g->pod.sources |= ST_POD_SRC_CRI;
	/*
	 * The runtime knows what /proc cannot tell (a native sidecar), and
	 * ztunnel's rules say ambient whatever runs in the pod.
	 */
	if (g->pod.mode == ST_POD_MODE_UNKNOWN || kind != ST_POD_MODE_SIDECAR)
		g->pod.mode = kind;
	st_strlcpy(g->pod.sandbox_id, id, sizeof(g->pod.sandbox_id));
	if (path != NULL && strlen(path) < sizeof(g->pod.netns_path))
		st_strlcpy(g->pod.netns_path, path, sizeof(g->pod.netns_path));
	st_pod_set_ip(g->pod.instance_ip, sizeof(g->pod.instance_ip), ip);
	st_pod_set_mode(g->pod.interception_mode,
			sizeof(g->pod.interception_mode), mode);
	ret = 0;
out:
	json_decref(root);
	st_spawn_result_free(&res);
	return ret;
}

int st_cri_scan(struct st_scan *sc, const struct st_pod_opts *o)
{
	struct st_cri_cmd c;
	struct st_spawn_result res = {0};
	json_t *root = NULL, *items, *it;
	size_t i;
	int n, ret;

	st_cri_cmd_init(&c, o);
	if (c.prog[0] == '\0')
		return 0;
	n = c.n;
	c.argv[n++] = "pods";
	if (sc->want_name != NULL) {
		c.argv[n++] = "--name";
		c.argv[n++] = (char *)sc->want_name;
		c.argv[n++] = "--namespace";
		c.argv[n++] = (char *)sc->want_ns;
	}
	c.argv[n++] = "-o";
	c.argv[n++] = "json";
	c.argv[n] = NULL;
	ret = st_cri_run(sc, o, c.argv, "pods", &res);
	if (ret <= 0)
		return ret;
	root = st_cri_json(sc, "pods", &res);
	if (root == NULL)
		goto out;
	items = json_object_get(root, "items");
	json_array_foreach(items, i, it)
	{
		json_t *md = json_object_get(it, "metadata");
		json_t *ann = json_object_get(it, "annotations");
		const char *id = st_cri_jstr(it, "id");
		const char *state = st_cri_jstr(it, "state");
		const char *name = st_cri_jstr(md, "name");
		const char *ns = st_cri_jstr(md, "namespace");
		enum st_pod_mode kind = ST_POD_MODE_SIDECAR;

		if (id == NULL || state == NULL || name == NULL || ns == NULL ||
		    strcmp(state, "SANDBOX_READY") != 0)
			continue;
		/* --name matches a regular expression: only the exact pod. */
		if (sc->want_name != NULL &&
		    (strcmp(name, sc->want_name) != 0 ||
		     strcmp(ns, sc->want_ns) != 0))
			continue;
		if (json_object_get(ann, ST_POD_INJECTED_ANNOTATION) == NULL) {
			if (o != NULL && o->no_ambient)
				continue;
			kind = ST_POD_MODE_AMBIENT;
		} else if (st_cri_native(ann)) {
			kind = ST_POD_MODE_NATIVE_SIDECAR;
		}
		if (!st_cri_id_ok(id) || st_pod_check_name(name, NULL) < 0 ||
		    st_pod_check_namespace(ns, NULL) < 0) {
			st_pod_note(
				sc->l,
				"crictl: skipped a sandbox with an invalid id or name");
			continue;
		}
		ret = st_cri_sandbox(sc, o, &c, id, name, ns,
				     st_cri_jstr(ann, ST_POD_MODE_ANNOTATION),
				     kind);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	st_spawn_result_free(&res);
	return ret;
}
