/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * instrument.h - temporary NFLOG rules in a pod's Istio chains.
 *
 * What is inserted.  In every table that holds an Istio chain
 * (st_istio_is_istio_chain()), every Istio chain and every non-empty
 * built-in chain (PREROUTING, OUTPUT, ...; nft: base chains) is
 * instrumented.  A built-in chain is taken when it has any rule, not only
 * one that jumps to an Istio chain: TPROXY mode's mangle OUTPUT holds
 * Istio's MARK/CONNMARK rules without a jump.  Each instrumented chain gets
 *   - "enter" at the top:            tag kind e, rule 0;
 *   - before original rule N, a rule with the same matches as N (its
 *     target, counters and comment dropped): tag kind h, rule N.  It logs
 *     exactly when rule N is about to be evaluated and will match;
 *   - at the end "policy" (built-in chain, kind p, rule 0) or "return"
 *     (user chain, kind r, rule 0).
 * That is full instrumentation (ST_INSTR_F_FULL, --instrument full).  By
 * default only the records that logplan.h keeps are inserted, tagged with
 * the kind letter in upper case: no "enter" in a chain whose every way
 * out leaves a record, no hit rule before a jump into an Istio chain that
 * only this rule jumps to; the flow table fills those hops in.
 * NFLOG / nft "log group" never changes a verdict.  Rules whose matches
 * keep state (statistic, limit, recent, quota, connlimit, hashlimit; nft
 * limit, quota, ct count, numgen) get no hit rule: evaluating such a match
 * twice would change what the original rule does or sees.  nft rules whose
 * matches follow a packet-changing statement, or that use xt compat
 * expressions or verdict maps, cannot be copied faithfully and get no hit
 * rule either; both kinds are listed in st_instr_summary.skipped.
 *
 * Tags.  The NFLOG prefix is the tag of record.h (st_tag_format():
 * "st:<session>:<kind>:<table>:<chain>:<rule>").  Rule numbers in tags are
 * the original rule numbers: positions in the chain not counting rules of
 * any sidecar-trace session, so they stay right when rules of another
 * session, or foreign rules added later, sit in between.  Every inserted
 * rule carries the comment "sidecar-trace:<session as 8 hex digits>"
 * (ST_INSTR_COMMENT_PREFIX); that comment, and nothing else, is how rules
 * are found again for removal and cleanup.
 *
 * Which packets.  The nat table only sees the first packet of each
 * connection, so its rules are not restricted.  mangle and filter see
 * every packet (TPROXY mode's mangle PREROUTING sees the whole inbound
 * stream): there the inserted rules also match
 * "-m conntrack --ctstate INVALID,NEW,UNTRACKED" (nft
 * "ct state invalid,new,untracked"), which keeps one record per
 * connection and direction instead of one per packet; the flows are
 * assembled from first packets anyway.  ST_INSTR_F_ALL_PACKETS drops the
 * restriction.  raw runs before conntrack has looked the packet up (every
 * packet is INVALID there), so no restriction is possible: raw chains log
 * every packet that reaches them (Istio's raw rules only match DNS, but the
 * enter/policy rules of raw PREROUTING/OUTPUT see all traffic);
 * ST_INSTR_F_SKIP_RAW leaves raw alone.  An nft table counts as nat when
 * one of its base chains has type nat, as raw when all its base chains
 * have a priority below conntrack's (-200).
 *
 * iptables (legacy and nft backends).  One iptables-restore --noflush -w
 * transaction per family: a *table block per table, in each chain first
 * "-A CHAIN <policy/return>", then "-I CHAIN P <hit>" from the last
 * original rule up to the first, P being the rule's current position (so
 * no insert shifts a position still to come), then "-I CHAIN 1 <enter>";
 * then COMMIT.  Removal is one transaction of "-D CHAIN P" lines, highest
 * position first per chain, positions taken from a save read just before.
 * iptables-restore offers no compare-and-swap: a rule inserted by someone
 * else between that read and the transaction would shift the positions;
 * the comparison after removal catches that (-EIO naming the line).
 * IPv4 and IPv6 are one transaction each, applied one after the other.
 *
 * Native nftables.  One `nft -j -f -` batch: "insert" with the handle of
 * rule N (nft inserts before that rule) for hits, "insert" without a
 * handle (top) for enter, "add" (end) for policy/return, each with
 * "comment" and an anonymous counter (iptables rules count anyway);
 * removal deletes by handle.  Only inet tables are considered:
 * iptables-nft's tables are ip/ip6 and hold xt expressions.
 *
 * Safety.  Before inserting, the live rules are read again and compared
 * with the ruleset the caller analysed (rule texts, or nft handles, of
 * every instrumented chain, ignoring other sessions' rules); after
 * inserting they are read again and every instrumented chain must read
 * enter, (hit N, rule N)..., policy/return, else the rules are removed
 * and attach fails.  The snapshot taken before insertion (save output
 * without counters, comments or any session's rules; nft: `nft -s list
 * ruleset`) is what detach compares with.
 *
 * Sessions.  A session holds flock() on
 * <lock_dir>/<netns inode>-<session>.lock for its lifetime; the file
 * also records its group and backend.  st_instr_cleanup() removes only the
 * rules of sessions whose lock is free (the process died), unless forced.
 * The NFLOG group is the lowest one from ST_INSTR_GROUP_BASE up that no
 * rule of the backend uses (NFLOG --nflog-group, nft log group) and that
 * no lock file in lock_dir names, never ST_INSTR_GROUP_ISTIO, unless the
 * caller forces one.  A forced group that NFLOG rules of the target itself
 * (not of a session) log to is refused: Istio up to 1.24 logged to 1337
 * with IPTABLES_TRACE_LOGGING, and records of both would mix.
 *
 * Rewrites.  Since 1.29 istio-cni reconciles a pod's rules when it starts:
 * it rewrites the Istio chains (iptables-restore) or deletes and re-creates
 * the native tables, which takes this session's rules with them, in part
 * or whole.  st_instr_probe() tells cheaply (no program run) that the rules
 * may have changed; st_instr_check() says whether ours are all there;
 * st_instr_reattach() removes what is left of ours and instruments the new
 * rules with the same session, group and lock.
 */
#ifndef ST_INSTRUMENT_H
#define ST_INSTRUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "rules.h"

#define ST_INSTR_COMMENT_PREFIX "sidecar-trace:"
#define ST_INSTR_LOCK_DIR "/run/sidecar-trace"
#define ST_INSTR_GROUP_BASE 5300 /* first NFLOG group tried */
/* Istio <= 1.24's own NFLOG group (IPTABLES_TRACE_LOGGING): never chosen. */
#define ST_INSTR_GROUP_ISTIO 1337

/* Flags of st_instr_opts / st_instr_config / st_instr_cleanup(). */
#define ST_INSTR_F_ALL_PACKETS (1u << 0) /* no ctstate restriction */
#define ST_INSTR_F_ALL_BUILTIN (1u << 1) /* also empty built-in chains */
#define ST_INSTR_F_SKIP_RAW (1u << 2)	 /* leave raw tables alone */
#define ST_INSTR_F_FORCE (1u << 3)	 /* cleanup: live sessions too */
/*
 * Every record (an entry record per chain, one before every rule, the
 * policy/return); without it, only those logplan.h keeps: the walk of a
 * first packet is filled in from the rules, hop for hop the same.
 */
#define ST_INSTR_F_FULL (1u << 4)

struct st_instr;

/* What a rendering (or an attach) put in. */
struct st_instr_summary {
	unsigned int nchains;  /* chains instrumented */
	unsigned int nrules;   /* rules inserted */
	unsigned int nhits;    /* of which hit rules */
	unsigned int nskipped; /* original rules without a hit rule */
	bool minimal;	       /* only the records logplan.h keeps */
	/* "nat ISTIO_OUTPUT 3 (statistic); ..." truncated to fit */
	char skipped[512];
};

/* Parameters of a pure rendering. */
struct st_instr_opts {
	uint32_t session;
	uint16_t group;
	unsigned int flags; /* ST_INSTR_F_ALL_PACKETS/ALL_BUILTIN/SKIP_RAW */
};

struct st_instr_config {
	int netns_fd;		 /* the target's namespace; required (>= 0) */
	enum st_backend backend; /* LEGACY, NFT or NFTABLES */
	/*
	 * The rules the caller analysed, as read with @backend (v4 and v6
	 * together for iptables); attach refuses when the live rules differ.
	 * NULL: instrument what is live without comparing.
	 */
	const struct st_ruleset *rules;
	uint32_t session;   /* 0: a random one */
	int group;	    /* NFLOG group 0-65535, or -1: choose a free one */
	unsigned int flags; /* ST_INSTR_F_ALL_PACKETS/ALL_BUILTIN/SKIP_RAW */
	const char *lock_dir; /* NULL: ST_INSTR_LOCK_DIR */
	/*
	 * Called with the chosen group before any rule is inserted, so that
	 * the caller binds its NFLOG socket first: records of packets that
	 * pass the new rules while nobody listens are dropped by the kernel
	 * without being counted anywhere.  A negative errno aborts the
	 * attach (nothing inserted).  May be NULL.
	 */
	int (*on_group)(uint16_t group, void *data, char *err);
	void *on_group_data;
};

/* What detach / check found. */
struct st_instr_report {
	unsigned int removed; /* rules of this session removed */
	unsigned int present; /* check: rules of this session still there */
	bool changed;	      /* someone else changed the rules meanwhile */
	char change[256];     /* the first difference, e.g. "nat: + -A ..." */
};

/* A session found by st_instr_cleanup(). */
struct st_instr_stale {
	uint32_t session;
	enum st_backend backend;
	unsigned int nrules; /* its rules found */
	bool live;	     /* its lock is held: left alone */
	bool removed;	     /* its rules were removed */
};

/**
 * st_instr_render_insert() - the iptables-restore --noflush input that
 * instruments @rs for one family, without running anything.
 * @rs: rules read from iptables-save / ip6tables-save (either backend);
 *      rule positions are taken as they are in @rs
 * @family: ST_FAMILY_IPV4 or ST_FAMILY_IPV6 (chains of unknown family
 *          count as IPv4)
 * @o: session, group and flags
 * @out: the text (malloc'd, NUL-terminated; "" when there is nothing to
 *       instrument in that family)
 * @sum: what it inserts, or NULL
 * @err: error buffer
 *
 * Return: 0, or a negative errno (-ENAMETOOLONG when a tag would not fit
 * in an NFLOG prefix, -EINVAL for a rule that cannot be split).
 */
int st_instr_render_insert(const struct st_ruleset *rs, enum st_family family,
			   const struct st_instr_opts *o, char **out,
			   struct st_instr_summary *sum, char *err);

/**
 * st_instr_render_insert_nft() - the `nft -j -f -` batch that instruments
 * the inet tables of a `nft -j list ruleset` dump.
 * @json: the dump (handles included, as nft -j always prints them)
 * @len: its length
 * @o: session, group and flags
 * @out: {"nftables":[...]} with one command per line (malloc'd), or ""
 *       when there is nothing to instrument
 * @sum: what it inserts, or NULL
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_instr_render_insert_nft(const char *json, size_t len,
			       const struct st_instr_opts *o, char **out,
			       struct st_instr_summary *sum, char *err);

/**
 * st_instr_render_remove() - the transaction that removes one session's
 * rules from a live dump.
 * @backend: LEGACY or NFT (@live is save output: "-D CHAIN P" lines,
 *           highest P first) or NFTABLES (@live is `nft -j list ruleset`:
 *           delete-by-handle commands)
 * @live: the dump
 * @len: its length
 * @session: whose rules
 * @out: the transaction (malloc'd), "" when there are none
 * @nrules: how many rules it removes
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_instr_render_remove(enum st_backend backend, const char *live,
			   size_t len, uint32_t session, char **out,
			   unsigned int *nrules, char *err);

/**
 * st_instr_normalize() - the comparable form of a dump: save output
 * without "#" lines and counters, or `nft -s list` text; lines of rules
 * carrying any sidecar-trace comment are dropped.
 * @backend: LEGACY/NFT (save text) or NFTABLES (nft list text)
 * @text: the dump
 * @len: its length
 * @out: the normalised text (malloc'd)
 * @err: error buffer
 *
 * Return: 0, or -ENOMEM.
 */
int st_instr_normalize(enum st_backend backend, const char *text, size_t len,
		       char **out, char *err);

/**
 * st_instr_diff() - describe the first line where two normalised dumps
 * differ ("line 12: '-A X' instead of '-A Y'").
 * @a: the expected text
 * @b: the text found
 * @buf: where the description goes
 * @size: its size
 *
 * Return: true when they differ.
 */
bool st_instr_diff(const char *a, const char *b, char *buf, size_t size);

/**
 * st_instr_attach() - insert this session's rules into the target.
 * @out: the session handle on success
 * @cfg: target, backend, rules, session, group, flags
 * @err: error buffer
 *
 * Takes the session lock, re-reads and compares the rules (-ESTALE when
 * they changed since @cfg->rules was read), chooses the group, applies
 * one transaction per family and verifies the result.  On failure nothing
 * of this session is left in the target.
 *
 * Return: 0, or a negative errno.
 */
int st_instr_attach(struct st_instr **out, const struct st_instr_config *cfg,
		    char *err);

/**
 * st_instr_check() - compare the live rules with the snapshot, without
 * changing anything: did someone else change them, are ours all there?
 * @in: the session
 * @rep: result (changed/change, present)
 * @err: error buffer
 *
 * Return: 0, or a negative errno when the rules could not be read.
 */
int st_instr_check(struct st_instr *in, struct st_instr_report *rep, char *err);

/**
 * st_instr_probe() - may the target's rules have changed since the last
 * attach, re-attach or probe?  Cheap enough to call several times a
 * second: nf_tables' generation id (iptables-nft, native nftables), or the
 * kernel's description of each iptables-legacy table (its number of
 * entries, size and hook offsets); no program is run.
 * @in: the attached session
 * @changed: true when they may have (then st_instr_check() tells what)
 * @err: error buffer
 *
 * Return: 0, or a negative errno when the kernel cannot be asked (then
 * only st_instr_check() tells).
 */
int st_instr_probe(struct st_instr *in, bool *changed, char *err);

/**
 * st_instr_clear() - remove whatever is left of this session's rules, in
 * every family, without comparing anything: the first step of a
 * re-attach after someone rewrote the rules (ours must not be left twice).
 * The session stays attached, with no rules, until st_instr_reattach()
 * or st_instr_detach().
 * @in: the attached session
 * @removed: rules removed, or NULL
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_instr_clear(struct st_instr *in, unsigned int *removed, char *err);

/**
 * st_instr_reattach() - instrument the target's new rules after a
 * rewrite: what is left of this session's rules is removed first
 * (st_instr_clear()), then the live rules are compared with @rules
 * (-ESTALE when they changed again since the caller read them) and
 * instrumented as st_instr_attach() does, with the same session, group and
 * lock; the snapshot that detach compares with is the new rules.
 * @in: the attached session
 * @rules: the rules the caller read and analysed after the rewrite
 * @err: error buffer
 *
 * On failure nothing of this session is in the target (-ENOENT: there
 * are no Istio chains now); the call may be repeated.
 *
 * Return: 0, or a negative errno.
 */
int st_instr_reattach(struct st_instr *in, const struct st_ruleset *rules,
		      char *err);

/**
 * st_instr_detach() - remove this session's rules and verify that the
 * rules are as before.
 * @in: the session, or NULL (nothing to do)
 * @rep: what was removed and whether someone else changed the rules in
 *       the meantime (that is reported, not an error: only this session's
 *       rules are removed); may be NULL
 * @err: error buffer
 *
 * Idempotent: a second call returns 0 and removes nothing.  Not for use
 * inside a signal handler (it spawns programs); the CLI calls it on its
 * exit path after a signal.  On success the session lock is released and
 * its file removed.
 *
 * Return: 0; a negative errno when a removal failed (the session stays
 * attached, the call can be repeated) or when the rules after removal are
 * not those before it (-EIO, @err names the first differing line).
 */
int st_instr_detach(struct st_instr *in, struct st_instr_report *rep,
		    char *err);

/**
 * st_instr_free() - release the handle and the session lock.  Does not
 * remove rules: call st_instr_detach() first.  Rules left behind belong to
 * a dead session that st_instr_cleanup() removes.  Accepts NULL.
 */
void st_instr_free(struct st_instr *in);

/** st_instr_session() - the session id (also in tags and comments). */
uint32_t st_instr_session(const struct st_instr *in);

/** st_instr_group() - the NFLOG group the rules log to. */
uint16_t st_instr_group(const struct st_instr *in);

/** st_instr_summary() - what attach inserted. */
const struct st_instr_summary *st_instr_summary(const struct st_instr *in);

/**
 * st_instr_cleanup() - remove the rules of dead sessions from a target.
 * @netns_fd: the target's namespace (required)
 * @backend: where to look; ST_BACKEND_UNKNOWN looks in all three
 *           (a tool that is not installed is skipped)
 * @flags: ST_INSTR_F_FORCE also removes sessions whose lock is held
 * @lock_dir: NULL for ST_INSTR_LOCK_DIR
 * @found: sessions found, removed or not (may be NULL when @max is 0)
 * @max: room in @found
 * @nfound: number of entries found (may exceed @max; extra ones are
 *          handled but not listed)
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_instr_cleanup(int netns_fd, enum st_backend backend, unsigned int flags,
		     const char *lock_dir, struct st_instr_stale *found,
		     size_t max, size_t *nfound, char *err);

#endif /* ST_INSTRUMENT_H */
