// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plaincap.c - ordinary captures (tcpdump -i any, Ethernet, raw IP) through
 * the evaluator: connections grouped from their first packets, their legs
 * and owners inferred from what the packets show (see plaincap.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "istio.h"
#include "pipe.h"
#include "plaincap.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define PC_ARPHRD_LOOPBACK 772
#define PC_PKT_HOST 0
#define PC_PKT_OUTGOING 4
#define PC_HASH_SIZE (2 * ST_PLAINCAP_MAX_CONNS) /* a power of two */
/* How long a redirected leg waits for the sidecar's next connection. */
#define PC_WINDOW_NS 2000000000LL
/* A repeated SYN within this time is a retransmission, not a new leg. */
#define PC_DUP_NS 3000000000LL
#define PC_MAX_ADDRCOUNT 32
#define PC_DEFAULT_APP_UID 1000

enum pc_kind {
	PC_NONE = 0,	   /* not the pod's */
	PC_ARRIVING,	   /* came in through the pod's device */
	PC_SENT,	   /* left through the pod's device, not redirected */
	PC_LOCAL,	   /* over lo, not redirected */
	PC_OUT_REDIR,	   /* over lo to 127.0.0.1:outbound port */
	PC_IN_REDIR_LOCAL, /* over lo to 127.0.0.1:inbound port */
	PC_DNS_REDIR,	   /* over lo to 127.0.0.1:DNS port */
	PC_PASSTHRU,	   /* from 127.0.0.6 / ::6 */
};

struct pc_conn {
	struct timespec ts;
	uint8_t family;
	uint8_t proto;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	int8_t lo;
	int8_t outgoing;
	uint32_t ifindex;
	bool has_reply;
	uint8_t rsrc[16]; /* the first reply's source: un-NATed */
	uint16_t rport;
	uint32_t packets;
	enum pc_kind kind;
	int parent; /* the connection this one continues, -1 */
	int child;  /* the sidecar's next connection, -1 */
};

struct pc_addrcount {
	uint8_t family;
	uint8_t addr[16];
	uint64_t n;
};

struct pc {
	const struct st_plaincap_opts *o;
	const struct st_plaincap_opts *po;
	struct st_pipe *pipe;
	struct st_plaincap_result *res;
	struct st_istio_settings set;
	struct st_ruleset *rs;
	struct st_eval_env env;
	struct st_eval_result *ev[2]; /* app, proxy */
	struct pc_conn *conns;
	unsigned int nconns;
	int32_t *fwd; /* 5-tuple -> conn */
	int32_t *cli; /* client (proto, addr, port) -> conn */
	struct pc_addrcount addrs[PC_MAX_ADDRCOUNT];
	unsigned int naddrs;
	struct st_rec rec;
	char first_skip[128];
	uint32_t app_uid;
	uint32_t app_gid;
	uint32_t proxy_uid;
	uint32_t proxy_gid;
};

static const char *const pc_skip_names[ST_PLAINCAP_SKIP_MAX] = {
	[ST_PLAINCAP_SKIP_LINK] = "link",
	[ST_PLAINCAP_SKIP_NOT_IP] = "not-ip",
	[ST_PLAINCAP_SKIP_L3] = "l3",
	[ST_PLAINCAP_SKIP_PROTO] = "not-tcp-udp",
	[ST_PLAINCAP_SKIP_OTHERHOST] = "other-host",
	[ST_PLAINCAP_SKIP_FULL] = "table-full",
};

const char *st_plaincap_skip_name(enum st_plaincap_skip why)
{
	if ((unsigned int)why >= ST_PLAINCAP_SKIP_MAX)
		return "?";
	return pc_skip_names[why];
}

bool st_plaincap_linktype_ok(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	default:
		return false;
	}
}

int st_plaincap_probe(const char *path, char *err)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	int dlt;

	(void)err;
	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	p = pcap_open_offline(path, perr);
	if (p == NULL)
		return 0;
	dlt = pcap_datalink(p);
	pcap_close(p);
	return st_plaincap_linktype_ok(dlt) ? 1 : 0;
}

/* Skip 802.1Q / 802.1ad tags; the ethertype of the payload at @*off - 2. */
static int pc_ethertype(const uint8_t *buf, size_t len, size_t *off,
			uint16_t type)
{
	for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100;
	     tags++) {
		if (tags == 3 || !st_have(*off, 4, len))
			return -EBADMSG;
		type = st_get_be16(buf + *off + 2);
		*off += 4;
	}
	if (type != 0x0800 && type != 0x86dd)
		return -EPROTONOSUPPORT;
	return 0;
}

/* The IP version in the first nibble: 4 or 6, else not IP. */
static int pc_ipver(const uint8_t *buf, size_t len, size_t off)
{
	uint8_t v;

	if (!st_have(off, 1, len))
		return -EBADMSG;
	v = st_get_u8(buf + off) >> 4;
	return v == 4 || v == 6 ? 0 : -EPROTONOSUPPORT;
}

