// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * explain.c - what --explain prints: the settings derived from the rules,
 * then every chain that takes part in Istio's interception with each
 * rule's number, role and text, the rules that can never match flagged.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"

/* A chain is shown when it is Istio's or hands packets to Istio's. */
static bool st_chain_shown(const struct st_ruleset *rs,
			   const struct st_chain *c)
{
	if (st_istio_is_istio_chain(c->name))
		return true;
	for (unsigned int i = 0; i < c->nrules; i++) {
		const struct st_rule *r = st_ruleset_rule(rs, c->first + i);

		if (r->role != ST_ROLE_NONE)
			return true;
	}
	return false;
}

static void st_print_ports(FILE *out, const uint16_t *p, unsigned int n)
{
	if (n == 0)
		fprintf(out, "none");
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "%s%u", i ? " " : "", p[i]);
}

static void st_print_ids(FILE *out, const uint32_t *p, unsigned int n)
{
	if (n == 0)
		fprintf(out, "none");
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "%s%" PRIu32, i ? " " : "", p[i]);
}

static void st_print_prefixes(FILE *out, const struct st_prefix *p,
			      unsigned int n, const char *none)
{
	char buf[64];

	if (n == 0)
		fprintf(out, "%s", none);
	for (unsigned int i = 0; i < n; i++) {
		st_prefix_format(&p[i], false, buf, sizeof(buf));
		fprintf(out, "%s%s", i ? " " : "", buf);
	}
}

static void st_print_families(FILE *out, const struct st_istio_settings *s)
{
	fprintf(out, "Families:           %s%s%s\n", s->ipv4 ? "IPv4" : "",
		s->ipv4 && s->ipv6 ? " " : "", s->ipv6 ? "IPv6" : "");
}

/*
 * ztunnel's settings: what its rules send to which of its ports, and the
 * marks and the probe address that keep traffic away from it.
 */
static void st_explain_ambient(FILE *out, const struct st_istio_settings *s)
{
	const struct st_ambient_settings *a = &s->amb;

	st_print_families(out, s);
	fprintf(out, "ztunnel mark:       ");
	if (a->mark_mask != 0)
		fprintf(out,
			"0x%" PRIx32 "/0x%" PRIx32
			" (ztunnel's own sockets: never captured)",
			a->mark, a->mark_mask);
	else
		fprintf(out, "none");
	fprintf(out, "\nConnection mark:    ");
	if (a->connmark_mask != 0)
		fprintf(out,
			"0x%" PRIx32 "/0x%" PRIx32
			" (connections ztunnel opened into the pod: "
			"their packets go back to ztunnel)",
			a->connmark, a->connmark_mask);
	else
		fprintf(out, "none");
	fprintf(out, "\nOutbound capture:   ");
	if (a->outbound_port != 0)
		fprintf(out, "port %u (TCP not to loopback)", a->outbound_port);
	else
		fprintf(out, "none");
	fprintf(out, "\nInbound capture:    ");
	if (a->inbound_captured)
		fprintf(out, "port %u (plaintext TCP), %s", a->inbound_port,
			s->mode == ST_MODE_TPROXY ? "TPROXY" : "REDIRECT");
	else
		fprintf(out, "none");
	if (a->tunnel_port != 0)
		fprintf(out, "; HBONE port %u reaches ztunnel %s",
			a->tunnel_port,
			s->mode == ST_MODE_TPROXY ? "by TPROXY"
						  : "unredirected");
	fprintf(out, "\nDNS capture:        ");
	if (a->dns_capture)
		fprintf(out, "port %u", a->dns_port);
	else
		fprintf(out, "no");
	fprintf(out, "\nProbe address:      ");
	st_print_prefixes(out, a->probe_addrs, a->nprobe_addrs, "none");
	if (a->nprobe_addrs > 0)
		fprintf(out, " (the node SNATs kubelet probes to it; they "
			     "bypass ztunnel)");
	fprintf(out, "\nProbe SNAT:         ");
	if (!a->probe_snat)
		fprintf(out, "not here (a rule of the node)");
	else if (a->probe_uid_set)
		fprintf(out, "here, for the kubelet's uid %" PRIu32,
			a->probe_uid);
	else if (a->probe_socket_exists)
		fprintf(out, "here, for node processes' sockets "
			     "(--socket-exists)");
	else
		fprintf(out, "here");
	fprintf(out, "\nVirtual interfaces: ");
	if (a->nvirt_ifaces == 0)
		fprintf(out, "none");
	for (unsigned int i = 0; i < a->nvirt_ifaces; i++)
		fprintf(out, "%s%s", i ? " " : "", a->virt_ifaces[i]);
	if (a->nvirt_ifaces > 0)
		fprintf(out, " (inbound TCP sent to the outbound port)");
	fprintf(out, "\n");
	if (s->truncated)
		fprintf(out,
			"Lists truncated:    a list above holds only its first "
			"entries; every rule is listed below\n");
}

