#!/usr/bin/env bash
# exit_codes.sh BINARY SRCDIR - table of command lines and the exit status
# and message each must give (conntrack-tools' "args ; OK|BAD" idea).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
r=$src/samples/rules
printf '*nat\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n' >"$T_TMP/undeclared.rules"
head -c 4096 /dev/urandom >"$T_TMP/junk.bin"
: >"$T_TMP/empty.rules"
printf '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n' \
	>"$T_TMP/legacy-note.rules"

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
	"1;empty, not a rule dump;--rules $T_TMP/empty.rules --explain"
	"1;empty, not a rule dump;--rules $T_TMP/empty.rules --check"
	"1;empty, not a rule dump;--rules $r/istio-1.17_redirect_default_legacy.rules --rules $T_TMP/empty.rules --explain"
	"1;dump the pod's rules with iptables-legacy-save;--rules $T_TMP/legacy-note.rules --explain"
	"1;dump the pod's rules with iptables-legacy-save;--rules $T_TMP/legacy-note.rules --check --json"
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

# A live network namespace without Istio rules is an answer, not a
# mistake: --check says so and exits 0 (the refusal above is for files).
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
	ns=st-exitcodes-$$
	if ip netns add "$ns" 2>/dev/null; then
		"$bin" --check --netns "/var/run/netns/$ns" >"$T_TMP/out" 2>"$T_TMP/err"
		got=$?
		ip netns del "$ns"
		if [ "$got" != 0 ] || ! grep -q "no-istio-rules" "$T_TMP/out"; then
			t_fail "--check of a namespace without Istio rules: exit $got: $(cat "$T_TMP/out" "$T_TMP/err")"
		fi
		T_N=$((T_N + 1))
	fi
fi
t_done
