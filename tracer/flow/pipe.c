// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pipe.c - the pipeline: records through the flow table, flows through the
 * filter to the sinks, counted once for every source.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "envoymatch.h"
#include "pipe.h"

struct st_pipe_sink {
	const struct st_sink_ops *ops;
	void *data;
};

struct st_pipe {
	struct st_pipe_opts o;
	struct st_flow_opts table; /* o.table's copy, for a new flow table */
	struct st_flow_stats prev; /* of flow tables replaced by new rules */
	struct st_flow_table *ft;  /* NULL: flows come from st_pipe_flow() */
	struct st_envoymatch *em;  /* NULL: no access log */
	struct timespec now;	   /* the clock: records and st_pipe_time() */
	struct st_pipe_sink sinks[ST_PIPE_MAX_SINKS];
	unsigned int nsinks;
	bool session_known;
	uint64_t gap; /* records missing before the next one used */
	struct st_pipe_result res;
	uint64_t by_type[ST_TYPE_MAX + 1];
	uint64_t by_class[ST_CLASS__MAX];
};

bool st_pipe_stopped(const struct st_pipe *p)
{
	return p->res.out_errno != 0 || p->res.count_done;
}

int st_pipe_sync(struct st_pipe *p)
{
	int ret;

	if (p->res.out_errno != 0)
		return -p->res.out_errno;
	for (unsigned int i = 0; i < p->nsinks; i++) {
		if (p->sinks[i].ops->sync == NULL)
			continue;
		ret = p->sinks[i].ops->sync(p->sinks[i].data);
		if (ret < 0) {
			p->res.out_errno = -ret;
			return ret;
		}
	}
	return 0;
}

/* A flow through the filter to the sinks.  Return: ST_CB_OK or _STOP. */
static int st_pipe_out(struct st_pipe *p, const struct st_flow *f,
		       const struct st_sink_notes *notes)
{
	int ret;

	if (st_pipe_stopped(p))
		return ST_CB_STOP;
	if (p->o.prepare != NULL)
		f = p->o.prepare(p->o.prepare_data, f);
	if (!st_filter_flow(p->o.filter, f))
		return ST_CB_OK;
	for (unsigned int i = 0; i < p->nsinks; i++) {
		if (p->sinks[i].ops->flow == NULL)
			continue;
		ret = p->sinks[i].ops->flow(p->sinks[i].data, f, notes);
		if (ret < 0) {
			p->res.out_errno = -ret;
			return ST_CB_STOP;
		}
	}
	if (p->o.sync_each && st_pipe_sync(p) < 0)
		return ST_CB_STOP;
	p->res.written++;
	if (f->type >= 0 && f->type <= ST_TYPE_MAX)
		p->by_type[f->type]++;
	if ((unsigned int)f->klass < ST_CLASS__MAX)
		p->by_class[f->klass]++;
	if (p->o.count > 0 && p->res.written >= p->o.count) {
		p->res.count_done = true;
		return ST_CB_STOP;
	}
	return ST_CB_OK;
}

static int st_pipe_em_out(void *data, const struct st_flow *flow)
{
	return st_pipe_out(data, flow, NULL);
}

static int st_pipe_emit(const struct st_flow *flow, void *data)
{
	struct st_pipe *p = data;

	if (p->em != NULL)
		return st_envoymatch_flow(p->em, flow, &p->now);
	return st_pipe_out(p, flow, NULL);
}

static void st_pipe_clock(struct st_pipe *p, const struct timespec *ts)
{
	if (ts->tv_sec > p->now.tv_sec ||
	    (ts->tv_sec == p->now.tv_sec && ts->tv_nsec > p->now.tv_nsec))
		p->now = *ts;
}

/* The access log's bound passing on the pipeline's clock. */
static int st_pipe_em_time(struct st_pipe *p, int ret)
{
	int r;

	if (p->em == NULL || ret < 0)
		return ret;
	r = st_envoymatch_time(p->em, &p->now);
	return r == ST_CB_STOP ? ST_CB_STOP : ret;
}

int st_pipe_new(struct st_pipe **out, const struct st_pipe_opts *o, char *err)
{
	struct st_pipe *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return st_err(err, ENOMEM, "out of memory");
	p->o = *o;
	if (o->table != NULL) {
		p->table = *o->table;
		p->o.table = &p->table;
	}
	if (o->rs != NULL) {
		p->ft = st_flow_table_new(o->rs, o->set, o->table, st_pipe_emit,
					  p, err);
		if (p->ft == NULL) {
			free(p);
			return -ENOMEM;
		}
	}
	if (o->envoy_log) {
		struct st_envoymatch_opts eo = {
			.set = o->set,
			.max_flows = o->table != NULL ? o->table->max_flows : 0,
			.wait_ms = o->envoy_wait_ms,
		};
		int ret =
			st_envoymatch_new(&p->em, &eo, st_pipe_em_out, p, err);

		if (ret < 0) {
			st_pipe_free(p);
			return ret;
		}
	}
	*out = p;
	return 0;
}

