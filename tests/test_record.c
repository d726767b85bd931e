// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_record.c - the NFLOG tag format/parser and the IP/TCP/UDP decoder,
 * on tables of good, bad and hostile inputs.
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

#include "record.h"

/* ---- tags ---------------------------------------------------------- */

struct fmt_case {
	enum st_hit_kind kind;
	const char *table;
	const char *chain;
	unsigned int rule;
	uint32_t session;
	int ret;
	const char *want; /* when ret == 0 */
};

#define CHAIN28 "ISTIO_A_VERY_LONG_CHAIN_NAME" /* 28: iptables' maximum */

static const struct fmt_case fmt_cases[] = {
	{ST_HIT_RULE, "nat", "ISTIO_OUTPUT", 9, 0x0a1b2c3d, 0,
	 "st:0a1b2c3d:h:nat:ISTIO_OUTPUT:9"},
	{ST_HIT_ENTER, "nat", "ISTIO_INBOUND", 0, 1, 0,
	 "st:00000001:e:nat:ISTIO_INBOUND:0"},
	{ST_HIT_POLICY, "nat", "OUTPUT", 0, 0xffffffff, 0,
	 "st:ffffffff:p:nat:OUTPUT:0"},
	{ST_HIT_RETURN, "mangle", "ISTIO_DIVERT", 3, 0, 0,
	 "st:00000000:r:mangle:ISTIO_DIVERT:3"},
	{ST_HIT_RULE, "istio-proxy-nat", "istio-output", 12, 0xdeadbeef, 0,
	 "st:deadbeef:h:istio-proxy-nat:istio-output:12"},
	/* Chains may contain ':'; the table may not. */
	{ST_HIT_RULE, "filter", "a:b", 1, 2, 0, "st:00000002:h:filter:a:b:1"},
	/* Exactly 63 characters fits. */
	{ST_HIT_RULE, "istio-proxy-nat", CHAIN28, 9999, 0, 0,
	 "st:00000000:h:istio-proxy-nat:" CHAIN28 ":9999"},
	/* 64 does not. */
	{ST_HIT_RULE, "istio-proxy-nat", CHAIN28, 10000, 0, -ENAMETOOLONG,
	 NULL},
	{ST_HIT_RULE, "istio-proxy-mangle", CHAIN28, 4294967295u, 0,
	 -ENAMETOOLONG, NULL},
	{ST_HIT_NONE, "nat", "OUTPUT", 1, 0, -EINVAL, NULL},
	{(enum st_hit_kind)42, "nat", "OUTPUT", 1, 0, -EINVAL, NULL},
	{ST_HIT_RULE, "", "OUTPUT", 1, 0, -EINVAL, NULL},
	{ST_HIT_RULE, "nat", "", 1, 0, -EINVAL, NULL},
	{ST_HIT_RULE, "n:t", "OUTPUT", 1, 0, -EINVAL, NULL},
	{ST_HIT_RULE, "nat", "OUT\nPUT", 1, 0, -EINVAL, NULL},
	{ST_HIT_RULE, "nat", "OUT\x7fPUT", 1, 0, -EINVAL, NULL},
};

static void fill_hit(struct st_hit *h, enum st_hit_kind kind, const char *table,
		     const char *chain, unsigned int rule, uint32_t session)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	st_strlcpy(h->table, table, sizeof(h->table));
	st_strlcpy(h->chain, chain, sizeof(h->chain));
	h->rule = rule;
	h->session = session;
}

