/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowjson.h - flows as JSON Lines (--json), through jansson.
 *
 * One object per flow, keys always in this order:
 *   {"type": 2, "type_name": "local-to-remote", "class": "local-to-remote",
 *    "reason": null, "path": "Local Pod -> ...",
 *    "legs": [{"src": "10.0.0.5:41234", "dst": "10.96.0.20:80",
 *              "proto": "tcp", "uid": 1000, "gid": 1000,
 *              "hops": [{"table": "nat", "chain": "OUTPUT", "rule": 0,
 *                        "kind": "enter"}, ...],
 *              "redirect_port": 15001,
 *              "in": null, "out": "eth0", "ts": "2026-...Z",
 *              "packets": 1, "complete": true}, ...]}
 * "class" is the type name for types 1-6 and the class (bypass,
 * excluded-port, ...) for type 0; "reason" is a string for type 0 and
 * null otherwise.  "dst" is the destination before any NAT; IPv6
 * addresses are written "[addr]:port".  "uid"/"gid" are null when the
 * kernel gave none (arriving packets).  "rule" is the original rule
 * number; for "return" (fell off the end of a user chain) the position
 * after its last rule, as the kernel's TRACE reports it; 0 for "enter"
 * and "policy".  "redirect_port" is present only
 * when a REDIRECT/TPROXY sent the leg to a sidecar port.  "in"/"out" are
 * the interface names (null when none), "ts" the first record's time
 * (UTC), "packets" the packets of the connection seen, and "complete"
 * false with a "why" when records are missing ("hops_truncated": true
 * when the walk had more hops than kept).
 *
 * The last line is {"summary": {"flows": N, "by_type": {"0": .., ...,
 * "6": ..}, "by_class": {"bypass": .., ...}, "records": N, "lost": N,
 * "skipped": N, "evicted": N}}.
 */
#ifndef ST_FLOWJSON_H
#define ST_FLOWJSON_H

#include <jansson.h>
#include <stdio.h>

#include "flow.h"

/**
 * st_flowjson_flow() - the JSON object of a classified flow.
 * @flow: the flow
 * @path: its path text (st_path_format()), or NULL to compute it
 *
 * Return: a new reference, or NULL when out of memory.
 */
json_t *st_flowjson_flow(const struct st_flow *flow, const char *path);

/**
 * st_flowjson_summary() - the {"summary": {...}} object.
 * Return: a new reference, or NULL when out of memory.
 */
json_t *st_flowjson_summary(const struct st_flow_stats *stats);

/**
 * st_flowjson_write() - one flow as one compact line.
 * Return: 0, -ENOMEM, or -EIO when writing failed.
 */
int st_flowjson_write(FILE *out, const struct st_flow *flow);

/**
 * st_flowjson_write_summary() - the summary line.
 * Return: 0, -ENOMEM, or -EIO when writing failed.
 */
int st_flowjson_write_summary(FILE *out, const struct st_flow_stats *stats);

#endif /* ST_FLOWJSON_H */
