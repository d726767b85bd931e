// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * st-sidecar - the lab's stand-in for an istio-proxy container (Envoy and
 * pilot-agent), doing exactly what netfilter can see of them: the capture
 * listeners (15001 outbound, 15006 inbound, REDIRECT or TPROXY), the upstream
 * connections made as the proxy's uid/gid (outbound to the original or
 * VIP-mapped destination, inbound from 127.0.0.6 / ::6), admin on
 * 127.0.0.1:15000, Envoy stats on 15090, pilot-agent's merged metrics on
 * 15020 (fetched from 127.0.0.1:15000 per scrape, as pilot-agent does),
 * readiness on 15021, the DNS proxy on 15053 and the XDS connection to
 * istiod.
 *
 * Two more modes, for rule sets that are not today's sidecar:
 *   --single-capture  Istio <= 1.2: one capture listener (--outbound-port)
 *       for both directions, as Envoy 1.1 had; an original destination
 *       that is the pod's own address is inbound and goes to 127.0.0.1:PORT
 *       (::1) as the proxy (no 127.0.0.6 yet), anything else is outbound.
 *   --ambient  a ztunnel stand-in for ambient in-pod rules: every socket
 *       carries SO_MARK --mark (0x539), which is what those rules exempt;
 *       listeners 15001 (outbound), 15006 (inbound plaintext), 15008
 *       (HBONE: plain TCP here, relayed to the pod's --hbone-target port)
 *       and the DNS proxy; inbound and HBONE connections to the app keep
 *       the client's address as their source (IP_TRANSPARENT), as ztunnel
 *       does. No Envoy admin, stats, agent or health listeners.
 *
 * HTTP ports (--http-ports, the ports Istio treats as HTTP by port name,
 * appProtocol or sniffing; every other port stays 1:1 TCP): the capture
 * listeners frame HTTP/1.x requests and responses (Content-Length bodies)
 * and send the requests over upstream connection pools, as Envoy's
 * connection manager does: per cluster and endpoint, idle connections are
 * kept (--pool-idle-ms, default 60000) and reused for the next request,
 * optionally at most --pool-max-requests per connection (0: no limit).
 * --h2 puts concurrent requests to one endpoint on one connection (HTTP/1.1
 * pipelining: what netfilter sees of HTTP/2 multiplexing). Inbound requests
 * reach the app from 127.0.0.6 / ::6; with --tproxy --original-src from
 * the client's address (IP_TRANSPARENT, SO_MARK --tproxy-mark), one pool
 * per client address. HTTP/1.0 clients are served (Istio's PILOT_HTTP10).
 *
 * --access-log FILE: Envoy's access log, one line per HTTP request when it
 * ends and per captured TCP connection when it closes (or fails), flushed
 * at once, in Istio's default TEXT format (EnvoyTextLogFormat, Istio >=
 * 1.9), or with --access-log-json its JSON encoding (EnvoyJSONLogFormat
 * keys); --access-log-cri wraps each line as the kubelet writes container
 * logs: "<RFC 3339 nano time> stdout F <line>". Clusters are named as Istio
 * names them: outbound|PORT||NAME for a VIP of the built-in name table,
 * PassthroughCluster for other destinations, inbound|PORT|| inbound.
 *
 * Single-threaded ppoll() loop over non-blocking sockets, fixed pools, no
 * allocation after start-up.
 *
 * --log FILE gets one JSON object per line, flushed at once:
 *   {"ev":"start",...}
 *   {"ev":"relay","listener":"outbound"|"inbound"|"hbone"|"dns-tcp","ok":true,
 *    "client":"A:P","local":"A:P","orig_dst":"A:P","vip":bool,
 *    "upstream_src":"A:P","upstream_dst":"A:P"}
 *       written when the upstream connection is established (before any
 *       byte is relayed), or with "ok":false and "error" when it failed or
 *       was refused ("loop", "too many connections")
 *   {"ev":"close","listener":...,"client":...,"orig_dst":...,
 *    "bytes_up":N,"bytes_down":N,"reason":"eof"|"reset"|"timeout"}
 *   {"ev":"http","listener":"admin"|"stats"|"agent"|"health","client":...,
 *    "local":...,"path":"/stats","status":200[,"fetch_src":...,
 *    "fetch_dst":...]}
 *   {"ev":"istiod","kind":"xds"|"probe","ok":bool,"local":...,"remote":...}
 *   {"ev":"dns","proto":"udp"|"tcp","client":...,"local":...,"name":...,
 *    "qtype":N,"answer":"local"|"forward"[,"upstream_src":...,
 *    "upstream_dst":...],"ok":bool}
 * and on HTTP ports, instead of "relay" and "close":
 *   {"ev":"pool-open","listener":...,"cluster":...,"ok":true,
 *    "upstream_src":"A:P","upstream_dst":"A:P","h2":bool}
 *       a pooled upstream connection is established (or "ok":false,
 *       "error")
 *   {"ev":"request","listener":...,"client":...,"local":...,"orig_dst":...,
 *    "vip":bool,"cluster":...,"method":...,"path":...,"request_id":...,
 *    "status":N,"flags":"-"|"UF"|"UC"|"UO"|"UT"|"DC"|"DPE",
 *    "upstream_src":"A:P"|"","upstream_dst":"A:P",
 *    "conn":"new"|"reused"|"none","conn_seq":N,"conn_inflight":N,
 *    "ok":bool}
 *       when the request ends: the upstream connection that carried it
 *       (its local address) and whether it was its first request ("new",
 *       conn_seq 1) or a later one ("reused"): the ground truth of reuse;
 *       conn_inflight counts the requests on it, this one included, when
 *       it was sent (above 1 only with --h2)
 *   {"ev":"pool-close","listener":...,"cluster":...,"upstream_src":...,
 *    "upstream_dst":...,"requests":N,"reason":"idle-timeout"|
 *    "max-requests"|"connection-close"|"eof"|"reset"|"evicted"|...}
 *       a connection that closes with its last response ("max-requests",
 *       "connection-close") is logged before that request's event, which
 *       is written once the response has reached the client
 */
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "labproto.h"

#define MAX_LISTEN 24
#define MAX_SESS 192
#define MAX_VIP 32
#define MAX_UPSTREAM 4
#define MAX_DNSU 64
#define BUF_SIZE 16384
#define CONNECT_MS 5000
#define HTTP_MS 5000
#define IDLE_MS 300000
#define DNS_MS 3000
#define XDS_RETRY_MS 1000
#define RESPONSE_MS 15000
#define MAX_HTTP_PORTS 16
#define MAX_PCONN 64
#define PC_QUEUE 32

enum lkind {
	L_OUTBOUND,
	L_INBOUND,
	L_ADMIN,
	L_STATS,
	L_AGENT,
	L_HEALTH,
	L_DNS_TCP,
	L_DNS_UDP,
	L_HBONE,
	L_NONE,
};

static const char *const lkind_name[] = {
	"outbound", "inbound", "admin",	  "stats", "agent",
	"health",   "dns-tcp", "dns-udp", "hbone", "none",
};

struct listener {
	int fd;
	enum lkind kind;
	uint64_t accepted;
};

struct buf {
	size_t len;
	uint8_t data[BUF_SIZE];
};

enum skind { S_FREE, S_RELAY, S_HTTP, S_XDS, S_DNS, S_HDOWN };

enum sstate {
	ST_CONNECTING,
	ST_RELAY,
	ST_HTTP_READ,
	ST_HTTP_FETCH,
	ST_HTTP_WRITE,
	ST_DNS_READ,
	ST_XDS,
	ST_H_READ,
	ST_H_WAIT,
	ST_H_UP,
};

enum fetch { F_NONE, F_STATS, F_ISTIOD };

/*
 * The request an HTTP downstream connection is on, from its head to the end
 * of its response: what Envoy's access log and the --log "request" event
 * say about it.
 */
struct hreq {
	bool active;
	bool logged;
	bool keep_alive;
	bool resp_started;
	bool resp_done;
	bool reused;
	int status;
	int pc;
	unsigned int pc_gen;
	unsigned int seq;
	unsigned int inflight;
	size_t head_len, body_len;
	int64_t start_ms, sent_ms, resp_ms;
	struct timespec start_rt;
	uint64_t tx;
	const char *flags;
	const char *details;
	struct sockaddr_storage up_local;
	char method[16];
	char proto[12];
	char path[256];
	char authority[128];
	char ua[128];
	char rid[40];
	char xff[64];
};

/*
 * One downstream/upstream pair. fd[0] is the accepted socket, fd[1] the one
 * this process opened; b[i] holds bytes read from fd[i] not yet written to
 * the other side. An HTTP downstream connection (S_HDOWN) has no fd[1]: its
 * requests go over the pooled connections, b[0] holds what the client sent
 * and b[1] the response on its way back.
 */
struct sess {
	enum skind kind;
	enum sstate state;
	enum lkind lk;
	enum fetch fetch;
	unsigned int gen;
	int fd[2];
	bool connecting;
	bool eof[2];
	bool shut[2];
	bool vip;
	bool logged;
	int64_t deadline;
	int64_t start_ms;
	struct timespec start_rt;
	uint64_t bytes[2];
	struct sockaddr_storage client, local, orig, up_local, up_peer;
	char path[128];
	struct hreq hr;
	struct buf b[2];
};

struct vip {
	struct sockaddr_storage vip, ep;
};

/* A forwarded UDP DNS query waiting for the upstream's answer. */
struct dnsu {
	int fd;
	int lfd;
	uint16_t id;
	int64_t deadline;
	struct lab_dgram client;
	struct sockaddr_storage up_local, up_peer;
	char name[256];
	uint16_t qtype;
};

struct dns_entry {
	const char *name;
	const char *a;
	const char *aaaa;
};

/* The "cluster" as the stand-in's DNS proxy knows it (Istio's name table). */
static const struct dns_entry dns_table[] = {
	{"reviews.default.svc.cluster.local", "10.96.0.20", "fd00:96::20"},
	{"self.default.svc.cluster.local", "10.96.0.30", "fd00:96::30"},
	{"istiod.istio-system.svc.cluster.local", "10.96.0.40", "fd00:96::40"},
};

static struct {
	struct sockaddr_storage pod_ip, pod_ip6;
	bool have_ip6;
	int outbound_port, inbound_port;
	int admin_port, stats_port, agent_port, health_port, dns_port;
	bool tproxy;
	bool single_capture;
	bool ambient;
	unsigned int mark;
	int hbone_port, hbone_target;
	struct sockaddr_storage upstream[MAX_UPSTREAM];
	int n_upstream;
	struct sockaddr_storage istiod;
	bool have_istiod;
	struct vip vips[MAX_VIP];
	int n_vips;
	const char *pidfile;
	const char *logfile;
	int http_ports[MAX_HTTP_PORTS];
	int n_http_ports;
	int pool_idle_ms;
	unsigned int pool_max_requests;
	bool h2;
	bool original_src;
	unsigned int tproxy_mark;
	const char *access_log;
	bool access_log_cri;
	bool access_log_json;
} cfg = {
	.outbound_port = 15001,
	.inbound_port = 15006,
	.admin_port = 15000,
	.stats_port = 15090,
	.agent_port = 15020,
	.health_port = 15021,
	.hbone_port = 15008,
	.hbone_target = 9080,
	.pool_idle_ms = 60000,
	.tproxy_mark = 1337,
};

static struct {
	uint64_t cx_total[L_NONE];
	uint64_t upstream_cx, upstream_fail, refused;
	uint64_t dns_local, dns_forward;
	uint64_t http_requests, xds_connects;
	bool xds_up;
} stats;

static struct listener listeners[MAX_LISTEN];
static int n_listeners;
static struct sess sessions[MAX_SESS];
static struct dnsu dnsus[MAX_DNSU];
static FILE *logfp;
static int64_t xds_retry_at = -1;
static volatile sig_atomic_t stop_signal;
static uint8_t scratch[BUF_SIZE];

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("st-sidecar: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void logj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logj(const char *fmt, ...)
{
	va_list ap;

	if (!logfp)
		return;
	va_start(ap, fmt);
	vfprintf(logfp, fmt, ap);
	va_end(ap);
	fputc('\n', logfp);
	fflush(logfp);
}

/* Copy @s into @out as the inside of a JSON string. */
static const char *jstr(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return out;
}

#define SA(ss) lab_fmt_sa((ss), true, (char[LAB_ADDRSTRLEN]){0}, LAB_ADDRSTRLEN)

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---- sockets ---------------------------------------------------------- */

static bool is_local_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(
			((const struct sockaddr_in *)ss)->sin_addr.s_addr);

		if ((a >> 24) == 127 || a == 0)
			return true;
		return lab_sa_same_ip(ss, &cfg.pod_ip);
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return true;
		return cfg.have_ip6 && lab_sa_same_ip(ss, &cfg.pod_ip6);
	}
	return false;
}

/* ztunnel marks every socket it opens: the in-pod rules exempt that mark. */
static int set_mark(int fd)
{
	if (!cfg.mark)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &cfg.mark, sizeof(cfg.mark));
}

/*
 * Start a non-blocking connect, from @src when given (freebind: 127.0.0.6 /
 * ::6 need not be configured for the bind itself to work; @transparent: a
 * source that is not ours at all, the client's, as ztunnel spoofs it and
 * Envoy's original_src does). @mark, when not 0, is the socket's SO_MARK
 * instead of --mark's.
 */
