#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make_captures.sh [OUTDIR]   (root; run by hand, not a ctest)
#
# Regenerates samples/captures/ from the lab: for each rule set below, one
# capture per traffic type (types 1-6) and a mixed one (every scenario), in
# sidecar-trace's own prefixes ("own-SCENARIO.pcap": `sidecar-trace --netns
# P-pod --write` while the scenario runs, with the side files
# FILE.rules(6)/FILE.meta.json) and, on the legacy backend, in the kernel
# TRACE target's prefixes ("trace-SCENARIO.pcap": the lab's ground-truth
# recorder's `tcpdump -i nflog:0` capture; no side files, replayed with
# --rules samples/rules/RULESET).
#
# Each own-style capture is replayed at once and the flows must equal what
# the live run printed (issue 5: "replaying a live --write capture prints
# exactly the flows that the live run printed"); a difference fails the run.
# Afterwards regenerate the expected outputs and review them by hand:
#   ST_REGEN=1 bash tests/cli/replay_golden.sh build/sidecar-trace .
#
# Environment: ST_BINARY (default: the newest build*/sidecar-trace),
# ST_LAB_BIN (st-sidecar/st-labnet), ST_CAPTURE_PREFIX (lab prefix, "h16c"),
# ST_CAPTURE_ONLY (only the rule sets whose file name contains it).
#
# TPROXY rule sets (istio-1.25_tproxy_*) are left out on purpose: their
# mangle chains log every packet of every connection, so a capture of one
# scenario is tens of KB instead of a few.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

OUT=${1:-$SAMPLES/captures}
BIN=$(tr_binary)
P=${ST_CAPTURE_PREFIX:-h16c}
WORK=$(mktemp -d /tmp/st-captures.XXXXXX)
TPID=
FAILED=0

# rule set (files under samples/rules/, comma-separated), backend
RULESETS=(
	"istio-1.17_redirect_default_legacy.rules legacy"
	"istio-1.26plus_redirect_default_nft.rules nft"
	"istio-1.28plus_native-nftables_redirect_default.nftlist nftables"
)
# one scenario per type 1-6
TYPED=(remote-to-app app-to-remote prom-scrape-15090 app-to-self-vip
	envoy-localhost sidecar-to-istiod)

finish() {
	local rc=$?
	trap - EXIT
	[ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null && wait "$TPID"
	"$LAB" down --prefix "$P" >/dev/null 2>&1
	rm -rf "$WORK"
	[ $rc -eq 0 ] && [ $FAILED -ne 0 ] && rc=1
	exit $rc
}
trap finish EXIT
trap 'exit 143' TERM INT

fail() {
	echo "FAIL: $*"
	FAILED=1
}

# own NAME DIR SCENARIO... : a --write capture while the scenarios run.
own() {
	local name=$1 dir=$2 s
	shift 2
	rm -f "$dir/own-$name.pcap"*
	"$BIN" --netns "/var/run/netns/$P-pod" --json \
		--write "$dir/own-$name.pcap" >"$WORK/live.jsonl" \
		2>"$WORK/live.err" &
	TPID=$!
	tr_wait_tracing "$WORK/live.err" "$TPID" ||
		{ fail "$name: $(cat "$WORK/live.err")"; return; }
	# The first scenario right after "tracing" was seen missed now and
	# then: give the collector a moment.
	sleep 0.5
	for s in "$@"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			fail "$name: scenario $s"
	done
	sleep 1
	kill -INT "$TPID"
	wait "$TPID" || fail "$name: sidecar-trace exited $?: $(tail -n 2 "$WORK/live.err")"
	TPID=
	"$BIN" --replay "$dir/own-$name.pcap" --json >"$WORK/replay.jsonl" \
		2>"$WORK/replay.err" || fail "$name: replay: $(cat "$WORK/replay.err")"
	# The flows must be the same; the summaries differ only in what a
	# replay adds (records it read rather than records given).
	grep -q '"legs"' "$WORK/live.jsonl" ||
		fail "$name: the live run saw no flow (run it again)"
	if diff <(grep -v '"summary"' "$WORK/live.jsonl") \
		<(grep -v '"summary"' "$WORK/replay.jsonl") >"$WORK/diff"; then
		echo "ok: $name: replay = live ($(grep -vc summary "$WORK/live.jsonl") flows, $(stat -c %s "$dir/own-$name.pcap") bytes)"
	else
		fail "$name: the replay differs from the live run"
		head -n 20 "$WORK/diff"
	fi
}

# trace NAME DIR SCENARIO... : the recorder's TRACE capture (legacy only).
trace() {
	local name=$1 dir=$2 s
	shift 2
	"$LAB" truth start --prefix "$P" >/dev/null || { fail "truth start"; return; }
	for s in "$@"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			fail "$name: scenario $s"
	done
	"$LAB" truth stop --prefix "$P" >"$WORK/truth.jsonl" ||
		fail "$name: truth stop"
	cp "/run/st-lab/$P/truth/trace.pcap" "$dir/trace-$name.pcap" ||
		fail "$name: no trace.pcap"
	echo "ok: $name: TRACE capture ($(stat -c %s "$dir/trace-$name.pcap") bytes)"
}

for entry in "${RULESETS[@]}"; do
	read -r rules backend <<<"$entry"
	[[ $rules == *"${ST_CAPTURE_ONLY:-}"* ]] || continue
	t_require_backend "$backend"
	base=${rules%.rules}
	base=${base%.nftlist}
	dir=$OUT/$base
	mkdir -p "$dir"
	echo "== $base ($backend, prefix $P)"
	"$LAB" up --rules "$SAMPLES/rules/$rules" --backend "$backend" \
		--prefix "$P" >/dev/null || { fail "lab up $rules"; continue; }
	for s in "${TYPED[@]}"; do
		own "$s" "$dir" "$s"
	done
	own mixed "$dir" $("$LAB" scenarios)
	# TRACE numbers raw rules with the recorder's own TRACE rules in
	# front: only a rule set without a raw table replays them right.
	if [ "$backend" = legacy ] && ! grep -q '^\*raw' "$SAMPLES/rules/$rules"; then
		for s in "${TYPED[@]}"; do
			trace "$s" "$dir" "$s"
		done
		trace mixed "$dir" $("$LAB" scenarios)
	fi
	"$LAB" down --prefix "$P" >/dev/null || fail "lab down"
done
[ $FAILED -eq 0 ] && echo "PASS: captures in $OUT"
exit $FAILED
