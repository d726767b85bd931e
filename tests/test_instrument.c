// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_instrument.c - the NFLOG instrumentation without root: the
 * insertion transaction for every sample rule set against a golden file
 * under samples/instrument/ (ST_REGEN=1 rewrites them), structural
 * properties of every transaction, and a simulation of iptables-restore's
 * -A/-I/-D semantics that checks positions for insertion and removal, also
 * with a second session in between.  The real backends in throwaway
 * namespaces need root: test_instrument_root.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "instrument.h"
#include "record.h"
#include "rules.h"
#include "spawn.h"
#include "testlib.h"

#define SESSION 0x5ca1ab1eu
#define GROUP 5300
#define RULES ST_SAMPLES "/rules/"
#define GOLDEN ST_SAMPLES "/instrument/"

/* ---- helpers -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sample files ending in @suffix, sorted. */
static size_t list_samples(const char *suffix, char ***out)
{
	DIR *d = opendir(RULES);
	struct dirent *de = NULL;
	char **v = NULL;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		if (l <= s || strcmp(de->d_name + l - s, suffix) != 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n] = strdup(de->d_name);
		assert_non_null(v[n]);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void check_golden_as(const char *name, const char *suffix,
			    const char *text)
{
	char path[512];
	char *want = NULL;

	snprintf(path, sizeof(path), GOLDEN "%s%s", name, suffix);
	if (tl_regen()) {
		mkdir(GOLDEN, 0755);
		tl_write_file(path, text);
		return;
	}
	want = tl_read_file(path, NULL);
	if (want == NULL)
		fail_msg("%s: missing golden file (run with ST_REGEN=1 and "
			 "review it)",
			 path);
	if (strcmp(want, text) != 0) {
		char msg[300];

		st_instr_diff(want, text, msg, sizeof(msg));
		fail_msg("%s differs from the golden file: %s", name, msg);
	}
	free(want);
}

static void check_golden(const char *name, const char *text)
{
	check_golden_as(name, ".insert", text);
}

/* Full instrumentation, whose layout most of these tests check. */
static char *render(const struct st_ruleset *rs, enum st_family fam,
		    uint32_t session, unsigned int flags,
		    struct st_instr_summary *sum)
{
	struct st_instr_opts o = {session, GROUP, flags | ST_INSTR_F_FULL};
	char err[ST_ERRBUF_SIZE] = "";
	char *out = NULL;

	if (st_instr_render_insert(rs, fam, &o, &out, sum, err) < 0)
		fail_msg("render: %s", err);
	return out;
}

/* The unquoted value that follows @opt ("--nflog-prefix") in @line. */
static bool opt_value(const char *line, const char *opt, char *buf, size_t size)
{
	const char *p = strstr(line, opt);
	size_t n = 0;

	if (p == NULL)
		return false;
	p += strlen(opt);
	while (*p == ' ')
		p++;
	if (*p == '"') {
		p++;
		while (p[n] != '\0' && p[n] != '"')
			n++;
	} else {
		while (p[n] != '\0' && p[n] != ' ' && p[n] != '\n')
			n++;
	}
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* ---- (a) goldens and structure -------------------------------------- */

/* The matches of "-A CHAIN <matches> -j ..." (no comments in samples). */
static void orig_matches(const char *text, char *buf, size_t size)
{
	const char *p = strchr(text + 3, ' '); /* after "-A CHAIN" */
	const char *j = NULL;

	p = p != NULL ? p : text + strlen(text);
	j = strstr(p, " -j ");
	if (j == NULL)
		j = strstr(p, " -g ");
	if (j == NULL)
		j = p + strlen(p);
	snprintf(buf, size, "%.*s", (int)(j - p), p);
}

/*
 * Every line of a rendered transaction carries a tag that parses back to
 * its own table/chain; each instrumented chain has one enter, one
 * policy/return and one hit per original rule, at the rule's position,
 * with the rule's own matches.
 */
static void check_structure(const struct st_ruleset *rs, enum st_family fam,
			    const char *txn)
{
	char table[32] = "";
	const char *line = txn;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char l[1024], chain[64], prefix[128];
		struct st_hit hit;
		unsigned int pos = 0;

		assert_true(n < sizeof(l));
		memcpy(l, line, n);
		l[n] = '\0';
		line += n + (nl != NULL);
		if (l[0] == '*') {
			st_strlcpy(table, l + 1, sizeof(table));
			continue;
		}
		if (strcmp(l, "COMMIT") == 0)
			continue;
		assert_true(strncmp(l, "-A ", 3) == 0 ||
			    strncmp(l, "-I ", 3) == 0);
		assert_int_equal(sscanf(l + 3, "%63s %u", chain, &pos) >= 1, 1);
		assert_true(
			opt_value(l, "--nflog-prefix", prefix, sizeof(prefix)));
		assert_true(strlen(prefix) <= 63);
		assert_int_equal(st_tag_parse(prefix, &hit), 0);
		assert_int_equal(hit.session, SESSION);
		assert_string_equal(hit.table, table);
		assert_string_equal(hit.chain, chain);
		assert_non_null(
			strstr(l, "--comment \"sidecar-trace:5ca1ab1e\""));
		assert_non_null(strstr(l, "--nflog-group 5300"));
		switch (hit.kind) {
		case ST_HIT_ENTER:
			assert_int_equal(hit.rule, 0);
			assert_int_equal(strncmp(l, "-I ", 3), 0);
			assert_int_equal(pos, 1);
			break;
		case ST_HIT_POLICY:
		case ST_HIT_RETURN: {
			const struct st_chain *c =
				st_ruleset_find_chain(rs, table, chain, fam);

			assert_non_null(c);
			assert_int_equal(hit.kind == ST_HIT_POLICY, c->builtin);
			assert_int_equal(strncmp(l, "-A ", 3), 0);
			assert_int_equal(hit.rule, 0);
			break;
		}
		case ST_HIT_RULE: {
			const struct st_rule *r = st_ruleset_find_rule(
				rs, table, chain, fam, hit.rule);
			char want[1024], got[1024];
			const char *p = strchr(l + 3, ' ');
			const char *end = strstr(l, " -m conntrack --ctstate "
						    "INVALID,NEW,UNTRACKED -m "
						    "comment");

			assert_non_null(r);
			assert_int_equal(pos, hit.rule);
			p = strchr(p + 1, ' '); /* after the position */
			assert_non_null(p);
			if (end == NULL)
				end = strstr(l, " -m comment --comment "
						"\"sidecar-trace:");
			assert_non_null(end);
			snprintf(got, sizeof(got), "%.*s", (int)(end - p), p);
			orig_matches(r->text, want, sizeof(want));
			assert_string_equal(got, want);
			break;
		}
		default:
			fail_msg("bad tag kind in %s", l);
		}
	}
}

/* Count tags per chain and compare with the ruleset. */
static void check_counts(const struct st_ruleset *rs, enum st_family fam,
			 const char *txn, const struct st_instr_summary *sum)
{
	unsigned int nchains = 0, nrules = 0;

	for (size_t i = 0; i < st_ruleset_nchains(rs); i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		char tag[ST_NFLOG_PREFIX_SIZE], q[ST_NFLOG_PREFIX_SIZE + 4];
		struct st_hit h;
		bool has_enter;

		if ((c->family == ST_FAMILY_IPV6 ? ST_FAMILY_IPV6
						 : ST_FAMILY_IPV4) != fam)
			continue;
		memset(&h, 0, sizeof(h));
		h.kind = ST_HIT_ENTER;
		h.session = SESSION;
		snprintf(h.table, sizeof(h.table), "%s", c->table);
		snprintf(h.chain, sizeof(h.chain), "%s", c->name);
		assert_int_equal(st_tag_format(tag, &h), 0);
		snprintf(q, sizeof(q), "\"%s\"", tag);
		has_enter = strstr(txn, q) != NULL;
		/* Every Istio chain is instrumented. */
		if (strncmp(c->name, "ISTIO", 5) == 0 && !has_enter)
			fail_msg("%s %s is not instrumented", c->table,
				 c->name);
		if (!has_enter)
			continue;
		nchains++;
		h.kind = c->builtin ? ST_HIT_POLICY : ST_HIT_RETURN;
		assert_int_equal(st_tag_format(tag, &h), 0);
		snprintf(q, sizeof(q), "\"%s\"", tag);
		assert_non_null(strstr(txn, q));
		/* The samples hold no stateful matches: a hit per rule. */
		for (unsigned int k = 1; k <= c->nrules; k++) {
			h.kind = ST_HIT_RULE;
			h.rule = k;
			assert_int_equal(st_tag_format(tag, &h), 0);
			snprintf(q, sizeof(q), "\"%s\"", tag);
			assert_non_null(strstr(txn, q));
		}
		nrules += c->nrules + 2;
	}
	assert_int_equal(sum->nchains, nchains);
	assert_int_equal(sum->nrules, nrules);
	assert_int_equal(sum->nskipped, 0);
}

static void test_golden_iptables(void **state)
{
	char **files = NULL;
	size_t n = list_samples(".rules", &files);

	(void)state;
	assert_true(n >= 10);
	for (size_t i = 0; i < n; i++) {
		struct st_ruleset *rs = tl_load_rules(files[i]);
		char *all = strdup("");

		for (int f = 0; f < 2; f++) {
			enum st_family fam =
				f ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4;
			struct st_instr_summary sum;
			char *txn = render(rs, fam, SESSION, 0, &sum);
			char *cat = NULL;

			check_structure(rs, fam, txn);
			check_counts(rs, fam, txn, &sum);
			assert_true(asprintf(&cat, "%s%s", all, txn) >= 0);
			free(all);
			all = cat;
			free(txn);
		}
		check_golden(files[i], all);
		free(all);
		st_ruleset_free(rs);
	}
	free_list(files, n);
}

static void test_golden_nft(void **state)
{
	char **files = NULL;
	size_t n = list_samples(".nft.json", &files);

	(void)state;
	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++) {
		struct st_instr_opts o = {SESSION, GROUP, ST_INSTR_F_FULL};
		struct st_instr_summary sum;
		char path[512], err[ST_ERRBUF_SIZE] = "";
		char *json = NULL, *out = NULL;
		json_t *root = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), RULES "%s", files[i]);
		json = tl_read_file(path, &len);
		assert_non_null(json);
		if (st_instr_render_insert_nft(json, len, &o, &out, &sum, err) <
		    0)
			fail_msg("%s: %s", files[i], err);
		assert_true(sum.nchains > 0);
		/* Valid JSON, every command tagged and commented. */
		root = json_loads(out, 0, NULL);
		assert_non_null(root);
		assert_int_equal(
			json_array_size(json_object_get(root, "nftables")),
			sum.nrules);
		for (size_t k = 0; k < sum.nrules; k++) {
			json_t *cmd = json_array_get(
				json_object_get(root, "nftables"), k);
			json_t *rule = json_object_get(
				json_object_get(cmd, "insert") != NULL
					? json_object_get(cmd, "insert")
					: json_object_get(cmd, "add"),
				"rule");
			json_t *expr = json_object_get(rule, "expr");
			json_t *log = json_object_get(
				json_array_get(expr, json_array_size(expr) - 1),
				"log");
			struct st_hit hit;

			assert_non_null(rule);
			assert_string_equal(json_string_value(json_object_get(
						    rule, "comment")),
					    "sidecar-trace:5ca1ab1e");
			assert_non_null(log);
			assert_int_equal(json_integer_value(
						 json_object_get(log, "group")),
					 GROUP);
			assert_int_equal(
				st_tag_parse(json_string_value(json_object_get(
						     log, "prefix")),
					     &hit),
				0);
			assert_int_equal(hit.session, SESSION);
			assert_string_equal(hit.table,
					    json_string_value(json_object_get(
						    rule, "table")));
			assert_string_equal(hit.chain,
					    json_string_value(json_object_get(
						    rule, "chain")));
			assert_int_equal(hit.kind == ST_HIT_RULE,
					 json_object_get(rule, "handle") !=
						 NULL);
		}
		json_decref(root);
		check_golden(files[i], out);
		free(out);
		free(json);
	}
	free_list(files, n);
}

