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
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
export LC_ALL=C
build=$(cd "$(dirname "$bin")" && pwd)
pkg=sidecar-trace
sample=istio-1.17_redirect_default_legacy.rules
installed_here=0
remove_installed() {
	if [ "$installed_here" = 1 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >/dev/null 2>&1
	fi
}
t_on_exit remove_installed

t_need cmake cpack dpkg-deb dpkg-shlibdeps # dpkg-dev gives dpkg-shlibdeps
want_apt=0
if [ "${CI:-}" = true ] || [ "${ST_TEST_INSTALL:-0}" = 1 ]; then
	want_apt=1
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		t_skip "the apt part needs root and apt-get"
	fi
fi

if [ ! -f "$build/CPackConfig.cmake" ]; then
	echo "note: $build has no CPack configuration (the include() lines are" \
		"not in CMakeLists.txt yet): using a scratch build"
	cat >"$T_TMP/preload.cmake" <<'EOF'
cmake_language(DEFER CALL include "${CMAKE_SOURCE_DIR}/packaging/install.cmake")
cmake_language(DEFER CALL include "${CMAKE_SOURCE_DIR}/packaging/cpack.cmake")
EOF
	build=$T_TMP/build
	# Only what is installed is built (cpack builds "preinstall", which
	# would otherwise build every test too).
	if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_PROJECT_INCLUDE="$T_TMP/preload.cmake" \
		-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$T_TMP/log" 2>&1 ||
		! cmake --build "$build" -j"$(nproc)" --target sidecar-trace st-man \
			>>"$T_TMP/log" 2>&1; then
		cat "$T_TMP/log"
		t_fail "the scratch build failed"
		exit 1
	fi
fi

# 1. DESTDIR install: exactly these files (plus the samples).
dest=$T_TMP/dest
if ! DESTDIR=$dest cmake --install "$build" --prefix /usr >"$T_TMP/log" 2>&1; then
	cat "$T_TMP/log"
	t_fail "cmake --install failed"
	exit 1
fi
expect="usr/bin/sidecar-trace
usr/share/bash-completion/completions/sidecar-trace
usr/share/doc/sidecar-trace/README.md
usr/share/doc/sidecar-trace/copyright
usr/share/man/man1/sidecar-trace.1.gz"
got=$(cd "$dest" && find . -type f ! -path './usr/share/sidecar-trace/samples/*' |
	sed 's|^\./||' | sort)
[ "$got" = "$expect" ] || t_fail "DESTDIR files:"$'\n'"$got"$'\n'"want:"$'\n'"$expect"
[ -x "$dest/usr/bin/sidecar-trace" ] || t_fail "the program is not executable"
for f in "$src"/samples/rules/*; do
	cmp -s "$f" "$dest/usr/share/sidecar-trace/samples/$(basename "$f")" ||
		t_fail "sample $(basename "$f") not installed"
done
if ! gzip -dc "$dest/usr/share/man/man1/sidecar-trace.1.gz" | cmp -s - "$src/man/sidecar-trace.1"; then
	t_fail "the installed man page is not man/sidecar-trace.1"
fi
cmp -s "$dest/usr/share/bash-completion/completions/sidecar-trace" \
	"$src/completion/sidecar-trace.bash" || t_fail "the completion is not completion/sidecar-trace.bash"
# The DESTDIR program runs, and its completion completes its options.
"$dest/usr/bin/sidecar-trace" --version | grep -q '^sidecar-trace [0-9]' ||
	t_fail "the DESTDIR program does not print its version"
comp=$(bash -c '
	source "$1"
	COMP_WORDS=("$2" --ru); COMP_CWORD=1; COMPREPLY=()
	_sidecar_trace; echo "${COMPREPLY[*]}"' _ \
	"$dest/usr/share/bash-completion/completions/sidecar-trace" \
	"$dest/usr/bin/sidecar-trace")
[ "$comp" = "--rules" ] || t_fail "completing '--ru' gave '$comp', want '--rules'"

# 2. The .deb.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$T_TMP/pkg" >"$T_TMP/log" 2>&1; then
	cat "$T_TMP/log" "$T_TMP"/pkg/_CPack_Packages/*/DEB/PreinstallOutput.log 2>/dev/null | tail -40
	t_fail "cpack -G DEB failed"
	exit 1
fi
debs=("$T_TMP"/pkg/"$pkg"_*.deb)
if [ ! -f "${debs[0]}" ] || [ ${#debs[@]} -ne 1 ]; then
	t_fail "cpack made no single ${pkg}_*.deb: $(ls "$T_TMP/pkg")"
	exit 1
fi
deb=${debs[0]}
version=$(sed -n 's/^project(sidecar-trace VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || t_fail "Package: $(field Package)"
if [ -z "$version" ] || [ "$(field Version)" != "$version" ]; then
	t_fail "Version: $(field Version), project version '$version'"
fi
[ -n "$(field Maintainer)" ] || t_fail "no Maintainer"
[ -n "$(field Description)" ] || t_fail "no Description"
depends=$(field Depends)
echo "Depends: $depends"
echo "Recommends: $(field Recommends)"
case ", $depends," in *", iptables"[,\ ]*) ;; *) t_fail "Depends lacks iptables" ;; esac
# Every shared library the program needs is declared, by its package.
for lib in $(readelf -d "$dest/usr/bin/sidecar-trace" |
	sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	owner=$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)
	if [ -z "$owner" ]; then
		t_fail "no package owns $lib"
		continue
	fi
	case ", $depends," in
	*", $owner "* | *", $owner,"*) ;;
	*) t_fail "$lib is needed, but its package $owner is not in Depends" ;;
	esac
