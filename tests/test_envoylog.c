// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_envoylog.c - Envoy's access log: field values (envoy.h), the CRI
 * wrapping, Istio's TEXT and JSON formats against goldens, bad input, and
 * the follower on a file that grows, is rotated, truncated or deleted;
 * the kubelet's log path of a pod.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "envoy.h"
#include "envoylog.h"
#include "testlib.h"

/* ---- values ------------------------------------------------------------ */

struct addr_case {
	const char *name;
	const char *in;
	int ret;
	const char *out; /* st_envoy_addr_format() */
};

static const struct addr_case addr_cases[] = {
	{.name = "v4", .in = "10.244.2.20:43210", .out = "10.244.2.20:43210"},
	{.name = "v6", .in = "[fd00::1]:80", .out = "[fd00::1]:80"},
	{.name = "v6 full",
	 .in = "[fd00:10:96:0:0:0:0:1234]:9080",
	 .out = "[fd00:10:96::1234]:9080"},
	{.name = "port 0", .in = "10.0.0.1:0", .out = "10.0.0.1:0"},
	{.name = "port max", .in = "10.0.0.1:65535", .out = "10.0.0.1:65535"},
	{.name = "port over", .in = "10.0.0.1:65536", .ret = -EINVAL},
	{.name = "no port", .in = "10.0.0.1", .ret = -EINVAL},
	{.name = "empty port", .in = "10.0.0.1:", .ret = -EINVAL},
	{.name = "v6 bare", .in = "fd00::1:80", .ret = -EINVAL},
	{.name = "v6 no port", .in = "[fd00::1]", .ret = -EINVAL},
	{.name = "v6 no colon", .in = "[fd00::1]80", .ret = -EINVAL},
	{.name = "bad octet", .in = "10.0.0.300:1", .ret = -EINVAL},
	{.name = "name", .in = "reviews:9080", .ret = -EINVAL},
	{.name = "uri", .in = "envoy://internal/1.2.3.4:80", .ret = -EINVAL},
	{.name = "signed port", .in = "10.0.0.1:+80", .ret = -EINVAL},
	{.name = "empty", .in = "", .ret = -EINVAL},
	{.name = "brackets", .in = "[]:80", .ret = -EINVAL},
};

/* Addresses read as flow.h writes them, and nothing else. */
static void test_addr_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct st_envoy_addr a;
		char buf[ST_ENVOY_ADDR_SIZE];
		int ret;

		ret = st_envoy_addr_parse(c->in, strlen(c->in), &a);
		if (ret != c->ret)
			fail_msg("%s: returned %d, want %d", c->name, ret,
				 c->ret);
		st_envoy_addr_format(&a, buf, sizeof(buf));
		if (strcmp(buf, c->out != NULL ? c->out : "-") != 0)
			fail_msg("%s: '%s'", c->name, buf);
	}
}

struct time_case {
	const char *name;
	const char *in;
	int ret;
	long long sec;
	long nsec;
};

static const struct time_case time_cases[] = {
	{.name = "envoy",
	 .in = "2024-03-21T10:00:00.123Z",
	 .sec = 1711015200,
	 .nsec = 123000000},
	{.name = "nano",
	 .in = "2024-03-21T10:00:00.000000001Z",
	 .sec = 1711015200,
	 .nsec = 1},
	{.name = "no fraction", .in = "1970-01-01T00:00:00Z", .sec = 0},
	{.name = "offset",
	 .in = "2024-03-21T11:30:00+01:30",
	 .sec = 1711015200},
	{.name = "negative offset",
	 .in = "2024-03-21T05:00:00.5-05:00",
	 .sec = 1711015200,
	 .nsec = 500000000},
	{.name = "leap day", .in = "2024-02-29T00:00:00Z", .sec = 1709164800},
	{.name = "before 1970", .in = "1969-12-31T23:59:59Z", .sec = -1},
	{.name = "month 13", .in = "2024-13-01T00:00:00Z", .ret = -EINVAL},
	{.name = "day 32", .in = "2024-01-32T00:00:00Z", .ret = -EINVAL},
	{.name = "hour 24", .in = "2024-01-01T24:00:00Z", .ret = -EINVAL},
	{.name = "no zone", .in = "2024-01-01T00:00:00", .ret = -EINVAL},
	{.name = "empty fraction",
	 .in = "2024-01-01T00:00:00.Z",
	 .ret = -EINVAL},
	{.name = "trailing", .in = "2024-01-01T00:00:00Zx", .ret = -EINVAL},
	{.name = "short offset",
	 .in = "2024-01-01T00:00:00+01",
	 .ret = -EINVAL},
	{.name = "spaces", .in = "2024-01-01 00:00:00.000Z", .sec = 1704067200},
	{.name = "letters", .in = "20x4-01-01T00:00:00Z", .ret = -EINVAL},
};

