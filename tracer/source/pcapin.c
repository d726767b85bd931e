// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcapin.c - LINKTYPE_NFLOG captures into struct st_rec (STYLE-ANCHORS 9c).
 *
 * <pcap/nflog.h> is included here and in pcapout.c only: its NFULA_*
 * macros break the enum of libnetfilter_log's headers, which the live
 * collector (nflog.c) includes. The two never meet in one translation unit.
 *
 * After libpcap, a record is the 4-byte nflog_hdr (family, version 0,
 * resource id = group, big-endian) and TLVs whose length and type are in
 * host order (libpcap swaps them for files from the other endianness) and
 * whose values are big-endian, each padded to 4 bytes; the length does not
 * count the padding. Walking rule as tcpdump's nflog_if_print(): a length
 * below 4 or past the end rejects the record, so every step advances and
 * stays inside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include <pcap/nflog.h>

#include "pcapin.h"

#define ST_NFLOG_HDRLEN 4
#define ST_TLV_HDRLEN 4
/* Linux's values; AF_INET6 differs across systems (tcpdump does the same). */
#define ST_NFLOG_AF_INET 2
#define ST_NFLOG_AF_INET6 10
/* NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the type's top bits. */
#define ST_TLV_TYPE_MASK 0x3fff
/* Every type we use is below this; newer ones (CT, VLAN...) are ignored. */
#define ST_TB_SIZE 32
#define ST_USEC_PER_SEC 1000000u

enum st_pcapin_state {
	ST_PCAPIN_READING = 0,
	ST_PCAPIN_EOF,
	ST_PCAPIN_FAILED,
};

struct st_pcapin_ifname {
	uint32_t index;
	char name[IF_NAMESIZE];
};

/*
 * The read buffer of a capture file: libpcap freads every record header and
 * body, and stdio's default st_blksize buffer made that one read() per
 * 4 KiB (a tenth of a replay's time went to the system calls).
 */
#define ST_PCAPIN_IOBUF_SIZE (256 * 1024)

struct st_pcapin {
	pcap_t *pcap;
	char *path;
	char *iobuf; /* the FILE's buffer; freed after pcap_close() */
	struct st_tagcache *tags; /* each distinct prefix decoded once */
	enum st_pcapin_state state;
	int fail_ret;
	char fail_msg[ST_ERRBUF_SIZE];

	/* NFULA_SEQ extended to 64 bits, as the live collector does. */
	struct st_rec_seq seq; /* the file may start anywhere */

	struct st_pcapin_stats stats;
	struct st_rec rec;

	struct st_pcapin_ifname ifs[ST_PCAPIN_MAX_IFNAMES];
	size_t nifs;
};

/* What the decoder found besides the record itself. */
struct st_dec {
	enum st_pcapin_skip why;
	bool has_seq;
	bool bad_tag;
};

struct st_tlv {
	const uint8_t *val; /* NULL: absent */
	size_t len;	    /* value bytes present in the record */
};

/*
 * The attributes of one record by type.  Only those in @have were set:
 * a bit per type instead of clearing the whole table for every record.
 */
struct st_tb {
	uint32_t have;
	struct st_tlv t[ST_TB_SIZE];
};

static const struct st_tlv st_tlv_absent;

static const struct st_tlv *st_tb_get(const struct st_tb *tb, unsigned int type)
{
	return (tb->have >> type) & 1u ? &tb->t[type] : &st_tlv_absent;
}

/* Sizes of the fixed-size values we read; checked before any use. */
static const struct {
	uint16_t type;
	uint16_t size;
	const char *name;
} st_attr_sizes[] = {
	{NFULA_PACKET_HDR, 4, "PACKET_HDR"},
	{NFULA_MARK, 4, "MARK"},
	{NFULA_TIMESTAMP, 16, "TIMESTAMP"},
	{NFULA_IFINDEX_INDEV, 4, "IFINDEX_INDEV"},
	{NFULA_IFINDEX_OUTDEV, 4, "IFINDEX_OUTDEV"},
	{NFULA_UID, 4, "UID"},
	{NFULA_SEQ, 4, "SEQ"},
	{NFULA_GID, 4, "GID"},
};

