#!/usr/bin/env bash
# Installs Debian/Ubuntu packages that are not installed yet: `apt-install.sh NAME PACKAGE...`
# (NAME prefixes the messages). Idempotent: nothing runs when every package is present. Needs root
# or passwordless sudo. apt holds a lock while another install runs (e.g. a setup script in
# parallel): it waits for the lock, and retries a failed install a few times.
set -euo pipefail
name="$1"
shift
packages=("$@")

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "$name: all packages present (${packages[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$name: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "$name: not root and no sudo; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "$name: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=120 update -qq &&
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "$name: done"
    exit 0
  fi
  echo "$name: apt-get failed (attempt $attempt of 3), retrying in 10 s" >&2
  sleep 10
done
echo "$name: could not install ${missing[*]}" >&2
exit 1
