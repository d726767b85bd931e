// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pcapin.c - the LINKTYPE_NFLOG reader: a table of good, bad and
 * hostile records through the decoder; whole files (mixed good and bad
 * records, STOP/ERROR from the callback, interface names, an
 * opposite-endian file, pcapng); files that are no good (empty, header
 * only, another link type, cut in a record header and in a record body,
 * not a capture at all); the stored tcpdump captures of
 * samples/captures/synthetic/.  A fresh capture by tcpdump in a throwaway
 * network namespace needs root: test_pcapin_root.c.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include <pcap/nflog.h>

#include <cmocka.h>

#include "netns.h"
#include "pcapin.h"
#include "spawn.h"
#include "testlib.h"
#include "testlib_pcapin.h"

#define SYN_DIR ST_SAMPLES "/captures/synthetic"
#define TAG TL_PCAPIN_TAG

/* ---- building records ---------------------------------------------- */

struct rb {
	uint8_t b[1024];
	size_t n;
};

static void put_bytes(struct rb *r, const void *p, size_t n)
{
	assert_true(r->n + n <= sizeof(r->b));
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void put_pad(struct rb *r)
{
	static const uint8_t zero[4];

	put_bytes(r, zero, (4 - r->n % 4) % 4);
}

/* A TLV whose length field says @len, followed by @n value bytes. */
static void put_raw_tlv(struct rb *r, uint16_t len, uint16_t type,
			const void *v, size_t n, bool pad)
{
	put_bytes(r, &len, 2);
	put_bytes(r, &type, 2);
	if (n > 0)
		put_bytes(r, v, n);
	if (pad)
		put_pad(r);
}

static void put_tlv(struct rb *r, uint16_t type, const void *v, size_t n)
{
	put_raw_tlv(r, (uint16_t)(n + 4), type, v, n, true);
}

static void put_u32(struct rb *r, uint16_t type, uint32_t v)
{
	uint32_t be = htonl(v);

	put_tlv(r, type, &be, 4);
}

static void put_hdr(struct rb *r, uint8_t family, uint8_t version,
		    uint16_t group)
{
	uint16_t g = htons(group);

	r->n = 0;
	put_bytes(r, &family, 1);
	put_bytes(r, &version, 1);
	put_bytes(r, &g, 2);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

/* 127.0.0.1:40000 -> 127.0.0.1:8080, SYN; @extra data bytes. */
static size_t ip4_tcp(uint8_t *p, size_t extra)
{
	memset(p, 0, 40 + extra);
	p[0] = 0x45;
	put_be16(p + 2, (uint16_t)(40 + extra));
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	inet_pton(AF_INET, "127.0.0.1", p + 12);
	inet_pton(AF_INET, "127.0.0.1", p + 16);
	put_be16(p + 20, 40000);
	put_be16(p + 22, 8080);
	p[32] = 5 << 4;
	p[33] = 0x02;
	return 40 + extra;
}

/* [fd00::1]:5353 -> [fd00::2]:53, UDP. */
static size_t ip6_udp(uint8_t *p)
{
	memset(p, 0, 48);
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
}

enum pfx_mode { PFX_OK = 0, PFX_NONUL, PFX_EMPTYVAL, PFX_LONG, PFX_ABSENT };
enum pl_mode {
	PL_V4TCP = 0,
	PL_V6UDP,
	PL_V4_IHL4,
	PL_V4_TOTLEN10,
	PL_VER5,
	PL_V4_SHORT,
	PL_V4_ODD, /* 41 bytes, as the last TLV without padding */
	PL_NONE,
};
enum tail_mode {
	TAIL_NONE = 0,
	TAIL_LEN0,    /* a TLV of length 0 before the payload: loop attempt */
	TAIL_LEN2,    /* a TLV of length 2 */
	TAIL_PAST,    /* a last TLV whose length runs past the end */
	TAIL_STRAY,   /* 2 stray bytes after the last TLV */
	TAIL_NESTED,  /* NFULA_CT with NLA_F_NESTED: ignored */
	TAIL_UNKNOWN, /* type 200, unpadded length 6: ignored */
	TAIL_UNKNOWN_LAST /* the same after the payload */
};

struct spec {
	uint8_t family;
	uint8_t version;
	const char *prefix;
	enum pfx_mode pfx;
	uint16_t uid_size;
	uint16_t ts_size;
	uint64_t ts_sec;
	uint64_t ts_usec;
	bool ts_zero; /* a TIMESTAMP of 0 s */
	enum pl_mode pl;
	enum tail_mode tail;
};

/* The spec's defaults: an IPv4 SYN with every TLV, as the kernel sends. */
static struct spec fix(struct spec s)
{
	if (s.family == 0)
		s.family = s.pl == PL_V6UDP ? 10 : 2;
	if (s.prefix == NULL)
		s.prefix = TAG;
	if (s.uid_size == 0)
		s.uid_size = 4;
	if (s.ts_size == 0)
		s.ts_size = 16;
	if (s.ts_sec == 0)
		s.ts_sec = 1700000000;
	if (s.ts_usec == 0)
		s.ts_usec = 123456;
	return s;
}

static void build(struct rb *r, struct spec s0)
{
	struct spec s = fix(s0);
	uint8_t pl[128], v[200];
	uint8_t ph[4] = {0x08, 0x00, NF_INET_LOCAL_OUT, 0};
	uint64_t ts[2];
	size_t n = 0;

	put_hdr(r, s.family, s.version, 7);
	if (s.pl == PL_V6UDP)
		put_be16(ph, 0x86dd);
	put_tlv(r, NFULA_PACKET_HDR, ph, 4);
	switch (s.pfx) {
	case PFX_OK:
		put_tlv(r, NFULA_PREFIX, s.prefix, strlen(s.prefix) + 1);
		break;
	case PFX_NONUL:
		put_tlv(r, NFULA_PREFIX, s.prefix, strlen(s.prefix));
		break;
	case PFX_EMPTYVAL:
		put_tlv(r, NFULA_PREFIX, NULL, 0);
		break;
	case PFX_LONG:
		/* nft allows 127 characters; we keep 63. */
		memset(v, 'x', 100);
		v[100] = '\0';
		put_tlv(r, NFULA_PREFIX, v, 101);
		break;
	case PFX_ABSENT:
		break;
	}
	put_u32(r, NFULA_IFINDEX_OUTDEV, 1);
	put_u32(r, NFULA_MARK, 0x539);
	ts[0] = htobe64(s.ts_zero ? 0 : s.ts_sec);
	ts[1] = htobe64(s.ts_usec);
	put_tlv(r, NFULA_TIMESTAMP, ts, s.ts_size);
	memset(v, 0, 4);
	v[2] = 0x03;
	v[3] = 0xe8; /* 1000, big-endian */
	put_tlv(r, NFULA_UID, v + 4 - (s.uid_size < 4 ? s.uid_size : 4),
		s.uid_size);
	put_u32(r, NFULA_GID, 1000);
	put_u32(r, NFULA_SEQ, 5);
	if (s.tail == TAIL_LEN0)
		put_raw_tlv(r, 0, 18, v, 4, true);
	if (s.tail == TAIL_LEN2)
		put_raw_tlv(r, 2, 18, v, 4, true);
	if (s.tail == TAIL_NESTED)
		put_raw_tlv(r, 8, 0x8000 | 18, "\0\0\0\0", 4, true);
	if (s.tail == TAIL_UNKNOWN)
		put_raw_tlv(r, 6, 200, "ab", 2, true);

	switch (s.pl) {
	case PL_V4TCP:
	case PL_V4_IHL4:
	case PL_V4_TOTLEN10:
	case PL_VER5:
		n = ip4_tcp(pl, 0);
		if (s.pl == PL_V4_IHL4)
			pl[0] = 0x44;
		if (s.pl == PL_V4_TOTLEN10)
			put_be16(pl + 2, 10);
		if (s.pl == PL_VER5)
			pl[0] = 0x55;
		break;
	case PL_V6UDP:
		n = ip6_udp(pl);
		break;
	case PL_V4_SHORT:
		n = ip4_tcp(pl, 0) - 28;
		break;
	case PL_V4_ODD:
		n = ip4_tcp(pl, 1);
		break;
	case PL_NONE:
		break;
	}
	if (s.pl == PL_V4_ODD)
		put_raw_tlv(r, (uint16_t)(n + 4), NFULA_PAYLOAD, pl, n, false);
	else if (s.pl != PL_NONE)
		put_tlv(r, NFULA_PAYLOAD, pl, n);
	if (s.tail == TAIL_UNKNOWN_LAST)
		put_raw_tlv(r, 6, 200, "ab", 2, true);
	if (s.tail == TAIL_PAST)
		put_raw_tlv(r, 400, 18, v, 4, true);
	if (s.tail == TAIL_STRAY)
		put_bytes(r, "\1\2", 2);
}

/* ---- the decoder, on a table --------------------------------------- */

struct dec_case {
	const char *name;
	struct spec spec;
	size_t cut;   /* keep only this many bytes (0: all) */
	size_t shave; /* or drop this many from the end */
	size_t extra; /* the record was this much longer (pcap len) */
	bool snapped; /* ...and say the record was longer */
	int ret;
	enum st_pcapin_skip why; /* when ret < 0 */
	uint8_t family;		 /* when ret == 0 */
	uint32_t payload_len;
	uint32_t caplen;
	size_t prefix_len;
};

#define TAGLEN (sizeof(TAG) - 1)
#define S(...)              \
	{                   \
		__VA_ARGS__ \
	}
/* Kept whole, or the first @cut bytes. */
#define GOOD(name, spec, cut, snapped, fam, plen, caplen, pfxlen)           \
	{                                                                   \
		name, spec, cut, 0, 0, snapped, 0, ST_PCAPIN_SKIP_MAX, fam, \
			plen, caplen, pfxlen                                \
	}
#define BAD(name, spec, cut, snapped, ret, why)                      \
	{                                                            \
		name, spec, cut, 0, 0, snapped, ret, why, 0, 0, 0, 0 \
	}
/* The last @shave bytes cut off. */
#define SHAVED(name, spec, shave, snapped, ret, why, fam, plen, caplen)        \
	{                                                                      \
		name, spec, 0, shave, 0, snapped, ret, why, fam, plen, caplen, \
			TAGLEN                                                 \
	}
/* All there, but pcap's len says @extra more bytes were in the packet. */
#define EXTRA(name, spec, extra, fam, plen, caplen)                        \
	{                                                                  \
		name, spec, 0, 0, extra, true, 0, ST_PCAPIN_SKIP_MAX, fam, \
			plen, caplen, TAGLEN                               \
	}

static const struct dec_case dec_cases[] = {
	GOOD("ipv4 tcp", S(0), 0, false, 4, 40, 40, TAGLEN),
	GOOD("ipv6 udp", S(.pl = PL_V6UDP), 0, false, 6, 48, 48, TAGLEN),
	GOOD("trace prefix", S(.prefix = "TRACE: nat:OUTPUT:rule:1 "), 0, false,
	     4, 40, 40, 25),
	GOOD("foreign prefix", S(.prefix = "hello"), 0, false, 4, 40, 40, 5),
	GOOD("malformed st: tag, still delivered", S(.prefix = "st:zz"), 0,
	     false, 4, 40, 40, 5),
	GOOD("empty prefix", S(.prefix = ""), 0, false, 4, 40, 40, 0),
	GOOD("no prefix tlv", S(.pfx = PFX_ABSENT), 0, false, 4, 40, 40, 0),
	GOOD("prefix of 100 kept as 63", S(.pfx = PFX_LONG), 0, false, 4, 40,
	     40, 63),
	GOOD("nested CT ignored", S(.tail = TAIL_NESTED), 0, false, 4, 40, 40,
	     TAGLEN),
	GOOD("unknown type ignored", S(.tail = TAIL_UNKNOWN), 0, false, 4, 40,
	     40, TAGLEN),
	GOOD("last tlv unpadded", S(.pl = PL_V4_ODD), 0, false, 4, 41, 41,
	     TAGLEN),
	SHAVED("snapped in the payload", S(0), 4, true, 0, ST_PCAPIN_SKIP_MAX,
	       4, 40, 36),
	/* pcap len says more, but the payload TLV is whole: its own length. */
	EXTRA("longer on the wire, payload whole", S(0), 1460, 4, 40, 40),
	EXTRA("longer on the wire, payload not last",
	      S(.tail = TAIL_UNKNOWN_LAST), 1460, 4, 40, 40),
	SHAVED("snapped in the tcp header", S(0), 10, true, -EINVAL,
	       ST_PCAPIN_SKIP_L3, 0, 0, 0),
	BAD("3 bytes", S(0), 3, false, -EBADMSG, ST_PCAPIN_SKIP_SHORT),
	BAD("version 1", S(.version = 1), 0, false, -EPROTO,
	    ST_PCAPIN_SKIP_VERSION),
	BAD("tlv length 0 (loop)", S(.tail = TAIL_LEN0), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_TLV),
	BAD("tlv length 2", S(.tail = TAIL_LEN2), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_TLV),
	BAD("tlv past the end", S(.tail = TAIL_PAST), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_TLV),
	BAD("stray bytes", S(.tail = TAIL_STRAY), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_TLV),
	SHAVED("payload cut, not snapped", S(0), 4, false, -EBADMSG,
	       ST_PCAPIN_SKIP_TLV, 0, 0, 0),
	BAD("snapped in the prefix", S(0), 20, true, -EBADMSG,
	    ST_PCAPIN_SKIP_TLV),
	BAD("prefix without NUL", S(.pfx = PFX_NONUL), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_PREFIX),
	BAD("prefix of 0 bytes", S(.pfx = PFX_EMPTYVAL), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_PREFIX),
	BAD("uid of 3 bytes", S(.uid_size = 3), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_ATTR),
	BAD("timestamp of 8 bytes", S(.ts_size = 8), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_ATTR),
	BAD("timestamp usec 1000000", S(.ts_usec = 1000000), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_ATTR),
	BAD("timestamp sec 2^63", S(.ts_sec = 1ull << 63), 0, false, -EBADMSG,
	    ST_PCAPIN_SKIP_ATTR),
	BAD("no payload", S(.pl = PL_NONE), 0, false, -ENODATA,
	    ST_PCAPIN_SKIP_NOPAYLOAD),
	BAD("family bridge", S(.family = 7), 0, false, -EAFNOSUPPORT,
	    ST_PCAPIN_SKIP_FAMILY),
	BAD("ipv6 packet, family inet", S(.family = 2, .pl = PL_V6UDP), 0,
	    false, -EAFNOSUPPORT, ST_PCAPIN_SKIP_FAMILY),
	BAD("ipv4 IHL 4", S(.pl = PL_V4_IHL4), 0, false, -EINVAL,
	    ST_PCAPIN_SKIP_L3),
	BAD("ipv4 total length 10", S(.pl = PL_V4_TOTLEN10), 0, false, -EINVAL,
	    ST_PCAPIN_SKIP_L3),
	BAD("ip version 5", S(.pl = PL_VER5), 0, false, -EINVAL,
	    ST_PCAPIN_SKIP_L3),
	BAD("ipv4 header of 12 bytes", S(.pl = PL_V4_SHORT), 0, false, -EINVAL,
	    ST_PCAPIN_SKIP_L3),
};

static void test_decode_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		enum st_pcapin_skip why = ST_PCAPIN_SKIP_MAX;
		char err[ST_ERRBUF_SIZE] = "";
		struct st_rec rec;
		struct rb r;
		size_t caplen;
		int ret;

		build(&r, c->spec);
		caplen = c->cut ? c->cut : r.n - c->shave;
		assert_true(caplen <= r.n);
		ret = st_pcapin_decode_snapped(
			r.b, caplen, c->snapped ? r.n + c->extra : caplen, &rec,
			&why, err);
		if (ret != c->ret)
			fail_msg("%s: got %d (%s), want %d", c->name, ret, err,
				 c->ret);
		if (ret < 0) {
			if (why != c->why)
				fail_msg("%s: reason %s, want %s (%s)", c->name,
					 st_pcapin_skip_name(why),
					 st_pcapin_skip_name(c->why), err);
			assert_true(err[0] != '\0');
			/* The plain entry gives the same answer. */
			if (!c->snapped)
				assert_int_equal(st_pcapin_decode(r.b, caplen,
								  &rec, err),
						 c->ret);
			continue;
		}
		if (rec.family != c->family ||
		    rec.payload_len != c->payload_len ||
		    rec.caplen != c->caplen ||
		    strlen(rec.prefix) != c->prefix_len || !rec.l4_ok)
			fail_msg(
				"%s: family %u len %u caplen %u prefix '%s' l4 %d",
				c->name, rec.family, rec.payload_len,
				rec.caplen, rec.prefix, rec.l4_ok);
	}
}

