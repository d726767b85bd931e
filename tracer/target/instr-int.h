/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * instr-int.h - what the parts of the instrumenter share; included only by
 * instrument.c and the instr-*.c files of tracer/target.
 *
 * The parts, lowest first:
 *   instr-split.c     iptables rule text split into tokens ("-A CHAIN ...")
 *   instr-tag.c       what marks our rules: the session comment, the tag in
 *                     the NFLOG prefix, the NFLOG groups in use
 *   instr-plan.c      which tables, chains and rules of an iptables ruleset
 *                     get rules, and the summary of those that get none
 *   instr-iptables.c  iptables-restore transactions: insert and remove
 *   instr-nftables.c  native nftables: the JSON model, insert and remove
 *   instr-norm.c      the comparable form of a dump, and its first change
 *   instr-verify.c    what the instrumented chains must read like, checked
 *                     before and after inserting
 *   instr-tool.c      running iptables-save/-restore and nft in the target
 *   instr-lock.c      session lock files
 *   instr-gen.c       a cheap sign that the rules changed (no program run)
 *   instr-cleanup.c   rules of dead sessions
 *   instrument.c      the session: attach, check, detach
 * The parts down to instr-norm.c, and the comparisons of instr-verify.c,
 * work on text and JSON only, so that golden files can be checked without
 * root; the others read and write the target's rules through st_spawn() in
 * the target's namespace and never enter it themselves.
 */
#ifndef ST_INSTR_INT_H
#define ST_INSTR_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instrument.h"
#include "record.h"

#define ST_SPLIT_MAX_TOKS 256
#define ST_GROUP_BITS 65536 /* NFLOG groups: a bitmap of this many bits */

/* ---- instr-split.c ------------------------------------------------------ */

struct st_split_tok {
	const char *p; /* raw text, quotes included */
	size_t len;
	bool quoted;
};

/* One rule line of iptables-save output, split. */
struct st_split {
	struct st_split_tok t[ST_SPLIT_MAX_TOKS];
	size_t n;
	size_t chain;	      /* token index of the chain name */
	size_t mbeg;	      /* first match token */
	size_t tgt;	      /* index of -j/-g, or n when the rule has none */
	const char *stateful; /* the stateful module, or NULL */
	bool session_rule;    /* carries a sidecar-trace comment */
	uint32_t session;
	bool nflog;
	int group;     /* --nflog-group, -1 when none */
	size_t prefix; /* token of --nflog-prefix's value, 0 if none */
};

/**
 * st_split_rule() - split "[p:b] -A CHAIN <matches> -j TARGET <options>"
 * (counters optional) into @sp.
 *
 * Return: 0, -EINVAL when it is not such a line, -E2BIG for too many tokens.
 */
int st_split_rule(const char *text, size_t len, struct st_split *sp);

/** st_split_value() - a token's value: quotes removed, escapes resolved. */
void st_split_value(const struct st_split_tok *t, char *buf, size_t size);

/** st_split_key() - the rule without "-A CHAIN" and counters. */
void st_split_key(const struct st_split *sp, struct st_strbuf *b);

/** st_split_matches() - the rule's matches without its comment. */
void st_split_matches(const struct st_split *sp, struct st_strbuf *b);

/* ---- instr-tag.c -------------------------------------------------------- */

/**
 * st_itag_session() - the session of a rule comment: "sidecar-trace:"
 * followed by exactly eight hex digits.  Return: whether it is one.
 */
bool st_itag_session(const char *s, uint32_t *out);

/** st_itag_in_set() - is session @v one of @set? */
bool st_itag_in_set(const uint32_t *set, size_t n, uint32_t v);

/** st_itag_name_ok() - can a table or chain name go into a tag? */
bool st_itag_name_ok(const char *s);

/**
 * st_itag_make() - the NFLOG prefix of one inserted rule into @buf
 * (ST_NFLOG_PREFIX_SIZE).  Return: 0, -EINVAL or -ENAMETOOLONG.
 */
int st_itag_make(char *buf, enum st_hit_kind kind, const char *table,
		 const char *chain, unsigned int rule, uint32_t session,
		 char *err);

