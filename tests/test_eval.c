// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_eval.c - the evaluator against the kernel: every first packet the
 * lab recorded (samples/truth/, with the rule files its expected file
 * names) must walk exactly the recorded hops; the traffic types of the
 * shared README's table on the sample rule sets; the owner-match
 * difference between iptables and native nftables; undecidable matches;
 * jumps, gotos and policies on hand-made rules.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "classify.h"
#include "eval.h"
#include "istio.h"
#include "match.h"
#include "rules.h"
#include "simspec.h"

struct loaded {
	struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_eval_env env;
};

static int load(struct loaded *ld, const char *const *files, size_t n)
{
	char err[ST_ERRBUF_SIZE] = "";
	char path[1024];

	memset(ld, 0, sizeof(*ld));
	ld->rs = st_ruleset_new();
	if (ld->rs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
			 files[i]);
		if (st_rules_load_file(ld->rs, path, err) < 0) {
			print_error("%s: %s\n", path, err);
			return -EINVAL;
		}
	}
	if (st_istio_analyze(ld->rs, &ld->set, err) < 0) {
		print_error("analyze: %s\n", err);
		return -EINVAL;
	}
	st_eval_env_lab(&ld->env, ld->rs, &ld->set);
	return 0;
}

static void unload(struct loaded *ld)
{
	st_ruleset_free(ld->rs);
	ld->rs = NULL;
}

/* ---- the recorded ground truth ---- */

static int parse_ep(const char *s, uint8_t *family, uint8_t *addr,
		    uint16_t *port)
{
	char a[64];
	const char *colon = NULL;
	size_t n = 0;

	memset(addr, 0, 16);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return -1;
		n = (size_t)(close - s - 1);
		if (n >= sizeof(a))
			return -1;
		memcpy(a, s + 1, n);
		a[n] = '\0';
		*family = 6;
		colon = close + 1;
		if (inet_pton(AF_INET6, a, addr) != 1)
			return -1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(a))
			return -1;
		n = (size_t)(colon - s);
		memcpy(a, s, n);
		a[n] = '\0';
		*family = 4;
		if (inet_pton(AF_INET, a, addr) != 1)
			return -1;
	}
	*port = (uint16_t)atoi(colon + 1);
	return 0;
}

static const char *kind_name(enum st_hit_kind k)
{
	return k == ST_HIT_POLICY   ? "policy"
	       : k == ST_HIT_RETURN ? "return"
				    : "rule";
}

static void hops_text(const struct st_flow_leg *l, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < l->nhops && n < size; i++) {
		const struct st_flow_hop *h = &l->hops[i];
		int k = snprintf(buf + n, size - n, "%s%s:%s:%s%u",
				 i ? " " : "", h->table, h->chain,
				 h->kind == ST_HIT_RULE ? ""
							: kind_name(h->kind),
				 h->rule);

		n += k > 0 ? (size_t)k : 0;
	}
}

static void truth_text(json_t *hops, char *buf, size_t size)
{
	size_t n = 0;
	size_t i = 0;
	json_t *h = NULL;

	buf[0] = '\0';
	json_array_foreach(hops, i, h)
	{
		const char *kind =
			json_string_value(json_object_get(h, "kind"));
		int k = 0;

		if (n >= size)
			break;
		k = snprintf(buf + n, size - n, "%s%s:%s:%s%lld", i ? " " : "",
			     json_string_value(json_object_get(h, "table")),
			     json_string_value(json_object_get(h, "chain")),
			     strcmp(kind, "rule") == 0 ? "" : kind,
			     (long long)json_integer_value(
				     json_object_get(h, "rule")));
		n += k > 0 ? (size_t)k : 0;
	}
}

