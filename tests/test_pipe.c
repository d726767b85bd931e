// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pipe.c - the pipeline without a flow table: flows fed from outside
 * go through the filter to stacked sinks in order; --count stops it; a
 * failing sink is the output error and stops it; records of other
 * sessions, lost records and the summary's counters per type and class.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pipe.h"

#define MAX_FLOWS 8
#define MAX_RECS 4

/* A sink that logs its calls as "NAME:flow TYPE " and can fail. */
struct tsink {
	const char *name;
	char *log;
	size_t size;
	unsigned int fail_at; /* the flow call that fails (1-based); 0: none */
	unsigned int calls;
	unsigned int recs;
};

static void tlog(struct tsink *t, const char *what, int type)
{
	size_t n = strlen(t->log);

	snprintf(t->log + n, t->size - n, "%s:%s%d ", t->name, what, type);
}

static int t_rec(void *data, const struct st_rec *rec, char *err)
{
	struct tsink *t = data;

	(void)rec;
	(void)err;
	t->recs++;
	return 0;
}

static int t_flow(void *data, const struct st_flow *f,
		  const struct st_sink_notes *notes)
{
	struct tsink *t = data;

	(void)notes;
	if (++t->calls == t->fail_at)
		return -EPIPE;
	tlog(t, "flow", f->type);
	return 0;
}

static int t_summary(void *data, const struct st_flow_stats *st)
{
	struct tsink *t = data;

	tlog(t, "summary", (int)st->flows);
	return 0;
}

static const struct st_sink_ops t_ops = {
	.rec = t_rec,
	.flow = t_flow,
	.summary = t_summary,
};

struct tflow {
	int type;
	enum st_class klass;
	uint64_t seq; /* its leg's first record */
};

/* A record of session @session, UDP to @dport, number @seq. */
struct trec {
	uint64_t seq;
	uint32_t session;
	uint16_t dport;
};

struct pipe_case {
	const char *name;
	uint64_t count;
	unsigned int fail_at; /* sink a's failing call */
	const char *filter;
	unsigned int nrecs;
	struct trec recs[MAX_RECS];
	uint64_t lost;
	unsigned int nflows;
	struct tflow flows[MAX_FLOWS];
	/* expected */
	const char *log;
	uint64_t written;
	bool count_done;
	int out_errno;
	uint64_t other_session;
	uint64_t by_type[ST_TYPE_MAX + 1];
	uint64_t by_class[ST_CLASS__MAX];
};

