#!/usr/bin/env bash
# What the test suite needs besides Rust, installed only where missing, so a fresh Debian machine
# works: python3 with pip and the pinned boto3/botocore (the foreign SigV4 verifier and a real
# Python client), the browser tests' Chromium, Node.js and npm packages (real JavaScript
# clients), and Debian's redis-server and redis-cli (the shared session store's tests).
# Idempotent and quiet. STSGATE_SKIP_BOTOCORE / STSGATE_SKIP_BROWSER skip a part (and
# the tests that need it).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/install-missing.sh

# A real Redis for the shared session tier (started on loopback by the tests themselves).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install redis-server redis-tools
fi

if [ -z "${STSGATE_SKIP_BOTOCORE:-}" ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
  # The pinned versions already there: nothing to do (and no index to ask).
  if ! python3 - tests/clients/requirements.txt <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    name, _, pinned = line.strip().partition("==")
    if name and version(name) != pinned:
        sys.exit(1)
PY
  then
    # Debian's python3 is "externally managed" (PEP 668): pip then installs to /usr/local (or
    # the user's site) only when told to; Debian's own packages are left alone.
    managed=()
    if python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
      managed=(--break-system-packages)
    fi
    quiet python3 -m pip install --disable-pip-version-check "${managed[@]}" \
      -r tests/clients/requirements.txt
  fi
fi

# Debian's Chromium, Node.js, the pinned npm SDKs and Playwright, and the bundled test page.
if [ -z "${STSGATE_SKIP_BROWSER:-}" ]; then
  tests/browser/setup.sh
fi
