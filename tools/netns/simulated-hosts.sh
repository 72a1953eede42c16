#!/usr/bin/env bash
# Two simulated hosts on this machine for measuring training across hosts: network namespaces
# convoy-a (10.77.0.1) and convoy-b (10.77.0.2) joined by a veth pair, each end shaped to a
# 1 Gbit/s link with a token bucket (tc tbf). The addresses exist only inside these namespaces.
# Processes reach the second host through ./netns-ssh (mpirun's plm_rsh_agent), a stand-in for
# ssh that runs the command in the namespace the address belongs to.
#
#   bash tools/netns/simulated-hosts.sh up [rate]   # rate default 1gbit (tc syntax: 10gbit, 500mbit)
#   bash tools/netns/simulated-hosts.sh down
#   bash tools/netns/simulated-hosts.sh status
# Needs root (ip netns, tc). Idempotent: `up` first removes what an earlier `up` left.
set -euo pipefail

A=convoy-a
B=convoy-b
cmd="${1:-status}"
rate="${2:-1gbit}"

down() {
  ip netns del "$A" 2>/dev/null || true # deleting a namespace deletes the veth end in it, and so the pair
  ip netns del "$B" 2>/dev/null || true
}

case "$cmd" in
  up)
    if [ "$(id -u)" -ne 0 ]; then echo "simulated-hosts: needs root (ip netns, tc)" >&2; exit 1; fi
    down
    ip netns add "$A"
    ip netns add "$B"
    ip link add convoy-va type veth peer name convoy-vb
    ip link set convoy-va netns "$A"
    ip link set convoy-vb netns "$B"
    ip -n "$A" addr add 10.77.0.1/24 dev convoy-va
    ip -n "$B" addr add 10.77.0.2/24 dev convoy-vb
    for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
    ip -n "$A" link set convoy-va up
    ip -n "$B" link set convoy-vb up
    # Shape each direction: the bucket holds about 1 ms of traffic at the rate (a smaller one starves
    # TCP at 1 Gbit/s: the kernel refills it once per timer tick); at most 10 ms of queue.
    burst="$(awk -v r="$rate" 'BEGIN { n = r + 0; u = substr(r, length(n) + 1); m = (u ~ /^g/) ? 1e9 : (u ~ /^m/) ? 1e6 : (u ~ /^k/) ? 1e3 : 1; b = n * m / 8 / 1000; if (b < 16000) b = 16000; printf "%d", b }')"
    ip netns exec "$A" tc qdisc add dev convoy-va root tbf rate "$rate" burst "$burst" latency 10ms
    ip netns exec "$B" tc qdisc add dev convoy-vb root tbf rate "$rate" burst "$burst" latency 10ms
    echo "simulated-hosts: $A 10.77.0.1 <-> $B 10.77.0.2 at $rate"
    ;;
  down)
    down
    echo "simulated-hosts: removed $A and $B"
    ;;
  status)
    ip netns list | grep -E "^($A|$B)( |$)" || echo "simulated-hosts: not set up"
    for ns in "$A" "$B"; do ip netns exec "$ns" tc qdisc show 2>/dev/null | grep tbf || true; done
    ;;
  *)
    echo "usage: $0 up [rate] | down | status" >&2
    exit 2
    ;;
esac
