#!/usr/bin/env bash
# Installs Open MPI (mpirun and libmpi.so.40), which @convoy/cluster loads through koffi for
# training across hosts, and which the multi-process tests launch (`mpirun -np 2` on 127.0.0.1).
# A single-host run never needs it.
#
# Idempotent: packages already installed are skipped, and nothing runs when all are present.
# Needs root (or passwordless sudo) on Debian/Ubuntu.
set -euo pipefail

packages=(openmpi-bin libopenmpi-dev)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-mpi: all packages present (${packages[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-mpi: apt-get not found; install Open MPI by hand (${missing[*]} on Debian/Ubuntu)" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "setup-mpi: not root and no sudo; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup-mpi: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt holds a lock while another install runs (e.g. setup-gl.sh in parallel): wait for it.
for attempt in 1 2 3 4 5; do
  if "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=120 update -qq &&
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "setup-mpi: done"
    exit 0
  fi
  echo "setup-mpi: apt-get failed (attempt $attempt), retrying in 10 s" >&2
  sleep 10
done
echo "setup-mpi: could not install ${missing[*]}" >&2
exit 1
