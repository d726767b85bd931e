// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * make_corpus.c - write every record of LINKTYPE_NFLOG captures as one
 * file each (the raw bytes fuzz_nflog takes), for the seed corpus:
 *
 *	make_corpus OUTDIR CAPTURE...
 *
 * Files are named after the capture and the record number, so running it
 * again gives the same corpus.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <pcap/pcap.h>

static const char *st_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int st_dump_one(const char *outdir, const char *capture)
{
	char perr[PCAP_ERRBUF_SIZE], name[4096];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	unsigned int n = 0;
	pcap_t *p;
	FILE *f;
	int ret;

	p = pcap_open_offline(capture, perr);
	if (p == NULL) {
		fprintf(stderr, "%s: %s\n", capture, perr);
		return -1;
	}
	if (pcap_datalink(p) != DLT_NFLOG) {
		fprintf(stderr, "%s: not LINKTYPE_NFLOG\n", capture);
		pcap_close(p);
		return -1;
	}
	while ((ret = pcap_next_ex(p, &h, &bytes)) == 1) {
		snprintf(name, sizeof(name), "%s/%s-%03u", outdir,
			 st_base(capture), ++n);
		f = fopen(name, "wb");
		if (f == NULL || fwrite(bytes, 1, h->caplen, f) != h->caplen ||
		    fclose(f) != 0) {
			fprintf(stderr, "%s: %s\n", name, strerror(errno));
			pcap_close(p);
			return -1;
		}
	}
	if (ret != PCAP_ERROR_BREAK)
		fprintf(stderr, "%s: %s\n", capture, pcap_geterr(p));
	pcap_close(p);
	return ret == PCAP_ERROR_BREAK ? 0 : -1;
}

int main(int argc, char **argv)
{
	int i, ret = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: make_corpus OUTDIR CAPTURE...\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		if (st_dump_one(argv[1], argv[i]) < 0)
			ret = 1;
	return ret;
}
