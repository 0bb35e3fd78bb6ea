#!/usr/bin/env bash
# A throwaway OpenStack Swift all-in-one (account, container, object, proxy + memcached, tempauth, s3api) on
# 127.0.0.1, for the driver tests. Everything lives in a state folder; nothing under /etc/swift is touched.
#
#   swift.sh start <state> [--watch-pid P]  install if needed, configure, build rings once, start all, wait until
#                                           ready; writes <state>/endpoints.env and <state>/endpoints.json, prints the JSON;
#                                           with --watch-pid, everything is stopped once process P is gone (a test
#                                           runner killed before its teardown leaves no servers behind)
#   swift.sh stop <state>                   stop every server of <state> by PID
#   swift.sh stop-server <state> <name>     stop one of: memcached account container object proxy
#   swift.sh start-server <state> <name>    start one again (same port) and wait until it answers
#   swift.sh status <state>                 one line per server: name, pid, port, up/down
#   swift.sh run <state> -- <cmd...>        start, run <cmd> with the endpoints in its environment, always stop
#   swift.sh install                        only install the Debian packages if missing (root; CI can do it once up front)
#
# apt postinst never starts services on the CI machines: every server is a background process whose PID is kept
# in <state>/pids. The settings follow the Swift notes of the project's test-server research (TEST-SERVERS.md).
set -euo pipefail

SERVERS=(memcached account container object proxy)
USER_NAME='test:tester'
USER_KEY='testing'
PY=/usr/bin/python3

die() { echo "swift.sh: $*" >&2; exit 1; }
log() { echo "swift.sh: $*" >&2; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

ensure_installed() {
  local missing=0 tool
  for tool in swift-proxy-server swift-account-server swift-container-server swift-object-server swift-ring-builder memcached; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  [[ -x $PY ]] || missing=1
  [[ $missing == 0 ]] && return 0
  [[ $(id -u) == 0 ]] || die "Swift is not installed and this is not root: run as root or apt-get install swift swift-proxy swift-object swift-container swift-account memcached"
  log "installing Swift and memcached from apt (about 25 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    swift swift-proxy swift-object swift-container swift-account memcached python3 >&2
}

# Prints N TCP ports on 127.0.0.1 that nothing listens on (all held open together, so they are distinct).
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# bash's /dev/tcp: no process start per probe (this runs in tight wait loops on busy machines).
port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Readiness of the proxy: healthcheck 200 AND a tempauth login that returns a storage URL.
proxy_ready() {
  "$PY" - "$1" "$USER_NAME" "$USER_KEY" <<'EOF'
import sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
try:
    with urllib.request.urlopen(base + "/healthcheck", timeout=2) as r:
        if r.status != 200: sys.exit(1)
    req = urllib.request.Request(base + "/auth/v1.0", headers={"X-Auth-User": sys.argv[2], "X-Auth-Key": sys.argv[3]})
    with urllib.request.urlopen(req, timeout=2) as r:
        if r.status != 200 or not r.headers.get("X-Storage-Url"): sys.exit(1)
except Exception:
    sys.exit(1)
EOF
}

# A PID counts as gone once it has exited, even while PID 1 has not reaped it yet (zombie).
pid_alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

load_ports() {
  [[ -f $STATE/ports.env ]] || die "no ports recorded in $STATE: run 'swift.sh start $STATE' first"
  # shellcheck disable=SC1091
  source "$STATE/ports.env"
}

port_of() {
  case $1 in
    memcached) echo "$MEMCACHED_PORT" ;;
    account) echo "$ACCOUNT_PORT" ;;
    container) echo "$CONTAINER_PORT" ;;
    object) echo "$OBJECT_PORT" ;;
    proxy) echo "$PROXY_PORT" ;;
    *) die "unknown server '$1' (one of: ${SERVERS[*]})" ;;
  esac
}

server_conf() {
  local name=$1 port=$2
  cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = root
swift_dir = $STATE/etc
devices = $STATE/srv
mount_check = false
fallocate_reserve = 0
log_address = /nonexistent

[pipeline:main]
pipeline = $name-server

[app:$name-server]
use = egg:swift#$name
EOF
}

proxy_conf() {
  local filter
  cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 0
user = root
swift_dir = $STATE/etc
log_address = /nonexistent

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# With one node, the default 60 s error suppression turns a single 507 into a minute of 503s.
error_suppression_interval = 0

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $USER_KEY .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:proxy-logging]
use = egg:swift#proxy_logging
EOF
  for filter in catch_errors gatekeeper healthcheck listing_formats bulk copy slo dlo versioned_writes; do
    printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$filter" "$filter"
  done
}