static void test_tag_format(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(fmt_cases); i++) {
		const struct fmt_case *c = &fmt_cases[i];
		char buf[ST_NFLOG_PREFIX_SIZE];
		struct st_hit h, back;

		fill_hit(&h, c->kind, c->table, c->chain, c->rule, c->session);
		memset(buf, 'X', sizeof(buf));
		print_message("format case %zu: %s/%s\n", i, c->table,
			      c->chain);
		assert_int_equal(st_tag_format(buf, &h), c->ret);
		if (c->ret != 0) {
			assert_string_equal(buf, "");
			continue;
		}
		assert_string_equal(buf, c->want);
		assert_true(strlen(buf) <= ST_NFLOG_PREFIX_SIZE - 1);
		/* Whatever we write, we read back. */
		assert_int_equal(st_tag_parse(buf, &back), 0);
		assert_int_equal(back.kind, h.kind);
		assert_string_equal(back.table, h.table);
		assert_string_equal(back.chain, h.chain);
		assert_int_equal(back.rule, h.rule);
		assert_int_equal(back.session, h.session);
		assert_int_equal(back.family, 0);
		assert_false(back.trace);
	}
}

static void test_tag_format_unterminated(void **state)
{
	char buf[ST_NFLOG_PREFIX_SIZE];
	struct st_hit h;

	(void)state;
	fill_hit(&h, ST_HIT_RULE, "nat", "OUTPUT", 1, 0);
	memset(h.table, 'a', sizeof(h.table)); /* no NUL in the field */
	assert_int_equal(st_tag_format(buf, &h), -EINVAL);
	fill_hit(&h, ST_HIT_RULE, "nat", "OUTPUT", 1, 0);
	memset(h.chain, 'a', sizeof(h.chain));
	assert_int_equal(st_tag_format(buf, &h), -EINVAL);
	assert_int_equal(st_tag_format(NULL, &h), -EINVAL);
	assert_int_equal(st_tag_format(buf, NULL), -EINVAL);
}

struct parse_case {
	const char *prefix;
	int ret;
	enum st_hit_kind kind;
	const char *table;
	const char *chain;
	unsigned int rule;
	uint32_t session;
	bool trace;
};

#define BAD(p)                                \
	{                                     \
		.prefix = (p), .ret = -EINVAL \
	}
#define FOREIGN(p)                      \
	{                               \
		.prefix = (p), .ret = 0 \
	}
#define A31 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A32 A31 "a"

