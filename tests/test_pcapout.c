// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pcapout.c - the capture writer: a table of records with every field
 * set, written and read back field by field (IPv4 and IPv6, kernel and
 * reader timestamps, a payload longer than what was kept, sequence numbers
 * across the 32-bit wrap); the bytes against the golden file; tshark's
 * view of them; the side files (rules and meta); and the refusals: an
 * existing file, a symlink in the capture's or a side file's place, a full
 * device (/dev/full), a file size limit reached in the middle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcapin.h"
#include "pcapout.h"
#include "spawn.h"
#include "testlib.h"

#define SYN_DIR ST_SAMPLES "/captures/synthetic"
#define GOLDEN SYN_DIR "/written.pcap"
#define RULES4 ST_SAMPLES "/rules/istio-1.17_redirect_default_legacy.rules"

/* ---- the records ------------------------------------------------------ */

struct rec_case {
	const char *prefix;
	uint8_t hook;
	uint16_t group;
	bool has_uid, has_gid;
	uint32_t uid, gid, mark, indev, outdev;
	const char *indev_name, *outdev_name;
	bool ts_kernel;
	time_t sec;
	long nsec;
	int pkt;	      /* see make_packet() */
	uint32_t payload_len; /* 0: as long as the packet */
};

enum { PKT_V4_SYN, PKT_V6_UDP, PKT_V4_ICMP, PKT_V4_BIG };

static const struct rec_case rec_cases[] = {
	{"st:0000002a:h:nat:ISTIO_OUTPUT:9", NF_INET_LOCAL_OUT, 42, true, true,
	 1000, 1000, 0x539, 0, 1, "", "lo", false, 1700000000, 123456789,
	 PKT_V4_SYN, 0},
	{"st:0000002a:e:nat:ISTIO_INBOUND:0", NF_INET_PRE_ROUTING, 42, false,
	 false, 0, 0, 0, 2, 0, "eth0", "", true, 1700000001, 123000, PKT_V6_UDP,
	 0},
	{"TRACE: nat:ISTIO_OUTPUT:rule:4 ", 0xff, 0, true, false, 1337, 0,
	 0xffffffff, 0, 2, "", "eth0", false, 1700000002, 0, PKT_V4_ICMP, 0},
	/* 63 characters; a packet of 1500 bytes of which we kept 128. */
	{"st:0000002a:p:istio-proxy-nat:ISTIO_A_VERY_LONG_CHAIN_NAME:0",
	 NF_INET_POST_ROUTING, 42, true, true, 1337, 1337, 0, 0, 2, "", "eth0",
	 true, 1700000003, 999999000, PKT_V4_BIG, 1500},
	{"", NF_INET_LOCAL_IN, 65535, true, true, 0, 0, 1, 1, 0, "lo", "",
	 false, 1700000004, 1, PKT_V4_SYN, 0},
};

/* Sequence numbers: across the 32-bit wrap, as a long live run gives. */
#define SEQ0 4294967293ull

static void put_be16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static size_t make_packet(uint8_t *p, int what)
{
	memset(p, 0, ST_REC_SNAPLEN);
	switch (what) {
	case PKT_V6_UDP:
		p[0] = 0x60;
		put_be16(p + 4, 8);
		p[6] = IPPROTO_UDP;
		p[7] = 64;
		inet_pton(AF_INET6, "fd00::1", p + 8);
		inet_pton(AF_INET6, "fd00::2", p + 24);
		put_be16(p + 40, 5353);
		put_be16(p + 42, 53);
		put_be16(p + 44, 8);
		return 48;
	case PKT_V4_ICMP:
		p[0] = 0x45;
		put_be16(p + 2, 28);
		p[8] = 64;
		p[9] = IPPROTO_ICMP;
		inet_pton(AF_INET, "10.0.0.1", p + 12);
		inet_pton(AF_INET, "10.0.0.2", p + 16);
		p[20] = 8;
		return 28;
	case PKT_V4_SYN:
	case PKT_V4_BIG:
	default:
		p[0] = 0x45;
		put_be16(p + 2, what == PKT_V4_BIG ? 1500 : 40);
		p[8] = 64;
		p[9] = IPPROTO_TCP;
		inet_pton(AF_INET, "10.244.0.5", p + 12);
		inet_pton(AF_INET, "10.96.0.10", p + 16);
		put_be16(p + 20, 43210);
		put_be16(p + 22, 8080);
		p[32] = 5 << 4;
		p[33] = what == PKT_V4_BIG ? 0x18 : 0x02;
		if (what == PKT_V4_BIG) {
			size_t i;

			for (i = 40; i < ST_REC_SNAPLEN; i++)
				p[i] = (uint8_t)i;
			return ST_REC_SNAPLEN;
		}
		return 40;
	}
}

