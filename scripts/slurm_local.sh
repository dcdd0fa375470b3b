#!/usr/bin/env bash
# A local Slurm for the job scripts and their tests, started by hand (no systemd), stopped by
# PID, idempotent:
#   scripts/slurm_local.sh up               one node: this machine
#   scripts/slurm_local.sh up --nodes N     N nodes: the emulated hosts h1..hN of
#                                           scripts/cluster_local.sh (brought up if needed),
#                                           slurmctld on h1, one slurmd per host
#   scripts/slurm_local.sh run CMD...       a Slurm command where slurmctld can be reached
#                                           (on h1 for the multi-node Slurm; here otherwise)
#   scripts/slurm_local.sh node-up HOST     the slurmd of an emulated host started again (a host
#                                           that was lost and came back: it registers and
#                                           Slurm takes it back, ReturnToService=2)
#   scripts/slurm_local.sh down
# `up` installs Slurm and munge if missing and writes /etc/slurm/slurm.conf. Each node declares
# SLURM_CPUS CPUs (default: the cores, and at least 8 on one node, so that every job script in
# jobs/ runs as the README shows it on a 2-core machine, several at once; 2 per emulated host), with
# config_overrides since that is more than the hardware has. munged runs once, as the munge
# user; its socket is a path, which every emulated host reaches.
. "$(dirname "$0")/lib.sh"
CLUSTER="$DTRAIN_ROOT/scripts/cluster_local.sh"
STATE=/var/lib/dtrain-slurm  # not /run: emulated hosts with a file system have a /run each
cmd=${1:-}
shift || true
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_slurm() {
  local need=0
  for b in slurmctld slurmd sbatch munged; do command -v "$b" >/dev/null || need=1; done
  [ "$need" = 0 ] && return 0
  apt_install slurmctld slurmd slurm-client munge
}

