/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipe.h - the one pipeline every source feeds: records, losses and time
 * go in, selected flows and the summary come out through sinks (sink.h).
 *
 * The pipeline owns the flow table (assemble.h) when it is given rules,
 * the filter's per-record notes and per-flow selection (filter.h), the
 * counters of the flows written (per type and per class), --count and the
 * output error.  Sources only feed it:
 *   - live NFLOG and NFLOG captures: st_pipe_rec(), st_pipe_lost(),
 *     st_pipe_time(), and st_pipe_flush() at the end;
 *   - Envoy's access log: st_pipe_envoy() with each entry;
 *   - ordinary captures (the evaluator) and --simulate: st_pipe_flow()
 *     with flows made elsewhere (no rules given: no flow table);
 * then st_pipe_finish() writes the summary.
 *
 * Sessions.  With one_session, only one tracing session's records are
 * used: the one st_pipe_set_session() names, else the session of the first
 * tagged record; records of other sessions are counted (other_session)
 * and go no further than the record sinks.  TRACE records carry no
 * session and are always used.
 *
 * Stopping.  Once a flow sink failed (the output error) or --count flows
 * were written, the pipeline writes nothing more and every feeding call
 * returns ST_CB_STOP; the source ends its loop.  The summary is written
 * unless the output failed.
 *
 * Library rules apply: nothing is printed (the sinks write), nothing
 * exits; notes go to the caller's diag stream.
 */
#ifndef ST_PIPE_H
#define ST_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "assemble.h"
#include "common.h"
#include "envoy.h"
#include "filter.h"
#include "flow.h"
#include "istio.h"
#include "record.h"
#include "rules.h"
#include "sink.h"

#define ST_PIPE_MAX_SINKS ST_SINKS_MAX

struct st_pipe_opts {
	/* The rules records refer to (must outlive the pipeline); NULL: no
	 * flow table, flows come from st_pipe_flow(). */
	const struct st_ruleset *rs;
	const struct st_istio_settings *set; /* with @rs */
	const struct st_flow_opts *table;    /* NULL: the table's defaults */
	struct st_filter *filter;	     /* NULL: every flow */
	uint64_t count;			     /* stop after this many; 0: none */
	bool one_session;		     /* see above */
	bool sync_each; /* sync the sinks after each flow */
	/*
	 * Envoy's access log is read (st_pipe_envoy()): flows with an Envoy
	 * side wait up to @envoy_wait_ms for its lines (envoymatch.h).
	 */
	bool envoy_log;
	unsigned int envoy_wait_ms; /* 0: ST_ENVOYMATCH_WAIT_MS */
	/*
	 * Called with every flow before the filter (selected or not);
	 * returns the flow to go on with (@flow or a copy it owns).  NULL:
	 * none.
	 */
	const struct st_flow *(*prepare)(void *data,
					 const struct st_flow *flow);
	void *prepare_data;
};

struct st_pipe_result {
	uint64_t written;	/* flows the sinks took */
	uint64_t lost;		/* records the source said it lost */
	uint64_t other_session; /* records of other sessions, skipped */
	uint32_t session;	/* the session used; 0: none known */
	bool count_done;	/* --count reached */
	int out_errno;		/* a flow sink failed: why (positive) */
};

struct st_pipe;

/**
 * st_pipe_new() - create a pipeline without sinks.
 * @out: receives the pipeline
 * @o: rules, filter, limits
 * @err: error buffer
 *
 * Return: 0, or a negative errno (-ENOMEM).
 */
int st_pipe_new(struct st_pipe **out, const struct st_pipe_opts *o, char *err);

/** st_pipe_free() - release a pipeline (the sinks are the caller's). */
void st_pipe_free(struct st_pipe *p);

/**
 * st_pipe_add_sink() - add a sink after those already added.
 * @p: the pipeline
 * @ops: its callbacks (must outlive the pipeline)
 * @data: given to each callback first
 *
 * Return: 0, or -ENOSPC beyond ST_PIPE_MAX_SINKS.
 */
int st_pipe_add_sink(struct st_pipe *p, const struct st_sink_ops *ops,
		     void *data);

/** st_pipe_set_session() - the session whose records are used. */
void st_pipe_set_session(struct st_pipe *p, uint32_t session);

/**
 * st_pipe_rec() - one record, in arrival order: to the record sinks, then
 * (when of the session used) to the filter and the flow table.
 * @p: the pipeline
 * @rec: the record
 * @err: error buffer
 *
 * Return: ST_CB_OK, ST_CB_STOP when the pipeline stopped, or a negative
 * errno (a record sink failed, or the flow table did).
 */
int st_pipe_rec(struct st_pipe *p, const struct st_rec *rec, char *err);

/**
 * st_pipe_lost() - the source lost @n records (counted; the flow table
 * marks what they may touch).  Return: ST_CB_OK.
 */
int st_pipe_lost(struct st_pipe *p, uint64_t n);

/**
 * st_pipe_gap() - @n records are missing before the next record of the
 * session used (a capture's sequence gap): counted now, told to the flow
 * table with that record.  Return: ST_CB_OK.
 */