/* Every field of the kernel-like IPv4 record. */
static void test_decode_fields(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	uint8_t lo[4];
	struct st_rec rec;
	struct rb r;

	(void)state;
	build(&r, (struct spec){0});
	assert_int_equal(st_pcapin_decode(r.b, r.n, &rec, err), 0);
	assert_int_equal(rec.group, 7);
	assert_int_equal(rec.hook, NF_INET_LOCAL_OUT);
	assert_string_equal(rec.prefix, TAG);
	assert_int_equal(rec.hit.kind, ST_HIT_RULE);
	assert_string_equal(rec.hit.table, "nat");
	assert_string_equal(rec.hit.chain, "OUTPUT");
	assert_int_equal(rec.hit.rule, 1);
	assert_int_equal(rec.hit.session, 1);
	assert_true(rec.has_uid);
	assert_int_equal(rec.uid, 1000);
	assert_true(rec.has_gid);
	assert_int_equal(rec.gid, 1000);
	assert_int_equal(rec.mark, 0x539);
	assert_int_equal(rec.indev, 0);
	assert_int_equal(rec.outdev, 1);
	assert_int_equal(rec.seq, 5);
	assert_true(rec.ts_kernel);
	assert_int_equal(rec.ts.tv_sec, 1700000000);
	assert_int_equal(rec.ts.tv_nsec, 123456000);
	assert_int_equal(rec.family, 4);
	assert_int_equal(rec.proto, IPPROTO_TCP);
	inet_pton(AF_INET, "127.0.0.1", lo);
	assert_memory_equal(rec.src, lo, 4);
	assert_memory_equal(rec.dst, lo, 4);
	assert_int_equal(rec.sport, 40000);
	assert_int_equal(rec.dport, 8080);
	assert_int_equal(rec.tcp_flags, 0x02);

	/* A TRACE prefix. */
	build(&r, (struct spec){.prefix = "TRACE: nat:ISTIO_OUTPUT:rule:9 "});
	assert_int_equal(st_pcapin_decode(r.b, r.n, &rec, err), 0);
	assert_int_equal(rec.hit.kind, ST_HIT_RULE);
	assert_true(rec.hit.trace);
	assert_string_equal(rec.hit.chain, "ISTIO_OUTPUT");
	assert_int_equal(rec.hit.rule, 9);

	/* A zero time is "none", as on the live path. */
	build(&r, (struct spec){.ts_zero = true});
	assert_int_equal(st_pcapin_decode(r.b, r.n, &rec, err), 0);
	assert_false(rec.ts_kernel);
	assert_int_equal(rec.ts.tv_sec, 0);

	assert_int_equal(st_pcapin_decode(NULL, 0, &rec, err), -EBADMSG);
	assert_int_equal(st_pcapin_decode(r.b, r.n, NULL, err), -EINVAL);
}

