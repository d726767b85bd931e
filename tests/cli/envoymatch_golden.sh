#!/usr/bin/env bash
# envoymatch_golden.sh BINARY SRCDIR - `--replay` of the captures under
# samples/envoymatch/in/, each with Envoy's access log beside it
# (FILE.envoy.log, as --write leaves it), against the goldens in
# samples/envoymatch/expected/ (text with the notes on stderr, and
# --json): the requests each flow carries and the access log's counts.
# Then --envoy-log naming the log, and the usage errors of the options.
# ST_REGEN=1 rewrites the goldens (review the diff before committing it).
# No root needed.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"

in=$src/samples/envoymatch/in
for cap in "$in"/*.pcap; do
	[ -e "$cap" ] || continue
	t_cli_replay_goldens "envoymatch/$(basename "$cap")" \
		"$src/samples/envoymatch/expected" --replay "$cap"
done

# The log given by name is read as the one beside the capture.
cap=$in/pooled.pcap
cp "$cap" "$cap.rules" "$cap.meta.json" "$T_TMP/"
cp "$cap.envoy.log" "$T_TMP/named.log"
if "$bin" --replay "$T_TMP/pooled.pcap" --envoy-log "$T_TMP/named.log" \
	>"$T_TMP/named.txt" 2>/dev/null &&
	cmp -s "$T_TMP/named.txt" "$T_TMP/pooled.pcap.txt"; then
	t_ok "--envoy-log PATH reads the log as FILE.envoy.log is read"
else
	t_fail "--envoy-log PATH: $(diff "$T_TMP/pooled.pcap.txt" "$T_TMP/named.txt" | head -5)"
fi
t_count

# Without a log, a flow has no requests and the summary no log line.
if "$bin" --replay "$T_TMP/pooled.pcap" >"$T_TMP/none.txt" 2>/dev/null &&
	! grep -q 'envoy:\|access log' "$T_TMP/none.txt"; then
	t_ok "no access log: no requests, no access-log counts"
else
	t_fail "no access log: $(grep 'envoy:\|access log' "$T_TMP/none.txt" | head -3)"
fi
t_count

# Usage errors (exit 2).
usage() {
	local want=$1
	shift
	"$bin" "$@" >/dev/null 2>"$T_TMP/usage.err"
	local rc=$?
	t_count
	if [ "$rc" -eq 2 ] && grep -q -- "$want" "$T_TMP/usage.err"; then
		t_ok "$* -> $want"
	else
		t_fail "$*: exit $rc: $(cat "$T_TMP/usage.err")"
	fi
}
usage "--envoy-log-wait goes with an access log" \
	--replay "$T_TMP/pooled.pcap" --envoy-log-wait 100
usage "--envoy-log auto follows a live pod's log" \
	--replay "$cap" --envoy-log auto
usage "is not a number of milliseconds" \
	--replay "$cap" --envoy-log-wait 0
usage "--envoy-log-wait goes with --envoy-log PATH" \
	--netns /nonexistent --envoy-log-wait 100
usage "it needs --pod NAME" --netns /nonexistent --envoy-log auto
usage "only apply when tracing a target" \
	--rules "$cap.rules" --explain --envoy-log x
t_done
