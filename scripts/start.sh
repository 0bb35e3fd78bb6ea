#!/usr/bin/env bash
# The set-up-and-run command (README): install, build, and serve the embedded default
# (SQLite + posix under ./data or $STOWAGE_STATE_PATH, noauth on 127.0.0.1:8776).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
pnpm install --frozen-lockfile
pnpm exec turbo run build
exec pnpm start
