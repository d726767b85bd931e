/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scenario.h - the six canonical flows of a rule set, simulated from the
 * rules alone (eval.h), so that diagrams need no capture.
 *
 * The addresses are the lab's (tests/lab/README.md), of the pod's family
 * (IPv4 when the rules have IPv4 rules, else IPv6):
 *
 *   pod 10.244.1.10 / fd00:244::1:10      remote 10.244.2.20 / fd00:244::2:20
 *   prom 10.244.3.30 / fd00:244::3:30     istiod 10.244.4.40 / fd00:244::4:40
 *   VIP 10.96.0.30:9081 / [fd00:96::30]:9081 -> the pod's :9081
 *
 *   1 remote:50001 -> pod:APP in eth0, APP = 9080, or the first -b port
 *     when only some ports are captured, or the next port above 9080
 *     that is not excluded
 *   2 pod:43210 -> remote:9080 as uid/gid 1000 (1001 if that is a proxy id)
 *   3 prom:50003 -> pod:15090 in eth0 (15020 when only that one is an
 *     excluded Prometheus port)
 *   4 pod:43211 -> VIP:9081 as the app
 *   5 127.0.0.1:45005 -> 127.0.0.1:15000 as the proxy ([::1] IPv6-only)
 *   6 pod:45006 -> istiod:15012 as the proxy
 *
 * The proxy's ids are the settings' first uid and gid; in TPROXY mode
 * uid 0 with the proxy gid, as Istio runs it.
 *
 * An ambient pod's six are its own types 7-12 (classify.h), ztunnel's
 * legs marked as its sockets are:
 *
 *   7 pod:43210 -> remote:9080 as the app
 *   8 remote:50001 -> pod:15008 in eth0 (HBONE; relayed to the app's 9080
 *     as the lab's ztunnel stand-in does)
 *   9 remote:50003 -> pod:9080 in eth0
 *  10 pod:43211 -> VIP:9081 as the app
 *  11 PROBE:50005 -> pod:9081 in eth0, PROBE the rules' probe source
 *     (169.254.7.127)
 *  12 udp pod:45006 -> 10.96.0.10:53 / [fd00:96::10]:53 as the app
 */
#ifndef ST_SCENARIO_H
#define ST_SCENARIO_H

#include <stddef.h>

#include "eval.h"
#include "flow.h"
#include "istio.h"
#include "rules.h"

#define ST_SCENARIO_COUNT 6

struct st_scenarios;

/**
 * st_scenario_run() - build and simulate the six canonical flows.
 * @rs: analysed rules (st_istio_analyze() ran)
 * @set: their settings
 * @err: error buffer
 *
 * Return: the scenarios (free with st_scenario_free()), or NULL with @err.
 */
struct st_scenarios *st_scenario_run(const struct st_ruleset *rs,
				     const struct st_istio_settings *set,
				     char *err);

/**
 * st_scenario_type() - the type scenario @i stands for: i + 1, or 7 + i
 * for an ambient pod's; 0 when out of range.
 */
int st_scenario_type(const struct st_scenarios *s, size_t i);

/** st_scenario_free() - release @s (NULL is fine). */
void st_scenario_free(struct st_scenarios *s);

/** st_scenario_count() - number of scenarios (ST_SCENARIO_COUNT). */
size_t st_scenario_count(const struct st_scenarios *s);

/**
 * st_scenario_result() - scenario @i (0-based; its number is i + 1): the
 * simulated, classified flow with each leg's info, or NULL.
 */
const struct st_eval_result *st_scenario_result(const struct st_scenarios *s,
						size_t i);

/** st_scenario_flow() - the classified flow of scenario @i, or NULL. */
const struct st_flow *st_scenario_flow(const struct st_scenarios *s, size_t i);

/** st_scenario_spec() - its --simulate spec text, or NULL. */
const char *st_scenario_spec(const struct st_scenarios *s, size_t i);

/** st_scenario_name() - "remote-to-local" ... (the intended type's name). */
const char *st_scenario_name(size_t i);

#endif /* ST_SCENARIO_H */
