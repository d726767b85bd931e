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
#define GR_RULE_COLS 44 /* rule text shown in a row, the rest in the tooltip */
#define GR_MAX_FRAME 8	/* frame flows that shape the layout */
/* Every edge plans, and the layout holds, one slot per flow of the frame. */
#define GR_MAX_PLANS ((GR_MAX_FRAME + 1) * (GR_MAX_STOPS + 4))
#define GR_MAX_EDGES GR_MAX_PLANS

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
	GR_LOCALHOST, /* a proxy process reached over lo */
	GR_PEER__MAX,
};

static const char *const gr_peer_id[GR_PEER__MAX] = {
	"app", "envoy", "remote", "prometheus", "istiod", "localhost",
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

/* An edge a flow takes (gr_plan()): its ends, ports and layout role. */
struct gr_plan {
	struct gr_end from, to;
	unsigned int owner; /* the frame flow, or nframe for the one drawn */
	unsigned int leg;
	unsigned int num; /* travel order, from 1 */
	bool pooled;	  /* the connection Envoy reused (dashed) */
	bool back;	  /* right to left: no say in the columns */
	bool flat;	  /* within one column */
	bool ret;	  /* Envoy back into an entry chain: gr_reroute() */
	int table;	  /* ret: the table of that chain */
	int minlen;
	char tport[16], hport[16];
};

/*
 * An edge of the layout.  All flows of a frame get the same edges (the
 * union of what each takes, in one order), only styled apart, so that dot
 * puts every node at the same place in each of their diagrams.
 */
struct gr_slot {
	Agnode_t *t, *h;
	char tport[16], hport[16];
	bool back;
	bool flat;
	bool ret;
	int table;
	int tcol;   /* the tail's column */
	int tchain; /* the tail's chain, or -1 */
	int hcol;   /* the head's column */
	bool pooled;
	int minlen;
	unsigned int owner; /* the last flow that took it, +1; 0 none */
	int plan;	    /* the drawn flow's plan on it, or -1 */
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

/* The bands of a table, top to bottom. */
enum {
	GR_BAND_OUT = 0,
	GR_BAND_IN = 1,
};

#define GR_MAX_RETURNS 64

/* An edge drawn by gr_reroute() rather than by dot. */
struct gr_return {
	Agedge_t *e;
	bool lane;	/* Envoy back into OUTPUT, over the table */
	bool over;	/* from a jumped-to chain to the app, over the table */
	bool between;	/* to a peer outside, between the tables */
	bool call_back; /* no match: back beside the rule that jumped */
	bool left;	/* left of the app: peer in, or the loop over lo */
	unsigned int k; /* lane: its place among the frame's returns */
	Agraph_t *table;
	/* otherwise a short way back: which ends are dot's ports */
	bool tail_port, head_port;
	Agnode_t *under; /* the way back passes under this chain */
	bool into_head;	 /* an entry chain into an Istio chain's title */
	char head_compass[4];
};

struct st_graph {
	Agraph_t *g;
	bool laid_out;
	struct gr_return ret[GR_MAX_RETURNS];
	unsigned int nret;
	Agraph_t *tables[GR_MAX_TABLES];
	unsigned int ntables;
	Agnode_t *app;
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
	/* The frame's flows and their stops (gr_stops()), for the layout. */
	const struct st_flow *frame[GR_MAX_FRAME];
	unsigned int nframe;
	struct gr_stop fstops[GR_MAX_FRAME][GR_MAX_STOPS];
	unsigned int nfstops[GR_MAX_FRAME];
	/* The edges every flow of the frame and the flow itself plan. */
	struct gr_plan plans[GR_MAX_PLANS];
	unsigned int nplans;
	/* The layout's edges: the union of the plans (gr_union()). */
	struct gr_slot slots[GR_MAX_EDGES];
	unsigned int nslots;
	bool peer_used[GR_PEER__MAX];
	Agnode_t *peer[GR_PEER__MAX];
	struct gr_return ret[GR_MAX_RETURNS];
	unsigned int nret;
	uint16_t out_port, in_port, dns_port;
	bool has_dns;
	bool in_first; /* Envoy's inbound port above its outbound one */
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

/* ---- object ids in creation order ------------------------------------ */

/*
 * cgraph's own ids of named objects are the addresses of their interned
 * names, and it keeps sibling subgraphs (the tables' clusters) in id
 * order: that order, and with it dot's layout, would change from run to
 * run.  These ids count up instead: even for named objects (the name is
 * kept here), odd for anonymous ones, as cgraph expects.
 */
struct gr_ids {
	Agraph_t *g;
	char **name; /* interned in the graph (agwrite asks if HTML) */
	size_t n, cap;
	IDTYPE anon;
};

static void *gr_id_open(Agraph_t *g, Agdisc_t *disc)
{
	struct gr_ids *ids = calloc(1, sizeof(*ids));

	(void)disc;
	if (ids != NULL)
		ids->g = g;
	return ids;
}

static long gr_id_map(void *state, int objtype, char *str, IDTYPE *id,
		      int createflag)
{
	struct gr_ids *ids = state;

	(void)objtype;
	if (str == NULL) {
		ids->anon += 2;
		*id = ids->anon + 1;
		return 1;
	}
	for (size_t i = 0; i < ids->n; i++)
		if (strcmp(ids->name[i], str) == 0) {
			*id = 2 * (IDTYPE)(i + 1);
			return 1;
		}
	if (!createflag)
		return 0;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 64;
		char **name = realloc(ids->name, cap * sizeof(*name));

		if (name == NULL)
			return 0;
		ids->name = name;
		ids->cap = cap;
	}
	ids->name[ids->n] = agstrdup(ids->g, str);
	if (ids->name[ids->n] == NULL)
		return 0;
	*id = 2 * (IDTYPE)++ids->n;
	return 1;
}

static long gr_id_alloc(void *state, int objtype, IDTYPE id)
{
	(void)state;
	(void)objtype;
	(void)id;
	return 0; /* no object asks for an id of its own */
}

static void gr_id_free(void *state, int objtype, IDTYPE id)
{
	(void)state;
	(void)objtype;
	(void)id;
}

static char *gr_id_print(void *state, int objtype, IDTYPE id)
{
	struct gr_ids *ids = state;

	(void)objtype;
	if (id % 2 != 0 || id == 0 || id / 2 > ids->n)
		return NULL;
	return ids->name[id / 2 - 1];
}

static void gr_id_close(void *state)
{
	struct gr_ids *ids = state;

	/* The names go with the graph's strings. */
	if (ids != NULL)
		free(ids->name);
	free(ids);
}

static void gr_id_register(void *state, int objtype, void *obj)
{
	(void)state;
	(void)objtype;
	(void)obj;
}

static Agiddisc_t gr_iddisc = {
	gr_id_open,  gr_id_map,	  gr_id_alloc,	  gr_id_free,
	gr_id_print, gr_id_close, gr_id_register,
};

static Agdisc_t gr_disc = {&AgMemDisc, &gr_iddisc, &AgIoDisc};

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
 * its name (gr_chain_order).  Outbound chains form the upper band, next
 * to Envoy's connections back into OUTPUT, which then pass over nothing;
 * inbound ones the lower.
 */
static void gr_place(struct gr_chain *gc)
{
	const char *hook = gc->c != NULL && gc->c->builtin ? gc->c->hook : NULL;

	if (hook != NULL) {
		bool entry = strcasecmp(hook, "prerouting") == 0 ||
			     strcasecmp(hook, "output") == 0 ||
			     strcasecmp(hook, "postrouting") == 0;

		gc->col = entry ? GR_COL_ENTRY : GR_COL_JUMPED;
		gc->band = strcasecmp(hook, "prerouting") == 0 ||
					   strcasecmp(hook, "input") == 0
				   ? GR_BAND_IN
				   : GR_BAND_OUT;
		return;
	}
	switch (gc->rank) {
	case 0:	 /* PREROUTING */
	case 6:	 /* OUTPUT */
	case 10: /* POSTROUTING */
		gc->col = GR_COL_ENTRY;
		break;
	case 1: /* ISTIO_INBOUND */
	case 7: /* ISTIO_OUTPUT */
		gc->col = GR_COL_ISTIO;
		break;
	default:
		gc->col = GR_COL_JUMPED;
	}
	gc->band = gc->rank <= 5 ? GR_BAND_IN : GR_BAND_OUT;
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
	/* The frame's flows first: they are the same in all its diagrams. */
	for (unsigned int k = 0; k <= b->nframe; k++) {
		const struct gr_stop *st =
			k < b->nframe ? b->fstops[k] : b->stops;
		unsigned int ns = k < b->nframe ? b->nfstops[k] : b->nstops;

		for (unsigned int s = 1; s < ns; s++) {
			const struct gr_stop *p = &st[s - 1];

			if (p->leg == st[s].leg && p->dec != NULL)
				gr_key(&b->chains[st[s].chain],
				       &b->chains[p->chain], p->dec->rule,
				       true);
		}
	}
}

/* ---- the path's steps (path.c's reading of the legs) ----------------- */

static int gr_stop(struct gr_build *b, struct gr_stop *stops, unsigned int *n,
		   const struct st_path_step *step, bool drawn)
{
	int c = gr_add_chain(b, step->hop->table, step->hop->chain, NULL);
	struct gr_stop *s = NULL;

	if (c < 0)
		return c;
	if (*n == GR_MAX_STOPS)
		return st_err(b->err, ENOSPC, "too many steps to draw");
	s = &stops[(*n)++];
	s->chain = c;
	s->leg = step->leg;
	s->dec = step->dec;
	s->ruled = step->note == ST_PATH_NOTE_RULE;
	if (drawn)
		b->chains[c].visited = true;
	return 0;
}

/*
 * The chains the path text of @f shows, in its order, become its stops;
 * @drawn: @f is the flow drawn, whose chains are not faint.
 */
static int gr_stops(struct gr_build *b, const struct st_flow *f,
		    struct gr_stop *stops, unsigned int *nstops, bool drawn)
{
	struct st_path_step steps[ST_PATH_MAX_STEPS];
	unsigned int n = st_path_steps(f, steps, ST_PATH_MAX_STEPS);
	int rc = 0;

	*nstops = 0;
	for (unsigned int i = 0; rc == 0 && i < n; i++)
		if (steps[i].kind == ST_PATH_CHAIN)
			rc = gr_stop(b, stops, nstops, &steps[i], drawn);
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
		return GR_ENVOY;
	case 5:
		return GR_LOCALHOST;
	case 6:
		return GR_ISTIOD;
	default:
		break;
	}
	if (l->arriving)
		return GR_APP;
	if (st_flow_addr_is_loopback(l->family, l->dst))
		return l->proxy ? GR_LOCALHOST : GR_APP;
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
	/*
	 * At most 1200 x 900 pixels at 100 % (96 per inch), margins
	 * included: a larger drawing is scaled down to fit a screen.
	 */
	gr_default(g, AGRAPH, "size", "12.3,9.2");
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
	gr_default(g, AGNODE, "width", "0.75");
	gr_default(g, AGNODE, "height", "0.5");
	gr_default(g, AGEDGE, "label", "");
	gr_default(g, AGEDGE, "xlabel", "");
	gr_default(g, AGEDGE, "dir", "forward");
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

/* Ports the settings do not know, as @f's legs show them. */
static void gr_ports_of(struct gr_build *b, const struct st_flow *f)
{
	for (unsigned int i = 0; i < f->nlegs; i++) {
		const struct st_flow_leg *l = &f->legs[i];

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

static void gr_ports(struct gr_build *b)
{
	const struct st_istio_settings *set = b->o.set;

	if (set != NULL) {
		b->out_port = set->outbound_port;
		b->in_port = set->inbound_port;
		b->has_dns = set->dns_capture;
		b->dns_port = set->dns_port;
	}
	/* The frame's flows first: Envoy's box is the same in all. */
	for (unsigned int k = 0; k <= b->nframe; k++)
		gr_ports_of(b, k < b->nframe ? b->frame[k] : b->f);
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

/*
 * The requests of Envoy's access log on Envoy's node, two at most, each
 * "METHOD AUTHORITY/PATH -> CODE" and the upstream host on a second line;
 * a TCP proxy connection "TCP" and its host.
 */
static void gr_reqs_field(const struct st_flow *f, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; f->reqs != NULL && i < f->reqs->n && i < 2;
	     i++) {
		const struct st_flow_req *r = &f->reqs->req[i];
		char code[16] = "-";
		char host[ST_FLOW_ADDR_SIZE] = "";

		if (r->has_code)
			snprintf(code, sizeof(code), "%u", r->code);
		if (r->host_family != 0)
			st_flow_addr_format(r->host_family, r->host,
					    r->host_port, host, sizeof(host));
		if (n + 4 >= size)
			break;
		memcpy(buf + n, "\\n", 3);
		n += 2;
		if (r->tcp) {
			n += gr_rec_esc(buf + n, size - n, "TCP", 3);
		} else {
			n += gr_rec_esc(buf + n, size - n, r->method, 8);
			n += gr_rec_esc(buf + n, size - n, " ", 1);
			n += gr_rec_esc(buf + n, size - n, r->authority, 28);
			n += gr_rec_esc(buf + n, size - n, r->path, 24);
			n += gr_rec_esc(buf + n, size - n, " -> ", 4);
			n += gr_rec_esc(buf + n, size - n, code, sizeof(code));
		}
		if (host[0] != '\0' && n + 4 < size) {
			memcpy(buf + n, "\\n", 3);
			n += 2;
			n += gr_rec_esc(buf + n, size - n, "upstream ", 9);
			n += gr_rec_esc(buf + n, size - n, host, sizeof(host));
		}
	}
	if (f->reqs != NULL && f->reqs->total > 2 && n + 24 < size)
		snprintf(buf + n, size - n, "\\n+%llu more",
			 (unsigned long long)(f->reqs->total - 2));
}

static int gr_pod(struct gr_build *b, Agraph_t *pod)
{
	const struct st_istio_settings *set = b->o.set;
	char out[64], in[64], dns[64], uid[48] = "";
	char reqs[400];
	char label[768];
	Agraph_t *col = NULL;
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
	/*
	 * Below the app, in its column: the proxy's own processes, reached
	 * over lo (in an LR layout the tail of a flat edge goes below).
	 */
	/* Anonymous: cgraph orders named siblings by their addresses. */
	col = agsubg(pod, NULL, 1);
	gr_set(col, "rank", "same");
	agsubnode(col, b->peer[GR_APP], 1);
	n = gr_node(col, gr_peer_id[GR_LOCALHOST]);
	/* An ambient pod has no proxy process of its own. */
	gr_set(n, "label",
	       b->f->ambient ? "localhost" : "Envoy process\\n(localhost)");
	gr_set(n, "fillcolor", "#e3edfb");
	b->peer[GR_LOCALHOST] = n;
	gr_invis(col, n, b->peer[GR_APP], 1);

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
	/*
	 * On top the sidecar itself, where its own connections leave (back
	 * into OUTPUT, over the tables); below, its listeners in the order
	 * of the chains that redirect to them.
	 */
	/* Ambient: ztunnel's in-pod listeners take the captures. */
	snprintf(label, sizeof(label), "<main> %s%s%s|%s|%s%s%s",
		 b->f->ambient ? "ztunnel\\n(in-pod sockets)" : "Envoy sidecar",
		 b->f->ambient ? "" : uid, reqs, b->in_first ? in : out,
		 b->has_dns ? dns : "", b->has_dns ? "|" : "",
		 b->in_first ? out : in);
	n = gr_node(pod, gr_peer_id[GR_ENVOY]);
	gr_set(n, "shape", "record");
	gr_set(n, "style", "filled");
	gr_set(n, "fillcolor", "#e3edfb");
	gr_set(n, "label", label);
	b->peer[GR_ENVOY] = n;
	/* The listeners the flow used stand out in the tooltip too. */
	snprintf(label, sizeof(label), "%s: outbound %s, inbound %s%s",
		 b->f->ambient ? "ztunnel" : "Envoy",
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
	gr_invis(pod, b->peer[GR_APP], n, GR_COL_ENVOY - GR_COL_APP);
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
		/* Not bold: the table keeps its size whichever rule decided. */
		fprintf(f, "%u</FONT></TD>", r->number);
		/*
		 * Graphviz 2.43 writes a cell's tooltip only for a link: a
		 * link to the cell itself (its SVG id is "a_" and the cell's
		 * ID) goes nowhere, and leaves no reference broken.
		 */
		fprintf(f, "<TD PORT=\"r%u\" ID=\"", r->number);
		st_graph_escape(f, gc->table);
		fputc('/', f);
		st_graph_escape(f, gc->name);
		fprintf(f, "/r%u\" HREF=\"#a_", r->number);
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
	const struct gr_chain *entry_last = NULL, *c0 = NULL;

	/* The app sends through the first table's OUTPUT. */
	for (int col = GR_COL_ENTRY; out == NULL && col <= GR_COL_JUMPED;
	     col++) {
		out = gr_col_first(b, order, 0, 0, col, 1);
		if (out == NULL)
			out = gr_col_first(b, order, 0, 0, col, -1);
	}
	if (out != NULL) {
		if (GR_COL_APP < out->col)
			gr_invis(pod, b->peer[GR_APP], out->n,
				 out->col - GR_COL_APP);
		else
			gr_invis(pod, out->n, b->peer[GR_APP],
				 GR_COL_APP - out->col);
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
		/*
		 * A hint to put each table below the one before (nat
		 * first), for the loop of TPROXY from nat's POSTROUTING
		 * down to mangle's PREROUTING: dot does not always follow
		 * it, but it saves crossings (2 over all canonical diagrams).
		 */
		if (t > 0 && entry_last != NULL &&
		    (c0 = gr_col_first(b, order, start, t, GR_COL_ENTRY, -1)) !=
			    NULL)
			gr_invis(pod, entry_last->n, c0->n, 0);
		for (unsigned int k = start;
		     k < b->nchains && b->chains[order[k]].table_idx == t; k++)
			if (b->chains[order[k]].col == GR_COL_ENTRY)
				entry_last = &b->chains[order[k]];
		while (i < b->nchains && b->chains[order[i]].table_idx == t)
			i++;
	}
}

/* The chains in the order they are drawn, top to bottom per column. */
static void gr_sort(const struct gr_build *b, unsigned int *order)
{
	for (unsigned int i = 0; i < b->nchains; i++) {
		unsigned int j = i;

		while (j > 0 &&
		       !gr_before(&b->chains[order[j - 1]], &b->chains[i])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/*
 * Whether the first chain (top to bottom) that redirects to Envoy sends
 * to its inbound port: Envoy's ports then stand in the same order, so
 * that the arrows into them do not cross.
 */
static bool gr_inbound_first(const struct gr_build *b)
{
	unsigned int order[GR_MAX_CHAINS];

	gr_sort(b, order);
	for (unsigned int i = 0; i < b->nchains; i++) {
		const struct st_chain *c = b->chains[order[i]].c;

		for (unsigned int k = 0; c != NULL && k < c->nrules; k++) {
			const struct st_rule *r =
				st_ruleset_rule(b->o.rs, c->first + k);
			enum st_capture cap;

			if (r->target.kind != ST_T_REDIRECT &&
			    r->target.kind != ST_T_TPROXY)
				continue;
			cap = st_flow_capture_of(b->o.set, r,
						 r->target.port_lo);
			if (cap == ST_CAPTURE_INBOUND)
				return true;
			if (cap == ST_CAPTURE_OUTBOUND)
				return false;
		}
	}
	return true;
}

static int gr_chain_nodes(struct gr_build *b, Agraph_t *pod)
{
	char name[160];
	unsigned int order[GR_MAX_CHAINS];
	enum st_backend be = b->o.rs != NULL ? st_ruleset_backend(b->o.rs)
					     : ST_BACKEND_UNKNOWN;
	Agraph_t *col = NULL;
	const struct gr_chain *above = NULL;
	Agnode_t *top = NULL;

	/*
	 * The last table's cluster made first: in this order dot draws the
	 * loop of TPROXY over lo (nat's POSTROUTING back to mangle's
	 * PREROUTING) as one curve past fewer arrows, where the other order
	 * draws it twice (samples/graph/layout-quality.txt: 29 crossings
	 * against 33 over all the canonical diagrams).
	 */
	for (unsigned int u = b->ntables; u-- > 0;) {
		const char *kind = be == ST_BACKEND_NFTABLES ? "nftables table"
							     : "iptables table";
		unsigned int t = u;

		snprintf(name, sizeof(name), "cluster_%s", b->tables[t]);
		b->table_sub[t] = gr_subg(pod, name);
		snprintf(name, sizeof(name), "%s %s", kind, b->tables[t]);
		gr_set(b->table_sub[t], "label", name);
		gr_set(b->table_sub[t], "style", "rounded,filled");
		gr_set(b->table_sub[t], "fillcolor", "#fcfcfc");
		gr_set(b->table_sub[t], "color", "#909090");
	}
	gr_sort(b, order);
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
			top = NULL;
		}
		snprintf(name, sizeof(name), "%s/%s", gc->table, gc->name);
		gc->n = gr_node(col, name);
		/* In an LR layout the tail of a flat edge goes below. */
		if (top != NULL)
			gr_invis(col, gc->n, top, 1);
		top = gc->n;
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

	/* Top to bottom: Istiod, the remote pod, Prometheus. */
	static const enum gr_peer order[] = {GR_ISTIOD, GR_REMOTE,
					     GR_PROMETHEUS};
	Agraph_t *col = agsubg(b->g, NULL, 1); /* anonymous: see gr_pod() */
	Agnode_t *below = NULL;

	gr_set(col, "rank", "same");
	for (size_t i = 0; i < ST_ARRAY_SIZE(order); i++) {
		enum gr_peer p = order[i];
		Agnode_t *n = gr_node(col, gr_peer_id[p]);

		gr_set(n, "label", label[p]);
		gr_set(n, "shape", "box");
		gr_set(n, "fillcolor", "#eaf5ea");
		b->peer[p] = n;
		if (below != NULL)
			gr_invis(col, below, n, 1);
		below = n;
	}
}

/* ---- edges ----------------------------------------------------------- */

/*
 * Where each peer stands: the ones that open connections into the pod on
 * the left, Istiod on the right.  The same in every diagram, whichever
 * way the flow goes.
 */
static int gr_peer_col(enum gr_peer p)
{
	switch (p) {
	case GR_APP:
	case GR_LOCALHOST:
		return GR_COL_APP;
	case GR_ENVOY:
		return GR_COL_ENVOY;
	default:
		return GR_COL_FROM;
	}
}

static struct gr_end gr_peer_end(struct gr_build *b, enum gr_peer p,
				 const char *port, bool drawn)
{
	struct gr_end e = {.n = b->peer[p], .port = "", .chain = -1};

	e.col = gr_peer_col(p);
	if (drawn && p < GR_PEER__MAX)
		b->peer_used[p] = true;
	/* Envoy's own connections leave to the left of its name. */
	if (p == GR_ENVOY)
		e.port = port != NULL ? port : "w";
	return e;
}

/* One step of a flow from @from to @to, planned; 0 or -ENOSPC. */
static int gr_plan(struct gr_build *b, unsigned int owner, unsigned int leg,
		   unsigned int num, const struct gr_end *from,
		   const struct gr_end *to)
{
	struct gr_plan *p = NULL;

	if (b->nplans == GR_MAX_PLANS)
		return st_err(b->err, ENOSPC, "too many edges to draw");
	p = &b->plans[b->nplans++];
	memset(p, 0, sizeof(*p));
	p->from = *from;
	p->to = *to;
	p->owner = owner;
	p->leg = leg;
	p->num = num;
	if (from->chain >= 0 && b->chains[from->chain].rows &&
	    from->dec != NULL && from->dec->kind == ST_HIT_RULE)
		snprintf(p->tport, sizeof(p->tport),
			 to->col <= from->col ? "n%u:w" : "r%u:e",
			 from->dec->rule);
	else
		st_strlcpy(p->tport,
			   from->n == b->peer[GR_APP] ? "ne" : from->port,
			   sizeof(p->tport));
	if (to->chain >= 0 && b->chains[to->chain].rows)
		st_strlcpy(p->hport, "head:w", sizeof(p->hport));
	else if (to->n == b->peer[GR_APP] && from->col > to->col)
		/* Under the arrow the app sends from its upper corner. */
		st_strlcpy(p->hport, "se", sizeof(p->hport));
	else
		st_strlcpy(p->hport, to->port, sizeof(p->hport));
	/* Back through the loop: the columns stay where the frame put them. */
	p->back = to->col <= from->col;
	p->flat = to->col == from->col;
	p->ret = from->n == b->peer[GR_ENVOY] && to->chain >= 0 &&
		 to->col == GR_COL_ENTRY;
	if (p->ret)
		p->table = b->chains[to->chain].table_idx;
	p->minlen = 1;
	if (!p->back && to->col - from->col > 1 &&
	    (from->col == GR_COL_FROM || to->col == GR_COL_TO))
		p->minlen = to->col - from->col;
	return 0;
}

/*
 * The connection Envoy reused, when the flow names it: a dashed edge from
 * Envoy to where the flow ends, since no packet of it was seen in this
 * flow.
 */
static int gr_plan_pooled(struct gr_build *b, const struct st_flow *f,
			  unsigned int owner, const struct gr_end *from,
			  unsigned int num)
{
	struct gr_end to;
	int rc = 0;

	if (f->pooled.family == 0 ||
	    f->legs[f->nlegs - 1].capture == ST_CAPTURE_NONE ||
	    (f->side != ST_SIDE_REUSED && f->side != ST_SIDE_ACCESS_LOG) ||
	    (f->type != 1 && f->type != 2 && f->type != 4))
		return 0;
	to = gr_peer_end(b, gr_finish(f), NULL, owner == b->nframe);
	rc = gr_plan(b, owner, 0, num, from, &to);
	if (rc == 0)
		b->plans[b->nplans - 1].pooled = true;
	return rc;
}

/* The edges of @f, whose stops are @stops, planned for @owner. */
static int gr_plan_flow(struct gr_build *b, const struct st_flow *f,
			const struct gr_stop *stops, unsigned int nstops,
			unsigned int owner)
{
	bool drawn = owner == b->nframe;
	struct gr_end prev = gr_peer_end(b, gr_start(f), NULL, drawn);
	unsigned int num = 0;
	unsigned int s = 0;
	int rc = 0;

	for (unsigned int li = 0; rc == 0 && li < f->nlegs; li++) {
		const struct st_flow_leg *l = &f->legs[li];

		if (li > 0 && f->legs[li - 1].capture != ST_CAPTURE_NONE)
			/* Envoy's own connection: from Envoy, not a listener. */
			prev = gr_peer_end(b, GR_ENVOY, NULL, drawn);
		for (; rc == 0 && s < nstops && stops[s].leg == li; s++) {
			const struct gr_stop *st = &stops[s];
			struct gr_end to = {.n = b->chains[st->chain].n,
					    .port = "",
					    .dec = st->dec,
					    .ruled = st->ruled,
					    .chain = st->chain,
					    .col = b->chains[st->chain].col};

			rc = gr_plan(b, owner, li, ++num, &prev, &to);
			prev = to;
		}
		if (rc == 0 && l->capture != ST_CAPTURE_NONE) {
			struct gr_end to = gr_peer_end(
				b, GR_ENVOY, gr_capture_port(l), drawn);

			rc = gr_plan(b, owner, li, ++num, &prev, &to);
			prev = to;
		} else if (rc == 0 && li + 1 == f->nlegs) {
			struct gr_end to =
				gr_peer_end(b, gr_finish(f), NULL, drawn);

			rc = gr_plan(b, owner, li, ++num, &prev, &to);
		}
	}
	if (rc == 0)
		rc = gr_plan_pooled(b, f, owner, &prev, ++num);
	return rc;
}

static bool gr_slot_fits(const struct gr_slot *sl, const struct gr_plan *p)
{
	return sl->t == p->from.n && sl->h == p->to.n &&
	       sl->pooled == p->pooled && strcmp(sl->tport, p->tport) == 0 &&
	       strcmp(sl->hport, p->hport) == 0;
}

/*
 * The layout's edges: each flow, in the frame's order, takes a free slot
 * of the same ends and ports or adds one; the flow drawn comes last.
 */
static void gr_union(struct gr_build *b)
{
	for (unsigned int i = 0; i < b->nplans; i++) {
		const struct gr_plan *p = &b->plans[i];
		struct gr_slot *sl = NULL;

		for (unsigned int k = 0; k < b->nslots && sl == NULL; k++)
			if (b->slots[k].owner != p->owner + 1 &&
			    gr_slot_fits(&b->slots[k], p))
				sl = &b->slots[k];
		if (sl == NULL) {
			/* GR_MAX_EDGES == GR_MAX_PLANS: there is room. */
			sl = &b->slots[b->nslots++];
			sl->t = p->from.n;
			sl->h = p->to.n;
			st_strlcpy(sl->tport, p->tport, sizeof(sl->tport));
			st_strlcpy(sl->hport, p->hport, sizeof(sl->hport));
			sl->back = p->back;
			sl->flat = p->flat;
			sl->ret = p->ret;
			sl->tcol = p->from.col;
			sl->tchain = p->from.chain;
			sl->hcol = p->to.col;
			sl->table = p->table;
			sl->pooled = p->pooled;
			sl->minlen = p->minlen;
			sl->plan = -1;
		}
		sl->owner = p->owner + 1;
		if (p->owner == b->nframe)
			sl->plan = (int)i;
	}
}

/*
 * An edge label of one size whatever it says, so that the layout does
 * not depend on the text: the frame's other flows leave theirs empty.
 */
static void gr_edge_label(struct gr_build *b, Agedge_t *e, const char *text,
			  int width, bool flat)
{
	char html[256];

	/*
	 * An edge within one column is a flat edge to dot, and Graphviz 2.42
	 * corrupts its heap laying out a labelled flat edge in a cluster: an
	 * external label is placed after the layout, and moves nothing.
	 */
	if (flat) {
		if (text[0] != '\0')
			gr_set(e, "xlabel", text);
		return;
	}
	snprintf(html, sizeof(html),
		 "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
		 "CELLPADDING=\"0\"><TR><TD FIXEDSIZE=\"TRUE\" WIDTH=\"%d\" "
		 "HEIGHT=\"10\">%s</TD></TR></TABLE>",
		 width, text);
	gr_set_html(b->g, e, "label", html);
}

static void gr_draw_plan(struct gr_build *b, Agedge_t *e,
			 const struct gr_plan *p)
{
	const struct st_flow_hop *dec = p->from.dec;
	char label[96];

	if (p->pooled) {
		const struct st_flow_conn *c = &b->f->pooled;
		char src[ST_FLOW_ADDR_SIZE];

		st_flow_addr_format(c->family, c->src, c->sport, src,
				    sizeof(src));
		snprintf(label, sizeof(label), "%u: reused %s", p->num, src);
		gr_edge_label(b, e, label, 150, p->flat);
		gr_set(e, "style", "dashed");
		gr_set(e, "color", "#808080");
		gr_set(e, "fontcolor", "#606060");
		gr_set(e, "tooltip",
		       "a pooled connection Envoy opened before: no packet "
		       "of it belongs to this flow");
		return;
	}
	if (p->from.ruled && dec != NULL)
		snprintf(label, sizeof(label), "%u: RULE %u", p->num,
			 dec->rule);
	else
		snprintf(label, sizeof(label), "%u", p->num);
	gr_edge_label(b, e, label, 56, p->flat);
	gr_set(e, "color", gr_leg_color[p->leg]);
	gr_set(e, "fontcolor", gr_leg_color[p->leg]);
	if (dec != NULL && dec->r != NULL && dec->r->text != NULL) {
		gr_set(e, "tooltip", dec->r->text);
		gr_set(e, "labeltooltip", dec->r->text);
	}
}

/*
 * From an entry chain (POSTROUTING) back to the app or the proxy's
 * processes beside it: dot loops such a short way back around its ends.
 */
/*
 * From an entry chain (OUTPUT, PREROUTING) into the Istio chain it jumps
 * to: dot spreads several such edges in curls that cross the way back
 * out of that chain's first rows.
 */
static bool gr_into_head(const struct gr_slot *sl)
{
	return !sl->back && !sl->ret && sl->tcol == GR_COL_ENTRY &&
	       sl->hcol == GR_COL_ISTIO && strncmp(sl->hport, "head", 4) == 0;
}

static bool gr_slot_same(const struct gr_slot *x, const struct gr_slot *y)
{
	return x->t == y->t && x->h == y->h &&
	       strcmp(x->tport, y->tport) == 0 &&
	       strcmp(x->hport, y->hport) == 0;
}

static bool gr_short_back(const struct gr_build *b, const struct gr_slot *sl)
{
	return sl->back && !sl->flat && sl->tcol <= GR_COL_ISTIO &&
	       (sl->h == b->peer[GR_APP] || sl->h == b->peer[GR_LOCALHOST]);
}

/*
 * From a chain right of the Istio chains (INPUT, or the chain PREROUTING
 * jumps to) back to the app: the arrow into that chain comes from below
 * on the left, so that the way back leaves upwards, over the table.
 */
static bool gr_over_back(const struct gr_build *b, const struct gr_slot *sl)
{
	return sl->back && !sl->flat && sl->tcol == GR_COL_JUMPED &&
	       sl->tchain >= 0 && sl->h == b->peer[GR_APP];
}

/*
 * A chain's end (no rule matched) back into the chain that jumped to it,
 * one column to the left: dot enters the caller's title from above and
 * crosses the arrows its other rules send to the right.
 */
static bool gr_call_back(const struct gr_slot *sl)
{
	return sl->back && !sl->flat && sl->tchain >= 0 &&
	       sl->tport[0] == '\0' && sl->hcol == sl->tcol - 1 &&
	       strncmp(sl->hport, "head", 4) == 0;
}

/*
 * Into an entry chain (PREROUTING) from a peer, or from the entry chain
 * of another table (the loop of TPROXY over lo, nat's POSTROUTING to
 * mangle's PREROUTING): where the app stands between the two, dot's way
 * crosses the app's arrows.
 */
static bool gr_left_of_app(const struct gr_build *b, const struct gr_slot *sl)
{
	int head = -1;

	for (unsigned int i = 0; i < b->nchains && head < 0; i++)
		if (b->chains[i].n == sl->h)
			head = (int)i;
	if (head < 0 || b->chains[head].col != GR_COL_ENTRY)
		return false;
	if (sl->tcol == GR_COL_FROM && !sl->back)
		return true;
	return sl->flat && sl->tchain >= 0 && sl->tcol == GR_COL_ENTRY &&
	       b->chains[sl->tchain].table_idx != b->chains[head].table_idx;
}

/*
 * From a rule of a chain back to a peer left of the pod's tables or
 * beside the app (a remote pod, Istiod, the proxy over lo): where that
 * peer stands below the chain's table, dot runs the edge through the
 * table below.
 */
static bool gr_peer_back(const struct gr_build *b, const struct gr_slot *sl)
{
	bool peer = false;

	for (int p = GR_REMOTE; p < GR_PEER__MAX; p++)
		peer |= sl->h == b->peer[p];
	return peer && sl->back && !sl->flat && sl->tchain >= 0 &&
	       (sl->tport[0] == 'n' || sl->tport[0] == '\0') && b->ntables > 1;
}

/*
 * From an Istio chain back to the app (nftables has no POSTROUTING
 * chain): the way passes under the table's OUTPUT, which Envoy's lanes
 * enter from above and the app's arrow from the left.
 */
static Agnode_t *gr_under(const struct gr_build *b, const struct gr_slot *sl)
{
	const struct gr_chain *best = NULL;

	if (sl->tcol != GR_COL_ISTIO || sl->tchain < 0)
		return NULL;
	for (unsigned int i = 0; i < b->nchains; i++) {
		const struct gr_chain *gc = &b->chains[i];

		if (gc->table_idx == b->chains[sl->tchain].table_idx &&
		    gc->col == GR_COL_ENTRY && gc->band == GR_BAND_OUT &&
		    (best == NULL || gr_before(gc, best)))
			best = gc;
	}
	return best != NULL ? best->n : NULL;
}

static int gr_edges(struct gr_build *b)
{
	unsigned int nret = 0;
	int rc = 0;

	for (unsigned int k = 0; rc == 0 && k < b->nframe; k++)
		rc = gr_plan_flow(b, b->frame[k], b->fstops[k], b->nfstops[k],
				  k);
	if (rc == 0)
		rc = gr_plan_flow(b, b->f, b->stops, b->nstops, b->nframe);
	if (rc < 0)
		return rc;
	gr_union(b);
	for (unsigned int i = 0; i < b->nslots; i++) {
		const struct gr_slot *sl = &b->slots[i];
		Agedge_t *e = gr_edge(b->g, sl->t, sl->h);
		char len[16];

		if (sl->tport[0] != '\0')
			gr_set(e, "tailport", sl->tport);
		if (sl->hport[0] != '\0')
			gr_set(e, "headport", sl->hport);
		if (sl->back)
			gr_set(e, "constraint", "false");
		if (sl->minlen != 1) {
			snprintf(len, sizeof(len), "%d", sl->minlen);
			gr_set(e, "minlen", len);
		}
		if ((sl->ret || gr_short_back(b, sl) || gr_into_head(sl) ||
		     gr_over_back(b, sl) || gr_peer_back(b, sl) ||
		     gr_call_back(sl) || gr_left_of_app(b, sl)) &&
		    b->nret < GR_MAX_RETURNS) {
			struct gr_return *r = &b->ret[b->nret++];

			r->e = e;
			r->lane = sl->ret;
			if (sl->ret) {
				r->k = nret++;
				r->table = b->table_sub[sl->table];
			}
			r->over = gr_over_back(b, sl);
			r->between = gr_peer_back(b, sl);
			r->call_back = gr_call_back(sl);
			r->left = gr_left_of_app(b, sl);
			if (r->over || r->between)
				r->table = b->table_sub[b->chains[sl->tchain]
								.table_idx];
			r->tail_port = sl->tport[0] != '\0';
			r->under = gr_under(b, sl);
			r->into_head = gr_into_head(sl);
			/* The same ends: the how many-th of them. */
			for (unsigned int k = 0; r->into_head && k < i; k++)
				r->k += gr_slot_same(&b->slots[k], sl);
			/* A compass point of the head's box, or a port. */
			if (strlen(sl->hport) <= 2)
				st_strlcpy(r->head_compass, sl->hport,
					   sizeof(r->head_compass));
			else
				r->head_port = true;
		}
		if (sl->plan >= 0) {
			gr_draw_plan(b, e, &b->plans[sl->plan]);
		} else {
			gr_set(e, "style", "invis");
			gr_edge_label(b, e, "", sl->pooled ? 150 : 56,
				      sl->flat);
		}
	}
	return 0;
}

/* ---- title and legend ------------------------------------------------ */

/*
 * The legend: one line of the legs, each a chip of its colour with its
 * addresses (a character, not a cell: cells would stretch to the path's
 * width).
 */
static void gr_legend(struct gr_build *b, FILE *f)
{
	fputs("<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"8\">", f);
	for (unsigned int i = 0; i < b->f->nlegs; i++) {
		const struct st_flow_leg *l = &b->f->legs[i];
		char src[ST_FLOW_ADDR_SIZE], dst[ST_FLOW_ADDR_SIZE];

		st_flow_addr_format(l->family, l->src, l->sport, src,
				    sizeof(src));
		st_flow_addr_format(l->family, l->dst, l->dport, dst,
				    sizeof(dst));
		fprintf(f,
			"%s<FONT COLOR=\"%s\" POINT-SIZE=\"11\">&#9632;</FONT> leg %u ",
			i > 0 ? "   " : "", gr_leg_color[i], i + 1);
		st_graph_escape(f, src);
		fputs(" &#8594; ", f);
		st_graph_escape(f, dst);
		if (l->has_uid)
			fprintf(f, " uid %u", l->uid);
		if (l->incomplete)
			fputs(" (incomplete)", f);
	}
	fprintf(f,
		"   <FONT COLOR=\"%s\" POINT-SIZE=\"11\">&#9633;</FONT>"
		"<FONT COLOR=\"%s\"> not visited</FONT></FONT></TD></TR>",
		GR_FAINT_LINE, GR_FAINT_TEXT);
}

/* @s escaped for an HTML label, a backslash as a slash. */
static void gr_html_text(FILE *o, const char *s, size_t n)
{
	char buf[2] = "";

	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		buf[0] = s[i] == '\\' ? '/' : s[i];
		st_graph_escape(o, buf);
	}
}

/*
 * The lines of @f's path and reason, wrapped at " -> " (the path) and
 * spaces (the reason) before 120 columns, into @o (NULL: only counted).
 */
static unsigned int gr_wrap(FILE *o, const struct st_flow *f)
{
	char path[1024];
	const char *texts[2] = {path, f->reason};
	const char *seps[2] = {" -> ", " "};
	unsigned int lines = 0;

	st_path_format(f, path, sizeof(path));
	for (int t = 0; t < 2; t++) {
		const char *p = texts[t];
		size_t slen = strlen(seps[t]);
		size_t col = 0;

		if (*p == '\0')
			continue;
		lines++;
		while (*p != '\0') {
			const char *sep = strstr(p, seps[t]);
			size_t n = sep != NULL ? (size_t)(sep - p) : strlen(p);

			if (col > 0 && col + n > 120) {
				if (o != NULL)
					fputs("<BR ALIGN=\"LEFT\"/>    ", o);
				lines++;
				col = 4;
			}
			if (o != NULL)
				gr_html_text(o, p, n);
			col += n;
			if (sep == NULL)
				break;
			if (o != NULL)
				gr_html_text(o, seps[t], slen);
			col += slen;
			p = sep + slen;
		}
		if (o != NULL)
			fputs("<BR ALIGN=\"LEFT\"/>", o);
	}
	return lines;
}

/*
 * The graph's label: "Type 2: local-to-remote", the legend, the path
 * and the reason.  It has as many lines as the longest of the frame's, so
 * that its height moves nothing in the layout.
 */
static int gr_title(struct gr_build *b)
{
	const struct st_flow *f = b->f;
	char *cap = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&cap, &len);
	unsigned int lines = 0, most = 0;

	if (o == NULL)
		return st_err(b->err, errno, "open_memstream");
	for (unsigned int k = 0; k < b->nframe; k++) {
		unsigned int n = gr_wrap(NULL, b->frame[k]);

		most = n > most ? n : most;
	}
	/* At least as wide as any: its width moves nothing either. */
	fputs("<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
	      "CELLPADDING=\"1\" WIDTH=\"780\"><TR><TD ALIGN=\"LEFT\"><B>",
	      o);
	if (f->type == 0)
		fprintf(o, "Type 0 (%s)", st_class_name(f->klass, 0));
	else
		fprintf(o, "Type %d: %s", f->type, st_class_type_name(f->type));
	fputs("</B></TD></TR>", o);
	if (!b->o.no_legend)
		gr_legend(b, o);
	fputs("<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">", o);
	for (lines = gr_wrap(o, f); lines < most; lines++)
		fputs(" <BR ALIGN=\"LEFT\"/>", o);
	fputs("</FONT></TD></TR></TABLE>", o);
	if (fclose(o) != 0)
		return st_err(b->err, ENOMEM, "building the title");
	gr_set_html(b->g, b->g, "label", cap);
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
	rc = gr_frame(b);
	for (unsigned int k = 0; rc == 0 && opts != NULL && k < opts->nframe &&
				 b->nframe < GR_MAX_FRAME;
	     k++) {
		const struct st_flow *ff = opts->frame[k];

		if (ff == NULL || ff->nlegs == 0 ||
		    ff->nlegs > ST_FLOW_MAX_LEGS)
			continue;
		b->frame[b->nframe] = ff;
		rc = gr_stops(b, ff, b->fstops[b->nframe],
			      &b->nfstops[b->nframe], false);
		b->nframe++;
	}
	gr_ports(b);
	if (rc == 0)
		rc = gr_stops(b, flow, b->stops, &b->nstops, true);
	if (rc < 0)
		goto fail;
	gr_keys(b);

	sg->g = agopen((char *)"sidecar_trace", Agdirected, &gr_disc);
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
	/* Room above the tables for Envoy's lanes back into OUTPUT. */
	gr_set(pod, "margin", "16");

	b->in_first = gr_inbound_first(b);
	rc = gr_pod(b, pod);
	if (rc == 0)
		rc = gr_chain_nodes(b, pod);
	if (rc < 0)
		goto fail;
	gr_peers(b);
	rc = gr_edges(b);
	for (int p = GR_APP; rc == 0 && p < GR_PEER__MAX; p++)
		if (!b->peer_used[p] && p != GR_ENVOY)
			gr_faint(b->peer[p]);
	if (rc == 0)
		rc = gr_title(b);
	if (rc < 0)
		goto fail;
	memcpy(sg->ret, b->ret, sizeof(sg->ret));
	sg->nret = b->nret;
	memcpy(sg->tables, b->table_sub, sizeof(sg->tables));
	sg->ntables = b->ntables;
	sg->app = b->peer[GR_APP];
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

#define GR_ARROW 7.0 /* the arrowhead's length: 10 points x arrowsize */
#define GR_LANE 13.0 /* between two returns side by side: room for a label */

/* A straight piece from @a to @b as one cubic Bezier segment. */
static void gr_piece(pointf *pt, pointf a, pointf b)
{
	pt[0] = a;
	pt[1].x = a.x + (b.x - a.x) / 3;
	pt[1].y = a.y + (b.y - a.y) / 3;
	pt[2].x = a.x + 2 * (b.x - a.x) / 3;
	pt[2].y = a.y + 2 * (b.y - a.y) / 3;
}

/*
 * The edge of @bz becomes its arrow's tip @tip and the spline @pt of
 * @n points: the end is drawn as an arrowhead, the start as nothing.
 */
static void gr_set_spline(bezier *bz, pointf *pt, int n, pointf tip)
{
	free(bz->list);
	bz->list = pt;
	bz->size = n;
	bz->sflag = 0;
	bz->eflag = 1;
	bz->ep = tip;
}

/*
 * The edge of @bz straight through the @n corners @v, to an arrow ending
 * at @tip.  False, and dot's spline kept, where memory runs out.
 */
static bool gr_corners(bezier *bz, const pointf *v, int n, pointf tip)
{
	pointf *pt = malloc((3 * (n - 1) + 1) * sizeof(*pt));

	if (pt == NULL)
		return false;
	for (int i = 0; i + 1 < n; i++)
		gr_piece(&pt[3 * i], v[i], v[i + 1]);
	pt[3 * (n - 1)] = v[n - 1];
	gr_set_spline(bz, pt, 3 * (n - 1) + 1, tip);
	return true;
}

/*
 * The edge of @bz as one smooth curve from @a to @d, level at both ends,
 * to an arrow ending at @tip.  False, as gr_corners().
 */
static bool gr_curve(bezier *bz, pointf a, pointf d, pointf tip)
{
	pointf *pt = malloc(4 * sizeof(*pt));
	double dx = (d.x - a.x) / 2;

	if (pt == NULL)
		return false;
	pt[0] = a;
	pt[1].x = a.x + dx;
	pt[1].y = a.y;
	pt[2].x = d.x - dx;
	pt[2].y = d.y;
	pt[3] = d;
	gr_set_spline(bz, pt, 4, tip);
	return true;
}

/*
 * Envoy's connections back into OUTPUT, drawn as a schematic would: up
 * from Envoy, along a lane just above the chain's table, down into the
 * chain.  Left to dot, they swing around whatever is in the way (often
 * the whole pod); the lane crosses nothing, as no other edge leaves a
 * table upwards.  Each return of the frame has its own lane, so that
 * they do not overlap.
 */
/*
 * A short way back to the left from above the head: out of the tail's
 * side, down beside it (clear of the chains below it) and into the head's
 * side low, under the arrow the head sends from its upper corner.
 */
static void gr_down_back(const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e), *h = aghead(e);
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t), hc = ND_coord(h);
	double hh = ND_height(h) * 36;
	pointf a = {tc.x - ND_width(t) * 36, tc.y};
	pointf tip = {hc.x + ND_width(h) * 36, hc.y - hh / 2};
	pointf b = {a.x - 12, a.y};
	pointf c = {b.x, tip.y};
	pointf d = {tip.x + GR_ARROW, tip.y};

	if (d.x >= c.x || c.y >= b.y)
		return;
	if (!gr_corners(bz, (pointf[]){a, b, c, d}, 4, tip))
		return;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (c.x + d.x) / 2;
		ED_label(e)->pos.y = tip.y - ED_label(e)->dimen.y / 2 - 1;
	}
}

/*
 * A short way back to the left: one smooth curve from the tail's left
 * side (or dot's end at its port) to the head's right side (or its
 * compass point, or port).  dot routes such edges, laid out against its
 * ranks, in loops around their ends.
 */
static void gr_back(const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e), *h = aghead(e);
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t), hc = ND_coord(h);
	double hw = ND_width(h) * 36, hh = ND_height(h) * 36;
	pointf a = {tc.x - ND_width(t) * 36, tc.y};
	pointf tip = {hc.x + hw, hc.y};
	pointf d;

	if (r->tail_port)
		a = bz->sflag ? bz->sp : bz->list[0];
	if (r->head_port)
		tip = bz->eflag ? bz->ep : bz->list[bz->size - 1];
	else if (strcmp(r->head_compass, "se") == 0)
		tip.y = hc.y - hh + 4;
	if (!r->tail_port && !r->head_port && tc.y - ND_height(t) * 36 > hc.y) {
		gr_down_back(r);
		return;
	}
	if (tip.x >= a.x)
		return;
	d.x = tip.x + GR_ARROW;
	d.y = tip.y;
	if (!gr_curve(bz, a, d, tip))
		return;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (a.x + d.x) / 2;
		ED_label(e)->pos.y = (a.y + d.y) / 2 + ED_label(e)->dimen.y / 2;
	}
	if (ED_xlabel(e) != NULL) {
		ED_xlabel(e)->pos.x = (a.x + d.x) / 2;
		ED_xlabel(e)->pos.y =
			(a.y + d.y) / 2 + ED_xlabel(e)->dimen.y / 2;
	}
}

static void gr_lane(const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e), *h = aghead(e);
	boxf tb = GD_bb(r->table);
	double k = r->k;
	double lane = tb.UR.y + 8 + GR_LANE * k;
	pointf tc = ND_coord(t), hc = ND_coord(h);
	double tw = ND_width(t) * 36, th = ND_height(t) * 36;
	double hh = ND_height(h) * 36;
	/* The lower lanes inside the upper ones: nothing crosses. */
	pointf a = {tc.x - tw + 8 + GR_LANE * k, tc.y + th};
	pointf b = {a.x, lane};
	pointf c = {hc.x + GR_LANE * (0.5 - k), lane};
	pointf d = {c.x, hc.y + hh + GR_ARROW};
	pointf tip = {d.x, hc.y + hh};

	/* A lane at Envoy's height leaves from its side. */
	if (lane < tc.y + th - 4 && lane > tc.y - th + 4) {
		a.x = tc.x - tw;
		a.y = lane;
		b.x = a.x - 1;
	} else if (lane < tc.y) {
		a.y = tc.y - th;
	}
	if (!gr_corners(&ED_spl(e)->list[0], (pointf[]){a, b, c, d}, 4, tip))
		return;
	/* Above its lane, where the next one up leaves room. */
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (b.x + c.x) / 2;
		ED_label(e)->pos.y = lane + ED_label(e)->dimen.y / 2 + 1;
	}
}

