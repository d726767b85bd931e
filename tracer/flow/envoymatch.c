// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * envoymatch.c - flows paired with Envoy's access log (see envoymatch.h).
 *
 * Held flows and waiting entries are kept in arrival order, which is also
 * the order their bounds pass (the clock only moves forward), so expiry
 * looks at the heads only.  Lookups scan what is held: within one bound
 * that is the flows of a few seconds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "envoymatch.h"

#define EM_NS_PER_MS INT64_C(1000000)
#define EM_DEF_MAX_FLOWS 1024

struct em_held {
	struct st_flow flow;
	struct st_flow_reqs reqs;
	int64_t since; /* the clock when it came */
	bool direct;   /* a proxy-direct flow: a leg an entry may claim */
	unsigned int decided; /* bit i: an entry on leg i decided leg i+1 */
	bool pool_log; /* its pooled connection is known from the log only */
	/* The request ids of the entries of its first leg, the last few. */
	char rids[ST_FLOW_REQS_MAX][ST_ENVOY_ID_SIZE];
	unsigned int nrids;
	struct em_held *prev, *next;
};

struct em_entry {
	int64_t at;
	struct st_envoy_addr dr; /* DOWNSTREAM_REMOTE_ADDRESS */
	struct st_envoy_addr dl; /* DOWNSTREAM_LOCAL_ADDRESS; family 0: none */
	struct st_envoy_addr ul; /* UPSTREAM_LOCAL_ADDRESS; family 0: none */
	struct st_envoy_addr uh; /* UPSTREAM_HOST; family 0: none */
	char rid[ST_ENVOY_ID_SIZE]; /* X-REQUEST-ID; "" none */
	bool self; /* with an id, from the pod to itself: see em_own_leg() */
	struct st_flow_req req;
	struct em_entry *prev, *next;
};

/* An upstream connection seen as a new leg, and the flow it was in. */
struct em_conn {
	bool used;
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
	uint8_t dst[16];
	uint16_t dport;
	uint64_t flow_id;
};

struct em_list {
	void *head, *tail;
};

struct st_envoymatch {
	struct st_istio_settings set;
	bool have_set;
	unsigned int max_flows;
	unsigned int max_entries;
	int64_t wait;
	int64_t now;
	st_envoymatch_emit_fn emit;
	void *data;
	int cbret;
	struct em_held *held_pool;
	struct em_held *held_free;
	struct em_held *hhead, *htail;
	struct em_entry *entry_pool;
	struct em_entry *entry_free;
	struct em_entry *ehead, *etail;
	struct em_conn *conns;
	size_t conn_mask;
	struct st_flow_envoy_stats st;
	struct st_flow scratch; /* a split flow emitted at once: no slot */
};

/* ---- small helpers --------------------------------------------------- */

static size_t em_alen(uint8_t family)
{
	return family == 6 ? 16 : 4;
}

static int64_t em_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static bool em_addr_eq(const struct st_envoy_addr *a, uint8_t family,
		       const uint8_t *addr, uint16_t port)
{
	return a->family == family && a->port == port &&
	       memcmp(a->addr, addr, em_alen(family)) == 0;
}

static bool em_leg_src(const struct st_flow_leg *l,
		       const struct st_envoy_addr *a)
{
	return em_addr_eq(a, l->family, l->src, l->sport);
}

static bool em_captured(const struct st_flow_leg *l)
{
	return l->capture == ST_CAPTURE_OUTBOUND ||
	       l->capture == ST_CAPTURE_INBOUND;
}

/*
 * @src into @dst, cut to fit with "..." at the end; bytes other than
 * printable ASCII become '?', so that a request prints the same on a
 * terminal and in both JSON writers.
 */
