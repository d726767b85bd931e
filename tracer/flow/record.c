// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * record.c - decoding a hit record's IP/TCP/UDP headers, and the NFLOG
 * prefix tags that say which rule a record stands for.
 *
 * Tag grammar (sidecar-trace's own, at most 63 characters):
 *
 *	st:<session: 8 hex>:<kind: h|e|p|r>:<table>:<chain>:<rule>
 *
 * The table never contains ':' (iptables tables are fixed words, nft table
 * names are identifiers), so it ends at the first ':' after the kind; the
 * rule number follows the last ':'; the chain is everything in between, so
 * a chain name with ':' in it still round-trips.
 *
 * The kernel's TRACE target, logged through nfnetlink_log, sends
 * "TRACE: <table>:<chain>:<rule|return|policy>:<n> " (with that trailing
 * space): the same split works for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "record.h"

#define ST_TAG_MAGIC "st:"
#define ST_TRACE_MAGIC "TRACE: "
#define ST_TAG_SESSION_DIGITS 8
/* Enough for IPv6 chains seen in practice; bounds the walk in any case. */
#define ST_IP6_MAX_EXTHDRS 16

static const struct {
	enum st_hit_kind kind;
	char letter;
} st_tag_kinds[] = {
	{ST_HIT_RULE, 'h'},
	{ST_HIT_ENTER, 'e'},
	{ST_HIT_POLICY, 'p'},
	{ST_HIT_RETURN, 'r'},
};

static const struct {
	const char *word;
	enum st_hit_kind kind;
} st_trace_kinds[] = {
	{"rule", ST_HIT_RULE},
	{"return", ST_HIT_RETURN},
	{"policy", ST_HIT_POLICY},
};

/* Ports and flags of a TCP or UDP header at @off, within @end. */
static int st_decode_l4(struct st_rec *rec, const uint8_t *p, size_t off,
			size_t end)
{
	switch (rec->proto) {
	case IPPROTO_TCP:
		/* Ports, data offset and flags: the first 14 bytes. */
		if (!st_have(off, 14, end))
			return -EINVAL;
		if ((st_get_u8(p + off + 12) >> 4) < 5)
			return -EINVAL;
		rec->tcp_flags = st_get_u8(p + off + 13);
		break;
	case IPPROTO_UDP:
		if (!st_have(off, 8, end))
			return -EINVAL;
		break;
	default:
		return 0;
	}
	rec->sport = st_get_be16(p + off);
	rec->dport = st_get_be16(p + off + 2);
	rec->l4_ok = true;
	return 0;
}

static int st_decode_ip4(struct st_rec *rec, const uint8_t *p, size_t len)
{
	size_t ihl, tot, end;
	uint16_t frag;

	if (!st_have(0, 20, len))
		return -EINVAL;
	ihl = (size_t)(st_get_u8(p) & 0x0f) * 4;
	if (ihl < 20)
		return -EINVAL;
	tot = st_get_be16(p + 2);
	/*
	 * 0 is what BIG TCP (GSO beyond 64 KiB) leaves in tot_len: the length
	 * is unknown, not bogus; trust what was captured.
	 */
	if (tot != 0 && tot < ihl)
		return -EINVAL;
	end = (tot == 0 || tot > len) ? len : tot;

	rec->family = 4;
	rec->proto = st_get_u8(p + 9);
	memcpy(rec->src, p + 12, 4);
	memcpy(rec->dst, p + 16, 4);

	if (!st_have(0, ihl, end))
		return -EINVAL;
	frag = st_get_be16(p + 6);
	/* Only the first fragment carries the transport header. */
	if ((frag & 0x1fff) != 0)
		return 0;
	return st_decode_l4(rec, p, ihl, end);
}

static int st_decode_ip6(struct st_rec *rec, const uint8_t *p, size_t len)
{
	size_t plen, end, off = 40;
	uint8_t nh;
	int i;

	if (!st_have(0, 40, len))
		return -EINVAL;
	plen = st_get_be16(p + 4);
	/* 0: a jumbogram or BIG TCP; the length is not in this field. */
	end = (plen == 0 || 40 + plen > len) ? len : 40 + plen;

	rec->family = 6;
	memcpy(rec->src, p + 8, 16);
	memcpy(rec->dst, p + 24, 16);
	nh = st_get_u8(p + 6);

	/* Every extension header is at least 8 bytes: the walk advances. */
	for (i = 0; i < ST_IP6_MAX_EXTHDRS; i++) {
		rec->proto = nh;
		switch (nh) {
		case IPPROTO_HOPOPTS:
			/* Hop-by-hop may only follow the fixed header. */
			if (off != 40)
				return -EINVAL;
			/* fall through */
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (!st_have(off, 2, end))
				return -EINVAL;
			nh = st_get_u8(p + off);
			off += ((size_t)st_get_u8(p + off + 1) + 1) * 8;
			break;
		case IPPROTO_AH:
			if (!st_have(off, 2, end))
				return -EINVAL;
			nh = st_get_u8(p + off);
			off += ((size_t)st_get_u8(p + off + 1) + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if (!st_have(off, 8, end))
				return -EINVAL;
			/* Later fragments have no transport header. */
			if ((st_get_be16(p + off + 2) & 0xfff8) != 0) {
				rec->proto = st_get_u8(p + off);
				return 0;
			}
			nh = st_get_u8(p + off);
			off += 8;
			break;
		case IPPROTO_NONE:
		case IPPROTO_ESP: /* encrypted from here on */
			return 0;
		default:
			return st_decode_l4(rec, p, off, end);
		}
		if (off > end)
			return -EINVAL;
	}
	return -EINVAL;
}

int st_rec_decode_l3(struct st_rec *rec)
{
	size_t len;

	if (rec == NULL)
		return -EINVAL;
	rec->family = 0;
	rec->proto = 0;
	rec->l4_ok = false;
	memset(rec->src, 0, sizeof(rec->src));
	memset(rec->dst, 0, sizeof(rec->dst));
	rec->sport = 0;
	rec->dport = 0;
	rec->tcp_flags = 0;

	len = rec->caplen < ST_REC_SNAPLEN ? rec->caplen : ST_REC_SNAPLEN;
	if (!st_have(0, 1, len))
		return -EINVAL;
	switch (st_get_u8(rec->payload) >> 4) {
	case 4:
		return st_decode_ip4(rec, rec->payload, len);
	case 6:
		return st_decode_ip6(rec, rec->payload, len);
	default:
		return -EINVAL;
	}
}

/* A name fits the struct, is not empty and has no control characters. */
static bool st_tag_name_ok(const char *s, size_t size, bool colon_ok)
{
	size_t n = strnlen(s, size);
	size_t i;

	if (n == 0 || n == size)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c == ':' && !colon_ok))
			return false;
	}
	return true;
}

