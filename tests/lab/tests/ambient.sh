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
tr_expected_up "$EXP" st-ambient-test

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
tr_cri_pods "$CRI"
ST_FAKE_CRI_DIR=$CRI PATH=$FAKES:$PATH \
	"$BIN" --pod "$POD" -n default --json \
	>"$WORK/flows.jsonl" 2>"$WORK/trace.err" &
TPID=$!
tr_wait_tracing "$WORK/trace.err" "$TPID" ||
	{ echo "FAIL: sidecar-trace did not start: $(cat "$WORK/trace.err")"; exit 1; }
grep -q "^sidecar-trace: tracing pod default/$POD " "$WORK/trace.err" &&
	echo "ok: found by --pod: $(head -n 1 "$WORK/trace.err")" ||
	t_fail "--pod $POD: $(head -n 1 "$WORK/trace.err")"

tr_expected_scenarios "$EXP"
tr_stop_compare "$EXP"

# Types by the first leg's destination (and uid where it matters).
want_type() { # SCENARIO DST UID WANT
	tr_want_type "$EXP" "$@"
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
tr_other_bypasses

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "ambient $NAME"
