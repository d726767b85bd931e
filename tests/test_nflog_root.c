// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_nflog_root.c - the live collector against the kernel, in a throwaway
 * network namespace: records of TCP (IPv4 and IPv6, from uid 1000) and UDP
 * connections with their tags, uids, interfaces and addresses; a second
 * bind of a group in use; STOP/ERROR from the callback in the middle of a
 * batched datagram; and losses under a burst into a tiny socket buffer,
 * accounted for to the last record.
 *
 * Needs root, iptables-legacy, ip6tables-legacy, setpriv and python3:
 * skipped as a whole (exit status 77) without them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "nflog.h"
#include "spawn.h"
#include "testlib.h"

#define PYTHON "/usr/bin/python3"

#define GROUP_MAIN 42
#define GROUP_LOSS 43
#define GROUP_BATCH 44
#define TAG_NAT "st:00000001:h:nat:OUTPUT:1"
#define TAG_FILTER "st:00000001:h:filter:OUTPUT:1"
#define TAG_LOSS "st:00000002:e:raw:OUTPUT:0"
#define TAG_BATCH "st:00000003:h:raw:OUTPUT:1"
#define BURST 2000

static struct tl_netns ns = {"", -1};

static int ns_setup(void **state)
{
	(void)state;
	return tl_netns_add(&ns, "stt-nflog");
}

static int ns_teardown(void **state)
{
	(void)state;
	return tl_netns_del(&ns);
}

/* Run a command; with @inside in the test namespace. Fails the test. */
static void run(bool inside, char *const argv[])
{
	struct st_spawn_result res;
	char err[ST_ERRBUF_SIZE] = "";
	int ret;

	ret = st_spawn(argv, inside ? ns.fd : -1, NULL, 0, 20000, &res, err);
	if (ret != 0 || res.status != 0)
		fail_msg("%s failed (%d, status %d): %s%s", argv[0], ret,
			 res.status, err, res.errout ? res.errout : "");
	st_spawn_result_free(&res);
}

/* Everything the tests need inside the namespace; once. */
static void ns_populate(void)
{
	static bool done;

	if (done)
		return;
	run(true, TL_ARGV("ip", "link", "set", "lo", "up"));
	run(true, TL_ARGV("ip", "link", "add", "sttv0", "type", "veth", "peer",
			  "name", "sttv1"));
	run(true,
	    TL_ARGV("ip", "addr", "add", "10.201.0.1/24", "dev", "sttv0"));
	run(true, TL_ARGV("ip", "link", "set", "sttv0", "up"));
	run(true, TL_ARGV("ip", "link", "set", "sttv1", "up"));
	/*
	 * The nat chains only see packets once conntrack runs in the
	 * namespace; a lone NFLOG rule does not turn it on (a REDIRECT
	 * would), -m conntrack does.
	 */
	run(true,
	    TL_ARGV("iptables-legacy", "-w", "-t", "nat", "-A", "OUTPUT", "-p",
		    "tcp", "-m", "conntrack", "--ctstate", "NEW", "-j", "NFLOG",
		    "--nflog-group", "42", "--nflog-prefix", TAG_NAT));
	run(true,
	    TL_ARGV("ip6tables-legacy", "-w", "-t", "nat", "-A", "OUTPUT", "-p",
		    "tcp", "-m", "conntrack", "--ctstate", "NEW", "-j", "NFLOG",
		    "--nflog-group", "42", "--nflog-prefix", TAG_NAT));
	run(true,
	    TL_ARGV("iptables-legacy", "-w", "-t", "filter", "-A", "OUTPUT",
		    "-p", "udp", "--dport", "5353", "-j", "NFLOG",
		    "--nflog-group", "42", "--nflog-prefix", TAG_FILTER));
	run(true, TL_ARGV("iptables-legacy", "-w", "-t", "raw", "-A", "OUTPUT",
			  "-p", "udp", "--dport", "9999", "-j", "NFLOG",
			  "--nflog-group", "43", "--nflog-prefix", TAG_LOSS));
	run(true, TL_ARGV("iptables-legacy", "-w", "-t", "raw", "-A", "OUTPUT",
			  "-p", "udp", "--dport", "7777", "-j", "NFLOG",
			  "--nflog-group", "44", "--nflog-prefix", TAG_BATCH));
	done = true;
}

struct collect {
	struct st_rec recs[64];
	size_t n;
	size_t seen;
	int verdict; /* what the callback answers */
};