static void em_copy(char *dst, size_t size, const char *src, bool cut)
{
	size_t n = strlen(src);

	st_strlcpy(dst, src, size);
	for (char *p = dst; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	if ((n >= size || cut) && size > 4)
		memcpy(dst + size - 4, "...", 4);
}

void st_envoymatch_req(const struct st_envoy_req *r, struct st_flow_req *q)
{
	memset(q, 0, sizeof(*q));
	q->tcp = st_envoy_is_tcp(r);
	if (st_envoy_has(r, ST_ENVOY_RESPONSE_CODE) && r->response_code != 0) {
		q->has_code = true;
		q->code = r->response_code;
	}
	if (st_envoy_has(r, ST_ENVOY_DURATION)) {
		q->has_duration = true;
		q->duration_ms = r->duration_ms;
	}
	if (st_envoy_has(r, ST_ENVOY_UPSTREAM_HOST)) {
		q->host_family = r->upstream_host.family;
		q->host_port = r->upstream_host.port;
		memcpy(q->host, r->upstream_host.addr, sizeof(q->host));
	}
	if (st_envoy_has(r, ST_ENVOY_METHOD))
		em_copy(q->method, sizeof(q->method), r->method, false);
	if (st_envoy_has(r, ST_ENVOY_AUTHORITY))
		em_copy(q->authority, sizeof(q->authority), r->authority,
			r->truncated & ST_ENVOY_BIT(ST_ENVOY_AUTHORITY));
	if (st_envoy_has(r, ST_ENVOY_PATH))
		em_copy(q->path, sizeof(q->path), r->path,
			r->truncated & ST_ENVOY_BIT(ST_ENVOY_PATH));
	if (st_envoy_has(r, ST_ENVOY_RESPONSE_FLAGS))
		em_copy(q->flags, sizeof(q->flags), r->response_flags, false);
	if (st_envoy_has(r, ST_ENVOY_UPSTREAM_CLUSTER))
		em_copy(q->cluster, sizeof(q->cluster), r->upstream_cluster,
			r->truncated & ST_ENVOY_BIT(ST_ENVOY_UPSTREAM_CLUSTER));
}

/* Doubly linked lists of held flows and of entries, in arrival order. */
#define EM_UNLINK(head, tail, x)                     \
	do {                                         \
		if ((x)->prev != NULL)               \
			(x)->prev->next = (x)->next; \
		else                                 \
			(head) = (x)->next;          \
		if ((x)->next != NULL)               \
			(x)->next->prev = (x)->prev; \
		else                                 \
			(tail) = (x)->prev;          \
		(x)->prev = (x)->next = NULL;        \
	} while (0)

#define EM_APPEND(head, tail, x)            \
	do {                                \
		(x)->next = NULL;           \
		(x)->prev = (tail);         \
		if ((tail) != NULL)         \
			(tail)->next = (x); \
		else                        \
			(head) = (x);       \
		(tail) = (x);               \
	} while (0)

/* ---- connections seen ------------------------------------------------ */

static struct em_conn *em_conn_at(const struct st_envoymatch *m, uint8_t family,
				  const uint8_t *addr, uint16_t port)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = addr;

	for (size_t i = 0; i < em_alen(family); i++)
		h = (h ^ p[i]) * 16777619u;
	h = (h ^ family) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	return &m->conns[h & m->conn_mask];
}

/* Remember the upstream legs @f shows Envoy opening. */
static void em_conn_note(struct st_envoymatch *m, const struct st_flow *f)
{
	for (unsigned int i = 0; i + 1 < f->nlegs; i++) {
		const struct st_flow_leg *e = &f->legs[i + 1];
		struct em_conn *c = NULL;

		if (!em_captured(&f->legs[i]) || !e->proxy)
			continue;
		c = em_conn_at(m, e->family, e->src, e->sport);
		c->used = true;
		c->family = e->family;
		c->port = e->sport;
		memcpy(c->addr, e->src, sizeof(c->addr));
		memcpy(c->dst, e->dst, sizeof(c->dst));
		c->dport = e->dport;
		c->flow_id = f->id;
	}
}