/** st_itag_make_mode() - as st_itag_make(); @minimal: the minimal letters. */
int st_itag_make_mode(char *buf, enum st_hit_kind kind, const char *table,
		      const char *chain, unsigned int rule, uint32_t session,
		      bool minimal, char *err);

/** st_itag_group_mark() - note group @g as used in a ST_GROUP_BITS map. */
void st_itag_group_mark(uint8_t *bits, int g);

/** st_itag_group_used() - is group @g marked? */
bool st_itag_group_used(const uint8_t *bits, unsigned int g);

/* ---- instr-plan.c ------------------------------------------------------- */

/* What a table sees (instrument.h, "Which packets"). */
enum st_tclass {
	ST_TC_NAT,
	ST_TC_RAW,
	ST_TC_OTHER,
};

/* Per-rule facts of one chain, numbered as before any session. */
struct st_plan_rule {
	const struct st_rule *r;
	bool session;
	uint32_t sess;
	unsigned int orig; /* 0 for session rules */
	const char *skip;  /* why no hit rule, or NULL */
};

/** st_plan_fam() - a chain's family; unknown counts as IPv4. */
enum st_family st_plan_fam(const struct st_chain *c);

/** st_plan_tclass() - the class of an iptables table by its name. */
enum st_tclass st_plan_tclass(const char *table);

/** st_plan_table_involved() - does @table of @fam get rules at all? */
bool st_plan_table_involved(const struct st_ruleset *rs, const char *table,
			    enum st_family fam, unsigned int flags);

/**
 * st_plan_chain() - the per-rule facts of chain @c (malloc'd into @out)
 * and its number of original rules; @sp is scratch space.
 */
int st_plan_chain(const struct st_ruleset *rs, const struct st_chain *c,
		  struct st_split *sp, struct st_plan_rule **out,
		  unsigned int *nown, char *err);

/**
 * st_plan_selected() - is a chain instrumented: every Istio chain, and a
 * built-in (nft: base) chain with original rules or under
 * ST_INSTR_F_ALL_BUILTIN.
 */
bool st_plan_selected(const char *name, bool builtin, unsigned int nown,
		      unsigned int flags);

/** st_plan_skip() - note in @sum an original rule that gets no hit rule. */
void st_plan_skip(struct st_instr_summary *sum, const char *table,
		  const char *chain, unsigned int rule, const char *why);

/*
 * Which records a session inserts: all of them (ST_INSTR_F_FULL), or only
 * those the log plan of its rules keeps (logplan.h), tagged as minimal.
 * Minimal falls back to full when the instrumenter would leave out a hit
 * record the plan counts on (a rule it cannot copy in a closed chain, or
 * a jump to a solo chain), or when rules of another session sit in an
 * instrumented chain (the plan numbers rules without them).
 */
struct st_plan_mode {
	struct st_ruleset *own; /* nft: the rules read from the dump */
	const struct st_ruleset *rs;
	struct st_logplan *lp; /* NULL: full */
};

/** st_plan_mode_ipt() - the mode of an iptables ruleset under @flags. */
int st_plan_mode_ipt(const struct st_ruleset *rs, enum st_family fam,
		     unsigned int flags, struct st_plan_mode *pm, char *err);

struct st_nft_model;

/** st_plan_mode_nft() - the mode of a native nftables dump under @flags. */
int st_plan_mode_nft(const struct st_nft_model *m, unsigned int flags,
		     struct st_plan_mode *pm, char *err);

/** st_plan_mode_free() - release a mode; accepts NULL. */
void st_plan_mode_free(struct st_plan_mode *pm);

/** st_plan_logs() - does the mode insert this record of this chain? */
bool st_plan_logs(const struct st_plan_mode *pm, const char *table,
		  const char *chain, enum st_family fam, enum st_hit_kind kind,
		  unsigned int rule);

/** st_plan_tag() - st_itag_make() with the mode's kind letter. */
int st_plan_tag(const struct st_plan_mode *pm, char *buf, enum st_hit_kind kind,
		const char *table, const char *chain, unsigned int rule,
		uint32_t session, char *err);

/* ---- instr-iptables.c --------------------------------------------------- */

/* One "-A" line of a save text. */
struct st_ipt_line {
	char table[32];
	char chain[64];
	unsigned int pos;
	bool session_rule;
	uint32_t session;
};

