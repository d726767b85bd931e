# shellcheck shell=bash disable=SC2034 # sourced: T_TMP and T_N are the scripts'
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lib.sh - the shell helpers of the tests, sourced (not run) by the CLI
# tests (tests/cli/*.sh), the lab tests (tests/lab/tests/*.sh) and the
# lab's own tools (tests/lab/lab, tests/lab/truth/selftest):
#
#   t_skip, t_fail, t_ok, t_done   skipping (exit 77), failing and counting
#   t_need CMD...                  skip unless every command is installed
#   t_scratch [PREFIX]             a scratch directory $T_TMP, removed at exit
#   t_on_exit CMD                  cleanups, run at exit (last added first)
#   wait_for SECONDS CMD...        wait for a condition, never a fixed time
#   t_golden GOT GOLDEN LABEL      compare with (ST_REGEN=1: rewrite) a golden
#   t_cli_* (tests/cli/*.sh)       the CLI scripts' arguments and goldens
#
# Sourcing it changes nothing else.  The first t_fail, t_on_exit or
# t_scratch installs the EXIT trap (the cleanups, then a 0 exit status
# becomes 1 when a check failed) and turns SIGINT/SIGTERM into exit
# 130/143, which runs that trap too; a script that uses them sets no EXIT
# trap of its own.

T_N=0      # checks counted by t_count (or the script)
T_FAILED=0 # checks failed (t_fail)
T_TMP=     # the scratch directory of t_scratch
T_CLEANUPS=()
T_TRAPPED=0

# t_skip WHY: the test cannot run here: exit 77, which ctest counts as
# skipped.
t_skip() {
	echo "SKIP: $*"
	exit 77
}

# t_fail WHAT: one check failed; the script goes on and exits 1 at the end.
t_fail() {
	echo "FAIL: $*"
	T_FAILED=$((T_FAILED + 1))
	t__trap
}

# t_ok WHAT: one check passed.
t_ok() {
	echo "ok: $*"
}

# t_count: one more check made (for the "N passed" line of t_done).
t_count() {
	T_N=$((T_N + 1))
}

# t_done [NAME]: "N passed, F failed" (or "PASS: NAME"), and exit 0 or 1.
t_done() {
	if [ -n "${1:-}" ]; then
		[ "$T_FAILED" -eq 0 ] && echo "PASS: $1"
	else
		echo "$((T_N > T_FAILED ? T_N - T_FAILED : 0)) passed, $T_FAILED failed"
	fi
	[ "$T_FAILED" -eq 0 ]
	exit
}

# t_need CMD...: skip unless every command can be run.
t_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || t_skip "$c not found"
	done
}

# t_on_exit CMD: run CMD (a string, eval'd) when the script exits, however
# it exits; the last added runs first.
t_on_exit() {
	T_CLEANUPS+=("$1")
	t__trap
}

# t_scratch [PREFIX]: create the scratch directory T_TMP (/tmp/PREFIX.XXXXXX,
# default st-test), removed at exit.
t_scratch() {
	T_TMP=$(mktemp -d "/tmp/${1:-st-test}.XXXXXX") || {
		echo "FAIL: cannot create a scratch directory"
		exit 1
	}
	t__trap
}

t__trap() {
	[ "$T_TRAPPED" = 1 ] && return
	T_TRAPPED=1
	trap t__exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

t__exit() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#T_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUPS[i]}"
	done
	[ -n "$T_TMP" ] && rm -rf "$T_TMP"
	[ "$rc" -eq 0 ] && [ "$T_FAILED" -ne 0 ] && rc=1
	exit "$rc"
}