/* The @rules line of tests/lab/expected/NAME.paths. */
static int rules_of(const char *name, char files[2][256], size_t *n)
{
	char path[1024];
	char line[1024];
	FILE *f = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "%s/../tests/lab/expected/%s.paths",
		 ST_SAMPLES, name);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	*n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL;
		char *w = NULL;

		if (strncmp(line, "@rules ", 7) != 0)
			continue;
		for (w = strtok_r(line + 7, " \t\n", &save); w && *n < 2;
		     w = strtok_r(NULL, " \t\n", &save)) {
			size_t len = strlen(w);

			/*
			 * The parsers read nft -j JSON, not `nft list`
			 * text: every .nftlist sample has its .nft.json
			 * twin, the same ruleset dumped as JSON.
			 */
			if (len > 8 && strcmp(w + len - 8, ".nftlist") == 0)
				snprintf(files[(*n)++], 256, "%.*s.nft.json",
					 (int)(len - 8), w);
			else
				st_strlcpy(files[(*n)++], w, 256);
		}
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static bool first_hop_arrives(const struct st_ruleset *rs, json_t *hops,
			      uint8_t family)
{
	json_t *h = json_array_get(hops, 0);
	const struct st_chain *c = NULL;

	if (h == NULL)
		return false;
	c = st_ruleset_find_chain(
		rs, json_string_value(json_object_get(h, "table")),
		json_string_value(json_object_get(h, "chain")),
		family == 6 ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4);
	return c != NULL && c->hook != NULL &&
	       strcasecmp(c->hook, "prerouting") == 0;
}

/* Returns the number of connections whose hops differ. */
static unsigned int check_truth_file(const char *name, unsigned int *checked)
{
	char files[2][256];
	const char *fv[2] = {files[0], files[1]};
	char path[1024];
	char line[16384];
	char want[4096];
	char got[4096];
	struct loaded ld;
	unsigned int bad = 0;
	size_t nf = 0;
	FILE *f = NULL;

	if (rules_of(name, files, &nf) < 0 || nf == 0) {
		print_message("  %s: no expected file naming its rules: "
			      "skipped\n",
			      name);
		return 0;
	}
	assert_int_equal(load(&ld, fv, nf), 0);
	snprintf(path, sizeof(path), "%s/truth/%s.jsonl", ST_SAMPLES, name);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		json_t *hops = NULL;
		json_t *uid = NULL;
		json_t *gid = NULL;
		json_t *mark = NULL;
		struct st_eval_pkt p;
		struct st_eval_info info;
		struct st_flow_leg leg;
		char err[ST_ERRBUF_SIZE];
		uint8_t fam2 = 0;
		const char *proto = NULL;

		assert_non_null(o);
		memset(&p, 0, sizeof(p));
		hops = json_object_get(o, "hops");
		uid = json_object_get(o, "uid");
		gid = json_object_get(o, "gid");
		mark = json_object_get(o, "mark");
		proto = json_string_value(json_object_get(o, "proto"));
		p.proto = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		assert_int_equal(
			parse_ep(json_string_value(json_object_get(o, "src")),
				 &p.family, p.src, &p.sport),
			0);
		assert_int_equal(
			parse_ep(json_string_value(json_object_get(o, "dst")),
				 &fam2, p.dst, &p.dport),
			0);
		/*
		 * Direction from the first hook: legacy TRACE reports the
		 * owner of the TPROXY socket even for arriving packets
		 * (tests/lab/README.md), so a uid does not mean "sent".
		 */
		p.outgoing = !first_hop_arrives(ld.rs, hops, p.family);
		p.has_sock = p.outgoing && json_is_integer(uid);
		p.uid = (uint32_t)json_integer_value(uid);
		p.gid = json_is_integer(gid) ? (uint32_t)json_integer_value(gid)
					     : p.uid;
		/*
		 * The skb mark at the first hook (ztunnel's SO_MARK, which
		 * the ambient rules exempt): absent means 0, null that the
		 * kernel's trace did not report it - nothing to simulate.
		 */
		assert_true(mark == NULL || json_is_integer(mark));
		p.mark = (uint32_t)json_integer_value(mark);
		assert_int_equal(st_eval_packet(&ld.env, &p, &leg, &info, err),
				 0);
		hops_text(&leg, got, sizeof(got));
		truth_text(hops, want, sizeof(want));
		(*checked)++;
		if (strcmp(got, want) != 0) {
			bad++;
			print_message(
				"  %s: %s %s > %s uid %s mark 0x%x:\n    "
				"kernel: %s\n    eval:   %s%s%s\n",
				name, proto,
				json_string_value(json_object_get(o, "src")),
				json_string_value(json_object_get(o, "dst")),
				json_is_integer(uid) ? "set" : "none", p.mark,
				want, got, leg.incomplete ? "\n    why: " : "",
				leg.incomplete ? leg.why : "");
		}
		json_decref(o);
	}
	fclose(f);
	unload(&ld);
	return bad;
}

