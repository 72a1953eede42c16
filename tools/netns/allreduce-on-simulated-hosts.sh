#!/usr/bin/env bash
# The all-reduce alone across the two simulated hosts of simulated-hosts.sh, for the measured
# points next to docs/DISTRIBUTED.md's cost model: median ms of 1.15 MB and 44 MB at each link
# rate given (default 1gbit 10gbit). Needs root and a built @convoy/cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
trap 'bash "$here/simulated-hosts.sh" down >/dev/null' EXIT
for rate in "${@:-1gbit 10gbit}"; do
  for r in $rate; do
    bash "$here/simulated-hosts.sh" up "$r" >/dev/null
    printf '%s: ' "$r"
    ip netns exec convoy-a unshare --uts /bin/sh -c 'hostname convoy-a && exec "$@"' sh \
      mpirun --allow-run-as-root --bind-to none -np 2 --host 10.77.0.1,10.77.0.2 --map-by node \
      --mca plm_rsh_agent "$here/netns-ssh" --mca btl tcp,self \
      --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
      node "$here/allreduce-time.cjs" 2>&1 | grep -v 'setpgid'
  done
done
