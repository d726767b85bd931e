// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * envoylog.c - Envoy's access log: CRI unwrapping, Istio's TEXT and JSON
 * formats, and a follower that survives rotation, truncation and
 * deletion of its file.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "envoylog.h"

/* ---- one line ---------------------------------------------------------- */

int st_envoylog_cri_split(const char *line, size_t len,
			  struct st_envoylog_cri *out)
{
	const char *end = line + len, *p, *sp;

	memset(out, 0, sizeof(*out));
	sp = memchr(line, ' ', len);
	if (sp == NULL ||
	    st_envoy_time_parse(line, (size_t)(sp - line), &out->ts) < 0)
		return -EINVAL;
	p = sp + 1;
	if (end - p >= 7 && memcmp(p, "stdout ", 7) == 0) {
		p += 7;
	} else if (end - p >= 7 && memcmp(p, "stderr ", 7) == 0) {
		out->is_stderr = true;
		p += 7;
	} else {
		return -EINVAL;
	}
	if (p >= end || (*p != 'F' && *p != 'P') ||
	    (p + 1 < end && p[1] != ' '))
		return -EINVAL;
	out->partial = *p == 'P';
	p += p + 1 < end ? 2 : 1;
	out->text = p;
	out->len = (size_t)(end - p);
	return 0;
}

/* A token of a TEXT line: [bracketed], "quoted" or a bare word. */
enum st_tok_kind { ST_TOK_B = 'B', ST_TOK_Q = 'Q', ST_TOK_W = 'W' };

struct st_tok {
	const char *s; /* inside the brackets or quotes */
	size_t n;
	char kind;
};

#define ST_TOKS_MAX 32

/*
 * Split a TEXT line.  Envoy does not escape quotes inside values, so a
 * quoted token ends at a quote followed by a space or the line's end.
 * Return: the number of tokens, or -1 for more than ST_TOKS_MAX or an
 * unclosed bracket or quote.
 */
static int st_tokenize(const char *s, size_t n, struct st_tok *t, char *shape)
{
	const char *end = s + n, *p = s;
	int k = 0;

	for (;;) {
		const char *q;

		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		if (k == ST_TOKS_MAX)
			return -1;
		/* Only the time is bracketed: "[fd00::1]:80" is a word. */
		if (*p == '[' && k == 0) {
			q = memchr(p, ']', (size_t)(end - p));
			if (q == NULL)
				return -1;
			t[k] = (struct st_tok){p + 1, (size_t)(q - p - 1),
					       ST_TOK_B};
			p = q + 1;
		} else if (*p == '"') {
			q = p + 1;
			for (;;) {
				q = memchr(q, '"', (size_t)(end - q));
				if (q == NULL)
					return -1;
				if (q + 1 == end || q[1] == ' ')
					break;
				q++;
			}
			t[k] = (struct st_tok){p + 1, (size_t)(q - p - 1),
					       ST_TOK_Q};
			p = q + 1;
		} else {
			q = memchr(p, ' ', (size_t)(end - p));
			if (q == NULL)
				q = end;
			t[k] = (struct st_tok){p, (size_t)(q - p), ST_TOK_W};
			p = q;
		}
		shape[k] = t[k].kind;
		k++;
	}
	shape[k] = '\0';
	return k;
}

/* "METHOD PATH PROTOCOL": the path is what lies between the outer two. */
static void st_req_line(struct st_envoy_req *req, const struct st_tok *t)
{
	const char *s = t->s, *end = t->s + t->n;
	const char *a = memchr(s, ' ', t->n), *b = memrchr(s, ' ', t->n);

	if (a == NULL || a == b) {
		/* Not three words: nothing in it can be trusted. */
		req->has |= ST_ENVOY_BIT(ST_ENVOY_METHOD) |
			    ST_ENVOY_BIT(ST_ENVOY_PATH) |
			    ST_ENVOY_BIT(ST_ENVOY_PROTOCOL);
		req->bad |= ST_ENVOY_BIT(ST_ENVOY_METHOD) |
			    ST_ENVOY_BIT(ST_ENVOY_PATH) |
			    ST_ENVOY_BIT(ST_ENVOY_PROTOCOL);
		return;
	}
	st_envoy_set(req, ST_ENVOY_METHOD, s, (size_t)(a - s));
	st_envoy_set(req, ST_ENVOY_PATH, a + 1, (size_t)(b - a - 1));
	st_envoy_set(req, ST_ENVOY_PROTOCOL, b + 1, (size_t)(end - b - 1));
}

/*
 * The layouts, token by token after "[time] "request line"": the field
 * each token is, -1 for one that is none of ours.
 */
struct st_layout {
	const char *shape;
	enum st_envoylog_format format;
	signed char field[ST_TOKS_MAX];
};

