// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * capwrite.c - --write: a live trace's records into a LINKTYPE_NFLOG
 * capture (pcapout.h), with the rules and what was traced beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	FILE *envoy;		 /* FILE.envoy.log; NULL: not kept */
	uint64_t entries;	 /* written to it */
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

int st_capwrite_keep_envoy(struct st_capwrite *w, const char *path, char *err)
{
	char side[PATH_MAX];
	int fd;

	if (st_pcapout_side_path(side, sizeof(side), path, "envoy.log") < 0)
		return st_err(err, ENAMETOOLONG, "%s: name too long", path);
	/* Private as the capture: paths and addresses of the pod's peers. */
	fd = open(side, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return st_err(err, errno, "%s: %s", side, strerror(errno));
	w->envoy = fdopen(fd, "w");
	if (w->envoy == NULL) {
		close(fd);
		return st_err(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* "2024-03-21T10:00:00.123456789Z" */
static void st_cw_time(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	time_t t = ts->tv_sec;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts->tv_nsec);
}

/* A JSON string of @s; bytes jansson refuses (not UTF-8) become '?'. */
static json_t *st_cw_str(const char *s)
{
	char buf[ST_ENVOY_LONG_SIZE];
	json_t *j = json_string(s);

	if (j != NULL)
		return j;
	st_strlcpy(buf, s, sizeof(buf));
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7e)
			*p = '?';
	return json_string(buf);
}

/* The value of field @f of @r as Istio's JSON format writes it. */
static json_t *st_cw_value(const struct st_envoy_req *r, enum st_envoy_field f)
{
	char buf[ST_ENVOY_ADDR_SIZE];
	const struct st_envoy_addr *a = NULL;
	uint64_t n = 0;
	const char *str = NULL;

	if (!st_envoy_has(r, f))
		return json_null();
	switch (f) {
	case ST_ENVOY_START_TIME:
		st_cw_time(&r->start, buf, sizeof(buf));
		return json_string(buf);
	case ST_ENVOY_RESPONSE_CODE:
		return json_integer(r->response_code);
	case ST_ENVOY_BYTES_RECEIVED:
		n = r->bytes_received;
		break;
	case ST_ENVOY_BYTES_SENT:
		n = r->bytes_sent;
		break;
	case ST_ENVOY_DURATION:
		n = r->duration_ms;
		break;
	case ST_ENVOY_UPSTREAM_SERVICE_TIME:
		n = r->upstream_service_ms;
		break;
	case ST_ENVOY_UPSTREAM_HOST:
		a = &r->upstream_host;
		break;
	case ST_ENVOY_UPSTREAM_LOCAL:
		a = &r->upstream_local;
		break;
	case ST_ENVOY_DOWNSTREAM_LOCAL:
		a = &r->downstream_local;
		break;
	case ST_ENVOY_DOWNSTREAM_REMOTE:
		a = &r->downstream_remote;
		break;
	case ST_ENVOY_METHOD:
		str = r->method;
		break;
	case ST_ENVOY_PATH:
		str = r->path;
		break;
	case ST_ENVOY_PROTOCOL:
		str = r->protocol;
		break;
	case ST_ENVOY_RESPONSE_FLAGS:
		str = r->response_flags;
		break;
	case ST_ENVOY_CODE_DETAILS:
		str = r->code_details;
		break;
	case ST_ENVOY_TERMINATION_DETAILS:
		str = r->termination_details;
		break;
	case ST_ENVOY_TRANSPORT_FAILURE:
		str = r->transport_failure;
		break;
	case ST_ENVOY_X_FORWARDED_FOR:
		str = r->x_forwarded_for;
		break;
	case ST_ENVOY_USER_AGENT:
		str = r->user_agent;
		break;
	case ST_ENVOY_REQUEST_ID:
		str = r->request_id;
		break;
	case ST_ENVOY_AUTHORITY:
		str = r->authority;
		break;
	case ST_ENVOY_UPSTREAM_CLUSTER:
		str = r->upstream_cluster;
		break;
	case ST_ENVOY_SERVER_NAME:
		str = r->server_name;
		break;
	case ST_ENVOY_ROUTE_NAME:
		str = r->route_name;
		break;
	default:
		return json_null();
	}
	if (a != NULL) {
		st_envoy_addr_format(a, buf, sizeof(buf));
		return json_string(buf);
	}
	if (str != NULL)
		return st_cw_str(str);
	return json_integer((json_int_t)n);
}

/*
 * One entry as the kubelet would keep it: the CRI wrapping around Istio's
 * JSON format, the fields the line had and no other, so that a replay
 * reads what the trace read.  The time is when the trace took the entry
 * (at one of its ticks), not when the kubelet wrote it: a replay gives it
 * to the pipeline at that time, as the trace did (Envoy's own times are
 * in the line).
 */
static int st_cw_envoy(void *data, const struct st_envoy_req *req, char *err)
{
	struct st_capwrite *w = data;
	struct timespec ts;
	char when[48];
	json_t *o = NULL;
	char *text = NULL;
	bool bad = false;
	int ret = 0;

	if (w->envoy == NULL)
		return 0;
	if (w->failed != 0)
		return st_err(err, -w->failed, "the capture failed before");
	o = json_object();
	bad = o == NULL;
	for (int f = 0; f < ST_ENVOY__MAX && !bad; f++) {
		json_t *v = NULL;

		if (!(req->has & ST_ENVOY_BIT(f)))
			continue;
		v = st_cw_value(req, (enum st_envoy_field)f);
		if (v == NULL ||
		    json_object_set_new(
			    o, st_envoy_field_name((enum st_envoy_field)f), v) <
			    0)
			bad = true;
	}
	if (!bad)
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return st_cw_fail(w, st_err(err, ENOMEM, "out of memory"));
	clock_gettime(CLOCK_REALTIME, &ts);
	st_cw_time(&ts, when, sizeof(when));
	if (fprintf(w->envoy, "%s stdout F %s\n", when, text) < 0 ||
	    fflush(w->envoy) != 0)
		ret = st_cw_fail(w, st_err(err, errno ? errno : EIO,
					   "writing the access log failed: %s",
					   strerror(errno ? errno : EIO)));
	else
		w->entries++;
	free(text);
	return ret;
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
	.envoy = st_cw_envoy,
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
	if (w->envoy != NULL && fclose(w->envoy) != 0 && ret == 0)
		ret = st_err(err, errno, "writing the access log failed: %s",
			     strerror(errno));
	free(w);
	return ret;
}
