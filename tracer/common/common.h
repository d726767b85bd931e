/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * common.h - error buffers, callback protocol and bounds-checked byte access
 * shared by every sidecar-trace module.
 */
#ifndef ST_COMMON_H
#define ST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <endian.h>

/* Every module reports failures through a caller-provided buffer this big. */
#define ST_ERRBUF_SIZE 512

/* Callback protocol, as libmnl's: continue, stop cleanly, or fail. */
#define ST_CB_ERROR -1
#define ST_CB_STOP 0
#define ST_CB_OK 1

#define ST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define __st_printf(a, b) __attribute__((format(printf, a, b)))

/**
 * st_err() - fill an error buffer and return a negative errno.
 * @err: buffer of ST_ERRBUF_SIZE bytes, or NULL
 * @errnum: positive errno value describing the failure
 * @fmt: printf-style message: what failed and where
 *
 * Return: -@errnum, so that callers can write "return st_err(err, EINVAL, ...)".
 */
int st_err(char *err, int errnum, const char *fmt, ...) __st_printf(3, 4);

/**
 * st_note() - one line "sidecar-trace: MESSAGE" on the caller's diagnostic
 * stream, flushed: what a run inferred or left out, not an error.
 * @diag: the stream, or NULL for none
 * @fmt: printf-style message, without the newline
 */
void st_note(FILE *diag, const char *fmt, ...) __st_printf(2, 3);

/**
 * st_strlcpy() - copy a string into a fixed buffer, always terminated.
 * @dst: destination
 * @src: source string
 * @size: size of @dst
 *
 * Return: strlen(@src); a value >= @size means the copy was truncated.
 */
size_t st_strlcpy(char *dst, const char *src, size_t size);

/**
 * st_grow() - make room for @need elements in a realloc()ed array.
 * @arr: the array (a void ** cast of its address)
 * @cap: its capacity in elements, updated
 * @need: how many elements it must hold
 * @elem: the size of one element
 *
 * The capacity starts at 16 and doubles; on failure the array is left as
 * it was.
 *
 * Return: 0, or -ENOMEM.
 */
int st_grow(void **arr, size_t *cap, size_t need, size_t elem);

/*
 * A growing string, always NUL-terminated once written to; @oom sticks once
 * an allocation failed (later writes do nothing).  Start from {0}.
 */
struct st_strbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

/** st_strbuf_putn() - append @n bytes of @s. */
void st_strbuf_putn(struct st_strbuf *b, const char *s, size_t n);

/** st_strbuf_puts() - append the string @s. */
void st_strbuf_puts(struct st_strbuf *b, const char *s);

/** st_strbuf_printf() - append printf-style text. */
void st_strbuf_printf(struct st_strbuf *b, const char *fmt, ...)
	__st_printf(2, 3);

/** st_strbuf_reset() - empty it, keeping the memory (and @oom). */
void st_strbuf_reset(struct st_strbuf *b);

/** st_strbuf_dup() - a malloc'd copy ("" when empty), NULL after @oom. */
char *st_strbuf_dup(const struct st_strbuf *b);

/**
 * st_strbuf_take() - hand the string over (always NUL-terminated; the
 * buffer is left empty), or NULL when out of memory.
 */
char *st_strbuf_take(struct st_strbuf *b);

/** st_strbuf_free() - free the memory; the buffer is left empty. */
void st_strbuf_free(struct st_strbuf *b);

/*
 * Wire data is never read by casting to a struct: these getters copy the
 * bytes out (no alignment assumption) after the caller has checked the
 * remaining length with st_have().
 */
static inline bool st_have(size_t off, size_t need, size_t len)
{
	return off <= len && need <= len - off;
}

static inline uint8_t st_get_u8(const uint8_t *p)
{
	return p[0];
}

static inline uint16_t st_get_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t st_get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline uint64_t st_get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

/* Host order: LINKTYPE_NFLOG TLV type and length fields are host order. */
static inline uint16_t st_get_he16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* FNV-1a start values: a hash begins with one and folds bytes in. */
#define ST_FNV32_INIT 2166136261u
#define ST_FNV64_INIT 0xcbf29ce484222325ULL

/**
 * st_fnv32() - fold @n bytes at @p into the 32-bit FNV-1a hash @h.
 * Cheap and well spread for the short keys of the flow and chain tables.
 */
static inline uint32_t st_fnv32(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/**
 * st_fnv64() - fold @n bytes at @p into the 64-bit FNV-1a hash @h: wide
 * enough that a change of any byte of a large blob changes the sign.
 */
static inline uint64_t st_fnv64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/**
 * st_pow2() - a hash table's bucket count for @n entries: the smallest
 * power of two not below @n, and at least 16, so that size - 1 is a mask.
 */
static inline size_t st_pow2(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

/**
 * st_proto_parse() - an IP protocol by the name iptables or nft gives it
 * ("tcp", "ipv6-icmp", "icmpv6", ...; case does not matter).
 * Return: true with *@num set, false for an unknown name.
 */
bool st_proto_parse(const char *name, uint8_t *num);

/**
 * st_proto_name() - the usual name of IP protocol @num ("tcp", "icmpv6",
 * ...), or NULL when it has none here.
 */
const char *st_proto_name(uint8_t num);

#endif /* ST_COMMON_H */
