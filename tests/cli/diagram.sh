#!/usr/bin/env bash
# diagram.sh BINARY SRCDIR - `--diagram all|1..6 --rules FILE [-o PATH]`:
#   - `-o DIR` receives the six canonical schematics (SVG that parses as
#     XML) and an index.html, for three rule sets of different eras and
#     backends, and the shipped samples/diagrams/ trees list the same
#     files and index (regenerate them with ST_REGEN=1);
#   - `-o x.dot` of one type equals its golden (samples/simulate-cli/);
#   - bad WHICH, `all` into a file, no --rules: usage errors (exit 2);
#   - an -o PATH that cannot be written: exit 1 with one line;
#   - `--replay CAPTURE -o DIR` draws the flows of a capture.
set -u
bin=$1
src=$2
rules=$src/samples/rules
golden=$src/samples/simulate-cli
docs=$src/samples/diagrams
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

types="type-1-remote-to-local type-2-local-to-remote type-3-prometheus-scrape
	type-4-local-to-local type-5-envoy-interprocess type-6-sidecar-to-istiod"

# name | rule files (space-separated, under samples/rules)
sets=(
	"istio-1.17_redirect_default_legacy|istio-1.17_redirect_default_legacy.rules"
	"istio-1.4_redirect_default_legacy|istio-1.4_redirect_default_legacy.rules"
	"istio-1.25_tproxy_dns_legacy|istio-1.25_tproxy_dns_legacy.rules"
	"istio-1.26plus_redirect_dns_dualstack_nft|istio-1.26plus_redirect_dns_dualstack_nft.v4.rules istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"
	"istio-1.28plus_native-nftables_redirect_default|istio-1.28plus_native-nftables_redirect_default.nft.json"
)
for s in "${sets[@]}"; do
	IFS='|' read -r name files <<<"$s"
	args=()
	for f in $files; do
		args+=(--rules "$rules/$f")
	done
	out=$tmp/$name
	if ! "$bin" --diagram all "${args[@]}" -o "$out" >"$tmp/stdout" 2>"$tmp/err"; then
		bad "$name: exit $?: $(cat "$tmp/err")"
		continue
	fi
	[ "$(grep -c '^\[' "$tmp/stdout")" = 6 ] || bad "$name: not six path lines"
	for t in $types; do
		if [ ! -s "$out/$t.svg" ]; then
			bad "$name: no $t.svg"
		elif ! xmllint --noout "$out/$t.svg" 2>"$tmp/xml"; then
			bad "$name: $t.svg is not XML: $(head -3 "$tmp/xml")"
		fi
		grep -q "$t.svg" "$out/index.html" || bad "$name: index.html lacks $t.svg"
	done
	[ "$(ls "$out" | wc -l)" = 7 ] || bad "$name: not 6 files + index.html: $(ls "$out")"
	if [ "${ST_REGEN:-0}" = 1 ]; then
		rm -rf "${docs:?}/$name"
		mkdir -p "$docs"
		cp -r "$out" "$docs/$name"
	elif [ "$(ls "$docs/$name" 2>/dev/null)" != "$(ls "$out")" ]; then
		bad "$name: samples/diagrams/$name lists other files (ST_REGEN=1)"
	elif ! cmp -s "$docs/$name/index.html" "$out/index.html"; then
		bad "$name: samples/diagrams/$name/index.html is stale (ST_REGEN=1)"
	fi
done

# One type to one file: the DOT text (agwrite, no layout) is a golden.
for g in "1.17|2|istio-1.17_redirect_default_legacy.rules" \
	"1.28|1|istio-1.28plus_native-nftables_redirect_default.nft.json"; do
	IFS='|' read -r v t f <<<"$g"
	want=$golden/diagram-$v-type-$t.dot
	if ! "$bin" --diagram "$t" --rules "$rules/$f" -o "$tmp/x.dot" \
		>/dev/null 2>"$tmp/err"; then
		bad "--diagram $t $f -o x.dot: $(cat "$tmp/err")"
	elif [ "${ST_REGEN:-0}" = 1 ]; then
		cp "$tmp/x.dot" "$want"
	elif ! diff -u "$want" "$tmp/x.dot" >"$tmp/diff"; then
		bad "--diagram $t $f: differs from $(basename "$want")"
		head -20 "$tmp/diff"
	fi
