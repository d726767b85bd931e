#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# harden_sessions.sh - two sidecar-trace sessions on one
# pod at once (1.17 legacy rules).  Both trace, with distinct NFLOG groups
# and session tags; the second one's rule numbers are those of the
# original rules although the first one's NFLOG rules sit in the chains
# (its hops must read ISTIO_OUTPUT rule 9 -> ISTIO_REDIRECT, proxy leg
# rule 4, as without it); stopping either first leaves the other's rules
# complete and the other still tracing; at the end the rules are exactly
# as before.  A second session forced onto the first one's group refuses
# with a clear message and leaves the first one alone.
# Exit 0 pass, 1 fail, 77 without root / namespaces.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/harden_common.sh"

h_setup harden_sessions

# field NAME: "session group nrules" from the "tracing" line.
field() {
	sed -n 's/^sidecar-trace: tracing .*NFLOG group \([0-9]*\), session \([0-9a-f]*\), \([0-9]*\) rules inserted.*/\2 \1 \3/p' "$WORK/$1.err"
}

# rules_of SESSION: how many rules carry that session's comment.
rules_of() { tr_snapshot "$P" "$BACKEND" | grep -c "sidecar-trace:$1"; }

check_flow() {
	local name=$1 got
	got=$(h_type2 "$WORK/$name.out")
	if [ "$got" = "$H_TYPE2" ]; then
		echo "ok: $name: type 2, ISTIO_OUTPUT rule 9 -> ISTIO_REDIRECT, proxy leg rule 4"
	else
		t_fail "$name: no type-2 flow with the original rule numbers; got '$got'"
		grep -v summary "$WORK/$name.out" | head -n 3
	fi
}

stop() {
	kill -INT "$1"
	h_wait "$1" 10
	[ "$H_RC" = 0 ] || t_fail "$2: exit $H_RC: $(tail -n 2 "$WORK/$2.err")"
}

# both FIRST SECOND STOP_FIRST: A, then B; a scenario; stop one, check the
# other's rules and that it still traces; stop it.
both() {
	local a=$1 b=$2 first=$3 pa pb sa ga na sb gb nb left other
	h_start "$a" --netns "$N" --json || return
	pa=$TPID
	h_start "$b" --netns "$N" --json || return
	pb=$TPID
	read -r sa ga na <<<"$(field "$a")"
	read -r sb gb nb <<<"$(field "$b")"
	if [ -n "$sa" ] && [ -n "$sb" ] && [ "$sa" != "$sb" ] && [ "$ga" != "$gb" ]; then
		echo "ok: $a/$b: distinct sessions ($sa, $sb) and groups ($ga, $gb)"
	else
		t_fail "$a/$b: sessions '$sa' '$sb', groups '$ga' '$gb'"
	fi
	grep -q "rules of other running sidecar-trace sessions are in the chains: left out" "$WORK/$b.err" ||
		t_fail "$b: no note about the other session's rules: $(cat "$WORK/$b.err")"
	[ "$(rules_of "$sa")" = "$na" ] && [ "$(rules_of "$sb")" = "$nb" ] ||
		t_fail "$a/$b: rules in place: $(rules_of "$sa")/$na, $(rules_of "$sb")/$nb"
	scen app-to-remote
	h_wait_flows "$a"
	h_wait_flows "$b"
	if [ "$first" = "$a" ]; then
		stop "$pa" "$a"
		left=$sb other=$nb
	else
		stop "$pb" "$b"
		left=$sa other=$na
	fi
	if [ "$(rules_of "$left")" = "$other" ]; then
		echo "ok: $first stopped first: the other session's $other rules are all there"
	else
		t_fail "$first stopped first: the other session has $(rules_of "$left") of its $other rules"
	fi
	# The one left still traces: a second connection reaches it.
	scen app-to-remote
	if [ "$first" = "$a" ]; then
		h_wait_flows "$b" 2
		stop "$pb" "$b"
	else
		h_wait_flows "$a" 2
		stop "$pa" "$a"
	fi
	check_flow "$a"
	check_flow "$b"
	n=$(jq -r 'select(.type == 2) | .type' "$WORK/$([ "$first" = "$a" ] && echo "$b" || echo "$a").out" | wc -l)
	[ "$n" -ge 2 ] || t_fail "the session stopped last saw $n type-2 flows, want 2"
	grep -q 'someone else changed' "$WORK/$a.err" "$WORK/$b.err" &&
		t_fail "$a/$b: one session took the other's rules for a foreign change"
	h_same_rules "$a+$b, $first stopped first"
}

both A1 B1 B1
both A2 B2 A2

# A forced shared group: the second refuses, the first is untouched.
h_start A3 --netns "$N" --json && {
	read -r sa ga na <<<"$(field A3)"
	"$BIN" --netns "$N" --json --group "$ga" --duration 3 >"$WORK/B3.out" 2>"$WORK/B3.err"
	rc=$?
	if [ $rc -eq 1 ] && grep -q "group $ga" "$WORK/B3.err"; then
		echo "ok: B3 on A3's group $ga: exit 1: $(tail -n 1 "$WORK/B3.err")"
	else
		t_fail "B3 on group $ga: exit $rc: $(cat "$WORK/B3.err")"
	fi
	[ "$(rules_of "$sa")" = "$na" ] || t_fail "B3 touched A3's rules"
	scen app-to-remote
	h_wait_flows A3
	stop "$TPID" A3
	check_flow A3
}
h_same_rules "A3 + refused B3"

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "harden_sessions"
