// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nftjson.c - `nft -j list ruleset` into the rule model, through jansson.
 *
 * Each rule's expression list becomes matches (the "match" expressions and
 * the stateful statements) and one target: the most significant statement
 * or verdict, the others being kept in the target text.  Rule and target
 * text are rendered back in `nft list ruleset` syntax, without counters,
 * so that --explain shows what the user sees in nft's own listing.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules-int.h"

struct nft_table {
	const char *family; /* strings owned by the JSON document */
	const char *name;
	enum st_family fam;
	bool skip; /* arp, bridge, netdev: not IP rules */
};

struct nft_chainref {
	const char *family;
	const char *table;
	const char *name;
};

struct nft_parser {
	struct st_ruleset *rs;
	const char *name;
	char *err;
	size_t idx; /* index in the "nftables" array, for messages */
	struct nft_table *tables;
	size_t ntables;
	size_t tables_cap;
	struct nft_chainref *chains;
	size_t nchains;
	size_t chains_cap;
	struct st_strbuf text;
	struct st_strbuf ttext;
};

static int nft_fail(struct nft_parser *p, const char *fmt, ...)
	__st_printf(2, 3);

static int nft_fail(struct nft_parser *p, const char *fmt, ...)
{
	char msg[ST_ERRBUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_err(p->err, EINVAL, "%s: nftables[%zu]: %s", p->name, p->idx,
		      msg);
}

static int nft_nomem(struct nft_parser *p)
{
	return st_err(p->err, ENOMEM, "%s: out of memory", p->name);
}

/* The single key of an expression object: {"match": {...}} -> "match". */
static const char *nft_kind(json_t *e, json_t **val)
{
	void *it = NULL;

	*val = NULL;
	if (!json_is_object(e) || json_object_size(e) != 1)
		return NULL;
	it = json_object_iter(e);
	*val = json_object_iter_value(it);
	return json_object_iter_key(it);
}

static const char *nft_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- rendering in nft list syntax ----------------------------------- */

enum nft_fmt {
	NFT_DEC,    /* numbers in decimal, strings bare */
	NFT_HEX,    /* marks: 0x%08x */
	NFT_QUOTED, /* interface names: "lo" */
};

static void nft_dump(struct st_strbuf *sb, json_t *v)
{
	char *s = NULL;

	/* A key missing from a malformed expression. */
	if (v == NULL) {
		st_strbuf_printf(sb, "null");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL) {
		sb->oom = true;
		return;
	}
	st_strbuf_printf(sb, "%s", s);
	free(s);
}

/* meta keys nft prints without the "meta" keyword. */
static bool nft_meta_unqualified(const char *key)
{
	static const char *const keys[] = {
		"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static void nft_render(struct st_strbuf *sb, json_t *v, enum nft_fmt fmt);

static void nft_render_binop(struct st_strbuf *sb, const char *op, json_t *v,
			     enum nft_fmt fmt)
{
	if (!json_is_array(v) || json_array_size(v) != 2) {
		nft_dump(sb, v);
		return;
	}
	nft_render(sb, json_array_get(v, 0), fmt);
	st_strbuf_printf(sb, " %s ", op);
	nft_render(sb, json_array_get(v, 1), fmt);
}

static void nft_render(struct st_strbuf *sb, json_t *v, enum nft_fmt fmt)
{
	static const char *const binops[] = {"&", "|", "^", "<<", ">>"};
	const char *k = NULL;
	json_t *val = NULL;

	if (json_is_integer(v)) {
		if (fmt == NFT_HEX)
			st_strbuf_printf(sb, "0x%08" PRIx64,
					 (uint64_t)json_integer_value(v));
		else
			st_strbuf_printf(sb, "%" JSON_INTEGER_FORMAT,
					 json_integer_value(v));
		return;
	}
	if (json_is_string(v)) {
		if (fmt == NFT_QUOTED)
			st_strbuf_printf(sb, "\"%s\"", json_string_value(v));
		else
			st_strbuf_printf(sb, "%s", json_string_value(v));
		return;
	}
	if (json_is_array(v)) {
		/* Flags such as ct state: "established,related". */
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				st_strbuf_printf(sb, ",");
			nft_render(sb, json_array_get(v, i), fmt);
		}
		return;
	}
	k = nft_kind(v, &val);
	if (k == NULL) {
		nft_dump(sb, v);
		return;
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(binops); i++) {
		if (strcmp(k, binops[i]) == 0) {
			nft_render_binop(sb, k, val, fmt);
			return;
		}
	}
	if (strcmp(k, "set") == 0) {
		st_strbuf_printf(sb, "{ ");
		if (json_is_array(val)) {
			for (size_t i = 0; i < json_array_size(val); i++) {
				if (i > 0)
					st_strbuf_printf(sb, ", ");
				nft_render(sb, json_array_get(val, i), fmt);
			}
		} else {
			nft_render(sb, val, fmt);
		}
		st_strbuf_printf(sb, " }");
	} else if (strcmp(k, "range") == 0 && json_is_array(val) &&
		   json_array_size(val) == 2) {
		nft_render(sb, json_array_get(val, 0), fmt);
		st_strbuf_printf(sb, "-");
		nft_render(sb, json_array_get(val, 1), fmt);
	} else if (strcmp(k, "prefix") == 0 && nft_str(val, "addr") != NULL) {
		st_strbuf_printf(
			sb, "%s/%" JSON_INTEGER_FORMAT, nft_str(val, "addr"),
			json_integer_value(json_object_get(val, "len")));
	} else if (strcmp(k, "meta") == 0 && nft_str(val, "key") != NULL) {
		const char *key = nft_str(val, "key");

		st_strbuf_printf(sb, "%s%s",
				 nft_meta_unqualified(key) ? "" : "meta ", key);
	} else if (strcmp(k, "ct") == 0 && nft_str(val, "key") != NULL) {
		if (nft_str(val, "dir") != NULL)
			st_strbuf_printf(sb, "ct %s %s", nft_str(val, "dir"),
					 nft_str(val, "key"));
		else
			st_strbuf_printf(sb, "ct %s", nft_str(val, "key"));
	} else if (strcmp(k, "payload") == 0 &&
		   nft_str(val, "protocol") != NULL &&
		   nft_str(val, "field") != NULL) {
		st_strbuf_printf(sb, "%s %s", nft_str(val, "protocol"),
				 nft_str(val, "field"));
	} else {
		nft_dump(sb, v);
	}
}

/* How the right side of a match on @left is printed. */
static enum nft_fmt nft_fmt_of(json_t *left)
{
	json_t *val = NULL;
	const char *k = nft_kind(left, &val);
	const char *key = NULL;

	if (k == NULL)
		return NFT_DEC;
	if (strcmp(k, "&") == 0 || strcmp(k, "|") == 0)
		return nft_fmt_of(json_array_get(val, 0));
	key = nft_str(val, "key");
	if (key == NULL)
		return NFT_DEC;
	if (strcmp(key, "mark") == 0)
		return NFT_HEX;
	if (strcmp(k, "meta") == 0 &&
	    (strcmp(key, "iifname") == 0 || strcmp(key, "oifname") == 0))
		return NFT_QUOTED;
	return NFT_DEC;
}

static void nft_render_match(struct st_strbuf *sb, json_t *m)
{
	json_t *left = json_object_get(m, "left");
	const char *op = nft_str(m, "op");

	json_t *val = NULL;
	const char *lk = nft_kind(left, &val);
	/* nft spells "==" out only after a bitwise left side. */
	bool binop =
		lk != NULL && (strcmp(lk, "&") == 0 || strcmp(lk, "|") == 0 ||
			       strcmp(lk, "^") == 0);

	nft_render(sb, left, nft_fmt_of(left));
	if (op != NULL && ((strcmp(op, "==") != 0 && strcmp(op, "in") != 0) ||
			   (binop && strcmp(op, "==") == 0)))
		st_strbuf_printf(sb, " %s", op);
	st_strbuf_printf(sb, " ");
	nft_render(sb, json_object_get(m, "right"), nft_fmt_of(left));
}

static void nft_render_addr_port(struct st_strbuf *sb, json_t *st)
{
	const char *fam = nft_str(st, "family");
	const char *addr = nft_str(st, "addr");
	json_t *port = json_object_get(st, "port");

	st_strbuf_printf(sb, " to ");
	if (addr != NULL) {
		if (fam != NULL && strcmp(fam, "ip6") == 0 && port != NULL)
			st_strbuf_printf(sb, "[%s]", addr);
		else
			st_strbuf_printf(sb, "%s", addr);
	}
	if (port != NULL) {
		st_strbuf_printf(sb, ":");
		nft_render(sb, port, NFT_DEC);
	}
}

static void nft_render_stmt(struct st_strbuf *sb, const char *k, json_t *st)
{
	if (strcmp(k, "accept") == 0 || strcmp(k, "drop") == 0 ||
	    strcmp(k, "return") == 0 || strcmp(k, "continue") == 0 ||
	    strcmp(k, "notrack") == 0) {
		st_strbuf_printf(sb, "%s", k);
	} else if ((strcmp(k, "jump") == 0 || strcmp(k, "goto") == 0) &&
		   nft_str(st, "target") != NULL) {
		st_strbuf_printf(sb, "%s %s", k, nft_str(st, "target"));
	} else if (strcmp(k, "redirect") == 0 || strcmp(k, "masquerade") == 0) {
		st_strbuf_printf(sb, "%s", k);
		if (json_is_object(st) && json_object_get(st, "port") != NULL)
			nft_render_addr_port(sb, st);
	} else if ((strcmp(k, "tproxy") == 0 || strcmp(k, "dnat") == 0 ||
		    strcmp(k, "snat") == 0) &&
		   json_is_object(st)) {
		st_strbuf_printf(sb, "%s", k);
		if (nft_str(st, "family") != NULL)
			st_strbuf_printf(sb, " %s", nft_str(st, "family"));
		nft_render_addr_port(sb, st);
	} else if (strcmp(k, "mangle") == 0 && json_is_object(st)) {
		json_t *key = json_object_get(st, "key");

		nft_render(sb, key, NFT_DEC);
		st_strbuf_printf(sb, " set ");
		nft_render(sb, json_object_get(st, "value"), nft_fmt_of(key));
	} else if (strcmp(k, "log") == 0) {
		st_strbuf_printf(sb, "log");
		if (nft_str(st, "prefix") != NULL)
			st_strbuf_printf(sb, " prefix \"%s\"",
					 nft_str(st, "prefix"));
		if (json_is_integer(json_object_get(st, "group")))
			st_strbuf_printf(sb, " group %" JSON_INTEGER_FORMAT,
					 json_integer_value(
						 json_object_get(st, "group")));
		if (nft_str(st, "level") != NULL)
			st_strbuf_printf(sb, " level %s", nft_str(st, "level"));
	} else if (strcmp(k, "reject") == 0) {
		st_strbuf_printf(sb, "reject");
		if (nft_str(st, "type") != NULL)
			st_strbuf_printf(
				sb, " with %s %s", nft_str(st, "type"),
				nft_str(st, "expr") ? nft_str(st, "expr") : "");
	} else {
		json_t *obj = json_pack("{sO}", k, st);

		nft_dump(sb, obj);
		json_decref(obj);
	}
}

/* ---- matches -------------------------------------------------------- */

static bool nft_uint(json_t *v, uint64_t max, uint64_t *out)
{
	json_int_t i = 0;

	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return false;
	*out = (uint64_t)i;
	return true;
}

/* A port, {"range": [a, b]} or {"set": [...]} of those. */
static bool nft_ports(json_t *v, struct st_match *m, bool allow_set)
{
	json_t *val = NULL;
	const char *k = NULL;
	uint64_t lo = 0;
	uint64_t hi = 0;

	if (nft_uint(v, 65535, &lo)) {
		hi = lo;
	} else if ((k = nft_kind(v, &val)) != NULL && strcmp(k, "range") == 0 &&
		   json_is_array(val) && json_array_size(val) == 2 &&
		   nft_uint(json_array_get(val, 0), 65535, &lo) &&
		   nft_uint(json_array_get(val, 1), 65535, &hi) && lo <= hi) {
	} else if (allow_set && k != NULL && strcmp(k, "set") == 0) {
		if (!json_is_array(val))
			return nft_ports(val, m, false);
		if (json_array_size(val) == 0)
			return false;
		for (size_t i = 0; i < json_array_size(val); i++)
			if (!nft_ports(json_array_get(val, i), m, false))
				return false;
		return true;
	} else {
		return false;
	}
	if (m->nports == ST_MAX_PORTS)
		return false;
	m->ports[m->nports].lo = (uint16_t)lo;
	m->ports[m->nports].hi = (uint16_t)hi;
	m->nports++;
	return true;
}

/* {"&": [KEY, MASK]} or KEY itself: the mask (0xffffffff when absent). */
static json_t *nft_masked(json_t *left, uint32_t *mask)
{
	json_t *val = NULL;
	const char *k = nft_kind(left, &val);
	uint64_t v = 0;

	*mask = UINT32_MAX;
	if (k != NULL && strcmp(k, "&") == 0) {
		if (!json_is_array(val) || json_array_size(val) != 2 ||
		    !nft_uint(json_array_get(val, 1), UINT32_MAX, &v))
			return NULL;
		*mask = (uint32_t)v;
		return json_array_get(val, 0);
	}
	return left;
}

static bool nft_ctstate(json_t *v, uint32_t *bits)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
		{"invalid", ST_CT_INVALID},	    {"new", ST_CT_NEW},
		{"established", ST_CT_ESTABLISHED}, {"related", ST_CT_RELATED},
		{"untracked", ST_CT_UNTRACKED},
	};
	json_t *val = NULL;
	const char *k = NULL;

	if (json_is_string(v)) {
		for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++) {
			if (strcmp(json_string_value(v), names[i].name) == 0) {
				*bits |= names[i].bit;
				return true;
			}
		}
		return false;
	}
	if ((k = nft_kind(v, &val)) != NULL && strcmp(k, "set") == 0)
		return nft_ctstate(val, bits);
	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	for (size_t i = 0; i < json_array_size(v); i++)
		if (!nft_ctstate(json_array_get(v, i), bits))
			return false;
	return true;
}

