// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_envoymatch.c - flows paired with Envoy's access log: a table of
 * named cases, each a timeline of flows (as the flow table emits them,
 * built by hand and classified) and access-log lines (Istio's TEXT format)
 * on the pipeline's clock, with the flows expected out, in order, and the
 * counters.  Then the compact request of an entry, the pipeline with a
 * matcher, and --write's FILE.envoy.log read back.
 *
 * Flow spec: "[guess|stitched|timed|ownpod]... LEG [| LEG]...", a LEG
 * "KIND SRC>DST" with KIND app (the app's leg captured outbound), direct
 * (the app's leg, not captured), in (an
 * arriving leg captured inbound), proxy (the proxy's leg, not captured),
 * pt (the proxy's leg from the passthrough address 127.0.0.6) or self (the
 * proxy's leg to its own pod, captured inbound).
 * Line spec: "DR DL UL UH [tcp] [rid=ID]" - DOWNSTREAM_REMOTE,
 * DOWNSTREAM_LOCAL, UPSTREAM_LOCAL addresses and UPSTREAM_HOST, "-" for
 * none; a TCP connection's line; the request id.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capwrite.h"
#include "classify.h"
#include "envoylog.h"
#include "envoymatch.h"
#include "pcapout.h"
#include "pipe.h"
#include "testlib.h"

#define POD "10.244.1.10"
#define VIP "10.96.0.20:9080"
#define EP "10.244.2.9:9080"

#define MAX_EV 16
#define MAX_WANT 6

struct tev {
	int64_t at;	  /* ms on the clock */
	const char *flow; /* a flow spec; or */
	const char *line; /* a line spec; or */
	const char *path; /* with @line: the request's path (default "/") */
	bool flush;	  /* else: the clock moves to @at */
};

struct twant {
	int type;
	const char *klass; /* NULL: not checked */
	const char *side;  /* st_flow_side_name() */
	unsigned int legs;
	unsigned int reqs;  /* kept */
	uint64_t total;	    /* matched */
	const char *pooled; /* its source, NULL: none */
	const char *reason; /* a part of it; "": empty; NULL: unchecked */
	int64_t at;	    /* emitted at this clock; -1: unchecked */
};

struct tcase {
	const char *name;
	bool tproxy;
	unsigned int max_flows, max_entries;
	struct tev ev[MAX_EV];
	struct twant want[MAX_WANT];
	struct st_flow_envoy_stats st; /* given is not compared */
};

static const struct tcase cases[] = {
	{
		.name = "outbound pooled: the line names a reused upstream",
		.ev = {{.at = 100,
			.line = POD ":40001 " VIP " " POD ":50000 " EP},
		       {.at = 2000, .flow = "timed app " POD ":40001>" VIP},
		       {.at = 5000}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50000",
			  .reason = "reused its pooled connection " POD
				    ":50000 -> " EP ", opened before",
			  .at = 5000}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "the flow that opened a pooled connection comes later",
		.ev = {{.at = 0,
			.line = POD ":40005 " VIP " " POD ":50005 " EP},
		       {.at = 10, .flow = "timed app " POD ":40005>" VIP},
		       {.at = 20,
			.flow = "stitched app " POD ":40006>" EP " | proxy " POD
				":50005>" EP},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50005",
			  .reason = "opened in flow 2",
			  .at = -1},
			 {.type = 2, .side = "stitched", .legs = 2, .at = -1}},
		.st = {.lines = 1, .matched = 1, .flows_no_line = 1},
	},
	{
		.name = "a line confirms a stitched leg",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40002>" EP " | proxy " POD
				":50002>" EP},
		       {.at = 50,
			.line = POD ":40002 " EP " " POD ":50002 " EP},
		       {.at = 2999},
		       {.at = 3000}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = 3000}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "a line corrects a guess; another claims the leg",
		.ev = {{.at = 0,
			.flow = "guess app " POD ":40003>" VIP " | proxy " POD
				":50003>" EP},
		       {.at = 100,
			.line = POD ":40003 " VIP " " POD ":50006 " EP},
		       {.at = 2000, .flow = "timed app " POD ":40004>" VIP},
		       {.at = 2100,
			.line = POD ":40004 " VIP " " POD ":50003 " EP},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50006",
			  .at = -1},
			 {.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 2, .matched = 2, .absorbed = 1, .split = 1},
	},
	{
		.name = "a line takes a leg guessed for another flow",
		.ev = {{.at = 0,
			.flow = "guess app " POD ":40200>" VIP " | proxy " POD
				":50200>" EP},
		       {.at = 2000, .flow = "timed app " POD ":40201>" VIP},
		       {.at = 2100,
			.line = POD ":40201 " VIP " " POD ":50200 " EP},
		       {.at = 2200,
			.line = POD ":40200 " VIP " " POD ":50201 " EP},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50201",
			  .at = -1},
			 {.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 2, .matched = 2, .absorbed = 1, .split = 1},
	},
	{
		.name = "a proxy-direct leg is absorbed",
		.ev = {{.at = 10, .flow = "proxy " POD ":50010>" EP},
		       {.at = 2000, .flow = "timed app " POD ":40010>" VIP},
		       {.at = 2100,
			.line = POD ":40010 " VIP " " POD ":50010 " EP},
		       {.at = 5100}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = 5100}},
		.st = {.lines = 1, .matched = 1, .absorbed = 1},
	},
	{
		.name = "a proxy-direct leg that comes after its flow",
		.ev = {{.at = 0, .flow = "timed app " POD ":40011>" VIP},
		       {.at = 100,
			.line = POD ":40011 " VIP " " POD ":50011 " EP},
		       {.at = 200, .flow = "proxy " POD ":50011>" EP},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1, .absorbed = 1},
	},
	{
		.name = "upstream host is the pod itself: local-to-local",
		.ev = {{.at = 0, .flow = "timed app " POD ":40020>" VIP},
		       {.at = 10,
			.line = POD ":40020 " VIP " " POD ":50020 " POD
				    ":9080"},
		       {.flush = true}},
		.want = {{.type = 4,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50020",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "upstream host elsewhere: local-to-remote",
		.ev = {{.at = 0, .flow = "timed ownpod app " POD ":40021>" VIP},
		       {.at = 10,
			.line = POD ":40021 " VIP " " POD ":50021 " EP},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50021",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "local-to-local: Envoy's two lines confirm both legs",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40025>10.96.0.25:9080"
				" | self " POD ":50025>" POD ":9080"
				" | pt 127.0.0.6:41025>" POD ":9080"},
		       {.at = 10,
			.line = POD ":40025 10.96.0.25:9080 " POD ":50025 " POD
				    ":9080"},
		       {.at = 11,
			.line = POD ":50025 " POD ":9080 127.0.0.6:41025 " POD
				    ":9080"},
		       {.flush = true}},
		.want = {{.type = 4,
			  .side = "access-log",
			  .legs = 3,
			  .reqs = 2,
			  .total = 2,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 2, .matched = 2},
	},
	{
		.name = "local-to-local through pools: lines go by request id",
		.ev = {{.at = 0,
			.line = POD ":50300 " POD ":9080 127.0.0.6:41300 " POD
				    ":9080 rid=a",
			.path = "/a"},
		       {.at = 1,
			.line = POD ":40300 10.96.0.30:9080 " POD ":50300 " POD
				    ":9080 rid=a",
			.path = "/a"},
		       {.at = 10,
			.line = POD ":50300 " POD ":9080 127.0.0.6:41300 " POD
				    ":9080 rid=b",
			.path = "/b"},
		       {.at = 11,
			.line = POD ":40301 10.96.0.30:9080 " POD ":50300 " POD
				    ":9080 rid=b",
			.path = "/b"},
		       {.at = 2000,
			.flow = "stitched timed app " POD
				":40300>10.96.0.30:9080"
				" | self " POD ":50300>" POD ":9080"},
		       {.at = 2100,
			.flow = "timed app " POD ":40301>10.96.0.30:9080"},
		       {.flush = true}},
		.want = {{.type = 4,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 2,
			  .total = 2,
			  .pooled = "127.0.0.6:41300",
			  .at = -1},
			 {.type = 4,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 2,
			  .total = 2,
			  .pooled = POD ":50300",
			  .reason = "opened in flow 1",
			  .at = -1}},
		.st = {.lines = 4, .matched = 4},
	},
	{
		.name = "an own-pod line waits for its outbound line's id",
		.ev = {{.at = 0,
			.flow = "self " POD ":50310>" POD
				":9080 | pt 127.0.0.6:41310>" POD ":9080"},
		       {.at = 10,
			.line = POD ":50310 " POD ":9080 127.0.0.6:41310 " POD
				    ":9080 rid=b",
			.path = "/b"},
		       {.at = 11,
			.line = POD ":40311 10.96.0.30:9080 " POD ":50310 " POD
				    ":9080 rid=b",
			.path = "/b"},
		       {.at = 2000,
			.flow = "timed app " POD ":40311>10.96.0.30:9080"},
		       {.flush = true}},
		.want = {{.type = 0, .side = "none", .legs = 2, .at = -1},
			 {.type = 4,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 2,
			  .total = 2,
			  .pooled = POD ":50310",
			  .at = -1}},
		.st = {.lines = 2, .matched = 2, .flows_no_line = 1},
	},
	{
		.name = "an own-pod line whose outbound line never came",
		.ev = {{.at = 0,
			.flow = "self " POD ":50320>" POD
				":9080 | pt 127.0.0.6:41320>" POD ":9080"},
		       {.at = 10,
			.line = POD ":50320 " POD ":9080 127.0.0.6:41320 " POD
				    ":9080 rid=c",
			.path = "/c"},
		       {.flush = true}},
		.want = {{.type = 0,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .at = -1}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "the app to its own pod address: its line matches at once",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40330>" POD
				":9080 | self " POD ":50330>" POD ":9080"},
		       {.at = 10,
			.line = POD ":40330 " POD ":9080 " POD ":50330 " POD
				    ":9080 rid=d",
			.path = "/d"},
		       {.at = 3000}},
		.want = {{.type = 0,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .at = 3000}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "inbound REDIRECT: from the passthrough address",
		.ev = {{.at = 0,
			.flow = "timed in 10.244.2.9:33000>" POD ":9080"},
		       {.at = 10,
			.line = "10.244.2.9:33000 " POD
				":9080 127.0.0.6:41000 " POD ":9080"},
		       {.at = 20,
			.flow = "stitched in 10.244.2.9:33001>" POD
				":9080 | pt 127.0.0.6:41001>" POD ":9080"},
		       {.at = 30,
			.line = "10.244.2.9:33001 " POD
				":9080 127.0.0.6:41001 " POD ":9080"},
		       {.flush = true}},
		.want = {{.type = 1,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = "127.0.0.6:41000",
			  .at = -1},
			 {.type = 1,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 2, .matched = 2},
	},
	{
		.name = "inbound TPROXY: from the client's address",
		.tproxy = true,
		.ev = {{.at = 0, .flow = "proxy 10.244.2.9:45000>" POD ":9080"},
		       {.at = 1,
			.flow = "timed in 10.244.2.9:33010>" POD ":9080"},
		       {.at = 10,
			.line = "10.244.2.9:33010 " POD
				":9080 10.244.2.9:45000 " POD ":9080"},
		       {.flush = true}},
		.want = {{.type = 1,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1, .absorbed = 1},
	},
	{
		.name = "several requests on one downstream connection",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40030>" EP " | proxy " POD
				":50030>" EP},
		       {.at = 10,
			.line = POD ":40030 " EP " " POD ":50030 " EP,
			.path = "/1"},
		       {.at = 20,
			.line = POD ":40030 " EP " " POD ":50030 " EP,
			.path = "/2"},
		       {.at = 30,
			.line = POD ":40030 " EP " " POD ":50031 " EP,
			.path = "/3"},
		       {.at = 40,
			.line = POD ":40030 " EP " " POD ":50030 " EP,
			.path = "/4"},
		       {.at = 50,
			.line = POD ":40030 " EP " " POD ":50030 " EP,
			.path = "/5"},
		       {.at = 60,
			.line = POD ":40030 " EP " " POD ":50030 " EP,
			.path = "/6"},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 4,
			  .total = 6,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 6, .matched = 6},
	},
	{
		.name = "a TCP connection's line",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40040>10.96.0.40:5432"
				" | proxy " POD ":50040>10.244.3.3:5432"},
		       {.at = 1000,
			.line = POD ":40040 10.96.0.40:5432 " POD
				    ":50040 10.244.3.3:5432 tcp"},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "a TCP line read before its flow's first leg",
		.ev = {{.at = 0,
			.line = POD ":40045 10.96.0.40:5432 " POD
				    ":50045 10.244.3.3:5432 tcp"},
		       {.at = 510,
			.flow = "stitched app " POD ":40045>10.96.0.40:5432"
				" | proxy " POD ":50045>10.244.3.3:5432"},
		       {.at = 3000},
		       {.flush = true}},
		.want = {{.type = 2,
			  .side = "access-log",
			  .legs = 2,
			  .reqs = 1,
			  .total = 1,
			  .reason = "",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1},
	},
	{
		.name = "a line past the bound before its flow",
		.ev = {{.at = 0,
			.line = POD ":40050 " VIP " " POD ":50050 " EP},
		       {.at = 3500, .flow = "timed app " POD ":40050>" VIP},
		       {.at = 6500}},
		.want = {{.type = 2,
			  .side = "reused",
			  .legs = 1,
			  .reason = "no access-log line within 3000 ms",
			  .at = 6500}},
		.st = {.lines = 1, .no_leg = 1, .flows_no_line = 1},
	},
	{
		.name = "a line with no traced leg",
		.ev = {{.at = 0,
			.line = POD ":40060 " VIP " " POD ":50060 " EP},
		       {.at = 2999},
		       {.at = 3000}},
		.st = {.lines = 1, .no_leg = 1},
	},
	{
		.name = "the bound passes: a stitched flow says nothing",
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40070>" EP " | proxy " POD
				":50070>" EP},
		       {.at = 100, .flow = "proxy " POD ":50071>" EP},
		       {.at = 3000},
		       {.at = 3100}},
		.want = {{.type = 2,
			  .side = "stitched",
			  .legs = 2,
			  .reason = "",
			  .at = 3000},
			 {.type = 0,
			  .klass = "proxy-direct",
			  .side = "none",
			  .legs = 1,
			  .at = 3100}},
		.st = {.flows_no_line = 1},
	},
	{
		.name = "a flow with no Envoy side passes at once",
		.ev = {{.at = 7, .flow = "direct " POD ":40080>10.244.5.5:22"},
		       {.flush = true}},
		.want = {{.type = 0,
			  .klass = "bypass",
			  .side = "none",
			  .legs = 1,
			  .at = 7}},
	},
	{
		.name = "pools full: the oldest is released and counted",
		.max_flows = 2,
		.max_entries = 2,
		.ev = {{.at = 0,
			.flow = "stitched app " POD ":40090>" EP " | proxy " POD
				":50090>" EP},
		       {.at = 1,
			.flow = "stitched app " POD ":40091>" EP " | proxy " POD
				":50091>" EP},
		       {.at = 2,
			.flow = "stitched app " POD ":40092>" EP " | proxy " POD
				":50092>" EP},
		       {.at = 3,
			.line = POD ":41000 " VIP " " POD ":51000 " EP},
		       {.at = 4,
			.line = POD ":41001 " VIP " " POD ":51001 " EP},
		       {.at = 5,
			.line = POD ":41002 " VIP " " POD ":51002 " EP},
		       {.flush = true}},
		.want = {{.type = 2, .side = "stitched", .legs = 2, .at = 2},
			 {.type = 2, .side = "stitched", .legs = 2, .at = -1},
			 {.type = 2, .side = "stitched", .legs = 2, .at = -1}},
		.st = {.lines = 3,
		       .no_leg = 3,
		       .flows_no_line = 3,
		       .dropped = 2},
	},
	{
		.name = "pool full: a leg moved out goes on at once",
		.max_flows = 1,
		.ev = {{.at = 0,
			.flow = "guess app " POD ":40110>" VIP " | proxy " POD
				":50110>" EP},
		       {.at = 100,
			.line = POD ":40110 " VIP " " POD ":50111 " EP},
		       {.flush = true}},
		.want = {{.type = 0,
			  .klass = "proxy-direct",
			  .side = "none",
			  .legs = 1,
			  .at = 100},
			 {.type = 2,
			  .side = "access-log",
			  .legs = 1,
			  .reqs = 1,
			  .total = 1,
			  .pooled = POD ":50111",
			  .at = -1}},
		.st = {.lines = 1, .matched = 1, .split = 1, .dropped = 1},
	},
	{
		.name = "no DOWNSTREAM_REMOTE_ADDRESS: counted, never guessed",
		.ev = {{.at = 0, .flow = "timed app " POD ":40100>" VIP},
		       {.at = 10, .line = "- " VIP " " POD ":50100 " EP},
		       {.flush = true}},
		.want = {{.type = 2, .side = "reused", .legs = 1, .at = -1}},
		.st = {.lines = 1, .no_address = 1, .flows_no_line = 1},
	},
};

