# Runs one proof against its planted bug and passes only when a counterexample
# is found and every scenario it wrote fails under `vmemcheck run`.
#   cmake -DPROOFS=... -DVMEMCHECK=... -DPROOF=... -DSCENARIO_DIR=... -P planted_proof.cmake
file(REMOVE_RECURSE ${SCENARIO_DIR})
file(MAKE_DIRECTORY ${SCENARIO_DIR})
execute_process(COMMAND ${PROOFS} --planted --scenario-dir ${SCENARIO_DIR} ${PROOF}
                OUTPUT_VARIABLE output RESULT_VARIABLE status)
message("${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "proof ${PROOF} found no counterexample against its planted bug")
endif()
file(GLOB scenarios ${SCENARIO_DIR}/*.vmem)
if(NOT scenarios)
  message(FATAL_ERROR "proof ${PROOF} wrote no counterexample scenario")
endif()
foreach(scenario ${scenarios})
  execute_process(COMMAND ${VMEMCHECK} run --quiet ${scenario} OUTPUT_VARIABLE run_output
                  ERROR_VARIABLE run_errors RESULT_VARIABLE run_status)
  if(run_status EQUAL 0)
    message(FATAL_ERROR "${scenario} runs clean: the counterexample does not show on the code\n${run_output}")
  endif()
  message("${scenario}: fails under vmemcheck run, as it must:\n${run_output}${run_errors}")
endforeach()
