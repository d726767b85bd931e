// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pod.c - the sidecar pods of this node, from /proc and from crictl.
 *
 * The scan reads three small files per process (environ, comm, cmdline),
 * each bounded, into buffers allocated once per scan.  A process can exit
 * between readdir() and open(), and its files then read as ENOENT/ESRCH
 * or empty (a zombie): that is normal and only counted.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "pod.h"
#include "spawn.h"

/* Big enough for any istio-proxy environment (PROXY_CONFIG included). */
#define ST_POD_ENVIRON_MAX (256u << 10)
#define ST_POD_CMDLINE_MAX 4096
#define ST_POD_CRICTL_TIMEOUT_MS 10000
#define ST_POD_SANDBOX_ID_MAX 128
#define ST_POD_SHOW_MAX 64 /* characters of an untrusted name in messages */
/*
 * The fixed inode of the initial network namespace (NET_NS_INIT_INO,
 * kernel 6.x); older kernels numbered it dynamically, from 0xF0000000 up,
 * so this value never names another namespace.  Used when pid 1's
 * ns/net cannot be read (a sandboxed or non-dumpable init).
 */
#define ST_POD_NET_INIT_INO 0xEFFFFFF9u

/* Annotation the sidecar injector puts on every pod it injected. */
#define ST_POD_INJECTED_ANNOTATION "sidecar.istio.io/status"
#define ST_POD_MODE_ANNOTATION "sidecar.istio.io/interceptionMode"

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

/* The variables of one environment that matter; pointers into its buffer. */
struct st_env {
	const char *pod_name;
	const char *pod_ns;
	const char *instance_ip;
	const char *mode;
	const char *sa;
	bool istio_meta;
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
};

/* ---- names ------------------------------------------------------------ */

static bool st_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Untrusted text in a message: printable ASCII only, at most
 * ST_POD_SHOW_MAX characters, so that a hostile name cannot write escape
 * sequences to a terminal or fill the error buffer.
 */
static const char *st_pod_show(const char *s, char *buf, size_t size)
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
static const char *st_dns_why(const char *s, size_t max, bool dots)
{
	size_t n = strnlen(s, max + 1);
	size_t i;

	if (n == 0)
		return "is empty";
	if (n > max)
		return "is too long";
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (st_lower_alnum(c))
			continue;
		if (c == '-' || (dots && c == '.')) {
			/* A label starts and ends with a letter or digit. */
			if (i == 0 || i == n - 1)
				return "does not start and end with a lowercase letter or digit";
			if (c == '.' && !st_lower_alnum(s[i - 1]))
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
	why = st_dns_why(name, ST_POD_NAME_MAX, true);
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
	why = st_dns_why(ns, ST_POD_NS_MAX, false);
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

static void st_pod_note(struct st_pod_list *l, const char *fmt, ...)
	__st_printf(2, 3);

static void st_pod_note(struct st_pod_list *l, const char *fmt, ...)
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

static struct st_pod_entry *st_pod_append(struct st_pod_list *l)
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

static bool st_same_ns(const struct st_pod *p, const struct stat *st)
{
	return p->netns_dev == (uint64_t)st->st_dev &&
	       p->netns_ino == (uint64_t)st->st_ino;
}

static struct st_pod_entry *st_pod_group(struct st_pod_list *l,
					 const struct stat *st,
					 const char *name, const char *ns)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct st_pod *p = &l->v[i].pod;

		if (st_same_ns(p, st) && strcmp(p->name, name) == 0 &&
		    strcmp(p->ns, ns) == 0)
			return &l->v[i];
	}
	return NULL;
}

/* Values from untrusted sources, kept only when well formed. */
static void st_set_ip(char *dst, size_t size, const char *s)
{
	unsigned char a[16];

	if (s == NULL || dst[0] != '\0' || strlen(s) >= size)
		return;
	if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
		st_strlcpy(dst, s, size);
}

static void st_set_mode(char *dst, size_t size, const char *s)
{
	size_t i;

	if (s == NULL || dst[0] != '\0' || s[0] == '\0' || strlen(s) >= size)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return;
	st_strlcpy(dst, s, size);
}

