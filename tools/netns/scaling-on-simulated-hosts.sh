#!/usr/bin/env bash
# `convoy scaling --ranks 2` across two simulated hosts (see simulated-hosts.sh): 1 process x 1
# and x 2 threads in namespace convoy-a, then 2 processes x 1 thread, one per namespace, over the
# shaped veth link, mpirun reaching convoy-b through netns-ssh. Extra arguments go to
# `convoy scaling` (e.g. --steps 10 --rounds 3 --json). RATE=10gbit changes the link.
# Needs root and a built trainer (npx nx run trainer:build). Removes the namespaces when done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/simulated-hosts.sh" up "${RATE:-1gbit}" >&2
trap 'bash "$here/simulated-hosts.sh" down >&2' EXIT
mpirun_args="--mca plm_rsh_agent $here/netns-ssh --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24"
ip netns exec convoy-a unshare --uts /bin/sh -c 'hostname convoy-a && exec "$@"' sh \
  node "$root/apps/trainer/bin/convoy.js" scaling --ranks 2 --hosts 10.77.0.1,10.77.0.2 --mpirun-args "$mpirun_args" "$@"
