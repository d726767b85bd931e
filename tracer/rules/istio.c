// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * istio.c - recognising Istio's capture rules.
 *
 * Roles come from what a rule matches and where it sends packets (a
 * RETURN for "-o lo ! --uid-owner U" is a loopback non-proxy return
 * wherever it sits); chains are known by the names Istio gives them
 * (ISTIO_OUTPUT, nft istio-output, ...).  Settings come from the rules
 * that play each role: the proxy ids from the owner matches, the ports
 * from the REDIRECT/TPROXY targets the capture rules lead to.  No rule
 * number, port or id is assumed; the only constants are the protocol's
 * (DNS is port 53) and Istio's tunnel port 15008, which only decide the
 * name of a role.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "istio.h"
#include "reach.h"

#define ST_DNS_PORT 53
#define ST_TUNNEL_PORT 15008

/* What a chain is to Istio. */
enum st_ck {
	CK_FOREIGN = 0, /* a chain Istio does not create */
	CK_PREROUTING,
	CK_INPUT,
	CK_FORWARD,
	CK_OUTPUT,
	CK_POSTROUTING,
	CK_INBOUND,	 /* ISTIO_INBOUND / istio-inbound */
	CK_ISTIO_OUTPUT, /* ISTIO_OUTPUT / istio-output */
	CK_REDIRECT,	 /* ISTIO_REDIRECT / istio-redirect */
	CK_IN_REDIRECT,	 /* ISTIO_IN_REDIRECT / istio-in-redirect */
	CK_OUTPUT_DNS,	 /* ISTIO_OUTPUT_DNS / istio-output-dns */
	CK_DIVERT,	 /* ISTIO_DIVERT / istio-divert */
	CK_TPROXY,	 /* ISTIO_TPROXY / istio-tproxy */
	CK_DROP,	 /* ISTIO_DROP / istio-drop */
	CK_PRERT,	 /* ambient ISTIO_PRERT */
	CK_POSTRT,	 /* ambient node ISTIO_POSTRT (kubelet probe SNAT) */
	CK_ISTIO_OTHER,	 /* another ISTIO_* / istio-* chain */
};

enum st_tk { TK_OTHER = 0, TK_NAT, TK_MANGLE, TK_RAW, TK_FILTER };

struct st_cinfo {
	const struct st_chain *c;
	enum st_ck ck;
	enum st_tk tk;
	bool istio; /* created by Istio, or a base chain of an Istio ruleset */
};

struct st_ictx {
	struct st_ruleset *rs;
	struct st_cinfo *ci;
	size_t nch;
	bool istio; /* some chain is Istio's */
	bool ambient;
	/* Gids of the loopback rules of ISTIO_OUTPUT (the gid triplets). */
	uint32_t tgid[ST_MAX_IDS];
	unsigned int ntgid;
	/* Interfaces PREROUTING sends to ISTIO_REDIRECT (-k kube-virt). */
	char kv[ST_MAX_LIST][ST_IFNAMSIZ + 1];
	unsigned int nkv;
	/* Ports that port-53 traffic is redirected to (the DNS proxy). */
	uint16_t dnsport[ST_MAX_LIST];
	unsigned int ndnsport;
};

/* What a rule looks at, boiled down for the role decisions. */
struct st_feat {
	bool oif_lo;
	bool iif_lo;
	const char *ifname; /* a positive -i/-o other than lo */
	const struct st_prefix *dst;
	bool dst_neg;
	const struct st_prefix *src;
	const struct st_match *dport; /* positive */
	bool dport_neg;
	bool dport53; /* positive and includes 53 */
	bool uid_pos;
	bool uid_neg;
	bool gid_pos;
	bool gid_neg;
	uint32_t uid;
	uint32_t gid;
	bool mark_pos;
	bool mark_neg;
	bool connmark;
	bool invalid; /* ctstate INVALID */
	bool ctstate;
	unsigned int nconds; /* conditions other than protocol and comment */
};

static const struct {
	const char *name;
	enum st_ck ck;
} st_chain_names[] = {
	{"ISTIO_INBOUND", CK_INBOUND},
	{"ISTIO_OUTPUT", CK_ISTIO_OUTPUT},
	{"ISTIO_REDIRECT", CK_REDIRECT},
	{"ISTIO_IN_REDIRECT", CK_IN_REDIRECT},
	{"ISTIO_OUTPUT_DNS", CK_OUTPUT_DNS},
	{"ISTIO_DIVERT", CK_DIVERT},
	{"ISTIO_TPROXY", CK_TPROXY},
	{"ISTIO_DROP", CK_DROP},
	{"ISTIO_PRERT", CK_PRERT},
	{"ISTIO_POSTRT", CK_POSTRT},
	{"istio-inbound", CK_INBOUND},
	{"istio-output", CK_ISTIO_OUTPUT},
	{"istio-redirect", CK_REDIRECT},
	{"istio-in-redirect", CK_IN_REDIRECT},
	{"istio-output-dns", CK_OUTPUT_DNS},
	{"istio-divert", CK_DIVERT},
	{"istio-tproxy", CK_TPROXY},
	{"istio-drop", CK_DROP},
};

static bool st_prefix_is(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum st_ck st_chain_kind(const struct st_chain *c)
{
	static const char *const hooks[] = {
		[CK_PREROUTING] = "prerouting",	  [CK_INPUT] = "input",
		[CK_FORWARD] = "forward",	  [CK_OUTPUT] = "output",
		[CK_POSTROUTING] = "postrouting",
	};
	const char *h = c->hook != NULL ? c->hook : NULL;

	if (h == NULL && c->builtin)
		h = c->name;
	if (c->builtin && h != NULL)
		for (int i = CK_PREROUTING; i <= CK_POSTROUTING; i++)
			if (strcasecmp(h, hooks[i]) == 0)
				return (enum st_ck)i;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_chain_names); i++)
		if (strcmp(c->name, st_chain_names[i].name) == 0)
			return st_chain_names[i].ck;
	/* 1.18-1.20 ambient put ztunnel-* chains on the node. */
	if (st_istio_is_istio_chain(c->name) ||
	    st_prefix_is(c->name, "ztunnel-"))
		return CK_ISTIO_OTHER;
	return CK_FOREIGN;
}

static enum st_tk st_table_kind(const char *t)
{
	const char *dash = strrchr(t, '-');
	const char *base =
		dash != NULL && st_prefix_is(t, "istio-") ? dash + 1 : t;

	if (strcmp(base, "nat") == 0)
		return TK_NAT;
	if (strcmp(base, "mangle") == 0)
		return TK_MANGLE;
	if (strcmp(base, "raw") == 0)
		return TK_RAW;
	if (strcmp(base, "filter") == 0)
		return TK_FILTER;
	return TK_OTHER;
}

static bool st_is_base(enum st_ck ck)
{
	return ck >= CK_PREROUTING && ck <= CK_POSTROUTING;
}

