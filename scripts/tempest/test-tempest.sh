#!/usr/bin/env bash
# The whole tempest job: Keystone, then Stowage, then tempest, then everything stopped by PID (also on failure).
# Meant to back `pnpm test:tempest`.
#
#   test-tempest.sh [--state DIR] [--keep] [run.sh options] -- <command that runs Stowage in the foreground...>
#
# 1. picks a free loopback port for Stowage and starts Keystone (scripts/servers/keystone.sh) in <state>/keystone
#    with volumev3/block-storage at http://127.0.0.1:<port>/v3/%(project_id)s;
# 2. runs the command in its own process group with keystone.env's variables in its environment, plus
#    STOWAGE_TEMPEST_STATE (a folder it may use), STOWAGE_TEMPEST_PORT (the port to listen on, 127.0.0.1) and
#    STOWAGE_TEMPEST_URL; its output goes to <state>/stowage.log;
# 3. waits (STOWAGE_READY_TIMEOUT, default 60 s) until GET http://127.0.0.1:<port>/ answers with any HTTP status;
# 4. runs scripts/tempest/run.sh <state>/keystone <url> [run.sh options] and exits with its status.
# <state> defaults to a new folder under /tmp, removed at the end unless --keep (kept anyway on failure).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KEYSTONE_SH=$HERE/../servers/keystone.sh
PY=/usr/bin/python3

die() { echo "tempest/test-tempest.sh: $*" >&2; exit 1; }
log() { echo "tempest/test-tempest.sh: $*" >&2; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

STATE='' KEEP=0 RUN_OPTS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --state) STATE=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --) shift; break ;;
    *) RUN_OPTS+=("$1"); shift ;;
  esac
done
[[ $# -ge 1 ]] || usage
if [[ -z $STATE ]]; then
  STATE=$(mktemp -d /tmp/stowage-tempest.XXXXXX)
  # mktemp makes it 0700: PostgreSQL's initdb, run as user postgres below it, could not enter it.
  chmod 755 "$STATE"
else
  KEEP=1; mkdir -p "$STATE"; STATE=$(realpath "$STATE")
fi

pid_alive() {
  local st
  [[ -r /proc/$1/stat ]] || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}
port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

STOWAGE_PID=''
stop_stowage() {
  [[ -n $STOWAGE_PID ]] || return 0
  local deadline
  # The command runs in a process group of its own (setsid): TERM the whole group, e.g. pnpm and its node child.
  kill -TERM -- "-$STOWAGE_PID" 2>/dev/null || kill -TERM "$STOWAGE_PID" 2>/dev/null || true
  deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    if ! pid_alive "$STOWAGE_PID" && ! port_listening "$STOWAGE_PORT"; then break; fi
    sleep 0.2
  done
  if pid_alive "$STOWAGE_PID" || port_listening "$STOWAGE_PORT"; then
    log "Stowage (process group $STOWAGE_PID) still there after 15 s: SIGKILL"
    kill -KILL -- "-$STOWAGE_PID" 2>/dev/null || true
  fi
  STOWAGE_PID=''
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_stowage || true
  bash "$KEYSTONE_SH" stop "$STATE/keystone" || true
  if [[ $KEEP == 0 && $rc == 0 ]]; then rm -rf "$STATE"; else log "state kept in $STATE"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$HERE/install.sh"
STOWAGE_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STOWAGE_URL=http://127.0.0.1:$STOWAGE_PORT/v3
bash "$KEYSTONE_SH" start "$STATE/keystone" --volume-endpoint "$STOWAGE_URL" --watch-pid "$$" >/dev/null

log "starting Stowage on 127.0.0.1:$STOWAGE_PORT: $*"
(
  set -a
  # shellcheck disable=SC1091
  source "$STATE/keystone/keystone.env"
  set +a
  export STOWAGE_TEMPEST_STATE=$STATE STOWAGE_TEMPEST_PORT=$STOWAGE_PORT STOWAGE_TEMPEST_URL=$STOWAGE_URL
  exec setsid "$@"
) </dev/null >"$STATE/stowage.log" 2>&1 &
STOWAGE_PID=$!

t0=$SECONDS
deadline=$((SECONDS + ${STOWAGE_READY_TIMEOUT:-60}))
until "$PY" - "$STOWAGE_PORT" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2).close()
except urllib.error.HTTPError:
    pass  # any HTTP answer means it serves
except Exception:
    sys.exit(1)
EOF
do
  pid_alive "$STOWAGE_PID" || die "Stowage exited during start-up; last lines of $STATE/stowage.log:$(echo; tail -n 30 "$STATE/stowage.log")"
  ((SECONDS < deadline)) || die "Stowage did not answer on 127.0.0.1:$STOWAGE_PORT within ${STOWAGE_READY_TIMEOUT:-60} s; see $STATE/stowage.log"
  sleep 0.3
done
log "Stowage answers after $((SECONDS - t0)) s"

rc=0
bash "$HERE/run.sh" "$STATE/keystone" "$STOWAGE_URL" "${RUN_OPTS[@]}" || rc=$?
# A 500 is a Stowage bug even when tempest tolerated it (e.g. in a cleanup): fail the job and show it.
if grep -q '"msg":"request failed"' "$STATE/stowage.log"; then
  log "Stowage answered 500 during the run:$(echo; grep '"msg":"request failed"' "$STATE/stowage.log" | head -n 5)"
  rc=1
fi
exit "$rc"
