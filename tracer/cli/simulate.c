// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * simulate.c - --simulate and --diagram: connections predicted from saved
 * rules by the evaluator, fed to a pipeline whose sink writes them
 * (render/simulate.h) and, with -o, drawn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli-int.h"
#include "diagram.h"
#include "drawsink.h"
#include "flowjson.h"
#include "path.h"
#include "pipe.h"
#include "scenario.h"
#include "simulate.h"
#include "term.h"

/* The output of predicted flows: a sink, the flow at hand in its data. */
struct st_cli_sim {
	FILE *out;
	bool json;
	bool diagram; /* --diagram: "from --simulate" lines, boxes */
	bool boxes;   /* without -o the path is drawn here, as boxes */
	bool more;    /* another flow follows this one */
	struct st_term_opts term;
	struct st_simulate_view view;
	const char *spec;
	char ebuf[ST_ERRBUF_SIZE];
};

/* The pod's address of @family in @env, for the diagram's pod label. */
static const char *st_cli_pod_ip(const struct st_eval_env *env, uint8_t family,
				 char *buf, size_t size)
{
	for (unsigned int i = 0; i < env->naddrs; i++)
		if (env->addrs[i].family == family)
			return inet_ntop(family == 4 ? AF_INET : AF_INET6,
					 env->addrs[i].addr, buf,
					 (socklen_t)size);
	return NULL;
}

/* The --simulate spec of one simulated leg. */
static void st_cli_leg_spec(const struct st_flow_leg *l, char *buf, size_t size)
{
	struct st_simspec s;

	memset(&s, 0, sizeof(s));
	s.family = l->family;
	s.proto = l->proto;
	memcpy(s.src, l->src, sizeof(s.src));
	memcpy(s.dst, l->dst, sizeof(s.dst));
	s.sport = l->sport;
	s.dport = l->dport;
	s.outgoing = !l->arriving;
	s.has_uid = l->has_uid;
	s.uid = l->uid;
	s.has_gid = l->has_gid;
	s.gid = l->gid;
	if (l->arriving)
		st_strlcpy(s.iif, l->indev[0] ? l->indev : "eth0",
			   sizeof(s.iif));
	else if (!l->has_uid && !l->has_gid)
		st_strlcpy(s.oif, l->outdev[0] ? l->outdev : "eth0",
			   sizeof(s.oif));
	st_simspec_format(&s, buf, size);
}

/* The view of an evaluator's result that render/simulate.h writes. */
static void st_cli_sim_view(const struct st_eval_result *r,
			    struct st_simulate_view *v)
{
	memset(v, 0, sizeof(*v));
	v->flow = &r->flow;
	v->note = r->note;
	for (unsigned int i = 0; i < r->flow.nlegs; i++) {
		const struct st_eval_info *in = &r->info[i];
		struct st_simulate_leg *l = &v->legs[i];

		st_cli_leg_spec(&r->flow.legs[i], l->spec, sizeof(l->spec));
		l->verdict = st_eval_verdict_name(in->verdict);
		st_flow_addr_format(r->flow.legs[i].family, in->dst, in->dport,
				    l->to, sizeof(l->to));
		l->via = in->oif;
		l->via_lo = in->via_lo;
		l->at = in->at;
	}
}

static int st_cli_sim_flow(void *data, const struct st_flow *flow,
			   const struct st_sink_notes *notes)
{
	struct st_cli_sim *s = data;

	(void)notes;
	if (s->json)
		return st_simulate_write_json(s->out, &s->view, s->spec);
	if (!s->diagram)
		return st_simulate_text(s->out, &s->view);
	if (st_path_print(s->out, flow) < 0 ||
	    fprintf(s->out, "  from --simulate '%s'\n", s->spec) < 0)
		return -EIO;
	if (s->boxes && (st_term_render(s->out, flow, &s->term, s->ebuf) < 0 ||
			 (s->more && fputc('\n', s->out) == EOF)))
		return -EIO;
	return 0;
}

static int st_cli_sim_summary(void *data, const struct st_flow_stats *stats)
{
	struct st_cli_sim *s = data;

	return s->json ? st_flowjson_write_summary(s->out, stats) : 0;
}

static const struct st_sink_ops st_cli_sim_ops = {
	.flow = st_cli_sim_flow,
	.summary = st_cli_sim_summary,
};

/* A pipeline of no flow table into @s. */
static struct st_pipe *st_cli_sim_pipe(struct st_cli_sim *s, FILE *err)
{
	struct st_pipe_opts po = {0};
	struct st_pipe *p = NULL;

	if (st_pipe_new(&p, &po, s->ebuf) < 0 ||
	    st_pipe_add_sink(p, &st_cli_sim_ops, s) < 0) {
		st_cli_runtime_error(err, "out of memory");
		st_pipe_free(p);
		return NULL;
	}
	return p;
}