void st_pipe_free(struct st_pipe *p)
{
	if (p == NULL)
		return;
	st_flow_table_free(p->ft);
	st_envoymatch_free(p->em);
	free(p);
}

int st_pipe_add_sink(struct st_pipe *p, const struct st_sink_ops *ops,
		     void *data)
{
	if (p->nsinks == ST_PIPE_MAX_SINKS)
		return -ENOSPC;
	p->sinks[p->nsinks].ops = ops;
	p->sinks[p->nsinks].data = data;
	p->nsinks++;
	return 0;
}

void st_pipe_set_session(struct st_pipe *p, uint32_t session)
{
	p->session_known = true;
	p->res.session = session;
}

/* Is @rec of the session used (learning it from the first tagged one)? */
static bool st_pipe_ours(struct st_pipe *p, const struct st_rec *rec)
{
	if (!p->o.one_session || rec->hit.kind == ST_HIT_NONE || rec->hit.trace)
		return true;
	if (!p->session_known) {
		st_pipe_set_session(p, rec->hit.session);
		return true;
	}
	if (rec->hit.session == p->res.session)
		return true;
	p->res.other_session++;
	return false;
}

int st_pipe_rec(struct st_pipe *p, const struct st_rec *rec, char *err)
{
	int ret;

	for (unsigned int i = 0; i < p->nsinks; i++) {
		if (p->sinks[i].ops->rec == NULL)
			continue;
		ret = p->sinks[i].ops->rec(p->sinks[i].data, rec, err);
		if (ret < 0)
			return ret;
	}
	if (!st_pipe_ours(p, rec))
		return ST_CB_OK;
	if (p->gap > 0 && p->ft != NULL)
		st_flow_table_lost(p->ft, p->gap);
	p->gap = 0;
	st_filter_note(p->o.filter, rec);
	if (p->ft == NULL)
		return ST_CB_OK;
	st_pipe_clock(p, &rec->ts);
	ret = st_flow_table_add(p->ft, rec, err);
	if (ret < 0)
		return ret;
	return st_pipe_em_time(p, ret == ST_CB_STOP ? ST_CB_STOP : ST_CB_OK);
}

int st_pipe_lost(struct st_pipe *p, uint64_t n)
{
	p->res.lost += n;
	if (p->ft != NULL)
		st_flow_table_lost(p->ft, n);
	return ST_CB_OK;
}

int st_pipe_gap(struct st_pipe *p, uint64_t n)
{
	p->res.lost += n;
	p->gap += n;
	return ST_CB_OK;
}

int st_pipe_time(struct st_pipe *p, const struct timespec *now, char *err)
{
	int ret = ST_CB_OK;

	st_pipe_clock(p, now);
	if (p->ft != NULL)
		ret = st_flow_table_expire(p->ft, now, err);
	return st_pipe_em_time(p, ret);
}

int st_pipe_envoy(struct st_pipe *p, const struct st_envoy_req *req, char *err)
{
	int ret;

	for (unsigned int i = 0; i < p->nsinks; i++) {
		if (p->sinks[i].ops->envoy == NULL)
			continue;
		ret = p->sinks[i].ops->envoy(p->sinks[i].data, req, err);
		if (ret < 0)
			return ret;
	}
	if (p->em == NULL || st_pipe_stopped(p))
		return st_pipe_stopped(p) ? ST_CB_STOP : ST_CB_OK;
	return st_envoymatch_entry(p->em, req, &p->now);
}

int st_pipe_flow(struct st_pipe *p, const struct st_flow *flow,
		 const struct st_sink_notes *notes)
{
	/* Flows made elsewhere have no Envoy side to wait for. */
	return st_pipe_out(p, flow, notes);
}

int st_pipe_flush(struct st_pipe *p, char *err)
{
	int ret = ST_CB_OK;

	if (st_pipe_stopped(p))
		return ST_CB_OK;
	if (p->ft != NULL)
		ret = st_flow_table_flush(p->ft, err);
	if (ret < 0 || p->em == NULL)
		return ret;
	return st_envoymatch_flush(p->em) == ST_CB_STOP ? ST_CB_STOP : ret;
}

int st_pipe_set_rules(struct st_pipe *p, const struct st_ruleset *rs,
		      const struct st_istio_settings *set, char *err)
{
	struct st_flow_table *ft;
	struct st_flow_stats st;
	int ret = ST_CB_OK;

	if (p->ft == NULL || rs == NULL || set == NULL)
		return st_err(err, EINVAL,
			      "pipeline: new rules need a flow table");
	ft = st_flow_table_new(rs, set, p->o.table, st_pipe_emit, p, err);
	if (ft == NULL)
		return -ENOMEM;
	if (!st_pipe_stopped(p))
		ret = st_flow_table_flush(p->ft, err);
	st_flow_table_stats(p->ft, &st);
	p->prev.records += st.records;
	p->prev.skipped += st.skipped;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st.skipped_by); i++)
		p->prev.skipped_by[i] += st.skipped_by[i];
	if (st.last_skip[0] != '\0')
		memcpy(p->prev.last_skip, st.last_skip, sizeof(st.last_skip));
	p->prev.evicted += st.evicted;
	p->prev.later += st.later;
	p->prev.late += st.late;
	p->prev.ignored += st.ignored;
	st_flow_table_free(p->ft);
	p->ft = ft;
	p->o.rs = rs;
	p->o.set = set;
	return ret < 0 ? ret : ST_CB_OK;
}

