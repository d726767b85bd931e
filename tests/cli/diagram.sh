#!/usr/bin/env bash
# diagram.sh BINARY SRCDIR - `--diagram all|1..6 --rules FILE [-o PATH]`:
#   - `-o DIR` receives the six canonical schematics (SVG that parses as
#     XML) and an index.html, for rule sets of different eras and
#     backends (an ambient pod's six are types 7-12), and the shipped samples/diagrams/ trees list the same
#     files and index (regenerate them with ST_REGEN=1);
#   - `-o x.dot` of one type equals its golden (samples/simulate-cli/);
#   - bad WHICH, `all` into a file, no --rules: usage errors (exit 2);
#   - an -o PATH that cannot be written: exit 1 with one line;
#   - `--replay CAPTURE -o DIR` draws the flows of a capture, each type's
#     nodes where `--diagram all -o DIR2` of the capture's rules puts them
#     (the shared nodes' places from the pod box's corner, svg_places.py),
#     for iptables-legacy, iptables-nft and native nftables captures.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
rules=$src/samples/rules
golden=$src/samples/simulate-cli
docs=$src/samples/diagrams

sidecar_types="type-1-remote-to-local type-2-local-to-remote type-3-prometheus-scrape
	type-4-local-to-local type-5-envoy-interprocess type-6-sidecar-to-istiod"
# An ambient pod's six (scenario.h).
ambient_types="type-7-ambient-outbound type-8-ambient-inbound-hbone
	type-9-ambient-inbound-plain type-10-ambient-local-to-local
	type-11-ambient-kubelet-probe type-12-ambient-dns"

# name | rule files (space-separated, under samples/rules)
sets=(
	"istio-1.17_redirect_default_legacy|istio-1.17_redirect_default_legacy.rules"
	"istio-1.4_redirect_default_legacy|istio-1.4_redirect_default_legacy.rules"
	"istio-1.25_tproxy_dns_legacy|istio-1.25_tproxy_dns_legacy.rules"
	"istio-1.26plus_redirect_dns_dualstack_nft|istio-1.26plus_redirect_dns_dualstack_nft.v4.rules istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"
	"istio-1.28plus_native-nftables_redirect_default|istio-1.28plus_native-nftables_redirect_default.nft.json"
	"istio-1.26plus_ambient-inpod_dns_nft|istio-1.26plus_ambient-inpod_dns_nft.rules"
)
for s in "${sets[@]}"; do
	IFS='|' read -r name files <<<"$s"
	types=$sidecar_types
	[[ $name == *ambient* ]] && types=$ambient_types
	args=()
	for f in $files; do
		args+=(--rules "$rules/$f")
	done
	out=$T_TMP/$name
	if ! "$bin" --diagram all "${args[@]}" -o "$out" >"$T_TMP/stdout" 2>"$T_TMP/err"; then
		t_fail "$name: exit $?: $(cat "$T_TMP/err")"
		continue
	fi
	[ "$(grep -c '^\[' "$T_TMP/stdout")" = 6 ] || t_fail "$name: not six path lines"
	for t in $types; do
		if [ ! -s "$out/$t.svg" ]; then
			t_fail "$name: no $t.svg"
		elif ! xmllint --noout "$out/$t.svg" 2>"$T_TMP/xml"; then
			t_fail "$name: $t.svg is not XML: $(head -3 "$T_TMP/xml")"
		fi
		grep -q "$t.svg" "$out/index.html" || t_fail "$name: index.html lacks $t.svg"
	done
	[ "$(ls "$out" | wc -l)" = 7 ] || t_fail "$name: not 6 files + index.html: $(ls "$out")"
	if [ "${ST_REGEN:-0}" = 1 ]; then
		rm -rf "${docs:?}/$name"
		mkdir -p "$docs"
		cp -r "$out" "$docs/$name"
	elif [ "$(ls "$docs/$name" 2>/dev/null)" != "$(ls "$out")" ]; then
		t_fail "$name: samples/diagrams/$name lists other files (ST_REGEN=1)"
	elif ! cmp -s "$docs/$name/index.html" "$out/index.html"; then
		t_fail "$name: samples/diagrams/$name/index.html is stale (ST_REGEN=1)"
	fi