#define F(x) ST_ENVOY_##x
static const struct st_layout st_layouts[] = {
	{
		.shape = "BQWWWWQWWWWQQQQQWWWWWW",
		.format = ST_ENVOYLOG_TEXT,
		.field = {F(RESPONSE_CODE),
			  F(RESPONSE_FLAGS),
			  F(CODE_DETAILS),
			  F(TERMINATION_DETAILS),
			  F(TRANSPORT_FAILURE),
			  F(BYTES_RECEIVED),
			  F(BYTES_SENT),
			  F(DURATION),
			  F(UPSTREAM_SERVICE_TIME),
			  F(X_FORWARDED_FOR),
			  F(USER_AGENT),
			  F(REQUEST_ID),
			  F(AUTHORITY),
			  F(UPSTREAM_HOST),
			  F(UPSTREAM_CLUSTER),
			  F(UPSTREAM_LOCAL),
			  F(DOWNSTREAM_LOCAL),
			  F(DOWNSTREAM_REMOTE),
			  F(SERVER_NAME),
			  F(ROUTE_NAME)},
	},
	{
		.shape = "BQWWQQWWWWQQQQQWWWWWW",
		.format = ST_ENVOYLOG_TEXT_OLD,
		.field = {F(RESPONSE_CODE), F(RESPONSE_FLAGS), -1,
			  F(TRANSPORT_FAILURE), F(BYTES_RECEIVED),
			  F(BYTES_SENT), F(DURATION), F(UPSTREAM_SERVICE_TIME),
			  F(X_FORWARDED_FOR), F(USER_AGENT), F(REQUEST_ID),
			  F(AUTHORITY), F(UPSTREAM_HOST), F(UPSTREAM_CLUSTER),
			  F(UPSTREAM_LOCAL), F(DOWNSTREAM_LOCAL),
			  F(DOWNSTREAM_REMOTE), F(SERVER_NAME), F(ROUTE_NAME)},
	},
	{
		.shape = "BQWWWWWWQQQQQ",
		.format = ST_ENVOYLOG_TEXT_ENVOY,
		.field = {F(RESPONSE_CODE), F(RESPONSE_FLAGS),
			  F(BYTES_RECEIVED), F(BYTES_SENT), F(DURATION),
			  F(UPSTREAM_SERVICE_TIME), F(X_FORWARDED_FOR),
			  F(USER_AGENT), F(REQUEST_ID), F(AUTHORITY),
			  F(UPSTREAM_HOST)},
	},
};
#undef F

static int st_parse_text(const char *s, size_t n, struct st_envoy_req *req)
{
	struct st_tok t[ST_TOKS_MAX];
	char shape[ST_TOKS_MAX + 1];
	const struct st_layout *lay = NULL;
	int k;

	k = st_tokenize(s, n, t, shape);
	if (k < 3 || shape[0] != ST_TOK_B || shape[1] != ST_TOK_Q ||
	    shape[2] != ST_TOK_W)
		return -EBADMSG;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_layouts); i++) {
		if (strcmp(shape, st_layouts[i].shape) == 0) {
			lay = &st_layouts[i];
			break;
		}
	}
	/*
	 * Of another shape, only the start every Envoy format shares is
	 * read, and only when it reads as such: a time and a status code.
	 */
	if (lay == NULL &&
	    (st_envoy_time_parse(t[0].s, t[0].n, &req->start) < 0 ||
	     (!(t[2].n == 1 && t[2].s[0] == '0') &&
	      (t[2].n != 3 || t[2].s[0] < '1' || t[2].s[0] > '5'))))
		return -EBADMSG;
	st_envoy_set(req, ST_ENVOY_START_TIME, t[0].s, t[0].n);
	st_req_line(req, &t[1]);
	if (lay == NULL) {
		st_envoy_set(req, ST_ENVOY_RESPONSE_CODE, t[2].s, t[2].n);
		return ST_ENVOYLOG_TEXT_OTHER;
	}
	for (int i = 2; i < k; i++) {
		int f = lay->field[i - 2];

		if (f >= 0)
			st_envoy_set(req, (enum st_envoy_field)f, t[i].s,
				     t[i].n);
	}
	return (int)lay->format;
}

/* A JSON value as the fields want it, from either parser below. */
struct st_jval {
	enum { ST_JV_STRING, ST_JV_NULL, ST_JV_UINT, ST_JV_OTHER } kind;
	const char *s; /* ST_JV_STRING */
	size_t n;
	uint64_t u; /* ST_JV_UINT */
};

