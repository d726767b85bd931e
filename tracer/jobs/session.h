/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * session.h - one live tracing session, from the target to the summary.
 *
 * st_session_run() resolves the target (a network namespace path, a pid or
 * a pod), reads its rules with the backend that holds Istio's rules,
 * analyses them, removes the rules that dead sessions left behind (and
 * says so), attaches the instrumentation (instrument.h), opens the NFLOG
 * collector in the target's namespace (one group carries IPv4 and IPv6
 * records), then loops on poll(): the NFLOG socket, a signalfd for
 * SIGINT, SIGTERM and SIGHUP, a timerfd for --duration and a periodic
 * timerfd that advances the flow table's clock.  Records, losses and
 * time feed the pipeline (pipe.h); each complete flow that the filter
 * selects goes to the caller's sinks at once (sink.h: a line in the
 * article's notation, a JSON line, a diagram...).
 *
 * However it stops (the duration ends, the count is reached, a signal, an
 * output error such as EPIPE, or any other error) it flushes the flow
 * table, detaches (the rules are removed and compared with the snapshot
 * taken before attaching) and writes the summary, unless the output
 * itself failed.
 *
 * Signals.  For the duration of the call SIGINT, SIGTERM and SIGHUP are
 * blocked (a Ctrl-C during attach or detach is taken up by the loop, or
 * simply ends it at once) and SIGPIPE is ignored (a closed stdout is an
 * EPIPE error, not a silent death with the rules left in place).  Both are
 * restored on return; signals that came in the meantime are consumed.
 * The programs spawned meanwhile run in process groups of their own with
 * default signals (spawn.h), so the terminal's Ctrl-C never kills the
 * iptables-restore that removes the rules.
 *
 * Envoy's access log.  With @envoy_log the file is opened before the
 * rules are touched (a missing log is an error then) and read from its
 * end on every tick; its entries go to the pipeline, its anomalies to
 * @diag once each, and it is read a last time before the flush.
 *
 * Watching.  While tracing, a periodic timer checks that the target is
 * still there (a --netns path still names the namespace that was opened,
 * a --pid / --pod process still lives in it; a pod whose proxy restarted
 * is looked up again).  Every ST_SESS_PROBE_MS the rules are probed
 * cheaply (st_instr_probe(): no program is run); when they may have
 * changed, and as a backstop every few watch periods, the live rules are
 * compared with the snapshot (st_instr_check()).  A vanished target ends
 * the session (ST_STOP_TARGET, -ENXIO): the rules are still removed,
 * through the namespace fd this session holds.  A rule change by someone
 * else that leaves this session's rules in place is noted once on @diag;
 * hops keep the numbers the rules had when the trace began.  Lost records
 * are noted once when the first loss is seen, and counted in the summary.
 *
 * Rewrites.  When some of this session's rules are gone (istio-cni since
 * 1.29 reconciles a pod's rules when it starts: it rewrites the Istio
 * chains or re-creates the native tables), that is said once on @diag
 * and, unless @no_reattach, the session re-attaches: what is left of its
 * rules is removed, what the kernel still holds is read, the open flows
 * are emitted with the old numbers, the new rules are read, analysed and
 * instrumented (same session and group), and the flows that follow are
 * numbered by them.  While the Istio rules are missing or still changing
 * it tries again every watch period, for ST_SESS_REATTACH_TRIES periods.
 * With @no_reattach, or when re-attaching fails for good, the session ends
 * as for a vanished target (ST_STOP_TARGET, -ENXIO, @res->gone says so).
 * The JSON summary counts the re-attaches (rules_rewritten).
 *
 * Other sessions.  Rules of other (live) sidecar-trace sessions in the
 * chains are left out of the rules this session analyses, so that rule
 * numbers are those of the original rules, as the tags of every session
 * number them.
 *
 * Detach failures.  A removal that fails is retried (ST_SESS_DETACH_TRIES
 * times in all); when it still fails the session's rules stay behind and
 * the error says so: `--cleanup` removes them once this process is gone.
 *
 * Library rules apply: the flows and the summary go to the caller's
 * sinks, notes (stale sessions removed, rules changed by someone else, the
 * group and session) go to @diag when it is not NULL; nothing is printed
 * elsewhere and nothing exits.
 */
