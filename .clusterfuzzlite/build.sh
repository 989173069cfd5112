#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script for vmemcheck's fuzz targets.
# Builds through CMake (the clusterfuzzlite preset), so the shipped build keeps
# the layers of core/ that CMake enforces: CMake starts from the service's
# $CC, $CXX, $CFLAGS and $CXXFLAGS (sanitizers, coverage flags), the preset
# links $LIB_FUZZING_ENGINE (libFuzzer, AFL++'s driver, honggfuzz or the
# standalone driver), and `cmake --install` ships into $OUT, per fuzz target T
# (fuzz/CMakeLists.txt lists them): fuzz_T, fuzz_T_seed_corpus.zip
# (corpus/T/), fuzz_T.dict (fuzz/dicts/T.dict) and fuzz_T.options.
#
# Local test (README of fuzz/; scripts/clusterfuzzlite-build-check does it
# with the image's flags for each engine and sanitizer):
#   CC=clang CXX=clang++ CFLAGS='-fsanitize=address,fuzzer-no-link' \
#   CXXFLAGS='-fsanitize=address,fuzzer-no-link' LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#   OUT=build/oss-fuzz-out .clusterfuzzlite/build.sh
#
# fmt is used header-only, so nothing is linked that the service's sanitizers
# did not instrument: its headers come from $FMT_INCLUDE, else
# $SRC/fmt/include (the Dockerfile clones it), else the system's.

: "${CXX:?}" "${CXXFLAGS?}" "${LIB_FUZZING_ENGINE:?}" "${OUT:?}"
export CC=${CC:-cc} CFLAGS=${CFLAGS:-}
# Run as .clusterfuzzlite/build.sh of a checkout, or as $SRC/build.sh (the
# Dockerfile's copy) from the image's WORKDIR, $SRC/vmemcheck.
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$source_dir/CMakePresets.json" ] || source_dir=$PWD
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
build=${WORK:-${TMPDIR:-/tmp}}/vmemcheck-oss-fuzz-build
jobs=${JOBS:-$(nproc)}

cd "$source_dir"
# --fresh: CMake reads $CXX and $CXXFLAGS only when a build directory is new,
# and the service may reuse $WORK with other flags.
cmake --preset clusterfuzzlite -B "$build" --fresh
cmake --build "$build" --target fuzzers -j "$jobs"
cmake --install "$build" --prefix "$OUT"
