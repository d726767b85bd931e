#!/usr/bin/env bash
# explain_golden.sh BINARY SRCDIR - `--explain --json` and `--explain` of every
# sample rule set must equal its golden file under samples/explain/.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

t_cli_rules_goldens explain

# Every ambient rule set: each rule of ztunnel's gets a specific ambient-*
# role; only jumps to other chains and the node's own rules have another.
for f in "$src"/samples/rules/*ambient*.rules "$src"/samples/rules/*ambient*.nft.json; do
	base=$(basename "$f")
	args=(--rules "$f")
	case "$base" in
	*.v6.rules) [ -e "${f%.v6.rules}.v4.rules" ] && continue ;;
	*.v4.rules) [ -e "${f%.v4.rules}.v6.rules" ] && args+=(--rules "${f%.v4.rules}.v6.rules") ;;
	esac
	t_count
	bad=$("$bin" "${args[@]}" --explain --json |
		jq -r '.rules[] | select((.role | startswith("ambient-") | not) and
			.role != "foreign-jump" and
			(.role != "none" or (.chain | test("^(ISTIO_|istio-)")))) |
			"\(.table) \(.chain) \(.number): \(.role)"')
	[ -z "$bad" ] || t_fail "$base: rules without a specific ambient role: $bad"
done
t_done
