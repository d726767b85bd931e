/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pod.h - finding the Istio pods (sidecar and ambient) on this node.
 *
 * Two sources, merged by network namespace:
 *
 * /proc.  A process counts as an istio-proxy process when its environment
 * (/proc/PID/environ) has POD_NAME and POD_NAMESPACE, both valid Kubernetes
 * names, and it looks like the proxy: its comm or argv[0] is pilot-agent or
 * envoy, or its environment has an ISTIO_META_* variable.  The injector
 * writes ISTIO_META_* (and pilot-agent hands its environment to Envoy)
 * only into the istio-proxy container, while an application container
 * often has POD_NAME/POD_NAMESPACE from the downward API: those alone do
 * not make a sidecar.  A pilot-agent that runs "proxy router" (a gateway)
 * or any other proxy type than "sidecar" excludes its pod: gateways have no
 * capture rules.  Processes are grouped by (network namespace, name,
 * namespace); the namespace is the inode of /proc/PID/ns/net.  The
 * representative pid is the pilot-agent when there is one, else the lowest.
 *
 * crictl.  Where `crictl` is found in PATH, `crictl pods -o json` lists the
 * sandboxes (a lookup asks for one with --name and --namespace); a ready
 * one whose annotations carry "sidecar.istio.io/status" (set by the
 * injector; istio-proxy among its initContainers is a native sidecar) is
 * inspected with `crictl inspectp -o json ID`,
 * whose info.runtimeSpec.linux.namespaces[type=network].path (or, with old
 * containerd, info.netNamespace; else /proc/<info.pid>/ns/net) gives the
 * network namespace.  A sandbox in a namespace already found through /proc
 * under the same name adds its id and path; one that is not becomes a pod
 * of its own.  crictl failing is not an error: it is noted
 * (st_pod_list_note()) and /proc stands.
 *
 * Ambient pods.  No proxy runs in an ambient pod: ztunnel, in a pod of
 * its own, holds sockets in the pod's namespace.  A ready sandbox without
 * the injector's annotation is inspected too, and its namespace is an
 * ambient pod's when its rules are ztunnel's in-pod rules
 * (st_istio_analyze()).  Namespaces seen in /proc (and /run/netns) that
 * neither source named are read the same way; such a pod is named by what
 * the kubelet gives its containers: /etc/hostname (the pod's name) and
 * /etc/resolv.conf's search domain NS.svc.DOMAIN, read through
 * /proc/PID/root.  A process whose comm or argv[0] is ztunnel is never a
 * pod's proxy (ztunnel's own pod has no capture rules).
 *
 * Everything read from processes and crictl is untrusted: names are
 * validated, other values are kept only when well formed.
 */
#ifndef ST_POD_H
#define ST_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define ST_POD_NAME_MAX 253 /* RFC 1123 subdomain */
#define ST_POD_NS_MAX 63    /* RFC 1123 label */

/* Where a pod was seen (st_pod.sources). */
#define ST_POD_SRC_PROC (1u << 0)
#define ST_POD_SRC_CRI (1u << 1)
#define ST_POD_SRC_NETNS (1u << 2) /* a namespace holding ambient rules */

/* How the pod's traffic is intercepted. */
enum st_pod_mode {
	ST_POD_MODE_UNKNOWN = 0,
	ST_POD_MODE_SIDECAR,	    /* an istio-proxy container */
	ST_POD_MODE_NATIVE_SIDECAR, /* istio-proxy as an init container with
				       restartPolicy Always (Istio 1.27+) */
	ST_POD_MODE_AMBIENT,	    /* ztunnel's in-pod rules, no proxy */
};

struct st_pod {
	char name[ST_POD_NAME_MAX + 1];
	char ns[ST_POD_NS_MAX + 1];
	int pid;	     /* proxy process; crictl only: the sandbox's */
	unsigned int nprocs; /* istio-proxy processes seen in /proc */
	uint64_t netns_dev;  /* identity of the network namespace */
	uint64_t netns_ino;
	bool host_netns;      /* the node's own namespace: pid 1's, or the
				 initial one (inode 0xEFFFFFF9 on 6.x) */
	char netns_path[256]; /* from crictl, "" when not known */
	char sandbox_id[129]; /* crictl pod sandbox id, "" when not known */
	char instance_ip[46]; /* INSTANCE_IP (crictl: status.network.ip) */
	char interception_mode[16]; /* REDIRECT, TPROXY, NONE, or "" */
	char service_account[ST_POD_NAME_MAX + 1];
	unsigned int sources; /* ST_POD_SRC_* */
	enum st_pod_mode mode;
};

struct st_pod_opts {
	const char *proc_root; /* NULL: "/proc" */
	const char *crictl;    /* program looked up in PATH; NULL: "crictl";
				  "": do not use crictl */
	int timeout_ms;	       /* per crictl run; 0: 10 s */
	/*
	 * Ambient pods have no proxy process: their namespaces are told by
	 * their rules, which costs a few programs per namespace.  Sandboxes
	 * that were not injected and namespaces no sidecar was seen in are
	 * read unless this is set.
	 */
	bool no_ambient;
	const char *host_root; /* the node's root for crictl's socket and
				  /run/netns; NULL: "/" */
};

struct st_pod_list;

