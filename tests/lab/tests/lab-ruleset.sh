#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lab-ruleset.sh EXPECTED.paths
#
# One rule set end to end: lab up with the @rules/@backend of the expected
# file, truth start, every scenario the file names (NAME/6: with --ipv6),
# truth stop, compare the recorded connections with the expected paths,
# lab down, and check that nothing was left behind.
# ST_LAB_SAVE=1 also stores the recorded truth as samples/truth/<name>.jsonl.
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

EXP=$1
[ -r "$EXP" ] || { echo "usage: $0 EXPECTED.paths" >&2; exit 2; }
NAME=$(basename "$EXP" .paths)
BACKEND=$(sed -nE 's/^@backend[[:space:]]+//p' "$EXP")
read -r -a RULES <<<"$(sed -nE 's/^@rules[[:space:]]+//p' "$EXP")"
[ -n "$BACKEND" ] && [ ${#RULES[@]} -ge 1 ] || { echo "$EXP: no @rules/@backend" >&2; exit 2; }

t_require
t_require_backend "$BACKEND"

P=$(t_prefix)
t_scratch st-lab-test
WORK=$T_TMP
ROOT_BEFORE=$(t_root_snapshot)

cleanup() {
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}
t_on_exit cleanup

up_args=()
for f in "${RULES[@]}"; do up_args+=(--rules "$SAMPLES/rules/$f"); done
echo "== $NAME: lab up ($BACKEND, prefix $P)"
"$LAB" up "${up_args[@]}" --backend "$BACKEND" --prefix "$P"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }

"$LAB" truth start --prefix "$P" || { echo "FAIL: truth start"; exit 1; }

# Scenarios in the order the file first names them.
SCEN=$(awk '!/^[ \t]*(#|@|$)/ && !seen[$1]++ { print $1 }' "$EXP")
for s in $SCEN; do
	args=("${s%/6}" --prefix "$P")
	[[ $s == */6 ]] && args+=(--ipv6)
	"$LAB" scenario "${args[@]}"
	rc=$?
	[ $rc -eq 0 ] || t_fail "scenario $s exited $rc"
done

if ! "$LAB" truth stop --prefix "$P" >"$WORK/truth.jsonl"; then
	echo "FAIL: truth stop"
	exit 1
fi
echo "== $NAME: $(wc -l <"$WORK/truth.jsonl") connections recorded"
"$HERE/compare-paths" "$EXP" "$WORK/truth.jsonl" --rules-dir "$SAMPLES/rules" ||
	t_fail "the ground truth differs from $EXP"

if [ "${ST_LAB_SAVE:-0}" = 1 ]; then
	if [ "$T_FAILED" -eq 0 ]; then
		mkdir -p "$SAMPLES/truth" && cp "$WORK/truth.jsonl" "$SAMPLES/truth/$NAME.jsonl" &&
			echo "saved $SAMPLES/truth/$NAME.jsonl"
	else
		echo "not saving the truth of a failed run"
	fi
fi

"$LAB" down --prefix "$P" || t_fail "lab down exited non-zero"
t_check_gone "$P" "after a successful run"
[ "$(t_root_snapshot)" = "$ROOT_BEFORE" ] || t_fail "the root namespace changed (links, addresses or rules)"
t_done "$NAME"
