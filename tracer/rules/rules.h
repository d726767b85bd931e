/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rules.h - the model of a pod's packet-filter rules.
 *
 * A ruleset holds the chains and rules of one pod as read from
 * iptables-save / ip6tables-save text (legacy or nft backend) or from
 * `nft -j list ruleset` JSON.  The ruleset itself is opaque; chains and
 * rules are read-only value structs reached through accessors, so that
 * the recogniser, the instrumenter, the evaluator and the renderers all
 * see one representation.  Rule numbers are those of
 * `iptables -L --line-numbers`: 1-based within a chain.
 */
#ifndef ST_RULES_H
#define ST_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct st_ruleset;

enum st_backend {
	ST_BACKEND_UNKNOWN = 0,
	ST_BACKEND_LEGACY,   /* iptables-legacy(-save) */
	ST_BACKEND_NFT,	     /* iptables-nft(-save): xtables over nf_tables */
	ST_BACKEND_NFTABLES, /* native nftables tables (nft -j list ruleset) */
};

/* Address family of a rule: iptables rules are one of 4 or 6, nft inet both. */
enum st_family {
	ST_FAMILY_ANY = 0,
	ST_FAMILY_IPV4 = 4,
	ST_FAMILY_IPV6 = 6,
};

/* An address with a prefix length; a bare host has plen 32 or 128. */
struct st_prefix {
	uint8_t family; /* ST_FAMILY_IPV4 or ST_FAMILY_IPV6 */
	uint8_t plen;
	uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes */
};

/* A closed range of ports; a single port has lo == hi. */
struct st_port_range {
	uint16_t lo;
	uint16_t hi;
};

#define ST_MAX_PORTS 16 /* multiport allows 15 entries */
#define ST_IFNAMSIZ 16

enum st_match_kind {
	ST_M_SRC,	    /* -s / ip saddr: .addr */
	ST_M_DST,	    /* -d / ip daddr: .addr */
	ST_M_IIF,	    /* -i / iifname: .ifname ("eth+" wildcard kept) */
	ST_M_OIF,	    /* -o / oifname: .ifname */
	ST_M_PROTO,	    /* -p / meta l4proto: .proto (IPPROTO_*) */
	ST_M_SPORT,	    /* --sport, --sports, tcp sport: .ports */
	ST_M_DPORT,	    /* --dport, --dports, tcp dport: .ports */
	ST_M_UID,	    /* owner --uid-owner / meta skuid: .lo-.hi */
	ST_M_GID,	    /* owner --gid-owner / meta skgid: .lo-.hi */
	ST_M_SOCKET_EXISTS, /* owner --socket-exists */
	ST_M_MARK,     /* mark --mark / meta mark: .lo = value, .hi = mask */
	ST_M_CONNMARK, /* connmark --mark / ct mark: .lo = value, .hi = mask */
	ST_M_CTSTATE,  /* conntrack --ctstate / state / ct state: .lo = bits */
	ST_M_SOCKET,   /* -m socket (TPROXY era A): .text holds its options */
	ST_M_COMMENT,  /* comment --comment / nft comment: .text */
	ST_M_STATEFUL, /* statistic, limit, recent, quota, connlimit, hashlimit: .text */
	ST_M_UNKNOWN, /* anything not understood: .text, never dropped */
};

/* Bits of ST_M_CTSTATE. */
#define ST_CT_INVALID (1u << 0)
#define ST_CT_NEW (1u << 1)
#define ST_CT_ESTABLISHED (1u << 2)
#define ST_CT_RELATED (1u << 3)
#define ST_CT_UNTRACKED (1u << 4)
#define ST_CT_SNAT (1u << 5)
#define ST_CT_DNAT (1u << 6)

struct st_match {
	enum st_match_kind kind;
	bool neg; /* "!" in iptables, "!=" in nft */
	struct st_prefix addr;
	char ifname[ST_IFNAMSIZ + 1];
	uint8_t proto;
	unsigned int nports;
	struct st_port_range ports[ST_MAX_PORTS];
	uint32_t lo; /* uid/gid low, mark value, ctstate bits */
	uint32_t hi; /* uid/gid high, mark mask (0xffffffff when none given) */
	char *text; /* the match as written, for COMMENT/SOCKET/STATEFUL/UNKNOWN */
};

