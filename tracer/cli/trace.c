// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * trace.c - tracing a live target: the session with its sinks (the flows
 * as text or JSON, -o's drawing, --write's capture) and the closing line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "capwrite.h"
#include "cli-int.h"
#include "drawsink.h"
#include "flowout.h"
#include "pcapout.h"
#include "pipe.h"
#include "target.h"

/* -o while tracing: the frame comes from the rules the session reads. */
struct st_cli_frame {
	struct st_drawsink *draw;
	const struct st_session_tap *tap; /* --write's, chained */
	void *tap_data;
};

static const char *st_cli_signame(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	}
	return "a signal";
}

/*
 * Finish --write after the session: one line when the capture failed.
 * A capture of a session that never attached holds nothing: removed.
 * Return: 0, or 1 when the capture failed (the error was printed).
 */
static int st_cli_write_close(const struct st_cli_opts *o,
			      struct st_capwrite *wr,
			      const struct st_session_result *res, int sret,
			      FILE *err)
{
	static const char *const ext[] = {"rules", "rules6", "meta.json",
					  "envoy.log"};
	char ebuf[ST_ERRBUF_SIZE] = "";
	char side[PATH_MAX];
	bool unused = !res->attached && st_capwrite_records(wr) == 0;
	int failed = st_capwrite_failed(wr);
	int ret;

	ret = st_capwrite_close(wr, ebuf);
	if (unused) {
		unlink(o->write);
		for (size_t i = 0; i < ST_ARRAY_SIZE(ext); i++)
			if (st_pcapout_side_path(side, sizeof(side), o->write,
						 ext[i]) == 0)
				unlink(side);
	}
	if (failed < 0 && sret < 0) {
		fprintf(err,
			ST_PROG
			": --write %s failed: %s; tracing stopped, %s\n",
			o->write, strerror(-failed),
			res->detached ? "the rules were removed"
				      : "see above for the rules");
		return 1;
	}
	if (ret < 0 && !unused) {
		fprintf(err, ST_PROG ": --write %s failed: %s\n", o->write,
			ebuf);
		return 1;
	}
	return 0;
}

/*
 * Rules as the session read them, parsed again for the frame and its
 * canonical flows.  The session asks once, before attaching: after a
 * rewrite the diagrams keep this frame.
 */
static int st_cli_draw_tap_rules(void *data, const struct st_tgt *tgt,
				 char *err)
{
	static const enum st_family fam[] = {ST_FAMILY_IPV4, ST_FAMILY_IPV6};
	struct st_cli_frame *d = data;
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	char ebuf[ST_ERRBUF_SIZE];
	const char *text;
	size_t len;
	int ret = 0;

	if (d->tap != NULL && d->tap->rules != NULL) {
		ret = d->tap->rules(d->tap_data, tgt, err);
		if (ret < 0)
			return ret;
	}
	if (st_drawsink_has_frame(d->draw))
		return 0;
	/* Without a frame the diagrams still draw the visited chains. */
	rs = st_ruleset_new();
	if (rs == NULL)
		goto out;
	if (st_tgt_backend(tgt) == ST_BACKEND_NFTABLES) {
		text = st_tgt_text(tgt, ST_FAMILY_ANY, &len);
		ret = st_rules_load_buf(rs, text, len, "nft", ebuf);
	} else {
		for (size_t i = 0; i < ST_ARRAY_SIZE(fam) && ret == 0; i++) {
			text = st_tgt_text(tgt, fam[i], &len);
			if (len > 0)
				ret = st_rules_load_buf(rs, text, len, "rules",
							ebuf);
		}
	}
	if (ret == 0 &&
	    st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL, ebuf) == 0) {
		st_cli_draw_frame(d->draw, rs, &set);
		rs = NULL;
	}
out:
	st_ruleset_free(rs);
	return 0;
}

static int st_cli_draw_tap_begin(void *data,
				 const struct st_session_result *res, char *err)
{
	struct st_cli_frame *d = data;

	if (d->tap != NULL && d->tap->begin != NULL)
		return d->tap->begin(d->tap_data, res, err);
	return 0;
}

static const struct st_session_tap st_cli_draw_tap = {
	.rules = st_cli_draw_tap_rules,
	.begin = st_cli_draw_tap_begin,
};

/*
 * Finish -o after tracing or replay (what was seen is drawn with the
 * summary, however the trace stopped: a signal too).  Return: 0, or 1
 * when drawing failed (said on @err).
 */
int st_cli_draw_end(struct st_drawsink *d, const char *path, FILE *err)
{
	const char *msg;
	int rc = 0;

	if (d == NULL)
		return 0;
	if (st_drawsink_failed(d, &msg) < 0) {
		st_cli_runtime_error(err, msg);
		rc = 1;
	} else if (st_drawsink_nothing(d)) {
		fprintf(err,
			ST_PROG ": -o %s: no flow was shown, nothing drawn\n",
			path);
	}
	st_drawsink_free(d);
	return rc;
}