/* ---- files ----------------------------------------------------------- */

/* A capture of raw records, as libpcap writes them. */
static void write_pcap(const char *path, int linktype, const struct rb *recs,
		       size_t n)
{
	pcap_t *dead = pcap_open_dead(linktype, 65535);
	pcap_dumper_t *d;
	size_t i;

	assert_non_null(dead);
	d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (i = 0; i < n; i++) {
		struct pcap_pkthdr h = {
			.ts = {.tv_sec = 1600000000 + (time_t)i, .tv_usec = 7},
			.caplen = (bpf_u_int32)recs[i].n,
			.len = (bpf_u_int32)recs[i].n,
		};

		pcap_dump((u_char *)d, &h, recs[i].b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

/* Good and bad records mixed: bad ones counted, the rest delivered. */
static void test_mixed_file(void **state)
{
	static const struct spec specs[] = {
		{0},
		{.tail = TAIL_LEN0},
		{.pl = PL_V6UDP},
		{.pfx = PFX_NONUL},
		{.pl = PL_V4_IHL4},
		{.prefix = "st:bad"},
		{.tail = TAIL_PAST},
		{0},
	};
	struct rb recs[ST_ARRAY_SIZE(specs)];
	char path[256], err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < ST_ARRAY_SIZE(specs); i++)
		build(&recs[i], specs[i]);
	tl_tmp_path(path, sizeof(path), "mixed.pcap");
	write_pcap(path, DLT_NFLOG, recs, ST_ARRAY_SIZE(recs));
	assert_int_equal(tl_pcapin_read(path, c, &st, err), 0);
	assert_int_equal(c->n, 4);
	assert_int_equal(st.records, 8);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(st.skipped, 4);
	assert_int_equal(st.skipped_by[ST_PCAPIN_SKIP_TLV], 2);
	assert_int_equal(st.skipped_by[ST_PCAPIN_SKIP_PREFIX], 1);
	assert_int_equal(st.skipped_by[ST_PCAPIN_SKIP_L3], 1);
	assert_int_equal(st.bad_tags, 1);
	assert_int_equal(st.snapped, 0);
	assert_int_equal(st.first_skip_record, 2);
	assert_non_null(strstr(st.first_skip, "record 2: "));
	assert_non_null(strstr(st.first_skip, "length 0"));
	assert_int_equal(c->recs[1].family, 6);
	assert_int_equal(c->recs[2].hit.kind, ST_HIT_NONE);
	/* All carry SEQ 5: repeats are not gaps. */
	assert_int_equal(st.seq_gaps, 0);
	for (i = 0; i < 4; i++)
		assert_true(c->recs[i].ts_kernel);
	free(c);
}

/* Records without SEQ or TIMESTAMP: file position and pcap time. */
static void test_seq_and_time(void **state)
{
	struct rb recs[4];
	char path[256], err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	uint8_t pl[64];
	size_t i, n;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 4; i++) {
		put_hdr(&recs[i], 2, 0, 3);
		put_tlv(&recs[i], NFULA_PREFIX, "", 1);
		n = ip4_tcp(pl, 0);
		put_tlv(&recs[i], NFULA_PAYLOAD, pl, n);
	}
	tl_tmp_path(path, sizeof(path), "noseq.pcap");
	write_pcap(path, DLT_NFLOG, recs, 4);
	assert_int_equal(tl_pcapin_read(path, c, &st, err), 0);
	assert_int_equal(c->n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(c->recs[i].seq, i);
		assert_false(c->recs[i].ts_kernel);
		assert_int_equal(c->recs[i].ts.tv_sec, 1600000000 + (time_t)i);
		/* Microsecond file, read at nanosecond precision. */
		assert_int_equal(c->recs[i].ts.tv_nsec, 7000);
		assert_int_equal(c->recs[i].hook, 0xff);
		assert_false(c->recs[i].has_uid);
		assert_int_equal(c->recs[i].group, 3);
	}

	/* SEQ 10, 11, 14, 15: one gap of two, carried into 64 bits. */
	{
		static const uint32_t seqs[] = {10, 11, 14, 15};

		for (i = 0; i < 4; i++) {
			put_hdr(&recs[i], 2, 0, 3);
			put_u32(&recs[i], NFULA_SEQ, seqs[i]);
			n = ip4_tcp(pl, 0);
			put_tlv(&recs[i], NFULA_PAYLOAD, pl, n);
		}
		write_pcap(path, DLT_NFLOG, recs, 4);
		memset(c, 0, sizeof(*c));
		assert_int_equal(tl_pcapin_read(path, c, &st, err), 0);
		for (i = 0; i < 4; i++)
			assert_int_equal(c->recs[i].seq, seqs[i]);
		assert_int_equal(st.seq_gaps, 1);
		assert_int_equal(st.seq_missing, 2);
	}
	free(c);
}

static void test_callback_verdicts(void **state)
{
	struct rb recs[5];
	char path[256], err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin *p = NULL;
	struct st_pcapin_stats st;
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 5; i++)
		build(&recs[i], (struct spec){0});
	tl_tmp_path(path, sizeof(path), "five.pcap");
	write_pcap(path, DLT_NFLOG, recs, 5);

	/* STOP after the second; the next call goes on with the third. */
	assert_int_equal(st_pcapin_open(&p, path, err), 0);
	c->verdict = ST_CB_STOP;
	c->stop_at = 2;
	assert_int_equal(st_pcapin_read(p, tl_recs_cb, c, err), 1);
	assert_int_equal(c->n, 2);
	assert_int_equal(st_pcapin_read(p, tl_recs_cb, c, err), 0);
	assert_int_equal(c->n, 5);
	/* At the end, again: nothing more, no error. */
	assert_int_equal(st_pcapin_read(p, tl_recs_cb, c, err), 0);
	assert_int_equal(c->n, 5);
	st_pcapin_stats(p, &st);
	assert_int_equal(st.delivered, 5);
	st_pcapin_close(p);

	/* ERROR on the third: -ECANCELED. */
	memset(c, 0, sizeof(*c));
	c->verdict = ST_CB_ERROR;
	c->stop_at = 3;
	assert_int_equal(tl_pcapin_read(path, c, &st, err), -ECANCELED);
	assert_int_equal(c->n, 3);

	/* Interface names given by the caller (from the meta file). */
	assert_int_equal(st_pcapin_open(&p, path, err), 0);
	assert_int_equal(st_pcapin_set_ifname(p, 1, "lo", err), 0);
	assert_int_equal(st_pcapin_set_ifname(p, 0, "x", err), -EINVAL);
	assert_int_equal(st_pcapin_set_ifname(p, 2, "a-name-far-too-long", err),
			 -EINVAL);
	for (i = 0; i < ST_PCAPIN_MAX_IFNAMES - 1; i++)
		assert_int_equal(
			st_pcapin_set_ifname(p, 100 + (uint32_t)i, "ethX", err),
			0);
	assert_int_equal(st_pcapin_set_ifname(p, 1000, "full", err), -ENOSPC);
	/* Renaming a known index needs no room. */
	assert_int_equal(st_pcapin_set_ifname(p, 1, "lo", err), 0);
	memset(c, 0, sizeof(*c));
	assert_int_equal(st_pcapin_read(p, tl_recs_cb, c, err), 0);
	assert_string_equal(c->recs[0].outdev_name, "lo");
	assert_string_equal(c->recs[0].indev_name, "");
	st_pcapin_close(p);
	free(c);
}

