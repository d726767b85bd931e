/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * filter.h - the optional pcap-filter(7) expression that selects flows.
 *
 * The expression is compiled by libpcap on a pcap_open_dead(DLT_RAW)
 * handle, so it runs on bare IP packets (LINKTYPE_RAW: IPv4 and IPv6 by
 * the version nibble), which is what an NFLOG record carries.  libpcap's
 * own limits apply: "tcp[13]"-style byte offsets and tcp[tcpflags] only
 * match IPv4 packets.
 *
 * Flows are selected by their first packets.  While records arrive,
 * st_filter_note() runs the program on every record that may be the first
 * record of a leg (a bare TCP SYN, any UDP or other datagram) and keeps
 * the verdict in a ring indexed by the record's sequence number; a flow
 * is selected (st_filter_flow()) when the first record of any of its legs
 * matched.  The ring is allocated once: noting a record costs one filter
 * run and allocates nothing.  A leg older than the ring (ST_FILTER_RING
 * records ago) has no verdict left and does not count as matched (counted
 * in st_filter_stats.unknown).
 */
#ifndef ST_FILTER_H
#define ST_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "flow.h"
#include "record.h"

#define ST_FILTER_RING 65536u /* verdicts kept; a power of two */

struct st_filter;

struct st_filter_stats {
	uint64_t evaluated; /* records the program ran on */
	uint64_t matched;   /* of which matched */
	uint64_t selected;  /* flows st_filter_flow() selected */
	uint64_t rejected;  /* flows it did not */
	uint64_t unknown;   /* legs whose verdict had left the ring */
};

/**
 * st_filter_new() - compile a pcap-filter(7) expression.
 * @out: receives the filter
 * @expr: the expression, e.g. "tcp and port 9080"
 * @err: error buffer; on a compile error it quotes the expression and
 *	libpcap's message
 *
 * Return: 0, -EINVAL when the expression does not compile, -ENOMEM.
 */
int st_filter_new(struct st_filter **out, const char *expr, char *err);

/** st_filter_free() - release a filter; accepts NULL. */
void st_filter_free(struct st_filter *f);

/** st_filter_expr() - the expression as given ("" for NULL). */
const char *st_filter_expr(const struct st_filter *f);

/**
 * st_filter_match() - run the program on one IP packet.
 * @f: the filter; NULL matches everything
 * @pkt: the packet, starting with its IP header
 * @caplen: bytes present at @pkt
 * @len: the packet's length on the wire (>= @caplen)
 *
 * Return: true when the packet matches.
 */
bool st_filter_match(const struct st_filter *f, const uint8_t *pkt,
		     uint32_t caplen, uint32_t len);

/**
 * st_filter_match_rec() - st_filter_match() on a record's payload; a record
 * without an IP payload never matches a filter.
 */
bool st_filter_match_rec(const struct st_filter *f, const struct st_rec *rec);

/**
 * st_filter_note() - remember the verdict for @rec when it may start a leg.
 * @f: the filter, or NULL (nothing to do)
 * @rec: a record, in arrival order
 */
void st_filter_note(struct st_filter *f, const struct st_rec *rec);

/**
 * st_filter_flow() - is @flow selected: did the first packet of any of its
 * legs match?  NULL selects every flow.
 */
bool st_filter_flow(struct st_filter *f, const struct st_flow *flow);

/** st_filter_stats() - counters so far (zeroes for NULL). */
void st_filter_stats(const struct st_filter *f, struct st_filter_stats *st);

#endif /* ST_FILTER_H */
