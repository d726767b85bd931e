// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-nftables.c - native nftables: a `nft -j list ruleset` dump as
 * tables, chains and rules; the `nft -j -f -` batch that inserts a
 * session's rules into its inet tables, and the one that deletes the rules
 * of given sessions by handle.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"
#include "istio.h"

/* Below conntrack's priority (-200) a packet has no conntrack entry yet. */
#define ST_NFT_PRIO_CONNTRACK (-200)

void st_nft_model_free(struct st_nft_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nchains; i++)
		free(m->chains[i].rules);
	free(m->chains);
	free(m->tables);
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

static const char *st_nft_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

long st_nft_table_find(const struct st_nft_model *m, const char *family,
		       const char *name)
{
	for (size_t i = 0; i < m->ntables; i++)
		if (strcmp(m->tables[i].family, family) == 0 &&
		    strcmp(m->tables[i].name, name) == 0)
			return (long)i;
	return -1;
}

struct st_nft_chain *st_nft_chain_find(const struct st_nft_model *m,
				       const char *family, const char *table,
				       const char *name)
{
	long t = st_nft_table_find(m, family, table);

	if (t < 0)
		return NULL;
	for (size_t i = 0; i < m->nchains; i++)
		if (m->chains[i].table == (size_t)t &&
		    strcmp(m->chains[i].name, name) == 0)
			return &m->chains[i];
	return NULL;
}

/*
 * Only inet tables can hold our native rules; ip/ip6 tables belong to
 * iptables-nft, whose rules the NFT backend's passes handle.
 */
bool st_nft_table_native(const struct st_nft_table *t)
{
	return strcmp(t->family, "inet") == 0;
}

bool st_nft_rule_session(json_t *rule, uint32_t *s)
{
	const char *c = st_nft_jstr(rule, "comment");
	uint32_t dummy;

	return c != NULL && st_itag_session(c, s != NULL ? s : &dummy);
}

int st_nft_model_load(const char *json, size_t len, struct st_nft_model *m,
		      char *err)
{
	json_error_t jerr;
	json_t *arr = NULL, *item = NULL;
	size_t idx;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	m->root = json_loadb(json, len, 0, &jerr);
	if (m->root == NULL)
		return st_err(err, EINVAL, "nft JSON: line %d: %s", jerr.line,
			      jerr.text);
	arr = json_object_get(m->root, "nftables");
	if (!json_is_array(arr)) {
		ret = st_err(err, EINVAL, "nft JSON: no \"nftables\" array");
		goto out;
	}
	/* Tables and chains first: rules refer to them. */
	json_array_foreach(arr, idx, item)
	{
		json_t *o = NULL;

		if ((o = json_object_get(item, "table")) != NULL) {
			struct st_nft_table *t = NULL;
			const char *fam = st_nft_jstr(o, "family");
			const char *name = st_nft_jstr(o, "name");

			if (fam == NULL || name == NULL)
				continue;
			t = realloc(m->tables, (m->ntables + 1) * sizeof(*t));
			if (t == NULL)
				goto oom;
			m->tables = t;
			t = &m->tables[m->ntables++];
			memset(t, 0, sizeof(*t));
			t->family = fam;
			t->name = name;
			t->cls = ST_TC_OTHER;
		}
	}
	json_array_foreach(arr, idx, item)
	{
		json_t *o = json_object_get(item, "chain");
		struct st_nft_chain *c = NULL;
		const char *fam, *table, *name;
		long t;

		if (o == NULL)
			continue;
		fam = st_nft_jstr(o, "family");
		table = st_nft_jstr(o, "table");
		name = st_nft_jstr(o, "name");
		if (fam == NULL || table == NULL || name == NULL)
			continue;
		t = st_nft_table_find(m, fam, table);
		if (t < 0)
			continue;
		c = realloc(m->chains, (m->nchains + 1) * sizeof(*c));
		if (c == NULL)
			goto oom;
		m->chains = c;
		c = &m->chains[m->nchains++];
		memset(c, 0, sizeof(*c));
		c->table = (size_t)t;
		c->name = name;
		c->base = json_object_get(o, "hook") != NULL;
	}
	json_array_foreach(arr, idx, item)
	{
		json_t *o = json_object_get(item, "rule");
		struct st_nft_chain *c = NULL;

		if (o == NULL || st_nft_jstr(o, "family") == NULL ||
		    st_nft_jstr(o, "table") == NULL ||
		    st_nft_jstr(o, "chain") == NULL)
			continue;
		c = st_nft_chain_find(m, st_nft_jstr(o, "family"),
				      st_nft_jstr(o, "table"),
				      st_nft_jstr(o, "chain"));
		if (c == NULL)
			continue;
		if (c->nrules == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 8;
			json_t **r = realloc(c->rules, cap * sizeof(*r));

			if (r == NULL)
				goto oom;
			c->rules = r;
			c->cap = cap;
		}
		c->rules[c->nrules++] = o;
	}
	/* Table classes (instrument.h explains them). */
	for (size_t i = 0; i < m->ntables; i++) {
		struct st_nft_table *t = &m->tables[i];
		bool nat = false, all_raw = true, any_base = false;

		json_array_foreach(arr, idx, item)
		{
			json_t *o = json_object_get(item, "chain");
			json_t *prio = NULL;
			const char *type = NULL;

			if (o == NULL || json_object_get(o, "hook") == NULL ||
			    st_nft_jstr(o, "family") == NULL ||
			    st_nft_jstr(o, "table") == NULL ||
			    strcmp(st_nft_jstr(o, "family"), t->family) != 0 ||
			    strcmp(st_nft_jstr(o, "table"), t->name) != 0)
				continue;
			any_base = true;
			type = st_nft_jstr(o, "type");
			if (type != NULL && strcmp(type, "nat") == 0)
				nat = true;
			prio = json_object_get(o, "prio");
			if (!json_is_integer(prio) ||
			    json_integer_value(prio) >= ST_NFT_PRIO_CONNTRACK)
				all_raw = false;
		}
		if (nat)
			t->cls = ST_TC_NAT;
		else if (any_base && all_raw)
			t->cls = ST_TC_RAW;
		for (size_t k = 0; k < m->nchains; k++)
			if (m->chains[k].table == i &&
			    st_istio_is_istio_chain(m->chains[k].name))
				t->involved = true;
	}
	return 0;
oom:
	ret = st_err(err, ENOMEM, "out of memory");
out:
	st_nft_model_free(m);
	return ret;
}

