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

# Wait until the session in stderr file $1 has attached (or ended): 0 when
# it is tracing.
tr_wait_tracing() {
	local f=$1 pid=$2 i
	for i in $(seq 1 150); do
		grep -q '^sidecar-trace: tracing ' "$f" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
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
