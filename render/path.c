// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * path.c - the article's notation for a flow, and the summary table (see
 * path.h for which chains show and how they read).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "classify.h"
#include "path.h"

#define PT_MAX_DEPTH 16

/* A bounded builder that still counts what did not fit. */
struct pt_buf {
	char *buf;
	size_t size;
	size_t len;
	unsigned int ntok;
};

/*
 * @n bytes of @s, with vsnprintf()'s semantics (what fits, always
 * terminated, the full length counted): the path is formatted once per
 * flow on the replay and live paths, where the printf machinery showed in
 * the profile.
 */
static void pt_mem(struct pt_buf *b, const char *s, size_t n)
{
	size_t room = b->len < b->size ? b->size - b->len : 0;

	if (room > 0) {
		size_t k = n < room - 1 ? n : room - 1;

		memcpy(b->buf + b->len, s, k);
		b->buf[b->len + k] = '\0';
	}
	b->len += n;
}

/* "%s" (glibc prints NULL as "(null)"). */
static void pt_str(struct pt_buf *b, const char *s)
{
	if (s == NULL)
		s = "(null)";
	pt_mem(b, s, strlen(s));
}

/* "%u" */
static void pt_uint(struct pt_buf *b, unsigned int v)
{
	char d[16];
	char *p = d + sizeof(d);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	pt_mem(b, p, (size_t)(d + sizeof(d) - p));
}

#define pt_lit(b, s) pt_mem((b), "" s, sizeof(s) - 1)

/* How a ztunnel port reads after its number. */
static const char *pt_ztunnel_port(enum st_capture c)
{
	switch (c) {
	case ST_CAPTURE_OUTBOUND:
		return " (Outbound)";
	case ST_CAPTURE_INBOUND:
		return " (Inbound)";
	case ST_CAPTURE_TUNNEL:
		return " (HBONE)";
	case ST_CAPTURE_DNS:
		return " (DNS)";
	default:
		return "";
	}
}

static void pt_sep(struct pt_buf *b)
{
	if (b->ntok++ > 0)
		pt_lit(b, " -> ");
}

/* The steps found so far; counts past @max too. */
struct pt_steps {
	struct st_path_step *v;
	unsigned int max;
	unsigned int n;
	unsigned int leg;
	bool ambient;		  /* the flow's ports are ztunnel's */
	struct st_path_step sink; /* the steps that do not fit */
};

static struct st_path_step *pt_step(struct pt_steps *s,
				    enum st_path_step_kind kind)
{
	struct st_path_step *p = s->n < s->max ? &s->v[s->n] : &s->sink;

	s->n++;
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->leg = s->leg;
	return p;
}

static void pt_chain(struct pt_steps *s, const struct st_flow_hop *first,
		     const struct st_flow_hop *dec, enum st_path_note note)
{
	struct st_path_step *p = pt_step(s, ST_PATH_CHAIN);

	p->name = first->chain;
	p->hop = first;
	p->dec = dec;
	p->note = note;
	if (note == ST_PATH_NOTE_RULE)
		p->rule = dec->rule;
}

static bool pt_is_jump(enum st_target_kind k)
{
	return k == ST_T_JUMP || k == ST_T_GOTO;
}

static bool pt_leaves(const struct st_flow_hop *h)
{
	return h->kind == ST_HIT_RULE && h->r != NULL &&
	       (pt_is_jump(h->r->target.kind) ||
		st_target_is_verdict(h->r->target.kind));
}

/* Which hops of a leg show: see path.h. */
struct pt_view {
	const char *table;	/* nat, or the decisive table */
	unsigned int run_first; /* the redirect's own traversal, when it */
	unsigned int run_last;	/* is in another table than nat */
	bool run;
};

static bool pt_shown(const struct st_flow_leg *l, const struct pt_view *v,
		     unsigned int i)
{
	const struct st_flow_hop *h = &l->hops[i];

	if (!h->builtin && !h->istio)
		return false;
	if (v->run && i >= v->run_first && i <= v->run_last)
		return true;
	return v->table != NULL && strcmp(h->table, v->table) == 0;
}

