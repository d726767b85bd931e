// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_drawsink.c - -o while tracing or replaying (drawsink.h), framed by
 * the canonical flows of the rules: a canonical flow handed to the sink
 * is drawn byte for byte as `--diagram` draws it (st_diagram_write_file()
 * with the same frame), into a file and into a directory, for rule sets
 * of several backends and kinds of pod; without the frame flows a looping
 * type is laid out otherwise; a frame offered after drawing began is
 * dropped (and freed).
 */
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

#include "diagram.h"
#include "drawsink.h"
#include "pipe.h"
#include "scenario.h"
#include "testlib.h"

/* A sample rule set (or a v4/v6 pair). */
struct ds_case {
	const char *name;
	const char *rules[2];
};

static const struct ds_case cases[] = {
	{"1.17 iptables-legacy", {"istio-1.17_redirect_default_legacy.rules"}},
	{"1.25 TPROXY", {"istio-1.25_tproxy_dns_legacy.rules"}},
	{"1.26 dual-stack iptables-nft",
	 {"istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
	  "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"}},
	{"1.28 native nftables",
	 {"istio-1.28plus_native-nftables_redirect_default.nft.json"}},
	{"ambient in-pod", {"istio-1.26plus_ambient-inpod_dns_nft.rules"}},
};

/* Rules analysed and their canonical flows, pointing into them. */
struct ds_env {
	struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_scenarios *sc;
	const struct st_flow *frame[ST_SCENARIO_COUNT];
	char err[ST_ERRBUF_SIZE];
};

static void ds_load(struct ds_env *e, const struct ds_case *c)
{
	char files[2][1024];
	const char *paths[2];
	unsigned int n = 0;

	memset(e, 0, sizeof(*e));
	for (; n < 2 && c->rules[n] != NULL; n++) {
		snprintf(files[n], sizeof(files[n]), "%s/rules/%s", ST_SAMPLES,
			 c->rules[n]);
		paths[n] = files[n];
	}
	if (st_pipe_rules_load(&e->rs, paths, n, e->err) < 0 ||
	    st_pipe_rules_accept(e->rs, &e->set, ST_PIPE_USE_ANY, NULL,
				 e->err) < 0)
		fail_msg("%s: %s", c->name, e->err);
	e->sc = st_scenario_run(e->rs, &e->set, e->err);
	if (e->sc == NULL)
		fail_msg("%s: %s", c->name, e->err);
	for (size_t i = 0; i < ST_SCENARIO_COUNT; i++)
		e->frame[i] = st_scenario_flow(e->sc, i);
}

/* The rules go to a sink: only the scenarios are left to free. */
static void ds_free(struct ds_env *e)
{
	st_scenario_free(e->sc);
	st_ruleset_free(e->rs);
}

/* The canonical diagram of @flow, as `--diagram` draws it (no pod). */
static void ds_canonical(struct ds_env *e, const struct st_flow *flow,
			 const char *path)
{
	struct st_graph_opts g;

	memset(&g, 0, sizeof(g));
	g.rs = e->rs;
	g.set = &e->set;
	g.frame = e->frame;
	g.nframe = ST_SCENARIO_COUNT;
	if (st_diagram_write_file(flow, &g, path, e->err) < 0)
		fail_msg("%s: %s", path, e->err);
}

static void ds_same_file(const char *want, const char *got, const char *what)
{
	size_t wlen = 0, glen = 0;
	char *w = tl_read_file(want, &wlen);
	char *g = tl_read_file(got, &glen);

	if (wlen != glen || memcmp(w, g, wlen) != 0)
		fail_msg("%s: %s differs from the canonical %s", what, got,
			 want);
	free(w);
	free(g);
}

/*
 * A sink on a fresh copy of the case's rules, framed by their canonical
 * flows (as the CLI hands them over); @e2 keeps the scenarios.
 */
static struct st_drawsink *ds_sink(const struct ds_case *c, const char *path,
				   struct ds_env *e2, unsigned int nflows)
{
	struct st_drawsink *d;

	ds_load(e2, c);
	d = st_drawsink_new(path, NULL, e2->err);
	if (d == NULL)
		fail_msg("%s: %s", path, e2->err);
	st_drawsink_set_frame(d, e2->rs, &e2->set, e2->frame, nflows);
	e2->rs = NULL; /* the sink's now */
	assert_true(st_drawsink_has_frame(d));
	return d;
}

static void ds_finish(struct st_drawsink *d)
{
	struct st_flow_stats stats;
	const char *msg;

	memset(&stats, 0, sizeof(stats));
	assert_int_equal(st_drawsink_ops()->summary(d, &stats), 0);
	if (st_drawsink_failed(d, &msg) < 0)
		fail_msg("%s", msg);
	st_drawsink_free(d);
}