/*
 * The height halfway between @u's foot and the top of the next node
 * below it that shares some of its width (in @low), or just under @u
 * where none.
 */
static double gr_gap_under(Agraph_t *g, Agnode_t *u, double *low)
{
	pointf uc = ND_coord(u);
	double uw = ND_width(u) * 36, foot = uc.y - ND_height(u) * 36;
	double top = -1e9;

	for (Agnode_t *n = agfstnode(agroot(g)); n != NULL;
	     n = agnxtnode(agroot(g), n)) {
		pointf nc = ND_coord(n);
		double nw = ND_width(n) * 36, nt = nc.y + ND_height(n) * 36;

		if (n == u || nt >= foot || nc.x + nw < uc.x - uw ||
		    nc.x - nw > uc.x + uw)
			continue;
		if (nt > top)
			top = nt;
	}
	*low = top;
	return top > -1e9 ? (foot + top) / 2 : foot - 10;
}

/*
 * Down from the tail's port to below the chain @r->under, along under
 * it, up close to the app's right side (under the arrow the app sends
 * from its upper corner), and into that side near its foot.
 */
static void gr_way_under(const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *h = aghead(e), *u = r->under;
	bezier *bz = &ED_spl(e)->list[0];
	pointf hc = ND_coord(h), uc = ND_coord(u);
	double hw = ND_width(h) * 36, hh = ND_height(h) * 36;
	double yu = uc.y - ND_height(u) * 36 - 10;
	pointf a = bz->sflag ? bz->sp : bz->list[0];
	pointf tip = {hc.x + hw, hc.y - hh + 6};
	pointf b = {uc.x + ND_width(u) * 36 + 10, yu};
	pointf c = {tip.x + 12, yu};
	pointf d = {c.x, tip.y};
	pointf f = {tip.x + GR_ARROW, tip.y};

	if (tip.y < yu) {
		/*
		 * The app's foot lower than the chain: along the gap under
		 * it, no higher than the app's top (so under the arrow the
		 * app sends from its upper corner), down beside the app and
		 * into its side; dot's way where the gap is not that low.
		 */
		double low = 0;

		yu = gr_gap_under(agraphof(u), u, &low);
		if (yu > hc.y + hh - 6)
			yu = hc.y + hh - 6;
		if (yu < low + 4)
			return;
		b.y = yu;
		c.y = yu;
	}
	if (b.x >= a.x || c.x >= b.x)
		return; /* not left of the tail: dot's */
	if (!gr_corners(bz, (pointf[]){a, b, c, d, f}, 5, tip))
		return;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (b.x + c.x) / 2;
		ED_label(e)->pos.y = yu - ED_label(e)->dimen.y / 2 - 1;
	}
}