static void st_json_value(struct st_envoy_req *req, enum st_envoy_field f,
			  const struct st_jval *v)
{
	char num[24];
	int k;

	switch (v->kind) {
	case ST_JV_STRING:
		st_envoy_set(req, f, v->s, v->n);
		break;
	case ST_JV_NULL:
		st_envoy_set(req, f, "", 0);
		break;
	case ST_JV_UINT:
		if (f == ST_ENVOY_RESPONSE_CODE ||
		    f == ST_ENVOY_BYTES_RECEIVED || f == ST_ENVOY_BYTES_SENT ||
		    f == ST_ENVOY_DURATION ||
		    f == ST_ENVOY_UPSTREAM_SERVICE_TIME) {
			st_envoy_set_uint(req, f, v->u);
		} else {
			k = snprintf(num, sizeof(num), "%llu",
				     (unsigned long long)v->u);
			st_envoy_set(req, f, num, (size_t)k);
		}
		break;
	default:
		/* A negative number, a real, a boolean, an object: none of
		 * Envoy's values. */
		st_envoy_set(req, f, "", 0);
		req->empty &= ~ST_ENVOY_BIT(f);
		req->bad |= ST_ENVOY_BIT(f);
		break;
	}
}

/* The general case: jansson. */
static int st_parse_json_slow(const char *s, size_t n, struct st_envoy_req *req)
{
	json_error_t jerr;
	const char *key;
	json_t *root, *v;
	int ret = -EBADMSG;

	st_envoy_req_reset(req);
	root = json_loadb(s, n, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(root))
		goto out;
	json_object_foreach(root, key, v)
	{
		int f = st_envoy_field_by_name(key, strlen(key));
		struct st_jval jv = {.kind = ST_JV_OTHER};

		if (f < 0)
			continue;
		if (json_is_string(v)) {
			jv.kind = ST_JV_STRING;
			jv.s = json_string_value(v);
			jv.n = json_string_length(v);
		} else if (json_is_null(v)) {
			jv.kind = ST_JV_NULL;
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			jv.kind = ST_JV_UINT;
			jv.u = (uint64_t)json_integer_value(v);
		}
		st_json_value(req, (enum st_envoy_field)f, &jv);
	}
	/* An object with none of the keys is another program's log. */
	if (req->has != 0)
		ret = ST_ENVOYLOG_JSON;
out:
	json_decref(root);
	return ret;
}

static const char *st_json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/*
 * A string without escapes, control bytes or bytes of 0x80 and up (whose
 * UTF-8 jansson checks); NULL for anything else.
 */
static const char *st_json_str(const char *p, const char *end, const char **s,
			       size_t *n)
{
	const char *q;

	if (p >= end || *p != '"')
		return NULL;
	q = ++p;
	while (q < end && *q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c >= 0x80 || c == '\\')
			return NULL;
		q++;
	}
	if (q >= end)
		return NULL;
	*s = p;
	*n = (size_t)(q - p);
	return q + 1;
}

/*
 * The common case without allocating: a flat object whose values are
 * plain strings, null or small non-negative integers, exactly as jansson
 * would read it.  Return: the format, -EBADMSG for an object with none of
 * the keys, or -EAGAIN when the line is anything else (jansson decides).
 */
static int st_parse_json_fast(const char *s, size_t n, struct st_envoy_req *req)
{
	const char *p = s, *end = s + n;

	p = st_json_ws(p, end);
	if (p >= end || *p++ != '{')
		return -EAGAIN;
	p = st_json_ws(p, end);
	if (p < end && *p == '}') {
		p++;
		goto done;
	}
	for (;;) {
		struct st_jval jv = {.kind = ST_JV_OTHER};
		const char *key;
		size_t klen;
		int f;

		p = st_json_str(p, end, &key, &klen);
		if (p == NULL)
			return -EAGAIN;
		p = st_json_ws(p, end);
		if (p >= end || *p++ != ':')
			return -EAGAIN;
		p = st_json_ws(p, end);
		if (p >= end)
			return -EAGAIN;
		if (*p == '"') {
			jv.kind = ST_JV_STRING;
			p = st_json_str(p, end, &jv.s, &jv.n);
			if (p == NULL)
				return -EAGAIN;
		} else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
			jv.kind = ST_JV_NULL;
			p += 4;
		} else if (*p >= '0' && *p <= '9') {
			const char *d = p;

			jv.kind = ST_JV_UINT;
			while (p < end && *p >= '0' && *p <= '9')
				jv.u = jv.u * 10 + (uint64_t)(*p++ - '0');
			/* Leading zeros, reals and big numbers: jansson's. */
			if ((*d == '0' && p - d > 1) || p - d > 18 ||
			    (p < end && (*p == '.' || *p == 'e' || *p == 'E')))
				return -EAGAIN;
		} else {
			return -EAGAIN;
		}
		f = st_envoy_field_by_name(key, klen);
		if (f >= 0)
			st_json_value(req, (enum st_envoy_field)f, &jv);
		p = st_json_ws(p, end);
		if (p < end && *p == ',') {
			p = st_json_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return -EAGAIN;
	}
done:
	if (st_json_ws(p, end) != end)
		return -EAGAIN;
	return req->has != 0 ? ST_ENVOYLOG_JSON : -EBADMSG;
}