/* One file per canonical flow: the same drawing as --diagram's. */
static void test_file_is_canonical(void **state)
{
	(void)state;
	for (size_t c = 0; c < ST_ARRAY_SIZE(cases); c++) {
		struct ds_env e, e2;

		ds_load(&e, &cases[c]);
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			struct st_drawsink *d;
			char want[512], got[512], name[96];

			if (e.frame[i] == NULL)
				continue;
			st_diagram_file_name(e.frame[i], "svg", name,
					     sizeof(name));
			tl_tmp_path(want, sizeof(want), "want.svg");
			tl_tmp_path(got, sizeof(got), "got.svg");
			ds_canonical(&e, e.frame[i], want);
			d = ds_sink(&cases[c], got, &e2, ST_SCENARIO_COUNT);
			assert_int_equal(
				st_drawsink_ops()->flow(d, e2.frame[i], NULL),
				0);
			ds_finish(d);
			ds_free(&e2);
			ds_same_file(want, got, cases[c].name);
		}
		ds_free(&e);
	}
}

/* A directory: each type's file is its canonical diagram. */
static void test_directory_is_canonical(void **state)
{
	(void)state;
	for (size_t c = 0; c < ST_ARRAY_SIZE(cases); c++) {
		struct st_drawsink *d;
		struct ds_env e, e2;
		char dir[512], want[512], got[1024], name[96];
		unsigned int drawn = 0;

		ds_load(&e, &cases[c]);
		tl_tmp_path(dir, sizeof(dir), "dir");
		d = ds_sink(&cases[c], dir, &e2, ST_SCENARIO_COUNT);
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++)
			if (e2.frame[i] != NULL)
				st_drawsink_ops()->flow(d, e2.frame[i], NULL);
		ds_finish(d);
		ds_free(&e2);
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			if (e.frame[i] == NULL)
				continue;
			st_diagram_file_name(e.frame[i], "svg", name,
					     sizeof(name));
			tl_tmp_path(want, sizeof(want), "want.svg");
			snprintf(got, sizeof(got), "%s/%s", dir, name);
			ds_canonical(&e, e.frame[i], want);
			ds_same_file(want, got, cases[c].name);
			unlink(got);
			drawn++;
		}
		assert_true(drawn > 0);
		ds_free(&e);
	}
}

/*
 * The frame flows are what puts the nodes in place: without them the
 * loop of type 4 (1.17) is laid out on its own, another drawing.
 */
static void test_unframed_differs(void **state)
{
	struct st_drawsink *d;
	struct ds_env e, e2;
	char want[512], got[512];
	size_t wlen = 0, glen = 0;
	char *w, *g;

	(void)state;
	ds_load(&e, &cases[0]);
	assert_non_null(e.frame[3]);
	assert_int_equal(e.frame[3]->type, 4);
	tl_tmp_path(want, sizeof(want), "want.svg");
	tl_tmp_path(got, sizeof(got), "got.svg");
	ds_canonical(&e, e.frame[3], want);
	d = ds_sink(&cases[0], got, &e2, 0);
	st_drawsink_ops()->flow(d, e2.frame[3], NULL);
	ds_finish(d);
	ds_free(&e2);
	w = tl_read_file(want, &wlen);
	g = tl_read_file(got, &glen);
	assert_false(wlen == glen && memcmp(w, g, wlen) == 0);
	free(w);
	free(g);
	ds_free(&e);
}

/* Rules offered once drawing began are freed, not used. */
static void test_late_frame(void **state)
{
	struct st_drawsink *d;
	struct ds_env e;
	char dir[512];

	(void)state;
	ds_load(&e, &cases[0]);
	tl_tmp_path(dir, sizeof(dir), "late");
	d = st_drawsink_new(dir, NULL, e.err);
	assert_non_null(d);
	assert_false(st_drawsink_has_frame(d));
	st_drawsink_ops()->flow(d, e.frame[1], NULL);
	assert_true(st_drawsink_has_frame(d));
	/* The sink takes the rules either way (LeakSanitizer checks). */
	st_drawsink_set_frame(d, tl_load_rules(cases[0].rules[0]), &e.set,
			      e.frame, ST_SCENARIO_COUNT);
	ds_finish(d);
	ds_free(&e);
}

static int setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("st-drawsink");
}

static int teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

/* Graphviz's own leaks (tests/lsan.supp) need whole malloc stacks. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_is_canonical),
		cmocka_unit_test(test_directory_is_canonical),
		cmocka_unit_test(test_unframed_differs),
		cmocka_unit_test(test_late_frame),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
