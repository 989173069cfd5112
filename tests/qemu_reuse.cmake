# Reusing one QEMU per geometry (reset between sequences) must answer exactly
# as a QEMU started afresh for every sequence: the same outcome digest over
# every answer, config space and memslot listing, on both QEMU releases.
foreach(version 7.2 10.0)
  foreach(mode reuse no-reuse)
    set(flag)
    if(mode STREQUAL "no-reuse")
      set(flag --no-reuse)
    endif()
    execute_process(COMMAND ${VMEMCHECK} qemu --qemu-version ${version} --fuzz --sequences 10 --ops 30 --seed 500 -q ${flag}
                            --findings ${CMAKE_CURRENT_BINARY_DIR}/qemu-reuse-findings
                    RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
    message("QEMU ${version}, ${mode}: ${output}${errors}")
    if(NOT status EQUAL 0 OR NOT output MATCHES "outcome digest ([0-9a-f]+)")
      message(FATAL_ERROR "QEMU ${version} ${mode}: exit status ${status}, no digest")
    endif()
    set(digest_${mode} ${CMAKE_MATCH_1})
    if(mode STREQUAL "reuse" AND NOT output MATCHES "[1-9][0-9]* reused after a reset, 0 resets refused")
      message(FATAL_ERROR "QEMU ${version}: no QEMU was reused, or a reset did not give a fresh device")
    endif()
  endforeach()
  if(NOT digest_reuse STREQUAL digest_no-reuse)
    message(FATAL_ERROR "QEMU ${version}: reused QEMUs answered otherwise (${digest_reuse}) than fresh ones (${digest_no-reuse})")
  endif()
endforeach()
