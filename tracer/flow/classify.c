// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * classify.c - the six traffic types from a flow's legs (see
 * classify.h).  Only roles, settings and the Prometheus / istiod port
 * facts of doc/PORTS.md are used: never a rule number.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "classify.h"
#include "flow.h"

/* Envoy stats and pilot-agent's merged metrics (doc/PORTS.md). */
static const uint16_t st_prometheus_ports[] = {15090, 15020};
/* istiod XDS/CA over mTLS, and plaintext (doc/PORTS.md). */
static const uint16_t st_istiod_ports[] = {15012, 15010};

static const char *const st_type_names[ST_TYPE_MAX + 1] = {
	"other",
	"remote-to-local",
	"local-to-remote",
	"prometheus-scrape",
	"local-to-local",
	"envoy-interprocess",
	"sidecar-to-istiod",
	"ambient-outbound",
	"ambient-inbound-hbone",
	"ambient-inbound-plain",
	"ambient-local-to-local",
	"ambient-kubelet-probe",
	"ambient-dns",
	"ztunnel-own",
};

static const char *const st_class_names[ST_CLASS__MAX] = {
	[ST_CLASS_NONE] = "none",
	[ST_CLASS_BYPASS] = "bypass",
	[ST_CLASS_EXCLUDED_PORT] = "excluded-port",
	[ST_CLASS_EXCLUDED_CIDR] = "excluded-cidr",
	[ST_CLASS_DNS_CAPTURE] = "dns-capture",
	[ST_CLASS_PROXY_DIRECT] = "proxy-direct",
	[ST_CLASS_INCOMPLETE] = "incomplete",
	[ST_CLASS_UNKNOWN] = "unknown",
};

bool st_class_stats_ambient(const struct st_flow_stats *st)
{
	if (st->ambient)
		return true;
	for (int t = ST_TYPE_AMBIENT_MIN; t <= ST_TYPE_MAX; t++)
		if (st->by_type[t] > 0)
			return true;
	return false;
}

const char *st_class_type_name(int type)
{
	if (type < 0 || type > ST_TYPE_MAX)
		return st_type_names[0];
	return st_type_names[type];
}

const char *st_class_name(enum st_class c, int type)
{
	if (c == ST_CLASS_NONE)
		return st_class_type_name(type);
	if ((unsigned int)c >= ST_CLASS__MAX)
		return st_class_names[ST_CLASS_UNKNOWN];
	return st_class_names[c];
}

bool st_class_is_prometheus_port(uint16_t port,
				 const struct st_istio_settings *set)
{
	bool prom = false;

	for (size_t i = 0; i < ST_ARRAY_SIZE(st_prometheus_ports); i++)
		if (port == st_prometheus_ports[i])
			prom = true;
	if (!prom || set == NULL || set->ninbound_excluded == 0)
		return prom;
	for (unsigned int i = 0; i < set->ninbound_excluded && i < ST_MAX_LIST;
	     i++)
		if (set->inbound_excluded_ports[i] == port)
			return true;
	return false;
}

bool st_class_is_istiod_port(uint16_t port)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_istiod_ports); i++)
		if (port == st_istiod_ports[i])
			return true;
	return false;
}

static void st_class_set(struct st_flow *f, int type, enum st_class c,
			 const char *fmt, ...) __st_printf(4, 5);

static void st_class_set(struct st_flow *f, int type, enum st_class c,
			 const char *fmt, ...)
{
	va_list ap;

	f->type = type;
	f->klass = c;
	f->reason[0] = '\0';
	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
}

static bool st_same_dst(const struct st_flow_leg *a,
			const struct st_flow_leg *b)
{
	return a->family == b->family && a->dport == b->dport &&
	       memcmp(a->dst, b->dst, a->family == 6 ? 16 : 4) == 0;
}

/* @p is the leg that delivers @c's inbound capture to the app. */
static bool st_is_inbound_partner(const struct st_flow_leg *c,
				  const struct st_flow_leg *p,
				  const struct st_istio_settings *set)
{
	if (p->capture != ST_CAPTURE_NONE)
		return false;
	/* Before Istio 1.10 Envoy forwarded inbound to 127.0.0.1:port. */
	if (p->proxy && st_flow_addr_is_loopback(p->family, p->dst) &&
	    p->family == c->family && p->dport == c->dport)
		return true;
	if (!st_same_dst(c, p))
		return false;
	if (p->passthrough_src)
		return true;
	return set->mode == ST_MODE_TPROXY && p->proxy &&
	       memcmp(c->src, p->src, c->family == 6 ? 16 : 4) == 0;
}

