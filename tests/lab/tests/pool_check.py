#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""pool_check.py EVENTS FROM FLOWS MODE POD [--ready]

Checks sidecar-trace's flows (FLOWS, JSON Lines of --json) of a lab pod up
with --pool against the sidecar stand-in's ground truth: its "request" and
"relay" events (EVENTS, the stand-in's --log) after line FROM.

Every downstream connection the stand-in handled is joined with the flow
whose first leg has its source ("client" == legs[0].src):
  - an outbound request or relay: type 2, or 4 when the upstream is the pod
    itself (POD, the pod's address); the inbound request of a type 4 (the
    same request id, from the proxy's own connection to the pod) is that
    flow's, not one of its own;
  - an inbound request from outside the pod: type 1.
MODE plain (no access log):
  - exactly one flow, of that type, not "unknown";
  - the flow's legs after the first are legs the stand-in used for this
    request (its upstream connection; for type 4 also the inbound
    request's): none stitched from another request;
  - a pooled connection named on a reused Envoy side is one of those.
MODE log (--envoy-log), the same and:
  - the Envoy side was decided from the access log;
  - the flow carries the request (method, path, code and cluster; a TCP
    relay: no method, its upstream host), for type 4 the inbound one too;
  - the upstream connection the stand-in used is in the flow: a leg from
    its source or the named pooled connection (for type 4 the inbound
    request's as well, unless both of its connections were reused);
  - as many HTTP requests in all flows as the stand-in handled.
--ready: exit 0 once every joined connection has a flow, else 1, silently.
Otherwise prints the counts checked and, on failure, a table of every
check; exit 0 pass, 1 fail, 2 bad input.
"""

import json
import sys


def load_events(path, start):
    evs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if n <= start or not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("ev") == "request":
                evs.append(e)
            elif e.get("ev") == "relay" and e.get("ok") and \
                    e.get("listener") in ("outbound", "inbound"):
                evs.append(e)
    return evs


def load_flows(path):
    flows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if "legs" in o and o["legs"]:
                flows.append(o)
    return flows


def host(addr):
    return addr.rsplit(":", 1)[0].strip("[]") if addr else ""


def downstreams(evs, pod):
    """[(event, inbound half or None, wanted type)]: what is joined."""
    by_rid = {}
    for e in evs:
        if e["ev"] == "request" and e["listener"] == "inbound":
            by_rid.setdefault(e.get("request_id"), []).append(e)
    halves = set()
    out = []
    for e in evs:
        if e["listener"] != "outbound":
            continue
        half = None
        want = 2
        if host(e.get("upstream_dst")) == pod:
            want = 4
            if e["ev"] == "request":
                for i in by_rid.get(e.get("request_id"), []):
                    if i.get("client") == e.get("upstream_src"):
                        half = i
                        halves.add(id(i))
        out.append((e, half, want))
    for e in evs:
        if e["listener"] == "inbound" and id(e) not in halves:
            out.append((e, None, 1))
    return out


def label(e):
    if e["ev"] == "relay":
        return "tcp " + e["orig_dst"]
    return "%s %s" % (e["orig_dst"], e.get("path", ""))


def conn(e):
    if e is None:
        return ""
    if e["ev"] == "relay":
        return "%s(tcp)" % e["upstream_src"]
    return "%s(%s#%s)" % (e["upstream_src"], e.get("conn"), e.get("conn_seq"))


def has_request(flow, e):
    reqs = ((flow.get("envoy") or {}).get("requests")) or []
    for r in reqs:
        if e["ev"] == "relay":
            if r.get("method") is None and \
                    r.get("upstream_host") == e["upstream_dst"]:
                return True
        elif r.get("method") == e.get("method") and \
                r.get("path") == e.get("path") and \
                r.get("code") == e.get("status") and \
                r.get("cluster") == e.get("cluster"):
            return True
    return False


def check(item, idx, mode):
    """The problems of one joined connection, and its table row."""
    e, half, want = item
    probs = []
    fl = idx.get(e["client"], [])
    row = {"what": label(e), "client": e["client"], "want": want,
           "up": conn(e) + (" + " + conn(half) if half else "")}
    if len(fl) != 1:
        probs.append("in %d flows" % len(fl))
        row.update(got="-", side="-", legs="-", pooled="-")
        return probs, row
    f = fl[0]
    env = f.get("envoy") or {}
    pooled = (env.get("pooled") or {}).get("src")
    legs = [x["src"] for x in f["legs"][1:]]
    row.update(got="%s %s" % (f["type"], f["class"]), side=env.get("side"),
               legs=",".join(legs) or "-", pooled=pooled or "-")
    if f["type"] != want:
        probs.append("type %s, want %d" % (f["type"], want))
    if f["class"] == "unknown":
        probs.append("unknown")
    used = {e["upstream_src"]}
    if half is not None:
        used.add(half["upstream_src"])
    for s in legs:
        if s not in used:
            probs.append("leg from %s is not this request's" % s)
    if pooled is not None and pooled not in used:
        probs.append("pooled %s is not this request's" % pooled)
    if mode == "log":
        if env.get("side") != "access-log":
            probs.append("side %s, not access-log" % env.get("side"))
        if not has_request(f, e):
            probs.append("request not in the flow")
        if half is not None and not has_request(f, half):
            probs.append("inbound request not in the flow")
        seen = set(legs) | ({pooled} if pooled else set())
        if e["upstream_src"] not in seen:
            probs.append("upstream %s neither a leg nor pooled" %
                         e["upstream_src"])
        if half is not None and half["upstream_src"] not in seen and \
                not (e.get("conn") == "reused" and
                     half.get("conn") == "reused"):
            probs.append("inbound upstream %s neither a leg nor pooled" %
                         half["upstream_src"])
    return probs, row


def main(argv):
    if len(argv) < 6 or argv[4] not in ("plain", "log"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    evs = load_events(argv[1], int(argv[2]))
    flows = load_flows(argv[3])
    mode, pod = argv[4], argv[5]
    idx = {}
    for f in flows:
        idx.setdefault(f["legs"][0]["src"], []).append(f)
    items = downstreams(evs, pod)
    if "--ready" in argv[6:]:
        return 0 if items and all(i[0]["client"] in idx for i in items) else 1

    bad = 0
    rows = []
    for it in items:
        probs, row = check(it, idx, mode)
        row["verdict"] = "; ".join(probs) or "ok"
        bad += bool(probs)
        rows.append(row)
    reqs = [e for e in evs if e["ev"] == "request"]
    n_new = sum(1 for e in reqs if e.get("conn") == "new")
    n_reused = sum(1 for e in reqs if e.get("conn") == "reused")
    by_type = {}
    for _, _, want in items:
        by_type[want] = by_type.get(want, 0) + 1
    logged = None
    if mode == "log":
        logged = 0
        for f in flows:
            env = f.get("envoy") or {}
            logged += sum(1 for r in env.get("requests") or []
                          if r.get("method") is not None)
            # Beyond the listed ones: HTTP or TCP, counted as requests.
            logged += env.get("requests_more", 0)
        if logged != len(reqs):
            bad += 1
            print("FAIL: %d HTTP requests in the flows, the stand-in "
                  "handled %d" % (logged, len(reqs)))
    print("%s: %d requests (%d on a new connection, %d reused), %d TCP "
          "relays; %d downstream connections checked (type 1: %d, 2: %d, "
          "4: %d), %d wrong" %
          (mode, len(reqs), n_new, n_reused,
           sum(1 for e in evs if e["ev"] == "relay"), len(items),
           by_type.get(1, 0), by_type.get(2, 0), by_type.get(4, 0),
           sum(1 for r in rows if r["verdict"] != "ok")))
    if not items:
        print("FAIL: no request of the stand-in to check")
        return 1
    if bad:
        cols = ("what", "client", "want", "got", "side", "legs", "pooled",
                "up", "verdict")
        print("  ".join(cols))
        for r in rows:
            print("  ".join(str(r[c]) for c in cols))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
