#!/usr/bin/env bash
# explain_golden.sh BINARY SRCDIR - `--explain --json` and `--explain` of every
# sample rule set must equal its golden file under samples/explain/.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
. "$(dirname "$0")/lib.sh" "$@"

st_rules_goldens explain
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
