#!/usr/bin/env bash
# A throwaway NFSv3 server (nfs-ganesha, userspace, VFS backend) on 127.0.0.1 exporting a state folder as
# `/backup`, for the NFS driver tests. Nothing under /etc/ganesha is touched.
#
#   nfs.sh start <state> [--watch-pid P]  install if needed, start rpcbind (loopback only; reused if running) and
#                                         ganesha on free loopback ports, wait until a real mount works; writes
#                                         <state>/endpoints.json and prints it; with --watch-pid, everything is
#                                         stopped once process P is gone (a killed test runner leaves no servers)
#   nfs.sh stop <state>                   stop ganesha by PID (and rpcbind, if this state started it and no other
#                                         ganesha is running)
#   nfs.sh stop-server <state> [ganesha]  stop ganesha only (fault tests)
#   nfs.sh start-server <state> [ganesha] start ganesha again on the same ports and wait until a mount works
#   nfs.sh kill-server <state> [ganesha]  SIGKILL ganesha (a crash: nothing unregistered, no clean shutdown)
#   nfs.sh freeze-server|thaw-server <state> [ganesha]  SIGSTOP / SIGCONT ganesha (a hung server: connections are
#                                         accepted by the kernel, nothing is answered)
#   nfs.sh status <state>                 one line per process: name, pid, up/down
#   nfs.sh install                        only install the Debian packages if missing (root)
#
# The settings and traps are those of the NFSv3 notes in TEST-SERVERS.md: rpcbind only gets loopback sockets through
# two nested systemd-socket-activate (its own -h 127.0.0.1 aborts), Export_Id is mandatory (without it every MOUNT
# is MNT3ERR_ACCES), Anonymous_Uid/Gid 0 so AUTH_NONE callers may create files in the root-owned export.
set -euo pipefail

PY=/usr/bin/python3
RPCBIND_SOCK=/run/rpcbind.sock
PSEUDO=/backup

die() { echo "nfs.sh: $*" >&2; exit 1; }
log() { echo "nfs.sh: $*" >&2; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

ensure_installed() {
  local missing=0 tool
  for tool in ganesha.nfsd rpcinfo nfs-ls nfs-cp systemd-socket-activate; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  [[ -x /usr/sbin/rpcbind && -x $PY ]] || missing=1
  # The VFS backend is a separate package; ganesha starts without it but exports nothing.
  compgen -G '/usr/lib/*/ganesha/libfsalvfs.so*' >/dev/null || missing=1
  [[ $missing == 0 ]] && return 0
  [[ $(id -u) == 0 ]] || die "nfs-ganesha is not installed and this is not root: run as root or apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils"
  log "installing nfs-ganesha, rpcbind and libnfs-utils from apt (about 5 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils systemd python3 >&2
}

# Prints N TCP ports on 127.0.0.1 that nothing listens on (held open together, so they are distinct).
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

port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A PID counts as gone once it has exited, even while PID 1 has not reaped it yet (zombie).
pid_alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

load_ports() {
  [[ -f $STATE/ports.env ]] || die "no ports recorded in $STATE: run 'nfs.sh start $STATE' first"
  # shellcheck disable=SC1091
  source "$STATE/ports.env"
}

rpcbind_answers() {
  timeout 5 rpcinfo -T udp 127.0.0.1 100000 >/dev/null 2>&1
}

# One rpcbind per machine (/run/rpcbind.sock is fixed): reuse a running one, else start one on loopback only.
ensure_rpcbind() {
  if rpcbind_answers; then
    log "reusing the rpcbind already running"
    return 0
  fi
  if [[ -S $RPCBIND_SOCK ]] && ! rpcbind_answers; then
    # A socket file with nobody behind it (a crashed rpcbind) would make the new one fail to bind.
    if ! timeout 2 rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then rm -f "$RPCBIND_SOCK"; fi
  fi
  if port_listening 111; then die "something listens on 127.0.0.1:111 but does not answer as rpcbind"; fi
  # The outer (datagram) activator execs the inner (stream) one on the first datagram, which execs rpcbind -f: the
  # recorded PID ends up being rpcbind itself.
  nohup systemd-socket-activate -d -l 127.0.0.1:111 -l '[::1]:111' \
    systemd-socket-activate -l 127.0.0.1:111 -l '[::1]:111' -l "$RPCBIND_SOCK" /usr/sbin/rpcbind -f \
    >>"$STATE/log/rpcbind.log" 2>&1 </dev/null &
  echo $! > "$STATE/pids/rpcbind.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    # The first datagram is what hands over to rpcbind; later ones get its answers.
    rpcbind_answers && return 0
    sleep 0.1
  done
  die "rpcbind did not answer on 127.0.0.1:111 within 10 s; see $STATE/log/rpcbind.log"
}

configure() {
  mkdir -p "$STATE/export" "$STATE/recovery" "$STATE/pids" "$STATE/log"
  chmod 0755 "$STATE/export"
  if [[ -f $STATE/ports.env ]]; then
    load_ports
    if port_listening "$NFS_PORT" || port_listening "$MNT_PORT"; then
      log "a recorded port is taken now: picking new ports"
      rm -f "$STATE/ports.env"
    fi
  fi
  if [[ ! -f $STATE/ports.env ]]; then
    read -r NFS_PORT MNT_PORT < <(free_ports 2)
    printf 'NFS_PORT=%s\nMNT_PORT=%s\n' "$NFS_PORT" "$MNT_PORT" > "$STATE/ports.env"
  fi
  cat > "$STATE/ganesha.conf" <<EOF
NFS_CORE_PARAM {
  Bind_Addr = 127.0.0.1;
  NFS_Port = $NFS_PORT;
  MNT_Port = $MNT_PORT;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
  Protocols = 3;
  Mount_Path_Pseudo = true;
}
NFS_KRB5 { Active_krb5 = false; }
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = $STATE/recovery; }
EXPORT {
  # Mandatory: without it ganesha starts and answers rpcinfo, but every MOUNT gets MNT3ERR_ACCES.
  Export_Id = 1;
  Path = $STATE/export;
  Pseudo = $PSEUDO;
  Access_Type = RW;
  Protocols = 3;
  Transports = TCP;
  SecType = none, sys;
  Squash = No_Root_Squash;
  Anonymous_Uid = 0;
  Anonymous_Gid = 0;
  FSAL { Name = VFS; }
}
EOF
}

