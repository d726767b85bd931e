// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_nftjson.c - the `nft -j list ruleset` parser on the native nftables
 * samples (rule text against nft's own listing), on hand-written
 * expressions, and on malformed JSON.
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

static const struct {
	const char *base;
	size_t nrules;
	size_t nchains;
} samples[] = {
	{"istio-1.28plus_native-nftables_redirect_default", 18, 6},
	{"istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase", 51,
	 16},
	{"istio-1.28plus_ambient-inpod_native-nftables_dns", 18, 12},
};

static struct st_ruleset *load(const char *dir, const char *file)
{
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	assert_non_null(rs);
	snprintf(path, sizeof(path), "%s/%s/%s", ST_SAMPLES, dir, file);
	if (st_rules_load_file(rs, path, err) != 0)
		fail_msg("%s: %s", path, err);
	return rs;
}

/* @line without its "counter packets N bytes N" statement. */
static void strip_counter(char *line)
{
	char *c = strstr(line, "counter packets ");
	char *e = NULL;

	if (c == NULL)
		return;
	e = strstr(c, " bytes ");
	assert_non_null(e);
	e += strlen(" bytes ");
	while (*e >= '0' && *e <= '9')
		e++;
	if (*e == ' ')
		e++;
	else if (c > line && c[-1] == ' ')
		c--;
	memmove(c, e, strlen(e) + 1);
}

/* Each sample: counts, backend, and every rule's text equal to the line
 * of `nft list ruleset` for it, counters removed. */
static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(samples); i++) {
		char file[256];
		char path[512];
		char table[128] = "";
		char chain[128] = "";
		char line[1024];
		unsigned int number = 0;
		size_t seen = 0;
		struct st_ruleset *rs = NULL;
		FILE *f = NULL;

		snprintf(file, sizeof(file), "%s.nft.json", samples[i].base);
		rs = load("rules", file);
		assert_int_equal(st_ruleset_backend(rs), ST_BACKEND_NFTABLES);
		assert_int_equal(st_ruleset_nrules(rs), samples[i].nrules);
		assert_int_equal(st_ruleset_nchains(rs), samples[i].nchains);

		snprintf(path, sizeof(path), "%s/rules/%s.nftlist", ST_SAMPLES,
			 samples[i].base);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			char *s = line;
			const struct st_rule *r = NULL;

			s[strcspn(s, "\n")] = '\0';
			while (*s == '\t' || *s == ' ')
				s++;
			if (sscanf(s, "table %*s %127s {", table) == 1)
				continue;
			if (sscanf(s, "chain %127s {", chain) == 1) {
				number = 0;
				continue;
			}
			if (*s == '\0' || *s == '}' ||
			    strncmp(s, "type ", 5) == 0)
				continue;
			strip_counter(s);
			r = st_ruleset_find_rule(rs, table, chain,
						 ST_FAMILY_ANY, ++number);
			if (r == NULL)
				fail_msg("%s: no rule %s/%s #%u", path, table,
					 chain, number);
			if (strcmp(r->text, s) != 0)
				fail_msg("%s %s/%s #%u:\n got  \"%s\"\n want "
					 "\"%s\"",
					 samples[i].base, table, chain, number,
					 r->text, s);
			assert_int_equal(r->number, number);
			assert_int_equal(r->line, 0);
			assert_true(r->handle > 0);
			assert_non_null(r->target.text);
			for (unsigned int k = 0; k < r->nmatches; k++)
				assert_int_not_equal(r->matches[k].kind,
						     ST_M_UNKNOWN);
			assert_int_not_equal(r->target.kind, ST_T_UNKNOWN);
			seen++;
		}
		fclose(f);
		assert_int_equal(seen, samples[i].nrules);
		st_ruleset_free(rs);
	}
}

static const struct st_rule *rule(const struct st_ruleset *rs,
				  const char *table, const char *chain,
				  unsigned int n)
{
	const struct st_rule *r =
		st_ruleset_find_rule(rs, table, chain, ST_FAMILY_ANY, n);

	if (r == NULL)
		fail_msg("no rule %s/%s #%u", table, chain, n);
	return r;
}

