// SPDX-License-Identifier: GPL-2.0-or-later
/* common.c - error buffer, string and array helpers. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

int st_err(char *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err, ST_ERRBUF_SIZE, fmt, ap);
		va_end(ap);
	}
	if (errnum <= 0)
		errnum = EINVAL;
	return -errnum;
}

void st_note(FILE *diag, const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return;
	fputs("sidecar-trace: ", diag);
	va_start(ap, fmt);
	vfprintf(diag, fmt, ap);
	va_end(ap);
	fputc('\n', diag);
	fflush(diag);
}

size_t st_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int st_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *a = NULL;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	a = realloc(*arr, n * elem);
	if (a == NULL)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

void st_strbuf_putn(struct st_strbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p = NULL;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void st_strbuf_puts(struct st_strbuf *b, const char *s)
{
	st_strbuf_putn(b, s, strlen(s));
}

void st_strbuf_printf(struct st_strbuf *b, const char *fmt, ...)
{
	char small[256];
	char *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		st_strbuf_putn(b, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (big == NULL) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	st_strbuf_putn(b, big, (size_t)n);
	free(big);
}

char *st_strbuf_take(struct st_strbuf *b)
{
	char *p = NULL;

	if (!b->oom && b->p == NULL)
		st_strbuf_putn(b, "", 0);
	if (b->oom) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void st_strbuf_free(struct st_strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void st_strbuf_reset(struct st_strbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

char *st_strbuf_dup(const struct st_strbuf *b)
{
	if (b->oom)
		return NULL;
	return strdup(b->len ? b->p : "");
}

/*
 * The protocol names of iptables-save and nft, one table for both parsers
 * and the explainer; the first name of a number is the one printed.
 */
static const struct {
	const char *name;
	uint8_t num;
} st_protos[] = {
	{"tcp", IPPROTO_TCP},
	{"udp", IPPROTO_UDP},
	{"icmp", IPPROTO_ICMP},
	{"icmpv6", IPPROTO_ICMPV6},
	{"ipv6-icmp", IPPROTO_ICMPV6},
	{"sctp", IPPROTO_SCTP},
	{"udplite", IPPROTO_UDPLITE},
	{"dccp", IPPROTO_DCCP},
	{"gre", IPPROTO_GRE},
	{"esp", IPPROTO_ESP},
	{"ah", IPPROTO_AH},
	{"igmp", IPPROTO_IGMP},
	{"mh", IPPROTO_MH},
	{"ipv6-mh", IPPROTO_MH},
};

bool st_proto_parse(const char *name, uint8_t *num)
{
	for (size_t i = 0; name != NULL && i < ST_ARRAY_SIZE(st_protos); i++) {
		if (strcasecmp(name, st_protos[i].name) == 0) {
			*num = st_protos[i].num;
			return true;
		}
	}
	return false;
}

const char *st_proto_name(uint8_t num)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_protos); i++)
		if (st_protos[i].num == num)
			return st_protos[i].name;
	return NULL;
}
