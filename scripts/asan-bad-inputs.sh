#!/usr/bin/env bash
# scripts/asan-bad-inputs.sh: the hostile-input suite (tests/test_bad_inputs.cpp) under AddressSanitizer +
# UBSan, as `make test` runs it. The whole suite under ASan (`make test-asan`) takes far longer than CI's
# budget; this builds only the kiln libraries and that one program in the asan preset's folder (CPU only,
# so no nvcc time) and runs it, so an out-of-bounds access or undefined conversion behind a bad input is a
# failure even when it happens to end in an error message.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}
start=$(date +%s)
cmake --preset asan -DKILN_CUDA=OFF >/dev/null
cmake --build --preset asan -j"$jobs" --target test_bad_inputs
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/asan/tests/test_bad_inputs --gtest_brief=1
echo "asan-bad-inputs: passed in $(($(date +%s) - start)) s (build included)"
