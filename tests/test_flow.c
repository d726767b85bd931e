// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_flow.c - flow assembly, stitching, classification, path text and
 * JSON, end to end: hand-written record sequences (samples/flows/in/NAME.in)
 * for every traffic type (doc/ISTIO-RULES.md) and the corner cases, each
 * compared with its golden files (samples/flows/expected/NAME.txt, .jsonl;
 * ST_REGEN=1 rewrites them) and with the expectations written in it.
 *
 * Scenario language, one statement per line ('#' starts a comment):
 *   rules FILE...         rule files under samples/rules (one ruleset)
 *   roles FILE            hand-set roles and settings, samples/flows/roles
 *                         (none: the recogniser's, in both runs)
 *   opts KEY=N...         max_flows, max_linger, walk_ms, window_ms,
 *                         linger_ms
 *   leg NAME PROTO SRC DST [uid=N] [gid=N] [in=IF] [out=IF] [flags=F]
 *       [mark=N]          a connection; DST is its original destination;
 *                         F: S, SA, A, AF... (TCP flags, default S); N:
 *                         the packet mark (ztunnel's sockets: 0x539)
 *   NAME e|h|p|r TABLE CHAIN [RULE]   a tagged record: enter, hit rule,
 *                         policy, return
 *   NAME th|tp|tr TABLE CHAIN [RULE]  the same as a kernel TRACE record
 *   NAME x                a record without a tag
 *   NAME to ADDR:PORT     later records show this destination (NAT)
 *   NAME flags F          later records carry TCP flags F
 *   NAME owner UID GID    later records carry this socket owner
 *   wait MS | expire MS | lost N | flush
 *   expect TYPE [CLASS] [side=S]  the next emitted flow (in order);
 *                         S: how Envoy's side was found (st_flow_side_name)
 *   expect-stats KEY=N... lost, skipped, evicted, ignored, later, late,
 *                         flows, records, unknown_chain, unknown_rule,
 *                         untagged
 * Records are 10 us apart; the clock starts at 1700000000 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "assemble.h"
#include "classify.h"
#include "flow.h"
#include "flowjson.h"
#include "path.h"
#include "rules-int.h"
#include "testlib.h"

#define MAX_LEGS 32
#define MAX_EXPECT 32
#define BASE_SEC 1700000000LL

struct tleg {
	char name[16];
	uint8_t family;
	uint8_t proto;
	uint8_t src[16];
	uint16_t sport;
	uint8_t dst[16]; /* as the next record shows it */
	uint16_t dport;
	bool has_uid;
	bool has_gid;
	uint32_t uid;
	uint32_t gid;
	char in[16];
	char out[16];
	uint32_t mark;
	uint8_t flags;
	uint8_t hook;
};

struct texpect {
	int type;
	char klass[32];
	char side[16]; /* "": not checked */
};

struct scenario {
	const char *name;
	bool use_recogniser;
	struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_flow_opts opts;
	struct st_flow_table *t;
	struct tleg legs[MAX_LEGS];
	unsigned int nlegs;
	int64_t clock_us;
	uint64_t seq;
	struct texpect expect[MAX_EXPECT];
	unsigned int nexpect;
	unsigned int nemitted;
	char *txt;
	size_t txt_len;
	FILE *txt_f;
	char *json;
	size_t json_len;
	FILE *json_f;
	char roles_file[256];
	char err[ST_ERRBUF_SIZE];
};

static const char *const scenarios[] = {
	"t1_remote_to_local",
	"t2_local_to_remote",
	"t3_prometheus_15090",
	"t3_prometheus_15020_agent_fetch",
	"t4_local_to_local",
	"t5_envoy_interprocess",
	"t6_sidecar_to_istiod",
	"bypass_own_pod_ip",
	"excluded_ports",
	"proxy_direct",
	"stitch_exact_first",
	"interleaved",
	"lost_record",
	"eviction",
	"unknown_chain",
	"dns_capture_1.20",
	"tproxy_1.25",
	"tproxy_hairpin_1.25",
	"nftables_1.28",
	"dualstack",
	"trace_records",
	"port_reuse",
	"stitch_window",
	"inbound_localhost_1.6",
	"pooled_outbound",
	"pooled_vip",
	"pooled_inbound",
	"pooled_local",
	"pooled_inbound_tproxy_1.25",
	"ambient_1.26",
};

/* ---- helpers --------------------------------------------------------- */

static void check_golden(const char *name, const char *ext, const char *got)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/flows/expected/%s.%s", ST_SAMPLES,
		 name, ext);
	tl_golden(path, got);
}