/**
 * st_pod_check_name() - is @name a valid pod name (RFC 1123 subdomain:
 * a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at
 * most 253 characters)?
 * @name: the name
 * @err: error buffer, says why not
 *
 * Return: 0, or -EINVAL.
 */
int st_pod_check_name(const char *name, char *err);

/**
 * st_pod_check_namespace() - is @ns a valid namespace name (RFC 1123
 * label: a-z, 0-9 and '-', starting and ending with a letter or digit, at
 * most 63 characters)?
 * @ns: the name
 * @err: error buffer, says why not
 *
 * Return: 0, or -EINVAL.
 */
int st_pod_check_namespace(const char *ns, char *err);

/**
 * st_pod_scan() - enumerate the Istio pods on this node: sidecar pods
 * (native sidecars told by the runtime) and ambient pods.
 * @o: options, or NULL for the defaults
 * @out: the list (sorted by namespace, then name); free with
 *       st_pod_list_free()
 * @err: error buffer
 *
 * Processes that vanish or cannot be read during the scan are skipped
 * (counted in the note).
 *
 * Return: 0 (also when no pod was found), or a negative errno when the
 * proc root cannot be read or memory runs out.
 */
int st_pod_scan(const struct st_pod_opts *o, struct st_pod_list **out,
		char *err);

/** st_pod_list_free() - release a list; accepts NULL. */
void st_pod_list_free(struct st_pod_list *l);

/** st_pod_list_count() - number of pods in @l (0 for NULL). */
size_t st_pod_list_count(const struct st_pod_list *l);

/** st_pod_list_get() - pod @i of @l, or NULL. */
const struct st_pod *st_pod_list_get(const struct st_pod_list *l, size_t i);

/**
 * st_pod_list_note() - what the scan could not do ("crictl pods failed:
 * ...; 2 processes could not be read"), or "" when nothing.
 */
const char *st_pod_list_note(const struct st_pod_list *l);

/**
 * st_pod_find() - the one pod of @l called @name in namespace @ns.
 * @l: a scan
 * @name: pod name (validated first)
 * @ns: namespace (validated first)
 * @pod: receives the pod (points into @l)
 * @err: error buffer; when nothing or more than one matched, it lists the
 *       Istio pods that were found
 *
 * Return: 0; -EINVAL for an invalid name, -ENOENT when there is no such
 * pod, -EEXIST when it was found in more than one network namespace.
 */
int st_pod_find(const struct st_pod_list *l, const char *name, const char *ns,
		const struct st_pod **pod, char *err);

/**
 * st_pod_lookup() - st_pod_scan() and st_pod_find() in one: validate the
 * names, scan, find, and copy the pod out.  crictl is asked for this pod
 * only, and namespaces' rules are read only for namespaces whose
 * containers carry this name, when neither /proc nor crictl found it.
 * @o: options, or NULL
 * @name: pod name
 * @ns: namespace
 * @pod: receives a copy of the pod
 * @err: error buffer
 *
 * Return: 0, or a negative errno as st_pod_find() or st_pod_scan().
 */
int st_pod_lookup(const struct st_pod_opts *o, const char *name, const char *ns,
		  struct st_pod *pod, char *err);

/**
 * st_pod_netns_open() - open the network namespace of @pod: the proxy's
 * <proc_root>/PID/ns/net, else the path crictl gave; either must still be
 * the namespace the scan saw (a reused pid is caught).
 * @pod: a pod from a scan
 * @o: the options of that scan, or NULL
 * @err: error buffer
 *
 * Return: an O_CLOEXEC fd (see st_netns_open()), or a negative errno:
 * -EPERM for a pod in the node's own namespace (@pod->host_netns: its
 * rules are the node's), -ESRCH when the pod's namespace is gone.
 */
int st_pod_netns_open(const struct st_pod *pod, const struct st_pod_opts *o,
		      char *err);

/**
 * st_pod_is_node_root() - does @dir hold a Kubernetes node's root: the
 * kubelet's /var/lib/kubelet, or a CRI runtime's socket?
 */
bool st_pod_is_node_root(const char *dir);

/**
 * st_pod_default_host_root() - where the node's root is when none is
 * given: "/host" when it holds a node's root and / does not (as in
 * `kubectl debug node`), else NULL (/ itself).
 */
const char *st_pod_default_host_root(void);

/** st_pod_mode_name() - "sidecar", "native-sidecar", "ambient" or "-". */
const char *st_pod_mode_name(enum st_pod_mode m);

/**
 * st_pod_self() - the pod whose network namespace this process runs in,
 * for a trace from inside it, where the proxy's processes are not
 * visible (pod-self.c says what is read: POD_NAME, HOSTNAME or the host
 * name; POD_NAMESPACE or resolv.conf's search domain NS.svc.DOMAIN).
 * @resolv_conf: NULL for /etc/resolv.conf
 * @pod: receives the name and namespace (each "" when nothing tells),
 *       the namespace's identity, netns_path "/proc/self/ns/net" and
 *       host_netns (the initial namespace: the node's own)
 * @from: receives where the names came from ("POD_NAME, POD_NAMESPACE")
 * @size: size of @from
 * @err: error buffer
 *
 * Return: 0, or a negative errno when this process's namespace cannot be
 * read.
 */
int st_pod_self(const char *resolv_conf, struct st_pod *pod, char *from,
		size_t size, char *err);

#endif /* ST_POD_H */