/* The saved rules of --simulate and --diagram, analysed. */
static int st_cli_load_analyzed(const struct st_cli_opts *o,
				struct st_ruleset **rs,
				struct st_istio_settings *set, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";

	if (st_cli_load(o, o->rules, o->nrules, rs, ebuf) < 0 ||
	    st_pipe_rules_accept(*rs, set, ST_PIPE_USE_ANY, NULL, ebuf) < 0) {
		st_cli_runtime_error(err, ebuf);
		st_ruleset_free(*rs);
		*rs = NULL;
		return -1;
	}
	return 0;
}

static void st_cli_draw_opts(struct st_graph_opts *g, const char *pod_ip,
			     const struct st_ruleset *rs,
			     const struct st_istio_settings *set)
{
	memset(g, 0, sizeof(*g));
	g->pod_ip = pod_ip;
	g->rs = rs;
	g->set = set;
}

/* The pod of --pod-ip: its addresses replace the lab's (and its VIP). */
static void st_cli_sim_env(const struct st_cli_opts *o, struct st_eval_env *env)
{
	struct st_prefix lab[ST_EVAL_MAX_ADDRS];
	unsigned int nlab = env->naddrs;

	if (o->npod_ips == 0)
		return;
	memcpy(lab, env->addrs, sizeof(lab));
	env->naddrs = o->npod_ips;
	memcpy(env->addrs, o->pod_ips, sizeof(env->addrs));
	/* The VIP that leads back to the lab's pod leads to this one. */
	for (unsigned int v = 0; v < env->nvips; v++) {
		struct st_eval_vip *vip = &env->vips[v];
		size_t len = vip->family == 4 ? 4 : 16;

		for (unsigned int a = 0; a < nlab; a++) {
			if (lab[a].family != vip->family ||
			    memcmp(lab[a].addr, vip->ep, len) != 0)
				continue;
			for (unsigned int b = 0; b < env->naddrs; b++)
				if (env->addrs[b].family == vip->family) {
					memcpy(vip->ep, env->addrs[b].addr,
					       len);
					break;
				}
		}
	}
}