static const struct st_cinfo *st_find_ci(const struct st_ictx *x,
					 const struct st_chain *from,
					 const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < x->nch; i++) {
		const struct st_chain *c = x->ci[i].c;

		if (c->family == from->family &&
		    strcmp(c->table, from->table) == 0 &&
		    strcmp(c->name, name) == 0)
			return &x->ci[i];
	}
	return NULL;
}

static bool st_ports_have(const struct st_match *m, uint16_t port)
{
	for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS; i++)
		if (m->ports[i].lo <= port && port <= m->ports[i].hi)
			return true;
	return false;
}

static void st_features(const struct st_rule *r, struct st_feat *f)
{
	memset(f, 0, sizeof(*f));
	for (unsigned int i = 0; i < r->nmatches; i++) {
		const struct st_match *m = &r->matches[i];

		if (m->kind != ST_M_PROTO && m->kind != ST_M_COMMENT)
			f->nconds++;
		switch (m->kind) {
		case ST_M_IIF:
		case ST_M_OIF:
			if (m->neg)
				break;
			if (strcmp(m->ifname, "lo") == 0) {
				if (m->kind == ST_M_IIF)
					f->iif_lo = true;
				else
					f->oif_lo = true;
			} else {
				f->ifname = m->ifname;
			}
			break;
		case ST_M_DST:
			f->dst = &m->addr;
			f->dst_neg = m->neg;
			break;
		case ST_M_SRC:
			if (!m->neg)
				f->src = &m->addr;
			break;
		case ST_M_DPORT:
			if (m->neg) {
				f->dport_neg = true;
				break;
			}
			f->dport = m;
			f->dport53 = st_ports_have(m, ST_DNS_PORT);
			break;
		case ST_M_UID:
			if (m->neg) {
				f->uid_neg = true;
			} else {
				f->uid_pos = true;
				f->uid = m->lo;
			}
			break;
		case ST_M_GID:
			if (m->neg) {
				f->gid_neg = true;
			} else {
				f->gid_pos = true;
				f->gid = m->lo;
			}
			break;
		case ST_M_MARK:
			if (m->neg)
				f->mark_neg = true;
			else
				f->mark_pos = true;
			break;
		case ST_M_CONNMARK:
			f->connmark = true;
			break;
		case ST_M_CTSTATE:
			f->ctstate = true;
			if (!m->neg && (m->lo & ST_CT_INVALID))
				f->invalid = true;
			break;
		default:
			break;
		}
	}
}

static bool st_loopback(const struct st_prefix *p)
{
	static const uint8_t one[16] = {[15] = 1};

	if (p->family == ST_FAMILY_IPV4)
		return p->addr[0] == 127 && p->plen >= 8;
	return p->plen == 128 && memcmp(p->addr, one, 16) == 0;
}

static bool st_host(const struct st_prefix *p)
{
	return p->plen == (p->family == ST_FAMILY_IPV4 ? 32 : 128);
}

static bool st_ids_have(const uint32_t *ids, unsigned int n, uint32_t id)
{
	for (unsigned int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The list helpers return false when an entry did not fit. */
static bool st_ids_add(uint32_t *ids, unsigned int *n, uint32_t id)
{
	if (st_ids_have(ids, *n, id))
		return true;
	if (*n >= ST_MAX_IDS)
		return false;
	ids[(*n)++] = id;
	return true;
}

static bool st_ports_list_have(const uint16_t *p, unsigned int n, uint16_t port)
{
	for (unsigned int i = 0; i < n; i++)
		if (p[i] == port)
			return true;
	return false;
}

static bool st_ports_list_add(uint16_t *p, unsigned int *n, uint16_t port)
{
	if (st_ports_list_have(p, *n, port))
		return true;
	if (*n >= ST_MAX_LIST)
		return false;
	p[(*n)++] = port;
	return true;
}

/* Add the ports of a --dport match (ranges port by port) to a list. */
static bool st_ports_list_match(uint16_t *p, unsigned int *n,
				const struct st_match *m)
{
	for (unsigned int i = 0; i < m->nports && i < ST_MAX_PORTS; i++)
		for (uint32_t v = m->ports[i].lo; v <= m->ports[i].hi; v++)
			if (!st_ports_list_add(p, n, (uint16_t)v))
				return false;
	return true;
}

static bool st_prefix_list_add_n(struct st_prefix *l, unsigned int *n,
				 const struct st_prefix *p, unsigned int max)
{
	for (unsigned int i = 0; i < *n; i++)
		if (memcmp(&l[i], p, sizeof(*p)) == 0)
			return true;
	if (*n >= max)
		return false;
	l[(*n)++] = *p;
	return true;
}

static bool st_prefix_list_add(struct st_prefix *l, unsigned int *n,
			       const struct st_prefix *p)
{
	return st_prefix_list_add_n(l, n, p, ST_MAX_LIST);
}

/* ---- the first pass: what the roles depend on ---- */

static void st_prepass(struct st_ictx *x)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];
		const struct st_chain *c = ci->c;

		for (unsigned int j = 0; j < c->nrules; j++) {
			const struct st_rule *r =
				st_ruleset_rule(x->rs, c->first + j);
			const struct st_target *t = &r->target;
			const struct st_cinfo *to = NULL;
			struct st_feat f;

			st_features(r, &f);
			if (ci->ck == CK_ISTIO_OUTPUT && f.oif_lo) {
				for (unsigned int i = 0; i < r->nmatches; i++)
					if (r->matches[i].kind == ST_M_GID)
						st_ids_add(x->tgid, &x->ntgid,
							   r->matches[i].lo);
			}
			if (f.dport53 &&
			    (t->kind == ST_T_REDIRECT ||
			     t->kind == ST_T_DNAT) &&
			    t->port_lo != 0)
				st_ports_list_add(x->dnsport, &x->ndnsport,
						  t->port_lo);
			if (t->kind == ST_T_JUMP || t->kind == ST_T_GOTO)
				to = st_find_ci(x, c, t->chain);
			if (ci->ck == CK_PREROUTING && f.ifname != NULL &&
			    to != NULL &&
			    (to->ck == CK_REDIRECT ||
			     to->ck == CK_IN_REDIRECT) &&
			    x->nkv < ST_MAX_LIST)
				st_strlcpy(x->kv[x->nkv++], f.ifname,
					   sizeof(x->kv[0]));
		}
	}
}

static bool st_is_kubevirt(const struct st_ictx *x, const char *ifname)
{
	for (unsigned int i = 0; i < x->nkv; i++)
		if (strcmp(x->kv[i], ifname) == 0)
			return true;
	return false;
}

/* ---- roles ---- */