static const struct em_conn *em_conn_find(const struct st_envoymatch *m,
					  const struct st_envoy_addr *a)
{
	const struct em_conn *c = em_conn_at(m, a->family, a->addr, a->port);

	if (!c->used || c->family != a->family || c->port != a->port ||
	    memcmp(c->addr, a->addr, em_alen(a->family)) != 0)
		return NULL;
	return c;
}

/* ---- emitting -------------------------------------------------------- */

static void em_cb(struct st_envoymatch *m, int ret)
{
	if (ret == ST_CB_STOP || ret < 0)
		m->cbret = ST_CB_STOP;
}

/* Why no line came, when saying so adds to what the flow says. */
static void em_note_no_line(struct st_envoymatch *m, struct st_flow *f)
{
	size_t n = strlen(f->reason);
	bool say = f->side == ST_SIDE_GUESS || f->side == ST_SIDE_REUSED;

	for (unsigned int i = 0; i < f->nlegs && f->side == ST_SIDE_NONE; i++)
		say = say || em_captured(&f->legs[i]);
	if (!say || n + 2 >= sizeof(f->reason))
		return;
	snprintf(f->reason + n, sizeof(f->reason) - n,
		 "%sno access-log line within %" PRId64
		 " ms (a TCP connection logs when it closes)",
		 n > 0 ? "; " : "", m->wait / EM_NS_PER_MS);
}

/* Send @h on and free its slot.  @passed: its bound passed. */
static void em_release(struct st_envoymatch *m, struct em_held *h, bool passed)
{
	EM_UNLINK(m->hhead, m->htail, h);
	if (!h->direct && h->reqs.total == 0) {
		m->st.flows_no_line++;
		if (passed)
			em_note_no_line(m, &h->flow);
	}
	if (!h->direct)
		em_conn_note(m, &h->flow);
	h->flow.reqs = h->reqs.total > 0 ? &h->reqs : NULL;
	em_cb(m, m->emit(m->data, &h->flow));
	h->next = m->held_free;
	m->held_free = h;
}

/* Free @h's slot without emitting (its leg moved into another flow). */
static void em_drop(struct st_envoymatch *m, struct em_held *h)
{
	EM_UNLINK(m->hhead, m->htail, h);
	h->next = m->held_free;
	m->held_free = h;
}

/* A free slot for a flow coming in; the oldest is released when full. */
static struct em_held *em_held_alloc(struct st_envoymatch *m)
{
	struct em_held *h = m->held_free;

	if (h == NULL) {
		if (m->hhead == NULL)
			return NULL;
		m->st.dropped++;
		em_release(m, m->hhead, false);
		h = m->held_free;
	}
	m->held_free = h->next;
	memset(h, 0, sizeof(*h));
	return h;
}

static void em_entry_free(struct st_envoymatch *m, struct em_entry *e)
{
	EM_UNLINK(m->ehead, m->etail, e);
	e->next = m->entry_free;
	m->entry_free = e;
}

/* ---- matching -------------------------------------------------------- */

/* The captured leg of @f that @e came in on, or -1. */
static int em_leg_of(const struct st_flow *f, const struct em_entry *e)
{
	for (unsigned int i = 0; i < f->nlegs; i++) {
		const struct st_flow_leg *l = &f->legs[i];

		if (!em_captured(l) || !em_leg_src(l, &e->dr))
			continue;
		if (e->dl.family != 0 &&
		    !em_addr_eq(&e->dl, l->family, l->dst, l->dport))
			continue;
		return (int)i;
	}
	return -1;
}

/* The held proxy-direct flow whose leg comes from @a. */
static struct em_held *em_direct_from(const struct st_envoymatch *m,
				      const struct st_envoy_addr *a)
{
	for (struct em_held *h = m->hhead; h != NULL; h = h->next)
		if (h->direct && h->flow.nlegs == 1 &&
		    em_leg_src(&h->flow.legs[0], a))
			return h;
	return NULL;
}

