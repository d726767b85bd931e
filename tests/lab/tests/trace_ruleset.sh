#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# trace_ruleset.sh EXPECTED.paths
#
# sidecar-trace --json traces the lab pod of one rule set while
# every scenario the expected file names runs; then
#   - every leg it reports, in the ground truth's format, is compared with
#     the expected paths by compare-paths (each leg's hops equal the
#     kernel's walk as the expected file states it, and every expected
#     connection was seen);
#   - each scenario's flow has its type (table below, by the first leg's
#     destination; types 1-6, and 0 for the bypasses);
#   - the pod's rules are identical before and after; nothing was lost.
# All of it twice: with minimal instrumentation (the default) and with
# --instrument full; then both runs must have given the same flows, hop for
# hop (entries included), with the same types (ST_TRACE_MODES="minimal" or
# "full" runs one of them only).
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
t_scratch st-trace-test
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
MODES=${ST_TRACE_MODES:-minimal full}

# Each distinct flow once: type, class, and per leg the protocol, addresses
# (without the source's ephemeral port), owner and every hop.
tr_flowset() { # FLOWS.jsonl
	jq -c 'select(.legs != null) | {type, class, legs: [.legs[] |
		{proto, src: (.src | sub(":[0-9]+$"; "")), dst, uid, gid,
		 hops: [.hops[] | {table, chain, rule, kind}]}]}' "$1" | sort -u
}

trace_mode() { # MODE: trace every scenario with --instrument MODE
local MODE=$1
echo "== $NAME: --instrument $MODE"
"$BIN" --netns "/var/run/netns/$P-pod" --json --instrument "$MODE" \
	>"$WORK/flows.jsonl" 2>"$WORK/trace.err" &
TPID=$!
tr_wait_tracing "$WORK/trace.err" "$TPID" ||
	{ echo "FAIL: sidecar-trace did not start: $(cat "$WORK/trace.err")"; exit 1; }

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
want_type remote-to-app 10.244.1.10:9080 "*" "1 remote-to-local"
want_type app-to-remote 10.244.2.20:9080 1000 "2 local-to-remote"
want_type app-to-remote-vip 10.96.0.20:9080 1000 "2 local-to-remote"
want_type prom-scrape-15090 10.244.1.10:15090 "*" "3 prometheus-scrape"
want_type prom-scrape-15020 10.244.1.10:15020 "*" "3 prometheus-scrape"
want_type app-to-self-vip 10.96.0.30:9081 1000 "4 local-to-local"
want_type envoy-localhost 127.0.0.1:15000 '*' "5 envoy-interprocess"
want_type sidecar-to-istiod 10.244.4.40:15012 '*' "6 sidecar-to-istiod"
want_type app-to-own-ip 10.244.1.10:9081 1000 "0 bypass"
echo "-- the other type-0 flows (reported, not asserted):"
jq -r 'select(.type == 0) | "   \(.class): \(.legs[0].src) -> \(.legs[0].dst) (\(.reason))"' \
	"$WORK/flows.jsonl" | sort | uniq -c | head -n 20
echo "-- records per flow: $(tail -n 1 "$WORK/flows.jsonl" | jq -c '.summary | {records, flows, records_per_flow}')"
tr_flowset "$WORK/flows.jsonl" >"$WORK/flowset.$MODE"
}

for m in $MODES; do
	trace_mode "$m"
done
if [ "$MODES" = "minimal full" ]; then
	if cmp -s "$WORK/flowset.minimal" "$WORK/flowset.full"; then
		echo "ok: minimal and full instrumentation gave the same $(wc -l <"$WORK/flowset.full") flows, hop for hop"
	else
		t_fail "minimal and full instrumentation differ: $(diff "$WORK/flowset.minimal" "$WORK/flowset.full" | head -n 12)"
	fi
fi

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "trace $NAME"
