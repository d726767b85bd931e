/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow.h - the values the flow stage hands on: a hop (one record of a
 * first packet's walk), a leg (one connection as the pod's rules saw it),
 * a flow (legs stitched through the sidecar, with its traffic type), and
 * the counters of a run.  assemble.h builds them from records; classify.h
 * gives a flow its type; sinks read them.
 */
#ifndef ST_FLOW_H
#define ST_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "istio.h"
#include "record.h"
#include "rules.h"

/*
 * Types 1-6 are the sidecar's (README.md), 7-13 an ambient pod's, whose
 * traffic ztunnel carries (classify.h); 0 is none of them.
 */
#define ST_TYPE_SIDECAR_MAX 6
#define ST_TYPE_AMBIENT_MIN 7
#define ST_TYPE_MAX 13 /* types are 0..ST_TYPE_MAX */

enum st_ambient_type {
	ST_TYPE_AMB_LOCAL_TO_REMOTE = 7, /* app -> 15001 -> ztunnel -> out */
	ST_TYPE_AMB_HBONE_TO_LOCAL,	 /* -> 15008 -> ztunnel -> app */
	ST_TYPE_AMB_REMOTE_TO_LOCAL,	 /* -> 15006 -> ztunnel -> app */
	ST_TYPE_AMB_LOCAL_TO_LOCAL,	 /* app -> 15001 -> ztunnel -> pod */
	ST_TYPE_AMB_KUBELET_PROBE,	 /* 169.254.7.127 -> app directly */
	ST_TYPE_AMB_DNS,		 /* app -> 15053 -> ztunnel [-> DNS] */
	ST_TYPE_AMB_ZTUNNEL,		 /* ztunnel's own, stitched to none */
};

/* Why a type-0 flow is type 0; ST_CLASS_NONE for types 1-6. */
enum st_class {
	ST_CLASS_NONE = 0,
	ST_CLASS_BYPASS,	/* returned without capture, not the proxy */
	ST_CLASS_EXCLUDED_PORT, /* inbound/outbound port exclusion */
	ST_CLASS_EXCLUDED_CIDR, /* outbound CIDR exclusion (or not included) */
	ST_CLASS_DNS_CAPTURE,	/* redirected to the DNS proxy port */
	ST_CLASS_PROXY_DIRECT,	/* proxy uid/gid leg stitched to nothing */
	ST_CLASS_INCOMPLETE,	/* records lost, walk unfinished, evicted */
	ST_CLASS_UNKNOWN,
	ST_CLASS__MAX,
};

#define ST_FLOW_MAX_LEGS 3
#define ST_FLOW_MAX_HOPS 40
#define ST_FLOW_WHY_SIZE 128
#define ST_FLOW_REASON_SIZE 256

/* What a leg's REDIRECT/TPROXY sent it to. */
enum st_capture {
	ST_CAPTURE_NONE = 0,
	ST_CAPTURE_OUTBOUND, /* the outbound port (15001) */
	ST_CAPTURE_INBOUND,  /* the inbound port (15006) */
	ST_CAPTURE_DNS,	     /* the DNS proxy port (15053) */
	ST_CAPTURE_OTHER,    /* a REDIRECT/TPROXY to some other port */
	/* Not redirected: it arrived for ztunnel's HBONE listener (15008),
	 * which the rules leave alone. */
	ST_CAPTURE_TUNNEL,
};

/* One record of a leg's first walk. */
struct st_flow_hop {
	const char *table; /* strings owned by the ruleset */
	const char *chain;
	const struct st_rule *r;  /* ST_HIT_RULE: the original rule */
	unsigned int rule;	  /* original rule number; for RETURN (fell
				  * off a user chain) the position after
				  * its last rule, as TRACE says; 0 for
				  * ENTER and POLICY */
	unsigned int chain_rules; /* rules in the chain */
	enum st_hit_kind kind;	  /* RULE, ENTER, POLICY or RETURN */
	bool builtin;		  /* a built-in (hooked) chain */
	bool istio;		  /* an Istio chain (st_istio_is_istio_chain) */
};

