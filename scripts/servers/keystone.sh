#!/usr/bin/env bash
# A throwaway OpenStack Keystone (Debian 12's keystone 22, Zed) on 127.0.0.1, for auth_strategy=keystone and the
# tempest runs. Everything lives in a state folder; nothing under /etc is edited.
#
#   keystone.sh start <state> [--volume-endpoint URL] [--db sqlite|postgres] [--watch-pid P]
#        install if needed, configure, db_sync, fernet/credential keys, bootstrap, start uwsgi on a free loopback
#        port, wait until GET /v3 is 200 AND a password token is issued, create the test users/projects, register
#        the volume service as volumev3 and block-storage (public/internal/admin) at URL (default: the last one
#        registered in <state>, else http://127.0.0.1:8776/v3; "/%(project_id)s" is appended unless present).
#        Writes <state>/keystone.env and prints it. --db postgres (default): a throwaway PostgreSQL through postgres.sh in <state>/pg, uwsgi
#        with 2 processes; --db sqlite: WAL mode, 1 process. With --watch-pid, Keystone is stopped once P is gone.
#   keystone.sh set-volume-endpoint <state> URL   point volumev3 + block-storage at URL (Keystone must be running)
#   keystone.sh stop <state>                      stop uwsgi (and PostgreSQL, if used) by PID
#   keystone.sh status <state>                    pid, port, up/down
#   keystone.sh run <state> [start options] -- <cmd...>   start, run <cmd> with keystone.env in its environment, stop
#
# Runs as root on a fresh Debian 12 (apt-get install on first use). Facts behind the choices (sqlite in WAL mode,
# uwsgi --threads 1 and "Connection: close", /usr/bin/python3) are in docs/keystone-and-tempest.md.
set -euo pipefail

PY=/usr/bin/python3
REGION=RegionOne
DEFAULT_VOLUME_ENDPOINT=http://127.0.0.1:8776/v3
READY_TIMEOUT=${KEYSTONE_READY_TIMEOUT:-60}
# Test-only credentials on a loopback-only server.
ADMIN_PASSWORD=stowage-admin
MEMBER_USER=stowage-member MEMBER_PASSWORD=stowage-member MEMBER_PROJECT=stowage-member
ALT_USER=stowage-alt ALT_PASSWORD=stowage-alt ALT_PROJECT=stowage-alt
SERVICE_USER=stowage SERVICE_PASSWORD=stowage-service SERVICE_PROJECT=service

die() { echo "keystone.sh: $*" >&2; exit 1; }
log() { echo "keystone.sh: $*" >&2; }

usage() {
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s.%N; }
# Phase timings go to <state>/timings.txt (one "phase seconds" line each) and to stderr.
PHASE_NAME='' PHASE_T0=''
phase() {
  local t
  t=$(now)
  if [[ -n $PHASE_NAME ]]; then
    local d
    d=$(awk -v a="$PHASE_T0" -v b="$t" 'BEGIN{printf "%.2f", b-a}')
    printf '%-22s %6s s\n' "$PHASE_NAME" "$d" >>"$STATE/timings.txt"
    log "phase $PHASE_NAME: $d s"
  fi
  PHASE_NAME=${1:-} PHASE_T0=$t
}

# ---------------------------------------------------------------------------------------------------------------
# Installation

# The keystone package's postinst calls `invoke-rc.d keystone start`. On the CI machines policy-rc.d refuses it,
# but on a machine without that guard the packaged uwsgi (8 processes x 32 threads, port 5000, all addresses) would
# start: stop it by its pid file, the one the package's init script writes.
stop_packaged_service() {
  local pidfile=/run/keystone/keystone.pid pid i
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ -n $pid ]] && pid_alive "$pid" || return 0
  log "the keystone package started its own service (pid $pid, port 5000): stopping it"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    if ! pid_alive "$pid" && ! port_listening 5000; then return 0; fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

