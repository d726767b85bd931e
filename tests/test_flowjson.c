// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_flowjson.c - the JSON Lines of flows and of the summary: key order,
 * "ip:port" and "[ip6]:port", null owners, redirect_port only when
 * redirected, the return hop's rule number, incomplete legs.
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

#include "flow.h"
#include "flowjson.h"

static void add_hop(struct st_flow_leg *l, const char *table, const char *chain,
		    enum st_hit_kind kind, unsigned int rule)
{
	struct st_flow_hop *h = &l->hops[l->nhops++];

	h->table = table;
	h->chain = chain;
	h->kind = kind;
	h->rule = rule;
	h->builtin = strcmp(chain, "OUTPUT") == 0 ||
		     strcmp(chain, "PREROUTING") == 0;
	h->istio = !h->builtin;
	h->chain_rules = 9;
}

static void set_addr(struct st_flow_leg *l, const char *src, uint16_t sport,
		     const char *dst, uint16_t dport)
{
	int af = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;

	l->family = af == AF_INET6 ? 6 : 4;
	assert_int_equal(inet_pton(af, src, l->src), 1);
	assert_int_equal(inet_pton(af, dst, l->dst), 1);
	l->sport = sport;
	l->dport = dport;
}

static char *dump(json_t *o)
{
	char *s = NULL;

	assert_non_null(o);
	/* As st_flowjson_write_summary() writes it. */
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
				  JSON_REAL_PRECISION(15));
	json_decref(o);
	assert_non_null(s);
	return s;
}

static void test_type2(void **state)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_flow_leg *a = &f->legs[0];
	struct st_flow_leg *b = &f->legs[1];
	char *s = NULL;

	(void)state;
	assert_non_null(f);
	f->type = 2;
	f->nlegs = 2;
	set_addr(a, "10.0.0.7", 50000, "10.96.0.20", 80);
	a->proto = IPPROTO_TCP;
	a->has_uid = a->has_gid = true;
	a->uid = a->gid = 1000;
	st_strlcpy(a->outdev, "eth0", sizeof(a->outdev));
	a->capture = ST_CAPTURE_OUTBOUND;
	a->redirect_port = 15001;
	a->ts.tv_sec = 1700000000;
	a->ts.tv_nsec = 123456789;
	a->packets = 1;
	add_hop(a, "nat", "OUTPUT", ST_HIT_RULE, 1);
	add_hop(a, "nat", "ISTIO_OUTPUT", ST_HIT_RULE, 9);
	set_addr(b, "10.0.0.7", 50010, "10.0.2.9", 8080);
	b->proto = IPPROTO_TCP;
	b->has_uid = b->has_gid = true;
	b->uid = 0;
	b->gid = 1337;
	b->ts.tv_sec = 1700000000;
	b->ts.tv_nsec = 124000000;
	b->packets = 3;
	add_hop(b, "nat", "ISTIO_OUTPUT", ST_HIT_ENTER, 0);
	add_hop(b, "nat", "ISTIO_OUTPUT", ST_HIT_RETURN, 10);
	add_hop(b, "nat", "OUTPUT", ST_HIT_POLICY, 0);
	s = dump(st_flowjson_flow(f, "A -> B"));
	assert_string_equal(
		s,
		"{\"type\":2,\"type_name\":\"local-to-remote\","
		"\"class\":\"local-to-remote\",\"reason\":null,\"envoy\":null,"
		"\"path\":\"A -> B\",\"legs\":["
		"{\"src\":\"10.0.0.7:50000\",\"dst\":\"10.96.0.20:80\","
		"\"proto\":\"tcp\",\"uid\":1000,\"gid\":1000,\"hops\":["
		"{\"table\":\"nat\",\"chain\":\"OUTPUT\",\"rule\":1,"
		"\"kind\":\"rule\"},"
		"{\"table\":\"nat\",\"chain\":\"ISTIO_OUTPUT\",\"rule\":9,"
		"\"kind\":\"rule\"}],"
		"\"redirect_port\":15001,\"in\":null,\"out\":\"eth0\","
		"\"ts\":\"2023-11-14T22:13:20.123456Z\",\"packets\":1,"
		"\"complete\":true},"
		"{\"src\":\"10.0.0.7:50010\",\"dst\":\"10.0.2.9:8080\","
		"\"proto\":\"tcp\",\"uid\":0,\"gid\":1337,\"hops\":["
		"{\"table\":\"nat\",\"chain\":\"ISTIO_OUTPUT\",\"rule\":0,"
		"\"kind\":\"enter\"},"
		"{\"table\":\"nat\",\"chain\":\"ISTIO_OUTPUT\",\"rule\":10,"
		"\"kind\":\"return\"},"
		"{\"table\":\"nat\",\"chain\":\"OUTPUT\",\"rule\":0,"
		"\"kind\":\"policy\"}],"
		"\"in\":null,\"out\":null,\"ts\":\"2023-11-14T22:13:20.124000Z\","
		"\"packets\":3,\"complete\":true}]}");
	free(s);
	free(f);
}

