#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pods_ambient.sh RULES BACKEND
#
# Finding an ambient pod: the lab pod with ztunnel's in-pod rules, where no
# istio-proxy process runs (the ztunnel stand-in names ztunnel's own pod).
#   - without a runtime, --list shows the pod's namespace (by a pid, with no
#     name) with mode ambient: its rules say so;
#   - with the runtime (a crictl stand-in answering from JSON in crictl's
#     shapes: the lab pod's sandbox, its namespace /var/run/netns/P-pod),
#     --list names it default/productpage-v1-P, mode ambient, and `--pod
#     productpage-v1-P -n default` traces it: flows of the ambient
#     scenarios are printed and the rules are identical after;
#   - a non-injected sandbox without ambient rules (the remote pod's) is
#     not listed.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=${1:-istio-1.26plus_ambient-inpod_dns_nft.rules}
BACKEND=${2:-nft}
tr_setup st-pods-ambient

echo "== pods_ambient: lab up ($RULES, $BACKEND, prefix $P)"
tr_lab_up --rules "$SAMPLES/rules/$RULES"
[ -n "$BEFORE" ] || { echo "FAIL: no rules in the pod"; exit 1; }
POD=productpage-v1-$P
NSINO=$(stat -L -c %i "/var/run/netns/$P-pod")

# 1. No runtime: the namespace is found by its rules alone.
PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$FAKES" | paste -sd:) \
	"$BIN" --list --json >"$WORK/list0.json" 2>"$WORK/list0.err"
row=$(jq -c --argjson ino "$NSINO" 'select(.mode == "ambient")' "$WORK/list0.json" |
	while read -r r; do
		pid=$(jq -r .pid <<<"$r")
		[ "$pid" -gt 0 ] && [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$NSINO" ] && echo "$r"
	done | head -n 1)
if [ -n "$row" ] && [ "$(jq -r .backend <<<"$row")" != - ]; then
	t_ok "--list without a runtime: the ambient namespace by its rules: $row"
else
	t_fail "--list without a runtime does not show the ambient namespace: $(cat "$WORK/list0.json" "$WORK/list0.err")"
fi
grep -q "\"name\":\"$POD\"" "$WORK/list0.json" &&
	t_fail "--list named the pod without a runtime (through a proxy process?)"

# 2. The runtime: the lab pod's sandbox, and the remote pod's (no rules).
CRI=$WORK/cri
mkdir -p "$CRI"
# As containerd has it: info.pid is the sandbox's (pause) process.
sandbox() { # ID NAME NETNS IP
	local pid
	pid=$(ip netns pids "$3" | head -n 1)
	jq -n --arg id "$1" --arg name "$2" --arg path "/var/run/netns/$3" --arg ip "$4" \
		--argjson pid "${pid:-0}" '
	{status: {id: $id, metadata: {name: $name, uid: ($id[0:8] + "-0000-4000-8000-000000000000"),
		namespace: "default", attempt: 0}, state: "SANDBOX_READY",
		createdAt: "2026-12-07T04:00:00.000000000Z",
		network: {additionalIps: [], ip: $ip},
		linux: {namespaces: {options: {ipc: "POD", network: "POD", pid: "CONTAINER", targetId: ""}}},
		labels: {app: "productpage"}, annotations: {"kubernetes.io/config.source": "api"},
		runtimeHandler: ""},
	 info: {pid: $pid, processStatus: "running", netNamespaceClosed: false,
		runtimeSpec: {linux: {namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"},
			{type: "mount"}, {type: "network", path: $path}]}}}}'
}
id_pod=$(printf 'a%.0s' {1..64})
id_remote=$(printf 'b%.0s' {1..64})
sandbox "$id_pod" "$POD" "$P-pod" 10.244.1.10 >"$CRI/inspectp-$id_pod.json"
sandbox "$id_remote" "reviews-v1-$P" "$P-remote" 10.244.2.20 >"$CRI/inspectp-$id_remote.json"
tr_cri_pods "$CRI"
export ST_FAKE_CRI_DIR=$CRI
export PATH=$FAKES:$PATH

"$BIN" --list --json >"$WORK/list1.json" 2>"$WORK/list1.err"
row=$(jq -c --arg p "$POD" 'select(.name == $p and .namespace == "default")' "$WORK/list1.json")
if [ "$(jq -r .mode <<<"$row")" = ambient ]; then
	t_ok "--list with the runtime: $row"
else
	t_fail "--list with the runtime: $POD not ambient: $(cat "$WORK/list1.json" "$WORK/list1.err")"
fi
grep -q "reviews-v1-$P" "$WORK/list1.json" && t_fail "--list shows the remote pod, which has no Istio rules"
"$BIN" --list >"$WORK/list1.txt" 2>&1
grep -Eq "^default +$POD +[0-9]+ +[a-z-]+ +ambient " "$WORK/list1.txt" &&
	t_ok "--list (text) says ambient" || t_fail "--list (text): $(cat "$WORK/list1.txt")"

# 3. --pod traces it.
"$BIN" --pod "$POD" -n default --json >"$WORK/flows.jsonl" 2>"$WORK/trace.err" &
TPID=$!
if tr_wait_tracing "$WORK/trace.err" "$TPID"; then
	grep -q "^sidecar-trace: tracing pod default/$POD (pid [1-9]" "$WORK/trace.err" &&
		t_ok "--pod found it: $(grep '^sidecar-trace: tracing' "$WORK/trace.err")" ||
		t_fail "--pod: $(head -n 2 "$WORK/trace.err")"
	tr_wait_collecting "$P" "$WORK/flows.jsonl" || t_fail "the first flow was never printed"
	for s in remote-to-app hbone-to-app dns-query; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1
		rc=$?
		[ $rc -eq 0 ] || [ $rc -eq 77 ] || t_fail "scenario $s exited $rc"
	done
	tr_wait_quiet "$WORK/flows.jsonl"
	kill -INT "$TPID"
	wait "$TPID" || t_fail "sidecar-trace exited $?: $(tail -n 2 "$WORK/trace.err")"
	TPID=
	n=$(jq -c 'select(.summary == null)' "$WORK/flows.jsonl" | wc -l)
	[ "$n" -ge 3 ] && t_ok "$n flows traced" || t_fail "only $n flows: $(cat "$WORK/flows.jsonl")"
	tr_flow_to "$WORK/flows.jsonl" 10.244.2.20:9080 && t_ok "app-to-remote traced" ||
		t_fail "no flow to 10.244.2.20:9080"
else
	t_fail "--pod $POD did not start tracing: $(head -n 3 "$WORK/trace.err")"
	kill -KILL "$TPID" 2>/dev/null
	TPID=
fi
tr_rules_kept
t_done pods_ambient