static const char *const st_skip_names[ST_PCAPIN_SKIP_MAX] = {
	[ST_PCAPIN_SKIP_SHORT] = "short",
	[ST_PCAPIN_SKIP_VERSION] = "version",
	[ST_PCAPIN_SKIP_TLV] = "tlv",
	[ST_PCAPIN_SKIP_ATTR] = "attribute",
	[ST_PCAPIN_SKIP_PREFIX] = "prefix",
	[ST_PCAPIN_SKIP_NOPAYLOAD] = "no-payload",
	[ST_PCAPIN_SKIP_FAMILY] = "family",
	[ST_PCAPIN_SKIP_L3] = "ip-header",
};

static const int st_skip_errno[ST_PCAPIN_SKIP_MAX] = {
	[ST_PCAPIN_SKIP_SHORT] = EBADMSG,
	[ST_PCAPIN_SKIP_VERSION] = EPROTO,
	[ST_PCAPIN_SKIP_TLV] = EBADMSG,
	[ST_PCAPIN_SKIP_ATTR] = EBADMSG,
	[ST_PCAPIN_SKIP_PREFIX] = EBADMSG,
	[ST_PCAPIN_SKIP_NOPAYLOAD] = ENODATA,
	[ST_PCAPIN_SKIP_FAMILY] = EAFNOSUPPORT,
	[ST_PCAPIN_SKIP_L3] = EINVAL,
};

const char *st_pcapin_skip_name(enum st_pcapin_skip why)
{
	if ((unsigned int)why >= ST_PCAPIN_SKIP_MAX)
		return "unknown";
	return st_skip_names[why];
}

static int st_bad(struct st_dec *d, enum st_pcapin_skip why, char *err,
		  const char *fmt, ...) __st_printf(4, 5);

static int st_bad(struct st_dec *d, enum st_pcapin_skip why, char *err,
		  const char *fmt, ...)
{
	va_list ap;

	d->why = why;
	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err, ST_ERRBUF_SIZE, fmt, ap);
		va_end(ap);
	}
	return -st_skip_errno[why];
}

/*
 * Fill tb[] from the TLVs after the header. A TLV past the kept bytes is
 * accepted in one case only: the payload of a record the capture's snap
 * length cut (@caplen < @len, tcpdump -s) that would fit in the original
 * record; *@payload_len then says how long the payload really was.
 */
static int st_walk(const uint8_t *buf, size_t caplen, size_t len,
		   struct st_tb *tb, size_t *payload_len, struct st_dec *d,
		   char *err)
{
	size_t off = ST_NFLOG_HDRLEN;

	while (off < caplen) {
		size_t tlen, step;
		unsigned int type;

		if (!st_have(off, ST_TLV_HDRLEN, caplen))
			return st_bad(
				d, ST_PCAPIN_SKIP_TLV, err,
				"%zu stray bytes at offset %zu, after the last TLV",
				caplen - off, off);
		tlen = st_get_he16(buf + off);
		type = st_get_he16(buf + off + 2) & ST_TLV_TYPE_MASK;
		if (tlen < ST_TLV_HDRLEN)
			return st_bad(
				d, ST_PCAPIN_SKIP_TLV, err,
				"TLV type %u at offset %zu has length %zu (< 4)",
				type, off, tlen);
		if (!st_have(off, tlen, caplen)) {
			if (type == NFULA_PAYLOAD && caplen < len &&
			    st_have(off, tlen, len)) {
				tb->have |= 1u << type;
				tb->t[type].val = buf + off + ST_TLV_HDRLEN;
				tb->t[type].len = caplen - off - ST_TLV_HDRLEN;
				*payload_len = tlen - ST_TLV_HDRLEN;
				return 0;
			}
			return st_bad(
				d, ST_PCAPIN_SKIP_TLV, err,
				"TLV type %u at offset %zu has length %zu, past the end of the %zu-byte record",
				type, off, tlen, caplen);
		}
		if (type < ST_TB_SIZE) {
			tb->have |= 1u << type;
			tb->t[type].val = buf + off + ST_TLV_HDRLEN;
			tb->t[type].len = tlen - ST_TLV_HDRLEN;
			if (type == NFULA_PAYLOAD)
				*payload_len = tb->t[type].len;
		}
		/* The last TLV's padding may be missing: not an error. */
		step = (tlen + 3) & ~(size_t)3;
		off += step < caplen - off ? step : caplen - off;
	}
	return 0;
}

