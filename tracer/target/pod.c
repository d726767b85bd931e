// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod.c - the sidecar pods of this node, from /proc (pod-proc.c) and from
 * crictl (pod-cri.c): their names checked, merged into one list per
 * network namespace, looked up, and their namespace opened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "pod-int.h"

/*
 * The fixed inode of the initial network namespace (NET_NS_INIT_INO,
 * kernel 6.x); older kernels numbered it dynamically, from 0xF0000000 up,
 * so this value never names another namespace.  Used when pid 1's
 * ns/net cannot be read (a sandboxed or non-dumpable init).
 */
#define ST_POD_NET_INIT_INO 0xEFFFFFF9u

bool st_pod_netns_is_init(uint64_t ino)
{
	return ino == ST_POD_NET_INIT_INO;
}

/* ---- names ------------------------------------------------------------ */

static bool st_pod_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Untrusted text in a message: printable ASCII only, at most
 * ST_POD_SHOW_MAX characters, so that a hostile name cannot write escape
 * sequences to a terminal or fill the error buffer.
 */
const char *st_pod_show(const char *s, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && o + 4 < size; i++) {
		if (i == ST_POD_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Why @s is not an RFC 1123 label (@dots false) or subdomain (@dots true)
 * of at most @max characters; NULL when it is one.  Kubernetes' regex:
 * [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
 */
static const char *st_pod_dns_why(const char *s, size_t max, bool dots)
{
	size_t n = strnlen(s, max + 1);
	size_t i;

	if (n == 0)
		return "is empty";
	if (n > max)
		return "is too long";
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (st_pod_lower_alnum(c))
			continue;
		if (c == '-' || (dots && c == '.')) {
			/* A label starts and ends with a letter or digit. */
			if (i == 0 || i == n - 1)
				return "does not start and end with a lowercase letter or digit";
			if (c == '.' && !st_pod_lower_alnum(s[i - 1]))
				return "has a label that does not end with a letter or digit";
			if (s[i - 1] == '.' && c == '-')
				return "has a label that does not start with a letter or digit";
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			return "contains an uppercase letter";
		return dots ? "contains a character other than a-z, 0-9, '-' and '.'"
			    : "contains a character other than a-z, 0-9 and '-'";
	}
	return NULL;
}

int st_pod_check_name(const char *name, char *err)
{
	char show[ST_POD_SHOW_MAX + 8];
	const char *why;

	if (name == NULL)
		return st_err(err, EINVAL, "no pod name given");
	why = st_pod_dns_why(name, ST_POD_NAME_MAX, true);
	if (why == NULL)
		return 0;
	return st_err(
		err, EINVAL,
		"invalid pod name \"%s\": it %s (a pod name is a lowercase RFC 1123 subdomain: a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most %d characters)",
		st_pod_show(name, show, sizeof(show)), why, ST_POD_NAME_MAX);
}

int st_pod_check_namespace(const char *ns, char *err)
{
	char show[ST_POD_SHOW_MAX + 8];
	const char *why;

	if (ns == NULL)
		return st_err(err, EINVAL, "no namespace given");
	why = st_pod_dns_why(ns, ST_POD_NS_MAX, false);
	if (why == NULL)
		return 0;
	return st_err(
		err, EINVAL,
		"invalid namespace \"%s\": it %s (a namespace is a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending with a letter or digit, at most %d characters)",
		st_pod_show(ns, show, sizeof(show)), why, ST_POD_NS_MAX);
}

/* ---- the list ---------------------------------------------------------- */

void st_pod_list_free(struct st_pod_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}

size_t st_pod_list_count(const struct st_pod_list *l)
{
	return l == NULL ? 0 : l->n;
}

const struct st_pod *st_pod_list_get(const struct st_pod_list *l, size_t i)
{
	if (l == NULL || i >= l->n)
		return NULL;
	return &l->v[i].pod;
}

const char *st_pod_list_note(const struct st_pod_list *l)
{
	return l == NULL ? "" : l->note;
}

void st_pod_note(struct st_pod_list *l, const char *fmt, ...)
{
	size_t n = strlen(l->note);
	va_list ap;

	if (n > 0 && n + 2 < sizeof(l->note)) {
		memcpy(l->note + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= sizeof(l->note))
		return;
	va_start(ap, fmt);
	vsnprintf(l->note + n, sizeof(l->note) - n, fmt, ap);
	va_end(ap);
}

struct st_pod_entry *st_pod_append(struct st_pod_list *l)
{
	struct st_pod_entry *e;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct st_pod_entry *v = realloc(l->v, ncap * sizeof(*v));

		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = ncap;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static bool st_pod_same_ns(const struct st_pod *p, const struct stat *st)
{
	return p->netns_dev == (uint64_t)st->st_dev &&
	       p->netns_ino == (uint64_t)st->st_ino;
}

struct st_pod_entry *st_pod_group(struct st_pod_list *l, const struct stat *st,
				  const char *name, const char *ns)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct st_pod *p = &l->v[i].pod;

		if (st_pod_same_ns(p, st) && strcmp(p->name, name) == 0 &&
		    strcmp(p->ns, ns) == 0)
			return &l->v[i];
	}
	return NULL;
}

/* Values from untrusted sources, kept only when well formed. */
void st_pod_set_ip(char *dst, size_t size, const char *s)
{
	unsigned char a[16];

	if (s == NULL || dst[0] != '\0' || strlen(s) >= size)
		return;
	if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
		st_strlcpy(dst, s, size);
}

void st_pod_set_mode(char *dst, size_t size, const char *s)
{
	size_t i;

	if (s == NULL || dst[0] != '\0' || s[0] == '\0' || strlen(s) >= size)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return;
	st_strlcpy(dst, s, size);
}

void st_pod_set_sa(char *dst, size_t size, const char *s)
{
	if (s == NULL || dst[0] != '\0' ||
	    st_pod_dns_why(s, ST_POD_NAME_MAX, true) != NULL)
		return;
	st_strlcpy(dst, s, size);
}

static int st_pod_cmp(const void *a, const void *b)
{
	const struct st_pod *x = &((const struct st_pod_entry *)a)->pod;
	const struct st_pod *y = &((const struct st_pod_entry *)b)->pod;
	int c = strcmp(x->ns, y->ns);

	if (c == 0)
		c = strcmp(x->name, y->name);
	if (c == 0)
		c = (x->netns_ino > y->netns_ino) -
		    (x->netns_ino < y->netns_ino);
	return c;
}

/* ---- scan -------------------------------------------------------------- */

bool st_pod_is_host(const struct st_scan *sc, const struct stat *st)
{
	return (sc->have_host && st->st_dev == sc->host.st_dev &&
		st->st_ino == sc->host.st_ino) ||
	       (sc->have_nsfs && st->st_dev == sc->nsfs_dev &&
		st_pod_netns_is_init((uint64_t)st->st_ino));
}

bool st_pod_is_node_root(const char *dir)
{
	static const char *const marks[] = {
		"var/lib/kubelet",
		"run/containerd/containerd.sock",
		"run/crio/crio.sock",
	};
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < ST_ARRAY_SIZE(marks); i++) {
		snprintf(path, sizeof(path), "%s/%s",
			 strcmp(dir, "/") == 0 ? "" : dir, marks[i]);
		if (stat(path, &st) == 0)
			return true;
	}
	return false;
}

const char *st_pod_default_host_root(void)
{
	return st_pod_is_node_root("/host") && !st_pod_is_node_root("/")
		       ? "/host"
		       : NULL;
}

const char *st_pod_mode_name(enum st_pod_mode m)
{
	switch (m) {
	case ST_POD_MODE_SIDECAR:
		return "sidecar";
	case ST_POD_MODE_NATIVE_SIDECAR:
		return "native-sidecar";
	case ST_POD_MODE_AMBIENT:
		return "ambient";
	case ST_POD_MODE_UNKNOWN:
		break;
	}
	return "-";
}

/* Gateways out, the node's own namespace flagged, stable order. */
static void st_pod_finish(struct st_scan *sc)
{
	struct st_pod_list *l = sc->l;
	size_t i, o = 0;

	for (i = 0; i < l->n; i++) {
		struct st_pod_entry *e = &l->v[i];

		if (e->excluded) {
			st_pod_note(l,
				    "%s/%s is an Istio gateway, not a sidecar",
				    e->pod.ns, e->pod.name);
			continue;
		}
		e->pod.host_netns =
			(sc->have_host && st_pod_same_ns(&e->pod, &sc->host)) ||
			(sc->have_nsfs &&
			 e->pod.netns_dev == (uint64_t)sc->nsfs_dev &&
			 st_pod_netns_is_init(e->pod.netns_ino));
		l->v[o++] = *e;
	}
	l->n = o;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), st_pod_cmp);
	if (l->unreadable > 0)
		st_pod_note(l, "%u process(es) could not be read%s",
			    l->unreadable, geteuid() != 0 ? " (not root)" : "");
}

