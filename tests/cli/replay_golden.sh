#!/usr/bin/env bash
# replay_golden.sh BINARY SRCDIR - `--replay` of every lab capture under
# samples/captures/RULESET/ (text, --json, and the notes on stderr) must
# equal its golden files in samples/captures/RULESET/expected/.
# Captures written by --write carry their rules beside them
# (FILE.rules...); TRACE captures (trace-*.pcap, taken with tcpdump) are
# replayed with --rules samples/rules/RULESET.rules (or .nftlist).
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# No root needed.
set -u
bin=$1
src=$2
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for cap in "$src"/samples/captures/*/*.pcap "$src"/samples/captures/*/*.pcapng; do
	[ -e "$cap" ] || continue
	dir=$(dirname "$cap")
	set=$(basename "$dir")
	[ "$set" = synthetic ] && continue
	name=$(basename "$cap")
	args=(--replay "$cap")
	if [ ! -e "$cap.rules" ]; then
		rules=
		for r in "$src/samples/rules/$set.rules" "$src/samples/rules/$set.nft.json"; do
			[ -e "$r" ] && rules=$r && break
		done
		if [ -z "$rules" ]; then
			echo "FAIL $set/$name: no rules beside it and no samples/rules/$set.*"
			fail=$((fail + 1))
			continue
		fi
		args+=(--rules "$rules")
	fi
	for fmt in txt jsonl; do
		extra=()
		[ "$fmt" = jsonl ] && extra=(--json)
		out=$tmp/$name.$fmt
		err=$tmp/$name.$fmt.err
		if ! "$bin" "${args[@]}" "${extra[@]}" >"$out" 2>"$err"; then
			echo "FAIL $set/$name ($fmt): exit $?: $(cat "$err")"
			fail=$((fail + 1))
			continue
		fi
		# Paths differ between machines.
		sed -i "s|$src/||g" "$err"
		n=$((n + 1))
		golden=$dir/expected
		files=("$name.$fmt")
		[ "$fmt" = txt ] && cp "$err" "$tmp/$name.err" && files+=("$name.err")
		for f in "${files[@]}"; do
			if [ "${ST_REGEN:-0}" = 1 ]; then
				mkdir -p "$golden"
				cp "$tmp/$f" "$golden/$f"
			elif ! diff -u "$golden/$f" "$tmp/$f" >"$tmp/diff"; then
				echo "FAIL $set/$name: $f differs from samples/captures/$set/expected/$f"
				head -n 40 "$tmp/diff"
				fail=$((fail + 1))
			fi
		done
	done
done
# tshark decodes a --write capture's prefix, uid and payload (issue 5).
cap=$src/samples/captures/istio-1.17_redirect_default_legacy/own-app-to-remote.pcap
if command -v tshark >/dev/null && [ -e "$cap" ]; then
	got=$(tshark -r "$cap" -T fields -e nflog.prefix -e nflog.uid -e ip.dst \
		-e tcp.dstport 2>/dev/null | grep -m1 $'\t1000\t10.244.2.20\t9080')
	if [ -n "$got" ] && [[ $got == st:* ]]; then
		echo "ok: tshark decodes a --write capture: $got"
	else
		echo "FAIL: tshark does not decode prefix, uid and payload of $cap"
		fail=$((fail + 1))
	fi
fi
if [ "$n" -eq 0 ] && [ "$fail" -eq 0 ]; then
	echo "no captures under $src/samples/captures"
	exit 1
fi
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
