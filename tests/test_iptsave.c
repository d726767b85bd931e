// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_iptsave.c - the iptables-save parser on every sample rule set, on
 * hand-written rules for each match and target, and on malformed input.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules-int.h"
#include "testlib.h"

#define NO_MATCH -1

/* One rule to look at closely: its target and (optionally) one match. */
struct spot {
	const char *table;
	const char *chain;
	unsigned int number;
	unsigned int line;
	enum st_target_kind target;
	const char *tchain; /* JUMP/GOTO target, or NULL */
	uint16_t tport;	    /* REDIRECT/TPROXY port, or 0 */
	int mkind;	    /* enum st_match_kind, or NO_MATCH */
	bool mneg;
	uint32_t mval; /* uid/gid lo, mark, first port, proto, ctstate */
};

struct sample_case {
	const char *file;
	size_t nrules;
	size_t nchains;
	enum st_backend backend;
	enum st_family family;
	struct spot spots[4];
};

#define S(...)              \
	{                   \
		__VA_ARGS__ \
	}

static const struct sample_case samples[] = {
	{"istio-1.17_redirect_default_legacy.rules",
	 18,
	 8,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 2, 20, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DST, true, 0),
	  S("nat", "ISTIO_OUTPUT", 3, 21, ST_T_RETURN, NULL, 0, ST_M_UID, true,
	    1337),
	  S("nat", "ISTIO_IN_REDIRECT", 1, 18, ST_T_REDIRECT, NULL, 15006,
	    ST_M_PROTO, false, IPPROTO_TCP),
	  S("nat", "ISTIO_INBOUND", 1, 13, ST_T_RETURN, NULL, 0, ST_M_DPORT,
	    false, 15008)}},
	{"istio-1.1_redirect_app-ports_legacy.rules",
	 10,
	 13,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_INBOUND", 1, 22, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DPORT, false, 9080),
	  S("nat", "ISTIO_IN_REDIRECT", 1, 23, ST_T_REDIRECT, NULL, 15001,
	    NO_MATCH, false, 0),
	  S("nat", "ISTIO_OUTPUT", 3, 26, ST_T_RETURN, NULL, 0, ST_M_GID, false,
	    1337)}},
	{"istio-1.20_redirect_dns_legacy.rules",
	 28,
	 10,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("raw", "OUTPUT", 1, 6, ST_T_CT, NULL, 0, ST_M_UID, false, 1337),
	  S("nat", "ISTIO_OUTPUT", 2, 35, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DPORT, true, 53),
	  S("nat", "ISTIO_OUTPUT", 3, 36, ST_T_RETURN, NULL, 0, ST_M_DPORT,
	    true, 53)}},
	{"istio-1.24_redirect_dns_legacy.rules",
	 30,
	 11,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("raw", "ISTIO_OUTPUT", 2, 9, ST_T_CT, NULL, 0, ST_M_SPORT, false,
	    15053),
	  S("nat", "ISTIO_OUTPUT", 13, 46, ST_T_REDIRECT, NULL, 15053,
	    ST_M_PROTO, false, IPPROTO_UDP)}},
	{"istio-1.24_redirect_dns_legacy_VIEWED-WITH-iptables-nft-save.rules",
	 0,
	 0,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {{NULL}}},
	{"istio-1.25_tproxy_dns_legacy.rules",
	 41,
	 21,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("mangle", "ISTIO_TPROXY", 1, 72, ST_T_TPROXY, NULL, 15006, ST_M_DST,
	    true, 0),
	  S("mangle", "ISTIO_INBOUND", 7, 70, ST_T_JUMP, "ISTIO_DIVERT", 0,
	    ST_M_CTSTATE, false, ST_CT_RELATED | ST_CT_ESTABLISHED),
	  S("mangle", "ISTIO_INBOUND", 3, 66, ST_T_RETURN, NULL, 0, ST_M_MARK,
	    true, 0x53a),
	  S("mangle", "PREROUTING", 2, 57, ST_T_CONNMARK, NULL, 0, ST_M_MARK,
	    false, 0x539)}},
	{"istio-1.26plus_ambient-inpod_dns_nft.rules",
	 18,
	 17,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("mangle", "ISTIO_OUTPUT", 1, 12, ST_T_CONNMARK, NULL, 0,
	    ST_M_CONNMARK, false, 0x111),
	  S("raw", "ISTIO_PRERT", 1, 25, ST_T_CT, NULL, 0, ST_M_MARK, true,
	    0x539),
	  S("nat", "ISTIO_OUTPUT", 2, 39, ST_T_REDIRECT, NULL, 15053, ST_M_OIF,
	    true, 0)}},
	{"istio-1.26plus_cni-sidecar_custom-uid_nft.rules",
	 20,
	 8,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 5, 23, ST_T_RETURN, NULL, 0, ST_M_UID, true,
	    1000670000),
	  S("nat", "ISTIO_OUTPUT", 6, 24, ST_T_RETURN, NULL, 0, ST_M_UID, false,
	    1000670000)}},
	{"istio-1.26plus_redirect_default_nft.rules",
	 18,
	 8,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 2, 20, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DPORT, true, 15008),
	  S("nat", "ISTIO_REDIRECT", 1, 28, ST_T_REDIRECT, NULL, 15001,
	    NO_MATCH, false, 0)}},
	{"istio-1.26plus_redirect_default_nft_with-counters.rules",
	 18,
	 8,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("nat", "OUTPUT", 1, 12, ST_T_JUMP, "ISTIO_OUTPUT", 0, NO_MATCH,
	    false, 0),
	  S("nat", "ISTIO_REDIRECT", 1, 28, ST_T_REDIRECT, NULL, 15001,
	    NO_MATCH, false, 0)}},
	{"istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
	 29,
	 13,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("raw", "ISTIO_INBOUND", 1, 9, ST_T_CT, NULL, 0, ST_M_SRC, false, 0),
	  S("nat", "ISTIO_OUTPUT", 10, 45, ST_T_JUMP, "ISTIO_REDIRECT", 0,
	    NO_MATCH, false, 0)}},
	{"istio-1.26plus_redirect_dns_dualstack_nft.v6.rules",
	 23,
	 11,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV6,
	 {S("nat", "ISTIO_OUTPUT", 2, 32, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DPORT, true, 53),
	  S("nat", "ISTIO_OUTPUT", 1, 31, ST_T_RETURN, NULL, 0, ST_M_SRC, false,
	    0)}},
	{"istio-1.26plus_redirect_exclusions_drop-invalid_nft.rules",
	 24,
	 14,
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {S("mangle", "PREROUTING", 1, 9, ST_T_JUMP, "ISTIO_DROP", 0,
	    ST_M_CTSTATE, false, ST_CT_INVALID),
	  S("mangle", "ISTIO_DROP", 1, 10, ST_T_DROP, NULL, 0, NO_MATCH, false,
	    0),
	  S("nat", "ISTIO_OUTPUT", 12, 43, ST_T_JUMP, "ISTIO_REDIRECT", 0,
	    ST_M_DST, false, 0),
	  S("nat", "ISTIO_OUTPUT", 2, 33, ST_T_RETURN, NULL, 0, ST_M_DPORT,
	    false, 5432)}},
	{"istio-1.4_redirect_default_legacy.rules",
	 13,
	 8,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 2, 18, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_OIF, false, 0),
	  S("nat", "ISTIO_INBOUND", 1, 13, ST_T_RETURN, NULL, 0, ST_M_DPORT,
	    false, 22)}},
	{"istio-1.6_redirect_default_legacy.rules",
	 18,
	 8,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 3, 21, ST_T_RETURN, NULL, 0, ST_M_UID, true,
	    1337)}},
	{"istio-1.9_redirect_dns_legacy.rules",
	 23,
	 8,
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {S("nat", "ISTIO_OUTPUT", 2, 24, ST_T_JUMP, "ISTIO_IN_REDIRECT", 0,
	    ST_M_DPORT, true, 53),
	  S("nat", "OUTPUT", 4, 15, ST_T_REDIRECT, NULL, 15053, ST_M_DST, false,
	    0)}},
};

