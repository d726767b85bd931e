// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_term.c - the path drawn as boxes (render/term.h): the six canonical
 * flows of two eras of rules (simulated by scenario.h, as --diagram draws
 * them), a type 0 flow and an incomplete one, in UTF-8 and ASCII, at 40
 * and 120 columns, against golden files samples/term/NAME.CHARSET-WIDTH.txt
 * (ST_REGEN=1 rewrites them); and, independently of the goldens: every
 * line fits the width, ASCII output is ASCII, the boxes of a single row
 * read exactly as the path text for every sample rule set, the brace
 * covers what is inside the pod, write errors are reported, and the
 * terminal's settings are detected from COLUMNS and the locale.
 */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "eval.h"
#include "istio.h"
#include "path.h"
#include "scenario.h"
#include "simspec.h"
#include "term.h"
#include "testlib.h"

#define R117 "istio-1.17_redirect_default_legacy.rules"
#define R120 "istio-1.20_redirect_dns_legacy.rules"
#define RNFT "istio-1.28plus_native-nftables_redirect_default.nft.json"

struct env {
	struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_scenarios *sc;
	char err[ST_ERRBUF_SIZE];
};

static void load(struct env *e, const char *rules)
{
	memset(e, 0, sizeof(*e));
	e->rs = tl_load_analyze(rules, &e->set);
	e->sc = st_scenario_run(e->rs, &e->set, e->err);
	if (e->sc == NULL)
		fail_msg("%s: %s", rules, e->err);
}

static void unload(struct env *e)
{
	st_scenario_free(e->sc);
	st_ruleset_free(e->rs);
	memset(e, 0, sizeof(*e));
}

static char *render(const struct st_flow *f, unsigned int width, bool utf8,
		    bool no_title)
{
	struct st_term_opts o = {
		.width = width, .utf8 = utf8, .no_title = no_title};
	char err[ST_ERRBUF_SIZE] = "";
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	if (st_term_render(out, f, &o, err) != 0)
		fail_msg("st_term_render: %s", err);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* Columns of a line: UTF-8 continuation bytes take none. */
static size_t columns(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static void check_shape(const char *name, const char *text, unsigned int width,
			bool utf8)
{
	const char *line = text;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);

		assert_non_null(nl);
		/* The heading is text, not drawing: it may be longer. */
		if (line != text && columns(line, len) > width)
			fail_msg("%s: a line of %zu columns at width %u:\n%.*s",
				 name, columns(line, len), width, (int)len,
				 line);
		if (len > 0 && line[len - 1] == ' ')
			fail_msg("%s: trailing blank: '%.*s'", name, (int)len,
				 line);
		for (size_t i = 0; i < len && !utf8; i++)
			if ((unsigned char)line[i] >= 0x80)
				fail_msg("%s: non-ASCII in ASCII mode: %.*s",
					 name, (int)len, line);
		line = nl + 1;
	}
}

/* ---- golden files ---------------------------------------------------- */

static const unsigned int widths[] = {40, 120};

/* A file per era, charset and width: the path text, then the boxes. */
static void golden_flows(const char *base, const struct st_flow *const *flows,
			 size_t n)
{
	for (size_t w = 0; w < ST_ARRAY_SIZE(widths); w++)
		for (int u = 0; u < 2; u++) {
			char name[512];
			char *all = NULL;
			size_t len = 0;
			FILE *out = open_memstream(&all, &len);

			assert_non_null(out);
			for (size_t i = 0; i < n; i++) {
				char *text =
					render(flows[i], widths[w], u, true);

				check_shape(base, text, widths[w], u);
				if (i > 0)
					fputc('\n', out);
				assert_int_equal(st_path_print(out, flows[i]),
						 0);
				fputs(text, out);
				free(text);
			}
			assert_int_equal(fclose(out), 0);
			snprintf(name, sizeof(name), "%s/term/%s.%s-%u.txt",
				 ST_SAMPLES, base, u ? "utf8" : "ascii",
				 widths[w]);
			tl_golden(name, all);
			free(all);
		}
}

