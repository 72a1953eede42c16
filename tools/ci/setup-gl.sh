#!/usr/bin/env bash
# Installs what headless-gl (npm `gl`, gpu.js's optional dependency) needs to BUILD from source
# during `npm ci`, and what its GL path needs to RUN headless: an X server in memory (Xvfb) and
# Mesa's software renderer (llvmpipe). Run it before `npm ci`: gl has no prebuilt binary that
# this machine can fetch, so its install script compiles it against these headers.
#
# Idempotent: packages already installed are skipped, and nothing runs when all are present.
# Needs root (or passwordless sudo) on Debian/Ubuntu.
set -euo pipefail

# build: X11/Xi/Xext headers + pkg-config (gl's binding.gyp links them; python3, make and g++ too)
# run:   xvfb (xvfb-run) + libgl1-mesa-dri (llvmpipe, the software GL driver)
packages=(libx11-dev libxi-dev libxext-dev pkg-config python3 make g++ xvfb xauth libgl1-mesa-dri)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-gl: all packages present (${packages[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-gl: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "setup-gl: not root and no sudo; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup-gl: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-gl: done"