static const struct st_match *find_match(const struct st_rule *r, int kind)
{
	for (unsigned int i = 0; i < r->nmatches; i++)
		if ((int)r->matches[i].kind == kind)
			return &r->matches[i];
	return NULL;
}

static uint32_t match_value(const struct st_match *m)
{
	switch (m->kind) {
	case ST_M_SPORT:
	case ST_M_DPORT:
		return m->ports[0].lo;
	case ST_M_PROTO:
		return m->proto;
	case ST_M_SRC:
	case ST_M_DST:
	case ST_M_IIF:
	case ST_M_OIF:
		return 0;
	default:
		return m->lo;
	}
}

/* Line @n (1-based) of @buf without a leading "[p:b] " counter prefix. */
static char *source_line(const char *buf, unsigned int n)
{
	const char *s = buf;
	size_t len = 0;

	for (unsigned int i = 1; i < n; i++) {
		s = strchr(s, '\n');
		assert_non_null(s);
		s++;
	}
	if (*s == '[')
		s = strchr(s, ']') + 2;
	len = strcspn(s, "\n");
	return strndup(s, len);
}

/* Each sample parses to the expected chains, rules, backend and family;
 * every rule's text is its source line, and the spot checks hold. */
static void test_sample(void **state)
{
	const struct sample_case *c = *state;
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	size_t len = 0;
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES, c->file);
	buf = tl_read_file(path, &len);
	assert_non_null(buf);
	assert_non_null(rs);
	assert_int_equal(st_iptsave_parse(rs, buf, len, path, err), 0);
	assert_int_equal(st_ruleset_nrules(rs), c->nrules);
	assert_int_equal(st_ruleset_nchains(rs), c->nchains);
	assert_int_equal(st_ruleset_backend(rs), c->backend);
	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *ch = st_ruleset_chain(rs, i);

		assert_int_equal(ch->family, c->family);
		/* iptables built-in chains are those with a policy. */
		assert_int_equal(ch->builtin, ch->policy != NULL);
		assert_int_equal(ch->hook != NULL, ch->builtin);
	}
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);
		char *line = source_line(buf, r->line);

		assert_int_equal(r->family, c->family);
		assert_string_equal(r->text, line);
		assert_non_null(r->target.text);
		assert_int_equal(r->handle, 0);
		/* No sample has a match the parser does not understand. */
		for (unsigned int k = 0; k < r->nmatches; k++)
			assert_int_not_equal(r->matches[k].kind, ST_M_UNKNOWN);
		assert_int_not_equal(r->target.kind, ST_T_UNKNOWN);
		free(line);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(c->spots); i++) {
		const struct spot *sp = &c->spots[i];
		const struct st_rule *r = NULL;
		const struct st_match *m = NULL;

		if (sp->table == NULL)
			break;
		r = st_ruleset_find_rule(rs, sp->table, sp->chain, c->family,
					 sp->number);
		assert_non_null(r);
		assert_int_equal(r->number, sp->number);
		assert_int_equal(r->line, sp->line);
		assert_int_equal(r->target.kind, sp->target);
		if (sp->tchain != NULL)
			assert_string_equal(r->target.chain, sp->tchain);
		if (sp->tport != 0) {
			assert_int_equal(r->target.port_lo, sp->tport);
			assert_int_equal(r->target.port_hi, sp->tport);
		}
		if (sp->mkind == NO_MATCH)
			continue;
		m = find_match(r, sp->mkind);
		assert_non_null(m);
		assert_int_equal(m->neg, sp->mneg);
		assert_int_equal(match_value(m), sp->mval);
	}
	free(buf);
	st_ruleset_free(rs);
}

