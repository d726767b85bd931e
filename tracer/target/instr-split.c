// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-split.c - an iptables rule line as iptables-save writes it, split
 * into tokens: where the chain, the matches and the target are, and what
 * marks a rule of ours (a session comment) or an NFLOG rule (its group).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instr-int.h"

/*
 * Blanks separate tokens; double quotes group, and inside them a backslash
 * escapes the next character: what iptables-restore accepts and
 * iptables-save writes (a comment may hold " -j ").
 */
static int st_split_tokenize(const char *s, size_t n, struct st_split *sp)
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
		if (sp->n == ST_SPLIT_MAX_TOKS)
			return -E2BIG;
		sp->t[sp->n].p = s + start;
		sp->t[sp->n].len = i - start;
		sp->t[sp->n].quoted = quoted;
		sp->n++;
	}
	return 0;
}

static bool st_split_tok_is(const struct st_split_tok *t, const char *s)
{
	return !t->quoted && t->len == strlen(s) &&
	       memcmp(t->p, s, t->len) == 0;
}

/* The token's value: quotes removed, escapes resolved; truncated to fit. */
void st_split_value(const struct st_split_tok *t, char *buf, size_t size)
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

static const char *const st_split_stateful[] = {
	"statistic", "limit", "recent", "quota", "connlimit", "hashlimit",
};

/*
 * Split "[p:b] -A CHAIN <matches> -j TARGET <options>" (counters
 * optional) into its parts.
 */
int st_split_rule(const char *text, size_t len, struct st_split *sp)
{
	size_t i = 0;
	int ret;

	ret = st_split_tokenize(text, len, sp);
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
	if (i + 1 >= sp->n || !(st_split_tok_is(&sp->t[i], "-A") ||
				st_split_tok_is(&sp->t[i], "--append")))
		return -EINVAL;
	sp->chain = i + 1;
	sp->mbeg = i + 2;
	sp->tgt = sp->n;
	for (i = sp->mbeg; i < sp->n; i++) {
		const struct st_split_tok *t = &sp->t[i];
		bool last = i + 1 >= sp->n;

		if (sp->tgt == sp->n &&
		    (st_split_tok_is(t, "-j") || st_split_tok_is(t, "--jump") ||
		     st_split_tok_is(t, "-g") ||
		     st_split_tok_is(t, "--goto"))) {
			sp->tgt = i;
			if (!last && st_split_tok_is(&sp->t[i + 1], "NFLOG"))
				sp->nflog = true;
			continue;
		}
		if (last)
			continue;
		if (sp->tgt == sp->n && (st_split_tok_is(t, "-m") ||
					 st_split_tok_is(t, "--match"))) {
			for (size_t k = 0; k < ST_ARRAY_SIZE(st_split_stateful);
			     k++)
				if (st_split_tok_is(&sp->t[i + 1],
						    st_split_stateful[k]))
					sp->stateful = st_split_stateful[k];
		} else if (sp->tgt == sp->n &&
			   st_split_tok_is(t, "--comment")) {
			char v[64];
			uint32_t s;

			st_split_value(&sp->t[i + 1], v, sizeof(v));
			if (st_itag_session(v, &s)) {
				sp->session_rule = true;
				sp->session = s;
			}
		} else if (sp->nflog && st_split_tok_is(t, "--nflog-group")) {
			char v[16];
			char *end = NULL;
			unsigned long g;

			st_split_value(&sp->t[i + 1], v, sizeof(v));
			g = strtoul(v, &end, 10);
			if (end != v && *end == '\0' && g < ST_GROUP_BITS)
				sp->group = (int)g;
		} else if (sp->nflog && st_split_tok_is(t, "--nflog-prefix")) {
			sp->prefix = i + 1;
		}
	}
	if (sp->nflog && sp->group < 0)
		sp->group = 0; /* NFLOG's default */
	return 0;
}

/* The rule without "-A CHAIN" and counters, tokens joined by one blank. */
void st_split_key(const struct st_split *sp, struct st_strbuf *b)
{
	for (size_t i = sp->mbeg; i < sp->n; i++) {
		if (i > sp->mbeg)
			st_strbuf_putn(b, " ", 1);
		st_strbuf_putn(b, sp->t[i].p, sp->t[i].len);
	}
}

/* The matches of a rule, its comment dropped: " -p tcp -m tcp ..." */
void st_split_matches(const struct st_split *sp, struct st_strbuf *b)
{
	for (size_t i = sp->mbeg; i < sp->tgt; i++) {
		const struct st_split_tok *t = &sp->t[i];

		if (i + 1 < sp->tgt &&
		    (st_split_tok_is(t, "-m") ||
		     st_split_tok_is(t, "--match")) &&
		    st_split_tok_is(&sp->t[i + 1], "comment")) {
			i++;
			continue;
		}
		if (i + 1 < sp->tgt && st_split_tok_is(t, "--comment")) {
			i++;
			continue;
		}
		st_strbuf_putn(b, " ", 1);
		st_strbuf_putn(b, t->p, t->len);
	}
}
