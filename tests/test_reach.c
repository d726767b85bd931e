// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_reach.c - which rules can ever match: the shadowing
 * doc/ISTIO-RULES.md describes ("Things a parser or tracer must not
 * assume" 1-3 and 11), and hand-built edge cases: unknown matches, jumps
 * that may return, goto, marks, orphan chains, the kernel's loopback and
 * socket rules, families, and a 10,000-rule chain.  Rule sets are built with the builder API
 * (rules-int.h) from iptables-save-like lines, so that these tests do not
 * depend on the parsers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "reach.h"
#include "rules-int.h"
#include "testlib.h"

/* ---- expectations ---- */

/* Rules as "chain:number" that must never match; all others must. */
struct reach_case {
	const char *name;
	enum st_backend backend;
	enum st_family family;
	const char *rules;
	const char *never[12];
	/* "chain:number:substring" that rule->why must contain */
	const char *why[6];
};

static const struct st_rule *find(const struct st_ruleset *rs, const char *spec)
{
	char chain[64];
	unsigned int num = 0;

	assert_int_equal(sscanf(spec, "%63[^:]:%u", chain, &num), 2);
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (strcmp(r->chain, chain) == 0 && r->number == num)
			return r;
	}
	fail_msg("no rule %s", spec);
	return NULL;
}

static bool listed(const char *const *list, size_t n, const struct st_rule *r)
{
	char spec[96];

	snprintf(spec, sizeof(spec), "%s:%u", r->chain, r->number);
	for (size_t i = 0; i < n && list[i] != NULL; i++)
		if (strcmp(list[i], spec) == 0)
			return true;
	return false;
}

static void check_case(const struct reach_case *c)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = tl_build(c->backend, c->family, c->rules);

	assert_int_equal(st_reach_analyze(rs, err), 0);
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);
		bool never = listed(c->never, 12, r);

		if (r->reachable == never)
			fail_msg("%s: %s %u \"%s\": reachable=%d, want %d "
				 "(why: %s)",
				 c->name, r->chain, r->number, r->text,
				 r->reachable, !never, r->why ? r->why : "-");
		if (!r->reachable)
			assert_non_null(r->why);
	}
	for (size_t i = 0; i < 6 && c->why[i] != NULL; i++) {
		char spec[128];
		const char *sub = strchr(strchr(c->why[i], ':') + 1, ':') + 1;
		const struct st_rule *r = NULL;

		snprintf(spec, sizeof(spec), "%.*s", (int)(sub - 1 - c->why[i]),
			 c->why[i]);
		r = find(rs, spec);
		if (r->why == NULL || strstr(r->why, sub) == NULL)
			fail_msg("%s: %s: why is \"%s\", want \"%s\" in it",
				 c->name, spec, r->why ? r->why : "(null)",
				 sub);
	}
	st_ruleset_free(rs);
}

#define NINE_RULE(uidm, gidm)                                           \
	"-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"                            \
	"-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n"             \
	"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo " uidm                 \
	" --uid-owner 1337 -j ISTIO_IN_REDIRECT\n"                      \
	"-A ISTIO_OUTPUT -o lo " uidm " ! --uid-owner 1337 -j RETURN\n" \
	"-A ISTIO_OUTPUT " uidm " --uid-owner 1337 -j RETURN\n"         \
	"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo " gidm                 \
	" --gid-owner 1337 -j ISTIO_IN_REDIRECT\n"                      \
	"-A ISTIO_OUTPUT -o lo " gidm " ! --gid-owner 1337 -j RETURN\n" \
	"-A ISTIO_OUTPUT " gidm " --gid-owner 1337 -j RETURN\n"         \
	"-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"                   \
	"-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"                           \
	"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"    \
	"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"

