// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cli.c - the command line.  One option table drives getopt_long and
 * --help (nftables' src/main.c pattern); st_cli_run() is what main()
 * calls and what the tests call.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "explain.h"
#include "istio.h"
#include "rules.h"

#define ST_PROG "sidecar-trace"
#define ST_MAX_RULE_FILES 4

enum st_opt_val {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_RULES = 'r',
	OPT_EXPLAIN = 'e',
	OPT_JSON = 'j',
	OPT_INVALID = '?',
};

enum st_opt_section {
	SEC_INPUT,
	SEC_JOB,
	SEC_OUTPUT,
	SEC_GENERAL,
};

struct st_opt {
	const char *name;
	enum st_opt_val val;
	const char *arg; /* NULL: the option takes no argument */
	const char *help;
	enum st_opt_section section;
};

static const struct st_opt st_options[] = {
	{ "rules", OPT_RULES, "FILE",
	  "read saved rules (iptables-save, ip6tables-save or nft -j list ruleset); give it twice for IPv4 + IPv6",
	  SEC_INPUT },
	{ "explain", OPT_EXPLAIN, NULL,
	  "print the sidecar settings and the role of every Istio rule",
	  SEC_JOB },
	{ "json", OPT_JSON, NULL, "print JSON instead of text", SEC_OUTPUT },
	{ "help", OPT_HELP, NULL, "show this help and exit", SEC_GENERAL },
	{ "version", OPT_VERSION, NULL, "show the version and exit",
	  SEC_GENERAL },
};

static const char *const st_section_names[] = {
	[SEC_INPUT] = "Input",
	[SEC_JOB] = "What to do",
	[SEC_OUTPUT] = "Output",
	[SEC_GENERAL] = "General",
};

struct st_cli_opts {
	const char *rules[ST_MAX_RULE_FILES];
	unsigned int nrules;
	bool explain;
	bool json;
};

static void st_cli_help(FILE *out)
{
	fprintf(out,
		"Usage: " ST_PROG " [OPTIONS]\n"
		"Show which iptables/nftables rules the packets of an Istio sidecar pod pass.\n");
	for (size_t s = 0; s < ST_ARRAY_SIZE(st_section_names); s++) {
		fprintf(out, "\n%s:\n", st_section_names[s]);
		for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++) {
			const struct st_opt *o = &st_options[i];
			char buf[64];

			if (o->section != s)
				continue;
			snprintf(buf, sizeof(buf), "  -%c, --%s%s%s", o->val,
				 o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
			fprintf(out, "%-26s%s\n", buf, o->help);
		}
	}
	fprintf(out, "\nExit status: 0 success, 1 runtime error, 2 usage error.\n");
}

static void st_cli_build_getopt(char *optstring, size_t size,
				struct option *longopts)
{
	size_t n = 0;

	optstring[n++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < ST_ARRAY_SIZE(st_options); i++) {
		const struct st_opt *o = &st_options[i];

		if (n + 3 < size) {
			optstring[n++] = (char)o->val;
			if (o->arg)
				optstring[n++] = ':';
		}
		longopts[i] = (struct option){
			.name = o->name,
			.has_arg = o->arg ? required_argument : no_argument,
			.flag = NULL,
			.val = o->val,
		};
	}
	optstring[n] = '\0';
	longopts[ST_ARRAY_SIZE(st_options)] = (struct option){ 0 };
}

static int __st_printf(2, 3) st_usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fprintf(err, ST_PROG ": ");
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fprintf(err, "\nTry '" ST_PROG " --help'.\n");
	return 2;
}

/* Parse argv into @o.  Return: -1 to go on, else the exit status. */
static int st_cli_parse(int argc, char **argv, struct st_cli_opts *o,
			FILE *out, FILE *err)
{
	struct option longopts[ST_ARRAY_SIZE(st_options) + 1];
	char optstring[2 * ST_ARRAY_SIZE(st_options) + 2];
	int c;

	st_cli_build_getopt(optstring, sizeof(optstring), longopts);
	optind = 0; /* glibc: full re-initialisation, so tests can call twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			st_cli_help(out);
			return 0;
		case OPT_VERSION:
			fprintf(out, ST_PROG " " ST_VERSION "\n");
			return 0;
		case OPT_RULES:
			if (o->nrules == ST_MAX_RULE_FILES)
				return st_usage_error(err,
						      "at most %d --rules files",
						      ST_MAX_RULE_FILES);
			o->rules[o->nrules++] = optarg;
			break;
		case OPT_EXPLAIN:
			o->explain = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case ':':
			return st_usage_error(err, "option '%s' needs an argument",
					      argv[optind - 1]);
		case OPT_INVALID:
		default:
			return st_usage_error(err, "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind < argc)
		return st_usage_error(err, "unexpected argument '%s'",
				      argv[optind]);
	if (!o->explain)
		return st_usage_error(err, "nothing to do: give --explain");
	if (o->explain && o->nrules == 0)
		return st_usage_error(err, "--explain needs --rules FILE");
	return -1;
}

static int st_cli_explain(const struct st_cli_opts *o, FILE *out, FILE *err)
{
	struct st_istio_settings set;
	struct st_ruleset *rs = NULL;
	char ebuf[ST_ERRBUF_SIZE] = "";
	int rc = 1;
	int ret;

	rs = st_ruleset_new();
	if (rs == NULL) {
		fprintf(err, ST_PROG ": out of memory\n");
		goto out;
	}
	for (unsigned int i = 0; i < o->nrules; i++) {
		ret = st_rules_load_file(rs, o->rules[i], ebuf);
		if (ret < 0) {
			fprintf(err, ST_PROG ": %s\n", ebuf);
			goto out;
		}
	}
	ret = st_istio_analyze(rs, &set, ebuf);
	if (ret < 0) {
		fprintf(err, ST_PROG ": %s\n", ebuf);
		goto out;
	}
	if (o->json)
		ret = st_explain_json(out, rs, &set);
	else
		ret = st_explain_text(out, rs, &set);
	if (ret < 0 || fflush(out) != 0) {
		fprintf(err, ST_PROG ": writing the output failed: %s\n",
			strerror(ret < 0 ? -ret : errno));
		goto out;
	}
	rc = 0;
out:
	st_ruleset_free(rs);
	return rc;
}

int st_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct st_cli_opts o = { 0 };
	int rc;

	rc = st_cli_parse(argc, argv, &o, out, err);
	if (rc >= 0)
		return rc;
	return st_cli_explain(&o, out, err);
}
