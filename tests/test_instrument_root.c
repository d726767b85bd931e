// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_instrument_root.c - the NFLOG instrumentation against the real
 * backends, in throwaway namespaces ("stt-" names, never the root
 * namespace): attach, trace one connection, detach and compare, for
 * iptables-legacy, iptables-nft and native nftables; a crashed session's
 * rules cleaned up; a live session left alone; a rule added by someone
 * else during a session; two sessions at once; a stale ruleset refused; a
 * namespace deleted under a session; every sample rule set round-tripped;
 * the rules rewritten under a session as istio-cni's reconciliation does
 * (probed, found, re-attached); NFLOG group 1337 of Istio's own logging;
 * the backend detected per namespace when several hold rules.
 * Needs root and the three backends' tools: skipped (exit 77) otherwise.
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
#include "target.h"
#include "rules.h"
#include "spawn.h"
#include "testlib.h"

#define RULES ST_SAMPLES "/rules/"

#define NS_MAX 8
static char ns_names[NS_MAX][64];

static int run(int nsfd, const char *const argv[], const char *input,
	       char **out)
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int ret;

	if (out != NULL)
		*out = NULL;
	ret = st_spawn((char *const *)argv, nsfd, input,
		       input != NULL ? strlen(input) : 0, 30000, &res, err);
	if (ret < 0)
		return ret;
	ret = res.status;
	if (ret != 0)
		print_message("%s: exit %d: %s", argv[0], ret,
			      res.errout ? res.errout : "");
	if (out != NULL) {
		*out = res.out != NULL ? res.out : strdup("");
		res.out = NULL;
	}
	st_spawn_result_free(&res);
	return ret;
}

static void ns_delete_all(void)
{
	for (int i = 0; i < NS_MAX; i++) {
		const char *argv[] = {"ip", "netns", "del", ns_names[i], NULL};

		if (ns_names[i][0] == '\0')
			continue;
		run(-1, argv, NULL, NULL);
		ns_names[i][0] = '\0';
	}
}