/* Base chains, families and the matches of the redirect sample. */
static void test_redirect_default(void **state)
{
	struct st_ruleset *rs = NULL;
	const struct st_chain *c = NULL;
	const struct st_rule *r = NULL;

	(void)state;
	rs = load("rules",
		  "istio-1.28plus_native-nftables_redirect_default.nft.json");
	c = st_ruleset_find_chain(rs, "istio-proxy-nat", "prerouting",
				  ST_FAMILY_ANY);
	assert_non_null(c);
	assert_true(c->builtin);
	assert_string_equal(c->hook, "prerouting");
	assert_int_equal(c->prio, -100);
	assert_string_equal(c->policy, "ACCEPT");
	assert_int_equal(c->family, ST_FAMILY_ANY);
	assert_int_equal(c->handle, 1);
	c = st_ruleset_find_chain(rs, "istio-proxy-nat", "istio-output",
				  ST_FAMILY_ANY);
	assert_false(c->builtin);
	assert_null(c->hook);
	assert_null(c->policy);
	assert_int_equal(c->nrules, 9);

	/* oifname "lo" ip daddr != 127.0.0.1 tcp dport != 15008
	 * meta skuid 1337 jump istio-in-redirect */
	r = rule(rs, "istio-proxy-nat", "istio-output", 2);
	assert_int_equal(r->handle, 17);
	assert_int_equal(r->family, ST_FAMILY_IPV4);
	assert_true(r->has_counters);
	assert_int_equal(r->nmatches, 5);
	assert_int_equal(r->matches[0].kind, ST_M_OIF);
	assert_string_equal(r->matches[0].ifname, "lo");
	assert_false(r->matches[0].neg);
	assert_int_equal(r->matches[1].kind, ST_M_DST);
	assert_true(r->matches[1].neg);
	assert_int_equal(r->matches[1].addr.plen, 32);
	assert_int_equal(r->matches[1].addr.addr[0], 127);
	/* "tcp dport" implies meta l4proto tcp, as -p tcp -m tcp does. */
	assert_int_equal(r->matches[2].kind, ST_M_PROTO);
	assert_int_equal(r->matches[2].proto, IPPROTO_TCP);
	assert_false(r->matches[2].neg);
	assert_int_equal(r->matches[3].kind, ST_M_DPORT);
	assert_true(r->matches[3].neg);
	assert_int_equal(r->matches[3].nports, 1);
	assert_int_equal(r->matches[3].ports[0].lo, 15008);
	assert_int_equal(r->matches[4].kind, ST_M_UID);
	assert_int_equal(r->matches[4].lo, 1337);
	assert_int_equal(r->matches[4].hi, 1337);
	assert_int_equal(r->target.kind, ST_T_JUMP);
	assert_string_equal(r->target.chain, "istio-in-redirect");
	assert_string_equal(r->target.text, "jump istio-in-redirect");

	r = rule(rs, "istio-proxy-nat", "istio-output", 3);
	assert_int_equal(r->family, ST_FAMILY_ANY);
	assert_int_equal(r->matches[1].kind, ST_M_UID);
	assert_true(r->matches[1].neg);
	assert_int_equal(r->target.kind, ST_T_RETURN);

	r = rule(rs, "istio-proxy-nat", "istio-redirect", 1);
	assert_int_equal(r->target.kind, ST_T_REDIRECT);
	assert_int_equal(r->target.port_lo, 15001);
	assert_int_equal(r->target.port_hi, 15001);
	assert_int_equal(r->matches[0].kind, ST_M_PROTO);
	st_ruleset_free(rs);
}

/* TPROXY with its mark, sets of ports, prefixes, ct state, CT zones and
 * the two connmark directions of the tproxy dual-stack sample. */