static void test_six_types(void **state)
{
	static const char *const eras[] = {R117, RNFT};

	(void)state;
	for (size_t k = 0; k < ST_ARRAY_SIZE(eras); k++) {
		const struct st_flow *flows[ST_SCENARIO_COUNT];
		char base[128];
		struct env e;

		load(&e, eras[k]);
		assert_int_equal(st_scenario_count(e.sc), ST_SCENARIO_COUNT);
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			flows[i] = st_scenario_flow(e.sc, i);
			assert_non_null(flows[i]);
			assert_int_equal(flows[i]->type, (int)i + 1);
		}
		/* The era's name without ".rules" or ".nft.json". */
		snprintf(base, sizeof(base), "%.*s",
			 (int)(strstr(eras[k], strstr(eras[k], ".nft.json")
						       ? ".nft.json"
						       : ".rules") -
			       eras[k]),
			 eras[k]);
		golden_flows(base, flows, ST_SCENARIO_COUNT);
		unload(&e);
	}
}

/*
 * A type 0 flow (DNS captured to the proxy's port, which ends the path)
 * and an incomplete one: the type 2 app leg whose records stop in
 * ISTIO_REDIRECT, the upstream leg never seen.
 */
static void test_type0_incomplete(void **state)
{
	struct st_eval_result *dns = calloc(1, sizeof(*dns));
	struct st_flow *inc = calloc(1, sizeof(*inc));
	const struct st_flow *flows[2];
	struct st_eval_env env;
	struct st_simspec spec;
	struct st_flow_leg *l = NULL;
	struct env e;
	char path[1024];
	char *text = NULL;

	(void)state;
	assert_non_null(dns);
	assert_non_null(inc);
	load(&e, R120);
	st_eval_env_lab(&env, e.rs, &e.set);
	if (st_simspec_parse("udp 10.244.1.10:43000 > 10.96.0.10:53 uid 1000",
			     &spec, e.err) < 0)
		fail_msg("%s", e.err);
	if (st_eval_flow(&env, &spec, dns, e.err) < 0)
		fail_msg("%s", e.err);
	assert_int_equal(dns->flow.type, 0);
	assert_int_equal(dns->flow.klass, ST_CLASS_DNS_CAPTURE);

	*inc = *st_scenario_flow(e.sc, 1);
	l = &inc->legs[0];
	assert_true(l->redirect_hop > 0);
	/* ISTIO_REDIRECT entered, then nothing more. */
	l->hops[l->redirect_hop].kind = ST_HIT_ENTER;
	l->hops[l->redirect_hop].r = NULL;
	l->hops[l->redirect_hop].rule = 0;
	l->nhops = (unsigned int)l->redirect_hop + 1;
	l->redirect_hop = -1;
	l->redirect_port = 0;
	l->capture = ST_CAPTURE_NONE;
	l->incomplete = true;
	inc->nlegs = 1;
	inc->type = 0;
	inc->klass = ST_CLASS_INCOMPLETE;
	st_strlcpy(inc->reason, "records stop in nat:ISTIO_REDIRECT",
		   sizeof(inc->reason));
	st_path_format(inc, path, sizeof(path));
	assert_string_equal(path, "Local Pod -> OUTPUT -> ISTIO_OUTPUT RULE 10 "
				  "-> ISTIO_REDIRECT (records missing) -> "
				  "Remote Pod");

	text = render(inc, 80, false, false);
	assert_memory_equal(text,
			    "[0 incomplete]  10.244.1.10:43210 -> "
			    "10.244.2.20:9080; records stop in "
			    "nat:ISTIO_REDIRECT\n   +-",
			    strlen("[0 incomplete]  10.244.1.10:43210 -> "
				   "10.244.2.20:9080; records stop in "
				   "nat:ISTIO_REDIRECT\n   +-"));
	free(text);

	flows[0] = &dns->flow;
	flows[1] = inc;
	golden_flows("type0-incomplete", flows, 2);
	unload(&e);
	free(inc);
	free(dns);
}