/*
 * The file as a big-endian host writes it: header and record headers
 * swapped, and (the LINKTYPE_NFLOG quirk) each TLV's length and type.
 */
static void swap_pcap(const char *in, const char *out)
{
	uint8_t *b = malloc(65536);
	size_t n, off, i;
	FILE *f;

	assert_non_null(b);
	f = fopen(in, "rb");
	assert_non_null(f);
	n = fread(b, 1, 65536, f);
	fclose(f);
	assert_true(n >= 24);
	for (i = 0; i < 24; i += i < 4 || i >= 8 ? 4 : 2) {
		size_t w = i < 4 || i >= 8 ? 4 : 2;
		uint8_t t[4];
		size_t k;

		for (k = 0; k < w; k++)
			t[k] = b[i + w - 1 - k];
		memcpy(b + i, t, w);
	}
	off = 24;
	while (off + 16 <= n) {
		uint32_t caplen;
		size_t r, k;

		memcpy(&caplen, b + off + 8, 4);
		for (k = 0; k < 16; k += 4) {
			uint32_t v;

			memcpy(&v, b + off + k, 4);
			v = __builtin_bswap32(v);
			memcpy(b + off + k, &v, 4);
		}
		off += 16;
		for (r = 4; r + 4 <= caplen;) {
			uint16_t l, t;

			memcpy(&l, b + off + r, 2);
			memcpy(&t, b + off + r + 2, 2);
			l = __builtin_bswap16(l);
			t = __builtin_bswap16(t);
			memcpy(b + off + r, &l, 2);
			memcpy(b + off + r + 2, &t, 2);
			l = __builtin_bswap16(l);
			if (l < 4)
				break;
			r += (l + 3u) & ~3u;
		}
		off += caplen;
	}
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
	free(b);
}

