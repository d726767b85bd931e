// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_istio.c - the Istio recogniser.  Every file in samples/rules/ has
 * an expectation file samples/expected/FILE.istio (settings, and the role
 * and reachability of every rule, in ruleset order) written from
 * doc/ISTIO-RULES.md; hand-built rule sets cover what the samples do not:
 * several proxy ids, custom ports, TPROXY, owner-group filters, kube-virt
 * and excluded interfaces, port/CIDR includes, 1.8 DNS, trace logging,
 * ambient, native nftables, empty and foreign rule sets.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "istio.h"
#include "rules-int.h"
#include "testlib.h"

/* ---- checking settings and rules against "key value" lines ---- */

static void ids_str(const uint32_t *v, unsigned int n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u",
					i ? " " : "", v[i]);
}

static void ports_str(const uint16_t *v, unsigned int n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u",
					i ? " " : "", v[i]);
}

static void prefixes_str(const struct st_prefix *v, unsigned int n, char *buf,
			 size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && len < size; i++) {
		char a[64];

		st_prefix_format(&v[i], false, a, sizeof(a));
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? " " : "", a);
	}
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

/* The ambient settings as the expectation files write them. */
static bool ambient_setting(const struct st_ambient_settings *a,
			    const char *key, char *buf, size_t size)
{
	if (strcmp(key, "amb_outbound_port") == 0)
		snprintf(buf, size, "%u", a->outbound_port);
	else if (strcmp(key, "amb_inbound_port") == 0)
		snprintf(buf, size, "%u", a->inbound_port);
	else if (strcmp(key, "amb_tunnel_port") == 0)
		snprintf(buf, size, "%u", a->tunnel_port);
	else if (strcmp(key, "amb_inbound_captured") == 0)
		snprintf(buf, size, "%s", yesno(a->inbound_captured));
	else if (strcmp(key, "amb_dns_capture") == 0)
		snprintf(buf, size, "%s", yesno(a->dns_capture));
	else if (strcmp(key, "amb_dns_port") == 0)
		snprintf(buf, size, "%u", a->dns_port);
	else if (strcmp(key, "amb_mark") == 0)
		snprintf(buf, size, "0x%x/0x%x", a->mark, a->mark_mask);
	else if (strcmp(key, "amb_connmark") == 0)
		snprintf(buf, size, "0x%x/0x%x", a->connmark, a->connmark_mask);
	else if (strcmp(key, "amb_probe_addrs") == 0)
		prefixes_str(a->probe_addrs, a->nprobe_addrs, buf, size);
	else if (strcmp(key, "amb_probe_snat") == 0)
		snprintf(buf, size, "%s", yesno(a->probe_snat));
	else if (strcmp(key, "amb_probe_socket_exists") == 0)
		snprintf(buf, size, "%s", yesno(a->probe_socket_exists));
	else if (strcmp(key, "amb_probe_uid") == 0)
		snprintf(buf, size, "%s%u", a->probe_uid_set ? "" : "none ",
			 a->probe_uid);
	else if (strcmp(key, "amb_virt_ifaces") == 0) {
		size_t len = 0;

		buf[0] = '\0';
		for (unsigned int i = 0; i < a->nvirt_ifaces && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s%s",
						i ? " " : "",
						a->virt_ifaces[i]);
	} else
		return false;
	return true;
}

/* The value of a setting as the expectation files write it. */
static bool setting(const struct st_istio_settings *s, const char *key,
		    char *buf, size_t size)
{
	if (strcmp(key, "kind") == 0)
		snprintf(buf, size, "%s", st_istio_kind_name(s->kind));
	else if (strcmp(key, "backend") == 0)
		snprintf(buf, size, "%s", st_backend_name(s->backend));
	else if (strcmp(key, "mode") == 0)
		snprintf(buf, size, "%s", st_istio_mode_name(s->mode));
	else if (strcmp(key, "era") == 0)
		snprintf(buf, size, "%s", st_istio_era_name(s->era));
	else if (strcmp(key, "proxy_uids") == 0)
		ids_str(s->proxy_uids, s->nproxy_uids, buf, size);
	else if (strcmp(key, "proxy_gids") == 0)
		ids_str(s->proxy_gids, s->nproxy_gids, buf, size);
	else if (strcmp(key, "outbound_port") == 0)
		snprintf(buf, size, "%u", s->outbound_port);
	else if (strcmp(key, "inbound_port") == 0)
		snprintf(buf, size, "%u", s->inbound_port);
	else if (strcmp(key, "inbound_captured") == 0)
		snprintf(buf, size, "%s", yesno(s->inbound_captured));
	else if (strcmp(key, "inbound_all_ports") == 0)
		snprintf(buf, size, "%s", yesno(s->inbound_all_ports));
	else if (strcmp(key, "inbound_ports") == 0)
		ports_str(s->inbound_ports, s->ninbound_ports, buf, size);
	else if (strcmp(key, "inbound_excluded_ports") == 0)
		ports_str(s->inbound_excluded_ports, s->ninbound_excluded, buf,
			  size);
	else if (strcmp(key, "outbound_excluded_ports") == 0)
		ports_str(s->outbound_excluded_ports, s->noutbound_excluded,
			  buf, size);
	else if (strcmp(key, "outbound_included_ports") == 0)
		ports_str(s->outbound_included_ports, s->noutbound_included,
			  buf, size);
	else if (strcmp(key, "excluded_cidrs") == 0)
		prefixes_str(s->excluded_cidrs, s->nexcluded_cidrs, buf, size);
	else if (strcmp(key, "included_cidrs") == 0)
		prefixes_str(s->included_cidrs, s->nincluded_cidrs, buf, size);
	else if (strcmp(key, "outbound_all_cidrs") == 0)
		snprintf(buf, size, "%s", yesno(s->outbound_all_cidrs));
	else if (strcmp(key, "dns_capture") == 0)
		snprintf(buf, size, "%s", yesno(s->dns_capture));
	else if (strcmp(key, "dns_port") == 0)
		snprintf(buf, size, "%u", s->dns_port);
	else if (strcmp(key, "dns_servers") == 0)
		prefixes_str(s->dns_servers, s->ndns_servers, buf, size);
	else if (strcmp(key, "invalid_drop") == 0)
		snprintf(buf, size, "%s", yesno(s->invalid_drop));
	else if (strcmp(key, "tproxy_mark") == 0)
		snprintf(buf, size, "%u", s->tproxy_mark);
	else if (strcmp(key, "ipv4") == 0)
		snprintf(buf, size, "%s", yesno(s->ipv4));
	else if (strcmp(key, "ipv6") == 0)
		snprintf(buf, size, "%s", yesno(s->ipv6));
	else if (strcmp(key, "note") == 0)
		snprintf(buf, size, "%s", s->note);
	else if (!ambient_setting(&s->amb, key, buf, size))
		return false;
	return true;
}

