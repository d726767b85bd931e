// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay.c - a capture of NFLOG records through the flow table, as a live
 * trace would have seen them; and the --write tap that makes such
 * captures.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assemble.h"
#include "istio.h"
#include "pcapout.h"
#include "replay.h"
#include "target.h"

/* --write: push buffered records out this often, so that a full disk
 * stops the trace soon and a killed run leaves a usable capture. */
#define ST_REPLAY_FLUSH_RECORDS 256
#define ST_REPLAY_FLUSH_NS 1000000000LL

struct st_rp {
	const struct st_replay_opts *o;
	struct st_replay_result *res;
	struct st_flow_table *ft;
	struct st_pcapin *in;
	bool session_known;
	uint64_t seq_missing; /* gaps already told to the flow table */
	uint64_t by_type[ST_TYPE_MAX + 1];
	uint64_t by_class[ST_CLASS__MAX];
	bool chain_noted;
	/* Records skipped for an unknown chain or rule so far: only the
	 * flow table changes it, so one look after each record suffices. */
	uint64_t unknown;
	/*
	 * Push each flow out at once: only when the records come from a
	 * pipe (`tcpdump -U -w - | sidecar-trace --replay -`), where someone
	 * may be watching.  A file is read as fast as it goes and the
	 * stream's own buffering applies (one write() per flow was a fifth
	 * of a replay's time); a terminal is line buffered anyway.
	 */
	bool flush_each;
	int cb_ret;
	char *err;
};

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

static int st_rp_emit(const struct st_flow *f, void *data)
{
	struct st_rp *r = data;
	const struct st_replay_opts *o = r->o;
	int ret;

	if (r->res->out_errno != 0 || r->res->count_done)
		return ST_CB_STOP;
	if (!st_filter_flow(o->filter, f))
		return ST_CB_OK;
	errno = 0;
	ret = o->write_flow(o->out, f);
	if (ret == 0 && (r->flush_each || ferror(o->out)) &&
	    fflush(o->out) != 0)
		ret = -EIO;
	if (ret < 0) {
		r->res->out_errno = errno != 0 ? errno : -ret;
		return ST_CB_STOP;
	}
	r->res->written++;
	if (f->type >= 0 && f->type <= ST_TYPE_MAX)
		r->by_type[f->type]++;
	if ((unsigned int)f->klass < ST_CLASS__MAX)
		r->by_class[f->klass]++;
	if (o->count > 0 && r->res->written >= o->count) {
		r->res->count_done = true;
		return ST_CB_STOP;
	}
	return ST_CB_OK;
}

/* One stderr note for the first record whose chain the rules lack. */
static void st_rp_note_skip(struct st_rp *r)
{
	struct st_flow_stats st;
	uint64_t unknown;

	if (r->chain_noted || r->o->diag == NULL)
		return;
	st_flow_table_stats(r->ft, &st);
	unknown = st.skipped_by[ST_SKIP_UNKNOWN_CHAIN] +
		  st.skipped_by[ST_SKIP_UNKNOWN_RULE];
	if (unknown == r->unknown)
		return;
	r->unknown = unknown;
	r->chain_noted = true;
	st_note(r->o->diag,
		"record %" PRIu64 ": %s: skipped (such records are counted "
		"in the summary; are these the rules the capture was "
		"taken with?)",
		r->res->in.records, st.last_skip);
}

static int st_rp_rec(const struct st_rec *rec, void *data)
{
	struct st_rp *r = data;
	struct st_pcapin_stats *in = &r->res->in;
	int ret;

	st_pcapin_stats(r->in, in);
	if (rec->hit.kind != ST_HIT_NONE && !rec->hit.trace) {
		if (!r->session_known) {
			r->session_known = true;
			r->res->session = rec->hit.session;
		} else if (rec->hit.session != r->res->session) {
			r->res->other_session++;
			return ST_CB_OK;
		}
	}
	if (in->seq_missing > r->seq_missing) {
		st_flow_table_lost(r->ft, in->seq_missing - r->seq_missing);
		r->seq_missing = in->seq_missing;
	}
	st_filter_note(r->o->filter, rec);
	ret = st_flow_table_add(r->ft, rec, r->err);
	if (ret < 0) {
		r->cb_ret = ret;
		return ST_CB_ERROR;
	}
	st_rp_note_skip(r);
	return ret == ST_CB_STOP ? ST_CB_STOP : ST_CB_OK;
}

static int st_rp_rules(const struct st_replay_opts *o,
		       struct st_replay_result *res, struct st_ruleset **out,
		       struct st_istio_settings *set, char *err)
{
	char side[2][PATH_MAX];
	struct st_ruleset *rs = NULL;
	int n = 0;
	int ret;

