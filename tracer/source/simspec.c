// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * simspec.c - parsing the --simulate SPEC (grammar in simspec.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "simspec.h"

#define SS_WORD 96

struct ss_lex {
	const char *s;
	size_t pos;
	size_t col; /* 1-based column of the current word */
	char w[SS_WORD];
};

/* The next blank-separated word; false at the end or when too long. */
static int ss_next(struct ss_lex *lx, char *err)
{
	size_t n = 0;

	while (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t')
		lx->pos++;
	lx->col = lx->pos + 1;
	if (lx->s[lx->pos] == '\0')
		return 0;
	while (lx->s[lx->pos] != '\0' && lx->s[lx->pos] != ' ' &&
	       lx->s[lx->pos] != '\t') {
		if (n + 1 >= sizeof(lx->w))
			return st_err(
				err, EINVAL,
				"simulate spec, column %zu: word too long",
				lx->col);
		lx->w[n++] = lx->s[lx->pos++];
	}
	lx->w[n] = '\0';
	return 1;
}

static int ss_num(const char *s, uint64_t max, uint64_t *v)
{
	char *end = NULL;
	int base = 10;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (s[2] == '\0')
			return -EINVAL;
	}
	errno = 0;
	*v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || *v > max)
		return -EINVAL;
	return 0;
}

/* "1.2.3.4:80" or "[fd00::1]:80" */
static int ss_endpoint(const struct ss_lex *lx, uint8_t *family, uint8_t *addr,
		       uint16_t *port, char *err)
{
	char a[SS_WORD];
	const char *w = lx->w;
	const char *colon = NULL;
	uint64_t v = 0;
	size_t n = 0;

	if (w[0] == '[') {
		const char *close = strchr(w, ']');

		if (close == NULL || close[1] != ':')
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: expected "
				      "[IPV6]:PORT, got '%s'",
				      lx->col, w);
		n = (size_t)(close - w - 1);
		memcpy(a, w + 1, n);
		a[n] = '\0';
		colon = close + 1;
		*family = 6;
		if (inet_pton(AF_INET6, a, addr) != 1)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: bad IPv6 "
				      "address '%s'",
				      lx->col + 1, a);
	} else {
		colon = strrchr(w, ':');
		if (colon == NULL)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: expected "
				      "ADDRESS:PORT, got '%s'",
				      lx->col, w);
		n = (size_t)(colon - w);
		memcpy(a, w, n);
		a[n] = '\0';
		*family = 4;
		if (strchr(a, ':') != NULL)
			return st_err(
				err, EINVAL,
				"simulate spec, column %zu: write an IPv6 "
				"endpoint as [ADDRESS]:PORT, got '%s'",
				lx->col, w);
		if (inet_pton(AF_INET, a, addr) != 1)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: bad IPv4 "
				      "address '%s'",
				      lx->col, a);
	}
	if (ss_num(colon + 1, 65535, &v) < 0 || v == 0)
		return st_err(err, EINVAL,
			      "simulate spec, column %zu: bad port '%s' "
			      "(1-65535)",
			      lx->col + (size_t)(colon + 1 - w), colon + 1);
	*port = (uint16_t)v;
	return 0;
}