int st_tag_format(char *buf, const struct st_hit *hit)
{
	char tmp[2 * ST_NFLOG_PREFIX_SIZE + 32];
	char letter = 0;
	size_t i;
	int n;

	if (buf == NULL || hit == NULL)
		return -EINVAL;
	buf[0] = '\0';
	for (i = 0; i < ST_ARRAY_SIZE(st_tag_kinds); i++)
		if (st_tag_kinds[i].kind == hit->kind)
			letter = st_tag_kinds[i].letter;
	if (letter == 0)
		return -EINVAL;
	if (hit->minimal)
		letter = (char)(letter - 'a' + 'A');
	if (!st_tag_name_ok(hit->table, sizeof(hit->table), false) ||
	    !st_tag_name_ok(hit->chain, sizeof(hit->chain), true))
		return -EINVAL;

	n = snprintf(tmp, sizeof(tmp), ST_TAG_MAGIC "%08x:%c:%s:%s:%u",
		     (unsigned int)hit->session, letter, hit->table, hit->chain,
		     hit->rule);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= ST_NFLOG_PREFIX_SIZE)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, (size_t)n + 1);
	return 0;
}

/* Strict decimal: no sign, no blanks, no leading zero, fits unsigned int. */
static int st_parse_uint(const char *s, size_t n, unsigned int *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > 0xffffffffull)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int st_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The last ':' in @s[0, @n), or NULL. */
static const char *st_last_colon(const char *s, size_t n)
{
	while (n > 0) {
		if (s[--n] == ':')
			return s + n;
	}
	return NULL;
}

/*
 * Split "<table>:<chain>" (@n bytes, not terminated): the table ends at
 * the first ':'; both non-empty, printable and fitting their buffers.
 */
