// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cli.c - the command line as data.  One option table drives getopt_long,
 * --help and the usage checks: each option says which jobs it applies to
 * and what is said when it is given to another (nftables' src/main.c
 * pattern); the job is chosen while parsing and run from a table of
 * handlers (iproute2's cmds[]).  The jobs' bodies are in the files named
 * for them.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli-int.h"
#include "cli.h"
#include "diagram.h"
#include "pod.h"
#include "replay.h"

enum st_opt_section {
	SEC_INPUT,
	SEC_JOB,
	SEC_TRACE,
	SEC_OUTPUT,
	SEC_GENERAL,
};

/* No job option and no target: nothing to do (a job of its own here). */
#define ST_JOB_NONE ST_JOB__MAX
/* --check of a --replay: a check that takes the replay's options too. */
#define ST_JOB_CHECK_REPLAY (ST_JOB__MAX + 1)
#define J(job) (1u << ST_JOB_##job)
#define J_ALL ((1u << (ST_JOB__MAX + 2)) - 1)
#define J_TARGETED (J_ALL & ~J(LIST))

struct st_opt {
	const char *name;
	enum st_opt_val val;
	const char *arg; /* NULL: the option takes no argument */
	const char *help;
	enum st_opt_section section;
	unsigned int jobs;     /* J(): the jobs it applies to */
	enum st_opt_val needs; /* another option it goes with; 0: none */
	/*
	 * Said after its name (@shown, else --NAME) when given to a job it
	 * does not apply to, or without @needs; options that share the text
	 * are named together.  Jobs in @alt_jobs get @alt instead.  For jobs
	 * in @late_jobs this is checked only after the job's own needs.
	 */
	const char *misuse;
	const char *shown;
	unsigned int alt_jobs;
	const char *alt;
	unsigned int late_jobs;
};

static const char ST_WHEN_TRACING[] = "only apply when tracing a target";
static const char ST_LIST_NO_TARGET[] = "--list takes no target";
static const char ST_LIVE_OR_LIST[] = "goes with a live target or --list";

/* The options that tune a live trace. */
#define ST_TUNING(jobs_)                                                 \
	.jobs = (jobs_), .misuse = ST_WHEN_TRACING, .alt_jobs = J(LIST), \
	.alt = ST_LIST_NO_TARGET,                                        \
	.late_jobs = J(CHECK) | J(LIST) | J(CLEANUP) | J(EXPLAIN) | J(NONE)

static const struct st_opt st_options[] = {
	{"pod", OPT_POD, "NAME",
	 "trace the Istio pod NAME on this node, sidecar or ambient (found through its istio-proxy processes, crictl's sandboxes, or the network namespaces that hold ambient rules)",
	 SEC_INPUT, .jobs = J_TARGETED, .alt_jobs = J(LIST),
	 .alt = ST_LIST_NO_TARGET, .late_jobs = J(LIST)},
	{"namespace", OPT_NAMESPACE, "NS",
	 "the pod's Kubernetes namespace (default: default)", SEC_INPUT,
	 .jobs = J_ALL, .needs = OPT_POD, .misuse = "goes with --pod NAME"},
	{"netns", OPT_NETNS, "PATH",
	 "trace the network namespace PATH (/var/run/netns/NAME, /proc/PID/ns/net; self: the one sidecar-trace runs in, as inside a pod, which is also the target when none is given and it holds Istio's rules)",
	 SEC_INPUT, .jobs = J_TARGETED, .alt_jobs = J(LIST),
	 .alt = ST_LIST_NO_TARGET, .late_jobs = J(LIST)},
	{"pid", OPT_PID, "PID", "trace the network namespace of process PID",
	 SEC_INPUT, .jobs = J_TARGETED, .alt_jobs = J(LIST),
	 .alt = ST_LIST_NO_TARGET, .late_jobs = J(LIST)},
	{"host-root", OPT_HOST_ROOT, "DIR",
	 "the node's root (default: /host when it holds a node's root and / does not, as under kubectl debug node): crictl, its socket, /var/log/pods and /run/netns are read there",
	 SEC_INPUT, .jobs = J_TARGETED | J(LIST), .misuse = ST_LIVE_OR_LIST},
	{"rules", OPT_RULES, "FILE",
	 "read saved rules (iptables-save, ip6tables-save or nft -j list ruleset); give it twice for IPv4 + IPv6",
	 SEC_INPUT, .jobs = J_ALL & ~J(LIST), .alt_jobs = J(LIST),
	 .alt = ST_LIST_NO_TARGET, .late_jobs = J(LIST)},
	{"replay", OPT_REPLAY, "FILE",
	 "trace a capture instead of a live target: NFLOG records (pcap/pcapng) from --write or tcpdump -i nflog:N; the rules from FILE.rules beside it, or --rules. Ordinary captures (tcpdump -i any inside the pod; Ethernet, Linux cooked, raw IP) are accepted with --rules: each connection's path is then simulated, with the inferences said",
	 SEC_INPUT, .jobs = J(REPLAY) | J(CHECK_REPLAY)},
	{"pod-ip", OPT_POD_IP, "ADDR",
	 "the pod's own address for --simulate, once per family (default: the lab pod's 10.244.1.10 and fd00:244::1:10)",
	 SEC_INPUT, .jobs = J(SIMULATE), .misuse = "goes with --simulate",
	 .alt_jobs = J(DIAGRAM),
	 .alt = "--pod-ip goes with --simulate (--diagram uses the lab pod's addresses)",
	 .late_jobs = J(DIAGRAM)},
	{"explain", OPT_EXPLAIN, NULL,
	 "print the sidecar settings and the role of every Istio rule (saved or live rules)",
	 SEC_JOB, .jobs = J_ALL},
	{"list", OPT_LIST, NULL,
	 "list the Istio pods on this node (name, namespace, pid, backend, mode: sidecar, native-sidecar or ambient, interception mode)",
	 SEC_JOB, .jobs = J_ALL},
	{"cleanup", OPT_CLEANUP, NULL,
	 "remove the rules that dead sidecar-trace sessions left in the target, and exit",
	 SEC_JOB, .jobs = J_ALL},
	{"check", OPT_CHECK, NULL,
	 "report what is wrong or surprising in the interception (dead rules, apps running as the proxy uid, listeners and flows that bypass the sidecar, rules split over two backends) for --rules, a target or --replay; exits 0 whatever it finds",
	 SEC_JOB, .jobs = J_ALL},
	{"simulate", OPT_SIMULATE, "SPEC",
	 "predict a connection's path from --rules alone: SPEC is e.g. 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' (the pod sends it) or '... in eth0' (it arrives); the legs the sidecar opens next are followed",
	 SEC_JOB, .jobs = J_ALL},
	{"diagram", OPT_DIAGRAM, "WHICH",
	 "the canonical flow of traffic type WHICH (1-6 of a sidecar pod, 7-12 of an ambient one, or all) predicted from --rules (required): its path, and its diagram with -o",
	 SEC_JOB, .jobs = J_ALL},
	{"duration", OPT_DURATION, "SECONDS",
	 "stop tracing after SECONDS (default: at Ctrl-C)", SEC_TRACE,
	 ST_TUNING(J(TRACE))},
	{"count", OPT_COUNT, "FLOWS", "stop tracing after FLOWS flows",
	 SEC_TRACE, ST_TUNING(J(TRACE) | J(REPLAY) | J(CHECK_REPLAY))},
	{"group", OPT_GROUP, "N",
	 "NFLOG group for the temporary rules (default: a free one from 5300)",
	 SEC_TRACE, ST_TUNING(J(TRACE))},
	{"instrument", OPT_INSTRUMENT, "MODE",
	 "which records the temporary rules log: minimal (default: only those from which each first packet's walk is still known hop for hop, about a third as many) or full (the entry of every chain, a record before every rule, the policy/return)",
	 SEC_TRACE, ST_TUNING(J(TRACE))},
	{"no-reattach", OPT_NO_REATTACH, NULL,
	 "when the pod's Istio rules are rewritten while tracing (istio-cni reconciles them when it starts), stop instead of instrumenting the new rules and going on",
	 SEC_TRACE, ST_TUNING(J(TRACE))},
	{"skip-empty-chains", OPT_SKIP_EMPTY_CHAINS, NULL,
	 "do not log built-in chains that hold no rules, such as nat POSTROUTING (fewer records; paths then leave them out)",
	 SEC_TRACE, ST_TUNING(J(TRACE))},
	{"rcvbuf", OPT_RCVBUF, "BYTES",
	 "NFLOG socket receive buffer (default 8M; K and M suffixes); records that do not fit are lost, counted and reported",
	 SEC_TRACE, ST_TUNING(J(TRACE))},
	{"max-flows", OPT_MAX_FLOWS, "N",
	 "flows kept open at most (default 1024, memory is preallocated); when full the oldest is printed early as incomplete",
	 SEC_TRACE, ST_TUNING(J(TRACE) | J(REPLAY) | J(CHECK_REPLAY))},
	{"envoy-log", OPT_ENVOY_LOG, "PATH",
	 "pair flows exactly with Envoy's access log: a live trace follows PATH from its end (rotation included; PATH auto: the --pod target's istio-proxy log under /var/log/pods), a replay reads it whole (default: FILE.envoy.log beside the capture); each flow shows the requests Envoy logged for it",
	 SEC_TRACE, ST_TUNING(J(TRACE) | J(REPLAY) | J(CHECK_REPLAY))},
	{"envoy-log-wait", OPT_ENVOY_LOG_WAIT, "MS",
	 "how long a flow with an Envoy side waits for its access-log lines, and a line for its flow (default 3000; Envoy logs a request when it ends, a TCP connection when it closes)",
	 SEC_TRACE, ST_TUNING(J(TRACE) | J(REPLAY) | J(CHECK_REPLAY))},
	{"json", OPT_JSON, NULL,
	 "print JSON (JSON Lines while tracing) instead of text", SEC_OUTPUT,
	 .jobs = J_ALL},
	{"output", OPT_OUTPUT, "PATH",
	 "also draw the flows (Graphviz): a PATH ending in .svg, .png, .pdf or .dot receives the first flow shown; any other PATH is a directory that receives one diagram per traffic type and an index.html",
	 SEC_OUTPUT,
	 .jobs = J(TRACE) | J(REPLAY) | J(SIMULATE) | J(DIAGRAM) | J(NONE),
	 .shown = "-o PATH",
	 .misuse =
		 "draws flows: not with --list, --cleanup, --explain or --check"},
	{"write", OPT_WRITE, "FILE",
	 "while tracing, save every record to FILE (LINKTYPE_NFLOG pcap) and the rules to FILE.rules, FILE.rules6, FILE.meta.json",
	 SEC_OUTPUT, .jobs = J(TRACE), .shown = "--write FILE",
	 .misuse =
		 "saves a live trace: it needs a target (--pod, --netns, --pid)",
	 .alt_jobs = J(REPLAY) | J(CHECK_REPLAY),
	 .alt = "--write saves a live trace: not with --replay"},
	{"help", OPT_HELP, NULL, "show this help and exit", SEC_GENERAL,
	 .jobs = J_ALL},
	{"version", OPT_VERSION, NULL, "show the version and exit", SEC_GENERAL,
	 .jobs = J_ALL},
};
static const char *const st_section_names[] = {
	[SEC_INPUT] = "Target",
	[SEC_JOB] = "What to do (default with a target: trace it)",
	[SEC_TRACE] = "Tracing",
	[SEC_OUTPUT] = "Output",
	[SEC_GENERAL] = "General",
};

static void st_cli_help(FILE *out)
{
	st_cli_help_head(out);
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
	st_cli_help_tail(out);
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

/*
 * The one formatter of "X only applies to ..." errors: option @i was
 * given to @job, which it does not apply to (or without the option it
 * goes with).  Every option that shares its text and does not apply to
 * @job either is named with it: "--a, --b and --c only apply ...".
 */
static int st_cli_misuse(FILE *err, size_t i, unsigned int job)
{
	const struct st_opt *o = &st_options[i];
	char names[256] = "";
	size_t n = 0, k = 0, count = 0;

	if (o->alt != NULL && (o->alt_jobs & (1u << job)))
		return st_cli_usage_error(err, "%s", o->alt);
	for (size_t j = 0; j < ST_ARRAY_SIZE(st_options); j++)
		if (j == i || (st_options[j].misuse == o->misuse &&
			       !(st_options[j].jobs & (1u << job))))
			count++;
	for (size_t j = 0; j < ST_ARRAY_SIZE(st_options); j++) {
		const struct st_opt *p = &st_options[j];

		if (j != i &&
		    (p->misuse != o->misuse || (p->jobs & (1u << job))))
			continue;
		k++;
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s%s%s",
				      k == 1	   ? ""
				      : k == count ? " and "
						   : ", ",
				      p->shown ? "" : "--",
				      p->shown ? p->shown : p->name, "");
		if (n >= sizeof(names))
			break;
	}
	return st_cli_usage_error(err, "%s %s", names, o->misuse);
}

/* The jobs: what runs each, what it needs, whether it takes a filter. */
static const struct st_cli_cmd {
	enum st_cli_job job;
	const char *name; /* its option */
	st_cli_job_fn run;
	unsigned int needs; /* IN_*: one of them; 0: none */
	const char *needs_msg;
	bool filter; /* takes a filter expression */
} st_cli_cmds[] = {
	{ST_JOB_TRACE, NULL, st_cli_trace, IN_TARGET, NULL, true},
	{ST_JOB_REPLAY, "--replay", st_cli_replay, IN_REPLAY, NULL, true},
	{ST_JOB_CHECK, "--check", st_cli_check,
	 IN_RULES | IN_TARGET | IN_REPLAY,
	 "--check needs --rules FILE, a target (--pod, --netns, --pid) or --replay FILE",
	 false},
	{ST_JOB_SIMULATE, "--simulate", st_cli_simulate, IN_RULES,
	 "--simulate needs the pod's rules: --rules FILE", false},
	{ST_JOB_DIAGRAM, "--diagram", st_cli_diagram, IN_RULES,
	 "--diagram needs the pod's rules: --rules FILE", false},
	{ST_JOB_LIST, "--list", st_cli_list, 0, NULL, false},
	{ST_JOB_CLEANUP, "--cleanup", st_cli_cleanup, IN_TARGET,
	 "--cleanup needs a target (--pod, --netns, --pid)", false},
	{ST_JOB_EXPLAIN, "--explain", st_cli_explain, IN_RULES | IN_TARGET,
	 "--explain needs --rules FILE or a target (--pod, --netns, --pid)",
	 false},
};

static bool st_cli_has(const struct st_cli_given *g, enum st_opt_val val)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++)
		if (st_options[i].val == val)
			return g->opts & (1ULL << i);
	return false;
}
/*
 * One option's value into @o.  Return: -1 to go on, else the exit status
 * (a bad value is a usage error; --help and --version end at once).
 */

