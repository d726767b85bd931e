// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * st-flood - the lab's load generator: opens new TCP connections to one
 * lab address at a target rate (or as fast as it can), each a complete
 * round trip (connect, one line out, its echo back, close), bounded in
 * count and time, and reports what happened as one JSON object.
 *
 *   st-flood HOST:PORT [--rate N] [--count N] [--duration S]
 *            [--concurrency N] [--timeout S] [--src ADDR]
 *
 *   --rate N         new connections per second; 0 (default): as fast as
 *                    --concurrency allows
 *   --count N        stop starting connections after N (default 1000,
 *                    at most 100000)
 *   --duration S     stop starting connections after S seconds (default
 *                    10, at most 120)
 *   --concurrency N  connections open at once (default 32, at most 200:
 *                    the lab's servers take 256)
 *   --timeout S      a connection that has not completed after S seconds
 *                    fails (default 3)
 *
 * Only lab addresses are accepted (10.244.0.0/16, 10.96.0.0/12,
 * 127.0.0.0/8, fd00:244::/64, fd00:96::/64, ::1): it never loads anything
 * else.  Output (stdout, one line):
 *   {"started":N,"completed":N,"failed":N,"elapsed_s":X,"rate":X,
 *    "failures":{"connect":N,"timeout":N,"echo":N},"first_error":"..."}
 * rate = completed / elapsed_s.  Exit 0 when every started connection
 * completed, 1 when any failed, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FL_MAX_COUNT 100000
#define FL_MAX_DURATION_S 120.0
#define FL_MAX_CONC 200
#define FL_LINE 64

enum fl_state { FL_FREE = 0, FL_CONNECTING, FL_WAITING };

struct fl_conn {
	int fd;
	enum fl_state state;
	double started;
	char want[FL_LINE];
	size_t wantlen;
	char got[FL_LINE];
	size_t gotlen;
};

struct fl_opts {
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sockaddr_storage src;
	socklen_t srclen;
	double rate;
	unsigned long count;
	double duration;
	unsigned int conc;
	double timeout;
};

struct fl_stats {
	unsigned long started, completed, failed;
	unsigned long f_connect, f_timeout, f_echo;
	char first_error[160];
};

static volatile sig_atomic_t fl_stop;

static void fl_on_signal(int sig)
{
	(void)sig;
	fl_stop = 1;
}

static double fl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: st-flood HOST:PORT [--rate N] [--count N] "
			"[--duration S] [--concurrency N] [--timeout S] "
			"[--src ADDR]\n");
	exit(2);
}

/* Only addresses of the lab (see README.md): never load anything else. */
static bool fl_lab_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		uint32_t a = ntohl(s->sin_addr.s_addr);

		return (a & 0xffff0000u) == 0x0af40000u || /* 10.244/16 */
		       (a & 0xfff00000u) == 0x0a600000u || /* 10.96/12 */
		       (a & 0xff000000u) == 0x7f000000u;   /* 127/8 */
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		static const uint8_t p244[8] = {0xfd, 0, 0x02, 0x44,
						0,    0, 0,    0};
		static const uint8_t p96[8] = {0xfd, 0, 0, 0x96, 0, 0, 0, 0};

		return memcmp(s->sin6_addr.s6_addr, p244, 8) == 0 ||
		       memcmp(s->sin6_addr.s6_addr, p96, 8) == 0 ||
		       IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
	}
	return false;
}

