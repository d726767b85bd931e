// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * session.c - one live tracing session: target, rules, instrumentation,
 * collector, flow table, output, and the cleanup that must happen however
 * the session ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "envoylog.h"
#include "istio.h"
#include "netns.h"
#include "pipe.h"
#include "pod.h"
#include "rules-int.h"
#include "session.h"
#include "target.h"

#define ST_SESS_TICK_MS 100
#define ST_SESS_READS_PER_WAKE 64
/* After the loop: how long to keep reading what the kernel still holds. */
#define ST_SESS_DRAIN_IDLE_MS 50
#define ST_SESS_DRAIN_MAX_MS 500
#define ST_SESS_MAX_STALE 16
#define ST_SESS_WATCH_MS 1000
#define ST_SESS_MAX_FLOWS 1024 /* as flow.h's default; reported */
/*
 * The rules are probed (no program run) every ST_SESS_PROBE_MS and compared
 * (a save is run) when the probe says they may have changed; as a backstop
 * every ST_SESS_CHECK_EVERY watch periods when the probe cannot be made,
 * every ST_SESS_BACKSTOP_EVERY for iptables-legacy, whose probe misses a
 * rule replaced by one of the same size.
 */
#define ST_SESS_PROBE_MS 250
#define ST_SESS_CHECK_EVERY 2
#define ST_SESS_BACKSTOP_EVERY 5
/* Watch periods to wait for the Istio rules after a rewrite. */
#define ST_SESS_REATTACH_TRIES 10
#define ST_SESS_DETACH_TRIES 3
#define ST_SESS_DETACH_PAUSE_MS 200
#define ST_NETNS_RUN_DIR "/var/run/netns"
/*
 * Losses (records the kernel could not queue, flows evicted from a full
 * table) are remembered as time spans (kernel clock) in a small ring,
 * spans closer than ST_SESS_LOSS_MERGE_MS merged; a flow that depends on
 * a partner leg not being there is suspect within ST_SESS_LOSS_NEAR_MS of
 * one (the flow table's stitch window plus its walk time-out).
 */
#define ST_SESS_LOSS_RING 64
#define ST_SESS_LOSS_MERGE_MS 200
#define ST_SESS_LOSS_NEAR_MS 2500

struct st_sess_span {
	int64_t from_ms, to_ms; /* CLOCK_REALTIME milliseconds */
};

/* What the target was when it was opened, to notice it vanish. */
struct st_sess_tgt {
	char path[256]; /* --netns: the path as opened; "" otherwise */
	int pid;	/* --pid, --pod: the process whose namespace it is */
	dev_t dev;	/* the namespace's identity */
	ino_t ino;
};

struct st_sess {
	const struct st_session_opts *o;
	struct st_session_result *res;
	struct st_pipe *pipe;
	uint64_t lost_fed; /* lost records already told to the pipeline */
	int cb_ret;	   /* a pipeline error inside the record callback */
	char *err;
	/* Watching the target and the rules while tracing. */
	struct st_sess_tgt tgt;
	struct st_instr *in;
	unsigned int watch_ticks;
	/*
	 * The last read stopped with records still in the socket: the clock
	 * must not move past them (a walk would be sealed while its records
	 * wait there, on a busy machine).
	 */
	bool backlog;
	bool loss_noted;
	bool change_noted;
	bool check_failed;
	/* Probing the rules, and re-attaching after a rewrite. */
	int netns_fd;
	struct st_nflog *nl;
	int64_t probe_ms; /* CLOCK_MONOTONIC of the last probe */
	bool probe_failed;
	bool reattach_pending;
	unsigned int reattach_tries;
	bool rewrite_stop; /* stopped: rewritten and not re-attached */
	char reattach_err[ST_ERRBUF_SIZE];
	/* Rules of earlier attaches: flows held may point into them. */
	struct st_ruleset **old_rs;
	struct st_istio_settings **old_set;
	size_t nold;
	/* When records were lost, to mark the flows that may miss a leg. */
	struct st_sess_span loss[ST_SESS_LOSS_RING];
	unsigned int nloss;	 /* spans stored (ring: the latest win) */
	struct st_flow scratch;	 /* a flow re-marked incomplete */
	struct st_envoylog *log; /* Envoy's access log; NULL: none */
	int log_ret;		 /* the pipeline failed on an entry */
};

const char *st_session_stop_name(enum st_session_stop s)
{
	switch (s) {
	case ST_STOP_DURATION:
		return "duration";
	case ST_STOP_COUNT:
		return "count";
	case ST_STOP_SIGNAL:
		return "signal";
	case ST_STOP_OUTPUT:
		return "output";
	case ST_STOP_ERROR:
		return "error";
	case ST_STOP_TARGET:
		return "target gone";
	case ST_STOP_NONE:
		break;
	}
	return "none";
}

/* As st_session_target_open(); @tg (may be NULL) learns what to watch. */
static int st_sess_target_open(const struct st_session_target *t, char *desc,
			       size_t size, struct st_sess_tgt *tg, char *err)
{
	struct st_pod pod;
	struct stat sb;
	int n = (t->netns != NULL) + (t->pid > 0) + (t->pod != NULL);
	int fd = -1;

	if (desc != NULL && size > 0)
		desc[0] = '\0';
	if (tg != NULL)
		memset(tg, 0, sizeof(*tg));
	if (n != 1)
		return st_err(
			err, EINVAL,
			"give exactly one target: --pod, --netns or --pid");
	if (t->netns != NULL) {
		fd = st_netns_open(t->netns, err);
		if (fd >= 0 && desc != NULL)
			snprintf(desc, size, "netns %s", t->netns);
		/* As st_netns_open() resolves it: a bare name is in the run dir. */
		if (fd >= 0 && tg != NULL) {
			if (strchr(t->netns, '/') != NULL)
				st_strlcpy(tg->path, t->netns,
					   sizeof(tg->path));
			else
				snprintf(tg->path, sizeof(tg->path), "%s/%s",
					 ST_NETNS_RUN_DIR, t->netns);
		}
	} else if (t->pid > 0) {
		fd = st_tgt_open_pid(t->pid, NULL, err);
		if (fd >= 0 && desc != NULL)
			snprintf(desc, size, "pid %d", t->pid);
		if (tg != NULL)
			tg->pid = t->pid;
	} else {
		struct st_pod_opts po = {.host_root = t->host_root};

		fd = st_pod_lookup(&po, t->pod,
				   t->pod_ns ? t->pod_ns : "default", &pod,
				   err);
		if (fd < 0)
			return fd;
		fd = st_pod_netns_open(&pod, &po, err);
		if (fd >= 0 && desc != NULL)
			snprintf(desc, size, "pod %s/%s (pid %d)", pod.ns,
				 pod.name, pod.pid);
		if (tg != NULL)
			tg->pid = pod.pid;
	}
	if (fd >= 0 && desc != NULL && t->label != NULL)
		snprintf(desc, size, "%s", t->label);
	if (fd >= 0 && tg != NULL && fstat(fd, &sb) == 0) {
		tg->dev = sb.st_dev;
		tg->ino = sb.st_ino;
	}
	return fd;
}

