#!/usr/bin/env bash
# exit_codes.sh BINARY SRCDIR - table of command lines and the exit status
# and message each must give (conntrack-tools' "args ; OK|BAD" idea).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
r=$src/samples/rules
printf '*nat\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n' >"$T_TMP/undeclared.rules"
head -c 4096 /dev/urandom >"$T_TMP/junk.bin"

# expected-exit ; stderr must contain ; arguments...
cases=(
	"0;;--help"
	"0;;--version"
	"2;unknown option;--bogus"
	"2;needs an argument;--rules"
	"2;nothing to do;--rules $r/istio-1.17_redirect_default_legacy.rules"
	"2;needs --rules;--explain"
	"2;unexpected argument;--explain stray"
	"1;no-such-file;--rules $T_TMP/no-such-file --explain"
	"1;undeclared.rules:2;--rules $T_TMP/undeclared.rules --explain"
	"1;junk.bin;--rules $T_TMP/junk.bin --explain"
	"0;;--rules $r/istio-1.17_redirect_default_legacy.rules --explain"
	"0;;--rules $r/istio-1.28plus_native-nftables_redirect_default.nft.json --explain --json"
)
for c in "${cases[@]}"; do
	IFS=';' read -r want msg args <<<"$c"
	# shellcheck disable=SC2086 # the table's arguments are words
	"$bin" $args >"$T_TMP/out" 2>"$T_TMP/err"
	got=$?
	if [ "$got" != "$want" ]; then
		t_fail "[$args]: exit $got, want $want; stderr: $(head -3 "$T_TMP/err")"
	elif [ -n "$msg" ] && ! grep -q -- "$msg" "$T_TMP/err"; then
		t_fail "[$args]: stderr lacks '$msg': $(head -3 "$T_TMP/err")"
	elif [ "$want" = 1 ] && [ "$(wc -l <"$T_TMP/err")" -ne 1 ]; then
		t_fail "[$args]: a runtime error must be one line, got:"
		cat "$T_TMP/err"
	fi
done
T_N=${#cases[@]}
t_done
