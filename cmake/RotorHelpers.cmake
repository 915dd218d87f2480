# Shared build rules: warnings for every rotor target, one helper per library and test.

add_library(rotor_warnings INTERFACE)
target_compile_options(rotor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  -Wno-missing-field-initializers)  # designated initialisers rely on member defaults
if(ROTOR_WERROR)
  target_compile_options(rotor_warnings INTERFACE -Werror)
endif()
if(CMAKE_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # A unity build includes each .cc into a generated file, so a class in a .cc that holds a type
  # from that .cc's anonymous namespace looks, to g++, like a header's class doing so.
  target_compile_options(rotor_warnings INTERFACE -Wno-subobject-linkage)
endif()

# rotor_add_library(NAME SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# Declares rotor_NAME with alias rotor::NAME; includes are rooted at the top level.
function(rotor_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(rotor_${name} STATIC ${ARG_SOURCES})
  add_library(rotor::${name} ALIAS rotor_${name})
  target_include_directories(rotor_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(rotor_${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE rotor_warnings ${ARG_PRIVATE_LIBS})
endfunction()

# rotor_add_test(NAME SOURCES ... [LIBS ...] LABEL label [THREADED])
# THREADED: the test runs rotor code on several threads at once. Its label gets the suffix
# -threaded (gtest_discover_tests of CMake 3.25 flattens a list of labels, and `ctest -L unit`
# still matches unit-threaded); the ThreadSanitizer tree builds only these tests (target
# rotor_threaded_tests) and runs only them (ctest -L threaded), as a race needs two threads.
function(rotor_add_test name)
  cmake_parse_arguments(ARG "THREADED" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set(label ${ARG_LABEL})
  if(ARG_THREADED)
    set(label ${label}-threaded)
    add_dependencies(rotor_threaded_tests ${name})
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} rotor_test_support GTest::gmock GTest::gtest_main
                        rotor_warnings)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS ${label} ENVIRONMENT "ROTOR_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    DISCOVERY_TIMEOUT 30)
endfunction()
