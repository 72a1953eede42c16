#!/usr/bin/env bash
# Installs Open MPI (mpirun and libmpi.so.40), which @convoy/cluster loads through koffi for
# training across hosts, and which the multi-process tests launch (`mpirun -np 2` on 127.0.0.1).
# A single-host run never needs it. Idempotent; needs root (or passwordless sudo) on Debian/Ubuntu.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" setup-mpi openmpi-bin libopenmpi-dev