	*out = NULL;
	if (o->nrules == 0) {
		n = st_replay_side_rules(o->capture, side, err);
		if (n < 0)
			return n;
		if (n == 0)
			return st_err(
				err, ENOENT,
				"%s: no rules beside the capture (%s.rules): "
				"give the pod's rules with --rules FILE",
				o->capture, o->capture);
		res->side_rules = true;
	}
	rs = st_ruleset_new();
	if (rs == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned int i = 0; i < (n > 0 ? (unsigned int)n : o->nrules);
	     i++) {
		ret = st_rules_load_file(rs, n > 0 ? side[i] : o->rules[i],
					 err);
		if (ret < 0)
			goto out;
	}
	ret = st_istio_analyze(rs, set, err);
	if (ret < 0)
		goto out;
	switch (set->kind) {
	case ST_ISTIO_SIDECAR:
		break;
	case ST_ISTIO_UNRECOGNISED:
		st_note(o->diag,
			"the Istio rules are not of a known form; replaying "
			"anyway%s%s",
			set->note[0] ? ": " : "", set->note);
		break;
	default:
		ret = st_err(err, ENODATA,
			     "the rules are not those of an Istio sidecar pod "
			     "(%s)%s%s",
			     st_istio_kind_name(set->kind),
			     set->note[0] ? ": " : "", set->note);
		goto out;
	}
	*out = rs;
	rs = NULL;
	ret = 0;
out:
	st_ruleset_free(rs);
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

/* The summary's counts: what was written, and every skip together. */
static void st_rp_summary_stats(struct st_rp *r, struct st_flow_stats *st)
{
	const struct st_pcapin_stats *in = &r->res->in;

	st_flow_table_stats(r->ft, st);
	st->flows = r->res->written;
	memcpy(st->by_type, r->by_type, sizeof(st->by_type));
	memcpy(st->by_class, r->by_class, sizeof(st->by_class));
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

int st_replay_write_summary(
	FILE *out,
	int (*write_summary)(FILE *out, const struct st_flow_stats *st),
	const struct st_flow_stats *st, int *out_errno, char *err)
{
	int ret;

	if (*out_errno == 0) {
		errno = 0;
		ret = write_summary(out, st);
		if (ret == 0 && fflush(out) != 0)
			ret = -EIO;
		if (ret < 0)
			*out_errno = errno != 0 ? errno : -ret;
	}
	if (*out_errno != 0)
		return st_err(err, *out_errno, "writing the output failed: %s",
			      strerror(*out_errno));
	return 0;
}

int st_replay_run(const struct st_replay_opts *o, struct st_replay_result *res,
		  char *err)
{
	struct st_pcapout_meta meta;
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	struct st_flow_stats st;
	char rerr[ST_ERRBUF_SIZE] = "";
	struct st_rp r;
	struct stat sb;
	int ret, rret = 0;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.res = res;
	r.err = err;
	if (o->out == NULL || o->write_flow == NULL || o->write_summary == NULL)
		return st_err(err, EINVAL, "replay: no output");
	ret = st_rp_rules(o, res, &rs, &set, err);
	if (ret < 0)
		goto out;
	ret = st_pcapin_open(&r.in, o->capture, err);
	if (ret < 0)
		goto out;
	r.flush_each = strcmp(o->capture, "-") == 0 ||
		       stat(o->capture, &sb) != 0 || !S_ISREG(sb.st_mode);
	memset(&meta, 0, sizeof(meta));
	if (strcmp(o->capture, "-") != 0 &&
	    st_pcapout_read_meta(o->capture, &meta, rerr) == 0) {
		for (size_t i = 0; i < meta.nifs && i < ST_PCAPOUT_MAX_IFS; i++)
			st_pcapin_set_ifname(r.in, meta.ifs[i].index,
					     meta.ifs[i].name, rerr);
		if (meta.session != 0) {
			r.session_known = true;
			res->session = meta.session;
		}
	}
	if (meta.nifs == 0)
		st_rp_default_ifnames(r.in);
	r.ft = st_flow_table_new(rs, &set, NULL, st_rp_emit, &r, err);
	if (r.ft == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		rret = st_pcapin_read(r.in, st_rp_rec, &r, rerr);
		if (rret != 1)
			break;
		/* A stop from the flow table: only output or --count. */
		if (res->out_errno != 0 || res->count_done)
			break;
	}
	st_pcapin_stats(r.in, &res->in);
	if (rret == -ECANCELED && r.cb_ret < 0) {
		ret = r.cb_ret;
		goto out;
	}
	/* The records' own clock stops here: end every walk and wait. */
	if (res->out_errno == 0 && !res->count_done) {
		ret = st_flow_table_flush(r.ft, err);
		if (ret < 0 && res->out_errno == 0)
			goto out;
	}
	st_rp_summary_stats(&r, &st);
	res->flows = st;
	st_filter_stats(o->filter, &res->filter);
	ret = st_replay_write_summary(o->out, o->write_summary, &st,
				      &res->out_errno, err);
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
	st_flow_table_free(r.ft);
	st_pcapin_close(r.in);
	st_ruleset_free(rs);
	return ret;
}

/* ---- --write ---------------------------------------------------------- */

struct st_replay_writer {
	struct st_pcapout *po;
	const struct st_session_target *target;
	enum st_backend backend;
	int failed;
	unsigned int unflushed;
	struct timespec flushed; /* record time of the last flush */
};

int st_replay_writer_open(struct st_replay_writer **out, const char *path,
			  const struct st_session_target *target, char *err)
{
	struct st_replay_writer *w;
	int ret;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return st_err(err, ENOMEM, "out of memory");
	w->target = target;
	ret = st_pcapout_open(&w->po, path, 0, err);
	if (ret < 0) {
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

static int st_rw_fail(struct st_replay_writer *w, int ret)
{
	if (w->failed == 0)
		w->failed = ret;
	return ret;
}

static int st_rw_rules(void *data, const struct st_tgt *tgt, char *err)
{
	struct st_replay_writer *w = data;
	const char *text;
	size_t len = 0;
	int ret;

	w->backend = st_tgt_backend(tgt);
	if (w->backend == ST_BACKEND_NFTABLES) {
		text = st_tgt_text(tgt, ST_FAMILY_ANY, &len);
		return len > 0 ? st_rw_fail(w, st_pcapout_write_rules(w->po, 0,
								      text, len,
								      err))
			       : 0;
	}
	text = st_tgt_text(tgt, ST_FAMILY_IPV4, &len);
	if (len > 0) {
		ret = st_pcapout_write_rules(w->po, 4, text, len, err);
		if (ret < 0)
			return st_rw_fail(w, ret);
	}
	text = st_tgt_text(tgt, ST_FAMILY_IPV6, &len);
	if (len > 0) {
		ret = st_pcapout_write_rules(w->po, 6, text, len, err);
		if (ret < 0)
			return st_rw_fail(w, ret);
	}
	return 0;
}

static int st_rw_begin(void *data, const struct st_session_result *res,
		       char *err)
{
	struct st_replay_writer *w = data;
	const struct st_session_target *t = w->target;
	struct st_pcapout_meta meta;

	memset(&meta, 0, sizeof(meta));
	st_strlcpy(meta.backend, st_backend_name(res->backend),
		   sizeof(meta.backend));
	meta.session = res->session;
	meta.group = res->group;
	if (t != NULL && t->netns != NULL)
		st_strlcpy(meta.netns, t->netns, sizeof(meta.netns));
	else if (t != NULL && t->pid > 0)
		snprintf(meta.netns, sizeof(meta.netns), "/proc/%d/ns/net",
			 t->pid);
	if (t != NULL && t->pod != NULL)
		snprintf(meta.pod, sizeof(meta.pod), "%s/%s",
			 t->pod_ns ? t->pod_ns : "default", t->pod);
	clock_gettime(CLOCK_REALTIME, &meta.start);
	return st_rw_fail(w, st_pcapout_set_meta(w->po, &meta, err));
}

static int st_rw_rec(void *data, const struct st_rec *rec, char *err)
{
	struct st_replay_writer *w = data;
	long long ns;
	int ret;

	if (w->failed != 0)
		return st_err(err, -w->failed, "the capture failed before");
	ret = st_pcapout_write(w->po, rec, err);
	if (ret < 0)
		return st_rw_fail(w, ret);
	ns = (long long)(rec->ts.tv_sec - w->flushed.tv_sec) * 1000000000LL +
	     (rec->ts.tv_nsec - w->flushed.tv_nsec);
	if (++w->unflushed < ST_REPLAY_FLUSH_RECORDS && ns < ST_REPLAY_FLUSH_NS)
		return 0;
	w->unflushed = 0;
	w->flushed = rec->ts;
	ret = st_pcapout_flush(w->po, err);
	return ret < 0 ? st_rw_fail(w, ret) : 0;
}

static const struct st_session_tap st_rw_tap = {
	.rules = st_rw_rules,
	.begin = st_rw_begin,
	.rec = st_rw_rec,
};

const struct st_session_tap *st_replay_writer_tap(void)
{
	return &st_rw_tap;
}

int st_replay_writer_failed(const struct st_replay_writer *w)
{
	return w != NULL ? w->failed : 0;
}

uint64_t st_replay_writer_records(const struct st_replay_writer *w)
{
	return w != NULL ? st_pcapout_records(w->po) : 0;
}

int st_replay_writer_close(struct st_replay_writer *w, char *err)
{
	int ret;

	if (w == NULL)
		return 0;
	ret = st_pcapout_close(w->po, err);
	free(w);
	return ret;
}
