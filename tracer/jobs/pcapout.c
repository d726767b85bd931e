// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcapout.c - struct st_rec records into a LINKTYPE_NFLOG pcap, and the
 * side files that carry the rules and the run's settings (pcapout.h).
 *
 * <pcap/nflog.h> is included here and in pcapin.c only, never next to
 * libnetfilter_log's headers (STYLE-ANCHORS 9c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <pcap/nflog.h>

#include "pcapout.h"

#define ST_NFLOG_HDRLEN 4
#define ST_TLV_HDRLEN 4
#define ST_NFLOG_AF_INET 2
#define ST_NFLOG_AF_INET6 10
#define ST_ETH_P_IP 0x0800
#define ST_ETH_P_IPV6 0x86dd
#define ST_META_VERSION 1
#define ST_META_EXT "meta.json"
/* Captures hold packet heads, perhaps with application bytes: 0600. */
#define ST_PCAPOUT_MODE 0600

#define ST_ALIGN4(n) (((n) + 3) & ~(size_t)3)

/*
 * The largest record: header, PACKET_HDR, PREFIX of 64, two ifindexes,
 * MARK, TIMESTAMP, UID, GID, SEQ and a payload of ST_REC_SNAPLEN.
 */
#define ST_PCAPOUT_RECMAX                                                    \
	(ST_NFLOG_HDRLEN + 8 + ST_ALIGN4(4 + ST_NFLOG_PREFIX_SIZE) + 8 + 8 + \
	 8 + 20 + 8 + 8 + 8 + ST_ALIGN4(4 + ST_REC_SNAPLEN))

struct st_pcapout {
	pcap_t *dead;
	pcap_dumper_t *dump;
	FILE *f;
	char *path;
	unsigned int flags;
	int failed; /* the negative errno that stopped writing, or 0 */
	char fail_msg[ST_ERRBUF_SIZE];
	uint64_t records;

	bool has_meta;
	bool meta_written;
	struct st_pcapout_meta meta;

	uint8_t buf[ST_PCAPOUT_RECMAX];
};

static int st_open_excl(const char *path, unsigned int flags, char *err)
{
	int oflags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	struct stat sb;
	int fd, e;

	oflags |= (flags & ST_PCAPOUT_OVERWRITE) ? O_TRUNC : O_EXCL;
	fd = open(path, oflags, ST_PCAPOUT_MODE);
	if (fd >= 0)
		return fd;
	e = errno;
	if (e == ELOOP ||
	    (e == EEXIST && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)))
		return st_err(
			err, ELOOP,
			"%s: is a symbolic link; refusing to write through it",
			path);
	if (e == EEXIST)
		return st_err(err, EEXIST,
			      "%s: exists; refusing to overwrite it", path);
	return st_err(err, e, "%s: %s", path, strerror(e));
}

