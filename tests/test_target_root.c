// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_target_root.c - backend detection and rule reading in throwaway network
 * namespaces (prefix stt-), loaded with the sample rule sets through the
 * real iptables-legacy-restore, iptables-nft-restore and nft.  The root
 * namespace is never touched.  Needs root: skipped (exit 77) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "rules.h"
#include "spawn.h"
#include "target.h"
#include "testlib.h"

#define RULES ST_SAMPLES "/rules/"

static char *orig_path;
static unsigned int ns_seq;

/* Run a program in @fd's namespace (or here, -1) and insist it worked. */
static void run_in(int fd, char *const argv[], const char *input, size_t len)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";

	if (st_spawn(argv, fd, input, len, 20000, &res, err) < 0)
		fail_msg("%s: %s", argv[0], err);
	if (res.status != 0)
		fail_msg("%s exited %d: %s", argv[0], res.status, res.errout);
	st_spawn_result_free(&res);
}

static void load(struct tl_netns *n, const char *restore, const char *file)
{
	size_t len;
	char *buf = tl_read_file(file, &len);

	assert_non_null(buf);
	run_in(n->fd, TL_ARGV((char *)restore), buf, len);
	free(buf);
}

static int ns_setup(void **state)
{
	struct tl_netns *n = calloc(1, sizeof(*n));
	char prefix[32];

	if (n == NULL)
		return -1;
	snprintf(prefix, sizeof(prefix), "stt-tgt-%u", ns_seq++);
	if (tl_netns_add(n, prefix) < 0) {
		free(n);
		return -1;
	}
	*state = n;
	return 0;
}

static int ns_teardown(void **state)
{
	struct tl_netns *n = *state;
	int ret = 0;

	setenv("PATH", orig_path, 1);
	if (n == NULL)
		return 0;
	ret = tl_netns_del(n);
	free(n);
	return ret;
}

static size_t file_nrules(const char *const files[])
{
	struct st_ruleset *rs = st_ruleset_new();
	char err[ST_ERRBUF_SIZE] = "";
	size_t i, n;

	assert_non_null(rs);
	for (i = 0; files[i] != NULL; i++)
		if (st_rules_load_file(rs, files[i], err) < 0)
			fail_msg("%s", err);
	n = st_ruleset_nrules(rs);
	st_ruleset_free(rs);
	return n;
}

static bool has_family(const struct st_ruleset *rs, enum st_family f)
{
	size_t i;

	for (i = 0; i < st_ruleset_nchains(rs); i++)
		if (st_ruleset_chain(rs, i)->family == f)
			return true;
	return false;
}

struct load_case {
	const char *name;
	struct {
		const char *prog; /* restore program, or "nft" for nft -f */
		const char *file;
	} load[2];
	const char *files[3]; /* the same rules as files, for the count */
	enum st_backend backend;
	const char *chain[2]; /* table, chain that must be there */
	bool v4, v6;	      /* which save texts hold rules (iptables) */
	const char *note;     /* substring of the note, or NULL: empty */
};

