#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pods_hostroot.sh RULES BACKEND
#
# sidecar-trace on a node through `kubectl debug node`: the node's root is
# a directory (here a scratch directory laid out as one), processes are the
# host's /proc.  The scratch root holds the node's crictl (a stand-in
# answering in crictl's JSON), containerd's socket, the istio-proxy
# container's log under var/log/pods (the lab stand-in's access log, which
# it writes as the kubelet does) and run/netns/NAME (a link to the lab
# pod's namespace).  With --host-root DIR:
#   - --list finds the lab pod, and the node's crictl ran with
#     --runtime-endpoint unix://DIR/run/containerd/containerd.sock;
#   - --pod NAME -n default --envoy-log auto follows
#     DIR/var/log/pods/default_NAME_UID/istio-proxy/0.log and traces the
#     flows of the pod's traffic;
#   - --netns NAME (bare) is DIR/run/netns/NAME;
#   - the rules are identical before and after.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=${1:-istio-1.26plus_redirect_default_nft.rules}
BACKEND=${2:-nft}
tr_setup st-pods-hostroot

echo "== pods_hostroot: lab up --pool ($RULES, $BACKEND, prefix $P)"
tr_lab_up --rules "$SAMPLES/rules/$RULES" --pool
POD=productpage-v1-$P
UID_=5e1f0c2a-7b3d-4e8f-9a6b-0c1d2e3f4a5b

# The node's root.
H=$WORK/host
mkdir -p "$H/usr/bin" "$H/run/containerd" "$H/run/netns" "$H/var/lib/kubelet" \
	"$H/var/log/pods/default_${POD}_$UID_/istio-proxy" "$WORK/cri"
cp "$FAKES/crictl" "$H/usr/bin/crictl"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	"$H/run/containerd/containerd.sock"
ln -s "$ST_LAB_RUN/$P/sidecar/access.log" \
	"$H/var/log/pods/default_${POD}_$UID_/istio-proxy/0.log"
ln -s "/var/run/netns/$P-pod" "$H/run/netns/mypod"
# The sandbox as containerd reports it: its namespace path is the node's.
pid=$(ip netns pids "$P-pod" | head -n 1)
jq -n --arg id "$(printf 'c%.0s' {1..64})" --arg name "$POD" --arg uid "$UID_" \
	--argjson pid "${pid:-0}" --arg path "/run/netns/mypod" '
	{status: {id: $id, metadata: {name: $name, uid: $uid, namespace: "default", attempt: 0},
		state: "SANDBOX_READY", createdAt: "2026-12-07T04:00:00.000000000Z",
		network: {additionalIps: [], ip: "10.244.1.10"},
		linux: {namespaces: {options: {ipc: "POD", network: "POD", pid: "CONTAINER", targetId: ""}}},
		labels: {app: "productpage"},
		annotations: {"sidecar.istio.io/status": "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"]}"},
		runtimeHandler: ""},
	 info: {pid: $pid, runtimeSpec: {linux: {namespaces: [{type: "network", path: $path}]}}}}' \
	>"$WORK/cri/inspectp-$(printf 'c%.0s' {1..64}).json"
tr_cri_pods "$WORK/cri"
export ST_FAKE_CRI_DIR=$WORK/cri ST_FAKE_CRICTL_LOG=$WORK/crictl.log

# 1. --list
"$BIN" --host-root "$H" --list --json >"$WORK/list.json" 2>"$WORK/list.err"
jq -e --arg p "$POD" 'select(.name == $p and .namespace == "default" and .mode == "sidecar")' \
	"$WORK/list.json" >/dev/null && t_ok "--list finds $POD" ||
	t_fail "--list: $(cat "$WORK/list.json" "$WORK/list.err")"
grep -qF "$H/usr/bin/crictl --runtime-endpoint unix://$H/run/containerd/containerd.sock pods -o json" \
	"$WORK/crictl.log" && t_ok "the node's crictl, with the node's runtime socket" ||
	t_fail "crictl was not the node's: $(cat "$WORK/crictl.log" 2>/dev/null)"

# 2. --pod with the access log from the node's /var/log/pods.
"$BIN" --host-root "$H" --pod "$POD" -n default --envoy-log auto --json \
	>"$WORK/flows.jsonl" 2>"$WORK/trace.err" &
TPID=$!
if tr_wait_tracing "$WORK/trace.err" "$TPID"; then
	grep -qF "following Envoy's access log $H/var/log/pods/default_${POD}_$UID_/istio-proxy/0.log" \
		"$WORK/trace.err" && t_ok "--envoy-log auto under the host root" ||
		t_fail "--envoy-log auto: $(head -n 3 "$WORK/trace.err")"
	tr_wait_collecting "$P" "$WORK/flows.jsonl" || t_fail "the first flow was never printed"
	kill -INT "$TPID"
	wait "$TPID" || t_fail "sidecar-trace exited $?: $(tail -n 2 "$WORK/trace.err")"
	TPID=
	grep -qF -- "crictl --runtime-endpoint unix://$H/run/containerd/containerd.sock pods --name $POD --namespace default -o json" \
		"$WORK/crictl.log" && t_ok "--pod asked the node's runtime for the pod" ||
		t_fail "--pod: $(cat "$WORK/crictl.log")"
else
	t_fail "--pod did not start: $(head -n 3 "$WORK/trace.err")"
	kill -KILL "$TPID" 2>/dev/null
	TPID=
fi

# 3. A bare --netns NAME is the node's /run/netns/NAME.
"$BIN" --host-root "$H" --netns mypod --count 1 --json tcp port 9080 \
	>"$WORK/netns.jsonl" 2>"$WORK/netns.err" &
TPID=$!
if tr_wait_tracing "$WORK/netns.err" "$TPID"; then
	grep -qF "tracing netns $H/run/netns/mypod" "$WORK/netns.err" &&
		t_ok "--netns mypod is $H/run/netns/mypod" || t_fail "--netns: $(head -n 2 "$WORK/netns.err")"
	"$LAB" scenario app-to-remote --prefix "$P" >/dev/null 2>&1
	wait_for 20 tr_ended "$TPID" || kill -INT "$TPID"
	wait "$TPID" || t_fail "--netns mypod exited $?"
else
	t_fail "--netns mypod did not start: $(head -n 3 "$WORK/netns.err")"
	kill -KILL "$TPID" 2>/dev/null
fi
TPID=
tr_rules_kept
t_done pods_hostroot
