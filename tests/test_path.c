// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_path.c - the article's notation (render/path.h): which chains show,
 * how each reads, the endpoints, for legs written hop by hop against the
 * sample rules; and the text line and summary table.
 */
#include <arpa/inet.h>
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

#include "flow.h"
#include "path.h"
#include "rules-int.h"
#include "testlib.h"

#define R117 "istio-1.17_redirect_default_legacy.rules"
#define R120 "istio-1.20_redirect_dns_legacy.rules"
#define R125 "istio-1.25_tproxy_dns_legacy.rules"
#define RDS4 "istio-1.26plus_redirect_dns_dualstack_nft.v4.rules"
#define RNFT "istio-1.28plus_native-nftables_redirect_default.nft.json"
#define RFOREIGN "(builder)"

/* A leg: addresses, owner, device, then hops "KIND TABLE CHAIN [N]|...". */
struct leg_spec {
	const char *src;
	const char *dst;
	int uid; /* -1 none */
	bool arriving;
	const char *out;
	const char *hops;
};

struct path_case {
	const char *name;
	const char *rules;
	int type;
	unsigned int nlegs;
	struct leg_spec legs[ST_FLOW_MAX_LEGS];
	const char *want;
};

#define APP_OUT(h) "e nat OUTPUT|h nat OUTPUT 1|e nat ISTIO_OUTPUT|" h
#define T2_APP                                                                      \
	APP_OUT("h nat ISTIO_OUTPUT 9|e nat ISTIO_REDIRECT|h nat ISTIO_REDIRECT 1|" \
		"e nat POSTROUTING|p nat POSTROUTING")
#define T2_UP                                                          \
	APP_OUT("h nat ISTIO_OUTPUT 4|p nat OUTPUT|e nat POSTROUTING|" \
		"p nat POSTROUTING")

