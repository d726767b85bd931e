// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_rules.c - the ruleset container (chains, numbering, lookups,
 * warnings), format detection, and the address-prefix helpers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules-int.h"
#include "testlib.h"

static const struct {
	const char *in;
	int ret;
	uint8_t family;
	uint8_t plen;
	uint8_t first; /* addr[0] */
	uint8_t last;  /* addr[3] (v4) or addr[15] (v6) */
} prefixes[] = {
	{"10.0.0.0/8", 0, ST_FAMILY_IPV4, 8, 10, 0},
	{"127.0.0.6", 0, ST_FAMILY_IPV4, 32, 127, 6},
	{"127.0.0.1/32", 0, ST_FAMILY_IPV4, 32, 127, 1},
	{"0.0.0.0/0", 0, ST_FAMILY_IPV4, 0, 0, 0},
	{"::6", 0, ST_FAMILY_IPV6, 128, 0, 6},
	{"::1/128", 0, ST_FAMILY_IPV6, 128, 0, 1},
	{"fd00::/8", 0, ST_FAMILY_IPV6, 8, 0xfd, 0},
	{"1.2.3.4/33", -EINVAL, 0, 0, 0, 0},
	{"::/129", -EINVAL, 0, 0, 0, 0},
	{"1.2.3.4/-1", -EINVAL, 0, 0, 0, 0},
	{"1.2.3.4/+8", -EINVAL, 0, 0, 0, 0},
	{"1.2.3.4/", -EINVAL, 0, 0, 0, 0},
	{"1.2.3.4/8x", -EINVAL, 0, 0, 0, 0},
	{"1.2.3", -EINVAL, 0, 0, 0, 0},
	{"host.example", -EINVAL, 0, 0, 0, 0},
	{"", -EINVAL, 0, 0, 0, 0},
	{"1111:2222:3333:4444:5555:6666:7777:8888:9999/128", -EINVAL, 0, 0, 0,
	 0},
};

/* st_prefix_parse(): hosts get a full-length prefix; junk is -EINVAL. */
static void test_prefix_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(prefixes); i++) {
		struct st_prefix p;
		int ret = st_prefix_parse(&p, prefixes[i].in);

		if (ret != prefixes[i].ret)
			fail_msg("\"%s\": ret %d", prefixes[i].in, ret);
		if (ret != 0)
			continue;
		assert_int_equal(p.family, prefixes[i].family);
		assert_int_equal(p.plen, prefixes[i].plen);
		assert_int_equal(p.addr[0], prefixes[i].first);
		assert_int_equal(p.addr[p.family == ST_FAMILY_IPV6 ? 15 : 3],
				 prefixes[i].last);
	}
}