static struct st_ruleset *parse_ok(const char *text)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	int ret = 0;

	assert_non_null(rs);
	ret = st_iptsave_parse(rs, text, strlen(text), "inline", err);
	if (ret != 0)
		fail_msg("unexpected error: %s", err);
	return rs;
}

/* The -c counters form sets has_counters, packets and bytes. */
static void test_counters(void **state)
{
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	const struct st_rule *r = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.26plus_redirect_default_nft_with-counters.rules");
	assert_int_equal(st_rules_load_file(rs, path, err), 0);
	r = st_ruleset_find_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4, 1);
	assert_non_null(r);
	assert_true(r->has_counters);
	assert_int_equal(r->packets, 6);
	assert_int_equal(r->bytes, 360);
	assert_string_equal(r->text, "-A OUTPUT -j ISTIO_OUTPUT");
	r = st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4, 3);
	assert_non_null(r);
	assert_true(r->has_counters);
	assert_int_equal(r->packets, 2);
	assert_int_equal(r->bytes, 120);
	r = st_ruleset_find_rule(rs, "nat", "ISTIO_INBOUND", ST_FAMILY_IPV4, 1);
	assert_true(r->has_counters);
	assert_int_equal(r->packets, 0);
	st_ruleset_free(rs);

	/* The "-c P B" option form too; no counters without either. */
	rs = parse_ok("*nat\n:OUTPUT ACCEPT [0:0]\n"
		      "-A OUTPUT -p tcp -c 7 420 -j RETURN\n"
		      "-A OUTPUT -j RETURN\nCOMMIT\n");
	r = st_ruleset_rule(rs, 0);
	assert_true(r->has_counters);
	assert_int_equal(r->packets, 7);
	assert_int_equal(r->bytes, 420);
	assert_false(st_ruleset_rule(rs, 1)->has_counters);
	st_ruleset_free(rs);
}

/* A file of only a warning (iptables-nft-save of a legacy pod) is not an
 * error: no rules, the warning kept, backend iptables-nft. */
static void test_warning_only(void **state)
{
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	(void)state;
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.24_redirect_dns_legacy_VIEWED-WITH-iptables-nft-save"
		 ".rules");
	assert_int_equal(st_rules_load_file(rs, path, err), 0);
	assert_int_equal(st_ruleset_nrules(rs), 0);
	assert_int_equal(st_ruleset_nchains(rs), 0);
	assert_int_equal(st_ruleset_backend(rs), ST_BACKEND_NFT);
	assert_string_equal(st_ruleset_warnings(rs),
			    "# Warning: iptables-legacy tables present, use "
			    "iptables-legacy-save to see them");
	st_ruleset_free(rs);
}

