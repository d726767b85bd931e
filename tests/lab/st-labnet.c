// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * st-labnet - the lab's network tool: servers for the peers (remote pod,
 * istiod, cluster DNS, the app inside the pod) and one-shot clients for the
 * scenarios. Every client operation has a deadline; servers stop cleanly
 * on SIGTERM/SIGINT.
 *
 *   st-labnet serve [--tcp PORT]... [--udp PORT]... [--dns] [--http]
 *                   [--bind ADDR]... [--dns-a IP] [--dns-aaaa IP6]
 *       TCP: every line is echoed back; a connection that starts with
 *       "GET " gets a tiny HTTP/1.0 200 instead. UDP: datagrams echoed.
 *       --dns: the UDP ports (and TCP ports of the same number) answer DNS:
 *       A and AAAA for any name with fixed addresses (default 10.244.2.20,
 *       fd00:244::2:20). Without --bind: 0.0.0.0 and [::] (IPv6 optional).
 *       Prints one JSON line per TCP connection / datagram on stdout:
 *       {"ev":"accept","proto":"tcp","local":"A:P","peer":"A:P"}
 *   st-labnet connect tcp|udp HOST:PORT [--src ADDR] [--timeout S]
 *                   [--payload TEXT] [--expect-echo]
 *       sends one line, waits for its echo; prints
 *       {"src":"A:P","dst":"A:P","ok":true} and exits 0 only on a complete
 *       round trip.
 *   st-labnet http HOST:PORT PATH [--src ADDR] [--timeout S]
 *       GET; the body goes to stdout, a JSON summary to stderr; exit 0 on 200.
 *   st-labnet dns SERVER NAME [--tcp] [--aaaa] [--src ADDR] [--timeout S]
 *       prints the addresses of the answer one per line; exit 0 when a
 *       NOERROR answer with at least one address arrived.
 *
 * Addresses: 1.2.3.4:80, [fd00::1]:80. Default timeout 3 s.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>

#include "labproto.h"

#define MAX_LISTEN 32
#define MAX_CONN 256
#define CBUF 8192
#define IDLE_MS 60000

static volatile sig_atomic_t stop_signal;
static int timeout_ms = 3000;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("st-labnet: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

#define SA(ss) lab_fmt_sa((ss), true, (char[LAB_ADDRSTRLEN]){0}, LAB_ADDRSTRLEN)

static int parse_port(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 65535)
		die("bad port %s", s);
	return (int)v;
}

static void parse_timeout(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || v <= 0 || v > 3600)
		die("bad timeout %s", s);
	timeout_ms = (int)(v * 1000);
}

static int remaining(int64_t deadline)
{
	int64_t r = deadline - lab_now_ms();

	return r < 0 ? 0 : (int)r;
}

/* ---- server ----------------------------------------------------------- */

enum lmode { M_ECHO, M_DNS };

struct lsock {
	int fd;
	int type;
	enum lmode mode;
};

enum cmode { C_LINE, C_HTTP, C_DNS };

struct conn {
	int fd;
	enum cmode mode;
	bool eof;
	bool closing;
	int64_t deadline;
	struct sockaddr_storage local, peer;
	size_t ilen, olen;
	uint8_t in[CBUF];
	uint8_t out[CBUF];
};

static struct lsock lsocks[MAX_LISTEN];
static int n_lsocks;
static struct conn conns[MAX_CONN];
static uint8_t dns_a[4], dns_aaaa[16];

static long dns_reply(const uint8_t *q, size_t len, uint8_t *out, size_t size,
		      struct lab_dns_q *pq)
{
	if (lab_dns_parse_query(q, len, pq) < 0)
		return -1;
	if (pq->qtype == LAB_DNS_TYPE_A)
		return lab_dns_answer(q, pq, out, size, 0, dns_a, 4);
	if (pq->qtype == LAB_DNS_TYPE_AAAA)
		return lab_dns_answer(q, pq, out, size, 0, dns_aaaa, 16);
	return lab_dns_answer(q, pq, out, size, 0, NULL, 0);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
	if (n > CBUF - c->olen)
		n = CBUF - c->olen;
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

/* Offset just past the blank line that ends a request head, or 0. */
static size_t http_head_end(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * An HTTP/1.1 request without "Connection: close" keeps the connection
 * open for the next one, as a real server does for a proxy's pool.
 */
static bool http_keep_alive(const uint8_t *b, size_t hend)
{
	const char *p = (const char *)b, *end = p + hend, *nl;
	bool first = true;

	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p)));
	     p = nl + 1) {
		size_t len = (size_t)(nl - p);

		if (len && p[len - 1] == '\r')
			len--;
		if (first) {
			if (len < 8 || memcmp(p + len - 8, "HTTP/1.1", 8))
				return false;
			first = false;
		} else if (len >= 11 && !strncasecmp(p, "connection:", 11) &&
			   memmem(p + 11, len - 11, "close", 5)) {
			return false;
		}
	}
	return true;
}

