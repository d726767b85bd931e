// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_check.c - --check findings: every sample rule set against a table
 * of the codes it must give (and no others), hand-written rule sets for
 * what the samples lack (several proxy uids, a dead rule of our own),
 * the backend, listener and process checks on fake inputs, and flows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "flow.h"
#include "istio.h"
#include "rules.h"

#define MAXC 8

struct code_count {
	const char *code;
	unsigned int n;
};

struct sample_case {
	const char *files[2];
	enum st_check_severity worst;
	struct code_count codes[MAXC];
};

#define EXPECTED "expected-unreachable-rule"

/* From doc/ISTIO-RULES.md: which rules Istio itself leaves dead in each era. */
static const struct sample_case samples[] = {
	{{"istio-1.1_redirect_app-ports_legacy.rules"},
	 ST_CHECK_WARNING,
	 {{"proxy-traffic-recaptured", 1},
	  {"uncaptured-inbound-ports", 1},
	  {"dns-not-captured", 1}}},
	{{"istio-1.4_redirect_default_legacy.rules"},
	 ST_CHECK_INFO,
	 {{"dns-not-captured", 1}}},
	{{"istio-1.6_redirect_default_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3}, {"dns-not-captured", 1}}},
	{{"istio-1.9_redirect_dns_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 1}}},
	{{"istio-1.17_redirect_default_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3}, {"dns-not-captured", 1}}},
	{{"istio-1.20_redirect_dns_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 1}}},
	/* Rule 6, and the two UDP DNS RETURNs shadowed in 1.23-1.24. */
	{{"istio-1.24_redirect_dns_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3}}},
	{{"istio-1.24_redirect_dns_legacy_VIEWED-WITH-iptables-nft-save.rules"},
	 ST_CHECK_ERROR,
	 {{"backend-mismatch", 1}}},
	/* Rule 6 and the orphan nat ISTIO_INBOUND. */
	{{"istio-1.25_tproxy_dns_legacy.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 2}, {"inbound-tunnel-port", 1}}},
	{{"istio-1.26plus_ambient-inpod_dns_nft.rules"},
	 ST_CHECK_INFO,
	 {{"ambient-pod", 1}}},
	{{"istio-1.26plus_cni-sidecar_custom-uid_nft.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3},
	  {"excluded-outbound-port", 1},
	  {"dns-not-captured", 1}}},
	{{"istio-1.26plus_redirect_default_nft.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3}, {"dns-not-captured", 1}}},
	{{"istio-1.26plus_redirect_default_nft_with-counters.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3}, {"dns-not-captured", 1}}},
	{{"istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
	  "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 2}}},
	/* Alone, v6 shows no DNS capture: 1.25+ has no v6 port-53 REDIRECT. */
	{{"istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 1}, {"dns-not-captured", 1}}},
	{{"istio-1.26plus_redirect_exclusions_drop-invalid_nft.rules"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 3},
	  {"excluded-inbound-port", 1},
	  {"excluded-outbound-port", 1},
	  {"partial-outbound-capture", 1},
	  {"dns-not-captured", 1}}},
	{{"istio-1.28plus_ambient-inpod_native-nftables_dns.nft.json"},
	 ST_CHECK_INFO,
	 {{"ambient-pod", 1}}},
	{{"istio-1.28plus_native-nftables_redirect_default.nft.json"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 2}, {"dns-not-captured", 1}}},
	{{"istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase.nft.json"},
	 ST_CHECK_INFO,
	 {{EXPECTED, 2},
	  {"excluded-outbound-cidr", 1},
	  {"partial-outbound-capture", 1},
	  {"inbound-tunnel-port", 1}}},
};

static unsigned int count_code(const struct st_check *c, const char *code)
{
	unsigned int n = 0;

	for (size_t i = 0; i < st_check_count(c); i++)
		if (strcmp(st_check_get(c, i)->code, code) == 0)
			n++;
	return n;
}

static enum st_check_severity worst(const struct st_check *c)
{
	if (st_check_nseverity(c, ST_CHECK_ERROR) > 0)
		return ST_CHECK_ERROR;
	if (st_check_nseverity(c, ST_CHECK_WARNING) > 0)
		return ST_CHECK_WARNING;
	return ST_CHECK_INFO;
}

/* Every finding's code is expected, as often as expected. */
static void assert_codes(const struct st_check *c,
			 const struct code_count *codes, const char *what)
{
	size_t total = 0;

	for (size_t k = 0; k < MAXC && codes[k].code != NULL; k++) {
		if (count_code(c, codes[k].code) != codes[k].n)
			fail_msg("%s: %u x %s, expected %u", what,
				 count_code(c, codes[k].code), codes[k].code,
				 codes[k].n);
		total += codes[k].n;
	}
	if (st_check_count(c) != total) {
		for (size_t i = 0; i < st_check_count(c); i++)
			fprintf(stderr, "  %s: %s\n", st_check_get(c, i)->code,
				st_check_get(c, i)->message);
		fail_msg("%s: %zu findings, expected %zu", what,
			 st_check_count(c), total);
	}
}

static struct st_check *check_ruleset(struct st_ruleset *rs)
{
	struct st_istio_settings set;
	char err[ST_ERRBUF_SIZE] = "";
	struct st_check *c = st_check_new();

	assert_non_null(c);
	assert_int_equal(st_istio_analyze(rs, &set, err), 0);
	assert_int_equal(st_check_rules(c, rs, &set, err), 0);
	assert_int_equal(st_check_finish(c, err), 0);
	return c;
}

static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(samples); i++) {
		const struct sample_case *sc = &samples[i];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_ruleset *rs = st_ruleset_new();
		struct st_check *c;

		assert_non_null(rs);
		for (size_t f = 0; f < 2 && sc->files[f] != NULL; f++) {
			char path[512];

			snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
				 sc->files[f]);
			if (st_rules_load_file(rs, path, err) != 0)
				fail_msg("%s: %s", path, err);
		}
		c = check_ruleset(rs);
		assert_codes(c, sc->codes, sc->files[0]);
		if (worst(c) != sc->worst)
			fail_msg("%s: worst severity %s", sc->files[0],
				 st_check_severity_name(worst(c)));
		/* Every dead rule names its rule. */
		for (size_t k = 0; k < st_check_count(c); k++) {
			const struct st_check_finding *f = st_check_get(c, k);

			if (strstr(f->code, "unreachable") != NULL) {
				assert_true(f->has_rule);
				assert_non_null(f->rule_text);
				assert_true(f->number > 0);
			}
		}
		st_check_free(c);
		st_ruleset_free(rs);
	}
}

static struct st_check *check_text(const char *text)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();
	struct st_check *c;

	assert_non_null(rs);
	if (st_rules_load_buf(rs, text, strlen(text), "test", err) != 0)
		fail_msg("%s", err);
	c = check_ruleset(rs);
	st_ruleset_free(rs);
	return c;
}

#define NAT_HEAD                                                     \
	"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"      \
	":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"          \
	":ISTIO_INBOUND - [0:0]\n:ISTIO_IN_REDIRECT - [0:0]\n"       \
	":ISTIO_OUTPUT - [0:0]\n:ISTIO_REDIRECT - [0:0]\n"           \
	"-A PREROUTING -p tcp -j ISTIO_INBOUND\n"                    \
	"-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"                         \
	"-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"   \
	"-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN\n"   \
	"-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT\n"             \
	"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n" \
	"-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n"

/* doc/ISTIO-RULES.md, "must not assume" 2: -u 3,4 -g 1337. */
static void test_multiple_uids(void **state)
{
	static const char text[] = NAT_HEAD
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT\n"
		"-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN\n"
		"-A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN\n"
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT\n"
		"-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN\n"
		"-A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN\n"
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT\n"
		"-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
		"-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
		"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
		"COMMIT\n";
	struct st_check *c;

	(void)state;
	c = check_text(text);
	/* uid 4's hairpin and loopback RETURN; the gid pair and localhost. */
	assert_int_equal(count_code(c, "multiple-proxy-uids-shadowed"), 2);
	assert_int_equal(count_code(c, EXPECTED), 3);
	assert_int_equal(count_code(c, "unreachable-rule"), 0);
	/* Warnings come before information. */
	assert_int_equal(st_check_get(c, 0)->severity, ST_CHECK_WARNING);
	assert_string_equal(st_check_get(c, 0)->chain, "ISTIO_OUTPUT");
	assert_int_equal(st_check_get(c, 0)->number, 5);
	st_check_free(c);
}

/* A rule after the chain's final jump is not one of Istio's dead rules. */
static void test_foreign_dead_rule(void **state)
{
	static const char text[] = NAT_HEAD
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT\n"
		"-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
		"-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
		"-A ISTIO_OUTPUT -p tcp -m tcp --dport 9999 -j RETURN\n"
		"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
		"COMMIT\n";
	const struct st_check_finding *f;
	struct st_check *c;

	(void)state;
	c = check_text(text);
	assert_int_equal(count_code(c, "unreachable-rule"), 1);
	f = st_check_get(c, 0);
	assert_string_equal(f->code, "unreachable-rule");
	assert_int_equal(f->severity, ST_CHECK_WARNING);
	assert_int_equal(f->number, 6);
	assert_non_null(strstr(f->rule_text, "--dport 9999"));
	st_check_free(c);
}

/* No rules at all, and no note about the other backend. */
static void test_empty(void **state)
{
	struct st_check *c;

	(void)state;
	c = check_text("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		       "COMMIT\n");
	assert_int_equal(st_check_count(c), 1);
	assert_string_equal(st_check_get(c, 0)->code, "no-istio-rules");
	assert_int_equal(st_check_get(c, 0)->severity, ST_CHECK_ERROR);
	st_check_free(c);
}

struct backend_case {
	struct st_check_backends b;
	bool mismatch;
};

static void test_backends(void **state)
{
	static const struct backend_case cases[] = {
		{{.legacy_istio = true, .legacy_rules = 20}, false},
		{{.nft_istio = true, .nft_rules = 20}, false},
		{{.legacy_istio = true, .legacy_rules = 20, .nft_rules = 1},
		 true},
		{{.nft_istio = true, .nft_rules = 20, .legacy_rules = 3}, true},
		/* Istio in both: legacy wins in Istio, both apply. */
		{{.legacy_istio = true,
		  .legacy_rules = 20,
		  .nft_istio = true,
		  .nft_rules = 20},
		 true},
		{{.nftables_istio_tables = 3}, false},
		{{.nftables_istio_tables = 3, .legacy_rules = 1}, true},
		{{.nftables_istio_tables = 3, .nft_rules = 2}, true},
		{{0}, false},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_check *c = st_check_new();

		assert_int_equal(st_check_backends(c, &cases[i].b, err), 0);
		if (st_check_has(c, "backend-mismatch") != cases[i].mismatch)
			fail_msg("backend case %zu", i);
		if (cases[i].mismatch)
			assert_int_equal(st_check_get(c, 0)->severity,
					 ST_CHECK_ERROR);
		st_check_free(c);
	}
}

static void sidecar_settings(struct st_istio_settings *s)
{
	static const uint16_t excl[] = {15008, 15090, 15021, 9000, 15020};

	memset(s, 0, sizeof(*s));
	s->kind = ST_ISTIO_SIDECAR;
	s->nproxy_uids = 1;
	s->proxy_uids[0] = 1337;
	s->nproxy_gids = 1;
	s->proxy_gids[0] = 1337;
	s->inbound_captured = true;
	s->inbound_all_ports = true;
	s->ninbound_excluded = ST_ARRAY_SIZE(excl);
	memcpy(s->inbound_excluded_ports, excl, sizeof(excl));
}

#define TCP_HEAD                                                     \
	"  sl  local_address rem_address   st tx_queue rx_queue tr " \
	"tm->when retrnsmt   uid  timeout inode\n"

/* 9000 = 0x2328, 15090 = 0x3AF2, 9080 = 0x2378, 127.0.0.1 = 0100007F. */
static const char tcp4[] = TCP_HEAD
	"   0: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 "
	"00000000  1000        0 4001 1 0000000000000000 100 0 0 10 0\n"
	"   1: 00000000:3AF2 00000000:0000 0A 00000000:00000000 00:00000000 "
	"00000000  1337        0 4002 1 0000000000000000 100 0 0 10 0\n"
	"   2: 00000000:2378 00000000:0000 0A 00000000:00000000 00:00000000 "
	"00000000  1000        0 4003 1 0000000000000000 100 0 0 10 0\n"
	"   3: 0A01F40A:2328 0B02F40A:9C40 01 00000000:00000000 00:00000000 "
	"00000000  1000        0 4004 1 0000000000000000 100 0 0 10 0\n";
static const char tcp4_lo[] = TCP_HEAD
	"   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 "
	"00000000  1000        0 4005 1 0000000000000000 100 0 0 10 0\n";
/* [::]:9000 and [::1]:9001 (0x2329). */
static const char tcp6[] =
	"  sl  local_address                         remote_address"
	"                        st tx_queue rx_queue tr tm->when retrnsmt"
	"   uid  timeout inode\n"
	"   0: 00000000000000000000000000000000:2328 "
	"00000000000000000000000000000000:0000 0A 00000000:00000000 "
	"00:00000000 00000000  1000        0 4006 1 0000000000000000 100 0 0 "
	"10 0\n"
	"   1: 00000000000000000000000001000000:2329 "
	"00000000000000000000000000000000:0000 0A 00000000:00000000 "
	"00:00000000 00000000  1000        0 4007 1 0000000000000000 100 0 0 "
	"10 0\n";

static void test_listeners(void **state)
{
	struct st_istio_settings s;
	char err[ST_ERRBUF_SIZE] = "";
	const struct st_check_finding *f;
	struct st_check *c;

	(void)state;
	sidecar_settings(&s);
	c = st_check_new();
	assert_int_equal(st_check_listeners(c, tcp4, tcp6, "", 1, &s, err), 0);
	/* 9000 on v4 and v6: one finding; 15090 is Istio's; 9080 captured. */
	assert_int_equal(st_check_count(c), 1);
	f = st_check_get(c, 0);
	assert_string_equal(f->code, "excluded-port-in-use");
	assert_int_equal(f->severity, ST_CHECK_WARNING);
	assert_int_equal(f->nports, 1);
	assert_int_equal(f->ports[0], 9000);
	st_check_free(c);

	/* Bound to loopback only: nobody outside can reach it. */
	c = st_check_new();
	assert_int_equal(st_check_listeners(c, tcp4_lo, NULL, "", 1, &s, err),
			 0);
	assert_int_equal(st_check_count(c), 0);
	st_check_free(c);

	/* -b 9080: 9000 is not captured either way, 9080 is. */
	s.ninbound_excluded = 0;
	s.inbound_all_ports = false;
	s.ninbound_ports = 1;
	s.inbound_ports[0] = 9080;
	c = st_check_new();
	assert_int_equal(st_check_listeners(c, tcp4, NULL, "", 1, &s, err), 0);
	assert_int_equal(st_check_count(c), 1);
	assert_int_equal(st_check_get(c, 0)->ports[0], 9000);
	assert_non_null(strstr(st_check_get(c, 0)->message, "not among"));
	st_check_free(c);
}

/* ---- a fake /proc ---- */

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void fake_proc(const char *root, int pid, unsigned long ns,
		      const char *comm, unsigned int uid, unsigned int gid,
		      unsigned long sock)
{
	char dir[512], sub[600], link[64], status[256];

	snprintf(dir, sizeof(dir), "%s/%d", root, pid);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/ns", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/ns/net", dir);
	snprintf(link, sizeof(link), "net:[%lu]", ns);
	assert_int_equal(symlink(link, sub), 0);
	snprintf(sub, sizeof(sub), "%s/fd", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	if (sock != 0) {
		snprintf(sub, sizeof(sub), "%s/fd/3", dir);
		snprintf(link, sizeof(link), "socket:[%lu]", sock);
		assert_int_equal(symlink(link, sub), 0);
	}
	put(dir, "comm", comm);
	snprintf(status, sizeof(status),
		 "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\n"
		 "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\n",
		 comm, uid, uid, uid, uid, gid, gid, gid, gid);
	put(dir, "status", status);
}

static int rm_tree(const char *root)
{
	char *const argv[] = {"rm", "-rf", (char *)root, NULL};
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return st;
}

static void test_procs(void **state)
{
	char root[] = "/tmp/st-test-check-XXXXXX";
	struct st_istio_settings s;
	char err[ST_ERRBUF_SIZE] = "";
	const struct st_check_finding *f;
	struct st_check *c;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "self", ""); /* not a pid: ignored */
	fake_proc(root, 100, 4026532000UL, "sleep\n", 1337, 1000, 0);
	fake_proc(root, 101, 4026532000UL, "envoy\n", 1337, 1337, 0);
	fake_proc(root, 102, 4026532000UL, "st-labnet\n", 1000, 1000, 4001);
	fake_proc(root, 103, 4026531840UL, "sleep\n", 1337, 1337, 0);
	fake_proc(root, 104, 4026532000UL, "python3\n", 0, 1337, 0);
	fake_proc(root, 105, 4026532000UL, "pilot-agent\n", 1337, 1337, 0);
	sidecar_settings(&s);

	c = st_check_new();
	assert_int_equal(st_check_procs(c, root, 4026532000UL, &s, err), 5);
	assert_int_equal(st_check_finish(c, err), 0);
	assert_int_equal(st_check_count(c), 2);
	assert_int_equal(count_code(c, "app-as-proxy-uid"), 1);
	assert_int_equal(count_code(c, "app-as-proxy-gid"), 1);
	for (size_t i = 0; i < st_check_count(c); i++) {
		f = st_check_get(c, i);
		assert_int_equal(f->severity, ST_CHECK_ERROR);
		if (strcmp(f->code, "app-as-proxy-uid") == 0) {
			assert_int_equal(f->pid, 100);
			assert_string_equal(f->comm, "sleep");
			assert_non_null(strstr(f->message,
					       "process 100 (sleep) runs as "
					       "uid 1337"));
		} else {
			assert_int_equal(f->pid, 104);
			assert_int_equal(f->gid, 1337);
		}
	}
	st_check_free(c);

	/* The listener on 9000 (inode 4001) belongs to pid 102. */
	c = st_check_new();
	assert_int_equal(
		st_check_listeners(c, tcp4, NULL, root, 4026532000UL, &s, err),
		0);
	assert_int_equal(st_check_count(c), 1);
	f = st_check_get(c, 0);
	assert_int_equal(f->pid, 102);
	assert_string_equal(f->comm, "st-labnet");
	st_check_free(c);
	assert_int_equal(rm_tree(root), 0);
}

static void test_flows(void **state)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	char err[ST_ERRBUF_SIZE] = "";
	const struct st_check_finding *fi;
	struct st_check *c = st_check_new();

	(void)state;
	assert_non_null(f);
	f->nlegs = 1;
	f->legs[0].family = 4;
	f->legs[0].proto = 6;
	f->legs[0].sport = 40000;
	f->legs[0].dport = 80;
	memcpy(f->legs[0].src, "\x0a\xf4\x01\x0a", 4);
	memcpy(f->legs[0].dst, "\x0a\xf4\x02\x14", 4);
	f->legs[0].has_uid = true;
	f->legs[0].uid = 1337;
	for (int i = 1; i <= 5; i++) {
		f->id = (uint64_t)i;
		f->type = 0;
		f->klass = i <= 4 ? ST_CLASS_PROXY_DIRECT : ST_CLASS_BYPASS;
		snprintf(f->reason, sizeof(f->reason), "reason %d", i);
		assert_int_equal(st_check_add_flow(c, f), 0);
	}
	f->type = 2; /* not type 0: not counted */
	f->klass = ST_CLASS_NONE;
	assert_int_equal(st_check_add_flow(c, f), 0);
	f->type = 0; /* type 0 of another class: not counted */
	f->klass = ST_CLASS_DNS_CAPTURE;
	assert_int_equal(st_check_add_flow(c, f), 0);
	assert_int_equal(st_check_finish(c, err), 0);
	assert_int_equal(st_check_count(c), 2);
	fi = st_check_get(c, 0);
	assert_string_equal(fi->code, "bypass-traffic");
	assert_int_equal(fi->count, 1);
	fi = st_check_get(c, 1);
	assert_string_equal(fi->code, "proxy-direct-traffic");
	assert_int_equal(fi->severity, ST_CHECK_WARNING);
	assert_int_equal(fi->count, 4);
	assert_int_equal(fi->nexamples, ST_CHECK_MAX_EXAMPLES);
	assert_string_equal(fi->examples[0], "flow 1: tcp 10.244.1.10:40000 > "
					     "10.244.2.20:80 uid 1337: "
					     "reason 1");
	st_check_free(c);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_multiple_uids),
		cmocka_unit_test(test_foreign_dead_rule),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_backends),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_procs),
		cmocka_unit_test(test_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