static void test_tproxy(void **state)
{
	const char *nat = "istio-proxy-nat";
	const char *mangle = "istio-proxy-mangle";
	struct st_ruleset *rs = NULL;
	const struct st_rule *r = NULL;

	(void)state;
	rs = load("rules",
		  "istio-1.28plus_native-nftables_tproxy_dns_dualstack_"
		  "testcase.nft.json");
	r = rule(rs, mangle, "istio-tproxy", 1);
	assert_int_equal(r->target.kind, ST_T_TPROXY);
	assert_int_equal(r->target.port_lo, 15006);
	assert_int_equal(r->target.mark, 0x539);
	assert_int_equal(r->target.mask, 0xffffffffu);
	assert_int_equal(r->target.addr.family, 0);
	assert_int_equal(r->family, ST_FAMILY_IPV4);
	assert_string_equal(
		r->target.text,
		"tproxy ip to :15006 meta mark set 0x00000539 accept");
	r = rule(rs, mangle, "istio-tproxy", 2);
	assert_int_equal(r->target.kind, ST_T_TPROXY);
	assert_int_equal(r->family, ST_FAMILY_IPV6);

	r = rule(rs, mangle, "istio-inbound", 5);
	assert_int_equal(r->matches[1].kind, ST_M_CTSTATE);
	assert_int_equal(r->matches[1].lo, ST_CT_ESTABLISHED | ST_CT_RELATED);
	assert_int_equal(r->target.kind, ST_T_JUMP);
	r = rule(rs, mangle, "istio-inbound", 3);
	assert_int_equal(r->matches[0].kind, ST_M_IIF);
	assert_int_equal(r->matches[2].kind, ST_M_MARK);
	assert_true(r->matches[2].neg);
	assert_int_equal(r->matches[2].lo, 0x53a);
	assert_int_equal(r->matches[2].hi, 0xffffffffu);

	r = rule(rs, mangle, "prerouting", 3); /* ct mark set meta mark */
	assert_int_equal(r->target.kind, ST_T_CONNMARK);
	assert_string_equal(r->target.text, "ct mark set meta mark");
	r = rule(rs, mangle, "output", 7); /* meta mark set ct mark */
	assert_int_equal(r->target.kind, ST_T_CONNMARK);
	assert_string_equal(r->target.text, "meta mark set ct mark");
	assert_int_equal(r->matches[1].kind, ST_M_CONNMARK);
	assert_int_equal(r->matches[1].lo, 0x539);
	r = rule(rs, mangle, "output", 3);
	assert_int_equal(r->target.kind, ST_T_MARK);
	assert_int_equal(r->target.mark, 0x53a);
	assert_int_equal(r->target.mask, 0xffffffffu);

	r = rule(rs, nat, "istio-output", 3);
	assert_int_equal(r->matches[3].kind, ST_M_DPORT);
	assert_true(r->matches[3].neg);
	assert_int_equal(r->matches[3].nports, 2);
	assert_int_equal(r->matches[3].ports[0].lo, 53);
	assert_int_equal(r->matches[3].ports[1].lo, 15008);
	r = rule(rs, nat, "istio-output", 14);
	assert_int_equal(r->matches[0].kind, ST_M_DST);
	assert_int_equal(r->matches[0].addr.plen, 16);
	assert_int_equal(r->matches[0].addr.addr[0], 1);
	assert_int_equal(r->matches[0].addr.addr[1], 1);
	r = rule(rs, nat, "istio-output", 2);
	assert_int_equal(r->family, ST_FAMILY_IPV6);
	assert_int_equal(r->matches[1].kind, ST_M_SRC);
	assert_int_equal(r->matches[1].addr.plen, 128);
	assert_int_equal(r->matches[1].addr.addr[15], 6);

	r = rule(rs, "istio-proxy-raw", "istio-output-dns", 2);
	assert_int_equal(r->target.kind, ST_T_CT);
	assert_int_equal(r->target.zone, 2);
	assert_int_equal(r->matches[0].kind, ST_M_PROTO);
	assert_int_equal(r->matches[0].proto, IPPROTO_UDP);
	assert_int_equal(r->matches[1].kind, ST_M_SPORT);
	assert_int_equal(r->matches[1].ports[0].lo, 15053);
	assert_int_equal(r->matches[2].kind, ST_M_UID);
	st_ruleset_free(rs);
}

