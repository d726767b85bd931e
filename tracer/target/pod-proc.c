// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod-proc.c - sidecar pods from the processes under /proc.
 *
 * The scan reads three small files per process (environ, comm, cmdline),
 * each bounded, into buffers allocated once per scan.  A process can exit
 * between readdir() and open(), and its files then read as ENOENT/ESRCH
 * or empty (a zombie): that is normal and only counted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pod-int.h"

/* The variables of one environment that matter; pointers into its buffer. */
struct st_proc_env {
	const char *pod_name;
	const char *pod_ns;
	const char *instance_ip;
	const char *mode;
	const char *sa;
	bool istio_meta;
};

/*
 * Read at most @size bytes of @rel under @dfd.  O_NONBLOCK: a FIFO planted
 * in a fake tree must not hang the scan.
 */
static int st_proc_read_at(int dfd, const char *rel, char *buf, size_t size,
			   size_t *len)
{
	int fd;
	int ret = 0;

	*len = 0;
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	while (*len < size) {
		ssize_t n = read(fd, buf + *len, size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return ret;
}

static void st_proc_env_take(const char *s, const char *key, const char **dst)
{
	size_t k = strlen(key);

	if (*dst == NULL && strncmp(s, key, k) == 0)
		*dst = s + k;
}

/*
 * NUL-separated "KEY=value" strings; a last one cut off by the read limit
 * is ignored.  The first of duplicate keys counts, as for getenv().
 */
static void st_proc_env_parse(const char *buf, size_t len,
			      struct st_proc_env *e)
{
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	while (i < len) {
		const char *s = buf + i;
		size_t n = strnlen(s, len - i);

		if (n == len - i)
			break;
		i += n + 1;
		st_proc_env_take(s, "POD_NAME=", &e->pod_name);
		st_proc_env_take(s, "POD_NAMESPACE=", &e->pod_ns);
		st_proc_env_take(s, "INSTANCE_IP=", &e->instance_ip);
		st_proc_env_take(s, "ISTIO_META_INTERCEPTION_MODE=", &e->mode);
		st_proc_env_take(s, "SERVICE_ACCOUNT=", &e->sa);
		if (strncmp(s, "ISTIO_META_", 11) == 0)
			e->istio_meta = true;
	}
}

static const char *st_proc_basename(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash != NULL ? slash + 1 : s;
}

/*
 * pilot-agent's proxy type: "pilot-agent proxy sidecar ..." (or "router"
 * for gateways).  NULL when the command line does not say.
 */
static const char *st_proc_agent_type(const char *cmd, size_t len)
{
	size_t i = 0;
	int argn = 0;
	bool next = false;

	while (i < len && argn < 8) {
		const char *a = cmd + i;
		size_t n = strnlen(a, len - i);

		if (n == len - i)
			break;
		if (next)
			return a;
		if (argn > 0 && strcmp(a, "proxy") == 0)
			next = true;
		i += n + 1;
		argn++;
	}
	return NULL;
}

static int st_proc_scan_pid(struct st_scan *sc, int pid)
{
	char rel[64], comm[32];
	struct st_pod_entry *g = NULL;
	struct st_proc_env e;
	struct stat st;
	const char *type = NULL;
	bool agent, envoy, excluded = false;
	size_t len = 0, clen = 0, cmdlen = 0;
	int r;

	snprintf(rel, sizeof(rel), "%d/environ", pid);
	r = st_proc_read_at(sc->procfd, rel, sc->env, ST_POD_ENVIRON_MAX, &len);
	if (r < 0) {
		if (r != -ENOENT && r != -ESRCH)
			sc->l->unreadable++;
		return 0;
	}
	st_proc_env_parse(sc->env, len, &e);
	if (e.pod_name == NULL || e.pod_ns == NULL ||
	    st_pod_check_name(e.pod_name, NULL) < 0 ||
	    st_pod_check_namespace(e.pod_ns, NULL) < 0)
		return 0;

	snprintf(rel, sizeof(rel), "%d/comm", pid);
	if (st_proc_read_at(sc->procfd, rel, comm, sizeof(comm) - 1, &clen) < 0)
		clen = 0;
	comm[clen] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(rel, sizeof(rel), "%d/cmdline", pid);
	if (st_proc_read_at(sc->procfd, rel, sc->cmd, ST_POD_CMDLINE_MAX,
			    &cmdlen) < 0)
		cmdlen = 0;
	sc->cmd[cmdlen] = '\0';

	agent = strcmp(comm, "pilot-agent") == 0 ||
		strcmp(st_proc_basename(sc->cmd), "pilot-agent") == 0;
	envoy = strcmp(comm, "envoy") == 0 ||
		strcmp(st_proc_basename(sc->cmd), "envoy") == 0;
	if (!agent && !envoy && !e.istio_meta)
		return 0;
	/* ztunnel's own pod is no sidecar pod (ambient pods: pod-ns.c). */
	if (strcmp(comm, "ztunnel") == 0 ||
	    strcmp(st_proc_basename(sc->cmd), "ztunnel") == 0)
		return 0;
	if (agent) {
		type = st_proc_agent_type(sc->cmd, cmdlen);
		excluded = type != NULL && strcmp(type, "sidecar") != 0;
	}

	snprintf(rel, sizeof(rel), "%d/ns/net", pid);
	if (fstatat(sc->procfd, rel, &st, 0) < 0) {
		if (errno != ENOENT && errno != ESRCH)
			sc->l->unreadable++;
		return 0;
	}

	g = st_pod_group(sc->l, &st, e.pod_name, e.pod_ns);
	if (g == NULL) {
		g = st_pod_append(sc->l);
		if (g == NULL)
			return -ENOMEM;
		st_strlcpy(g->pod.name, e.pod_name, sizeof(g->pod.name));
		st_strlcpy(g->pod.ns, e.pod_ns, sizeof(g->pod.ns));
		g->pod.netns_dev = (uint64_t)st.st_dev;
		g->pod.netns_ino = (uint64_t)st.st_ino;
		g->pod.pid = pid;
		g->agent = agent;
	} else if ((agent && !g->agent) ||
		   (agent == g->agent && pid < g->pod.pid)) {
		/* The pilot-agent speaks for the pod, else the oldest pid. */
		g->pod.pid = pid;
		g->agent = agent;
		g->pod.instance_ip[0] = '\0';
		g->pod.interception_mode[0] = '\0';
		g->pod.service_account[0] = '\0';
	}
	g->pod.nprocs++;
	g->pod.sources |= ST_POD_SRC_PROC;
	if (g->pod.mode == ST_POD_MODE_UNKNOWN)
		g->pod.mode = ST_POD_MODE_SIDECAR;
	g->excluded |= excluded;
	st_pod_set_ip(g->pod.instance_ip, sizeof(g->pod.instance_ip),
		      e.instance_ip);
	st_pod_set_mode(g->pod.interception_mode,
			sizeof(g->pod.interception_mode), e.mode);
	st_pod_set_sa(g->pod.service_account, sizeof(g->pod.service_account),
		      e.sa);
	return 0;
}

static bool st_proc_is_pid(const char *s, int *pid)
{
	long v = 0;
	size_t i;

	if (s[0] == '\0' || s[0] == '0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*pid = (int)v;
	return true;
}

int st_proc_scan(struct st_scan *sc, char *err)
{
	struct dirent *de;
	DIR *d = NULL;
	int dfd = -1;
	int ret = 0;

	dfd = dup(sc->procfd);
	if (dfd < 0)
		return st_err(err, errno, "%s: %s", sc->root, strerror(errno));
	d = fdopendir(dfd);
	if (d == NULL) {
		ret = st_err(err, errno, "%s: %s", sc->root, strerror(errno));
		close(dfd);
		goto out;
	}
	for (;;) {
		int pid;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				ret = st_err(err, errno, "reading %s: %s",
					     sc->root, strerror(errno));
			break;
		}
		if (!st_proc_is_pid(de->d_name, &pid))
			continue;
		ret = st_proc_scan_pid(sc, pid);
		if (ret < 0) {
			ret = st_err(err, -ret, "scanning %s: %s", sc->root,
				     strerror(-ret));
			break;
		}
	}
out:
	if (d != NULL)
		closedir(d);
	return ret;
}
