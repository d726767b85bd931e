/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * drawsink.h - -o PATH while tracing or replaying: the flows shown are
 * drawn too, as a sink (sink.h) stacked after the one that writes them.
 *
 * A PATH that names a file (diagram.h) receives the first flow shown; a
 * directory receives the first flow of each type, drawn with the summary
 * (the kept flows point into the rules of the run, which outlive it).
 * The frame (the pod's chains) comes from rules handed over with
 * st_drawsink_set_frame(); without them the diagrams show only the chains
 * visited.  With the rules come the flows that shape the layout (graph.h),
 * the canonical flows of those rules: each diagram then has its nodes
 * where `--diagram` puts them in the canonical diagram of its type, so a
 * live or replayed flow can be laid beside its schematic.  A drawing error
 * does not stop the run: it is kept and told by st_drawsink_failed() at
 * the end.
 */
#ifndef ST_DRAWSINK_H
#define ST_DRAWSINK_H

#include <stdbool.h>

#include "flow.h"
#include "istio.h"
#include "rules.h"
#include "sink.h"

struct st_drawsink;

/**
 * st_drawsink_new() - a sink that draws into @path.
 * @path: a diagram file or a directory (checked: st_diagram_check_path())
 * @pod_name: the pod named in the frame, or NULL (copied)
 * @err: error buffer
 *
 * Return: the sink's data, or NULL with @err set.
 */
struct st_drawsink *st_drawsink_new(const char *path, const char *pod_name,
				    char *err);

/* At most this many flows shape the layout (as st_graph_opts.frame). */
#define ST_DRAWSINK_MAX_FRAME 8

/**
 * st_drawsink_set_frame() - the rules of the frame and the flows whose
 * paths shape the layout.
 * @d: the sink
 * @rs: the rules, analysed; the sink takes them (freed with it)
 * @set: their settings (copied)
 * @flows: classified flows on @rs, e.g. its canonical flows, in the order
 *         `--diagram` lays them out; NULL entries are skipped.  Copied
 *         (without their requests); their hops point into @rs.
 * @nflows: how many; 0: each flow is laid out on its own
 *
 * Ignored (and @rs freed) once drawing began.
 */
void st_drawsink_set_frame(struct st_drawsink *d, struct st_ruleset *rs,
			   const struct st_istio_settings *set,
			   const struct st_flow *const *flows,
			   unsigned int nflows);

/** st_drawsink_has_frame() - were rules handed over, or drawing begun? */
bool st_drawsink_has_frame(const struct st_drawsink *d);

/**
 * st_drawsink_failed() - the first drawing error, or 0.
 * @d: the sink
 * @msg: receives its message (valid until st_drawsink_free())
 */
int st_drawsink_failed(const struct st_drawsink *d, const char **msg);

/**
 * st_drawsink_nothing() - one file was asked for, the run ended and no
 * flow was shown: nothing was drawn.
 */
bool st_drawsink_nothing(const struct st_drawsink *d);

/** st_drawsink_free() - release the sink and its frame; NULL is ok. */
void st_drawsink_free(struct st_drawsink *d);

/** st_drawsink_ops() - the sink callbacks; the st_drawsink is their data. */
const struct st_sink_ops *st_drawsink_ops(void);

#endif /* ST_DRAWSINK_H */