static const struct parse_case parse_cases[] = {
	/* Ours. */
	{"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:9", 0, ST_HIT_RULE, "nat",
	 "ISTIO_OUTPUT", 9, 0x0a1b2c3d, false},
	{"st:0A1B2C3D:e:nat:ISTIO_OUTPUT:0", 0, ST_HIT_ENTER, "nat",
	 "ISTIO_OUTPUT", 0, 0x0a1b2c3d, false},
	{"st:00000001:p:raw:PREROUTING:0", 0, ST_HIT_POLICY, "raw",
	 "PREROUTING", 0, 1, false},
	{"st:00000001:r:istio-proxy-nat:istio-inbound:7", 0, ST_HIT_RETURN,
	 "istio-proxy-nat", "istio-inbound", 7, 1, false},
	{"st:00000001:h:nat:a:b::3", 0, ST_HIT_RULE, "nat", "a:b:", 3, 1,
	 false},
	{"st:00000001:h:nat:X:4294967295", 0, ST_HIT_RULE, "nat", "X",
	 4294967295u, 1, false},
	{"st:00000001:h:" A31 ":ISTIO_OUTPUT:1", 0, ST_HIT_RULE, A31,
	 "ISTIO_OUTPUT", 1, 1, false},
	{"st:00000001:h:nat:" A31 ":1", 0, ST_HIT_RULE, "nat", A31, 1, 1,
	 false},
	/* Ours, but broken. */
	BAD("st:"),
	BAD("st:0a1b2c3d"),
	BAD("st:0a1b2c3d:h:nat:X"),
	BAD("st:0a1b2c3:h:nat:X:1"),
	BAD("st:0a1b2c3g:h:nat:X:1"),
	BAD("st:0a1b2c3d0:h:nat:X:1"),
	BAD("st: a1b2c3d:h:nat:X:1"),
	BAD("st:0a1b2c3d:x:nat:X:1"),
	BAD("st:0a1b2c3d:X:nat:X:1"),
	BAD("st:0a1b2c3d:hh:nat:X:1"),
	BAD("st:0a1b2c3d::nat:X:1"),
	BAD("st:0a1b2c3d:h::X:1"),
	BAD("st:0a1b2c3d:h:nat::1"),
	BAD("st:0a1b2c3d:h:nat:X:"),
	BAD("st:0a1b2c3d:h:nat:X:-1"),
	BAD("st:0a1b2c3d:h:nat:X:+1"),
	BAD("st:0a1b2c3d:h:nat:X: 1"),
	BAD("st:0a1b2c3d:h:nat:X:1 "),
	BAD("st:0a1b2c3d:h:nat:X:01"),
	BAD("st:0a1b2c3d:h:nat:X:1x"),
	BAD("st:0a1b2c3d:h:nat:X:4294967296"),
	BAD("st:0a1b2c3d:h:nat:X:99999999999"),
	BAD("st:0a1b2c3d:h:" A32 ":X:1"),
	BAD("st:0a1b2c3d:h:nat:" A32 ":1"),
	BAD("st:0a1b2c3d:h:nat:OUT\tPUT:1"),
	BAD("st:0a1b2c3d:h:nat:OUTPUT\n:1"),
	/* 64 characters: longer than any NFLOG prefix can be. */
	BAD("st:0a1b2c3d:h:nat:" A31 "bbbbbbbbbbbbb:1"),
	/* The kernel's TRACE target. */
	{"TRACE: nat:ISTIO_OUTPUT:rule:9", 0, ST_HIT_RULE, "nat",
	 "ISTIO_OUTPUT", 9, 0, true},
	{"TRACE: nat:ISTIO_OUTPUT:rule:9 ", 0, ST_HIT_RULE, "nat",
	 "ISTIO_OUTPUT", 9, 0, true},
	{"TRACE: nat:OUTPUT:policy:2", 0, ST_HIT_POLICY, "nat", "OUTPUT", 0, 0,
	 true},
	{"TRACE: nat:OUTPUT:policy:2 ", 0, ST_HIT_POLICY, "nat", "OUTPUT", 0, 0,
	 true},
	{"TRACE: nat:ISTIO_OUTPUT:return:10", 0, ST_HIT_RETURN, "nat",
	 "ISTIO_OUTPUT", 10, 0, true},
	{"TRACE: mangle:a:b:rule:1", 0, ST_HIT_RULE, "mangle", "a:b", 1, 0,
	 true},
	/* Not a tag, or a TRACE we cannot read: no hit, no error. */
	FOREIGN(NULL),
	FOREIGN(""),
	FOREIGN("hello"),
	FOREIGN("ST:0a1b2c3d:h:nat:X:1"),
	FOREIGN("s"),
	FOREIGN("TRACE:"),
	FOREIGN("TRACE: "),
	FOREIGN("TRACE: nat:OUTPUT:rule:"),
	FOREIGN("TRACE: nat:OUTPUT:rules:1"),
	FOREIGN("TRACE: nat:OUTPUT:policy:x"),
	FOREIGN("TRACE: nat::rule:1"),
	FOREIGN("TRACE: :OUTPUT:rule:1"),
	FOREIGN("TRACE: nat:rule:1"),
	FOREIGN("TRACE: nat:" A32 ":rule:1"),
};

static void test_tag_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct st_hit h;

		memset(&h, 0x5a, sizeof(h));
		print_message("parse case %zu: \"%s\"\n", i,
			      c->prefix ? c->prefix : "(null)");
		assert_int_equal(st_tag_parse(c->prefix, &h), c->ret);
		assert_int_equal(h.kind, c->kind);
		assert_int_equal(h.family, 0);
		if (c->kind == ST_HIT_NONE) {
			/* Nothing half-parsed is left behind. */
			assert_string_equal(h.table, "");
			assert_string_equal(h.chain, "");
			assert_int_equal(h.rule, 0);
			assert_false(h.trace);
			continue;
		}
		assert_string_equal(h.table, c->table);
		assert_string_equal(h.chain, c->chain);
		assert_int_equal(h.rule, c->rule);
		assert_int_equal(h.session, c->session);
		assert_int_equal(h.trace, c->trace);
	}
}

