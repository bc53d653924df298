#!/usr/bin/env bash
# Prepares the browser tests: Debian chromium, pinned npm deps, bundle.
# Idempotent and quiet (a failing step's output is shown); safe before every run.
set -euo pipefail
cd "$(dirname "$0")"

# Runs a command with its output held back unless it fails.
quiet() {
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then cat "$log" >&2; fi
  rm -f "$log"
  return "$rc"
}

if [ ! -x /usr/bin/chromium ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  quiet "${sudo[@]}" apt-get update -q
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends chromium
fi

# Reinstall only when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  quiet npm ci --no-audit --no-fund
  touch node_modules
fi

node_modules/.bin/esbuild src/sdk-page.js --bundle --format=iife --platform=browser \
  --main-fields=browser,module,main --define:global=globalThis \
  --outfile=dist/sdk-page.js --log-level=warning