static bool parse_addr(const char *s, uint8_t *family, uint8_t *addr,
		       uint16_t *port)
{
	char host[64];
	const char *colon = NULL;
	unsigned long p = 0;

	memset(addr, 0, 16);
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':' ||
		    (size_t)(end - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
		*family = 6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return false;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		*family = 4;
	}
	if (inet_pton(*family == 6 ? AF_INET6 : AF_INET, host, addr) != 1)
		return false;
	p = strtoul(colon + 1, NULL, 10);
	if (p > 65535)
		return false;
	*port = (uint16_t)p;
	return true;
}

static uint8_t parse_flags(const char *s)
{
	uint8_t f = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'F':
			f |= 0x01;
			break;
		case 'S':
			f |= 0x02;
			break;
		case 'R':
			f |= 0x04;
			break;
		case 'P':
			f |= 0x08;
			break;
		case 'A':
			f |= 0x10;
			break;
		default:
			fail_msg("bad TCP flags '%s'", s);
		}
	}
	return f;
}

static enum st_role role_by_name(const char *s)
{
	for (int r = 0; r < ST_ROLE__MAX; r++)
		if (strcmp(st_role_name((enum st_role)r), s) == 0)
			return (enum st_role)r;
	fail_msg("unknown role '%s'", s);
	return ST_ROLE_NONE;
}

static void parse_ports(char **save, uint16_t *ports, unsigned int *n)
{
	char *tok = NULL;

	*n = 0;
	while ((tok = strtok_r(NULL, " \t", save)) != NULL && *n < ST_MAX_LIST)
		ports[(*n)++] = (uint16_t)strtoul(tok, NULL, 10);
}

/*
 * A roles file: settings lines, then "[v4|v6] TABLE CHAIN N ROLE" lines.
 * With @apply the roles are set on @rs and the settings filled in; else
 * the recogniser's roles and settings are checked against the file for
 * what flow assembly and classification read.
 */