static unsigned int st_nft_chain_nown(const struct st_nft_chain *c)
{
	unsigned int n = 0;

	for (size_t i = 0; i < c->nrules; i++)
		if (!st_nft_rule_session(c->rules[i], NULL))
			n++;
	return n;
}

bool st_nft_chain_selected(const struct st_nft_model *m,
			   const struct st_nft_chain *c, unsigned int flags)
{
	const struct st_nft_table *t = &m->tables[c->table];

	if (!st_nft_table_native(t) || !t->involved)
		return false;
	if ((flags & ST_INSTR_F_SKIP_RAW) && t->cls == ST_TC_RAW)
		return false;
	return st_plan_selected(c->name, c->base, st_nft_chain_nown(c), flags);
}

static bool st_nft_has_key(json_t *j, const char *key)
{
	const char *k = NULL;
	json_t *v = NULL;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
		{
			if (strcmp(k, key) == 0 || st_nft_has_key(v, key))
				return true;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			if (st_nft_has_key(v, key))
				return true;
		}
	}
	return false;
}

/* The single key of an expression object ("match", "counter", ...). */
static const char *st_nft_expr_kind(json_t *e)
{
	void *it = json_object_iter(e);

	return it != NULL ? json_object_iter_key(it) : "";
}

/*
 * The matches of an nft rule that can be evaluated a second time without
 * changing anything, or why not.  @copy may be NULL (only asking).
 */
const char *st_nft_copyable(json_t *rule, json_t *copy)
{
	json_t *expr = json_object_get(rule, "expr");
	json_t *e = NULL;
	bool stmt = false;
	size_t i;

	if (!json_is_array(expr))
		return "no expressions";
	json_array_foreach(expr, i, e)
	{
		const char *k = st_nft_expr_kind(e);

		if (strcmp(k, "match") == 0) {
			if (stmt)
				return "match after a statement";
			if (st_nft_has_key(e, "numgen"))
				return "numgen";
			if (copy != NULL && json_array_append(copy, e) < 0)
				return "out of memory";
		} else if (strcmp(k, "counter") == 0 || strcmp(k, "log") == 0 ||
			   strcmp(k, "last") == 0) {
			continue; /* they change nothing a match looks at */
		} else if (strcmp(k, "limit") == 0 || strcmp(k, "quota") == 0 ||
			   strcmp(k, "ct count") == 0 ||
			   strcmp(k, "connlimit") == 0) {
			return k; /* they filter, and keep state doing so */
		} else if (strcmp(k, "xt") == 0) {
			return "xt compat expression";
		} else if (strcmp(k, "vmap") == 0) {
			return "verdict map";
		} else {
			stmt = true;
		}
	}
	return NULL;
}

