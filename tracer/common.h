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
 * st_strlcpy() - copy a string into a fixed buffer, always terminated.
 * @dst: destination
 * @src: source string
 * @size: size of @dst
 *
 * Return: strlen(@src); a value >= @size means the copy was truncated.
 */
size_t st_strlcpy(char *dst, const char *src, size_t size);

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

#endif /* ST_COMMON_H */
