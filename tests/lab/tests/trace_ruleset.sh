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
tr_expected_up "$EXP" st-trace-test
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

tr_expected_scenarios "$EXP"
tr_stop_compare "$EXP"

# Types by the first leg's destination (and uid where it matters).
want_type() { # SCENARIO DST UID WANT
	tr_want_type "$EXP" "$@"
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
tr_other_bypasses
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
