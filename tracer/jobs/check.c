// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check.c - findings for --check: dead rules (telling Istio's own,
 * expected ones from the rest), processes that run as the proxy,
 * listeners that bypass capture, rules split over two backends, and
 * type-0 flows of a capture.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "classify.h"
#include "flow.h"
#include "netns.h"
#include "spawn.h"

#define ST_CHECK_TCP_MAX (4u << 20) /* bytes of one /proc/net/tcp table */
#define ST_CHECK_MAX_LISTEN 256

/* Accumulated type-0 flows of one class. */
struct st_check_flows {
	enum st_class klass;
	const char *code;
	uint64_t count;
	unsigned int nexamples;
	char examples[ST_CHECK_MAX_EXAMPLES][ST_CHECK_EXAMPLE_SIZE];
};

struct st_check {
	struct st_check_finding *f;
	size_t n;
	size_t cap;
	struct st_check_flows flows[3];
	bool finished;
};

/* The ports Istio itself excludes from inbound capture (doc/PORTS.md). */
/* 22: the SSH exclusion Istio hard-coded until 1.12. */
static const uint16_t st_istio_own_ports[] = {15008, 15090, 15021, 15020, 22};

static bool st_istio_own_port(uint16_t p)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_istio_own_ports); i++)
		if (st_istio_own_ports[i] == p)
			return true;
	return false;
}

static bool st_in_ports(const uint16_t *p, unsigned int n, uint16_t port)
{
	for (unsigned int i = 0; i < n; i++)
		if (p[i] == port)
			return true;
	return false;
}

static bool st_in_ids(const uint32_t *p, unsigned int n, uint32_t id)
{
	for (unsigned int i = 0; i < n; i++)
		if (p[i] == id)
			return true;
	return false;
}

const char *st_check_severity_name(enum st_check_severity s)
{
	switch (s) {
	case ST_CHECK_ERROR:
		return "error";
	case ST_CHECK_WARNING:
		return "warning";
	case ST_CHECK_INFO:
		break;
	}
	return "info";
}

struct st_check *st_check_new(void)
{
	struct st_check *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->flows[0] = (struct st_check_flows){.klass = ST_CLASS_BYPASS,
					      .code = "bypass-traffic"};
	c->flows[1] = (struct st_check_flows){.klass = ST_CLASS_PROXY_DIRECT,
					      .code = "proxy-direct-traffic"};
	c->flows[2] = (struct st_check_flows){.klass = ST_CLASS_EXCLUDED_PORT,
					      .code = "excluded-port-traffic"};
	return c;
}

void st_check_free(struct st_check *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->f[i].message);
		free(c->f[i].rule_text);
	}
	free(c->f);
	free(c);
}

size_t st_check_count(const struct st_check *c)
{
	return c == NULL ? 0 : c->n;
}

const struct st_check_finding *st_check_get(const struct st_check *c, size_t i)
{
	return c == NULL || i >= c->n ? NULL : &c->f[i];
}

size_t st_check_nseverity(const struct st_check *c, enum st_check_severity s)
{
	size_t k = 0;

	for (size_t i = 0; i < st_check_count(c); i++)
		if (c->f[i].severity == s)
			k++;
	return k;
}

bool st_check_has(const struct st_check *c, const char *code)
{
	for (size_t i = 0; i < st_check_count(c); i++)
		if (strcmp(c->f[i].code, code) == 0)
			return true;
	return false;
}

static struct st_check_finding *st_add(struct st_check *c,
				       enum st_check_severity sev,
				       const char *code, char *err,
				       const char *fmt, ...) __st_printf(5, 6);

/* A new finding with its message; NULL (and @err set) without memory. */
static struct st_check_finding *st_add(struct st_check *c,
				       enum st_check_severity sev,
				       const char *code, char *err,
				       const char *fmt, ...)
{
	struct st_check_finding *f;
	va_list ap;
	int ret;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct st_check_finding *nf = realloc(c->f, cap * sizeof(*nf));

		if (nf == NULL)
			goto nomem;
		c->f = nf;
		c->cap = cap;
	}
	f = &c->f[c->n];
	memset(f, 0, sizeof(*f));
	f->severity = sev;
	f->code = code;
	va_start(ap, fmt);
	ret = vasprintf(&f->message, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		f->message = NULL;
		goto nomem;
	}
	c->n++;
	return f;
nomem:
	st_err(err, ENOMEM, "check: out of memory");
	return NULL;
}

static int st_set_rule(struct st_check_finding *f, const struct st_rule *r,
		       char *err)
{
	f->has_rule = true;
	st_strlcpy(f->table, r->table ? r->table : "", sizeof(f->table));
	st_strlcpy(f->chain, r->chain ? r->chain : "", sizeof(f->chain));
	f->family = r->family;
	f->number = r->number;
	f->rule_text = strdup(r->text ? r->text : "");
	if (f->rule_text == NULL)
		return st_err(err, ENOMEM, "check: out of memory");
	return 0;
}