static void test_truth(void **state)
{
	char dir[1024];
	struct dirent *e = NULL;
	DIR *d = NULL;
	unsigned int bad = 0;
	unsigned int checked = 0;
	unsigned int files = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/truth", ST_SAMPLES);
	d = opendir(dir);
	if (d == NULL)
		skip();
	while ((e = readdir(d)) != NULL) {
		char name[256];
		size_t n = strlen(e->d_name);

		if (n < 7 || strcmp(e->d_name + n - 6, ".jsonl") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 6), e->d_name);
		bad += check_truth_file(name, &checked);
		files++;
	}
	closedir(d);
	print_message("  %u truth files, %u connections, %u differ\n", files,
		      checked, bad);
	assert_true(checked > 0);
	assert_int_equal(bad, 0);
}

/* ---- the README's table, and the other eras ---- */

#define R117 "istio-1.17_redirect_default_legacy.rules"
#define R14 "istio-1.4_redirect_default_legacy.rules"
#define R120 "istio-1.20_redirect_dns_legacy.rules"
#define R125 "istio-1.25_tproxy_dns_legacy.rules"
#define RNFT "istio-1.28plus_native-nftables_redirect_default.nft.json"
#define RCUS "istio-1.26plus_cni-sidecar_custom-uid_nft.rules"
#define RDS4 "istio-1.26plus_redirect_dns_dualstack_nft.v4.rules"
#define RDS6 "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"

struct flow_case {
	const char *rules[2];
	const char *spec;
	int type;
	const char *klass;
	/* Per leg: its full hop list (P = policy, R = return), or NULL. */
	const char *hops[ST_FLOW_MAX_LEGS];
	/* Per leg: the role of the rule that decided it, or NULL. */
	const char *role[ST_FLOW_MAX_LEGS];
};

/*
 * 1.17: the shared README's table.  Its type-1 rule number (6) is that
 * of a chain without the 15008 exclusion; this sample excludes 15008 too
 * and the recorded kernel path (samples/truth/) is rule 5.
 */
