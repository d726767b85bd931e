/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * path.h - a flow in the article's notation, e.g.
 *
 *   Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT ->
 *   Envoy 15001 (Outbound) -> OUTPUT -> ISTIO_OUTPUT RULE 4 ->
 *   POSTROUTING -> Remote Pod
 *
 * and the end-of-trace table of counts.
 *
 * The path is START, then for each leg its chain tokens followed, when
 * the leg was redirected, by the sidecar port it was sent to, then END.
 *
 * Which chains a leg shows.  Only built-in chains and Istio chains, up to
 * and including the leg's REDIRECT/TPROXY hop, and of those: the hops in
 * the nat table, plus - when the REDIRECT/TPROXY is in another table -
 * that table's traversal which ended in it (mangle PREROUTING ->
 * ISTIO_INBOUND -> ISTIO_TPROXY for a TPROXY capture, also when it
 * happens as a hairpin comes back in over lo).  A leg that never crossed
 * nat shows its decisive table instead (flow.h; e.g. mangle for a TPROXY
 * pod's excluded port).  So raw's DNS conntrack zones, TPROXY mode's
 * mangle marks and non-Istio chains never show.  Chain names are printed
 * as the rules spell them (nftables: "output", "istio-output").
 *
 * How a chain reads.  Consecutive hops of one chain form a segment.  A
 * segment of a chain that is not on the call stack is an activation; one
 * of a chain on the stack is the caller resumed after a return.  The
 * segment's deciding rule is its last rule hop whose target leaves the
 * chain (jump, goto, RETURN, REDIRECT, TPROXY, ACCEPT, DROP, ...), else
 * its last rule hop.
 *   - built-in chain, activation: "OUTPUT"; "OUTPUT RULE N" only when the
 *     deciding rule is an Istio rule in the built-in chain itself with a
 *     verdict (not a jump), e.g. a DNS REDIRECT in nat OUTPUT;
 *   - Istio chain, activation: "ISTIO_OUTPUT RULE N"; just "ISTIO_REDIRECT"
 *     for a chain of one rule that matched; "ISTIO_INBOUND (no match)"
 *     when no rule of it matched (its return record says the packet fell
 *     off its end); "ISTIO_REDIRECT (records missing)" when the records
 *     stop in it without either (an incomplete leg);
 *   - resumption: a token only when a rule matched after the return
 *     ("ISTIO_OUTPUT RULE 9" after "ISTIO_OUTPUT_DNS (no match)"); for a
 *     built-in chain only a verdict, as above.
 * The rule numbers are the kernel's (the original rules' positions).
 *
 * Endpoints, as the article names them: type 1 Remote Pod -> Local Pod,
 * 2 Local Pod -> Remote Pod, 3 Prometheus -> Local Pod, 4 Local Pod ->
 * Local Pod, 5 Envoy process (Localhost) -> Envoy process (Localhost),
 * 6 Local Pod -> Istiod.  Type 0: start Remote Pod (arriving), Sidecar
 * (proxy uid/gid: Envoy or pilot-agent) or Local Pod; end Local Pod (arriving, or over lo),
 * Localhost (loopback destination) or Remote Pod.  Sidecar ports: "Envoy
 * 15001 (Outbound)", "Envoy 15006 (Inbound)", "DNS proxy 15053", "port P".
 * A leg that ends at a sidecar port ends the path there when nothing
 * follows it.
 */
#ifndef ST_PATH_H
#define ST_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flow.h"

/**
 * st_path_format() - the flow's path in the article's notation.
 * @flow: a classified flow
 * @buf: where to write it (always NUL-terminated when @size > 0)
 * @size: size of @buf
 *
 * Return: the length of the whole path (as snprintf: a value >= @size
 * means it was truncated).
 */
int st_path_format(const struct st_flow *flow, char *buf, size_t size);

/* One token of the path text. */
enum st_path_step_kind {
	ST_PATH_START = 0, /* where the flow starts: "Local Pod", ... */
	ST_PATH_CHAIN,	   /* a chain as it reads (see above) */
	ST_PATH_SIDECAR,   /* the sidecar port a leg was redirected to */
	ST_PATH_END,	   /* where the flow ends */
};