static const struct path_case cases[] = {
	{"type 2, the article's example",
	 R117,
	 2,
	 2,
	 {{"10.0.0.7:50000", "10.96.0.20:80", 1000, false, "eth0", T2_APP},
	  {"10.0.0.7:50010", "10.0.2.9:8080", 1337, false, "eth0", T2_UP}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT -> "
	 "Envoy 15001 (Outbound) -> OUTPUT -> ISTIO_OUTPUT RULE 4 -> "
	 "POSTROUTING -> Remote Pod"},
	{"type 2 from TRACE records (no entry records)",
	 R117,
	 2,
	 2,
	 {{"10.0.0.7:50000", "10.96.0.20:80", 1000, false, "eth0",
	   "h nat OUTPUT 1|h nat ISTIO_OUTPUT 9|h nat ISTIO_REDIRECT 1|"
	   "p nat POSTROUTING"},
	  {"10.0.0.7:50010", "10.0.2.9:8080", 1337, false, "eth0",
	   "h nat OUTPUT 1|h nat ISTIO_OUTPUT 4|p nat OUTPUT|"
	   "p nat POSTROUTING"}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT -> "
	 "Envoy 15001 (Outbound) -> OUTPUT -> ISTIO_OUTPUT RULE 4 -> "
	 "POSTROUTING -> Remote Pod"},
	{"type 1, the deciding jump of ISTIO_INBOUND",
	 R117,
	 1,
	 2,
	 {{"10.0.1.5:40000", "10.0.0.7:8080", -1, true, "",
	   "e nat PREROUTING|h nat PREROUTING 1|e nat ISTIO_INBOUND|"
	   "h nat ISTIO_INBOUND 5|e nat ISTIO_IN_REDIRECT|"
	   "h nat ISTIO_IN_REDIRECT 1|e nat INPUT|p nat INPUT"},
	  {"127.0.0.6:41000", "10.0.0.7:8080", 1337, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 1|p nat OUTPUT|e nat POSTROUTING|"
		   "p nat POSTROUTING")}},
	 "Remote Pod -> PREROUTING -> ISTIO_INBOUND RULE 5 -> ISTIO_IN_REDIRECT "
	 "-> Envoy 15006 (Inbound) -> OUTPUT -> ISTIO_OUTPUT RULE 1 -> "
	 "POSTROUTING -> Local Pod"},
	{"type 3 with INPUT",
	 R117,
	 3,
	 1,
	 {{"10.0.3.3:45000", "10.0.0.7:15090", -1, true, "",
	   "e nat PREROUTING|h nat PREROUTING 1|e nat ISTIO_INBOUND|"
	   "h nat ISTIO_INBOUND 2|p nat PREROUTING|e nat INPUT|p nat INPUT"}},
	 "Prometheus -> PREROUTING -> ISTIO_INBOUND RULE 2 -> INPUT -> "
	 "Local Pod"},
	{"type 5 and 6 endpoints",
	 R117,
	 5,
	 1,
	 {{"127.0.0.1:47000", "127.0.0.1:15000", 1337, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 4|p nat OUTPUT")}},
	 "Envoy process (Localhost) -> OUTPUT -> ISTIO_OUTPUT RULE 4 -> "
	 "Envoy process (Localhost)"},
	{"type 6",
	 R117,
	 6,
	 1,
	 {{"10.0.0.7:48000", "10.96.0.15:15012", 1337, false, "eth0",
	   APP_OUT("h nat ISTIO_OUTPUT 4|p nat OUTPUT|e nat POSTROUTING|"
		   "p nat POSTROUTING")}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 4 -> POSTROUTING -> Istiod"},
	{"type 4",
	 R117,
	 4,
	 3,
	 {{"10.0.0.7:50020", "10.96.0.30:80", 1000, false, "eth0", T2_APP},
	  {"10.0.0.7:50030", "10.0.0.7:8080", 1337, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 2|e nat ISTIO_IN_REDIRECT|"
		   "h nat ISTIO_IN_REDIRECT 1|e nat POSTROUTING|"
		   "p nat POSTROUTING")},
	  {"127.0.0.6:50040", "10.0.0.7:8080", 1337, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 1|p nat OUTPUT|e nat POSTROUTING|"
		   "p nat POSTROUTING")}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT -> "
	 "Envoy 15001 (Outbound) -> OUTPUT -> ISTIO_OUTPUT RULE 2 -> "
	 "ISTIO_IN_REDIRECT -> Envoy 15006 (Inbound) -> OUTPUT -> ISTIO_OUTPUT "
	 "RULE 1 -> POSTROUTING -> Local Pod"},
	{"a resumed caller shows its next deciding rule",
	 RDS4,
	 0,
	 1,
	 {{"10.0.0.7:50400", "10.96.0.20:80", 1000, false, "eth0",
	   "e raw OUTPUT|h raw OUTPUT 1|e raw ISTIO_OUTPUT_DNS|"
	   "r raw ISTIO_OUTPUT_DNS|p raw OUTPUT|e nat OUTPUT|h nat OUTPUT 1|"
	   "e nat ISTIO_OUTPUT|h nat ISTIO_OUTPUT 8|e nat ISTIO_OUTPUT_DNS|"
	   "r nat ISTIO_OUTPUT_DNS|h nat ISTIO_OUTPUT 10|e nat ISTIO_REDIRECT|"
	   "h nat ISTIO_REDIRECT 1"}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 8 -> ISTIO_OUTPUT_DNS (no "
	 "match) -> ISTIO_OUTPUT RULE 10 -> ISTIO_REDIRECT -> Envoy 15001 "
	 "(Outbound)"},
	{"an Istio verdict in a built-in chain",
	 R120,
	 0,
	 1,
	 {{"10.0.0.7:53000", "10.96.0.10:53", 1000, false, "eth0",
	   "e raw OUTPUT|h raw OUTPUT 5|p raw OUTPUT|e nat OUTPUT|"
	   "h nat OUTPUT 4|e nat POSTROUTING|p nat POSTROUTING"}},
	 "Local Pod -> OUTPUT RULE 4 -> DNS proxy 15053"},
	{"records missing",
	 R117,
	 0,
	 1,
	 {{"10.0.0.7:50700", "10.96.0.20:80", 1000, false, "eth0",
	   APP_OUT("h nat ISTIO_OUTPUT 9|e nat ISTIO_REDIRECT|"
		   "e nat POSTROUTING|p nat POSTROUTING")}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT "
	 "(records missing) -> POSTROUTING -> Remote Pod"},
	{"native nftables names",
	 RNFT,
	 2,
	 2,
	 {{"10.0.0.7:50300", "10.96.0.20:80", 1000, false, "eth0",
	   "e istio-proxy-nat output|h istio-proxy-nat output 1|"
	   "e istio-proxy-nat istio-output|h istio-proxy-nat istio-output 9|"
	   "e istio-proxy-nat istio-redirect|"
	   "h istio-proxy-nat istio-redirect 1"},
	  {"10.0.0.7:50310", "10.0.2.9:8080", 1337, false, "eth0",
	   "e istio-proxy-nat output|h istio-proxy-nat output 1|"
	   "e istio-proxy-nat istio-output|h istio-proxy-nat istio-output 4|"
	   "p istio-proxy-nat output"}},
	 "Local Pod -> output -> istio-output RULE 9 -> istio-redirect -> "
	 "Envoy 15001 (Outbound) -> output -> istio-output RULE 4 -> "
	 "Remote Pod"},
	{"TPROXY: nat, then the mangle traversal that captured",
	 R125,
	 0,
	 1,
	 {{"10.0.0.7:51110", "10.0.0.7:8080", 0, false, "lo",
	   "e raw OUTPUT|h raw OUTPUT 1|e raw ISTIO_OUTPUT_DNS|"
	   "r raw ISTIO_OUTPUT_DNS|p raw OUTPUT|e mangle OUTPUT|"
	   "h mangle OUTPUT 3|p mangle OUTPUT|" APP_OUT(
		   "h nat ISTIO_OUTPUT 3|p nat OUTPUT|e mangle POSTROUTING|"
		   "p mangle POSTROUTING|e nat POSTROUTING|p nat POSTROUTING|"
		   "e raw PREROUTING|h raw PREROUTING 1|e raw ISTIO_INBOUND|"
		   "r raw ISTIO_INBOUND|p raw PREROUTING|e mangle PREROUTING|"
		   "h mangle PREROUTING 1|e mangle ISTIO_INBOUND|"
		   "h mangle ISTIO_INBOUND 8|e mangle ISTIO_TPROXY|"
		   "h mangle ISTIO_TPROXY 1|e mangle INPUT|p mangle INPUT")}},
	 "Sidecar -> OUTPUT -> ISTIO_OUTPUT RULE 3 -> POSTROUTING -> "
	 "PREROUTING -> ISTIO_INBOUND RULE 8 -> ISTIO_TPROXY -> Envoy 15006 "
	 "(Inbound)"},
	{"TPROXY: no nat hops, the decisive table (mangle)",
	 R125,
	 3,
	 1,
	 {{"10.0.3.3:45000", "10.0.0.7:15020", -1, true, "",
	   "e raw PREROUTING|h raw PREROUTING 1|e raw ISTIO_INBOUND|"
	   "r raw ISTIO_INBOUND|p raw PREROUTING|e mangle PREROUTING|"
	   "h mangle PREROUTING 1|e mangle ISTIO_INBOUND|"
	   "h mangle ISTIO_INBOUND 6|p mangle PREROUTING|e mangle INPUT|"
	   "p mangle INPUT"}},
	 "Prometheus -> PREROUTING -> ISTIO_INBOUND RULE 6 -> INPUT -> "
	 "Local Pod"},
	{"non-Istio user chains are left out",
	 RFOREIGN,
	 0,
	 1,
	 {{"10.0.0.7:50900", "10.0.9.9:80", 1000, false, "eth0",
	   "e nat OUTPUT|h nat OUTPUT 1|e nat KUBE-SVC|h nat KUBE-SVC 1|"
	   "r nat KUBE-SVC|h nat OUTPUT 2|e nat ISTIO_OUTPUT|"
	   "h nat ISTIO_OUTPUT 2|p nat OUTPUT"}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 2 -> Remote Pod"},
	{"type 0 endpoints: arriving",
	 R117,
	 0,
	 1,
	 {{"10.0.0.1:33000", "10.0.0.7:15021", -1, true, "",
	   "e nat PREROUTING|h nat PREROUTING 1|e nat ISTIO_INBOUND|"
	   "h nat ISTIO_INBOUND 3|p nat PREROUTING"}},
	 "Remote Pod -> PREROUTING -> ISTIO_INBOUND RULE 3 -> Local Pod"},
	{"type 0 endpoints: the proxy over lo, to localhost",
	 R117,
	 0,
	 1,
	 {{"127.0.0.6:48200", "10.0.0.7:8080", 1337, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 1|p nat OUTPUT")}},
	 "Sidecar -> OUTPUT -> ISTIO_OUTPUT RULE 1 -> Local Pod"},
	{"type 0 endpoints: an app to localhost",
	 R117,
	 0,
	 1,
	 {{"127.0.0.1:50090", "127.0.0.1:8080", 1000, false, "lo",
	   APP_OUT("h nat ISTIO_OUTPUT 3|p nat OUTPUT")}},
	 "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 3 -> Localhost"},
};

struct rules_cache {
	const char *name;
	struct st_ruleset *rs;
};

static struct rules_cache cache[8];

static struct st_ruleset *foreign_rules(void)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct st_rule *r = NULL;

	assert_non_null(rs);
	assert_non_null(st_ruleset_add_chain(rs, "nat", "OUTPUT",
					     ST_FAMILY_IPV4, "ACCEPT"));
	assert_non_null(st_ruleset_add_chain(rs, "nat", "KUBE-SVC",
					     ST_FAMILY_IPV4, NULL));
	assert_non_null(st_ruleset_add_chain(rs, "nat", "ISTIO_OUTPUT",
					     ST_FAMILY_IPV4, NULL));
	r = st_ruleset_add_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4);
	r->target.kind = ST_T_JUMP;
	r->target.chain = strdup("KUBE-SVC");
	r = st_ruleset_add_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4);
	r->target.kind = ST_T_JUMP;
	r->target.chain = strdup("ISTIO_OUTPUT");
	r = st_ruleset_add_rule(rs, "nat", "KUBE-SVC", ST_FAMILY_IPV4);
	r->target.kind = ST_T_MARK;
	r = st_ruleset_add_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4);
	r->target.kind = ST_T_RETURN;
	r = st_ruleset_add_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4);
	r->target.kind = ST_T_RETURN;
	return rs;
}

static struct st_ruleset *rules(const char *name)
{
	size_t i = 0;

	for (; i < ST_ARRAY_SIZE(cache) && cache[i].name != NULL; i++)
		if (strcmp(cache[i].name, name) == 0)
			return cache[i].rs;
	assert_true(i < ST_ARRAY_SIZE(cache));
	cache[i].name = name;
	if (strcmp(name, RFOREIGN) == 0) {
		cache[i].rs = foreign_rules();
		return cache[i].rs;
	}
	cache[i].rs = tl_load_rules(name);
	return cache[i].rs;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cache); i++) {
		st_ruleset_free(cache[i].rs);
		cache[i].rs = NULL;
		cache[i].name = NULL;
	}
	return 0;
}

/* What flow.c derives at emission, for the few fields path.c reads. */
static void build_leg(struct st_ruleset *rs, const struct leg_spec *s,
		      struct st_flow_leg *l)
{
	char *hops = strdup(s->hops);
	char *save = NULL;
	uint8_t fam2 = 0;

	assert_non_null(hops);
	memset(l, 0, sizeof(*l));
	tl_parse_addr(s->src, &l->family, l->src, &l->sport);
	tl_parse_addr(s->dst, &fam2, l->dst, &l->dport);
	l->proto = IPPROTO_TCP;
	l->has_uid = l->has_gid = s->uid >= 0;
	l->uid = l->gid = s->uid >= 0 ? (uint32_t)s->uid : 0;
	l->proxy = s->uid == 1337 || (s->uid == 0 && !s->arriving);
	l->arriving = s->arriving;
	st_strlcpy(l->outdev, s->out, sizeof(l->outdev));
	l->redirect_hop = -1;
	l->decision_hop = -1;
	for (char *h = strtok_r(hops, "|", &save); h != NULL;
	     h = strtok_r(NULL, "|", &save)) {
		char kind = h[0];
		char table[32];
		char chain[32];
		unsigned int n = 0;
		const struct st_chain *c = NULL;
		struct st_flow_hop *hop = &l->hops[l->nhops++];

		assert_true(l->nhops <= ST_FLOW_MAX_HOPS);
		assert_true(sscanf(h + 2, "%31s %31s %u", table, chain, &n) >=
			    2);
		c = st_ruleset_find_chain(rs, table, chain, l->family);
		if (c == NULL)
			fail_msg("no chain %s %s", table, chain);
		hop->table = c->table;
		hop->chain = c->name;
		hop->builtin = c->builtin;
		hop->istio = strncmp(chain, "ISTIO_", 6) == 0 ||
			     strncmp(chain, "istio-", 6) == 0;
		hop->chain_rules = c->nrules;
		hop->kind = kind == 'e'	  ? ST_HIT_ENTER
			    : kind == 'h' ? ST_HIT_RULE
			    : kind == 'p' ? ST_HIT_POLICY
					  : ST_HIT_RETURN;
		if (hop->kind == ST_HIT_RETURN)
			hop->rule = c->nrules + 1;
		if (hop->kind != ST_HIT_RULE)
			continue;
		hop->rule = n;
		hop->r = st_ruleset_find_rule(rs, table, chain, l->family, n);
		assert_non_null(hop->r);
		if (l->redirect_hop < 0 &&
		    (hop->r->target.kind == ST_T_REDIRECT ||
		     hop->r->target.kind == ST_T_TPROXY)) {
			l->redirect_hop = (int)l->nhops - 1;
			l->redirect_port = hop->r->target.port_lo;
			l->capture = l->redirect_port == 15001
					     ? ST_CAPTURE_OUTBOUND
				     : l->redirect_port == 15053
					     ? ST_CAPTURE_DNS
					     : ST_CAPTURE_INBOUND;
		}
	}
	for (unsigned int i = 0; i < l->nhops; i++)
		if (strcmp(l->hops[i].table, "nat") == 0 ||
		    strcmp(l->hops[i].table, "istio-proxy-nat") == 0)
			l->nat_table = l->hops[i].table;
	l->decisive_table = l->redirect_hop >= 0
				    ? l->hops[l->redirect_hop].table
			    : l->nat_table ? l->nat_table
					   : l->hops[l->nhops - 1].table;
	free(hops);
}

static struct st_flow *build_flow(const struct path_case *c)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_ruleset *rs = rules(c->rules);

	assert_non_null(f);
	f->type = c->type;
	f->klass = c->type == 0 ? ST_CLASS_UNKNOWN : ST_CLASS_NONE;
	f->nlegs = c->nlegs;
	for (unsigned int i = 0; i < c->nlegs; i++)
		build_leg(rs, &c->legs[i], &f->legs[i]);
	return f;
}

static void test_cases(void **state)
{
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		struct st_flow *f = build_flow(&cases[i]);
		int n = st_path_format(f, buf, sizeof(buf));

		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case '%s':\n got  %s\n want %s",
				 cases[i].name, buf, cases[i].want);
		assert_int_equal(n, (int)strlen(cases[i].want));
		free(f);
	}
}

/* A small buffer: truncated, terminated, and the full length returned. */
static void test_truncation(void **state)
{
	struct st_flow *f = build_flow(&cases[0]);
	char buf[10];
	char big[1024];
	int n = 0;

	(void)state;
	n = st_path_format(f, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(cases[0].want));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, cases[0].want, sizeof(buf) - 1);
	assert_int_equal(st_path_format(f, big, 0), n);
	f->nlegs = 0;
	assert_int_equal(st_path_format(f, big, sizeof(big)), 0);
	assert_string_equal(big, "");
	free(f);
}

