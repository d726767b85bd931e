#!/usr/bin/env bash
# simulate.sh BINARY SRCDIR - `--simulate SPEC --rules FILE`: for a table of
# specs on several rule sets, the output (text, and JSON for some) equals
# its golden file under samples/simulate-cli/, and the first line names the
# expected traffic type; bad specs and bad combinations are usage errors
# (exit 2, one message naming the column); an undecidable rule is exit 0
# with the flow marked incomplete.
# ST_REGEN=1 rewrites the goldens (review them against
# /work/shared/README.md's table before committing: e.g. type 5 on 1.17 is
# ISTIO_OUTPUT RULE 4, not the article's rule 8).
set -u
bin=$1
src=$2
rules=$src/samples/rules
golden=$src/samples/simulate-cli
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

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
	out=$tmp/$name.$ext
	if ! "$bin" "${args[@]}" >"$out" 2>"$tmp/err"; then
		bad "$name: exit $?: $(cat "$tmp/err")"
		continue
	fi
	[ -s "$tmp/err" ] && bad "$name: stderr: $(cat "$tmp/err")"
	n=$((n + 1))
	if [ "$ext" = txt ]; then
		got=$(sed -n '1s/^\[\([0-9]\) .*/\1/p' "$out")
	else
		got=$(sed -n '1s/^{"type":\([0-9]\),.*/\1/p' "$out")
	fi
	[ "$got" = "$type" ] || bad "$name: type '$got', expected $type: $(head -1 "$out")"
	if [ "${ST_REGEN:-0}" = 1 ]; then
		mkdir -p "$golden"
		cp "$out" "$golden/$name.$ext"
	elif ! diff -u "$golden/$name.$ext" "$out" >"$tmp/diff"; then
		bad "$name differs from its golden:"
		head -20 "$tmp/diff"
	fi
done

# The undecidable flow says why, in both forms.
grep -q "incomplete: undecidable at nat:ISTIO_OUTPUT:9 (cannot evaluate '-m statistic" \
	"$tmp/undecidable.txt" || bad "undecidable: no reason in the text"
"$bin" --rules "$rund" --json --simulate \
	'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' 2>/dev/null |
	grep -q '"complete":false,"why":"undecidable at nat:ISTIO_OUTPUT:9' ||
	bad "undecidable: JSON does not mark the leg incomplete"

# Usage errors: exit 2, the parser's message with its column.
usage() {
	local want=$1
	shift
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -ne 2 ]; then
		bad "exit $rc (not 2) for: $*"
		return
	fi
	[ -s "$tmp/out" ] && bad "stdout not empty for: $*"
	grep -qF -- "$want" "$tmp/err" || bad "no '$want' in: $(cat "$tmp/err")"
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
	-o "$tmp/t2.dot" >/dev/null 2>"$tmp/err" || bad "-o t2.dot: $(cat "$tmp/err")"
grep -q 'RULE 9' "$tmp/t2.dot" 2>/dev/null || bad "-o t2.dot: no 'RULE 9' edge"
"$bin" --rules "$r117" --simulate 'tcp 10.244.1.10:43210 > 10.244.2.20:9080 uid 1000' \
	-o "$tmp/dir" >/dev/null 2>"$tmp/err" || bad "-o dir: $(cat "$tmp/err")"
[ -s "$tmp/dir/type-2-local-to-remote.svg" ] && [ -s "$tmp/dir/index.html" ] ||
	bad "-o dir: no type-2-local-to-remote.svg + index.html"

[ $n -gt 0 ] || bad "no case ran"
echo "simulate: $n cases, $fail failures"
[ $fail -eq 0 ]
