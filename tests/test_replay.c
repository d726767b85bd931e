// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_replay.c - --replay and --write: lab captures replayed through the
 * CLI, bad files and bad records (one error line, or counted skips),
 * records naming chains the rules lack, filters and --count, and --write
 * refusing an existing file (a full disk: test_capwrite_root.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pcap/pcap.h>

#include <cmocka.h>

#include "cli.h"
#include "pcapin.h"
#include "replay.h"
#include "testlib.h"

#define CAP17 ST_SAMPLES "/captures/istio-1.17_redirect_default_legacy"
#define RULES17 ST_SAMPLES "/rules/istio-1.17_redirect_default_legacy.rules"
#define RULES28    \
	ST_SAMPLES \
	"/rules/istio-1.28plus_native-nftables_redirect_default.nft.json"
#define NFULA_PAYLOAD 9
#define NFULA_PREFIX 10

struct run {
	int rc;
	char out[65536];
	char err[8192];
};

static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* st_cli_run() on a NULL-terminated argument list. */
static void run_cli(struct run *r, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *out = tmpfile(), *err = tmpfile();

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = "sidecar-trace";
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	r->rc = st_cli_run(argc, argv, out, err);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static int nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Every per-type capture comes out as its type, in both prefix styles. */
static void test_types(void **state)
{
	static const struct {
		const char *scen;
		const char *want;
	} cases[] = {
		{"remote-to-app",
		 "[1 remote-to-local] Remote Pod -> PREROUTING"},
		{"app-to-remote", "[2 local-to-remote] Local Pod -> OUTPUT"},
		{"prom-scrape-15090", "[3 prometheus-scrape] Prometheus ->"},
		{"app-to-self-vip", "[4 local-to-local] Local Pod -> OUTPUT"},
		{"envoy-localhost", "[5 envoy-interprocess] Envoy process"},
		{"sidecar-to-istiod", "[6 sidecar-to-istiod] Local Pod ->"},
	};
	static struct run r;
	char cap[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cap, sizeof(cap), CAP17 "/own-%s.pcap", cases[i].scen);
		run_cli(&r, "--replay", cap, NULL);
		assert_int_equal(r.rc, 0);
		assert_non_null(strstr(r.out, cases[i].want));
		assert_non_null(strstr(r.out, "skipped: 0 "));
		snprintf(cap, sizeof(cap), CAP17 "/trace-%s.pcap",
			 cases[i].scen);
		run_cli(&r, "--replay", cap, "--rules", RULES17, NULL);
		assert_int_equal(r.rc, 0);
		assert_non_null(strstr(r.out, cases[i].want));
	}
}

/* Usage errors: exit 2 and a clear line. */
static void test_usage(void **state)
{
	static struct run r;

	(void)state;
	/* A tcpdump capture has no side files: --rules is needed. */
	run_cli(&r, "--replay", CAP17 "/trace-app-to-remote.pcap", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "give the pod's rules with --rules"));
	run_cli(&r, "--replay", CAP17 "/own-app-to-remote.pcap", "--netns",
		"/x", NULL);
	assert_int_equal(r.rc, 2);
	run_cli(&r, "--replay", CAP17 "/own-app-to-remote.pcap", "--duration",
		"3", NULL);
	assert_int_equal(r.rc, 2);
	run_cli(&r, "--write", "/tmp/x.pcap", "--explain", "--rules", RULES17,
		NULL);
	assert_int_equal(r.rc, 2);
	run_cli(&r, "--replay", CAP17 "/own-app-to-remote.pcap", "tcp port",
		NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "tcp port"));
}