static enum st_family nft_payload_family(const char *proto)
{
	if (strcmp(proto, "ip") == 0)
		return ST_FAMILY_IPV4;
	if (strcmp(proto, "ip6") == 0)
		return ST_FAMILY_IPV6;
	return ST_FAMILY_ANY;
}

/*
 * Translate one "match" into @m (already added, kind ST_M_UNKNOWN).
 * Return: false when it is not understood (the caller keeps it as text).
 * *@implied_proto is set for "tcp dport": nft adds "meta l4proto tcp".
 */
static bool nft_match(struct st_rule *r, struct st_match *m, json_t *mt,
		      enum st_family *fam, uint8_t *implied_proto)
{
	const char *op = nft_str(mt, "op");
	json_t *left = json_object_get(mt, "left");
	json_t *right = json_object_get(mt, "right");
	json_t *lv = NULL;
	json_t *key_expr = NULL;
	const char *lk = NULL;
	const char *key = NULL;
	uint32_t mask = UINT32_MAX;
	uint64_t v = 0;

	(void)r;
	if (op == NULL || left == NULL || right == NULL)
		return false;
	if (strcmp(op, "!=") == 0)
		m->neg = true;
	else if (strcmp(op, "==") != 0 && strcmp(op, "in") != 0)
		return false;
	key_expr = nft_masked(left, &mask);
	if (key_expr == NULL)
		return false;
	lk = nft_kind(key_expr, &lv);
	if (lk == NULL)
		return false;
	/* Only marks may be masked. */
	key = nft_str(lv, "key");
	if (mask != UINT32_MAX && (key == NULL || strcmp(key, "mark") != 0))
		return false;

