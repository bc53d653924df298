#!/usr/bin/env bash
# What the test suite needs besides Rust, installed only where missing: the pinned boto3/botocore
# (the foreign SigV4 verifier and a real Python client), and the browser tests' Chromium and npm
# packages (real JavaScript clients).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
# Debian's Chromium, the pinned npm SDKs and Playwright, and the bundled test page.
tests/browser/setup.sh
