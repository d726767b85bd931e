// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instrument.c - insert, verify and remove sidecar-trace's temporary
 * NFLOG rules (see instrument.h for what and why).
 *
 * The pure half (renderers, scanners, normalisation) works on text and
 * JSON only, so that golden files can be checked without root.  The
 * runtime half reads and writes the target's rules through st_spawn() in
 * the target's namespace; it never enters the namespace itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instrument.h"
#include "istio.h"
#include "record.h"
#include "spawn.h"

#define ST_MAX_TOKS 256
#define ST_GROUP_BITS 65536
#define ST_RUN_TIMEOUT_MS 30000
/* Below conntrack's priority (-200) a packet has no conntrack entry yet. */
#define ST_PRIO_CONNTRACK (-200)
#define ST_CTSTATE_IPT " -m conntrack --ctstate INVALID,NEW,UNTRACKED"

/* ---- iptables-restore tokens ---------------------------------------- */

struct st_tok {
	const char *p; /* raw text, quotes included */
	size_t len;
	bool quoted;
};

struct st_split {
	struct st_tok t[ST_MAX_TOKS];
	size_t n;
	size_t chain;	      /* token index of the chain name */
	size_t mbeg;	      /* first match token */
	size_t tgt;	      /* index of -j/-g, or n when the rule has none */
	const char *stateful; /* the stateful module, or NULL */
	bool session_rule;    /* carries a sidecar-trace comment */
	uint32_t session;
	bool nflog;
	int group;     /* --nflog-group, -1 when none */
	size_t prefix; /* token of --nflog-prefix's value, 0 if none */
};

/*
 * Blanks separate tokens; double quotes group, and inside them a backslash
 * escapes the next character: what iptables-restore accepts and
 * iptables-save writes (a comment may hold " -j ").
 */
static int st_tokenize(const char *s, size_t n, struct st_split *sp)
{
	size_t i = 0;

	sp->n = 0;
	while (i < n) {
		size_t start;
		bool inq = false, quoted = false;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
				 s[i] == '\n'))
			i++;
		if (i >= n)
			break;
		start = i;
		while (i < n) {
			char c = s[i];

			if (inq) {
				if (c == '\\' && i + 1 < n) {
					i += 2;
					continue;
				}
				if (c == '"')
					inq = false;
				i++;
				continue;
			}
			if (c == '"') {
				inq = quoted = true;
				i++;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				break;
			i++;
		}
		if (inq)
			return -EINVAL;
		if (sp->n == ST_MAX_TOKS)
			return -E2BIG;
		sp->t[sp->n].p = s + start;
		sp->t[sp->n].len = i - start;
		sp->t[sp->n].quoted = quoted;
		sp->n++;
	}
	return 0;
}

static bool st_tok_is(const struct st_tok *t, const char *s)
{
	return !t->quoted && t->len == strlen(s) &&
	       memcmp(t->p, s, t->len) == 0;
}

/* The token's value: quotes removed, escapes resolved; truncated to fit. */
static void st_tok_value(const struct st_tok *t, char *buf, size_t size)
{
	size_t o = 0;
	bool inq = false;

	for (size_t i = 0; i < t->len && o + 1 < size; i++) {
		char c = t->p[i];

		if (inq && c == '\\' && i + 1 < t->len) {
			buf[o++] = t->p[++i];
			continue;
		}
		if (c == '"') {
			inq = !inq;
			continue;
		}
		buf[o++] = c;
	}
	if (size > 0)
		buf[o] = '\0';
}

/* "sidecar-trace:" followed by exactly eight hex digits. */
static bool st_parse_session(const char *s, uint32_t *out)
{
	size_t plen = strlen(ST_INSTR_COMMENT_PREFIX);
	uint32_t v = 0;

	if (strncmp(s, ST_INSTR_COMMENT_PREFIX, plen) != 0)
		return false;
	s += plen;
	for (int i = 0; i < 8; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | (uint32_t)d;
	}
	if (s[8] != '\0')
		return false;
	*out = v;
	return true;
}

static const char *const st_stateful_modules[] = {
	"statistic", "limit", "recent", "quota", "connlimit", "hashlimit",
};

/*
 * Split "[p:b] -A CHAIN <matches> -j TARGET <options>" (counters
 * optional) into its parts.
 */
static int st_split_rule(const char *text, size_t len, struct st_split *sp)
{
	size_t i = 0;
	int ret;

	ret = st_tokenize(text, len, sp);
	if (ret < 0)
		return ret;
	sp->stateful = NULL;
	sp->session_rule = false;
	sp->session = 0;
	sp->nflog = false;
	sp->group = -1;
	sp->prefix = 0;
	if (sp->n > 0 && !sp->t[0].quoted && sp->t[0].len > 0 &&
	    sp->t[0].p[0] == '[')
		i++;
	if (i + 1 >= sp->n ||
	    !(st_tok_is(&sp->t[i], "-A") || st_tok_is(&sp->t[i], "--append")))
		return -EINVAL;
	sp->chain = i + 1;
	sp->mbeg = i + 2;
	sp->tgt = sp->n;
	for (i = sp->mbeg; i < sp->n; i++) {
		const struct st_tok *t = &sp->t[i];
		bool last = i + 1 >= sp->n;

		if (sp->tgt == sp->n &&
		    (st_tok_is(t, "-j") || st_tok_is(t, "--jump") ||
		     st_tok_is(t, "-g") || st_tok_is(t, "--goto"))) {
			sp->tgt = i;
			if (!last && st_tok_is(&sp->t[i + 1], "NFLOG"))
				sp->nflog = true;
			continue;
		}
		if (last)
			continue;
		if (sp->tgt == sp->n &&
		    (st_tok_is(t, "-m") || st_tok_is(t, "--match"))) {
			for (size_t k = 0;
			     k < ST_ARRAY_SIZE(st_stateful_modules); k++)
				if (st_tok_is(&sp->t[i + 1],
					      st_stateful_modules[k]))
					sp->stateful = st_stateful_modules[k];
		} else if (sp->tgt == sp->n && st_tok_is(t, "--comment")) {
			char v[64];
			uint32_t s;

			st_tok_value(&sp->t[i + 1], v, sizeof(v));
			if (st_parse_session(v, &s)) {
				sp->session_rule = true;
				sp->session = s;
			}
		} else if (sp->nflog && st_tok_is(t, "--nflog-group")) {
			char v[16];
			char *end = NULL;
			unsigned long g;

			st_tok_value(&sp->t[i + 1], v, sizeof(v));
			g = strtoul(v, &end, 10);
			if (end != v && *end == '\0' && g < ST_GROUP_BITS)
				sp->group = (int)g;
		} else if (sp->nflog && st_tok_is(t, "--nflog-prefix")) {
			sp->prefix = i + 1;
		}
	}
	if (sp->nflog && sp->group < 0)
		sp->group = 0; /* NFLOG's default */
	return 0;
}

/* The rule without "-A CHAIN" and counters, tokens joined by one blank. */
static void st_split_key(const struct st_split *sp, struct st_strbuf *b)
{
	for (size_t i = sp->mbeg; i < sp->n; i++) {
		if (i > sp->mbeg)
			st_strbuf_putn(b, " ", 1);
		st_strbuf_putn(b, sp->t[i].p, sp->t[i].len);
	}
}

/* The matches of a rule, its comment dropped: " -p tcp -m tcp ..." */
static void st_split_matches(const struct st_split *sp, struct st_strbuf *b)
{
	for (size_t i = sp->mbeg; i < sp->tgt; i++) {
		const struct st_tok *t = &sp->t[i];

		if (i + 1 < sp->tgt &&
		    (st_tok_is(t, "-m") || st_tok_is(t, "--match")) &&
		    st_tok_is(&sp->t[i + 1], "comment")) {
			i++;
			continue;
		}
		if (i + 1 < sp->tgt && st_tok_is(t, "--comment")) {
			i++;
			continue;
		}
		st_strbuf_putn(b, " ", 1);
		st_strbuf_putn(b, t->p, t->len);
	}
}

/* ---- names, tags, summaries ----------------------------------------- */

enum st_tclass {
	ST_TC_NAT,
	ST_TC_RAW,
	ST_TC_OTHER,
};

/* Names go into quoted restore arguments and into tags: keep them plain. */
static bool st_name_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.' || c == '+' || c == ':'))
			return false;
	}
	return true;
}

static int st_make_tag(char *buf, enum st_hit_kind kind, const char *table,
		       const char *chain, unsigned int rule, uint32_t session,
		       char *err)
{
	struct st_hit h;
	int ret;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.rule = rule;
	h.session = session;
	if (!st_name_ok(table) || !st_name_ok(chain))
		return st_err(err, EINVAL,
			      "table %s chain %s: name not usable in a tag",
			      table, chain);
	if (st_strlcpy(h.table, table, sizeof(h.table)) >= sizeof(h.table) ||
	    st_strlcpy(h.chain, chain, sizeof(h.chain)) >= sizeof(h.chain))
		return st_err(err, ENAMETOOLONG,
			      "table %s chain %s: names too long for an NFLOG "
			      "prefix",
			      table, chain);
	ret = st_tag_format(buf, &h);
	if (ret < 0)
		return st_err(err, -ret,
			      "table %s chain %s rule %u: cannot form an NFLOG "
			      "prefix: %s",
			      table, chain, rule, strerror(-ret));
	return 0;
}

