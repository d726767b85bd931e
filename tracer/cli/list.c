// SPDX-License-Identifier: GPL-2.0-or-later
/* list.c - --list: the sidecar pods on this node. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "pipe.h"
#include "pod.h"
#include "target.h"

/* Backend and interception mode of one pod, read from its rules. */
static void st_cli_pod_rules(const struct st_pod *pod, const char **backend,
			     const char **mode)
{
	struct st_istio_settings set;
	char ebuf[ST_ERRBUF_SIZE];
	struct st_tgt *tgt = NULL;
	struct st_ruleset *rs = NULL;
	int fd;

	*backend = "-";
	*mode = pod->interception_mode[0] ? pod->interception_mode : "-";
	fd = st_pod_netns_open(pod, NULL, ebuf);
	if (fd < 0)
		return;
	if (st_tgt_read(fd, NULL, &tgt, ebuf) == 0) {
		*backend = st_backend_name(st_tgt_backend(tgt));
		rs = st_tgt_take_rules(tgt);
		if (rs != NULL &&
		    st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL,
					 ebuf) == 0 &&
		    set.kind == ST_ISTIO_SIDECAR)
			*mode = st_istio_mode_name(set.mode);
	}
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	close(fd);
}

int st_cli_list(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_pod_list *l = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	ret = st_pod_scan(NULL, &l, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (st_pod_list_note(l)[0] != '\0')
		fprintf(err, ST_PROG ": %s\n", st_pod_list_note(l));
	if (!o->json && st_pod_list_count(l) > 0)
		fprintf(out, "%-16s %-40s %8s  %-16s %s\n", "NAMESPACE", "NAME",
			"PID", "BACKEND", "MODE");
	for (size_t i = 0; i < st_pod_list_count(l); i++) {
		const struct st_pod *p = st_pod_list_get(l, i);
		const char *backend, *mode;

		st_cli_pod_rules(p, &backend, &mode);
		if (o->json) {
			json_t *j = json_pack(
				"{s:s, s:s, s:i, s:s, s:s}", "name", p->name,
				"namespace", p->ns, "pid", p->pid, "backend",
				backend, "interception_mode", mode);

			ret = j ? json_dumpf(j, out, JSON_COMPACT) : -1;
			json_decref(j);
			if (ret == 0)
				fputc('\n', out);
		} else {
			fprintf(out, "%-16s %-40s %8d  %-16s %s\n", p->ns,
				p->name, p->pid, backend, mode);
		}
	}
	if (st_pod_list_count(l) == 0)
		fprintf(err,
			ST_PROG ": no Istio sidecar pods found on this node\n");
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(err, ST_PROG ": writing the output failed: %s\n",
			strerror(errno));
		goto out;
	}
	rc = 0;
out:
	st_pod_list_free(l);
	return rc;
}
