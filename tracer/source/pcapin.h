/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcapin.h - the offline capture source: LINKTYPE_NFLOG (DLT_NFLOG, 239)
 * records from a pcap or pcapng file, read with libpcap and handed out as
 * the same struct st_rec the live collector (nflog.h) emits.
 *
 * Files come from `sidecar-trace --write` (pcapout.h) or from
 * `tcpdump -i nflog:N -w FILE` taken inside the pod's namespace, with
 * sidecar-trace's own prefixes or the kernel TRACE target's.
 *
 * What is fatal and what is counted:
 *  - The file cannot be opened, is empty (0 bytes), is not a capture, or
 *    has another link type: the open fails (another link type is
 *    -EPROTONOSUPPORT and the message names it).
 *  - The file ends inside a record header or body (a cut copy, a killed
 *    writer): st_pcapin_read() delivers every complete record before the
 *    cut and then fails with -EIO, "FILE: truncated after record N"; the
 *    same for any other error libpcap reports in the middle of the file
 *    (-EBADMSG), since the rest cannot be found again.
 *  - A record the capture's own snap length cut short (pcap caplen < len,
 *    e.g. tcpdump -s 96) is counted in @snapped. It is used when only the
 *    payload, the last TLV, was cut: the packet bytes that were kept are
 *    all we need (ST_REC_SNAPLEN). When another TLV was cut it is skipped.
 *  - A malformed record (see enum st_pcapin_skip) is skipped and counted
 *    by reason; the first such message is kept with its record number.
 *    Nothing inside one record can stop the walk over the file.
 */
#ifndef ST_PCAPIN_H
#define ST_PCAPIN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "record.h"

/* Interface names st_pcapin_set_ifname() can hold. */
#define ST_PCAPIN_MAX_IFNAMES 64

struct st_pcapin;

/* Why a record was skipped. */
enum st_pcapin_skip {
	ST_PCAPIN_SKIP_SHORT = 0, /* shorter than the 4-byte NFLOG header */
	ST_PCAPIN_SKIP_VERSION,	  /* NFLOG header version is not 0 */
	ST_PCAPIN_SKIP_TLV,	  /* a TLV length < 4 or past the record end */
	ST_PCAPIN_SKIP_ATTR,	  /* a TLV we use has the wrong size/value */
	ST_PCAPIN_SKIP_PREFIX,	  /* the prefix has no NUL inside its TLV */
	ST_PCAPIN_SKIP_NOPAYLOAD, /* no packet bytes (NFULA_PAYLOAD) */
	ST_PCAPIN_SKIP_FAMILY,	  /* not AF_INET/AF_INET6, or not matching */
	ST_PCAPIN_SKIP_L3,	  /* a bogus IP header (st_rec_decode_l3) */
	ST_PCAPIN_SKIP_MAX,
};

struct st_pcapin_stats {
	uint64_t records;   /* records read from the file */
	uint64_t delivered; /* handed to the callback */
	uint64_t skipped;   /* the sum of skipped_by[] */
	uint64_t skipped_by[ST_PCAPIN_SKIP_MAX];
	uint64_t snapped;  /* cut by the capture's snap length (see above) */
	uint64_t bad_tags; /* "st:" prefixes st_tag_parse() rejected;
			     * delivered with hit.kind ST_HIT_NONE */
	uint64_t seq_gaps; /* jumps in NFULA_SEQ (records lost when the
			     * capture was made) */
	uint64_t seq_missing;
	uint64_t first_skip_record; /* 1-based; 0 when nothing was skipped */
	char first_skip[ST_ERRBUF_SIZE]; /* "record N: why" */
};

/**
 * st_pcapin_open() - open a pcap/pcapng capture of NFLOG records.
 * @out: receives the handle
 * @path: the file; "-" reads standard input
 * @err: error buffer
 *
 * Timestamps are read with nanosecond precision.
 *
 * Return: 0; -EPROTONOSUPPORT when the link type is not NFLOG (the message
 * names it: Ethernet or cooked captures are not supported yet); -EINVAL
 * for an empty file or one libpcap does not recognise; -errno when the
 * file cannot be opened.
 */
