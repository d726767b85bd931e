// SPDX-License-Identifier: GPL-2.0-or-later
/* cleanup.c - --cleanup: the rules dead sessions left in a target. */
#include <unistd.h>

#include "cli-int.h"

int st_cli_cleanup(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";
	char desc[320];
	unsigned int removed = 0;
	int fd, n;

	(void)out;
	fd = st_session_target_open(&o->target, desc, sizeof(desc), ebuf);
	if (fd < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	n = st_session_cleanup(fd, ST_BACKEND_UNKNOWN, 0, NULL, err, &removed,
			       ebuf);
	close(fd);
	if (n < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	if (n == 0)
		fprintf(err, ST_PROG ": %s: no rules of dead sessions found\n",
			desc);
	return 0;
}