static void pc_sll_pkttype(struct st_plaincap_link *out, uint16_t pkttype,
			   uint16_t arphrd)
{
	out->lo = arphrd == PC_ARPHRD_LOOPBACK;
	if (pkttype == PC_PKT_OUTGOING)
		out->outgoing = 1;
	else if (pkttype == PC_PKT_HOST)
		out->outgoing = 0;
	else
		out->otherhost = true;
}

int st_plaincap_link_decode(int dlt, const uint8_t *buf, size_t len,
			    struct st_plaincap_link *out)
{
	uint32_t fam;
	bool zero = true;

	memset(out, 0, sizeof(*out));
	out->lo = -1;
	out->outgoing = -1;
	switch (dlt) {
	case DLT_EN10MB:
		if (!st_have(0, 14, len))
			return -EBADMSG;
		/* tcpdump -i lo: Ethernet framing with all-zero addresses. */
		for (int i = 0; i < 12; i++)
			zero = zero && buf[i] == 0;
		if (zero)
			out->lo = 1;
		out->l3off = 14;
		return pc_ethertype(buf, len, &out->l3off,
				    st_get_be16(buf + 12));
	case DLT_LINUX_SLL:
		if (!st_have(0, 16, len))
			return -EBADMSG;
		pc_sll_pkttype(out, st_get_be16(buf), st_get_be16(buf + 2));
		out->l3off = 16;
		return pc_ethertype(buf, len, &out->l3off,
				    st_get_be16(buf + 14));
	case DLT_LINUX_SLL2:
		if (!st_have(0, 20, len))
			return -EBADMSG;
		out->ifindex = st_get_be32(buf + 4);
		pc_sll_pkttype(out, st_get_u8(buf + 10), st_get_be16(buf + 8));
		/* Every namespace makes lo first: index 1. */
		if (out->ifindex == 1)
			out->lo = 1;
		out->l3off = 20;
		return pc_ethertype(buf, len, &out->l3off, st_get_be16(buf));
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		out->l3off = 0;
		return pc_ipver(buf, len, 0);
	case DLT_NULL:
	case DLT_LOOP:
		if (!st_have(0, 4, len))
			return -EBADMSG;
		out->lo = 1;
		/* The writer's AF_ value, in its byte order (NULL) or
		 * network order (LOOP): accept both orders of the IP
		 * families of Linux, the BSDs and macOS. */
		fam = st_get_be32(buf);
		if (fam > 0xffff)
			fam = __builtin_bswap32(fam);
		if (fam != 2 && fam != 10 && fam != 24 && fam != 28 &&
		    fam != 30)
			return -EPROTONOSUPPORT;
		out->l3off = 4;
		return pc_ipver(buf, len, 4);
	default:
		return -EPROTONOSUPPORT;
	}
}

/* ---- the connection table ---------------------------------------------- */

static uint32_t pc_mix(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static size_t pc_alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static uint32_t pc_hash(uint8_t family, uint8_t proto, const uint8_t *a,
			uint16_t ap, const uint8_t *b, uint16_t bp)
{
	uint8_t hdr[6] = {family,    proto,   ap >> 8,
			  ap & 0xff, bp >> 8, bp & 0xff};
	uint32_t h = pc_mix(2166136261u, hdr, sizeof(hdr));

	h = pc_mix(h, a, pc_alen(family));
	if (b != NULL)
		h = pc_mix(h, b, pc_alen(family));
	return h & (PC_HASH_SIZE - 1);
}

static bool pc_same(uint8_t family, const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, pc_alen(family)) == 0;
}

/* The connection whose first packet had this 5-tuple, or -1. */
static int pc_find_fwd(const struct pc *c, const struct st_rec *r)
{
	uint32_t h = pc_hash(r->family, r->proto, r->src, r->sport, r->dst,
			     r->dport);

	for (; c->fwd[h] >= 0; h = (h + 1) & (PC_HASH_SIZE - 1)) {
		const struct pc_conn *k = &c->conns[c->fwd[h]];

		if (k->family == r->family && k->proto == r->proto &&
		    k->sport == r->sport && k->dport == r->dport &&
		    pc_same(k->family, k->src, r->src) &&
		    pc_same(k->family, k->dst, r->dst))
			return c->fwd[h];
	}
	return -1;
}

/* The latest connection whose client end is (@addr, @port), or -1. */
static int pc_find_cli(const struct pc *c, uint8_t family, uint8_t proto,
		       const uint8_t *addr, uint16_t port)
{
	uint32_t h = pc_hash(family, proto, addr, port, NULL, 0);

	for (; c->cli[h] >= 0; h = (h + 1) & (PC_HASH_SIZE - 1)) {
		const struct pc_conn *k = &c->conns[c->cli[h]];

		if (k->family == family && k->proto == proto &&
		    k->sport == port && pc_same(family, k->src, addr))
			return c->cli[h];
	}
	return -1;
}

