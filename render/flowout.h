/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowout.h - the flows and the summary written to a stream, as a sink
 * (sink.h): one text line per flow (path.h) or JSON Lines (flowjson.h).
 *
 * What a source inferred with a flow (ordinary captures) follows it: one
 * "    inferred: ..." line per note in text, an "inferred" array in the
 * flow's JSON object; or, with ST_FLOWOUT_NOTES_TO_DIAG (when the flows
 * are drawn too), "sidecar-trace: flow N: inferred: ..." lines on diag.
 *
 * The stream's own buffering applies: the sink's sync pushes what was
 * written since the last one (a write error found there is the output
 * error, as one from a write).
 */
#ifndef ST_FLOWOUT_H
#define ST_FLOWOUT_H

#include <stdbool.h>
#include <stdio.h>

#include "sink.h"

enum {
	ST_FLOWOUT_JSON = 1u << 0,	    /* JSON Lines, not text */
	ST_FLOWOUT_NOTES_TO_DIAG = 1u << 1, /* inferences to diag */
};

struct st_flowout;

/**
 * st_flowout_new() - a writer of flows to @out.
 * @out: the stream
 * @diag: where notes go with ST_FLOWOUT_NOTES_TO_DIAG, or NULL
 * @flags: ST_FLOWOUT_*
 *
 * Return: the writer, or NULL when out of memory.
 */
struct st_flowout *st_flowout_new(FILE *out, FILE *diag, unsigned int flags);

/** st_flowout_free() - release a writer; NULL is ok. */
void st_flowout_free(struct st_flowout *w);

/** st_flowout_ops() - the sink callbacks; the writer is their data. */
const struct st_sink_ops *st_flowout_ops(void);

#endif /* ST_FLOWOUT_H */
