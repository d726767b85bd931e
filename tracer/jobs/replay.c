// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay.c - a capture of NFLOG records fed to the pipeline, as a live
 * trace would have fed it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envoylog.h"
#include "pcapout.h"
#include "pipe.h"
#include "replay.h"

/*
 * A live trace moves the pipeline's clock every tick from its start
 * (session.c), also while no record comes, and reads the access log at
 * those ticks: flows are emitted and held ones released when their bounds
 * pass, not at the next record.  A replay ticks the same way from the
 * capture's start and from each entry (read at a tick), so that flows
 * meet the entries waiting for them and the table numbers its flows as
 * it did live.  Every bound is far shorter than an hour: a
 * longer gap is crossed in a jump.
 */
#define ST_RP_TICK_NS (100 * INT64_C(1000000))
#define ST_RP_TICK_MAX_NS (3600 * INT64_C(1000000000))

struct st_rp {
	const struct st_replay_opts *o;
	struct st_replay_result *res;
	struct st_pipe *pipe;
	struct st_pcapin *in;
	uint64_t seq_missing; /* gaps already told to the pipeline */
	bool chain_noted;
	/* Records skipped for an unknown chain or rule so far: only the
	 * flow table changes it, so one look after each record suffices. */
	uint64_t unknown;
	int cb_ret;
	char *err;
	/* Envoy's access log, read one entry ahead of the records. */
	struct st_envoylog *log;
	struct st_envoy_req next; /* read, not yet given */
	bool have_next;
	bool log_done;
	struct timespec log_ts; /* the latest entry's time */
	int64_t tick;		/* the next tick; 0: from the first time seen */
	struct timespec end;	/* when the live trace ended; 0: unknown */
};

int st_replay_side_envoy(const char *capture, char *path)
{
	if (st_pcapout_side_path(path, PATH_MAX, capture, "envoy.log") < 0)
		return -ENAMETOOLONG;
	return access(path, R_OK) == 0 ? 1 : 0;
}

static int st_rp_entry(void *data, const struct st_envoy_req *req)
{
	struct st_rp *r = data;

	r->next = *req;
	r->have_next = true;
	return ST_CB_STOP;
}

/* When Envoy wrote @req: the CRI time, else its end, else the last one. */
static void st_rp_entry_time(struct st_rp *r, const struct st_envoy_req *req)
{
	struct timespec t = r->log_ts;

	if (req->logged.tv_sec != 0 || req->logged.tv_nsec != 0) {
		t = req->logged;
	} else if (st_envoy_has(req, ST_ENVOY_START_TIME)) {
		uint64_t d = st_envoy_has(req, ST_ENVOY_DURATION)
				     ? req->duration_ms
				     : 0;

		t = req->start;
		t.tv_sec += (time_t)(d / 1000);
		t.tv_nsec += (long)(d % 1000) * 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
	}
	r->log_ts = t;
}

/* Each anomaly of the log once, as a note. */
static void st_rp_log_news(struct st_rp *r)
{
	const char *news;

	while ((news = st_envoylog_news(r->log)) != NULL)
		if (r->o->diag != NULL)
			st_note(r->o->diag, "access log: %s", news);
}

static int64_t st_rp_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/*
 * The ticks a live trace had up to @until.  Return: ST_CB_OK, ST_CB_STOP
 * or a negative errno.
 */
static int st_rp_tick(struct st_rp *r, int64_t until)
{
	int ret = ST_CB_OK;

	if (r->tick == 0)
		r->tick = until + ST_RP_TICK_NS;
	if (until - r->tick > ST_RP_TICK_MAX_NS)
		r->tick += (until - r->tick - ST_RP_TICK_MAX_NS) /
			   ST_RP_TICK_NS * ST_RP_TICK_NS;
	while (r->tick <= until && ret == ST_CB_OK) {
		struct timespec ts;

		ts.tv_sec = (time_t)(r->tick / 1000000000);
		ts.tv_nsec = (long)(r->tick % 1000000000);
		r->tick += ST_RP_TICK_NS;
		ret = st_pipe_time(r->pipe, &ts, r->err);
	}
	return ret;
}

/*
 * Give the pipeline the log's entries a live trace read by @until (NULL:
 * all that are left).  Return: ST_CB_OK, ST_CB_STOP or a negative errno.
 */
