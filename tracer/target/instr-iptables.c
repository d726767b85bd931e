// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-iptables.c - iptables-restore --noflush transactions (legacy and
 * nft backends alike): the one that inserts a session's rules, and the one
 * that removes the rules of given sessions from a live save text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"

#define ST_IPT_CTSTATE " -m conntrack --ctstate INVALID,NEW,UNTRACKED"

static void st_ipt_ours(struct st_strbuf *b, const struct st_instr_opts *o,
			const char *tag)
{
	st_strbuf_printf(b,
			 " -m comment --comment \"%s%08" PRIx32 "\""
			 " -j NFLOG --nflog-prefix \"%s\" --nflog-group %u\n",
			 ST_INSTR_COMMENT_PREFIX, o->session, tag,
			 (unsigned int)o->group);
}

static int st_ipt_render_chain(const struct st_ruleset *rs,
			       const struct st_chain *c,
			       const struct st_plan_mode *pm,
			       const struct st_instr_opts *o,
			       struct st_split *sp, struct st_strbuf *b,
			       struct st_instr_summary *sum, char *err)
{
	struct st_plan_rule *ri = NULL;
	const char *restrict_ = "";
	char tag[ST_NFLOG_PREFIX_SIZE];
	unsigned int nown = 0;
	int ret;

	ret = st_plan_chain(rs, c, sp, &ri, &nown, err);
	if (ret < 0)
		goto out;
	if (!st_plan_selected(c->name, c->builtin, nown, o->flags))
		goto out;
	if (!st_itag_name_ok(c->name)) {
		ret = st_err(err, EINVAL, "%s: chain name '%s' not supported",
			     c->table, c->name);
		goto out;
	}
	if (st_plan_tclass(c->table) == ST_TC_OTHER &&
	    !(o->flags & ST_INSTR_F_ALL_PACKETS))
		restrict_ = ST_IPT_CTSTATE;
	sum->nchains++;

	ret = st_plan_tag(pm, tag, c->builtin ? ST_HIT_POLICY : ST_HIT_RETURN,
			  c->table, c->name, 0, o->session, err);
	if (ret < 0)
		goto out;
	st_strbuf_printf(b, "-A %s%s", c->name, restrict_);
	st_ipt_ours(b, o, tag);
	sum->nrules++;

	for (unsigned int i = c->nrules; i-- > 0;) {
		if (ri[i].session)
			continue;
		if (ri[i].skip != NULL) {
			st_plan_skip(sum, c->table, c->name, ri[i].orig,
				     ri[i].skip);
			continue;
		}
		if (!st_plan_logs(pm, c->table, c->name, c->family, ST_HIT_RULE,
				  ri[i].orig))
			continue;
		ret = st_split_rule(ri[i].r->text, strlen(ri[i].r->text), sp);
		if (ret < 0)
			goto out;
		ret = st_plan_tag(pm, tag, ST_HIT_RULE, c->table, c->name,
				  ri[i].orig, o->session, err);
		if (ret < 0)
			goto out;
		st_strbuf_printf(b, "-I %s %u", c->name, i + 1);
		st_split_matches(sp, b);
		st_strbuf_puts(b, restrict_);
		st_ipt_ours(b, o, tag);
		sum->nrules++;
		sum->nhits++;
	}

	if (!st_plan_logs(pm, c->table, c->name, c->family, ST_HIT_ENTER, 0))
		goto out;
	ret = st_plan_tag(pm, tag, ST_HIT_ENTER, c->table, c->name, 0,
			  o->session, err);
	if (ret < 0)
		goto out;
	st_strbuf_printf(b, "-I %s 1%s", c->name, restrict_);
	st_ipt_ours(b, o, tag);
	sum->nrules++;
out:
	free(ri);
	return ret;
}

int st_instr_render_insert(const struct st_ruleset *rs, enum st_family family,
			   const struct st_instr_opts *o, char **out,
			   struct st_instr_summary *sum, char *err)
{
	struct st_instr_summary local;
	struct st_plan_mode pm = {0};
	struct st_split *sp = NULL;
	struct st_strbuf all = {0}, tb = {0};
	size_t nchains;
	int ret = 0;

	if (out != NULL)
		*out = NULL;
	if (sum == NULL)
		sum = &local;
	memset(sum, 0, sizeof(*sum));
	if (rs == NULL || o == NULL || out == NULL ||
	    (family != ST_FAMILY_IPV4 && family != ST_FAMILY_IPV6))
		return st_err(err, EINVAL, "render: bad arguments");
	if (st_ruleset_backend(rs) == ST_BACKEND_NFTABLES)
		return st_err(err, EINVAL,
			      "render: native nftables rules need "
			      "st_instr_render_insert_nft()");
	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	ret = st_plan_mode_ipt(rs, family, o->flags, &pm, err);
	if (ret < 0)
		goto out;
	sum->minimal = pm.lp != NULL;

