#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# manifest.sh BINARY SRCDIR - the kubectl plugin and the image's scripts
# without a cluster or a lab: shellcheck-clean POSIX sh, the plugin's usage
# errors (exit 2, nothing run), and the krew manifest: its sha256 is the
# archive's that krew-archive makes, its caveats state the privileges.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
t_need shellcheck sha256sum gzip
plugin=$src/packaging/kubectl/kubectl-sidecar_trace

for f in "$plugin" "$src"/packaging/kubectl/krew-archive \
	"$src"/packaging/image/build "$src"/packaging/image/make-base; do
	t_count
	head -n 1 "$f" | grep -qx '#!/bin/sh' || t_fail "$f: not a POSIX sh script"
	shellcheck -s sh "$f" >"$T_TMP/sc" 2>&1 || t_fail "shellcheck $f: $(head -n 20 "$T_TMP/sc")"
done

# Usage errors: exit 2 with a hint, and kubectl never runs.
mkdir -p "$T_TMP/path"
printf '#!/bin/sh\necho "$*" >>"%s/kubectl.calls"\nexit 1\n' "$T_TMP" >"$T_TMP/path/kubectl"
chmod +x "$T_TMP/path/kubectl"
usage_case() {
	local name=$1 want=$2
	shift 2
	t_count
	PATH=$T_TMP/path:$PATH SIDECAR_TRACE_IMAGE='' "$plugin" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null
	local rc=$?
	[ $rc -eq 2 ] || t_fail "$name: exit $rc, want 2: $(cat "$T_TMP/err")"
	grep -q -- "$want" "$T_TMP/err" || t_fail "$name: no '$want' in: $(cat "$T_TMP/err")"
	grep -q "try 'kubectl sidecar-trace --help'" "$T_TMP/err" || t_fail "$name: no hint"
}
usage_case "no pod" "which pod" -n default
usage_case "no image" "no image" mypod -n default
usage_case "unknown option" "unknown option --frobnicate" mypod --frobnicate
usage_case "two pods" "one pod at a time" a b --image x
usage_case "--node with --target" "goes with the pod route" p --image x --node --target istio-proxy -n d
usage_case "absolute --write" "give a relative path" p --image x -n d --yes -- --write /tmp/c.pcap
usage_case "absolute -o" "give a relative path" p --image x -n d --yes -- -o/tmp/d
usage_case "no --yes" "give --yes" p --image x -n d -- --duration 5
[ ! -e "$T_TMP/kubectl.calls" ] || t_fail "kubectl ran on a usage error: $(cat "$T_TMP/kubectl.calls")"

# On a terminal it asks: "n" runs nothing, "y" goes on to kubectl debug.
if command -v script >/dev/null; then
	for answer in n y; do
		t_count
		rm -f "$T_TMP/kubectl.calls"
		printf '%s\n' "$answer" | PATH=$T_TMP/path:$PATH script -qec \
			"'$plugin' p --image x -n d -- --duration 5" /dev/null >"$T_TMP/tty" 2>&1
		grep -q 'go on? \[y/N\]' "$T_TMP/tty" || t_fail "answer $answer: no question: $(cat "$T_TMP/tty")"
		if [ "$answer" = n ]; then
			grep -q 'nothing done' "$T_TMP/tty" && [ ! -e "$T_TMP/kubectl.calls" ] ||
				t_fail "answer n: $(cat "$T_TMP/tty")"
		else
			grep -q '^debug p -n d --profile=netadmin --image=x ' "$T_TMP/kubectl.calls" 2>/dev/null ||
				t_fail "answer y: kubectl debug not run: $(cat "$T_TMP/tty")"
		fi
	done
fi
t_count
"$plugin" --help >"$T_TMP/help" 2>&1 || t_fail "--help: exit $?"
for o in --namespace --node --image --target --yes; do
	grep -q -- "$o" "$T_TMP/help" || t_fail "--help does not mention $o"
done

# The krew manifest.
m=$src/packaging/kubectl/plugin.yaml
t_count
sha=$("$src/packaging/kubectl/krew-archive" "$T_TMP/k.tar.gz")
grep -qx "    sha256: $sha" "$m" || t_fail "plugin.yaml's sha256 is not the archive's ($sha): run packaging/kubectl/krew-archive"
[ "$(tar -tzf "$T_TMP/k.tar.gz" | sort | tr '\n' ' ')" = "LICENSE kubectl-sidecar_trace " ] ||
	t_fail "the archive holds: $(tar -tzf "$T_TMP/k.tar.gz")"
for w in "kind: Plugin" "name: sidecar-trace" "bin: kubectl-sidecar_trace" \
	NET_ADMIN NET_RAW privileged /host "pods/ephemeralcontainers" --cleanup; do
	grep -q -- "$w" "$m" || t_fail "plugin.yaml does not say '$w'"
done
t_done