/* A caller's bad buffer: 64 bytes, no NUL. Nothing beyond may be read. */
/* Minimal instrumentation's tags: the kind letter in upper case. */
static void test_tag_minimal(void **state)
{
	static const struct {
		const char *prefix;
		enum st_hit_kind kind;
		bool minimal;
	} cases[] = {
		{"st:0a1b2c3d:H:nat:ISTIO_OUTPUT:9", ST_HIT_RULE, true},
		{"st:0a1b2c3d:E:nat:ISTIO_OUTPUT:0", ST_HIT_ENTER, true},
		{"st:0a1b2c3d:P:nat:OUTPUT:0", ST_HIT_POLICY, true},
		{"st:0a1b2c3d:R:nat:ISTIO_OUTPUT:0", ST_HIT_RETURN, true},
		{"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:9", ST_HIT_RULE, false},
	};
	char buf[ST_NFLOG_PREFIX_SIZE];

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		struct st_hit h;

		print_message("minimal case %zu: \"%s\"\n", i, cases[i].prefix);
		assert_int_equal(st_tag_parse(cases[i].prefix, &h), 0);
		assert_int_equal(h.kind, cases[i].kind);
		assert_int_equal(h.minimal, cases[i].minimal);
		assert_int_equal(h.session, 0x0a1b2c3d);
		/* What is parsed formats back to the same prefix. */
		assert_int_equal(st_tag_format(buf, &h), 0);
		assert_string_equal(buf, cases[i].prefix);
	}
}

/* The tag cache: what st_tag_parse() says, each prefix numbered once. */
static void test_tagcache(void **state)
{
	static const char *const prefixes[] = {
		"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:9",
		"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:1",
		"st:0a1b2c3d:H:nat:ISTIO_OUTPUT:9",
		"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:9",
		"st:0a1b2c3d:x:nat:X:1", /* malformed */
		"hello",		 /* foreign */
		"st:0a1b2c3d:h:nat:ISTIO_OUTPUT:1",
		"st:0a1b2c3d:x:nat:X:1",
		"TRACE: nat:OUTPUT:policy:2",
	};
	struct st_tagcache *c = st_tagcache_new();
	uint32_t first_id[ST_ARRAY_SIZE(prefixes)];

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < ST_ARRAY_SIZE(prefixes); i++) {
		struct st_hit want, got;
		int wret = st_tag_parse(prefixes[i], &want);
		int gret = st_tagcache_parse(c, prefixes[i], &got);

		print_message("tagcache case %zu: \"%s\"\n", i, prefixes[i]);
		assert_int_equal(gret, wret);
		assert_int_equal(got.kind, want.kind);
		assert_string_equal(got.table, want.table);
		assert_string_equal(got.chain, want.chain);
		assert_int_equal(got.rule, want.rule);
		assert_int_equal(got.minimal, want.minimal);
		assert_int_equal(got.trace, want.trace);
		/* A tag gets a number; the same prefix, the same one. */
		assert_int_equal(got.id != 0, want.kind != ST_HIT_NONE);
		assert_true(got.id == 0 || got.id_space != 0);
		first_id[i] = got.id;
		for (size_t k = 0; k < i; k++)
			if (strcmp(prefixes[k], prefixes[i]) == 0)
				assert_int_equal(first_id[k], got.id);
			else if (got.id != 0)
				assert_int_not_equal(first_id[k], got.id);
	}
	st_tagcache_free(c);
	st_tagcache_free(NULL);
}

