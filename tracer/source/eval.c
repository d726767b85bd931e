// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * eval.c - one first packet through the rules, and the legs the sidecar
 * opens after it (see eval.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "eval.h"
#include "match.h"

/* Netfilter refuses deeper jump stacks. */
#define EV_MAX_DEPTH 32
#define EV_MAX_BASE 64

/* Fixed source ports of the legs the sidecar opens (eval.h). */
#define EV_UPSTREAM_SPORT 45001
#define EV_PASSTHROUGH_SPORT 45002

enum ev_hook { EV_PRE = 0, EV_IN, EV_OUT, EV_POST };

static const char *const ev_hook_names[] = {
	[EV_PRE] = "prerouting",
	[EV_IN] = "input",
	[EV_OUT] = "output",
	[EV_POST] = "postrouting",
};

struct ev_state {
	const struct st_eval_env *env;
	const struct st_ruleset *rs;
	bool nft;
	struct st_match_pkt p;
	struct st_flow_leg *leg;
	struct st_eval_info *info;
	const char *nat_table;
	struct st_flow_ztunnel zt; /* an ambient pod's ztunnel, else zero */
	enum ev_hook hook;
	bool nat_done[2]; /* [0] destination NAT, [1] source NAT */
	bool stop;	  /* dropped or undecidable */
	bool tproxied;
	bool dst_changed;
};

const char *st_eval_verdict_name(enum st_eval_verdict v)
{
	switch (v) {
	case ST_EVAL_SENT:
		return "sent";
	case ST_EVAL_LOCAL:
		return "local";
	case ST_EVAL_DROPPED:
		return "dropped";
	case ST_EVAL_FORWARDED:
		return "forwarded";
	case ST_EVAL_UNDECIDABLE:
		return "undecidable";
	}
	return "unknown";
}

static size_t ev_alen(uint8_t family)
{
	return family == 6 ? 16 : 4;
}

/* The pod's own address of @family, or NULL. */
static const uint8_t *ev_pod_addr(const struct st_eval_env *env, uint8_t family)
{
	for (unsigned int i = 0; i < env->naddrs && i < ST_EVAL_MAX_ADDRS; i++)
		if (env->addrs[i].family == family)
			return env->addrs[i].addr;
	return NULL;
}

/* Local addresses are routed through lo (the local routing table). */
static bool ev_is_local(const struct st_eval_env *env, uint8_t family,
			const uint8_t *a)
{
	if (st_flow_addr_is_loopback(family, a))
		return true;
	for (unsigned int i = 0; i < env->naddrs && i < ST_EVAL_MAX_ADDRS; i++)
		if (env->addrs[i].family == family &&
		    st_prefix_contains(&env->addrs[i], family, a))
			return true;
	return false;
}

static const char *ev_dev(const struct st_eval_env *env)
{
	return env->dev != NULL && env->dev[0] != '\0' ? env->dev : "eth0";
}

static bool ev_table_has_nat(const struct st_ruleset *rs, const char *table)
{
	if (strcmp(table, "nat") == 0)
		return true;
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (r == NULL || strcmp(r->table, table) != 0)
			continue;
		switch (r->target.kind) {
		case ST_T_REDIRECT:
		case ST_T_DNAT:
		case ST_T_SNAT:
		case ST_T_MASQUERADE:
			return true;
		default:
			break;
		}
	}
	return false;
}

static void ev_undecidable(struct ev_state *s, const struct st_chain *c,
			   unsigned int rule, const char *what)
{
	snprintf(s->info->at, sizeof(s->info->at), "%s:%s:%u", c->table,
		 c->name, rule);
	s->info->verdict = ST_EVAL_UNDECIDABLE;
	if (!s->leg->incomplete) {
		s->leg->incomplete = true;
		snprintf(s->leg->why, sizeof(s->leg->why),
			 "undecidable at %s:%s:%u (%s)", c->table, c->name,
			 rule, what);
	}
	s->stop = true;
}

