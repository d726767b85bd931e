// SPDX-License-Identifier: GPL-2.0-or-later
/* test_plaincap.c - ordinary captures: link layers, skips, inference. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "plaincap.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* 20-byte IPv4 + 20-byte TCP SYN 10.244.1.10:40000 > 127.0.0.1:15001. */
static const uint8_t ip_syn[40] = {
	0x45, 0,  0,   40, 0,	 0,    0x40, 0,	   64,	 6,    0, 0, 10, 244,
	1,    10, 127, 0,  0,	 1,    0x9c, 0x40, 0x3a, 0x99, 0, 0, 0,	 1,
	0,    0,  0,   0,  0x50, 0x02, 0xff, 0xff, 0,	 0,    0, 0,
};

struct link_case {
	const char *name;
	int dlt;
	uint8_t hdr[32];
	size_t hlen;
	bool with_ip;
	int ret;
	size_t l3off;
	int lo;
	int outgoing;
};

static const struct link_case link_cases[] = {
	{"ethernet",
	 DLT_EN10MB,
	 {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7, 0x08, 0},
	 14,
	 true,
	 0,
	 14,
	 -1,
	 -1},
	{"ethernet lo",
	 DLT_EN10MB,
	 {[12] = 0x08, [13] = 0},
	 14,
	 true,
	 0,
	 14,
	 1,
	 -1},
	{"vlan",
	 DLT_EN10MB,
	 {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7, 0x81, 0, 0, 5, 0x08, 0},
	 18,
	 true,
	 0,
	 18,
	 -1,
	 -1},
	{"qinq",
	 DLT_EN10MB,
	 {1, 2,	   3,	 4, 5, 6,    1, 2, 3, 4,    5,
	  7, 0x88, 0xa8, 0, 5, 0x81, 0, 0, 6, 0x86, 0xdd},
	 22,
	 true,
	 0,
	 22,
	 -1,
	 -1},
	{"vlan cut",
	 DLT_EN10MB,
	 {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7, 0x81, 0, 0},
	 15,
	 false,
	 -EBADMSG,
	 0,
	 0,
	 0},
	{"arp",
	 DLT_EN10MB,
	 {[12] = 0x08, [13] = 0x06},
	 14,
	 true,
	 -EPROTONOSUPPORT,
	 0,
	 0,
	 0},
	{"ethernet cut", DLT_EN10MB, {0}, 13, false, -EBADMSG, 0, 0, 0},
	{"sll outgoing",
	 DLT_LINUX_SLL,
	 {0, 4, 0, 1, 0, 6, [14] = 0x08, 0},
	 16,
	 true,
	 0,
	 16,
	 0,
	 1},
	{"sll lo host",
	 DLT_LINUX_SLL,
	 {0, 0, 0x03, 0x04, [14] = 0x08, 0},
	 16,
	 true,
	 0,
	 16,
	 1,
	 0},
	{"sll broadcast",
	 DLT_LINUX_SLL,
	 {0, 1, 0, 1, [14] = 0x08, 0},
	 16,
	 true,
	 0,
	 16,
	 0,
	 -1},
	{"sll cut", DLT_LINUX_SLL, {0}, 15, false, -EBADMSG, 0, 0, 0},
	{"sll2 lo",
	 DLT_LINUX_SLL2,
	 {0x08, 0, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0},
	 20,
	 true,
	 0,
	 20,
	 1,
	 0},
	{"sll2 eth0 out",
	 DLT_LINUX_SLL2,
	 {0x08, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4},
	 20,
	 true,
	 0,
	 20,
	 0,
	 1},
	{"sll2 cut", DLT_LINUX_SLL2, {0}, 19, false, -EBADMSG, 0, 0, 0},
	{"raw", DLT_RAW, {0}, 0, true, 0, 0, -1, -1},
	{"raw not ip", DLT_RAW, {0x20}, 1, false, -EPROTONOSUPPORT, 0, 0, 0},
	{"raw empty", DLT_RAW, {0}, 0, false, -EBADMSG, 0, 0, 0},
	{"null le", DLT_NULL, {2, 0, 0, 0}, 4, true, 0, 4, 1, -1},
	{"loop be v6", DLT_LOOP, {0, 0, 0, 30}, 4, true, 0, 4, 1, -1},
	{"null bad family",
	 DLT_NULL,
	 {7, 0, 0, 0},
	 4,
	 true,
	 -EPROTONOSUPPORT,
	 0,
	 0,
	 0},
	{"nflog", 239, {0}, 0, true, -EPROTONOSUPPORT, 0, 0, 0},
};

