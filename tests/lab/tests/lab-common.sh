# shellcheck shell=bash disable=SC2034 # sourced: LAB and SAMPLES are used by the tests
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the lab tests (sourced): prerequisites, prefixes and the
# "nothing left behind" checks; skipping, failing, cleanups and waiting
# come from tests/lib.sh.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../lib.sh
. "$HERE/../../lib.sh"
LAB=$(cd "$HERE/.." && pwd)/lab
SAMPLES=$(cd "$HERE/../../../samples" && pwd)
ST_LAB_RUN=${ST_LAB_RUN:-/run/st-lab}

# Root, network namespaces and the tools every lab needs, else exit 77.
t_require() {
	[ "$(id -u)" -eq 0 ] || t_skip "needs root"
	t_need ip setpriv jq ss timeout
	ip netns list >/dev/null 2>&1 || t_skip "ip netns is unavailable"
}

# Tools of one backend, else exit 77.
t_require_backend() {
	case $1 in
	legacy) t_need iptables-legacy-restore ip6tables-legacy-restore tcpdump tshark ;;
	nft) t_need iptables-nft-restore ip6tables-nft-restore xtables-monitor nft tcpdump tshark ;;
	nftables) t_need nft tcpdump tshark ;;
	esac
	command -v python3 >/dev/null || t_skip "python3 (the truth recorder) not found"
}

t_prefix() {
	echo "t$(tr -dc 'a-z0-9' </dev/urandom 2>/dev/null | head -c 5)"
}

# What the root namespace looks like, to prove the lab did not touch it.
# Read-only: legacy tables are only listed if they exist already.
t_root_snapshot() {
	{
		ip -o link show | awk -F': ' '{print $2}' | sort
		ip -o addr show | awk '{print $2, $3, $4}' | sort
		nft list ruleset 2>/dev/null
		iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
		ip6tables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
	} | md5sum | cut -d' ' -f1
}

# Processes that carry the lab's mark (ST_LAB_OWNER=<prefix>).
t_owned_pids() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		{ tr '\0' '\n' <"$f"; } 2>/dev/null | grep -x "ST_LAB_OWNER=$1" >/dev/null && echo "$pid"
	done
}

# Nothing of lab $1 may remain: namespaces, state, processes, and no link of
# its name in the root namespace. $2: what happened before (for messages).
t_check_gone() {
	local p=$1 why=$2 left
	left=$(ip netns list | awk '{print $1}' | grep "^$p-")
	[ -z "$left" ] || t_fail "$why: namespaces left: $(printf '%s ' $left)"
	[ ! -e "$ST_LAB_RUN/$p" ] || t_fail "$why: $ST_LAB_RUN/$p left"
	left=$(t_owned_pids "$p")
	[ -z "$left" ] || t_fail "$why: processes left: $(for x in $left; do tr '\0' ' ' <"/proc/$x/cmdline" 2>/dev/null; echo; done)"
	left=$(ip -o link show | grep -- "$p-")
	[ -z "$left" ] || t_fail "$why: links in the root namespace: $left"
}