static enum st_role st_role_jump(const struct st_cinfo *ci,
				 const struct st_cinfo *to,
				 const struct st_feat *f)
{
	bool base = st_is_base(ci->ck);

	if (to == NULL || to->ck == CK_FOREIGN)
		return ST_ROLE_FOREIGN_JUMP;
	switch (to->ck) {
	case CK_INBOUND:
		if (!base)
			return ST_ROLE_OTHER;
		return ci->tk == TK_RAW ? ST_ROLE_DNS_ENTRY
					: ST_ROLE_INBOUND_ENTRY;
	case CK_ISTIO_OUTPUT:
		if (!base)
			return ST_ROLE_OTHER;
		return ci->tk == TK_RAW ? ST_ROLE_DNS_ENTRY
					: ST_ROLE_OUTBOUND_ENTRY;
	case CK_OUTPUT_DNS:
		return ST_ROLE_DNS_ENTRY;
	case CK_DROP:
		return ST_ROLE_INVALID_DROP;
	case CK_DIVERT:
		return ST_ROLE_TPROXY_DIVERT;
	case CK_TPROXY:
		return f->dport != NULL ? ST_ROLE_INBOUND_PORT_INCLUSION
					: ST_ROLE_TPROXY_CAPTURE;
	case CK_IN_REDIRECT:
		if (ci->ck == CK_INBOUND)
			return f->dport != NULL ? ST_ROLE_INBOUND_PORT_INCLUSION
						: ST_ROLE_INBOUND_CAPTURE;
		if (ci->ck == CK_PREROUTING && f->ifname != NULL)
			return ST_ROLE_KUBEVIRT_INTERFACE;
		if (f->oif_lo)
			return f->uid_pos || f->gid_pos
				       ? ST_ROLE_PROXY_TO_OWN_POD_REDIRECT
				       : ST_ROLE_LOOPBACK_REDIRECT;
		return ST_ROLE_OTHER;
	case CK_REDIRECT:
		if (ci->ck == CK_PREROUTING && f->ifname != NULL)
			return ST_ROLE_KUBEVIRT_INTERFACE;
		if (ci->ck == CK_INBOUND)
			return f->dport != NULL ? ST_ROLE_INBOUND_PORT_INCLUSION
						: ST_ROLE_INBOUND_CAPTURE;
		if (f->oif_lo && f->dst != NULL && f->dst_neg)
			return f->uid_pos || f->gid_pos
				       ? ST_ROLE_PROXY_TO_OWN_POD_REDIRECT
				       : ST_ROLE_LOOPBACK_REDIRECT;
		if (f->dst != NULL && !f->dst_neg)
			return ST_ROLE_INCLUDED_CIDR;
		if (f->dport != NULL)
			return ST_ROLE_INCLUDED_OUTBOUND_PORT;
		if (f->nconds == 0)
			return ST_ROLE_OUTBOUND_CAPTURE;
		return ST_ROLE_OTHER;
	default:
		return ST_ROLE_OTHER;
	}
}

static enum st_role st_role_return(const struct st_ictx *x,
				   const struct st_cinfo *ci,
				   const struct st_feat *f)
{
	bool owner = f->uid_pos || f->uid_neg || f->gid_pos || f->gid_neg;

	if (f->dport53 && (f->uid_pos || f->gid_pos))
		return ST_ROLE_DNS_PROXY_RETURN;
	if (f->mark_pos && !owner && f->src == NULL)
		return ST_ROLE_TPROXY_MARK_RETURN;
	if (f->iif_lo && f->mark_neg)
		return ST_ROLE_TPROXY_LOOPBACK_RETURN;
	if (f->src != NULL && st_host(f->src) && (f->oif_lo || f->iif_lo))
		return ST_ROLE_INBOUND_PASSTHROUGH_RETURN;
	if (f->ifname != NULL && f->nconds == 1)
		return st_is_kubevirt(x, f->ifname)
			       ? ST_ROLE_KUBEVIRT_INTERFACE
			       : ST_ROLE_EXCLUDED_INTERFACE;
	if (st_is_base(ci->ck))
		return ST_ROLE_OTHER;
	if (f->oif_lo && (f->uid_neg || f->gid_neg))
		return ST_ROLE_LOOPBACK_NON_PROXY_RETURN;
	if (f->gid_neg && !f->uid_pos && !f->uid_neg)
		return ST_ROLE_OWNER_GROUP_FILTER;
	if (f->uid_pos && !f->gid_pos && !f->gid_neg)
		return ST_ROLE_PROXY_UID_RETURN;
	if (f->gid_pos && !f->uid_pos && !f->uid_neg)
		return x->ntgid > 0 && !st_ids_have(x->tgid, x->ntgid, f->gid)
			       ? ST_ROLE_OWNER_GROUP_FILTER
			       : ST_ROLE_PROXY_GID_RETURN;
	if (owner)
		return ST_ROLE_OTHER;
	if (f->dst != NULL && !f->dst_neg)
		return st_loopback(f->dst) ? ST_ROLE_LOCALHOST_RETURN
					   : ST_ROLE_EXCLUDED_CIDR;
	if (f->dport != NULL && f->nconds == 1) {
		if (ci->ck == CK_INBOUND)
			return f->dport->nports == 1 &&
					       f->dport->ports[0].lo ==
						       ST_TUNNEL_PORT &&
					       f->dport->ports[0].hi ==
						       ST_TUNNEL_PORT
				       ? ST_ROLE_INBOUND_TUNNEL_EXCLUSION
				       : ST_ROLE_INBOUND_PORT_EXCLUSION;
		if (ci->ck == CK_ISTIO_OUTPUT)
			return ST_ROLE_EXCLUDED_OUTBOUND_PORT;
	}
	if (f->nconds == 0 && ci->ck == CK_ISTIO_OUTPUT)
		return ST_ROLE_OUTBOUND_DEFAULT_RETURN;
	return ST_ROLE_OTHER;
}

static enum st_role st_role_of(const struct st_ictx *x,
			       const struct st_cinfo *ci,
			       const struct st_rule *r)
{
	const struct st_target *t = &r->target;
	const struct st_cinfo *to = NULL;
	enum st_role role = ST_ROLE_OTHER;
	struct st_feat f;

	st_features(r, &f);
	switch (t->kind) {
	case ST_T_NFLOG:
	case ST_T_LOG:
	case ST_T_TRACE:
		role = ST_ROLE_TRACE_LOGGING;
		break;
	case ST_T_CT:
		role = ST_ROLE_DNS_CONNTRACK_ZONE;
		break;
	case ST_T_REDIRECT:
		if (f.dport53)
			role = ST_ROLE_DNS_CAPTURE;
		else if (ci->ck == CK_IN_REDIRECT)
			role = ST_ROLE_INBOUND_REDIRECT;
		else if (ci->ck == CK_REDIRECT)
			role = ST_ROLE_OUTBOUND_REDIRECT;
		break;
	case ST_T_DNAT:
	case ST_T_SNAT:
		/* 1.8: DNAT port 53 to the agent, SNAT its answers back. */
		if (f.dport53 || (f.dport != NULL && f.dport->nports == 1 &&
				  st_ports_list_have(x->dnsport, x->ndnsport,
						     f.dport->ports[0].lo)))
			role = ST_ROLE_DNS_CAPTURE;
		break;
	case ST_T_TPROXY:
		role = ST_ROLE_TPROXY_REDIRECT;
		break;
	case ST_T_MARK:
		if (ci->ck == CK_DIVERT)
			role = ST_ROLE_TPROXY_DIVERT_MARK;
		else if (f.oif_lo || f.uid_pos || f.gid_pos)
			role = ST_ROLE_TPROXY_OUTBOUND_MARK;
		break;
	case ST_T_CONNMARK:
		role = ST_ROLE_TPROXY_CONNMARK;
		break;
	case ST_T_ACCEPT:
		if (ci->ck == CK_DIVERT)
			role = ST_ROLE_TPROXY_DIVERT_ACCEPT;
		break;
	case ST_T_DROP:
		if (ci->ck == CK_DROP || f.invalid)
			role = ST_ROLE_INVALID_DROP;
		break;
	case ST_T_JUMP:
	case ST_T_GOTO:
		to = st_find_ci(x, ci->c, t->chain);
		role = st_role_jump(ci, to, &f);
		break;
	case ST_T_RETURN:
		role = st_role_return(x, ci, &f);
		break;
	default:
		break;
	}
	/* Outside Istio's chains a rule plays no Istio role. */
	return ci->istio ? role : ST_ROLE_NONE;
}

