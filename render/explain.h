/* SPDX-License-Identifier: GPL-2.0-or-later */
/* explain.h - --explain output: the settings and every Istio rule's role. */
#ifndef ST_EXPLAIN_H
#define ST_EXPLAIN_H

#include <stdio.h>

#include "istio.h"
#include "rules.h"

/**
 * st_explain_text() - print the settings, then each Istio chain with rule
 * numbers, text and role, unreachable rules flagged.
 * Return: 0, or -EIO when @out failed.
 */
int st_explain_text(FILE *out, const struct st_ruleset *rs,
		    const struct st_istio_settings *set);

/**
 * st_explain_json() - the same as one JSON object (see README).
 * Return: 0, or a negative errno.
 */
int st_explain_json(FILE *out, const struct st_ruleset *rs,
		    const struct st_istio_settings *set);

#endif /* ST_EXPLAIN_H */
