// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-plan.c - which tables, chains and rules of an iptables ruleset
 * are instrumented (instrument.h, "What is inserted"), with rules numbered
 * as before any session; and the summary of rules that get no hit rule.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"
#include "istio.h"
#include "logplan.h"

enum st_family st_plan_fam(const struct st_chain *c)
{
	return c->family == ST_FAMILY_IPV6 ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4;
}

enum st_tclass st_plan_tclass(const char *table)
{
	if (strcmp(table, "nat") == 0)
		return ST_TC_NAT;
	if (strcmp(table, "raw") == 0)
		return ST_TC_RAW;
	return ST_TC_OTHER;
}

bool st_plan_table_involved(const struct st_ruleset *rs, const char *table,
			    enum st_family fam, unsigned int flags)
{
	if ((flags & ST_INSTR_F_SKIP_RAW) && st_plan_tclass(table) == ST_TC_RAW)
		return false;
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (st_plan_fam(c) == fam && strcmp(c->table, table) == 0 &&
		    st_istio_is_istio_chain(c->name))
			return true;
	}
	return false;
}

int st_plan_chain(const struct st_ruleset *rs, const struct st_chain *c,
		  struct st_split *sp, struct st_plan_rule **out,
		  unsigned int *nown, char *err)
{
	struct st_plan_rule *ri = NULL;
	unsigned int own = 0;
	int ret = 0;

	*out = NULL;
	*nown = 0;
	ri = calloc(c->nrules ? c->nrules : 1, sizeof(*ri));
	if (ri == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (unsigned int i = 0; i < c->nrules; i++) {
		const struct st_rule *r = st_ruleset_rule(rs, c->first + i);

		ri[i].r = r;
		if (r == NULL || r->text == NULL) {
			ret = st_err(err, EINVAL,
				     "%s %s rule %u: no rule text to copy",
				     c->table, c->name, i + 1);
			goto out;
		}
		ret = st_split_rule(r->text, strlen(r->text), sp);
		if (ret < 0) {
			ret = st_err(err, -ret,
				     "%s %s rule %u: cannot split '%s'",
				     c->table, c->name, i + 1, r->text);
			goto out;
		}
		if (sp->session_rule) {
			ri[i].session = true;
			ri[i].sess = sp->session;
			continue;
		}
		ri[i].orig = ++own;
		ri[i].skip = sp->stateful;
		for (unsigned int m = 0; ri[i].skip == NULL && m < r->nmatches;
		     m++)
			if (r->matches[m].kind == ST_M_STATEFUL)
				ri[i].skip = "stateful match";
	}
	*out = ri;
	ri = NULL;
	*nown = own;
out:
	free(ri);
	return ret;
}

bool st_plan_selected(const char *name, bool builtin, unsigned int nown,
		      unsigned int flags)
{
	if (st_istio_is_istio_chain(name))
		return true;
	return builtin && (nown > 0 || (flags & ST_INSTR_F_ALL_BUILTIN));
}

void st_plan_skip(struct st_instr_summary *sum, const char *table,
		  const char *chain, unsigned int rule, const char *why)
{
	size_t used = strlen(sum->skipped);

	sum->nskipped++;
	if (used + 1 < sizeof(sum->skipped))
		snprintf(sum->skipped + used, sizeof(sum->skipped) - used,
			 "%s%s %s %u (%s)", used ? "; " : "", table, chain,
			 rule, why);
}

/* ---- full or minimal ---------------------------------------------------- */

static long st_plan_chain_index(const struct st_ruleset *rs, const char *table,
				const char *chain, enum st_family fam)
{
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (strcmp(c->name, chain) == 0 &&
		    strcmp(c->table, table) == 0 &&
		    (fam == ST_FAMILY_ANY || c->family == ST_FAMILY_ANY ||
		     c->family == fam))
			return (long)i;
	}
	return -1;
}

/* Would the plan miss a hit record that the instrumenter leaves out? */
static bool st_plan_counts_on(const struct st_plan_mode *pm, long ci,
			      unsigned int rule)
{
	return ci < 0 || !st_logplan_enter(pm->lp, (size_t)ci) ||
	       !st_logplan_hit(pm->lp, (size_t)ci, rule);
}

static void st_plan_full(struct st_plan_mode *pm)
{
	st_logplan_free(pm->lp);
	pm->lp = NULL;
}