/* A record as a capture source fills it. */
static void make_rec(struct st_rec *r, const struct rec_case *c, size_t i)
{
	memset(r, 0, sizeof(*r));
	r->seq = SEQ0 + i;
	r->ts.tv_sec = c->sec;
	r->ts.tv_nsec = c->nsec;
	r->ts_kernel = c->ts_kernel;
	r->group = c->group;
	r->hook = c->hook;
	st_strlcpy(r->prefix, c->prefix, sizeof(r->prefix));
	st_tag_parse(r->prefix, &r->hit);
	r->has_uid = c->has_uid;
	r->has_gid = c->has_gid;
	r->uid = c->uid;
	r->gid = c->gid;
	r->mark = c->mark;
	r->indev = c->indev;
	r->outdev = c->outdev;
	st_strlcpy(r->indev_name, c->indev_name, sizeof(r->indev_name));
	st_strlcpy(r->outdev_name, c->outdev_name, sizeof(r->outdev_name));
	r->caplen = (uint32_t)make_packet(r->payload, c->pkt);
	r->payload_len = c->payload_len ? c->payload_len : r->caplen;
	assert_int_equal(st_rec_decode_l3(r), 0);
}

static const struct st_pcapout_meta sample_meta = {
	.backend = "iptables-legacy",
	.session = 42,
	.group = 42,
	.netns = "/var/run/netns/web-1",
	.pod = "default/web-1",
	.start = {1700000000, 0},
};

/* The table as --write writes it; with the side files when @side. */
static void write_table(const char *path, bool side)
{
	static char text[65536];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	struct st_rec rec;
	size_t i, len;

	if (st_pcapout_open(&o, path, 0, err) != 0)
		fail_msg("%s", err);
	if (side) {
		len = tl_read_into(RULES4, text, sizeof(text));
		assert_int_equal(st_pcapout_write_rules(o, 4, text, len, err),
				 0);
		assert_int_equal(st_pcapout_set_meta(o, &sample_meta, err), 0);
	}
	for (i = 0; i < ST_ARRAY_SIZE(rec_cases); i++) {
		make_rec(&rec, &rec_cases[i], i);
		if (st_pcapout_write(o, &rec, err) != 0)
			fail_msg("%s", err);
	}
	assert_int_equal(st_pcapout_records(o), ST_ARRAY_SIZE(rec_cases));
	if (st_pcapout_close(o, err) != 0)
		fail_msg("%s", err);
}

struct collect {
	struct st_rec recs[16];
	size_t n;
};

static int collect_cb(const struct st_rec *rec, void *data)
{
	struct collect *c = data;

	if (c->n < ST_ARRAY_SIZE(c->recs))
		c->recs[c->n] = *rec;
	c->n++;
	return ST_CB_OK;
}

static void str_tail_clear(char *s, size_t size)
{
	size_t n = strnlen(s, size);

	memset(s + n, 0, size - n);
}

static void rec_normalize(struct st_rec *r)
{
	str_tail_clear(r->prefix, sizeof(r->prefix));
	str_tail_clear(r->hit.table, sizeof(r->hit.table));
	str_tail_clear(r->hit.chain, sizeof(r->hit.chain));
	str_tail_clear(r->indev_name, sizeof(r->indev_name));
	str_tail_clear(r->outdev_name, sizeof(r->outdev_name));
	if (r->caplen < sizeof(r->payload))
		memset(r->payload + r->caplen, 0,
		       sizeof(r->payload) - r->caplen);
	r->hit.id = 0;
	r->hit.id_space = 0;
}

