#!/usr/bin/env bash
# Installs Debian's Chromium for the playground's browser check (apps/playground/e2e): playwright-core
# drives /usr/bin/chromium through its executablePath, so no browser is ever downloaded by npm.
# Debian's package is `chromium`; Ubuntu's `chromium` is a snap shim that cannot run here, so on
# Ubuntu point CHROMIUM_PATH at a Chromium or Chrome binary instead.
#
# Idempotent: nothing runs when the package is installed. Needs root (or passwordless sudo).
set -euo pipefail

exec bash "$(dirname "$0")/apt-install.sh" setup-chromium chromium
