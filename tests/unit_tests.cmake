set(VMEMCHECK_UNIT_TESTS
  block_bitmap_test.cpp
  decision_test.cpp
  device_config_test.cpp
  fault_injection_test.cpp
  guest_driver_test.cpp
  guest_ram_test.cpp
  invariant_monitor_test.cpp
  kvm_slot_backend_test.cpp
  memslot_policy_test.cpp
  policy_comparison_test.cpp
  scenario_test.cpp
  shadow_kvm_test.cpp
  units_test.cpp
  virtqueue_test.cpp
  wire_test.cpp
)
foreach(test_source ${VMEMCHECK_UNIT_TESTS})
  get_filename_component(test_name ${test_source} NAME_WE)
  add_executable(${test_name} ${test_source})
  target_link_libraries(${test_name} PRIVATE vmemcheck_core GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${test_name} PROPERTIES LABELS "unit")
endforeach()