/* ---- (a) minimal instrumentation ------------------------------------ */

/*
 * @min, a minimal transaction, with its kind letters in lower case: every
 * line of it is a line of @full, and it has as many policy/return lines.
 */
static void check_subset(const char *name, const char *min, const char *full)
{
	char *low = strdup(min);
	unsigned int nexit_min = 0, nexit_full = 0;
	const char *line = low;

	assert_non_null(low);
	for (char *p = strstr(low, "st:5ca1ab1e:"); p != NULL;
	     p = strstr(p + 1, "st:5ca1ab1e:")) {
		char *k = p + strlen("st:5ca1ab1e:");

		if (!(*k == 'H' || *k == 'E' || *k == 'P' || *k == 'R'))
			fail_msg("%s: not a minimal tag: %.24s", name, p);
		nexit_min += *k == 'P' || *k == 'R';
		*k = (char)(*k - 'A' + 'a');
	}
	for (const char *p = strstr(full, "st:5ca1ab1e:"); p != NULL;
	     p = strstr(p + 1, "st:5ca1ab1e:")) {
		char k = p[strlen("st:5ca1ab1e:")];

		nexit_full += k == 'p' || k == 'r';
	}
	assert_int_equal(nexit_min, nexit_full);
	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char *l = strndup(line, n);

		/* nft: the separator before a command is on the line before. */
		if (n > 0 && l[n - 1] == ',')
			l[n - 1] = '\0';
		if (strstr(full, l) == NULL)
			fail_msg("%s: minimal line not in full: %s", name, l);
		free(l);
		line += n + (nl != NULL);
	}
	free(low);
}