static void st_set_sa(char *dst, size_t size, const char *s)
{
	if (s == NULL || dst[0] != '\0' ||
	    st_dns_why(s, ST_POD_NAME_MAX, true) != NULL)
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

/* ---- /proc ------------------------------------------------------------- */

/*
 * Read at most @size bytes of @rel under @dfd.  O_NONBLOCK: a FIFO planted
 * in a fake tree must not hang the scan.
 */
static int st_read_at(int dfd, const char *rel, char *buf, size_t size,
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

static void st_env_take(const char *s, const char *key, const char **dst)
{
	size_t k = strlen(key);

	if (*dst == NULL && strncmp(s, key, k) == 0)
		*dst = s + k;
}

/*
 * NUL-separated "KEY=value" strings; a last one cut off by the read limit
 * is ignored.  The first of duplicate keys counts, as for getenv().
 */
static void st_env_parse(const char *buf, size_t len, struct st_env *e)
{
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	while (i < len) {
		const char *s = buf + i;
		size_t n = strnlen(s, len - i);

		if (n == len - i)
			break;
		i += n + 1;
		st_env_take(s, "POD_NAME=", &e->pod_name);
		st_env_take(s, "POD_NAMESPACE=", &e->pod_ns);
		st_env_take(s, "INSTANCE_IP=", &e->instance_ip);
		st_env_take(s, "ISTIO_META_INTERCEPTION_MODE=", &e->mode);
		st_env_take(s, "SERVICE_ACCOUNT=", &e->sa);
		if (strncmp(s, "ISTIO_META_", 11) == 0)
			e->istio_meta = true;
	}
}

static const char *st_basename(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash != NULL ? slash + 1 : s;
}

/*
 * pilot-agent's proxy type: "pilot-agent proxy sidecar ..." (or "router"
 * for gateways).  NULL when the command line does not say.
 */
static const char *st_agent_type(const char *cmd, size_t len)
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

static int st_scan_pid(struct st_scan *sc, int pid)
{
	char rel[64], comm[32];
	struct st_pod_entry *g = NULL;
	struct st_env e;
	struct stat st;
	const char *type = NULL;
	bool agent, envoy, excluded = false;
	size_t len = 0, clen = 0, cmdlen = 0;
	int r;

	snprintf(rel, sizeof(rel), "%d/environ", pid);
	r = st_read_at(sc->procfd, rel, sc->env, ST_POD_ENVIRON_MAX, &len);
	if (r < 0) {
		if (r != -ENOENT && r != -ESRCH)
			sc->l->unreadable++;
		return 0;
	}
	st_env_parse(sc->env, len, &e);
	if (e.pod_name == NULL || e.pod_ns == NULL ||
	    st_pod_check_name(e.pod_name, NULL) < 0 ||
	    st_pod_check_namespace(e.pod_ns, NULL) < 0)
		return 0;

	snprintf(rel, sizeof(rel), "%d/comm", pid);
	if (st_read_at(sc->procfd, rel, comm, sizeof(comm) - 1, &clen) < 0)
		clen = 0;
	comm[clen] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(rel, sizeof(rel), "%d/cmdline", pid);
	if (st_read_at(sc->procfd, rel, sc->cmd, ST_POD_CMDLINE_MAX, &cmdlen) <
	    0)
		cmdlen = 0;
	sc->cmd[cmdlen] = '\0';

	agent = strcmp(comm, "pilot-agent") == 0 ||
		strcmp(st_basename(sc->cmd), "pilot-agent") == 0;
	envoy = strcmp(comm, "envoy") == 0 ||
		strcmp(st_basename(sc->cmd), "envoy") == 0;
	if (!agent && !envoy && !e.istio_meta)
		return 0;
	if (agent) {
		type = st_agent_type(sc->cmd, cmdlen);
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
	g->excluded |= excluded;
	st_set_ip(g->pod.instance_ip, sizeof(g->pod.instance_ip),
		  e.instance_ip);
	st_set_mode(g->pod.interception_mode, sizeof(g->pod.interception_mode),
		    e.mode);
	st_set_sa(g->pod.service_account, sizeof(g->pod.service_account), e.sa);
	return 0;
}

static bool st_is_pid(const char *s, int *pid)
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

static int st_scan_proc(struct st_scan *sc, char *err)
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
		if (!st_is_pid(de->d_name, &pid))
			continue;
		ret = st_scan_pid(sc, pid);
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

/* ---- crictl ------------------------------------------------------------ */

/* Sandbox ids become an argument: hex/alnum only, never an option. */
static bool st_sandbox_id_ok(const char *id)
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

static const char *st_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Run crictl; 1 when it ran and exited 0, 0 when noted/absent, <0 ENOMEM. */
static int st_crictl(struct st_scan *sc, const struct st_pod_opts *o,
		     char *const argv[], struct st_spawn_result *res)
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
		st_pod_note(sc->l, "'crictl %s' failed (exit %d): %s", argv[1],
			    res->status,
			    st_spawn_errline(res, show, sizeof(show)));
		st_spawn_result_free(res);
		return 0;
	}
	return 1;
}

static json_t *st_crictl_json(struct st_scan *sc, const char *what,
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
static const char *st_inspect_netns(json_t *info)
{
	json_t *nss = json_object_get(
		json_object_get(json_object_get(info, "runtimeSpec"), "linux"),
		"namespaces");
	size_t i;
	json_t *v;

	json_array_foreach(nss, i, v)
	{
		const char *type = st_jstr(v, "type");

		if (type != NULL && strcmp(type, "network") == 0)
			return st_jstr(v, "path");
	}
	/* containerd before 1.1 said it here. */
	return st_jstr(info, "netNamespace");
}

/* Add or merge one injected, ready sandbox. */
static int st_cri_sandbox(struct st_scan *sc, const struct st_pod_opts *o,
			  const char *crictl, const char *id, const char *name,
			  const char *ns, const char *mode)
{
	char *argv[] = {(char *)crictl, "inspectp", "-o",
			"json",		(char *)id, NULL};
	struct st_spawn_result res = {0};
	char show[ST_POD_SHOW_MAX + 8];
	struct st_pod_entry *g = NULL;
	json_t *root = NULL, *info, *status;
	const char *path, *ip;
	json_int_t pid = 0;
	struct stat st;
	int ret;

	ret = st_crictl(sc, o, argv, &res);
	if (ret <= 0)
		return ret;
	root = st_crictl_json(sc, "inspectp", &res);
	if (root == NULL)
		goto out;
	info = json_object_get(root, "info");
	status = json_object_get(root, "status");
	path = st_inspect_netns(info);
	if (json_is_integer(json_object_get(info, "pid")))
		pid = json_integer_value(json_object_get(info, "pid"));
	if (pid < 0 || pid > INT_MAX)
		pid = 0;
	ip = st_jstr(json_object_get(status, "network"), "ip");

	if (path != NULL && path[0] == '/' && stat(path, &st) == 0) {
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
	st_strlcpy(g->pod.sandbox_id, id, sizeof(g->pod.sandbox_id));
	if (path != NULL && strlen(path) < sizeof(g->pod.netns_path))
		st_strlcpy(g->pod.netns_path, path, sizeof(g->pod.netns_path));
	st_set_ip(g->pod.instance_ip, sizeof(g->pod.instance_ip), ip);
	st_set_mode(g->pod.interception_mode, sizeof(g->pod.interception_mode),
		    mode);
	ret = 0;
out:
	json_decref(root);
	st_spawn_result_free(&res);
	return ret;
}

static int st_scan_cri(struct st_scan *sc, const struct st_pod_opts *o)
{
	const char *crictl =
		o != NULL && o->crictl != NULL ? o->crictl : "crictl";
	char *argv[] = {(char *)crictl, "pods", "-o", "json", NULL};
	struct st_spawn_result res = {0};
	json_t *root = NULL, *items, *it;
	size_t i;
	int ret;

	if (crictl[0] == '\0')
		return 0;
	ret = st_crictl(sc, o, argv, &res);
	if (ret <= 0)
		return ret;
	root = st_crictl_json(sc, "pods", &res);
	if (root == NULL)
		goto out;
	items = json_object_get(root, "items");
	json_array_foreach(items, i, it)
	{
		json_t *md = json_object_get(it, "metadata");
		json_t *ann = json_object_get(it, "annotations");
		const char *id = st_jstr(it, "id");
		const char *state = st_jstr(it, "state");
		const char *name = st_jstr(md, "name");
		const char *ns = st_jstr(md, "namespace");

		if (id == NULL || state == NULL || name == NULL || ns == NULL ||
		    strcmp(state, "SANDBOX_READY") != 0 ||
		    json_object_get(ann, ST_POD_INJECTED_ANNOTATION) == NULL)
			continue;
		if (!st_sandbox_id_ok(id) ||
		    st_pod_check_name(name, NULL) < 0 ||
		    st_pod_check_namespace(ns, NULL) < 0) {
			st_pod_note(
				sc->l,
				"crictl: skipped a sandbox with an invalid id or name");
			continue;
		}
		ret = st_cri_sandbox(sc, o, crictl, id, name, ns,
				     st_jstr(ann, ST_POD_MODE_ANNOTATION));
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	st_spawn_result_free(&res);
	return ret;
}

/* ---- scan -------------------------------------------------------------- */

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
			(sc->have_host && st_same_ns(&e->pod, &sc->host)) ||
			(sc->have_nsfs &&
			 e->pod.netns_dev == (uint64_t)sc->nsfs_dev &&
			 e->pod.netns_ino == ST_POD_NET_INIT_INO);
		l->v[o++] = *e;
	}
	l->n = o;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), st_pod_cmp);
	if (l->unreadable > 0)
		st_pod_note(l, "%u process(es) could not be read%s",
			    l->unreadable, geteuid() != 0 ? " (not root)" : "");
}

