// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_filter.c - pcap-filter expressions on NFLOG records: compile errors,
 * IPv4 and IPv6 packets matched by host, port and TCP flags, and the
 * selection of flows by their legs' first packets.
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

#include "filter.h"

#define SYN 0x02
#define ACK 0x10

/* A record holding a minimal IPv4/IPv6 + TCP/UDP packet. */
static void mkrec(struct st_rec *r, uint64_t seq, const char *src,
		  uint16_t sport, const char *dst, uint16_t dport,
		  uint8_t proto, uint8_t flags)
{
	uint8_t *p = r->payload;
	bool v6 = strchr(src, ':') != NULL;
	size_t l3 = v6 ? 40 : 20;
	size_t l4 = proto == IPPROTO_TCP ? 20 : 8;
	size_t len = l3 + l4;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)(l4 >> 8);
		p[5] = (uint8_t)l4;
		p[6] = proto;
		p[7] = 64;
		assert_int_equal(inet_pton(AF_INET6, src, p + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, p + 24), 1);
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[8] = 64;
		p[9] = proto;
		assert_int_equal(inet_pton(AF_INET, src, p + 12), 1);
		assert_int_equal(inet_pton(AF_INET, dst, p + 16), 1);
	}
	p[l3] = (uint8_t)(sport >> 8);
	p[l3 + 1] = (uint8_t)sport;
	p[l3 + 2] = (uint8_t)(dport >> 8);
	p[l3 + 3] = (uint8_t)dport;
	if (proto == IPPROTO_TCP) {
		p[l3 + 12] = 0x50;
		p[l3 + 13] = flags;
	} else {
		p[l3 + 4] = (uint8_t)(l4 >> 8);
		p[l3 + 5] = (uint8_t)l4;
	}
	r->caplen = (uint32_t)len;
	r->payload_len = (uint32_t)len;
	assert_int_equal(st_rec_decode_l3(r), 0);
	assert_true(r->l4_ok);
}

struct bad_case {
	const char *expr;
	const char *msg; /* in the error text */
};

static const struct bad_case bad_cases[] = {
	{"tcp port", "tcp port"},
	{"port 99999", "port 99999"},
	{"host", "host"},
	{"tcp and and udp", "syntax error"},
	{"ether host 00:11:22:33:44:55", "ether host"}, /* no link layer */
	{"bogusword", "bogusword"},
};

static void test_compile_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(bad_cases); i++) {
		struct st_filter *f = (struct st_filter *)0x1;
		char err[ST_ERRBUF_SIZE] = "";

		assert_int_equal(st_filter_new(&f, bad_cases[i].expr, err),
				 -EINVAL);
		assert_null(f);
		if (strstr(err, "bad filter expression") == NULL ||
		    strstr(err, bad_cases[i].msg) == NULL)
			fail_msg("'%s': unclear message '%s'",
				 bad_cases[i].expr, err);
	}
}

struct match_case {
	const char *expr;
	const char *src;
	uint16_t sport;
	const char *dst;
	uint16_t dport;
	uint8_t proto;
	uint8_t flags;
	bool want;
};

static const struct match_case match_cases[] = {
	{"tcp port 9080", "10.244.1.10", 40000, "10.244.2.20", 9080,
	 IPPROTO_TCP, SYN, true},
	{"tcp port 9080", "10.244.1.10", 40000, "10.244.2.20", 80, IPPROTO_TCP,
	 SYN, false},
	{"udp port 53", "10.244.1.10", 40000, "10.96.0.10", 53, IPPROTO_UDP, 0,
	 true},
	{"tcp port 53", "10.244.1.10", 40000, "10.96.0.10", 53, IPPROTO_UDP, 0,
	 false},
	{"host 10.244.2.20", "10.244.1.10", 1, "10.244.2.20", 2, IPPROTO_TCP,
	 SYN, true},
	{"src host 10.244.2.20", "10.244.1.10", 1, "10.244.2.20", 2,
	 IPPROTO_TCP, SYN, false},
	{"dst net 10.96.0.0/12", "10.244.1.10", 1, "10.96.0.20", 9080,
	 IPPROTO_TCP, SYN, true},
	{"tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0",
	 "10.244.1.10", 1, "10.244.2.20", 2, IPPROTO_TCP, SYN, true},
	{"tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0",
	 "10.244.1.10", 1, "10.244.2.20", 2, IPPROTO_TCP, SYN | ACK, false},
	{"tcp[tcpflags] == tcp-ack", "10.244.1.10", 1, "10.244.2.20", 2,
	 IPPROTO_TCP, ACK, true},
	/* IPv6 over the same DLT_RAW program. */
	{"ip6 and tcp port 9080", "fd00:244::1:10", 40000, "fd00:244::2:20",
	 9080, IPPROTO_TCP, SYN, true},
	{"host fd00:244::2:20", "fd00:244::1:10", 40000, "fd00:244::2:20", 9080,
	 IPPROTO_TCP, SYN, true},
	{"host fd00:244::2:21", "fd00:244::1:10", 40000, "fd00:244::2:20", 9080,
	 IPPROTO_TCP, SYN, false},
	{"src host ::6", "::6", 40000, "fd00:244::1:10", 9080, IPPROTO_TCP, SYN,
	 true},
	{"udp and dst port 53", "fd00:244::1:10", 5353, "fd00:96::10", 53,
	 IPPROTO_UDP, 0, true},
	{"ip", "fd00:244::1:10", 5353, "fd00:96::10", 53, IPPROTO_UDP, 0,
	 false},
	{"ip6", "10.244.1.10", 5353, "10.96.0.10", 53, IPPROTO_UDP, 0, false},
	/* libpcap 1.10: tcp[] offsets only work on IPv4; documented. */
	{"tcp[tcpflags] & tcp-syn != 0", "fd00:244::1:10", 1, "fd00:244::2:20",
	 2, IPPROTO_TCP, SYN, false},
};