static void test_golden_minimal(void **state)
{
	char **files = NULL;
	size_t n = list_samples(".rules", &files);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct st_ruleset *rs = tl_load_rules(files[i]);
		char *all = strdup("");

		for (int f = 0; f < 2; f++) {
			enum st_family fam =
				f ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4;
			struct st_instr_opts o = {SESSION, GROUP, 0};
			struct st_instr_summary sum, fsum;
			char err[ST_ERRBUF_SIZE] = "";
			char *txn = NULL, *full = NULL, *cat = NULL;

			if (st_instr_render_insert(rs, fam, &o, &txn, &sum,
						   err) < 0)
				fail_msg("%s: %s", files[i], err);
			full = render(rs, fam, SESSION, 0, &fsum);
			assert_true(sum.minimal || fsum.nrules == 0);
			assert_int_equal(sum.nchains, fsum.nchains);
			assert_true(sum.nrules <= fsum.nrules);
			check_subset(files[i], txn, full);
			assert_true(asprintf(&cat, "%s%s", all, txn) >= 0);
			free(all);
			all = cat;
			free(txn);
			free(full);
		}
		check_golden_as(files[i], ".minimal.insert", all);
		free(all);
		st_ruleset_free(rs);
	}
	free_list(files, n);
	n = list_samples(".nft.json", &files);
	for (size_t i = 0; i < n; i++) {
		struct st_instr_opts o = {SESSION, GROUP, 0};
		struct st_instr_opts fo = {SESSION, GROUP, ST_INSTR_F_FULL};
		struct st_instr_summary sum, fsum;
		char path[512], err[ST_ERRBUF_SIZE] = "";
		char *json = NULL, *out = NULL, *full = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), RULES "%s", files[i]);
		json = tl_read_file(path, &len);
		assert_non_null(json);
		if (st_instr_render_insert_nft(json, len, &o, &out, &sum, err) <
			    0 ||
		    st_instr_render_insert_nft(json, len, &fo, &full, &fsum,
					       err) < 0)
			fail_msg("%s: %s", files[i], err);
		assert_true(sum.minimal);
		assert_int_equal(sum.nchains, fsum.nchains);
		assert_true(sum.nrules < fsum.nrules);
		check_subset(files[i], out, full);
		check_golden_as(files[i], ".minimal.insert", out);
		free(out);
		free(full);
		free(json);
	}
	free_list(files, n);
}

/*
 * Which records minimal instrumentation leaves out of Istio 1.17's nat
 * table: the entry of every chain (all closed), and the jumps into the
 * chains only one rule jumps to; ISTIO_IN_REDIRECT has three callers.
 */