static int open_conn(const struct sockaddr_storage *dst,
		     const struct sockaddr_storage *src, bool transparent,
		     unsigned int mark)
{
	int one = 1;
	int fd, e;

	fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	if (set_mark(fd) < 0)
		goto fail;
	if (mark &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	if (src && transparent) {
		if (src->ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			goto fail;
		if (src->ss_family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			goto fail;
	}
	if (src) {
		if (src->ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one,
				   sizeof(one));
		else
			setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one,
				   sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (const struct sockaddr *)src, lab_sa_len(src)) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)dst, lab_sa_len(dst)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Return 0 when the connect finished, else the positive errno. */
static int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static int original_dst(int fd, struct sockaddr_storage *orig)
{
	socklen_t len = sizeof(*orig);
	int r;

	memset(orig, 0, sizeof(*orig));
	if (getsockname(fd, (struct sockaddr *)orig, &len) < 0)
		return -errno;
	/*
	 * TPROXY keeps the destination on the socket; REDIRECT rewrote it and
	 * only conntrack remembers. Without a conntrack entry the socket's own
	 * address is the destination, which the caller sees as a loop.
	 */
	len = orig->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					  : sizeof(struct sockaddr_in);
	if (orig->ss_family == AF_INET6)
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, orig, &len);
	else
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, orig, &len);
	if (r < 0) {
		len = sizeof(*orig);
		getsockname(fd, (struct sockaddr *)orig, &len);
	}
	return 0;
}

/* ---- buffers ---------------------------------------------------------- */

static size_t buf_space(const struct buf *b)
{
	return sizeof(b->data) - b->len;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, buf_space(b), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n < buf_space(b) ? (size_t)n : buf_space(b) - 1;
}

/* ---- access log: Envoy's, in Istio's default formats ------------------- */

/*
 * One line of Envoy's access log. NULL or empty strings print as "-" (null
 * in JSON), as Envoy prints a missing value; so do addresses of family 0.
 */
struct alog_rec {
	struct timespec start;
	const char *method, *path, *proto;
	int code;
	const char *flags, *details;
	uint64_t rx, tx;
	int64_t duration;
	int64_t ust; /* X-ENVOY-UPSTREAM-SERVICE-TIME; < 0: none */
	const char *xff, *ua, *rid, *authority;
	const struct sockaddr_storage *up_host, *up_local, *ds_local,
		*ds_remote;
	const char *cluster, *route;
};

static FILE *alogfp;

static const char *alog_str(const char *s)
{
	return s && *s ? s : "-";
}

static const char *alog_sa(const struct sockaddr_storage *ss, char *buf)
{
	if (!ss || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6))
		return "";
	return lab_fmt_sa(ss, true, buf, LAB_ADDRSTRLEN);
}

/* %START_TIME%'s default: UTC, milliseconds. */
static void alog_time(const struct timespec *ts, char *out, size_t size)
{
	struct tm tm;
	char s[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%.19s.%03dZ", s,
		 (int)(ts->tv_nsec / 1000000) % 1000);
}

