#!/usr/bin/env bash
# dtrain as a site installs it: `cmake --install` into a fresh prefix, then used from the
# prefix alone. In a mount namespace that lays an empty directory over the checkout (its
# sources, build tree and data out of reach): a program built out of tree with
# find_package(dtrain) trains through the public API; the installed mnist_train trains; the
# module file (Environment Modules) puts the prefix on PATH, MANPATH and CMAKE_PREFIX_PATH.
# Then an installed job script runs under the local Slurm (slurm.up), with no DTRAIN_ROOT.
. "$(dirname "$0")/../integration/lib.sh"
work=$(mktemp -d /tmp/dtrain-install.XXXXXX)  # outside the checkout, which gets hidden
on_exit "rm -rf '$work'"
prefix=$work/prefix
version=$(sed -nE 's/^project\(dtrain VERSION ([0-9.]+).*/\1/p' "$DTRAIN_ROOT/CMakeLists.txt")
cmake --install "$DTRAIN_BUILD" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }
for f in bin/mnist_train bin/mnist_data_setup bin/compute_bench bin/data_bench bin/rma_bench \
  share/man/man1/{mnist_train,mnist_data_setup,compute_bench,data_bench,rma_bench}.1 \
  lib/libdtrain.a include/dtrain/train/job.h \
  lib/cmake/dtrain/dtrainConfig.cmake lib/cmake/dtrain/dtrainTargets.cmake \
  share/dtrain/jobs/train_sync.sbatch share/dtrain/jobs/common.sh \
  "share/dtrain/modulefiles/dtrain/$version"; do
  [ -e "$prefix/$f" ] || fail "cmake --install left out $f"
done
[ -x "$prefix/share/dtrain/jobs/mpirun_train.sh" ] || fail "the installed mpirun_train.sh is not executable"
! grep -rl "$DTRAIN_ROOT" "$prefix/share" "$prefix/lib/cmake" || fail "installed files name the checkout"
grep -qF -- '\-\-local\-checkpoint\-dir' "$prefix/share/man/man1/mnist_train.1" || fail "the man page lacks the options"
grep -qF -- '\-\-infer\-batches' "$prefix/share/man/man1/compute_bench.1" || fail "compute_bench's man page lacks its options"
echo "ok: installed into $prefix ($(find "$prefix" -type f | wc -l) files), no path into the checkout"
mkdir "$work/mnist" && cp "$MNIST"/*-ubyte "$work/mnist/"
cp -r "$DTRAIN_ROOT/tests/install/consumer" "$work/consumer-src"

# From here on the checkout is an empty directory (the script runs from a copy in $work).
cp "$DTRAIN_ROOT/tests/install/from_prefix.sh" "$work/"
unshare --mount --propagation private bash "$work/from_prefix.sh" "$DTRAIN_ROOT" "$work" "$prefix" </dev/null ||
  fail "using the installed tree"

# An installed job script: sbatch runs a copy of it, which must find the prefix by itself.
cd "$work"
env -u DTRAIN_ROOT MNIST_DIR="$work/mnist" MODEL_DIR="$work/run" EPOCHS=1 \
  TRAIN_ARGS="--arch cnn-small --steps 30 --eval-every 30 --threads 1" \
  bash "$DTRAIN_ROOT/scripts/sbatch_run.sh" --timeout 600 --ntasks 2 \
  "$prefix/share/dtrain/jobs/train_sync.sbatch" >"$work/job.log" 2>&1 || { cat "$work/job.log"; fail "the installed train_sync.sbatch"; }
grep -E "^final test accuracy" "$work/job.log" || { cat "$work/job.log"; fail "the installed job trained nothing"; }
[ -s "$work/run/model.h5" ] || fail "the installed job exported no model"
echo OK
