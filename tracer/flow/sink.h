/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sink.h - where a pipeline's output goes (pipe.h).
 *
 * A sink is a table of optional callbacks and the pointer they are given
 * first (the libmnl convention).  The pipeline calls the sinks in the
 * order they were added:
 *   - rec: every record as it arrives, before anything else looks at it
 *     (the --write capture writer);
 *   - envoy: every entry of Envoy's access log as it is read (the same);
 *   - flow: every flow the filter selects (text, JSON Lines, terminal
 *     boxes, diagrams, --check);
 *   - summary: once at the end, with the run's counters;
 *   - sync: push buffered output out (before the source sleeps, after
 *     each flow when asked, and after the summary);
 *   - end: the run is over, whatever stopped it (a diagram directory is
 *     drawn here); its result is the sink's own business.
 *
 * Return values.  rec and envoy: 0, or a negative errno with @err filled in: the
 * source stops with that error.  flow, summary and sync: 0, or the
 * negative errno of the failed write (-EPIPE, -ENOSPC...): the pipeline
 * records it as its output error and writes nothing more.
 */
#ifndef ST_SINK_H
#define ST_SINK_H

#include "envoy.h"
#include "flow.h"
#include "record.h"

#define ST_SINK_MAX_NOTES 8
#define ST_SINK_NOTE_SIZE 200

/*
 * What a source inferred while making a flow (ordinary captures), said
 * with the flow, in the order the inferences were made.
 */
struct st_sink_notes {
	unsigned int n;
	char note[ST_SINK_MAX_NOTES][ST_SINK_NOTE_SIZE];
};

struct st_sink_ops {
	int (*rec)(void *data, const struct st_rec *rec, char *err);
	int (*envoy)(void *data, const struct st_envoy_req *req, char *err);
	/* @notes: NULL for flows of the flow table */
	int (*flow)(void *data, const struct st_flow *flow,
		    const struct st_sink_notes *notes);
	int (*summary)(void *data, const struct st_flow_stats *stats);
	int (*sync)(void *data);
	void (*end)(void *data);
};

/* A sink as a job hands it to a source's options: its callbacks and data. */
struct st_sink {
	const struct st_sink_ops *ops;
	void *data;
};

#define ST_SINKS_MAX 8 /* sinks one pipeline takes at most */

#endif /* ST_SINK_H */
