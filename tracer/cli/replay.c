// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay.c - --replay FILE: a capture traced again, NFLOG records or an
 * ordinary capture, with the flows written and, with -o, drawn.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "cli-int.h"
#include "drawsink.h"
#include "flowout.h"
#include "pcapout.h"
#include "pipe.h"
#include "plaincap.h"
#include "replay.h"

int st_cli_replay_rules(const struct st_cli_opts *o,
			const char *paths[ST_MAX_RULE_FILES],
			char side[2][PATH_MAX], char *ebuf)
{
	int n;

	if (o->nrules > 0) {
		for (unsigned int i = 0; i < o->nrules; i++)
			paths[i] = o->rules[i];
		return (int)o->nrules;
	}
	n = st_replay_side_rules(o->replay, side, ebuf);
	for (int i = 0; i < n; i++)
		paths[i] = side[i];
	return n;
}

/*
 * -o for a replay: the pod named in FILE.meta.json, and the frame from
 * --rules, else the capture's side files, laid out as `--diagram all`
 * lays out those rules.  Without them the diagrams show only the chains
 * visited.
 */
static struct st_drawsink *st_cli_replay_draw(const struct st_cli_opts *o,
					      char *ebuf)
{
	struct st_istio_settings set;
	struct st_pcapout_meta meta;
	struct st_drawsink *d;
	struct st_ruleset *rs = NULL;
	const char *paths[ST_MAX_RULE_FILES];
	const char *pod = o->target.pod, *slash;
	char side[2][PATH_MAX];
	char merr[ST_ERRBUF_SIZE];
	int n;

	/* Optional: a plain tcpdump capture has no side files. */
	if (st_pcapout_read_meta(o->replay, &meta, merr) == 0 &&
	    meta.pod[0] != '\0') {
		slash = strchr(meta.pod, '/');
		pod = slash ? slash + 1 : meta.pod;
	}
	d = st_drawsink_new(o->output, pod, ebuf);
	if (d == NULL)
		return NULL;
	n = st_cli_replay_rules(o, paths, side, merr);
	if (n <= 0 || st_cli_load(o, paths, (unsigned int)n, &rs, merr) < 0)
		return d;
	if (st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL, merr) < 0)
		st_ruleset_free(rs);
	else
		st_cli_draw_frame(d, rs, &set);
	return d;
}

/* NFLOG records, or an ordinary capture whose paths are simulated. */
static int st_cli_replay_run(const struct st_cli_opts *o,
			     struct st_filter *filter,
			     const struct st_sink *sinks, unsigned int nsinks,
			     FILE *err, char *ebuf)
{
	struct st_replay_result res;
	struct st_plaincap_result pres;
	struct st_replay_opts ro;
	struct st_plaincap_opts po;

	if (st_plaincap_probe(o->replay, ebuf) == 1) {
		memset(&po, 0, sizeof(po));
		po.capture = o->replay;
		for (unsigned int i = 0; i < o->nrules; i++)
			po.rules[po.nrules++] = o->rules[i];
		po.count = o->count;
		po.filter = filter;
		memcpy(po.sinks, sinks, nsinks * sizeof(*sinks));
		po.nsinks = nsinks;
		po.diag = err;
		return st_plaincap_run(&po, &pres, ebuf);
	}
	memset(&ro, 0, sizeof(ro));
	ro.capture = o->replay;
	ro.envoy_log = o->envoy_log;
	ro.envoy_wait_ms = o->envoy_wait_ms;
	for (unsigned int i = 0; i < o->nrules; i++)
		ro.rules[ro.nrules++] = o->rules[i];
	ro.count = o->count;
	ro.filter = filter;
	memcpy(ro.sinks, sinks, nsinks * sizeof(*sinks));
	ro.nsinks = nsinks;
	ro.diag = err;
	return st_replay_run(&ro, &res, ebuf);
}

int st_cli_replay_envoy_check(const struct st_cli_opts *o, FILE *err)
{
	char side[PATH_MAX];

	if (o->envoy_log != NULL && strcmp(o->envoy_log, "auto") == 0)
		return st_cli_usage_error(
			err,
			"--envoy-log auto follows a live pod's log: give the log's file with --replay");
	if (o->envoy_wait_ms != 0 && o->envoy_log == NULL &&
	    (strcmp(o->replay, "-") == 0 ||
	     st_replay_side_envoy(o->replay, side) != 1))
		return st_cli_usage_error(
			err,
			"--envoy-log-wait goes with an access log: --envoy-log PATH, or %s.envoy.log beside the capture",
			o->replay);
	return -1;
}

int st_cli_replay(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_filter *filter = NULL;
	struct st_drawsink *draw = NULL;
	struct st_flowout *fo = NULL;
	struct st_sink sinks[2];
	unsigned int nsinks = 0;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	rc = st_cli_replay_envoy_check(o, err);
	if (rc >= 0)
		return rc;
	rc = st_cli_filter(o, &filter, err);
	if (rc >= 0)
		goto out;
	rc = 1;
	if (o->output != NULL) {
		draw = st_cli_replay_draw(o, ebuf);
		if (draw == NULL) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	/* When drawing, the inferences of an ordinary capture go to err. */
	fo = st_flowout_new(out, err,
			    (o->json ? ST_FLOWOUT_JSON : 0) |
				    (draw ? ST_FLOWOUT_NOTES_TO_DIAG : 0));
	if (fo == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	sinks[nsinks++] = (struct st_sink){st_flowout_ops(), fo};
	if (draw != NULL)
		sinks[nsinks++] = (struct st_sink){st_drawsink_ops(), draw};
	ret = st_cli_replay_run(o, filter, sinks, nsinks, err, ebuf);
	if (draw != NULL && st_cli_draw_end(draw, o->output, err) != 0)
		ret = ret < 0 ? ret : -EIO;
	else if (ret < 0)
		st_cli_runtime_error(err, ebuf);
	draw = NULL;
	if (ret < 0)
		goto out;
	rc = 0;
out:
	st_drawsink_free(draw);
	st_flowout_free(fo);
	st_filter_free(filter);
	return rc;
}