/* The rule numbers a reason names: "already left at rules 3 (..) and 4 (..)" */
static void named_rules(const char *why, char *buf, size_t size)
{
	const char *p = why ? strstr(why, "already left at rule") : NULL;
	size_t len = 0;

	buf[0] = '\0';
	if (p == NULL)
		return;
	p = strchr(p + strlen("already left at rule"), ' ');
	while (p != NULL && *p != '\0' && len < size) {
		char *end = NULL;
		long v = 0;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		v = strtol(p, &end, 10);
		if (end[0] == ' ' && end[1] == '(') {
			len += (size_t)snprintf(buf + len, size - len, "%s%ld",
						len ? "," : "", v);
			p = strchr(end, ')');
		} else {
			p = end;
		}
	}
}

/*
 * "rule TABLE CHAIN NUMBER ROLE reachable|never [by N,M|orphan]
 * [note WORD]" against rule @r.
 */
static void check_rule_line(const char *where, const struct st_rule *r,
			    const char *line)
{
	char table[64], chain[64], role[64], reach[16], extra[16], arg[64];
	unsigned int num = 0;
	int n = sscanf(line, "%63s %63s %u %63s %15s %15s %63s", table, chain,
		       &num, role, reach, extra, arg);

	if (n < 5)
		fail_msg("%s: bad rule line '%s'", where, line);
	if (strcmp(r->table, table) != 0 || strcmp(r->chain, chain) != 0 ||
	    r->number != num)
		fail_msg("%s: rule is %s %s %u, the expectation is for '%s'",
			 where, r->table, r->chain, r->number, line);
	if (strcmp(st_role_name(r->role), role) != 0 ||
	    r->reachable != (strcmp(reach, "reachable") == 0))
		fail_msg("%s: %s %s %u \"%s\" is %s %s, want %s %s (why: %s)",
			 where, table, chain, num, r->text,
			 st_role_name(r->role),
			 r->reachable ? "reachable" : "never", role, reach,
			 r->why ? r->why : "-");
	if (!r->reachable && r->why == NULL)
		fail_msg("%s: %s %s %u never matches but says not why", where,
			 table, chain, num);
	if (n >= 7 && strcmp(extra, "by") == 0) {
		char named[128];

		named_rules(r->why, named, sizeof(named));
		if (strcmp(named, arg) != 0)
			fail_msg("%s: %s %s %u: the reason names rules '%s', "
				 "want '%s' (why: %s)",
				 where, table, chain, num, named, arg, r->why);
	} else if (n >= 6 && strcmp(extra, "orphan") == 0) {
		if (r->why == NULL || strstr(r->why, "nothing jumps") == NULL)
			fail_msg("%s: %s %s %u: want \"nothing jumps\" in "
				 "'%s'",
				 where, table, chain, num,
				 r->why ? r->why : "-");
	} else if (n >= 7 && strcmp(extra, "note") == 0) {
		if (r->why == NULL || strstr(r->why, arg) == NULL)
			fail_msg("%s: %s %s %u: want '%s' in the note '%s'",
				 where, table, chain, num, arg,
				 r->why ? r->why : "-");
	} else if (r->reachable && r->why != NULL) {
		fail_msg("%s: %s %s %u: unexpected note '%s'", where, table,
			 chain, num, r->why);
	}
}