/* Draw @flow for --simulate / --diagram -o FILE. */
static int st_cli_draw_one(const char *path, const struct st_flow *flow,
			   const struct st_graph_opts *g, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";

	if (st_diagram_check_path(path, ebuf) < 0 ||
	    st_diagram_write_file(flow, g, path, ebuf) < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	return 0;
}

/*
 * -o for flows computed at once: a file gets the first, a directory each
 * (NULL entries skipped).  0, or 1 with the failure reported.
 */
static int st_cli_draw_flows(const char *path,
			     const struct st_flow *const *flows, size_t n,
			     const struct st_graph_opts *g, FILE *err)
{
	struct st_diagram *dg = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int ret;

	if (st_diagram_is_file(path))
		return st_cli_draw_one(path, flows[0], g, err);
	ret = st_diagram_check_path(path, ebuf);
	if (ret == 0) {
		dg = st_diagram_new(path, NULL, g, ebuf);
		ret = dg ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		if (flows[i] != NULL)
			st_diagram_add(dg, flows[i]);
	if (ret == 0)
		ret = st_diagram_write(dg, ebuf);
	if (ret < 0)
		st_cli_runtime_error(err, ebuf);
	st_diagram_free(dg);
	return ret < 0 ? 1 : 0;
}

int st_cli_simulate(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_eval_result *r = NULL;
	struct st_ruleset *rs = NULL;
	struct st_pipe *pipe = NULL;
	struct st_flow_stats stats;
	struct st_graph_opts g;
	struct st_eval_env env;
	struct st_cli_sim *s = NULL;
	char spec[256], ip[INET6_ADDRSTRLEN];
	int rc = 1;
	int ret;

	if (st_cli_load_analyzed(o, &rs, &set, err) < 0)
		goto out;
	r = calloc(1, sizeof(*r));
	s = calloc(1, sizeof(*s));
	if (r == NULL || s == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	st_eval_env_lab(&env, rs, &set);
	st_cli_sim_env(o, &env);
	ret = st_eval_flow(&env, &o->spec, r, s->ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, s->ebuf);
		goto out;
	}
	st_simspec_format(&o->spec, spec, sizeof(spec));
	s->out = out;
	s->json = o->json;
	s->spec = spec;
	st_cli_sim_view(r, &s->view);
	pipe = st_cli_sim_pipe(s, err);
	if (pipe == NULL)
		goto out;
	st_pipe_flow(pipe, &r->flow, NULL);
	st_pipe_stats(pipe, &stats);
	ret = st_pipe_finish(pipe, &stats, s->ebuf);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	if (o->output != NULL) {
		const struct st_flow *flow = &r->flow;

		st_cli_draw_opts(
			&g, st_cli_pod_ip(&env, o->spec.family, ip, sizeof(ip)),
			rs, &set);
		if (st_cli_draw_flows(o->output, &flow, 1, &g, err) != 0)
			goto out;
	}
	rc = 0;
out:
	st_pipe_free(pipe);
	free(s);
	free(r);
	st_ruleset_free(rs);
	return rc;
}

/*
 * The flows that shape every diagram of a rule set: all its canonical
 * ones, in their order (graph.h skips the NULL ones).
 */
static void st_cli_frame_flows(const struct st_scenarios *sc,
			       const struct st_flow *frame[ST_SCENARIO_COUNT])
{
	for (size_t i = 0; i < ST_SCENARIO_COUNT; i++)
		frame[i] = st_scenario_flow(sc, i);
}

void st_cli_draw_frame(struct st_drawsink *d, struct st_ruleset *rs,
		       const struct st_istio_settings *set)
{
	const struct st_flow *frame[ST_SCENARIO_COUNT];
	struct st_scenarios *sc;
	char ebuf[ST_ERRBUF_SIZE];

	/* Rules the evaluator cannot follow still give the chains' frame. */
	sc = st_scenario_run(rs, set, ebuf);
	if (sc == NULL) {
		st_drawsink_set_frame(d, rs, set, NULL, 0);
		return;
	}
	st_cli_frame_flows(sc, frame);
	st_drawsink_set_frame(d, rs, set, frame, ST_SCENARIO_COUNT);
	st_scenario_free(sc);
}

int st_cli_diagram(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_scenarios *sc = NULL;
	struct st_ruleset *rs = NULL;
	struct st_pipe *pipe = NULL;
	const struct st_flow *flow;
	const struct st_flow *frame[ST_SCENARIO_COUNT];
	struct st_flow_stats stats;
	struct st_graph_opts g;
	struct st_eval_env env;
	struct st_cli_sim *s = NULL;
	char ip[INET6_ADDRSTRLEN];
	const char *pod_ip = NULL;
	size_t first = 0, last = ST_SCENARIO_COUNT;
	int rc = 1;
	int ret;

	if (st_cli_load_analyzed(o, &rs, &set, err) < 0)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	sc = st_scenario_run(rs, &set, s->ebuf);
	if (sc == NULL) {
		st_cli_runtime_error(err, s->ebuf);
		goto out;
	}
	if (o->diagram > 0) {
		/* The types of the other kind of pod have no canonical flow. */
		while (first < last &&
		       st_scenario_type(sc, first) != o->diagram)
			first++;
		if (first == last) {
			snprintf(s->ebuf, sizeof(s->ebuf),
				 "--diagram %d: not a traffic type of %s pod "
				 "(its types are %d-%d)",
				 o->diagram,
				 set.kind == ST_ISTIO_AMBIENT ? "an ambient"
							      : "a sidecar",
				 st_scenario_type(sc, 0),
				 st_scenario_type(sc, last - 1));
			st_cli_runtime_error(err, s->ebuf);
			goto out;
		}
		last = first + 1;
	}
	flow = st_scenario_flow(sc, first);
	st_eval_env_lab(&env, rs, &set);
	if (flow != NULL && flow->nlegs > 0)
		pod_ip = st_cli_pod_ip(&env, flow->legs[0].family, ip,
				       sizeof(ip));
	st_cli_draw_opts(&g, pod_ip, rs, &set);
	/* All six shape each diagram: their nodes stand at the same places. */
	st_cli_frame_flows(sc, frame);
	g.frame = frame;
	g.nframe = ST_SCENARIO_COUNT;
	s->out = out;
	s->json = o->json;
	s->diagram = true;
	s->boxes = o->output == NULL;
	st_term_detect(&s->term);
	s->term.no_title = true; /* the path line is the heading */
	pipe = st_cli_sim_pipe(s, err);
	if (pipe == NULL)
		goto out;
	for (size_t i = first; i < last; i++) {
		const struct st_eval_result *r = st_scenario_result(sc, i);

		if (r == NULL)
			continue;
		st_cli_sim_view(r, &s->view);
		s->spec = st_scenario_spec(sc, i);
		s->more = i + 1 < last;
		if (st_pipe_flow(pipe, &r->flow, NULL) == ST_CB_STOP)
			break;
	}
	st_pipe_stats(pipe, &stats);
	ret = st_pipe_finish(pipe, &stats, s->ebuf);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	if (o->output != NULL) {
		const struct st_flow *flows[ST_SCENARIO_COUNT];

		for (size_t i = first; i < last; i++)
			flows[i - first] = st_scenario_flow(sc, i);
		if (st_cli_draw_flows(o->output, flows, last - first, &g,
				      err) != 0)
			goto out;
	}
	rc = 0;
out:
	st_pipe_free(pipe);
	free(s);
	st_scenario_free(sc);
	st_ruleset_free(rs);
	return rc;
}
