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
set -u
export LC_ALL=C
bin=$1
src=$2
page=$src/man/sidecar-trace.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Options that must appear in an example once --help has them.  The later
# ones are not in the program yet (issues 5-7): when they land, the page
# needs an .It entry (the cross-check demands it) and an example.
#   --write FILE, --replay FILE        offline replay (issue 5)
#   -o/--output PATH, --diagram WHICH  diagrams, docs generation (issue 6)
#   --simulate SPEC, --check           rule evaluator (issue 7)
need_example="pod namespace netns pid rules explain list cleanup duration
	count json write replay output diagram simulate check"

fail=0
bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

if ! "$bin" --help >"$tmp/help" 2>"$tmp/err"; then
	bad "--help failed: $(cat "$tmp/err")"
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
	}' "$tmp/help" | sort >"$tmp/help.opts"
[ -s "$tmp/help.opts" ] || bad "no options parsed from --help"

# The page with mdoc escapes for ASCII text undone.
sed -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' "$page" | grep -v '^\.\\"' >"$tmp/page"

# Option entries: .It Fl lines in DESCRIPTION, with the current .Ss.
awk -v out="$tmp/bad.entries" '
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
	}' "$tmp/page" | sort >"$tmp/man.opts"
if [ -s "$tmp/bad.entries" ]; then
	while read -r l; do
		bad "option entry not of the form '.It Fl x , Fl -long Ar ARG': $l"
	done <"$tmp/bad.entries"
fi

# Both ways, by long name first (clearer), then the whole tuple.
cut -d'|' -f2 "$tmp/help.opts" | sort -u >"$tmp/help.long"
cut -d'|' -f2 "$tmp/man.opts" | sort -u >"$tmp/man.long"
for o in $(comm -23 "$tmp/help.long" "$tmp/man.long"); do
	bad "--$o is in --help but has no entry in the man page"
done
for o in $(comm -13 "$tmp/help.long" "$tmp/man.long"); do
	bad "the man page documents --$o, which --help does not have"
done
join -t'|' -j1 <(awk -F'|' '{ print $2 "|" $0 }' "$tmp/help.opts" | sort -t'|' -k1,1) \
	<(awk -F'|' '{ print $2 "|" $0 }' "$tmp/man.opts" | sort -t'|' -k1,1) |
	awk -F'|' '$2 != $6 || $4 != $8 || $5 != $9 {
		printf "--%s: --help says short \"%s\", argument \"%s\", section \"%s\"; the man page says \"%s\", \"%s\", \"%s\"\n",
			$1, $2, $4, $5, $6, $8, $9 }' >"$tmp/mismatch"
while read -r l; do
	bad "$l"
done <"$tmp/mismatch"
if [ "$(sort -u "$tmp/man.opts" | wc -l)" != "$(wc -l <"$tmp/man.opts")" ]; then
	bad "an option has two entries in the man page"
fi

# Known option words, for references and command lines.
declare -A known=()
while IFS='|' read -r s l _ _; do
	known["--$l"]=1
	[ "$s" != - ] && known["-$s"]=1
done <"$tmp/help.opts"

# Every "Fl WORD" in a macro line of the page.
awk '/^\./ { for (i = 1; i < NF; i++) if ($i == "Fl") print NR ": " $(i + 1) }' \
	"$tmp/page" >"$tmp/fl.refs"
# "Fl -pod" is --pod, "Fl p" is -p.
while read -r ln word; do
	opt="-$word"
	[ -n "${known[$opt]:-}" ] || bad "line ${ln%:}: 'Fl $word' names $opt, which --help does not have"
done <"$tmp/fl.refs"

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
	}' "$tmp/page" >"$tmp/cmd.refs"
while IFS='|' read -r ln _ opt; do
	[ -n "${known[$opt]:-}" ] || bad "line $ln: a sidecar-trace command line uses $opt, which --help does not have"
done <"$tmp/cmd.refs"
[ -s "$tmp/cmd.refs" ] || bad "no sidecar-trace command lines found in the page"

for o in $need_example; do
	[ -n "${known[--$o]:-}" ] || continue
	short=$(awk -F'|' -v l="$o" '$2 == l && $1 != "-" { print "-" $1 }' "$tmp/help.opts")
	if ! awk -F'|' -v a="--$o" -v b="${short:-none}" \
		'$2 == "EXAMPLES" && ($3 == a || $3 == b) { f = 1 } END { exit !f }' \
		"$tmp/cmd.refs"; then
		bad "EXAMPLES has no sidecar-trace command line with --$o"
	fi
done
later=""
for o in write replay output diagram simulate check; do
	[ -n "${known[--$o]:-}" ] || later="$later --$o"
done
[ -n "$later" ] && echo "note: not in --help yet (expected later):$later"

n=$(wc -l <"$tmp/help.opts")
echo "cross-check: $n options in --help, $(wc -l <"$tmp/man.opts") entries in the man page, $fail problems"

if ! command -v mandoc >/dev/null; then
	echo "mandoc is not installed: lint skipped"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
mandoc -Tlint -Wstyle "$page" >"$tmp/lint" 2>"$tmp/lint.err"
grep -v 'referenced manual not found' "$tmp/lint" >"$tmp/lint.bad"
if [ -s "$tmp/lint.bad" ]; then
	bad "mandoc -Tlint:"
	cat "$tmp/lint.bad"
fi
if grep -q 'referenced manual not found' "$tmp/lint"; then
	echo "note: manuals not installed on this machine:"
	grep 'referenced manual not found' "$tmp/lint" | sed 's/.*: Xr /  /'
fi
# mandoc itself failing (not only reporting) is a failure too.
grep -v 'outdated mandoc.db' "$tmp/lint.err" | grep . && bad "mandoc failed"
[ "$fail" -eq 0 ]