static void pc_insert(struct pc *c, int idx)
{
	const struct pc_conn *k = &c->conns[idx];
	uint32_t h = pc_hash(k->family, k->proto, k->src, k->sport, k->dst,
			     k->dport);

	while (c->fwd[h] >= 0)
		h = (h + 1) & (PC_HASH_SIZE - 1);
	c->fwd[h] = idx;
	/* A reused client port: the newer connection replaces the older. */
	h = pc_hash(k->family, k->proto, k->src, k->sport, NULL, 0);
	for (; c->cli[h] >= 0; h = (h + 1) & (PC_HASH_SIZE - 1)) {
		const struct pc_conn *o = &c->conns[c->cli[h]];

		if (o->family == k->family && o->proto == k->proto &&
		    o->sport == k->sport && pc_same(k->family, o->src, k->src))
			break;
	}
	c->cli[h] = idx;
}

static long long pc_ns(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL +
	       (b->tv_nsec - a->tv_nsec);
}

static void pc_skip(struct pc *c, enum st_plaincap_skip why, const char *fmt,
		    ...) __st_printf(3, 4);

static void pc_skip(struct pc *c, enum st_plaincap_skip why, const char *fmt,
		    ...)
{
	va_list ap;
	int n;

	c->res->skipped++;
	c->res->skipped_by[why]++;
	if (c->first_skip[0] != '\0')
		return;
	n = snprintf(c->first_skip, sizeof(c->first_skip),
		     "packet %" PRIu64 ": ", c->res->packets);
	if (n < 0 || (size_t)n >= sizeof(c->first_skip))
		return;
	va_start(ap, fmt);
	vsnprintf(c->first_skip + n, sizeof(c->first_skip) - (size_t)n, fmt,
		  ap);
	va_end(ap);
}

static void pc_count_addr(struct pc *c, uint8_t family, const uint8_t *a,
			  unsigned int weight)
{
	unsigned int i;

	if (weight == 0 || st_flow_addr_is_loopback(family, a) ||
	    st_flow_addr_is_passthrough(family, a))
		return;
	for (i = 0; i < c->naddrs; i++)
		if (c->addrs[i].family == family &&
		    pc_same(family, c->addrs[i].addr, a)) {
			c->addrs[i].n += weight;
			return;
		}
	if (c->naddrs == PC_MAX_ADDRCOUNT)
		return;
	c->addrs[i].family = family;
	memset(c->addrs[i].addr, 0, 16);
	memcpy(c->addrs[i].addr, a, pc_alen(family));
	c->addrs[i].n = weight;
	c->naddrs++;
}

static void pc_new_conn(struct pc *c, const struct st_rec *r,
			const struct st_plaincap_link *lk,
			const struct timespec *ts)
{
	struct pc_conn *k;

	if (c->nconns == ST_PLAINCAP_MAX_CONNS) {
		pc_skip(c, ST_PLAINCAP_SKIP_FULL, "more than %d connections",
			ST_PLAINCAP_MAX_CONNS);
		return;
	}
	k = &c->conns[c->nconns];
	memset(k, 0, sizeof(*k));
	k->ts = *ts;
	k->family = r->family;
	k->proto = r->proto;
	memcpy(k->src, r->src, 16);
	memcpy(k->dst, r->dst, 16);
	k->sport = r->sport;
	k->dport = r->dport;
	k->lo = (int8_t)lk->lo;
	k->outgoing = (int8_t)lk->outgoing;
	k->ifindex = lk->ifindex;
	k->packets = 1;
	k->parent = -1;
	k->child = -1;
	pc_insert(c, (int)c->nconns);
	c->nconns++;
	c->res->conns++;
	/*
	 * The pod's address is in every connection; the side the link
	 * header names (sent: source, received: destination) counts more.
	 */
	if (lk->lo == 0 && lk->outgoing == 1)
		pc_count_addr(c, r->family, r->src, 2);
	else if (lk->lo == 0 && lk->outgoing == 0)
		pc_count_addr(c, r->family, r->dst, 2);
	else {
		pc_count_addr(c, r->family, r->src, 1);
		pc_count_addr(c, r->family, r->dst, 1);
	}
}

