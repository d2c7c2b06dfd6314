#!/usr/bin/env bash
# Builds the router sources and asan_corrupt_main.cpp with AddressSanitizer + UBSan and runs it.
set -euo pipefail
SRC="$1"
OUT="$2"
mkdir -p "$OUT"
g++ -std=c++20 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -ffp-contract=off -Wno-psabi -I"$SRC" \
  "$SRC/router/lib/router.cpp" "$SRC/router/lib/packed_mlp.cpp" "$SRC/router/lib/c_api.cpp" "$SRC/router/policy/policy_metadata.cpp" \
  "$SRC/router/policy/mlp.cpp" "$SRC/router/policy/weights_format.cpp" "$SRC/router/policy/binary_io.cpp" "$SRC/common/rng.cpp" \
  "$SRC/common/error.cpp" "$SRC/tests/router/asan_corrupt_main.cpp" -lfmt -pthread -o "$OUT/asan_corrupt"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$OUT/asan_corrupt"
