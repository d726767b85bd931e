#!/usr/bin/env bash
# man_help.sh BINARY SRCDIR - `sidecar-trace --help` and man/sidecar-trace.1
# document the same options, and the page lints clean with mandoc.
#
# Checked, from the page's mdoc source:
#   - the option entries (".It Fl x , Fl -long Ar ARG" in DESCRIPTION, under
#     the .Ss named like the option's --help section) equal --help's options:
#     same short letter, long name, argument name and section, both ways;
#   - every "Fl" anywhere in the page (SYNOPSIS, prose) names a real option;
#   - every sidecar-trace command line in the page uses only real options;
#   - each option of $need_example that --help has is used in EXAMPLES.
# mandoc -Tlint must report nothing but "referenced manual not found" (that
# one depends on which other manuals this machine has installed).
# Exit 77 only when mandoc is missing and the cross-check passed.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
export LC_ALL=C
page=$src/man/sidecar-trace.1

# Options that must appear in an example once --help has them (an option
# --help has also needs an .It entry: the cross-check demands it).
need_example="pod namespace netns pid rules explain list cleanup duration
	count json write replay output diagram simulate check"

if ! "$bin" --help >"$T_TMP/help" 2>"$T_TMP/err"; then
	t_fail "--help failed: $(cat "$T_TMP/err")"
	exit 1
fi

# --help: "Section (...):" headers, then "  -x, --long ARG   text" lines;
# the option table ends at "Examples:".
awk '
	/^Examples:/ { exit }
	/^[A-Z].*:$/ { sec = $0; sub(/:$/, "", sec); sub(/ \(.*/, "", sec); next }
	/^  (-[A-Za-z0-9], |    )--[a-z0-9-]+/ {
		line = $0; sub(/^ +/, "", line)
		short = "-"
		if (line ~ /^-[A-Za-z0-9], /) { short = substr(line, 2, 1); line = substr(line, 5) }
		n = split(line, w, " ")
		long = substr(w[1], 3); arg = "-"
		if (n >= 2 && w[2] ~ /^[A-Z][A-Z0-9_|.]*$/) arg = w[2]
		print short "|" long "|" arg "|" sec
	}' "$T_TMP/help" | sort >"$T_TMP/help.opts"
[ -s "$T_TMP/help.opts" ] || t_fail "no options parsed from --help"

# The page with mdoc escapes for ASCII text undone.
sed -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' "$page" | grep -v '^\.\\"' >"$T_TMP/page"

# Option entries: .It Fl lines in DESCRIPTION, with the current .Ss.
awk -v out="$T_TMP/bad.entries" '
	/^\.Sh / { insec = ($0 == ".Sh DESCRIPTION"); next }
	!insec { next }
	/^\.Ss / { sec = substr($0, 5); next }
	/^\.It Fl / {
		if (match($0, /^\.It Fl [A-Za-z0-9] , Fl -[a-z0-9-]+( Ar [A-Z][A-Z0-9_|.]*)?$/)) {
			n = split($0, w, " ")
			short = w[3]; long = substr(w[6], 2)
			arg = (n >= 8) ? w[8] : "-"
		} else if (match($0, /^\.It Fl -[a-z0-9-]+( Ar [A-Z][A-Z0-9_|.]*)?$/)) {
			n = split($0, w, " ")
			short = "-"; long = substr(w[3], 2)
			arg = (n >= 5) ? w[5] : "-"
		} else {
			print NR ": " $0 >out
			next
		}
		print short "|" long "|" arg "|" sec
	}' "$T_TMP/page" | sort >"$T_TMP/man.opts"
if [ -s "$T_TMP/bad.entries" ]; then
	while read -r l; do
		t_fail "option entry not of the form '.It Fl x , Fl -long Ar ARG': $l"
	done <"$T_TMP/bad.entries"
fi

# Both ways, by long name first (clearer), then the whole tuple.
cut -d'|' -f2 "$T_TMP/help.opts" | sort -u >"$T_TMP/help.long"
cut -d'|' -f2 "$T_TMP/man.opts" | sort -u >"$T_TMP/man.long"
for o in $(comm -23 "$T_TMP/help.long" "$T_TMP/man.long"); do
	t_fail "--$o is in --help but has no entry in the man page"
done
for o in $(comm -13 "$T_TMP/help.long" "$T_TMP/man.long"); do
	t_fail "the man page documents --$o, which --help does not have"
done
join -t'|' -j1 <(awk -F'|' '{ print $2 "|" $0 }' "$T_TMP/help.opts" | sort -t'|' -k1,1) \
	<(awk -F'|' '{ print $2 "|" $0 }' "$T_TMP/man.opts" | sort -t'|' -k1,1) |
	awk -F'|' '$2 != $6 || $4 != $8 || $5 != $9 {
		printf "--%s: --help says short \"%s\", argument \"%s\", section \"%s\"; the man page says \"%s\", \"%s\", \"%s\"\n",
			$1, $2, $4, $5, $6, $8, $9 }' >"$T_TMP/mismatch"