static void pc_packet(struct pc *c, int dlt, const uint8_t *buf, size_t len,
		      const struct timespec *ts)
{
	struct st_plaincap_link lk;
	struct st_rec *r = &c->rec;
	size_t n;
	int idx, ret;

	ret = st_plaincap_link_decode(dlt, buf, len, &lk);
	if (ret == -EPROTONOSUPPORT) {
		pc_skip(c, ST_PLAINCAP_SKIP_NOT_IP, "not IPv4/IPv6");
		return;
	}
	if (ret < 0) {
		pc_skip(c, ST_PLAINCAP_SKIP_LINK, "link header cut short");
		return;
	}
	if (lk.otherhost) {
		pc_skip(c, ST_PLAINCAP_SKIP_OTHERHOST,
			"broadcast, multicast or another host's");
		return;
	}
	n = len - lk.l3off;
	if (n > sizeof(r->payload))
		n = sizeof(r->payload);
	memset(r, 0, offsetof(struct st_rec, payload));
	memcpy(r->payload, buf + lk.l3off, n);
	r->caplen = (uint32_t)n;
	r->payload_len = (uint32_t)(len - lk.l3off);
	if (st_rec_decode_l3(r) < 0 || !r->l4_ok) {
		if (r->family != 0 && r->proto != IPPROTO_TCP &&
		    r->proto != IPPROTO_UDP && r->proto != 0)
			pc_skip(c, ST_PLAINCAP_SKIP_PROTO,
				"IP protocol %u: neither TCP nor UDP",
				r->proto);
		else
			pc_skip(c, ST_PLAINCAP_SKIP_L3,
				"bad or cut IP/TCP/UDP header");
		return;
	}
	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) {
		pc_skip(c, ST_PLAINCAP_SKIP_PROTO,
			"IP protocol %u: neither TCP nor UDP", r->proto);
		return;
	}
	idx = pc_find_fwd(c, r);
	if (idx >= 0) {
		struct pc_conn *k = &c->conns[idx];

		/* A SYN long after the first: the port was reused. */
		if (st_rec_is_bare_syn(r) && pc_ns(&k->ts, ts) > PC_DUP_NS) {
			pc_new_conn(c, r, &lk, ts);
			return;
		}
		if (st_rec_is_bare_syn(r))
			c->res->duplicates++;
		k->packets++;
		return;
	}
	/* A reply: its destination is a connection's client end. */
	idx = pc_find_cli(c, r->family, r->proto, r->dst, r->dport);
	if (idx >= 0 && !st_rec_is_bare_syn(r)) {
		struct pc_conn *k = &c->conns[idx];

		if (!k->has_reply) {
			k->has_reply = true;
			memcpy(k->rsrc, r->src, 16);
			k->rport = r->sport;
		}
		k->packets++;
		return;
	}
	if (!st_rec_may_start_leg(r))
		return; /* mid-stream: the capture began after its SYN */
	pc_new_conn(c, r, &lk, ts);
}

/* ---- inference ---------------------------------------------------------- */

static void __st_printf(2, 3)
	pc_note(struct st_sink_notes *nt, const char *fmt, ...)
{
	va_list ap;

	if (nt->n == ST_SINK_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(nt->note[nt->n], ST_SINK_NOTE_SIZE, fmt, ap);
	va_end(ap);
	nt->n++;
}

static bool pc_is_pod(const struct pc *c, uint8_t family, const uint8_t *a)
{
	for (unsigned int i = 0; i < c->env.naddrs; i++)
		if (c->env.addrs[i].family == family &&
		    pc_same(family, c->env.addrs[i].addr, a))
			return true;
	return false;
}

/* The pod's addresses: given, or the most frequent of each family. */
static void pc_pod_addrs(struct pc *c)
{
	const struct st_plaincap_opts *po = c->po;
	char buf[ST_FLOW_ADDR_SIZE];

	if (po != NULL && po->npod_ips > 0) {
		c->env.naddrs = po->npod_ips;
		memcpy(c->env.addrs, po->pod_ips, sizeof(c->env.addrs));
		return;
	}
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		const struct pc_addrcount *best = NULL;

		for (unsigned int i = 0; i < c->naddrs; i++)
			if (c->addrs[i].family == fam &&
			    (best == NULL || c->addrs[i].n > best->n))
				best = &c->addrs[i];
		if (best == NULL)
			continue;
		/* Replace the lab's address of this family. */
		for (unsigned int i = 0; i < c->env.naddrs; i++)
			if (c->env.addrs[i].family == fam)
				memcpy(c->env.addrs[i].addr, best->addr, 16);
		st_flow_addr_format(fam, best->addr, 0, buf, sizeof(buf));
		if (c->o->diag != NULL)
			fprintf(c->o->diag,
				"sidecar-trace: %s: the pod's IPv%u address "
				"taken to be %.*s (the most frequent "
				"local address)\n",
				c->o->capture, fam,
				(int)(strlen(buf) > 2 ? strlen(buf) - 2 : 0),
				buf);
	}
}

static bool pc_sidecar_port(const struct pc *c, uint16_t port)
{
	static const uint16_t ports[] = {15000, 15004, 15020,
					 15021, 15053, 15090};

	for (size_t i = 0; i < ST_ARRAY_SIZE(ports); i++)
		if (ports[i] == port)
			return true;
	return port == c->set.outbound_port || port == c->set.inbound_port;
}

static void pc_kinds(struct pc *c)
{
	for (unsigned int i = 0; i < c->nconns; i++) {
		struct pc_conn *k = &c->conns[i];
		bool dlo = st_flow_addr_is_loopback(k->family, k->dst);
		int lo = k->lo;

		if (lo < 0)
			lo = dlo ||
			     st_flow_addr_is_loopback(k->family, k->src) ||
			     (pc_is_pod(c, k->family, k->src) &&
			      pc_is_pod(c, k->family, k->dst));
		if (lo) {
			if (st_flow_addr_is_passthrough(k->family, k->src))
				k->kind = PC_PASSTHRU;
			else if (dlo && k->dport == c->set.outbound_port &&
				 k->proto == IPPROTO_TCP)
				k->kind = PC_OUT_REDIR;
			else if (dlo && k->dport == c->set.inbound_port &&
				 k->proto == IPPROTO_TCP)
				k->kind = PC_IN_REDIR_LOCAL;
			else if (dlo && c->set.dns_capture &&
				 k->dport == c->set.dns_port)
				k->kind = PC_DNS_REDIR;
			else
				k->kind = PC_LOCAL;
			k->lo = 1;
			continue;
		}
		k->lo = 0;
		if (k->outgoing < 0)
			k->outgoing = pc_is_pod(c, k->family, k->src)	? 1
				      : pc_is_pod(c, k->family, k->dst) ? 0
									: -1;
		k->kind = k->outgoing == 1   ? PC_SENT
			  : k->outgoing == 0 ? PC_ARRIVING
					     : PC_NONE;
	}
}