static void ev_dropped(struct ev_state *s, const struct st_chain *c,
		       unsigned int rule)
{
	snprintf(s->info->at, sizeof(s->info->at), "%s:%s:%u", c->table,
		 c->name, rule);
	s->info->verdict = ST_EVAL_DROPPED;
	s->stop = true;
}

static void ev_hop(struct ev_state *s, const struct st_chain *c,
		   const struct st_rule *r, enum st_hit_kind kind,
		   unsigned int rule)
{
	struct st_flow_leg *l = s->leg;
	struct st_flow_hop *h = NULL;

	if (l->nhops >= ST_FLOW_MAX_HOPS) {
		l->truncated = true;
		return;
	}
	h = &l->hops[l->nhops++];
	memset(h, 0, sizeof(*h));
	h->table = c->table;
	h->chain = c->name;
	h->r = r;
	h->rule = rule;
	h->chain_rules = c->nrules;
	h->kind = kind;
	h->builtin = c->builtin;
	h->istio = st_istio_is_istio_chain(c->name);
	l->records++;
	if (kind != ST_HIT_RULE || r == NULL)
		return;
	if (l->capture == ST_CAPTURE_NONE &&
	    (r->target.kind == ST_T_REDIRECT || r->target.kind == ST_T_TPROXY ||
	     (r->target.kind == ST_T_DNAT && r->role == ST_ROLE_DNS_CAPTURE))) {
		l->redirect_port =
			r->target.port_lo ? r->target.port_lo : s->p.dport;
		l->redirect_hop = (int)(h - l->hops);
		l->capture = s->zt.ambient
				     ? st_flow_ztunnel_capture(&s->zt,
							       l->redirect_port)
				     : st_flow_capture_of(s->env->set, r,
							  l->redirect_port);
	}
	if (r->role == ST_ROLE_PROXY_TO_OWN_POD_REDIRECT)
		l->own_pod = true;
}

static bool ev_policy_drops(const struct st_chain *c)
{
	return c->policy != NULL && strcasecmp(c->policy, "DROP") == 0;
}

/* Fell off or returned from base chain @base: its policy decides. */
static void ev_policy(struct ev_state *s, const struct st_chain *base)
{
	ev_hop(s, base, NULL, ST_HIT_POLICY, 0);
	if (ev_policy_drops(base))
		ev_dropped(s, base, 0);
}

static void ev_set_addr(uint8_t *dst, const uint8_t *src, uint8_t family)
{
	memset(dst, 0, 16);
	memcpy(dst, src, ev_alen(family));
}

static void ev_connmark(struct ev_state *s, const struct st_target *t)
{
	const char *x = t->text != NULL ? t->text : "";

	if (strstr(x, "restore") != NULL || strstr(x, "meta mark set ct") ||
	    strstr(x, "mark set ct mark") != NULL)
		s->p.mark = s->p.connmark;
	else if (strstr(x, "save") != NULL ||
		 strstr(x, "ct mark set mark") != NULL ||
		 strstr(x, "ct mark set meta mark") != NULL)
		s->p.connmark = s->p.mark;
	else
		s->p.connmark = (s->p.connmark & ~t->mask) ^ t->mark;
}

/*
 * A NAT/TPROXY target: rewrite the packet.  Return false when the rewrite
 * cannot be known (REDIRECT on an arriving packet of a pod whose address
 * we were not given).
 */
