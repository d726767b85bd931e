// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * assemble.c - hit records into legs, legs into flows (see assemble.h).
 *
 * Everything lives in pools sized at creation: flow slots (each holding
 * its legs), leg nodes (the per-key handle: hash link, list links, walk
 * state), and lingering keys, which are leg nodes whose flow was emitted.
 * Time-outs are kept in lists ordered by their start time so that expiry
 * only ever looks at list heads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assemble.h"
#include "classify.h"
#include "walk-int.h"

#define FL_DEF_MAX_FLOWS 1024u
#define FL_DEF_WALK_MS 500u
#define FL_DEF_WINDOW_MS 2000u
#define FL_DEF_LINGER_MS 2000u
#define FL_NS_PER_MS 1000000LL

enum fl_wait {
	FL_WAIT_NONE = -1,
	FL_WAIT_UPSTREAM = 0, /* an outbound capture waits for the proxy */
	FL_WAIT_PASSTHROUGH,  /* an inbound capture waits for 127.0.0.6 */
	/* Ambient: an HBONE connection waits for ztunnel's leg to the app
	 * from the same client, a DNS capture for ztunnel's query. */
	FL_WAIT_TUNNEL,
	FL_WAIT_DNS,
	FL_WAIT__MAX,
};

struct fl_key {
	uint8_t family;
	uint8_t proto;
	uint16_t sport;
	uint8_t src[16];
};

struct fl_slot;

struct fl_node {
	struct fl_key key;
	struct fl_node *hnext;
	struct fl_node *prev; /* walk list (open legs) or linger list */
	struct fl_node *next;
	struct fl_slot *slot; /* NULL when lingering or free */
	unsigned int leg;
	bool hashed;
	bool listed;
	bool sealed;
	bool lingering;
	int64_t last;	 /* ns */
	uint8_t dst[16]; /* lingering: the emitted leg's destinations */
	uint16_t dport;
	bool has_ndst; /* a NAT'd destination was seen */
	uint8_t ndst[16];
	uint16_t ndport;
	struct fl_walk w;
	struct fl_node *free_next;
};

struct fl_list {
	struct fl_node *head;
	struct fl_node *tail;
};

struct fl_slot {
	struct st_flow flow;
	struct fl_node *nodes[ST_FLOW_MAX_LEGS];
	struct fl_slot *cprev; /* open flows, oldest first */
	struct fl_slot *cnext;
	struct fl_slot *wprev; /* its wait queue */
	struct fl_slot *wnext;
	struct fl_slot *dnext; /* wait-by-destination bucket */
	struct fl_slot *pnext; /* inbound waits by port only */
	int wait;	       /* enum fl_wait */
	unsigned int wq;       /* index of its wait queue */
	int waited_leg;	       /* the last leg that began a wait, -1 */
	int64_t wait_since;
	uint64_t lost_at_wait;
	bool used;
	struct fl_slot *free_next;
};

struct fl_pool {
	bool used;
	bool inbound;
	uint8_t family;
	uint16_t dport;
	uint8_t dst[16];
	uint8_t client[16]; /* TPROXY inbound: Envoy pools per client */
	/* The last two connections opened, newest first, and when. */
	struct st_flow_conn conn[2];
	int64_t opened[2];
	bool reused; /* a request to it rode a pooled connection */
	/* A request rode another connection than those known (one opened
	 * before the trace): which one a later request rode is not known. */
	bool unsure;
	bool guessed[2]; /* conn[i] was paired by time order */
};

/* An address:port the proxy connected to: a pod's, never a VIP. */
struct fl_endpoint {
	bool used;
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
};

struct fl_wq {
	struct fl_slot *head;
	struct fl_slot *tail;
};

struct st_flow_table {
	const struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_flow_ztunnel zt; /* an ambient pod's ztunnel, else zero */
	struct st_flow_opts o;
	st_flow_emit_fn emit;
	void *data;

	struct fl_chains ci;
	const char *nat_table;
	bool pre_outside_nat; /* prerouting chains that see every packet */
	/*
	 * A postrouting / input chain has logged: they are instrumented (with
	 * empty built-in chains, by default), so every walk through output /
	 * prerouting is followed by their records, which may come after a
	 * record of another leg when connections interleave.
	 */
	bool post_logs;
	bool in_logs;
	bool lost_since; /* records lost since the last record was read */

	struct fl_slot *slots;
	struct fl_slot *free_slots;
	struct fl_slot *chead;
	struct fl_slot *ctail;

	struct fl_node *nodes;
	struct fl_node *free_nodes;
	struct fl_node **buckets;
	size_t bucket_mask;
	struct fl_slot **dbuckets;
	struct fl_slot **pbuckets;
	size_t dbucket_mask;
	struct fl_list walk;
	struct fl_list linger;
	unsigned int nlinger;
	struct fl_wq wq[FL_WAIT__MAX * 2]; /* [wait * 2 + (family == 6)] */
	/*
	 * The connection Envoy opened last for each original destination
	 * (outbound) and each destination behind the inbound port (TPROXY:
	 * and client address): what a later request can reuse.  A fixed
	 * table; a newer entry overwrites an older one of the same hash.
	 */
	struct fl_pool *pools;
	size_t pool_mask;
	struct fl_endpoint *endpoints; /* as many as pools */
	/* Destination ports whose requests rode pooled connections: HTTP
	 * as Istio decides it, not tcp_proxy. */
	uint8_t pooled_ports[65536 / 8];

	int64_t now;
	struct fl_node *active; /* the leg of the latest record */
	uint64_t next_id;
	struct st_flow_stats st;
	int cbret;
};

/* ---- small helpers --------------------------------------------------- */

static int64_t fl_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static size_t fl_alen(uint8_t family)
{
	return family == 6 ? 16 : 4;
}

static void fl_skip(struct st_flow_table *t, enum st_flow_skip why,
		    const char *fmt, ...) __st_printf(3, 4);

static void fl_skip(struct st_flow_table *t, enum st_flow_skip why,
		    const char *fmt, ...)
{
	va_list ap;

	t->st.skipped++;
	t->st.skipped_by[why]++;
	va_start(ap, fmt);
	vsnprintf(t->st.last_skip, sizeof(t->st.last_skip), fmt, ap);
	va_end(ap);
}

/* ---- the chain index ------------------------------------------------- */

static int fl_index_chains(struct st_flow_table *t, char *err)
{
	int ret = fl_chains_index(&t->ci, t->rs, err);

	if (ret < 0)
		return ret;
	t->nat_table = st_flow_nat_table(t->rs);
	/* Prerouting outside nat, in a table the instrumenter covers. */
	for (size_t i = 0; i < t->ci.nchains; i++) {
		const struct fl_chain *c = &t->ci.chains[i];

		if (!c->builtin || c->hook != FL_HOOK_PRE ||
		    (t->nat_table != NULL &&
		     strcmp(c->table, t->nat_table) == 0))
			continue;
		for (size_t k = 0; k < t->ci.nchains; k++)
			if (t->ci.chains[k].istio &&
			    strcmp(t->ci.chains[k].table, c->table) == 0)
				t->pre_outside_nat = true;
	}
	return 0;
}

/* ---- lists ----------------------------------------------------------- */

static void fl_list_del(struct fl_list *l, struct fl_node *n)
{
	if (!n->listed)
		return;
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
	n->listed = false;
}

static void fl_list_add_tail(struct fl_list *l, struct fl_node *n)
{
	n->prev = l->tail;
	n->next = NULL;
	if (l->tail != NULL)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	n->listed = true;
}

/* ---- the leg hash ---------------------------------------------------- */