/* What follows a chain's name. */
enum st_path_note {
	ST_PATH_NOTE_NONE = 0,	 /* "OUTPUT", "ISTIO_REDIRECT" */
	ST_PATH_NOTE_RULE,	 /* "ISTIO_OUTPUT RULE 9" */
	ST_PATH_NOTE_NO_MATCH,	 /* "ISTIO_INBOUND (no match)" */
	ST_PATH_NOTE_INCOMPLETE, /* "ISTIO_REDIRECT (records missing)" */
};

struct st_path_step {
	enum st_path_step_kind kind;
	unsigned int leg; /* the leg it belongs to (START 0, END the last) */
	/* CHAIN: the chain; START, END: the endpoint ("Remote Pod", ...) */
	const char *name;
	/* START, END: a peer outside the pod (Remote Pod, Prometheus, ...) */
	bool outside;
	enum st_path_note note; /* CHAIN */
	unsigned int rule;	/* CHAIN, NOTE_RULE: the kernel's number */
	const struct st_flow_hop *hop; /* CHAIN: the segment's first hop */
	const struct st_flow_hop *dec; /* CHAIN: its deciding rule, or NULL */
	enum st_capture capture;       /* SIDECAR */
	uint16_t port;		       /* SIDECAR */
	bool ztunnel; /* SIDECAR: ztunnel's port (an ambient pod), not Envoy's */
};

/* Enough for any flow: a step per hop and per leg, the two endpoints. */
#define ST_PATH_MAX_STEPS (ST_FLOW_MAX_LEGS * (ST_FLOW_MAX_HOPS + 1) + 2)

/**
 * st_path_steps() - the steps st_path_format() prints, in order, so that
 * other renderings (boxes, graphs) show the same chains, rule numbers and
 * endpoints.
 * @flow: a classified flow
 * @steps: where to store them (strings and hops point into @flow and its
 *	ruleset)
 * @max: room in @steps (ST_PATH_MAX_STEPS always suffices)
 *
 * Return: the number of steps of the path; only the first @max are stored.
 */
unsigned int st_path_steps(const struct st_flow *flow,
			   struct st_path_step *steps, unsigned int max);

/**
 * st_path_step_format() - one step as the path text spells it, e.g.
 * "ISTIO_OUTPUT RULE 9" or "Envoy 15001 (Outbound)".
 *
 * Return: the length (as snprintf).
 */
int st_path_step_format(const struct st_path_step *step, char *buf,
			size_t size);

/**
 * st_path_print() - one line per flow while tracing:
 * "[2 local-to-remote] PATH  (SRC -> DST)", type 0 as
 * "[0 bypass] PATH  (SRC -> DST; REASON)"; SRC and DST are the first
 * leg's, DST before NAT.  The requests Envoy's access log names follow,
 * one "    envoy: REQUEST" line each (st_path_req_format()), and
 * "    envoy: N more" when more matched than the flow keeps.
 *
 * Return: 0, or -EIO when writing failed.
 */
int st_path_print(FILE *out, const struct st_flow *flow);

/**
 * st_path_req_format() - one request Envoy's access log names for a flow:
 * "GET reviews:9080/reviews/0 -> 200 (upstream 10.244.2.9:9080
 * outbound|9080||reviews.default.svc.cluster.local, 12 ms)"; flags follow
 * the code ("-> 503 UF"); a TCP connection is "TCP (upstream ...)".
 * Always NUL-terminated.
 */
void st_path_req_format(const struct st_flow_req *r, char *buf, size_t size);

/**
 * st_path_summary() - the end-of-trace table: flows per type (type 0 per
 * class), the total, and the records lost, skipped and the flows evicted;
 * with an access log, a line of its counts.
 *
 * Return: 0, or -EIO when writing failed.
 */
int st_path_summary(FILE *out, const struct st_flow_stats *stats);

#endif /* ST_PATH_H */
