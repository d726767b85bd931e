/* SPDX-License-Identifier: GPL-2.0-or-later */
/* findings.h - --check output: the findings, as text or one JSON object. */
#ifndef ST_FINDINGS_H
#define ST_FINDINGS_H

#include <stdio.h>

#include "check.h"

/**
 * st_findings_text() - one line per finding ("SEVERITY  CODE  message"),
 * the rule concerned and capture examples indented below it, then a count
 * per severity.
 * Return: 0, or -EIO when @out failed.
 */
int st_findings_text(FILE *out, const struct st_check *c);

/**
 * st_findings_json() - {"findings": [...], "errors": N, "warnings": N,
 * "info": N}; a finding has severity, code, message and, when they apply,
 * rule {table, chain, family, number, text}, pid, comm, uid, gid, ports,
 * count, examples.
 * Return: 0, or a negative errno.
 */
int st_findings_json(FILE *out, const struct st_check *c);

#endif /* ST_FINDINGS_H */
