#!/usr/bin/env bash
# Emulated hosts on this machine, for running dtrain across "nodes":
#   scripts/cluster_local.sh up N [--rate RATE] [--fs gluster[:dispersed]]
#                                                  N hosts h1..hN (RATE: tc rate, e.g. 1gbit),
#                                                  with a GlusterFS volume mounted at /mnt/gv
#                                                  on every host (a brick per host; distributed,
#                                                  or dispersed with redundancy 1)
#   scripts/cluster_local.sh shape RATE|none        every host's link reshaped in place
#   scripts/cluster_local.sh mpirun ARGS...        mpirun from h1 over the hosts (one slot each
#                                                  unless SLOTS=k), ranks started by an rsh
#                                                  agent that enters each host
#   scripts/cluster_local.sh run HOST CMD...       a command on one host (h1, h2, ...)
#   scripts/cluster_local.sh volume NAME [--dispersed]   another GlusterFS volume over the
#                                                  hosts, mounted at /mnt/NAME on every host
#   scripts/cluster_local.sh lose HOST             the host is lost: its link goes down, every
#                                                  process on it is killed, its node-local store
#                                                  is wiped; mpirun cannot reach it any more
#   scripts/cluster_local.sh return HOST           the lost host back: link up, its GlusterFS
#                                                  daemons restarted and the volumes remounted
#   scripts/cluster_local.sh pending NAME          entries volume NAME still has to heal (fails
#                                                  while a brick does not answer)
#   scripts/cluster_local.sh drop-caches           page cache dropped, the volume remounted
#                                                  on every host (cold reads for benchmarks)
#   scripts/cluster_local.sh status | down
#
# Each host is a network namespace (address 198.18.0.N/24 on veth ve0, joined to the others by
# a bridge in a switch namespace, no route anywhere else, IPv6 off) with its own hostname (UTS
# namespace), its own /etc/hosts, a fresh /sys (mount namespace; UCX finds interfaces in
# /sys/class/net) and node-local storage that dies with it: a tmpfs of its own at /mnt/local
# (LOCAL_SIZE, default 1g, a limit: memory is used only as files are written). One long-lived anchor process per host holds the namespaces; everything
# that runs "on" a host enters them with nsenter -t ANCHOR, so mounts made on a host stay
# visible to what starts there later. --root takes the anchor's root too: entering a mount
# namespace resets the root to the namespace's, which is not ours inside a chroot (glusterd
# then ran outside it, every host on one /run). --rate shapes every host's egress with tc tbf. This
# kernel has no netem, so no latency can be added: latency is what the veths give (about
# 10-16 us half round trip here).
#
# Addresses come only from 198.18.0.0/15 (the benchmarking range) and exist only inside the
# namespaces made here. `down` stops the anchors by PID and deletes the namespaces; both `up`
# and `down` are idempotent. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
. "$(dirname "$0")/lib.sh"
# Not under /run: with a file system, each host gets a /run of its own (glusterd keeps its
# sockets and pid files there).
STATE=${DTRAIN_CLUSTER_STATE:-/var/lib/dtrain-cluster}
GV=/mnt/gv
LOCAL=/mnt/local
SWITCH=dtrain-sw
MAX_HOSTS=32

die() {
  echo "cluster_local.sh: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network and mount namespaces: CAP_NET_ADMIN, CAP_SYS_ADMIN)"
  apt_install iproute2 util-linux
  if ! ip netns add dtrain-probe 2>/dev/null; then
    die "cannot create network namespaces here (ip netns add failed: no CAP_NET_ADMIN?)"
  fi
  ip netns del dtrain-probe
  command -v nsenter >/dev/null && command -v tc >/dev/null ||
    die "needs nsenter (util-linux) and tc (iproute2)"
}

host_count() { cat "$STATE/hosts.count" 2>/dev/null || echo 0; }
anchor_pid() {
  local f="$STATE/$1.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || die "no host '$1' (is the cluster up? $0 status)"
  cat "$f"
}