static void em_classify(struct st_envoymatch *m, struct st_flow *f)
{
	static const struct st_istio_settings none;

	st_class_flow(f, m->have_set ? &m->set : &none);
}

/* Legs @from.. of @h go out as a held flow of their own. */
/*
 * Legs @from.. of @h go out as a flow of their own: held, so that an entry
 * may claim them (returned); when no slot is free, emitted at once (NULL),
 * since releasing a held flow now could release one the caller holds.
 */
static struct em_held *em_split(struct st_envoymatch *m, struct em_held *h,
				unsigned int from)
{
	struct em_held *n = m->held_free;
	struct st_flow *f = &h->flow;
	struct st_flow *o = n != NULL ? &n->flow : &m->scratch;

	if (n != NULL) {
		m->held_free = n->next;
		memset(n, 0, sizeof(*n));
	}
	*o = *f;
	o->nlegs = f->nlegs - from;
	for (unsigned int i = 0; i < o->nlegs; i++)
		o->legs[i] = f->legs[from + i];
	o->side = ST_SIDE_NONE;
	o->fits = 0;
	o->timed_out = false;
	o->reqs = NULL;
	memset(&o->pooled, 0, sizeof(o->pooled));
	em_classify(m, o);
	f->nlegs = from;
	m->st.split++;
	if (n == NULL) {
		m->st.dropped++;
		em_cb(m, m->emit(m->data, o));
		return NULL;
	}
	n->direct = o->klass == ST_CLASS_PROXY_DIRECT;
	n->since = m->now; /* a bound of its own for an entry to claim it */
	EM_APPEND(m->hhead, m->htail, n);
	return n;
}

/*
 * U's leg taken by time order for another held flow that no entry decided
 * yet: it goes out of that flow as a held flow of its own (returned), and
 * the flow it leaves waited in vain.  NULL when no such leg is held.
 */
static struct em_held *em_take_guess(struct st_envoymatch *m,
				     const struct em_held *keep,
				     const struct st_envoy_addr *u)
{
	for (struct em_held *g = m->hhead; g != NULL; g = g->next) {
		struct st_flow *f = &g->flow;

		if (g == keep || g->direct || g->decided != 0 ||
		    f->side != ST_SIDE_GUESS)
			continue;
		for (unsigned int k = 1; k < f->nlegs; k++) {
			if (!em_leg_src(&f->legs[k], u))
				continue;
			struct em_held *n = em_split(m, g, k);

			f->side = ST_SIDE_NONE;
			f->timed_out = true;
			em_classify(m, f);
			return n != NULL && n->direct ? n : NULL;
		}
	}
	return NULL;
}

/* The reason of a flow whose Envoy side is a pooled connection. */
static void em_pooled_reason(struct st_flow *f)
{
	const struct st_flow_conn *c = &f->pooled;
	char src[ST_FLOW_ADDR_SIZE];
	char dst[ST_FLOW_ADDR_SIZE] = "-";

	st_flow_addr_format(c->family, c->src, c->sport, src, sizeof(src));
	if (c->dport != 0)
		st_flow_addr_format(c->family, c->dst, c->dport, dst,
				    sizeof(dst));
	if (c->known)
		snprintf(f->reason, sizeof(f->reason),
			 "Envoy reused its pooled connection %s -> %s, "
			 "opened in flow %" PRIu64 " (access log)",
			 src, dst, c->flow_id);
	else
		snprintf(f->reason, sizeof(f->reason),
			 "Envoy reused its pooled connection %s -> %s, opened "
			 "before the trace or not seen (access log)",
			 src, dst);
}