int st_pod_scan(const struct st_pod_opts *o, struct st_pod_list **out,
		char *err)
{
	struct st_scan sc = {.procfd = -1};
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

	ret = st_scan_proc(&sc, err);
	if (ret < 0)
		goto out;
	ret = st_scan_cri(&sc, o);
	if (ret < 0) {
		ret = st_err(err, -ret, "reading crictl's pods: %s",
			     strerror(-ret));
		goto out;
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
	st_pod_list_free(sc.l);
	return ret;
}

/* ---- lookup ------------------------------------------------------------ */

/* "sidecar pods on this node: ns/a, ns/b", cut with "..." to fit. */
static void st_pod_names(const struct st_pod_list *l, char *buf, size_t size)
{
	size_t i, n;

	if (l->n == 0) {
		snprintf(buf, size,
			 "no sidecar pods were found on this node%s%s",
			 l->unreadable > 0 ? " (" : "",
			 l->unreadable > 0 ? "some processes could not be read)"
					   : "");
		return;
	}
	n = (size_t)snprintf(buf, size, "sidecar pods on this node: ");
	for (i = 0; i < l->n && n < size; i++) {
		const struct st_pod *p = &l->v[i].pod;
		size_t need = strlen(p->ns) + strlen(p->name) + 3;

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
			      "no sidecar pod %s in namespace %s; %s", name, ns,
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
		"sidecar pod %s in namespace %s is ambiguous: found in %zu network namespaces (%s); use --pid or --netns",
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
	ret = st_pod_scan(o, &l, err);
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
static bool st_fd_is(int fd, const struct st_pod *pod)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st_same_ns(pod, &st);
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
			if (st_fd_is(fd, pod))
				return fd;
			close(fd);
		}
	}
	if (pod->netns_path[0] != '\0') {
		fd = st_netns_open(pod->netns_path, NULL);
		if (fd >= 0) {
			if (st_fd_is(fd, pod))
				return fd;
			close(fd);
		}
	}
	return st_err(
		err, ESRCH,
		"the network namespace of pod %s/%s is gone (pid %d has exited or the pod was deleted)",
		pod->ns, pod->name, pod->pid);
}
