// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * logplan.c - which hit records minimal instrumentation keeps (logplan.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "istio.h"
#include "logplan.h"

struct lp_chain {
	bool closed;
	bool solo;
	unsigned int refs; /* rules that jump or go to it */
	size_t caller;	   /* the last of them */
	unsigned int rule;
	bool by_goto;
	unsigned int first; /* its first rule in lp_plan's rule flags */
	unsigned int nrules;
};

struct st_logplan {
	size_t nchains;
	struct lp_chain *chains;
	bool *nohit; /* [rule index]: the hit record is left out */
};

static bool lp_stateful(const struct st_rule *r)
{
	for (unsigned int m = 0; m < r->nmatches; m++)
		if (r->matches[m].kind == ST_M_STATEFUL)
			return true;
	return false;
}

/* Rule @k (0-based) of @c, as the flow table's chain index finds it. */
static const struct st_rule *lp_rule(const struct st_ruleset *rs,
				     const struct st_chain *c, unsigned int k)
{
	const struct st_rule *r = st_ruleset_rule(rs, c->first + k);

	if (r == NULL || strcmp(r->chain, c->name) != 0 || r->number != k + 1)
		r = st_ruleset_find_rule(rs, c->table, c->name, c->family,
					 k + 1);
	return r;
}

static long lp_find(const struct st_ruleset *rs, const struct st_chain *from,
		    const char *name)
{
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (strcmp(c->name, name) == 0 &&
		    strcmp(c->table, from->table) == 0 &&
		    (c->family == from->family || c->family == ST_FAMILY_ANY ||
		     from->family == ST_FAMILY_ANY))
			return (long)i;
	}
	return -1;
}

struct st_logplan *st_logplan_new(const struct st_ruleset *rs, char *err)
{
	struct st_logplan *p = NULL;
	size_t nrules = 0;

	if (rs == NULL) {
		st_err(err, EINVAL, "log plan: no rules");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto oom;
	p->nchains = st_ruleset_nchains(rs);
	nrules = st_ruleset_nrules(rs);
	p->chains = calloc(p->nchains ? p->nchains : 1, sizeof(*p->chains));
	p->nohit = calloc(nrules ? nrules : 1, sizeof(*p->nohit));
	if (p->chains == NULL || p->nohit == NULL)
		goto oom;
	/* Closed: no rule that the instrumenter cannot copy (stateful). */
	for (size_t i = 0; i < p->nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		struct lp_chain *lc = &p->chains[i];

		lc->first = c->first;
		lc->nrules = c->nrules;
		lc->closed = c->first + (size_t)c->nrules <= nrules;
		for (unsigned int k = 0; lc->closed && k < c->nrules; k++) {
			const struct st_rule *r = lp_rule(rs, c, k);

			if (r == NULL || lp_stateful(r))
				lc->closed = false;
		}
	}
	for (size_t i = 0; i < p->nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		for (unsigned int k = 0; k < p->chains[i].nrules; k++) {
			const struct st_rule *r = lp_rule(rs, c, k);
			long t;

			if (r == NULL ||
			    (r->target.kind != ST_T_JUMP &&
			     r->target.kind != ST_T_GOTO) ||
			    r->target.chain == NULL)
				continue;
			t = lp_find(rs, c, r->target.chain);
			if (t < 0)
				continue;
			p->chains[t].refs++;
			p->chains[t].caller = i;
			p->chains[t].rule = k + 1;
			p->chains[t].by_goto =
				r->target.kind == ST_T_GOTO || lp_stateful(r);
		}
	}
	for (size_t i = 0; i < p->nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		struct lp_chain *lc = &p->chains[i];
		const struct st_chain *caller = NULL;

		if (c->builtin || !st_istio_is_istio_chain(c->name) ||
		    !lc->closed || lc->refs != 1 || lc->by_goto)
			continue;
		/* The caller is instrumented: an Istio or a built-in chain. */
		caller = st_ruleset_chain(rs, lc->caller);
		if (!caller->builtin && !st_istio_is_istio_chain(caller->name))
			continue;
		lc->solo = true;
		p->nohit[caller->first + lc->rule - 1] = true;
	}
	return p;
oom:
	st_err(err, ENOMEM, "log plan: out of memory");
	st_logplan_free(p);
	return NULL;
}

void st_logplan_free(struct st_logplan *p)
{
	if (p == NULL)
		return;
	free(p->chains);
	free(p->nohit);
	free(p);
}

bool st_logplan_enter(const struct st_logplan *p, size_t ci)
{
	return p == NULL || ci >= p->nchains || !p->chains[ci].closed;
}

bool st_logplan_hit(const struct st_logplan *p, size_t ci, unsigned int rule)
{
	const struct lp_chain *lc = NULL;

	if (p == NULL || ci >= p->nchains)
		return true;
	lc = &p->chains[ci];
	if (rule == 0 || rule > lc->nrules)
		return true;
	return !p->nohit[lc->first + rule - 1];
}

bool st_logplan_solo(const struct st_logplan *p, size_t ci, size_t *caller,
		     unsigned int *rule)
{
	if (p == NULL || ci >= p->nchains || !p->chains[ci].solo)
		return false;
	if (caller != NULL)
		*caller = p->chains[ci].caller;
	if (rule != NULL)
		*rule = p->chains[ci].rule;
	return true;
}
