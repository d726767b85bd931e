// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowjson.c - flows and the summary as JSON Lines (see flowjson.h).
 * Objects are built in key order and dumped with JSON_PRESERVE_ORDER so
 * that the output, and the golden files, are stable.  The per-flow line
 * (st_flowjson_write) writes the very same bytes without a tree.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "flowjson.h"
#include "path.h"

#define FJ_DUMP_FLAGS \
	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Sets @key, remembering a failure in *@bad (jansson steals @val). */
static void fj_set(json_t *obj, const char *key, json_t *val, bool *bad)
{
	if (val == NULL || json_object_set_new(obj, key, val) < 0)
		*bad = true;
}

static void fj_append(json_t *arr, json_t *val, bool *bad)
{
	if (val == NULL || json_array_append_new(arr, val) < 0)
		*bad = true;
}

static json_t *fj_str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *fj_proto(uint8_t proto)
{
	char num[8];

	switch (proto) {
	case IPPROTO_TCP:
		return json_string("tcp");
	case IPPROTO_UDP:
		return json_string("udp");
	case IPPROTO_ICMP:
		return json_string("icmp");
	case IPPROTO_ICMPV6:
		return json_string("ipv6-icmp");
	case IPPROTO_SCTP:
		return json_string("sctp");
	default:
		snprintf(num, sizeof(num), "%u", proto);
		return json_string(num);
	}
}

static json_t *fj_time(const struct timespec *ts)
{
	char buf[64];
	struct tm tm;
	time_t sec = ts->tv_sec;

	if (gmtime_r(&sec, &tm) == NULL)
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
	return json_string(buf);
}