/* The job the options select, the first of these that was given. */
static unsigned int st_cli_job_of(const struct st_cli_given *g)
{
	static const struct {
		enum st_opt_val val;
		enum st_cli_job job;
	} order[] = {
		{OPT_SIMULATE, ST_JOB_SIMULATE}, {OPT_DIAGRAM, ST_JOB_DIAGRAM},
		{OPT_CHECK, ST_JOB_CHECK},	 {OPT_LIST, ST_JOB_LIST},
		{OPT_EXPLAIN, ST_JOB_EXPLAIN},	 {OPT_CLEANUP, ST_JOB_CLEANUP},
		{OPT_REPLAY, ST_JOB_REPLAY},
	};

	for (size_t i = 0; i < ST_ARRAY_SIZE(order); i++)
		if (st_cli_has(g, order[i].val))
			return order[i].job;
	return g->ntargets > 0 ? ST_JOB_TRACE : ST_JOB_NONE;
}

/* How many of the options @vals (0-terminated) were given. */
static int st_cli_count(const struct st_cli_given *g,
			const enum st_opt_val *vals)
{
	int n = 0;

	for (; *vals != 0; vals++)
		n += st_cli_has(g, *vals);
	return n;
}

/*
 * Options that select different jobs, or a job and an input it cannot
 * take.  Return: -1 to go on, else the exit status.
 */