	nchains = st_ruleset_nchains(rs);
	for (size_t i = 0; i < nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		bool seen = false;

		if (st_plan_fam(c) != family)
			continue;
		/* Each table once, at its first chain. */
		for (size_t k = 0; k < i && !seen; k++) {
			const struct st_chain *p = st_ruleset_chain(rs, k);

			seen = st_plan_fam(p) == family &&
			       strcmp(p->table, c->table) == 0;
		}
		if (seen ||
		    !st_plan_table_involved(rs, c->table, family, o->flags))
			continue;
		st_strbuf_reset(&tb);
		for (size_t k = i; k < nchains; k++) {
			const struct st_chain *ck = st_ruleset_chain(rs, k);

			if (st_plan_fam(ck) != family ||
			    strcmp(ck->table, c->table) != 0)
				continue;
			ret = st_ipt_render_chain(rs, ck, &pm, o, sp, &tb, sum,
						  err);
			if (ret < 0)
				goto out;
		}
		if (tb.len == 0)
			continue;
		st_strbuf_printf(&all, "*%s\n", c->table);
		st_strbuf_putn(&all, tb.p, tb.len);
		st_strbuf_puts(&all, "COMMIT\n");
	}
	*out = st_strbuf_take(&all);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
out:
	st_plan_mode_free(&pm);
	st_strbuf_free(&all);
	st_strbuf_free(&tb);
	free(sp);
	return ret;
}

/*
 * Every rule line of a save text with its position, plus the NFLOG groups
 * in use (@groups: a ST_GROUP_BITS bitmap, or NULL).
 */
int st_ipt_scan(const char *text, size_t len, struct st_ipt_scan *sc,
		uint8_t *groups, char *err)
{
	struct st_split *sp = NULL;
	char table[32] = "";
	size_t tstart = 0;
	size_t off = 0;
	int ret = 0;

	memset(sc, 0, sizeof(*sc));
	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - off;
		struct st_ipt_line *l = NULL;
		char chain[64];

		off += n + 1;
		if (n > 0 && s[0] == '*') {
			size_t tl = n - 1;

			while (tl > 0 && (s[tl] == ' ' || s[tl] == '\r'))
				tl--;
			if (tl >= sizeof(table))
				tl = sizeof(table) - 1;
			memcpy(table, s + 1, tl);
			table[tl] = '\0';
			tstart = sc->n;
			continue;
		}
		if (n == 0 || (s[0] != '-' && s[0] != '['))
			continue;
		if (st_split_rule(s, n, sp) < 0)
			continue; /* not a rule line: nothing of ours */
		st_itag_group_mark(groups, sp->group);
		if (sc->n == sc->cap) {
			size_t cap = sc->cap ? sc->cap * 2 : 64;
			struct st_ipt_line *v =
				realloc(sc->v, cap * sizeof(*v));

			if (v == NULL) {
				ret = st_err(err, ENOMEM, "out of memory");
				goto out;
			}
			sc->v = v;
			sc->cap = cap;
		}
		st_split_value(&sp->t[sp->chain], chain, sizeof(chain));
		l = &sc->v[sc->n];
		memset(l, 0, sizeof(*l));
		st_strlcpy(l->table, table, sizeof(l->table));
		st_strlcpy(l->chain, chain, sizeof(l->chain));
		l->session_rule = sp->session_rule;
		l->session = sp->session;
		l->pos = 1;
		for (size_t k = tstart; k < sc->n; k++)
			if (strcmp(sc->v[k].chain, chain) == 0)
				l->pos++;
		sc->n++;
	}
out:
	if (ret < 0) {
		free(sc->v);
		memset(sc, 0, sizeof(*sc));
	}
	free(sp);
	return ret;
}

/* "-D CHAIN P" lines for every rule of the sessions in @set. */
int st_ipt_render_remove(const char *live, size_t len, const uint32_t *set,
			 size_t nset, char **out, unsigned int *nrules,
			 char *err)
{
	struct st_ipt_scan sc;
	struct st_strbuf b = {0};
	unsigned int count = 0;
	int ret;

	*out = NULL;
	*nrules = 0;
	ret = st_ipt_scan(live, len, &sc, NULL, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < sc.n; i++) {
		const char *t = sc.v[i].table;
		bool first = true, any = false;

		/* Each table once: at its first line. */
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(sc.v[k].table, t) != 0;
		if (!first)
			continue;
		for (size_t k = i; k < sc.n && !any; k++)
			any = strcmp(sc.v[k].table, t) == 0 &&
			      sc.v[k].session_rule &&
			      st_itag_in_set(set, nset, sc.v[k].session);
		if (!any)
			continue;
		st_strbuf_printf(&b, "*%s\n", t);
		/* Backwards: highest position of each chain first. */
		for (size_t k = sc.n; k-- > i;) {
			const struct st_ipt_line *l = &sc.v[k];

			if (strcmp(l->table, t) != 0 || !l->session_rule ||
			    !st_itag_in_set(set, nset, l->session))
				continue;
			st_strbuf_printf(&b, "-D %s %u\n", l->chain, l->pos);
			count++;
		}
		st_strbuf_puts(&b, "COMMIT\n");
	}
	*out = st_strbuf_take(&b);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
	else
		*nrules = count;
	free(sc.v);
	st_strbuf_free(&b);
	return ret;
}