int st_session_target_open(const struct st_session_target *t, char *desc,
			   size_t size, char *err)
{
	return st_sess_target_open(t, desc, size, NULL, err);
}

/*
 * Is the target still there?  Return: true, or false with @why saying
 * what vanished.  A pod whose proxy process went is looked up again: a
 * restarted container keeps the pod's namespace.
 */
static bool st_sess_target_alive(const struct st_session_target *t,
				 struct st_sess_tgt *tg, char *why, size_t size)
{
	char path[64];
	char ebuf[ST_ERRBUF_SIZE];
	struct st_pod_opts po = {.host_root = t->host_root};
	struct st_pod pod;
	struct stat sb;

	if (tg->ino == 0)
		return true; /* nothing known to compare with */
	if (tg->path[0] != '\0') {
		if (stat(tg->path, &sb) < 0) {
			snprintf(why, size,
				 "the network namespace %s was deleted (%s)",
				 tg->path, strerror(errno));
			return false;
		}
		if (sb.st_dev != tg->dev || sb.st_ino != tg->ino) {
			snprintf(why, size,
				 "%s names another network namespace now",
				 tg->path);
			return false;
		}
		return true;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", tg->pid);
	if (stat(path, &sb) == 0 && sb.st_dev == tg->dev &&
	    sb.st_ino == tg->ino)
		return true;
	if (t->pod != NULL &&
	    st_pod_lookup(&po, t->pod, t->pod_ns ? t->pod_ns : "default", &pod,
			  ebuf) == 0 &&
	    pod.netns_ino == (uint64_t)tg->ino) {
		tg->pid = pod.pid;
		return true;
	}
	if (t->pod != NULL)
		snprintf(why, size, "the pod %s/%s is gone",
			 t->pod_ns ? t->pod_ns : "default", t->pod);
	else
		snprintf(why, size,
			 "process %d has exited or left its network namespace",
			 tg->pid);
	return false;
}

int st_session_cleanup(int netns_fd, enum st_backend backend,
		       unsigned int flags, const char *lock_dir, FILE *diag,
		       unsigned int *removed, char *err)
{
	struct st_instr_stale found[ST_SESS_MAX_STALE];
	size_t nfound = 0;
	unsigned int nrules = 0;
	int nsess = 0;
	int ret;

	if (removed != NULL)
		*removed = 0;
	ret = st_instr_cleanup(netns_fd, backend, flags, lock_dir, found,
			       ST_ARRAY_SIZE(found), &nfound, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < nfound && i < ST_ARRAY_SIZE(found); i++) {
		const struct st_instr_stale *s = &found[i];

		if (s->removed) {
			nsess++;
			nrules += s->nrules;
			st_note(diag,
				"removed %u rule%s left behind by %s session "
				"%08" PRIx32 " (%s)",
				s->nrules, s->nrules == 1 ? "" : "s",
				s->live ? "the running" : "the dead",
				s->session, st_backend_name(s->backend));
		} else if (s->live) {
			st_note(diag,
				"session %08" PRIx32
				" is still running: its %u rules were left "
				"alone (%s)",
				s->session, s->nrules,
				st_backend_name(s->backend));
		}
	}
	if (nfound > ST_ARRAY_SIZE(found))
		st_note(diag, "... and %zu more sessions",
			nfound - ST_ARRAY_SIZE(found));
	if (removed != NULL)
		*removed = nrules;
	return nsess;
}

/* The summary's counts: the pipeline's, with the collector's losses. */
static void st_sess_summary_stats(const struct st_sess *s,
				  const struct st_nflog_stats *ns,
				  struct st_flow_stats *st)
{
	st_pipe_stats(s->pipe, st);
	st->lost = ns != NULL ? ns->lost : 0;
	if (s->log != NULL) {
		struct st_envoylog_stats ls;

		st_envoylog_stats(s->log, &ls);
		st->envoy.unparsed = ls.unparsed + ls.binary + ls.oversize;
		st->envoy.rotated = ls.rotations + ls.truncations;
		st->envoy.deleted = ls.deletions;
	}
}

/* ---- Envoy's access log -------------------------------------------------- */

static int st_sess_entry(void *data, const struct st_envoy_req *req)
{
	struct st_sess *s = data;
	int ret = st_pipe_envoy(s->pipe, req, s->err);

	if (ret < 0) {
		s->log_ret = ret;
		return ST_CB_ERROR;
	}
	return ret == ST_CB_STOP ? ST_CB_STOP : ST_CB_OK;
}

/*
 * Read what the log has now.  A read error is the log's (noted once, tried
 * again on the next tick); only the pipeline's failure is returned.
 */
static int st_sess_log_poll(struct st_sess *s)
{
	char lerr[ST_ERRBUF_SIZE];
	const char *news;
	int ret;

	if (s->log == NULL)
		return 0;
	ret = st_envoylog_poll(s->log, lerr);
	while ((news = st_envoylog_news(s->log)) != NULL)
		st_note(s->o->diag, "access log: %s", news);
	if (s->log_ret < 0) {
		ret = s->log_ret;
		s->log_ret = 0;
		return ret;
	}
	return 0;
}

/* Open the access log before anything is attached: its end is the start. */
static int st_sess_log_open(struct st_sess *s, char *err)
{
	const struct st_session_opts *o = s->o;
	struct st_envoylog_opts lo;
	char *path = s->res->envoy_path;
	int ret;

	if (o->envoy_log == NULL)
		return 0;
	if (strcmp(o->envoy_log, "auto") == 0) {
		if (o->target.pod == NULL)
			return st_err(err, EINVAL,
				      "--envoy-log auto needs a pod target "
				      "(--pod NAME)");
		ret = st_envoylog_auto_path(
			o->log_root != NULL ? o->log_root : "/",
			o->target.pod_ns != NULL ? o->target.pod_ns : "default",
			o->target.pod, path, PATH_MAX, err);
		if (ret < 0)
			return ret;
	} else {
		st_strlcpy(path, o->envoy_log, PATH_MAX);
	}
	memset(&lo, 0, sizeof(lo));
	lo.path = path;
	lo.from_end = true;
	lo.fn = st_sess_entry;
	lo.data = s;
	ret = st_envoylog_new(&s->log, &lo, err);
	if (ret < 0)
		return ret;
	st_note(o->diag, "following Envoy's access log %s", path);
	return 0;
}

/* The output error so far (positive), or 0. */
static int st_sess_out_errno(const struct st_sess *s)
{
	struct st_pipe_result pr;

	if (s->pipe == NULL)
		return 0;
	st_pipe_result(s->pipe, &pr);
	return pr.out_errno;
}

static int64_t st_ts_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static void st_sess_loss_at(struct st_sess *s, int64_t ms)
{
	struct st_sess_span *last =
		s->nloss ? &s->loss[(s->nloss - 1) % ST_SESS_LOSS_RING] : NULL;

	if (last != NULL && ms >= last->from_ms &&
	    ms - last->to_ms <= ST_SESS_LOSS_MERGE_MS) {
		if (ms > last->to_ms)
			last->to_ms = ms;
		return;
	}
	s->loss[s->nloss % ST_SESS_LOSS_RING] = (struct st_sess_span){ms, ms};
	s->nloss++;
}

static bool st_sess_loss_near(const struct st_sess *s, int64_t ms)
{
	unsigned int n =
		s->nloss < ST_SESS_LOSS_RING ? s->nloss : ST_SESS_LOSS_RING;

	for (unsigned int i = 0; i < n; i++)
		if (ms >= s->loss[i].from_ms - ST_SESS_LOSS_NEAR_MS &&
		    ms <= s->loss[i].to_ms + ST_SESS_LOSS_NEAR_MS)
			return true;
	return false;
}

/*
 * A flow whose class says a partner leg was not there (a proxy leg
 * stitched to nothing, legs that form no known type) proves nothing when
 * records were lost or flows evicted around it: the partner may be among
 * them.  Such a flow is reported incomplete instead of silently wrong.
 * Return: the flow to write (@f, or the re-marked copy).
 */
static const struct st_flow *st_sess_loss_mark(struct st_sess *s,
					       const struct st_flow *f)
{
	char was[ST_FLOW_REASON_SIZE];
	struct st_flow *c = &s->scratch;

	if (s->nloss == 0 || f->type != 0 || f->nlegs == 0 ||
	    (f->klass != ST_CLASS_PROXY_DIRECT && f->klass != ST_CLASS_UNKNOWN))
		return f;
	if (!st_sess_loss_near(s, st_ts_ms(&f->legs[0].ts)))
		return f;
	*c = *f;
	st_strlcpy(was, f->reason, sizeof(was));
	c->klass = ST_CLASS_INCOMPLETE;
	c->lost_meanwhile = true;
	snprintf(c->reason, sizeof(c->reason),
		 "records were lost or flows evicted around it, its partner "
		 "leg may be among them (%.*s)",
		 (int)sizeof(c->reason) - 88, was);
	return c;
}

/*
 * Every flow, before the pipeline's filter: an evicted one marks a loss
 * (even when not selected: its partner may be), and a flow near a loss
 * may be re-marked.
 */
static const struct st_flow *st_sess_prepare(void *data,
					     const struct st_flow *f)
{
	struct st_sess *s = data;

	if (f->evicted && f->nlegs > 0)
		st_sess_loss_at(s, st_ts_ms(&f->legs[0].ts));
	return st_sess_loss_mark(s, f);
}

static void st_sess_feed_lost(struct st_sess *s, struct st_nflog *nl);

static int st_sess_rec(const struct st_rec *rec, void *data)
{
	struct st_sess *s = data;
	int ret;

	/*
	 * A gap is known at the record after it: the flow table must hear of
	 * it before that record, which may begin a leg whose first records
	 * were the lost ones.
	 */
	if (s->nl != NULL && st_nflog_lost(s->nl) > s->lost_fed)
		st_sess_feed_lost(s, s->nl);
	/*
	 * The record sinks (--write) see every record; another session's
	 * (a shared group someone forced) goes no further.
	 */
	ret = st_pipe_rec(s->pipe, rec, s->err);
	if (ret < 0) {
		s->cb_ret = ret;
		return ST_CB_ERROR;
	}
	return ret;
}

/* Tell the flow table about records the collector lost since last time. */
static void st_sess_feed_lost(struct st_sess *s, struct st_nflog *nl)
{
	struct st_nflog_stats ns;

	st_nflog_stats(nl, &ns);
	if (ns.lost > s->lost_fed) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		st_sess_loss_at(s, st_ts_ms(&now));
		st_pipe_lost(s->pipe, ns.lost - s->lost_fed);
		s->lost_fed = ns.lost;
		if (!s->loss_noted) {
			s->loss_noted = true;
			st_note(s->o->diag,
				"records lost: the NFLOG receive buffer "
				"overflowed; flows they touch are marked "
				"incomplete and the summary counts them "
				"(a larger --rcvbuf helps)");
		}
	}
}