mount_works() {
  timeout 10 nfs-ls "nfs://127.0.0.1$PSEUDO?nfsport=$NFS_PORT&mountport=$MNT_PORT" >/dev/null 2>&1
}

start_ganesha() {
  local pid_file=$STATE/pids/ganesha.pid pid i
  if [[ -f $pid_file ]] && pid_alive "$(cat "$pid_file")"; then
    log "ganesha already running (pid $(cat "$pid_file"))"
    return 0
  fi
  if port_listening "$NFS_PORT" || port_listening "$MNT_PORT"; then die "port $NFS_PORT or $MNT_PORT is already in use"; fi
  rm -f "$STATE/ganesha.pid"
  nohup ganesha.nfsd -F -f "$STATE/ganesha.conf" -L "$STATE/log/ganesha.log" -p "$STATE/ganesha.pid" \
    >>"$STATE/log/ganesha.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$pid_file"
  for ((i = 0; i < 300; i++)); do
    pid_alive "$pid" || die "ganesha exited during start-up; last log lines:$(echo; tail -n 20 "$STATE/log/ganesha.log" 2>/dev/null)"
    if port_listening "$NFS_PORT" && port_listening "$MNT_PORT" && mount_works; then return 0; fi
    sleep 0.1
  done
  die "ganesha did not serve a mount of 127.0.0.1:$PSEUDO within 30 s; see $STATE/log/ganesha.log"
}