static const struct st_rule *find_rule(const struct st_ruleset *rs,
				       const char *line)
{
	char table[64], chain[64];
	unsigned int num = 0;

	if (sscanf(line, "%63s %63s %u", table, chain, &num) != 3)
		return NULL;
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (strcmp(r->table, table) == 0 &&
		    strcmp(r->chain, chain) == 0 && r->number == num)
			return r;
	}
	return NULL;
}

/*
 * Check @text ("key value" lines).  With @all_rules the "rule" lines
 * describe every rule, in ruleset order; otherwise each names its rule.
 * "note~ TEXT" asks for TEXT somewhere in the note.
 */
static void check_expect(const char *where, const struct st_ruleset *rs,
			 const struct st_istio_settings *s, const char *text,
			 bool all_rules)
{
	const char *p = text;
	size_t nrule = 0;

	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[1024];
		char key[64] = "";
		const char *val = NULL;
		char got[1024];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (e ? 1 : 0);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		sscanf(line, "%63s", key);
		val = line + strlen(key);
		while (*val == ' ')
			val++;
		if (strcmp(key, "load") == 0 || strcmp(key, "twin") == 0)
			continue;
		if (strcmp(key, "rule") == 0) {
			const struct st_rule *r = NULL;

			if (all_rules) {
				r = st_ruleset_rule(rs, nrule);
				if (r == NULL)
					fail_msg("%s: more rule lines than the "
						 "%zu rules",
						 where, st_ruleset_nrules(rs));
			} else {
				r = find_rule(rs, val);
				if (r == NULL)
					fail_msg("%s: no rule for '%s'", where,
						 val);
			}
			check_rule_line(where, r, val);
			nrule++;
			continue;
		}
		if (strcmp(key, "note~") == 0) {
			if (strstr(s->note, val) == NULL)
				fail_msg("%s: note '%s' lacks '%s'", where,
					 s->note, val);
			continue;
		}
		if (!setting(s, key, got, sizeof(got)))
			fail_msg("%s: unknown key '%s'", where, key);
		if (strcmp(got, val) != 0)
			fail_msg("%s: %s is '%s', want '%s'", where, key, got,
				 val);
	}
	if (all_rules && nrule != st_ruleset_nrules(rs))
		fail_msg("%s: %zu rule lines for %zu rules", where, nrule,
			 st_ruleset_nrules(rs));
}

/* ---- every sample ---- */

/* The value of the first "@key" line of @text, or NULL. */
static char *line_value(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *e = strchr(p, '\n');

		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strndup(p + klen + 1,
				       e ? (size_t)(e - p) - klen - 1
					 : strlen(p + klen + 1));
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

static int load_files(struct st_ruleset *rs, const char *list, char *err)
{
	char *copy = strdup(list);
	char *save = NULL;
	int ret = 0;

	assert_non_null(copy);
	for (char *f = strtok_r(copy, " ", &save); f != NULL && ret == 0;
	     f = strtok_r(NULL, " ", &save)) {
		char path[1024];

		snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES, f);
		ret = st_rules_load_file(rs, path, err);
	}
	free(copy);
	return ret;
}

static void test_expected(void **state)
{
	const char *name = *state;
	char path[1024];
	char err[ST_ERRBUF_SIZE] = "";
	char *text = NULL;
	char *twin = NULL;
	char *load = NULL;
	struct st_ruleset *rs = st_ruleset_new();
	struct st_istio_settings s;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/expected/%s", ST_SAMPLES, name);
	text = tl_read_file(path, NULL);
	assert_non_null(text);
	twin = line_value(text, "twin");
	if (twin != NULL) {
		/* nft list ruleset text: its JSON twin's expectations. */
		free(text);
		snprintf(path, sizeof(path), "%s/expected/%s.istio", ST_SAMPLES,
			 twin);
		text = tl_read_file(path, NULL);
		assert_non_null(text);
	}
	load = line_value(text, "load");
	if (load != NULL) {
		ret = load_files(rs, load, err);
	} else {
		char file[512];

		snprintf(file, sizeof(file), "%.*s",
			 (int)(strlen(name) - strlen(".istio")), name);
		ret = load_files(rs, file, err);
	}
	if (ret < 0 && twin != NULL) {
		/* Not readable: then say so clearly, naming the file. */
		assert_true(err[0] != '\0');
		assert_non_null(strstr(err, ".nftlist"));
		goto out;
	}
	if (ret < 0)
		fail_msg("%s: %s", name, err);
	assert_int_equal(st_istio_analyze(rs, &s, err), 0);
	check_expect(name, rs, &s, text, true);
	/* A second analysis gives the same answer. */
	assert_int_equal(st_istio_analyze(rs, &s, err), 0);
	check_expect(name, rs, &s, text, true);
out:
	free(text);
	free(twin);
	free(load);
	st_ruleset_free(rs);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Every file in samples/rules/ has its expectations. */
static void test_every_sample_expected(void **state)
{
	char path[1024];
	DIR *d = NULL;
	struct dirent *e = NULL;
	unsigned int n = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/rules", ST_SAMPLES);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		FILE *f = NULL;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/expected/%s.istio", ST_SAMPLES,
			 e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			fail_msg("samples/rules/%s has no %s", e->d_name, path);
		fclose(f);
		n++;
	}
	closedir(d);
	assert_true(n >= 22);
}