static bool st_sess_rules_watch(struct st_sess *s, bool probed);
static bool st_sess_probe(struct st_sess *s);

/*
 * One watch period: is the target still there, and are the rules as they
 * were (a re-attach still waiting is tried again)?  Return: true to go
 * on, false when the session must end (res->gone says why).
 */
static bool st_sess_watch(struct st_sess *s)
{
	struct st_session_result *res = s->res;
	unsigned int every;

	if (!st_sess_target_alive(&s->o->target, &s->tgt, res->gone,
				  sizeof(res->gone)))
		return false;
	if (s->in == NULL)
		return true;
	s->watch_ticks++;
	if (s->reattach_pending)
		return st_sess_rules_watch(s, false);
	if (s->probe_failed)
		every = ST_SESS_CHECK_EVERY;
	else if (res->backend == ST_BACKEND_LEGACY)
		every = ST_SESS_BACKSTOP_EVERY;
	else
		return true; /* nf_tables' generation misses nothing */
	if (s->watch_ticks % every != 0)
		return true;
	return st_sess_rules_watch(s, false);
}

/*
 * Read what is queued: at most @max datagrams.  Return: datagrams read
 * with records (>= 0), or a negative errno (cb errors mapped back).
 */
static int st_sess_read(struct st_sess *s, struct st_nflog *nl, int max)
{
	int got = 0;
	int ret;

	for (int i = 0; i < max; i++) {
		if (st_pipe_stopped(s->pipe))
			break;
		ret = st_nflog_read(nl, st_sess_rec, s, s->err);
		if (ret == -ECANCELED && s->cb_ret < 0)
			return s->cb_ret;
		if (ret == -EAGAIN || ret == -EINTR)
			break;
		if (ret < 0)
			return ret;
		st_sess_feed_lost(s, nl);
		if (ret == 0)
			break;
		got++;
	}
	s->backlog = got == max;
	return got;
}

