# Builds and runs the consumer project in one of three modes; run by CTest with cmake -P.
#   find_package:     install the build tree to a prefix, then find_package(attractor) from there
#   add_subdirectory: add_subdirectory(<source tree>)
#   fetch_content:    FetchContent_Declare(SOURCE_DIR <source tree>)
file(REMOVE_RECURSE "${WORK_DIR}")
set(args -S "${SOURCE_DIR}/tests/consumer" -B "${WORK_DIR}/build" -G "${GENERATOR}" -DMODE=${MODE}
         -DATTRACTOR_SOURCE_DIR=${SOURCE_DIR})  # no build type: the project's Release default is under test
if(MODE STREQUAL "find_package")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix"
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "install failed: ${rc}")
  endif()
  list(APPEND args "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
endif()
foreach(step IN ITEMS configure build run)
  if(step STREQUAL "configure")
    set(cmd "${CMAKE_COMMAND}" ${args})
  elseif(step STREQUAL "build")
    set(cmd "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  else()
    set(cmd "${WORK_DIR}/build/consumer")
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "consumer (${MODE}) ${step} failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "consumer (${MODE}) printed: ${out}")
