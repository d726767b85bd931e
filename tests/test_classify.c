// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_classify.c - the six types and the type-0 classes, from flows built
 * by hand: each leg is its addresses, owner, capture and the one rule hop
 * that decided it, rules made with the builder API and roles set by hand.
 * (test_flow.c runs the same through assembly from records.)
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

#include "classify.h"
#include "flow.h"
#include "rules-int.h"
#include "testlib.h"

#define NONE -1

/* The rules: "CHAIN N TARGET ROLE [dport]", all in table nat. */
static const struct rule_spec {
	const char *chain;
	enum st_target_kind target;
	uint16_t port;
	enum st_role role;
	uint16_t dport; /* a --dport match, 0 none */
} rule_specs[] = {
	{"OUTPUT", ST_T_REDIRECT, 15053, ST_ROLE_DNS_CAPTURE, 53},
	{"ISTIO_INBOUND", ST_T_RETURN, 0, ST_ROLE_INBOUND_TUNNEL_EXCLUSION,
	 15008},
	{"ISTIO_INBOUND", ST_T_RETURN, 0, ST_ROLE_INBOUND_PORT_EXCLUSION,
	 15090},
	{"ISTIO_INBOUND", ST_T_RETURN, 0, ST_ROLE_INBOUND_PORT_EXCLUSION,
	 15021},
	{"ISTIO_INBOUND", ST_T_RETURN, 0, ST_ROLE_INBOUND_PORT_EXCLUSION,
	 15020},
	{"ISTIO_INBOUND", ST_T_JUMP, 0, ST_ROLE_INBOUND_CAPTURE, 0},
	{"ISTIO_INBOUND", ST_T_RETURN, 0, ST_ROLE_NONE, 9000},
	{"ISTIO_IN_REDIRECT", ST_T_REDIRECT, 15006, ST_ROLE_INBOUND_REDIRECT,
	 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_INBOUND_PASSTHROUGH_RETURN, 0},
	{"ISTIO_OUTPUT", ST_T_JUMP, 0, ST_ROLE_PROXY_TO_OWN_POD_REDIRECT, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_LOOPBACK_NON_PROXY_RETURN, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_PROXY_UID_RETURN, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_EXCLUDED_CIDR, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_EXCLUDED_OUTBOUND_PORT, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_LOCALHOST_RETURN, 0},
	{"ISTIO_OUTPUT", ST_T_JUMP, 0, ST_ROLE_OUTBOUND_CAPTURE, 0},
	{"ISTIO_OUTPUT", ST_T_RETURN, 0, ST_ROLE_EXCLUDED_INTERFACE, 0},
	{"ISTIO_REDIRECT", ST_T_REDIRECT, 15001, ST_ROLE_OUTBOUND_REDIRECT, 0},
	{"ISTIO_TPROXY", ST_T_TPROXY, 15006, ST_ROLE_TPROXY_REDIRECT, 0},
};

/* A leg: its decisive rule is "CHAIN:N" (or NULL), capture as flow.c. */
struct leg_spec {
	const char *src;
	const char *dst;
	long uid;
	long gid;
	bool arriving;
	const char *out;
	const char *rule; /* "ISTIO_OUTPUT:4", "ISTIO_INBOUND:end" */
	enum st_capture capture;
	bool own_pod;
	const char *why; /* incomplete */
	uint8_t proto;
};

struct class_case {
	const char *name;
	enum st_istio_mode mode;
	bool evicted;
	bool lost_meanwhile;
	unsigned int nlegs;
	struct leg_spec legs[ST_FLOW_MAX_LEGS];
	int type;
	enum st_class klass;
	const char *reason; /* a substring of the reason, or NULL */
};

/* A leg spec; the optional fields as designated initializers. */
#define LEG(s, d, u, g, a, o, r, ...)                                 \
	{                                                             \
		.src = (s), .dst = (d), .uid = (u), .gid = (g),       \
		.arriving = (a), .out = (o), .rule = (r), __VA_ARGS__ \
	}

