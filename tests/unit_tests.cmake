set(VMEMCHECK_UNIT_TESTS
)
foreach(test_source ${VMEMCHECK_UNIT_TESTS})
  get_filename_component(test_name ${test_source} NAME_WE)
  add_executable(${test_name} ${test_source})
  target_link_libraries(${test_name} PRIVATE vmemcheck_core GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${test_name} PROPERTIES LABELS "unit")
endforeach()