	if (strcmp(lk, "payload") == 0) {
		const char *proto = nft_str(lv, "protocol");
		const char *field = nft_str(lv, "field");
		const char *s = json_string_value(right);
		json_t *rv = NULL;
		const char *rk = NULL;

		if (proto == NULL || field == NULL)
			return false;
		if (nft_payload_family(proto) != ST_FAMILY_ANY) {
			if (strcmp(field, "saddr") == 0)
				m->kind = ST_M_SRC;
			else if (strcmp(field, "daddr") == 0)
				m->kind = ST_M_DST;
			else
				return false;
			*fam = nft_payload_family(proto);
			if (s != NULL) {
				if (st_prefix_parse(&m->addr, s) < 0 ||
				    strchr(s, '/') != NULL)
					return false;
			} else if ((rk = nft_kind(right, &rv)) != NULL &&
				   strcmp(rk, "prefix") == 0) {
				char buf[INET6_ADDRSTRLEN + 8];
				const char *a = nft_str(rv, "addr");

				if (a == NULL ||
				    !nft_uint(json_object_get(rv, "len"), 128,
					      &v))
					return false;
				snprintf(buf, sizeof(buf), "%s/%u", a,
					 (unsigned int)v);
				if (st_prefix_parse(&m->addr, buf) < 0)
					return false;
			} else {
				return false;
			}
			return (enum st_family)m->addr.family == *fam;
		}
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
		    strcmp(proto, "th") != 0 && strcmp(proto, "sctp") != 0)
			return false;
		if (strcmp(field, "dport") == 0)
			m->kind = ST_M_DPORT;
		else if (strcmp(field, "sport") == 0)
			m->kind = ST_M_SPORT;
		else
			return false;
		if (!nft_ports(right, m, true))
			return false;
		if (strcmp(proto, "th") != 0)
			st_proto_parse(proto, implied_proto);
		return true;
	}
	if (strcmp(lk, "meta") == 0 && key != NULL) {
		const char *s = json_string_value(right);

		if (strcmp(key, "iifname") == 0 ||
		    strcmp(key, "oifname") == 0) {
			size_t n = s ? strlen(s) : 0;

			if (s == NULL || n == 0 || n > ST_IFNAMSIZ - 1)
				return false;
			m->kind = key[0] == 'i' ? ST_M_IIF : ST_M_OIF;
			st_strlcpy(m->ifname, s, sizeof(m->ifname));
			/* nft's wildcard "eth*" is iptables' "eth+". */
			if (m->ifname[n - 1] == '*')
				m->ifname[n - 1] = '+';
			return true;
		}
		if (strcmp(key, "l4proto") == 0) {
			m->kind = ST_M_PROTO;
			if (s != NULL)
				return st_proto_parse(s, &m->proto);
			if (!nft_uint(right, 255, &v))
				return false;
			m->proto = (uint8_t)v;
			return true;
		}
		if (strcmp(key, "skuid") == 0 || strcmp(key, "skgid") == 0) {
			json_t *rv = NULL;
			const char *rk = nft_kind(right, &rv);
			uint64_t hi = 0;

			m->kind = key[2] == 'u' ? ST_M_UID : ST_M_GID;
			if (nft_uint(right, UINT32_MAX, &v)) {
				hi = v;
			} else if (rk == NULL || strcmp(rk, "range") != 0 ||
				   !json_is_array(rv) ||
				   json_array_size(rv) != 2 ||
				   !nft_uint(json_array_get(rv, 0), UINT32_MAX,
					     &v) ||
				   !nft_uint(json_array_get(rv, 1), UINT32_MAX,
					     &hi) ||
				   v > hi) {
				return false;
			}
			m->lo = (uint32_t)v;
			m->hi = (uint32_t)hi;
			return true;
		}
		if (strcmp(key, "mark") == 0) {
			if (!nft_uint(right, UINT32_MAX, &v))
				return false;
			m->kind = ST_M_MARK;
			m->lo = (uint32_t)v;
			m->hi = mask;
			return true;
		}
		return false;
	}
	if (strcmp(lk, "ct") == 0 && key != NULL &&
	    json_object_get(lv, "dir") == NULL) {
		if (strcmp(key, "state") == 0) {
			uint32_t bits = 0;

			if (!nft_ctstate(right, &bits))
				return false;
			m->kind = ST_M_CTSTATE;
			m->lo = bits;
			m->hi = 0;
			return true;
		}
		if (strcmp(key, "mark") == 0) {
			if (!nft_uint(right, UINT32_MAX, &v))
				return false;
			m->kind = ST_M_CONNMARK;
			m->lo = (uint32_t)v;
			m->hi = mask;
			return true;
		}
	}
	return false;
}