#define APP 1000
#define PROXY 1337

static const struct class_case cases[] = {
	{"type 1 remote to local",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.1.5:40000", "10.0.0.7:8080", NONE, NONE, true, "",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("127.0.0.6:41000", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 1,
	 ST_CLASS_NONE,
	 NULL},
	{"type 1 over IPv6 from ::6",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("[fd00::5]:40000", "[fd00::7]:8080", NONE, NONE, true, "",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("[::6]:41000", "[fd00::7]:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 1,
	 ST_CLASS_NONE,
	 NULL},
	{"type 1 TPROXY, original_src",
	 ST_MODE_TPROXY,
	 false,
	 false,
	 2,
	 {LEG("10.0.1.5:40000", "10.0.0.7:8080", NONE, NONE, true, "",
	      "ISTIO_TPROXY:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("10.0.1.5:51000", "10.0.0.7:8080", 0, PROXY, false, "lo",
	      "ISTIO_OUTPUT:3")},
	 1,
	 ST_CLASS_NONE,
	 NULL},
	{"type 1, Envoy forwarding to 127.0.0.1 (before 1.10)",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.1.5:40000", "10.0.0.7:8080", NONE, NONE, true, "",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("127.0.0.1:41000", "127.0.0.1:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:4")},
	 1,
	 ST_CLASS_NONE,
	 NULL},
	{"inbound partner to another port",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.1.5:40000", "10.0.0.7:8080", NONE, NONE, true, "",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("127.0.0.6:41000", "10.0.0.7:9090", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 0,
	 ST_CLASS_UNKNOWN,
	 "form no known type"},
	{"type 2 local to remote",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.0.7:50000", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50010", "10.0.2.9:8080", PROXY, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4")},
	 2,
	 ST_CLASS_NONE,
	 NULL},
	{"type 2, proxy known by its gid only",
	 ST_MODE_TPROXY,
	 false,
	 false,
	 2,
	 {LEG("10.0.0.7:50000", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50010", "10.0.2.9:8080", 0, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4")},
	 2,
	 ST_CLASS_NONE,
	 NULL},
	{"type 3 on 15090",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.3.3:45000", "10.0.0.7:15090", NONE, NONE, true, "",
	      "ISTIO_INBOUND:2")},
	 3,
	 ST_CLASS_NONE,
	 NULL},
	{"type 3 on 15020",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.3.3:45000", "10.0.0.7:15020", NONE, NONE, true, "",
	      "ISTIO_INBOUND:4")},
	 3,
	 ST_CLASS_NONE,
	 NULL},
	{"health probe on 15021",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.1:33000", "10.0.0.7:15021", NONE, NONE, true, "",
	      "ISTIO_INBOUND:3")},
	 0,
	 ST_CLASS_EXCLUDED_PORT,
	 "inbound port 15021 is excluded"},
	{"HBONE on 15008",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.1.5:33100", "10.0.0.7:15008", NONE, NONE, true, "",
	      "ISTIO_INBOUND:1")},
	 0,
	 ST_CLASS_EXCLUDED_PORT,
	 "HBONE"},
	{"exclusion without a role, by its --dport",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.1.5:33200", "10.0.0.7:9000", NONE, NONE, true, "",
	      "ISTIO_INBOUND:6")},
	 0,
	 ST_CLASS_EXCLUDED_PORT,
	 "nat:ISTIO_INBOUND rule 6"},
	{"arriving, fell off ISTIO_INBOUND",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.1.5:33300", "10.0.0.7:7000", NONE, NONE, true, "",
	      "ISTIO_INBOUND:end")},
	 0,
	 ST_CLASS_BYPASS,
	 "the end of nat:ISTIO_INBOUND"},
	{"type 4 local to local",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 3,
	 {LEG("10.0.0.7:50020", "10.96.0.30:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50030", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND,
	      .own_pod = true),
	  LEG("127.0.0.6:50040", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 4,
	 ST_CLASS_NONE,
	 NULL},
	{"type 4 in TPROXY mode (hairpin TPROXYed)",
	 ST_MODE_TPROXY,
	 false,
	 false,
	 3,
	 {LEG("10.0.0.7:50020", "10.96.0.30:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50030", "10.0.0.7:8080", 0, PROXY, false, "lo",
	      "ISTIO_TPROXY:1", .capture = ST_CAPTURE_INBOUND),
	  LEG("127.0.0.6:50040", "10.0.0.7:8080", 0, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 4,
	 ST_CLASS_NONE,
	 NULL},
	{"type 4 cut short",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.0.7:50020", "10.96.0.30:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50030", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND,
	      .own_pod = true)},
	 0,
	 ST_CLASS_UNKNOWN,
	 "local-to-local traffic cut short"},
	{"type 5 to 127.0.0.1",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("127.0.0.1:47000", "127.0.0.1:15000", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:4")},
	 5,
	 ST_CLASS_NONE,
	 NULL},
	{"type 5 to ::1, gid only",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("[::1]:47000", "[::1]:15000", 0, PROXY, false, "lo",
	      "ISTIO_OUTPUT:4")},
	 5,
	 ST_CLASS_NONE,
	 NULL},
	{"type 5 to 127.0.0.53",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("127.0.0.1:47000", "127.0.0.53:53", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:4", .capture = ST_CAPTURE_NONE, .own_pod = false,
	      .why = NULL, .proto = IPPROTO_UDP)},
	 5,
	 ST_CLASS_NONE,
	 NULL},
	{"type 6 to istiod 15012",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:48000", "10.96.0.15:15012", PROXY, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4")},
	 6,
	 ST_CLASS_NONE,
	 NULL},
	{"type 6 to istiod 15010",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:48000", "10.96.0.15:15010", PROXY, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4")},
	 6,
	 ST_CLASS_NONE,
	 NULL},
	{"15012 over lo is not istiod",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:48000", "10.0.0.7:15012", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:4")},
	 0,
	 ST_CLASS_PROXY_DIRECT,
	 "stitched to no captured leg"},
	{"an app talking to 15012 is not type 6",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:48000", "10.96.0.15:15012", APP, APP, false, "eth0",
	      "ISTIO_OUTPUT:5")},
	 0,
	 ST_CLASS_EXCLUDED_CIDR,
	 NULL},
	{"app to its own pod IP",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50050", "10.0.0.7:8080", APP, APP, false, "lo",
	      "ISTIO_OUTPUT:3")},
	 0,
	 ST_CLASS_BYPASS,
	 "bypasses Envoy"},
	{"excluded CIDR",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50060", "169.254.169.254:80", APP, APP, false, "eth0",
	      "ISTIO_OUTPUT:5")},
	 0,
	 ST_CLASS_EXCLUDED_CIDR,
	 "outside the captured CIDRs"},
	{"excluded outbound port",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50070", "10.0.9.9:3306", APP, APP, false, "eth0",
	      "ISTIO_OUTPUT:6")},
	 0,
	 ST_CLASS_EXCLUDED_PORT,
	 "outbound port 3306"},
	{"excluded interface",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50080", "10.0.9.9:80", APP, APP, false, "net1",
	      "ISTIO_OUTPUT:9")},
	 0,
	 ST_CLASS_BYPASS,
	 "excluded interface net1"},
	{"app to localhost",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("127.0.0.1:50090", "127.0.0.1:8080", APP, APP, false, "lo",
	      "ISTIO_OUTPUT:7")},
	 0,
	 ST_CLASS_BYPASS,
	 "localhost-return"},
	{"app traffic no Istio rule took",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50100", "10.0.9.9:9999", APP, APP, false, "eth0", NULL,
	      .capture = ST_CAPTURE_NONE, .own_pod = false, .why = NULL,
	      .proto = IPPROTO_UDP)},
	 0,
	 ST_CLASS_BYPASS,
	 "no Istio rule sent it to Envoy"},
	{"DNS capture",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:53000", "10.96.0.10:53", APP, APP, false, "eth0",
	      "OUTPUT:1", .capture = ST_CAPTURE_DNS, .own_pod = false,
	      .why = NULL, .proto = IPPROTO_UDP)},
	 0,
	 ST_CLASS_DNS_CAPTURE,
	 "DNS proxy port 15053"},
	{"proxy uid to a remote, alone",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:48100", "10.96.0.50:9411", PROXY, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4")},
	 0,
	 ST_CLASS_PROXY_DIRECT,
	 "proxy-uid-return"},
	{"127.0.0.6 with no inbound capture",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("127.0.0.6:48200", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_OUTPUT:1")},
	 0,
	 ST_CLASS_PROXY_DIRECT,
	 "inbound passthrough address"},
	{"outbound capture, no upstream",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50110", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND)},
	 0,
	 ST_CLASS_UNKNOWN,
	 "no upstream leg"},
	{"inbound capture, no passthrough",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.1.5:40000", "10.0.0.7:8080", NONE, NONE, true, "",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND)},
	 0,
	 ST_CLASS_UNKNOWN,
	 "no leg from the passthrough address"},
	{"proxy to own pod IP alone",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 1,
	 {LEG("10.0.0.7:50030", "10.0.0.7:8080", PROXY, PROXY, false, "lo",
	      "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND,
	      .own_pod = true)},
	 0,
	 ST_CLASS_UNKNOWN,
	 "its own pod IP"},
	{"capture waited while records were lost",
	 ST_MODE_REDIRECT,
	 false,
	 true,
	 1,
	 {LEG("10.0.0.7:50120", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND)},
	 0,
	 ST_CLASS_INCOMPLETE,
	 "records were lost meanwhile"},
	{"an incomplete leg",
	 ST_MODE_REDIRECT,
	 false,
	 false,
	 2,
	 {LEG("10.0.0.7:50130", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND),
	  LEG("10.0.0.7:50140", "10.0.2.9:8080", PROXY, PROXY, false, "eth0",
	      "ISTIO_OUTPUT:4", .capture = ST_CAPTURE_NONE, .own_pod = false,
	      .why = "records lost: walk stopped in nat:ISTIO_OUTPUT")},
	 0,
	 ST_CLASS_INCOMPLETE,
	 "leg 2 10.0.0.7:50140 -> 10.0.2.9:8080: "
	 "records lost"},
	{"evicted",
	 ST_MODE_REDIRECT,
	 true,
	 false,
	 1,
	 {LEG("10.0.0.7:50150", "10.96.0.20:80", APP, APP, false, "eth0",
	      "ISTIO_REDIRECT:1", .capture = ST_CAPTURE_OUTBOUND)},
	 0,
	 ST_CLASS_INCOMPLETE,
	 "evicted"},
};