static int st_parse_json(const char *s, size_t n, struct st_envoy_req *req)
{
	int ret = st_parse_json_fast(s, n, req);

	if (ret != -EAGAIN)
		return ret;
	return st_parse_json_slow(s, n, req);
}

int st_envoylog_parse(const char *line, size_t len, struct st_envoy_req *req)
{
	int ret = -EBADMSG;

	st_envoy_req_reset(req);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r' ||
			   line[len - 1] == '\t'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len > 0 && line[0] == '[')
		ret = st_parse_text(line, len, req);
	else if (len > 0 && line[0] == '{')
		ret = st_parse_json(line, len, req);
	if (ret < 0)
		st_envoy_req_reset(req);
	return ret;
}

const char *st_envoylog_format_name(enum st_envoylog_format f)
{
	switch (f) {
	case ST_ENVOYLOG_TEXT:
		return "text";
	case ST_ENVOYLOG_TEXT_OLD:
		return "text-1.5";
	case ST_ENVOYLOG_TEXT_ENVOY:
		return "text-envoy";
	case ST_ENVOYLOG_TEXT_OTHER:
		return "text-other";
	case ST_ENVOYLOG_JSON:
		return "json";
	default:
		return "?";
	}
}

const char *st_envoylog_anomaly_name(enum st_envoylog_anomaly a)
{
	static const char *const names[ST_ENVOYLOG_A__MAX] = {
		[ST_ENVOYLOG_A_UNPARSED] = "unparsed",
		[ST_ENVOYLOG_A_MISSING] = "missing-fields",
		[ST_ENVOYLOG_A_OVERSIZE] = "oversize",
		[ST_ENVOYLOG_A_BINARY] = "binary",
		[ST_ENVOYLOG_A_CRI] = "cri-partial",
		[ST_ENVOYLOG_A_ROTATED] = "rotated",
		[ST_ENVOYLOG_A_TRUNCATED] = "truncated",
		[ST_ENVOYLOG_A_DELETED] = "deleted",
		[ST_ENVOYLOG_A_READ] = "read",
	};

	if ((unsigned int)a >= ST_ENVOYLOG_A__MAX)
		return "?";
	return names[a];
}

/* ---- the reader -------------------------------------------------------- */

#define ST_NEWS_SIZE 192

struct st_envoylog {
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;    /* read so far from fd */
	bool regular; /* rotation checks make sense */
	bool gone;    /* the path was missing at the last check */
	size_t max_line;
	st_envoylog_fn fn;
	void *data;
	/* Bytes read, lines not yet handled in [pos, len). */
	char *buf;
	size_t cap; /* max_line + 1: a longest line and its newline */
	size_t pos;
	size_t len;
	bool skipping; /* inside an over-long line: drop to its newline */
	/*
	 * CRI P pieces joined so far, per stream: the kubelet interleaves
	 * stdout and stderr lines in one file.
	 */
	struct st_join {
		char *buf;
		size_t len;
		bool active;
		bool over; /* the pieces went over the bound */
		struct timespec ts;
	} join[2];
	struct st_envoy_req req;
	struct st_envoylog_stats st;
	uint32_t said; /* anomalies put in news[] already */
	unsigned int nnews;
	unsigned int next_news;
	char news[ST_ENVOYLOG_A__MAX][ST_NEWS_SIZE];
	char out_news[ST_NEWS_SIZE];
};

/* Queue the first anomaly of its kind as a sentence. */
static void __st_printf(3, 4)
	st_say(struct st_envoylog *l, enum st_envoylog_anomaly a,
	       const char *fmt, ...)
{
	va_list ap;

	if (l->said & (1u << a))
		return;
	l->said |= 1u << a;
	va_start(ap, fmt);
	vsnprintf(l->news[l->nnews++], ST_NEWS_SIZE, fmt, ap);
	va_end(ap);
}

/* The start of a bad line, printable, for a message. */
static void st_sample(const char *s, size_t n, char *out, size_t size)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 4 < size && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];

		out[k++] = c < 0x20 || c >= 0x7f ? '.' : (char)c;
	}
	if (n > 40 && k + 4 < size) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

static int st_cb_ret(int ret, char *err)
{
	if (ret == ST_CB_OK || ret == ST_CB_STOP)
		return ret;
	if (ret == ST_CB_ERROR)
		return st_err(err, ECANCELED, "envoy log: the callback failed");
	if (ret < 0)
		return ret;
	return ST_CB_OK;
}

