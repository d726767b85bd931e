// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_scenario.c - the six canonical flows of every sample rule set (an
 * ambient pod's are types 7-12):
 * their types (a table, with the reason for every one that is not the
 * scenario's own type) and their whole simulated paths against the
 * goldens in samples/simulate/ (ST_REGEN=1 rewrites them).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classify.h"
#include "eval.h"
#include "istio.h"
#include "scenario.h"
#include "testlib.h"

/* A sample rule set (or a v4/v6 pair) and the type of each scenario. */
struct sc_case {
	const char *rules[2];
	int types[ST_SCENARIO_COUNT];
};

static const struct sc_case cases[] = {
	{.rules = {"istio-1.17_redirect_default_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	/*
	 * 1.1: inbound is captured to 15001 like outbound, so Envoy's
	 * inbound upstream is followed as an outbound one and loops back
	 * over lo (doc/ISTIO-RULES.md, "must not assume" 10); 15090 is not
	 * excluded.
	 */
	{.rules = {"istio-1.1_redirect_app-ports_legacy.rules"},
	 .types = {0, 2, 0, 0, 5, 6}},
	{.rules = {"istio-1.4_redirect_default_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.6_redirect_default_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.9_redirect_dns_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.20_redirect_dns_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.24_redirect_dns_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	/* No rules at all (a warning line): nothing is captured. */
	{.rules =
		 {"istio-1.24_redirect_dns_legacy_VIEWED-WITH-iptables-nft-save.rules"},
	 .types = {0, 0, 0, 0, 0, 0}},
	/*
	 * TPROXY: the scrape is excluded in mangle ISTIO_INBOUND; nat only
	 * shows its policies, so mangle decides: type 3, as live tracing
	 * classifies it.
	 */
	{.rules = {"istio-1.25_tproxy_dns_legacy.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	/*
	 * Ambient in-pod rules: the six are ambient ones (scenario.h), and
	 * ztunnel, told by its mark, takes each capture on.
	 */
	{.rules = {"istio-1.26plus_ambient-inpod_dns_nft.rules"},
	 .types = {7, 8, 9, 10, 11, 12}},
	{.rules = {"istio-1.26plus_cni-sidecar_custom-uid_nft.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.26plus_redirect_default_nft.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.26plus_redirect_default_nft_with-counters.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
		   "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.26plus_redirect_exclusions_drop-invalid_nft.rules"},
	 .types = {1, 2, 3, 4, 5, 6}},
	{.rules = {"istio-1.28plus_ambient-inpod_native-nftables_dns.nft.json"},
	 .types = {7, 8, 9, 10, 11, 12}},
	{.rules = {"istio-1.28plus_native-nftables_redirect_default.nft.json"},
	 .types = {1, 2, 3, 4, 5, 6}},
	/*
	 * Istio's unit-test configuration: outbound capture only for
	 * 9.9.0.0/16 and no inbound port exclusion, so the remote and the
	 * VIP are not captured and 15090 is captured like any port.
	 */
	{.rules =
		 {"istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase."
		  "nft.json"},
	 .types = {1, 0, 1, 0, 5, 6}},
};

static void hop_text(const struct st_flow_hop *h, FILE *f)
{
	fprintf(f, " %s:%s:", h->table, h->chain);
	if (h->kind == ST_HIT_POLICY)
		fprintf(f, "policy");
	else if (h->kind == ST_HIT_RETURN)
		fprintf(f, "return:%u", h->rule);
	else
		fprintf(f, "%u", h->rule);
}

static void write_text(const struct st_scenarios *s, FILE *f)
{
	for (size_t i = 0; i < st_scenario_count(s); i++) {
		const struct st_eval_result *r = st_scenario_result(s, i);
		const struct st_flow *fl = &r->flow;

		fprintf(f, "%zu %s: %s\n  => type %d (%s)%s%s\n", i + 1,
			st_class_type_name(st_scenario_type(s, i)),
			st_scenario_spec(s, i), fl->type,
			st_class_name(fl->klass, fl->type),
			fl->reason[0] ? ": " : "", fl->reason);
		for (unsigned int l = 0; l < fl->nlegs; l++) {
			const struct st_flow_leg *leg = &fl->legs[l];
			char src[ST_FLOW_ADDR_SIZE];
			char dst[ST_FLOW_ADDR_SIZE];

			st_flow_addr_format(leg->family, leg->src, leg->sport,
					    src, sizeof(src));
			st_flow_addr_format(leg->family, leg->dst, leg->dport,
					    dst, sizeof(dst));
			fprintf(f, "  leg %u %s > %s uid %s (%s, %s", l + 1,
				src, dst, leg->has_uid ? "set" : "none",
				st_eval_verdict_name(r->info[l].verdict),
				st_flow_capture_name(leg->capture));
			if (leg->redirect_port)
				fprintf(f, " %u", leg->redirect_port);
			fprintf(f, "):");
			for (unsigned int h = 0; h < leg->nhops; h++)
				hop_text(&leg->hops[h], f);
			fprintf(f, "\n");
			if (leg->incomplete)
				fprintf(f, "    %s\n", leg->why);
		}
	}
}

static void test_scenarios(void **state)
{
	bool update = tl_regen();

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct sc_case *sc = &cases[c];
		char err[ST_ERRBUF_SIZE] = "";
		char path[1024];
		struct st_istio_settings set;
		struct st_ruleset *rs = st_ruleset_new();
		struct st_scenarios *s = NULL;
		char *got = NULL;
		char *want = NULL;
		size_t len = 0;
		FILE *mem = NULL;

		assert_non_null(rs);
		for (size_t k = 0; k < 2 && sc->rules[k]; k++) {
			snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
				 sc->rules[k]);
			assert_int_equal(st_rules_load_file(rs, path, err), 0);
		}
		assert_int_equal(st_istio_analyze(rs, &set, err), 0);
		s = st_scenario_run(rs, &set, err);
		assert_non_null(s);
		assert_int_equal(st_scenario_count(s), ST_SCENARIO_COUNT);
		print_message("  %s\n", sc->rules[0]);
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			const struct st_flow *f = st_scenario_flow(s, i);

			if (f->type != sc->types[i])
				print_error("    %zu: type %d %s\n", i + 1,
					    f->type, f->reason);
			assert_int_equal(f->type, sc->types[i]);
		}
		mem = open_memstream(&got, &len);
		assert_non_null(mem);
		write_text(s, mem);
		fclose(mem);
		snprintf(path, sizeof(path), "%s/simulate/%s%s.scenarios",
			 ST_SAMPLES, sc->rules[0], sc->rules[1] ? "+v6" : "");
		if (update)
			tl_write_file(path, got);
		want = tl_read_file(path, NULL);
		if (want == NULL)
			print_error("    no golden %s\n", path);
		assert_non_null(want);
		assert_string_equal(got, want);
		free(got);
		free(want);
		st_scenario_free(s);
		st_ruleset_free(rs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