/* The kubelet's container log prefix: RFC 3339 with trimmed nanoseconds. */
static void alog_cri_prefix(struct buf *b)
{
	struct timespec ts;
	struct tm tm;
	char s[32], frac[16];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
	while (n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	buf_printf(b, "%s%sZ stdout F ", s, n > 1 ? frac : "");
}

static void alog_jkey(struct buf *b, const char *key, const char *val,
		      bool last)
{
	char j[600];

	if (val && *val)
		buf_printf(b, "\"%s\":\"%s\"%s", key, jstr(val, j, sizeof(j)),
			   last ? "" : ",");
	else
		buf_printf(b, "\"%s\":null%s", key, last ? "" : ",");
}

/* Istio's EnvoyJSONLogFormat keys, in the order Envoy prints them. */
static void alog_json(struct buf *b, const struct alog_rec *r,
		      const char *start)
{
	char a[4][LAB_ADDRSTRLEN], ust[24] = "";

	if (r->ust >= 0)
		snprintf(ust, sizeof(ust), "%lld", (long long)r->ust);
	buf_printf(b, "{");
	alog_jkey(b, "authority", r->authority, false);
	buf_printf(b, "\"bytes_received\":%llu,\"bytes_sent\":%llu,",
		   (unsigned long long)r->rx, (unsigned long long)r->tx);
	alog_jkey(b, "connection_termination_details", NULL, false);
	alog_jkey(b, "downstream_local_address", alog_sa(r->ds_local, a[0]),
		  false);
	alog_jkey(b, "downstream_remote_address", alog_sa(r->ds_remote, a[1]),
		  false);
	buf_printf(b, "\"duration\":%lld,", (long long)r->duration);
	alog_jkey(b, "method", r->method, false);
	alog_jkey(b, "path", r->path, false);
	alog_jkey(b, "protocol", r->proto, false);
	alog_jkey(b, "request_id", r->rid, false);
	alog_jkey(b, "requested_server_name", NULL, false);
	buf_printf(b, "\"response_code\":%d,", r->code);
	alog_jkey(b, "response_code_details", r->details, false);
	alog_jkey(b, "response_flags", r->flags, false);
	alog_jkey(b, "route_name", r->route, false);
	alog_jkey(b, "start_time", start, false);
	alog_jkey(b, "upstream_cluster", r->cluster, false);
	alog_jkey(b, "upstream_host", alog_sa(r->up_host, a[2]), false);
	alog_jkey(b, "upstream_local_address", alog_sa(r->up_local, a[3]),
		  false);
	alog_jkey(b, "upstream_service_time", ust, false);
	alog_jkey(b, "upstream_transport_failure_reason", NULL, false);
	alog_jkey(b, "user_agent", r->ua, false);
	alog_jkey(b, "x_forwarded_for", r->xff, true);
	buf_printf(b, "}");
}

/* Istio's EnvoyTextLogFormat (since 1.9). */
static void alog_text(struct buf *b, const struct alog_rec *r,
		      const char *start)
{
	char a[4][LAB_ADDRSTRLEN], ust[24] = "-";

	if (r->ust >= 0)
		snprintf(ust, sizeof(ust), "%lld", (long long)r->ust);
	buf_printf(b, "[%s] \"%s %s %s\" %d %s %s %s \"%s\" %llu %llu %lld %s ",
		   start, alog_str(r->method), alog_str(r->path),
		   alog_str(r->proto), r->code, alog_str(r->flags),
		   alog_str(r->details), "-", "-", (unsigned long long)r->rx,
		   (unsigned long long)r->tx, (long long)r->duration, ust);
	buf_printf(b, "\"%s\" \"%s\" \"%s\" \"%s\" \"%s\" %s %s %s %s %s %s",
		   alog_str(r->xff), alog_str(r->ua), alog_str(r->rid),
		   alog_str(r->authority), alog_str(alog_sa(r->up_host, a[0])),
		   alog_str(r->cluster), alog_str(alog_sa(r->up_local, a[1])),
		   alog_str(alog_sa(r->ds_local, a[2])),
		   alog_str(alog_sa(r->ds_remote, a[3])), "-",
		   alog_str(r->route));
}

/* Write one access log line, flushed at once (a follower reads it live). */
static void alog_write(const struct alog_rec *r)
{
	static struct buf line;
	char start[40];

	if (!alogfp)
		return;
	alog_time(&r->start, start, sizeof(start));
	line.len = 0;
	if (cfg.access_log_cri)
		alog_cri_prefix(&line);
	if (cfg.access_log_json)
		alog_json(&line, r, start);
	else
		alog_text(&line, r, start);
	fwrite(line.data, 1, line.len, alogfp);
	fputc('\n', alogfp);
	fflush(alogfp);
}

/*
 * Istio's cluster for a captured connection: inbound|PORT|| for the inbound
 * listener, the service's outbound cluster for a VIP the stand-in knows a
 * name of, PassthroughCluster for any other destination.
 */
static const char *alog_cluster(enum lkind lk,
				const struct sockaddr_storage *orig, bool vip,
				char *out, size_t size)
{
	struct sockaddr_storage a;
	size_t i;

	if (lk == L_INBOUND) {
		snprintf(out, size, "inbound|%d||", lab_sa_port(orig));
		return out;
	}
	for (i = 0; vip && i < ST_ARRAY_SIZE(dns_table); i++) {
		const char *ip = orig->ss_family == AF_INET6 ? dns_table[i].aaaa
							     : dns_table[i].a;

		if (lab_parse_addr(ip, 0, &a) == 0 &&
		    lab_sa_same_ip(&a, orig)) {
			snprintf(out, size, "outbound|%d||%s",
				 lab_sa_port(orig), dns_table[i].name);
			return out;
		}
	}
	snprintf(out, size, "PassthroughCluster");
	return out;
}

/* Envoy logs a tcp_proxy connection once, when it closes or failed. */
static void alog_tcp(const struct sess *s, const char *flags)
{
	char cluster[160];
	struct alog_rec r = {
		.start = s->start_rt,
		.flags = flags,
		.rx = s->bytes[0],
		.tx = s->bytes[1],
		.duration = lab_now_ms() - s->start_ms,
		.ust = -1,
		.up_host = &s->up_peer,
		.up_local = &s->up_local,
		.ds_local = &s->orig,
		.ds_remote = &s->client,
	};

	if (cfg.ambient || (s->lk != L_OUTBOUND && s->lk != L_INBOUND))
		return;
	r.cluster =
		alog_cluster(s->lk, &s->orig, s->vip, cluster, sizeof(cluster));
	alog_write(&r);
}

/* ---- sessions --------------------------------------------------------- */

static struct sess *sess_new(enum skind kind, enum lkind lk)
{
	int i;

	for (i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[i];
		unsigned int gen;

		if (s->kind != S_FREE)
			continue;
		gen = s->gen + 1;
		memset(s, 0, offsetof(struct sess, b));
		s->b[0].len = 0;
		s->b[1].len = 0;
		s->gen = gen;
		s->kind = kind;
		s->lk = lk;
		s->fd[0] = -1;
		s->fd[1] = -1;
		return s;
	}
	return NULL;
}

static void hd_log(struct sess *s);

static void sess_free(struct sess *s, const char *reason)
{
	int i;

	if (s->kind == S_HDOWN && s->hr.active && !s->hr.logged) {
		/* The client went before the response was through. */
		if (!s->hr.resp_done && !strcmp(s->hr.flags, "-")) {
			s->hr.flags = "DC";
			s->hr.details = "downstream_remote_disconnect";
		}
		hd_log(s);
	}
	if (s->kind == S_RELAY && s->logged)
		alog_tcp(s, "-");
	if (s->kind == S_RELAY && s->logged)
		logj("{\"ev\":\"close\",\"listener\":\"%s\",\"client\":\"%s\","
		     "\"orig_dst\":\"%s\",\"bytes_up\":%llu,"
		     "\"bytes_down\":%llu,\"reason\":\"%s\"}",
		     lkind_name[s->lk], SA(&s->client), SA(&s->orig),
		     (unsigned long long)s->bytes[0],
		     (unsigned long long)s->bytes[1], reason);
	if (s->kind == S_XDS) {
		if (stats.xds_up)
			logj("{\"ev\":\"istiod\",\"kind\":\"xds\",\"ok\":false,"
			     "\"error\":\"%s\"}",
			     reason);
		stats.xds_up = false;
		xds_retry_at = lab_now_ms() + XDS_RETRY_MS;
	}
	for (i = 0; i < 2; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
	s->kind = S_FREE;
}

static void log_relay_fail(struct sess *s, const char *err)
{
	if (strcmp(err, "loop"))
		alog_tcp(s, "UF");
	logj("{\"ev\":\"relay\",\"listener\":\"%s\",\"ok\":false,"
	     "\"client\":\"%s\",\"local\":\"%s\",\"orig_dst\":\"%s\","
	     "\"vip\":%s,\"upstream_dst\":\"%s\",\"error\":\"%s\"}",
	     lkind_name[s->lk], SA(&s->client), SA(&s->local), SA(&s->orig),
	     s->vip ? "true" : "false", SA(&s->up_peer), err);
}

/*
 * Begin the upstream leg of a relay to s->up_peer (from @src if given,
 * transparently when @src is the client's address).
 */
static int relay_start(struct sess *s, const struct sockaddr_storage *src,
		       bool transparent)
{
	s->kind = S_RELAY;
	s->fd[1] = open_conn(&s->up_peer, src, transparent, 0);
	if (s->fd[1] < 0) {
		stats.upstream_fail++;
		log_relay_fail(s, strerror(errno));
		return -1;
	}
	s->state = ST_CONNECTING;
	s->connecting = true;
	s->deadline = lab_now_ms() + CONNECT_MS;
	stats.upstream_cx++;
	return 0;
}

static void relay_connected(struct sess *s)
{
	socklen_t len = sizeof(s->up_local);
	int err = connect_result(s->fd[1]);

	if (err) {
		stats.upstream_fail++;
		log_relay_fail(s, strerror(err));
		sess_free(s, "connect-failed");
		return;
	}
	getsockname(s->fd[1], (struct sockaddr *)&s->up_local, &len);
	s->connecting = false;
	s->state = ST_RELAY;
	s->deadline = lab_now_ms() + IDLE_MS;
	s->logged = true;
	logj("{\"ev\":\"relay\",\"listener\":\"%s\",\"ok\":true,"
	     "\"client\":\"%s\",\"local\":\"%s\",\"orig_dst\":\"%s\","
	     "\"vip\":%s,\"upstream_src\":\"%s\",\"upstream_dst\":\"%s\"}",
	     lkind_name[s->lk], SA(&s->client), SA(&s->local), SA(&s->orig),
	     s->vip ? "true" : "false", SA(&s->up_local), SA(&s->up_peer));
}

/*
 * Move bytes both ways and propagate half-closes. Return -1 on a reset or
 * error, 1 when both directions are finished, 0 otherwise. Called on any
 * event: operations that would block just return EAGAIN.
 */
static int relay_pump(struct sess *s)
{
	int i;

	for (i = 0; i < 2; i++) {
		int j = !i;
		struct buf *b = &s->b[i];
		ssize_t n;

		if (s->fd[i] >= 0 && !s->eof[i] && buf_space(b) &&
		    !(i == 1 && s->connecting)) {
			n = recv(s->fd[i], b->data + b->len, buf_space(b), 0);
			if (n > 0) {
				b->len += (size_t)n;
				s->bytes[i] += (uint64_t)n;
			} else if (n == 0) {
				s->eof[i] = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (s->fd[j] < 0 || (j == 1 && s->connecting))
			continue;
		if (b->len) {
			n = send(s->fd[j], b->data, b->len, MSG_NOSIGNAL);
			if (n > 0)
				buf_consume(b, (size_t)n);
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -1;
		}
		if (s->eof[i] && !b->len && !s->shut[j]) {
			shutdown(s->fd[j], SHUT_WR);
			s->shut[j] = true;
		}
	}
	s->deadline = lab_now_ms() + IDLE_MS;
	return s->shut[0] && s->shut[1] ? 1 : 0;
}

/* ---- HTTP pools: Envoy's connection manager and upstream pools --------- */

/*
 * On the ports given with --http-ports the capture listeners speak HTTP/1.x
 * to the client and frame every request (head, Content-Length body) and
 * every response, as Envoy's HTTP connection manager does. Requests go to
 * the endpoint over pooled upstream connections (struct pconn), keyed by
 * listener, cluster, endpoint and source address: an idle connection is reused, a
 * new one is opened only when none is idle. Pools are per cluster, as in
 * Envoy: PassthroughCluster and a service's cluster do not share a
 * connection to the same endpoint. With --h2 a connection carries
 * any number of requests at once (up to PC_QUEUE), the responses matched in
 * order, which is what netfilter sees of HTTP/2 multiplexing: one
 * connection, many requests from many downstream connections.
 *
 * pc_* is the upstream side, hd_* the downstream side. A request is queued
 * on a pconn by (session index, generation): a session that went away is
 * seen as stale and its response is read and dropped.
 */

enum pc_state { PC_FREE, PC_CONNECTING, PC_READY };

struct pc_slot {
	int idx;
	unsigned int gen;
};

struct pconn {
	enum pc_state state;
	unsigned int gen;
	int fd;
	enum lkind lk;
	bool have_src;
	bool transparent;
	bool closing;
	bool head_done;
	bool to_eof;
	unsigned int sent;
	int q_len;
	uint64_t body_left;
	int64_t deadline;
	struct sockaddr_storage ep, src, local;
	char cluster[160];
	struct pc_slot q[PC_QUEUE];
	struct buf out, in;
};

/* One header line of an HTTP head. */
struct hline {
	const char *name, *val;
	size_t nlen, vlen;
};

static struct pconn pconns[MAX_PCONN];
static uint64_t rid_state;

static void hd_local_reply(struct sess *s, int code, const char *flags,
			   const char *details, const char *body);

static bool http_port(int port)
{
	int i;

	for (i = 0; i < cfg.n_http_ports; i++)
		if (cfg.http_ports[i] == port)
			return true;
	return false;
}

/* Offset just past the blank line that ends an HTTP head, or 0. */
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

/* The line at *@p (start line or header); false at the blank line. */
static bool http_line(const char **p, const char *end, struct hline *h)
{
	const char *l = *p, *nl, *e, *colon, *v;

	nl = memchr(l, '\n', (size_t)(end - l));
	if (!nl)
		return false;
	e = nl > l && nl[-1] == '\r' ? nl - 1 : nl;
	*p = nl + 1;
	if (e == l)
		return false;
	colon = memchr(l, ':', (size_t)(e - l));
	h->name = l;
	h->nlen = (size_t)((colon ? colon : e) - l);
	v = colon ? colon + 1 : e;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->val = v;
	h->vlen = (size_t)(e - v);
	return true;
}

static bool hname_is(const struct hline *h, const char *name)
{
	return strlen(name) == h->nlen && !strncasecmp(h->name, name, h->nlen);
}

/* A comma-separated header value holds the token @tok. */
static bool hval_has(const struct hline *h, const char *tok)
{
	size_t n = strlen(tok), i;

	for (i = 0; i + n <= h->vlen; i++)
		if (!strncasecmp(h->val + i, tok, n) &&
		    (i == 0 || h->val[i - 1] == ',' || h->val[i - 1] == ' ') &&
		    (i + n == h->vlen || h->val[i + n] == ',' ||
		     h->val[i + n] == ' '))
			return true;
	return false;
}

/* A header value for the logs: bounded, quotes and controls replaced. */
static void hcopy(char *out, size_t size, const char *v, size_t n)
{
	size_t i;

	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		out[i] = c < 0x20 || c >= 0x7f || c == '"' ? '_' : (char)c;
	}
	out[n] = '\0';
}

/* Headers Envoy does not forward hop by hop, or sets itself. */
static bool hop_header(const struct hline *h)
{
	return hname_is(h, "connection") || hname_is(h, "keep-alive") ||
	       hname_is(h, "proxy-connection") || hname_is(h, "upgrade") ||
	       hname_is(h, "x-request-id") ||
	       hname_is(h, "x-forwarded-proto") ||
	       hname_is(h, "x-envoy-upstream-service-time");
}

/* x-request-id as Envoy makes one: a random UUID (version 4). */
static void make_request_id(char *out, size_t size)
{
	uint64_t a, b;

	rid_state ^= rid_state << 13;
	rid_state ^= rid_state >> 7;
	rid_state ^= rid_state << 17;
	a = rid_state;
	rid_state ^= rid_state << 13;
	rid_state ^= rid_state >> 7;
	rid_state ^= rid_state << 17;
	b = rid_state;
	snprintf(out, size, "%08x-%04x-4%03x-%x%03x-%012llx",
		 (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
		 (unsigned)a & 0xfff, 8 + (unsigned)(b >> 62),
		 (unsigned)(b >> 48) & 0xfff,
		 (unsigned long long)(b & 0xffffffffffffULL));
}

/* The session a pconn's queue slot names, NULL when it went away. */
static struct sess *pc_sess(const struct pconn *pc, int i)
{
	struct sess *s = &sessions[pc->q[i].idx];

	if (s->kind != S_HDOWN || s->gen != pc->q[i].gen || !s->hr.active ||
	    s->hr.pc != pc - pconns || s->hr.pc_gen != pc->gen)
		return NULL;
	return s;
}

static void pc_log_close(const struct pconn *pc, const char *reason)
{
	logj("{\"ev\":\"pool-close\",\"listener\":\"%s\",\"cluster\":\"%s\","
	     "\"upstream_src\":\"%s\",\"upstream_dst\":\"%s\","
	     "\"requests\":%u,\"reason\":\"%s\"}",
	     lkind_name[pc->lk], pc->cluster, SA(&pc->local), SA(&pc->ep),
	     pc->sent, reason);
}

/*
 * Close a pooled connection. Requests still queued on it get Envoy's local
 * reply (or, when their response had begun, lose their downstream too).
 */
static void pc_close(struct pconn *pc, const char *reason)
{
	bool never = pc->state == PC_CONNECTING;
	int i;

	if (pc->state == PC_FREE)
		return;
	if (never)
		logj("{\"ev\":\"pool-open\",\"listener\":\"%s\",\"cluster\":"
		     "\"%s\",\"ok\":false,\"upstream_dst\":\"%s\","
		     "\"error\":\"%s\"}",
		     lkind_name[pc->lk], pc->cluster, SA(&pc->ep), reason);
	else
		pc_log_close(pc, reason);
	pc->state = PC_FREE;
	close(pc->fd);
	pc->fd = -1;
	for (i = 0; i < pc->q_len; i++) {
		struct sess *s = pc_sess(pc, i);

		if (!s)
			continue;
		s->hr.pc = -1;
		if (s->hr.resp_started) {
			s->hr.flags = "UC";
			s->hr.details = "upstream_reset_after_response_started"
					"{connection_termination}";
			sess_free(s, "reset");
		} else if (never) {
			stats.upstream_fail++;
			hd_local_reply(
				s, 503, "UF",
				"upstream_reset_before_response_started"
				"{connection_failure}",
				"upstream connect error or disconnect/reset "
				"before headers. reset reason: connection "
				"failure");
		} else {
			hd_local_reply(
				s, 503, "UC",
				"upstream_reset_before_response_started"
				"{connection_termination}",
				"upstream connect error or disconnect/reset "
				"before headers. reset reason: connection "
				"termination");
		}
	}
	pc->q_len = 0;
}

static bool pc_idle(const struct pconn *pc)
{
	return pc->state == PC_READY && !pc->q_len && !pc->closing;
}

static bool pc_key(const struct pconn *pc, enum lkind lk, const char *cluster,
		   const struct sockaddr_storage *ep,
		   const struct sockaddr_storage *src)
{
	return pc->state != PC_FREE && pc->lk == lk &&
	       !strcmp(pc->cluster, cluster) && lab_sa_equal(&pc->ep, ep) &&
	       pc->have_src == !!src && (!src || lab_sa_same_ip(&pc->src, src));
}

/*
 * The connection for the next request to @ep from @src: an idle one (the
 * one idle longest is kept for last: the most recent is reused, as Envoy's
 * pool takes from the top), with --h2 any open one with room.
 */
static struct pconn *pc_pick(enum lkind lk, const char *cluster,
			     const struct sockaddr_storage *ep,
			     const struct sockaddr_storage *src, size_t need)
{
	struct pconn *best = NULL;
	int i;

	for (i = 0; i < MAX_PCONN; i++) {
		struct pconn *pc = &pconns[i];

		if (!pc_key(pc, lk, cluster, ep, src) || pc->closing)
			continue;
		if (cfg.h2) {
			if (pc->q_len < PC_QUEUE && buf_space(&pc->out) >= need)
				return pc;
			continue;
		}
		if (pc_idle(pc) && (!best || pc->deadline > best->deadline))
			best = pc;
	}
	return best;
}

/* A free slot; when all are taken, the connection idle longest is closed. */
static struct pconn *pc_slot(void)
{
	struct pconn *old = NULL;
	int i;

	for (i = 0; i < MAX_PCONN; i++) {
		if (pconns[i].state == PC_FREE)
			return &pconns[i];
		if (pc_idle(&pconns[i]) &&
		    (!old || pconns[i].deadline < old->deadline))
			old = &pconns[i];
	}
	if (!old)
		return NULL;
	pc_close(old, "evicted");
	return old;
}

/*
 * Open a pooled connection; NULL when every slot is busy, or with *@failed
 * set when the connect could not even start.
 */
static struct pconn *pc_open(enum lkind lk, const char *cluster,
			     const struct sockaddr_storage *ep,
			     const struct sockaddr_storage *src,
			     bool transparent, bool *failed)
{
	struct pconn *pc = pc_slot();
	unsigned int gen;

	*failed = false;
	if (!pc)
		return NULL;
	gen = pc->gen + 1;
	memset(pc, 0, offsetof(struct pconn, out));
	pc->out.len = 0;
	pc->in.len = 0;
	pc->gen = gen;
	pc->lk = lk;
	snprintf(pc->cluster, sizeof(pc->cluster), "%s", cluster);
	pc->ep = *ep;
	pc->have_src = !!src;
	pc->transparent = transparent;
	if (src)
		pc->src = *src;
	pc->fd = open_conn(ep, src, transparent,
			   transparent ? cfg.tproxy_mark : 0);
	if (pc->fd < 0) {
		stats.upstream_fail++;
		logj("{\"ev\":\"pool-open\",\"listener\":\"%s\",\"cluster\":"
		     "\"%s\",\"ok\":false,\"upstream_dst\":\"%s\","
		     "\"error\":\"%s\"}",
		     lkind_name[lk], cluster, SA(ep), strerror(errno));
		*failed = true;
		return NULL;
	}
	pc->state = PC_CONNECTING;
	pc->deadline = lab_now_ms() + CONNECT_MS;
	stats.upstream_cx++;
	return pc;
}

static void pc_connected(struct pconn *pc)
{
	socklen_t len = sizeof(pc->local);
	int err = connect_result(pc->fd);
	int i;

	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err) {
		pc_close(pc, strerror(err));
		return;
	}
	getsockname(pc->fd, (struct sockaddr *)&pc->local, &len);
	pc->state = PC_READY;
	pc->deadline = INT64_MAX;
	for (i = 0; i < pc->q_len; i++) {
		struct sess *s = pc_sess(pc, i);

		if (s)
			s->hr.up_local = pc->local;
	}
	logj("{\"ev\":\"pool-open\",\"listener\":\"%s\",\"cluster\":\"%s\","
	     "\"ok\":true,\"upstream_src\":\"%s\",\"upstream_dst\":\"%s\","
	     "\"h2\":%s}",
	     lkind_name[pc->lk], pc->cluster, SA(&pc->local), SA(&pc->ep),
	     cfg.h2 ? "true" : "false");
}

/*
 * Put the request at the head of @s->b[0] on @pc: HTTP/1.1 upstream, hop
 * headers dropped, x-request-id and x-forwarded-proto as Envoy sets them.
 */
static int pc_enqueue(struct pconn *pc, struct sess *s)
{
	struct hreq *hr = &s->hr;
	const char *p = (const char *)s->b[0].data;
	const char *end = p + hr->head_len;
	struct buf *o = &pc->out;
	struct hline h;

	if (pc->q_len >= PC_QUEUE ||
	    buf_space(o) < hr->head_len + hr->body_len + 160)
		return -1;
	http_line(&p, end, &h); /* the request line, rewritten */
	buf_printf(o, "%s %s HTTP/1.1\r\n", hr->method, hr->path);
	while (http_line(&p, end, &h)) {
		if (hop_header(&h))
			continue;
		memcpy(o->data + o->len, h.name,
		       (size_t)(h.val + h.vlen - h.name));
		o->len += (size_t)(h.val + h.vlen - h.name);
		buf_printf(o, "\r\n");
	}
	buf_printf(o, "x-request-id: %s\r\nx-forwarded-proto: http\r\n\r\n",
		   hr->rid);
	memcpy(o->data + o->len, s->b[0].data + hr->head_len, hr->body_len);
	o->len += hr->body_len;
	buf_consume(&s->b[0], hr->head_len + hr->body_len);

	pc->q[pc->q_len++] = (struct pc_slot){(int)(s - sessions), s->gen};
	hr->pc = (int)(pc - pconns);
	hr->pc_gen = pc->gen;
	hr->seq = ++pc->sent;
	hr->inflight = (unsigned int)pc->q_len;
	hr->reused = hr->seq > 1;
	hr->sent_ms = lab_now_ms();
	hr->up_local = pc->local;
	if (cfg.pool_max_requests && pc->sent >= cfg.pool_max_requests)
		pc->closing = true;
	if (pc->state == PC_READY && pc->q_len == 1)
		pc->deadline = INT64_MAX;
	return 0;
}

/* The response at the head of @pc's queue is complete. */
static void pc_pop(struct pconn *pc)
{
	struct sess *s = pc_sess(pc, 0);

	if (s) {
		s->hr.resp_done = true;
		s->hr.up_local = pc->local;
	}
	memmove(pc->q, pc->q + 1, sizeof(pc->q[0]) * (size_t)(pc->q_len - 1));
	pc->q_len--;
	pc->head_done = false;
	if (pc->q_len)
		return;
	if (pc->closing)
		pc_close(pc, pc->to_eof ? "eof"
			     : cfg.pool_max_requests &&
					     pc->sent >= cfg.pool_max_requests
				     ? "max-requests"
				     : "connection-close");
	else
		pc->deadline = lab_now_ms() + cfg.pool_idle_ms;
}

/*
 * Parse the response head at the start of pc->in for the head of the queue
 * (@s may be NULL: it went away) and put Envoy's version of it in s->b[1].
 * Return false when it is not all there yet.
 */
static bool pc_response_head(struct pconn *pc, struct sess *s)
{
	struct buf *in = &pc->in, *o = s ? &s->b[1] : NULL;
	size_t hend = http_head_end(in->data, in->len);
	const char *p = (const char *)in->data, *end = p + hend;
	bool keep, cl = false, head;
	struct hline h, sl;
	size_t sl_len;
	int code;

	if (!hend)
		return false;
	if (o && buf_space(o) < hend + 128)
		return false;
	sl_len = http_line(&p, end, &sl) ? (size_t)(sl.val + sl.vlen - sl.name)
					 : 0;
	if (sl_len < 12 || strncmp(sl.name, "HTTP/1.", 7)) {
		pc_close(pc, "protocol-error");
		return false;
	}
	code = atoi(sl.name + 9);
	keep = sl.name[7] == '1';
	head = s && !strcmp(s->hr.method, "HEAD");
	pc->body_left = 0;
	pc->to_eof = false;
	if (o) {
		s->hr.status = code;
		s->hr.resp_ms = lab_now_ms();
		s->hr.resp_started = true;
		buf_printf(o, "%s %.*s\r\n", s->hr.proto, (int)(sl_len - 9),
			   sl.name + 9);
	}
	while (http_line(&p, end, &h)) {
		if (hname_is(&h, "connection"))
			keep = sl.name[7] == '1' ? !hval_has(&h, "close")
						 : hval_has(&h, "keep-alive");
		if (hname_is(&h, "content-length")) {
			pc->body_left = strtoull(h.val, NULL, 10);
			cl = true;
		}
		if (o && !hop_header(&h)) {
			memcpy(o->data + o->len, h.name,
			       (size_t)(h.val + h.vlen - h.name));
			o->len += (size_t)(h.val + h.vlen - h.name);
			buf_printf(o, "\r\n");
		}
	}
	buf_consume(in, hend);
	if (code >= 100 && code < 200) {
		/* 100 Continue and friends: the real response follows. */
		if (o)
			o->len = 0;
		return pc_response_head(pc, s);
	}
	if (!cl && !head && code != 204 && code != 304) {
		/* No length: the body ends when the upstream closes. */
		pc->to_eof = true;
		keep = false;
	}
	if (!keep)
		pc->closing = true;
	if (o) {
		if (pc->to_eof)
			s->hr.keep_alive = false;
		buf_printf(o, "x-envoy-upstream-service-time: %lld\r\n%s\r\n",
			   (long long)(s->hr.resp_ms - s->hr.sent_ms),
			   s->hr.keep_alive ? "" : "connection: close\r\n");
	}
	if (head)
		pc->body_left = 0;
	pc->head_done = true;
	return true;
}

/* Move what arrived to the downstream sessions, response by response. */
static void pc_parse(struct pconn *pc)
{
	while (pc->state == PC_READY && pc->q_len) {
		struct sess *s = pc_sess(pc, 0);
		struct buf *in = &pc->in;
		size_t n;

		if (!pc->head_done && !pc_response_head(pc, s))
			return;
		n = in->len;
		if (!pc->to_eof && n > pc->body_left)
			n = (size_t)pc->body_left;
		if (s && n > buf_space(&s->b[1]))
			n = buf_space(&s->b[1]);
		if (s) {
			memcpy(s->b[1].data + s->b[1].len, in->data, n);
			s->b[1].len += n;
			s->hr.tx += n;
		}
		buf_consume(in, n);
		if (!pc->to_eof)
			pc->body_left -= n;
		if (pc->to_eof || pc->body_left)
			return;
		pc_pop(pc);
	}
}

static void pc_io(struct pconn *pc)
{
	struct buf *o = &pc->out, *in = &pc->in;
	ssize_t n;

	if (pc->state == PC_CONNECTING) {
		pc_connected(pc);
		if (pc->state != PC_READY)
			return;
	}
	if (o->len) {
		n = send(pc->fd, o->data, o->len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(o, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			pc_close(pc, "reset");
			return;
		}
	}
	if (!buf_space(in))
		return;
	n = recv(pc->fd, in->data + in->len, buf_space(in), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		in->len += (size_t)n;
		if (!pc->q_len) {
			pc_close(pc, "unexpected data");
			return;
		}
		pc_parse(pc);
		return;
	}
	/* EOF or reset: a body read to the end is complete. */
	if (n == 0 && pc->q_len && pc->head_done && pc->to_eof) {
		pc->closing = true;
		pc_pop(pc);
	}
	if (pc->state != PC_FREE)
		pc_close(pc, n == 0 ? "eof" : "reset");
}

static short pc_events(const struct pconn *pc)
{
	struct sess *s;

	if (pc->state == PC_CONNECTING)
		return POLLOUT;
	if (pc->out.len)
		return POLLOUT | POLLIN;
	if (!pc->q_len || !buf_space(&pc->in))
		return buf_space(&pc->in) ? POLLIN : 0;
	s = pc_sess(pc, 0);
	return !s || buf_space(&s->b[1]) ? POLLIN : 0;
}

/* ---- HTTP downstream: one client connection of an HTTP port ---------- */

static const char *hd_route(const struct sess *s)
{
	if (s->lk == L_OUTBOUND && !s->vip)
		return "allow_any";
	return "default";
}

/*
 * The end of a request: Envoy's access log line, and the --log "request"
 * event saying which upstream connection carried it.
 */
static void hd_log(struct sess *s)
{
	struct hreq *hr = &s->hr;
	char cluster[160], src[LAB_ADDRSTRLEN] = "";
	struct alog_rec r = {
		.start = hr->start_rt,
		.method = hr->method,
		.path = hr->path,
		.proto = hr->proto,
		.code = hr->status,
		.flags = hr->flags,
		.details = hr->details,
		.rx = hr->body_len,
		.tx = hr->tx,
		.duration = lab_now_ms() - hr->start_ms,
		.ust = hr->resp_ms && hr->sent_ms ? hr->resp_ms - hr->sent_ms
						  : -1,
		.xff = hr->xff,
		.ua = hr->ua,
		.rid = hr->rid,
		.authority = hr->authority,
		.up_host = &s->up_peer,
		.up_local = &hr->up_local,
		.ds_local = &s->orig,
		.ds_remote = &s->client,
		.route = hd_route(s),
	};
	char jp[300];

	if (!hr->active || hr->logged)
		return;
	hr->logged = true;
	r.cluster =
		alog_cluster(s->lk, &s->orig, s->vip, cluster, sizeof(cluster));
	alog_write(&r);
	if (hr->up_local.ss_family)
		lab_fmt_sa(&hr->up_local, true, src, sizeof(src));
	logj("{\"ev\":\"request\",\"listener\":\"%s\",\"client\":\"%s\","
	     "\"local\":\"%s\",\"orig_dst\":\"%s\",\"vip\":%s,\"cluster\":\"%s\","
	     "\"method\":\"%s\",\"path\":\"%s\",\"request_id\":\"%s\","
	     "\"status\":%d,\"flags\":\"%s\",\"upstream_src\":\"%s\","
	     "\"upstream_dst\":\"%s\",\"conn\":\"%s\",\"conn_seq\":%u,"
	     "\"conn_inflight\":%u,"
	     "\"ok\":%s}",
	     lkind_name[s->lk], SA(&s->client), SA(&s->local), SA(&s->orig),
	     s->vip ? "true" : "false", cluster, hr->method,
	     jstr(hr->path, jp, sizeof(jp)), hr->rid, hr->status,
	     alog_str(hr->flags), src, SA(&s->up_peer),
	     !src[0]	  ? "none"
	     : hr->reused ? "reused"
			  : "new",
	     hr->seq, hr->inflight,
	     hr->status >= 200 && hr->status < 500 ? "true" : "false");
}

/*
 * Envoy's own answer (no upstream response): the connection closes after
 * it. A response already begun cannot be replaced: the client loses its
 * connection instead.
 */
static void hd_local_reply(struct sess *s, int code, const char *flags,
			   const char *details, const char *body)
{
	struct buf *o = &s->b[1];

	s->hr.status = code;
	s->hr.flags = flags;
	s->hr.details = details;
	s->hr.keep_alive = false;
	s->hr.pc = -1;
	if (s->hr.resp_started) {
		sess_free(s, "reset");
		return;
	}
	o->len = 0;
	buf_printf(o,
		   "%s %d %s\r\ncontent-length: %zu\r\n"
		   "content-type: text/plain\r\nconnection: close\r\n\r\n%s",
		   s->hr.proto[0] ? s->hr.proto : "HTTP/1.1", code,
		   code == 400	 ? "Bad Request"
		   : code == 504 ? "Gateway Timeout"
				 : "Service Unavailable",
		   strlen(body), body);
	s->hr.tx = strlen(body);
	s->hr.resp_started = true;
	s->hr.resp_done = true;
	s->state = ST_H_UP;
	s->deadline = lab_now_ms() + HTTP_MS;
}

/*
 * Hand the parsed request to a pooled connection: reuse, else open one.
 * It stays in ST_H_WAIT when every connection slot is busy.
 */
static void hd_assign(struct sess *s)
{
	static struct sockaddr_storage src;
	const struct sockaddr_storage *from = NULL;
	bool transparent = false, failed = false;
	char cluster[160];
	struct pconn *pc;
	size_t need = s->hr.head_len + s->hr.body_len + 160;

	if (s->lk == L_INBOUND) {
		if (cfg.tproxy && cfg.original_src) {
			/* original_src: the client's address, any port. */
			src = s->client;
			lab_sa_set_port(&src, 0);
			transparent = true;
		} else {
			lab_parse_addr(s->orig.ss_family == AF_INET6
					       ? "::6"
					       : "127.0.0.6",
				       0, &src);
		}
		from = &src;
	}
	alog_cluster(s->lk, &s->orig, s->vip, cluster, sizeof(cluster));
	pc = pc_pick(s->lk, cluster, &s->up_peer, from, need);
	if (!pc)
		pc = pc_open(s->lk, cluster, &s->up_peer, from, transparent,
			     &failed);
	if (failed) {
		hd_local_reply(s, 503, "UF",
			       "upstream_reset_before_response_started"
			       "{connection_failure}",
			       "upstream connect error or disconnect/reset "
			       "before headers. reset reason: connection "
			       "failure");
		return;
	}
	if (!pc || pc_enqueue(pc, s) < 0)
		return;
	s->state = ST_H_UP;
	s->deadline = lab_now_ms() + RESPONSE_MS;
}

/* A whole request head (and body) is at the start of b[0]: take it. */
static void hd_parse(struct sess *s)
{
	struct hreq *hr = &s->hr;
	struct buf *in = &s->b[0];
	size_t hend = http_head_end(in->data, in->len);
	const char *p = (const char *)in->data, *end = p + hend;
	const char *sp1, *sp2;
	struct hline h, rl;
	bool chunked = false;

	memset(hr, 0, sizeof(*hr));
	hr->active = true;
	hr->pc = -1;
	hr->start_ms = lab_now_ms();
	clock_gettime(CLOCK_REALTIME, &hr->start_rt);
	hr->head_len = hend;
	hr->flags = "-";
	hr->details = "via_upstream";
	sp1 = http_line(&p, end, &rl)
		      ? memchr(rl.name, ' ',
			       (size_t)(rl.val + rl.vlen - rl.name))
		      : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(rl.val + rl.vlen - sp1 - 1))
		  : NULL;
	if (sp1)
		hcopy(hr->method, sizeof(hr->method), rl.name,
		      (size_t)(sp1 - rl.name));
	if (sp2) {
		hcopy(hr->path, sizeof(hr->path), sp1 + 1,
		      (size_t)(sp2 - sp1 - 1));
		hcopy(hr->proto, sizeof(hr->proto), sp2 + 1,
		      (size_t)(rl.val + rl.vlen - sp2 - 1));
	}
	hr->keep_alive = !strcmp(hr->proto, "HTTP/1.1");
	while (http_line(&p, end, &h)) {
		if (hname_is(&h, "host"))
			hcopy(hr->authority, sizeof(hr->authority), h.val,
			      h.vlen);
		else if (hname_is(&h, "user-agent"))
			hcopy(hr->ua, sizeof(hr->ua), h.val, h.vlen);
		else if (hname_is(&h, "x-request-id"))
			hcopy(hr->rid, sizeof(hr->rid), h.val, h.vlen);
		else if (hname_is(&h, "x-forwarded-for"))
			hcopy(hr->xff, sizeof(hr->xff), h.val, h.vlen);
		else if (hname_is(&h, "content-length"))
			hr->body_len = strtoul(h.val, NULL, 10);
		else if (hname_is(&h, "transfer-encoding"))
			chunked = true;
		else if (hname_is(&h, "connection"))
			hr->keep_alive = !strcmp(hr->proto, "HTTP/1.1")
						 ? !hval_has(&h, "close")
						 : hval_has(&h, "keep-alive");
	}
	if (!hr->rid[0])
		make_request_id(hr->rid, sizeof(hr->rid));
	/* HTTP/1.0 is taken, as with Istio's PILOT_HTTP10. */
	if (!sp2 ||
	    (strcmp(hr->proto, "HTTP/1.0") && strcmp(hr->proto, "HTTP/1.1"))) {
		buf_consume(in, in->len);
		hd_local_reply(s, 400, "DPE", "http1.codec_error",
			       "Bad Request");
		return;
	}
	if (chunked || hend + hr->body_len > BUF_SIZE) {
		/* Bodies are buffered whole, and only with a length. */
		buf_consume(in, in->len);
		hd_local_reply(s, 413, "-", "request_payload_too_large",
			       "Payload Too Large");
		return;
	}
	s->state = ST_H_WAIT;
	s->deadline = lab_now_ms() + CONNECT_MS;
}

/* Whether b[0] holds a whole request; then parse it and hand it on. */
static void hd_next(struct sess *s)
{
	struct buf *in = &s->b[0];
	size_t hend = http_head_end(in->data, in->len);

	if (!hend) {
		if (!buf_space(in)) {
			buf_consume(in, in->len);
			memset(&s->hr, 0, sizeof(s->hr));
			s->hr.active = true;
			s->hr.start_ms = lab_now_ms();
			clock_gettime(CLOCK_REALTIME, &s->hr.start_rt);
			hd_local_reply(s, 431, "-", "headers_too_large",
				       "Request Header Fields Too Large");
		}
		return;
	}
	hd_parse(s);
	if (s->state != ST_H_WAIT)
		return;
	if (in->len < s->hr.head_len + s->hr.body_len) {
		/* The body is still on its way: parsed again when it is in. */
		s->state = ST_H_READ;
		s->hr.active = false;
		return;
	}
	stats.http_requests++;
	hd_assign(s);
}

static void hd_start(struct sess *s)
{
	s->kind = S_HDOWN;
	s->state = ST_H_READ;
	s->hr.pc = -1;
	s->deadline = lab_now_ms() + IDLE_MS;
}

/* Events of an HTTP downstream connection. */
static void hd_io(struct sess *s)
{
	struct buf *in = &s->b[0], *o = &s->b[1];
	ssize_t n;

	if (o->len) {
		n = send(s->fd[0], o->data, o->len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(o, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			s->hr.flags = "DC";
			sess_free(s, "reset");
			return;
		}
	}
	if (s->state == ST_H_UP && s->hr.resp_done && !o->len) {
		hd_log(s);
		if (!s->hr.keep_alive) {
			shutdown(s->fd[0], SHUT_WR);
			sess_free(s, "done");
			return;
		}
		s->hr.active = false;
		s->state = ST_H_READ;
		s->deadline = lab_now_ms() + IDLE_MS;
		hd_next(s); /* a pipelined request */
		return;
	}
	if (s->state != ST_H_READ || !buf_space(in))
		return;
	n = recv(s->fd[0], in->data + in->len, buf_space(in), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sess_free(s, n == 0 ? "eof" : "reset");
		return;
	}
	in->len += (size_t)n;
	s->bytes[0] += (uint64_t)n;
	s->deadline = lab_now_ms() + IDLE_MS;
	hd_next(s);
}

static short hd_events(const struct sess *s)
{
	short ev = s->b[1].len ? POLLOUT : 0;

	if (s->state == ST_H_READ && buf_space(&s->b[0]))
		ev |= POLLIN;
	return ev;
}

/*
 * Once per loop: waiting requests try the pools again, responses blocked on
 * a full downstream buffer move on, expired connections close.
 */
static void pool_tick(int64_t now)
{
	int i;

	for (i = 0; i < MAX_PCONN; i++) {
		struct pconn *pc = &pconns[i];

		if (pc->state == PC_FREE)
			continue;
		if (now >= pc->deadline) {
			if (pc->state == PC_CONNECTING)
				pc_close(pc, "connect timeout");
			else
				pc_close(pc, "idle-timeout");
			continue;
		}
		if (pc->in.len)
			pc_parse(pc);
	}
	for (i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[i];

		if (s->kind != S_HDOWN)
			continue;
		if (s->state == ST_H_WAIT)
			hd_assign(s);
		else if (s->state == ST_H_UP && s->hr.resp_done && !s->b[1].len)
			hd_io(s);
	}
}

/* An HTTP session ran out of time. */
static void hd_timeout(struct sess *s)
{
	struct pconn *pc;
	unsigned int gen;

	switch (s->state) {
	case ST_H_WAIT:
		hd_local_reply(
			s, 503, "UO",
			"upstream_reset_before_response_started{overflow}",
			"upstream connect error or disconnect/reset "
			"before headers. reset reason: overflow");
		break;
	case ST_H_UP:
		if (s->hr.resp_done || s->hr.resp_started || s->hr.pc < 0) {
			sess_free(s, "timeout");
			break;
		}
		/* An HTTP/1.1 upstream cannot drop one request: close it. */
		pc = &pconns[s->hr.pc];
		gen = s->hr.pc_gen;
		hd_local_reply(s, 504, "UT", "response_timeout",
			       "upstream request timeout");
		if (pc->gen == gen)
			pc_close(pc, "response timeout");
		break;
	default:
		sess_free(s, "timeout");
		break;
	}
}

/* ---- HTTP: admin, stats, merged metrics, health ----------------------- */

static void prom_text(struct buf *b)
{
	buf_printf(
		b,
		"# TYPE envoy_server_live gauge\n"
		"envoy_server_live 1\n"
		"envoy_listener_downstream_cx_total{listener=\"virtualOutbound\"} %llu\n"
		"envoy_listener_downstream_cx_total{listener=\"virtualInbound\"} %llu\n"
		"envoy_cluster_upstream_cx_total %llu\n"
		"envoy_cluster_upstream_cx_connect_fail %llu\n",
		(unsigned long long)stats.cx_total[L_OUTBOUND],
		(unsigned long long)stats.cx_total[L_INBOUND],
		(unsigned long long)stats.upstream_cx,
		(unsigned long long)stats.upstream_fail);
}

static void envoy_stats_text(struct buf *b)
{
	buf_printf(b,
		   "server.live: 1\n"
		   "listener.0.0.0.0_%d.downstream_cx_total: %llu\n"
		   "listener.0.0.0.0_%d.downstream_cx_total: %llu\n"
		   "cluster_manager.upstream_cx_total: %llu\n"
		   "cluster_manager.upstream_cx_connect_fail: %llu\n"
		   "control_plane.connected_state: %d\n"
		   "dns.local_answers: %llu\n"
		   "dns.forwarded: %llu\n",
		   cfg.outbound_port,
		   (unsigned long long)stats.cx_total[L_OUTBOUND],
		   cfg.inbound_port,
		   (unsigned long long)stats.cx_total[L_INBOUND],
		   (unsigned long long)stats.upstream_cx,
		   (unsigned long long)stats.upstream_fail,
		   stats.xds_up ? 1 : 0, (unsigned long long)stats.dns_local,
		   (unsigned long long)stats.dns_forward);
}

static const char *http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Service Unavailable";
	}
}

/* Answer the request with the body already in scratch[0..len). */
static void http_respond(struct sess *s, int code, const char *ctype,
			 size_t len)
{
	struct buf *o = &s->b[1];

	if (s->fd[1] >= 0) {
		close(s->fd[1]);
		s->fd[1] = -1;
	}
	o->len = 0;
	buf_printf(o,
		   "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
		   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		   code, http_reason(code), ctype, len);
	if (len > buf_space(o))
		len = buf_space(o);
	memcpy(o->data + o->len, scratch, len);
	o->len += len;
	s->state = ST_HTTP_WRITE;
	s->deadline = lab_now_ms() + HTTP_MS;
	if (s->fetch == F_NONE)
		logj("{\"ev\":\"http\",\"listener\":\"%s\",\"client\":\"%s\","
		     "\"local\":\"%s\",\"path\":\"%s\",\"status\":%d}",
		     lkind_name[s->lk], SA(&s->client), SA(&s->local), s->path,
		     code);
	else
		logj("{\"ev\":\"http\",\"listener\":\"%s\",\"client\":\"%s\","
		     "\"local\":\"%s\",\"path\":\"%s\",\"status\":%d,"
		     "\"fetch_src\":\"%s\",\"fetch_dst\":\"%s\"}",
		     lkind_name[s->lk], SA(&s->client), SA(&s->local), s->path,
		     code, SA(&s->up_local), SA(&s->up_peer));
}

static void respond_text(struct sess *s, int code, const char *text)
{
	size_t len = strlen(text);

	memcpy(scratch, text, len);
	http_respond(s, code, "text/plain", len);
}

static void respond_buf(struct sess *s, int code, const char *ctype,
			struct buf *tmp)
{
	memcpy(scratch, tmp->data, tmp->len);
	http_respond(s, code, ctype, tmp->len);
}

static void fetch_start(struct sess *s, enum fetch f)
{
	struct sockaddr_storage dst;
	struct buf *req = &s->b[0];
	char pod[64];

	memset(&dst, 0, sizeof(dst));
	if (f == F_STATS) {
		struct sockaddr_in *in = (struct sockaddr_in *)&dst;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons((uint16_t)cfg.admin_port);
	} else if (cfg.have_istiod) {
		dst = cfg.istiod;
	} else {
		respond_text(s, 503,
			     "{\"ok\":false,\"error\":\"no --istiod\"}\n");
		return;
	}
	s->fetch = f;
	s->up_peer = dst;
	s->fd[1] = open_conn(&dst, NULL, false, 0);
	if (s->fd[1] < 0) {
		respond_text(s, 503, "upstream connect failed\n");
		return;
	}
	req->len = 0;
	if (f == F_STATS)
		buf_printf(req,
			   "GET /stats HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
			   "User-Agent: pilot-agent\r\n\r\n",
			   cfg.admin_port);
	else
		buf_printf(req, "istiod-probe %s\n",
			   jstr(getenv("POD_NAME") ? getenv("POD_NAME") : "pod",
				pod, sizeof(pod)));
	s->b[1].len = 0;
	s->eof[1] = false;
	s->connecting = true;
	s->state = ST_HTTP_FETCH;
	s->deadline = lab_now_ms() + HTTP_MS;
}

static void fetch_done(struct sess *s, bool ok)
{
	static struct buf tmp;
	struct buf *in = &s->b[1];
	char reply[256], line[256];
	size_t n;

	tmp.len = 0;
	if (s->fetch == F_ISTIOD) {
		const uint8_t *nl = memchr(in->data, '\n', in->len);

		ok = ok && nl;
		n = nl ? (size_t)(nl - in->data) : 0;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, in->data, n);
		line[n] = '\0';
		logj("{\"ev\":\"istiod\",\"kind\":\"probe\",\"ok\":%s,"
		     "\"local\":\"%s\",\"remote\":\"%s\"}",
		     ok ? "true" : "false", SA(&s->up_local), SA(&s->up_peer));
		if (ok)
			buf_printf(&tmp,
				   "{\"ok\":true,\"local\":\"%s\","
				   "\"remote\":\"%s\",\"reply\":\"%s\"}\n",
				   SA(&s->up_local), SA(&s->up_peer),
				   jstr(line, reply, sizeof(reply)));
		else
			buf_printf(&tmp,
				   "{\"ok\":false,\"local\":\"%s\","
				   "\"remote\":\"%s\"}\n",
				   SA(&s->up_local), SA(&s->up_peer));
		respond_buf(s, ok ? 200 : 503, "application/json", &tmp);
		return;
	}
	/* Merged metrics: the agent's own lines, then Envoy's answer. */
	if (ok && in->len < 12)
		ok = false;
	if (ok && (memcmp(in->data, "HTTP/1.", 7) || in->data[8] != ' ' ||
		   memcmp(in->data + 9, "200", 3)))
		ok = false;
	if (!ok) {
		respond_text(s, 503, "envoy admin unreachable\n");
		return;
	}
	buf_printf(&tmp,
		   "# TYPE istio_agent_scrapes_total counter\n"
		   "istio_agent_scrapes_total 1\n"
		   "# merged from http://127.0.0.1:%d/stats via %s\n",
		   cfg.admin_port, SA(&s->up_local));
	for (n = 0; n + 3 < in->len; n++)
		if (!memcmp(in->data + n, "\r\n\r\n", 4))
			break;
	n = n + 3 < in->len ? n + 4 : in->len;
	if (in->len - n > buf_space(&tmp))
		n = in->len - buf_space(&tmp);
	memcpy(tmp.data + tmp.len, in->data + n, in->len - n);
	tmp.len += in->len - n;
	respond_buf(s, 200, "text/plain; version=0.0.4", &tmp);
}

static void http_fetch_io(struct sess *s)
{
	struct buf *req = &s->b[0], *in = &s->b[1];
	ssize_t n;
	int err;

	if (s->connecting) {
		socklen_t len = sizeof(s->up_local);

		err = connect_result(s->fd[1]);
		if (err == EINPROGRESS || err == EALREADY)
			return;
		s->connecting = false;
		getsockname(s->fd[1], (struct sockaddr *)&s->up_local, &len);
		if (err) {
			fetch_done(s, false);
			return;
		}
	}
	if (req->len) {
		n = send(s->fd[1], req->data, req->len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(req, (size_t)n);
		else if (n < 0 && errno != EAGAIN) {
			fetch_done(s, false);
			return;
		}
	}
	if (!buf_space(in)) {
		fetch_done(s, true);
		return;
	}
	n = recv(s->fd[1], in->data + in->len, buf_space(in), 0);
	if (n > 0)
		in->len += (size_t)n;
	else if (n == 0)
		s->eof[1] = true;
	else if (errno != EAGAIN) {
		fetch_done(s, false);
		return;
	}
	if (s->eof[1] ||
	    (s->fetch == F_ISTIOD && memchr(in->data, '\n', in->len)))
		fetch_done(s, true);
}

static void http_dispatch(struct sess *s)
{
	static struct buf tmp;
	struct buf *req = &s->b[0];
	char *sp, *end;
	size_t n;

	req->data[req->len < BUF_SIZE ? req->len : BUF_SIZE - 1] = '\0';
	s->path[0] = '\0';
	if (strncmp((char *)req->data, "GET ", 4)) {
		respond_text(s, 405, "only GET\n");
		return;
	}
	sp = (char *)req->data + 4;
	end = sp + strcspn(sp, " ?\r\n");
	n = (size_t)(end - sp);
	if (n >= sizeof(s->path))
		n = sizeof(s->path) - 1;
	memcpy(s->path, sp, n);
	s->path[n] = '\0';
	for (n = 0; s->path[n]; n++)
		if (s->path[n] == '"' || s->path[n] == '\\')
			s->path[n] = '_';
	stats.http_requests++;
	tmp.len = 0;
	switch (s->lk) {
	case L_ADMIN:
		if (!strcmp(s->path, "/stats")) {
			envoy_stats_text(&tmp);
			respond_buf(s, 200, "text/plain", &tmp);
		} else if (!strcmp(s->path, "/stats/prometheus")) {
			prom_text(&tmp);
			respond_buf(s, 200, "text/plain; version=0.0.4", &tmp);
		} else if (!strcmp(s->path, "/healthz") ||
			   !strcmp(s->path, "/ready")) {
			respond_text(s, 200, "LIVE\n");
		} else if (!strcmp(s->path, "/connect-istiod")) {
			fetch_start(s, F_ISTIOD);
		} else {
			respond_text(s, 404, "not found\n");
		}
		break;
	case L_STATS:
		if (!strncmp(s->path, "/stats", 6)) {
			prom_text(&tmp);
			respond_buf(s, 200, "text/plain; version=0.0.4", &tmp);
		} else {
			respond_text(s, 404, "not found\n");
		}
		break;
	case L_AGENT:
		if (!strncmp(s->path, "/stats", 6) ||
		    !strcmp(s->path, "/metrics"))
			fetch_start(s, F_STATS);
		else if (!strcmp(s->path, "/healthz/ready"))
			respond_text(s, 200, "ready\n");
		else
			respond_text(s, 404, "not found\n");
		break;
	case L_HEALTH:
		if (!strcmp(s->path, "/healthz/ready"))
			respond_text(s, 200, "ready\n");
		else
			respond_text(s, 404, "not found\n");
		break;
	default:
		respond_text(s, 404, "not found\n");
		break;
	}
}

static void http_io(struct sess *s)
{
	struct buf *req = &s->b[0], *o = &s->b[1];
	ssize_t n;

	switch (s->state) {
	case ST_HTTP_READ:
		/* One byte kept back for the terminating NUL of dispatch. */
		n = recv(s->fd[0], req->data + req->len, buf_space(req) - 1, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0 || (n == 0 && !req->len)) {
			sess_free(s, n ? "reset" : "eof");
			return;
		}
		if (n == 0) {
			/* Half-closed after a request without a blank line. */
			http_dispatch(s);
			return;
		}
		req->len += (size_t)n;
		req->data[req->len] = '\0';
		if (strstr((char *)req->data, "\r\n\r\n") ||
		    strstr((char *)req->data, "\n\n") || buf_space(req) <= 1)
			http_dispatch(s);
		break;
	case ST_HTTP_FETCH:
		http_fetch_io(s);
		break;
	case ST_HTTP_WRITE:
		n = send(s->fd[0], o->data, o->len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			sess_free(s, "reset");
			return;
		}
		buf_consume(o, (size_t)n);
		if (!o->len) {
			shutdown(s->fd[0], SHUT_WR);
			sess_free(s, "done");
		}
		break;
	default:
		break;
	}
}

/* ---- DNS proxy -------------------------------------------------------- */

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

/*
 * Answer from the built-in table: > 0 length of the answer in @out, 0 when
 * the query is to be forwarded, -1 when it is malformed.
 */
static long dns_local(const uint8_t *m, size_t len, struct lab_dns_q *q,
		      uint8_t *out, size_t size)
{
	uint8_t addr[16];
	size_t i;

	if (lab_dns_parse_query(m, len, q) < 0)
		return -1;
	if (!ends_with_ci(q->name, ".svc.cluster.local"))
		return 0;
	for (i = 0; i < ST_ARRAY_SIZE(dns_table); i++) {
		const struct dns_entry *e = &dns_table[i];

		if (strcasecmp(e->name, q->name))
			continue;
		if (q->qtype == LAB_DNS_TYPE_A &&
		    inet_pton(AF_INET, e->a, addr) == 1)
			return lab_dns_answer(m, q, out, size, 0, addr, 4);
		if (q->qtype == LAB_DNS_TYPE_AAAA &&
		    inet_pton(AF_INET6, e->aaaa, addr) == 1)
			return lab_dns_answer(m, q, out, size, 0, addr, 16);
		return lab_dns_answer(m, q, out, size, 0, NULL, 0);
	}
	return 0;
}

static const struct sockaddr_storage *pick_upstream(int family)
{
	int i;

	for (i = 0; i < cfg.n_upstream; i++)
		if (cfg.upstream[i].ss_family == family)
			return &cfg.upstream[i];
	return cfg.n_upstream ? &cfg.upstream[0] : NULL;
}

static void log_dns(const char *proto, const struct sockaddr_storage *client,
		    const struct sockaddr_storage *local, const char *name,
		    int qtype, bool forward,
		    const struct sockaddr_storage *usrc,
		    const struct sockaddr_storage *udst, bool ok)
{
	char jn[300];

	if (!forward)
		logj("{\"ev\":\"dns\",\"proto\":\"%s\",\"client\":\"%s\","
		     "\"local\":\"%s\",\"name\":\"%s\",\"qtype\":%d,"
		     "\"answer\":\"local\",\"ok\":%s}",
		     proto, SA(client), SA(local), jstr(name, jn, sizeof(jn)),
		     qtype, ok ? "true" : "false");
	else if (!usrc)
		logj("{\"ev\":\"dns\",\"proto\":\"%s\",\"client\":\"%s\","
		     "\"local\":\"%s\",\"name\":\"%s\",\"qtype\":%d,"
		     "\"answer\":\"forward\",\"upstream_dst\":\"%s\","
		     "\"ok\":%s}",
		     proto, SA(client), SA(local), jstr(name, jn, sizeof(jn)),
		     qtype, SA(udst), ok ? "true" : "false");
	else
		logj("{\"ev\":\"dns\",\"proto\":\"%s\",\"client\":\"%s\","
		     "\"local\":\"%s\",\"name\":\"%s\",\"qtype\":%d,"
		     "\"answer\":\"forward\",\"upstream_src\":\"%s\","
		     "\"upstream_dst\":\"%s\",\"ok\":%s}",
		     proto, SA(client), SA(local), jstr(name, jn, sizeof(jn)),
		     qtype, SA(usrc), SA(udst), ok ? "true" : "false");
}

static void dns_udp_query(struct listener *l)
{
	static uint8_t q[LAB_DNS_MAX + 512], a[LAB_DNS_MAX + 512];
	const struct sockaddr_storage *up;
	struct lab_dgram d;
	struct lab_dns_q pq;
	struct dnsu *u = NULL;
	ssize_t n;
	long r;
	int i;

	n = lab_recv_dgram(l->fd, q, sizeof(q), &d);
	if (n < 0)
		return;
	lab_sa_set_port(&d.local, cfg.dns_port);
	l->accepted++;
	stats.cx_total[L_DNS_UDP]++;
	r = dns_local(q, (size_t)n, &pq, a, sizeof(a));
	if (r < 0)
		return;
	if (r > 0) {
		stats.dns_local++;
		lab_send_dgram(l->fd, a, (size_t)r, &d);
		log_dns("udp", &d.peer, &d.local, pq.name, pq.qtype, false,
			NULL, NULL, true);
		return;
	}
	up = pick_upstream(d.peer.ss_family);
	for (i = 0; i < MAX_DNSU && up; i++) {
		if (dnsus[i].fd < 0) {
			u = &dnsus[i];
			break;
		}
	}
	if (!u) {
		log_dns("udp", &d.peer, &d.local, pq.name, pq.qtype, true,
			&d.local, up ? up : &d.local, false);
		return;
	}
	/* A socket of our own, so the query leaves with the proxy's uid. */
	u->fd = socket(up->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (u->fd < 0)
		return;
	if (set_mark(u->fd) < 0) {
		close(u->fd);
		u->fd = -1;
		return;
	}
	u->lfd = l->fd;
	u->id = pq.id;
	u->client = d;
	u->up_peer = *up;
	u->qtype = pq.qtype;
	snprintf(u->name, sizeof(u->name), "%s", pq.name);
	u->deadline = lab_now_ms() + DNS_MS;
	if (connect(u->fd, (const struct sockaddr *)up, lab_sa_len(up)) < 0 ||
	    send(u->fd, q, (size_t)n, 0) < 0) {
		log_dns("udp", &d.peer, &d.local, pq.name, pq.qtype, true,
			&u->up_local, up, false);
		close(u->fd);
		u->fd = -1;
		return;
	}
	{
		socklen_t len = sizeof(u->up_local);

		getsockname(u->fd, (struct sockaddr *)&u->up_local, &len);
	}
	stats.dns_forward++;
}

static void dnsu_answer(struct dnsu *u)
{
	static uint8_t a[LAB_DNS_MAX + 512];
	ssize_t n;

	n = recv(u->fd, a, sizeof(a), 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n >= 2 && st_get_be16(a) == u->id) {
		lab_send_dgram(u->lfd, a, (size_t)n, &u->client);
		log_dns("udp", &u->client.peer, &u->client.local, u->name,
			u->qtype, true, &u->up_local, &u->up_peer, true);
	} else {
		log_dns("udp", &u->client.peer, &u->client.local, u->name,
			u->qtype, true, &u->up_local, &u->up_peer, false);
	}
	close(u->fd);
	u->fd = -1;
}

/* DNS over TCP: answer locally, or turn into a relay to the upstream. */
static void dns_tcp_io(struct sess *s)
{
	static uint8_t a[LAB_DNS_MAX + 512];
	struct buf *in = &s->b[0], *o = &s->b[1];
	struct lab_dns_q pq;
	ssize_t n;
	long r;

	if (o->len) {
		n = send(s->fd[0], o->data, o->len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(o, (size_t)n);
		else if (n < 0 && errno != EAGAIN) {
			sess_free(s, "reset");
			return;
		}
	}
	if (!s->eof[0] && buf_space(in)) {
		n = recv(s->fd[0], in->data + in->len, buf_space(in), 0);
		if (n > 0)
			in->len += (size_t)n;
		else if (n == 0)
			s->eof[0] = true;
		else if (errno != EAGAIN) {
			sess_free(s, "reset");
			return;
		}
	}
	while (st_have(0, 2, in->len)) {
		size_t mlen = st_get_be16(in->data);
		const struct sockaddr_storage *up;

		if (!st_have(2, mlen, in->len))
			break;
		r = dns_local(in->data + 2, mlen, &pq, a, sizeof(a));
		if (r > 0 && (size_t)r + 2 <= buf_space(o)) {
			lab_put_be16(o->data + o->len, (uint16_t)r);
			memcpy(o->data + o->len + 2, a, (size_t)r);
			o->len += (size_t)r + 2;
			buf_consume(in, mlen + 2);
			stats.dns_local++;
			log_dns("tcp", &s->client, &s->local, pq.name, pq.qtype,
				false, NULL, NULL, true);
			continue;
		}
		if (r > 0)
			break; /* no room yet for the answer */
		up = pick_upstream(s->client.ss_family);
		if (r < 0 || !up) {
			sess_free(s, "malformed");
			return;
		}
		/* The rest of the connection goes to the upstream as is. */
		stats.dns_forward++;
		s->up_peer = *up;
		log_dns("tcp", &s->client, &s->local, pq.name, pq.qtype, true,
			NULL, up, true);
		if (relay_start(s, NULL, false) < 0)
			sess_free(s, "connect-failed");
		return;
	}
	if (s->eof[0] && !o->len) {
		sess_free(s, "eof");
		return;
	}
	s->deadline = lab_now_ms() + HTTP_MS;
}

/* ---- XDS stream to istiod --------------------------------------------- */

static void xds_start(void)
{
	struct sess *s;

	xds_retry_at = -1;
	if (!cfg.have_istiod)
		return;
	s = sess_new(S_XDS, L_NONE);
	if (!s) {
		xds_retry_at = lab_now_ms() + XDS_RETRY_MS;
		return;
	}
	s->up_peer = cfg.istiod;
	s->fd[1] = open_conn(&cfg.istiod, NULL, false, 0);
	if (s->fd[1] < 0) {
		sess_free(s, strerror(errno));
		return;
	}
	s->connecting = true;
	s->state = ST_CONNECTING;
	s->deadline = lab_now_ms() + CONNECT_MS;
}

static void xds_io(struct sess *s)
{
	struct buf *in = &s->b[1], *o = &s->b[0];
	char pod[64];
	ssize_t n;

	if (s->connecting) {
		socklen_t len = sizeof(s->up_local);
		int err = connect_result(s->fd[1]);

		if (err == EINPROGRESS || err == EALREADY)
			return;
		if (err) {
			sess_free(s, strerror(err));
			return;
		}
		getsockname(s->fd[1], (struct sockaddr *)&s->up_local, &len);
		s->connecting = false;
		s->state = ST_XDS;
		s->deadline = INT64_MAX;
		stats.xds_up = true;
		stats.xds_connects++;
		logj("{\"ev\":\"istiod\",\"kind\":\"xds\",\"ok\":true,"
		     "\"local\":\"%s\",\"remote\":\"%s\"}",
		     SA(&s->up_local), SA(&s->up_peer));
		buf_printf(o, "xds-stream %s\n",
			   jstr(getenv("POD_NAME") ? getenv("POD_NAME") : "pod",
				pod, sizeof(pod)));
	}
	if (o->len) {
		n = send(s->fd[1], o->data, o->len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(o, (size_t)n);
		else if (n < 0 && errno != EAGAIN) {
			sess_free(s, "reset");
			return;
		}
	}
	/* istiod's pushes are read and dropped. */
	n = recv(s->fd[1], in->data, sizeof(in->data), 0);
	if (n == 0)
		sess_free(s, "eof");
	else if (n < 0 && errno != EAGAIN)
		sess_free(s, "reset");
}

/* ---- accepting -------------------------------------------------------- */

/* A connection of our own pools came back to a capture listener. */
static bool pool_own_conn(const struct sockaddr_storage *peer)
{
	int i;

	for (i = 0; i < MAX_PCONN; i++)
		if (pconns[i].state != PC_FREE &&
		    lab_sa_equal(&pconns[i].local, peer))
			return true;
	return false;
}

static void accept_one(struct listener *l)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct sess *s;
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	l->accepted++;
	stats.cx_total[l->kind]++;
	s = sess_new(S_HTTP, l->kind);
	if (!s) {
		stats.refused++;
		logj("{\"ev\":\"relay\",\"listener\":\"%s\",\"ok\":false,"
		     "\"client\":\"%s\",\"error\":\"too many connections\"}",
		     lkind_name[l->kind], SA(&peer));
		close(fd);
		return;
	}
	s->fd[0] = fd;
	s->client = peer;
	len = sizeof(s->local);
	getsockname(fd, (struct sockaddr *)&s->local, &len);
	s->deadline = lab_now_ms() + HTTP_MS;
	s->start_ms = lab_now_ms();
	clock_gettime(CLOCK_REALTIME, &s->start_rt);

	switch (l->kind) {
	case L_OUTBOUND:
	case L_INBOUND:
	case L_HBONE: {
		static struct sockaddr_storage src6, src4, client;
		const struct sockaddr_storage *src = NULL;
		int port, i;

		original_dst(fd, &s->orig);
		s->up_peer = s->orig;
		port = lab_sa_port(&s->orig);
		if (((port == cfg.outbound_port || port == cfg.inbound_port) &&
		     is_local_addr(&s->orig)) ||
		    pool_own_conn(&s->client)) {
			stats.refused++;
			log_relay_fail(s, "loop");
			sess_free(s, "loop");
			return;
		}
		if (cfg.single_capture && l->kind == L_OUTBOUND &&
		    (lab_sa_same_ip(&s->orig, &cfg.pod_ip) ||
		     (cfg.have_ip6 &&
		      lab_sa_same_ip(&s->orig, &cfg.pod_ip6)))) {
			/*
			 * Envoy 1.1's inbound listener for the pod's own
			 * address: upstream to the app on loopback.
			 */
			s->lk = L_INBOUND;
			lab_parse_addr(s->orig.ss_family == AF_INET6
					       ? "::1"
					       : "127.0.0.1",
				       port, &s->up_peer);
			if (relay_start(s, NULL, false) < 0)
				sess_free(s, "connect-failed");
			break;
		}
		if (l->kind == L_HBONE)
			/* Not redirected: the app's port stands for CONNECT. */
			lab_sa_set_port(&s->up_peer, cfg.hbone_target);
		if (cfg.ambient && l->kind != L_OUTBOUND) {
			/* ztunnel keeps the client's address as the source. */
			client = s->client;
			lab_sa_set_port(&client, 0);
			if (relay_start(s, &client, true) < 0)
				sess_free(s, "connect-failed");
			break;
		}
		if (l->kind == L_OUTBOUND) {
			for (i = 0; i < cfg.n_vips; i++) {
				if (lab_sa_equal(&cfg.vips[i].vip, &s->orig)) {
					s->up_peer = cfg.vips[i].ep;
					s->vip = true;
					break;
				}
			}
		} else {
			/* InboundPassthroughCluster's upstream bind address. */
			lab_parse_addr("127.0.0.6", 0, &src4);
			lab_parse_addr("::6", 0, &src6);
			src = s->orig.ss_family == AF_INET6 ? &src6 : &src4;
		}
		if (http_port(port) && !cfg.ambient && !cfg.single_capture) {
			hd_start(s);
			break;
		}
		if (relay_start(s, src, false) < 0)
			sess_free(s, "connect-failed");
		break;
	}
	case L_DNS_TCP:
		original_dst(fd, &s->orig);
		s->kind = S_DNS;
		s->state = ST_DNS_READ;
		break;
	default:
		s->state = ST_HTTP_READ;
		break;
	}
}

/* ---- set-up ----------------------------------------------------------- */

static void add_listener(enum lkind kind, int type, const char *addr, int port,
			 bool transparent, bool optional)
{
	struct sockaddr_storage ss;
	char err[256];
	int fd;

	if (n_listeners >= MAX_LISTEN)
		die("too many listeners");
	if (lab_parse_addr(addr, port, &ss) < 0)
		die("bad listen address %s", addr);
	fd = lab_listen(type, &ss, transparent, err, sizeof(err));
	if (fd < 0) {
		if (optional)
			return;
		die("%s", err);
	}
	/* Accepted sockets inherit it: their replies carry the mark too. */
	if (set_mark(fd) < 0)
		die("SO_MARK 0x%x: %s", cfg.mark, strerror(errno));
	listeners[n_listeners].fd = fd;
	listeners[n_listeners].kind = kind;
	n_listeners++;
}

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

/* A number (0x allowed) up to @max. */
static unsigned long parse_uint(const char *s, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || *s == '-' || v > max)
		die("bad number %s", s);
	return v;
}

/* "9080,80": the ports Istio would treat as HTTP (by name or sniffing). */
static void parse_http_ports(const char *list)
{
	char tmp[256], *tok, *save = NULL;

	snprintf(tmp, sizeof(tmp), "%s", list);
	for (tok = strtok_r(tmp, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg.n_http_ports >= MAX_HTTP_PORTS)
			die("too many --http-ports");
		cfg.http_ports[cfg.n_http_ports++] = parse_port(tok);
	}
	if (!cfg.n_http_ports)
		die("bad --http-ports %s", list);
}

static void usage(FILE *f)
{
	fputs("usage: st-sidecar --pod-ip IP [--pod-ip6 IP6] [--outbound-port 15001]\n"
	      "         [--inbound-port 15006] [--tproxy] [--dns-port 15053\n"
	      "         --dns-upstream IP[:PORT]...] [--istiod HOST:PORT]\n"
	      "         [--vip VIP:PORT=EP:PORT]... [--pidfile F] [--log F]\n"
	      "         [--admin-port 15000] [--stats-port 15090]\n"
	      "         [--agent-port 15020] [--health-port 15021]\n"
	      "         [--single-capture] [--ambient [--mark 0x539]\n"
	      "         [--hbone-port 15008] [--hbone-target 9080]]\n"
	      "         [--http-ports PORT,... [--pool-idle-ms 60000]\n"
	      "         [--pool-max-requests 0] [--h2] [--original-src\n"
	      "         [--tproxy-mark 1337]]] [--access-log F\n"
	      "         [--access-log-cri] [--access-log-json]]\n",
	      f);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pod-ip", required_argument, NULL, 'p'},
		{"pod-ip6", required_argument, NULL, 'P'},
		{"outbound-port", required_argument, NULL, 'o'},
		{"inbound-port", required_argument, NULL, 'i'},
		{"tproxy", no_argument, NULL, 't'},
		{"dns-port", required_argument, NULL, 'd'},
		{"dns-upstream", required_argument, NULL, 'u'},
		{"istiod", required_argument, NULL, 'I'},
		{"vip", required_argument, NULL, 'v'},
		{"pidfile", required_argument, NULL, 'f'},
		{"log", required_argument, NULL, 'l'},
		{"admin-port", required_argument, NULL, 'A'},
		{"stats-port", required_argument, NULL, 'S'},
		{"agent-port", required_argument, NULL, 'G'},
		{"health-port", required_argument, NULL, 'H'},
		{"single-capture", no_argument, NULL, '1'},
		{"ambient", no_argument, NULL, 'a'},
		{"mark", required_argument, NULL, 'm'},
		{"hbone-port", required_argument, NULL, 'B'},
		{"hbone-target", required_argument, NULL, 'T'},
		{"http-ports", required_argument, NULL, 'W'},
		{"pool-idle-ms", required_argument, NULL, 'L'},
		{"pool-max-requests", required_argument, NULL, 'R'},
		{"h2", no_argument, NULL, '2'},
		{"original-src", no_argument, NULL, 'O'},
		{"tproxy-mark", required_argument, NULL, 'K'},
		{"access-log", required_argument, NULL, 'x'},
		{"access-log-cri", no_argument, NULL, 'C'},
		{"access-log-json", no_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool have_ip = false;
	char tmp[128];
	char *eq;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (lab_parse_addr(optarg, 0, &cfg.pod_ip) < 0 ||
			    cfg.pod_ip.ss_family != AF_INET)
				die("bad --pod-ip %s", optarg);
			have_ip = true;
			break;
		case 'P':
			if (lab_parse_addr(optarg, 0, &cfg.pod_ip6) < 0 ||
			    cfg.pod_ip6.ss_family != AF_INET6)
				die("bad --pod-ip6 %s", optarg);
			cfg.have_ip6 = true;
			break;
		case 'o':
			cfg.outbound_port = parse_port(optarg);
			break;
		case 'i':
			cfg.inbound_port = parse_port(optarg);
			break;
		case 't':
			cfg.tproxy = true;
			break;
		case 'd':
			cfg.dns_port = parse_port(optarg);
			break;
		case 'u':
			if (cfg.n_upstream >= MAX_UPSTREAM ||
			    lab_parse_addr(optarg, 53,
					   &cfg.upstream[cfg.n_upstream]) < 0)
				die("bad --dns-upstream %s", optarg);
			cfg.n_upstream++;
			break;
		case 'I':
			if (lab_parse_addr(optarg, 15012, &cfg.istiod) < 0)
				die("bad --istiod %s", optarg);
			cfg.have_istiod = true;
			break;
		case 'v':
			snprintf(tmp, sizeof(tmp), "%s", optarg);
			eq = strchr(tmp, '=');
			if (!eq || cfg.n_vips >= MAX_VIP)
				die("bad --vip %s", optarg);
			*eq = '\0';
			if (lab_parse_addr(tmp, -1, &cfg.vips[cfg.n_vips].vip) <
				    0 ||
			    lab_parse_addr(
				    eq + 1,
				    lab_sa_port(&cfg.vips[cfg.n_vips].vip),
				    &cfg.vips[cfg.n_vips].ep) < 0)
				die("bad --vip %s", optarg);
			cfg.n_vips++;
			break;
		case 'f':
			cfg.pidfile = optarg;
			break;
		case 'l':
			cfg.logfile = optarg;
			break;
		case 'A':
			cfg.admin_port = parse_port(optarg);
			break;
		case 'S':
			cfg.stats_port = parse_port(optarg);
			break;
		case 'G':
			cfg.agent_port = parse_port(optarg);
			break;
		case 'H':
			cfg.health_port = parse_port(optarg);
			break;
		case '1':
			cfg.single_capture = true;
			break;
		case 'a':
			cfg.ambient = true;
			break;
		case 'm':
			errno = 0;
			cfg.mark = (unsigned int)strtoul(optarg, &eq, 0);
			if (errno || *eq || !cfg.mark)
				die("bad --mark %s", optarg);
			break;
		case 'B':
			cfg.hbone_port = parse_port(optarg);
			break;
		case 'T':
			cfg.hbone_target = parse_port(optarg);
			break;
		case 'W':
			parse_http_ports(optarg);
			break;
		case 'L':
			cfg.pool_idle_ms = (int)parse_uint(optarg, INT_MAX);
			if (!cfg.pool_idle_ms)
				die("bad --pool-idle-ms %s", optarg);
			break;
		case 'R':
			cfg.pool_max_requests =
				(unsigned int)parse_uint(optarg, UINT_MAX);
			break;
		case '2':
			cfg.h2 = true;
			break;
		case 'O':
			cfg.original_src = true;
			break;
		case 'K':
			cfg.tproxy_mark =
				(unsigned int)parse_uint(optarg, UINT_MAX);
			if (!cfg.tproxy_mark)
				die("bad --tproxy-mark %s", optarg);
			break;
		case 'x':
			cfg.access_log = optarg;
			break;
		case 'C':
			cfg.access_log_cri = true;
			break;
		case 'J':
			cfg.access_log_json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !have_ip) {
		usage(stderr);
		exit(2);
	}
	if (cfg.dns_port && !cfg.n_upstream)
		die("--dns-port needs --dns-upstream");
	if (cfg.ambient && (cfg.tproxy || cfg.single_capture))
		die("--ambient excludes --tproxy and --single-capture");
	if (cfg.single_capture && cfg.tproxy)
		die("--single-capture is a REDIRECT mode");
	if (cfg.ambient && !cfg.mark)
		cfg.mark = 0x539;
	if (cfg.n_http_ports && (cfg.ambient || cfg.single_capture))
		die("--http-ports needs the sidecar mode");
	if ((cfg.h2 || cfg.original_src) && !cfg.n_http_ports)
		die("--h2 and --original-src need --http-ports");
	if (cfg.original_src && !cfg.tproxy)
		die("--original-src is a TPROXY mode");
	if ((cfg.access_log_cri || cfg.access_log_json) && !cfg.access_log)
		die("--access-log-cri and --access-log-json need --access-log");
}

/* ztunnel's ports inside the pod: captures, HBONE and DNS, nothing else. */
static void setup_ambient(void)
{
	static const char *const any[] = {"0.0.0.0", "::"};
	int i;

	for (i = 0; i < 2; i++) {
		bool opt = i == 1 && !cfg.have_ip6;

		add_listener(L_OUTBOUND, SOCK_STREAM, any[i], cfg.outbound_port,
			     false, opt);
		add_listener(L_INBOUND, SOCK_STREAM, any[i], cfg.inbound_port,
			     false, opt);
		add_listener(L_HBONE, SOCK_STREAM, any[i], cfg.hbone_port,
			     false, opt);
		if (cfg.dns_port) {
			add_listener(L_DNS_UDP, SOCK_DGRAM, any[i],
				     cfg.dns_port, false, opt);
			add_listener(L_DNS_TCP, SOCK_STREAM, any[i],
				     cfg.dns_port, false, opt);
		}
	}
}

static void setup(void)
{
	bool v6 = cfg.have_ip6;
	bool tp = cfg.tproxy;
	bool in = !cfg.single_capture;

	if (cfg.ambient) {
		setup_ambient();
		return;
	}
	add_listener(L_OUTBOUND, SOCK_STREAM, "0.0.0.0", cfg.outbound_port,
		     false, false);
	if (in)
		add_listener(L_INBOUND, SOCK_STREAM, "0.0.0.0",
			     cfg.inbound_port, tp, false);
	add_listener(L_ADMIN, SOCK_STREAM, "127.0.0.1", cfg.admin_port, false,
		     false);
	add_listener(L_STATS, SOCK_STREAM, "0.0.0.0", cfg.stats_port, false,
		     false);
	add_listener(L_AGENT, SOCK_STREAM, "0.0.0.0", cfg.agent_port, false,
		     false);
	add_listener(L_HEALTH, SOCK_STREAM, "0.0.0.0", cfg.health_port, false,
		     false);
	if (cfg.dns_port) {
		add_listener(L_DNS_UDP, SOCK_DGRAM, "0.0.0.0", cfg.dns_port,
			     false, false);
		add_listener(L_DNS_TCP, SOCK_STREAM, "0.0.0.0", cfg.dns_port,
			     false, false);
	}
	/* The IPv6 twins: required when the pod is dual-stack. */
	add_listener(L_OUTBOUND, SOCK_STREAM, "::", cfg.outbound_port, false,
		     !v6);
	if (in)
		add_listener(L_INBOUND, SOCK_STREAM, "::", cfg.inbound_port, tp,
			     !v6);
	add_listener(L_STATS, SOCK_STREAM, "::", cfg.stats_port, false, !v6);
	add_listener(L_AGENT, SOCK_STREAM, "::", cfg.agent_port, false, !v6);
	add_listener(L_HEALTH, SOCK_STREAM, "::", cfg.health_port, false, !v6);
	if (cfg.dns_port) {
		add_listener(L_DNS_UDP, SOCK_DGRAM, "::", cfg.dns_port, false,
			     !v6);
		add_listener(L_DNS_TCP, SOCK_STREAM, "::", cfg.dns_port, false,
			     !v6);
	}
}

static void write_pidfile(void)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!cfg.pidfile)
		return;
	/* Written whole and renamed: its presence means "ready". */
	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.pidfile);
	f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, cfg.pidfile) < 0)
		die("%s: %s", cfg.pidfile, strerror(errno));
}