/*
 * Every ambient sample: each rule of ztunnel's chains has a specific
 * ambient role; only the jumps to other chains and the rules of chains
 * Istio does not own have none.
 */
static void test_ambient_roles_specific(void **state)
{
	char path[1024];
	DIR *d = NULL;
	struct dirent *e = NULL;
	unsigned int nsets = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/rules", ST_SAMPLES);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char err[ST_ERRBUF_SIZE] = "";
		struct st_istio_settings s;
		struct st_ruleset *rs = NULL;

		if (strstr(e->d_name, "ambient") == NULL ||
		    has_suffix(e->d_name, ".nftlist"))
			continue;
		rs = st_ruleset_new();
		assert_non_null(rs);
		snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
			 e->d_name);
		if (st_rules_load_file(rs, path, err) < 0)
			fail_msg("%s: %s", e->d_name, err);
		assert_int_equal(st_istio_analyze(rs, &s, err), 0);
		if (s.kind != ST_ISTIO_AMBIENT)
			fail_msg("%s: kind %s", e->d_name,
				 st_istio_kind_name(s.kind));
		for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
			const struct st_rule *r = st_ruleset_rule(rs, i);
			bool ok = st_role_is_ambient(r->role) ||
				  r->role == ST_ROLE_FOREIGN_JUMP ||
				  (r->role == ST_ROLE_NONE &&
				   !st_istio_is_istio_chain(r->chain));

			if (!ok)
				fail_msg("%s: %s %s %u \"%s\" has role %s",
					 e->d_name, r->table, r->chain,
					 r->number, r->text,
					 st_role_name(r->role));
		}
		st_ruleset_free(rs);
		nsets++;
	}
	closedir(d);
	assert_true(nsets >= 7);
}

/* ---- hand-built rule sets ---- */

#define MAX_LINES 40

struct istio_case {
	const char *name;
	enum st_backend backend;
	enum st_family family;
	const char *rules[MAX_LINES];
	const char *expect[16];
};

#define TRIPLET(u, g)                                                    \
	"-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN",               \
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --uid-owner " u \
		" -j ISTIO_IN_REDIRECT",                                 \
		"-A ISTIO_OUTPUT -o lo ! --uid-owner " u " -j RETURN",   \
		"-A ISTIO_OUTPUT --uid-owner " u " -j RETURN",           \
		"-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner " g \
		" -j ISTIO_IN_REDIRECT",                                 \
		"-A ISTIO_OUTPUT -o lo ! --gid-owner " g " -j RETURN",   \
		"-A ISTIO_OUTPUT --gid-owner " g " -j RETURN"

#define INBOUND(port)                                              \
	"-A PREROUTING -p tcp -j ISTIO_INBOUND",                   \
		"-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN", \
		"-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",    \
		"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports " port

#define REDIRECT(port)                       \
	"-A ISTIO_OUTPUT -j ISTIO_REDIRECT", \
		"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports " port