struct fixture {
	struct st_ruleset *rs;
	struct st_istio_settings set;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	static const char *const user[] = {
		"ISTIO_INBOUND",  "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT",
		"ISTIO_REDIRECT", "ISTIO_TPROXY",
	};

	assert_non_null(fx);
	fx->rs = st_ruleset_new();
	assert_non_null(fx->rs);
	assert_non_null(st_ruleset_add_chain(fx->rs, "nat", "OUTPUT",
					     ST_FAMILY_ANY, "ACCEPT"));
	for (size_t i = 0; i < ST_ARRAY_SIZE(user); i++)
		assert_non_null(st_ruleset_add_chain(fx->rs, "nat", user[i],
						     ST_FAMILY_ANY, NULL));
	for (size_t i = 0; i < ST_ARRAY_SIZE(rule_specs); i++) {
		const struct rule_spec *s = &rule_specs[i];
		struct st_rule *r = st_ruleset_add_rule(fx->rs, "nat", s->chain,
							ST_FAMILY_ANY);

		assert_non_null(r);
		r->target.kind = s->target;
		r->target.port_lo = r->target.port_hi = s->port;
		r->role = s->role;
		if (s->dport != 0) {
			struct st_match *m = st_rule_add_match(r, ST_M_DPORT);

			assert_non_null(m);
			m->nports = 1;
			m->ports[0].lo = m->ports[0].hi = s->dport;
		}
	}
	fx->set.kind = ST_ISTIO_SIDECAR;
	fx->set.nproxy_uids = 1;
	fx->set.proxy_uids[0] = PROXY;
	fx->set.nproxy_gids = 1;
	fx->set.proxy_gids[0] = PROXY;
	fx->set.outbound_port = 15001;
	fx->set.inbound_port = 15006;
	fx->set.dns_port = 15053;
	fx->set.ninbound_excluded = 3;
	fx->set.inbound_excluded_ports[0] = 15090;
	fx->set.inbound_excluded_ports[1] = 15021;
	fx->set.inbound_excluded_ports[2] = 15020;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	st_ruleset_free(fx->rs);
	free(fx);
	return 0;
}