static char *print_to_string(const struct st_flow *f,
			     const struct st_flow_stats *st)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	if (f != NULL)
		assert_int_equal(st_path_print(out, f), 0);
	if (st != NULL)
		assert_int_equal(st_path_summary(out, st), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

static void test_print(void **state)
{
	struct st_flow *f = build_flow(&cases[0]);
	char *text = NULL;

	(void)state;
	text = print_to_string(f, NULL);
	assert_string_equal(text,
			    "[2 local-to-remote] Local Pod -> OUTPUT -> "
			    "ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT -> "
			    "Envoy 15001 (Outbound) -> OUTPUT -> "
			    "ISTIO_OUTPUT RULE 4 -> POSTROUTING -> Remote "
			    "Pod  (10.0.0.7:50000 -> 10.96.0.20:80)\n");
	free(text);
	f->type = 0;
	f->klass = ST_CLASS_UNKNOWN;
	f->nlegs = 1;
	st_strlcpy(f->reason, "no upstream", sizeof(f->reason));
	text = print_to_string(f, NULL);
	assert_string_equal(text, "[0 unknown] Local Pod -> OUTPUT -> "
				  "ISTIO_OUTPUT RULE 9 -> ISTIO_REDIRECT -> "
				  "Envoy 15001 (Outbound)  (10.0.0.7:50000 -> "
				  "10.96.0.20:80; no upstream)\n");
	free(text);
	free(f);
}

static void test_summary(void **state)
{
	struct st_flow_stats st;
	char *text = NULL;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.records = 120;
	st.flows = 9;
	st.by_type[1] = 2;
	st.by_type[2] = 3;
	st.by_type[5] = 1;
	st.by_type[0] = 3;
	st.by_class[ST_CLASS_BYPASS] = 2;
	st.by_class[ST_CLASS_INCOMPLETE] = 1;
	st.lost = 4;
	st.skipped = 1;
	st_strlcpy(st.last_skip, "no chain nat:FOO in the rules",
		   sizeof(st.last_skip));
	text = print_to_string(NULL, &st);
	assert_string_equal(
		text,
		"type name                      flows\n"
		"1    remote-to-local               2\n"
		"2    local-to-remote               3\n"
		"3    prometheus-scrape             0\n"
		"4    local-to-local                0\n"
		"5    envoy-interprocess            1\n"
		"6    sidecar-to-istiod             0\n"
		"0    other                         3\n"
		"       bypass                      2\n"
		"       incomplete                  1\n"
		"     total                         9\n"
		"records: 120 (13.33 per flow)  lost: 4  skipped: 1  evicted flows: 0\n"
		"last skipped record: no chain nat:FOO in the rules\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