/*
 * From the right side of an entry chain into the title of the Istio
 * chain it jumps to, in one smooth curve; several such edges leave one
 * above the other and meet at the title.
 */
static void gr_into(const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e);
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t);
	pointf tip = bz->eflag ? bz->ep : bz->list[bz->size - 1];
	pointf a = {tc.x + ND_width(t) * 36, tc.y + 11 - 11.0 * r->k};
	pointf d = {tip.x - GR_ARROW, tip.y};

	if (d.x <= a.x)
		return;
	if (!gr_curve(bz, a, d, tip))
		return;
	/* Side by side over the start of their curves. */
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = a.x + 8 + 14.0 * r->k;
		ED_label(e)->pos.y = a.y + ED_label(e)->dimen.y / 2 + 1;
	}
}

/*
 * Up from the tail (from the right of its row, where a rule sends), along
 * a lane above the tail's table and above Envoy's lanes into it, and
 * down into the app's top.
 */
static void gr_over(const struct gr_return *r, unsigned int lanes)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e), *h = aghead(e);
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t), hc = ND_coord(h);
	double tw = ND_width(t) * 36, th = ND_height(t) * 36;
	double lane = GD_bb(r->table).UR.y + 8 + GR_LANE * lanes;
	pointf tip = {hc.x, hc.y + ND_height(h) * 36};
	pointf d = {tip.x, tip.y + GR_ARROW};
	pointf c = {tip.x, lane};
	pointf a = {tc.x, tc.y + th}, b = {a.x, lane};
	pointf v[6];
	int n = 0;

	if (r->tail_port) {
		/* A rule's row: out of its right end, then up. */
		pointf p = bz->sflag ? bz->sp : bz->list[0];

		a.x = tc.x + tw;
		a.y = p.y;
		v[n++] = a;
		a.x += 10;
		b.x = a.x;
	}
	if (c.x >= b.x || d.y >= lane)
		return;
	v[n++] = a;
	v[n++] = b;
	v[n++] = c;
	v[n++] = d;
	if (!gr_corners(bz, v, n, tip))
		return;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (b.x + c.x) / 2;
		ED_label(e)->pos.y = lane + ED_label(e)->dimen.y / 2 + 1;
	}
}