configure() {
  local rebuild=0
  mkdir -p "$STATE/etc" "$STATE/srv/d1" "$STATE/pids" "$STATE/log"
  if [[ -f $STATE/ports.env ]]; then
    load_ports
    local p
    for p in "$MEMCACHED_PORT" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" "$PROXY_PORT"; do
      if port_listening "$p"; then rebuild=1; fi
    done
    [[ $rebuild == 1 ]] && log "a recorded port is taken now: picking new ports and rebuilding the rings"
  else
    rebuild=1
  fi
  if [[ $rebuild == 1 ]]; then
    read -r MEMCACHED_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT PROXY_PORT < <(free_ports 5)
    printf 'MEMCACHED_PORT=%s\nACCOUNT_PORT=%s\nCONTAINER_PORT=%s\nOBJECT_PORT=%s\nPROXY_PORT=%s\n' \
      "$MEMCACHED_PORT" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" "$PROXY_PORT" > "$STATE/ports.env"
    rm -f "$STATE"/etc/*.builder "$STATE"/etc/*.ring.gz
    rm -rf "$STATE/etc/backups"
  fi

  cat > "$STATE/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = stowage-test
swift_hash_path_suffix = stowage-test

[storage-policy:0]
name = Policy-0
default = yes
EOF
  server_conf account "$ACCOUNT_PORT" > "$STATE/etc/account-server.conf"
  server_conf container "$CONTAINER_PORT" > "$STATE/etc/container-server.conf"
  server_conf object "$OBJECT_PORT" > "$STATE/etc/object-server.conf"
  proxy_conf > "$STATE/etc/proxy-server.conf"

  # Rings are built once per set of ports (~3 s, the three at once); a restart with the same ports reuses them.
  local ring port
  for ring in account container object; do
    [[ -f $STATE/etc/$ring.ring.gz ]] && continue
    port=$(port_of "$ring")
    (
      cd "$STATE/etc"
      swift-ring-builder "$ring.builder" create 6 1 1 >/dev/null
      swift-ring-builder "$ring.builder" add "r1z1-127.0.0.1:$port/d1" 100 >/dev/null
      # rebalance exits 1 on a mere warning (one device); the ring file is what counts.
      swift-ring-builder "$ring.builder" rebalance >/dev/null || true
    ) &
  done
  wait
  for ring in account container object; do
    [[ -f $STATE/etc/$ring.ring.gz ]] || die "building the $ring ring failed in $STATE/etc"
  done
}

start_one() {
  launch_one "$1"
  wait_ready "$1" "$(port_of "$1")" "$(cat "$STATE/pids/$1.pid")"
}

# Starts one server in the background and records its PID; does not wait.
launch_one() {
  local name=$1 port pid_file pid
  port=$(port_of "$name")
  pid_file=$STATE/pids/$name.pid
  if [[ -f $pid_file ]] && pid_alive "$(cat "$pid_file")"; then
    log "$name already running (pid $(cat "$pid_file"))"
    return 0
  fi
  # eventlet binds with SO_REUSEPORT: a second server would start silently on a taken port.
  if port_listening "$port"; then die "port $port for $name is already in use"; fi
  case $name in
    memcached) nohup memcached -l 127.0.0.1 -p "$port" -U 0 -m 64 -u root >>"$STATE/log/$name.log" 2>&1 </dev/null & ;;
    *) nohup "swift-$name-server" "$STATE/etc/$name-server.conf" --verbose >>"$STATE/log/$name.log" 2>&1 </dev/null & ;;
  esac
  pid=$!
  echo "$pid" > "$pid_file"
}

wait_ready() {
  local name=$1 port=$2 pid=$3 i
  for ((i = 0; i < 600; i++)); do
    pid_alive "$pid" || die "$name exited during start-up; last log lines:$(echo; tail -n 20 "$STATE/log/$name.log")"
    if [[ $name == proxy ]]; then
      proxy_ready "$port" && return 0
    else
      port_listening "$port" && return 0
    fi
    sleep 0.1
  done
  die "$name did not become ready on 127.0.0.1:$port within 60 s; see $STATE/log/$name.log"
}

stop_one() {
  local name=$1 pid_file pid i port
  pid_file=$STATE/pids/$name.pid
  [[ -f $pid_file ]] || return 0
  pid=$(cat "$pid_file")
  port=$(port_of "$name")
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    # Wait on the process state and the port, not on kill -0 (exited daemons are reaped late by PID 1).
    for ((i = 0; i < 100; i++)); do
      if ! pid_alive "$pid" && ! port_listening "$port"; then break; fi
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$pid_file"
}

write_endpoints() {
  local proxy="http://127.0.0.1:$PROXY_PORT"
  cat > "$STATE/endpoints.env" <<EOF
STOWAGE_SWIFT_STATE=$STATE
STOWAGE_SWIFT_PROXY_URL=$proxy
STOWAGE_SWIFT_AUTH_URL=$proxy/auth/v1.0
STOWAGE_SWIFT_STORAGE_URL=$proxy/v1/AUTH_test
STOWAGE_SWIFT_USER=$USER_NAME
STOWAGE_SWIFT_KEY=$USER_KEY
STOWAGE_S3_ENDPOINT=$proxy
STOWAGE_S3_REGION=us-east-1
STOWAGE_S3_ACCESS_KEY=$USER_NAME
STOWAGE_S3_SECRET_KEY=$USER_KEY
EOF
  cat > "$STATE/endpoints.json" <<EOF
{
  "state": "$STATE",
  "script": "$(realpath "$0")",
  "proxyUrl": "$proxy",
  "authUrl": "$proxy/auth/v1.0",
  "storageUrl": "$proxy/v1/AUTH_test",
  "user": "$USER_NAME",
  "key": "$USER_KEY",
  "s3": { "endpoint": "$proxy", "region": "us-east-1", "accessKeyId": "$USER_NAME", "secretAccessKey": "$USER_KEY" },
  "ports": { "memcached": $MEMCACHED_PORT, "account": $ACCOUNT_PORT, "container": $CONTAINER_PORT, "object": $OBJECT_PORT, "proxy": $PROXY_PORT }
}
EOF
}

cmd_start() {
  ensure_installed
  configure
  local name started
  started=$(date +%s.%N)
  # A failed start leaves nothing running behind it.
  STOP_ON_FAILURE=1
  # All at once: each Swift server spends a second or two importing Python, better spent in parallel.
  for name in "${SERVERS[@]}"; do launch_one "$name"; done
  for name in "${SERVERS[@]}"; do wait_ready "$name" "$(port_of "$name")" "$(cat "$STATE/pids/$name.pid")"; done
  STOP_ON_FAILURE=0
  write_endpoints
  log "ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s; endpoints in $STATE/endpoints.json"
  cat "$STATE/endpoints.json"
}

cmd_stop() {
  [[ -f $STATE/ports.env ]] || return 0
  load_ports
  local i watcher
  watcher=$(cat "$STATE/pids/watcher.pid" 2>/dev/null || true)
  if [[ -n $watcher && $watcher != "${BASHPID:-$$}" ]]; then kill -TERM "$watcher" 2>/dev/null || true; fi
  rm -f "$STATE/pids/watcher.pid"
  # Proxy first so that no request is half-served by a dying backend.
  for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do stop_one "${SERVERS[$i]}"; done
}

cmd_status() {
  load_ports
  local name pid port up
  for name in "${SERVERS[@]}"; do
    port=$(port_of "$name")
    pid=$(cat "$STATE/pids/$name.pid" 2>/dev/null || echo -)
    up=down
    [[ $pid != - ]] && pid_alive "$pid" && up=up
    printf '%-10s pid=%-8s port=%-6s %s\n' "$name" "$pid" "$port" "$up"
  done
}

STOP_ON_FAILURE=0
STOP_ALWAYS=0
on_exit() {
  local rc=$?
  if [[ $STOP_ALWAYS == 1 ]] || { [[ $STOP_ON_FAILURE == 1 ]] && [[ $rc != 0 ]]; }; then cmd_stop || true; fi
  exit "$rc"
}
trap on_exit EXIT

[[ $# -ge 1 ]] || usage
COMMAND=$1
shift
if [[ $COMMAND == install ]]; then
  ensure_installed
  exit 0
fi
[[ $# -ge 1 ]] || usage
case $COMMAND in
  start | run) mkdir -p "$1" ;;
  *) [[ -d $1 ]] || die "no state folder $1: nothing was started there" ;;
esac
STATE=$(realpath "$1")
shift

case $COMMAND in
  start)
    cmd_start
    if [[ ${1:-} == --watch-pid && -n ${2:-} ]]; then
      watch_pid=$2
      # Detached from this script's output so that callers reading it see EOF now.
      (
        trap - EXIT
        while kill -0 "$watch_pid" 2>/dev/null; do sleep 2; done
        log "process $watch_pid is gone: stopping the cluster in $STATE"
        cmd_stop
      ) </dev/null >>"$STATE/log/watcher.log" 2>&1 &
      echo $! > "$STATE/pids/watcher.pid"
    fi
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-server)
    [[ $# == 1 ]] || usage
    load_ports
    port_of "$1" >/dev/null
    stop_one "$1"
    ;;
  start-server)
    [[ $# == 1 ]] || usage
    load_ports
    start_one "$1"
    ;;
  run)
    [[ ${1:-} == -- ]] && shift
    [[ $# -ge 1 ]] || usage
    STOP_ALWAYS=1
    cmd_start >/dev/null
    set -a
    # shellcheck disable=SC1091
    source "$STATE/endpoints.env"
    set +a
    set +e
    "$@"
    rc=$?
    set -e
    exit "$rc"
    ;;
  *) usage ;;
esac
