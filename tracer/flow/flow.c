/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow.c - helpers on the flow value types: address and name formatting,
 * which table and rule decided a leg, which sidecar port a rule captures
 * to, and the address classes Istio gives a meaning.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "flow.h"

static bool fl_hop_in(const struct st_flow_hop *h, const char *table)
{
	return table != NULL && strcmp(h->table, table) == 0;
}

static bool fl_hop_is_istio_verdict(const struct st_flow_hop *h)
{
	return h->kind == ST_HIT_RULE && h->r != NULL &&
	       st_target_is_verdict(h->r->target.kind) &&
	       (h->r->role != ST_ROLE_NONE || h->istio);
}

void st_flow_leg_decide(const char *nat_table, struct st_flow_leg *l)
{
	const char *dt = NULL;

	if (l->redirect_hop >= 0) {
		dt = l->hops[l->redirect_hop].table;
	} else {
		/*
		 * nat tells the story when an Istio rule decided there; in
		 * TPROXY mode arriving traffic is decided in mangle while
		 * nat only shows its empty built-in chains.
		 */
		const char *verdict = NULL;
		bool nat_verdict = false;
		bool nat_crossed = false;

		for (unsigned int i = 0; i < l->nhops; i++) {
			const struct st_flow_hop *h = &l->hops[i];
			bool in_nat = fl_hop_in(h, nat_table);

			nat_crossed = nat_crossed || in_nat;
			if (!fl_hop_is_istio_verdict(h))
				continue;
			verdict = h->table;
			nat_verdict = nat_verdict || in_nat;
		}
		if (nat_verdict || (verdict == NULL && nat_crossed))
			dt = nat_table;
		else if (verdict != NULL)
			dt = verdict;
		else if (l->nhops > 0)
			dt = l->hops[0].table;
	}
	l->decisive_table = dt;
	l->nat_table = NULL;
	for (unsigned int i = 0; i < l->nhops && l->nat_table == NULL; i++)
		if (fl_hop_in(&l->hops[i], nat_table))
			l->nat_table = nat_table;
	l->decision_hop = l->redirect_hop;
	for (unsigned int i = l->nhops; i > 0 && l->decision_hop < 0; i--) {
		const struct st_flow_hop *h = &l->hops[i - 1];

		if (fl_hop_in(h, dt) && fl_hop_is_istio_verdict(h))
			l->decision_hop = (int)i - 1;
	}
	for (unsigned int i = l->nhops; i > 0 && l->decision_hop < 0; i--) {
		const struct st_flow_hop *h = &l->hops[i - 1];

		if (fl_hop_in(h, dt) && h->kind == ST_HIT_RETURN && h->istio)
			l->decision_hop = (int)i - 1;
	}
}

const char *st_flow_nat_table(const struct st_ruleset *rs)
{
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (c != NULL && strcmp(c->table, "nat") == 0)
			return c->table;
	}
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (r != NULL && r->target.kind == ST_T_REDIRECT)
			return r->table;
	}
	return NULL;
}

enum st_capture st_flow_capture_of(const struct st_istio_settings *set,
				   const struct st_rule *r, uint16_t port)
{
	switch (r->role) {
	case ST_ROLE_OUTBOUND_REDIRECT:
		return ST_CAPTURE_OUTBOUND;
	case ST_ROLE_INBOUND_REDIRECT:
	case ST_ROLE_TPROXY_REDIRECT:
		return ST_CAPTURE_INBOUND;
	case ST_ROLE_DNS_CAPTURE:
		return ST_CAPTURE_DNS;
	default:
		break;
	}
	/* No role (recogniser unsure): the settings' ports. */
	if (r->target.kind == ST_T_TPROXY)
		return ST_CAPTURE_INBOUND;
	if (set->outbound_port != 0 && port == set->outbound_port)
		return ST_CAPTURE_OUTBOUND;
	if (set->inbound_port != 0 && port == set->inbound_port)
		return ST_CAPTURE_INBOUND;
	if (set->dns_port != 0 && port == set->dns_port)
		return ST_CAPTURE_DNS;
	return ST_CAPTURE_OTHER;
}

/*
 * The hook ("prerouting", "output") a chain is reached from: its own when
 * it is a base chain, else that of a chain jumping to it (a few levels).
 */
static const char *fl_hook_of(const struct st_ruleset *rs, const char *table,
			      const char *chain, enum st_family family,
			      unsigned int depth)
{
	const struct st_chain *c =
		st_ruleset_find_chain(rs, table, chain, family);

	if (c != NULL && c->builtin && c->hook != NULL)
		return c->hook;
	if (c != NULL && c->builtin)
		return c->name; /* iptables: PREROUTING, OUTPUT */
	if (depth > 4)
		return NULL;
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (r == NULL || strcmp(r->table, table) != 0 ||
		    (r->target.kind != ST_T_JUMP &&
		     r->target.kind != ST_T_GOTO) ||
		    r->target.chain == NULL ||
		    strcmp(r->target.chain, chain) != 0)
			continue;
		return fl_hook_of(rs, r->table, r->chain, r->family, depth + 1);
	}
	return NULL;
}

static bool fl_rule_matches_port(const struct st_rule *r, bool neg,
				 uint16_t *port)
{
	for (unsigned int i = 0; i < r->nmatches; i++) {
		const struct st_match *m = &r->matches[i];

		if (m->kind != ST_M_DPORT || m->neg != neg || m->nports != 1 ||
		    m->ports[0].lo != m->ports[0].hi)
			continue;
		*port = m->ports[0].lo;
		return true;
	}
	return false;
}