ensure_installed() {
  local missing=() tool
  for tool in keystone-manage uwsgi openstack; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [[ -x $PY ]] || missing+=(python3)
  [[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ]] || missing+=(uwsgi-plugin-python3)
  [[ $DB == postgres ]] && ! "$PY" -c 'import psycopg2' 2>/dev/null && missing+=(python3-psycopg2)
  [[ ${#missing[@]} == 0 ]] && return 0
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]} and this is not root: apt-get install keystone uwsgi-core uwsgi-plugin-python3 python3-openstackclient"
  log "installing keystone from apt (missing: ${missing[*]}; about 50 s)"
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(keystone uwsgi-core uwsgi-plugin-python3 python3-openstackclient python3)
  [[ $DB == postgres ]] && pkgs+=(python3-psycopg2)
  if ! timeout 1200 apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >"$STATE/log/apt.log" 2>&1; then
    timeout 600 apt-get -o DPkg::Lock::Timeout=600 update -q >>"$STATE/log/apt.log" 2>&1
    timeout 1200 apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${pkgs[@]}" >>"$STATE/log/apt.log" 2>&1 ||
      die "apt-get install ${pkgs[*]} failed; see $STATE/log/apt.log"
  fi
  stop_packaged_service
}

# ---------------------------------------------------------------------------------------------------------------
# Processes and ports

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A PID counts as gone once it has exited, even while PID 1 has not reaped it yet (zombie): no kill -0.
pid_alive() {
  local pid=$1 st
  [[ -r /proc/$pid/stat ]] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

children_of() {
  awk -v p="$1" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------------------------
# Configuration

db_connection() {
  if [[ $DB == postgres ]]; then
    echo "postgresql+psycopg2://postgres@127.0.0.1:$(cat "$STATE/pg/port")/keystone"
  else
    echo "sqlite:///$STATE/keystone.db"
  fi
}

write_conf() {
  cat >"$STATE/keystone.conf" <<EOF
# Written by scripts/servers/keystone.sh; the WSGI app finds it through OS_KEYSTONE_CONFIG_FILES, keystone-manage
# through --config-file. /etc/keystone/keystone.conf is not read.
[DEFAULT]
log_dir = $STATE/log
log_file = keystone.log

[database]
connection = $(db_connection)

[token]
provider = fernet
expiration = 7200

[fernet_tokens]
key_repository = $STATE/fernet-keys

[fernet_receipts]
key_repository = $STATE/fernet-receipts

[credential]
key_repository = $STATE/credential-keys

[catalog]
driver = sql
EOF
}

manage() {
  local name=$1
  shift
  # Every keystone-manage run ends with a harmless eventlet "Exception ignored" trace: keep it in the log only.
  (cd "$STATE" && timeout 300 keystone-manage --config-file "$STATE/keystone.conf" "$@") >>"$STATE/log/manage-$name.log" 2>&1 ||
    die "keystone-manage $* failed; last lines of $STATE/log/manage-$name.log:$(echo; tail -n 20 "$STATE/log/manage-$name.log")"
}

start_postgres() {
  local here out
  here=$(cd "$(dirname "$0")" && pwd)
  [[ -f $STATE/pg/pid ]] && pid_alive "$(cat "$STATE/pg/pid")" && port_listening "$(cat "$STATE/pg/port")" && return 0
  out=$(bash "$here/postgres.sh" start "$STATE/pg" 2>>"$STATE/log/postgres-start.log") ||
    die "postgres.sh start $STATE/pg failed:$(echo; tail -n 20 "$STATE/log/postgres-start.log")"
  log "PostgreSQL: $(tail -n 1 <<<"$out")"
  local port
  port=$(cat "$STATE/pg/port")
  if ! psql -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='keystone'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -qc 'CREATE DATABASE keystone' >/dev/null
  fi
}

# db_sync, keys, WAL, bootstrap: once per state folder (all idempotent, but 4-5 s together).
initialise() {
  mkdir -p "$STATE/fernet-keys" "$STATE/fernet-receipts" "$STATE/credential-keys"
  chmod 700 "$STATE/fernet-keys" "$STATE/fernet-receipts" "$STATE/credential-keys"
  if [[ -f $STATE/.initialised ]]; then return 0; fi
  # The key repositories need no database: set them up while db_sync runs (each keystone-manage is ~1.7 s of
  # Python start-up).
  phase db_sync_and_keys
  local fernet_pid credential_pid
  manage fernet fernet_setup --keystone-user root --keystone-group root &
  fernet_pid=$!
  manage credential credential_setup --keystone-user root --keystone-group root &
  credential_pid=$!
  manage db_sync db_sync
  wait "$fernet_pid" || die "fernet_setup failed"
  wait "$credential_pid" || die "credential_setup failed"
  if [[ $DB == sqlite ]]; then
    # Without WAL, readers' leaked SHARED locks make every write after the first hang 5 s and fail with
    # "database is locked" (HTTP 500). WAL is persistent in the DB file.
    local mode
    mode=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchone()[0])' "$STATE/keystone.db")
    [[ $mode == wal ]] || die "could not switch $STATE/keystone.db to WAL (journal_mode=$mode)"
  fi
  phase bootstrap
  manage bootstrap bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
    --bootstrap-admin-url "http://127.0.0.1:$PORT/v3/" \
    --bootstrap-internal-url "http://127.0.0.1:$PORT/v3/" \
    --bootstrap-public-url "http://127.0.0.1:$PORT/v3/" \
    --bootstrap-region-id "$REGION"
  touch "$STATE/.initialised"
}

# ---------------------------------------------------------------------------------------------------------------
# uwsgi

launch_uwsgi() {
  rm -f "$STATE/uwsgi.pid"
  # --threads 1: with sqlite, >1 thread gives "SQLite objects created in a thread can only be used in that same
  # thread".
  # "Connection: close": --http-socket closes the connection after every response without saying so; a client
  # that reuses the connection (keystoneauth, requests, urllib3, undici) then gets ECONNRESET (104) or
  # RemoteDisconnected on its next request. Measured: 14 of 30 GET-then-POST sessions failed without the header.
  setsid nohup uwsgi --plugin python3 --http-socket "127.0.0.1:$PORT" --add-header 'Connection: close' \
    --wsgi-file /usr/bin/keystone-wsgi-public \
    --env "OS_KEYSTONE_CONFIG_FILES=$STATE/keystone.conf" \
    --chdir "$STATE" \
    --master --processes "$PROCESSES" --threads 1 --lazy-apps --die-on-term --buffer-size 65535 \
    --pidfile "$STATE/uwsgi.pid" --logto "$STATE/log/uwsgi.log" </dev/null >/dev/null 2>&1 &
}

# Ready: GET /v3 answers 200 AND the admin gets a password token.
keystone_ready() {
  "$PY" - "$PORT" "$ADMIN_PASSWORD" <<'EOF'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/v3" % sys.argv[1]
try:
    with urllib.request.urlopen(base, timeout=2) as r:
        if r.status != 200: sys.exit(1)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": sys.argv[2]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    req = urllib.request.Request(base + "/auth/tokens", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        if r.status != 201 or not r.headers.get("X-Subject-Token"): sys.exit(1)
except Exception:
    sys.exit(1)
EOF
}

start_uwsgi() {
  local attempt deadline pid=''
  for attempt in 1 2 3; do
    # A port other than the bootstrapped one is fine: ensure_resources moves the identity endpoints to it.
    if port_listening "$PORT"; then
      log "port $PORT is taken: picking another"
      PORT=$(free_port)
    fi
    echo "$PORT" >"$STATE/port"
    launch_uwsgi
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
      if [[ -z $pid && -s $STATE/uwsgi.pid ]]; then pid=$(tr -d ' \n' <"$STATE/uwsgi.pid"); fi
      if [[ -n $pid ]] && ! pid_alive "$pid"; then break; fi
      if [[ -n $pid ]] && port_listening "$PORT"; then break; fi
      sleep 0.1
    done
    if [[ -n $pid ]] && pid_alive "$pid" && port_listening "$PORT"; then
      # The port answers before the app is loaded (lazy-apps): wait for a real token. Deadline-bound: one probe
      # can take seconds on a loaded machine.
      deadline=$((SECONDS + READY_TIMEOUT))
      while ((SECONDS < deadline)); do
        pid_alive "$pid" || break
        keystone_ready && return 0
        sleep 0.5
      done
      pid_alive "$pid" && die "Keystone on 127.0.0.1:$PORT did not issue a token within $READY_TIMEOUT s; see $STATE/log/keystone.log and uwsgi.log"
    fi
    log "uwsgi did not come up on port $PORT (attempt $attempt); last log lines:$(echo; tail -n 5 "$STATE/log/uwsgi.log" 2>/dev/null)"
    if [[ -n $pid ]]; then stop_pid "$pid" "$PORT" || true; fi
    pid=''
    PORT=$(free_port)
  done
  die "uwsgi failed to start 3 times; see $STATE/log/uwsgi.log"
}

# TERM a uwsgi master and wait (bounded) until it, its workers and the port are gone.
stop_pid() {
  local pid=$1 port=$2 i kids
  kids=$(children_of "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do  # 15 s
    if ! pid_alive "$pid" && ! port_listening "$port"; then break; fi
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "uwsgi (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local k
  for k in $kids; do
    for ((i = 0; i < 50; i++)); do pid_alive "$k" || break; sleep 0.1; done
    if pid_alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
  done
  for ((i = 0; i < 50; i++)); do port_listening "$port" || return 0; sleep 0.1; done
  log "port $port still answers after stopping pid $pid"
  return 1
}

# ---------------------------------------------------------------------------------------------------------------
# Users, projects, services and endpoints (one Python process over the REST API: ~1 s, where the openstack CLI
# takes ~1 s per call). Idempotent: finds by name, creates what is missing, fixes URLs and passwords.

ensure_resources() {
  timeout 300 "$PY" - "$PORT" "$ADMIN_PASSWORD" "$VOLUME_URL" "$REGION" \
    "$MEMBER_USER" "$MEMBER_PASSWORD" "$MEMBER_PROJECT" "$ALT_USER" "$ALT_PASSWORD" "$ALT_PROJECT" \
    "$SERVICE_USER" "$SERVICE_PASSWORD" "$SERVICE_PROJECT" "$ONLY_ENDPOINTS" <<'EOF'
import json, sys, urllib.error, urllib.request
(port, admin_pw, volume_url, region, m_user, m_pw, m_proj, a_user, a_pw, a_proj,
 s_user, s_pw, s_proj, only_endpoints) = sys.argv[1:]
base = "http://127.0.0.1:%s/v3" % port

def call(method, path, body=None, token=None, ok=(200, 201, 204)):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token: headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, r.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        if e.code in ok: return e.code, e.headers, None
        raise SystemExit("keystone.sh: %s %s -> %s %s" % (method, path, e.code, e.read()[:300]))

def token(user, pw, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    _, h, b = call("POST", "/auth/tokens", body)
    return h["X-Subject-Token"], b["token"]

admin, _ = token("admin", admin_pw, "admin")

def find(coll, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    _, _, b = call("GET", "/%s?%s" % (coll, qs), token=admin)
    return b[coll]

def ensure_role(name):
    found = find("roles", name=name)
    return found[0]["id"] if found else call("POST", "/roles", {"role": {"name": name}}, admin)[2]["role"]["id"]

def ensure_project(name):
    found = find("projects", name=name, domain_id="default")
    if found: return found[0]["id"]
    return call("POST", "/projects", {"project": {"name": name, "domain_id": "default",
        "description": "Stowage tests"}}, admin)[2]["project"]["id"]

def ensure_user(name, pw, project_id):
    found = find("users", name=name, domain_id="default")
    if found:
        uid = found[0]["id"]
        call("PATCH", "/users/" + uid, {"user": {"password": pw, "enabled": True}}, admin)
        return uid
    return call("POST", "/users", {"user": {"name": name, "password": pw, "domain_id": "default",
        "default_project_id": project_id, "enabled": True}}, admin)[2]["user"]["id"]

def grant(project_id, user_id, role_id):
    call("PUT", "/projects/%s/users/%s/roles/%s" % (project_id, user_id, role_id), token=admin)

def ensure_service(stype, name, description):
    found = [s for s in find("services", type=stype)]
    if found: return found[0]["id"]
    return call("POST", "/services", {"service": {"type": stype, "name": name, "description": description,
        "enabled": True}}, admin)[2]["service"]["id"]

def ensure_endpoints(service_id, url):
    existing = find("endpoints", service_id=service_id)
    for iface in ("public", "internal", "admin"):
        mine = [e for e in existing if e["interface"] == iface]
        if mine:
            e = mine[0]
            if e["url"] != url or e.get("region_id") != region:
                call("PATCH", "/endpoints/" + e["id"], {"endpoint": {"url": url, "region_id": region}}, admin)
            for extra in mine[1:]:
                call("DELETE", "/endpoints/" + extra["id"], token=admin)
        else:
            call("POST", "/endpoints", {"endpoint": {"service_id": service_id, "interface": iface, "url": url,
                "region_id": region, "enabled": True}}, admin)

if only_endpoints != "1":
    member = ensure_role("member")
    reader = ensure_role("reader")
    service = ensure_role("service")  # Keystone's default policy lets role:service validate any token.
    for user, pw, proj in ((m_user, m_pw, m_proj), (a_user, a_pw, a_proj)):
        pid = ensure_project(proj)
        grant(pid, ensure_user(user, pw, pid), member)
    sp = ensure_project(s_proj)
    grant(sp, ensure_user(s_user, s_pw, sp), service)

# The identity endpoints carry Keystone's own port, which may differ from the bootstrapped one (restart, port taken).
identity = find("services", type="identity")
if identity:
    ensure_endpoints(identity[0]["id"], "http://127.0.0.1:%s/v3/" % port)

# Tempest appends "volumes", "backups" ... to the catalog URL: the catalog URL must end in the project id.
for stype, name, desc in (("volumev3", "cinderv3", "Block Storage v3 (Stowage)"),
                          ("block-storage", "cinder", "Block Storage (Stowage)")):
    ensure_endpoints(ensure_service(stype, name, desc), volume_url)

# Check as the member: its token's catalog must resolve both types to its own project.
_, tok = token(m_user, m_pw, m_proj)
pid = tok["project"]["id"]
for stype in ("volumev3", "block-storage"):
    urls = [e["url"] for s in tok["catalog"] if s["type"] == stype for e in s["endpoints"] if e["interface"] == "public"]
    if not urls or not urls[0].endswith(pid):
        raise SystemExit("keystone.sh: %s is not in the member's catalog as expected: %r" % (stype, urls))
    print("keystone.sh: catalog %s public -> %s" % (stype, urls[0]), file=sys.stderr)
EOF
}

# ---------------------------------------------------------------------------------------------------------------

normalise_volume_url() {
  local url=${1%/}
  case $url in
    *'%(project_id)s'* | *'$(project_id)s'* | *'%(tenant_id)s'* | *'$(tenant_id)s'*) echo "$url" ;;
    *) echo "$url/%(project_id)s" ;;
  esac
}

write_env() {
  local url="http://127.0.0.1:$PORT"
  # Values are single-quoted: the volume URL holds "%(project_id)s", which bash would read as syntax.
  cat >"$STATE/keystone.env" <<EOF
KEYSTONE_STATE='$STATE'
KEYSTONE_PORT='$PORT'
KEYSTONE_URL='$url'
KEYSTONE_DB='$DB'
KEYSTONE_VOLUME_ENDPOINT='$VOLUME_URL'
OS_AUTH_URL='$url/v3'
OS_IDENTITY_API_VERSION='3'
OS_REGION_NAME='$REGION'
OS_USER_DOMAIN_NAME='Default'
OS_PROJECT_DOMAIN_NAME='Default'
KEYSTONE_ADMIN_USERNAME='admin'
KEYSTONE_ADMIN_PASSWORD='$ADMIN_PASSWORD'
KEYSTONE_ADMIN_PROJECT='admin'
KEYSTONE_MEMBER_USERNAME='$MEMBER_USER'
KEYSTONE_MEMBER_PASSWORD='$MEMBER_PASSWORD'
KEYSTONE_MEMBER_PROJECT='$MEMBER_PROJECT'
KEYSTONE_ALT_USERNAME='$ALT_USER'
KEYSTONE_ALT_PASSWORD='$ALT_PASSWORD'
KEYSTONE_ALT_PROJECT='$ALT_PROJECT'
KEYSTONE_SERVICE_USERNAME='$SERVICE_USER'
KEYSTONE_SERVICE_PASSWORD='$SERVICE_PASSWORD'
KEYSTONE_SERVICE_PROJECT='$SERVICE_PROJECT'
EOF
  # openrc files for the openstack/cinder CLIs: `. <state>/admin-openrc`.
  local who user pw proj
  for who in admin member alt service; do
    case $who in
      admin) user=admin pw=$ADMIN_PASSWORD proj=admin ;;
      member) user=$MEMBER_USER pw=$MEMBER_PASSWORD proj=$MEMBER_PROJECT ;;
      alt) user=$ALT_USER pw=$ALT_PASSWORD proj=$ALT_PROJECT ;;
      service) user=$SERVICE_USER pw=$SERVICE_PASSWORD proj=$SERVICE_PROJECT ;;
    esac
    cat >"$STATE/$who-openrc" <<EOF