static void test_minimal_plan(void **state)
{
	static const struct {
		const char *chain;
		const char *tags; /* the chain's records, in order */
	} cases[] = {
		{"PREROUTING", "P0"},
		{"OUTPUT", "P0"},
		{"ISTIO_INBOUND", "H1 H2 H3 H4 H5 R0"},
		{"ISTIO_IN_REDIRECT", "H1 R0"},
		{"ISTIO_OUTPUT", "H1 H2 H3 H4 H5 H6 H7 H8 R0"},
		{"ISTIO_REDIRECT", "H1 R0"},
	};
	struct st_ruleset *rs =
		tl_load_rules("istio-1.17_redirect_default_legacy.rules");
	struct st_instr_opts o = {SESSION, GROUP, 0};
	struct st_instr_summary sum;
	char err[ST_ERRBUF_SIZE] = "";
	char *txn = NULL;

	(void)state;
	if (st_instr_render_insert(rs, ST_FAMILY_IPV4, &o, &txn, &sum, err) < 0)
		fail_msg("%s", err);
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		char got[256] = "";
		size_t used = 0;

		/* Rules are inserted last first: read the chain's in order. */
		for (unsigned int pos = 0; pos <= 20; pos++) {
			for (const char *l = txn; l != NULL && *l != '\0';) {
				const char *nl = strchr(l, '\n');
				char line[1024], chain[64], prefix[80];
				unsigned int at = 0;
				struct st_hit h;

				snprintf(line, sizeof(line), "%.*s",
					 (int)(nl ? (size_t)(nl - l)
						  : strlen(l)),
					 l);
				l = nl ? nl + 1 : NULL;
				if (sscanf(line, "-%*c %63s %u", chain, &at) <
					    1 ||
				    strcmp(chain, cases[i].chain) != 0 ||
				    !opt_value(line, "--nflog-prefix", prefix,
					       sizeof(prefix)) ||
				    st_tag_parse(prefix, &h) < 0)
					continue;
				if (strncmp(line, "-A", 2) == 0)
					at = 20;
				if (at != pos)
					continue;
				assert_true(h.minimal);
				used += (size_t)snprintf(
					got + used, sizeof(got) - used,
					"%s%c%u", used ? " " : "", prefix[12],
					h.rule);
			}
		}
		print_message("plan case %s: %s\n", cases[i].chain, got);
		assert_string_equal(got, cases[i].tags);
	}
	free(txn);
	st_ruleset_free(rs);
}

/* ---- (a) simulated iptables-restore --------------------------------- */

#define SIM_MAX 256

/* A save text as tables of chains of rule bodies ("-p tcp -j RETURN"). */
struct sim {
	size_t n;
	struct {
		char table[32];
		char chain[32];
		size_t nrules;
		char *rules[SIM_MAX];
	} c[64];
};

static size_t sim_chain(struct sim *s, const char *table, const char *chain)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->c[i].table, table) == 0 &&
		    strcmp(s->c[i].chain, chain) == 0)
			return i;
	assert_true(s->n < 64);
	snprintf(s->c[s->n].table, sizeof(s->c[s->n].table), "%s", table);
	snprintf(s->c[s->n].chain, sizeof(s->c[s->n].chain), "%s", chain);
	s->c[s->n].nrules = 0;
	return s->n++;
}

/* Apply save text or a restore transaction (-A, -I CHAIN P, -D CHAIN P). */
static void sim_apply(struct sim *s, const char *text)
{
	char table[32] = "";

	while (*text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t n = nl != NULL ? (size_t)(nl - text) : strlen(text);
		char l[1024], chain[32];
		unsigned int pos = 0;
		int used = 0;
		size_t ci;

		assert_true(n < sizeof(l));
		memcpy(l, text, n);
		l[n] = '\0';
		text += n + (nl != NULL);
		if (l[0] == '[' && strstr(l, "] ") != NULL) /* counters */
			memmove(l, strstr(l, "] ") + 2,
				strlen(strstr(l, "] ")) - 1);
		if (l[0] == '*') {
			st_strlcpy(table, l + 1, sizeof(table));
		} else if (l[0] == ':') {
			sscanf(l + 1, "%31s", chain);
			sim_chain(s, table, chain);
		} else if (strncmp(l, "-A ", 3) == 0) {
			assert_int_equal(sscanf(l + 3, "%31s %n", chain, &used),
					 1);
			ci = sim_chain(s, table, chain);
			assert_true(s->c[ci].nrules < SIM_MAX);
			s->c[ci].rules[s->c[ci].nrules++] =
				strdup(l + 3 + used);
		} else if (strncmp(l, "-I ", 3) == 0) {
			assert_int_equal(
				sscanf(l + 3, "%31s %u %n", chain, &pos, &used),
				2);
			ci = sim_chain(s, table, chain);
			if (pos < 1 || pos > s->c[ci].nrules + 1)
				fail_msg("-I %s %s %u into %zu rules", table,
					 chain, pos, s->c[ci].nrules);
			memmove(&s->c[ci].rules[pos], &s->c[ci].rules[pos - 1],
				(s->c[ci].nrules - (pos - 1)) * sizeof(char *));
			s->c[ci].rules[pos - 1] = strdup(l + 3 + used);
			s->c[ci].nrules++;
		} else if (strncmp(l, "-D ", 3) == 0) {
			assert_int_equal(sscanf(l + 3, "%31s %u", chain, &pos),
					 2);
			ci = sim_chain(s, table, chain);
			assert_true(pos >= 1 && pos <= s->c[ci].nrules);
			free(s->c[ci].rules[pos - 1]);
			memmove(&s->c[ci].rules[pos - 1], &s->c[ci].rules[pos],
				(s->c[ci].nrules - pos) * sizeof(char *));
			s->c[ci].nrules--;
		}
	}
}