static const struct istio_case cases[] = {
	{"two proxy uids and gids",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {INBOUND("15006"), "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN",
	  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --uid-owner 3 "
	  "-j ISTIO_IN_REDIRECT",
	  "-A ISTIO_OUTPUT -o lo ! --uid-owner 3 -j RETURN",
	  "-A ISTIO_OUTPUT --uid-owner 3 -j RETURN",
	  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --uid-owner 4 "
	  "-j ISTIO_IN_REDIRECT",
	  "-A ISTIO_OUTPUT -o lo ! --uid-owner 4 -j RETURN",
	  "-A ISTIO_OUTPUT --uid-owner 4 -j RETURN",
	  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner 1 "
	  "-j ISTIO_IN_REDIRECT",
	  "-A ISTIO_OUTPUT -o lo ! --gid-owner 1 -j RETURN",
	  "-A ISTIO_OUTPUT --gid-owner 1 -j RETURN",
	  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo --gid-owner 2 "
	  "-j ISTIO_IN_REDIRECT",
	  "-A ISTIO_OUTPUT -o lo ! --gid-owner 2 -j RETURN",
	  "-A ISTIO_OUTPUT --gid-owner 2 -j RETURN",
	  "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN", REDIRECT("15001")},
	 {"kind sidecar", "era 1.5+ nine-rule uid/gid", "proxy_uids 3 4",
	  "proxy_gids 1 2", "outbound_port 15001", "inbound_port 15006",
	  "rule nat ISTIO_OUTPUT 2 proxy-to-own-pod-redirect reachable",
	  "rule nat ISTIO_OUTPUT 5 proxy-to-own-pod-redirect never by 3",
	  "rule nat ISTIO_OUTPUT 6 loopback-non-proxy-return never by 3,4",
	  "rule nat ISTIO_OUTPUT 7 proxy-uid-return reachable",
	  "rule nat ISTIO_OUTPUT 8 proxy-to-own-pod-redirect never",
	  "rule nat ISTIO_OUTPUT 10 proxy-gid-return reachable",
	  "rule nat ISTIO_OUTPUT 11 proxy-to-own-pod-redirect never",
	  "rule nat ISTIO_OUTPUT 13 proxy-gid-return reachable",
	  "rule nat ISTIO_OUTPUT 14 localhost-return never"}},
	/* Ports and marks are read from the targets, not assumed. */
	{"TPROXY with its own port and mark",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"*mangle", "-A PREROUTING -p tcp -j ISTIO_INBOUND",
	  "-A PREROUTING -p tcp --mark 0x77 -j CONNMARK --save-mark",
	  "-A OUTPUT -p tcp --connmark 0x77 -j CONNMARK --restore-mark",
	  "-A ISTIO_DIVERT -j MARK --set-mark 0x77",
	  "-A ISTIO_DIVERT -j ACCEPT",
	  "-A ISTIO_INBOUND -p tcp --mark 0x77 -j RETURN",
	  "-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN",
	  "-A ISTIO_INBOUND -p tcp --ctstate RELATED,ESTABLISHED "
	  "-j ISTIO_DIVERT",
	  "-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY",
	  "-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port "
	  "15016 --tproxy-mark 0x77/0xffffffff",
	  "*nat", "-A OUTPUT -p tcp -j ISTIO_OUTPUT", TRIPLET("1337", "1337"),
	  "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15016",
	  REDIRECT("15011")},
	 {"kind sidecar", "mode TPROXY", "inbound_port 15016",
	  "outbound_port 15011", "tproxy_mark 119", "inbound_excluded_ports 22",
	  "inbound_captured yes",
	  "rule mangle ISTIO_TPROXY 1 tproxy-redirect reachable",
	  "rule mangle ISTIO_INBOUND 3 tproxy-divert reachable",
	  "rule mangle ISTIO_INBOUND 4 tproxy-capture reachable",
	  "rule mangle ISTIO_DIVERT 1 tproxy-divert-mark reachable",
	  "rule mangle ISTIO_DIVERT 2 tproxy-divert-accept reachable",
	  "rule mangle PREROUTING 2 tproxy-connmark reachable",
	  "rule nat ISTIO_OUTPUT 7 proxy-gid-return reachable note TPROXY"}},
	/*
	 * istio-iptables -m TPROXY -b "": no ISTIO_TPROXY at all, but the
	 * mangle marks of TPROXY mode say the mode (and its mark).
	 */
	{"TPROXY without inbound capture",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"*mangle", "-A PREROUTING -p tcp --mark 0x77 -j CONNMARK --save-mark",
	  "-A OUTPUT -p tcp -o lo --mark 0x77 -j RETURN",
	  "-A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo --uid-owner 1337 "
	  "-j MARK --set-mark 0x78",
	  "-A OUTPUT -p tcp --connmark 0x77 -j CONNMARK --restore-mark", "*nat",
	  "-A OUTPUT -p tcp -j ISTIO_OUTPUT", TRIPLET("1337", "1337"),
	  "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15016",
	  REDIRECT("15011")},
	 {"kind sidecar", "mode TPROXY", "tproxy_mark 119",
	  "inbound_captured no", "inbound_port 15016", "outbound_port 15011",
	  "rule mangle PREROUTING 1 tproxy-connmark reachable",
	  "rule mangle OUTPUT 1 tproxy-mark-return reachable",
	  "rule mangle OUTPUT 2 tproxy-outbound-mark reachable",
	  "rule mangle OUTPUT 3 tproxy-connmark reachable"}},
	{"REDIRECT with its own ports",
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {INBOUND("16006"), "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  "-A OUTPUT -p udp --dport 53 --uid-owner 7 -j RETURN",
	  "-A OUTPUT -d 10.0.0.10/32 -p udp --dport 53 -j REDIRECT "
	  "--to-ports 16053",
	  TRIPLET("7", "8"), REDIRECT("16001")},
	 {"mode REDIRECT", "outbound_port 16001", "inbound_port 16006",
	  "dns_capture yes", "dns_port 16053", "dns_servers 10.0.0.10/32",
	  "proxy_uids 7", "proxy_gids 8",
	  "rule nat OUTPUT 2 dns-proxy-return reachable",
	  "rule nat OUTPUT 3 dns-capture reachable"}},
	/* ISTIO_OUTBOUND_OWNER_GROUPS(_EXCLUDE): not proxy gids. */
	{"owner-group filters",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {INBOUND("15006"), "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  TRIPLET("1337", "1337"), "-A ISTIO_OUTPUT --gid-owner 3000 -j RETURN",
	  "-A ISTIO_OUTPUT ! --gid-owner 2000 ! --gid-owner 2001 -j RETURN",
	  REDIRECT("15001")},
	 {"proxy_uids 1337", "proxy_gids 1337",
	  "rule nat ISTIO_OUTPUT 7 proxy-gid-return reachable",
	  "rule nat ISTIO_OUTPUT 8 owner-group-filter reachable",
	  "rule nat ISTIO_OUTPUT 9 owner-group-filter reachable",
	  "rule nat ISTIO_OUTPUT 10 outbound-capture reachable"}},
	{"interfaces, port and CIDR lists, trace logging",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"-A PREROUTING -i kv0 -j ISTIO_REDIRECT",
	  "-A PREROUTING -i eth9 -j RETURN",
	  "-A PREROUTING -p tcp -j NFLOG --nflog-prefix JumpInbound "
	  "--nflog-group 1337",
	  "-A PREROUTING -p tcp -j ISTIO_INBOUND",
	  "-A OUTPUT -o eth9 -j RETURN", "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
	  "-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT",
	  "-A ISTIO_INBOUND -p tcp --dport 9090 -j ISTIO_IN_REDIRECT",
	  "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
	  "-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN",
	  TRIPLET("1337", "1337"), "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
	  "-A ISTIO_OUTPUT -d 10.9.0.0/16 -j RETURN",
	  "-A ISTIO_OUTPUT -p tcp --dport 7777 -j ISTIO_REDIRECT",
	  "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT",
	  "-A ISTIO_OUTPUT -j RETURN",
	  "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001"},
	 {"kind sidecar", "inbound_ports 8080 9090", "inbound_all_ports no",
	  "inbound_captured yes", "inbound_excluded_ports 15008",
	  "outbound_excluded_ports 5432", "outbound_included_ports 7777",
	  "excluded_cidrs 10.9.0.0/16", "included_cidrs 10.0.0.0/8",
	  "outbound_all_cidrs no", "outbound_port 15001",
	  "rule nat PREROUTING 1 kubevirt-interface reachable",
	  "rule nat PREROUTING 2 excluded-interface reachable",
	  "rule nat PREROUTING 3 trace-logging reachable",
	  "rule nat OUTPUT 1 excluded-interface reachable"}},
	{"interfaces, port and CIDR lists: the ISTIO_* rules",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"-A PREROUTING -p tcp -j ISTIO_INBOUND",
	  "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  "-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT",
	  "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
	  "-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN",
	  TRIPLET("1337", "1337"), "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
	  "-A ISTIO_OUTPUT -d 10.9.0.0/16 -j RETURN",
	  "-A ISTIO_OUTPUT -p tcp --dport 7777 -j ISTIO_REDIRECT",
	  "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT",
	  "-A ISTIO_OUTPUT -j RETURN",
	  "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001"},
	 {"rule nat ISTIO_INBOUND 1 inbound-port-inclusion reachable",
	  "rule nat ISTIO_OUTPUT 1 excluded-outbound-port reachable",
	  "rule nat ISTIO_OUTPUT 9 localhost-return never",
	  "rule nat ISTIO_OUTPUT 10 excluded-cidr reachable",
	  "rule nat ISTIO_OUTPUT 11 included-outbound-port reachable",
	  "rule nat ISTIO_OUTPUT 12 included-cidr reachable",
	  "rule nat ISTIO_OUTPUT 13 outbound-default-return reachable"}},
	/* 1.8: DNAT to the agent, SNAT back, TCP DNS in ISTIO_REDIRECT. */
	{"1.8 DNS capture",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {INBOUND("15006"), "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  "-A OUTPUT -p udp --dport 53 --uid-owner 1337 -j RETURN",
	  "-A OUTPUT -p udp --dport 53 --gid-owner 1337 -j RETURN",
	  "-A OUTPUT -p udp --dport 53 -j DNAT --to-destination "
	  "127.0.0.1:15053",
	  "-A POSTROUTING -p udp --dport 15053 -j SNAT --to-source 127.0.0.1",
	  TRIPLET("1337", "1337"), "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
	  "-A ISTIO_REDIRECT -p tcp --dport 53 -j REDIRECT --to-ports 15053",
	  "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001"},
	 {"dns_capture yes", "dns_port 15053", "dns_servers",
	  "outbound_port 15001", "rule nat OUTPUT 4 dns-capture reachable",
	  "rule nat POSTROUTING 1 dns-capture reachable",
	  "rule nat ISTIO_REDIRECT 1 dns-capture reachable",
	  "rule nat ISTIO_REDIRECT 2 outbound-redirect reachable"}},
	{"mangle INVALID drop without ISTIO_DROP",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"*mangle", "-A PREROUTING --ctstate INVALID -j DROP", "*nat",
	  INBOUND("15006"), "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
	  REDIRECT("15001")},
	 {"invalid_drop yes",
	  "rule mangle PREROUTING 1 invalid-drop reachable"}},
	/* Native nftables: kernel packets reach the 127.0.0.1 return. */
	{"native nftables",
	 ST_BACKEND_NFTABLES,
	 ST_FAMILY_ANY,
	 {"*istio-proxy-nat", "-A PREROUTING -p tcp -j istio-inbound",
	  "-A OUTPUT -j istio-output",
	  "-A istio-inbound -p tcp --dport 15008 -j RETURN",
	  "-A istio-inbound -p tcp -j istio-in-redirect",
	  "-A istio-in-redirect -p tcp -j REDIRECT --to-ports 15006",
	  "-A istio-redirect -p tcp -j REDIRECT --to-ports 15001",
	  "-A istio-output -o lo -s 127.0.0.6 -j RETURN",
	  "-A istio-output -o lo ! -d 127.0.0.1 --uid-owner 1337 "
	  "-j istio-in-redirect",
	  "-A istio-output -o lo ! --uid-owner 1337 -j RETURN",
	  "-A istio-output --uid-owner 1337 -j RETURN",
	  "-A istio-output -o lo ! -d 127.0.0.1 --gid-owner 1337 "
	  "-j istio-in-redirect",
	  "-A istio-output -o lo ! --gid-owner 1337 -j RETURN",
	  "-A istio-output --gid-owner 1337 -j RETURN",
	  "-A istio-output -d 127.0.0.1 -j RETURN",
	  "-A istio-output -j istio-redirect"},
	 {"kind sidecar", "backend nftables", "era 1.27+ native nftables",
	  "ipv4 yes", "ipv6 no", "outbound_port 15001", "inbound_port 15006",
	  "rule istio-proxy-nat istio-output 5 proxy-to-own-pod-redirect "
	  "never",
	  "rule istio-proxy-nat istio-output 6 loopback-non-proxy-return "
	  "never by 3,4",
	  "rule istio-proxy-nat istio-output 8 localhost-return reachable "
	  "note socket"}},
	{"ambient in-pod rules",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"-A PREROUTING -j ISTIO_PRERT", "-A OUTPUT -j ISTIO_OUTPUT",
	  "-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp ! --dport 15008 ! --mark "
	  "0x539/0xfff -j REDIRECT --to-ports 15006",
	  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp ! --mark 0x539/0xfff "
	  "-j REDIRECT --to-ports 15001",
	  "-A FOREIGN -j RETURN"},
	 {"kind ambient",
	  "note ambient (ztunnel) in-pod rules: this is not a sidecar pod",
	  "mode REDIRECT", "outbound_port 0", "amb_outbound_port 15001",
	  "amb_inbound_port 15006", "amb_tunnel_port 15008",
	  "amb_inbound_captured yes", "amb_mark 0x539/0xfff",
	  "rule nat PREROUTING 1 ambient-inbound-entry reachable",
	  "rule nat OUTPUT 1 ambient-outbound-entry reachable",
	  "rule nat ISTIO_PRERT 1 ambient-inbound-redirect reachable",
	  "rule nat ISTIO_OUTPUT 1 ambient-outbound-redirect reachable",
	  "rule nat FOREIGN 1 none never orphan"}},
	{"1.18-1.20 ambient node chains",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"*mangle", "-A PREROUTING -j ztunnel-PREROUTING",
	  "-A ztunnel-PREROUTING -m mark --mark 0x4d3/0xfff -j ACCEPT"},
	 {"kind ambient", "note~ not a sidecar pod", "note~ of the node",
	  "rule mangle PREROUTING 1 ambient-node-rule reachable",
	  "rule mangle ztunnel-PREROUTING 1 ambient-node-rule reachable"}},
	/* 1.28+ native nftables on the node: the kubelet by its uid. */
	{"ambient node probe SNAT, native nftables",
	 ST_BACKEND_NFTABLES,
	 ST_FAMILY_ANY,
	 {"*istio-ambient-nat",
	  "-A POSTROUTING -p tcp --uid-owner 0 -j SNAT --to-source "
	  "169.254.7.127"},
	 {"kind ambient", "note~ of the node", "amb_probe_snat yes",
	  "amb_probe_uid 0", "amb_probe_socket_exists no",
	  "rule istio-ambient-nat POSTROUTING 1 ambient-probe-snat "
	  "reachable"}},
	{"no Istio chains",
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {"*filter", "-A INPUT -p tcp --dport 22 -j ACCEPT",
	  "-A OUTPUT -j KUBE-SERVICES", "-A KUBE-SERVICES -j RETURN"},
	 {"kind none", "note~ no Istio rules", "note~ iptables-legacy-save",
	  "rule filter INPUT 1 none reachable",
	  "rule filter OUTPUT 1 none reachable"}},
	{"Istio chains of no known form",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {"-A OUTPUT -j ISTIO_SOMETHING", "-A ISTIO_SOMETHING -j ACCEPT"},
	 {"kind unrecognised", "note~ not in a form",
	  "rule nat OUTPUT 1 other reachable",
	  "rule nat ISTIO_SOMETHING 1 other reachable"}},
	{"empty iptables-legacy dump",
	 ST_BACKEND_LEGACY,
	 ST_FAMILY_IPV4,
	 {NULL},
	 {"kind none", "backend iptables-legacy", "note~ no rules at all",
	  "note~ try iptables-nft-save"}},
	{"empty iptables-nft dump",
	 ST_BACKEND_NFT,
	 ST_FAMILY_IPV4,
	 {NULL},
	 {"kind none", "note~ try iptables-legacy-save"}},
	{"empty nftables ruleset",
	 ST_BACKEND_NFTABLES,
	 ST_FAMILY_ANY,
	 {NULL},
	 {"kind none", "backend nftables",
	  "note~ try iptables-nft-save or iptables-legacy-save"}},
};

