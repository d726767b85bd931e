/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * testlib_pcapin.h - reading NFLOG captures back in the tests
 * (test_pcapin.c, test_pcapin_root.c), and the checks of a tcpdump capture
 * of the standard connections: the stored ones under
 * samples/captures/synthetic/ and a fresh one must pass the same.
 */
#ifndef ST_TESTLIB_PCAPIN_H
#define ST_TESTLIB_PCAPIN_H

#include <stddef.h>
#include <stdint.h>

#include "pcapin.h"
#include "record.h"

/* The NFLOG prefix of the rule the standard connections pass. */
#define TL_PCAPIN_TAG "st:00000001:h:nat:OUTPUT:1"

/* Records collected by tl_recs_cb(): the first 32 kept, all counted. */
struct tl_recs {
	struct st_rec recs[32];
	size_t n;
	int verdict;
	size_t stop_at; /* answer verdict at this record (1-based), OK before */
};

/**
 * tl_recs_cb() - an st_pcapin_read() callback filling a struct tl_recs
 * @rec:  the record
 * @data: the struct tl_recs
 *
 * Return: its verdict at record number stop_at, ST_CB_OK before and after.
 */
int tl_recs_cb(const struct st_rec *rec, void *data);

/**
 * tl_pcapin_read() - read a whole capture into @c
 * @path: the capture
 * @c:    filled by tl_recs_cb()
 * @st:   the reader's statistics afterwards
 * @err:  ST_ERRBUF_SIZE bytes for the reason of a failure
 *
 * Return: what st_pcapin_open() or st_pcapin_read() returned.
 */
int tl_pcapin_read(const char *path, struct tl_recs *c,
		   struct st_pcapin_stats *st, char *err);

/**
 * tl_recs_find() - the first record of @c with @family and @prefix
 * @c:      the records
 * @family: 4 or 6
 * @prefix: the NFLOG prefix
 *
 * Return: the record, or NULL.
 */
const struct st_rec *tl_recs_find(const struct tl_recs *c, uint8_t family,
				  const char *prefix);

/**
 * tl_pcapin_check_group7() - check a `tcpdump -i nflog:7` capture
 * @path: the capture
 *
 * Only the NFLOG rule's records (TL_PCAPIN_TAG), with the SYNs from uid
 * 1000 to 127.0.0.1 and ::1 port 8080 among them; fails the test otherwise.
 */
void tl_pcapin_check_group7(const char *path);

/**
 * tl_pcapin_check_trace() - check a `tcpdump -i nflog:0` capture of TRACE
 * @path: the capture
 *
 * The TRACE records of the same SYNs, rules and policies, out through nat
 * OUTPUT and POSTROUTING and back in through raw PREROUTING; fails the
 * test otherwise.
 */
void tl_pcapin_check_trace(const char *path);

#endif /* ST_TESTLIB_PCAPIN_H */
