// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * envoylog-bench - how fast Envoy's access log is read: N lines of Istio's
 * default TEXT format (outbound HTTP through a service address, inbound
 * from 127.0.0.6, TCP; ports and request ids vary) are made in memory,
 * then read through the same path a replay takes.
 *
 *   envoylog-bench [-n LINES] [-m mem|cri|json|file] [-r REPEATS]
 *
 *   mem   the lines fed from memory (st_envoylog_feed()), 64 KiB at a time
 *   cri   the same, each wrapped as the kubelet writes it
 *   json  Istio's JSON format instead
 *   file  written to a temporary file first, then followed
 *         (st_envoylog_poll()); only the reading is timed
 *
 * Output (stdout): one line "MODE: N lines, B bytes in S s: L lines/s,
 * M MB/s" per repeat; the exit status is 1 when a line did not read as a
 * complete entry.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "envoylog.h"

static int count_fn(void *data, const struct st_envoy_req *req)
{
	uint64_t *n = data;

	*n += req->response_code != 1; /* read the entry, cheaply */
	return ST_CB_OK;
}

/* Line @i: one of three kinds, its ports and id from @i. */
static void make_line(struct st_strbuf *b, unsigned long i, const char *mode)
{
	unsigned int port = 32768 + (unsigned int)(i % 28000);
	unsigned int ms = (unsigned int)(i % 1000);
	bool cri = strcmp(mode, "cri") == 0;

	if (cri)
		st_strbuf_printf(b, "2024-03-21T10:00:00.%09luZ stdout F ",
				 i % 1000000000);
	if (strcmp(mode, "json") == 0) {
		st_strbuf_printf(
			b,
			"{\"authority\":\"reviews:9080\",\"bytes_received\":0,"
			"\"bytes_sent\":%lu,\"connection_termination_details\":"
			"null,\"downstream_local_address\":\"10.96.12.34:9080\","
			"\"downstream_remote_address\":\"10.244.2.20:%u\","
			"\"duration\":%u,\"method\":\"GET\",\"path\":"
			"\"/reviews/%lu\",\"protocol\":\"HTTP/1.1\","
			"\"request_id\":\"%08lx-1b2c-4d3e-8f90-0123456789ab\","
			"\"requested_server_name\":null,\"response_code\":200,"
			"\"response_code_details\":\"via_upstream\","
			"\"response_flags\":\"-\",\"route_name\":\"default\","
			"\"start_time\":\"2024-03-21T10:00:00.%03uZ\","
			"\"upstream_cluster\":\"outbound|9080||reviews.default."
			"svc.cluster.local\",\"upstream_host\":"
			"\"10.244.1.10:9080\",\"upstream_local_address\":"
			"\"10.244.2.20:%u\",\"upstream_service_time\":\"%u\","
			"\"upstream_transport_failure_reason\":null,"
			"\"user_agent\":\"curl/8.5.0\",\"x_forwarded_for\":"
			"null}\n",
			300 + i % 5000, port, ms, i % 7, i, ms, port + 1,
			ms ? ms - 1 : 0);
		return;
	}
	switch (i % 3) {
	case 0:
		st_strbuf_printf(
			b,
			"[2024-03-21T10:00:00.%03uZ] \"GET /productpage/%lu "
			"HTTP/1.1\" 200 - via_upstream - \"-\" 0 %lu %u %u \"-\" "
			"\"curl/8.5.0\" \"%08lx-1b2c-4d3e-8f90-0123456789ab\" "
			"\"productpage.default.svc.cluster.local:9080\" "
			"\"10.244.1.10:9080\" "
			"outbound|9080||productpage.default.svc.cluster.local "
			"10.244.2.20:%u 10.96.12.34:9080 10.244.2.20:%u - "
			"default\n",
			ms, i % 97, 300 + i % 5000, ms, ms ? ms - 1 : 0, i,
			port + 1, port);
		break;
	case 1:
		st_strbuf_printf(
			b,
			"[2024-03-21T10:00:00.%03uZ] \"GET /reviews/%lu "
			"HTTP/1.1\" 200 - via_upstream - \"-\" 0 358 %u %u \"-\" "
			"\"python-requests/2.31.0\" "
			"\"%08lx-5d4b-4c1a-9e8f-7a6b5c4d3e2f\" \"reviews:9080\" "
			"\"10.244.1.10:9080\" inbound|9080|| 127.0.0.6:%u "
			"10.244.1.10:9080 10.244.2.20:%u "
			"outbound_.9080_._.reviews.default.svc.cluster.local "
			"default\n",
			ms, i % 7, ms, ms ? ms - 1 : 0, i, port, port + 1);
		break;
	default:
		st_strbuf_printf(
			b,
			"[2024-03-21T10:00:00.%03uZ] \"- - -\" 0 - - - \"-\" "
			"%lu %lu %u - \"-\" \"-\" \"-\" \"-\" "
			"\"10.244.3.30:5432\" "
			"outbound|5432||db.default.svc.cluster.local "
			"10.244.2.20:%u 10.96.40.40:5432 10.244.2.20:%u - -\n",
			ms, 100 + i % 900, 1000 + i % 9000, ms, port, port + 1);
		break;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read @text once the way @mode says; 0 when every line was an entry. */
static int run(const char *mode, const char *text, size_t len, unsigned long n,
	       const char *file)
{
	struct st_envoylog_opts o = {.path = file, .fn = count_fn};
	struct st_envoylog_stats st;
	struct st_envoylog *l = NULL;
	char err[ST_ERRBUF_SIZE];
	uint64_t seen = 0;
	double t0, dt;
	int ret;

	o.data = &seen;
	ret = st_envoylog_new(&l, &o, err);
	if (ret < 0)
		goto out;
	t0 = now_s();
	if (file != NULL) {
		ret = st_envoylog_poll(l, err);
	} else {
		for (size_t off = 0; off < len && ret >= 0; off += 65536)
			ret = st_envoylog_feed(
				l, text + off,
				len - off < 65536 ? len - off : 65536, err);
	}
	if (ret >= 0)
		ret = st_envoylog_finish(l, err);
	dt = now_s() - t0;
	if (ret < 0)
		goto out;
	st_envoylog_stats(l, &st);
	printf("%s: %lu lines, %zu bytes in %.3f s: %.0f lines/s, %.1f MB/s\n",
	       mode, n, len, dt, (double)n / dt, (double)len / dt / 1e6);
	if (st.entries != n || st.missing != 0 || seen != n) {
		fprintf(stderr,
			"envoylog-bench: %llu entries (%llu incomplete) of "
			"%lu lines\n",
			(unsigned long long)st.entries,
			(unsigned long long)st.missing, n);
		ret = -EBADMSG;
	}
out:
	if (ret < 0 && err[0] != '\0' && ret != -EBADMSG)
		fprintf(stderr, "envoylog-bench: %s\n", err);
	st_envoylog_free(l);
	return ret < 0 ? ret : 0;
}

int main(int argc, char **argv)
{
	struct st_strbuf b = {0};
	unsigned long n = 1000000, reps = 1;
	const char *mode = "mem";
	char tmpl[] = "/tmp/envoylog-bench.XXXXXX";
	const char *file = NULL;
	int c, fd = -1, status = 1;

	while ((c = getopt(argc, argv, "n:m:r:")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || n == 0 || reps == 0 ||
	    (strcmp(mode, "mem") != 0 && strcmp(mode, "cri") != 0 &&
	     strcmp(mode, "json") != 0 && strcmp(mode, "file") != 0))
		goto usage;
	for (unsigned long i = 0; i < n; i++)
		make_line(&b, i, mode);
	if (b.oom) {
		fprintf(stderr, "envoylog-bench: out of memory\n");
		goto out;
	}
	if (strcmp(mode, "file") == 0) {
		fd = mkstemp(tmpl);
		if (fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len) {
			fprintf(stderr, "envoylog-bench: %s: %s\n", tmpl,
				strerror(errno));
			goto out;
		}
		file = tmpl;
	}
	status = 0;
	for (unsigned long r = 0; r < reps && status == 0; r++)
		status = run(mode, b.p, b.len, n, file) < 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmpl);
	}
	st_strbuf_free(&b);
	return status;
usage:
	fprintf(stderr,
		"usage: envoylog-bench [-n LINES] [-m mem|cri|json|file] "
		"[-r REPEATS]\n");
	return 2;
}
