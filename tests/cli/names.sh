#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# names.sh BINARY SRCDIR - no shell anywhere, and names checked first.
#  - No shell: no system(), popen(), "sh -c" or exec*p() in tracer/ and
#    render/: every program runs through st_spawn() (posix_spawn, argv).
#  - Names: pod names (RFC 1123 subdomain) and namespaces (RFC 1123 label)
#    are checked before anything is looked up: a table of bad names, each
#    must give exit 2 and a message naming the option; network namespace
#    names that climb out of /var/run/netns and bad pids are refused too.
# Needs no root: validation happens before any lookup.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

# ---- no shell -----------------------------------------------------------------
hits=$(grep -nE '(^|[^_a-z])(system|popen|execlp|execvp|execvpe)[[:space:]]*\(|"/bin/sh"|"sh",[[:space:]]*"-c"|"-c",' \
	"$src"/tracer/*/*.c "$src"/tracer/*/*.h "$src"/render/*.c "$src"/render/*.h 2>/dev/null |
	grep -v '^[^:]*iptsave.c:.*"--set-counters"' | grep -vE ':[0-9]+:[[:space:]]*(/?\*|//)')
t_count
if [ -n "$hits" ]; then
	t_fail "[no shell]: found in tracer/ or render/:"
	echo "$hits"
fi
t_count
if ! grep -q 'posix_spawn' "$src/tracer/common/spawn.c"; then
	t_fail "[no shell]: spawn.c does not use posix_spawn"
fi

# ---- names ------------------------------------------------------------------
long254=$(printf 'a%.0s' $(seq 1 254))
long64=$(printf 'a%.0s' $(seq 1 64))
# chk EXIT MESSAGE ARGS...: the arguments give that exit status and a
# stderr line containing MESSAGE, and nothing on stdout.
chk() {
	local want=$1 msg=$2 got
	shift 2
	t_count
	"$bin" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
	got=$?
	if [ "$got" != "$want" ]; then
		t_fail "[$(printf '%q ' "$@" | cut -c1-60)]: exit $got, want $want; stderr: $(head -n 2 "$T_TMP/err")"
	elif ! grep -q -- "$msg" "$T_TMP/err"; then
		t_fail "[$(printf '%q ' "$@" | cut -c1-60)]: stderr lacks '$msg': $(head -n 2 "$T_TMP/err")"
	elif [ -s "$T_TMP/out" ]; then
		t_fail "[$(printf '%q ' "$@" | cut -c1-60)]: printed on stdout"
	fi
}

chk 2 --pod: --pod Productpage
chk 2 --pod: --pod prod_page
chk 2 --pod: --pod "prod page"
chk 2 --pod: --pod ../etc/passwd
chk 2 --pod: --pod a/b
chk 2 --pod: --pod=-leading-dash
chk 2 --pod: --pod trailing-dash-
chk 2 --pod: --pod a..b
chk 2 --pod: --pod .hidden
chk 2 --pod: --pod ""
chk 2 --pod: --pod "$long254"
chk 2 --pod: --pod 'pod$(id)'
chk 2 --pod: --pod 'pod;id'
chk 2 --pod: --pod 'pod`id`'
chk 2 --pod: --pod "$(printf 'a\nb')"
chk 2 --pod: --pod "$(printf 'caf\xc3\xa9')"
chk 2 --pod: --pod "$(printf 'a\tb')"
chk 2 --namespace: --pod ok -n Default
chk 2 --namespace: --pod ok -n a.b
chk 2 --namespace: --pod ok -n a_b
chk 2 --namespace: --pod ok --namespace=-a
chk 2 --namespace: --pod ok -n a-
chk 2 --namespace: --pod ok -n ""
chk 2 --namespace: --pod ok -n "$long64"
chk 2 --namespace: --pod ok --namespace ../kube-system
chk 2 "needs a path" --netns ""
chk 1 "invalid network namespace name" --netns ..
chk 2 --pid: --pid 0
chk 2 --pid: --pid -1
chk 2 --pid: --pid 12ab
chk 2 --pid: --pid 99999999999
chk 2 --group: --pod ok --group 65536
chk 2 --rcvbuf: --pod ok --rcvbuf 1
chk 2 --rcvbuf: --pod ok --rcvbuf 2G
chk 2 --max-flows: --pod ok --max-flows 0
t_done
