// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-norm.c - the comparable form of a dump (no counters, no rules of
 * any session) and the first line where two of them differ: how a change
 * by someone else is noticed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "instr-int.h"

static void st_norm_trim(const char *s, size_t *n)
{
	while (*n > 0 &&
	       (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
}

static int st_norm_ipt(const char *text, size_t len, char **out, char *err)
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
		st_norm_trim(s, &n);
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
					st_norm_trim(s, &n);
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

static int st_norm_nft(const char *text, size_t len, char **out, char *err)
{
	static const char mark[] = "comment \"" ST_INSTR_COMMENT_PREFIX;
	struct st_strbuf b = {0};
	size_t off = 0;

	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - off;

		off += n + 1;
		st_norm_trim(s, &n);
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
		return st_norm_nft(text, len, out, err);
	return st_norm_ipt(text, len, out, err);
}

static size_t st_norm_line(const char *s, const char **next)
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
		size_t la = st_norm_line(a, &na), lb = st_norm_line(b, &nb);

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
