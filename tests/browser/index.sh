#!/usr/bin/env bash
# index.sh BINARY SRCDIR - the diagrams' index.html in a real browser:
# headless Chromium opens the page of a freshly drawn rule set and of
# every shipped samples/diagrams/ directory, from the directory itself
# (file://, nothing else reachable), and a script run after load checks
# that every diagram is an SVG drawn with a non-zero size, that every
# reference inside it resolves, and that each diagram's path is there as
# text.  A screenshot of each page is written to the scratch directory
# (ST_BROWSER_KEEP=DIR keeps them in DIR).  Skipped without Chromium.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
set -u
bin=$1
src=$2
t_scratch st-browser

chrome=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chrome" ] || t_skip "Chromium is not installed (Debian: apt-get install chromium)"

# Runs after the page's load event: the verdict goes into an attribute of
# <body>, which --dump-dom prints.
probe='window.addEventListener("load", function () {
	var out = [], bad = [];
	var sections = document.querySelectorAll("section");
	sections.forEach(function (sec) {
		var o = sec.querySelector("object");
		var name = o ? o.getAttribute("data") : "(none)";
		var code = sec.querySelector("code");
		var r = o ? o.getBoundingClientRect() : {width: 0, height: 0};
		var doc = o ? o.contentDocument : null;
		var svg = doc ? doc.documentElement : null;
		var box = svg && svg.getBBox ? svg.getBBox() : null;
		if (!code || code.textContent.indexOf(" -> ") < 0)
			bad.push(name + ": no path text");
		if (!(r.width > 0 && r.height > 0))
			bad.push(name + ": drawn " + r.width + "x" + r.height);
		if (!svg || svg.nodeName !== "svg") {
			bad.push(name + ": not an SVG document");
			return;
		}
		if (!(box && box.width > 0 && box.height > 0))
			bad.push(name + ": empty drawing");
		svg.querySelectorAll("*").forEach(function (el) {
			var h = el.getAttribute("href") ||
				el.getAttributeNS("http://www.w3.org/1999/xlink", "href");
			if (!h)
				return;
			if (h.charAt(0) !== "#")
				bad.push(name + ": refers outside: " + h);
			else if (!doc.getElementById(decodeURIComponent(h.slice(1))))
				bad.push(name + ": broken reference " + h);
		});
		out.push(name + " " + Math.round(r.width) + "x" + Math.round(r.height));
	});
	if (sections.length === 0)
		bad.push("no diagram");
	document.body.setAttribute("data-result",
		(bad.length ? "FAIL " + bad.length + " problems: " +
			bad.slice(0, 5).join("; ") : "PASS " + sections.length) +
		" | " + out.join(", "));
});'

# browse FILE FLAGS...: Chromium on FILE, bounded in time; stdout its output.
browse() {
	local file=$1
	shift
	timeout 120 "$chrome" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --user-data-dir="$T_TMP/profile" \
		--allow-file-access-from-files --virtual-time-budget=5000 \
		"$@" "file://$file" 2>>"$T_TMP/chromium.log"
}

# check DIR NAME: the index page of DIR.
check() {
	local dir=$1 name=$2 dom result shot
	t_count
	if [ ! -s "$dir/index.html" ]; then
		t_fail "$name: no index.html"
		return
	fi
	# The probe goes into a copy beside the page, so relative links hold.
	printf '%s\n' "$probe" >"$dir/probe.js"
	sed 's#</body>#<script src="probe.js"></script></body>#' \
		"$dir/index.html" >"$dir/probe.html"
	dom=$(browse "$dir/probe.html" --dump-dom)
	rm -f "$dir/probe.html" "$dir/probe.js"
	result=$(printf '%s' "$dom" | grep -o 'data-result="[^"]*"' | head -1)
	case $result in
	'data-result="PASS '*) t_ok "$name: ${result#data-result=}" ;;
	'') t_fail "$name: the page gave no result (Chromium: $(tail -3 "$T_TMP/chromium.log"))" ;;
	*) t_fail "$name: $result" ;;
	esac
	shot=$T_TMP/shots/$name.png
	mkdir -p "$T_TMP/shots"
	browse "$dir/index.html" --window-size=1600,2400 --screenshot="$shot" \
		>/dev/null
	t_count
	if [ "$(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		t_ok "$name: screenshot $(stat -c %s "$shot") bytes"
	else
		t_fail "$name: no screenshot"
	fi
}

rules=$src/samples/rules/istio-1.25_tproxy_dns_legacy.rules
if "$bin" --diagram all --rules "$rules" -o "$T_TMP/drawn" >/dev/null 2>"$T_TMP/err"; then
	check "$T_TMP/drawn" drawn-istio-1.25_tproxy_dns_legacy
else
	t_fail "--diagram all: $(cat "$T_TMP/err")"
fi
for d in "$src"/samples/diagrams/*/; do
	name=$(basename "$d")
	cp -r "$d" "$T_TMP/$name"
	check "$T_TMP/$name" "$name"
done
if [ -n "${ST_BROWSER_KEEP:-}" ]; then
	mkdir -p "$ST_BROWSER_KEEP"
	cp "$T_TMP"/shots/*.png "$ST_BROWSER_KEEP"/
fi
t_done