static void test_tag_parse_unterminated(void **state)
{
	char *p = malloc(ST_NFLOG_PREFIX_SIZE);
	struct st_hit h;

	(void)state;
	assert_non_null(p);
	memset(p, 'a', ST_NFLOG_PREFIX_SIZE);
	memcpy(p, "st:0a1b2c3d:h:nat:X:1", 21);
	assert_int_equal(st_tag_parse(p, &h), -EINVAL);
	assert_int_equal(h.kind, ST_HIT_NONE);
	memcpy(p, "TRACE: nat:X:rule:1", 19);
	assert_int_equal(st_tag_parse(p, &h), 0);
	assert_int_equal(h.kind, ST_HIT_NONE);
	free(p);
	assert_int_equal(st_tag_parse("st:x", NULL), -EINVAL);
}

/* ---- decoder ------------------------------------------------------- */

struct dec_case {
	const char *name;
	const char *hex; /* blanks and '|' are ignored */
	int ret;
	uint8_t family;
	uint8_t proto;
	bool l4_ok;
	const char *src; /* NULL: not checked */
	const char *dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t flags;
};

#define IP4_10_1_2 "0a000001 0a000002"
#define TCP_SYN "3039 1f90 00000001 00000000 5002 ffff 0000 0000"
#define UDP_DNS "3039 0035 000c 0000 61626364"
#define IP6_LO \
	"00000000000000000000000000000001 00000000000000000000000000000001"