/*
 * Out of the left end of the rule's row, down beside the chain to the
 * gap between its table and the one below, along that gap to the left of
 * the tables, down and into the peer's right side.  False where the peer
 * does not stand below the table or no table is below it: the caller's
 * way then.
 */
static bool gr_way_between(const struct st_graph *g, const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *h = aghead(e);
	bezier *bz = &ED_spl(e)->list[0];
	boxf tb = GD_bb(r->table);
	pointf hc = ND_coord(h);
	double left = tb.LL.x, below = -1e9;
	pointf a = bz->sflag ? bz->sp : bz->list[0];
	pointf tip = {hc.x + ND_width(h) * 36, hc.y};
	pointf v[6];

	if (!r->tail_port) {
		/* No rule decided: out of the chain's left side. */
		a = ND_coord(agtail(e));
		a.x -= ND_width(agtail(e)) * 36;
	}

	for (unsigned int i = 0; i < g->ntables; i++) {
		boxf ob = GD_bb(g->tables[i]);

		if (ob.LL.x < left)
			left = ob.LL.x;
		if (g->tables[i] != r->table && ob.UR.y < tb.LL.y &&
		    ob.UR.y > below)
			below = ob.UR.y;
	}
	if (below < -1e8 || hc.y >= tb.LL.y || tip.x + GR_ARROW >= left - 14)
		return false;
	v[0] = a;
	v[1] = (pointf){a.x - 12, a.y};
	v[2] = (pointf){v[1].x, (tb.LL.y + below) / 2};
	v[3] = (pointf){left - 14, v[2].y};
	v[4] = (pointf){v[3].x, tip.y};
	v[5] = (pointf){tip.x + GR_ARROW, tip.y};
	if (!gr_corners(bz, v, 6, tip))
		return false;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (v[2].x + v[3].x) / 2;
		ED_label(e)->pos.y = v[2].y + ED_label(e)->dimen.y / 2 + 1;
	}
	if (ED_xlabel(e) != NULL) {
		ED_xlabel(e)->pos.x = (v[2].x + v[3].x) / 2;
		ED_xlabel(e)->pos.y = v[2].y + ED_xlabel(e)->dimen.y / 2 + 1;
	}
	return true;
}