static void serve_http(struct conn *c)
{
	char path[256], body[512], hdr[256];
	size_t n = 0, hend = http_head_end(c->in, c->ilen);
	bool keep = hend && http_keep_alive(c->in, hend);
	int bl, hl;

	while (n + 1 < sizeof(path) && 4 + n < c->ilen && c->in[4 + n] != ' ' &&
	       c->in[4 + n] != '\r' && c->in[4 + n] != '\n') {
		char ch = (char)c->in[4 + n];

		path[n++] = ch == '"' || ch == '\\' ? '_' : ch;
	}
	path[n] = '\0';
	bl = snprintf(body, sizeof(body),
		      "{\"server\":\"st-labnet\",\"local\":\"%s\","
		      "\"peer\":\"%s\",\"path\":\"%s\"}\n",
		      SA(&c->local), SA(&c->peer), path);
	if (keep)
		hl = snprintf(hdr, sizeof(hdr),
			      "HTTP/1.1 200 OK\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %d\r\n\r\n",
			      bl);
	else
		hl = snprintf(hdr, sizeof(hdr),
			      "HTTP/1.0 200 OK\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %d\r\nConnection: close\r\n\r\n",
			      bl);
	out_append(c, hdr, (size_t)hl);
	out_append(c, body, (size_t)bl);
	if (keep) {
		memmove(c->in, c->in + hend, c->ilen - hend);
		c->ilen -= hend;
		return;
	}
	c->ilen = 0;
	c->closing = true;
}

/* Consume what arrived: echo whole lines, or answer HTTP / DNS. */
static void conn_process(struct conn *c)
{
	uint8_t ans[LAB_DNS_MAX];
	struct lab_dns_q pq;

	if (c->mode == C_DNS) {
		while (st_have(0, 2, c->ilen)) {
			size_t mlen = st_get_be16(c->in);
			long r;

			if (!st_have(2, mlen, c->ilen))
				break;
			r = dns_reply(c->in + 2, mlen, ans, sizeof(ans), &pq);
			if (r < 0 || (size_t)r + 2 > CBUF - c->olen) {
				c->closing = true;
				c->ilen = 0;
				return;
			}
			lab_put_be16(c->out + c->olen, (uint16_t)r);
			memcpy(c->out + c->olen + 2, ans, (size_t)r);
			c->olen += (size_t)r + 2;
			memmove(c->in, c->in + 2 + mlen, c->ilen - 2 - mlen);
			c->ilen -= 2 + mlen;
		}
		return;
	}
	if (c->mode == C_LINE && c->ilen >= 4 && !memcmp(c->in, "GET ", 4))
		c->mode = C_HTTP;
	if (c->mode == C_HTTP) {
		/* Pipelined requests of a kept-alive connection, in turn. */
		while (!c->closing && c->ilen && c->olen < CBUF / 2) {
			c->in[c->ilen < CBUF ? c->ilen : CBUF - 1] = '\0';
			if (!strstr((char *)c->in, "\r\n\r\n") &&
			    !strstr((char *)c->in, "\n\n") && !c->eof &&
			    c->ilen < CBUF - 1)
				break;
			serve_http(c);
		}
		return;
	}
	for (;;) {
		uint8_t *nl = memchr(c->in, '\n', c->ilen);
		size_t n;

		if (!nl && c->ilen < 4 && !c->eof &&
		    !memcmp(c->in, "GET ", c->ilen))
			return; /* might still become an HTTP request */
		if (!nl && !c->eof && c->ilen < CBUF)
			return;
		n = nl ? (size_t)(nl - c->in) + 1 : c->ilen;
		if (!n || n > CBUF - c->olen)
			return;
		out_append(c, c->in, n);
		memmove(c->in, c->in + n, c->ilen - n);
		c->ilen -= n;
	}
}

