// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gen-capture - write a LINKTYPE_NFLOG capture of N records that looks like
 * `sidecar-trace --write` tracing an Istio 1.17 (REDIRECT, iptables-legacy)
 * sidecar pod under a mix of all six traffic types and the bypass cases.
 *
 *   gen-capture [-n RECORDS] [-s SEED] [-r RULES] [-c CONCURRENCY] FILE
 *
 * Every connection is written as the records the inserted rules of
 * samples/instrument/istio-1.17_redirect_default_legacy.rules.insert log
 * for its first packet (enter, hit before rule N, policy at the end of a
 * built-in chain), with the paths of
 * tests/lab/expected/istio-1.17_redirect_default_legacy.paths: uid/gid on
 * locally generated packets, the in/out interface, a SYN (or a DNS query)
 * as payload.  Up to CONCURRENCY scenarios (default 2, one per CPU) are in
 * flight at once and their records interleave, as two CPUs logging at the
 * same time do.  The rules go beside the capture as FILE.rules (the file
 * given with -r, default ST_BENCH_RULES), with FILE.meta.json, so that
 * `sidecar-trace --replay FILE` finds both.  An existing FILE is replaced.
 *
 * Output (stdout): one JSON object with the records, connections and
 * scenarios written, per scenario name.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pcapout.h"
#include "record.h"

#ifndef ST_BENCH_RULES
#define ST_BENCH_RULES "samples/rules/istio-1.17_redirect_default_legacy.rules"
#endif

#define GEN_SESSION 0x5ca1ab1eu
#define GEN_GROUP 5300
#define GEN_IF_LO 1
#define GEN_IF_ETH0 2
#define GEN_HOOK_PRE 0 /* NF_INET_PRE_ROUTING */
#define GEN_HOOK_OUT 3 /* NF_INET_LOCAL_OUT */
#define GEN_MAX_HOPS 8
#define GEN_MAX_LEGS 3
#define GEN_MAX_SLOTS 16
#define GEN_NOID 0xffffffffu

/* One record of a leg: kind letter, chain, original rule number. */
struct gen_hop {
	char kind; /* e, h, p, r */
	const char *chain;
	unsigned int rule;
};

/* A connection's first packet and the records it leaves. */
struct gen_leg {
	bool udp;
	const char *src; /* address; the source port is chosen per run */
	const char *dst;
	uint16_t dport;
	uint32_t uid; /* GEN_NOID: from outside, no owner */
	uint32_t in;  /* ifindex */
	uint32_t out;
	uint8_t hook;
	struct gen_hop hops[GEN_MAX_HOPS];
};

struct gen_scenario {
	const char *name;
	unsigned int weight;
	struct gen_leg legs[GEN_MAX_LEGS];
};

/* The walks, spelled out once: rule 1 of OUTPUT jumps to ISTIO_OUTPUT. */
#define OUT_TO(n)                                                         \
	{'e', "OUTPUT", 0}, {'h', "OUTPUT", 1}, {'e', "ISTIO_OUTPUT", 0}, \
	{                                                                 \
		'h', "ISTIO_OUTPUT", n                                    \
	}
#define OUT_RETURN(n)            \
	OUT_TO(n),               \
	{                        \
		'p', "OUTPUT", 0 \
	}
#define OUT_REDIRECT                           \
	OUT_TO(9), {'e', "ISTIO_REDIRECT", 0}, \
	{                                      \
		'h', "ISTIO_REDIRECT", 1       \
	}
#define OUT_IN_REDIRECT                           \
	OUT_TO(2), {'e', "ISTIO_IN_REDIRECT", 0}, \
	{                                         \
		'h', "ISTIO_IN_REDIRECT", 1       \
	}
#define PRE_TO(n)                                       \
	{'e', "PREROUTING", 0}, {'h', "PREROUTING", 1}, \
		{'e', "ISTIO_INBOUND", 0},              \
	{                                               \
		'h', "ISTIO_INBOUND", n                 \
	}
#define PRE_RETURN(n)                \
	PRE_TO(n),                   \
	{                            \
		'p', "PREROUTING", 0 \
	}
#define PRE_REDIRECT                              \
	PRE_TO(5), {'e', "ISTIO_IN_REDIRECT", 0}, \
	{                                         \
		'h', "ISTIO_IN_REDIRECT", 1       \
	}

#define POD "10.244.1.10"
#define REMOTE "10.244.2.20"
#define L_OUT(s, d, p, u, o, ...)                      \
	{                                              \
		false, s, d, p, u, 0, o, GEN_HOOK_OUT, \
		{                                      \
			__VA_ARGS__                    \
		}                                      \
	}