done

# One type to one file: the DOT text (agwrite, no layout) is a golden.
for g in "1.17|2|istio-1.17_redirect_default_legacy.rules" \
	"1.28|1|istio-1.28plus_native-nftables_redirect_default.nft.json"; do
	IFS='|' read -r v t f <<<"$g"
	want=$golden/diagram-$v-type-$t.dot
	if ! "$bin" --diagram "$t" --rules "$rules/$f" -o "$T_TMP/x.dot" \
		>/dev/null 2>"$T_TMP/err"; then
		t_fail "--diagram $t $f -o x.dot: $(cat "$T_TMP/err")"
	elif [ "${ST_REGEN:-0}" = 1 ]; then
		cp "$T_TMP/x.dot" "$want"
	elif ! diff -u "$want" "$T_TMP/x.dot" >"$T_TMP/diff"; then
		t_fail "--diagram $t $f: differs from $(basename "$want")"
		head -20 "$T_TMP/diff"
	fi
done
# One type into a directory: that type and index.html.
"$bin" --diagram 5 --rules "$rules/istio-1.17_redirect_default_legacy.rules" \
	-o "$T_TMP/one" >/dev/null 2>"$T_TMP/err" || t_fail "--diagram 5 -o DIR: $(cat "$T_TMP/err")"
[ "$(ls "$T_TMP/one" 2>/dev/null | tr '\n' ' ')" = "index.html type-5-envoy-interprocess.svg " ] ||
	t_fail "--diagram 5 -o DIR: $(ls "$T_TMP/one" 2>&1)"
# Without -o: the path lines, or JSON Lines with the summary.
"$bin" --diagram 5 --rules "$rules/istio-1.17_redirect_default_legacy.rules" |
	grep -q '^\[5 envoy-interprocess\] .*ISTIO_OUTPUT RULE 4 ' ||
	t_fail "--diagram 5: type 5 is not ISTIO_OUTPUT RULE 4 on 1.17"
[ "$("$bin" --diagram all --json --rules "$rules/istio-1.17_redirect_default_legacy.rules" |
	grep -c '^{"type":')" = 6 ] || t_fail "--diagram all --json: not six flows"

usage() {
	local want=$1
	shift
	"$bin" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
	local rc=$?
	[ $rc -eq 2 ] || t_fail "exit $rc (not 2) for: $*"
	grep -qF -- "$want" "$T_TMP/err" || t_fail "no '$want' in: $(cat "$T_TMP/err")"
}
r117=$rules/istio-1.17_redirect_default_legacy.rules
usage "not a traffic type (1-6 sidecar, 7-12 ambient, or all)" --diagram 13 --rules "$r117"
usage "not a traffic type (1-6 sidecar, 7-12 ambient, or all)" --diagram 0 --rules "$r117"
usage "not a traffic type (1-6 sidecar, 7-12 ambient, or all)" --diagram two --rules "$r117"
# A type of the other kind of pod: a runtime error naming the pod's types.
"$bin" --diagram 7 --rules "$r117" -o "$T_TMP/d7" >/dev/null 2>"$T_TMP/err"
rc=$?
[ $rc -eq 1 ] || t_fail "--diagram 7 of a sidecar pod: exit $rc (not 1)"
grep -qF "not a traffic type of a sidecar pod (its types are 1-6)" "$T_TMP/err" ||
	t_fail "--diagram 7 of a sidecar pod: $(cat "$T_TMP/err")"