static void conn_io(struct conn *c, short revents)
{
	ssize_t n;

	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !c->eof &&
	    c->ilen < CBUF - 1) {
		n = recv(c->fd, c->in + c->ilen, CBUF - 1 - c->ilen, 0);
		if (n > 0) {
			c->ilen += (size_t)n;
		} else if (n == 0) {
			c->eof = true;
		} else if (errno != EAGAIN && errno != EINTR) {
			conn_close(c);
			return;
		}
		conn_process(c);
	}
	if (c->olen) {
		n = send(c->fd, c->out, c->olen, MSG_NOSIGNAL);
		if (n > 0) {
			memmove(c->out, c->out + n, c->olen - (size_t)n);
			c->olen -= (size_t)n;
			conn_process(c);
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(c);
			return;
		}
	}
	if (!c->olen && (c->closing || (c->eof && !c->ilen))) {
		shutdown(c->fd, SHUT_WR);
		conn_close(c);
		return;
	}
	c->deadline = lab_now_ms() + IDLE_MS;
}

static void serve_accept(struct lsock *l)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct conn *c = NULL;
	int fd, i;

	fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CONN; i++) {
		if (conns[i].fd < 0) {
			c = &conns[i];
			break;
		}
	}
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->mode = l->mode == M_DNS ? C_DNS : C_LINE;
	c->eof = c->closing = false;
	c->ilen = c->olen = 0;
	c->peer = peer;
	len = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &len);
	c->deadline = lab_now_ms() + IDLE_MS;
	printf("{\"ev\":\"accept\",\"proto\":\"tcp\",\"local\":\"%s\","
	       "\"peer\":\"%s\"}\n",
	       SA(&c->local), SA(&peer));
	fflush(stdout);
}

static void serve_dgram(struct lsock *l)
{
	uint8_t buf[LAB_DNS_MAX + 512], ans[LAB_DNS_MAX];
	struct lab_dgram d;
	struct lab_dns_q pq;
	ssize_t n;
	long r;

	n = lab_recv_dgram(l->fd, buf, sizeof(buf), &d);
	if (n < 0)
		return;
	if (l->mode == M_DNS) {
		r = dns_reply(buf, (size_t)n, ans, sizeof(ans), &pq);
		printf("{\"ev\":\"dns\",\"proto\":\"udp\",\"local\":\"%s\","
		       "\"peer\":\"%s\",\"qtype\":%d,\"ok\":%s}\n",
		       lab_fmt_sa(&d.local, false, (char[LAB_ADDRSTRLEN]){0},
				  LAB_ADDRSTRLEN),
		       SA(&d.peer), pq.qtype, r > 0 ? "true" : "false");
		fflush(stdout);
		if (r > 0)
			lab_send_dgram(l->fd, ans, (size_t)r, &d);
		return;
	}
	printf("{\"ev\":\"datagram\",\"proto\":\"udp\",\"local\":\"%s\","
	       "\"peer\":\"%s\",\"bytes\":%zd}\n",
	       lab_fmt_sa(&d.local, false, (char[LAB_ADDRSTRLEN]){0},
			  LAB_ADDRSTRLEN),
	       SA(&d.peer), n);
	fflush(stdout);
	lab_send_dgram(l->fd, buf, (size_t)n, &d);
}

