#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# image.sh BUILD_DIR - the OCI image of packaging/image, built here with
# podman from Debian's packages, traces the lab pod as `podman run
# --network ns:... --cap-add NET_ADMIN --cap-add NET_RAW IMAGE` with no
# other argument than --json (it traces the namespace it runs in):
#   - the image holds the project's .deb, runs as root, its entrypoint is
#     sidecar-trace, and it installs none of the package's Suggests;
#   - the container prints the flows the host binary prints for the same
#     scenarios, with the kernel's paths, and the pod's rules are identical
#     before and after (it removes its rules when podman stops it with
#     SIGINT); -o diagrams land in the mounted working directory.
#
# The base is Debian 12 made by packaging/image/make-base (mmdebstrap and
# podman import, about a minute): kept as localhost/sidecar-trace-base:
# bookworm and made again when a week old.  ST_IMAGE_BASE=IMAGE uses
# another one (e.g. debian:12-slim where a registry is reachable).
# Containers start here only with runc, cgroupfs and rlimits podman need
# not raise (crun refuses the hybrid cgroup layout).
# Exit 0 pass, 1 fail, 77 when the machine cannot run the lab or podman.

set -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/routes.sh"

BUILD=${1:?usage: image.sh BUILD_DIR}
SRC=$(cd "$HERE/../../.." && pwd)
t_need podman mmdebstrap cpack
PM=(podman --runtime runc --cgroup-manager=cgroupfs)
RUN=(run --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
export PODMAN="${PM[*]}" # for packaging/image/{build,make-base}
"${PM[@]}" info >/dev/null 2>&1 || t_skip "podman cannot run here: $("${PM[@]}" info 2>&1 | tail -n 1)"

rt_lab_up

base=${ST_IMAGE_BASE:-localhost/sidecar-trace-base:bookworm}
if [ -z "${ST_IMAGE_BASE:-}" ]; then
	made=$("${PM[@]}" image inspect --format '{{.Created.Unix}}' "$base" 2>/dev/null)
	if [ -z "$made" ] || [ $(($(date +%s) - made)) -gt $((7 * 86400)) ]; then
		echo "== making the base $base (mmdebstrap bookworm, podman import)"
		"$SRC/packaging/image/make-base" "$base" >"$RT_WORK/base.log" 2>&1 ||
			t_skip "cannot make a Debian 12 base here (mmdebstrap needs an apt mirror): $(tail -n 3 "$RT_WORK/base.log")"
	fi
fi
"${PM[@]}" "${RUN[@]}" --rm "$base" true >"$RT_WORK/probe.log" 2>&1 ||
	t_skip "podman cannot start a container here: $(tail -n 2 "$RT_WORK/probe.log")"

IMG=localhost/sidecar-trace-test:$P
echo "== building $IMG on $base"
if ! BASE=$base "$SRC/packaging/image/build" "$BUILD" "$IMG" >"$RT_WORK/build.log" 2>&1; then
	t_fail "the image does not build: $(tail -n 20 "$RT_WORK/build.log")"
	t_done image
fi
t_on_exit '"${PM[@]}" rmi -f "$IMG" >/dev/null 2>&1'

# What the image is.
cfg=$("${PM[@]}" image inspect --format '{{.Config.User}}|{{json .Config.Entrypoint}}' "$IMG")
[ "$cfg" = 'root|["sidecar-trace"]' ] && t_ok "runs as root, entrypoint sidecar-trace" ||
	t_fail "user and entrypoint: $cfg"
want=$("$(tr_binary)" --version)
got=$("${PM[@]}" "${RUN[@]}" --rm "$IMG" --version 2>&1)
[ "$got" = "$want" ] && t_ok "the image's program: $got" || t_fail "--version in the image: '$got', want '$want'"
pkgs=$("${PM[@]}" "${RUN[@]}" --rm --entrypoint dpkg-query "$IMG" -W -f '${Package} ${Status}\n' 2>&1)
grep -q '^sidecar-trace install ok installed' <<<"$pkgs" || t_fail "sidecar-trace is not installed in the image"
for p in tcpdump graphviz bash-completion; do
	grep -q "^$p install ok installed" <<<"$pkgs" && t_fail "the image holds $p, a Suggests"
done
t_count

rt_host_reference

# The container in the pod's network namespace, with the capabilities of
# `kubectl debug --profile=netadmin`; its working directory mounted.
dir=$RT_WORK/image
mkdir -p "$dir/out"
name=st-image-$P
t_on_exit '"${PM[@]}" rm -f "$name" >/dev/null 2>&1'
"${PM[@]}" "${RUN[@]}" --rm --name "$name" --network "ns:/var/run/netns/$P-pod" \
	--cap-add NET_ADMIN --cap-add NET_RAW -v "$dir/out:/work" "$IMG" --json -o diagrams \
	>"$dir/flows.jsonl" 2>"$dir/err" &
cpid=$!
if tr_wait_tracing "$dir/err" "$cpid"; then
	head -n 1 "$dir/err"
	rt_drive "$dir/flows.jsonl"
	"${PM[@]}" kill --signal INT "$name" >/dev/null
	wait_for 60 tr_ended "$cpid" || t_fail "the container still runs 60 s after SIGINT"
	wait "$cpid"
	rc=$?
	[ $rc -eq 0 ] && t_ok "image: stopped by SIGINT, exit 0" ||
		t_fail "image: exit $rc: $(tail -n 5 "$dir/err")"
	grep -q 'rules removed, the rules are as before' "$dir/err" ||
		t_fail "image: no 'rules removed' line: $(tail -n 3 "$dir/err")"
	rt_check image "$dir/flows.jsonl"
	[ -s "$dir/out/diagrams/index.html" ] && t_ok "image: -o diagrams in the mounted directory" ||
		t_fail "image: no diagrams/index.html in the mounted directory"
else
	t_fail "the container did not trace: $(cat "$dir/err")"
	"${PM[@]}" kill --signal INT "$name" >/dev/null 2>&1
	wait "$cpid"
fi
t_done image