int st_pcapin_open(struct st_pcapin **out, const char *path, char *err);

/**
 * st_pcapin_set_ifname() - name an interface index, for records read later
 * (the capture holds indexes only; --write keeps names in its meta file).
 * @p: handle
 * @index: ifindex in the captured namespace (not 0)
 * @name: its name
 * @err: error buffer
 *
 * Return: 0, -EINVAL, or -ENOSPC beyond ST_PCAPIN_MAX_IFNAMES names.
 */
int st_pcapin_set_ifname(struct st_pcapin *p, uint32_t index, const char *name,
			 char *err);

/**
 * st_pcapin_read() - read the records up to the end of the file.
 * @p: handle
 * @cb: called once per good record; returns ST_CB_OK to go on, ST_CB_STOP
 *	to stop after this record, ST_CB_ERROR to fail. @rec is reused for
 *	the next record: copy what must outlive the call.
 * @data: passed to @cb
 * @err: error buffer
 *
 * One struct st_rec is reused; nothing is allocated per record. rec->seq
 * is the kernel's NFULA_SEQ (extended to 64 bits) when the records carry
 * it, else the record's 0-based position in the file. rec->ts is
 * NFULA_TIMESTAMP (ts_kernel) when present, else the pcap record time.
 *
 * Return: 0 at the end of the file; 1 after @cb returned ST_CB_STOP (call
 * again to continue with the next record); -ECANCELED when @cb returned
 * ST_CB_ERROR; -EIO for a truncated file or a read error, -EBADMSG for
 * another format error libpcap found, with "FILE: ..." in @err (the same
 * error again on later calls).
 */
int st_pcapin_read(struct st_pcapin *p,
		   int (*cb)(const struct st_rec *rec, void *data), void *data,
		   char *err);

/** st_pcapin_stats() - counters so far; see struct st_pcapin_stats. */
void st_pcapin_stats(const struct st_pcapin *p, struct st_pcapin_stats *st);

/**
 * st_pcapin_seq_missing() - the records lost when the capture was made
 * (stats.seq_missing), without copying the counters: read per record.
 */
uint64_t st_pcapin_seq_missing(const struct st_pcapin *p);

/** st_pcapin_records() - records read so far (stats.records). */
uint64_t st_pcapin_records(const struct st_pcapin *p);

/** st_pcapin_skip_name() - a short name for a skip reason ("tlv"...). */
const char *st_pcapin_skip_name(enum st_pcapin_skip why);

/** st_pcapin_close() - close the file and free the handle; accepts NULL. */
void st_pcapin_close(struct st_pcapin *p);

/**
 * st_pcapin_decode() - decode one LINKTYPE_NFLOG record, as it is after
 * libpcap (TLV length and type in host order, values big-endian).
 * @buf: the record
 * @len: its length
 * @rec: filled in; seq is NFULA_SEQ as sent (0 without it), ts is zero
 *	unless NFULA_TIMESTAMP is there
 * @err: error buffer: why the record is bad
 *
 * This is the decoder st_pcapin_read() uses (and the fuzz target's entry).
 *
 * Return: 0, or a negative errno (-EBADMSG, -EPROTO, -EAFNOSUPPORT,
 * -ENODATA or -EINVAL) for a record that would be skipped.
 */
int st_pcapin_decode(const uint8_t *buf, size_t len, struct st_rec *rec,
		     char *err);

/**
 * st_pcapin_decode_snapped() - st_pcapin_decode() for a record that the
 * capture's snap length may have cut: @caplen bytes kept of @len.
 * @buf: the record
 * @caplen: bytes in @buf
 * @len: the record's length before it was cut (>= @caplen)
 * @rec: filled in
 * @why: receives the skip reason when the record is bad (may be NULL)
 * @err: error buffer
 *
 * Return: as st_pcapin_decode().
 */
int st_pcapin_decode_snapped(const uint8_t *buf, size_t caplen, size_t len,
			     struct st_rec *rec, enum st_pcapin_skip *why,
			     char *err);

#endif /* ST_PCAPIN_H */
