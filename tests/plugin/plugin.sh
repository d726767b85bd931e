#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# plugin.sh - the kubectl plugin packaging/kubectl/kubectl-sidecar_trace
# against a stand-in kubectl (tests/plugin/kubectl: it checks the calls and
# runs them against the lab pod: an ephemeral container of the netadmin
# profile in the pod's network namespace with only NET_ADMIN and NET_RAW,
# or the node route as root on this machine):
#   - without --yes and without a terminal it refuses to trace, and asks
#     nothing for --explain;
#   - the pod route and the node route, stopped with SIGTERM, print the
#     flows the host binary prints for the same scenarios, with the
#     kernel's paths; the pod's rules are identical before and after;
#     the diagrams (-o) and the --write capture come back to the caller's
#     directory; the node debugger pod is deleted.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../image/routes.sh"

PLUGIN=$(cd "$HERE/../../.." && pwd)/packaging/kubectl/kubectl-sidecar_trace
rt_lab_up
BIN=$(tr_binary)
POD=productpage-v1-$P
IMG=registry.example/sidecar-trace:test
mkdir -p "$RT_WORK/path" "$RT_WORK/state" "$RT_WORK/image"
cp "$HERE/../../plugin/kubectl" "$RT_WORK/path/kubectl"
ln -s "$BIN" "$RT_WORK/image/sidecar-trace"
export PATH="$RT_WORK/path:$PATH" ST_KUBECTL_STATE=$RT_WORK/state ST_KUBECTL_LAB=$P \
	ST_KUBECTL_IMAGE=$IMG ST_KUBECTL_PATH=$RT_WORK/image SIDECAR_TRACE_IMAGE=$IMG
KPID=
# A trace the plugin could not stop must not outlive the test.
stop_containers() {
	local f c
	[ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
	for f in "$RT_WORK"/state/c.*; do
		c=${f##*/c.}
		case $c in *.rc | *.deleted | '*') continue ;; esac
		[ -e "$f.rc" ] || kill -INT "$(cat "/tmp/$c.pid" 2>/dev/null)" 2>/dev/null
	done
}
t_on_exit stop_containers

# No answer, no trace: nothing is started without --yes off a terminal.
"$PLUGIN" "$POD" -n default >"$RT_WORK/no.out" 2>"$RT_WORK/no.err" </dev/null
rc=$?
[ $rc -eq 2 ] && grep -q 'give --yes' "$RT_WORK/no.err" &&
	grep -q 'insert temporary NFLOG rules' "$RT_WORK/no.err" &&
	! grep -q '^debug' "$RT_WORK/state/calls.log" 2>/dev/null &&
	t_ok "without --yes and a terminal: refused ($(head -n 1 "$RT_WORK/no.err" | cut -c1-60)...)" ||
	t_fail "without --yes: exit $rc: $(cat "$RT_WORK/no.err")"
"$PLUGIN" "$POD" -n default -- --output /tmp/x.svg >/dev/null 2>"$RT_WORK/abs.err"
[ $? -eq 2 ] && t_ok "an absolute output path is refused" ||
	t_fail "an absolute output path: $(cat "$RT_WORK/abs.err")"

# Read-only: --explain needs no confirmation, and explains the live rules.
"$PLUGIN" "$POD" -n default -- --explain >"$RT_WORK/explain.out" 2>"$RT_WORK/explain.err" </dev/null
rc=$?
"$BIN" --netns "/var/run/netns/$P-pod" --explain >"$RT_WORK/explain.host" 2>&1
if [ $rc -eq 0 ] && grep -q 'ISTIO_OUTPUT' "$RT_WORK/explain.out" &&
	diff <(grep -v '^sidecar-trace' "$RT_WORK/explain.host" | grep -c .) \
		<(grep -v '^sidecar-trace' "$RT_WORK/explain.out" | grep -c .) >/dev/null; then
	t_ok "--explain through the pod route, unasked"
else
	t_fail "--explain: exit $rc: $(head -n 5 "$RT_WORK/explain.err")"
fi

rt_host_reference

# run_route NAME PLUGIN-ARGS...: the plugin in $RT_WORK/NAME (its working
# directory), traced scenarios, SIGTERM (a background job of a script
# ignores SIGINT, which a terminal's Ctrl-C sends), and the checks.
run_route() {
	local name=$1 dir=$RT_WORK/$1 rc
	shift
	mkdir -p "$dir"
	(cd "$dir" && exec "$PLUGIN" "$@" -- --json -o diagrams --write cap.pcap \
		>"$dir/flows.jsonl" 2>"$dir/err" </dev/null) &
	KPID=$!
	if ! tr_wait_tracing "$dir/err" "$KPID"; then
		t_fail "$name: no trace: $(cat "$dir/err" "$RT_WORK/state/errors.log" 2>/dev/null)"
		kill -TERM "$KPID" 2>/dev/null
		wait "$KPID"
		KPID=
		return
	fi
	rt_drive "$dir/flows.jsonl"
	kill -TERM "$KPID"
	if ! wait_for 60 tr_ended "$KPID"; then
		t_fail "$name: still running 60 s after SIGTERM: $(tail -n 3 "$dir/err")"
		kill -KILL "$KPID"
	fi
	wait "$KPID"
	rc=$?
	KPID=
	[ $rc -eq 0 ] && t_ok "$name: stopped by SIGTERM, exit 0" ||
		t_fail "$name: exit $rc: $(tail -n 5 "$dir/err")"
	grep -q 'rules removed, the rules are as before' "$dir/err" ||
		t_fail "$name: no 'rules removed' line: $(tail -n 5 "$dir/err")"
	rt_check "$name" "$dir/flows.jsonl"
	for f in diagrams/index.html cap.pcap cap.pcap.rules; do
		[ -s "$dir/$f" ] || t_fail "$name: $f did not come back: $(ls -R "$dir")"
	done
	[ -s "$dir/cap.pcap" ] && t_ok "$name: the diagrams and the capture came back"
	"$BIN" --replay "$dir/cap.pcap" --json >"$dir/replay.jsonl" 2>/dev/null ||
		t_fail "$name: the capture that came back does not replay"
}

run_route pod "$POD" -n default --yes
grep -q "^debug $POD -n default --profile=netadmin --image=$IMG --container=sidecar-trace-[0-9a-f]* --env=POD_NAME=$POD --env=POD_NAMESPACE=default --attach=true --quiet -- sh -c " \
	"$RT_WORK/state/calls.log" && t_ok "pod route: kubectl debug POD --profile=netadmin with the pod's name" ||
	t_fail "pod route: calls: $(cat "$RT_WORK/state/calls.log")"
grep -q '^exec .* -- sh -c kill' "$RT_WORK/state/calls.log" ||
	t_fail "pod route: the stop did not reach the container through kubectl exec"

run_route node "$POD" -n default --node --yes
grep -q "^debug node/lab-node -n default --profile=sysadmin --image=$IMG --container=sidecar-trace-[0-9a-f]* --attach=true --quiet -- sh -c .* --pod $POD -n default --json" \
	"$RT_WORK/state/calls.log" && t_ok "node route: kubectl debug node/NODE --profile=sysadmin --pod POD" ||
	t_fail "node route: calls: $(cat "$RT_WORK/state/calls.log")"
ls "$RT_WORK"/state/c.*.deleted >/dev/null 2>&1 && t_ok "node route: the debugger pod was deleted" ||
	t_fail "node route: the debugger pod was not deleted"

[ ! -s "$RT_WORK/state/errors.log" ] ||
	t_fail "the stand-in kubectl refused calls: $(cat "$RT_WORK/state/errors.log")"
t_done plugin
