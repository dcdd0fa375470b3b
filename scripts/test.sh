#!/usr/bin/env bash
# Every test: install what is missing, fetch MNIST, build with warnings as errors, run the whole
# ctest suite (unit tests, real mpirun runs, Slurm, emulated hosts, ...), then one clang tree
# with AddressSanitizer + UBSan runs the unit tests and fuzzes the parsers. CI runs exactly this
# (.ci/run).
#   scripts/test.sh                 everything
#   scripts/test.sh -L fault        one group (any ctest selection: -L LABEL, -R REGEX, ...),
#                                   with the same set-up; no sanitizer tree, no fuzzing
#   scripts/test.sh --load [ARGS]   the same with both cores kept busy by stress-ng meanwhile
#                                   (no verdict may depend on load or timing)
. "$(dirname "$0")/lib.sh"
load=0 helpers=()
trap '[ ${#helpers[@]} -eq 0 ] || stop_pids "${helpers[@]}"' EXIT
[ "${1:-}" = --load ] && load=1 && shift
apt_install "${DTRAIN_BUILD_PACKAGES[@]}" "${DTRAIN_TEST_PACKAGES[@]}"
fetch_mnist
build "$DTRAIN_ROOT/build" -DDTRAIN_WERROR=ON
# ONNX Runtime for the ONNX export test (Debian 12 has no Python ONNX Runtime).
npm_install "$DTRAIN_ROOT/build/npm" onnxruntime-node@1.30.0

if [ "$load" = 1 ]; then
  log "loading both cores: stress-ng --cpu $(nproc) (nice 0) while ctest runs"
  stress-ng --cpu "$(nproc)" --timeout 6h --quiet &
  helpers+=($!)
fi
sanitizers=0
[ $# -eq 0 ] && [ "${DTRAIN_SKIP_SANITIZERS:-0}" != 1 ] && sanitizers=1
if [ "$sanitizers" = 1 ]; then
  # The sanitizer tree compiles meanwhile at the lowest priority, on the CPU time the
  # multi-host tests leave idle while they wait for hosts, file systems and daemons. With
  # autogroups (kernel.sched_autogroup_enabled) nice only ranks processes of one session: the
  # build gets a session of its own, niced as a whole, or it takes a full share from the
  # tests' daemons (Slurm steps, the emulated hosts' ranks).
  log "building the sanitizer tree beside ctest (nice 19; log in build/sanitize-build.log)"
  setsid -w bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 bash "$0" build' \
    "$DTRAIN_ROOT/scripts/sanitize.sh" >"$DTRAIN_ROOT/build/sanitize-build.log" 2>&1 &
  asan_build=$!
  helpers+=("$asan_build")
fi
log "ctest (build)${*:+: $*}"
(cd "$DTRAIN_ROOT/build" && ctest --output-on-failure -j 2 --timeout 900 "$@")
[ $# -eq 0 ] || { log "selected tests passed"; exit 0; }

if [ "$sanitizers" = 1 ]; then
  wait "$asan_build" || { cat "$DTRAIN_ROOT/build/sanitize-build.log"; exit 1; }
  # One clang tree for both: the unit tests and the libFuzzer targets, under ASan + UBSan.
  bash "$DTRAIN_ROOT/scripts/sanitize.sh"
fi
log "all tests passed"