/* The upstream of @e decides @h's Envoy side: leg @i was the downstream. */
static void em_decide(struct st_envoymatch *m, struct em_held *h,
		      const struct em_entry *e, unsigned int i)
{
	struct st_flow *f = &h->flow;
	unsigned int j = i + 1;
	struct em_held *p = NULL;

	h->decided |= 1u << i;
	if (j < f->nlegs && em_leg_src(&f->legs[j], &e->ul)) {
		/* Confirmed; the time-order guess was right. */
		f->side = ST_SIDE_ACCESS_LOG;
		if (f->type != 0)
			f->reason[0] = '\0';
		return;
	}
	p = em_direct_from(m, &e->ul);
	if (p == NULL)
		p = em_take_guess(m, h, &e->ul);
	if (j < f->nlegs)
		em_split(m, h, j);
	memset(&f->pooled, 0, sizeof(f->pooled));
	h->pool_log = false;
	if (p != NULL) {
		for (unsigned int k = 0;
		     k < p->flow.nlegs && f->nlegs < ST_FLOW_MAX_LEGS; k++)
			f->legs[f->nlegs++] = p->flow.legs[k];
		em_drop(m, p);
		m->st.absorbed++;
		f->timed_out = false;
	} else {
		const struct em_conn *c = em_conn_find(m, &e->ul);
		const struct st_flow_leg *a = &f->legs[0];

		f->timed_out = true;
		f->pooled.family = e->ul.family;
		f->pooled.sport = e->ul.port;
		memcpy(f->pooled.src, e->ul.addr, sizeof(f->pooled.src));
		if (e->uh.family == e->ul.family) {
			f->pooled.dport = e->uh.port;
			memcpy(f->pooled.dst, e->uh.addr,
			       sizeof(f->pooled.dst));
		}
		/* The pod's own address upstream: local-to-local. */
		f->pooled.own_pod =
			a->capture == ST_CAPTURE_OUTBOUND &&
			e->uh.family == a->family &&
			memcmp(e->uh.addr, a->src, em_alen(a->family)) == 0;
		if (c != NULL) {
			f->pooled.known = true;
			f->pooled.flow_id = c->flow_id;
		}
		h->pool_log = c == NULL;
	}
	f->side = ST_SIDE_ACCESS_LOG;
	f->fits = 0;
	em_classify(m, f);
	f->side = ST_SIDE_ACCESS_LOG;
	if (p == NULL && f->type != 0)
		em_pooled_reason(f);
	else if (f->type != 0)
		f->reason[0] = '\0';
}

/*
 * @h shows Envoy opening connections: the held flows that reused one of
 * them, as the log said before @h came, name the flow that opened it.
 */
static void em_name_pooled(struct st_envoymatch *m, const struct em_held *h)
{
	const struct st_flow *f = &h->flow;

	for (unsigned int i = 0; i + 1 < f->nlegs; i++) {
		const struct st_flow_leg *u = &f->legs[i + 1];

		if (!em_captured(&f->legs[i]) || !u->proxy)
			continue;
		for (struct em_held *g = m->hhead; g != NULL; g = g->next) {
			struct st_flow_conn *c = &g->flow.pooled;

			if (g == h || g->flow.side != ST_SIDE_ACCESS_LOG ||
			    c->known || c->family != u->family ||
			    c->sport != u->sport ||
			    memcmp(c->src, u->src, em_alen(u->family)) != 0)
				continue;
			c->known = true;
			c->flow_id = f->id;
			g->pool_log = false;
			if (g->flow.type != 0)
				em_pooled_reason(&g->flow);
		}
	}
}

static bool em_has_rid(const struct em_held *h, const char *rid)
{
	for (unsigned int k = 0; k < h->nrids && k < ST_FLOW_REQS_MAX; k++)
		if (strcmp(h->rids[k], rid) == 0)
			return true;
	return false;
}

/*
 * Where @e goes in @h: the index of the captured leg it came in on, or
 * EM_HALF, or -1.  A local-to-local request passes Envoy twice and logs
 * twice with the same request id, the inbound line first (the inner
 * request ends first): that line comes in on the proxy's own connection
 * to its pod, which Envoy pools too, so such a line (with an id) goes
 * only to the flow whose outbound line has that id - the one owning that
 * connection, or one that reused it (EM_HALF) - and waits for that line
 * until its bound passes (then em_self_fallback()).
 */
