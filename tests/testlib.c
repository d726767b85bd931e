// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * testlib.c - helpers shared by the cmocka tests; see testlib.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
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

#include "common.h"
#include "netns.h"
#include "rules-int.h"
#include "spawn.h"
#include "testlib.h"

/* ---- tl_build(): "*table", ":CHAIN", "-A CHAIN matches -j T" ---- */

static bool is_builtin(const char *name)
{
	static const char *const b[] = {"PREROUTING", "INPUT", "FORWARD",
					"OUTPUT", "POSTROUTING"};

	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (strcmp(name, b[i]) == 0)
			return true;
	return false;
}

static void add_ports(struct st_match *m, const char *s)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *p = strtok_r(buf, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(p, ':');

		m->ports[m->nports].lo = (uint16_t)atoi(p);
		m->ports[m->nports].hi =
			(uint16_t)(colon ? atoi(colon + 1) : atoi(p));
		m->nports++;
	}
}

static void add_ids(struct st_match *m, const char *s)
{
	const char *dash = strchr(s, '-');

	m->lo = (uint32_t)strtoul(s, NULL, 0);
	m->hi = dash ? (uint32_t)strtoul(dash + 1, NULL, 0) : m->lo;
}

static void add_mark(uint32_t *val, uint32_t *mask, const char *s)
{
	const char *slash = strchr(s, '/');

	*val = (uint32_t)strtoul(s, NULL, 0);
	*mask = slash ? (uint32_t)strtoul(slash + 1, NULL, 0) : UINT32_MAX;
}

static const struct {
	const char *name;
	uint32_t bit;
} ctnames[] = {
	{"INVALID", ST_CT_INVALID},	    {"NEW", ST_CT_NEW},
	{"ESTABLISHED", ST_CT_ESTABLISHED}, {"RELATED", ST_CT_RELATED},
	{"UNTRACKED", ST_CT_UNTRACKED},
};

static uint32_t ctbits(const char *s)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < sizeof(ctnames) / sizeof(ctnames[0]); i++)
		if (strstr(s, ctnames[i].name) != NULL)
			bits |= ctnames[i].bit;
	return bits;
}

static void parse_target(struct st_rule *r, char **tok, int n, int i)
{
	struct st_target *t = &r->target;
	const char *name = tok[i + 1];
	static const struct {
		const char *name;
		enum st_target_kind kind;
	} kinds[] = {
		{"RETURN", ST_T_RETURN},
		{"ACCEPT", ST_T_ACCEPT},
		{"DROP", ST_T_DROP},
		{"REJECT", ST_T_REJECT},
		{"REDIRECT", ST_T_REDIRECT},
		{"TPROXY", ST_T_TPROXY},
		{"MARK", ST_T_MARK},
		{"CONNMARK", ST_T_CONNMARK},
		{"CT", ST_T_CT},
		{"NFLOG", ST_T_NFLOG},
		{"LOG", ST_T_LOG},
		{"DNAT", ST_T_DNAT},
		{"SNAT", ST_T_SNAT},
		{"WEIRD", ST_T_UNKNOWN},
	};

	t->kind = strcmp(tok[i], "-g") == 0 ? ST_T_GOTO : ST_T_JUMP;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(name, kinds[k].name) == 0)
			t->kind = kinds[k].kind;
	if (t->kind == ST_T_JUMP || t->kind == ST_T_GOTO)
		t->chain = strdup(name);
	for (int k = i + 2; k + 1 < n; k++) {
		const char *v = tok[k + 1];

		if (strcmp(tok[k], "--to-ports") == 0 ||
		    strcmp(tok[k], "--on-port") == 0)
			t->port_lo = t->port_hi = (uint16_t)atoi(v);
		else if (strcmp(tok[k], "--to-destination") == 0)
			t->port_lo = t->port_hi =
				(uint16_t)atoi(strchr(v, ':') + 1);
		else if (strcmp(tok[k], "--set-mark") == 0 ||
			 strcmp(tok[k], "--set-xmark") == 0 ||
			 strcmp(tok[k], "--tproxy-mark") == 0)
			add_mark(&t->mark, &t->mask, v);
		else if (strcmp(tok[k], "--zone") == 0)
			t->zone = (uint16_t)atoi(v);
		else if (strcmp(tok[k], "--nflog-group") == 0)
			t->group = (uint16_t)atoi(v);
	}
	t->text = strdup(name);
}

/* Chains declared so far, as "table chain". */
struct declared {
	char names[64][96];
	size_t n;
};

static void declare(struct st_ruleset *rs, struct declared *d,
		    const char *table, const char *chain, enum st_family fam)
{
	char key[96];

	snprintf(key, sizeof(key), "%s %s", table, chain);
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->names[i], key) == 0)
			return;
	assert_true(d->n < 64);
	snprintf(d->names[d->n++], sizeof(d->names[0]), "%s", key);
	assert_non_null(st_ruleset_add_chain(
		rs, table, chain, fam, is_builtin(chain) ? "ACCEPT" : NULL));
}

