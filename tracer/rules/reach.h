/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reach.h - which rules of a ruleset can ever match a packet.
 *
 * The analysis cuts packets into classes along the constants the rules
 * mention (interfaces, addresses, protocol, ports, socket owner, marks,
 * conntrack state), walks every base chain in order with the classes its
 * hook sees, and follows jumps.  It models what the kernel guarantees (a
 * 127/8 or ::1 destination leaves through lo; a packet without a socket
 * has neither uid nor gid) and the owner-match difference between the
 * iptables backends and native nftables (doc/ISTIO-RULES.md, item 11 of
 * "Things a parser or tracer must not assume").
 * Matches it cannot evaluate (statistic, limit, socket, unknown) "may or
 * may not match": they never make a later rule unreachable.
 */
#ifndef ST_REACH_H
#define ST_REACH_H

#include <stddef.h>

#include "rules.h"

/**
 * st_reach_analyze() - set every rule's reachable flag.
 * @rs: the parsed rules
 * @err: error buffer
 *
 * A rule no packet can reach and match gets reachable = false and in
 * rule->why a malloc'd sentence saying why, e.g. "never matches: every
 * packet leaving via lo, of gid 1337 already left at rules 3 (-o lo !
 * uid 1337) and 4 (uid 1337)".  Every other rule gets reachable = true
 * and its why freed and set to NULL.  When a table is too large to
 * analyse within the work budget, its rules are all left reachable.
 *
 * Return: 0, or -ENOMEM with @err filled.
 */
int st_reach_analyze(struct st_ruleset *rs, char *err);

/**
 * st_reach_rule_summary() - the conditions of @r in short iptables-like
 * form, e.g. "-o lo ! uid 1337", or "any packet" when it has none.
 * @r: the rule
 * @buf: output buffer, always NUL-terminated
 * @size: its size
 */
void st_reach_rule_summary(const struct st_rule *r, char *buf, size_t size);

#endif /* ST_REACH_H */