/* The destination before the REDIRECT of @k, when the capture shows it. */
static bool pc_origdst(const struct pc *c, const struct pc_conn *k,
		       uint8_t *dst, uint16_t *port, const char **how)
{
	switch (k->kind) {
	case PC_OUT_REDIR:
	case PC_IN_REDIR_LOCAL:
	case PC_DNS_REDIR:
		break;
	default:
		memcpy(dst, k->dst, 16);
		*port = k->dport;
		*how = NULL;
		return true;
	}
	if (k->has_reply) {
		memcpy(dst, k->rsrc, 16);
		*port = k->rport;
		*how = "the source of its reply, which conntrack un-NATs";
		return true;
	}
	if (k->child >= 0) {
		const struct pc_conn *ch = &c->conns[k->child];
		const char *h2;

		if (!pc_origdst(c, ch, dst, port, &h2))
			return false;
		*how = k->kind == PC_OUT_REDIR
			       ? "the proxy's upstream connection (no reply "
				 "captured; a service VIP would be unknown)"
			       : "the passthrough connection that followed";
		return true;
	}
	return false;
}

/* Link each leg to the sidecar's next one, in the order they came. */
static void pc_link(struct pc *c)
{
	for (unsigned int i = 0; i < c->nconns; i++) {
		struct pc_conn *k = &c->conns[i];
		bool upstream =
			(k->kind == PC_SENT || k->kind == PC_IN_REDIR_LOCAL) &&
			k->proto == IPPROTO_TCP &&
			pc_is_pod(c, k->family, k->src) &&
			!st_class_is_istiod_port(k->dport);
		uint8_t d[16];
		uint16_t dp;
		const char *how;

		for (unsigned int j = 0; upstream && j < i; j++) {
			struct pc_conn *w = &c->conns[j];

			if (w->kind != PC_OUT_REDIR || w->child >= 0 ||
			    w->family != k->family ||
			    pc_ns(&w->ts, &k->ts) > PC_WINDOW_NS)
				continue;
			w->child = (int)i;
			k->parent = (int)j;
			break;
		}
		if (k->kind != PC_PASSTHRU || k->proto != IPPROTO_TCP)
			continue;
		/* Arriving to exactly this destination first, then the
		 * proxy's hairpins in time order. */
		for (int pass = 0; pass < 2 && k->parent < 0; pass++)
			for (unsigned int j = 0; j < i; j++) {
				struct pc_conn *w = &c->conns[j];
				enum pc_kind want = pass == 0
							    ? PC_ARRIVING
							    : PC_IN_REDIR_LOCAL;

				if (w->kind != want || w->child >= 0 ||
				    w->family != k->family ||
				    w->proto != IPPROTO_TCP ||
				    pc_ns(&w->ts, &k->ts) > PC_WINDOW_NS)
					continue;
				if (pass == 0 &&
				    !(pc_same(k->family, w->dst, k->dst) &&
				      w->dport == k->dport))
					continue;
				if (pass == 1 && w->has_reply &&
				    pc_origdst(c, w, d, &dp, &how) &&
				    !(pc_same(k->family, d, k->dst) &&
				      dp == k->dport))
					continue;
				w->child = (int)i;
				k->parent = (int)j;
				break;
			}
	}
}

static enum st_capture pc_observed(enum pc_kind kind)
{
	switch (kind) {
	case PC_OUT_REDIR:
		return ST_CAPTURE_OUTBOUND;
	case PC_IN_REDIR_LOCAL:
		return ST_CAPTURE_INBOUND;
	case PC_DNS_REDIR:
		return ST_CAPTURE_DNS;
	default:
		return ST_CAPTURE_NONE;
	}
}

static const char *pc_seen(enum st_capture cap)
{
	switch (cap) {
	case ST_CAPTURE_OUTBOUND:
		return "redirected to the outbound port";
	case ST_CAPTURE_INBOUND:
		return "redirected to the inbound port";
	case ST_CAPTURE_DNS:
		return "redirected to the DNS port";
	case ST_CAPTURE_OTHER:
		return "redirected";
	default:
		return "not redirected";
	}
}