export OS_AUTH_URL=$url/v3 OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=$REGION
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
export OS_USERNAME=$user OS_PASSWORD=$pw OS_PROJECT_NAME=$proj
EOF
  done
}

cmd_start() {
  mkdir -p "$STATE/log"
  : >"$STATE/timings.txt"
  local t_start
  t_start=$(now)
  if [[ -f $STATE/uwsgi.pid ]] && pid_alive "$(cat "$STATE/uwsgi.pid")"; then
    die "Keystone of $STATE is already running (pid $(cat "$STATE/uwsgi.pid")): stop it first"
  fi
  phase install
  ensure_installed
  STOP_ON_FAILURE=1
  if [[ $DB == postgres ]]; then phase postgres; start_postgres; fi
  phase configure
  # sqlite (WAL) still fails concurrent writers from two processes now and then ("database is locked" on a
  # DELETE /v3/projects during tempest's parallel tearDownClass): one process serialises them.
  if [[ $DB == sqlite ]]; then PROCESSES=${KEYSTONE_PROCESSES:-1}; else PROCESSES=${KEYSTONE_PROCESSES:-2}; fi
  [[ $PROCESSES =~ ^[1-9][0-9]?$ ]] || die "KEYSTONE_PROCESSES must be a number from 1 to 99, not '$PROCESSES'"
  if [[ -f $STATE/port ]] && ! port_listening "$(cat "$STATE/port")"; then PORT=$(cat "$STATE/port"); else PORT=$(free_port); fi
  echo "$PORT" >"$STATE/port"
  echo "$DB" >"$STATE/db"
  write_conf
  initialise
  phase uwsgi_ready
  start_uwsgi
  phase register
  ensure_resources
  echo "$VOLUME_URL" >"$STATE/volume-endpoint"
  phase ''
  STOP_ON_FAILURE=0
  write_env
  printf '%-22s %6s s\n' total "$(awk -v a="$t_start" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}')" >>"$STATE/timings.txt"
  log "ready on http://127.0.0.1:$PORT/v3 (pid $(cat "$STATE/uwsgi.pid")); timings:$(echo; sed 's/^/  /' "$STATE/timings.txt")"
  cat "$STATE/keystone.env"
}