static void assert_rec_equal(const struct st_rec *a, const struct st_rec *b,
			     size_t i)
{
	struct st_rec x, y;

	print_message("record %zu: '%s'\n", i, a->prefix);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ts.tv_sec, b->ts.tv_sec);
	assert_int_equal(a->ts.tv_nsec, b->ts.tv_nsec);
	assert_int_equal(a->ts_kernel, b->ts_kernel);
	assert_int_equal(a->group, b->group);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->hook, b->hook);
	assert_string_equal(a->prefix, b->prefix);
	assert_int_equal(a->hit.kind, b->hit.kind);
	assert_string_equal(a->hit.table, b->hit.table);
	assert_string_equal(a->hit.chain, b->hit.chain);
	assert_int_equal(a->hit.rule, b->hit.rule);
	assert_int_equal(a->hit.family, b->hit.family);
	assert_int_equal(a->hit.session, b->hit.session);
	assert_int_equal(a->hit.trace, b->hit.trace);
	assert_int_equal(a->has_uid, b->has_uid);
	assert_int_equal(a->has_gid, b->has_gid);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->mark, b->mark);
	assert_int_equal(a->indev, b->indev);
	assert_int_equal(a->outdev, b->outdev);
	assert_string_equal(a->indev_name, b->indev_name);
	assert_string_equal(a->outdev_name, b->outdev_name);
	assert_int_equal(a->l4_ok, b->l4_ok);
	assert_int_equal(a->proto, b->proto);
	assert_memory_equal(a->src, b->src, sizeof(a->src));
	assert_memory_equal(a->dst, b->dst, sizeof(a->dst));
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->tcp_flags, b->tcp_flags);
	assert_int_equal(a->payload_len, b->payload_len);
	assert_int_equal(a->caplen, b->caplen);
	assert_memory_equal(a->payload, b->payload, a->caplen);
	/*
	 * Nothing else either: the whole value, padding aside, once what a
	 * reader need not clear is left out (the bytes after each string's
	 * end and after the payload) and the tag's number in the reader's
	 * cache, which is the reader's, not the record's.
	 */
	x = *a;
	y = *b;
	rec_normalize(&x);
	rec_normalize(&y);
	assert_memory_equal(&x, &y, sizeof(x));
}

/* Read @path back, with the interface names of its meta file if any. */
static void read_back(const char *path, struct collect *c,
		      struct st_pcapin_stats *st)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout_meta *m = calloc(1, sizeof(*m));
	struct st_pcapin *p = NULL;
	size_t i;

	assert_non_null(m);
	if (st_pcapin_open(&p, path, err) != 0)
		fail_msg("%s", err);
	if (st_pcapout_read_meta(path, m, err) == 0)
		for (i = 0; i < m->nifs; i++)
			assert_int_equal(
				st_pcapin_set_ifname(p, m->ifs[i].index,
						     m->ifs[i].name, err),
				0);
	if (st_pcapin_read(p, collect_cb, c, err) != 0)
		fail_msg("%s", err);
	st_pcapin_stats(p, st);
	st_pcapin_close(p);
	free(m);
}

static void test_round_trip(void **state)
{
	struct st_pcapout_meta meta = {.backend = "iptables-legacy",
				       .session = 42,
				       .group = 42,
				       .netns = "/proc/4242/ns/net",
				       .pod = "default/web-1",
				       .start = {1700000000, 5}};
	char path[256], err[ST_ERRBUF_SIZE] = "";
	struct collect *c = calloc(1, sizeof(*c));
	struct st_pcapout *o = NULL;
	struct st_pcapin_stats st;
	struct st_rec want;
	size_t i;

	(void)state;
	assert_non_null(c);
	tl_tmp_path(path, sizeof(path), "rt.pcap");
	assert_int_equal(st_pcapout_open(&o, path, 0, err), 0);
	assert_int_equal(st_pcapout_set_meta(o, &meta, err), 0);
	for (i = 0; i < ST_ARRAY_SIZE(rec_cases); i++) {
		make_rec(&want, &rec_cases[i], i);
		assert_int_equal(st_pcapout_write(o, &want, err), 0);
	}
	assert_int_equal(st_pcapout_close(o, err), 0);

	read_back(path, c, &st);
	assert_int_equal(st.records, ST_ARRAY_SIZE(rec_cases));
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.bad_tags, 0);
	assert_int_equal(st.seq_gaps, 0);
	assert_int_equal(st.snapped, 0);
	assert_int_equal(c->n, ST_ARRAY_SIZE(rec_cases));
	for (i = 0; i < c->n; i++) {
		make_rec(&want, &rec_cases[i], i);
		/*
		 * The one field not kept: of the 1500-byte packet, the 128
		 * bytes we had (pcapout.h); its IP header still says 1500.
		 */
		if (want.payload_len > want.caplen)
			want.payload_len = want.caplen;
		assert_rec_equal(&c->recs[i], &want, i);
	}
	assert_int_equal(c->recs[3].caplen, ST_REC_SNAPLEN);
	assert_int_equal(c->recs[3].payload[2] << 8 | c->recs[3].payload[3],
			 1500);
	assert_int_equal(c->recs[4].seq, 4294967297ull);
	free(c);
}