static const struct flow_case flow_cases[] = {
	{{R117},
	 "tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0",
	 1,
	 NULL,
	 {"nat:PREROUTING:1 nat:ISTIO_INBOUND:5 nat:ISTIO_IN_REDIRECT:1 "
	  "nat:INPUT:P0",
	  "nat:OUTPUT:1 nat:ISTIO_OUTPUT:1 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"inbound-redirect", "inbound-passthrough-return"}},
	{{R117},
	 "tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000",
	 2,
	 NULL,
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:9 nat:ISTIO_REDIRECT:1 "
	  "nat:POSTROUTING:P0",
	  "nat:OUTPUT:1 nat:ISTIO_OUTPUT:4 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"outbound-redirect", "proxy-uid-return"}},
	{{R117},
	 "tcp 10.244.3.30:50003 > 10.244.1.10:15090 in eth0",
	 3,
	 NULL,
	 {"nat:PREROUTING:1 nat:ISTIO_INBOUND:2 nat:PREROUTING:P0 "
	  "nat:INPUT:P0"},
	 {"inbound-port-exclusion"}},
	{{R117},
	 "tcp 10.244.3.30:50003 > 10.244.1.10:15020 in eth0",
	 3,
	 NULL,
	 {"nat:PREROUTING:1 nat:ISTIO_INBOUND:4 nat:PREROUTING:P0 "
	  "nat:INPUT:P0"},
	 {NULL}},
	{{R117},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:9 nat:ISTIO_REDIRECT:1 "
	  "nat:POSTROUTING:P0",
	  "nat:OUTPUT:1 nat:ISTIO_OUTPUT:2 nat:ISTIO_IN_REDIRECT:1 "
	  "nat:POSTROUTING:P0",
	  "nat:OUTPUT:1 nat:ISTIO_OUTPUT:1 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"outbound-redirect", "inbound-redirect",
	  "inbound-passthrough-return"}},
	{{R117},
	 "tcp 10.244.1.10:43212 > 10.244.1.10:9081 uid 1000",
	 0,
	 "bypass",
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:3 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"loopback-non-proxy-return"}},
	/* Type 5 is rule 4, not the article's rule 8. */
	{{R117},
	 "tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337",
	 5,
	 NULL,
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:4 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"proxy-uid-return"}},
	{{R117},
	 "tcp 10.244.1.10:45006 > 10.244.4.40:15012 uid 1337",
	 6,
	 NULL,
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:4 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"proxy-uid-return"}},
	{{R117},
	 "tcp 10.244.1.10:45007 > 10.244.2.20:80 uid 1337",
	 0,
	 "proxy-direct",
	 {NULL},
	 {"proxy-uid-return"}},
	{{R117},
	 "tcp 10.244.0.1:50009 > 10.244.1.10:15021 in eth0",
	 0,
	 "excluded-port",
	 {NULL},
	 {"inbound-port-exclusion"}},
	{{R117},
	 "udp 10.244.1.10:5353 > 10.96.0.10:53 uid 1000",
	 0,
	 "bypass",
	 {"nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {NULL}},
	/* A socketless packet to the pod's own address: xt_owner's
	 * "! --uid-owner" matches it (rule 3 RETURN) ... */
	{{R117},
	 "tcp 10.244.1.10:1 > 10.244.1.10:9081 out lo",
	 0,
	 "bypass",
	 {"nat:OUTPUT:1 nat:ISTIO_OUTPUT:3 nat:OUTPUT:P0 nat:POSTROUTING:P0"},
	 {"loopback-non-proxy-return"}},
	/* ... nft's "skuid != 1337" does not: it is captured (rule 9). */
	{{RNFT},
	 "tcp 10.244.1.10:1 > 10.244.1.10:9081 out lo",
	 4,
	 NULL,
	 {"istio-proxy-nat:output:1 istio-proxy-nat:istio-output:9 "
	  "istio-proxy-nat:istio-redirect:1"},
	 {"outbound-redirect"}},
	{{RNFT},
	 "tcp 10.244.1.10:43212 > 10.244.1.10:9081 uid 1000",
	 0,
	 "bypass",
	 {NULL},
	 {"loopback-non-proxy-return"}},
	{{RNFT},
	 "tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0",
	 1,
	 NULL,
	 {NULL},
	 {"inbound-redirect", "inbound-passthrough-return"}},
	{{RNFT},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "inbound-redirect",
	  "inbound-passthrough-return"}},
	{{RNFT},
	 "tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337",
	 5,
	 NULL,
	 {NULL},
	 {"proxy-uid-return"}},
	/* 1.4, six rules: the app's own pod IP goes to the inbound port. */
	{{R14},
	 "tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0",
	 1,
	 NULL,
	 {NULL},
	 {"inbound-redirect", "inbound-passthrough-return"}},
	{{R14},
	 "tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000",
	 2,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "proxy-uid-return"}},
	{{R14},
	 "tcp 10.244.3.30:50003 > 10.244.1.10:15020 in eth0",
	 3,
	 NULL,
	 {NULL},
	 {"inbound-port-exclusion"}},
	{{R14},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "inbound-redirect",
	  "inbound-passthrough-return"}},
	{{R14},
	 "tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337",
	 5,
	 NULL,
	 {NULL},
	 {"proxy-uid-return"}},
	{{R14},
	 "tcp 10.244.1.10:45006 > 10.244.4.40:15012 uid 1337",
	 6,
	 NULL,
	 {NULL},
	 {"proxy-uid-return"}},
	/* DNS capture to 15053: UDP in nat OUTPUT (1.20), TCP in ISTIO_OUTPUT;
	 * the proxy's own DNS is exempt. */
	{{R120},
	 "udp 10.244.1.10:5353 > 10.96.0.10:53 uid 1000",
	 0,
	 "dns-capture",
	 {NULL},
	 {"dns-capture"}},
	{{R120},
	 "tcp 10.244.1.10:5353 > 10.96.0.10:53 uid 1000",
	 0,
	 "dns-capture",
	 {NULL},
	 {"dns-capture"}},
	{{R120},
	 "udp 10.244.1.10:5353 > 10.96.0.10:53 uid 1337",
	 0,
	 "proxy-direct",
	 {NULL},
	 {"dns-proxy-return"}},
	{{R120},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {NULL},
	 {NULL}},
	{{RDS4, RDS6},
	 "udp 10.244.1.10:5353 > 10.96.0.10:53 uid 1000",
	 0,
	 "dns-capture",
	 {NULL},
	 {"dns-capture"}},
	/* 1.25 silently dropped IPv6 DNS capture without a v6 server. */
	{{RDS4, RDS6},
	 "udp [fd00:244::1:10]:5353 > [fd00:96::10]:53 uid 1000",
	 0,
	 "bypass",
	 {NULL},
	 {NULL}},
	{{RDS4, RDS6},
	 "tcp [fd00:244::2:20]:50001 > [fd00:244::1:10]:9080 in "
	 "eth0",
	 1,
	 NULL,
	 {NULL},
	 {"inbound-redirect", "inbound-passthrough-return"}},
	/* TPROXY: captured in mangle; Envoy runs as uid 0, gid 1337. */
	{{R125},
	 "tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0",
	 1,
	 NULL,
	 {"raw:PREROUTING:1 raw:ISTIO_INBOUND:R2 raw:PREROUTING:P0 "
	  "mangle:PREROUTING:1 mangle:ISTIO_INBOUND:8 mangle:ISTIO_TPROXY:1 "
	  "nat:PREROUTING:P0 mangle:INPUT:P0 nat:INPUT:P0"},
	 {"tproxy-redirect", NULL}},
	{{R125},
	 "tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000",
	 2,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "proxy-gid-return"}},
	{{R125},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "tproxy-redirect", NULL}},
	{{R125},
	 "tcp 10.244.1.10:45006 > 10.244.4.40:15012 uid 0 gid 1337",
	 6,
	 NULL,
	 {NULL},
	 {"proxy-gid-return"}},
	{{R125},
	 "udp 10.244.1.10:5353 > 10.96.0.10:53 uid 1000",
	 0,
	 "dns-capture",
	 {NULL},
	 {"dns-capture"}},
	/* A custom proxy uid/gid (OpenShift-style). */
	{{RCUS},
	 "tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000",
	 2,
	 NULL,
	 {NULL},
	 {"outbound-redirect", "proxy-uid-return"}},
	{{RCUS},
	 "tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1000670000 gid "
	 "1000670001",
	 5,
	 NULL,
	 {NULL},
	 {"proxy-uid-return"}},
	{{RCUS},
	 "tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000",
	 4,
	 NULL,
	 {NULL},
	 {NULL}},
	/* The default proxy uid is only an app here. */
	{{RCUS},
	 "tcp 10.244.1.10:43213 > 10.244.2.20:9080 uid 1337",
	 2,
	 NULL,
	 {NULL},
	 {"outbound-redirect", NULL}},
};

