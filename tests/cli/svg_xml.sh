#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# svg_xml.sh BINARY SRCDIR - the SVG diagrams are well-formed XML with their
# rule tooltips:
#   - every SVG under samples/diagrams/ and samples/graph/ parses with
#     python3's xml.etree; every edge has its <title>; every edge labelled
#     "N: RULE M" carries a tooltip (xlink:title) that is exactly rule M of
#     the chain it leaves, as the rule set's file states it (iptables-save
#     "-A CHAIN ..." or the .nftlist rule without its counter); every other
#     tooltip on an edge leaving a chain is one of that chain's rules;
#   - the same for the SVGs that `--diagram all --rules FILE -o DIR` writes
#     now, for 1.17 (legacy) and 1.28 (native nftables);
#   - each type of both rule sets renders as PNG (`-o x.png`): a PNG
#     signature and a size that is neither empty nor absurd. Skipped (said
#     so) when Graphviz has no PNG renderer (the cairo plugin).
#
# svg_xml.sh --check DIR [RULEFILE...]: only the SVG checks, on DIR/*.svg
# (used by the lab test diagram_live.sh); exit 0 when they pass.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_need python3

# check_svgs DIR RULEFILE... : the checks above on every DIR/*.svg.
check_svgs() {
	python3 - "$@" <<'PY'
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
XL = "{http://www.w3.org/1999/xlink}title"
d = sys.argv[1]
chains = {}  # (table, chain) -> [rule text, ...] in file order


def add(t, c, text):
    chains.setdefault((t, c), []).append(text)


for f in sys.argv[2:]:
    if f.endswith(".nftlist"):
        t = c = None
        for line in open(f):
            s = line.strip()
            m = re.match(r"table \S+ (\S+) \{", s)
            if m:
                t = m.group(1)
                continue
            m = re.match(r"chain (\S+) \{", s)
            if m:
                c = m.group(1)
                chains.setdefault((t, c), [])
                continue
            if s == "}" or not s or c is None or s.startswith("type "):
                if s == "}":
                    c = None
                continue
            add(t, c, re.sub(r"counter packets \d+ bytes \d+ ?", "",
                             s).strip())
    else:
        t = None
        for line in open(f):
            s = line.rstrip("\n")
            if s.startswith("*"):
                t = s[1:]
            elif s.startswith("-A "):
                add(t, s.split()[1], s)

import glob
import os

svgs = sorted(glob.glob(os.path.join(d, "*.svg")))
if not svgs:
    print("FAIL: %s: no SVG" % d)
    sys.exit(1)
bad = 0
for path in svgs:
    name = os.path.relpath(path, os.path.dirname(d))
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print("FAIL: %s is not XML: %s" % (name, e))
        bad += 1
        continue
    if root.tag != SVG + "svg":
        print("FAIL: %s: root element %s" % (name, root.tag))
        bad += 1
    edges = [g for g in root.iter(SVG + "g") if g.get("class") == "edge"]
    if not edges:
        print("FAIL: %s: no edge" % name)
        bad += 1
    for g in edges:
        title = g.find(SVG + "title")
        if title is None or "->" not in (title.text or ""):
            print("FAIL: %s: %s has no <title>" % (name, g.get("id")))
            bad += 1
            continue
        tail = title.text.split("->")[0].split(":")[0]
        label = " ".join("".join(x.itertext()) for x in g.iter(SVG + "text"))
        tips = {a.get(XL) for a in g.iter(SVG + "a") if a.get(XL)}
        key = tuple(tail.split("/", 1)) if "/" in tail else None
        known = chains.get(key) if key else None
        m = re.search(r"\bRULE (\d+)\b", label)
        if m:
            n = int(m.group(1))
            if len(tips) != 1:
                print("FAIL: %s: edge %s (%s) has tooltips %s" %
                      (name, title.text, label, sorted(tips)))
                bad += 1
            elif chains and known is None:
                print("FAIL: %s: edge %s leaves %s, not a chain of the "
                      "rules" % (name, title.text, tail))
                bad += 1
            elif known is not None and (n > len(known) or
                                        known[n - 1] not in tips):
                print("FAIL: %s: edge %s: RULE %d tooltip %s, the rules "
                      "say %r" % (name, title.text, n, sorted(tips),
                                  known[n - 1] if n <= len(known) else None))
                bad += 1
        elif known is not None:
            for tip in tips:
                if tip not in known:
                    print("FAIL: %s: edge %s: tooltip %r is not a rule of "
                          "%s" % (name, title.text, tip, tail))
                    bad += 1
print("%s: %d SVGs checked" % (d, len(svgs)))
sys.exit(1 if bad else 0)
PY
}