static void st_sum_skip(struct st_instr_summary *sum, const char *table,
			const char *chain, unsigned int rule, const char *why)
{
	size_t used = strlen(sum->skipped);

	sum->nskipped++;
	if (used + 1 < sizeof(sum->skipped))
		snprintf(sum->skipped + used, sizeof(sum->skipped) - used,
			 "%s%s %s %u (%s)", used ? "; " : "", table, chain,
			 rule, why);
}

/* ---- iptables: choosing chains -------------------------------------- */

static enum st_family st_chain_fam(const struct st_chain *c)
{
	return c->family == ST_FAMILY_IPV6 ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4;
}

static enum st_tclass st_ipt_tclass(const char *table)
{
	if (strcmp(table, "nat") == 0)
		return ST_TC_NAT;
	if (strcmp(table, "raw") == 0)
		return ST_TC_RAW;
	return ST_TC_OTHER;
}

static bool st_ipt_table_involved(const struct st_ruleset *rs,
				  const char *table, enum st_family fam,
				  unsigned int flags)
{
	if ((flags & ST_INSTR_F_SKIP_RAW) && st_ipt_tclass(table) == ST_TC_RAW)
		return false;
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (st_chain_fam(c) == fam && strcmp(c->table, table) == 0 &&
		    st_istio_is_istio_chain(c->name))
			return true;
	}
	return false;
}

/* Per-rule facts of one chain, numbered as before any session. */
struct st_rinfo {
	const struct st_rule *r;
	bool session;
	uint32_t sess;
	unsigned int orig; /* 0 for session rules */
	const char *skip;  /* why no hit rule, or NULL */
};

static int st_ipt_chain_info(const struct st_ruleset *rs,
			     const struct st_chain *c, struct st_split *sp,
			     struct st_rinfo **out, unsigned int *nown,
			     char *err)
{
	struct st_rinfo *ri = NULL;
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

static bool st_chain_selected(const char *name, bool builtin, unsigned int nown,
			      unsigned int flags)
{
	if (st_istio_is_istio_chain(name))
		return true;
	return builtin && (nown > 0 || (flags & ST_INSTR_F_ALL_BUILTIN));
}

/* ---- iptables: rendering -------------------------------------------- */

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
			       const struct st_instr_opts *o,
			       struct st_split *sp, struct st_strbuf *b,
			       struct st_instr_summary *sum, char *err)
{
	struct st_rinfo *ri = NULL;
	const char *restrict_ = "";
	char tag[ST_NFLOG_PREFIX_SIZE];
	unsigned int nown = 0;
	int ret;

	ret = st_ipt_chain_info(rs, c, sp, &ri, &nown, err);
	if (ret < 0)
		goto out;
	if (!st_chain_selected(c->name, c->builtin, nown, o->flags))
		goto out;
	if (!st_name_ok(c->name)) {
		ret = st_err(err, EINVAL, "%s: chain name '%s' not supported",
			     c->table, c->name);
		goto out;
	}
	if (st_ipt_tclass(c->table) == ST_TC_OTHER &&
	    !(o->flags & ST_INSTR_F_ALL_PACKETS))
		restrict_ = ST_CTSTATE_IPT;
	sum->nchains++;

