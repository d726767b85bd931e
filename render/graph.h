/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * graph.h - one flow drawn as the article's schematic, with Graphviz
 * (cgraph to build the graph, gvc to lay it out and render it, all in
 * process).
 *
 * The frame: the pod as a cluster (labelled with its name and IP when
 * known) holding the app ("Local Pod") with the proxy's own processes
 * (localhost) below it, Envoy as a record with its outbound, inbound (and
 * DNS proxy) ports as the settings give them, and one cluster per
 * netfilter table that holds a REDIRECT/TPROXY rule with that table's
 * built-in and Istio chains in columns: entry chains (OUTPUT, POSTROUTING,
 * PREROUTING), the Istio chains they jump to, the chains those jump to;
 * outbound chains above inbound ones (nftables: its chain names).  Istio
 * chains of more than one rule show their rules as a table, the rules the
 * flow matched highlighted in its leg's colour.  Left of the pod: Istiod,
 * Remote Pod and Prometheus.  Everything the flow did not visit is faint.
 * With the frame's flows (st_graph_opts.frame) all diagrams of one rule
 * set have every node at the same place: the edges of all of them are laid
 * out, those of the other flows unseen, and labels have one size.
 *
 * The flow: one edge per step of the path text (path.h), numbered in
 * travel order, one colour per leg; an edge leaving a chain whose rule
 * decided is labelled "RULE N" and carries the rule's text as its
 * tooltip.  The edges dot routes poorly are drawn after its layout:
 * Envoy's connections back into OUTPUT in lanes over the table, the way
 * back to the app, the jumps into an Istio chain's title.  The graph's
 * label is the type, one line of the legs' colours and addresses, and the
 * path text.
 *
 * Graph ids are stable (nodes "app", "localhost", "envoy", "remote",
 * "prometheus", "istiod", "TABLE/CHAIN"; clusters "cluster_pod",
 * "cluster_TABLE") and cgraph's object ids count up in creation order, so
 * agwrite() output is a deterministic golden text and a layout is the
 * same on every run.
 */
#ifndef ST_GRAPH_H
#define ST_GRAPH_H

#include <stdbool.h>
#include <stdio.h>

#include "flow.h"

struct st_graph_opts {
	const char *pod_name; /* NULL or "" when unknown */
	const char *pod_ip;   /* NULL or "" when unknown */
	/*
	 * The pod's rules: the frame of chains and the rule rows.  NULL:
	 * only the chains the flow visited are drawn.
	 */
	const struct st_ruleset *rs;
	/* Ports and proxy ids; NULL: the ports the flow's legs show. */
	const struct st_istio_settings *set;
	/*
	 * The flows whose paths shape the layout, e.g. the canonical flows
	 * of the rule set: every diagram drawn with the same frame has its
	 * nodes at the same places (their edges are laid out, unseen, in all
	 * of them).  NULL: the flow's own path alone.  Only read during
	 * st_graph_new(); at most 8 are used.
	 */
	const struct st_flow *const *frame;
	unsigned int nframe;
	bool no_legend; /* no line of leg colours under the title */
};

struct st_graph;

/**
 * st_graph_new() - build the graph of a classified flow (no layout yet).
 * @flow: the flow; only read during the call
 * @opts: pod, rules and settings, or NULL
 * @err: error buffer
 *
 * Return: the graph, or NULL with @err set.
 */
struct st_graph *st_graph_new(const struct st_flow *flow,
			      const struct st_graph_opts *opts, char *err);

/** st_graph_free() - release a graph (and its layout, if any); NULL is ok. */
void st_graph_free(struct st_graph *g);

/**
 * st_graph_write_dot() - the graph as DOT text through agwrite(), without
 * layout: deterministic, for golden files.
 * @g: the graph
 * @out: where to write
 * @err: error buffer
 *
 * Return: 0, or -EIO.
 */
int st_graph_write_dot(struct st_graph *g, FILE *out, char *err);

/**
 * st_graph_render() - lay the graph out with dot and render it to a file.
 * @g: the graph
 * @format: "svg", "png", "pdf" (both need Graphviz's cairo plugin) or
 *          "dot" (agwrite(), no layout)
 * @path: the file to write
 * @err: error buffer; Graphviz's own messages end up here
 *
 * The first call creates one Graphviz context for the whole process; it
 * is never freed (Graphviz 2.43 cannot safely create a second one).  Not
 * thread-safe.
 *
 * Return: 0; -EINVAL for an unknown format; -ENOTSUP when the renderer is
 * not installed; -EIO when layout or rendering failed.
 */
int st_graph_render(struct st_graph *g, const char *format, const char *path,
		    char *err);

/**
 * st_graph_layout() - lay the graph out with dot (once; st_graph_render()
 * does it too).
 * Return: 0, or -ENOMEM / -EIO with @err set.
 */
int st_graph_layout(struct st_graph *g, char *err);

/* How readable a laid-out diagram is: what a reader's eye trips over. */
struct st_graph_quality {
	unsigned int edges;	    /* edges drawn */
	unsigned int crossings;	    /* points where two drawn edges cross */
	unsigned int through_nodes; /* edge over a node that is not its end */
	unsigned int through_boxes; /* edge over a table (or the pod) that
				     * holds neither of its ends */
	double width, height;	    /* the drawing, in points */
};

/**
 * st_graph_quality() - measure the layout (laid out first if need be):
 * every drawn edge as the polyline of its spline, crossings away from the
 * nodes two edges share, and the node and cluster boxes an edge passes.
 * @g: the graph
 * @q: receives the counts
 * @detail: NULL, or where to write one line per fault found
 * @err: error buffer
 *
 * Return: 0, or a negative errno from the layout.
 */
int st_graph_quality(struct st_graph *g, struct st_graph_quality *q,
		     FILE *detail, char *err);

/**
 * st_graph_rendered_size() - the size of the rendered picture at 100 %,
 * in points (1/72 inch), margins and any scaling down included; 0 x 0
 * before a layout.
 */
void st_graph_rendered_size(const struct st_graph *g, double *width,
			    double *height);

/* Where a node stands in the layout. */
struct st_graph_pos {
	char id[96]; /* "app", "envoy", "remote", "nat/OUTPUT", ... */
	double x, y; /* its centre, in points from the pod box's corner */
	double w, h; /* its size, in points */
};

/**
 * st_graph_positions() - the laid-out place of every node (laid out first
 * if need be), in creation order.
 * @g: the graph
 * @pos: where to store them
 * @max: room in @pos
 * @err: error buffer
 *
 * Return: the number of nodes (only the first @max stored), or a negative
 * errno from the layout.
 */
int st_graph_positions(struct st_graph *g, struct st_graph_pos *pos,
		       unsigned int max, char *err);

/**
 * st_graph_format_of() - the format a file name's extension asks for:
 * "svg", "png", "pdf" or "dot" (case-insensitive; ".gv" is "dot"), or
 * NULL when it is none of them.
 */
const char *st_graph_format_of(const char *path);

/**
 * st_graph_render_file() - st_graph_render() with the format picked by
 * @path's extension (st_graph_format_of()); -EINVAL when there is none.
 */
int st_graph_render_file(struct st_graph *g, const char *path, char *err);

/**
 * st_graph_escape() - write @s to @out with the HTML/XML special characters
 * (& < > " ') escaped, for labels and pages.
 */
void st_graph_escape(FILE *out, const char *s);

#endif /* ST_GRAPH_H */