static int st_timerfd(unsigned int ms, bool periodic, char *err)
{
	struct itimerspec its;
	int fd;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return st_err(err, errno, "timerfd_create: %s",
			      strerror(errno));
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int e = errno;

		close(fd);
		return st_err(err, e, "timerfd_settime: %s", strerror(e));
	}
	return fd;
}

/* Was one of the stop signals delivered?  Return: the signal, or 0. */
static int st_sess_signal(int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	if (sfd < 0)
		return 0;
	n = read(sfd, &si, sizeof(si));
	if (n != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

static void st_sess_drain(struct st_sess *s, struct st_nflog *nl)
{
	struct timespec t0, t1;
	struct pollfd p = {st_nflog_fd(nl), POLLIN, 0};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int64_t ms;

		if (st_pipe_stopped(s->pipe))
			return;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= ST_SESS_DRAIN_MAX_MS)
			return;
		st_pipe_sync(s->pipe);
		if (poll(&p, 1, ST_SESS_DRAIN_IDLE_MS) <= 0)
			return;
		if (st_sess_read(s, nl, ST_SESS_READS_PER_WAKE) <= 0)
			return;
	}
}

enum { PFD_SIG, PFD_NFLOG, PFD_TICK, PFD_WATCH, PFD_DUR, PFD__MAX };

/*
 * The loop proper.  Return: 0 when it stopped as asked (res->stop says
 * why), or a negative errno.
 */
static int st_sess_loop(struct st_sess *s, struct st_nflog *nl, int sfd,
			char *err)
{
	const struct st_session_opts *o = s->o;
	struct pollfd pfd[PFD__MAX];
	int tick = -1, dur = -1, watch = -1;
	nfds_t n = PFD_DUR;
	int ret;

	tick = st_timerfd(o->tick_ms ? o->tick_ms : ST_SESS_TICK_MS, true, err);
	if (tick < 0)
		return tick;
	watch = st_timerfd(o->watch_ms ? o->watch_ms : ST_SESS_WATCH_MS, true,
			   err);
	if (watch < 0) {
		ret = watch;
		goto out;
	}
	if (o->duration_ms > 0) {
		dur = st_timerfd(o->duration_ms, false, err);
		if (dur < 0) {
			ret = dur;
			goto out;
		}
		n = PFD__MAX;
	}
	pfd[PFD_SIG] = (struct pollfd){sfd, POLLIN, 0};
	pfd[PFD_NFLOG] = (struct pollfd){st_nflog_fd(nl), POLLIN, 0};
	pfd[PFD_TICK] = (struct pollfd){tick, POLLIN, 0};
	pfd[PFD_WATCH] = (struct pollfd){watch, POLLIN, 0};
	pfd[PFD_DUR] = (struct pollfd){dur, POLLIN, 0};
	for (;;) {
		st_pipe_sync(s->pipe);
		if (st_sess_out_errno(s) != 0) {
			s->res->stop = ST_STOP_OUTPUT;
			break;
		}
		ret = poll(pfd, n, -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = st_err(err, errno, "poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[PFD_SIG].revents) {
			s->res->signo = st_sess_signal(sfd);
			if (s->res->signo != 0) {
				s->res->stop = ST_STOP_SIGNAL;
				break;
			}
		}
		if (pfd[PFD_NFLOG].revents) {
			ret = st_sess_read(s, nl, ST_SESS_READS_PER_WAKE);
			if (ret < 0)
				goto out;
		}
		if (pfd[PFD_TICK].revents) {
			uint64_t ticks;
			struct timespec now;

			if (read(tick, &ticks, sizeof(ticks)) < 0 &&
			    errno != EAGAIN) {
				ret = st_err(err, errno, "timerfd: %s",
					     strerror(errno));
				goto out;
			}
			/*
			 * Kernel NFLOG timestamps are CLOCK_REALTIME.  While
			 * records wait unread, they move the clock themselves.
			 */
			clock_gettime(CLOCK_REALTIME, &now);
			ret = s->backlog ? 0 : st_pipe_time(s->pipe, &now, err);
			if (ret >= 0)
				ret = st_sess_log_poll(s);
			if (ret < 0)
				goto out;
			if (!st_sess_probe(s)) {
				if (s->cb_ret < 0) {
					ret = s->cb_ret;
					goto out;
				}
				s->res->stop = ST_STOP_TARGET;
				break;
			}
		}
		if (pfd[PFD_WATCH].revents) {
			uint64_t ticks;

			if (read(watch, &ticks, sizeof(ticks)) < 0 &&
			    errno != EAGAIN) {
				ret = st_err(err, errno, "timerfd: %s",
					     strerror(errno));
				goto out;
			}
			if (!st_sess_watch(s)) {
				if (s->cb_ret < 0) {
					ret = s->cb_ret;
					goto out;
				}
				s->res->stop = ST_STOP_TARGET;
				break;
			}
		}
		if (st_sess_out_errno(s) != 0) {
			s->res->stop = ST_STOP_OUTPUT;
			break;
		}
		if (st_pipe_stopped(s->pipe)) {
			s->res->stop = ST_STOP_COUNT;
			break;
		}
		if (n > PFD_DUR && pfd[PFD_DUR].revents) {
			s->res->stop = ST_STOP_DURATION;
			break;
		}
	}
	ret = 0;
out:
	if (tick >= 0)
		close(tick);
	if (watch >= 0)
		close(watch);
	if (dur >= 0)
		close(dur);
	return ret;
}

static void st_sess_pause(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Remove this session's rules, retrying a removal that failed (a program
 * that failed once may not fail again).  A retry that finds nothing to
 * remove means the first attempt did remove them and failed afterwards
 * (the rules are not as before): that first error stands.
 */
static int st_sess_detach(struct st_sess *s, char *err)
{
	struct st_session_result *res = s->res;
	struct st_instr_report rep;
	char e1[ST_ERRBUF_SIZE] = "";
	int ret = 0, first = 0;

	if (s->in == NULL)
		return 0;
	for (unsigned int i = 0; i < ST_SESS_DETACH_TRIES; i++) {
		memset(&rep, 0, sizeof(rep));
		if (i > 0)
			st_sess_pause(ST_SESS_DETACH_PAUSE_MS);
		res->detach_tries++;
		ret = st_instr_detach(s->in, &rep, i == 0 ? e1 : err);
		if (rep.changed && strcmp(rep.change, res->change) != 0) {
			res->rules_changed = true;
			st_strlcpy(res->change, rep.change,
				   sizeof(res->change));
			st_note(s->o->diag,
				"someone else changed the rules while "
				"tracing: %s",
				rep.change);
		}
		if (ret == 0 && (i == 0 || rep.removed > 0)) {
			if (i > 0)
				st_note(s->o->diag,
					"removing the rules failed at first "
					"(%s); attempt %u removed them",
					e1, i + 1);
			return 0;
		}
		if (i == 0)
			first = ret;
		if (ret == 0)
			break; /* removed by the first attempt after all */
		if (i == 0)
			st_note(s->o->diag,
				"removing the rules failed (%s); trying again",
				e1);
	}
	st_strlcpy(err, e1, ST_ERRBUF_SIZE);
	if (ret < 0) /* every attempt failed: the rules are still there */
		return st_err(err, -first,
			      "could not remove the %u rules of session "
			      "%08" PRIx32 " (%s); they are still in the "
			      "target: 'sidecar-trace --cleanup' with the same "
			      "target removes them",
			      res->instr.nrules, res->session, e1);
	return first;
}

static int st_sess_write_summary(struct st_sess *s, struct st_nflog *nl,
				 char *err)
{
	struct st_nflog_stats ns;
	struct st_flow_stats st;

	st_nflog_stats(nl, &ns);
	st_sess_summary_stats(s, nl != NULL ? &ns : NULL, &st);
	st.rules_rewritten = s->res->reattached;
	s->res->flows = st;
	return st_pipe_finish(s->pipe, &st, err);
}

/* Does a save line carry a sidecar-trace session comment? */
static bool st_sess_ipt_line_ours(const char *line, size_t len)
{
	static const char key[] = "--comment ";
	const size_t klen = sizeof(key) - 1;
	const size_t plen = sizeof(ST_INSTR_COMMENT_PREFIX) - 1;

	if (len < 3 || memcmp(line, "-A ", 3) != 0)
		return false;
	for (size_t i = 0; i + klen < len; i++) {
		size_t k = i + klen;

		if (memcmp(line + i, key, klen) != 0)
			continue;
		if (line[k] == '"')
			k++;
		if (k + plen <= len &&
		    memcmp(line + k, ST_INSTR_COMMENT_PREFIX, plen) == 0)
			return true;
	}
	return false;
}

/* Save text without the rules of any sidecar-trace session. */
static char *st_sess_ipt_filter(const char *text, size_t len,
				unsigned int *dropped)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (text + i)) + 1 : len - i;

		if (st_sess_ipt_line_ours(text + i, l))
			(*dropped)++;
		else {
			memcpy(out + n, text + i, l);
			n += l;
		}
		i += l;
	}
	out[n] = '\0';
	return out;
}

