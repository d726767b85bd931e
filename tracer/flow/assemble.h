/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assemble.h - assembling hit records into legs, and legs into flows through
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

#ifndef ST_ASSEMBLE_H
#define ST_ASSEMBLE_H

#include <time.h>

#include "flow.h"
#include "istio.h"
#include "record.h"
#include "rules.h"

struct st_flow_opts {
	unsigned int max_flows;	       /* 0: 1024 */
	unsigned int max_linger;       /* lingering keys; 0: 4 * max_flows */
	unsigned int walk_timeout_ms;  /* 0: 500 */
	unsigned int stitch_window_ms; /* 0: 2000 */
	unsigned int linger_ms;	       /* 0: 2000 */
	/*
	 * Every built-in chain of the rules logs each first packet (a live
	 * trace's own rules without --skip-empty-chains): a leg that left
	 * through output is not at rest before its postrouting record, from
	 * the first flow on, instead of once a postrouting record was seen.
	 */
	bool builtin_logged;
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

/**
 * st_flow_table_skipped() - records skipped so far for @why, read without
 * copying the counters (a reader may ask per record).
 */
uint64_t st_flow_table_skipped(const struct st_flow_table *t,
			       enum st_flow_skip why);

#endif /* ST_ASSEMBLE_H */