/* IPv6, an arriving leg (no owner), type 0 with its reason, incomplete. */
static void test_type0_ipv6(void **state)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_flow_leg *a = &f->legs[0];
	char *s = NULL;

	(void)state;
	assert_non_null(f);
	f->type = 0;
	f->klass = ST_CLASS_INCOMPLETE;
	st_strlcpy(f->reason, "leg 1: records lost", sizeof(f->reason));
	f->nlegs = 1;
	set_addr(a, "fd00:10:244::5", 40300, "fd00:10:244::7", 8080);
	a->proto = IPPROTO_SCTP;
	a->arriving = true;
	st_strlcpy(a->indev, "eth0", sizeof(a->indev));
	a->incomplete = true;
	a->truncated = true;
	st_strlcpy(a->why, "records lost: walk stopped in nat:ISTIO_INBOUND",
		   sizeof(a->why));
	add_hop(a, "nat", "PREROUTING", ST_HIT_ENTER, 0);
	s = dump(st_flowjson_flow(f, NULL));
	assert_string_equal(
		s,
		"{\"type\":0,\"type_name\":\"other\",\"class\":\"incomplete\","
		"\"reason\":\"leg 1: records lost\",\"envoy\":null,"
		"\"path\":\"Remote Pod -> PREROUTING -> Local Pod\",\"legs\":["
		"{\"src\":\"[fd00:10:244::5]:40300\","
		"\"dst\":\"[fd00:10:244::7]:8080\",\"proto\":\"sctp\","
		"\"uid\":null,\"gid\":null,\"hops\":["
		"{\"table\":\"nat\",\"chain\":\"PREROUTING\",\"rule\":0,"
		"\"kind\":\"enter\"}],"
		"\"in\":\"eth0\",\"out\":null,\"ts\":\"1970-01-01T00:00:00.000000Z\","
		"\"packets\":0,\"complete\":false,"
		"\"why\":\"records lost: walk stopped in nat:ISTIO_INBOUND\","
		"\"hops_truncated\":true}]}");
	free(s);
	free(f);
}

static void test_summary(void **state)
{
	struct st_flow_stats st;
	char *s = NULL;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.flows = 7;
	st.records = 99;
	st.by_type[0] = 2;
	st.by_type[2] = 4;
	st.by_type[6] = 1;
	st.by_class[ST_CLASS_DNS_CAPTURE] = 1;
	st.by_class[ST_CLASS_UNKNOWN] = 1;
	st.lost = 3;
	st.skipped = 5;
	st.evicted = 1;
	s = dump(st_flowjson_summary(&st));
	assert_string_equal(
		s, "{\"summary\":{\"flows\":7,\"by_type\":{\"0\":2,\"1\":0,"
		   "\"2\":4,\"3\":0,\"4\":0,\"5\":0,\"6\":1},\"by_class\":{"
		   "\"bypass\":0,\"excluded-port\":0,\"excluded-cidr\":0,"
		   "\"dns-capture\":1,\"proxy-direct\":0,\"incomplete\":0,"
		   "\"unknown\":1},\"records\":99,\"records_per_flow\":14.14,"
		   "\"lost\":3,\"skipped\":5,\"evicted\":1}}");
	free(s);
}

/* The write functions: one line each, and -EIO on a failing stream. */
static void test_write(void **state)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_flow_stats st;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	FILE *ro = fopen("/dev/null", "r");

	(void)state;
	assert_non_null(f);
	assert_non_null(out);
	assert_non_null(ro);
	memset(&st, 0, sizeof(st));
	f->type = 5;
	f->nlegs = 1;
	set_addr(&f->legs[0], "127.0.0.1", 47000, "127.0.0.1", 15000);
	f->legs[0].proto = IPPROTO_UDP;
	assert_int_equal(st_flowjson_write(out, f), 0);
	assert_int_equal(st_flowjson_write_summary(out, &st), 0);
	assert_int_equal(fclose(out), 0);
	assert_non_null(strstr(text, "\"proto\":\"udp\""));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_non_null(strchr(text, '\n'));
	assert_ptr_equal(strchr(text, '\n') + 1, strstr(text, "{\"summary\""));
	assert_int_equal(st_flowjson_write(ro, f), -EIO);
	fclose(ro);
	free(text);
	free(f);
}