static void roles_file(struct scenario *sc, bool apply)
{
	char path[512];
	char *text = NULL;
	char *line = NULL;
	char *save = NULL;
	struct st_istio_settings hand;

	memset(&hand, 0, sizeof(hand));
	snprintf(path, sizeof(path), "%s/flows/roles/%s", ST_SAMPLES,
		 sc->roles_file);
	text = tl_read_file(path, NULL);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	hand.kind = ST_ISTIO_SIDECAR;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ls = NULL;
		char *w = strtok_r(line, " \t", &ls);
		unsigned int fam = ST_FAMILY_ANY;
		char *table = NULL;
		char *chain = NULL;
		char *num = NULL;
		char *role = NULL;
		unsigned int matched = 0;

		if (w == NULL || w[0] == '#')
			continue;
		if (strcmp(w, "mode") == 0) {
			w = strtok_r(NULL, " \t", &ls);
			hand.mode = strcmp(w, "TPROXY") == 0 ? ST_MODE_TPROXY
							     : ST_MODE_REDIRECT;
			continue;
		}
		if (strcmp(w, "proxy-uid") == 0) {
			hand.proxy_uids[hand.nproxy_uids++] = (uint32_t)strtoul(
				strtok_r(NULL, " \t", &ls), NULL, 10);
			continue;
		}
		if (strcmp(w, "proxy-gid") == 0) {
			hand.proxy_gids[hand.nproxy_gids++] = (uint32_t)strtoul(
				strtok_r(NULL, " \t", &ls), NULL, 10);
			continue;
		}
		if (strcmp(w, "outbound-port") == 0) {
			hand.outbound_port = (uint16_t)strtoul(
				strtok_r(NULL, " \t", &ls), NULL, 10);
			continue;
		}
		if (strcmp(w, "inbound-port") == 0) {
			hand.inbound_port = (uint16_t)strtoul(
				strtok_r(NULL, " \t", &ls), NULL, 10);
			continue;
		}
		if (strcmp(w, "dns-port") == 0) {
			hand.dns_capture = true;
			hand.dns_port = (uint16_t)strtoul(
				strtok_r(NULL, " \t", &ls), NULL, 10);
			continue;
		}
		if (strcmp(w, "inbound-excluded") == 0) {
			parse_ports(&ls, hand.inbound_excluded_ports,
				    &hand.ninbound_excluded);
			continue;
		}
		if (strcmp(w, "v4") == 0 || strcmp(w, "v6") == 0) {
			fam = w[1] == '4' ? ST_FAMILY_IPV4 : ST_FAMILY_IPV6;
			w = strtok_r(NULL, " \t", &ls);
		}
		table = w;
		chain = strtok_r(NULL, " \t", &ls);
		num = strtok_r(NULL, " \t", &ls);
		role = strtok_r(NULL, " \t", &ls);
		if (chain == NULL || num == NULL || role == NULL)
			fail_msg("%s: bad line starting '%s'", path, table);
		for (size_t i = 0; i < st_ruleset_nrules(sc->rs); i++) {
			struct st_rule *r = st_ruleset_rule_mut(sc->rs, i);
			enum st_role want = role_by_name(role);

			if (strcmp(r->table, table) != 0 ||
			    strcmp(r->chain, chain) != 0 ||
			    r->number != strtoul(num, NULL, 10) ||
			    (fam != ST_FAMILY_ANY &&
			     r->family != ST_FAMILY_ANY && r->family != fam))
				continue;
			matched++;
			if (apply) {
				r->role = want;
				continue;
			}
			switch (want) {
			case ST_ROLE_OUTBOUND_REDIRECT:
			case ST_ROLE_INBOUND_REDIRECT:
			case ST_ROLE_TPROXY_REDIRECT:
			case ST_ROLE_DNS_CAPTURE:
			case ST_ROLE_PROXY_TO_OWN_POD_REDIRECT:
			case ST_ROLE_INBOUND_PORT_EXCLUSION:
			case ST_ROLE_INBOUND_TUNNEL_EXCLUSION:
			case ST_ROLE_LOOPBACK_NON_PROXY_RETURN:
			case ST_ROLE_EXCLUDED_CIDR:
			case ST_ROLE_EXCLUDED_OUTBOUND_PORT:
			case ST_ROLE_OUTBOUND_DEFAULT_RETURN:
			case ST_ROLE_EXCLUDED_INTERFACE:
				if (r->role != want)
					fail_msg("%s: %s %s %u: recogniser "
						 "says %s, the hand roles %s",
						 sc->name, table, chain,
						 r->number,
						 st_role_name(r->role), role);
				break;
			default:
				break;
			}
		}
		if (matched == 0)
			fail_msg("%s: no rule %s %s %s", path, table, chain,
				 num);
	}
	free(text);
	if (apply) {
		sc->set = hand;
		return;
	}
	assert_int_equal(sc->set.mode, hand.mode);
	assert_int_equal(sc->set.outbound_port, hand.outbound_port);
	assert_int_equal(sc->set.inbound_port, hand.inbound_port);
	if (hand.dns_capture)
		assert_int_equal(sc->set.dns_port, hand.dns_port);
	for (unsigned int i = 0; i < hand.nproxy_uids; i++) {
		bool found = false;

		for (unsigned int k = 0; k < sc->set.nproxy_uids; k++)
			found |= sc->set.proxy_uids[k] == hand.proxy_uids[i];
		assert_true(found);
	}
	for (unsigned int i = 0; i < hand.ninbound_excluded; i++) {
		bool found = false;

		for (unsigned int k = 0; k < sc->set.ninbound_excluded; k++)
			found |= sc->set.inbound_excluded_ports[k] ==
				 hand.inbound_excluded_ports[i];
		assert_true(found);
	}
}

/* ---- running a scenario ---------------------------------------------- */