enum st_target_kind {
	ST_T_NONE = 0, /* no -j: counts and falls through */
	ST_T_JUMP,     /* -j USERCHAIN / jump */
	ST_T_GOTO,     /* -g USERCHAIN / goto */
	ST_T_RETURN,
	ST_T_ACCEPT,
	ST_T_DROP,
	ST_T_REJECT,
	ST_T_REDIRECT, /* .port_lo-.port_hi */
	ST_T_TPROXY,   /* .port_lo, .addr (on-ip), .mark/.mask */
	ST_T_MARK,     /* .mark/.mask (set-xmark) */
	ST_T_CONNMARK, /* .text says save/restore/set */
	ST_T_CT,       /* .zone */
	ST_T_DNAT,     /* .addr, .port_lo-.port_hi */
	ST_T_SNAT,
	ST_T_MASQUERADE,
	ST_T_NFLOG, /* .group, .text = prefix */
	ST_T_LOG,
	ST_T_TRACE,
	ST_T_UNKNOWN, /* .text */
};

struct st_target {
	enum st_target_kind kind;
	char *chain; /* JUMP / GOTO */
	uint16_t port_lo;
	uint16_t port_hi;
	struct st_prefix addr;
	uint32_t mark;
	uint32_t mask;
	uint16_t zone;
	uint16_t group;
	char *text; /* the target and its options as written */
};

/*
 * Role of a rule in Istio's interception, filled in by the recogniser
 * (st_istio_analyze()); ST_ROLE_NONE until then.  The string form
 * (st_role_name()) is what --explain and --json print.
 */
