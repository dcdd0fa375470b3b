# Open MPI transport presets, one table for the job scripts (jobs/common.sh), the tests and the
# benchmarks (scripts/lib.sh). Sourced, not run.
#   default   Open MPI's choice (vader between local ranks; dtrain picks osc across nodes)
#   tcp       ob1 over TCP, osc pt2pt
#   ucx       UCX with the site's UCX_TLS and UCX_NET_DEVICES (InfiniBand: rc,sm and mlx5_0:1)
#   ucx-sm    UCX over shared memory only
#   ucx-tcp   UCX over TCP
#   sm, rdma  ob1 over vader with osc sm / osc rdma (one node; the transport benchmark)
# DTRAIN_NET_IF=IFACE keeps the TCP ones on one interface (the tests use lo).
#   dtrain_transport_env NAME    exports OMPI_MCA_* and UCX_* (srun and mpirun ranks read them)
#   dtrain_transport_args NAME   prints the same as mpirun arguments (--mca K V, -x VAR=VALUE)

# dtrain_transport_settings NAME: one KEY=VALUE per word; UCX_* are environment variables, the
# rest MCA parameters.
dtrain_transport_settings() {
  local ucx="pml=ucx osc=ucx opal_common_ucx_tls=any opal_common_ucx_devices=any"
  local net=${DTRAIN_NET_IF:-}
  case "$1" in
    default) ;;
    tcp) echo "pml=ob1 btl=self,tcp osc=pt2pt${net:+ btl_tcp_if_include=$net}" ;;
    ucx) echo "$ucx" ;;
    ucx-sm) echo "$ucx UCX_TLS=self,sm" ;;
    ucx-tcp) echo "$ucx UCX_TLS=self,tcp${net:+ UCX_NET_DEVICES=$net}" ;;
    sm) echo "pml=ob1 btl=self,vader osc=sm" ;;
    rdma) echo "pml=ob1 btl=self,vader osc=rdma osc_rdma_btls=vader" ;;
    *)
      echo "transport '$1': expected default, tcp, ucx, ucx-sm, ucx-tcp, sm or rdma" >&2
      return 2
      ;;
  esac
}

dtrain_transport_env() {
  local settings kv
  settings=$(dtrain_transport_settings "$1") || return
  for kv in $settings; do
    case "$kv" in
      UCX_*) export "${kv?}" ;;
      *) export "OMPI_MCA_$kv" ;;
    esac
  done
}

dtrain_transport_args() {
  local settings kv
  settings=$(dtrain_transport_settings "$1") || return
  for kv in $settings; do
    case "$kv" in
      UCX_*) printf -- '-x %s ' "$kv" ;;
      *) printf -- '--mca %s %s ' "${kv%%=*}" "${kv#*=}" ;;
    esac
  done
}