/* A namespace with lo up and 10.99.0.1/24 on a veth link. */
static int ns_create(void)
{
	static unsigned int counter;
	char path[sizeof(ns_names) + 16]; /* the compiler sees all of it */
	int slot = -1, fd;

	for (int i = 0; i < NS_MAX && slot < 0; i++)
		if (ns_names[i][0] == '\0')
			slot = i;
	assert_true(slot >= 0);
	snprintf(ns_names[slot], sizeof(ns_names[slot]), "stt-%ld-%u",
		 (long)getpid(), counter++);
	{
		const char *argv[] = {"ip", "netns", "add", ns_names[slot],
				      NULL};

		assert_int_equal(run(-1, argv, NULL, NULL), 0);
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns_names[slot]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	{
		const char *a1[] = {"ip", "link", "set", "lo", "up", NULL};
		/* No dummy module here: one veth pair, both ends inside. */
		const char *a2[] = {"ip",   "link", "add",  "h7d0", "type",
				    "veth", "peer", "name", "h7d1", NULL};
		const char *a3[] = {"ip",  "addr", "add", "10.99.0.1/24",
				    "dev", "h7d0", NULL};
		const char *a4[] = {"ip", "link", "set", "h7d0", "up", NULL};

		assert_int_equal(run(fd, a1, NULL, NULL), 0);
		assert_int_equal(run(fd, a2, NULL, NULL), 0);
		assert_int_equal(run(fd, a3, NULL, NULL), 0);
		assert_int_equal(run(fd, a4, NULL, NULL), 0);
	}
	return fd;
}

static int teardown_ns(void **state)
{
	(void)state;
	ns_delete_all();
	return 0;
}

/* A TCP connection attempt from @uid inside the namespace. */
static void connect_as(int nsfd, uid_t uid, const char *ip, uint16_t port)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in sa;
		struct pollfd p;
		int s;

		if (setns(nsfd, CLONE_NEWNET) < 0 || setgroups(0, NULL) < 0 ||
		    setgid(uid) < 0 || setuid(uid) < 0)
			_exit(2);
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (s < 0)
			_exit(3);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		inet_pton(AF_INET, ip, &sa.sin_addr);
		connect(s, (struct sockaddr *)&sa, sizeof(sa));
		p.fd = s;
		p.events = POLLOUT;
		poll(&p, 1, 500);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

struct backend_case {
	enum st_backend backend;
	const char *sample;
	const char *load[6]; /* loads the sample from stdin */
	const char *save[6]; /* what the snapshot is compared with */
	const char *dump[6]; /* what the ruleset is read from */
};

static const struct backend_case legacy_case = {
	ST_BACKEND_LEGACY,
	"istio-1.17_redirect_default_legacy.rules",
	{"iptables-legacy-restore", NULL},
	{"iptables-legacy-save", NULL},
	{"iptables-legacy-save", NULL},
};

static const struct backend_case nft_case = {
	ST_BACKEND_NFT,
	"istio-1.26plus_redirect_default_nft.rules",
	{"iptables-nft-restore", NULL},
	{"iptables-nft-save", NULL},
	{"iptables-nft-save", NULL},
};

static const struct backend_case nftables_case = {
	ST_BACKEND_NFTABLES,
	"istio-1.28plus_native-nftables_redirect_default.nftlist",
	{"nft", "-f", "-", NULL},
	{"nft", "-s", "list", "ruleset", NULL},
	{"nft", "-j", "list", "ruleset", NULL},
};

/* The rules as compared: save output without counters and comments. */
static char *snapshot(int nsfd, const struct backend_case *bc)
{
	char err[ST_ERRBUF_SIZE] = "";
	char *text = NULL, *norm = NULL;

	assert_int_equal(run(nsfd, bc->save, NULL, &text), 0);
	assert_int_equal(
		st_instr_normalize(bc->backend, text, strlen(text), &norm, err),
		0);
	free(text);
	return norm;
}

static struct st_ruleset *read_live(int nsfd, const struct backend_case *bc)
{
	char *text = NULL;
	struct st_ruleset *rs = NULL;

	assert_int_equal(run(nsfd, bc->dump, NULL, &text), 0);
	rs = tl_load_text(text);
	free(text);
	return rs;
}

static int load_sample(const struct backend_case *bc)
{
	char path[512];
	char *text = NULL;
	int fd = ns_create();

	snprintf(path, sizeof(path), RULES "%s", bc->sample);
	text = tl_read_file(path, NULL);
	assert_non_null(text);
	assert_int_equal(run(fd, bc->load, text, NULL), 0);
	free(text);
	return fd;
}

static void tag_of(char *buf, uint32_t session, enum st_hit_kind kind,
		   const char *table, const char *chain, unsigned int rule)
{
	struct st_hit h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.session = session;
	h.rule = rule;
	snprintf(h.table, sizeof(h.table), "%s", table);
	snprintf(h.chain, sizeof(h.chain), "%s", chain);
	assert_int_equal(st_tag_format(buf, &h), 0);
}

/* Packets counted by the rule that logs @tag; -1 when there is none. */
static long long tag_packets(int nsfd, const struct backend_case *bc,
			     const char *tag)
{
	long long pk = -1;
	char *text = NULL;

	if (bc->backend == ST_BACKEND_NFTABLES) {
		const char *argv[] = {"nft", "-j", "list", "ruleset", NULL};
		json_t *root = NULL, *item = NULL;
		size_t i;

		assert_int_equal(run(nsfd, argv, NULL, &text), 0);
		root = json_loads(text, 0, NULL);
		assert_non_null(root);
		json_array_foreach(json_object_get(root, "nftables"), i, item)
		{
			json_t *expr = json_object_get(
				json_object_get(item, "rule"), "expr");
			json_t *e = NULL, *counter = NULL;
			const char *p = NULL;
			size_t k;

			json_array_foreach(expr, k, e)
			{
				if (json_object_get(e, "counter") != NULL)
					counter = json_object_get(e, "counter");
				if (json_object_get(e, "log") != NULL)
					p = json_string_value(json_object_get(
						json_object_get(e, "log"),
						"prefix"));
			}
			if (p != NULL && strcmp(p, tag) == 0 && counter != NULL)
				pk = json_integer_value(
					json_object_get(counter, "packets"));
		}
		json_decref(root);
	} else {
		const char *argv[] = {bc->save[0], "-c", NULL};
		char q[ST_NFLOG_PREFIX_SIZE + 4];
		const char *l = NULL;

		assert_int_equal(run(nsfd, argv, NULL, &text), 0);
		snprintf(q, sizeof(q), "\"%s\"", tag);
		l = strstr(text, q);
		if (l != NULL) {
			while (l > text && l[-1] != '\n')
				l--;
			assert_int_equal(sscanf(l, "[%lld:", &pk), 1);
		}
	}
	free(text);
	return pk;
}

static void test_root(void **state)
{
	const struct backend_case *bc = *state;
	const bool nft = bc->backend == ST_BACKEND_NFTABLES;
	const char *nat = nft ? "istio-proxy-nat" : "nat";
	const char *out_chain = nft ? "istio-output" : "ISTIO_OUTPUT";
	const char *redir = nft ? "istio-redirect" : "ISTIO_REDIRECT";
	const char *output = nft ? "output" : "OUTPUT";
	struct st_instr_config cfg;
	struct st_instr_report rep;
	struct st_instr *in = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "", tag[ST_NFLOG_PREFIX_SIZE];
	char *before = NULL, *during = NULL, *after = NULL;
	uint32_t s;
	int fd = load_sample(bc);

	before = snapshot(fd, bc);
	rs = read_live(fd, bc);
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = bc->backend;
	cfg.rules = rs;
	cfg.group = -1;
	/* Every record: the rule layout below is the full one. */
	cfg.flags = ST_INSTR_F_FULL;
	if (st_instr_attach(&in, &cfg, err) < 0)
		fail_msg("attach: %s", err);
	s = st_instr_session(in);
	assert_int_not_equal(s, 0);
	assert_true(st_instr_group(in) >= ST_INSTR_GROUP_BASE);
	/* PREROUTING, OUTPUT and 4 Istio chains: 18 rules, enter/end each. */
	assert_int_equal(st_instr_summary(in)->nchains, 6);
	assert_int_equal(st_instr_summary(in)->nhits, 18);
	assert_int_equal(st_instr_summary(in)->nrules, 18 + 12);
	/* Our rules are in; without them the rules read as before. */
	during = snapshot(fd, bc);
	assert_string_equal(during, before);
	free(during);

	connect_as(fd, 1000, "10.99.0.2", 8080);
	/* uid 1000 to a remote address: ISTIO_OUTPUT rule 9 and only it. */
	tag_of(tag, s, ST_HIT_ENTER, nat, output, 0);
	assert_true(tag_packets(fd, bc, tag) >= 1);
	tag_of(tag, s, ST_HIT_ENTER, nat, out_chain, 0);
	assert_true(tag_packets(fd, bc, tag) >= 1);
	for (unsigned int r = 1; r <= 8; r++) {
		tag_of(tag, s, ST_HIT_RULE, nat, out_chain, r);
		assert_int_equal(tag_packets(fd, bc, tag), 0);
	}
	tag_of(tag, s, ST_HIT_RULE, nat, out_chain, 9);
	assert_int_equal(tag_packets(fd, bc, tag), 1);
	tag_of(tag, s, ST_HIT_RETURN, nat, out_chain, 0);
	assert_int_equal(tag_packets(fd, bc, tag), 0);
	tag_of(tag, s, ST_HIT_RULE, nat, redir, 1);
	assert_int_equal(tag_packets(fd, bc, tag), 1);

	assert_int_equal(st_instr_detach(in, &rep, err), 0);
	assert_int_equal(rep.removed, 30);
	assert_false(rep.changed);
	/* Idempotent. */
	assert_int_equal(st_instr_detach(in, &rep, err), 0);
	assert_int_equal(rep.removed, 0);
	after = snapshot(fd, bc);
	assert_string_equal(after, before);
	st_instr_free(in);
	st_ruleset_free(rs);
	free(before);
	free(after);
	close(fd);
}

static struct st_instr *attach_plain(int fd, const struct backend_case *bc,
				     const struct st_ruleset *rs)
{
	struct st_instr_config cfg;
	struct st_instr *in = NULL;
	char err[ST_ERRBUF_SIZE] = "";

	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = bc->backend;
	cfg.rules = rs;
	cfg.group = -1;
	/* Every record: the tests count and name the full set of rules. */
	cfg.flags = ST_INSTR_F_FULL;
	if (st_instr_attach(&in, &cfg, err) < 0)
		fail_msg("attach: %s", err);
	return in;
}

/* A crashed session's rules go; a live one's stay. */
static void test_root_cleanup(void **state)
{
	const struct backend_case *bc = *state;
	struct st_instr_stale found[4];
	struct st_instr *in = NULL, *live = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	char *before = NULL, *after = NULL;
	size_t n = 0;
	uint16_t dead_group;
	uint32_t dead;
	unsigned int nrules;
	int fd = load_sample(bc);

	before = snapshot(fd, bc);
	in = attach_plain(fd, bc, NULL);
	dead = st_instr_session(in);
	dead_group = st_instr_group(in);
	nrules = st_instr_summary(in)->nrules;
	/* SIGKILL: the lock goes with the process, the rules stay. */
	st_instr_free(in);
	live = attach_plain(fd, bc, NULL);
	/* The dead session's rules still use its group. */
	assert_int_not_equal(st_instr_group(live), dead_group);

	if (st_instr_cleanup(fd, ST_BACKEND_UNKNOWN, 0, NULL, found, 4, &n,
			     err) < 0)
		fail_msg("cleanup: %s", err);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(found[i].backend, bc->backend);
		if (found[i].session == dead) {
			assert_false(found[i].live);
			assert_true(found[i].removed);
			assert_int_equal(found[i].nrules, nrules);
		} else {
			assert_int_equal(found[i].session,
					 st_instr_session(live));
			assert_true(found[i].live);
			assert_false(found[i].removed);
		}
	}
	/* Cleanup again: only the live session is there. */
	assert_int_equal(
		st_instr_cleanup(fd, bc->backend, 0, NULL, found, 4, &n, err),
		0);
	assert_int_equal(n, 1);
	assert_true(found[0].live);
	assert_int_equal(st_instr_detach(live, NULL, err), 0);
	st_instr_free(live);
	after = snapshot(fd, bc);
	assert_string_equal(after, before);
	assert_int_equal(st_instr_cleanup(fd, ST_BACKEND_UNKNOWN, 0, NULL,
					  found, 4, &n, err),
			 0);
	assert_int_equal(n, 0);
	free(before);
	free(after);
	close(fd);
}

