#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# harden_faults.sh - faults while tracing (1.17 legacy
# rules).  Each case must end with a clear message, an exit code that says
# it failed, and the pod's rules as before wherever its namespace exists.
#   1. iptables-legacy-restore missing from PATH: exit 1, one line naming
#      it, nothing left (rules, lock files).  Nothing at all in PATH: the
#      same, naming the programs.
#   2. a wrapper iptables-legacy-restore that fails on its 2nd call (the
#      removal): the session retries and removes the rules (exit 0, says
#      so).  One that fails on every call from the 2nd: exit 1, the message
#      says the rules are still there and how to remove them; --cleanup
#      then removes them.
#   3. stdout is /dev/full: exit 1, "No space left on device", rules
#      removed; with flows and with only the summary to write.
#   4. the pod's namespace deleted while tracing (--netns: ip netns del;
#      --pod: the pod's processes killed and its namespace deleted, as lab
#      down of the pod does): exit 1 within a few seconds, the message says
#      what vanished, no hang.
# (A closed pipe, | head -n 1, is trace_stop.sh's case 6.)
# Exit 0 pass, 1 fail, 77 without root / namespaces.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/harden_common.sh"

h_setup harden_faults
LOCKS=/run/sidecar-trace
INO=$(stat -L -c %i "$N")

locks() { ls "$LOCKS" 2>/dev/null | grep -c "^$INO-"; }

# one_line NAME: stderr of NAME is exactly one line containing $2.
one_line() {
	local f=$WORK/$1.err
	if [ "$(wc -l <"$f")" -eq 1 ] && grep -q -- "$2" "$f"; then
		echo "ok: $1: one line: $(cat "$f")"
	else
		t_fail "$1: want one line with '$2', got: $(cat "$f")"
	fi
}

# ---- 1. programs missing ----------------------------------------------------
mkdir -p "$WORK/norestore" "$WORK/empty"
for p in iptables-legacy-save ip6tables-legacy-save iptables-nft-save ip6tables-nft-save nft; do
	real=$(command -v "$p") && ln -s "$real" "$WORK/norestore/$p"
done
L0=$(locks)
PATH=$WORK/norestore "$BIN" --netns "$N" --duration 2 >"$WORK/norestore.out" 2>"$WORK/norestore.err"
rc=$?
[ $rc -eq 1 ] || t_fail "norestore: exit $rc, want 1"
one_line norestore 'iptables-legacy-restore'
h_same_rules "norestore"
[ "$(locks)" = "$L0" ] || t_fail "norestore: a lock file was left"

PATH=$WORK/empty "$BIN" --netns "$N" --duration 2 >"$WORK/empty.out" 2>"$WORK/empty.err"
rc=$?
[ $rc -eq 1 ] || t_fail "empty PATH: exit $rc, want 1"
one_line empty 'iptables-legacy-save'
h_same_rules "empty PATH"

# ---- 2. iptables-legacy-restore failing half-way ---------------------------
# wrapper DIR FAILFROM FAILTO: fails calls FAILFROM..FAILTO, runs the real
# one otherwise; the calls are counted in DIR/calls.
REAL_RESTORE=$(command -v iptables-legacy-restore)
wrapper() {
	mkdir -p "$1"
	cat >"$1/iptables-legacy-restore" <<W
#!/bin/bash
n=\$(( \$(cat "$1/calls" 2>/dev/null || echo 0) + 1 ))
echo \$n >"$1/calls"
if [ \$n -ge $2 ] && [ \$n -le $3 ]; then
	echo "iptables-legacy-restore: injected failure (call \$n)" >&2
	exit 1
fi
exec "$REAL_RESTORE" "\$@"
W
	chmod +x "$1/iptables-legacy-restore"
}

wrapper "$WORK/fail2" 2 2
PATH=$WORK/fail2:$PATH h_start fail2 --netns "$N" --json && {
	scen app-to-remote
	h_wait_flows fail2
	kill -INT "$TPID"
	h_wait "$TPID" 10
	[ "$H_RC" = 0 ] || t_fail "fail2: exit $H_RC: $(cat "$WORK/fail2.err")"
	if grep -q 'removing the rules failed (.*injected failure.*); trying again' "$WORK/fail2.err" &&
		grep -q 'attempt 2 removed them' "$WORK/fail2.err"; then
		echo "ok: fail2: the failed removal was retried and worked (calls: $(cat "$WORK/fail2/calls"))"
	else
		t_fail "fail2: no retry notes: $(cat "$WORK/fail2.err")"
	fi
	[ "$(h_type2 "$WORK/fail2.out")" = "$H_TYPE2" ] || t_fail "fail2: no type-2 flow"
}
h_same_rules "fail2 (retried)"

