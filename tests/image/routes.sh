# shellcheck shell=bash disable=SC2034 # sourced: RT_* are the tests'
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared by the tests of the ways onto a cluster (sourced by
# tests/image/image.sh and tests/plugin/plugin.sh): one lab pod with the
# Istio 1.17 rules, every scenario of its expected paths while a trace
# runs, and the comparison of what a route printed with what the host
# binary prints for the same scenarios.
#
#   rt_lab_up                  the lab (prefix $P), $RT_BEFORE: its rules
#   rt_host_reference          the host binary traces the scenarios: $RT_WORK/host.sigs
#   rt_drive FLOWS             the scenarios while FLOWS (JSON Lines) fills
#   rt_check ROUTE FLOWS       FLOWS hold the expected paths and the same
#                              flows as the host run; the rules are as before

. "$(dirname "${BASH_SOURCE[0]}")/../lab/tests/trace_common.sh"

RT_SET=istio-1.17_redirect_default_legacy
RT_EXP=$HERE/../expected/$RT_SET.paths
RT_BACKEND=legacy
RT_BEFORE=
RT_WORK=

# rt_lab_up: scratch directory, lab up (down at exit), the rules before.
rt_lab_up() {
	t_require
	t_require_backend "$RT_BACKEND"
	P=$(t_prefix)
	t_scratch st-route
	RT_WORK=$T_TMP
	t_on_exit '"$LAB" down --prefix "$P" >/dev/null 2>&1'
	echo "== lab up ($RT_SET, prefix $P)"
	"$LAB" up --rules "$SAMPLES/rules/$RT_SET.rules" --prefix "$P" >/dev/null
	local rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { echo "FAIL: lab up exited $rc"; exit 1; }
	RT_BEFORE=$(tr_snapshot "$P" "$RT_BACKEND")
	tr_chain_sizes "$P" "$RT_BACKEND" >"$RT_WORK/sizes"
}

# rt_legs_as_expected FLOWS: every expected connection is in FLOWS with
# its path (compare-paths against the kernel's ground truth).
rt_legs_as_expected() {
	tr_legs "$1" "$RT_WORK/sizes" >"$1.legs" 2>/dev/null &&
		"$HERE/compare-paths" "$RT_EXP" "$1.legs" --rules-dir "$SAMPLES/rules" >"$1.cmp" 2>&1
}

# rt_drive FLOWS: once the trace demonstrably collects, every scenario of
# the expected file, then wait until every expected path is printed.
rt_drive() {
	local s args
	tr_wait_collecting "$P" "$1" || t_fail "no flow of app-to-remote printed"
	for s in $(awk '!/^[ \t]*(#|@|$)/ && !seen[$1]++ { print $1 }' "$RT_EXP"); do
		args=("${s%/6}" --prefix "$P")
		[[ $s == */6 ]] && args+=(--ipv6)
		"$LAB" scenario "${args[@]}" >/dev/null 2>&1 || t_fail "scenario $s exited $?"
	done
	T_WAIT_STEP=1 wait_for 60 rt_legs_as_expected "$1"
}

# rt_sigs FLOWS: each flow as "type class path" (no addresses or ports),
# sorted, once each.
rt_sigs() {
	jq -r 'select(.type != null) | "\(.type) \(.class) \(.path)"' "$1" | sort -u
}

# rt_host_reference: the host binary traces the lab pod through the same
# scenarios; its flows are what every route must print.
rt_host_reference() {
	local bin pid rc
	bin=$(tr_binary)
	"$bin" --netns "/var/run/netns/$P-pod" --json >"$RT_WORK/host.jsonl" 2>"$RT_WORK/host.err" &
	pid=$!
	tr_wait_tracing "$RT_WORK/host.err" "$pid" ||
		{ t_fail "the host binary did not start: $(cat "$RT_WORK/host.err")"; return; }
	rt_drive "$RT_WORK/host.jsonl" || t_fail "host: paths differ: $(tail -n 5 "$RT_WORK/host.jsonl.cmp")"
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || t_fail "host: sidecar-trace exited $rc: $(tail -n 3 "$RT_WORK/host.err")"
	rt_sigs "$RT_WORK/host.jsonl" >"$RT_WORK/host.sigs"
	echo "host binary: $(grep -c '"type"' "$RT_WORK/host.jsonl") flows, $(wc -l <"$RT_WORK/host.sigs") kinds"
}

# rt_check ROUTE FLOWS: what ROUTE printed is what the host binary printed
# (the same kinds of flows, each with the kernel's path), nothing was
# lost, and the pod's rules are as before.
rt_check() {
	local route=$1 flows=$2 after
	if rt_legs_as_expected "$flows"; then
		t_ok "$route: every expected path, hop for hop"
	else
		t_fail "$route: paths differ from the kernel's: $(tail -n 5 "$flows.cmp")"
	fi
	rt_sigs "$flows" >"$flows.sigs"
	if diff -u "$RT_WORK/host.sigs" "$flows.sigs" >"$flows.sigs.diff"; then
		t_ok "$route: the same $(wc -l <"$flows.sigs") kinds of flows (type, class, path) as the host binary"
	else
		t_fail "$route: flows differ from the host binary's: $(head -n 20 "$flows.sigs.diff")"
	fi
	tail -n 1 "$flows" | jq -e '.summary.lost == 0' >/dev/null ||
		t_fail "$route: records lost or no summary: $(tail -n 1 "$flows")"
	after=$(tr_snapshot "$P" "$RT_BACKEND")
	if [ "$after" = "$RT_BEFORE" ]; then
		t_ok "$route: the pod's rules are identical before and after"
	else
		t_fail "$route: the rules differ after the trace: $(diff <(echo "$RT_BEFORE") <(echo "$after") | head -n 10)"
	fi
}
