// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rules.c - the ruleset container: chains, rules, interned names, and the
 * format detection in front of the two parsers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules-int.h"

struct st_chain_slot {
	struct st_chain chain;
	struct st_rule **rules;
	size_t nrules;
	size_t cap;
};

struct st_ruleset {
	enum st_backend backend;
	char **names;
	size_t nnames;
	size_t names_cap;
	struct st_chain_slot **chains;
	size_t nchains;
	size_t chains_cap;
	/* Flat, chain-ordered view, rebuilt after each change. */
	struct st_rule **flat;
	struct st_chain *flat_chains;
	size_t nflat;
	bool dirty;
	char *warnings;
	size_t warnings_len;
};

static void st_free_match_list(struct st_match *m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(m[i].text);
	free(m);
}

static void st_rule_free(struct st_rule *r)
{
	if (r == NULL)
		return;
	free(r->text);
	free(r->why);
	st_free_match_list(r->matches, r->nmatches);
	free(r->target.chain);
	free(r->target.text);
	free(r);
}

struct st_ruleset *st_ruleset_new(void)
{
	return calloc(1, sizeof(struct st_ruleset));
}

void st_ruleset_free(struct st_ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nchains; i++) {
		struct st_chain_slot *s = rs->chains[i];

		for (size_t j = 0; j < s->nrules; j++)
			st_rule_free(s->rules[j]);
		free(s->rules);
		free(s->chain.name);
		free(s->chain.hook);
		free(s->chain.policy);
		free(s);
	}
	free(rs->chains);
	for (size_t i = 0; i < rs->nnames; i++)
		free(rs->names[i]);
	free(rs->names);
	free(rs->flat);
	free(rs->flat_chains);
	free(rs->warnings);
	free(rs);
}

void st_ruleset_set_backend(struct st_ruleset *rs, enum st_backend b)
{
	rs->backend = b;
}

enum st_backend st_ruleset_backend(const struct st_ruleset *rs)
{
	return rs->backend;
}