static void short_hops(const struct st_flow_leg *l, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < l->nhops && n < size; i++) {
		const struct st_flow_hop *h = &l->hops[i];
		int k = snprintf(buf + n, size - n, "%s%s:%s:%s%u",
				 i ? " " : "", h->table, h->chain,
				 h->kind == ST_HIT_POLICY   ? "P"
				 : h->kind == ST_HIT_RETURN ? "R"
							    : "",
				 h->rule);

		n += k > 0 ? (size_t)k : 0;
	}
}

static void test_flows(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(flow_cases); i++) {
		const struct flow_case *fc = &flow_cases[i];
		static struct st_eval_result res;
		char err[ST_ERRBUF_SIZE] = "";
		struct st_simspec spec;
		struct loaded ld;
		size_t nf = fc->rules[1] ? 2 : 1;

		print_message("  %s: %s\n", fc->rules[0], fc->spec);
		assert_int_equal(load(&ld, fc->rules, nf), 0);
		assert_int_equal(st_simspec_parse(fc->spec, &spec, err), 0);
		assert_int_equal(st_eval_flow(&ld.env, &spec, &res, err), 0);
		if (res.flow.type != fc->type)
			print_error(
				"    type %d (%s): %s\n", res.flow.type,
				st_class_name(res.flow.klass, res.flow.type),
				res.flow.reason);
		assert_int_equal(res.flow.type, fc->type);
		if (fc->klass != NULL)
			assert_string_equal(
				st_class_name(res.flow.klass, res.flow.type),
				fc->klass);
		for (unsigned int l = 0; l < ST_FLOW_MAX_LEGS; l++) {
			const struct st_flow_leg *leg = &res.flow.legs[l];
			char got[2048];

			if (l >= res.flow.nlegs) {
				assert_null(fc->hops[l]);
				continue;
			}
			short_hops(leg, got, sizeof(got));
			if (fc->hops[l] != NULL)
				assert_string_equal(got, fc->hops[l]);
			if (fc->role[l] != NULL) {
				assert_true(leg->decision_hop >= 0);
				assert_non_null(leg->hops[leg->decision_hop].r);
				assert_string_equal(
					st_role_name(
						leg->hops[leg->decision_hop]
							.r->role),
					fc->role[l]);
			}
		}
		unload(&ld);
	}
}

