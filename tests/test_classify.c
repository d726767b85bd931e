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

/* The rules: "CHAIN N TARGET ROLE [dport]", all in table nat. */
static const struct rule_spec {
	const char *chain;
	enum st_target_kind target;
	uint16_t port;
	enum st_role role;
	uint16_t dport;	 /* a --dport match, 0 none */
	const char *src; /* a -s match, NULL none */
} rule_specs[] = {
	{.chain = "OUTPUT",
	 .target = ST_T_REDIRECT,
	 .port = 15053,
	 .role = ST_ROLE_DNS_CAPTURE,
	 .dport = 53},
	{.chain = "ISTIO_INBOUND",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_INBOUND_TUNNEL_EXCLUSION,
	 .dport = 15008},
	{.chain = "ISTIO_INBOUND",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_INBOUND_PORT_EXCLUSION,
	 .dport = 15090},
	{.chain = "ISTIO_INBOUND",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_INBOUND_PORT_EXCLUSION,
	 .dport = 15021},
	{.chain = "ISTIO_INBOUND",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_INBOUND_PORT_EXCLUSION,
	 .dport = 15020},
	{.chain = "ISTIO_INBOUND",
	 .target = ST_T_JUMP,
	 .role = ST_ROLE_INBOUND_CAPTURE},
	{.chain = "ISTIO_INBOUND", .target = ST_T_RETURN, .dport = 9000},
	{.chain = "ISTIO_IN_REDIRECT",
	 .target = ST_T_REDIRECT,
	 .port = 15006,
	 .role = ST_ROLE_INBOUND_REDIRECT},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_INBOUND_PASSTHROUGH_RETURN},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_JUMP,
	 .role = ST_ROLE_PROXY_TO_OWN_POD_REDIRECT},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_LOOPBACK_NON_PROXY_RETURN},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_PROXY_UID_RETURN},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_EXCLUDED_CIDR},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_EXCLUDED_OUTBOUND_PORT},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_LOCALHOST_RETURN},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_JUMP,
	 .role = ST_ROLE_OUTBOUND_CAPTURE},
	{.chain = "ISTIO_OUTPUT",
	 .target = ST_T_RETURN,
	 .role = ST_ROLE_EXCLUDED_INTERFACE},
	{.chain = "ISTIO_REDIRECT",
	 .target = ST_T_REDIRECT,
	 .port = 15001,
	 .role = ST_ROLE_OUTBOUND_REDIRECT},
	{.chain = "ISTIO_TPROXY",
	 .target = ST_T_TPROXY,
	 .port = 15006,
	 .role = ST_ROLE_TPROXY_REDIRECT},
	/* ztunnel's in-pod rules (ambient): the roles do not matter. */
	{.chain = "ISTIO_OUTPUT", .target = ST_T_ACCEPT, .role = ST_ROLE_OTHER},
	{.chain = "ISTIO_PRERT",
	 .target = ST_T_ACCEPT,
	 .role = ST_ROLE_OTHER,
	 .src = "169.254.7.127"},
	{.chain = "ISTIO_PRERT",
	 .target = ST_T_REDIRECT,
	 .port = 15006,
	 .role = ST_ROLE_OTHER},
};

/* Who owns a leg's socket, as its NFLOG records show it. */
enum owner {
	OWN_NONE,      /* arriving from outside: no local socket */
	OWN_APP,       /* uid and gid APP */
	OWN_PROXY,     /* uid and gid PROXY */
	OWN_PROXY_GID, /* uid 0, gid PROXY: Envoy in TPROXY mode */
	OWN_ZTUNNEL,   /* uid 0, gid PROXY, ztunnel's mark: ambient */
};

/*
 * A leg: an arriving one (OWN_NONE) comes in on eth0, the others leave
 * through .out; its one hop is the decisive rule .rule, "CHAIN:N" or
 * "CHAIN:end" (none if NULL); the capture is what flow.c would have
 * set; TCP unless .proto says otherwise; .why marks it incomplete.
 */
struct leg_spec {
	const char *src;
	const char *dst;
	enum owner owner;
	const char *out;
	const char *rule;
	enum st_capture capture;
	bool own_pod;
	const char *why;
	uint8_t proto;
};