static int st_split_tc(const char *s, size_t n, struct st_hit *hit)
{
	const char *c = memchr(s, ':', n);
	size_t tlen, clen, i;

	if (c == NULL)
		return -EINVAL;
	tlen = (size_t)(c - s);
	clen = n - tlen - 1;
	if (tlen == 0 || tlen >= sizeof(hit->table) || clen == 0 ||
	    clen >= sizeof(hit->chain))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -EINVAL;
	memcpy(hit->table, s, tlen);
	hit->table[tlen] = '\0';
	memcpy(hit->chain, c + 1, clen);
	hit->chain[clen] = '\0';
	return 0;
}

static int st_tag_parse_own(const char *s, struct st_hit *hit)
{
	size_t n = strnlen(s, ST_NFLOG_PREFIX_SIZE);
	const char *c;
	uint32_t session = 0;
	size_t i;

	/* "st:" + 8 hex + ":" + kind + ":" = 14, then table:chain:rule. */
	if (n >= ST_NFLOG_PREFIX_SIZE || n < 14 + 5)
		return -EINVAL;
	for (i = 0; i < ST_TAG_SESSION_DIGITS; i++) {
		int v = st_hexval(s[3 + i]);

		if (v < 0)
			return -EINVAL;
		session = session << 4 | (uint32_t)v;
	}
	if (s[11] != ':' || s[13] != ':')
		return -EINVAL;
	for (i = 0; i < ST_ARRAY_SIZE(st_tag_kinds); i++) {
		if (st_tag_kinds[i].letter == s[12]) {
			hit->kind = st_tag_kinds[i].kind;
		} else if (st_tag_kinds[i].letter - 'a' + 'A' == s[12]) {
			hit->kind = st_tag_kinds[i].kind;
			hit->minimal = true;
		}
	}
	if (hit->kind == ST_HIT_NONE)
		return -EINVAL;
	s += 14;
	n -= 14;
	c = st_last_colon(s, n);
	if (c == NULL || st_split_tc(s, (size_t)(c - s), hit) < 0 ||
	    st_parse_uint(c + 1, n - (size_t)(c + 1 - s), &hit->rule) < 0)
		return -EINVAL;
	hit->session = session;
	return 0;
}

static int st_tag_parse_trace(const char *s, struct st_hit *hit)
{
	size_t n = strnlen(s, ST_NFLOG_PREFIX_SIZE);
	const char *cnum, *cword;
	size_t wlen, i;
	unsigned int num;

	if (n >= ST_NFLOG_PREFIX_SIZE)
		return -EINVAL;
	s += strlen(ST_TRACE_MAGIC);
	n -= strlen(ST_TRACE_MAGIC);
	/* The kernel ends its format with a blank. */
	while (n > 0 && s[n - 1] == ' ')
		n--;
	/* table:chain:word:num */
	cnum = st_last_colon(s, n);
	if (cnum == NULL ||
	    st_parse_uint(cnum + 1, n - (size_t)(cnum + 1 - s), &num) < 0)
		return -EINVAL;
	cword = st_last_colon(s, (size_t)(cnum - s));
	if (cword == NULL)
		return -EINVAL;
	wlen = (size_t)(cnum - cword - 1);
	for (i = 0; i < ST_ARRAY_SIZE(st_trace_kinds); i++)
		if (strlen(st_trace_kinds[i].word) == wlen &&
		    memcmp(st_trace_kinds[i].word, cword + 1, wlen) == 0)
			hit->kind = st_trace_kinds[i].kind;
	if (hit->kind == ST_HIT_NONE ||
	    st_split_tc(s, (size_t)(cword - s), hit) < 0)
		return -EINVAL;
	hit->rule = hit->kind == ST_HIT_POLICY ? 0 : num;
	hit->trace = true;
	return 0;
}

/*
 * @prefix must be NUL-terminated (as libnetfilter_log hands it over); no
 * more than ST_NFLOG_PREFIX_SIZE bytes of it are read, and a prefix that
 * is not terminated within them is not a valid tag.
 */