/* ---- hand-made rules: targets and matches ---- */

static const char hand_rules[] =
	"*mangle\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	":MARKS - [0:0]\n"
	"-A OUTPUT -p tcp -m multiport --dports 7000:7010,8000 -j MARKS\n"
	"-A MARKS -j MARK --set-xmark 0x10/0xff\n"
	"-A MARKS -m mark --mark 0x10/0xff -j RETURN\n"
	"-A MARKS -j DROP\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	":GO - [0:0]\n"
	":SUB - [0:0]\n"
	"-A PREROUTING -i veth+ -g GO\n"
	"-A PREROUTING -p tcp -m tcp --dport 9999 -m statistic --mode random "
	"--probability 0.5 -j RETURN\n"
	"-A GO -p tcp -m tcp ! --dport 22 -j SUB\n"
	"-A SUB -s 10.1.0.0/16 -j RETURN\n"
	"-A OUTPUT -p tcp -m mark --mark 0x10/0xff -j DNAT --to-destination "
	"10.9.9.9:80\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT DROP [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT\n"
	"COMMIT\n";

struct hand_case {
	const char *spec;
	const char *hops;
	enum st_eval_verdict verdict;
	const char *why; /* substring of leg.why, or NULL */
};

static const struct hand_case hand_cases[] = {
	/* multiport range, MARK with a mask, mark match, then DNAT */
	{"tcp 10.244.1.10:1000 > 10.2.0.1:7005 uid 5",
	 "mangle:OUTPUT:1 mangle:MARKS:1 mangle:MARKS:2 mangle:OUTPUT:P0 "
	 "nat:OUTPUT:1 filter:OUTPUT:P0 mangle:POSTROUTING:P0 "
	 "nat:POSTROUTING:P0",
	 ST_EVAL_SENT, NULL},
	/* not in the multiport list */
	{"tcp 10.244.1.10:1000 > 10.2.0.1:7011 uid 5",
	 "mangle:OUTPUT:P0 nat:OUTPUT:P0 filter:OUTPUT:P0 "
	 "mangle:POSTROUTING:P0 nat:POSTROUTING:P0",
	 ST_EVAL_SENT, NULL},
	/* wildcard interface, goto, a RETURN back to the goto's caller:
	 * the base chain's policy; filter INPUT runs before nat INPUT */
	{"tcp 10.1.2.3:1000 > 10.244.1.10:443 in veth7",
	 "mangle:PREROUTING:P0 nat:PREROUTING:1 nat:GO:1 nat:SUB:1 "
	 "nat:GO:R2 nat:PREROUTING:P0 mangle:INPUT:P0 filter:INPUT:1 "
	 "nat:INPUT:P0",
	 ST_EVAL_LOCAL, NULL},
	/* the negated port: GO falls off its end back to PREROUTING's
	 * policy; then filter INPUT's DROP policy */
	{"tcp 10.1.2.3:1000 > 10.244.1.10:22 in veth7",
	 "mangle:PREROUTING:P0 nat:PREROUTING:1 nat:GO:R2 nat:PREROUTING:P0 "
	 "mangle:INPUT:P0 filter:INPUT:P0",
	 ST_EVAL_DROPPED, NULL},
	/* eth0 is not veth+; statistic cannot be decided */
	{"tcp 10.1.2.3:1000 > 10.244.1.10:9999 in eth0", "mangle:PREROUTING:P0",
	 ST_EVAL_UNDECIDABLE, "undecidable at nat:PREROUTING:2"},
	/* not for the pod: forwarded, not followed */
	{"tcp 10.1.2.3:1000 > 10.7.7.7:80 in eth0",
	 "mangle:PREROUTING:P0 nat:PREROUTING:P0", ST_EVAL_FORWARDED, NULL},
};