/* ---- building flows and lines ------------------------------------------ */

static struct st_istio_settings settings(bool tproxy)
{
	struct st_istio_settings set;

	memset(&set, 0, sizeof(set));
	set.kind = ST_ISTIO_SIDECAR;
	set.mode = tproxy ? ST_MODE_TPROXY : ST_MODE_REDIRECT;
	set.nproxy_uids = 1;
	set.proxy_uids[0] = 1337;
	set.outbound_port = 15001;
	set.inbound_port = 15006;
	return set;
}

static void leg_addr(const char *s, size_t n, uint8_t *family, uint8_t *addr,
		     uint16_t *port)
{
	struct st_envoy_addr a;

	assert_int_equal(st_envoy_addr_parse(s, n, &a), 0);
	*family = a.family;
	*port = a.port;
	memcpy(addr, a.addr, 16);
}

/* One "KIND SRC>DST" into @l. */
static void parse_leg(const char *kind, const char *addrs,
		      struct st_flow_leg *l)
{
	const char *gt = strchr(addrs, '>');
	uint8_t fam2;

	assert_non_null(gt);
	memset(l, 0, sizeof(*l));
	l->proto = IPPROTO_TCP;
	l->redirect_hop = -1;
	l->decision_hop = -1;
	l->packets = 1;
	leg_addr(addrs, (size_t)(gt - addrs), &l->family, l->src, &l->sport);
	leg_addr(gt + 1, strlen(gt + 1), &fam2, l->dst, &l->dport);
	l->has_uid = true;
	l->uid = 1000;
	if (strcmp(kind, "direct") == 0) {
		/* the app's leg, not captured */
	} else if (strcmp(kind, "app") == 0) {
		l->capture = ST_CAPTURE_OUTBOUND;
		l->redirect_port = 15001;
	} else if (strcmp(kind, "in") == 0) {
		l->capture = ST_CAPTURE_INBOUND;
		l->redirect_port = 15006;
		l->arriving = true;
		l->has_uid = false;
	} else if (strcmp(kind, "proxy") == 0 || strcmp(kind, "pt") == 0 ||
		   strcmp(kind, "self") == 0) {
		l->uid = 1337;
		l->proxy = true;
		l->passthrough_src = strcmp(kind, "pt") == 0;
		if (strcmp(kind, "self") == 0) {
			l->capture = ST_CAPTURE_INBOUND;
			l->redirect_port = 15006;
			l->own_pod = true;
		}
	} else {
		fail_msg("bad leg kind %s", kind);
	}
}