static int st_cli_conflicts(const struct st_cli_opts *o,
			    const struct st_cli_given *g, FILE *err)
{
	static const enum st_opt_val sim[] = {OPT_SIMULATE, OPT_DIAGRAM, 0};
	static const enum st_opt_val not_sim[] = {
		OPT_REPLAY,  OPT_WRITE, OPT_LIST, OPT_CLEANUP,
		OPT_EXPLAIN, OPT_CHECK, 0};
	static const enum st_opt_val not_replay[] = {OPT_LIST, OPT_CLEANUP,
						     OPT_EXPLAIN, 0};
	static const enum st_opt_val jobs[] = {OPT_LIST, OPT_CLEANUP,
					       OPT_EXPLAIN, OPT_CHECK, 0};

	if (st_cli_count(g, sim) > 1)
		return st_cli_usage_error(
			err, "give only one of --simulate and --diagram");
	if (st_cli_count(g, sim) > 0 &&
	    (g->ntargets > 0 || st_cli_count(g, not_sim) > 0))
		return st_cli_usage_error(
			err,
			"%s works on saved rules (--rules FILE): not with a target, --replay, --write, --list, --cleanup, --explain or --check",
			o->simulate != NULL ? "--simulate" : "--diagram");
	if (o->replay != NULL &&
	    (g->ntargets > 0 || st_cli_count(g, not_replay) > 0))
		return st_cli_usage_error(
			err,
			"--replay FILE traces a capture: not with --pod, --netns, --pid, --list, --cleanup or --explain");
	if (st_cli_count(g, jobs) > 1)
		return st_cli_usage_error(
			err,
			"give only one of --list, --cleanup, --explain and --check");
	if (o->nrules > 0 && g->ntargets > 0)
		return st_cli_usage_error(
			err,
			"--rules reads saved rules, --pod/--netns/--pid a live target: give one or the other");
	return -1;
}

