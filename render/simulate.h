/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * simulate.h - the output of --simulate and --diagram: a predicted flow
 * with what happened to each of its legs.
 *
 * The evaluator's result reaches this stage as a view (the source stage
 * is above render): per leg its --simulate spec, the verdict's name
 * ("sent", "local", "dropped", "undecidable", "forwarded"), where the
 * packet went, and where it stopped.
 *
 * Text: the path line (path.h), then per leg
 *   "  leg N: SPEC\n         sent to ADDR via DEV[, redirected to port P]"
 * and a last "note: ..." line when there is a note.  JSON: the flow's
 * object (flowjson.h) with a "simulate" member {"spec", "note", "legs":
 * [{"verdict", "to", "via", "via_lo", "at"}]}.
 */
#ifndef ST_SIMULATE_H
#define ST_SIMULATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "flow.h"

#define ST_SIMULATE_SPEC_SIZE 256

struct st_simulate_leg {
	char spec[ST_SIMULATE_SPEC_SIZE]; /* the leg as a --simulate SPEC */
	const char *verdict;		  /* the evaluator's verdict name */
	char to[ST_FLOW_ADDR_SIZE];	  /* where it was sent / delivered */
	const char *via;		  /* the device it left by, or "" */
	bool via_lo;			  /* delivered over lo */
	const char *at;			  /* where it stopped, or "" */
};

struct st_simulate_view {
	const struct st_flow *flow; /* the legs, classified */
	const char *note;	    /* the evaluator's note, or "" */
	struct st_simulate_leg legs[ST_FLOW_MAX_LEGS];
};

/**
 * st_simulate_text() - the path line, each leg's fate and the note.
 * Return: 0, or -EIO when writing failed.
 */
int st_simulate_text(FILE *out, const struct st_simulate_view *v);

/**
 * st_simulate_json() - the flow's JSON object with "simulate" added.
 * @v: the view
 * @spec: the --simulate SPEC the flow came from, or NULL
 *
 * Return: a new reference, or NULL when out of memory.
 */
json_t *st_simulate_json(const struct st_simulate_view *v, const char *spec);

/**
 * st_simulate_write_json() - st_simulate_json() as one line on @out.
 * Return: 0, -ENOMEM or -EIO.
 */
int st_simulate_write_json(FILE *out, const struct st_simulate_view *v,
			   const char *spec);

#endif /* ST_SIMULATE_H */