int st_simspec_parse(const char *s, struct st_simspec *out, char *err)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = {
		{"tcp", IPPROTO_TCP},
		{"udp", IPPROTO_UDP},
		{"sctp", IPPROTO_SCTP},
	};
	struct ss_lex lx = {s, 0, 0, ""};
	uint8_t fam = 0;
	size_t dcol = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return st_err(err, EINVAL, "simulate spec: empty");
	ret = ss_next(&lx, err);
	if (ret <= 0)
		return ret < 0 ? ret
			       : st_err(err, EINVAL,
					"simulate spec: empty; expected e.g. "
					"'tcp 10.0.0.5:43210 > 10.0.0.9:9080 "
					"uid 1000'");
	for (size_t i = 0; i < ST_ARRAY_SIZE(protos); i++)
		if (strcmp(lx.w, protos[i].name) == 0)
			out->proto = protos[i].proto;
	if (out->proto == 0)
		return st_err(err, EINVAL,
			      "simulate spec, column %zu: unknown protocol "
			      "'%s' (tcp, udp, sctp)",
			      lx.col, lx.w);
	ret = ss_next(&lx, err);
	if (ret <= 0)
		return ret < 0 ? ret
			       : st_err(err, EINVAL,
					"simulate spec, column %zu: expected "
					"the source ADDRESS:PORT",
					lx.col);
	ret = ss_endpoint(&lx, &out->family, out->src, &out->sport, err);
	if (ret < 0)
		return ret;
	ret = ss_next(&lx, err);
	if (ret <= 0 || (strcmp(lx.w, ">") != 0 && strcmp(lx.w, "->") != 0))
		return ret < 0 ? ret
			       : st_err(err, EINVAL,
					"simulate spec, column %zu: expected "
					"'>' between source and destination",
					lx.col);
	ret = ss_next(&lx, err);
	if (ret <= 0)
		return ret < 0 ? ret
			       : st_err(err, EINVAL,
					"simulate spec, column %zu: expected "
					"the destination ADDRESS:PORT",
					lx.col);
	dcol = lx.col;
	ret = ss_endpoint(&lx, &fam, out->dst, &out->dport, err);
	if (ret < 0)
		return ret;
	if (fam != out->family)
		return st_err(
			err, EINVAL,
			"simulate spec, column %zu: destination is IPv%u, "
			"source IPv%u",
			dcol, fam, out->family);
	while ((ret = ss_next(&lx, err)) > 0) {
		char key[SS_WORD];
		size_t kcol = lx.col;
		uint64_t v = 0;

		st_strlcpy(key, lx.w, sizeof(key));
		ret = ss_next(&lx, err);
		if (ret < 0)
			return ret;
		if (strcmp(key, "uid") != 0 && strcmp(key, "gid") != 0 &&
		    strcmp(key, "mark") != 0 && strcmp(key, "in") != 0 &&
		    strcmp(key, "out") != 0)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: unknown word "
				      "'%s' (uid, gid, mark, in, out)",
				      kcol, key);
		if (ret == 0)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: '%s' needs a "
				      "value",
				      kcol, key);
		if (strcmp(key, "in") == 0 || strcmp(key, "out") == 0) {
			char *dst = key[0] == 'i' ? out->iif : out->oif;

			if (dst[0] != '\0')
				return st_err(err, EINVAL,
					      "simulate spec, column %zu: '%s' "
					      "given twice",
					      kcol, key);
			if (strlen(lx.w) > ST_IFNAMSIZ - 1)
				return st_err(err, EINVAL,
					      "simulate spec, column %zu: "
					      "interface name '%s' too long",
					      lx.col, lx.w);
			st_strlcpy(dst, lx.w, ST_IFNAMSIZ + 1);
			continue;
		}
		if (ss_num(lx.w, UINT32_MAX, &v) < 0)
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: bad %s '%s'",
				      lx.col, key, lx.w);
		if ((key[0] == 'u' && out->has_uid) ||
		    (key[0] == 'g' && out->has_gid) ||
		    (key[0] == 'm' && out->has_mark))
			return st_err(err, EINVAL,
				      "simulate spec, column %zu: '%s' given "
				      "twice",
				      kcol, key);
		if (key[0] == 'u') {
			out->has_uid = true;
			out->uid = (uint32_t)v;
		} else if (key[0] == 'g') {
			out->has_gid = true;
			out->gid = (uint32_t)v;
		} else {
			out->has_mark = true;
			out->mark = (uint32_t)v;
		}
	}
	if (ret < 0)
		return ret;
	if (out->iif[0] != '\0' &&
	    (out->has_uid || out->has_gid || out->oif[0] != '\0'))
		return st_err(err, EINVAL,
			      "simulate spec: 'in' is for a packet arriving "
			      "from outside, which has no uid, gid or 'out'");
	if (out->iif[0] == '\0' && !out->has_uid && !out->has_gid &&
	    out->oif[0] == '\0')
		return st_err(err, EINVAL,
			      "simulate spec, column %zu: say 'uid N' (or "
			      "'gid N', 'out IF') for a packet the pod sends, "
			      "'in IF' for one it receives",
			      lx.col);
	out->outgoing = out->iif[0] == '\0';
	if (out->has_uid && !out->has_gid) {
		out->has_gid = true;
		out->gid = out->uid;
	} else if (out->has_gid && !out->has_uid) {
		out->has_uid = true;
		out->uid = out->gid;
	}
	return 0;
}

void st_simspec_format(const struct st_simspec *spec, char *buf, size_t size)
{
	char s[ST_FLOW_ADDR_SIZE];
	char d[ST_FLOW_ADDR_SIZE];
	const char *p = spec->proto == IPPROTO_UDP    ? "udp"
			: spec->proto == IPPROTO_SCTP ? "sctp"
						      : "tcp";
	size_t n = 0;
	int k = 0;

	if (size == 0)
		return;
	st_flow_addr_format(spec->family, spec->src, spec->sport, s, sizeof(s));
	st_flow_addr_format(spec->family, spec->dst, spec->dport, d, sizeof(d));
	k = snprintf(buf, size, "%s %s > %s", p, s, d);
	n = k < 0 ? 0 : (size_t)k;
#define SS_ADD(...)                                                   \
	do {                                                          \
		if (n < size) {                                       \
			k = snprintf(buf + n, size - n, __VA_ARGS__); \
			n += k < 0 ? 0 : (size_t)k;                   \
		}                                                     \
	} while (0)
	if (spec->has_uid)
		SS_ADD(" uid %u", spec->uid);
	if (spec->has_gid)
		SS_ADD(" gid %u", spec->gid);
	if (spec->has_mark)
		SS_ADD(" mark %#x", spec->mark);
	if (spec->iif[0] != '\0')
		SS_ADD(" in %s", spec->iif);
	if (spec->oif[0] != '\0')
		SS_ADD(" out %s", spec->oif);
#undef SS_ADD
}