	ret = st_make_tag(tag, c->builtin ? ST_HIT_POLICY : ST_HIT_RETURN,
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
			st_sum_skip(sum, c->table, c->name, ri[i].orig,
				    ri[i].skip);
			continue;
		}
		ret = st_split_rule(ri[i].r->text, strlen(ri[i].r->text), sp);
		if (ret < 0)
			goto out;
		ret = st_make_tag(tag, ST_HIT_RULE, c->table, c->name,
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

	ret = st_make_tag(tag, ST_HIT_ENTER, c->table, c->name, 0, o->session,
			  err);
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

	nchains = st_ruleset_nchains(rs);
	for (size_t i = 0; i < nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		bool seen = false;

		if (st_chain_fam(c) != family)
			continue;
		/* Each table once, at its first chain. */
		for (size_t k = 0; k < i && !seen; k++) {
			const struct st_chain *p = st_ruleset_chain(rs, k);

			seen = st_chain_fam(p) == family &&
			       strcmp(p->table, c->table) == 0;
		}
		if (seen ||
		    !st_ipt_table_involved(rs, c->table, family, o->flags))
			continue;
		st_strbuf_reset(&tb);
		for (size_t k = i; k < nchains; k++) {
			const struct st_chain *ck = st_ruleset_chain(rs, k);

			if (st_chain_fam(ck) != family ||
			    strcmp(ck->table, c->table) != 0)
				continue;
			ret = st_ipt_render_chain(rs, ck, o, sp, &tb, sum, err);
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
	st_strbuf_free(&all);
	st_strbuf_free(&tb);
	free(sp);
	return ret;
}

/* ---- iptables: live save text --------------------------------------- */

/* One "-A" line of a save text. */
struct st_ipt_line {
	char table[32];
	char chain[64];
	unsigned int pos;
	bool session_rule;
	uint32_t session;
};

struct st_ipt_scan {
	struct st_ipt_line *v;
	size_t n;
	size_t cap;
};

static void st_group_mark(uint8_t *bits, int g)
{
	if (bits != NULL && g >= 0 && g < ST_GROUP_BITS)
		bits[g / 8] |= (uint8_t)(1u << (g % 8));
}

static bool st_group_used(const uint8_t *bits, unsigned int g)
{
	return (bits[g / 8] >> (g % 8)) & 1u;
}

/*
 * Every rule line of a save text with its position, plus the NFLOG groups
 * in use (@groups: a ST_GROUP_BITS bitmap, or NULL).
 */
static int st_ipt_scan(const char *text, size_t len, struct st_ipt_scan *sc,
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
		st_group_mark(groups, sp->group);
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
		st_tok_value(&sp->t[sp->chain], chain, sizeof(chain));
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

static bool st_in_set(const uint32_t *set, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/* "-D CHAIN P" lines for every rule of the sessions in @set. */
static int st_ipt_render_remove(const char *live, size_t len,
				const uint32_t *set, size_t nset, char **out,
				unsigned int *nrules, char *err)
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
			      st_in_set(set, nset, sc.v[k].session);
		if (!any)
			continue;
		st_strbuf_printf(&b, "*%s\n", t);
		/* Backwards: highest position of each chain first. */
		for (size_t k = sc.n; k-- > i;) {
			const struct st_ipt_line *l = &sc.v[k];

			if (strcmp(l->table, t) != 0 || !l->session_rule ||
			    !st_in_set(set, nset, l->session))
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

static void st_trim_right(const char *s, size_t *n)
{
	while (*n > 0 &&
	       (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
}

static int st_ipt_normalize(const char *text, size_t len, char **out, char *err)
{
	struct st_split *sp = NULL;
	struct st_strbuf b = {0};
	size_t off = 0;
	int ret = 0;

	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - off;

		off += n + 1;
		st_trim_right(s, &n);
		if (n == 0 || s[0] == '#')
			continue;
		if (s[0] == ':') {
			/* ":CHAIN POLICY [packets:bytes]" */
			if (s[n - 1] == ']') {
				size_t lb = n - 1;

				while (lb > 0 && s[lb] != '[')
					lb--;
				if (lb > 0) {
					n = lb;
					st_trim_right(s, &n);
				}
			}
		} else if (s[0] == '[') {
			const char *rb = memchr(s, ']', n);

			if (rb != NULL) {
				n -= (size_t)(rb + 1 - s);
				s = rb + 1;
				while (n > 0 && *s == ' ') {
					s++;
					n--;
				}
			}
		}
		if (n > 0 && s[0] == '-' && st_split_rule(s, n, sp) == 0 &&
		    sp->session_rule)
			continue;
		st_strbuf_putn(&b, s, n);
		st_strbuf_putn(&b, "\n", 1);
	}
	*out = st_strbuf_take(&b);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
	st_strbuf_free(&b);
	free(sp);
	return ret;
}

static int st_nft_normalize(const char *text, size_t len, char **out, char *err)
{
	static const char mark[] = "comment \"" ST_INSTR_COMMENT_PREFIX;
	struct st_strbuf b = {0};
	size_t off = 0;

	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - off;

		off += n + 1;
		st_trim_right(s, &n);
		if (n == 0 || memmem(s, n, mark, sizeof(mark) - 1) != NULL)
			continue;
		st_strbuf_putn(&b, s, n);
		st_strbuf_putn(&b, "\n", 1);
	}
	*out = st_strbuf_take(&b);
	return *out == NULL ? st_err(err, ENOMEM, "out of memory") : 0;
}

int st_instr_normalize(enum st_backend backend, const char *text, size_t len,
		       char **out, char *err)
{
	if (out == NULL || (text == NULL && len > 0))
		return st_err(err, EINVAL, "normalize: bad arguments");
	if (text == NULL)
		text = "";
	if (backend == ST_BACKEND_NFTABLES)
		return st_nft_normalize(text, len, out, err);
	return st_ipt_normalize(text, len, out, err);
}

static size_t st_line(const char *s, const char **next)
{
	const char *nl = strchr(s, '\n');

	if (nl == NULL) {
		*next = s + strlen(s);
		return strlen(s);
	}
	*next = nl + 1;
	return (size_t)(nl - s);
}

bool st_instr_diff(const char *a, const char *b, char *buf, size_t size)
{
	unsigned int lineno = 1;

	if (a == NULL)
		a = "";
	if (b == NULL)
		b = "";
	while (*a != '\0' || *b != '\0') {
		const char *na = NULL, *nb = NULL;
		size_t la = st_line(a, &na), lb = st_line(b, &nb);

		if (*a == '\0' || *b == '\0' || la != lb ||
		    memcmp(a, b, la) != 0) {
			if (buf == NULL || size == 0)
				return true;
			if (*b == '\0')
				snprintf(buf, size, "line %u: '%.*s' is gone",
					 lineno, (int)(la > 100 ? 100 : la), a);
			else if (*a == '\0')
				snprintf(buf, size, "line %u: '%.*s' is new",
					 lineno, (int)(lb > 100 ? 100 : lb), b);
			else
				snprintf(buf, size,
					 "line %u: '%.*s' instead of '%.*s'",
					 lineno, (int)(lb > 100 ? 100 : lb), b,
					 (int)(la > 100 ? 100 : la), a);
			return true;
		}
		a = na;
		b = nb;
		lineno++;
	}
	return false;
}

/* ---- native nftables: the JSON model -------------------------------- */

struct st_ntable {
	const char *family;
	const char *name;
	enum st_tclass cls;
	bool involved;
};

struct st_nchain {
	size_t table; /* index into tables */
	const char *name;
	bool base;
	json_t **rules;
	size_t nrules;
	size_t cap;
};

struct st_nmodel {
	json_t *root;
	struct st_ntable *tables;
	size_t ntables;
	struct st_nchain *chains;
	size_t nchains;
};

static void st_nmodel_free(struct st_nmodel *m)
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

static const char *st_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long st_ntable_find(const struct st_nmodel *m, const char *family,
			   const char *name)
{
	for (size_t i = 0; i < m->ntables; i++)
		if (strcmp(m->tables[i].family, family) == 0 &&
		    strcmp(m->tables[i].name, name) == 0)
			return (long)i;
	return -1;
}

static struct st_nchain *st_nchain_find(const struct st_nmodel *m,
					const char *family, const char *table,
					const char *name)
{
	long t = st_ntable_find(m, family, table);

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
static bool st_ntable_native(const struct st_ntable *t)
{
	return strcmp(t->family, "inet") == 0;
}

static bool st_nft_rule_session(json_t *rule, uint32_t *s)
{
	const char *c = st_jstr(rule, "comment");
	uint32_t dummy;

	return c != NULL && st_parse_session(c, s != NULL ? s : &dummy);
}

static int st_nmodel_load(const char *json, size_t len, struct st_nmodel *m,
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
			struct st_ntable *t = NULL;
			const char *fam = st_jstr(o, "family");
			const char *name = st_jstr(o, "name");

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
		struct st_nchain *c = NULL;
		const char *fam, *table, *name;
		long t;

		if (o == NULL)
			continue;
		fam = st_jstr(o, "family");
		table = st_jstr(o, "table");
		name = st_jstr(o, "name");
		if (fam == NULL || table == NULL || name == NULL)
			continue;
		t = st_ntable_find(m, fam, table);
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
		struct st_nchain *c = NULL;

		if (o == NULL || st_jstr(o, "family") == NULL ||
		    st_jstr(o, "table") == NULL || st_jstr(o, "chain") == NULL)
			continue;
		c = st_nchain_find(m, st_jstr(o, "family"), st_jstr(o, "table"),
				   st_jstr(o, "chain"));
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
		struct st_ntable *t = &m->tables[i];
		bool nat = false, all_raw = true, any_base = false;

		json_array_foreach(arr, idx, item)
		{
			json_t *o = json_object_get(item, "chain");
			json_t *prio = NULL;
			const char *type = NULL;

			if (o == NULL || json_object_get(o, "hook") == NULL ||
			    st_jstr(o, "family") == NULL ||
			    st_jstr(o, "table") == NULL ||
			    strcmp(st_jstr(o, "family"), t->family) != 0 ||
			    strcmp(st_jstr(o, "table"), t->name) != 0)
				continue;
			any_base = true;
			type = st_jstr(o, "type");
			if (type != NULL && strcmp(type, "nat") == 0)
				nat = true;
			prio = json_object_get(o, "prio");
			if (!json_is_integer(prio) ||
			    json_integer_value(prio) >= ST_PRIO_CONNTRACK)
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
	st_nmodel_free(m);
	return ret;
}

static unsigned int st_nchain_nown(const struct st_nchain *c)
{
	unsigned int n = 0;

	for (size_t i = 0; i < c->nrules; i++)
		if (!st_nft_rule_session(c->rules[i], NULL))
			n++;
	return n;
}

static bool st_nchain_selected(const struct st_nmodel *m,
			       const struct st_nchain *c, unsigned int flags)
{
	const struct st_ntable *t = &m->tables[c->table];

	if (!st_ntable_native(t) || !t->involved)
		return false;
	if ((flags & ST_INSTR_F_SKIP_RAW) && t->cls == ST_TC_RAW)
		return false;
	return st_chain_selected(c->name, c->base, st_nchain_nown(c), flags);
}

static bool st_json_has_key(json_t *j, const char *key)
{
	const char *k = NULL;
	json_t *v = NULL;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
		{
			if (strcmp(k, key) == 0 || st_json_has_key(v, key))
				return true;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			if (st_json_has_key(v, key))
				return true;
		}
	}
	return false;
}

/* The single key of an expression object ("match", "counter", ...). */
static const char *st_expr_kind(json_t *e)
{
	void *it = json_object_iter(e);

	return it != NULL ? json_object_iter_key(it) : "";
}

/*
 * The matches of an nft rule that can be evaluated a second time without
 * changing anything, or why not.  @copy may be NULL (only asking).
 */
static const char *st_nft_copyable(json_t *rule, json_t *copy)
{
	json_t *expr = json_object_get(rule, "expr");
	json_t *e = NULL;
	bool stmt = false;
	size_t i;

	if (!json_is_array(expr))
		return "no expressions";
	json_array_foreach(expr, i, e)
	{
		const char *k = st_expr_kind(e);

		if (strcmp(k, "match") == 0) {
			if (stmt)
				return "match after a statement";
			if (st_json_has_key(e, "numgen"))
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
static json_t *st_nft_cmd(const char *verb, const struct st_ntable *t,
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

static int st_nft_render_chain(const struct st_nmodel *m,
			       const struct st_nchain *c,
			       const struct st_instr_opts *o,
			       struct st_strbuf *b,
			       struct st_instr_summary *sum, char *err)
{
	const struct st_ntable *t = &m->tables[c->table];
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

	ret = st_make_tag(tag, c->base ? ST_HIT_POLICY : ST_HIT_RETURN, t->name,
			  c->name, 0, o->session, err);
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
			st_sum_skip(sum, t->name, c->name, orig[i], why);
			continue;
		}
		ret = st_make_tag(tag, ST_HIT_RULE, t->name, c->name, orig[i],
				  o->session, err);
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

	ret = st_make_tag(tag, ST_HIT_ENTER, t->name, c->name, 0, o->session,
			  err);
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

static int st_nft_render_model(const struct st_nmodel *m,
			       const struct st_instr_opts *o, char **out,
			       struct st_instr_summary *sum, char *err)
{
	struct st_strbuf b = {0};
	int ret = 0;

	for (size_t i = 0; i < m->nchains; i++) {
		if (!st_nchain_selected(m, &m->chains[i], o->flags))
			continue;
		ret = st_nft_render_chain(m, &m->chains[i], o, &b, sum, err);
		if (ret < 0)
			goto out;
	}
	if (b.len > 0)
		st_strbuf_puts(&b, "\n]}\n");
	*out = st_strbuf_take(&b);
	if (*out == NULL)
		ret = st_err(err, ENOMEM, "out of memory");
out:
	st_strbuf_free(&b);
	return ret;
}

int st_instr_render_insert_nft(const char *json, size_t len,
			       const struct st_instr_opts *o, char **out,
			       struct st_instr_summary *sum, char *err)
{
	struct st_instr_summary local;
	struct st_nmodel m;
	int ret;

	if (out != NULL)
		*out = NULL;
	if (sum == NULL)
		sum = &local;
	memset(sum, 0, sizeof(*sum));
	if (json == NULL || o == NULL || out == NULL)
		return st_err(err, EINVAL, "render: bad arguments");
	ret = st_nmodel_load(json, len, &m, err);
	if (ret < 0)
		return ret;
	ret = st_nft_render_model(&m, o, out, sum, err);
	st_nmodel_free(&m);
	return ret;
}

static int st_nft_render_remove(const char *live, size_t len,
				const uint32_t *set, size_t nset, char **out,
				unsigned int *nrules, char *err)
{
	struct st_nmodel m;
	struct st_strbuf b = {0};
	unsigned int count = 0;
	int ret;

	*out = NULL;
	*nrules = 0;
	ret = st_nmodel_load(live, len, &m, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < m.nchains; i++) {
		const struct st_nchain *c = &m.chains[i];
		const struct st_ntable *t = &m.tables[c->table];

		if (!st_ntable_native(t))
			continue;
		for (size_t k = 0; k < c->nrules; k++) {
			json_t *cmd = NULL;
			uint32_t s;

			if (!st_nft_rule_session(c->rules[k], &s) ||
			    !st_in_set(set, nset, s))
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
	st_nmodel_free(&m);
	return ret;
}

int st_instr_render_remove(enum st_backend backend, const char *live,
			   size_t len, uint32_t session, char **out,
			   unsigned int *nrules, char *err)
{
	unsigned int dummy;

	if (nrules == NULL)
		nrules = &dummy;
	if (live == NULL || out == NULL)
		return st_err(err, EINVAL, "render: bad arguments");
	switch (backend) {
	case ST_BACKEND_LEGACY:
	case ST_BACKEND_NFT:
		return st_ipt_render_remove(live, len, &session, 1, out, nrules,
					    err);
	case ST_BACKEND_NFTABLES:
		return st_nft_render_remove(live, len, &session, 1, out, nrules,
					    err);
	default:
		return st_err(err, EINVAL, "render: unknown backend");
	}
}

/* ---- verification sequences ----------------------------------------- */

/*
 * What an instrumented chain must read like, or what it reads like now:
 * one line per rule, ours as their tags, originals as their text (nft:
 * their handle); other sessions' rules are left out.  @post NULL: the
 * expected sequence for @pre instrumented with @o; else the actual one of
 * @post for the chains that @pre selects.  @ours counts this session's
 * rules anywhere in @post.
 */
static int st_ipt_sequence(const struct st_ruleset *pre,
			   const struct st_ruleset *post, enum st_family fam,
			   const struct st_instr_opts *o, struct st_strbuf *b,
			   unsigned int *ours, char *err)
{
	struct st_split *sp = NULL;
	struct st_rinfo *ri = NULL;
	char tag[ST_NFLOG_PREFIX_SIZE];
	int ret = 0;

	if (ours != NULL)
		*ours = 0;
	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t ci = 0; ci < st_ruleset_nchains(pre); ci++) {
		const struct st_chain *c = st_ruleset_chain(pre, ci);
		const struct st_chain *pc = NULL;
		unsigned int nown = 0;

		if (st_chain_fam(c) != fam ||
		    !st_ipt_table_involved(pre, c->table, fam, o->flags))
			continue;
		free(ri);
		ri = NULL;
		ret = st_ipt_chain_info(pre, c, sp, &ri, &nown, err);
		if (ret < 0)
			goto out;
		if (!st_chain_selected(c->name, c->builtin, nown, o->flags))
			continue;
		if (post == NULL) {
			ret = st_make_tag(tag, ST_HIT_ENTER, c->table, c->name,
					  0, o->session, err);
			if (ret < 0)
				goto out;
			st_strbuf_printf(b, "%s %s: %s\n", c->table, c->name,
					 tag);
			for (unsigned int i = 0; i < c->nrules; i++) {
				if (ri[i].session)
					continue;
				if (ri[i].skip == NULL) {
					ret = st_make_tag(tag, ST_HIT_RULE,
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
			ret = st_make_tag(
				tag, c->builtin ? ST_HIT_POLICY : ST_HIT_RETURN,
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
					st_tok_value(&sp->t[sp->prefix], tag,
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
	free(ri);
	free(sp);
	return ret;
}

/* The selected chains of @rs and their original rules: what must match. */
static int st_ipt_describe(const struct st_ruleset *rs, enum st_family fam,
			   unsigned int flags, struct st_strbuf *b, char *err)
{
	struct st_split *sp = NULL;
	struct st_rinfo *ri = NULL;
	int ret = 0;

	sp = malloc(sizeof(*sp));
	if (sp == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t ci = 0; ci < st_ruleset_nchains(rs); ci++) {
		const struct st_chain *c = st_ruleset_chain(rs, ci);
		unsigned int nown = 0;

		if (st_chain_fam(c) != fam ||
		    !st_ipt_table_involved(rs, c->table, fam, flags))
			continue;
		free(ri);
		ri = NULL;
		ret = st_ipt_chain_info(rs, c, sp, &ri, &nown, err);
		if (ret < 0)
			goto out;
		if (!st_chain_selected(c->name, c->builtin, nown, flags))
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

/* Log prefix of an nft rule, or NULL. */
static const char *st_nft_rule_prefix(json_t *rule)
{
	json_t *expr = json_object_get(rule, "expr");
	json_t *e = NULL;
	size_t i;

	json_array_foreach(expr, i, e)
	{
		json_t *log = json_object_get(e, "log");

		if (log != NULL)
			return st_jstr(log, "prefix");
	}
	return NULL;
}

static int st_nft_sequence(const struct st_nmodel *pre,
			   const struct st_nmodel *post,
			   const struct st_instr_opts *o, struct st_strbuf *b,
			   unsigned int *ours, char *err)
{
	char tag[ST_NFLOG_PREFIX_SIZE];
	int ret = 0;

	if (ours != NULL)
		*ours = 0;
	for (size_t ci = 0; ci < pre->nchains; ci++) {
		const struct st_nchain *c = &pre->chains[ci];
		const struct st_ntable *t = &pre->tables[c->table];
		const struct st_nchain *pc = NULL;
		unsigned int orig = 0;

		if (!st_nchain_selected(pre, c, o->flags))
			continue;
		if (post == NULL) {
			ret = st_make_tag(tag, ST_HIT_ENTER, t->name, c->name,
					  0, o->session, err);
			if (ret < 0)
				return ret;
			st_strbuf_printf(b, "%s %s: %s\n", t->name, c->name,
					 tag);
			for (size_t i = 0; i < c->nrules; i++) {
				json_t *r = c->rules[i];

				if (st_nft_rule_session(r, NULL))
					continue;
				orig++;
				if (st_nft_copyable(r, NULL) == NULL) {
					ret = st_make_tag(
						tag, ST_HIT_RULE, t->name,
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
			ret = st_make_tag(
				tag, c->base ? ST_HIT_POLICY : ST_HIT_RETURN,
				t->name, c->name, 0, o->session, err);
			if (ret < 0)
				return ret;
			st_strbuf_printf(b, "%s %s: %s\n", t->name, c->name,
					 tag);
			continue;
		}
		pc = st_nchain_find(post, t->family, t->name, c->name);
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

				if (st_ntable_native(
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

/*
 * Do the instrumented chains of the live dump still hold the rules that
 * the caller analysed (nft: the same handles in the same order)?
 */
static int st_nft_compare(const struct st_ruleset *want,
			  const struct st_nmodel *live, unsigned int flags,
			  char *err)
{
	for (size_t ci = 0; ci < live->nchains; ci++) {
		const struct st_nchain *c = &live->chains[ci];
		const struct st_ntable *t = &live->tables[c->table];
		const struct st_chain *wc = NULL;
		size_t k = 0;

		if (!st_nchain_selected(live, c, flags))
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
		    st_ntable_find(live, "inet", wc->table) >= 0 &&
		    st_nchain_find(live, "inet", wc->table, wc->name) == NULL)
			return st_err(err, ESTALE,
				      "the rules changed since they were "
				      "read: chain %s %s is gone",
				      wc->table, wc->name);
	}
	return 0;
}

/* ---- running the tools ---------------------------------------------- */

struct st_slot {
	bool used;
	bool done; /* detached */
	char *snapshot;
	unsigned int nrules;
};

struct st_instr {
	int netns_fd;
	enum st_backend backend;
	uint32_t session;
	uint16_t group;
	unsigned int flags;
	unsigned long long ino;
	char *lock_dir;
	char *lock_path;
	int lock_fd;
	bool attached;
	struct st_slot slot[2]; /* iptables: IPv4, IPv6; nftables: [0] */
	struct st_instr_summary sum;
};

static int st_nslots(enum st_backend b)
{
	return b == ST_BACKEND_NFTABLES ? 1 : 2;
}

static const char *st_tool(enum st_backend b, int slot, bool restore)
{
	static const char *const names[2][2][2] = {
		{{"iptables-legacy-save", "iptables-legacy-restore"},
		 {"ip6tables-legacy-save", "ip6tables-legacy-restore"}},
		{{"iptables-nft-save", "iptables-nft-restore"},
		 {"ip6tables-nft-save", "ip6tables-nft-restore"}},
	};

	if (b == ST_BACKEND_NFTABLES)
		return "nft";
	return names[b == ST_BACKEND_NFT][slot][restore];
}

static const char *st_slot_name(enum st_backend b, int slot)
{
	if (b == ST_BACKEND_NFTABLES)
		return "nftables";
	return st_tool(b, slot, false);
}

static int st_run(int netns_fd, const char *const *argv, const char *input,
		  size_t inlen, char **out, char *err)
{
	struct st_spawn_result res;
	int ret;

	if (out != NULL)
		*out = NULL;
	ret = st_spawn((char *const *)argv, netns_fd, input, inlen,
		       ST_RUN_TIMEOUT_MS, &res, err);
	if (ret < 0)
		return ret;
	if (res.status != 0) {
		char msg[300];
		const char *e = res.errout != NULL && res.errout[0] != '\0'
					? res.errout
					: (res.out != NULL ? res.out : "");
		size_t n = 0;

		/* Several lines ("line 3 failed") become one. */
		for (; *e != '\0' && n + 1 < sizeof(msg); e++)
			msg[n++] = *e == '\n' ? ' ' : *e;
		while (n > 0 && msg[n - 1] == ' ')
			n--;
		msg[n] = '\0';
		ret = st_err(err, EIO, "%s failed (exit status %d): %s",
			     argv[0], res.status, msg);
		goto out;
	}
	if (out != NULL) {
		*out = res.out != NULL ? res.out : strdup("");
		res.out = NULL;
		if (*out == NULL)
			ret = st_err(err, ENOMEM, "out of memory");
	}
out:
	st_spawn_result_free(&res);
	return ret;
}

/* What removal works from: save text, or nft JSON. */
static int st_read_dump(int fd, enum st_backend b, int slot, char **out,
			char *err)
{
	const char *save[] = {st_tool(b, slot, false), NULL};
	const char *nft[] = {"nft", "-j", "list", "ruleset", NULL};

	return st_run(fd, b == ST_BACKEND_NFTABLES ? nft : save, NULL, 0, out,
		      err);
}

/* The comparable form of the rules (the dump itself for iptables). */
static int st_read_norm(int fd, enum st_backend b, const char *dump, char **out,
			char *err)
{
	const char *nft[] = {"nft", "-s", "list", "ruleset", NULL};
	char *text = NULL;
	int ret;

	if (b != ST_BACKEND_NFTABLES) {
		if (dump == NULL)
			return st_err(err, EINVAL, "no rules to normalise");
		return st_instr_normalize(b, dump, strlen(dump), out, err);
	}
	ret = st_run(fd, nft, NULL, 0, &text, err);
	if (ret == 0)
		ret = st_instr_normalize(b, text, strlen(text), out, err);
	free(text);
	return ret;
}

static int st_apply(int fd, enum st_backend b, int slot, const char *txn,
		    char *err)
{
	const char *restore[] = {st_tool(b, slot, true), "--noflush", "-w",
				 "10", NULL};
	const char *nft[] = {"nft", "-j", "-f", "-", NULL};

	return st_run(fd, b == ST_BACKEND_NFTABLES ? nft : restore, txn,
		      strlen(txn), NULL, err);
}

static int st_render_remove_set(enum st_backend b, const char *dump,
				const uint32_t *set, size_t nset, char **out,
				unsigned int *n, char *err)
{
	if (b == ST_BACKEND_NFTABLES)
		return st_nft_render_remove(dump, strlen(dump), set, nset, out,
					    n, err);
	return st_ipt_render_remove(dump, strlen(dump), set, nset, out, n, err);
}

/*
 * Remove every rule of the sessions in @set from one slot and check that
 * none is left.
 */
static int st_remove_set(int fd, enum st_backend b, int slot,
			 const uint32_t *set, size_t nset,
			 unsigned int *removed, char *err)
{
	char *dump = NULL, *txn = NULL;
	unsigned int n = 0, left = 0;
	int ret;

	if (removed != NULL)
		*removed = 0;
	ret = st_read_dump(fd, b, slot, &dump, err);
	if (ret == 0)
		ret = st_render_remove_set(b, dump, set, nset, &txn, &n, err);
	if (ret < 0 || n == 0)
		goto out;
	ret = st_apply(fd, b, slot, txn, err);
	if (ret < 0)
		goto out;
	free(dump);
	free(txn);
	dump = txn = NULL;
	ret = st_read_dump(fd, b, slot, &dump, err);
	if (ret == 0)
		ret = st_render_remove_set(b, dump, set, nset, &txn, &left,
					   err);
	if (ret == 0 && left > 0)
		ret = st_err(err, EIO,
			     "%u sidecar-trace rules are still in the %s rules "
			     "after removing them",
			     left, st_slot_name(b, slot));
	if (ret == 0 && removed != NULL)
		*removed = n;
out:
	free(dump);
	free(txn);
	return ret;
}

/* ---- session locks -------------------------------------------------- */

static void st_lock_name(char *buf, size_t size, const char *dir,
			 unsigned long long ino, uint32_t session)
{
	snprintf(buf, size, "%s/%llu-%08" PRIx32 ".lock", dir, ino, session);
}

static int st_random_session(uint32_t *s)
{
	do {
		if (getrandom(s, sizeof(*s), 0) != (ssize_t)sizeof(*s))
			return -errno;
	} while (*s == 0);
	return 0;
}

/* Take the lock of a new session; a random id is redrawn when taken. */
static int st_lock_take(struct st_instr *in, uint32_t fixed, char *err)
{
	char path[512];
	int ret = 0;

	if (mkdir(in->lock_dir, 0700) < 0 && errno != EEXIST)
		return st_err(err, errno, "%s: %s", in->lock_dir,
			      strerror(errno));
	for (int tries = 0; tries < 16; tries++) {
		struct stat a, b;
		uint32_t s = fixed;
		int fd;

		if (s == 0) {
			ret = st_random_session(&s);
			if (ret < 0)
				return st_err(err, -ret, "getrandom: %s",
					      strerror(-ret));
		}
		st_lock_name(path, sizeof(path), in->lock_dir, in->ino, s);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd < 0)
			return st_err(err, errno, "%s: %s", path,
				      strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			close(fd);
			if (e != EWOULDBLOCK)
				return st_err(err, e, "%s: flock: %s", path,
					      strerror(e));
			if (fixed != 0)
				return st_err(err, EBUSY,
					      "session %08" PRIx32
					      " is running on this target",
					      fixed);
			continue;
		}
		/* A cleanup may have unlinked it between open and flock. */
		if (fstat(fd, &a) < 0 || stat(path, &b) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		in->lock_path = strdup(path);
		if (in->lock_path == NULL) {
			close(fd);
			return st_err(err, ENOMEM, "out of memory");
		}
		in->lock_fd = fd;
		in->session = s;
		return 0;
	}
	return st_err(err, EBUSY, "%s: could not take a session lock",
		      in->lock_dir);
}

static int st_lock_write(struct st_instr *in, char *err)
{
	char buf[160];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "session=%08" PRIx32 "\ngroup=%u\nbackend=%s\npid=%ld\n",
		     in->session, (unsigned int)in->group,
		     st_backend_name(in->backend), (long)getpid());
	if (ftruncate(in->lock_fd, 0) < 0 ||
	    pwrite(in->lock_fd, buf, (size_t)n, 0) != n)
		return st_err(err, errno, "%s: %s", in->lock_path,
			      strerror(errno));
	return 0;
}

static void st_lock_release(struct st_instr *in, bool remove)
{
	if (in->lock_fd < 0)
		return;
	/* Unlink while still holding it: nobody can take a stale file. */
	if (remove && in->lock_path != NULL)
		unlink(in->lock_path);
	close(in->lock_fd);
	in->lock_fd = -1;
}

/* Groups named by the lock files of other sessions on this target. */
static void st_lock_groups(const char *dir, unsigned long long ino,
			   uint32_t self, uint8_t *groups)
{
	char prefix[32], own[64];
	struct dirent *de = NULL;
	DIR *d = NULL;

	d = opendir(dir);
	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%llu-", ino);
	snprintf(own, sizeof(own), "%llu-%08" PRIx32 ".lock", ino, self);
	while ((de = readdir(d)) != NULL) {
		char buf[256];
		const char *g = NULL;
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    strcmp(de->d_name, own) == 0)
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		g = strstr(buf, "group=");
		if (g != NULL)
			st_group_mark(groups, atoi(g + 6));
	}
	closedir(d);
}

/*
 * Is a session alive?  1: another process holds its lock.  0: dead; its
 * lock is now held through *fd (or *fd = -1 when there is no lock file).
 */
static int st_lock_probe(const char *dir, unsigned long long ino,
			 uint32_t session, int *fd)
{
	char path[512];

	*fd = -1;
	st_lock_name(path, sizeof(path), dir, ino, session);
	*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return 0;
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		return 1;
	}
	return 0;
}

static int st_netns_ino(int fd, unsigned long long *ino, char *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return st_err(err, errno, "target namespace: %s",
			      strerror(errno));
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

/* ---- attach, check, detach ------------------------------------------ */

/* "err; what: more", cut to the buffer (cutting is expected here). */
static void st_err_append(char *err, const char *what, const char *more)
{
	const char *parts[] = {"; ", what, ": ", more};
	size_t n;

	if (err == NULL)
		return;
	n = strlen(err);
	for (size_t i = 0; i < ST_ARRAY_SIZE(parts); i++) {
		if (n + 1 >= ST_ERRBUF_SIZE)
			break;
		st_strlcpy(err + n, parts[i], ST_ERRBUF_SIZE - n);
		n += strlen(err + n);
	}
}

/* Take out whatever this session inserted, after a failed attach. */
static void st_rollback(struct st_instr *in, char *err)
{
	char err2[ST_ERRBUF_SIZE];

	for (int s = 0; s < st_nslots(in->backend); s++) {
		if (!in->slot[s].used)
			continue;
		err2[0] = '\0';
		if (st_remove_set(in->netns_fd, in->backend, s, &in->session, 1,
				  NULL, err2) < 0)
			st_err_append(err,
				      "removing the inserted rules failed too",
				      err2);
	}
}

static int st_instr_new(struct st_instr **out,
			const struct st_instr_config *cfg, char *err)
{
	struct st_instr *in = NULL;
	int ret = 0;

	*out = NULL;
	if (cfg->lock_dir != NULL && strlen(cfg->lock_dir) > 256)
		return st_err(err, ENAMETOOLONG,
			      "%s: lock directory name too "
			      "long",
			      cfg->lock_dir);
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return st_err(err, ENOMEM, "out of memory");
	in->lock_fd = -1;
	in->backend = cfg->backend;
	in->flags = cfg->flags & ~ST_INSTR_F_FORCE;
	/* Our own reference keeps the namespace alive until detach. */
	in->netns_fd = fcntl(cfg->netns_fd, F_DUPFD_CLOEXEC, 3);
	if (in->netns_fd < 0) {
		ret = st_err(err, errno, "target namespace: %s",
			     strerror(errno));
		goto out;
	}
	ret = st_netns_ino(in->netns_fd, &in->ino, err);
	if (ret < 0)
		goto out;
	in->lock_dir = strdup(cfg->lock_dir != NULL ? cfg->lock_dir
						    : ST_INSTR_LOCK_DIR);
	if (in->lock_dir == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	*out = in;
	in = NULL;
out:
	st_instr_free(in);
	return ret;
}

/* Read, compare and snapshot one iptables family before inserting. */
static int st_attach_ipt_read(struct st_instr *in,
			      const struct st_instr_config *cfg, int slot,
			      struct st_ruleset **pre, char **dump,
			      uint8_t *groups, char *err)
{
	enum st_family fam = slot == 0 ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6;
	struct st_strbuf want = {0}, have = {0};
	struct st_ipt_scan sc = {0};
	char msg[300];
	int ret = 0;

	if (cfg->rules != NULL) {
		ret = st_ipt_describe(cfg->rules, fam, in->flags, &want, err);
		if (ret < 0 || want.len == 0)
			goto out; /* nothing of that family to instrument */
	}
	ret = st_read_dump(in->netns_fd, in->backend, slot, dump, err);
	if (ret < 0) {
		/* Without a ruleset to go by, a missing IPv6 side is no loss. */
		if (cfg->rules == NULL && slot == 1)
			ret = 0;
		goto out;
	}
	*pre = st_ruleset_new();
	if (*pre == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	ret = st_rules_load_buf(*pre, *dump, strlen(*dump),
				st_tool(in->backend, slot, false), err);
	if (ret < 0)
		goto out;
	ret = st_ipt_describe(*pre, fam, in->flags, &have, err);
	if (ret < 0)
		goto out;
	if (cfg->rules != NULL &&
	    st_instr_diff(want.p ? want.p : "", have.p ? have.p : "", msg,
			  sizeof(msg))) {
		ret = st_err(err, ESTALE,
			     "the %s rules changed since they were read (%s); "
			     "read them again",
			     st_slot_name(in->backend, slot), msg);
		goto out;
	}
	if (have.len == 0)
		goto out;
	ret = st_ipt_scan(*dump, strlen(*dump), &sc, groups, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i].session_rule && sc.v[i].session == in->session) {
			ret = st_err(err, EEXIST,
				     "session %08" PRIx32
				     " already has rules in the target",
				     in->session);
			goto out;
		}
	ret = st_instr_normalize(in->backend, *dump, strlen(*dump),
				 &in->slot[slot].snapshot, err);
	if (ret == 0)
		in->slot[slot].used = true;
out:
	free(sc.v);
	st_strbuf_free(&want);
	st_strbuf_free(&have);
	return ret;
}

/* Read, compare and snapshot the native rules; @pre is loaded on success. */
static int st_attach_nft_read(struct st_instr *in,
			      const struct st_instr_config *cfg,
			      struct st_nmodel *pre, char **dump,
			      uint8_t *groups, char *err)
{
	int ret;

	memset(pre, 0, sizeof(*pre));
	ret = st_read_dump(in->netns_fd, in->backend, 0, dump, err);
	if (ret < 0)
		return ret;
	ret = st_nmodel_load(*dump, strlen(*dump), pre, err);
	if (ret < 0)
		return ret;
	if (cfg->rules != NULL) {
		ret = st_nft_compare(cfg->rules, pre, in->flags, err);
		if (ret < 0)
			goto out;
	}
	for (size_t ci = 0; ci < pre->nchains; ci++)
		for (size_t i = 0; i < pre->chains[ci].nrules; i++) {
			json_t *r = pre->chains[ci].rules[i];
			json_t *e = NULL;
			uint32_t s;
			size_t k;

			if (st_nft_rule_session(r, &s) && s == in->session) {
				ret = st_err(err, EEXIST,
					     "session %08" PRIx32
					     " already has rules in the target",
					     in->session);
				goto out;
			}
			json_array_foreach(json_object_get(r, "expr"), k, e)
			{
				json_t *g = json_object_get(
					json_object_get(e, "log"), "group");

				if (json_is_integer(g))
					st_group_mark(
						groups,
						(int)json_integer_value(g));
			}
		}
	ret = st_read_norm(in->netns_fd, in->backend, NULL,
			   &in->slot[0].snapshot, err);
	if (ret == 0)
		in->slot[0].used = true;
out:
	if (ret < 0)
		st_nmodel_free(pre);
	return ret;
}

/* After inserting: every instrumented chain must read as expected. */
static int st_attach_verify(struct st_instr *in, int slot,
			    const struct st_ruleset *pre_ipt,
			    const struct st_nmodel *pre_nft,
			    const struct st_instr_opts *o, char *err)
{
	enum st_family fam = slot == 0 ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6;
	struct st_strbuf want = {0}, have = {0};
	struct st_ruleset *post = NULL;
	struct st_nmodel pm;
	bool pm_loaded = false;
	char *dump = NULL;
	char msg[300];
	unsigned int ours = 0;
	int ret;

	ret = st_read_dump(in->netns_fd, in->backend, slot, &dump, err);
	if (ret < 0)
		goto out;
	if (in->backend == ST_BACKEND_NFTABLES) {
		ret = st_nmodel_load(dump, strlen(dump), &pm, err);
		if (ret < 0)
			goto out;
		pm_loaded = true;
		ret = st_nft_sequence(pre_nft, NULL, o, &want, NULL, err);
		if (ret == 0)
			ret = st_nft_sequence(pre_nft, &pm, o, &have, &ours,
					      err);
	} else {
		post = st_ruleset_new();
		if (post == NULL) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto out;
		}
		ret = st_rules_load_buf(post, dump, strlen(dump),
					st_tool(in->backend, slot, false), err);
		if (ret == 0)
			ret = st_ipt_sequence(pre_ipt, NULL, fam, o, &want,
					      NULL, err);
		if (ret == 0)
			ret = st_ipt_sequence(pre_ipt, post, fam, o, &have,
					      &ours, err);
	}
	if (ret < 0)
		goto out;
	if (st_instr_diff(want.p ? want.p : "", have.p ? have.p : "", msg,
			  sizeof(msg)))
		ret = st_err(err, EAGAIN,
			     "the %s rules changed while inserting (%s)",
			     st_slot_name(in->backend, slot), msg);
	else if (ours != in->slot[slot].nrules)
		ret = st_err(err, EAGAIN,
			     "%u rules of session %08" PRIx32
			     " found in the %s rules, %u inserted",
			     ours, in->session, st_slot_name(in->backend, slot),
			     in->slot[slot].nrules);
out:
	if (pm_loaded)
		st_nmodel_free(&pm);
	st_ruleset_free(post);
	st_strbuf_free(&want);
	st_strbuf_free(&have);
	free(dump);
	return ret;
}

int st_instr_attach(struct st_instr **out, const struct st_instr_config *cfg,
		    char *err)
{
	struct st_instr *in = NULL;
	struct st_ruleset *pre[2] = {NULL, NULL};
	struct st_nmodel nm;
	bool nm_loaded = false;
	char *dump[2] = {NULL, NULL};
	char *txn[2] = {NULL, NULL};
	uint8_t *groups = NULL;
	struct st_instr_opts o;
	bool any = false;
	int ret = 0;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || cfg == NULL || cfg->netns_fd < 0 ||
	    cfg->group < -1 || cfg->group > 65535)
		return st_err(err, EINVAL, "attach: bad arguments");
	if (cfg->backend != ST_BACKEND_LEGACY &&
	    cfg->backend != ST_BACKEND_NFT &&
	    cfg->backend != ST_BACKEND_NFTABLES)
		return st_err(err, EINVAL, "attach: no backend given");
	if (cfg->rules != NULL &&
	    st_ruleset_backend(cfg->rules) != ST_BACKEND_UNKNOWN &&
	    st_ruleset_backend(cfg->rules) != cfg->backend)
		return st_err(err, EINVAL,
			      "attach: the rules were read from %s, not %s",
			      st_backend_name(st_ruleset_backend(cfg->rules)),
			      st_backend_name(cfg->backend));
	ret = st_instr_new(&in, cfg, err);
	if (ret < 0)
		return ret;
	groups = calloc(ST_GROUP_BITS / 8, 1);
	if (groups == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	ret = st_lock_take(in, cfg->session, err);
	if (ret < 0)
		goto out;

	if (in->backend == ST_BACKEND_NFTABLES) {
		ret = st_attach_nft_read(in, cfg, &nm, &dump[0], groups, err);
		nm_loaded = ret == 0;
		if (ret < 0)
			goto out;
	} else {
		for (int s = 0; s < 2; s++) {
			ret = st_attach_ipt_read(in, cfg, s, &pre[s], &dump[s],
						 groups, err);
			if (ret < 0)
				goto out;
		}
	}
	st_lock_groups(in->lock_dir, in->ino, in->session, groups);
	if (cfg->group >= 0) {
		in->group = (uint16_t)cfg->group;
	} else {
		unsigned int g = ST_INSTR_GROUP_BASE;

		while (g < ST_GROUP_BITS && st_group_used(groups, g))
			g++;
		if (g >= ST_GROUP_BITS) {
			ret = st_err(err, EBUSY, "no free NFLOG group");
			goto out;
		}
		in->group = (uint16_t)g;
	}
	ret = st_lock_write(in, err);
	if (ret < 0)
		goto out;
	if (cfg->on_group != NULL) {
		ret = cfg->on_group(in->group, cfg->on_group_data, err);
		if (ret < 0)
			goto out;
	}

	o.session = in->session;
	o.group = in->group;
	o.flags = in->flags;
	for (int s = 0; s < st_nslots(in->backend); s++) {
		struct st_instr_summary sum;

		if (!in->slot[s].used)
			continue;
		memset(&sum, 0, sizeof(sum));
		if (in->backend == ST_BACKEND_NFTABLES)
			ret = st_nft_render_model(&nm, &o, &txn[s], &sum, err);
		else
			ret = st_instr_render_insert(pre[s],
						     s == 0 ? ST_FAMILY_IPV4
							    : ST_FAMILY_IPV6,
						     &o, &txn[s], &sum, err);
		if (ret < 0)
			goto out;
		if (txn[s][0] == '\0') {
			in->slot[s].used = false;
			continue;
		}
		any = true;
		in->slot[s].nrules = sum.nrules;
		in->sum.nchains += sum.nchains;
		in->sum.nrules += sum.nrules;
		in->sum.nhits += sum.nhits;
		in->sum.nskipped += sum.nskipped;
		if (sum.skipped[0] != '\0') {
			size_t used = strlen(in->sum.skipped);

			snprintf(in->sum.skipped + used,
				 sizeof(in->sum.skipped) - used, "%s%s",
				 used ? "; " : "", sum.skipped);
		}
	}
	if (!any) {
		ret = st_err(err, ENOENT,
			     "no Istio chains to instrument in the target's %s "
			     "rules",
			     st_backend_name(in->backend));
		goto out;
	}
	for (int s = 0; s < st_nslots(in->backend); s++) {
		if (!in->slot[s].used)
			continue;
		ret = st_apply(in->netns_fd, in->backend, s, txn[s], err);
		if (ret == 0)
			ret = st_attach_verify(in, s, pre[s],
					       nm_loaded ? &nm : NULL, &o, err);
		if (ret < 0) {
			st_rollback(in, err);
			goto out;
		}
	}
	in->attached = true;
	*out = in;
	in = NULL;
out:
	if (in != NULL)
		st_lock_release(in, true);
	st_instr_free(in);
	if (nm_loaded)
		st_nmodel_free(&nm);
	for (int s = 0; s < 2; s++) {
		st_ruleset_free(pre[s]);
		free(dump[s]);
		free(txn[s]);
	}
	free(groups);
	return ret;
}

int st_instr_check(struct st_instr *in, struct st_instr_report *rep, char *err)
{
	char *dump = NULL, *norm = NULL, *txn = NULL;
	char msg[200];
	int ret = 0;

	if (rep != NULL)
		memset(rep, 0, sizeof(*rep));
	if (in == NULL || rep == NULL)
		return st_err(err, EINVAL, "check: bad arguments");
	if (!in->attached)
		return 0;
	for (int s = 0; s < st_nslots(in->backend); s++) {
		unsigned int n = 0;

		if (!in->slot[s].used || in->slot[s].done)
			continue;
		ret = st_read_dump(in->netns_fd, in->backend, s, &dump, err);
		if (ret == 0)
			ret = st_read_norm(in->netns_fd, in->backend, dump,
					   &norm, err);
		if (ret == 0)
			ret = st_render_remove_set(in->backend, dump,
						   &in->session, 1, &txn, &n,
						   err);
		if (ret < 0)
			goto out;
		rep->present += n;
		if (st_instr_diff(in->slot[s].snapshot, norm, msg,
				  sizeof(msg)) &&
		    !rep->changed) {
			rep->changed = true;
			snprintf(rep->change, sizeof(rep->change), "%s: %s",
				 st_slot_name(in->backend, s), msg);
		}
		free(dump);
		free(norm);
		free(txn);
		dump = norm = txn = NULL;
	}
out:
	free(dump);
	free(norm);
	free(txn);
	return ret;
}

static int st_detach_slot(struct st_instr *in, int s,
			  struct st_instr_report *rep, char *err)
{
	char *dump = NULL, *norm1 = NULL, *norm2 = NULL, *txn = NULL;
	const char *name = st_slot_name(in->backend, s);
	unsigned int n = 0, left = 0;
	char msg[200];
	int ret;

	ret = st_read_dump(in->netns_fd, in->backend, s, &dump, err);
	if (ret == 0)
		ret = st_read_norm(in->netns_fd, in->backend, dump, &norm1,
				   err);
	if (ret == 0)
		ret = st_render_remove_set(in->backend, dump, &in->session, 1,
					   &txn, &n, err);
	if (ret < 0)
		goto out;
	if (st_instr_diff(in->slot[s].snapshot, norm1, msg, sizeof(msg)) &&
	    !rep->changed) {
		rep->changed = true;
		snprintf(rep->change, sizeof(rep->change), "%s: %s", name, msg);
	}
	if (n > 0) {
		ret = st_apply(in->netns_fd, in->backend, s, txn, err);
		if (ret < 0)
			goto out;
	}
	free(dump);
	free(txn);
	dump = txn = NULL;
	ret = st_read_dump(in->netns_fd, in->backend, s, &dump, err);
	if (ret == 0)
		ret = st_read_norm(in->netns_fd, in->backend, dump, &norm2,
				   err);
	if (ret == 0)
		ret = st_render_remove_set(in->backend, dump, &in->session, 1,
					   &txn, &left, err);
	if (ret < 0)
		goto out;
	if (left > 0) {
		ret = st_err(err, EIO,
			     "%u rules of session %08" PRIx32
			     " are still in the %s rules after removal",
			     left, in->session, name);
		goto out;
	}
	rep->removed += n;
	in->slot[s].done = true;
	/* Only our rules may have gone: anything else is our fault. */
	if (st_instr_diff(norm1, norm2, msg, sizeof(msg)))
		ret = st_err(err, EIO,
			     "after removing session %08" PRIx32
			     ", the %s rules are not as before: %s",
			     in->session, name, msg);
out:
	free(dump);
	free(norm1);
	free(norm2);
	free(txn);
	return ret;
}

int st_instr_detach(struct st_instr *in, struct st_instr_report *rep, char *err)
{
	struct st_instr_report local;
	char err2[ST_ERRBUF_SIZE];
	int first = 0;

	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if (in == NULL || !in->attached)
		return 0;
	for (int s = 0; s < st_nslots(in->backend); s++) {
		int ret;

		if (!in->slot[s].used || in->slot[s].done)
			continue;
		err2[0] = '\0';
		ret = st_detach_slot(in, s, rep, err2);
		if (ret < 0 && first == 0) {
			first = ret;
			if (err != NULL)
				memcpy(err, err2, ST_ERRBUF_SIZE);
		}
	}
	for (int s = 0; s < st_nslots(in->backend); s++)
		if (in->slot[s].used && !in->slot[s].done)
			return first; /* still attached: may be retried */
	in->attached = false;
	st_lock_release(in, true);
	return first;
}

void st_instr_free(struct st_instr *in)
{
	if (in == NULL)
		return;
	st_lock_release(in, false);
	if (in->netns_fd >= 0)
		close(in->netns_fd);
	for (int s = 0; s < 2; s++)
		free(in->slot[s].snapshot);
	free(in->lock_dir);
	free(in->lock_path);
	free(in);
}

uint32_t st_instr_session(const struct st_instr *in)
{
	return in != NULL ? in->session : 0;
}

uint16_t st_instr_group(const struct st_instr *in)
{
	return in != NULL ? in->group : 0;
}

const struct st_instr_summary *st_instr_summary(const struct st_instr *in)
{
	return in != NULL ? &in->sum : NULL;
}

/* ---- cleanup of dead sessions --------------------------------------- */

struct st_cleanup {
	const char *dir;
	unsigned long long ino;
	unsigned int flags;
	struct st_instr_stale *v; /* per session and backend */
	size_t n;
	struct {
		uint32_t session;
		bool live;
		int fd;
	} * locks;
	size_t nlocks;
};

static int st_cleanup_lock(struct st_cleanup *cl, uint32_t s, bool *live)
{
	void *p = NULL;
	int fd = -1;

	for (size_t i = 0; i < cl->nlocks; i++)
		if (cl->locks[i].session == s) {
			*live = cl->locks[i].live;
			return 0;
		}
	p = realloc(cl->locks, (cl->nlocks + 1) * sizeof(*cl->locks));
	if (p == NULL)
		return -ENOMEM;
	cl->locks = p;
	cl->locks[cl->nlocks].session = s;
	cl->locks[cl->nlocks].live = st_lock_probe(cl->dir, cl->ino, s, &fd);
	cl->locks[cl->nlocks].fd = fd;
	*live = cl->locks[cl->nlocks].live;
	cl->nlocks++;
	return 0;
}

static struct st_instr_stale *st_cleanup_entry(struct st_cleanup *cl,
					       uint32_t s, enum st_backend b)
{
	struct st_instr_stale *v = NULL;

	for (size_t i = 0; i < cl->n; i++)
		if (cl->v[i].session == s && cl->v[i].backend == b)
			return &cl->v[i];
	v = realloc(cl->v, (cl->n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	cl->v = v;
	v = &cl->v[cl->n++];
	memset(v, 0, sizeof(*v));
	v->session = s;
	v->backend = b;
	return v;
}

/* Sessions with rules in one dump, and how many rules each has. */
static int st_cleanup_collect(struct st_cleanup *cl, enum st_backend b,
			      const char *dump, uint32_t **set, size_t *nset,
			      char *err)
{
	uint32_t *list = NULL;
	size_t n = 0;
	int ret = 0;

	*set = NULL;
	*nset = 0;
	if (b == ST_BACKEND_NFTABLES) {
		struct st_nmodel m;

		ret = st_nmodel_load(dump, strlen(dump), &m, err);
		if (ret < 0)
			return ret;
		for (size_t ci = 0; ci < m.nchains && ret == 0; ci++)
			for (size_t i = 0; i < m.chains[ci].nrules; i++) {
				uint32_t s;
				uint32_t *l = NULL;

				if (!st_ntable_native(
					    &m.tables[m.chains[ci].table]) ||
				    !st_nft_rule_session(m.chains[ci].rules[i],
							 &s))
					continue;
				l = realloc(list, (n + 1) * sizeof(*l));
				if (l == NULL) {
					ret = st_err(err, ENOMEM,
						     "out of memory");
					break;
				}
				list = l;
				list[n++] = s;
			}
		st_nmodel_free(&m);
	} else {
		struct st_ipt_scan sc;

		ret = st_ipt_scan(dump, strlen(dump), &sc, NULL, err);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < sc.n; i++) {
			uint32_t *l = NULL;

			if (!sc.v[i].session_rule)
				continue;
			l = realloc(list, (n + 1) * sizeof(*l));
			if (l == NULL) {
				ret = st_err(err, ENOMEM, "out of memory");
				break;
			}
			list = l;
			list[n++] = sc.v[i].session;
		}
		free(sc.v);
	}
	if (ret < 0) {
		free(list);
		return ret;
	}
	/* Count per session, then keep each session once. */
	for (size_t i = 0; i < n; i++) {
		struct st_instr_stale *e = st_cleanup_entry(cl, list[i], b);

		if (e == NULL) {
			free(list);
			return st_err(err, ENOMEM, "out of memory");
		}
		e->nrules++;
	}
	for (size_t i = 0; i < n; i++)
		if (!st_in_set(list, *nset, list[i]))
			list[(*nset)++] = list[i];
	*set = list;
	return 0;
}

static int st_cleanup_slot(struct st_cleanup *cl, int netns_fd,
			   enum st_backend b, int slot, bool tolerant,
			   char *err)
{
	uint32_t *found = NULL, *dead = NULL;
	size_t nfound = 0, ndead = 0;
	char *dump = NULL;
	int ret;

	ret = st_read_dump(netns_fd, b, slot, &dump, err);
	if (ret < 0) {
		/* Looking everywhere: a backend that is not there is fine. */
		if (tolerant)
			ret = 0;
		goto out;
	}
	ret = st_cleanup_collect(cl, b, dump, &found, &nfound, err);
	if (ret < 0 || nfound == 0)
		goto out;
	dead = calloc(nfound, sizeof(*dead));
	if (dead == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nfound; i++) {
		bool live = false;

		if (st_cleanup_lock(cl, found[i], &live) < 0) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto out;
		}
		st_cleanup_entry(cl, found[i], b)->live = live;
		if (!live || (cl->flags & ST_INSTR_F_FORCE))
			dead[ndead++] = found[i];
	}
	if (ndead == 0)
		goto out;
	ret = st_remove_set(netns_fd, b, slot, dead, ndead, NULL, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ndead; i++)
		st_cleanup_entry(cl, dead[i], b)->removed = true;
out:
	free(dump);
	free(found);
	free(dead);
	return ret;
}

int st_instr_cleanup(int netns_fd, enum st_backend backend, unsigned int flags,
		     const char *lock_dir, struct st_instr_stale *found,
		     size_t max, size_t *nfound, char *err)
{
	static const enum st_backend all[] = {
		ST_BACKEND_LEGACY,
		ST_BACKEND_NFT,
		ST_BACKEND_NFTABLES,
	};
	struct st_cleanup cl;
	bool tolerant = backend == ST_BACKEND_UNKNOWN;
	int ret = 0;

	if (nfound != NULL)
		*nfound = 0;
	if (netns_fd < 0 || (found == NULL && max > 0))
		return st_err(err, EINVAL, "cleanup: bad arguments");
	memset(&cl, 0, sizeof(cl));
	cl.dir = lock_dir != NULL ? lock_dir : ST_INSTR_LOCK_DIR;
	if (strlen(cl.dir) > 256)
		return st_err(err, ENAMETOOLONG,
			      "%s: lock directory name too long", cl.dir);
	cl.flags = flags;
	ret = st_netns_ino(netns_fd, &cl.ino, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ST_ARRAY_SIZE(all); i++) {
		if (!tolerant && all[i] != backend)
			continue;
		for (int s = 0; s < st_nslots(all[i]); s++) {
			ret = st_cleanup_slot(&cl, netns_fd, all[i], s,
					      tolerant, err);
			if (ret < 0)
				goto out;
		}
	}
out:
	/* A dead session whose rules are all gone needs no lock file. */
	for (size_t i = 0; i < cl.nlocks; i++) {
		bool left = false;
		char path[512];

		if (cl.locks[i].fd < 0)
			continue;
		for (size_t k = 0; k < cl.n; k++)
			if (cl.v[k].session == cl.locks[i].session &&
			    !cl.v[k].removed)
				left = true;
		if (!left && ret == 0) {
			st_lock_name(path, sizeof(path), cl.dir, cl.ino,
				     cl.locks[i].session);
			unlink(path);
		}
		close(cl.locks[i].fd);
	}
	for (size_t i = 0; i < cl.n && i < max; i++)
		found[i] = cl.v[i];
	if (nfound != NULL)
		*nfound = cl.n;
	free(cl.locks);
	free(cl.v);
	return ret;
}
