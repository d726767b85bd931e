#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers of tests/lab/truth/selftest (standard library only).

  selftest.py serve SECONDS PROTO:[ADDR:]PORT...     accept / echo, then exit
  selftest.py connect tcp|udp HOST PORT [--src ADDR] [--timeout S]
                    [--mark N]
        prints "proto src dst" of the connection it made (one SYN, or two
        datagrams of one flow; --mark: from a socket with SO_MARK N, as
        ztunnel's); failures to connect are fine: the first packet is what
        the recorder traces
  selftest.py check SET MADE TRUTH     assert the recorded hops (exit 1)
  selftest.py rules < iptables-save    the save output without comments,
        counters and tables that hold no rule (for before/after diffs)
"""

import json
import select
import socket
import sys
import time


def serve(argv):
    end = time.time() + float(argv[0])
    socks = []
    for spec in argv[1:]:
        # proto:port (all addresses, v4 and v6) or proto:addr:port.  A
        # UDP server must answer from the address it was asked at, or
        # its answer is a new flow: bind it to that address.
        proto, _, rest = spec.partition(":")
        addr, _, port = rest.rpartition(":")
        fam = socket.AF_INET if "." in addr else socket.AF_INET6
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else
                          socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((addr or "::", int(port)))
        if proto == "tcp":
            s.listen(64)
        socks.append((proto, s))
    while time.time() < end:
        r, _, _ = select.select([s for _, s in socks], [], [], 0.2)
        for proto, s in socks:
            if s not in r:
                continue
            if proto == "tcp":
                c, _ = s.accept()
                c.close()
            else:
                d, a = s.recvfrom(2048)
                s.sendto(d, a)


def ep(sa, fam):
    host = sa[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return ("[%s]:%d" if fam == socket.AF_INET6 else "%s:%d") % (host,
                                                                 sa[1])


def connect(argv):
    proto, host, port = argv[0], argv[1], int(argv[2])
    src, timeout, mark = None, 1.0, 0
    i = 3
    while i < len(argv):
        if argv[i] == "--src":
            src = argv[i + 1]
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1])
        elif argv[i] == "--mark":
            mark = int(argv[i + 1], 0)
        i += 2
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else
                      socket.SOCK_DGRAM)
    if mark:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        if proto == "udp":
            s.send(b"q1")
            s.send(b"q2")
            try:
                s.recv(100)
                s.recv(100)
            except OSError:
                pass
    except OSError:
        pass
    print(proto, ep(s.getsockname(), fam), ep((host, port), fam))


def fmt(h):
    k = {"rule": "", "policy": "P", "return": "R"}[h["kind"]]
    return "%s/%s/%d%s" % (h["table"], h["chain"], h["rule"], k)


N = "nat/"
# Expected hops per rule set and connection label, in the notation
# table/chain/rule (P = policy, R = return).  Derived by hand from the
# rule files in samples/rules/ (see the README's table).
I17 = {
    "app-remote": [N + "OUTPUT/1", N + "ISTIO_OUTPUT/9",
                   N + "ISTIO_REDIRECT/1", N + "POSTROUTING/0P"],
    "proxy-remote": [N + "OUTPUT/1", N + "ISTIO_OUTPUT/4", N + "OUTPUT/0P",
                     N + "POSTROUTING/0P"],
    "app-localhost": [N + "OUTPUT/1", N + "ISTIO_OUTPUT/3", N + "OUTPUT/0P",
                      N + "POSTROUTING/0P"],
    "proxy-podip-lo": [N + "OUTPUT/1", N + "ISTIO_OUTPUT/2",
                       N + "ISTIO_IN_REDIRECT/1", N + "POSTROUTING/0P"],
    "passthrough-127.0.0.6": [N + "OUTPUT/1", N + "ISTIO_OUTPUT/1",
                              N + "OUTPUT/0P", N + "POSTROUTING/0P"],
    "remote-app": [N + "PREROUTING/1", N + "ISTIO_INBOUND/5",
                   N + "ISTIO_IN_REDIRECT/1", N + "INPUT/0P"],
    "remote-15090": [N + "PREROUTING/1", N + "ISTIO_INBOUND/2",
                     N + "PREROUTING/0P", N + "INPUT/0P"],
    "app-udp": [N + "OUTPUT/0P", N + "POSTROUTING/0P"],
}
I17["proxy-retransmit"] = I17["proxy-remote"]
# uid/gid 0 with ztunnel's socket mark: these rules test no mark, so it is
# captured like the app; the record must carry "mark": 1337.
I17["marked-remote"] = I17["app-remote"]
I26 = dict(I17)
I26["app-udp"] = [N + "OUTPUT/1", N + "ISTIO_OUTPUT/9",
                  N + "ISTIO_REDIRECT/2R", N + "ISTIO_OUTPUT/10R",
                  N + "OUTPUT/0P", N + "POSTROUTING/0P"]
T = "istio-proxy-nat/"
NATIVE = {
    "app-remote": [T + "output/1", T + "istio-output/9",
                   T + "istio-redirect/1"],
    "proxy-remote": [T + "output/1", T + "istio-output/4", T + "output/0P"],
    "app-localhost": [T + "output/1", T + "istio-output/3", T + "output/0P"],
    "proxy-podip-lo": [T + "output/1", T + "istio-output/2",
                       T + "istio-in-redirect/1"],
    "passthrough-127.0.0.6": [T + "output/1", T + "istio-output/1",
                              T + "output/0P"],
    "remote-app": [T + "prerouting/1", T + "istio-inbound/5",
                   T + "istio-in-redirect/1"],
    "remote-15090": [T + "prerouting/1", T + "istio-inbound/2",
                     T + "prerouting/0P"],
    "app-udp": [T + "output/1", T + "istio-output/9",
                T + "istio-redirect/2R", T + "istio-output/10R",
                T + "output/0P"],
}
NATIVE["proxy-retransmit"] = NATIVE["proxy-remote"]
NATIVE["marked-remote"] = NATIVE["app-remote"]
for k in ("app-remote", "proxy-remote", "remote-app", "app-udp",
          "marked-remote"):
    NATIVE[k + "6"] = NATIVE[k]
R = "raw/"
RAW4_OUT = [R + "OUTPUT/1", R + "ISTIO_OUTPUT_DNS/6R", R + "OUTPUT/0P"]
RAW4_LO = [R + "PREROUTING/1", R + "ISTIO_INBOUND/2R", R + "PREROUTING/0P"]
RAW6_OUT = [R + "OUTPUT/1", R + "ISTIO_OUTPUT_DNS/5R", R + "OUTPUT/0P"]
DUAL = {
    "app-remote": RAW4_OUT + [N + "OUTPUT/1", N + "ISTIO_OUTPUT/8",
                              N + "ISTIO_OUTPUT_DNS/3R",
                              N + "ISTIO_OUTPUT/10", N + "ISTIO_REDIRECT/1",
                              N + "POSTROUTING/0P"] + RAW4_LO,
    "proxy-remote": RAW4_OUT + [N + "OUTPUT/1", N + "ISTIO_OUTPUT/4",
                                N + "OUTPUT/0P", N + "POSTROUTING/0P"],
    "remote-app": RAW4_LO + [N + "PREROUTING/1", N + "ISTIO_INBOUND/5",
                             N + "ISTIO_IN_REDIRECT/1", N + "INPUT/0P"],
    # DNS capture: CT --zone 2 does not end the raw walk; nat redirects the
    # query to 15053; the answer (from 127.0.0.1:15053) is not a new flow.
    "app-dns": [R + "OUTPUT/1", R + "ISTIO_OUTPUT_DNS/5",
                R + "ISTIO_OUTPUT_DNS/6R", R + "OUTPUT/0P", N + "OUTPUT/1",
                N + "ISTIO_OUTPUT/8", N + "ISTIO_OUTPUT_DNS/2",
                N + "POSTROUTING/0P"] + RAW4_LO,
    "app-remote6": RAW6_OUT + [N + "OUTPUT/1", N + "ISTIO_OUTPUT/9",
                               N + "ISTIO_REDIRECT/1", N + "POSTROUTING/0P",
                               R + "PREROUTING/0P"],
    "proxy-remote6": RAW6_OUT + [N + "OUTPUT/1", N + "ISTIO_OUTPUT/4",
                                 N + "OUTPUT/0P", N + "POSTROUTING/0P"],
    "remote-app6": [R + "PREROUTING/0P", N + "PREROUTING/1",
                    N + "ISTIO_INBOUND/5", N + "ISTIO_IN_REDIRECT/1",
                    N + "INPUT/0P"],
    "app-udp6": RAW6_OUT + [N + "OUTPUT/1", N + "ISTIO_OUTPUT/9",
                            N + "ISTIO_REDIRECT/2R", N + "ISTIO_OUTPUT/10R",
                            N + "OUTPUT/0P", N + "POSTROUTING/0P"],
}
DUAL["marked-remote"] = DUAL["app-remote"]
DUAL["marked-remote6"] = DUAL["app-remote6"]
SETS = {"istio17": I17, "istio26": I26, "native28": NATIVE, "dual": DUAL}
UIDS = {"app": 1000, "proxy": 1337, "passthrough": 1337, "remote": None,
        "marked": 0}
MARK = 0x539  # connect_label in ./selftest


def check(argv):
    exp = SETS[argv[0]]
    made = [line.split() for line in open(argv[1]) if line.strip()]
    truth = [json.loads(line) for line in open(argv[2]) if line.strip()]
    fails = 0
    by = {}
    for c in truth:
        by.setdefault((c["proto"], c["src"]), []).append(c)
    for label, proto, src, dst in made:
        got = by.pop((proto, src), [])
        want = exp[label]
        if len(got) != 1:
            print("FAIL %-22s %s %s -> %s: %d records" % (
                label, proto, src, dst, len(got)))
            fails += 1
            continue
        c = got[0]
        hops = [fmt(h) for h in c["hops"]]
        uid = UIDS[label.split("-")[0]]
        # A mark of 0 is left out of the record, never written as 0.
        mark = MARK if label.startswith("marked-") else None
        ok = hops == want and c["dst"] == dst and c["uid"] == uid and \
            c["gid"] == uid and c.get("mark") == mark and \
            (mark is not None or "mark" not in c)
        print("%s %-22s %s %s -> %s uid %s%s: %s" % (
            "ok  " if ok else "FAIL", label, proto, src, c["dst"],
            c["uid"], " mark %s" % c["mark"] if "mark" in c else "",
            " ".join(hops)))
        if not ok:
            print("     expected dst %s uid %s%s: %s" % (
                dst, uid, " mark %d" % mark if mark else "",
                " ".join(want)))
            fails += 1
    for k, v in by.items():
        print("FAIL unexpected record: %s" % json.dumps(v))
        fails += 1
    return 1 if fails else 0


def rules():
    tables, cur, order = {}, None, []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.startswith("#") or not line or line == "COMMIT":
            continue
        if line.startswith("*"):
            cur = tables.setdefault(line, [])
            order.append(line)
        elif line.startswith(":"):
            cur.append(line.split("[")[0].rstrip())
        else:
            cur.append(line)
    for t in order:
        body = tables[t]
        if any(not x.startswith(":") for x in body) or any(
                not x.endswith((" ACCEPT", " -")) for x in body):
            print(t)
            print("\n".join(body))


def gone(argv):
    """Exit 1 if a recorder listed in the state file still runs."""
    st = json.load(open(argv[0]))
    alive = []
    for pr in st["procs"]:
        try:
            with open("/proc/%d/stat" % pr["pid"]) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        if fields[19] == pr["start"] and fields[0] not in ("Z", "X"):
            alive.append("%s (pid %d)" % (pr["name"], pr["pid"]))
    if alive:
        print("still running: " + ", ".join(alive))
        return 1
    return 0


def main():
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "labels":
        print("\n".join(SETS[argv[0]]))
        return 0
    if cmd == "gone":
        return gone(argv)
    if cmd == "serve":
        return serve(argv)
    if cmd == "connect":
        return connect(argv)
    if cmd == "check":
        return check(argv)
    if cmd == "rules":
        return rules()
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
