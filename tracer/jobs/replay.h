/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replay.h - offline tracing: --replay FILE feeds the records of a
 * LINKTYPE_NFLOG capture (pcapin.h) to the pipeline (pipe.h), as a live
 * trace would have; --write (capwrite.h) makes such captures.
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
 * Envoy's access log.  Its entries go to the pipeline in time order with
 * the records: an entry's time is the one its CRI wrapping gives, else its
 * START_TIME plus DURATION (when Envoy wrote it), else the time of the
 * entry before it; the pipeline's clock is moved to it first.  The log's
 * anomalies are said once each on @diag.
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
#include "sink.h"

#define ST_REPLAY_MAX_RULES 4

struct st_replay_opts {
	const char *capture; /* pcap or pcapng; "-" for stdin */
	const char *rules[ST_REPLAY_MAX_RULES]; /* --rules; none: side files */
	unsigned int nrules;
	uint64_t count;		  /* stop after this many flows; 0: none */
	struct st_filter *filter; /* NULL: all flows */
	/* Where the flows and the summary go, in this order (at least one). */
	struct st_sink sinks[ST_SINKS_MAX];
	unsigned int nsinks;
	FILE *diag; /* notes, or NULL */
	/*
	 * Envoy's access log read with the records (envoymatch.h): this
	 * file; NULL: FILE.envoy.log beside the capture when it is there.
	 */
	const char *envoy_log;
	unsigned int envoy_wait_ms; /* 0: ST_ENVOYMATCH_WAIT_MS */
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
	int out_errno;		   /* writing the output failed: why */
	bool envoy_side;	   /* the access log came from FILE.envoy.log */
	char envoy_path[PATH_MAX]; /* the access log read; "" none */
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
 * st_replay_side_envoy() - FILE.envoy.log beside a capture, as --write
 * leaves it.
 * @capture: the capture's path
 * @path: receives the path (PATH_MAX bytes)
 *
 * Return: 1 when it exists, 0 when not, -ENAMETOOLONG.
 */
int st_replay_side_envoy(const char *capture, char *path);

/**
 * st_replay_run() - replay a capture: flows to the sinks as they
 * complete, then the summary.
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

#endif /* ST_REPLAY_H */