static void st_explain_settings(FILE *out, const struct st_istio_settings *s)
{
	fprintf(out, "Backend:            %s\n", st_backend_name(s->backend));
	fprintf(out, "Interception:       %s", st_istio_kind_name(s->kind));
	if (s->kind == ST_ISTIO_SIDECAR)
		fprintf(out, ", %s, %s", st_istio_mode_name(s->mode),
			st_istio_era_name(s->era));
	else if (s->kind == ST_ISTIO_AMBIENT)
		fprintf(out, ", %s", st_istio_mode_name(s->mode));
	fprintf(out, "\n");
	if (s->note[0] != '\0')
		fprintf(out, "Note:               %s\n", s->note);
	if (s->kind == ST_ISTIO_AMBIENT)
		st_explain_ambient(out, s);
	if (s->kind != ST_ISTIO_SIDECAR)
		return;
	st_print_families(out, s);
	fprintf(out, "Proxy uids:         ");
	st_print_ids(out, s->proxy_uids, s->nproxy_uids);
	fprintf(out, "\nProxy gids:         ");
	st_print_ids(out, s->proxy_gids, s->nproxy_gids);
	fprintf(out, "\nOutbound capture:   port %u, destinations ",
		s->outbound_port);
	if (s->outbound_all_cidrs)
		fprintf(out, "all");
	else
		st_print_prefixes(out, s->included_cidrs, s->nincluded_cidrs,
				  "none");
	fprintf(out, "\nExcluded CIDRs:     ");
	st_print_prefixes(out, s->excluded_cidrs, s->nexcluded_cidrs, "none");
	fprintf(out, "\nOutbound excluded:  ");
	st_print_ports(out, s->outbound_excluded_ports, s->noutbound_excluded);
	if (s->noutbound_included > 0) {
		fprintf(out, "\nOutbound included:  ");
		st_print_ports(out, s->outbound_included_ports,
			       s->noutbound_included);
	}
	fprintf(out, "\nInbound capture:    ");
	if (!s->inbound_captured)
		fprintf(out, "none");
	else if (s->inbound_all_ports)
		fprintf(out, "port %u, all ports", s->inbound_port);
	else {
		fprintf(out, "port %u, ports ", s->inbound_port);
		st_print_ports(out, s->inbound_ports, s->ninbound_ports);
	}
	fprintf(out, "\nInbound excluded:   ");
	st_print_ports(out, s->inbound_excluded_ports, s->ninbound_excluded);
	fprintf(out, "\nDNS capture:        ");
	if (s->dns_capture) {
		fprintf(out, "port %u, servers ", s->dns_port);
		st_print_prefixes(out, s->dns_servers, s->ndns_servers, "all");
	} else {
		fprintf(out, "no");
	}
	if (s->mode == ST_MODE_TPROXY)
		fprintf(out, "\nTPROXY mark:        %" PRIu32, s->tproxy_mark);
	fprintf(out, "\nInvalid drop:       %s\n",
		s->invalid_drop ? "yes" : "no");
	if (s->truncated)
		fprintf(out,
			"Lists truncated:    a list above holds only its first "
			"%d ids or %d entries; every rule is listed below\n",
			ST_MAX_IDS, ST_MAX_LIST);
}