/* Lines joined with newlines, for tl_build() and check_expect(). */
static char *join(const char *const *lines, size_t n)
{
	size_t len = 1;
	char *s = NULL;

	for (size_t i = 0; i < n && lines[i] != NULL; i++)
		len += strlen(lines[i]) + 1;
	s = calloc(1, len);
	assert_non_null(s);
	for (size_t i = 0; i < n && lines[i] != NULL; i++) {
		strcat(s, lines[i]);
		strcat(s, "\n");
	}
	return s;
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct istio_case *c = &cases[i];
		char err[ST_ERRBUF_SIZE] = "";
		struct st_istio_settings s;
		char *rules = join(c->rules, MAX_LINES);
		char *expect = join(c->expect, 16);
		struct st_ruleset *rs = tl_build(c->backend, c->family, rules);

		assert_int_equal(st_istio_analyze(rs, &s, err), 0);
		check_expect(c->name, rs, &s, expect, false);
		st_ruleset_free(rs);
		free(rules);
		free(expect);
	}
}

/* What iptables-nft-save prints over legacy tables: only the warning. */
static void test_legacy_warning(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_istio_settings s;
	struct st_ruleset *rs = tl_build(ST_BACKEND_NFT, ST_FAMILY_IPV4, "");

	(void)state;
	assert_int_equal(st_ruleset_add_warning(
				 rs, "# Warning: iptables-legacy tables "
				     "present, use iptables-legacy-save to see "
				     "them"),
			 0);
	assert_int_equal(st_istio_analyze(rs, &s, err), 0);
	assert_int_equal(s.kind, ST_ISTIO_NONE);
	assert_non_null(strstr(s.note, "no rules at all"));
	assert_non_null(
		strstr(s.note, "read them with iptables-legacy-save instead"));
	st_ruleset_free(rs);
}