static int collect_cb(const struct st_rec *rec, void *data)
{
	struct collect *c = data;

	if (c->n < ST_ARRAY_SIZE(c->recs))
		c->recs[c->n++] = *rec;
	c->seen++;
	return c->verdict;
}

/* Read until @want records came or @quiet_ms passed without any. */
static void drain(struct st_nflog *n, struct collect *c, size_t want,
		  int quiet_ms)
{
	char err[ST_ERRBUF_SIZE] = "";

	while (c->seen < want) {
		struct pollfd p = {st_nflog_fd(n), POLLIN, 0};
		int r = poll(&p, 1, quiet_ms);

		assert_true(r >= 0);
		if (r == 0)
			break;
		r = st_nflog_read(n, collect_cb, c, err);
		if (r < 0)
			fail_msg("st_nflog_read: %d %s", r, err);
	}
}

static const struct st_rec *find(const struct collect *c, uint8_t family,
				 uint8_t proto, uint16_t dport)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct st_rec *r = &c->recs[i];

		if (r->family == family && r->proto == proto && r->l4_ok &&
		    r->dport == dport)
			return r;
	}
	return NULL;
}

static void assert_dst(const struct st_rec *r, const char *want)
{
	uint8_t buf[16] = {0};

	assert_int_equal(
		inet_pton(r->family == 4 ? AF_INET : AF_INET6, want, buf), 1);
	assert_memory_equal(r->dst, buf, r->family == 4 ? 4 : 16);
}

static void assert_hit(const struct st_rec *r, const char *prefix,
		       const char *table, unsigned int rule, uint32_t session)
{
	assert_string_equal(r->prefix, prefix);
	assert_int_equal(r->hit.kind, ST_HIT_RULE);
	assert_string_equal(r->hit.table, table);
	assert_string_equal(r->hit.chain, "OUTPUT");
	assert_int_equal(r->hit.rule, rule);
	assert_int_equal(r->hit.session, session);
	assert_false(r->hit.trace);
}

static char py_traffic[] =
	"import socket\n"
	"for fam, a in ((socket.AF_INET, '127.0.0.1'),"
	" (socket.AF_INET6, '::1')):\n"
	"    s = socket.socket(fam, socket.SOCK_STREAM)\n"
	"    s.settimeout(2)\n"
	"    try:\n"
	"        s.connect((a, 8080))\n"
	"    except OSError:\n"
	"        pass\n"
	"    s.close()\n"
	"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	"u.sendto(b'x', ('10.201.0.2', 5353))\n";

