// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-verify.c - what the instrumented chains must read like.  Before
 * inserting, the live rules must still be those the caller analysed;
 * after inserting, every instrumented chain must read enter, (hit N, rule
 * N)..., policy/return, with exactly the rules inserted.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"
#include "istio.h"

/*
 * What an instrumented chain must read like, or what it reads like now:
 * one line per rule, ours as their tags, originals as their text (nft:
 * their handle); other sessions' rules are left out.  @post NULL: the
 * expected sequence for @pre instrumented with @o; else the actual one of
 * @post for the chains that @pre selects.  @ours counts this session's
 * rules anywhere in @post.
 */
static int st_verify_ipt_sequence(const struct st_ruleset *pre,
				  const struct st_ruleset *post,
				  enum st_family fam,
				  const struct st_instr_opts *o,
				  struct st_strbuf *b, unsigned int *ours,
				  char *err)
{
	struct st_split *sp = NULL;
	struct st_plan_rule *ri = NULL;
	struct st_plan_mode pm = {0};
	char tag[ST_NFLOG_PREFIX_SIZE];
	int ret = 0;

	if (ours != NULL)
		*ours = 0;
	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	if (post == NULL) {
		ret = st_plan_mode_ipt(pre, fam, o->flags, &pm, err);
		if (ret < 0)
			goto out;
	}
	for (size_t ci = 0; ci < st_ruleset_nchains(pre); ci++) {
		const struct st_chain *c = st_ruleset_chain(pre, ci);
		const struct st_chain *pc = NULL;
		unsigned int nown = 0;

		if (st_plan_fam(c) != fam ||
		    !st_plan_table_involved(pre, c->table, fam, o->flags))
			continue;
		free(ri);
		ri = NULL;
		ret = st_plan_chain(pre, c, sp, &ri, &nown, err);
		if (ret < 0)
			goto out;
		if (!st_plan_selected(c->name, c->builtin, nown, o->flags))
			continue;
		if (post == NULL) {
			ret = st_plan_tag(&pm, tag, ST_HIT_ENTER, c->table,
					  c->name, 0, o->session, err);
			if (ret < 0)
				goto out;
			if (st_plan_logs(&pm, c->table, c->name, c->family,
					 ST_HIT_ENTER, 0))
				st_strbuf_printf(b, "%s %s: %s\n", c->table,
						 c->name, tag);
			for (unsigned int i = 0; i < c->nrules; i++) {
				if (ri[i].session)
					continue;
				if (ri[i].skip == NULL &&
				    st_plan_logs(&pm, c->table, c->name,
						 c->family, ST_HIT_RULE,
						 ri[i].orig)) {
					ret = st_plan_tag(&pm, tag, ST_HIT_RULE,
							  c->table, c->name,
							  ri[i].orig,
							  o->session, err);
					if (ret < 0)
						goto out;
					st_strbuf_printf(b, "%s %s: %s\n",
							 c->table, c->name,
							 tag);
				}
				ret = st_split_rule(ri[i].r->text,
						    strlen(ri[i].r->text), sp);
				if (ret < 0)
					goto out;
				st_strbuf_printf(b, "%s %s: = ", c->table,
						 c->name);
				st_split_key(sp, b);
				st_strbuf_putn(b, "\n", 1);
			}
			ret = st_plan_tag(
				&pm, tag,
				c->builtin ? ST_HIT_POLICY : ST_HIT_RETURN,
				c->table, c->name, 0, o->session, err);
			if (ret < 0)
				goto out;
			st_strbuf_printf(b, "%s %s: %s\n", c->table, c->name,
					 tag);
			continue;
		}
		pc = st_ruleset_find_chain(post, c->table, c->name, fam);
		if (pc == NULL) {
			st_strbuf_printf(b, "%s %s: (chain missing)\n",
					 c->table, c->name);
			continue;
		}
		for (unsigned int i = 0; i < pc->nrules; i++) {
			const struct st_rule *r =
				st_ruleset_rule(post, pc->first + i);

			if (r == NULL || r->text == NULL ||
			    st_split_rule(r->text, strlen(r->text), sp) < 0) {
				st_strbuf_printf(b,
						 "%s %s: (unreadable rule)\n",
						 c->table, c->name);
				continue;
			}
			if (sp->session_rule && sp->session != o->session)
				continue;
			st_strbuf_printf(b, "%s %s: ", c->table, c->name);
			if (sp->session_rule) {
				if (sp->prefix > 0) {
					st_split_value(&sp->t[sp->prefix], tag,
						       sizeof(tag));
					st_strbuf_puts(b, tag);
				}
			} else {
				st_strbuf_puts(b, "= ");
				st_split_key(sp, b);
			}
			st_strbuf_putn(b, "\n", 1);
		}
	}
	if (post != NULL && ours != NULL) {
		for (size_t i = 0; i < st_ruleset_nrules(post); i++) {
			const struct st_rule *r = st_ruleset_rule(post, i);

			if (r->text != NULL &&
			    st_split_rule(r->text, strlen(r->text), sp) == 0 &&
			    sp->session_rule && sp->session == o->session)
				(*ours)++;
		}
	}
	if (b->oom)
		ret = st_err(err, ENOMEM, "out of memory");
out:
	st_plan_mode_free(&pm);
	free(ri);
	free(sp);
	return ret;
}

