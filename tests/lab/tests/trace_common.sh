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

# tr_cleanup: the on-exit cleanup of a test that traces the lab of prefix
# $P with one session at a time ($TPID, empty when none runs).
tr_cleanup() {
	[ -n "${TPID:-}" ] && kill -KILL "$TPID" 2>/dev/null
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}

# tr_lab_up LAB-UP-ARGS...: the lab up with prefix $P and backend $BACKEND
# (exit 77 where it cannot run, 1 when it fails); BEFORE is then the pod's
# rules, what they must be again after every trace.
tr_lab_up() {
	local rc
	"$LAB" up "$@" --backend "$BACKEND" --prefix "$P" >/dev/null
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }
	BEFORE=$(tr_snapshot "$P" "$BACKEND")
}

# tr_rules_kept [WHAT]: the pod's rules are those of BEFORE again.
tr_rules_kept() {
	local what=${1:+$1: } now
	now=$(tr_snapshot "$P" "$BACKEND")
	[ "$now" = "$BEFORE" ] && t_ok "${what}rules identical before and after" ||
		t_fail "${what}the rules differ after the trace: $(diff <(echo "$BEFORE") <(echo "$now") | head -n 10)"
}

# tr_cri_pods DIR: DIR/pods.json, what `crictl pods -o json` prints, from
# the sandboxes DIR/inspectp-*.json (`crictl inspectp` of each).
tr_cri_pods() {
	jq -s '{items: [.[] | .status | {id, metadata, state,
		createdAt: "1796616000000000000", labels, annotations, runtimeHandler}]}' \
		"$1"/inspectp-*.json >"$1/pods.json"
}

# tr_expected_scenarios EXPECTED: run every scenario EXPECTED (a .paths
# file) names, once each ("NAME/6" over IPv6).
tr_expected_scenarios() {
	local s rc args
	for s in $(awk '!/^[ \t]*(#|@|$)/ && !seen[$1]++ { print $1 }' "$1"); do
		args=("${s%/6}" --prefix "$P")
		[[ $s == */6 ]] && args+=(--ipv6)
		"$LAB" scenario "${args[@]}" >/dev/null 2>&1
		rc=$?
		[ $rc -eq 0 ] || t_fail "scenario $s exited $rc"
	done
}

# tr_stop_compare EXPECTED: once every expected connection is printed with
# its path (legs stitched and sealed; if one never is, the comparison says
# which), stop the session $TPID (stderr $WORK/trace.err, flows
# $WORK/flows.jsonl); then the rules are those of BEFORE, nothing was lost
# and every leg is the kernel's walk as EXPECTED states it.
tr_stop_compare() {
	local exp=$1 rc
	T_WAIT_STEP=1 wait_for 60 tr__legs_as_expected "$exp"
	kill -INT "$TPID"
	wait "$TPID"
	rc=$?
	TPID=
	[ $rc -eq 0 ] || t_fail "sidecar-trace exited $rc: $(tail -n 3 "$WORK/trace.err")"
	tr_rules_kept
	tail -n 1 "$WORK/flows.jsonl" | jq -e '.summary.lost == 0' >/dev/null ||
		t_fail "records lost or no summary: $(tail -n 1 "$WORK/flows.jsonl")"
	tr_legs "$WORK/flows.jsonl" "$WORK/sizes" >"$WORK/legs.jsonl"
	echo "== $NAME: $(grep -vc summary "$WORK/flows.jsonl") flows, $(wc -l <"$WORK/legs.jsonl") legs"
	"$HERE/compare-paths" "$exp" "$WORK/legs.jsonl" --rules-dir "$SAMPLES/rules" ||
		t_fail "the legs sidecar-trace reports differ from $exp"
}
tr__legs_as_expected() {
	tr_legs "$WORK/flows.jsonl" "$WORK/sizes" >"$WORK/legs.jsonl" 2>/dev/null &&
		"$HERE/compare-paths" "$1" "$WORK/legs.jsonl" --rules-dir "$SAMPLES/rules" >/dev/null 2>&1
}

# tr_want_type EXPECTED SCENARIO DST UID WANT: where EXPECTED runs
# SCENARIO, the flows of $WORK/flows.jsonl whose first leg goes to DST (from
# UID, "*" for any) are all of WANT ("TYPE CLASS").
tr_want_type() {
	local got
	grep -qE "^$2[[:space:]]" "$1" || return 0
	got=$(jq -r --arg d "$3" --arg u "$4" 'select(.legs != null and .legs[0].dst == $d and
		($u == "*" or (.legs[0].uid | tostring) == $u)) | "\(.type) \(.class)"' \
		"$WORK/flows.jsonl" | sort -u | tr '\n' ';')
	if [ "$got" = "$5;" ]; then
		echo "ok: $2: $5"
	else
		t_fail "$2: flows to $3 (uid $4) are '$got', want '$5'"
	fi
}

# tr_other_bypasses: the type-0 flows of $WORK/flows.jsonl, counted by
# class and path (reported, not asserted).
tr_other_bypasses() {
	echo "-- the other type-0 flows (reported, not asserted):"
	jq -r 'select(.type == 0) | "   \(.class): \(.legs[0].src) -> \(.legs[0].dst) (\(.reason))"' \
		"$WORK/flows.jsonl" | sort | uniq -c | head -n 20
}

# tr_setup SCRATCH: the start of a test that traces a lab pod of $BACKEND
# (skipped where it cannot run): BIN, FAKES (the stand-ins' folder), P, WORK
# (a scratch directory SCRATCH.*), TPID, and tr_cleanup on exit.
tr_setup() {
	t_require
	t_require_backend "$BACKEND"
	BIN=$(tr_binary)
	FAKES=$(cd "$HERE/../../fakes" && pwd)
	P=$(t_prefix)
	t_scratch "$1"
	WORK=$T_TMP
	TPID=
	t_on_exit tr_cleanup
}

# tr_expected_up EXPECTED SCRATCH: the start of a test of one .paths file:
# NAME, BACKEND and RULES from it, tr_setup SCRATCH, the lab up with its
# rules, BEFORE, and the chain sizes in $WORK/sizes.
tr_expected_up() {
	local f up_args=()
	[ -r "$1" ] || { echo "usage: $0 EXPECTED.paths" >&2; exit 2; }
	NAME=$(basename "$1" .paths)
	BACKEND=$(sed -nE 's/^@backend[[:space:]]+//p' "$1")
	read -r -a RULES <<<"$(sed -nE 's/^@rules[[:space:]]+//p' "$1")"
	tr_setup "$2"
	for f in "${RULES[@]}"; do up_args+=(--rules "$SAMPLES/rules/$f"); done
	echo "== $NAME: lab up ($BACKEND, prefix $P)"
	tr_lab_up "${up_args[@]}"
	tr_chain_sizes "$P" "$BACKEND" >"$WORK/sizes"
}
