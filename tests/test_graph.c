// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_graph.c - the Graphviz schematic of each canonical traffic type,
 * for several eras of Istio's rules: the graph's structure through
 * agwrite() (deterministic, no layout) against golden files
 * samples/graph/RULES/type-N-NAME.dot (ST_REGEN=1 rewrites them, and
 * then also renders the .svg files and index.html next to them for the
 * README; ST_REVIEW_DIR=DIR renders a PNG of each into DIR to look at),
 * plus render smoke tests per format and directory mode.
 *
 * Flows are built directly as struct st_flow values from a template per
 * type whose rules are chosen by role (or by destination port), never by
 * number, so that one template fits every era:
 *   leg: "SRC DST [uid=N] [in=IF] [out=IF]"
 *   hop: "K CHAIN [SEL]"  K: e enter, h rule, p policy; CHAIN as iptables
 *        spells it (nftables' lower-case, dashed names are found too);
 *        SEL: "@role" or "#dport", alternatives separated by '|'.
 * Hops into a chain the rules do not have (nft: no postrouting chain) are
 * left out, as the kernel would never log them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "classify.h"
#include "diagram.h"
#include "eval.h"
#include "graph.h"
#include "istio.h"
#include "path.h"
#include "pipe.h"
#include "scenario.h"
#include "testlib.h"

#define MAX_HOPS 12

struct tleg {
	const char *addr; /* "SRC DST [uid=N] [in=IF] [out=IF]" */
	const char *hops[MAX_HOPS];
};

struct ttype {
	int type;
	struct tleg legs[ST_FLOW_MAX_LEGS];
};

static const struct ttype types[] = {
	{1,
	 {{"10.244.1.5:40200 10.244.0.7:8080 in=eth0",
	   {"e PREROUTING", "h PREROUTING @inbound-entry", "e ISTIO_INBOUND",
	    "h ISTIO_INBOUND @inbound-capture", "e ISTIO_IN_REDIRECT",
	    "h ISTIO_IN_REDIRECT @inbound-redirect"}},
	  {"127.0.0.6:41200 10.244.0.7:8080 uid=1337 out=lo",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @inbound-passthrough-return", "p OUTPUT",
	    "e POSTROUTING", "p POSTROUTING"}}}},
	{2,
	 {{"10.244.0.7:50000 10.96.0.20:80 uid=1000 out=eth0",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @outbound-capture", "e ISTIO_REDIRECT",
	    "h ISTIO_REDIRECT @outbound-redirect"}},
	  {"10.244.0.7:50010 10.244.2.9:8080 uid=1337 out=eth0",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @proxy-uid-return", "p OUTPUT", "e POSTROUTING",
	    "p POSTROUTING"}}}},
	{3,
	 {{"10.244.3.4:52000 10.244.0.7:15090 in=eth0",
	   {"e PREROUTING", "h PREROUTING @inbound-entry", "e ISTIO_INBOUND",
	    "h ISTIO_INBOUND #15090|#15020", "p PREROUTING", "e INPUT",
	    "p INPUT"}}}},
	{4,
	 {{"10.244.0.7:50020 10.96.0.30:80 uid=1000 out=eth0",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @outbound-capture", "e ISTIO_REDIRECT",
	    "h ISTIO_REDIRECT @outbound-redirect"}},
	  {"10.244.0.7:50030 10.244.0.7:8080 uid=1337 out=lo",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @proxy-to-own-pod-redirect|@loopback-redirect",
	    "e ISTIO_IN_REDIRECT", "h ISTIO_IN_REDIRECT @inbound-redirect"}},
	  {"127.0.0.6:50040 10.244.0.7:8080 uid=1337 out=lo",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @inbound-passthrough-return", "p OUTPUT",
	    "e POSTROUTING", "p POSTROUTING"}}}},
	{5,
	 {{"127.0.0.1:43000 127.0.0.1:15000 uid=1337 out=lo",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @proxy-uid-return", "p OUTPUT", "e POSTROUTING",
	    "p POSTROUTING"}}}},
	{6,
	 {{"10.244.0.7:44000 10.96.0.10:15012 uid=1337 out=eth0",
	   {"e OUTPUT", "h OUTPUT @outbound-entry", "e ISTIO_OUTPUT",
	    "h ISTIO_OUTPUT @proxy-uid-return", "p OUTPUT", "e POSTROUTING",
	    "p POSTROUTING"}}}},
};

/* Rule sets with golden diagrams: one per era of ISTIO_OUTPUT. */
static const char *const rulesets[] = {
	"istio-1.4_redirect_default_legacy.rules",
	"istio-1.17_redirect_default_legacy.rules",
	"istio-1.28plus_native-nftables_redirect_default.nft.json",
};

/*
 * What each type's graph must show for the 1.17 rules (README's table):
 * the edges in travel order as "TAIL -> HEAD LABEL".
 */
