// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * walk.c - the chain index, and a first packet's walk through the chains
 * record by record (see walk-int.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "istio.h"
#include "walk-int.h"

/* ---- the chain index ------------------------------------------------- */

static enum fl_hook fl_hook_of(const char *s)
{
	static const struct {
		const char *name;
		enum fl_hook hook;
	} hooks[] = {
		{"prerouting", FL_HOOK_PRE},   {"input", FL_HOOK_IN},
		{"forward", FL_HOOK_FWD},      {"output", FL_HOOK_OUT},
		{"postrouting", FL_HOOK_POST},
	};

	if (s == NULL)
		return FL_HOOK_NONE;
	for (size_t i = 0; i < ST_ARRAY_SIZE(hooks); i++)
		if (strcasecmp(s, hooks[i].name) == 0)
			return hooks[i].hook;
	return FL_HOOK_NONE;
}

static uint32_t fl_chain_hash(const char *table, const char *name)
{
	uint32_t h = ST_FNV32_INIT;

	h = st_fnv32(h, table, strlen(table) + 1);
	return st_fnv32(h, name, strlen(name));
}

const struct fl_chain *fl_chain_find(const struct fl_chains *ci,
				     const char *table, const char *name,
				     unsigned int family)
{
	size_t i = fl_chain_hash(table, name) & ci->mask;

	for (; ci->hash[i] != 0; i = (i + 1) & ci->mask) {
		const struct fl_chain *c = &ci->chains[ci->hash[i] - 1];

		if (strcmp(c->name, name) != 0 || strcmp(c->table, table) != 0)
			continue;
		if (family != ST_FAMILY_ANY && c->family != ST_FAMILY_ANY &&
		    (unsigned int)c->family != family)
			continue;
		return c;
	}
	return NULL;
}

const struct fl_chain *fl_chain_of_hit(struct fl_chains *ci,
				       const struct st_hit *hit,
				       unsigned int family)
{
	const struct fl_chain *c = NULL;
	size_t slot = (size_t)hit->id * 2 + (family == 6);

	if (hit->id == 0 || hit->id_space == 0)
		return fl_chain_find(ci, hit->table, hit->chain, family);
	if (hit->id_space != ci->id_space) {
		ci->id_space = hit->id_space;
		if (ci->by_id != NULL)
			memset(ci->by_id, 0, ci->nby_id * sizeof(*ci->by_id));
	}
	if (slot < ci->nby_id && ci->by_id[slot] != NULL)
		return ci->by_id[slot];
	c = fl_chain_find(ci, hit->table, hit->chain, family);
	if (c == NULL)
		return NULL;
	if (slot >= ci->nby_id) {
		size_t n = ci->nby_id ? ci->nby_id : 64;
		const struct fl_chain **v = NULL;

		while (n <= slot)
			n *= 2;
		v = realloc(ci->by_id, n * sizeof(*v));
		if (v == NULL)
			return c; /* found all the same, just not kept */
		memset(v + ci->nby_id, 0, (n - ci->nby_id) * sizeof(*v));
		ci->by_id = v;
		ci->nby_id = n;
	}
	ci->by_id[slot] = c;
	return c;
}

/* raw: named so, or every base chain hooks in before conntrack (-200). */
static bool fl_table_is_raw(const struct st_ruleset *rs, const char *table)
{
	bool any = false;

	if (strcmp(table, "raw") == 0)
		return true;
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (c == NULL || strcmp(c->table, table) != 0 || !c->builtin)
			continue;
		if (c->prio >= -200)
			return false;
		any = true;
	}
	return any;
}

int fl_chains_index(struct fl_chains *ci, const struct st_ruleset *rs,
		    char *err)
{
	size_t nrules = st_ruleset_nrules(rs);

	ci->nchains = st_ruleset_nchains(rs);
	ci->chains = calloc(ci->nchains ? ci->nchains : 1, sizeof(*ci->chains));
	ci->rules = calloc(nrules ? nrules : 1, sizeof(*ci->rules));
	ci->mask = st_pow2(ci->nchains * 2 + 1) - 1;
	ci->hash = calloc(ci->mask + 1, sizeof(*ci->hash));
	if (ci->chains == NULL || ci->rules == NULL || ci->hash == NULL)
		return st_err(err, ENOMEM, "flow table: out of memory");
	ci->plan = st_logplan_new(rs, err);
	if (ci->plan == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ci->nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		struct fl_chain *fc = &ci->chains[i];
		size_t h = 0;

		if (c == NULL || c->first + (size_t)c->nrules > nrules)
			return st_err(err, EINVAL,
				      "flow table: inconsistent ruleset");
		fc->table = c->table;
		fc->name = c->name;
		fc->family = c->family;
		fc->builtin = c->builtin;
		fc->istio = st_istio_is_istio_chain(c->name);
		fc->raw = fl_table_is_raw(rs, c->table);
		fc->hook = fl_hook_of(c->hook != NULL ? c->hook : c->name);
		fc->nrules = c->nrules;
		fc->rules = &ci->rules[c->first];
		for (unsigned int k = 0; k < c->nrules; k++) {
			const struct st_rule *r =
				st_ruleset_rule(rs, c->first + k);

			if (r == NULL || strcmp(r->chain, c->name) != 0 ||
			    r->number != k + 1)
				r = st_ruleset_find_rule(rs, c->table, c->name,
							 c->family, k + 1);
			if (r == NULL)
				return st_err(err, EINVAL,
					      "flow table: no rule %u in %s:%s",
					      k + 1, c->table, c->name);
			fc->rules[k] = r;
		}
		h = fl_chain_hash(fc->table, fc->name) & ci->mask;
		while (ci->hash[h] != 0)
			h = (h + 1) & ci->mask;
		ci->hash[h] = i + 1;
	}
	return 0;
}

