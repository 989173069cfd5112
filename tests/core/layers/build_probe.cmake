# Builds one layer probe target and checks the outcome.
#   -DBINARY_DIR=... -DTARGET=... -DEXPECT=builds|fails:<header>
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${TARGET}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(EXPECT STREQUAL "builds")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${TARGET} should build, but the build failed:\n${output}")
  endif()
  message(STATUS "${TARGET} builds, as it should")
  return()
endif()
string(REGEX REPLACE "^fails:" "" header "${EXPECT}")
if(status EQUAL 0)
  message(FATAL_ERROR "${TARGET} built, but its include of ${header} goes against the layers and must fail")
endif()
# g++: "fatal error: x.hpp: No such file or directory"; clang: "fatal error: 'x.hpp' file not found".
string(REPLACE "." "\\." header_regex "${header}")
if(NOT output MATCHES "'?${header_regex}'?:? (No such file or directory|file not found)")
  message(FATAL_ERROR "${TARGET} failed, but not because ${header} is out of sight:\n${output}")
endif()
message(STATUS "${TARGET} fails as it should: ${header} is out of its layer's sight")
