#!/usr/bin/env bash
# Run by tests/install/install_tree.sh in a mount namespace of its own:
#   from_prefix.sh CHECKOUT WORK PREFIX
# lays an empty directory over the checkout, then uses the installed tree alone: the module
# file, the installed mnist_train, and a program built out of tree with find_package(dtrain).
set -euo pipefail
mount -t tmpfs hidden "$1"
work=$2 prefix=$3
[ -z "$(ls -A "$1")" ] || { echo "FAIL: the checkout is still visible"; exit 1; }
. /usr/share/modules/init/bash
module use "$prefix/share/dtrain/modulefiles"
module load dtrain
[ "$(command -v mnist_train)" = "$prefix/bin/mnist_train" ] || { echo "FAIL: module load: mnist_train is $(command -v mnist_train)"; exit 1; }
grep -q "$prefix/share/man" <<<"$MANPATH" && grep -q "$prefix" <<<"$CMAKE_PREFIX_PATH" ||
  { echo "FAIL: module load set MANPATH=$MANPATH CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH"; exit 1; }
echo "ok: module load dtrain: $(command -v mnist_train); $(mnist_train --version | head -n1)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
args=(--arch cnn-small --steps 30 --eval-every 30 --threads 1 --data-dir "$work/mnist")
mpirun --oversubscribe --bind-to none -np 2 mnist_train --dist sync "${args[@]}" >"$work/train.log" 2>&1 ||
  { tail -n 20 "$work/train.log"; echo "FAIL: the installed mnist_train"; exit 1; }
grep -E "^final test accuracy" "$work/train.log"
cmake -S "$work/consumer-src" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 &&
  cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 ||
  { tail -n 30 "$work/consumer.log"; echo "FAIL: building against the installed package"; exit 1; }
mpirun --oversubscribe --bind-to none -np 3 "$work/consumer/train_few_steps" "${args[@]}" \
  --export "$work/consumer-model.h5" >"$work/consumer-run.log" 2>&1 ||
  { tail -n 20 "$work/consumer-run.log"; echo "FAIL: the program built against the package"; exit 1; }
grep -E "^final test accuracy|^read back" "$work/consumer-run.log"
echo "ok: find_package(dtrain) built a program that trained (async, 3 ranks) and read its export back"