static const struct {
	int type;
	const char *edges[14];
} want_117[] = {
	{1,
	 {"remote -> nat/PREROUTING 1",
	  "nat/PREROUTING -> nat/ISTIO_INBOUND:head:w 2",
	  "nat/ISTIO_INBOUND:r5:e -> nat/ISTIO_IN_REDIRECT 3: RULE 5",
	  "nat/ISTIO_IN_REDIRECT -> envoy:in 4", "envoy:w -> nat/OUTPUT 5",
	  "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 6",
	  "nat/ISTIO_OUTPUT:n1:w -> nat/POSTROUTING 7: RULE 1",
	  "nat/POSTROUTING -> app:se 8"}},
	{2,
	 {"app:ne -> nat/OUTPUT 1", "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 2",
	  "nat/ISTIO_OUTPUT:r9:e -> nat/ISTIO_REDIRECT 3: RULE 9",
	  "nat/ISTIO_REDIRECT -> envoy:out 4", "envoy:w -> nat/OUTPUT 5",
	  "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 6",
	  "nat/ISTIO_OUTPUT:n4:w -> nat/POSTROUTING 7: RULE 4",
	  "nat/POSTROUTING -> remote 8"}},
	{3,
	 {"prometheus -> nat/PREROUTING 1",
	  "nat/PREROUTING -> nat/ISTIO_INBOUND:head:w 2",
	  "nat/ISTIO_INBOUND:r2:e -> nat/INPUT 3: RULE 2",
	  "nat/INPUT -> envoy:w 4"}},
	{4,
	 {"app:ne -> nat/OUTPUT 1", "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 2",
	  "nat/ISTIO_OUTPUT:r9:e -> nat/ISTIO_REDIRECT 3: RULE 9",
	  "nat/ISTIO_REDIRECT -> envoy:out 4", "envoy:w -> nat/OUTPUT 5",
	  "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 6",
	  "nat/ISTIO_OUTPUT:r2:e -> nat/ISTIO_IN_REDIRECT 7: RULE 2",
	  "nat/ISTIO_IN_REDIRECT -> envoy:in 8", "envoy:w -> nat/OUTPUT 9",
	  "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 10",
	  "nat/ISTIO_OUTPUT:n1:w -> nat/POSTROUTING 11: RULE 1",
	  "nat/POSTROUTING -> app:se 12"}},
	{5,
	 {"envoy:w -> nat/OUTPUT 1", "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 2",
	  "nat/ISTIO_OUTPUT:n4:w -> nat/POSTROUTING 3: RULE 4",
	  "nat/POSTROUTING -> localhost 4"}},
	{6,
	 {"envoy:w -> nat/OUTPUT 1", "nat/OUTPUT -> nat/ISTIO_OUTPUT:head:w 2",
	  "nat/ISTIO_OUTPUT:n4:w -> nat/POSTROUTING 3: RULE 4",
	  "nat/POSTROUTING -> istiod 4"}},
};

struct env {
	struct st_ruleset *rs;
	struct st_istio_settings set;
	const char *nat; /* the table holding the outbound REDIRECT */
	char err[ST_ERRBUF_SIZE];
};

/* ---- helpers --------------------------------------------------------- */

static void load(struct env *e, const char *rules)
{
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	e->rs = tl_load_analyze(rules, &e->set);
	n = st_ruleset_nrules(e->rs);
	for (size_t i = 0; i < n; i++) {
		const struct st_rule *r = st_ruleset_rule(e->rs, i);

		if (r->role == ST_ROLE_OUTBOUND_REDIRECT)
			e->nat = r->table;
	}
	assert_non_null(e->nat);
}

static void unload(struct env *e)
{
	st_ruleset_free(e->rs);
	e->rs = NULL;
}

/* ISTIO_OUTPUT, or istio-output in nftables' spelling. */
static const struct st_chain *find_chain(const struct env *e, const char *name)
{
	const struct st_chain *c =
		st_ruleset_find_chain(e->rs, e->nat, name, ST_FAMILY_ANY);
	char alt[64];
	size_t i = 0;

	if (c != NULL)
		return c;
	for (; name[i] != '\0' && i + 1 < sizeof(alt); i++)
		alt[i] = name[i] == '_' ? '-' : (char)tolower(name[i]);
	alt[i] = '\0';
	return st_ruleset_find_chain(e->rs, e->nat, alt, ST_FAMILY_ANY);
}

static bool has_dport(const struct st_rule *r, unsigned long port)
{
	for (unsigned int m = 0; m < r->nmatches; m++) {
		const struct st_match *x = &r->matches[m];

		if (x->kind != ST_M_DPORT || x->neg)
			continue;
		for (unsigned int p = 0; p < x->nports; p++)
			if (x->ports[p].lo <= port && port <= x->ports[p].hi)
				return true;
	}
	return false;
}

static const struct st_rule *
select_rule(const struct env *e, const struct st_chain *c, const char *sel)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", sel);
	for (char *alt = strtok_r(buf, "|", &save); alt != NULL;
	     alt = strtok_r(NULL, "|", &save)) {
		for (unsigned int k = 0; k < c->nrules; k++) {
			const struct st_rule *r =
				st_ruleset_rule(e->rs, c->first + k);

			if (alt[0] == '@' &&
			    strcmp(st_role_name(r->role), alt + 1) == 0)
				return r;
			if (alt[0] == '#' &&
			    has_dport(r, strtoul(alt + 1, NULL, 10)))
				return r;
		}
	}
	return NULL;
}

static void parse_addr(const char *s, struct st_flow_leg *l, bool src)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint8_t *a = src ? l->src : l->dst;

	assert_non_null(colon);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	assert_int_equal(inet_pton(AF_INET, host, a), 1);
	l->family = 4;
	if (src)
		l->sport = (uint16_t)atoi(colon + 1);
	else
		l->dport = (uint16_t)atoi(colon + 1);
}

static void build_leg(const struct env *e, const struct tleg *t,
		      struct st_flow_leg *l)
{
	char buf[160];
	char *save = NULL;
	int field = 0;