static void pt_view_of(const struct st_flow_leg *l, struct pt_view *v)
{
	const struct st_flow_hop *r = NULL;

	memset(v, 0, sizeof(*v));
	v->table = l->nat_table != NULL ? l->nat_table : l->decisive_table;
	if (v->table == NULL && l->nhops > 0)
		v->table = l->hops[0].table;
	if (l->redirect_hop < 0 || (unsigned int)l->redirect_hop >= l->nhops)
		return;
	r = &l->hops[l->redirect_hop];
	if (v->table != NULL && strcmp(r->table, v->table) == 0)
		return;
	v->run = true;
	v->run_last = (unsigned int)l->redirect_hop;
	v->run_first = v->run_last;
	while (v->run_first > 0 &&
	       strcmp(l->hops[v->run_first - 1].table, r->table) == 0)
		v->run_first--;
}

struct pt_stack {
	const struct st_flow_hop *frame[PT_MAX_DEPTH];
	unsigned int depth;
};

static int pt_find(const struct pt_stack *s, const struct st_flow_hop *h)
{
	for (unsigned int i = s->depth; i > 0; i--)
		if (strcmp(s->frame[i - 1]->chain, h->chain) == 0 &&
		    strcmp(s->frame[i - 1]->table, h->table) == 0)
			return (int)i - 1;
	return -1;
}

static void pt_segment(struct pt_steps *b, struct pt_stack *s,
		       const struct st_flow_hop *hops, unsigned int from,
		       unsigned int to)
{
	const struct st_flow_hop *first = &hops[from];
	const struct st_flow_hop *last = &hops[to - 1];
	const struct st_flow_hop *dec = NULL;
	const struct st_flow_hop *any = NULL;
	int at = pt_find(s, first);
	bool activation = at < 0 || first->kind == ST_HIT_ENTER;

	for (unsigned int i = from; i < to; i++) {
		if (pt_leaves(&hops[i]))
			dec = &hops[i];
		if (hops[i].kind == ST_HIT_RULE)
			any = &hops[i];
	}
	if (dec == NULL)
		dec = any;
	if (activation) {
		if (at >= 0)
			s->depth = (unsigned int)at;
		if (s->depth < PT_MAX_DEPTH)
			s->frame[s->depth++] = first;
	} else {
		s->depth = (unsigned int)at + 1;
	}

	if (first->builtin) {
		bool verdict = dec != NULL && dec->r != NULL &&
			       st_target_is_verdict(dec->r->target.kind) &&
			       (dec->r->role != ST_ROLE_NONE ||
				dec->r->target.kind == ST_T_REDIRECT ||
				dec->r->target.kind == ST_T_TPROXY);

		if (verdict)
			pt_chain(b, first, dec, ST_PATH_NOTE_RULE);
		else if (activation)
			pt_chain(b, first, dec, ST_PATH_NOTE_NONE);
	} else if (activation) {
		if (dec == NULL && last->kind == ST_HIT_RETURN)
			pt_chain(b, first, dec, ST_PATH_NOTE_NO_MATCH);
		else if (dec == NULL)
			pt_chain(b, first, dec, ST_PATH_NOTE_INCOMPLETE);
		else if (dec->chain_rules > 1)
			pt_chain(b, first, dec, ST_PATH_NOTE_RULE);
		else
			pt_chain(b, first, dec, ST_PATH_NOTE_NONE);
	} else if (dec != NULL) {
		pt_chain(b, first, dec, ST_PATH_NOTE_RULE);
	}

	/* Where the walk goes after the segment's last hop. */
	if (last->kind == ST_HIT_POLICY) {
		s->depth = 0;
	} else if (last->kind == ST_HIT_RETURN) {
		if (s->depth > 0)
			s->depth--;
	} else if (last->kind == ST_HIT_RULE && last->r != NULL) {
		if (last->r->target.kind == ST_T_RETURN) {
			if (s->depth > 0)
				s->depth--;
		} else if (st_target_is_verdict(last->r->target.kind)) {
			s->depth = 0;
		}
	}
}