/* ---- structure, independent of the goldens ----------------------------- */

/*
 * With room for one row, the boxes' texts joined with " -> " are the path
 * text: for every canonical flow of every sample rule set that has them.
 */
static void test_same_story(void **state)
{
	static const char *const sets[] = {
		"istio-1.4_redirect_default_legacy.rules",
		"istio-1.6_redirect_default_legacy.rules",
		"istio-1.9_redirect_dns_legacy.rules",
		R117,
		R120,
		"istio-1.24_redirect_dns_legacy.rules",
		"istio-1.25_tproxy_dns_legacy.rules",
		"istio-1.26plus_redirect_default_nft.rules",
		"istio-1.26plus_redirect_dns_dualstack_nft.v6.rules",
		RNFT,
		"istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase."
		"nft.json",
	};
	unsigned int checked = 0;

	(void)state;
	for (size_t k = 0; k < ST_ARRAY_SIZE(sets); k++) {
		struct env e;

		load(&e, sets[k]);
		for (size_t i = 0; i < st_scenario_count(e.sc); i++) {
			const struct st_flow *f = st_scenario_flow(e.sc, i);
			char want[1024], got[1024] = "";
			char *text = NULL, *mid = NULL, *p = NULL;
			size_t gl = 0;

			if (f == NULL || f->nlegs == 0)
				continue;
			st_path_format(f, want, sizeof(want));
			text = render(f, ST_TERM_MAX_WIDTH, false, true);
			/* Lines: top, middle (the arrows), bottom, brace. */
			mid = strchr(text, '\n');
			assert_non_null(mid);
			mid++;
			*strchr(mid, '\n') = '\0';
			assert_memory_equal(mid, "   | ", 5);
			p = mid + 5;
			for (;;) {
				char *end = strstr(p, " |-->| ");

				if (end == NULL) {
					size_t n = strlen(p);

					assert_true(n >= 2);
					assert_string_equal(p + n - 2, " |");
					snprintf(got + gl, sizeof(got) - gl,
						 "%.*s", (int)(n - 2), p);
					break;
				}
				gl += (size_t)snprintf(
					got + gl, sizeof(got) - gl, "%.*s -> ",
					(int)(end - p), p);
				p = end + 7;
			}
			if (strcmp(got, want) != 0)
				fail_msg("%s type %d:\n boxes %s\n path  %s",
					 sets[k], f->type, got, want);
			checked++;
			free(text);
		}
		unload(&e);
	}
	assert_true(checked >= 50);
}

/* The brace spans exactly the boxes inside the pod. */
static void test_brace(void **state)
{
	struct env e;

	(void)state;
	load(&e, R117);
	for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
		const struct st_flow *f = st_scenario_flow(e.sc, i);
		struct st_path_step steps[ST_PATH_MAX_STEPS];
		unsigned int n = st_path_steps(f, steps, ST_PATH_MAX_STEPS);
		char *text = render(f, ST_TERM_MAX_WIDTH, false, true);
		char *lines[5] = {text};
		unsigned int nl = 1;
		size_t first = 0, last = 0, c = 0;

		for (char *p = text; *p != '\0' && nl < 5; p++)
			if (*p == '\n') {
				*p = '\0';
				lines[nl++] = p + 1;
			}
		assert_int_equal(nl, 5); /* top, middle, bottom, brace, "" */
		/* The top line's corners, in pairs: one box each. */
		for (unsigned int k = 0; k < n; k++) {
			size_t left = 0, right = 0;

			while (lines[0][c] != '+')
				c++;
			left = c++;
			while (lines[0][c] != '+')
				c++;
			right = c++;
			if (steps[k].kind == ST_PATH_START ||
			    steps[k].kind == ST_PATH_END)
				assert_int_equal(
					steps[k].outside,
					strcmp(steps[k].name, "Remote Pod") ==
							0 ||
						strcmp(steps[k].name,
						       "Prometheus") == 0 ||
						strcmp(steps[k].name,
						       "Istiod") == 0);
			if (steps[k].outside)
				continue;
			if (first == 0)
				first = left;
			last = right;
		}
		assert_null(strchr(lines[0] + c, '+'));
		assert_true(strlen(lines[3]) == last + 1);
		assert_int_equal(lines[3][first], '`');
		assert_int_equal(lines[3][last], '\'');
		assert_non_null(strstr(lines[3], " pod "));
		for (size_t k = 0; k < first; k++)
			assert_int_equal(lines[3][k], ' ');
		free(text);
	}
	unload(&e);
}