int st_explain_text(FILE *out, const struct st_ruleset *rs,
		    const struct st_istio_settings *set)
{
	size_t nchains = st_ruleset_nchains(rs);
	const char *w = st_ruleset_warnings(rs);
	unsigned int unreachable = 0;

	st_explain_settings(out, set);
	for (; *w != '\0'; w += strlen(w) + 1)
		fprintf(out, "Input says:         %s\n", w);
	for (size_t i = 0; i < nchains; i++) {
		const struct st_chain *c = st_ruleset_chain(rs, i);

		if (!st_chain_shown(rs, c))
			continue;
		fprintf(out, "\n%s %s", c->table, c->name);
		if (c->family != ST_FAMILY_ANY)
			fprintf(out, " (%s)", st_family_name(c->family));
		if (c->policy != NULL)
			fprintf(out, " policy %s", c->policy);
		fprintf(out, "\n");
		if (c->nrules == 0)
			fprintf(out, "  (no rules)\n");
		for (unsigned int j = 0; j < c->nrules; j++) {
			const struct st_rule *r =
				st_ruleset_rule(rs, c->first + j);

			fprintf(out, "  %3u  %-28s %s%s\n", r->number,
				st_role_name(r->role),
				r->reachable ? "" : "[NEVER MATCHES] ",
				r->text ? r->text : "");
			if (r->why != NULL)
				fprintf(out, "       %-28s %s\n", "", r->why);
			if (!r->reachable)
				unreachable++;
		}
	}
	if (unreachable > 0)
		fprintf(out, "\n%u rule%s can never match.\n", unreachable,
			unreachable == 1 ? "" : "s");
	return ferror(out) ? -EIO : 0;
}

static json_t *st_json_ports(const uint16_t *p, unsigned int n)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer(p[i]));
	return a;
}

static json_t *st_json_ids(const uint32_t *p, unsigned int n)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer(p[i]));
	return a;
}

static json_t *st_json_prefixes(const struct st_prefix *p, unsigned int n)
{
	json_t *a = json_array();
	char buf[64];

	for (unsigned int i = 0; a != NULL && i < n; i++) {
		st_prefix_format(&p[i], false, buf, sizeof(buf));
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *st_json_mark(uint32_t mark, uint32_t mask)
{
	char buf[32];

	if (mask == 0)
		return json_null();
	snprintf(buf, sizeof(buf), "0x%" PRIx32 "/0x%" PRIx32, mark, mask);
	return json_string(buf);
}

/* ztunnel's settings, as st_explain_ambient() prints them. */
static json_t *st_json_ambient(const struct st_ambient_settings *a)
{
	json_t *o = json_object();
	json_t *ifs = json_array();
	const char *by = NULL;

	if (o == NULL || ifs == NULL) {
		json_decref(o);
		json_decref(ifs);
		return NULL;
	}
	json_object_set_new(o, "outbound_port", json_integer(a->outbound_port));
	json_object_set_new(o, "inbound_captured",
			    json_boolean(a->inbound_captured));
	json_object_set_new(o, "inbound_port", json_integer(a->inbound_port));
	json_object_set_new(o, "tunnel_port", json_integer(a->tunnel_port));
	json_object_set_new(o, "dns_capture", json_boolean(a->dns_capture));
	json_object_set_new(o, "dns_port", json_integer(a->dns_port));
	json_object_set_new(o, "ztunnel_mark",
			    st_json_mark(a->mark, a->mark_mask));
	json_object_set_new(o, "connmark",
			    st_json_mark(a->connmark, a->connmark_mask));
	json_object_set_new(o, "probe_addresses",
			    st_json_prefixes(a->probe_addrs, a->nprobe_addrs));
	json_object_set_new(o, "probe_snat", json_boolean(a->probe_snat));
	if (a->probe_uid_set)
		by = "uid";
	else if (a->probe_socket_exists)
		by = "socket-exists";
	json_object_set_new(o, "probe_snat_by",
			    by != NULL ? json_string(by) : json_null());
	if (a->probe_uid_set)
		json_object_set_new(o, "probe_uid", json_integer(a->probe_uid));
	for (unsigned int i = 0; i < a->nvirt_ifaces; i++)
		json_array_append_new(ifs, json_string(a->virt_ifaces[i]));
	json_object_set_new(o, "virtual_interfaces", ifs);
	return o;
}

static json_t *st_json_rule(const struct st_rule *r)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "table", json_string(r->table));
	json_object_set_new(o, "chain", json_string(r->chain));
	json_object_set_new(o, "family",
			    json_string(st_family_name(r->family)));
	json_object_set_new(o, "number", json_integer(r->number));
	if (r->handle != 0)
		json_object_set_new(o, "handle",
				    json_integer((json_int_t)r->handle));
	json_object_set_new(o, "text", json_string(r->text ? r->text : ""));
	json_object_set_new(o, "role", json_string(st_role_name(r->role)));
	json_object_set_new(o, "reachable", json_boolean(r->reachable));
	if (r->why != NULL)
		json_object_set_new(o, "why", json_string(r->why));
	return o;
}