/* A summary list that overflows says so; the 1.17 sample's does not. */
static void test_truncated_lists(void **state)
{
	static const struct {
		const char *path; /* under samples/ */
		bool truncated;
	} lists[] = {
		{"rules/istio-1.17_redirect_default_legacy.rules", false},
		{"fuzz-regress/rules-61-inbound-exclusions.rules", true},
		{"fuzz-regress/rules-120-owner-returns.rules", true},
	};
	char path[512];
	char err[ST_ERRBUF_SIZE];

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(lists); i++) {
		struct st_istio_settings set;
		struct st_ruleset *rs = st_ruleset_new();

		assert_non_null(rs);
		snprintf(path, sizeof(path), "%s/%s", ST_SAMPLES,
			 lists[i].path);
		assert_int_equal(st_rules_load_file(rs, path, err), 0);
		assert_int_equal(st_istio_analyze(rs, &set, err), 0);
		assert_int_equal(set.truncated, lists[i].truncated);
		st_ruleset_free(rs);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(st_istio_kind_name(ST_ISTIO_SIDECAR), "sidecar");
	assert_string_equal(st_istio_kind_name(ST_ISTIO_AMBIENT), "ambient");
	assert_string_equal(st_istio_kind_name(ST_ISTIO_NONE), "none");
	assert_string_equal(st_istio_kind_name(ST_ISTIO_UNRECOGNISED),
			    "unrecognised");
	assert_string_equal(st_istio_mode_name(ST_MODE_TPROXY), "TPROXY");
	assert_string_equal(st_istio_mode_name(ST_MODE_REDIRECT), "REDIRECT");
	assert_string_equal(st_istio_era_name(ST_ERA_FIVE_RULE),
			    "0.8-1.2 five-rule");
	assert_string_equal(st_istio_era_name(ST_ERA_NINE_RULE),
			    "1.5+ nine-rule uid/gid");
	assert_string_equal(st_istio_era_name(ST_ERA_UNKNOWN), "unknown");
	assert_true(st_istio_is_istio_chain("ISTIO_OUTPUT"));
	assert_true(st_istio_is_istio_chain("istio-output"));
	assert_false(st_istio_is_istio_chain("KUBE-SERVICES"));
}

