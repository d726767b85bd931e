// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * filter.c - pcap-filter(7) expressions on NFLOG records: compiled once by
 * libpcap, run with pcap_offline_filter() on each record's IP payload.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define ST_FILTER_MASK (ST_FILTER_RING - 1)

struct st_filter {
	char *expr;
	struct bpf_program prog;
	bool compiled;
	struct st_filter_stats stats;
	/*
	 * Verdicts by sequence number: (seq << 1 | matched) + 2, so that 0
	 * is "never written" and seq 0 is still representable.
	 */
	uint64_t ring[ST_FILTER_RING];
};

int st_filter_new(struct st_filter **out, const char *expr, char *err)
{
	struct st_filter *f = NULL;
	pcap_t *p = NULL;
	int ret;

	*out = NULL;
	if (expr == NULL)
		expr = "";
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->expr = strdup(expr)) == NULL) {
		ret = st_err(err, ENOMEM, "out of memory");
		goto out;
	}
	/* DLT_RAW: records carry bare IPv4 or IPv6 packets, no link header. */
	p = pcap_open_dead(DLT_RAW, ST_REC_SNAPLEN);
	if (p == NULL) {
		ret = st_err(err, ENOMEM, "pcap_open_dead failed");
		goto out;
	}
	if (pcap_compile(p, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		ret = st_err(err, EINVAL, "bad filter expression '%s': %s",
			     expr, pcap_geterr(p));
		goto out;
	}
	f->compiled = true;
	*out = f;
	f = NULL;
	ret = 0;
out:
	if (p != NULL)
		pcap_close(p);
	st_filter_free(f);
	return ret;
}

void st_filter_free(struct st_filter *f)
{
	if (f == NULL)
		return;
	if (f->compiled)
		pcap_freecode(&f->prog);
	free(f->expr);
	free(f);
}

const char *st_filter_expr(const struct st_filter *f)
{
	return f != NULL ? f->expr : "";
}

bool st_filter_match(const struct st_filter *f, const uint8_t *pkt,
		     uint32_t caplen, uint32_t len)
{
	struct pcap_pkthdr h;

	if (f == NULL)
		return true;
	if (pkt == NULL || caplen == 0)
		return false;
	memset(&h, 0, sizeof(h));
	h.caplen = caplen;
	h.len = len < caplen ? caplen : len;
	return pcap_offline_filter(&f->prog, &h, pkt) != 0;
}

bool st_filter_match_rec(const struct st_filter *f, const struct st_rec *rec)
{
	uint32_t caplen;

	if (f == NULL)
		return true;
	if (rec->family != 4 && rec->family != 6)
		return false;
	caplen = rec->caplen < sizeof(rec->payload) ? rec->caplen
						    : sizeof(rec->payload);
	return st_filter_match(f, rec->payload, caplen, rec->payload_len);
}

/* The records a leg can start with (flow.h): all but non-SYN TCP. */
static bool st_filter_may_start_leg(const struct st_rec *rec)
{
	if (rec->family != 4 && rec->family != 6)
		return false;
	return !rec->l4_ok || st_rec_may_start_leg(rec);
}

void st_filter_note(struct st_filter *f, const struct st_rec *rec)
{
	bool m;

	if (f == NULL || !st_filter_may_start_leg(rec))
		return;
	m = st_filter_match_rec(f, rec);
	f->stats.evaluated++;
	if (m)
		f->stats.matched++;
	f->ring[rec->seq & ST_FILTER_MASK] = ((rec->seq << 1) | m) + 2;
}

bool st_filter_flow(struct st_filter *f, const struct st_flow *flow)
{
	if (f == NULL)
		return true;
	for (unsigned int i = 0; i < flow->nlegs && i < ST_FLOW_MAX_LEGS; i++) {
		uint64_t seq = flow->legs[i].seq;
		uint64_t v = f->ring[seq & ST_FILTER_MASK];

		if (v < 2 || (v - 2) >> 1 != seq) {
			f->stats.unknown++;
			continue;
		}
		if ((v - 2) & 1) {
			f->stats.selected++;
			return true;
		}
	}
	f->stats.rejected++;
	return false;
}

void st_filter_stats(const struct st_filter *f, struct st_filter_stats *st)
{
	if (f == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = f->stats;
}