static void build_flow(const char *spec, const struct st_istio_settings *set,
		       uint64_t id, struct st_flow *f)
{
	char buf[512];
	char *save = NULL;
	char *tok;
	bool own = false;

	memset(f, 0, sizeof(*f));
	f->id = id;
	st_strlcpy(buf, spec, sizeof(buf));
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strcmp(tok, "guess") == 0) {
			f->side = ST_SIDE_GUESS;
			f->fits = 2;
		} else if (strcmp(tok, "stitched") == 0) {
			f->side = ST_SIDE_STITCHED;
		} else if (strcmp(tok, "timed") == 0) {
			f->timed_out = true;
		} else if (strcmp(tok, "ownpod") == 0) {
			own = true;
		} else if (strcmp(tok, "|") != 0) {
			char *addrs = strtok_r(NULL, " ", &save);

			assert_non_null(addrs);
			assert_true(f->nlegs < ST_FLOW_MAX_LEGS);
			parse_leg(tok, addrs, &f->legs[f->nlegs++]);
		}
	}
	f->pooled.own_pod = own;
	st_class_flow(f, set);
}

/* One TEXT line of Istio's format from a line spec. */
static void build_line(const char *spec, const char *path,
		       struct st_envoy_req *req)
{
	char dr[64], dl[64], ul[64], uh[64], x1[48] = "", x2[48] = "";
	char rid[48] = "-";
	char line[1024];
	int n = sscanf(spec, "%63s %63s %63s %63s %47s %47s", dr, dl, ul, uh,
		       x1, x2);
	bool tcp = strcmp(x1, "tcp") == 0 || strcmp(x2, "tcp") == 0;

