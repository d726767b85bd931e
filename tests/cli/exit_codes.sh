#!/usr/bin/env bash
# exit_codes.sh BINARY SRCDIR - table of command lines and the exit status
# and message each must give (conntrack-tools' "args ; OK|BAD" idea).
set -u
bin=$1
src=$2
r=$src/samples/rules
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '*nat\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n' >"$tmp/undeclared.rules"
head -c 4096 /dev/urandom >"$tmp/junk.bin"

# expected-exit ; stderr must contain ; arguments...
cases=(
	"0;;--help"
	"0;;--version"
	"2;unknown option;--bogus"
	"2;needs an argument;--rules"
	"2;nothing to do;--rules $r/istio-1.17_redirect_default_legacy.rules"
	"2;needs --rules;--explain"
	"2;unexpected argument;--explain stray"
	"1;no-such-file;--rules $tmp/no-such-file --explain"
	"1;undeclared.rules:2;--rules $tmp/undeclared.rules --explain"
	"1;junk.bin;--rules $tmp/junk.bin --explain"
	"0;;--rules $r/istio-1.17_redirect_default_legacy.rules --explain"
	"0;;--rules $r/istio-1.28plus_native-nftables_redirect_default.nft.json --explain --json"
)
fail=0
for c in "${cases[@]}"; do
	IFS=';' read -r want msg args <<<"$c"
	# shellcheck disable=SC2086 # the table's arguments are words
	"$bin" $args >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL [$args]: exit $got, want $want; stderr: $(head -3 "$tmp/err")"
		fail=$((fail + 1))
	elif [ -n "$msg" ] && ! grep -q -- "$msg" "$tmp/err"; then
		echo "FAIL [$args]: stderr lacks '$msg': $(head -3 "$tmp/err")"
		fail=$((fail + 1))
	elif [ "$want" = 1 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		echo "FAIL [$args]: a runtime error must be one line, got:"
		cat "$tmp/err"
		fail=$((fail + 1))
	fi
done
echo "$((${#cases[@]} - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