static void test_hand(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_istio_settings set;
	struct st_eval_env env;
	struct st_ruleset *rs = st_ruleset_new();

	(void)state;
	assert_non_null(rs);
	assert_int_equal(st_rules_load_buf(rs, hand_rules,
					   sizeof(hand_rules) - 1, "hand", err),
			 0);
	assert_int_equal(st_istio_analyze(rs, &set, err), 0);
	st_eval_env_lab(&env, rs, &set);
	for (size_t i = 0; i < ST_ARRAY_SIZE(hand_cases); i++) {
		const struct hand_case *hc = &hand_cases[i];
		struct st_simspec spec;
		struct st_eval_pkt p;
		struct st_eval_info info;
		struct st_flow_leg leg;
		char got[2048];

		print_message("  %s\n", hc->spec);
		assert_int_equal(st_simspec_parse(hc->spec, &spec, err), 0);
		memset(&p, 0, sizeof(p));
		p.family = spec.family;
		p.proto = spec.proto;
		memcpy(p.src, spec.src, 16);
		memcpy(p.dst, spec.dst, 16);
		p.sport = spec.sport;
		p.dport = spec.dport;
		p.outgoing = spec.outgoing;
		p.has_sock = spec.has_uid;
		p.uid = spec.uid;
		p.gid = spec.gid;
		st_strlcpy(p.iif, spec.iif, sizeof(p.iif));
		assert_int_equal(st_eval_packet(&env, &p, &leg, &info, err), 0);
		short_hops(&leg, got, sizeof(got));
		assert_string_equal(got, hc->hops);
		assert_string_equal(st_eval_verdict_name(info.verdict),
				    st_eval_verdict_name(hc->verdict));
		if (hc->why != NULL) {
			assert_true(leg.incomplete);
			assert_non_null(strstr(leg.why, hc->why));
		}
		if (i == 0) {
			/* DNAT rewrote the destination, MARK the mark. */
			assert_int_equal(info.dport, 80);
			assert_int_equal(info.mark, 0x10);
			assert_int_equal(info.dst[0], 10);
			assert_int_equal(info.dst[3], 9);
		}
	}
	st_ruleset_free(rs);
}

/* match.c on its own: owner semantics per backend, ports, families. */
static void test_match(void **state)
{
	struct st_match m;
	struct st_match_pkt p;

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.proto = IPPROTO_TCP;
	p.dport = 53;
	m.kind = ST_M_UID;
	m.lo = m.hi = 1337;
	m.neg = true;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_YES);
	assert_int_equal(st_match_one(&m, &p, true), ST_MATCH_NO);
	m.neg = false;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_NO);
	p.has_sock = true;
	p.uid = 1337;
	assert_int_equal(st_match_one(&m, &p, true), ST_MATCH_YES);
	m.kind = ST_M_DPORT;
	m.proto = IPPROTO_UDP;
	m.nports = 1;
	m.ports[0].lo = m.ports[0].hi = 53;
	m.neg = true;
	/* the implied protocol is never negated */
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_NO);
	m.proto = IPPROTO_TCP;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_NO);
	p.dport = 54;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_YES);
	m.kind = ST_M_DST;
	m.neg = true;
	assert_int_equal(st_prefix_parse(&m.addr, "::1"), 0);
	/* an address of the other family never matches, even negated */
	assert_int_equal(st_match_one(&m, &p, true), ST_MATCH_NO);
	assert_true(st_match_ifname("eth0", "eth+"));
	assert_false(st_match_ifname("veth0", "eth+"));
	assert_false(st_match_ifname("eth0", "eth"));
	m.kind = ST_M_CTSTATE;
	m.neg = false;
	m.lo = ST_CT_RELATED | ST_CT_ESTABLISHED;
	p.ctstate = ST_CT_NEW;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_NO);
	m.lo = ST_CT_DNAT;
	assert_int_equal(st_match_one(&m, &p, false), ST_MATCH_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truth),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_hand),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
