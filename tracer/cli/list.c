// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * list.c - --list: the Istio pods on this node, sidecar (native or not)
 * and ambient, with the backend and interception mode their rules show.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "pipe.h"
#include "pod.h"
#include "target.h"

/*
 * Backend and interception mode of one pod, read from its rules; its
 * dataplane mode too when the rules say ambient.
 */
static void st_cli_pod_rules(const struct st_pod *pod,
			     const struct st_pod_opts *po, const char **backend,
			     const char **mode, enum st_pod_mode *kind)
{
	struct st_istio_settings set;
	char ebuf[ST_ERRBUF_SIZE];
	struct st_tgt *tgt = NULL;
	struct st_ruleset *rs = NULL;
	int fd;

	*backend = "-";
	*mode = pod->interception_mode[0] ? pod->interception_mode : "-";
	*kind = pod->mode;
	fd = st_pod_netns_open(pod, po, ebuf);
	if (fd < 0)
		return;
	if (st_tgt_read(fd, NULL, &tgt, ebuf) == 0) {
		*backend = st_backend_name(st_tgt_backend(tgt));
		rs = st_tgt_take_rules(tgt);
		if (rs != NULL &&
		    st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL,
					 ebuf) == 0) {
			if (set.kind == ST_ISTIO_SIDECAR)
				*mode = st_istio_mode_name(set.mode);
			else if (set.kind == ST_ISTIO_AMBIENT)
				*kind = ST_POD_MODE_AMBIENT;
		}
	}
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	close(fd);
}

int st_cli_list(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_pod_opts po = {.host_root = o->host_root};
	struct st_pod_list *l = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	ret = st_pod_scan(&po, &l, ebuf);
	if (ret < 0) {
		st_cli_runtime_error(err, ebuf);
		goto out;
	}
	if (st_pod_list_note(l)[0] != '\0')
		fprintf(err, ST_PROG ": %s\n", st_pod_list_note(l));
	if (!o->json && st_pod_list_count(l) > 0)
		fprintf(out, "%-16s %-40s %8s  %-16s %-14s %s\n", "NAMESPACE",
			"NAME", "PID", "BACKEND", "MODE", "INTERCEPTION");
	for (size_t i = 0; i < st_pod_list_count(l); i++) {
		const struct st_pod *p = st_pod_list_get(l, i);
		const char *backend, *mode;
		enum st_pod_mode kind;

		st_cli_pod_rules(p, &po, &backend, &mode, &kind);
		if (kind == ST_POD_MODE_AMBIENT)
			mode = "-"; /* ztunnel captures; no Envoy mode */
		if (o->json) {
			json_t *j = json_pack(
				"{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "name",
				p->name, "namespace", p->ns, "pid", p->pid,
				"mode", st_pod_mode_name(kind), "backend",
				backend, "interception_mode", mode, "netns",
				p->netns_path);

			ret = j ? json_dumpf(j, out, JSON_COMPACT) : -1;
			json_decref(j);
			if (ret == 0)
				fputc('\n', out);
		} else {
			/* An ambient namespace nothing named: by its path. */
			fprintf(out, "%-16s %-40s %8d  %-16s %-14s %s\n",
				p->ns[0] ? p->ns : "?",
				p->name[0]	   ? p->name
				: p->netns_path[0] ? p->netns_path
						   : "?",
				p->pid, backend, st_pod_mode_name(kind), mode);
		}
	}
	if (st_pod_list_count(l) == 0)
		fprintf(err, ST_PROG
			": no Istio pods (sidecar or ambient) found on this node\n");
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
