// SPDX-License-Identifier: GPL-2.0-or-later
/* nftjson.c - nft JSON parser (stub, being written). */
#include <errno.h>

#include "rules-int.h"

int st_nftjson_parse(struct st_ruleset *rs, const char *buf, size_t len,
		     const char *name, char *err)
{
	(void)rs;
	(void)buf;
	(void)len;
	return st_err(err, ENOSYS, "%s: nft JSON parser not built yet",
		      name);
}
