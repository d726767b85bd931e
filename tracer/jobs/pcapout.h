/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcapout.h - the capture writer behind --write: struct st_rec records as
 * a LINKTYPE_NFLOG pcap (nanosecond timestamps) through libpcap, with the
 * TLVs the kernel sends, so that tcpdump, tshark and st_pcapin read it
 * like a `tcpdump -i nflog:N -w` capture.
 *
 * One record is: PACKET_HDR (when the hook is known), PREFIX (with its
 * NUL, always), IFINDEX_INDEV / IFINDEX_OUTDEV (when set), MARK (when not
 * 0, as the kernel), TIMESTAMP (when the kernel gave one: ts_kernel), UID,
 * GID (when present), SEQ (rec->seq, low 32 bits), PAYLOAD. The pcap
 * record time is rec->ts.
 *
 * The payload is what we kept: rec->caplen bytes, in a PAYLOAD TLV of
 * exactly that length, and the pcap record is whole (caplen == len): pcap
 * caplen is what was kept, and tcpdump and tshark decode the packet head.
 * A payload_len above caplen (a full-packet tcpdump capture replayed and
 * written again) is not kept: a record marked as cut (pcap len > caplen)
 * makes tshark stop at "NFLOG truncated" and decode no IP at all, and the
 * IP header's own length field still says how long the packet was. Live
 * records never differ: the kernel copies ST_REC_SNAPLEN bytes and reports
 * that many.
 *
 * How the rules travel with the capture: files beside it, not
 * pcapng blocks, so that they can be read, diffed and replaced with plain
 * tools (`--rules` overrides them):
 *	FILE.rules      iptables-save text (IPv4), or `nft -j list ruleset`
 *	                JSON: exactly the text that was traced
 *	FILE.rules6     ip6tables-save text, for a dual-stack iptables pod
 *	FILE.meta.json  backend, session, group, netns, pod, start and end
 *	                time, records written, the rule files above, and the
 *	                names of the interfaces the records mention (a capture
 *	                holds indexes only; up to ST_PCAPOUT_MAX_IFS); its
 *	                "rules" list names the side files by extension
 * A missing side file is not an error for a reader (tcpdump captures have
 * none). st_pcapout_read_meta() reads FILE.meta.json back.
 *
 * No file is ever written through a symlink: the capture and the side
 * files are created with O_CREAT|O_EXCL|O_NOFOLLOW (an existing file is
 * refused), or with O_TRUNC|O_NOFOLLOW under ST_PCAPOUT_OVERWRITE; the meta
 * file is replaced by rename() of a fresh temporary file.
 */
#ifndef ST_PCAPOUT_H
#define ST_PCAPOUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "record.h"

/* The snap length in the file header: any NFLOG record we write fits. */
#define ST_PCAPOUT_SNAPLEN 65535
/* Replace an existing file (never through a symlink). */
#define ST_PCAPOUT_OVERWRITE 0x1u

#define ST_PCAPOUT_MAX_IFS 64
#define ST_PCAPOUT_MAX_RULES 2

struct st_pcapout;

struct st_pcapout_ifname {
	uint32_t index;
	char name[16];
};

/* The contents of FILE.meta.json. Strings are "" when unknown. */
struct st_pcapout_meta {
	char backend[32]; /* st_backend_name(): "iptables-legacy"... */
	uint32_t session; /* the tag's session id */
	uint16_t group;	  /* NFLOG group */
	char netns[256];  /* the namespace as given: path or name */
	char pod[320];	  /* "namespace/name" */
	struct timespec start;
	/* Filled by the writer: */
	struct timespec end; /* when the capture was closed; 0 until then */
	uint64_t records;    /* records written */
	char rules[ST_PCAPOUT_MAX_RULES][16]; /* side files: "rules"... */
	size_t nrules;
	struct st_pcapout_ifname ifs[ST_PCAPOUT_MAX_IFS];
	size_t nifs;
};