/* The checks of values that only the whole command line can make. */
static int st_cli_values(int argc, char **argv, struct st_cli_opts *o,
			 FILE *err)
{
	char side[2][PATH_MAX];
	char ebuf[ST_ERRBUF_SIZE];

	if (st_cli_join(argc, argv, optind, o->filter, sizeof(o->filter)) < 0)
		return st_cli_usage_error(err,
					  "the filter expression is too long");
	if (o->diagram == 0 && o->output != NULL &&
	    st_diagram_is_file(o->output))
		return st_cli_usage_error(
			err,
			"--diagram all draws six diagrams: -o needs a directory, not %s",
			o->output);
	if (o->simulate != NULL &&
	    st_simspec_parse(o->simulate, &o->spec, ebuf) < 0)
		return st_cli_usage_error(err, "--simulate: %s", ebuf);
	if (o->replay == NULL || o->nrules > 0)
		return -1;
	if (strcmp(o->replay, "-") == 0)
		return st_cli_usage_error(
			err,
			"--replay -: give the pod's rules with --rules FILE");
	/* A capture that cannot be read is the reader's error to report. */
	if (access(o->replay, R_OK) == 0 &&
	    st_replay_side_rules(o->replay, side, ebuf) == 0)
		return st_cli_usage_error(
			err,
			"--replay %s: no %s.rules beside it (a tcpdump capture?): give the pod's rules with --rules FILE",
			o->replay, o->replay);
	return -1;
}