ramb=$rules/istio-1.26plus_ambient-inpod_dns_nft.rules
"$bin" --diagram 2 --rules "$ramb" >/dev/null 2>"$T_TMP/err"
rc=$?
[ $rc -eq 1 ] || t_fail "--diagram 2 of an ambient pod: exit $rc (not 1)"
grep -qF "not a traffic type of an ambient pod (its types are 7-12)" "$T_TMP/err" ||
	t_fail "--diagram 2 of an ambient pod: $(cat "$T_TMP/err")"
"$bin" --diagram 8 --rules "$ramb" | head -n 1 | grep -q '^\[8 ambient-inbound-hbone\]' ||
	t_fail "--diagram 8 of an ambient pod is not its HBONE flow"
usage "needs the pod's rules" --diagram all -o "$T_TMP/d"
usage "-o needs a directory" --diagram all --rules "$r117" -o "$T_TMP/all.svg"
usage "-o PATH draws flows" --explain --rules "$r117" -o "$T_TMP/e"
usage "-o needs a path" --diagram 1 --rules "$r117" -o ''
[ -e "$T_TMP/d7" ] && t_fail "--diagram 7 created its -o directory"

# -o where nothing can be written: exit 1, one line on stderr.
: >"$T_TMP/afile"
for o in "$T_TMP/afile/x.svg" "$T_TMP/afile/sub" "$T_TMP/nodir/x.svg"; do
	"$bin" --diagram 2 --rules "$r117" -o "$o" >/dev/null 2>"$T_TMP/err"
	rc=$?
	[ $rc -eq 1 ] || t_fail "-o $o: exit $rc (not 1)"
	[ "$(wc -l <"$T_TMP/err")" = 1 ] || t_fail "-o $o: not one line: $(cat "$T_TMP/err")"
	grep -q "^sidecar-trace: -o $o" "$T_TMP/err" || t_fail "-o $o: $(cat "$T_TMP/err")"
done

# --replay of a capture: one file per observed type, its nodes where the
# canonical diagram of that type has them.
for c in istio-1.17_redirect_default_legacy istio-1.26plus_redirect_default_nft \
	istio-1.28plus_native-nftables_redirect_default; do
	cap=$src/samples/captures/$c/own-mixed.pcap
	[ -r "$cap" ] || { t_fail "no $cap"; continue; }
	rm -rf "$T_TMP/replay" "$T_TMP/canon"
	"$bin" --replay "$cap" --rules "$cap.rules" -o "$T_TMP/replay" >/dev/null 2>"$T_TMP/err" ||
		t_fail "$c: --replay -o DIR: $(cat "$T_TMP/err")"
	"$bin" --diagram all --rules "$cap.rules" -o "$T_TMP/canon" >/dev/null 2>"$T_TMP/err" ||
		t_fail "$c: --diagram all -o DIR: $(cat "$T_TMP/err")"
	for t in $sidecar_types; do
		if [ ! -s "$T_TMP/replay/$t.svg" ]; then
			t_fail "$c: --replay -o DIR: no $t.svg"
		elif ! python3 "$src/tests/cli/svg_places.py" "$T_TMP/canon/$t.svg" \
			"$T_TMP/replay/$t.svg" >"$T_TMP/places"; then
			t_fail "$c: --replay's $t.svg has its nodes elsewhere than --diagram's: $(tr '\n' ';' <"$T_TMP/places")"
		fi
	done
done
cap=$src/samples/captures/istio-1.17_redirect_default_legacy/own-mixed.pcap
if [ -r "$cap" ]; then
	"$bin" --replay "$cap" --rules "$cap.rules" -o "$T_TMP/r.dot" tcp port 15012 \
		>"$T_TMP/stdout" 2>"$T_TMP/err" || t_fail "--replay -o FILE: $(cat "$T_TMP/err")"
	grep -q 'Istiod' "$T_TMP/r.dot" 2>/dev/null || t_fail "--replay -o FILE: not the type 6 flow"
fi

t_done diagram