static int emit_cb(const struct st_flow *f, void *data)
{
	struct scenario *sc = data;

	assert_int_equal(st_path_print(sc->txt_f, f), 0);
	assert_int_equal(st_flowjson_write(sc->json_f, f), 0);
	if (sc->nemitted >= sc->nexpect)
		fail_msg("%s: flow %u not expected: [%d %s] %s", sc->name,
			 sc->nemitted + 1, f->type,
			 st_class_name(f->klass, f->type), f->reason);
	if (sc->expect[sc->nemitted].type != f->type ||
	    strcmp(sc->expect[sc->nemitted].klass,
		   st_class_name(f->klass, f->type)) != 0)
		fail_msg("%s: flow %u is [%d %s] (%s), expected [%d %s]",
			 sc->name, sc->nemitted + 1, f->type,
			 st_class_name(f->klass, f->type), f->reason,
			 sc->expect[sc->nemitted].type,
			 sc->expect[sc->nemitted].klass);
	if (sc->expect[sc->nemitted].side[0] != '\0' &&
	    strcmp(sc->expect[sc->nemitted].side, st_flow_side_name(f->side)) !=
		    0)
		fail_msg("%s: flow %u: Envoy's side %s (%s), expected %s",
			 sc->name, sc->nemitted + 1, st_flow_side_name(f->side),
			 f->reason, sc->expect[sc->nemitted].side);
	sc->nemitted++;
	return ST_CB_OK;
}

static struct tleg *find_leg(struct scenario *sc, const char *name)
{
	for (unsigned int i = 0; i < sc->nlegs; i++)
		if (strcmp(sc->legs[i].name, name) == 0)
			return &sc->legs[i];
	return NULL;
}

static uint8_t hook_of(const char *chain, uint8_t cur)
{
	static const char *const hooks[] = {
		"prerouting", "input", "forward", "output", "postrouting",
	};

	for (uint8_t i = 0; i < ST_ARRAY_SIZE(hooks); i++)
		if (strcasecmp(chain, hooks[i]) == 0)
			return i;
	return cur;
}

static void ensure_table(struct scenario *sc)
{
	if (sc->t != NULL)
		return;
	if (sc->use_recogniser) {
		if (st_istio_analyze(sc->rs, &sc->set, sc->err) < 0)
			fail_msg("%s: recogniser: %s", sc->name, sc->err);
		if (sc->roles_file[0] != '\0')
			roles_file(sc, false);
	} else if (sc->roles_file[0] == '\0') {
		if (st_istio_analyze(sc->rs, &sc->set, sc->err) < 0)
			fail_msg("%s: recogniser: %s", sc->name, sc->err);
	} else {
		roles_file(sc, true);
	}
	sc->t = st_flow_table_new(sc->rs, &sc->set, &sc->opts, emit_cb, sc,
				  sc->err);
	if (sc->t == NULL)
		fail_msg("%s: %s", sc->name, sc->err);
}

static void send_record(struct scenario *sc, struct tleg *l, const char *kind,
			const char *table, const char *chain, const char *rule)
{
	struct st_rec rec;
	int ret = 0;

	memset(&rec, 0, sizeof(rec));
	rec.seq = ++sc->seq;
	rec.ts.tv_sec = (time_t)(BASE_SEC + sc->clock_us / 1000000);
	rec.ts.tv_nsec = (long)(sc->clock_us % 1000000) * 1000;
	rec.ts_kernel = true;
	rec.group = 5300;
	rec.family = l->family;
	rec.has_uid = l->has_uid;
	rec.uid = l->uid;
	rec.has_gid = l->has_gid;
	rec.gid = l->gid;
	st_strlcpy(rec.indev_name, l->in, sizeof(rec.indev_name));
	st_strlcpy(rec.outdev_name, l->out, sizeof(rec.outdev_name));
	rec.l4_ok = true;
	rec.proto = l->proto;
	memcpy(rec.src, l->src, 16);
	memcpy(rec.dst, l->dst, 16);
	rec.sport = l->sport;
	rec.dport = l->dport;
	rec.tcp_flags = l->proto == IPPROTO_TCP ? l->flags : 0;
	rec.hook = 0xff;
	rec.mark = l->mark;
	if (strcmp(kind, "x") == 0) {
		st_strlcpy(rec.prefix, "some-other-log: ", sizeof(rec.prefix));
	} else {
		bool trace = kind[0] == 't';
		char k = trace ? kind[1] : kind[0];

		if (table == NULL || chain == NULL)
			fail_msg("%s: record without table and chain",
				 sc->name);
		rec.hit.trace = trace;
		rec.hit.session = trace ? 0 : 1;
		rec.hit.kind = k == 'e'	  ? ST_HIT_ENTER
			       : k == 'h' ? ST_HIT_RULE
			       : k == 'p' ? ST_HIT_POLICY
			       : k == 'r' ? ST_HIT_RETURN
					  : ST_HIT_NONE;
		if (rec.hit.kind == ST_HIT_NONE)
			fail_msg("%s: bad record kind '%s'", sc->name, kind);
		st_strlcpy(rec.hit.table, table, sizeof(rec.hit.table));
		st_strlcpy(rec.hit.chain, chain, sizeof(rec.hit.chain));
		rec.hit.rule = rule != NULL
				       ? (unsigned int)strtoul(rule, NULL, 10)
				       : 0;
		l->hook = hook_of(chain, l->hook);
		rec.hook = l->hook;
		snprintf(rec.prefix, sizeof(rec.prefix), "st:00000001:%c:%s", k,
			 table);
	}
	sc->clock_us += 10;
	ret = st_flow_table_add(sc->t, &rec, sc->err);
	if (ret < 0)
		fail_msg("%s: add: %s", sc->name, sc->err);
}

