/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replay.h - offline tracing: --replay FILE runs the flow assembly,
 * classification and output of a live trace on the records of a
 * LINKTYPE_NFLOG capture (pcapin.h), and --write FILE saves a live trace's
 * records and rules (pcapout.h) through the session's tap (session.h).
 *
 * Rules.  A replay names rule text and settings from saved rules: the
 * --rules files when given (they replace the side files), else FILE.rules
 * and FILE.rules6 beside the capture, as --write leaves them.  A tcpdump
 * capture has none: st_replay_side_rules() says so before anything runs.
 *
 * Records.  Only one session's records are used: the one FILE.meta.json
 * names, else the session of the first tagged record (a group shared by
 * two sessions would otherwise count every packet twice); records of
 * other sessions are counted as skipped.  TRACE records carry no session
 * and are always used.  The flow table's clock is the records' own
 * timestamps; at the end of the file every open flow is flushed.
 *
 * What is skipped, and why, is counted: the reader's malformed records
 * (pcapin.h), records of other sessions, and the flow table's skips
 * (untagged, not IP, a chain or rule the rules do not have).  The
 * summary's "skipped" is their sum and its "last skipped record" the first
 * reader skip or else the flow table's latest; the first record naming an
 * unknown chain also gets one note on @diag, and the end a note with the
 * counts per reason.  A file cut short ends the replay with an error after
 * the flows before the cut and the summary were written.
 */
#ifndef ST_REPLAY_H
#define ST_REPLAY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "filter.h"
#include "flow.h"
#include "pcapin.h"
#include "session.h"

#define ST_REPLAY_MAX_RULES 4

struct st_replay_opts {
	const char *capture; /* pcap or pcapng; "-" for stdin */
	const char *rules[ST_REPLAY_MAX_RULES]; /* --rules; none: side files */
	unsigned int nrules;
	uint64_t count;		  /* stop after this many flows; 0: none */
	struct st_filter *filter; /* NULL: all flows */
	/* As struct st_session_opts. */
	int (*write_flow)(FILE *out, const struct st_flow *flow);
	int (*write_summary)(FILE *out, const struct st_flow_stats *stats);
	FILE *out;
	FILE *diag; /* notes, or NULL */
};

struct st_replay_result {
	uint64_t written; /* flows written */
	uint32_t session; /* the session replayed; 0: TRACE records only */
	uint64_t other_session;	    /* records of other sessions, skipped */
	bool count_done;	    /* --count reached */
	bool side_rules;	    /* the rules came from the side files */
	struct st_flow_stats flows; /* as in the summary */
	struct st_pcapin_stats in;
	struct st_filter_stats filter;
	int out_errno; /* writing the output failed: why */
};

/**
 * st_replay_side_rules() - the side rule files beside a capture.
 * @capture: the capture's path
 * @paths: receives up to two paths (FILE.rules, FILE.rules6)
 * @err: error buffer
 *
 * Return: how many exist (0 for a tcpdump capture), or a negative errno.
 */
int st_replay_side_rules(const char *capture, char paths[2][PATH_MAX],
			 char *err);

/**
 * st_replay_write_summary() - the end of a replay's output: @write_summary
 * to @out and a flush, unless writing failed before (*@out_errno set); a
 * failure is kept in *@out_errno.  Shared by st_replay_run() and
 * st_plaincap_run().
 *
 * Return: 0, or the negative errno with @err "writing the output failed".
 */
int st_replay_write_summary(
	FILE *out,
	int (*write_summary)(FILE *out, const struct st_flow_stats *st),
	const struct st_flow_stats *st, int *out_errno, char *err);

/**
 * st_replay_run() - replay a capture: flows to @o->out as they complete,
 * then the summary.
 * @o: capture, rules, filter, output
 * @res: what happened (filled in on every path)
 * @err: error buffer
 *
 * Return: 0; -ENOENT when no rules were given and none lie beside the
 * capture; a negative errno when the rules or the capture cannot be read
 * (nothing written), when the capture is cut short or unreadable in the
 * middle (-EIO/-EBADMSG, after the flows before it and the summary), or
 * when writing the output failed (@res->out_errno).
 */
int st_replay_run(const struct st_replay_opts *o, struct st_replay_result *res,
		  char *err);

struct st_replay_writer;

/**
 * st_replay_writer_open() - create the capture for --write, before the
 * trace touches the target (an existing file is refused).
 * @out: receives the writer
 * @path: the capture; the side files go beside it (pcapout.h)
 * @target: what is traced, for FILE.meta.json
 * @err: error buffer
 *
 * Return: 0, or a negative errno (-EEXIST, -ELOOP, -ENOSPC...).
 */
int st_replay_writer_open(struct st_replay_writer **out, const char *path,
			  const struct st_session_target *target, char *err);

/**
 * st_replay_writer_tap() - the session tap that feeds the writer; pass it
 * with the writer as tap_data in struct st_session_opts.
 */
const struct st_session_tap *st_replay_writer_tap(void);

/**
 * st_replay_writer_failed() - did a write fail (the trace was stopped by
 * it)?  Return: the negative errno, or 0.
 */
int st_replay_writer_failed(const struct st_replay_writer *w);

/** st_replay_writer_records() - records written so far; 0 for NULL. */
uint64_t st_replay_writer_records(const struct st_replay_writer *w);

/**
 * st_replay_writer_close() - flush, finish FILE.meta.json and free.
 * @w: the writer, or NULL
 * @err: error buffer
 *
 * Return: 0, or the first negative errno met (the writer is freed anyway).
 */
int st_replay_writer_close(struct st_replay_writer *w, char *err);

#endif /* ST_REPLAY_H */