/* Masked marks of the ambient sample: value in .lo, mask in .hi. */
static void test_ambient(void **state)
{
	struct st_ruleset *rs = NULL;
	const struct st_rule *r = NULL;

	(void)state;
	rs = load("rules",
		  "istio-1.28plus_ambient-inpod_native-nftables_dns.nft.json");
	r = rule(rs, "istio-ambient-nat", "istio-prerouting", 2);
	assert_int_equal(r->target.kind, ST_T_REDIRECT);
	assert_int_equal(r->target.port_lo, 15006);
	assert_int_equal(r->matches[3].kind, ST_M_MARK);
	assert_true(r->matches[3].neg);
	assert_int_equal(r->matches[3].lo, 0x539);
	assert_int_equal(r->matches[3].hi, 0xfff);
	r = rule(rs, "istio-ambient-mangle", "istio-prerouting", 1);
	assert_int_equal(r->target.kind, ST_T_CONNMARK);
	assert_int_equal(r->target.mark, 0x111);
	assert_int_equal(r->target.mask, 0xfff);
	r = rule(rs, "istio-ambient-mangle", "istio-output", 1);
	assert_int_equal(r->matches[0].kind, ST_M_CONNMARK);
	assert_int_equal(r->matches[0].lo, 0x111);
	assert_int_equal(r->matches[0].hi, 0xfff);
	st_ruleset_free(rs);
}

struct expr_case {
	const char *expr; /* the rule's "expr" list */
	const char *text;
	enum st_target_kind kind;
	int mkind; /* kind of the first match, -1 for none */
	const char *ttext;
};

static const struct expr_case exprs[] = {
	{"[{\"log\": {\"prefix\": \"st:1\", \"group\": 7}}]",
	 "log prefix \"st:1\" group 7", ST_T_NFLOG, -1, "st:1"},
	{"[{\"log\": {\"prefix\": \"x\"}}, {\"accept\": null}]",
	 "log prefix \"x\" accept", ST_T_LOG, -1, "log prefix \"x\" accept"},
	{"[{\"mangle\": {\"key\": {\"meta\": {\"key\": \"nftrace\"}}, "
	 "\"value\": 1}}]",
	 "meta nftrace set 1", ST_T_TRACE, -1, "meta nftrace set 1"},
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"payload\": "
	 "{\"protocol\": \"th\", \"field\": \"dport\"}}, \"right\": "
	 "{\"range\": [1000, 2000]}}}, {\"drop\": null}]",
	 "th dport 1000-2000 drop", ST_T_DROP, ST_M_DPORT, "drop"},
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"payload\": "
	 "{\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": "
	 "\"@ports\"}}, {\"return\": null}]",
	 "tcp dport @ports return", ST_T_RETURN, ST_M_UNKNOWN, "return"},
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": "
	 "\"skuid\"}}, \"right\": {\"range\": [1000, 1999]}}}, "
	 "{\"goto\": {\"target\": \"c\"}}]",
	 "meta skuid 1000-1999 goto c", ST_T_GOTO, ST_M_UID, "goto c"},
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": "
	 "\"nfproto\"}}, \"right\": \"ipv6\"}}, {\"notrack\": null}]",
	 "meta nfproto ipv6 notrack", ST_T_CT, -1, "notrack"},
	{"[{\"dnat\": {\"family\": \"ip\", \"addr\": \"10.0.0.1\", "
	 "\"port\": 8080}}]",
	 "dnat ip to 10.0.0.1:8080", ST_T_DNAT, -1, "dnat ip to 10.0.0.1:8080"},
	{"[{\"limit\": {\"rate\": 10, \"per\": \"second\"}}, "
	 "{\"accept\": null}]",
	 "{\"limit\":{\"rate\":10,\"per\":\"second\"}} accept", ST_T_ACCEPT,
	 ST_M_STATEFUL, "accept"},
	{"[{\"match\": {\"op\": \"<\", \"left\": {\"meta\": {\"key\": "
	 "\"length\"}}, \"right\": 100}}, {\"frob\": {\"x\": 1}}, "
	 "{\"accept\": null}]",
	 "meta length < 100 {\"frob\":{\"x\":1}} accept", ST_T_UNKNOWN,
	 ST_M_UNKNOWN, "{\"frob\":{\"x\":1}} accept"},
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": "
	 "\"iifname\"}}, \"right\": \"eth*\"}}, {\"redirect\": null}]",
	 "iifname \"eth*\" redirect", ST_T_REDIRECT, ST_M_IIF, "redirect"},
	{"[{\"match\": {\"op\": \"!=\", \"left\": {\"ct\": {\"key\": "
	 "\"state\"}}, \"right\": \"invalid\"}}, {\"counter\": {\"packets\": "
	 "5, \"bytes\": 300}}, {\"reject\": null}]",
	 "ct state != invalid reject", ST_T_REJECT, ST_M_CTSTATE, "reject"},
	{"[{\"mangle\": {\"key\": {\"meta\": {\"key\": \"mark\"}}, "
	 "\"value\": {\"^\": [{\"meta\": {\"key\": \"mark\"}}, 16]}}}]",
	 "meta mark set meta mark ^ 0x00000010", ST_T_MARK, -1,
	 "meta mark set meta mark ^ 0x00000010"},
	/* The node's ambient probe SNAT (1.28+): the kubelet by its uid. */
	{"[{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": "
	 "\"skuid\"}}, \"right\": 0}}, {\"match\": {\"op\": \"==\", "
	 "\"left\": {\"payload\": {\"protocol\": \"ip\", \"field\": "
	 "\"daddr\"}}, \"right\": \"@istio-inpod-probes-v4\"}}, {\"counter\": "
	 "{\"packets\": 0, \"bytes\": 0}}, {\"snat\": {\"family\": \"ip\", "
	 "\"addr\": \"169.254.7.127\"}}]",
	 "meta skuid 0 ip daddr @istio-inpod-probes-v4 snat ip to 169.254.7.127",
	 ST_T_SNAT, ST_M_UID, "snat ip to 169.254.7.127"},
	{"[]", "", ST_T_NONE, -1, ""},
};