/* "1.2.3.4:80", "[fd00::1]:80"; port 0 for a bare address (--src). */
static int fl_parse_addr(const char *s, bool need_port,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	unsigned long p = 0;
	char *end = NULL;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *c = strchr(s, ']');

		if (c == NULL || (size_t)(c - s - 1) >= sizeof(host))
			return -1;
		n = (size_t)(c - s - 1);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (c[1] == ':')
			port = c + 2;
		else if (c[1] != '\0')
			return -1;
	} else {
		const char *c = strrchr(s, ':');

		n = c ? (size_t)(c - s) : strlen(s);
		if (n >= sizeof(host))
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
		if (c != NULL)
			port = c + 1;
	}
	if (need_port != (port != NULL))
		return -1;
	if (port != NULL) {
		errno = 0;
		p = strtoul(port, &end, 10);
		if (errno || end == port || *end || p == 0 || p > 65535)
			return -1;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) ==
	    1) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		*len = sizeof(*a);
		return 0;
	}
	if (inet_pton(AF_INET6, host,
		      &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a);
		return 0;
	}
	return -1;
}

static double fl_parse_num(const char *s, double lo, double hi)
{
	char *end = NULL;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || !(d >= lo && d <= hi))
		usage();
	return d;
}

static void fl_fail(struct fl_stats *st, unsigned long *kind, const char *what,
		    int e)
{
	st->failed++;
	(*kind)++;
	if (st->first_error[0] == '\0')
		snprintf(st->first_error, sizeof(st->first_error), "%s: %s",
			 what, e ? strerror(e) : "mismatch");
}

static void fl_close(int ep, struct fl_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = FL_FREE;
}

static int fl_start(int ep, const struct fl_opts *o, struct fl_conn *c,
		    unsigned long seq, struct fl_stats *st)
{
	struct epoll_event ev;
	int fd;

	fd = socket(o->dst.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fl_fail(st, &st->f_connect, "socket", errno);
		return -1;
	}
	if (o->srclen > 0 &&
	    bind(fd, (const struct sockaddr *)&o->src, o->srclen) < 0) {
		fl_fail(st, &st->f_connect, "bind", errno);
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->started = fl_now();
	c->gotlen = 0;
	c->wantlen = (size_t)snprintf(c->want, sizeof(c->want),
				      "st-flood %lu\n", seq);
	if (connect(fd, (const struct sockaddr *)&o->dst, o->dstlen) < 0 &&
	    errno != EINPROGRESS) {
		fl_fail(st, &st->f_connect, "connect", errno);
		close(fd);
		c->fd = -1;
		return -1;
	}
	c->state = FL_CONNECTING;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fl_fail(st, &st->f_connect, "epoll_ctl", errno);
		close(fd);
		c->fd = -1;
		c->state = FL_FREE;
		return -1;
	}
	return 0;
}

/* Progress on one connection; it is closed when done or failed. */
static void fl_event(int ep, struct fl_conn *c, uint32_t events,
		     struct fl_stats *st)
{
	struct epoll_event ev;
	socklen_t len = sizeof(int);
	int e = 0;
	ssize_t n;