/*
 * The line writer formats JSON by hand for speed; --simulate still goes
 * through the jansson object.  Both must print the same bytes, escapes
 * and UTF-8 included.
 */
static void test_write_equals_object(void **state)
{
	static const char *const reasons[] = {
		"",
		"plain",
		"quote \" backslash \\ newline \n tab \t bell \a",
		"UTF-8: caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x9a\x80",
	};
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_flow_leg *a = &f->legs[0];
	struct st_flow_reqs reqs = {.n = 3};
	struct st_flow_req *q = &reqs.req[0];

	(void)state;
	assert_non_null(f);
	/* Requests of the access log: every field, none, a TCP one. */
	q->has_code = q->has_duration = true;
	q->code = 503;
	q->duration_ms = UINT32_MAX;
	q->host_family = 4;
	q->host_port = 9080;
	memcpy(q->host, (const uint8_t[]){10, 244, 2, 9}, 4);
	st_strlcpy(q->method, "GET", sizeof(q->method));
	st_strlcpy(q->authority, "reviews:9080", sizeof(q->authority));
	st_strlcpy(q->path, "/a?b=\"c\"\\d...", sizeof(q->path));
	st_strlcpy(q->flags, "UF,URX", sizeof(q->flags));
	st_strlcpy(q->cluster, "outbound|9080||reviews.default.svc",
		   sizeof(q->cluster));
	q = &reqs.req[2];
	q->tcp = true;
	q->host_family = 6;
	q->host_port = 5432;
	memcpy(q->host, a->dst, 16);
	f->nlegs = 1;
	set_addr(a, "fd00:10:244::5", 40300, "fd00:10:244::7", 8080);
	a->proto = IPPROTO_TCP;
	a->has_uid = a->has_gid = true;
	a->uid = 4294967295u;
	a->gid = 0;
	st_strlcpy(a->outdev, "eth\"0", sizeof(a->outdev));
	add_hop(a, "nat", "OUTPUT", ST_HIT_ENTER, 0);
	add_hop(a, "nat", "ISTIO_OUTPUT", ST_HIT_RULE, 9);
	/* Every reason with each way of finding Envoy's side, of types 0
	 * and 2 (a reason on a typed flow says what is uncertain). */
	for (size_t i = 0; i < ST_ARRAY_SIZE(reasons) * ST_SIDE__MAX * 2; i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		char *obj = NULL;
		size_t k = i / ST_ARRAY_SIZE(reasons);

		assert_non_null(out);
		f->type = k % 2 == 0 ? 0 : 2;
		f->klass = f->type == 0 ? ST_CLASS_UNKNOWN : ST_CLASS_NONE;
		f->side = (enum st_side)(k / 2);
		memset(&f->pooled, 0, sizeof(f->pooled));
		f->reqs = NULL;
		if (f->side == ST_SIDE_ACCESS_LOG) {
			/* pooled from the log, with or without its flow */
			f->pooled.known = i % 2 == 0;
			f->pooled.family = 4;
			f->pooled.sport = 50000;
			f->pooled.flow_id = 12;
			reqs.total = k % 2 == 0 ? 3 : 7;
			f->reqs = &reqs;
		}
		if (f->side == ST_SIDE_REUSED) {
			f->pooled.known = true;
			f->pooled.family = 6;
			f->pooled.sport = 65535;
			f->pooled.dport = 80;
			f->pooled.flow_id =
				INT64_MAX; /* JSON integers are signed */
			memcpy(f->pooled.src, a->src, 16);
			memcpy(f->pooled.dst, a->dst, 16);
		}
		st_strlcpy(f->reason, reasons[i % ST_ARRAY_SIZE(reasons)],
			   sizeof(f->reason));
		st_strlcpy(a->why, reasons[i % ST_ARRAY_SIZE(reasons)],
			   sizeof(a->why));
		assert_int_equal(st_flowjson_write(out, f), 0);
		assert_int_equal(fclose(out), 0);
		obj = dump(st_flowjson_flow(f, NULL));
		assert_int_equal(len, strlen(obj) + 1);
		assert_memory_equal(text, obj, strlen(obj));
		assert_int_equal(text[len - 1], '\n');
		free(obj);
		free(text);
	}
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type2),
		cmocka_unit_test(test_type0_ipv6),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_equals_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