/**
 * st_pcapout_open() - create a LINKTYPE_NFLOG pcap file.
 * @out: receives the handle
 * @path: the file
 * @flags: 0, or ST_PCAPOUT_OVERWRITE
 * @err: error buffer
 *
 * The file header is written and flushed at once, so that a full disk or
 * an unwritable device fails here.
 *
 * Return: 0; -EEXIST when the file exists (without ST_PCAPOUT_OVERWRITE),
 * -ELOOP when @path is a symlink, -ENOSPC and other negative errnos.
 */
int st_pcapout_open(struct st_pcapout **out, const char *path,
		    unsigned int flags, char *err);

/**
 * st_pcapout_write() - append one record.
 * @o: handle
 * @rec: the record, as a capture source filled it
 * @err: error buffer
 *
 * Buffered: a write error (ENOSPC, EFBIG...) may show here, or only at
 * st_pcapout_flush()/st_pcapout_close(). No allocation.
 *
 * Return: 0, or a negative errno (the handle then refuses further writes).
 */
int st_pcapout_write(struct st_pcapout *o, const struct st_rec *rec, char *err);

/**
 * st_pcapout_flush() - push buffered records to the file.
 *
 * Return: 0, or a negative errno (-ENOSPC for a full disk).
 */
int st_pcapout_flush(struct st_pcapout *o, char *err);

/**
 * st_pcapout_write_rules() - write the traced rules beside the capture.
 * @o: handle
 * @family: 6 for ip6tables-save text (FILE.rules6); anything else for
 *	iptables-save text or nft JSON (FILE.rules)
 * @text: the text, exactly as dumped
 * @len: its length
 * @err: error buffer
 *
 * Return: 0, or a negative errno (-EEXIST, -ELOOP as st_pcapout_open()).
 */
int st_pcapout_write_rules(struct st_pcapout *o, int family, const char *text,
			   size_t len, char *err);

/**
 * st_pcapout_set_meta() - write FILE.meta.json now, and again at close.
 * @o: handle
 * @meta: backend, session, group, netns, pod and start; the writer's own
 *	fields (end, records, rules, ifs) are ignored and filled by it
 * @err: error buffer
 *
 * Writing it at once keeps a capture of a run that dies usable; the copy
 * written by st_pcapout_close() adds the end time, the record count and
 * the interface names seen in the records.
 *
 * Return: 0, or a negative errno.
 */
int st_pcapout_set_meta(struct st_pcapout *o,
			const struct st_pcapout_meta *meta, char *err);

/**
 * st_pcapout_records() - records written so far; 0 for NULL.
 */
uint64_t st_pcapout_records(const struct st_pcapout *o);

/**
 * st_pcapout_close() - flush, close, rewrite the meta file (when
 * st_pcapout_set_meta() was called) and free the handle.
 * @o: handle, or NULL
 * @err: error buffer
 *
 * Return: 0, or the first negative errno met (the handle is freed anyway).
 */
int st_pcapout_close(struct st_pcapout *o, char *err);

/**
 * st_pcapout_side_path() - the name of a side file: "@capture.@ext".
 * @buf: result
 * @size: its size
 * @capture: the capture's path
 * @ext: "rules", "rules6" or "meta.json"
 *
 * Return: 0, or -ENAMETOOLONG.
 */
int st_pcapout_side_path(char *buf, size_t size, const char *capture,
			 const char *ext);

/**
 * st_pcapout_read_meta() - read @capture's FILE.meta.json.
 * @capture: the capture's path
 * @meta: result
 * @err: error buffer
 *
 * Return: 0, -ENOENT when there is none (a plain tcpdump capture), or
 * -EINVAL for one that does not parse.
 */
int st_pcapout_read_meta(const char *capture, struct st_pcapout_meta *meta,
			 char *err);

#endif /* ST_PCAPOUT_H */
