# SPDX-License-Identifier: GPL-2.0-or-later
# Hardening lab tests (a flood, two sessions, rules changed by someone
# else, faults), included from
# tests/CMakeLists.txt with include(lab/harden.cmake).  They need root and
# network namespaces (exit 77 without) and share the lab's lock.

add_executable(st-flood ${CMAKE_CURRENT_SOURCE_DIR}/lab/st-flood.c)
target_compile_options(st-flood PRIVATE ${ST_WARNINGS})
target_compile_definitions(st-flood PRIVATE _GNU_SOURCE)

set(ST_HARDEN_ENV "ST_LAB_BIN=$<TARGET_FILE_DIR:st-sidecar>"
	"ST_BINARY=$<TARGET_FILE:sidecar-trace>"
	"ST_FLOOD=$<TARGET_FILE:st-flood>")
file(GLOB ST_HARDEN_TESTS CONFIGURE_DEPENDS
	${CMAKE_CURRENT_SOURCE_DIR}/lab/tests/harden_*.sh)
list(FILTER ST_HARDEN_TESTS EXCLUDE REGEX "harden_common\\.sh$")
foreach(script ${ST_HARDEN_TESTS})
	get_filename_component(name ${script} NAME_WE)
	add_test(NAME lab_${name} COMMAND bash ${script})
	set_tests_properties(lab_${name} PROPERTIES LABELS lab
		SKIP_RETURN_CODE 77 TIMEOUT 240 RESOURCE_LOCK st-lab
		ENVIRONMENT "${ST_HARDEN_ENV}")
endforeach()