stop_pid() {
  local name=$1 pid=$2 i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  # A frozen (SIGSTOPped) process handles SIGTERM only once it runs again.
  kill -CONT "$pid" 2>/dev/null || true
  # ganesha takes ~1.5 s to unregister and exit.
  for ((i = 0; i < 150; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
  log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
}

stop_ganesha() {
  local pid_file=$STATE/pids/ganesha.pid signal=${1:-TERM}
  [[ -f $pid_file ]] || return 0
  if [[ $signal == KILL ]]; then
    kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
    local j
    for ((j = 0; j < 50; j++)); do pid_alive "$(cat "$pid_file")" || break; sleep 0.1; done
  fi
  stop_pid ganesha "$(cat "$pid_file")"
  local i
  for ((i = 0; i < 50; i++)); do
    if ! port_listening "$NFS_PORT" && ! port_listening "$MNT_PORT"; then break; fi
    sleep 0.1
  done
  rm -f "$pid_file"
}

stop_rpcbind() {
  local pid_file=$STATE/pids/rpcbind.pid pid
  [[ -f $pid_file ]] || return 0
  pid=$(cat "$pid_file")
  # Another state's ganesha may be registered with it: leave it to whoever stops last. Exited ganeshas that PID 1
  # has not reaped yet (zombies) do not count.
  local other
  for other in $(pgrep -x ganesha.nfsd 2>/dev/null || true); do
    if pid_alive "$other"; then
      log "another ganesha (pid $other) is running: leaving rpcbind (pid $pid) up"
      return 0
    fi
  done
  stop_pid rpcbind "$pid"
  # The socket file stays behind rpcbind (systemd-socket-activate made it); the next start would find it dead.
  rm -f "$pid_file" "$RPCBIND_SOCK"
}

write_endpoints() {
  cat > "$STATE/endpoints.json" <<EOF
{
  "state": "$STATE",
  "script": "$(realpath "$0")",
  "server": "127.0.0.1",
  "export": "$PSEUDO",
  "exportPath": "$STATE/export",
  "nfsPort": $NFS_PORT,
  "mountPort": $MNT_PORT,
  "url": "nfs://127.0.0.1$PSEUDO?nfsport=$NFS_PORT&mountport=$MNT_PORT"
}
EOF
}

cmd_start() {
  ensure_installed
  configure
  local started
  started=$(date +%s.%N)
  STOP_ON_FAILURE=1
  ensure_rpcbind
  start_ganesha
  STOP_ON_FAILURE=0
  write_endpoints
  log "ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s; endpoints in $STATE/endpoints.json"
  cat "$STATE/endpoints.json"
}

cmd_stop() {
  [[ -f $STATE/ports.env ]] || return 0
  load_ports
  local watcher
  watcher=$(cat "$STATE/pids/watcher.pid" 2>/dev/null || true)
  if [[ -n $watcher && $watcher != "${BASHPID:-$$}" ]]; then kill -TERM "$watcher" 2>/dev/null || true; fi
  rm -f "$STATE/pids/watcher.pid"
  stop_ganesha
  stop_rpcbind
}

cmd_status() {
  load_ports
  local name pid up
  for name in ganesha rpcbind; do
    pid=$(cat "$STATE/pids/$name.pid" 2>/dev/null || echo -)
    up=down
    [[ $pid != - ]] && pid_alive "$pid" && up=up
    printf '%-8s pid=%-8s %s\n' "$name" "$pid" "$up"
  done
}

check_server_name() {
  [[ ${1:-ganesha} == ganesha ]] || die "unknown server '$1' (only ganesha can be stopped and started alone)"
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
    cmd_start
    if [[ ${1:-} == --watch-pid && -n ${2:-} ]]; then
      watch_pid=$2
      (
        trap - EXIT
        while kill -0 "$watch_pid" 2>/dev/null; do sleep 2; done
        log "process $watch_pid is gone: stopping the NFS server in $STATE"
        cmd_stop
      ) </dev/null >>"$STATE/log/watcher.log" 2>&1 &
      echo $! > "$STATE/pids/watcher.pid"
    fi
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-server)
    check_server_name "${1:-}"
    load_ports
    stop_ganesha
    ;;
  kill-server)
    check_server_name "${1:-}"
    load_ports
    stop_ganesha KILL
    ;;
  freeze-server | thaw-server)
    check_server_name "${1:-}"
    [[ -f $STATE/pids/ganesha.pid ]] || die "ganesha of $STATE is not running"
    kill "-$([[ $COMMAND == freeze-server ]] && echo STOP || echo CONT)" "$(cat "$STATE/pids/ganesha.pid")"
    ;;
  start-server)
    check_server_name "${1:-}"
    load_ports
    ensure_rpcbind
    start_ganesha
    ;;
  *) usage ;;
esac
