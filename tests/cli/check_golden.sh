#!/usr/bin/env bash
# check_golden.sh BINARY SRCDIR - `--check --json` and `--check` of every
# sample rule set must equal its golden file under samples/check/.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

t_cli_rules_goldens check
t_done