static void test_link(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(link_cases); i++) {
		const struct link_case *c = &link_cases[i];
		struct st_plaincap_link lk;
		uint8_t buf[128];
		size_t len = c->hlen;
		int ret;

		memcpy(buf, c->hdr, c->hlen);
		if (c->with_ip) {
			memcpy(buf + len, ip_syn, sizeof(ip_syn));
			len += sizeof(ip_syn);
		}
		ret = st_plaincap_link_decode(c->dlt, buf, len, &lk);
		print_message("%s\n", c->name);
		assert_int_equal(ret, c->ret);
		if (ret < 0)
			continue;
		assert_int_equal(lk.l3off, c->l3off);
		assert_int_equal(lk.lo, c->lo);
		if (strcmp(c->name, "sll broadcast") == 0)
			assert_true(lk.otherhost);
		else
			assert_int_equal(lk.outgoing, c->outgoing);
	}
	assert_true(st_plaincap_linktype_ok(DLT_LINUX_SLL2));
	assert_false(st_plaincap_linktype_ok(239));
}

/* ---- whole captures, built by hand ------------------------------------- */

struct pkt {
	int ms;
	uint32_t ifindex;
	uint8_t pkttype;
	const char *src;
	uint16_t sport;
	const char *dst;
	uint16_t dport;
	uint8_t flags; /* TCP flags; 0xff: a 3-byte cut packet */
};

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void write_cap(const char *path, const struct pkt *p, size_t n)
{
	pcap_t *dead = pcap_open_dead(DLT_LINUX_SLL2, 256);
	pcap_dumper_t *d;

	assert_non_null(dead);
	d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		uint8_t b[80] = {0};
		struct pcap_pkthdr h = {0};
		uint32_t a;

		b[0] = 0x08;
		b[7] = (uint8_t)p[i].ifindex;
		put_be16(b + 8, p[i].ifindex == 1 ? 772 : 1);
		b[10] = p[i].pkttype;
		memcpy(b + 20, ip_syn, sizeof(ip_syn));
		inet_pton(AF_INET, p[i].src, &a);
		memcpy(b + 32, &a, 4);
		inet_pton(AF_INET, p[i].dst, &a);
		memcpy(b + 36, &a, 4);
		put_be16(b + 40, p[i].sport);
		put_be16(b + 42, p[i].dport);
		b[53] = p[i].flags;
		h.ts.tv_sec = 1000 + p[i].ms / 1000;
		h.ts.tv_usec = (p[i].ms % 1000) * 1000;
		h.caplen = h.len = p[i].flags == 0xff ? 23 : 60;
		pcap_dump((u_char *)d, &h, b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

struct run {
	char out[8192];
	struct st_plaincap_result res;
	int ret;
};

/* A sink that writes what the tests look for: the flow, its notes, the end. */
static int w_flow(void *data, const struct st_flow *f,
		  const struct st_sink_notes *nt)
{
	FILE *out = data;

	if (fprintf(out, "flow type=%d class=%d legs=%u\n", f->type,
		    (int)f->klass, f->nlegs) < 0)
		return -EIO;
	for (unsigned int i = 0; nt != NULL && i < nt->n; i++)
		if (fprintf(out, "    inferred: %s\n", nt->note[i]) < 0)
			return -EIO;
	return 0;
}

static int w_sum(void *data, const struct st_flow_stats *s)
{
	FILE *out = data;

	return fprintf(out, "summary flows=%llu\n",
		       (unsigned long long)s->flows) < 0
		       ? -EIO
		       : 0;
}

static const struct st_sink_ops w_ops = {
	.flow = w_flow,
	.summary = w_sum,
};

static void run_cap(const struct pkt *p, size_t n, struct run *r)
{
	char path[] = "/tmp/test_plaincap.XXXXXX";
	struct st_plaincap_opts o;
	char err[ST_ERRBUF_SIZE] = "";
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_cap(path, p, n);
	assert_int_equal(st_plaincap_probe(path, err), 1);
	memset(&o, 0, sizeof(o));
	memset(r, 0, sizeof(*r));
	f = fmemopen(r->out, sizeof(r->out) - 1, "w");
	assert_non_null(f);
	o.capture = path;
	o.rules[o.nrules++] =
		ST_SAMPLES "/rules/istio-1.17_redirect_default_legacy.rules";
	o.sinks[o.nsinks++] = (struct st_sink){&w_ops, f};
	r->ret = st_plaincap_run(&o, &r->res, err);
	fclose(f);
	unlink(path);
	if (r->ret < 0)
		print_message("err: %s\n", err);
}

static void test_app_to_remote(void **state)
{
	/* The lab's app-to-remote as tcpdump -i any shows it. */
	static const struct pkt p[] = {
		{0, 1, 0, "10.244.1.10", 41514, "127.0.0.1", 15001, 0x02},
		{1, 1, 0, "10.244.2.20", 9080, "10.244.1.10", 41514, 0x12},
		{2, 2, 4, "10.244.1.10", 50000, "10.244.2.20", 9080, 0x02},
		{3, 2, 0, "10.244.2.20", 9080, "10.244.1.10", 50000, 0x12},
		{4, 1, 0, "10.244.1.10", 41514, "127.0.0.1", 15001, 0x02},
		{5, 1, 0, "10.244.1.10", 1, "127.0.0.1", 2, 0xff},
	};
	struct run r;

	(void)state;
	run_cap(p, ST_ARRAY_SIZE(p), &r);
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "flow type=2 class=0 legs=2\n"));
	assert_non_null(strstr(r.out, "inferred: original destination "
				      "10.244.2.20:9080: the source of its "
				      "reply"));
	assert_non_null(strstr(r.out, "inferred: owner: the app"));
	assert_int_equal(r.res.conns, 2);
	assert_int_equal(r.res.duplicates, 1);
	assert_int_equal(r.res.skipped_by[ST_PLAINCAP_SKIP_L3], 1);
	assert_int_equal(r.res.written, 1);
}