#define EM_HALF (-2)

/* Leg @i of @f, which @e came in on, is the proxy's own connection. */
static bool em_own_leg(const struct st_flow *f, const struct em_entry *e, int i)
{
	return i >= 0 && e->self && f->legs[i].capture == ST_CAPTURE_INBOUND;
}

static int em_match(const struct em_held *h, const struct em_entry *e)
{
	const struct st_flow_conn *c = &h->flow.pooled;
	int i;

	if (h->direct)
		return -1;
	i = em_leg_of(&h->flow, e);
	if (em_own_leg(&h->flow, e, i))
		return em_has_rid(h, e->rid) ? i : -1;
	if (i == 0 || (i > 0 && (e->rid[0] == '\0' || em_has_rid(h, e->rid))))
		return i;
	if (i < 0 && e->rid[0] != '\0' && c->family == e->dr.family &&
	    c->sport == e->dr.port &&
	    memcmp(c->src, e->dr.addr, em_alen(c->family)) == 0 &&
	    em_has_rid(h, e->rid))
		return EM_HALF;
	return -1;
}

/*
 * Attach @e to @h (the entry's slot is the caller's) at @i (em_match()).
 * Return: whether a request id was added, which may make waiting entries
 * match @h.
 */
static bool em_apply(struct st_envoymatch *m, struct em_held *h,
		     const struct em_entry *e, int i)
{
	struct st_flow_reqs *r = &h->reqs;

	m->st.matched++;
	if (r->n < ST_FLOW_REQS_MAX)
		r->req[r->n++] = e->req;
	r->total++;
	if (i >= 0 && !(h->decided & (1u << i)) && e->ul.family != 0)
		em_decide(m, h, e, (unsigned int)i);
	if (i != 0 || e->rid[0] == '\0' || em_own_leg(&h->flow, e, i))
		return false;
	st_strlcpy(h->rids[h->nrids++ % ST_FLOW_REQS_MAX], e->rid,
		   sizeof(h->rids[0]));
	return true;
}

/* Every waiting entry that goes to @h, in the order they came. */
static void em_drain_into(struct st_envoymatch *m, struct em_held *h)
{
	struct em_entry *e = m->ehead;

	while (e != NULL) {
		int i = em_match(h, e);

		if (i == -1) {
			e = e->next;
			continue;
		}
		em_apply(m, h, e, i);
		em_entry_free(m, e);
		e = m->ehead; /* an id added may make earlier ones match */
	}
}

/* A proxy-direct flow that a decided flow named as its pooled upstream. */
static bool em_claim_direct(struct st_envoymatch *m, struct em_held *d)
{
	const struct st_flow_leg *l = &d->flow.legs[0];

	for (struct em_held *h = m->hhead; h != NULL; h = h->next) {
		struct st_flow *f = &h->flow;

		if (!h->pool_log || f->pooled.family != l->family ||
		    f->pooled.sport != l->sport ||
		    memcmp(f->pooled.src, l->src, em_alen(l->family)) != 0 ||
		    f->nlegs >= ST_FLOW_MAX_LEGS)
			continue;
		f->legs[f->nlegs++] = *l;
		memset(&f->pooled, 0, sizeof(f->pooled));
		f->timed_out = false;
		h->pool_log = false;
		em_classify(m, f);
		f->side = ST_SIDE_ACCESS_LOG;
		if (f->type != 0)
			f->reason[0] = '\0';
		m->st.absorbed++;
		return true;
	}
	return false;
}