struct st_flow_leg {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* IPPROTO_* */
	uint16_t sport;
	uint16_t dport; /* before NAT */
	uint8_t src[16];
	uint8_t dst[16]; /* before NAT */
	bool has_uid;
	bool has_gid;
	uint32_t uid;
	uint32_t gid;
	uint32_t mark;
	char indev[16]; /* first interface names seen, "" when none */
	char outdev[16];
	bool arriving; /* entered the pod from a device (prerouting) */
	/*
	 * The proxy's: uid or gid is one of the sidecar's; in an ambient pod
	 * the socket carries ztunnel's mark (ztunnel is told by its mark,
	 * not by an id)
	 */
	bool proxy;
	bool ztunnel;	      /* its mark is ztunnel's (ambient pods) */
	bool passthrough_src; /* from 127.0.0.6 / ::6 */
	bool own_pod;	      /* hit a proxy-to-own-pod-redirect rule */
	enum st_capture capture;
	uint16_t redirect_port; /* target port of the REDIRECT/TPROXY; 0 none */
	int redirect_hop;	/* index of that hop, -1 */
	/*
	 * The hop that decided the leg's fate: the redirect hop; else the
	 * last rule hop of the decisive table whose rule is an Istio rule
	 * (role set, or in an Istio chain) with a verdict target (RETURN,
	 * ACCEPT, DROP, REJECT, REDIRECT, TPROXY, DNAT...); else the last
	 * fall-through of an Istio chain there; -1 when none.
	 */
	int decision_hop;
	/*
	 * The table whose walk tells the story: the redirect hop's table;
	 * else the nat table (the one holding REDIRECT rules for nft) when
	 * the leg crossed it; else the table of the last Istio verdict; else
	 * the first hop's.  Set when the flow is emitted.
	 */
	const char *decisive_table;
	const char *nat_table;	 /* the nat table when the leg crossed it */
	struct timespec ts;	 /* first record */
	struct timespec last_ts; /* last record of the first walk */
	uint64_t seq;		 /* first record's sequence number */
	unsigned int records;	 /* records of the first walk */
	unsigned int packets;	 /* packets seen, the first included */
	unsigned int later;	 /* records of later packets */
	bool incomplete;
	bool lost;	/* records were lost while its walk was open */
	bool truncated; /* more than ST_FLOW_MAX_HOPS hops: the rest dropped */
	char why[ST_FLOW_WHY_SIZE]; /* why incomplete */
	unsigned int nhops;
	struct st_flow_hop hops[ST_FLOW_MAX_HOPS];
};

/*
 * How the Envoy side of a flow was found: the proxy's leg that carried a
 * captured leg on.  Envoy pools HTTP connections, so a request often has
 * no new leg of the proxy at all.
 */
enum st_side {
	ST_SIDE_NONE = 0,   /* nothing was captured to Envoy */
	ST_SIDE_STITCHED,   /* the proxy's new leg to exactly the original
			     * destination or from the passthrough address;
			     * for a service VIP, the one leg to its port */
	ST_SIDE_GUESS,	    /* one of several legs that fit, taken by time */
	ST_SIDE_REUSED,	    /* no new leg followed in the window: Envoy used
			     * a connection it had open (a pool) */
	ST_SIDE_ACCESS_LOG, /* paired through Envoy's access log */
	ST_SIDE__MAX,
};

/* A connection as a flow names it: the pooled one Envoy reused. */
struct st_flow_conn {
	bool known;	  /* its first packet was seen, in flow @flow_id */
	bool own_pod;	  /* it went to the pod's own address (type 4) */
	uint8_t family;	  /* 4 or 6 */
	uint16_t sport;	  /* host order */
	uint16_t dport;	  /* before NAT */
	uint64_t flow_id; /* the flow that opened it */
	uint8_t src[16];
	uint8_t dst[16];
};

/*
 * What Envoy's access log said about one request (or one TCP connection)
 * it handled for a flow: the fields a reader wants, cut to fit.  The whole
 * entry (envoy.h) is 2 KB; this is what a flow carries.
 */
#define ST_FLOW_REQS_MAX 4
#define ST_FLOW_REQ_METHOD_SIZE 16
#define ST_FLOW_REQ_AUTHORITY_SIZE 64
#define ST_FLOW_REQ_PATH_SIZE 96
#define ST_FLOW_REQ_FLAGS_SIZE 32
#define ST_FLOW_REQ_CLUSTER_SIZE 96

struct st_flow_req {
	bool tcp;	     /* a TCP proxy connection: no method, path */
	bool has_code;	     /* a response code was sent */
	bool has_duration;   /* DURATION was there */
	uint16_t code;	     /* RESPONSE_CODE */
	uint8_t host_family; /* UPSTREAM_HOST: 4 or 6; 0 none */
	uint16_t host_port;  /* host order */
	uint8_t host[16];
	uint64_t duration_ms;			    /* DURATION */
	char method[ST_FLOW_REQ_METHOD_SIZE];	    /* "" none */
	char authority[ST_FLOW_REQ_AUTHORITY_SIZE]; /* "" none */
	char path[ST_FLOW_REQ_PATH_SIZE];	    /* "" none; cut: "..." */
	char flags[ST_FLOW_REQ_FLAGS_SIZE];	    /* RESPONSE_FLAGS; "" */
	char cluster[ST_FLOW_REQ_CLUSTER_SIZE];	    /* UPSTREAM_CLUSTER; "" */
};

