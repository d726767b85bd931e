#!/usr/bin/env bash
# plaincap_golden.sh BINARY SRCDIR - `--replay` of the plain tcpdump
# captures under samples/captures/plain/RULESET/ (tcpdump -i any in the
# lab pod, made by tests/lab/tests/make_plain_captures.sh) with --rules
# samples/rules/RULESET.* must equal the goldens in
# samples/captures/plain/RULESET/expected/ (text with its notes, --json,
# stderr).  Also: every per-type capture must classify as the type of its
# scenario (what the NFLOG traces of samples/captures/RULESET/ give).
# ST_REGEN=1 rewrites the goldens (review them by hand).  No root needed.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

declare -A want=([remote-to-app]=1 [app-to-remote]=2 [prom-scrape-15090]=3
	[app-to-self-vip]=4 [envoy-localhost]=5 [sidecar-to-istiod]=6)

for cap in "$src"/samples/captures/plain/*/*.pcap; do
	[ -e "$cap" ] || continue
	dir=$(dirname "$cap")
	set=$(basename "$dir")
	name=$(basename "$cap")
	rules=$(t_cli_sample_rules "$set")
	if [ -z "$rules" ]; then
		t_fail "$set/$name: no samples/rules/$set.*"
		continue
	fi
	t_cli_replay_goldens "$set/$name" "$dir/expected" --replay "$cap" --rules "$rules"
	# The scenario's own type must be what the capture gives.
	scen=${name%.pcap}
	t=${want[$scen]:-}
	if [ -n "$t" ]; then
		if grep -q "^\[$t " "$T_TMP/$name.txt"; then
			echo "ok: $set/$name: type $t"
		else
			t_fail "$set/$name: no type-$t flow: $(grep '^\[' "$T_TMP/$name.txt" | cut -c1-60)"
		fi
	fi
done
if [ "$T_N" -eq 0 ]; then
	echo "no captures under $src/samples/captures/plain"
	exit 1
fi
t_done