/* st_prefix_format(): bare hosts only when asked. */
static void test_prefix_format(void **state)
{
	static const struct {
		const char *in;
		bool bare;
		const char *out;
	} cases[] = {
		{"127.0.0.1", true, "127.0.0.1"},
		{"127.0.0.1", false, "127.0.0.1/32"},
		{"10.96.0.0/12", true, "10.96.0.0/12"},
		{"::6", true, "::6"},
		{"::6", false, "::6/128"},
		{"fd00::/8", true, "fd00::/8"},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		struct st_prefix p;
		char buf[64];

		assert_int_equal(st_prefix_parse(&p, cases[i].in), 0);
		st_prefix_format(&p, cases[i].bare, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
}

/* st_prefix_contains(): byte and bit boundaries, families apart. */
static void test_prefix_contains(void **state)
{
	static const struct {
		const char *prefix;
		const char *addr;
		bool in;
	} cases[] = {
		{"10.0.0.0/8", "10.1.2.3", true},
		{"10.0.0.0/8", "11.0.0.0", false},
		{"10.96.0.0/12", "10.111.255.255", true},
		{"10.96.0.0/12", "10.112.0.0", false},
		{"10.96.0.0/12", "10.95.255.255", false},
		{"0.0.0.0/0", "192.168.1.1", true},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"::6", "::6", true},
		{"::6", "::7", false},
		{"fd00::/7", "fdff::1", true},
		{"fd00::/7", "fe00::1", false},
		{"0.0.0.0/0", "::1", false},
		{"::/0", "1.2.3.4", false},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		struct st_prefix p;
		struct st_prefix a;

		assert_int_equal(st_prefix_parse(&p, cases[i].prefix), 0);
		assert_int_equal(st_prefix_parse(&a, cases[i].addr), 0);
		if (st_prefix_contains(&p, a.family, a.addr) != cases[i].in)
			fail_msg("%s in %s: want %d", cases[i].addr,
				 cases[i].prefix, cases[i].in);
	}
}

/* Rules are numbered 1.. per chain in the order added, whatever the
 * interleaving; the flat view is chain by chain. */
static void test_container(void **state)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct st_chain *a = NULL;
	struct st_chain *b = NULL;
	struct st_rule *r = NULL;
	const struct st_chain *c = NULL;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(st_ruleset_nrules(rs), 0);
	assert_int_equal(st_ruleset_nchains(rs), 0);
	assert_null(st_ruleset_rule(rs, 0));
	assert_null(st_ruleset_chain(rs, 0));
	a = st_ruleset_add_chain(rs, "nat", "OUTPUT", ST_FAMILY_IPV4, "ACCEPT");
	b = st_ruleset_add_chain(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4,
				 "-");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->builtin);
	assert_string_equal(a->policy, "ACCEPT");
	assert_false(b->builtin);
	assert_null(b->policy);
	/* Declaring again returns the same chain. */
	assert_ptr_equal(st_ruleset_add_chain(rs, "nat", "OUTPUT",
					      ST_FAMILY_IPV4, "ACCEPT"),
			 a);
	/* Same name, other family: another chain. */
	assert_ptr_not_equal(st_ruleset_add_chain(rs, "nat", "OUTPUT",
						  ST_FAMILY_IPV6, "ACCEPT"),
			     a);

	r = st_ruleset_add_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4);
	assert_int_equal(r->number, 1);
	r->text = strdup("b1");
	r = st_ruleset_add_rule(rs, "nat", "OUTPUT", ST_FAMILY_IPV4);
	assert_int_equal(r->number, 1);
	r->text = strdup("a1");
	r = st_ruleset_add_rule(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_IPV4);
	assert_int_equal(r->number, 2);
	r->text = strdup("b2");
	assert_true(r->reachable);
	assert_int_equal(r->role, ST_ROLE_NONE);
	assert_ptr_equal(r->table, st_ruleset_intern(rs, "nat"));
	assert_null(st_ruleset_add_rule(rs, "nat", "NOPE", ST_FAMILY_IPV4));
	assert_null(st_ruleset_add_rule(rs, "raw", "OUTPUT", ST_FAMILY_IPV4));

	assert_int_equal(st_ruleset_nrules(rs), 3);
	assert_int_equal(st_ruleset_nchains(rs), 3);
	assert_string_equal(st_ruleset_rule(rs, 0)->text, "a1");
	assert_string_equal(st_ruleset_rule(rs, 1)->text, "b1");
	assert_string_equal(st_ruleset_rule(rs, 2)->text, "b2");
	assert_null(st_ruleset_rule(rs, 3));
	c = st_ruleset_chain(rs, 1);
	assert_string_equal(c->name, "ISTIO_OUTPUT");
	assert_int_equal(c->first, 1);
	assert_int_equal(c->nrules, 2);

	c = st_ruleset_find_chain(rs, "nat", "ISTIO_OUTPUT", ST_FAMILY_ANY);
	assert_non_null(c);
	assert_null(st_ruleset_find_chain(rs, "nat", "ISTIO_OUTPUT",
					  ST_FAMILY_IPV6));
	assert_null(
		st_ruleset_find_chain(rs, "mangle", "OUTPUT", ST_FAMILY_ANY));
	assert_string_equal(st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT",
						 ST_FAMILY_IPV4, 2)
				    ->text,
			    "b2");
	assert_null(st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT",
					 ST_FAMILY_IPV4, 0));
	assert_null(st_ruleset_find_rule(rs, "nat", "ISTIO_OUTPUT",
					 ST_FAMILY_IPV4, 3));
	/* The writable view reaches the same rules. */
	st_ruleset_rule_mut(rs, 2)->role = ST_ROLE_OUTBOUND_CAPTURE;
	assert_int_equal(st_ruleset_rule(rs, 2)->role,
			 ST_ROLE_OUTBOUND_CAPTURE);
	st_ruleset_free(rs);
	st_ruleset_free(NULL);
}

/* Matches start zeroed, with the "no mask" value in .hi. */
static void test_add_match(void **state)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct st_rule *r = NULL;
	struct st_match *m = NULL;

	(void)state;
	assert_non_null(st_ruleset_add_chain(rs, "filter", "INPUT",
					     ST_FAMILY_IPV4, "ACCEPT"));
	r = st_ruleset_add_rule(rs, "filter", "INPUT", ST_FAMILY_IPV4);
	for (int i = 0; i < 20; i++) {
		m = st_rule_add_match(r, ST_M_MARK);
		assert_non_null(m);
		assert_int_equal(m->kind, ST_M_MARK);
		assert_false(m->neg);
		assert_int_equal(m->hi, UINT32_MAX);
		assert_int_equal(m->nports, 0);
		assert_null(m->text);
		m->text = strdup("x");
	}
	assert_int_equal(r->nmatches, 20);
	st_ruleset_free(rs);
}

