# packaging/install.cmake - what `cmake --install` (and so the .deb) puts
# where.  Included from the root CMakeLists.txt after the sidecar-trace
# target is defined.
include(GNUInstallDirs)

install(TARGETS sidecar-trace RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page, compressed as Debian policy wants it (gzip -n: no name or
# time stamp, so that two builds give the same bytes).
set(ST_MAN_SRC ${CMAKE_SOURCE_DIR}/man/sidecar-trace.1)
find_program(ST_GZIP gzip)
if(ST_GZIP)
	set(ST_MAN_OUT ${CMAKE_BINARY_DIR}/man/sidecar-trace.1)
	add_custom_command(OUTPUT ${ST_MAN_OUT}.gz
		COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
		COMMAND ${CMAKE_COMMAND} -E copy ${ST_MAN_SRC} ${ST_MAN_OUT}
		COMMAND ${ST_GZIP} -9nf ${ST_MAN_OUT}
		DEPENDS ${ST_MAN_SRC}
		COMMENT "Compressing the man page"
		VERBATIM)
	add_custom_target(st-man ALL DEPENDS ${ST_MAN_OUT}.gz)
	install(FILES ${ST_MAN_OUT}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
	install(FILES ${ST_MAN_SRC} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# bash-completion loads completions/<command> on first use.
install(FILES ${CMAKE_SOURCE_DIR}/completion/sidecar-trace.bash
	DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
	RENAME sidecar-trace)

# Saved rules of every Istio era, to try --explain on.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/samples/rules/
	DESTINATION ${CMAKE_INSTALL_DATADIR}/sidecar-trace/samples)

install(FILES ${CMAKE_SOURCE_DIR}/README.md
	${CMAKE_SOURCE_DIR}/packaging/copyright
	DESTINATION ${CMAKE_INSTALL_DOCDIR})