static bool ev_rewrite(struct ev_state *s, const struct st_target *t)
{
	static const uint8_t lo4[4] = {127, 0, 0, 1};
	static const uint8_t lo6[16] = {[15] = 1};
	const uint8_t *a = NULL;
	uint8_t fam = s->p.family;

	switch (t->kind) {
	case ST_T_REDIRECT:
		/* Locally generated: to the loopback address; arriving: to
		 * the primary address of the interface it came in on. */
		if (s->hook == EV_OUT || strcmp(s->p.iif, "lo") == 0)
			a = fam == 4 ? lo4 : lo6;
		else
			a = ev_pod_addr(s->env, fam);
		if (a == NULL)
			return false;
		ev_set_addr(s->p.dst, a, fam);
		if (t->port_lo != 0)
			s->p.dport = t->port_lo;
		s->dst_changed = true;
		break;
	case ST_T_DNAT:
		if (t->addr.family == fam) {
			ev_set_addr(s->p.dst, t->addr.addr, fam);
			s->dst_changed = true;
		}
		if (t->port_lo != 0) {
			s->p.dport = t->port_lo;
			s->dst_changed = true;
		}
		break;
	case ST_T_SNAT:
		if (t->addr.family == fam)
			ev_set_addr(s->p.src, t->addr.addr, fam);
		if (t->port_lo != 0)
			s->p.sport = t->port_lo;
		break;
	case ST_T_MASQUERADE:
		a = ev_pod_addr(s->env, fam);
		if (a != NULL)
			ev_set_addr(s->p.src, a, fam);
		break;
	case ST_T_TPROXY:
		/* Delivered to the proxy's socket; the header stays. */
		s->p.mark = (s->p.mark & ~t->mask) ^ t->mark;
		s->tproxied = true;
		break;
	default:
		break;
	}
	return true;
}

struct ev_frame {
	const struct st_chain *c;
	unsigned int next;
};

/* One table's traversal from base chain @base. */
static void ev_table(struct ev_state *s, const struct st_chain *base)
{
	struct ev_frame stack[EV_MAX_DEPTH];
	unsigned int depth = 0;
	const struct st_chain *c = base;
	unsigned int i = 0;

	for (;;) {
		const struct st_rule *r = NULL;
		const struct st_target *t = NULL;
		const struct st_chain *to = NULL;
		enum st_match_result m = ST_MATCH_NO;
		unsigned int which = 0;

		if (i >= c->nrules) {
			if (c == base && depth == 0) {
				ev_policy(s, base);
				return;
			}
			ev_hop(s, c, NULL, ST_HIT_RETURN, c->nrules + 1);
			if (depth == 0) {
				/* A goto from the base chain came back. */
				ev_policy(s, base);
				return;
			}
			depth--;
			c = stack[depth].c;
			i = stack[depth].next;
			continue;
		}
		r = st_ruleset_rule(s->rs, c->first + i);
		if (r == NULL) {
			ev_undecidable(s, c, i + 1, "rule missing");
			return;
		}
		m = st_match_rule(r, &s->p, s->nft, &which);
		if (m == ST_MATCH_NO) {
			i++;
			continue;
		}
		if (m == ST_MATCH_UNKNOWN) {
			const struct st_match *um = &r->matches[which];
			char what[96];

			snprintf(what, sizeof(what), "cannot evaluate '%s'",
				 um->text != NULL ? um->text : "a match");
			ev_undecidable(s, c, r->number, what);
			return;
		}
		ev_hop(s, c, r, ST_HIT_RULE, r->number);
		t = &r->target;
		switch (t->kind) {
		case ST_T_JUMP:
		case ST_T_GOTO:
			to = t->chain != NULL
				     ? st_ruleset_find_chain(s->rs, c->table,
							     t->chain,
							     c->family)
				     : NULL;
			if (to == NULL) {
				ev_undecidable(s, c, r->number,
					       "jump to a chain that is not "
					       "in the rules");
				return;
			}
			if (t->kind == ST_T_JUMP) {
				if (depth == EV_MAX_DEPTH) {
					ev_undecidable(s, c, r->number,
						       "calls nested too "
						       "deep");
					return;
				}
				stack[depth].c = c;
				stack[depth].next = i + 1;
				depth++;
			}
			c = to;
			i = 0;
			continue;
		case ST_T_RETURN:
			if (depth == 0) {
				/* From a base chain (or what it went to):
				 * the policy applies. */
				ev_policy(s, base);
				return;
			}
			depth--;
			c = stack[depth].c;
			i = stack[depth].next;
			continue;
		case ST_T_ACCEPT:
			return;
		case ST_T_DROP:
		case ST_T_REJECT:
			ev_dropped(s, c, r->number);
			return;
		case ST_T_REDIRECT:
		case ST_T_DNAT:
		case ST_T_SNAT:
		case ST_T_MASQUERADE:
		case ST_T_TPROXY:
			if (!ev_rewrite(s, t))
				ev_undecidable(s, c, r->number,
					       "REDIRECT of an arriving packet "
					       "needs the pod's address");
			return;
		case ST_T_MARK:
			s->p.mark = (s->p.mark & ~t->mask) ^ t->mark;
			break;
		case ST_T_CONNMARK:
			ev_connmark(s, t);
			break;
		case ST_T_NONE:
		case ST_T_NFLOG:
		case ST_T_LOG:
		case ST_T_TRACE:
		case ST_T_CT:
			break;
		case ST_T_UNKNOWN:
		default:
			ev_undecidable(s, c, r->number, "unknown target");
			return;
		}
		i++;
	}
}