/* The bytes, against samples/captures/synthetic/written.pcap. */
static void test_golden(void **state)
{
	static uint8_t a[8192], b[8192];
	char path[256];
	size_t na, nb;
	FILE *f;

	(void)state;
	tl_tmp_path(path, sizeof(path), "golden.pcap");
	write_table(path, false);
	if (tl_regen()) {
		unlink(GOLDEN);
		unlink(GOLDEN ".rules");
		unlink(GOLDEN ".meta.json");
		write_table(GOLDEN, true);
	}
	f = fopen(path, "rb");
	assert_non_null(f);
	na = fread(a, 1, sizeof(a), f);
	fclose(f);
	f = fopen(GOLDEN, "rb");
	assert_non_null(f);
	nb = fread(b, 1, sizeof(b), f);
	fclose(f);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	/* Nanosecond pcap, LINKTYPE_NFLOG, in this host's order. */
	assert_int_equal(a[0] | a[1] << 8 | a[2] << 16 | (uint32_t)a[3] << 24,
			 0xa1b23c4d);
	assert_int_equal(a[20] | a[21] << 8, 239);
}

/* The sample's side files, as a replay finds them. */
static void test_sample_side_files(void **state)
{
	static char want[65536], got[65536];
	struct st_pcapout_meta *m = calloc(1, sizeof(*m));
	char err[ST_ERRBUF_SIZE] = "";
	size_t nw, ng;

	(void)state;
	assert_non_null(m);
	if (st_pcapout_read_meta(GOLDEN, m, err) != 0)
		fail_msg("%s", err);
	assert_string_equal(m->backend, sample_meta.backend);
	assert_int_equal(m->session, sample_meta.session);
	assert_int_equal(m->group, sample_meta.group);
	assert_string_equal(m->netns, sample_meta.netns);
	assert_string_equal(m->pod, sample_meta.pod);
	assert_int_equal(m->start.tv_sec, sample_meta.start.tv_sec);
	assert_int_equal(m->start.tv_nsec, 0);
	assert_true(m->end.tv_sec >= m->start.tv_sec);
	assert_int_equal(m->records, ST_ARRAY_SIZE(rec_cases));
	assert_int_equal(m->nrules, 1);
	assert_string_equal(m->rules[0], "rules");
	assert_int_equal(m->nifs, 2);
	nw = tl_read_into(RULES4, want, sizeof(want));
	ng = tl_read_into(GOLDEN ".rules", got, sizeof(got));
	assert_int_equal(ng, nw);
	assert_memory_equal(got, want, nw);
	free(m);
}