static void test_records(void **state)
{
	struct collect *c = calloc(1, sizeof(*c));
	char err[ST_ERRBUF_SIZE] = "";
	struct st_nflog_stats st;
	struct st_nflog *n = NULL;
	const struct st_rec *r;
	struct timespec now;
	size_t i;

	(void)state;
	assert_non_null(c);
	c->verdict = ST_CB_OK;
	ns_populate();
	if (st_nflog_open(&n, ns.fd, GROUP_MAIN, err) != 0)
		fail_msg("st_nflog_open: %s", err);
	assert_true(st_nflog_fd(n) >= 0);
	assert_int_equal(fcntl(st_nflog_fd(n), F_GETFD), FD_CLOEXEC);
	/* Nothing there yet: a read returns at once with nothing. */
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), 0);

	run(true, TL_ARGV("setpriv", "--reuid", "1000", "--regid", "1000",
			  "--clear-groups", PYTHON, "-c", py_traffic));
	drain(n, c, 3, 2000);
	assert_int_equal(c->seen, 3);

	/* The SYN of uid 1000's IPv4 connection, at nat OUTPUT. */
	r = find(c, 4, IPPROTO_TCP, 8080);
	assert_non_null(r);
	assert_hit(r, TAG_NAT, "nat", 1, 1);
	assert_dst(r, "127.0.0.1");
	assert_true(r->tcp_flags & 0x02);
	assert_false(r->tcp_flags & 0x10);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1000);
	assert_true(r->has_gid);
	assert_int_equal(r->gid, 1000);
	assert_int_equal(r->hook, NF_INET_LOCAL_OUT);
	assert_int_equal(r->group, GROUP_MAIN);
	assert_int_equal(r->indev, 0);
	assert_string_equal(r->indev_name, "");
	assert_int_equal(r->outdev, 1);
	assert_string_equal(r->outdev_name, "lo");
	assert_int_equal(r->caplen, r->payload_len);
	assert_true(r->caplen >= 40 && r->caplen <= ST_REC_SNAPLEN);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(r->ts.tv_sec > now.tv_sec - 60 &&
		    r->ts.tv_sec <= now.tv_sec + 1);

	/* The same over IPv6, from the ip6tables rule. */
	r = find(c, 6, IPPROTO_TCP, 8080);
	assert_non_null(r);
	assert_hit(r, TAG_NAT, "nat", 1, 1);
	assert_dst(r, "::1");
	assert_true(r->tcp_flags & 0x02);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1000);
	assert_string_equal(r->outdev_name, "lo");

	/*
	 * UDP out of the veth: its index exists only in the namespace, so
	 * the name proves it was resolved there.
	 */
	r = find(c, 4, IPPROTO_UDP, 5353);
	assert_non_null(r);
	assert_hit(r, TAG_FILTER, "filter", 1, 1);
	assert_dst(r, "10.201.0.2");
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1000);
	assert_true(r->outdev > 1);
	assert_string_equal(r->outdev_name, "sttv0");

	/* The kernel numbered them 0, 1, 2. */
	for (i = 0; i < c->n; i++)
		assert_int_equal(c->recs[i].seq, i);

	/* An interface that appeared after open is named too. */
	run(true, TL_ARGV("ip", "link", "add", "sttw0", "type", "veth", "peer",
			  "name", "sttw1"));
	run(true,
	    TL_ARGV("ip", "addr", "add", "10.202.0.1/24", "dev", "sttw0"));
	run(true, TL_ARGV("ip", "link", "set", "sttw0", "up"));
	run(true, TL_ARGV("ip", "link", "set", "sttw1", "up"));
	run(true,
	    TL_ARGV(PYTHON, "-c",
		    "import socket\n"
		    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		    "u.sendto(b'y', ('10.202.0.2', 5353))\n"));
	c->n = 0;
	drain(n, c, 4, 2000);
	assert_int_equal(c->seen, 4);
	r = find(c, 4, IPPROTO_UDP, 5353);
	assert_non_null(r);
	assert_dst(r, "10.202.0.2");
	assert_string_equal(r->outdev_name, "sttw0");
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 0);

	st_nflog_stats(n, &st);
	assert_int_equal(st.records, 4);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.enobufs, 0);
	assert_int_equal(st.seq_gaps, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.bad_tags, 0);
	st_nflog_close(n);
	free(c);
}

static void test_busy(void **state)
{
	char err[ST_ERRBUF_SIZE] = "";
	struct st_nflog *a = NULL, *b = NULL;
	int saved = -1, ret;

	(void)state;
	ns_populate();
	assert_int_equal(st_nflog_open(&a, ns.fd, GROUP_MAIN, err), 0);
	assert_int_equal(st_nflog_open(&b, ns.fd, GROUP_MAIN, err), -EBUSY);
	assert_null(b);
	assert_non_null(strstr(
		err,
		"NFLOG group 42 is already in use in this network namespace"));
	/* -1 is the namespace we are in: from inside the test one, busy. */
	assert_int_equal(st_netns_enter(ns.fd, &saved, err), 0);
	ret = st_nflog_open(&b, -1, GROUP_MAIN, err);
	assert_int_equal(st_netns_leave(saved, err), 0);
	assert_int_equal(ret, -EBUSY);
	/* Other groups are free; and the group is free again after close. */
	assert_int_equal(st_nflog_open(&b, ns.fd, GROUP_MAIN + 100, err), 0);
	st_nflog_close(b);
	st_nflog_close(a);
	assert_int_equal(st_nflog_open(&a, ns.fd, GROUP_MAIN, err), 0);
	st_nflog_close(a);
	st_nflog_close(NULL);
}

/*
 * Batches of five records per datagram (and a flush timer far longer than
 * the test): STOP and ERROR in the middle of one must leave the rest for
 * the next call.
 */