/* Back to save text: "*table", ":CHAIN", "-A CHAIN body", "COMMIT". */
static char *sim_save(const struct sim *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	for (size_t i = 0; i < s->n; i++) {
		bool first = true;

		for (size_t k = 0; k < i && first; k++)
			first = strcmp(s->c[k].table, s->c[i].table) != 0;
		if (!first)
			continue;
		fprintf(f, "*%s\n", s->c[i].table);
		for (size_t k = i; k < s->n; k++)
			if (strcmp(s->c[k].table, s->c[i].table) == 0)
				fprintf(f, ":%s %s [0:0]\n", s->c[k].chain,
					strncmp(s->c[k].chain, "ISTIO", 5) == 0
						? "-"
						: "ACCEPT");
		for (size_t k = i; k < s->n; k++)
			if (strcmp(s->c[k].table, s->c[i].table) == 0)
				for (size_t r = 0; r < s->c[k].nrules; r++)
					fprintf(f, "-A %s %s\n", s->c[k].chain,
						s->c[k].rules[r]);
		fprintf(f, "COMMIT\n");
	}
	fclose(f);
	return out;
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t r = 0; r < s->c[i].nrules; r++)
			free(s->c[i].rules[r]);
	s->n = 0;
}

/* The tag a rule body carries for @session, or "" for none. */
static void body_tag(const char *body, uint32_t session, char *buf, size_t size)
{
	char want[40], c[64];

	buf[0] = '\0';
	snprintf(want, sizeof(want), "sidecar-trace:%08" PRIx32, session);
	if (!opt_value(body, "--comment", c, sizeof(c)) || strcmp(c, want) != 0)
		return;
	opt_value(body, "--nflog-prefix", buf, size);
}

/*
 * Every chain of @orig that @s instruments for @session must read enter,
 * (hit N, rule N)..., policy/return, other sessions' rules aside.
 */
static void sim_check(const struct sim *orig, const struct sim *s,
		      uint32_t session)
{
	for (size_t i = 0; i < orig->n; i++) {
		const char *t = orig->c[i].table, *ch = orig->c[i].chain;
		size_t ci = 0, k = 0;
		char tag[128], want[ST_NFLOG_PREFIX_SIZE];
		struct st_hit h;
		bool found = false;

		for (ci = 0; ci < s->n && !found; ci++)
			found = strcmp(s->c[ci].table, t) == 0 &&
				strcmp(s->c[ci].chain, ch) == 0;
		assert_true(found);
		ci--;
		memset(&h, 0, sizeof(h));
		h.session = session;
		snprintf(h.table, sizeof(h.table), "%s", t);
		snprintf(h.chain, sizeof(h.chain), "%s", ch);
		/* Our rules, others' skipped, as one sequence. */
		const char *seq[2 * SIM_MAX + 2];
		size_t nseq = 0;

		for (size_t r = 0; r < s->c[ci].nrules; r++) {
			const char *b = s->c[ci].rules[r];

			if (strstr(b, "sidecar-trace:") != NULL &&
			    (body_tag(b, session, tag, sizeof(tag)),
			     tag[0] == '\0'))
				continue;
			seq[nseq++] = b;
		}
		if (nseq == orig->c[i].nrules)
			continue; /* not instrumented */
		h.kind = ST_HIT_ENTER;
		assert_int_equal(st_tag_format(want, &h), 0);
		body_tag(seq[k++], session, tag, sizeof(tag));
		assert_string_equal(tag, want);
		for (size_t r = 0; r < orig->c[i].nrules; r++) {
			h.kind = ST_HIT_RULE;
			h.rule = (unsigned int)r + 1;
			assert_int_equal(st_tag_format(want, &h), 0);
			if (strstr(orig->c[i].rules[r], "statistic") == NULL) {
				body_tag(seq[k++], session, tag, sizeof(tag));
				assert_string_equal(tag, want);
			}
			assert_string_equal(seq[k++], orig->c[i].rules[r]);
		}
		h.kind = strncmp(ch, "ISTIO", 5) == 0 ? ST_HIT_RETURN
						      : ST_HIT_POLICY;
		h.rule = 0;
		assert_int_equal(st_tag_format(want, &h), 0);
		body_tag(seq[k++], session, tag, sizeof(tag));
		assert_string_equal(tag, want);
		assert_int_equal(k, nseq);
	}
}

static char *sim_remove(const char *save, uint32_t session, unsigned int *n)
{
	char err[ST_ERRBUF_SIZE] = "";
	char *txn = NULL;

	if (st_instr_render_remove(ST_BACKEND_LEGACY, save, strlen(save),
				   session, &txn, n, err) < 0)
		fail_msg("%s", err);
	return txn;
}

/* Insert, check every position, remove, compare: on all IPv4 samples. */
static void test_simulated_positions(void **state)
{
	char **files = NULL;
	size_t n = list_samples(".rules", &files);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		static struct sim orig, s;
		struct st_ruleset *rs = tl_load_rules(files[i]);
		struct st_instr_summary sum;
		char *base = NULL, *txn = NULL, *save = NULL, *rm = NULL;
		char *after = NULL;
		size_t blen = 0;
		unsigned int nrm = 0;
		char path[512];

		snprintf(path, sizeof(path), RULES "%s", files[i]);
		base = tl_read_file(path, &blen);
		assert_non_null(base);
		sim_apply(&orig, base);
		sim_apply(&s, base);
		for (int f = 0; f < 2; f++) {
			txn = render(rs, f ? ST_FAMILY_IPV6 : ST_FAMILY_IPV4,
				     SESSION, 0, &sum);
			sim_apply(&s, txn);
			free(txn);
		}
		sim_check(&orig, &s, SESSION);
		save = sim_save(&s);
		rm = sim_remove(save, SESSION, &nrm);
		sim_apply(&s, rm);
		after = sim_save(&s);
		free(save);
		save = sim_save(&orig);
		assert_string_equal(after, save);
		free(save);
		free(after);
		free(rm);
		free(base);
		sim_free(&orig);
		sim_free(&s);
		st_ruleset_free(rs);
	}
	free_list(files, n);
}

/*
 * Two sessions: B attaches over A's rules and numbers the rules as they
 * were before A; removing A leaves B intact, removing B leaves the
 * original.
 */