/*
 * Straight back from the called chain's left side into the caller's right
 * side just under the row of the rule that jumped (where the caller goes
 * on), between that rule's arrow and the next ones.  False where the
 * jump's arrow is not found: the caller's way then.
 */
static bool gr_into_caller(const struct gr_return *r)
{
	Agedge_t *e = r->e, *call = NULL;
	Agnode_t *t = agtail(e), *h = aghead(e);
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t), hc = ND_coord(h);
	pointf a = {tc.x - ND_width(t) * 36, tc.y};
	pointf tip, d;

	for (Agedge_t *c = agfstout(agroot(h), h); c != NULL && call == NULL;
	     c = agnxtout(agroot(h), c))
		if (aghead(c) == t && ED_spl(c) != NULL &&
		    ED_spl(c)->size == 1 &&
		    agget(c, (char *)"tailport") != NULL &&
		    agget(c, (char *)"tailport")[0] == 'r')
			call = c;
	if (call == NULL)
		return false;
	tip = ED_spl(call)->list[0].sflag ? ED_spl(call)->list[0].sp
					  : ED_spl(call)->list[0].list[0];
	tip.x = hc.x + ND_width(h) * 36;
	tip.y -= 7;
	d = (pointf){tip.x + GR_ARROW, tip.y};
	if (d.x >= a.x || !gr_curve(bz, a, d, tip))
		return false;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (a.x + d.x) / 2;
		ED_label(e)->pos.y = (a.y + d.y) / 2 - ED_label(e)->dimen.y / 2;
	}
	return true;
}

