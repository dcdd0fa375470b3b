# Where dtrain's programs and job scripts are (sourced by jobs/common.sh and
# jobs/mpirun_train.sh). `cmake --install` writes its prefix on the DTRAIN_PREFIX line of the
# installed copy: those run the installed programs and keep runs and data under the submit
# directory. In a checkout the line stays empty: the programs are DTRAIN_ROOT's build/
# (default: the submit directory, or the checkout holding the calling script, JOBS_HERE).
DTRAIN_PREFIX=""
if [ -n "$DTRAIN_PREFIX" ] && [ -z "${DTRAIN_ROOT:-}" ]; then
  BIN=$DTRAIN_PREFIX/bin
  JOBS=$DTRAIN_PREFIX/share/dtrain/jobs
  WORK=${SLURM_SUBMIT_DIR:-$PWD}
else
  : "${DTRAIN_ROOT:=${JOBS_HERE:+$(dirname "$JOBS_HERE")}}" "${DTRAIN_ROOT:=${SLURM_SUBMIT_DIR:-$PWD}}"
  BIN=$DTRAIN_ROOT/build
  JOBS=$DTRAIN_ROOT/jobs
  WORK=$DTRAIN_ROOT
fi
