// SPDX-License-Identifier: GPL-2.0-or-later
/* istio.c - Istio recogniser (stub, being written). */
#include <errno.h>
#include <string.h>

#include "istio.h"

int st_istio_analyze(struct st_ruleset *rs, struct st_istio_settings *out,
		     char *err)
{
	(void)rs;
	memset(out, 0, sizeof(*out));
	return st_err(err, ENOSYS, "recogniser not built yet");
}

const char *st_istio_kind_name(enum st_istio_kind k)
{
	(void)k;
	return "none";
}

const char *st_istio_mode_name(enum st_istio_mode m)
{
	return m == ST_MODE_TPROXY ? "TPROXY" : "REDIRECT";
}

const char *st_istio_era_name(enum st_istio_era e)
{
	(void)e;
	return "unknown";
}

bool st_istio_is_istio_chain(const char *name)
{
	return strncmp(name, "ISTIO_", 6) == 0 || strncmp(name, "istio-", 6) == 0;
}
