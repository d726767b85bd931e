// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instr-tag.c - what marks the rules of a session: the comment
 * "sidecar-trace:<session>" that finds them again, the tag in the NFLOG
 * prefix that names what each one logs (record.h), and the NFLOG groups
 * that rules and sessions already use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "instr-int.h"

/* "sidecar-trace:" followed by exactly eight hex digits. */
bool st_itag_session(const char *s, uint32_t *out)
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

bool st_itag_in_set(const uint32_t *set, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/* Names go into quoted restore arguments and into tags: keep them plain. */
bool st_itag_name_ok(const char *s)
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

int st_itag_make(char *buf, enum st_hit_kind kind, const char *table,
		 const char *chain, unsigned int rule, uint32_t session,
		 char *err)
{
	return st_itag_make_mode(buf, kind, table, chain, rule, session, false,
				 err);
}

int st_itag_make_mode(char *buf, enum st_hit_kind kind, const char *table,
		      const char *chain, unsigned int rule, uint32_t session,
		      bool minimal, char *err)
{
	struct st_hit h;
	int ret;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.minimal = minimal;
	h.rule = rule;
	h.session = session;
	if (!st_itag_name_ok(table) || !st_itag_name_ok(chain))
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

void st_itag_group_mark(uint8_t *bits, int g)
{
	if (bits != NULL && g >= 0 && g < ST_GROUP_BITS)
		bits[g / 8] |= (uint8_t)(1u << (g % 8));
}

bool st_itag_group_used(const uint8_t *bits, unsigned int g)
{
	return (bits[g / 8] >> (g % 8)) & 1u;
}