#ifndef ST_SESSION_H
#define ST_SESSION_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "filter.h"
#include "flow.h"
#include "instrument.h"
#include "nflog.h"
#include "rules.h"
#include "sink.h"

/* Where to trace: exactly one of netns, pid, pod. */
struct st_session_target {
	const char *netns;  /* path or name under /var/run/netns */
	int pid;	    /* > 0: that process's namespace */
	const char *pod;    /* pod name, found on this node (pod.h) */
	const char *pod_ns; /* its Kubernetes namespace; NULL: "default" */
	const char *label;  /* how the notes name it; NULL: "netns PATH"... */
	const char *host_root; /* the node's root for finding pods; NULL: / */
};

struct st_session_result;
struct st_tgt;

/*
 * A tap learns what only a live trace knows (--write, capwrite.h; -o's
 * frame): the rules as read and the session attached.  Each hook returns
 * 0 or a negative errno with @err filled in; an error stops the trace as
 * any other error does (the rules are removed).  Any hook may be NULL.
 * The records themselves go to record sinks (sink.h).
 */
struct st_session_tap {
	/* The target's rules as read, before attaching. */
	int (*rules)(void *data, const struct st_tgt *tgt, char *err);
	/* Attached: @res's session, group and backend are set. */
	int (*begin)(void *data, const struct st_session_result *res,
		     char *err);
};

struct st_session_opts {
	struct st_session_target target;
	enum st_backend backend;  /* ST_BACKEND_UNKNOWN: detect */
	int group;		  /* NFLOG group, -1: choose a free one */
	unsigned int duration_ms; /* stop after this long; 0: no limit */
	uint64_t count;		  /* stop after this many flows; 0: none */
	/*
	 * Where the records, the flows and the summary go, in this order (at
	 * least one; render/ and capwrite.h make them).  A flow or summary
	 * sink's error is the output error (ST_STOP_OUTPUT).
	 */
	struct st_sink sinks[ST_SINKS_MAX];
	unsigned int nsinks;
	struct st_filter *filter; /* selects the flows; NULL: all */
	unsigned int instr_flags; /* ST_INSTR_F_* for attach */
	const char *lock_dir;	  /* NULL: ST_INSTR_LOCK_DIR */
	unsigned int tick_ms;	  /* flow clock period; 0: 100 */
	unsigned int rcvbuf;	  /* NFLOG receive buffer; 0: ST_NFLOG_RCVBUF */
	unsigned int max_flows;	  /* open flows at most; 0: the table's 1024 */
	unsigned int watch_ms;	  /* target/rules watch period; 0: 1000 */
	/*
	 * NULL: re-attach after the rules were rewritten; else why not (e.g.
	 * "--no-reattach"): the session stops then, saying this.
	 */
	const char *no_reattach;
	FILE *diag; /* notes and progress, or NULL */
	/*
	 * Envoy's access log, followed from its end while tracing (rotation
	 * included) and matched with the flows (envoymatch.h): a path, or
	 * "auto" for the --pod target's istio-proxy log under @log_root
	 * (st_envoylog_auto_path()); NULL: none.
	 */
	const char *envoy_log;
	const char *log_root;		  /* NULL: "/" */
	unsigned int envoy_wait_ms;	  /* 0: ST_ENVOYMATCH_WAIT_MS */
	const struct st_session_tap *tap; /* NULL: none */
	void *tap_data;
};

/* Why the loop ended. */
enum st_session_stop {
	ST_STOP_NONE = 0,
	ST_STOP_DURATION, /* --duration elapsed */
	ST_STOP_COUNT,	  /* --count flows written */
	ST_STOP_SIGNAL,	  /* SIGINT, SIGTERM or SIGHUP */
	ST_STOP_OUTPUT,	  /* writing the output failed (EPIPE, ENOSPC...) */
	ST_STOP_ERROR,	  /* anything else */
	ST_STOP_TARGET,	  /* the target (namespace, process, pod) vanished */
};