/* Which flows wait for lines: those with a captured leg, proxy-direct. */
static bool em_wants(const struct st_flow *f)
{
	if (f->klass == ST_CLASS_PROXY_DIRECT)
		return f->nlegs == 1;
	if (f->side != ST_SIDE_NONE)
		return true;
	for (unsigned int i = 0; i < f->nlegs; i++)
		if (em_captured(&f->legs[i]) && f->legs[i].proto == IPPROTO_TCP)
			return true;
	return false;
}

/* ---- time ------------------------------------------------------------ */

/*
 * A line of the proxy's own connection whose outbound line never came
 * (not logged, or cut): it goes to the newest held flow that has its
 * leg, as any line would.  Return: whether one took it.
 */
static bool em_self_fallback(struct st_envoymatch *m, const struct em_entry *e)
{
	if (!e->self)
		return false;
	for (struct em_held *h = m->htail; h != NULL; h = h->prev) {
		int i = h->direct ? -1 : em_leg_of(&h->flow, e);

		if (i < 0)
			continue;
		em_apply(m, h, e, i);
		return true;
	}
	return false;
}

/* The oldest waiting entry, whose bound passed or which is flushed. */
static void em_entry_end(struct st_envoymatch *m)
{
	struct em_entry *e = m->ehead;

	if (!em_self_fallback(m, e))
		m->st.no_leg++;
	em_entry_free(m, e);
}

static void em_expire(struct st_envoymatch *m)
{
	while (m->hhead != NULL && m->hhead->since + m->wait <= m->now)
		em_release(m, m->hhead, true);
	while (m->ehead != NULL && m->ehead->at + m->wait <= m->now)
		em_entry_end(m);
}

static void em_clock(struct st_envoymatch *m, const struct timespec *now)
{
	int64_t ns = now != NULL ? em_ns(now) : 0;

	if (ns > m->now)
		m->now = ns;
}

/* ---- public ---------------------------------------------------------- */

int st_envoymatch_new(struct st_envoymatch **out,
		      const struct st_envoymatch_opts *o,
		      st_envoymatch_emit_fn emit, void *data, char *err)
{
	struct st_envoymatch *m = NULL;
	size_t nconn = 1;

	*out = NULL;
	if (emit == NULL)
		return st_err(err, EINVAL, "envoy match: no output");
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return st_err(err, ENOMEM, "out of memory");
	if (o->set != NULL) {
		m->set = *o->set;
		m->have_set = true;
	}
	m->max_flows = o->max_flows != 0 ? o->max_flows : EM_DEF_MAX_FLOWS;
	m->max_entries =
		o->max_entries != 0 ? o->max_entries : 4 * m->max_flows;
	m->wait = (int64_t)(o->wait_ms != 0 ? o->wait_ms
					    : ST_ENVOYMATCH_WAIT_MS) *
		  EM_NS_PER_MS;
	m->emit = emit;
	m->data = data;
	while (nconn < 2 * (size_t)m->max_flows)
		nconn <<= 1;
	m->conn_mask = nconn - 1;
	m->held_pool = calloc(m->max_flows, sizeof(*m->held_pool));
	m->entry_pool = calloc(m->max_entries, sizeof(*m->entry_pool));
	m->conns = calloc(nconn, sizeof(*m->conns));
	if (m->held_pool == NULL || m->entry_pool == NULL || m->conns == NULL) {
		st_envoymatch_free(m);
		return st_err(err, ENOMEM,
			      "out of memory (%u flows held for the access "
			      "log)",
			      o->max_flows);
	}
	for (size_t i = m->max_flows; i > 0; i--) {
		m->held_pool[i - 1].next = m->held_free;
		m->held_free = &m->held_pool[i - 1];
	}
	for (size_t i = m->max_entries; i > 0; i--) {
		m->entry_pool[i - 1].next = m->entry_free;
		m->entry_free = &m->entry_pool[i - 1];
	}
	m->st.given = true;
	*out = m;
	return 0;
}

void st_envoymatch_free(struct st_envoymatch *m)
{
	if (m == NULL)
		return;
	free(m->held_pool);
	free(m->entry_pool);
	free(m->conns);
	free(m);
}