/* Hand-written expression lists: text, target, first match. */
static void test_exprs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(exprs); i++) {
		char json[2048];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		const struct st_rule *r = NULL;

		snprintf(json, sizeof(json),
			 "{\"nftables\": [{\"table\": {\"family\": \"inet\", "
			 "\"name\": \"t\"}}, {\"chain\": {\"family\": "
			 "\"inet\", \"table\": \"t\", \"name\": \"c\"}}, "
			 "{\"rule\": {\"family\": \"inet\", \"table\": \"t\", "
			 "\"chain\": \"c\", \"handle\": 4, \"comment\": "
			 "\"hi\", \"expr\": %s}}]}",
			 exprs[i].expr);
		if (st_nftjson_parse(rs, json, strlen(json), "x", err) != 0)
			fail_msg("case %zu: %s", i, err);
		r = st_ruleset_rule(rs, 0);
		assert_non_null(r);
		{
			char want[512];

			snprintf(want, sizeof(want), "%s%scomment \"hi\"",
				 exprs[i].text, *exprs[i].text ? " " : "");
			if (strcmp(r->text, want) != 0)
				fail_msg("case %zu: got \"%s\" want \"%s\"", i,
					 r->text, want);
		}
		assert_int_equal(r->target.kind, exprs[i].kind);
		assert_string_equal(r->target.text, exprs[i].ttext);
		if (r->target.kind == ST_T_MARK) {
			/* xor 0x10: as --set-xmark 0x10/0x0 */
			assert_int_equal(r->target.mark, 0x10);
			assert_int_equal(r->target.mask, 0);
		}
		if (exprs[i].mkind >= 0) {
			assert_true(r->nmatches >= 1);
			assert_int_equal(r->matches[0].kind, exprs[i].mkind);
		}
		/* The rule comment is the last match. */
		assert_int_equal(r->matches[r->nmatches - 1].kind,
				 ST_M_COMMENT);
		assert_string_equal(r->matches[r->nmatches - 1].text, "hi");
		st_ruleset_free(rs);
	}
}