/* Empty input and comment-only input parse to an empty ruleset. */
static void test_empty(void **state)
{
	static const char *const files[] = {"empty.rules",
					    "only-comments.rules"};
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++) {
		struct st_ruleset *rs = st_ruleset_new();

		snprintf(path, sizeof(path), "%s/malformed/%s", ST_SAMPLES,
			 files[i]);
		assert_int_equal(st_rules_load_file(rs, path, err), 0);
		assert_int_equal(st_ruleset_nrules(rs), 0);
		assert_int_equal(st_ruleset_nchains(rs), 0);
		assert_string_equal(st_ruleset_warnings(rs), "");
		st_ruleset_free(rs);
	}
	{
		struct st_ruleset *rs = st_ruleset_new();

		assert_int_equal(st_iptsave_parse(rs, "", 0, "x", err), 0);
		assert_int_equal(st_ruleset_nrules(rs), 0);
		st_ruleset_free(rs);
	}
}

/* Quoted comments, stateful and unknown modules, unknown options of a
 * known module: kept, with the text as written. */
static void test_modules(void **state)
{
	struct st_ruleset *rs = NULL;
	const struct st_rule *r = NULL;

	(void)state;
	rs = parse_ok("*filter\n:INPUT ACCEPT [0:0]\n"
		      "-A INPUT -p tcp -m comment --comment \"a b \\\"c\\\"\" "
		      "-m statistic --mode random --probability 0.5 "
		      "-m frob --frob-level 3 ! --frob-x "
		      "-m tcp --tcp-flags SYN,ACK SYN --sport 1000:2000 "
		      "-m owner --uid-owner 1000-1999 --suppl-groups "
		      "-m socket --transparent --nowildcard -j ACCEPT\n"
		      "COMMIT\n");
	r = st_ruleset_rule(rs, 0);
	assert_non_null(r);
	assert_int_equal(r->nmatches, 9);
	assert_int_equal(r->matches[0].kind, ST_M_PROTO);
	assert_int_equal(r->matches[1].kind, ST_M_COMMENT);
	assert_string_equal(r->matches[1].text, "a b \"c\"");
	assert_int_equal(r->matches[2].kind, ST_M_STATEFUL);
	assert_string_equal(r->matches[2].text,
			    "-m statistic --mode random --probability 0.5");
	assert_int_equal(r->matches[3].kind, ST_M_UNKNOWN);
	assert_string_equal(r->matches[3].text,
			    "-m frob --frob-level 3 ! --frob-x");
	assert_int_equal(r->matches[4].kind, ST_M_UNKNOWN);
	assert_string_equal(r->matches[4].text,
			    "-m tcp --tcp-flags SYN,ACK SYN");
	assert_int_equal(r->matches[5].kind, ST_M_SPORT);
	assert_int_equal(r->matches[5].nports, 1);
	assert_int_equal(r->matches[5].ports[0].lo, 1000);
	assert_int_equal(r->matches[5].ports[0].hi, 2000);
	assert_int_equal(r->matches[6].kind, ST_M_UID);
	assert_int_equal(r->matches[6].lo, 1000);
	assert_int_equal(r->matches[6].hi, 1999);
	assert_int_equal(r->matches[7].kind, ST_M_UNKNOWN);
	assert_string_equal(r->matches[7].text, "-m owner --suppl-groups");
	assert_int_equal(r->matches[8].kind, ST_M_SOCKET);
	assert_string_equal(r->matches[8].text,
			    "-m socket --transparent --nowildcard");
	assert_int_equal(r->target.kind, ST_T_ACCEPT);
	assert_string_equal(r->target.text, "ACCEPT");
	st_ruleset_free(rs);
}

