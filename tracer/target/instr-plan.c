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