static void pt_leg(struct pt_steps *b, const struct st_flow_leg *l)
{
	unsigned int end = l->nhops;
	struct pt_view v;
	struct pt_stack s;
	unsigned int i = 0;

	pt_view_of(l, &v);
	if (l->redirect_hop >= 0 && (unsigned int)l->redirect_hop < l->nhops)
		end = (unsigned int)l->redirect_hop + 1;
	s.depth = 0;
	while (i < end) {
		unsigned int j = i + 1;

		if (!pt_shown(l, &v, i)) {
			i++;
			continue;
		}
		while (j < end && pt_shown(l, &v, j) &&
		       strcmp(l->hops[j].table, l->hops[i].table) == 0 &&
		       strcmp(l->hops[j].chain, l->hops[i].chain) == 0 &&
		       l->hops[j].kind != ST_HIT_ENTER)
			j++;
		pt_segment(b, &s, l->hops, i, j);
		i = j;
	}
}

static void pt_sidecar(struct pt_steps *b, const struct st_flow_leg *l)
{
	struct st_path_step *p = pt_step(b, ST_PATH_SIDECAR);

	p->capture = l->capture;
	p->port = l->redirect_port;
	p->ztunnel = b->ambient;
}

static const char *pt_start(const struct st_flow *f)
{
	static const char *const start[ST_TYPE_MAX + 1] = {
		NULL,	      "Remote Pod", "Local Pod",
		"Prometheus", "Local Pod",  "Envoy process (Localhost)",
		"Local Pod",  "Local Pod",  "Remote Pod",
		"Remote Pod", "Local Pod",  "Kubelet",
		"Local Pod",  "ztunnel",
	};
	const struct st_flow_leg *l = &f->legs[0];

	if (f->type > 0 && f->type <= ST_TYPE_MAX)
		return start[f->type];
	if (l->arriving)
		return "Remote Pod";
	if (l->proxy)
		return f->ambient ? "ztunnel" : "Sidecar";
	return "Local Pod";
}

static const char *pt_end(const struct st_flow *f)
{
	static const char *const end[ST_TYPE_MAX + 1] = {
		NULL,	      "Local Pod",  "Remote Pod",
		"Local Pod",  "Local Pod",  "Envoy process (Localhost)",
		"Istiod",     "Remote Pod", "Local Pod",
		"Local Pod",  "Local Pod",  "Local Pod",
		"DNS Server", "Remote Pod",
	};
	const struct st_flow_leg *l = &f->legs[f->nlegs - 1];

	if (f->type > 0 && f->type <= ST_TYPE_MAX)
		return end[f->type];
	if (l->arriving)
		return "Local Pod";
	if (st_flow_addr_is_loopback(l->family, l->dst))
		return "Localhost";
	if (strcmp(l->outdev, "lo") == 0)
		return "Local Pod";
	return "Remote Pod";
}

/* The peers the article draws outside the pod. */
static bool pt_outside(const char *name)
{
	return strcmp(name, "Remote Pod") == 0 ||
	       strcmp(name, "Prometheus") == 0 || strcmp(name, "Istiod") == 0 ||
	       strcmp(name, "Kubelet") == 0 || strcmp(name, "DNS Server") == 0;
}

unsigned int st_path_steps(const struct st_flow *f, struct st_path_step *v,
			   unsigned int max)
{
	struct pt_steps b = {.v = v, .max = max, .ambient = f->ambient};
	const struct st_flow_leg *last = NULL;
	struct st_path_step *p = NULL;

	if (f->nlegs == 0)
		return 0;
	p = pt_step(&b, ST_PATH_START);
	p->name = pt_start(f);
	p->outside = pt_outside(p->name);
	for (unsigned int i = 0; i < f->nlegs; i++) {
		b.leg = i;
		pt_leg(&b, &f->legs[i]);
		if (f->legs[i].capture != ST_CAPTURE_NONE)
			pt_sidecar(&b, &f->legs[i]);
	}
	last = &f->legs[f->nlegs - 1];
	/* ztunnel answered the query itself: the path ends there. */
	if (f->type == ST_TYPE_AMB_DNS && last->capture == ST_CAPTURE_DNS)
		return b.n;
	if (last->capture == ST_CAPTURE_NONE || f->type != 0) {
		p = pt_step(&b, ST_PATH_END);
		p->name = pt_end(f);
		p->outside = pt_outside(p->name);
	}
	return b.n;
}