static void test_simulated_two_sessions(void **state)
{
	static struct sim orig, s;
	const uint32_t a = 0xaaaaaaaau, b = 0x0000000bu;
	struct st_ruleset *rs = NULL;
	char *base = NULL, *txn = NULL, *save = NULL, *rm = NULL, *want = NULL;
	unsigned int nrm = 0, na, nb;
	struct st_instr_summary sum;

	(void)state;
	base = tl_read_file(RULES "istio-1.17_redirect_default_legacy.rules",
			    NULL);
	assert_non_null(base);
	sim_apply(&orig, base);
	sim_apply(&s, base);
	rs = tl_load_text(base);
	txn = render(rs, ST_FAMILY_IPV4, a, 0, &sum);
	na = sum.nrules;
	st_ruleset_free(rs);
	sim_apply(&s, txn);
	free(txn);

	save = sim_save(&s);
	rs = tl_load_text(save);
	free(save);
	txn = render(rs, ST_FAMILY_IPV4, b, 0, &sum);
	nb = sum.nrules;
	assert_int_equal(na, nb);
	st_ruleset_free(rs);
	sim_apply(&s, txn);
	free(txn);
	sim_check(&orig, &s, a);
	sim_check(&orig, &s, b);

	save = sim_save(&s);
	rm = sim_remove(save, a, &nrm);
	assert_int_equal(nrm, na);
	sim_apply(&s, rm);
	free(rm);
	free(save);
	sim_check(&orig, &s, b);

	save = sim_save(&s);
	rm = sim_remove(save, b, &nrm);
	assert_int_equal(nrm, nb);
	sim_apply(&s, rm);
	free(rm);
	free(save);
	save = sim_save(&s);
	want = sim_save(&orig);
	assert_string_equal(save, want);
	free(save);
	free(want);
	free(base);
	sim_free(&orig);
	sim_free(&s);
}

/* Comments with "-j", stateful matches, other sessions' rules, mangle. */
static void test_rule_edge_cases(void **state)
{
	static const char text[] =
		"# Generated by iptables-save v1.8.9 on Thu Nov 26 05:26:00 "
		"2026\n"
		"*mangle\n"
		":PREROUTING ACCEPT [0:0]\n"
		":INPUT ACCEPT [0:0]\n"
		":ISTIO_INBOUND - [0:0]\n"
		"-A PREROUTING -p tcp -j ISTIO_INBOUND\n"
		"-A ISTIO_INBOUND -p tcp -m comment --comment \"a \\\"-j\\\" "
		"b -g X\" -m tcp --dport 80 -j RETURN\n"
		"-A ISTIO_INBOUND -m comment --comment "
		"\"sidecar-trace:aaaaaaaa\" -j NFLOG --nflog-prefix "
		"\"st:aaaaaaaa:h:mangle:ISTIO_INBOUND:2\" --nflog-group 7\n"
		"-A ISTIO_INBOUND -m statistic --mode random --probability "
		"0.5 -j RETURN\n"
		"-A ISTIO_INBOUND -p udp -j MARK --set-xmark 0x1/0xffffffff\n"
		"COMMIT\n";
	static const char want[] =
		"*mangle\n"
		"-A PREROUTING -m conntrack --ctstate INVALID,NEW,UNTRACKED "
		"-m comment --comment \"sidecar-trace:5ca1ab1e\" -j NFLOG "
		"--nflog-prefix \"st:5ca1ab1e:p:mangle:PREROUTING:0\" "
		"--nflog-group 5300\n"
		"-I PREROUTING 1 -p tcp -m conntrack --ctstate "
		"INVALID,NEW,UNTRACKED -m comment --comment "
		"\"sidecar-trace:5ca1ab1e\" -j NFLOG --nflog-prefix "
		"\"st:5ca1ab1e:h:mangle:PREROUTING:1\" --nflog-group 5300\n"
		"-I PREROUTING 1 -m conntrack --ctstate INVALID,NEW,UNTRACKED "
		"-m comment --comment \"sidecar-trace:5ca1ab1e\" -j NFLOG "
		"--nflog-prefix \"st:5ca1ab1e:e:mangle:PREROUTING:0\" "
		"--nflog-group 5300\n"
		"-A ISTIO_INBOUND -m conntrack --ctstate INVALID,NEW,UNTRACKED "
		"-m comment --comment \"sidecar-trace:5ca1ab1e\" -j NFLOG "
		"--nflog-prefix \"st:5ca1ab1e:r:mangle:ISTIO_INBOUND:0\" "
		"--nflog-group 5300\n"
		/* rule 3 by number, at position 4 behind A's rule */
		"-I ISTIO_INBOUND 4 -p udp -m conntrack --ctstate "
		"INVALID,NEW,UNTRACKED -m comment --comment "
		"\"sidecar-trace:5ca1ab1e\" -j NFLOG --nflog-prefix "
		"\"st:5ca1ab1e:h:mangle:ISTIO_INBOUND:3\" --nflog-group 5300\n"
		"-I ISTIO_INBOUND 1 -p tcp -m tcp --dport 80 -m conntrack "
		"--ctstate INVALID,NEW,UNTRACKED -m comment --comment "
		"\"sidecar-trace:5ca1ab1e\" -j NFLOG --nflog-prefix "
		"\"st:5ca1ab1e:h:mangle:ISTIO_INBOUND:1\" --nflog-group 5300\n"
		"-I ISTIO_INBOUND 1 -m conntrack --ctstate "
		"INVALID,NEW,UNTRACKED -m comment --comment "
		"\"sidecar-trace:5ca1ab1e\" -j NFLOG --nflog-prefix "
		"\"st:5ca1ab1e:e:mangle:ISTIO_INBOUND:0\" --nflog-group 5300\n"
		"COMMIT\n";
	struct st_ruleset *rs = tl_load_text(text);
	struct st_instr_summary sum;
	char *txn = render(rs, ST_FAMILY_IPV4, SESSION, 0, &sum);

	(void)state;
	assert_string_equal(txn, want);
	assert_int_equal(sum.nchains, 2);
	assert_int_equal(sum.nhits, 3);
	assert_int_equal(sum.nskipped, 1);
	assert_string_equal(sum.skipped, "mangle ISTIO_INBOUND 2 (statistic)");
	free(txn);

	/* ALL_PACKETS drops the ctstate restriction; SKIP_RAW keeps mangle. */
	txn = render(rs, ST_FAMILY_IPV4, SESSION,
		     ST_INSTR_F_ALL_PACKETS | ST_INSTR_F_SKIP_RAW, &sum);
	assert_null(strstr(txn, "conntrack"));
	assert_int_equal(sum.nrules, 7);
	free(txn);
	/* ALL_BUILTIN adds the empty INPUT chain: enter and policy. */
	txn = render(rs, ST_FAMILY_IPV4, SESSION, ST_INSTR_F_ALL_BUILTIN, &sum);
	assert_non_null(strstr(txn, "st:5ca1ab1e:e:mangle:INPUT:0"));
	assert_non_null(strstr(txn, "st:5ca1ab1e:p:mangle:INPUT:0"));
	assert_int_equal(sum.nchains, 3);
	free(txn);
	/* Nothing of IPv6 in it. */
	txn = render(rs, ST_FAMILY_IPV6, SESSION, 0, &sum);
	assert_string_equal(txn, "");
	assert_int_equal(sum.nchains, 0);
	free(txn);
	st_ruleset_free(rs);
}

