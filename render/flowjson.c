// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowjson.c - flows and the summary as JSON Lines (see flowjson.h).
 * Objects are built in key order and dumped with JSON_PRESERVE_ORDER so
 * that the output, and the golden files, are stable.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "flowjson.h"
#include "path.h"

#define FJ_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* Sets @key, remembering a failure in *@bad (jansson steals @val). */
static void fj_set(json_t *obj, const char *key, json_t *val, bool *bad)
{
	if (val == NULL || json_object_set_new(obj, key, val) < 0)
		*bad = true;
}

static void fj_append(json_t *arr, json_t *val, bool *bad)
{
	if (val == NULL || json_array_append_new(arr, val) < 0)
		*bad = true;
}

static json_t *fj_str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *fj_proto(uint8_t proto)
{
	char num[8];

	switch (proto) {
	case IPPROTO_TCP:
		return json_string("tcp");
	case IPPROTO_UDP:
		return json_string("udp");
	case IPPROTO_ICMP:
		return json_string("icmp");
	case IPPROTO_ICMPV6:
		return json_string("ipv6-icmp");
	case IPPROTO_SCTP:
		return json_string("sctp");
	default:
		snprintf(num, sizeof(num), "%u", proto);
		return json_string(num);
	}
}

static json_t *fj_time(const struct timespec *ts)
{
	char buf[64];
	struct tm tm;
	time_t sec = ts->tv_sec;

	if (gmtime_r(&sec, &tm) == NULL)
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
	return json_string(buf);
}

static json_t *fj_hop(const struct st_flow_hop *h)
{
	json_t *o = json_object();
	bool bad = false;

	if (o == NULL)
		return NULL;
	fj_set(o, "table", json_string(h->table), &bad);
	fj_set(o, "chain", json_string(h->chain), &bad);
	fj_set(o, "rule", json_integer(h->rule), &bad);
	fj_set(o, "kind", json_string(st_flow_hop_kind_name(h->kind)), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *fj_leg(const struct st_flow_leg *l)
{
	char addr[ST_FLOW_ADDR_SIZE];
	json_t *o = json_object();
	json_t *hops = json_array();
	bool bad = o == NULL || hops == NULL;

	if (bad)
		goto out;
	st_flow_addr_format(l->family, l->src, l->sport, addr, sizeof(addr));
	fj_set(o, "src", json_string(addr), &bad);
	st_flow_addr_format(l->family, l->dst, l->dport, addr, sizeof(addr));
	fj_set(o, "dst", json_string(addr), &bad);
	fj_set(o, "proto", fj_proto(l->proto), &bad);
	fj_set(o, "uid", l->has_uid ? json_integer(l->uid) : json_null(), &bad);
	fj_set(o, "gid", l->has_gid ? json_integer(l->gid) : json_null(), &bad);
	for (unsigned int i = 0; i < l->nhops; i++)
		fj_append(hops, fj_hop(&l->hops[i]), &bad);
	fj_set(o, "hops", hops, &bad);
	hops = NULL;
	if (l->capture != ST_CAPTURE_NONE)
		fj_set(o, "redirect_port", json_integer(l->redirect_port),
		       &bad);
	fj_set(o, "in", fj_str_or_null(l->indev), &bad);
	fj_set(o, "out", fj_str_or_null(l->outdev), &bad);
	fj_set(o, "ts", fj_time(&l->ts), &bad);
	fj_set(o, "packets", json_integer(l->packets), &bad);
	fj_set(o, "complete", json_boolean(!l->incomplete), &bad);
	if (l->incomplete)
		fj_set(o, "why", json_string(l->why), &bad);
	if (l->truncated)
		fj_set(o, "hops_truncated", json_true(), &bad);
out:
	json_decref(hops);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *st_flowjson_flow(const struct st_flow *f, const char *path)
{
	char buf[1024];
	json_t *o = json_object();
	json_t *legs = json_array();
	bool bad = o == NULL || legs == NULL;

	if (bad)
		goto out;
	if (path == NULL) {
		st_path_format(f, buf, sizeof(buf));
		path = buf;
	}
	fj_set(o, "type", json_integer(f->type), &bad);
	fj_set(o, "type_name", json_string(st_class_type_name(f->type)), &bad);
	fj_set(o, "class", json_string(st_class_name(f->klass, f->type)), &bad);
	fj_set(o, "reason", f->type == 0 ? json_string(f->reason) : json_null(),
	       &bad);
	fj_set(o, "path", json_string(path), &bad);
	for (unsigned int i = 0; i < f->nlegs; i++)
		fj_append(legs, fj_leg(&f->legs[i]), &bad);
	fj_set(o, "legs", legs, &bad);
	legs = NULL;
out:
	json_decref(legs);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *st_flowjson_summary(const struct st_flow_stats *st)
{
	json_t *root = json_object();
	json_t *sum = json_object();
	json_t *types = json_object();
	json_t *classes = json_object();
	bool bad =
		root == NULL || sum == NULL || types == NULL || classes == NULL;
	char key[16];

	if (bad)
		goto out;
	for (int t = 0; t <= ST_TYPE_MAX; t++) {
		snprintf(key, sizeof(key), "%d", t);
		fj_set(types, key, json_integer((json_int_t)st->by_type[t]),
		       &bad);
	}
	for (int c = ST_CLASS_NONE + 1; c < ST_CLASS__MAX; c++)
		fj_set(classes, st_class_name((enum st_class)c, 0),
		       json_integer((json_int_t)st->by_class[c]), &bad);
	fj_set(sum, "flows", json_integer((json_int_t)st->flows), &bad);
	fj_set(sum, "by_type", types, &bad);
	types = NULL;
	fj_set(sum, "by_class", classes, &bad);
	classes = NULL;
	fj_set(sum, "records", json_integer((json_int_t)st->records), &bad);
	fj_set(sum, "lost", json_integer((json_int_t)st->lost), &bad);
	fj_set(sum, "skipped", json_integer((json_int_t)st->skipped), &bad);
	fj_set(sum, "evicted", json_integer((json_int_t)st->evicted), &bad);
	fj_set(root, "summary", sum, &bad);
	sum = NULL;
out:
	json_decref(types);
	json_decref(classes);
	json_decref(sum);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int fj_write(FILE *out, json_t *o)
{
	int ret = 0;

	if (o == NULL)
		return -ENOMEM;
	if (json_dumpf(o, out, FJ_DUMP_FLAGS) < 0 || fputc('\n', out) == EOF)
		ret = -EIO;
	json_decref(o);
	return ret;
}

int st_flowjson_write(FILE *out, const struct st_flow *flow)
{
	return fj_write(out, st_flowjson_flow(flow, NULL));
}

int st_flowjson_write_summary(FILE *out, const struct st_flow_stats *stats)
{
	return fj_write(out, st_flowjson_summary(stats));
}
