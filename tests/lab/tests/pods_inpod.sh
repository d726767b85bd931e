#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pods_inpod.sh RULES BACKEND [pod|netns]
#
# sidecar-trace run inside the lab pod as `kubectl debug --profile=netadmin`
# runs it: in the pod's network namespace, in a PID namespace of its own
# (the proxy's processes are not visible), with only CAP_NET_ADMIN and
# CAP_NET_RAW, the pod's name and namespace in POD_NAME / POD_NAMESPACE,
# and no target on the command line.  Then:
#   - its first stderr line says it traces the namespace it runs in, and
#     names the pod;
#   - the flows (type, class, and each leg's destination, uid and hops) of
#     the same scenarios equal those of a trace from the node (--pod, or
#     with netns --netns: an ambient lab pod is found by --pod only through
#     a runtime, which pods_ambient.sh stands in for);
#   - `--netns self` names the same namespace explicitly;
#   - the pod's rules are identical before and after each run;
#   - in a namespace without Istio rules (the remote pod), no target is a
#     usage error (exit 2) that says so.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=${1:-istio-1.26plus_redirect_default_nft.rules}
BACKEND=${2:-nft}
NODE_BY=${3:-pod}
t_need unshare
tr_setup st-pods-inpod

echo "== pods_inpod: lab up ($RULES, $BACKEND, prefix $P)"
tr_lab_up --rules "$SAMPLES/rules/$RULES"
[ -n "$BEFORE" ] || { echo "FAIL: no rules in the pod"; exit 1; }
POD=productpage-v1-$P

# The scenarios this rule set has (77: not applicable to it).
SCEN=()
for s in app-to-remote app-to-remote-vip remote-to-app prom-scrape-15090 \
	app-to-self-vip envoy-localhost sidecar-to-istiod hbone-to-app dns-query; do
	"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1
	case $? in
	0) SCEN+=("$s") ;;
	77) ;;
	*) t_fail "scenario $s failed before tracing" ;;
	esac
done
echo "scenarios: ${SCEN[*]}"

# The command line of a debug container in the pod, up to the program.
# unshare forks sidecar-trace as pid 1 of a new PID namespace: signals go
# to that child (stop), which blocks them while it traces, as in a pod.
INPOD=(ip netns exec "$P-pod" unshare --pid --fork --mount-proc
	setpriv --inh-caps=-all,+net_admin,+net_raw
	--ambient-caps=-all,+net_admin,+net_raw
	--bounding-set=-all,+net_admin,+net_raw
	env -i PATH="$PATH" POD_NAME="$POD" POD_NAMESPACE=default "$BIN")

# stop: SIGINT to the trace started last (through unshare: to its child).
stop() {
	local kid
	kid=$(ps -o pid= --ppid "$TPID" | head -n 1)
	kill -INT "${kid:-$TPID}"
}

# run NAME how ARGS...: trace while every scenario runs once; the flows
# normalised (no source ports) into NAME.norm.
run() {
	local name=$1 how=$2 s
	shift 2
	if [ "$how" = pod ]; then
		"${INPOD[@]}" "$@" --json >"$WORK/$name.jsonl" 2>"$WORK/$name.err" &
	else
		"$BIN" "$@" --json >"$WORK/$name.jsonl" 2>"$WORK/$name.err" &
	fi
	TPID=$!
	if ! tr_wait_tracing "$WORK/$name.err" "$TPID"; then
		t_fail "$name: did not start tracing: $(head -n 3 "$WORK/$name.err")"
		TPID=
		return 1
	fi
	tr_wait_collecting "$P" "$WORK/$name.jsonl" ||
		t_fail "$name: the first flow was never printed"
	for s in "${SCEN[@]}"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			t_fail "$name: scenario $s failed"
	done
	tr_wait_quiet "$WORK/$name.jsonl"
	stop
	wait "$TPID" || t_fail "$name: sidecar-trace exited $?: $(tail -n 2 "$WORK/$name.err")"
	TPID=
	tr_rules_kept "$name"
	jq -c 'select(.summary == null) | {type, class, legs: [.legs[] |
		{src: (.src | sub(":[0-9]+$"; "")), dst, proto, uid, hops:
		[.hops[] | {table, chain, rule, kind}]}]}' \
		"$WORK/$name.jsonl" | sort -u >"$WORK/$name.norm"
	[ -s "$WORK/$name.norm" ] || t_fail "$name: no flows"
}

if [ "$NODE_BY" = netns ]; then
	run node node --netns "/var/run/netns/$P-pod"
else
	run node node --pod "$POD" -n default
fi
run inpod pod

first=$(head -n 1 "$WORK/inpod.err")
case $first in
"sidecar-trace: no target given: tracing the network namespace it runs in"*"pod default/$POD"*)
	t_ok "the first line says so: $first" ;;
*) t_fail "first stderr line: $first" ;;
esac
grep -q "^sidecar-trace: tracing pod default/$POD (this network namespace)" "$WORK/inpod.err" ||
	t_fail "the session does not name the pod: $(grep tracing "$WORK/inpod.err")"
if diff "$WORK/node.norm" "$WORK/inpod.norm" >"$WORK/diff"; then
	t_ok "the same $(wc -l <"$WORK/node.norm") flows from the node and from inside the pod"
else
	t_fail "flows differ between the node (<) and the pod (>):"
	head -n 20 "$WORK/diff"
fi

# --netns self, explicitly, with a filter and --count.
"${INPOD[@]}" --netns self --count 1 --json tcp port 9080 >"$WORK/self.jsonl" 2>"$WORK/self.err" &
TPID=$!
tr_wait_tracing "$WORK/self.err" "$TPID" ||
	t_fail "--netns self: did not start: $(head -n 3 "$WORK/self.err")"
"$LAB" scenario app-to-remote --prefix "$P" >/dev/null 2>&1
wait_for 20 tr_ended "$TPID" || stop
wait "$TPID" || t_fail "--netns self exited $?: $(tail -n 2 "$WORK/self.err")"
TPID=
grep -q '"dst":"10.244.2.20:9080"' "$WORK/self.jsonl" && t_ok "--netns self traced app-to-remote" ||
	t_fail "--netns self: no flow to 10.244.2.20:9080"
grep -q 'no target given' "$WORK/self.err" && t_fail "--netns self said no target was given"
now=$(tr_snapshot "$P" "$BACKEND")
[ "$now" = "$BEFORE" ] || t_fail "--netns self: the rules differ after the trace"

# No Istio rules where it runs: a usage error, as without a target anywhere.
ip netns exec "$P-remote" unshare --pid --fork --mount-proc \
	setpriv --inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw \
	--bounding-set=-all,+net_admin,+net_raw env -i PATH="$PATH" "$BIN" >/dev/null 2>"$WORK/none.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "nothing to do.*holds no pod's Istio rules" "$WORK/none.err"; then
	t_ok "no Istio rules: exit 2 and it says so"
else
	t_fail "no Istio rules: exit $rc: $(cat "$WORK/none.err")"
fi
t_done pods_inpod
