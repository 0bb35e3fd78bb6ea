# Sourced by the project's scripts: the toolchain this repository is built with (see docs/testing.md).
# Installs pnpm when missing; sets what native builds and quiet tools need on this machine kind.
set -euo pipefail
PNPM_VERSION=12.4.2
if ! command -v node >/dev/null 2>&1; then
  echo "Node.js 20 or newer is required (node not found on PATH)" >&2
  exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node.js 20 or newer is required (found $(node --version))" >&2
  exit 1
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "installing pnpm $PNPM_VERSION with npm" >&2
  npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
fi
# node-gyp (better-sqlite3) must build against the local Node headers, never download them.
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NO_COLOR=1 FORCE_COLOR=0