/*
 * From the tail's side along the left of the app (and of the proxy's
 * processes beside it) up to the head's height and into its left side.
 * False where the app does not stand between the two, or no room is
 * left of it: the caller's way then.
 */
static bool gr_way_left(const struct st_graph *g, const struct gr_return *r)
{
	Agedge_t *e = r->e;
	Agnode_t *t = agtail(e), *h = aghead(e), *app = g->app;
	bezier *bz = &ED_spl(e)->list[0];
	pointf tc = ND_coord(t), hc = ND_coord(h), ac = ND_coord(app);
	double ah = ND_height(app) * 36, th = ND_height(t) * 36;
	double pod, x;
	pointf tip = {hc.x - ND_width(h) * 36, hc.y};
	pointf a, v[5];
	int n = 0;

	/* The tail below the app, the head above it. */
	if (g->ntables == 0 || tc.y >= ac.y - ah || hc.y <= ac.y + ah)
		return false;
	/* Halfway between the pod's side and the app's. */
	pod = GD_bb(agparent(g->tables[0])).LL.x;
	x = (pod + ac.x - ND_width(app) * 36) / 2;
	if (tc.x > ac.x) {
		/* A chain right of the app: out of its left side low. */
		a = (pointf){tc.x - ND_width(t) * 36, tc.y - th / 2};
		v[n++] = a;
	} else {
		/* A peer left of the pod: up outside it, in at the head. */
		a = (pointf){tc.x + ND_width(t) * 36, tc.y};
		x = (a.x + pod) / 2;
		if (a.x + 4 >= x)
			return false;
		v[n++] = a;
	}
	v[n++] = (pointf){x, a.y};
	v[n++] = (pointf){x, tip.y};
	v[n++] = (pointf){tip.x - GR_ARROW, tip.y};
	if (tip.x - GR_ARROW <= x || !gr_corners(bz, v, n, tip))
		return false;
	if (ED_label(e) != NULL) {
		ED_label(e)->pos.x = (x + tip.x) / 2;
		ED_label(e)->pos.y = tip.y + ED_label(e)->dimen.y / 2 + 1;
	}
	if (ED_xlabel(e) != NULL) {
		ED_xlabel(e)->pos.x = (x + tip.x) / 2;
		ED_xlabel(e)->pos.y = tip.y + ED_xlabel(e)->dimen.y / 2 + 1;
	}
	return true;
}