cmd_stop() {
  local watcher pid port
  watcher=$(cat "$STATE/watcher.pid" 2>/dev/null || true)
  if [[ -n $watcher && $watcher != "${BASHPID:-$$}" ]] && pid_alive "$watcher"; then kill -TERM "$watcher" 2>/dev/null || true; fi
  rm -f "$STATE/watcher.pid"
  port=$(cat "$STATE/port" 2>/dev/null || true)
  pid=$(tr -d ' \n' 2>/dev/null <"$STATE/uwsgi.pid" || true)
  if [[ -n $pid ]]; then
    if pid_alive "$pid"; then stop_pid "$pid" "${port:-0}" || true; fi
    rm -f "$STATE/uwsgi.pid"
  fi
  if [[ -d $STATE/pg/data ]]; then
    bash "$(cd "$(dirname "$0")" && pwd)/postgres.sh" stop "$STATE/pg" 2>>"$STATE/log/postgres-stop.log" || true
  fi
}

cmd_status() {
  local pid port up=down
  port=$(cat "$STATE/port" 2>/dev/null || echo -)
  pid=$(tr -d ' \n' 2>/dev/null <"$STATE/uwsgi.pid" || echo -)
  if [[ $pid != - ]] && pid_alive "$pid"; then
    up=up
    PORT=$port
    if keystone_ready; then up='up (token issued)'; else up='up (no token)'; fi
  fi
  printf 'keystone pid=%-8s port=%-6s db=%-8s %s\n' "$pid" "$port" "$(cat "$STATE/db" 2>/dev/null || echo -)" "$up"
  [[ $up == up* ]]
}