/* ---- the loop --------------------------------------------------------- */

enum ptype { P_LISTEN, P_SESS, P_DNSU, P_POOL };

struct pmap {
	enum ptype type;
	int idx;
	int side;
	unsigned int gen;
};

static short sess_events(const struct sess *s, int side)
{
	short ev = 0;

	if (s->kind == S_HDOWN)
		return side == 0 ? hd_events(s) : 0;
	switch (s->state) {
	case ST_CONNECTING:
	case ST_RELAY:
		if (side == 1 && s->connecting)
			return POLLOUT;
		if (!s->eof[side] && buf_space(&s->b[side]))
			ev |= POLLIN;
		if (s->b[!side].len)
			ev |= POLLOUT;
		return ev;
	case ST_HTTP_READ:
		return side == 0 ? POLLIN : 0;
	case ST_HTTP_FETCH:
		if (side == 0)
			return 0;
		return s->connecting
			       ? POLLOUT
			       : (short)(POLLIN | (s->b[0].len ? POLLOUT : 0));
	case ST_HTTP_WRITE:
		return side == 0 ? POLLOUT : 0;
	case ST_DNS_READ:
		if (side == 1)
			return 0;
		return (short)((s->eof[0] ? 0 : POLLIN) |
			       (s->b[1].len ? POLLOUT : 0));
	case ST_XDS:
		return (short)(POLLIN | (s->b[0].len ? POLLOUT : 0));
	default:
		break;
	}
	return 0;
}