	assert_true(n >= 4);
	if (strncmp(x1, "rid=", 4) == 0)
		st_strlcpy(rid, x1 + 4, sizeof(rid));
	if (strncmp(x2, "rid=", 4) == 0)
		st_strlcpy(rid, x2 + 4, sizeof(rid));
	if (tcp)
		snprintf(line, sizeof(line),
			 "[2024-03-21T10:00:00.000Z] \"- - -\" 0 - - - \"-\" "
			 "10 20 1002 - \"-\" \"-\" \"-\" \"-\" \"%s\" "
			 "outbound|5432||db.default.svc.cluster.local %s %s "
			 "%s - -",
			 uh, ul, dl, dr);
	else
		snprintf(line, sizeof(line),
			 "[2024-03-21T10:00:00.000Z] \"GET %s HTTP/1.1\" 200 - "
			 "via_upstream - \"-\" 0 10 12 11 \"-\" \"curl/8.5.0\" "
			 "\"%s\" \"web:9080\" \"%s\" "
			 "outbound|9080||web.default.svc.cluster.local %s %s "
			 "%s - default",
			 path != NULL ? path : "/", rid, uh, ul, dl, dr);
	assert_true(st_envoylog_parse(line, strlen(line), req) > 0);
}

/* ---- the matcher, case by case ----------------------------------------- */