static int pc_sim(struct pc *c, const struct st_eval_env *env,
		  const struct pc_conn *k, const uint8_t *dst, uint16_t dport,
		  bool outgoing, bool proxy, struct st_eval_result *r,
		  char *err)
{
	struct st_simspec s;

	memset(&s, 0, sizeof(s));
	s.family = k->family;
	s.proto = k->proto;
	memcpy(s.src, k->src, 16);
	memcpy(s.dst, dst, 16);
	s.sport = k->sport;
	s.dport = dport;
	s.outgoing = outgoing;
	if (outgoing) {
		s.has_uid = s.has_gid = true;
		s.uid = proxy ? c->proxy_uid : c->app_uid;
		s.gid = proxy ? c->proxy_gid : c->app_gid;
	}
	return st_eval_flow(env, &s, r, err);
}

/* The leg the capture shows after @k's, as the rules would name it. */
static void pc_patch(struct pc *c, const struct pc_conn *k,
		     struct st_eval_result *r, struct st_sink_notes *nt)
{
	char a[ST_FLOW_ADDR_SIZE], b[ST_FLOW_ADDR_SIZE];
	const struct pc_conn *w = k;
	unsigned int i;

	r->flow.legs[0].ts = k->ts;
	r->flow.legs[0].packets = k->packets;
	for (i = 1; i < r->flow.nlegs; i++) {
		struct st_flow_leg *l = &r->flow.legs[i];
		uint8_t d[16];
		uint16_t dp;
		const char *how;

		st_flow_addr_format(l->family, l->dst, l->dport, a, sizeof(a));
		if (w == NULL || w->child < 0) {
			pc_note(nt,
				"leg %u to %s: predicted by the rules, not "
				"in the capture",
				i + 1, a);
			w = NULL;
			continue;
		}
		w = &c->conns[w->child];
		if (!pc_origdst(c, w, d, &dp, &how) ||
		    !(pc_same(l->family, d, l->dst) && dp == l->dport)) {
			st_flow_addr_format(w->family, w->dst, w->dport, b,
					    sizeof(b));
			pc_note(nt,
				"leg %u: the rules predict a connection to "
				"%s, the capture shows one to %s",
				i + 1, a, b);
		}
		memcpy(l->src, w->src, 16);
		l->sport = w->sport;
		l->ts = w->ts;
		l->packets = w->packets;
	}
	if (w != NULL && w->child >= 0) {
		w = &c->conns[w->child];
		st_flow_addr_format(w->family, w->dst, w->dport, b, sizeof(b));
		pc_note(nt,
			"the capture shows a further connection to %s that "
			"the rules do not predict",
			b);
	}
}

/* A redirected leg whose destination nothing in the capture tells. */
static void pc_unknown_dst(struct pc *c, const struct pc_conn *k,
			   struct st_flow *f, struct st_sink_notes *nt)
{
	struct st_flow_leg *l = &f->legs[0];

	memset(f, 0, sizeof(*f));
	f->nlegs = 1;
	l->family = k->family;
	l->proto = k->proto;
	memcpy(l->src, k->src, 16);
	memcpy(l->dst, k->dst, 16);
	l->sport = k->sport;
	l->dport = k->dport;
	l->ts = k->ts;
	l->packets = k->packets;
	l->capture = pc_observed(k->kind);
	l->redirect_port = k->dport;
	l->redirect_hop = -1;
	l->decision_hop = -1;
	l->incomplete = true;
	snprintf(l->why, sizeof(l->why),
		 "redirected before the capture saw it; original destination "
		 "unknown");
	pc_note(nt, "seen on lo after the REDIRECT; neither a reply nor a next "
		    "connection tells the original destination: not simulated");
	st_class_flow(f, &c->set);
}

