#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# diagram_live.sh   (root; exit 77 when the machine cannot run the lab)
#
# Every traffic type renders from live tracing and from replay. On the 1.17 (iptables-legacy) lab:
#   - `sidecar-trace --pod productpage-v1-P --json -o DIR --write F` while
#     every scenario of `lab scenarios` runs, stopped with SIGINT: DIR holds
#     type-1-remote-to-local.svg ... type-6-sidecar-to-istiod.svg and an
#     index.html that shows each of them;
#   - `sidecar-trace --replay F -o DIR2`: the same six types, the same file
#     list, and each SVG the same drawing as the live one (the replay
#     assembles the same flows, so it draws the same first flow of each
#     type), including the pod cluster's label "Pod productpage-v1-P",
#     which the capture carries in F.meta.json;
#   - each live SVG has its nodes where `--diagram all --rules F.rules -o
#     DIR3` (the rules the trace read, beside the capture) puts them in the
#     canonical diagram of that type: the shared nodes' places from the pod
#     box's corner (tests/cli/svg_places.py);
#   - every SVG parses as XML (python3 xml.etree) and every edge labelled
#     "RULE N" carries rule N of its chain as its tooltip, exactly as
#     samples/rules/ states it (tests/cli/svg_xml.sh --check);
#   - lab down (also on failure or interruption); no namespace is left.
# Environment: ST_BINARY, ST_LAB_BIN (set by ctest).

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

RULES=istio-1.17_redirect_default_legacy.rules
t_require
t_require_backend legacy
BIN=$(tr_binary)
SVGCHECK=$HERE/../../cli/svg_xml.sh
t_scratch st-diagram-live
WORK=$T_TMP
P=$(t_prefix)
TPID=

cleanup() {
	[ -n "$TPID" ] && kill -KILL "$TPID" 2>/dev/null
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

TYPES="type-1-remote-to-local type-2-local-to-remote type-3-prometheus-scrape
	type-4-local-to-local type-5-envoy-interprocess type-6-sidecar-to-istiod"

# six_types DIR WHAT: the six SVGs and an index.html that shows them.
six_types() {
	local t
	[ -s "$1/index.html" ] || { t_fail "$2: no index.html in $(ls "$1" 2>&1)"; return; }
	for t in $TYPES; do
		[ -s "$1/$t.svg" ] || t_fail "$2: no $t.svg"
		grep -q "\"$t.svg\"" "$1/index.html" || t_fail "$2: index.html lacks $t.svg"
	done
	bash "$SVGCHECK" --check "$1" "$SAMPLES/rules/$RULES" ||
		t_fail "$2: the SVGs are not well-formed or lack their rule tooltips"
}

echo "== diagrams from the live pod and its replay ($RULES, prefix $P)"
"$LAB" up --rules "$SAMPLES/rules/$RULES" --backend legacy --prefix "$P" >/dev/null
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }

"$BIN" --pod "productpage-v1-$P" -n default --json -o "$WORK/live" \
	--write "$WORK/cap.pcap" >"$WORK/live.jsonl" 2>"$WORK/live.err" &
TPID=$!
tr_wait_tracing "$WORK/live.err" "$TPID" ||
	{ echo "FAIL: sidecar-trace did not start: $(cat "$WORK/live.err")"; exit 1; }
tr_wait_collecting "$P" "$WORK/live.jsonl" ||
	t_fail "the flow of a first app-to-remote was never printed"
for s in $("$LAB" scenarios); do
	"$LAB" scenario "$s" --prefix "$P" >"$WORK/scen.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] && continue
	# The lab's client timed out once in a while on a loaded machine:
	# that says nothing about the diagrams, so once more.
	echo "   scenario $s exited $rc, once more"
	"$LAB" scenario "$s" --prefix "$P" >"$WORK/scen.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] ||
		t_fail "scenario $s exited $rc: $(tail -n 3 "$WORK/scen.out" | tr '\n' ' ')"
done
# Until a flow of each type is printed and no leg is left waiting.
wait_for 60 six_printed "$WORK/live.jsonl"
tr_wait_quiet "$WORK/live.jsonl"
kill -INT "$TPID"
wait "$TPID"
rc=$?
TPID=
[ $rc -eq 0 ] || t_fail "sidecar-trace exited $rc: $(tail -n 3 "$WORK/live.err")"
tail -n 1 "$WORK/live.jsonl" | jq -c .summary.by_type
six_types "$WORK/live" "live -o DIR"
echo "   live: $(ls "$WORK/live" | tr '\n' ' ')"

# The canonical diagrams of the rules the trace read: the live ones stand
# in the same frame, node for node.
rules_args=()
for f in "$WORK/cap.pcap.rules" "$WORK/cap.pcap.rules6"; do
	[ -s "$f" ] && rules_args+=(--rules "$f")
done
if "$BIN" --diagram all "${rules_args[@]}" -o "$WORK/canon" >/dev/null 2>"$WORK/canon.err"; then
	for t in $TYPES; do
		[ -s "$WORK/live/$t.svg" ] || continue
		python3 "$HERE/../../cli/svg_places.py" "$WORK/canon/$t.svg" \
			"$WORK/live/$t.svg" >"$WORK/places" ||
			t_fail "live $t.svg: nodes elsewhere than in --diagram's: $(tr '\n' ';' <"$WORK/places")"
	done
	echo "   live nodes in the canonical places: $(grep -h compared "$WORK/places")"
else
	t_fail "--diagram all on the rules read: $(cat "$WORK/canon.err")"
fi

"$BIN" --replay "$WORK/cap.pcap" -o "$WORK/replay" >"$WORK/replay.txt" 2>"$WORK/replay.err" ||
	t_fail "--replay -o DIR exited $?: $(cat "$WORK/replay.err")"
six_types "$WORK/replay" "--replay -o DIR"
if [ "$(ls "$WORK/live")" != "$(ls "$WORK/replay")" ]; then
	t_fail "live and replay drew other files: $(ls "$WORK/live" | tr '\n' ' ') / $(ls "$WORK/replay" | tr '\n' ' ')"
fi
# The pod cluster's label: the live run names the pod it traced; the
# capture names it too (cap.pcap.meta.json "pod"), so the replay must.
pod_label() {
	python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
for g in ET.parse(sys.argv[1]).getroot().iter(S + "g"):
    t = g.find(S + "title")
    if g.get("class") == "cluster" and t is not None and t.text == "cluster_pod":
        print(" ".join("".join(x.itertext()) for x in g.findall(S + "text")))
PY
}
want="Pod productpage-v1-$P"
badlabel=
for f in "$WORK"/live/*.svg; do
	r=$WORK/replay/${f##*/}
	[ -f "$r" ] || continue
	live_l=$(pod_label "$f")
	rep_l=$(pod_label "$r")
	[[ $live_l == "$want"* ]] || t_fail "${f##*/}: live pod label '$live_l', want '$want'"
	[ "$rep_l" = "$live_l" ] || badlabel+=" ${f##*/} ('$rep_l')"
	# Apart from that label (and the layout's x of it), the same drawing.
	if ! diff <(grep -v '>Pod[ <]' "$f") <(grep -v '>Pod[ <]' "$r") >"$WORK/svg.diff"; then
		t_fail "${f##*/}: the replay's drawing differs from the live one: $(head -n 4 "$WORK/svg.diff")"
	fi
done
[ -z "$badlabel" ] ||
	t_fail "the replay's pod label is not the live '$want' in:$badlabel; the capture names the pod (meta.json: $(jq -c .pod "$WORK/cap.pcap.meta.json"))"

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_check_gone "$P" "lab $P"
t_done "diagram_live"