/* ---- ambient roles ---- */

/* Where a chain of ztunnel's rules sits on a packet's way. */
enum st_side { SIDE_OTHER = 0, SIDE_IN, SIDE_OUT, SIDE_POST };

static enum st_side st_ambient_side(const struct st_cinfo *ci)
{
	switch (ci->ck) {
	case CK_PREROUTING:
	case CK_PRERT:
		return SIDE_IN;
	case CK_OUTPUT:
	case CK_ISTIO_OUTPUT:
		return SIDE_OUT;
	case CK_POSTROUTING:
	case CK_POSTRT:
		return SIDE_POST;
	default:
		break;
	}
	/* The nft ambient tables name their ISTIO_PRERT so. */
	if (strcmp(ci->c->name, "istio-prerouting") == 0)
		return SIDE_IN;
	return SIDE_OTHER;
}

static enum st_role st_ambient_jump(const struct st_cinfo *ci,
				    const struct st_cinfo *to)
{
	if (to == NULL || to->ck == CK_FOREIGN)
		return ST_ROLE_FOREIGN_JUMP;
	if (st_prefix_is(to->c->name, "ztunnel-"))
		return ST_ROLE_AMBIENT_NODE;
	if (!st_is_base(ci->ck))
		return ST_ROLE_OTHER;
	switch (st_ambient_side(to)) {
	case SIDE_IN:
		return ci->tk == TK_RAW ? ST_ROLE_AMBIENT_DNS_ENTRY
					: ST_ROLE_AMBIENT_INBOUND_ENTRY;
	case SIDE_OUT:
		return ci->tk == TK_RAW ? ST_ROLE_AMBIENT_DNS_ENTRY
					: ST_ROLE_AMBIENT_OUTBOUND_ENTRY;
	case SIDE_POST:
		return ST_ROLE_AMBIENT_PROBE_ENTRY;
	case SIDE_OTHER:
		break;
	}
	return ST_ROLE_OTHER;
}

static enum st_role st_ambient_accept(enum st_side side,
				      const struct st_feat *f)
{
	/* 1.21-1.23: packets of connections TPROXY already sent on. */
	if (f->ctstate && !f->invalid)
		return ST_ROLE_AMBIENT_ESTABLISHED_ACCEPT;
	/* The node SNATs kubelet probes to one host address. */
	if (side == SIDE_IN && f->src != NULL && st_host(f->src))
		return ST_ROLE_AMBIENT_PROBE_ACCEPT;
	if (side == SIDE_OUT && f->dst != NULL && !f->dst_neg &&
	    st_host(f->dst))
		return ST_ROLE_AMBIENT_PROBE_REPLY_ACCEPT;
	if (f->mark_pos)
		return ST_ROLE_AMBIENT_MARKED_ACCEPT;
	/* In the pod over lo: to its own address (1.21-1.23 also inbound). */
	if (f->oif_lo || f->iif_lo)
		return ST_ROLE_AMBIENT_LOOPBACK_ACCEPT;
	return ST_ROLE_OTHER;
}

static enum st_role st_ambient_redirect(enum st_side side,
					const struct st_feat *f)
{
	if (f->dport53)
		return ST_ROLE_AMBIENT_DNS_CAPTURE;
	if (side == SIDE_IN && f->ifname != NULL)
		return ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_REDIRECT;
	if (side == SIDE_IN)
		return ST_ROLE_AMBIENT_INBOUND_REDIRECT;
	if (side == SIDE_OUT)
		return ST_ROLE_AMBIENT_OUTBOUND_REDIRECT;
	return ST_ROLE_OTHER;
}

/*
 * The role of a rule of ztunnel's (cni/pkg/iptables/iptables.go,
 * cni/pkg/nftables/nftables.go): what it matches and where it sits, as
 * for the sidecar, but ztunnel's own sockets are known by their mark, not
 * by a uid, and kubelet probes by the address the node SNATs them to.
 */
static enum st_role st_ambient_role(const struct st_ictx *x,
				    const struct st_cinfo *ci,
				    const struct st_rule *r)
{
	const struct st_target *t = &r->target;
	enum st_side side = st_ambient_side(ci);
	enum st_role role = ST_ROLE_OTHER;
	struct st_feat f;

	if (!ci->istio)
		return ST_ROLE_NONE;
	if (st_prefix_is(ci->c->name, "ztunnel-"))
		return ST_ROLE_AMBIENT_NODE;
	st_features(r, &f);
	switch (t->kind) {
	case ST_T_JUMP:
	case ST_T_GOTO:
		role = st_ambient_jump(ci, st_find_ci(x, ci->c, t->chain));
		break;
	case ST_T_ACCEPT:
		role = st_ambient_accept(side, &f);
		break;
	case ST_T_REDIRECT:
	case ST_T_DNAT:
		role = st_ambient_redirect(side, &f);
		break;
	case ST_T_TPROXY:
		/* To the port it matched: HBONE goes straight to 15008. */
		if (f.dport != NULL && st_ports_have(f.dport, t->port_lo))
			role = ST_ROLE_AMBIENT_TUNNEL_TPROXY;
		else
			role = ST_ROLE_AMBIENT_INBOUND_TPROXY;
		break;
	case ST_T_RETURN:
		if (side == SIDE_IN && f.ifname != NULL)
			role = ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_RETURN;
		break;
	case ST_T_CONNMARK:
		if (f.connmark)
			role = ST_ROLE_AMBIENT_CONNMARK_RESTORE;
		else if (f.mark_pos || side == SIDE_IN)
			role = ST_ROLE_AMBIENT_CONNMARK_SET;
		else if (side == SIDE_OUT)
			role = ST_ROLE_AMBIENT_CONNMARK_RESTORE;
		break;
	case ST_T_CT:
		role = ST_ROLE_AMBIENT_DNS_CONNTRACK_ZONE;
		break;
	case ST_T_SNAT:
		if (side == SIDE_POST)
			role = ST_ROLE_AMBIENT_PROBE_SNAT;
		break;
	case ST_T_NFLOG:
	case ST_T_LOG:
	case ST_T_TRACE:
		role = ST_ROLE_TRACE_LOGGING;
		break;
	default:
		break;
	}
	/* The node's own rules beside ztunnel's jump (a CNI's SNAT). */
	if (role == ST_ROLE_OTHER && st_is_base(ci->ck))
		role = ST_ROLE_NONE;
	return role;
}