const char *st_ruleset_intern(struct st_ruleset *rs, const char *s)
{
	char *copy = NULL;

	for (size_t i = 0; i < rs->nnames; i++)
		if (strcmp(rs->names[i], s) == 0)
			return rs->names[i];
	if (rs->nnames == rs->names_cap) {
		size_t cap = rs->names_cap ? rs->names_cap * 2 : 16;
		char **n = realloc(rs->names, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		rs->names = n;
		rs->names_cap = cap;
	}
	copy = strdup(s);
	if (copy == NULL)
		return NULL;
	rs->names[rs->nnames++] = copy;
	return copy;
}

static struct st_chain_slot *st_find_slot(const struct st_ruleset *rs,
					  const char *table, const char *name,
					  enum st_family family)
{
	for (size_t i = 0; i < rs->nchains; i++) {
		struct st_chain_slot *s = rs->chains[i];

		if (strcmp(s->chain.table, table) != 0 ||
		    strcmp(s->chain.name, name) != 0)
			continue;
		if (family != ST_FAMILY_ANY &&
		    s->chain.family != ST_FAMILY_ANY &&
		    s->chain.family != family)
			continue;
		return s;
	}
	return NULL;
}

static bool st_is_builtin(const char *name)
{
	static const char *const builtin[] = {
		"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(builtin); i++)
		if (strcmp(name, builtin[i]) == 0)
			return true;
	return false;
}

struct st_chain *st_ruleset_add_chain(struct st_ruleset *rs, const char *table,
				      const char *name, enum st_family family,
				      const char *policy)
{
	struct st_chain_slot *s = NULL;
	const char *t = NULL;

	s = st_find_slot(rs, table, name, family);
	if (s != NULL && s->chain.family == family)
		return &s->chain;
	t = st_ruleset_intern(rs, table);
	if (t == NULL)
		return NULL;
	if (rs->nchains == rs->chains_cap) {
		size_t cap = rs->chains_cap ? rs->chains_cap * 2 : 16;
		struct st_chain_slot **n =
			realloc(rs->chains, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		rs->chains = n;
		rs->chains_cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->chain.table = t;
	s->chain.family = family;
	s->chain.name = strdup(name);
	if (policy != NULL && strcmp(policy, "-") != 0)
		s->chain.policy = strdup(policy);
	if (s->chain.name == NULL ||
	    (policy != NULL && strcmp(policy, "-") != 0 &&
	     s->chain.policy == NULL)) {
		free(s->chain.name);
		free(s->chain.policy);
		free(s);
		return NULL;
	}
	/* iptables built-in chains are exactly those with a policy. */
	s->chain.builtin = s->chain.policy != NULL || st_is_builtin(name);
	rs->chains[rs->nchains++] = s;
	rs->dirty = true;
	return &s->chain;
}

struct st_rule *st_ruleset_add_rule(struct st_ruleset *rs, const char *table,
				    const char *chain, enum st_family family)
{
	struct st_chain_slot *s = NULL;
	struct st_rule *r = NULL;

	s = st_find_slot(rs, table, chain, family);
	if (s == NULL)
		return NULL;
	if (s->nrules == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct st_rule **n = realloc(s->rules, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		s->rules = n;
		s->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->table = s->chain.table;
	r->chain = s->chain.name;
	r->family = family;
	r->number = (unsigned int)s->nrules + 1;
	r->reachable = true;
	s->rules[s->nrules++] = r;
	rs->dirty = true;
	return r;
}

struct st_match *st_rule_add_match(struct st_rule *r, enum st_match_kind kind)
{
	struct st_match *n = NULL;

	n = realloc(r->matches, (r->nmatches + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	r->matches = n;
	n = &r->matches[r->nmatches++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->hi = UINT32_MAX;
	return n;
}

int st_ruleset_add_warning(struct st_ruleset *rs, const char *text)
{
	size_t n = strlen(text) + 1;
	char *w = realloc(rs->warnings, rs->warnings_len + n + 1);

	if (w == NULL)
		return -ENOMEM;
	memcpy(w + rs->warnings_len, text, n);
	rs->warnings_len += n;
	w[rs->warnings_len] = '\0';
	rs->warnings = w;
	return 0;
}

const char *st_ruleset_warnings(const struct st_ruleset *rs)
{
	return rs->warnings != NULL ? rs->warnings : "";
}

/* The flat view is derived, so const accessors may rebuild it. */
static void st_ruleset_flatten(const struct st_ruleset *crs)
{
	struct st_ruleset *rs = (struct st_ruleset *)crs;
	struct st_rule **flat = NULL;
	struct st_chain *chains = NULL;
	size_t n = 0;

	if (!rs->dirty)
		return;
	for (size_t i = 0; i < rs->nchains; i++)
		n += rs->chains[i]->nrules;
	flat = malloc((n ? n : 1) * sizeof(*flat));
	chains = malloc((rs->nchains ? rs->nchains : 1) * sizeof(*chains));
	if (flat == NULL || chains == NULL) {
		/* Keep the old view; accessors then see fewer entries. */
		free(flat);
		free(chains);
		return;
	}
	n = 0;
	for (size_t i = 0; i < rs->nchains; i++) {
		struct st_chain_slot *s = rs->chains[i];

		s->chain.first = (unsigned int)n;
		s->chain.nrules = (unsigned int)s->nrules;
		chains[i] = s->chain;
		for (size_t j = 0; j < s->nrules; j++)
			flat[n++] = s->rules[j];
	}
	free(rs->flat);
	free(rs->flat_chains);
	rs->flat = flat;
	rs->flat_chains = chains;
	rs->nflat = n;
	rs->dirty = false;
}

size_t st_ruleset_nrules(const struct st_ruleset *rs)
{
	st_ruleset_flatten(rs);
	return rs->nflat;
}

const struct st_rule *st_ruleset_rule(const struct st_ruleset *rs, size_t i)
{
	st_ruleset_flatten(rs);
	return i < rs->nflat ? rs->flat[i] : NULL;
}

struct st_rule *st_ruleset_rule_mut(struct st_ruleset *rs, size_t i)
{
	st_ruleset_flatten(rs);
	return i < rs->nflat ? rs->flat[i] : NULL;
}

size_t st_ruleset_nchains(const struct st_ruleset *rs)
{
	st_ruleset_flatten(rs);
	return rs->dirty ? 0 : rs->nchains;
}

const struct st_chain *st_ruleset_chain(const struct st_ruleset *rs, size_t i)
{
	st_ruleset_flatten(rs);
	return !rs->dirty && i < rs->nchains ? &rs->flat_chains[i] : NULL;
}

const struct st_chain *st_ruleset_find_chain(const struct st_ruleset *rs,
					     const char *table,
					     const char *name,
					     enum st_family family)
{
	st_ruleset_flatten(rs);
	if (rs->dirty)
		return NULL;
	for (size_t i = 0; i < rs->nchains; i++) {
		const struct st_chain *c = &rs->flat_chains[i];

		if (strcmp(c->table, table) != 0 || strcmp(c->name, name) != 0)
			continue;
		if (family != ST_FAMILY_ANY && c->family != ST_FAMILY_ANY &&
		    c->family != family)
			continue;
		return c;
	}
	return NULL;
}

const struct st_rule *st_ruleset_find_rule(const struct st_ruleset *rs,
					   const char *table, const char *chain,
					   enum st_family family,
					   unsigned int number)
{
	const struct st_chain *c = NULL;

	c = st_ruleset_find_chain(rs, table, chain, family);
	if (c == NULL || number == 0 || number > c->nrules)
		return NULL;
	return rs->flat[c->first + number - 1];
}

const char *st_backend_name(enum st_backend b)
{
	switch (b) {
	case ST_BACKEND_LEGACY:
		return "iptables-legacy";
	case ST_BACKEND_NFT:
		return "iptables-nft";
	case ST_BACKEND_NFTABLES:
		return "nftables";
	case ST_BACKEND_UNKNOWN:
		break;
	}
	return "unknown";
}

static const char *const st_role_names[ST_ROLE__MAX] = {
	[ST_ROLE_NONE] = "none",
	[ST_ROLE_INBOUND_ENTRY] = "inbound-entry",
	[ST_ROLE_OUTBOUND_ENTRY] = "outbound-entry",
	[ST_ROLE_DNS_ENTRY] = "dns-entry",
	[ST_ROLE_INBOUND_PORT_EXCLUSION] = "inbound-port-exclusion",
	[ST_ROLE_INBOUND_TUNNEL_EXCLUSION] = "inbound-tunnel-exclusion",
	[ST_ROLE_INBOUND_PORT_INCLUSION] = "inbound-port-inclusion",
	[ST_ROLE_INBOUND_CAPTURE] = "inbound-capture",
	[ST_ROLE_INBOUND_REDIRECT] = "inbound-redirect",
	[ST_ROLE_INBOUND_PASSTHROUGH_RETURN] = "inbound-passthrough-return",
	[ST_ROLE_PROXY_TO_OWN_POD_REDIRECT] = "proxy-to-own-pod-redirect",
	[ST_ROLE_LOOPBACK_REDIRECT] = "loopback-redirect",
	[ST_ROLE_LOOPBACK_NON_PROXY_RETURN] = "loopback-non-proxy-return",
	[ST_ROLE_PROXY_UID_RETURN] = "proxy-uid-return",
	[ST_ROLE_PROXY_GID_RETURN] = "proxy-gid-return",
	[ST_ROLE_OWNER_GROUP_FILTER] = "owner-group-filter",
	[ST_ROLE_LOCALHOST_RETURN] = "localhost-return",
	[ST_ROLE_OUTBOUND_CAPTURE] = "outbound-capture",
	[ST_ROLE_OUTBOUND_REDIRECT] = "outbound-redirect",
	[ST_ROLE_EXCLUDED_CIDR] = "excluded-cidr",
	[ST_ROLE_INCLUDED_CIDR] = "included-cidr",
	[ST_ROLE_EXCLUDED_OUTBOUND_PORT] = "excluded-outbound-port",
	[ST_ROLE_INCLUDED_OUTBOUND_PORT] = "included-outbound-port",
	[ST_ROLE_OUTBOUND_DEFAULT_RETURN] = "outbound-default-return",
	[ST_ROLE_DNS_CAPTURE] = "dns-capture",
	[ST_ROLE_DNS_PROXY_RETURN] = "dns-proxy-return",
	[ST_ROLE_DNS_CONNTRACK_ZONE] = "dns-conntrack-zone",
	[ST_ROLE_EXCLUDED_INTERFACE] = "excluded-interface",
	[ST_ROLE_KUBEVIRT_INTERFACE] = "kubevirt-interface",
	[ST_ROLE_INVALID_DROP] = "invalid-drop",
	[ST_ROLE_TPROXY_MARK_RETURN] = "tproxy-mark-return",
	[ST_ROLE_TPROXY_LOOPBACK_RETURN] = "tproxy-loopback-return",
	[ST_ROLE_TPROXY_DIVERT] = "tproxy-divert",
	[ST_ROLE_TPROXY_DIVERT_MARK] = "tproxy-divert-mark",
	[ST_ROLE_TPROXY_DIVERT_ACCEPT] = "tproxy-divert-accept",
	[ST_ROLE_TPROXY_CAPTURE] = "tproxy-capture",
	[ST_ROLE_TPROXY_REDIRECT] = "tproxy-redirect",
	[ST_ROLE_TPROXY_CONNMARK] = "tproxy-connmark",
	[ST_ROLE_TPROXY_OUTBOUND_MARK] = "tproxy-outbound-mark",
	[ST_ROLE_TRACE_LOGGING] = "trace-logging",
	[ST_ROLE_AMBIENT_INBOUND_ENTRY] = "ambient-inbound-entry",
	[ST_ROLE_AMBIENT_OUTBOUND_ENTRY] = "ambient-outbound-entry",
	[ST_ROLE_AMBIENT_DNS_ENTRY] = "ambient-dns-entry",
	[ST_ROLE_AMBIENT_PROBE_ENTRY] = "ambient-probe-entry",
	[ST_ROLE_AMBIENT_PROBE_SNAT] = "ambient-probe-snat",
	[ST_ROLE_AMBIENT_PROBE_ACCEPT] = "ambient-probe-accept",
	[ST_ROLE_AMBIENT_PROBE_REPLY_ACCEPT] = "ambient-probe-reply-accept",
	[ST_ROLE_AMBIENT_CONNMARK_SET] = "ambient-connmark-set",
	[ST_ROLE_AMBIENT_CONNMARK_RESTORE] = "ambient-connmark-restore",
	[ST_ROLE_AMBIENT_MARKED_ACCEPT] = "ambient-marked-accept",
	[ST_ROLE_AMBIENT_LOOPBACK_ACCEPT] = "ambient-loopback-accept",
	[ST_ROLE_AMBIENT_DNS_CAPTURE] = "ambient-dns-capture",
	[ST_ROLE_AMBIENT_DNS_CONNTRACK_ZONE] = "ambient-dns-conntrack-zone",
	[ST_ROLE_AMBIENT_OUTBOUND_REDIRECT] = "ambient-outbound-redirect",
	[ST_ROLE_AMBIENT_INBOUND_REDIRECT] = "ambient-inbound-redirect",
	[ST_ROLE_AMBIENT_TUNNEL_TPROXY] = "ambient-tunnel-tproxy",
	[ST_ROLE_AMBIENT_INBOUND_TPROXY] = "ambient-inbound-tproxy",
	[ST_ROLE_AMBIENT_ESTABLISHED_ACCEPT] = "ambient-established-accept",
	[ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_REDIRECT] =
		"ambient-virtual-interface-redirect",
	[ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_RETURN] =
		"ambient-virtual-interface-return",
	[ST_ROLE_AMBIENT_NODE] = "ambient-node-rule",
	[ST_ROLE_FOREIGN_JUMP] = "foreign-jump",
	[ST_ROLE_OTHER] = "other",
};

bool st_role_is_ambient(enum st_role role)
{
	return role >= ST_ROLE_AMBIENT_INBOUND_ENTRY &&
	       role <= ST_ROLE_AMBIENT_NODE;
}

const char *st_family_name(enum st_family f)
{
	switch (f) {
	case ST_FAMILY_IPV4:
		return "ipv4";
	case ST_FAMILY_IPV6:
		return "ipv6";
	case ST_FAMILY_ANY:
		break;
	}
	return "any";
}

const char *st_role_name(enum st_role role)
{
	if ((unsigned int)role >= ST_ROLE__MAX || st_role_names[role] == NULL)
		return "other";
	return st_role_names[role];
}

const char *st_target_name(enum st_target_kind kind)
{
	static const char *const names[] = {
		[ST_T_NONE] = "",
		[ST_T_JUMP] = "JUMP",
		[ST_T_GOTO] = "GOTO",
		[ST_T_RETURN] = "RETURN",
		[ST_T_ACCEPT] = "ACCEPT",
		[ST_T_DROP] = "DROP",
		[ST_T_REJECT] = "REJECT",
		[ST_T_REDIRECT] = "REDIRECT",
		[ST_T_TPROXY] = "TPROXY",
		[ST_T_MARK] = "MARK",
		[ST_T_CONNMARK] = "CONNMARK",
		[ST_T_CT] = "CT",
		[ST_T_DNAT] = "DNAT",
		[ST_T_SNAT] = "SNAT",
		[ST_T_MASQUERADE] = "MASQUERADE",
		[ST_T_NFLOG] = "NFLOG",
		[ST_T_LOG] = "LOG",
		[ST_T_TRACE] = "TRACE",
		[ST_T_UNKNOWN] = "UNKNOWN",
	};

	if ((unsigned int)kind >= ST_ARRAY_SIZE(names))
		return "UNKNOWN";
	return names[kind];
}

bool st_target_is_verdict(enum st_target_kind kind)
{
	switch (kind) {
	case ST_T_RETURN:
	case ST_T_ACCEPT:
	case ST_T_DROP:
	case ST_T_REJECT:
	case ST_T_REDIRECT:
	case ST_T_TPROXY:
	case ST_T_DNAT:
	case ST_T_SNAT:
	case ST_T_MASQUERADE:
		return true;
	default:
		return false;
	}
}

int st_prefix_parse(struct st_prefix *p, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash = NULL;
	char *end = NULL;
	long plen = -1;

	if (st_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		/* Digits only: strtol would take "-1" (then "no length"). */
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0')
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = ST_FAMILY_IPV4;
		if (plen < 0)
			plen = 32;
		if (plen > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = ST_FAMILY_IPV6;
		if (plen < 0)
			plen = 128;
		if (plen > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	p->plen = (uint8_t)plen;
	return 0;
}

void st_prefix_format(const struct st_prefix *p, bool bare_host, char *buf,
		      size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int af = p->family == ST_FAMILY_IPV6 ? AF_INET6 : AF_INET;
	unsigned int host = p->family == ST_FAMILY_IPV6 ? 128 : 32;

	inet_ntop(af, p->addr, a, sizeof(a));
	if (bare_host && p->plen == host)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s/%u", a, p->plen);
}

bool st_prefix_contains(const struct st_prefix *p, uint8_t family,
			const uint8_t *addr)
{
	unsigned int bits = p->plen;
	unsigned int i = 0;

	if (p->family != family)
		return false;
	for (; bits >= 8; bits -= 8, i++)
		if (p->addr[i] != addr[i])
			return false;
	if (bits > 0) {
		uint8_t m = (uint8_t)(0xff00u >> bits);

		if ((p->addr[i] & m) != (addr[i] & m))
			return false;
	}
	return true;
}