/* Is pod @name/@ns in the list yet? */
static bool st_pod_listed(const struct st_pod_list *l, const char *name,
			  const char *ns)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].pod.name, name) == 0 &&
		    strcmp(l->v[i].pod.ns, ns) == 0 && !l->v[i].excluded)
			return true;
	return false;
}

/*
 * The scan; a lookup (@name, @ns) asks crictl for that pod only and reads
 * namespaces' rules only when neither /proc nor crictl found it.
 */
static int st_pod_scan_for(const struct st_pod_opts *o, const char *name,
			   const char *ns, struct st_pod_list **out, char *err)
{
	struct st_scan sc = {.procfd = -1, .want_name = name, .want_ns = ns};
	int ret;

	if (out == NULL)
		return st_err(err, EINVAL, "st_pod_scan: no result pointer");
	*out = NULL;
	sc.root = o != NULL && o->proc_root != NULL ? o->proc_root : "/proc";
	sc.l = calloc(1, sizeof(*sc.l));
	sc.env = malloc(ST_POD_ENVIRON_MAX + 1);
	sc.cmd = malloc(ST_POD_CMDLINE_MAX + 1);
	if (sc.l == NULL || sc.env == NULL || sc.cmd == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	sc.procfd = open(sc.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sc.procfd < 0) {
		ret = st_err(err, errno, "cannot open %s: %s", sc.root,
			     strerror(errno));
		goto out;
	}
	sc.have_host = fstatat(sc.procfd, "1/ns/net", &sc.host, 0) == 0;
	{
		struct stat self;

		sc.have_nsfs = fstatat(sc.procfd, "self/ns/net", &self, 0) == 0;
		if (sc.have_nsfs)
			sc.nsfs_dev = self.st_dev;
	}

	ret = st_proc_scan(&sc, err);
	if (ret < 0)
		goto out;
	ret = st_cri_scan(&sc, o);
	if (ret < 0) {
		ret = st_err(err, -ret, "reading crictl's pods: %s",
			     strerror(-ret));
		goto out;
	}
	if (name == NULL || !st_pod_listed(sc.l, name, ns)) {
		ret = st_ns_scan(&sc, o);
		if (ret < 0) {
			ret = st_err(err, -ret,
				     "reading network namespaces: %s",
				     strerror(-ret));
			goto out;
		}
	}
	st_pod_finish(&sc);
	*out = sc.l;
	sc.l = NULL;
	ret = 0;
out:
	if (sc.procfd >= 0)
		close(sc.procfd);
	free(sc.env);
	free(sc.cmd);
	free(sc.seen);
	st_pod_list_free(sc.l);
	return ret;
}

int st_pod_scan(const struct st_pod_opts *o, struct st_pod_list **out,
		char *err)
{
	return st_pod_scan_for(o, NULL, NULL, out, err);
}

/* ---- lookup ------------------------------------------------------------ */

/* "sidecar pods on this node: ns/a, ns/b", cut with "..." to fit. */
static void st_pod_names(const struct st_pod_list *l, char *buf, size_t size)
{
	size_t i, n;

	if (l->n == 0) {
		snprintf(
			buf, size,
			"no Istio pods (sidecar or ambient) were found on this node%s%s",
			l->unreadable > 0 ? " (" : "",
			l->unreadable > 0 ? "some processes could not be read)"
					  : "");
		return;
	}
	n = (size_t)snprintf(buf, size, "Istio pods on this node: ");
	for (i = 0; i < l->n && n < size; i++) {
		const struct st_pod *p = &l->v[i].pod;
		size_t need = strlen(p->ns) + strlen(p->name) + 3;

		if (p->name[0] == '\0')
			continue; /* an ambient namespace nothing named */

		/* keep room for ", ..." */
		if (n + need + 6 > size) {
			snprintf(buf + n, size - n, "%s...", i ? ", " : "");
			return;
		}
		n += (size_t)snprintf(buf + n, size - n, "%s%s/%s",
				      i ? ", " : "", p->ns, p->name);
	}
}

int st_pod_find(const struct st_pod_list *l, const char *name, const char *ns,
		const struct st_pod **pod, char *err)
{
	char list[ST_ERRBUF_SIZE];
	const struct st_pod *hit = NULL;
	size_t i, nhit = 0;
	int ret;

	if (pod != NULL)
		*pod = NULL;
	ret = st_pod_check_name(name, err);
	if (ret == 0)
		ret = st_pod_check_namespace(ns, err);
	if (ret < 0)
		return ret;
	if (l == NULL || pod == NULL)
		return st_err(err, EINVAL, "st_pod_find: no list");

	for (i = 0; i < l->n; i++) {
		const struct st_pod *p = &l->v[i].pod;

		if (strcmp(p->name, name) == 0 && strcmp(p->ns, ns) == 0) {
			if (hit == NULL)
				hit = p;
			nhit++;
		}
	}
	if (nhit == 1) {
		*pod = hit;
		return 0;
	}
	if (nhit == 0) {
		st_pod_names(l, list, sizeof(list));
		return st_err(err, ENOENT,
			      "no Istio pod %s in namespace %s; %s", name, ns,
			      list);
	}
	/* More than one namespace: list them so that --pid can pick. */
	{
		size_t n = 0;

		for (i = 0; i < l->n && n + 48 < sizeof(list); i++) {
			const struct st_pod *p = &l->v[i].pod;

			if (strcmp(p->name, name) != 0 ||
			    strcmp(p->ns, ns) != 0)
				continue;
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      "%spid %d netns %llu",
					      n ? ", " : "", p->pid,
					      (unsigned long long)p->netns_ino);
		}
	}
	return st_err(
		err, EEXIST,
		"pod %s in namespace %s is ambiguous: found in %zu network namespaces (%s); use --pid or --netns",
		name, ns, nhit, list);
}