static int ev_cmp_prio(const void *a, const void *b)
{
	const struct st_chain *x = *(const struct st_chain *const *)a;
	const struct st_chain *y = *(const struct st_chain *const *)b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Every base chain of @hook for the packet's family, by priority. */
static void ev_hook(struct ev_state *s, enum ev_hook hook)
{
	const struct st_chain *base[EV_MAX_BASE];
	size_t n = 0;
	bool src_nat = hook == EV_IN || hook == EV_POST;

	s->hook = hook;
	for (size_t i = 0; i < st_ruleset_nchains(s->rs) && n < EV_MAX_BASE;
	     i++) {
		const struct st_chain *c = st_ruleset_chain(s->rs, i);

		if (c == NULL || !c->builtin || c->hook == NULL ||
		    strcasecmp(c->hook, ev_hook_names[hook]) != 0)
			continue;
		if (c->family != ST_FAMILY_ANY && c->family != s->p.family)
			continue;
		base[n++] = c;
	}
	/* Chains are distinct objects in one array: address order is the
	 * ruleset's order, which breaks priority ties stably. */
	qsort(base, n, sizeof(base[0]), ev_cmp_prio);
	for (size_t i = 0; i < n && !s->stop; i++) {
		if (ev_table_has_nat(s->rs, base[i]->table)) {
			/* NAT is looked up once per connection and
			 * direction of translation. */
			if (s->nat_done[src_nat])
				continue;
			s->info->nat_walked = true;
		}
		ev_table(s, base[i]);
	}
	/* Even without a nat chain the binding is made (a null one). */
	s->nat_done[src_nat] = true;
}

static bool ev_tproxy_route(const struct ev_state *s)
{
	const struct st_istio_settings *set = s->env->set;

	return set != NULL && set->mode == ST_MODE_TPROXY &&
	       set->tproxy_mark != 0 && s->p.mark == set->tproxy_mark;
}

static void ev_copy_dev(char *dst, const char *src)
{
	if (dst[0] == '\0' && src[0] != '\0')
		st_strlcpy(dst, src, 16);
}

int st_eval_packet(const struct st_eval_env *env, const struct st_eval_pkt *pkt,
		   struct st_flow_leg *leg, struct st_eval_info *info,
		   char *err)
{
	struct ev_state s;
	const struct st_istio_settings *set = env->set;

	if (pkt->family != 4 && pkt->family != 6)
		return st_err(err, EINVAL, "simulate: family must be 4 or 6");
	memset(&s, 0, sizeof(s));
	memset(leg, 0, sizeof(*leg));
	memset(info, 0, sizeof(*info));
	s.env = env;
	s.rs = env->rs;
	s.nft = st_ruleset_backend(env->rs) == ST_BACKEND_NFTABLES;
	s.leg = leg;
	s.info = info;
	s.nat_table = st_flow_nat_table(env->rs);
	st_flow_ztunnel_of(env->rs, set, &s.zt);

	leg->family = pkt->family;
	leg->proto = pkt->proto;
	leg->sport = pkt->sport;
	leg->dport = pkt->dport;
	memcpy(leg->src, pkt->src, ev_alen(pkt->family));
	memcpy(leg->dst, pkt->dst, ev_alen(pkt->family));
	leg->has_uid = pkt->outgoing && pkt->has_sock;
	leg->has_gid = leg->has_uid;
	leg->uid = leg->has_uid ? pkt->uid : 0;
	leg->gid = leg->has_gid ? pkt->gid : 0;
	leg->mark = pkt->mark;
	leg->arriving = !pkt->outgoing;
	/* has_gid is has_uid: a socket of the proxy's uid or gid. */
	leg->ztunnel = st_flow_ztunnel_marked(&s.zt, pkt->mark);
	leg->proxy =
		(set != NULL && st_flow_leg_is_proxy(set, leg)) || leg->ztunnel;
	leg->passthrough_src =
		st_flow_addr_is_passthrough(pkt->family, pkt->src);
	/* The rules leave HBONE alone: it reaches ztunnel's listener. */
	if (s.zt.ambient && leg->arriving && leg->proto == IPPROTO_TCP &&
	    s.zt.hbone_port != 0 && leg->dport == s.zt.hbone_port) {
		leg->capture = ST_CAPTURE_TUNNEL;
		leg->redirect_port = leg->dport;
	}
	leg->redirect_hop = -1;
	leg->decision_hop = -1;
	leg->packets = 1;

	s.p.family = pkt->family;
	s.p.proto = pkt->proto;
	ev_set_addr(s.p.src, pkt->src, pkt->family);
	ev_set_addr(s.p.dst, pkt->dst, pkt->family);
	s.p.sport = pkt->sport;
	s.p.dport = pkt->dport;
	s.p.mark = pkt->mark;
	s.p.ctstate = ST_CT_NEW;

	if (pkt->outgoing) {
		s.p.has_sock = pkt->has_sock;
		s.p.uid = pkt->uid;
		s.p.gid = pkt->gid;
		/* Routed before OUTPUT: local destinations go via lo. */
		if (pkt->oif[0] != '\0')
			st_strlcpy(s.p.oif, pkt->oif, sizeof(s.p.oif));
		else if (ev_is_local(env, s.p.family, s.p.dst))
			st_strlcpy(s.p.oif, "lo", sizeof(s.p.oif));
		else
			st_strlcpy(s.p.oif, ev_dev(env), sizeof(s.p.oif));
		ev_copy_dev(leg->outdev, s.p.oif);
		ev_hook(&s, EV_OUT);
		if (s.stop)
			goto out;
		/* Re-routed when NAT or a mark changed where it goes. */
		if ((s.dst_changed && ev_is_local(env, s.p.family, s.p.dst)) ||
		    ev_tproxy_route(&s))
			st_strlcpy(s.p.oif, "lo", sizeof(s.p.oif));
		else if (s.dst_changed && pkt->oif[0] == '\0')
			st_strlcpy(s.p.oif, ev_dev(env), sizeof(s.p.oif));
		ev_hook(&s, EV_POST);
		if (s.stop)
			goto out;
		st_strlcpy(info->oif, s.p.oif, sizeof(info->oif));
		if (strcmp(s.p.oif, "lo") != 0) {
			info->verdict = ST_EVAL_SENT;
			goto out;
		}
		/* Back in over lo, orphaned: no socket any more. */
		info->via_lo = true;
		st_strlcpy(s.p.iif, "lo", sizeof(s.p.iif));
		s.p.oif[0] = '\0';
		s.p.has_sock = false;
		ev_copy_dev(leg->indev, "lo");
	} else {
		st_strlcpy(s.p.iif, pkt->iif[0] ? pkt->iif : ev_dev(env),
			   sizeof(s.p.iif));
		ev_copy_dev(leg->indev, s.p.iif);
	}
	ev_hook(&s, EV_PRE);
	if (s.stop)
		goto out;
	if (!s.tproxied && !ev_tproxy_route(&s) &&
	    !ev_is_local(env, s.p.family, s.p.dst) &&
	    strcmp(s.p.iif, "lo") != 0) {
		info->verdict = ST_EVAL_FORWARDED;
		goto out;
	}
	ev_hook(&s, EV_IN);
	if (!s.stop)
		info->verdict = ST_EVAL_LOCAL;
out:
	ev_set_addr(info->src, s.p.src, s.p.family);
	ev_set_addr(info->dst, s.p.dst, s.p.family);
	info->sport = s.p.sport;
	info->dport = s.p.dport;
	info->mark = s.p.mark;
	st_flow_leg_decide(s.nat_table, leg);
	return 0;
}

/* The proxy's ids: TPROXY mode runs it as uid 0 with the proxy gid. */
static void ev_proxy_ids(const struct st_istio_settings *set, uint32_t *uid,
			 uint32_t *gid)
{
	*uid = set->nproxy_uids > 0 ? set->proxy_uids[0] : 1337;
	*gid = set->nproxy_gids > 0 ? set->proxy_gids[0] : *uid;
	if (set->mode == ST_MODE_TPROXY)
		*uid = 0;
}

static void ev_spec_pkt(const struct st_simspec *spec, struct st_eval_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->family = spec->family;
	p->proto = spec->proto;
	memcpy(p->src, spec->src, sizeof(p->src));
	memcpy(p->dst, spec->dst, sizeof(p->dst));
	p->sport = spec->sport;
	p->dport = spec->dport;
	p->outgoing = spec->outgoing;
	p->has_sock = spec->outgoing && (spec->has_uid || spec->has_gid);
	p->uid = spec->uid;
	p->gid = spec->gid;
	p->mark = spec->has_mark ? spec->mark : 0;
	st_strlcpy(p->iif, spec->iif, sizeof(p->iif));
	st_strlcpy(p->oif, spec->oif, sizeof(p->oif));
}

/*
 * Where a service VIP maps leg @l's destination, that endpoint becomes
 * @p's destination: true; false when no VIP of @env is @l's.
 */
static bool ev_vip_endpoint(const struct st_eval_env *env,
			    const struct st_flow_leg *l, struct st_eval_pkt *p)
{
	size_t len = ev_alen(l->family);

	for (unsigned int i = 0; i < env->nvips && i < ST_EVAL_MAX_VIPS; i++) {
		const struct st_eval_vip *v = &env->vips[i];

		if (v->family != l->family || v->vport != l->dport ||
		    memcmp(v->vip, l->dst, len) != 0)
			continue;
		memcpy(p->dst, v->ep, len);
		p->dport = v->eport;
		return true;
	}
	return false;
}

/* The next leg the sidecar opens after leg @l, or false when none. */
static bool ev_next_leg(const struct st_eval_env *env,
			const struct st_flow_leg *l, struct st_eval_pkt *p)
{
	static const uint8_t pt4[4] = {127, 0, 0, 6};
	static const uint8_t pt6[16] = {[15] = 6};
	const uint8_t *pod = ev_pod_addr(env, l->family);
	size_t len = ev_alen(l->family);
	struct st_flow_ztunnel z;

	if (l->incomplete || l->proto != IPPROTO_TCP)
		return false;
	memset(p, 0, sizeof(*p));
	p->family = l->family;
	p->proto = l->proto;
	p->outgoing = true;
	p->has_sock = true;
	ev_proxy_ids(env->set, &p->uid, &p->gid);
	memcpy(p->dst, l->dst, len);
	p->dport = l->dport;
	/* ztunnel: its mark on every socket, the client's address kept. */
	st_flow_ztunnel_of(env->rs, env->set, &z);
	if (z.ambient)
		p->mark = z.mark;
	if (z.ambient && l->capture == ST_CAPTURE_INBOUND) {
		memcpy(p->src, l->src, len);
		p->sport = EV_PASSTHROUGH_SPORT;
		return true;
	}
	/* HBONE: the tunnel's inner destination, as a VIP maps it. */
	if (z.ambient && l->capture == ST_CAPTURE_TUNNEL) {
		memcpy(p->src, l->src, len);
		p->sport = EV_PASSTHROUGH_SPORT;
		return ev_vip_endpoint(env, l, p);
	}
	if (l->capture == ST_CAPTURE_OUTBOUND) {
		if (pod == NULL)
			return false;
		memcpy(p->src, pod, len);
		p->sport = EV_UPSTREAM_SPORT;
		ev_vip_endpoint(env, l, p);
		return true;
	}
	if (l->capture == ST_CAPTURE_INBOUND) {
		memcpy(p->src, l->family == 4 ? pt4 : pt6, len);
		p->sport = EV_PASSTHROUGH_SPORT;
		return true;
	}
	return false;
}

int st_eval_flow(const struct st_eval_env *env, const struct st_simspec *spec,
		 struct st_eval_result *res, char *err)
{
	struct st_eval_pkt p;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (env == NULL || env->rs == NULL || env->set == NULL || spec == NULL)
		return st_err(err, EINVAL, "simulate: no rules");
	ev_spec_pkt(spec, &p);
	for (unsigned int i = 0; i < ST_FLOW_MAX_LEGS; i++) {
		struct st_flow_leg *l = &res->flow.legs[i];

		ret = st_eval_packet(env, &p, l, &res->info[i], err);
		if (ret < 0)
			return ret;
		res->flow.nlegs = i + 1;
		if (res->info[i].nat_walked)
			snprintf(res->note, sizeof(res->note),
				 "nat chains are consulted only for the first "
				 "packet of a connection: the paths shown are "
				 "those of first packets");
		if (i + 1 == ST_FLOW_MAX_LEGS || !ev_next_leg(env, l, &p))
			break;
	}
	res->flow.id = 1;
	st_class_flow(&res->flow, env->set);
	return 0;
}

static void ev_addr(struct st_prefix *p, uint8_t family, const char *s)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->plen = family == 4 ? 32 : 128;
	inet_pton(family == 4 ? AF_INET : AF_INET6, s, p->addr);
}

