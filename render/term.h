/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * term.h - a flow's path drawn in the terminal as boxes and arrows, one
 * box per step of the path text (path.h: the same chains, rule numbers
 * and endpoints), e.g. at 60 columns:
 *
 *      ┌───────────┐   ┌────────┐   ┌─────────────────────┐
 *      │ Local Pod │──→│ OUTPUT │──→│ ISTIO_OUTPUT RULE 9 │──┐
 *      └───────────┘   └────────┘   └─────────────────────┘  │
 *      ╰┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄ pod ┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄  │
 *   ┌────────────────────────────────────────────────────────┘
 *   │  ┌────────────────┐   ┌────────────────────────┐
 *   └─→│ ISTIO_REDIRECT │──→│ Envoy 15001 (Outbound) │──→ ...
 *
 * Rows read left to right and are wrapped to the width; a connector
 * leads from the end of one row to the start of the next.  Under each
 * row a brace marks the boxes inside the pod (everything but Remote Pod,
 * Prometheus and Istiod), open at an end where the pod goes on in the
 * next or previous row.  A box whose text is wider than a row allows
 * wraps it over several lines.  UTF-8 box drawing, or plain ASCII
 * (+-| --> and a `.... pod ....' brace); no colour.
 */
#ifndef ST_TERM_H
#define ST_TERM_H

#include <stdbool.h>
#include <stdio.h>

#include "flow.h"

#define ST_TERM_MIN_WIDTH 24  /* narrower widths are taken as this */
#define ST_TERM_MAX_WIDTH 512 /* wider widths are taken as this */

struct st_term_opts {
	unsigned int width; /* columns; 0: 80 */
	bool utf8;	    /* box drawing characters; else ASCII */
	/*
	 * Leave out the heading line "[2 local-to-remote]  SRC -> DST"
	 * (type 0: "[0 CLASS]  SRC -> DST; REASON"), e.g. when the caller
	 * printed the path text just before.
	 */
	bool no_title;
};

/**
 * st_term_detect() - the settings for the terminal the process runs in:
 * the width from COLUMNS (80 when unset or not a number), UTF-8 when the
 * locale's character set (setlocale(LC_CTYPE, ""), nl_langinfo(CODESET))
 * is UTF-8.  The process's LC_CTYPE is left as it was.
 * @opts: filled in; no_title is set false
 */
void st_term_detect(struct st_term_opts *opts);

/**
 * st_term_render() - draw a classified flow's path.
 * @out: where to write; nothing is written for a flow without legs
 * @flow: the flow
 * @opts: width and character set; NULL: 80 columns, ASCII, with heading
 * @err: error buffer
 *
 * Allocates nothing.
 *
 * Return: 0, or -EIO when writing failed.
 */
int st_term_render(FILE *out, const struct st_flow *flow,
		   const struct st_term_opts *opts, char *err);

#endif /* ST_TERM_H */
