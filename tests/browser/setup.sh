#!/usr/bin/env bash
# Prepares the browser tests: Debian chromium, nodejs and npm where missing, pinned npm deps,
# bundle.
# Idempotent and quiet (a failing step's output is shown); safe before every run.
set -euo pipefail
cd "$(dirname "$0")"

. ../install-missing.sh

# Debian packages, each only when missing.
missing=()
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! command -v node >/dev/null; then missing+=(nodejs); fi
if ! command -v npm >/dev/null; then missing+=(npm); fi
apt_install "${missing[@]}"

# Playwright and the AWS and Chime SDKs need Node.js 20 (Debian 12's nodejs is 18; Debian 13's
# is 20): say so now rather than fail inside the browser tests.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "tests/browser: Node.js $(node --version) is too old; the browser tests need 20 or" \
    "newer (e.g. from NodeSource), or set STSGATE_SKIP_BROWSER=1 to skip them" >&2
  exit 1
fi

# Reinstall only when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  quiet npm ci --no-audit --no-fund
  touch node_modules
fi

node_modules/.bin/esbuild src/sdk-page.js --bundle --format=iife --platform=browser \
  --main-fields=browser,module,main --define:global=globalThis \
  --outfile=dist/sdk-page.js --log-level=warning
