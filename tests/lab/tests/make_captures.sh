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
# the live run printed; a difference fails the run.
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
t_scratch st-captures
WORK=$T_TMP
TPID=

# rule set (files under samples/rules/, comma-separated), backend
RULESETS=(
	"istio-1.17_redirect_default_legacy.rules legacy"
	"istio-1.26plus_redirect_default_nft.rules nft"
	"istio-1.28plus_native-nftables_redirect_default.nftlist nftables"
)
# one scenario per type 1-6
TYPED=(remote-to-app app-to-remote prom-scrape-15090 app-to-self-vip
	envoy-localhost sidecar-to-istiod)

cleanup() {
	[ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null && wait "$TPID"
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

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
		{ t_fail "$name: $(cat "$WORK/live.err")"; return; }
	# The session's rules are in the pod before the first scenario.
	wait_for 20 tr_session_rules "$P" "$backend" ||
		t_fail "$name: no rule of the session in the pod"
	for s in "$@"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			t_fail "$name: scenario $s"
	done
	tr_wait_quiet "$WORK/live.jsonl"
	kill -INT "$TPID"
	wait "$TPID" || t_fail "$name: sidecar-trace exited $?: $(tail -n 2 "$WORK/live.err")"
	TPID=
	"$BIN" --replay "$dir/own-$name.pcap" --json >"$WORK/replay.jsonl" \
		2>"$WORK/replay.err" || t_fail "$name: replay: $(cat "$WORK/replay.err")"
	# The flows must be the same; the summaries differ only in what a
	# replay adds (records it read rather than records given).
	grep -q '"legs"' "$WORK/live.jsonl" ||
		t_fail "$name: the live run saw no flow (run it again)"
	if diff <(grep -v '"summary"' "$WORK/live.jsonl") \
		<(grep -v '"summary"' "$WORK/replay.jsonl") >"$WORK/diff"; then
		echo "ok: $name: replay = live ($(grep -vc summary "$WORK/live.jsonl") flows, $(stat -c %s "$dir/own-$name.pcap") bytes)"
	else
		t_fail "$name: the replay differs from the live run"
		head -n 20 "$WORK/diff"
	fi
}

# trace NAME DIR SCENARIO... : the recorder's TRACE capture (legacy only).
trace() {
	local name=$1 dir=$2 s
	shift 2
	"$LAB" truth start --prefix "$P" >/dev/null || { t_fail "truth start"; return; }
	for s in "$@"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			t_fail "$name: scenario $s"
	done
	"$LAB" truth stop --prefix "$P" >"$WORK/truth.jsonl" ||
		t_fail "$name: truth stop"
	cp "/run/st-lab/$P/truth/trace.pcap" "$dir/trace-$name.pcap" ||
		t_fail "$name: no trace.pcap"
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
		--prefix "$P" >/dev/null || { t_fail "lab up $rules"; continue; }
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
	"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
done
t_done "captures in $OUT"