static void pt_token(struct pt_buf *b, const struct st_path_step *p)
{
	switch (p->kind) {
	case ST_PATH_START:
	case ST_PATH_END:
		pt_str(b, p->name);
		break;
	case ST_PATH_CHAIN:
		pt_str(b, p->name);
		switch (p->note) {
		case ST_PATH_NOTE_RULE:
			pt_lit(b, " RULE ");
			pt_uint(b, p->rule);
			break;
		case ST_PATH_NOTE_NO_MATCH:
			pt_lit(b, " (no match)");
			break;
		case ST_PATH_NOTE_INCOMPLETE:
			pt_lit(b, " (records missing)");
			break;
		default:
			break;
		}
		break;
	case ST_PATH_SIDECAR:
		if (p->ztunnel) {
			pt_lit(b, "ztunnel ");
			pt_uint(b, p->port);
			pt_str(b, pt_ztunnel_port(p->capture));
			break;
		}
		switch (p->capture) {
		case ST_CAPTURE_OUTBOUND:
			pt_lit(b, "Envoy ");
			pt_uint(b, p->port);
			pt_lit(b, " (Outbound)");
			break;
		case ST_CAPTURE_INBOUND:
			pt_lit(b, "Envoy ");
			pt_uint(b, p->port);
			pt_lit(b, " (Inbound)");
			break;
		case ST_CAPTURE_DNS:
			pt_lit(b, "DNS proxy ");
			pt_uint(b, p->port);
			break;
		default:
			pt_lit(b, "port ");
			pt_uint(b, p->port);
			break;
		}
		break;
	}
}

int st_path_step_format(const struct st_path_step *p, char *buf, size_t size)
{
	struct pt_buf b = {.buf = buf, .size = size};

	if (size > 0)
		buf[0] = '\0';
	pt_token(&b, p);
	return (int)b.len;
}

int st_path_format(const struct st_flow *f, char *buf, size_t size)
{
	struct st_path_step v[ST_PATH_MAX_STEPS];
	struct pt_buf b = {.buf = buf, .size = size};
	unsigned int n = st_path_steps(f, v, ST_PATH_MAX_STEPS);

	if (size > 0)
		buf[0] = '\0';
	for (unsigned int i = 0; i < n && i < ST_PATH_MAX_STEPS; i++) {
		pt_sep(&b);
		pt_token(&b, &v[i]);
	}
	return (int)b.len;
}

int st_path_print(FILE *out, const struct st_flow *f)
{
	char path[1024];
	char src[ST_FLOW_ADDR_SIZE] = "?";
	char dst[ST_FLOW_ADDR_SIZE] = "?";
	int n = 0;

	st_path_format(f, path, sizeof(path));
	if (f->nlegs > 0) {
		const struct st_flow_leg *l = &f->legs[0];

		st_flow_addr_format(l->family, l->src, l->sport, src,
				    sizeof(src));
		st_flow_addr_format(l->family, l->dst, l->dport, dst,
				    sizeof(dst));
	}
	if (f->type == 0)
		n = fprintf(out, "[0 %s] %s  (%s -> %s; %s)\n",
			    st_class_name(f->klass, f->type), path, src, dst,
			    f->reason);
	else if (f->reason[0] != '\0')
		n = fprintf(out, "[%d %s] %s  (%s -> %s; %s)\n", f->type,
			    st_class_type_name(f->type), path, src, dst,
			    f->reason);
	else
		n = fprintf(out, "[%d %s] %s  (%s -> %s)\n", f->type,
			    st_class_type_name(f->type), path, src, dst);
	for (unsigned int i = 0; f->reqs != NULL && i < f->reqs->n && n >= 0;
	     i++) {
		char req[512];

		st_path_req_format(&f->reqs->req[i], req, sizeof(req));
		n = fprintf(out, "    envoy: %s\n", req);
	}
	if (f->reqs != NULL && f->reqs->total > f->reqs->n && n >= 0)
		n = fprintf(out, "    envoy: %" PRIu64 " more\n",
			    f->reqs->total - f->reqs->n);
	return n < 0 ? -EIO : 0;
}

