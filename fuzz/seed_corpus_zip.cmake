# Zips the files of the working directory (corpus/<target>/) into ZIP, the
# seed corpus ClusterFuzzLite expects beside fuzz_<target> (fuzz/CMakeLists.txt).
#   cmake -DZIP=OUT.zip -P seed_corpus_zip.cmake   (run in corpus/<target>/)
file(GLOB_RECURSE inputs LIST_DIRECTORIES false RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} *)
if(NOT inputs)
  message(FATAL_ERROR "${CMAKE_CURRENT_SOURCE_DIR} holds no inputs: a seed corpus must not be empty")
endif()
file(REMOVE ${ZIP})
file(ARCHIVE_CREATE OUTPUT ${ZIP} PATHS ${inputs} FORMAT zip)