static void add_lsock(int type, const char *addr, int port, enum lmode mode,
		      bool optional)
{
	struct sockaddr_storage ss;
	char err[256];
	int fd;

	if (n_lsocks >= MAX_LISTEN)
		die("too many listeners");
	if (lab_parse_addr(addr, 0, &ss) < 0)
		die("bad address %s", addr);
	lab_sa_set_port(&ss, port);
	fd = lab_listen(type, &ss, false, err, sizeof(err));
	if (fd < 0) {
		if (optional)
			return;
		die("%s", err);
	}
	lsocks[n_lsocks++] = (struct lsock){fd, type, mode};
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tcp", required_argument, NULL, 't'},
		{"udp", required_argument, NULL, 'u'},
		{"dns", no_argument, NULL, 'd'},
		{"http", no_argument, NULL, 'H'},
		{"bind", required_argument, NULL, 'b'},
		{"dns-a", required_argument, NULL, 'a'},
		{"dns-aaaa", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	static struct pollfd pfd[MAX_LISTEN + MAX_CONN];
	static int pidx[MAX_LISTEN + MAX_CONN];
	int tcp[16], udp[16], n_tcp = 0, n_udp = 0, n_bind = 0;
	const char *binds[4];
	sigset_t block, waitmask;
	bool dns = false;
	int c, i, j, k;

	inet_pton(AF_INET, "10.244.2.20", dns_a);
	inet_pton(AF_INET6, "fd00:244::2:20", dns_aaaa);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (n_tcp >= 16)
				die("too many --tcp");
			tcp[n_tcp++] = parse_port(optarg);
			break;
		case 'u':
			if (n_udp >= 16)
				die("too many --udp");
			udp[n_udp++] = parse_port(optarg);
			break;
		case 'd':
			dns = true;
			break;
		case 'H':
			break; /* HTTP is always answered */
		case 'b':
			if (n_bind >= 4)
				die("too many --bind");
			binds[n_bind++] = optarg;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, dns_a) != 1)
				die("bad --dns-a %s", optarg);
			break;
		case 'A':
			if (inet_pton(AF_INET6, optarg, dns_aaaa) != 1)
				die("bad --dns-aaaa %s", optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind != argc || (!n_tcp && !n_udp))
		die("serve needs --tcp or --udp ports");
	for (i = 0; i < n_tcp; i++) {
		enum lmode m = M_ECHO;

		for (j = 0; dns && j < n_udp; j++)
			if (udp[j] == tcp[i])
				m = M_DNS;
		for (k = 0; k < n_bind; k++)
			add_lsock(SOCK_STREAM, binds[k], tcp[i], m, false);
		if (!n_bind) {
			add_lsock(SOCK_STREAM, "0.0.0.0", tcp[i], m, false);
			add_lsock(SOCK_STREAM, "::", tcp[i], m, true);
		}
	}
	for (i = 0; i < n_udp; i++) {
		enum lmode m = dns ? M_DNS : M_ECHO;

		for (k = 0; k < n_bind; k++)
			add_lsock(SOCK_DGRAM, binds[k], udp[i], m, false);
		if (!n_bind) {
			add_lsock(SOCK_DGRAM, "0.0.0.0", udp[i], m, false);
			add_lsock(SOCK_DGRAM, "::", udp[i], m, true);
		}
	}
	for (i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	/* SIGTERM/SIGINT only arrive inside ppoll(): no lost wake-up. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	while (!stop_signal) {
		struct timespec ts = {1, 0};
		int64_t now = lab_now_ms();
		int n = 0, r;

		for (i = 0; i < n_lsocks; i++) {
			pfd[n] = (struct pollfd){lsocks[i].fd, POLLIN, 0};
			pidx[n++] = -1 - i;
		}
		for (i = 0; i < MAX_CONN; i++) {
			struct conn *cn = &conns[i];
			short ev = 0;

			if (cn->fd < 0)
				continue;
			if (now >= cn->deadline) {
				conn_close(cn);
				continue;
			}
			if (!cn->eof && !cn->closing)
				ev |= POLLIN;
			if (cn->olen)
				ev |= POLLOUT;
			pfd[n] = (struct pollfd){cn->fd, ev, 0};
			pidx[n++] = i;
		}
		r = ppoll(pfd, (nfds_t)n, &ts, &waitmask);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; r > 0 && i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (pidx[i] < 0) {
				struct lsock *l = &lsocks[-1 - pidx[i]];

				if (l->type == SOCK_STREAM)
					serve_accept(l);
				else
					serve_dgram(l);
			} else if (conns[pidx[i]].fd == pfd[i].fd) {
				conn_io(&conns[pidx[i]], pfd[i].revents);
			}
		}
	}
	for (i = 0; i < MAX_CONN; i++)
		conn_close(&conns[i]);
	for (i = 0; i < n_lsocks; i++)
		close(lsocks[i].fd);
	return 0;
}

/* ---- clients ---------------------------------------------------------- */

struct client_opts {
	struct sockaddr_storage src;
	bool have_src;
	const char *payload;
	bool tcp;
	bool aaaa;
};

static int client_args(int argc, char **argv, struct client_opts *o)
{
	static const struct option opts[] = {
		{"src", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 'T'},
		{"payload", required_argument, NULL, 'p'},
		{"expect-echo", no_argument, NULL, 'e'},
		{"tcp", no_argument, NULL, 't'},
		{"aaaa", no_argument, NULL, '6'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->payload = "st-labnet ping";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (lab_parse_addr(optarg, 0, &o->src) < 0)
				die("bad --src %s", optarg);
			o->have_src = true;
			break;
		case 'T':
			parse_timeout(optarg);
			break;
		case 'p':
			if (strchr(optarg, '\n'))
				die("--payload must be one line");
			o->payload = optarg;
			break;
		case 'e':
			break; /* the echo is always checked */
		case 't':
			o->tcp = true;
			break;
		case '6':
			o->aaaa = true;
			break;
		default:
			exit(2);
		}
	}
	return optind;
}

/*
 * A socket of @type connected to @dst from @o->src, within the deadline.
 * Return the fd, or -1 with a message in @err.
 */
static int client_socket(int type, const struct sockaddr_storage *dst,
			 const struct client_opts *o, int64_t deadline,
			 struct sockaddr_storage *local, char *err,
			 size_t errsz)
{
	socklen_t len = sizeof(*local);
	struct pollfd p;
	int one = 1, fd, e;

	memset(local, 0, sizeof(*local));
	local->ss_family = dst->ss_family;
	fd = socket(dst->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (o->have_src) {
		if (o->src.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one,
				   sizeof(one));
		else
			setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one,
				   sizeof(one));
		if (bind(fd, (const struct sockaddr *)&o->src,
			 lab_sa_len(&o->src)) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)dst, lab_sa_len(dst)) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		p = (struct pollfd){fd, POLLOUT, 0};
		if (poll(&p, 1, remaining(deadline)) <= 0) {
			getsockname(fd, (struct sockaddr *)local, &len);
			errno = ETIMEDOUT;
			goto fail;
		}
		len = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			goto fail;
		if (e) {
			errno = e;
			goto fail;
		}
	}
	len = sizeof(*local);
	getsockname(fd, (struct sockaddr *)local, &len);
	return fd;
fail:
	snprintf(err, errsz, "%s", strerror(errno));
	if (fd >= 0) {
		len = sizeof(*local);
		getsockname(fd, (struct sockaddr *)local, &len);
		close(fd);
	}
	return -1;
}