static int st_check_attrs(const struct st_tb *tb, struct st_dec *d, char *err)
{
	const struct st_tlv *t;
	size_t i;

	for (i = 0; i < ST_ARRAY_SIZE(st_attr_sizes); i++) {
		t = st_tb_get(tb, st_attr_sizes[i].type);
		if (t->val != NULL && t->len != st_attr_sizes[i].size)
			return st_bad(d, ST_PCAPIN_SKIP_ATTR, err,
				      "NFULA_%s value is %zu bytes, not %u",
				      st_attr_sizes[i].name, t->len,
				      (unsigned int)st_attr_sizes[i].size);
	}
	t = st_tb_get(tb, NFULA_PREFIX);
	/* "count includes NUL": the string ends inside its TLV. */
	if (t->val != NULL && memchr(t->val, '\0', t->len) == NULL)
		return st_bad(
			d, ST_PCAPIN_SKIP_PREFIX, err,
			"NFULA_PREFIX of %zu bytes has no terminating NUL",
			t->len);
	t = st_tb_get(tb, NFULA_TIMESTAMP);
	if (t->val != NULL && (st_get_be64(t->val) > INT64_MAX ||
			       st_get_be64(t->val + 8) >= ST_USEC_PER_SEC))
		return st_bad(d, ST_PCAPIN_SKIP_ATTR, err,
			      "NFULA_TIMESTAMP out of range (%llu s, %llu us)",
			      (unsigned long long)st_get_be64(t->val),
			      (unsigned long long)st_get_be64(t->val + 8));
	return 0;
}

/* Everything but the payload, from checked TLVs. */
static void st_fill(struct st_rec *rec, const struct st_tb *tb,
		    struct st_tagcache *tags, struct st_dec *d)
{
	const struct st_tlv *t;

	if (st_tb_get(tb, NFULA_PACKET_HDR)->val != NULL)
		rec->hook = st_get_u8(st_tb_get(tb, NFULA_PACKET_HDR)->val + 2);
	t = st_tb_get(tb, NFULA_PREFIX);
	if (t->val != NULL) {
		size_t n =
			strnlen((const char *)t->val, sizeof(rec->prefix) - 1);

		memcpy(rec->prefix, t->val, n);
		rec->prefix[n] = '\0';
	}
	if (st_tagcache_parse(tags, rec->prefix, &rec->hit) < 0)
		d->bad_tag = true;
	if (st_tb_get(tb, NFULA_UID)->val != NULL) {
		rec->has_uid = true;
		rec->uid = st_get_be32(st_tb_get(tb, NFULA_UID)->val);
	}
	if (st_tb_get(tb, NFULA_GID)->val != NULL) {
		rec->has_gid = true;
		rec->gid = st_get_be32(st_tb_get(tb, NFULA_GID)->val);
	}
	if (st_tb_get(tb, NFULA_MARK)->val != NULL)
		rec->mark = st_get_be32(st_tb_get(tb, NFULA_MARK)->val);
	if (st_tb_get(tb, NFULA_IFINDEX_INDEV)->val != NULL)
		rec->indev =
			st_get_be32(st_tb_get(tb, NFULA_IFINDEX_INDEV)->val);
	if (st_tb_get(tb, NFULA_IFINDEX_OUTDEV)->val != NULL)
		rec->outdev =
			st_get_be32(st_tb_get(tb, NFULA_IFINDEX_OUTDEV)->val);
	if (st_tb_get(tb, NFULA_SEQ)->val != NULL) {
		d->has_seq = true;
		rec->seq = st_get_be32(st_tb_get(tb, NFULA_SEQ)->val);
	}
	t = st_tb_get(tb, NFULA_TIMESTAMP);
	/* As the live collector: a zero time means "none given". */
	if (t->val != NULL && st_get_be64(t->val) != 0) {
		rec->ts.tv_sec = (time_t)st_get_be64(t->val);
		rec->ts.tv_nsec = (long)st_get_be64(t->val + 8) * 1000;
		rec->ts_kernel = true;
	}
}

/*
 * What st_decode() may leave unset, as a zeroed record has it; the rest
 * (the payload, its addresses and ports, the tag) is always written.
 */