int st_envoymatch_flow(struct st_envoymatch *m, const struct st_flow *flow,
		       const struct timespec *now)
{
	struct em_held *h = NULL;

	m->cbret = ST_CB_OK;
	em_clock(m, now);
	em_expire(m);
	if (!em_wants(flow)) {
		em_cb(m, m->emit(m->data, flow));
		return m->cbret;
	}
	h = em_held_alloc(m);
	if (h == NULL) {
		em_cb(m, m->emit(m->data, flow));
		return m->cbret;
	}
	h->flow = *flow;
	h->flow.reqs = NULL;
	h->since = m->now;
	h->direct = flow->klass == ST_CLASS_PROXY_DIRECT;
	if (h->direct && em_claim_direct(m, h)) {
		h->next = m->held_free;
		m->held_free = h;
		return m->cbret;
	}
	EM_APPEND(m->hhead, m->htail, h);
	if (h->direct)
		return m->cbret; /* an entry's flow to come will claim it */
	em_conn_note(m, &h->flow);
	em_name_pooled(m, h);
	em_drain_into(m, h);
	return m->cbret;
}

int st_envoymatch_entry(struct st_envoymatch *m, const struct st_envoy_req *req,
			const struct timespec *now)
{
	struct em_entry *e = NULL;
	struct em_entry tmp;

	m->cbret = ST_CB_OK;
	em_clock(m, now);
	em_expire(m);
	m->st.lines++;
	if (!st_envoy_has(req, ST_ENVOY_DOWNSTREAM_REMOTE)) {
		m->st.no_address++;
		return m->cbret;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.at = m->now;
	tmp.dr = req->downstream_remote;
	if (st_envoy_has(req, ST_ENVOY_DOWNSTREAM_LOCAL))
		tmp.dl = req->downstream_local;
	if (st_envoy_has(req, ST_ENVOY_UPSTREAM_LOCAL))
		tmp.ul = req->upstream_local;
	if (st_envoy_has(req, ST_ENVOY_UPSTREAM_HOST))
		tmp.uh = req->upstream_host;
	if (st_envoy_has(req, ST_ENVOY_REQUEST_ID))
		st_strlcpy(tmp.rid, req->request_id, sizeof(tmp.rid));
	tmp.self =
		tmp.rid[0] != '\0' && tmp.dl.family != 0 &&
		tmp.dl.family == tmp.dr.family &&
		memcmp(tmp.dl.addr, tmp.dr.addr, em_alen(tmp.dr.family)) == 0;
	st_envoymatch_req(req, &tmp.req);
	/* The newest held flow: a source port reused later is another. */
	for (struct em_held *h = m->htail; h != NULL; h = h->prev) {
		int i = em_match(h, &tmp);

		if (i == -1)
			continue;
		if (em_apply(m, h, &tmp, i))
			em_drain_into(m, h);
		return m->cbret;
	}
	e = m->entry_free;
	if (e == NULL) {
		m->st.no_leg++;
		m->st.dropped++;
		em_entry_free(m, m->ehead);
		e = m->entry_free;
	}
	m->entry_free = e->next;
	*e = tmp;
	EM_APPEND(m->ehead, m->etail, e);
	return m->cbret;
}

int st_envoymatch_time(struct st_envoymatch *m, const struct timespec *now)
{
	m->cbret = ST_CB_OK;
	em_clock(m, now);
	em_expire(m);
	return m->cbret;
}

int st_envoymatch_flush(struct st_envoymatch *m)
{
	m->cbret = ST_CB_OK;
	while (m->ehead != NULL)
		em_entry_end(m);
	while (m->hhead != NULL)
		em_release(m, m->hhead, false);
	return m->cbret;
}

void st_envoymatch_stats(const struct st_envoymatch *m,
			 struct st_flow_envoy_stats *st)
{
	*st = m->st;
	st->given = true;
}