static const struct pipe_case cases[] = {
	{
		.name = "sinks stack in order",
		.nflows = 2,
		.flows = {{.type = 2}, {.type = 4}},
		.log = "a:flow2 b:flow2 a:flow4 b:flow4 a:summary2 b:summary2 ",
		.written = 2,
		.by_type = {[2] = 1, [4] = 1},
		.by_class = {[ST_CLASS_NONE] = 2},
	},
	{
		.name = "count stops",
		.count = 2,
		.nflows = 3,
		.flows = {{.type = 1}, {.type = 1}, {.type = 3}},
		.log = "a:flow1 b:flow1 a:flow1 b:flow1 a:summary2 b:summary2 ",
		.written = 2,
		.count_done = true,
		.by_type = {[1] = 2},
		.by_class = {[ST_CLASS_NONE] = 2},
	},
	{
		.name = "a failing sink is the output error",
		.fail_at = 2,
		.nflows = 3,
		.flows = {{.type = 1}, {.type = 2}, {.type = 3}},
		/* b never sees the failed flow; no summary after it */
		.log = "a:flow1 b:flow1 ",
		.written = 1,
		.out_errno = EPIPE,
		.by_type = {[1] = 1},
		.by_class = {[ST_CLASS_NONE] = 1},
	},
	{
		.name = "filter selects by the first records",
		.filter = "udp port 53",
		.nrecs = 2,
		.recs = {{.seq = 7, .dport = 53}, {.seq = 8, .dport = 80}},
		.nflows = 3,
		.flows = {{.type = 6, .seq = 7},
			  {.type = 2, .seq = 8},
			  {.type = 0, .klass = ST_CLASS_BYPASS, .seq = 9}},
		.log = "a:flow6 b:flow6 a:summary1 b:summary1 ",
		.written = 1,
		.by_type = {[6] = 1},
		.by_class = {[ST_CLASS_NONE] = 1},
	},
	{
		.name = "records of other sessions and lost ones counted",
		.nrecs = 3,
		.recs = {{.seq = 1, .session = 5, .dport = 1},
			 {.seq = 2, .session = 6, .dport = 1},
			 {.seq = 3, .session = 5, .dport = 1}},
		.lost = 4,
		.log = "a:summary0 b:summary0 ",
		.other_session = 1,
	},
	{
		.name = "summary counts per type and class",
		.nflows = 4,
		.flows = {{.type = 0, .klass = ST_CLASS_BYPASS},
			  {.type = 0, .klass = ST_CLASS_BYPASS},
			  {.type = 0, .klass = ST_CLASS_INCOMPLETE},
			  {.type = 5}},
		.log = "a:flow0 b:flow0 a:flow0 b:flow0 a:flow0 b:flow0 "
		       "a:flow5 b:flow5 a:summary4 b:summary4 ",
		.written = 4,
		.by_type = {[0] = 3, [5] = 1},
		.by_class = {[ST_CLASS_NONE] = 1,
			     [ST_CLASS_BYPASS] = 2,
			     [ST_CLASS_INCOMPLETE] = 1},
	},
};

/* An IPv4 UDP datagram 10.0.0.1:1000 > 10.0.0.2:@dport, as a record. */
static void make_rec(struct st_rec *r, const struct trec *t)
{
	static const uint8_t ip[28] = {
		0x45, 0, 0,  28, 0, 0, 0,    0,	   64, 17, 0, 0, 10, 0,
		0,    1, 10, 0,	 0, 2, 0x03, 0xe8, 0,  0,  0, 8, 0,  0,
	};

	memset(r, 0, sizeof(*r));
	r->seq = t->seq;
	r->family = 4;
	r->proto = 17;
	r->l4_ok = true;
	r->sport = 1000;
	r->dport = t->dport;
	memcpy(r->payload, ip, sizeof(ip));
	r->payload[22] = (uint8_t)(t->dport >> 8);
	r->payload[23] = (uint8_t)t->dport;
	r->caplen = r->payload_len = sizeof(ip);
	if (t->session != 0) {
		r->hit.kind = ST_HIT_RULE;
		r->hit.session = t->session;
	}
}