struct trun {
	const struct tcase *c;
	unsigned int nout;
	int64_t now;
};

static int t_emit(void *data, const struct st_flow *f)
{
	struct trun *r = data;
	const struct twant *w = NULL;
	char pooled[ST_FLOW_ADDR_SIZE];

	if (r->nout >= MAX_WANT || r->c->want[r->nout].side == NULL)
		fail_msg("%s: flow %u more than expected (type %d, %s)",
			 r->c->name, r->nout + 1, f->type, f->reason);
	w = &r->c->want[r->nout++];
	if (f->type != w->type ||
	    strcmp(st_flow_side_name(f->side), w->side) != 0 ||
	    f->nlegs != w->legs)
		fail_msg("%s: flow %u: type %d side %s legs %u (%s); expected "
			 "type %d side %s legs %u",
			 r->c->name, r->nout, f->type,
			 st_flow_side_name(f->side), f->nlegs, f->reason,
			 w->type, w->side, w->legs);
	if (w->klass != NULL)
		assert_string_equal(st_class_name(f->klass, f->type), w->klass);
	assert_int_equal(f->reqs != NULL ? f->reqs->n : 0, w->reqs);
	assert_int_equal(f->reqs != NULL ? f->reqs->total : 0, w->total);
	if (w->pooled != NULL) {
		assert_int_not_equal(f->pooled.family, 0);
		st_flow_addr_format(f->pooled.family, f->pooled.src,
				    f->pooled.sport, pooled, sizeof(pooled));
		assert_string_equal(pooled, w->pooled);
	} else if (f->side == ST_SIDE_ACCESS_LOG) {
		assert_int_equal(f->pooled.family, 0);
	}
	if (w->reason != NULL && w->reason[0] == '\0' && f->reason[0] != '\0')
		fail_msg("%s: flow %u: reason '%s', expected none", r->c->name,
			 r->nout, f->reason);
	if (w->reason != NULL && strstr(f->reason, w->reason) == NULL)
		fail_msg("%s: flow %u: reason '%s' lacks '%s'", r->c->name,
			 r->nout, f->reason, w->reason);
	if (w->at >= 0 && r->now != w->at)
		fail_msg("%s: flow %u out at %lld ms, expected %lld",
			 r->c->name, r->nout, (long long)r->now,
			 (long long)w->at);
	return ST_CB_OK;
}