static const struct st_flow_hop *st_decision(const struct st_flow_leg *l)
{
	if (l->decision_hop < 0 || (unsigned int)l->decision_hop >= l->nhops)
		return NULL;
	return &l->hops[l->decision_hop];
}

/* "nat:ISTIO_OUTPUT rule 3 (loopback-non-proxy-return)" */
static void st_hop_text(const struct st_flow_hop *h, char *buf, size_t size)
{
	if (h == NULL) {
		snprintf(buf, size, "no Istio rule");
		return;
	}
	if (h->kind != ST_HIT_RULE) {
		snprintf(buf, size, "the end of %s:%s", h->table, h->chain);
		return;
	}
	if (h->r != NULL && h->r->role != ST_ROLE_NONE)
		snprintf(buf, size, "%s:%s rule %u (%s)", h->table, h->chain,
			 h->rule, st_role_name(h->r->role));
	else
		snprintf(buf, size, "%s:%s rule %u", h->table, h->chain,
			 h->rule);
}

static enum st_role st_decision_role(const struct st_flow_leg *l)
{
	const struct st_flow_hop *h = st_decision(l);

	return h != NULL && h->r != NULL ? h->r->role : ST_ROLE_NONE;
}

/* A RETURN whose rule matches the leg's destination port explicitly. */
static bool st_is_port_exclusion(const struct st_flow_leg *l)
{
	const struct st_flow_hop *h = st_decision(l);

	if (h == NULL || h->r == NULL)
		return false;
	if (h->r->role == ST_ROLE_INBOUND_PORT_EXCLUSION)
		return true;
	if (h->r->role != ST_ROLE_NONE || h->r->target.kind != ST_T_RETURN)
		return false;
	for (unsigned int i = 0; i < h->r->nmatches; i++) {
		const struct st_match *m = &h->r->matches[i];

		if (m->kind != ST_M_DPORT || m->neg)
			continue;
		for (unsigned int k = 0; k < m->nports; k++)
			if (l->dport >= m->ports[k].lo &&
			    l->dport <= m->ports[k].hi)
				return true;
	}
	return false;
}

static void st_class_arriving(struct st_flow *f, const struct st_flow_leg *l,
			      const struct st_istio_settings *set,
			      const char *by)
{
	switch (st_decision_role(l)) {
	case ST_ROLE_INBOUND_TUNNEL_EXCLUSION:
		st_class_set(f, 0, ST_CLASS_EXCLUDED_PORT,
			     "inbound port %u (HBONE tunnel) is excluded from "
			     "capture by %s",
			     l->dport, by);
		return;
	case ST_ROLE_EXCLUDED_INTERFACE:
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "arrived on excluded interface %s: returned by %s",
			     l->indev[0] ? l->indev : "?", by);
		return;
	default:
		break;
	}
	if (st_is_port_exclusion(l)) {
		if (st_class_is_prometheus_port(l->dport, set)) {
			st_class_set(f, 3, ST_CLASS_NONE, NULL);
			return;
		}
		st_class_set(f, 0, ST_CLASS_EXCLUDED_PORT,
			     "inbound port %u is excluded from capture by %s",
			     l->dport, by);
		return;
	}
	st_class_set(f, 0, ST_CLASS_BYPASS,
		     "arriving connection not captured: %s let it through", by);
}

static void st_class_proxy(struct st_flow *f, const struct st_flow_leg *l,
			   const char *by, const char *dst)
{
	if (st_flow_addr_is_loopback(l->family, l->dst)) {
		st_class_set(f, 5, ST_CLASS_NONE, NULL);
		return;
	}
	if (l->passthrough_src) {
		st_class_set(f, 0, ST_CLASS_PROXY_DIRECT,
			     "from the inbound passthrough address to %s, but "
			     "no captured inbound leg to it was waiting (%s)",
			     dst, by);
		return;
	}
	if (st_class_is_istiod_port(l->dport) && l->outdev[0] != '\0' &&
	    strcmp(l->outdev, "lo") != 0) {
		st_class_set(f, 6, ST_CLASS_NONE, NULL);
		return;
	}
	if (f->fits > 1)
		st_class_set(
			f, 0, ST_CLASS_PROXY_DIRECT,
			"connection of the proxy uid/gid to %s (%s): Envoy "
			"opened it for one of %u requests then waiting, "
			"which one is not known (it pools connections; "
			"--envoy-log tells)",
			dst, by, f->fits);
	else
		st_class_set(f, 0, ST_CLASS_PROXY_DIRECT,
			     "connection of the proxy uid/gid to %s stitched "
			     "to no captured leg (%s); a process running as "
			     "the proxy uid looks the same",
			     dst, by);
}

