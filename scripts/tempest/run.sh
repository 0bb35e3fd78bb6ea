#!/usr/bin/env bash
# Runs tempest 33's volumes_backup API tests and cinder-tempest-plugin's backup tests that need neither nova, glance
# nor snapshots (the list is scripts/tempest/tests.txt) against a running Stowage, with Keystone for identity.
#
#   run.sh <state> <stowage-url> [--serial | --concurrency N] [--list] [--allow-unreachable]
#
#   <state>        folder of scripts/servers/keystone.sh: when <state>/keystone.env exists and that Keystone answers,
#                  it is used; otherwise Keystone is started there and stopped again when run.sh ends. The tempest
#                  workspace is <state>/tempest (made anew on every run).
#   <stowage-url>  Stowage's Block Storage v3 URL, e.g. http://127.0.0.1:8776/v3 (registered in the catalog as
#                  volumev3 and block-storage, "/%(project_id)s" appended).
#   --list         only initialise the workspace and list the tests that would run (Stowage need not be up)
#   --allow-unreachable   run even when nothing listens at <stowage-url> (every test then fails)
#
# Prints tempest's output, then the skipped tests with their reasons, the failed tests, and the totals as
# `Passed: N`, `Skipped: N`, `Failed: N`. Exits non-zero on any failure, or when no test passed.
# Environment: TEMPEST_BUILD_TIMEOUT (s, default 120), TEMPEST_BUILD_INTERVAL (s, default 1),
# TEMPEST_MAX_MICROVERSION (default 3.70), TEMPEST_TIMEOUT (whole run, s, default 1800).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KEYSTONE_SH=$HERE/../servers/keystone.sh
PY=/usr/bin/python3

die() { echo "tempest/run.sh: $*" >&2; exit 1; }
log() { echo "tempest/run.sh: $*" >&2; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 2 ]] || usage
mkdir -p "$1"
STATE=$(realpath "$1")
STOWAGE_URL=${2%/}
shift 2
CONCURRENCY=(--concurrency 2)
LIST_ONLY=0
ALLOW_UNREACHABLE=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --serial) CONCURRENCY=(--serial); shift ;;
    --concurrency) CONCURRENCY=(--concurrency "${2:?}"); shift 2 ;;
    --list) LIST_ONLY=1; shift ;;
    --allow-unreachable) ALLOW_UNREACHABLE=1; shift ;;
    *) usage ;;
  esac
done

WS=$STATE/tempest
OWN_KEYSTONE=0
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $OWN_KEYSTONE == 1 ]]; then bash "$KEYSTONE_SH" stop "$STATE" || true; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

bash "$HERE/install.sh"

# Keystone: reuse the one of <state>, or start one for this run.
if [[ -f $STATE/keystone.env ]] && bash "$KEYSTONE_SH" status "$STATE" >/dev/null 2>&1; then
  log "using Keystone of $STATE"
  bash "$KEYSTONE_SH" set-volume-endpoint "$STATE" "$STOWAGE_URL"
else
  log "starting Keystone in $STATE"
  OWN_KEYSTONE=1
  bash "$KEYSTONE_SH" start "$STATE" --volume-endpoint "$STOWAGE_URL" >/dev/null
fi
set -a
# shellcheck disable=SC1091
source "$STATE/keystone.env"
set +a

# Tempest workspace, registered in a workspace file of its own (tempest init would otherwise write
# ~/.tempest/workspace.yaml).
t0=$(date +%s.%N)
rm -rf "$WS" "$STATE/tempest-workspace.yaml"
mkdir -p "$STATE/tempest-home"
# tempest init and run also read ~/.tempest; keep HOME inside the state folder so nothing is left in /root.
export HOME=$STATE/tempest-home
tempest init --name "stowage-$(basename "$STATE")" --workspace-path "$STATE/tempest-workspace.yaml" "$WS" \
  >"$STATE/tempest-init.log" 2>&1 || { cat "$STATE/tempest-init.log" >&2; die "tempest init $WS failed"; }
"$PY" - "$HERE/tempest.conf.template" "$WS/etc/tempest.conf" <<EOF
import sys
values = {
    "ADMIN_USERNAME": "$KEYSTONE_ADMIN_USERNAME",
    "ADMIN_PASSWORD": "$KEYSTONE_ADMIN_PASSWORD",
    "ADMIN_PROJECT": "$KEYSTONE_ADMIN_PROJECT",
    "AUTH_URL": "$OS_AUTH_URL",
    "REGION": "$OS_REGION_NAME",
    "LOCK_PATH": "$WS/tempest_lock",
    "BUILD_INTERVAL": "${TEMPEST_BUILD_INTERVAL:-1}",
    "BUILD_TIMEOUT": "${TEMPEST_BUILD_TIMEOUT:-120}",
    "MAX_MICROVERSION": "${TEMPEST_MAX_MICROVERSION:-3.70}",
}
text = open(sys.argv[1]).read()
for key, value in values.items():
    text = text.replace("@%s@" % key, value)
if "@" in "".join(l for l in text.splitlines() if not l.lstrip().startswith("#")):
    raise SystemExit("tempest/run.sh: unfilled placeholder left in tempest.conf")
open(sys.argv[2], "w").write(text)
EOF
log "workspace $WS ready in $(elapsed "$t0") s"
cd "$WS"

if [[ $LIST_ONLY == 1 ]]; then
  t0=$(date +%s.%N)
  tempest run --config-file "$WS/etc/tempest.conf" --include-list "$HERE/tests.txt" --list-tests >"$WS/list.txt" 2>&1 ||
    { cat "$WS/list.txt" >&2; die "tempest run --list-tests failed"; }
  # The listing is preceded by stestr's own lines; test ids are the lines that look like module paths.
  grep -E '^(tempest|cinder_tempest_plugin)\.' "$WS/list.txt" | sort | tee "$WS/tests-listed.txt"
  log "$(wc -l <"$WS/tests-listed.txt") tests listed in $(elapsed "$t0") s"
  exit 0
fi

# Fail fast with a clear message when Stowage is not listening (every test would fail on a connection error).
if [[ $ALLOW_UNREACHABLE == 0 ]]; then
  "$PY" - "$STOWAGE_URL" <<'EOF' || die "nothing answers at $STOWAGE_URL: start Stowage first (or pass --allow-unreachable)"
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
socket.create_connection((u.hostname, u.port or 80), timeout=5).close()
EOF
fi

t0=$(date +%s.%N)
rc=0
timeout --kill-after=30 "${TEMPEST_TIMEOUT:-1800}" \
  tempest run --config-file "$WS/etc/tempest.conf" --include-list "$HERE/tests.txt" "${CONCURRENCY[@]}" || rc=$?
log "tempest run exited $rc after $(elapsed "$t0") s (log: $WS/tempest.log)"
[[ $rc == 124 || $rc == 137 ]] && log "tempest run hit TEMPEST_TIMEOUT=${TEMPEST_TIMEOUT:-1800} s"

echo
summary_rc=0
if stestr last --subunit >"$WS/results.subunit" 2>/dev/null; then
  "$PY" "$HERE/summary.py" <"$WS/results.subunit" || summary_rc=$?
else
  log "no stestr results in $WS/.stestr"
  printf 'Passed: 0\nSkipped: 0\nFailed: 0\n'
  summary_rc=1
fi
[[ $rc == 0 && $summary_rc == 0 ]] || exit 1
