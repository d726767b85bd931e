/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * logplan.h - which hit records minimal instrumentation inserts, and which
 * it leaves out because the walk can be told without them.
 *
 * A first packet's walk through a chain is decided by the rule that ends
 * it (a verdict, RETURN, goto) or by the fall-through.  Full
 * instrumentation logs the entry of every chain, a record before every
 * rule and the policy/return; minimal instrumentation leaves out
 *   - the entry record of a chain that is "closed": every way out of it
 *     leaves a record of its own (every rule that can end the walk has its
 *     hit record, and the fall-through has the policy/return record), so
 *     that its first record, whatever it is, says the walk entered it;
 *   - the hit record of a rule that jumps to a "solo" chain: an Istio user
 *     chain that is closed and is jumped to (not gone to) from this one
 *     rule only, so that any record in it says this rule jumped there.
 * Every policy/return record and every other hit record is kept.  Both the
 * instrumenter (what to insert) and the flow table (which hops to fill in
 * before a record of minimal instrumentation) ask this plan, made from the
 * same rules, so that the filled walk is the walk full instrumentation
 * would have logged.
 */
#ifndef ST_LOGPLAN_H
#define ST_LOGPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

struct st_logplan;

/**
 * st_logplan_new() - the plan of @rs; its chains are those of @rs, by
 * index (st_ruleset_chain()).  Return: the plan, or NULL (@err set).
 */
struct st_logplan *st_logplan_new(const struct st_ruleset *rs, char *err);

/** st_logplan_free() - release a plan; accepts NULL. */
void st_logplan_free(struct st_logplan *p);

/** st_logplan_enter() - does chain @ci keep its entry record? */
bool st_logplan_enter(const struct st_logplan *p, size_t ci);

/** st_logplan_hit() - does rule @rule (1-based) of chain @ci keep its hit? */
bool st_logplan_hit(const struct st_logplan *p, size_t ci, unsigned int rule);

/**
 * st_logplan_solo() - is chain @ci solo; if so, @caller and @rule name the
 * one rule that jumps to it.
 */
bool st_logplan_solo(const struct st_logplan *p, size_t ci, size_t *caller,
		     unsigned int *rule);

#endif
