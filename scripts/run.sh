#!/usr/bin/env bash
# The main job: install what is missing, fetch MNIST, build, train the MNIST CNN with the
# defaults on this machine and print the test accuracy. Extra arguments go to mnist_train,
# e.g. scripts/run.sh --epochs 1.  RANKS=3 runs it over 3 MPI ranks (async: 1 PS + 2 workers).
. "$(dirname "$0")/lib.sh"
apt_install "${DTRAIN_BUILD_PACKAGES[@]}"
fetch_mnist
build "$DTRAIN_ROOT/build"
cd "$DTRAIN_ROOT"
mkdir -p runs
RANKS=${RANKS:-1}
if [ "$RANKS" -gt 1 ]; then
  exec mpirun --oversubscribe --bind-to none -np "$RANKS" build/mnist_train \
    --data-dir data/mnist --metrics-json runs/last.json "$@"
fi
exec build/mnist_train --data-dir data/mnist --metrics-json runs/last.json "$@"
