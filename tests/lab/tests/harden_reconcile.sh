#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# harden_reconcile.sh [RULES BACKEND] - istio-cni (since 1.29) reconciles a
# pod's rules when it starts, while sidecar-trace traces the pod.  As it
# does, the Istio rules are written again: iptables-restore --noflush
# deletes the jumps of the built-in chains, flushes the Istio chains by
# declaring them, fills them and appends the jumps again; native nftables
# deletes the istio-proxy-nat table and loads it again with nft -f.  The
# new rules have one rule more at the top of ISTIO_OUTPUT (the outbound
# exclusion of 15020 that istio-cni adds), so every later rule number
# moves by one.  For each rule set:
#   1. the trace says once that the rules were rewritten, and once that it
#      re-attached, within seconds (it probes four times a second);
#   2. the app-to-remote flow before the rewrite has the old numbers
#      (ISTIO_OUTPUT 9, then the proxy's leg at 4), the one after it the
#      new ones (10 and 5);
#   3. while tracing, every tag of the session is there once (no rule of
#      ours left twice); after the stop the rules are exactly the rewritten
#      ones with no rule of any session, and the JSON summary counts one
#      rewrite;
#   4. with --no-reattach the trace stops at the rewrite with one line and
#      exit 1, and leaves the rewritten rules as they are.
# Without arguments: 1.17 iptables-legacy, 1.26 iptables-nft and 1.28
# native nftables, one after the other; then an ambient pod's rules on
# iptables-nft and native nftables (the istio-ambient-* tables deleted and
# loaded again), rewritten unchanged, for 1 and 3 without the flows.
# Exit 0 pass, 1 fail, 77 without root / namespaces.

set -o pipefail

if [ $# -eq 0 ]; then
	rc=0 ran=0
	for c in "istio-1.17_redirect_default_legacy.rules legacy" \
		"istio-1.26plus_redirect_default_nft.rules nft" \
		"istio-1.28plus_native-nftables_redirect_default.nftlist nftables" \
		"istio-1.26plus_ambient-inpod_dns_nft.rules nft ambient" \
		"istio-1.28plus_ambient-inpod_native-nftables_dns.nftlist nftables ambient"; do
		# shellcheck disable=SC2086 # two words on purpose
		bash "${BASH_SOURCE[0]}" $c
		r=$?
		case $r in
		0) ran=1 ;;
		77) ;;
		*) rc=1 ;;
		esac
	done
	[ $rc -eq 0 ] && [ $ran -eq 0 ] && exit 77
	exit $rc
fi

. "$(dirname "${BASH_SOURCE[0]}")/harden_common.sh"

h_setup "harden_reconcile $2 ${3:-}" "$1" "$2"
t_require_backend "$BACKEND"
RULES_FILE=$SAMPLES/rules/$RULES
AMBIENT=0
[ "${3:-}" = ambient ] && AMBIENT=1

# The rewrite as istio-cni makes it, with the 15020 exclusion first.
case $BACKEND in
legacy | nft)
	awk -v ambient=$AMBIENT '
		/^\*/ { print; next }
		/^:ISTIO/ { print; next }
		/^-A (PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) .*-j ISTIO/ {
			d = $0; sub(/^-A/, "-D", d); print d
			jumps[++nj] = $0; next
		}
		/^-A ISTIO_OUTPUT / && !extra && !ambient {
			print "-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN"
			extra = 1
		}
		/^-A ISTIO/ { print; next }
		/^COMMIT/ {
			for (i = 1; i <= nj; i++) print jumps[i]
			nj = 0; print
		}' "$RULES_FILE" >"$WORK/rewrite"
	rewrite() {
		ip netns exec "$P-pod" "iptables-$BACKEND-restore" -w -n <"$WORK/rewrite"
	}
	;;
nftables)
	sed '/^\tchain istio-output {/a\		tcp dport 15020 counter packets 0 bytes 0 return' \
		"$RULES_FILE" >"$WORK/rewrite"
	rewrite() {
		local t
		for t in $(awk '/^table inet istio-/ { print $3 }' "$WORK/rewrite"); do
			ip netns exec "$P-pod" nft delete table inet "$t" || return 1
		done
		ip netns exec "$P-pod" nft -f "$WORK/rewrite"
	}
	;;
esac
[ $AMBIENT = 1 ] || grep -q 15020 "$WORK/rewrite" || t_fail "the rewrite holds no new rule (test broken)"

# The nat hops of the type-2 flow to the remote pod whose app leg left at
# ISTIO_OUTPUT rule $2, as "app leg | Envoy's leg" with iptables' names.
type2() {
	jq -r 'def nat: [.hops[] | select(.kind == "rule" and
			(.table == "nat" or .table == "istio-proxy-nat")) |
		"\(.chain | ascii_upcase | gsub("-"; "_")):\(.rule)"] | join(" ");
		select(.type == 2 and .legs[0].dst == "10.244.2.20:9080") |
		"\(.legs[0] | nat) | \(.legs[1] | nat)"' "$1" |
		grep -- "ISTIO_OUTPUT:$2 " | head -n 1
}

has_new_flow() {
	[ -n "$(type2 "$WORK/re.out" 10)" ]
}