static void st_assign_roles(struct st_ictx *x)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];
		const struct st_chain *c = ci->c;

		for (unsigned int j = 0; j < c->nrules; j++) {
			struct st_rule *r =
				st_ruleset_rule_mut(x->rs, c->first + j);
			r->role = x->ambient ? st_ambient_role(x, ci, r)
					     : st_role_of(x, ci, r);
		}
	}
}

/* ---- chains ---- */

static int st_chains_scan(struct st_ictx *x, char *err)
{
	x->nch = st_ruleset_nchains(x->rs);
	x->ci = calloc(x->nch + 1, sizeof(*x->ci));
	if (x->ci == NULL)
		return st_err(err, ENOMEM, "recogniser: out of memory");
	for (size_t i = 0; i < x->nch; i++) {
		const struct st_chain *c = st_ruleset_chain(x->rs, i);

		x->ci[i].c = c;
		x->ci[i].ck = st_chain_kind(c);
		x->ci[i].tk = st_table_kind(c->table);
		if (x->ci[i].ck == CK_PRERT || x->ci[i].ck == CK_POSTRT ||
		    st_prefix_is(c->name, "ztunnel-") ||
		    st_prefix_is(c->table, "istio-ambient-"))
			x->ambient = true;
	}
	/*
	 * In a ruleset with Istio chains the base chains of every table are
	 * Istio's too: 1.10.3-1.22 put the DNS conntrack zones straight into
	 * raw PREROUTING/OUTPUT, 1.13-1.23 the INVALID drop into mangle.
	 */
	for (size_t i = 0; i < x->nch; i++)
		if (x->ci[i].ck >= CK_INBOUND ||
		    st_prefix_is(x->ci[i].c->table, "istio-"))
			x->istio = true;
	for (size_t i = 0; i < x->nch; i++)
		x->ci[i].istio = x->ci[i].ck >= CK_INBOUND ||
				 (st_is_base(x->ci[i].ck) && x->istio);
	return 0;
}

/* ---- settings ---- */

static const struct st_rule *
st_rule_at(const struct st_ictx *x, const struct st_cinfo *ci, unsigned int j)
{
	return st_ruleset_rule(x->rs, ci->c->first + j);
}

/* The port of the first rule with @role in the chain @r jumps to. */
static uint16_t st_port_behind(const struct st_ictx *x,
			       const struct st_cinfo *ci,
			       const struct st_rule *r, enum st_role role)
{
	const struct st_cinfo *to = st_find_ci(x, ci->c, r->target.chain);

	if (to == NULL)
		return 0;
	for (unsigned int j = 0; j < to->c->nrules; j++) {
		const struct st_rule *t = st_rule_at(x, to, j);

		if (t->role == role && t->target.port_lo != 0)
			return t->target.port_lo;
	}
	return 0;
}

/* The port behind the first rule (reachable first) with one of @roles. */
static uint16_t st_port_via(const struct st_ictx *x, const enum st_role *roles,
			    size_t nroles, enum st_role redirect)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < x->nch; k++) {
			const struct st_cinfo *ci = &x->ci[k];

			for (unsigned int j = 0; j < ci->c->nrules; j++) {
				const struct st_rule *r = st_rule_at(x, ci, j);
				uint16_t port = 0;

				if (pass == 0 && !r->reachable)
					continue;
				for (size_t i = 0; i < nroles && !port; i++)
					if (r->role == roles[i])
						port = st_port_behind(x, ci, r,
								      redirect);
				if (port != 0)
					return port;
			}
		}
	}
	return 0;
}

/* The target port of the first rule with @role (reachable ones first). */
static uint16_t st_port_of(const struct st_ictx *x, enum st_role role)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < x->nch; k++) {
			const struct st_cinfo *ci = &x->ci[k];

			for (unsigned int j = 0; j < ci->c->nrules; j++) {
				const struct st_rule *r = st_rule_at(x, ci, j);

				if ((pass == 1 || r->reachable) &&
				    r->role == role && r->target.port_lo != 0)
					return r->target.port_lo;
			}
		}
	}
	return 0;
}

/* The value of the first positive mark match of @r (0 when none). */
static uint32_t st_first_mark(const struct st_rule *r)
{
	for (unsigned int i = 0; i < r->nmatches; i++)
		if (r->matches[i].kind == ST_M_MARK && !r->matches[i].neg)
			return r->matches[i].lo;
	return 0;
}

static bool st_owner_ids(const struct st_rule *r, enum st_match_kind kind,
			 uint32_t *ids, unsigned int *n)
{
	bool fit = true;

	for (unsigned int i = 0; i < r->nmatches; i++)
		if (r->matches[i].kind == kind && !r->matches[i].neg)
			fit = st_ids_add(ids, n, r->matches[i].lo) && fit;
	return fit;
}