if [ "${1:-}" = --check ]; then
	shift
	check_svgs "$@"
	exit
fi

t_cli_args "$@"
rules=$src/samples/rules

# rule files of a samples/ directory name
rules_of() {
	local n=$1 f
	for f in "$rules/$n.rules" "$rules/$n.v4.rules" "$rules/$n.v6.rules" \
		"$rules/$n.nftlist"; do
		[ -r "$f" ] && echo "$f"
	done
}

for d in "$src"/samples/diagrams/*/ "$src"/samples/graph/*/; do
	[ -d "$d" ] || continue
	d=${d%/}
	mapfile -t rf < <(rules_of "$(basename "$d")")
	[ ${#rf[@]} -gt 0 ] || t_fail "$d: no rule file in samples/rules for it"
	check_svgs "$d" "${rf[@]}" || t_fail "$d"
	t_count
done
[ "$T_N" -ge 6 ] || t_fail "only $T_N diagram directories under samples/"

# Freshly rendered: --diagram all, SVG and PNG.
have_png=1
for s in "istio-1.17_redirect_default_legacy|.rules|.rules" \
	"istio-1.28plus_native-nftables_redirect_default|.nft.json|.nftlist"; do
	IFS='|' read -r name ext text <<<"$s"
	out=$T_TMP/$name
	if ! "$bin" --diagram all --rules "$rules/$name$ext" -o "$out" \
		>/dev/null 2>"$T_TMP/err"; then
		t_fail "--diagram all $name: $(cat "$T_TMP/err")"
		continue
	fi
	[ "$(ls "$out"/*.svg 2>/dev/null | wc -l)" = 6 ] ||
		t_fail "--diagram all $name: not six SVGs: $(ls "$out")"
	check_svgs "$out" "$rules/$name$text" || t_fail "--diagram all $name"
	[ $have_png = 1 ] || continue
	mkdir -p "$T_TMP/png"
	for t in 1 2 3 4 5 6; do
		png=$T_TMP/png/${name%%_*}-type-$t.png
		if ! "$bin" --diagram $t --rules "$rules/$name$ext" -o "$png" \
			>/dev/null 2>"$T_TMP/err"; then
			if grep -qiE 'png|format|plugin|renderer' "$T_TMP/err"; then
				echo "SKIP (PNG): no PNG renderer: $(cat "$T_TMP/err")"
				have_png=0
				break
			fi
			t_fail "--diagram $t $name -o x.png: $(cat "$T_TMP/err")"
			continue
		fi
		# signature, then the IHDR width and height
		read -r sig w h < <(python3 - "$png" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(24)
ok = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
w, h = struct.unpack(">II", b[16:24]) if ok else (0, 0)
print(int(ok), w, h)
PY
)
		if [ "$sig" != 1 ]; then
			t_fail "$png: not a PNG"
		elif [ "$w" -lt 400 ] || [ "$h" -lt 200 ] || [ "$w" -gt 4000 ] ||
			[ "$h" -gt 4000 ]; then
			t_fail "$png: ${w}x$h pixels"
		fi
	done
done
[ -n "${ST_KEEP_PNG:-}" ] && [ -d "$T_TMP/png" ] && cp -r "$T_TMP/png" "$ST_KEEP_PNG"

t_done svg_xml
