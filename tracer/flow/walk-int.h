/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * walk-int.h - the flow stage's chain index and a first packet's walk
 * through the chains, as the flow table follows it record by record.
 *
 * Internal to tracer/flow: assemble.c keeps a struct fl_walk in every leg
 * and feeds it each record of the leg's first packet; the walk checks that
 * the records make one path through the rules (every call returns, every
 * chain is entered before its rules) and says why when they do not.
 */
#ifndef ST_FLOW_WALK_INT_H
#define ST_FLOW_WALK_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "flow.h"
#include "logplan.h"
#include "record.h"
#include "rules.h"

#define FL_MAX_DEPTH 8
#define FL_MAX_SEEN 16

enum fl_hook {
	FL_HOOK_NONE = 0,
	FL_HOOK_PRE,
	FL_HOOK_IN,
	FL_HOOK_FWD,
	FL_HOOK_OUT,
	FL_HOOK_POST,
};

/* A chain of the ruleset, indexed for O(1) lookup by name. */
struct fl_chain {
	const char *table;
	const char *name;
	enum st_family family;
	bool builtin;
	bool istio;
	bool raw; /* its table runs before conntrack */
	enum fl_hook hook;
	unsigned int nrules;
	const struct st_rule **rules; /* [number - 1] */
};

/* Every chain of a ruleset, with its rules by number. */
struct fl_chains {
	struct fl_chain *chains;
	size_t nchains;
	const struct st_rule **rules;
	size_t *hash; /* chain index + 1, 0 = empty */
	size_t mask;
	struct st_logplan *plan; /* what minimal instrumentation leaves out */
	/*
	 * Chains by the number of the tag that names them (st_hit.id, per
	 * family: [id * 2 + (family == 6)]), for the tags of @id_space.
	 */
	uint32_t id_space;
	const struct fl_chain **by_id;
	size_t nby_id;
};

/* A hop that minimal instrumentation left out (logplan.h). */
struct fl_implied {
	const struct fl_chain *c;
	enum st_hit_kind kind;
	unsigned int rule;
};

#define FL_MAX_IMPLIED (2 * FL_MAX_DEPTH + 1)

struct fl_seen {
	const struct fl_chain *c;
	unsigned int pos;
	bool done;
};

/* Where a leg's first walk stands. */
struct fl_walk {
	unsigned int depth;
	const struct fl_chain *frames[FL_MAX_DEPTH];
	const struct fl_chain *pending; /* jumped to, entry not seen yet */
	bool pending_goto;
	bool broken;
	bool nonraw; /* crossed a table other than raw */
	bool later;  /* a later packet has begun */
	bool lost;   /* records were lost while it was open */
	/*
	 * Records were lost just before its first one, and that one left
	 * hops to be filled in (minimal instrumentation): whatever it
	 * walked before may be among them, and no gap in the walk shows it.
	 */
	bool lost_before;
	bool stitch_tried;
	bool via_lo;   /* left over lo: it comes back in through prerouting */
	bool seen_pre; /* a record of a prerouting chain */
	/*
	 * Hooks that follow one another: a local packet that crossed output
	 * goes on to postrouting, an arriving one from prerouting to input.
	 */
	bool seen_out;
	bool seen_post;
	bool seen_prein;
	bool seen_in;
	unsigned int nseen;
	struct fl_seen seen[FL_MAX_SEEN];
};

/* Index the chains of @rs into @ci (zeroed by the caller). */
int fl_chains_index(struct fl_chains *ci, const struct st_ruleset *rs,
		    char *err);

/**
 * fl_chain_of_hit() - the chain a record's tag names (@family as for
 * fl_chain_find()), by the tag's number when it has one: a name is hashed
 * and compared once per tag, not per record.
 */
const struct fl_chain *fl_chain_of_hit(struct fl_chains *ci,
				       const struct st_hit *hit,
				       unsigned int family);

/* Free what fl_chains_index() allocated; @ci may be NULL. */
void fl_chains_release(struct fl_chains *ci);

/* The chain @table:@name of @family (ST_FAMILY_ANY: any), or NULL. */
const struct fl_chain *fl_chain_find(const struct fl_chains *ci,
				     const char *table, const char *name,
				     unsigned int family);

/**
 * fl_walk_implied() - the hops that minimal instrumentation left out before
 * a record (@c, @kind) of walk @w: the entry of a closed chain, the jump
 * into a solo chain and its entry, up to the chain the walk stands in (or
 * the built-in chain a new traversal begins in).  Return: how many were
 * put into @out (FL_MAX_IMPLIED), 0 when none are implied or the record
 * does not continue the walk (it then reports what is missing).
 */
unsigned int fl_walk_implied(const struct fl_chains *ci,
			     const struct fl_walk *w, const struct fl_chain *c,
			     enum st_hit_kind kind, struct fl_implied *out);

/**
 * fl_walk_first() - the first hop of a record of minimal instrumentation
 * (@c, @kind, @rule; replaced by the first implied hop, if any) for walk
 * @w, or NULL for a leg's first record: what tells a later packet.
 */
void fl_walk_first(const struct fl_chains *ci, const struct fl_walk *w,
		   const struct fl_chain **c, enum st_hit_kind *kind,
		   unsigned int *rule);

/* Mark @l incomplete with the first reason given (later ones are kept out). */
void fl_why(struct st_flow_leg *l, const struct fl_walk *w, const char *fmt,
	    ...) __st_printf(3, 4);

/* Does this record begin a later packet than the walk's? */
bool fl_is_later(struct fl_walk *w, const struct fl_chain *c,
		 enum st_hit_kind kind, unsigned int rule);

/* Note how far the walk got in built-in chain @c. */
void fl_seen_note(struct fl_walk *w, const struct fl_chain *c,
		  enum st_hit_kind kind, unsigned int rule);

/* The walk has left built-in chain @c. */
void fl_seen_done(struct fl_walk *w, const struct fl_chain *c);

/*
 * Follow the record (@c, @kind, rule @r) of the leg @l: enter @c, then
 * jump, return or end as the record says; @trace: a TRACE record, which
 * may land on a rule without the chain's entry record.
 */
void fl_walk_step(const struct fl_chains *ci, struct fl_walk *w,
		  struct st_flow_leg *l, const struct fl_chain *c,
		  enum st_hit_kind kind, const struct st_rule *r, bool trace);

#endif