	memset(l, 0, sizeof(*l));
	l->proto = IPPROTO_TCP;
	l->redirect_hop = -1;
	l->decision_hop = -1;
	snprintf(buf, sizeof(buf), "%s", t->addr);
	for (char *w = strtok_r(buf, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save), field++) {
		if (field < 2) {
			parse_addr(w, l, field == 0);
		} else if (strncmp(w, "uid=", 4) == 0) {
			l->has_uid = l->has_gid = true;
			l->uid = l->gid = (uint32_t)atoi(w + 4);
		} else if (strncmp(w, "in=", 3) == 0) {
			snprintf(l->indev, sizeof(l->indev), "%s", w + 3);
			l->arriving = true;
		} else if (strncmp(w, "out=", 4) == 0) {
			snprintf(l->outdev, sizeof(l->outdev), "%s", w + 4);
		}
	}
	l->proxy = l->has_uid && l->uid == e->set.proxy_uids[0];
	l->passthrough_src = l->src[0] == 127 && l->src[3] == 6;
	l->nat_table = e->nat;
	l->decisive_table = e->nat;
	for (unsigned int i = 0; i < MAX_HOPS && t->hops[i] != NULL; i++) {
		char kind = t->hops[i][0];
		char name[64];
		char sel[96] = "";
		const struct st_chain *c = NULL;
		struct st_flow_hop *h = &l->hops[l->nhops];

		assert_true(sscanf(t->hops[i] + 2, "%63s %95s", name, sel) >=
			    1);
		c = find_chain(e, name);
		if (c == NULL)
			continue;
		h->table = c->table;
		h->chain = c->name;
		h->chain_rules = c->nrules;
		h->builtin = c->builtin;
		h->istio = st_istio_is_istio_chain(c->name);
		switch (kind) {
		case 'e':
			h->kind = ST_HIT_ENTER;
			break;
		case 'p':
			h->kind = ST_HIT_POLICY;
			break;
		default:
			h->kind = ST_HIT_RULE;
			h->r = select_rule(e, c, sel);
			if (h->r == NULL)
				fail_msg("no rule %s in %s", sel, name);
			h->rule = h->r->number;
			/* The port fallen back to (1.4 has no 15090 rule). */
			if (sel[0] == '#' && !has_dport(h->r, l->dport))
				for (unsigned int m = 0; m < h->r->nmatches;
				     m++)
					if (h->r->matches[m].kind == ST_M_DPORT)
						l->dport = h->r->matches[m]
								   .ports[0]
								   .lo;
			break;
		}
		if (h->r != NULL && h->r->target.kind == ST_T_REDIRECT) {
			uint16_t p = h->r->target.port_lo;

			l->redirect_hop = (int)l->nhops;
			l->redirect_port = p;
			l->capture =
				p == e->set.outbound_port  ? ST_CAPTURE_OUTBOUND
				: p == e->set.inbound_port ? ST_CAPTURE_INBOUND
							   : ST_CAPTURE_OTHER;
		}
		if (h->r != NULL && h->istio)
			l->decision_hop = (int)l->nhops;
		l->nhops++;
		l->records++;
	}
	if (l->redirect_hop >= 0)
		l->decision_hop = l->redirect_hop;
	l->packets = 1;
}

static void build_flow(const struct env *e, const struct ttype *t,
		       struct st_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->id = 1;
	f->type = t->type;
	f->klass = ST_CLASS_NONE;
	for (unsigned int i = 0;
	     i < ST_FLOW_MAX_LEGS && t->legs[i].addr != NULL; i++)
		build_leg(e, &t->legs[i], &f->legs[f->nlegs++]);
}

