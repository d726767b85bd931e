/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * record.h - one hit record: a packet seen by an NFLOG rule, decoded.
 *
 * Both capture sources (live NFLOG through libnetfilter_log, and pcap
 * replay of LINKTYPE_NFLOG) emit these; flow assembly consumes them.
 * A record is a plain value with fixed-size fields so that sources can
 * fill one in place without allocating.
 */
#ifndef ST_RECORD_H
#define ST_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common.h"

/* What the hit says about the rule walk. */
enum st_hit_kind {
	ST_HIT_NONE = 0, /* no sidecar-trace tag in the prefix */
	ST_HIT_RULE,	 /* the packet matched original rule N */
	ST_HIT_ENTER,	 /* the packet entered the chain */
	ST_HIT_POLICY,	 /* fell off a built-in chain: its policy (rule 0) */
	ST_HIT_RETURN,	 /* fell off the end of a user chain */
};

#define ST_TABLE_NAMSIZ 32
#define ST_CHAIN_NAMSIZ 32
#define ST_NFLOG_PREFIX_SIZE 64 /* xt_NFLOG: 63 chars + NUL */

/* A decoded tag: which rule of which chain a record stands for. */
struct st_hit {
	enum st_hit_kind kind;
	char table[ST_TABLE_NAMSIZ]; /* "nat"; nft: "istio-proxy-nat" */
	char chain[ST_CHAIN_NAMSIZ];
	unsigned int rule; /* original rule number; 0 = policy */
	uint8_t family;	   /* 4 / 6, or 0 when the tag does not say */
	uint32_t session;  /* the tracing session's id; 0 for TRACE */
	bool trace;	   /* parsed from a kernel TRACE prefix */
	/*
	 * Inserted by minimal instrumentation (its kind letter upper case):
	 * records that logplan.h leaves out are filled in from the rules.
	 */
	bool minimal;
	/*
	 * The tag's number in the st_tagcache that decoded it, and that
	 * cache's own number (@id_space, never reused in a process); 0 when
	 * none did: the flow table finds its chain by the number.
	 */
	uint32_t id;
	uint32_t id_space;
};

#define ST_REC_SNAPLEN 128 /* enough for IPv6 + extension + TCP headers */

struct st_rec {
	uint64_t seq;	    /* arrival order within the source */
	struct timespec ts; /* kernel timestamp when given, else reader clock */
	bool ts_kernel;
	uint16_t group;
	uint8_t family; /* 4 or 6; 0 when the payload is not IP */
	uint8_t hook;	/* NF_INET_* from NFULA_PACKET_HDR; 0xff unknown */
	char prefix[ST_NFLOG_PREFIX_SIZE];
	struct st_hit hit;
	bool has_uid;
	bool has_gid;
	uint32_t uid;
	uint32_t gid;
	uint32_t mark;
	uint32_t indev; /* ifindex in the target's netns, 0 = none */
	uint32_t outdev;
	char indev_name[16];
	char outdev_name[16];
	/* Layer 3/4, decoded from the payload with bounds checks. */
	bool l4_ok;    /* ports and flags below are valid */
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;    /* SYN 0x02, ACK 0x10, ... */
	uint32_t payload_len; /* length the kernel reported */
	uint32_t caplen;      /* bytes kept in .payload */
	uint8_t payload[ST_REC_SNAPLEN];
};

/**
 * st_rec_decode_l3() - fill family, proto, addresses, ports and flags of
 * @rec from its payload (an IPv4 or IPv6 packet), with bounds checks.
 * @rec: record whose payload/caplen are set
 *
 * Return: 0, or -EINVAL when the headers are truncated or bogus (the
 * record is then kept without l4_ok).
 */
int st_rec_decode_l3(struct st_rec *rec);

/**
 * st_tag_format() - write the NFLOG prefix that sidecar-trace inserts.
 * @buf: ST_NFLOG_PREFIX_SIZE bytes
 * @hit: what the rule stands for (kind, table, chain, rule, session)
 *
 * Return: 0, or -ENAMETOOLONG when it would not fit in 63 characters.
 */
int st_tag_format(char *buf, const struct st_hit *hit);

/**
 * st_tag_parse() - decode a prefix: sidecar-trace's own tags and the
 * kernel TRACE target's "TRACE: nat:ISTIO_OUTPUT:rule:9" form.
 * @prefix: the NFLOG prefix
 * @hit: result; kind ST_HIT_NONE when the prefix is neither
 *
 * Return: 0 (including for a foreign prefix), or -EINVAL for a prefix
 * that claims to be a tag but is malformed.
 */
int st_tag_parse(const char *prefix, struct st_hit *hit);

/*
 * A reader's cache of decoded tags: a capture or a live trace logs a few
 * dozen distinct prefixes, each decoded once and numbered (st_hit.id).
 */
struct st_tagcache;

/** st_tagcache_new() - an empty cache, or NULL when out of memory. */
struct st_tagcache *st_tagcache_new(void);

/** st_tagcache_free() - release a cache; accepts NULL. */
void st_tagcache_free(struct st_tagcache *c);

/**
 * st_tagcache_parse() - st_tag_parse() through the cache @c (NULL: none);
 * a prefix decoded before is copied, with its number.  Return: as
 * st_tag_parse().
 */
int st_tagcache_parse(struct st_tagcache *c, const char *prefix,
		      struct st_hit *hit);

/**
 * st_rec_is_bare_syn() - a TCP SYN without ACK: the first packet of a
 * connection, the only TCP packet that starts a leg.
 */
bool st_rec_is_bare_syn(const struct st_rec *rec);

/**
 * st_rec_may_start_leg() - whether @rec can be a leg's first record: any
 * non-TCP packet, and a bare SYN (replies and mid-stream packets cannot).
 */
bool st_rec_may_start_leg(const struct st_rec *rec);

/*
 * NFULA_SEQ accounting: the kernel numbers a group's records in 32 bits;
 * a jump is records lost, and the count goes on in 64 bits across a wrap.
 */
struct st_rec_seq {
	bool from_zero; /* the first number due is 0 (a fresh NFLOG bind) */
	bool seen;
	uint32_t next;
	uint64_t seq64;
};

/**
 * st_rec_seq_next() - account one record's NFULA_SEQ @seq.
 * @s: the state, zeroed at the start (from_zero set for a live bind)
 * @seq: the record's number
 * @missing: set to the numbers skipped since the one due (0 when none, or
 *	when @seq went backwards)
 *
 * Return: the record's sequence number in 64 bits.
 */
uint64_t st_rec_seq_next(struct st_rec_seq *s, uint32_t seq, uint32_t *missing);

#endif /* ST_RECORD_H */