static int st_rp_log_until(struct st_rp *r, const struct timespec *until)
{
	char lerr[ST_ERRBUF_SIZE];
	int64_t at;
	int ret;

	while (r->log != NULL && !st_pipe_stopped(r->pipe)) {
		if (!r->have_next && !r->log_done) {
			ret = st_envoylog_poll(r->log, lerr);
			if (ret == ST_CB_OK && !r->have_next) {
				ret = st_envoylog_finish(r->log, lerr);
				r->log_done = !r->have_next;
			}
			st_rp_log_news(r);
			if (ret < 0) {
				r->log_done = true;
				if (r->o->diag != NULL)
					st_note(r->o->diag, "access log: %s",
						lerr);
			}
		}
		if (!r->have_next)
			return ST_CB_OK;
		st_rp_entry_time(r, &r->next);
		at = st_rp_ns(&r->log_ts);
		if (until != NULL && at > st_rp_ns(until))
			return ST_CB_OK;
		r->have_next = false;
		/*
		 * The entry comes in at its time, a tick of its own: --write
		 * keeps the time the trace read it, at a tick, so the ticks
		 * go on from there as they did live.
		 */
		ret = st_rp_tick(r, at - 1);
		if (ret == ST_CB_OK &&
		    (r->tick == 0 || at >= r->tick - ST_RP_TICK_NS)) {
			r->tick = at + ST_RP_TICK_NS;
			ret = st_pipe_time(r->pipe, &r->log_ts, r->err);
		}
		if (ret == ST_CB_OK)
			ret = st_pipe_envoy(r->pipe, &r->next, r->err);
		if (ret < 0 || ret == ST_CB_STOP)
			return ret;
	}
	return ST_CB_OK;
}

int st_replay_side_rules(const char *capture, char paths[2][PATH_MAX],
			 char *err)
{
	static const char *const ext[] = {"rules", "rules6"};
	int n = 0;

	for (size_t i = 0; i < ST_ARRAY_SIZE(ext); i++) {
		if (st_pcapout_side_path(paths[n], PATH_MAX, capture, ext[i]) <
		    0)
			return st_err(err, ENAMETOOLONG, "%s: name too long",
				      capture);
		if (access(paths[n], R_OK) == 0)
			n++;
	}
	return n;
}

/* One stderr note for the first record whose chain the rules lack. */
static void st_rp_note_skip(struct st_rp *r)
{
	struct st_flow_stats st;
	uint64_t unknown;

	if (r->chain_noted || r->o->diag == NULL)
		return;
	/* Per record: the two counts, not the whole stats. */
	unknown = st_pipe_skipped(r->pipe, ST_SKIP_UNKNOWN_CHAIN) +
		  st_pipe_skipped(r->pipe, ST_SKIP_UNKNOWN_RULE);
	if (unknown == r->unknown)
		return;
	r->unknown = unknown;
	st_pipe_stats(r->pipe, &st);
	r->chain_noted = true;
	st_note(r->o->diag,
		"record %" PRIu64 ": %s: skipped (such records are counted "
		"in the summary; are these the rules the capture was "
		"taken with?)",
		st_pcapin_records(r->in), st.last_skip);
}

static int st_rp_rec(const struct st_rec *rec, void *data)
{
	struct st_rp *r = data;
	uint64_t missing = st_pcapin_seq_missing(r->in);
	int ret;

	if (missing > r->seq_missing) {
		st_pipe_gap(r->pipe, missing - r->seq_missing);
		r->seq_missing = missing;
	}
	ret = st_rp_log_until(r, &rec->ts);
	if (ret == ST_CB_OK)
		ret = st_rp_tick(r, st_rp_ns(&rec->ts));
	if (ret < 0) {
		r->cb_ret = ret;
		return ST_CB_ERROR;
	}
	if (ret == ST_CB_STOP)
		return ST_CB_STOP;
	ret = st_pipe_rec(r->pipe, rec, r->err);
	if (ret < 0) {
		r->cb_ret = ret;
		return ST_CB_ERROR;
	}
	st_rp_note_skip(r);
	return ret;
}

/* The rules: --rules, else the side files; analysed and accepted. */
static int st_rp_rules(const struct st_replay_opts *o,
		       struct st_replay_result *res, struct st_ruleset **out,
		       struct st_istio_settings *set, char *err)
{
	char side[2][PATH_MAX];
	const char *paths[ST_REPLAY_MAX_RULES];
	unsigned int n = o->nrules;
	int ret;