static void st_rec_reset(struct st_rec *rec)
{
	rec->seq = 0;
	rec->ts.tv_sec = 0;
	rec->ts.tv_nsec = 0;
	rec->ts_kernel = false;
	rec->group = 0;
	rec->hook = 0xff;
	rec->prefix[0] = '\0';
	rec->has_uid = false;
	rec->has_gid = false;
	rec->uid = 0;
	rec->gid = 0;
	rec->mark = 0;
	rec->indev = 0;
	rec->outdev = 0;
	rec->indev_name[0] = '\0';
	rec->outdev_name[0] = '\0';
	rec->payload_len = 0;
	rec->caplen = 0;
}

static int st_decode(const uint8_t *buf, size_t caplen, size_t len,
		     struct st_rec *rec, struct st_tagcache *tags,
		     struct st_dec *d, char *err)
{
	struct st_tb tbl;
	struct st_tb *tb = &tbl;
	const struct st_tlv *pl;
	size_t payload_len = 0;
	uint8_t family;
	int ret;

	memset(d, 0, sizeof(*d));
	tb->have = 0;
	st_rec_reset(rec);
	if (len < caplen)
		len = caplen;

	if (buf == NULL || !st_have(0, ST_NFLOG_HDRLEN, caplen))
		return st_bad(d, ST_PCAPIN_SKIP_SHORT, err,
			      "%zu bytes, shorter than the NFLOG header",
			      buf == NULL ? 0 : caplen);
	family = st_get_u8(buf);
	if (st_get_u8(buf + 1) != 0)
		return st_bad(d, ST_PCAPIN_SKIP_VERSION, err,
			      "NFLOG header version %u, not 0",
			      st_get_u8(buf + 1));
	rec->group = st_get_be16(buf + 2);

	ret = st_walk(buf, caplen, len, tb, &payload_len, d, err);
	if (ret == 0)
		ret = st_check_attrs(tb, d, err);
	if (ret < 0)
		return ret;
	st_fill(rec, tb, tags, d);

	pl = st_tb_get(tb, NFULA_PAYLOAD);
	if (pl->val == NULL || pl->len == 0)
		return st_bad(d, ST_PCAPIN_SKIP_NOPAYLOAD, err,
			      "no packet bytes (NFULA_PAYLOAD)");
	/* From a 16-bit TLV length: it fits. */
	rec->payload_len = (uint32_t)payload_len;
	rec->caplen =
		pl->len < ST_REC_SNAPLEN ? (uint32_t)pl->len : ST_REC_SNAPLEN;
	memcpy(rec->payload, pl->val, rec->caplen);
	memset(rec->payload + rec->caplen, 0, ST_REC_SNAPLEN - rec->caplen);

	if (family != ST_NFLOG_AF_INET && family != ST_NFLOG_AF_INET6)
		return st_bad(
			d, ST_PCAPIN_SKIP_FAMILY, err,
			"NFLOG family %u is neither AF_INET (2) nor AF_INET6 (10)",
			family);
	if (st_rec_decode_l3(rec) < 0)
		return st_bad(
			d, ST_PCAPIN_SKIP_L3, err,
			"bogus IP header (version %u, %u of %u bytes kept)",
			st_get_u8(rec->payload) >> 4, (unsigned int)rec->caplen,
			(unsigned int)rec->payload_len);
	if ((family == ST_NFLOG_AF_INET) != (rec->family == 4))
		return st_bad(d, ST_PCAPIN_SKIP_FAMILY, err,
			      "an IPv%u packet in an NFLOG record of family %u",
			      rec->family, family);
	return 0;
}

int st_pcapin_decode_snapped(const uint8_t *buf, size_t caplen, size_t len,
			     struct st_rec *rec, enum st_pcapin_skip *why,
			     char *err)
{
	struct st_dec d;
	int ret;

	if (rec == NULL)
		return st_err(err, EINVAL, "st_pcapin_decode: no record");
	memset(rec, 0, sizeof(*rec));
	ret = st_decode(buf, caplen, len, rec, NULL, &d, err);
	if (ret < 0 && why != NULL)
		*why = d.why;
	return ret;
}

int st_pcapin_decode(const uint8_t *buf, size_t len, struct st_rec *rec,
		     char *err)
{
	return st_pcapin_decode_snapped(buf, len, len, rec, NULL, err);
}