static void parse_rule(struct st_ruleset *rs, struct declared *d,
		       const char *table, enum st_family fam, const char *line)
{
	char buf[512];
	char *tok[64] = {NULL};
	int n = 0;
	char *save = NULL;
	struct st_rule *r = NULL;
	bool neg = false;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *p = strtok_r(buf, " ", &save); p != NULL && n < 64;
	     p = strtok_r(NULL, " ", &save))
		tok[n++] = p;
	assert_true(n >= 2 && strcmp(tok[0], "-A") == 0);
	declare(rs, d, table, tok[1], fam);
	r = st_ruleset_add_rule(rs, table, tok[1], fam);
	assert_non_null(r);
	r->text = strdup(line);
	for (int i = 2; i < n; i++) {
		const char *o = tok[i];
		const char *v = i + 1 < n ? tok[i + 1] : "";
		struct st_match *m = NULL;
		enum st_match_kind k = ST_M_UNKNOWN;

		if (strcmp(o, "!") == 0) {
			neg = true;
			continue;
		}
		if (strcmp(o, "-j") == 0 || strcmp(o, "-g") == 0) {
			parse_target(r, tok, n, i);
			break;
		}
		if (strcmp(o, "-m") == 0) {
			i++;
			continue;
		}
		if (strcmp(o, "-s") == 0)
			k = ST_M_SRC;
		else if (strcmp(o, "-d") == 0)
			k = ST_M_DST;
		else if (strcmp(o, "-i") == 0)
			k = ST_M_IIF;
		else if (strcmp(o, "-o") == 0)
			k = ST_M_OIF;
		else if (strcmp(o, "-p") == 0)
			k = ST_M_PROTO;
		else if (strcmp(o, "--dport") == 0 ||
			 strcmp(o, "--dports") == 0)
			k = ST_M_DPORT;
		else if (strcmp(o, "--sport") == 0 ||
			 strcmp(o, "--sports") == 0)
			k = ST_M_SPORT;
		else if (strcmp(o, "--uid-owner") == 0)
			k = ST_M_UID;
		else if (strcmp(o, "--gid-owner") == 0)
			k = ST_M_GID;
		else if (strcmp(o, "--socket-exists") == 0)
			k = ST_M_SOCKET_EXISTS;
		else if (strcmp(o, "--mark") == 0)
			k = ST_M_MARK;
		else if (strcmp(o, "--connmark") == 0)
			k = ST_M_CONNMARK;
		else if (strcmp(o, "--ctstate") == 0)
			k = ST_M_CTSTATE;
		else if (strcmp(o, "--comment") == 0)
			k = ST_M_COMMENT;
		else if (strcmp(o, "--stateful") == 0)
			k = ST_M_STATEFUL;
		m = st_rule_add_match(r, k);
		assert_non_null(m);
		m->neg = neg;
		neg = false;
		switch (k) {
		case ST_M_SRC:
		case ST_M_DST:
			assert_int_equal(st_prefix_parse(&m->addr, v), 0);
			if (r->family == ST_FAMILY_ANY)
				r->family = m->addr.family;
			i++;
			break;
		case ST_M_IIF:
		case ST_M_OIF:
			snprintf(m->ifname, sizeof(m->ifname), "%s", v);
			i++;
			break;
		case ST_M_PROTO:
			m->proto = strcmp(v, "tcp") == 0    ? 6
				   : strcmp(v, "udp") == 0  ? 17
				   : strcmp(v, "icmp") == 0 ? 1
							    : (uint8_t)atoi(v);
			i++;
			break;
		case ST_M_SPORT:
		case ST_M_DPORT:
			add_ports(m, v);
			i++;
			break;
		case ST_M_UID:
		case ST_M_GID:
			add_ids(m, v);
			i++;
			break;
		case ST_M_MARK:
		case ST_M_CONNMARK:
			add_mark(&m->lo, &m->hi, v);
			i++;
			break;
		case ST_M_CTSTATE:
			m->lo = ctbits(v);
			i++;
			break;
		case ST_M_SOCKET_EXISTS:
			break;
		default:
			/* --comment/--stateful X, or any unknown "--opt X". */
			m->text = strdup(i + 1 < n ? v : o);
			i++;
			break;
		}
	}
}

struct st_ruleset *tl_build(enum st_backend b, enum st_family fam,
			    const char *text)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct declared *d = calloc(1, sizeof(*d));
	char table[64] = "nat";
	const char *p = text;

	assert_non_null(rs);
	assert_non_null(d);
	st_ruleset_set_backend(rs, b);
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (e ? 1 : 0);
		if (line[0] == '*')
			snprintf(table, sizeof(table), "%.63s", line + 1);
		else if (line[0] == ':')
			declare(rs, d, table, line + 1, fam);
		else if (line[0] == '-')
			parse_rule(rs, d, table, fam, line);
	}
	free(d);
	return rs;
}

/* ---- files and goldens ---- */

char *tl_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = 0;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

size_t tl_read_into(const char *path, void *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0;

	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	len = fread(buf, 1, size, f);
	fclose(f);
	assert_true(len < size);
	return len;
}