void st_path_req_format(const struct st_flow_req *r, char *buf, size_t size)
{
	char host[ST_FLOW_ADDR_SIZE] = "-";
	char code[16] = "-";
	char dur[32] = "";
	const char *sp = r->flags[0] != '\0' ? " " : "";
	size_t n = 0;

	if (r->host_family != 0)
		st_flow_addr_format(r->host_family, r->host, r->host_port, host,
				    sizeof(host));
	if (r->has_duration)
		snprintf(dur, sizeof(dur), ", %" PRIu64 " ms", r->duration_ms);
	if (r->has_code)
		snprintf(code, sizeof(code), "%u", r->code);
	if (r->tcp)
		n = (size_t)snprintf(buf, size, "TCP%s%s", sp, r->flags);
	else
		n = (size_t)snprintf(buf, size, "%s %s%s -> %s%s%s",
				     r->method[0] != '\0' ? r->method : "-",
				     r->authority, r->path, code, sp, r->flags);
	if (n < size)
		snprintf(buf + n, size - n, " (upstream %s%s%s%s)", host,
			 r->cluster[0] != '\0' ? " " : "", r->cluster, dur);
}

/* The access log's counts; the rarer ones only when they happened. */
static void st_path_envoy_summary(FILE *out,
				  const struct st_flow_envoy_stats *e)
{
	fprintf(out,
		"access log: lines: %" PRIu64 "  matched: %" PRIu64
		"  no traced leg: %" PRIu64 "  unparsed: %" PRIu64
		"  flows without a line: %" PRIu64 "\n",
		e->lines, e->matched, e->no_leg, e->unparsed, e->flows_no_line);
	if (e->no_address + e->absorbed + e->split + e->dropped > 0)
		fprintf(out,
			"access log: no downstream address: %" PRIu64
			"  legs moved in: %" PRIu64 "  legs moved out: %" PRIu64
			"  released early (full): %" PRIu64 "\n",
			e->no_address, e->absorbed, e->split, e->dropped);
	if (e->rotated + e->deleted > 0)
		fprintf(out,
			"access log: rotated or truncated: %" PRIu64
			"  deleted: %" PRIu64 "\n",
			e->rotated, e->deleted);
}

int st_path_summary(FILE *out, const struct st_flow_stats *st)
{
	bool amb = st_class_stats_ambient(st);
	uint64_t per_flow = 0;

	fprintf(out, "%-4s %-22s %8s\n", "type", "name", "flows");
	for (int t = amb ? ST_TYPE_AMBIENT_MIN : 1;
	     t <= (amb ? ST_TYPE_MAX : ST_TYPE_SIDECAR_MAX); t++)
		fprintf(out, "%-4d %-22s %8" PRIu64 "\n", t,
			st_class_type_name(t), st->by_type[t]);
	fprintf(out, "%-4d %-22s %8" PRIu64 "\n", 0, st_class_type_name(0),
		st->by_type[0]);
	for (int c = ST_CLASS_NONE + 1; c < ST_CLASS__MAX; c++)
		if (st->by_class[c] > 0)
			fprintf(out, "%-4s   %-20s %8" PRIu64 "\n", "",
				st_class_name((enum st_class)c, 0),
				st->by_class[c]);
	fprintf(out, "%-4s %-22s %8" PRIu64 "\n", "", "total", st->flows);
	/* In hundredths, rounded half up as the JSON summary's. */
	per_flow = st->flows ? (st->records * 200 / st->flows + 1) / 2 : 0;
	fprintf(out,
		"records: %" PRIu64 " (%" PRIu64 ".%02" PRIu64
		" per flow)  lost: %" PRIu64 "  skipped: %" PRIu64
		"  evicted flows: %" PRIu64 "\n",
		st->records, per_flow / 100, per_flow % 100, st->lost,
		st->skipped, st->evicted);
	if (st->skipped > 0)
		fprintf(out, "last skipped record: %s\n", st->last_skip);
	if (st->envoy.given)
		st_path_envoy_summary(out, &st->envoy);
	return ferror(out) ? -EIO : 0;
}
