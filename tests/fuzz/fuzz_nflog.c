// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_nflog.c - libFuzzer target for the LINKTYPE_NFLOG record decoder
 * that st_pcapin_read() uses: the input is one record as libpcap hands it
 * over (nflog_hdr, then TLVs in host order). Each input is decoded twice:
 * as a whole record, and as the kept part of a record the capture's snap
 * length cut (the one path where a TLV may run past the kept bytes).
 *
 * Besides what the sanitizers catch, a decoded record must hold together:
 * a terminated prefix, at most ST_REC_SNAPLEN payload bytes, an IP family.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcapin.h"

static void st_fuzz_check(const struct st_rec *rec)
{
	if (memchr(rec->prefix, '\0', sizeof(rec->prefix)) == NULL ||
	    rec->caplen > ST_REC_SNAPLEN || rec->caplen > rec->payload_len ||
	    rec->caplen == 0 || (rec->family != 4 && rec->family != 6) ||
	    memchr(rec->hit.table, '\0', sizeof(rec->hit.table)) == NULL ||
	    memchr(rec->hit.chain, '\0', sizeof(rec->hit.chain)) == NULL ||
	    rec->ts.tv_nsec < 0 || rec->ts.tv_nsec >= 1000000000L)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ST_ERRBUF_SIZE];
	enum st_pcapin_skip why;
	struct st_rec rec;

	if (st_pcapin_decode(data, size, &rec, err) == 0)
		st_fuzz_check(&rec);
	else if (memchr(err, '\0', sizeof(err)) == NULL)
		__builtin_trap();
	if (st_pcapin_decode_snapped(data, size, size + 65536, &rec, &why,
				     err) == 0)
		st_fuzz_check(&rec);
	else if ((unsigned int)why >= ST_PCAPIN_SKIP_MAX)
		__builtin_trap();
	return 0;
}