/* START_TIME and CRI times, to the nanosecond, offsets applied. */
static void test_time_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(time_cases); i++) {
		const struct time_case *c = &time_cases[i];
		struct timespec ts = {0};
		int ret;

		ret = st_envoy_time_parse(c->in, strlen(c->in), &ts);
		if (ret != c->ret)
			fail_msg("%s: returned %d, want %d", c->name, ret,
				 c->ret);
		if (ret == 0 &&
		    ((long long)ts.tv_sec != c->sec || ts.tv_nsec != c->nsec))
			fail_msg("%s: %lld.%09ld", c->name,
				 (long long)ts.tv_sec, ts.tv_nsec);
	}
}

/* Names both ways, the TCP test, and what a line lacked. */
static void test_fields(void **state)
{
	struct st_envoy_req req;
	char buf[512];

	(void)state;
	for (int f = 0; f < ST_ENVOY__MAX; f++) {
		const char *n = st_envoy_field_name((enum st_envoy_field)f);

		assert_int_equal(st_envoy_field_by_name(n, strlen(n)), f);
	}
	assert_string_equal(st_envoy_field_name(ST_ENVOY__MAX), "?");
	assert_int_equal(st_envoy_field_by_name("method2", 7), -1);
	assert_int_equal(st_envoy_field_by_name("metho", 5), -1);

	st_envoy_req_reset(&req);
	st_envoy_missing_format(&req, buf, sizeof(buf));
	assert_non_null(strstr(buf, "start_time,method,path,"));
	st_envoy_set(&req, ST_ENVOY_METHOD, "-", 1);
	st_envoy_set(&req, ST_ENVOY_PATH, "", 0);
	st_envoy_set(&req, ST_ENVOY_PROTOCOL, "-", 1);
	assert_false(st_envoy_is_tcp(&req));
	st_envoy_set(&req, ST_ENVOY_RESPONSE_CODE, "0", 1);
	assert_true(st_envoy_is_tcp(&req));
	assert_false(st_envoy_has(&req, ST_ENVOY_METHOD));
	assert_true(st_envoy_has(&req, ST_ENVOY_RESPONSE_CODE));
	st_envoy_set(&req, ST_ENVOY_METHOD, "GET", 3);
	assert_false(st_envoy_is_tcp(&req));
	st_envoy_missing_format(&req, buf, sizeof(buf));
	assert_non_null(strstr(buf, "start_time,response_flags,"));
	assert_null(strstr(buf, "method"));
	/* Numbers that do not fit are unreadable, not wrapped. */
	st_envoy_set(&req, ST_ENVOY_BYTES_SENT, "18446744073709551616", 20);
	assert_true(req.bad & ST_ENVOY_BIT(ST_ENVOY_BYTES_SENT));
	st_envoy_set(&req, ST_ENVOY_BYTES_SENT, "18446744073709551615", 20);
	assert_int_equal(req.bytes_sent, UINT64_MAX);
	st_envoy_set(&req, ST_ENVOY_RESPONSE_CODE, "65536", 5);
	assert_true(req.bad & ST_ENVOY_BIT(ST_ENVOY_RESPONSE_CODE));
	st_envoy_set_uint(&req, ST_ENVOY_PATH, 5);
	assert_true(req.bad & ST_ENVOY_BIT(ST_ENVOY_PATH));
	/* A cut format says how long the whole would be. */
	assert_true(st_envoy_req_format(&req, buf, 8) > 8);
	assert_int_equal(strlen(buf), 7);
}