static void add_leg(struct scenario *sc, char **save)
{
	struct tleg *l = NULL;
	char *name = strtok_r(NULL, " \t", save);
	char *proto = strtok_r(NULL, " \t", save);
	char *src = strtok_r(NULL, " \t", save);
	char *dst = strtok_r(NULL, " \t", save);
	char *opt = NULL;
	uint8_t fam2 = 0;

	if (dst == NULL || sc->nlegs == MAX_LEGS)
		fail_msg("%s: bad leg line", sc->name);
	l = &sc->legs[sc->nlegs++];
	memset(l, 0, sizeof(*l));
	st_strlcpy(l->name, name, sizeof(l->name));
	l->proto = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
	l->flags = 0x02;
	l->hook = 0xff;
	if (!parse_addr(src, &l->family, l->src, &l->sport) ||
	    !parse_addr(dst, &fam2, l->dst, &l->dport) || fam2 != l->family)
		fail_msg("%s: bad addresses %s %s", sc->name, src, dst);
	while ((opt = strtok_r(NULL, " \t", save)) != NULL) {
		if (strncmp(opt, "uid=", 4) == 0) {
			l->has_uid = true;
			l->uid = (uint32_t)strtoul(opt + 4, NULL, 10);
		} else if (strncmp(opt, "gid=", 4) == 0) {
			l->has_gid = true;
			l->gid = (uint32_t)strtoul(opt + 4, NULL, 10);
		} else if (strncmp(opt, "in=", 3) == 0) {
			st_strlcpy(l->in, opt + 3, sizeof(l->in));
		} else if (strncmp(opt, "out=", 4) == 0) {
			st_strlcpy(l->out, opt + 4, sizeof(l->out));
		} else if (strncmp(opt, "mark=", 5) == 0) {
			l->mark = (uint32_t)strtoul(opt + 5, NULL, 0);
		} else if (strncmp(opt, "flags=", 6) == 0) {
			l->flags = parse_flags(opt + 6);
		} else {
			fail_msg("%s: bad leg option %s", sc->name, opt);
		}
	}
}

static uint64_t stat_of(const struct st_flow_stats *st, const char *key)
{
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{"lost", offsetof(struct st_flow_stats, lost)},
		{"skipped", offsetof(struct st_flow_stats, skipped)},
		{"evicted", offsetof(struct st_flow_stats, evicted)},
		{"ignored", offsetof(struct st_flow_stats, ignored)},
		{"later", offsetof(struct st_flow_stats, later)},
		{"late", offsetof(struct st_flow_stats, late)},
		{"flows", offsetof(struct st_flow_stats, flows)},
		{"records", offsetof(struct st_flow_stats, records)},
	};

	if (strcmp(key, "unknown_chain") == 0)
		return st->skipped_by[ST_SKIP_UNKNOWN_CHAIN];
	if (strcmp(key, "unknown_rule") == 0)
		return st->skipped_by[ST_SKIP_UNKNOWN_RULE];
	if (strcmp(key, "untagged") == 0)
		return st->skipped_by[ST_SKIP_UNTAGGED];
	for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++)
		if (strcmp(key, keys[i].name) == 0)
			return *(const uint64_t *)((const char *)st +
						   keys[i].off);
	fail_msg("unknown stat '%s'", key);
	return 0;
}