static char *dot_text(struct st_graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char err[ST_ERRBUF_SIZE] = "";

	assert_non_null(f);
	assert_int_equal(st_graph_write_dot(g, f, err), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void base_name(const char *rules, char *buf, size_t size)
{
	/* "istio-1.17_..." has dots in the version: cut the known suffix. */
	const char *dot = strstr(rules, ".nft.json");

	if (dot == NULL)
		dot = strrchr(rules, '.');
	snprintf(buf, size, "%.*s", (int)(dot - rules), rules);
}

static const struct st_graph_opts *opts_for(const struct env *e,
					    struct st_graph_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pod_name = "productpage-v1-7d6cfb7dfd-x2k9q";
	o->pod_ip = "10.244.0.7";
	o->rs = e->rs;
	o->set = &e->set;
	return o;
}

/* ---- tests ----------------------------------------------------------- */

/* Every type of every era against its golden .dot. */
static void test_golden(void **state)
{
	(void)state;
	for (size_t r = 0; r < ST_ARRAY_SIZE(rulesets); r++) {
		struct env e;
		struct st_graph_opts o;
		char base[256], dir[512];
		struct st_diagram *d = NULL;

		load(&e, rulesets[r]);
		base_name(rulesets[r], base, sizeof(base));
		snprintf(dir, sizeof(dir), "%s/graph/%s", ST_SAMPLES, base);
		if (tl_regen()) {
			d = st_diagram_new(dir, "svg", opts_for(&e, &o), e.err);
			assert_non_null(d);
		}
		for (size_t t = 0; t < ST_ARRAY_SIZE(types); t++) {
			struct st_flow f;
			struct st_graph *g = NULL;
			char name[96], path[1024];
			char *got = NULL;

			build_flow(&e, &types[t], &f);
			g = st_graph_new(&f, opts_for(&e, &o), e.err);
			if (g == NULL)
				fail_msg("%s type %d: %s", base, f.type, e.err);
			got = dot_text(g);
			st_diagram_file_name(&f, "dot", name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			tl_golden(path, got);
			if (tl_regen())
				st_diagram_add(d, &f);
			if (getenv("ST_REVIEW_DIR") != NULL) {
				/* PNGs to look at: ST_REVIEW_DIR=/tmp/x */
				snprintf(path, sizeof(path),
					 "%s/%s-type-%d.png",
					 getenv("ST_REVIEW_DIR"), base, f.type);
				if (st_graph_render_file(g, path, e.err) != 0)
					fail_msg("%s", e.err);
			}
			free(got);
			st_graph_free(g);
		}
		if (d != NULL && st_diagram_write(d, e.err) < 0)
			fail_msg("%s: %s", dir, e.err);
		st_diagram_free(d);
		unload(&e);
	}
}

/* "TAIL -> HEAD LABEL" without quotes. */
struct tedge {
	unsigned int num;
	char text[160];
};

static int edge_cmp(const void *a, const void *b)
{
	const struct tedge *x = a, *y = b;

	return (x->num > y->num) - (x->num < y->num);
}

/* The edges of a DOT text, sorted by their number (agwrite groups them). */
static unsigned int edges_of(const char *dot, struct tedge *out,
			     unsigned int max)
{
	unsigned int n = 0;
	const char *line = dot;

	for (; line != NULL && *line != '\0' && n < max;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *arrow = strstr(line, " -> ");
		const char *eol = strchr(line, '\n');
		const char *tab = NULL, *l = NULL, *v = NULL, *end = NULL;
		char ends[128], label[32];
		size_t k = 0, m = 0;

		/* Edge statements sit one tab deep; captions wrap anywhere. */
		if (arrow == NULL || (eol != NULL && arrow > eol) ||
		    line[0] != '\t' || line[1] == '\t')
			continue;
		tab = strchr(arrow, '\t');
		assert_non_null(tab);
		for (const char *c = line; c < tab; c++)
			if (*c != '"' && *c != '\t' && m + 1 < sizeof(ends))
				ends[m++] = *c;
		ends[m] = '\0';
		/*
		 * The attributes run to the next edge or node statement: an
		 * unseen edge (the layout's) is no step; the label is a
		 * table of one cell, or an external label.
		 */
		end = strstr(tab, "];");
		assert_non_null(end);
		l = strstr(tab, "style=invis");
		if (l != NULL && l < end)
			continue;
		l = strstr(tab, "<TD");
		if (l != NULL && l < end) {
			v = strchr(l, '>') + 1;
			while (v[k] != '<' && k + 1 < sizeof(label))
				k++;
		} else if ((l = strstr(tab, "xlabel=")) != NULL && l < end) {
			v = l + 7 + (l[7] == '"');
			while (v[k] != '"' && v[k] != ',' && v[k] != ']' &&
			       v[k] != '\n' && k + 1 < sizeof(label))
				k++;
		} else {
			v = "";
		}
		snprintf(label, sizeof(label), "%.*s", (int)k, v);
		out[n].num = (unsigned int)strtoul(label, NULL, 10);
		snprintf(out[n].text, sizeof(out[n].text), "%s %s", ends,
			 label);
		n++;
	}
	qsort(out, n, sizeof(*out), edge_cmp);
	return n;
}

/* The structure, asserted independently of the golden files. */
static void test_structure(void **state)
{
	struct env e;
	struct st_graph_opts o;

	(void)state;
	load(&e, "istio-1.17_redirect_default_legacy.rules");
	for (size_t i = 0; i < ST_ARRAY_SIZE(want_117); i++) {
		const struct ttype *t = &types[want_117[i].type - 1];
		struct st_flow f;
		struct st_graph *g = NULL;
		struct tedge edges[16];
		unsigned int n = 0, nwant = 0;
		char *dot = NULL;

		build_flow(&e, t, &f);
		g = st_graph_new(&f, opts_for(&e, &o), e.err);
		assert_non_null(g);
		dot = dot_text(g);
		/* The frame: pod, its table, every chain, peers, legend. */
		assert_non_null(strstr(dot, "subgraph cluster_pod {"));
		assert_non_null(strstr(dot, "subgraph cluster_nat {"));
		assert_non_null(strstr(dot, "label=\"Pod productpage-v1-"
					    "7d6cfb7dfd-x2k9q (10.244.0.7)\""));
		assert_non_null(strstr(dot, "\"nat/PREROUTING\""));
		assert_non_null(strstr(dot, "\"nat/INPUT\""));
		assert_non_null(strstr(dot, "\"nat/ISTIO_IN_REDIRECT\""));
		assert_non_null(strstr(dot, "\"nat/ISTIO_REDIRECT\""));
		assert_non_null(strstr(dot, "\"nat/POSTROUTING\""));
		assert_non_null(strstr(dot, "<TD PORT=\"r9\""));
		assert_non_null(strstr(dot, "<B>ISTIO_OUTPUT</B>"));
		assert_non_null(strstr(dot, "15001\\noutbound"));
		assert_non_null(strstr(dot, "15006\\ninbound"));
		assert_non_null(strstr(dot, "Remote Pod"));
		assert_non_null(strstr(dot, "Prometheus"));
		assert_non_null(strstr(dot, "Istiod"));
		assert_non_null(strstr(dot, "localhost"));
		/* The legend: a line of the legs' colours in the title. */
		assert_non_null(strstr(dot, "&#9632;</FONT> leg 1 "));
		assert_non_null(strstr(dot, "not visited"));
		n = edges_of(dot, edges, 16);
		while (nwant < 14 && want_117[i].edges[nwant] != NULL)
			nwant++;
		if (getenv("ST_EDGES") != NULL)
			for (unsigned int k = 0; k < n; k++)
				print_message("type %d: \"%s\"\n", t->type,
					      edges[k].text);
		if (n != nwant)
			fail_msg("type %d: %u edges, want %u:\n%s", t->type, n,
				 nwant, dot);
		for (unsigned int k = 0; k < n; k++)
			if (strcmp(edges[k].text, want_117[i].edges[k]) != 0)
				fail_msg("type %d edge %u: '%s', want '%s'",
					 t->type, k + 1, edges[k].text,
					 want_117[i].edges[k]);
		free(dot);
		st_graph_free(g);
	}
	unload(&e);
}

/* Type 2 in detail: rows highlighted, ports used, tooltip, faint frame. */
/*
 * A request Envoy's access log names, on a connection Envoy reused: its
 * box lists the requests with their upstream host, and the reused
 * connection is a dashed edge named by its address.
 */
static void test_envoy_requests(void **state)
{
	struct st_flow_reqs reqs;
	struct env e;
	struct st_graph_opts o;
	struct st_flow f;
	struct st_graph *g = NULL;
	uint16_t port = 0;
	char *dot = NULL;

	(void)state;
	load(&e, "istio-1.17_redirect_default_legacy.rules");
	build_flow(&e, &types[1], &f);
	f.nlegs = 1; /* no new leg of the proxy: the pool carried it */
	f.side = ST_SIDE_REUSED;
	memset(&f.pooled, 0, sizeof(f.pooled));
	tl_parse_addr("10.244.0.7:45001", &f.pooled.family, f.pooled.src,
		      &f.pooled.sport);
	memset(&reqs, 0, sizeof(reqs));
	reqs.n = 2;
	reqs.total = 3;
	st_strlcpy(reqs.req[0].method, "GET", sizeof(reqs.req[0].method));
	st_strlcpy(reqs.req[0].authority, "reviews:9080",
		   sizeof(reqs.req[0].authority));
	st_strlcpy(reqs.req[0].path, "/reviews/0", sizeof(reqs.req[0].path));
	reqs.req[0].has_code = true;
	reqs.req[0].code = 200;
	tl_parse_addr("10.244.2.20:9080", &reqs.req[0].host_family,
		      reqs.req[0].host, &port);
	reqs.req[0].host_port = port;
	reqs.req[1].tcp = true;
	f.reqs = &reqs;
	g = st_graph_new(&f, opts_for(&e, &o), e.err);
	assert_non_null(g);
	dot = dot_text(g);
	assert_non_null(strstr(dot, "\\nGET reviews:9080/reviews/0 -\\> 200"
				    "\\nupstream 10.244.2.20:9080\\nTCP"
				    "\\n+1 more"));
	assert_non_null(strstr(dot, "reused 10.244.0.7:45001"));
	assert_non_null(strstr(dot, "style=dashed"));
	free(dot);
	st_graph_free(g);
	unload(&e);
}

static void test_type2_details(void **state)
{
	struct env e;
	struct st_graph_opts o;
	struct st_flow f;
	struct st_graph *g = NULL;
	char *dot = NULL;

	(void)state;
	load(&e, "istio-1.17_redirect_default_legacy.rules");
	build_flow(&e, &types[1], &f);
	g = st_graph_new(&f, opts_for(&e, &o), e.err);
	assert_non_null(g);
	dot = dot_text(g);
	/* Leg 1 (blue) decided by rule 9, leg 2 (red) by rule 4. */
	assert_non_null(strstr(dot, "ALIGN=\"LEFT\" TOOLTIP=\"-A ISTIO_OUTPUT "
				    "-j ISTIO_REDIRECT\" BGCOLOR=\"#d6e4fa\""));
	assert_non_null(strstr(dot, "ALIGN=\"LEFT\" TOOLTIP=\"-A ISTIO_OUTPUT "
				    "-m owner --uid-owner 1337 -j RETURN\" "
				    "BGCOLOR=\"#f8d7d3\""));
	/* The edge out of rule 9 leaves from its row, with the rule text. */
	assert_non_null(strstr(dot, "\"nat/ISTIO_OUTPUT\":r9:e -> "
				    "\"nat/ISTIO_REDIRECT\""));
	assert_non_null(
		strstr(dot, "tooltip=\"-A ISTIO_OUTPUT -j ISTIO_REDIRECT\""));
	/* Into Envoy's outbound port; out of Envoy itself. */
	assert_non_null(strstr(dot, "\"nat/ISTIO_REDIRECT\" -> envoy:out"));
	assert_non_null(strstr(dot, "envoy:w -> \"nat/OUTPUT\""));
	/* PREROUTING was not visited: faint. */
	assert_non_null(strstr(dot, "\"nat/PREROUTING\"\t[color=\"#c8c8c8\""));
	/* The title: the type, then the path text. */
	assert_non_null(strstr(dot, "<B>Type 2: local-to-remote</B>"));
	assert_non_null(strstr(dot, "Local Pod -&gt; OUTPUT -&gt; ISTIO_OUTPUT "
				    "RULE 9 -&gt; ISTIO_REDIRECT -&gt; Envoy "
				    "15001 (Outbound)"));
	free(dot);
	st_graph_free(g);

	/* Without rules or pod: only the visited chains, ports from the legs. */
	g = st_graph_new(&f, NULL, e.err);
	assert_non_null(g);
	dot = dot_text(g);
	assert_non_null(strstr(dot, "label=Pod"));
	assert_null(strstr(dot, "PREROUTING"));
	assert_non_null(strstr(dot, "15001\\noutbound"));
	assert_non_null(strstr(dot, "<in> inbound"));
	free(dot);
	st_graph_free(g);
	unload(&e);
}

static void test_format_of(void **state)
{
	static const struct {
		const char *path;
		const char *fmt;
	} cases[] = {
		{"a.svg", "svg"}, {"dir/x.PNG", "png"}, {"x.pdf", "pdf"},
		{"x.dot", "dot"}, {"x.gv", "dot"},	{"x.jpg", NULL},
		{"out", NULL},	  {"a.b/out", NULL},	{"", NULL},
	};

	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		const char *got = st_graph_format_of(cases[i].path);

		if (cases[i].fmt == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].fmt);
		assert_int_equal(st_diagram_is_file(cases[i].path),
				 cases[i].fmt != NULL);
	}
}

static void test_errors(void **state)
{
	struct st_flow f;
	char err[ST_ERRBUF_SIZE] = "";
	struct env e;
	struct st_graph *g = NULL;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_null(st_graph_new(&f, NULL, err));
	assert_non_null(strstr(err, "no flow"));
	st_graph_free(NULL);
	st_diagram_free(NULL);

	load(&e, "istio-1.17_redirect_default_legacy.rules");
	build_flow(&e, &types[1], &f);
	g = st_graph_new(&f, NULL, err);
	assert_non_null(g);
	assert_int_equal(st_graph_render(g, "jpeg", "/tmp/x.jpeg", err),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown diagram format"));
	assert_int_equal(st_graph_render_file(g, "/tmp/x", err), -EINVAL);
	assert_int_equal(st_diagram_write_file(&f, NULL, "/tmp/x.txt", err),
			 -EINVAL);
	/* An unwritable path: Graphviz's message comes back through err. */
	assert_true(st_graph_render(g, "svg", "/nonexistent/dir/x.svg", err) <
		    0);
	assert_true(err[0] != '\0');
	assert_null(st_diagram_new("/tmp", "gif", NULL, err));
	st_graph_free(g);
	unload(&e);
}

static bool file_starts(const char *path, const char *magic, size_t n)
{
	char buf[16] = "";
	FILE *f = fopen(path, "rb");
	bool ok = false;

	if (f == NULL)
		return false;
	ok = fread(buf, 1, n, f) == n && memcmp(buf, magic, n) == 0;
	fclose(f);
	return ok;
}

/* Layout and render, once per format, into a temporary directory. */
static void test_render(void **state)
{
	char dir[] = "/tmp/st-graph-XXXXXX";
	char path[256];
	struct env e;
	struct st_graph_opts o;
	struct st_flow f;
	struct st_graph *g = NULL;
	char *svg = NULL;
	int rc = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	load(&e, "istio-1.17_redirect_default_legacy.rules");
	build_flow(&e, &types[3], &f);
	g = st_graph_new(&f, opts_for(&e, &o), e.err);
	assert_non_null(g);

	snprintf(path, sizeof(path), "%s/t4.svg", dir);
	if (st_graph_render_file(g, path, e.err) != 0)
		fail_msg("%s", e.err);
	svg = tl_read_file(path, NULL);
	assert_non_null(svg);
	assert_non_null(strstr(svg, "<?xml"));
	assert_non_null(strstr(svg, "<svg "));
	assert_non_null(strstr(svg, "</svg>"));
	/* The rule text is the tooltip of the edge leaving its row. */
	assert_non_null(strstr(svg, "xlink:title=\"&#45;A ISTIO_OUTPUT "
				    "&#45;j ISTIO_REDIRECT\""));
	assert_non_null(strstr(svg, "11: RULE 1"));
	free(svg);
	unlink(path);

	snprintf(path, sizeof(path), "%s/t4.dot", dir);
	assert_int_equal(st_graph_render_file(g, path, e.err), 0);
	assert_true(file_starts(path, "digraph", 7));
	unlink(path);

	snprintf(path, sizeof(path), "%s/t4.png", dir);
	rc = st_graph_render_file(g, path, e.err);
	if (rc == -ENOTSUP) {
		assert_non_null(strstr(e.err, "cairo"));
	} else {
		assert_int_equal(rc, 0);
		assert_true(file_starts(path, "\x89PNG", 4));
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/t4.pdf", dir);
	rc = st_graph_render_file(g, path, e.err);
	if (rc != -ENOTSUP) {
		assert_int_equal(rc, 0);
		assert_true(file_starts(path, "%PDF", 4));
		unlink(path);
	}
	st_graph_free(g);
	unload(&e);
	assert_int_equal(rmdir(dir), 0);
}

/* Directory mode: one file per type, index.html escaped. */
static void test_directory(void **state)
{
	char dir[] = "/tmp/st-diagram-XXXXXX";
	char sub[128], path[256];
	struct env e;
	struct st_graph_opts o;
	struct st_diagram *d = NULL;
	char *html = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/out/diagrams", dir);
	load(&e, "istio-1.28plus_native-nftables_redirect_default.nft.json");
	opts_for(&e, &o);
	o.pod_name = "web<1>&co";
	d = st_diagram_new(sub, "dot", &o, e.err);
	assert_non_null(d);
	for (int pass = 0; pass < 2; pass++)
		for (size_t t = 0; t < ST_ARRAY_SIZE(types); t++) {
			struct st_flow f;

			build_flow(&e, &types[t], &f);
			assert_int_equal(st_diagram_add(d, &f), ST_CB_OK);
		}
	assert_int_equal(st_diagram_count(d), 6);
	if (st_diagram_write(d, e.err) != 0)
		fail_msg("%s", e.err);
	for (size_t t = 0; t < ST_ARRAY_SIZE(types); t++) {
		snprintf(path, sizeof(path), "%s/type-%d-%s.dot", sub,
			 types[t].type, st_class_type_name(types[t].type));
		assert_true(file_starts(path, "digraph", 7));
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/index.html", sub);
	html = tl_read_file(path, NULL);
	assert_non_null(html);
	assert_non_null(strstr(html, "web&lt;1&gt;&amp;co"));
	assert_null(strstr(html, "web<1>"));
	assert_non_null(strstr(html, "2 flows observed"));
	assert_non_null(strstr(html,
			       "<h2><a href=\"type-2-local-to-remote.dot\">"
			       "Type 2: local-to-remote</a></h2>"));
	assert_non_null(strstr(html, "Local Pod -&gt; output -&gt; "
				     "istio-output RULE 9"));
	assert_non_null(strstr(html, "href=\"type-6-sidecar-to-istiod.dot\""));
	free(html);
	unlink(path);
	st_diagram_free(d);
	unload(&e);
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/out", dir);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the layout of the canonical diagrams of every shipped rule set -- */

/* A rule set as samples/rules ships it: one file, or a .v4/.v6 pair. */
struct lset {
	char name[256];
	char files[2][1024];
	unsigned int nfiles;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && strcmp(s + n - k, tail) == 0;
}

/*
 * Every rule set under samples/rules, by name: a new one is measured
 * (and shows in the golden) without a change here.  An .nftlist is the
 * same rules as the .nft.json beside it; a .v6 file goes with its .v4.
 */
static unsigned int list_sets(struct lset *sets, unsigned int max)
{
	char dir[512];
	char *names[128];
	unsigned int n = 0, ns = 0;
	DIR *d = NULL;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/rules", ST_SAMPLES);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < ST_ARRAY_SIZE(names))
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (unsigned int i = 0; i < n; i++) {
		const char *f = names[i];
		size_t len = strlen(f);
		struct lset *s = &sets[ns];
		char twin[1024], stem[256];
		const char *dot = strstr(f, ".nft.json");
		struct stat st;
		int w = 0;

		if (ns == max || ends_with(f, ".v6.rules"))
			continue;
		if (ends_with(f, ".v4.rules"))
			dot = f + len - 9;
		else if (dot == NULL)
			dot = strrchr(f, '.');
		w = snprintf(stem, sizeof(stem), "%.*s", (int)(dot - f), f);
		assert_true(w > 0 && (size_t)w < sizeof(stem));
		if (ends_with(f, ".nftlist")) {
			w = snprintf(twin, sizeof(twin), "%s/%s.nft.json", dir,
				     stem);
			assert_true((size_t)w < sizeof(twin));
			if (stat(twin, &st) == 0)
				continue;
		}
		memset(s, 0, sizeof(*s));
		st_strlcpy(s->name, stem, sizeof(s->name));
		w = snprintf(s->files[s->nfiles++], sizeof(s->files[0]),
			     "%s/%s", dir, f);
		assert_true((size_t)w < sizeof(s->files[0]));
		if (ends_with(f, ".v4.rules")) {
			w = snprintf(s->files[s->nfiles++], sizeof(s->files[0]),
				     "%s/%s.v6.rules", dir, stem);
			assert_true((size_t)w < sizeof(s->files[0]));
		}
		ns++;
	}
	for (unsigned int i = 0; i < n; i++)
		free(names[i]);
	return ns;
}

/* A rule set's canonical flows, as --diagram all draws them. */
struct lenv {
	struct st_ruleset *rs;
	struct st_istio_settings set;
	struct st_scenarios *sc;
	const struct st_flow *frame[ST_SCENARIO_COUNT];
	char pod_ip[64];
	char err[ST_ERRBUF_SIZE];
};

/* 0, or -1 with e->err saying why the set has no canonical flows. */
static int lenv_load(struct lenv *e, const struct lset *s)
{
	const char *paths[2] = {s->files[0], s->files[1]};
	struct st_eval_env env;

	memset(e, 0, sizeof(*e));
	if (st_pipe_rules_load(&e->rs, paths, s->nfiles, e->err) < 0 ||
	    st_pipe_rules_accept(e->rs, &e->set, ST_PIPE_USE_ANY, NULL,
				 e->err) < 0)
		return -1;
	e->sc = st_scenario_run(e->rs, &e->set, e->err);
	if (e->sc == NULL)
		return -1;
	for (size_t i = 0; i < ST_SCENARIO_COUNT; i++)
		e->frame[i] = st_scenario_flow(e->sc, i);
	st_eval_env_lab(&env, e->rs, &e->set);
	for (unsigned int i = 0; i < env.naddrs; i++)
		if (e->frame[0] != NULL &&
		    env.addrs[i].family == e->frame[0]->legs[0].family) {
			inet_ntop(env.addrs[i].family == 4 ? AF_INET : AF_INET6,
				  env.addrs[i].addr, e->pod_ip,
				  sizeof(e->pod_ip));
			break;
		}
	return 0;
}

static void lenv_free(struct lenv *e)
{
	st_scenario_free(e->sc);
	st_ruleset_free(e->rs);
}

static struct st_graph *lenv_graph(struct lenv *e, size_t i)
{
	struct st_graph_opts o;
	struct st_graph *g = NULL;

	memset(&o, 0, sizeof(o));
	o.pod_ip = e->pod_ip;
	o.rs = e->rs;
	o.set = &e->set;
	o.frame = e->frame;
	o.nframe = ST_SCENARIO_COUNT;
	g = st_graph_new(e->frame[i], &o, e->err);
	if (g == NULL)
		fail_msg("type %d: %s", e->frame[i]->type, e->err);
	return g;
}

/*
 * Crossing edges and edges over boxes in every canonical diagram, one
 * line each, against samples/graph/layout-quality.txt; a picture must
 * also fit a 1200x900 screen at 100 % (96 px per inch, 72 points).
 * ST_LAYOUT_DETAIL=1 prints what the faults are.
 */
static void test_layout_quality(void **state)
{
	struct lset sets[64];
	unsigned int n = list_sets(sets, ST_ARRAY_SIZE(sets));
	char *got = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&got, &len);
	char path[512];
	unsigned int toobig = 0;

	(void)state;
	assert_non_null(o);
	fprintf(o, "# rule set, diagram: crossing edges, edges over a node, "
		   "edges over a table box; size at 100 %% in pixels\n");
	for (unsigned int s = 0; s < n; s++) {
		struct lenv e;

		if (lenv_load(&e, &sets[s]) < 0) {
			fprintf(o, "%s: no canonical flows (%s)\n",
				sets[s].name, e.err);
			lenv_free(&e);
			continue;
		}
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			struct st_graph_quality q;
			struct st_graph *g = NULL;
			char file[96];
			FILE *detail =
				getenv("ST_LAYOUT_DETAIL") ? stderr : NULL;
			double w, h;

			if (e.frame[i] == NULL)
				continue;
			g = lenv_graph(&e, i);
			st_diagram_file_name(e.frame[i], "svg", file,
					     sizeof(file));
			if (detail != NULL)
				fprintf(detail, "== %s %s\n", sets[s].name,
					file);
			if (st_graph_quality(g, &q, detail, e.err) < 0)
				fail_msg("%s %s: %s", sets[s].name, file,
					 e.err);
			if (getenv("ST_REVIEW_DIR") != NULL &&
			    q.crossings + q.through_nodes + q.through_boxes >
				    0) {
				/* The faulty ones as PNGs to look at. */
				char png[512];

				if (snprintf(png, sizeof(png), "%s/%s-%s.png",
					     getenv("ST_REVIEW_DIR"),
					     sets[s].name,
					     file) >= (int)sizeof(png) ||
				    st_graph_render_file(g, png, e.err) != 0)
					fail_msg("%s", e.err);
			}
			st_graph_rendered_size(g, &w, &h);
			w = ceil(w * 96 / 72);
			h = ceil(h * 96 / 72);
			fprintf(o,
				"%s %s: crossings %u, over nodes %u, over "
				"boxes %u; %.0fx%.0f\n",
				sets[s].name, file, q.crossings,
				q.through_nodes, q.through_boxes, w, h);
			if (w > 1200 || h > 900)
				toobig++,
					print_message(
						"%s %s: %.0fx%.0f pixels does not fit "
						"1200x900\n",
						sets[s].name, file, w, h);
			st_graph_free(g);
		}
		lenv_free(&e);
	}
	assert_int_equal(fclose(o), 0);
	snprintf(path, sizeof(path), "%s/graph/layout-quality.txt", ST_SAMPLES);
	tl_golden(path, got);
	free(got);
	assert_int_equal(toobig, 0);
}

/*
 * The six diagrams of one rule set put each node at the same place: the
 * peers, the app, Envoy and every chain (measured from the pod's corner).
 */
static void test_fixed_places(void **state)
{
	struct lset sets[64];
	unsigned int n = list_sets(sets, ST_ARRAY_SIZE(sets));
	unsigned int compared = 0, moved = 0;

	(void)state;
	for (unsigned int s = 0; s < n; s++) {
		struct st_graph_pos first[96], pos[96];
		int nfirst = -1;
		struct lenv e;

		if (lenv_load(&e, &sets[s]) < 0) {
			lenv_free(&e);
			continue;
		}
		for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
			struct st_graph *g = NULL;
			int np;

			if (e.frame[i] == NULL)
				continue;
			g = lenv_graph(&e, i);
			np = st_graph_positions(g, nfirst < 0 ? first : pos, 96,
						e.err);
			if (np < 0 || np > 96)
				fail_msg("%s: %s", sets[s].name, e.err);
			st_graph_free(g);
			if (nfirst < 0) {
				nfirst = np;
				continue;
			}
			assert_int_equal(np, nfirst);
			for (int k = 0; k < np; k++) {
				assert_string_equal(pos[k].id, first[k].id);
				if (fabs(pos[k].x - first[k].x) > 0.5 ||
				    fabs(pos[k].y - first[k].y) > 0.5 ||
				    fabs(pos[k].w - first[k].w) > 0.5)
					moved++,
						print_message(
							"%s type %d: %s at %.1f,%.1f, "
							"in type %d at %.1f,%.1f\n",
							sets[s].name,
							e.frame[i]->type,
							pos[k].id, pos[k].x,
							pos[k].y,
							e.frame[0]->type,
							first[k].x, first[k].y);
				compared++;
			}
		}
		lenv_free(&e);
	}
	assert_true(compared > 0);
	assert_int_equal(moved, 0);
}

/*
 * Under AddressSanitizer: full malloc stacks, so that tests/lsan.supp's
 * library names match Graphviz's own leaks (the fast unwinder stops at
 * the first Graphviz frame, which has no frame pointer).
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_type2_details),
		cmocka_unit_test(test_envoy_requests),
		cmocka_unit_test(test_format_of),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_layout_quality),
		cmocka_unit_test(test_fixed_places),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
