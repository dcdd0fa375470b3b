#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for FUZZ_SECONDS
# (default 60) from the seed corpus in tests/fuzz/corpus. Fails on any crash, leak, timeout or
# out-of-memory. scripts/test.sh runs it; FUZZ_SECONDS=600 scripts/fuzz.sh for a longer session.
. "$(dirname "$0")/lib.sh"
apt_install clang libclang-rt-14-dev zlib1g-dev libprotobuf-dev protobuf-compiler cmake
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
dir="$DTRAIN_ROOT/build-fuzz"
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$DTRAIN_ROOT" -B "$dir" -DDTRAIN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" >/dev/null
for target in tfrecord idx; do
  work="$dir/corpus-$target"
  mkdir -p "$work"
  log "fuzzing $target for ${FUZZ_SECONDS}s"
  # -rss_limit_mb and -timeout turn runaway allocations and hangs into failures.
  if ! (cd "$dir" && "$dir/tests/fuzz/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 "$work" \
        "$DTRAIN_ROOT/tests/fuzz/corpus/$target" >"$dir/fuzz_$target.log" 2>&1); then
    tail -n 60 "$dir/fuzz_$target.log" >&2
    echo "fuzz_$target failed: the crashing input is in $dir (crash-*, leak-*, timeout-*)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$dir/fuzz_$target.log" | tail -n 3
done
log "fuzzing found nothing"