static void build_leg(const struct fixture *fx, const struct leg_spec *s,
		      struct st_flow_leg *l)
{
	static const uint8_t six4[4] = {127, 0, 0, 6};
	static const uint8_t six6[16] = {[15] = 6};
	uint8_t fam2 = 0;

	memset(l, 0, sizeof(*l));
	tl_parse_addr(s->src, &l->family, l->src, &l->sport);
	tl_parse_addr(s->dst, &fam2, l->dst, &l->dport);
	assert_int_equal(fam2, l->family);
	l->proto = s->proto ? s->proto : IPPROTO_TCP;
	l->has_uid = s->uid != NONE;
	l->uid = s->uid != NONE ? (uint32_t)s->uid : 0;
	l->has_gid = s->gid != NONE;
	l->gid = s->gid != NONE ? (uint32_t)s->gid : 0;
	l->proxy = (l->has_uid && l->uid == PROXY) ||
		   (l->has_gid && l->gid == PROXY);
	l->passthrough_src = memcmp(l->src, l->family == 4 ? six4 : six6,
				    l->family == 4 ? 4 : 16) == 0;
	l->arriving = s->arriving;
	st_strlcpy(l->outdev, s->out, sizeof(l->outdev));
	if (s->arriving)
		st_strlcpy(l->indev, "eth0", sizeof(l->indev));
	l->capture = s->capture;
	l->own_pod = s->own_pod;
	l->redirect_hop = -1;
	l->decision_hop = -1;
	if (s->rule != NULL) {
		char chain[32];
		const char *colon = strchr(s->rule, ':');
		struct st_flow_hop *h = &l->hops[0];
		const struct st_chain *c = NULL;

		memcpy(chain, s->rule, (size_t)(colon - s->rule));
		chain[colon - s->rule] = '\0';
		c = st_ruleset_find_chain(fx->rs, "nat", chain, ST_FAMILY_ANY);
		assert_non_null(c);
		h->table = c->table;
		h->chain = c->name;
		h->builtin = c->builtin;
		h->istio = strncmp(c->name, "ISTIO_", 6) == 0;
		h->chain_rules = c->nrules;
		if (strcmp(colon + 1, "end") == 0) {
			h->kind = ST_HIT_RETURN;
			h->rule = c->nrules + 1;
		} else {
			h->kind = ST_HIT_RULE;
			h->rule = (unsigned int)strtoul(colon + 1, NULL, 10);
			h->r = st_ruleset_find_rule(fx->rs, "nat", chain,
						    ST_FAMILY_ANY, h->rule);
			assert_non_null(h->r);
		}
		l->nhops = 1;
		l->decision_hop = 0;
		l->decisive_table = c->table;
		l->nat_table = c->table;
		if (s->capture != ST_CAPTURE_NONE) {
			l->redirect_hop = 0;
			l->redirect_port = h->r->target.port_lo;
		}
	}
	if (s->why != NULL) {
		l->incomplete = true;
		st_strlcpy(l->why, s->why, sizeof(l->why));
	}
}