int st_plan_mode_ipt(const struct st_ruleset *rs, enum st_family fam,
		     unsigned int flags, struct st_plan_mode *pm, char *err)
{
	struct st_split *sp = NULL;
	int ret = 0;

	memset(pm, 0, sizeof(*pm));
	pm->rs = rs;
	if (flags & ST_INSTR_F_FULL)
		return 0;
	pm->lp = st_logplan_new(rs, err);
	if (pm->lp == NULL)
		return -ENOMEM;
	sp = malloc(sizeof(*sp));
	if (sp == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; pm->lp != NULL && i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		struct st_plan_rule *ri = NULL;
		unsigned int nown = 0;

		if (st_plan_fam(c) != fam ||
		    !st_plan_table_involved(rs, c->table, fam, flags))
			continue;
		ret = st_plan_chain(rs, c, sp, &ri, &nown, err);
		if (ret < 0)
			goto out;
		if (st_plan_selected(c->name, c->builtin, nown, flags)) {
			for (unsigned int k = 0; k < c->nrules; k++)
				if (ri[k].session ||
				    (ri[k].skip != NULL &&
				     st_plan_counts_on(pm, (long)i,
						       ri[k].orig))) {
					st_plan_full(pm);
					break;
				}
		}
		free(ri);
	}
out:
	free(sp);
	if (ret < 0)
		st_plan_mode_free(pm);
	return ret;
}

int st_plan_mode_nft(const struct st_nft_model *m, unsigned int flags,
		     struct st_plan_mode *pm, char *err)
{
	char *text = NULL;
	int ret = 0;

	memset(pm, 0, sizeof(*pm));
	if (flags & ST_INSTR_F_FULL)
		return 0;
	text = json_dumps(m->root, JSON_COMPACT);
	pm->own = st_ruleset_new();
	if (text == NULL || pm->own == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	pm->rs = pm->own;
	ret = st_rules_load_buf(pm->own, text, strlen(text), "nft ruleset",
				err);
	if (ret < 0)
		goto out;
	pm->lp = st_logplan_new(pm->rs, err);
	if (pm->lp == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; pm->lp != NULL && i < m->nchains; i++) {
		const struct st_nft_chain *c = &m->chains[i];
		const struct st_nft_table *t = &m->tables[c->table];
		long ci;
		unsigned int orig = 0;

		if (!st_nft_chain_selected(m, c, flags))
			continue;
		ci = st_plan_chain_index(pm->rs, t->name, c->name,
					 ST_FAMILY_ANY);
		for (size_t k = 0; pm->lp != NULL && k < c->nrules; k++) {
			json_t *r = c->rules[k];

			if (st_nft_rule_session(r, NULL)) {
				st_plan_full(pm);
				break;
			}
			orig++;
			if ((st_nft_copyable(r, NULL) != NULL ||
			     json_integer_value(json_object_get(r, "handle")) <=
				     0) &&
			    st_plan_counts_on(pm, ci, orig))
				st_plan_full(pm);
		}
	}
out:
	free(text);
	if (ret < 0)
		st_plan_mode_free(pm);
	return ret;
}

void st_plan_mode_free(struct st_plan_mode *pm)
{
	if (pm == NULL)
		return;
	st_logplan_free(pm->lp);
	st_ruleset_free(pm->own);
	memset(pm, 0, sizeof(*pm));
}

bool st_plan_logs(const struct st_plan_mode *pm, const char *table,
		  const char *chain, enum st_family fam, enum st_hit_kind kind,
		  unsigned int rule)
{
	long ci;

	if (pm == NULL || pm->lp == NULL)
		return true;
	ci = st_plan_chain_index(pm->rs, table, chain, fam);
	if (ci < 0)
		return true;
	if (kind == ST_HIT_ENTER)
		return st_logplan_enter(pm->lp, (size_t)ci);
	if (kind == ST_HIT_RULE)
		return st_logplan_hit(pm->lp, (size_t)ci, rule);
	return true;
}

int st_plan_tag(const struct st_plan_mode *pm, char *buf, enum st_hit_kind kind,
		const char *table, const char *chain, unsigned int rule,
		uint32_t session, char *err)
{
	return st_itag_make_mode(buf, kind, table, chain, rule, session,
				 pm != NULL && pm->lp != NULL, err);
}