static struct timespec ms_ts(int64_t ms)
{
	struct timespec ts = {.tv_sec = 1700000000 + ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	return ts;
}

static void run_case(const struct tcase *c)
{
	struct st_istio_settings set = settings(c->tproxy);
	struct st_envoymatch_opts o = {
		.set = &set,
		.max_flows = c->max_flows,
		.max_entries = c->max_entries,
	};
	struct trun r = {.c = c};
	struct st_envoymatch *m = NULL;
	struct st_flow_envoy_stats st;
	struct st_envoy_req req;
	struct st_flow f;
	char err[ST_ERRBUF_SIZE];
	uint64_t id = 0;

	assert_int_equal(st_envoymatch_new(&m, &o, t_emit, &r, err), 0);
	for (unsigned int i = 0; i < MAX_EV; i++) {
		const struct tev *e = &c->ev[i];
		struct timespec ts = ms_ts(e->at);

		if (e->flow == NULL && e->line == NULL && !e->flush &&
		    e->at == 0 && i > 0)
			break;
		if (e->flush) {
			assert_int_equal(st_envoymatch_flush(m), ST_CB_OK);
			break;
		}
		r.now = e->at;
		if (e->flow != NULL) {
			build_flow(e->flow, &set, ++id, &f);
			assert_int_equal(st_envoymatch_flow(m, &f, &ts),
					 ST_CB_OK);
		} else if (e->line != NULL) {
			build_line(e->line, e->path, &req);
			assert_int_equal(st_envoymatch_entry(m, &req, &ts),
					 ST_CB_OK);
		} else {
			assert_int_equal(st_envoymatch_time(m, &ts), ST_CB_OK);
		}
	}
	if (r.nout < MAX_WANT && c->want[r.nout].side != NULL)
		fail_msg("%s: %u flows out, expected more", c->name, r.nout);
	st_envoymatch_stats(m, &st);
	assert_true(st.given);
	st.given = false;
	if (memcmp(&st, &c->st, sizeof(st)) != 0)
		fail_msg("%s: counters lines %llu matched %llu no_leg %llu "
			 "no_address %llu no_line %llu absorbed %llu split "
			 "%llu dropped %llu",
			 c->name, (unsigned long long)st.lines,
			 (unsigned long long)st.matched,
			 (unsigned long long)st.no_leg,
			 (unsigned long long)st.no_address,
			 (unsigned long long)st.flows_no_line,
			 (unsigned long long)st.absorbed,
			 (unsigned long long)st.split,
			 (unsigned long long)st.dropped);
	st_envoymatch_free(m);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
}

/* ---- the compact request ----------------------------------------------- */

static void test_req(void **state)
{
	static const char line[] =
		"[2024-03-21T10:00:00.000Z] \"POST /a/very/long/path/that/goes/"
		"on/and/on/and/on/past/what/a/flow/keeps/of/it/0123456789/"
		"0123456789/0123456789 HTTP/2\" 503 UF,URX upstream_reset - "
		"\"-\" 0 10 7 - \"-\" \"curl\" \"-\" \"r\xc3\xa9views:9080\" "
		"\"10.244.2.9:9080\" outbound|9080||reviews 10.244.1.10:5 "
		"10.96.0.1:9080 10.244.1.10:4 - default";
	struct st_envoy_req req;
	struct st_flow_req q;

	(void)state;
	assert_true(st_envoylog_parse(line, strlen(line), &req) > 0);
	st_envoymatch_req(&req, &q);
	assert_false(q.tcp);
	assert_true(q.has_code);
	assert_int_equal(q.code, 503);
	assert_string_equal(q.method, "POST");
	assert_string_equal(q.flags, "UF,URX");
	assert_string_equal(q.authority, "r??views:9080");
	assert_string_equal(q.cluster, "outbound|9080||reviews");
	assert_int_equal(strlen(q.path), ST_FLOW_REQ_PATH_SIZE - 1);
	assert_string_equal(q.path + ST_FLOW_REQ_PATH_SIZE - 4, "...");
	assert_true(q.has_duration);
	assert_int_equal(q.duration_ms, 7);
	assert_int_equal(q.host_family, 4);
	assert_int_equal(q.host_port, 9080);
}

/* ---- through the pipeline ---------------------------------------------- */

struct tsink {
	unsigned int flows;
	unsigned int entries;
	unsigned int reqs;
};

static int ts_flow(void *data, const struct st_flow *f,
		   const struct st_sink_notes *notes)
{
	struct tsink *t = data;

	(void)notes;
	t->flows++;
	t->reqs += f->reqs != NULL ? f->reqs->n : 0;
	return 0;
}

static int ts_envoy(void *data, const struct st_envoy_req *req, char *err)
{
	struct tsink *t = data;

	(void)req;
	(void)err;
	t->entries++;
	return 0;
}

static const struct st_sink_ops ts_ops = {
	.flow = ts_flow,
	.envoy = ts_envoy,
};

/* Without envoy_log the pipeline passes entries to sinks and matches none. */
static void test_pipe(void **state)
{
	struct st_pipe_opts po;
	struct st_pipe *p = NULL;
	struct st_flow_stats st;
	struct st_envoy_req req;
	struct tsink t = {0};
	char err[ST_ERRBUF_SIZE];

	(void)state;
	memset(&po, 0, sizeof(po));
	assert_int_equal(st_pipe_new(&p, &po, err), 0);
	assert_int_equal(st_pipe_add_sink(p, &ts_ops, &t), 0);
	build_line(POD ":1 " VIP " " POD ":2 " EP, NULL, &req);
	assert_int_equal(st_pipe_envoy(p, &req, err), ST_CB_OK);
	st_pipe_stats(p, &st);
	assert_false(st.envoy.given);
	assert_int_equal(t.entries, 1);
	st_pipe_free(p);

	/* With it (flows made elsewhere pass the matcher by). */
	memset(&t, 0, sizeof(t));
	po.envoy_log = true;
	po.envoy_wait_ms = 50;
	assert_int_equal(st_pipe_new(&p, &po, err), 0);
	assert_int_equal(st_pipe_add_sink(p, &ts_ops, &t), 0);
	assert_int_equal(st_pipe_envoy(p, &req, err), ST_CB_OK);
	assert_int_equal(st_pipe_flush(p, err), ST_CB_OK);
	st_pipe_stats(p, &st);
	assert_true(st.envoy.given);
	assert_int_equal(st.envoy.lines, 1);
	assert_int_equal(st.envoy.no_leg, 1);
	assert_int_equal(t.entries, 1);
	st_pipe_free(p);
}

/* ---- --write's FILE.envoy.log read back --------------------------------- */

struct tread {
	char text[4][1024];
	unsigned int n;
};

static int tr_entry(void *data, const struct st_envoy_req *req)
{
	struct tread *t = data;

	if (t->n < 4)
		st_envoy_req_format(req, t->text[t->n++], sizeof(t->text[0]));
	return ST_CB_OK;
}

static void test_write_read_back(void **state)
{
	static const char *const lines[] = {
		"2024-03-21T10:00:01.000000001Z stdout F [2024-03-21T10:00:01.000Z] "
		"\"GET /01?q=x HTTP/1.1\" 200 - via_upstream - \"-\" 0 "
		"10 1 1 \"-\" \"curl/8.5.0\" \"-\" \"web:80\" "
		"\"10.244.1.10:80\" outbound|80||web.default.svc.cluster.local "
		"10.244.2.20:48000 10.96.0.10:80 10.244.2.20:43000 - default\n",
		"2024-03-21T10:00:02.000000000Z stdout F [2024-03-21T10:00:02.000Z] "
		"\"- - -\" 0 - - - \"-\" 10 20 1002 - \"-\" \"-\" \"-\" \"-\" "
		"\"[fd00::30]:5432\" outbound|5432||db [fd00::5]:55000 "
		"[fd00:10:96::40]:5432 [fd00::5]:41000 - -\n",
	};
	struct tread before = {0}, after = {0};
	struct st_envoylog_opts lo = {.fn = tr_entry};
	struct st_envoylog *l = NULL;
	struct st_capwrite *w = NULL;
	char dir[] = "/tmp/st-envoymatch-XXXXXX";
	char cap[128], side[160], err[ST_ERRBUF_SIZE];
	const struct st_sink_ops *ops = st_capwrite_ops();
	struct tread *sink = &before;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cap, sizeof(cap), "%s/c.pcap", dir);
	snprintf(side, sizeof(side), "%s.envoy.log", cap);
	assert_int_equal(st_capwrite_open(&w, cap, NULL, err), 0);
	assert_int_equal(st_capwrite_keep_envoy(w, cap, err), 0);
	assert_int_equal(st_capwrite_keep_envoy(w, cap, err), -EEXIST);
	/* What the trace read, handed to the sink as it was read. */
	lo.data = sink;
	assert_int_equal(st_envoylog_new(&l, &lo, err), 0);
	for (size_t i = 0; i < ST_ARRAY_SIZE(lines); i++)
		assert_int_equal(
			st_envoylog_feed(l, lines[i], strlen(lines[i]), err),
			ST_CB_OK);
	st_envoylog_free(l);
	assert_int_equal(before.n, 2);
	for (size_t i = 0; i < ST_ARRAY_SIZE(lines); i++) {
		struct st_envoy_req req;
		const char *text = strstr(lines[i], " F ") + 3;
		struct timespec t;

		assert_true(st_envoylog_parse(text, strlen(text) - 1, &req) >
			    0);
		assert_int_equal(st_envoy_time_parse(lines[i], 30, &t), 0);
		req.logged = t;
		assert_int_equal(ops->envoy(w, &req, err), 0);
	}
	assert_int_equal(st_capwrite_close(w, err), 0);
	/* Read back as a replay reads it. */
	lo.path = side;
	lo.data = &after;
	assert_int_equal(st_envoylog_new(&l, &lo, err), 0);
	assert_int_equal(st_envoylog_poll(l, err), ST_CB_OK);
	assert_int_equal(st_envoylog_finish(l, err), ST_CB_OK);
	st_envoylog_free(l);
	assert_int_equal(after.n, 2);
	for (unsigned int i = 0; i < 2; i++)
		assert_string_equal(after.text[i], before.text[i]);
	unlink(side);
	unlink(cap);
	snprintf(side, sizeof(side), "%s.meta.json", cap);
	unlink(side);
	rmdir(dir);
}