/* Warnings: a NUL-separated list, "" when none. */
static void test_warnings(void **state)
{
	struct st_ruleset *rs = st_ruleset_new();
	const char *w = NULL;

	(void)state;
	assert_string_equal(st_ruleset_warnings(rs), "");
	assert_int_equal(st_ruleset_add_warning(rs, "one"), 0);
	assert_int_equal(st_ruleset_add_warning(rs, "two"), 0);
	w = st_ruleset_warnings(rs);
	assert_string_equal(w, "one");
	w += strlen(w) + 1;
	assert_string_equal(w, "two");
	w += strlen(w) + 1;
	assert_string_equal(w, "");
	st_ruleset_free(rs);
}

/* Names of backends, targets and roles. */
static void test_names(void **state)
{
	(void)state;
	assert_string_equal(st_backend_name(ST_BACKEND_LEGACY),
			    "iptables-legacy");
	assert_string_equal(st_backend_name(ST_BACKEND_NFT), "iptables-nft");
	assert_string_equal(st_backend_name(ST_BACKEND_NFTABLES), "nftables");
	assert_string_equal(st_backend_name(ST_BACKEND_UNKNOWN), "unknown");
	assert_string_equal(st_target_name(ST_T_REDIRECT), "REDIRECT");
	assert_string_equal(st_target_name(ST_T_UNKNOWN), "UNKNOWN");
	assert_string_equal(st_target_name((enum st_target_kind)999),
			    "UNKNOWN");
	assert_string_equal(st_role_name(ST_ROLE_PROXY_UID_RETURN),
			    "proxy-uid-return");
	assert_string_equal(st_role_name(ST_ROLE__MAX), "other");
	/* Every role has its own name. */
	for (int i = 0; i < ST_ROLE__MAX; i++)
		for (int j = i + 1; j < ST_ROLE__MAX; j++)
			assert_string_not_equal(st_role_name(i),
						st_role_name(j));
}

/* JSON (after blanks) goes to the nft parser, anything else to the
 * iptables-save parser; unreadable files name the path. */
static void test_load(void **state)
{
	static const char json[] = " \n\t{\"nftables\": []}";
	static const char text[] = "*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	(void)state;
	assert_int_equal(st_rules_load_buf(rs, json, strlen(json), "j", err),
			 0);
	assert_int_equal(st_ruleset_backend(rs), ST_BACKEND_NFTABLES);
	assert_int_equal(st_rules_load_buf(rs, text, strlen(text), "t", err),
			 0);
	assert_int_equal(st_ruleset_nchains(rs), 1);
	assert_int_equal(st_rules_load_file(rs, "/nonexistent/x.rules", err),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.rules"));
	assert_int_equal(st_rules_load_file(rs, ST_SAMPLES, err), -EINVAL);
	assert_non_null(strstr(err, ST_SAMPLES));
	st_ruleset_free(rs);
}

/*
 * A dump given by hand must be a rule set: a text file without a table
 * is refused, saying what to run instead; a rule set without Istio rules
 * (or an nft ruleset without tables) is still one.
 */
static void test_load_dump(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		int ret;
		const char *msg;
	} cases[] = {
		{"empty", "", -ENODATA, "empty, not a rule dump"},
		{"blank", "\n \n", -ENODATA, "no table in it"},
		{"comments only", "# Generated by iptables-save v1.8.9\n",
		 -ENODATA, "nft -j list ruleset"},
		{"legacy note only",
		 "# Warning: iptables-legacy tables present, use "
		 "iptables-legacy-save to see them\n",
		 -ENODATA, "dump the pod's rules with iptables-legacy-save"},
		{"a table without Istio",
		 "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", 0, NULL},
		{"legacy note and a table",
		 "# Warning: iptables-legacy tables present, use "
		 "iptables-legacy-save to see them\n*nat\n:OUTPUT ACCEPT "
		 "[0:0]\nCOMMIT\n",
		 0, NULL},
		{"nft without tables", "{\"nftables\": [{\"metainfo\": {}}]}",
		 0, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		char err[ST_ERRBUF_SIZE] = "";
		char path[512];
		struct st_ruleset *rs = st_ruleset_new();

		assert_non_null(rs);
		tl_tmp_path(path, sizeof(path), "dump");
		tl_write_file(path, cases[i].text);
		if (st_rules_load_dump(rs, path, err) != cases[i].ret)
			fail_msg("%s: want %d, got '%s'", cases[i].name,
				 cases[i].ret, err);
		if (cases[i].msg != NULL &&
		    (strstr(err, cases[i].msg) == NULL ||
		     strstr(err, path) == NULL || strchr(err, '\n') != NULL))
			fail_msg("%s: '%s' lacks '%s' or the path",
				 cases[i].name, err, cases[i].msg);
		st_ruleset_free(rs);
		/* The library reader takes any text, as before. */
		rs = st_ruleset_new();
		assert_non_null(rs);
		assert_int_equal(st_rules_load_file(rs, path, err), 0);
		st_ruleset_free(rs);
	}
}

static int group_setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("stt-rules");
}

static int group_teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_format),
		cmocka_unit_test(test_prefix_contains),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_add_match),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_dump),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
