# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the trace_*.sh lab tests (sourced): the sidecar-trace binary,
# rule snapshots, waiting for a session, and turning the flows sidecar-trace
# prints (--json) into the ground truth's format for compare-paths.

. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

# The binary: $ST_BINARY, else the newest build*/sidecar-trace of the tree.
tr_binary() {
	local b
	if [ -n "${ST_BINARY:-}" ]; then
		echo "$ST_BINARY"
		return
	fi
	b=$(ls -t "$HERE"/../../../build*/sidecar-trace 2>/dev/null | head -n 1)
	[ -x "$b" ] || t_skip "sidecar-trace not built (set ST_BINARY)"
	echo "$b"
}

# The pod's rules as the backend's save shows them, without "#" lines and
# counters: what must be identical before and after a trace.
tr_snapshot() {
	local p=$1 be=$2
	case $be in
	legacy)
		ip netns exec "$p-pod" iptables-legacy-save
		ip netns exec "$p-pod" ip6tables-legacy-save
		;;
	nft)
		ip netns exec "$p-pod" iptables-nft-save
		ip netns exec "$p-pod" ip6tables-nft-save
		;;
	nftables) ip netns exec "$p-pod" nft -s list ruleset ;;
	esac 2>/dev/null | grep -v '^#' | sed -E 's/^(:[^ ]+ [^ ]+) \[[0-9]+:[0-9]+\]/\1/; s/^\[[0-9]+:[0-9]+\] //'
}

# tr_session_rules PREFIX BACKEND: a rule of a sidecar-trace session is in
# the pod.
tr_session_rules() {
	tr_snapshot "$1" "$2" | grep -q 'sidecar-trace:'
}

# Rules per chain, "FAMILY table:chain N" lines (FAMILY 4, 6, or 0 for
# nftables' inet tables), for the "return" hop numbers.
tr_chain_sizes() {
	local p=$1 be=$2 fam cmd
	case $be in
	legacy | nft)
		for fam in 4 6; do
			cmd="iptables-$be-save"
			[ $fam = 6 ] && cmd="ip6tables-$be-save"
			ip netns exec "$p-pod" "$cmd" 2>/dev/null | awk -v f=$fam '
				/^\*/ { t = substr($1, 2) }
				/^:/ { n[t ":" substr($1, 2)] += 0 }
				/^-A / && !/sidecar-trace:/ { n[t ":" $2]++ }
				END { for (k in n) print f, k, n[k] }'
		done
		;;
	nftables)
		ip netns exec "$p-pod" nft -j list ruleset | python3 -c '
import json, sys
n = {}
for o in json.load(sys.stdin)["nftables"]:
    if "chain" in o:
        n.setdefault((o["chain"]["table"], o["chain"]["name"]), 0)
    if "rule" in o:
        r = o["rule"]
        if "sidecar-trace:" in (r.get("comment") or ""):
            continue
        k = (r["table"], r["chain"])
        n[k] = n.get(k, 0) + 1
for (t, c), v in n.items():
    print("0 %s:%s %d" % (t, c, v))'
		;;
	esac
}

# tr_wait_tracing ERRFILE PID: wait (up to 30 s) until the session PID,
# whose stderr is ERRFILE, has attached: 0 when it is tracing, 1 when it
# ended or never got there.
tr_wait_tracing() {
	wait_for 30 tr__attached "$1" "$2" && grep -q '^sidecar-trace: tracing ' "$1"
}
tr__attached() {
	grep -q '^sidecar-trace: tracing ' "$1" 2>/dev/null || tr_ended "$2"
}

# tr_ended PID: the process has ended.
tr_ended() {
	! kill -0 "$1" 2>/dev/null
}

# tr_flow_to FLOWS DST [N]: the JSON Lines FLOWS hold at least N (default
# 1) flows with a leg to DST (ip:port before NAT).
tr_flow_to() {
	[ "$(grep -c "\"dst\":\"$2\"" "$1" 2>/dev/null)" -ge "${3:-1}" ]
}

# tr_wait_collecting PREFIX FLOWS: the first connection right after
# "tracing" was seen missed now and then, so before its scenarios a test
# runs app-to-remote until its flow is printed in FLOWS (JSON Lines): then
# the collector demonstrably sees the pod's traffic.  1 if it never is.
tr_wait_collecting() {
	local i
	for i in 1 2 3; do
		"$LAB" scenario app-to-remote --prefix "$1" >/dev/null 2>&1
		wait_for 20 tr_flow_to "$2" 10.244.2.20:9080 && return 0
	done
	return 1
}

# six_printed FLOWS: the JSON Lines FLOWS hold a flow of each type 1-6.
six_printed() {
	[ "$(grep -o '^{"type":[1-6],' "$1" 2>/dev/null | sort -u | wc -l)" -eq 6 ]
}

# tr_wait_quiet FILE: wait (up to 60 s) until FILE has not grown for 3 s,
# longer than the flow table's stitch window (2 s): by then every leg of
# the connections made so far has been printed in its flow.
tr_wait_quiet() {
	TR_QUIET_SIZE=-1
	wait_for 60 tr__quiet "$1"
}
tr__quiet() {
	local size now
	size=$(stat -c %s "$1" 2>/dev/null || echo 0)
	now=$(date +%s%3N)
	if [ "$size" != "$TR_QUIET_SIZE" ]; then
		TR_QUIET_SIZE=$size
		TR_QUIET_SINCE=$now
		return 1
	fi
	[ $((now - TR_QUIET_SINCE)) -ge 3000 ]
}

# tr_legs FLOWS.jsonl SIZES > TRUTH.jsonl: each leg of each flow as one
# ground-truth connection (enter hops dropped, return = last rule + 1).
tr_legs() {
	python3 - "$1" "$2" <<'PY'
import json, sys
sizes = {}
for line in open(sys.argv[2]):
    fam, k, v = line.split()
    sizes[(fam, k)] = int(v)
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    f = json.loads(line)
    if "summary" in f:
        continue
    for leg in f["legs"]:
        hops = []
        for h in leg["hops"]:
            if h["kind"] == "enter":
                continue
            if h["kind"] == "return":
                k = h["table"] + ":" + h["chain"]
                fam = "6" if leg["src"].startswith("[") else "4"
                n = sizes.get((fam, k), sizes.get(("0", k), 0))
                h = dict(h, rule=n + 1)
            hops.append({"table": h["table"], "chain": h["chain"],
                         "rule": h["rule"], "kind": h["kind"]})
        print(json.dumps({"proto": leg["proto"], "src": leg["src"],
                          "dst": leg["dst"], "uid": leg["uid"],
                          "gid": leg["gid"], "hops": hops,
                          "type": f["type"], "class": f["class"]}))
PY
}