done
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||' | grep -v '/$' |
	grep -v '^usr/share/sidecar-trace/samples/' | sort >"$T_TMP/deb.files"
[ "$(cat "$T_TMP/deb.files")" = "$expect" ] || t_fail "files in the .deb: $(cat "$T_TMP/deb.files")"
dpkg-deb -c "$deb" | awk '$2 != "root/root" { print }' | grep . &&
	t_fail "files in the .deb not owned by root"

if [ "$want_apt" != 1 ]; then
	echo "DESTDIR install and $(basename "$deb") checked; the apt install" \
		"and remove part runs with CI=true or ST_TEST_INSTALL=1 (as root)"
	t_done install
fi

# 3. apt-get installs it with its runtime dependencies, it runs, and it
# goes away again.
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
	t_fail "$pkg is installed already: not touching it"
	exit 1
fi
# On a fresh machine apt must find every dependency in the archive.
for d in $(echo "$depends" | sed 's/([^)]*)//g; s/|/,/g; s/,/ /g'); do
	apt-cache madison "$d" 2>/dev/null | grep -q . ||
		t_fail "dependency $d has no installation candidate in apt's sources"
done
cp "$deb" "$T_TMP/"
deb=$T_TMP/$(basename "$deb")
chmod 644 "$deb"
chmod 755 "$T_TMP"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq "$deb" >"$T_TMP/log" 2>&1; then
	cat "$T_TMP/log"
	t_fail "apt-get install $deb failed"
	exit 1
fi
installed_here=1
[ "$(command -v sidecar-trace)" = /usr/bin/sidecar-trace ] ||
	t_fail "sidecar-trace is not /usr/bin/sidecar-trace: '$(command -v sidecar-trace)'"
/usr/bin/sidecar-trace --version >"$T_TMP/out" 2>&1 || t_fail "--version failed: $(cat "$T_TMP/out")"
[ "$(cat "$T_TMP/out")" = "sidecar-trace $version" ] || t_fail "--version: $(cat "$T_TMP/out")"
# --explain on the installed sample equals the golden file.
s=/usr/share/sidecar-trace/samples/$sample
if /usr/bin/sidecar-trace --rules "$s" --explain >"$T_TMP/out" 2>"$T_TMP/err"; then
	sed -i "s|/usr/share/sidecar-trace/samples/||g" "$T_TMP/out"
	diff -u "$src/samples/explain/$sample.text" "$T_TMP/out" >"$T_TMP/diff" ||
		t_fail "--explain of the installed sample differs: $(head -20 "$T_TMP/diff")"
else
	t_fail "--explain $s failed: $(cat "$T_TMP/err")"
fi
if command -v man >/dev/null; then
	[ "$(man -w sidecar-trace 2>/dev/null)" = /usr/share/man/man1/sidecar-trace.1.gz ] ||
		t_fail "man -w sidecar-trace: '$(man -w sidecar-trace 2>&1)'"
fi
if ! apt-get remove -y -qq "$pkg" >"$T_TMP/log" 2>&1; then
	cat "$T_TMP/log"
	t_fail "apt-get remove $pkg failed"
	exit 1
fi
installed_here=0
[ ! -e /usr/bin/sidecar-trace ] || t_fail "/usr/bin/sidecar-trace is still there after removal"
[ ! -e /usr/share/man/man1/sidecar-trace.1.gz ] || t_fail "the man page is still there after removal"
dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' &&
	t_fail "$pkg is still installed"
echo "installed with apt, ran --version and --explain, removed"
t_done install