enum st_role {
	ST_ROLE_NONE = 0,
	ST_ROLE_INBOUND_ENTRY,	/* PREROUTING -> ISTIO_INBOUND */
	ST_ROLE_OUTBOUND_ENTRY, /* OUTPUT -> ISTIO_OUTPUT */
	ST_ROLE_DNS_ENTRY,	/* -> ISTIO_OUTPUT_DNS / raw DNS chains */
	ST_ROLE_INBOUND_PORT_EXCLUSION,	  /* ISTIO_INBOUND --dport P RETURN */
	ST_ROLE_INBOUND_TUNNEL_EXCLUSION, /* ISTIO_INBOUND --dport 15008 RETURN */
	ST_ROLE_INBOUND_PORT_INCLUSION, /* ISTIO_INBOUND --dport P -> IN_REDIRECT */
	ST_ROLE_INBOUND_CAPTURE,	/* ISTIO_INBOUND -> ISTIO_IN_REDIRECT */
	ST_ROLE_INBOUND_REDIRECT,	/* ISTIO_IN_REDIRECT REDIRECT 15006 */
	ST_ROLE_INBOUND_PASSTHROUGH_RETURN, /* -s 127.0.0.6 / ::6 -o lo RETURN */
	ST_ROLE_PROXY_TO_OWN_POD_REDIRECT, /* -o lo ! -d 127.0.0.1 uid/gid -> IN_REDIRECT */
	ST_ROLE_LOOPBACK_REDIRECT, /* era A/B: -o lo ! -d 127.0.0.1 -> REDIRECT */
	ST_ROLE_LOOPBACK_NON_PROXY_RETURN, /* -o lo ! --uid/gid-owner RETURN */
	ST_ROLE_PROXY_UID_RETURN,
	ST_ROLE_PROXY_GID_RETURN,
	ST_ROLE_OWNER_GROUP_FILTER,	 /* ISTIO_OUTBOUND_OWNER_GROUPS rules */
	ST_ROLE_LOCALHOST_RETURN,	 /* -d 127.0.0.1/32 RETURN */
	ST_ROLE_OUTBOUND_CAPTURE,	 /* ISTIO_OUTPUT -> ISTIO_REDIRECT */
	ST_ROLE_OUTBOUND_REDIRECT,	 /* ISTIO_REDIRECT REDIRECT 15001 */
	ST_ROLE_EXCLUDED_CIDR,		 /* -d CIDR RETURN */
	ST_ROLE_INCLUDED_CIDR,		 /* -d CIDR -> ISTIO_REDIRECT */
	ST_ROLE_EXCLUDED_OUTBOUND_PORT,	 /* --dport P RETURN in ISTIO_OUTPUT */
	ST_ROLE_INCLUDED_OUTBOUND_PORT,	 /* --dport P -> ISTIO_REDIRECT */
	ST_ROLE_OUTBOUND_DEFAULT_RETURN, /* final -j RETURN of a non-* -i list */
	ST_ROLE_DNS_CAPTURE,		 /* --dport 53 REDIRECT 15053 */
	ST_ROLE_DNS_PROXY_RETURN,	 /* udp 53 uid/gid RETURN (1.9-1.24) */
	ST_ROLE_DNS_CONNTRACK_ZONE,	 /* raw CT --zone */
	ST_ROLE_EXCLUDED_INTERFACE,	 /* -i/-o IF RETURN */
	ST_ROLE_KUBEVIRT_INTERFACE, /* PREROUTING -i IF -> ISTIO_REDIRECT */
	ST_ROLE_INVALID_DROP,	    /* ctstate INVALID DROP / -> ISTIO_DROP */
	ST_ROLE_TPROXY_MARK_RETURN, /* mark 1337 RETURN */
	ST_ROLE_TPROXY_LOOPBACK_RETURN, /* -i lo mark != 1338 RETURN */
	ST_ROLE_TPROXY_DIVERT,		/* established -> ISTIO_DIVERT */
	ST_ROLE_TPROXY_DIVERT_MARK,	/* ISTIO_DIVERT MARK 1337 */
	ST_ROLE_TPROXY_DIVERT_ACCEPT,	/* ISTIO_DIVERT ACCEPT */
	ST_ROLE_TPROXY_CAPTURE,		/* -> ISTIO_TPROXY */
	ST_ROLE_TPROXY_REDIRECT,	/* TPROXY --on-port 15006 */
	ST_ROLE_TPROXY_CONNMARK,	/* CONNMARK save/restore */
	ST_ROLE_TPROXY_OUTBOUND_MARK,	/* MARK 1338 for proxy lo traffic */
	ST_ROLE_TRACE_LOGGING,		/* IPTABLES_TRACE_LOGGING NFLOG */
	/*
	 * Ambient (ztunnel) rules: in the pod's namespace (ISTIO_PRERT,
	 * ISTIO_OUTPUT; nft istio-ambient-* istio-prerouting/-output) and
	 * on the node (ISTIO_POSTRT, nft istio-ambient-nat postrouting).
	 */
	ST_ROLE_AMBIENT_INBOUND_ENTRY,	/* PREROUTING -> ISTIO_PRERT */
	ST_ROLE_AMBIENT_OUTBOUND_ENTRY, /* OUTPUT -> ISTIO_OUTPUT */
	ST_ROLE_AMBIENT_DNS_ENTRY,	/* raw PREROUTING/OUTPUT jumps */
	ST_ROLE_AMBIENT_PROBE_ENTRY,	/* node: POSTROUTING -> ISTIO_POSTRT */
	ST_ROLE_AMBIENT_PROBE_SNAT,	/* node: kubelet probe SNAT */
	ST_ROLE_AMBIENT_PROBE_ACCEPT,	/* -s 169.254.7.127 ACCEPT */
	ST_ROLE_AMBIENT_PROBE_REPLY_ACCEPT, /* -d 169.254.7.127 ACCEPT */
	ST_ROLE_AMBIENT_CONNMARK_SET,	    /* mark 0x539 -> connmark 0x111 */
	ST_ROLE_AMBIENT_CONNMARK_RESTORE,   /* connmark 0x111 -> mark */
	ST_ROLE_AMBIENT_MARKED_ACCEPT,	    /* nat: mark 0x111 ACCEPT */
	ST_ROLE_AMBIENT_LOOPBACK_ACCEPT,    /* -o lo ! -d 127.0.0.1 ACCEPT */
	ST_ROLE_AMBIENT_DNS_CAPTURE,	    /* port 53 REDIRECT 15053 */
	ST_ROLE_AMBIENT_DNS_CONNTRACK_ZONE, /* raw CT --zone */
	ST_ROLE_AMBIENT_OUTBOUND_REDIRECT,  /* REDIRECT 15001 */
	ST_ROLE_AMBIENT_INBOUND_REDIRECT,   /* ! --dport 15008 REDIRECT 15006 */
	ST_ROLE_AMBIENT_TUNNEL_TPROXY,	    /* 1.21-1.23: TPROXY 15008 */
	ST_ROLE_AMBIENT_INBOUND_TPROXY,	    /* 1.21-1.23: TPROXY 15006 */
	ST_ROLE_AMBIENT_ESTABLISHED_ACCEPT, /* 1.21-1.23: ctstate ACCEPT */
	ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_REDIRECT, /* -i IF REDIRECT 15001 */
	ST_ROLE_AMBIENT_VIRTUAL_INTERFACE_RETURN,   /* -i IF RETURN */
	ST_ROLE_AMBIENT_NODE, /* 1.18-1.20 ztunnel-* chains on the node */
	ST_ROLE_FOREIGN_JUMP, /* a jump to a non-Istio chain */
	ST_ROLE_OTHER,	      /* in an Istio chain, not recognised */
	ST_ROLE__MAX,
};

