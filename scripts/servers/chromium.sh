#!/usr/bin/env bash
# Finds Debian's headless-capable Chromium for the status page test, installing it with apt-get when missing.
#
#   chromium.sh path   prints the browser's executable path as the last line of stdout (exit 1 when unavailable)
#
# As root (CI: a fresh machine) a missing browser is installed with apt-get, like the other server scripts install
# their packages. No browser is ever downloaded by an npm package.
set -euo pipefail

command=${1:?usage: chromium.sh path}
[[ "$command" == path ]] || { echo "usage: chromium.sh path" >&2; exit 2; }

find_browser() {
  local candidate
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  return 1
}

if ! find_browser >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "chromium.sh: Chromium not found; installing it with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 || {
      apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
    }
  fi
fi
find_browser || { echo "chromium.sh: no chromium on PATH (apt-get install chromium, as root)" >&2; exit 1; }
