# Builds one object-library probe and checks that its objects call nothing
# whose demangled name matches FORBIDDEN (what the file must stay independent of).
#   -DBINARY_DIR=... -DTARGET=... -DOBJECTS=a.o;b.o -DFORBIDDEN=<regex>
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${TARGET}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TARGET} should build, but the build failed:\n${output}")
endif()
execute_process(COMMAND nm -C --undefined-only ${OBJECTS} RESULT_VARIABLE status OUTPUT_VARIABLE symbols
                ERROR_VARIABLE symbols)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "nm failed on ${OBJECTS}:\n${symbols}")
endif()
string(REGEX MATCHALL "[^\n]*(${FORBIDDEN})[^\n]*" calls "${symbols}")
if(calls)
  string(REPLACE ";" "\n" calls "${calls}")
  message(FATAL_ERROR "${TARGET} calls what it must be independent of:\n${calls}")
endif()
message(STATUS "${TARGET} calls nothing matching ${FORBIDDEN}")
