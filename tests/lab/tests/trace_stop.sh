#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# trace_stop.sh [RULES [BACKEND]]
#
# sidecar-trace against a lab pod, stopped every way it can be: --duration,
# --count, SIGINT, SIGTERM, SIGHUP, a closed stdout (| head), SIGKILL
# followed by a second run (which must remove the dead session's rules and
# say so) and SIGKILL followed by --cleanup.  After each, the pod's rules
# (save output without "#" lines and counters) must be exactly as before.
# Also: the type-2 flow of app-to-remote has ISTIO_OUTPUT rule 9 ->
# ISTIO_REDIRECT, then the proxy's leg at rule 4 (1.17 rules); --pod finds
# the lab pod by name; --list shows it; a filter expression selects flows.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=${1:-istio-1.17_redirect_default_legacy.rules}
BACKEND=${2:-legacy}
t_require
t_need jq
case $BACKEND in
legacy | nft) t_need "iptables-$BACKEND-save" ;;
nftables) t_need nft ;;
esac
BIN=$(tr_binary)
P=$(t_prefix)
N=/var/run/netns/$P-pod
t_scratch st-trace-test
WORK=$T_TMP
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	# Whatever a failed case left: the lab goes anyway.
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

echo "== trace_stop: lab up ($RULES, $BACKEND, prefix $P)"
tr_lab_up --rules "$SAMPLES/rules/$RULES"
[ -n "$BEFORE" ] || { echo "FAIL: no rules in the pod"; exit 1; }

same_rules() {
	local what=$1 now
	now=$(tr_snapshot "$P" "$BACKEND")
	if [ "$now" != "$BEFORE" ]; then
		t_fail "$what: the rules differ from before:"
		diff <(echo "$BEFORE") <(echo "$now") | head -n 20
		return 1
	fi
	echo "ok: $what: rules identical"
}

scen() {
	"$LAB" scenario "$1" --prefix "$P" >/dev/null 2>&1 || t_fail "scenario $1 failed"
}

# start NAME ARGS...: run sidecar-trace in the background, wait until it
# traces; sets TPID.
start() {
	local name=$1
	shift
	"$BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	TPID=$!
	PIDS+=("$TPID")
	if ! tr_wait_tracing "$WORK/$name.err" "$TPID"; then
		t_fail "$name: did not start tracing: $(head -n 3 "$WORK/$name.err")"
		return 1
	fi
}

