#!/usr/bin/env bash
# Every test: install what is missing, fetch MNIST, build with warnings as errors, run the whole
# ctest suite (unit tests, real mpirun runs, ...), then the unit tests again under
# AddressSanitizer + UBSan. CI runs exactly this (.ci/run).
. "$(dirname "$0")/lib.sh"
apt_install "${DTRAIN_BUILD_PACKAGES[@]}" "${DTRAIN_TEST_PACKAGES[@]}"
fetch_mnist
build "$DTRAIN_ROOT/build" -DDTRAIN_WERROR=ON
# ONNX Runtime for the ONNX export test (Debian 12 has no Python ONNX Runtime).
npm_install "$DTRAIN_ROOT/build/npm" onnxruntime-node@1.30.0
log "ctest (build)"
(cd "$DTRAIN_ROOT/build" && ctest --output-on-failure -j 2 --timeout 900)

log "fuzzing the parsers"
bash "$DTRAIN_ROOT/scripts/fuzz.sh"

if [ "${DTRAIN_SKIP_SANITIZERS:-0}" != 1 ]; then
  # Only the unit tests run under the sanitizers, so only they (and the library) are built.
  BUILD_TARGET=unit_tests build "$DTRAIN_ROOT/build-asan" -DDTRAIN_WERROR=ON -DDTRAIN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  log "unit tests under AddressSanitizer + UBSan"
  # Leak checking stays on for our code; libraries' own one-time allocations are suppressed
  # by the test binary itself (tests/unit/test_main.cpp).
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  (cd "$DTRAIN_ROOT/build-asan" && ctest --output-on-failure -j 2 --timeout 1800 -L unit)
fi
log "all tests passed"