static void st_class_local(struct st_flow *f, const struct st_flow_leg *l,
			   const char *by, const char *dst)
{
	const struct st_flow_hop *h = st_decision(l);

	switch (st_decision_role(l)) {
	case ST_ROLE_LOOPBACK_NON_PROXY_RETURN:
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "returned by %s: a connection over lo to %s that "
			     "is not the proxy's bypasses Envoy",
			     by, dst);
		return;
	case ST_ROLE_EXCLUDED_CIDR:
	case ST_ROLE_OUTBOUND_DEFAULT_RETURN:
		st_class_set(f, 0, ST_CLASS_EXCLUDED_CIDR,
			     "destination %s is outside the captured CIDRs: "
			     "returned by %s",
			     dst, by);
		return;
	case ST_ROLE_EXCLUDED_OUTBOUND_PORT:
		st_class_set(f, 0, ST_CLASS_EXCLUDED_PORT,
			     "outbound port %u is excluded from capture by %s",
			     l->dport, by);
		return;
	case ST_ROLE_EXCLUDED_INTERFACE:
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "leaves through excluded interface %s: returned "
			     "by %s",
			     l->outdev[0] ? l->outdev : "?", by);
		return;
	default:
		break;
	}
	if (h == NULL)
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "not captured: no Istio rule sent it to Envoy "
			     "(to %s)",
			     dst);
	else
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "not captured: returned by %s (to %s)", by, dst);
}

/*
 * Envoy's side was a pooled connection: no new leg of the proxy followed a
 * captured one within the window.  @to: where that connection goes;
 * @unsure: what else may be true, or NULL.  Names the connection when its
 * first packet was seen.
 */
static void st_class_reused(struct st_flow *f, int type, const char *to,
			    const char *unsure)
{
	const struct st_flow_conn *c = &f->pooled;
	char src[ST_FLOW_ADDR_SIZE];
	char dst[ST_FLOW_ADDR_SIZE];

	f->side = ST_SIDE_REUSED;
	if (!c->known) {
		st_class_set(f, type, ST_CLASS_NONE,
			     "Envoy reused a pooled connection %s (no new "
			     "one followed; which one is not known)%s%s",
			     to, unsure != NULL ? "; " : "",
			     unsure != NULL ? unsure : "");
		return;
	}
	st_flow_addr_format(c->family, c->src, c->sport, src, sizeof(src));
	st_flow_addr_format(c->family, c->dst, c->dport, dst, sizeof(dst));
	if (c->flow_id == 0)
		st_class_set(f, type, ST_CLASS_NONE,
			     "Envoy reused a pooled connection %s, likely %s "
			     "-> %s, opened by a flow not yet complete",
			     to, src, dst);
	else
		st_class_set(f, type, ST_CLASS_NONE,
			     "Envoy reused a pooled connection %s, likely %s "
			     "-> %s opened in flow %" PRIu64,
			     to, src, dst, c->flow_id);
}