/* meta nfproto ipv4 only says the family: no match of its own. */
static bool nft_nfproto(json_t *mt, enum st_family *fam)
{
	json_t *lv = NULL;
	const char *lk = nft_kind(json_object_get(mt, "left"), &lv);
	const char *key = lk ? nft_str(lv, "key") : NULL;
	const char *op = nft_str(mt, "op");
	const char *s = json_string_value(json_object_get(mt, "right"));

	if (lk == NULL || strcmp(lk, "meta") != 0 || key == NULL ||
	    strcmp(key, "nfproto") != 0 || op == NULL ||
	    strcmp(op, "==") != 0 || s == NULL)
		return false;
	if (strcmp(s, "ipv4") == 0)
		*fam = ST_FAMILY_IPV4;
	else if (strcmp(s, "ipv6") == 0)
		*fam = ST_FAMILY_IPV6;
	else
		return false;
	return true;
}

/* ---- statements ----------------------------------------------------- */

static bool nft_is_stateful(const char *k)
{
	return strcmp(k, "limit") == 0 || strcmp(k, "quota") == 0 ||
	       strcmp(k, "ct count") == 0 || strcmp(k, "meter") == 0;
}

/* What a statement is, and how much it says about the rule's fate. */
static enum st_target_kind nft_stmt_kind(const char *k, json_t *st, int *rank)
{
	static const struct {
		const char *name;
		enum st_target_kind kind;
		int rank;
	} simple[] = {
		{"redirect", ST_T_REDIRECT, 100},
		{"tproxy", ST_T_TPROXY, 90},
		{"dnat", ST_T_DNAT, 80},
		{"snat", ST_T_SNAT, 80},
		{"masquerade", ST_T_MASQUERADE, 80},
		{"jump", ST_T_JUMP, 70},
		{"goto", ST_T_GOTO, 70},
		{"notrack", ST_T_CT, 60},
		{"reject", ST_T_REJECT, 20},
		{"accept", ST_T_ACCEPT, 10},
		{"drop", ST_T_DROP, 10},
		{"return", ST_T_RETURN, 10},
	};
	json_t *kv = NULL;
	const char *kk = NULL;
	const char *key = NULL;
	const char *vk = NULL;
	json_t *vv = NULL;

