// SPDX-License-Identifier: GPL-2.0-or-later
/* common.c - error buffer helpers. */
#include <errno.h>
#include <stdio.h>

#include "common.h"

int st_err(char *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err, ST_ERRBUF_SIZE, fmt, ap);
		va_end(ap);
	}
	if (errnum <= 0)
		errnum = EINVAL;
	return -errnum;
}

size_t st_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}