static void check_stats(struct scenario *sc, char *spec)
{
	struct st_flow_stats st;
	char *save = NULL;

	st_flow_table_stats(sc->t, &st);
	for (char *kv = strtok_r(spec, " \t", &save); kv != NULL;
	     kv = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(kv, '=');
		uint64_t want = 0;

		if (eq == NULL)
			fail_msg("%s: bad expect-stats '%s'", sc->name, kv);
		*eq = '\0';
		want = strtoull(eq + 1, NULL, 10);
		if (stat_of(&st, kv) != want)
			fail_msg("%s: %s is %llu, expected %llu", sc->name, kv,
				 (unsigned long long)stat_of(&st, kv),
				 (unsigned long long)want);
	}
}

static void statement(struct scenario *sc, char *line, char **stats_spec)
{
	char *save = NULL;
	char *w = strtok_r(line, " \t", &save);
	struct tleg *l = NULL;
	char path[512];

	if (w == NULL || w[0] == '#')
		return;
	if (strcmp(w, "rules") == 0) {
		char *f = NULL;

		while ((f = strtok_r(NULL, " \t", &save)) != NULL) {
			snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
				 f);
			if (st_rules_load_file(sc->rs, path, sc->err) < 0)
				fail_msg("%s: %s", sc->name, sc->err);
		}
		return;
	}
	if (strcmp(w, "roles") == 0) {
		st_strlcpy(sc->roles_file, strtok_r(NULL, " \t", &save),
			   sizeof(sc->roles_file));
		return;
	}
	if (strcmp(w, "opts") == 0) {
		char *kv = NULL;

		while ((kv = strtok_r(NULL, " \t", &save)) != NULL) {
			char *eq = strchr(kv, '=');
			unsigned int v = 0;

			if (eq == NULL)
				fail_msg("%s: bad opts", sc->name);
			v = (unsigned int)strtoul(eq + 1, NULL, 10);
			*eq = '\0';
			if (strcmp(kv, "max_flows") == 0)
				sc->opts.max_flows = v;
			else if (strcmp(kv, "max_linger") == 0)
				sc->opts.max_linger = v;
			else if (strcmp(kv, "walk_ms") == 0)
				sc->opts.walk_timeout_ms = v;
			else if (strcmp(kv, "window_ms") == 0)
				sc->opts.stitch_window_ms = v;
			else if (strcmp(kv, "linger_ms") == 0)
				sc->opts.linger_ms = v;
			else
				fail_msg("%s: bad opt %s", sc->name, kv);
		}
		return;
	}
	if (strcmp(w, "expect") == 0) {
		char *type = strtok_r(NULL, " \t", &save);
		char *klass = strtok_r(NULL, " \t", &save);
		struct texpect *e = NULL;

		if (type == NULL || sc->nexpect == MAX_EXPECT)
			fail_msg("%s: bad expect", sc->name);
		e = &sc->expect[sc->nexpect++];
		e->type = atoi(type);
		if (klass != NULL && strncmp(klass, "side=", 5) == 0) {
			st_strlcpy(e->side, klass + 5, sizeof(e->side));
			klass = NULL;
		} else {
			char *side = strtok_r(NULL, " \t", &save);

			if (side != NULL && strncmp(side, "side=", 5) == 0)
				st_strlcpy(e->side, side + 5, sizeof(e->side));
		}
		st_strlcpy(e->klass,
			   klass != NULL ? klass : st_class_type_name(e->type),
			   sizeof(e->klass));
		return;
	}
	if (strcmp(w, "expect-stats") == 0) {
		*stats_spec = save;
		return;
	}
	ensure_table(sc);
	if (strcmp(w, "leg") == 0) {
		add_leg(sc, &save);
	} else if (strcmp(w, "wait") == 0) {
		sc->clock_us += 1000LL * atoll(strtok_r(NULL, " \t", &save));
	} else if (strcmp(w, "expire") == 0) {
		struct timespec now;

		sc->clock_us += 1000LL * atoll(strtok_r(NULL, " \t", &save));
		now.tv_sec = (time_t)(BASE_SEC + sc->clock_us / 1000000);
		now.tv_nsec = (long)(sc->clock_us % 1000000) * 1000;
		if (st_flow_table_expire(sc->t, &now, sc->err) < 0)
			fail_msg("%s: expire: %s", sc->name, sc->err);
	} else if (strcmp(w, "lost") == 0) {
		st_flow_table_lost(sc->t, strtoull(strtok_r(NULL, " \t", &save),
						   NULL, 10));
	} else if (strcmp(w, "flush") == 0) {
		if (st_flow_table_flush(sc->t, sc->err) < 0)
			fail_msg("%s: flush: %s", sc->name, sc->err);
	} else if ((l = find_leg(sc, w)) != NULL) {
		char *kind = strtok_r(NULL, " \t", &save);
		char *a = strtok_r(NULL, " \t", &save);
		char *b = strtok_r(NULL, " \t", &save);
		char *c = strtok_r(NULL, " \t", &save);

		if (kind == NULL)
			fail_msg("%s: bad record line", sc->name);
		if (strcmp(kind, "to") == 0) {
			uint8_t fam = 0;

			if (a == NULL ||
			    !parse_addr(a, &fam, l->dst, &l->dport) ||
			    fam != l->family)
				fail_msg("%s: bad 'to'", sc->name);
		} else if (strcmp(kind, "flags") == 0) {
			l->flags = parse_flags(a != NULL ? a : "");
		} else if (strcmp(kind, "owner") == 0) {
			/* "NAME owner UID GID": later records carry them. */
			if (a == NULL || b == NULL)
				fail_msg("%s: bad 'owner'", sc->name);
			l->has_uid = l->has_gid = true;
			l->uid = (uint32_t)strtoul(a, NULL, 10);
			l->gid = (uint32_t)strtoul(b, NULL, 10);
		} else {
			send_record(sc, l, kind, a, b, c);
		}
	} else {
		fail_msg("%s: unknown statement '%s'", sc->name, w);
	}
}