/* A flow of up to ST_FLOW_MAX_LEGS legs (those with a .src) and its class. */
struct class_case {
	const char *name;
	enum st_istio_mode mode;
	bool ambient;	/* ztunnel's in-pod rules */
	bool timed_out; /* the last leg waited in vain */
	bool evicted;
	bool lost_meanwhile;
	struct leg_spec legs[ST_FLOW_MAX_LEGS];
	int type;
	enum st_class klass;
	const char *reason; /* a substring of the reason, or NULL (for a
			     * typed flow: the reason is empty) */
};

#define APP 1000
#define PROXY 1337

/* Legs several cases share. */
#define LEG_REMOTE_IN                                                        \
	{                                                                    \
		.src = "10.0.1.5:40000", .dst = "10.0.0.7:8080",             \
		.rule = "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND \
	}
#define LEG_APP_TO_SVC20                                                     \
	{                                                                    \
		.src = "10.0.0.7:50000", .dst = "10.96.0.20:80",             \
		.owner = OWN_APP, .out = "eth0", .rule = "ISTIO_REDIRECT:1", \
		.capture = ST_CAPTURE_OUTBOUND                               \
	}
#define LEG_APP_TO_SVC30                                                     \
	{                                                                    \
		.src = "10.0.0.7:50020", .dst = "10.96.0.30:80",             \
		.owner = OWN_APP, .out = "eth0", .rule = "ISTIO_REDIRECT:1", \
		.capture = ST_CAPTURE_OUTBOUND                               \
	}
#define LEG_PROXY_TO_OWN_POD                                                  \
	{                                                                     \
		.src = "10.0.0.7:50030", .dst = "10.0.0.7:8080",              \
		.owner = OWN_PROXY, .out = "lo",                              \
		.rule = "ISTIO_IN_REDIRECT:1", .capture = ST_CAPTURE_INBOUND, \
		.own_pod = true                                               \
	}

static const struct class_case cases[] = {
	{
		.name = "type 1 remote to local",
		.legs = {LEG_REMOTE_IN,
			 {.src = "127.0.0.6:41000",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.type = 1,
	},
	{
		.name = "type 1 over IPv6 from ::6",
		.legs = {{.src = "[fd00::5]:40000",
			  .dst = "[fd00::7]:8080",
			  .rule = "ISTIO_IN_REDIRECT:1",
			  .capture = ST_CAPTURE_INBOUND},
			 {.src = "[::6]:41000",
			  .dst = "[fd00::7]:8080",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.type = 1,
	},
	{
		.name = "type 1 TPROXY, original_src",
		.mode = ST_MODE_TPROXY,
		.legs = {{.src = "10.0.1.5:40000",
			  .dst = "10.0.0.7:8080",
			  .rule = "ISTIO_TPROXY:1",
			  .capture = ST_CAPTURE_INBOUND},
			 {.src = "10.0.1.5:51000",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY_GID,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:3"}},
		.type = 1,
	},
	{
		.name = "type 1, Envoy forwarding to 127.0.0.1 (before 1.10)",
		.legs = {LEG_REMOTE_IN,
			 {.src = "127.0.0.1:41000",
			  .dst = "127.0.0.1:8080",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 1,
	},
	{
		.name = "inbound partner to another port",
		.legs = {LEG_REMOTE_IN,
			 {.src = "127.0.0.6:41000",
			  .dst = "10.0.0.7:9090",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "form no known type",
	},
	{
		.name = "type 2 local to remote",
		.legs = {LEG_APP_TO_SVC20,
			 {.src = "10.0.0.7:50010",
			  .dst = "10.0.2.9:8080",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 2,
	},
	{
		.name = "type 2, proxy known by its gid only",
		.mode = ST_MODE_TPROXY,
		.legs = {LEG_APP_TO_SVC20,
			 {.src = "10.0.0.7:50010",
			  .dst = "10.0.2.9:8080",
			  .owner = OWN_PROXY_GID,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 2,
	},
	{
		.name = "type 3 on 15090",
		.legs = {{.src = "10.0.3.3:45000",
			  .dst = "10.0.0.7:15090",
			  .rule = "ISTIO_INBOUND:2"}},
		.type = 3,
	},
	{
		.name = "type 3 on 15020",
		.legs = {{.src = "10.0.3.3:45000",
			  .dst = "10.0.0.7:15020",
			  .rule = "ISTIO_INBOUND:4"}},
		.type = 3,
	},
	{
		.name = "health probe on 15021",
		.legs = {{.src = "10.0.0.1:33000",
			  .dst = "10.0.0.7:15021",
			  .rule = "ISTIO_INBOUND:3"}},
		.klass = ST_CLASS_EXCLUDED_PORT,
		.reason = "inbound port 15021 is excluded",
	},
	{
		.name = "HBONE on 15008",
		.legs = {{.src = "10.0.1.5:33100",
			  .dst = "10.0.0.7:15008",
			  .rule = "ISTIO_INBOUND:1"}},
		.klass = ST_CLASS_EXCLUDED_PORT,
		.reason = "HBONE",
	},
	{
		.name = "exclusion without a role, by its --dport",
		.legs = {{.src = "10.0.1.5:33200",
			  .dst = "10.0.0.7:9000",
			  .rule = "ISTIO_INBOUND:6"}},
		.klass = ST_CLASS_EXCLUDED_PORT,
		.reason = "nat:ISTIO_INBOUND rule 6",
	},
	{
		.name = "arriving, fell off ISTIO_INBOUND",
		.legs = {{.src = "10.0.1.5:33300",
			  .dst = "10.0.0.7:7000",
			  .rule = "ISTIO_INBOUND:end"}},
		.klass = ST_CLASS_BYPASS,
		.reason = "the end of nat:ISTIO_INBOUND",
	},
	{
		.name = "type 4 local to local",
		.legs = {LEG_APP_TO_SVC30,
			 LEG_PROXY_TO_OWN_POD,
			 {.src = "127.0.0.6:50040",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.type = 4,
	},
	{
		.name = "type 4 in TPROXY mode (hairpin TPROXYed)",
		.mode = ST_MODE_TPROXY,
		.legs = {LEG_APP_TO_SVC30,
			 {.src = "10.0.0.7:50030",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY_GID,
			  .out = "lo",
			  .rule = "ISTIO_TPROXY:1",
			  .capture = ST_CAPTURE_INBOUND},
			 {.src = "127.0.0.6:50040",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY_GID,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.type = 4,
	},
	{
		.name = "type 4 cut short",
		.legs = {LEG_APP_TO_SVC30, LEG_PROXY_TO_OWN_POD},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "local-to-local traffic cut short",
	},
	{
		.name = "type 5 to 127.0.0.1",
		.legs = {{.src = "127.0.0.1:47000",
			  .dst = "127.0.0.1:15000",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 5,
	},
	{
		.name = "type 5 to ::1, gid only",
		.legs = {{.src = "[::1]:47000",
			  .dst = "[::1]:15000",
			  .owner = OWN_PROXY_GID,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 5,
	},
	{
		.name = "type 5 to 127.0.0.53",
		.legs = {{.src = "127.0.0.1:47000",
			  .dst = "127.0.0.53:53",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:4",
			  .proto = IPPROTO_UDP}},
		.type = 5,
	},
	{
		.name = "type 6 to istiod 15012",
		.legs = {{.src = "10.0.0.7:48000",
			  .dst = "10.96.0.15:15012",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 6,
	},
	{
		.name = "type 6 to istiod 15010",
		.legs = {{.src = "10.0.0.7:48000",
			  .dst = "10.96.0.15:15010",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4"}},
		.type = 6,
	},
	{
		.name = "15012 over lo is not istiod",
		.legs = {{.src = "10.0.0.7:48000",
			  .dst = "10.0.0.7:15012",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:4"}},
		.klass = ST_CLASS_PROXY_DIRECT,
		.reason = "stitched to no captured leg",
	},
	{
		.name = "an app talking to 15012 is not type 6",
		.legs = {{.src = "10.0.0.7:48000",
			  .dst = "10.96.0.15:15012",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:5"}},
		.klass = ST_CLASS_EXCLUDED_CIDR,
	},
	{
		.name = "app to its own pod IP",
		.legs = {{.src = "10.0.0.7:50050",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_APP,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:3"}},
		.klass = ST_CLASS_BYPASS,
		.reason = "bypasses Envoy",
	},
	{
		.name = "excluded CIDR",
		.legs = {{.src = "10.0.0.7:50060",
			  .dst = "169.254.169.254:80",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:5"}},
		.klass = ST_CLASS_EXCLUDED_CIDR,
		.reason = "outside the captured CIDRs",
	},
	{
		.name = "excluded outbound port",
		.legs = {{.src = "10.0.0.7:50070",
			  .dst = "10.0.9.9:3306",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:6"}},
		.klass = ST_CLASS_EXCLUDED_PORT,
		.reason = "outbound port 3306",
	},
	{
		.name = "excluded interface",
		.legs = {{.src = "10.0.0.7:50080",
			  .dst = "10.0.9.9:80",
			  .owner = OWN_APP,
			  .out = "net1",
			  .rule = "ISTIO_OUTPUT:9"}},
		.klass = ST_CLASS_BYPASS,
		.reason = "excluded interface net1",
	},
	{
		.name = "app to localhost",
		.legs = {{.src = "127.0.0.1:50090",
			  .dst = "127.0.0.1:8080",
			  .owner = OWN_APP,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:7"}},
		.klass = ST_CLASS_BYPASS,
		.reason = "localhost-return",
	},
	{
		.name = "app traffic no Istio rule took",
		.legs = {{.src = "10.0.0.7:50100",
			  .dst = "10.0.9.9:9999",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .proto = IPPROTO_UDP}},
		.klass = ST_CLASS_BYPASS,
		.reason = "no Istio rule sent it to Envoy",
	},
	{
		.name = "DNS capture",
		.legs = {{.src = "10.0.0.7:53000",
			  .dst = "10.96.0.10:53",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "OUTPUT:1",
			  .capture = ST_CAPTURE_DNS,
			  .proto = IPPROTO_UDP}},
		.klass = ST_CLASS_DNS_CAPTURE,
		.reason = "DNS proxy port 15053",
	},
	{
		.name = "proxy uid to a remote, alone",
		.legs = {{.src = "10.0.0.7:48100",
			  .dst = "10.96.0.50:9411",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4"}},
		.klass = ST_CLASS_PROXY_DIRECT,
		.reason = "proxy-uid-return",
	},
	{
		.name = "127.0.0.6 with no inbound capture",
		.legs = {{.src = "127.0.0.6:48200",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_PROXY,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:1"}},
		.klass = ST_CLASS_PROXY_DIRECT,
		.reason = "inbound passthrough address",
	},
	{
		.name = "outbound capture, no upstream",
		.legs = {{.src = "10.0.0.7:50110",
			  .dst = "10.96.0.20:80",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_REDIRECT:1",
			  .capture = ST_CAPTURE_OUTBOUND}},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "no upstream leg",
	},
	{
		.name = "inbound capture, no passthrough",
		.legs = {LEG_REMOTE_IN},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "no leg from the passthrough address",
	},
	{
		.name = "proxy to own pod IP alone",
		.legs = {LEG_PROXY_TO_OWN_POD},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "its own pod IP",
	},
	{
		.name = "capture waited while records were lost",
		.lost_meanwhile = true,
		.legs = {{.src = "10.0.0.7:50120",
			  .dst = "10.96.0.20:80",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_REDIRECT:1",
			  .capture = ST_CAPTURE_OUTBOUND}},
		.klass = ST_CLASS_INCOMPLETE,
		.reason = "records were lost meanwhile",
	},
	{
		.name = "an incomplete leg",
		.legs = {{.src = "10.0.0.7:50130",
			  .dst = "10.96.0.20:80",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_REDIRECT:1",
			  .capture = ST_CAPTURE_OUTBOUND},
			 {.src = "10.0.0.7:50140",
			  .dst = "10.0.2.9:8080",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:4",
			  .why = "records lost: walk stopped in nat:ISTIO_OUTPUT"}},
		.klass = ST_CLASS_INCOMPLETE,
		.reason = "leg 2 10.0.0.7:50140 -> 10.0.2.9:8080: "
			  "records lost",
	},
	/* Ambient: ztunnel's legs carry its mark (OWN_ZTUNNEL). */
	{
		.name = "ambient: app to a remote pod through ztunnel",
		.ambient = true,
		.legs = {LEG_APP_TO_SVC20,
			 {.src = "10.0.0.7:50010",
			  .dst = "10.0.2.9:8080",
			  .owner = OWN_ZTUNNEL,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:end"}},
		.type = ST_TYPE_AMB_LOCAL_TO_REMOTE,
	},
	{
		.name = "ambient: outbound, ztunnel's connection pooled",
		.ambient = true,
		.timed_out = true,
		.legs = {LEG_APP_TO_SVC20},
		.type = ST_TYPE_AMB_LOCAL_TO_REMOTE,
		.reason = "connection it had open",
	},
	{
		.name = "ambient: app to a service of its own pod",
		.ambient = true,
		.legs = {LEG_APP_TO_SVC30,
			 {.src = "10.0.0.7:50030",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_ZTUNNEL,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:10"}},
		.type = ST_TYPE_AMB_LOCAL_TO_LOCAL,
	},
	{
		.name = "ambient: inbound plaintext captured to 15006",
		.ambient = true,
		.legs = {{.src = "10.0.1.5:40000",
			  .dst = "10.0.0.7:8080",
			  .rule = "ISTIO_PRERT:2",
			  .capture = ST_CAPTURE_INBOUND},
			 {.src = "10.0.1.5:41000",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_ZTUNNEL,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:10"}},
		.type = ST_TYPE_AMB_REMOTE_TO_LOCAL,
	},
	{
		.name = "ambient: inbound plaintext with no leg of ztunnel's",
		.ambient = true,
		.timed_out = true,
		.legs = {{.src = "10.0.1.5:40010",
			  .dst = "10.0.0.7:8080",
			  .rule = "ISTIO_PRERT:2",
			  .capture = ST_CAPTURE_INBOUND}},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "no leg of ztunnel's from 10.0.1.5:40010",
	},
	{
		.name = "ambient: HBONE, then ztunnel to the app",
		.ambient = true,
		.legs = {{.src = "10.0.1.5:40020",
			  .dst = "10.0.0.7:15008",
			  .rule = "ISTIO_PRERT:end",
			  .capture = ST_CAPTURE_TUNNEL},
			 {.src = "10.0.1.5:41020",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_ZTUNNEL,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:10"}},
		.type = ST_TYPE_AMB_HBONE_TO_LOCAL,
	},
	{
		.name = "ambient: a new stream of an HBONE connection",
		.ambient = true,
		.legs = {{.src = "10.0.1.5:41030",
			  .dst = "10.0.0.7:8080",
			  .owner = OWN_ZTUNNEL,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:10"}},
		.type = ST_TYPE_AMB_HBONE_TO_LOCAL,
		.reason = "a stream of an HBONE connection",
	},
	{
		.name = "ambient: the kubelet's probe from 169.254.7.127",
		.ambient = true,
		.legs = {{.src = "169.254.7.127:33000",
			  .dst = "10.0.0.7:8080",
			  .rule = "ISTIO_PRERT:1"}},
		.type = ST_TYPE_AMB_KUBELET_PROBE,
	},
	{
		.name = "ambient: DNS answered by ztunnel",
		.ambient = true,
		.timed_out = true,
		.legs = {{.src = "10.0.0.7:50100",
			  .dst = "10.96.0.10:53",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "OUTPUT:1",
			  .capture = ST_CAPTURE_DNS,
			  .proto = IPPROTO_UDP}},
		.type = ST_TYPE_AMB_DNS,
		.reason = "answered by ztunnel's DNS proxy",
	},
	{
		.name = "ambient: DNS forwarded by ztunnel",
		.ambient = true,
		.legs = {{.src = "10.0.0.7:50110",
			  .dst = "10.96.0.10:53",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "OUTPUT:1",
			  .capture = ST_CAPTURE_DNS,
			  .proto = IPPROTO_UDP},
			 {.src = "10.0.0.7:50111",
			  .dst = "10.96.0.10:53",
			  .owner = OWN_ZTUNNEL,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:end",
			  .proto = IPPROTO_UDP}},
		.type = ST_TYPE_AMB_DNS,
	},
	{
		.name = "ambient: ztunnel's own connection",
		.ambient = true,
		.legs = {{.src = "10.0.0.7:50120",
			  .dst = "10.0.4.4:15012",
			  .owner = OWN_ZTUNNEL,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:end"}},
		.type = ST_TYPE_AMB_ZTUNNEL,
	},
	{
		.name = "ambient: the app to its own pod address bypasses",
		.ambient = true,
		.legs = {{.src = "10.0.0.7:50130",
			  .dst = "10.0.0.7:9081",
			  .owner = OWN_APP,
			  .out = "lo",
			  .rule = "ISTIO_OUTPUT:10"}},
		.klass = ST_CLASS_BYPASS,
		.reason = "ztunnel does not see it",
	},
	{
		.name = "ambient: a capture then a leg without the mark",
		.ambient = true,
		.legs = {LEG_APP_TO_SVC20,
			 {.src = "10.0.0.7:50140",
			  .dst = "10.0.2.9:8080",
			  .owner = OWN_PROXY,
			  .out = "eth0",
			  .rule = "ISTIO_OUTPUT:end"}},
		.klass = ST_CLASS_UNKNOWN,
		.reason = "form no ambient type",
	},
	{
		.name = "evicted",
		.evicted = true,
		.legs = {{.src = "10.0.0.7:50150",
			  .dst = "10.96.0.20:80",
			  .owner = OWN_APP,
			  .out = "eth0",
			  .rule = "ISTIO_REDIRECT:1",
			  .capture = ST_CAPTURE_OUTBOUND}},
		.klass = ST_CLASS_INCOMPLETE,
		.reason = "evicted",
	},
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
		"ISTIO_REDIRECT", "ISTIO_TPROXY",      "ISTIO_PRERT",
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
		if (s->src != NULL) {
			struct st_match *m = st_rule_add_match(r, ST_M_SRC);

			assert_non_null(m);
			assert_int_equal(st_prefix_parse(&m->addr, s->src), 0);
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
	l->has_uid = s->owner != OWN_NONE;
	l->has_gid = s->owner != OWN_NONE;
	l->uid = s->owner == OWN_APP ? APP : s->owner == OWN_PROXY ? PROXY : 0;
	l->gid = s->owner == OWN_APP ? APP : l->has_gid ? PROXY : 0;
	l->ztunnel = s->owner == OWN_ZTUNNEL;
	l->proxy = (l->has_uid && l->uid == PROXY) ||
		   (l->has_gid && l->gid == PROXY);
	l->passthrough_src = memcmp(l->src, l->family == 4 ? six4 : six6,
				    l->family == 4 ? 4 : 16) == 0;
	l->arriving = s->owner == OWN_NONE;
	st_strlcpy(l->outdev, s->out != NULL ? s->out : "", sizeof(l->outdev));
	if (l->arriving)
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
		if (s->capture == ST_CAPTURE_TUNNEL) {
			/* Not redirected: it reached ztunnel's port. */
			l->redirect_port = l->dport;
		} else if (s->capture != ST_CAPTURE_NONE) {
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
		fx->set.kind = c->ambient ? ST_ISTIO_AMBIENT : ST_ISTIO_SIDECAR;
		f->evicted = c->evicted;
		f->lost_meanwhile = c->lost_meanwhile;
		f->timed_out = c->lost_meanwhile || c->timed_out;
		while (f->nlegs < ST_FLOW_MAX_LEGS &&
		       c->legs[f->nlegs].src != NULL) {
			build_leg(fx, &c->legs[f->nlegs], &f->legs[f->nlegs]);
			f->nlegs++;
		}
		st_class_flow(f, &fx->set);
		if (f->type != c->type || f->klass != c->klass ||
		    (c->reason != NULL && strstr(f->reason, c->reason) == NULL))
			fail_msg("case '%s': got [%d %s] \"%s\", expected "
				 "[%d %s] with \"%s\"",
				 c->name, f->type,
				 st_class_name(f->klass, f->type), f->reason,
				 c->type, st_class_name(c->klass, c->type),
				 c->reason ? c->reason : "");
		assert_int_equal(f->ambient, c->ambient);
		if (f->type != 0 && c->reason == NULL)
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
		"ambient-outbound",
		"ambient-inbound-hbone",
		"ambient-inbound-plain",
		"ambient-local-to-local",
		"ambient-kubelet-probe",
		"ambient-dns",
		"ztunnel-own",
	};

	(void)state;
	assert_int_equal(ST_ARRAY_SIZE(types), ST_TYPE_MAX + 1);
	for (int t = 0; t <= ST_TYPE_MAX; t++) {
		assert_string_equal(st_class_type_name(t), types[t]);
		/* A typed flow's class is its type name. */
		assert_string_equal(st_class_name(ST_CLASS_NONE, t), types[t]);
	}
	assert_string_equal(st_class_type_name(-1), "other");
	assert_string_equal(st_class_type_name(ST_TYPE_MAX + 1), "other");
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
	/* Without an exclusion list Istio's fixed ports 15090 and 15020 count. */
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