/* The closing line on @err: why it stopped and what was left. */
static void st_cli_trace_report(const struct st_session_result *res, FILE *err)
{
	if (res->attached) {
		char why[64];

		if (res->stop == ST_STOP_SIGNAL)
			snprintf(why, sizeof(why), "%s",
				 st_cli_signame(res->signo));
		else
			snprintf(why, sizeof(why), "%s",
				 st_session_stop_name(res->stop));
		fprintf(err,
			ST_PROG ": stopped (%s) after %" PRIu64
				" flows, %" PRIu64 " records lost, %" PRIu64
				" flows evicted (at most %u open); %u rules "
				"removed, %s\n",
			why, res->written, res->nflog.lost, res->flows.evicted,
			res->max_flows, res->instr.nrules,
			res->rules_changed
				? "the rules are as someone else left them "
				  "(their change is kept)"
			: res->reattached > 0
				? "the rules are the rewritten ones"
				: "the rules are as before");
	} else if (res->stop == ST_STOP_SIGNAL) {
		fprintf(err, ST_PROG ": stopped (%s) before tracing began\n",
			st_cli_signame(res->signo));
	}
}

int st_cli_trace(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_session_opts so;
	struct st_session_result res;
	struct st_filter *filter = NULL;
	struct st_capwrite *wr = NULL;
	struct st_drawsink *draw = NULL;
	struct st_flowout *fo = NULL;
	struct st_cli_frame frame;
	char ebuf[ST_ERRBUF_SIZE] = "";
	char label[ST_CLI_LABEL_MAX];
	int rc = 1;
	int ret, wret = 0, dret = 0;

	if (o->envoy_wait_ms != 0 && o->envoy_log == NULL)
		return st_cli_usage_error(
			err, "--envoy-log-wait goes with --envoy-log PATH");
	if (o->envoy_log != NULL && strcmp(o->envoy_log, "auto") == 0 &&
	    o->target.pod == NULL)
		return st_cli_usage_error(
			err,
			"--envoy-log auto finds the log of a pod: it needs --pod NAME (else give the log's path)");
	rc = st_cli_filter(o, &filter, err);
	if (rc >= 0)
		goto out;
	rc = 1;
	if (o->output != NULL) {
		draw = st_drawsink_new(o->output, o->target.pod, ebuf);
		if (draw == NULL) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	if (o->write != NULL) {
		ret = st_capwrite_open(&wr, o->write, &o->target, ebuf);
		if (ret == 0 && o->envoy_log != NULL)
			ret = st_capwrite_keep_envoy(wr, o->write, ebuf);
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	memset(&so, 0, sizeof(so));
	so.tap = wr != NULL ? st_capwrite_tap() : NULL;
	so.tap_data = wr;
	so.target = o->target;
	st_cli_self_label(o, &so.target, label, sizeof(label), err);
	so.log_root = o->host_root;
	so.backend = ST_BACKEND_UNKNOWN;
	so.group = o->group;
	so.duration_ms = o->duration_ms;
	so.count = o->count;
	/*
	 * Empty built-in chains are logged by default: their policy hops
	 * (POSTROUTING, INPUT) are part of the path as the article draws it
	 * and as TRACE and --simulate show it.
	 */
	so.instr_flags = o->skip_empty ? 0 : ST_INSTR_F_ALL_BUILTIN;
	/* A capture keeps one rule set beside it: its records must match. */
	if (o->no_reattach)
		so.no_reattach = "--no-reattach";
	else if (o->write != NULL)
		so.no_reattach = "--write keeps one rule set with its capture";
	if (o->instrument_full)
		so.instr_flags |= ST_INSTR_F_FULL;
	so.rcvbuf = o->rcvbuf;
	so.max_flows = o->max_flows;
	so.filter = filter;
	so.diag = err;
	so.envoy_log = o->envoy_log;
	so.envoy_wait_ms = o->envoy_wait_ms;
	fo = st_flowout_new(out, err, o->json ? ST_FLOWOUT_JSON : 0);
	if (fo == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	if (wr != NULL)
		so.sinks[so.nsinks++] = (struct st_sink){st_capwrite_ops(), wr};
	so.sinks[so.nsinks++] = (struct st_sink){st_flowout_ops(), fo};
	if (draw != NULL) {
		/* -o: the flows are drawn too, the frame from the rules read. */
		so.sinks[so.nsinks++] =
			(struct st_sink){st_drawsink_ops(), draw};
		frame = (struct st_cli_frame){draw, so.tap, so.tap_data};
		so.tap = &st_cli_draw_tap;
		so.tap_data = &frame;
	}
	ret = st_session_run(&so, &res, ebuf);
	dret = st_cli_draw_end(draw, o->output, err);
	draw = NULL;
	if (wr != NULL) {
		wret = st_cli_write_close(o, wr, &res, ret, err);
		wr = NULL;
	}
	if (ret < 0 && wret == 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (ret < 0)
		goto out;
	st_cli_trace_report(&res, err);
	if (wret != 0 || dret != 0)
		goto out;
	rc = 0;
out:
	st_drawsink_free(draw);
	st_capwrite_close(wr, ebuf);
	st_flowout_free(fo);
	st_filter_free(filter);
	return rc;
}
