# A sanitizer report from a real, unpatched instrumented QEMU (the qtest read
# --plant-sanitizer-report sends, more than ASan allocates) must end the
# sequence, be saved as a scenario beside its report, be deduplicated across
# sequences, and replay: with the plant it reports again, without it QEMU
# and the core agree.
file(REMOVE_RECURSE ${FINDINGS})
execute_process(COMMAND ${VMEMCHECK} qemu --qemu ${QEMU} --fuzz --sequences 3 --ops 40 --seed 1 --plant-sanitizer-report
                        -q --findings ${FINDINGS}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
message("${output}${errors}")
set(summary "SUMMARY: AddressSanitizer: allocation-size-too-big")
if(NOT status EQUAL 1 OR NOT output MATCHES "SANITIZER REPORT: seed 1: ${summary}[^\n]*\n  replay: "
   OR NOT output MATCHES "SANITIZER REPORT: seed 3: ${summary}[^\n]*\n  seen before; replay: "
   OR NOT output MATCHES "0 differences, 3 sanitizer reports")
  message(FATAL_ERROR "the planted sanitizer report was not a deduplicated finding (exit status ${status})")
endif()
file(GLOB scenarios ${FINDINGS}/*.vmem)
file(GLOB reports ${FINDINGS}/*.sanitizer.txt)
file(READ ${FINDINGS}/qemu-sanitizer-index.tsv index)
list(LENGTH scenarios kept)
if(NOT kept EQUAL 1 OR NOT reports MATCHES "qemu-10.0-sanitizer-1.sanitizer.txt" OR NOT index MATCHES "\t3\n$")
  message(FATAL_ERROR "expected one scenario and report kept and 3 reports counted: ${scenarios} ${reports} ${index}")
endif()
execute_process(COMMAND ${VMEMCHECK} qemu --qemu ${QEMU} --plant-sanitizer-report -q ${scenarios} --findings ${FINDINGS}
                RESULT_VARIABLE status OUTPUT_VARIABLE output)
message("replay with the plant: ${output}")
if(NOT status EQUAL 1 OR NOT output MATCHES "SANITIZER REPORT: [^\n]*: ${summary}")
  message(FATAL_ERROR "${scenarios} does not reproduce the report (exit status ${status})")
endif()
execute_process(COMMAND ${VMEMCHECK} qemu --qemu ${QEMU} -q ${scenarios} RESULT_VARIABLE status OUTPUT_VARIABLE output)
message("replay without the plant: ${output}")
if(NOT status EQUAL 0 OR NOT output MATCHES "0 differences")
  message(FATAL_ERROR "${scenarios} fails even without the plant (exit status ${status})")
endif()
