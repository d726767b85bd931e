/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rules-int.h - building a ruleset.  For the parsers (iptsave.c,
 * nftjson.c) and tests only; everyone else reads through rules.h.
 */
#ifndef ST_RULES_INT_H
#define ST_RULES_INT_H

#include "rules.h"

/** st_ruleset_set_backend() - record which backend the input came from. */
void st_ruleset_set_backend(struct st_ruleset *rs, enum st_backend b);

/**
 * st_ruleset_intern() - a copy of @s owned by @rs, shared between equal
 * strings (table and chain names).
 * Return: the copy, or NULL when out of memory.
 */
const char *st_ruleset_intern(struct st_ruleset *rs, const char *s);

/**
 * st_ruleset_add_chain() - declare a chain; declaring it twice returns the
 * existing one.  @policy may be NULL (user chain).
 * Return: the chain, or NULL when out of memory.
 */
struct st_chain *st_ruleset_add_chain(struct st_ruleset *rs, const char *table,
				      const char *name, enum st_family family,
				      const char *policy);

/**
 * st_ruleset_add_rule() - append a zeroed rule to a chain (declared with
 * st_ruleset_add_chain() first); its table, chain, family and number are
 * set, the rest is for the caller to fill.  Strings put into the rule
 * (text, why, match and target text, target chain) must be malloc'd: the
 * ruleset frees them.
 * Return: the rule, or NULL when out of memory or the chain is unknown.
 */
struct st_rule *st_ruleset_add_rule(struct st_ruleset *rs, const char *table,
				    const char *chain, enum st_family family);

/**
 * st_rule_add_match() - append a zeroed match of @kind to @r.
 * Return: the match, or NULL when out of memory.
 */
struct st_match *st_rule_add_match(struct st_rule *r, enum st_match_kind kind);

/** st_ruleset_add_warning() - keep a non-rule note of the input. */
int st_ruleset_add_warning(struct st_ruleset *rs, const char *text);

/** st_iptsave_parse() - parse iptables-save text into @rs (iptsave.c). */
int st_iptsave_parse(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err);

/** st_nftjson_parse() - parse `nft -j list ruleset` into @rs (nftjson.c). */
int st_nftjson_parse(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err);

#endif /* ST_RULES_INT_H */