/* The requests of a flow, the first ST_FLOW_REQS_MAX of @total. */
struct st_flow_reqs {
	unsigned int n;
	uint64_t total; /* all that matched, @n of them kept */
	struct st_flow_req req[ST_FLOW_REQS_MAX];
};

struct st_flow {
	uint64_t id;  /* 1, 2, ... in order of emission */
	int type;     /* 0-ST_TYPE_MAX, set by st_class_flow() */
	bool ambient; /* an ambient pod's: ztunnel, not Envoy, took it */
	enum st_class klass;
	/* Type 0: why; other types: what is uncertain about it, or "". */
	char reason[ST_FLOW_REASON_SIZE];
	enum st_side side; /* how Envoy's side was found */
	/* ST_SIDE_GUESS: how many waiting legs fitted (0: one whose port
	 * differs from the leg's, nothing learnt about the destination) */
	unsigned int fits;
	struct st_flow_conn pooled; /* ST_SIDE_REUSED: the connection */
	bool timed_out;		    /* the last leg waited in vain */
	bool lost_meanwhile;	    /* records were lost while it waited */
	bool evicted;		    /* emitted early: the table was full */
	/*
	 * The requests Envoy's access log names for this flow; NULL when
	 * none (or no log was read).  Owned by the pipeline's matcher and
	 * valid while the flow is handed on: a sink that keeps the flow
	 * copies them.
	 */
	const struct st_flow_reqs *reqs;
	unsigned int nlegs;
	struct st_flow_leg legs[ST_FLOW_MAX_LEGS];
};

/* Why a record was skipped. */
enum st_flow_skip {
	ST_SKIP_UNTAGGED = 0,  /* no sidecar-trace tag or TRACE prefix */
	ST_SKIP_NOT_IP,	       /* no decodable IP/TCP/UDP headers */
	ST_SKIP_UNKNOWN_CHAIN, /* the ruleset has no such table:chain */
	ST_SKIP_UNKNOWN_RULE,  /* ... or no such rule number in it */
	ST_SKIP__MAX,
};

/* Envoy's access log, as the summary counts it (when one was read). */
struct st_flow_envoy_stats {
	bool given;		/* an access log was read: show these */
	uint64_t lines;		/* entries read */
	uint64_t matched;	/* attached to a flow */
	uint64_t no_leg;	/* matched no traced flow within the bound */
	uint64_t no_address;	/* no DOWNSTREAM_REMOTE_ADDRESS: unmatchable */
	uint64_t unparsed;	/* lines that were no entry (the reader's) */
	uint64_t flows_no_line; /* flows released with no line */
	uint64_t absorbed;	/* proxy-direct flows moved into another */
	uint64_t split;		/* legs moved out of a flow (a wrong guess) */
	uint64_t dropped;	/* flows or entries released early: full */
	uint64_t rotated; /* the file renamed or truncated (the reader's) */
	uint64_t deleted; /* the file deleted (the reader's) */
};

struct st_flow_stats {
	bool ambient;	  /* an ambient pod's: its types are 7-13 */
	uint64_t records; /* given to st_flow_table_add() */
	uint64_t flows;	  /* emitted */
	uint64_t by_type[ST_TYPE_MAX + 1];
	uint64_t by_class[ST_CLASS__MAX];
	uint64_t lost;	  /* reported by the source */
	uint64_t skipped; /* all reasons together */
	uint64_t skipped_by[ST_SKIP__MAX];
	char last_skip[128]; /* the latest skip, e.g. "no chain nat:FOO" */
	uint64_t evicted;    /* flows emitted early, table full */
	uint64_t later;	     /* records of later packets of open legs */
	uint64_t late;	     /* records of legs already emitted */
	uint64_t ignored;    /* records that start no leg (see above) */
	struct st_flow_envoy_stats envoy;
	/* A live trace re-attached after the rules were rewritten: times. */
	unsigned int rules_rewritten;
};

/*
 * What an ambient pod's rules say about ztunnel, derived from them (never
 * assumed): the mark its sockets carry, which the capture rules exempt
 * (0x539/0xfff), and the ports the REDIRECT rules send traffic to.
 */
