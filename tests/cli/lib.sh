# shellcheck shell=bash
# lib.sh - sourced by the tests/cli/*.sh scripts (not a test itself):
# `. "$(dirname "$0")/lib.sh" "$@"` sets bin=$1, src=$2, fail=0, n=0 and a
# scratch directory $tmp removed on exit.
set -u
bin=$1
src=$2
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# st_golden GOT GOLDEN LABEL: with ST_REGEN=1 copy GOT to GOLDEN, else diff
# them (LABEL names the golden in the failure).
st_golden() {
	if [ "${ST_REGEN:-0}" = 1 ]; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
	elif ! diff -u "$2" "$1" >"$tmp/diff"; then
		echo "FAIL $3"
		head -n 40 "$tmp/diff"
		fail=$((fail + 1))
	fi
}

# st_sample_rules SET: samples/rules/SET.rules or SET.nft.json, or nothing.
st_sample_rules() {
	local r
	for r in "$src/samples/rules/$1.rules" "$src/samples/rules/$1.nft.json"; do
		[ -e "$r" ] && echo "$r" && return
	done
}

# st_rules_goldens MODE: `--MODE --json` and `--MODE` of every sample rule
# set (the dual-stack pair together) against samples/MODE/FILE.{json,text}.
st_rules_goldens() {
	local mode=$1 f base fmt out
	local -a args extra
	local -A pair=(
		[istio-1.26plus_redirect_dns_dualstack_nft.v4.rules]=istio-1.26plus_redirect_dns_dualstack_nft.v6.rules
	)
	local skip_alone=" istio-1.26plus_redirect_dns_dualstack_nft.v6.rules "

	for f in "$src"/samples/rules/*.rules "$src"/samples/rules/*.nft.json; do
		base=$(basename "$f")
		case "$skip_alone" in *" $base "*) continue ;; esac
		args=(--rules "$f")
		if [ -n "${pair[$base]:-}" ]; then
			args+=(--rules "$src/samples/rules/${pair[$base]}")
		fi
		for fmt in json text; do
			extra=()
			[ "$fmt" = json ] && extra=(--json)
			out=$tmp/$base.$fmt
			if ! "$bin" "${args[@]}" "--$mode" "${extra[@]}" >"$out" 2>"$tmp/err"; then
				echo "FAIL $base ($fmt): exit $?: $(cat "$tmp/err")"
				fail=$((fail + 1))
				continue
			fi
			# File paths differ between machines: keep only the base name.
			sed -i "s|$src/samples/rules/||g" "$out"
			n=$((n + 1))
			st_golden "$out" "$src/samples/$mode/$base.$fmt" \
				"$base ($fmt): differs from samples/$mode/$base.$fmt"
		done
	done
}

# st_replay_goldens LABEL GOLDENDIR REPLAY-ARGS...: the text (with its
# notes on stderr) and --json of `--replay` against GOLDENDIR/NAME.{txt,err,
# jsonl}, NAME being the capture's base name; leaves the text in
# $tmp/NAME.txt.
st_replay_goldens() {
	local label=$1 golden=$2 name fmt out err f
	local -a extra files
	shift 2
	name=$(basename "$label")
	for fmt in txt jsonl; do
		extra=()
		[ "$fmt" = jsonl ] && extra=(--json)
		out=$tmp/$name.$fmt
		err=$tmp/$name.$fmt.err
		if ! "$bin" "$@" "${extra[@]}" >"$out" 2>"$err"; then
			echo "FAIL $label ($fmt): exit $?: $(cat "$err")"
			fail=$((fail + 1))
			continue
		fi
		# Paths differ between machines.
		sed -i "s|$src/||g" "$err"
		n=$((n + 1))
		files=("$name.$fmt")
		[ "$fmt" = txt ] && cp "$err" "$tmp/$name.err" && files+=("$name.err")
		for f in "${files[@]}"; do
			st_golden "$tmp/$f" "$golden/$f" \
				"$label: $f differs from ${golden#"$src"/}/$f"
		done
	done
}