static void test_stop_resume(void **state)
{
	struct collect *c = calloc(1, sizeof(*c));
	char err[ST_ERRBUF_SIZE] = "";
	struct st_nflog *n = NULL;
	struct pollfd p;
	size_t i;

	(void)state;
	assert_non_null(c);
	ns_populate();
	assert_int_equal(st_nflog_open(&n, ns.fd, GROUP_BATCH, err), 0);
	assert_int_equal(st_nflog_set_batch(n, 5, 5000, err), 0);
	run(true,
	    TL_ARGV(PYTHON, "-c",
		    "import socket\n"
		    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		    "for i in range(10):\n"
		    "    u.sendto(b'z', ('127.0.0.1', 7777))\n"));
	p = (struct pollfd){st_nflog_fd(n), POLLIN, 0};
	assert_int_equal(poll(&p, 1, 2000), 1);

	c->verdict = ST_CB_STOP;
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), 1);
	c->verdict = ST_CB_ERROR;
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), -ECANCELED);
	assert_int_equal(c->seen, 2);
	c->verdict = ST_CB_OK;
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), 3);
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), 5);
	assert_int_equal(c->seen, 10);
	for (i = 0; i < c->n; i++) {
		assert_int_equal(c->recs[i].seq, i);
		assert_int_equal(c->recs[i].dport, 7777);
		assert_string_equal(c->recs[i].prefix, TAG_BATCH);
	}
	assert_int_equal(st_nflog_read(n, collect_cb, c, err), 0);
	st_nflog_close(n);
	free(c);
}

/*
 * BURST datagrams into a receive buffer that holds a handful of records:
 * the kernel drops most. Every one must show up as delivered or lost.
 * The last drop is only visible as a gap once a later record arrives,
 * hence one more datagram after the burst.
 */
static void test_losses(void **state)
{
	struct collect *c = calloc(1, sizeof(*c));
	char err[ST_ERRBUF_SIZE] = "";
	struct st_nflog_stats st;
	struct st_nflog *n = NULL;
	uint64_t last_seq = 0;
	size_t i;
	int sz;

	(void)state;
	assert_non_null(c);
	c->verdict = ST_CB_OK;
	ns_populate();
	assert_int_equal(st_nflog_open(&n, ns.fd, GROUP_LOSS, err), 0);
	sz = st_nflog_set_rcvbuf(n, 4096, err);
	assert_true(sz > 0 && sz <= 16384);

	run(true,
	    TL_ARGV(PYTHON, "-c",
		    "import socket\n"
		    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		    "for i in range(2000):\n"
		    "    u.sendto(b'b', ('127.0.0.1', 9999))\n"));
	drain(n, c, BURST + 1, 300);
	st_nflog_stats(n, &st);
	print_message("after the burst: %lu records, %lu lost, %lu ENOBUFS, "
		      "%lu gaps\n",
		      (unsigned long)st.records, (unsigned long)st.lost,
		      (unsigned long)st.enobufs, (unsigned long)st.seq_gaps);
	assert_true(st.enobufs >= 1);
	assert_true(st.lost >= 1);
	assert_true(st.records >= 1);
	assert_true(st.records < BURST);

	run(true,
	    TL_ARGV(PYTHON, "-c",
		    "import socket\n"
		    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		    "u.sendto(b'm', ('127.0.0.1', 9999))\n"));
	drain(n, c, c->seen + 1, 2000);
	st_nflog_stats(n, &st);
	print_message("after the marker: %lu records, %lu lost, %lu ENOBUFS, "
		      "%lu gaps, %lu missing\n",
		      (unsigned long)st.records, (unsigned long)st.lost,
		      (unsigned long)st.enobufs, (unsigned long)st.seq_gaps,
		      (unsigned long)st.seq_missing);
	assert_int_equal(st.records, c->seen);
	assert_true(st.seq_gaps >= 1);
	assert_int_equal(st.lost, st.seq_missing);
	assert_int_equal(st.records + st.lost, BURST + 1);
	/* The records are the kernel's, in order, ending with the marker. */
	for (i = 0; i < c->n; i++) {
		if (i > 0)
			assert_true(c->recs[i].seq > last_seq);
		last_seq = c->recs[i].seq;
		assert_string_equal(c->recs[i].prefix, TAG_LOSS);
		assert_int_equal(c->recs[i].hit.kind, ST_HIT_ENTER);
	}
	if (c->n == c->seen)
		assert_int_equal(last_seq, BURST);
	st_nflog_close(n);
	free(c);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_stop_resume),
		cmocka_unit_test(test_losses),
	};

	tl_need_root("nflog", TL_TOOLS("ip", "iptables-legacy",
				       "ip6tables-legacy", "setpriv", PYTHON));
	return cmocka_run_group_tests_name("nflog", tests, ns_setup,
					   ns_teardown);
}