struct st_rule {
	const char *
		table; /* "nat", "mangle", "raw", "filter"; nft: "istio-proxy-nat" */
	const char *chain;
	unsigned int number; /* 1-based position in the chain */
	uint64_t handle;     /* nft handle; 0 for iptables-save input */
	enum st_family family;
	unsigned int line; /* line in the source file (1-based; 0 for JSON) */
	char *text;	   /* "-A ISTIO_OUTPUT ..." or the nft statement text */
	unsigned int nmatches;
	struct st_match *matches;
	struct st_target target;
	bool has_counters;
	uint64_t packets;
	uint64_t bytes;
	/* Filled in by the recogniser. */
	enum st_role role;
	bool reachable;
	char *why; /* why unreachable / extra note, or NULL */
};

struct st_chain {
	const char *table;
	char *name;
	enum st_family family;
	bool builtin;	    /* has a hook: PREROUTING, OUTPUT, nft base chain */
	char *hook;	    /* "prerouting", "output", ... or NULL */
	int prio;	    /* nft priority; iptables: the table's priority */
	char *policy;	    /* "ACCEPT", "DROP"; NULL for user chains */
	unsigned int first; /* index of its first rule in the ruleset */
	unsigned int nrules;
	uint64_t handle;
};

/**
 * st_ruleset_new() - allocate an empty ruleset.
 *
 * Return: the ruleset, or NULL when out of memory.
 */
struct st_ruleset *st_ruleset_new(void);

/**
 * st_ruleset_free() - release a ruleset and everything it owns.
 * @rs: the ruleset, or NULL
 */
void st_ruleset_free(struct st_ruleset *rs);

/**
 * st_rules_load_file() - read a rule file into @rs, detecting its format.
 * @rs: ruleset to add to (a dual-stack pod is two files: v4 and v6)
 * @path: iptables-save / ip6tables-save text, or nft -j JSON
 * @err: error buffer
 *
 * Return: 0, or a negative errno with @err saying what and where (FILE:LINE).
 */
int st_rules_load_file(struct st_ruleset *rs, const char *path, char *err);

/**
 * st_rules_load_dump() - as st_rules_load_file(), for a dump a user gave:
 * a text file that declares no table (empty, or iptables-nft-save's mere
 * note that iptables-legacy tables exist) is refused with -ENODATA and
 * @err saying what to run instead.
 * @rs: ruleset to add to
 * @path: the dump
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_rules_load_dump(struct st_ruleset *rs, const char *path, char *err);

/**
 * st_rules_load_buf() - as st_rules_load_file() for text already in memory.
 * @rs: ruleset to add to
 * @buf: the text (need not be NUL-terminated)
 * @len: its length
 * @name: name used in error messages
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_rules_load_buf(struct st_ruleset *rs, const char *buf, size_t len,
		      const char *name, char *err);

/** st_ruleset_backend() - the backend the rules were read from. */
enum st_backend st_ruleset_backend(const struct st_ruleset *rs);

