# packaging/cpack.cmake - a Debian package: `cpack -G DEB` in the build
# directory gives sidecar-trace_<version>_<arch>.deb.  Included from the
# root CMakeLists.txt after packaging/install.cmake.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sidecar-trace)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "sidecar-trace")
set(ST_DEB_MAINTAINER
	"sidecar-trace maintainers <maintainers@users.noreply.r-seed-1390bced.example>"
	CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT ${ST_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${ST_DEB_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
	"show which netfilter rules the packets of an Istio sidecar pod pass")
set(CPACK_PACKAGE_DESCRIPTION
"sidecar-trace reads the iptables or nftables rules that Istio installs in a
pod's network namespace and explains the role of every rule. On a node it
traces a live pod with temporary NFLOG rules, which it removes again, and
classifies each connection into one of the six sidecar traffic types
(remote-to-local, local-to-remote, Prometheus scrape, local-to-local, Envoy
interprocess, sidecar-to-istiod), showing the rules each packet passed.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # sidecar-trace_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Shared libraries (libpcap0.8, libnetfilter-log1, libgvc6, libcgraph6,
# libjansson4, libc6) through dpkg-shlibdeps (package dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Programs it runs: iptables-{legacy,nft}-save/-restore for the rules of
# almost every sidecar pod (Istio's default modes); nft only for pods of
# Istio 1.27+ with native nftables.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iptables")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nftables")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, tcpdump, graphviz")

include(CPack)
