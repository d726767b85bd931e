// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * match.c - one packet against one rule (see match.h).  The semantics are
 * those reach.c applies to classes of packets; the two must agree.
 */
#include <netinet/in.h>
#include <string.h>

#include "match.h"

bool st_match_ifname(const char *name, const char *pat)
{
	size_t n = strlen(pat);

	if (n > 0 && pat[n - 1] == '+')
		return strncmp(name, pat, n - 1) == 0;
	return strcmp(name, pat) == 0;
}

bool st_match_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_DCCP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

static enum st_match_result st_match_bool(bool v, bool neg)
{
	return v != neg ? ST_MATCH_YES : ST_MATCH_NO;
}

static bool st_match_ports(const struct st_match *m, uint16_t port)
{
	for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS; i++)
		if (port >= m->ports[i].lo && port <= m->ports[i].hi)
			return true;
	return false;
}

enum st_match_result st_match_one(const struct st_match *m,
				  const struct st_match_pkt *p, bool nft)
{
	switch (m->kind) {
	case ST_M_SRC:
	case ST_M_DST:
		if (m->addr.family != p->family)
			return ST_MATCH_NO;
		return st_match_bool(st_prefix_contains(&m->addr, p->family,
							m->kind == ST_M_SRC
								? p->src
								: p->dst),
				     m->neg);
	case ST_M_IIF:
		return st_match_bool(st_match_ifname(p->iif, m->ifname),
				     m->neg);
	case ST_M_OIF:
		return st_match_bool(st_match_ifname(p->oif, m->ifname),
				     m->neg);
	case ST_M_PROTO:
		if (m->proto == 0)
			return m->neg ? ST_MATCH_NO : ST_MATCH_YES;
		return st_match_bool(p->proto == m->proto, m->neg);
	case ST_M_SPORT:
	case ST_M_DPORT:
		/* The protocol a port match implies is never negated. */
		if (m->proto != 0 && p->proto != m->proto)
			return ST_MATCH_NO;
		if (!st_match_has_ports(p->proto))
			return ST_MATCH_NO;
		return st_match_bool(st_match_ports(m, m->kind == ST_M_SPORT
							       ? p->sport
							       : p->dport),
				     m->neg);
	case ST_M_UID:
	case ST_M_GID: {
		uint32_t id = m->kind == ST_M_UID ? p->uid : p->gid;

		/*
		 * xt_owner without a socket: (match ^ invert) == 0, i.e.
		 * true only when negated; nft meta skuid breaks instead.
		 */
		if (!p->has_sock)
			return (!nft && m->neg) ? ST_MATCH_YES : ST_MATCH_NO;
		return st_match_bool(id >= m->lo && id <= m->hi, m->neg);
	}
	case ST_M_SOCKET_EXISTS:
		return st_match_bool(p->has_sock, m->neg);
	case ST_M_MARK:
		return st_match_bool((p->mark & m->hi) == m->lo, m->neg);
	case ST_M_CONNMARK:
		return st_match_bool((p->connmark & m->hi) == m->lo, m->neg);
	case ST_M_CTSTATE:
		/* SNAT/DNAT say how the connection was NATed: unknown here. */
		if (m->lo == 0 || (m->lo & (ST_CT_SNAT | ST_CT_DNAT)) != 0)
			return ST_MATCH_UNKNOWN;
		return st_match_bool((m->lo & p->ctstate) != 0, m->neg);
	case ST_M_COMMENT:
		return ST_MATCH_YES;
	case ST_M_SOCKET:
	case ST_M_STATEFUL:
	case ST_M_UNKNOWN:
	default:
		return ST_MATCH_UNKNOWN;
	}
}

enum st_match_result st_match_rule(const struct st_rule *r,
				   const struct st_match_pkt *p, bool nft,
				   unsigned int *which)
{
	enum st_match_result res = ST_MATCH_YES;

	if (r->family != ST_FAMILY_ANY && r->family != p->family)
		return ST_MATCH_NO;
	for (unsigned int i = 0; i < r->nmatches; i++) {
		enum st_match_result one = st_match_one(&r->matches[i], p, nft);

		if (one == ST_MATCH_NO)
			return ST_MATCH_NO;
		if (one == ST_MATCH_UNKNOWN && res == ST_MATCH_YES) {
			res = ST_MATCH_UNKNOWN;
			if (which != NULL)
				*which = i;
		}
	}
	return res;
}