/* How many of Envoy's lanes run over @table. */
static unsigned int gr_lanes_of(const struct st_graph *g, Agraph_t *table)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < g->nret; i++)
		if (g->ret[i].lane && g->ret[i].table == table &&
		    g->ret[i].k + 1 > n)
			n = g->ret[i].k + 1;
	return n;
}

/* Edges dot would route badly, drawn after its layout. */
static void gr_reroute(struct st_graph *g)
{
	for (unsigned int i = 0; i < g->nret; i++) {
		Agedge_t *e = g->ret[i].e;

		if (ED_spl(e) == NULL || ED_spl(e)->size != 1)
			continue;
		if (g->ret[i].between && gr_way_between(g, &g->ret[i]))
			continue;
		if (g->ret[i].call_back && gr_into_caller(&g->ret[i]))
			continue;
		if (g->ret[i].left && gr_way_left(g, &g->ret[i]))
			continue;
		if (g->ret[i].lane)
			gr_lane(&g->ret[i]);
		else if (g->ret[i].over)
			gr_over(&g->ret[i], gr_lanes_of(g, g->ret[i].table));
		else if (g->ret[i].into_head)
			gr_into(&g->ret[i]);
		else if (g->ret[i].under != NULL)
			gr_way_under(&g->ret[i]);
		else
			gr_back(&g->ret[i]);
	}
}

int st_graph_layout(struct st_graph *g, char *err)
{
	agusererrf old = NULL;
	int rc = 0;

	if (g->laid_out)
		return 0;
	gr_msg[0] = '\0';
	old = agseterrf(gr_errf);
	if (gr_gvc == NULL) {
		gr_gvc = gvContext();
		if (gr_gvc == NULL) {
			rc = st_err(err, ENOMEM, "gvContext failed");
			goto out;
		}
	}
	if (gvLayout(gr_gvc, g->g, "dot") != 0) {
		rc = st_err(err, EIO, "Graphviz layout failed: %s",
			    gr_msg[0] ? gr_msg : "no message");
		goto out;
	}
	g->laid_out = true;
	gr_reroute(g);
out:
	agseterrf(old);
	return rc;
}

/* ---- measuring the layout -------------------------------------------- */

#define GR_SAMPLES 12 /* points per Bezier segment */
#define GR_MAX_POINTS 2048
#define GR_NEAR 12.0 /* around a shared end, edges may meet */

struct gr_poly {
	Agedge_t *e;
	unsigned int n;
	pointf *pt;
};

struct gr_box {
	double x0, y0, x1, y1;
};

static bool gr_drawn(void *obj)
{
	const char *style = agget(obj, (char *)"style");

	return style == NULL || strstr(style, "invis") == NULL;
}

/* The edge's spline as a polyline, arrowheads included. */
static unsigned int gr_polyline(Agedge_t *e, pointf *pt, unsigned int max)
{
	const splines *sp = ED_spl(e);
	unsigned int n = 0;

	for (int i = 0; sp != NULL && i < sp->size; i++) {
		const bezier *bz = &sp->list[i];

		if (bz->sflag && n < max)
			pt[n++] = bz->sp;
		for (int j = 0; j + 3 < bz->size; j += 3) {
			const pointf *c = &bz->list[j];

			for (int k = j == 0 ? 0 : 1; k <= GR_SAMPLES; k++) {
				double t = (double)k / GR_SAMPLES, u = 1 - t;
				double a = u * u * u, b = 3 * u * u * t;
				double d = 3 * u * t * t, f = t * t * t;

				if (n == max)
					break;
				pt[n].x = a * c[0].x + b * c[1].x + d * c[2].x +
					  f * c[3].x;
				pt[n].y = a * c[0].y + b * c[1].y + d * c[2].y +
					  f * c[3].y;
				n++;
			}
		}
		if (bz->eflag && n < max)
			pt[n++] = bz->ep;
	}
	return n;
}