/* `nft -j list ruleset` without the rules of any sidecar-trace session. */
static char *st_sess_nft_filter(const char *text, size_t len,
				unsigned int *dropped)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	json_t *arr = json_object_get(root, "nftables");
	char *out = NULL;
	size_t i = 0;

	if (!json_is_array(arr))
		goto out;
	while (i < json_array_size(arr)) {
		json_t *r = json_object_get(json_array_get(arr, i), "rule");
		const char *c =
			json_string_value(json_object_get(r, "comment"));

		if (c != NULL &&
		    strncmp(c, ST_INSTR_COMMENT_PREFIX,
			    sizeof(ST_INSTR_COMMENT_PREFIX) - 1) == 0) {
			json_array_remove(arr, i);
			(*dropped)++;
			continue;
		}
		i++;
	}
	out = json_dumps(root, JSON_COMPACT);
out:
	json_decref(root);
	return out;
}

/*
 * The rules of @tgt without those of other sidecar-trace sessions, whose
 * rules would shift every number after them (the tags number the original
 * rules only); @tgt's dumps become those without them too, so that what
 * --write keeps beside a capture is what its records number.  Return: 0
 * with *@rs_out NULL when there were none, 0 with a new ruleset, or a
 * negative errno.
 */
static int st_sess_rules_unshifted(struct st_tgt *tgt, enum st_backend backend,
				   struct st_ruleset **rs_out,
				   unsigned int *dropped, char *err)
{
	static const enum st_family fams[] = {ST_FAMILY_IPV4, ST_FAMILY_IPV6};
	size_t nf = backend == ST_BACKEND_NFTABLES ? 1 : ST_ARRAY_SIZE(fams);
	struct st_ruleset *rs = NULL;
	char *text = NULL;
	bool any = false;
	int ret = 0;

	*rs_out = NULL;
	*dropped = 0;
	for (size_t f = 0; f < nf; f++) {
		const char *t = st_tgt_text(
			tgt, nf == 1 ? ST_FAMILY_ANY : fams[f], NULL);

		if (t != NULL && strstr(t, ST_INSTR_COMMENT_PREFIX) != NULL)
			any = true;
	}
	if (!any)
		return 0;
	rs = st_ruleset_new();
	if (rs == NULL)
		return st_err(err, ENOMEM, "out of memory");
	for (size_t f = 0; f < nf; f++) {
		size_t len = 0;
		const char *t = st_tgt_text(
			tgt, nf == 1 ? ST_FAMILY_ANY : fams[f], &len);

		if (t == NULL || len == 0)
			continue;
		text = backend == ST_BACKEND_NFTABLES
			       ? st_sess_nft_filter(t, len, dropped)
			       : st_sess_ipt_filter(t, len, dropped);
		if (text == NULL) {
			ret = st_err(err, ENOMEM,
				     "cannot leave other sessions' rules out "
				     "of the %s rules",
				     st_backend_name(backend));
			goto out;
		}
		ret = st_rules_load_buf(rs, text, strlen(text),
					st_backend_name(backend), err);
		if (ret < 0)
			goto out;
		ret = st_tgt_set_text(tgt, nf == 1 ? ST_FAMILY_ANY : fams[f],
				      text);
		text = NULL;
		if (ret < 0)
			goto out;
	}
	st_ruleset_set_backend(rs, backend);
	*rs_out = rs;
	rs = NULL;
out:
	free(text);
	st_ruleset_free(rs);
	return ret;
}

