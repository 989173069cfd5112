#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script for vmemcheck's fuzz targets.
# Honours the service's environment: $CXX and $CXXFLAGS (sanitizers and
# coverage flags), $LIB_FUZZING_ENGINE (libFuzzer, AFL++, honggfuzz, or the
# standalone driver), $OUT. $CC and $CFLAGS are accepted for the contract,
# but vmemcheck has no C sources. Ships into $OUT, per target T in ops,
# virtqueue, layout: fuzz_T, fuzz_T_seed_corpus.zip (corpus/T/),
# fuzz_T.dict (fuzz/dicts/T.dict) and fuzz_T.options.
#
# Local test (README of fuzz/):
#   CC=clang CXX=clang++ CFLAGS='-fsanitize=address,fuzzer-no-link' \
#   CXXFLAGS='-fsanitize=address,fuzzer-no-link' LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#   OUT=build/oss-fuzz-out .clusterfuzzlite/build.sh
#
# fmt is used header-only (FMT_HEADER_ONLY), so nothing is linked that the
# service's sanitizers did not instrument: its headers come from $FMT_INCLUDE,
# else $SRC/fmt/include (the Dockerfile clones it), else the system's.

: "${CXX:?}" "${CXXFLAGS?}" "${LIB_FUZZING_ENGINE:?}" "${OUT:?}"
: "${CC:=cc}" "${CFLAGS:=}"
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=${WORK:-${TMPDIR:-/tmp}}/vmemcheck-oss-fuzz-build
mkdir -p "$work"
jobs=${JOBS:-$(nproc)}

# Every library folder of the core: CMake keeps their layers apart, this
# build only needs them all.
includes=()
for library in "$source_dir"/core/*/; do includes+=(-I"${library%/}"); done
if [ -n "${FMT_INCLUDE:-}" ]; then
  includes+=(-I"$FMT_INCLUDE")
elif [ -d "${SRC:-/nonexistent}/fmt/include" ]; then
  includes+=(-I"$SRC/fmt/include")
fi
# shellcheck disable=SC2206  # CXXFLAGS is a list of flags by contract
flags=($CXXFLAGS -std=c++20 -DFMT_HEADER_ONLY "${includes[@]}")
# Coverage feedback from the core, not from the oracle that checks it
# (fuzz/feedback-ignorelist.txt says why); sanitizer-coverage builds only.
# and no comparison tracing where it only costs (fuzz/no-cmp-tracing.txt).
no_cmp_tracing=()
case " $CXXFLAGS " in
  *fuzzer-no-link* | *-fsanitize-coverage=*)
    flags+=(-fsanitize-coverage-ignorelist="$source_dir/fuzz/feedback-ignorelist.txt")
    mapfile -t no_cmp_tracing < <(grep -v '^#' "$source_dir/fuzz/no-cmp-tracing.txt")
    ;;
esac

# The core and the shared check, compiled once for all targets.
compile() {  # SOURCE
  local extra=()
  for listed in "${no_cmp_tracing[@]}"; do
    [ "$1" = "$source_dir/$listed" ] && extra=(-fno-sanitize-coverage=trace-cmp)
  done
  "$CXX" "${flags[@]}" "${extra[@]}" -c "$1" -o "$work/$(basename "$1" .cpp).o"
}
export -f compile
export CXX source_dir work
sources=("$source_dir"/core/*/*.cpp "$source_dir/fuzz/check.cpp")
printf '%s\n' "${sources[@]}" |
  xargs -P "$jobs" -I{} bash -c "$(declare -p flags no_cmp_tracing); compile {}"
rm -f "$work/libvmemcheck.a"
ar rcs "$work/libvmemcheck.a" "$work"/*.o

for target in ops virtqueue layout; do
  fuzzer=fuzz_$target
  # shellcheck disable=SC2086  # LIB_FUZZING_ENGINE is a flag or a library path
  "$CXX" "${flags[@]}" "$source_dir/fuzz/$target.cpp" "$work/libvmemcheck.a" $LIB_FUZZING_ENGINE -o "$OUT/$fuzzer"
  rm -f "$OUT/${fuzzer}_seed_corpus.zip"
  (cd "$source_dir/corpus/$target" && zip -q -r "$OUT/${fuzzer}_seed_corpus.zip" .)
  cp "$source_dir/fuzz/dicts/$target.dict" "$OUT/$fuzzer.dict"
  # Inputs decode to at most 64 operations (core/scenario/fuzz_decoder.hpp); the corpus's
  # longest are ~420 bytes, so 1 KiB leaves room without wasting mutations.
  cat >"$OUT/$fuzzer.options" <<OPTIONS
[libfuzzer]
max_len = 1024
timeout = 10
dict = $fuzzer.dict
OPTIONS
done