/* ---- CRI ----------------------------------------------------------------- */

struct cri_case {
	const char *name;
	const char *in;
	int ret;
	bool is_stderr;
	bool partial;
	const char *text;
};

static const struct cri_case cri_cases[] = {
	{.name = "stdout F",
	 .in = "2024-03-21T10:00:00.123456789Z stdout F hello world",
	 .text = "hello world"},
	{.name = "stderr P",
	 .in = "2024-03-21T10:00:00Z stderr P part",
	 .is_stderr = true,
	 .partial = true,
	 .text = "part"},
	{.name = "offset time",
	 .in = "2024-03-21T10:00:00.1+02:00 stdout F x",
	 .text = "x"},
	{.name = "empty text",
	 .in = "2024-03-21T10:00:00Z stdout F ",
	 .text = ""},
	{.name = "no text", .in = "2024-03-21T10:00:00Z stdout F", .text = ""},
	{.name = "text keeps spaces",
	 .in = "2024-03-21T10:00:00Z stdout F   a  ",
	 .text = "  a  "},
	{.name = "bad tag",
	 .in = "2024-03-21T10:00:00Z stdout FP x",
	 .ret = -EINVAL},
	{.name = "bad stream",
	 .in = "2024-03-21T10:00:00Z stdin F x",
	 .ret = -EINVAL},
	{.name = "bad time", .in = "2024-03-21 stdout F x", .ret = -EINVAL},
	{.name = "envoy line",
	 .in = "[2024-03-21T10:00:00Z] \"GET\"",
	 .ret = -EINVAL},
	{.name = "empty", .in = "", .ret = -EINVAL},
};

/* The kubelet's wrapping comes off; anything else is not CRI. */
static void test_cri_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(cri_cases); i++) {
		const struct cri_case *c = &cri_cases[i];
		struct st_envoylog_cri cri;
		int ret;

		ret = st_envoylog_cri_split(c->in, strlen(c->in), &cri);
		if (ret != c->ret)
			fail_msg("%s: returned %d, want %d", c->name, ret,
				 c->ret);
		if (ret < 0)
			continue;
		if (cri.is_stderr != c->is_stderr ||
		    cri.partial != c->partial || cri.len != strlen(c->text) ||
		    memcmp(cri.text, c->text, cri.len) != 0)
			fail_msg("%s: stderr %d partial %d '%.*s'", c->name,
				 cri.is_stderr, cri.partial, (int)cri.len,
				 cri.text);
	}
}

/* ---- whole logs against goldens ---------------------------------------- */

/* What a reader handed out, as the goldens hold it. */
struct sink {
	struct st_strbuf out;
	unsigned int stop_after; /* 0: never */
	unsigned int seen;
};

static int sink_fn(void *data, const struct st_envoy_req *req)
{
	struct sink *s = data;
	char line[2048];

	st_envoy_req_format(req, line, sizeof(line));
	if (req->logged.tv_sec != 0 || req->logged.tv_nsec != 0)
		st_strbuf_printf(&s->out, "logged=%lld.%09ld ",
				 (long long)req->logged.tv_sec,
				 req->logged.tv_nsec);
	st_strbuf_printf(&s->out, "%s\n", line);
	s->seen++;
	if (s->stop_after != 0 && s->seen == s->stop_after)
		return ST_CB_STOP;
	return ST_CB_OK;
}

/* Whether one of the reader's news says @what (the news are used up). */
static bool news_has(struct st_envoylog *l, const char *what)
{
	const char *n;
	bool found = false;

	while ((n = st_envoylog_news(l)) != NULL)
		found = found || strstr(n, what) != NULL;
	return found;
}