static bool st_is_level(const char *s, size_t n)
{
	static const char *const levels[] = {
		"trace",   "debug", "info",	"warn",
		"warning", "error", "critical", "fatal",
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(levels); i++)
		if (strlen(levels[i]) == n && strncmp(s, levels[i], n) == 0)
			return true;
	return false;
}

/*
 * A line of the proxy's own logs: pilot-agent's "2024-03-21T10:00:00Z\tinfo
 * \t..." or Envoy's "[2024-03-21 10:00:00.123][15][info][config] ...".  The
 * kubelet writes them into the same file as the access log.
 */
static bool st_is_own_log(const char *s, size_t n)
{
	size_t i = 0, lv = 0;

	if (n > 0 && s[0] == '[') {
		/* [time][thread][level] */
		for (int field = 0; field < 3; field++) {
			if (i >= n || s[i] != '[')
				return false;
			lv = ++i;
			while (i < n && s[i] != ']')
				i++;
			if (i >= n)
				return false;
			if (field == 2)
				return st_is_level(s + lv, i - lv);
			i++;
		}
		return false;
	}
	/* RFC 3339 time, blank, level, blank */
	if (n < 11 || s[4] != '-' || s[7] != '-' || s[10] != 'T')
		return false;
	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	lv = i;
	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	return i < n && st_is_level(s + lv, i - lv);
}

/* One access-log text: parse it and hand the entry out. */
static int st_entry(struct st_envoylog *l, const char *s, size_t n,
		    const struct timespec *logged, char *err)
{
	char sample[64];
	int fmt;

	fmt = st_envoylog_parse(s, n, &l->req);
	if (fmt < 0 && st_is_own_log(s, n)) {
		l->st.own_logs++;
		return ST_CB_OK;
	}
	if (fmt < 0) {
		l->st.unparsed++;
		st_sample(s, n, sample, sizeof(sample));
		st_say(l, ST_ENVOYLOG_A_UNPARSED,
		       "line %llu: not an access-log entry in a format read "
		       "here: '%s'",
		       (unsigned long long)l->st.lines, sample);
		return ST_CB_OK;
	}
	if (logged != NULL)
		l->req.logged = *logged;
	l->st.entries++;
	l->st.by_format[fmt]++;
	if (l->req.has != ST_ENVOY_ALL) {
		char miss[ST_NEWS_SIZE];

		l->st.missing++;
		st_envoy_missing_format(&l->req, miss, 96);
		st_say(l, ST_ENVOYLOG_A_MISSING,
		       "line %llu: %s entry without %s",
		       (unsigned long long)l->st.lines,
		       st_envoylog_format_name((enum st_envoylog_format)fmt),
		       miss);
	}
	return st_cb_ret(l->fn(l->data, &l->req), err);
}

/* Drop the pieces of both streams; @count: as a broken line. */
static void st_join_drop(struct st_envoylog *l, bool count)
{
	for (int i = 0; i < 2; i++) {
		struct st_join *j = &l->join[i];

		if (j->active && count) {
			l->st.cri_broken++;
			st_say(l, ST_ENVOYLOG_A_CRI,
			       "line %llu: a partial CRI line (P) without its "
			       "final piece, dropped",
			       (unsigned long long)l->st.lines);
		}
		j->active = false;
		j->over = false;
		j->len = 0;
	}
}

static void st_oversize(struct st_envoylog *l)
{
	l->st.oversize++;
	st_say(l, ST_ENVOYLOG_A_OVERSIZE,
	       "line %llu: longer than %zu bytes, skipped",
	       (unsigned long long)l->st.lines + 1, l->max_line);
}

/* Any NUL or control byte but tab and a final CR: not a log line. */
static bool st_binary(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t highs = 0x8080808080808080ull;
	size_t i = 0;

	/*
	 * Eight bytes at a time: a word with no byte below 0x20 and none
	 * equal to 0x7f is skipped whole (the usual hasless/haszero tests;
	 * bytes of 0x80 and up are UTF-8 and pass).
	 */
	for (; i + 8 <= n; i += 8) {
		uint64_t w, del;

		memcpy(&w, s + i, sizeof(w));
		del = w ^ (ones * 0x7f);
		if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs)
			break;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t' && !(c == '\r' && i + 1 == n)) ||
		    c == 0x7f)
			return true;
	}
	return false;
}