void tl_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

bool tl_regen(void)
{
	const char *e = getenv("ST_REGEN");

	if (e == NULL)
		e = getenv("ST_UPDATE_GOLDEN");
	return e != NULL && strcmp(e, "0") != 0;
}

void tl_golden(const char *path, const char *got)
{
	char *want = NULL;

	if (tl_regen()) {
		char dir[512];
		char *slash = NULL;

		st_strlcpy(dir, path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash != NULL) {
			*slash = '\0';
			mkdir(dir, 0755);
		}
		tl_write_file(path, got);
		return;
	}
	want = tl_read_file(path, NULL);
	if (want == NULL)
		fail_msg("missing golden %s (run with ST_REGEN=1)", path);
	if (strcmp(want, got) != 0) {
		print_error("%s differs from the output:\n%s\n", path, got);
		free(want);
		fail_msg("golden %s mismatch", path);
	}
	free(want);
}

/* ---- sample rule sets ---- */

struct st_ruleset *tl_load_rules(const char *name)
{
	char path[512];
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	assert_non_null(rs);
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES, name);
	if (st_rules_load_file(rs, path, err) < 0)
		fail_msg("%s: %s", path, err);
	return rs;
}

struct st_ruleset *tl_load_text(const char *text)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = st_ruleset_new();

	assert_non_null(rs);
	if (st_rules_load_buf(rs, text, strlen(text), "text", err) < 0)
		fail_msg("%s", err);
	return rs;
}

struct st_ruleset *tl_load_analyze(const char *name,
				   struct st_istio_settings *set)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_ruleset *rs = tl_load_rules(name);

	if (st_istio_analyze(rs, set, err) < 0)
		fail_msg("%s: %s", name, err);
	return rs;
}

void tl_parse_addr(const char *s, uint8_t *family, uint8_t *addr,
		   uint16_t *port)
{
	char host[64];
	const char *colon = s[0] == '[' ? strchr(s, ']') + 1 : strrchr(s, ':');
	size_t hl = (size_t)(colon - s);

	if (s[0] == '[') {
		hl -= 2;
		memcpy(host, s + 1, hl);
	} else {
		memcpy(host, s, hl);
	}
	host[hl] = '\0';
	*family = s[0] == '[' ? 6 : 4;
	memset(addr, 0, 16);
	assert_int_equal(
		inet_pton(*family == 6 ? AF_INET6 : AF_INET, host, addr), 1);
	*port = (uint16_t)strtoul(colon + 1, NULL, 10);
}

/* ---- commands and namespaces ---- */

bool tl_have(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[512];
	const char *p;

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if (path == NULL || *path == '\0')
		path = "/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; *p != '\0';) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		if (n > 0 && access(buf, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

void tl_need_root(const char *prog, const char *const *tools)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s: not root: skipped\n", prog);
		exit(TL_SKIPPED);
	}
	for (; tools != NULL && *tools != NULL; tools++) {
		if (!tl_have(*tools)) {
			fprintf(stderr, "%s: %s not installed: skipped\n", prog,
				*tools);
			exit(TL_SKIPPED);
		}
	}
}

int tl_run(int ns_fd, char *const argv[], int timeout_ms)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int ret = 0;

	memset(&res, 0, sizeof(res));
	ret = st_spawn(argv, ns_fd, NULL, 0, timeout_ms, &res, err);
	if (ret == 0 && res.status != 0)
		ret = -1;
	if (ret != 0)
		print_error("%s %s failed: %s%s\n", argv[0],
			    argv[1] ? argv[1] : "", err,
			    res.errout ? res.errout : "");
	st_spawn_result_free(&res);
	return ret == 0 ? 0 : -1;
}

ino_t tl_cur_netns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

int tl_netns_add(struct tl_netns *ns, const char *prefix)
{
	char err[ST_ERRBUF_SIZE] = "";

	ns->fd = -1;
	snprintf(ns->name, sizeof(ns->name), "%s-%d", prefix, (int)getpid());
	if (tl_run(-1, TL_ARGV("ip", "netns", "add", ns->name), 10000) != 0) {
		ns->name[0] = '\0';
		return -1;
	}
	ns->fd = st_netns_open(ns->name, err);
	if (ns->fd < 0) {
		print_error("%s\n", err);
		tl_netns_del(ns);
		return -1;
	}
	return 0;
}

int tl_netns_del(struct tl_netns *ns)
{
	int ret = 0;

	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
	if (ns->name[0] != '\0')
		ret = tl_run(-1, TL_ARGV("ip", "netns", "del", ns->name),
			     10000);
	ns->name[0] = '\0';
	return ret;
}

/* ---- a scratch directory ---- */

static char tmpdir[128];

int tl_tmpdir_make(const char *prefix)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s-XXXXXX", prefix);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

const char *tl_tmpdir(void)
{
	return tmpdir;
}

void tl_tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int tl_tmpdir_remove(void)
{
	if (tmpdir[0] == '\0')
		return 0;
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
