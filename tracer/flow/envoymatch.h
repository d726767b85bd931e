/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * envoymatch.h - flows paired with the entries of Envoy's access log
 * (envoy.h), exactly, from the addresses Envoy logs.
 *
 * The pipeline (pipe.h) runs it between the flow table and the sinks when
 * an access log is read.  Flows with an Envoy side (a leg captured to the
 * outbound or inbound port) and proxy-direct flows (a leg of the proxy no
 * capture claimed) are held for up to @wait_ms on the pipeline's clock,
 * since Envoy writes a line when a request ends (a TCP connection: when it
 * closes) and the table emits a flow whose Envoy side was a pooled
 * connection only when its window passes; other flows pass straight on.
 * Entries that match no held flow wait up to the same bound for a flow
 * that comes later.
 *
 * An entry matches a held flow when its DOWNSTREAM_REMOTE_ADDRESS is the
 * source of one of the flow's captured legs (the app's leg outbound, the
 * client's leg inbound, the proxy's leg to its own pod in type 4) and its
 * DOWNSTREAM_LOCAL_ADDRESS, when logged, that leg's original destination.
 * Its UPSTREAM_LOCAL_ADDRESS is the source of the leg Envoy carried the
 * request on, U:
 *   - the flow's next leg is U: the pairing is confirmed;
 *   - U is a held proxy-direct flow: its leg moves into this flow (that
 *     flow is not emitted; counted as absorbed), after any other leg the
 *     flow had there went out as a held flow of its own (counted as split:
 *     a wrong guess in time order, which another entry may claim);
 *   - U is the leg time order gave another held flow that no entry decided
 *     yet: it is taken from that flow the same way (that flow then waited
 *     in vain, as if Envoy had reused a connection for it);
 *   - U was never seen as a new leg: Envoy reused a pooled connection,
 *     recorded in the flow's pooled connection (with the flow that opened
 *     it when that was seen); a proxy-direct flow from U that comes later
 *     is still absorbed.
 * The flow is classified again, with UPSTREAM_HOST deciding between
 * local-to-remote (2) and local-to-local (4) for a reused connection (the
 * pod's own address is local), and its side is ST_SIDE_ACCESS_LOG.
 * Later entries of the same downstream connection (keep-alive, HTTP/2) add
 * their requests only.  The inbound line of a local-to-local request
 * (from the pod to itself, with a request id) comes in on the proxy's
 * pooled connection to its pod, which several flows share: it goes to the
 * flow whose outbound line has the same id, waiting for that line up to
 * the bound, and only then to the flow that has the connection's leg.  An entry without DOWNSTREAM_REMOTE_ADDRESS cannot
 * be matched and is counted, never guessed.
 *
 * A flow whose bound passes with no entry keeps the side it had; when the
 * side was a guess, a reused connection or nothing, its reason says that
 * no line came.  Memory is allocated at st_envoymatch_new(): held flows
 * and waiting entries are pools; when one is full the oldest is released
 * (a flow emitted, an entry counted as matching no leg) and counted; a
 * leg moved out of a flow when no slot is free goes on at once.
 *
 * A flow moved out of another keeps that flow's id.  Held flows go on when
 * their bound passes, so with an access log a flow with an Envoy side is
 * written up to the bound later than the flows without one beside it.
 */
#ifndef ST_ENVOYMATCH_H
#define ST_ENVOYMATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "envoy.h"
#include "flow.h"
#include "istio.h"

#define ST_ENVOYMATCH_WAIT_MS 3000 /* the default bound */

struct st_envoymatch_opts {
	const struct st_istio_settings *set; /* copied; NULL: none known */
	unsigned int max_flows;		     /* held flows; 0: 1024 */
	unsigned int max_entries;	     /* waiting; 0: 4 * max_flows */
	unsigned int wait_ms;		     /* 0: ST_ENVOYMATCH_WAIT_MS */
};

/*
 * Called for each flow that goes on (in the order released).  Return
 * ST_CB_OK, or ST_CB_STOP: the current call returns ST_CB_STOP after
 * releasing what it had to.  The flow and its requests are valid during
 * the call only.
 */
typedef int (*st_envoymatch_emit_fn)(void *data, const struct st_flow *flow);

struct st_envoymatch;

/**
 * st_envoymatch_new() - a matcher with its pools.
 * @out: receives the matcher
 * @o: bounds and settings
 * @emit: where the flows go
 * @data: given to @emit
 * @err: error buffer
 *
 * Return: 0, -EINVAL without @emit, or -ENOMEM.
 */
int st_envoymatch_new(struct st_envoymatch **out,
		      const struct st_envoymatch_opts *o,
		      st_envoymatch_emit_fn emit, void *data, char *err);

/** st_envoymatch_free() - release a matcher (held flows are dropped). */
void st_envoymatch_free(struct st_envoymatch *m);

/**
 * st_envoymatch_flow() - a flow from the table: held, matched with the
 * waiting entries, or passed on at once.
 * @m: the matcher
 * @flow: the flow (copied when held)
 * @now: the pipeline's clock
 *
 * Return: ST_CB_OK or ST_CB_STOP (from @emit).
 */
int st_envoymatch_flow(struct st_envoymatch *m, const struct st_flow *flow,
		       const struct timespec *now);

/**
 * st_envoymatch_entry() - an access-log entry: matched with a held flow,
 * or kept waiting for one.
 * @m: the matcher
 * @req: the entry (not kept: what is needed is copied)
 * @now: the pipeline's clock
 *
 * Return: ST_CB_OK or ST_CB_STOP (a flow released to make room).
 */
int st_envoymatch_entry(struct st_envoymatch *m, const struct st_envoy_req *req,
			const struct timespec *now);

/**
 * st_envoymatch_time() - advance the clock: flows and entries whose bound
 * passed are released.  Return: ST_CB_OK or ST_CB_STOP.
 */
int st_envoymatch_time(struct st_envoymatch *m, const struct timespec *now);

/**
 * st_envoymatch_flush() - the end: every held flow goes on, oldest first,
 * and every waiting entry is counted as matching no leg.
 * Return: ST_CB_OK or ST_CB_STOP.
 */
int st_envoymatch_flush(struct st_envoymatch *m);

/**
 * st_envoymatch_stats() - the counters so far (@st->unparsed is the
 * reader's and left zero; @st->given is set).
 */
void st_envoymatch_stats(const struct st_envoymatch *m,
			 struct st_flow_envoy_stats *st);

/**
 * st_envoymatch_req() - the compact request of an entry, as a flow carries
 * it (flow.h): strings cut to fit, a cut path ending in "...".
 */
void st_envoymatch_req(const struct st_envoy_req *req, struct st_flow_req *out);

#endif /* ST_ENVOYMATCH_H */