/*
 * The rules as read, analysed; refuse what is not a sidecar pod.  @first:
 * the rules the trace begins with (the tap learns them); else those read
 * again after a rewrite.
 */
static int st_sess_rules(const struct st_session_opts *o, int netns_fd,
			 enum st_backend backend, struct st_ruleset **rs_out,
			 struct st_istio_settings *set, unsigned int *foreign,
			 bool first, FILE *diag, char *err)
{
	struct st_tgt_opts to = {.backend = backend, .timeout_ms = 0};
	struct st_tgt *tgt = NULL;
	struct st_ruleset *rs = NULL;
	int ret;

	*rs_out = NULL;
	ret = st_tgt_read(netns_fd, &to, &tgt, err);
	if (ret < 0)
		goto out;
	if (st_tgt_note(tgt)[0] != '\0')
		st_note(diag, "%s", st_tgt_note(tgt));
	ret = st_sess_rules_unshifted(tgt, st_tgt_backend(tgt), &rs, foreign,
				      err);
	if (ret < 0)
		goto out;
	if (first && o->tap != NULL && o->tap->rules != NULL) {
		ret = o->tap->rules(o->tap_data, tgt, err);
		if (ret < 0)
			goto out;
	}
	if (rs != NULL && first)
		st_note(diag,
			"%u rules of other running sidecar-trace sessions are "
			"in the chains: left out, rule numbers are those of "
			"the original rules",
			*foreign);
	else
		rs = st_tgt_take_rules(tgt);
	if (rs == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	ret = st_pipe_rules_accept(rs, set, ST_PIPE_USE_TRACE, diag, err);
	if (ret < 0)
		goto out;
	*rs_out = rs;
	rs = NULL;
	ret = 0;
out:
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	return ret;
}

/* What st_sess_bind() needs: where to open the collector. */
struct st_sess_bind_ctx {
	int netns_fd;
	struct st_nflog **nl;
};

/*
 * The instrumenter has chosen the group: listen on it before the rules
 * exist, so that no record is dropped for want of a listener.
 */
static int st_sess_bind(uint16_t group, void *data, char *err)
{
	struct st_sess_bind_ctx *b = data;

	return st_nflog_open(b->nl, b->netns_fd, group, err);
}

/* The pipeline of the trace: the flow table on @rs, the caller's sinks. */
static int st_sess_pipe(struct st_sess *s, const struct st_ruleset *rs,
			const struct st_istio_settings *set, char *err)
{
	const struct st_session_opts *o = s->o;
	struct st_pipe_opts po;
	struct st_flow_opts fopts;
	int ret;

	memset(&fopts, 0, sizeof(fopts));
	fopts.max_flows = o->max_flows ? o->max_flows : ST_SESS_MAX_FLOWS;
	s->res->max_flows = fopts.max_flows;
	fopts.builtin_logged = (o->instr_flags & ST_INSTR_F_ALL_BUILTIN) != 0;
	memset(&po, 0, sizeof(po));
	po.rs = rs;
	po.set = set;
	po.table = &fopts;
	po.filter = o->filter;
	po.count = o->count;
	po.one_session = true;
	po.envoy_log = s->log != NULL;
	po.envoy_wait_ms = o->envoy_wait_ms;
	po.prepare = st_sess_prepare;
	po.prepare_data = s;
	ret = st_pipe_new(&s->pipe, &po, err);
	if (ret < 0)
		return ret;
	st_pipe_set_session(s->pipe, s->res->session);
	for (unsigned int i = 0; i < o->nsinks; i++)
		st_pipe_add_sink(s->pipe, o->sinks[i].ops, o->sinks[i].data);
	return 0;
}

/* Flows written so far. */
static uint64_t st_sess_written(const struct st_sess *s)
{
	struct st_pipe_result pr;

	st_pipe_result(s->pipe, &pr);
	return pr.written;
}

static int64_t st_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return st_ts_ms(&ts);
}

/* Keep rules (and their analysis) that flows may still point into. */
static int st_sess_keep_rules(struct st_sess *s, struct st_ruleset *rs,
			      struct st_istio_settings *set)
{
	struct st_ruleset **r;
	struct st_istio_settings **t;