int st_explain_json(FILE *out, const struct st_ruleset *rs,
		    const struct st_istio_settings *s)
{
	const char *w = st_ruleset_warnings(rs);
	json_t *root = NULL;
	json_t *rules = NULL;
	json_t *warn = NULL;
	int ret = -ENOMEM;

	root = json_object();
	rules = json_array();
	warn = json_array();
	if (root == NULL || rules == NULL || warn == NULL)
		goto out;
	json_object_set_new(root, "backend",
			    json_string(st_backend_name(s->backend)));
	json_object_set_new(root, "kind",
			    json_string(st_istio_kind_name(s->kind)));
	json_object_set_new(root, "mode",
			    json_string(st_istio_mode_name(s->mode)));
	json_object_set_new(root, "era",
			    json_string(st_istio_era_name(s->era)));
	json_object_set_new(root, "ipv4", json_boolean(s->ipv4));
	json_object_set_new(root, "ipv6", json_boolean(s->ipv6));
	json_object_set_new(root, "proxy_uids",
			    st_json_ids(s->proxy_uids, s->nproxy_uids));
	json_object_set_new(root, "proxy_gids",
			    st_json_ids(s->proxy_gids, s->nproxy_gids));
	json_object_set_new(root, "outbound_port",
			    json_integer(s->outbound_port));
	json_object_set_new(root, "inbound_port",
			    json_integer(s->inbound_port));
	json_object_set_new(root, "inbound_captured",
			    json_boolean(s->inbound_captured));
	json_object_set_new(root, "inbound_all_ports",
			    json_boolean(s->inbound_all_ports));
	json_object_set_new(root, "inbound_ports",
			    st_json_ports(s->inbound_ports, s->ninbound_ports));
	json_object_set_new(
		root, "inbound_excluded_ports",
		st_json_ports(s->inbound_excluded_ports, s->ninbound_excluded));
	json_object_set_new(root, "outbound_excluded_ports",
			    st_json_ports(s->outbound_excluded_ports,
					  s->noutbound_excluded));
	json_object_set_new(root, "outbound_included_ports",
			    st_json_ports(s->outbound_included_ports,
					  s->noutbound_included));
	json_object_set_new(root, "outbound_all_cidrs",
			    json_boolean(s->outbound_all_cidrs));
	json_object_set_new(
		root, "included_cidrs",
		st_json_prefixes(s->included_cidrs, s->nincluded_cidrs));
	json_object_set_new(
		root, "excluded_cidrs",
		st_json_prefixes(s->excluded_cidrs, s->nexcluded_cidrs));
	json_object_set_new(root, "dns_capture", json_boolean(s->dns_capture));
	if (s->dns_capture) {
		json_object_set_new(root, "dns_port",
				    json_integer(s->dns_port));
		json_object_set_new(
			root, "dns_servers",
			st_json_prefixes(s->dns_servers, s->ndns_servers));
	}
	json_object_set_new(root, "invalid_drop",
			    json_boolean(s->invalid_drop));
	if (s->truncated)
		json_object_set_new(root, "lists_truncated", json_true());
	if (s->mode == ST_MODE_TPROXY)
		json_object_set_new(root, "tproxy_mark",
				    json_integer(s->tproxy_mark));
	if (s->kind == ST_ISTIO_AMBIENT)
		json_object_set_new(root, "ambient", st_json_ambient(&s->amb));
	if (s->note[0] != '\0')
		json_object_set_new(root, "note", json_string(s->note));
	for (; *w != '\0'; w += strlen(w) + 1)
		json_array_append_new(warn, json_string(w));
	json_object_set_new(root, "warnings", warn);
	warn = NULL;
	for (size_t i = 0; i < st_ruleset_nrules(rs); i++) {
		json_t *r = st_json_rule(st_ruleset_rule(rs, i));

		if (r == NULL || json_array_append_new(rules, r) < 0)
			goto out;
	}
	json_object_set_new(root, "rules", rules);
	rules = NULL;
	if (json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', out) == EOF) {
		ret = -EIO;
		goto out;
	}
	ret = ferror(out) ? -EIO : 0;
out:
	json_decref(root);
	json_decref(rules);
	json_decref(warn);
	return ret;
}
