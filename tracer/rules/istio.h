/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * istio.h - recognising Istio's capture rules: the era, the role of every
 * rule, which rules can never match, and the sidecar settings that the
 * rules imply.  Everything is derived from the rules: no rule number,
 * port or uid is assumed.
 */
#ifndef ST_ISTIO_H
#define ST_ISTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"

#define ST_MAX_IDS 16
#define ST_MAX_LIST 32

/* What kind of interception the rules implement. */
enum st_istio_kind {
	ST_ISTIO_NONE = 0, /* no Istio rules at all */
	ST_ISTIO_SIDECAR,  /* sidecar interception (init container or CNI) */
	ST_ISTIO_AMBIENT,  /* ztunnel in-pod rules: not a sidecar pod */
	ST_ISTIO_UNRECOGNISED, /* Istio-named chains, but not a known form */
};

enum st_istio_mode {
	ST_MODE_REDIRECT = 0,
	ST_MODE_TPROXY,
};

/* The era of the ISTIO_OUTPUT chain (doc/ISTIO-RULES.md). */
enum st_istio_era {
	ST_ERA_UNKNOWN = 0,
	ST_ERA_FIVE_RULE, /* 0.8 - 1.2: lo -> ISTIO_REDIRECT first */
	ST_ERA_SIX_RULE,  /* 1.3 - 1.4: 127.0.0.6, lo -> ISTIO_IN_REDIRECT */
	ST_ERA_NINE_RULE, /* 1.5+: uid/gid triplets */
	ST_ERA_NFTABLES,  /* 1.27+ native nftables */
};

/*
 * What ztunnel's rules imply (kind ST_ISTIO_AMBIENT).  Apart from the
 * sidecar's settings: ztunnel is no proxy the sidecar classifier knows.
 */
struct st_ambient_settings {
	uint16_t outbound_port; /* REDIRECT of the pod's own traffic, 15001 */
	uint16_t inbound_port;	/* plaintext inbound, 15006 */
	uint16_t tunnel_port;	/* HBONE, 15008: reaches ztunnel unredirected */
	bool inbound_captured;	/* not in ingress mode */
	bool dns_capture;
	uint16_t dns_port;  /* 15053 */
	uint32_t mark;	    /* 0x539: ztunnel's own sockets */
	uint32_t mark_mask; /* 0xfff */
	uint32_t connmark;  /* 0x111: connections ztunnel opened into the pod */
	uint32_t connmark_mask;	   /* 0xfff */
	unsigned int nprobe_addrs; /* 169.254.7.127, fd16:9254:7127:1337:... */
	struct st_prefix probe_addrs[4];
	bool probe_snat;	  /* the node's probe SNAT rule is here */
	bool probe_socket_exists; /* it tells kubelet by --socket-exists */
	bool probe_uid_set;	  /* ... or by the kubelet's uid (nft) */
	uint32_t probe_uid;
	unsigned int nvirt_ifaces; /* interfaces treated as outbound */
	char virt_ifaces[ST_MAX_LIST][ST_IFNAMSIZ + 1];
};

struct st_istio_settings {
	enum st_istio_kind kind;
	enum st_backend backend;
	enum st_istio_mode mode;
	enum st_istio_era era;
	unsigned int nproxy_uids;
	uint32_t proxy_uids[ST_MAX_IDS];
	unsigned int nproxy_gids;
	uint32_t proxy_gids[ST_MAX_IDS];
	uint16_t outbound_port; /* ISTIO_REDIRECT --to-ports, 15001 */
	uint16_t inbound_port;	/* ISTIO_IN_REDIRECT / TPROXY port, 15006 */
	bool inbound_captured;	/* some inbound traffic is captured at all */
	bool inbound_all_ports; /* -b '*' (capture all but exclusions) */
	unsigned int ninbound_ports; /* -b list when not '*' */
	uint16_t inbound_ports[ST_MAX_LIST];
	unsigned int ninbound_excluded;
	uint16_t inbound_excluded_ports[ST_MAX_LIST];
	unsigned int noutbound_excluded;
	uint16_t outbound_excluded_ports[ST_MAX_LIST];
	unsigned int noutbound_included;
	uint16_t outbound_included_ports[ST_MAX_LIST];
	unsigned int nexcluded_cidrs;
	struct st_prefix excluded_cidrs[ST_MAX_LIST];
	bool outbound_all_cidrs; /* -i '*' */
	unsigned int nincluded_cidrs;
	struct st_prefix included_cidrs[ST_MAX_LIST];
	bool dns_capture;
	uint16_t dns_port;	   /* 15053 */
	unsigned int ndns_servers; /* empty with capture-all DNS */
	struct st_prefix dns_servers[ST_MAX_LIST];
	bool invalid_drop;
	uint32_t tproxy_mark; /* 1337 in TPROXY mode */
	bool ipv4;
	bool ipv6;
	struct st_ambient_settings amb; /* kind ST_ISTIO_AMBIENT only */
	/*
	 * A list above (ids, ports, CIDRs) had more entries than it holds:
	 * the per-rule roles are complete, the summary lists are not.
	 */
	bool truncated;
	/* A human sentence when the input holds no rules, or is not a sidecar. */
	char note[256];
};

/**
 * st_istio_analyze() - recognise Istio in @rs: set every rule's role and
 * reachability (with a reason in rule->why), and derive the settings.
 * @rs: the parsed rules
 * @out: the settings
 * @err: error buffer
 *
 * A ruleset with no Istio rules is not an error: @out->kind says so and
 * @out->note explains (e.g. which backend to read instead).
 *
 * Return: 0, or a negative errno.
 */
int st_istio_analyze(struct st_ruleset *rs, struct st_istio_settings *out,
		     char *err);

/** st_istio_kind_name() - "sidecar", "ambient", "none", "unrecognised". */
const char *st_istio_kind_name(enum st_istio_kind k);

/** st_istio_mode_name() - "REDIRECT" or "TPROXY". */
const char *st_istio_mode_name(enum st_istio_mode m);

/** st_istio_era_name() - e.g. "1.5+ nine-rule uid/gid". */
const char *st_istio_era_name(enum st_istio_era e);

/**
 * st_istio_is_istio_chain() - true for chains Istio creates (ISTIO_*,
 * nft istio-*), the ones sidecar-trace instruments and explains.
 */
bool st_istio_is_istio_chain(const char *name);

#endif /* ST_ISTIO_H */
