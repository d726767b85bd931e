// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * scenario.c - the six canonical flows of a rule set (see scenario.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "scenario.h"
#include "simspec.h"

#define SC_SPEC_SIZE 160

struct st_scenarios {
	size_t n;
	bool ambient; /* an ambient pod's: types 7-12 */
	char spec[ST_SCENARIO_COUNT][SC_SPEC_SIZE];
	struct st_eval_result res[ST_SCENARIO_COUNT];
};

static bool sc_in(uint16_t port, const uint16_t *list, unsigned int n)
{
	for (unsigned int i = 0; i < n && i < ST_MAX_LIST; i++)
		if (list[i] == port)
			return true;
	return false;
}

static bool sc_id_in(uint32_t id, const uint32_t *ids, unsigned int n)
{
	for (unsigned int i = 0; i < n && i < ST_MAX_IDS; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static uint16_t sc_app_port(const struct st_istio_settings *set)
{
	uint16_t p = 9080;

	if (!set->inbound_all_ports && set->ninbound_ports > 0)
		return set->inbound_ports[0];
	while (p < 65535 &&
	       sc_in(p, set->inbound_excluded_ports, set->ninbound_excluded))
		p++;
	return p;
}

static uint16_t sc_prom_port(const struct st_istio_settings *set)
{
	if (!st_class_is_prometheus_port(15090, set) &&
	    st_class_is_prometheus_port(15020, set))
		return 15020;
	return 15090;
}

/* The probe's source: the rules' (169.254.7.127), of @v6's family. */
static void sc_probe(const struct st_istio_settings *set, bool v6, char *buf,
		     size_t size)
{
	char a[INET6_ADDRSTRLEN];

	for (unsigned int i = 0; i < set->amb.nprobe_addrs &&
				 i < ST_ARRAY_SIZE(set->amb.probe_addrs);
	     i++) {
		const struct st_prefix *p = &set->amb.probe_addrs[i];

		if ((p->family == 6) != v6 ||
		    inet_ntop(v6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a)) ==
			    NULL)
			continue;
		snprintf(buf, size, v6 ? "[%s]" : "%s", a);
		return;
	}
	snprintf(buf, size, "%s",
		 v6 ? "[fd16:9254:7127:1337:ffff:ffff:ffff:ffff]"
		    : "169.254.7.127");
}

static void sc_ambient_specs(struct st_scenarios *s,
			     const struct st_istio_settings *set, bool v6,
			     const char *pod, const char *remote,
			     const char *vip, uint32_t app)
{
	char probe[INET6_ADDRSTRLEN + 2];

	s->ambient = true;
	sc_probe(set, v6, probe, sizeof(probe));
	snprintf(s->spec[0], SC_SPEC_SIZE,
		 "tcp %s:43210 > %s:9080 uid %u gid %u", pod, remote, app, app);
	snprintf(s->spec[1], SC_SPEC_SIZE, "tcp %s:50001 > %s:%u in eth0",
		 remote, pod,
		 set->amb.tunnel_port ? set->amb.tunnel_port : 15008);
	snprintf(s->spec[2], SC_SPEC_SIZE, "tcp %s:50003 > %s:9080 in eth0",
		 remote, pod);
	snprintf(s->spec[3], SC_SPEC_SIZE,
		 "tcp %s:43211 > %s:9081 uid %u gid %u", pod, vip, app, app);
	snprintf(s->spec[4], SC_SPEC_SIZE, "tcp %s:50005 > %s:9081 in eth0",
		 probe, pod);
	snprintf(s->spec[5], SC_SPEC_SIZE, "udp %s:45006 > %s:53 uid %u gid %u",
		 pod, v6 ? "[fd00:96::10]" : "10.96.0.10", app, app);
}

struct st_scenarios *st_scenario_run(const struct st_ruleset *rs,
				     const struct st_istio_settings *set,
				     char *err)
{
	struct st_scenarios *s = NULL;
	struct st_eval_env env;
	bool v6 = !set->ipv4 && set->ipv6;
	const char *pod = v6 ? "[fd00:244::1:10]" : "10.244.1.10";
	const char *remote = v6 ? "[fd00:244::2:20]" : "10.244.2.20";
	const char *prom = v6 ? "[fd00:244::3:30]" : "10.244.3.30";
	const char *istiod = v6 ? "[fd00:244::4:40]" : "10.244.4.40";
	const char *vip = v6 ? "[fd00:96::30]" : "10.96.0.30";
	const char *lo = v6 ? "[::1]" : "127.0.0.1";
	uint32_t app = 1000;
	uint32_t puid = set->nproxy_uids > 0 ? set->proxy_uids[0] : 1337;
	uint32_t pgid = set->nproxy_gids > 0 ? set->proxy_gids[0] : puid;

	if (sc_id_in(app, set->proxy_uids, set->nproxy_uids) ||
	    sc_id_in(app, set->proxy_gids, set->nproxy_gids))
		app = 1001;
	if (set->mode == ST_MODE_TPROXY)
		puid = 0;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		st_err(err, ENOMEM, "scenarios: out of memory");
		return NULL;
	}
	if (set->kind == ST_ISTIO_AMBIENT) {
		sc_ambient_specs(s, set, v6, pod, remote, vip, app);
		goto run;
	}
	snprintf(s->spec[0], SC_SPEC_SIZE, "tcp %s:50001 > %s:%u in eth0",
		 remote, pod, sc_app_port(set));
	snprintf(s->spec[1], SC_SPEC_SIZE,
		 "tcp %s:43210 > %s:9080 uid %u gid %u", pod, remote, app, app);
	snprintf(s->spec[2], SC_SPEC_SIZE, "tcp %s:50003 > %s:%u in eth0", prom,
		 pod, sc_prom_port(set));
	snprintf(s->spec[3], SC_SPEC_SIZE,
		 "tcp %s:43211 > %s:9081 uid %u gid %u", pod, vip, app, app);
	snprintf(s->spec[4], SC_SPEC_SIZE,
		 "tcp %s:45005 > %s:15000 uid %u gid %u", lo, lo, puid, pgid);
	snprintf(s->spec[5], SC_SPEC_SIZE,
		 "tcp %s:45006 > %s:15012 uid %u gid %u", pod, istiod, puid,
		 pgid);
run:
	st_eval_env_lab(&env, rs, set);
	for (size_t i = 0; i < ST_SCENARIO_COUNT; i++) {
		struct st_simspec spec;

		if (st_simspec_parse(s->spec[i], &spec, err) < 0 ||
		    st_eval_flow(&env, &spec, &s->res[i], err) < 0) {
			free(s);
			return NULL;
		}
		s->res[i].flow.id = i + 1;
	}
	s->n = ST_SCENARIO_COUNT;
	return s;
}

void st_scenario_free(struct st_scenarios *s)
{
	free(s);
}

size_t st_scenario_count(const struct st_scenarios *s)
{
	return s != NULL ? s->n : 0;
}

const struct st_eval_result *st_scenario_result(const struct st_scenarios *s,
						size_t i)
{
	return s != NULL && i < s->n ? &s->res[i] : NULL;
}

const struct st_flow *st_scenario_flow(const struct st_scenarios *s, size_t i)
{
	return s != NULL && i < s->n ? &s->res[i].flow : NULL;
}

const char *st_scenario_spec(const struct st_scenarios *s, size_t i)
{
	return s != NULL && i < s->n ? s->spec[i] : NULL;
}

int st_scenario_type(const struct st_scenarios *s, size_t i)
{
	if (s == NULL || i >= s->n)
		return 0;
	return s->ambient ? ST_TYPE_AMBIENT_MIN + (int)i : (int)i + 1;
}

const char *st_scenario_name(size_t i)
{
	return i < ST_SCENARIO_COUNT ? st_class_type_name((int)i + 1) : NULL;
}