static void st_settings(struct st_ictx *x, struct st_istio_settings *out)
{
	static const enum st_role out_capture[] = {
		ST_ROLE_OUTBOUND_CAPTURE,
		ST_ROLE_INCLUDED_CIDR,
		ST_ROLE_INCLUDED_OUTBOUND_PORT,
	};
	static const enum st_role in_capture[] = {
		ST_ROLE_INBOUND_CAPTURE,
		ST_ROLE_INBOUND_PORT_INCLUSION,
		ST_ROLE_PROXY_TO_OWN_POD_REDIRECT,
	};
	bool any_family = false;

	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		for (unsigned int j = 0; j < ci->c->nrules; j++) {
			const struct st_rule *r = st_rule_at(x, ci, j);
			struct st_feat f;

			if (r->role == ST_ROLE_NONE)
				continue;
			st_features(r, &f);
			if (r->family == ST_FAMILY_IPV4)
				out->ipv4 = true;
			else if (r->family == ST_FAMILY_IPV6)
				out->ipv6 = true;
			else
				any_family = true;
			switch (r->role) {
			case ST_ROLE_PROXY_UID_RETURN:
				out->truncated |= !st_owner_ids(
					r, ST_M_UID, out->proxy_uids,
					&out->nproxy_uids);
				break;
			case ST_ROLE_PROXY_GID_RETURN:
				out->truncated |= !st_owner_ids(
					r, ST_M_GID, out->proxy_gids,
					&out->nproxy_gids);
				break;
			case ST_ROLE_PROXY_TO_OWN_POD_REDIRECT:
				out->truncated |= !st_owner_ids(
					r, ST_M_UID, out->proxy_uids,
					&out->nproxy_uids);
				out->truncated |= !st_owner_ids(
					r, ST_M_GID, out->proxy_gids,
					&out->nproxy_gids);
				break;
			default:
				break;
			}
			if (!r->reachable)
				continue;
			switch (r->role) {
			case ST_ROLE_TPROXY_REDIRECT:
				out->mode = ST_MODE_TPROXY;
				out->tproxy_mark = r->target.mark;
				if (out->inbound_port == 0)
					out->inbound_port = r->target.port_lo;
				break;
			case ST_ROLE_TPROXY_CONNMARK:
			case ST_ROLE_TPROXY_OUTBOUND_MARK:
			case ST_ROLE_TPROXY_MARK_RETURN:
				/*
				 * istio-iptables writes these mangle rules in
				 * TPROXY mode whatever the inbound ports, so
				 * they tell the mode when no port is captured
				 * (no TPROXY rule at all).  The mark is the
				 * one the connmark save/restore matches.
				 */
				out->mode = ST_MODE_TPROXY;
				if (out->tproxy_mark == 0 && f.mark_pos &&
				    !f.connmark)
					out->tproxy_mark = st_first_mark(r);
				break;
			case ST_ROLE_INBOUND_CAPTURE:
			case ST_ROLE_TPROXY_CAPTURE:
				out->inbound_captured = true;
				out->inbound_all_ports = true;
				break;
			case ST_ROLE_INBOUND_PORT_INCLUSION:
				out->inbound_captured = true;
				if (f.dport != NULL)
					out->truncated |= !st_ports_list_match(
						out->inbound_ports,
						&out->ninbound_ports, f.dport);
				break;
			case ST_ROLE_INBOUND_PORT_EXCLUSION:
			case ST_ROLE_INBOUND_TUNNEL_EXCLUSION:
				if (f.dport != NULL)
					out->truncated |= !st_ports_list_match(
						out->inbound_excluded_ports,
						&out->ninbound_excluded,
						f.dport);
				break;
			case ST_ROLE_EXCLUDED_OUTBOUND_PORT:
				if (f.dport != NULL)
					out->truncated |= !st_ports_list_match(
						out->outbound_excluded_ports,
						&out->noutbound_excluded,
						f.dport);
				break;
			case ST_ROLE_INCLUDED_OUTBOUND_PORT:
				if (f.dport != NULL)
					out->truncated |= !st_ports_list_match(
						out->outbound_included_ports,
						&out->noutbound_included,
						f.dport);
				break;
			case ST_ROLE_EXCLUDED_CIDR:
				if (f.dst != NULL)
					out->truncated |= !st_prefix_list_add(
						out->excluded_cidrs,
						&out->nexcluded_cidrs, f.dst);
				break;
			case ST_ROLE_INCLUDED_CIDR:
				if (f.dst != NULL)
					out->truncated |= !st_prefix_list_add(
						out->included_cidrs,
						&out->nincluded_cidrs, f.dst);
				break;
			case ST_ROLE_OUTBOUND_CAPTURE:
				out->outbound_all_cidrs = true;
				break;
			case ST_ROLE_DNS_CAPTURE:
				if (r->target.kind != ST_T_REDIRECT &&
				    r->target.kind != ST_T_DNAT)
					break;
				out->dns_capture = true;
				if (out->dns_port == 0)
					out->dns_port = r->target.port_lo;
				if (f.dst != NULL && !f.dst_neg)
					out->truncated |= !st_prefix_list_add(
						out->dns_servers,
						&out->ndns_servers, f.dst);
				break;
			case ST_ROLE_INVALID_DROP:
				out->invalid_drop = true;
				break;
			default:
				break;
			}
		}
	}
	/* nft inet rules without an address serve both families. */
	if (!out->ipv4 && !out->ipv6 && any_family) {
		out->ipv4 = true;
		out->ipv6 = true;
	}
	out->outbound_port =
		st_port_via(x, out_capture, ST_ARRAY_SIZE(out_capture),
			    ST_ROLE_OUTBOUND_REDIRECT);
	if (out->outbound_port == 0)
		out->outbound_port = st_port_of(x, ST_ROLE_OUTBOUND_REDIRECT);
	/*
	 * TPROXY names the port; without inbound capture (or in REDIRECT
	 * mode) it is where the capture rules, or Envoy's own connections to
	 * its pod, are redirected.
	 */
	if (out->inbound_port == 0) {
		out->inbound_port =
			st_port_via(x, in_capture, ST_ARRAY_SIZE(in_capture),
				    ST_ROLE_INBOUND_REDIRECT);
		if (out->inbound_port == 0)
			out->inbound_port =
				st_port_of(x, ST_ROLE_INBOUND_REDIRECT);
	}
}

/* ---- ambient settings ---- */

/* The first mark (ST_M_MARK) or connmark match of @r, or NULL. */
static const struct st_match *st_mark_match(const struct st_rule *r,
					    enum st_match_kind kind)
{
	for (unsigned int i = 0; i < r->nmatches; i++)
		if (r->matches[i].kind == kind)
			return &r->matches[i];
	return NULL;
}

static void st_ambient_probe(const struct st_rule *r, const struct st_feat *f,
			     struct st_istio_settings *out)
{
	const struct st_prefix *p = NULL;

	switch (r->role) {
	case ST_ROLE_AMBIENT_PROBE_ACCEPT:
		p = f->src;
		break;
	case ST_ROLE_AMBIENT_PROBE_REPLY_ACCEPT:
		p = f->dst;
		break;
	case ST_ROLE_AMBIENT_PROBE_SNAT:
		out->amb.probe_snat = true;
		if (r->target.addr.family != 0)
			p = &r->target.addr;
		for (unsigned int i = 0; i < r->nmatches; i++)
			if (r->matches[i].kind == ST_M_SOCKET_EXISTS)
				out->amb.probe_socket_exists = true;
		if (f->uid_pos) {
			out->amb.probe_uid_set = true;
			out->amb.probe_uid = f->uid;
		}
		break;
	default:
		return;
	}
	if (p != NULL)
		out->truncated |= !st_prefix_list_add_n(
			out->amb.probe_addrs, &out->amb.nprobe_addrs, p,
			ST_ARRAY_SIZE(out->amb.probe_addrs));
}

static void st_ambient_virt(const struct st_feat *f,
			    struct st_istio_settings *out)
{
	for (unsigned int i = 0; i < out->amb.nvirt_ifaces; i++)
		if (strcmp(out->amb.virt_ifaces[i], f->ifname) == 0)
			return;
	if (out->amb.nvirt_ifaces >= ST_MAX_LIST) {
		out->truncated = true;
		return;
	}
	st_strlcpy(out->amb.virt_ifaces[out->amb.nvirt_ifaces++], f->ifname,
		   sizeof(out->amb.virt_ifaces[0]));
}