#define L_IN(s, d, p, ...)                                              \
	{                                                               \
		false, s, d, p, GEN_NOID, GEN_IF_ETH0, 0, GEN_HOOK_PRE, \
		{                                                       \
			__VA_ARGS__                                     \
		}                                                       \
	}

/* Weights: mostly service traffic, with every other case present. */
static const struct gen_scenario gen_scenarios[] = {
	{"1-inbound",
	 24,
	 {L_IN(REMOTE, POD, 9080, PRE_REDIRECT),
	  L_OUT("127.0.0.6", POD, 9080, 1337, GEN_IF_LO, OUT_RETURN(1))}},
	{"2-outbound",
	 20,
	 {L_OUT(POD, REMOTE, 9080, 1000, GEN_IF_ETH0, OUT_REDIRECT),
	  L_OUT(POD, REMOTE, 9080, 1337, GEN_IF_ETH0, OUT_RETURN(4))}},
	{"2-outbound-vip",
	 16,
	 {L_OUT(POD, "10.96.0.20", 9080, 1000, GEN_IF_ETH0, OUT_REDIRECT),
	  L_OUT(POD, REMOTE, 9080, 1337, GEN_IF_ETH0, OUT_RETURN(4))}},
	{"3-prom-15090", 6, {L_IN("10.244.3.30", POD, 15090, PRE_RETURN(2))}},
	{"3-prom-15020",
	 4,
	 {L_IN("10.244.3.30", POD, 15020, PRE_RETURN(4)),
	  L_OUT("127.0.0.1", "127.0.0.1", 15000, 1337, GEN_IF_LO,
		OUT_RETURN(4))}},
	{"4-self-vip",
	 5,
	 {L_OUT(POD, "10.96.0.30", 9081, 1000, GEN_IF_ETH0, OUT_REDIRECT),
	  L_OUT(POD, POD, 9081, 1337, GEN_IF_LO, OUT_IN_REDIRECT),
	  L_OUT("127.0.0.6", POD, 9081, 1337, GEN_IF_LO, OUT_RETURN(1))}},
	{"5-envoy-localhost",
	 8,
	 {L_OUT("127.0.0.1", "127.0.0.1", 15000, 1337, GEN_IF_LO,
		OUT_RETURN(4))}},
	{"6-istiod",
	 4,
	 {L_OUT(POD, "10.244.4.40", 15012, 1337, GEN_IF_ETH0, OUT_RETURN(4))}},
	{"0-own-pod-ip",
	 3,
	 {L_OUT(POD, POD, 9081, 1000, GEN_IF_LO, OUT_RETURN(3))}},
	{"0-health-probe", 6, {L_IN("10.244.0.1", POD, 15021, PRE_RETURN(3))}},
	{"0-dns-udp",
	 3,
	 {{true,
	   POD,
	   "10.96.0.10",
	   53,
	   1000,
	   0,
	   GEN_IF_ETH0,
	   GEN_HOOK_OUT,
	   {{'e', "OUTPUT", 0}, {'p', "OUTPUT", 0}}}}},
	{"0-rogue-proxy-uid",
	 1,
	 {L_OUT(POD, REMOTE, 80, 1337, GEN_IF_ETH0, OUT_RETURN(4))}},
};

#define GEN_NSCEN ST_ARRAY_SIZE(gen_scenarios)

/* A scenario in flight: where it is, with the ports it was given. */
struct gen_slot {
	const struct gen_scenario *sc;
	unsigned int leg;
	unsigned int hop;
	uint16_t sport[GEN_MAX_LEGS];
	/* Its own record: the payload stays that of its current leg while
	 * other slots' records interleave. */
	struct st_rec rec;
};

struct gen {
	struct st_pcapout *out;
	uint64_t rng;
	uint64_t seq;
	uint64_t records;
	uint64_t conns;
	uint64_t per_scen[GEN_NSCEN];
	uint64_t t_ns; /* capture clock */
	uint16_t next_port;
	uint32_t tcp_seq;
	unsigned int weight_sum;
};