int main(void)
{
	struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_every_sample_expected),
		cmocka_unit_test(test_ambient_roles_specific),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_legacy_warning),
		cmocka_unit_test(test_truncated_lists),
		cmocka_unit_test(test_names),
	};
	struct CMUnitTest *tests = NULL;
	char **names = NULL;
	size_t n = 0;
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	char path[1024];
	struct dirent **list = NULL;
	int nlist = 0;
	int ret = 0;

	/* One test per expectation file, named after it. */
	snprintf(path, sizeof(path), "%s/expected", ST_SAMPLES);
	nlist = scandir(path, &list, NULL, alphasort);
	if (nlist < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	tests = calloc(nfixed + (size_t)nlist, sizeof(*tests));
	names = calloc((size_t)nlist + 1, sizeof(*names));
	if (tests == NULL || names == NULL)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	n = nfixed;
	for (int i = 0; i < nlist; i++) {
		if (has_suffix(list[i]->d_name, ".istio")) {
			names[n - nfixed] = strdup(list[i]->d_name);
			tests[n].name = names[n - nfixed];
			tests[n].test_func = test_expected;
			tests[n].initial_state = names[n - nfixed];
			n++;
		}
		free(list[i]);
	}
	free(list);
	ret = _cmocka_run_group_tests("test_istio", tests, n, NULL, NULL);
	for (size_t i = 0; i + nfixed < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return ret;
}