/* Unknown matches keep their JSON; nft's "eth*" is iptables' "eth+". */
static void test_details(void **state)
{
	const char *json =
		"{\"nftables\": [{\"table\": {\"family\": \"ip6\", \"name\": "
		"\"t\"}}, {\"chain\": {\"family\": \"ip6\", \"table\": \"t\", "
		"\"name\": \"c\"}}, {\"table\": {\"family\": \"bridge\", "
		"\"name\": \"b\"}}, {\"chain\": {\"family\": \"bridge\", "
		"\"table\": \"b\", \"name\": \"c\"}}, {\"rule\": {\"family\": "
		"\"bridge\", \"table\": \"b\", \"chain\": \"c\", \"expr\": "
		"[{\"accept\": null}]}}, {\"set\": {\"family\": \"ip6\", "
		"\"name\": \"s\", \"table\": \"t\"}}, {\"rule\": {\"family\": "
		"\"ip6\", \"table\": \"t\", \"chain\": \"c\", \"handle\": 9, "
		"\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": "
		"{\"key\": \"iifname\"}}, \"right\": \"eth*\"}}, {\"match\": "
		"{\"op\": \">\", \"left\": {\"meta\": {\"key\": \"length\"}}, "
		"\"right\": 5}}, {\"tproxy\": {\"family\": \"ip6\", \"addr\": "
		"\"::1\", \"port\": 15006}}]}}]}";
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	const struct st_rule *r = NULL;

	(void)state;
	assert_int_equal(st_nftjson_parse(rs, json, strlen(json), "x", err), 0);
	/* The bridge table is skipped, with a note. */
	assert_int_equal(st_ruleset_nrules(rs), 1);
	assert_int_equal(st_ruleset_nchains(rs), 1);
	assert_non_null(strstr(st_ruleset_warnings(rs), "bridge b"));
	r = st_ruleset_rule(rs, 0);
	assert_int_equal(r->family, ST_FAMILY_IPV6);
	assert_int_equal(r->handle, 9);
	assert_false(r->has_counters);
	assert_int_equal(r->nmatches, 2);
	assert_string_equal(r->matches[0].ifname, "eth+");
	assert_int_equal(r->matches[1].kind, ST_M_UNKNOWN);
	assert_string_equal(r->matches[1].text,
			    "{\"match\":{\"op\":\">\",\"left\":{\"meta\":"
			    "{\"key\":\"length\"}},\"right\":5}}");
	assert_int_equal(r->target.kind, ST_T_TPROXY);
	assert_int_equal(r->target.addr.family, ST_FAMILY_IPV6);
	assert_int_equal(r->target.addr.addr[15], 1);
	assert_string_equal(r->text, "iifname \"eth*\" meta length > 5 "
				     "tproxy ip6 to [::1]:15006");
	assert_int_equal(st_ruleset_chain(rs, 0)->family, ST_FAMILY_IPV6);
	st_ruleset_free(rs);
}

struct bad_case {
	const char *file;
	const char *what; /* must follow "PATH" in the message */
};

static const struct bad_case bad[] = {
	{"bad-syntax.nft.json", ":4:2: bad JSON"},
	{"truncated.nft.json", ":3:96: bad JSON"},
	{"not-nftables.nft.json", ": not an nft ruleset"},
	{"json-array.nft.json", ": not an nft ruleset"},
	{"unknown-chain.nft.json",
	 ": nftables[2]: rule refers to unknown chain 'nope'"},
	{"rule-without-expr.nft.json",
	 ": nftables[2]: rule in chain 'c' without an \"expr\" list"},
};

/* Malformed JSON: -EINVAL naming the file (and line:column for syntax). */
static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		char path[512];
		char want[700];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();

		snprintf(path, sizeof(path), "%s/malformed/%s", ST_SAMPLES,
			 bad[i].file);
		snprintf(want, sizeof(want), "%s%s", path, bad[i].what);
		assert_int_equal(st_rules_load_file(rs, path, err), -EINVAL);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].file,
				 err, want);
		st_ruleset_free(rs);
	}
}