/*
 * Someone else inserts a rule into ISTIO_OUTPUT and deletes one during the
 * session: detach removes only ours, reports the change, and the other
 * party's changes stay.
 */
struct foreign_change {
	const struct backend_case *bc;
	const char *add[12]; /* the rule the other party inserts */
	const char *del[10]; /* the original rule it deletes */
};

static const struct foreign_change foreign_legacy = {
	&legacy_case,
	{"iptables-legacy", "-t", "nat", "-I", "ISTIO_OUTPUT", "3", "-d",
	 "10.1.2.3/32", "-j", "RETURN", NULL},
	/* Original rule 8 (-d 127.0.0.1/32 -j RETURN), by its spec. */
	{"iptables-legacy", "-t", "nat", "-D", "ISTIO_OUTPUT", "-d",
	 "127.0.0.1/32", "-j", "RETURN", NULL},
};

static const struct foreign_change foreign_nft = {
	&nft_case,
	{"iptables-nft", "-t", "nat", "-I", "ISTIO_OUTPUT", "3", "-d",
	 "10.1.2.3/32", "-j", "RETURN", NULL},
	{"iptables-nft", "-t", "nat", "-D", "ISTIO_OUTPUT", "-d",
	 "127.0.0.1/32", "-j", "RETURN", NULL},
};

static const struct foreign_change foreign_nftables = {
	&nftables_case,
	{"nft", "insert", "rule", "inet", "istio-proxy-nat", "istio-output",
	 "ip", "daddr", "10.1.2.3", "return", NULL},
	/* Original rule 8 (ip daddr 127.0.0.1 return), by its handle. */
	{"nft", "delete", "rule", "inet", "istio-proxy-nat", "istio-output",
	 "handle", NULL, NULL},
};

static void test_root_foreign_change(void **state)
{
	const struct foreign_change *fc = *state;
	const struct backend_case *bc = fc->bc;
	const char *const *add = fc->add;
	const char *del[ST_ARRAY_SIZE(fc->del)];
	struct st_instr_report rep;
	struct st_instr *in = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	char *changed = NULL, *after = NULL;
	static char handle[16];
	int fd = load_sample(bc);

	memcpy(del, fc->del, sizeof(del));
	rs = read_live(fd, bc);
	in = attach_plain(fd, bc, rs);
	assert_int_equal(run(fd, add, NULL, NULL), 0);
	if (bc->backend == ST_BACKEND_NFTABLES) {
		const char *list[] = {"nft",	      "-a",   "list",
				      "chain",	      "inet", "istio-proxy-nat",
				      "istio-output", NULL};
		const char *l = NULL;
		char *text = NULL;

		assert_int_equal(run(fd, list, NULL, &text), 0);
		/* The original, not our hit rule in front of it. */
		l = strstr(text, "ip daddr 127.0.0.1 counter packets 0 bytes 0 "
				 "return # handle ");
		assert_non_null(l);
		l = strstr(l, "# handle ");
		snprintf(handle, sizeof(handle), "%d", atoi(l + 9));
		free(text);
		del[7] = handle;
	}
	assert_int_equal(run(fd, del, NULL, NULL), 0);
	changed = snapshot(fd, bc);
	assert_int_equal(st_instr_check(in, &rep, err), 0);
	assert_true(rep.changed);
	assert_int_equal(rep.present, st_instr_summary(in)->nrules);
	assert_int_equal(st_instr_detach(in, &rep, err), 0);
	assert_true(rep.changed);
	print_message("reported: %s\n", rep.change);
	assert_int_equal(rep.removed, st_instr_summary(in)->nrules);
	after = snapshot(fd, bc);
	assert_string_equal(after, changed);
	assert_non_null(strstr(after, "10.1.2.3"));
	st_instr_free(in);
	st_ruleset_free(rs);
	free(changed);
	free(after);
	close(fd);
}

