# shellcheck shell=bash disable=SC2034 # sourced: the harden_*.sh tests use these
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the harden_*.sh lab tests (sourced; not a test itself): a lab
# with its rules before, starting sidecar-trace in the
# background, and the checks every case ends with.

. "$(dirname "${BASH_SOURCE[0]}")/trace_common.sh"

H_PIDS=()

# h_flood_bin: $ST_FLOOD, else the newest build*/tests/st-flood.
h_flood_bin() {
	local b
	if [ -n "${ST_FLOOD:-}" ]; then
		echo "$ST_FLOOD"
		return
	fi
	b=$(ls -t "$HERE"/../../../build*/tests/st-flood 2>/dev/null | head -n 1)
	[ -x "$b" ] || t_skip "st-flood not built (set ST_FLOOD)"
	echo "$b"
}

h_cleanup() {
	local p
	for p in "${H_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	"$LAB" down --prefix "$P" >/dev/null 2>&1
}

# h_setup NAME [RULES [BACKEND]]: prerequisites, lab up, BEFORE.
h_setup() {
	NAME=$1
	RULES=${2:-istio-1.17_redirect_default_legacy.rules}
	BACKEND=${3:-legacy}
	t_require
	command -v "iptables-$BACKEND-save" >/dev/null 2>&1 || [ "$BACKEND" = nftables ] ||
		t_skip "iptables-$BACKEND-save not found"
	BIN=$(tr_binary)
	P=$(t_prefix)
	N=/var/run/netns/$P-pod
	t_scratch st-harden
	WORK=$T_TMP
	t_on_exit h_cleanup
	echo "== $NAME: lab up ($RULES, $BACKEND, prefix $P)"
	tr_lab_up --rules "$SAMPLES/rules/$RULES"
	[ -n "$BEFORE" ] || { echo "FAIL: no rules in the pod"; exit 1; }
}

# h_same_rules WHAT [EXPECTED]: the pod's rules equal EXPECTED (default
# BEFORE), and no rule of any session is left.
h_same_rules() {
	local what=$1 want=${2-$BEFORE} now
	now=$(tr_snapshot "$P" "$BACKEND")
	if [ "$now" != "$want" ]; then
		t_fail "$what: the rules differ from what they must be:"
		diff <(echo "$want") <(echo "$now") | head -n 20
		return 1
	fi
	echo "ok: $what: rules as they must be"
}

# h_start NAME ARGS...: sidecar-trace in the background until it traces;
# sets TPID.  stdout/stderr in $WORK/NAME.out / .err.
h_start() {
	local name=$1
	shift
	"$BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	TPID=$!
	H_PIDS+=("$TPID")
	if ! tr_wait_tracing "$WORK/$name.err" "$TPID"; then
		t_fail "$name: did not start tracing: $(head -n 3 "$WORK/$name.err")"
		return 1
	fi
}

# h_wait PID SECONDS: wait for it to end within SECONDS; its exit code in
# H_RC (-1 when it had to be killed).
h_wait() {
	local pid=$1 T_WAIT_STEP=0.02 # the exit is timed
	if ! wait_for "$2" tr_ended "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		H_RC=-1
		return 1
	fi
	wait "$pid"
	H_RC=$?
}

# h_wait_flows NAME [N]: wait (up to 20 s) until sidecar-trace NAME has
# printed N (default 1) flows of app-to-remote; the checks that follow say
# what is wrong if it never does.
h_wait_flows() {
	wait_for 20 tr_flow_to "$WORK/$1.out" 10.244.2.20:9080 "${2:-1}"
}

# h_session_rules: how many rules of any session are in the pod.
h_session_rules() {
	tr_snapshot "$P" "$BACKEND" | grep -c 'sidecar-trace:'
}

scen() {
	"$LAB" scenario "$1" --prefix "$P" >/dev/null 2>&1 || t_fail "scenario $1 failed"
}

# The nat hops of the type-2 flow of app-to-remote, as trace_stop.sh checks.
H_TYPE2='[1000,"OUTPUT:1 ISTIO_OUTPUT:9 ISTIO_REDIRECT:1",15001,1337,"OUTPUT:1 ISTIO_OUTPUT:4"]'
h_type2() {
	jq -c 'select(.type == 2 and .legs[0].dst == "10.244.2.20:9080") |
		[.legs[0].uid,
		 ([.legs[0].hops[] | select(.kind == "rule" and .table == "nat") |
		   "\(.chain):\(.rule)"] | join(" ")),
		 .legs[0].redirect_port, .legs[1].uid,
		 ([.legs[1].hops[] | select(.kind == "rule" and .table == "nat") |
		   "\(.chain):\(.rule)"] | join(" "))]' "$1" | head -n 1
}