void st_pipe_result(const struct st_pipe *p, struct st_pipe_result *r)
{
	*r = p->res;
}

uint64_t st_pipe_skipped(const struct st_pipe *p, enum st_flow_skip why)
{
	uint64_t n = p->ft != NULL ? st_flow_table_skipped(p->ft, why) : 0;

	if ((unsigned int)why < ST_ARRAY_SIZE(p->prev.skipped_by))
		n += p->prev.skipped_by[why];
	return n;
}

void st_pipe_stats(const struct st_pipe *p, struct st_flow_stats *st)
{
	if (p->ft != NULL)
		st_flow_table_stats(p->ft, st);
	else
		memset(st, 0, sizeof(*st));
	/* What the flow tables before new rules counted. */
	st->records += p->prev.records;
	st->skipped += p->prev.skipped;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st->skipped_by); i++)
		st->skipped_by[i] += p->prev.skipped_by[i];
	if (st->last_skip[0] == '\0')
		memcpy(st->last_skip, p->prev.last_skip, sizeof(st->last_skip));
	st->evicted += p->prev.evicted;
	st->later += p->prev.later;
	st->late += p->prev.late;
	st->ignored += p->prev.ignored;
	st->flows = p->res.written;
	memcpy(st->by_type, p->by_type, sizeof(st->by_type));
	memcpy(st->by_class, p->by_class, sizeof(st->by_class));
	st->lost = p->res.lost;
	if (p->em != NULL)
		st_envoymatch_stats(p->em, &st->envoy);
}

int st_pipe_finish(struct st_pipe *p, const struct st_flow_stats *st, char *err)
{
	bool failed = p->res.out_errno != 0;
	int ret;

	/* Every summary sink runs: a drawing still ends when text failed. */
	for (unsigned int i = 0; i < p->nsinks && !failed; i++) {
		if (p->sinks[i].ops->summary == NULL)
			continue;
		ret = p->sinks[i].ops->summary(p->sinks[i].data, st);
		if (ret < 0 && p->res.out_errno == 0)
			p->res.out_errno = -ret;
	}
	st_pipe_sync(p);
	if (p->res.out_errno != 0)
		return st_err(err, p->res.out_errno,
			      "writing the output failed: %s",
			      strerror(p->res.out_errno));
	return 0;
}

/* ---- the rules a pipeline reads --------------------------------------- */

int st_pipe_rules_load(struct st_ruleset **out, const char *const *paths,
		       unsigned int n, char *err)
{
	struct st_ruleset *rs;
	int ret;

	*out = NULL;
	rs = st_ruleset_new();
	if (rs == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (unsigned int i = 0; i < n; i++) {
		ret = st_rules_load_file(rs, paths[i], err);
		if (ret < 0) {
			st_ruleset_free(rs);
			return ret;
		}
	}
	*out = rs;
	return 0;
}

int st_pipe_rules_accept(struct st_ruleset *rs, struct st_istio_settings *set,
			 enum st_pipe_use use, FILE *diag, char *err)
{
	const char *sep;
	int ret;

	ret = st_istio_analyze(rs, set, err);
	if (ret < 0 || use == ST_PIPE_USE_ANY)
		return ret;
	sep = set->note[0] ? ": " : "";
	switch (set->kind) {
	case ST_ISTIO_SIDECAR:
		return 0;
	case ST_ISTIO_AMBIENT:
		/* ztunnel's flows: types 7-13 (classify.h). */
		if (use == ST_PIPE_USE_TRACE || use == ST_PIPE_USE_REPLAY)
			return 0;
		break;
	case ST_ISTIO_UNRECOGNISED:
		if (use == ST_PIPE_USE_TRACE)
			st_note(diag,
				"the Istio rules are not of a known form; "
				"tracing them anyway%s%s",
				sep, set->note);
		else if (use == ST_PIPE_USE_REPLAY)
			st_note(diag,
				"the Istio rules are not of a known form; "
				"replaying anyway%s%s",
				sep, set->note);
		return 0;
	default:
		break;
	}
	if (use == ST_PIPE_USE_TRACE)
		return st_err(err, ENODATA, "not an Istio sidecar pod (%s)%s%s",
			      st_istio_kind_name(set->kind), sep, set->note);
	return st_err(
		err, ENODATA,
		"the rules are not those of an Istio sidecar pod (%s)%s%s",
		st_istio_kind_name(set->kind), sep, set->note);
}