static const struct dec_case dec_cases[] = {
	{"ipv4 tcp syn", "45000028 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN,
	 0, 4, IPPROTO_TCP, true, "10.0.0.1", "10.0.0.2", 12345, 8080, 0x02},
	{"ipv4 udp", "45000020 00010000 4011 0000 " IP4_10_1_2 "|" UDP_DNS, 0,
	 4, IPPROTO_UDP, true, "10.0.0.1", "10.0.0.2", 12345, 53, 0},
	{"ipv4 options",
	 "4600002c 00010000 4006 0000 " IP4_10_1_2 " 01010100|" TCP_SYN, 0, 4,
	 IPPROTO_TCP, true, "10.0.0.1", "10.0.0.2", 12345, 8080, 0x02},
	{"ipv4 first fragment",
	 "45000028 00012000 4006 0000 " IP4_10_1_2 "|" TCP_SYN, 0, 4,
	 IPPROTO_TCP, true, NULL, NULL, 12345, 8080, 0x02},
	{"ipv4 later fragment",
	 "45000028 000100b9 4006 0000 " IP4_10_1_2 "|" TCP_SYN, 0, 4,
	 IPPROTO_TCP, false, "10.0.0.1", "10.0.0.2", 0, 0, 0},
	{"ipv4 last fragment",
	 "45000028 00010001 4011 0000 " IP4_10_1_2 "|" UDP_DNS, 0, 4,
	 IPPROTO_UDP, false, NULL, NULL, 0, 0, 0},
	{"ipv4 icmp",
	 "4500001c 00010000 4001 0000 " IP4_10_1_2 "|0800 0000 0001 0001", 0, 4,
	 IPPROTO_ICMP, false, "10.0.0.1", "10.0.0.2", 0, 0, 0},
	{"ipv4 big tcp (tot_len 0)",
	 "45000000 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN, 0, 4,
	 IPPROTO_TCP, true, NULL, NULL, 12345, 8080, 0x02},
	{"ipv4 truncated header", "45000028 00010000 40", -EINVAL, 0, 0, false,
	 NULL, NULL, 0, 0, 0},
	{"ipv4 ihl 4", "44000028 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN,
	 -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv4 ihl 0", "40000028 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN,
	 -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv4 ihl 15 past capture",
	 "4f000064 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN, -EINVAL, 4,
	 IPPROTO_TCP, false, "10.0.0.1", "10.0.0.2", 0, 0, 0},
	{"ipv4 tot_len inside options",
	 "46000016 00010000 4006 0000 " IP4_10_1_2 " 01010100|" TCP_SYN,
	 -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv4 tot_len below ihl",
	 "45000010 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN, -EINVAL, 0, 0,
	 false, NULL, NULL, 0, 0, 0},
	{"ipv4 tcp cut by tot_len",
	 "45000020 00010000 4006 0000 " IP4_10_1_2 "|" TCP_SYN, -EINVAL, 4,
	 IPPROTO_TCP, false, NULL, NULL, 0, 0, 0},
	{"ipv4 tcp truncated",
	 "45000028 00010000 4006 0000 " IP4_10_1_2 "|3039 1f90 0000", -EINVAL,
	 4, IPPROTO_TCP, false, "10.0.0.1", "10.0.0.2", 0, 0, 0},
	{"ipv4 tcp doff 4",
	 "45000028 00010000 4006 0000 " IP4_10_1_2
	 "|3039 1f90 00000001 00000000 4002 ffff 0000 0000",
	 -EINVAL, 4, IPPROTO_TCP, false, NULL, NULL, 0, 0, 0},
	{"ipv4 udp truncated",
	 "45000020 00010000 4011 0000 " IP4_10_1_2 "|3039 0035", -EINVAL, 4,
	 IPPROTO_UDP, false, NULL, NULL, 0, 0, 0},
	{"version 5", "55000028 00010000 4006 0000 " IP4_10_1_2, -EINVAL, 0, 0,
	 false, NULL, NULL, 0, 0, 0},
	{"version 0", "00", -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"empty payload", "", -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 tcp", "60000000 0014 0640 " IP6_LO "|" TCP_SYN, 0, 6,
	 IPPROTO_TCP, true, "::1", "::1", 12345, 8080, 0x02},
	{"ipv6 hop-by-hop udp",
	 "60000000 0014 0040 " IP6_LO "|11000104 00000000|" UDP_DNS, 0, 6,
	 IPPROTO_UDP, true, "::1", "::1", 12345, 53, 0},
	{"ipv6 hbh routing dstopts tcp",
	 "60000000 0034 0040 " IP6_LO "|2b000104 00000000"
	 "|3c000000 00000000|06010104 00000000 00000000 00000000|" TCP_SYN,
	 0, 6, IPPROTO_TCP, true, NULL, NULL, 12345, 8080, 0x02},
	{"ipv6 ah tcp",
	 "60000000 0024 3340 " IP6_LO
	 "|06020000 00000001 00000001 00000000|" TCP_SYN,
	 0, 6, IPPROTO_TCP, true, NULL, NULL, 12345, 8080, 0x02},
	{"ipv6 first fragment",
	 "60000000 001c 2c40 " IP6_LO "|06000001 12345678|" TCP_SYN, 0, 6,
	 IPPROTO_TCP, true, NULL, NULL, 12345, 8080, 0x02},
	{"ipv6 later fragment",
	 "60000000 001c 2c40 " IP6_LO "|060000a8 12345678|" TCP_SYN, 0, 6,
	 IPPROTO_TCP, false, "::1", "::1", 0, 0, 0},
	{"ipv6 no next header", "60000000 0000 3b40 " IP6_LO, 0, 6,
	 IPPROTO_NONE, false, "::1", "::1", 0, 0, 0},
	{"ipv6 esp", "60000000 0008 3240 " IP6_LO "|00000001 00000001", 0, 6,
	 IPPROTO_ESP, false, NULL, NULL, 0, 0, 0},
	{"ipv6 plen 0 (jumbo/big tcp)",
	 "60000000 0000 0640 " IP6_LO "|" TCP_SYN, 0, 6, IPPROTO_TCP, true,
	 NULL, NULL, 12345, 8080, 0x02},
	{"ipv6 truncated fixed header",
	 "60000000 0014 0640 00000000000000000000000000000001 "
	 "000000000000000000000000000000",
	 -EINVAL, 0, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 hbh length past the end",
	 "60000000 0014 0040 " IP6_LO "|11ff0104 00000000|" UDP_DNS, -EINVAL, 6,
	 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 hbh cut", "60000000 0014 0040 " IP6_LO "|11", -EINVAL, 6, 0,
	 false, NULL, NULL, 0, 0, 0},
	{"ipv6 hbh not first",
	 "60000000 0010 3c40 " IP6_LO "|00000000 00000000|11000000 00000000",
	 -EINVAL, 6, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 hbh loop",
	 "60000000 0010 0040 " IP6_LO "|00000000 00000000|00000000 00000000",
	 -EINVAL, 6, 0, false, NULL, NULL, 0, 0, 0},
	/* Eleven dstopts, each pointing at the next, until the capture ends. */
	{"ipv6 dstopts chain past the end",
	 "60000000 0058 3c40 " IP6_LO
	 "|3c000000 00000000|3c000000 00000000|3c000000 00000000"
	 "|3c000000 00000000|3c000000 00000000|3c000000 00000000"
	 "|3c000000 00000000|3c000000 00000000|3c000000 00000000"
	 "|3c000000 00000000|3c000000 00000000",
	 -EINVAL, 6, 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 fragment cut", "60000000 0008 2c40 " IP6_LO "|0600", -EINVAL, 6,
	 0, false, NULL, NULL, 0, 0, 0},
	{"ipv6 plen cuts tcp", "60000000 000a 0640 " IP6_LO "|" TCP_SYN,
	 -EINVAL, 6, IPPROTO_TCP, false, NULL, NULL, 0, 0, 0},
};

