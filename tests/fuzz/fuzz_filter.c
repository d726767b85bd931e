// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_filter.c - libFuzzer target for the --filter front end
 * (tracer/filter.c): the input is a pcap-filter(7) expression, optionally
 * followed by a NUL and the bytes of an IP packet.  An expression that
 * compiles is run on that packet (whole and cut short) and on a few fixed
 * IPv4 and IPv6 packets, through st_filter_match() and the record path
 * (st_filter_note() / st_filter_flow()).
 *
 * libpcap resolves names in expressions ("host foo", "gateway bar"): a
 * fuzzer must not send DNS queries, so getaddrinfo() and gethostbyname()
 * are replaced here (and in the regression test that includes this file)
 * by versions that accept numeric hosts only.
 *
 * tests/test_fuzz_regress.c includes this file with ST_FUZZ_NO_MAIN to
 * replay the crashes kept under samples/fuzz-regress/.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define ST_FUZZ_MAX_EXPR 4096

typedef int (*st_gai_fn)(const char *, const char *, const struct addrinfo *,
			 struct addrinfo **);

/* Numeric hosts only; service names still come from /etc/services. */
int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static st_gai_fn real;
	struct addrinfo h;

	if (real == NULL)
		real = (st_gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	if (node != NULL)
		h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

struct hostent *gethostbyname(const char *name)
{
	(void)name;
	h_errno = HOST_NOT_FOUND;
	return NULL;
}

/* IPv4 TCP SYN 10.244.1.10:43210 > 10.244.2.20:9080. */
static const uint8_t st_fuzz_pkt4[] = {
	0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
	0x00, 0x00, 0x0a, 0xf4, 0x01, 0x0a, 0x0a, 0xf4, 0x02, 0x14,
	0xa8, 0xca, 0x23, 0x78, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

/* IPv6 UDP [fd00::5]:5353 > [fd00::10]:53, 4 payload bytes. */
static const uint8_t st_fuzz_pkt6[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x11, 0x40, 0xfd, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x05, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x14, 0xe9, 0x00, 0x35,
	0x00, 0x0c, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
};

/* A record whose payload is @pkt, as the decoder would fill it in. */
static void st_fuzz_rec(struct st_rec *rec, const uint8_t *pkt, size_t len,
			uint64_t seq)
{
	memset(rec, 0, sizeof(*rec));
	rec->seq = seq;
	rec->payload_len = (uint32_t)len;
	rec->caplen = len < sizeof(rec->payload)
			      ? (uint32_t)len
			      : (uint32_t)sizeof(rec->payload);
	memcpy(rec->payload, pkt, rec->caplen);
	(void)st_rec_decode_l3(rec);
}

static void st_fuzz_run(struct st_filter *f, const uint8_t *pkt, size_t len,
			uint64_t seq)
{
	struct st_flow *flow;
	struct st_rec *rec;

	(void)st_filter_match(f, pkt, (uint32_t)len, (uint32_t)len);
	if (len > 1)
		(void)st_filter_match(f, pkt, (uint32_t)len / 2, (uint32_t)len);
	rec = calloc(1, sizeof(*rec));
	flow = calloc(1, sizeof(*flow));
	if (rec == NULL || flow == NULL)
		__builtin_trap();
	st_fuzz_rec(rec, pkt, len, seq);
	st_filter_note(f, rec);
	flow->nlegs = 1;
	flow->legs[0].seq = seq;
	(void)st_filter_flow(f, flow);
	free(flow);
	free(rec);
}

/*
 * st_fuzz_filter() - compile the expression in @data and run it on the
 * packets.  Return: what st_filter_new() returned, with @err.
 */
static int st_fuzz_filter(const uint8_t *data, size_t size, char *err)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t elen = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *pkt = nul != NULL ? nul + 1 : NULL;
	size_t plen = nul != NULL ? size - elen - 1 : 0;
	struct st_filter_stats st;
	struct st_filter *f = NULL;
	char *expr = NULL;
	int ret;

	err[0] = '\0';
	if (elen > ST_FUZZ_MAX_EXPR)
		return 0;
	expr = strndup((const char *)data, elen);
	if (expr == NULL)
		__builtin_trap();
	ret = st_filter_new(&f, expr, err);
	if (ret < 0) {
		if (f != NULL || ret < -4095 ||
		    memchr(err, '\0', ST_ERRBUF_SIZE) == NULL || err[0] == '\0')
			__builtin_trap();
		goto out;
	}
	if (f == NULL || strcmp(st_filter_expr(f), expr) != 0)
		__builtin_trap();
	st_fuzz_run(f, st_fuzz_pkt4, sizeof(st_fuzz_pkt4), 1);
	st_fuzz_run(f, st_fuzz_pkt6, sizeof(st_fuzz_pkt6), 2);
	if (plen > 0)
		st_fuzz_run(f, pkt, plen, 3 + ST_FILTER_RING);
	st_filter_stats(f, &st);
	if (st.matched > st.evaluated ||
	    st.selected + st.rejected != (plen > 0 ? 3 : 2))
		__builtin_trap();
out:
	st_filter_free(f);
	free(expr);
	return ret;
}

#ifndef ST_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ST_ERRBUF_SIZE];

	st_fuzz_filter(data, size, err);
	return 0;
}
#endif