struct st_ipt_scan {
	struct st_ipt_line *v;
	size_t n;
	size_t cap;
};

/**
 * st_ipt_scan() - every rule line of a save text with its position in its
 * chain, plus the NFLOG groups in use (@groups: a ST_GROUP_BITS map, or
 * NULL).  Free @sc->v.
 */
int st_ipt_scan(const char *text, size_t len, struct st_ipt_scan *sc,
		uint8_t *groups, char *err);

/** st_ipt_render_remove() - "-D CHAIN P" lines for the sessions in @set. */
int st_ipt_render_remove(const char *live, size_t len, const uint32_t *set,
			 size_t nset, char **out, unsigned int *nrules,
			 char *err);

/* ---- instr-nftables.c --------------------------------------------------- */

struct st_nft_table {
	const char *family;
	const char *name;
	enum st_tclass cls;
	bool involved; /* holds an Istio chain */
};

struct st_nft_chain {
	size_t table; /* index into tables */
	const char *name;
	bool base;
	json_t **rules;
	size_t nrules;
	size_t cap;
};

/* A `nft -j list ruleset` dump; names point into @root. */
struct st_nft_model {
	json_t *root;
	struct st_nft_table *tables;
	size_t ntables;
	struct st_nft_chain *chains;
	size_t nchains;
};

/** st_nft_model_load() - parse a dump into @m; free with _free(). */
int st_nft_model_load(const char *json, size_t len, struct st_nft_model *m,
		      char *err);

/** st_nft_model_free() - release what _load() allocated; accepts NULL. */
void st_nft_model_free(struct st_nft_model *m);

/** st_nft_table_find() - index of a table, or -1. */
long st_nft_table_find(const struct st_nft_model *m, const char *family,
		       const char *name);

/** st_nft_chain_find() - a chain, or NULL. */
struct st_nft_chain *st_nft_chain_find(const struct st_nft_model *m,
				       const char *family, const char *table,
				       const char *name);

/** st_nft_table_native() - can the table hold our native rules (inet)? */
bool st_nft_table_native(const struct st_nft_table *t);

/** st_nft_rule_session() - is it a rule of a session, and which (@s)? */
bool st_nft_rule_session(json_t *rule, uint32_t *s);

/** st_nft_chain_selected() - is the chain instrumented? */
bool st_nft_chain_selected(const struct st_nft_model *m,
			   const struct st_nft_chain *c, unsigned int flags);

/**
 * st_nft_copyable() - NULL when the rule's matches can be evaluated a second
 * time without changing anything (appended to @copy unless NULL), else why
 * not.
 */
const char *st_nft_copyable(json_t *rule, json_t *copy);

/** st_nft_rule_prefix() - the log prefix of a rule, or NULL. */
const char *st_nft_rule_prefix(json_t *rule);

/** st_nft_render_model() - the insert batch for a loaded model. */
int st_nft_render_model(const struct st_nft_model *m,
			const struct st_instr_opts *o, char **out,
			struct st_instr_summary *sum, char *err);

/** st_nft_render_remove() - delete-by-handle for the sessions in @set. */
int st_nft_render_remove(const char *live, size_t len, const uint32_t *set,
			 size_t nset, char **out, unsigned int *nrules,
			 char *err);

/* ---- instrument.c: the session handle ----------------------------------- */

/* One transaction target: an iptables family, or the nftables ruleset. */
struct st_instr_slot {
	bool used;
	bool done; /* detached */
	char *snapshot;
	unsigned int nrules;
};

struct st_instr {
	int netns_fd;
	enum st_backend backend;
	uint32_t session;
	uint16_t group;
	unsigned int flags;
	unsigned long long ino;
	char *lock_dir;
	char *lock_path;
	int lock_fd;
	bool attached;
	struct st_instr_slot slot[2]; /* iptables: IPv4, IPv6; nftables: [0] */
	struct st_instr_summary sum;
	/* instr-gen.c: sockets in the target, and the last value read. */
	int gen_fd[2]; /* nf_tables: [0]; legacy: IPv4, IPv6; -1: none */
	uint64_t gen;
	bool gen_known;
};

/* ---- instr-verify.c ----------------------------------------------------- */

/**
 * st_verify_ipt_describe() - the selected chains of @rs and their original
 * rules, one line each: what must not have changed before inserting.
 */