	*out = NULL;
	for (unsigned int i = 0; i < n; i++)
		paths[i] = o->rules[i];
	if (n == 0) {
		ret = st_replay_side_rules(o->capture, side, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return st_err(
				err, ENOENT,
				"%s: no rules beside the capture (%s.rules): "
				"give the pod's rules with --rules FILE",
				o->capture, o->capture);
		res->side_rules = true;
		n = (unsigned int)ret;
		for (unsigned int i = 0; i < n; i++)
			paths[i] = side[i];
	}
	ret = st_pipe_rules_load(out, paths, n, err);
	if (ret < 0)
		return ret;
	ret = st_pipe_rules_accept(*out, set, ST_PIPE_USE_REPLAY, o->diag, err);
	if (ret < 0) {
		st_ruleset_free(*out);
		*out = NULL;
	}
	return ret;
}

/*
 * A capture without FILE.meta.json (tcpdump) has interface indexes only.
 * In every network namespace lo is index 1 (it is made first); the others
 * are named by index, "if2"..., so that a leg still tells loopback from a
 * real device.
 */
static void st_rp_default_ifnames(struct st_pcapin *in)
{
	char name[16];
	char err[ST_ERRBUF_SIZE];

	st_pcapin_set_ifname(in, 1, "lo", err);
	for (uint32_t i = 2; i <= ST_PCAPIN_MAX_IFNAMES; i++) {
		snprintf(name, sizeof(name), "if%" PRIu32, i);
		st_pcapin_set_ifname(in, i, name, err);
	}
}

/* The summary's counts: the pipeline's, with every skip together. */
static void st_rp_summary_stats(struct st_rp *r, struct st_flow_stats *st)
{
	const struct st_pcapin_stats *in = &r->res->in;

	st_pipe_stats(r->pipe, st);
	if (r->log != NULL) {
		struct st_envoylog_stats ls;

		st_envoylog_stats(r->log, &ls);
		st->envoy.unparsed = ls.unparsed + ls.binary + ls.oversize;
		st->envoy.rotated = ls.rotations + ls.truncations;
		st->envoy.deleted = ls.deletions;
	}
	st->records = in->records;
	st->lost = in->seq_missing;
	st->skipped += in->skipped + r->res->other_session;
	if (in->skipped > 0)
		st_strlcpy(st->last_skip, in->first_skip,
			   sizeof(st->last_skip));
	else if (r->res->other_session > 0 && st->last_skip[0] == '\0')
		snprintf(st->last_skip, sizeof(st->last_skip),
			 "records of another session than %08" PRIx32,
			 r->res->session);
}

/* One note with the skips per reason, for the summary's single count. */
static void st_rp_note_counts(struct st_rp *r, const struct st_flow_stats *st)
{
	const struct st_pcapin_stats *in = &r->res->in;
	char buf[512];
	size_t n = 0;

	if (r->o->diag == NULL || st->skipped == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < ST_PCAPIN_SKIP_MAX && n < sizeof(buf); i++)
		if (in->skipped_by[i] > 0)
			n += (size_t)snprintf(
				buf + n, sizeof(buf) - n, ", %" PRIu64 " %s",
				in->skipped_by[i],
				st_pcapin_skip_name((enum st_pcapin_skip)i));
	for (int i = 0; i < ST_SKIP__MAX && n < sizeof(buf); i++)
		if (st->skipped_by[i] > 0)
			n += (size_t)snprintf(
				buf + n, sizeof(buf) - n, ", %" PRIu64 " %s",
				st->skipped_by[i],
				st_flow_skip_name((enum st_flow_skip)i));
	if (r->res->other_session > 0 && n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n,
			 ", %" PRIu64 " of other sessions",
			 r->res->other_session);
	st_note(r->o->diag, "%" PRIu64 " of %" PRIu64 " records skipped: %s",
		st->skipped, in->records, buf + 2);
}

/* What the pipeline did, into the result. */
static void st_rp_result(struct st_rp *r)
{
	struct st_pipe_result pr;

	st_pipe_result(r->pipe, &pr);
	r->res->written = pr.written;
	r->res->session = pr.session;
	r->res->other_session = pr.other_session;
	r->res->count_done = pr.count_done;
	r->res->out_errno = pr.out_errno;
}

/* Open the capture; FILE.meta.json names interfaces and the session. */
static int st_rp_open(struct st_rp *r, struct st_pipe_opts *po,
		      uint32_t *session, char *err)
{
	const struct st_replay_opts *o = r->o;
	struct st_pcapout_meta meta;
	char rerr[ST_ERRBUF_SIZE] = "";
	struct stat sb;
	int ret;

	ret = st_pcapin_open(&r->in, o->capture, err);
	if (ret < 0)
		return ret;
	/*
	 * Push each flow out at once: only when the records come from a
	 * pipe (`tcpdump -U -w - | sidecar-trace --replay -`), where someone
	 * may be watching.  A file is read as fast as it goes and the
	 * stream's own buffering applies (one write() per flow was a fifth
	 * of a replay's time); a terminal is line buffered anyway.
	 */
	po->sync_each = strcmp(o->capture, "-") == 0 ||
			stat(o->capture, &sb) != 0 || !S_ISREG(sb.st_mode);
	memset(&meta, 0, sizeof(meta));
	if (strcmp(o->capture, "-") != 0 &&
	    st_pcapout_read_meta(o->capture, &meta, rerr) == 0)
		for (size_t i = 0; i < meta.nifs && i < ST_PCAPOUT_MAX_IFS; i++)
			st_pcapin_set_ifname(r->in, meta.ifs[i].index,
					     meta.ifs[i].name, rerr);
	if (meta.nifs == 0)
		st_rp_default_ifnames(r->in);
	*session = meta.session;
	r->end = meta.end;
	if (meta.start.tv_sec != 0)
		r->tick = st_rp_ns(&meta.start) + ST_RP_TICK_NS;
	return 0;
}

/* The access log: --envoy-log, else FILE.envoy.log when it is there. */
static int st_rp_log_open(struct st_rp *r, char *err)
{
	const struct st_replay_opts *o = r->o;
	struct st_envoylog_opts lo;
	char *path = r->res->envoy_path;

	if (o->envoy_log != NULL) {
		st_strlcpy(path, o->envoy_log, PATH_MAX);
	} else {
		int ret = strcmp(o->capture, "-") == 0
				  ? 0
				  : st_replay_side_envoy(o->capture, path);

		if (ret < 0)
			return st_err(err, -ret, "%s: name too long",
				      o->capture);
		if (ret == 0) {
			path[0] = '\0';
			return 0;
		}
		r->res->envoy_side = true;
	}
	memset(&lo, 0, sizeof(lo));
	lo.path = path;
	lo.fn = st_rp_entry;
	lo.data = r;
	return st_envoylog_new(&r->log, &lo, err);
}

int st_replay_run(const struct st_replay_opts *o, struct st_replay_result *res,
		  char *err)
{
	struct st_istio_settings set;
	struct st_pipe_opts po;
	struct st_ruleset *rs = NULL;
	struct st_flow_stats st;
	char rerr[ST_ERRBUF_SIZE] = "";
	uint32_t session;
	struct st_rp r;
	int ret, rret = 0;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.res = res;
	r.err = err;
	if (o->nsinks == 0)
		return st_err(err, EINVAL, "replay: no output");
	ret = st_rp_rules(o, res, &rs, &set, err);
	if (ret < 0)
		goto out;
	memset(&po, 0, sizeof(po));
	ret = st_rp_open(&r, &po, &session, err);
	if (ret < 0)
		goto out;
	ret = st_rp_log_open(&r, err);
	if (ret < 0)
		goto out;
	po.envoy_log = r.log != NULL;
	po.envoy_wait_ms = o->envoy_wait_ms;
	po.rs = rs;
	po.set = &set;
	po.filter = o->filter;
	po.count = o->count;
	po.one_session = true;
	ret = st_pipe_new(&r.pipe, &po, err);
	if (ret < 0)
		goto out;
	if (session != 0)
		st_pipe_set_session(r.pipe, session);
	for (unsigned int i = 0; i < o->nsinks; i++)
		st_pipe_add_sink(r.pipe, o->sinks[i].ops, o->sinks[i].data);
	for (;;) {
		rret = st_pcapin_read(r.in, st_rp_rec, &r, rerr);
		if (rret != 1)
			break;
		/* A stop from the pipeline: only output or --count. */
		if (st_pipe_stopped(r.pipe))
			break;
	}
	st_pcapin_stats(r.in, &res->in);
	st_rp_result(&r);
	if (rret == -ECANCELED && r.cb_ret < 0) {
		ret = r.cb_ret;
		goto out;
	}
	/* The log's entries after the last record. */
	if (!st_pipe_stopped(r.pipe)) {
		ret = st_rp_log_until(&r, NULL);
		if (ret < 0)
			goto out;
	}
	/* The live trace ticked on until it ended. */
	if (!st_pipe_stopped(r.pipe) && r.end.tv_sec != 0) {
		ret = st_rp_tick(&r, st_rp_ns(&r.end));
		if (ret < 0)
			goto out;
	}
	/* The records' own clock stops here: end every walk and wait. */
	ret = st_pipe_flush(r.pipe, err);
	st_rp_result(&r);
	if (ret < 0 && res->out_errno == 0)
		goto out;
	st_rp_summary_stats(&r, &st);
	res->flows = st;
	st_filter_stats(o->filter, &res->filter);
	ret = st_pipe_finish(r.pipe, &st, err);
	st_rp_result(&r);
	if (ret < 0)
		goto out;
	st_rp_note_counts(&r, &st);
	if (rret < 0) {
		/* The flows before the cut were written; the error stands. */
		st_strlcpy(err, rerr, ST_ERRBUF_SIZE);
		ret = rret;
		goto out;
	}
	ret = 0;
out:
	st_pipe_free(r.pipe);
	st_envoylog_free(r.log);
	st_pcapin_close(r.in);
	st_ruleset_free(rs);
	return ret;
}