void st_flow_ztunnel_of(const struct st_ruleset *rs,
			const struct st_istio_settings *set,
			struct st_flow_ztunnel *out)
{
	memset(out, 0, sizeof(*out));
	if (rs == NULL || set == NULL || set->kind != ST_ISTIO_AMBIENT)
		return;
	out->ambient = true;
	/* The recogniser's reading first; the rules fill in what it lacks. */
	out->mark = set->amb.mark;
	out->mask = set->amb.mark_mask;
	out->outbound_port = set->amb.outbound_port;
	out->inbound_port = set->amb.inbound_port;
	out->dns_port = set->amb.dns_capture ? set->amb.dns_port : 0;
	out->hbone_port = set->amb.tunnel_port;
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);
		const char *hook = NULL;
		uint16_t port = 0;
		uint16_t to = 0;

		if (r == NULL || r->target.kind != ST_T_REDIRECT ||
		    r->target.port_lo == 0)
			continue;
		to = r->target.port_lo;
		/* The mark the capture spares is the one ztunnel sets. */
		for (unsigned int k = 0; k < r->nmatches; k++) {
			const struct st_match *m = &r->matches[k];

			if (m->kind == ST_M_MARK && m->neg && out->mask == 0) {
				out->mark = m->lo;
				out->mask = m->hi;
			}
		}
		hook = fl_hook_of(rs, r->table, r->chain, r->family, 0);
		if (hook == NULL)
			continue;
		if (strcasecmp(hook, "prerouting") == 0) {
			out->inbound_port =
				out->inbound_port ? out->inbound_port : to;
			if (fl_rule_matches_port(r, true, &port) &&
			    out->hbone_port == 0)
				out->hbone_port = port;
		} else if (strcasecmp(hook, "output") == 0) {
			if (fl_rule_matches_port(r, false, &port) && port == 53)
				out->dns_port =
					out->dns_port ? out->dns_port : to;
			else if (out->outbound_port == 0)
				out->outbound_port = to;
		}
	}
}

enum st_capture st_flow_ztunnel_capture(const struct st_flow_ztunnel *z,
					uint16_t port)
{
	if (port == 0)
		return ST_CAPTURE_OTHER;
	if (port == z->outbound_port)
		return ST_CAPTURE_OUTBOUND;
	if (port == z->inbound_port)
		return ST_CAPTURE_INBOUND;
	if (port == z->dns_port)
		return ST_CAPTURE_DNS;
	return ST_CAPTURE_OTHER;
}

bool st_flow_ztunnel_marked(const struct st_flow_ztunnel *z, uint32_t mark)
{
	return z->ambient && z->mask != 0 &&
	       (mark & z->mask) == (z->mark & z->mask);
}

static bool fl_id_in(uint32_t id, const uint32_t *ids, unsigned int n)
{
	for (unsigned int i = 0; i < n && i < ST_MAX_IDS; i++)
		if (ids[i] == id)
			return true;
	return false;
}

bool st_flow_leg_is_proxy(const struct st_istio_settings *set,
			  const struct st_flow_leg *l)
{
	return (l->has_uid &&
		fl_id_in(l->uid, set->proxy_uids, set->nproxy_uids)) ||
	       (l->has_gid &&
		fl_id_in(l->gid, set->proxy_gids, set->nproxy_gids));
}

bool st_flow_addr_is_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t one[16] = {[15] = 1};

	if (family == 4)
		return a[0] == 127;
	return memcmp(a, one, 16) == 0;
}

bool st_flow_addr_is_passthrough(uint8_t family, const uint8_t *a)
{
	static const uint8_t six[16] = {[15] = 6};
	static const uint8_t v4[4] = {127, 0, 0, 6};

	if (family == 4)
		return memcmp(a, v4, 4) == 0;
	return memcmp(a, six, 16) == 0;
}

const char *st_flow_skip_name(enum st_flow_skip s)
{
	static const char *const names[ST_SKIP__MAX] = {
		[ST_SKIP_UNTAGGED] = "untagged",
		[ST_SKIP_NOT_IP] = "not-ip",
		[ST_SKIP_UNKNOWN_CHAIN] = "unknown-chain",
		[ST_SKIP_UNKNOWN_RULE] = "unknown-rule",
	};

	if ((unsigned int)s >= ST_SKIP__MAX)
		return "unknown";
	return names[s];
}

const char *st_flow_capture_name(enum st_capture c)
{
	switch (c) {
	case ST_CAPTURE_OUTBOUND:
		return "outbound";
	case ST_CAPTURE_INBOUND:
		return "inbound";
	case ST_CAPTURE_DNS:
		return "dns";
	case ST_CAPTURE_OTHER:
		return "other";
	case ST_CAPTURE_TUNNEL:
		return "tunnel";
	default:
		return "none";
	}
}

void st_flow_addr_format(uint8_t family, const uint8_t *addr, uint16_t port,
			 char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	if (family == 6)
		snprintf(buf, size, "[%s]:%u", a, port);
	else
		snprintf(buf, size, "%s:%u", a, port);
}

const char *st_flow_hop_kind_name(enum st_hit_kind k)
{
	switch (k) {
	case ST_HIT_RULE:
		return "rule";
	case ST_HIT_ENTER:
		return "enter";
	case ST_HIT_POLICY:
		return "policy";
	case ST_HIT_RETURN:
		return "return";
	default:
		return "none";
	}
}

const char *st_flow_side_name(enum st_side s)
{
	static const char *const names[ST_SIDE__MAX] = {
		[ST_SIDE_NONE] = "none",
		[ST_SIDE_STITCHED] = "stitched",
		[ST_SIDE_GUESS] = "guess",
		[ST_SIDE_REUSED] = "reused",
		[ST_SIDE_ACCESS_LOG] = "access-log",
	};

	return (unsigned int)s < ST_SIDE__MAX ? names[s] : "none";
}
