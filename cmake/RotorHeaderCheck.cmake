# rotor_header_check: compiles every header of rotor on its own (one generated source per header),
# so that each header includes what it uses. Not part of `all`; CI builds it:
#   cmake --build build --target rotor_header_check
file(GLOB_RECURSE ROTOR_HEADERS RELATIVE ${PROJECT_SOURCE_DIR} CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/controller/*.h ${PROJECT_SOURCE_DIR}/reconcilers/*.h ${PROJECT_SOURCE_DIR}/tests/support/*.h)
set(ROTOR_HEADER_SOURCES "")
foreach(header ${ROTOR_HEADERS})
  string(REPLACE "/" "__" stem "${header}")
  set(source ${CMAKE_BINARY_DIR}/header_check/${stem}.cc)
  set(content "#include \"${header}\"  // must compile alone\n")
  if(EXISTS ${source})
    file(READ ${source} existing)
  endif()
  if(NOT existing STREQUAL content)
    file(WRITE ${source} "${content}")
  endif()
  list(APPEND ROTOR_HEADER_SOURCES ${source})
endforeach()
add_library(rotor_header_check OBJECT EXCLUDE_FROM_ALL ${ROTOR_HEADER_SOURCES})
target_include_directories(rotor_header_check PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(rotor_header_check PRIVATE rotor_warnings nlohmann_json::nlohmann_json GTest::gmock)
target_compile_options(rotor_header_check PRIVATE -O0 -Wno-unused-function)
set_target_properties(rotor_header_check PROPERTIES UNITY_BUILD OFF)