/* The ports of a negated --dport of @r: the tunnel port ztunnel skips. */
static uint16_t st_negated_port(const struct st_rule *r)
{
	for (unsigned int i = 0; i < r->nmatches; i++) {
		const struct st_match *m = &r->matches[i];

		if (m->kind == ST_M_DPORT && m->neg && m->nports == 1 &&
		    m->ports[0].lo == m->ports[0].hi)
			return m->ports[0].lo;
	}
	return 0;
}

static void st_ambient_rule(const struct st_rule *r,
			    struct st_istio_settings *out)
{
	const struct st_match *m = st_mark_match(r, ST_M_MARK);
	const struct st_match *cm = st_mark_match(r, ST_M_CONNMARK);
	struct st_feat f;

	st_features(r, &f);
	st_ambient_probe(r, &f, out);
	switch (r->role) {
	case ST_ROLE_AMBIENT_OUTBOUND_REDIRECT:
		if (out->amb.outbound_port == 0)
			out->amb.outbound_port = r->target.port_lo;
		break;
	case ST_ROLE_AMBIENT_INBOUND_TPROXY:
		out->mode = ST_MODE_TPROXY;
		/* fall through */
	case ST_ROLE_AMBIENT_INBOUND_REDIRECT:
		out->amb.inbound_captured = true;
		if (out->amb.inbound_port == 0)
			out->amb.inbound_port = r->target.port_lo;
		if (out->amb.tunnel_port == 0)
			out->amb.tunnel_port = st_negated_port(r);
		break;
	case ST_ROLE_AMBIENT_TUNNEL_TPROXY:
		out->mode = ST_MODE_TPROXY;
		out->amb.tunnel_port = r->target.port_lo;
		break;
	case ST_ROLE_AMBIENT_DNS_CAPTURE:
		out->amb.dns_capture = true;
		if (out->amb.dns_port == 0)
			out->amb.dns_port = r->target.port_lo;
		break;
	case ST_ROLE_AMBIENT_CONNMARK_RESTORE:
		if (cm != NULL && out->amb.connmark == 0) {
			out->amb.connmark = cm->lo;
			out->amb.connmark_mask = cm->hi;
		}
		break;
	case ST_ROLE_AMBIENT_CONNMARK_SET:
		if (out->amb.connmark == 0) {
			out->amb.connmark = r->target.mark;
			out->amb.connmark_mask = r->target.mask;
		}
		break;
	case ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_REDIRECT:
		if (f.ifname != NULL)
			st_ambient_virt(&f, out);
		break;
	default:
		break;
	}
	/*
	 * ztunnel's mark is the one its capture rules spare (outbound,
	 * inbound, DNS) and the connmark rule and the DNS zone rule look
	 * for: every mark match but the one of the 0x111 accept.
	 */
	if (m != NULL && out->amb.mark == 0 &&
	    r->role != ST_ROLE_AMBIENT_MARKED_ACCEPT) {
		out->amb.mark = m->lo;
		out->amb.mark_mask = m->hi;
	}
}

static void st_ambient_settings(struct st_ictx *x,
				struct st_istio_settings *out)
{
	bool any_family = false;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < x->nch; k++) {
			const struct st_cinfo *ci = &x->ci[k];

			for (unsigned int j = 0; j < ci->c->nrules; j++) {
				const struct st_rule *r = st_rule_at(x, ci, j);

				if (!st_role_is_ambient(r->role))
					continue;
				if (pass == 0 && r->family == ST_FAMILY_IPV4)
					out->ipv4 = true;
				else if (pass == 0 &&
					 r->family == ST_FAMILY_IPV6)
					out->ipv6 = true;
				else if (pass == 0)
					any_family = true;
				/* Reachable rules first, the others fill gaps. */
				if (r->reachable == (pass == 0))
					st_ambient_rule(r, out);
			}
		}
	}
	if (!out->ipv4 && !out->ipv6 && any_family) {
		out->ipv4 = true;
		out->ipv6 = true;
	}
}

static enum st_istio_era st_era(const struct st_ictx *x)
{
	bool triplet = false;
	bool lo_in = false;
	bool lo_out = false;
	bool passthrough = false;

	if (st_ruleset_backend(x->rs) == ST_BACKEND_NFTABLES)
		return ST_ERA_NFTABLES;
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		if (ci->ck != CK_ISTIO_OUTPUT || ci->tk != TK_NAT)
			continue;
		for (unsigned int j = 0; j < ci->c->nrules; j++) {
			const struct st_rule *r = st_rule_at(x, ci, j);
			const struct st_cinfo *to = NULL;

			switch (r->role) {
			case ST_ROLE_PROXY_TO_OWN_POD_REDIRECT:
			case ST_ROLE_LOOPBACK_NON_PROXY_RETURN:
				triplet = true;
				break;
			case ST_ROLE_LOOPBACK_REDIRECT:
				to = st_find_ci(x, ci->c, r->target.chain);
				if (to != NULL && to->ck == CK_IN_REDIRECT)
					lo_in = true;
				else
					lo_out = true;
				break;
			case ST_ROLE_INBOUND_PASSTHROUGH_RETURN:
				passthrough = true;
				break;
			default:
				break;
			}
		}
	}
	if (triplet)
		return ST_ERA_NINE_RULE;
	if (lo_in || passthrough)
		return ST_ERA_SIX_RULE;
	if (lo_out)
		return ST_ERA_FIVE_RULE;
	return ST_ERA_UNKNOWN;
}

/* ---- notes ---- */

static void st_note_read_instead(struct st_ruleset *rs, const char *what,
				 char *note, size_t size)
{
	const char *w = st_ruleset_warnings(rs);
	bool legacy_present = false;

	/* The warnings are a NUL-separated list. */
	for (const char *p = w; *p != '\0'; p += strlen(p) + 1)
		if (strstr(p, "iptables-legacy tables present") != NULL)
			legacy_present = true;
	if (legacy_present) {
		snprintf(note, size,
			 "%s: this dump comes from iptables-nft-save, but the "
			 "pod's rules are in iptables-legacy; read them with "
			 "iptables-legacy-save instead",
			 what);
		return;
	}
	switch (st_ruleset_backend(rs)) {
	case ST_BACKEND_NFT:
		snprintf(note, size,
			 "%s in this iptables-nft-save dump; try "
			 "iptables-legacy-save (Istio 1.22-1.25.3 and older "
			 "pods) or nft -j list ruleset (native nftables)",
			 what);
		break;
	case ST_BACKEND_LEGACY:
		snprintf(note, size,
			 "%s in this iptables-legacy-save dump; try "
			 "iptables-nft-save (Istio 1.25.4+ pods) or nft -j "
			 "list ruleset (native nftables)",
			 what);
		break;
	case ST_BACKEND_NFTABLES:
		snprintf(note, size,
			 "%s in this nftables ruleset; try iptables-nft-save "
			 "or iptables-legacy-save",
			 what);
		break;
	case ST_BACKEND_UNKNOWN:
		snprintf(note, size, "%s in the input", what);
		break;
	}
}