/* Bad files: one error line, exit 1, no crash. */
static void test_bad_files(void **state)
{
	static uint8_t buf[65536];
	static struct run r;
	char dir[] = "/tmp/st-test-replay.XXXXXX";
	char path[600];
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	n = tl_read_into(CAP17 "/own-app-to-remote.pcap", buf, sizeof(buf));
	assert_true(n > 200);

	/* empty */
	snprintf(path, sizeof(path), "%s/empty.pcap", dir);
	write_file(path, buf, 0);
	run_cli(&r, "--replay", path, "--rules", RULES17, NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(nlines(r.err), 1);
	assert_string_equal(r.out, "");

	/* not a capture at all */
	snprintf(path, sizeof(path), "%s/text.pcap", dir);
	write_file(path, "hello, world\n", 13);
	run_cli(&r, "--replay", path, "--rules", RULES17, NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(nlines(r.err), 1);

	/*
	 * A link type neither reader knows: the same file as USER0 (147).
	 * (Ethernet, cooked and raw IP are ordinary captures: plaincap.c.)
	 */
	snprintf(path, sizeof(path), "%s/user0.pcap", dir);
	buf[20] = 147, buf[21] = 0, buf[22] = 0, buf[23] = 0;
	write_file(path, buf, n);
	run_cli(&r, "--replay", path, "--rules", RULES17, NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(nlines(r.err), 1);
	assert_non_null(strstr(r.err, "link type 147"));
	buf[20] = 239;

	/* cut in the middle of a record: flows before it, then the error */
	snprintf(path, sizeof(path), "%s/cut.pcap", dir);
	write_file(path, buf, n - 7);
	run_cli(&r, "--replay", path, "--rules", RULES17, NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "truncated"));
	assert_non_null(strstr(r.out, "total"));
	assert_int_equal(count_lines(r.err, "sidecar-trace: "), 1);

	/* a file that is not there */
	snprintf(path, sizeof(path), "%s/none.pcap", dir);
	run_cli(&r, "--replay", path, "--rules", RULES17, NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(nlines(r.err), 1);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* The TLV holding @type in a record, or -1. */
static long find_tlv(const uint8_t *rec, size_t len, uint16_t type)
{
	size_t off = 4;

	while (off + 4 <= len) {
		uint16_t l, t;

		memcpy(&l, rec + off, 2);
		memcpy(&t, rec + off + 2, 2);
		if (l < 4)
			return -1;
		if ((t & 0x7fff) == type)
			return (long)off;
		off += (l + 3u) & ~3u;
	}
	return -1;
}

/*
 * Bad records among good ones: a TLV running past the record, a prefix
 * without NUL, a bogus IP header.  Each is skipped and counted; the flow
 * comes out as without them.
 */
static void test_bad_records(void **state)
{
	static struct run good, r;
	static uint8_t bad[3][2048];
	char dir[] = "/tmp/st-test-replay.XXXXXX";
	char in[] = CAP17 "/own-app-to-remote.pcap";
	char path[600], rules[700], cmd[1400];
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_dumper_t *d;
	pcap_t *p;
	int i = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.pcap", dir);
	p = pcap_open_offline(in, ebuf);
	assert_non_null(p);
	d = pcap_dump_open(p, path);
	assert_non_null(d);
	while (pcap_next_ex(p, &h, &data) == 1) {
		struct pcap_pkthdr bh = *h;
		long off;
		uint16_t l;

		pcap_dump((u_char *)d, h, data);
		if (i >= 3 || h->caplen > sizeof(bad[0]))
			continue;
		memcpy(bad[i], data, h->caplen);
		switch (i) {
		case 0: /* the first TLV's length past the end */
			l = (uint16_t)(h->caplen + 40);
			memcpy(bad[i] + 4, &l, 2);
			break;
		case 1: /* the prefix loses its NUL */
			off = find_tlv(bad[i], h->caplen, NFULA_PREFIX);
			assert_true(off > 0);
			memcpy(&l, bad[i] + off, 2);
			memset(bad[i] + off + 4, 'x', l - 4u);
			break;
		case 2: /* IPv4 header length 8 bytes */
			off = find_tlv(bad[i], h->caplen, NFULA_PAYLOAD);
			assert_true(off > 0);
			bad[i][off + 4] = 0x42;
			break;
		}
		pcap_dump((u_char *)d, &bh, bad[i]);
		i++;
	}
	pcap_dump_close(d);
	pcap_close(p);
	assert_int_equal(i, 3);
	snprintf(rules, sizeof(rules), "%s.rules", in);

	run_cli(&good, "--replay", in, NULL);
	assert_int_equal(good.rc, 0);
	run_cli(&r, "--replay", path, "--rules", rules, NULL);
	assert_int_equal(r.rc, 0);
	/* The same flow line, and the skips counted. */
	assert_memory_equal(r.out, good.out, strchr(good.out, '\n') - good.out);
	assert_non_null(strstr(r.out, "skipped: 3 "));
	assert_non_null(strstr(r.err, "3 of "));
	assert_non_null(strstr(r.err, "1 tlv"));
	assert_non_null(strstr(r.err, "1 prefix"));
	assert_non_null(strstr(r.err, "1 ip-header"));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Records naming chains the rules do not have: counted, the reason in the
 * summary, one note - never a flow made up from them.
 */
static void test_unknown_chain(void **state)
{
	static struct run r;

	(void)state;
	run_cli(&r, "--replay", CAP17 "/own-app-to-remote.pcap", "--rules",
		RULES28, NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "total                         0"));
	assert_non_null(strstr(r.out, "last skipped record: no chain nat:"));
	assert_int_equal(count_lines(r.err, "no chain"), 1);
	assert_non_null(strstr(r.err, "unknown-chain"));

	/* The same with --json: the summary's count. */
	run_cli(&r, "--replay", CAP17 "/own-app-to-remote.pcap", "--rules",
		RULES28, "--json", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "\"summary\""));
	assert_null(strstr(r.out, "\"legs\""));
}

/* The filter expression and --count select flows as live. */
static void test_filter_count(void **state)
{
	static struct run r;

	(void)state;
	run_cli(&r, "--replay", CAP17 "/own-mixed.pcap", "tcp", "port", "15012",
		NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(count_lines(r.out, "\n["), 0);
	assert_int_equal(strncmp(r.out, "[6 sidecar-to-istiod]", 21), 0);
	assert_non_null(strstr(r.out, "total                         1"));

	run_cli(&r, "--replay", CAP17 "/own-mixed.pcap", "--json", "--count",
		"2", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(count_lines(r.out, "{\"type\""), 2);
	assert_non_null(strstr(r.out, "{\"summary\""));
}

/* --write refuses an existing file before touching any target. */
static void test_write_exists(void **state)
{
	static struct run r;

	(void)state;
	run_cli(&r, "--netns", "/nonexistent/netns", "--write",
		CAP17 "/own-app-to-remote.pcap", NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(nlines(r.err), 1);
	assert_non_null(strstr(r.err, "exists"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_unknown_chain),
		cmocka_unit_test(test_filter_count),
		cmocka_unit_test(test_write_exists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
