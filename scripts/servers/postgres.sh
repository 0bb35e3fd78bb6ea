#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a free loopback port, for tests.
#
#   postgres.sh start STATE_DIR   initdb + start (a restart reuses the previous port when free); prints the URL last
#   postgres.sh stop  STATE_DIR   stop it (pg_ctl, then the recorded PID)
#
# Binaries: /usr/lib/postgresql/<ver>/bin (installed with apt-get when missing). initdb refuses to run as root,
# so as root the cluster belongs to the `postgres` user. Nothing outside STATE_DIR is touched.
set -euo pipefail

command=${1:?usage: postgres.sh start|stop STATE_DIR}
state=${2:?usage: postgres.sh start|stop STATE_DIR}
state=$(cd "$state" 2>/dev/null && pwd || echo "$state")

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$dir" && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "postgres.sh: PostgreSQL not found; installing it with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 || {
      apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
    }
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [[ -n "$dir" ]] || { echo "postgres.sh: no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2; exit 1; }
  echo "$dir"
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

case "$command" in
  start)
    bin=$(find_bin)
    mkdir -p "$state"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$state"
    if [[ ! -f "$state/data/PG_VERSION" ]]; then
      as_owner "$bin/initdb" -D "$state/data" -U postgres -A trust -E UTF8 >"$state/initdb.log" 2>&1 || {
        cat "$state/initdb.log" >&2; exit 1; }
    fi
    for attempt in 1 2 3; do
      # A restart (after stop) takes the cluster's previous port first, so clients' URLs stay valid.
      if [[ $attempt -eq 1 && -f "$state/port" ]]; then port=$(cat "$state/port"); else port=$(free_port); fi
      if as_owner "$bin/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 30 \
          -o "-p $port -c listen_addresses=127.0.0.1 -k $state -c fsync=off" start >&2; then
        echo "$port" >"$state/port"
        head -n 1 "$state/data/postmaster.pid" >"$state/pid"
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        exit 0
      fi
      echo "postgres.sh: start on port $port failed (attempt $attempt)" >&2
    done
    tail -n 20 "$state/server.log" >&2 || true
    exit 1
    ;;
  stop)
    [[ -d "$state/data" ]] || exit 0
    bin=$(find_bin)
    as_owner "$bin/pg_ctl" -D "$state/data" -m fast -w -t 30 stop >&2 || {
      if [[ -f "$state/pid" ]]; then kill "$(cat "$state/pid")" 2>/dev/null || true; fi
    }
    ;;
  *)
    echo "usage: postgres.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
