#!/bin/sh
# Builds and runs a libFuzzer target from native/fuzz/ (docs/fuzzing.md).
# Usage: native/fuzz/run.sh TARGET [libFuzzer options...]   e.g. native/fuzz/run.sh pdsv -max_total_time=600
set -eu
target="$1"
shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/native/fuzz/out"
cxx="${CXX_FUZZ:-clang++}"
mkdir -p "$out/corpus-$target" "$out/crashes-$target"
"$cxx" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/native" "$root/native/fuzz/${target}_fuzz.cpp" "$root"/native/pdsv/pdsv.cpp \
  "$root"/native/g711/g711.cpp "$root"/native/rtp/packet.cpp "$root"/native/rtp/stats.cpp \
  "$root"/native/rtp/transcode.cpp -o "$out/${target}_fuzz"
if [ -f "$root/native/fuzz/${target}_seeds.cpp" ]; then
  "$cxx" -std=c++17 -O1 -I "$root/native" "$root/native/fuzz/${target}_seeds.cpp" "$root"/native/pdsv/pdsv.cpp \
    -o "$out/${target}_seeds"
  "$out/${target}_seeds" "$out/corpus-$target"
fi
exec "$out/${target}_fuzz" -artifact_prefix="$out/crashes-$target/" "$@" "$out/corpus-$target"