static void test_cases(void **state)
{
	struct fixture *fx = *state;
	struct st_flow *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		const struct class_case *c = &cases[i];

		memset(f, 0, sizeof(*f));
		fx->set.mode = c->mode;
		f->evicted = c->evicted;
		f->lost_meanwhile = c->lost_meanwhile;
		f->timed_out = c->lost_meanwhile;
		f->nlegs = c->nlegs;
		for (unsigned int k = 0; k < c->nlegs; k++)
			build_leg(fx, &c->legs[k], &f->legs[k]);
		st_class_flow(f, &fx->set);
		if (f->type != c->type || f->klass != c->klass ||
		    (c->reason != NULL && strstr(f->reason, c->reason) == NULL))
			fail_msg("case '%s': got [%d %s] \"%s\", expected "
				 "[%d %s] with \"%s\"",
				 c->name, f->type,
				 st_class_name(f->klass, f->type), f->reason,
				 c->type, st_class_name(c->klass, c->type),
				 c->reason ? c->reason : "");
		if (f->type != 0)
			assert_string_equal(f->reason, "");
		else
			assert_true(strlen(f->reason) > 0);
	}
	free(f);
}

static void test_names(void **state)
{
	static const char *const types[] = {
		"other",
		"remote-to-local",
		"local-to-remote",
		"prometheus-scrape",
		"local-to-local",
		"envoy-interprocess",
		"sidecar-to-istiod",
	};

	(void)state;
	for (int t = 0; t <= ST_TYPE_MAX; t++) {
		assert_string_equal(st_class_type_name(t), types[t]);
		/* A type 1-6 flow's class is its type name. */
		assert_string_equal(st_class_name(ST_CLASS_NONE, t), types[t]);
	}
	assert_string_equal(st_class_type_name(-1), "other");
	assert_string_equal(st_class_type_name(7), "other");
	assert_string_equal(st_class_name(ST_CLASS_BYPASS, 0), "bypass");
	assert_string_equal(st_class_name(ST_CLASS_EXCLUDED_PORT, 0),
			    "excluded-port");
	assert_string_equal(st_class_name(ST_CLASS_EXCLUDED_CIDR, 0),
			    "excluded-cidr");
	assert_string_equal(st_class_name(ST_CLASS_DNS_CAPTURE, 0),
			    "dns-capture");
	assert_string_equal(st_class_name(ST_CLASS_PROXY_DIRECT, 0),
			    "proxy-direct");
	assert_string_equal(st_class_name(ST_CLASS_INCOMPLETE, 0),
			    "incomplete");
	assert_string_equal(st_class_name(ST_CLASS_UNKNOWN, 0), "unknown");
	assert_string_equal(st_class_name(ST_CLASS__MAX, 0), "unknown");
}

static void test_ports(void **state)
{
	struct st_istio_settings set;

	(void)state;
	memset(&set, 0, sizeof(set));
	/* Without an exclusion list only the PORTS.md facts count. */
	assert_true(st_class_is_prometheus_port(15090, &set));
	assert_true(st_class_is_prometheus_port(15020, NULL));
	assert_false(st_class_is_prometheus_port(15021, &set));
	/* With one, the port must also be excluded from capture. */
	set.ninbound_excluded = 2;
	set.inbound_excluded_ports[0] = 15021;
	set.inbound_excluded_ports[1] = 15020;
	assert_false(st_class_is_prometheus_port(15090, &set));
	assert_true(st_class_is_prometheus_port(15020, &set));
	assert_true(st_class_is_istiod_port(15012));
	assert_true(st_class_is_istiod_port(15010));
	assert_false(st_class_is_istiod_port(15014));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
