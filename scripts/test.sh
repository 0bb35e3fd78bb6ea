#!/usr/bin/env bash
# The test command (README): install, build, run every package's tests (each starts the servers it needs),
# then print one total line: "N passed, N failed, N skipped". Fails when a test failed or none ran.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

pnpm install --frozen-lockfile
rm -f packages/*/test-results.json apps/*/test-results.json examples/*/test-results.json integration/*/test-results.json
pnpm exec turbo run build
status=0
# One package at a time: the 2-core machines run servers and 1 GiB volumes; parallel suites only fight.
pnpm exec turbo run test --concurrency=1 --continue || status=$?
node scripts/test-totals.mjs || status=$?
exit "$status"