int st_pod_lookup(const struct st_pod_opts *o, const char *name, const char *ns,
		  struct st_pod *pod, char *err)
{
	struct st_pod_list *l = NULL;
	const struct st_pod *p = NULL;
	int ret;

	ret = st_pod_check_name(name, err);
	if (ret == 0)
		ret = st_pod_check_namespace(ns, err);
	if (ret < 0)
		return ret;
	if (pod == NULL)
		return st_err(err, EINVAL, "st_pod_lookup: no result pointer");
	ret = st_pod_scan_for(o, name, ns, &l, err);
	if (ret < 0)
		goto out;
	ret = st_pod_find(l, name, ns, &p, err);
	if (ret < 0)
		goto out;
	*pod = *p;
out:
	st_pod_list_free(l);
	return ret;
}

/* @fd is the namespace the scan saw: not a reused pid's. */
static bool st_pod_fd_is(int fd, const struct st_pod *pod)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st_pod_same_ns(pod, &st);
}

int st_pod_netns_open(const struct st_pod *pod, const struct st_pod_opts *o,
		      char *err)
{
	const char *root =
		o != NULL && o->proc_root != NULL ? o->proc_root : "/proc";
	char path[PATH_MAX];
	int fd;

	if (pod == NULL)
		return st_err(err, EINVAL, "st_pod_netns_open: no pod");
	if (pod->host_netns)
		return st_err(
			err, EPERM,
			"pod %s/%s shares the node's network namespace; refusing to touch the node's rules",
			pod->ns, pod->name);
	if (pod->pid > 0) {
		snprintf(path, sizeof(path), "%s/%d/ns/net", root, pod->pid);
		fd = st_netns_open(path, NULL);
		if (fd >= 0) {
			if (st_pod_fd_is(fd, pod))
				return fd;
			close(fd);
		}
	}
	if (pod->netns_path[0] != '\0') {
		fd = st_netns_open(pod->netns_path, NULL);
		if (fd >= 0) {
			if (st_pod_fd_is(fd, pod))
				return fd;
			close(fd);
		}
	}
	return st_err(
		err, ESRCH,
		"the network namespace of pod %s/%s is gone (pid %d has exited or the pod was deleted)",
		pod->ns, pod->name, pod->pid);
}
