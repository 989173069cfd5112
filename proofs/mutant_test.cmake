# Runs one proof built from a mutant and passes only when the proof refutes a
# claim; with -DSCENARIO=yes it must also write its counterexample as a
# scenario, and every scenario it wrote must fail under `vmemcheck run`.
#   cmake -DMUTANT=... -DVMEMCHECK=... -DSCENARIO=yes|no -DSCENARIO_DIR=... -P mutant_test.cmake
file(REMOVE_RECURSE ${SCENARIO_DIR})
file(MAKE_DIRECTORY ${SCENARIO_DIR})
execute_process(COMMAND ${MUTANT} --scenario-dir ${SCENARIO_DIR} OUTPUT_VARIABLE output RESULT_VARIABLE status)
message("${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the proof did not find the mutant (exit status ${status})")
endif()
file(GLOB scenarios ${SCENARIO_DIR}/*.vmem)
if(SCENARIO STREQUAL "yes" AND NOT scenarios)
  message(FATAL_ERROR "the proof wrote no counterexample scenario")
endif()
foreach(scenario ${scenarios})
  execute_process(COMMAND ${VMEMCHECK} run --quiet ${scenario} OUTPUT_VARIABLE run_output
                  ERROR_VARIABLE run_errors RESULT_VARIABLE run_status)
  if(run_status EQUAL 0)
    message(FATAL_ERROR "${scenario} runs clean: the counterexample does not show on the code\n${run_output}")
  endif()
  message("${scenario}: fails under vmemcheck run, as it must:\n${run_output}${run_errors}")
endforeach()