static void sess_event(struct sess *s, int side)
{
	int r;

	switch (s->kind) {
	case S_RELAY:
		if (side == 1 && s->connecting) {
			relay_connected(s);
			if (s->kind == S_FREE)
				return;
		}
		r = relay_pump(s);
		if (r < 0)
			sess_free(s, "reset");
		else if (r > 0)
			sess_free(s, "eof");
		break;
	case S_HTTP:
		http_io(s);
		break;
	case S_DNS:
		dns_tcp_io(s);
		break;
	case S_XDS:
		xds_io(s);
		break;
	case S_HDOWN:
		hd_io(s);
		break;
	case S_FREE:
		break;
	}
}

static void timeouts(int64_t now)
{
	int i;

	for (i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[i];

		if (s->kind == S_FREE || now < s->deadline)
			continue;
		if (s->kind == S_HDOWN) {
			hd_timeout(s);
			continue;
		}
		if (s->kind == S_RELAY && s->connecting) {
			stats.upstream_fail++;
			log_relay_fail(s, "connect timeout");
		} else if (s->kind == S_HTTP && s->state == ST_HTTP_FETCH) {
			fetch_done(s, false);
			continue;
		}
		sess_free(s, "timeout");
	}
	for (i = 0; i < MAX_DNSU; i++) {
		struct dnsu *u = &dnsus[i];

		if (u->fd < 0 || now < u->deadline)
			continue;
		log_dns("udp", &u->client.peer, &u->client.local, u->name,
			u->qtype, true, &u->up_local, &u->up_peer, false);
		close(u->fd);
		u->fd = -1;
	}
	if (xds_retry_at >= 0 && now >= xds_retry_at)
		xds_start();
}

