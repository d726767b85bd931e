// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * graph.c - a flow as the article's schematic, built with cgraph and laid
 * out and rendered with gvc (see graph.h for what is drawn).
 *
 * Which chains a leg shows and which rule decided each of them follows
 * path.c exactly, so that the numbered edges read like the caption.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "classify.h"
#include "graph.h"
#include "path.h"

#define GR_MAX_CHAINS 48
#define GR_MAX_TABLES 4
#define GR_MAX_STOPS (ST_FLOW_MAX_LEGS * ST_FLOW_MAX_HOPS)
#define GR_RULE_COLS 58 /* rule text shown in a row, the rest in the tooltip */

/* One colour per leg, and its light tint for highlighted rule rows. */
static const char *const gr_leg_color[ST_FLOW_MAX_LEGS] = {
	"#1f5fbf",
	"#c0392b",
	"#1e8449",
};
static const char *const gr_leg_tint[ST_FLOW_MAX_LEGS] = {
	"#d6e4fa",
	"#f8d7d3",
	"#d4efdf",
};

#define GR_FAINT_LINE "#c8c8c8"
#define GR_FAINT_TEXT "#a0a0a0"

/* The article's order of the chains; anything else follows. */
static const char *const gr_chain_order[] = {
	"PREROUTING",	     "ISTIO_INBOUND",  "ISTIO_TPROXY", "ISTIO_DIVERT",
	"ISTIO_IN_REDIRECT", "INPUT",	       "OUTPUT",       "ISTIO_OUTPUT",
	"ISTIO_OUTPUT_DNS",  "ISTIO_REDIRECT", "POSTROUTING",
};

enum gr_peer {
	GR_APP = 0,
	GR_ENVOY,
	GR_REMOTE,
	GR_PROMETHEUS,
	GR_ISTIOD,
	GR_PEER__MAX,
};

static const char *const gr_peer_id[GR_PEER__MAX] = {
	"app", "envoy", "remote", "prometheus", "istiod",
};

struct gr_chain {
	const char *table;
	const char *name;
	const struct st_chain *c; /* NULL when the rules do not have it */
	int table_idx;
	int rank;
	unsigned int seen; /* order of discovery */
	/*
	 * Layout: the column (rank of dot's LR layout) and, within it, the
	 * band (0 inbound, 1 outbound) and the number of the rule that leads
	 * here, so that a rule table's targets stand in the order of its rows.
	 */
	int col;
	int band;
	unsigned int sub;
	bool keyed;    /* band and sub come from a rule leading here */
	bool flow_key; /* ... that the flow took */
	bool visited;
	bool rows; /* drawn with its rules */
	Agnode_t *n;
};

/* A step of the path: a chain token, as path.c prints one. */
struct gr_stop {
	int chain;
	unsigned int leg;
	const struct st_flow_hop *dec; /* the deciding rule hop, or NULL */
	bool ruled;		       /* the path says "RULE N" */
};

/* Where an edge starts or ends. */
struct gr_end {
	Agnode_t *n;
	const char *port; /* "" for none */
	const struct st_flow_hop *dec;
	bool ruled;
	int chain; /* -1: not a chain */
	int col;   /* its column, see GR_COL_* */
};

/*
 * The columns, left to right: a peer the flow starts from, the app, the
 * chains that packets enter first (PREROUTING, OUTPUT), the Istio chains
 * those call, the chains those jump to and the built-ins that follow,
 * Envoy, the peer the flow ends at.  Every edge that goes right to left
 * travels back through the loop that Istio's redirects make, and is left
 * out of ranking so that the columns stay put.
 */
enum {
	GR_COL_FROM = -1,
	GR_COL_APP = 0,
	GR_COL_ENTRY = 1,
	GR_COL_ISTIO = 2,
	GR_COL_JUMPED = 3,
	GR_COL_ENVOY = 4,
	GR_COL_TO = 5,
};

struct st_graph {
	Agraph_t *g;
	bool laid_out;
};

/*
 * One Graphviz context for the process, never freed: Graphviz 2.43's
 * pango plugin keeps a pointer to the last font name, which lives in the
 * context, and compares it on the next layout - after a gvFreeContext()
 * that is a use after free (seen with AddressSanitizer).  The context
 * stays reachable, so leak checkers do not count it.
 */
static GVC_t *gr_gvc;

/* Everything needed while building. */
struct gr_build {
	const struct st_flow *f;
	struct st_graph_opts o;
	Agraph_t *g;
	const char *tables[GR_MAX_TABLES];
	unsigned int ntables;
	Agraph_t *table_sub[GR_MAX_TABLES];
	struct gr_chain chains[GR_MAX_CHAINS];
	unsigned int nchains;
	struct gr_stop stops[GR_MAX_STOPS];
	unsigned int nstops;
	bool peer_used[GR_PEER__MAX];
	int app_col; /* GR_COL_APP when the flow starts there, else GR_COL_ENVOY */
	Agnode_t *peer[GR_PEER__MAX];
	uint16_t out_port, in_port, dns_port;
	bool has_dns;
	char *err;
};

/* ---- the non-const char * API of Graphviz 2.4x, one cast each -------- */

static Agraph_t *gr_subg(Agraph_t *g, const char *name)
{
	return agsubg(g, (char *)name, 1);
}

static Agnode_t *gr_node(Agraph_t *g, const char *name)
{
	return agnode(g, (char *)name, 1);
}

static Agedge_t *gr_edge(Agraph_t *g, Agnode_t *t, Agnode_t *h)
{
	return agedge(g, t, h, NULL, 1);
}

static void gr_default(Agraph_t *g, int kind, const char *name,
		       const char *value)
{
	agattr(g, kind, (char *)name, (char *)value);
}

/* Attributes are declared on the root first, so no default is given here. */
static void gr_set(void *obj, const char *name, const char *value)
{
	agsafeset(obj, (char *)name, (char *)value, (char *)"");
}

static void gr_set_html(Agraph_t *g, void *obj, const char *name,
			const char *html)
{
	char *s = agstrdup_html(g, (char *)html);

	agsafeset(obj, (char *)name, s, (char *)"");
	agstrfree(g, s);
}

static int gr_render_to(GVC_t *gvc, Agraph_t *g, const char *format, FILE *out)
{
	return gvRender(gvc, g, format, out);
}

/* ---- Graphviz messages into our error buffer ------------------------- */

/*
 * agseterrf() takes a bare function, no user pointer: the only place its
 * callback can leave a message is a file-level buffer.  It is cleared
 * before each Graphviz call and copied into the caller's err right after.
 */
static char gr_msg[ST_ERRBUF_SIZE];