static json_t *fj_hop(const struct st_flow_hop *h)
{
	json_t *o = json_object();
	bool bad = false;

	if (o == NULL)
		return NULL;
	fj_set(o, "table", json_string(h->table), &bad);
	fj_set(o, "chain", json_string(h->chain), &bad);
	fj_set(o, "rule", json_integer(h->rule), &bad);
	fj_set(o, "kind", json_string(st_flow_hop_kind_name(h->kind)), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *fj_leg(const struct st_flow_leg *l)
{
	char addr[ST_FLOW_ADDR_SIZE];
	json_t *o = json_object();
	json_t *hops = json_array();
	bool bad = o == NULL || hops == NULL;

	if (bad)
		goto out;
	st_flow_addr_format(l->family, l->src, l->sport, addr, sizeof(addr));
	fj_set(o, "src", json_string(addr), &bad);
	st_flow_addr_format(l->family, l->dst, l->dport, addr, sizeof(addr));
	fj_set(o, "dst", json_string(addr), &bad);
	fj_set(o, "proto", fj_proto(l->proto), &bad);
	fj_set(o, "uid", l->has_uid ? json_integer(l->uid) : json_null(), &bad);
	fj_set(o, "gid", l->has_gid ? json_integer(l->gid) : json_null(), &bad);
	for (unsigned int i = 0; i < l->nhops; i++)
		fj_append(hops, fj_hop(&l->hops[i]), &bad);
	fj_set(o, "hops", hops, &bad);
	hops = NULL;
	if (l->capture != ST_CAPTURE_NONE)
		fj_set(o, "redirect_port", json_integer(l->redirect_port),
		       &bad);
	fj_set(o, "in", fj_str_or_null(l->indev), &bad);
	fj_set(o, "out", fj_str_or_null(l->outdev), &bad);
	fj_set(o, "ts", fj_time(&l->ts), &bad);
	fj_set(o, "packets", json_integer(l->packets), &bad);
	fj_set(o, "complete", json_boolean(!l->incomplete), &bad);
	if (l->incomplete)
		fj_set(o, "why", json_string(l->why), &bad);
	if (l->truncated)
		fj_set(o, "hops_truncated", json_true(), &bad);
out:
	json_decref(hops);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The pooled connection a reused flow names. */
static json_t *fj_conn(const struct st_flow_conn *c)
{
	char addr[ST_FLOW_ADDR_SIZE];
	json_t *o = json_object();
	bool bad = o == NULL;

	if (bad)
		return NULL;
	st_flow_addr_format(c->family, c->src, c->sport, addr, sizeof(addr));
	fj_set(o, "src", json_string(addr), &bad);
	st_flow_addr_format(c->family, c->dst, c->dport, addr, sizeof(addr));
	fj_set(o, "dst", json_string(addr), &bad);
	if (c->known && c->flow_id > 0)
		fj_set(o, "flow", json_integer((json_int_t)c->flow_id), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A reused connection as a flow names it: seen, or from the access log. */
static bool fj_has_pooled(const struct st_flow *f)
{
	if (f->side == ST_SIDE_REUSED)
		return f->pooled.known;
	return f->side == ST_SIDE_ACCESS_LOG && f->pooled.family != 0;
}

static json_t *fj_addr_or_null(uint8_t family, const uint8_t *a, uint16_t port)
{
	char addr[ST_FLOW_ADDR_SIZE];

	if (family == 0)
		return json_null();
	st_flow_addr_format(family, a, port, addr, sizeof(addr));
	return json_string(addr);
}

/* One request of Envoy's access log. */
static json_t *fj_req(const struct st_flow_req *r)
{
	json_t *o = json_object();
	bool bad = o == NULL;

	if (bad)
		return NULL;
	fj_set(o, "method", fj_str_or_null(r->method), &bad);
	fj_set(o, "authority", fj_str_or_null(r->authority), &bad);
	fj_set(o, "path", fj_str_or_null(r->path), &bad);
	fj_set(o, "code", r->has_code ? json_integer(r->code) : json_null(),
	       &bad);
	fj_set(o, "flags", fj_str_or_null(r->flags), &bad);
	fj_set(o, "upstream_host",
	       fj_addr_or_null(r->host_family, r->host, r->host_port), &bad);
	fj_set(o, "cluster", fj_str_or_null(r->cluster), &bad);
	fj_set(o, "duration_ms",
	       r->has_duration ? json_integer((json_int_t)r->duration_ms)
			       : json_null(),
	       &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The requests of a flow; NULL on failure. */
static json_t *fj_reqs(const struct st_flow_reqs *r)
{
	json_t *a = json_array();
	bool bad = a == NULL;

	for (unsigned int i = 0; !bad && i < r->n && i < ST_FLOW_REQS_MAX; i++)
		fj_append(a, fj_req(&r->req[i]), &bad);
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* How Envoy's side was found: null when nothing was captured to it. */
static json_t *fj_envoy(const struct st_flow *f)
{
	json_t *o = NULL;
	bool bad = false;

	if (f->side == ST_SIDE_NONE)
		return json_null();
	o = json_object();
	if (o == NULL)
		return NULL;
	fj_set(o, "side", json_string(st_flow_side_name(f->side)), &bad);
	if (fj_has_pooled(f))
		fj_set(o, "pooled", fj_conn(&f->pooled), &bad);
	if (f->reqs != NULL) {
		fj_set(o, "requests", fj_reqs(f->reqs), &bad);
		if (f->reqs->total > f->reqs->n)
			fj_set(o, "requests_more",
			       json_integer((json_int_t)(f->reqs->total -
							 f->reqs->n)),
			       &bad);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *st_flowjson_flow(const struct st_flow *f, const char *path)
{
	char buf[1024];
	json_t *o = json_object();
	json_t *legs = json_array();
	bool bad = o == NULL || legs == NULL;

	if (bad)
		goto out;
	if (path == NULL) {
		st_path_format(f, buf, sizeof(buf));
		path = buf;
	}
	fj_set(o, "type", json_integer(f->type), &bad);
	fj_set(o, "type_name", json_string(st_class_type_name(f->type)), &bad);
	fj_set(o, "class", json_string(st_class_name(f->klass, f->type)), &bad);
	fj_set(o, "reason",
	       f->type == 0 || f->reason[0] != '\0' ? json_string(f->reason)
						    : json_null(),
	       &bad);
	fj_set(o, "envoy", fj_envoy(f), &bad);
	fj_set(o, "path", json_string(path), &bad);
	for (unsigned int i = 0; i < f->nlegs; i++)
		fj_append(legs, fj_leg(&f->legs[i]), &bad);
	fj_set(o, "legs", legs, &bad);
	legs = NULL;
out:
	json_decref(legs);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The access log's counts in the summary. */
static json_t *fj_envoy_summary(const struct st_flow_envoy_stats *e)
{
	const struct {
		const char *key;
		uint64_t v;
	} kv[] = {
		{"lines", e->lines},
		{"matched", e->matched},
		{"no_traced_leg", e->no_leg},
		{"unparsed", e->unparsed},
		{"flows_without_line", e->flows_no_line},
		{"no_downstream_address", e->no_address},
		{"legs_moved_in", e->absorbed},
		{"legs_moved_out", e->split},
		{"released_early", e->dropped},
		{"rotated", e->rotated},
		{"deleted", e->deleted},
	};
	json_t *o = json_object();
	bool bad = o == NULL;

	for (size_t i = 0; !bad && i < ST_ARRAY_SIZE(kv); i++)
		fj_set(o, kv[i].key, json_integer((json_int_t)kv[i].v), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *st_flowjson_summary(const struct st_flow_stats *st)
{
	json_t *root = json_object();
	json_t *sum = json_object();
	json_t *types = json_object();
	json_t *classes = json_object();
	bool bad =
		root == NULL || sum == NULL || types == NULL || classes == NULL;
	char key[16];

	if (bad)
		goto out;
	for (int t = 0; t <= ST_TYPE_MAX; t++) {
		/* An ambient pod's summary lists types 7-13, a sidecar's 1-6. */
		if (t > 0 &&
		    (t >= ST_TYPE_AMBIENT_MIN) != st_class_stats_ambient(st))
			continue;
		snprintf(key, sizeof(key), "%d", t);
		fj_set(types, key, json_integer((json_int_t)st->by_type[t]),
		       &bad);
	}
	for (int c = ST_CLASS_NONE + 1; c < ST_CLASS__MAX; c++)
		fj_set(classes, st_class_name((enum st_class)c, 0),
		       json_integer((json_int_t)st->by_class[c]), &bad);
	fj_set(sum, "flows", json_integer((json_int_t)st->flows), &bad);
	fj_set(sum, "by_type", types, &bad);
	types = NULL;
	fj_set(sum, "by_class", classes, &bad);
	classes = NULL;
	fj_set(sum, "records", json_integer((json_int_t)st->records), &bad);
	/* Two decimals: what the instrumentation costs per connection. */
	fj_set(sum, "records_per_flow",
	       json_real(st->flows ? (double)((st->records * 200 / st->flows +
					       1) /
					      2) /
					     100
				   : 0),
	       &bad);
	fj_set(sum, "lost", json_integer((json_int_t)st->lost), &bad);
	fj_set(sum, "skipped", json_integer((json_int_t)st->skipped), &bad);
	fj_set(sum, "evicted", json_integer((json_int_t)st->evicted), &bad);
	if (st->envoy.given)
		fj_set(sum, "envoy", fj_envoy_summary(&st->envoy), &bad);
	if (st->rules_rewritten > 0)
		fj_set(sum, "rules_rewritten",
		       json_integer((json_int_t)st->rules_rewritten), &bad);
	fj_set(root, "summary", sum, &bad);
	sum = NULL;
out:
	json_decref(types);
	json_decref(classes);
	json_decref(sum);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int fj_write(FILE *out, json_t *o)
{
	int ret = 0;

	if (o == NULL)
		return -ENOMEM;
	if (json_dumpf(o, out, FJ_DUMP_FLAGS) < 0 || fputc('\n', out) == EOF)
		ret = -EIO;
	json_decref(o);
	return ret;
}

/* ---- the per-flow writer ------------------------------------------------
 *
 * st_flowjson_write() runs once per flow on the replay and live paths, so it
 * does not build a jansson tree: it formats the same bytes json_dumpf()
 * would (JSON_COMPACT | JSON_PRESERVE_ORDER) straight into a buffer on the
 * stack and hands the line to the stream with one fwrite().  A flow larger
 * than the buffer (long names, many hops) is written in several pieces.
 */

#define FJ_BUF_SIZE 16384

struct fj_out {
	FILE *f;
	size_t len;
	bool bad; /* a write failed */
	char buf[FJ_BUF_SIZE];
};

static void fj_flush(struct fj_out *o)
{
	if (o->len > 0 && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->bad = true;
	o->len = 0;
}

/* The rare case: @n bytes do not fit, write the buffer out in between. */
static void fj_mem_slow(struct fj_out *o, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(o->buf) - o->len;
		size_t k;

		if (room == 0) {
			fj_flush(o);
			room = sizeof(o->buf);
		}
		k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

static inline void fj_mem(struct fj_out *o, const void *p, size_t n)
{
	if (__builtin_expect(n <= sizeof(o->buf) - o->len, 1)) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
	} else {
		fj_mem_slow(o, p, n);
	}
}

/* A string literal, its length known at compile time. */
#define fj_lit(o, s) fj_mem((o), "" s, sizeof(s) - 1)

static void fj_u64(struct fj_out *o, uint64_t v)
{
	char d[24];
	char *p = d + sizeof(d);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	fj_mem(o, p, (size_t)(d + sizeof(d) - p));
}

static void fj_int(struct fj_out *o, long long v)
{
	if (v < 0) {
		fj_lit(o, "-");
		fj_u64(o, 0 - (uint64_t)v);
	} else {
		fj_u64(o, (uint64_t)v);
	}
}

/*
 * Length of the well-formed UTF-8 sequence at @p (whose first byte is
 * >= 0x80), or 0: jansson accepts exactly these (no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t fj_utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	uint32_t cp;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	/* A NUL ends the string and fails this test, so no over-read. */
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * @s as a JSON string, escaped as jansson escapes: '"', '\\', and the
 * control characters below 0x20 (\b \f \n \r \t, else \u00XX with upper
 * case hex); everything else, UTF-8 included, as it is.  jansson refuses
 * a string that is not UTF-8 (the whole flow failed with it); here each
 * byte that does not start a well-formed sequence becomes U+FFFD, so that
 * an odd interface or chain name cannot cost the flow.  NULL is null.
 */
static void fj_str(struct fj_out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run;

	if (s == NULL) {
		fj_lit(o, "null");
		return;
	}
	fj_lit(o, "\"");
	run = p;
	for (;;) {
		unsigned char c = *p;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};
		size_t n;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		fj_mem(o, run, (size_t)(p - run));
		if (c == '\0')
			break;
		if (c >= 0x80) {
			n = fj_utf8_len(p);
			if (n > 0)
				fj_mem(o, p, n);
			else
				fj_lit(o, "\xef\xbf\xbd");
			p += n > 0 ? n : 1;
			run = p;
			continue;
		}
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			n = 2;
			break;
		case '\b':
			esc[1] = 'b';
			n = 2;
			break;
		case '\f':
			esc[1] = 'f';
			n = 2;
			break;
		case '\n':
			esc[1] = 'n';
			n = 2;
			break;
		case '\r':
			esc[1] = 'r';
			n = 2;
			break;
		case '\t':
			esc[1] = 't';
			n = 2;
			break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			n = 6;
			break;
		}
		fj_mem(o, esc, n);
		p++;
		run = p;
	}
	fj_lit(o, "\"");
}

static void fj_str_or_null_w(struct fj_out *o, const char *s)
{
	fj_str(o, s != NULL && s[0] != '\0' ? s : NULL);
}

static void fj_proto_w(struct fj_out *o, uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		fj_lit(o, "\"tcp\"");
		break;
	case IPPROTO_UDP:
		fj_lit(o, "\"udp\"");
		break;
	case IPPROTO_ICMP:
		fj_lit(o, "\"icmp\"");
		break;
	case IPPROTO_ICMPV6:
		fj_lit(o, "\"ipv6-icmp\"");
		break;
	case IPPROTO_SCTP:
		fj_lit(o, "\"sctp\"");
		break;
	default:
		fj_lit(o, "\"");
		fj_u64(o, proto);
		fj_lit(o, "\"");
		break;
	}
}

/* "a.b.c.d:port" as inet_ntop and "%s:%u" write it; IPv6 through them. */
static void fj_addr_w(struct fj_out *o, uint8_t family, const uint8_t *a,
		      uint16_t port)
{
	char buf[ST_FLOW_ADDR_SIZE];

	if (family == 6) {
		st_flow_addr_format(family, a, port, buf, sizeof(buf));
		fj_str(o, buf);
		return;
	}
	fj_lit(o, "\"");
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			fj_lit(o, ".");
		fj_u64(o, a[i]);
	}
	fj_lit(o, ":");
	fj_u64(o, port);
	fj_lit(o, "\"");
}

/* Two digits, zero padded. */
static void fj_2d(char *p, unsigned int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC), as fj_time() writes it.  The civil
 * date from the day number is H. Hinnant's days_from_civil inverse (exact
 * for the proleptic Gregorian calendar, like gmtime_r); times outside the
 * years 0-9999 or odd nanoseconds go the slow way for identical output.
 */
static void fj_time_w(struct fj_out *o, const struct timespec *ts)
{
	char b[32];
	int64_t days, sod, z, era, doe, yoe, y, doy, mp, d, m;
	json_t *slow = NULL;

	days = ts->tv_sec / 86400;
	sod = ts->tv_sec % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	if (y < 0 || y > 9999 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
		slow = fj_time(ts);
		if (json_is_string(slow))
			fj_str(o, json_string_value(slow));
		else
			fj_lit(o, "null");
		json_decref(slow);
		return;
	}
	memcpy(b, "\"0000-00-00T00:00:00.000000Z\"", 29);
	fj_2d(b + 1, (unsigned int)(y / 100));
	fj_2d(b + 3, (unsigned int)(y % 100));
	fj_2d(b + 6, (unsigned int)m);
	fj_2d(b + 9, (unsigned int)d);
	fj_2d(b + 12, (unsigned int)(sod / 3600));
	fj_2d(b + 15, (unsigned int)(sod / 60 % 60));
	fj_2d(b + 18, (unsigned int)(sod % 60));
	{
		unsigned int us = (unsigned int)(ts->tv_nsec / 1000);

		fj_2d(b + 21, us / 10000);
		fj_2d(b + 23, us / 100 % 100);
		fj_2d(b + 25, us % 100);
	}
	fj_mem(o, b, 29);
}

static void fj_leg_w(struct fj_out *o, const struct st_flow_leg *l)
{
	fj_lit(o, "{\"src\":");
	fj_addr_w(o, l->family, l->src, l->sport);
	fj_lit(o, ",\"dst\":");
	fj_addr_w(o, l->family, l->dst, l->dport);
	fj_lit(o, ",\"proto\":");
	fj_proto_w(o, l->proto);
	fj_lit(o, ",\"uid\":");
	if (l->has_uid)
		fj_u64(o, l->uid);
	else
		fj_lit(o, "null");
	fj_lit(o, ",\"gid\":");
	if (l->has_gid)
		fj_u64(o, l->gid);
	else
		fj_lit(o, "null");
	fj_lit(o, ",\"hops\":[");
	for (unsigned int i = 0; i < l->nhops; i++) {
		const struct st_flow_hop *h = &l->hops[i];

		if (i > 0)
			fj_lit(o, ",");
		fj_lit(o, "{\"table\":");
		fj_str(o, h->table);
		fj_lit(o, ",\"chain\":");
		fj_str(o, h->chain);
		fj_lit(o, ",\"rule\":");
		fj_u64(o, h->rule);
		fj_lit(o, ",\"kind\":");
		fj_str(o, st_flow_hop_kind_name(h->kind));
		fj_lit(o, "}");
	}
	fj_lit(o, "]");
	if (l->capture != ST_CAPTURE_NONE) {
		fj_lit(o, ",\"redirect_port\":");
		fj_u64(o, l->redirect_port);
	}
	fj_lit(o, ",\"in\":");
	fj_str_or_null_w(o, l->indev);
	fj_lit(o, ",\"out\":");
	fj_str_or_null_w(o, l->outdev);
	fj_lit(o, ",\"ts\":");
	fj_time_w(o, &l->ts);
	fj_lit(o, ",\"packets\":");
	fj_u64(o, l->packets);
	if (l->incomplete) {
		fj_lit(o, ",\"complete\":false,\"why\":");
		fj_str(o, l->why);
	} else {
		fj_lit(o, ",\"complete\":true");
	}
	if (l->truncated)
		fj_lit(o, ",\"hops_truncated\":true");
	fj_lit(o, "}");
}

static void fj_req_w(struct fj_out *o, const struct st_flow_req *r)
{
	fj_lit(o, "{\"method\":");
	fj_str_or_null_w(o, r->method);
	fj_lit(o, ",\"authority\":");
	fj_str_or_null_w(o, r->authority);
	fj_lit(o, ",\"path\":");
	fj_str_or_null_w(o, r->path);
	fj_lit(o, ",\"code\":");
	if (r->has_code)
		fj_u64(o, r->code);
	else
		fj_lit(o, "null");
	fj_lit(o, ",\"flags\":");
	fj_str_or_null_w(o, r->flags);
	fj_lit(o, ",\"upstream_host\":");
	if (r->host_family != 0)
		fj_addr_w(o, r->host_family, r->host, r->host_port);
	else
		fj_lit(o, "null");
	fj_lit(o, ",\"cluster\":");
	fj_str_or_null_w(o, r->cluster);
	fj_lit(o, ",\"duration_ms\":");
	if (r->has_duration)
		fj_u64(o, r->duration_ms);
	else
		fj_lit(o, "null");
	fj_lit(o, "}");
}

static void fj_envoy_w(struct fj_out *o, const struct st_flow *f)
{
	if (f->side == ST_SIDE_NONE) {
		fj_lit(o, "null");
		return;
	}
	fj_lit(o, "{\"side\":");
	fj_str(o, st_flow_side_name(f->side));
	if (fj_has_pooled(f)) {
		fj_lit(o, ",\"pooled\":{\"src\":");
		fj_addr_w(o, f->pooled.family, f->pooled.src, f->pooled.sport);
		fj_lit(o, ",\"dst\":");
		fj_addr_w(o, f->pooled.family, f->pooled.dst, f->pooled.dport);
		if (f->pooled.known && f->pooled.flow_id > 0) {
			fj_lit(o, ",\"flow\":");
			fj_u64(o, f->pooled.flow_id);
		}
		fj_lit(o, "}");
	}
	if (f->reqs != NULL) {
		fj_lit(o, ",\"requests\":[");
		for (unsigned int i = 0; i < f->reqs->n && i < ST_FLOW_REQS_MAX;
		     i++) {
			if (i > 0)
				fj_lit(o, ",");
			fj_req_w(o, &f->reqs->req[i]);
		}
		fj_lit(o, "]");
		if (f->reqs->total > f->reqs->n) {
			fj_lit(o, ",\"requests_more\":");
			fj_u64(o, f->reqs->total - f->reqs->n);
		}
	}
	fj_lit(o, "}");
}

int st_flowjson_write(FILE *out, const struct st_flow *f)
{
	struct fj_out o; /* not zeroed: 16 KiB of memset per flow showed */
	char path[1024];

	o.f = out;
	o.len = 0;
	o.bad = false;

	st_path_format(f, path, sizeof(path));
	fj_lit(&o, "{\"type\":");
	fj_int(&o, f->type);
	fj_lit(&o, ",\"type_name\":");
	fj_str(&o, st_class_type_name(f->type));
	fj_lit(&o, ",\"class\":");
	fj_str(&o, st_class_name(f->klass, f->type));
	fj_lit(&o, ",\"reason\":");
	if (f->type == 0 || f->reason[0] != '\0')
		fj_str(&o, f->reason);
	else
		fj_lit(&o, "null");
	fj_lit(&o, ",\"envoy\":");
	fj_envoy_w(&o, f);
	fj_lit(&o, ",\"path\":");
	fj_str(&o, path);
	fj_lit(&o, ",\"legs\":[");
	for (unsigned int i = 0; i < f->nlegs; i++) {
		if (i > 0)
			fj_lit(&o, ",");
		fj_leg_w(&o, &f->legs[i]);
	}
	fj_lit(&o, "]}\n");
	fj_flush(&o);
	return o.bad ? -EIO : 0;
}

int st_flowjson_write_summary(FILE *out, const struct st_flow_stats *stats)
{
	return fj_write(out, st_flowjson_summary(stats));
}