struct st_session_result {
	enum st_session_stop stop;
	int signo;	  /* ST_STOP_SIGNAL: which */
	uint32_t session; /* the session id (0 when attach never happened) */
	uint16_t group;	  /* its NFLOG group */
	enum st_backend backend;
	bool attached;	    /* the rules were inserted */
	bool detached;	    /* ... and removed again, verified identical */
	bool rules_changed; /* someone else changed the rules meanwhile */
	char change[256];   /* the first such change */
	unsigned int stale_removed; /* rules of dead sessions removed first */
	uint64_t written;	    /* flows written */
	struct st_flow_stats flows;
	struct st_nflog_stats nflog;
	struct st_filter_stats filter;
	struct st_instr_summary instr;
	int out_errno;		    /* ST_STOP_OUTPUT: why */
	unsigned int foreign_rules; /* rules of other live sessions, left out */
	bool ours_missing;	    /* some of this session's rules vanished */
	unsigned int reattached;    /* re-attached after rewrites */
	char rewrite[256];	    /* how the first rewrite was seen */
	unsigned int detach_tries; /* removal attempts (1 when all went well) */
	int rcvbuf;		   /* receive buffer the kernel granted */
	unsigned int max_flows;	   /* the flow table's cap */
	char gone[400];		   /* ST_STOP_TARGET: what vanished */
	char envoy_path[PATH_MAX]; /* the access log followed; "" none */
};

/**
 * st_session_target_open() - open the target's network namespace.
 * @t: exactly one of netns, pid, pod set
 * @desc: receives a short description ("pod default/productpage-v1 (pid
 *	123)", "netns /var/run/netns/x"), or NULL
 * @size: size of @desc
 * @err: error buffer (for a pod that is not found: the pods that were)
 *
 * Return: an O_CLOEXEC fd of the namespace, or a negative errno (-EINVAL
 * when not exactly one target is given).
 */
int st_session_target_open(const struct st_session_target *t, char *desc,
			   size_t size, char *err);

/**
 * st_session_cleanup() - remove the rules that dead sessions left in a
 * target, writing one note per session to @diag.
 * @netns_fd: the target's namespace
 * @backend: where to look; ST_BACKEND_UNKNOWN: all backends
 * @flags: ST_INSTR_F_FORCE also removes live sessions' rules
 * @lock_dir: NULL for ST_INSTR_LOCK_DIR
 * @diag: where the notes go, or NULL
 * @removed: receives the number of rules removed, or NULL
 * @err: error buffer
 *
 * Return: the number of sessions whose rules were removed, or a negative
 * errno.
 */
int st_session_cleanup(int netns_fd, enum st_backend backend,
		       unsigned int flags, const char *lock_dir, FILE *diag,
		       unsigned int *removed, char *err);

/**
 * st_session_run() - trace a target until the duration ends, the count is
 * reached, a signal comes or something fails; then clean up.
 * @o: target, limits, filter, output
 * @res: what happened (filled in on every path)
 * @err: error buffer
 *
 * Return: 0 when the trace ran and the rules were removed and verified
 * identical (whatever stopped it, output errors aside); -EPIPE (or another
 * errno) when writing the output failed (the rules were still removed);
 * -ENXIO when the target vanished while tracing (the flows so far and the
 * summary were written, the rules removed);
 * -EIO when the rules after removal differ from those before (@err names
 * the first difference); another negative errno when the setup failed
 * (then nothing of this session is left in the target) or the rules
 * could not be removed (@res->attached && !@res->detached).
 */
int st_session_run(const struct st_session_opts *o,
		   struct st_session_result *res, char *err);

/** st_session_stop_name() - "duration", "count", "signal", ... */
const char *st_session_stop_name(enum st_session_stop s);

#endif /* ST_SESSION_H */