int st_tag_parse(const char *prefix, struct st_hit *hit)
{
	int ret;

	if (hit == NULL)
		return -EINVAL;
	memset(hit, 0, sizeof(*hit));
	if (prefix == NULL)
		return 0;
	if (strncmp(prefix, ST_TAG_MAGIC, strlen(ST_TAG_MAGIC)) == 0) {
		ret = st_tag_parse_own(prefix, hit);
		if (ret < 0)
			memset(hit, 0, sizeof(*hit));
		return ret;
	}
	if (strncmp(prefix, ST_TRACE_MAGIC, strlen(ST_TRACE_MAGIC)) == 0 &&
	    st_tag_parse_trace(prefix, hit) < 0)
		memset(hit, 0, sizeof(*hit));
	return 0;
}

#define ST_TCP_SYN 0x02
#define ST_TCP_ACK 0x10

bool st_rec_is_bare_syn(const struct st_rec *rec)
{
	return rec->proto == IPPROTO_TCP &&
	       (rec->tcp_flags & (ST_TCP_SYN | ST_TCP_ACK)) == ST_TCP_SYN;
}

bool st_rec_may_start_leg(const struct st_rec *rec)
{
	return rec->proto != IPPROTO_TCP || st_rec_is_bare_syn(rec);
}

uint64_t st_rec_seq_next(struct st_rec_seq *s, uint32_t seq, uint32_t *missing)
{
	uint32_t d = seq - s->next;
	bool ahead = d < 0x80000000u;

	*missing = (s->seen || s->from_zero) && ahead ? d : 0;
	if (!s->seen)
		s->seq64 = seq;
	else
		s->seq64 += ahead ? (uint64_t)d + 1 : 1;
	s->seen = true;
	s->next = seq + 1;
	return s->seq64;
}

/* ---- the tag cache ---------------------------------------------------- */

#define ST_TAGCACHE_SLOTS 1024 /* a power of two; more tags: not cached */

struct st_tagcache_slot {
	bool used;
	int ret;
	/* The prefix, zero-padded: hashed and compared a word at a time. */
	uint64_t key[ST_NFLOG_PREFIX_SIZE / 8];
	struct st_hit hit;
};

struct st_tagcache {
	uint32_t space; /* this cache's number */
	unsigned int n;
	struct st_tagcache_slot slot[ST_TAGCACHE_SLOTS];
};

struct st_tagcache *st_tagcache_new(void)
{
	/* Numbered so that a cache at a freed one's address is another. */
	static uint32_t spaces;
	struct st_tagcache *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->space = ++spaces ? spaces : ++spaces;
	return c;
}

void st_tagcache_free(struct st_tagcache *c)
{
	free(c);
}

int st_tagcache_parse(struct st_tagcache *c, const char *prefix,
		      struct st_hit *hit)
{
	uint64_t key[ST_NFLOG_PREFIX_SIZE / 8] = {0};
	struct st_tagcache_slot *s = NULL;
	uint64_t h = 0;
	size_t n, words;
	int ret;

	if (c == NULL || prefix == NULL || hit == NULL)
		return st_tag_parse(prefix, hit);
	n = strnlen(prefix, ST_NFLOG_PREFIX_SIZE);
	if (n == ST_NFLOG_PREFIX_SIZE)
		return st_tag_parse(prefix, hit);
	memcpy(key, prefix, n);
	words = n / 8 + 1; /* the rest are zero in every key */
	for (size_t i = 0; i < words; i++)
		h = (h ^ key[i]) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	for (unsigned int i = 0; i < ST_TAGCACHE_SLOTS; i++) {
		s = &c->slot[(h + i) & (ST_TAGCACHE_SLOTS - 1)];
		if (!s->used)
			break;
		if (memcmp(s->key, key, words * 8) == 0 &&
		    (words == ST_NFLOG_PREFIX_SIZE / 8 || s->key[words] == 0)) {
			*hit = s->hit;
			return s->ret;
		}
		s = NULL;
	}
	ret = st_tag_parse(prefix, hit);
	/* Keep a quarter free so that a miss ends soon. */
	if (s == NULL || c->n >= ST_TAGCACHE_SLOTS / 4 * 3)
		return ret;
	if (hit->kind != ST_HIT_NONE) {
		hit->id = ++c->n;
		hit->id_space = c->space;
	} else {
		c->n++;
	}
	s->used = true;
	s->ret = ret;
	memcpy(s->key, key, sizeof(key));
	s->hit = *hit;
	return ret;
}