	for (size_t i = 0; i < ST_ARRAY_SIZE(simple); i++) {
		if (strcmp(k, simple[i].name) == 0) {
			*rank = simple[i].rank;
			return simple[i].kind;
		}
	}
	if (strcmp(k, "log") == 0) {
		*rank = 30;
		return json_object_get(st, "group") ? ST_T_NFLOG : ST_T_LOG;
	}
	/* An unknown statement may change anything: it wins. */
	*rank = 200;
	if (strcmp(k, "mangle") != 0)
		return ST_T_UNKNOWN;
	kk = nft_kind(json_object_get(st, "key"), &kv);
	key = kk ? nft_str(kv, "key") : NULL;
	if (key == NULL)
		return ST_T_UNKNOWN;
	vk = nft_kind(json_object_get(st, "value"), &vv);
	if (strcmp(kk, "meta") == 0 && strcmp(key, "mark") == 0) {
		*rank = 40;
		/* meta mark set ct mark: CONNMARK --restore-mark. */
		if (vk != NULL && strcmp(vk, "ct") == 0 &&
		    nft_str(vv, "key") != NULL &&
		    strcmp(nft_str(vv, "key"), "mark") == 0)
			return ST_T_CONNMARK;
		return ST_T_MARK;
	}
	if (strcmp(kk, "meta") == 0 && strcmp(key, "nftrace") == 0) {
		*rank = 25;
		return ST_T_TRACE;
	}
	if (strcmp(kk, "ct") == 0 && strcmp(key, "mark") == 0) {
		*rank = 40;
		return ST_T_CONNMARK;
	}
	if (strcmp(kk, "ct") == 0 && strcmp(key, "zone") == 0) {
		*rank = 60;
		return ST_T_CT;
	}
	return ST_T_UNKNOWN;
}

/*
 * The value of a mark mangle as --set-xmark value/mask: a number sets all
 * bits; "(K & A) | O" clears ~A and sets O, i.e. value O, mask ~A | O.
 */
static void nft_mark_value(json_t *value, uint32_t *mark, uint32_t *mask)
{
	json_t *val = NULL;
	const char *k = nft_kind(value, &val);
	uint64_t v = 0;
	uint64_t a = 0;

	*mark = 0;
	*mask = UINT32_MAX;
	if (nft_uint(value, UINT32_MAX, &v)) {
		*mark = (uint32_t)v;
		return;
	}
	if (k == NULL || !json_is_array(val) || json_array_size(val) != 2)
		return;
	if (strcmp(k, "|") == 0 &&
	    nft_uint(json_array_get(val, 1), UINT32_MAX, &v)) {
		json_t *inner = NULL;
		const char *ik = nft_kind(json_array_get(val, 0), &inner);

		a = UINT32_MAX;
		if (ik != NULL && strcmp(ik, "&") == 0 &&
		    json_is_array(inner) && json_array_size(inner) == 2)
			nft_uint(json_array_get(inner, 1), UINT32_MAX, &a);
		*mark = (uint32_t)v;
		*mask = (uint32_t)(~a | v);
	} else if (strcmp(k, "&") == 0 &&
		   nft_uint(json_array_get(val, 1), UINT32_MAX, &a)) {
		*mask = (uint32_t)~a;
	} else if (strcmp(k, "^") == 0 &&
		   nft_uint(json_array_get(val, 1), UINT32_MAX, &v)) {
		*mark = (uint32_t)v;
		*mask = 0;
	}
}