# The type-2 flow of app-to-remote in JSON Lines file $1.
check_type2() {
	local f=$1 what=$2 got
	got=$(jq -c 'select(.type == 2 and .legs[0].dst == "10.244.2.20:9080") |
		[.legs[0].uid,
		 ([.legs[0].hops[] | select(.kind == "rule" and .table == "nat") |
		   "\(.chain):\(.rule)"] | join(" ")),
		 .legs[0].redirect_port, .legs[1].uid,
		 ([.legs[1].hops[] | select(.kind == "rule" and .table == "nat") |
		   "\(.chain):\(.rule)"] | join(" "))]' "$f" | head -n 1)
	if [ "$got" = '[1000,"OUTPUT:1 ISTIO_OUTPUT:9 ISTIO_REDIRECT:1",15001,1337,"OUTPUT:1 ISTIO_OUTPUT:4"]' ]; then
		echo "ok: $what: type 2, ISTIO_OUTPUT rule 9 -> ISTIO_REDIRECT -> 15001, proxy leg rule 4"
	else
		t_fail "$what: no type-2 flow with the expected hops; got '${got}'"
		grep -v summary "$f" | head -n 5
	fi
}

check_summary() {
	local f=$1 what=$2
	if tail -n 1 "$f" | jq -e '.summary.lost == 0 and .summary.flows >= 1' >/dev/null; then
		echo "ok: $what: summary, 0 lost"
	else
		t_fail "$what: bad or missing summary: $(tail -n 1 "$f")"
	fi
}

# 1. --duration
start duration --netns "$N" --json --duration 5 && {
	scen app-to-remote
	wait "$TPID"
	rc=$?
	[ $rc -eq 0 ] || t_fail "duration: exit $rc: $(cat "$WORK/duration.err")"
	grep -q 'stopped (duration)' "$WORK/duration.err" || t_fail "duration: no stop line"
	check_type2 "$WORK/duration.out" duration
	check_summary "$WORK/duration.out" duration
}
same_rules duration

# 2-4. the signals
for sig in INT TERM HUP; do
	start "sig$sig" --netns "$N" --json && {
		scen app-to-remote
		wait_for 20 tr_flow_to "$WORK/sig$sig.out" 10.244.2.20:9080
		kill -"$sig" "$TPID"
		wait "$TPID"
		rc=$?
		[ $rc -eq 0 ] || t_fail "SIG$sig: exit $rc: $(cat "$WORK/sig$sig.err")"
		grep -q "stopped (SIG$sig)" "$WORK/sig$sig.err" || t_fail "SIG$sig: no stop line"
		check_type2 "$WORK/sig$sig.out" "SIG$sig"
		check_summary "$WORK/sig$sig.out" "SIG$sig"
	}
	same_rules "SIG$sig"
done

# 5. --count: stops by itself after one flow
start count --netns "$N" --json --count 1 && {
	scen app-to-remote
	if ! wait_for 20 tr_ended "$TPID"; then
		t_fail "count: still running after one flow"
		kill -INT "$TPID"
	fi
	wait "$TPID"
	rc=$?
	[ $rc -eq 0 ] || t_fail "count: exit $rc"
	[ "$(grep -vc summary "$WORK/count.out")" -eq 1 ] || t_fail "count: not exactly one flow"
	grep -q 'stopped (count)' "$WORK/count.err" || t_fail "count: no stop line"
}
same_rules count

# 6. a closed stdout: | head -n 1
"$BIN" --netns "$N" 2>"$WORK/pipe.err" | head -n 1 >"$WORK/pipe.out" &
PPID_=$!
if tr_wait_tracing "$WORK/pipe.err" "$PPID_"; then
	# head takes the first flow and exits; the next one's write fails.
	for _ in $(seq 1 10); do
		scen app-to-remote
		wait_for 5 tr_ended "$PPID_" && break
	done
	wait "$PPID_"
	rc=$?
	[ $rc -eq 1 ] || t_fail "epipe: exit $rc, want 1"
	grep -q 'writing the output failed: Broken pipe (rules removed)' "$WORK/pipe.err" ||
		t_fail "epipe: no clear message: $(cat "$WORK/pipe.err")"
else
	t_fail "epipe: did not start tracing"
fi
same_rules "EPIPE (| head)"

# 7. SIGKILL, then a second run removes the dead session's rules
start kill1 --netns "$N" && {
	kill -KILL "$TPID"
	wait "$TPID" 2>/dev/null
	n=$(tr_snapshot "$P" "$BACKEND" | grep -c 'sidecar-trace:')
	[ "$n" -gt 0 ] || t_fail "SIGKILL: no rules were left behind (nothing to test)"
	"$BIN" --netns "$N" --duration 1 >"$WORK/kill1b.out" 2>"$WORK/kill1b.err"
	rc=$?
	[ $rc -eq 0 ] || t_fail "SIGKILL + second run: exit $rc"
	grep -q 'removed [0-9]* rules left behind by the dead session' "$WORK/kill1b.err" ||
		t_fail "SIGKILL + second run: no note: $(cat "$WORK/kill1b.err")"
}
same_rules "SIGKILL + second run"

# 8. SIGKILL, then --cleanup
start kill2 --netns "$N" && {
	kill -KILL "$TPID"
	wait "$TPID" 2>/dev/null
	"$BIN" --netns "$N" --cleanup >"$WORK/cleanup.out" 2>"$WORK/cleanup.err"
	rc=$?
	[ $rc -eq 0 ] || t_fail "SIGKILL + --cleanup: exit $rc"
	grep -q 'removed [0-9]* rules left behind by the dead session' "$WORK/cleanup.err" ||
		t_fail "SIGKILL + --cleanup: no note: $(cat "$WORK/cleanup.err")"
}
same_rules "SIGKILL + --cleanup"

# 9. --pod finds the lab pod by name; --list shows it
POD=productpage-v1-$P
"$BIN" --list --json >"$WORK/list.out" 2>"$WORK/list.err"
if [ "$(jq -r --arg p "$POD" 'select(.name == $p and .namespace == "default") | .backend' "$WORK/list.out")" = "$(sed -n 's/^legacy$/iptables-legacy/; s/^nft$/iptables-nft/; s/^nftables$/nftables/; p' <<<"$BACKEND")" ]; then
	echo "ok: --list shows $POD"
else
	t_fail "--list does not show $POD ($BACKEND): $(cat "$WORK/list.out" "$WORK/list.err")"
fi
start pod --pod "$POD" -n default --json --duration 4 && {
	scen app-to-remote
	wait "$TPID" || t_fail "--pod: exit $?"
	check_type2 "$WORK/pod.out" "--pod $POD"
}
same_rules "--pod"

# 10. a filter expression selects by first packets
start filter --netns "$N" --json --duration 4 tcp port 15090 && {
	scen app-to-remote
	scen prom-scrape-15090
	wait "$TPID" || t_fail "filter: exit $?"
	types=$(jq -r 'select(.type != null) | .type' "$WORK/filter.out" | sort -u | tr '\n' ' ')
	[ "$types" = "3 " ] || t_fail "filter 'tcp port 15090': types '$types', want only 3"
	[ "$types" = "3 " ] && echo "ok: filter: only the scrape"
}
same_rules filter

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "trace_stop ($RULES)"