struct st_flow_ztunnel {
	bool ambient;		/* the rules are ztunnel's in-pod rules */
	uint32_t mark;		/* 0x539 */
	uint32_t mask;		/* 0xfff; 0 when no mark was found */
	uint16_t outbound_port; /* output REDIRECT, 15001 */
	uint16_t inbound_port;	/* prerouting REDIRECT, 15006 */
	uint16_t dns_port;	/* output REDIRECT of port 53, 15053 */
	uint16_t
		hbone_port; /* the port the prerouting REDIRECT spares, 15008 */
};

/**
 * st_flow_ztunnel_of() - ztunnel's mark and ports in an ambient pod: the
 * recogniser's (@set->amb), completed from the rules where it has none:
 * the REDIRECT rules reached from prerouting (inbound, and the one
 * destination port they exclude: HBONE) and from output (DNS when they
 * match port 53, else outbound), and the mark they exempt.
 * @rs: the rules
 * @set: their settings; nothing is read unless @set->kind is ambient
 * @out: the result (all zero for a sidecar pod)
 */
void st_flow_ztunnel_of(const struct st_ruleset *rs,
			const struct st_istio_settings *set,
			struct st_flow_ztunnel *out);

/**
 * st_flow_ztunnel_capture() - which of ztunnel's listeners a REDIRECT to
 * @port goes to (ST_CAPTURE_OTHER for none of them).
 */
enum st_capture st_flow_ztunnel_capture(const struct st_flow_ztunnel *z,
					uint16_t port);

/** st_flow_ztunnel_marked() - whether @mark is ztunnel's. */
bool st_flow_ztunnel_marked(const struct st_flow_ztunnel *z, uint32_t mark);

/** st_flow_skip_name() - "untagged", "not-ip", "unknown-chain", ... */
const char *st_flow_skip_name(enum st_flow_skip s);

/**
 * st_flow_capture_name() - "outbound", "inbound", "dns", "other", "tunnel",
 * "none".
 */
const char *st_flow_capture_name(enum st_capture c);

/**
 * st_flow_addr_format() - "10.0.0.1:80" or "[fd00::1]:80".
 * @family: 4 or 6
 * @addr: 4 or 16 bytes
 * @port: host order
 * @buf: at least ST_FLOW_ADDR_SIZE bytes
 */
#define ST_FLOW_ADDR_SIZE 56
void st_flow_addr_format(uint8_t family, const uint8_t *addr, uint16_t port,
			 char *buf, size_t size);

/** st_flow_side_name() - "stitched", "guess", "reused", "access-log", "none". */
const char *st_flow_side_name(enum st_side s);

/** st_flow_hop_kind_name() - "rule", "enter", "policy", "return". */
const char *st_flow_hop_kind_name(enum st_hit_kind k);

/**
 * st_flow_leg_decide() - set a leg's decisive_table, nat_table and
 * decision_hop from its hops (see struct st_flow_leg): the redirect hop's
 * table; else nat when an Istio rule decided there or nothing did; else the
 * table of the last Istio verdict.  Shared by live flows and simulation so
 * that both name the same deciding rule.
 * @nat_table: the nat table's name ("nat", nft: the table holding the
 *	REDIRECT rules), or NULL
 * @l: the leg, with its hops and redirect_hop set
 */
void st_flow_leg_decide(const char *nat_table, struct st_flow_leg *l);

/**
 * st_flow_nat_table() - the nat table's name as st_flow_leg_decide() wants
 * it: "nat" when the rules have it, else (nftables) the table holding the
 * REDIRECT rules; NULL when neither.  Points into @rs.
 */
const char *st_flow_nat_table(const struct st_ruleset *rs);

/**
 * st_flow_capture_of() - which sidecar port a leg's REDIRECT/TPROXY rule
 * @r sent it to: by the rule's role, else (recogniser unsure) TPROXY is
 * inbound and @port is compared with @set's ports.
 */
enum st_capture st_flow_capture_of(const struct st_istio_settings *set,
				   const struct st_rule *r, uint16_t port);

/**
 * st_flow_leg_is_proxy() - whether the leg's socket has one of @set's proxy
 * uids or gids (has_uid/has_gid say which ids the leg knows).
 */
bool st_flow_leg_is_proxy(const struct st_istio_settings *set,
			  const struct st_flow_leg *l);

/** st_flow_addr_is_loopback() - 127.0.0.0/8 or ::1. */
bool st_flow_addr_is_loopback(uint8_t family, const uint8_t *a);

/** st_flow_addr_is_passthrough() - Istio's passthrough source 127.0.0.6 or ::6. */
bool st_flow_addr_is_passthrough(uint8_t family, const uint8_t *a);

#endif /* ST_FLOW_H */