static void put_stats(struct st_strbuf *b, struct st_envoylog *l)
{
	struct st_envoylog_stats st;
	const char *news;

	st_envoylog_stats(l, &st);
	st_strbuf_printf(
		b,
		"stats: bytes %llu lines %llu entries %llu missing "
		"%llu unparsed %llu own-logs %llu oversize %llu binary %llu joined "
		"%llu cri-broken %llu rotations %llu truncations "
		"%llu deletions %llu\n",
		(unsigned long long)st.bytes, (unsigned long long)st.lines,
		(unsigned long long)st.entries, (unsigned long long)st.missing,
		(unsigned long long)st.unparsed,
		(unsigned long long)st.own_logs,
		(unsigned long long)st.oversize, (unsigned long long)st.binary,
		(unsigned long long)st.joined,
		(unsigned long long)st.cri_broken,
		(unsigned long long)st.rotations,
		(unsigned long long)st.truncations,
		(unsigned long long)st.deletions);
	st_strbuf_puts(b, "formats:");
	for (int f = ST_ENVOYLOG_TEXT; f < ST_ENVOYLOG__MAX; f++)
		st_strbuf_printf(
			b, " %s %llu",
			st_envoylog_format_name((enum st_envoylog_format)f),
			(unsigned long long)st.by_format[f]);
	st_strbuf_puts(b, "\n");
	while ((news = st_envoylog_news(l)) != NULL)
		st_strbuf_printf(b, "news: %s\n", news);
}

struct golden_case {
	const char *name; /* samples/envoylog/in/NAME.log, expected/NAME.txt */
	size_t chunk;	  /* fed this many bytes at a time; 0: all */
};

static const struct golden_case golden_cases[] = {
	{.name = "text-istio"},
	{.name = "text-other"},
	{.name = "json"},
	{.name = "cri", .chunk = 7},
	{.name = "garbage", .chunk = 1},
	{.name = "cri-interleaved", .chunk = 13},
};

/* Each sample log read whole, and in small pieces where that matters. */
static void test_goldens(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_SIZE(golden_cases); i++) {
		const struct golden_case *c = &golden_cases[i];
		struct sink s = {0};
		struct st_envoylog_opts o = {.fn = sink_fn, .data = &s};
		struct st_envoylog *l;
		char path[512], err[ST_ERRBUF_SIZE];
		size_t len, chunk;
		char *in, *got;

		snprintf(path, sizeof(path), "%s/envoylog/in/%s.log",
			 ST_SAMPLES, c->name);
		in = tl_read_file(path, &len);
		assert_non_null(in);
		assert_int_equal(st_envoylog_new(&l, &o, err), 0);
		chunk = c->chunk ? c->chunk : len;
		for (size_t off = 0; off < len; off += chunk) {
			size_t k = len - off < chunk ? len - off : chunk;

			assert_int_equal(st_envoylog_feed(l, in + off, k, err),
					 ST_CB_OK);
		}
		assert_int_equal(st_envoylog_finish(l, err), ST_CB_OK);
		put_stats(&s.out, l);
		got = st_strbuf_take(&s.out);
		snprintf(path, sizeof(path), "%s/envoylog/expected/%s.txt",
			 ST_SAMPLES, c->name);
		tl_golden(path, got);
		free(got);
		free(in);
		st_envoylog_free(l);
	}
}

