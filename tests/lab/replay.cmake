# SPDX-License-Identifier: GPL-2.0-or-later
# Lab tests of replay and diagrams against a live pod (replaying a live
# --write capture prints exactly the flows that the live run printed,
# tshark decodes the capture; every traffic type renders from live tracing
# and from replay). Included from tests/CMakeLists.txt
# with include(lab/replay.cmake). They need root and network namespaces
# (exit 77 without) and share the lab's lock.

set(ST_REPLAY_LAB_ENV "ST_LAB_BIN=$<TARGET_FILE_DIR:st-sidecar>"
	"ST_BINARY=$<TARGET_FILE:sidecar-trace>")
foreach(name replay_live diagram_live)
	add_test(NAME lab_${name}
		COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lab/tests/${name}.sh)
	set_tests_properties(lab_${name} PROPERTIES LABELS lab
		SKIP_RETURN_CODE 77 TIMEOUT 300 RESOURCE_LOCK st-lab
		ENVIRONMENT "${ST_REPLAY_LAB_ENV}")
endforeach()