static json_t *st_nft_ctstate(void)
{
	return json_pack("{s:{s:s,s:{s:{s:s}},s:[s,s,s]}}", "match", "op", "in",
			 "left", "ct", "key", "state", "right", "invalid",
			 "new", "untracked");
}

/*
 * One command: @verb "add"/"insert", @handle 0 for none, @matches the
 * copied matches (a new reference is taken) or NULL.
 */
static json_t *st_nft_cmd(const char *verb, const struct st_nft_table *t,
			  const char *chain, json_int_t handle, json_t *matches,
			  bool restrict_, const char *tag,
			  const struct st_instr_opts *o)
{
	char comment[32];
	json_t *expr = NULL, *rule = NULL, *cmd = NULL;

	snprintf(comment, sizeof(comment), "%s%08" PRIx32,
		 ST_INSTR_COMMENT_PREFIX, o->session);
	expr = matches != NULL ? json_copy(matches) : json_array();
	if (expr == NULL)
		goto fail;
	if (restrict_ && json_array_append_new(expr, st_nft_ctstate()) < 0)
		goto fail;
	/* As iptables rules have, so that hits can be counted too. */
	if (json_array_append_new(expr, json_pack("{s:n}", "counter")) < 0)
		goto fail;
	if (json_array_append_new(expr,
				  json_pack("{s:{s:s,s:i}}", "log", "prefix",
					    tag, "group", (int)o->group)) < 0)
		goto fail;
	rule = json_pack("{s:s,s:s,s:s}", "family", t->family, "table", t->name,
			 "chain", chain);
	if (rule == NULL)
		goto fail;
	if (handle > 0 &&
	    json_object_set_new(rule, "handle", json_integer(handle)) < 0)
		goto fail;
	if (json_object_set_new(rule, "expr", expr) < 0) {
		expr = NULL;
		goto fail;
	}
	expr = NULL;
	if (json_object_set_new(rule, "comment", json_string(comment)) < 0)
		goto fail;
	cmd = json_pack("{s:{s:o}}", verb, "rule", rule);
	return cmd;
fail:
	json_decref(expr);
	json_decref(rule);
	return NULL;
}

static int st_nft_emit(struct st_strbuf *b, json_t *cmd, char *err)
{
	char *s = NULL;

	if (cmd == NULL)
		return st_err(err, ENOMEM, "out of memory");
	s = json_dumps(cmd, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(cmd);
	if (s == NULL)
		return st_err(err, ENOMEM, "out of memory");
	st_strbuf_puts(b, b->len > 0 ? ",\n" : "{\"nftables\":[\n");
	st_strbuf_puts(b, s);
	free(s);
	return 0;
}

static int st_nft_render_chain(const struct st_nft_model *m,
			       const struct st_nft_chain *c,
			       const struct st_plan_mode *pm,
			       const struct st_instr_opts *o,
			       struct st_strbuf *b,
			       struct st_instr_summary *sum, char *err)
{
	const struct st_nft_table *t = &m->tables[c->table];
	unsigned int *orig = NULL;
	char tag[ST_NFLOG_PREFIX_SIZE];
	bool restrict_ =
		t->cls == ST_TC_OTHER && !(o->flags & ST_INSTR_F_ALL_PACKETS);
	unsigned int own = 0;
	int ret = 0;

	orig = calloc(c->nrules ? c->nrules : 1, sizeof(*orig));
	if (orig == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < c->nrules; i++)
		if (!st_nft_rule_session(c->rules[i], NULL))
			orig[i] = ++own;
	sum->nchains++;

	ret = st_plan_tag(pm, tag, c->base ? ST_HIT_POLICY : ST_HIT_RETURN,
			  t->name, c->name, 0, o->session, err);
	if (ret < 0)
		goto out;
	ret = st_nft_emit(
		b, st_nft_cmd("add", t, c->name, 0, NULL, restrict_, tag, o),
		err);
	if (ret < 0)
		goto out;
	sum->nrules++;

	for (size_t i = c->nrules; i-- > 0;) {
		json_t *rule = c->rules[i];
		json_t *copy = NULL;
		json_int_t handle;
		const char *why;

		if (orig[i] == 0)
			continue;
		if (!st_plan_logs(pm, t->name, c->name, ST_FAMILY_ANY,
				  ST_HIT_RULE, orig[i]))
			continue;
		handle = json_integer_value(json_object_get(rule, "handle"));
		copy = json_array();
		if (copy == NULL) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto out;
		}
		why = st_nft_copyable(rule, copy);
		if (why == NULL && handle <= 0)
			why = "no handle";
		if (why != NULL) {
			json_decref(copy);
			st_plan_skip(sum, t->name, c->name, orig[i], why);
			continue;
		}
		ret = st_plan_tag(pm, tag, ST_HIT_RULE, t->name, c->name,
				  orig[i], o->session, err);
		if (ret == 0)
			ret = st_nft_emit(b,
					  st_nft_cmd("insert", t, c->name,
						     handle, copy, restrict_,
						     tag, o),
					  err);
		json_decref(copy);
		if (ret < 0)
			goto out;
		sum->nrules++;
		sum->nhits++;
	}

	if (!st_plan_logs(pm, t->name, c->name, ST_FAMILY_ANY, ST_HIT_ENTER, 0))
		goto out;
	ret = st_plan_tag(pm, tag, ST_HIT_ENTER, t->name, c->name, 0,
			  o->session, err);
	if (ret < 0)
		goto out;
	ret = st_nft_emit(
		b, st_nft_cmd("insert", t, c->name, 0, NULL, restrict_, tag, o),
		err);
	if (ret < 0)
		goto out;
	sum->nrules++;
out:
	free(orig);
	return ret;
}

