/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli-int.h - what the command line's files share: the parsed options, the
 * job they select, and the helpers that print errors.  cli.c parses and
 * dispatches; each job's body lives in the file named for it.
 */
#ifndef ST_CLI_INT_H
#define ST_CLI_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "eval.h"
#include "filter.h"
#include "rules.h"
#include "session.h"
#include "simspec.h"

#define ST_PROG "sidecar-trace"
#define ST_MAX_RULE_FILES 4
#define ST_FILTER_MAX 4096
/* --netns self: the namespace this process runs in. */
#define ST_CLI_NETNS_SELF "/proc/self/ns/net"

/* What the command line asks for; exactly one per run. */
enum st_cli_job {
	ST_JOB_TRACE = 0, /* the default with a target */
	ST_JOB_REPLAY,
	ST_JOB_CHECK,
	ST_JOB_SIMULATE,
	ST_JOB_DIAGRAM,
	ST_JOB_LIST,
	ST_JOB_CLEANUP,
	ST_JOB_EXPLAIN,
	ST_JOB__MAX,
};

struct st_cli_opts {
	enum st_cli_job job;
	const char *rules[ST_MAX_RULE_FILES];
	unsigned int nrules;
	bool json;
	struct st_session_target target;
	bool self_implicit; /* no target given: this namespace holds Istio's */
	bool self_probed;   /* ... looked for, and it does not */
	enum st_backend self_backend;
	const char *host_root;	   /* --host-root DIR, or the default */
	char netns_path[PATH_MAX]; /* --netns NAME under the host root */
	unsigned int duration_ms;
	uint64_t count;
	int group;
	unsigned int rcvbuf;
	unsigned int max_flows;
	bool skip_empty;	    /* --skip-empty-chains */
	bool no_reattach;	    /* --no-reattach */
	bool instrument_full;	    /* --instrument full */
	const char *replay;	    /* --replay FILE */
	const char *write;	    /* --write FILE */
	const char *envoy_log;	    /* --envoy-log PATH|auto */
	unsigned int envoy_wait_ms; /* --envoy-log-wait MS; 0: default */
	const char *output;	    /* -o PATH */
	const char *simulate;	    /* --simulate SPEC, parsed into spec */
	struct st_simspec spec;
	int diagram; /* --diagram: 1-6, 0 all, -1 not given */
	unsigned int npod_ips;
	struct st_prefix pod_ips[ST_EVAL_MAX_ADDRS];
	char filter[ST_FILTER_MAX];
};

/* The body of a job.  Return: the exit status. */
typedef int (*st_cli_job_fn)(const struct st_cli_opts *o, FILE *out, FILE *err);

int st_cli_trace(const struct st_cli_opts *o, FILE *out, FILE *err);

/**
 * st_cli_self_target() - with no target and nothing else to do: when the
 * network namespace this process runs in holds a pod's Istio rules
 * (sidecar or ambient; not the node's own namespace), make it the target
 * (@o->self_implicit).  Return: whether it did.
 */
bool st_cli_self_target(struct st_cli_opts *o);

/* Room for how the notes name a target (st_cli_self_label()). */
#define ST_CLI_LABEL_MAX 384

/**
 * st_cli_self_label() - when @t is this process's own namespace (--netns
 * self, given or implied), name it in the notes by its pod as far as it
 * can be told from inside (@label receives it, @t->label points to it);
 * with no target given, first say on @err that this namespace is traced
 * and why.
 */
void st_cli_self_label(const struct st_cli_opts *o, struct st_session_target *t,
		       char *label, size_t size, FILE *err);

/**
 * st_cli_host_root() - after parsing: the node's root (--host-root, else
 * /host when it holds a node's root and / does not; NULL: /), into the
 * target, and a bare --netns NAME looked up under its /run/netns.
 */
void st_cli_host_root(struct st_cli_opts *o);

