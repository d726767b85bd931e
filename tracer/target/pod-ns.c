// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod-ns.c - ambient pods, told by the rules of their network namespace:
 * no proxy process runs in them, so a namespace is an ambient pod's when
 * its rules are ztunnel's in-pod rules.  The namespaces come from crictl's
 * sandboxes (pod-cri.c), from the processes under /proc and from the
 * names under /run/netns; each is read at most once per scan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "istio.h"
#include "netns.h"
#include "pod-int.h"
#include "target.h"

#define ST_NS_NAMEFILE_MAX 4096

static struct st_ns_seen *st_ns_find(struct st_scan *sc, const struct stat *st)
{
	for (size_t i = 0; i < sc->nseen; i++)
		if (sc->seen[i].dev == (uint64_t)st->st_dev &&
		    sc->seen[i].ino == (uint64_t)st->st_ino)
			return &sc->seen[i];
	return NULL;
}

static bool st_ns_known(const struct st_scan *sc, const struct stat *st)
{
	for (size_t i = 0; i < sc->l->n; i++)
		if (sc->l->v[i].pod.netns_dev == (uint64_t)st->st_dev &&
		    sc->l->v[i].pod.netns_ino == (uint64_t)st->st_ino)
			return true;
	return false;
}

/* Ztunnel's in-pod rules in the namespace @fd? */
static bool st_ns_read_ambient(int fd)
{
	struct st_istio_settings set;
	char err[ST_ERRBUF_SIZE];
	struct st_ruleset *rs = NULL;
	struct st_tgt *t = NULL;
	bool yes = false;

	if (st_tgt_read(fd, NULL, &t, err) == 0) {
		rs = st_tgt_take_rules(t);
		yes = rs != NULL && st_istio_analyze(rs, &set, err) == 0 &&
		      set.kind == ST_ISTIO_AMBIENT;
	}
	st_ruleset_free(rs);
	st_tgt_free(t);
	return yes;
}

