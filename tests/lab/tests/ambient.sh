#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ambient.sh EXPECTED.paths
#
# sidecar-trace --json traces the lab's ambient pod (the ztunnel stand-in,
# its sockets marked 0x539), found by `--pod productpage-v1-P -n default`
# through the container runtime (the crictl stand-in of tests/fakes, which
# answers with the lab pod's sandbox and its network namespace), while
# every ambient scenario of the expected file runs; then
#   - every leg it reports is compared with the expected paths by
#     compare-paths (each leg's hops equal the kernel's walk);
#   - each scenario's flow has its ambient type (table below, by the first
#     leg's destination: 7-13, and 0 for what bypasses ztunnel);
#   - the pod's rules are identical before and after; nothing was lost.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

EXP=$1
[ -r "$EXP" ] || { echo "usage: $0 EXPECTED.paths" >&2; exit 2; }
NAME=$(basename "$EXP" .paths)
BACKEND=$(sed -nE 's/^@backend[[:space:]]+//p' "$EXP")
read -r -a RULES <<<"$(sed -nE 's/^@rules[[:space:]]+//p' "$EXP")"
t_require
t_require_backend "$BACKEND"
BIN=$(tr_binary)
P=$(t_prefix)
t_scratch st-ambient-test
WORK=$T_TMP
TPID=

cleanup() {
	[ -n "$TPID" ] && kill -KILL "$TPID" 2>/dev/null
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

up_args=()
for f in "${RULES[@]}"; do up_args+=(--rules "$SAMPLES/rules/$f"); done
echo "== $NAME: lab up ($BACKEND, prefix $P)"
"$LAB" up "${up_args[@]}" --backend "$BACKEND" --prefix "$P" >/dev/null
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }
BEFORE=$(tr_snapshot "$P" "$BACKEND")
tr_chain_sizes "$P" "$BACKEND" >"$WORK/sizes"

# The runtime: the lab pod's sandbox as containerd's crictl shows it.
POD=productpage-v1-$P
CRI=$WORK/cri
mkdir -p "$CRI"
id=$(printf 'a%.0s' {1..64})
jq -n --arg id "$id" --arg name "$POD" --arg path "/var/run/netns/$P-pod" \
	--argjson pid "$(ip netns pids "$P-pod" | head -n 1)" '
	{status: {id: $id, metadata: {name: $name, uid: "aaaaaaaa-0000-4000-8000-000000000000",
		namespace: "default", attempt: 0}, state: "SANDBOX_READY",
		createdAt: "2026-12-07T04:00:00.000000000Z",
		network: {additionalIps: [], ip: "10.244.1.10"},
		linux: {namespaces: {options: {ipc: "POD", network: "POD", pid: "CONTAINER", targetId: ""}}},
		labels: {app: "productpage"}, annotations: {}, runtimeHandler: ""},
	 info: {pid: $pid, processStatus: "running", netNamespaceClosed: false,
		runtimeSpec: {linux: {namespaces: [{type: "network", path: $path}]}}}}' \
	>"$CRI/inspectp-$id.json"
jq -s '{items: [.[] | .status | {id, metadata, state,
	createdAt: "1796616000000000000", labels, annotations, runtimeHandler}]}' \
	"$CRI"/inspectp-*.json >"$CRI/pods.json"
ST_FAKE_CRI_DIR=$CRI PATH=$(cd "$HERE/../../fakes" && pwd):$PATH \
	"$BIN" --pod "$POD" -n default --json \
	>"$WORK/flows.jsonl" 2>"$WORK/trace.err" &
TPID=$!
tr_wait_tracing "$WORK/trace.err" "$TPID" ||
	{ echo "FAIL: sidecar-trace did not start: $(cat "$WORK/trace.err")"; exit 1; }
grep -q "^sidecar-trace: tracing pod default/$POD " "$WORK/trace.err" &&
	echo "ok: found by --pod: $(head -n 1 "$WORK/trace.err")" ||
	t_fail "--pod $POD: $(head -n 1 "$WORK/trace.err")"

SCEN=$(awk '!/^[ \t]*(#|@|$)/ && !seen[$1]++ { print $1 }' "$EXP")
for s in $SCEN; do
	args=("${s%/6}" --prefix "$P")
	[[ $s == */6 ]] && args+=(--ipv6)
	"$LAB" scenario "${args[@]}" >/dev/null 2>&1
	rc=$?
	[ $rc -eq 0 ] || t_fail "scenario $s exited $rc"
