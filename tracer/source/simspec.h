/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * simspec.h - the packet of `--simulate 'SPEC'`.
 *
 * Grammar (words separated by blanks; keywords are lower case):
 *
 *   SPEC     := PROTO ENDPOINT ">" ENDPOINT OPTION*
 *   PROTO    := "tcp" | "udp" | "sctp"
 *   ENDPOINT := IPV4 ":" PORT | "[" IPV6 "]" ":" PORT     (PORT 1-65535)
 *   OPTION   := "uid" ID | "gid" ID       the sending socket's owner
 *             | "mark" NUM                skb mark at the first hook
 *             | "out" IFNAME              sent by the pod, leaving via IFNAME
 *             | "in" IFNAME               arriving from outside on IFNAME
 *   ID, NUM  := decimal, or 0x-prefixed hex (32 bits)
 *
 * Direction: the packet is the pod's own (OUTPUT hook first) when a uid,
 * a gid or "out" is given; it arrives (PREROUTING first) with "in".  One of
 * them is required; "in" excludes the others (an arriving packet has no
 * socket).  "out IF" without uid/gid is a packet without a socket (a
 * kernel-made reset, an ICMP error).  With only a uid the gid is the uid,
 * and vice versa.  Both endpoints have the same family.
 *
 * Examples:
 *   tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000
 *   udp [fd00::5]:5353 > [fd00::10]:53 uid 1000 gid 1000
 *   tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0
 *   tcp 10.244.1.10:43210 > 10.96.0.30:9081 uid 1000 mark 0x539
 */
#ifndef ST_SIMSPEC_H
#define ST_SIMSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

struct st_simspec {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	bool outgoing; /* the pod sends it; else it arrives */
	bool has_uid;
	bool has_gid;
	uint32_t uid;
	uint32_t gid;
	bool has_mark;
	uint32_t mark;
	char iif[ST_IFNAMSIZ + 1]; /* "in IF"; "" otherwise */
	char oif[ST_IFNAMSIZ + 1]; /* "out IF"; "" = as routing decides */
};

/**
 * st_simspec_parse() - parse a --simulate SPEC.
 * @s: the text
 * @out: the packet
 * @err: error buffer; messages name the 1-based column, e.g.
 *       "simulate spec, column 5: bad address '10.0.0:80'"
 *
 * Return: 0, or -EINVAL.
 */
int st_simspec_parse(const char *s, struct st_simspec *out, char *err);

/**
 * st_simspec_format() - the canonical text of @spec (the grammar above),
 * e.g. "tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000 gid 1000".
 */
void st_simspec_format(const struct st_simspec *spec, char *buf, size_t size);

#endif /* ST_SIMSPEC_H */