static void test_remove_render(void **state)
{
	static const char save[] =
		"# Generated by iptables-save v1.8.9\n"
		"*nat\n"
		":OUTPUT ACCEPT [0:0]\n"
		":ISTIO_OUTPUT - [0:0]\n"
		"-A OUTPUT -m comment --comment \"sidecar-trace:00000001\" "
		"-j NFLOG --nflog-prefix \"x\" --nflog-group 5300\n"
		"-A OUTPUT -j ISTIO_OUTPUT\n"
		"-A ISTIO_OUTPUT -m comment --comment \"sidecar-trace:00000002\""
		" -j NFLOG --nflog-group 5301\n"
		"-A ISTIO_OUTPUT -m comment --comment \"sidecar-trace:00000001\""
		" -j NFLOG --nflog-group 5300\n"
		"-A ISTIO_OUTPUT -m comment --comment \"not sidecar-trace:1\" "
		"-j RETURN\n"
		"-A ISTIO_OUTPUT -m comment --comment \"sidecar-trace:00000001\""
		" -j NFLOG --nflog-group 5300\n"
		"COMMIT\n"
		"*mangle\n"
		":OUTPUT ACCEPT [0:0]\n"
		"-A OUTPUT -j RETURN\n"
		"COMMIT\n";
	char err[ST_ERRBUF_SIZE] = "";
	char *txn = NULL, *norm = NULL;
	unsigned int n = 0;
	char msg[200];

	(void)state;
	assert_int_equal(st_instr_render_remove(ST_BACKEND_NFT, save,
						strlen(save), 1, &txn, &n, err),
			 0);
	assert_int_equal(n, 3);
	assert_string_equal(txn, "*nat\n"
				 "-D ISTIO_OUTPUT 4\n"
				 "-D ISTIO_OUTPUT 2\n"
				 "-D OUTPUT 1\n"
				 "COMMIT\n");
	free(txn);
	assert_int_equal(st_instr_render_remove(ST_BACKEND_LEGACY, save,
						strlen(save), 3, &txn, &n, err),
			 0);
	assert_int_equal(n, 0);
	assert_string_equal(txn, "");
	free(txn);

	/* Normalised: no comments, counters or session rules. */
	assert_int_equal(st_instr_normalize(ST_BACKEND_LEGACY, save,
					    strlen(save), &norm, err),
			 0);
	assert_string_equal(norm, "*nat\n"
				  ":OUTPUT ACCEPT\n"
				  ":ISTIO_OUTPUT -\n"
				  "-A OUTPUT -j ISTIO_OUTPUT\n"
				  "-A ISTIO_OUTPUT -m comment --comment \"not "
				  "sidecar-trace:1\" -j RETURN\n"
				  "COMMIT\n"
				  "*mangle\n"
				  ":OUTPUT ACCEPT\n"
				  "-A OUTPUT -j RETURN\n"
				  "COMMIT\n");
	assert_false(st_instr_diff(norm, norm, msg, sizeof(msg)));
	assert_true(st_instr_diff("a\nb\n", "a\nc\n", msg, sizeof(msg)));
	assert_string_equal(msg, "line 2: 'c' instead of 'b'");
	assert_true(st_instr_diff("a\nb\n", "a\n", msg, sizeof(msg)));
	assert_string_equal(msg, "line 2: 'b' is gone");
	assert_true(st_instr_diff("a\n", "a\nx\n", msg, sizeof(msg)));
	assert_string_equal(msg, "line 2: 'x' is new");
	free(norm);
}