while read -r l; do
	t_fail "$l"
done <"$T_TMP/mismatch"
if [ "$(sort -u "$T_TMP/man.opts" | wc -l)" != "$(wc -l <"$T_TMP/man.opts")" ]; then
	t_fail "an option has two entries in the man page"
fi

# Known option words, for references and command lines.
declare -A known=()
while IFS='|' read -r s l _ _; do
	known["--$l"]=1
	[ "$s" != - ] && known["-$s"]=1
done <"$T_TMP/help.opts"

# Every "Fl WORD" in a macro line of the page.
awk '/^\./ { for (i = 1; i < NF; i++) if ($i == "Fl") print NR ": " $(i + 1) }' \
	"$T_TMP/page" >"$T_TMP/fl.refs"
# "Fl -pod" is --pod, "Fl p" is -p.
while read -r ln word; do
	opt="-$word"
	[ -n "${known[$opt]:-}" ] || t_fail "line ${ln%:}: 'Fl $word' names $opt, which --help does not have"
done <"$T_TMP/fl.refs"

# Every command line that runs sidecar-trace (examples, prose literals):
# the dash words after the program name.  Records "line section option".
awk '
	/^\.Sh / { sec = substr($0, 5) }
	{
		n = split($0, w, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			if (w[i] != "sidecar-trace" && w[i] !~ /\/sidecar-trace$/) continue
			for (j = i + 1; j <= n; j++) {
				if (w[j] !~ /^-[A-Za-z0-9-]/) continue
				o = w[j]; sub(/=.*/, "", o)
				if (o ~ /^--/) print NR "|" sec "|" o
				else for (k = 2; k <= length(o); k++) print NR "|" sec "|-" substr(o, k, 1)
			}
		}
	}' "$T_TMP/page" >"$T_TMP/cmd.refs"
while IFS='|' read -r ln _ opt; do
	[ -n "${known[$opt]:-}" ] || t_fail "line $ln: a sidecar-trace command line uses $opt, which --help does not have"
done <"$T_TMP/cmd.refs"
[ -s "$T_TMP/cmd.refs" ] || t_fail "no sidecar-trace command lines found in the page"

for o in $need_example; do
	[ -n "${known[--$o]:-}" ] || continue
	short=$(awk -F'|' -v l="$o" '$2 == l && $1 != "-" { print "-" $1 }' "$T_TMP/help.opts")
	if ! awk -F'|' -v a="--$o" -v b="${short:-none}" \
		'$2 == "EXAMPLES" && ($3 == a || $3 == b) { f = 1 } END { exit !f }' \
		"$T_TMP/cmd.refs"; then
		t_fail "EXAMPLES has no sidecar-trace command line with --$o"
	fi
done
later=""
for o in write replay output diagram simulate check; do
	[ -n "${known[--$o]:-}" ] || later="$later --$o"
done
[ -n "$later" ] && echo "note: not in --help yet (expected later):$later"

nopts=$(wc -l <"$T_TMP/help.opts")
echo "cross-check: $nopts options in --help, $(wc -l <"$T_TMP/man.opts") entries in the man page, $T_FAILED problems"

if ! command -v mandoc >/dev/null; then
	[ "$T_FAILED" -eq 0 ] && t_skip "mandoc is not installed: lint skipped"
	exit 1
fi
mandoc -Tlint -Wstyle "$page" >"$T_TMP/lint" 2>"$T_TMP/lint.err"
grep -v 'referenced manual not found' "$T_TMP/lint" >"$T_TMP/lint.bad"
if [ -s "$T_TMP/lint.bad" ]; then
	t_fail "mandoc -Tlint:"
	cat "$T_TMP/lint.bad"
fi
if grep -q 'referenced manual not found' "$T_TMP/lint"; then
	echo "note: manuals not installed on this machine:"
	grep 'referenced manual not found' "$T_TMP/lint" | sed 's/.*: Xr /  /'
fi
# mandoc itself failing (not only reporting) is a failure too.
grep -v 'outdated mandoc.db' "$T_TMP/lint.err" | grep . && t_fail "mandoc failed"
t_done man_help
