// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * testlib_pcapin.c - reading NFLOG captures back in the tests, and what a
 * tcpdump capture of the standard connections must hold; see
 * testlib_pcapin.h.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"
#include "pcapin.h"
#include "testlib_pcapin.h"

int tl_recs_cb(const struct st_rec *rec, void *data)
{
	struct tl_recs *c = data;

	if (c->n < ST_ARRAY_SIZE(c->recs))
		c->recs[c->n] = *rec;
	c->n++;
	if (c->stop_at != 0 && c->n == c->stop_at)
		return c->verdict;
	return ST_CB_OK;
}

int tl_pcapin_read(const char *path, struct tl_recs *c,
		   struct st_pcapin_stats *st, char *err)
{
	struct st_pcapin *p = NULL;
	int ret;

	ret = st_pcapin_open(&p, path, err);
	if (ret < 0)
		return ret;
	ret = st_pcapin_read(p, tl_recs_cb, c, err);
	st_pcapin_stats(p, st);
	st_pcapin_close(p);
	return ret;
}

const struct st_rec *tl_recs_find(const struct tl_recs *c, uint8_t family,
				  const char *prefix)
{
	size_t i;

	for (i = 0; i < c->n && i < ST_ARRAY_SIZE(c->recs); i++)
		if (c->recs[i].family == family &&
		    strcmp(c->recs[i].prefix, prefix) == 0)
			return &c->recs[i];
	return NULL;
}

static void assert_dst(const struct st_rec *r, const char *want)
{
	uint8_t buf[16] = {0};

	assert_int_equal(
		inet_pton(r->family == 4 ? AF_INET : AF_INET6, want, buf), 1);
	assert_memory_equal(r->dst, buf, r->family == 4 ? 4 : 16);
}

static void assert_syn_from_1000(const struct st_rec *r, const char *dst)
{
	assert_non_null(r);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1000);
	assert_true(r->has_gid);
	assert_int_equal(r->gid, 1000);
	assert_int_equal(r->hook, NF_INET_LOCAL_OUT);
	assert_int_equal(r->outdev, 1);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_true(r->l4_ok);
	assert_int_equal(r->dport, 8080);
	assert_int_equal(r->tcp_flags & 0x12, 0x02);
	assert_dst(r, dst);
	/* tcpdump copies whole packets: we keep the head. */
	assert_true(r->caplen <= ST_REC_SNAPLEN);
	assert_true(r->payload_len >= r->caplen);
}

/* `tcpdump -i nflog:7`: the NFLOG rule's records, IPv4 and IPv6. */
void tl_pcapin_check_group7(const char *path)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	size_t i;

	assert_non_null(c);
	if (tl_pcapin_read(path, c, &st, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.bad_tags, 0);
	assert_true(c->n >= 2);
	for (i = 0; i < c->n; i++) {
		assert_int_equal(c->recs[i].group, 7);
		assert_int_equal(c->recs[i].hit.kind, ST_HIT_RULE);
		assert_string_equal(c->recs[i].hit.table, "nat");
		assert_string_equal(c->recs[i].hit.chain, "OUTPUT");
		assert_int_equal(c->recs[i].hit.rule, 1);
		assert_int_equal(c->recs[i].hit.session, 1);
		assert_false(c->recs[i].hit.trace);
		/* OUTPUT-hook records carry no kernel time. */
		assert_false(c->recs[i].ts_kernel);
		assert_true(c->recs[i].ts.tv_sec > 1700000000);
	}
	assert_syn_from_1000(tl_recs_find(c, 4, TL_PCAPIN_TAG), "127.0.0.1");
	assert_syn_from_1000(tl_recs_find(c, 6, TL_PCAPIN_TAG), "::1");
	free(c);
}

/* `tcpdump -i nflog:0` with nfnetlink_log as nf_log: the TRACE records. */
void tl_pcapin_check_trace(const char *path)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct tl_recs *c = calloc(1, sizeof(*c));
	struct st_pcapin_stats st;
	const struct st_rec *r;
	size_t i, policy = 0;
	int fam;

	assert_non_null(c);
	if (tl_pcapin_read(path, c, &st, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.bad_tags, 0);
	for (i = 0; i < c->n; i++) {
		assert_int_equal(c->recs[i].group, 0);
		assert_true(c->recs[i].hit.trace);
		assert_int_equal(c->recs[i].hit.session, 0);
		if (c->recs[i].hit.kind == ST_HIT_POLICY) {
			assert_int_equal(c->recs[i].hit.rule, 0);
			policy++;
		}
	}
	assert_true(policy > 0);
	for (fam = 4; fam <= 6; fam += 2) {
		r = tl_recs_find(c, (uint8_t)fam, "TRACE: nat:OUTPUT:rule:1 ");
		assert_syn_from_1000(r, fam == 4 ? "127.0.0.1" : "::1");
		assert_int_equal(r->hit.kind, ST_HIT_RULE);
		assert_string_equal(r->hit.table, "nat");
		assert_string_equal(r->hit.chain, "OUTPUT");
		assert_int_equal(r->hit.rule, 1);
		r = tl_recs_find(c, (uint8_t)fam,
				 "TRACE: nat:POSTROUTING:policy:1 ");
		assert_non_null(r);
		assert_int_equal(r->hit.kind, ST_HIT_POLICY);
		/* The SYN comes back in on lo: PREROUTING, with kernel time. */
		r = tl_recs_find(c, (uint8_t)fam,
				 "TRACE: raw:PREROUTING:policy:1 ");
		assert_non_null(r);
		assert_int_equal(r->hook, NF_INET_PRE_ROUTING);
		assert_int_equal(r->indev, 1);
		assert_false(r->has_uid);
		assert_true(r->ts_kernel);
	}
	free(c);
}