static void fl_key_of(const struct st_rec *rec, struct fl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = rec->family;
	k->proto = rec->proto;
	k->sport = rec->sport;
	memcpy(k->src, rec->src, fl_alen(rec->family));
}

static size_t fl_key_bucket(const struct st_flow_table *t,
			    const struct fl_key *k)
{
	return st_fnv32(ST_FNV32_INIT, k, sizeof(*k)) & t->bucket_mask;
}

static struct fl_node *fl_hash_find(const struct st_flow_table *t,
				    const struct fl_key *k)
{
	struct fl_node *n = t->buckets[fl_key_bucket(t, k)];

	for (; n != NULL; n = n->hnext)
		if (memcmp(&n->key, k, sizeof(*k)) == 0)
			return n;
	return NULL;
}

static void fl_hash_add(struct st_flow_table *t, struct fl_node *n)
{
	size_t b = fl_key_bucket(t, &n->key);

	n->hnext = t->buckets[b];
	t->buckets[b] = n;
	n->hashed = true;
}

static void fl_hash_del(struct st_flow_table *t, struct fl_node *n)
{
	struct fl_node **pp = NULL;

	if (!n->hashed)
		return;
	pp = &t->buckets[fl_key_bucket(t, &n->key)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	n->hnext = NULL;
	n->hashed = false;
}

static void fl_node_free(struct st_flow_table *t, struct fl_node *n)
{
	if (t->active == n)
		t->active = NULL;
	fl_hash_del(t, n);
	if (n->lingering) {
		fl_list_del(&t->linger, n);
		t->nlinger--;
	} else {
		fl_list_del(&t->walk, n);
	}
	memset(n, 0, sizeof(*n));
	n->free_next = t->free_nodes;
	t->free_nodes = n;
}

static struct fl_node *fl_node_alloc(struct st_flow_table *t)
{
	struct fl_node *n = t->free_nodes;

	if (n == NULL && t->linger.head != NULL) {
		fl_node_free(t, t->linger.head);
		n = t->free_nodes;
	}
	if (n == NULL)
		return NULL;
	t->free_nodes = n->free_next;
	memset(n, 0, sizeof(*n));
	return n;
}

/* ---- waiting for a partner ------------------------------------------- */

static size_t fl_dst_bucket(const struct st_flow_table *t, uint8_t family,
			    const uint8_t *dst, uint16_t dport)
{
	uint32_t h = ST_FNV32_INIT;

	h = st_fnv32(h, &family, 1);
	h = st_fnv32(h, dst, fl_alen(family));
	h = st_fnv32(h, &dport, sizeof(dport));
	return h & t->dbucket_mask;
}

/* Inbound waits also by port: Istio before 1.10 forwarded to 127.0.0.1. */
static size_t fl_port_bucket(const struct st_flow_table *t, uint8_t family,
			     uint16_t dport)
{
	static const uint8_t any[16];

	return fl_dst_bucket(t, family, any, dport);
}

static const struct st_flow_leg *fl_last_leg(const struct fl_slot *s)
{
	return &s->flow.legs[s->flow.nlegs - 1];
}

static void fl_wait_start(struct st_flow_table *t, struct fl_slot *s,
			  enum fl_wait kind)
{
	const struct st_flow_leg *l = fl_last_leg(s);
	struct fl_wq *q = NULL;
	size_t b = fl_dst_bucket(t, l->family, l->dst, l->dport);

	s->wait = kind;
	s->wq = (unsigned int)kind * 2 + (l->family == 6);
	s->waited_leg = (int)s->flow.nlegs - 1;
	s->wait_since = t->now;
	s->lost_at_wait = t->st.lost;
	q = &t->wq[s->wq];
	s->wprev = q->tail;
	s->wnext = NULL;
	if (q->tail != NULL)
		q->tail->wnext = s;
	else
		q->head = s;
	q->tail = s;
	s->dnext = t->dbuckets[b];
	t->dbuckets[b] = s;
	if (kind == FL_WAIT_PASSTHROUGH) {
		b = fl_port_bucket(t, l->family, l->dport);
		s->pnext = t->pbuckets[b];
		t->pbuckets[b] = s;
	}
}

static void fl_wait_stop(struct st_flow_table *t, struct fl_slot *s)
{
	const struct st_flow_leg *l = NULL;
	struct fl_wq *q = &t->wq[s->wq];
	struct fl_slot **pp = NULL;

	if (s->wait == FL_WAIT_NONE)
		return;
	l = fl_last_leg(s);
	if (s->wprev != NULL)
		s->wprev->wnext = s->wnext;
	else
		q->head = s->wnext;
	if (s->wnext != NULL)
		s->wnext->wprev = s->wprev;
	else
		q->tail = s->wprev;
	s->wprev = s->wnext = NULL;
	pp = &t->dbuckets[fl_dst_bucket(t, l->family, l->dst, l->dport)];
	for (; *pp != NULL; pp = &(*pp)->dnext) {
		if (*pp == s) {
			*pp = s->dnext;
			break;
		}
	}
	s->dnext = NULL;
	if (s->wait == FL_WAIT_PASSTHROUGH) {
		pp = &t->pbuckets[fl_port_bucket(t, l->family, l->dport)];
		for (; *pp != NULL; pp = &(*pp)->pnext) {
			if (*pp == s) {
				*pp = s->pnext;
				break;
			}
		}
		s->pnext = NULL;
	}
	s->wait = FL_WAIT_NONE;
}

/* Does @l continue the flow @s that waits for a 127.0.0.6 leg? */
static bool fl_passthrough_fits(const struct st_flow_table *t,
				const struct fl_slot *s,
				const struct st_flow_leg *l)
{
	const struct st_flow_leg *w = fl_last_leg(s);

	if (l->passthrough_src)
		return true;
	/*
	 * TPROXY: Envoy's original_src keeps the client's address; so does
	 * ztunnel, always.
	 */
	return (t->set.mode == ST_MODE_TPROXY || t->zt.ambient) && l->proxy &&
	       memcmp(w->src, l->src, fl_alen(l->family)) == 0;
}

/*
 * The newest flow waiting with @kind for exactly @l's destination, and in
 * *@n how many wait for it.  The newest: Envoy opens a connection when a
 * request finds no idle pooled one, so an older waiting leg was more
 * likely served by a reused connection; with several, it is a guess.
 */
static struct fl_slot *fl_wait_find(const struct st_flow_table *t,
				    enum fl_wait kind,
				    const struct st_flow_leg *l,
				    unsigned int *n)
{
	struct fl_slot *best = NULL;
	struct fl_slot *s =
		t->dbuckets[fl_dst_bucket(t, l->family, l->dst, l->dport)];

	for (; s != NULL; s = s->dnext) {
		const struct st_flow_leg *w = fl_last_leg(s);

		if (s->wait != (int)kind || w->family != l->family ||
		    w->dport != l->dport ||
		    memcmp(w->dst, l->dst, fl_alen(l->family)) != 0)
			continue;
		if (kind == FL_WAIT_PASSTHROUGH &&
		    !fl_passthrough_fits(t, s, l))
			continue;
		(*n)++;
		if (best == NULL || s->wait_since > best->wait_since)
			best = s;
	}
	return best;
}

static struct fl_pool *fl_pool_at(const struct st_flow_table *t, bool inbound,
				  const struct st_flow_leg *l, bool claim);

/* The endpoint slot of @family @addr:@port (hashed; a newer one replaces). */
static struct fl_endpoint *fl_endpoint_at(const struct st_flow_table *t,
					  uint8_t family, const uint8_t *addr,
					  uint16_t port)
{
	uint32_t h = ST_FNV32_INIT;

	h = st_fnv32(h, &family, 1);
	h = st_fnv32(h, addr, fl_alen(family));
	h = st_fnv32(h, &port, sizeof(port));
	return &t->endpoints[h & t->pool_mask];
}

static void fl_endpoint_add(struct st_flow_table *t,
			    const struct st_flow_leg *l)
{
	struct fl_endpoint *e = fl_endpoint_at(t, l->family, l->dst, l->dport);

	e->used = true;
	e->family = l->family;
	e->port = l->dport;
	memcpy(e->addr, l->dst, fl_alen(l->family));
}

static bool fl_endpoint_is(const struct st_flow_table *t, uint8_t family,
			   const uint8_t *addr, uint16_t port)
{
	const struct fl_endpoint *e = fl_endpoint_at(t, family, addr, port);

	return e->used && e->family == family && e->port == port &&
	       memcmp(e->addr, addr, fl_alen(family)) == 0;
}

/*
 * A new upstream connection follows the request that needed it closely:
 * Envoy connects when a request finds no idle pooled connection (at once
 * for TCP).  A capture waiting longer was most likely carried by a pooled
 * connection.
 */
#define FL_FRESH_NS (250 * FL_NS_PER_MS)

/*
 * The outbound capture that the proxy's leg @l continues, from the waiting
 * captures of its family, newest first.  A capture fits exactly when @l
 * goes to its destination; well when @l goes to its port or to the port of
 * the connection Envoy opened last for its destination (a VIP's target
 * port, learnt); weakly when ports differ and nothing was learnt (a service
 * port 80 with target port 8080 looks like that the first time).  Not at
 * all when it is known to be reached directly (Envoy's last connection for
 * it went to it) and @l goes elsewhere, or when @l goes to another port
 * than the one learnt.  Exact fits come first.  Among the fits that waited
 * at most FL_FRESH_NS the oldest, unless the destination pools (a request
 * to it rode a pooled connection): then only a lone fresh fit; with none
 * fresh, only a lone fit.  *@n: how many fitted (0: a weak fit, see
 * st_flow.fits); NULL with *@n > 1: too many to tell.
 */
static struct fl_slot *fl_wait_find_upstream(const struct st_flow_table *t,
					     const struct st_flow_leg *l,
					     bool vip, unsigned int *n)
{
	struct fl_slot *s = t->wq[FL_WAIT_UPSTREAM * 2 + (l->family == 6)].tail;
	/* [0] exact fits, [1] good ones; newest and oldest fresh of each */
	struct fl_slot *newest[2] = {NULL, NULL}, *oldest[2] = {NULL, NULL};
	struct fl_slot *any = NULL, *weak = NULL;
	unsigned int nfresh[2] = {0, 0}, nany = 0, nweak = 0;
	bool pooled[2] = {false, false};
	size_t alen = fl_alen(l->family);

	for (; s != NULL; s = s->wprev) {
		const struct st_flow_leg *w = fl_last_leg(s);
		const struct fl_pool *p = fl_pool_at(t, false, w, false);
		bool learnt = p != NULL && p->used;
		bool exact = w->dport == l->dport &&
			     memcmp(w->dst, l->dst, alen) == 0;
		/* A pod's address (the proxy went there) is reached
		 * directly: only a leg to exactly it continues it. */
		bool direct = (learnt && p->conn[0].dport == w->dport &&
			       memcmp(p->conn[0].dst, w->dst, alen) == 0) ||
			      fl_endpoint_is(t, w->family, w->dst, w->dport);
		int k = exact ? 0 : 1;
		/* @l goes to the app's own pod: only a service whose
		 * endpoint is not known to be another pod's. */
		bool other_pod = learnt && memcmp(l->dst, w->src, alen) == 0 &&
				 memcmp(p->conn[0].dst, l->dst, alen) != 0;

		if (!exact && (!vip || direct || other_pod ||
			       (w->dport != l->dport &&
				!(learnt && p->conn[0].dport == l->dport)))) {
			if (vip && !direct && !learnt) {
				nweak++;
				weak = weak != NULL ? weak : s;
			}
			continue;
		}
		nany++;
		any = any != NULL ? any : s;
		if (t->now - s->wait_since > FL_FRESH_NS) {
			/* Waiting this long, it rode a pooled connection:
			 * the destination pools. */
			pooled[k] = true;
			continue;
		}
		nfresh[k]++;
		newest[k] = newest[k] != NULL ? newest[k] : s;
		oldest[k] = s;
		pooled[k] = pooled[k] || (p != NULL && p->reused) ||
			    (t->pooled_ports[w->dport / 8] &
			     (1u << (w->dport % 8)));
	}
	for (int k = 0; k < 2; k++) {
		if (nfresh[k] == 0)
			continue;
		*n = nfresh[k];
		/*
		 * tcp_proxy makes one connection per request, in the order
		 * they came: the oldest.  A destination that pools gives its
		 * idle connections to some requests and opens new ones for
		 * others: with several fresh, which one this is for is not
		 * known, and a guess would hand it to the wrong flow.
		 */
		if (!pooled[k])
			return oldest[k];
		return nfresh[k] == 1 ? newest[k] : NULL;
	}
	if (nany == 1) {
		*n = 1;
		return any;
	}
	if (nany == 0 && nweak == 1) {
		*n = 0;
		return weak;
	}
	return NULL;
}

/*
 * The oldest inbound capture to port @l->dport when @l is the proxy's
 * connection to that port on loopback: how Envoy reached the app before
 * Istio 1.10 (127.0.0.1 instead of 127.0.0.6 -> pod IP).
 */
static struct fl_slot *fl_wait_find_localhost(const struct st_flow_table *t,
					      const struct st_flow_leg *l,
					      unsigned int *n)
{
	struct fl_slot *best = NULL;
	struct fl_slot *s = t->pbuckets[fl_port_bucket(t, l->family, l->dport)];

	for (; s != NULL; s = s->pnext) {
		const struct st_flow_leg *w = fl_last_leg(s);

		if (s->wait != FL_WAIT_PASSTHROUGH || w->family != l->family ||
		    w->dport != l->dport)
			continue;
		(*n)++;
		if (best == NULL || s->wait_since > best->wait_since)
			best = s;
	}
	return best;
}

/*
 * The oldest HBONE connection that ztunnel's leg @l to the app carries on:
 * from the same client address to an address of this pod (the inner
 * destination travels inside the tunnel, so its port is not known).
 */
static struct fl_slot *fl_wait_find_tunnel(const struct st_flow_table *t,
					   const struct st_flow_leg *l,
					   unsigned int *n)
{
	struct fl_slot *best = NULL;
	struct fl_slot *s = t->wq[FL_WAIT_TUNNEL * 2 + (l->family == 6)].head;
	size_t alen = fl_alen(l->family);

	for (; s != NULL; s = s->wnext) {
		const struct st_flow_leg *w = fl_last_leg(s);

		if (memcmp(w->src, l->src, alen) != 0 ||
		    memcmp(w->dst, l->dst, alen) != 0)
			continue;
		(*n)++;
		best = best != NULL ? best : s;
	}
	return best;
}

/*
 * The newest DNS capture to exactly @l's server that waited at most
 * FL_FRESH_NS: ztunnel forwards a query it cannot answer as soon as it
 * reads it; one waiting longer was answered by ztunnel itself.
 */
static struct fl_slot *fl_wait_find_dns(const struct st_flow_table *t,
					const struct st_flow_leg *l,
					unsigned int *n)
{
	struct fl_slot *best = NULL;
	struct fl_slot *s =
		t->dbuckets[fl_dst_bucket(t, l->family, l->dst, l->dport)];

	for (; s != NULL; s = s->dnext) {
		const struct st_flow_leg *w = fl_last_leg(s);

		if (s->wait != FL_WAIT_DNS || w->family != l->family ||
		    w->dport != l->dport ||
		    memcmp(w->dst, l->dst, fl_alen(l->family)) != 0 ||
		    t->now - s->wait_since > FL_FRESH_NS)
			continue;
		(*n)++;
		if (best == NULL || s->wait_since > best->wait_since)
			best = s;
	}
	return best;
}

/* ---- flow slots ------------------------------------------------------ */

static void fl_open_del(struct st_flow_table *t, struct fl_slot *s)
{
	if (s->cprev != NULL)
		s->cprev->cnext = s->cnext;
	else
		t->chead = s->cnext;
	if (s->cnext != NULL)
		s->cnext->cprev = s->cprev;
	else
		t->ctail = s->cprev;
	s->cprev = s->cnext = NULL;
}

static void fl_linger_add(struct st_flow_table *t, struct fl_node *n)
{
	const struct st_flow_leg *l = &n->slot->flow.legs[n->leg];

	fl_list_del(&t->walk, n);
	memcpy(n->dst, l->dst, sizeof(n->dst));
	n->dport = l->dport;
	n->slot = NULL;
	n->lingering = true;
	n->last = t->now;
	fl_list_add_tail(&t->linger, n);
	t->nlinger++;
	while (t->nlinger > t->o.max_linger && t->linger.head != NULL)
		fl_node_free(t, t->linger.head);
}

/* Forget a flow: its keys linger so that later packets are absorbed. */
static void fl_slot_release(struct st_flow_table *t, struct fl_slot *s)
{
	fl_wait_stop(t, s);
	for (unsigned int i = 0; i < ST_FLOW_MAX_LEGS; i++) {
		struct fl_node *n = s->nodes[i];

		if (n == NULL)
			continue;
		if (t->active == n)
			t->active = NULL;
		if (n->hashed && t->o.linger_ms > 0)
			fl_linger_add(t, n);
		else
			fl_node_free(t, n);
		s->nodes[i] = NULL;
	}
	fl_open_del(t, s);
	s->used = false;
	s->free_next = t->free_slots;
	t->free_slots = s;
}

/* ---- finishing and emitting ------------------------------------------ */

static void fl_leg_finish(const struct st_flow_table *t, struct fl_node *n,
			  struct st_flow_leg *l)
{
	const struct fl_walk *w = &n->w;

	static const char lost[] = "records lost: ";
	char why[ST_FLOW_WHY_SIZE];

	l->lost = l->lost || w->lost || w->lost_before;
	if (!l->incomplete && w->lost_before)
		fl_why(l, w, "its first hops may be among them");
	if (!l->incomplete && !w->broken && (w->depth > 0 || w->pending)) {
		const struct fl_chain *c =
			w->pending ? w->pending : w->frames[w->depth - 1];

		fl_why(l, w, "walk stopped in %s:%s", c->table, c->name);
	}
	/*
	 * A first packet's walk begins where it enters the stack: a walk
	 * that begins in postrouting or input lost its earlier records.
	 */
	if (!l->incomplete && l->nhops > 0) {
		const struct fl_chain *c = fl_chain_find(
			&t->ci, l->hops[0].table, l->hops[0].chain, l->family);

		if (c != NULL && c->builtin &&
		    (c->hook == FL_HOOK_POST || c->hook == FL_HOOK_IN))
			fl_why(l, w, "walk began in %s:%s", c->table, c->name);
	}
	if (!l->incomplete && w->seen_out && t->post_logs && !w->seen_post)
		fl_why(l, w, "walk ended before postrouting");
	if (!l->incomplete && w->seen_prein && t->in_logs && !w->seen_in &&
	    l->capture != ST_CAPTURE_NONE)
		fl_why(l, w, "walk ended before input");
	/* Loss is known only now: it may be reported after the gap. */
	if (l->incomplete && l->lost &&
	    strncmp(l->why, lost, sizeof(lost) - 1) != 0) {
		st_strlcpy(why, l->why, sizeof(why));
		snprintf(l->why, sizeof(l->why), "%s%.*s", lost,
			 (int)(sizeof(l->why) - sizeof(lost)), why);
	}
	st_flow_leg_decide(t->nat_table, l);
}

/* ---- pooled connections ---------------------------------------------- */

/*
 * The pool entry of @l's destination (and client): NULL when another key
 * holds its place, unless @claim, which makes it this key's, empty.
 */
static struct fl_pool *fl_pool_at(const struct st_flow_table *t, bool inbound,
				  const struct st_flow_leg *l, bool claim)
{
	static const uint8_t none[16];
	/* TPROXY: Envoy's original_src pools inbound per client address. */
	const uint8_t *client =
		inbound && t->set.mode == ST_MODE_TPROXY ? l->src : none;
	uint32_t h = ST_FNV32_INIT;
	struct fl_pool *p = NULL;

	h = st_fnv32(h, &inbound, sizeof(inbound));
	h = st_fnv32(h, &l->family, 1);
	h = st_fnv32(h, l->dst, fl_alen(l->family));
	h = st_fnv32(h, &l->dport, sizeof(l->dport));
	h = st_fnv32(h, client, fl_alen(l->family));
	p = &t->pools[h & t->pool_mask];
	if (!p->used || p->inbound != inbound || p->family != l->family ||
	    p->dport != l->dport ||
	    memcmp(p->dst, l->dst, fl_alen(l->family)) != 0 ||
	    memcmp(p->client, client, fl_alen(l->family)) != 0) {
		if (!claim)
			return NULL;
		memset(p, 0, sizeof(*p));
		p->inbound = inbound;
		p->family = l->family;
		p->dport = l->dport;
		memcpy(p->dst, l->dst, fl_alen(l->family));
		memcpy(p->client, client, fl_alen(l->family));
	}
	return p;
}

/*
 * A flow that waited in vain for Envoy's leg: the connection Envoy opened
 * last for the same destination is the one it most likely reused.
 */
static void fl_pool_find(struct st_flow_table *t, struct st_flow *f)
{
	const struct st_flow_leg *l = &f->legs[f->nlegs - 1];
	const struct fl_pool *p = NULL;

	memset(&f->pooled, 0, sizeof(f->pooled));
	if (!f->timed_out || (l->capture != ST_CAPTURE_OUTBOUND &&
			      l->capture != ST_CAPTURE_INBOUND))
		return;
	p = fl_pool_at(t, l->capture == ST_CAPTURE_INBOUND, l, false);
	if (p == NULL || !p->used)
		return;
	/*
	 * Name it only when it is the one known connection, paired for sure,
	 * open before the request, and no request is known to have ridden
	 * another: else which one carried it is not known.
	 */
	/* Every connection known for it went to this pod: its service. */
	f->pooled.own_pod = p->conn[0].known && p->conn[0].own_pod &&
			    (!p->conn[1].known || p->conn[1].own_pod);
	if (p->unsure || p->conn[1].known || p->guessed[0] ||
	    !p->conn[0].known || p->opened[0] > fl_ns(&l->ts))
		return;
	f->pooled = p->conn[0];
}

/*
 * Envoy opened @e for the captured leg @c (of a flow whose first leg is
 * @first): keep it for later requests to the same destination, from the
 * moment it is stitched (the flow that opened it may come out later than
 * one that reuses it: its id is filled in by fl_pool_name()).
 */
static void fl_pool_open(struct st_flow_table *t,
			 const struct st_flow_leg *first,
			 const struct st_flow_leg *c,
			 const struct st_flow_leg *e, bool guessed)
{
	struct fl_pool *p = NULL;
	struct st_flow_conn *k = NULL;

	if (c->capture != ST_CAPTURE_OUTBOUND &&
	    c->capture != ST_CAPTURE_INBOUND)
		return;
	p = fl_pool_at(t, c->capture == ST_CAPTURE_INBOUND, c, true);
	p->used = true;
	p->conn[1] = p->conn[0];
	p->opened[1] = p->opened[0];
	p->guessed[1] = p->guessed[0];
	p->guessed[0] = guessed;
	k = &p->conn[0];
	memset(k, 0, sizeof(*k));
	p->opened[0] = fl_ns(&e->ts);
	k->known = true;
	/* To the pod itself: the address the app's own leg came from. */
	k->own_pod = e->own_pod ||
		     (c->capture == ST_CAPTURE_OUTBOUND &&
		      e->family == first->family &&
		      memcmp(e->dst, first->src, fl_alen(e->family)) == 0);
	k->family = e->family;
	k->sport = e->sport;
	k->dport = e->dport;
	memcpy(k->src, e->src, sizeof(e->src));
	memcpy(k->dst, e->dst, sizeof(e->dst));
}

/* The flow that opened pooled connections comes out: name it in them. */
static void fl_pool_name(struct st_flow_table *t, const struct st_flow *f)
{
	for (unsigned int i = 0; i + 1 < f->nlegs; i++) {
		const struct st_flow_leg *c = &f->legs[i];
		const struct st_flow_leg *e = &f->legs[i + 1];
		struct fl_pool *p = NULL;

		if (c->capture != ST_CAPTURE_OUTBOUND &&
		    c->capture != ST_CAPTURE_INBOUND)
			continue;
		p = fl_pool_at(t, c->capture == ST_CAPTURE_INBOUND, c, false);
		for (unsigned int k = 0;
		     p != NULL && k < ST_ARRAY_SIZE(p->conn); k++)
			if (p->conn[k].known && p->conn[k].sport == e->sport &&
			    p->conn[k].flow_id == 0 &&
			    memcmp(p->conn[k].src, e->src, sizeof(e->src)) == 0)
				p->conn[k].flow_id = f->id;
	}
}

static void fl_emit(struct st_flow_table *t, struct fl_slot *s)
{
	struct st_flow *f = &s->flow;
	int ret = 0;

	for (unsigned int i = 0; i < f->nlegs; i++)
		fl_leg_finish(t, s->nodes[i], &f->legs[i]);
	fl_pool_find(t, f);
	st_class_flow(f, &t->set);
	if (f->side != ST_SIDE_REUSED)
		memset(&f->pooled, 0, sizeof(f->pooled));
	f->id = ++t->next_id;
	fl_pool_name(t, f);
	if (f->side == ST_SIDE_REUSED &&
	    f->legs[0].capture == ST_CAPTURE_OUTBOUND) {
		struct fl_pool *p = fl_pool_at(t, false, &f->legs[0], true);

		p->reused = true;
		if (p->used && p->opened[0] > fl_ns(&f->legs[0].ts))
			p->unsure = true;
		t->pooled_ports[f->legs[0].dport / 8] |=
			(uint8_t)(1u << (f->legs[0].dport % 8));
	}
	t->st.flows++;
	if (f->type >= 0 && f->type <= ST_TYPE_MAX)
		t->st.by_type[f->type]++;
	if ((unsigned int)f->klass < ST_CLASS__MAX)
		t->st.by_class[f->klass]++;
	ret = t->emit(f, t->data);
	if (ret < 0)
		t->cbret = ST_CB_ERROR;
	else if (ret == ST_CB_STOP && t->cbret != ST_CB_ERROR)
		t->cbret = ST_CB_STOP;
	fl_slot_release(t, s);
}

static void fl_try_complete(struct st_flow_table *t, struct fl_slot *s)
{
	if (s->wait != FL_WAIT_NONE)
		return;
	for (unsigned int i = 0; i < s->flow.nlegs; i++)
		if (!s->nodes[i]->sealed)
			return;
	fl_emit(t, s);
}

static void fl_seal(struct st_flow_table *t, struct fl_node *n)
{
	struct fl_slot *s = n->slot;

	if (n->sealed || s == NULL)
		return;
	n->sealed = true;
	fl_list_del(&t->walk, n);
	if (!n->w.nonraw && s->flow.nlegs == 1) {
		/* raw logs every packet: no connection starts here. */
		const struct st_flow_leg *l = &s->flow.legs[0];

		t->st.ignored += l->records + l->later;
		fl_slot_release(t, s);
		return;
	}
	fl_try_complete(t, s);
}

/*
 * The records tell whether postrouting and input log only once one of
 * theirs came; when the instrumentation is known to log them, a leg of the
 * first flows must not look complete before its record there arrives.
 */
static void fl_expect_builtin(struct st_flow_table *t)
{
	for (size_t i = 0; i < t->ci.nchains; i++) {
		const struct fl_chain *c = &t->ci.chains[i];

		if (!c->builtin || c->raw)
			continue;
		if (c->hook == FL_HOOK_POST)
			t->post_logs = true;
		if (c->hook == FL_HOOK_IN)
			t->in_logs = true;
	}
}

static bool fl_at_rest(const struct st_flow_table *t, const struct fl_walk *w)
{
	if (w->depth > 0 || w->pending != NULL || !w->nonraw)
		return false;
	if (w->seen_out && t->post_logs && !w->seen_post)
		return false;
	if (w->seen_prein && t->in_logs && !w->seen_in)
		return false;
	/* A packet sent over lo walks prerouting again on its way in. */
	return !(w->via_lo && t->pre_outside_nat && !w->seen_pre);
}

static void fl_evict_oldest(struct st_flow_table *t)
{
	struct fl_slot *s = t->chead;

	if (s == NULL)
		return;
	t->st.evicted++;
	s->flow.evicted = true;
	fl_wait_stop(t, s);
	for (unsigned int i = 0; i < s->flow.nlegs; i++) {
		struct fl_node *n = s->nodes[i];

		if (!n->sealed) {
			n->sealed = true;
			fl_list_del(&t->walk, n);
		}
	}
	fl_emit(t, s);
}

static struct fl_slot *fl_slot_alloc(struct st_flow_table *t)
{
	struct fl_slot *s = NULL;

	if (t->free_slots == NULL)
		fl_evict_oldest(t);
	s = t->free_slots;
	if (s == NULL)
		return NULL;
	t->free_slots = s->free_next;
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->wait = FL_WAIT_NONE;
	s->waited_leg = -1;
	s->cprev = t->ctail;
	if (t->ctail != NULL)
		t->ctail->cnext = s;
	else
		t->chead = s;
	t->ctail = s;
	return s;
}

/* ---- time ------------------------------------------------------------ */

/*
 * Stop @s's wait.  @in_vain: its window passed with no partner (a flush
 * may end a wait before that: then nothing is said about Envoy's side).
 */
static void fl_wait_timeout(struct st_flow_table *t, struct fl_slot *s,
			    bool in_vain)
{
	fl_wait_stop(t, s);
	s->flow.timed_out = in_vain;
	if (t->st.lost > s->lost_at_wait)
		s->flow.lost_meanwhile = true;
	fl_try_complete(t, s);
}

static void fl_expire(struct st_flow_table *t)
{
	int64_t walk = (int64_t)t->o.walk_timeout_ms * FL_NS_PER_MS;
	int64_t window = (int64_t)t->o.stitch_window_ms * FL_NS_PER_MS;
	int64_t linger = (int64_t)t->o.linger_ms * FL_NS_PER_MS;

	while (t->walk.head != NULL && t->walk.head->last + walk <= t->now)
		fl_seal(t, t->walk.head);
	for (unsigned int q = 0; q < ST_ARRAY_SIZE(t->wq); q++)
		while (t->wq[q].head != NULL &&
		       t->wq[q].head->wait_since + window <= t->now)
			fl_wait_timeout(t, t->wq[q].head, true);
	while (t->linger.head != NULL &&
	       t->linger.head->last + linger <= t->now)
		fl_node_free(t, t->linger.head);
}

static void fl_clock(struct st_flow_table *t, const struct timespec *ts)
{
	int64_t ns = fl_ns(ts);

	if (ns > t->now)
		t->now = ns;
}

static int fl_result(struct st_flow_table *t, char *err)
{
	if (t->cbret == ST_CB_ERROR)
		return st_err(err, ECANCELED, "flow callback failed");
	return t->cbret;
}

/* ---- stitching ------------------------------------------------------- */

static void fl_try_stitch(struct st_flow_table *t, struct fl_node *n)
{
	struct fl_slot *s = n->slot;
	struct st_flow_leg *l = &s->flow.legs[n->leg];
	struct fl_slot *f = NULL;
	unsigned int idx = 0;
	unsigned int nfit = 0;

	if (s->flow.nlegs != 1 || l->arriving)
		return;
	if (t->zt.ambient) {
		/* Only ztunnel's legs (its mark) carry a capture on. */
		if (!l->ztunnel)
			return;
		f = fl_wait_find_dns(t, l, &nfit);
		if (f == NULL && l->proto == IPPROTO_TCP)
			f = fl_wait_find(t, FL_WAIT_PASSTHROUGH, l, &nfit);
		if (f == NULL && l->proto == IPPROTO_TCP)
			f = fl_wait_find_tunnel(t, l, &nfit);
		if (f == NULL && l->proto == IPPROTO_TCP &&
		    !st_flow_addr_is_loopback(l->family, l->dst))
			f = fl_wait_find_upstream(t, l, true, &nfit);
		goto found;
	}
	if (l->passthrough_src || (t->set.mode == ST_MODE_TPROXY && l->proxy))
		f = fl_wait_find(t, FL_WAIT_PASSTHROUGH, l, &nfit);
	if (f == NULL && l->proxy &&
	    st_flow_addr_is_loopback(l->family, l->dst))
		f = fl_wait_find_localhost(t, l, &nfit);
	if (l->proxy && l->proto == IPPROTO_TCP && !l->passthrough_src &&
	    !st_flow_addr_is_loopback(l->family, l->dst))
		fl_endpoint_add(t, l);
	if (f == NULL && l->proxy && l->proto == IPPROTO_TCP &&
	    !l->passthrough_src)
		f = fl_wait_find_upstream(
			t, l,
			!st_flow_addr_is_loopback(l->family, l->dst) &&
				!st_class_is_istiod_port(l->dport),
			&nfit);
found:
	if (f == NULL && nfit > 1)
		s->flow.fits = nfit; /* one of them opened it: which, unknown */
	if (f == NULL || f == s || f->flow.nlegs >= ST_FLOW_MAX_LEGS)
		return;
	fl_wait_stop(t, f);
	if (nfit != 1) {
		f->flow.side = ST_SIDE_GUESS;
		f->flow.fits = nfit;
	} else if (f->flow.side == ST_SIDE_NONE) {
		f->flow.side = ST_SIDE_STITCHED;
	}
	if (f->flow.side == ST_SIDE_STITCHED || f->flow.side == ST_SIDE_GUESS)
		fl_pool_open(t, &f->flow.legs[0], fl_last_leg(f), l, nfit != 1);
	idx = f->flow.nlegs++;
	f->flow.legs[idx] = *l;
	f->nodes[idx] = n;
	n->slot = f;
	n->leg = idx;
	s->nodes[0] = NULL;
	s->flow.nlegs = 0;
	fl_slot_release(t, s);
}

static void fl_update_wait(struct st_flow_table *t, struct fl_slot *s)
{
	const struct st_flow_leg *l = NULL;

	if (s->wait != FL_WAIT_NONE || s->flow.nlegs >= ST_FLOW_MAX_LEGS ||
	    s->waited_leg == (int)s->flow.nlegs - 1)
		return;
	l = fl_last_leg(s);
	if (l->capture == ST_CAPTURE_OUTBOUND)
		fl_wait_start(t, s, FL_WAIT_UPSTREAM);
	else if (l->capture == ST_CAPTURE_INBOUND)
		fl_wait_start(t, s, FL_WAIT_PASSTHROUGH);
	else if (l->capture == ST_CAPTURE_TUNNEL)
		fl_wait_start(t, s, FL_WAIT_TUNNEL);
	else if (l->capture == ST_CAPTURE_DNS && t->zt.ambient)
		fl_wait_start(t, s, FL_WAIT_DNS);
}

/* ---- records --------------------------------------------------------- */

/* Is @rec's destination none that the leg of @n has shown? */
static bool fl_dst_differs(const struct fl_node *n, const uint8_t *dst,
			   uint16_t dport, uint8_t family)
{
	size_t len = fl_alen(family);

	if (dport == n->dport && memcmp(dst, n->dst, len) == 0)
		return false;
	return !(n->has_ndst && dport == n->ndport &&
		 memcmp(dst, n->ndst, len) == 0);
}

static void fl_copy_dev(char *dst, const char *src)
{
	if (dst[0] == '\0' && src[0] != '\0')
		st_strlcpy(dst, src, 16);
}

static struct fl_node *fl_leg_new(struct st_flow_table *t,
				  const struct st_rec *rec,
				  const struct fl_key *key,
				  const struct fl_chain *c)
{
	struct fl_slot *s = fl_slot_alloc(t);
	struct fl_node *n = NULL;
	struct st_flow_leg *l = NULL;

	if (s == NULL)
		return NULL;
	n = fl_node_alloc(t);
	if (n == NULL) {
		fl_slot_release(t, s);
		return NULL;
	}
	n->key = *key;
	memcpy(n->dst, rec->dst, sizeof(n->dst));
	n->dport = rec->dport;
	n->slot = s;
	n->leg = 0;
	n->last = t->now;
	fl_hash_add(t, n);
	fl_list_add_tail(&t->walk, n);
	s->nodes[0] = n;
	s->flow.nlegs = 1;

	l = &s->flow.legs[0];
	l->family = rec->family;
	l->proto = rec->proto;
	l->sport = rec->sport;
	l->dport = rec->dport;
	memcpy(l->src, rec->src, sizeof(l->src));
	memcpy(l->dst, rec->dst, sizeof(l->dst));
	l->has_uid = rec->has_uid;
	l->uid = rec->has_uid ? rec->uid : 0;
	l->has_gid = rec->has_gid;
	l->gid = rec->has_gid ? rec->gid : 0;
	l->mark = rec->mark;
	l->ztunnel = st_flow_ztunnel_marked(&t->zt, rec->mark);
	if (rec->hook <= 4)
		l->arriving = rec->hook <= 2; /* NF_INET_PRE_ROUTING..FORWARD */
	else if (c->hook != FL_HOOK_NONE)
		l->arriving = c->hook == FL_HOOK_PRE || c->hook == FL_HOOK_IN ||
			      c->hook == FL_HOOK_FWD;
	else
		l->arriving = !rec->has_uid && rec->indev_name[0] != '\0';
	l->proxy = st_flow_leg_is_proxy(&t->set, l) || l->ztunnel;
	l->passthrough_src = st_flow_addr_is_passthrough(l->family, l->src);
	/* The rules leave HBONE alone: it reaches ztunnel's listener. */
	if (t->zt.ambient && l->arriving && l->proto == IPPROTO_TCP &&
	    t->zt.hbone_port != 0 && l->dport == t->zt.hbone_port) {
		l->capture = ST_CAPTURE_TUNNEL;
		l->redirect_port = l->dport;
	}
	l->redirect_hop = -1;
	l->decision_hop = -1;
	l->ts = rec->ts;
	l->seq = rec->seq;
	l->packets = 1;
	return n;
}

/*
 * One hop of the leg's first walk: a record's, or one that minimal
 * instrumentation left out.  NULL when the hop list is full.
 */
static struct st_flow_hop *fl_hop(struct st_flow_table *t, struct fl_node *n,
				  struct st_flow_leg *l,
				  const struct fl_chain *c,
				  enum st_hit_kind kind, unsigned int rule,
				  const struct st_rule *r, bool trace)
{
	struct st_flow_hop *h = NULL;

	if (l->nhops < ST_FLOW_MAX_HOPS) {
		h = &l->hops[l->nhops++];
		h->table = c->table;
		h->chain = c->name;
		h->r = r;
		h->rule = kind == ST_HIT_RULE	  ? rule
			  : kind == ST_HIT_RETURN ? c->nrules + 1
						  : 0;
		h->chain_rules = c->nrules;
		h->kind = kind;
		h->builtin = c->builtin;
		h->istio = c->istio;
	} else {
		l->truncated = true;
	}
	if (!c->raw)
		n->w.nonraw = true;
	if (c->builtin && c->hook == FL_HOOK_PRE && !l->arriving)
		n->w.seen_pre = true;
	if (c->builtin && !c->raw) {
		if (c->hook == FL_HOOK_OUT && !l->arriving)
			n->w.seen_out = true;
		if (c->hook == FL_HOOK_POST && !l->arriving)
			n->w.seen_post = t->post_logs = true;
		if (c->hook == FL_HOOK_PRE && l->arriving)
			n->w.seen_prein = true;
		if (c->hook == FL_HOOK_IN && l->arriving)
			n->w.seen_in = t->in_logs = true;
	}
	fl_seen_note(&n->w, c, kind, rule);
	fl_walk_step(&t->ci, &n->w, l, c, kind, r, trace);
	return h;
}

static void fl_append(struct st_flow_table *t, struct fl_node *n,
		      const struct st_rec *rec, const struct fl_chain *c,
		      const struct st_rule *r)
{
	enum st_hit_kind kind = rec->hit.kind;
	struct st_flow_leg *l = NULL;
	struct st_flow_hop *h = NULL;

	if (!n->w.stitch_tried && !c->raw) {
		n->w.stitch_tried = true;
		fl_try_stitch(t, n);
	}
	l = &n->slot->flow.legs[n->leg];
	l->records++;
	l->last_ts = rec->ts;
	if (!l->has_uid && rec->has_uid) {
		l->has_uid = true;
		l->uid = rec->uid;
	}
	if (!l->has_gid && rec->has_gid) {
		l->has_gid = true;
		l->gid = rec->gid;
	}
	l->proxy = st_flow_leg_is_proxy(&t->set, l) || l->ztunnel;
	fl_copy_dev(l->indev, rec->indev_name);
	fl_copy_dev(l->outdev, rec->outdev_name);
	if (fl_dst_differs(n, rec->dst, rec->dport, rec->family)) {
		memcpy(n->ndst, rec->dst, sizeof(n->ndst));
		n->ndport = rec->dport;
		n->has_ndst = true;
	}
	if (strcmp(rec->outdev_name, "lo") == 0 && !l->arriving)
		n->w.via_lo = true;
	if (rec->hit.minimal) {
		struct fl_implied im[FL_MAX_IMPLIED];
		unsigned int nim = fl_walk_implied(&t->ci, &n->w, c, kind, im);

		for (unsigned int i = 0; i < nim; i++)
			fl_hop(t, n, l, im[i].c, im[i].kind, im[i].rule,
			       im[i].kind == ST_HIT_RULE
				       ? im[i].c->rules[im[i].rule - 1]
				       : NULL,
			       false);
	}
	h = fl_hop(t, n, l, c, kind, rec->hit.rule, r, rec->hit.trace);
	if (kind == ST_HIT_RULE && l->capture == ST_CAPTURE_NONE &&
	    (r->target.kind == ST_T_REDIRECT || r->target.kind == ST_T_TPROXY ||
	     (r->target.kind == ST_T_DNAT && r->role == ST_ROLE_DNS_CAPTURE))) {
		l->redirect_port =
			r->target.port_lo ? r->target.port_lo : l->dport;
		l->redirect_hop = h != NULL ? (int)(h - l->hops) : -1;
		l->capture = t->zt.ambient
				     ? st_flow_ztunnel_capture(&t->zt,
							       l->redirect_port)
				     : st_flow_capture_of(&t->set, r,
							  l->redirect_port);
		/* A local packet redirected to a local port loops over lo. */
		if (!l->arriving && c->hook != FL_HOOK_PRE)
			n->w.via_lo = true;
	}
	if (kind == ST_HIT_RULE && r->role == ST_ROLE_PROXY_TO_OWN_POD_REDIRECT)
		l->own_pod = true;
	n->last = t->now;
	if (!n->sealed) {
		fl_list_del(&t->walk, n);
		fl_list_add_tail(&t->walk, n);
	}
	fl_update_wait(t, n->slot);
}

/* A record of a packet after the leg's first one. */
static void fl_later(struct st_flow_table *t, struct fl_node *n,
		     const struct fl_chain *c, enum st_hit_kind kind,
		     unsigned int rule)
{
	struct st_flow_leg *l = &n->slot->flow.legs[n->leg];

	t->st.later++;
	l->later++;
	if (fl_is_later(&n->w, c, kind, rule)) {
		l->packets++;
		n->w.nseen = 0;
	}
	fl_seen_note(&n->w, c, kind, rule);
	if (kind == ST_HIT_POLICY)
		fl_seen_done(&n->w, c);
	if (!n->w.later) {
		n->w.later = true;
		fl_seal(t, n);
	}
}

static void fl_seal_if_rest(struct st_flow_table *t, struct fl_node *n)
{
	if (n != NULL && !n->lingering && !n->sealed && fl_at_rest(t, &n->w))
		fl_seal(t, n);
}

static int fl_record(struct st_flow_table *t, const struct st_rec *rec,
		     char *err)
{
	const struct st_hit *hit = &rec->hit;
	const struct fl_chain *c = NULL;
	const struct st_rule *r = NULL;
	struct fl_node *n = NULL;
	struct fl_key key;
	unsigned int fam = hit->family ? hit->family : rec->family;
	const struct fl_chain *fc = NULL;
	enum st_hit_kind fkind = hit->kind;
	unsigned int frule = hit->rule;

	if (hit->kind == ST_HIT_NONE) {
		fl_skip(t, ST_SKIP_UNTAGGED, "untagged prefix \"%s\"",
			rec->prefix);
		return 0;
	}
	if (!rec->l4_ok || (rec->family != 4 && rec->family != 6)) {
		fl_skip(t, ST_SKIP_NOT_IP, "no IP/TCP/UDP headers (%s:%s)",
			hit->table, hit->chain);
		return 0;
	}
	c = fl_chain_of_hit(&t->ci, hit, fam);
	if (c == NULL) {
		fl_skip(t, ST_SKIP_UNKNOWN_CHAIN, "no chain %s:%s in the rules",
			hit->table, hit->chain);
		return 0;
	}
	if (hit->kind == ST_HIT_RULE) {
		if (hit->rule == 0 || hit->rule > c->nrules) {
			fl_skip(t, ST_SKIP_UNKNOWN_RULE,
				"no rule %u in %s:%s (%u rules)", hit->rule,
				c->table, c->name, c->nrules);
			return 0;
		}
		r = c->rules[hit->rule - 1];
	}
	fc = c;
	fl_key_of(rec, &key);
	n = fl_hash_find(t, &key);
	if (n != NULL && n->lingering) {
		if (!(st_rec_may_start_leg(rec) &&
		      fl_dst_differs(n, rec->dst, rec->dport, rec->family))) {
			t->st.late++;
			n->last = t->now;
			fl_list_del(&t->linger, n);
			fl_list_add_tail(&t->linger, n);
			return 0;
		}
		fl_node_free(t, n); /* the address and port are reused */
		n = NULL;
	}
	/* What tells a later packet: the walk's first hop, filled in or not. */
	if (hit->minimal)
		fl_walk_first(&t->ci, n != NULL ? &n->w : NULL, &fc, &fkind,
			      &frule);
	if (n != NULL && (n->w.later || fl_is_later(&n->w, fc, fkind, frule))) {
		if (n->w.later || !st_rec_may_start_leg(rec) ||
		    !fl_dst_differs(n, rec->dst, rec->dport, rec->family)) {
			fl_later(t, n, fc, fkind, frule);
			return 0;
		}
		/* A new connection from the same address and port. */
		fl_hash_del(t, n);
		fl_seal(t, n);
		n = NULL;
	}
	if (n == NULL && !st_rec_may_start_leg(rec)) {
		t->st.ignored++;
		return 0;
	}
	if (t->active != NULL && t->active != n)
		fl_seal_if_rest(t, t->active);
	if (n != NULL && n->slot == NULL) {
		/* Sealing the other leg completed and emitted this one. */
		t->st.late++;
		return 0;
	}
	if (n == NULL) {
		n = fl_leg_new(t, rec, &key, fc);
		if (n == NULL)
			return st_err(err, ENOMEM, "flow table: no free leg");
		n->w.lost_before = t->lost_since && hit->minimal;
	}
	t->lost_since = false;
	fl_append(t, n, rec, c, r);
	t->active = n;
	return 0;
}

/* ---- public ---------------------------------------------------------- */

struct st_flow_table *st_flow_table_new(const struct st_ruleset *rs,
					const struct st_istio_settings *set,
					const struct st_flow_opts *opts,
					st_flow_emit_fn emit, void *data,
					char *err)
{
	struct st_flow_table *t = NULL;
	size_t nnodes = 0;

	if (rs == NULL || set == NULL || emit == NULL) {
		st_err(err, EINVAL,
		       "flow table: rules, settings and a "
		       "callback are required");
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		st_err(err, ENOMEM, "flow table: out of memory");
		goto fail;
	}
	t->rs = rs;
	t->set = *set;
	st_flow_ztunnel_of(rs, set, &t->zt);
	t->st.ambient = t->zt.ambient;
	if (opts != NULL)
		t->o = *opts;
	if (t->o.max_flows == 0)
		t->o.max_flows = FL_DEF_MAX_FLOWS;
	if (t->o.max_linger == 0)
		t->o.max_linger = 4 * t->o.max_flows;
	if (t->o.walk_timeout_ms == 0)
		t->o.walk_timeout_ms = FL_DEF_WALK_MS;
	if (t->o.stitch_window_ms == 0)
		t->o.stitch_window_ms = FL_DEF_WINDOW_MS;
	if (t->o.linger_ms == 0)
		t->o.linger_ms = FL_DEF_LINGER_MS;
	t->emit = emit;
	t->data = data;
	t->cbret = ST_CB_OK;
	if (fl_index_chains(t, err) < 0)
		goto fail;
	if (t->o.builtin_logged)
		fl_expect_builtin(t);

	nnodes = (size_t)t->o.max_flows * ST_FLOW_MAX_LEGS + t->o.max_linger;
	t->slots = calloc(t->o.max_flows, sizeof(*t->slots));
	t->nodes = calloc(nnodes, sizeof(*t->nodes));
	t->bucket_mask = st_pow2(nnodes * 2) - 1;
	t->buckets = calloc(t->bucket_mask + 1, sizeof(*t->buckets));
	t->dbucket_mask = st_pow2((size_t)t->o.max_flows * 2) - 1;
	t->dbuckets = calloc(t->dbucket_mask + 1, sizeof(*t->dbuckets));
	t->pbuckets = calloc(t->dbucket_mask + 1, sizeof(*t->pbuckets));
	t->pool_mask = t->dbucket_mask;
	t->pools = calloc(t->pool_mask + 1, sizeof(*t->pools));
	t->endpoints = calloc(t->pool_mask + 1, sizeof(*t->endpoints));
	if (t->slots == NULL || t->nodes == NULL || t->buckets == NULL ||
	    t->dbuckets == NULL || t->pbuckets == NULL || t->pools == NULL ||
	    t->endpoints == NULL) {
		st_err(err, ENOMEM, "flow table: out of memory (%u flows)",
		       t->o.max_flows);
		goto fail;
	}
	for (size_t i = t->o.max_flows; i > 0; i--) {
		t->slots[i - 1].free_next = t->free_slots;
		t->free_slots = &t->slots[i - 1];
	}
	for (size_t i = nnodes; i > 0; i--) {
		t->nodes[i - 1].free_next = t->free_nodes;
		t->free_nodes = &t->nodes[i - 1];
	}
	return t;
fail:
	st_flow_table_free(t);
	return NULL;
}

void st_flow_table_free(struct st_flow_table *t)
{
	if (t == NULL)
		return;
	fl_chains_release(&t->ci);
	free(t->slots);
	free(t->nodes);
	free(t->buckets);
	free(t->dbuckets);
	free(t->pbuckets);
	free(t->pools);
	free(t->endpoints);
	free(t);
}

int st_flow_table_add(struct st_flow_table *t, const struct st_rec *rec,
		      char *err)
{
	int ret = 0;

	t->cbret = ST_CB_OK;
	t->st.records++;
	fl_clock(t, &rec->ts);
	fl_expire(t);
	ret = fl_record(t, rec, err);
	if (ret < 0)
		return ret;
	return fl_result(t, err);
}

int st_flow_table_lost(struct st_flow_table *t, uint64_t n)
{
	t->st.lost += n;
	if (n > 0)
		t->lost_since = true;
	for (struct fl_node *x = t->walk.head; x != NULL; x = x->next) {
		x->w.lost = true;
		x->slot->flow.legs[x->leg].lost = true;
	}
	return ST_CB_OK;
}

int st_flow_table_expire(struct st_flow_table *t, const struct timespec *now,
			 char *err)
{
	t->cbret = ST_CB_OK;
	fl_clock(t, now);
	fl_expire(t);
	return fl_result(t, err);
}

int st_flow_table_flush(struct st_flow_table *t, char *err)
{
	t->cbret = ST_CB_OK;
	while (t->walk.head != NULL)
		fl_seal(t, t->walk.head);
	for (unsigned int q = 0; q < ST_ARRAY_SIZE(t->wq); q++)
		while (t->wq[q].head != NULL)
			fl_wait_timeout(t, t->wq[q].head,
					t->now - t->wq[q].head->wait_since >=
						(int64_t)t->o.stitch_window_ms *
							FL_NS_PER_MS);
	while (t->chead != NULL) {
		struct fl_slot *s = t->chead;

		/* Every leg is sealed and nothing waits: emit. */
		fl_try_complete(t, s);
		if (t->chead == s)
			fl_emit(t, s);
	}
	t->active = NULL;
	return fl_result(t, err);
}

void st_flow_table_stats(const struct st_flow_table *t,
			 struct st_flow_stats *out)
{
	*out = t->st;
}

uint64_t st_flow_table_skipped(const struct st_flow_table *t,
			       enum st_flow_skip why)
{
	if (t == NULL || (unsigned int)why >= ST_ARRAY_SIZE(t->st.skipped_by))
		return 0;
	return t->st.skipped_by[why];
}