int st_pipe_gap(struct st_pipe *p, uint64_t n);

/**
 * st_pipe_time() - advance the flow table's clock to @now and emit what
 * timed out.  Return: as st_pipe_rec().
 */
int st_pipe_time(struct st_pipe *p, const struct timespec *now, char *err);

/**
 * st_pipe_envoy() - one entry of Envoy's access log, as it is read: to the
 * sinks that keep entries (--write), then, when the pipeline was made with
 * envoy_log, matched with the flows (envoymatch.h) on the pipeline's
 * clock (the latest record or st_pipe_time()).
 * @p: the pipeline
 * @req: the entry
 * @err: error buffer
 *
 * Return: as st_pipe_rec().
 */
int st_pipe_envoy(struct st_pipe *p, const struct st_envoy_req *req, char *err);

/**
 * st_pipe_flow() - a flow made elsewhere, through the filter to the sinks.
 * @p: the pipeline
 * @flow: the flow
 * @notes: what the source inferred, said with the flow; or NULL
 *
 * Return: ST_CB_OK, or ST_CB_STOP when the pipeline stopped.
 */
int st_pipe_flow(struct st_pipe *p, const struct st_flow *flow,
		 const struct st_sink_notes *notes);

/**
 * st_pipe_flush() - the end of the records: every open flow is emitted
 * (nothing when the pipeline stopped).  Return: as st_pipe_rec().
 */
int st_pipe_flush(struct st_pipe *p, char *err);

/**
 * st_pipe_sync() - push the sinks' buffered output out.
 * Return: 0, or the negative output error (kept as the pipeline's).
 */
int st_pipe_sync(struct st_pipe *p);

/**
 * st_pipe_stopped() - did the output fail or --count end the run?
 */
bool st_pipe_stopped(const struct st_pipe *p);

/**
 * st_pipe_set_rules() - the records from now on refer to other rules (a
 * live trace re-attached after the target's rules were rewritten): every
 * open flow is emitted, numbered by the old rules, and a new flow table on
 * @rs takes the records that follow; counters go on.
 * @p: a pipeline made with rules
 * @rs: the new rules (must outlive the pipeline, as the old ones must:
 *      flows held for Envoy's access log still point into them)
 * @set: their analysis (must outlive the pipeline too)
 * @err: error buffer
 *
 * Return: as st_pipe_flush(), or -EINVAL without a flow table.
 */
int st_pipe_set_rules(struct st_pipe *p, const struct st_ruleset *rs,
		      const struct st_istio_settings *set, char *err);

/** st_pipe_result() - what happened so far. */
void st_pipe_result(const struct st_pipe *p, struct st_pipe_result *r);

/**
 * st_pipe_stats() - the summary's counters: the flow table's (zero
 * without one), with the flows written, per type and class, and the
 * records lost as the pipeline counted them.
 */
void st_pipe_stats(const struct st_pipe *p, struct st_flow_stats *st);

/**
 * st_pipe_skipped() - records skipped for @why, as st_pipe_stats() counts
 * them, without copying the counters (a reader may ask per record).
 */
uint64_t st_pipe_skipped(const struct st_pipe *p, enum st_flow_skip why);

/**
 * st_pipe_finish() - the summary: @st to every summary sink (all of them,
 * even after one failed), then a sync; nothing when the output failed
 * before.
 * @p: the pipeline
 * @st: the counters (st_pipe_stats() with what the source adds)
 * @err: error buffer
 *
 * Return: 0, or the negative output error with @err "writing the output
 * failed: ...".
 */
int st_pipe_finish(struct st_pipe *p, const struct st_flow_stats *st,
		   char *err);

/* What the rules are analysed for: which pods are accepted, and how. */
enum st_pipe_use {
	ST_PIPE_USE_ANY = 0, /* analysed, any kind (explain, check...) */
	ST_PIPE_USE_TRACE,   /* a live trace: sidecar; unrecognised noted */
	ST_PIPE_USE_REPLAY,  /* a capture of records: the same */
	ST_PIPE_USE_INFER,   /* an ordinary capture: sidecar or unrecognised */
};

/**
 * st_pipe_rules_load() - saved rule files into a new ruleset.
 * @out: receives the ruleset
 * @paths: iptables-save, ip6tables-save or nft -j output
 * @n: how many
 * @err: error buffer
 *
 * Return: 0, or a negative errno (nothing is returned then).
 */
int st_pipe_rules_load(struct st_ruleset **out, const char *const *paths,
		       unsigned int n, char *err);

/**
 * st_pipe_rules_accept() - analyse @rs (st_istio_analyze()) and decide
 * whether its kind of pod suits @use.
 * @rs: the rules
 * @set: receives the settings
 * @use: what for
 * @diag: where the note on rules of no known form goes, or NULL
 * @err: error buffer
 *
 * Return: 0; -ENODATA when the rules are not a sidecar pod's and @use
 * needs one; another negative errno when the analysis failed.
 */
int st_pipe_rules_accept(struct st_ruleset *rs, struct st_istio_settings *set,
			 enum st_pipe_use use, FILE *diag, char *err);

#endif /* ST_PIPE_H */
