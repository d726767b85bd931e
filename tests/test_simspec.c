// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_simspec.c - the --simulate SPEC grammar: good specs and what they
 * give, bad specs and the column their message names.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "simspec.h"

struct good {
	const char *in;
	const char *canon; /* st_simspec_format() */
	uint8_t family;
	uint8_t proto;
	bool outgoing;
};

static const struct good goods[] = {
	{"tcp 10.0.0.5:43210 > 10.0.0.9:9080 uid 1000",
	 "tcp 10.0.0.5:43210 > 10.0.0.9:9080 uid 1000 gid 1000", 4, IPPROTO_TCP,
	 true},
	{"udp [fd00::5]:5353 > [fd00::10]:53 uid 1000 gid 1000",
	 "udp [fd00::5]:5353 > [fd00::10]:53 uid 1000 gid 1000", 6, IPPROTO_UDP,
	 true},
	{"  tcp\t10.244.2.20:50001 -> 10.244.1.10:9080   in eth0 ",
	 "tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0", 4, IPPROTO_TCP,
	 false},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 gid 0x539 mark 0x539",
	 "tcp 10.0.0.5:1 > 10.0.0.9:80 uid 1337 gid 1337 mark 0x539", 4,
	 IPPROTO_TCP, true},
	{"tcp 10.0.0.5:1 > 10.0.0.5:80 out lo",
	 "tcp 10.0.0.5:1 > 10.0.0.5:80 out lo", 4, IPPROTO_TCP, true},
	{"sctp 10.0.0.5:65535 > 10.0.0.9:1 uid 4294967295 out eth1",
	 "sctp 10.0.0.5:65535 > 10.0.0.9:1 uid 4294967295 gid 4294967295 out "
	 "eth1",
	 4, IPPROTO_SCTP, true},
};

struct bad {
	const char *in;
	const char *msg; /* substring of the error */
};

static const struct bad bads[] = {
	{"", "empty"},
	{"   ", "empty"},
	{"icmp 10.0.0.5:1 > 10.0.0.9:80 uid 1", "column 1: unknown protocol"},
	{"tcp", "column 4: expected the source"},
	{"tcp 10.0.0:80 > 10.0.0.9:80 uid 1", "column 5: bad IPv4 address"},
	{"tcp 10.0.0.5 > 10.0.0.9:80 uid 1", "column 5: expected ADDRESS:PORT"},
	{"tcp 10.0.0.5:0 > 10.0.0.9:80 uid 1", "column 14: bad port"},
	{"tcp 10.0.0.5:65536 > 10.0.0.9:80 uid 1", "bad port '65536'"},
	{"tcp fd00::5:1 > 10.0.0.9:80 uid 1", "[ADDRESS]:PORT"},
	{"tcp [fd00::g]:1 > [fd00::1]:80 uid 1", "bad IPv6 address"},
	{"tcp [fd00::1] > [fd00::1]:80 uid 1", "expected [IPV6]:PORT"},
	{"tcp 10.0.0.5:1 10.0.0.9:80 uid 1", "column 16: expected '>'"},
	{"tcp 10.0.0.5:1 >", "expected the destination"},
	{"tcp 10.0.0.5:1 > [fd00::1]:80 uid 1",
	 "column 18: destination is IPv6"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80", "say 'uid N'"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 uid", "column 30: 'uid' needs a value"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 uid -1", "bad uid '-1'"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 uid 4294967296", "bad uid"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 uid 1 uid 2", "'uid' given twice"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 mark 0x", "bad mark"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 user 1",
	 "column 30: unknown word 'user'"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 in eth0 uid 1", "'in' is for a packet"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 in eth0 in eth1", "'in' given twice"},
	{"tcp 10.0.0.5:1 > 10.0.0.9:80 out averyveryverylongname", "too long"},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		char err[ST_ERRBUF_SIZE] = "";
		char buf[256];
		struct st_simspec s;
		struct st_simspec again;

		print_message("  %s\n", g->in);
		if (st_simspec_parse(g->in, &s, err) != 0)
			print_error("  %s\n", err);
		assert_int_equal(st_simspec_parse(g->in, &s, err), 0);
		assert_int_equal(s.family, g->family);
		assert_int_equal(s.proto, g->proto);
		assert_int_equal(s.outgoing, g->outgoing);
		st_simspec_format(&s, buf, sizeof(buf));
		assert_string_equal(buf, g->canon);
		/* the canonical form parses to the same packet */
		assert_int_equal(st_simspec_parse(buf, &again, err), 0);
		assert_memory_equal(&s, &again, sizeof(s));
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_simspec s;

		assert_int_equal(st_simspec_parse(b->in, &s, err), -EINVAL);
		print_message("  '%s': %s\n", b->in, err);
		assert_non_null(strstr(err, b->msg));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
