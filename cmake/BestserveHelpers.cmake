# Shared build settings, applied per target (no global CMAKE_CXX_FLAGS).

function(bestserve_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
      -Wno-missing-field-initializers)
    if(BESTSERVE_WERROR)
      # -Wrestrict stays a warning: GCC 12 reports impossible overlaps inside std::string's
      # operator+ at -O3 (GCC bug 105329), not in our code.
      target_compile_options(${target} PRIVATE -Werror)
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        target_compile_options(${target} PRIVATE -Wno-error=restrict)
      endif()
    endif()
  endif()
  if(BESTSERVE_SANITIZE)
    # Any finding stops the program (and fails its test), UB included.
    target_compile_options(${target} PRIVATE -fsanitize=${BESTSERVE_SANITIZERS} -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=${BESTSERVE_SANITIZERS})
  endif()
  if(BESTSERVE_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# bestserve_add_library(name SOURCES...) -> target bestserve_<name>, alias bestserve::<name>
function(bestserve_add_library name)
  add_library(bestserve_${name} STATIC ${ARGN})
  add_library(bestserve::${name} ALIAS bestserve_${name})
  bestserve_target_defaults(bestserve_${name})
endfunction()

# bestserve_add_test(name SOURCES... LIBS libs... [LABELS labels...])
# One Catch2 executable per test area, registered with ctest under its name.
function(bestserve_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  bestserve_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} bestserve_test_main)
  target_compile_definitions(${name} PRIVATE BESTSERVE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name} --order rand --rng-seed 1)
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "BESTSERVE_DATA_DIR=${PROJECT_SOURCE_DIR};BESTSERVE_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared"
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
