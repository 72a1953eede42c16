#!/usr/bin/env bash
# Installs Debian's Chromium for the playground's browser check (apps/playground/e2e): playwright-core
# drives /usr/bin/chromium through its executablePath, so no browser is ever downloaded by npm.
# Debian's package is `chromium`; Ubuntu's `chromium` is a snap shim that cannot run here, so on
# Ubuntu point CHROMIUM_PATH at a Chromium or Chrome binary instead.
#
# Idempotent: nothing runs when the package is installed. Needs root (or passwordless sudo).
set -euo pipefail

packages=(chromium)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-chromium: all packages present (${packages[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium: apt-get not found; install Chromium by hand and set CHROMIUM_PATH to its binary" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "setup-chromium: not root and no sudo; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup-chromium: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt has one lock: another set-up script may hold it for a moment.
for attempt in 1 2 3 4 5; do
  if "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "setup-chromium: done"
    exit 0
  fi
  echo "setup-chromium: apt-get failed (attempt $attempt; the apt lock?), retrying in 10 s" >&2
  sleep 10
done
echo "setup-chromium: could not install ${missing[*]}" >&2
exit 1