int st_verify_ipt_describe(const struct st_ruleset *rs, enum st_family fam,
			   unsigned int flags, struct st_strbuf *b, char *err);

/**
 * st_verify_nft_compare() - do the instrumented chains of @live still hold
 * the rules of @want (the same handles in the same order)?  -ESTALE if not.
 */
int st_verify_nft_compare(const struct st_ruleset *want,
			  const struct st_nft_model *live, unsigned int flags,
			  char *err);

/**
 * st_verify_slot() - after inserting: every instrumented chain of @slot
 * must read as expected, and hold exactly the rules inserted (-EAGAIN).
 */
int st_verify_slot(struct st_instr *in, int slot,
		   const struct st_ruleset *pre_ipt,
		   const struct st_nft_model *pre_nft,
		   const struct st_instr_opts *o, char *err);

/* ---- instr-tool.c ------------------------------------------------------- */

/** st_tool_nslots() - transactions per backend: 2 (IPv4, IPv6) or 1. */
int st_tool_nslots(enum st_backend b);

/** st_tool_name() - the save (or @restore) program of a backend and slot. */
const char *st_tool_name(enum st_backend b, int slot, bool restore);

/** st_tool_slot_name() - a slot in messages. */
const char *st_tool_slot_name(enum st_backend b, int slot);

/** st_tool_read_dump() - what removal works from: save text, or nft JSON. */
int st_tool_read_dump(int fd, enum st_backend b, int slot, char **out,
		      char *err);

/** st_tool_read_norm() - the comparable form (from @dump for iptables). */
int st_tool_read_norm(int fd, enum st_backend b, const char *dump, char **out,
		      char *err);

/** st_tool_apply() - run a transaction through -restore or `nft -j -f -`. */
int st_tool_apply(int fd, enum st_backend b, int slot, const char *txn,
		  char *err);

/** st_tool_removal() - the transaction removing the sessions in @set. */
int st_tool_removal(enum st_backend b, const char *dump, const uint32_t *set,
		    size_t nset, char **out, unsigned int *n, char *err);

/**
 * st_tool_remove_set() - remove every rule of the sessions in @set from one
 * slot and check that none is left.
 */
int st_tool_remove_set(int fd, enum st_backend b, int slot, const uint32_t *set,
		       size_t nset, unsigned int *removed, char *err);

/* ---- instr-gen.c -------------------------------------------------------- */

/**
 * st_gen_read() - the current sign of the target's rules into @gen
 * (sockets opened in the target on first use): nf_tables' generation id,
 * or for iptables-legacy a hash of the kernel's description of every
 * table of the snapshot.  Return: 0, or a negative errno.
 */
int st_gen_read(struct st_instr *in, uint64_t *gen, char *err);

/** st_gen_close() - close the sockets; the handle may be freed then. */
void st_gen_close(struct st_instr *in);

/* ---- instr-lock.c ------------------------------------------------------- */

/** st_lock_name() - <dir>/<netns inode>-<session>.lock */
void st_lock_name(char *buf, size_t size, const char *dir,
		  unsigned long long ino, uint32_t session);

/** st_lock_ino() - the inode of the target's namespace, naming its locks. */
int st_lock_ino(int fd, unsigned long long *ino, char *err);

/**
 * st_lock_take() - take the lock of a new session (@fixed, or a random id
 * redrawn when taken) and set @in->session.
 */
int st_lock_take(struct st_instr *in, uint32_t fixed, char *err);

/** st_lock_write() - record session, group, backend and pid in the lock. */
int st_lock_write(struct st_instr *in, char *err);

/** st_lock_release() - close the lock, unlinking its file if @remove. */
void st_lock_release(struct st_instr *in, bool remove);

/** st_lock_groups() - mark the groups named by other sessions' locks. */
void st_lock_groups(const char *dir, unsigned long long ino, uint32_t self,
		    uint8_t *groups);

/**
 * st_lock_probe() - 1 when another process holds the session's lock; 0 when
 * it is dead, its lock now held through *@fd (-1 when there is no file).
 */
int st_lock_probe(const char *dir, unsigned long long ino, uint32_t session,
		  int *fd);

#endif /* ST_INSTR_INT_H */