# enter HOST CMD...: CMD in HOST's network, mount and UTS namespaces.
enter() {
  local pid
  pid=$(anchor_pid "$1")
  shift
  exec nsenter -t "$pid" --root --net --mount --uts --wd="$PWD" -- "$@"
}

write_agent() {
  # The rsh agent mpirun starts its daemons with: drops ssh-style options, takes the host
  # name, and runs the command line inside that host.
  cat >"$STATE/rsh-agent" <<EOF
#!/bin/bash
while [ \$# -gt 0 ] && [[ \$1 == -* ]]; do
  case "\$1" in -l|-p|-o|-i|-F) shift 2 ;; *) shift ;; esac
done
host=\$1
shift
# A lost host cannot be reached, as ssh would say.
[ -e "$STATE/\$host.lost" ] && { echo "ssh: connect to host \$host port 22: No route to host" >&2; exit 255; }
exec nsenter -t "\$(cat "$STATE/\$host.pid")" --root --wd="\$PWD" --net --mount --uts -- sh -c "\$*"
EOF
  chmod 755 "$STATE/rsh-agent"
}

start_anchor() {  # i fs: the process holding host hi's namespaces
  local i=$1 fs=$2 h="h$1"
  mkdir -p /run/munge "$STATE/$h/run/munge" "$STATE/$h/glusterd" "$STATE/$h/log" "$GV" "$LOCAL" \
    /var/lib/glusterd /var/log/glusterfs
  # The package's option groups and hooks, without any host's identity (glusterd.info).
  [ "$fs" = none ] || (cd /var/lib/glusterd && tar --exclude=./glusterd.info --exclude=./peers \
    --exclude=./vols -cf - . | tar -C "$STATE/$h/glusterd" -xf -)
  # shellcheck disable=SC2016
  nsenter --net="/run/netns/dtrain-$h" unshare --mount --uts --propagation private -- sh -ec '
    hostname "$1"
    mount --bind "$2/hosts" /etc/hosts
    mkdir -p "$2/cgroup-$1"
    mount --rbind /sys/fs/cgroup "$2/cgroup-$1" 2>/dev/null || true
    mount -t sysfs sysfs /sys
    mount --rbind "$2/cgroup-$1" /sys/fs/cgroup 2>/dev/null || true
    mount -t tmpfs -o "size=$4" "local-$1" "$5"
    if [ "$3" != none ]; then
      # glusterd: its state, logs, sockets and pid files are per host; munge stays shared.
      mount --bind /run/munge "$2/$1/run/munge"
      mount --rbind "$2/$1/run" /run  # rbind: keeps the munge mount inside it
      mount --bind "$2/$1/glusterd" /var/lib/glusterd
      mount --bind "$2/$1/log" /var/log/glusterfs
    fi
    echo $$ >"$2/$1.pid"
    exec sleep infinity' anchor "$h" "$STATE" "$fs" "${LOCAL_SIZE:-1g}" "$LOCAL" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    [ -s "$STATE/$h.pid" ] && return 0
    sleep 0.05
  done
  die "host $h did not come up"
}