static size_t hex2bin(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v = 0;

		if (*hex == ' ' || *hex == '|')
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else
			fail_msg("bad hex character '%c'", *hex);
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < max);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	assert_int_equal(hi, -1);
	return n;
}

static void assert_addr(const uint8_t *got, uint8_t family, const char *want)
{
	uint8_t buf[16] = {0};

	if (want == NULL)
		return;
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, want, buf),
			 1);
	assert_memory_equal(got, buf, family == 4 ? 4 : 16);
}

static void test_decode(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		struct st_rec *r = calloc(1, sizeof(*r));

		assert_non_null(r);
		print_message("decode case %zu: %s\n", i, c->name);
		r->caplen = (uint32_t)hex2bin(c->hex, r->payload,
					      sizeof(r->payload));
		r->payload_len = r->caplen;
		/* Stale values must not survive a decode. */
		r->l4_ok = true;
		r->sport = 7;
		r->family = 9;
		assert_int_equal(st_rec_decode_l3(r), c->ret);
		assert_int_equal(r->family, c->family);
		if (c->family != 0 && c->proto != 0)
			assert_int_equal(r->proto, c->proto);
		assert_int_equal(r->l4_ok, c->l4_ok);
		assert_addr(r->src, c->family, c->src);
		assert_addr(r->dst, c->family, c->dst);
		assert_int_equal(r->sport, c->sport);
		assert_int_equal(r->dport, c->dport);
		assert_int_equal(r->tcp_flags, c->flags);
		free(r);
	}
}

/* A caplen beyond the array is clamped, never trusted. */
static void test_decode_caplen_clamped(void **state)
{
	struct st_rec *r = calloc(1, sizeof(*r));
	size_t n;

	(void)state;
	assert_non_null(r);
	n = hex2bin("60000000 0000 3c40 " IP6_LO, r->payload,
		    sizeof(r->payload));
	/* dstopts chains to dstopts all the way to the end of the array. */
	for (; n + 8 <= sizeof(r->payload); n += 8)
		r->payload[n] = IPPROTO_DSTOPTS;
	r->caplen = 100000;
	assert_int_equal(st_rec_decode_l3(r), -EINVAL);
	assert_int_equal(r->family, 6);
	assert_false(r->l4_ok);
	assert_int_equal(st_rec_decode_l3(NULL), -EINVAL);
	free(r);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_format),
		cmocka_unit_test(test_tag_format_unterminated),
		cmocka_unit_test(test_tag_parse),
		cmocka_unit_test(test_tag_minimal),
		cmocka_unit_test(test_tagcache),
		cmocka_unit_test(test_tag_parse_unterminated),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_caplen_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