/* Two sessions at once: distinct groups; neither touches the other. */
static void test_root_two_sessions(void **state)
{
	const struct backend_case *bc = &legacy_case;
	struct st_instr_report rep;
	struct st_instr *a = NULL, *b = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "", tag[ST_NFLOG_PREFIX_SIZE];
	char *before = NULL, *after = NULL;
	int fd = load_sample(bc);

	(void)state;
	before = snapshot(fd, bc);
	rs = read_live(fd, bc);
	a = attach_plain(fd, bc, rs);
	/* B reads the rules with A's in them, as the CLI would. */
	st_ruleset_free(rs);
	rs = read_live(fd, bc);
	b = attach_plain(fd, bc, rs);
	assert_int_not_equal(st_instr_session(a), st_instr_session(b));
	assert_int_not_equal(st_instr_group(a), st_instr_group(b));
	assert_int_equal(st_instr_summary(a)->nrules,
			 st_instr_summary(b)->nrules);

	connect_as(fd, 1000, "10.99.0.2", 8080);
	tag_of(tag, st_instr_session(a), ST_HIT_RULE, "nat", "ISTIO_OUTPUT", 9);
	assert_int_equal(tag_packets(fd, bc, tag), 1);
	tag_of(tag, st_instr_session(b), ST_HIT_RULE, "nat", "ISTIO_OUTPUT", 9);
	assert_int_equal(tag_packets(fd, bc, tag), 1);

	assert_int_equal(st_instr_detach(a, &rep, err), 0);
	assert_false(rep.changed);
	assert_int_equal(st_instr_check(b, &rep, err), 0);
	assert_false(rep.changed);
	assert_int_equal(rep.present, st_instr_summary(b)->nrules);
	assert_int_equal(st_instr_detach(b, &rep, err), 0);
	assert_false(rep.changed);
	after = snapshot(fd, bc);
	assert_string_equal(after, before);
	st_instr_free(a);
	st_instr_free(b);
	st_ruleset_free(rs);
	free(before);
	free(after);
	close(fd);
}

/* Rules changed between reading and attaching: refused, nothing left. */
static void test_root_stale_ruleset(void **state)
{
	const struct backend_case *bc = &nft_case;
	const char *add[] = {"iptables-nft",   "-t", "nat", "-A",
			     "ISTIO_REDIRECT", "-p", "udp", "-j",
			     "RETURN",	       NULL};
	struct st_instr_config cfg;
	struct st_instr *in = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	char *before = NULL, *after = NULL;
	int fd = load_sample(bc);

	(void)state;
	rs = read_live(fd, bc);
	assert_int_equal(run(fd, add, NULL, NULL), 0);
	before = snapshot(fd, bc);
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = bc->backend;
	cfg.rules = rs;
	cfg.group = -1;
	assert_int_equal(st_instr_attach(&in, &cfg, err), -ESTALE);
	print_message("refused: %s\n", err);
	assert_null(in);
	assert_non_null(strstr(err, "ISTIO_REDIRECT"));
	after = snapshot(fd, bc);
	assert_string_equal(after, before);
	/* A forced group is used as given. */
	st_ruleset_free(rs);
	rs = read_live(fd, bc);
	cfg.rules = rs;
	cfg.group = 77;
	assert_int_equal(st_instr_attach(&in, &cfg, err), 0);
	assert_int_equal(st_instr_group(in), 77);
	assert_int_equal(st_instr_detach(in, NULL, err), 0);
	st_instr_free(in);
	st_ruleset_free(rs);
	free(before);
	free(after);
	close(fd);
}

/* The same with native nftables: a new rule means new handles. */
static void test_root_stale_ruleset_nftables(void **state)
{
	const char *add[] = {"nft",
			     "add",
			     "rule",
			     "inet",
			     "istio-proxy-nat",
			     "istio-redirect",
			     "meta",
			     "l4proto",
			     "udp",
			     "return",
			     NULL};
	struct st_instr_config cfg;
	struct st_instr *in = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	char *before = NULL, *after = NULL;
	int fd = load_sample(&nftables_case);

	(void)state;
	rs = read_live(fd, &nftables_case);
	assert_int_equal(run(fd, add, NULL, NULL), 0);
	before = snapshot(fd, &nftables_case);
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = ST_BACKEND_NFTABLES;
	cfg.rules = rs;
	cfg.group = -1;
	assert_int_equal(st_instr_attach(&in, &cfg, err), -ESTALE);
	print_message("refused: %s\n", err);
	assert_null(in);
	assert_non_null(strstr(err, "istio-redirect"));
	after = snapshot(fd, &nftables_case);
	assert_string_equal(after, before);
	st_ruleset_free(rs);
	free(before);
	free(after);
	close(fd);
}

/*
 * The pod goes away while tracing: the session's own reference keeps the
 * namespace alive, so detach still works and reports nothing changed.
 */
static void test_root_netns_deleted(void **state)
{
	struct st_instr_report rep;
	struct st_instr *in = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	int fd = load_sample(&legacy_case);

	(void)state;
	in = attach_plain(fd, &legacy_case, NULL);
	close(fd);
	ns_delete_all();
	if (st_instr_detach(in, &rep, err) < 0)
		fail_msg("detach: %s", err);
	assert_int_equal(rep.removed, st_instr_summary(in)->nrules);
	assert_false(rep.changed);
	st_instr_free(in);
}

