#!/bin/sh
# Builds and runs a libFuzzer target from native/fuzz/ (docs/fuzzing.md).
# Usage: native/fuzz/run.sh TARGET [libFuzzer options...]   e.g. native/fuzz/run.sh pdsv -max_total_time=600
# Compiles native/fuzz/TARGET_fuzz.cpp with the codec sources listed (as globs) in native/fuzz/TARGET.sources,
# builds native/fuzz/TARGET_seeds.cpp (if present) to write the seed corpus, then runs the fuzzer.
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 TARGET [libFuzzer options...]" >&2
  exit 2
fi
target="$1"
shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="native/fuzz/out"
cxx="${CXX_FUZZ:-clang++}"
sources="$(cat "native/fuzz/${target}.sources")"
mkdir -p "$out/corpus-$target" "$out/crashes-$target"
# shellcheck disable=SC2086 # the sources are globs
"$cxx" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I native "native/fuzz/${target}_fuzz.cpp" $sources -o "$out/${target}_fuzz"
if [ -f "native/fuzz/${target}_seeds.cpp" ]; then
  # shellcheck disable=SC2086
  "$cxx" -std=c++17 -O1 -I native "native/fuzz/${target}_seeds.cpp" $sources -o "$out/${target}_seeds"
  "$out/${target}_seeds" "$out/corpus-$target"
fi
exec "$out/${target}_fuzz" -artifact_prefix="$out/crashes-$target/" "$@" "$out/corpus-$target"