/* One physical line, without its newline. */
static int st_line(struct st_envoylog *l, const char *s, size_t n, char *err)
{
	struct st_envoylog_cri cri;
	struct st_join *j;
	int ret;

	l->st.lines++;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (st_binary(s, n)) {
		l->st.binary++;
		st_say(l, ST_ENVOYLOG_A_BINARY,
		       "line %llu: binary data, skipped",
		       (unsigned long long)l->st.lines);
		return ST_CB_OK;
	}
	if (st_envoylog_cri_split(s, n, &cri) < 0) {
		st_join_drop(l, true);
		if (n == 0)
			return ST_CB_OK;
		return st_entry(l, s, n, NULL, err);
	}
	j = &l->join[cri.is_stderr];
	if (cri.partial || j->active) {
		if (!j->active)
			j->ts = cri.ts;
		j->active = true;
		if (!j->over && cri.len <= l->max_line - j->len) {
			memcpy(j->buf + j->len, cri.text, cri.len);
			j->len += cri.len;
		} else {
			j->over = true;
		}
		if (cri.partial) {
			l->st.joined++;
			return ST_CB_OK;
		}
		/* The F piece ends it. */
		j->active = false;
		if (j->over) {
			j->over = false;
			j->len = 0;
			st_oversize(l);
			return ST_CB_OK;
		}
		ret = st_entry(l, j->buf, j->len, &j->ts, err);
		j->len = 0;
		return ret;
	}
	if (cri.len == 0)
		return ST_CB_OK;
	return st_entry(l, cri.text, cri.len, &cri.ts, err);
}

/* Handle the complete lines in the buffer. */
static int st_lines(struct st_envoylog *l, char *err)
{
	while (l->pos < l->len) {
		char *s = l->buf + l->pos;
		size_t n = l->len - l->pos;
		char *nl = memchr(s, '\n', n);
		int ret;

		if (nl == NULL) {
			if (l->skipping)
				l->pos = l->len;
			break;
		}
		l->pos += (size_t)(nl - s) + 1;
		if (l->skipping) {
			l->skipping = false;
			l->st.lines++;
			continue;
		}
		ret = st_line(l, s, (size_t)(nl - s), err);
		if (ret != ST_CB_OK)
			return ret;
	}
	return ST_CB_OK;
}

/*
 * Make room at the buffer's end: move the unfinished line to the front;
 * a line that fills the whole buffer is over the bound.
 */
static size_t st_room(struct st_envoylog *l)
{
	if (l->pos > 0) {
		memmove(l->buf, l->buf + l->pos, l->len - l->pos);
		l->len -= l->pos;
		l->pos = 0;
	}
	if (l->len == l->cap) {
		st_oversize(l);
		l->skipping = true;
		l->len = 0;
	}
	return l->cap - l->len;
}

int st_envoylog_feed(struct st_envoylog *l, const void *buf, size_t len,
		     char *err)
{
	const char *p = buf;
	int ret;

	if (l == NULL)
		return st_err(err, EINVAL, "envoy log: no reader");
	/* Lines left over by a stop come first. */
	ret = st_lines(l, err);
	if (ret != ST_CB_OK)
		return ret;
	while (len > 0) {
		size_t room = st_room(l), k = len < room ? len : room;

		memcpy(l->buf + l->len, p, k);
		l->len += k;
		l->st.bytes += k;
		p += k;
		len -= k;
		ret = st_lines(l, err);
		if (ret != ST_CB_OK)
			return ret;
	}
	return ST_CB_OK;
}

/* The rest of a file that ends: its last line, even without a newline. */
static int st_tail(struct st_envoylog *l, char *err)
{
	int ret = st_lines(l, err);

	if (ret != ST_CB_OK)
		return ret;
	if (l->len > l->pos && !l->skipping) {
		size_t n = l->len - l->pos;
		char *s = l->buf + l->pos;

		l->pos = l->len;
		ret = st_line(l, s, n, err);
	}
	l->pos = l->len = 0;
	l->skipping = false;
	return ret;
}

int st_envoylog_finish(struct st_envoylog *l, char *err)
{
	int ret;

	if (l == NULL)
		return st_err(err, EINVAL, "envoy log: no reader");
	ret = st_tail(l, err);
	if (ret == ST_CB_OK)
		st_join_drop(l, true);
	return ret;
}

