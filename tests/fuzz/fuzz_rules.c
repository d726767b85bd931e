// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_rules.c - libFuzzer target for the rule-set loader: the input is a
 * rule file as --rules reads it, and st_rules_load_buf() picks the parser
 * (nft JSON when the first non-blank byte is '{' or '[', iptables-save
 * text otherwise), so the seed corpus is plain sample files.  A form feed
 * splits the input into two files loaded into one ruleset, as a dual-stack
 * pod's v4 and v6 dumps are.  What loads is then recognised
 * (st_istio_analyze(), which runs the reachability analysis) and rendered
 * as --explain text and JSON, the path `sidecar-trace --explain` takes.
 *
 * Besides what the sanitizers catch, the result must hold together: a
 * clean negative errno with a message, or a ruleset whose chains, rule
 * numbers, strings, roles and derived settings are consistent.
 *
 * tests/test_fuzz_regress.c includes this file with ST_FUZZ_NO_MAIN to
 * replay the crashes kept under samples/fuzz-regress/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "istio.h"
#include "rules.h"

#define ST_FUZZ_SPLIT '\f'

static void st_fuzz_check_err(int ret, const char *err)
{
	if (ret >= 0 || ret < -4095 ||
	    memchr(err, '\0', ST_ERRBUF_SIZE) == NULL || err[0] == '\0')
		__builtin_trap();
}

static void st_fuzz_check_prefix(const struct st_prefix *p)
{
	if ((p->family == ST_FAMILY_IPV4 && p->plen > 32) ||
	    (p->family == ST_FAMILY_IPV6 && p->plen > 128))
		__builtin_trap();
}

static void st_fuzz_check_rule(const struct st_rule *r)
{
	if (r->role >= ST_ROLE__MAX || st_role_name(r->role) == NULL ||
	    r->target.kind > ST_T_UNKNOWN || r->text == NULL)
		__builtin_trap();
	(void)strlen(r->text);
	if (r->why != NULL)
		(void)strlen(r->why);
	if ((r->target.kind == ST_T_JUMP || r->target.kind == ST_T_GOTO) &&
	    r->target.chain == NULL)
		__builtin_trap();
	if (r->target.text != NULL)
		(void)strlen(r->target.text);
	st_fuzz_check_prefix(&r->target.addr);
	for (unsigned int i = 0; i < r->nmatches; i++) {
		const struct st_match *m = &r->matches[i];

		if (m->kind > ST_M_UNKNOWN || m->nports > ST_MAX_PORTS ||
		    memchr(m->ifname, '\0', sizeof(m->ifname)) == NULL)
			__builtin_trap();
		if (m->text != NULL)
			(void)strlen(m->text);
		st_fuzz_check_prefix(&m->addr);
	}
}

static void st_fuzz_check_ruleset(const struct st_ruleset *rs)
{
	size_t n = st_ruleset_nrules(rs);
	size_t nc = st_ruleset_nchains(rs);
	size_t total = 0;

	for (size_t i = 0; i < nc; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (c == NULL || c->name == NULL || c->table == NULL ||
		    c->first > n || c->nrules > n - c->first)
			__builtin_trap();
		for (unsigned int j = 0; j < c->nrules; j++) {
			const struct st_rule *r =
				st_ruleset_rule(rs, c->first + j);

			if (r == NULL || r->number != j + 1 ||
			    strcmp(r->chain, c->name) != 0 ||
			    strcmp(r->table, c->table) != 0)
				__builtin_trap();
			st_fuzz_check_rule(r);
		}
		total += c->nrules;
	}
	if (total != n || st_ruleset_rule(rs, n) != NULL ||
	    st_ruleset_chain(rs, nc) != NULL)
		__builtin_trap();
	(void)strlen(st_ruleset_warnings(rs));
	(void)strlen(st_backend_name(st_ruleset_backend(rs)));
}

static void st_fuzz_check_settings(const struct st_istio_settings *s)
{
	if (s->kind > ST_ISTIO_UNRECOGNISED || s->mode > ST_MODE_TPROXY ||
	    s->era > ST_ERA_NFTABLES || s->nproxy_uids > ST_MAX_IDS ||
	    s->nproxy_gids > ST_MAX_IDS || s->ninbound_ports > ST_MAX_LIST ||
	    s->ninbound_excluded > ST_MAX_LIST ||
	    s->noutbound_excluded > ST_MAX_LIST ||
	    s->noutbound_included > ST_MAX_LIST ||
	    s->nexcluded_cidrs > ST_MAX_LIST ||
	    s->nincluded_cidrs > ST_MAX_LIST || s->ndns_servers > ST_MAX_LIST ||
	    memchr(s->note, '\0', sizeof(s->note)) == NULL)
		__builtin_trap();
	(void)strlen(st_istio_kind_name(s->kind));
	(void)strlen(st_istio_mode_name(s->mode));
	(void)strlen(st_istio_era_name(s->era));
}

/* --explain's output goes nowhere: only its memory accesses matter. */
static FILE *st_fuzz_devnull(void)
{
	static FILE *f;

	if (f == NULL)
		f = fopen("/dev/null", "w");
	if (f == NULL)
		__builtin_trap();
	return f;
}

/*
 * st_fuzz_rules() - load @data as one or two rule files, analyse and
 * explain it.  Return: what the loader or the recogniser returned, with
 * the message in @err.
 */
static int st_fuzz_rules(const uint8_t *data, size_t size, char *err)
{
	const char *buf = (const char *)data;
	const char *split = memchr(buf, ST_FUZZ_SPLIT, size);
	size_t len1 = split != NULL ? (size_t)(split - buf) : size;
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	int ret;

	err[0] = '\0';
	rs = st_ruleset_new();
	if (rs == NULL)
		__builtin_trap();
	ret = st_rules_load_buf(rs, buf, len1, "fuzz.v4", err);
	if (ret == 0 && split != NULL)
		ret = st_rules_load_buf(rs, split + 1, size - len1 - 1,
					"fuzz.v6", err);
	if (ret < 0) {
		st_fuzz_check_err(ret, err);
		goto out;
	}
	st_fuzz_check_ruleset(rs);
	memset(&set, 0, sizeof(set));
	ret = st_istio_analyze(rs, &set, err);
	if (ret < 0) {
		st_fuzz_check_err(ret, err);
		goto out;
	}
	st_fuzz_check_ruleset(rs);
	st_fuzz_check_settings(&set);
	if (st_explain_text(st_fuzz_devnull(), rs, &set) < 0 ||
	    st_explain_json(st_fuzz_devnull(), rs, &set) < 0)
		__builtin_trap();
out:
	st_ruleset_free(rs);
	return ret;
}

#ifndef ST_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ST_ERRBUF_SIZE];

	st_fuzz_rules(data, size, err);
	return 0;
}
#endif