/*
 * Does the command line make sense as a whole?  In this order: one
 * target; options with the one they go with; one job; every option given
 * applies to the job; a filter only where taken; what the job needs;
 * the values.  Return: -1 to go on, else the exit status.
 */
/*
 * The first option given that does not apply to @key, among those whose
 * check comes @late or not.  Return: -1 when none, else the exit status.
 */
static int st_cli_applies(const struct st_cli_given *g, unsigned int key,
			  bool late, FILE *err)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++)
		if ((g->opts & (1ULL << i)) &&
		    !(st_options[i].jobs & (1u << key)) &&
		    !!(st_options[i].late_jobs & (1u << key)) == late)
			return st_cli_misuse(err, i, key);
	return -1;
}

/*
 * Does the command line make sense as a whole?  In this order: one
 * target; options with the one they go with; one job; the options given
 * apply to the job; a filter only where taken; what the job needs; the
 * options checked late; something to do; the values.
 * Return: -1 to go on, else the exit status.
 */
static int st_cli_validate(int argc, char **argv, struct st_cli_opts *o,
			   const struct st_cli_given *g, FILE *err)
{
	const struct st_cli_cmd *cmd = NULL;
	unsigned int key;
	int rc;

	if (g->ntargets > 1)
		return st_cli_usage_error(
			err, "give one target: --pod, --netns or --pid");
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++)
		if ((g->opts & (1ULL << i)) && st_options[i].needs != 0 &&
		    !st_cli_has(g, st_options[i].needs))
			return st_cli_misuse(err, i, ST_JOB_NONE);
	rc = st_cli_conflicts(o, g, err);
	if (rc >= 0)
		return rc;
	key = st_cli_job_of(g);
	if (key == ST_JOB_CHECK && o->replay != NULL)
		key = ST_JOB_CHECK_REPLAY;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_cli_cmds); i++)
		if (st_cli_job_of(g) == st_cli_cmds[i].job)
			cmd = &st_cli_cmds[i];
	rc = st_cli_applies(g, key, false, err);
	if (rc >= 0)
		return rc;
	if (optind < argc &&
	    (cmd == NULL || !(cmd->filter || key == ST_JOB_CHECK_REPLAY)))
		return st_cli_usage_error(
			err, "unexpected argument '%s'%s", argv[optind],
			o->simulate != NULL || o->diagram >= 0
				? ""
				: " (a filter expression is only taken when tracing a target)");
	if (cmd != NULL && cmd->needs != 0 && !(g->inputs & cmd->needs))
		return st_cli_usage_error(err, "%s", cmd->needs_msg);
	rc = st_cli_applies(g, key, true, err);
	if (rc >= 0)
		return rc;
	if (cmd == NULL)
		return st_cli_usage_error(
			err,
			"nothing to do: give a target to trace (--pod, --netns, --pid), --list, or --explain%s",
			o->self_probed
				? " (this network namespace holds no pod's Istio rules)"
				: "");
	o->job = cmd->job;
	return st_cli_values(argc, argv, o, err);
}