/* Read the file to its current end. */
static int st_drain(struct st_envoylog *l, char *err)
{
	int ret;

	ret = st_lines(l, err);
	if (ret != ST_CB_OK)
		return ret;
	for (;;) {
		size_t room = st_room(l);
		ssize_t n = read(l->fd, l->buf + l->len, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return ST_CB_OK;
		if (n < 0) {
			int e = errno;

			l->st.read_errors++;
			st_say(l, ST_ENVOYLOG_A_READ, "read %s: %s", l->path,
			       strerror(e));
			return st_err(err, e, "read %s: %s", l->path,
				      strerror(e));
		}
		if (n == 0)
			return ST_CB_OK;
		l->len += (size_t)n;
		l->off += n;
		l->st.bytes += (uint64_t)n;
		ret = st_lines(l, err);
		if (ret != ST_CB_OK)
			return ret;
	}
}

/* Open @l->path; from its end when asked, skipping a cut first line. */
static int st_open(struct st_envoylog *l, bool from_end, char *err)
{
	struct stat sb;
	int fd;

	fd = open(l->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return st_err(err, errno, "open %s: %s", l->path,
			      strerror(errno));
	if (fstat(fd, &sb) < 0) {
		int e = errno;

		close(fd);
		return st_err(err, e, "stat %s: %s", l->path, strerror(e));
	}
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		return st_err(err, EISDIR, "%s is a directory", l->path);
	}
	l->fd = fd;
	l->dev = sb.st_dev;
	l->ino = sb.st_ino;
	l->regular = S_ISREG(sb.st_mode);
	l->off = 0;
	l->pos = l->len = 0;
	l->skipping = false;
	if (from_end && l->regular && sb.st_size > 0) {
		char c = '\n';

		l->off = lseek(fd, 0, SEEK_END);
		if (l->off < 0)
			l->off = 0;
		/* Mid-line: the rest of that line is not a whole entry. */
		if (l->off > 0 && pread(fd, &c, 1, l->off - 1) == 1 &&
		    c != '\n')
			l->skipping = true;
	}
	return 0;
}

int st_envoylog_new(struct st_envoylog **out, const struct st_envoylog_opts *o,
		    char *err)
{
	struct st_envoylog *l;
	size_t max = o->max_line ? o->max_line : ST_ENVOYLOG_MAX_LINE;
	int ret;

	*out = NULL;
	if (o->fn == NULL)
		return st_err(err, EINVAL, "envoy log: no callback");
	if (max < ST_ENVOYLOG_MIN_LINE || max > ST_ENVOYLOG_MAX_MAX_LINE)
		return st_err(err, EINVAL,
			      "envoy log: line bound %zu not in %u..%u", max,
			      ST_ENVOYLOG_MIN_LINE, ST_ENVOYLOG_MAX_MAX_LINE);
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return st_err(err, ENOMEM, "out of memory");
	l->fd = -1;
	l->max_line = max;
	l->cap = max + 1;
	l->fn = o->fn;
	l->data = o->data;
	l->buf = malloc(l->cap);
	l->join[0].buf = malloc(max);
	l->join[1].buf = malloc(max);
	if (l->buf == NULL || l->join[0].buf == NULL ||
	    l->join[1].buf == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto fail;
	}
	if (o->path != NULL) {
		l->path = strdup(o->path);
		if (l->path == NULL) {
			ret = st_err(err, ENOMEM, "out of memory");
			goto fail;
		}
		ret = st_open(l, o->from_end, err);
		if (ret < 0)
			goto fail;
	}
	*out = l;
	return 0;
fail:
	st_envoylog_free(l);
	return ret;
}

/* The path names another file now: finish the old one, open the new. */
static int st_switch(struct st_envoylog *l, char *err)
{
	char e2[ST_ERRBUF_SIZE];
	int ret;

	ret = st_drain(l, err);
	if (ret != ST_CB_OK)
		return ret;
	ret = st_tail(l, err);
	if (ret != ST_CB_OK)
		return ret;
	close(l->fd);
	l->fd = -1;
	l->st.rotations++;
	st_say(l, ST_ENVOYLOG_A_ROTATED,
	       "%s was rotated: the old file read to its end, the new one "
	       "from its start",
	       l->path);
	/* Gone again between stat() and open(): the next poll looks. */
	if (st_open(l, false, e2) < 0)
		return ST_CB_OK;
	return st_drain(l, err);
}

int st_envoylog_poll(struct st_envoylog *l, char *err)
{
	struct stat now, cur;
	int ret;

	if (l == NULL || l->path == NULL)
		return st_err(err, EINVAL, "envoy log: no file to follow");
	if (l->fd < 0) {
		/* Lost between a rename and the new file. */
		if (st_open(l, false, err) < 0)
			return ST_CB_OK;
		l->gone = false;
	}
	ret = st_drain(l, err);
	if (ret != ST_CB_OK || !l->regular)
		return ret;
	if (stat(l->path, &now) < 0) {
		/*
		 * A rename leaves the old file linked (the new one comes
		 * soon); a deletion leaves it with no link at all.
		 */
		if (!l->gone && fstat(l->fd, &cur) == 0 && cur.st_nlink == 0) {
			l->st.deletions++;
			st_say(l, ST_ENVOYLOG_A_DELETED,
			       "%s was deleted: waiting for it to come back",
			       l->path);
		}
		l->gone = true;
		return ST_CB_OK;
	}
	l->gone = false;
	if (now.st_ino != l->ino || now.st_dev != l->dev)
		return st_switch(l, err);
	if (now.st_size < l->off) {
		l->st.truncations++;
		st_say(l, ST_ENVOYLOG_A_TRUNCATED,
		       "%s was truncated: read again from its start", l->path);
		if (lseek(l->fd, 0, SEEK_SET) == 0)
			l->off = 0;
		l->pos = l->len = 0;
		l->skipping = false;
		st_join_drop(l, false);
		return st_drain(l, err);
	}
	return ST_CB_OK;
}

void st_envoylog_stats(const struct st_envoylog *l,
		       struct st_envoylog_stats *st)
{
	if (l == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = l->st;
}

const char *st_envoylog_news(struct st_envoylog *l)
{
	if (l == NULL || l->next_news >= l->nnews)
		return NULL;
	memcpy(l->out_news, l->news[l->next_news++], ST_NEWS_SIZE);
	return l->out_news;
}

void st_envoylog_free(struct st_envoylog *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l->buf);
	free(l->join[0].buf);
	free(l->join[1].buf);
	free(l);
}

/* ---- where the kubelet keeps it ---------------------------------------- */

/* Kubernetes names are DNS labels: nothing that could glob or escape. */
static bool st_k8s_name_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 253)
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '.'))
			return false;
	}
	return true;
}

