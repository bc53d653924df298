#!/usr/bin/env bash
# What the test suite needs besides Rust, installed only where missing: the pinned boto3/botocore
# (the foreign SigV4 verifier and the real Python client).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
