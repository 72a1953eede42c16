#!/usr/bin/env bash
# Installs what headless-gl (npm `gl`, gpu.js's optional dependency) needs to BUILD from source
# during `npm ci`, and what its GL path needs to RUN headless: an X server in memory (Xvfb) and
# Mesa's software renderer (llvmpipe). Run it before `npm ci`: gl has no prebuilt binary that
# this machine can fetch, so its install script compiles it against these headers.
#
# Idempotent (packages already installed are skipped; see apt-install.sh). Needs root (or
# passwordless sudo) on Debian/Ubuntu.
set -euo pipefail

# build: X11/Xi/Xext headers + pkg-config (gl's binding.gyp links them; python3, make and g++ too;
#        ANGLE's gyp files call plain `python`, which python-is-python3 provides where no other
#        `python` is on PATH)
# run:   xvfb (xvfb-run) + libgl1-mesa-dri (llvmpipe, the software GL driver)
packages=(libx11-dev libxi-dev libxext-dev pkg-config python3 python-is-python3 make g++ xvfb xauth libgl1-mesa-dri)

exec bash "$(dirname "$0")/apt-install.sh" setup-gl "${packages[@]}"
