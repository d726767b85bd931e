/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * labproto.h - helpers shared by the lab programs st-sidecar and st-labnet:
 * address parsing and printing, monotonic time, non-blocking sockets, UDP
 * replies from the address a datagram arrived at, and a minimal DNS codec.
 *
 * Header-only on purpose: the lab programs link nothing but libc. Wire bytes
 * are read through the bounds-checked getters of tracer/common.h.
 */
#ifndef ST_LABPROTO_H
#define ST_LABPROTO_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define LAB_ADDRSTRLEN (INET6_ADDRSTRLEN + 8)
#define LAB_DNS_MAX 1232
#define LAB_DNS_TYPE_A 1
#define LAB_DNS_TYPE_AAAA 28
#define LAB_DNS_CLASS_IN 1
#define LAB_DNS_RCODE_NXDOMAIN 3

static inline int64_t lab_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int lab_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static inline socklen_t lab_sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

static inline int lab_sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static inline void lab_sa_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/* Same address and port (the family decides which fields count). */
static inline bool lab_sa_equal(const struct sockaddr_storage *a,
				const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	const struct sockaddr_in *x = (const void *)a;
	const struct sockaddr_in *y = (const void *)b;

	return x->sin_port == y->sin_port &&
	       x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static inline bool lab_sa_same_ip(const struct sockaddr_storage *a,
				  const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       16);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/*
 * Parse "1.2.3.4", "1.2.3.4:80", "[fd00::1]:80", "[fd00::1]" or a bare IPv6
 * literal. A missing port becomes @defport (-1: the port is required).
 */
static inline int lab_parse_addr(const char *s, int defport,
				 struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	const char *colon;
	size_t hlen;
	long p;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb)
			return -EINVAL;
		hlen = (size_t)(rb - s - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1] != '\0')
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* bare IPv6 literal */
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (colon)
			port = colon + 1;
	}
	if (port) {
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno || *end || end == port || p < 0 || p > 65535)
			return -EINVAL;
	} else {
		if (defport < 0)
			return -EINVAL;
		p = defport;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) ==
	    1) {
		ss->ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, host,
			     &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
	} else {
		return -EINVAL;
	}
	lab_sa_set_port(ss, (int)p);
	return 0;
}

