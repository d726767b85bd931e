#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pool.sh RULESET [--original-src]   (root; exit 77 when the machine cannot
# run the lab)
#
# sidecar-trace against a sidecar stand-in that pools HTTP upstream
# connections like Envoy (lab up --pool), checked against the stand-in's
# own record of which connection carried which request:
#   - lab up with the rule set of tests/lab/expected/RULESET.paths and
#     --pool (--original-src: TPROXY, Envoy connects to the app from the
#     client's address); pools are opened before tracing
#     (pool-app-to-remote-vip, pool-remote-to-app);
#   - two sessions on the pod at once: one plain (--json), one reading
#     Envoy's access log (--envoy-log FILE --json --write CAP); each pooled
#     scenario runs twice (pool-interleaved mixes in 1:1 TCP and a direct
#     connection of the proxy's uid, pool-app-to-self-vip is type 4
#     through a pool); once every request has its flow, both stop with
#     SIGINT (exit 0, nothing lost);
#   - pool_check.py joins the stand-in's request and relay events of the
#     traced period with each session's flows: without the access log
#     every request's flow has the right type, is never "unknown" and
#     holds no leg (nor names a pooled connection) the stand-in did not
#     use for it; with the access log, moreover, the flow carries the
#     request and exactly the connections the stand-in used;
#   - `sidecar-trace --replay CAP --json` prints the access-log session's
#     flows and summary again (compared by jq with sorted keys, in sorted
#     order);
#   - lab down (on every exit path); nothing of the lab is left.
# Environment: ST_BINARY, ST_LAB_BIN (set by ctest); ST_POOL_KEEP=DIR keeps
# the flows, the stand-in's events, the capture and the replay there.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

NAME=${1:-}
EXP=$HERE/../expected/$NAME.paths
[ -n "$NAME" ] && [ -r "$EXP" ] ||
	{ echo "usage: $0 RULESET [--original-src]" >&2; exit 2; }
UP_EXTRA=()
[ "${2:-}" = --original-src ] && UP_EXTRA=(--original-src)
BACKEND=$(sed -nE 's/^@backend[[:space:]]+//p' "$EXP")
read -r -a RULES <<<"$(sed -nE 's/^@rules[[:space:]]+//p' "$EXP")"
t_require
t_require_backend "$BACKEND"
BIN=$(tr_binary)
t_scratch st-pool-test
WORK=$T_TMP
P=$(t_prefix)
POD=10.244.1.10
PA=
PB=

kill_session() { # PID: a session still running, killed
	[ -n "$1" ] || return 0
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	kill_session "$PB"
	kill_session "$PA"
	[ -n "${ST_POOL_KEEP:-}" ] && mkdir -p "$ST_POOL_KEEP" &&
		cp -r "$WORK/." "$ST_POOL_KEEP/"
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

# scenario NAME: run it; once more when the lab's traffic did not complete
# (a loaded 2-core machine now and then misses the client's timeout): the
# checks below are against whatever the stand-in did.
scenario() {
	local rc
	"$LAB" scenario "$1" --prefix "$P" >"$WORK/scen.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && return 0
	echo "   scenario $1 exited $rc, once more: $(tail -n 2 "$WORK/scen.out" | tr '\n' ' ')"
	"$LAB" scenario "$1" --prefix "$P" >"$WORK/scen.out" 2>&1 ||
		t_fail "scenario $1 exited $?: $(tail -n 3 "$WORK/scen.out" | tr '\n' ' ')"
}

# started PID OUT: wait until the session PID (stdout OUT.jsonl, stderr
# OUT.err) is tracing, else fail.
started() {
	tr_wait_tracing "$WORK/$2.err" "$1" ||
		{ echo "FAIL: sidecar-trace ($2) did not start: $(cat "$WORK/$2.err")"; exit 1; }
}

# stop_sigint PID OUT: SIGINT, then it must exit 0 with nothing lost.
stop_sigint() {
	local rc
	kill -INT "$1"
	wait "$1"
	rc=$?
	[ $rc -eq 0 ] || t_fail "sidecar-trace ($2) exited $rc: $(tail -n 3 "$WORK/$2.err")"
	tail -n 1 "$WORK/$2.jsonl" | jq -e '.summary.lost == 0' >/dev/null ||
		t_fail "$2: records lost or no summary: $(tail -n 1 "$WORK/$2.jsonl")"
}

# Both sessions printed the flow of an app-to-remote (TCP, 1:1).
both_collect() {
	tr_flow_to "$WORK/plain.jsonl" 10.244.2.20:9080 &&
		tr_flow_to "$WORK/log.jsonl" 10.244.2.20:9080
}

# Every connection of the traced period has its flow in both outputs.
all_printed() {
	python3 "$HERE/pool_check.py" "$EVENTS" "$MARK" "$WORK/plain.jsonl" plain "$POD" --ready &&
		python3 "$HERE/pool_check.py" "$EVENTS" "$MARK" "$WORK/log.jsonl" log "$POD" --ready
}

up_args=()
for f in "${RULES[@]}"; do up_args+=(--rules "$SAMPLES/rules/$f"); done
echo "== $NAME: lab up --pool ${UP_EXTRA[*]} ($BACKEND, prefix $P)"
"$LAB" up "${up_args[@]}" --backend "$BACKEND" --prefix "$P" --pool "${UP_EXTRA[@]}" >/dev/null
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }
EVENTS=$ST_LAB_RUN/$P/sidecar/events.jsonl
ACCESS=$ST_LAB_RUN/$P/sidecar/access.log