int st_cli_replay(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_check(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_simulate(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_diagram(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_list(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_cleanup(const struct st_cli_opts *o, FILE *out, FILE *err);
int st_cli_explain(const struct st_cli_opts *o, FILE *out, FILE *err);

/**
 * st_cli_usage_error() - "sidecar-trace: MESSAGE" and the --help hint.
 * Return: 2, the exit status of a usage error.
 */
int st_cli_usage_error(FILE *err, const char *fmt, ...) __st_printf(2, 3);

/** st_cli_runtime_error() - "sidecar-trace: MESSAGE" on one line. */
void st_cli_runtime_error(FILE *err, const char *msg);

/**
 * st_cli_output_written() - after the output was written (@ret: the
 * writer's result): flushed, 0; else the failure said on @err, -1.
 */
int st_cli_output_written(FILE *out, FILE *err, int ret);

/**
 * st_cli_filter() - compile the filter expression, if any.
 * Return: -1 to go on (*@f set, or NULL), else the exit status (a bad
 * expression is a usage error) with the error said on @err.
 */
int st_cli_filter(const struct st_cli_opts *o, struct st_filter **f, FILE *err);

struct st_drawsink;

/**
 * st_cli_draw_end() - finish -o after tracing or replay: a drawing error
 * said on @err (1), or a note when one file was asked for and no flow was
 * shown (0); @d is freed.
 */
int st_cli_draw_end(struct st_drawsink *d, const char *path, FILE *err);

/**
 * st_cli_draw_frame() - the frame of -o while tracing or replaying: @d
 * takes @rs (analysed, with @set) and their canonical flows, so that a
 * diagram of type N has its nodes where `--diagram all` puts those of
 * type N.  When the flows cannot be simulated, the rules alone.
 */
void st_cli_draw_frame(struct st_drawsink *d, struct st_ruleset *rs,
		       const struct st_istio_settings *set);

/**
 * st_cli_replay_rules() - the rules a capture is traced with: --rules,
 * else the side files beside it (none: 0 of them).
 * Return: how many, or a negative errno with @ebuf set.
 */
int st_cli_replay_rules(const struct st_cli_opts *o,
			const char *paths[ST_MAX_RULE_FILES],
			char side[2][PATH_MAX], char *ebuf);

/**
 * st_cli_replay_envoy_check() - the access-log options of a replay make
 * sense (no "auto", a wait only with a log).
 * Return: -1 to go on, else the exit status (a usage error).
 */
int st_cli_replay_envoy_check(const struct st_cli_opts *o, FILE *err);

/** st_cli_help_head() - --help's opening: usage and what the program does. */
void st_cli_help_head(FILE *out);

/** st_cli_help_tail() - --help's end: examples and exit statuses. */
void st_cli_help_tail(FILE *out);

/** st_cli_parse_ulong() - a whole decimal number in [@lo, @hi]. */
bool st_cli_parse_ulong(const char *s, unsigned long long lo,
			unsigned long long hi, unsigned long long *v);

/**
 * st_cli_parse_seconds() - a positive number of seconds (at most a year),
 * into milliseconds rounded up.
 */
bool st_cli_parse_seconds(const char *s, unsigned int *ms);

/** st_cli_parse_bytes() - BYTES with a K or M suffix, in [@lo, @hi]. */
bool st_cli_parse_bytes(const char *s, unsigned long long lo,
			unsigned long long hi, unsigned int *out);

/**
 * st_cli_join() - the words from @first on, joined by spaces (the filter
 * expression, as tcpdump takes it).  Return: 0, or -1 when too long.
 */
int st_cli_join(int argc, char **argv, int first, char *buf, size_t size);

/**
 * st_cli_parse_pod_ip() - one --pod-ip address into @o.
 * Return: 0, or -1 when it is none or there are too many.
 */
int st_cli_parse_pod_ip(struct st_cli_opts *o, const char *s);

/**
 * st_cli_load() - the rules of the job: the saved files (@paths, @n), or
 * when there are none read live from @o's target.
 * Return: 0, or a negative errno with @ebuf set.
 */
int st_cli_load(const struct st_cli_opts *o, const char *const *paths,
		unsigned int n, struct st_ruleset **out, char *ebuf);

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
	OPT_ENVOY_LOG,
	OPT_ENVOY_LOG_WAIT,
	OPT_HOST_ROOT,
	OPT_NO_REATTACH,
	OPT_INSTRUMENT,
};

/* Which inputs a job needs: at least one of them. */
enum {
	IN_RULES = 1u << 0,
	IN_TARGET = 1u << 1,
	IN_REPLAY = 1u << 2,
};

/* What was given on the command line, beyond the options' values. */
struct st_cli_given {
	uint64_t opts; /* bit i: st_options[i] */
	int ntargets;
	unsigned int inputs; /* IN_* */
};

/**
 * st_cli_value() - take option @c's argument @arg (values.c).
 * Return: -1 to go on, or the exit status of a usage error (printed).
 */
int st_cli_value(int c, const char *arg, struct st_cli_opts *o,
		 struct st_cli_given *g, FILE *err);

#endif /* ST_CLI_INT_H */