int st_nft_render_model(const struct st_nft_model *m,
			const struct st_instr_opts *o, char **out,
			struct st_instr_summary *sum, char *err)
{
	struct st_plan_mode pm = {0};
	struct st_strbuf b = {0};
	int ret = 0;

	ret = st_plan_mode_nft(m, o->flags, &pm, err);
	if (ret < 0)
		return ret;
	sum->minimal = pm.lp != NULL;
	for (size_t i = 0; i < m->nchains; i++) {
		if (!st_nft_chain_selected(m, &m->chains[i], o->flags))
			continue;
		ret = st_nft_render_chain(m, &m->chains[i], &pm, o, &b, sum,
					  err);
		if (ret < 0)
			goto out;
	}
	if (b.len > 0)
		st_strbuf_puts(&b, "\n]}\n");
	*out = st_strbuf_take(&b);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
out:
	st_plan_mode_free(&pm);
	st_strbuf_free(&b);
	return ret;
}

int st_instr_render_insert_nft(const char *json, size_t len,
			       const struct st_instr_opts *o, char **out,
			       struct st_instr_summary *sum, char *err)
{
	struct st_instr_summary local;
	struct st_nft_model m;
	int ret;

	if (out != NULL)
		*out = NULL;
	if (sum == NULL)
		sum = &local;
	memset(sum, 0, sizeof(*sum));
	if (json == NULL || o == NULL || out == NULL)
		return st_err(err, EINVAL, "render: bad arguments");
	ret = st_nft_model_load(json, len, &m, err);
	if (ret < 0)
		return ret;
	ret = st_nft_render_model(&m, o, out, sum, err);
	st_nft_model_free(&m);
	return ret;
}

int st_nft_render_remove(const char *live, size_t len, const uint32_t *set,
			 size_t nset, char **out, unsigned int *nrules,
			 char *err)
{
	struct st_nft_model m;
	struct st_strbuf b = {0};
	unsigned int count = 0;
	int ret;

	*out = NULL;
	*nrules = 0;
	ret = st_nft_model_load(live, len, &m, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < m.nchains; i++) {
		const struct st_nft_chain *c = &m.chains[i];
		const struct st_nft_table *t = &m.tables[c->table];

		if (!st_nft_table_native(t))
			continue;
		for (size_t k = 0; k < c->nrules; k++) {
			json_t *cmd = NULL;
			uint32_t s;

			if (!st_nft_rule_session(c->rules[k], &s) ||
			    !st_itag_in_set(set, nset, s))
				continue;
			cmd = json_pack("{s:{s:{s:s,s:s,s:s,s:O}}}", "delete",
					"rule", "family", t->family, "table",
					t->name, "chain", c->name, "handle",
					json_object_get(c->rules[k], "handle"));
			ret = st_nft_emit(&b, cmd, err);
			if (ret < 0)
				goto out;
			count++;
		}
	}
	if (b.len > 0)
		st_strbuf_puts(&b, "\n]}\n");
	*out = st_strbuf_take(&b);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
	else
		*nrules = count;
out:
	st_strbuf_free(&b);
	st_nft_model_free(&m);
	return ret;
}

/* Log prefix of an nft rule, or NULL. */
const char *st_nft_rule_prefix(json_t *rule)
{
	json_t *expr = json_object_get(rule, "expr");
	json_t *e = NULL;
	size_t i;

	json_array_foreach(expr, i, e)
	{
		json_t *log = json_object_get(e, "log");

		if (log != NULL)
			return st_nft_jstr(log, "prefix");
	}
	return NULL;
}
