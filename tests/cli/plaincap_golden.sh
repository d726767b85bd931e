#!/usr/bin/env bash
# plaincap_golden.sh BINARY SRCDIR - `--replay` of the plain tcpdump
# captures under samples/captures/plain/RULESET/ (tcpdump -i any in the
# lab pod, made by tests/lab/tests/make_plain_captures.sh) with --rules
# samples/rules/RULESET.* must equal the goldens in
# samples/captures/plain/RULESET/expected/ (text with its notes, --json,
# stderr).  Also: every per-type capture must classify as the type of its
# scenario (what the NFLOG traces of samples/captures/RULESET/ give).
# ST_REGEN=1 rewrites the goldens (review them by hand).  No root needed.
set -u
bin=$1
src=$2
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A want=([remote-to-app]=1 [app-to-remote]=2 [prom-scrape-15090]=3
	[app-to-self-vip]=4 [envoy-localhost]=5 [sidecar-to-istiod]=6)

for cap in "$src"/samples/captures/plain/*/*.pcap; do
	[ -e "$cap" ] || continue
	dir=$(dirname "$cap")
	set=$(basename "$dir")
	name=$(basename "$cap")
	rules=
	for r in "$src/samples/rules/$set.rules" "$src/samples/rules/$set.nft.json"; do
		[ -e "$r" ] && rules=$r && break
	done
	if [ -z "$rules" ]; then
		echo "FAIL $set/$name: no samples/rules/$set.*"
		fail=$((fail + 1))
		continue
	fi
	for fmt in txt jsonl; do
		extra=()
		[ "$fmt" = jsonl ] && extra=(--json)
		out=$tmp/$name.$fmt
		err=$tmp/$name.$fmt.err
		"$bin" --replay "$cap" --rules "$rules" "${extra[@]}" >"$out" 2>"$err"
		rc=$?
		if [ $rc -ne 0 ]; then
			echo "FAIL $set/$name ($fmt): exit $rc: $(cat "$err")"
			fail=$((fail + 1))
			continue
		fi
		sed -i "s|$src/||g" "$err"
		n=$((n + 1))
		files=("$name.$fmt")
		[ "$fmt" = txt ] && cp "$err" "$tmp/$name.err" && files+=("$name.err")
		for f in "${files[@]}"; do
			if [ "${ST_REGEN:-0}" = 1 ]; then
				mkdir -p "$dir/expected"
				cp "$tmp/$f" "$dir/expected/$f"
			elif ! diff -u "$dir/expected/$f" "$tmp/$f" >"$tmp/diff"; then
				echo "FAIL $set/$name: $f differs from its golden"
				head -n 40 "$tmp/diff"
				fail=$((fail + 1))
			fi
		done
	done
	# The scenario's own type must be what the capture gives.
	scen=${name%.pcap}
	t=${want[$scen]:-}
	if [ -n "$t" ]; then
		if grep -q "^\[$t " "$tmp/$name.txt"; then
			echo "ok: $set/$name: type $t"
		else
			echo "FAIL $set/$name: no type-$t flow: $(grep '^\[' "$tmp/$name.txt" | cut -c1-60)"
			fail=$((fail + 1))
		fi
	fi
done
if [ "$n" -eq 0 ]; then
	echo "no captures under $src/samples/captures/plain"
	exit 1
fi
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
