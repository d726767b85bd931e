#!/usr/bin/env bash
# install.sh BINARY SRCDIR - `cmake --install` into a DESTDIR, `cpack -G DEB`,
# and (CI=true or ST_TEST_INSTALL=1, as root) `apt-get install ./the.deb`,
# the installed program run, `apt-get remove`.
#
# The build directory is BINARY's.  When its CMakeLists does not include
# packaging/install.cmake and packaging/cpack.cmake yet (no CPackConfig.cmake
# there), a scratch build under $TMPDIR gets them through
# CMAKE_PROJECT_INCLUDE and deferred include() calls.
# The apt part changes the machine's packages: it only runs when asked.
# Exit 77: no dpkg-deb/dpkg-shlibdeps/cpack, or the apt part asked for
# without root or apt-get.
set -u
export LC_ALL=C
bin=$1
src=$2
build=$(cd "$(dirname "$bin")" && pwd)
tmp=$(mktemp -d)
pkg=sidecar-trace
sample=istio-1.17_redirect_default_legacy.rules
installed_here=0
cleanup() {
	if [ "$installed_here" = 1 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

for p in cmake cpack dpkg-deb dpkg-shlibdeps; do
	if ! command -v "$p" >/dev/null; then
		echo "$p is not installed (dpkg-dev gives dpkg-shlibdeps)"
		exit 77
	fi
done
want_apt=0
if [ "${CI:-}" = true ] || [ "${ST_TEST_INSTALL:-0}" = 1 ]; then
	want_apt=1
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		echo "the apt part needs root and apt-get"
		exit 77
	fi
fi

fail=0
bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

if [ ! -f "$build/CPackConfig.cmake" ]; then
	echo "note: $build has no CPack configuration (the include() lines are" \
		"not in CMakeLists.txt yet): using a scratch build"
	cat >"$tmp/preload.cmake" <<'EOF'
cmake_language(DEFER CALL include "${CMAKE_SOURCE_DIR}/packaging/install.cmake")
cmake_language(DEFER CALL include "${CMAKE_SOURCE_DIR}/packaging/cpack.cmake")
EOF
	build=$tmp/build
	# Only what is installed is built (cpack builds "preinstall", which
	# would otherwise build every test too).
	if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_PROJECT_INCLUDE="$tmp/preload.cmake" \
		-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$tmp/log" 2>&1 ||
		! cmake --build "$build" -j"$(nproc)" --target sidecar-trace st-man \
			>>"$tmp/log" 2>&1; then
		cat "$tmp/log"
		bad "the scratch build failed"
		exit 1
	fi
fi

# 1. DESTDIR install: exactly these files (plus the samples).
dest=$tmp/dest
if ! DESTDIR=$dest cmake --install "$build" --prefix /usr >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	bad "cmake --install failed"
	exit 1
fi
expect="usr/bin/sidecar-trace
usr/share/bash-completion/completions/sidecar-trace
usr/share/doc/sidecar-trace/README.md
usr/share/doc/sidecar-trace/copyright
usr/share/man/man1/sidecar-trace.1.gz"
got=$(cd "$dest" && find . -type f ! -path './usr/share/sidecar-trace/samples/*' |
	sed 's|^\./||' | sort)
[ "$got" = "$expect" ] || bad "DESTDIR files:"$'\n'"$got"$'\n'"want:"$'\n'"$expect"
[ -x "$dest/usr/bin/sidecar-trace" ] || bad "the program is not executable"
for f in "$src"/samples/rules/*; do
	cmp -s "$f" "$dest/usr/share/sidecar-trace/samples/$(basename "$f")" ||
		bad "sample $(basename "$f") not installed"
done
if ! gzip -dc "$dest/usr/share/man/man1/sidecar-trace.1.gz" | cmp -s - "$src/man/sidecar-trace.1"; then
	bad "the installed man page is not man/sidecar-trace.1"
fi
cmp -s "$dest/usr/share/bash-completion/completions/sidecar-trace" \
	"$src/completion/sidecar-trace.bash" || bad "the completion is not completion/sidecar-trace.bash"
# The DESTDIR program runs, and its completion completes its options.
"$dest/usr/bin/sidecar-trace" --version | grep -q '^sidecar-trace [0-9]' ||
	bad "the DESTDIR program does not print its version"
comp=$(bash -c '
	source "$1"
	COMP_WORDS=("$2" --ru); COMP_CWORD=1; COMPREPLY=()
	_sidecar_trace; echo "${COMPREPLY[*]}"' _ \
	"$dest/usr/share/bash-completion/completions/sidecar-trace" \
	"$dest/usr/bin/sidecar-trace")
[ "$comp" = "--rules" ] || bad "completing '--ru' gave '$comp', want '--rules'"

# 2. The .deb.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/log" 2>&1; then
	cat "$tmp/log" "$tmp"/pkg/_CPack_Packages/*/DEB/PreinstallOutput.log 2>/dev/null | tail -40
	bad "cpack -G DEB failed"
	exit 1
fi
debs=("$tmp"/pkg/"$pkg"_*.deb)
if [ ! -f "${debs[0]}" ] || [ ${#debs[@]} -ne 1 ]; then
	bad "cpack made no single ${pkg}_*.deb: $(ls "$tmp/pkg")"
	exit 1
fi
deb=${debs[0]}
version=$(sed -n 's/^project(sidecar-trace VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || bad "Package: $(field Package)"
if [ -z "$version" ] || [ "$(field Version)" != "$version" ]; then
	bad "Version: $(field Version), project version '$version'"
fi
[ -n "$(field Maintainer)" ] || bad "no Maintainer"
[ -n "$(field Description)" ] || bad "no Description"
depends=$(field Depends)
echo "Depends: $depends"
echo "Recommends: $(field Recommends)"
case ", $depends," in *", iptables"[,\ ]*) ;; *) bad "Depends lacks iptables" ;; esac
# Every shared library the program needs is declared, by its package.
for lib in $(readelf -d "$dest/usr/bin/sidecar-trace" |
	sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	owner=$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)
	if [ -z "$owner" ]; then
		bad "no package owns $lib"
		continue
	fi
	case ", $depends," in
	*", $owner "* | *", $owner,"*) ;;
	*) bad "$lib is needed, but its package $owner is not in Depends" ;;
	esac
done
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||' | grep -v '/$' |
	grep -v '^usr/share/sidecar-trace/samples/' | sort >"$tmp/deb.files"
[ "$(cat "$tmp/deb.files")" = "$expect" ] || bad "files in the .deb: $(cat "$tmp/deb.files")"
dpkg-deb -c "$deb" | awk '$2 != "root/root" { print }' | grep . &&
	bad "files in the .deb not owned by root"

if [ "$want_apt" != 1 ]; then
	echo "DESTDIR install and $(basename "$deb") checked; the apt install" \
		"and remove part runs with CI=true or ST_TEST_INSTALL=1 (as root)"
	[ "$fail" -eq 0 ]
	exit
fi

# 3. apt-get installs it with its runtime dependencies, it runs, and it
# goes away again.
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
	bad "$pkg is installed already: not touching it"
	exit 1
fi
# On a fresh machine apt must find every dependency in the archive.
for d in $(echo "$depends" | sed 's/([^)]*)//g; s/|/,/g; s/,/ /g'); do
	apt-cache madison "$d" 2>/dev/null | grep -q . ||
		bad "dependency $d has no installation candidate in apt's sources"
done
cp "$deb" "$tmp/"
deb=$tmp/$(basename "$deb")
chmod 644 "$deb"
chmod 755 "$tmp"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq "$deb" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	bad "apt-get install $deb failed"
	exit 1
fi
installed_here=1
[ "$(command -v sidecar-trace)" = /usr/bin/sidecar-trace ] ||
	bad "sidecar-trace is not /usr/bin/sidecar-trace: '$(command -v sidecar-trace)'"
/usr/bin/sidecar-trace --version >"$tmp/out" 2>&1 || bad "--version failed: $(cat "$tmp/out")"
[ "$(cat "$tmp/out")" = "sidecar-trace $version" ] || bad "--version: $(cat "$tmp/out")"
# --explain on the installed sample equals the golden file.
s=/usr/share/sidecar-trace/samples/$sample
if /usr/bin/sidecar-trace --rules "$s" --explain >"$tmp/out" 2>"$tmp/err"; then
	sed -i "s|/usr/share/sidecar-trace/samples/||g" "$tmp/out"
	diff -u "$src/samples/explain/$sample.text" "$tmp/out" >"$tmp/diff" ||
		bad "--explain of the installed sample differs: $(head -20 "$tmp/diff")"
else
	bad "--explain $s failed: $(cat "$tmp/err")"
fi
if command -v man >/dev/null; then
	[ "$(man -w sidecar-trace 2>/dev/null)" = /usr/share/man/man1/sidecar-trace.1.gz ] ||
		bad "man -w sidecar-trace: '$(man -w sidecar-trace 2>&1)'"
fi
if ! apt-get remove -y -qq "$pkg" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	bad "apt-get remove $pkg failed"
	exit 1
fi
installed_here=0
[ ! -e /usr/bin/sidecar-trace ] || bad "/usr/bin/sidecar-trace is still there after removal"
[ ! -e /usr/share/man/man1/sidecar-trace.1.gz ] || bad "the man page is still there after removal"
dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' &&
	bad "$pkg is still installed"
echo "installed with apt, ran --version and --explain, removed"
[ "$fail" -eq 0 ]