/* Parse argv into @o.  Return: -1 to go on, else the exit status. */
static int st_cli_parse(int argc, char **argv, struct st_cli_opts *o, FILE *out,
			FILE *err)
{
	struct option longopts[ST_ARRAY_SIZE(st_options) + 1];
	char optstring[2 * ST_ARRAY_SIZE(st_options) + 2];
	struct st_cli_given g = {0};
	int c, rc;

	o->group = -1;
	o->diagram = -1;
	st_cli_build_getopt(optstring, sizeof(optstring), longopts);
	optind = 0; /* glibc: full re-initialisation, so tests can call twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (c == ':')
			return st_cli_usage_error(
				err, "option '%s' needs an argument",
				argv[optind - 1]);
		if (c == OPT_INVALID)
			return st_cli_usage_error(err, "unknown option '%s'",
						  argv[optind - 1]);
		for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++)
			if ((int)st_options[i].val == c)
				g.opts |= 1ULL << i;
		if (c == OPT_HELP) {
			st_cli_help(out);
			rc = 0;
		} else if (c == OPT_VERSION) {
			fprintf(out, ST_PROG " " ST_VERSION "\n");
			rc = 0;
		} else {
			rc = st_cli_value(c, optarg, o, &g, err);
		}
		if (rc >= 0)
			return rc;
	}
	/* Run inside a pod (kubectl debug): its own namespace, if Istio's. */
	if (g.ntargets == 0 && o->nrules == 0 && o->replay == NULL &&
	    st_cli_job_of(&g) == ST_JOB_NONE && st_cli_self_target(o))
		g.ntargets++;
	if (g.ntargets > 0)
		g.inputs |= IN_TARGET;
	st_cli_host_root(o);
	return st_cli_validate(argc, argv, o, &g, err);
}

int st_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct st_cli_opts o = {0};
	int rc;

	rc = st_cli_parse(argc, argv, &o, out, err);
	if (rc >= 0)
		return rc;
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_cli_cmds); i++)
		if (st_cli_cmds[i].job == o.job)
			return st_cli_cmds[i].run(&o, out, err);
	return 1;
}