static double gr_orient(pointf a, pointf b, pointf c)
{
	return (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
}

/* Do segments ab and cd cross properly?  @at receives where. */
static bool gr_cross(pointf a, pointf b, pointf c, pointf d, pointf *at)
{
	double d1 = gr_orient(c, d, a), d2 = gr_orient(c, d, b);
	double d3 = gr_orient(a, b, c), d4 = gr_orient(a, b, d);
	double t;

	if (!((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) ||
	    !((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
		return false;
	t = d1 / (d1 - d2);
	at->x = a.x + t * (b.x - a.x);
	at->y = a.y + t * (b.y - a.y);
	return true;
}

static struct gr_box gr_node_box(Agnode_t *n, double grow)
{
	pointf c = ND_coord(n);
	double w = ND_width(n) * 72 / 2 + grow,
	       h = ND_height(n) * 72 / 2 + grow;
	struct gr_box bx = {c.x - w, c.y - h, c.x + w, c.y + h};

	return bx;
}

static bool gr_in_box(const struct gr_box *bx, pointf p)
{
	return p.x > bx->x0 && p.x < bx->x1 && p.y > bx->y0 && p.y < bx->y1;
}

/* Does the polyline enter the box's inside? */
static bool gr_poly_hits(const struct gr_poly *p, const struct gr_box *bx)
{
	pointf c[4] = {{bx->x0, bx->y0},
		       {bx->x1, bx->y0},
		       {bx->x1, bx->y1},
		       {bx->x0, bx->y1}};
	pointf at;

	if (bx->x1 <= bx->x0 || bx->y1 <= bx->y0)
		return false;
	for (unsigned int i = 0; i < p->n; i++) {
		if (gr_in_box(bx, p->pt[i]))
			return true;
		for (unsigned int k = 0; i > 0 && k < 4; k++)
			if (gr_cross(p->pt[i - 1], p->pt[i], c[k],
				     c[(k + 1) % 4], &at))
				return true;
	}
	return false;
}

static const char *gr_edge_name(Agedge_t *e, char *buf, size_t size)
{
	const char *label = agget(e, (char *)"tooltip");

	snprintf(buf, size, "%s -> %s%s%s%s", agnameof(agtail(e)),
		 agnameof(aghead(e)), label && label[0] ? " (" : "",
		 label ? label : "", label && label[0] ? ")" : "");
	return buf;
}

/* Crossings of two drawn edges, away from the nodes they share. */
static unsigned int gr_pair_crossings(const struct gr_poly *a,
				      const struct gr_poly *b)
{
	Agnode_t *shared[2] = {NULL, NULL};
	struct gr_box near[2];
	unsigned int ns = 0, n = 0;
	Agnode_t *ea[2] = {agtail(a->e), aghead(a->e)};
	Agnode_t *eb[2] = {agtail(b->e), aghead(b->e)};

	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			if (ea[i] == eb[j] && ns < 2 &&
			    (ns == 0 || shared[0] != ea[i]))
				shared[ns++] = ea[i];
	for (unsigned int k = 0; k < ns; k++)
		near[k] = gr_node_box(shared[k], GR_NEAR);
	for (unsigned int i = 1; i < a->n; i++)
		for (unsigned int j = 1; j < b->n; j++) {
			pointf at;
			bool skip = false;

			if (!gr_cross(a->pt[i - 1], a->pt[i], b->pt[j - 1],
				      b->pt[j], &at))
				continue;
			for (unsigned int k = 0; k < ns; k++)
				skip |= gr_in_box(&near[k], at);
			n += !skip;
		}
	return n;
}

static void gr_boxes(Agraph_t *root, Agraph_t *g, const struct gr_poly *p,
		     unsigned int np, struct st_graph_quality *q, FILE *detail)
{
	for (int c = 1; c <= GD_n_cluster(g); c++) {
		Agraph_t *sub = GD_clust(g)[c];
		struct gr_box bx = {GD_bb(sub).LL.x + 1, GD_bb(sub).LL.y + 1,
				    GD_bb(sub).UR.x - 1, GD_bb(sub).UR.y - 1};

		for (unsigned int i = 0; i < np; i++) {
			char name[256];

			if (agsubnode(sub, agtail(p[i].e), 0) != NULL ||
			    agsubnode(sub, aghead(p[i].e), 0) != NULL ||
			    !gr_poly_hits(&p[i], &bx))
				continue;
			q->through_boxes++;
			if (detail != NULL)
				fprintf(detail, "through %s: %s\n",
					agnameof(sub),
					gr_edge_name(p[i].e, name,
						     sizeof(name)));
		}
		gr_boxes(root, sub, p, np, q, detail);
	}
}

int st_graph_quality(struct st_graph *g, struct st_graph_quality *q,
		     FILE *detail, char *err)
{
	struct gr_poly *p = NULL;
	pointf *pts = NULL;
	unsigned int np = 0, used = 0, ne = 0;
	int rc = st_graph_layout(g, err);

	memset(q, 0, sizeof(*q));
	if (rc < 0)
		return rc;
	for (Agnode_t *n = agfstnode(g->g); n != NULL; n = agnxtnode(g->g, n))
		for (Agedge_t *e = agfstout(g->g, n); e != NULL;
		     e = agnxtout(g->g, e))
			ne++;
	p = calloc(ne + 1, sizeof(*p));
	pts = calloc(GR_MAX_POINTS * (size_t)(ne + 1), sizeof(*pts));
	if (p == NULL || pts == NULL) {
		rc = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	for (Agnode_t *n = agfstnode(g->g); n != NULL; n = agnxtnode(g->g, n))
		for (Agedge_t *e = agfstout(g->g, n); e != NULL;
		     e = agnxtout(g->g, e)) {
			if (!gr_drawn(e))
				continue;
			p[np].e = e;
			p[np].pt = pts + used;
			p[np].n = gr_polyline(e, p[np].pt, GR_MAX_POINTS);
			used += GR_MAX_POINTS;
			np++;
		}
	q->edges = np;
	q->width = GD_bb(g->g).UR.x - GD_bb(g->g).LL.x;
	q->height = GD_bb(g->g).UR.y - GD_bb(g->g).LL.y;
	for (unsigned int i = 0; i < np; i++)
		for (unsigned int j = i + 1; j < np; j++) {
			unsigned int c = gr_pair_crossings(&p[i], &p[j]);
			char a[256], b[256];

			q->crossings += c;
			if (c > 0 && detail != NULL)
				fprintf(detail, "cross x%u: %s / %s\n", c,
					gr_edge_name(p[i].e, a, sizeof(a)),
					gr_edge_name(p[j].e, b, sizeof(b)));
		}
	for (Agnode_t *n = agfstnode(g->g); n != NULL; n = agnxtnode(g->g, n)) {
		struct gr_box bx = gr_node_box(n, -2);

		for (unsigned int i = 0; i < np; i++) {
			char name[256];

			if (agtail(p[i].e) == n || aghead(p[i].e) == n ||
			    !gr_poly_hits(&p[i], &bx))
				continue;
			q->through_nodes++;
			if (detail != NULL)
				fprintf(detail, "through %s: %s\n", agnameof(n),
					gr_edge_name(p[i].e, name,
						     sizeof(name)));
		}
	}
	gr_boxes(g->g, g->g, p, np, q, detail);
out:
	free(pts);
	free(p);
	return rc;
}

void st_graph_rendered_size(const struct st_graph *g, double *width,
			    double *height)
{
	const char *size = NULL;
	double w = 0, h = 0, sw = 0, sh = 0, scale = 1;

	if (g->laid_out) {
		w = GD_bb(g->g).UR.x - GD_bb(g->g).LL.x;
		h = GD_bb(g->g).UR.y - GD_bb(g->g).LL.y;
		size = agget(g->g->root, (char *)"size");
	}
	/* Graphviz scales a drawing down to "size" (inches), not up. */
	if (size != NULL && sscanf(size, "%lf,%lf", &sw, &sh) == 2 && w > 0 &&
	    h > 0) {
		if (sw * 72 < w)
			scale = sw * 72 / w;
		if (sh * 72 < h * scale)
			scale = sh * 72 / h;
	}
	/* The SVG's margin: 4 points each side ("pad"). */
	*width = w > 0 ? w * scale + 8 : 0;
	*height = h > 0 ? h * scale + 8 : 0;
}

int st_graph_positions(struct st_graph *g, struct st_graph_pos *pos,
		       unsigned int max, char *err)
{
	Agraph_t *pod = NULL;
	pointf o = {0, 0};
	unsigned int n = 0;
	int rc = st_graph_layout(g, err);

	if (rc < 0)
		return rc;
	pod = agsubg(g->g, (char *)"cluster_pod", 0);
	if (pod != NULL)
		o = GD_bb(pod).LL;
	for (Agnode_t *v = agfstnode(g->g); v != NULL;
	     v = agnxtnode(g->g, v), n++) {
		if (n >= max)
			continue;
		st_strlcpy(pos[n].id, agnameof(v), sizeof(pos[n].id));
		pos[n].x = ND_coord(v).x - o.x;
		pos[n].y = ND_coord(v).y - o.y;
		pos[n].w = ND_width(v) * 72;
		pos[n].h = ND_height(v) * 72;
	}
	return (int)n;
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

	rc = st_graph_layout(g, err);
	if (rc < 0)
		return rc;
	gr_msg[0] = '\0';
	old = agseterrf(gr_errf);
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