static bool have(const char *prog)
{
	static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin",
					   "/usr/sbin", "/sbin"};
	char buf[256];
	size_t i;

	for (i = 0; i < ST_ARRAY_SIZE(dirs); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], prog);
		if (access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

/* tshark decodes prefix, uid and the payload of what we wrote. */
static void test_tshark(void **state)
{
	static const char *const want =
		"st:0000002a:h:nat:ISTIO_OUTPUT:9\t1000\t10.96.0.10\t\t8080\n"
		"st:0000002a:e:nat:ISTIO_INBOUND:0\t\t\tfd00::2\t\n"
		"TRACE: nat:ISTIO_OUTPUT:rule:4 \t1337\t10.0.0.2\t\t\n"
		"st:0000002a:p:istio-proxy-nat:ISTIO_A_VERY_LONG_CHAIN_NAME:0"
		"\t1337\t10.96.0.10\t\t8080\n"
		"\t0\t10.96.0.10\t\t8080\n";
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	if (!have("tshark")) {
		print_message("tshark not installed: skipped\n");
		skip();
	}
	/* No user profile: its contents must not change the answer. */
	setenv("WIRESHARK_CONFIG_DIR", tl_tmpdir(), 1);
	assert_int_equal(st_spawn(TL_ARGV("tshark", "-n", "-r", GOLDEN, "-T",
					  "fields", "-e", "nflog.prefix", "-e",
					  "nflog.uid", "-e", "ip.dst", "-e",
					  "ipv6.dst", "-e", "tcp.dstport"),
				  -1, NULL, 0, 60000, &res, err),
			 0);
	if (res.status != 0)
		fail_msg("tshark: %s", res.errout);
	assert_string_equal(res.out, want);
	st_spawn_result_free(&res);
}

static void test_side_files(void **state)
{
	static const char rules6[] = "*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
	static char text[65536], back[65536];
	struct st_pcapout_meta meta = {.backend = "iptables-legacy",
				       .session = 0xdeadbeef,
				       .group = 7,
				       .netns = "/var/run/netns/pod-1",
				       .pod = "istio-system/istiod-1",
				       .start = {1700000000, 123456789}};
	struct st_pcapout_meta *m = calloc(1, sizeof(*m));
	char path[256], side[300], err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	struct timespec now;
	struct st_rec rec;
	size_t len, blen;

	(void)state;
	assert_non_null(m);
	len = tl_read_into(RULES4, text, sizeof(text));
	tl_tmp_path(path, sizeof(path), "side.pcap");
	assert_int_equal(st_pcapout_open(&o, path, 0, err), 0);
	assert_int_equal(st_pcapout_write_rules(o, 4, text, len, err), 0);
	assert_int_equal(
		st_pcapout_write_rules(o, 6, rules6, sizeof(rules6) - 1, err),
		0);
	assert_int_equal(st_pcapout_write_rules(o, 4, text, len, err), -EEXIST);
	assert_int_equal(st_pcapout_set_meta(o, &meta, err), 0);

	/* Written at once: a run that dies still leaves it. */
	assert_int_equal(st_pcapout_read_meta(path, m, err), 0);
	assert_string_equal(m->backend, "iptables-legacy");
	assert_int_equal(m->records, 0);
	assert_int_equal(m->end.tv_sec, 0);
	assert_int_equal(m->nrules, 2);

	make_rec(&rec, &rec_cases[0], 0);
	assert_int_equal(st_pcapout_write(o, &rec, err), 0);
	make_rec(&rec, &rec_cases[1], 1);
	assert_int_equal(st_pcapout_write(o, &rec, err), 0);
	assert_int_equal(st_pcapout_close(o, err), 0);

	assert_int_equal(st_pcapout_read_meta(path, m, err), 0);
	assert_string_equal(m->backend, "iptables-legacy");
	assert_int_equal(m->session, 0xdeadbeef);
	assert_int_equal(m->group, 7);
	assert_string_equal(m->netns, "/var/run/netns/pod-1");
	assert_string_equal(m->pod, "istio-system/istiod-1");
	assert_int_equal(m->start.tv_sec, 1700000000);
	assert_int_equal(m->start.tv_nsec, 123456789);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(m->end.tv_sec > now.tv_sec - 60 &&
		    m->end.tv_sec <= now.tv_sec);
	assert_int_equal(m->records, 2);
	assert_int_equal(m->nrules, 2);
	assert_string_equal(m->rules[0], "rules");
	assert_string_equal(m->rules[1], "rules6");
	/* The names of the interfaces the records mention. */
	assert_int_equal(m->nifs, 2);
	assert_int_equal(m->ifs[0].index, 1);
	assert_string_equal(m->ifs[0].name, "lo");
	assert_int_equal(m->ifs[1].index, 2);
	assert_string_equal(m->ifs[1].name, "eth0");

	/* The rules exactly as given. */
	assert_int_equal(
		st_pcapout_side_path(side, sizeof(side), path, "rules"), 0);
	blen = tl_read_into(side, back, sizeof(back));
	assert_int_equal(blen, len);
	assert_memory_equal(back, text, len);
	unlink(side);
	assert_int_equal(
		st_pcapout_side_path(side, sizeof(side), path, "rules6"), 0);
	blen = tl_read_into(side, back, sizeof(back));
	assert_int_equal(blen, sizeof(rules6) - 1);
	unlink(side);
	assert_int_equal(st_pcapout_side_path(side, 8, path, "rules"),
			 -ENAMETOOLONG);
	st_pcapout_side_path(side, sizeof(side), path, "meta.json");
	unlink(side);
	unlink(path);
	free(m);
}

/* ---- refusals and write errors ------------------------------------- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void assert_text(const char *path, const char *text)
{
	char buf[256];
	size_t n;

	n = tl_read_into(path, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

static void test_refusals(void **state)
{
	struct st_pcapout_meta meta = {.backend = "nftables"};
	char path[256], target[256], side[300], err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	struct stat sb;

	(void)state;
	tl_tmp_path(path, sizeof(path), "r.pcap");
	tl_tmp_path(target, sizeof(target), "target");

	/* An existing file is kept, unless asked to overwrite. */
	write_text(path, "precious");
	assert_int_equal(st_pcapout_open(&o, path, 0, err), -EEXIST);
	assert_null(o);
	assert_non_null(strstr(err, "refusing to overwrite"));
	assert_text(path, "precious");
	assert_int_equal(st_pcapout_open(&o, path, ST_PCAPOUT_OVERWRITE, err),
			 0);
	assert_int_equal(st_pcapout_close(o, err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 24);
	unlink(path);
	/* A new capture is private: it holds packet heads. */
	assert_int_equal(st_pcapout_open(&o, path, 0, err), 0);
	assert_int_equal(st_pcapout_close(o, err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	unlink(path);

	/* A symlink planted in its place: refused, even to overwrite. */
	write_text(target, "target");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(st_pcapout_open(&o, path, 0, err), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(st_pcapout_open(&o, path, ST_PCAPOUT_OVERWRITE, err),
			 -ELOOP);
	assert_text(target, "target");
	unlink(path);
	/* Dangling: the target is not created. */
	unlink(target);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(st_pcapout_open(&o, path, 0, err), -ELOOP);
	assert_int_equal(lstat(target, &sb), -1);
	unlink(path);

	/* A symlink where a side file goes. */
	write_text(target, "target");
	assert_int_equal(st_pcapout_open(&o, path, 0, err), 0);
	st_pcapout_side_path(side, sizeof(side), path, "rules");
	assert_int_equal(symlink(target, side), 0);
	assert_int_equal(st_pcapout_write_rules(o, 4, "x", 1, err), -ELOOP);
	unlink(side);
	st_pcapout_side_path(side, sizeof(side), path, "meta.json");
	assert_int_equal(symlink(target, side), 0);
	assert_int_equal(st_pcapout_set_meta(o, &meta, err), -EEXIST);
	assert_int_equal(st_pcapout_close(o, err), 0);
	assert_text(target, "target");
	unlink(path);

	/* Overwriting replaces the link itself, never what it points to. */
	assert_int_equal(st_pcapout_open(&o, path, ST_PCAPOUT_OVERWRITE, err),
			 0);
	assert_int_equal(st_pcapout_set_meta(o, &meta, err), 0);
	assert_int_equal(st_pcapout_close(o, err), 0);
	assert_text(target, "target");
	assert_int_equal(lstat(side, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	unlink(side);
	unlink(path);
	unlink(target);

	/* Misuse. */
	assert_int_equal(st_pcapout_open(NULL, path, 0, err), -EINVAL);
	assert_int_equal(st_pcapout_open(&o, "", 0, err), -EINVAL);
	assert_int_equal(st_pcapout_write(NULL, NULL, err), -EINVAL);
	assert_int_equal(st_pcapout_close(NULL, err), 0);
	assert_int_equal(st_pcapout_records(NULL), 0);
	tl_tmp_path(path, sizeof(path), "no/such/dir.pcap");
	assert_int_equal(st_pcapout_open(&o, path, 0, err), -ENOENT);
}

static void test_dev_full(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	struct stat sb;

	(void)state;
	if (stat("/dev/full", &sb) != 0 || !S_ISCHR(sb.st_mode))
		skip();
	/* It exists: only an overwrite opens it; the header hits ENOSPC. */
	assert_int_equal(st_pcapout_open(&o, "/dev/full", 0, err), -EEXIST);
	assert_int_equal(
		st_pcapout_open(&o, "/dev/full", ST_PCAPOUT_OVERWRITE, err),
		-ENOSPC);
	assert_null(o);
	assert_non_null(strstr(err, "/dev/full: write failed: "));
	assert_non_null(strstr(err, strerror(ENOSPC)));
	/* And it is still there. */
	assert_int_equal(stat("/dev/full", &sb), 0);
	assert_true(S_ISCHR(sb.st_mode));
}

/* The disk fills in the middle: EFBIG from a file size limit. */
static void test_full_midway(void **state)
{
	struct rlimit old, lim;
	char path[256], err[ST_ERRBUF_SIZE] = "", err2[ST_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	void (*oldsig)(int);
	struct st_rec rec;
	int ret = 0, i;

	(void)state;
	tl_tmp_path(path, sizeof(path), "fsize.pcap");
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(st_pcapout_open(&o, path, 0, err), 0);
	lim = old;
	lim.rlim_cur = 4096 + 512;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	make_rec(&rec, &rec_cases[0], 0);
	for (i = 0; i < 1000 && ret == 0; i++)
		ret = st_pcapout_write(o, &rec, err);
	if (ret == 0)
		ret = st_pcapout_flush(o, err);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(ret, -EFBIG);
	assert_non_null(strstr(err, "write failed"));
	/* No more writes; the same error, and at close. */
	assert_int_equal(st_pcapout_write(o, &rec, err2), -EFBIG);
	assert_string_equal(err2, err);
	assert_int_equal(st_pcapout_close(o, err2), -EFBIG);
	unlink(path);
}

static void test_meta_bad(void **state)
{
	static const struct {
		const char *json;
		int ret;
	} cases[] = {
		{"{\"version\": 1}", 0},
		{"not json", -EINVAL},
		{"[1]", -EINVAL},
		{"{\"version\": 2}", -EINVAL},
		{"{}", -EINVAL},
		{"{\"version\": 1, \"group\": 65536}", -EINVAL},
		{"{\"version\": 1, \"session\": -1}", -EINVAL},
		{"{\"version\": 1, \"rules\": [\"../../etc/passwd\"]}",
		 -EINVAL},
		{"{\"version\": 1, \"rules\": [\"rules\", \"rules6\", "
		 "\"rules\"]}",
		 -EINVAL},
		{"{\"version\": 1, \"interfaces\": [{\"index\": 1, \"name\": "
		 "\"a-name-far-too-long\"}]}",
		 -EINVAL},
		{"{\"version\": 1, \"interfaces\": [{\"index\": 0, \"name\": "
		 "\"lo\"}]}",
		 -EINVAL},
		{"{\"version\": 1, \"start\": \"yesterday\"}", -EINVAL},
		{"{\"version\": 1, \"start\": \"2025-01-02T03:04:05.5Z\"}", 0},
		{"{\"version\": 1, \"backend\": 4}", -EINVAL},
		{"{\"version\": 1, \"version\": 1}", -EINVAL},
	};
	struct st_pcapout_meta *m = calloc(1, sizeof(*m));
	char path[256], side[300], err[ST_ERRBUF_SIZE] = "";
	size_t i;

	(void)state;
	assert_non_null(m);
	tl_tmp_path(path, sizeof(path), "m.pcap");
	st_pcapout_side_path(side, sizeof(side), path, "meta.json");
	unlink(side);
	assert_int_equal(st_pcapout_read_meta(path, m, err), -ENOENT);
	for (i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		write_text(side, cases[i].json);
		if (st_pcapout_read_meta(path, m, err) != cases[i].ret)
			fail_msg("%s: want %d (%s)", cases[i].json,
				 cases[i].ret, err);
	}
	/* The last good one: half a second. */
	write_text(side, "{\"version\": 1, \"start\": "
			 "\"2025-01-02T03:04:05.5Z\"}");
	assert_int_equal(st_pcapout_read_meta(path, m, err), 0);
	assert_int_equal(m->start.tv_sec, 1735787045);
	assert_int_equal(m->start.tv_nsec, 500000000);
	unlink(side);
	free(m);
}

static int setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("stt-pcapout");
}

static int teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_sample_side_files),
		cmocka_unit_test(test_tshark),
		cmocka_unit_test(test_side_files),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_dev_full),
		cmocka_unit_test(test_full_midway),
		cmocka_unit_test(test_meta_bad),
	};

	return cmocka_run_group_tests_name("pcapout", tests, setup, teardown);
}