/* Narrow widths: rows wrap with a connector, long texts wrap in a box. */
static void test_narrow(void **state)
{
	struct env e;
	char *text = NULL;

	(void)state;
	load(&e, R117);
	/* Below the minimum: drawn at the minimum. */
	text = render(st_scenario_flow(e.sc, 3), 5, true, true);
	check_shape("type 4 at 5 columns", text, ST_TERM_MIN_WIDTH, true);
	free(text);
	text = render(st_scenario_flow(e.sc, 0), 40, false, true);
	/* Each row after the first is entered from the connector. */
	assert_non_null(strstr(text, "--+\n"));
	assert_non_null(strstr(text, "\n+-"));
	assert_non_null(strstr(text, "\n+->| "));
	free(text);
	unload(&e);
}

static void test_empty_and_errors(void **state)
{
	struct st_flow *f = calloc(1, sizeof(*f));
	struct st_term_opts o = {.width = 80};
	char err[ST_ERRBUF_SIZE] = "";
	char *text = NULL;
	struct env e;
	FILE *ro = NULL;

	(void)state;
	assert_non_null(f);
	text = render(f, 80, true, false);
	assert_string_equal(text, "");
	free(text);
	free(f);

	load(&e, R117);
	ro = fopen("/dev/null", "r");
	assert_non_null(ro);
	assert_int_equal(st_term_render(ro, st_scenario_flow(e.sc, 1), &o, err),
			 -EIO);
	assert_true(err[0] != '\0');
	fclose(ro);
	/* NULL options: 80 columns, ASCII, with the heading. */
	{
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		assert_non_null(out);
		assert_int_equal(st_term_render(out, st_scenario_flow(e.sc, 1),
						NULL, err),
				 0);
		assert_int_equal(fclose(out), 0);
		check_shape("defaults", text, 80, false);
		assert_memory_equal(text, "[2 local-to-remote]  ", 21);
		free(text);
	}
	unload(&e);
}

static void test_detect(void **state)
{
	struct st_term_opts o;
	char before[128];

	(void)state;
	st_strlcpy(before, setlocale(LC_CTYPE, NULL), sizeof(before));
	setenv("COLUMNS", "132", 1);
	setenv("LC_ALL", "C", 1);
	st_term_detect(&o);
	assert_int_equal(o.width, 132);
	assert_false(o.utf8);
	assert_false(o.no_title);
	setenv("COLUMNS", "wide", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	st_term_detect(&o);
	assert_int_equal(o.width, 80);
	if (setlocale(LC_CTYPE, "C.UTF-8") != NULL) {
		setlocale(LC_CTYPE, before);
		assert_true(o.utf8);
	}
	unsetenv("COLUMNS");
	st_term_detect(&o);
	assert_int_equal(o.width, 80);
	setenv("COLUMNS", "99999", 1);
	st_term_detect(&o);
	assert_int_equal(o.width, ST_TERM_MAX_WIDTH);
	assert_string_equal(setlocale(LC_CTYPE, NULL), before);
	unsetenv("COLUMNS");
	unsetenv("LC_ALL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_six_types),
		cmocka_unit_test(test_type0_incomplete),
		cmocka_unit_test(test_same_story),
		cmocka_unit_test(test_brace),
		cmocka_unit_test(test_narrow),
		cmocka_unit_test(test_empty_and_errors),
		cmocka_unit_test(test_detect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
