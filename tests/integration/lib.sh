# Sourced by every integration script. ctest sets DTRAIN_BUILD (the build directory),
# DTRAIN_SOURCE, DTRAIN_MNIST (the IDX files) and DTRAIN_WORK (scratch space); run by hand,
# the defaults are the checkout's build/ and data/mnist.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DTRAIN_SOURCE=${DTRAIN_SOURCE:-$(cd "$HERE/../.." && pwd)}
DTRAIN_BUILD=${DTRAIN_BUILD:-$DTRAIN_SOURCE/build}
DTRAIN_MNIST=${DTRAIN_MNIST:-$DTRAIN_SOURCE/data/mnist}
DTRAIN_WORK=${DTRAIN_WORK:-$DTRAIN_BUILD/tests/work}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
BIN=$DTRAIN_BUILD/mnist_train
SETUP=$DTRAIN_BUILD/mnist_data_setup
MNIST=$DTRAIN_MNIST
PY=/usr/bin/python3

# fresh_dir NAME: an empty scratch directory for this test.
# on_exit 'COMMANDS': run COMMANDS when the script exits, keeping the script's exit status.
# A plain EXIT trap under `set -e` exits with the status of the first command in it that
# fails (a `kill` of a job that already ended): tests that had printed OK failed that way.
on_exit() {
  trap "rc=\$?; set +e; $1; exit \$rc" EXIT
}

fresh_dir() {
  local d="$DTRAIN_WORK/$1"
  rm -rf "$d" && mkdir -p "$d"
  echo "$d"
}

# mpi NP ARGS...: mpirun with the flags every multi-rank test uses.
mpi() {
  local np=$1
  shift
  mpirun --oversubscribe --bind-to none -np "$np" "$@"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check_metrics FILE [--min-accuracy A] [--expect key=value]...
check_metrics() {
  "$PY" "$HERE/check_metrics.py" "$@"
}