/* 0.8-1.2: the lo rule ran before the uid check. */
static int st_loop_notes(struct st_ictx *x, char *err)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		for (unsigned int j = 0; j < ci->c->nrules; j++) {
			struct st_rule *r =
				st_ruleset_rule_mut(x->rs, ci->c->first + j);
			const struct st_cinfo *to = NULL;

			if (r->role != ST_ROLE_LOOPBACK_REDIRECT ||
			    !r->reachable || r->why != NULL)
				continue;
			to = st_find_ci(x, ci->c, r->target.chain);
			if (to == NULL || to->ck != CK_REDIRECT)
				continue;
			r->why = strdup(
				"comes before the proxy uid/gid "
				"returns, so Envoy's own connections "
				"to the pod IP are captured again (the "
				"loop Istio 1.3 removed with 127.0.0.6)");
			if (r->why == NULL)
				return st_err(err, ENOMEM,
					      "recogniser: out of memory");
		}
	}
	return 0;
}

/* In TPROXY mode the proxy runs as uid 0: its gid is what exempts it. */
static int st_tproxy_notes(struct st_ictx *x, char *err)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		for (unsigned int j = 0; j < ci->c->nrules; j++) {
			struct st_rule *r =
				st_ruleset_rule_mut(x->rs, ci->c->first + j);
			struct st_feat f;

			if (r->role != ST_ROLE_PROXY_GID_RETURN ||
			    !r->reachable || r->why != NULL)
				continue;
			st_features(r, &f);
			if (asprintf(&r->why,
				     "TPROXY mode: istio-proxy runs as uid 0 "
				     "gid %u, so this rule, not the uid rule, "
				     "lets Envoy's own traffic out",
				     f.gid) < 0) {
				r->why = NULL;
				return st_err(err, ENOMEM,
					      "recogniser: out of memory");
			}
		}
	}
	return 0;
}

/* Whether some chain is one of ztunnel's in the pod (not the node's). */
static bool st_ambient_in_pod(const struct st_ictx *x)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		if (ci->ck == CK_PRERT || ci->ck == CK_ISTIO_OUTPUT ||
		    strcmp(ci->c->name, "istio-prerouting") == 0)
			return true;
	}
	return false;
}

static bool st_has_role(const struct st_ictx *x, const enum st_role *roles,
			size_t n)
{
	for (size_t k = 0; k < x->nch; k++) {
		const struct st_cinfo *ci = &x->ci[k];

		for (unsigned int j = 0; j < ci->c->nrules; j++) {
			const struct st_rule *r = st_rule_at(x, ci, j);

			for (size_t i = 0; i < n; i++)
				if (r->role == roles[i])
					return true;
		}
	}
	return false;
}

int st_istio_analyze(struct st_ruleset *rs, struct st_istio_settings *out,
		     char *err)
{
	static const enum st_role sidecar[] = {
		ST_ROLE_OUTBOUND_ENTRY,	   ST_ROLE_INBOUND_ENTRY,
		ST_ROLE_OUTBOUND_CAPTURE,  ST_ROLE_INBOUND_CAPTURE,
		ST_ROLE_OUTBOUND_REDIRECT, ST_ROLE_INBOUND_REDIRECT,
		ST_ROLE_TPROXY_REDIRECT,   ST_ROLE_INCLUDED_CIDR,
	};
	struct st_ictx x;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.rs = rs;
	out->backend = st_ruleset_backend(rs);
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		struct st_rule *r = st_ruleset_rule_mut(rs, i);

		r->role = ST_ROLE_NONE;
	}
	ret = st_reach_analyze(rs, err);
	if (ret < 0)
		goto out;
	if (st_ruleset_nrules(rs) == 0) {
		out->kind = ST_ISTIO_NONE;
		st_note_read_instead(rs, "no rules at all", out->note,
				     sizeof(out->note));
		goto out;
	}
	ret = st_chains_scan(&x, err);
	if (ret < 0)
		goto out;
	if (!x.istio) {
		out->kind = ST_ISTIO_NONE;
		st_note_read_instead(rs, "no Istio rules (no ISTIO_* chain)",
				     out->note, sizeof(out->note));
		goto out;
	}
	st_prepass(&x);
	st_assign_roles(&x);
	if (x.ambient) {
		out->kind = ST_ISTIO_AMBIENT;
		st_ambient_settings(&x, out);
		st_strlcpy(out->note,
			   st_ambient_in_pod(&x)
				   ? "ambient (ztunnel) in-pod rules: this is "
				     "not a sidecar pod"
				   : "ambient rules of the node (kubelet probe "
				     "SNAT, or 1.18-1.20 ztunnel chains): this "
				     "is not a sidecar pod",
			   sizeof(out->note));
		goto out;
	}
	st_settings(&x, out);
	out->era = st_era(&x);
	if (!st_has_role(&x, sidecar, ST_ARRAY_SIZE(sidecar))) {
		out->kind = ST_ISTIO_UNRECOGNISED;
		st_strlcpy(out->note,
			   "Istio chains are present, but not in a form "
			   "described in doc/ISTIO-RULES.md",
			   sizeof(out->note));
		goto out;
	}
	out->kind = ST_ISTIO_SIDECAR;
	ret = st_loop_notes(&x, err);
	if (ret == 0 && out->mode == ST_MODE_TPROXY)
		ret = st_tproxy_notes(&x, err);
out:
	free(x.ci);
	return ret;
}

const char *st_istio_kind_name(enum st_istio_kind k)
{
	switch (k) {
	case ST_ISTIO_SIDECAR:
		return "sidecar";
	case ST_ISTIO_AMBIENT:
		return "ambient";
	case ST_ISTIO_UNRECOGNISED:
		return "unrecognised";
	case ST_ISTIO_NONE:
		break;
	}
	return "none";
}

const char *st_istio_mode_name(enum st_istio_mode m)
{
	return m == ST_MODE_TPROXY ? "TPROXY" : "REDIRECT";
}

const char *st_istio_era_name(enum st_istio_era e)
{
	switch (e) {
	case ST_ERA_FIVE_RULE:
		return "0.8-1.2 five-rule";
	case ST_ERA_SIX_RULE:
		return "1.3-1.4 six-rule";
	case ST_ERA_NINE_RULE:
		return "1.5+ nine-rule uid/gid";
	case ST_ERA_NFTABLES:
		return "1.27+ native nftables";
	case ST_ERA_UNKNOWN:
		break;
	}
	return "unknown";
}

bool st_istio_is_istio_chain(const char *name)
{
	return strncmp(name, "ISTIO_", 6) == 0 ||
	       strncmp(name, "istio-", 6) == 0;
}