static int send_all(int fd, const void *p, size_t n, int64_t deadline)
{
	const uint8_t *b = p;

	while (n) {
		struct pollfd pf = {fd, POLLOUT, 0};
		ssize_t r;

		if (poll(&pf, 1, remaining(deadline)) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = send(fd, b, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r < 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read until @stop says enough, EOF, the buffer is full or the deadline. */
static ssize_t recv_until(int fd, uint8_t *buf, size_t size, int64_t deadline,
			  bool (*stop)(const uint8_t *, size_t))
{
	size_t len = 0;

	while (len < size) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		if (stop && stop(buf, len))
			break;
		if (poll(&pf, 1, remaining(deadline)) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = recv(fd, buf + len, size - len, 0);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	return (ssize_t)len;
}

static bool have_line(const uint8_t *b, size_t n)
{
	return memchr(b, '\n', n) != NULL;
}

static bool have_dns_tcp(const uint8_t *b, size_t n)
{
	return st_have(0, 2, n) && st_have(2, st_get_be16(b), n);
}

static void print_result(const struct sockaddr_storage *src,
			 const struct sockaddr_storage *dst, bool ok,
			 const char *err)
{
	if (ok)
		printf("{\"src\":\"%s\",\"dst\":\"%s\",\"ok\":true}\n", SA(src),
		       SA(dst));
	else
		printf("{\"src\":\"%s\",\"dst\":\"%s\",\"ok\":false,"
		       "\"error\":\"%s\"}\n",
		       SA(src), SA(dst), err);
	fflush(stdout);
}

static int cmd_connect(int argc, char **argv)
{
	struct sockaddr_storage dst, local;
	struct client_opts o;
	uint8_t buf[CBUF];
	char err[128] = "";
	char line[CBUF];
	int64_t deadline;
	bool udp;
	ssize_t n;
	int i, fd;

	i = client_args(argc, argv, &o);
	if (argc - i != 2)
		die("usage: connect tcp|udp HOST:PORT [--src ADDR] "
		    "[--timeout S] [--payload TEXT]");
	if (strcmp(argv[i], "tcp") && strcmp(argv[i], "udp"))
		die("connect: tcp or udp, not %s", argv[i]);
	udp = argv[i][0] == 'u';
	if (lab_parse_addr(argv[i + 1], -1, &dst) < 0)
		die("bad address %s", argv[i + 1]);
	deadline = lab_now_ms() + timeout_ms;
	fd = client_socket(udp ? SOCK_DGRAM : SOCK_STREAM, &dst, &o, deadline,
			   &local, err, sizeof(err));
	if (fd < 0) {
		print_result(&local, &dst, false, err);
		return 1;
	}
	snprintf(line, sizeof(line), "%s\n", o.payload);
	if (udp) {
		struct pollfd pf = {fd, POLLIN, 0};

		n = -1;
		if (send(fd, line, strlen(line), 0) >= 0) {
			if (poll(&pf, 1, remaining(deadline)) > 0)
				n = recv(fd, buf, sizeof(buf), 0);
			else
				errno = ETIMEDOUT;
		}
	} else if (send_all(fd, line, strlen(line), deadline) < 0) {
		n = -1;
	} else {
		n = recv_until(fd, buf, sizeof(buf), deadline, have_line);
	}
	close(fd);
	if (n < 0) {
		print_result(&local, &dst, false, strerror(errno));
		return 1;
	}
	if ((size_t)n < strlen(line) || memcmp(buf, line, strlen(line))) {
		print_result(&local, &dst, false,
			     n ? "echo mismatch" : "closed without echo");
		return 1;
	}
	print_result(&local, &dst, true, NULL);
	return 0;
}

static int cmd_http(int argc, char **argv)
{
	static uint8_t buf[65536];
	struct sockaddr_storage dst, local;
	struct client_opts o;
	char req[512], err[128] = "";
	int64_t deadline;
	int i, fd, status = 0;
	ssize_t n;
	size_t body = 0;

	i = client_args(argc, argv, &o);
	if (argc - i != 2 || argv[i + 1][0] != '/')
		die("usage: http HOST:PORT /PATH [--src ADDR] [--timeout S]");
	if (lab_parse_addr(argv[i], 80, &dst) < 0)
		die("bad address %s", argv[i]);
	deadline = lab_now_ms() + timeout_ms;
	fd = client_socket(SOCK_STREAM, &dst, &o, deadline, &local, err,
			   sizeof(err));
	if (fd < 0) {
		fprintf(stderr,
			"{\"src\":\"%s\",\"dst\":\"%s\",\"ok\":false,"
			"\"error\":\"%s\"}\n",
			SA(&local), SA(&dst), err);
		return 1;
	}
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: st-labnet\r\n"
		 "Accept: */*\r\n\r\n",
		 argv[i + 1], argv[i]);
	n = -1;
	if (send_all(fd, req, strlen(req), deadline) == 0)
		n = recv_until(fd, buf, sizeof(buf) - 1, deadline, NULL);
	if (n < 0)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	close(fd);
	if (n > 12 && !memcmp(buf, "HTTP/1.", 7) && buf[8] == ' ') {
		buf[n] = '\0';
		status = atoi((char *)buf + 9);
		for (body = 0; body + 3 < (size_t)n; body++)
			if (!memcmp(buf + body, "\r\n\r\n", 4))
				break;
		body = body + 3 < (size_t)n ? body + 4 : (size_t)n;
		fwrite(buf + body, 1, (size_t)n - body, stdout);
		fflush(stdout);
	} else if (n >= 0) {
		snprintf(err, sizeof(err), "no HTTP response");
	}
	fprintf(stderr,
		"{\"src\":\"%s\",\"dst\":\"%s\",\"status\":%d,\"ok\":%s%s%s%s}\n",
		SA(&local), SA(&dst), status, status == 200 ? "true" : "false",
		*err ? ",\"error\":\"" : "", err, *err ? "\"" : "");
	return status == 200 ? 0 : 1;
}

static void print_addr(int family, const uint8_t *a, void *arg)
{
	char s[INET6_ADDRSTRLEN];
	int *count = arg;

	if (inet_ntop(family, a, s, sizeof(s))) {
		printf("%s\n", s);
		(*count)++;
	}
}

static int cmd_dns(int argc, char **argv)
{
	uint8_t q[512], a[LAB_DNS_MAX + 2];
	struct sockaddr_storage dst, local;
	struct client_opts o;
	char err[128] = "";
	int64_t deadline;
	int i, fd, rcode = -1, count = 0;
	ssize_t n = -1;
	long qlen;
	uint16_t id;
	const uint8_t *m = a;

	i = client_args(argc, argv, &o);
	if (argc - i != 2)
		die("usage: dns SERVER[:PORT] NAME [--tcp] [--aaaa] "
		    "[--timeout S]");
	if (lab_parse_addr(argv[i], 53, &dst) < 0)
		die("bad server %s", argv[i]);
	id = (uint16_t)(getpid() ^ lab_now_ms());
	qlen = lab_dns_query(q, sizeof(q), id, argv[i + 1],
			     o.aaaa ? LAB_DNS_TYPE_AAAA : LAB_DNS_TYPE_A);
	if (qlen < 0)
		die("bad name %s", argv[i + 1]);
	deadline = lab_now_ms() + timeout_ms;
	fd = client_socket(o.tcp ? SOCK_STREAM : SOCK_DGRAM, &dst, &o, deadline,
			   &local, err, sizeof(err));
	if (fd < 0)
		goto out;
	if (o.tcp) {
		uint8_t tq[sizeof(q) + 2];

		lab_put_be16(tq, (uint16_t)qlen);
		memcpy(tq + 2, q, (size_t)qlen);
		if (send_all(fd, tq, (size_t)qlen + 2, deadline) == 0)
			n = recv_until(fd, a, sizeof(a), deadline,
				       have_dns_tcp);
		if (n >= 2 && have_dns_tcp(a, (size_t)n)) {
			m = a + 2;
			n = st_get_be16(a);
		} else if (n >= 0) {
			errno = EPROTO;
			n = -1;
		}
	} else {
		if (send(fd, q, (size_t)qlen, 0) >= 0) {
			/* Datagrams with another id are not our answer. */
			for (;;) {
				struct pollfd pf = {fd, POLLIN, 0};

				if (poll(&pf, 1, remaining(deadline)) <= 0) {
					errno = ETIMEDOUT;
					n = -1;
					break;
				}
				n = recv(fd, a, sizeof(a), 0);
				if (n < 0 && errno == EAGAIN)
					continue;
				if (n < 0 || (n >= 2 && st_get_be16(a) == id))
					break;
			}
		}
	}
	if (n < 0)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	close(fd);
	if (n >= 2 && st_get_be16(m) != id) {
		snprintf(err, sizeof(err), "answer id mismatch");
		n = -1;
	}
	if (n >= 0) {
		rcode = lab_dns_answers(m, (size_t)n, print_addr, &count);
		fflush(stdout);
		if (rcode < 0)
			snprintf(err, sizeof(err), "malformed answer");
	}
out:
	fprintf(stderr,
		"{\"src\":\"%s\",\"dst\":\"%s\",\"rcode\":%d,\"answers\":%d,"
		"\"ok\":%s%s%s%s}\n",
		SA(&local), SA(&dst), rcode, count,
		rcode == 0 && count ? "true" : "false",
		*err ? ",\"error\":\"" : "", err, *err ? "\"" : "");
	return rcode == 0 && count ? 0 : 1;
}

static void usage(FILE *f)
{
	fputs("usage: st-labnet serve [--tcp PORT]... [--udp PORT]... [--dns] "
	      "[--bind ADDR]...\n"
	      "       st-labnet connect tcp|udp HOST:PORT [--src ADDR] "
	      "[--timeout S] [--payload TEXT]\n"
	      "       st-labnet http HOST:PORT /PATH [--src ADDR] [--timeout S]\n"
	      "       st-labnet dns SERVER[:PORT] NAME [--tcp] [--aaaa] "
	      "[--timeout S]\n",
	      f);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal(SIGPIPE, SIG_IGN);
	/* Subcommand options are parsed as if the subcommand were argv[0]. */
	argc--;
	argv++;
	if (!strcmp(cmd, "serve")) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		return cmd_serve(argc, argv);
	}
	if (!strcmp(cmd, "connect"))
		return cmd_connect(argc, argv);
	if (!strcmp(cmd, "http"))
		return cmd_http(argc, argv);
	if (!strcmp(cmd, "dns"))
		return cmd_dns(argc, argv);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
