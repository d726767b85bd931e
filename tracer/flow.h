/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow.h - assembling hit records into legs, and legs into flows through
 * the sidecar.
 *
 * Leg.  One connection as the pod's rules saw it: the records of its
 * first packet, keyed by (family, protocol, source address, source port),
 * which NAT does not change.  The destination kept is the one of the
 * leg's first record, i.e. before any REDIRECT.  The hop list is the
 * ordered walk of that first packet through every instrumented chain of
 * every table it crossed (one record = one hop).  A leg's first walk is
 * over ("sealed") when
 *   - a record of a later packet of the same key arrives: one in a
 *     built-in chain this walk already left, or at or before a position
 *     it already passed (enter = 0, rule N, policy/return = last);
 *   - a record of another leg arrives while this walk is at rest (every
 *     table traversal it began has ended in a verdict, return or policy,
 *     it crossed a table other than raw, and - when it went out over lo
 *     and the rules have prerouting chains outside nat, which see it come
 *     back in - that return trip has been seen);
 *   - no record of it came for walk_timeout_ms; or on flush.
 * Records that still belong to the first walk but arrive after sealing
 * are appended as long as the flow has not been emitted.  A sealed walk
 * that does not parse as complete traversals (a jump not followed by the
 * callee's entry, a chain left without verdict, return or policy, a
 * traversal not starting with its chain's entry record) makes the leg
 * incomplete, with the reason; nothing is ever filled in.
 *
 * Records that start no leg: TCP packets other than a bare SYN (replies,
 * mid-stream packets: counted as ignored), and legs whose whole walk
 * stayed in raw tables, which run before conntrack and so log every
 * packet (UDP replies, retransmitted SYNs): dropped at sealing, counted
 * as ignored.  After a flow is emitted its legs' keys linger for
 * linger_ms (refreshed by each record) so that records of their later
 * packets are absorbed (counted as late) instead of starting new legs.
 *
 * Flow.  Legs stitched through the sidecar, at most three:
 *   - a leg redirected to the outbound port (capture ST_CAPTURE_OUTBOUND)
 *     waits for the proxy's upstream leg: a TCP leg whose uid or gid is a
 *     proxy id.  The waiting leg whose original destination equals the
 *     upstream leg's destination is taken first (passthrough, direct pod
 *     IP); otherwise the oldest waiting leg of the same family, unless
 *     the upstream goes to a loopback address or an istiod port (a VIP's
 *     endpoint is unknown to us, so this is a guess in time order);
 *   - a leg redirected to the inbound port (ST_CAPTURE_INBOUND; also the
 *     proxy's leg to its own pod IP in type 4) waits for the leg from
 *     127.0.0.6 / ::6 to exactly its original destination (in TPROXY
 *     mode also the proxy's leg from the same client address, which
 *     Envoy's original_src keeps), or else for the proxy's leg to a
 *     loopback address on the same port (Envoy before Istio 1.10
 *     forwarded inbound traffic to 127.0.0.1:PORT).
 * A leg is stitched when its first record outside raw tables arrives.  A
 * flow is complete, classified (classify.h) and emitted when it waits
 * for nothing and all its legs are sealed, or when its last leg has
 * waited stitch_window_ms for a partner in vain.
 *
 * Bounds.  At most max_flows flows are open; when another is needed the
 * oldest open flow is emitted early as incomplete (counted as evicted).
 * Flows, leg nodes and lingering keys are preallocated: adding a record
 * allocates nothing and costs O(1) (hash lookups, list moves).
 *
 * Time.  The table's clock is the latest record timestamp seen; call
 * st_flow_table_expire() with the same clock (CLOCK_REALTIME for kernel
 * NFLOG timestamps) while no records come.
 */
#ifndef ST_FLOW_H
#define ST_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "classify.h"
#include "common.h"
#include "istio.h"
#include "record.h"
#include "rules.h"

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
	bool arriving;	      /* entered the pod from a device (prerouting) */
	bool proxy;	      /* uid or gid is one of the proxy's */
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

struct st_flow {
	uint64_t id; /* 1, 2, ... in order of emission */
	int type;    /* 0-6, set by st_class_flow() */
	enum st_class klass;
	char reason[ST_FLOW_REASON_SIZE]; /* type 0: why */
	bool timed_out;	     /* the last leg waited for a partner in vain */
	bool lost_meanwhile; /* records were lost while it waited */
	bool evicted;	     /* emitted early: the table was full */
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

struct st_flow_stats {
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
};

struct st_flow_opts {
	unsigned int max_flows;	       /* 0: 1024 */
	unsigned int max_linger;       /* lingering keys; 0: 4 * max_flows */
	unsigned int walk_timeout_ms;  /* 0: 500 */
	unsigned int stitch_window_ms; /* 0: 2000 */
	unsigned int linger_ms;	       /* 0: 2000 */
};

/*
 * Called for each complete flow.  Return ST_CB_OK to go on, ST_CB_STOP to
 * make the current call return ST_CB_STOP (the table stays usable), or
 * ST_CB_ERROR.  The flow is valid during the call only; the callback
 * must not call back into the table.
 */
typedef int (*st_flow_emit_fn)(const struct st_flow *flow, void *data);

struct st_flow_table;

/**
 * st_flow_table_new() - create a flow table.
 * @rs: the rules the records refer to; must outlive the table (hops point
 *      into it)
 * @set: the settings st_istio_analyze() derived from @rs (copied)
 * @opts: bounds and time-outs, or NULL for the defaults
 * @emit: called for each complete flow
 * @data: passed to @emit
 * @err: error buffer
 *
 * Return: the table, or NULL with @err set.
 */
struct st_flow_table *st_flow_table_new(const struct st_ruleset *rs,
					const struct st_istio_settings *set,
					const struct st_flow_opts *opts,
					st_flow_emit_fn emit, void *data,
					char *err);

/** st_flow_table_free() - release a table; pending flows are dropped. */
void st_flow_table_free(struct st_flow_table *t);

/**
 * st_flow_table_add() - take one record (records in arrival order).
 * @t: the table
 * @rec: the record
 * @err: error buffer
 *
 * Return: ST_CB_OK, ST_CB_STOP when an emit callback asked to stop, or a
 * negative errno (-ECANCELED when an emit callback failed).
 */
int st_flow_table_add(struct st_flow_table *t, const struct st_rec *rec,
		      char *err);

/**
 * st_flow_table_lost() - the source lost @n records: legs whose walk is
 * open now are marked, and any of them that does not parse as complete is
 * reported incomplete because of the loss.
 *
 * Return: ST_CB_OK.
 */
int st_flow_table_lost(struct st_flow_table *t, uint64_t n);

/**
 * st_flow_table_expire() - advance the clock to @now and emit what timed
 * out.  Return: as st_flow_table_add().
 */
int st_flow_table_expire(struct st_flow_table *t, const struct timespec *now,
			 char *err);

/**
 * st_flow_table_flush() - end every walk and wait, and emit every open
 * flow, oldest first.  Return: as st_flow_table_add().
 */
int st_flow_table_flush(struct st_flow_table *t, char *err);

/** st_flow_table_stats() - counters so far. */
void st_flow_table_stats(const struct st_flow_table *t,
			 struct st_flow_stats *out);

/** st_flow_skip_name() - "untagged", "not-ip", "unknown-chain", ... */
const char *st_flow_skip_name(enum st_flow_skip s);

/** st_flow_capture_name() - "outbound", "inbound", "dns", "other", "none". */
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
