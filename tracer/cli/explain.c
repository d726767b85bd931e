// SPDX-License-Identifier: GPL-2.0-or-later
/* explain.c - --explain: the sidecar settings and every Istio rule's role. */
#include "cli-int.h"
#include "explain.h"
#include "pipe.h"

int st_cli_explain(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	ret = st_cli_load(o, o->rules, o->nrules, &rs, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	ret = st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (o->json)
		ret = st_explain_json(out, rs, &set);
	else
		ret = st_explain_text(out, rs, &set);
	if (st_cli_output_written(out, err, ret) < 0)
		goto out;
	rc = 0;
out:
	st_ruleset_free(rs);
	return rc;
}