/* The selected chains of @rs and their original rules: what must match. */
int st_verify_ipt_describe(const struct st_ruleset *rs, enum st_family fam,
			   unsigned int flags, struct st_strbuf *b, char *err)
{
	struct st_split *sp = NULL;
	struct st_plan_rule *ri = NULL;
	int ret = 0;

	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t ci = 0; ci < st_ruleset_nchains(rs); ci++) {
		const struct st_chain *c = st_ruleset_chain(rs, ci);
		unsigned int nown = 0;

		if (st_plan_fam(c) != fam ||
		    !st_plan_table_involved(rs, c->table, fam, flags))
			continue;
		free(ri);
		ri = NULL;
		ret = st_plan_chain(rs, c, sp, &ri, &nown, err);
		if (ret < 0)
			goto out;
		if (!st_plan_selected(c->name, c->builtin, nown, flags))
			continue;
		for (unsigned int i = 0; i < c->nrules; i++) {
			if (ri[i].session)
				continue;
			ret = st_split_rule(ri[i].r->text,
					    strlen(ri[i].r->text), sp);
			if (ret < 0)
				goto out;
			st_strbuf_printf(b, "%s %s rule %u: ", c->table,
					 c->name, ri[i].orig);
			st_split_key(sp, b);
			st_strbuf_putn(b, "\n", 1);
		}
		if (ri != NULL && nown == 0)
			st_strbuf_printf(b, "%s %s: empty\n", c->table,
					 c->name);
	}
	if (b->oom)
		ret = st_err(err, ENOMEM, "out of memory");
out:
	free(ri);
	free(sp);
	return ret;
}

