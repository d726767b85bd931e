// SPDX-License-Identifier: GPL-2.0-or-later
/* util.c - what the jobs of the command line share: errors, filter, rules. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "pipe.h"
#include "target.h"

void st_cli_runtime_error(FILE *err, const char *msg)
{
	/* One line: messages that list things keep them on that line. */
	fprintf(err, ST_PROG ": ");
	for (const char *p = msg; *p != '\0'; p++)
		fputc(*p == '\n' ? ' ' : *p, err);
	fputc('\n', err);
}

int st_cli_output_written(FILE *out, FILE *err, int ret)
{
	if (ret >= 0 && fflush(out) == 0)
		return 0;
	fprintf(err, ST_PROG ": writing the output failed: %s\n",
		strerror(ret < 0 ? -ret : errno));
	return -1;
}

int st_cli_filter(const struct st_cli_opts *o, struct st_filter **f, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE] = "";
	int ret;

	*f = NULL;
	if (o->filter[0] == '\0')
		return -1;
	ret = st_filter_new(f, o->filter, ebuf);
	if (ret == -EINVAL)
		return st_cli_usage_error(err, "%s", ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		return 1;
	}
	return -1;
}

int st_cli_load(const struct st_cli_opts *o, const char *const *paths,
		unsigned int n, struct st_ruleset **out, char *ebuf)
{
	struct st_tgt *tgt = NULL;
	int fd = -1;
	int ret;

	*out = NULL;
	if (n > 0)
		return st_pipe_rules_load(out, paths, n, ebuf);
	fd = st_session_target_open(&o->target, NULL, 0, ebuf);
	if (fd < 0)
		return fd;
	ret = st_tgt_read(fd, NULL, &tgt, ebuf);
	if (ret < 0)
		goto out;
	*out = st_tgt_take_rules(tgt);
	if (*out == NULL)
		ret = st_err(ebuf, ENOMEM, "out of memory");
out:
	st_tgt_free(tgt);
	close(fd);
	return ret;
}
