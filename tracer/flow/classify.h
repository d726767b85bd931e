/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * classify.h - the six sidecar traffic types (README.md), and type 0
 * with a class that says why a flow is none of them.
 *
 * Everything is decided from the legs of an assembled flow (flow.h): the
 * roles of the rules the legs hit (set by st_istio_analyze()), the sidecar
 * settings (proxy uids/gids, capture and excluded ports) and two facts
 * from doc/PORTS.md that the rules cannot say: which ports are Prometheus
 * ports (15090 Envoy stats, 15020 pilot-agent merged metrics; a port only
 * counts when the rules exclude it from inbound capture) and which are
 * istiod ports (15012 mTLS XDS/CA, 15010 plaintext XDS).  Rule numbers
 * are never used.
 *
 *   1 remote-to-local     arriving leg captured to the inbound port, then
 *                         the 127.0.0.6 / ::6 leg to the same destination
 *                         (TPROXY: the proxy's leg from the client address;
 *                         before Istio 1.10: the proxy's leg to
 *                         127.0.0.1 on the same port)
 *   2 local-to-remote     app leg captured to the outbound port, then the
 *                         proxy's upstream leg
 *   3 prometheus-scrape   arriving leg to a Prometheus port that
 *                         ISTIO_INBOUND returns as excluded
 *   4 local-to-local      app -> outbound port, proxy -> own pod IP
 *                         redirected to the inbound port, 127.0.0.6 -> app
 *   5 envoy-interprocess  proxy leg to a loopback address, not redirected
 *   6 sidecar-to-istiod   proxy leg, not stitched, to an istiod port, out
 *                         through a device other than lo
 *   0 other               with a class: bypass, excluded-port,
 *                         excluded-cidr, dns-capture, proxy-direct,
 *                         incomplete, unknown
 *
 * A 15020 scrape makes pilot-agent fetch 127.0.0.1:15000: that fetch is a
 * separate type-5 flow; nothing links the two.
 *
 * An ambient pod (ztunnel's in-pod rules) has types of its own.  ztunnel's
 * legs are told by the mark its sockets carry (st_flow_ztunnel_of()), not
 * by a uid; the ports are the ones the rules redirect to.
 *
 *   7 ambient-outbound       app leg captured to the outbound port, then
 *                            ztunnel's leg elsewhere (a pod, or a VIP's
 *                            endpoint); alone after the window: ztunnel
 *                            carried it on a connection it had open
 *   8 ambient-inbound-hbone  arriving leg to the HBONE port, which the
 *                            rules spare, then ztunnel's leg to the app
 *                            from the same client address; also such a
 *                            leg of ztunnel's alone (a new stream of an
 *                            HBONE connection opened before)
 *   9 ambient-inbound-plain  arriving leg captured to the inbound port,
 *                            then ztunnel's leg from the client to the
 *                            same destination
 *  10 ambient-local-to-local app leg captured to the outbound port, then
 *                            ztunnel's leg to the app's own pod address
 *  11 ambient-kubelet-probe  arriving leg accepted by a rule for one
 *                            source host (the kubelet's SNAT address
 *                            169.254.7.127): it reaches the app directly
 *  12 ambient-dns            leg captured to the DNS port, then ztunnel's
 *                            query to the same server, or alone when
 *                            ztunnel answered it
 *  13 ztunnel-own            ztunnel's leg stitched to no capture
 * and type 0 for what bypasses ztunnel (bypass) or fits none of them.
 */
#ifndef ST_CLASSIFY_H
#define ST_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "istio.h"

struct st_flow;

/**
 * st_class_flow() - set @flow's type, class and reason.
 * @flow: an assembled flow (legs filled in by the flow table)
 * @set: the sidecar settings derived from the rules
 *
 * For types 1-13 the class is ST_CLASS_NONE and the reason says what is
 * uncertain, or is empty.  @flow->ambient says whether @set is ambient.
 */
void st_class_flow(struct st_flow *flow, const struct st_istio_settings *set);

/**
 * st_class_type_name() - "remote-to-local" ... "sidecar-to-istiod" for
 * types 1-6, "ambient-outbound" ... "ztunnel-own" for 7-13, "other" for 0
 * and anything out of range.
 */
const char *st_class_type_name(int type);

/**
 * st_class_name() - "bypass", "excluded-port", ... for a type-0 class; for
 * ST_CLASS_NONE the type name of @type (a typed flow's class is its type
 * name).
 */
const char *st_class_name(enum st_class c, int type);

/**
 * st_class_is_prometheus_port() - 15090 or 15020 (doc/PORTS.md), and
 * excluded from inbound capture by @set when @set lists exclusions at all.
 */
bool st_class_is_prometheus_port(uint16_t port,
				 const struct st_istio_settings *set);

/**
 * st_class_stats_ambient() - whether a summary is an ambient pod's: the
 * flow table said so, or it counts an ambient type.  Summaries list types
 * 7-13 for an ambient pod, 1-6 otherwise.
 */
bool st_class_stats_ambient(const struct st_flow_stats *st);

/** st_class_is_istiod_port() - 15012 or 15010 (doc/PORTS.md). */
bool st_class_is_istiod_port(uint16_t port);

#endif /* ST_CLASSIFY_H */