void fl_chains_release(struct fl_chains *ci)
{
	if (ci == NULL)
		return;
	free(ci->chains);
	free(ci->rules);
	free(ci->hash);
	st_logplan_free(ci->plan);
	free(ci->by_id);
	memset(ci, 0, sizeof(*ci));
}

/* ---- the walk -------------------------------------------------------- */

void fl_why(struct st_flow_leg *l, const struct fl_walk *w, const char *fmt,
	    ...)
{
	va_list ap;

	(void)w;
	if (l->incomplete)
		return;
	l->incomplete = true;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
}

static struct fl_seen *fl_seen_find(struct fl_walk *w, const struct fl_chain *c)
{
	for (unsigned int i = 0; i < w->nseen; i++)
		if (w->seen[i].c == c)
			return &w->seen[i];
	return NULL;
}

static unsigned int fl_pos(enum st_hit_kind kind, unsigned int rule)
{
	if (kind == ST_HIT_ENTER)
		return 0;
	if (kind == ST_HIT_RULE)
		return rule;
	return UINT_MAX;
}

bool fl_is_later(struct fl_walk *w, const struct fl_chain *c,
		 enum st_hit_kind kind, unsigned int rule)
{
	const struct fl_seen *s = NULL;

	if (!c->builtin)
		return false;
	s = fl_seen_find(w, c);
	return s != NULL && (s->done || fl_pos(kind, rule) <= s->pos);
}

void fl_seen_note(struct fl_walk *w, const struct fl_chain *c,
		  enum st_hit_kind kind, unsigned int rule)
{
	struct fl_seen *s = NULL;

	if (!c->builtin)
		return;
	s = fl_seen_find(w, c);
	if (s == NULL) {
		if (w->nseen == FL_MAX_SEEN)
			return;
		s = &w->seen[w->nseen++];
		s->c = c;
		s->done = false;
	}
	s->pos = fl_pos(kind, rule);
}

void fl_seen_done(struct fl_walk *w, const struct fl_chain *c)
{
	struct fl_seen *s = fl_seen_find(w, c);

	if (s != NULL)
		s->done = true;
}

static void fl_walk_pop(struct fl_walk *w)
{
	if (w->depth == 0)
		return;
	if (w->depth == 1)
		fl_seen_done(w, w->frames[0]);
	w->depth--;
}

static void fl_walk_end(struct fl_walk *w)
{
	if (w->depth > 0)
		fl_seen_done(w, w->frames[0]);
	w->depth = 0;
}

static void fl_walk_push(struct fl_walk *w, struct st_flow_leg *l,
			 const struct fl_chain *c)
{
	if (w->depth == FL_MAX_DEPTH) {
		if (!w->broken)
			fl_why(l, w, "calls nested deeper than %d at %s:%s",
			       FL_MAX_DEPTH, c->table, c->name);
		w->broken = true;
		return;
	}
	w->frames[w->depth++] = c;
}

#define fl_broken(w, l, ...)                   \
	do {                                   \
		fl_why((l), (w), __VA_ARGS__); \
		(w)->broken = true;            \
	} while (0)

/* The record is in chain @c: make @c the current frame, checking order. */
static void fl_walk_enter(struct fl_walk *w, struct st_flow_leg *l,
			  const struct fl_chain *c, enum st_hit_kind kind,
			  bool trace)
{
	const struct fl_chain *top = NULL;

	if (w->pending != NULL) {
		const struct fl_chain *p = w->pending;
		bool go = w->pending_goto;

		w->pending = NULL;
		w->pending_goto = false;
		if (p == c) {
			if (!trace && kind != ST_HIT_ENTER)
				fl_broken(w, l, "no entry record of %s:%s",
					  c->table, c->name);
			if (go)
				fl_walk_pop(w);
			fl_walk_push(w, l, c);
			return;
		}
		if (p->istio || p->builtin) {
			fl_broken(w, l, "jump to %s:%s without its records",
				  p->table, p->name);
		} else if (go) {
			/* Not instrumented; a goto returns to our caller. */
			fl_walk_pop(w);
		}
	}
	top = w->depth > 0 ? w->frames[w->depth - 1] : NULL;
	if (top == c) {
		if (kind == ST_HIT_ENTER)
			fl_broken(w, l, "%s:%s entered twice", c->table,
				  c->name);
		return;
	}
	if (top == NULL) {
		if (!c->builtin)
			fl_broken(w, l, "%s:%s reached without a caller",
				  c->table, c->name);
		else if (!trace && kind != ST_HIT_ENTER)
			fl_broken(w, l, "no entry record of %s:%s", c->table,
				  c->name);
		fl_walk_push(w, l, c);
		return;
	}
	for (unsigned int i = w->depth; i > 0; i--) {
		if (w->frames[i - 1] == c) {
			fl_broken(w, l, "%s:%s left without its last record",
				  top->table, top->name);
			w->depth = i;
			return;
		}
	}
	fl_broken(w, l, "%s:%s left without its last record", top->table,
		  top->name);
	fl_walk_end(w);
	fl_walk_push(w, l, c);
}