/* "N.log" as N, or -1. */
static long st_restart_of(const char *path)
{
	const char *base = strrchr(path, '/');
	char *end;
	long n;

	base = base != NULL ? base + 1 : path;
	if (base[0] < '0' || base[0] > '9')
		return -1;
	errno = 0;
	n = strtol(base, &end, 10);
	if (errno != 0 || strcmp(end, ".log") != 0)
		return -1;
	return n;
}

int st_envoylog_auto_path(const char *root, const char *ns, const char *pod,
			  char *path, size_t size, char *err)
{
	char pat[4096], dirs[ST_ERRBUF_SIZE / 2];
	const char *best = NULL, *last_d = NULL;
	size_t plen, pre, ndirs = 0, last_dlen = 0;
	long best_n = -1;
	glob_t g;
	int ret;

	if (!st_k8s_name_ok(ns) || !st_k8s_name_ok(pod))
		return st_err(err, EINVAL,
			      "namespace and pod must be Kubernetes names");
	if (root == NULL || root[0] == '\0')
		root = "/";
	/* The root is part of the glob pattern: it must match only itself. */
	if (root[strcspn(root, "*?[\\")] != '\0')
		return st_err(err, EINVAL, "root %s holds a glob character",
			      root);
	plen = strlen(root);
	while (plen > 1 && root[plen - 1] == '/')
		plen--;
	/* The root "/" adds nothing before "/var". */
	pre = plen == 1 && root[0] == '/' ? 0 : plen;
	ret = snprintf(pat, sizeof(pat),
		       "%.*s/var/log/pods/%s_%s_*/istio-proxy/*.log", (int)pre,
		       root, ns, pod);
	if (ret < 0 || (size_t)ret >= sizeof(pat))
		return st_err(err, ENAMETOOLONG, "path too long under %s",
			      root);
	ret = glob(pat, 0, NULL, &g);
	if (ret == GLOB_NOMATCH) {
		ret = st_err(err, ENOENT,
			     "no istio-proxy log of pod %s/%s under "
			     "%.*s/var/log/pods",
			     ns, pod, (int)pre, root);
		goto out_nofree;
	}
	if (ret != 0) {
		ret = st_err(err, ret == GLOB_NOSPACE ? ENOMEM : EIO,
			     "cannot list %.*s/var/log/pods", (int)pre, root);
		goto out_nofree;
	}
	dirs[0] = '\0';
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i];
		const char *d = p + pre + strlen("/var/log/pods/");
		size_t dlen = strcspn(d, "/");
		long n = st_restart_of(p);

		if (n < 0)
			continue;
		if (ndirs == 0 || dlen != last_dlen ||
		    strncmp(d, last_d, dlen) != 0) {
			size_t used = strlen(dirs);

			ndirs++;
			snprintf(dirs + used, sizeof(dirs) - used, "%s%.*s",
				 used ? ", " : "", (int)dlen, d);
			last_d = d;
			last_dlen = dlen;
		}
		if (n > best_n) {
			best = p;
			best_n = n;
		}
	}
	if (best == NULL) {
		ret = st_err(err, ENOENT, "no istio-proxy log of pod %s/%s", ns,
			     pod);
		goto out;
	}
	if (ndirs > 1) {
		ret = st_err(err, ENOTUNIQ,
			     "several pods named %s/%s have logs: %s", ns, pod,
			     dirs);
		goto out;
	}
	if (strlen(best) >= size) {
		ret = st_err(err, ENAMETOOLONG, "path too long: %s", best);
		goto out;
	}
	strcpy(path, best);
	ret = 0;
out:
	globfree(&g);
out_nofree:
	return ret;
}