	r = realloc(s->old_rs, (s->nold + 1) * sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	s->old_rs = r;
	t = realloc(s->old_set, (s->nold + 1) * sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	s->old_set = t;
	r[s->nold] = rs;
	t[s->nold] = set;
	s->nold++;
	return 0;
}

static void st_sess_free_rules(struct st_sess *s)
{
	for (size_t i = 0; i < s->nold; i++) {
		st_ruleset_free(s->old_rs[i]);
		free(s->old_set[i]);
	}
	free(s->old_rs);
	free(s->old_set);
	s->old_rs = NULL;
	s->old_set = NULL;
	s->nold = 0;
}

/*
 * Instrument the rules as they are after a rewrite.  Return: 1 when the
 * session traces the new rules, 0 when it must try again later (the Istio
 * rules are missing or still changing; s->reattach_err says how), or a
 * negative errno when the pipeline failed.
 */
static int st_sess_reattach(struct st_sess *s)
{
	const struct st_session_opts *o = s->o;
	struct st_session_result *res = s->res;
	struct st_istio_settings *set = NULL;
	struct st_ruleset *rs = NULL;
	char *cerr = s->reattach_err;
	unsigned int foreign = 0, n = 0;
	int ret;

	cerr[0] = '\0';
	/* Ours must not be there twice: what the rewrite left goes first. */
	if (st_instr_clear(s->in, &n, cerr) < 0)
		return 0;
	/* What the kernel still holds was logged by the old rules. */
	st_sess_drain(s, s->nl);
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return st_err(s->err, ENOMEM, "out of memory");
	if (st_sess_rules(o, s->netns_fd, res->backend, &rs, set, &foreign,
			  false, NULL, cerr) < 0 ||
	    st_instr_reattach(s->in, rs, cerr) < 0) {
		st_ruleset_free(rs);
		free(set);
		return 0;
	}
	ret = st_sess_keep_rules(s, rs, set);
	if (ret < 0) {
		st_ruleset_free(rs);
		free(set);
		st_instr_clear(s->in, NULL, NULL);
		return st_err(s->err, ENOMEM, "out of memory");
	}
	/* The open flows end numbered by the old rules; new ones by these. */
	ret = st_pipe_set_rules(s->pipe, rs, set, s->err);
	if (ret < 0)
		return ret;
	res->instr = *st_instr_summary(s->in);
	res->reattached++;
	st_note(o->diag,
		"re-attached to the rules as they are now: %u rules inserted "
		"in %u chains (%u of ours that were left removed first); the "
		"flows from here on are numbered by these rules",
		res->instr.nrules, res->instr.nchains, n);
	return 1;
}

/*
 * Some of this session's rules are gone: say so once, then re-attach, or
 * stop.  Return: true to go on tracing.
 */
static bool st_sess_rewritten(struct st_sess *s, unsigned int present,
			      const char *change)
{
	const struct st_session_opts *o = s->o;
	struct st_session_result *res = s->res;
	char what[sizeof(res->rewrite)];

	snprintf(what, sizeof(what),
		 "%u of the %u rules of session %08" PRIx32 " are gone%s%.160s",
		 res->instr.nrules - present, res->instr.nrules, res->session,
		 change[0] != '\0' ? "; first change: " : "", change);
	res->ours_missing = true;
	if (res->rewrite[0] == '\0')
		st_strlcpy(res->rewrite, what, sizeof(res->rewrite));
	if (o->no_reattach != NULL) {
		snprintf(res->gone, sizeof(res->gone),
			 "rules of this session vanished while tracing (%s), "
			 "as when istio-cni rewrites the Istio rules; not "
			 "re-attaching (%s)",
			 what, o->no_reattach);
		s->rewrite_stop = true;
		return false;
	}
	st_note(o->diag,
		"rules of this session vanished while tracing (%s), as when "
		"istio-cni rewrites the Istio rules; re-attaching to the "
		"rules as they are now",
		what);
	s->reattach_pending = true;
	s->reattach_tries = 0;
	return true;
}

/*
 * Are the rules still as this session left them?  A rewrite that took
 * rules of ours is taken up (re-attach); another change is noted once.
 * @probed: the probe saw a change just now.  Return: true to go on.
 */
static bool st_sess_rules_watch(struct st_sess *s, bool probed)
{
	struct st_session_result *res = s->res;
	struct st_instr_report rep;
	char cerr[ST_ERRBUF_SIZE] = "";
	int ret;

	if (s->reattach_pending) {
		ret = st_sess_reattach(s);
		if (ret < 0) {
			s->cb_ret = ret;
			return false;
		}
		if (ret > 0) {
			s->reattach_pending = false;
			return true;
		}
		/* The probe sees our own removal too: count periods only. */
		if (!probed && ++s->reattach_tries >= ST_SESS_REATTACH_TRIES) {
			snprintf(res->gone, sizeof(res->gone),
				 "rules of this session vanished while "
				 "tracing and the rules could not be "
				 "instrumented again: %.300s",
				 s->reattach_err);
			s->rewrite_stop = true;
			return false;
		}
		return true;
	}
	if (s->check_failed)
		return true;
	if (st_instr_check(s->in, &rep, cerr) < 0) {
		s->check_failed = true;
		st_note(s->o->diag,
			"cannot compare the rules while tracing: %s", cerr);
		return true;
	}
	if (rep.present < res->instr.nrules)
		return st_sess_rewritten(s, rep.present, rep.change);
	if (rep.changed && !s->change_noted) {
		s->change_noted = true;
		res->rules_changed = true;
		st_strlcpy(res->change, rep.change, sizeof(res->change));
		st_note(s->o->diag,
			"someone else changed the rules while tracing (%s); "
			"hops keep the numbers the rules had when tracing "
			"began, and that change is left in place",
			rep.change);
	}
	return true;
}

/*
 * The cheap probe, every ST_SESS_PROBE_MS of the flow clock's ticks: when
 * the rules may have changed they are compared at once.  Return: true to
 * go on.
 */
static bool st_sess_probe(struct st_sess *s)
{
	char cerr[ST_ERRBUF_SIZE];
	int64_t now = st_mono_ms();
	bool changed = false;

	if (s->in == NULL || s->probe_failed ||
	    now - s->probe_ms < ST_SESS_PROBE_MS)
		return true;
	s->probe_ms = now;
	if (st_instr_probe(s->in, &changed, cerr) < 0) {
		/* The periodic comparison is left: every other period. */
		s->probe_failed = true;
		return true;
	}
	if (!changed)
		return true;
	return st_sess_rules_watch(s, true);
}

int st_session_run(const struct st_session_opts *o,
		   struct st_session_result *res, char *err)
{
	struct st_sess s;
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	struct st_instr *in = NULL;
	struct st_nflog *nl = NULL;
	struct st_sess_bind_ctx bind;
	struct st_instr_config cfg;
	sigset_t stopset, oldmask;
	struct sigaction ign, oldpipe;
	char desc[320];
	char derr[ST_ERRBUF_SIZE] = "";
	enum st_backend backend = o->backend;
	bool masked = false, piped = false;
	int netns_fd = -1, sfd = -1;
	int ret, dret;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.res = res;
	s.err = err;
	if (o->nsinks == 0)
		return st_err(err, EINVAL, "session: no output");

	/*
	 * From here on a stop signal only makes the loop end (or the setup
	 * give up before attaching): the rules are always removed.
	 */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &stopset, &oldmask) < 0) {
		ret = st_err(err, errno, "sigprocmask: %s", strerror(errno));
		goto out;
	}
	masked = true;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, &ign, &oldpipe) == 0)
		piped = true;
	sfd = signalfd(-1, &stopset, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		ret = st_err(err, errno, "signalfd: %s", strerror(errno));
		goto out;
	}

	netns_fd = st_sess_target_open(&o->target, desc, sizeof(desc), &s.tgt,
				       err);
	if (netns_fd < 0) {
		ret = netns_fd;
		goto out;
	}
	if (backend == ST_BACKEND_UNKNOWN) {
		ret = st_tgt_detect(netns_fd, NULL, &backend, err);
		if (ret < 0)
			goto out;
	}
	res->backend = backend;
	/* Dead sessions' rules would shift the rule numbers we read. */
	ret = st_session_cleanup(netns_fd, backend, 0, o->lock_dir, o->diag,
				 &res->stale_removed, err);
	if (ret < 0)
		goto out;
	ret = st_sess_rules(o, netns_fd, backend, &rs, &set,
			    &res->foreign_rules, true, o->diag, err);
	if (ret < 0)
		goto out;
	ret = st_sess_log_open(&s, err);
	if (ret < 0)
		goto out;
	if ((res->signo = st_sess_signal(sfd)) != 0) {
		res->stop = ST_STOP_SIGNAL;
		ret = 0;
		goto out;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.netns_fd = netns_fd;
	cfg.backend = backend;
	cfg.rules = rs;
	cfg.session = 0;
	cfg.group = o->group;
	cfg.flags = o->instr_flags;
	cfg.lock_dir = o->lock_dir;
	cfg.on_group = st_sess_bind;
	bind.netns_fd = netns_fd;
	bind.nl = &nl;
	cfg.on_group_data = &bind;
	ret = st_instr_attach(&in, &cfg, err);
	if (ret < 0)
		goto out;
	res->attached = true;
	s.in = in;
	s.netns_fd = netns_fd;
	s.nl = nl;
	s.probe_ms = st_mono_ms();
	res->session = st_instr_session(in);
	res->group = st_instr_group(in);
	res->instr = *st_instr_summary(in);
	if (o->tap != NULL && o->tap->begin != NULL) {
		ret = o->tap->begin(o->tap_data, res, err);
		if (ret < 0)
			goto detach;
	}

	if (o->rcvbuf > 0) {
		ret = st_nflog_set_rcvbuf(nl, o->rcvbuf, err);
		if (ret < 0)
			goto detach;
		res->rcvbuf = ret;
		st_note(o->diag, "NFLOG receive buffer: %d bytes", ret);
	}
	ret = st_sess_pipe(&s, rs, &set, err);
	if (ret < 0)
		goto detach;
	st_note(o->diag,
		"tracing %s: %s, NFLOG group %u, session %08" PRIx32
		", %u rules inserted in %u chains%s%s%s",
		desc, st_backend_name(backend), res->group, res->session,
		res->instr.nrules, res->instr.nchains,
		o->filter ? ", filter '" : "",
		o->filter ? st_filter_expr(o->filter) : "",
		o->filter ? "'" : "");
	if (res->instr.nskipped > 0)
		st_note(o->diag, "%u rules keep state and are not logged: %s",
			res->instr.nskipped, res->instr.skipped);

	ret = st_sess_loop(&s, nl, sfd, err);
	if (ret < 0) {
		res->stop = ST_STOP_ERROR;
	} else if (res->stop != ST_STOP_OUTPUT) {
		/* What the kernel still holds belongs to this trace. */
		st_sess_drain(&s, nl);
	}
	if (ret >= 0 && res->stop != ST_STOP_OUTPUT) {
		/* Lines Envoy wrote up to the stop. */
		int lret = st_sess_log_poll(&s);

		if (lret < 0)
			ret = lret;
	}
	if (!st_pipe_stopped(s.pipe)) {
		int fret = st_pipe_flush(s.pipe, ret < 0 ? derr : err);

		if (fret < 0 && ret == 0)
			ret = fret;
	}
	if (st_sess_out_errno(&s) != 0)
		res->stop = ST_STOP_OUTPUT;
	else if (st_pipe_stopped(s.pipe) && res->stop != ST_STOP_SIGNAL)
		res->stop = ST_STOP_COUNT;

detach:
	dret = st_sess_detach(&s, ret < 0 ? derr : err);
	if (dret == 0) {
		res->detached = true;
	} else if (ret >= 0) {
		ret = dret;
	} else {
		/* Both failed: the rules left behind matter most. */
		st_note(o->diag, "%s", err);
		st_strlcpy(err, derr, ST_ERRBUF_SIZE);
		ret = dret;
	}
	if (s.pipe != NULL) {
		char werr[ST_ERRBUF_SIZE];

		st_nflog_stats(nl, &res->nflog);
		st_filter_stats(o->filter, &res->filter);
		if (st_sess_out_errno(&s) == 0)
			st_sess_write_summary(&s, nl, werr);
		else
			st_sess_summary_stats(&s, &res->nflog, &res->flows);
		res->written = st_sess_written(&s);
	}
	if (st_sess_out_errno(&s) != 0) {
		res->stop = ST_STOP_OUTPUT;
		res->out_errno = st_sess_out_errno(&s);
		if (ret >= 0)
			ret = st_err(err, res->out_errno,
				     "writing the output failed: %s%s",
				     strerror(res->out_errno),
				     res->detached ? " (rules removed)" : "");
	}
	if (res->stop == ST_STOP_TARGET && ret >= 0)
		ret = st_err(err, ENXIO, "%s: %s; %" PRIu64 " flows written%s",
			     s.rewrite_stop
				     ? "stopped"
				     : "the target vanished while tracing",
			     res->gone, res->written,
			     res->detached ? ", rules removed" : "");
out:
	st_nflog_close(nl);
	st_pipe_free(s.pipe);
	st_sess_free_rules(&s);
	st_envoylog_free(s.log);
	st_instr_free(in);
	st_ruleset_free(rs);
	if (netns_fd >= 0)
		close(netns_fd);
	if (sfd >= 0)
		close(sfd);
	if (masked) {
		struct timespec zero = {0, 0};

		/* Signals that came during the cleanup were answered by it. */
		while (sigtimedwait(&stopset, NULL, &zero) > 0)
			;
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	}
	if (piped)
		sigaction(SIGPIPE, &oldpipe, NULL);
	return ret < 0 ? ret : 0;
}
