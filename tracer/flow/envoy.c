// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * envoy.c - the value of one Envoy access-log entry: fields set from the
 * text Envoy printed, names, and formatting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "envoy.h"

enum st_envoy_kind {
	ST_ENVOY_K_TIME,
	ST_ENVOY_K_STR,
	ST_ENVOY_K_CODE,
	ST_ENVOY_K_U64,
	ST_ENVOY_K_ADDR,
};

struct st_envoy_desc {
	const char *name; /* Istio's JSON key */
	size_t nlen;
	enum st_envoy_kind kind;
	size_t off; /* of the value in struct st_envoy_req */
	size_t size;
};

#define ST_ENVOY_D(n, k, m)                                   \
	{                                                     \
		.name = n, .nlen = sizeof(n) - 1, .kind = k,  \
		.off = offsetof(struct st_envoy_req, m),      \
		.size = sizeof(((struct st_envoy_req *)0)->m) \
	}

static const struct st_envoy_desc st_envoy_desc[ST_ENVOY__MAX] = {
	[ST_ENVOY_START_TIME] =
		ST_ENVOY_D("start_time", ST_ENVOY_K_TIME, start),
	[ST_ENVOY_METHOD] = ST_ENVOY_D("method", ST_ENVOY_K_STR, method),
	[ST_ENVOY_PATH] = ST_ENVOY_D("path", ST_ENVOY_K_STR, path),
	[ST_ENVOY_PROTOCOL] = ST_ENVOY_D("protocol", ST_ENVOY_K_STR, protocol),
	[ST_ENVOY_RESPONSE_CODE] =
		ST_ENVOY_D("response_code", ST_ENVOY_K_CODE, response_code),
	[ST_ENVOY_RESPONSE_FLAGS] =
		ST_ENVOY_D("response_flags", ST_ENVOY_K_STR, response_flags),
	[ST_ENVOY_CODE_DETAILS] = ST_ENVOY_D("response_code_details",
					     ST_ENVOY_K_STR, code_details),
	[ST_ENVOY_TERMINATION_DETAILS] =
		ST_ENVOY_D("connection_termination_details", ST_ENVOY_K_STR,
			   termination_details),
	[ST_ENVOY_TRANSPORT_FAILURE] =
		ST_ENVOY_D("upstream_transport_failure_reason", ST_ENVOY_K_STR,
			   transport_failure),
	[ST_ENVOY_BYTES_RECEIVED] =
		ST_ENVOY_D("bytes_received", ST_ENVOY_K_U64, bytes_received),
	[ST_ENVOY_BYTES_SENT] =
		ST_ENVOY_D("bytes_sent", ST_ENVOY_K_U64, bytes_sent),
	[ST_ENVOY_DURATION] =
		ST_ENVOY_D("duration", ST_ENVOY_K_U64, duration_ms),
	[ST_ENVOY_UPSTREAM_SERVICE_TIME] = ST_ENVOY_D(
		"upstream_service_time", ST_ENVOY_K_U64, upstream_service_ms),
	[ST_ENVOY_X_FORWARDED_FOR] =
		ST_ENVOY_D("x_forwarded_for", ST_ENVOY_K_STR, x_forwarded_for),
	[ST_ENVOY_USER_AGENT] =
		ST_ENVOY_D("user_agent", ST_ENVOY_K_STR, user_agent),
	[ST_ENVOY_REQUEST_ID] =
		ST_ENVOY_D("request_id", ST_ENVOY_K_STR, request_id),
	[ST_ENVOY_AUTHORITY] =
		ST_ENVOY_D("authority", ST_ENVOY_K_STR, authority),
	[ST_ENVOY_UPSTREAM_HOST] =
		ST_ENVOY_D("upstream_host", ST_ENVOY_K_ADDR, upstream_host),
	[ST_ENVOY_UPSTREAM_CLUSTER] = ST_ENVOY_D(
		"upstream_cluster", ST_ENVOY_K_STR, upstream_cluster),
	[ST_ENVOY_UPSTREAM_LOCAL] = ST_ENVOY_D("upstream_local_address",
					       ST_ENVOY_K_ADDR, upstream_local),
	[ST_ENVOY_DOWNSTREAM_LOCAL] = ST_ENVOY_D(
		"downstream_local_address", ST_ENVOY_K_ADDR, downstream_local),
	[ST_ENVOY_DOWNSTREAM_REMOTE] =
		ST_ENVOY_D("downstream_remote_address", ST_ENVOY_K_ADDR,
			   downstream_remote),
	[ST_ENVOY_SERVER_NAME] = ST_ENVOY_D("requested_server_name",
					    ST_ENVOY_K_STR, server_name),
	[ST_ENVOY_ROUTE_NAME] =
		ST_ENVOY_D("route_name", ST_ENVOY_K_STR, route_name),
};

