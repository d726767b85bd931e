// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * capwrite.c - --write: a live trace's records into a LINKTYPE_NFLOG
 * capture (pcapout.h), with the rules and what was traced beside it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capwrite.h"
#include "pcapout.h"
#include "target.h"

/* Push buffered records out this often, so that a full disk stops the
 * trace soon and a killed run leaves a usable capture. */
#define ST_CAPWRITE_FLUSH_RECORDS 256
#define ST_CAPWRITE_FLUSH_NS 1000000000LL

struct st_capwrite {
	struct st_pcapout *po;
	const struct st_session_target *target;
	enum st_backend backend;
	int failed;
	unsigned int unflushed;
	struct timespec flushed; /* record time of the last flush */
};

int st_capwrite_open(struct st_capwrite **out, const char *path,
		     const struct st_session_target *target, char *err)
{
	struct st_capwrite *w;
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

static int st_cw_fail(struct st_capwrite *w, int ret)
{
	if (w->failed == 0)
		w->failed = ret;
	return ret;
}

static int st_cw_rules(void *data, const struct st_tgt *tgt, char *err)
{
	struct st_capwrite *w = data;
	const char *text;
	size_t len = 0;
	int ret;

	w->backend = st_tgt_backend(tgt);
	if (w->backend == ST_BACKEND_NFTABLES) {
		text = st_tgt_text(tgt, ST_FAMILY_ANY, &len);
		return len > 0 ? st_cw_fail(w, st_pcapout_write_rules(w->po, 0,
								      text, len,
								      err))
			       : 0;
	}
	text = st_tgt_text(tgt, ST_FAMILY_IPV4, &len);
	if (len > 0) {
		ret = st_pcapout_write_rules(w->po, 4, text, len, err);
		if (ret < 0)
			return st_cw_fail(w, ret);
	}
	text = st_tgt_text(tgt, ST_FAMILY_IPV6, &len);
	if (len > 0) {
		ret = st_pcapout_write_rules(w->po, 6, text, len, err);
		if (ret < 0)
			return st_cw_fail(w, ret);
	}
	return 0;
}

static int st_cw_begin(void *data, const struct st_session_result *res,
		       char *err)
{
	struct st_capwrite *w = data;
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
	return st_cw_fail(w, st_pcapout_set_meta(w->po, &meta, err));
}

static int st_cw_rec(void *data, const struct st_rec *rec, char *err)
{
	struct st_capwrite *w = data;
	long long ns;
	int ret;

	if (w->failed != 0)
		return st_err(err, -w->failed, "the capture failed before");
	ret = st_pcapout_write(w->po, rec, err);
	if (ret < 0)
		return st_cw_fail(w, ret);
	ns = (long long)(rec->ts.tv_sec - w->flushed.tv_sec) * 1000000000LL +
	     (rec->ts.tv_nsec - w->flushed.tv_nsec);
	if (++w->unflushed < ST_CAPWRITE_FLUSH_RECORDS &&
	    ns < ST_CAPWRITE_FLUSH_NS)
		return 0;
	w->unflushed = 0;
	w->flushed = rec->ts;
	ret = st_pcapout_flush(w->po, err);
	return ret < 0 ? st_cw_fail(w, ret) : 0;
}

static const struct st_session_tap st_cw_tap = {
	.rules = st_cw_rules,
	.begin = st_cw_begin,
};

const struct st_session_tap *st_capwrite_tap(void)
{
	return &st_cw_tap;
}

static const struct st_sink_ops st_cw_ops = {
	.rec = st_cw_rec,
};

const struct st_sink_ops *st_capwrite_ops(void)
{
	return &st_cw_ops;
}

int st_capwrite_failed(const struct st_capwrite *w)
{
	return w != NULL ? w->failed : 0;
}

uint64_t st_capwrite_records(const struct st_capwrite *w)
{
	return w != NULL ? st_pcapout_records(w->po) : 0;
}

int st_capwrite_close(struct st_capwrite *w, char *err)
{
	int ret;

	if (w == NULL)
		return 0;
	ret = st_pcapout_close(w->po, err);
	free(w);
	return ret;
}