static void st_set_ports(struct st_check_finding *f, const uint16_t *p,
			 unsigned int n)
{
	for (unsigned int i = 0; i < n && f->nports < ST_MAX_LIST; i++)
		f->ports[f->nports++] = p[i];
}

/* "15020 9000" */
static void st_fmt_ports(const uint16_t *p, unsigned int n, char *buf,
			 size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && o + 7 < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%u", i ? " " : "",
				      p[i]);
}

static void st_fmt_prefixes(const struct st_prefix *p, unsigned int n,
			    char *buf, size_t size)
{
	size_t o = 0;
	char one[64];

	buf[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		st_prefix_format(&p[i], false, one, sizeof(one));
		if (o + strlen(one) + 2 >= size)
			break;
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " " : "",
				      one);
	}
}

static bool st_has_match(const struct st_rule *r, enum st_match_kind k)
{
	for (unsigned int i = 0; i < r->nmatches; i++)
		if (r->matches[i].kind == k)
			return true;
	return false;
}

static bool st_chain_is(const char *name, const char *ipt, const char *nft)
{
	return name != NULL &&
	       (strcmp(name, ipt) == 0 || strcmp(name, nft) == 0);
}

static bool st_table_is_nat(const char *t)
{
	return t != NULL &&
	       (strcmp(t, "nat") == 0 || strcmp(t, "istio-proxy-nat") == 0);
}

/* Does any rule of @table jump or go to @chain? */
static bool st_jumped_to(const struct st_ruleset *rs, const char *table,
			 const char *chain)
{
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if ((r->target.kind == ST_T_JUMP ||
		     r->target.kind == ST_T_GOTO) &&
		    r->target.chain != NULL &&
		    strcmp(r->target.chain, chain) == 0 &&
		    strcmp(r->table, table) == 0)
			return true;
	}
	return false;
}

/* Does any rule name destination port @port (e.g. HBONE's 15008)? */
static bool st_mentions_dport(const struct st_ruleset *rs, uint16_t port)
{
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		for (unsigned int j = 0; j < r->nmatches; j++) {
			const struct st_match *m = &r->matches[j];

			if (m->kind != ST_M_DPORT)
				continue;
			for (unsigned int k = 0; k < m->nports; k++)
				if (port >= m->ports[k].lo &&
				    port <= m->ports[k].hi)
					return true;
		}
	}
	return false;
}

static const char *st_fam_name(enum st_family f)
{
	return f == ST_FAMILY_IPV6 ? "ipv6" : f == ST_FAMILY_IPV4 ? "ipv4" : "";
}

/*
 * A dead rule: Istio's own generator leaves some in every pod of an era
 * (doc/ISTIO-RULES.md, "Things a parser or tracer must
 * not assume"); those are
 * information, anything else a warning.
 */
static int st_check_dead(struct st_check *c, const struct st_ruleset *rs,
			 const struct st_istio_settings *set,
			 const struct st_rule *r, char *err)
{
	const char *why = r->why ? r->why : "never matches";
	bool nine = set->era == ST_ERA_NINE_RULE || set->era == ST_ERA_NFTABLES;
	bool lo_role = r->role == ST_ROLE_PROXY_TO_OWN_POD_REDIRECT ||
		       r->role == ST_ROLE_LOOPBACK_NON_PROXY_RETURN;
	struct st_check_finding *f = NULL;
	char where[160];

	snprintf(where, sizeof(where), "%s %s rule %u%s%s%s", r->table,
		 r->chain, r->number, r->family ? " (" : "",
		 st_fam_name(r->family), r->family ? ")" : "");
	if (set->kind == ST_ISTIO_SIDECAR && nine && lo_role &&
	    st_has_match(r, ST_M_UID) && set->nproxy_uids > 1) {
		f = st_add(c, ST_CHECK_WARNING, "multiple-proxy-uids-shadowed",
			   err,
			   "%s: %s; with several proxy uids the first uid's "
			   "loopback RETURN takes the others' loopback "
			   "traffic, so a later uid's hairpin to the pod IP is "
			   "not redirected: run the proxy as one uid",
			   where, why);
	} else if (set->kind == ST_ISTIO_SIDECAR && nine &&
		   ((lo_role && st_has_match(r, ST_M_GID)) ||
		    r->role == ST_ROLE_LOCALHOST_RETURN)) {
		f = st_add(c, ST_CHECK_INFO, "expected-unreachable-rule", err,
			   "%s: expected in Istio 1.5+, dead in Istio's own "
			   "nine-rule chain, nothing to do (%s)",
			   where, why);
	} else if (set->kind == ST_ISTIO_SIDECAR &&
		   r->role == ST_ROLE_DNS_PROXY_RETURN) {
		f = st_add(c, ST_CHECK_INFO, "expected-unreachable-rule", err,
			   "%s: expected in Istio 1.23-1.24, shadowed by the "
			   "protocol-agnostic uid/gid RETURN (1.25 removed "
			   "it), nothing to do (%s)",
			   where, why);
	} else if (set->kind == ST_ISTIO_SIDECAR &&
		   set->mode == ST_MODE_TPROXY && st_table_is_nat(r->table) &&
		   st_chain_is(r->chain, "ISTIO_INBOUND", "istio-inbound") &&
		   !st_jumped_to(rs, r->table, r->chain)) {
		f = st_add(c, ST_CHECK_INFO, "expected-unreachable-rule", err,
			   "%s: expected in TPROXY mode, Istio creates this "
			   "nat chain but captures inbound in mangle, nothing "
			   "to do (%s)",
			   where, why);
	} else {
		f = st_add(c, ST_CHECK_WARNING, "unreachable-rule", err,
			   "%s: %s; move it before the rules that take its "
			   "packets, or remove it",
			   where, why);
	}
	if (f == NULL)
		return -ENOMEM;
	return st_set_rule(f, r, err);
}