static void st_class_single(struct st_flow *f,
			    const struct st_istio_settings *set)
{
	const struct st_flow_leg *l = &f->legs[0];
	char by[160];
	char dst[ST_FLOW_ADDR_SIZE];

	st_hop_text(st_decision(l), by, sizeof(by));
	st_flow_addr_format(l->family, l->dst, l->dport, dst, sizeof(dst));
	if (f->lost_meanwhile && (l->capture == ST_CAPTURE_OUTBOUND ||
				  l->capture == ST_CAPTURE_INBOUND)) {
		st_class_set(f, 0, ST_CLASS_INCOMPLETE,
			     "captured to port %u, but its partner leg was not "
			     "seen and records were lost meanwhile",
			     l->redirect_port);
		return;
	}
	switch (l->capture) {
	case ST_CAPTURE_DNS:
		st_class_set(f, 0, ST_CLASS_DNS_CAPTURE,
			     "DNS to %s redirected to the DNS proxy port %u by "
			     "%s",
			     dst, l->redirect_port, by);
		return;
	case ST_CAPTURE_OUTBOUND:
		if (f->timed_out && f->pooled.own_pod) {
			st_class_reused(f, 4, "to this pod", NULL);
			return;
		}
		if (f->timed_out) {
			/* A service VIP may have this pod as its endpoint. */
			st_class_reused(f, 2, "upstream",
					f->pooled.known
						? NULL
						: "local-to-local (4) if the "
						  "destination is a service "
						  "of this very pod");
			return;
		}
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "captured to Envoy %u (outbound) by %s, but no "
			     "upstream leg of the proxy followed",
			     l->redirect_port, by);
		return;
	case ST_CAPTURE_INBOUND:
		if (f->timed_out && l->own_pod) {
			st_class_reused(f, 4, "to the app",
					"the app's own connection to Envoy "
					"was kept alive from before the trace");
			return;
		}
		if (f->timed_out && l->arriving) {
			st_class_reused(f, 1, "to the app", NULL);
			return;
		}
		if (l->own_pod)
			st_class_set(f, 0, ST_CLASS_UNKNOWN,
				     "the proxy's connection to its own pod "
				     "IP %s was redirected to %u, with no app "
				     "leg before it nor a passthrough leg "
				     "after it",
				     dst, l->redirect_port);
		else
			st_class_set(f, 0, ST_CLASS_UNKNOWN,
				     "captured to Envoy %u (inbound) by %s, "
				     "but no leg from the passthrough address "
				     "to %s followed",
				     l->redirect_port, by, dst);
		return;
	case ST_CAPTURE_OTHER:
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "redirected to port %u by %s, which is not a "
			     "sidecar capture port",
			     l->redirect_port, by);
		return;
	default:
		break;
	}
	if (l->arriving)
		st_class_arriving(f, l, set, by);
	else if (l->proxy)
		st_class_proxy(f, l, by, dst);
	else
		st_class_local(f, l, by, dst);
}

/* An arriving leg accepted by a rule for one source host: the probe. */
static bool st_is_probe_accept(const struct st_flow_leg *l)
{
	const struct st_flow_hop *h = st_decision(l);

	if (h == NULL || h->r == NULL || h->kind != ST_HIT_RULE ||
	    h->r->target.kind != ST_T_ACCEPT || !l->arriving)
		return false;
	for (unsigned int i = 0; i < h->r->nmatches; i++) {
		const struct st_match *m = &h->r->matches[i];

		if (m->kind == ST_M_SRC && !m->neg &&
		    m->addr.plen == (m->addr.family == 6 ? 128 : 32))
			return true;
	}
	return false;
}

/* A leg to an address of this pod that is not loopback, over lo. */
static bool st_is_to_pod(const struct st_flow_leg *l)
{
	return strcmp(l->outdev, "lo") == 0 &&
	       !st_flow_addr_is_loopback(l->family, l->dst);
}