# Pools opened before the trace: later requests reuse connections whose
# first packet no session saw.
scenario pool-app-to-remote-vip
scenario pool-remote-to-app

"$BIN" --netns "/var/run/netns/$P-pod" --json \
	>"$WORK/plain.jsonl" 2>"$WORK/plain.err" &
PA=$!
started "$PA" plain
"$BIN" --netns "/var/run/netns/$P-pod" --json --envoy-log "$ACCESS" \
	--write "$WORK/cap.pcap" >"$WORK/log.jsonl" 2>"$WORK/log.err" &
PB=$!
started "$PB" log
for _ in 1 2 3; do
	"$LAB" scenario app-to-remote --prefix "$P" >/dev/null 2>&1
	wait_for 20 both_collect && break
done
both_collect || t_fail "the flow of a first app-to-remote was never printed"
# The traced period: the stand-in's events from here on.
MARK=$(wc -l <"$EVENTS")

for round in 1 2; do
	for s in pool-app-to-remote-vip pool-app-to-remote pool-remote-to-app \
		pool-app-to-self-vip pool-interleaved pool-concurrent; do
		scenario "$s"
	done
	echo "   round $round of the pooled scenarios done"
done
T_WAIT_STEP=1 wait_for 90 all_printed ||
	t_fail "after 90 s, not every request of the stand-in has its flow in both outputs"
stop_sigint "$PB" log
PB=
stop_sigint "$PA" plain
PA=
t_secs=$SECONDS
cp "$EVENTS" "$ACCESS" "$WORK/"

echo "== without the access log"
python3 "$HERE/pool_check.py" "$EVENTS" "$MARK" "$WORK/plain.jsonl" plain "$POD" ||
	t_fail "flows without the access log differ from the stand-in's requests"
echo "== with the access log ($(jq -c '.summary.envoy' <(tail -n 1 "$WORK/log.jsonl")))"
python3 "$HERE/pool_check.py" "$EVENTS" "$MARK" "$WORK/log.jsonl" log "$POD" ||
	t_fail "flows with the access log differ from the stand-in's requests"

echo "== replay of the --write capture"
[ -s "$WORK/cap.pcap.envoy.log" ] || t_fail "--write left no cap.pcap.envoy.log"
"$BIN" --replay "$WORK/cap.pcap" --json >"$WORK/replay.jsonl" 2>"$WORK/replay.err"
rc=$?
[ $rc -eq 0 ] || t_fail "--replay exited $rc: $(head -n 3 "$WORK/replay.err")"
if diff <(jq -S -c . "$WORK/log.jsonl" | sort) <(jq -S -c . "$WORK/replay.jsonl" | sort) \
	>"$WORK/replay.diff"; then
	echo "ok: replay = live ($(grep -c '"legs"' "$WORK/log.jsonl") flows and the summary)"
else
	t_fail "the replay differs from the live run ($(grep -c '^[<>]' "$WORK/replay.diff") lines):"
	cut -c1-400 "$WORK/replay.diff" | head -n 12
	echo "   replay: $(tail -n 1 "$WORK/replay.jsonl" | jq -c '.summary | {by_type, by_class}')"
fi

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_check_gone "$P" "$NAME"
echo "   traced and checked in ${t_secs} s"
t_done "pool $NAME"