static int st_check_no_rules(struct st_check *c, const struct st_ruleset *rs,
			     const struct st_istio_settings *set, char *err)
{
	const char *w = st_ruleset_warnings(rs);
	bool legacy_note = false;

	/* The list is NUL-separated and ends with an empty string. */
	for (const char *p = w; p != NULL && *p != '\0'; p += strlen(p) + 1)
		if (strstr(p, "iptables-legacy tables present") != NULL)
			legacy_note = true;
	if (legacy_note && st_ruleset_nrules(rs) == 0) {
		if (st_add(c, ST_CHECK_ERROR, "backend-mismatch", err,
			   "this dump holds no rules, but iptables-nft-save "
			   "warns that iptables-legacy tables are present: "
			   "the pod's rules are in iptables-legacy; read them "
			   "with iptables-legacy-save (and "
			   "ip6tables-legacy-save)") == NULL)
			return -ENOMEM;
		return 0;
	}
	if (st_add(c, ST_CHECK_ERROR, "no-istio-rules", err,
		   "%s: the pod's traffic is not intercepted at all; check "
		   "that this is the pod's network namespace and the backend "
		   "that holds its rules (iptables-legacy-save, "
		   "iptables-nft-save, nft list ruleset)",
		   set->note[0] ? set->note : "no Istio rules") == NULL)
		return -ENOMEM;
	return 0;
}

/* Exclusions and partial capture: information, every one a way around. */
static int st_check_settings(struct st_check *c, const struct st_ruleset *rs,
			     const struct st_istio_settings *set, char *err)
{
	struct st_check_finding *f;
	uint16_t user[ST_MAX_LIST];
	unsigned int nuser = 0;
	char buf[512];

	if (!set->inbound_captured) {
		if (st_add(c, ST_CHECK_INFO, "no-inbound-capture", err,
			   "no inbound traffic is captured: connections to the "
			   "pod reach the app directly, without mTLS or "
			   "policy (includeInboundPorts is empty?)") == NULL)
			return -ENOMEM;
	} else if (!set->inbound_all_ports) {
		st_fmt_ports(set->inbound_ports, set->ninbound_ports, buf,
			     sizeof(buf));
		f = st_add(c, ST_CHECK_INFO, "uncaptured-inbound-ports", err,
			   "only inbound port%s %s %s captured: connections "
			   "to other ports bypass the sidecar "
			   "(includeInboundPorts)",
			   set->ninbound_ports == 1 ? "" : "s", buf,
			   set->ninbound_ports == 1 ? "is" : "are");
		if (f == NULL)
			return -ENOMEM;
		st_set_ports(f, set->inbound_ports, set->ninbound_ports);
	}
	for (unsigned int i = 0; i < set->ninbound_excluded; i++)
		if (!st_istio_own_port(set->inbound_excluded_ports[i]))
			user[nuser++] = set->inbound_excluded_ports[i];
	if (nuser > 0) {
		st_fmt_ports(user, nuser, buf, sizeof(buf));
		f = st_add(c, ST_CHECK_INFO, "excluded-inbound-port", err,
			   "inbound port%s %s %s excluded from capture: "
			   "connections to %s bypass the sidecar (no mTLS, "
			   "no policy) (excludeInboundPorts)",
			   nuser == 1 ? "" : "s", buf,
			   nuser == 1 ? "is" : "are",
			   nuser == 1 ? "it" : "them");
		if (f == NULL)
			return -ENOMEM;
		st_set_ports(f, user, nuser);
	}
	if (set->noutbound_excluded > 0) {
		st_fmt_ports(set->outbound_excluded_ports,
			     set->noutbound_excluded, buf, sizeof(buf));
		f = st_add(c, ST_CHECK_INFO, "excluded-outbound-port", err,
			   "outbound connections to port%s %s bypass the "
			   "sidecar (excludeOutboundPorts%s)",
			   set->noutbound_excluded == 1 ? "" : "s", buf,
			   st_in_ports(set->outbound_excluded_ports,
				       set->noutbound_excluded, 15020)
				   ? "; 15020 is the istio-cni default"
				   : "");
		if (f == NULL)
			return -ENOMEM;
		st_set_ports(f, set->outbound_excluded_ports,
			     set->noutbound_excluded);
	}
	if (set->nexcluded_cidrs > 0) {
		st_fmt_prefixes(set->excluded_cidrs, set->nexcluded_cidrs, buf,
				sizeof(buf));
		if (st_add(c, ST_CHECK_INFO, "excluded-outbound-cidr", err,
			   "outbound connections to %s bypass the sidecar "
			   "(excludeOutboundIPRanges)",
			   buf) == NULL)
			return -ENOMEM;
	}
	if (!set->outbound_all_cidrs) {
		st_fmt_prefixes(set->included_cidrs, set->nincluded_cidrs, buf,
				sizeof(buf));
		if (st_add(c, ST_CHECK_INFO, "partial-outbound-capture", err,
			   "only outbound connections to %s are captured: "
			   "others bypass the sidecar "
			   "(includeOutboundIPRanges)",
			   buf[0] ? buf : "no destination") == NULL)
			return -ENOMEM;
	}
	if (!set->dns_capture &&
	    st_add(c, ST_CHECK_INFO, "dns-not-captured", err,
		   "DNS queries go straight to the resolver, not through the "
		   "agent's DNS proxy: set ISTIO_META_DNS_CAPTURE=true if you "
		   "rely on DNS proxying or address auto-allocation") == NULL)
		return -ENOMEM;
	if (set->mode == ST_MODE_TPROXY && set->inbound_captured &&
	    !st_in_ports(set->inbound_excluded_ports, set->ninbound_excluded,
			 15008) &&
	    st_mentions_dport(rs, 15008) &&
	    st_add(c, ST_CHECK_INFO, "inbound-tunnel-port", err,
		   "TPROXY mode: the inbound chain in use (mangle) does not "
		   "exclude the HBONE port 15008, so connections to it are "
		   "sent to the inbound listener; the nat chain that "
		   "excludes it is never used") == NULL)
		return -ENOMEM;
	return 0;
}