static void ev_vip(struct st_eval_vip *v, uint8_t family, const char *vip,
		   uint16_t vport, const char *ep, uint16_t eport)
{
	int af = family == 4 ? AF_INET : AF_INET6;

	memset(v, 0, sizeof(*v));
	v->family = family;
	inet_pton(af, vip, v->vip);
	v->vport = vport;
	inet_pton(af, ep, v->ep);
	v->eport = eport;
}

void st_eval_env_lab(struct st_eval_env *env, const struct st_ruleset *rs,
		     const struct st_istio_settings *set)
{
	memset(env, 0, sizeof(*env));
	env->rs = rs;
	env->set = set;
	env->dev = "eth0";
	ev_addr(&env->addrs[env->naddrs++], 4, "10.244.1.10");
	ev_addr(&env->addrs[env->naddrs++], 6, "fd00:244::1:10");
	ev_vip(&env->vips[env->nvips++], 4, "10.96.0.30", 9081, "10.244.1.10",
	       9081);
	ev_vip(&env->vips[env->nvips++], 6, "fd00:96::30", 9081,
	       "fd00:244::1:10", 9081);
	ev_vip(&env->vips[env->nvips++], 4, "10.96.0.20", 9080, "10.244.2.20",
	       9080);
	ev_vip(&env->vips[env->nvips++], 6, "fd00:96::20", 9080,
	       "fd00:244::2:20", 9080);
	ev_vip(&env->vips[env->nvips++], 4, "10.96.0.40", 15012, "10.244.4.40",
	       15012);
	/* What the lab's ztunnel stand-in relays HBONE to: the app's 9080. */
	ev_vip(&env->vips[env->nvips++], 4, "10.244.1.10", 15008, "10.244.1.10",
	       9080);
}
