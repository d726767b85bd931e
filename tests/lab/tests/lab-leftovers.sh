#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lab-leftovers.sh - nothing of a lab may survive it: no namespace, no
# process, no state under /run/st-lab, no link in (and no change to) the
# root namespace; rules live only inside the removed namespaces. Checked
#   1. after a complete run (up, truth start, a scenario, truth stop, down),
#   2. after `lab down` while a recording is still running,
#   3. after `lab up` fails on a bogus rule file,
#   4. after `lab up` fails half-way (forced, once all processes run),
#   5. after `lab up` is killed with SIGTERM half-way (its trap cleans up),
#   6. after `lab up` is killed with SIGKILL half-way (no trap can run: a
#      later `lab down --prefix` must find everything),
# and `lab down` of a lab that does not exist succeeds (idempotent).
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

t_require
t_require_backend legacy
RULES=$SAMPLES/rules/istio-1.17_redirect_default_legacy.rules
PREFIXES=()
BOGUS=$(mktemp /tmp/st-lab-bogus.XXXXXX)
printf '*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j NO_SUCH_CHAIN\nCOMMIT\n' >"$BOGUS"

cleanup() {
	local p
	for p in "${PREFIXES[@]}"; do "$LAB" down --prefix "$p" >/dev/null 2>&1; done
	rm -f "$BOGUS"
}
t_on_exit cleanup

new_prefix() {
	P=$(t_prefix)
	PREFIXES+=("$P")
}

# Wait up to 30 s until the lab has its pod namespace and $1 processes.
wait_half_way() {
	wait_for 30 half_way "$1"
}
half_way() {
	ip netns list | grep "^$P-pod" >/dev/null &&
		[ "$(t_owned_pids "$P" | wc -l)" -ge "$1" ]
}

ROOT_BEFORE=$(t_root_snapshot)

echo "== 1. a complete run"
new_prefix
if "$LAB" up --rules "$RULES" --prefix "$P" >/dev/null; then
	"$LAB" truth start --prefix "$P" || t_fail "truth start"
	"$LAB" scenario app-to-remote --prefix "$P" >/dev/null || t_fail "scenario app-to-remote"
	"$LAB" truth stop --prefix "$P" | grep '"dst": *"10.244.2.20:9080"' >/dev/null ||
		t_fail "truth stop did not report the connection"
	"$LAB" down --prefix "$P" || t_fail "lab down exited non-zero"
	t_check_gone "$P" "after a complete run"
else
	t_fail "lab up"
fi

echo "== 2. down while recording"
new_prefix
if "$LAB" up --rules "$RULES" --prefix "$P" >/dev/null; then
	"$LAB" truth start --prefix "$P" || t_fail "truth start"
	"$LAB" down --prefix "$P" || t_fail "lab down exited non-zero"
	t_check_gone "$P" "after down during a recording"
else
	t_fail "lab up"
fi

echo "== 3. up with a bogus rule file"
new_prefix
if "$LAB" up --rules "$BOGUS" --backend legacy --prefix "$P" >/dev/null 2>&1; then
	t_fail "lab up accepted a bogus rule file"
fi
t_check_gone "$P" "after up failed on bogus rules"

echo "== 4. up failing after its processes started"
new_prefix
if ST_LAB_FAIL_AFTER=processes "$LAB" up --rules "$RULES" --prefix "$P" >/dev/null 2>&1; then
	t_fail "the forced failure did not fail"
fi
t_check_gone "$P" "after up failed half-way"

echo "== 5. up killed with SIGTERM half-way"
new_prefix
ST_LAB_PAUSE_AFTER=processes "$LAB" up --rules "$RULES" --prefix "$P" >/dev/null 2>&1 &
UP=$!
if wait_half_way 5; then
	kill -TERM "$UP"
	wait "$UP" && t_fail "lab up succeeded although killed"
	t_check_gone "$P" "after SIGTERM during up"
else
	t_fail "lab up did not get half-way"
	kill -TERM "$UP" 2>/dev/null
	wait "$UP"
fi

echo "== 6. up killed with SIGKILL half-way, then down"
new_prefix
ST_LAB_PAUSE_AFTER=processes "$LAB" up --rules "$RULES" --prefix "$P" >/dev/null 2>&1 &
UP=$!
if wait_half_way 5; then
	# The pause is a child of the script: it dies with the namespaces.
	kill -KILL "$UP"
	wait "$UP" 2>/dev/null
	[ -n "$(t_owned_pids "$P")" ] || t_fail "nothing was left to clean up (test is void)"
	"$LAB" down --prefix "$P" || t_fail "lab down after SIGKILL exited non-zero"
	t_check_gone "$P" "after SIGKILL during up and lab down"
else
	t_fail "lab up did not get half-way"
	kill -KILL "$UP" 2>/dev/null
	wait "$UP" 2>/dev/null
fi

echo "== 7. down is idempotent"
"$LAB" down --prefix "$P" || t_fail "a second lab down failed"
new_prefix
"$LAB" down --prefix "$P" || t_fail "lab down of a lab that never existed failed"

[ "$(t_root_snapshot)" = "$ROOT_BEFORE" ] || t_fail "the root namespace changed (links, addresses or rules)"
t_done "nothing left behind"