static int nft_fill_target(struct nft_parser *p, struct st_rule *r,
			   const char *k, json_t *st, json_t *expr)
{
	struct st_target *t = &r->target;
	json_t *port = json_is_object(st) ? json_object_get(st, "port") : NULL;
	const char *addr = json_is_object(st) ? nft_str(st, "addr") : NULL;
	struct st_match pm;
	uint64_t v = 0;

	switch (t->kind) {
	case ST_T_JUMP:
	case ST_T_GOTO:
		if (nft_str(st, "target") == NULL)
			return nft_fail(p, "%s without a target", k);
		t->chain = strdup(nft_str(st, "target"));
		if (t->chain == NULL)
			return nft_nomem(p);
		break;
	case ST_T_REDIRECT:
	case ST_T_MASQUERADE:
	case ST_T_TPROXY:
	case ST_T_DNAT:
	case ST_T_SNAT:
		memset(&pm, 0, sizeof(pm));
		if (port != NULL) {
			if (!nft_ports(port, &pm, false))
				return nft_fail(p, "bad %s port", k);
			t->port_lo = pm.ports[0].lo;
			t->port_hi = pm.ports[0].hi;
		}
		if (addr != NULL && st_prefix_parse(&t->addr, addr) < 0)
			return nft_fail(p, "bad %s address '%s'", k, addr);
		if (t->kind == ST_T_TPROXY) {
			t->mask = UINT32_MAX;
			/* TPROXY's --tproxy-mark is a separate mangle here. */
			for (size_t i = 0; i < json_array_size(expr); i++) {
				json_t *sv = NULL;
				const char *sk =
					nft_kind(json_array_get(expr, i), &sv);
				int rank = 0;

				if (sk != NULL && strcmp(sk, "mangle") == 0 &&
				    nft_stmt_kind(sk, sv, &rank) == ST_T_MARK)
					nft_mark_value(
						json_object_get(sv, "value"),
						&t->mark, &t->mask);
			}
		}
		break;
	case ST_T_MARK:
	case ST_T_CONNMARK:
		nft_mark_value(json_object_get(st, "value"), &t->mark,
			       &t->mask);
		break;
	case ST_T_CT:
		if (strcmp(k, "mangle") == 0) {
			if (!nft_uint(json_object_get(st, "value"), 65535, &v))
				return nft_fail(p, "bad ct zone");
			t->zone = (uint16_t)v;
		}
		break;
	case ST_T_NFLOG:
		if (!nft_uint(json_object_get(st, "group"), 65535, &v))
			return nft_fail(p, "bad log group");
		t->group = (uint16_t)v;
		break;
	default:
		break;
	}
	return 0;
}

/* ---- rules, chains, tables ------------------------------------------ */