/* Each simple match with and without negation, and their values. */
static void test_matches(void **state)
{
	struct st_ruleset *rs = NULL;
	const struct st_rule *r = NULL;
	const struct st_match *m = NULL;

	(void)state;
	rs = parse_ok("*mangle\n:PREROUTING ACCEPT [0:0]\n"
		      "-A PREROUTING -s 10.1.0.0/16 ! -d 192.168.1.1 ! -i eth+ "
		      "-o lo -p 132 -m multiport ! --sports 1,2:3,65535 "
		      "-m owner ! --gid-owner 7 --socket-exists "
		      "-m mark ! --mark 0x10/0xf0 -m connmark --mark 12 "
		      "-m state --state NEW,UNTRACKED "
		      "-m conntrack ! --ctstate DNAT,SNAT,INVALID\n"
		      "COMMIT\n");
	r = st_ruleset_rule(rs, 0);
	assert_int_equal(r->nmatches, 12);
	m = &r->matches[0];
	assert_int_equal(m->kind, ST_M_SRC);
	assert_false(m->neg);
	assert_int_equal(m->addr.family, ST_FAMILY_IPV4);
	assert_int_equal(m->addr.plen, 16);
	assert_int_equal(m->addr.addr[0], 10);
	assert_int_equal(m->addr.addr[1], 1);
	m = &r->matches[1];
	assert_int_equal(m->kind, ST_M_DST);
	assert_true(m->neg);
	assert_int_equal(m->addr.plen, 32);
	m = &r->matches[2];
	assert_int_equal(m->kind, ST_M_IIF);
	assert_true(m->neg);
	assert_string_equal(m->ifname, "eth+");
	assert_int_equal(r->matches[3].kind, ST_M_OIF);
	assert_int_equal(r->matches[4].kind, ST_M_PROTO);
	assert_int_equal(r->matches[4].proto, IPPROTO_SCTP);
	m = &r->matches[5];
	assert_int_equal(m->kind, ST_M_SPORT);
	assert_true(m->neg);
	assert_int_equal(m->nports, 3);
	assert_int_equal(m->ports[1].lo, 2);
	assert_int_equal(m->ports[1].hi, 3);
	assert_int_equal(m->ports[2].lo, 65535);
	m = &r->matches[6];
	assert_int_equal(m->kind, ST_M_GID);
	assert_true(m->neg);
	assert_int_equal(m->lo, 7);
	assert_int_equal(m->hi, 7);
	assert_int_equal(r->matches[7].kind, ST_M_SOCKET_EXISTS);
	assert_false(r->matches[7].neg);
	m = &r->matches[8];
	assert_int_equal(m->kind, ST_M_MARK);
	assert_true(m->neg);
	assert_int_equal(m->lo, 0x10);
	assert_int_equal(m->hi, 0xf0);
	m = &r->matches[9];
	assert_int_equal(m->kind, ST_M_CONNMARK);
	assert_int_equal(m->lo, 12);
	assert_int_equal(m->hi, 0xffffffffu);
	m = &r->matches[10];
	assert_int_equal(m->kind, ST_M_CTSTATE);
	assert_int_equal(m->lo, ST_CT_NEW | ST_CT_UNTRACKED);
	m = &r->matches[11];
	assert_true(m->neg);
	assert_int_equal(m->lo, ST_CT_DNAT | ST_CT_SNAT | ST_CT_INVALID);
	/* No -j: falls through, with an empty target text. */
	assert_int_equal(r->target.kind, ST_T_NONE);
	assert_string_equal(r->target.text, "");
	st_ruleset_free(rs);
}

struct target_case {
	const char *rule;
	enum st_target_kind kind;
	uint16_t port_lo;
	uint16_t port_hi;
	uint32_t mark;
	uint32_t mask;
	uint16_t zone;
	uint16_t group;
	const char *text;
};

static const struct target_case targets[] = {
	{"-j RETURN", ST_T_RETURN, 0, 0, 0, 0, 0, 0, "RETURN"},
	{"-j ACCEPT", ST_T_ACCEPT, 0, 0, 0, 0, 0, 0, "ACCEPT"},
	{"-j DROP", ST_T_DROP, 0, 0, 0, 0, 0, 0, "DROP"},
	{"-j REJECT --reject-with icmp-port-unreachable", ST_T_REJECT, 0, 0, 0,
	 0, 0, 0, "REJECT --reject-with icmp-port-unreachable"},
	{"-p tcp -j REDIRECT --to-ports 15001-15002", ST_T_REDIRECT, 15001,
	 15002, 0, 0, 0, 0, "REDIRECT --to-ports 15001-15002"},
	{"-p tcp -j REDIRECT", ST_T_REDIRECT, 0, 0, 0, 0, 0, 0, "REDIRECT"},
	{"-j MARK --set-xmark 0x539/0xffffffff", ST_T_MARK, 0, 0, 0x539,
	 0xffffffff, 0, 0, "MARK --set-xmark 0x539/0xffffffff"},
	{"-j MARK --set-mark 5", ST_T_MARK, 0, 0, 5, 0xffffffff, 0, 0,
	 "MARK --set-mark 5"},
	{"-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff",
	 ST_T_CONNMARK, 0, 0, 0, 0xffffffff, 0, 0,
	 "CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff"},
	{"-j CT --zone 2", ST_T_CT, 0, 0, 0, 0, 2, 0, "CT --zone 2"},
	{"-j CT --notrack", ST_T_CT, 0, 0, 0, 0, 0, 0, "CT --notrack"},
	{"-p tcp -j DNAT --to-destination 10.0.0.1:8080", ST_T_DNAT, 8080, 8080,
	 0, 0, 0, 0, "DNAT --to-destination 10.0.0.1:8080"},
	{"-j SNAT --to-source 10.0.0.2", ST_T_SNAT, 0, 0, 0, 0, 0, 0,
	 "SNAT --to-source 10.0.0.2"},
	{"-j MASQUERADE", ST_T_MASQUERADE, 0, 0, 0, 0, 0, 0, "MASQUERADE"},
	{"-j NFLOG --nflog-prefix \"ist 1\" --nflog-group 7", ST_T_NFLOG, 0, 0,
	 0, 0, 0, 7, "ist 1"},
	{"-j NFLOG", ST_T_NFLOG, 0, 0, 0, 0, 0, 0, ""},
	{"-j LOG --log-prefix \"x: \"", ST_T_LOG, 0, 0, 0, 0, 0, 0,
	 "LOG --log-prefix \"x: \""},
	{"-j TRACE", ST_T_TRACE, 0, 0, 0, 0, 0, 0, "TRACE"},
	{"-j CHECKSUM --checksum-fill", ST_T_UNKNOWN, 0, 0, 0, 0, 0, 0,
	 "CHECKSUM --checksum-fill"},
	{"-p tcp -j TPROXY --on-port 15006 --on-ip 127.0.0.1 "
	 "--tproxy-mark 0x1/0x3",
	 ST_T_TPROXY, 15006, 15006, 1, 3, 0, 0,
	 "TPROXY --on-port 15006 --on-ip 127.0.0.1 --tproxy-mark 0x1/0x3"},
};

