#!/usr/bin/env bash
# A multi-rank test program under mpirun on a transport preset (jobs/transport.sh; TCP ones
# on lo):   launch.sh NP TRANSPORT PROGRAM ARGS...
. "$(dirname "$0")/../integration/lib.sh"
np=$1 transport=$2
shift 2
read -ra flags <<<"$(transport_args "$transport")" || exit 2
exec mpirun --oversubscribe --bind-to none -np "$np" "${flags[@]}" "$@"
