// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod-self.c - the pod this process runs in, told without seeing its
 * proxy: for a trace from inside the pod (an ephemeral container of
 * `kubectl debug --profile=netadmin` shares the pod's network and UTS
 * namespaces, but neither its processes nor, usually, its environment).
 *
 * The name: POD_NAME (given with `kubectl debug --env`, or the downward
 * API), else HOSTNAME, else the host name: the kubelet sets a pod's host
 * name to the pod's name unless the pod spec sets spec.hostname.  The
 * namespace: POD_NAMESPACE, else the first "search" domain of
 * /etc/resolv.conf when it is NS.svc.DOMAIN: the kubelet writes the same
 * resolv.conf into every container of a pod (ClusterFirst DNS policy),
 * ephemeral ones included.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pod-int.h"

#define ST_POD_RESOLV_MAX 8192

/*
 * The namespace in the first "search" domain of a resolv.conf, when that
 * domain is NS.svc.REST; "" otherwise.
 */
void st_pod_resolv_ns(const char *buf, char *ns, size_t size)
{
	const char *line = buf;

	ns[0] = '\0';
	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char dom[ST_POD_NS_MAX + 8];
		const char *p = line + 6;
		size_t k;

		if (n > 7 && strncmp(line, "search", 6) == 0 &&
		    (line[6] == ' ' || line[6] == '\t')) {
			while (p < line + n && (*p == ' ' || *p == '\t'))
				p++;
			k = strcspn(p, " \t\n");
			if (p + k > line + n)
				k = (size_t)(line + n - p);
			if (k >= sizeof(dom))
				return;
			memcpy(dom, p, k);
			dom[k] = '\0';
			p = strstr(dom, ".svc.");
			if (p == NULL || p == dom)
				return;
			dom[p - dom] = '\0';
			if (st_pod_check_namespace(dom, NULL) == 0)
				st_strlcpy(ns, dom, size);
			return;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
}

static void st_self_from(char *from, size_t size, const char *what)
{
	size_t n = strlen(from);

	if (n + 1 >= size)
		return;
	snprintf(from + n, size - n, "%s%s", n > 0 ? ", " : "", what);
}

int st_pod_self(const char *resolv_conf, struct st_pod *pod, char *from,
		size_t size, char *err)
{
	char host[ST_POD_NAME_MAX + 2] = "";
	char buf[ST_POD_RESOLV_MAX + 1];
	const char *v;
	struct stat st;
	size_t len = 0;
	int fd;

	if (pod == NULL || from == NULL || size == 0)
		return st_err(err, EINVAL, "st_pod_self: no result pointer");
	memset(pod, 0, sizeof(*pod));
	from[0] = '\0';
	if (stat("/proc/self/ns/net", &st) < 0)
		return st_err(
			err, errno,
			"cannot read this process's network namespace: %s",
			strerror(errno));
	pod->netns_dev = (uint64_t)st.st_dev;
	pod->netns_ino = (uint64_t)st.st_ino;
	pod->host_netns = st_pod_netns_is_init(pod->netns_ino);
	st_strlcpy(pod->netns_path, "/proc/self/ns/net",
		   sizeof(pod->netns_path));

	v = getenv("POD_NAME");
	if (v != NULL && st_pod_check_name(v, NULL) == 0) {
		st_strlcpy(pod->name, v, sizeof(pod->name));
		st_self_from(from, size, "POD_NAME");
	} else {
		v = getenv("HOSTNAME");
		if (v != NULL && st_pod_check_name(v, NULL) == 0) {
			st_strlcpy(pod->name, v, sizeof(pod->name));
			st_self_from(from, size, "HOSTNAME");
		} else if (gethostname(host, sizeof(host) - 1) == 0 &&
			   st_pod_check_name(host, NULL) == 0) {
			st_strlcpy(pod->name, host, sizeof(pod->name));
			st_self_from(from, size, "the host name");
		}
	}
	v = getenv("POD_NAMESPACE");
	if (v != NULL && st_pod_check_namespace(v, NULL) == 0) {
		st_strlcpy(pod->ns, v, sizeof(pod->ns));
		st_self_from(from, size, "POD_NAMESPACE");
		return 0;
	}
	fd = open(resolv_conf != NULL ? resolv_conf : "/etc/resolv.conf",
		  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	while (len < ST_POD_RESOLV_MAX) {
		ssize_t n = read(fd, buf + len, ST_POD_RESOLV_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	st_pod_resolv_ns(buf, pod->ns, sizeof(pod->ns));
	if (pod->ns[0] != '\0')
		st_self_from(from, size, "the DNS search domain");
	return 0;
}
