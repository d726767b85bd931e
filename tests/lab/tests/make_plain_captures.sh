#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make_plain_captures.sh [OUTDIR]   (root; run by hand, not a ctest)
#
# Regenerates samples/captures/plain/ from the lab: for each rule set below,
# a plain `tcpdump -i any -w` capture taken INSIDE the pod's namespace
# (Linux cooked v2, what a user gets from `kubectl debug` / nsenter) while
# one scenario runs, one per traffic type (types 1-6) and a mixed one
# (every scenario), as OUTDIR/RULESET/SCENARIO.pcap.  No NFLOG, no rules
# inserted: replayed with --replay FILE --rules samples/rules/RULESET.
#
# Afterwards regenerate the expected outputs and review them by hand
# against the NFLOG traces of the same scenarios (samples/captures/RULESET/
# expected/own-SCENARIO.pcap.txt):
#   ST_REGEN=1 bash tests/cli/plaincap_golden.sh build/sidecar-trace .
#
# Environment: ST_LAB_BIN (st-sidecar/st-labnet), ST_CAPTURE_PREFIX (lab
# prefix, "h21"), ST_CAPTURE_ONLY (only the rule sets whose file name
# contains it).

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

OUT=${1:-$SAMPLES/captures/plain}
P=${ST_CAPTURE_PREFIX:-h21}
TPID=

# rule set (a file under samples/rules/), backend
RULESETS=(
	"istio-1.17_redirect_default_legacy.rules legacy"
	"istio-1.26plus_redirect_default_nft.rules nft"
	"istio-1.28plus_native-nftables_redirect_default.nftlist nftables"
)
TYPED=(remote-to-app app-to-remote prom-scrape-15090 app-to-self-vip
	envoy-localhost sidecar-to-istiod)

cleanup() {
	[ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null && wait "$TPID"
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

# cap NAME DIR SCENARIO... : tcpdump -i any in the pod while they run.
cap() {
	local name=$1 dir=$2 s i
	shift 2
	rm -f "$dir/$name.pcap"
	# -U: packets reach the file as they come, so SIGINT loses none.
	"$LAB" exec --prefix "$P" -- tcpdump -i any -U -n -s 256 \
		-w "$dir/$name.pcap" 2>/dev/null &
	TPID=$!
	# tcpdump writes the file's header once it captures.
	wait_for 20 test -s "$dir/$name.pcap" || t_fail "$name: tcpdump did not start"
	for s in "$@"; do
		"$LAB" scenario "$s" --prefix "$P" >/dev/null 2>&1 ||
			t_fail "$name: scenario $s"
	done
	tr_wait_quiet "$dir/$name.pcap"
	kill -INT "$TPID"
	wait "$TPID"
	TPID=
	echo "ok: $name: $(stat -c %s "$dir/$name.pcap") bytes"
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
		cap "$s" "$dir" "$s"
	done
	cap mixed "$dir" $("$LAB" scenarios)
	"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
done
t_done "plain captures in $OUT"