static const struct reach_case cases[] = {
	{"nine-rule, iptables-legacy (surprise 1)",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 NINE_RULE("-m owner", "-m owner"),
	 {"ISTIO_OUTPUT:5", "ISTIO_OUTPUT:6", "ISTIO_OUTPUT:8"},
	 {"ISTIO_OUTPUT:6:every packet leaving via lo, not of gid 1337 "
	  "already left at rules 3 (-o lo ! uid 1337) and 4 (uid 1337)",
	  "ISTIO_OUTPUT:8:to 127.0.0.1 (always via lo) already left at rules "
	  "3 (-o lo ! uid 1337) and 4 (uid 1337)",
	  "ISTIO_OUTPUT:5:rules 2 (! -d 127.0.0.1 -o lo uid 1337) and 3 "
	  "(-o lo ! uid 1337)"}},
	{"nine-rule, iptables-nft: same owner semantics",
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 NINE_RULE("-m owner", "-m owner"),
	 {"ISTIO_OUTPUT:5", "ISTIO_OUTPUT:6", "ISTIO_OUTPUT:8"},
	 {NULL}},
	/*
	 * Native nftables: "skuid != 1337" does not match socketless
	 * packets, so those reach the 127.0.0.1 RETURN (surprise 11).
	 */
	{"nine-rule, native nftables: socketless packets reach rule 8",
	 ST_BACKEND_NFTABLES,
	 ST_FAMILY_ANY,
	 NINE_RULE("-m owner", "-m owner"),
	 {"ISTIO_OUTPUT:5", "ISTIO_OUTPUT:6"},
	 {"ISTIO_OUTPUT:8:only packets without a socket",
	  "ISTIO_OUTPUT:8:skuid != X"}},
	{"DNS capture: lo tcp/53 of the proxy gid reaches rule 5",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"
	 "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp ! --dport 53 "
	 "--uid-owner 1337 -j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 ! --uid-owner 1337 "
	 "-j RETURN\n"
	 "-A ISTIO_OUTPUT --uid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner 1337 "
	 "-j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 ! --gid-owner 1337 "
	 "-j RETURN\n"
	 "-A ISTIO_OUTPUT --gid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT -d 10.96.0.10/32 -p tcp --dport 53 -j REDIRECT "
	 "--to-ports 15053\n"
	 "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
	 "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
	 "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
	 "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n",
	 {"ISTIO_OUTPUT:6"},
	 {"ISTIO_OUTPUT:6:every tcp packet leaving via lo, not to port 53, "
	  "not of gid 1337 already left at rules 3"}},
	/* Surprise 2: uid 4's loopback traffic left at uid 3's rule 3. */
	{"two proxy uids and gids (-u 3,4 -g 1,2)",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"
	 "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --uid-owner 3 "
	 "-j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo ! --uid-owner 3 -j RETURN\n"
	 "-A ISTIO_OUTPUT --uid-owner 3 -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --uid-owner 4 "
	 "-j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo ! --uid-owner 4 -j RETURN\n"
	 "-A ISTIO_OUTPUT --uid-owner 4 -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner 1 "
	 "-j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo ! --gid-owner 1 -j RETURN\n"
	 "-A ISTIO_OUTPUT --gid-owner 1 -j RETURN\n"
	 "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner 2 "
	 "-j ISTIO_IN_REDIRECT\n"
	 "-A ISTIO_OUTPUT -o lo ! --gid-owner 2 -j RETURN\n"
	 "-A ISTIO_OUTPUT --gid-owner 2 -j RETURN\n"
	 "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
	 "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
	 "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
	 "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n",
	 {"ISTIO_OUTPUT:5", "ISTIO_OUTPUT:6", "ISTIO_OUTPUT:8",
	  "ISTIO_OUTPUT:9", "ISTIO_OUTPUT:11", "ISTIO_OUTPUT:12",
	  "ISTIO_OUTPUT:14"},
	 {"ISTIO_OUTPUT:5:of uid 4 already left at rule 3 (-o lo ! uid 3)"}},
	/* Surprise 3: 1.23-1.24 UDP DNS returns after the owner returns. */
	{"1.23-1.24 UDP uid/gid returns are shadowed",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"
	 "-A OUTPUT -p udp -j ISTIO_OUTPUT\n"
	 "-A ISTIO_OUTPUT --uid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT --gid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
	 "-A ISTIO_OUTPUT -p udp --dport 53 --uid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT -p udp --dport 53 --gid-owner 1337 -j RETURN\n"
	 "-A ISTIO_OUTPUT -d 10.96.0.10/32 -p udp --dport 53 -j REDIRECT "
	 "--to-ports 15053\n"
	 "-A ISTIO_OUTPUT -p tcp -j RETURN\n"
	 "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n",
	 /* udp comes back from ISTIO_REDIRECT, tcp never does */
	 {"ISTIO_OUTPUT:4", "ISTIO_OUTPUT:5", "ISTIO_OUTPUT:7"},
	 {"ISTIO_OUTPUT:4:already left at rule 1 (uid 1337)",
	  "ISTIO_OUTPUT:5:already left at rule 2 (gid 1337)",
	  "ISTIO_OUTPUT:7:already left at rule 3 (any packet)"}},
	{"unknown and stateful matches never shadow",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -m frob --frob 1 -j RETURN\n"
	 "-A OUTPUT -m statistic --stateful 50% -j RETURN\n"
	 "-A OUTPUT -m socket --socket-thing x -j ACCEPT\n"
	 "-A OUTPUT -j RETURN\n"
	 "-A OUTPUT -m frob --frob 2 -j RETURN\n",
	 {"OUTPUT:5"},
	 {"OUTPUT:5:already left at rule 4 (any packet)"}},
	{"an unknown target may or may not stop",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -j WEIRD\n"
	 "-A OUTPUT -j MISSING_CHAIN\n"
	 "-A OUTPUT -j RETURN\n",
	 {NULL},
	 {NULL}},
	{"ports, addresses, protocols",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -p tcp --dport 1000:2000 -j RETURN\n"
	 "-A OUTPUT -p tcp --dport 1500 -j RETURN\n"
	 "-A OUTPUT -p tcp --dport 2001 -j RETURN\n"
	 "-A OUTPUT -p udp --dport 1500 -j RETURN\n"
	 "-A OUTPUT -d 10.0.0.0/8 -j RETURN\n"
	 "-A OUTPUT -d 10.1.0.0/16 -j RETURN\n"
	 "-A OUTPUT -d 11.0.0.0/8 -j RETURN\n"
	 "-A OUTPUT ! -d 10.0.0.0/8 -p icmp -j ACCEPT\n"
	 "-A OUTPUT -d 9.9.9.9/32 -p icmp -j ACCEPT\n"
	 "-A OUTPUT -p icmp --dport 5 -j ACCEPT\n"
	 "-A OUTPUT -p 132 --dport 7 -j ACCEPT\n",
	 {"OUTPUT:2", "OUTPUT:6", "OUTPUT:9", "OUTPUT:10"},
	 {"OUTPUT:2:every tcp packet to port 1500 already left at rule 1 "
	  "(-p tcp --dport 1000:2000)",
	  "OUTPUT:6:to 10.1.0.0/16 already left at rule 5 (-d 10.0.0.0/8)",
	  "OUTPUT:10:no packet that enters chain OUTPUT can match it"}},
	{"the kernel: 127/8 leaves via lo, -i is empty on output",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -d 127.0.0.5/32 -o eth0 -j RETURN\n"
	 "-A OUTPUT -i eth0 -j RETURN\n"
	 "-A OUTPUT ! -i eth0 -o lo -j RETURN\n"
	 "-A OUTPUT -d 127.0.0.0/8 -j RETURN\n"
	 "-A OUTPUT -s 127.0.0.6/32 -j ACCEPT\n"
	 "-A PREROUTING -o eth0 -j RETURN\n"
	 "-A PREROUTING -i lo -j RETURN\n"
	 "-A PREROUTING --uid-owner 0 -j RETURN\n"
	 "-A PREROUTING ! --uid-owner 0 -j RETURN\n",
	 {"OUTPUT:1", "OUTPUT:2", "OUTPUT:4", "PREROUTING:1", "PREROUTING:3"},
	 {"OUTPUT:1:no packet that enters chain OUTPUT can match it",
	  "OUTPUT:4:already left at rule 3 (! -i eth0 -o lo)"}},
	{"jumps: a chain that may return, goto, orphans",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -d 10.0.0.0/8 -g GOTO_CHAIN\n"
	 "-A OUTPUT -d 10.1.0.0/16 -j RETURN\n"
	 "-A OUTPUT -j TCP_ONLY\n"
	 "-A OUTPUT -p udp -j RETURN\n"
	 "-A OUTPUT -p tcp -j RETURN\n"
	 "-A OUTPUT -p icmp -j DEAD_END\n"
	 "-A GOTO_CHAIN -p tcp -j RETURN\n"
	 "-A TCP_ONLY -p tcp -j ACCEPT\n"
	 "-A DEAD_END -j RETURN\n"
	 "-A ORPHAN -j RETURN\n"
	 "-A ONLY_FROM_DEAD -j RETURN\n"
	 "-A OUTPUT -p tcp -j ONLY_FROM_DEAD\n",
	 {"OUTPUT:2", "OUTPUT:5", "ORPHAN:1", "ONLY_FROM_DEAD:1", "OUTPUT:7"},
	 {"ORPHAN:1:nothing jumps to chain ORPHAN in table nat",
	  "ONLY_FROM_DEAD:1:chain ONLY_FROM_DEAD is entered only from rules "
	  "that never match",
	  "OUTPUT:5:already left at rule 3 (any packet)"}},
	{"marks are followed through MARK",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "*mangle\n"
	 "-A OUTPUT -p tcp -j MARK --set-mark 0x53a\n"
	 "-A OUTPUT -p tcp --mark 0x53a -j RETURN\n"
	 "-A OUTPUT -p tcp -j RETURN\n"
	 "-A OUTPUT --mark 0x539/0xfff -j RETURN\n"
	 "-A OUTPUT ! --mark 0x539/0xfff -j RETURN\n"
	 "-A OUTPUT -j RETURN\n"
	 "-A PREROUTING --ctstate INVALID -j DROP\n"
	 "-A PREROUTING --ctstate NEW,ESTABLISHED,RELATED,UNTRACKED -j "
	 "ACCEPT\n"
	 "-A PREROUTING -j ACCEPT\n",
	 {"OUTPUT:3", "OUTPUT:6", "PREROUTING:3"},
	 {"OUTPUT:3:already left at rule 2 (-p tcp mark 0x53a)"}},
	/* nft inet: an ip6 rule is checked against IPv6 packets only. */
	{"inet chains see both families",
	 ST_BACKEND_NFTABLES,
	 ST_FAMILY_ANY,
	 "-A OUTPUT -o lo -s ::6 -j RETURN\n"
	 "-A OUTPUT -o lo -s 127.0.0.6 -j RETURN\n"
	 "-A OUTPUT -d ::1 -j RETURN\n"
	 "-A OUTPUT -d 127.0.0.1 -j RETURN\n"
	 "-A OUTPUT -o lo -d ::1 -j RETURN\n"
	 "-A OUTPUT ! -d 10.0.0.0/8 -j RETURN\n"
	 "-A OUTPUT -d ::2 -j RETURN\n",
	 {"OUTPUT:5"},
	 {NULL}},
	/* Netfilter refuses loops; if one comes, claim nothing. */
	{"a jump loop gives up safely",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -j LOOP_A\n"
	 "-A LOOP_A -j LOOP_B\n"
	 "-A LOOP_B -j LOOP_A\n"
	 "-A OUTPUT -j RETURN\n"
	 "-A OUTPUT -j RETURN\n",
	 {NULL},
	 {NULL}},
	{"a v6 rule in an iptables v4 chain never matches",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 "-A OUTPUT -s ::6 -j RETURN\n"
	 "-A OUTPUT -j RETURN\n",
	 {"OUTPUT:1"},
	 {"OUTPUT:1:no packet that enters chain OUTPUT can match it"}},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* ---- reasons, summaries, whole-ruleset behaviour ---- */

static void test_summary(void **state)
{
	static const struct {
		const char *line;
		const char *want;
	} t[] = {
		{"-A X -o lo ! --uid-owner 1337 -j RETURN", "-o lo ! uid 1337"},
		{"-A X ! -d 127.0.0.1/32 -o lo -p tcp --dports 53,15008 "
		 "--gid-owner 1-9 -j RETURN",
		 "! -d 127.0.0.1 -o lo -p tcp --dports 53,15008 gid 1-9"},
		{"-A X --mark 0x539/0xfff --ctstate RELATED,ESTABLISHED "
		 "--comment hi -j RETURN",
		 "mark 0x539/0xfff ctstate ESTABLISHED,RELATED"},
		{"-A X -j RETURN", "any packet"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char line[256];
		char buf[256];
		struct st_ruleset *rs = NULL;

		snprintf(line, sizeof(line), "%s\n", t[i].line);
		rs = tl_build(ST_BACKEND_LEGACY, ST_FAMILY_IPV4, line);
		st_reach_rule_summary(st_ruleset_rule(rs, 0), buf, sizeof(buf));
		assert_string_equal(buf, t[i].want);
		st_reach_rule_summary(st_ruleset_rule(rs, 0), buf, 8);
		assert_int_equal(strlen(buf), 7);
		st_ruleset_free(rs);
	}
}

/* A second analysis replaces the first: no stale reasons, no leaks. */
static void test_rerun(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = tl_build(ST_BACKEND_LEGACY, ST_FAMILY_IPV4,
					 "-A OUTPUT -j RETURN\n"
					 "-A OUTPUT -j RETURN\n");
	struct st_ruleset *empty = st_ruleset_new();

	(void)state;
	assert_int_equal(st_reach_analyze(rs, err), 0);
	assert_int_equal(st_reach_analyze(rs, err), 0);
	assert_true(st_ruleset_rule(rs, 0)->reachable);
	assert_null(st_ruleset_rule(rs, 0)->why);
	assert_false(st_ruleset_rule(rs, 1)->reachable);
	assert_non_null(st_ruleset_rule(rs, 1)->why);
	assert_int_equal(st_reach_analyze(empty, err), 0);
	st_ruleset_free(rs);
	st_ruleset_free(empty);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 10,000 rules in one chain, of three shapes: addresses, ports, and
 * rules mixing several dimensions (which the cube sets cannot keep
 * exact, so the analysis must coarsen and still be right on top).
 */
static void test_ten_thousand(void **state)
{
	static const char *const head =
		"-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"
		"-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n"
		"-A ISTIO_OUTPUT -o lo ! --uid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT --uid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT -o lo ! --gid-owner 1337 -j RETURN\n";
	char err[ST_ERRBUF_SIZE] = "";
	size_t size = 10000 * 96 + 1024;
	char *text = malloc(size);

	(void)state;
	assert_non_null(text);
	for (int shape = 0; shape < 3; shape++) {
		size_t len = (size_t)snprintf(text, size, "%s", head);
		struct st_ruleset *rs = NULL;
		unsigned int never = 0;
		double t0 = 0;
		double dt = 0;

		srand(7);
		for (int i = 0; i < 10000; i++) {
			if (shape == 0)
				len += (size_t)snprintf(
					text + len, size - len,
					"-A ISTIO_OUTPUT -d 10.%d.%d.%d/32 -j "
					"RETURN\n",
					i / 65536, i / 256 % 256, i % 256);
			else if (shape == 1)
				len += (size_t)snprintf(
					text + len, size - len,
					"-A ISTIO_OUTPUT -p tcp --dport %d -j "
					"RETURN\n",
					1000 + i);
			else
				len += (size_t)snprintf(
					text + len, size - len,
					"-A ISTIO_OUTPUT -s 10.%d.%d.0/24 -p "
					"tcp --dport %d --uid-owner %d -j "
					"RETURN\n",
					rand() % 256, rand() % 256,
					rand() % 65536, 2000 + rand() % 5000);
		}
		snprintf(text + len, size - len,
			 "-A ISTIO_OUTPUT -d 10.0.0.5/32 -p tcp --dport 1005 "
			 "-j RETURN\n-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
			 "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports "
			 "15001\n");
		rs = tl_build(ST_BACKEND_LEGACY, ST_FAMILY_IPV4, text);
		t0 = seconds();
		assert_int_equal(st_reach_analyze(rs, err), 0);
		dt = seconds() - t0;
		for (size_t i = 0; i < st_ruleset_nrules(rs); i++)
			never += !st_ruleset_rule(rs, i)->reachable;
		/* rule 5 (lo, not gid) always; the extra rule for 0 and 1 */
		assert_false(find(rs, "ISTIO_OUTPUT:4")->reachable);
		assert_int_equal(never, shape == 2 ? 1 : 2);
		assert_true(find(rs, "ISTIO_OUTPUT:10006")->reachable);
		/* Generous: sanitizer builds are several times slower. */
		assert_true(dt < 20.0);
		st_ruleset_free(rs);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_rerun),
		cmocka_unit_test(test_ten_thousand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
