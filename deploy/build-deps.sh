#!/usr/bin/env bash
# The system libraries stsgate builds against, on Debian or Ubuntu; installs only what is missing.
# SAML signatures are verified by xmlsec (through samael): libxml2, libxmlsec1 with its OpenSSL
# engine, and libclang for the bindings generated at build time.
set -euo pipefail

packages=(libclang-dev libxml2-dev libxmlsec1-dev libssl-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
echo "installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
