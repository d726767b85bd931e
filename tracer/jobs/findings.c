// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check.c - what --check prints: every finding on one line, most severe
 * first, so that `grep ^error` and `jq '.findings[]'` both work.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "findings.h"

int st_findings_text(FILE *out, const struct st_check *c)
{
	size_t ne = st_check_nseverity(c, ST_CHECK_ERROR);
	size_t nw = st_check_nseverity(c, ST_CHECK_WARNING);
	size_t ni = st_check_nseverity(c, ST_CHECK_INFO);

	for (size_t i = 0; i < st_check_count(c); i++) {
		const struct st_check_finding *f = st_check_get(c, i);

		fprintf(out, "%-8s %-29s %s\n",
			st_check_severity_name(f->severity), f->code,
			f->message);
		if (f->has_rule)
			fprintf(out, "%-38s %s\n", "", f->rule_text);
		for (unsigned int k = 0; k < f->nexamples; k++)
			fprintf(out, "%-38s %s\n", "", f->examples[k]);
	}
	fprintf(out, "%zu error%s, %zu warning%s, %zu info\n", ne,
		ne == 1 ? "" : "s", nw, nw == 1 ? "" : "s", ni);
	return ferror(out) ? -EIO : 0;
}

static json_t *st_json_finding(const struct st_check_finding *f)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "severity",
			    json_string(st_check_severity_name(f->severity)));
	json_object_set_new(o, "code", json_string(f->code));
	json_object_set_new(o, "message", json_string(f->message));
	if (f->has_rule)
		json_object_set_new(
			o, "rule",
			json_pack("{s:s, s:s, s:s, s:i, s:s}", "table",
				  f->table, "chain", f->chain, "family",
				  st_family_name(f->family), "number",
				  (json_int_t)f->number, "text",
				  f->rule_text ? f->rule_text : ""));
	if (f->pid > 0) {
		json_object_set_new(o, "pid", json_integer(f->pid));
		json_object_set_new(o, "comm", json_string(f->comm));
	}
	if (f->pid > 0 && strncmp(f->code, "app-as-proxy", 12) == 0) {
		json_object_set_new(o, "uid", json_integer(f->uid));
		json_object_set_new(o, "gid", json_integer(f->gid));
	}
	if (f->nports > 0) {
		json_t *a = json_array();

		for (unsigned int k = 0; k < f->nports; k++)
			json_array_append_new(a, json_integer(f->ports[k]));
		json_object_set_new(o, "ports", a);
	}
	if (f->count > 0) {
		json_t *a = json_array();

		json_object_set_new(o, "count",
				    json_integer((json_int_t)f->count));
		for (unsigned int k = 0; k < f->nexamples; k++)
			json_array_append_new(a, json_string(f->examples[k]));
		json_object_set_new(o, "examples", a);
	}
	return o;
}

int st_findings_json(FILE *out, const struct st_check *c)
{
	json_t *root = json_object();
	json_t *arr = json_array();
	int ret = -ENOMEM;

	if (root == NULL || arr == NULL)
		goto out;
	for (size_t i = 0; i < st_check_count(c); i++) {
		json_t *f = st_json_finding(st_check_get(c, i));

		if (f == NULL || json_array_append_new(arr, f) < 0)
			goto out;
	}
	json_object_set(root, "findings", arr);
	json_object_set_new(root, "errors",
			    json_integer((json_int_t)st_check_nseverity(
				    c, ST_CHECK_ERROR)));
	json_object_set_new(root, "warnings",
			    json_integer((json_int_t)st_check_nseverity(
				    c, ST_CHECK_WARNING)));
	json_object_set_new(
		root, "info",
		json_integer((json_int_t)st_check_nseverity(c, ST_CHECK_INFO)));
	ret = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (ret == 0 && fputc('\n', out) == EOF)
		ret = -1;
	ret = ret < 0 || ferror(out) ? -EIO : 0;
out:
	json_decref(arr);
	json_decref(root);
	return ret;
}