/* "ip:port", "[ip6]:port"; with @port false only the address. */
static inline const char *lab_fmt_sa(const struct sockaddr_storage *ss,
				     bool port, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	const void *a;
	bool v6 = ss->ss_family == AF_INET6;

	if (ss->ss_family != AF_INET && !v6) {
		snprintf(buf, size, "?");
		return buf;
	}
	a = v6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
	       : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (!inet_ntop(ss->ss_family, a, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (!port)
		snprintf(buf, size, "%s", ip);
	else if (v6)
		snprintf(buf, size, "[%s]:%d", ip, lab_sa_port(ss));
	else
		snprintf(buf, size, "%s:%d", ip, lab_sa_port(ss));
	return buf;
}

/* A TCP or UDP listener; IPv6 ones are v6-only so that v4 gets its own. */
static inline int lab_listen(int type, const struct sockaddr_storage *ss,
			     bool transparent, char *err, size_t errsz)
{
	char a[LAB_ADDRSTRLEN];
	int one = 1;
	int fd;

	fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (transparent) {
		if (ss->ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			goto fail;
		if (ss->ss_family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			goto fail;
	}
	if (type == SOCK_DGRAM) {
		/* Replies must leave from the address the query reached. */
		if (ss->ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)) < 0)
			goto fail;
		if (ss->ss_family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) <
			    0)
			goto fail;
	}
	if (bind(fd, (const struct sockaddr *)ss, lab_sa_len(ss)) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errsz, "%s listener %s: %s",
		 type == SOCK_STREAM ? "tcp" : "udp",
		 lab_fmt_sa(ss, true, a, sizeof(a)), strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * A datagram plus the local address it was sent to (IP_PKTINFO /
 * IPV6_PKTINFO), so that the answer leaves from that very address: a reply
 * from another source would not match the conntrack entry of a REDIRECT.
 */
struct lab_dgram {
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	bool have_local;
};

static inline ssize_t lab_recv_dgram(int fd, uint8_t *buf, size_t size,
				     struct lab_dgram *d)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr mh = {
		.msg_name = &d->peer,
		.msg_namelen = sizeof(d->peer),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = c.buf,
		.msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	n = recvmsg(fd, &mh, 0);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in *l = (void *)&d->local;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			l->sin_family = AF_INET;
			l->sin_addr = pi.ipi_addr;
			d->have_local = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
			   cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *l = (void *)&d->local;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			l->sin6_family = AF_INET6;
			l->sin6_addr = pi.ipi6_addr;
			d->have_local = true;
		}
	}
	return n;
}

static inline ssize_t lab_send_dgram(int fd, const uint8_t *buf, size_t len,
				     const struct lab_dgram *d)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {
		.msg_name = (void *)&d->peer,
		.msg_namelen = lab_sa_len(&d->peer),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cm;

	memset(&c, 0, sizeof(c));
	if (d->have_local && d->local.ss_family == AF_INET) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst =
			((const struct sockaddr_in *)&d->local)->sin_addr;
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else if (d->have_local && d->local.ss_family == AF_INET6) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr =
			((const struct sockaddr_in6 *)&d->local)->sin6_addr;
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

/*
 * DNS (RFC 1035), only as much as the lab needs: one question, answers of
 * type A and AAAA. Compression pointers are followed in answers only.
 */
struct lab_dns_q {
	uint16_t id;
	uint16_t flags;
	uint16_t qtype;
	uint16_t qclass;
	size_t qend; /* offset just past the question */
	char name[256];
};

static inline void lab_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Skip a (possibly compressed) name; return its end offset or -1. */
static inline long lab_dns_skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (st_have(off, 1, len)) {
		uint8_t l = st_get_u8(m + off);

		if ((l & 0xc0) == 0xc0)
			return st_have(off, 2, len) ? (long)(off + 2) : -1;
		if (l & 0xc0)
			return -1;
		off += 1 + (size_t)l;
		if (l == 0)
			return (long)off;
	}
	return -1;
}

static inline int lab_dns_parse_query(const uint8_t *m, size_t len,
				      struct lab_dns_q *q)
{
	size_t off = 12, n = 0;

	memset(q, 0, sizeof(*q));
	if (!st_have(0, 12, len))
		return -EINVAL;
	q->id = st_get_be16(m);
	q->flags = st_get_be16(m + 2);
	if (st_get_be16(m + 4) < 1)
		return -EINVAL;
	for (;;) {
		uint8_t l;

		if (!st_have(off, 1, len))
			return -EINVAL;
		l = st_get_u8(m + off);
		off++;
		if (l == 0)
			break;
		if (l & 0xc0 || !st_have(off, l, len) ||
		    n + l + 2 > sizeof(q->name))
			return -EINVAL;
		if (n)
			q->name[n++] = '.';
		memcpy(q->name + n, m + off, l);
		n += l;
		off += l;
	}
	q->name[n] = '\0';
	if (!st_have(off, 4, len))
		return -EINVAL;
	q->qtype = st_get_be16(m + off);
	q->qclass = st_get_be16(m + off + 2);
	q->qend = off + 4;
	return 0;
}

/*
 * Answer the query @m (parsed into @q) with @rdata (4 or 16 bytes, or
 * @rdlen 0 for no answer) and @rcode. Return the message length or -1.
 */
static inline long lab_dns_answer(const uint8_t *m, const struct lab_dns_q *q,
				  uint8_t *out, size_t size, int rcode,
				  const void *rdata, size_t rdlen)
{
	size_t n = q->qend;

	if (n + 12 + 16 > size)
		return -1;
	memcpy(out, m, n);
	/* QR, opcode and RD copied, AA, RA. */
	lab_put_be16(out + 2, (uint16_t)(0x8000 | (q->flags & 0x7900) | 0x0400 |
					 0x0080 | (rcode & 0xf)));
	lab_put_be16(out + 4, 1);
	lab_put_be16(out + 6, rdlen ? 1 : 0);
	lab_put_be16(out + 8, 0);
	lab_put_be16(out + 10, 0);
	if (rdlen) {
		lab_put_be16(out + n, 0xc00c); /* the question's name */
		lab_put_be16(out + n + 2, q->qtype);
		lab_put_be16(out + n + 4, LAB_DNS_CLASS_IN);
		lab_put_be16(out + n + 6, 0);
		lab_put_be16(out + n + 8, 30); /* TTL */
		lab_put_be16(out + n + 10, (uint16_t)rdlen);
		memcpy(out + n + 12, rdata, rdlen);
		n += 12 + rdlen;
	}
	return (long)n;
}

static inline long lab_dns_query(uint8_t *out, size_t size, uint16_t id,
				 const char *name, uint16_t qtype)
{
	size_t n = 12;
	const char *p = name;

	if (size < 12 + strlen(name) + 2 + 4)
		return -1;
	memset(out, 0, 12);
	lab_put_be16(out, id);
	lab_put_be16(out + 2, 0x0100); /* RD */
	lab_put_be16(out + 4, 1);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	lab_put_be16(out + n, qtype);
	lab_put_be16(out + n + 2, LAB_DNS_CLASS_IN);
	return (long)(n + 4);
}

/*
 * Walk the answers of a response: call @cb for every A/AAAA record (family,
 * 4 or 16 address bytes). Return the rcode, or -1 when malformed.
 */
static inline int
lab_dns_answers(const uint8_t *m, size_t len,
		void (*cb)(int family, const uint8_t *a, void *arg), void *arg)
{
	uint16_t qd, an, i;
	long off = 12;

	if (!st_have(0, 12, len) || !(st_get_be16(m + 2) & 0x8000))
		return -1;
	qd = st_get_be16(m + 4);
	an = st_get_be16(m + 6);
	for (i = 0; i < qd; i++) {
		off = lab_dns_skip_name(m, len, (size_t)off);
		if (off < 0 || !st_have((size_t)off, 4, len))
			return -1;
		off += 4;
	}
	for (i = 0; i < an; i++) {
		uint16_t type, rdlen;

		off = lab_dns_skip_name(m, len, (size_t)off);
		if (off < 0 || !st_have((size_t)off, 10, len))
			return -1;
		type = st_get_be16(m + off);
		rdlen = st_get_be16(m + off + 8);
		off += 10;
		if (!st_have((size_t)off, rdlen, len))
			return -1;
		if (type == LAB_DNS_TYPE_A && rdlen == 4)
			cb(AF_INET, m + off, arg);
		else if (type == LAB_DNS_TYPE_AAAA && rdlen == 16)
			cb(AF_INET6, m + off, arg);
		off += rdlen;
	}
	return st_get_be16(m + 2) & 0xf;
}

#endif /* ST_LABPROTO_H */