# conf NODES: slurm.conf for this machine (NODES=0) or for h1..hNODES.
conf() {
  local nodes=$1 hw mem cpus ctl nodelines
  hw=$(slurmd -C | head -n1)
  mem=$(($(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw") * 85 / 100))
  if [ "$nodes" = 0 ]; then
    cpus=${SLURM_CPUS:-$(($(nproc) > 8 ? $(nproc) : 8))}
    ctl="$(hostname -s)(127.0.0.1)"
    nodelines="NodeName=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN"
  else
    cpus=${SLURM_CPUS:-2}
    ctl="h1(198.18.0.1)"
    nodelines=$(for i in $(seq 1 "$nodes"); do
      echo "NodeName=h$i NodeAddr=198.18.0.$i CPUs=$cpus RealMemory=$((mem / nodes)) State=UNKNOWN"
    done)
  fi
  cat <<CONF
ClusterName=dtrain
SlurmctldHost=$ctl
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd-%n
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
TmpFS=/var/tmp/slurm-%n
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
# A requeued job waits cred_expire before it may start again (120 s by default); a step's
# credential must outlive its launch, seconds here even under load.
AuthInfo=cred_expire=15
# SIGTERM to SIGKILL when a job or step is ended (30 s by default): dtrain's ranks checkpoint
# at an agreed step on SIGTERM; a rank whose peer is gone cannot agree and waits for SIGKILL.
KillWait=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SwitchType=switch/none
MailProg=/bin/true
SlurmdParameters=config_overrides
$nodelines
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

# on NODE CMD...: CMD on an emulated host, or here for the one-node Slurm.
on() {
  local node=$1
  shift
  if [ "$(cat "$STATE/nodes" 2>/dev/null || echo 0)" = 0 ]; then "$@"; else bash "$CLUSTER" run "$node" "$@"; fi
}

start_munge() {
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  munge -n | unmunge >/dev/null
}

wait_idle() {  # until every node is idle; a drained or invalid node fails at once
  local want=$1
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    local states listed
    listed=$(on h1 timeout 10 sinfo -h -N -o %T 2>/dev/null || true)
    states=$(sort <<<"$listed" | uniq -c | tr '\n' ' ')
    if [ "$(grep -cE '^(idle|mixed|allocated)$' <<<"$listed")" = "$want" ]; then
      on h1 sinfo
      return 0
    fi
    if grep -qE 'drain|inval|fail|down' <<<"$states" && ! grep -q unknown <<<"$states"; then
      echo "slurm node states: $states" >&2
      on h1 scontrol show node >&2
      tail -n 20 /var/log/slurm/*.log >&2
      return 1
    fi
    sleep 0.5
  done
  echo "the slurm nodes did not become idle in 60 s" >&2
  tail -n 20 /var/log/slurm/*.log >&2
  return 1
}

up() {
  local nodes=0
  [ "${1:-}" = --nodes ] && nodes=$2
  install_slurm
  if [ "$nodes" != 0 ] && [ "$(bash "$CLUSTER" status | grep -c '^  h')" != "$nodes" ]; then
    bash "$CLUSTER" up "$nodes"
  fi
  local c
  c=$(conf "$nodes")
  if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$c" ]; then
    down >/dev/null 2>&1 || true  # a changed cluster needs the daemons restarted
    mkdir -p /etc/slurm
    printf '%s\n' "$c" >/etc/slurm/slurm.conf
  fi
  mkdir -p "$STATE" /var/spool/slurmctld /var/log/slurm
  echo "$nodes" >"$STATE/nodes"
  start_munge
  alive "$STATE/slurmctld.pid" || on h1 slurmctld -c
  if [ "$nodes" = 0 ]; then
    mkdir -p "/var/spool/slurmd-$(hostname -s)" "/var/tmp/slurm-$(hostname -s)"
    alive "$STATE/slurmd-$(hostname -s).pid" || slurmd
  else
    for i in $(seq 1 "$nodes"); do
      mkdir -p "/var/spool/slurmd-h$i" "/var/tmp/slurm-h$i"
      alive "$STATE/slurmd-h$i.pid" || on "h$i" slurmd -N "h$i"
    done
  fi
  wait_idle "$([ "$nodes" = 0 ] && echo 1 || echo "$nodes")"
}

# stop_pidfiles FILE...: the processes named in the pid files stopped (lib.sh's stop_pids,
# 15 s before SIGKILL), the files removed.
stop_pidfiles() {
  local pf pids=()
  for pf in "$@"; do
    [ -s "$pf" ] && pids+=("$(cat "$pf")")
  done
  stop_pids -w 15 "${pids[@]}" || true
  rm -f "$@"
}

down() {
  stop_pidfiles "$STATE"/slurmd-*.pid "$STATE/slurmctld.pid"
  stop_pidfiles /run/munge/munged.pid
  # A job step's slurmstepd can outlive slurmd by a moment, still writing under $STATE: on a
  # loaded machine a single `rm -rf` then failed with "Directory not empty".
  for _ in 1 2 3 4 5; do
    rm -rf "$STATE" 2>/dev/null && break
    sleep 1
  done
  [ ! -e "$STATE" ] || { echo "slurm: down: cannot remove $STATE" >&2; return 1; }
}

# node_up HOST: HOST's slurmd running again, and the node idle in Slurm's view.
node_up() {
  local node=$1
  [ "$(cat "$STATE/nodes" 2>/dev/null || echo 0)" != 0 ] || { echo "slurm: node-up needs the multi-node Slurm" >&2; return 1; }
  alive "$STATE/slurmd-$node.pid" || on "$node" slurmd -N "$node"
  node_idle() { on h1 sinfo -h -n "$node" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)$'; }
  wait_until 20 "node $node back in Slurm" node_idle 2>/dev/null && return 0
  # A job that ended while the node was gone can leave it COMPLETING until Slurm declares it
  # down (SlurmdTimeout, 300 s); down and resume, as an administrator would, clears that.
  echo "slurm: $node is $(on h1 sinfo -h -n "$node" -o %T) after 20 s; setting it down and resuming it" >&2
  on h1 scontrol update NodeName="$node" State=DOWN Reason=returned
  on h1 scontrol update NodeName="$node" State=RESUME
  wait_until 60 "node $node back in Slurm" node_idle
}

case "$cmd" in
  up) up "$@" ;;
  node-up) [ $# -eq 1 ] || { echo "node-up HOST" >&2; exit 2; }; node_up "$1" ;;
  down) down ;;
  run) on h1 "$@" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
