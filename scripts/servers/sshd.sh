#!/usr/bin/env bash
# A throwaway OpenSSH server (SFTP only) on 127.0.0.1, for the SFTP driver's tests. Everything lives in a state
# folder: its own host key, client key, authorized_keys, sshd_config and data folder; nothing under /etc/ssh is used.
#
#   sshd.sh start <state> [--watch-pid P]  install if needed, configure, start, wait until a real SFTP login works;
#                                          writes <state>/endpoints.json and prints it; with --watch-pid, the server
#                                          is stopped once process P is gone (a runner killed before its teardown)
#   sshd.sh stop <state>                   stop the server and its sessions by PID
#   sshd.sh stop-server <state> [sshd]     stop the listener AND every open session (`sshd: root@notty`)
#   sshd.sh start-server <state> [sshd]    start it again on the same port and wait until a login works
#   sshd.sh status <state>                 pid, port, up/down
#   sshd.sh install                        only install openssh-server if missing (root)
#
# apt postinst never starts services here: sshd is a background process (`sshd -D -e`) whose PID is kept in
# <state>/pids/sshd.pid. The settings follow the SFTP notes of TEST-SERVERS.md.
set -euo pipefail

SSHD=/usr/sbin/sshd
LOGIN_USER=root

die() { echo "sshd.sh: $*" >&2; exit 1; }
log() { echo "sshd.sh: $*" >&2; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

ensure_installed() {
  if [[ -x $SSHD ]] && command -v ssh-keygen >/dev/null 2>&1 && command -v sftp >/dev/null 2>&1; then return 0; fi
  [[ $(id -u) == 0 ]] || die "openssh-server is not installed and this is not root: run as root or apt-get install openssh-server openssh-client"
  log "installing openssh-server from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends openssh-server openssh-client >&2
}

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The SSH banner (first line the server sends), read with bash's /dev/tcp.
banner_ok() (
  exec 2>/dev/null
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  [[ $line == SSH-2.0-OpenSSH_* ]]
)

# Readiness that proves a login: the banner, then `sftp -b` with the client key and the pinned host key.
login_ok() {
  banner_ok "$PORT" || return 1
  echo pwd | timeout 10 sftp -q -b - -i "$STATE/client_ed25519" -P "$PORT" \
    -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$STATE/known_hosts" -o ConnectTimeout=5 \
    "$LOGIN_USER@127.0.0.1" >/dev/null 2>&1
}

pid_alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Every descendant of a PID (the per-connection sshd processes of a listener), deepest last.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

configure() {
  mkdir -p "$STATE/pids" "$STATE/log" "$STATE/data" /run/sshd
  chmod 700 "$STATE"
  if [[ -f $STATE/port ]] && ! port_listening "$(cat "$STATE/port")"; then
    PORT=$(cat "$STATE/port")
  else
    PORT=$(free_port)
    echo "$PORT" > "$STATE/port"
  fi
  [[ -f $STATE/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C stowage-test-host -f "$STATE/host_ed25519"
  [[ -f $STATE/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C stowage-test-client -f "$STATE/client_ed25519"
  cp "$STATE/client_ed25519.pub" "$STATE/authorized_keys"
  echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$STATE/host_ed25519.pub")" > "$STATE/known_hosts"
  cat > "$STATE/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $STATE/host_ed25519
PidFile $STATE/pids/sshd.daemon.pid
AuthorizedKeysFile $STATE/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d $STATE/data
EOF
  "$SSHD" -t -f "$STATE/sshd_config" || die "sshd -t rejected $STATE/sshd_config"
}

start_sshd() {
  local pid_file=$STATE/pids/sshd.pid pid i
  if [[ -f $pid_file ]] && pid_alive "$(cat "$pid_file")"; then
    log "sshd already running (pid $(cat "$pid_file"))"
    return 0
  fi
  PORT=$(cat "$STATE/port")
  if port_listening "$PORT"; then die "port $PORT is already in use"; fi
  nohup "$SSHD" -D -e -f "$STATE/sshd_config" >>"$STATE/log/sshd.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$pid_file"
  for ((i = 0; i < 300; i++)); do
    pid_alive "$pid" || die "sshd exited during start-up; last log lines:$(echo; tail -n 20 "$STATE/log/sshd.log")"
    login_ok && return 0
    sleep 0.1
  done
  die "sshd did not accept an SFTP login on 127.0.0.1:$PORT within 30 s; see $STATE/log/sshd.log"
}

stop_sshd() {
  local pid_file=$STATE/pids/sshd.pid pid i victims
  [[ -f $pid_file ]] || return 0
  pid=$(cat "$pid_file")
  if pid_alive "$pid"; then
    # The listener's children serve open sessions until their clients leave: they go too (TEST-SERVERS.md).
    victims="$pid $(descendants "$pid" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -TERM $victims 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      local alive=0 v
      for v in $victims; do pid_alive "$v" && alive=1; done
      [[ $alive == 0 ]] && ! port_listening "$(cat "$STATE/port")" && break
      sleep 0.1
    done
    for v in $victims; do
      if pid_alive "$v"; then
        log "sshd process $v ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$v" 2>/dev/null || true
      fi
    done
  fi
  rm -f "$pid_file"
}

write_endpoints() {
  local blob fingerprint
  blob=$(cut -d' ' -f2 "$STATE/host_ed25519.pub")
  fingerprint=$(ssh-keygen -l -E sha256 -f "$STATE/host_ed25519.pub" | cut -d' ' -f2)
  cat > "$STATE/endpoints.json" <<EOF
{
  "state": "$STATE",
  "script": "$(realpath "$0")",
  "host": "127.0.0.1",
  "port": $PORT,
  "user": "$LOGIN_USER",
  "privateKeyPath": "$STATE/client_ed25519",
  "knownHostsPath": "$STATE/known_hosts",
  "hostKeyFingerprint": "$fingerprint",
  "hostKeyBase64": "$blob",
  "dataDir": "$STATE/data",
  "pid": $(cat "$STATE/pids/sshd.pid")
}
EOF
}

cmd_stop() {
  local watcher
  watcher=$(cat "$STATE/pids/watcher.pid" 2>/dev/null || true)
  if [[ -n $watcher && $watcher != "${BASHPID:-$$}" ]]; then kill -TERM "$watcher" 2>/dev/null || true; fi
  rm -f "$STATE/pids/watcher.pid"
  stop_sshd
}

STOP_ON_FAILURE=0
on_exit() {
  local rc=$?
  if [[ $STOP_ON_FAILURE == 1 && $rc != 0 ]]; then cmd_stop || true; fi
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
  start) mkdir -p "$1" ;;
  *) [[ -d $1 ]] || die "no state folder $1: nothing was started there" ;;
esac
STATE=$(realpath "$1")
shift

case $COMMAND in
  start)
    ensure_installed
    started=$(date +%s.%N)
    STOP_ON_FAILURE=1
    configure
    start_sshd
    STOP_ON_FAILURE=0
    write_endpoints
    log "ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s on 127.0.0.1:$PORT; endpoints in $STATE/endpoints.json"
    if [[ ${1:-} == --watch-pid && -n ${2:-} ]]; then
      watch_pid=$2
      (
        trap - EXIT
        while kill -0 "$watch_pid" 2>/dev/null; do sleep 2; done
        log "process $watch_pid is gone: stopping sshd in $STATE"
        cmd_stop
      ) </dev/null >>"$STATE/log/watcher.log" 2>&1 &
      echo $! > "$STATE/pids/watcher.pid"
    fi
    cat "$STATE/endpoints.json"
    ;;
  stop) cmd_stop ;;
  status)
    pid=$(cat "$STATE/pids/sshd.pid" 2>/dev/null || echo -)
    up=down
    [[ $pid != - ]] && pid_alive "$pid" && up=up
    printf 'sshd pid=%s port=%s %s\n' "$pid" "$(cat "$STATE/port" 2>/dev/null || echo -)" "$up"
    ;;
  stop-server)
    [[ ${1:-sshd} == sshd ]] || die "unknown server '$1' (only: sshd)"
    stop_sshd
    ;;
  start-server)
    [[ ${1:-sshd} == sshd ]] || die "unknown server '$1' (only: sshd)"
    start_sshd
    ;;
  *) usage ;;
esac