# wait_for SECONDS CMD...: run CMD every T_WAIT_STEP (0.1) s until it
# succeeds (return 0) or SECONDS (may be fractional) have passed (return 1).  Tests wait for
# what they need - a rule present, a line printed, a count reached - with
# generous deadlines, so that a busy machine is slower, not failing.
wait_for() {
	local secs=${1%%.*} frac=000 deadline
	[[ $1 == *.* ]] && frac=${1#*.}000
	deadline=$(($(date +%s%3N) + ${secs:-0} * 1000 + 10#${frac:0:3}))
	shift
	until "$@"; do
		[ "$(date +%s%3N)" -ge "$deadline" ] && return 1
		sleep "${T_WAIT_STEP:-0.1}"
	done
}

# t_golden GOT GOLDEN LABEL: with ST_REGEN=1 copy GOT to GOLDEN, else GOT
# must equal GOLDEN (LABEL names it in the failure, with the diff).
t_golden() {
	if [ "${ST_REGEN:-0}" = 1 ]; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
	elif ! diff -u "$2" "$1" >"$T_TMP/golden.diff"; then
		t_fail "$3"
		head -n 40 "$T_TMP/golden.diff"
	fi
}

# ---- the CLI scripts: tests/cli/NAME.sh BINARY SRCDIR --------------------

# t_cli_args BINARY SRCDIR: set bin and src, make the scratch directory.
t_cli_args() {
	set -u
	bin=$1
	src=$2
	t_scratch st-cli
}

# t_cli_sample_rules SET: samples/rules/SET.rules or SET.nft.json, or
# nothing.
t_cli_sample_rules() {
	local r
	for r in "$src/samples/rules/$1.rules" "$src/samples/rules/$1.nft.json"; do
		[ -e "$r" ] && echo "$r" && return
	done
}

# t_cli_rules_goldens MODE: `--MODE --json` and `--MODE` of every sample
# rule set (the dual-stack pair together) against samples/MODE/FILE.{json,
# text}.
t_cli_rules_goldens() {
	local mode=$1 f base fmt out rc
	local -a args extra
	# A dual-stack pod is a NAME.v4.rules / NAME.v6.rules pair, read together.
	for f in "$src"/samples/rules/*.rules "$src"/samples/rules/*.nft.json; do
		base=$(basename "$f")
		case "$base" in
		*.v6.rules) [ -e "${f%.v6.rules}.v4.rules" ] && continue ;;
		esac
		args=(--rules "$f")
		case "$base" in
		*.v4.rules) [ -e "${f%.v4.rules}.v6.rules" ] &&
			args+=(--rules "${f%.v4.rules}.v6.rules") ;;
		esac
		# A sample that is no rule set is refused: exit 1, one line.
		if [ -e "$src/samples/$mode/$base.err" ]; then
			out=$T_TMP/$base.err
			"$bin" "${args[@]}" "--$mode" >/dev/null 2>"$out"
			rc=$?
			sed -i "s|$src/samples/rules/||g" "$out"
			if [ "$rc" != 1 ] || [ "$(wc -l <"$out")" != 1 ]; then
				t_fail "$base: exit $rc, want 1 and one line: $(cat "$out")"
			fi
			t_count
			t_golden "$out" "$src/samples/$mode/$base.err" \
				"$base: differs from samples/$mode/$base.err"
			continue
		fi
		for fmt in json text; do
			extra=()
			[ "$fmt" = json ] && extra=(--json)
			out=$T_TMP/$base.$fmt
			if ! "$bin" "${args[@]}" "--$mode" "${extra[@]}" >"$out" 2>"$T_TMP/err"; then
				t_fail "$base ($fmt): exit $?: $(cat "$T_TMP/err")"
				continue
			fi
			# File paths differ between machines: keep only the base name.
			sed -i "s|$src/samples/rules/||g" "$out"
			t_count
			t_golden "$out" "$src/samples/$mode/$base.$fmt" \
				"$base ($fmt): differs from samples/$mode/$base.$fmt"
		done
	done
}

# t_cli_replay_goldens LABEL GOLDENDIR REPLAY-ARGS...: the text (with its
# notes on stderr) and --json of `--replay` against GOLDENDIR/NAME.{txt,err,
# jsonl}, NAME being the capture's base name; leaves the text in
# $T_TMP/NAME.txt.
t_cli_replay_goldens() {
	local label=$1 golden=$2 name fmt out err f
	local -a extra files
	shift 2
	name=$(basename "$label")
	for fmt in txt jsonl; do
		extra=()
		[ "$fmt" = jsonl ] && extra=(--json)
		out=$T_TMP/$name.$fmt
		err=$T_TMP/$name.$fmt.err
		if ! "$bin" "$@" "${extra[@]}" >"$out" 2>"$err"; then
			t_fail "$label ($fmt): exit $?: $(cat "$err")"
			continue
		fi
		# Paths differ between machines.
		sed -i "s|$src/||g" "$err"
		t_count
		files=("$name.$fmt")
		[ "$fmt" = txt ] && cp "$err" "$T_TMP/$name.err" && files+=("$name.err")
		for f in "${files[@]}"; do
			t_golden "$T_TMP/$f" "$golden/$f" \
				"$label: $f differs from ${golden#"$src"/}/$f"
		done
	done
}
