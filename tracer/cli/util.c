// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * util.c - what the command line's files share: errors, value parsers,
 * the filter, the rules.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli-int.h"
#include "pipe.h"
#include "target.h"

#define ST_MAX_DURATION_S 31536000.0 /* a year: timerfd and ms fit */

void st_cli_runtime_error(FILE *err, const char *msg)
{
	/* One line: messages that list things keep them on that line. */
	fprintf(err, ST_PROG ": ");
	for (const char *p = msg; *p != '\0'; p++)
		fputc(*p == '\n' ? ' ' : *p, err);
	fputc('\n', err);
}

int st_cli_output_written(FILE *out, FILE *err, int ret)
{
	if (ret >= 0 && fflush(out) == 0)
		return 0;
	fprintf(err, ST_PROG ": writing the output failed: %s\n",
		strerror(ret < 0 ? -ret : errno));
	return -1;
}

int st_cli_filter(const struct st_cli_opts *o, struct st_filter **f, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";
	int ret;

	*f = NULL;
	if (o->filter[0] == '\0')
		return -1;
	ret = st_filter_new(f, o->filter, ebuf);
	if (ret == -EINVAL)
		return st_cli_usage_error(err, "%s", ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	return -1;
}

/*
 * Saved dumps: each must be a rule set (a live target without Istio rules
 * is an answer, an empty file given by hand is a mistake to say so).
 */
static int st_cli_load_files(const char *const *paths, unsigned int n,
			     struct st_ruleset **out, char *ebuf)
{
	struct st_ruleset *rs = st_ruleset_new();
	int ret = 0;

	if (rs == NULL)
		return st_err(ebuf, ENOMEM, "out of memory");
	for (unsigned int i = 0; i < n && ret == 0; i++)
		ret = st_rules_load_dump(rs, paths[i], ebuf);
	if (ret < 0) {
		st_ruleset_free(rs);
		return ret;
	}
	*out = rs;
	return 0;
}

int st_cli_load(const struct st_cli_opts *o, const char *const *paths,
		unsigned int n, struct st_ruleset **out, char *ebuf)
{
	struct st_tgt *tgt = NULL;
	int fd = -1;
	int ret;

	*out = NULL;
	if (n > 0)
		return st_cli_load_files(paths, n, out, ebuf);
	fd = st_session_target_open(&o->target, NULL, 0, ebuf);
	if (fd < 0)
		return fd;
	ret = st_tgt_read(fd, NULL, &tgt, ebuf);
	if (ret < 0)
		goto out;
	*out = st_tgt_take_rules(tgt);
	if (*out == NULL)
		ret = st_err(ebuf, ENOMEM, "out of memory");
out:
	st_tgt_free(tgt);
	close(fd);
	return ret;
}

int st_cli_usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fprintf(err, ST_PROG ": ");
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fprintf(err, "\nTry '" ST_PROG " --help'.\n");
	return 2;
}

/* A whole decimal number in [lo, hi]. */
bool st_cli_parse_ulong(const char *s, unsigned long long lo,
			unsigned long long hi, unsigned long long *v)
{
	char *end = NULL;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *v >= lo && *v <= hi;
}

bool st_cli_parse_seconds(const char *s, unsigned int *ms)
{
	char *end = NULL;
	double d;

	if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
		return false;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) || d <= 0 ||
	    d > ST_MAX_DURATION_S)
		return false;
	*ms = (unsigned int)(d * 1000.0 + 0.999); /* rounded up */
	return *ms > 0;
}

/* BYTES with an optional K or M suffix (powers of 1024), in [lo, hi]. */
bool st_cli_parse_bytes(const char *s, unsigned long long lo,
			unsigned long long hi, unsigned int *out)
{
	unsigned long long v, mul = 1;
	char *end = NULL;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return false;
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	if (*end != '\0' || v > hi / mul || v * mul < lo)
		return false;
	*out = (unsigned int)(v * mul);
	return true;
}

/* The trailing words, joined by spaces, as tcpdump takes its filter. */
int st_cli_join(int argc, char **argv, int first, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = first; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (n + l + 2 > size)
			return -1;
		if (n > 0)
			buf[n++] = ' ';
		memcpy(buf + n, argv[i], l);
		n += l;
		buf[n] = '\0';
	}
	return 0;
}

int st_cli_parse_pod_ip(struct st_cli_opts *o, const char *s)
{
	struct st_prefix *p = &o->pod_ips[o->npod_ips];

	if (o->npod_ips == ST_EVAL_MAX_ADDRS)
		return -1;
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, s, p->addr) == 1) {
		p->family = ST_FAMILY_IPV4;
		p->plen = 32;
	} else if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->family = ST_FAMILY_IPV6;
		p->plen = 128;
	} else {
		return -1;
	}
	o->npod_ips++;
	return 0;
}

void st_cli_help_head(FILE *out)
{
	fprintf(out,
		"Usage: " ST_PROG " [OPTIONS] [FILTER EXPRESSION]\n"
		"Show which iptables/nftables rules the packets of an Istio sidecar pod pass.\n"
		"\n"
		"With a target it inserts temporary NFLOG rules, prints one line per flow\n"
		"(type 1-6 of the sidecar traffic types, 0 with a class) until Ctrl-C,\n"
		"--duration or --count, then removes the rules and prints a summary.\n"
		"FILTER EXPRESSION (pcap-filter(7), e.g. 'tcp port 9080') selects flows by\n"
		"their first packets.\n");
}

void st_cli_help_tail(FILE *out)
{
	fprintf(out,
		"\nExamples:\n"
		"  " ST_PROG " --list\n"
		"  " ST_PROG
		" --pod productpage-v1-6b746f74dc-9stvs -n default --duration 30\n"
		"  " ST_PROG
		" --netns /var/run/netns/mypod --json tcp port 9080\n"
		"  " ST_PROG " --rules saved.rules --explain\n"
		"  " ST_PROG
		" --pod reviews-v1-5d8f7c9b4-x2k7q --write trace.pcap\n"
		"  " ST_PROG " --replay trace.pcap --json\n"
		"  " ST_PROG
		" --replay tcpdump.pcap --rules pod.rules tcp port 9080\n"
		"  " ST_PROG
		" --rules pod.rules --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'\n"
		"  " ST_PROG " --rules pod.rules --diagram all -o diagrams/\n"
		"  " ST_PROG " --pod reviews-v1-5d8f7c9b4-x2k7q -o observed/\n"
		"\nExit status: 0 success, 1 runtime error, 2 usage error.\n");
}
