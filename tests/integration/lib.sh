# Sourced by every integration, fault and cluster test, on top of scripts/lib.sh (DTRAIN_ROOT,
# transport presets, stop_pids, wait_until). ctest sets DTRAIN_BUILD (the build directory),
# DTRAIN_MNIST (the IDX files) and DTRAIN_WORK (scratch space); run by hand, the defaults are
# the checkout's build/ and data/mnist.
# shellcheck source=../../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
HERE=$DTRAIN_ROOT/tests/integration
DTRAIN_BUILD=${DTRAIN_BUILD:-$DTRAIN_ROOT/build}
DTRAIN_MNIST=${DTRAIN_MNIST:-$DTRAIN_ROOT/data/mnist}
DTRAIN_WORK=${DTRAIN_WORK:-$DTRAIN_BUILD/tests/work}
BIN=$DTRAIN_BUILD/mnist_train
SETUP=$DTRAIN_BUILD/mnist_data_setup
MNIST=$DTRAIN_MNIST
PY=/usr/bin/python3
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
# The model of the tests that show a mechanism (a kill, a resume, a transport, a signal): the
# layers of the default CNN, about 11x faster. The accuracy claims of the default model (98%
# after one epoch, 95% after 300 steps) have tests of their own. Its 0.22 MB of gradients
# would fit in one allreduce bucket: 0.05 MB buckets (5) keep the multi-bucket path in sync
# runs (async runs ignore the option).
SMALL=(--arch cnn-small --bucket-mb 0.05)

# on_exit 'COMMANDS': run COMMANDS when the script exits, keeping the script's exit status.
# A plain EXIT trap under `set -e` exits with the status of the first command in it that
# fails (a `kill` of a job that already ended): tests that had printed OK failed that way.
on_exit() {
  trap "rc=\$?; set +e; $1; exit \$rc" EXIT
}

# fresh_dir NAME: an empty scratch directory for this test.
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

# transport_args NAME: mpirun arguments of a transport preset (jobs/transport.sh), on lo.
transport_args() {
  DTRAIN_NET_IF=lo dtrain_transport_args "$1"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check_metrics FILE [--min-accuracy A] [--expect key=value]...
check_metrics() {
  "$PY" "$HERE/check_metrics.py" "$@"
}

# fast_took_more ONCE: checkpoint_tools.py ids_once's line shows worker 0 (the fast one) with
# more than twice the examples of worker 1 (the slower CPU) under work taken by speed.
fast_took_more() {
  local fast slow
  fast=$(sed -nE 's/.*worker-0=([0-9]+).*/\1/p' <<<"$1")
  slow=$(sed -nE 's/.*worker-1=([0-9]+).*/\1/p' <<<"$1")
  [ "${fast:-0}" -gt $((2 * ${slow:-0})) ]
}

# logged_step LOG: the last step the chief logged (0 before any).
logged_step() {
  local s
  s=$(grep -oE '^step +[0-9]+' "$1" 2>/dev/null | tail -n1 | grep -oE '[0-9]+$')
  echo "${s:-0}"
}

# at_step LOG STEP: the chief has logged STEP or later.
at_step() {
  [ "$(logged_step "$1")" -ge "$2" ]
}