up() {
  local n=${1:-}
  shift || true
  local rate="" fs=none
  while [ $# -gt 0 ]; do
    case "$1" in
      --rate) rate=$2; shift 2 ;;
      --fs) fs=$2; shift 2 ;;
      *) die "up: unknown argument $1" ;;
    esac
  done
  case "$fs" in none | gluster | gluster:dispersed) ;; *) die "--fs: gluster or gluster:dispersed" ;; esac
  [ "$fs" = gluster:dispersed ] && [ "$n" -lt 3 ] && die "a dispersed volume needs 3 hosts or more"
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX_HOSTS ] || die "up N: N from 1 to $MAX_HOSTS"
  need_root
  if [ "$(host_count)" = "$n" ] && [ "$(cat "$STATE/rate" 2>/dev/null)" = "$rate" ] &&
      [ "$(cat "$STATE/fs" 2>/dev/null)" = "$fs" ] &&
      kill -0 "$(cat "$STATE/h1.pid" 2>/dev/null)" 2>/dev/null; then
    echo "cluster: $n hosts already up${rate:+, links at $rate}${fs/none/}"
    return 0
  fi
  down >/dev/null
  # Installed before the hosts exist: each host binds its own directories over the package's.
  [ "$fs" = none ] || apt_install glusterfs-server glusterfs-client
  mkdir -p "$STATE"
  {
    echo "127.0.0.1 localhost"
    for i in $(seq 1 "$n"); do echo "198.18.0.$i h$i"; done
  } >"$STATE/hosts"
  ip netns add $SWITCH
  ip -n $SWITCH link add br0 type bridge
  ip -n $SWITCH link set br0 up
  local i
  for i in $(seq 1 "$n"); do
    ip netns add "dtrain-h$i"
    ip link add ve0 netns "dtrain-h$i" type veth peer name "p$i" netns $SWITCH
    ip -n $SWITCH link set "p$i" master br0 up
    ip -n "dtrain-h$i" addr add "198.18.0.$i/24" dev ve0
    ip -n "dtrain-h$i" link set ve0 up
    ip -n "dtrain-h$i" link set lo up
    nsenter --net="/run/netns/dtrain-h$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    if [ -n "$rate" ]; then
      nsenter --net="/run/netns/dtrain-h$i" tc qdisc add dev ve0 root tbf rate "$rate" burst 256kb latency 20ms
    fi
    start_anchor "$i" "$fs"
  done
  echo "$n" >"$STATE/hosts.count"
  echo "$rate" >"$STATE/rate"
  echo "$fs" >"$STATE/fs"
  write_agent
  echo "cluster: $n hosts up (h1..h$n, 198.18.0.1-$n)${rate:+, links at $rate}"
  [ "$fs" = none ] || gluster_up "$n" "$fs"
}

# Every host's link reshaped in place (RATE: a tc rate, or none): running jobs see the change,
# as on a network that gets busy.
shape() {
  local rate=$1 n i
  n=$(host_count)
  [ "$n" -ge 1 ] || die "the cluster is not up ($0 up N)"
  for i in $(seq 1 "$n"); do
    if [ "$rate" = none ]; then
      nsenter --net="/run/netns/dtrain-h$i" tc qdisc del dev ve0 root 2>/dev/null || true
    else
      nsenter --net="/run/netns/dtrain-h$i" tc qdisc replace dev ve0 root tbf rate "$rate" burst 256kb latency 20ms
    fi
  done
  if [ "$rate" = none ]; then echo "" >"$STATE/rate"; else echo "$rate" >"$STATE/rate"; fi
  echo "cluster: links of h1..h$n now ${rate/none/unshaped}"
}

