#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the job-script tests: `up` installs Slurm and
# munge if missing, writes /etc/slurm/slurm.conf for this host, starts munged (as the munge
# user), slurmctld and slurmd by hand (no systemd) and waits for the node; `down` stops them by
# their PIDs. Idempotent. SLURM_CPUS=N declares N CPUs on the node (more than the cores, so
# that a 3- or 4-rank job script runs unchanged on a 2-core machine).
set -euo pipefail
cmd=${1:-}
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
  local need=0
  for b in slurmctld slurmd sbatch munged; do command -v "$b" >/dev/null || need=1; done
  if [ "$need" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  fi
  local node hw mem nodeline overrides=""
  node=$(hostname -s)
  hw=$(slurmd -C | head -n1)
  mem=$(( $(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw") * 85 / 100 ))
  if [ -n "${SLURM_CPUS:-}" ]; then
    nodeline="NodeName=$node NodeAddr=127.0.0.1 CPUs=$SLURM_CPUS RealMemory=$mem State=UNKNOWN"
    overrides="SlurmdParameters=config_overrides"
  else
    nodeline="NodeName=$node NodeAddr=127.0.0.1 $(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$hw" | tr '\n' ' ')RealMemory=$mem State=UNKNOWN"
  fi
  mkdir -p /etc/slurm
  local conf
  conf=$(cat <<CONF
ClusterName=dtrain
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
EnforcePartLimits=ALL
ReturnToService=2
JobRequeue=1
KillWait=30
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SwitchType=switch/none
MailProg=/bin/true
$overrides
$nodeline
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
)
  # A changed node (CPUs, memory) needs the daemons restarted to take effect.
  if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
    down >/dev/null 2>&1 || true
    printf '%s\n' "$conf" >/etc/slurm/slurm.conf
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  munge -n | unmunge >/dev/null
  mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  alive /run/slurmctld.pid || slurmctld -c
  alive /run/slurmd.pid || slurmd
  for _ in $(seq 1 120); do
    local st
    st=$(sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
    case "$st" in
      idle|mixed|allocated) sinfo; return 0 ;;
      *drain*|*inval*|*fail*|down*)
        echo "slurm node state: $st" >&2; scontrol show node >&2
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2; return 1 ;;
    esac
    sleep 0.5
  done
  echo "the slurm node did not become idle in 60 s" >&2
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
  return 1
}

stop_pids() {  # SIGTERM, wait up to 15 s, then SIGKILL
  local pf pid pids=()
  for pf in "$@"; do
    [ -s "$pf" ] || continue
    pid=$(cat "$pf")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for _ in $(seq 1 150); do
    local any=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"; done
  rm -f "$@"
}

down() {
  stop_pids /run/slurmd.pid /run/slurmctld.pid
  stop_pids /run/munge/munged.pid
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: slurm_local.sh up|down" >&2; exit 2 ;;
esac