static void test_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct st_filter *f = NULL;
		char err[ST_ERRBUF_SIZE] = "";
		struct st_rec r;

		mkrec(&r, 1, c->src, c->sport, c->dst, c->dport, c->proto,
		      c->flags);
		if (st_filter_new(&f, c->expr, err) != 0)
			fail_msg("'%s' does not compile: %s", c->expr, err);
		if (st_filter_match_rec(f, &r) != c->want)
			fail_msg("case %zu: '%s' on %s:%u -> %s:%u: got %d", i,
				 c->expr, c->src, c->sport, c->dst, c->dport,
				 !c->want);
		assert_string_equal(st_filter_expr(f), c->expr);
		st_filter_free(f);
	}
}

static void test_null_and_non_ip(void **state)
{
	struct st_filter *f = NULL;
	char err[ST_ERRBUF_SIZE];
	struct st_rec r;
	struct st_flow flow;

	(void)state;
	mkrec(&r, 1, "10.0.0.1", 1, "10.0.0.2", 2, IPPROTO_TCP, SYN);
	assert_true(st_filter_match_rec(NULL, &r));
	memset(&flow, 0, sizeof(flow));
	assert_true(st_filter_flow(NULL, &flow));
	st_filter_note(NULL, &r);
	st_filter_free(NULL);

	assert_int_equal(st_filter_new(&f, "ip or ip6", err), 0);
	r.family = 0; /* not IP: never matches a filter */
	assert_false(st_filter_match_rec(f, &r));
	assert_false(st_filter_match(f, r.payload, 0, 0));
	st_filter_free(f);
}

static void test_flow_selection(void **state)
{
	struct st_filter *f = NULL;
	struct st_filter_stats st;
	char err[ST_ERRBUF_SIZE];
	struct st_flow flow;
	struct st_rec r;

	(void)state;
	assert_int_equal(st_filter_new(&f, "dst port 9080", err), 0);
	/* Leg 1's first packet: app -> VIP:9080 (matches). */
	mkrec(&r, 10, "10.244.1.10", 40000, "10.96.0.20", 9080, IPPROTO_TCP,
	      SYN);
	st_filter_note(f, &r);
	/* A reply is never a leg's first packet: not evaluated. */
	mkrec(&r, 11, "10.96.0.20", 9080, "10.244.1.10", 40000, IPPROTO_TCP,
	      SYN | ACK);
	st_filter_note(f, &r);
	/* Leg 2's first packet: proxy -> endpoint:80 (does not match). */
	mkrec(&r, 12, "10.244.1.10", 41000, "10.244.2.20", 80, IPPROTO_TCP,
	      SYN);
	st_filter_note(f, &r);

	memset(&flow, 0, sizeof(flow));
	flow.nlegs = 2;
	flow.legs[0].seq = 10;
	flow.legs[1].seq = 12;
	assert_true(st_filter_flow(f, &flow)); /* any leg matched */
	flow.nlegs = 1;
	flow.legs[0].seq = 12;
	assert_false(st_filter_flow(f, &flow));
	/* A verdict overwritten in the ring no longer counts. */
	mkrec(&r, 10 + ST_FILTER_RING, "10.244.1.10", 40001, "10.0.0.1", 1,
	      IPPROTO_UDP, 0);
	st_filter_note(f, &r);
	flow.legs[0].seq = 10;
	assert_false(st_filter_flow(f, &flow));
	st_filter_stats(f, &st);
	assert_int_equal(st.evaluated, 3);
	assert_int_equal(st.matched, 1);
	assert_int_equal(st.selected, 1);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.unknown, 1);
	st_filter_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_null_and_non_ip),
		cmocka_unit_test(test_flow_selection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