static void st_class_ambient_single(struct st_flow *f)
{
	const struct st_flow_leg *l = &f->legs[0];
	char by[160];
	char src[ST_FLOW_ADDR_SIZE];
	char dst[ST_FLOW_ADDR_SIZE];

	st_hop_text(st_decision(l), by, sizeof(by));
	st_flow_addr_format(l->family, l->src, l->sport, src, sizeof(src));
	st_flow_addr_format(l->family, l->dst, l->dport, dst, sizeof(dst));
	if (f->lost_meanwhile && (l->capture == ST_CAPTURE_OUTBOUND ||
				  l->capture == ST_CAPTURE_INBOUND ||
				  l->capture == ST_CAPTURE_TUNNEL)) {
		st_class_set(f, 0, ST_CLASS_INCOMPLETE,
			     "for ztunnel's port %u, but its partner leg was "
			     "not seen and records were lost meanwhile",
			     l->redirect_port);
		return;
	}
	switch (l->capture) {
	case ST_CAPTURE_DNS:
		/* ztunnel answers names it knows itself. */
		st_class_set(f, ST_TYPE_AMB_DNS, ST_CLASS_NONE,
			     "answered by ztunnel's DNS proxy: no query of "
			     "its own to %s followed",
			     dst);
		return;
	case ST_CAPTURE_OUTBOUND:
		if (f->timed_out) {
			st_class_set(f, ST_TYPE_AMB_LOCAL_TO_REMOTE,
				     ST_CLASS_NONE,
				     "no new connection of ztunnel's "
				     "followed: it carried this one over a "
				     "connection it had open (HBONE pools "
				     "them), possibly to this very pod");
			return;
		}
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "captured to ztunnel %u (outbound) by %s, but no "
			     "leg of ztunnel's followed",
			     l->redirect_port, by);
		return;
	case ST_CAPTURE_INBOUND:
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "captured to ztunnel %u (inbound) by %s, but no "
			     "leg of ztunnel's from %s to %s followed",
			     l->redirect_port, by, src, dst);
		return;
	case ST_CAPTURE_TUNNEL:
		st_class_set(f, ST_TYPE_AMB_HBONE_TO_LOCAL, ST_CLASS_NONE,
			     "no new leg of ztunnel's to the app followed: "
			     "the tunnel carried no stream yet, or one that "
			     "is stitched to nothing");
		return;
	case ST_CAPTURE_OTHER:
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "redirected to port %u by %s, which is not one of "
			     "ztunnel's",
			     l->redirect_port, by);
		return;
	default:
		break;
	}
	if (l->arriving) {
		if (st_is_probe_accept(l)) {
			st_class_set(f, ST_TYPE_AMB_KUBELET_PROBE,
				     ST_CLASS_NONE, NULL);
			return;
		}
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "arriving connection not captured: %s let it "
			     "through, ztunnel does not see it",
			     by);
		return;
	}
	if (l->ztunnel && st_is_to_pod(l)) {
		st_class_set(f, ST_TYPE_AMB_HBONE_TO_LOCAL, ST_CLASS_NONE,
			     "ztunnel's leg to the app from %s with no new "
			     "connection to ztunnel before it: a stream of "
			     "an HBONE connection it had open",
			     src);
		return;
	}
	if (l->ztunnel) {
		st_class_set(f, ST_TYPE_AMB_ZTUNNEL, ST_CLASS_NONE, NULL);
		return;
	}
	if (st_decision(l) == NULL)
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "not captured: no Istio rule sent it to ztunnel "
			     "(to %s)",
			     dst);
	else
		st_class_set(f, 0, ST_CLASS_BYPASS,
			     "not captured: %s let it through to %s, ztunnel "
			     "does not see it",
			     by, dst);
}

/*
 * An ambient pod: ztunnel takes the captures on, and its own legs are
 * told by the mark its sockets carry.
 */
static void st_class_ambient(struct st_flow *f)
{
	const struct st_flow_leg *a = &f->legs[0];
	const struct st_flow_leg *b = &f->legs[1];
	char da[ST_FLOW_ADDR_SIZE];

	if (f->nlegs == 1) {
		st_class_ambient_single(f);
		return;
	}
	if (f->nlegs == 2 && b->ztunnel) {
		switch (a->capture) {
		case ST_CAPTURE_OUTBOUND:
			/* ztunnel went to the app's own pod address. */
			if (a->family == b->family &&
			    memcmp(a->src, b->dst, a->family == 6 ? 16 : 4) ==
				    0)
				st_class_set(f, ST_TYPE_AMB_LOCAL_TO_LOCAL,
					     ST_CLASS_NONE, NULL);
			else
				st_class_set(f, ST_TYPE_AMB_LOCAL_TO_REMOTE,
					     ST_CLASS_NONE, NULL);
			return;
		case ST_CAPTURE_INBOUND:
			st_class_set(f, ST_TYPE_AMB_REMOTE_TO_LOCAL,
				     ST_CLASS_NONE, NULL);
			return;
		case ST_CAPTURE_TUNNEL:
			st_class_set(f, ST_TYPE_AMB_HBONE_TO_LOCAL,
				     ST_CLASS_NONE, NULL);
			return;
		case ST_CAPTURE_DNS:
			st_class_set(f, ST_TYPE_AMB_DNS, ST_CLASS_NONE, NULL);
			return;
		default:
			break;
		}
	}
	st_flow_addr_format(b->family, b->dst, b->dport, da, sizeof(da));
	st_class_set(f, 0, ST_CLASS_UNKNOWN,
		     "%u legs (%s, then %s to %s) that form no ambient type",
		     f->nlegs, st_flow_capture_name(a->capture),
		     st_flow_capture_name(b->capture), da);
}

