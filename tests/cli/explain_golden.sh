#!/usr/bin/env bash
# explain_golden.sh BINARY SRCDIR - `--explain --json` and `--explain` of every
# sample rule set must equal its golden file under samples/explain/.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

t_cli_rules_goldens explain
t_done
