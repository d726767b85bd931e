/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eval.h - predicting a connection's path from the rules alone.
 *
 * st_eval_packet() walks ONE first packet of a connection through every
 * base chain the ruleset has, in the kernel's order: hooks by packet
 * direction, tables within a hook by priority (iptables: raw -300, mangle
 * -150, nat -100 (PREROUTING, OUTPUT) / +100 (INPUT, POSTROUTING), filter
 * 0; nftables: the chains' own priorities):
 *
 *   sent by the pod:  OUTPUT -> re-route -> POSTROUTING, and when it
 *                     leaves via lo (a 127/8 or ::1 destination, one of
 *                     the pod's own addresses, or one a REDIRECT/DNAT
 *                     made local) again PREROUTING -> INPUT with iif lo
 *                     and no socket;
 *   arriving:         PREROUTING -> route -> INPUT when the destination
 *                     (after DNAT/REDIRECT) is local or TPROXY took it.
 *
 * nat chains are walked for a connection's first packet only, once per
 * direction of address translation: destination NAT at OUTPUT or
 * PREROUTING, source NAT at POSTROUTING or INPUT; the looped-back pass
 * over lo therefore sees no nat chain (as the kernel's TRACE shows).  The
 * evaluator always simulates first packets (conntrack state NEW); later
 * packets of a connection never see nat at all.
 *
 * Hops follow the ground-truth conventions (tests/lab/truth/README.md):
 * kind ST_HIT_RULE for every rule that matched (jumps included, rule =
 * its number), ST_HIT_RETURN when falling off the end of a user chain
 * (rule = its number of rules + 1), ST_HIT_POLICY when falling off a base
 * chain or returning from it (rule 0).  No ST_HIT_ENTER hops.
 *
 * Targets: jumps, gotos, RETURN, ACCEPT (ends the table's traversal),
 * DROP/REJECT (end the packet), REDIRECT (OUTPUT: to 127.0.0.1 / ::1 and
 * the port; PREROUTING: to the pod's address of the family), DNAT, SNAT,
 * MASQUERADE, TPROXY (the packet is delivered locally to the port; the
 * destination is unchanged), MARK, CONNMARK (set/save/restore), and the
 * non-terminal LOG, NFLOG, TRACE, CT.  A match that cannot be decided for
 * one packet (-m socket, statistic, limit, unknown; ctstate SNAT/DNAT) or
 * an unknown target that matched stops the walk: the leg is marked
 * incomplete with "undecidable at TABLE:CHAIN:N" - never a guess.
 *
 * st_eval_flow() simulates a --simulate spec and, when a leg ends at a
 * sidecar port, the leg the sidecar opens next (see there), and
 * classifies the result with st_class_flow() as live tracing would.
 */
#ifndef ST_EVAL_H
#define ST_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "istio.h"
#include "rules.h"
#include "simspec.h"

#define ST_EVAL_MAX_ADDRS 8
#define ST_EVAL_MAX_VIPS 16
#define ST_EVAL_NOTE_SIZE 160

/* A service VIP and the endpoint the sidecar sends its traffic to. */
struct st_eval_vip {
	uint8_t family;
	uint8_t vip[16];
	uint16_t vport;
	uint8_t ep[16];
	uint16_t eport;
};

/* What the evaluator needs beyond the rules. */
struct st_eval_env {
	const struct st_ruleset *rs; /* analysed: st_istio_analyze() ran */
	const struct st_istio_settings *set;
	/* The pod's own addresses (hosts): local, and reached over lo. */
	unsigned int naddrs;
	struct st_prefix addrs[ST_EVAL_MAX_ADDRS];
	/* Optional: VIPs the proxy resolves to an endpoint (EDS). */
	unsigned int nvips;
	struct st_eval_vip vips[ST_EVAL_MAX_VIPS];
	const char *dev; /* the pod's interface; NULL: "eth0" */
};

enum st_eval_verdict {
	ST_EVAL_SENT = 0,  /* left the pod through a device other than lo */
	ST_EVAL_LOCAL,	   /* delivered to a local socket (after INPUT) */
	ST_EVAL_DROPPED,   /* DROP, REJECT or a DROP policy */
	ST_EVAL_FORWARDED, /* arriving, not for the pod: not followed */
	ST_EVAL_UNDECIDABLE,
};

/* What happened to one leg's packet besides its hops. */
struct st_eval_info {
	enum st_eval_verdict verdict;
	uint8_t src[16]; /* after NAT */
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint32_t mark;		   /* skb mark at the end */
	char oif[ST_IFNAMSIZ + 1]; /* final output interface ("" arriving) */
	bool via_lo;		   /* looped back over lo */
	bool nat_walked; /* some nat chain saw it (first packet only) */
	char at[128];	 /* DROPPED / UNDECIDABLE: "nat:ISTIO_OUTPUT:3" */
};

/* The packet of one leg. */
struct st_eval_pkt {
	uint8_t family;
	uint8_t proto;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	bool outgoing;
	bool has_sock; /* uid/gid valid (outgoing only) */
	uint32_t uid;
	uint32_t gid;
	uint32_t mark;
	char iif[ST_IFNAMSIZ + 1]; /* arriving: the device; "" = env->dev */
	char oif[ST_IFNAMSIZ + 1]; /* outgoing: forced device; "" = routed */
};

struct st_eval_result {
	struct st_flow flow; /* legs with hops, classified */
	struct st_eval_info info[ST_FLOW_MAX_LEGS];
	/* "nat chains are consulted only for a connection's first packet" */
	char note[ST_EVAL_NOTE_SIZE];
};

/**
 * st_eval_env_lab() - fill @env with the lab's pod (tests/lab/README.md):
 * addresses 10.244.1.10 and fd00:244::1:10, device eth0, VIPs
 * 10.96.0.30:9081 / [fd00:96::30]:9081 -> the pod's :9081 and
 * 10.96.0.20:9080 / [fd00:96::20]:9080 -> 10.244.2.20 / fd00:244::2:20
 * :9080, 10.96.0.40:15012 -> 10.244.4.40:15012.
 * @env: result
 * @rs: analysed rules
 * @set: their settings
 */
void st_eval_env_lab(struct st_eval_env *env, const struct st_ruleset *rs,
		     const struct st_istio_settings *set);

/**
 * st_eval_packet() - walk one first packet through the rules.
 * @env: rules and pod
 * @pkt: the packet
 * @leg: filled in as the flow table fills a leg (hops, capture,
 *       redirect_port/hop, decision_hop, decisive_table, ...); incomplete
 *       with the reason when undecidable
 * @info: verdict, addresses after NAT, output interface
 * @err: error buffer
 *
 * Return: 0 (also when undecidable: see @info), or -EINVAL for a packet
 * that is not IPv4/IPv6.
 */
int st_eval_packet(const struct st_eval_env *env, const struct st_eval_pkt *pkt,
		   struct st_flow_leg *leg, struct st_eval_info *info,
		   char *err);

/**
 * st_eval_flow() - simulate @spec and the legs the sidecar opens next.
 * @env: rules and pod
 * @spec: the first leg
 * @res: legs, their info, the classified flow
 * @err: error buffer
 *
 * After a leg redirected to the outbound port follows the proxy's
 * upstream connection: from the pod's address of the family, as the
 * proxy's uid and gid (TPROXY mode: uid 0 and the proxy gid, as Istio
 * runs it), to the original destination or, when it is a VIP of @env,
 * its endpoint.  After a leg redirected to the inbound port (an arriving
 * one, or the proxy's own connection to its pod address) follows the
 * connection from 127.0.0.6 / ::6 as the proxy to the original
 * destination.  At most ST_FLOW_MAX_LEGS legs; the sidecar's source
 * ports are fixed (45001 upstream, 45002 passthrough).
 *
 * Return: 0, or a negative errno.
 */
int st_eval_flow(const struct st_eval_env *env, const struct st_simspec *spec,
		 struct st_eval_result *res, char *err);

/** st_eval_verdict_name() - "sent", "local", "dropped", ... */
const char *st_eval_verdict_name(enum st_eval_verdict v);

#endif /* ST_EVAL_H */