/* Every target kind, with its fields and the text as written. */
static void test_targets(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(targets); i++) {
		const struct target_case *c = &targets[i];
		char text[512];
		struct st_ruleset *rs = NULL;
		const struct st_rule *r = NULL;

		snprintf(
			text, sizeof(text),
			"*mangle\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT %s\nCOMMIT\n",
			c->rule);
		rs = parse_ok(text);
		r = st_ruleset_rule(rs, 0);
		assert_non_null(r);
		assert_int_equal(r->target.kind, c->kind);
		assert_int_equal(r->target.port_lo, c->port_lo);
		assert_int_equal(r->target.port_hi, c->port_hi);
		if (c->kind == ST_T_MARK || c->kind == ST_T_CONNMARK ||
		    c->kind == ST_T_TPROXY) {
			assert_int_equal(r->target.mark, c->mark);
			assert_int_equal(r->target.mask, c->mask);
		}
		assert_int_equal(r->target.zone, c->zone);
		assert_int_equal(r->target.group, c->group);
		assert_string_equal(r->target.text, c->text);
		assert_null(r->target.chain);
		st_ruleset_free(rs);
	}
}

/* -j to a user chain is a jump, -g a goto; both keep the chain name. */
static void test_jump_goto(void **state)
{
	struct st_ruleset *rs = NULL;
	const struct st_rule *r = NULL;

	(void)state;
	rs = parse_ok("*nat\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\n"
		      "-A OUTPUT -j X\n-A OUTPUT -g X\nCOMMIT\n");
	r = st_ruleset_find_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4, 1);
	assert_int_equal(r->target.kind, ST_T_JUMP);
	assert_string_equal(r->target.chain, "X");
	r = st_ruleset_find_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4, 2);
	assert_int_equal(r->target.kind, ST_T_GOTO);
	assert_string_equal(r->target.chain, "X");
	st_ruleset_free(rs);
}

/* Without a header the family comes from the addresses; headers name
 * the backend (legacy, nft) and the family (ip6tables). */
static void test_headers(void **state)
{
	static const struct {
		const char *head;
		const char *addr;
		enum st_backend backend;
		enum st_family family;
	} cases[] = {
		{"", "::6/128", ST_BACKEND_UNKNOWN, ST_FAMILY_IPV6},
		{"", "127.0.0.6", ST_BACKEND_UNKNOWN, ST_FAMILY_IPV4},
		{"# Generated by ip6tables-save v1.8.9 on x\n", "::6",
		 ST_BACKEND_LEGACY, ST_FAMILY_IPV6},
		{"# Generated by ip6tables-legacy-save v1.8.9 on x\n", "::6",
		 ST_BACKEND_LEGACY, ST_FAMILY_IPV6},
		{"# Generated by ip6tables-nft-save v1.8.9 (nf_tables) on x\n",
		 "::6", ST_BACKEND_NFT, ST_FAMILY_IPV6},
		{"# Generated by iptables-nft-save v1.8.9 (nf_tables) on x\n",
		 "1.2.3.4", ST_BACKEND_NFT, ST_FAMILY_IPV4},
		{"# Generated by iptables-save v1.6.1 on x\n", "1.2.3.4",
		 ST_BACKEND_LEGACY, ST_FAMILY_IPV4},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		char text[512];
		struct st_ruleset *rs = NULL;
		const struct st_rule *r = NULL;

		snprintf(text, sizeof(text),
			 "%s*nat\n:OUTPUT ACCEPT [0:0]\n"
			 "-A OUTPUT -s %s -o lo -j RETURN\nCOMMIT\n",
			 cases[i].head, cases[i].addr);
		rs = parse_ok(text);
		assert_int_equal(st_ruleset_backend(rs), cases[i].backend);
		r = st_ruleset_rule(rs, 0);
		assert_int_equal(r->family, cases[i].family);
		assert_int_equal(r->matches[0].addr.family, cases[i].family);
		assert_int_equal(st_ruleset_chain(rs, 0)->family,
				 cases[i].family);
		st_ruleset_free(rs);
	}
}

