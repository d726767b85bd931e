/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pod-int.h - what the parts of the pod scan share; included only by
 * pod.c (names, the list, the scan, lookup), pod-proc.c (the processes
 * under /proc) and pod-cri.c (crictl's sandboxes).
 */
#ifndef ST_POD_INT_H
#define ST_POD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "pod.h"

/* Big enough for any istio-proxy environment (PROXY_CONFIG included). */
#define ST_POD_ENVIRON_MAX (256u << 10)
#define ST_POD_CMDLINE_MAX 4096
#define ST_POD_SHOW_MAX 64 /* characters of an untrusted name in messages */

struct st_pod_entry {
	struct st_pod pod;
	bool agent;    /* the representative pid is a pilot-agent */
	bool excluded; /* a pilot-agent runs another proxy type: a gateway */
};

struct st_pod_list {
	struct st_pod_entry *v;
	size_t n;
	size_t cap;
	unsigned int unreadable; /* processes whose files could not be read */
	char note[ST_ERRBUF_SIZE];
};

/* One scan's buffers and state. */
struct st_scan {
	struct st_pod_list *l;
	const char *root;
	int procfd;
	char *env; /* ST_POD_ENVIRON_MAX + 1 */
	char *cmd; /* ST_POD_CMDLINE_MAX + 1 */
	bool have_host;
	struct stat host; /* pid 1's network namespace */
	bool have_nsfs;
	dev_t nsfs_dev; /* of /proc/self/ns/net: namespace files' device */
	const char *want_name; /* a lookup: only this pod matters; or NULL */
	const char *want_ns;
	/* Namespaces whose rules were read for ambient pods, and the answer. */
	struct st_ns_seen *seen;
	size_t nseen, capseen;
};

struct st_ns_seen {
	uint64_t dev, ino;
	bool ambient;
	int pid; /* a process in it (/proc), 0 when none was */
};

/* ---- pod.c --------------------------------------------------------------- */

/**
 * st_pod_show() - untrusted text for a message: printable ASCII only, at
 * most ST_POD_SHOW_MAX characters ("..." after).  Return: @buf.
 */
const char *st_pod_show(const char *s, char *buf, size_t size);

/**
 * st_pod_netns_is_init() - is @ino the initial network namespace's fixed
 * inode (kernel 6.x): the node's own, whoever's pid 1 is?
 */
bool st_pod_netns_is_init(uint64_t ino);

/** st_pod_note() - add to the list's note, "; " between entries. */
void st_pod_note(struct st_pod_list *l, const char *fmt, ...) __st_printf(2, 3);

/** st_pod_append() - a new zeroed entry at the end, or NULL (ENOMEM). */
struct st_pod_entry *st_pod_append(struct st_pod_list *l);

/** st_pod_group() - the entry of pod @ns/@name in namespace @st, or NULL. */
struct st_pod_entry *st_pod_group(struct st_pod_list *l, const struct stat *st,
				  const char *name, const char *ns);

/*
 * Values from untrusted sources, copied into @dst only when it is still
 * empty and the value is well formed.
 */
/** st_pod_set_ip() - an IPv4 or IPv6 address. */
void st_pod_set_ip(char *dst, size_t size, const char *s);
/** st_pod_set_mode() - an interception mode: A-Z and '_'. */
void st_pod_set_mode(char *dst, size_t size, const char *s);
/** st_pod_set_sa() - a service account: a DNS subdomain. */
void st_pod_set_sa(char *dst, size_t size, const char *s);

/* ---- pod-proc.c and pod-cri.c -------------------------------------------- */

/**
 * st_proc_scan() - add the pods of the sidecar processes under @sc->root.
 * Return: 0, or a negative errno (@err set) when the directory cannot be
 * read; unreadable processes are only counted.
 */
int st_proc_scan(struct st_scan *sc, char *err);

/**
 * st_cri_scan() - add or merge the injected, ready sandboxes that crictl
 * lists.  A missing or failing crictl is only noted.
 * Return: 0, or -ENOMEM.
 */
int st_cri_scan(struct st_scan *sc, const struct st_pod_opts *o);

/**
 * st_pod_is_host() - is the namespace @st the node's own (pid 1's, or the
 * initial one)?
 */
bool st_pod_is_host(const struct st_scan *sc, const struct stat *st);

/**
 * st_pod_resolv_ns() - the namespace NS of the first search domain
 * NS.svc.DOMAIN of a resolv.conf's text @buf; "" when there is none.
 */
void st_pod_resolv_ns(const char *buf, char *ns, size_t size);

/* ---- pod-ns.c ------------------------------------------------------------ */

/**
 * st_ns_ambient() - do the rules of the namespace @st (opened through
 * @path) make it an ambient pod's?  Each namespace is read once per scan.
 * Return: 1 yes, 0 no or unreadable, -ENOMEM.
 */
int st_ns_ambient(struct st_scan *sc, const struct stat *st, const char *path);

/**
 * st_ns_scan() - add the ambient pods of the namespaces that processes
 * under /proc (and /run/netns under the host root) are in and that no
 * other source named.  Return: 0, or -ENOMEM.
 */
int st_ns_scan(struct st_scan *sc, const struct st_pod_opts *o);

#endif /* ST_POD_INT_H */