static void assert_same_recs(const struct tl_recs *a, const struct tl_recs *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n && i < ST_ARRAY_SIZE(a->recs); i++) {
		struct st_rec x = a->recs[i], y = b->recs[i];

		/* Each reader numbers its tag cache: the reader's, not the
		 * record's. */
		assert_true(x.hit.id_space != y.hit.id_space ||
			    x.hit.id_space == 0);
		x.hit.id_space = y.hit.id_space = 0;
		assert_memory_equal(&x, &y, sizeof(x));
	}
}

static void test_other_byte_order(void **state)
{
	struct rb recs[3];
	char path[256], swapped[256], err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *a = calloc(1, sizeof(*a));
	struct tl_recs *b = calloc(1, sizeof(*b));
	struct st_pcapin_stats st;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	build(&recs[0], (struct spec){0});
	build(&recs[1], (struct spec){.pl = PL_V6UDP});
	build(&recs[2], (struct spec){.prefix = "TRACE: raw:OUTPUT:policy:2 "});
	tl_tmp_path(path, sizeof(path), "le.pcap");
	tl_tmp_path(swapped, sizeof(swapped), "be.pcap");
	write_pcap(path, DLT_NFLOG, recs, 3);
	swap_pcap(path, swapped);
	assert_int_equal(tl_pcapin_read(path, a, &st, err), 0);
	assert_int_equal(tl_pcapin_read(swapped, b, &st, err), 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(a->n, 3);
	assert_same_recs(a, b);
	free(a);
	free(b);
}

/*
 * The decoder table as a capture (samples/captures/synthetic/
 * decode-cases.pcap, also a seed for the fuzzer): through the reader, the
 * same verdicts, counted by reason.
 */
static void write_cases(const char *path)
{
	pcap_t *dead = pcap_open_dead(DLT_NFLOG, 65535);
	pcap_dumper_t *d;
	size_t i;

	assert_non_null(dead);
	d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (i = 0; i < ST_ARRAY_SIZE(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		struct pcap_pkthdr h = {
			.ts = {.tv_sec = 1600000000, .tv_usec = 0}};
		struct rb r;

		build(&r, c->spec);
		h.caplen = (bpf_u_int32)(c->cut ? c->cut : r.n - c->shave);
		h.len = c->snapped ? (bpf_u_int32)(r.n + c->extra) : h.caplen;
		pcap_dump((u_char *)d, &h, r.b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static void test_cases_file(void **state)
{
	static uint8_t a[65536], b[65536];
	uint64_t want[ST_PCAPIN_SKIP_MAX] = {0};
	char path[256], err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	size_t i, na, nb, good = 0;

	(void)state;
	assert_non_null(c);
	tl_tmp_path(path, sizeof(path), "cases.pcap");
	write_cases(path);
	if (tl_regen())
		write_cases(SYN_DIR "/decode-cases.pcap");
	na = tl_read_into(path, a, sizeof(a));
	nb = tl_read_into(SYN_DIR "/decode-cases.pcap", b, sizeof(b));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);

	for (i = 0; i < ST_ARRAY_SIZE(dec_cases); i++) {
		if (dec_cases[i].ret == 0)
			good++;
		else
			want[dec_cases[i].why]++;
	}
	assert_int_equal(
		tl_pcapin_read(SYN_DIR "/decode-cases.pcap", c, &st, err), 0);
	assert_int_equal(st.records, ST_ARRAY_SIZE(dec_cases));
	assert_int_equal(st.delivered, good);
	assert_int_equal(st.skipped, ST_ARRAY_SIZE(dec_cases) - good);
	for (i = 0; i < ST_PCAPIN_SKIP_MAX; i++)
		if (st.skipped_by[i] != want[i])
			fail_msg("%s: %llu skipped, want %llu",
				 st_pcapin_skip_name((enum st_pcapin_skip)i),
				 (unsigned long long)st.skipped_by[i],
				 (unsigned long long)want[i]);
	/* "malformed st: tag" */
	assert_int_equal(st.bad_tags, 1);
	free(c);
}

/* ---- files that are no good ---------------------------------------- */

static void cut_file(const char *in, const char *out, off_t size)
{
	char buf[8192];
	ssize_t n;
	int fd;

	fd = open(in, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n >= size);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)size), size);
	close(fd);
}

struct file_case {
	const char *name;
	int setup;	 /* what to make, see make_bad() */
	int open_ret;	 /* st_pcapin_open() */
	int read_ret;	 /* st_pcapin_read(), when open succeeded */
	size_t records;	 /* delivered before the end or the error */
	const char *msg; /* in the error message */
};

enum {
	BAD_EMPTY,
	BAD_HEADER_ONLY,
	BAD_ETHERNET,
	BAD_CUT_HEADER,
	BAD_CUT_BODY,
	BAD_CUT_FILE_HEADER,
	BAD_GARBAGE,
	BAD_DIR,
	BAD_MISSING,
};

static const struct file_case file_cases[] = {
	{"empty file", BAD_EMPTY, -EINVAL, 0, 0, "empty file (0 bytes)"},
	{"header only", BAD_HEADER_ONLY, 0, 0, 0, NULL},
	{"ethernet", BAD_ETHERNET, -EPROTONOSUPPORT, 0, 0,
	 "link type 1 (EN10MB, Ethernet) is not NFLOG"},
	{"cut in a record header", BAD_CUT_HEADER, 0, -EIO, 2,
	 "truncated after record 2"},
	{"cut in a record body", BAD_CUT_BODY, 0, -EIO, 2,
	 "truncated after record 2"},
	{"cut in the file header", BAD_CUT_FILE_HEADER, -EINVAL, 0, 0,
	 "not a pcap or pcapng capture"},
	{"not a capture", BAD_GARBAGE, -EINVAL, 0, 0,
	 "not a pcap or pcapng capture"},
	{"a directory", BAD_DIR, -EISDIR, 0, 0, "is a directory"},
	{"missing", BAD_MISSING, -ENOENT, 0, 0, "No such file"},
};

static void make_bad(int what, char *path, size_t size)
{
	struct rb recs[3];
	char full[256];
	size_t i;
	int fd;

	for (i = 0; i < 3; i++)
		build(&recs[i], (struct spec){0});
	tl_tmp_path(full, sizeof(full), "three.pcap");
	write_pcap(full, DLT_NFLOG, recs, 3);
	tl_tmp_path(path, size, "bad.pcap");
	unlink(path);
	rmdir(path);
	switch (what) {
	case BAD_EMPTY:
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		close(fd);
		break;
	case BAD_HEADER_ONLY:
		write_pcap(path, DLT_NFLOG, recs, 0);
		break;
	case BAD_ETHERNET:
		write_pcap(path, DLT_EN10MB, recs, 1);
		break;
	case BAD_CUT_HEADER:
		cut_file(full, path, (off_t)(24 + 2 * (16 + recs[0].n) + 7));
		break;
	case BAD_CUT_BODY:
		cut_file(full, path,
			 (off_t)(24 + 2 * (16 + recs[0].n) + 16 + 10));
		break;
	case BAD_CUT_FILE_HEADER:
		cut_file(full, path, 10);
		break;
	case BAD_GARBAGE:
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(
			write(fd, "*nat\n:PREROUTING ACCEPT [0:0]\n", 30), 30);
		close(fd);
		break;
	case BAD_DIR:
		assert_int_equal(mkdir(path, 0700), 0);
		break;
	case BAD_MISSING:
		break;
	}
}

static void test_bad_files(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ST_ARRAY_SIZE(file_cases); i++) {
		const struct file_case *fc = &file_cases[i];
		char path[256], err[ST_ERRBUF_SIZE] = "";
		struct tl_recs *c = calloc(1, sizeof(*c));
		struct st_pcapin *p = NULL;
		struct st_pcapin_stats st;
		int ret;

		assert_non_null(c);
		make_bad(fc->setup, path, sizeof(path));
		ret = st_pcapin_open(&p, path, err);
		if (ret != fc->open_ret)
			fail_msg("%s: open %d (%s), want %d", fc->name, ret,
				 err, fc->open_ret);
		if (ret == 0) {
			ret = st_pcapin_read(p, tl_recs_cb, c, err);
			if (ret != fc->read_ret)
				fail_msg("%s: read %d (%s), want %d", fc->name,
					 ret, err, fc->read_ret);
			assert_int_equal(c->n, fc->records);
			st_pcapin_stats(p, &st);
			assert_int_equal(st.records, fc->records);
			if (ret < 0) {
				char again[ST_ERRBUF_SIZE] = "";

				/* The same answer again, no endless loop. */
				assert_int_equal(
					st_pcapin_read(p, tl_recs_cb, c, again),
					ret);
				assert_string_equal(again, err);
			}
		} else {
			assert_null(p);
		}
		if (fc->msg != NULL && strstr(err, fc->msg) == NULL)
			fail_msg("%s: message '%s' lacks '%s'", fc->name, err,
				 fc->msg);
		/* One line: the CLI prints it as is. */
		assert_null(strchr(err, '\n'));
		if (fc->msg != NULL)
			assert_non_null(strstr(err, path));
		st_pcapin_close(p);
		free(c);
		rmdir(path);
	}
	/* NULLs. */
	assert_int_equal(st_pcapin_open(NULL, "x", NULL), -EINVAL);
	st_pcapin_close(NULL);
	assert_int_equal(st_pcapin_read(NULL, tl_recs_cb, NULL, NULL), -EINVAL);
}