static int gr_errf(char *msg)
{
	size_t n = strlen(gr_msg);

	/* Keep the first error: later ones are usually its consequences. */
	if (n == 0 || strncmp(gr_msg, "Warning", 7) == 0)
		st_strlcpy(gr_msg, msg, sizeof(gr_msg));
	n = strlen(gr_msg);
	while (n > 0 && (gr_msg[n - 1] == '\n' || gr_msg[n - 1] == ' '))
		gr_msg[--n] = '\0';
	return 0;
}

/* ---- text helpers ---------------------------------------------------- */

void st_graph_escape(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* Appends @s escaped, at most @cols characters, "..." when cut. */
static void gr_esc_cut(FILE *out, const char *s, size_t cols)
{
	char buf[128];
	size_t n = strlen(s);

	if (cols >= sizeof(buf))
		cols = sizeof(buf) - 1;
	if (n <= cols) {
		st_graph_escape(out, s);
		return;
	}
	memcpy(buf, s, cols - 3);
	strcpy(buf + cols - 3, "...");
	st_graph_escape(out, buf);
}

/* The rule as a row shows it: without "-A CHAIN" and nft counters. */
static void gr_rule_text(const struct st_rule *r, char *buf, size_t size)
{
	const char *s = r->text != NULL ? r->text : "";
	size_t clen = strlen(r->chain);
	char *p = NULL;

	if (strncmp(s, "-A ", 3) == 0 && strncmp(s + 3, r->chain, clen) == 0 &&
	    s[3 + clen] == ' ')
		s += 4 + clen;
	st_strlcpy(buf, s, size);
	while ((p = strstr(buf, "counter packets ")) != NULL) {
		char *q = p + 16;

		/* "counter packets N bytes N " */
		q += strspn(q, "0123456789");
		if (strncmp(q, " bytes ", 7) != 0)
			break;
		q += 7;
		q += strspn(q, "0123456789");
		q += strspn(q, " ");
		memmove(p, q, strlen(q) + 1);
	}
}

/* Article order: ISTIO_OUTPUT and istio-output sort alike. */
static int gr_rank(const char *name)
{
	char norm[64];
	size_t i = 0;

	for (; name[i] != '\0' && i + 1 < sizeof(norm); i++)
		norm[i] = name[i] == '-' ? '_' : (char)toupper(name[i]);
	norm[i] = '\0';
	for (i = 0; i < ST_ARRAY_SIZE(gr_chain_order); i++)
		if (strcmp(norm, gr_chain_order[i]) == 0)
			return (int)i;
	return (int)ST_ARRAY_SIZE(gr_chain_order);
}

/* ---- the frame ------------------------------------------------------- */

/*
 * The column and band of a chain: by its hook when it has one, else by
 * its name (gr_chain_order).  Inbound chains form the upper band,
 * outbound ones the lower.
 */
static void gr_place(struct gr_chain *gc)
{
	const char *hook = gc->c != NULL && gc->c->builtin ? gc->c->hook : NULL;

	if (hook != NULL) {
		bool entry = strcasecmp(hook, "prerouting") == 0 ||
			     strcasecmp(hook, "output") == 0;

		gc->col = entry ? GR_COL_ENTRY : GR_COL_JUMPED;
		gc->band = strcasecmp(hook, "prerouting") == 0 ||
					   strcasecmp(hook, "input") == 0
				   ? 0
				   : 1;
		return;
	}
	switch (gc->rank) {
	case 0: /* PREROUTING */
	case 6: /* OUTPUT */
		gc->col = GR_COL_ENTRY;
		break;
	case 1: /* ISTIO_INBOUND */
	case 7: /* ISTIO_OUTPUT */
		gc->col = GR_COL_ISTIO;
		break;
	default:
		gc->col = GR_COL_JUMPED;
	}
	gc->band = gc->rank <= 5 ? 0 : 1;
}

static int gr_table(struct gr_build *b, const char *table)
{
	for (unsigned int i = 0; i < b->ntables; i++)
		if (strcmp(b->tables[i], table) == 0)
			return (int)i;
	if (b->ntables == GR_MAX_TABLES)
		return -1;
	b->tables[b->ntables] = table;
	return (int)b->ntables++;
}

static int gr_find_chain(const struct gr_build *b, const char *table,
			 const char *name)
{
	for (unsigned int i = 0; i < b->nchains; i++)
		if (strcmp(b->chains[i].table, table) == 0 &&
		    strcmp(b->chains[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int gr_add_chain(struct gr_build *b, const char *table, const char *name,
			const struct st_chain *c)
{
	int t = gr_table(b, table);
	int i = gr_find_chain(b, table, name);
	struct gr_chain *gc = NULL;

	if (i >= 0)
		return i;
	if (t < 0 || b->nchains == GR_MAX_CHAINS)
		return st_err(b->err, ENOSPC, "too many chains to draw");
	gc = &b->chains[b->nchains];
	memset(gc, 0, sizeof(*gc));
	gc->table = table;
	gc->name = name;
	gc->c = c;
	gc->table_idx = t;
	gc->rank = gr_rank(name);
	gc->seen = b->nchains;
	gc->rows = c != NULL && st_istio_is_istio_chain(name) && c->nrules > 1;
	gr_place(gc);
	return (int)b->nchains++;
}

/*
 * The frame comes from the rules alone (tables holding a REDIRECT or
 * TPROXY, their built-in and Istio chains), so that every flow of one
 * pod gets the same boxes.
 */
static int gr_frame(struct gr_build *b)
{
	const struct st_ruleset *rs = b->o.rs;
	enum st_family fam = ST_FAMILY_ANY;
	size_t n = 0;

	if (rs == NULL)
		return 0;
	if (b->f->nlegs > 0)
		fam = b->f->legs[0].family == 6 ? ST_FAMILY_IPV6
						: ST_FAMILY_IPV4;
	n = st_ruleset_nrules(rs);
	for (size_t i = 0; i < n; i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);

		if (r->target.kind == ST_T_REDIRECT ||
		    r->target.kind == ST_T_TPROXY)
			gr_table(b, r->table);
	}
	/* nat first: it is where the article's story happens. */
	for (unsigned int i = 1; i < b->ntables; i++) {
		const char *t = b->tables[i];
		size_t len = strlen(t);

		if (len >= 3 && strcmp(t + len - 3, "nat") == 0) {
			memmove(&b->tables[1], &b->tables[0],
				i * sizeof(b->tables[0]));
			b->tables[0] = t;
		}
	}
	n = st_ruleset_nchains(rs);
	for (size_t i = 0; i < n; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);
		int rc = 0;
		bool ours = false;

		for (unsigned int t = 0; t < b->ntables; t++)
			ours |= strcmp(c->table, b->tables[t]) == 0;
		if (!ours || !(c->builtin || st_istio_is_istio_chain(c->name)))
			continue;
		if (c->family != ST_FAMILY_ANY && c->family != fam &&
		    st_ruleset_find_chain(rs, c->table, c->name, fam) != NULL)
			continue;
		rc = gr_add_chain(b, c->table, c->name, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * A rule of @from leads to @to: @to stands in @from's band, at the height
 * of the rule's row.  What the flow took wins over what the rules allow.
 */
static void gr_key(struct gr_chain *to, const struct gr_chain *from,
		   unsigned int rule, bool flow)
{
	if (from->col >= to->col || (to->flow_key && !flow))
		return;
	if (!to->keyed || (flow && !to->flow_key) || from->band < to->band ||
	    (from->band == to->band && rule < to->sub)) {
		to->band = from->band;
		to->sub = rule;
	}
	to->keyed = true;
	to->flow_key |= flow;
}

static void gr_keys(struct gr_build *b)
{
	const struct st_ruleset *rs = b->o.rs;
	size_t n = rs != NULL ? st_ruleset_nrules(rs) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct st_rule *r = st_ruleset_rule(rs, i);
		int from = 0, to = 0;

		if ((r->target.kind != ST_T_JUMP &&
		     r->target.kind != ST_T_GOTO) ||
		    r->target.chain == NULL)
			continue;
		from = gr_find_chain(b, r->table, r->chain);
		to = gr_find_chain(b, r->table, r->target.chain);
		if (from >= 0 && to >= 0)
			gr_key(&b->chains[to], &b->chains[from], r->number,
			       false);
	}
	for (unsigned int s = 1; s < b->nstops; s++) {
		const struct gr_stop *p = &b->stops[s - 1];

		if (p->leg == b->stops[s].leg && p->dec != NULL)
			gr_key(&b->chains[b->stops[s].chain],
			       &b->chains[p->chain], p->dec->rule, true);
	}
}

/* ---- the path's steps (path.c's reading of the legs) ----------------- */

static int gr_stop(struct gr_build *b, unsigned int leg,
		   const struct st_flow_hop *first,
		   const struct st_flow_hop *dec, bool ruled)
{
	int c = gr_add_chain(b, first->table, first->chain, NULL);
	struct gr_stop *s = NULL;

	if (c < 0)
		return c;
	if (b->nstops == GR_MAX_STOPS)
		return st_err(b->err, ENOSPC, "too many steps to draw");
	s = &b->stops[b->nstops++];
	s->chain = c;
	s->leg = leg;
	s->dec = dec;
	s->ruled = ruled;
	b->chains[c].visited = true;
	return 0;
}

/* The chains the path text shows, in its order, become the stops. */
static int gr_stops(struct gr_build *b)
{
	struct st_path_step steps[ST_PATH_MAX_STEPS];
	unsigned int n = st_path_steps(b->f, steps, ST_PATH_MAX_STEPS);
	int rc = 0;

	for (unsigned int i = 0; rc == 0 && i < n; i++)
		if (steps[i].kind == ST_PATH_CHAIN)
			rc = gr_stop(b, steps[i].leg, steps[i].hop,
				     steps[i].dec,
				     steps[i].note == ST_PATH_NOTE_RULE);
	return rc;
}

/* ---- endpoints ------------------------------------------------------- */

static enum gr_peer gr_start(const struct st_flow *f)
{
	const struct st_flow_leg *l = &f->legs[0];

	switch (f->type) {
	case 1:
		return GR_REMOTE;
	case 3:
		return GR_PROMETHEUS;
	case 5:
	case 6:
		return GR_ENVOY;
	case 2:
	case 4:
		return GR_APP;
	default:
		break;
	}
	if (l->arriving)
		return GR_REMOTE;
	return l->proxy ? GR_ENVOY : GR_APP;
}

/* Prometheus scrapes the sidecar's own ports (15090 Envoy, 15020 agent). */
static enum gr_peer gr_finish(const struct st_flow *f)
{
	const struct st_flow_leg *l = &f->legs[f->nlegs - 1];

	switch (f->type) {
	case 1:
	case 4:
		return GR_APP;
	case 2:
		return GR_REMOTE;
	case 3:
	case 5:
		return GR_ENVOY;
	case 6:
		return GR_ISTIOD;
	default:
		break;
	}
	if (l->arriving)
		return GR_APP;
	if (st_flow_addr_is_loopback(l->family, l->dst))
		return l->proxy ? GR_ENVOY : GR_APP;
	if (strcmp(l->outdev, "lo") == 0)
		return GR_APP;
	return GR_REMOTE;
}

static const char *gr_capture_port(const struct st_flow_leg *l)
{
	switch (l->capture) {
	case ST_CAPTURE_OUTBOUND:
		return "out";
	case ST_CAPTURE_INBOUND:
		return "in";
	case ST_CAPTURE_DNS:
		return "dns";
	default:
		return "main";
	}
}

/* ---- nodes ----------------------------------------------------------- */

static void gr_declare(Agraph_t *g)
{
	gr_default(g, AGRAPH, "label", "");
	gr_default(g, AGRAPH, "rankdir", "LR");
	gr_default(g, AGRAPH, "newrank", "true");
	/* A second pass over all clusters would undo the columns' order. */
	gr_default(g, AGRAPH, "remincross", "false");
	gr_default(g, AGRAPH, "fontname", "Helvetica");
	gr_default(g, AGRAPH, "fontsize", "11");
	gr_default(g, AGRAPH, "labelloc", "t");
	gr_default(g, AGRAPH, "labeljust", "l");
	gr_default(g, AGRAPH, "nodesep", "0.25");
	gr_default(g, AGRAPH, "ranksep", "0.4");
	gr_default(g, AGRAPH, "style", "");
	gr_default(g, AGRAPH, "color", "black");
	gr_default(g, AGRAPH, "fontcolor", "black");
	gr_default(g, AGRAPH, "fillcolor", "white");
	gr_default(g, AGNODE, "label", "\\N");
	gr_default(g, AGNODE, "shape", "box");
	gr_default(g, AGNODE, "style", "rounded,filled");
	gr_default(g, AGNODE, "fillcolor", "#f7f7f7");
	gr_default(g, AGNODE, "color", "#404040");
	gr_default(g, AGNODE, "fontcolor", "black");
	gr_default(g, AGNODE, "fontname", "Helvetica");
	gr_default(g, AGNODE, "fontsize", "10");
	gr_default(g, AGNODE, "tooltip", "");
	gr_default(g, AGEDGE, "label", "");
	gr_default(g, AGEDGE, "color", "black");
	gr_default(g, AGEDGE, "fontcolor", "black");
	gr_default(g, AGEDGE, "fontname", "Helvetica");
	gr_default(g, AGEDGE, "fontsize", "9");
	gr_default(g, AGEDGE, "penwidth", "1.4");
	gr_default(g, AGEDGE, "arrowsize", "0.7");
	gr_default(g, AGEDGE, "tailport", "");
	gr_default(g, AGEDGE, "headport", "");
	gr_default(g, AGEDGE, "tooltip", "");
	gr_default(g, AGEDGE, "labeltooltip", "");
}

/* An invisible edge that only shapes the layout. */
static void gr_invis(Agraph_t *g, Agnode_t *t, Agnode_t *h, int minlen)
{
	Agedge_t *e = gr_edge(g, t, h);
	char len[16];

	gr_set(e, "style", "invis");
	if (minlen != 1) {
		snprintf(len, sizeof(len), "%d", minlen);
		gr_set(e, "minlen", len);
	}
}

static void gr_faint(void *obj)
{
	gr_set(obj, "color", GR_FAINT_LINE);
	gr_set(obj, "fontcolor", GR_FAINT_TEXT);
	gr_set(obj, "fillcolor", "white");
	gr_set(obj, "style", "rounded,dashed");
}

static void gr_ports(struct gr_build *b)
{
	const struct st_istio_settings *set = b->o.set;

	if (set != NULL) {
		b->out_port = set->outbound_port;
		b->in_port = set->inbound_port;
		b->has_dns = set->dns_capture;
		b->dns_port = set->dns_port;
	}
	for (unsigned int i = 0; i < b->f->nlegs; i++) {
		const struct st_flow_leg *l = &b->f->legs[i];

		if (l->capture == ST_CAPTURE_OUTBOUND && b->out_port == 0)
			b->out_port = l->redirect_port;
		if (l->capture == ST_CAPTURE_INBOUND && b->in_port == 0)
			b->in_port = l->redirect_port;
		if (l->capture == ST_CAPTURE_DNS) {
			b->has_dns = true;
			if (b->dns_port == 0)
				b->dns_port = l->redirect_port;
		}
	}
}

static void gr_port_field(char *buf, size_t size, const char *port,
			  const char *what, uint16_t num)
{
	if (num != 0)
		snprintf(buf, size, "<%s> %u\\n%s", port, num, what);
	else
		snprintf(buf, size, "<%s> %s", port, what);
}

/* @s in a record label: its field separators and escapes quoted. */
static size_t gr_rec_esc(char *buf, size_t size, const char *s, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s[i] != '\0' && i < max && n + 3 < size; i++) {
		if (strchr("{}|<>\\\"", s[i]) != NULL)
			buf[n++] = '\\';
		buf[n++] = s[i];
	}
	buf[n] = '\0';
	return n;
}

/* The requests of Envoy's access log on Envoy's node, two at most. */
static void gr_reqs_field(const struct st_flow *f, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; f->reqs != NULL && i < f->reqs->n && i < 2;
	     i++) {
		const struct st_flow_req *r = &f->reqs->req[i];
		char code[16] = "-";

		if (r->has_code)
			snprintf(code, sizeof(code), "%u", r->code);
		if (n + 4 >= size)
			break;
		memcpy(buf + n, "\\n", 3);
		n += 2;
		if (r->tcp) {
			n += gr_rec_esc(buf + n, size - n, "TCP", 3);
			continue;
		}
		n += gr_rec_esc(buf + n, size - n, r->method, 8);
		n += gr_rec_esc(buf + n, size - n, " ", 1);
		n += gr_rec_esc(buf + n, size - n, r->path, 24);
		n += gr_rec_esc(buf + n, size - n, " -> ", 4);
		n += gr_rec_esc(buf + n, size - n, code, sizeof(code));
	}
	if (f->reqs != NULL && f->reqs->total > 2 && n + 24 < size)
		snprintf(buf + n, size - n, "\\n+%llu more",
			 (unsigned long long)(f->reqs->total - 2));
}

static int gr_pod(struct gr_build *b, Agraph_t *pod)
{
	const struct st_istio_settings *set = b->o.set;
	char out[64], in[64], dns[64], uid[48] = "";
	char reqs[160];
	char label[512];
	Agnode_t *n = NULL;
	bool used_out = false, used_in = false, used_dns = false;

	for (unsigned int i = 0; i < b->f->nlegs; i++) {
		enum st_capture c = b->f->legs[i].capture;

		used_out |= c == ST_CAPTURE_OUTBOUND;
		used_in |= c == ST_CAPTURE_INBOUND;
		used_dns |= c == ST_CAPTURE_DNS;
	}
	n = gr_node(pod, gr_peer_id[GR_APP]);
	gr_set(n, "label", "Local Pod\\n(app container)");
	gr_set(n, "fillcolor", "#fff4d6");
	b->peer[GR_APP] = n;

	gr_port_field(out, sizeof(out), "out", "outbound", b->out_port);
	gr_port_field(in, sizeof(in), "in", "inbound", b->in_port);
	gr_port_field(dns, sizeof(dns), "dns", "DNS proxy", b->dns_port);
	if (set != NULL && set->nproxy_uids > 0)
		snprintf(uid, sizeof(uid), "\\nuid %u", set->proxy_uids[0]);
	/*
	 * A column of ports, in the order of the chains that send to them
	 * (INPUT, then the inbound redirect above the outbound ones), so
	 * that the arrows into them do not cross.
	 */
	gr_reqs_field(b->f, reqs, sizeof(reqs));
	snprintf(label, sizeof(label), "<main> Envoy sidecar%s%s|%s%s%s|%s",
		 uid, reqs, in, b->has_dns ? "|" : "", b->has_dns ? dns : "",
		 out);
	n = gr_node(pod, gr_peer_id[GR_ENVOY]);
	gr_set(n, "shape", "record");
	gr_set(n, "style", "filled");
	gr_set(n, "fillcolor", "#e3edfb");
	gr_set(n, "label", label);
	b->peer[GR_ENVOY] = n;
	/* The listeners the flow used stand out in the tooltip too. */
	snprintf(label, sizeof(label), "Envoy: outbound %s, inbound %s%s",
		 used_out ? "used" : "unused", used_in ? "used" : "unused",
		 b->has_dns ? (used_dns ? ", DNS proxy used"
					: ", DNS proxy unused")
			    : "");
	gr_set(n, "tooltip", label);
	/*
	 * Created before any other edge of the pod, this puts Envoy low in
	 * its rank (dot stacks what it meets first at the bottom of an LR
	 * rank), next to ISTIO_OUTPUT's last rows that redirect to it.  With
	 * the app in Envoy's column it is a flat edge: the app goes below.
	 */
	gr_invis(pod, b->peer[GR_APP], n, GR_COL_ENVOY - b->app_col);
	return 0;
}

static int gr_rows(struct gr_build *b, const struct gr_chain *gc, char **html)
{
	const struct st_ruleset *rs = b->o.rs;
	size_t len = 0;
	FILE *f = open_memstream(html, &len);
	const char *line = gc->visited ? "#404040" : GR_FAINT_LINE;
	const char *text = gc->visited ? "black" : GR_FAINT_TEXT;

	if (f == NULL)
		return st_err(b->err, errno, "open_memstream");
	fprintf(f,
		"<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
		"CELLPADDING=\"2\" COLOR=\"%s\" BGCOLOR=\"%s\">",
		line, gc->visited ? "#f7f7f7" : "white");
	fprintf(f,
		"<TR><TD PORT=\"head\" COLSPAN=\"2\"><FONT COLOR=\"%s\">"
		"<B>",
		text);
	st_graph_escape(f, gc->name);
	fputs("</B></FONT></TD></TR>", f);
	for (unsigned int k = 0; k < gc->c->nrules; k++) {
		const struct st_rule *r = st_ruleset_rule(rs, gc->c->first + k);
		const char *bg = NULL;
		const char *fg = text;
		char rt[512];

		for (unsigned int s = 0; s < b->nstops; s++) {
			const struct gr_stop *st = &b->stops[s];

			if (st->chain == (int)(gc - b->chains) &&
			    st->dec != NULL && st->dec->r == r) {
				bg = gr_leg_tint[st->leg];
				fg = "black";
				break;
			}
		}
		gr_rule_text(r, rt, sizeof(rt));
		/* The number's port: where an edge back to the left leaves. */
		fprintf(f,
			"<TR><TD PORT=\"n%u\" ALIGN=\"RIGHT\"%s%s%s>"
			"<FONT COLOR=\"%s\">",
			r->number, bg ? " BGCOLOR=\"" : "", bg ? bg : "",
			bg ? "\"" : "", fg);
		fprintf(f, "%s%u%s</FONT></TD>", bg ? "<B>" : "", r->number,
			bg ? "</B>" : "");
		/*
		 * Graphviz 2.43 writes a cell's tooltip only for a link: a
		 * link to the cell itself goes nowhere.
		 */
		fprintf(f, "<TD PORT=\"r%u\" HREF=\"#", r->number);
		st_graph_escape(f, gc->table);
		fputc('/', f);
		st_graph_escape(f, gc->name);
		fprintf(f, "/r%u\" ALIGN=\"LEFT\" TOOLTIP=\"", r->number);
		st_graph_escape(f, r->text != NULL ? r->text : "");
		fprintf(f, "\"%s%s%s><FONT POINT-SIZE=\"9\" COLOR=\"%s\">",
			bg ? " BGCOLOR=\"" : "", bg ? bg : "", bg ? "\"" : "",
			fg);
		gr_esc_cut(f, rt, GR_RULE_COLS);
		fputs("</FONT></TD></TR>", f);
	}
	fputs("</TABLE>", f);
	if (fclose(f) != 0)
		return st_err(b->err, ENOMEM, "building a rule table");
	return 0;
}

/* Stable order: table, column, band, row leading here, article, discovery. */
static bool gr_before(const struct gr_chain *x, const struct gr_chain *y)
{
	if (x->table_idx != y->table_idx)
		return x->table_idx < y->table_idx;
	if (x->col != y->col)
		return x->col < y->col;
	if (x->band != y->band)
		return x->band < y->band;
	if (x->sub != y->sub)
		return x->sub < y->sub;
	if (x->rank != y->rank)
		return x->rank < y->rank;
	return x->seen < y->seen;
}

/* The first chain of @col of the table whose order starts at @o[i]. */
static const struct gr_chain *gr_col_first(const struct gr_build *b,
					   const unsigned int *order,
					   unsigned int i, int table, int col,
					   int band)
{
	const struct gr_chain *any = NULL;

	for (; i < b->nchains; i++) {
		const struct gr_chain *gc = &b->chains[order[i]];

		if (gc->table_idx != table || gc->col > col)
			break;
		if (gc->col != col)
			continue;
		if (gc->band == band)
			return gc;
		if (any == NULL)
			any = gc;
	}
	return band < 0 ? any : NULL;
}

/*
 * The chains of a table stand in columns (rank=same subgraphs), each
 * ordered top to bottom by invisible edges between neighbours; invisible
 * edges between the columns (and from the app, to Envoy) hold the
 * columns in place, as the edges back through the loop do not.
 */
static void gr_skeleton(struct gr_build *b, Agraph_t *pod,
			const unsigned int *order)
{
	const struct gr_chain *out = NULL;

	/* The app sends through the first table's OUTPUT. */
	for (int col = GR_COL_ENTRY; out == NULL && col <= GR_COL_JUMPED;
	     col++) {
		out = gr_col_first(b, order, 0, 0, col, 1);
		if (out == NULL)
			out = gr_col_first(b, order, 0, 0, col, -1);
	}
	if (out != NULL) {
		if (b->app_col < out->col)
			gr_invis(pod, b->peer[GR_APP], out->n,
				 out->col - b->app_col);
		else
			gr_invis(pod, out->n, b->peer[GR_APP],
				 b->app_col - out->col);
		gr_invis(pod, out->n, b->peer[GR_ENVOY],
			 GR_COL_ENVOY - out->col);
	}
	for (unsigned int i = 0; i < b->nchains;) {
		const struct gr_chain *first = &b->chains[order[i]];
		int t = first->table_idx;
		const struct gr_chain *prev[2] = {NULL, NULL};
		const struct gr_chain *last = NULL;
		unsigned int start = i;

		for (int col = GR_COL_ENTRY; col <= GR_COL_JUMPED; col++) {
			const struct gr_chain *any =
				gr_col_first(b, order, start, t, col, -1);

			if (any == NULL)
				continue;
			for (int band = 0; band < 2; band++) {
				const struct gr_chain *c = gr_col_first(
					b, order, start, t, col, band);

				if (c == NULL)
					continue;
				if (prev[band] != NULL)
					gr_invis(b->table_sub[t], prev[band]->n,
						 c->n, col - prev[band]->col);
				else if (last != NULL)
					gr_invis(b->table_sub[t], last->n, c->n,
						 col - last->col);
				prev[band] = c;
			}
			last = any;
		}
		/* Every table's last column next to Envoy: tables align. */
		if (last != NULL && t > 0)
			gr_invis(pod, last->n, b->peer[GR_ENVOY],
				 GR_COL_ENVOY - last->col);
		while (i < b->nchains && b->chains[order[i]].table_idx == t)
			i++;
	}
}

static int gr_chain_nodes(struct gr_build *b, Agraph_t *pod)
{
	char name[160];
	unsigned int order[GR_MAX_CHAINS];
	enum st_backend be = b->o.rs != NULL ? st_ruleset_backend(b->o.rs)
					     : ST_BACKEND_UNKNOWN;
	Agraph_t *col = NULL;
	const struct gr_chain *above = NULL;

	for (unsigned int t = 0; t < b->ntables; t++) {
		const char *kind = be == ST_BACKEND_NFTABLES ? "nftables table"
							     : "iptables table";

		snprintf(name, sizeof(name), "cluster_%s", b->tables[t]);
		b->table_sub[t] = gr_subg(pod, name);
		snprintf(name, sizeof(name), "%s %s", kind, b->tables[t]);
		gr_set(b->table_sub[t], "label", name);
		gr_set(b->table_sub[t], "style", "rounded,filled");
		gr_set(b->table_sub[t], "fillcolor", "#fcfcfc");
		gr_set(b->table_sub[t], "color", "#909090");
	}
	for (unsigned int i = 0; i < b->nchains; i++) {
		unsigned int j = i;

		while (j > 0 &&
		       !gr_before(&b->chains[order[j - 1]], &b->chains[i])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (unsigned int i = 0; i < b->nchains; i++) {
		struct gr_chain *gc = &b->chains[order[i]];
		char *html = NULL;
		int rc = 0;

		/*
		 * Anonymous subgraphs: cgraph numbers them in creation
		 * order, so agwrite() output stays deterministic.
		 */
		if (above == NULL || above->table_idx != gc->table_idx ||
		    above->col != gc->col) {
			col = agsubg(b->table_sub[gc->table_idx], NULL, 1);
			gr_set(col, "rank", "same");
			above = NULL;
		}
		snprintf(name, sizeof(name), "%s/%s", gc->table, gc->name);
		gc->n = gr_node(col, name);
		/* In an LR layout the tail of a flat edge goes below. */
		if (above != NULL)
			gr_invis(col, gc->n, above->n, 1);
		above = gc;
		if (gc->rows) {
			rc = gr_rows(b, gc, &html);
			if (rc < 0)
				return rc;
			gr_set(gc->n, "shape", "plain");
			gr_set_html(b->g, gc->n, "label", html);
			free(html);
		} else {
			gr_set(gc->n, "label", gc->name);
			if (!gc->visited)
				gr_faint(gc->n);
		}
	}
	gr_skeleton(b, pod, order);
	return 0;
}

static void gr_peers(struct gr_build *b)
{
	static const char *const label[GR_PEER__MAX] = {
		NULL, NULL, "Remote Pod", "Prometheus", "Istiod",
	};

	for (int p = GR_REMOTE; p < GR_PEER__MAX; p++) {
		Agnode_t *n = gr_node(b->g, gr_peer_id[p]);

		gr_set(n, "label", label[p]);
		gr_set(n, "shape", "box");
		gr_set(n, "fillcolor", "#eaf5ea");
		b->peer[p] = n;
	}
}

/* ---- edges ----------------------------------------------------------- */

static struct gr_end gr_peer_end(struct gr_build *b, enum gr_peer p,
				 const char *port, int outside)
{
	struct gr_end e = {.n = b->peer[p], .port = "", .chain = -1};

	e.col = p == GR_APP	? b->app_col
		: p == GR_ENVOY ? GR_COL_ENVOY
				: outside;
	b->peer_used[p] = true;
	if (p == GR_ENVOY)
		e.port = port != NULL ? port : "main";
	return e;
}

static void gr_edge_to(struct gr_build *b, unsigned int *num, unsigned int leg,
		       const struct gr_end *from, const struct gr_end *to)
{
	Agedge_t *e = gr_edge(b->g, from->n, to->n);
	char label[64];
	char port[16] = "";

	if (from->ruled && from->dec != NULL)
		snprintf(label, sizeof(label), "%u: RULE %u", ++*num,
			 from->dec->rule);
	else
		snprintf(label, sizeof(label), "%u", ++*num);
	gr_set(e, "label", label);
	gr_set(e, "color", gr_leg_color[leg]);
	gr_set(e, "fontcolor", gr_leg_color[leg]);
	if (from->dec != NULL && from->dec->r != NULL &&
	    from->dec->r->text != NULL) {
		gr_set(e, "tooltip", from->dec->r->text);
		gr_set(e, "labeltooltip", from->dec->r->text);
	}
	if (from->chain >= 0 && b->chains[from->chain].rows &&
	    from->dec != NULL && from->dec->kind == ST_HIT_RULE) {
		snprintf(port, sizeof(port),
			 to->col <= from->col ? "n%u:w" : "r%u:e",
			 from->dec->rule);
		gr_set(e, "tailport", port);
	} else if (from->port[0] != '\0') {
		gr_set(e, "tailport", from->port);
	}
	if (to->chain >= 0 && b->chains[to->chain].rows)
		gr_set(e, "headport", "head");
	else if (to->port[0] != '\0')
		gr_set(e, "headport", to->port);
	/* Back through the loop: the columns stay where the frame put them. */
	if (to->col <= from->col)
		gr_set(e, "constraint", "false");
	else if (to->col - from->col > 1 &&
		 (from->col == GR_COL_FROM || to->col == GR_COL_TO)) {
		snprintf(port, sizeof(port), "%d", to->col - from->col);
		gr_set(e, "minlen", port);
	}
}

/*
 * The connection Envoy reused, when the flow names it: a dashed edge from
 * Envoy to where the flow ends, labelled with that connection, since no
 * packet of it was seen in this flow.
 */
static void gr_pooled_edge(struct gr_build *b, const struct gr_end *from,
			   unsigned int *num)
{
	const struct st_flow *f = b->f;
	const struct st_flow_conn *c = &f->pooled;
	char src[ST_FLOW_ADDR_SIZE];
	char label[96];
	struct gr_end to;
	Agedge_t *e;

	if (c->family == 0 ||
	    f->legs[f->nlegs - 1].capture == ST_CAPTURE_NONE ||
	    (f->side != ST_SIDE_REUSED && f->side != ST_SIDE_ACCESS_LOG) ||
	    (f->type != 1 && f->type != 2 && f->type != 4))
		return;
	to = gr_peer_end(b, gr_finish(f), "main", GR_COL_TO);
	e = gr_edge(b->g, from->n, to.n);
	st_flow_addr_format(c->family, c->src, c->sport, src, sizeof(src));
	snprintf(label, sizeof(label), "%u: reused %s", ++*num, src);
	gr_set(e, "label", label);
	gr_set(e, "style", "dashed");
	gr_set(e, "color", "#808080");
	gr_set(e, "fontcolor", "#606060");
	if (from->port[0] != '\0')
		gr_set(e, "tailport", from->port);
	if (to.col <= from->col)
		gr_set(e, "constraint", "false");
}

static void gr_edges(struct gr_build *b)
{
	const struct st_flow *f = b->f;
	struct gr_end prev = gr_peer_end(b, gr_start(f), "main",
					 b->app_col == GR_COL_APP ? GR_COL_FROM
								  : GR_COL_APP);
	unsigned int num = 0;
	unsigned int s = 0;

	for (unsigned int li = 0; li < f->nlegs; li++) {
		const struct st_flow_leg *l = &f->legs[li];

		if (li > 0 && f->legs[li - 1].capture != ST_CAPTURE_NONE)
			prev = gr_peer_end(b, GR_ENVOY,
					   gr_capture_port(&f->legs[li - 1]),
					   0);
		for (; s < b->nstops && b->stops[s].leg == li; s++) {
			const struct gr_stop *st = &b->stops[s];
			struct gr_end to = {.n = b->chains[st->chain].n,
					    .port = "",
					    .dec = st->dec,
					    .ruled = st->ruled,
					    .chain = st->chain,
					    .col = b->chains[st->chain].col};

			gr_edge_to(b, &num, li, &prev, &to);
			prev = to;
		}
		if (l->capture != ST_CAPTURE_NONE) {
			struct gr_end to =
				gr_peer_end(b, GR_ENVOY, gr_capture_port(l), 0);

			gr_edge_to(b, &num, li, &prev, &to);
			prev = to;
		} else if (li + 1 == f->nlegs) {
			struct gr_end to =
				gr_peer_end(b, gr_finish(f), "main", GR_COL_TO);

			gr_edge_to(b, &num, li, &prev, &to);
		}
	}
	gr_pooled_edge(b, &prev, &num);
}

/* ---- legend and caption ---------------------------------------------- */

static int gr_legend(struct gr_build *b)
{
	/*
	 * A plain node, not a cluster: cgraph orders sibling subgraphs by
	 * their names' addresses, which would make agwrite() output vary.
	 */
	Agnode_t *n = gr_node(b->g, "legend");
	char *html = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&html, &len);

	if (f == NULL)
		return st_err(b->err, errno, "open_memstream");
	gr_set(n, "shape", "plain");
	gr_set(n, "style", "");
	fputs("<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"2\" "
	      "CELLPADDING=\"1\">",
	      f);
	for (unsigned int i = 0; i < b->f->nlegs; i++) {
		const struct st_flow_leg *l = &b->f->legs[i];
		char src[ST_FLOW_ADDR_SIZE], dst[ST_FLOW_ADDR_SIZE];
		char who[48] = "";

		st_flow_addr_format(l->family, l->src, l->sport, src,
				    sizeof(src));
		st_flow_addr_format(l->family, l->dst, l->dport, dst,
				    sizeof(dst));
		if (l->has_uid)
			snprintf(who, sizeof(who), ", uid %u", l->uid);
		fprintf(f,
			"<TR><TD BGCOLOR=\"%s\" WIDTH=\"18\"> </TD>"
			"<TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">leg %u: ",
			gr_leg_color[i], i + 1);
		st_graph_escape(f, src);
		fputs(" &#8594; ", f);
		st_graph_escape(f, dst);
		st_graph_escape(f, who);
		if (l->capture != ST_CAPTURE_NONE)
			fprintf(f, ", to %s %u",
				st_flow_capture_name(l->capture),
				l->redirect_port);
		if (l->incomplete)
			fputs(" (incomplete)", f);
		fputs("</FONT></TD></TR>", f);
	}
	fprintf(f,
		"<TR><TD BORDER=\"1\" COLOR=\"%s\" WIDTH=\"18\"> </TD>"
		"<TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"%s\">"
		"faint: not visited by this flow</FONT></TD></TR>"
		"<TR><TD BGCOLOR=\"%s\" WIDTH=\"18\"> </TD>"
		"<TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">"
		"highlighted row: the rule that decided; edges are numbered "
		"in travel order</FONT></TD></TR></TABLE>",
		GR_FAINT_LINE, GR_FAINT_TEXT, gr_leg_tint[0]);
	if (fclose(f) != 0)
		return st_err(b->err, ENOMEM, "building the legend");
	gr_set_html(b->g, n, "label", html);
	free(html);
	return 0;
}

/* "Type 2 local-to-remote: PATH", wrapped at " -> " into left-aligned lines. */
static int gr_caption(struct gr_build *b)
{
	const struct st_flow *f = b->f;
	char path[1024];
	char *cap = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&cap, &len);
	size_t col = 0;
	const char *p = path;

	if (o == NULL)
		return st_err(b->err, errno, "open_memstream");
	st_path_format(f, path, sizeof(path));
	if (f->type == 0)
		fprintf(o, "Type 0 (%s)", st_class_name(f->klass, 0));
	else
		fprintf(o, "Type %d: %s", f->type, st_class_type_name(f->type));
	fputs("\\l", o);
	while (*p != '\0') {
		const char *arrow = strstr(p, " -> ");
		size_t n = arrow != NULL ? (size_t)(arrow - p) : strlen(p);

		if (col > 0 && col + n > 90) {
			fputs("\\l    ", o);
			col = 4;
		}
		/* A backslash would start a Graphviz escape. */
		for (size_t i = 0; i < n; i++)
			fputc(p[i] == '\\' ? '/' : p[i], o);
		col += n;
		if (arrow == NULL)
			break;
		fputs(" -> ", o);
		col += 4;
		p = arrow + 4;
	}
	fputs("\\l", o);
	if (f->reason[0] != '\0') {
		for (const char *r = f->reason; *r != '\0'; r++)
			fputc(*r == '\\' ? '/' : *r, o);
		fputs("\\l", o);
	}
	if (fclose(o) != 0)
		return st_err(b->err, ENOMEM, "building the caption");
	gr_set(b->g, "label", cap);
	free(cap);
	return 0;
}

/* ---- public ---------------------------------------------------------- */

struct st_graph *st_graph_new(const struct st_flow *flow,
			      const struct st_graph_opts *opts, char *err)
{
	struct st_graph *sg = NULL;
	struct gr_build *b = NULL;
	Agraph_t *pod = NULL;
	char label[256];
	int rc = 0;

	if (flow == NULL || flow->nlegs == 0 ||
	    flow->nlegs > ST_FLOW_MAX_LEGS) {
		st_err(err, EINVAL, "no flow to draw");
		goto out;
	}
	b = calloc(1, sizeof(*b));
	sg = calloc(1, sizeof(*sg));
	if (b == NULL || sg == NULL) {
		st_err(err, ENOMEM, "out of memory");
		goto fail;
	}
	b->f = flow;
	b->err = err;
	if (opts != NULL)
		b->o = *opts;
	gr_ports(b);
	rc = gr_frame(b);
	if (rc == 0)
		rc = gr_stops(b);
	if (rc < 0)
		goto fail;
	gr_keys(b);
	/*
	 * A flow that does not start at the app ends beside Envoy, on the
	 * right, instead of running back across the tables; an unused app
	 * waits there too, out of the way of a peer coming in from the left.
	 */
	b->app_col = gr_start(flow) == GR_APP ? GR_COL_APP : GR_COL_ENVOY;

	sg->g = agopen((char *)"sidecar_trace", Agdirected, NULL);
	if (sg->g == NULL) {
		st_err(err, ENOMEM, "agopen failed");
		goto fail;
	}
	b->g = sg->g;
	gr_declare(b->g);

	pod = gr_subg(b->g, "cluster_pod");
	if (b->o.pod_name != NULL && b->o.pod_name[0] != '\0')
		snprintf(label, sizeof(label), "Pod %s%s%s%s", b->o.pod_name,
			 b->o.pod_ip != NULL && b->o.pod_ip[0] ? " (" : "",
			 b->o.pod_ip != NULL ? b->o.pod_ip : "",
			 b->o.pod_ip != NULL && b->o.pod_ip[0] ? ")" : "");
	else if (b->o.pod_ip != NULL && b->o.pod_ip[0] != '\0')
		snprintf(label, sizeof(label), "Pod %s", b->o.pod_ip);
	else
		snprintf(label, sizeof(label), "Pod");
	gr_set(pod, "label", label);
	gr_set(pod, "style", "rounded");
	gr_set(pod, "color", "#303030");
	gr_set(pod, "labeljust", "l");
	gr_set(pod, "fontsize", "12");

	rc = gr_pod(b, pod);
	if (rc == 0)
		rc = gr_chain_nodes(b, pod);
	if (rc < 0)
		goto fail;
	gr_peers(b);
	gr_edges(b);
	for (int p = GR_APP; p < GR_PEER__MAX; p++)
		if (!b->peer_used[p] && p != GR_ENVOY)
			gr_faint(b->peer[p]);
	if (!b->o.no_legend)
		rc = gr_legend(b);
	if (rc == 0)
		rc = gr_caption(b);
	if (rc < 0)
		goto fail;
	goto out;
fail:
	st_graph_free(sg);
	sg = NULL;
out:
	free(b);
	return sg;
}

void st_graph_free(struct st_graph *g)
{
	if (g == NULL)
		return;
	if (g->laid_out)
		gvFreeLayout(gr_gvc, g->g);
	if (g->g != NULL)
		agclose(g->g);
	free(g);
}

int st_graph_write_dot(struct st_graph *g, FILE *out, char *err)
{
	if (agwrite(g->g, out) == EOF || ferror(out))
		return st_err(err, EIO, "writing DOT text failed");
	return 0;
}

const char *st_graph_format_of(const char *path)
{
	const char *dot = path != NULL ? strrchr(path, '.') : NULL;

	if (dot == NULL || strchr(dot, '/') != NULL)
		return NULL;
	if (strcasecmp(dot, ".svg") == 0)
		return "svg";
	if (strcasecmp(dot, ".png") == 0)
		return "png";
	if (strcasecmp(dot, ".pdf") == 0)
		return "pdf";
	if (strcasecmp(dot, ".dot") == 0 || strcasecmp(dot, ".gv") == 0)
		return "dot";
	return NULL;
}

static int gr_write_dot_file(struct st_graph *g, const char *path, char *err)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL)
		return st_err(err, errno, "%s: %s", path, strerror(errno));
	rc = st_graph_write_dot(g, f, err);
	if (fclose(f) != 0 && rc == 0)
		rc = st_err(err, EIO, "%s: %s", path, strerror(errno));
	return rc;
}

int st_graph_render(struct st_graph *g, const char *format, const char *path,
		    char *err)
{
	agusererrf old = NULL;
	const char *renderer = NULL;
	FILE *out = NULL;
	int rc = 0;

	if (format == NULL)
		return st_err(err, EINVAL, "no output format");
	if (strcmp(format, "dot") == 0)
		return gr_write_dot_file(g, path, err);
	if (strcmp(format, "svg") == 0)
		renderer = "svg";
	else if (strcmp(format, "png") == 0)
		renderer = "png:cairo";
	else if (strcmp(format, "pdf") == 0)
		renderer = "pdf:cairo";
	else
		return st_err(
			err, EINVAL,
			"unknown diagram format '%s' (svg, png, pdf, dot)",
			format);

	gr_msg[0] = '\0';
	old = agseterrf(gr_errf);
	if (gr_gvc == NULL) {
		gr_gvc = gvContext();
		if (gr_gvc == NULL) {
			rc = st_err(err, ENOMEM, "gvContext failed");
			goto out;
		}
	}
	if (!g->laid_out) {
		if (gvLayout(gr_gvc, g->g, "dot") != 0) {
			rc = st_err(err, EIO, "Graphviz layout failed: %s",
				    gr_msg[0] ? gr_msg : "no message");
			goto out;
		}
		g->laid_out = true;
	}
	/* Our own file: its open and write errors are ours to report. */
	out = fopen(path, "w");
	if (out == NULL) {
		rc = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (gr_render_to(gr_gvc, g->g, renderer, out) != 0) {
		if (strstr(gr_msg, "unavailable") != NULL)
			rc = st_err(err, ENOTSUP,
				    "%s: Graphviz cannot write %s here: the "
				    "cairo plugin (libgvplugin_pango) is not "
				    "installed or not registered (run dot -c)",
				    path, format);
		else
			rc = st_err(err, EIO, "%s: rendering %s failed: %s",
				    path, format,
				    gr_msg[0] ? gr_msg : "no message");
	}
	if (fclose(out) != 0 && rc == 0)
		rc = st_err(err, errno, "%s: %s", path, strerror(errno));
	out = NULL;
	if (rc < 0)
		unlink(path);
out:
	agseterrf(old);
	return rc;
}

int st_graph_render_file(struct st_graph *g, const char *path, char *err)
{
	const char *fmt = st_graph_format_of(path);

	if (fmt == NULL)
		return st_err(err, EINVAL,
			      "%s: the extension must be .svg, .png, .pdf or "
			      ".dot",
			      path);
	return st_graph_render(g, fmt, path, err);
}
