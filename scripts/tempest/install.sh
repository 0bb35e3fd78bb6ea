#!/usr/bin/env bash
# Installs tempest 33 and cinder-tempest-plugin 1.7.2 from Debian 12's apt (about 12 s on a machine that already has
# keystone's Python dependencies, which scripts/servers/keystone.sh installs). Idempotent: does nothing when both
# import with /usr/bin/python3. Run as root.
set -euo pipefail

PY=/usr/bin/python3
log() { echo "tempest/install.sh: $*" >&2; }

installed() {
  command -v tempest >/dev/null 2>&1 && command -v stestr >/dev/null 2>&1 && [[ -x $PY ]] &&
    "$PY" -c 'import tempest, cinder_tempest_plugin, subunit, testtools' 2>/dev/null
}

if installed; then
  log "tempest $(dpkg-query -W -f='${Version}' python3-tempest 2>/dev/null || echo '?'), cinder-tempest-plugin $(dpkg-query -W -f='${Version}' cinder-tempest-plugin 2>/dev/null || echo '?') already installed"
  exit 0
fi
[[ $(id -u) == 0 ]] || { log "not installed and not root: apt-get install python3-tempest cinder-tempest-plugin"; exit 1; }

started=$(date +%s.%N)
export DEBIAN_FRONTEND=noninteractive
pkgs=(python3-tempest cinder-tempest-plugin python3-subunit python3-stestr python3)
logfile=$(mktemp /tmp/tempest-install.XXXXXX.log)
if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >"$logfile" 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -q >>"$logfile" 2>&1
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >>"$logfile" 2>&1 || {
    tail -n 30 "$logfile" >&2; log "apt-get install ${pkgs[*]} failed (log: $logfile)"; exit 1; }
fi
installed || { log "installed, but tempest or cinder_tempest_plugin does not import with $PY"; exit 1; }
rm -f "$logfile"
log "installed in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
