// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cli.c - the command line.  One option table drives getopt_long and
 * --help (nftables' src/main.c pattern); st_cli_run() is what main()
 * calls and what the tests call.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "findings.h"
#include "cli.h"
#include "common.h"
#include "diagram.h"
#include "eval.h"
#include "explain.h"
#include "filter.h"
#include "flowjson.h"
#include "istio.h"
#include "path.h"
#include "pcapout.h"
#include "pod.h"
#include "plaincap.h"
#include "replay.h"
#include "rules.h"
#include "scenario.h"
#include "session.h"
#include "simspec.h"
#include "target.h"
#include "term.h"

#define ST_PROG "sidecar-trace"
#define ST_MAX_RULE_FILES 4
#define ST_MAX_DURATION_S 31536000.0 /* a year: timerfd and ms fit */
#define ST_FILTER_MAX 4096
#define ST_RCVBUF_MIN 4096ULL
#define ST_RCVBUF_MAX (1024ULL << 20)

/* Short options are their letter; long-only ones start above 255. */
enum st_opt_val {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_RULES = 'r',
	OPT_EXPLAIN = 'e',
	OPT_JSON = 'j',
	OPT_POD = 'p',
	OPT_NAMESPACE = 'n',
	OPT_LIST = 'l',
	OPT_DURATION = 'd',
	OPT_COUNT = 'c',
	OPT_GROUP = 'g',
	OPT_OUTPUT = 'o',
	OPT_INVALID = '?',
	OPT_NETNS = 256,
	OPT_PID,
	OPT_CLEANUP,
	OPT_SKIP_EMPTY_CHAINS,
	OPT_REPLAY,
	OPT_WRITE,
	OPT_RCVBUF,
	OPT_MAX_FLOWS,
	OPT_CHECK,
	OPT_SIMULATE,
	OPT_DIAGRAM,
	OPT_POD_IP,
};

enum st_opt_section {
	SEC_INPUT,
	SEC_JOB,
	SEC_TRACE,
	SEC_OUTPUT,
	SEC_GENERAL,
};

struct st_opt {
	const char *name;
	enum st_opt_val val;
	const char *arg; /* NULL: the option takes no argument */
	const char *help;
	enum st_opt_section section;
};

static const struct st_opt st_options[] = {
	{"pod", OPT_POD, "NAME",
	 "trace the sidecar pod NAME on this node (found through its istio-proxy processes)",
	 SEC_INPUT},
	{"namespace", OPT_NAMESPACE, "NS",
	 "the pod's Kubernetes namespace (default: default)", SEC_INPUT},
	{"netns", OPT_NETNS, "PATH",
	 "trace the network namespace PATH (/var/run/netns/NAME, /proc/PID/ns/net)",
	 SEC_INPUT},
	{"pid", OPT_PID, "PID", "trace the network namespace of process PID",
	 SEC_INPUT},
	{"rules", OPT_RULES, "FILE",
	 "read saved rules (iptables-save, ip6tables-save or nft -j list ruleset); give it twice for IPv4 + IPv6",
	 SEC_INPUT},
	{"replay", OPT_REPLAY, "FILE",
	 "trace a capture instead of a live target: NFLOG records (pcap/pcapng) from --write or tcpdump -i nflog:N; the rules from FILE.rules beside it, or --rules. Ordinary captures (tcpdump -i any inside the pod; Ethernet, Linux cooked, raw IP) are accepted with --rules: each connection's path is then simulated, with the inferences said",
	 SEC_INPUT},
	{"pod-ip", OPT_POD_IP, "ADDR",
	 "the pod's own address for --simulate, once per family (default: the lab pod's 10.244.1.10 and fd00:244::1:10)",
	 SEC_INPUT},
	{"explain", OPT_EXPLAIN, NULL,
	 "print the sidecar settings and the role of every Istio rule (saved or live rules)",
	 SEC_JOB},
	{"list", OPT_LIST, NULL,
	 "list the sidecar pods on this node (name, namespace, pid, backend, interception mode)",
	 SEC_JOB},
	{"cleanup", OPT_CLEANUP, NULL,
	 "remove the rules that dead sidecar-trace sessions left in the target, and exit",
	 SEC_JOB},
	{"check", OPT_CHECK, NULL,
	 "report what is wrong or surprising in the interception (dead rules, apps running as the proxy uid, listeners and flows that bypass the sidecar, rules split over two backends) for --rules, a target or --replay; exits 0 whatever it finds",
	 SEC_JOB},
	{"simulate", OPT_SIMULATE, "SPEC",
	 "predict a connection's path from --rules alone: SPEC is e.g. 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' (the pod sends it) or '... in eth0' (it arrives); the legs the sidecar opens next are followed",
	 SEC_JOB},
	{"diagram", OPT_DIAGRAM, "WHICH",
	 "the canonical flow of traffic type WHICH (1-6, or all) predicted from --rules (required): its path, and its diagram with -o",
	 SEC_JOB},
	{"duration", OPT_DURATION, "SECONDS",
	 "stop tracing after SECONDS (default: at Ctrl-C)", SEC_TRACE},
	{"count", OPT_COUNT, "FLOWS", "stop tracing after FLOWS flows",
	 SEC_TRACE},
	{"group", OPT_GROUP, "N",
	 "NFLOG group for the temporary rules (default: a free one from 5300)",
	 SEC_TRACE},
	{"skip-empty-chains", OPT_SKIP_EMPTY_CHAINS, NULL,
	 "do not log built-in chains that hold no rules, such as nat POSTROUTING (fewer records; paths then leave them out)",
	 SEC_TRACE},
	{"rcvbuf", OPT_RCVBUF, "BYTES",
	 "NFLOG socket receive buffer (default 8M; K and M suffixes); records that do not fit are lost, counted and reported",
	 SEC_TRACE},
	{"max-flows", OPT_MAX_FLOWS, "N",
	 "flows kept open at most (default 1024, memory is preallocated); when full the oldest is printed early as incomplete",
	 SEC_TRACE},
	{"json", OPT_JSON, NULL,
	 "print JSON (JSON Lines while tracing) instead of text", SEC_OUTPUT},
	{"output", OPT_OUTPUT, "PATH",
	 "also draw the flows (Graphviz): a PATH ending in .svg, .png, .pdf or .dot receives the first flow shown; any other PATH is a directory that receives one diagram per traffic type and an index.html",
	 SEC_OUTPUT},
	{"write", OPT_WRITE, "FILE",
	 "while tracing, save every record to FILE (LINKTYPE_NFLOG pcap) and the rules to FILE.rules, FILE.rules6, FILE.meta.json",
	 SEC_OUTPUT},
	{"help", OPT_HELP, NULL, "show this help and exit", SEC_GENERAL},
	{"version", OPT_VERSION, NULL, "show the version and exit",
	 SEC_GENERAL},
};

static const char *const st_section_names[] = {
	[SEC_INPUT] = "Target",
	[SEC_JOB] = "What to do (default with a target: trace it)",
	[SEC_TRACE] = "Tracing",
	[SEC_OUTPUT] = "Output",
	[SEC_GENERAL] = "General",
};

struct st_cli_opts {
	const char *rules[ST_MAX_RULE_FILES];
	unsigned int nrules;
	bool explain;
	bool json;
	bool list;
	bool cleanup;
	bool check;
	struct st_session_target target;
	unsigned int duration_ms;
	uint64_t count;
	int group;
	unsigned int rcvbuf;
	unsigned int max_flows;
	bool skip_empty;      /* --skip-empty-chains */
	const char *replay;   /* --replay FILE */
	const char *write;    /* --write FILE */
	const char *output;   /* -o PATH */
	const char *simulate; /* --simulate SPEC, parsed into spec */
	struct st_simspec spec;
	int diagram; /* --diagram: 1-6, 0 all, -1 not given */
	unsigned int npod_ips;
	struct st_prefix pod_ips[ST_EVAL_MAX_ADDRS];
	char filter[ST_FILTER_MAX];
};

static void st_cli_help(FILE *out)
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
	for (size_t s = 0; s < ST_ARRAY_SIZE(st_section_names); s++) {
		fprintf(out, "\n%s:\n", st_section_names[s]);
		for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++) {
			const struct st_opt *o = &st_options[i];
			char sh[8] = "    ";
			char buf[64];

			if (o->section != s)
				continue;
			if (o->val < 256)
				snprintf(sh, sizeof(sh), "-%c, ", o->val);
			snprintf(buf, sizeof(buf), "  %s--%s%s%s", sh, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
			fprintf(out, "%-28s%s\n", buf, o->help);
		}
	}
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

static void st_cli_build_getopt(char *optstring, size_t size,
				struct option *longopts)
{
	size_t n = 0;

	optstring[n++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++) {
		const struct st_opt *o = &st_options[i];

		if (o->val < 256 && n + 3 < size) {
			optstring[n++] = (char)o->val;
			if (o->arg)
				optstring[n++] = ':';
		}
		longopts[i] = (struct option){
			.name = o->name,
			.has_arg = o->arg ? required_argument : no_argument,
			.flag = NULL,
			.val = o->val,
		};
	}
	optstring[n] = '\0';
	longopts[ST_ARRAY_SIZE(st_options)] = (struct option){0};
}

static int __st_printf(2, 3) st_usage_error(FILE *err, const char *fmt, ...)
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
static bool st_parse_ulong(const char *s, unsigned long long lo,
			   unsigned long long hi, unsigned long long *v)
{
	char *end = NULL;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *v >= lo && *v <= hi;
}

static bool st_parse_seconds(const char *s, unsigned int *ms)
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
static bool st_parse_bytes(const char *s, unsigned long long lo,
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
static int st_cli_join(int argc, char **argv, int first, char *buf, size_t size)
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

/* The checks for --replay FILE.  Return: -1 to go on, else the status. */
static int st_cli_check_replay(int argc, char **argv, struct st_cli_opts *o,
			       int ntargets, FILE *err)
{
	char side[2][PATH_MAX];
	char ebuf[ST_ERRBUF_SIZE];

	if (ntargets > 0 || o->list || o->cleanup || o->explain)
		return st_usage_error(
			err,
			"--replay FILE traces a capture: not with --pod, --netns, --pid, --list, --cleanup or --explain");
	if (o->write != NULL)
		return st_usage_error(
			err, "--write saves a live trace: not with --replay");
	if (o->duration_ms > 0 || o->group >= 0 || o->skip_empty ||
	    o->rcvbuf > 0)
		return st_usage_error(
			err,
			"--duration, --group, --skip-empty-chains and --rcvbuf only apply when tracing a target");
	if (st_cli_join(argc, argv, optind, o->filter, sizeof(o->filter)) < 0)
		return st_usage_error(err, "the filter expression is too long");
	if (o->nrules > 0)
		return -1;
	if (strcmp(o->replay, "-") == 0)
		return st_usage_error(
			err,
			"--replay -: give the pod's rules with --rules FILE");
	/* A capture that cannot be read is the reader's error to report. */
	if (access(o->replay, R_OK) == 0 &&
	    st_replay_side_rules(o->replay, side, ebuf) == 0)
		return st_usage_error(
			err,
			"--replay %s: no %s.rules beside it (a tcpdump capture?): give the pod's rules with --rules FILE",
			o->replay, o->replay);
	return -1;
}

static int st_cli_parse_pod_ip(struct st_cli_opts *o, const char *s)
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

/*
 * The checks for --simulate and --diagram: saved rules only.
 * Return: -1 to go on, else the status.
 */
static int st_cli_check_sim(int argc, char **argv, struct st_cli_opts *o,
			    int ntargets, bool tuned, FILE *err)
{
	const char *what = o->simulate != NULL ? "--simulate" : "--diagram";
	char ebuf[ST_ERRBUF_SIZE];

	if (o->simulate != NULL && o->diagram >= 0)
		return st_usage_error(
			err, "give only one of --simulate and --diagram");
	if (ntargets > 0 || o->replay != NULL || o->write != NULL || o->list ||
	    o->cleanup || o->explain || o->check)
		return st_usage_error(
			err,
			"%s works on saved rules (--rules FILE): not with a target, --replay, --write, --list, --cleanup, --explain or --check",
			what);
	if (tuned)
		return st_usage_error(
			err,
			"--duration, --count, --group, --skip-empty-chains, --rcvbuf and --max-flows only apply when tracing a target");
	if (optind < argc)
		return st_usage_error(err, "unexpected argument '%s'",
				      argv[optind]);
	if (o->nrules == 0)
		return st_usage_error(
			err, "%s needs the pod's rules: --rules FILE", what);
	if (o->simulate == NULL && o->npod_ips > 0)
		return st_usage_error(
			err,
			"--pod-ip goes with --simulate (--diagram uses the lab pod's addresses)");
	if (o->diagram == 0 && o->output != NULL &&
	    st_diagram_is_file(o->output))
		return st_usage_error(
			err,
			"--diagram all draws six diagrams: -o needs a directory, not %s",
			o->output);
	if (o->simulate != NULL &&
	    st_simspec_parse(o->simulate, &o->spec, ebuf) < 0)
		return st_usage_error(err, "--simulate: %s", ebuf);
	return -1;
}

/* Parse argv into @o.  Return: -1 to go on, else the exit status. */
static int st_cli_parse(int argc, char **argv, struct st_cli_opts *o, FILE *out,
			FILE *err)
{
	struct option longopts[ST_ARRAY_SIZE(st_options) + 1];
	char optstring[2 * ST_ARRAY_SIZE(st_options) + 2];
	bool tuned = false; /* --duration, --count or --group given */
	char ebuf[ST_ERRBUF_SIZE];
	unsigned long long v;
	int ntargets = 0;
	int c;

	o->group = -1;
	o->diagram = -1;
	st_cli_build_getopt(optstring, sizeof(optstring), longopts);
	optind = 0; /* glibc: full re-initialisation, so tests can call twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			st_cli_help(out);
			return 0;
		case OPT_VERSION:
			fprintf(out, ST_PROG " " ST_VERSION "\n");
			return 0;
		case OPT_RULES:
			if (o->nrules == ST_MAX_RULE_FILES)
				return st_usage_error(
					err, "at most %d --rules files",
					ST_MAX_RULE_FILES);
			o->rules[o->nrules++] = optarg;
			break;
		case OPT_EXPLAIN:
			o->explain = true;
			break;
		case OPT_REPLAY:
			if (optarg[0] == '\0')
				return st_usage_error(err,
						      "--replay needs a file");
			o->replay = optarg;
			break;
		case OPT_WRITE:
			if (optarg[0] == '\0')
				return st_usage_error(err,
						      "--write needs a file");
			o->write = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case OPT_CLEANUP:
			o->cleanup = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_SIMULATE:
			o->simulate = optarg;
			break;
		case OPT_DIAGRAM:
			if (strcmp(optarg, "all") == 0)
				v = 0;
			else if (!st_parse_ulong(optarg, 1, 6, &v))
				return st_usage_error(
					err,
					"--diagram: '%s' is not a traffic type (1-6 or all)",
					optarg);
			o->diagram = (int)v;
			break;
		case OPT_POD_IP:
			if (st_cli_parse_pod_ip(o, optarg) < 0)
				return st_usage_error(
					err,
					"--pod-ip: '%s' is not an IPv4 or IPv6 address (at most %d)",
					optarg, ST_EVAL_MAX_ADDRS);
			break;
		case OPT_OUTPUT:
			if (optarg[0] == '\0')
				return st_usage_error(err, "-o needs a path");
			o->output = optarg;
			break;
		case OPT_POD:
			if (st_pod_check_name(optarg, ebuf) < 0)
				return st_usage_error(err, "--pod: %s", ebuf);
			o->target.pod = optarg;
			ntargets++;
			break;
		case OPT_NAMESPACE:
			if (st_pod_check_namespace(optarg, ebuf) < 0)
				return st_usage_error(err, "--namespace: %s",
						      ebuf);
			o->target.pod_ns = optarg;
			break;
		case OPT_NETNS:
			if (optarg[0] == '\0')
				return st_usage_error(err,
						      "--netns needs a path");
			o->target.netns = optarg;
			ntargets++;
			break;
		case OPT_PID:
			if (!st_parse_ulong(optarg, 1, INT_MAX, &v))
				return st_usage_error(
					err, "--pid: '%s' is not a process id",
					optarg);
			o->target.pid = (int)v;
			ntargets++;
			break;
		case OPT_DURATION:
			if (!st_parse_seconds(optarg, &o->duration_ms))
				return st_usage_error(
					err,
					"--duration: '%s' is not a positive number of seconds",
					optarg);
			tuned = true;
			break;
		case OPT_COUNT:
			if (!st_parse_ulong(optarg, 1, UINT64_MAX, &v))
				return st_usage_error(
					err,
					"--count: '%s' is not a positive number of flows",
					optarg);
			o->count = v;
			tuned = true;
			break;
		case OPT_SKIP_EMPTY_CHAINS:
			o->skip_empty = true;
			tuned = true;
			break;
		case OPT_RCVBUF:
			if (!st_parse_bytes(optarg, ST_RCVBUF_MIN,
					    ST_RCVBUF_MAX, &o->rcvbuf))
				return st_usage_error(
					err,
					"--rcvbuf: '%s' is not a buffer size (4K-1024M)",
					optarg);
			tuned = true;
			break;
		case OPT_MAX_FLOWS:
			if (!st_parse_ulong(optarg, 1, 65536, &v))
				return st_usage_error(
					err,
					"--max-flows: '%s' is not a number of flows (1-65536)",
					optarg);
			o->max_flows = (unsigned int)v;
			tuned = true;
			break;
		case OPT_GROUP:
			if (!st_parse_ulong(optarg, 0, 65535, &v))
				return st_usage_error(
					err,
					"--group: '%s' is not an NFLOG group (0-65535)",
					optarg);
			o->group = (int)v;
			tuned = true;
			break;
		case ':':
			return st_usage_error(err,
					      "option '%s' needs an argument",
					      argv[optind - 1]);
		case OPT_INVALID:
		default:
			return st_usage_error(err, "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (ntargets > 1)
		return st_usage_error(
			err, "give one target: --pod, --netns or --pid");
	if (o->target.pod_ns != NULL && o->target.pod == NULL)
		return st_usage_error(err, "--namespace goes with --pod NAME");
	if (o->simulate != NULL || o->diagram >= 0)
		return st_cli_check_sim(argc, argv, o, ntargets, tuned, err);
	if (o->npod_ips > 0)
		return st_usage_error(err, "--pod-ip goes with --simulate");
	if (o->output != NULL &&
	    (o->list || o->cleanup || o->explain || o->check))
		return st_usage_error(
			err,
			"-o PATH draws flows: not with --list, --cleanup, --explain or --check");
	if (o->replay != NULL)
		return st_cli_check_replay(argc, argv, o, ntargets, err);
	if (o->write != NULL &&
	    (ntargets == 0 || o->list || o->cleanup || o->explain || o->check))
		return st_usage_error(
			err,
			"--write FILE saves a live trace: it needs a target (--pod, --netns, --pid)");
	if (o->nrules > 0 && ntargets > 0)
		return st_usage_error(
			err,
			"--rules reads saved rules, --pod/--netns/--pid a live target: give one or the other");
	if (o->list + o->cleanup + o->explain + o->check > 1)
		return st_usage_error(
			err,
			"give only one of --list, --cleanup, --explain and --check");
	/* A filter expression only makes sense while tracing. */
	if (optind < argc &&
	    (ntargets == 0 || o->list || o->cleanup || o->explain || o->check))
		return st_usage_error(
			err,
			"unexpected argument '%s' (a filter expression is only taken when tracing a target)",
			argv[optind]);
	if (st_cli_join(argc, argv, optind, o->filter, sizeof(o->filter)) < 0)
		return st_usage_error(err, "the filter expression is too long");
	if (o->list) {
		if (ntargets > 0 || o->nrules > 0 || tuned)
			return st_usage_error(err, "--list takes no target");
		return -1;
	}
	if (o->explain && o->nrules == 0 && ntargets == 0)
		return st_usage_error(
			err,
			"--explain needs --rules FILE or a target (--pod, --netns, --pid)");
	if (o->check && o->nrules == 0 && ntargets == 0)
		return st_usage_error(
			err,
			"--check needs --rules FILE, a target (--pod, --netns, --pid) or --replay FILE");
	if (o->cleanup && ntargets == 0)
		return st_usage_error(
			err,
			"--cleanup needs a target (--pod, --netns, --pid)");
	if (tuned && (o->explain || o->cleanup || o->check || ntargets == 0))
		return st_usage_error(
			err,
			"--duration, --count, --group, --skip-empty-chains, --rcvbuf and --max-flows only apply when tracing a target");
	if (!o->explain && !o->cleanup && !o->check && ntargets == 0)
		return st_usage_error(
			err,
			"nothing to do: give a target to trace (--pod, --netns, --pid), --list, or --explain");
	return -1;
}

static void st_cli_runtime_error(FILE *err, const char *msg)
{
	/* One line: messages that list things keep them on that line. */
	fprintf(err, ST_PROG ": ");
	for (const char *p = msg; *p != '\0'; p++)
		fputc(*p == '\n' ? ' ' : *p, err);
	fputc('\n', err);
}

/*
 * After the output was written (@ret: the writer's result): flushed, 0; else
 * the failure reported on @err, -1.
 */
static int st_cli_output_written(FILE *out, FILE *err, int ret)
{
	if (ret >= 0 && fflush(out) == 0)
		return 0;
	fprintf(err, ST_PROG ": writing the output failed: %s\n",
		strerror(ret < 0 ? -ret : errno));
	return -1;
}

/* The rules to explain: saved files, or read live from a target. */
static int st_cli_load(const struct st_cli_opts *o, struct st_ruleset **out,
		       char *ebuf)
{
	struct st_tgt *tgt = NULL;
	struct st_ruleset *rs = NULL;
	int fd = -1;
	int ret;

	*out = NULL;
	if (o->nrules > 0) {
		rs = st_ruleset_new();
		if (rs == NULL) {
			ret = st_err(ebuf, ENOMEM, "out of memory");
			goto out;
		}
		for (unsigned int i = 0; i < o->nrules; i++) {
			ret = st_rules_load_file(rs, o->rules[i], ebuf);
			if (ret < 0)
				goto out;
		}
	} else {
		fd = st_session_target_open(&o->target, NULL, 0, ebuf);
		if (fd < 0) {
			ret = fd;
			goto out;
		}
		ret = st_tgt_read(fd, NULL, &tgt, ebuf);
		if (ret < 0)
			goto out;
		rs = st_tgt_take_rules(tgt);
		if (rs == NULL) {
			ret = st_err(ebuf, ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = rs;
	rs = NULL;
	ret = 0;
out:
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int st_cli_explain(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	ret = st_cli_load(o, &rs, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	ret = st_istio_analyze(rs, &set, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (o->json)
		ret = st_explain_json(out, rs, &set);
	else
		ret = st_explain_text(out, rs, &set);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	rc = 0;
out:
	st_ruleset_free(rs);
	return rc;
}

/*
 * -o PATH: where the drawn flows go.  The flow writers of tracing and
 * replay take no user pointer, so the drawing state is the process's one
 * (st_cli_run() is not re-entrant anyway: getopt).
 */
struct st_cli_draw {
	const char *path;
	bool file;		/* one file: the first flow shown */
	bool file_done;		/* ... drawn (or tried) */
	struct st_diagram *dir; /* directory: first flow of each type */
	const char *pod_name;	/* for the frame */
	char pod_buf[320];	/* --replay: the pod named in FILE.meta.json */
	struct st_ruleset *rs;	/* the frame's rules; NULL: none */
	struct st_istio_settings set;
	int (*write_flow)(FILE *out, const struct st_flow *flow);
	int (*write_summary)(FILE *out, const struct st_flow_stats *stats);
	bool summarised; /* the end was reached: the directory is drawn */
	const struct st_session_tap *tap; /* --write's, chained */
	void *tap_data;
	int failed; /* negative errno of the first drawing error */
	char ebuf[ST_ERRBUF_SIZE];
};

static struct st_cli_draw st_cli_draw_state;

/*
 * Fail early on an -o PATH that cannot be written, rather than after a
 * trace: a file's directory must exist; a directory must be one, or the
 * nearest of its parents that exists must be writable (the rest is
 * created at the end, as st_diagram_write() does).
 */
static int st_cli_output_check(const char *path, char *ebuf)
{
	char parent[PATH_MAX];
	struct stat st;
	char *slash;

	if (st_strlcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		return st_err(ebuf, ENAMETOOLONG, "-o %s: name too long", path);
	if (!st_diagram_is_file(path) && stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return st_err(
				ebuf, ENOTDIR,
				"-o %s: not a directory (one file needs .svg, .png, .pdf or .dot)",
				path);
		if (access(path, W_OK) != 0)
			return st_err(ebuf, errno, "-o %s: %s", path,
				      strerror(errno));
		return 0;
	}
	if (st_diagram_is_file(path) && stat(path, &st) == 0 &&
	    access(path, W_OK) != 0)
		return st_err(ebuf, errno, "-o %s: %s", path, strerror(errno));
	/* A directory is created with its parents: look at the first that is. */
	do {
		while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
			parent[strlen(parent) - 1] = '\0';
		slash = strrchr(parent, '/');
		if (slash == NULL)
			snprintf(parent, sizeof(parent), ".");
		else if (slash == parent)
			parent[1] = '\0';
		else
			*slash = '\0';
	} while (!st_diagram_is_file(path) && stat(parent, &st) != 0 &&
		 errno == ENOENT && strcmp(parent, ".") != 0 &&
		 strcmp(parent, "/") != 0);
	if (stat(parent, &st) != 0)
		return st_err(ebuf, errno, "-o %s: %s: %s", path, parent,
			      strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return st_err(ebuf, ENOTDIR, "-o %s: %s: %s", path, parent,
			      strerror(ENOTDIR));
	if (access(parent, W_OK) != 0)
		return st_err(ebuf, errno, "-o %s: %s: %s", path, parent,
			      strerror(errno));
	return 0;
}

static void st_cli_draw_opts(struct st_graph_opts *g, const char *pod_name,
			     const char *pod_ip, const struct st_ruleset *rs,
			     const struct st_istio_settings *set)
{
	memset(g, 0, sizeof(*g));
	g->pod_name = pod_name;
	g->pod_ip = pod_ip;
	g->rs = rs;
	g->set = set;
}

/* The directory collector, once the rules of the frame are known. */
static int st_cli_draw_dir_new(struct st_cli_draw *d)
{
	struct st_graph_opts g;

	if (d->file || d->dir != NULL)
		return 0;
	st_cli_draw_opts(&g, d->pod_name, NULL, d->rs, d->rs ? &d->set : NULL);
	d->dir = st_diagram_new(d->path, NULL, &g, d->ebuf);
	if (d->dir == NULL)
		return -ENOMEM;
	return 0;
}

static int st_cli_draw_flow(FILE *out, const struct st_flow *flow)
{
	struct st_cli_draw *d = &st_cli_draw_state;
	struct st_graph_opts g;
	int ret;

	ret = d->write_flow(out, flow);
	if (ret < 0)
		return ret;
	if (d->file && !d->file_done) {
		d->file_done = true;
		st_cli_draw_opts(&g, d->pod_name, NULL, d->rs,
				 d->rs ? &d->set : NULL);
		ret = st_diagram_write_file(flow, &g, d->path, d->ebuf);
		if (ret < 0 && d->failed == 0)
			d->failed = ret;
	} else if (!d->file) {
		if (d->dir == NULL && st_cli_draw_dir_new(d) < 0) {
			if (d->failed == 0)
				d->failed = -ENOMEM;
			return 0;
		}
		st_diagram_add(d->dir, flow);
	}
	return 0;
}

/*
 * The directory is drawn with the summary: the kept flows point into the
 * rules of the session or replay, which are freed when it returns.  A
 * drawing error does not fail the summary; it is reported at the end.
 */
static int st_cli_draw_summary(FILE *out, const struct st_flow_stats *stats)
{
	struct st_cli_draw *d = &st_cli_draw_state;
	int ret;

	ret = d->write_summary(out, stats);
	d->summarised = true;
	if (d->file || d->failed < 0)
		return ret;
	if (d->dir == NULL && st_cli_draw_dir_new(d) < 0)
		d->failed = -ENOMEM;
	else if (st_diagram_write(d->dir, d->ebuf) < 0)
		d->failed = -EIO;
	return ret;
}

/* Rules as the session read them, parsed again for the frame. */
static int st_cli_draw_tap_rules(void *data, const struct st_tgt *tgt,
				 char *err)
{
	static const enum st_family fam[] = {ST_FAMILY_IPV4, ST_FAMILY_IPV6};
	struct st_cli_draw *d = data;
	struct st_ruleset *rs = NULL;
	char ebuf[ST_ERRBUF_SIZE];
	const char *text;
	size_t len;
	int ret = 0;

	if (d->tap != NULL && d->tap->rules != NULL) {
		ret = d->tap->rules(d->tap_data, tgt, err);
		if (ret < 0)
			return ret;
	}
	if (d->rs != NULL || d->dir != NULL)
		return 0;
	/* Without a frame the diagrams still draw the visited chains. */
	rs = st_ruleset_new();
	if (rs == NULL)
		goto out;
	if (st_tgt_backend(tgt) == ST_BACKEND_NFTABLES) {
		text = st_tgt_text(tgt, ST_FAMILY_ANY, &len);
		ret = st_rules_load_buf(rs, text, len, "nft", ebuf);
	} else {
		for (size_t i = 0; i < ST_ARRAY_SIZE(fam) && ret == 0; i++) {
			text = st_tgt_text(tgt, fam[i], &len);
			if (len > 0)
				ret = st_rules_load_buf(rs, text, len, "rules",
							ebuf);
		}
	}
	if (ret == 0 && st_istio_analyze(rs, &d->set, ebuf) == 0) {
		d->rs = rs;
		rs = NULL;
	}
out:
	st_ruleset_free(rs);
	st_cli_draw_dir_new(d);
	return 0;
}

static int st_cli_draw_tap_begin(void *data,
				 const struct st_session_result *res, char *err)
{
	struct st_cli_draw *d = data;

	if (d->tap != NULL && d->tap->begin != NULL)
		return d->tap->begin(d->tap_data, res, err);
	return 0;
}

static int st_cli_draw_tap_rec(void *data, const struct st_rec *rec, char *err)
{
	struct st_cli_draw *d = data;

	if (d->tap != NULL && d->tap->rec != NULL)
		return d->tap->rec(d->tap_data, rec, err);
	return 0;
}

static const struct st_session_tap st_cli_draw_tap = {
	.rules = st_cli_draw_tap_rules,
	.begin = st_cli_draw_tap_begin,
	.rec = st_cli_draw_tap_rec,
};

/*
 * Set up -o for tracing or replay: @write_flow is the writer to wrap.
 * Return: 0, or a negative errno with @ebuf set.
 */
static int st_cli_draw_begin(const struct st_cli_opts *o,
			     int (*write_flow)(FILE *, const struct st_flow *),
			     int (*write_summary)(FILE *,
						  const struct st_flow_stats *),
			     char *ebuf)
{
	struct st_cli_draw *d = &st_cli_draw_state;
	int ret;

	memset(d, 0, sizeof(*d));
	ret = st_cli_output_check(o->output, ebuf);
	if (ret < 0)
		return ret;
	d->path = o->output;
	d->file = st_diagram_is_file(o->output);
	d->pod_name = o->target.pod;
	if (o->replay != NULL) {
		struct st_pcapout_meta meta;
		char merr[ST_ERRBUF_SIZE];
		const char *slash = NULL;

		/* Optional: a plain tcpdump capture has no side files. */
		if (st_pcapout_read_meta(o->replay, &meta, merr) == 0 &&
		    meta.pod[0] != '\0') {
			slash = strchr(meta.pod, '/');
			st_strlcpy(d->pod_buf, slash ? slash + 1 : meta.pod,
				   sizeof(d->pod_buf));
			d->pod_name = d->pod_buf;
		}
	}
	d->write_flow = write_flow;
	d->write_summary = write_summary;
	return 0;
}

/*
 * The frame of --replay's diagrams: --rules, else the capture's side
 * files.  Without them the diagrams show only the chains visited.
 */
static void st_cli_draw_replay_rules(const struct st_cli_opts *o)
{
	struct st_cli_draw *d = &st_cli_draw_state;
	struct st_cli_opts ro = *o;
	char side[2][PATH_MAX];
	char ebuf[ST_ERRBUF_SIZE];
	int n;

	if (o->nrules == 0) {
		n = st_replay_side_rules(o->replay, side, ebuf);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			ro.rules[i] = side[i];
		ro.nrules = (unsigned int)n;
	}
	if (st_cli_load(&ro, &d->rs, ebuf) < 0)
		return;
	if (st_istio_analyze(d->rs, &d->set, ebuf) < 0) {
		st_ruleset_free(d->rs);
		d->rs = NULL;
	}
}

/*
 * Finish -o after tracing or replay (what was seen is drawn with the
 * summary, however the trace stopped: a signal too).  Return: 0, or 1
 * when drawing failed (said on @err).
 */
static int st_cli_draw_end(FILE *err)
{
	struct st_cli_draw *d = &st_cli_draw_state;
	int rc = 0;

	if (d->failed < 0) {
		st_cli_runtime_error(err, d->ebuf);
		rc = 1;
	} else if (d->summarised && d->file && !d->file_done) {
		fprintf(err,
			ST_PROG ": -o %s: no flow was shown, nothing drawn\n",
			d->path);
	}
	st_diagram_free(d->dir);
	st_ruleset_free(d->rs);
	memset(d, 0, sizeof(*d));
	return rc;
}

/* The saved rules of --simulate and --diagram, analysed. */
static int st_cli_load_analyzed(const struct st_cli_opts *o,
				struct st_ruleset **rs,
				struct st_istio_settings *set, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";

	if (st_cli_load(o, rs, ebuf) < 0 ||
	    st_istio_analyze(*rs, set, ebuf) < 0) {
		st_cli_runtime_error(err, ebuf);
		st_ruleset_free(*rs);
		*rs = NULL;
		return -1;
	}
	return 0;
}

static void st_cli_addr(char *buf, size_t size, uint8_t family,
			const uint8_t *a, uint16_t port)
{
	char s[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, s, sizeof(s));
	if (family == 4)
		snprintf(buf, size, "%s:%u", s, port);
	else
		snprintf(buf, size, "[%s]:%u", s, port);
}

/* The pod's address of @family in @env, for the diagram's pod label. */
static const char *st_cli_pod_ip(const struct st_eval_env *env, uint8_t family,
				 char *buf, size_t size)
{
	for (unsigned int i = 0; i < env->naddrs; i++)
		if (env->addrs[i].family == family)
			return inet_ntop(family == 4 ? AF_INET : AF_INET6,
					 env->addrs[i].addr, buf,
					 (socklen_t)size);
	return NULL;
}

/* The --simulate spec of one simulated leg. */
static void st_cli_leg_spec(const struct st_flow_leg *l, char *buf, size_t size)
{
	struct st_simspec s;

	memset(&s, 0, sizeof(s));
	s.family = l->family;
	s.proto = l->proto;
	memcpy(s.src, l->src, sizeof(s.src));
	memcpy(s.dst, l->dst, sizeof(s.dst));
	s.sport = l->sport;
	s.dport = l->dport;
	s.outgoing = !l->arriving;
	s.has_uid = l->has_uid;
	s.uid = l->uid;
	s.has_gid = l->has_gid;
	s.gid = l->gid;
	if (l->arriving)
		st_strlcpy(s.iif, l->indev[0] ? l->indev : "eth0",
			   sizeof(s.iif));
	else if (!l->has_uid && !l->has_gid)
		st_strlcpy(s.oif, l->outdev[0] ? l->outdev : "eth0",
			   sizeof(s.oif));
	st_simspec_format(&s, buf, size);
}

/* Text: the path line, then what happened to each leg, then the note. */
static int st_cli_sim_text(FILE *out, const struct st_eval_result *r)
{
	char spec[256], to[64];

	if (st_path_print(out, &r->flow) < 0)
		return -EIO;
	for (unsigned int i = 0; i < r->flow.nlegs; i++) {
		const struct st_flow_leg *l = &r->flow.legs[i];
		const struct st_eval_info *in = &r->info[i];

		st_cli_leg_spec(l, spec, sizeof(spec));
		st_cli_addr(to, sizeof(to), l->family, in->dst, in->dport);
		fprintf(out, "  leg %u: %s\n         ", i + 1, spec);
		if (l->incomplete) {
			fprintf(out, "incomplete: %s\n", l->why);
			continue;
		}
		switch (in->verdict) {
		case ST_EVAL_SENT:
			fprintf(out, "sent to %s via %s", to, in->oif);
			break;
		case ST_EVAL_LOCAL:
			fprintf(out, "delivered to %s%s", to,
				in->via_lo ? " (looped back over lo)" : "");
			break;
		case ST_EVAL_DROPPED:
			fprintf(out, "dropped at %s", in->at);
			break;
		case ST_EVAL_UNDECIDABLE:
			fprintf(out, "undecidable at %s", in->at);
			break;
		case ST_EVAL_FORWARDED:
			fprintf(out, "forwarded to %s (not followed)", to);
			break;
		}
		if (l->redirect_port != 0)
			fprintf(out, ", redirected to port %u",
				l->redirect_port);
		fputc('\n', out);
	}
	if (r->note[0] != '\0')
		fprintf(out, "note: %s\n", r->note);
	return ferror(out) ? -EIO : 0;
}

/* JSON: the flow's line with what the evaluator adds, as "simulate". */
static json_t *st_cli_sim_json(const struct st_eval_result *r, const char *spec)
{
	json_t *j = NULL, *legs = NULL, *sim = NULL;
	char to[64];

	j = st_flowjson_flow(&r->flow, NULL);
	legs = json_array();
	if (j == NULL || legs == NULL)
		goto fail;
	for (unsigned int i = 0; i < r->flow.nlegs; i++) {
		const struct st_eval_info *in = &r->info[i];
		const struct st_flow_leg *l = &r->flow.legs[i];

		st_cli_addr(to, sizeof(to), l->family, in->dst, in->dport);
		if (json_array_append_new(
			    legs,
			    json_pack("{s:s, s:s, s:s?, s:b, s:s?}", "verdict",
				      st_eval_verdict_name(in->verdict), "to",
				      to, "via", in->oif[0] ? in->oif : NULL,
				      "via_lo", in->via_lo, "at",
				      in->at[0] ? in->at : NULL)) < 0)
			goto fail;
	}
	sim = json_pack("{s:s?, s:s?, s:o}", "spec", spec, "note",
			r->note[0] ? r->note : NULL, "legs", legs);
	legs = NULL;
	if (sim == NULL || json_object_set_new(j, "simulate", sim) < 0)
		goto fail;
	return j;
fail:
	json_decref(legs);
	json_decref(j);
	return NULL;
}

static int st_cli_sim_json_write(FILE *out, const struct st_eval_result *r,
				 const char *spec)
{
	json_t *j = st_cli_sim_json(r, spec);
	int ret;

	if (j == NULL)
		return -ENOMEM;
	ret = json_dumpf(j, out, JSON_COMPACT);
	json_decref(j);
	if (ret < 0 || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

static void st_cli_sim_stats(struct st_flow_stats *st, const struct st_flow *f)
{
	st->flows++;
	if (f->type >= 0 && f->type <= ST_TYPE_MAX)
		st->by_type[f->type]++;
	if ((unsigned int)f->klass < ST_CLASS__MAX)
		st->by_class[f->klass]++;
}

/* The pod of --pod-ip: its addresses replace the lab's (and its VIP). */
static void st_cli_sim_env(const struct st_cli_opts *o, struct st_eval_env *env)
{
	struct st_prefix lab[ST_EVAL_MAX_ADDRS];
	unsigned int nlab = env->naddrs;

	if (o->npod_ips == 0)
		return;
	memcpy(lab, env->addrs, sizeof(lab));
	env->naddrs = o->npod_ips;
	memcpy(env->addrs, o->pod_ips, sizeof(env->addrs));
	/* The VIP that leads back to the lab's pod leads to this one. */
	for (unsigned int v = 0; v < env->nvips; v++) {
		struct st_eval_vip *vip = &env->vips[v];
		size_t len = vip->family == 4 ? 4 : 16;

		for (unsigned int a = 0; a < nlab; a++) {
			if (lab[a].family != vip->family ||
			    memcmp(lab[a].addr, vip->ep, len) != 0)
				continue;
			for (unsigned int b = 0; b < env->naddrs; b++)
				if (env->addrs[b].family == vip->family) {
					memcpy(vip->ep, env->addrs[b].addr,
					       len);
					break;
				}
		}
	}
}

/* Draw @flow for --simulate / --diagram -o FILE. */
static int st_cli_draw_one(const char *path, const struct st_flow *flow,
			   const struct st_graph_opts *g, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";

	if (st_cli_output_check(path, ebuf) < 0 ||
	    st_diagram_write_file(flow, g, path, ebuf) < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	return 0;
}

/*
 * -o for flows computed at once: a file gets the first, a directory each
 * (NULL entries skipped).  0, or 1 with the failure reported.
 */
static int st_cli_draw_flows(const char *path,
			     const struct st_flow *const *flows, size_t n,
			     const struct st_graph_opts *g, FILE *err)
{
	struct st_diagram *dg = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int ret;

	if (st_diagram_is_file(path))
		return st_cli_draw_one(path, flows[0], g, err);
	ret = st_cli_output_check(path, ebuf);
	if (ret == 0) {
		dg = st_diagram_new(path, NULL, g, ebuf);
		ret = dg ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		if (flows[i] != NULL)
			st_diagram_add(dg, flows[i]);
	if (ret == 0)
		ret = st_diagram_write(dg, ebuf);
	if (ret < 0)
		st_cli_runtime_error(err, ebuf);
	st_diagram_free(dg);
	return ret < 0 ? 1 : 0;
}

static int st_cli_simulate(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_eval_result *r = NULL;
	struct st_ruleset *rs = NULL;
	struct st_flow_stats stats;
	struct st_graph_opts g;
	struct st_eval_env env;
	char ebuf[ST_ERRBUF_SIZE] = "";
	char spec[256], ip[INET6_ADDRSTRLEN];
	int rc = 1;
	int ret;

	if (st_cli_load_analyzed(o, &rs, &set, err) < 0)
		goto out;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	st_eval_env_lab(&env, rs, &set);
	st_cli_sim_env(o, &env);
	ret = st_eval_flow(&env, &o->spec, r, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	st_simspec_format(&o->spec, spec, sizeof(spec));
	if (o->json) {
		memset(&stats, 0, sizeof(stats));
		st_cli_sim_stats(&stats, &r->flow);
		ret = st_cli_sim_json_write(out, r, spec);
		if (ret == 0)
			ret = st_flowjson_write_summary(out, &stats);
	} else {
		ret = st_cli_sim_text(out, r);
	}
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	if (o->output != NULL) {
		const struct st_flow *flow = &r->flow;

		st_cli_draw_opts(
			&g, NULL,
			st_cli_pod_ip(&env, o->spec.family, ip, sizeof(ip)), rs,
			&set);
		if (st_cli_draw_flows(o->output, &flow, 1, &g, err) != 0)
			goto out;
	}
	rc = 0;
out:
	free(r);
	st_ruleset_free(rs);
	return rc;
}

static int st_cli_diagram(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_scenarios *sc = NULL;
	struct st_ruleset *rs = NULL;
	const struct st_flow *flow;
	struct st_flow_stats stats;
	struct st_graph_opts g;
	struct st_term_opts term;
	struct st_eval_env env;
	char ebuf[ST_ERRBUF_SIZE] = "";
	char ip[INET6_ADDRSTRLEN];
	const char *pod_ip = NULL;
	size_t first = 0, last = ST_SCENARIO_COUNT;
	int rc = 1;
	int ret = 0;

	if (st_cli_load_analyzed(o, &rs, &set, err) < 0)
		goto out;
	sc = st_scenario_run(rs, &set, ebuf);
	if (sc == NULL) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (o->diagram > 0) {
		first = (size_t)o->diagram - 1;
		last = first + 1;
	}
	flow = st_scenario_flow(sc, first);
	st_eval_env_lab(&env, rs, &set);
	if (flow != NULL && flow->nlegs > 0)
		pod_ip = st_cli_pod_ip(&env, flow->legs[0].family, ip,
				       sizeof(ip));
	st_cli_draw_opts(&g, NULL, pod_ip, rs, &set);
	st_term_detect(&term);
	term.no_title = true; /* the path line is the heading */
	memset(&stats, 0, sizeof(stats));
	for (size_t i = first; i < last && ret == 0; i++) {
		const struct st_eval_result *r = st_scenario_result(sc, i);

		if (r == NULL)
			continue;
		st_cli_sim_stats(&stats, &r->flow);
		if (o->json)
			ret = st_cli_sim_json_write(out, r,
						    st_scenario_spec(sc, i));
		else if (st_path_print(out, &r->flow) < 0 ||
			 fprintf(out, "  from --simulate '%s'\n",
				 st_scenario_spec(sc, i)) < 0)
			ret = -EIO;
		/* Without -o the path is drawn here, as boxes. */
		else if (o->output == NULL &&
			 (st_term_render(out, &r->flow, &term, ebuf) < 0 ||
			  (i + 1 < last && fputc('\n', out) == EOF)))
			ret = -EIO;
	}
	if (ret == 0 && o->json)
		ret = st_flowjson_write_summary(out, &stats);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	if (o->output != NULL) {
		const struct st_flow *flows[ST_SCENARIO_COUNT];

		for (size_t i = first; i < last; i++)
			flows[i - first] = st_scenario_flow(sc, i);
		if (st_cli_draw_flows(o->output, flows, last - first, &g,
				      err) != 0)
			goto out;
	}
	rc = 0;
out:
	st_scenario_free(sc);
	st_ruleset_free(rs);
	return rc;
}

/* Backend and interception mode of one pod, read from its rules. */
static void st_cli_pod_rules(const struct st_pod *pod, const char **backend,
			     const char **mode)
{
	struct st_istio_settings set;
	char ebuf[ST_ERRBUF_SIZE];
	struct st_tgt *tgt = NULL;
	struct st_ruleset *rs = NULL;
	int fd;

	*backend = "-";
	*mode = pod->interception_mode[0] ? pod->interception_mode : "-";
	fd = st_pod_netns_open(pod, NULL, ebuf);
	if (fd < 0)
		return;
	if (st_tgt_read(fd, NULL, &tgt, ebuf) == 0) {
		*backend = st_backend_name(st_tgt_backend(tgt));
		rs = st_tgt_take_rules(tgt);
		if (rs != NULL && st_istio_analyze(rs, &set, ebuf) == 0 &&
		    set.kind == ST_ISTIO_SIDECAR)
			*mode = st_istio_mode_name(set.mode);
	}
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	close(fd);
}

static int st_cli_list(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_pod_list *l = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	ret = st_pod_scan(NULL, &l, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (st_pod_list_note(l)[0] != '\0')
		fprintf(err, ST_PROG ": %s\n", st_pod_list_note(l));
	if (!o->json && st_pod_list_count(l) > 0)
		fprintf(out, "%-16s %-40s %8s  %-16s %s\n", "NAMESPACE", "NAME",
			"PID", "BACKEND", "MODE");
	for (size_t i = 0; i < st_pod_list_count(l); i++) {
		const struct st_pod *p = st_pod_list_get(l, i);
		const char *backend, *mode;

		st_cli_pod_rules(p, &backend, &mode);
		if (o->json) {
			json_t *j = json_pack(
				"{s:s, s:s, s:i, s:s, s:s}", "name", p->name,
				"namespace", p->ns, "pid", p->pid, "backend",
				backend, "interception_mode", mode);

			ret = j ? json_dumpf(j, out, JSON_COMPACT) : -1;
			json_decref(j);
			if (ret == 0)
				fputc('\n', out);
		} else {
			fprintf(out, "%-16s %-40s %8d  %-16s %s\n", p->ns,
				p->name, p->pid, backend, mode);
		}
	}
	if (st_pod_list_count(l) == 0)
		fprintf(err,
			ST_PROG ": no Istio sidecar pods found on this node\n");
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(err, ST_PROG ": writing the output failed: %s\n",
			strerror(errno));
		goto out;
	}
	rc = 0;
out:
	st_pod_list_free(l);
	return rc;
}

static int st_cli_cleanup(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";
	char desc[320];
	unsigned int removed = 0;
	int fd, n;

	(void)out;
	fd = st_session_target_open(&o->target, desc, sizeof(desc), ebuf);
	if (fd < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	n = st_session_cleanup(fd, ST_BACKEND_UNKNOWN, 0, NULL, err, &removed,
			       ebuf);
	close(fd);
	if (n < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	if (n == 0)
		fprintf(err, ST_PROG ": %s: no rules of dead sessions found\n",
			desc);
	return 0;
}

static const char *st_cli_signame(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	}
	return "a signal";
}

/*
 * Finish --write after the session: one line when the capture failed.
 * A capture of a session that never attached holds nothing: removed.
 * Return: 0, or 1 when the capture failed (the error was printed).
 */
static int st_cli_write_close(const struct st_cli_opts *o,
			      struct st_replay_writer *wr,
			      const struct st_session_result *res, int sret,
			      FILE *err)
{
	static const char *const ext[] = {"rules", "rules6", "meta.json"};
	char ebuf[ST_ERRBUF_SIZE] = "";
	char side[PATH_MAX];
	bool unused = !res->attached && st_replay_writer_records(wr) == 0;
	int failed = st_replay_writer_failed(wr);
	int ret;

	ret = st_replay_writer_close(wr, ebuf);
	if (unused) {
		unlink(o->write);
		for (size_t i = 0; i < ST_ARRAY_SIZE(ext); i++)
			if (st_pcapout_side_path(side, sizeof(side), o->write,
						 ext[i]) == 0)
				unlink(side);
	}
	if (failed < 0 && sret < 0) {
		fprintf(err,
			ST_PROG
			": --write %s failed: %s; tracing stopped, %s\n",
			o->write, strerror(-failed),
			res->detached ? "the rules were removed"
				      : "see above for the rules");
		return 1;
	}
	if (ret < 0 && !unused) {
		fprintf(err, ST_PROG ": --write %s failed: %s\n", o->write,
			ebuf);
		return 1;
	}
	return 0;
}

static int st_cli_trace(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_session_opts so;
	struct st_session_result res;
	struct st_filter *filter = NULL;
	struct st_replay_writer *wr = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	bool drawing = false;
	int rc = 1;
	int ret, wret = 0, dret = 0;

	if (o->filter[0] != '\0') {
		ret = st_filter_new(&filter, o->filter, ebuf);
		if (ret == -EINVAL) {
			rc = st_usage_error(err, "%s", ebuf);
			goto out;
		}
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	if (o->output != NULL) {
		ret = st_cli_draw_begin(
			o, o->json ? st_flowjson_write : st_path_print,
			o->json ? st_flowjson_write_summary : st_path_summary,
			ebuf);
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
		drawing = true;
	}
	if (o->write != NULL) {
		ret = st_replay_writer_open(&wr, o->write, &o->target, ebuf);
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	memset(&so, 0, sizeof(so));
	so.tap = wr != NULL ? st_replay_writer_tap() : NULL;
	so.tap_data = wr;
	so.target = o->target;
	so.backend = ST_BACKEND_UNKNOWN;
	so.group = o->group;
	so.duration_ms = o->duration_ms;
	so.count = o->count;
	/*
	 * Empty built-in chains are logged by default: their policy hops
	 * (POSTROUTING, INPUT) are part of the path as the article draws it
	 * and as TRACE and --simulate show it.
	 */
	so.instr_flags = o->skip_empty ? 0 : ST_INSTR_F_ALL_BUILTIN;
	so.rcvbuf = o->rcvbuf;
	so.max_flows = o->max_flows;
	so.filter = filter;
	so.out = out;
	so.diag = err;
	so.write_flow = o->json ? st_flowjson_write : st_path_print;
	so.write_summary =
		o->json ? st_flowjson_write_summary : st_path_summary;
	if (drawing) {
		/* -o: the flows are drawn too, the frame from the rules read. */
		st_cli_draw_state.tap = so.tap;
		st_cli_draw_state.tap_data = so.tap_data;
		so.tap = &st_cli_draw_tap;
		so.tap_data = &st_cli_draw_state;
		so.write_flow = st_cli_draw_flow;
		so.write_summary = st_cli_draw_summary;
	}
	ret = st_session_run(&so, &res, ebuf);
	if (drawing) {
		dret = st_cli_draw_end(err);
		drawing = false;
	}
	if (wr != NULL) {
		wret = st_cli_write_close(o, wr, &res, ret, err);
		wr = NULL;
	}
	if (ret < 0 && wret == 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (ret < 0)
		goto out;
	if (res.attached) {
		char why[64];

		if (res.stop == ST_STOP_SIGNAL)
			snprintf(why, sizeof(why), "%s",
				 st_cli_signame(res.signo));
		else
			snprintf(why, sizeof(why), "%s",
				 st_session_stop_name(res.stop));
		fprintf(err,
			ST_PROG ": stopped (%s) after %" PRIu64
				" flows, %" PRIu64 " records lost, %" PRIu64
				" flows evicted (at most %u open); %u rules "
				"removed, %s\n",
			why, res.written, res.nflog.lost, res.flows.evicted,
			res.max_flows, res.instr.nrules,
			res.rules_changed
				? "the rules are as someone else left them "
				  "(their change is kept)"
				: "the rules are as before");
	} else if (res.stop == ST_STOP_SIGNAL) {
		fprintf(err, ST_PROG ": stopped (%s) before tracing began\n",
			st_cli_signame(res.signo));
	}
	if (wret != 0 || dret != 0)
		goto out;
	rc = 0;
out:
	if (drawing)
		st_cli_draw_end(err);
	st_replay_writer_close(wr, ebuf);
	st_filter_free(filter);
	return rc;
}

/* --replay's options as the command line gives them; writers are the caller's. */
static void st_cli_replay_opts(const struct st_cli_opts *o,
			       struct st_filter *filter, FILE *out, FILE *err,
			       struct st_replay_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->capture = o->replay;
	for (unsigned int i = 0; i < o->nrules && i < ST_REPLAY_MAX_RULES; i++)
		ro->rules[ro->nrules++] = o->rules[i];
	ro->count = o->count;
	ro->filter = filter;
	ro->out = out;
	ro->diag = err;
}

static int st_cli_replay(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_replay_opts ro;
	struct st_replay_result res;
	struct st_filter *filter = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	if (o->filter[0] != '\0') {
		ret = st_filter_new(&filter, o->filter, ebuf);
		if (ret == -EINVAL) {
			rc = st_usage_error(err, "%s", ebuf);
			goto out;
		}
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
	}
	st_cli_replay_opts(o, filter, out, err, &ro);
	ro.write_flow = o->json ? st_flowjson_write : st_path_print;
	ro.write_summary =
		o->json ? st_flowjson_write_summary : st_path_summary;
	if (o->output != NULL) {
		ret = st_cli_draw_begin(o, ro.write_flow, ro.write_summary,
					ebuf);
		if (ret < 0) {
			st_cli_runtime_error(err, ebuf);
			goto out;
		}
		st_cli_draw_replay_rules(o);
		ro.write_flow = st_cli_draw_flow;
		ro.write_summary = st_cli_draw_summary;
	}
	if (st_plaincap_probe(o->replay, ebuf) == 1) {
		struct st_plaincap_opts po = {
			.flow_json = o->json && o->output == NULL
					     ? st_flowjson_flow
					     : NULL,
			.notes_to_diag = o->output != NULL,
		};
		struct st_plaincap_result pres;

		ret = st_plaincap_run(&ro, &po, &pres, ebuf);
	} else {
		ret = st_replay_run(&ro, &res, ebuf);
	}
	if (o->output != NULL && st_cli_draw_end(err) != 0)
		ret = ret < 0 ? ret : -EIO;
	else if (ret < 0)
		st_cli_runtime_error(err, ebuf);
	if (ret < 0)
		goto out;
	rc = 0;
out:
	st_filter_free(filter);
	return rc;
}

/* --replay FILE --check: the flows go to the check, not to the output. */
static struct st_check *st_cli_check_acc;

static int st_cli_check_flow(FILE *out, const struct st_flow *flow)
{
	(void)out;
	return st_check_add_flow(st_cli_check_acc, flow);
}

static int st_cli_check_summary(FILE *out, const struct st_flow_stats *stats)
{
	(void)out;
	(void)stats;
	return 0;
}

/* The rules a check reads: --rules, else (replay) the side files. */
static int st_cli_check_rules(const struct st_cli_opts *o,
			      struct st_ruleset **out, char *ebuf)
{
	struct st_cli_opts so = *o;
	char side[2][PATH_MAX];
	int n;

	if (o->replay != NULL && o->nrules == 0) {
		n = st_replay_side_rules(o->replay, side, ebuf);
		if (n < 0)
			return n;
		if (n == 0)
			return st_err(ebuf, ENOENT,
				      "%s: no rules beside it: give --rules",
				      o->replay);
		for (int i = 0; i < n; i++)
			so.rules[i] = side[i];
		so.nrules = (unsigned int)n;
	}
	return st_cli_load(&so, out, ebuf);
}

static int st_cli_check(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set = {0};
	struct st_replay_result res;
	struct st_replay_opts ro;
	struct st_filter *filter = NULL;
	struct st_ruleset *rs = NULL;
	struct st_tgt *tgt = NULL;
	struct st_check *c = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int fd = -1;
	int ret;

	c = st_check_new();
	if (c == NULL) {
		st_cli_runtime_error(err, "out of memory");
		goto out;
	}
	if (o->nrules > 0 || o->replay != NULL) {
		ret = st_cli_check_rules(o, &rs, ebuf);
	} else {
		fd = st_session_target_open(&o->target, NULL, 0, ebuf);
		ret = fd < 0 ? fd : st_tgt_read(fd, NULL, &tgt, ebuf);
		/* No Istio rules is a finding of the check, not a failure. */
		if (ret == -ENODATA) {
			set.kind = ST_ISTIO_NONE;
			st_strlcpy(set.note, ebuf, sizeof(set.note));
			rs = st_ruleset_new();
			ret = rs ? 0 : st_err(ebuf, ENOMEM, "out of memory");
		} else if (ret == 0) {
			rs = st_tgt_take_rules(tgt);
		}
	}
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (st_ruleset_nrules(rs) > 0 || tgt != NULL || o->nrules > 0 ||
	    o->replay != NULL)
		ret = st_istio_analyze(rs, &set, ebuf);
	if (ret == 0)
		ret = st_check_rules(c, rs, &set, ebuf);
	if (ret == 0 && fd >= 0)
		ret = st_check_live(c, fd, &set, NULL, ebuf);
	if (ret == 0 && o->replay != NULL) {
		if (o->filter[0] != '\0') {
			ret = st_filter_new(&filter, o->filter, ebuf);
			if (ret == -EINVAL) {
				rc = st_usage_error(err, "%s", ebuf);
				goto out;
			}
		}
		st_cli_replay_opts(o, filter, out, err, &ro);
		ro.write_flow = st_cli_check_flow;
		ro.write_summary = st_cli_check_summary;
		st_cli_check_acc = c;
		if (ret == 0)
			ret = st_replay_run(&ro, &res, ebuf);
		st_cli_check_acc = NULL;
	}
	if (ret == 0)
		ret = st_check_finish(c, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	ret = o->json ? st_findings_json(out, c) : st_findings_text(out, c);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	/* Findings, errors included, are the output: exit 0 (check.h). */
	rc = 0;
out:
	st_filter_free(filter);
	st_check_free(c);
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	if (fd >= 0)
		close(fd);
	return rc;
}

int st_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct st_cli_opts o = {0};
	int rc;

	rc = st_cli_parse(argc, argv, &o, out, err);
	if (rc >= 0)
		return rc;
	if (o.simulate != NULL)
		return st_cli_simulate(&o, out, err);
	if (o.diagram >= 0)
		return st_cli_diagram(&o, out, err);
	if (o.check)
		return st_cli_check(&o, out, err);
	if (o.list)
		return st_cli_list(&o, out, err);
	if (o.explain)
		return st_cli_explain(&o, out, err);
	if (o.cleanup)
		return st_cli_cleanup(&o, out, err);
	if (o.replay != NULL)
		return st_cli_replay(&o, out, err);
	return st_cli_trace(&o, out, err);
}
