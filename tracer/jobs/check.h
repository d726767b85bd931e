/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check.h - --check: what is wrong, or commonly surprising, in a pod's
 * interception.
 *
 * A check collects findings, each with a severity, a stable kebab-case
 * code (for scripts: the codes never change meaning), the rule or process
 * concerned and a one-line message that says what to do.  Sources:
 *
 *   rules (st_check_rules(), saved or live):
 *     error    no-istio-rules             no Istio rules at all
 *     error    backend-mismatch           iptables-nft-save dump with only
 *                                          the "legacy tables present" note
 *     warning  unreachable-rule           a rule no packet can match
 *     warning  multiple-proxy-uids-shadowed  a later proxy uid's loopback
 *                                          rule, dead (doc/ISTIO-RULES.md, 2)
 *     warning  proxy-traffic-recaptured   0.8-1.2 lo rule before the uid
 *                                          RETURN (doc/ISTIO-RULES.md, 10)
 *     warning  unrecognised-rules         Istio chains of no known form
 *     info     expected-unreachable-rule  dead in Istio's own generator:
 *                                          nine-rule gid/localhost rules,
 *                                          1.23-1.24 UDP DNS RETURNs, the
 *                                          TPROXY orphan nat ISTIO_INBOUND
 *     info     ambient-pod                ztunnel rules: not a sidecar pod
 *     info     inbound-tunnel-port        TPROXY: 15008 not excluded in
 *                                          the inbound chain in use
 *     info     excluded-inbound-port, uncaptured-inbound-ports,
 *              no-inbound-capture, excluded-outbound-port,
 *              excluded-outbound-cidr, dns-not-captured
 *   live target (st_check_live()):
 *     error    app-as-proxy-uid / app-as-proxy-gid  a process in the pod's
 *                                          namespace with a proxy id that
 *                                          is not envoy / pilot-agent
 *     error    backend-mismatch           Istio rules in one backend and
 *                                          rules in another
 *     warning  excluded-port-in-use       a listener on a port excluded
 *                                          from (or not in) inbound capture
 *   capture (st_check_add_flow()):
 *     warning  bypass-traffic, proxy-direct-traffic, excluded-port-traffic
 *                                          type-0 flows, counted, examples
 *
 * Exit status: --check exits 0 whatever it finds (findings are its
 * output, errors included); 1 only when the check could not run, 2 for a
 * usage error, as every other job.
 */
#ifndef ST_CHECK_H
#define ST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "istio.h"
#include "rules.h"
#include "sink.h"

struct st_flow;

enum st_check_severity {
	ST_CHECK_INFO = 0,
	ST_CHECK_WARNING,
	ST_CHECK_ERROR,
};

#define ST_CHECK_MAX_EXAMPLES 3
#define ST_CHECK_EXAMPLE_SIZE 512

struct st_check_finding {
	enum st_check_severity severity;
	const char *code; /* static, e.g. "unreachable-rule" */
	char *message;	  /* one line: what, why, what to do */
	/* The rule concerned, when has_rule. */
	bool has_rule;
	char table[32];
	char chain[64];
	enum st_family family;
	unsigned int number;
	char *rule_text;
	/* The process concerned, when pid > 0. */
	int pid;
	char comm[17];
	uint32_t uid;
	uint32_t gid;
	/* Ports concerned (listeners, exclusions); 0 when none. */
	unsigned int nports;
	uint16_t ports[ST_MAX_LIST];
	/* Capture: flows of this kind, and a few of them. */
	uint64_t count;
	unsigned int nexamples;
	char examples[ST_CHECK_MAX_EXAMPLES][ST_CHECK_EXAMPLE_SIZE];
};

struct st_check;

/** st_check_new() - an empty check.  Return: it, or NULL (no memory). */
struct st_check *st_check_new(void);

/** st_check_free() - release a check and its findings; accepts NULL. */
void st_check_free(struct st_check *c);

/**
 * st_check_rules() - findings from a ruleset and its settings.
 * @c: the check
 * @rs: rules analysed by st_istio_analyze() (roles, reachable, why set)
 * @set: the settings it derived
 * @err: error buffer
 *
 * Return: 0, or -ENOMEM.
 */
int st_check_rules(struct st_check *c, const struct st_ruleset *rs,
		   const struct st_istio_settings *set, char *err);

struct st_check_live_opts {
	const char *proc_root; /* NULL: "/proc" */
	int timeout_ms;	       /* per listing program; 0: st_spawn()'s */
	bool no_backends;      /* skip running the save programs (tests) */
};