/* ---- the CLI sample: a pooled request in a synthetic capture ----------- */

#define SAMPLE_DIR ST_SAMPLES "/envoymatch/in"
#define SAMPLE SAMPLE_DIR "/pooled.pcap"
#define SAMPLE_RULES \
	ST_SAMPLES "/rules/istio-1.17_redirect_default_legacy.rules"

/* The walks of the legacy 1.17 rules: an app's leg, the proxy's leg. */
static const char *const walk_app[] = {
	"e:nat:OUTPUT:0",	  "h:nat:OUTPUT:1",
	"e:nat:ISTIO_OUTPUT:0",	  "h:nat:ISTIO_OUTPUT:9",
	"e:nat:ISTIO_REDIRECT:0", "h:nat:ISTIO_REDIRECT:1",
	">127.0.0.1:15001",	  "e:nat:POSTROUTING:0",
	"p:nat:POSTROUTING:0",	  NULL,
};
static const char *const walk_proxy[] = {
	"e:nat:OUTPUT:0",	"h:nat:OUTPUT:1",
	"e:nat:ISTIO_OUTPUT:0", "h:nat:ISTIO_OUTPUT:4",
	"p:nat:OUTPUT:0",	"e:nat:POSTROUTING:0",
	"p:nat:POSTROUTING:0",	NULL,
};