static void st_class_decide(struct st_flow *f,
			    const struct st_istio_settings *set)
{
	const struct st_flow_leg *a = NULL;
	const struct st_flow_leg *b = NULL;
	char sa[ST_FLOW_ADDR_SIZE];
	char da[ST_FLOW_ADDR_SIZE];

	if (f->nlegs == 0) {
		st_class_set(f, 0, ST_CLASS_UNKNOWN, "no legs");
		return;
	}
	if (f->evicted) {
		st_class_set(f, 0, ST_CLASS_INCOMPLETE,
			     "evicted: the flow table was full before the "
			     "flow completed");
		return;
	}
	for (unsigned int i = 0; i < f->nlegs; i++) {
		const struct st_flow_leg *l = &f->legs[i];

		if (!l->incomplete)
			continue;
		st_flow_addr_format(l->family, l->src, l->sport, sa,
				    sizeof(sa));
		st_flow_addr_format(l->family, l->dst, l->dport, da,
				    sizeof(da));
		st_class_set(f, 0, ST_CLASS_INCOMPLETE, "leg %u %s -> %s: %s",
			     i + 1, sa, da, l->why);
		return;
	}
	if (set->kind == ST_ISTIO_AMBIENT) {
		st_class_ambient(f);
		return;
	}
	if (f->nlegs == 1) {
		st_class_single(f, set);
		return;
	}
	a = &f->legs[0];
	b = &f->legs[1];
	if (f->nlegs == 3) {
		if (a->capture == ST_CAPTURE_OUTBOUND && b->proxy &&
		    b->capture == ST_CAPTURE_INBOUND &&
		    st_is_inbound_partner(b, &f->legs[2], set))
			st_class_set(f, 4, ST_CLASS_NONE, NULL);
		else
			st_class_set(f, 0, ST_CLASS_UNKNOWN,
				     "three legs that do not form local-to-"
				     "local traffic");
		return;
	}
	if (a->capture == ST_CAPTURE_OUTBOUND && b->proxy &&
	    b->capture == ST_CAPTURE_NONE) {
		st_class_set(f, 2, ST_CLASS_NONE, NULL);
		return;
	}
	if (a->capture == ST_CAPTURE_INBOUND && a->arriving &&
	    st_is_inbound_partner(a, b, set)) {
		st_class_set(f, 1, ST_CLASS_NONE, NULL);
		return;
	}
	st_flow_addr_format(b->family, b->dst, b->dport, da, sizeof(da));
	if (f->lost_meanwhile) {
		st_class_set(f, 0, ST_CLASS_INCOMPLETE,
			     "leg 2 to %s was captured to port %u, but its "
			     "partner leg was not seen and records were lost "
			     "meanwhile",
			     da, b->redirect_port);
		return;
	}
	if (a->capture == ST_CAPTURE_OUTBOUND &&
	    b->capture == ST_CAPTURE_INBOUND && b->proxy && f->timed_out)
		st_class_reused(f, 4, "to the app", NULL);
	else if (a->capture == ST_CAPTURE_OUTBOUND &&
		 b->capture == ST_CAPTURE_INBOUND)
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "local-to-local traffic cut short: the proxy's "
			     "leg to %s was redirected to %u, but no leg from "
			     "the passthrough address followed",
			     da, b->redirect_port);
	else
		st_class_set(f, 0, ST_CLASS_UNKNOWN,
			     "two legs (%s, then %s to %s) that form no known "
			     "type",
			     st_flow_capture_name(a->capture),
			     st_flow_capture_name(b->capture), da);
}

void st_class_flow(struct st_flow *f, const struct st_istio_settings *set)
{
	f->ambient = set->kind == ST_ISTIO_AMBIENT;
	st_class_decide(f, set);
	if (f->side != ST_SIDE_GUESS || f->type == 0 || f->reason[0] != '\0')
		return;
	if (f->ambient) {
		snprintf(f->reason, sizeof(f->reason),
			 "ztunnel's leg taken by time, a guess: the first of "
			 "%u fresh waiting legs it could continue",
			 f->fits);
		return;
	}
	if (f->fits == 0)
		snprintf(f->reason, sizeof(f->reason),
			 "Envoy's leg taken by time, a guess: it goes to "
			 "another port than the one asked for (a service's "
			 "target port; nothing learnt yet for this "
			 "destination)");
	else
		snprintf(f->reason, sizeof(f->reason),
			 "Envoy's leg taken by time, a guess: the first of "
			 "%u fresh waiting legs it could continue",
			 f->fits);
}
