# Runs one scenario with `vmemcheck run --quiet` and fails unless it reports no
# problem and, when SCENARIO.golden exists, prints exactly that file's views
# (the summary line, which names the file, is not compared).
#   cmake -DVMEMCHECK=... -DSCENARIO=... -P golden_scenario.cmake
execute_process(COMMAND ${VMEMCHECK} run --quiet ${SCENARIO}
                OUTPUT_VARIABLE output ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "vmemcheck run ${SCENARIO} exited with ${status}:\n${output}${errors}")
endif()
string(REGEX REPLACE "[^\n]*: [0-9]+ steps, [0-9]+ problems?\n$" "" views "${output}")
string(REGEX REPLACE "\\.vmem$" ".golden" golden_file "${SCENARIO}")
if(EXISTS ${golden_file})
  file(READ ${golden_file} golden)
  if(NOT views STREQUAL golden)
    file(WRITE ${SCENARIO_OUTPUT} "${views}")
    message(FATAL_ERROR "the views of ${SCENARIO} differ from ${golden_file}; "
                        "got ${SCENARIO_OUTPUT}, compare with: diff ${golden_file} ${SCENARIO_OUTPUT}")
  endif()
endif()
