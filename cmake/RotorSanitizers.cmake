# Sanitizer builds: every target, tests and the rotor binary the shell tests drive included.
# Errors abort (no recovery), so a report fails the test that caused it.
if(ROTOR_FUZZ)
  # The fuzz targets and the ASan+UBSan test suite share one clang tree: the coverage
  # instrumentation libFuzzer needs costs the tests little, and a second build costs CI a lot.
  set(ROTOR_ASAN_UBSAN ON)
endif()
if(ROTOR_ASAN_UBSAN AND ROTOR_TSAN)
  message(FATAL_ERROR "ROTOR_ASAN_UBSAN and ROTOR_TSAN exclude each other: use two build trees")
endif()
if((ROTOR_ASAN_UBSAN OR ROTOR_TSAN) AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # The instrumentation defeats GCC's flow analysis: std::regex then warns of uninitialised
  # std::function members that are initialised (a false positive that -Werror would turn fatal).
  add_compile_options(-Wno-maybe-uninitialized)
endif()
if(ROTOR_ASAN_UBSAN OR ROTOR_TSAN)
  # For checks whose figures a sanitizer's runtime distorts (memory held in ASan's
  # quarantine): clang 14 defines neither __SANITIZE_ADDRESS__ nor __SANITIZE_THREAD__.
  add_compile_definitions(ROTOR_SANITIZED=1)
endif()
# Options for the units that include cpprestsdk's headers: UBSan's vptr check misfires on its
# stream buffers, whose type information lives in the shared library, not in our objects.
set(ROTOR_CPPREST_COMPILE_OPTIONS "")
if(ROTOR_ASAN_UBSAN)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  set(ROTOR_CPPREST_COMPILE_OPTIONS -fno-sanitize=vptr)
endif()
if(ROTOR_TSAN)
  # Boost.Asio's fences are not understood by TSan (GCC says so with -Wtsan); its reports there
  # are suppressed in .ci/tsan.supp if any appear.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(-fsanitize=thread)
endif()
if(ROTOR_FUZZ)
  # Every library gets coverage instrumentation; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