static void run(const sigset_t *waitmask)
{
	static struct pollfd
		pfd[MAX_LISTEN + 2 * MAX_SESS + MAX_DNSU + MAX_PCONN];
	static struct pmap
		map[MAX_LISTEN + 2 * MAX_SESS + MAX_DNSU + MAX_PCONN];

	while (!stop_signal) {
		int64_t now = lab_now_ms(), next = now + 1000;
		struct timespec ts;
		int n = 0, i, side, r;

		for (i = 0; i < n_listeners; i++) {
			pfd[n] = (struct pollfd){listeners[i].fd, POLLIN, 0};
			map[n++] = (struct pmap){P_LISTEN, i, 0, 0};
		}
		for (i = 0; i < MAX_SESS; i++) {
			struct sess *s = &sessions[i];

			if (s->kind == S_FREE)
				continue;
			if (s->deadline < next)
				next = s->deadline;
			for (side = 0; side < 2; side++) {
				if (s->fd[side] < 0)
					continue;
				pfd[n] = (struct pollfd){
					s->fd[side], sess_events(s, side), 0};
				map[n++] =
					(struct pmap){P_SESS, i, side, s->gen};
			}
		}
		for (i = 0; i < MAX_DNSU; i++) {
			if (dnsus[i].fd < 0)
				continue;
			if (dnsus[i].deadline < next)
				next = dnsus[i].deadline;
			pfd[n] = (struct pollfd){dnsus[i].fd, POLLIN, 0};
			map[n++] = (struct pmap){P_DNSU, i, 0, 0};
		}
		for (i = 0; i < MAX_PCONN; i++) {
			struct pconn *pc = &pconns[i];

			if (pc->state == PC_FREE)
				continue;
			if (pc->deadline < next)
				next = pc->deadline;
			pfd[n] = (struct pollfd){pc->fd, pc_events(pc), 0};
			map[n++] = (struct pmap){P_POOL, i, 0, pc->gen};
		}
		if (xds_retry_at >= 0 && xds_retry_at < next)
			next = xds_retry_at;
		if (next < now)
			next = now;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = (long)((next - now) % 1000) * 1000000;
		r = ppoll(pfd, (nfds_t)n, &ts, waitmask);
		if (r < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
		for (i = 0; r > 0 && i < n; i++) {
			struct sess *s;

			if (!pfd[i].revents)
				continue;
			switch (map[i].type) {
			case P_LISTEN:
				if (listeners[map[i].idx].kind == L_DNS_UDP)
					dns_udp_query(&listeners[map[i].idx]);
				else
					accept_one(&listeners[map[i].idx]);
				break;
			case P_SESS:
				s = &sessions[map[i].idx];
				/* Freed (and maybe reused) earlier this round. */
				if (s->kind == S_FREE || s->gen != map[i].gen ||
				    s->fd[map[i].side] != pfd[i].fd)
					break;
				sess_event(s, map[i].side);
				break;
			case P_DNSU:
				if (dnsus[map[i].idx].fd == pfd[i].fd)
					dnsu_answer(&dnsus[map[i].idx]);
				break;
			case P_POOL:
				if (pconns[map[i].idx].state != PC_FREE &&
				    pconns[map[i].idx].gen == map[i].gen &&
				    pconns[map[i].idx].fd == pfd[i].fd)
					pc_io(&pconns[map[i].idx]);
				break;
			}
		}
		pool_tick(lab_now_ms());
		timeouts(lab_now_ms());
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, waitmask;
	int i;

	parse_args(argc, argv);
	/* What ps and /proc/PID/comm show: the proxy, as in istio-proxy. */
	prctl(PR_SET_NAME, cfg.ambient ? "ztunnel" : "envoy", 0, 0, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Signals are only delivered inside ppoll(): no lost wake-up. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	for (i = 0; i < MAX_SESS; i++)
		sessions[i].fd[0] = sessions[i].fd[1] = -1;
	for (i = 0; i < MAX_DNSU; i++)
		dnsus[i].fd = -1;
	for (i = 0; i < MAX_PCONN; i++)
		pconns[i].fd = -1;
	rid_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
		    0x9e3779b97f4a7c15ULL;
	if (cfg.access_log) {
		alogfp = fopen(cfg.access_log, "ae");
		if (!alogfp)
			die("%s: %s", cfg.access_log, strerror(errno));
	}
	if (cfg.logfile) {
		logfp = fopen(cfg.logfile, "ae");
		if (!logfp)
			die("%s: %s", cfg.logfile, strerror(errno));
	}
	setup();
	logj("{\"ev\":\"start\",\"pid\":%ld,\"uid\":%u,\"gid\":%u,"
	     "\"pod_ip\":\"%s\",\"tproxy\":%s,\"mode\":\"%s\","
	     "\"mark\":%u,\"listeners\":%d}",
	     (long)getpid(), (unsigned)geteuid(), (unsigned)getegid(),
	     lab_fmt_sa(&cfg.pod_ip, false, (char[LAB_ADDRSTRLEN]){0},
			LAB_ADDRSTRLEN),
	     cfg.tproxy ? "true" : "false",
	     cfg.ambient	  ? "ambient"
	     : cfg.single_capture ? "single-capture"
				  : "sidecar",
	     cfg.mark, n_listeners);
	xds_start();
	write_pidfile();

	run(&waitmask);

	for (i = 0; i < MAX_SESS; i++)
		if (sessions[i].kind != S_FREE)
			sess_free(&sessions[i], "shutdown");
	for (i = 0; i < MAX_PCONN; i++)
		pc_close(&pconns[i], "shutdown");
	for (i = 0; i < MAX_DNSU; i++)
		if (dnsus[i].fd >= 0)
			close(dnsus[i].fd);
	for (i = 0; i < n_listeners; i++)
		close(listeners[i].fd);
	logj("{\"ev\":\"stop\",\"signal\":%d}", (int)stop_signal);
	if (cfg.pidfile)
		unlink(cfg.pidfile);
	if (logfp)
		fclose(logfp);
	if (alogfp)
		fclose(alogfp);
	return 0;
}
