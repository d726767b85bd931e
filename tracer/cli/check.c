// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check.c - --check: what is wrong or surprising in the interception, for
 * saved rules, a live target or a replayed capture (whose flows the check
 * takes as a sink).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli-int.h"
#include "findings.h"
#include "pipe.h"
#include "replay.h"
#include "target.h"

/* The rules a check reads: --rules, else (replay) the side files. */
static int st_cli_check_rules(const struct st_cli_opts *o,
			      struct st_ruleset **out, char *ebuf)
{
	const char *paths[ST_MAX_RULE_FILES];
	char side[2][PATH_MAX];
	int n;

	n = st_cli_replay_rules(o, paths, side, ebuf);
	if (n < 0)
		return n;
	if (n == 0)
		return st_err(ebuf, ENOENT,
			      "%s: no rules beside it: give --rules",
			      o->replay);
	return st_cli_load(o, paths, (unsigned int)n, out, ebuf);
}

/* The rules of a live target; none is a finding, not a failure. */
static int st_cli_check_target(const struct st_cli_opts *o, int *fd,
			       struct st_ruleset **rs,
			       struct st_istio_settings *set, char *ebuf)
{
	struct st_tgt *tgt = NULL;
	int ret;

	*fd = st_session_target_open(&o->target, NULL, 0, ebuf);
	ret = *fd < 0 ? *fd : st_tgt_read(*fd, NULL, &tgt, ebuf);
	if (ret == -ENODATA) {
		set->kind = ST_ISTIO_NONE;
		st_strlcpy(set->note, ebuf, sizeof(set->note));
		*rs = st_ruleset_new();
		ret = *rs ? 0 : st_err(ebuf, ENOMEM, "out of memory");
	} else if (ret == 0) {
		*rs = st_tgt_take_rules(tgt);
		ret = st_pipe_rules_accept(*rs, set, ST_PIPE_USE_ANY, NULL,
					   ebuf);
	}
	st_tgt_free(tgt);
	return ret;
}

/* --replay FILE --check: the capture's flows go to the check. */
static int st_cli_check_replay(const struct st_cli_opts *o, struct st_check *c,
			       struct st_filter *filter, FILE *err, char *ebuf)
{
	struct st_replay_result res;
	struct st_replay_opts ro;

	memset(&ro, 0, sizeof(ro));
	ro.capture = o->replay;
	for (unsigned int i = 0; i < o->nrules; i++)
		ro.rules[ro.nrules++] = o->rules[i];
	ro.count = o->count;
	ro.filter = filter;
	ro.envoy_log = o->envoy_log;
	ro.envoy_wait_ms = o->envoy_wait_ms;
	ro.sinks[ro.nsinks++] = (struct st_sink){st_check_sink_ops(), c};
	ro.diag = err;
	return st_replay_run(&ro, &res, ebuf);
}

int st_cli_check(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set = {0};
	struct st_filter *filter = NULL;
	struct st_ruleset *rs = NULL;
	struct st_check *c = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int fd = -1;
	int ret;

	if (o->replay != NULL) {
		rc = st_cli_replay_envoy_check(o, err);
		if (rc >= 0)
			return rc;
		rc = 1;
	}
	c = st_check_new();
	if (c == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	if (o->nrules > 0 || o->replay != NULL) {
		ret = st_cli_check_rules(o, &rs, ebuf);
		if (ret == 0)
			ret = st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY,
						   NULL, ebuf);
	} else {
		ret = st_cli_check_target(o, &fd, &rs, &set, ebuf);
	}
	if (ret == 0)
		ret = st_check_rules(c, rs, &set, ebuf);
	if (ret == 0 && fd >= 0)
		ret = st_check_live(c, fd, &set, NULL, ebuf);
	if (ret == 0 && o->replay != NULL) {
		rc = st_cli_filter(o, &filter, err);
		if (rc >= 0)
			goto out;
		rc = 1;
		ret = st_cli_check_replay(o, c, filter, err, ebuf);
	}
	if (ret == 0)
		ret = st_check_finish(c, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	ret = o->json ? st_findings_json(out, c) : st_findings_text(out, c);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	/* Findings, errors included, are the output: exit 0 (check.h). */
	rc = 0;
out:
	st_filter_free(filter);
	st_check_free(c);
	st_ruleset_free(rs);
	if (fd >= 0)
		close(fd);
	return rc;
}
