# Runs a program with bad input and checks that it refuses it cleanly (or, with -DSUCCEED=ON, that it exits 0):
#   - it exits with a non-zero code, and is not killed by a signal (a crash);
#   - what it prints (stdout and stderr) matches EXPECT;
#   - where UNCHANGED names a file, that file is byte for byte what it was before.
# Usage: cmake -DPROGRAM=<exe> -DARGS=<arguments separated by |> -DEXPECT=<regex> [-DUNCHANGED=<file>]
#              -P expect_refusal.cmake
# The test's TIMEOUT catches a program that starts working instead of refusing.
string(REPLACE "|" ";" arguments "${ARGS}")
if(UNCHANGED)
  file(SHA256 "${UNCHANGED}" before)
endif()
execute_process(COMMAND "${PROGRAM}" ${arguments} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
message(STATUS "${PROGRAM} ${arguments}\nexit: ${rc}\n${all}")
if(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "expected a clean refusal, but the program did not exit normally: ${rc}")
endif()
if(SUCCEED AND NOT rc EQUAL 0)
  message(FATAL_ERROR "expected exit code 0, got ${rc}")
elseif(NOT SUCCEED AND rc EQUAL 0)
  message(FATAL_ERROR "expected a refusal (a non-zero exit code), got exit code 0")
endif()
if(NOT all MATCHES "${EXPECT}")
  message(FATAL_ERROR "expected a message matching '${EXPECT}'")
endif()
if(UNCHANGED)
  file(SHA256 "${UNCHANGED}" after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "${UNCHANGED} was changed")
  endif()
endif()
