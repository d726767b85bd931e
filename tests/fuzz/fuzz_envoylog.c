// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_envoylog.c - libFuzzer target for Envoy's access-log reader
 * (tracer/source/envoylog.c, tracer/flow/envoy.c).  The first byte picks
 * the size of the pieces the rest is fed in (1 to 256 bytes: lines cut
 * anywhere), the second a small line bound (256 bytes and up, so that
 * over-long lines and CRI joins over the bound are reached); the rest is
 * a log, CRI-wrapped or not.  The same bytes also go straight to
 * st_envoylog_parse(), st_envoylog_cri_split() and the value parsers,
 * and, as a JSON line, to both JSON readers: the allocation-free one must
 * read what it takes exactly as jansson does (so the reader's source is
 * included here, for its static functions).
 *
 * Traps when a result does not hold together: an entry's masks outside
 * the fields or "empty"/"bad"/"cut" without "has", a string not
 * terminated in its buffer, an address family other than 0/4/6, a
 * formatted entry longer than its buffer, counters that do not add up,
 * a message that is not a terminated string, a kind said twice, the two
 * JSON readers disagreeing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envoy.h"
#include "envoylog.c"

static void st_fuzz_check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		__builtin_trap();
}

static void st_fuzz_check_req(const struct st_envoy_req *r)
{
	const struct st_envoy_addr *addrs[] = {
		&r->upstream_host, &r->upstream_local, &r->downstream_local,
		&r->downstream_remote};
	char line[4096], miss[1024];
	size_t n;

	if ((r->has & ~ST_ENVOY_ALL) != 0 || (r->empty & ~r->has) != 0 ||
	    (r->bad & ~r->has) != 0 || (r->truncated & ~r->has) != 0 ||
	    (r->empty & r->bad) != 0)
		__builtin_trap();
	st_fuzz_check_str(r->method, sizeof(r->method));
	st_fuzz_check_str(r->protocol, sizeof(r->protocol));
	st_fuzz_check_str(r->response_flags, sizeof(r->response_flags));
	st_fuzz_check_str(r->request_id, sizeof(r->request_id));
	st_fuzz_check_str(r->code_details, sizeof(r->code_details));
	st_fuzz_check_str(r->termination_details,
			  sizeof(r->termination_details));
	st_fuzz_check_str(r->transport_failure, sizeof(r->transport_failure));
	st_fuzz_check_str(r->x_forwarded_for, sizeof(r->x_forwarded_for));
	st_fuzz_check_str(r->user_agent, sizeof(r->user_agent));
	st_fuzz_check_str(r->authority, sizeof(r->authority));
	st_fuzz_check_str(r->server_name, sizeof(r->server_name));
	st_fuzz_check_str(r->route_name, sizeof(r->route_name));
	st_fuzz_check_str(r->path, sizeof(r->path));
	st_fuzz_check_str(r->upstream_cluster, sizeof(r->upstream_cluster));
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		uint8_t f = addrs[i]->family;

		if (f != 0 && f != 4 && f != 6)
			__builtin_trap();
	}
	if (r->start.tv_nsec < 0 || r->start.tv_nsec >= 1000000000L)
		__builtin_trap();
	n = st_envoy_req_format(r, line, sizeof(line));
	if (strlen(line) != (n < sizeof(line) ? n : sizeof(line) - 1))
		__builtin_trap();
	st_envoy_missing_format(r, miss, sizeof(miss));
	st_fuzz_check_str(miss, sizeof(miss));
	(void)st_envoy_is_tcp(r);
}

static int st_fuzz_entry(void *data, const struct st_envoy_req *req)
{
	unsigned int *n = data;

	st_fuzz_check_req(req);
	(*n)++;
	return ST_CB_OK;
}

static void st_fuzz_reader(const uint8_t *d, size_t len, size_t chunk,
			   size_t max_line)
{
	struct st_envoylog_opts o = {.max_line = max_line, .fn = st_fuzz_entry};
	struct st_envoylog_stats st;
	struct st_envoylog *l;
	char err[ST_ERRBUF_SIZE];
	unsigned int seen = 0, said = 0;
	uint64_t sum = 0;
	const char *news;

	o.data = &seen;
	if (st_envoylog_new(&l, &o, err) != 0)
		__builtin_trap();
	for (size_t off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;

		if (st_envoylog_feed(l, d + off, k, err) != ST_CB_OK)
			__builtin_trap();
	}
	if (st_envoylog_finish(l, err) != ST_CB_OK)
		__builtin_trap();
	st_envoylog_stats(l, &st);
	for (int f = 0; f < ST_ENVOYLOG__MAX; f++)
		sum += st.by_format[f];
	if (st.entries != seen || sum != seen || st.bytes != len ||
	    st.missing > st.entries ||
	    st.entries + st.unparsed + st.binary > st.lines ||
	    st.rotations + st.truncations + st.deletions + st.read_errors != 0)
		__builtin_trap();
	while ((news = st_envoylog_news(l)) != NULL) {
		if (++said > ST_ENVOYLOG_A__MAX || strlen(news) == 0)
			__builtin_trap();
	}
	st_envoylog_free(l);
}

/* The fast JSON reader gives what jansson gives, or leaves it to it. */
static void st_fuzz_json(const char *s, size_t n)
{
	struct st_envoy_req *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	char fa[4096], fb[4096];
	int ra, rb;

	if (a == NULL || b == NULL)
		__builtin_trap();
	st_envoy_req_reset(a);
	ra = st_parse_json_fast(s, n, a);
	if (ra != -EAGAIN) {
		rb = st_parse_json_slow(s, n, b);
		if (ra != rb)
			__builtin_trap();
		if (ra >= 0) {
			st_envoy_req_format(a, fa, sizeof(fa));
			st_envoy_req_format(b, fb, sizeof(fb));
			if (a->has != b->has || a->empty != b->empty ||
			    a->bad != b->bad || a->truncated != b->truncated ||
			    strcmp(fa, fb) != 0)
				__builtin_trap();
		}
	}
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_envoylog_cri cri;
	struct st_envoy_addr a;
	struct st_envoy_req *req;
	struct timespec ts;
	const char *s;
	size_t n;
	int ret;

	if (size < 2)
		return 0;
	s = (const char *)data + 2;
	n = size - 2;
	st_fuzz_reader(data + 2, n, (size_t)data[0] + 1,
		       ST_ENVOYLOG_MIN_LINE + (size_t)data[1] * 16);

	req = malloc(sizeof(*req));
	if (req == NULL)
		__builtin_trap();
	ret = st_envoylog_parse(s, n, req);
	if (ret >= 0)
		st_fuzz_check_req(req);
	else if (ret != -EBADMSG || req->has != 0)
		__builtin_trap();
	if (st_envoylog_cri_split(s, n, &cri) == 0 &&
	    (cri.text < s || cri.text + cri.len != s + n))
		__builtin_trap();
	if (st_envoy_addr_parse(s, n, &a) == 0 && a.family != 4 &&
	    a.family != 6)
		__builtin_trap();
	(void)st_envoy_time_parse(s, n, &ts);
	st_fuzz_json(s, n);
	/* Every field from the same text. */
	st_envoy_req_reset(req);
	for (int f = 0; f < ST_ENVOY__MAX; f++)
		st_envoy_set(req, (enum st_envoy_field)f, s, n);
	if (req->has != ST_ENVOY_ALL)
		__builtin_trap();
	st_fuzz_check_req(req);
	free(req);
	return 0;
}