/* ---- real tcpdump captures ------------------------------------------ */

static void test_samples(void **state)
{
	struct tl_recs *a = calloc(1, sizeof(*a));
	struct tl_recs *b = calloc(1, sizeof(*b));
	char err[ST_ERRBUF_SIZE] = "";
	struct st_pcapin_stats st;

	(void)state;
	tl_pcapin_check_group7(SYN_DIR "/tcpdump-nflog7.pcap");
	tl_pcapin_check_group7(SYN_DIR "/tcpdump-nflog7.pcapng");
	tl_pcapin_check_trace(SYN_DIR "/tcpdump-trace0.pcap");
	/* pcapng gives the very same records. */
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(
		tl_pcapin_read(SYN_DIR "/tcpdump-nflog7.pcap", a, &st, err), 0);
	assert_int_equal(
		tl_pcapin_read(SYN_DIR "/tcpdump-nflog7.pcapng", b, &st, err),
		0);
	assert_same_recs(a, b);
	free(a);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("stt-pcapin");
}

static int teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_mixed_file),
		cmocka_unit_test(test_seq_and_time),
		cmocka_unit_test(test_callback_verdicts),
		cmocka_unit_test(test_other_byte_order),
		cmocka_unit_test(test_cases_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests_name("pcapin", tests, setup, teardown);
}