down() {
  if [ -s "$STATE/volumes" ]; then
    for f in "$STATE"/h*.pid; do  # unmount first: a FUSE client gone under a mount hangs readers
      local h name
      h=$(basename "$f" .pid)
      while read -r name; do
        on_host "$h" umount -l "/mnt/$name" 2>/dev/null || true
      done <"$STATE/volumes"
    done
  fi
  local pids=() ns p
  if [ -d "$STATE" ]; then
    for f in "$STATE"/h*.pid; do
      [ -s "$f" ] && pids+=("$(cat "$f")")
    done
  fi
  # Whatever still runs in a host (daemons started there) goes with it.
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^dtrain-(h[0-9]+|sw)$' || true); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
  done
  stop_pids "${pids[@]}" || true
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^dtrain-(h[0-9]+|sw)$' || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  # Open MPI's shared-memory files carry the host name: a rank killed on an emulated host (the
  # fault cases do that) leaves its vader segments behind in the one /dev/shm they all share.
  rm -f /dev/shm/vader_segment.h[0-9]*.* /dev/shm/osc_sm.h[0-9]*.*
  # Bricks live under $STATE: removed only once their daemons are gone (a brick daemon still
  # writing made `rm -rf` fail with "Directory not empty" on a loaded machine).
  for _ in 1 2 3 4 5; do
    rm -rf "$STATE" 2>/dev/null && break
    sleep 1
  done
  [ ! -e "$STATE" ] || die "down: cannot remove $STATE"
  echo "cluster: down"
}

on_host() {  # HOST CMD...: like `run`, returning
  local pid
  pid=$(anchor_pid "$1")
  shift
  nsenter -t "$pid" --root --net --mount --uts --wd="$PWD" -- "$@"
}

# The GlusterFS daemons on every host, joined into one pool, and the volume "gv" over them.
gluster_up() {
  local n=$1 fs=$2 i
  for i in $(seq 1 "$n"); do on_host "h$i" glusterd --log-level=WARNING; done
  wait_until 20 "glusterd on h1" on_host h1 gluster --mode=script pool list >/dev/null 2>&1
  for i in $(seq 2 "$n"); do on_host h1 gluster --mode=script peer probe "h$i" >/dev/null; done
  # Every host's view, not h1's alone: h1 learns of its peers first, and a volume created
  # before h2 sees h4 fails ("Staging failed on h2. Error: Host h4 not connected").
  pool_connected() {
    local j
    for j in $(seq 1 "$n"); do
      [ "$(on_host "h$j" gluster --mode=script pool list | grep -c Connected)" = "$n" ] || return 1
    done
  }
  wait_until 30 "every glusterd in the pool, as every host sees it" pool_connected
  local layout=distributed
  [ "$fs" = gluster:dispersed ] && layout=dispersed
  create_volume gv "$layout"
}

# create_volume NAME distributed|dispersed: a volume with a brick on every host, mounted at
# /mnt/NAME on every host, with the caching that lets a file written on one host be read whole
# on another at once.
create_volume() {
  local name=$1 layout=$2 n i bricks=() opts=()
  n=$(host_count)
  for i in $(seq 1 "$n"); do
    mkdir -p "$STATE/h$i/brick"
    bricks+=("h$i:$STATE/h$i/brick/$name")
  done
  [ "$layout" = dispersed ] && opts=(disperse "$n" redundancy 1)
  gl() { on_host h1 gluster --mode=script volume "$@" >/dev/null; }
  gl create "$name" "${opts[@]}" "${bricks[@]}" force
  # Coherence across hosts: without these, another host read stale sizes and contents for up to
  # about a second (../shared/notes/emulated-cluster.md), which a checkpoint must not meet.
  gl set "$name" group metadata-cache
  gl set "$name" performance.flush-behind off
  # A lost brick is noticed in seconds rather than the default 42 s.
  gl set "$name" network.ping-timeout 5
  gl start "$name"
  echo "$name" >>"$STATE/volumes"
  for i in $(seq 1 "$n"); do mount_volume "h$i" "$name"; done
  local kind=distributed
  [ "$layout" = dispersed ] && kind="dispersed, redundancy 1"
  echo "cluster: GlusterFS volume $name ($kind; a brick on each of h1..h$n) at /mnt/$name on every host"
}

# mount_volume HOST NAME: the volume at /mnt/NAME (gv: $GV) on HOST, that host its own server
# first.
mount_volume() {
  local host=$1 name=$2 servers
  servers=$(seq -s: 1 "$(host_count)" | sed 's/\([0-9]*\)/h\1/g')
  on_host "$host" mkdir -p "/mnt/$name"
  on_host "$host" mount -t glusterfs -o "backup-volfile-servers=$servers" "$host:/$name" "/mnt/$name"
}

volume() {
  local name=${1:-} layout=distributed
  [ "${2:-}" = --dispersed ] && layout=dispersed
  [[ $name =~ ^[a-z][a-z0-9]*$ ]] || die "volume NAME [--dispersed]: NAME in lower case letters and digits"
  [ "$(cat "$STATE/fs" 2>/dev/null || echo none)" != none ] ||
    die "volume needs a cluster with GlusterFS ($0 up N --fs gluster)"
  grep -qx "$name" "$STATE/volumes" 2>/dev/null && { echo "cluster: volume $name already up"; return 0; }
  create_volume "$name" "$layout"
}

# lose HOST: as when a node's power or link fails: the link goes down first (nothing more leaves
# or reaches it), then every process on it dies and its node-local store is wiped. The anchor
# stays, so that `return` can bring the host back.
lose() {
  local host=$1 anchor p
  anchor=$(anchor_pid "$host")
  [ "$host" != h1 ] || die "lose: h1 runs mpirun and slurmctld; lose another host"
  touch "$STATE/$host.lost"
  ip -n "dtrain-$host" link set ve0 down
  for p in $(ip netns pids "dtrain-$host"); do
    [ "$p" = "$anchor" ] || kill -KILL "$p" 2>/dev/null || true
  done
  on_host "$host" sh -c "rm -rf $LOCAL/* $LOCAL/.[!.]*" || true
  echo "cluster: $host lost (link down, its processes killed, $LOCAL wiped)"
}

# return HOST: a lost host comes back: link up, glusterd and its bricks started again, every
# volume mounted there again (its node-local store stays empty, as after a reboot).
return_host() {
  local host=$1 name
  anchor_pid "$host" >/dev/null
  [ -e "$STATE/$host.lost" ] || { echo "cluster: $host is not lost"; return 0; }
  ip -n "dtrain-$host" link set ve0 up
  rm -f "$STATE/$host.lost"
  if [ "$(cat "$STATE/fs" 2>/dev/null || echo none)" != none ]; then
    on_host "$host" glusterd --log-level=WARNING
    # As h1 sees it, and as the returned host sees every other.
    peer_back() {
      on_host h1 gluster --mode=script pool list | grep -E "\b$host\b" | grep -q Connected &&
        [ "$(on_host "$host" gluster --mode=script pool list | grep -c Connected)" = \
          "$(cat "$STATE/hosts.count")" ]
    }
    wait_until 60 "glusterd on $host back in the pool" peer_back
    while read -r name; do
      on_host h1 gluster --mode=script volume start "$name" force >/dev/null
      on_host "$host" umount -l "/mnt/$name" 2>/dev/null || true  # its client died with it
      mount_volume "$host" "$name"
    done <"$STATE/volumes"
    while read -r name; do
      wait_until 120 "every host's client of volume $name connected to every brick" clients_back "$name"
      wait_healed "$name" "$host"
    done <"$STATE/volumes"
  fi
  echo "cluster: $host back"
}

# clients_back NAME: on every host not lost, the volume's client is connected to every brick
# (what its protocol/client translators tell in the mount's .meta tree). The self-heal daemon
# can see a returned brick, and heal it, before a host's client has reconnected to it; what
# that client writes meanwhile (a job's new directories) misses the brick without a heal
# being started for it, and a second lost brick then leaves too few good copies: the
# directories answer "Stale file handle".
clients_back() {
  local name=$1 i states
  for i in $(seq 1 "$(host_count)"); do
    [ -e "$STATE/h$i.lost" ] && continue
    states=$(on_host "h$i" sh -c "cat /mnt/$name/.meta/graphs/active/$name-client-*/private" 2>/dev/null |
      awk '/^connected =/ { print $3 }') || return 1
    [ -n "$states" ] && ! grep -qv '^1$' <<<"$states" || return 1
  done
}

# wait_healed NAME HOST: a dispersed volume's returned brick healed of what changed while it
# was gone. Until then the volume survives no other lost brick: a second loss while heals
# were pending made its directories answer "Stale file handle" for good (seen in the bench).
# A file the lost host's own client was writing when it died can stay marked dirty on every
# brick at one version and never heal (GlusterFS 10: 2 of 6 losses of a host writing in a
# loop; heal info listed it on all four bricks for good); waiting for it would wait for ever
# and fail every later return. So an unchanged list, with every brick connected, for $stuck seconds
# ends the wait, naming what does not heal (such a file is garbage: removing it clears it).
wait_healed() {
  local name=$1 host=$2 pending last="" since=$SECONDS stuck=45
  on_host h1 gluster --mode=script volume info "$name" | grep -q '^Type: Disperse' || return 0
  healed_or_stuck() {
    on_host h1 gluster --mode=script volume heal "$name" >/dev/null 2>&1 || return 1
    pending=$(heal_pending "$name") || return 1
    [ "$pending" != 0 ] || return 0
    if [ "$pending" != "$last" ]; then
      last=$pending since=$SECONDS
      return 1
    fi
    [ $((SECONDS - since)) -ge "$stuck" ] || return 1
    echo "cluster: volume $name after $host's return: these entries have not changed in" \
      "${stuck}s and do not heal (files a lost client was writing): $(on_host h1 gluster \
        --mode=script volume heal "$name" info 2>/dev/null | grep '^/' | sort -u | tr '\n' ' ')" >&2
  }
  wait_until 300 "volume $name healed after $host's return" healed_or_stuck
}

# heal_pending NAME: the entries volume NAME still has to heal, summed over its bricks (as
# `gluster volume heal NAME info` counts them); prints nothing and fails while a brick does
# not answer, since its count is then unknown.
heal_pending() {
  local listed
  listed=$(on_host h1 gluster --mode=script volume heal "$1" info 2>/dev/null) || return 1
  ! grep -q "not connected" <<<"$listed" || return 1
  [ "$(grep -c 'Number of entries:' <<<"$listed")" = "$(host_count)" ] || return 1
  awk '/Number of entries:/ { s += $NF } END { print s + 0 }' <<<"$listed"
}

# Cold reads for benchmarks: the page cache dropped (bricks and clients share this machine's)
# and every FUSE client's cache emptied by unmounting and mounting the volume again.
drop_caches() {
  local n i
  n=$(host_count)
  [ "$n" -ge 1 ] && [ "$(cat "$STATE/fs" 2>/dev/null || echo none)" != none ] ||
    die "drop-caches needs a cluster with a GlusterFS volume ($0 up N --fs gluster)"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  for i in $(seq 1 "$n"); do
    on_host "h$i" umount -l "$GV"
    mount_volume "h$i" gv
  done
}

mpirun_on_hosts() {
  local n
  n=$(host_count)
  [ "$n" -ge 1 ] || die "the cluster is not up ($0 up N)"
  # Every host that is not lost, SLOTS ranks each (default 1), unless the caller gives a hostfile.
  local hostfile=(--hostfile "$STATE/hostfile")
  [[ " $* " == *" --hostfile "* ]] && hostfile=()
  for i in $(seq 1 "$n"); do
    [ -e "$STATE/h$i.lost" ] || echo "h$i slots=${SLOTS:-1}"
  done >"$STATE/hostfile"
  enter h1 mpirun --mca plm_rsh_agent "$STATE/rsh-agent" --mca plm_rsh_no_tree_spawn 1 \
    "${hostfile[@]}" --bind-to none "$@"
}

status() {
  local n
  n=$(host_count)
  [ "$n" -ge 1 ] || { echo "cluster: down"; return 0; }
  echo "cluster: $n hosts${STATE:+ (state in $STATE)}, links: $(cat "$STATE/rate" 2>/dev/null || true)"
  for i in $(seq 1 "$n"); do
    printf '  h%s  198.18.0.%s  anchor pid %s\n' "$i" "$i" "$(cat "$STATE/h$i.pid" 2>/dev/null || echo '?')"
  done
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  mpirun) mpirun_on_hosts "$@" ;;
  run) [ $# -ge 2 ] || die "run HOST CMD..."; enter "$@" ;;
  status) status ;;
  shape) [ $# -eq 1 ] || die "shape RATE|none"; shape "$1" ;;
  drop-caches) drop_caches ;;
  volume) volume "$@" ;;
  lose) [ $# -eq 1 ] || die "lose HOST"; lose "$1" ;;
  return) [ $# -eq 1 ] || die "return HOST"; return_host "$1" ;;
  pending) [ $# -eq 1 ] || die "pending VOLUME"; heal_pending "$1" ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