/** st_ruleset_nrules() - number of rules, all chains together. */
size_t st_ruleset_nrules(const struct st_ruleset *rs);

/** st_ruleset_rule() - rule @i in table/chain/number order, or NULL. */
const struct st_rule *st_ruleset_rule(const struct st_ruleset *rs, size_t i);

/** st_ruleset_rule_mut() - writable rule @i, for the recogniser. */
struct st_rule *st_ruleset_rule_mut(struct st_ruleset *rs, size_t i);

/** st_ruleset_nchains() - number of chains. */
size_t st_ruleset_nchains(const struct st_ruleset *rs);

/** st_ruleset_chain() - chain @i, or NULL. */
const struct st_chain *st_ruleset_chain(const struct st_ruleset *rs, size_t i);

/**
 * st_ruleset_find_chain() - look a chain up by table, name and family.
 * @rs: the ruleset
 * @table: table name
 * @name: chain name
 * @family: ST_FAMILY_ANY matches any family
 *
 * Return: the chain, or NULL.
 */
const struct st_chain *st_ruleset_find_chain(const struct st_ruleset *rs,
					     const char *table,
					     const char *name,
					     enum st_family family);

/**
 * st_ruleset_find_rule() - the rule at @number in a chain, or NULL.
 */
const struct st_rule *st_ruleset_find_rule(const struct st_ruleset *rs,
					   const char *table, const char *chain,
					   enum st_family family,
					   unsigned int number);

/**
 * st_ruleset_warnings() - notes read from the input that are not rules,
 * e.g. "# Warning: iptables-legacy tables present, use iptables-legacy-save
 * to see them".  NUL-separated list, empty string when none.
 */
const char *st_ruleset_warnings(const struct st_ruleset *rs);

/** st_backend_name() - "iptables-legacy", "iptables-nft", "nftables". */
const char *st_backend_name(enum st_backend b);

/** st_family_name() - "ipv4", "ipv6", or "any" (both). */
const char *st_family_name(enum st_family f);

/** st_role_name() - the kebab-case name of a role, e.g. "proxy-uid-return". */
const char *st_role_name(enum st_role role);

/**
 * st_role_is_ambient() - true for the roles of ztunnel's rules (the
 * ST_ROLE_AMBIENT_* values), in the pod or on the node.
 */
bool st_role_is_ambient(enum st_role role);

/** st_target_name() - "RETURN", "REDIRECT", ... for a target kind. */
const char *st_target_name(enum st_target_kind kind);

/**
 * st_target_is_verdict() - whether a rule with this target ends the
 * chain's traversal: RETURN, or a verdict or NAT/TPROXY target that ends
 * the table's (ACCEPT, DROP, REJECT, REDIRECT, TPROXY, DNAT, SNAT,
 * MASQUERADE).  Jumps, gotos and non-terminating targets (MARK, NFLOG,
 * ...) are not.
 */
bool st_target_is_verdict(enum st_target_kind kind);

/**
 * st_prefix_parse() - parse "10.0.0.0/8", "::6/128", "127.0.0.1" (host).
 * Return: 0, or -EINVAL.
 */
int st_prefix_parse(struct st_prefix *p, const char *s);

/**
 * st_prefix_format() - write "10.0.0.0/8" (host prefixes without the
 * length when @bare_host) into @buf.
 */
void st_prefix_format(const struct st_prefix *p, bool bare_host, char *buf,
		      size_t size);

/** st_prefix_contains() - true when @addr (family, 4 or 16 bytes) is in @p. */
bool st_prefix_contains(const struct st_prefix *p, uint8_t family,
			const uint8_t *addr);

#endif /* ST_RULES_H */