/* A 1 MB line is skipped and counted; the lines around it are read. */
static void test_huge_line(void **state)
{
	static const char good[] =
		"[2024-03-21T10:00:00.000Z] \"GET / HTTP/1.1\" 200\n";
	struct sink s = {0};
	struct st_envoylog_opts o = {.fn = sink_fn, .data = &s};
	struct st_envoylog_stats st;
	struct st_envoylog *l;
	char err[ST_ERRBUF_SIZE];
	size_t big = 1u << 20;
	char *huge = malloc(big + 1);

	(void)state;
	assert_non_null(huge);
	memset(huge, 'x', big);
	huge[big] = '\n';
	assert_int_equal(st_envoylog_new(&l, &o, err), 0);
	assert_int_equal(st_envoylog_feed(l, good, strlen(good), err),
			 ST_CB_OK);
	assert_int_equal(st_envoylog_feed(l, huge, big + 1, err), ST_CB_OK);
	assert_int_equal(st_envoylog_feed(l, good, strlen(good), err),
			 ST_CB_OK);
	/* Also a huge CRI line made of P pieces, and one without newline. */
	for (int i = 0; i < 40; i++) {
		static const char p[] = "2024-03-21T10:00:00Z stdout P ";

		assert_int_equal(st_envoylog_feed(l, p, strlen(p), err),
				 ST_CB_OK);
		assert_int_equal(st_envoylog_feed(l, huge, 4000, err),
				 ST_CB_OK);
		assert_int_equal(st_envoylog_feed(l, "\n", 1, err), ST_CB_OK);
	}
	assert_int_equal(
		st_envoylog_feed(l, "2024-03-21T10:00:00Z stdout F ", 30, err),
		1);
	assert_int_equal(st_envoylog_feed(l, good, strlen(good), err),
			 ST_CB_OK);
	assert_int_equal(st_envoylog_feed(l, huge, big, err), ST_CB_OK);
	assert_int_equal(st_envoylog_finish(l, err), ST_CB_OK);
	st_envoylog_stats(l, &st);
	/* The F piece ends the joined line, which was over the bound. */
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.oversize, 3);
	assert_int_equal(st.joined, 40);
	assert_int_equal(st.unparsed, 0);
	assert_true(news_has(l, "longer than 65536"));
	free(huge);
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* A callback's stop returns at once; the next call goes on. */
static void test_stop(void **state)
{
	static const char two[] =
		"[2024-03-21T10:00:00.000Z] \"GET /1 HTTP/1.1\" 200\n"
		"[2024-03-21T10:00:00.000Z] \"GET /2 HTTP/1.1\" 200\n";
	struct sink s = {.stop_after = 1};
	struct st_envoylog_opts o = {.fn = sink_fn, .data = &s};
	struct st_envoylog *l;
	char err[ST_ERRBUF_SIZE];

	(void)state;
	assert_int_equal(st_envoylog_new(&l, &o, err), 0);
	assert_int_equal(st_envoylog_feed(l, two, strlen(two), err),
			 ST_CB_STOP);
	assert_int_equal(s.seen, 1);
	assert_int_equal(st_envoylog_feed(l, NULL, 0, err), ST_CB_OK);
	assert_int_equal(s.seen, 2);
	assert_non_null(strstr(s.out.p, "path=/2"));
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

static int fail_fn(void *data, const struct st_envoy_req *req)
{
	(void)data;
	(void)req;
	return ST_CB_ERROR;
}

/* Bad options and a failing callback are errors with a message. */
static void test_errors(void **state)
{
	static const char bad_cb[] = "[2024-03-21T10:00:00Z] \"A / B\" 200\n";
	struct st_envoylog_opts o = {.fn = fail_fn};
	struct st_envoylog *l;
	char err[ST_ERRBUF_SIZE];

	(void)state;
	o.max_line = 10;
	assert_int_equal(st_envoylog_new(&l, &o, err), -EINVAL);
	assert_null(l);
	o.max_line = 0;
	o.fn = NULL;
	assert_int_equal(st_envoylog_new(&l, &o, err), -EINVAL);
	o.fn = fail_fn;
	o.path = "/nonexistent/envoy.log";
	assert_int_equal(st_envoylog_new(&l, &o, err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/envoy.log"));
	o.path = "/";
	assert_int_equal(st_envoylog_new(&l, &o, err), -EISDIR);
	o.path = NULL;
	assert_int_equal(st_envoylog_new(&l, &o, err), 0);
	assert_int_equal(st_envoylog_poll(l, err), -EINVAL);
	assert_int_equal(st_envoylog_feed(l, bad_cb, strlen(bad_cb), err),
			 -ECANCELED);
	st_envoylog_free(l);
	st_envoylog_free(NULL);
	assert_null(st_envoylog_news(NULL));
	assert_string_equal(st_envoylog_format_name(ST_ENVOYLOG__MAX), "?");
	assert_string_equal(st_envoylog_anomaly_name(ST_ENVOYLOG_A_ROTATED),
			    "rotated");
	assert_string_equal(st_envoylog_anomaly_name(ST_ENVOYLOG_A__MAX), "?");
}

/* ---- following a file ---------------------------------------------------- */

static const char *line_n(unsigned int n)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "[2024-03-21T10:00:%02u.000Z] \"GET /%u HTTP/1.1\" 200 - "
		 "via_upstream - \"-\" 0 10 1 1 \"-\" \"curl/8.5.0\" \"-\" "
		 "\"web:80\" \"10.244.1.10:80\" outbound|80||web "
		 "10.244.2.20:48000 10.96.0.10:80 10.244.2.20:%u - default\n",
		 n % 60, n, 40000 + n);
	return buf;
}

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct st_envoylog *follow(const char *path, struct sink *s,
				  bool from_end)
{
	struct st_envoylog_opts o = {
		.path = path, .from_end = from_end, .fn = sink_fn, .data = s};
	struct st_envoylog *l;
	char err[ST_ERRBUF_SIZE];

	if (st_envoylog_new(&l, &o, err) != 0)
		fail_msg("%s", err);
	return l;
}

static void poll_ok(struct st_envoylog *l)
{
	char err[ST_ERRBUF_SIZE];

	if (st_envoylog_poll(l, err) != ST_CB_OK)
		fail_msg("poll: %s", err);
}

/* Lines come as they are appended; a half line waits for its end. */
static void test_follow_grow(void **state)
{
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512];
	const char *ln;

	(void)state;
	tl_tmp_path(path, sizeof(path), "grow.log");
	append(path, line_n(1));
	l = follow(path, &s, false);
	poll_ok(l);
	assert_int_equal(s.seen, 1);
	poll_ok(l);
	assert_int_equal(s.seen, 1);
	ln = line_n(2);
	{
		char half[512];

		snprintf(half, sizeof(half), "%.*s", 30, ln);
		append(path, half);
		poll_ok(l);
		assert_int_equal(s.seen, 1);
		append(path, ln + 30);
	}
	poll_ok(l);
	assert_int_equal(s.seen, 2);
	assert_non_null(strstr(s.out.p, "downstream_remote_address="
					"10.244.2.20:40002"));
	assert_null(st_envoylog_news(l));
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* from_end skips what was there, a cut last line included. */
static void test_follow_from_end(void **state)
{
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512];

	(void)state;
	tl_tmp_path(path, sizeof(path), "end.log");
	append(path, line_n(1));
	append(path, "[2024-03-21T10:00:00.000Z] \"GET /cut");
	l = follow(path, &s, true);
	poll_ok(l);
	assert_int_equal(s.seen, 0);
	append(path, " HTTP/1.1\" 200\n");
	append(path, line_n(3));
	poll_ok(l);
	assert_int_equal(s.seen, 1);
	assert_non_null(strstr(s.out.p, "path=/3 "));
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/*
 * The kubelet's rotation: the file is renamed (Envoy still writes the
 * end of a line into it), a new one takes its path.  The old file is read
 * to its end, the new one from its start, and it is said once.
 */
static void test_follow_rotate(void **state)
{
	struct st_envoylog_stats st;
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512], old[512], half[512];

	(void)state;
	tl_tmp_path(path, sizeof(path), "rot.log");
	tl_tmp_path(old, sizeof(old), "rot.log.20240321-100000");
	append(path, line_n(1));
	l = follow(path, &s, false);
	poll_ok(l);
	snprintf(half, sizeof(half), "%.*s", 40, line_n(2));
	append(path, half);
	poll_ok(l);
	assert_int_equal(rename(path, old), 0);
	poll_ok(l); /* no file at the path for a while */
	append(old, line_n(2) + 40);
	append(old, "[2024-03-21T10:00:03.000Z] \"GET /3 HTTP/1.1\" 200");
	append(path, line_n(4));
	poll_ok(l);
	assert_int_equal(s.seen, 4);
	assert_non_null(strstr(s.out.p, "path=/3 "));
	/* Again: counted, not said twice. */
	assert_int_equal(rename(path, old), 0);
	append(path, line_n(5));
	poll_ok(l);
	assert_int_equal(s.seen, 5);
	st_envoylog_stats(l, &st);
	assert_int_equal(st.rotations, 2);
	assert_int_equal(st.deletions, 0);
	assert_true(news_has(l, "was rotated"));
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* copytruncate: the file shrinks, reading starts again at 0. */
static void test_follow_truncate(void **state)
{
	struct st_envoylog_stats st;
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512];

	(void)state;
	tl_tmp_path(path, sizeof(path), "trunc.log");
	append(path, line_n(1));
	append(path, line_n(2));
	append(path, line_n(3));
	l = follow(path, &s, false);
	poll_ok(l);
	assert_int_equal(s.seen, 3);
	assert_int_equal(truncate(path, 0), 0);
	append(path, line_n(4));
	poll_ok(l);
	assert_int_equal(s.seen, 4);
	st_envoylog_stats(l, &st);
	assert_int_equal(st.truncations, 1);
	assert_non_null(strstr(st_envoylog_news(l), "was truncated"));
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* Deleted: said once, polling goes on; a new file is read when it comes. */
static void test_follow_delete(void **state)
{
	struct st_envoylog_stats st;
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512];

	(void)state;
	tl_tmp_path(path, sizeof(path), "del.log");
	append(path, line_n(1));
	l = follow(path, &s, false);
	poll_ok(l);
	assert_int_equal(unlink(path), 0);
	poll_ok(l);
	poll_ok(l);
	st_envoylog_stats(l, &st);
	assert_int_equal(st.deletions, 1);
	assert_non_null(strstr(st_envoylog_news(l), "was deleted"));
	assert_null(st_envoylog_news(l));
	append(path, line_n(2));
	poll_ok(l);
	assert_int_equal(s.seen, 2);
	st_envoylog_stats(l, &st);
	assert_int_equal(st.rotations, 1);
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* A 1 MB line in a followed file, written in pieces. */
static void test_follow_huge(void **state)
{
	struct st_envoylog_stats st;
	struct sink s = {0};
	struct st_envoylog *l;
	char path[512];
	char *chunk = malloc(100001);

	(void)state;
	assert_non_null(chunk);
	memset(chunk, 'y', 100000);
	chunk[100000] = '\0';
	tl_tmp_path(path, sizeof(path), "huge.log");
	append(path, line_n(1));
	l = follow(path, &s, false);
	for (int i = 0; i < 10; i++) {
		append(path, chunk);
		poll_ok(l);
	}
	append(path, "\n");
	append(path, line_n(2));
	poll_ok(l);
	st_envoylog_stats(l, &st);
	assert_int_equal(s.seen, 2);
	assert_int_equal(st.oversize, 1);
	free(chunk);
	st_strbuf_free(&s.out);
	st_envoylog_free(l);
}

/* ---- the kubelet's path ---------------------------------------------- */

static void mkdirs(const char *root, const char *rel)
{
	char path[1024], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	(void)mkdir(path, 0755);
}

static void touch(const char *root, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	append(path, "");
}

/* A node's /var/log/pods: the highest restart wins; two uids are an error. */
static void test_auto_path(void **state)
{
	char root[512], path[1024], want[1024], err[ST_ERRBUF_SIZE];
	static const char pods[] = "var/log/pods";

	(void)state;
	tl_tmp_path(root, sizeof(root), "node");
	assert_int_equal(mkdir(root, 0755), 0);
	mkdirs(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy");
	mkdirs(root, "var/log/pods/default_web-1_1111-aaaa/app");
	mkdirs(root, "var/log/pods/default_web-10_2222-bbbb/istio-proxy");
	mkdirs(root, "var/log/pods/shop_web-1_3333-cccc/istio-proxy");
	mkdirs(root, "var/log/pods/shop_web-1_4444-dddd/istio-proxy");
	mkdirs(root, "var/log/pods/default_noproxy_5555-eeee/app");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy/0.log");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy/2.log");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy/10.log");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy/"
		    "10.log.20240321-100000");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/istio-proxy/x.log");
	touch(root, "var/log/pods/default_web-1_1111-aaaa/app/11.log");
	touch(root, "var/log/pods/default_web-10_2222-bbbb/istio-proxy/0.log");
	touch(root, "var/log/pods/shop_web-1_3333-cccc/istio-proxy/0.log");
	touch(root, "var/log/pods/shop_web-1_4444-dddd/istio-proxy/1.log");
	touch(root, "var/log/pods/default_noproxy_5555-eeee/app/0.log");

	assert_int_equal(st_envoylog_auto_path(root, "default", "web-1", path,
					       sizeof(path), err),
			 0);
	snprintf(want, sizeof(want),
		 "%s/%s/default_web-1_1111-aaaa/istio-proxy/10.log", root,
		 pods);
	assert_string_equal(path, want);
	/* A trailing slash on the root changes nothing. */
	snprintf(want, sizeof(want), "%s/", root);
	assert_int_equal(st_envoylog_auto_path(want, "default", "web-10", path,
					       sizeof(path), err),
			 0);
	assert_non_null(strstr(path, "/default_web-10_2222-bbbb/"));
	assert_int_equal(st_envoylog_auto_path(root, "shop", "web-1", path,
					       sizeof(path), err),
			 -ENOTUNIQ);
	assert_non_null(strstr(err, "shop_web-1_3333-cccc"));
	assert_non_null(strstr(err, "shop_web-1_4444-dddd"));
	assert_int_equal(st_envoylog_auto_path(root, "default", "noproxy", path,
					       sizeof(path), err),
			 -ENOENT);
	assert_non_null(strstr(err, "default/noproxy"));
	assert_int_equal(st_envoylog_auto_path(root, "default", "web", path,
					       sizeof(path), err),
			 -ENOENT);
	assert_int_equal(st_envoylog_auto_path(root, "default", "web_1", path,
					       sizeof(path), err),
			 -EINVAL);
	assert_int_equal(st_envoylog_auto_path(root, "default", "*", path,
					       sizeof(path), err),
			 -EINVAL);
	assert_int_equal(st_envoylog_auto_path(root, "../x", "web-1", path,
					       sizeof(path), err),
			 -EINVAL);
	assert_int_equal(st_envoylog_auto_path("/tmp/[a]", "default", "web-1",
					       path, sizeof(path), err),
			 -EINVAL);
	assert_int_equal(st_envoylog_auto_path("/nonexistent", "default",
					       "web-1", path, sizeof(path),
					       err),
			 -ENOENT);
	assert_int_equal(
		st_envoylog_auto_path(root, "default", "web-1", path, 10, err),
		-ENAMETOOLONG);
}

static int group_setup(void **state)
{
	(void)state;
	return tl_tmpdir_make("stt-envoylog");
}

static int group_teardown(void **state)
{
	(void)state;
	return tl_tmpdir_remove();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_cri_split),
		cmocka_unit_test(test_goldens),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_follow_grow),
		cmocka_unit_test(test_follow_from_end),
		cmocka_unit_test(test_follow_rotate),
		cmocka_unit_test(test_follow_truncate),
		cmocka_unit_test(test_follow_delete),
		cmocka_unit_test(test_follow_huge),
		cmocka_unit_test(test_auto_path),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