/*
 * The capture: A, the app's request, stitched exactly to U, the proxy's
 * new upstream connection; B, the app's next request one second later,
 * carried on U (pooled: no new leg); X, a connection of the proxy's uid
 * elsewhere.  The access log beside it says which is which.
 */
static const struct sample_leg {
	int64_t at_ms;
	const char *src, *dst;
	uint32_t uid;
	const char *const *walk;
} sample_legs[] = {
	{0, POD ":52000", EP, 1000, walk_app},
	{1, POD ":52010", EP, 1337, walk_proxy},
	{1000, POD ":52020", EP, 1000, walk_app},
	{4000, POD ":52030", "10.244.3.3:7070", 1337, walk_proxy},
};

static void sample_rec(struct st_rec *r, uint64_t seq, int64_t us,
		       const struct sample_leg *l, const char *hop,
		       const char *dst)
{
	uint8_t *p = r->payload;
	uint8_t fam;
	uint8_t a[16];
	uint16_t port, be;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ts.tv_sec = 1700000000 + us / 1000000;
	r->ts.tv_nsec = (long)(us % 1000000) * 1000;
	r->ts_kernel = true;
	r->group = 5300;
	r->hook = strstr(hop, "POSTROUTING") != NULL ? 4 : 3;
	snprintf(r->prefix, sizeof(r->prefix), "st:00000001:%s", hop);
	assert_int_equal(st_tag_parse(r->prefix, &r->hit), 0);
	r->has_uid = r->has_gid = true;
	r->uid = r->gid = l->uid;
	r->outdev = 2;
	st_strlcpy(r->outdev_name, "eth0", sizeof(r->outdev_name));
	p[0] = 0x45;
	p[3] = 40;
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	leg_addr(l->src, strlen(l->src), &fam, a, &port);
	memcpy(p + 12, a, 4);
	be = htons(port);
	memcpy(p + 20, &be, 2);
	leg_addr(dst, strlen(dst), &fam, a, &port);
	memcpy(p + 16, a, 4);
	be = htons(port);
	memcpy(p + 22, &be, 2);
	p[32] = 5 << 4;
	p[33] = 0x02; /* SYN */
	r->caplen = r->payload_len = 40;
	assert_int_equal(st_rec_decode_l3(r), 0);
}

static void write_sample(const char *path, bool side)
{
	static char text[65536];
	static const struct st_pcapout_meta meta = {
		.backend = "iptables-legacy",
		.session = 1,
		.group = 5300,
		.netns = "/var/run/netns/productpage",
		.start = {1700000000, 0},
		.ifs = {{1, "lo"}, {2, "eth0"}},
		.nifs = 2,
	};
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	struct st_rec rec;
	uint64_t seq = 0;
	size_t len;

	assert_int_equal(st_pcapout_open(&o, path, ST_PCAPOUT_OVERWRITE, err),
			 0);
	if (side) {
		len = tl_read_into(SAMPLE_RULES, text, sizeof(text));
		assert_int_equal(st_pcapout_write_rules(o, 4, text, len, err),
				 0);
		assert_int_equal(st_pcapout_set_meta(o, &meta, err), 0);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(sample_legs); i++) {
		const struct sample_leg *l = &sample_legs[i];
		const char *dst = l->dst;
		int64_t us = l->at_ms * 1000;

		for (const char *const *h = l->walk; *h != NULL; h++) {
			if ((*h)[0] == '>') {
				dst = *h + 1;
				continue;
			}
			sample_rec(&rec, ++seq, us, l, *h, dst);
			us += 10;
			assert_int_equal(st_pcapout_write(o, &rec, err), 0);
		}
	}
	assert_int_equal(st_pcapout_close(o, err), 0);
}

/*
 * samples/envoymatch/in/pooled.pcap as this writes it (ST_REGEN=1 writes
 * it and its side files); tests/cli/envoymatch_golden.sh replays it with
 * pooled.pcap.envoy.log.
 */
static void test_sample(void **state)
{
	char path[256];
	char *a, *b;
	size_t na, nb;

	(void)state;
	assert_int_equal(tl_tmpdir_make("st-envoymatch"), 0);
	tl_tmp_path(path, sizeof(path), "pooled.pcap");
	write_sample(path, false);
	if (tl_regen())
		write_sample(SAMPLE, true);
	a = tl_read_file(path, &na);
	b = tl_read_file(SAMPLE, &nb);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	tl_tmpdir_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_req),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_write_read_back),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