done
# Until every expected connection is printed with its path (legs stitched
# and sealed); if one never is, the comparison below says which.
legs_as_expected() {
	tr_legs "$WORK/flows.jsonl" "$WORK/sizes" >"$WORK/legs.jsonl" 2>/dev/null &&
		"$HERE/compare-paths" "$EXP" "$WORK/legs.jsonl" --rules-dir "$SAMPLES/rules" >/dev/null 2>&1
}
T_WAIT_STEP=1 wait_for 60 legs_as_expected
kill -INT "$TPID"
wait "$TPID"
rc=$?
TPID=
[ $rc -eq 0 ] || t_fail "sidecar-trace exited $rc: $(tail -n 3 "$WORK/trace.err")"
AFTER=$(tr_snapshot "$P" "$BACKEND")
[ "$AFTER" = "$BEFORE" ] && echo "ok: rules identical before and after" ||
	t_fail "the rules differ after the trace: $(diff <(echo "$BEFORE") <(echo "$AFTER") | head -n 10)"
tail -n 1 "$WORK/flows.jsonl" | jq -e '.summary.lost == 0' >/dev/null ||
	t_fail "records lost or no summary: $(tail -n 1 "$WORK/flows.jsonl")"

tr_legs "$WORK/flows.jsonl" "$WORK/sizes" >"$WORK/legs.jsonl"
echo "== $NAME: $(grep -vc summary "$WORK/flows.jsonl") flows, $(wc -l <"$WORK/legs.jsonl") legs"
"$HERE/compare-paths" "$EXP" "$WORK/legs.jsonl" --rules-dir "$SAMPLES/rules" ||
	t_fail "the legs sidecar-trace reports differ from $EXP"

# Types by the first leg's destination (and uid where it matters).
type_of() { # DST UID -> the flows' types, sorted, unique
	jq -r --arg d "$1" --arg u "$2" 'select(.legs != null and .legs[0].dst == $d and
		($u == "*" or (.legs[0].uid | tostring) == $u)) | "\(.type) \(.class)"' \
		"$WORK/flows.jsonl" | sort -u | tr '\n' ';'
}
want_type() { # SCENARIO DST UID WANT
	local s=$1 got
	grep -qE "^$s[[:space:]]" "$EXP" || return 0
	got=$(type_of "$2" "$3")
	if [ "$got" = "$4;" ]; then
		echo "ok: $s: $4"
	else
		t_fail "$s: flows to $2 (uid $3) are '$got', want '$4'"
	fi
}
want_type remote-to-app 10.244.1.10:9080 "*" "9 ambient-inbound-plain"
want_type hbone-to-app 10.244.1.10:15008 "*" "8 ambient-inbound-hbone"
want_type app-to-remote 10.244.2.20:9080 1000 "7 ambient-outbound"
want_type app-to-remote-vip 10.96.0.20:9080 1000 "7 ambient-outbound"
want_type app-to-self-vip 10.96.0.30:9081 1000 "10 ambient-local-to-local"
want_type app-to-own-ip 10.244.1.10:9081 1000 "0 bypass"
want_type dns-query 10.96.0.10:53 1000 "12 ambient-dns"
# A process with ztunnel's ids but not its mark is captured like the app.
want_type rogue-proxy-uid 10.244.2.20:80 0 "7 ambient-outbound"
want_type kubelet-probe 10.244.1.10:9081 null "11 ambient-kubelet-probe"
# ztunnel's own legs are all stitched to a capture: none is left over.
n=$(jq -r 'select(.type == 13)' "$WORK/flows.jsonl" | grep -c .)
[ "$n" = 0 ] && echo "ok: no ztunnel leg left unstitched" ||
	t_fail "$n flows of ztunnel's own: $(jq -c 'select(.type == 13) | .legs[0] | [.src, .dst]' "$WORK/flows.jsonl" | head -n 3)"
echo "-- the other type-0 flows (reported, not asserted):"
jq -r 'select(.type == 0) | "   \(.class): \(.legs[0].src) -> \(.legs[0].dst) (\(.reason))"' \
	"$WORK/flows.jsonl" | sort | uniq -c | head -n 20

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "ambient $NAME"
