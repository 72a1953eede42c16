#!/usr/bin/env bash
# Installs oneDNN 2.x (libdnnl.so.2, and its C headers), which @convoy/native loads through koffi
# for the native kernel backend (`--backend native`; `auto` takes it when it is healthy). Without
# it every run uses the WebAssembly kernels. Debian 12 ships oneDNN 2.6 as libdnnl2; a distro with
# only oneDNN 3.x is refused by the backend with that reason. Idempotent; needs root (or
# passwordless sudo) on Debian/Ubuntu.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" setup-native libdnnl2 libdnnl-dev