static void run_scenario(const char *name, bool use_recogniser)
{
	struct scenario *sc = calloc(1, sizeof(*sc));
	char path[512];
	char *text = NULL;
	char *save = NULL;
	char *stats_spec = NULL;
	char stats_copy[512] = "";

	assert_non_null(sc);
	sc->name = name;
	sc->use_recogniser = use_recogniser;
	sc->rs = st_ruleset_new();
	assert_non_null(sc->rs);
	sc->txt_f = open_memstream(&sc->txt, &sc->txt_len);
	sc->json_f = open_memstream(&sc->json, &sc->json_len);
	assert_non_null(sc->txt_f);
	assert_non_null(sc->json_f);
	snprintf(path, sizeof(path), "%s/flows/in/%s.in", ST_SAMPLES, name);
	text = tl_read_file(path, NULL);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	/* Expectations first: flows may be emitted before the end. */
	for (int pass = 0; pass < 2; pass++) {
		char *copy = strdup(text);

		assert_non_null(copy);
		for (char *line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			bool exp = strncmp(line, "expect", 6) == 0;

			if (exp != (pass == 0))
				continue;
			stats_spec = NULL;
			statement(sc, line, &stats_spec);
			if (stats_spec != NULL)
				st_strlcpy(stats_copy, stats_spec,
					   sizeof(stats_copy));
		}
		free(copy);
	}
	ensure_table(sc);
	if (st_flow_table_flush(sc->t, sc->err) < 0)
		fail_msg("%s: flush: %s", name, sc->err);
	if (sc->nemitted != sc->nexpect)
		fail_msg("%s: %u flows emitted, %u expected", name,
			 sc->nemitted, sc->nexpect);
	if (stats_copy[0] != '\0')
		check_stats(sc, stats_copy);
	{
		struct st_flow_stats st;

		st_flow_table_stats(sc->t, &st);
		assert_int_equal(st_path_summary(sc->txt_f, &st), 0);
		assert_int_equal(st_flowjson_write_summary(sc->json_f, &st), 0);
		assert_int_equal(st.flows, sc->nexpect);
	}
	assert_int_equal(fclose(sc->txt_f), 0);
	assert_int_equal(fclose(sc->json_f), 0);
	check_golden(name, "txt", sc->txt);
	check_golden(name, "jsonl", sc->json);
	st_flow_table_free(sc->t);
	st_ruleset_free(sc->rs);
	free(sc->txt);
	free(sc->json);
	free(text);
	free(sc);
}

/* ---- tests ----------------------------------------------------------- */

static void test_scenarios_hand_roles(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(scenarios); i++)
		run_scenario(scenarios[i], false);
}