/* Inline semantic errors. */
static void test_malformed_inline(void **state)
{
	static const struct {
		const char *json;
		const char *what;
	} cases[] = {
		{"{\"nftables\": [{\"chain\": {\"family\": \"ip\", \"table\": "
		 "\"t\", \"name\": \"c\"}}]}",
		 "x: nftables[0]: chain 'c' of unknown table ip t"},
		{"{\"nftables\": [{\"rule\": {\"family\": \"ip\", \"table\": "
		 "\"t\", \"chain\": \"c\", \"expr\": []}}]}",
		 "x: nftables[0]: rule of unknown table ip t"},
		{"{\"nftables\": [42]}",
		 "x: nftables[0]: not an object with one key"},
		{"{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": "
		 "\"t\"}}, {\"chain\": {\"family\": \"ip\", \"table\": \"t\", "
		 "\"name\": \"c\"}}, {\"rule\": {\"family\": \"ip\", "
		 "\"table\": \"t\", \"chain\": \"c\", \"expr\": [7]}}]}",
		 "x: nftables[2]: rule in chain 'c': expression 0 is not"},
		{"{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": "
		 "\"t\"}}, {\"chain\": {\"family\": \"ip\", \"table\": \"t\", "
		 "\"name\": \"c\"}}, {\"rule\": {\"family\": \"ip\", "
		 "\"table\": \"t\", \"chain\": \"c\", \"expr\": "
		 "[{\"jump\": {}}]}}]}",
		 "x: nftables[2]: jump without a target"},
		{"{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": "
		 "\"t\"}}, {\"chain\": {\"family\": \"ip\", \"table\": \"t\", "
		 "\"name\": \"c\"}}, {\"rule\": {\"family\": \"ip\", "
		 "\"table\": \"t\", \"chain\": \"c\", \"expr\": "
		 "[{\"redirect\": {\"port\": 99999}}]}}]}",
		 "x: nftables[2]: bad redirect port"},
		{"{\"nftables\": 1}", "x: not an nft ruleset"},
		{"{\"nftables\": [] } x", "x:1:19: bad JSON"},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		int ret = st_rules_load_buf(rs, cases[i].json,
					    strlen(cases[i].json), "x", err);

		if (ret != -EINVAL ||
		    strncmp(err, cases[i].what, strlen(cases[i].what)) != 0)
			fail_msg("case %zu: ret %d \"%s\", want \"%s\"", i, ret,
				 err, cases[i].what);
		st_ruleset_free(rs);
	}
}

/* An empty ruleset is no error: no rules, backend nftables. */
static void test_empty(void **state)
{
	struct st_ruleset *rs = NULL;

	(void)state;
	rs = load("malformed", "empty-ruleset.nft.json");
	assert_int_equal(st_ruleset_nrules(rs), 0);
	assert_int_equal(st_ruleset_backend(rs), ST_BACKEND_NFTABLES);
	st_ruleset_free(rs);
}

/* Random mutations of a real sample never crash the parser. */
static void test_junk(void **state)
{
	char path[512];
	FILE *f = NULL;
	char *orig = NULL;
	char *buf = NULL;
	long n = 0;
	uint32_t seed = 7;

	(void)state;
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase"
		 ".nft.json");
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	orig = malloc((size_t)n);
	buf = malloc((size_t)n);
	assert_non_null(orig);
	assert_non_null(buf);
	assert_int_equal(fread(orig, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (int round = 0; round < 3000; round++) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		int ret = 0;

		memcpy(buf, orig, (size_t)n);
		for (int k = 0; k < 1 + round % 4; k++) {
			size_t at = 0;

			seed = seed * 1103515245u + 12345u;
			at = (seed >> 8) % (size_t)n;
			seed = seed * 1103515245u + 12345u;
			buf[at] = "{}[]\",:0 a-1"[(seed >> 16) % 12];
		}
		ret = st_nftjson_parse(rs, buf, (size_t)n, "junk", err);
		assert_true(ret == 0 || ret == -EINVAL);
		if (ret != 0)
			assert_int_equal(strncmp(err, "junk", 4), 0);
		st_ruleset_free(rs);
	}
	free(orig);
	free(buf);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_redirect_default),
		cmocka_unit_test(test_tproxy),
		cmocka_unit_test(test_ambient),
		cmocka_unit_test(test_exprs),
		cmocka_unit_test(test_details),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_inline),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