static int pc_flow(struct pc *c, const struct pc_conn *k,
		   const struct st_flow **out, struct st_sink_notes *nt,
		   char *err)
{
	struct st_eval_env env = c->env;
	enum st_capture obs = pc_observed(k->kind);
	struct st_eval_result *ra = c->ev[0], *rp = c->ev[1], *r;
	char a[ST_FLOW_ADDR_SIZE], b[ST_FLOW_ADDR_SIZE];
	uint8_t d[16], ud[16];
	uint16_t dp, udp;
	const char *how = NULL, *uhow;
	bool oka, okp, proxy;
	int ret;

	memset(nt, 0, sizeof(*nt));
	if (!pc_origdst(c, k, d, &dp, &how)) {
		pc_unknown_dst(c, k, &ra->flow, nt);
		*out = &ra->flow;
		return 0;
	}
	st_flow_addr_format(k->family, d, dp, a, sizeof(a));
	if (how != NULL)
		pc_note(nt, "original destination %s: %s", a, how);
	/* The proxy maps a service address to the endpoint it connects to. */
	if (k->child >= 0 && k->kind == PC_OUT_REDIR &&
	    pc_origdst(c, &c->conns[k->child], ud, &udp, &uhow) &&
	    !(pc_same(k->family, ud, d) && udp == dp)) {
		struct st_eval_vip *v = &env.vips[0];

		env.nvips = 1;
		v->family = k->family;
		memcpy(v->vip, d, 16);
		v->vport = dp;
		memcpy(v->ep, ud, 16);
		v->eport = udp;
		st_flow_addr_format(k->family, ud, udp, b, sizeof(b));
		pc_note(nt, "service %s: the proxy connected to %s", a, b);
	}
	if (k->kind == PC_ARRIVING) {
		ret = pc_sim(c, &env, k, d, dp, false, false, ra, err);
		if (ret < 0)
			return ret;
		pc_note(nt,
			"arrived from outside (link header%s): seen before "
			"PREROUTING, so its destination is the original one",
			k->ifindex > 1 ? ", interface taken as eth0" : "");
		pc_patch(c, k, ra, nt);
		*out = &ra->flow;
		return 0;
	}
	ret = pc_sim(c, &env, k, d, dp, true, false, ra, err);
	if (ret == 0)
		ret = pc_sim(c, &env, k, d, dp, true, true, rp, err);
	if (ret < 0)
		return ret;
	oka = ra->flow.legs[0].capture == obs;
	okp = rp->flow.legs[0].capture == obs;
	if (k->kind == PC_PASSTHRU) {
		proxy = true;
		pc_note(nt, "owner: the proxy (source 127.0.0.6 / ::6 is the "
			    "sidecar's inbound passthrough address)");
	} else if (oka != okp) {
		proxy = okp;
		pc_note(nt,
			"owner: the %s (capture shows it %s; as the %s it "
			"would have been %s)",
			proxy ? "proxy" : "app", pc_seen(obs),
			proxy ? "app" : "proxy",
			pc_seen((proxy ? ra : rp)->flow.legs[0].capture));
	} else if (!oka) {
		proxy = false;
		pc_note(nt,
			"owner: unknown: the capture shows it %s, which "
			"neither the app (uid %" PRIu32
			") nor the proxy uid explains; simulated as the app",
			pc_seen(obs), c->app_uid);
	} else if ((k->lo == 1 && st_flow_addr_is_loopback(k->family, d) &&
		    pc_sidecar_port(c, dp)) ||
		   st_class_is_istiod_port(dp)) {
		proxy = true;
		pc_note(nt,
			"owner: the proxy (uid not in the capture; neither "
			"app nor proxy uid would be redirected; %s port %u "
			"is the sidecar's)",
			st_class_is_istiod_port(dp) ? "istiod" : "loopback",
			dp);
	} else {
		proxy = false;
		pc_note(nt,
			"owner: unknown (uid not in the capture); simulated "
			"as the app, uid %" PRIu32 "%s%s",
			c->app_uid,
			rp->flow.type == ra->flow.type
				? ""
				: "; as the proxy it would be ",
			rp->flow.type == ra->flow.type
				? ""
				: st_class_name(rp->flow.klass, rp->flow.type));
	}
	r = proxy ? rp : ra;
	pc_patch(c, k, r, nt);
	*out = &r->flow;
	return 0;
}

/* ---- output ------------------------------------------------------------ */

/* The flows, in the order their first packets came, to the pipeline. */
static int pc_emit(struct pc *c, char *err)
{
	struct st_sink_notes nt;
	const struct st_flow *f;
	struct st_flow fl;
	uint64_t id = 0;
	int ret;

	for (unsigned int i = 0; i < c->nconns; i++) {
		const struct pc_conn *k = &c->conns[i];

		if (k->kind == PC_NONE || k->parent >= 0)
			continue;
		ret = pc_flow(c, k, &f, &nt, err);
		if (ret < 0)
			return ret;
		fl = *f;
		fl.id = ++id;
		if (st_pipe_flow(c->pipe, &fl, &nt) == ST_CB_STOP)
			return 0;
	}
	return 0;
}

static int pc_rules(struct pc *c, char *err)
{
	const struct st_plaincap_opts *o = c->o;
	int ret;

	if (o->nrules == 0)
		return st_err(err, ENOENT,
			      "%s: an ordinary capture holds no rules: give "
			      "the pod's rules with --rules FILE",
			      o->capture);
	ret = st_pipe_rules_load(&c->rs, o->rules, o->nrules, err);
	if (ret < 0)
		return ret;
	ret = st_pipe_rules_accept(c->rs, &c->set, ST_PIPE_USE_INFER, NULL,
				   err);
	if (ret < 0)
		return ret;
	st_eval_env_lab(&c->env, c->rs, &c->set);
	c->env.nvips = 0; /* the capture shows the endpoints */
	c->proxy_uid = c->set.nproxy_uids > 0 ? c->set.proxy_uids[0] : 1337;
	c->proxy_gid =
		c->set.nproxy_gids > 0 ? c->set.proxy_gids[0] : c->proxy_uid;
	if (c->set.mode == ST_MODE_TPROXY)
		c->proxy_uid = 0;
	return 0;
}