/* v4 and v6 files of one dual-stack pod go into one ruleset, apart. */
static void test_dualstack(void **state)
{
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	const struct st_rule *r = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.26plus_redirect_dns_dualstack_nft.v4.rules");
	assert_int_equal(st_rules_load_file(rs, path, err), 0);
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules");
	assert_int_equal(st_rules_load_file(rs, path, err), 0);
	assert_int_equal(st_ruleset_nrules(rs), 29 + 23);
	assert_int_equal(st_ruleset_nchains(rs), 13 + 11);
	r = st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV6, 1);
	assert_non_null(r);
	assert_string_equal(r->text,
			    "-A ISTIO_OUTPUT -s ::6/128 -o lo -j RETURN");
	r = st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4, 1);
	assert_string_equal(r->text,
			    "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN");
	st_ruleset_free(rs);
}

/* Table priorities on chains, and iptables-nft-save's notes. */
static void test_prio_and_notes(void **state)
{
	struct st_ruleset *rs = NULL;
	const char *w = NULL;

	(void)state;
	rs = parse_ok("# Generated by iptables-nft-save v1.8.9 (nf_tables)\n"
		      "# Table `nat' is incompatible, use 'nft' tool.\n"
		      "# Warning: iptables-legacy tables present, use "
		      "iptables-legacy-save to see them\n"
		      "*raw\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
		      "*mangle\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
		      "*nat\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
		      ":X - [0:0]\nCOMMIT\n"
		      "*filter\n:OUTPUT DROP [1:2]\nCOMMIT\n");
	assert_int_equal(st_ruleset_backend(rs), ST_BACKEND_NFT);
	assert_int_equal(
		st_ruleset_find_chain(rs, "raw", "OUTPUT", ST_FAMILY_IPV4)
			->prio,
		-300);
	assert_int_equal(
		st_ruleset_find_chain(rs, "mangle", "OUTPUT", ST_FAMILY_IPV4)
			->prio,
		-150);
	assert_int_equal(
		st_ruleset_find_chain(rs, "nat", "OUTPUT", ST_FAMILY_IPV4)
			->prio,
		-100);
	assert_int_equal(
		st_ruleset_find_chain(rs, "nat", "POSTROUTING", ST_FAMILY_IPV4)
			->prio,
		100);
	assert_string_equal(
		st_ruleset_find_chain(rs, "nat", "POSTROUTING", ST_FAMILY_IPV4)
			->hook,
		"postrouting");
	assert_null(
		st_ruleset_find_chain(rs, "nat", "X", ST_FAMILY_IPV4)->hook);
	assert_string_equal(
		st_ruleset_find_chain(rs, "filter", "OUTPUT", ST_FAMILY_IPV4)
			->policy,
		"DROP");
	w = st_ruleset_warnings(rs);
	assert_string_equal(w,
			    "# Table `nat' is incompatible, use 'nft' tool.");
	w += strlen(w) + 1;
	assert_non_null(strstr(w, "# Warning: iptables-legacy tables"));
	st_ruleset_free(rs);
}

struct bad_case {
	const char *file;
	unsigned int line;
	const char *what;
};

static const struct bad_case bad[] = {
	{"truncated-option.rules", 7, "needs an argument"},
	{"truncated-module-option.rules", 4, "needs an argument"},
	{"truncated-chain.rules", 5, "bad policy"},
	{"truncated-eof.rules", 6, "missing COMMIT"},
	{"unknown-option.rules", 5, "unknown option '--frobnicate'"},
	{"undeclared-chain.rules", 6, "undeclared chain 'ISTIO_OUTPUT'"},
	{"rule-before-table.rules", 2, "before any *table"},
	{"missing-commit.rules", 6, "missing COMMIT"},
	{"binary-nul.rules", 4, "binary data"},
	{"binary-elf.rules", 1, "binary data"},
	{"unterminated-quote.rules", 4, "unterminated quote"},
	{"bad-address.rules", 4, "bad address"},
	{"bad-port.rules", 4, "bad port"},
	{"too-many-ports.rules", 4, "more than 15 ports"},
	{"duplicate-chain.rules", 7, "already read"},
	{"chain-declared-twice.rules", 4, "declared twice"},
};

/* Each malformed file is a clean -EINVAL naming the file and line. */
static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		char path[512];
		char where[600];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();

		snprintf(path, sizeof(path), "%s/malformed/%s", ST_SAMPLES,
			 bad[i].file);
		snprintf(where, sizeof(where), "%s:%u: ", path, bad[i].line);
		assert_int_equal(st_rules_load_file(rs, path, err), -EINVAL);
		if (strstr(err, where) != err ||
		    strstr(err, bad[i].what) == NULL)
			fail_msg("%s: got \"%s\", want \"%s...%s\"",
				 bad[i].file, err, where, bad[i].what);
		st_ruleset_free(rs);
	}
}

struct inline_bad {
	const char *text;
	const char *what;
};

