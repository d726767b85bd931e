#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# harden_rulechange.sh - someone else changes the Istio
# chains while sidecar-trace traces (1.17 legacy rules, iptables-legacy
# -I / -D inside the pod's namespace).
#   1. a rule inserted at the top of nat ISTIO_OUTPUT: the trace says so on
#      stderr while tracing (the periodic check) and says that hops keep
#      the numbers the rules had when tracing began; the flows still carry
#      those numbers (rule 9 -> ISTIO_REDIRECT); the stop line says the
#      change is kept; afterwards the rules are the original ones plus
#      exactly that rule.
#   2. that rule deleted again while tracing: noticed; the rules end as
#      before.
#   3. "iptables -D ISTIO_OUTPUT N" while tracing, N the position of the
#      first of the session's own rules there: the trace reports it gone and
#      re-attaches (the rest of its rules removed, all of them inserted
#      again, none twice); the flows keep their numbers, since the rules
#      are the same; cleanup still leaves exactly the original rules.
# Exit 0 pass, 1 fail, 77 without root / namespaces.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/harden_common.sh"

h_setup harden_rulechange
IPT=(ip netns exec "$P-pod" iptables-legacy -w -t nat)
FOREIGN=(-p tcp --dport 7777 -j RETURN)

# Wait up to 20 s for a line in the stderr of NAME.
wait_note() {
	wait_for 20 grep -q "$2" "$WORK/$1.err"
}

stop() {
	kill -INT "$TPID"
	h_wait "$TPID" 10
	[ "$H_RC" = 0 ] || t_fail "$1: exit $H_RC: $(tail -n 2 "$WORK/$1.err")"
}

# 1. a rule inserted
h_start ins --netns "$N" --json && {
	"${IPT[@]}" -I ISTIO_OUTPUT 1 "${FOREIGN[@]}"
	WANT=$(tr_snapshot "$P" "$BACKEND" | grep -v 'sidecar-trace:')
	if wait_note ins 'someone else changed the rules while tracing (.*); hops keep the numbers'; then
		echo "ok: ins: noticed while tracing: $(grep -m1 'someone else' "$WORK/ins.err")"
	else
		t_fail "ins: no note while tracing: $(cat "$WORK/ins.err")"
	fi
	scen app-to-remote
	h_wait_flows ins
	stop ins
	got=$(h_type2 "$WORK/ins.out")
	[ "$got" = "$H_TYPE2" ] && echo "ok: ins: the flow keeps the numbers of the rules as they were" ||
		t_fail "ins: type-2 flow '$got'"
	grep -q 'the rules are as someone else left them (their change is kept)' "$WORK/ins.err" ||
		t_fail "ins: the stop line does not say the rules were changed: $(tail -n 1 "$WORK/ins.err")"
	h_same_rules "ins: original rules plus the foreign one" "$WANT"
	[ "$(tr_snapshot "$P" "$BACKEND" | grep -c -- '--dport 7777 -j RETURN')" = 1 ] ||
		t_fail "ins: the foreign rule is not there exactly once"
}

# 2. the foreign rule deleted by its spec while tracing
BEFORE2=$(tr_snapshot "$P" "$BACKEND")
h_start del --netns "$N" --json && {
	"${IPT[@]}" -D ISTIO_OUTPUT "${FOREIGN[@]}"
	wait_note del 'someone else changed the rules while tracing' ||
		t_fail "del: no note while tracing: $(cat "$WORK/del.err")"
	stop del
	grep -q 'the rules are as someone else left them' "$WORK/del.err" ||
		t_fail "del: the stop line does not say so: $(tail -n 1 "$WORK/del.err")"
}
h_same_rules "del: the original rules again"
[ "$BEFORE2" != "$BEFORE" ] || t_fail "del: nothing was deleted (test broken)"

# 3. a rule deleted by position: it is one of the session's own
h_start pos --netns "$N" --json && {
	n0=$(h_session_rules)
	pos=$("${IPT[@]}" -S ISTIO_OUTPUT | tail -n +2 | grep -n 'sidecar-trace:' | head -n 1 | cut -d: -f1)
	[ -n "$pos" ] || t_fail "pos: no rule of the session in ISTIO_OUTPUT (test broken)"
	"${IPT[@]}" -D ISTIO_OUTPUT "${pos:-0}"
	if wait_note pos 'vanished while tracing (1 of the [0-9]* rules of session [0-9a-f]* are gone'; then
		echo "ok: pos: $(grep -m1 'vanished while tracing' "$WORK/pos.err")"
	else
		t_fail "pos: the lost rule of the session was not noticed: $(cat "$WORK/pos.err")"
	fi
	wait_note pos 're-attached to the rules as they are now' ||
		t_fail "pos: no re-attach: $(cat "$WORK/pos.err")"
	[ "$(h_session_rules)" = "$n0" ] || t_fail "pos: $(h_session_rules) rules of the session, $n0 before"
	dup=$(tr_snapshot "$P" "$BACKEND" | grep -o 'st:[0-9a-f]*:[A-Za-z]:[A-Za-z_]*:[A-Za-z_]*:[0-9]*' | sort | uniq -d)
	[ -z "$dup" ] || t_fail "pos: rules of the session twice: $dup"
	scen app-to-remote
	h_wait_flows pos
	stop pos
	got=$(h_type2 "$WORK/pos.out")
	[ "$got" = "$H_TYPE2" ] || t_fail "pos: type-2 flow '$got'"
}
h_same_rules "pos: the original rules"
[ "$(h_session_rules)" = 0 ] || t_fail "pos: session rules left"

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "harden_rulechange"