/* Attach and detach on richer samples: every table, both families. */
struct roundtrip_case {
	enum st_backend backend;
	const char *files[2];	/* IPv4 (or nft) and IPv6 samples */
	const char *load[2][4]; /* restore commands for them */
	const char *save[2][5]; /* dumps: snapshots and the ruleset */
	unsigned int nchains;	/* chains instrumented */
};

static const struct roundtrip_case roundtrips[] = {
	{ST_BACKEND_LEGACY,
	 {"istio-1.25_tproxy_dns_legacy.rules", NULL},
	 {{"iptables-legacy-restore", NULL}},
	 {{"iptables-legacy-save", NULL}},
	 15},
	{ST_BACKEND_NFT,
	 {"istio-1.26plus_redirect_dns_dualstack_nft.v4.rules",
	  "istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"},
	 {{"iptables-nft-restore", NULL}, {"ip6tables-nft-restore", NULL}},
	 {{"iptables-nft-save", NULL}, {"ip6tables-nft-save", NULL}},
	 19},
	{ST_BACKEND_NFT,
	 {"istio-1.26plus_ambient-inpod_dns_nft.rules", NULL},
	 {{"iptables-nft-restore", NULL}},
	 {{"iptables-nft-save", NULL}},
	 12},
	{ST_BACKEND_NFTABLES,
	 {"istio-1.28plus_native-nftables_tproxy_dns_dualstack_testcase"
	  ".nftlist",
	  NULL},
	 {{"nft", "-f", "-", NULL}},
	 {{"nft", "-j", "list", "ruleset", NULL}},
	 16},
	{ST_BACKEND_NFTABLES,
	 {"istio-1.28plus_ambient-inpod_native-nftables_dns.nftlist", NULL},
	 {{"nft", "-f", "-", NULL}},
	 {{"nft", "-j", "list", "ruleset", NULL}},
	 12},
};

static char *roundtrip_snapshot(int fd, const struct roundtrip_case *rc)
{
	const char *nft[] = {"nft", "-s", "list", "ruleset", NULL};
	char err[ST_ERRBUF_SIZE] = "";
	char *all = strdup(""), *text = NULL, *norm = NULL, *cat = NULL;

	for (int f = 0; f < 2 && rc->save[f][0] != NULL; f++) {
		assert_int_equal(run(fd,
				     rc->backend == ST_BACKEND_NFTABLES
					     ? nft
					     : rc->save[f],
				     NULL, &text),
				 0);
		assert_int_equal(st_instr_normalize(rc->backend, text,
						    strlen(text), &norm, err),
				 0);
		assert_true(asprintf(&cat, "%s%s", all, norm) >= 0);
		free(all);
		free(text);
		free(norm);
		all = cat;
	}
	return all;
}

static void test_root_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(roundtrips); i++) {
		const struct roundtrip_case *rc = &roundtrips[i];
		struct st_ruleset *rs = st_ruleset_new();
		struct st_instr_config cfg;
		struct st_instr_report rep;
		struct st_instr *in = NULL;
		char err[ST_ERRBUF_SIZE] = "";
		char *before = NULL, *during = NULL, *after = NULL;
		int fd = ns_create();

		for (int f = 0; f < 2 && rc->files[f] != NULL; f++) {
			char path[512], *text = NULL;

			snprintf(path, sizeof(path), RULES "%s", rc->files[f]);
			text = tl_read_file(path, NULL);
			assert_non_null(text);
			assert_int_equal(run(fd, rc->load[f], text, NULL), 0);
			free(text);
		}
		for (int f = 0; f < 2 && rc->save[f][0] != NULL; f++) {
			char *text = NULL;

			assert_int_equal(run(fd, rc->save[f], NULL, &text), 0);
			if (st_rules_load_buf(rs, text, strlen(text), "live",
					      err) < 0)
				fail_msg("%s: %s", rc->files[f], err);
			free(text);
		}
		before = roundtrip_snapshot(fd, rc);
		memset(&cfg, 0, sizeof(cfg));
		cfg.netns_fd = fd;
		cfg.backend = rc->backend;
		cfg.rules = rs;
		cfg.group = -1;
		if (st_instr_attach(&in, &cfg, err) < 0)
			fail_msg("%s: attach: %s", rc->files[0], err);
		print_message("%s: %u chains, %u rules, %u skipped%s%s\n",
			      rc->files[0], st_instr_summary(in)->nchains,
			      st_instr_summary(in)->nrules,
			      st_instr_summary(in)->nskipped,
			      st_instr_summary(in)->nskipped ? ": " : "",
			      st_instr_summary(in)->skipped);
		assert_int_equal(st_instr_summary(in)->nchains, rc->nchains);
		during = roundtrip_snapshot(fd, rc);
		assert_string_equal(during, before);
		assert_int_equal(st_instr_detach(in, &rep, err), 0);
		assert_int_equal(rep.removed, st_instr_summary(in)->nrules);
		assert_false(rep.changed);
		after = roundtrip_snapshot(fd, rc);
		assert_string_equal(after, before);
		st_instr_free(in);
		st_ruleset_free(rs);
		free(before);
		free(during);
		free(after);
		close(fd);
		ns_delete_all();
	}
}

/* ---- rewritten under a session ----------------------------------------- */