void st_envoy_req_reset(struct st_envoy_req *req)
{
	memset(req, 0, sizeof(*req));
}

bool st_envoy_is_tcp(const struct st_envoy_req *req)
{
	uint32_t dash = ST_ENVOY_BIT(ST_ENVOY_METHOD) |
			ST_ENVOY_BIT(ST_ENVOY_PATH) |
			ST_ENVOY_BIT(ST_ENVOY_PROTOCOL);

	return (req->has & dash) == dash && (req->empty & dash) == dash &&
	       st_envoy_has(req, ST_ENVOY_RESPONSE_CODE) &&
	       req->response_code == 0;
}

const char *st_envoy_field_name(enum st_envoy_field f)
{
	if ((unsigned int)f >= ST_ENVOY__MAX)
		return "?";
	return st_envoy_desc[f].name;
}

int st_envoy_field_by_name(const char *name, size_t len)
{
	for (int f = 0; f < ST_ENVOY__MAX; f++) {
		const struct st_envoy_desc *d = &st_envoy_desc[f];

		if (d->nlen == len && memcmp(d->name, name, len) == 0)
			return f;
	}
	return -1;
}

/* Decimal digits only, no sign, no overflow. */
static int st_envoy_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/*
 * A dotted quad, as inet_pton() reads it (four decimal parts 0-255, no
 * leading zeros but "0"), without the copy inet_pton() needs: this runs
 * for every address of every line.
 */
static int st_envoy_ipv4(const char *s, size_t n, uint8_t *out)
{
	const char *end = s + n;

	for (int part = 0; part < 4; part++) {
		unsigned int v = 0;
		const char *start = s;

		while (s < end && *s >= '0' && *s <= '9' && s - start < 3)
			v = v * 10 + (unsigned int)(*s++ - '0');
		if (s == start || v > 255 || (s - start > 1 && *start == '0'))
			return -EINVAL;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (s >= end || *s != '.')
				return -EINVAL;
			s++;
		}
	}
	return s == end ? 0 : -EINVAL;
}

