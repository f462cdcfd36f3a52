# SPDX-License-Identifier: Apache-2.0
# lanner_module(NAME DEPS...): one static library per folder, from the folder's *.c files
# (main.c excluded), with the project's warnings. A folder without sources yet is an
# INTERFACE library so dependents still configure.
function(lanner_module name)
	file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
	list(FILTER srcs EXCLUDE REGEX "/main\\.c$")
	if(srcs)
		add_library(${name} STATIC ${srcs})
		target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
		target_link_libraries(${name} PUBLIC ${ARGN})
		lanner_warnings(${name})
	else()
		add_library(${name} INTERFACE)
		target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
		target_link_libraries(${name} INTERFACE ${ARGN})
	endif()
endfunction()
