/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plaincap.h - replay of ordinary packet captures (no NFLOG records): a
 * `tcpdump -i any -w FILE` taken inside the pod's network namespace, or
 * an Ethernet / raw IP / loopback capture.  The rules cannot be seen in
 * such a file, so each connection's first packet is run through the
 * evaluator (eval.h) with what the packets show, and the result is
 * classified as a live trace would be.
 *
 * Link types: DLT_EN10MB (with 802.1Q / 802.1ad tags), DLT_LINUX_SLL and
 * DLT_LINUX_SLL2 (`-i any`; SLL2 adds the interface index), DLT_RAW,
 * DLT_IPV4, DLT_IPV6, DLT_NULL and DLT_LOOP.  Every header is read through
 * bounds checks; a packet that is cut short or not IP is a counted skip.
 *
 * What the packets show, as measured in the lab (kernel 6.18):
 *  - tcpdump sees a packet at the device, i.e. after nat OUTPUT: an app's
 *    redirected SYN appears on lo as POD:PORT > 127.0.0.1:15001 (an
 *    outbound capture), the proxy's hairpin to its own pod IP as
 *    POD:PORT > 127.0.0.1:15006; the original destination is NOT in the
 *    SYN.  It is in the reply, though: conntrack undoes the REDIRECT on
 *    the SYN-ACK (or RST) before lo's tap sees it, so its source is the
 *    original destination (a service VIP included).  When no reply was
 *    captured, the destination of the proxy's next upstream connection is
 *    used (a VIP then stays unknown), else the flow is incomplete.
 *  - Arriving packets are seen before PREROUTING: their destination is
 *    the original one; whether they were redirected is the evaluator's
 *    prediction, checked against the 127.0.0.6 leg that should follow.
 *  - The owner (uid) is never in the file.  It is inferred: the proxy for
 *    a connection from 127.0.0.6 / ::6 and for the upstream connection of
 *    a redirected one; otherwise the evaluator is asked for both the app
 *    and the proxy uid and the one whose predicted capture (redirected to
 *    15001 / 15006 / the DNS port, or not) matches what the capture shows
 *    is taken.  When both match and the destination is a sidecar port on
 *    loopback or an istiod port the proxy is taken, else the owner is
 *    "unknown" and the app uid is used.  Every inference becomes a note
 *    of the flow ("inferred" in JSON, "inferred:" lines in text), said with the flow
 *    to the sinks (sink.h).
 *  - Interface names are not in the file (SLL2 has indexes of the pod's
 *    namespace; tcpdump prints the reader's names): index 1 / ARPHRD
 *    loopback is lo, any other device is the pod's interface (eth0).
 *  - The pod's addresses: those of the capture's outgoing packets and of
 *    loopback traffic, the most frequent per family (or given).
 *
 * Connections are grouped by a TCP SYN without ACK or the first UDP
 * datagram of a 4-tuple (a datagram of the reverse 4-tuple is a reply);
 * retransmissions and the second copy of a loopback packet are not new
 * connections.  The file is read in one pass into a table allocated at
 * the start (ST_PLAINCAP_MAX_CONNS connections; more are counted skips),
 * then the flows are built in the order their first packets came.
 */
#ifndef ST_PLAINCAP_H
#define ST_PLAINCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "eval.h"
#include "filter.h"
#include "sink.h"

#define ST_PLAINCAP_MAX_CONNS 65536
#define ST_PLAINCAP_MAX_RULES 4

/* Why a packet was skipped. */
enum st_plaincap_skip {
	ST_PLAINCAP_SKIP_LINK = 0,  /* link header cut short or bogus */
	ST_PLAINCAP_SKIP_NOT_IP,    /* another ethertype / family */
	ST_PLAINCAP_SKIP_L3,	    /* bad IP/TCP/UDP header */
	ST_PLAINCAP_SKIP_PROTO,	    /* neither TCP nor UDP */
	ST_PLAINCAP_SKIP_OTHERHOST, /* not to or from the pod */
	ST_PLAINCAP_SKIP_FULL,	    /* the connection table was full */
	ST_PLAINCAP_SKIP_MAX,
};

struct st_plaincap_opts {
	const char *capture;			  /* the file */
	const char *rules[ST_PLAINCAP_MAX_RULES]; /* the pod's (required) */
	unsigned int nrules;
	uint64_t count;		  /* stop after this many flows; 0: none */
	struct st_filter *filter; /* NULL: all flows */
	/* Where the flows (with their notes) and the summary go. */
	struct st_sink sinks[ST_SINKS_MAX];
	unsigned int nsinks;
	FILE *diag; /* notes, or NULL */
	bool has_app_uid;
	uint32_t app_uid; /* the uid a connection of the app gets; 1000 */
	uint32_t app_gid; /* with has_app_uid; else 1000 */
	/* The pod's addresses; none: inferred from the capture. */
	unsigned int npod_ips;
	struct st_prefix pod_ips[ST_EVAL_MAX_ADDRS];
};

struct st_plaincap_result {
	uint64_t packets;    /* read from the file */
	uint64_t conns;	     /* connections found */
	uint64_t written;    /* flows written */
	uint64_t duplicates; /* repeated first packets (lo copies, retries) */
	uint64_t skipped;    /* the sum of skipped_by[] */
	uint64_t skipped_by[ST_PLAINCAP_SKIP_MAX];
	int linktype; /* DLT_* */
	bool count_done;
	struct st_flow_stats flows; /* as in the summary */
	int out_errno;
};

/**
 * st_plaincap_probe() - is @path a capture of a link type this module
 * reads (and not LINKTYPE_NFLOG)?
 * @path: the file ("-" is never probed: standard input is NFLOG-only)
 * @err: error buffer
 *
 * Return: 1 yes, 0 no (NFLOG, another link type, or not readable: the
 * NFLOG reader reports those), never negative.
 */
int st_plaincap_probe(const char *path, char *err);

/**
 * st_plaincap_linktype_ok() - is DLT value @dlt one this module reads?
 */
bool st_plaincap_linktype_ok(int dlt);

/*
 * One packet's link layer decoded: where the IP header starts, and what
 * the link header says about the device and the direction.
 */
struct st_plaincap_link {
	size_t l3off;	  /* offset of the IP header */
	int lo;		  /* 1 loopback, 0 another device, -1 unknown */
	int outgoing;	  /* 1 sent by this host, 0 received, -1 unknown */
	bool otherhost;	  /* SLL: broadcast/multicast/another host's */
	uint32_t ifindex; /* SLL2; 0 unknown */
};

/**
 * st_plaincap_link_decode() - decode the link header of one packet.
 * @dlt: the capture's link type
 * @buf: the packet
 * @len: bytes in @buf
 * @out: result
 *
 * Return: 0; -EBADMSG when the header is cut short or bogus;
 * -EPROTONOSUPPORT when the packet is not IPv4/IPv6 (another ethertype,
 * a NULL family that is not an IP one).
 */
int st_plaincap_link_decode(int dlt, const uint8_t *buf, size_t len,
			    struct st_plaincap_link *out);

/**
 * st_plaincap_run() - replay an ordinary capture.
 * @o: capture, rules (required), filter, count, sinks, notes, app uid,
 *	pod addresses
 * @res: what happened (filled in on every path)
 * @err: error buffer
 *
 * Return: 0; -ENOENT without rules; a negative errno when the rules or
 * the capture cannot be read, when the file is cut short (-EIO, after
 * the flows found before the cut and the summary) or when writing failed
 * (@res->out_errno).
 */
int st_plaincap_run(const struct st_plaincap_opts *o,
		    struct st_plaincap_result *res, char *err);

/** st_plaincap_skip_name() - "link", "not-ip", "l3", ... */
const char *st_plaincap_skip_name(enum st_plaincap_skip why);

#endif /* ST_PLAINCAP_H */