int st_envoy_addr_parse(const char *s, size_t n, struct st_envoy_addr *a)
{
	const char *end = s + n, *host = s, *colon;
	char tmp[INET6_ADDRSTRLEN];
	size_t hlen;
	uint64_t port;
	bool v6;

	memset(a, 0, sizeof(*a));
	v6 = n > 0 && s[0] == '[';
	if (v6) {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL || rb + 1 >= end || rb[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		colon = memrchr(s, ':', n);
		if (colon == NULL)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(tmp))
		return -EINVAL;
	if (st_envoy_u64(colon + 1, (size_t)(end - colon - 1), &port) < 0 ||
	    port > UINT16_MAX)
		return -EINVAL;
	if (!v6) {
		if (st_envoy_ipv4(host, hlen, a->addr) < 0) {
			memset(a, 0, sizeof(*a));
			return -EINVAL;
		}
		a->family = 4;
		a->port = (uint16_t)port;
		return 0;
	}
	memcpy(tmp, host, hlen);
	tmp[hlen] = '\0';
	if (inet_pton(AF_INET6, tmp, a->addr) != 1) {
		memset(a, 0, sizeof(*a));
		return -EINVAL;
	}
	a->family = 6;
	a->port = (uint16_t)port;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's). */
static int64_t st_envoy_days(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* @n digits at @s as a number, or -1. */
static int st_envoy_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int st_envoy_time_parse(const char *s, size_t n, struct timespec *ts)
{
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30,
					      31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	long nsec = 0;
	size_t i = 19;
	int sign = 0;

	/* YYYY-MM-DDTHH:MM:SS */
	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	y = st_envoy_digits(s, 4);
	mo = st_envoy_digits(s + 5, 2);
	d = st_envoy_digits(s + 8, 2);
	h = st_envoy_digits(s + 11, 2);
	mi = st_envoy_digits(s + 14, 2);
	sec = st_envoy_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -EINVAL;
	if (s[i] == '.') {
		long scale = 100000000;
		size_t start = ++i;

		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			nsec += (s[i] - '0') * scale;
			scale /= 10;
		}
		if (i == start)
			return -EINVAL;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (n - i < 6 || s[i + 3] != ':')
			return -EINVAL;
		oh = st_envoy_digits(s + i + 1, 2);
		om = st_envoy_digits(s + i + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != n)
		return -EINVAL;
	ts->tv_sec =
		(time_t)(st_envoy_days(y, (unsigned int)mo, (unsigned int)d) *
				 86400 +
			 h * 3600 + mi * 60 + sec -
			 sign * (oh * 3600 + om * 60));
	ts->tv_nsec = nsec;
	return 0;
}

/* Copy a string value; control bytes become '?' so that it prints. */
static void st_envoy_copy(struct st_envoy_req *req, uint32_t bit, char *dst,
			  size_t size, const char *s, size_t n)
{
	size_t k = n < size - 1 ? n : size - 1;

	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[k] = '\0';
	if (k < n)
		req->truncated |= bit;
}

void st_envoy_set(struct st_envoy_req *req, enum st_envoy_field f,
		  const char *s, size_t n)
{
	const struct st_envoy_desc *d;
	uint32_t bit = ST_ENVOY_BIT(f);
	char *val;
	uint64_t v;

	if ((unsigned int)f >= ST_ENVOY__MAX)
		return;
	d = &st_envoy_desc[f];
	val = (char *)req + d->off;
	/* A string is read up to its terminator only. */
	if (d->kind == ST_ENVOY_K_STR)
		val[0] = '\0';
	else
		memset(val, 0, d->size);
	req->has |= bit;
	req->empty &= ~bit;
	req->bad &= ~bit;
	req->truncated &= ~bit;
	if (n == 0 || (n == 1 && s[0] == '-')) {
		req->empty |= bit;
		return;
	}
	switch (d->kind) {
	case ST_ENVOY_K_TIME:
		if (st_envoy_time_parse(s, n, &req->start) < 0) {
			memset(&req->start, 0, sizeof(req->start));
			req->bad |= bit;
		}
		break;
	case ST_ENVOY_K_STR:
		st_envoy_copy(req, bit, val, d->size, s, n);
		break;
	case ST_ENVOY_K_CODE:
		if (st_envoy_u64(s, n, &v) < 0 || v > UINT16_MAX)
			req->bad |= bit;
		else
			req->response_code = (uint16_t)v;
		break;
	case ST_ENVOY_K_U64:
		if (st_envoy_u64(s, n, &v) < 0)
			req->bad |= bit;
		else
			memcpy(val, &v, sizeof(v));
		break;
	case ST_ENVOY_K_ADDR:
		if (st_envoy_addr_parse(s, n, (struct st_envoy_addr *)val) < 0)
			req->bad |= bit;
		break;
	}
}

void st_envoy_set_uint(struct st_envoy_req *req, enum st_envoy_field f,
		       uint64_t v)
{
	const struct st_envoy_desc *d;
	uint32_t bit = ST_ENVOY_BIT(f);

	if ((unsigned int)f >= ST_ENVOY__MAX)
		return;
	d = &st_envoy_desc[f];
	memset((char *)req + d->off, 0, d->size);
	req->has |= bit;
	req->empty &= ~bit;
	req->bad &= ~bit;
	req->truncated &= ~bit;
	if (d->kind == ST_ENVOY_K_CODE && v <= UINT16_MAX)
		req->response_code = (uint16_t)v;
	else if (d->kind == ST_ENVOY_K_U64)
		memcpy((char *)req + d->off, &v, sizeof(v));
	else
		req->bad |= bit;
}

void st_envoy_addr_format(const struct st_envoy_addr *a, char *buf, size_t size)
{
	char s[INET6_ADDRSTRLEN] = "?";

	/* As st_flow_addr_format() writes them, without needing flow.c. */
	if (a->family == 6 && inet_ntop(AF_INET6, a->addr, s, sizeof(s)))
		snprintf(buf, size, "[%s]:%u", s, a->port);
	else if (a->family == 4 && inet_ntop(AF_INET, a->addr, s, sizeof(s)))
		snprintf(buf, size, "%s:%u", s, a->port);
	else
		snprintf(buf, size, "-");
}

/* Append to a bounded buffer, counting what the whole would need. */
struct st_envoy_out {
	char *buf;
	size_t size;
	size_t len;
};

static void st_envoy_put(struct st_envoy_out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len - 1;
		size_t k = n < room ? n : room;

		memcpy(o->buf + o->len, s, k);
		o->buf[o->len + k] = '\0';
	}
	o->len += n;
}

static void st_envoy_puts(struct st_envoy_out *o, const char *s)
{
	st_envoy_put(o, s, strlen(s));
}

static void st_envoy_put_str(struct st_envoy_out *o, const char *s)
{
	if (s[strcspn(s, " \"\\")] == '\0') {
		st_envoy_puts(o, s);
		return;
	}
	st_envoy_put(o, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			st_envoy_put(o, "\\", 1);
		st_envoy_put(o, s, 1);
	}
	st_envoy_put(o, "\"", 1);
}

size_t st_envoy_req_format(const struct st_envoy_req *req, char *buf,
			   size_t size)
{
	struct st_envoy_out o = {.buf = buf, .size = size};
	char tmp[ST_ENVOY_ADDR_SIZE];

	if (size > 0)
		buf[0] = '\0';
	for (int f = 0; f < ST_ENVOY__MAX; f++) {
		const struct st_envoy_desc *d = &st_envoy_desc[f];
		const char *val = (const char *)req + d->off;
		uint32_t bit = ST_ENVOY_BIT(f);
		uint64_t v;

		if (!(req->has & bit))
			continue;
		if (o.len > 0)
			st_envoy_put(&o, " ", 1);
		st_envoy_puts(&o, d->name);
		st_envoy_put(&o, "=", 1);
		if (req->empty & bit) {
			st_envoy_put(&o, "-", 1);
			continue;
		}
		if (req->bad & bit) {
			st_envoy_put(&o, "?", 1);
			continue;
		}
		switch (d->kind) {
		case ST_ENVOY_K_TIME:
			snprintf(tmp, sizeof(tmp), "%lld.%09ld",
				 (long long)req->start.tv_sec,
				 req->start.tv_nsec);
			st_envoy_puts(&o, tmp);
			break;
		case ST_ENVOY_K_STR:
			st_envoy_put_str(&o, val);
			if (req->truncated & bit)
				st_envoy_puts(&o, "...");
			break;
		case ST_ENVOY_K_CODE:
			snprintf(tmp, sizeof(tmp), "%u", req->response_code);
			st_envoy_puts(&o, tmp);
			break;
		case ST_ENVOY_K_U64:
			memcpy(&v, val, sizeof(v));
			snprintf(tmp, sizeof(tmp), "%llu",
				 (unsigned long long)v);
			st_envoy_puts(&o, tmp);
			break;
		case ST_ENVOY_K_ADDR:
			st_envoy_addr_format((const struct st_envoy_addr *)val,
					     tmp, sizeof(tmp));
			st_envoy_puts(&o, tmp);
			break;
		}
	}
	return o.len;
}

void st_envoy_missing_format(const struct st_envoy_req *req, char *buf,
			     size_t size)
{
	struct st_envoy_out o = {.buf = buf, .size = size};

	if (size > 0)
		buf[0] = '\0';
	for (int f = 0; f < ST_ENVOY__MAX; f++) {
		if (req->has & ST_ENVOY_BIT(f))
			continue;
		if (o.len > 0)
			st_envoy_put(&o, ",", 1);
		st_envoy_puts(&o, st_envoy_desc[f].name);
	}
}
