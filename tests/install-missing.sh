# Sourced by the test setup scripts: quiet commands and Debian packages installed only when
# missing (with sudo only when not root).

# Runs a command with its output held back unless it fails.
quiet() {
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then cat "$log" >&2; fi
  rm -f "$log"
  return "$rc"
}

# Installs these Debian packages (one apt-get update for all); a no-op without arguments.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  quiet "${sudo[@]}" apt-get update -q
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}