void fl_walk_step(const struct fl_chains *ci, struct fl_walk *w,
		  struct st_flow_leg *l, const struct fl_chain *c,
		  enum st_hit_kind kind, const struct st_rule *r, bool trace)
{
	fl_walk_enter(w, l, c, kind, trace);
	switch (kind) {
	case ST_HIT_ENTER:
		break;
	case ST_HIT_RETURN:
		fl_walk_pop(w);
		break;
	case ST_HIT_POLICY:
		if (w->depth > 1)
			fl_broken(w, l, "policy of %s:%s inside a call",
				  c->table, c->name);
		fl_walk_end(w);
		break;
	case ST_HIT_RULE:
		switch (r->target.kind) {
		case ST_T_JUMP:
		case ST_T_GOTO:
			w->pending = r->target.chain != NULL
					     ? fl_chain_find(ci, c->table,
							     r->target.chain,
							     c->family)
					     : NULL;
			w->pending_goto = r->target.kind == ST_T_GOTO;
			break;
		case ST_T_RETURN:
			fl_walk_pop(w);
			break;
		default:
			if (st_target_is_verdict(r->target.kind))
				fl_walk_end(w);
			break;
		}
		break;
	default:
		break;
	}
}

/* ---- what minimal instrumentation left out --------------------------- */

static size_t fl_chain_index(const struct fl_chains *ci,
			     const struct fl_chain *c)
{
	return (size_t)(c - ci->chains);
}

unsigned int fl_walk_implied(const struct fl_chains *ci,
			     const struct fl_walk *w, const struct fl_chain *c,
			     enum st_hit_kind kind, struct fl_implied *out)
{
	const struct fl_chain *top =
		w->depth > 0 ? w->frames[w->depth - 1] : NULL;
	const struct fl_chain *path[FL_MAX_DEPTH];
	unsigned int via[FL_MAX_DEPTH];
	const struct fl_chain *cur = c;
	unsigned int npath = 0, n = 0;
	bool enter = false;

	if (ci->plan == NULL || (c == top && w->pending == NULL))
		return 0;
	/*
	 * Up from @c through the one rule that jumps to each solo chain,
	 * to the chain the walk stands in, the one it jumped to, or the
	 * built-in chain where a new traversal begins.
	 */
	for (;;) {
		size_t caller = 0;
		unsigned int rule = 0;

		if (w->pending != NULL) {
			if (cur == w->pending) {
				enter = true;
				break;
			}
			if (cur == top)
				return 0;
		} else if (cur == top) {
			break;
		}
		if (cur->builtin) {
			if (w->depth > 0 || w->pending != NULL)
				return 0;
			enter = true;
			break;
		}
		if (npath == FL_MAX_DEPTH ||
		    !st_logplan_solo(ci->plan, fl_chain_index(ci, cur), &caller,
				     &rule) ||
		    caller >= ci->nchains)
			return 0;
		path[npath] = cur;
		via[npath] = rule;
		npath++;
		cur = &ci->chains[caller];
	}
	if (enter && !st_logplan_enter(ci->plan, fl_chain_index(ci, cur)) &&
	    !(npath == 0 && kind == ST_HIT_ENTER))
		out[n++] = (struct fl_implied){cur, ST_HIT_ENTER, 0};
	for (unsigned int i = npath; i > 0; i--) {
		out[n++] = (struct fl_implied){cur, ST_HIT_RULE, via[i - 1]};
		cur = path[i - 1];
		if (i > 1 || kind != ST_HIT_ENTER)
			out[n++] = (struct fl_implied){cur, ST_HIT_ENTER, 0};
	}
	return n;
}

void fl_walk_first(const struct fl_chains *ci, const struct fl_walk *w,
		   const struct fl_chain **c, enum st_hit_kind *kind,
		   unsigned int *rule)
{
	static const struct fl_walk fresh;
	struct fl_implied im[FL_MAX_IMPLIED];

	if (fl_walk_implied(ci, w != NULL ? w : &fresh, *c, *kind, im) == 0)
		return;
	*c = im[0].c;
	*kind = im[0].kind;
	*rule = im[0].rule;
}