static const struct load_case load_cases[] = {
	{"legacy",
	 {{"iptables-legacy-restore",
	   RULES "istio-1.17_redirect_default_legacy.rules"}},
	 {RULES "istio-1.17_redirect_default_legacy.rules"},
	 ST_BACKEND_LEGACY,
	 {"nat", "ISTIO_OUTPUT"},
	 true,
	 false,
	 NULL},
	{"iptables-nft",
	 {{"iptables-nft-restore",
	   RULES "istio-1.26plus_redirect_default_nft.rules"}},
	 {RULES "istio-1.26plus_redirect_default_nft.rules"},
	 ST_BACKEND_NFT,
	 {"nat", "ISTIO_REDIRECT"},
	 true,
	 false,
	 NULL},
	{"iptables-nft dual stack",
	 {{"iptables-nft-restore",
	   RULES "istio-1.26plus_redirect_dns_dualstack_nft.v4.rules"},
	  {"ip6tables-nft-restore",
	   RULES "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"}},
	 {RULES "istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
	  RULES "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 ST_BACKEND_NFT,
	 {"raw", "ISTIO_OUTPUT_DNS"},
	 true,
	 true,
	 NULL},
	{"native nftables",
	 {{"nft",
	   RULES "istio-1.28plus_native-nftables_redirect_default.nftlist"}},
	 {RULES "istio-1.28plus_native-nftables_redirect_default.nft.json"},
	 ST_BACKEND_NFTABLES,
	 {"istio-proxy-nat", "istio-output"},
	 false,
	 false,
	 NULL},
	/* Istio stays on legacy when legacy has rules; we read as it does */
	{"legacy and iptables-nft",
	 {{"iptables-legacy-restore",
	   RULES "istio-1.17_redirect_default_legacy.rules"},
	  {"iptables-nft-restore",
	   RULES "istio-1.26plus_redirect_default_nft.rules"}},
	 {RULES "istio-1.17_redirect_default_legacy.rules"},
	 ST_BACKEND_LEGACY,
	 {"nat", "ISTIO_INBOUND"},
	 true,
	 false,
	 "iptables-nft also holds Istio rules; using iptables-legacy as Istio does"},
};

static void run_load_case(struct tl_netns *n, const struct load_case *c)
{
	enum st_backend detected = ST_BACKEND_UNKNOWN;
	const struct st_ruleset *rs;
	struct st_tgt *t = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	const char *text;
	size_t i, len;

	for (i = 0; i < 2 && c->load[i].prog != NULL; i++) {
		if (strcmp(c->load[i].prog, "nft") == 0)
			run_in(n->fd,
			       TL_ARGV("nft", "-f", (char *)c->load[i].file),
			       NULL, 0);
		else
			load(n, c->load[i].prog, c->load[i].file);
	}

	if (st_tgt_read(n->fd, NULL, &t, err) < 0)
		fail_msg("%s: %s", c->name, err);
	assert_int_equal(st_tgt_backend(t), c->backend);
	rs = st_tgt_rules(t);
	assert_non_null(rs);
	assert_int_equal(st_ruleset_backend(rs), c->backend);
	/* every rule of the sample came back, no more */
	assert_int_equal(st_ruleset_nrules(rs), file_nrules(c->files));
	assert_non_null(st_ruleset_find_chain(rs, c->chain[0], c->chain[1],
					      ST_FAMILY_ANY));
	if (c->note != NULL)
		assert_non_null(strstr(st_tgt_note(t), c->note));
	else
		assert_string_equal(st_tgt_note(t), "");

	if (c->backend == ST_BACKEND_NFTABLES) {
		text = st_tgt_text(t, ST_FAMILY_ANY, &len);
		assert_true(len > 0 && strlen(text) == len);
		assert_non_null(strstr(text, "{\"nftables\""));
		assert_non_null(strstr(text, "istio-proxy-nat"));
		assert_string_equal(st_tgt_text(t, ST_FAMILY_IPV4, NULL), "");
	} else {
		text = st_tgt_text(t, ST_FAMILY_IPV4, &len);
		assert_int_equal(len > 0, c->v4);
		assert_int_equal(strstr(text, ":ISTIO_") != NULL, c->v4);
		/* the raw save output, as the tool printed it */
		assert_non_null(
			strstr(text, c->backend == ST_BACKEND_NFT
					     ? "(nf_tables)"
					     : "# Generated by iptables-save"));
		text = st_tgt_text(t, ST_FAMILY_IPV6, &len);
		assert_int_equal(strstr(text, ":ISTIO_") != NULL, c->v6);
		assert_int_equal(has_family(rs, ST_FAMILY_IPV6), c->v6);
		assert_true(has_family(rs, ST_FAMILY_IPV4));
	}

	assert_int_equal(st_tgt_detect(n->fd, NULL, &detected, err), 0);
	assert_int_equal(detected, c->backend);

	/* the rules can be moved out and outlive the result */
	{
		struct st_ruleset *own = st_tgt_take_rules(t);

		assert_non_null(own);
		assert_null(st_tgt_rules(t));
		assert_null(st_tgt_take_rules(t));
		st_tgt_free(t);
		assert_true(st_ruleset_nrules(own) > 0);
		st_ruleset_free(own);
	}
}

static void test_legacy(void **state)
{
	run_load_case(*state, &load_cases[0]);
}

static void test_iptables_nft(void **state)
{
	run_load_case(*state, &load_cases[1]);
}

static void test_dual_stack(void **state)
{
	run_load_case(*state, &load_cases[2]);
}

static void test_nftables(void **state)
{
	run_load_case(*state, &load_cases[3]);
}

static void test_legacy_and_nft(void **state)
{
	run_load_case(*state, &load_cases[4]);
}

/* Nothing there: say so, and leave nothing behind (listing only). */
static void test_empty(void **state)
{
	struct tl_netns *n = *state;
	struct st_spawn_result res;
	struct st_tgt *t = NULL;
	enum st_backend b = ST_BACKEND_LEGACY;
	char err[ST_ERRBUF_SIZE] = "";

	assert_int_equal(st_tgt_read(n->fd, NULL, &t, err), -ENODATA);
	assert_null(t);
	assert_non_null(
		strstr(err, "no Istio rules in this network namespace"));
	assert_int_equal(st_tgt_detect(n->fd, NULL, &b, err), -ENODATA);
	assert_int_equal(b, ST_BACKEND_UNKNOWN);

	assert_int_equal(st_spawn(TL_ARGV("iptables-legacy-save"), n->fd, NULL,
				  0, 10000, &res, err),
			 0);
	assert_string_equal(res.out, "");
	st_spawn_result_free(&res);
	assert_int_equal(st_spawn(TL_ARGV("nft", "list", "ruleset"), n->fd,
				  NULL, 0, 10000, &res, err),
			 0);
	assert_string_equal(res.out, "");
	st_spawn_result_free(&res);
}

/* Somebody's rules, none of Istio's. */
static void test_foreign_rules(void **state)
{
	static const char filter[] = "*filter\n"
				     ":INPUT ACCEPT [0:0]\n"
				     "-A INPUT -p tcp --dport 22 -j ACCEPT\n"
				     "COMMIT\n";
	struct tl_netns *n = *state;
	struct st_tgt *t = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	run_in(n->fd, TL_ARGV("iptables-legacy-restore"), filter,
	       sizeof(filter) - 1);
	assert_int_equal(st_tgt_read(n->fd, NULL, &t, err), -ENODATA);
	assert_non_null(
		strstr(err, "no Istio rules in this network namespace"));
	assert_non_null(strstr(
		err, "iptables-legacy holds rules, but no ISTIO_ chain"));
}

static void test_forced_backend(void **state)
{
	struct tl_netns *n = *state;
	struct st_tgt_opts o = {ST_BACKEND_NFT, 0};
	struct st_tgt *t = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	load(n, "iptables-legacy-restore",
	     RULES "istio-1.17_redirect_default_legacy.rules");
	assert_int_equal(st_tgt_read(n->fd, &o, &t, err), -ENODATA);
	assert_non_null(strstr(err, "(looked in iptables-nft)"));
	o.backend = ST_BACKEND_NFTABLES;
	assert_int_equal(st_tgt_read(n->fd, &o, &t, err), -ENODATA);
	o.backend = ST_BACKEND_LEGACY;
	assert_int_equal(st_tgt_read(n->fd, &o, &t, err), 0);
	assert_int_equal(st_tgt_backend(t), ST_BACKEND_LEGACY);
	st_tgt_free(t);
}

/* No tools: -ENOENT naming every program that could not run. */
static void test_missing_programs(void **state)
{
	struct tl_netns *n = *state;
	struct st_tgt_opts o = {ST_BACKEND_LEGACY, 0};
	struct st_tgt *t = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	setenv("PATH", "/nonexistent-h9", 1);
	assert_int_equal(st_tgt_read(n->fd, NULL, &t, err), -ENOENT);
	assert_null(t);
	assert_non_null(strstr(err, "not installed: nft, iptables-legacy-save, "
				    "ip6tables-legacy-save, iptables-nft-save, "
				    "ip6tables-nft-save"));
	assert_int_equal(st_tgt_read(n->fd, &o, &t, err), -ENOENT);
	assert_non_null(strstr(err, "not installed: iptables-legacy-save, "
				    "ip6tables-legacy-save"));
	assert_null(strstr(err, "iptables-nft-save"));
	assert_null(strstr(err, "nft, "));
}

static void test_open_pid(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct stat want, got;
	struct st_tgt *t = NULL;
	int fd;

	(void)state;
	fd = st_tgt_open_pid((int)getpid(), NULL, err);
	if (fd < 0)
		fail_msg("%s", err);
	assert_int_equal(fstat(fd, &got), 0);
	assert_int_equal(stat("/proc/self/ns/net", &want), 0);
	assert_int_equal(got.st_ino, want.st_ino);
	close(fd);
	assert_int_equal(st_tgt_open_pid(0, NULL, err), -EINVAL);
	assert_int_equal(st_tgt_open_pid(-5, NULL, err), -EINVAL);
	assert_int_equal(st_tgt_open_pid(0x7ffffff0, NULL, err), -ESRCH);
	assert_non_null(strstr(err, "no process 2147483632"));
	assert_int_equal(st_tgt_read(-1, NULL, &t, err), -EBADF);
	assert_null(t);
	assert_int_equal(st_tgt_backend(NULL), ST_BACKEND_UNKNOWN);
	assert_string_equal(st_tgt_text(NULL, ST_FAMILY_ANY, NULL), "");
	st_tgt_free(NULL);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_legacy, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_iptables_nft, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_dual_stack, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_nftables, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_legacy_and_nft, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_empty, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_rules, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_forced_backend, ns_setup,
						ns_teardown),
		cmocka_unit_test_setup_teardown(test_missing_programs, ns_setup,
						ns_teardown),
		cmocka_unit_test(test_open_pid),
	};
	const char *p = getenv("PATH");
	int ret;

	tl_need_root("target", NULL);
	orig_path = strdup(p != NULL ? p : "/usr/sbin:/usr/bin:/sbin:/bin");
	ret = cmocka_run_group_tests_name("target", tests, NULL, NULL);
	free(orig_path);
	return ret;
}