static int pc_read(struct pc *c, char *err)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct timespec ts;
	pcap_t *p = NULL;
	int dlt, ret;

	p = pcap_open_offline_with_tstamp_precision(
		c->o->capture, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (p == NULL) {
		ret = st_err(err, EINVAL, "%s: %s", c->o->capture, perr);
		goto out;
	}
	dlt = pcap_datalink(p);
	c->res->linktype = dlt;
	if (!st_plaincap_linktype_ok(dlt)) {
		ret = st_err(err, EPROTONOSUPPORT,
			     "%s: link type %s is not one of Ethernet, Linux "
			     "cooked v1/v2, raw IP or loopback",
			     c->o->capture,
			     pcap_datalink_val_to_name(dlt)
				     ? pcap_datalink_val_to_name(dlt)
				     : "?");
		goto out;
	}
	for (;;) {
		ret = pcap_next_ex(p, &h, &bytes);
		if (ret == PCAP_ERROR_BREAK) {
			ret = 0;
			break;
		}
		if (ret < 0) {
			ret = st_err(err, EIO,
				     "%s: truncated or unreadable after "
				     "packet %" PRIu64 ": %s",
				     c->o->capture, c->res->packets,
				     pcap_geterr(p));
			break;
		}
		c->res->packets++;
		ts.tv_sec = h->ts.tv_sec;
		ts.tv_nsec = h->ts.tv_usec; /* nanoseconds: see the open */
		pc_packet(c, dlt, bytes, h->caplen, &ts);
	}
out:
	if (p != NULL)
		pcap_close(p);
	return ret;
}

/* The pipeline the flows go through: no flow table, the file's sinks. */
static int pc_pipe(struct pc *c, char *err)
{
	struct st_pipe_opts po;
	int ret;

	memset(&po, 0, sizeof(po));
	po.filter = c->o->filter;
	po.count = c->o->count;
	po.sync_each = true;
	ret = st_pipe_new(&c->pipe, &po, err);
	for (unsigned int i = 0; ret == 0 && i < c->o->nsinks; i++)
		ret = st_pipe_add_sink(c->pipe, c->o->sinks[i].ops,
				       c->o->sinks[i].data);
	return ret;
}

/* What the pipeline did, into the result. */
static void pc_result(struct pc *c)
{
	struct st_pipe_result pr;

	st_pipe_result(c->pipe, &pr);
	c->res->written = pr.written;
	c->res->count_done = pr.count_done;
	c->res->out_errno = pr.out_errno;
}

int st_plaincap_run(const struct st_plaincap_opts *o,
		    struct st_plaincap_result *res, char *err)
{
	struct st_flow_stats st;
	char rerr[ST_ERRBUF_SIZE] = "";
	struct pc c;
	int ret, rret;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.po = o;
	c.res = res;
	c.app_uid = o->has_app_uid ? o->app_uid : PC_DEFAULT_APP_UID;
	c.app_gid = o->has_app_uid ? o->app_gid : PC_DEFAULT_APP_UID;
	if (o->nsinks == 0)
		return st_err(err, EINVAL, "replay: no output");
	ret = pc_rules(&c, err);
	if (ret < 0)
		goto out;
	ret = pc_pipe(&c, err);
	if (ret < 0)
		goto out;
	c.conns = calloc(ST_PLAINCAP_MAX_CONNS, sizeof(*c.conns));
	c.fwd = malloc(PC_HASH_SIZE * sizeof(*c.fwd));
	c.cli = malloc(PC_HASH_SIZE * sizeof(*c.cli));
	c.ev[0] = calloc(1, sizeof(*c.ev[0]));
	c.ev[1] = calloc(1, sizeof(*c.ev[1]));
	if (c.conns == NULL || c.fwd == NULL || c.cli == NULL ||
	    c.ev[0] == NULL || c.ev[1] == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	memset(c.fwd, 0xff, PC_HASH_SIZE * sizeof(*c.fwd));
	memset(c.cli, 0xff, PC_HASH_SIZE * sizeof(*c.cli));
	rret = pc_read(&c, rerr);
	if (rret < 0 && res->packets == 0) {
		st_strlcpy(err, rerr, ST_ERRBUF_SIZE);
		ret = rret;
		goto out;
	}
	pc_pod_addrs(&c);
	pc_kinds(&c);
	pc_link(&c);
	ret = pc_emit(&c, err);
	pc_result(&c);
	if (ret < 0)
		goto out;
	st_pipe_stats(c.pipe, &st);
	st.records = res->packets;
	st.skipped = res->skipped;
	st_strlcpy(st.last_skip, c.first_skip, sizeof(st.last_skip));
	res->flows = st;
	ret = st_pipe_finish(c.pipe, &st, err);
	pc_result(&c);
	if (ret < 0)
		goto out;
	if (o->diag != NULL && res->skipped > 0) {
		fprintf(o->diag,
			"sidecar-trace: %" PRIu64 " of %" PRIu64
			" packets skipped:",
			res->skipped, res->packets);
		for (int i = 0; i < ST_PLAINCAP_SKIP_MAX; i++)
			if (res->skipped_by[i] > 0)
				fprintf(o->diag, " %" PRIu64 " %s",
					res->skipped_by[i],
					st_plaincap_skip_name(
						(enum st_plaincap_skip)i));
		fputc('\n', o->diag);
	}
	ret = 0;
	if (rret < 0) {
		st_strlcpy(err, rerr, ST_ERRBUF_SIZE);
		ret = rret;
	}
out:
	st_pipe_free(c.pipe);
	free(c.conns);
	free(c.fwd);
	free(c.cli);
	free(c.ev[0]);
	free(c.ev[1]);
	st_ruleset_free(c.rs);
	return ret;
}
