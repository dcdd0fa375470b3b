#!/usr/bin/env bash
# The sanitizer pass of scripts/test.sh: one clang tree (build-asan) with AddressSanitizer +
# UBSan (leak checking on) builds the unit tests and the libFuzzer targets; the unit tests run
# once in one process (each test of its own pays the sanitizers' start-up: 2.5x longer), then
# scripts/fuzz.sh fuzzes the parsers from their committed corpus.
#   scripts/sanitize.sh           build, then run
#   scripts/sanitize.sh build     only the build (scripts/test.sh runs it at nice 19 beside
#                                 ctest, whose multi-host tests leave a core idle while they wait)
. "$(dirname "$0")/lib.sh"
phase=${1:-all}
case "$phase" in all | build) ;; *) echo "usage: sanitize.sh [build]" >&2 && exit 2 ;; esac
apt_install clang libclang-rt-14-dev "${DTRAIN_BUILD_PACKAGES[@]}"
dir=$DTRAIN_ROOT/build-asan
if [ ! -f "$dir/CMakeCache.txt" ]; then
  log "configuring $dir (clang, ASan + UBSan)"
  CC=clang CXX=clang++ cmake -S "$DTRAIN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDTRAIN_WERROR=ON -DDTRAIN_SANITIZE=ON -DDTRAIN_FUZZ=ON >/dev/null
fi
log "building $dir"
out=$(cmake --build "$dir" -j "$(nproc)" --target unit_tests fuzz_tfrecord fuzz_idx 2>&1) ||
  { echo "$out" >&2; exit 1; }
[ "$phase" = all ] || exit 0
log "unit tests under AddressSanitizer + UBSan"
# Leak checking stays on for our code; libraries' own one-time allocations are suppressed by
# the test binary itself (tests/unit/test_main.cpp).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$dir" && OMP_NUM_THREADS=2 ./unit_tests --gtest_brief=1)
FUZZ_TREE=$dir bash "$DTRAIN_ROOT/scripts/fuzz.sh"
