/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * values.c - an option's argument into the options: its syntax and range,
 * checked before anything is looked up.  Which options go together is
 * cli.c's table.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "cli-int.h"
#include "pod.h"

int st_cli_value(int c, const char *arg, struct st_cli_opts *o,
		 struct st_cli_given *g, FILE *err)
{
	char ebuf[ST_ERRBUF_SIZE];
	unsigned long long v;

	switch (c) {
	case OPT_RULES:
		if (o->nrules == ST_MAX_RULE_FILES)
			return st_cli_usage_error(err,
						  "at most %d --rules files",
						  ST_MAX_RULE_FILES);
		o->rules[o->nrules++] = arg;
		g->inputs |= IN_RULES;
		break;
	case OPT_REPLAY:
	case OPT_WRITE:
		if (arg[0] == '\0')
			return st_cli_usage_error(err, "--%s needs a file",
						  c == OPT_REPLAY ? "replay"
								  : "write");
		if (c == OPT_REPLAY)
			o->replay = arg, g->inputs |= IN_REPLAY;
		else
			o->write = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_SIMULATE:
		o->simulate = arg;
		break;
	case OPT_DIAGRAM:
		if (strcmp(arg, "all") == 0)
			v = 0;
		else if (!st_cli_parse_ulong(arg, 1, ST_TYPE_AMBIENT_MIN + 5,
					     &v))
			return st_cli_usage_error(
				err,
				"--diagram: '%s' is not a traffic type (1-6 sidecar, 7-12 ambient, or all)",
				arg);
		o->diagram = (int)v;
		break;
	case OPT_POD_IP:
		if (st_cli_parse_pod_ip(o, arg) < 0)
			return st_cli_usage_error(
				err,
				"--pod-ip: '%s' is not an IPv4 or IPv6 address (at most %d)",
				arg, ST_EVAL_MAX_ADDRS);
		break;
	case OPT_OUTPUT:
		if (arg[0] == '\0')
			return st_cli_usage_error(err, "-o needs a path");
		o->output = arg;
		break;
	case OPT_POD:
		if (st_pod_check_name(arg, ebuf) < 0)
			return st_cli_usage_error(err, "--pod: %s", ebuf);
		o->target.pod = arg;
		g->ntargets++;
		break;
	case OPT_NAMESPACE:
		if (st_pod_check_namespace(arg, ebuf) < 0)
			return st_cli_usage_error(err, "--namespace: %s", ebuf);
		o->target.pod_ns = arg;
		break;
	case OPT_NETNS:
		if (arg[0] == '\0')
			return st_cli_usage_error(err, "--netns needs a path");
		o->target.netns =
			strcmp(arg, "self") == 0 ? ST_CLI_NETNS_SELF : arg;
		g->ntargets++;
		break;
	case OPT_HOST_ROOT:
		if (arg[0] == '\0')
			return st_cli_usage_error(
				err, "--host-root needs a directory");
		o->host_root = arg;
		break;
	case OPT_PID:
		if (!st_cli_parse_ulong(arg, 1, INT_MAX, &v))
			return st_cli_usage_error(
				err, "--pid: '%s' is not a process id", arg);
		o->target.pid = (int)v;
		g->ntargets++;
		break;
	case OPT_DURATION:
		if (!st_cli_parse_seconds(arg, &o->duration_ms))
			return st_cli_usage_error(
				err,
				"--duration: '%s' is not a positive number of seconds",
				arg);
		break;
	case OPT_COUNT:
		if (!st_cli_parse_ulong(arg, 1, UINT64_MAX, &v))
			return st_cli_usage_error(
				err,
				"--count: '%s' is not a positive number of flows",
				arg);
		o->count = v;
		break;
	case OPT_SKIP_EMPTY_CHAINS:
		o->skip_empty = true;
		break;
	case OPT_NO_REATTACH:
		o->no_reattach = true;
		break;
	case OPT_INSTRUMENT:
		if (strcmp(arg, "full") == 0)
			o->instrument_full = true;
		else if (strcmp(arg, "minimal") == 0)
			o->instrument_full = false;
		else
			return st_cli_usage_error(
				err,
				"--instrument: '%s' is not minimal or full",
				arg);
		break;
	case OPT_RCVBUF:
		if (!st_cli_parse_bytes(arg, ST_RCVBUF_MIN, ST_RCVBUF_MAX,
					&o->rcvbuf))
			return st_cli_usage_error(
				err,
				"--rcvbuf: '%s' is not a buffer size (4K-1024M)",
				arg);
		break;
	case OPT_MAX_FLOWS:
		if (!st_cli_parse_ulong(arg, 1, 65536, &v))
			return st_cli_usage_error(
				err,
				"--max-flows: '%s' is not a number of flows (1-65536)",
				arg);
		o->max_flows = (unsigned int)v;
		break;
	case OPT_ENVOY_LOG:
		if (arg[0] == '\0')
			return st_cli_usage_error(
				err, "--envoy-log needs a file (or auto)");
		o->envoy_log = arg;
		break;
	case OPT_ENVOY_LOG_WAIT:
		if (!st_cli_parse_ulong(arg, 1, 600000, &v))
			return st_cli_usage_error(
				err,
				"--envoy-log-wait: '%s' is not a number of milliseconds (1-600000)",
				arg);
		o->envoy_wait_ms = (unsigned int)v;
		break;
	case OPT_GROUP:
		if (!st_cli_parse_ulong(arg, 0, 65535, &v))
			return st_cli_usage_error(
				err,
				"--group: '%s' is not an NFLOG group (0-65535)",
				arg);
		o->group = (int)v;
		break;
	default: /* the job options: their presence is their value */
		break;
	}
	return -1;
}
