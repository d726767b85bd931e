/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * target.h - reading the rules of a target network namespace with the
 * backend that holds Istio's rules.
 *
 * Detection, in the order Istio's own tools imply (doc/ISTIO-RULES.md,
 * "iptables-legacy vs iptables-nft"):
 *   1. native nftables when `nft -j list tables` shows a table whose name
 *      starts with "istio-" (inet istio-proxy-nat, istio-ambient-nat...);
 *   2. iptables-legacy when iptables-legacy-save (or ip6tables-legacy-save)
 *      prints at least 3 lines, as Istio counts "has rules", and declares
 *      an ISTIO_* chain: Istio keeps using legacy when legacy has rules;
 *   3. iptables-nft when iptables-nft-save (or ip6tables-nft-save)
 *      declares an ISTIO_* chain.
 * Nothing found is -ENODATA ("no Istio rules in this network namespace").
 * A program that is not installed only skips its backend; when that leaves
 * nothing, the error is -ENOENT and names the missing programs.
 *
 * Every program runs through st_spawn() inside the target namespace: the
 * caller never leaves its own.  Only listing commands are run.
 *
 * What is kept: the backend, the raw dumps (iptables: the v4 and v6 save
 * output; nftables: `nft -j list ruleset`, which is what the instrumenter
 * renders from) and the rules parsed from them with st_rules_load_buf().
 */
#ifndef ST_TARGET_H
#define ST_TARGET_H

#include <stddef.h>

#include "common.h"
#include "rules.h"

struct st_tgt;

struct st_tgt_opts {
	/*
	 * ST_BACKEND_UNKNOWN: detect.  Anything else: read only that
	 * backend (Istio's FORCE_IPTABLES_BINARY, for a pod where the
	 * detection guesses wrong).
	 */
	enum st_backend backend;
	int timeout_ms; /* per program run; 0: st_spawn()'s default */
};

/**
 * st_tgt_open_pid() - open the network namespace of process @pid.
 * @pid: process id (> 0)
 * @proc_root: NULL for "/proc"
 * @err: error buffer
 *
 * Return: an O_CLOEXEC namespace fd, or a negative errno (-ESRCH when
 * there is no such process).
 */
int st_tgt_open_pid(int pid, const char *proc_root, char *err);

/**
 * st_tgt_read() - detect the backend of @netns_fd and read its rules.
 * @netns_fd: the target's network namespace
 * @o: options, or NULL
 * @out: the result; free with st_tgt_free()
 * @err: error buffer
 *
 * Return: 0; -ENODATA when the namespace holds no Istio rules, -ENOENT
 * when the programs that could have read them are not installed, another
 * negative errno when a program failed or its output could not be parsed.
 */
int st_tgt_read(int netns_fd, const struct st_tgt_opts *o, struct st_tgt **out,
		char *err);

/**
 * st_tgt_detect() - only the backend, as st_tgt_read() would choose it
 * (for --list).
 * @netns_fd: the target's network namespace
 * @o: options, or NULL
 * @backend: receives the backend
 * @err: error buffer
 *
 * Return: 0, or a negative errno as st_tgt_read().
 */
int st_tgt_detect(int netns_fd, const struct st_tgt_opts *o,
		  enum st_backend *backend, char *err);

/** st_tgt_free() - release a result; accepts NULL. */
void st_tgt_free(struct st_tgt *t);

/** st_tgt_backend() - the backend that holds Istio's rules. */
enum st_backend st_tgt_backend(const struct st_tgt *t);

/** st_tgt_rules() - the parsed rules (v4 and v6 together); @t frees them. */
const struct st_ruleset *st_tgt_rules(const struct st_tgt *t);

/**
 * st_tgt_take_rules() - move the parsed rules out of @t; the caller frees
 * them with st_ruleset_free().  A second call returns NULL.
 */
struct st_ruleset *st_tgt_take_rules(struct st_tgt *t);

/**
 * st_tgt_text() - a raw dump as read, NUL-terminated.
 * @t: the result
 * @family: ST_FAMILY_IPV4 / ST_FAMILY_IPV6 for the iptables save output
 *          of that family; ST_FAMILY_ANY for the nftables JSON (and, for
 *          iptables backends, the IPv4 text)
 * @len: receives its length, or NULL
 *
 * Return: the text ("" when that family printed nothing), freed with @t.
 */
const char *st_tgt_text(const struct st_tgt *t, enum st_family family,
			size_t *len);

/**
 * st_tgt_note() - what detection noticed but did not fail on, e.g.
 * "iptables-nft also holds Istio rules; using iptables-legacy as Istio
 * does" or "nft is not installed: native nftables not checked"; "" when
 * nothing.
 */
const char *st_tgt_note(const struct st_tgt *t);

/**
 * st_tgt_set_text() - replace the dump of @family (as st_tgt_text() picks
 * it) with @text, which @t takes over (malloc'd, NUL-terminated): what a
 * session keeps of the rules once other sessions' rules are left out.
 * Return: 0, or -EINVAL.
 */
int st_tgt_set_text(struct st_tgt *t, enum st_family family, char *text);

#endif /* ST_TARGET_H */