stop() {
	kill -INT "$TPID"
	h_wait "$TPID" 10
	[ "$H_RC" = 0 ] || t_fail "$1: exit $H_RC: $(tail -n 2 "$WORK/$1.err")"
}

# Each tag of session $1 at most once in the pod.
tags_once() {
	local dup
	dup=$(tr_snapshot "$P" "$BACKEND" | grep -o "st:$1:[A-Za-z]:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[0-9]*" |
		sort | uniq -d)
	[ -z "$dup" ] || {
		t_fail "tags of session $1 twice: $dup"
		return 1
	}
}

# 1-3: re-attach.
h_start re --netns "$N" --json && {
	SESSION=$(sed -n 's/.*session \([0-9a-f]\{8\}\).*/\1/p' "$WORK/re.err" | head -n 1)
	if [ $AMBIENT = 0 ]; then
		tr_wait_collecting "$P" "$WORK/re.out" || t_fail "re: no flow before the rewrite"
		got=$(type2 "$WORK/re.out" 9)
		if [ "$got" = "OUTPUT:1 ISTIO_OUTPUT:9 ISTIO_REDIRECT:1 | OUTPUT:1 ISTIO_OUTPUT:4" ]; then
			echo "ok: re: before the rewrite: $got"
		else
			t_fail "re: the flow before the rewrite: '$got'"
		fi
	fi
	t0=$(date +%s%3N)
	rewrite || t_fail "re: the rewrite failed"
	NEW=$(tr_snapshot "$P" "$BACKEND" | grep -v 'sidecar-trace:')
	# Probed every 250 ms: a second, and slack for a loaded machine.
	if wait_for 20 grep -q 'rules of this session vanished while tracing' "$WORK/re.err"; then
		ms=$(($(date +%s%3N) - t0))
		[ "$ms" -le 2000 ] || t_fail "re: the rewrite was seen after $ms ms"
		echo "ok: re: the rewrite seen after $ms ms"
	fi
	if wait_for 20 grep -q 're-attached to the rules as they are now' "$WORK/re.err"; then
		echo "ok: re: re-attached after $(($(date +%s%3N) - t0)) ms: $(grep -m1 're-attached' "$WORK/re.err")"
	else
		t_fail "re: no re-attach: $(cat "$WORK/re.err")"
	fi
	n=$(grep -c 'rules of this session vanished while tracing' "$WORK/re.err")
	[ "$n" = 1 ] || t_fail "re: the rewrite was said $n times"
	grep -q "vanished while tracing ([0-9]* of the [0-9]* rules of session $SESSION are gone.*; re-attaching" \
		"$WORK/re.err" || t_fail "re: the note does not say which rules went: $(grep vanished "$WORK/re.err")"
	tags_once "$SESSION" && echo "ok: re: no rule of the session twice"
	ours=$(h_session_rules)
	said=$(sed -n 's/.*re-attached to the rules as they are now: \([0-9]*\) rules.*/\1/p' "$WORK/re.err")
	[ "$ours" = "$said" ] || t_fail "re: $ours rules of the session in the pod, $said said"
	if [ $AMBIENT = 0 ]; then
		before=$(grep -c '"type":2' "$WORK/re.out")
		for _ in 1 2 3; do
			scen app-to-remote
			wait_for 10 has_new_flow && break
		done
		got=$(type2 "$WORK/re.out" 10)
		if [ "$got" = "OUTPUT:1 ISTIO_OUTPUT:10 ISTIO_REDIRECT:1 | OUTPUT:1 ISTIO_OUTPUT:5" ]; then
			echo "ok: re: after the rewrite the new numbers: $got"
		else
			t_fail "re: the flow after the rewrite: '$got' ($before type-2 flows before; $(tail -n 3 "$WORK/re.out"))"
		fi
	fi
	stop re
	grep -q 'the rules are the rewritten ones' "$WORK/re.err" ||
		t_fail "re: the stop line: $(tail -n 1 "$WORK/re.err")"
	[ "$(tail -n 1 "$WORK/re.out" | jq '.summary.rules_rewritten')" = 1 ] ||
		t_fail "re: the summary does not count the rewrite: $(tail -n 1 "$WORK/re.out")"
	h_same_rules "re: the rewritten rules" "$NEW"
	[ "$(h_session_rules)" = 0 ] || t_fail "re: session rules left"
	BEFORE=$NEW
}

# 4. --no-reattach: the trace stops at the next rewrite.
h_start nore --netns "$N" --json --no-reattach && {
	rewrite || t_fail "nore: the rewrite failed"
	NEW=$(tr_snapshot "$P" "$BACKEND" | grep -v 'sidecar-trace:')
	h_wait "$TPID" 20
	[ "$H_RC" = 1 ] || t_fail "nore: exit $H_RC, not 1"
	last=$(tail -n 1 "$WORK/nore.err")
	case $last in
	"sidecar-trace: stopped: rules of this session vanished while tracing ("*"), as when istio-cni rewrites the Istio rules; not re-attaching (--no-reattach); "*" flows written, rules removed")
		echo "ok: nore: $last" ;;
	*) t_fail "nore: the last line: $last" ;;
	esac
	h_same_rules "nore: the rewritten rules" "$NEW"
	[ "$(h_session_rules)" = 0 ] || t_fail "nore: session rules left"
}

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "harden_reconcile $BACKEND ${3:-}"