static void test_no_reply_no_upstream(void **state)
{
	/* Redirected, nothing else: the destination cannot be known. */
	static const struct pkt p[] = {
		{0, 1, 0, "10.244.1.10", 41514, "127.0.0.1", 15001, 0x02},
	};
	struct run r;

	(void)state;
	run_cap(p, ST_ARRAY_SIZE(p), &r);
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "flow type=0 class=6 legs=1\n"));
	assert_non_null(strstr(r.out, "original destination"));
}

static void test_owner_from_consistency(void **state)
{
	/* Not redirected on eth0: an app's SYN would have been. */
	static const struct pkt p[] = {
		{0, 2, 4, "10.244.1.10", 43000, "10.244.2.20", 80, 0x02},
		{0, 2, 0, "10.244.3.30", 43000, "10.244.1.10", 15090, 0x02},
		{0, 1, 0, "127.0.0.1", 43001, "127.0.0.1", 15000, 0x02},
	};
	struct run r;

	(void)state;
	run_cap(p, ST_ARRAY_SIZE(p), &r);
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "inferred: owner: the proxy (capture "
				      "shows it not redirected; as the app"));
	assert_non_null(strstr(r.out, "flow type=3 class=0 legs=1\n"));
	assert_non_null(strstr(r.out, "flow type=5 class=0 legs=1\n"));
	assert_non_null(strstr(r.out, "loopback port 15000 is the sidecar's"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_app_to_remote),
		cmocka_unit_test(test_no_reply_no_upstream),
		cmocka_unit_test(test_owner_from_consistency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