int st_pcapin_open(struct st_pcapin **out, const char *path, char *err)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct st_pcapin *p = NULL;
	const char *lname, *ldesc;
	FILE *f = NULL;
	struct stat sb;
	int fd = -1;
	int ret, dlt;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || path == NULL || path[0] == '\0')
		return st_err(err, EINVAL, "st_pcapin_open: no file given");

	if (strcmp(path, "-") == 0)
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		ret = st_err(err, EISDIR, "%s: is a directory", path);
		goto out;
	}
	if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
		ret = st_err(
			err, EINVAL,
			"%s: empty file (0 bytes), not a pcap or pcapng capture",
			path);
		goto out;
	}

	p = calloc(1, sizeof(*p));
	if (p != NULL) {
		p->path = strdup(path);
		p->tags = st_tagcache_new();
	}
	if (p == NULL || p->path == NULL || p->tags == NULL) {
		ret = st_err(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	f = fdopen(fd, "rb");
	if (f == NULL) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	/* Regular files only: a pipe is read as it comes, as before. */
	if (S_ISREG(sb.st_mode)) {
		p->iobuf = malloc(ST_PCAPIN_IOBUF_SIZE);
		if (p->iobuf != NULL &&
		    setvbuf(f, p->iobuf, _IOFBF, ST_PCAPIN_IOBUF_SIZE) != 0) {
			free(p->iobuf);
			p->iobuf = NULL;
		}
	}
	p->pcap = pcap_fopen_offline_with_tstamp_precision(
		f, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (p->pcap == NULL) {
		ret = st_err(err, EINVAL,
			     "%s: not a pcap or pcapng capture (%s)", path,
			     perr);
		goto out;
	}
	f = NULL; /* pcap_close() closes it */

	dlt = pcap_datalink(p->pcap);
	if (dlt != DLT_NFLOG) {
		lname = pcap_datalink_val_to_name(dlt);
		ldesc = pcap_datalink_val_to_description(dlt);
		/* The CLI sends ordinary captures to plaincap.c first. */
		ret = st_err(
			err, EPROTONOSUPPORT,
			"%s: link type %d (%s, %s) is not NFLOG: capture with `tcpdump -i nflog:GROUP -w FILE` inside the pod's network namespace, or give an Ethernet, Linux cooked or raw IP capture with --rules",
			path, dlt, lname != NULL ? lname : "unnamed",
			ldesc != NULL ? ldesc : "no description");
		goto out;
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	if (f != NULL)
		fclose(f); /* before st_pcapin_close() frees its buffer */
	if (fd >= 0)
		close(fd);
	st_pcapin_close(p);
	return ret;
}

int st_pcapin_set_ifname(struct st_pcapin *p, uint32_t index, const char *name,
			 char *err)
{
	size_t i;

	if (p == NULL || index == 0 || name == NULL || name[0] == '\0' ||
	    strlen(name) >= IF_NAMESIZE)
		return st_err(err, EINVAL, "invalid interface %u name", index);
	for (i = 0; i < p->nifs; i++)
		if (p->ifs[i].index == index)
			break;
	if (i == p->nifs) {
		if (p->nifs == ST_PCAPIN_MAX_IFNAMES)
			return st_err(err, ENOSPC,
				      "more than %d interface names",
				      ST_PCAPIN_MAX_IFNAMES);
		p->nifs++;
	}
	p->ifs[i].index = index;
	st_strlcpy(p->ifs[i].name, name, sizeof(p->ifs[i].name));
	return 0;
}

static void st_pcapin_ifname(const struct st_pcapin *p, uint32_t index,
			     char *name, size_t size)
{
	size_t i;

	name[0] = '\0';
	if (index == 0)
		return;
	for (i = 0; i < p->nifs; i++) {
		if (p->ifs[i].index == index) {
			st_strlcpy(name, p->ifs[i].name, size);
			return;
		}
	}
}

/* rec->seq holds the record's NFULA_SEQ, when it has one. */
static void st_pcapin_seq(struct st_pcapin *p, bool has_seq)
{
	uint32_t missing;

	if (!has_seq) {
		p->rec.seq = p->stats.records - 1;
		return;
	}
	p->rec.seq = st_rec_seq_next(&p->seq, (uint32_t)p->rec.seq, &missing);
	if (missing > 0) {
		p->stats.seq_gaps++;
		p->stats.seq_missing += missing;
	}
}

static void st_pcapin_skip(struct st_pcapin *p, enum st_pcapin_skip why,
			   const char *msg)
{
	p->stats.skipped++;
	p->stats.skipped_by[why]++;
	if (p->stats.first_skip_record == 0) {
		char *s = p->stats.first_skip;
		int n;

		p->stats.first_skip_record = p->stats.records;
		n = snprintf(s, sizeof(p->stats.first_skip), "record %llu: ",
			     (unsigned long long)p->stats.records);
		if (n > 0 && (size_t)n < sizeof(p->stats.first_skip))
			st_strlcpy(s + n, msg,
				   sizeof(p->stats.first_skip) - (size_t)n);
	}
}

/* libpcap could not go on; the same answer for every later call. */
static int st_pcapin_fail(struct st_pcapin *p, char *err)
{
	const char *why = pcap_geterr(p->pcap);
	unsigned long long n = p->stats.records;

	if (strstr(why, "truncated") != NULL) {
		p->fail_ret = st_err(p->fail_msg, EIO,
				     "%s: truncated after record %llu (%s)",
				     p->path, n, why);
	} else if (strstr(why, "error reading") != NULL) {
		p->fail_ret = st_err(p->fail_msg, EIO,
				     "%s: read error after record %llu (%s)",
				     p->path, n, why);
	} else {
		p->fail_ret = st_err(p->fail_msg, EBADMSG,
				     "%s: bad data after record %llu (%s)",
				     p->path, n, why);
	}
	p->state = ST_PCAPIN_FAILED;
	if (err != NULL)
		st_strlcpy(err, p->fail_msg, ST_ERRBUF_SIZE);
	return p->fail_ret;
}

int st_pcapin_read(struct st_pcapin *p,
		   int (*cb)(const struct st_rec *rec, void *data), void *data,
		   char *err)
{
	char msg[ST_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct st_dec d;
	int ret;

	if (p == NULL || cb == NULL)
		return st_err(err, EINVAL, "st_pcapin_read: no handle");
	if (p->state == ST_PCAPIN_FAILED) {
		if (err != NULL)
			st_strlcpy(err, p->fail_msg, ST_ERRBUF_SIZE);
		return p->fail_ret;
	}
	if (p->state == ST_PCAPIN_EOF)
		return 0;

	for (;;) {
		ret = pcap_next_ex(p->pcap, &h, &bytes);
		if (ret == PCAP_ERROR_BREAK) {
			p->state = ST_PCAPIN_EOF;
			return 0;
		}
		if (ret != 1)
			return st_pcapin_fail(p, err);
		p->stats.records++;
		if (h->caplen < h->len)
			p->stats.snapped++;
		if (st_decode(bytes, h->caplen, h->len, &p->rec, p->tags, &d,
			      msg) < 0) {
			st_pcapin_skip(p, d.why, msg);
			continue;
		}
		if (d.bad_tag)
			p->stats.bad_tags++;
		st_pcapin_seq(p, d.has_seq);
		if (!p->rec.ts_kernel) {
			/* Opened with nanosecond precision: tv_usec is ns. */
			p->rec.ts.tv_sec = h->ts.tv_sec;
			p->rec.ts.tv_nsec = h->ts.tv_usec;
		}
		st_pcapin_ifname(p, p->rec.indev, p->rec.indev_name,
				 sizeof(p->rec.indev_name));
		st_pcapin_ifname(p, p->rec.outdev, p->rec.outdev_name,
				 sizeof(p->rec.outdev_name));
		p->stats.delivered++;
		ret = cb(&p->rec, data);
		if (ret == ST_CB_STOP)
			return 1;
		if (ret != ST_CB_OK)
			return st_err(
				err, ECANCELED,
				"%s: the record callback failed at record %llu",
				p->path, (unsigned long long)p->stats.records);
	}
}

void st_pcapin_stats(const struct st_pcapin *p, struct st_pcapin_stats *st)
{
	if (st == NULL)
		return;
	if (p == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = p->stats;
}

uint64_t st_pcapin_seq_missing(const struct st_pcapin *p)
{
	return p != NULL ? p->stats.seq_missing : 0;
}

uint64_t st_pcapin_records(const struct st_pcapin *p)
{
	return p != NULL ? p->stats.records : 0;
}

void st_pcapin_close(struct st_pcapin *p)
{
	if (p == NULL)
		return;
	if (p->pcap != NULL)
		pcap_close(p->pcap);
	free(p->iobuf);
	st_tagcache_free(p->tags);
	free(p->path);
	free(p);
}