STOP_ON_FAILURE=0
STOP_ALWAYS=0
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $STOP_ALWAYS == 1 ]] || { [[ $STOP_ON_FAILURE == 1 ]] && [[ $rc != 0 ]]; }; then cmd_stop || true; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $# -ge 2 ]] || usage
COMMAND=$1
mkdir -p "$2"
STATE=$(realpath "$2")
shift 2

DB=$(cat "$STATE/db" 2>/dev/null || echo postgres)
# A restart without --volume-endpoint keeps the URL registered last.
VOLUME_URL=$(cat "$STATE/volume-endpoint" 2>/dev/null || normalise_volume_url "$DEFAULT_VOLUME_ENDPOINT")
WATCH_PID=''
ONLY_ENDPOINTS=0
PORT=''
parse_start_options() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --volume-endpoint) VOLUME_URL=$(normalise_volume_url "${2:?--volume-endpoint needs a URL}"); shift 2 ;;
      --db) DB=${2:?--db needs sqlite or postgres}; [[ $DB == sqlite || $DB == postgres ]] || usage; shift 2 ;;
      --watch-pid) WATCH_PID=${2:?--watch-pid needs a PID}; shift 2 ;;
      --) REST=("${@:2}"); return 0 ;;
      *) usage ;;
    esac
  done
}
REST=()