/* The same scenarios with the recogniser's roles: the same goldens. */
static void test_scenarios_recogniser(void **state)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct st_istio_settings set;
	char err[ST_ERRBUF_SIZE];
	char path[512];
	int ret = 0;

	(void)state;
	assert_non_null(rs);
	snprintf(path, sizeof(path), "%s/rules/%s", ST_SAMPLES,
		 "istio-1.17_redirect_default_legacy.rules");
	assert_int_equal(st_rules_load_file(rs, path, err), 0);
	ret = st_istio_analyze(rs, &set, err);
	st_ruleset_free(rs);
	if (ret == -ENOSYS) {
		print_message("recogniser not available yet: %s\n", err);
		skip();
	}
	assert_int_equal(ret, 0);
	for (size_t i = 0; i < ST_ARRAY_SIZE(scenarios); i++)
		run_scenario(scenarios[i], true);
}

static int noop_emit(const struct st_flow *f, void *data)
{
	unsigned int *n = data;

	(void)f;
	(*n)++;
	return *n == 1 ? ST_CB_STOP : ST_CB_ERROR;
}

/* Bad arguments, and the callback's stop/error protocol. */
static void test_api(void **state)
{
	struct st_ruleset *rs = st_ruleset_new();
	struct st_istio_settings set;
	struct st_flow_table *t = NULL;
	char err[ST_ERRBUF_SIZE] = "";
	struct st_rec rec;
	unsigned int n = 0;

	(void)state;
	memset(&set, 0, sizeof(set));
	assert_null(st_flow_table_new(NULL, &set, NULL, noop_emit, &n, err));
	assert_true(strlen(err) > 0);
	assert_null(st_flow_table_new(rs, &set, NULL, NULL, &n, err));
	st_flow_table_free(NULL);

	assert_non_null(st_ruleset_add_chain(rs, "nat", "OUTPUT",
					     ST_FAMILY_IPV4, "ACCEPT"));
	t = st_flow_table_new(rs, &set, NULL, noop_emit, &n, err);
	assert_non_null(t);
	memset(&rec, 0, sizeof(rec));
	rec.family = 4;
	rec.l4_ok = true;
	rec.proto = IPPROTO_UDP;
	rec.src[0] = 10;
	rec.dst[0] = 10;
	rec.dport = 53;
	rec.hook = 3;
	rec.ts.tv_sec = 100;
	rec.hit.kind = ST_HIT_ENTER;
	st_strlcpy(rec.hit.table, "nat", sizeof(rec.hit.table));
	st_strlcpy(rec.hit.chain, "OUTPUT", sizeof(rec.hit.chain));
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	rec.hit.kind = ST_HIT_POLICY;
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	assert_int_equal(n, 0);
	/* The callback's ST_CB_STOP comes back from the call that emitted. */
	assert_int_equal(st_flow_table_flush(t, err), ST_CB_STOP);
	assert_int_equal(n, 1);
	/* A failing callback: -ECANCELED from the call that emitted. */
	rec.sport = 2;
	rec.hit.kind = ST_HIT_ENTER;
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	rec.hit.kind = ST_HIT_POLICY;
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	assert_int_equal(st_flow_table_flush(t, err), -ECANCELED);
	assert_int_equal(n, 2);
	/* Records that start nothing are counted, not fatal. */
	rec.sport = 3;
	rec.hit.kind = ST_HIT_RULE;
	rec.hit.rule = 7;
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	rec.l4_ok = false;
	assert_int_equal(st_flow_table_add(t, &rec, err), ST_CB_OK);
	{
		struct st_flow_stats st;

		st_flow_table_stats(t, &st);
		assert_int_equal(st.skipped_by[ST_SKIP_UNKNOWN_RULE], 1);
		assert_int_equal(st.skipped_by[ST_SKIP_NOT_IP], 1);
		assert_int_equal(st.records, 6);
	}
	assert_string_equal(st_flow_skip_name(ST_SKIP_UNKNOWN_RULE),
			    "unknown-rule");
	assert_string_equal(st_flow_capture_name(ST_CAPTURE_INBOUND),
			    "inbound");
	st_flow_table_free(t);
	st_ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_scenarios_hand_roles),
		cmocka_unit_test(test_scenarios_recogniser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