static int st_verify_nft_seq(const struct st_nft_model *pre,
			     const struct st_nft_model *post,
			     const struct st_plan_mode *pm,
			     const struct st_instr_opts *o, struct st_strbuf *b,
			     unsigned int *ours, char *err)
{
	char tag[ST_NFLOG_PREFIX_SIZE];
	int ret = 0;

	if (ours != NULL)
		*ours = 0;
	for (size_t ci = 0; ci < pre->nchains; ci++) {
		const struct st_nft_chain *c = &pre->chains[ci];
		const struct st_nft_table *t = &pre->tables[c->table];
		const struct st_nft_chain *pc = NULL;
		unsigned int orig = 0;

		if (!st_nft_chain_selected(pre, c, o->flags))
			continue;
		if (post == NULL) {
			ret = st_plan_tag(pm, tag, ST_HIT_ENTER, t->name,
					  c->name, 0, o->session, err);
			if (ret < 0)
				return ret;
			if (st_plan_logs(pm, t->name, c->name, ST_FAMILY_ANY,
					 ST_HIT_ENTER, 0))
				st_strbuf_printf(b, "%s %s: %s\n", t->name,
						 c->name, tag);
			for (size_t i = 0; i < c->nrules; i++) {
				json_t *r = c->rules[i];

				if (st_nft_rule_session(r, NULL))
					continue;
				orig++;
				if (st_nft_copyable(r, NULL) == NULL &&
				    st_plan_logs(pm, t->name, c->name,
						 ST_FAMILY_ANY, ST_HIT_RULE,
						 orig)) {
					ret = st_plan_tag(
						pm, tag, ST_HIT_RULE, t->name,
						c->name, orig, o->session, err);
					if (ret < 0)
						return ret;
					st_strbuf_printf(b, "%s %s: %s\n",
							 t->name, c->name, tag);
				}
				st_strbuf_printf(
					b,
					"%s %s: = #%" JSON_INTEGER_FORMAT "\n",
					t->name, c->name,
					json_integer_value(
						json_object_get(r, "handle")));
			}
			ret = st_plan_tag(pm, tag,
					  c->base ? ST_HIT_POLICY
						  : ST_HIT_RETURN,
					  t->name, c->name, 0, o->session, err);
			if (ret < 0)
				return ret;
			st_strbuf_printf(b, "%s %s: %s\n", t->name, c->name,
					 tag);
			continue;
		}
		pc = st_nft_chain_find(post, t->family, t->name, c->name);
		if (pc == NULL) {
			st_strbuf_printf(b, "%s %s: (chain missing)\n", t->name,
					 c->name);
			continue;
		}
		for (size_t i = 0; i < pc->nrules; i++) {
			json_t *r = pc->rules[i];
			uint32_t s;

			if (st_nft_rule_session(r, &s)) {
				const char *p = st_nft_rule_prefix(r);

				if (s == o->session)
					st_strbuf_printf(b, "%s %s: %s\n",
							 t->name, c->name,
							 p ? p : "");
				continue;
			}
			st_strbuf_printf(b,
					 "%s %s: = #%" JSON_INTEGER_FORMAT "\n",
					 t->name, c->name,
					 json_integer_value(
						 json_object_get(r, "handle")));
		}
	}
	if (post != NULL && ours != NULL)
		for (size_t ci = 0; ci < post->nchains; ci++)
			for (size_t i = 0; i < post->chains[ci].nrules; i++) {
				uint32_t s;

				if (st_nft_table_native(
					    &post->tables[post->chains[ci]
								  .table]) &&
				    st_nft_rule_session(
					    post->chains[ci].rules[i], &s) &&
				    s == o->session)
					(*ours)++;
			}
	if (b->oom)
		ret = st_err(err, ENOMEM, "out of memory");
	return ret;
}

/* The sequence of st_verify_nft_seq() in the session's mode. */
static int st_verify_nft_sequence(const struct st_nft_model *pre,
				  const struct st_nft_model *post,
				  const struct st_instr_opts *o,
				  struct st_strbuf *b, unsigned int *ours,
				  char *err)
{
	struct st_plan_mode pm = {0};
	int ret = 0;

	if (post == NULL) {
		ret = st_plan_mode_nft(pre, o->flags, &pm, err);
		if (ret < 0)
			return ret;
	}
	ret = st_verify_nft_seq(pre, post, &pm, o, b, ours, err);
	st_plan_mode_free(&pm);
	return ret;
}

/*
 * Do the instrumented chains of the live dump still hold the rules that
 * the caller analysed (nft: the same handles in the same order)?
 */