static const struct nft_table *
nft_find_table(const struct nft_parser *p, const char *family, const char *name)
{
	for (size_t i = 0; i < p->ntables; i++)
		if (strcmp(p->tables[i].family, family) == 0 &&
		    strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	return NULL;
}

static bool nft_find_chain(const struct nft_parser *p, const char *family,
			   const char *table, const char *name)
{
	for (size_t i = 0; i < p->nchains; i++)
		if (strcmp(p->chains[i].family, family) == 0 &&
		    strcmp(p->chains[i].table, table) == 0 &&
		    strcmp(p->chains[i].name, name) == 0)
			return true;
	return false;
}

static int nft_table(struct nft_parser *p, json_t *o)
{
	const char *family = nft_str(o, "family");
	const char *name = nft_str(o, "name");
	struct nft_table *t = NULL;
	char w[128];

	if (family == NULL || name == NULL)
		return nft_fail(p, "table without family or name");
	if (nft_find_table(p, family, name) != NULL)
		return 0;
	if (st_grow((void **)&p->tables, &p->tables_cap, p->ntables + 1,
		    sizeof(*p->tables)) < 0)
		return nft_nomem(p);
	t = &p->tables[p->ntables++];
	t->family = family;
	t->name = name;
	t->skip = false;
	if (strcmp(family, "ip") == 0) {
		t->fam = ST_FAMILY_IPV4;
	} else if (strcmp(family, "ip6") == 0) {
		t->fam = ST_FAMILY_IPV6;
	} else if (strcmp(family, "inet") == 0) {
		t->fam = ST_FAMILY_ANY;
	} else {
		t->skip = true;
		snprintf(w, sizeof(w), "skipped table %s %s: not an IP family",
			 family, name);
		if (st_ruleset_add_warning(p->rs, w) < 0)
			return nft_nomem(p);
	}
	return 0;
}

static int nft_chain(struct nft_parser *p, json_t *o)
{
	const char *family = nft_str(o, "family");
	const char *table = nft_str(o, "table");
	const char *name = nft_str(o, "name");
	const char *policy = nft_str(o, "policy");
	const char *hook = nft_str(o, "hook");
	const struct nft_table *t = NULL;
	struct st_chain *c = NULL;
	char pol[16] = "";
	json_t *prio = json_object_get(o, "prio");
	uint64_t h = 0;

	if (family == NULL || table == NULL || name == NULL)
		return nft_fail(p, "chain without family, table or name");
	t = nft_find_table(p, family, table);
	if (t == NULL)
		return nft_fail(p, "chain '%s' of unknown table %s %s", name,
				family, table);
	if (t->skip)
		return 0;
	if (policy != NULL) {
		size_t i = 0;

		for (; policy[i] != '\0' && i < sizeof(pol) - 1; i++)
			pol[i] = (char)(policy[i] >= 'a' && policy[i] <= 'z'
						? policy[i] - 'a' + 'A'
						: policy[i]);
		pol[i] = '\0';
	}
	if (st_grow((void **)&p->chains, &p->chains_cap, p->nchains + 1,
		    sizeof(*p->chains)) < 0)
		return nft_nomem(p);
	c = st_ruleset_add_chain(p->rs, table, name, t->fam,
				 policy != NULL ? pol : NULL);
	if (c == NULL)
		return nft_nomem(p);
	c->builtin = hook != NULL;
	if (hook != NULL && c->hook == NULL) {
		c->hook = strdup(hook);
		if (c->hook == NULL)
			return nft_nomem(p);
	}
	if (json_is_integer(prio))
		c->prio = (int)json_integer_value(prio);
	if (nft_uint(json_object_get(o, "handle"), UINT64_MAX, &h))
		c->handle = h;
	p->chains[p->nchains].family = family;
	p->chains[p->nchains].table = table;
	p->chains[p->nchains].name = name;
	p->nchains++;
	return 0;
}

static int nft_add_text_match(struct nft_parser *p, struct st_rule *r,
			      enum st_match_kind kind, json_t *e)
{
	struct st_match *m = st_rule_add_match(r, kind);
	char *s = NULL;

	if (m == NULL)
		return nft_nomem(p);
	s = json_dumps(e, JSON_COMPACT);
	if (s == NULL)
		return nft_nomem(p);
	m->text = strdup(s);
	free(s);
	return m->text == NULL ? nft_nomem(p) : 0;
}

/* Put an implied "meta l4proto" before the first port match. */
static int nft_implied_proto(struct nft_parser *p, struct st_rule *r,
			     uint8_t proto)
{
	struct st_match *m = NULL;
	unsigned int at = 0;

	for (unsigned int i = 0; i < r->nmatches; i++)
		if (r->matches[i].kind == ST_M_PROTO &&
		    r->matches[i].proto == proto && !r->matches[i].neg)
			return 0;
	for (at = 0; at < r->nmatches; at++)
		if (r->matches[at].kind == ST_M_SPORT ||
		    r->matches[at].kind == ST_M_DPORT)
			break;
	m = st_rule_add_match(r, ST_M_PROTO);
	if (m == NULL)
		return nft_nomem(p);
	m->proto = proto;
	if (at < r->nmatches - 1) {
		struct st_match tmp = r->matches[r->nmatches - 1];

		memmove(&r->matches[at + 1], &r->matches[at],
			(r->nmatches - 1 - at) * sizeof(*r->matches));
		r->matches[at] = tmp;
	}
	return 0;
}

static int nft_rule(struct nft_parser *p, json_t *o)
{
	const char *family = nft_str(o, "family");
	const char *table = nft_str(o, "table");
	const char *chain = nft_str(o, "chain");
	const char *comment = nft_str(o, "comment");
	json_t *expr = json_object_get(o, "expr");
	const struct nft_table *t = NULL;
	struct st_rule *r = NULL;
	enum st_family fam = ST_FAMILY_ANY;
	uint8_t implied = 0;
	int best = -1;
	int best_rank = -1;
	uint64_t h = 0;
	int ret = 0;

	if (family == NULL || table == NULL || chain == NULL)
		return nft_fail(p, "rule without family, table or chain");
	if (!json_is_array(expr))
		return nft_fail(p,
				"rule in chain '%s' without an \"expr\" list",
				chain);
	t = nft_find_table(p, family, table);
	if (t == NULL)
		return nft_fail(p, "rule of unknown table %s %s", family,
				table);
	if (t->skip)
		return 0;
	if (!nft_find_chain(p, family, table, chain))
		return nft_fail(p,
				"rule refers to unknown chain '%s' in table "
				"%s %s",
				chain, family, table);
	r = st_ruleset_add_rule(p->rs, table, chain, t->fam);
	if (r == NULL)
		return nft_nomem(p);
	if (nft_uint(json_object_get(o, "handle"), UINT64_MAX, &h))
		r->handle = h;
	fam = t->fam;
	st_strbuf_reset(&p->text);
	st_strbuf_reset(&p->ttext);

	for (size_t i = 0; i < json_array_size(expr); i++) {
		json_t *e = json_array_get(expr, i);
		json_t *val = NULL;
		const char *k = nft_kind(e, &val);
		struct st_match *m = NULL;
		uint64_t v = 0;
		int rank = 0;

		if (k == NULL)
			return nft_fail(p,
					"rule in chain '%s': expression %zu "
					"is not an object with one key",
					chain, i);
		if (strcmp(k, "counter") == 0) {
			r->has_counters = true;
			if (nft_uint(json_object_get(val, "packets"),
				     UINT64_MAX, &v))
				r->packets = v;
			if (nft_uint(json_object_get(val, "bytes"), UINT64_MAX,
				     &v))
				r->bytes = v;
			continue;
		}
		if (p->text.len > 0)
			st_strbuf_printf(&p->text, " ");
		if (strcmp(k, "match") == 0) {
			nft_render_match(&p->text, val);
			if (nft_nfproto(val, &fam))
				continue;
			m = st_rule_add_match(r, ST_M_UNKNOWN);
			if (m == NULL)
				return nft_nomem(p);
			if (nft_match(r, m, val, &fam, &implied))
				continue;
			r->nmatches--;
			ret = nft_add_text_match(p, r, ST_M_UNKNOWN, e);
			if (ret < 0)
				return ret;
			continue;
		}
		nft_render_stmt(&p->text, k, val);
		if (nft_is_stateful(k) ||
		    (strcmp(k, "xt") == 0 && nft_str(val, "type") != NULL &&
		     strcmp(nft_str(val, "type"), "match") == 0)) {
			ret = nft_add_text_match(p, r,
						 nft_is_stateful(k)
							 ? ST_M_STATEFUL
							 : ST_M_UNKNOWN,
						 e);
			if (ret < 0)
				return ret;
			continue;
		}
		if (p->ttext.len > 0)
			st_strbuf_printf(&p->ttext, " ");
		nft_render_stmt(&p->ttext, k, val);
		nft_stmt_kind(k, val, &rank);
		if (rank > best_rank) {
			best_rank = rank;
			best = (int)i;
		}
	}
	if (implied != 0) {
		ret = nft_implied_proto(p, r, implied);
		if (ret < 0)
			return ret;
	}
	if (comment != NULL) {
		struct st_match *m = st_rule_add_match(r, ST_M_COMMENT);

		if (m == NULL)
			return nft_nomem(p);
		m->text = strdup(comment);
		if (m->text == NULL)
			return nft_nomem(p);
		st_strbuf_printf(&p->text, "%scomment \"%s\"",
				 p->text.len ? " " : "", comment);
	}
	r->family = fam;
	r->text = st_strbuf_dup(&p->text);
	if (r->text == NULL)
		return nft_nomem(p);
	if (best >= 0) {
		json_t *val = NULL;
		const char *k =
			nft_kind(json_array_get(expr, (size_t)best), &val);
		int rank = 0;

		r->target.kind = nft_stmt_kind(k, val, &rank);
		if (r->target.kind == ST_T_TPROXY) {
			const char *tf = nft_str(val, "family");

			if (tf != NULL &&
			    nft_payload_family(tf) != ST_FAMILY_ANY)
				r->family = nft_payload_family(tf);
		}
		ret = nft_fill_target(p, r, k, val, expr);
		if (ret < 0)
			return ret;
	}
	if (r->target.kind == ST_T_NFLOG) {
		json_t *val = NULL;

		nft_kind(json_array_get(expr, (size_t)best), &val);
		r->target.text = strdup(
			nft_str(val, "prefix") ? nft_str(val, "prefix") : "");
	} else {
		r->target.text = st_strbuf_dup(&p->ttext);
	}
	if (r->target.text == NULL)
		return nft_nomem(p);
	return 0;
}

int st_nftjson_parse(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err)
{
	struct nft_parser p;
	json_error_t jerr;
	json_t *root = NULL;
	json_t *items = NULL;
	int ret = 0;

	memset(&p, 0, sizeof(p));
	p.rs = rs;
	p.name = name;
	p.err = err;
	root = json_loadb(buf, len, 0, &jerr);
	if (root == NULL) {
		ret = st_err(err, EINVAL, "%s:%d:%d: bad JSON: %s", name,
			     jerr.line, jerr.column, jerr.text);
		goto out;
	}
	items = json_object_get(root, "nftables");
	if (!json_is_object(root) || !json_is_array(items)) {
		ret = st_err(err, EINVAL,
			     "%s: not an nft ruleset (no \"nftables\" array; "
			     "expected `nft -j list ruleset` output)",
			     name);
		goto out;
	}
	for (p.idx = 0; p.idx < json_array_size(items); p.idx++) {
		json_t *val = NULL;
		const char *k = nft_kind(json_array_get(items, p.idx), &val);

		if (k == NULL || !json_is_object(val)) {
			ret = nft_fail(&p, "not an object with one key");
			goto out;
		}
		if (strcmp(k, "table") == 0)
			ret = nft_table(&p, val);
		else if (strcmp(k, "chain") == 0)
			ret = nft_chain(&p, val);
		else if (strcmp(k, "rule") == 0)
			ret = nft_rule(&p, val);
		/* metainfo, sets, maps, flowtables...: not rules. */
		if (ret < 0)
			goto out;
	}
	st_ruleset_set_backend(rs, ST_BACKEND_NFTABLES);
out:
	free(p.tables);
	free(p.chains);
	st_strbuf_free(&p.text);
	st_strbuf_free(&p.ttext);
	json_decref(root);
	return ret;
}