static const struct inline_bad inline_bad[] = {
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j\nCOMMIT\n",
	 "-j needs an argument"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp !\nCOMMIT\n",
	 "'!' at end of line"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp stray\nCOMMIT\n",
	 "unexpected 'stray' after -p"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -X\nCOMMIT\n",
	 "unknown option '-X'"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j RETURN -j DROP\nCOMMIT\n",
	 "more than one target"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -g NOPE\nCOMMIT\n",
	 "goto to undeclared chain 'NOPE'"},
	{"# Generated by iptables-save v1.8.9 on x\n"
	 "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d ::1\nCOMMIT\n",
	 "IPv6 address '::1' in an IPv4 rule set"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p bogus\nCOMMIT\n",
	 "unknown protocol 'bogus'"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m mark --mark x\nCOMMIT\n",
	 "bad mark 'x'"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m state --state FOO\nCOMMIT\n",
	 "bad conntrack state 'FOO'"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -o averyveryverylongname\n"
	 "COMMIT\n",
	 "bad interface name"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n[1:x] -A OUTPUT\nCOMMIT\n",
	 "bad counters"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-I OUTPUT -j RETURN\nCOMMIT\n",
	 "expected -A, found '-I'"},
	{"*bogus\nCOMMIT\n", "unknown table 'bogus'"},
	{"COMMIT\n", "COMMIT outside any table"},
	{"*nat\n*nat\n", "no COMMIT before the next table"},
	{"hello world\n", "unexpected line 'hello world'"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m comment\nCOMMIT\n",
	 "-m comment without --comment"},
	{"*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j CT --zone 70000\nCOMMIT\n",
	 "bad zone"},
};

/* Hand-written errors: message "inline:LINE: what", -EINVAL. */
static void test_malformed_inline(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(inline_bad); i++) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		int ret = st_iptsave_parse(rs, inline_bad[i].text,
					   strlen(inline_bad[i].text), "inline",
					   err);

		if (ret != -EINVAL || strncmp(err, "inline:", 7) != 0 ||
		    strstr(err, inline_bad[i].what) == NULL)
			fail_msg("case %zu: ret %d, \"%s\", want \"%s\"", i,
				 ret, err, inline_bad[i].what);
		st_ruleset_free(rs);
	}
}

/* A 10 MB single line is refused at once with its line number. */
static void test_huge_line(void **state)
{
	const size_t n = 10u << 20;
	const char *head = "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m comment "
			   "--comment \"";
	size_t hl = strlen(head);
	char *buf = malloc(n + hl + 32);
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	(void)state;
	assert_non_null(buf);
	memcpy(buf, head, hl);
	memset(buf + hl, 'a', n);
	strcpy(buf + hl + n, "\" -j RETURN\nCOMMIT\n");
	assert_int_equal(st_rules_load_buf(rs, buf, strlen(buf), "huge", err),
			 -EINVAL);
	assert_non_null(strstr(err, "huge:3: line too long"));
	assert_int_equal(st_ruleset_nrules(rs), 0);
	st_ruleset_free(rs);

	/* Also without any newline at all. */
	rs = st_ruleset_new();
	memset(buf, '-', n);
	assert_int_equal(st_iptsave_parse(rs, buf, n, "huge", err), -EINVAL);
	assert_non_null(strstr(err, "huge:1: line too long"));
	st_ruleset_free(rs);
	free(buf);
}

/* Random bytes never crash the parser; they are an error or parse. */
static void test_junk(void **state)
{
	uint32_t seed = 12345;
	char buf[2048];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		size_t len = (size_t)(round % 200) + 1;
		int ret = 0;

		/* A small alphabet of iptables-save pieces and raw bytes. */
		static const char *const words[] = {
			"-A ",		"OUTPUT ",
			"*nat\n",	":OUTPUT ACCEPT [0:0]\n",
			"-m ",		"tcp ",
			"--dport ",	"! ",
			"\"",		"-j ",
			"COMMIT\n",	"\n",
			"1 ",		"[1:2] ",
			"-p ",		"owner ",
			"--uid-owner ", "\\",
			"-s ",		"::1 ",
			"-g ",
		};
		size_t w = 0;

		while (w < len) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 4 == 0) {
				buf[w++] = (char)(seed >> 8);
			} else {
				const char *s = words[(seed >> 16) %
						      ST_ARRAY_SIZE(words)];
				size_t k = strlen(s);

				if (w + k > sizeof(buf))
					break;
				memcpy(buf + w, s, k);
				w += k;
			}
		}
		ret = st_iptsave_parse(rs, buf, w, "junk", err);
		assert_true(ret == 0 || ret == -EINVAL);
		if (ret != 0)
			assert_non_null(strstr(err, "junk:"));
		st_ruleset_free(rs);
	}
}

int main(void)
{
	struct CMUnitTest tests[ST_ARRAY_SIZE(samples) + 16];
	size_t n = 0;
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_warning_only),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_jump_goto),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_dualstack),
		cmocka_unit_test(test_prio_and_notes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_inline),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_junk),
	};

	/* One test per sample, named after its file. */
	for (size_t i = 0; i < ST_ARRAY_SIZE(samples); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_sample, (void *)&samples[i]);

		t.name = samples[i].file;
		tests[n++] = t;
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("iptsave", tests, n, NULL, NULL);
}
