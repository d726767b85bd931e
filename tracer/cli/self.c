// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * self.c - the network namespace sidecar-trace runs in as the target:
 * `--netns self`, and no target at all where that namespace holds a pod's
 * Istio rules (inside the pod, as `kubectl debug --profile=netadmin`
 * runs it: only CAP_NET_ADMIN and CAP_NET_RAW, the pod's network and UTS
 * namespaces, none of its processes).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-int.h"
#include "netns.h"
#include "pipe.h"
#include "pod.h"
#include "target.h"

bool st_cli_self_target(struct st_cli_opts *o)
{
	struct st_istio_settings set;
	char ebuf[ST_ERRBUF_SIZE], from[128];
	struct st_ruleset *rs = NULL;
	struct st_tgt *tgt = NULL;
	struct st_pod self;
	bool yes = false;
	int fd;

	o->self_probed = true;
	/* The node's own rules are never a target by default. */
	if (st_pod_self(NULL, &self, from, sizeof(from), ebuf) < 0 ||
	    self.host_netns)
		return false;
	fd = st_netns_open(ST_CLI_NETNS_SELF, ebuf);
	if (fd < 0)
		return false;
	if (st_tgt_read(fd, NULL, &tgt, ebuf) == 0) {
		rs = st_tgt_take_rules(tgt);
		yes = rs != NULL &&
		      st_pipe_rules_accept(rs, &set, ST_PIPE_USE_ANY, NULL,
					   ebuf) == 0 &&
		      (set.kind == ST_ISTIO_SIDECAR ||
		       set.kind == ST_ISTIO_AMBIENT);
		o->self_backend = st_tgt_backend(tgt);
	}
	st_ruleset_free(rs);
	st_tgt_free(tgt);
	close(fd);
	if (yes) {
		o->target.netns = ST_CLI_NETNS_SELF;
		o->self_implicit = true;
	}
	return yes;
}

void st_cli_self_label(const struct st_cli_opts *o, struct st_session_target *t,
		       char *label, size_t size, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE], from[128];
	struct st_pod self;

	if (t->netns == NULL || strcmp(t->netns, ST_CLI_NETNS_SELF) != 0)
		return;
	if (st_pod_self(NULL, &self, from, sizeof(from), ebuf) < 0)
		return;
	if (self.name[0] != '\0')
		snprintf(label, size, "pod %s/%s (this network namespace)",
			 self.ns[0] != '\0' ? self.ns : "?", self.name);
	else
		snprintf(label, size, "this network namespace");
	t->label = label;
	if (!o->self_implicit)
		return;
	if (self.name[0] != '\0')
		fprintf(err,
			ST_PROG
			": no target given: tracing the network namespace it runs in, which holds Istio's %s rules: pod %s/%s (from %s)\n",
			st_backend_name(o->self_backend),
			self.ns[0] != '\0' ? self.ns : "?", self.name, from);
	else
		fprintf(err,
			ST_PROG
			": no target given: tracing the network namespace it runs in, which holds Istio's %s rules\n",
			st_backend_name(o->self_backend));
}

void st_cli_host_root(struct st_cli_opts *o)
{
	const char *t = o->target.netns;

	if (o->host_root == NULL)
		o->host_root = st_pod_default_host_root();
	o->target.host_root = o->host_root;
	if (o->host_root == NULL || strcmp(o->host_root, "/") == 0 ||
	    t == NULL || strchr(t, '/') != NULL)
		return;
	/* As st_netns_open() would, but in the node's /run/netns. */
	if (strcmp(t, ".") != 0 && strcmp(t, "..") != 0 &&
	    (size_t)snprintf(o->netns_path, sizeof(o->netns_path),
			     "%s/run/netns/%s", o->host_root,
			     t) < sizeof(o->netns_path))
		o->target.netns = o->netns_path;
}
