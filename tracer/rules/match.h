/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * match.h - whether one concrete packet matches a rule, with the kernel's
 * semantics: what reach.c decides for classes of packets, for one packet.
 *
 *   - an address match of the other family never matches, negated or not
 *     (nft's "ip daddr" implies the family; iptables rules have one);
 *   - interface names compare whole, "eth+" matches every name that starts
 *     with "eth"; a packet with no such interface has the name "";
 *   - a port match implies its protocol, and never matches a packet
 *     without ports;
 *   - owner: xt_owner's negated match is true for a packet without a
 *     socket, nft's "meta skuid != X" is not (doc/ISTIO-RULES.md,
 *     item 11 of "Things a parser or tracer must not assume");
 *   - marks compare (mark & mask) == value;
 *   - ctstate: a bit set of the packet's state (a first packet is NEW);
 *     the SNAT/DNAT pseudo states, -m socket, statistic, limit and
 *     unknown matches cannot be decided from one packet.
 */
#ifndef ST_MATCH_H
#define ST_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"

/* One packet as a hook sees it. */
struct st_match_pkt {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* IPPROTO_* */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	char iif[ST_IFNAMSIZ + 1]; /* "" when none (locally generated) */
	char oif[ST_IFNAMSIZ + 1]; /* "" when none (before routing) */
	bool has_sock;		   /* a full socket: uid and gid are valid */
	uint32_t uid;
	uint32_t gid;
	uint32_t mark;
	uint32_t connmark;
	uint32_t ctstate; /* ST_CT_* bits */
};

enum st_match_result {
	ST_MATCH_UNKNOWN = -1, /* cannot be decided for this packet */
	ST_MATCH_NO = 0,
	ST_MATCH_YES = 1,
};

/**
 * st_match_ifname() - does interface @name match the rule's @pat
 * ("eth0", or "eth+" for every name starting with "eth")?
 */
bool st_match_ifname(const char *name, const char *pat);

/** st_match_has_ports() - does @proto carry ports (tcp, udp, sctp...)? */
bool st_match_has_ports(uint8_t proto);

/**
 * st_match_one() - does @p match the single condition @m?
 * @m: the condition
 * @p: the packet
 * @nft: native nftables semantics (owner matches on socketless packets)
 *
 * Return: ST_MATCH_YES, ST_MATCH_NO or ST_MATCH_UNKNOWN.
 */
enum st_match_result st_match_one(const struct st_match *m,
				  const struct st_match_pkt *p, bool nft);

/**
 * st_match_rule() - does @p match every condition of @r?
 * @r: the rule (a rule of the other family never matches)
 * @p: the packet
 * @nft: as for st_match_one()
 * @which: when not NULL and the result is ST_MATCH_UNKNOWN, the index of
 *         the first condition that could not be decided
 *
 * A condition that fails decides the rule even when an earlier one is
 * unknown, as the kernel stops at the first mismatch of any of them.
 *
 * Return: ST_MATCH_YES, ST_MATCH_NO or ST_MATCH_UNKNOWN.
 */
enum st_match_result st_match_rule(const struct st_rule *r,
				   const struct st_match_pkt *p, bool nft,
				   unsigned int *which);

#endif /* ST_MATCH_H */