case $COMMAND in
  start)
    parse_start_options "$@"
    if [[ -f $STATE/.initialised && -f $STATE/db && $(cat "$STATE/db") != "$DB" ]]; then
      die "$STATE was initialised with --db $(cat "$STATE/db"); use a fresh state folder"
    fi
    cmd_start
    if [[ -n $WATCH_PID ]]; then
      (
        trap - EXIT INT TERM
        for ((;;)); do pid_alive "$WATCH_PID" || break; sleep 2; done
        log "process $WATCH_PID is gone: stopping Keystone in $STATE"
        cmd_stop
      ) </dev/null >>"$STATE/log/watcher.log" 2>&1 &
      echo $! >"$STATE/watcher.pid"
    fi
    ;;
  set-volume-endpoint)
    [[ $# == 1 ]] || usage
    VOLUME_URL=$(normalise_volume_url "$1")
    PORT=$(cat "$STATE/port" 2>/dev/null) || die "no Keystone recorded in $STATE"
    ONLY_ENDPOINTS=1
    ensure_resources
    echo "$VOLUME_URL" >"$STATE/volume-endpoint"
    sed -i "s|^KEYSTONE_VOLUME_ENDPOINT=.*|KEYSTONE_VOLUME_ENDPOINT='$VOLUME_URL'|" "$STATE/keystone.env"
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  run)
    parse_start_options "$@"
    [[ ${#REST[@]} -ge 1 ]] || usage
    STOP_ALWAYS=1
    cmd_start >/dev/null
    set -a
    # shellcheck disable=SC1091
    source "$STATE/keystone.env"
    set +a
    "${REST[@]}"
    ;;
  *) usage ;;
esac