	if (c->state == FL_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (e != 0) {
			fl_fail(st, &st->f_connect, "connect", e);
			fl_close(ep, c);
			return;
		}
		n = send(c->fd, c->want, c->wantlen, MSG_NOSIGNAL);
		if (n != (ssize_t)c->wantlen) {
			fl_fail(st, &st->f_echo, "send", n < 0 ? errno : EIO);
			fl_close(ep, c);
			return;
		}
		c->state = FL_WAITING;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (c->state != FL_WAITING)
		return;
	n = recv(c->fd, c->got + c->gotlen, sizeof(c->got) - c->gotlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fl_fail(st, &st->f_echo,
			n == 0 ? "closed before the echo" : "recv",
			n == 0 ? EPIPE : errno);
		fl_close(ep, c);
		return;
	}
	c->gotlen += (size_t)n;
	if (c->gotlen < c->wantlen)
		return;
	if (c->gotlen == c->wantlen && memcmp(c->got, c->want, c->wantlen) == 0)
		st->completed++;
	else
		fl_fail(st, &st->f_echo, "echo", 0);
	fl_close(ep, c);
}

static void fl_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'c'},
		{"duration", required_argument, NULL, 'd'},
		{"concurrency", required_argument, NULL, 'C'},
		{"timeout", required_argument, NULL, 't'},
		{"src", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct fl_opts o = {.rate = 0,
			    .count = 1000,
			    .duration = 10,
			    .conc = 32,
			    .timeout = 3};
	struct fl_conn conns[FL_MAX_CONC];
	struct epoll_event evs[FL_MAX_CONC];
	struct fl_stats st;
	struct sigaction sa;
	double t0, now, elapsed;
	unsigned int open_ = 0;
	int ep, c;

	memset(&st, 0, sizeof(st));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.rate = fl_parse_num(optarg, 0, 1e6);
			break;
		case 'c':
			o.count = (unsigned long)fl_parse_num(optarg, 1,
							      FL_MAX_COUNT);
			break;
		case 'd':
			o.duration =
				fl_parse_num(optarg, 0.001, FL_MAX_DURATION_S);
			break;
		case 'C':
			o.conc = (unsigned int)fl_parse_num(optarg, 1,
							    FL_MAX_CONC);
			break;
		case 't':
			o.timeout = fl_parse_num(optarg, 0.001, 60);
			break;
		case 's':
			if (fl_parse_addr(optarg, false, &o.src, &o.srclen) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 ||
	    fl_parse_addr(argv[optind], true, &o.dst, &o.dstlen) < 0)
		usage();
	if (!fl_lab_addr(&o.dst)) {
		fprintf(stderr, "st-flood: %s is not a lab address\n",
			argv[optind]);
		return 2;
	}
	if (o.srclen > 0 && o.src.ss_family != o.dst.ss_family)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fl_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("st-flood: epoll_create1");
		return 1;
	}
	for (unsigned int i = 0; i < FL_MAX_CONC; i++) {
		conns[i].fd = -1;
		conns[i].state = FL_FREE;
	}
	t0 = fl_now();
	for (;;) {
		bool starting;
		int n, wait_ms = 100;

		now = fl_now();
		starting = !fl_stop && st.started < o.count &&
			   now - t0 < o.duration;
		/* Start what the rate allows now, up to the concurrency. */
		for (unsigned int i = 0; starting && i < o.conc; i++) {
			if (conns[i].state != FL_FREE)
				continue;
			if (o.rate > 0 &&
			    (double)st.started >= o.rate * (now - t0)) {
				wait_ms = 1;
				break;
			}
			st.started++;
			if (fl_start(ep, &o, &conns[i], st.started, &st) < 0)
				conns[i].state = FL_FREE;
			if (st.started >= o.count)
				break;
		}
		open_ = 0;
		for (unsigned int i = 0; i < o.conc; i++) {
			if (conns[i].state == FL_FREE)
				continue;
			if (now - conns[i].started > o.timeout) {
				fl_fail(&st, &st.f_timeout, "timeout",
					ETIMEDOUT);
				fl_close(ep, &conns[i]);
				continue;
			}
			open_++;
		}
		if (open_ == 0 && !starting)
			break;
		if (open_ == o.conc || o.rate == 0)
			wait_ms = open_ ? 100 : 0;
		n = epoll_wait(ep, evs, FL_MAX_CONC, wait_ms);
		if (n < 0 && errno != EINTR) {
			perror("st-flood: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++)
			fl_event(ep, evs[i].data.ptr, evs[i].events, &st);
	}
	elapsed = fl_now() - t0;
	printf("{\"started\":%lu,\"completed\":%lu,\"failed\":%lu,"
	       "\"elapsed_s\":%.3f,\"rate\":%.1f,\"failures\":{\"connect\":%lu,"
	       "\"timeout\":%lu,\"echo\":%lu},\"first_error\":",
	       st.started, st.completed, st.failed, elapsed,
	       elapsed > 0 ? (double)st.completed / elapsed : 0.0, st.f_connect,
	       st.f_timeout, st.f_echo);
	fl_json_str(st.first_error);
	printf("}\n");
	fflush(stdout);
	close(ep);
	return st.failed == 0 && st.completed == st.started ? 0 : 1;
}