int st_ns_ambient(struct st_scan *sc, const struct stat *st, const char *path)
{
	struct st_ns_seen *s = st_ns_find(sc, st);
	struct stat now;
	int fd;

	if (s != NULL)
		return s->ambient;
	if (sc->nseen == sc->capseen) {
		size_t ncap = sc->capseen ? sc->capseen * 2 : 16;
		struct st_ns_seen *v = realloc(sc->seen, ncap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		sc->seen = v;
		sc->capseen = ncap;
	}
	s = &sc->seen[sc->nseen++];
	s->dev = (uint64_t)st->st_dev;
	s->ino = (uint64_t)st->st_ino;
	s->ambient = false;
	s->pid = 0;
	fd = st_netns_open(path, NULL);
	if (fd < 0)
		return 0;
	/* Still the namespace that was seen (a pid may have been reused). */
	if (fstat(fd, &now) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		s->ambient = st_ns_read_ambient(fd);
	close(fd);
	return s->ambient;
}

/* A small file under @dfd, NUL-terminated; "" when unreadable. */
static void st_ns_read_small(int dfd, const char *rel, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	buf[0] = '\0';
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
}

/*
 * The pod's name and namespace as the kubelet gives them to the
 * containers of process @pid: /etc/hostname and resolv.conf's search
 * domain, through /proc/PID/root.  False when either is missing.
 */
static bool st_ns_names(struct st_scan *sc, int pid, char *name, size_t nsize,
			char *ns, size_t ssize)
{
	char rel[64], buf[ST_NS_NAMEFILE_MAX];

	snprintf(rel, sizeof(rel), "%d/root/etc/hostname", pid);
	st_ns_read_small(sc->procfd, rel, buf, sizeof(buf));
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (st_pod_check_name(buf, NULL) < 0)
		return false;
	st_strlcpy(name, buf, nsize);
	snprintf(rel, sizeof(rel), "%d/root/etc/resolv.conf", pid);
	st_ns_read_small(sc->procfd, rel, buf, sizeof(buf));
	st_pod_resolv_ns(buf, ns, ssize);
	return ns[0] != '\0';
}

static int st_ns_add(struct st_scan *sc, const struct stat *st, int pid,
		     const char *name, const char *ns, const char *path)
{
	struct st_pod_entry *e = st_pod_append(sc->l);

	if (e == NULL)
		return -ENOMEM;
	st_strlcpy(e->pod.name, name, sizeof(e->pod.name));
	st_strlcpy(e->pod.ns, ns, sizeof(e->pod.ns));
	e->pod.pid = pid;
	e->pod.netns_dev = (uint64_t)st->st_dev;
	e->pod.netns_ino = (uint64_t)st->st_ino;
	e->pod.sources = ST_POD_SRC_NETNS;
	e->pod.mode = ST_POD_MODE_AMBIENT;
	if (path != NULL && strlen(path) < sizeof(e->pod.netns_path))
		st_strlcpy(e->pod.netns_path, path, sizeof(e->pod.netns_path));
	return 0;
}

/* The processes: a namespace is read once it has a name, or for a list. */
static int st_ns_scan_proc(struct st_scan *sc)
{
	char name[ST_POD_NAME_MAX + 1], ns[ST_POD_NS_MAX + 1];
	char rel[64], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int dfd, ret = 0;

	dfd = dup(sc->procfd);
	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	/* The duplicate shares the offset st_proc_scan() left at the end. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		bool named;

		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		snprintf(rel, sizeof(rel), "%ld/ns/net", pid);
		if (fstatat(sc->procfd, rel, &st, 0) < 0 ||
		    st_pod_is_host(sc, &st) || st_ns_known(sc, &st))
			continue;
		named = st_ns_names(sc, (int)pid, name, sizeof(name), ns,
				    sizeof(ns));
		if (sc->want_name != NULL &&
		    (!named || strcmp(name, sc->want_name) != 0 ||
		     strcmp(ns, sc->want_ns) != 0))
			continue;
		if (!named && sc->want_name == NULL && st_ns_find(sc, &st))
			continue;
		snprintf(path, sizeof(path), "%s/%s", sc->root, rel);
		ret = st_ns_ambient(sc, &st, path);
		if (ret < 0)
			break;
		if (ret == 0)
			continue;
		/* An unnamed namespace waits for a process that names it. */
		if (!named) {
			st_ns_find(sc, &st)->pid = (int)pid;
			continue;
		}
		ret = st_ns_add(sc, &st, (int)pid, name, ns, NULL);
		if (ret < 0)
			break;
	}
	closedir(d);
	if (ret < 0)
		return ret;
	/* A list shows the ambient namespaces nothing named, by a pid. */
	for (size_t i = 0; i < sc->nseen && sc->want_name == NULL; i++) {
		struct stat st = {0};

		st.st_dev = (dev_t)sc->seen[i].dev;
		st.st_ino = (ino_t)sc->seen[i].ino;
		if (!sc->seen[i].ambient || sc->seen[i].pid <= 0 ||
		    st_ns_known(sc, &st))
			continue;
		ret = st_ns_add(sc, &st, sc->seen[i].pid, "", "", NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Namespaces under /run/netns that hold ambient rules and have no name. */
static int st_ns_scan_run(struct st_scan *sc, const struct st_pod_opts *o)
{
	const char *host =
		o != NULL && o->host_root != NULL ? o->host_root : "";
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(dir, sizeof(dir), "%s/run/netns",
		 strcmp(host, "/") == 0 ? "" : host);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name) >= sizeof(path) ||
		    stat(path, &st) < 0 || st_pod_is_host(sc, &st) ||
		    st_ns_known(sc, &st))
			continue;
		ret = st_ns_ambient(sc, &st, path);
		if (ret < 0)
			break;
		if (ret == 1) {
			ret = st_ns_add(sc, &st, 0, "", "", path);
			if (ret < 0)
				break;
		}
	}
	closedir(d);
	return ret < 0 ? ret : 0;
}

int st_ns_scan(struct st_scan *sc, const struct st_pod_opts *o)
{
	int ret;

	if (o != NULL && o->no_ambient)
		return 0;
	ret = st_ns_scan_proc(sc);
	/* Nameless namespaces only matter to a list. */
	if (ret == 0 && sc->want_name == NULL)
		ret = st_ns_scan_run(sc, o);
	return ret;
}
