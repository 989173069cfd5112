# The project's lists, each defined once in CMake (as a global property set
# where the list is defined) and written to ${CMAKE_BINARY_DIR}/manifest.json
# for the scripts, mutate/ and ClusterFuzzLite (scripts/manifest.py reads it):
#   fuzz_targets   fuzz/CMakeLists.txt           the libFuzzer/AFL++ targets
#   planted_bugs   core/decision/CMakeLists.txt  the planted-bug names
#   dut_files      core/CMakeLists.txt           the device under test's sources
function(vmemcheck_manifest_list out key)
  get_property(items GLOBAL PROPERTY VMEMCHECK_MANIFEST_${key})
  set(json "[]")
  set(index 0)
  foreach(item IN LISTS items)
    string(JSON json SET "${json}" ${index} "\"${item}\"")
    math(EXPR index "${index} + 1")
  endforeach()
  set(${out} "${json}" PARENT_SCOPE)
endfunction()

function(vmemcheck_write_manifest)
  set(manifest "{}")
  foreach(key fuzz_targets planted_bugs dut_files)
    vmemcheck_manifest_list(items ${key})
    string(JSON manifest SET "${manifest}" ${key} "${items}")
  endforeach()
  string(JSON manifest SET "${manifest}" source_dir "\"${PROJECT_SOURCE_DIR}\"")
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/manifest.json CONTENT "${manifest}\n")
endfunction()