/* Append @n bytes of @p to the malloc'd string *@s. */
static void cat(char **s, const char *p, size_t n)
{
	size_t have = *s != NULL ? strlen(*s) : 0;
	char *t = realloc(*s, have + n + 1);

	assert_non_null(t);
	memcpy(t + have, p, n);
	t[have + n] = '\0';
	*s = t;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool starts(const char *l, size_t n, const char *prefix)
{
	return n >= strlen(prefix) && memcmp(l, prefix, strlen(prefix)) == 0;
}

/*
 * What istio-cni's reconciliation applies to an iptables sample: the jumps
 * of the built-in chains deleted, the Istio chains declared (flushed) and
 * filled again with the outbound exclusion of 15020 first in ISTIO_OUTPUT,
 * the jumps appended again; for --noflush.
 */
static char *rewrite_ipt(const char *sample)
{
	static const char extra[] =
		"-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN\n";
	char *out = NULL, *jumps = NULL;
	bool added = false;

	for (const char *l = sample; *l != '\0';) {
		const char *e = strchr(l, '\n');
		size_t n = e != NULL ? (size_t)(e - l) + 1 : strlen(l);

		if (starts(l, n, "*") || starts(l, n, ":ISTIO")) {
			cat(&out, l, n);
		} else if (starts(l, n, "-A ISTIO")) {
			if (!added && starts(l, n, "-A ISTIO_OUTPUT ")) {
				cat(&out, extra, strlen(extra));
				added = true;
			}
			cat(&out, l, n);
		} else if (starts(l, n, "-A ") && strstr(l, " -j ISTIO") &&
			   strstr(l, " -j ISTIO") < l + n) {
			cat(&out, "-D", 2);
			cat(&out, l + 2, n - 2);
			cat(&jumps, l, n);
		} else if (starts(l, n, "COMMIT")) {
			if (jumps != NULL)
				cat(&out, jumps, strlen(jumps));
			free(jumps);
			jumps = NULL;
			cat(&out, l, n);
		}
		l += n;
	}
	free(jumps);
	assert_true(added);
	return out;
}

/* The native sample with "tcp dport 15020 return" first in istio-output. */
static char *rewrite_nft(const char *sample)
{
	static const char chain[] = "\tchain istio-output {\n";
	static const char extra[] = "\t\ttcp dport 15020 counter return\n";
	const char *at = strstr(sample, chain);
	char *out = NULL;

	assert_non_null(at);
	at += strlen(chain);
	cat(&out, sample, (size_t)(at - sample));
	cat(&out, extra, strlen(extra));
	cat(&out, at, strlen(at));
	return out;
}

static void rewrite(int fd, const struct backend_case *bc)
{
	char path[512];
	char *text = NULL, *rw = NULL;

	snprintf(path, sizeof(path), RULES "%s", bc->sample);
	text = tl_read_file(path, NULL);
	assert_non_null(text);
	if (bc->backend == ST_BACKEND_NFTABLES) {
		const char *del[] = {"nft",  "delete",		"table",
				     "inet", "istio-proxy-nat", NULL};

		rw = rewrite_nft(text);
		assert_int_equal(run(fd, del, NULL, NULL), 0);
		assert_int_equal(run(fd, bc->load, rw, NULL), 0);
	} else {
		const char *argv[] = {bc->load[0], "-w", "-n", NULL};

		rw = rewrite_ipt(text);
		assert_int_equal(run(fd, argv, rw, NULL), 0);
	}
	free(text);
	free(rw);
}

/* Each tag of @session at most once in the live rules; how many there are. */
static unsigned int tags_once(int fd, const struct backend_case *bc,
			      uint32_t session)
{
	char want[32], *text = NULL, *l;
	char **seen = NULL;
	size_t nseen = 0;

	assert_int_equal(run(fd, bc->save, NULL, &text), 0);
	snprintf(want, sizeof(want), "st:%08" PRIx32 ":", session);
	for (l = strstr(text, want); l != NULL; l = strstr(l + 1, want)) {
		size_t n = strcspn(l, "\" \n");
		char *tag = strndup(l, n);

		assert_non_null(tag);
		for (size_t i = 0; i < nseen; i++)
			if (strcmp(seen[i], tag) == 0)
				fail_msg("tag %s twice", tag);
		seen = realloc(seen, (nseen + 1) * sizeof(*seen));
		assert_non_null(seen);
		seen[nseen++] = tag;
	}
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	free(text);
	return (unsigned int)nseen;
}

/* The tags of @session in the live rules without the session, sorted. */
static char *tag_list(int fd, const struct backend_case *bc, uint32_t session)
{
	char want[32], *text = NULL, *out = NULL, *l;
	char **v = NULL;
	size_t n = 0;

	assert_int_equal(run(fd, bc->save, NULL, &text), 0);
	snprintf(want, sizeof(want), "st:%08" PRIx32 ":", session);
	for (l = strstr(text, want); l != NULL; l = strstr(l + 1, want)) {
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n] = strndup(l + strlen(want),
			       strcspn(l, "\" \n") - strlen(want));
		assert_non_null(v[n]);
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	cat(&out, "", 0);
	for (size_t i = 0; i < n; i++) {
		cat(&out, v[i], strlen(v[i]));
		cat(&out, "\n", 1);
		free(v[i]);
	}
	free(v);
	free(text);
	return out;
}

/*
 * Attached, then rewritten: the probe says so, the check finds ours gone,
 * the re-attach instruments the new rules with the same session and group
 * (ours once each, exactly as a new session instruments them; with a hit
 * rule per original rule, ISTIO_OUTPUT's old rule 9 is now tagged 10), and
 * detach leaves exactly the new rules.
 */
static void test_root_reattach(void **state)
{
	const struct backend_case *bc = *state;
	const bool nft = bc->backend == ST_BACKEND_NFTABLES;
	const char *nat = nft ? "istio-proxy-nat" : "nat";
	const char *out_chain = nft ? "istio-output" : "ISTIO_OUTPUT";
	struct st_instr_report rep;
	struct st_instr *in = NULL, *fresh = NULL;
	struct st_ruleset *rs = NULL, *rs2 = NULL;
	char err[ST_ERRBUF_SIZE] = "", tag[ST_NFLOG_PREFIX_SIZE];
	char *now = NULL, *after = NULL, *mine = NULL, *theirs = NULL;
	unsigned int n0, n1;
	long long pk;
	bool changed = true;
	uint16_t group;
	uint32_t s;
	int fd = load_sample(bc);

	rs = read_live(fd, bc);
	in = attach_plain(fd, bc, rs);
	s = st_instr_session(in);
	group = st_instr_group(in);
	n0 = st_instr_summary(in)->nrules;
	if (st_instr_probe(in, &changed, err) < 0)
		fail_msg("probe: %s", err);
	assert_false(changed);

	rewrite(fd, bc);
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	assert_true(changed);
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	assert_false(changed); /* told once */
	assert_int_equal(st_instr_check(in, &rep, err), 0);
	assert_true(rep.present < n0);
	now = snapshot(fd, bc);

	/* Rules read before another change are refused, nothing left. */
	assert_int_equal(st_instr_reattach(in, rs, err), -ESTALE);
	assert_int_equal(tags_once(fd, bc, s), 0);

	rs2 = read_live(fd, bc);
	if (st_instr_reattach(in, rs2, err) < 0)
		fail_msg("re-attach: %s", err);
	assert_int_equal(st_instr_session(in), s);
	assert_int_equal(st_instr_group(in), group);
	n1 = st_instr_summary(in)->nrules;
	assert_true(n1 > 0);
	assert_int_equal(tags_once(fd, bc, s), n1);
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	assert_false(changed); /* our own insertion is the new baseline */
	/* As a session that began on the new rules instruments them. */
	fresh = attach_plain(fd, bc, NULL);
	mine = tag_list(fd, bc, s);
	theirs = tag_list(fd, bc, st_instr_session(fresh));
	assert_string_equal(mine, theirs);
	assert_int_equal(st_instr_detach(fresh, NULL, err), 0);
	st_instr_free(fresh);
	tag_of(tag, s, ST_HIT_RULE, nat, out_chain, 10);
	pk = tag_packets(fd, bc, tag);
	if (pk >= 0) { /* a hit rule for the catch-all, now rule 10 */
		assert_int_equal(pk, 0);
		connect_as(fd, 1000, "10.99.0.2", 8080);
		assert_int_equal(tag_packets(fd, bc, tag), 1);
	}
	/*
	 * The other session came and went: nf_tables' generation moved; a
	 * legacy table reads as before.  Either way ours are all there.
	 */
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	if (bc->backend != ST_BACKEND_LEGACY)
		assert_true(changed);
	assert_int_equal(st_instr_check(in, &rep, err), 0);
	assert_int_equal(rep.present, n1);
	assert_false(rep.changed);

	assert_int_equal(st_instr_detach(in, &rep, err), 0);
	assert_int_equal(rep.removed, n1);
	assert_false(rep.changed);
	after = snapshot(fd, bc);
	assert_string_equal(after, now);
	assert_int_equal(tags_once(fd, bc, s), 0);
	st_instr_free(in);
	st_ruleset_free(rs);
	st_ruleset_free(rs2);
	free(now);
	free(after);
	free(mine);
	free(theirs);
	close(fd);
}

/* A foreign rule that keeps ours in place: the probe and check see it. */
static void test_root_probe_foreign(void **state)
{
	const char *ins[] = {"iptables-legacy",
			     "-w",
			     "-t",
			     "nat",
			     "-I",
			     "ISTIO_OUTPUT",
			     "1",
			     "-p",
			     "tcp",
			     "--dport",
			     "7777",
			     "-j",
			     "RETURN",
			     NULL};
	struct st_instr_report rep;
	struct st_instr *in = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	bool changed = true;
	int fd = load_sample(&legacy_case);

	(void)state;
	in = attach_plain(fd, &legacy_case, NULL);
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	assert_false(changed);
	assert_int_equal(run(fd, ins, NULL, NULL), 0);
	assert_int_equal(st_instr_probe(in, &changed, err), 0);
	assert_true(changed);
	assert_int_equal(st_instr_check(in, &rep, err), 0);
	assert_true(rep.changed);
	assert_int_equal(rep.present, st_instr_summary(in)->nrules);
	assert_int_equal(st_instr_detach(in, &rep, err), 0);
	st_instr_free(in);
	close(fd);
}

/* ---- NFLOG group 1337 ---------------------------------------------------- */

/*
 * Istio <= 1.24's IPTABLES_TRACE_LOGGING rules log to group 1337: forcing
 * that group is refused with nothing inserted, a free one is never 1337;
 * without such rules 1337 may be forced.
 */
static void test_root_group_istio(void **state)
{
	const char *trace[] = {"iptables-legacy",
			       "-w",
			       "-t",
			       "nat",
			       "-I",
			       "OUTPUT",
			       "1",
			       "-p",
			       "tcp",
			       "-j",
			       "NFLOG",
			       "--nflog-prefix",
			       "JumpOutbound",
			       "--nflog-group",
			       "1337",
			       NULL};
	struct st_instr_config cfg;
	struct st_instr *in = NULL;
	struct st_ruleset *rs = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	char *before = NULL, *after = NULL;
	int fd = load_sample(&legacy_case);

	(void)state;
	/* No Istio NFLOG rule yet: 1337 is the caller's to choose. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = fd;
	cfg.backend = ST_BACKEND_LEGACY;
	cfg.group = ST_INSTR_GROUP_ISTIO;
	if (st_instr_attach(&in, &cfg, err) < 0)
		fail_msg("attach: %s", err);
	assert_int_equal(st_instr_group(in), ST_INSTR_GROUP_ISTIO);
	assert_int_equal(st_instr_detach(in, NULL, err), 0);
	st_instr_free(in);
	in = NULL;

	assert_int_equal(run(fd, trace, NULL, NULL), 0);
	before = snapshot(fd, &legacy_case);
	rs = read_live(fd, &legacy_case);
	cfg.rules = rs;
	assert_int_equal(st_instr_attach(&in, &cfg, err), -EBUSY);
	assert_null(in);
	assert_non_null(strstr(err, "IPTABLES_TRACE_LOGGING"));
	after = snapshot(fd, &legacy_case);
	assert_string_equal(after, before);
	free(after);

	cfg.group = -1;
	if (st_instr_attach(&in, &cfg, err) < 0)
		fail_msg("attach: %s", err);
	assert_true(st_instr_group(in) >= ST_INSTR_GROUP_BASE);
	assert_int_not_equal(st_instr_group(in), ST_INSTR_GROUP_ISTIO);
	assert_int_equal(st_instr_detach(in, NULL, err), 0);
	after = snapshot(fd, &legacy_case);
	assert_string_equal(after, before);
	st_instr_free(in);
	st_ruleset_free(rs);
	free(before);
	free(after);
	close(fd);
}

/* ---- the backend is per network namespace ------------------------------- */

/*
 * Several namespaces of one node, each with its own backend: the backend
 * is detected for each and its own rules are instrumented, whatever the
 * others hold.  Two hold rules of two backends: legacy Istio rules next to
 * an iptables-nft table of someone else's (a pod that kept iptables after
 * its node moved on), and iptables-nft Istio rules next to an empty legacy
 * nat table.
 */
static void test_root_backend_per_netns(void **state)
{
	static const char other_nft[] =
		"*filter\n:INPUT ACCEPT [0:0]\n"
		"-A INPUT -p tcp --dport 9999 -j ACCEPT\n"
		"COMMIT\n";
	static const char empty_legacy[] = "*nat\n:PREROUTING ACCEPT [0:0]\n"
					   "COMMIT\n";
	const char *nft_restore[] = {"iptables-nft-restore", NULL};
	const char *legacy_restore[] = {"iptables-legacy-restore", NULL};
	struct {
		const struct backend_case *bc;
		const char *const *extra_load;
		const char *extra;
		int fd;
	} ns[] = {
		{&nft_case, NULL, NULL, -1},
		{&nftables_case, NULL, NULL, -1},
		{&legacy_case, nft_restore, other_nft, -1},
		{&nft_case, legacy_restore, empty_legacy, -1},
	};
	char err[ST_ERRBUF_SIZE] = "";

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(ns); i++) {
		ns[i].fd = load_sample(ns[i].bc);
		if (ns[i].extra != NULL)
			assert_int_equal(run(ns[i].fd, ns[i].extra_load,
					     ns[i].extra, NULL),
					 0);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(ns); i++) {
		enum st_backend b = ST_BACKEND_UNKNOWN;
		struct st_instr_config cfg;
		struct st_instr *in = NULL;
		char *before = snapshot(ns[i].fd, ns[i].bc), *after = NULL;

		if (st_tgt_detect(ns[i].fd, NULL, &b, err) < 0)
			fail_msg("namespace %zu: detect: %s", i, err);
		if (b != ns[i].bc->backend)
			fail_msg("namespace %zu: %s detected, %s expected", i,
				 st_backend_name(b),
				 st_backend_name(ns[i].bc->backend));
		memset(&cfg, 0, sizeof(cfg));
		cfg.netns_fd = ns[i].fd;
		cfg.backend = b;
		cfg.group = -1;
		if (st_instr_attach(&in, &cfg, err) < 0)
			fail_msg("namespace %zu: attach: %s", i, err);
		assert_true(st_instr_summary(in)->nchains > 0);
		assert_int_equal(
			tags_once(ns[i].fd, ns[i].bc, st_instr_session(in)),
			st_instr_summary(in)->nrules);
		assert_int_equal(st_instr_detach(in, NULL, err), 0);
		after = snapshot(ns[i].fd, ns[i].bc);
		assert_string_equal(after, before);
		st_instr_free(in);
		free(before);
		free(after);
	}
	for (size_t i = 0; i < ST_ARRAY_SIZE(ns); i++)
		close(ns[i].fd);
}

/*
 * The cases of one function on several backends take theirs as the test's
 * state: {name, function, setup, teardown, state}.
 */
int main(void)
{
	const struct CMUnitTest tests[] = {
		{"test_root_legacy", test_root, NULL, teardown_ns,
		 (void *)&legacy_case},
		{"test_root_nft", test_root, NULL, teardown_ns,
		 (void *)&nft_case},
		{"test_root_nftables", test_root, NULL, teardown_ns,
		 (void *)&nftables_case},
		{"test_root_cleanup_legacy", test_root_cleanup, NULL,
		 teardown_ns, (void *)&legacy_case},
		{"test_root_cleanup_nftables", test_root_cleanup, NULL,
		 teardown_ns, (void *)&nftables_case},
		{"test_root_foreign_change_legacy", test_root_foreign_change,
		 NULL, teardown_ns, (void *)&foreign_legacy},
		{"test_root_foreign_change_nft", test_root_foreign_change, NULL,
		 teardown_ns, (void *)&foreign_nft},
		{"test_root_foreign_change_nftables", test_root_foreign_change,
		 NULL, teardown_ns, (void *)&foreign_nftables},
		cmocka_unit_test_teardown(test_root_two_sessions, teardown_ns),
		cmocka_unit_test_teardown(test_root_stale_ruleset, teardown_ns),
		cmocka_unit_test_teardown(test_root_stale_ruleset_nftables,
					  teardown_ns),
		cmocka_unit_test_teardown(test_root_netns_deleted, teardown_ns),
		cmocka_unit_test_teardown(test_root_roundtrip, teardown_ns),
		{"test_root_reattach_legacy", test_root_reattach, NULL,
		 teardown_ns, (void *)&legacy_case},
		{"test_root_reattach_nft", test_root_reattach, NULL,
		 teardown_ns, (void *)&nft_case},
		{"test_root_reattach_nftables", test_root_reattach, NULL,
		 teardown_ns, (void *)&nftables_case},
		cmocka_unit_test_teardown(test_root_probe_foreign, teardown_ns),
		cmocka_unit_test_teardown(test_root_group_istio, teardown_ns),
		cmocka_unit_test_teardown(test_root_backend_per_netns,
					  teardown_ns),
	};

	tl_need_root("instrument",
		     TL_TOOLS("iptables-legacy-restore", "iptables-nft-restore",
			      "nft", "ip"));
	if (access("/run/netns", W_OK) < 0 && mkdir("/run/netns", 0755) < 0) {
		fprintf(stderr,
			"instrument: /run/netns not writable: skipped\n");
		return TL_SKIPPED;
	}
	atexit(ns_delete_all);
	return cmocka_run_group_tests_name("instrument-root", tests, NULL,
					   NULL);
}