static void run_case(const struct pipe_case *c)
{
	char log[512] = "", err[ST_ERRBUF_SIZE] = "";
	struct tsink a = {"a", log, sizeof(log), c->fail_at, 0, 0};
	struct tsink b = {"b", log, sizeof(log), 0, 0, 0};
	struct st_pipe_opts po = {0};
	struct st_pipe_result res;
	struct st_filter *filter = NULL;
	struct st_flow_stats st;
	struct st_pipe *p = NULL;
	struct st_flow f;
	struct st_rec r;
	int ret;

	if (c->filter != NULL)
		assert_int_equal(st_filter_new(&filter, c->filter, err), 0);
	po.filter = filter;
	po.count = c->count;
	po.one_session = true;
	assert_int_equal(st_pipe_new(&p, &po, err), 0);
	assert_int_equal(st_pipe_add_sink(p, &t_ops, &a), 0);
	assert_int_equal(st_pipe_add_sink(p, &t_ops, &b), 0);
	for (unsigned int i = 0; i < c->nrecs; i++) {
		make_rec(&r, &c->recs[i]);
		assert_int_equal(st_pipe_rec(p, &r, err), ST_CB_OK);
	}
	/* Every record reached the record sinks, other sessions' too. */
	assert_int_equal(a.recs, c->nrecs);
	assert_int_equal(b.recs, c->nrecs);
	if (c->lost > 0)
		st_pipe_lost(p, c->lost);
	for (unsigned int i = 0; i < c->nflows; i++) {
		memset(&f, 0, sizeof(f));
		f.type = c->flows[i].type;
		f.klass = c->flows[i].klass;
		f.nlegs = 1;
		f.legs[0].seq = c->flows[i].seq;
		ret = st_pipe_flow(p, &f, NULL);
		assert_int_equal(ret,
				 st_pipe_stopped(p) ? ST_CB_STOP : ST_CB_OK);
	}
	st_pipe_stats(p, &st);
	ret = st_pipe_finish(p, &st, err);
	st_pipe_result(p, &res);
	assert_string_equal(log, c->log);
	assert_int_equal(res.written, c->written);
	assert_int_equal(res.count_done, c->count_done);
	assert_int_equal(res.out_errno, c->out_errno);
	assert_int_equal(res.other_session, c->other_session);
	assert_int_equal(res.lost, c->lost);
	assert_int_equal(st.lost, c->lost);
	assert_int_equal(st.flows, c->written);
	assert_memory_equal(st.by_type, c->by_type, sizeof(st.by_type));
	assert_memory_equal(st.by_class, c->by_class, sizeof(st.by_class));
	if (c->out_errno != 0) {
		assert_int_equal(ret, -c->out_errno);
		assert_non_null(strstr(err, "writing the output failed"));
	} else {
		assert_int_equal(ret, 0);
	}
	st_pipe_free(p);
	st_filter_free(filter);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		run_case(&cases[i]);
	}
}

/* The rules a pipeline reads: the kind of pod decides, per use. */
static void test_rules_accept(void **state)
{
	static const struct {
		const char *name;
		const char *file;
		enum st_pipe_use use;
		int ret;
		enum st_istio_kind kind; /* with ret 0 */
	} rcases[] = {
		{.name = "a sidecar's rules, traced",
		 .file = "istio-1.17_redirect_default_legacy.rules",
		 .use = ST_PIPE_USE_TRACE,
		 .kind = ST_ISTIO_SIDECAR},
		{.name = "an ambient pod's rules, traced (types 7-13)",
		 .file = "istio-1.26plus_ambient-inpod_dns_nft.rules",
		 .use = ST_PIPE_USE_TRACE,
		 .kind = ST_ISTIO_AMBIENT},
		{.name = "an ambient pod's rules, replayed",
		 .file = "istio-1.26plus_ambient-inpod_dns_nft.rules",
		 .use = ST_PIPE_USE_REPLAY,
		 .kind = ST_ISTIO_AMBIENT},
		{.name = "an ambient pod's rules, no ordinary capture",
		 .file = "istio-1.26plus_ambient-inpod_dns_nft.rules",
		 .use = ST_PIPE_USE_INFER,
		 .ret = -ENODATA},
		{.name = "an ambient pod's rules, explained",
		 .file = "istio-1.26plus_ambient-inpod_dns_nft.rules",
		 .use = ST_PIPE_USE_ANY,
		 .kind = ST_ISTIO_AMBIENT},
		{.name = "a missing file",
		 .file = "no-such.rules",
		 .use = ST_PIPE_USE_ANY,
		 .ret = -ENOENT},
	};
	struct st_istio_settings set;
	char path[512], err[ST_ERRBUF_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const char *paths[1] = {path};
		struct st_ruleset *rs = NULL;
		int ret;

		print_message("case: %s\n", rcases[i].name);
		snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
			 rcases[i].file);
		ret = st_pipe_rules_load(&rs, paths, 1, err);
		if (ret == 0)
			ret = st_pipe_rules_accept(rs, &set, rcases[i].use,
						   NULL, err);
		assert_int_equal(ret, rcases[i].ret);
		if (ret == 0)
			assert_int_equal(set.kind, rcases[i].kind);
		st_ruleset_free(rs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_rules_accept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
