#!/usr/bin/env bash
# check_golden.sh BINARY SRCDIR - `--check --json` and `--check` of every
# sample rule set must equal its golden file under samples/check/.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
set -u
bin=$1
src=$2
golden=$src/samples/check
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A dual-stack pod is two files: check them together.
declare -A pair=(
	[istio-1.26plus_redirect_dns_dualstack_nft.v4.rules]=istio-1.26plus_redirect_dns_dualstack_nft.v6.rules
)
skip_alone=" istio-1.26plus_redirect_dns_dualstack_nft.v6.rules "

for f in "$src"/samples/rules/*.rules "$src"/samples/rules/*.nft.json; do
	base=$(basename "$f")
	case "$skip_alone" in *" $base "*) continue ;; esac
	args=(--rules "$f")
	if [ -n "${pair[$base]:-}" ]; then
		args+=(--rules "$src/samples/rules/${pair[$base]}")
	fi
	for fmt in json text; do
		ext=$fmt
		extra=()
		[ "$fmt" = json ] && extra=(--json)
		out=$tmp/$base.$ext
		if ! "$bin" "${args[@]}" --check "${extra[@]}" >"$out" 2>"$tmp/err"; then
			echo "FAIL $base ($fmt): exit $?: $(cat "$tmp/err")"
			fail=$((fail + 1))
			continue
		fi
		# File paths differ between machines: keep only the base name.
		sed -i "s|$src/samples/rules/||g" "$out"
		n=$((n + 1))
		if [ "${ST_REGEN:-0}" = 1 ]; then
			mkdir -p "$golden"
			cp "$out" "$golden/$base.$ext"
			continue
		fi
		if ! diff -u "$golden/$base.$ext" "$out" >"$tmp/diff"; then
			echo "FAIL $base ($fmt): differs from samples/check/$base.$ext"
			head -40 "$tmp/diff"
			fail=$((fail + 1))
		fi
	done
done
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