static uint64_t gen_rand(struct gen *g)
{
	/* xorshift64*: reproducible from the seed, fast enough for 10M. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dull;
}

static void gen_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void gen_put_be32(uint8_t *p, uint32_t v)
{
	gen_put_be16(p, (uint16_t)(v >> 16));
	gen_put_be16(p + 2, (uint16_t)v);
}

static uint16_t gen_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int gen_addr(const char *s, uint8_t *a)
{
	unsigned int b[4];

	if (sscanf(s, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) != 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)b[i];
	return 0;
}

/* An IPv4 SYN with the options Linux sends, or a DNS query. */
static void gen_payload(struct gen *g, struct st_rec *r,
			const struct gen_leg *l, uint16_t sport, uint16_t id)
{
	static const uint8_t syn_opts[20] = {
		2, 4,  0xff, 0xd7,		     /* MSS 65495 */
		4, 2,				     /* SACK permitted */
		8, 10, 0,    0,	   0, 0, 0, 0, 0, 0, /* timestamps */
		1,				     /* NOP */
		3, 3,  7,			     /* window scale 7 */
	};
	static const uint8_t
		query[] =
			{
				0x01, 0x00, 0,	 1,   0,   0,	0,   0,
				0,    0, /* RD, 1 question */
				7,    'r',  'e', 'v', 'i', 'e', 'w', 's',
				7,    'd',  'e', 'f', 'a', 'u', 'l', 't',
				3,    's',  'v', 'c', 7,   'c', 'l', 'u',
				's',  't',  'e', 'r', 5,   'l', 'o', 'c',
				'a',  'l',  0,	 0,   1,   0,	1,
			};
	uint8_t *p = r->payload;
	size_t l4 = l->udp ? 8 + 2 + sizeof(query) : 40;
	size_t len = 20 + l4;

	memset(p, 0, len);
	p[0] = 0x45;
	gen_put_be16(p + 2, (uint16_t)len);
	gen_put_be16(p + 4, id);
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = l->udp ? 17 : 6;
	gen_addr(l->src, p + 12);
	gen_addr(l->dst, p + 16);
	gen_put_be16(p + 10, gen_csum(p, 20));
	gen_put_be16(p + 20, sport);
	gen_put_be16(p + 22, l->dport);
	if (l->udp) {
		gen_put_be16(p + 24, (uint16_t)l4);
		gen_put_be16(p + 28, id);
		memcpy(p + 30, query, sizeof(query));
	} else {
		gen_put_be32(p + 24, g->tcp_seq);
		g->tcp_seq = g->tcp_seq * 1664525u + 1013904223u;
		p[32] = 0xa0; /* 40-byte header */
		p[33] = 0x02; /* SYN */
		gen_put_be16(p + 34, 65495);
		memcpy(p + 40, syn_opts, sizeof(syn_opts));
		gen_put_be32(p + 48, (uint32_t)(g->t_ns / 1000000));
	}
	r->caplen = (uint32_t)len;
	r->payload_len = (uint32_t)len;
}

static int gen_emit(struct gen *g, struct gen_slot *s, char *err)
{
	const struct gen_leg *l = &s->sc->legs[s->leg];
	const struct gen_hop *h = &l->hops[s->hop];
	struct st_rec *r = &s->rec;
	struct st_hit hit = {0};
	int ret;

	r->seq = g->seq++;
	r->ts.tv_sec = (time_t)(1764000000 + g->t_ns / 1000000000);
	r->ts.tv_nsec = (long)(g->t_ns % 1000000000);
	r->ts_kernel = true;
	r->group = GEN_GROUP;
	r->family = 4;
	r->hook = l->hook;
	hit.kind = h->kind == 'e'   ? ST_HIT_ENTER
		   : h->kind == 'h' ? ST_HIT_RULE
		   : h->kind == 'p' ? ST_HIT_POLICY
				    : ST_HIT_RETURN;
	st_strlcpy(hit.table, "nat", sizeof(hit.table));
	st_strlcpy(hit.chain, h->chain, sizeof(hit.chain));
	hit.rule = h->rule;
	hit.session = GEN_SESSION;
	ret = st_tag_format(r->prefix, &hit);
	if (ret < 0)
		return st_err(err, -ret, "tag %s:%u", h->chain, h->rule);
	r->has_uid = r->has_gid = l->uid != GEN_NOID;
	r->uid = r->gid = l->uid == GEN_NOID ? 0 : l->uid;
	r->indev = l->in;
	r->outdev = l->out;
	st_strlcpy(r->indev_name, l->in == GEN_IF_LO ? "lo" : "eth0",
		   sizeof(r->indev_name));
	st_strlcpy(r->outdev_name, l->out == GEN_IF_LO ? "lo" : "eth0",
		   sizeof(r->outdev_name));
	if (s->hop == 0)
		gen_payload(g, r, l, s->sport[s->leg], (uint16_t)g->conns++);
	ret = st_pcapout_write(g->out, r, err);
	if (ret < 0)
		return ret;
	g->records++;
	/* A few microseconds per rule walk, more between connections. */
	g->t_ns += 1500 + gen_rand(g) % 2000;
	s->hop++;
	if (s->hop == GEN_MAX_HOPS || l->hops[s->hop].chain == NULL) {
		s->hop = 0;
		s->leg++;
		g->t_ns += 20000 + gen_rand(g) % 30000;
		if (s->leg == GEN_MAX_LEGS || s->sc->legs[s->leg].src == NULL)
			s->sc = NULL;
	}
	return 0;
}

static void gen_start(struct gen *g, struct gen_slot *s)
{
	unsigned int w = (unsigned int)(gen_rand(g) % g->weight_sum);
	size_t i;

	for (i = 0; i < GEN_NSCEN - 1 && w >= gen_scenarios[i].weight; i++)
		w -= gen_scenarios[i].weight;
	s->sc = &gen_scenarios[i];
	s->leg = 0;
	s->hop = 0;
	g->per_scen[i]++;
	for (int k = 0; k < GEN_MAX_LEGS; k++) {
		/* Linux's ephemeral range, 32768-60999, in turn. */
		s->sport[k] = g->next_port;
		g->next_port = g->next_port >= 60999 ? 32768 : g->next_port + 1;
	}
}

static int gen_rules(struct st_pcapout *o, const char *path, char *err)
{
	char *text = NULL;
	size_t cap = 0, len = 0;
	FILE *f = NULL;
	int ret;

	f = fopen(path, "re");
	if (f == NULL) {
		ret = st_err(err, errno, "%s", path);
		goto out;
	}
	for (;;) {
		if (len + 4096 > cap) {
			char *n = realloc(text, cap + 65536);

			if (n == NULL) {
				ret = st_err(err, ENOMEM, "out of memory");
				goto out;
			}
			text = n;
			cap += 65536;
		}
		size_t got = fread(text + len, 1, cap - len, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		ret = st_err(err, EIO, "%s: read error", path);
		goto out;
	}
	ret = st_pcapout_write_rules(o, 4, text, len, err);
out:
	if (f != NULL)
		fclose(f);
	free(text);
	return ret;
}

static void gen_usage(FILE *f)
{
	fprintf(f, "usage: gen-capture [-n RECORDS] [-s SEED] [-r RULES] "
		   "[-c CONCURRENCY] FILE\n");
}

int main(int argc, char **argv)
{
	static struct gen g;
	struct gen_slot slots[GEN_MAX_SLOTS];
	struct st_pcapout_meta meta;
	const char *rules = ST_BENCH_RULES;
	char err[ST_ERRBUF_SIZE] = "";
	unsigned long long n = 1000000, seed = 17;
	unsigned int conc = 2;
	int ret = 1;
	int c;

	while ((c = getopt(argc, argv, "n:s:r:c:h")) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rules = optarg;
			break;
		case 'c':
			conc = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			gen_usage(stdout);
			return 0;
		default:
			gen_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || n == 0 || conc == 0 || conc > GEN_MAX_SLOTS) {
		gen_usage(stderr);
		return 2;
	}
	g.rng = seed * 0x9e3779b97f4a7c15ull + 1;
	g.next_port = 32768;
	g.tcp_seq = (uint32_t)seed;
	for (size_t i = 0; i < GEN_NSCEN; i++)
		g.weight_sum += gen_scenarios[i].weight;
	memset(slots, 0, sizeof(slots));

	if (st_pcapout_open(&g.out, argv[optind], ST_PCAPOUT_OVERWRITE, err) <
	    0)
		goto out;
	if (gen_rules(g.out, rules, err) < 0)
		goto out;
	memset(&meta, 0, sizeof(meta));
	st_strlcpy(meta.backend, "iptables-legacy", sizeof(meta.backend));
	meta.session = GEN_SESSION;
	meta.group = GEN_GROUP;
	st_strlcpy(meta.netns, "/var/run/netns/bench-pod", sizeof(meta.netns));
	st_strlcpy(meta.pod, "default/productpage-v1-bench", sizeof(meta.pod));
	meta.start.tv_sec = 1764000000;
	if (st_pcapout_set_meta(g.out, &meta, err) < 0)
		goto out;

	while (g.records < n) {
		struct gen_slot *s = &slots[gen_rand(&g) % conc];

		if (s->sc == NULL)
			gen_start(&g, s);
		if (gen_emit(&g, s, err) < 0)
			goto out;
	}
	ret = st_pcapout_close(g.out, err) < 0 ? 1 : 0;
	g.out = NULL;
	if (ret != 0)
		goto out;
	printf("{\"records\":%" PRIu64 ",\"connections\":%" PRIu64
	       ",\"scenarios\":{",
	       g.records, g.conns);
	for (size_t i = 0; i < GEN_NSCEN; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", gen_scenarios[i].name,
		       g.per_scen[i]);
	printf("}}\n");
out:
	if (g.out != NULL)
		st_pcapout_close(g.out, err);
	if (ret != 0)
		fprintf(stderr, "gen-capture: %s\n", err);
	return ret;
}