int st_verify_nft_compare(const struct st_ruleset *want,
			  const struct st_nft_model *live, unsigned int flags,
			  char *err)
{
	for (size_t ci = 0; ci < live->nchains; ci++) {
		const struct st_nft_chain *c = &live->chains[ci];
		const struct st_nft_table *t = &live->tables[c->table];
		const struct st_chain *wc = NULL;
		size_t k = 0;

		if (!st_nft_chain_selected(live, c, flags))
			continue;
		wc = st_ruleset_find_chain(want, t->name, c->name,
					   ST_FAMILY_ANY);
		if (wc == NULL)
			return st_err(err, ESTALE,
				      "the rules changed since they were "
				      "read: chain %s %s is new",
				      t->name, c->name);
		for (size_t i = 0; i <= c->nrules; i++) {
			const struct st_rule *wr = NULL;
			json_int_t h = 0;

			if (i < c->nrules) {
				if (st_nft_rule_session(c->rules[i], NULL))
					continue;
				h = json_integer_value(
					json_object_get(c->rules[i], "handle"));
			}
			/* The next original rule of the caller's chain. */
			while (k < wc->nrules) {
				wr = st_ruleset_rule(want, wc->first + k++);
				if (wr != NULL &&
				    (wr->text == NULL ||
				     strstr(wr->text,
					    ST_INSTR_COMMENT_PREFIX) == NULL))
					break;
				wr = NULL;
			}
			if (i == c->nrules && wr == NULL)
				break;
			if (i == c->nrules)
				return st_err(err, ESTALE,
					      "the rules changed since they "
					      "were read: %s %s: rule handle "
					      "%" PRIu64 " is gone",
					      t->name, c->name, wr->handle);
			if (wr == NULL)
				return st_err(err, ESTALE,
					      "the rules changed since they "
					      "were read: %s %s: rule handle "
					      "%" JSON_INTEGER_FORMAT " is new",
					      t->name, c->name, h);
			if (wr->handle != 0 && (json_int_t)wr->handle != h)
				return st_err(err, ESTALE,
					      "the rules changed since they "
					      "were read: %s %s: rule handle "
					      "%" JSON_INTEGER_FORMAT
					      " where %" PRIu64 " was",
					      t->name, c->name, h, wr->handle);
		}
	}
	for (size_t i = 0; i < st_ruleset_nchains(want); i++) {
		const struct st_chain *wc = st_ruleset_chain(want, i);

		if (st_istio_is_istio_chain(wc->name) &&
		    st_nft_table_find(live, "inet", wc->table) >= 0 &&
		    st_nft_chain_find(live, "inet", wc->table, wc->name) ==
			    NULL)
			return st_err(err, ESTALE,
				      "the rules changed since they were "
				      "read: chain %s %s is gone",
				      wc->table, wc->name);
	}
	return 0;
}

/* After inserting: every instrumented chain must read as expected. */
int st_verify_slot(struct st_instr *in, int slot,
		   const struct st_ruleset *pre_ipt,
		   const struct st_nft_model *pre_nft,
		   const struct st_instr_opts *o, char *err)
{
	enum st_family fam = slot == 0 ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6;
	struct st_strbuf want = {0}, have = {0};
	struct st_ruleset *post = NULL;
	struct st_nft_model pm;
	bool pm_loaded = false;
	char *dump = NULL;
	char msg[300];
	unsigned int ours = 0;
	int ret;

	ret = st_tool_read_dump(in->netns_fd, in->backend, slot, &dump, err);
	if (ret < 0)
		goto out;
	if (in->backend == ST_BACKEND_NFTABLES) {
		ret = st_nft_model_load(dump, strlen(dump), &pm, err);
		if (ret < 0)
			goto out;
		pm_loaded = true;
		ret = st_verify_nft_sequence(pre_nft, NULL, o, &want, NULL,
					     err);
		if (ret == 0)
			ret = st_verify_nft_sequence(pre_nft, &pm, o, &have,
						     &ours, err);
	} else {
		post = st_ruleset_new();
		if (post == NULL) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto out;
		}
		ret = st_rules_load_buf(post, dump, strlen(dump),
					st_tool_name(in->backend, slot, false),
					err);
		if (ret == 0)
			ret = st_verify_ipt_sequence(pre_ipt, NULL, fam, o,
						     &want, NULL, err);
		if (ret == 0)
			ret = st_verify_ipt_sequence(pre_ipt, post, fam, o,
						     &have, &ours, err);
	}
	if (ret < 0)
		goto out;
	if (st_instr_diff(want.p ? want.p : "", have.p ? have.p : "", msg,
			  sizeof(msg)))
		ret = st_err(err, EAGAIN,
			     "the %s rules changed while inserting (%s)",
			     st_tool_slot_name(in->backend, slot), msg);
	else if (ours != in->slot[slot].nrules)
		ret = st_err(err, EAGAIN,
			     "%u rules of session %08" PRIx32
			     " found in the %s rules, %u inserted",
			     ours, in->session,
			     st_tool_slot_name(in->backend, slot),
			     in->slot[slot].nrules);
out:
	if (pm_loaded)
		st_nft_model_free(&pm);
	st_ruleset_free(post);
	st_strbuf_free(&want);
	st_strbuf_free(&have);
	free(dump);
	return ret;
}