wrapper "$WORK/failall" 2 1000
PATH=$WORK/failall:$PATH h_start failall --netns "$N" --json && {
	kill -INT "$TPID"
	h_wait "$TPID" 10
	[ "$H_RC" = 1 ] || t_fail "failall: exit $H_RC, want 1"
	if tail -n 1 "$WORK/failall.err" | grep -q "could not remove the [0-9]* rules of session .* still in the target: 'sidecar-trace --cleanup'"; then
		echo "ok: failall: exit 1: $(tail -n 1 "$WORK/failall.err" | cut -c1-160)..."
	else
		t_fail "failall: last line: $(tail -n 1 "$WORK/failall.err")"
	fi
	n=$(h_session_rules)
	[ "$n" -gt 0 ] && echo "ok: failall: $n rules still there, as it says" ||
		t_fail "failall: no rules left (then the message is wrong)"
	"$BIN" --netns "$N" --cleanup >"$WORK/cleanup.out" 2>"$WORK/cleanup.err"
	rc=$?
	[ $rc -eq 0 ] && grep -q "removed $n rules left behind by the dead session" "$WORK/cleanup.err" ||
		t_fail "failall: --cleanup: exit $rc: $(cat "$WORK/cleanup.err")"
}
h_same_rules "failall + --cleanup"

# ---- 3. disk full -----------------------------------------------------------
"$BIN" --netns "$N" --json >/dev/full 2>"$WORK/full.err" &
TPID=$!
H_PIDS+=("$TPID")
if tr_wait_tracing "$WORK/full.err" "$TPID"; then
	scen app-to-remote
	h_wait "$TPID" 10
	[ "$H_RC" = 1 ] || t_fail "full: exit $H_RC, want 1"
	grep -q 'writing the output failed: No space left on device (rules removed)' "$WORK/full.err" &&
		echo "ok: full: $(tail -n 1 "$WORK/full.err")" ||
		t_fail "full: message: $(cat "$WORK/full.err")"
else
	t_fail "full: did not start"
fi
h_same_rules "full (a flow)"
"$BIN" --netns "$N" --json --duration 1 >/dev/full 2>"$WORK/full2.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'No space left on device (rules removed)' "$WORK/full2.err" ||
	t_fail "full2: exit $rc: $(cat "$WORK/full2.err")"
h_same_rules "full (the summary only)"

# ---- 4. the namespace vanishes ---------------------------------------------
# gone NAME ARGS...: start, make the pod vanish, expect exit 1 within 5 s.
gone() {
	local name=$1 t0 t1
	shift
	h_start "$name" "$@" --json || return
	t0=$(date +%s%N)
	ip netns pids "$P-pod" | xargs -r kill -KILL 2>/dev/null
	ip netns del "$P-pod"
	h_wait "$TPID" 5
	t1=$(date +%s%N)
	if [ "$H_RC" = 1 ] && tail -n 1 "$WORK/$name.err" | grep -q "the target vanished while tracing: $GONE_RE.*rules removed"; then
		echo "ok: $name: exit 1 after $(((t1 - t0) / 1000000)) ms: $(tail -n 1 "$WORK/$name.err")"
	else
		t_fail "$name: exit $H_RC: $(tail -n 2 "$WORK/$name.err")"
	fi
}

GONE_RE="the network namespace $N was deleted"
gone netns --netns "$N"
"$LAB" down --prefix "$P" >/dev/null
"$LAB" up --rules "$SAMPLES/rules/$RULES" --backend "$BACKEND" --prefix "$P" >/dev/null ||
	{ t_fail "lab up again"; exit 1; }
GONE_RE="the pod default/productpage-v1-$P is gone"
gone pod --pod "productpage-v1-$P"

"$LAB" down --prefix "$P" >/dev/null || t_fail "lab down"
t_done "harden_faults"