static void test_remove_render_nft(void **state)
{
	static const char live[] =
		"{\"nftables\":[{\"table\":{\"family\":\"inet\",\"name\":\"t\","
		"\"handle\":1}},{\"chain\":{\"family\":\"inet\",\"table\":\"t\","
		"\"name\":\"istio-output\",\"handle\":2}},"
		"{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":"
		"\"istio-output\",\"handle\":7,\"comment\":"
		"\"sidecar-trace:00000001\",\"expr\":[]}},"
		"{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":"
		"\"istio-output\",\"handle\":3,\"expr\":[{\"return\":null}]}},"
		"{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":"
		"\"istio-output\",\"handle\":9,\"comment\":"
		"\"sidecar-trace:00000002\",\"expr\":[]}}]}";
	static const char list[] =
		"table inet t {\n\tchain istio-output {\n"
		"\t\tcounter log prefix \"x\" group 5300 comment "
		"\"sidecar-trace:00000001\"\n"
		"\t\treturn\n\t}\n}\n";
	char err[ST_ERRBUF_SIZE] = "";
	char *txn = NULL, *norm = NULL;
	unsigned int n = 0;

	(void)state;
	assert_int_equal(st_instr_render_remove(ST_BACKEND_NFTABLES, live,
						strlen(live), 1, &txn, &n, err),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(txn, "{\"nftables\":[\n"
				 "{\"delete\":{\"rule\":{\"family\":\"inet\","
				 "\"table\":\"t\",\"chain\":\"istio-output\","
				 "\"handle\":7}}}\n"
				 "]}\n");
	free(txn);
	assert_int_equal(st_instr_normalize(ST_BACKEND_NFTABLES, list,
					    strlen(list), &norm, err),
			 0);
	assert_string_equal(norm, "table inet t {\n\tchain istio-output {\n"
				  "\t\treturn\n\t}\n}\n");
	free(norm);
}

/* nft rules that cannot be evaluated twice get no hit rule. */
static void test_nft_uncopyable(void **state)
{
	static const char json[] =
		"{\"nftables\":[{\"table\":{\"family\":\"inet\",\"name\":"
		"\"istio-proxy-mangle\",\"handle\":1}},"
		"{\"chain\":{\"family\":\"inet\",\"table\":"
		"\"istio-proxy-mangle\",\"name\":\"istio-output\","
		"\"handle\":2}},"
		/* 1: limit keeps state */
		"{\"rule\":{\"family\":\"inet\",\"table\":"
		"\"istio-proxy-mangle\",\"chain\":\"istio-output\",\"handle\":"
		"3,\"expr\":[{\"limit\":{\"rate\":1,\"per\":\"second\"}},"
		"{\"accept\":null}]}},"
		/* 2: a match after a mark is set */
		"{\"rule\":{\"family\":\"inet\",\"table\":"
		"\"istio-proxy-mangle\",\"chain\":\"istio-output\",\"handle\":"
		"4,\"expr\":[{\"mangle\":{\"key\":{\"meta\":{\"key\":"
		"\"mark\"}},\"value\":1}},{\"match\":{\"op\":\"==\",\"left\":"
		"{\"meta\":{\"key\":\"mark\"}},\"right\":1}},{\"return\":"
		"null}]}},"
		/* 3: random numbers */
		"{\"rule\":{\"family\":\"inet\",\"table\":"
		"\"istio-proxy-mangle\",\"chain\":\"istio-output\",\"handle\":"
		"5,\"expr\":[{\"match\":{\"op\":\"==\",\"left\":{\"numgen\":"
		"{\"mode\":\"random\",\"mod\":2,\"offset\":0}},\"right\":0}},"
		"{\"return\":null}]}},"
		/* 4: fine: a match, a counter, a statement after */
		"{\"rule\":{\"family\":\"inet\",\"table\":"
		"\"istio-proxy-mangle\",\"chain\":\"istio-output\",\"handle\":"
		"6,\"expr\":[{\"match\":{\"op\":\"==\",\"left\":{\"meta\":"
		"{\"key\":\"l4proto\"}},\"right\":\"tcp\"}},{\"counter\":"
		"null},{\"mangle\":{\"key\":{\"meta\":{\"key\":\"mark\"}},"
		"\"value\":2}}]}}]}";
	struct st_instr_opts o = {SESSION, GROUP, 0};
	struct st_instr_summary sum;
	char err[ST_ERRBUF_SIZE] = "";
	char *out = NULL;

	(void)state;
	if (st_instr_render_insert_nft(json, strlen(json), &o, &out, &sum,
				       err) < 0)
		fail_msg("%s", err);
	assert_int_equal(sum.nchains, 1);
	assert_int_equal(sum.nhits, 1);
	assert_int_equal(sum.nrules, 3);
	assert_int_equal(sum.nskipped, 3);
	assert_string_equal(sum.skipped,
			    "istio-proxy-mangle istio-output 3 (numgen); "
			    "istio-proxy-mangle istio-output 2 (match after a "
			    "statement); "
			    "istio-proxy-mangle istio-output 1 (limit)");
	/* The one hit: before handle 6, its match only, restricted. */
	assert_non_null(
		strstr(out, "\"handle\":6,\"expr\":[{\"match\":{\"op\":"
			    "\"==\",\"left\":{\"meta\":{\"key\":"
			    "\"l4proto\"}},\"right\":\"tcp\"}},{\"match\":"
			    "{\"op\":\"in\",\"left\":{\"ct\":{\"key\":"
			    "\"state\"}},\"right\":[\"invalid\",\"new\","
			    "\"untracked\"]}},{\"counter\":null},{\"log\":"));
	assert_null(strstr(out, "\"value\":2"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_golden_iptables),
		cmocka_unit_test(test_golden_nft),
		cmocka_unit_test(test_golden_minimal),
		cmocka_unit_test(test_minimal_plan),
		cmocka_unit_test(test_simulated_positions),
		cmocka_unit_test(test_simulated_two_sessions),
		cmocka_unit_test(test_rule_edge_cases),
		cmocka_unit_test(test_remove_render),
		cmocka_unit_test(test_remove_render_nft),
		cmocka_unit_test(test_nft_uncopyable),
	};

	return cmocka_run_group_tests_name("instrument", pure, NULL, NULL);
}
