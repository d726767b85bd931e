/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nflog.h - the live collector: NFLOG records of one group, read with
 * libnetfilter_log from a netlink socket created inside the target's
 * network namespace, and handed out one struct st_rec at a time.
 *
 * Nothing is dropped silently: every ENOBUFS from the socket and every gap
 * in the kernel's per-group sequence numbers is counted (st_nflog_stats()).
 */
#ifndef ST_NFLOG_H
#define ST_NFLOG_H

#include <stdint.h>

#include "common.h"
#include "record.h"

/* Receive buffer asked for at open: bursts of first packets fit in it. */
#define ST_NFLOG_RCVBUF (8u << 20)
/*
 * Batching set at open: the kernel sends a datagram once this many records
 * are queued, or this long after the first one (rules that say
 * --nflog-threshold N lower the count). Batches make the most of the
 * buffer; the delay bounds how late a record can be.
 */
#define ST_NFLOG_QTHRESH 100
#define ST_NFLOG_FLUSH_MS 10
/*
 * The kernel's per-group netlink buffer asked for at open (the kernel
 * accepts 1 page to 128 KiB). Its default of one page holds only about
 * 14 records, so datagrams went out long before ST_NFLOG_QTHRESH and
 * every one cost a wake-up; this holds ST_NFLOG_QTHRESH full-size records.
 */
#define ST_NFLOG_NLBUFSIZ (64u << 10)

struct st_nflog;

struct st_nflog_stats {
	uint64_t records; /* records handed to the callback */
	/*
	 * Records known to be lost: seq_missing, plus one for each ENOBUFS
	 * event that no later sequence gap has accounted for yet (then the
	 * true number is unknown and this is a lower bound).
	 */
	uint64_t lost;
	uint64_t enobufs;     /* ENOBUFS events reported by recv() */
	uint64_t seq_gaps;    /* jumps seen in the kernel's NFULA_SEQ */
	uint64_t seq_missing; /* records those jumps skipped */
	uint64_t malformed;   /* netlink messages that could not be parsed */
	uint64_t bad_tags;    /* "st:" prefixes st_tag_parse() rejected */
};

/**
 * st_nflog_open() - start collecting NFLOG group @group of a namespace.
 * @out: receives the handle
 * @netns_fd: network namespace to collect in, or -1 for the current one;
 *	the handle keeps its own duplicate of it
 * @group: NFLOG group number (the rules' --nflog-group)
 * @err: error buffer
 *
 * The socket is created inside @netns_fd and stays bound to it; the
 * caller's thread is back in its own namespace when this returns, success
 * or not. The group gets NFULNL_COPY_PACKET with ST_REC_SNAPLEN bytes,
 * per-group sequence numbers, batches of ST_NFLOG_QTHRESH records or
 * ST_NFLOG_FLUSH_MS in a kernel buffer of ST_NFLOG_NLBUFSIZ, and a receive
 * buffer of ST_NFLOG_RCVBUF.
 * The socket is non-blocking: poll st_nflog_fd() and call st_nflog_read().
 *
 * Return: 0, -EBUSY when another socket has the group in that namespace,
 * -EPERM without CAP_NET_ADMIN, or another negative errno.
 */
int st_nflog_open(struct st_nflog **out, int netns_fd, uint16_t group,
		  char *err);

/**
 * st_nflog_set_rcvbuf() - resize the socket's receive buffer.
 * @n: handle
 * @bytes: size asked for (SO_RCVBUFFORCE, else SO_RCVBUF capped by
 *	net.core.rmem_max); the kernel doubles it for its bookkeeping
 * @err: error buffer
 *
 * Return: the size the kernel reports afterwards, or a negative errno.
 */
int st_nflog_set_rcvbuf(struct st_nflog *n, unsigned int bytes, char *err);

/**
 * st_nflog_set_batch() - how the kernel batches records into datagrams.
 * @n: handle
 * @qthresh: send once this many records are queued (at least 1)
 * @flush_ms: send at the latest this long after the first queued record
 *	(the kernel counts in 10 ms steps; rounded up)
 * @err: error buffer
 *
 * Return: 0, or a negative errno.
 */
int st_nflog_set_batch(struct st_nflog *n, unsigned int qthresh,
		       unsigned int flush_ms, char *err);

/** st_nflog_fd() - the socket to poll for POLLIN; -1 for NULL. */
int st_nflog_fd(const struct st_nflog *n);

/**
 * st_nflog_read() - receive one datagram and hand out its records.
 * @n: handle
 * @cb: called once per record; returns ST_CB_OK to go on, ST_CB_STOP to
 *	stop after this record, ST_CB_ERROR to fail. @rec is reused for the
 *	next record: copy what must outlive the call.
 * @data: passed to @cb
 * @err: error buffer
 *
 * At most one recv() per call. Records left in the datagram after a STOP
 * or ERROR are delivered by the next call, before anything new is read.
 * ENOBUFS is counted (see struct st_nflog_stats) and is not an error.
 *
 * Return: the number of records delivered (0 when nothing was pending),
 * -ECANCELED when @cb returned ST_CB_ERROR, or another negative errno.
 */
int st_nflog_read(struct st_nflog *n,
		  int (*cb)(const struct st_rec *rec, void *data), void *data,
		  char *err);

/**
 * st_nflog_lost() - records lost so far (as st_nflog_stats()'s lost), for
 * a check before every record without copying the whole statistics.
 */
uint64_t st_nflog_lost(const struct st_nflog *n);

/** st_nflog_stats() - counters so far; see struct st_nflog_stats. */
void st_nflog_stats(const struct st_nflog *n, struct st_nflog_stats *st);

/** st_nflog_close() - unbind the group and close; accepts NULL. */
void st_nflog_close(struct st_nflog *n);

#endif /* ST_NFLOG_H */