done
# One type into a directory: that type and index.html.
"$bin" --diagram 5 --rules "$rules/istio-1.17_redirect_default_legacy.rules" \
	-o "$tmp/one" >/dev/null 2>"$tmp/err" || bad "--diagram 5 -o DIR: $(cat "$tmp/err")"
[ "$(ls "$tmp/one" 2>/dev/null | tr '\n' ' ')" = "index.html type-5-envoy-interprocess.svg " ] ||
	bad "--diagram 5 -o DIR: $(ls "$tmp/one" 2>&1)"
# Without -o: the path lines, or JSON Lines with the summary.
"$bin" --diagram 5 --rules "$rules/istio-1.17_redirect_default_legacy.rules" |
	grep -q '^\[5 envoy-interprocess\] .*ISTIO_OUTPUT RULE 4 ' ||
	bad "--diagram 5: type 5 is not ISTIO_OUTPUT RULE 4 on 1.17"
[ "$("$bin" --diagram all --json --rules "$rules/istio-1.17_redirect_default_legacy.rules" |
	grep -c '^{"type":')" = 6 ] || bad "--diagram all --json: not six flows"

usage() {
	local want=$1
	shift
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ $rc -eq 2 ] || bad "exit $rc (not 2) for: $*"
	grep -qF -- "$want" "$tmp/err" || bad "no '$want' in: $(cat "$tmp/err")"
}
r117=$rules/istio-1.17_redirect_default_legacy.rules
usage "not a traffic type (1-6 or all)" --diagram 7 --rules "$r117" -o "$tmp/d7"
usage "not a traffic type (1-6 or all)" --diagram 0 --rules "$r117"
usage "not a traffic type (1-6 or all)" --diagram two --rules "$r117"
usage "needs the pod's rules" --diagram all -o "$tmp/d"
usage "-o needs a directory" --diagram all --rules "$r117" -o "$tmp/all.svg"
usage "-o PATH draws flows" --explain --rules "$r117" -o "$tmp/e"
usage "-o needs a path" --diagram 1 --rules "$r117" -o ''
[ -e "$tmp/d7" ] && bad "--diagram 7 created its -o directory"

# -o where nothing can be written: exit 1, one line on stderr.
: >"$tmp/afile"
for o in "$tmp/afile/x.svg" "$tmp/afile/sub" "$tmp/nodir/x.svg"; do
	"$bin" --diagram 2 --rules "$r117" -o "$o" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 1 ] || bad "-o $o: exit $rc (not 1)"
	[ "$(wc -l <"$tmp/err")" = 1 ] || bad "-o $o: not one line: $(cat "$tmp/err")"
	grep -q "^sidecar-trace: -o $o" "$tmp/err" || bad "-o $o: $(cat "$tmp/err")"
done

# --replay of a capture: one file per observed type.
cap=$src/samples/captures/istio-1.17_redirect_default_legacy/own-mixed.pcap
if [ -r "$cap" ]; then
	"$bin" --replay "$cap" --rules "$cap.rules" -o "$tmp/replay" >/dev/null 2>"$tmp/err" ||
		bad "--replay -o DIR: $(cat "$tmp/err")"
	for t in $types; do
		[ -s "$tmp/replay/$t.svg" ] || bad "--replay -o DIR: no $t.svg"
	done
	"$bin" --replay "$cap" --rules "$cap.rules" -o "$tmp/r.dot" tcp port 15012 \
		>"$tmp/stdout" 2>"$tmp/err" || bad "--replay -o FILE: $(cat "$tmp/err")"
	grep -q 'Istiod' "$tmp/r.dot" 2>/dev/null || bad "--replay -o FILE: not the type 6 flow"
fi

echo "diagram: $fail failures"
[ $fail -eq 0 ]
