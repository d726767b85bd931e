#!/usr/bin/env bash
# replay_golden.sh BINARY SRCDIR - `--replay` of every lab capture under
# samples/captures/RULESET/ (text, --json, and the notes on stderr) must
# equal its golden files in samples/captures/RULESET/expected/.
# Captures written by --write carry their rules beside them
# (FILE.rules...); TRACE captures (trace-*.pcap, taken with tcpdump) are
# replayed with --rules samples/rules/RULESET.rules (or .nftlist).
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# No root needed.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

for cap in "$src"/samples/captures/*/*.pcap "$src"/samples/captures/*/*.pcapng; do
	[ -e "$cap" ] || continue
	dir=$(dirname "$cap")
	set=$(basename "$dir")
	[ "$set" = synthetic ] && continue
	name=$(basename "$cap")
	args=(--replay "$cap")
	if [ ! -e "$cap.rules" ]; then
		rules=$(t_cli_sample_rules "$set")
		if [ -z "$rules" ]; then
			t_fail "$set/$name: no rules beside it and no samples/rules/$set.*"
			continue
		fi
		args+=(--rules "$rules")
	fi
	t_cli_replay_goldens "$set/$name" "$dir/expected" "${args[@]}"
done

# tshark decodes a --write capture's prefix, uid and payload.
cap=$src/samples/captures/istio-1.17_redirect_default_legacy/own-app-to-remote.pcap
if command -v tshark >/dev/null && [ -e "$cap" ]; then
	got=$(tshark -r "$cap" -T fields -e nflog.prefix -e nflog.uid -e ip.dst \
		-e tcp.dstport 2>/dev/null | grep -m1 $'\t1000\t10.244.2.20\t9080')
	if [ -n "$got" ] && [[ $got == st:* ]]; then
		echo "ok: tshark decodes a --write capture: $got"
	else
		t_fail "tshark does not decode prefix, uid and payload of $cap"
	fi
fi
if [ "$T_N" -eq 0 ] && [ "$T_FAILED" -eq 0 ]; then
	echo "no captures under $src/samples/captures"
	exit 1
fi
t_done
