#!/usr/bin/env bash
# simulate.sh BINARY SRCDIR - `--simulate SPEC --rules FILE`: for a table of
# specs on several rule sets, the output (text, and JSON for some) equals
# its golden file under samples/simulate-cli/, and the first line names the
# expected traffic type; bad specs and bad combinations are usage errors
# (exit 2, one message naming the column); an undecidable rule is exit 0
# with the flow marked incomplete.
# ST_REGEN=1 rewrites the goldens (review them against the six traffic
# types of README.md before committing: e.g. type 5 on 1.17 is
# ISTIO_OUTPUT RULE 4, not the article's rule 8).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
rules=$src/samples/rules
golden=$src/samples/simulate-cli

r117=$rules/istio-1.17_redirect_default_legacy.rules
r14=$rules/istio-1.4_redirect_default_legacy.rules
r125=$rules/istio-1.25_tproxy_dns_legacy.rules
r128=$rules/istio-1.28plus_native-nftables_redirect_default.nft.json
rds="$rules/istio-1.26plus_redirect_dns_dualstack_nft.v4.rules
$rules/istio-1.26plus_redirect_dns_dualstack_nft.v6.rules"
rund=$golden/undecidable-statistic.rules

# name | type | rules (newline-separated in $var) | extra options | spec
cases=(
	"1.17-t1|1|r117||tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0"
	"1.17-t2|2|r117||tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
	"1.17-t2-json|2|r117|--json|tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
	"1.17-t3|3|r117||tcp 10.244.3.30:50003 > 10.244.1.10:15090 in eth0"
	"1.17-t3-15020|3|r117||tcp 10.244.3.30:50003 > 10.244.1.10:15020 in eth0"
	"1.17-t4|4|r117||tcp 10.244.1.10:43211 > 10.96.0.30:9081 uid 1000"
	"1.17-t5|5|r117||tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337"
	"1.17-t6|6|r117||tcp 10.244.1.10:45006 > 10.244.4.40:15012 uid 1337"
	"1.17-pod-ip|1|r117|--pod-ip 10.1.2.3|tcp 10.9.9.9:50001 > 10.1.2.3:9080 in eth0"
	"1.4-t2|2|r14||tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
	"1.4-t5|5|r14||tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337"
	"1.25-t1|1|r125||tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0"
	"1.25-t2|2|r125||tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
	"1.25-dns|0|r125||udp 10.244.1.10:43212 > 10.96.0.10:53 uid 1000"
	"1.28-t2|2|r128||tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
	"1.28-t5|5|r128||tcp 127.0.0.1:45005 > 127.0.0.1:15000 uid 1337"
	"1.28-t1-json|1|r128|--json|tcp 10.244.2.20:50001 > 10.244.1.10:9080 in eth0"
	"dualstack-v6-t2|2|rds||tcp [fd00:244::1:10]:43210 > [fd00:244::2:20]:9080 uid 1000"
	"dualstack-v4-t6|6|rds||tcp 10.244.1.10:45006 > 10.244.4.40:15012 uid 1337"
	"undecidable|0|rund||tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000"
)

for c in "${cases[@]}"; do
	IFS='|' read -r name type var extra spec <<<"$c"
	args=()
	while IFS= read -r f; do
		args+=(--rules "$f")
	done <<<"${!var}"
	# shellcheck disable=SC2206 # the extra options are words
	args+=($extra --simulate "$spec")
	ext=txt
	case "$extra" in *--json*) ext=jsonl ;; esac
	out=$T_TMP/$name.$ext
	if ! "$bin" "${args[@]}" >"$out" 2>"$T_TMP/err"; then
		t_fail "$name: exit $?: $(cat "$T_TMP/err")"
		continue
	fi
	[ -s "$T_TMP/err" ] && t_fail "$name: stderr: $(cat "$T_TMP/err")"
	t_count
	if [ "$ext" = txt ]; then
		got=$(sed -n '1s/^\[\([0-9]\) .*/\1/p' "$out")
	else
		got=$(sed -n '1s/^{"type":\([0-9]\),.*/\1/p' "$out")
	fi
	[ "$got" = "$type" ] || t_fail "$name: type '$got', expected $type: $(head -1 "$out")"
	t_golden "$out" "$golden/$name.$ext" "$name differs from its golden:"
done

# The undecidable flow says why, in both forms.
grep -q "incomplete: undecidable at nat:ISTIO_OUTPUT:9 (cannot evaluate '-m statistic" \
	"$T_TMP/undecidable.txt" || t_fail "undecidable: no reason in the text"
"$bin" --rules "$rund" --json --simulate \
	'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' 2>/dev/null |
	grep -q '"complete":false,"why":"undecidable at nat:ISTIO_OUTPUT:9' ||
	t_fail "undecidable: JSON does not mark the leg incomplete"

# Usage errors: exit 2, the parser's message with its column.
usage() {
	local want=$1
	shift
	"$bin" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
	local rc=$?
	if [ $rc -ne 2 ]; then
		t_fail "exit $rc (not 2) for: $*"
		return
	fi
	[ -s "$T_TMP/out" ] && t_fail "stdout not empty for: $*"
	grep -qF -- "$want" "$T_TMP/err" || t_fail "no '$want' in: $(cat "$T_TMP/err")"
}
usage "column 25" --rules "$r117" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20 uid 1000'
usage "column 1" --rules "$r117" --simulate 'icmp 10.244.1.10:1 > 10.244.2.20:2 uid 1'
usage "simulate spec, column" --rules "$r117" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080'
usage "simulate spec, column" --rules "$r117" --simulate 'tcp 10.244.1.10:1 > [fd00::1]:2 uid 1'
usage "simulate spec: empty" --rules "$r117" --simulate ''
usage "needs the pod's rules" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'
usage "not an IPv4 or IPv6 address" --rules "$r117" --pod-ip 10.1.2 \
	--simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'
usage "--pod-ip goes with --simulate" --rules "$r117" --pod-ip 10.1.2.3 --explain
usage "only one of --simulate and --diagram" --rules "$r117" --diagram 2 \
	--simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'
usage "works on saved rules" --rules "$r117" --netns /nonexistent \
	--simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'
usage "unexpected argument" --rules "$r117" \
	--simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' tcp port 80
usage "only apply when tracing" --rules "$r117" --count 3 \
	--simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000'

# -o: the predicted flow drawn, as a file and as a directory.
"$bin" --rules "$r117" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' \
	-o "$T_TMP/t2.dot" >/dev/null 2>"$T_TMP/err" || t_fail "-o t2.dot: $(cat "$T_TMP/err")"
grep -q 'RULE 9' "$T_TMP/t2.dot" 2>/dev/null || t_fail "-o t2.dot: no 'RULE 9' edge"
"$bin" --rules "$r117" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' \
	-o "$T_TMP/dir" >/dev/null 2>"$T_TMP/err" || t_fail "-o dir: $(cat "$T_TMP/err")"
[ -s "$T_TMP/dir/type-2-local-to-remote.svg" ] && [ -s "$T_TMP/dir/index.html" ] ||
	t_fail "-o dir: no type-2-local-to-remote.svg + index.html"

[ "$T_N" -gt 0 ] || t_fail "no case ran"
t_done