static int st_write_all(int fd, const char *path, const void *data, size_t len,
			char *err)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return st_err(err, errno, "%s: write failed: %s", path,
				      strerror(errno));
		if (n == 0)
			return st_err(err, EIO, "%s: write failed", path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create @path (policy of st_open_excl()) holding @data. */
static int st_write_file(const char *path, unsigned int flags, const void *data,
			 size_t len, char *err)
{
	int fd, ret;

	fd = st_open_excl(path, flags, err);
	if (fd < 0)
		return fd;
	ret = st_write_all(fd, path, data, len, err);
	if (close(fd) < 0 && ret == 0)
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
	/* Remove only what we created: never someone's file or device. */
	if (ret < 0 && !(flags & ST_PCAPOUT_OVERWRITE))
		unlink(path);
	return ret;
}

int st_pcapout_side_path(char *buf, size_t size, const char *capture,
			 const char *ext)
{
	int n;

	if (buf == NULL || size == 0 || capture == NULL || ext == NULL)
		return -EINVAL;
	n = snprintf(buf, size, "%s.%s", capture, ext);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Stop writing for good and say why; later calls give the same answer. */
static int st_pcapout_fail(struct st_pcapout *o, int errnum, char *err)
{
	if (o->failed == 0) {
		o->failed = st_err(o->fail_msg, errnum, "%s: write failed: %s",
				   o->path, strerror(errnum));
	}
	if (err != NULL)
		st_strlcpy(err, o->fail_msg, ST_ERRBUF_SIZE);
	return o->failed;
}

int st_pcapout_flush(struct st_pcapout *o, char *err)
{
	if (o == NULL || o->dump == NULL)
		return st_err(err, EINVAL, "st_pcapout_flush: no capture");
	if (o->failed)
		return st_pcapout_fail(o, 0, err);
	errno = 0;
	if (pcap_dump_flush(o->dump) < 0 || ferror(o->f))
		return st_pcapout_fail(o, errno ? errno : EIO, err);
	return 0;
}

static void st_pcapout_free(struct st_pcapout *o);

int st_pcapout_open(struct st_pcapout **out, const char *path,
		    unsigned int flags, char *err)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct st_pcapout *o = NULL;
	FILE *f = NULL;
	int fd = -1;
	int ret;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || path == NULL || path[0] == '\0')
		return st_err(err, EINVAL, "st_pcapout_open: no file given");
	o = calloc(1, sizeof(*o));
	if (o != NULL)
		o->path = strdup(path);
	if (o == NULL || o->path == NULL) {
		ret = st_err(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	o->flags = flags;

	fd = st_open_excl(path, flags, err);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	f = fdopen(fd, "wb");
	if (f == NULL) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	o->dead = pcap_open_dead_with_tstamp_precision(
		DLT_NFLOG, ST_PCAPOUT_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	if (o->dead == NULL) {
		ret = st_err(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	errno = 0;
	o->dump = pcap_dump_fopen(o->dead, f);
	if (o->dump == NULL) {
		st_strlcpy(perr, pcap_geterr(o->dead), sizeof(perr));
		ret = st_err(err, errno ? errno : EIO, "%s: %s", path, perr);
		goto out;
	}
	o->f = f;
	f = NULL;
	/* The header now: a full disk or a bad device fails the open. */
	ret = st_pcapout_flush(o, err);
	if (ret < 0) {
		/* Created by us (O_EXCL) or not ours to remove (/dev/full). */
		if (!(flags & ST_PCAPOUT_OVERWRITE))
			unlink(path);
		goto out;
	}
	*out = o;
	o = NULL;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	st_pcapout_free(o);
	return ret;
}

static size_t st_put_tlv(uint8_t *buf, size_t off, uint16_t type,
			 const void *val, size_t len)
{
	uint16_t tl = (uint16_t)(ST_TLV_HDRLEN + len);
	size_t end = ST_ALIGN4(off + ST_TLV_HDRLEN + len);

	/* Type and length in this host's order, as the kernel sends them. */
	memcpy(buf + off, &tl, sizeof(tl));
	memcpy(buf + off + 2, &type, sizeof(type));
	memcpy(buf + off + ST_TLV_HDRLEN, val, len);
	memset(buf + off + ST_TLV_HDRLEN + len, 0,
	       end - (off + ST_TLV_HDRLEN + len));
	return end;
}

static size_t st_put_u32(uint8_t *buf, size_t off, uint16_t type, uint32_t v)
{
	uint32_t be = htobe32(v);

	return st_put_tlv(buf, off, type, &be, sizeof(be));
}

/* The family the kernel would have put in the header. */
static uint8_t st_rec_nfproto(const struct st_rec *rec)
{
	unsigned int v = 0;

	if (rec->caplen > 0)
		v = rec->payload[0] >> 4;
	if (v != 4 && v != 6)
		v = rec->family;
	return v == 4 ? ST_NFLOG_AF_INET : v == 6 ? ST_NFLOG_AF_INET6 : 0;
}

/* NFULA_PACKET_HDR's hw_protocol: the skb's ETH_P_* of the family. */
static uint16_t st_hw_protocol(uint8_t family)
{
	switch (family) {
	case ST_NFLOG_AF_INET:
		return ST_ETH_P_IP;
	case ST_NFLOG_AF_INET6:
		return ST_ETH_P_IPV6;
	default:
		return 0;
	}
}

static void st_note_ifname(struct st_pcapout *o, uint32_t index,
			   const char *name)
{
	struct st_pcapout_meta *m = &o->meta;
	size_t i;

	if (index == 0 || name[0] == '\0')
		return;
	for (i = 0; i < m->nifs; i++)
		if (m->ifs[i].index == index)
			break;
	if (i == m->nifs) {
		if (m->nifs == ST_PCAPOUT_MAX_IFS)
			return;
		m->nifs++;
	}
	m->ifs[i].index = index;
	st_strlcpy(m->ifs[i].name, name, sizeof(m->ifs[i].name));
}

int st_pcapout_write(struct st_pcapout *o, const struct st_rec *rec, char *err)
{
	char pfx[ST_NFLOG_PREFIX_SIZE];
	struct pcap_pkthdr h;
	uint8_t *b;
	size_t off = ST_NFLOG_HDRLEN;
	size_t plen, n;
	uint8_t family;
	uint16_t group;

	if (o == NULL || rec == NULL || o->dump == NULL)
		return st_err(err, EINVAL, "st_pcapout_write: no capture");
	if (o->failed)
		return st_pcapout_fail(o, 0, err);
	b = o->buf;

	family = st_rec_nfproto(rec);
	group = htobe16(rec->group);
	b[0] = family;
	b[1] = 0; /* version */
	memcpy(b + 2, &group, sizeof(group));

	if (rec->hook != 0xff) {
		uint16_t hw = htobe16(st_hw_protocol(family));
		uint8_t ph[4];

		memcpy(ph, &hw, sizeof(hw));
		ph[2] = rec->hook;
		ph[3] = 0;
		off = st_put_tlv(b, off, NFULA_PACKET_HDR, ph, sizeof(ph));
	}
	n = strnlen(rec->prefix, sizeof(pfx) - 1);
	/* The kernel's count includes the NUL: write it too. */
	memcpy(pfx, rec->prefix, n);
	pfx[n] = '\0';
	off = st_put_tlv(b, off, NFULA_PREFIX, pfx, n + 1);
	if (rec->indev != 0)
		off = st_put_u32(b, off, NFULA_IFINDEX_INDEV, rec->indev);
	if (rec->outdev != 0)
		off = st_put_u32(b, off, NFULA_IFINDEX_OUTDEV, rec->outdev);
	if (rec->mark != 0)
		off = st_put_u32(b, off, NFULA_MARK, rec->mark);
	if (rec->ts_kernel) {
		uint64_t ts[2] = {
			htobe64((uint64_t)rec->ts.tv_sec),
			htobe64((uint64_t)rec->ts.tv_nsec / 1000),
		};

		off = st_put_tlv(b, off, NFULA_TIMESTAMP, ts, sizeof(ts));
	}
	if (rec->has_uid)
		off = st_put_u32(b, off, NFULA_UID, rec->uid);
	if (rec->has_gid)
		off = st_put_u32(b, off, NFULA_GID, rec->gid);
	off = st_put_u32(b, off, NFULA_SEQ, (uint32_t)rec->seq);

	/* The payload we kept, in a TLV of its own length (pcapout.h). */
	plen = rec->caplen < ST_REC_SNAPLEN ? rec->caplen : ST_REC_SNAPLEN;
	off = st_put_tlv(b, off, NFULA_PAYLOAD, rec->payload, plen);
	h.caplen = h.len = (bpf_u_int32)off;

	h.ts.tv_sec = rec->ts.tv_sec;
	/* A nanosecond-precision dumper: this field holds nanoseconds. */
	h.ts.tv_usec = rec->ts.tv_nsec;
	errno = 0;
	pcap_dump((u_char *)o->dump, &h, b);
	if (ferror(o->f))
		return st_pcapout_fail(o, errno ? errno : EIO, err);
	o->records++;
	st_note_ifname(o, rec->indev, rec->indev_name);
	st_note_ifname(o, rec->outdev, rec->outdev_name);
	return 0;
}

uint64_t st_pcapout_records(const struct st_pcapout *o)
{
	return o == NULL ? 0 : o->records;
}

int st_pcapout_write_rules(struct st_pcapout *o, int family, const char *text,
			   size_t len, char *err)
{
	const char *ext = family == 6 ? "rules6" : "rules";
	char path[4096];
	size_t i;
	int ret;

	if (o == NULL || (text == NULL && len > 0))
		return st_err(err, EINVAL,
			      "st_pcapout_write_rules: no capture");
	if (st_pcapout_side_path(path, sizeof(path), o->path, ext) < 0)
		return st_err(err, ENAMETOOLONG, "%s.%s: name too long",
			      o->path, ext);
	for (i = 0; i < o->meta.nrules; i++)
		if (strcmp(o->meta.rules[i], ext) == 0)
			return st_err(err, EEXIST, "%s: already written", path);
	ret = st_write_file(path, o->flags, text, len, err);
	if (ret < 0)
		return ret;
	if (o->meta.nrules < ST_PCAPOUT_MAX_RULES) {
		st_strlcpy(o->meta.rules[o->meta.nrules], ext,
			   sizeof(o->meta.rules[0]));
		o->meta.nrules++;
	}
	return 0;
}

/* RFC 3339, UTC, nanoseconds: "2025-11-26T06:21:00.123456789Z". */
static void st_fmt_time(char *buf, size_t size, const struct timespec *ts)
{
	struct tm tm;
	char day[32];
	time_t t = ts->tv_sec;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		st_strlcpy(buf, "", size);
		return;
	}
	snprintf(buf, size, "%s.%09ldZ", day, ts->tv_nsec);
}

static int st_parse_time(const char *s, struct timespec *ts)
{
	struct tm tm;
	const char *p;
	long ns = 0;
	int digits = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
			ns = ns * 10 + (*p - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	ts->tv_sec = timegm(&tm);
	ts->tv_nsec = ns;
	return 0;
}

static json_t *st_meta_json(const struct st_pcapout *o)
{
	const struct st_pcapout_meta *m = &o->meta;
	const char *base = strrchr(o->path, '/');
	json_t *root, *rules, *ifs;
	char when[64];
	size_t i;
	int bad = 0;

	root = json_object();
	rules = json_array();
	ifs = json_array();
	if (root == NULL || rules == NULL || ifs == NULL) {
		json_decref(root);
		json_decref(rules);
		json_decref(ifs);
		return NULL;
	}
	bad |= json_object_set_new(root, "format",
				   json_string("sidecar-trace capture"));
	bad |= json_object_set_new(root, "version",
				   json_integer(ST_META_VERSION));
	bad |= json_object_set_new(root, "tool",
				   json_string("sidecar-trace " ST_VERSION));
	bad |= json_object_set_new(root, "capture",
				   json_string(base ? base + 1 : o->path));
	bad |= json_object_set_new(root, "linktype", json_string("NFLOG"));
	bad |= json_object_set_new(root, "backend", json_string(m->backend));
	bad |= json_object_set_new(root, "session", json_integer(m->session));
	bad |= json_object_set_new(root, "group", json_integer(m->group));
	bad |= json_object_set_new(root, "netns", json_string(m->netns));
	bad |= json_object_set_new(root, "pod", json_string(m->pod));
	st_fmt_time(when, sizeof(when), &m->start);
	bad |= json_object_set_new(root, "start", json_string(when));
	if (m->end.tv_sec != 0) {
		st_fmt_time(when, sizeof(when), &m->end);
		bad |= json_object_set_new(root, "end", json_string(when));
	} else {
		bad |= json_object_set_new(root, "end", json_null());
	}
	bad |= json_object_set_new(root, "records",
				   json_integer((json_int_t)m->records));
	for (i = 0; i < m->nrules; i++)
		bad |= json_array_append_new(rules, json_string(m->rules[i]));
	bad |= json_object_set_new(root, "rules", rules);
	for (i = 0; i < m->nifs; i++)
		bad |= json_array_append_new(
			ifs, json_pack("{s:I, s:s}", "index",
				       (json_int_t)m->ifs[i].index, "name",
				       m->ifs[i].name));
	bad |= json_object_set_new(root, "interfaces", ifs);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/*
 * A new FILE.meta.json replaces the old one by rename(): never written
 * through a symlink, never half-written. Without ST_PCAPOUT_OVERWRITE, a
 * meta file that was there before us is refused, as the capture is.
 */
static int st_write_meta(struct st_pcapout *o, char *err)
{
	char path[4096], tmp[4200];
	json_t *root = NULL;
	char *text = NULL;
	struct stat sb;
	int ret;

	if (st_pcapout_side_path(path, sizeof(path), o->path, ST_META_EXT) < 0)
		return st_err(err, ENAMETOOLONG, "%s.%s: name too long",
			      o->path, ST_META_EXT);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (!o->meta_written && !(o->flags & ST_PCAPOUT_OVERWRITE) &&
	    lstat(path, &sb) == 0)
		return st_err(err, EEXIST,
			      "%s: exists; refusing to overwrite it", path);
	root = st_meta_json(o);
	if (root != NULL)
		text = json_dumps(root, JSON_INDENT(2));
	if (text == NULL) {
		ret = st_err(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	ret = st_write_file(tmp, 0, text, strlen(text), err);
	if (ret < 0)
		goto out;
	if (rename(tmp, path) < 0) {
		ret = st_err(err, errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	o->meta_written = true;
out:
	free(text);
	json_decref(root);
	return ret;
}

int st_pcapout_set_meta(struct st_pcapout *o,
			const struct st_pcapout_meta *meta, char *err)
{
	struct st_pcapout_meta *m;
	int ret;

	if (o == NULL || meta == NULL)
		return st_err(err, EINVAL, "st_pcapout_set_meta: no capture");
	m = &o->meta;
	st_strlcpy(m->backend, meta->backend, sizeof(m->backend));
	m->session = meta->session;
	m->group = meta->group;
	st_strlcpy(m->netns, meta->netns, sizeof(m->netns));
	st_strlcpy(m->pod, meta->pod, sizeof(m->pod));
	m->start = meta->start;
	m->records = o->records;
	ret = st_write_meta(o, err);
	/* Rewritten at close only when it could be written now. */
	o->has_meta = ret == 0;
	return ret;
}

static void st_pcapout_free(struct st_pcapout *o)
{
	if (o == NULL)
		return;
	if (o->dump != NULL)
		pcap_dump_close(o->dump);
	if (o->dead != NULL)
		pcap_close(o->dead);
	free(o->path);
	free(o);
}

int st_pcapout_close(struct st_pcapout *o, char *err)
{
	char scratch[ST_ERRBUF_SIZE];
	int ret = 0, r;

	if (o == NULL)
		return 0;
	if (o->dump != NULL)
		ret = st_pcapout_flush(o, err);
	if (o->has_meta) {
		clock_gettime(CLOCK_REALTIME, &o->meta.end);
		o->meta.records = o->records;
		r = st_write_meta(o, ret == 0 ? err : scratch);
		if (ret == 0)
			ret = r;
	}
	st_pcapout_free(o);
	return ret;
}

/* Copy a string member; absent is "", another type or too long is bad. */
static int st_meta_str(json_t *root, const char *key, char *dst, size_t size)
{
	json_t *v = json_object_get(root, key);

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL;
	st_strlcpy(dst, json_string_value(v), size);
	return 0;
}

static int st_meta_uint(json_t *root, const char *key, uint64_t max,
			uint64_t *out)
{
	json_t *v = json_object_get(root, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -EINVAL;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int st_meta_time(json_t *root, const char *key, struct timespec *ts)
{
	json_t *v = json_object_get(root, key);

	memset(ts, 0, sizeof(*ts));
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	return st_parse_time(json_string_value(v), ts);
}

static int st_meta_lists(json_t *root, struct st_pcapout_meta *m)
{
	json_t *rules = json_object_get(root, "rules");
	json_t *ifs = json_object_get(root, "interfaces");
	json_t *v;
	size_t i;

	if (rules != NULL && !json_is_array(rules))
		return -EINVAL;
	json_array_foreach(rules, i, v)
	{
		const char *s = json_string_value(v);

		/* Names beside the capture only: no '/' may sneak in. */
		if (s == NULL || i >= ST_PCAPOUT_MAX_RULES ||
		    (strcmp(s, "rules") != 0 && strcmp(s, "rules6") != 0))
			return -EINVAL;
		st_strlcpy(m->rules[i], s, sizeof(m->rules[i]));
		m->nrules = i + 1;
	}
	if (ifs != NULL && !json_is_array(ifs))
		return -EINVAL;
	json_array_foreach(ifs, i, v)
	{
		json_t *idx = json_object_get(v, "index");
		const char *name =
			json_string_value(json_object_get(v, "name"));

		if (i >= ST_PCAPOUT_MAX_IFS || !json_is_integer(idx) ||
		    json_integer_value(idx) <= 0 ||
		    json_integer_value(idx) > 0xffffffffll || name == NULL ||
		    name[0] == '\0' || strlen(name) >= sizeof(m->ifs[i].name))
			return -EINVAL;
		m->ifs[i].index = (uint32_t)json_integer_value(idx);
		st_strlcpy(m->ifs[i].name, name, sizeof(m->ifs[i].name));
		m->nifs = i + 1;
	}
	return 0;
}

int st_pcapout_read_meta(const char *capture, struct st_pcapout_meta *meta,
			 char *err)
{
	char path[4096];
	json_error_t jerr;
	json_t *root = NULL;
	uint64_t v;
	struct stat sb;
	int ret;

	if (capture == NULL || meta == NULL)
		return st_err(err, EINVAL, "st_pcapout_read_meta: no capture");
	memset(meta, 0, sizeof(*meta));
	if (st_pcapout_side_path(path, sizeof(path), capture, ST_META_EXT) < 0)
		return st_err(err, ENAMETOOLONG, "%s.%s: name too long",
			      capture, ST_META_EXT);
	if (stat(path, &sb) < 0)
		return st_err(err, errno, "%s: %s", path, strerror(errno));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		ret = st_err(err, EINVAL, "%s:%d: %s", path, jerr.line,
			     jerr.text);
		goto out;
	}
	ret = -EINVAL;
	if (!json_is_object(root) ||
	    st_meta_uint(root, "version", INT32_MAX, &v) < 0 ||
	    v != ST_META_VERSION) {
		ret = st_err(err, EINVAL, "%s: not a version %d meta file",
			     path, ST_META_VERSION);
		goto out;
	}
	if (st_meta_str(root, "backend", meta->backend, sizeof(meta->backend)) <
		    0 ||
	    st_meta_str(root, "netns", meta->netns, sizeof(meta->netns)) < 0 ||
	    st_meta_str(root, "pod", meta->pod, sizeof(meta->pod)) < 0 ||
	    st_meta_time(root, "start", &meta->start) < 0 ||
	    st_meta_time(root, "end", &meta->end) < 0 ||
	    st_meta_uint(root, "records", INT64_MAX, &meta->records) < 0 ||
	    st_meta_lists(root, meta) < 0) {
		ret = st_err(err, EINVAL, "%s: a member has a bad value", path);
		goto out;
	}
	if (st_meta_uint(root, "session", UINT32_MAX, &v) < 0) {
		ret = st_err(err, EINVAL, "%s: bad session", path);
		goto out;
	}
	meta->session = (uint32_t)v;
	if (st_meta_uint(root, "group", UINT16_MAX, &v) < 0) {
		ret = st_err(err, EINVAL, "%s: bad group", path);
		goto out;
	}
	meta->group = (uint16_t)v;
	ret = 0;
out:
	json_decref(root);
	return ret;
}
