#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# check_live.sh [RULES]
#
# --check against a live lab pod (1.17 rules, iptables-legacy):
#   - a `sleep` started as the proxy ids in the pod's namespace is reported
#     as app-as-proxy-uid (error) with its pid, and the stand-in (comm
#     "envoy", the same uid) is not;
#   - the three dead rules of Istio's nine-rule chain are information;
#   - a rule added with iptables-nft beside the legacy Istio rules gives
#     backend-mismatch (error);
#   - a trace written with --write while the bypass scenarios run
#     (rogue-proxy-uid, app-to-own-ip), checked with --replay FILE --check,
#     reports proxy-direct-traffic and bypass-traffic.
# --check exits 0 whatever it finds.  The lab always goes down.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=${1:-istio-1.17_redirect_default_legacy.rules}
t_require
t_require_backend legacy
t_need iptables-nft
BIN=$(tr_binary)
P=$(t_prefix)
POD=productpage-v1-$P
t_scratch st-check-test
WORK=$T_TMP
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

echo "== check_live: lab up ($RULES, prefix $P)"
"$LAB" up --rules "$SAMPLES/rules/$RULES" --backend legacy --prefix "$P" >/dev/null
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }

# check NAME ARGS...: run --check --json, which must exit 0.
check() {
	local name=$1
	shift
	"$BIN" "$@" --check --json >"$WORK/$name.json" 2>"$WORK/$name.err"
	local rc=$?
	if [ $rc -ne 0 ]; then
		t_fail "$name: exit $rc: $(head -n 3 "$WORK/$name.err")"
		return 1
	fi
}

# ncode NAME CODE: how many findings of CODE.
ncode() {
	jq --arg c "$2" '[.findings[] | select(.code == $c)] | length' "$WORK/$1.json"
}

# The rogue process: sleep as the proxy's uid and gid in the pod.
"$LAB" exec --prefix "$P" --as proxy -- sleep 60 &
PIDS+=($!)
SPID=
rogue_started() {
	local p
	for p in $(ip netns pids "$P-pod"); do
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ] &&
			[ "$(stat -c %u /proc/"$p" 2>/dev/null)" = 1337 ]; then
			SPID=$p
		fi
	done
	[ -n "$SPID" ]
}
wait_for 20 rogue_started
[ -n "$SPID" ] || { echo "FAIL: the sleep as uid 1337 did not start"; exit 1; }
PIDS+=("$SPID")
echo "rogue: sleep pid $SPID as uid 1337"

if check pod --pod "$POD"; then
	n=$(jq --argjson p "$SPID" '[.findings[] | select(.code == "app-as-proxy-uid" and .pid == $p and .severity == "error" and .uid == 1337)] | length' "$WORK/pod.json")
	[ "$n" = 1 ] && echo "ok: app-as-proxy-uid for pid $SPID" ||
		t_fail "no app-as-proxy-uid finding for pid $SPID: $(jq -c '.findings[] | {code, message}' "$WORK/pod.json")"
	n=$(ncode pod app-as-proxy-uid)
	[ "$n" = 1 ] && echo "ok: the stand-in (envoy) is not reported" ||
		t_fail "$n app-as-proxy-uid findings, expected 1"
	n=$(ncode pod expected-unreachable-rule)
	[ "$n" = 3 ] && echo "ok: 3 expected dead rules" ||
		t_fail "$n expected-unreachable-rule findings, expected 3"
	n=$(ncode pod backend-mismatch)
	[ "$n" = 0 ] || t_fail "backend-mismatch without a second backend"
	"$BIN" --pod "$POD" --check >"$WORK/pod.text" 2>&1 ||
		t_fail "text --check exited $?"
	grep -q "^error *app-as-proxy-uid *process $SPID (sleep) runs as uid 1337: its traffic bypasses the sidecar" "$WORK/pod.text" &&
		echo "ok: text output names the process" ||
		t_fail "text output: $(head -n 3 "$WORK/pod.text")"
fi
kill "$SPID" 2>/dev/null

# A stray iptables-nft rule beside the legacy Istio rules.
ip netns exec "$P-pod" iptables-nft -t filter -A OUTPUT -p tcp --dport 1 -j ACCEPT ||
	t_fail "could not add the iptables-nft rule"
if check mismatch --netns "/var/run/netns/$P-pod"; then
	n=$(jq '[.findings[] | select(.code == "backend-mismatch" and .severity == "error")] | length' "$WORK/mismatch.json")
	[ "$n" = 1 ] && echo "ok: backend-mismatch with a rule in iptables-nft" ||
		t_fail "no backend-mismatch: $(jq -c '.findings[] | .code' "$WORK/mismatch.json")"
fi
ip netns exec "$P-pod" iptables-nft -t filter -D OUTPUT -p tcp --dport 1 -j ACCEPT

# The bypass scenarios, traced to a file, then checked offline.
"$BIN" --pod "$POD" --write "$WORK/t.pcap" --duration 20 >"$WORK/trace.out" 2>"$WORK/trace.err" &
TPID=$!
PIDS+=("$TPID")
if tr_wait_tracing "$WORK/trace.err" "$TPID"; then
	"$LAB" scenario rogue-proxy-uid --prefix "$P" >/dev/null 2>&1 || t_fail "scenario rogue-proxy-uid failed"
	"$LAB" scenario app-to-own-ip --prefix "$P" >/dev/null 2>&1 || t_fail "scenario app-to-own-ip failed"
	# Until both flows are printed: the rogue's as proxy-direct, the
	# app's to its own IP as bypass.
	wait_for 20 grep -q '^\[0 proxy-direct\]' "$WORK/trace.out"
	wait_for 20 grep -q '^\[0 bypass\]' "$WORK/trace.out"
	kill -INT "$TPID"
	wait "$TPID"
	if check replay --replay "$WORK/t.pcap"; then
		n=$(jq '[.findings[] | select(.code == "proxy-direct-traffic" and .count >= 1)] | length' "$WORK/replay.json")
		[ "$n" = 1 ] && echo "ok: proxy-direct-traffic (rogue-proxy-uid)" ||
			t_fail "no proxy-direct-traffic: $(jq -c '.findings[] | {code, count}' "$WORK/replay.json")"
		n=$(jq '[.findings[] | select(.code == "bypass-traffic" and .count >= 1)] | length' "$WORK/replay.json")
		[ "$n" = 1 ] && echo "ok: bypass-traffic (app-to-own-ip)" ||
			t_fail "no bypass-traffic: $(jq -c '.findings[] | {code, count}' "$WORK/replay.json")"
		jq -r '.findings[] | select(.count) | .examples[]' "$WORK/replay.json"
	fi
else
	t_fail "trace did not start: $(head -n 3 "$WORK/trace.err")"
fi

t_done check_live