int st_check_rules(struct st_check *c, const struct st_ruleset *rs,
		   const struct st_istio_settings *set, char *err)
{
	int ret;

	if (c == NULL || rs == NULL || set == NULL)
		return st_err(err, EINVAL, "st_check_rules: missing argument");
	switch (set->kind) {
	case ST_ISTIO_NONE:
		ret = st_check_no_rules(c, rs, set, err);
		if (ret < 0)
			return ret;
		break;
	case ST_ISTIO_AMBIENT:
		if (st_add(c, ST_CHECK_INFO, "ambient-pod", err,
			   "ztunnel (ambient) in-pod rules: not a sidecar pod; "
			   "its traffic goes through ztunnel, which the six "
			   "sidecar traffic types do not describe") == NULL)
			return -ENOMEM;
		break;
	case ST_ISTIO_UNRECOGNISED:
		if (st_add(c, ST_CHECK_WARNING, "unrecognised-rules", err,
			   "Istio chains of no known form%s%s: the findings "
			   "below may be incomplete; compare with "
			   "--explain",
			   set->note[0] ? ": " : "", set->note) == NULL)
			return -ENOMEM;
		break;
	case ST_ISTIO_SIDECAR:
		break;
	}
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);
		struct st_check_finding *f;

		if (!r->reachable) {
			ret = st_check_dead(c, rs, set, r, err);
			if (ret < 0)
				return ret;
			continue;
		}
		if (r->role != ST_ROLE_LOOPBACK_REDIRECT || r->why == NULL ||
		    set->era != ST_ERA_FIVE_RULE)
			continue;
		f = st_add(c, ST_CHECK_WARNING, "proxy-traffic-recaptured", err,
			   "%s %s rule %u: %s; Istio 1.3+ fixes this", r->table,
			   r->chain, r->number, r->why);
		if (f == NULL)
			return -ENOMEM;
		ret = st_set_rule(f, r, err);
		if (ret < 0)
			return ret;
	}
	if (set->kind == ST_ISTIO_SIDECAR)
		return st_check_settings(c, rs, set, err);
	return 0;
}

/* ---- live: processes ---- */

/* A small file under /proc, NUL-terminated; -1 when it cannot be read. */
static ssize_t st_read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static bool st_pid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Is /proc/PID in the namespace "net:[@ino]"? */
static bool st_in_netns(const char *root, const char *pid, uint64_t ino)
{
	char path[PATH_MAX];
	char link[64];
	char want[40];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/ns/net", root, pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	snprintf(want, sizeof(want), "net:[%" PRIu64 "]", ino);
	return strcmp(link, want) == 0;
}