/**
 * st_check_live() - findings from a live network namespace: its
 * processes, its listening TCP sockets and every backend's rules.
 * @c: the check
 * @netns_fd: the target namespace
 * @set: settings derived from its rules (kind ST_ISTIO_NONE when it has
 *       none: the process and listener checks are then skipped)
 * @o: options, or NULL
 * @err: error buffer
 *
 * The socket tables are read inside the namespace (this thread enters it
 * and always leaves); programs run there through st_spawn().
 *
 * Return: 0, or a negative errno (the namespace could not be entered or
 * left, out of memory).
 */
int st_check_live(struct st_check *c, int netns_fd,
		  const struct st_istio_settings *set,
		  const struct st_check_live_opts *o, char *err);

/**
 * st_check_procs() - the process check alone: every process under
 * @proc_root whose ns/net link reads "net:[@netns_ino]" and whose fsuid
 * (fsgid) is a proxy uid (gid) but whose comm is not envoy / pilot-agent.
 * @c: the check
 * @proc_root: NULL for "/proc"
 * @netns_ino: the namespace's inode (fstat() of its fd)
 * @set: the settings (proxy ids)
 * @err: error buffer
 *
 * Return: the number of processes found in the namespace, or -ENOMEM /
 * the errno of an unreadable @proc_root.
 */
int st_check_procs(struct st_check *c, const char *proc_root,
		   uint64_t netns_ino, const struct st_istio_settings *set,
		   char *err);

/**
 * st_check_listeners() - the listener check alone, on the text of
 * /proc/net/tcp and /proc/net/tcp6 (either may be NULL).
 * @c: the check
 * @tcp4: /proc/net/tcp as read in the namespace
 * @tcp6: /proc/net/tcp6
 * @proc_root: where to look for the owner of a socket (NULL: "/proc"),
 *             among the processes of @netns_ino; "" to skip the lookup
 * @netns_ino: the namespace's inode
 * @set: the settings (excluded and captured inbound ports)
 * @err: error buffer
 *
 * Return: 0, or -ENOMEM.
 */
int st_check_listeners(struct st_check *c, const char *tcp4, const char *tcp6,
		       const char *proc_root, uint64_t netns_ino,
		       const struct st_istio_settings *set, char *err);

/* What each backend of a namespace holds (st_check_backends()). */
struct st_check_backends {
	bool legacy_ran, nft_ran, nftables_ran; /* the programs were there */
	unsigned int legacy_rules;		/* "-A" lines, v4 and v6 */
	unsigned int nft_rules;
	bool legacy_istio; /* declares an ISTIO_* chain */
	bool nft_istio;
	unsigned int nftables_istio_tables; /* native tables named istio-* */
	char nftables_names[128];	    /* "inet istio-proxy-nat, ..." */
};

/**
 * st_check_backends() - findings from what the backends hold: Istio's
 * rules in one and rules in another apply to the same packets.
 * @c: the check
 * @b: the state
 * @err: error buffer
 *
 * Return: 0, or -ENOMEM.
 */
int st_check_backends(struct st_check *c, const struct st_check_backends *b,
		      char *err);

/**
 * st_check_add_flow() - count a classified flow; type-0 flows of class
 * bypass, proxy-direct and excluded-port become findings at
 * st_check_finish().
 *
 * Return: 0.  O(1), no allocation.
 */
int st_check_add_flow(struct st_check *c, const struct st_flow *f);

/**
 * st_check_sink_ops() - st_check_add_flow() as a flow sink (sink.h); the
 * check is its data.
 */
const struct st_sink_ops *st_check_sink_ops(void);

/**
 * st_check_finish() - turn the flow counts into findings and order all
 * findings by severity (errors first), keeping the order of discovery
 * within one severity.  Call once, before reading the findings.
 *
 * Return: 0, or -ENOMEM.
 */
int st_check_finish(struct st_check *c, char *err);

/** st_check_count() - number of findings (0 for NULL). */
size_t st_check_count(const struct st_check *c);

/** st_check_get() - finding @i, or NULL. */
const struct st_check_finding *st_check_get(const struct st_check *c, size_t i);

/** st_check_nseverity() - number of findings of severity @s. */
size_t st_check_nseverity(const struct st_check *c, enum st_check_severity s);

/** st_check_has() - is there a finding with @code? */
bool st_check_has(const struct st_check *c, const char *code);

/** st_check_severity_name() - "error", "warning", "info". */
const char *st_check_severity_name(enum st_check_severity s);

#endif /* ST_CHECK_H */