/* fsuid and fsgid: what xt_owner and meta skuid compare. */
static bool st_proc_ids(const char *root, const char *pid, uint32_t *uid,
			uint32_t *gid)
{
	char path[PATH_MAX];
	char buf[4096];
	unsigned int u[4], g[4];
	const char *p;

	snprintf(path, sizeof(path), "%s/%s/status", root, pid);
	if (st_read_small(path, buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "\nUid:");
	if (p == NULL ||
	    sscanf(p + 5, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]) != 4)
		return false;
	p = strstr(buf, "\nGid:");
	if (p == NULL ||
	    sscanf(p + 5, "%u %u %u %u", &g[0], &g[1], &g[2], &g[3]) != 4)
		return false;
	*uid = u[3];
	*gid = g[3];
	return true;
}

static void st_proc_comm(const char *root, const char *pid, char *comm,
			 size_t size)
{
	char path[PATH_MAX];
	char buf[64];
	size_t o = 0;

	snprintf(path, sizeof(path), "%s/%s/comm", root, pid);
	if (st_read_small(path, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	/* Untrusted: printable ASCII only, no newline. */
	for (size_t i = 0; buf[i] != '\0' && buf[i] != '\n' && o + 1 < size;
	     i++)
		comm[o++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	comm[o] = '\0';
}

static bool st_is_proxy_comm(const char *comm)
{
	return strcmp(comm, "envoy") == 0 || strcmp(comm, "pilot-agent") == 0;
}

int st_check_procs(struct st_check *c, const char *proc_root,
		   uint64_t netns_ino, const struct st_istio_settings *set,
		   char *err)
{
	const char *root = proc_root ? proc_root : "/proc";
	struct dirent *de;
	DIR *d = NULL;
	int found = 0;
	int ret;

	d = opendir(root);
	if (d == NULL)
		return st_err(err, errno, "cannot read %s: %s", root,
			      strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct st_check_finding *f;
		uint32_t uid, gid;
		char comm[17];
		bool by_uid, by_gid;

		if (!st_pid_name(de->d_name) ||
		    !st_in_netns(root, de->d_name, netns_ino))
			continue;
		/* Processes that exit meanwhile are simply skipped. */
		if (!st_proc_ids(root, de->d_name, &uid, &gid))
			continue;
		found++;
		st_proc_comm(root, de->d_name, comm, sizeof(comm));
		by_uid = st_in_ids(set->proxy_uids, set->nproxy_uids, uid);
		by_gid = st_in_ids(set->proxy_gids, set->nproxy_gids, gid);
		if ((!by_uid && !by_gid) || st_is_proxy_comm(comm))
			continue;
		if (by_uid)
			f = st_add(c, ST_CHECK_ERROR, "app-as-proxy-uid", err,
				   "process %s (%s) runs as uid %" PRIu32
				   ": its traffic bypasses the sidecar; run "
				   "the app as another uid (runAsUser)",
				   de->d_name, comm, uid);
		else
			f = st_add(c, ST_CHECK_ERROR, "app-as-proxy-gid", err,
				   "process %s (%s) runs as gid %" PRIu32
				   ": its traffic bypasses the sidecar; run "
				   "the app with another group (runAsGroup)",
				   de->d_name, comm, gid);
		if (f == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		f->pid = atoi(de->d_name);
		st_strlcpy(f->comm, comm, sizeof(f->comm));
		f->uid = uid;
		f->gid = gid;
	}
	ret = found;
out:
	closedir(d);
	return ret;
}

/* ---- live: listeners ---- */

struct st_listener {
	uint16_t port;
	uint8_t family;
	bool loopback;
	unsigned long inode;
};

static int st_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * The kernel prints each 32-bit word of the address as a host-order
 * integer: decode a word and store it back in host order to get the
 * network-order bytes.
 */
static bool st_parse_addr(const char *hex, size_t len, uint8_t *out)
{
	for (size_t w = 0; w < len / 8; w++) {
		uint32_t v = 0;

		for (size_t i = 0; i < 8; i++) {
			int d = st_hexval(hex[w * 8 + i]);

			if (d < 0)
				return false;
			v = (v << 4) | (uint32_t)d;
		}
		memcpy(out + 4 * w, &v, 4);
	}
	return true;
}

/* The LISTEN sockets of one table; malformed lines are skipped. */
static unsigned int st_parse_tcp(const char *text, uint8_t family,
				 struct st_listener *out, unsigned int n,
				 unsigned int max)
{
	size_t alen = family == 4 ? 8 : 32;
	const char *p = text;

	while (p != NULL && *p != '\0' && n < max) {
		const char *nl = strchr(p, '\n');
		char local[48], state[8];
		unsigned int port;
		unsigned long inode;
		uint8_t addr[16];
		char line[512];
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = '\0';
		p = nl ? nl + 1 : NULL;
		if (sscanf(line,
			   " %*[0-9]: %47[0-9A-Fa-f]:%x %*s %7s %*s %*s %*s "
			   "%*s %*s %lu",
			   local, &port, state, &inode) != 4)
			continue;
		if (strcmp(state, "0A") != 0 || strlen(local) != alen ||
		    port > 65535 || !st_parse_addr(local, alen, addr))
			continue;
		out[n++] = (struct st_listener){
			.port = (uint16_t)port,
			.family = family,
			.loopback = st_flow_addr_is_loopback(family, addr),
			.inode = inode,
		};
	}
	return n;
}

/* The process of the namespace holding socket @inode: pid, or 0. */
static int st_socket_owner(const char *root, uint64_t netns_ino,
			   unsigned long inode, char *comm, size_t size)
{
	char want[48], path[PATH_MAX], link[64];
	struct dirent *de, *fe;
	DIR *d, *fd;
	int pid = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(root);
	if (d == NULL)
		return 0;
	while (pid == 0 && (de = readdir(d)) != NULL) {
		if (!st_pid_name(de->d_name) ||
		    !st_in_netns(root, de->d_name, netns_ino))
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", root, de->d_name);
		fd = opendir(path);
		if (fd == NULL)
			continue;
		while ((fe = readdir(fd)) != NULL) {
			char fpath[PATH_MAX + 260];
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(fpath, sizeof(fpath), "%s/%s", path,
				 fe->d_name);
			n = readlink(fpath, link, sizeof(link) - 1);
			if (n < 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				pid = atoi(de->d_name);
				st_proc_comm(root, de->d_name, comm, size);
				break;
			}
		}
		closedir(fd);
	}
	closedir(d);
	return pid;
}

int st_check_listeners(struct st_check *c, const char *tcp4, const char *tcp6,
		       const char *proc_root, uint64_t netns_ino,
		       const struct st_istio_settings *set, char *err)
{
	struct st_listener *ls = NULL;
	const char *root = proc_root ? proc_root : "/proc";
	unsigned int n = 0;
	int ret = 0;

	if (set->kind != ST_ISTIO_SIDECAR || !set->inbound_captured)
		return 0;
	ls = calloc(ST_CHECK_MAX_LISTEN, sizeof(*ls));
	if (ls == NULL)
		return st_err(err, ENOMEM, "check: out of memory");
	if (tcp4 != NULL)
		n = st_parse_tcp(tcp4, 4, ls, n, ST_CHECK_MAX_LISTEN);
	if (tcp6 != NULL)
		n = st_parse_tcp(tcp6, 6, ls, n, ST_CHECK_MAX_LISTEN);
	for (unsigned int i = 0; i < n; i++) {
		struct st_check_finding *f;
		const char *why;
		char comm[17] = "";
		bool dup = false;
		int pid = 0;

		/* Loopback listeners are not reachable from outside. */
		if (ls[i].loopback || st_istio_own_port(ls[i].port))
			continue;
		if (st_in_ports(set->inbound_excluded_ports,
				set->ninbound_excluded, ls[i].port))
			why = "is excluded from inbound capture "
			      "(excludeInboundPorts)";
		else if (!set->inbound_all_ports &&
			 !st_in_ports(set->inbound_ports, set->ninbound_ports,
				      ls[i].port))
			why = "is not among the captured inbound ports "
			      "(includeInboundPorts)";
		else
			continue;
		/* One finding per port: v4 and v6 listeners alike. */
		for (unsigned int k = 0; k < i; k++)
			if (ls[k].port == ls[i].port && !ls[k].loopback)
				dup = true;
		if (dup)
			continue;
		if (root[0] != '\0')
			pid = st_socket_owner(root, netns_ino, ls[i].inode,
					      comm, sizeof(comm));
		if (pid > 0)
			f = st_add(c, ST_CHECK_WARNING, "excluded-port-in-use",
				   err,
				   "process %d (%s) listens on port %u, which "
				   "%s: connections to it bypass the sidecar "
				   "(no mTLS, no policy)",
				   pid, comm, ls[i].port, why);
		else
			f = st_add(c, ST_CHECK_WARNING, "excluded-port-in-use",
				   err,
				   "a socket listens on port %u, which %s: "
				   "connections to it bypass the sidecar (no "
				   "mTLS, no policy)",
				   ls[i].port, why);
		if (f == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		f->pid = pid;
		st_strlcpy(f->comm, comm, sizeof(f->comm));
		f->ports[0] = ls[i].port;
		f->nports = 1;
	}
out:
	free(ls);
	return ret;
}

/* ---- live: backends ---- */

int st_check_backends(struct st_check *c, const struct st_check_backends *b,
		      char *err)
{
	const char *istio = NULL, *other = NULL;
	unsigned int nother = 0;

	if (b->nftables_istio_tables > 0 &&
	    (b->legacy_rules > 0 || b->nft_rules > 0)) {
		if (st_add(c, ST_CHECK_ERROR, "backend-mismatch", err,
			   "native nftables tables (%s) hold Istio's rules, "
			   "and iptables also holds rules (%u in "
			   "iptables-legacy, %u in iptables-nft): both apply "
			   "to every packet; remove the iptables rules or "
			   "find out who writes them",
			   b->nftables_names, b->legacy_rules,
			   b->nft_rules) == NULL)
			return -ENOMEM;
		return 0;
	}
	if (b->legacy_istio && b->nft_rules > 0) {
		istio = "iptables-legacy";
		other = "iptables-nft";
		nother = b->nft_rules;
	} else if (b->nft_istio && b->legacy_rules > 0) {
		istio = "iptables-nft";
		other = "iptables-legacy";
		nother = b->legacy_rules;
	}
	if (istio == NULL)
		return 0;
	if (st_add(c, ST_CHECK_ERROR, "backend-mismatch", err,
		   "%s holds Istio's rules and %s holds %u rules too: both "
		   "apply to every packet, and Istio 1.22+ picks its backend "
		   "by which one has rules; list them with %s-save and "
		   "remove the stray ones",
		   istio, other, nother, other) == NULL)
		return -ENOMEM;
	return 0;
}

/* "-A" lines and ISTIO_ chain declarations of save output. */
static void st_count_save(const char *s, unsigned int *rules, bool *istio)
{
	const char *p = s;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "-A ", 3) == 0)
			(*rules)++;
		else if (strncmp(p, ":ISTIO_", 7) == 0)
			*istio = true;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

/* Run @argv in the namespace: 1 ran (exit 0), 0 not installed/failed. */
static int st_list(int netns_fd, int timeout_ms, char *const argv[],
		   struct st_spawn_result *res, char *err)
{
	int ret = st_spawn(argv, netns_fd, NULL, 0, timeout_ms, res, err);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (res->status != 0) {
		st_spawn_result_free(res);
		return 0;
	}
	return 1;
}

static int st_probe_backends(int netns_fd, int timeout_ms,
			     struct st_check_backends *b, char *err)
{
	char *const progs[4][2] = {
		{"iptables-legacy-save", NULL},
		{"ip6tables-legacy-save", NULL},
		{"iptables-nft-save", NULL},
		{"ip6tables-nft-save", NULL},
	};
	char *const tables[] = {"nft", "-j", "list", "tables", NULL};
	struct st_spawn_result res = {0};
	json_t *root = NULL, *it;
	size_t i;
	int ret;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < 4; i++) {
		bool legacy = i < 2;

		ret = st_list(netns_fd, timeout_ms, progs[i], &res, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		if (legacy) {
			b->legacy_ran = true;
			st_count_save(res.out, &b->legacy_rules,
				      &b->legacy_istio);
		} else {
			b->nft_ran = true;
			st_count_save(res.out, &b->nft_rules, &b->nft_istio);
		}
		st_spawn_result_free(&res);
	}
	ret = st_list(netns_fd, timeout_ms, tables, &res, err);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return 0;
	b->nftables_ran = true;
	root = json_loadb(res.out, res.out_len, 0, NULL);
	json_array_foreach(json_object_get(root, "nftables"), i, it)
	{
		json_t *t = json_object_get(it, "table");
		const char *name =
			json_string_value(json_object_get(t, "name"));
		const char *fam =
			json_string_value(json_object_get(t, "family"));
		size_t o = strlen(b->nftables_names);

		if (name == NULL || fam == NULL ||
		    strncmp(name, "istio-", 6) != 0)
			continue;
		b->nftables_istio_tables++;
		if (o + 3 < sizeof(b->nftables_names))
			snprintf(b->nftables_names + o,
				 sizeof(b->nftables_names) - o, "%s%.16s %.40s",
				 o ? ", " : "", fam, name);
	}
	json_decref(root);
	st_spawn_result_free(&res);
	return 0;
}

/* Read a /proc/net table through this thread's namespace. */
static char *st_slurp(const char *path)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *fp;

	fp = fopen(path, "re");
	if (fp == NULL)
		return NULL;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *nb;

			if (cap >= ST_CHECK_TCP_MAX)
				break;
			cap = cap ? 2 * cap : 16384;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (buf != NULL)
		buf[len] = '\0';
out:
	fclose(fp);
	return buf;
}

/* Enter, read both tables, always leave. */
static int st_read_tcp(int netns_fd, char **tcp4, char **tcp6, char *err)
{
	int saved = -1;
	int ret;

	*tcp4 = NULL;
	*tcp6 = NULL;
	ret = st_netns_enter(netns_fd, &saved, err);
	if (ret < 0)
		return ret;
	/* thread-self: /proc/self/net is the thread-group leader's view. */
	*tcp4 = st_slurp("/proc/thread-self/net/tcp");
	*tcp6 = st_slurp("/proc/thread-self/net/tcp6");
	return st_netns_leave(saved, err);
}

int st_check_live(struct st_check *c, int netns_fd,
		  const struct st_istio_settings *set,
		  const struct st_check_live_opts *o, char *err)
{
	struct st_check_backends b;
	char *tcp4 = NULL, *tcp6 = NULL;
	const char *root = o && o->proc_root ? o->proc_root : "/proc";
	struct stat st;
	int ret;

	if (c == NULL || set == NULL)
		return st_err(err, EINVAL, "st_check_live: missing argument");
	if (fstat(netns_fd, &st) < 0)
		return st_err(err, errno, "target namespace: %s",
			      strerror(errno));
	if (o == NULL || !o->no_backends) {
		ret = st_probe_backends(netns_fd, o ? o->timeout_ms : 0, &b,
					err);
		if (ret < 0)
			goto out;
		ret = st_check_backends(c, &b, err);
		if (ret < 0)
			goto out;
	}
	if (set->kind != ST_ISTIO_SIDECAR) {
		ret = 0;
		goto out;
	}
	ret = st_check_procs(c, root, (uint64_t)st.st_ino, set, err);
	if (ret < 0)
		goto out;
	ret = st_read_tcp(netns_fd, &tcp4, &tcp6, err);
	if (ret < 0)
		goto out;
	ret = st_check_listeners(c, tcp4, tcp6, root, (uint64_t)st.st_ino, set,
				 err);
out:
	free(tcp4);
	free(tcp6);
	return ret < 0 ? ret : 0;
}

/* ---- capture ---- */

static const char *st_check_proto_kind(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return "icmp";
	}
	return "ip";
}

int st_check_add_flow(struct st_check *c, const struct st_flow *f)
{
	struct st_check_flows *acc = NULL;
	const struct st_flow_leg *l;
	char src[ST_FLOW_ADDR_SIZE], dst[ST_FLOW_ADDR_SIZE], who[40] = "";

	if (c == NULL || f == NULL || f->type != 0)
		return 0;
	for (size_t i = 0; i < ST_ARRAY_SIZE(c->flows); i++)
		if (c->flows[i].klass == f->klass)
			acc = &c->flows[i];
	if (acc == NULL)
		return 0;
	acc->count++;
	if (acc->nexamples == ST_CHECK_MAX_EXAMPLES || f->nlegs == 0)
		return 0;
	l = &f->legs[0];
	st_flow_addr_format(l->family, l->src, l->sport, src, sizeof(src));
	st_flow_addr_format(l->family, l->dst, l->dport, dst, sizeof(dst));
	if (l->has_uid)
		snprintf(who, sizeof(who), " uid %" PRIu32, l->uid);
	snprintf(acc->examples[acc->nexamples++], ST_CHECK_EXAMPLE_SIZE,
		 "flow %" PRIu64 ": %s %s > %s%s: %s", f->id,
		 st_check_proto_kind(l->proto), src, dst, who, f->reason);
	return 0;
}

static int st_check_sink_flow(void *data, const struct st_flow *flow,
			      const struct st_sink_notes *notes)
{
	(void)notes;
	return st_check_add_flow(data, flow);
}

static const struct st_sink_ops st_check_sink = {
	.flow = st_check_sink_flow,
};

const struct st_sink_ops *st_check_sink_ops(void)
{
	return &st_check_sink;
}

static int st_flow_findings(struct st_check *c, char *err)
{
	static const char *const what[] = {
		"bypassed the sidecar (returned without capture, not the "
		"proxy's): check the app's uid/gid and the rules that "
		"returned them",
		"were made by the proxy uid/gid without a captured partner: "
		"Envoy's own, or a process running as the proxy uid",
		"went to excluded ports: they bypass the sidecar (no mTLS, no "
		"policy); check that the exclusion is intended",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(c->flows); i++) {
		const struct st_check_flows *acc = &c->flows[i];
		struct st_check_finding *f;

		if (acc->count == 0)
			continue;
		f = st_add(c, ST_CHECK_WARNING, acc->code, err,
			   "%" PRIu64 " flow%s %s", acc->count,
			   acc->count == 1 ? "" : "s", what[i]);
		if (f == NULL)
			return -ENOMEM;
		f->count = acc->count;
		f->nexamples = acc->nexamples;
		memcpy(f->examples, acc->examples, sizeof(f->examples));
	}
	return 0;
}

int st_check_finish(struct st_check *c, char *err)
{
	struct st_check_finding *sorted;
	size_t k = 0;
	int ret;

	if (c == NULL || c->finished)
		return 0;
	c->finished = true;
	ret = st_flow_findings(c, err);
	if (ret < 0)
		return ret;
	if (c->n < 2)
		return 0;
	sorted = malloc(c->n * sizeof(*sorted));
	if (sorted == NULL)
		return st_err(err, ENOMEM, "check: out of memory");
	/* Stable by severity: three passes keep the order of discovery. */
	for (int s = ST_CHECK_ERROR; s >= ST_CHECK_INFO; s--)
		for (size_t i = 0; i < c->n; i++)
			if ((int)c->f[i].severity == s)
				sorted[k++] = c->f[i];
	free(c->f);
	c->f = sorted;
	c->cap = c->n;
	return 0;
}
