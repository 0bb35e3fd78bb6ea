#!/usr/bin/env bash
# Runs Stowage in the foreground for scripts/tempest/test-tempest.sh: posix backend, SQLite, Keystone auth, all
# under $STOWAGE_TEMPEST_STATE, listening on 127.0.0.1:$STOWAGE_TEMPEST_PORT.
#
#   bash scripts/tempest/test-tempest.sh -- bash scripts/tempest/stowage-for-tempest.sh
#
# Needs the environment test-tempest.sh gives (keystone.env + STOWAGE_TEMPEST_*) and a built app
# (apps/backup-service/dist). Tokens are validated by Keystone (`auth_strategy: keystone`, options named after
# Cinder's [keystone_authtoken]) with the `stowage` service user; its password is read from the environment so
# that it is not written into the config file.
set -euo pipefail

: "${STOWAGE_TEMPEST_STATE:?run me through scripts/tempest/test-tempest.sh}"
: "${STOWAGE_TEMPEST_PORT:?}" "${OS_AUTH_URL:?}" "${KEYSTONE_SERVICE_USERNAME:?}" "${KEYSTONE_SERVICE_PASSWORD:?}"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$STOWAGE_TEMPEST_STATE/stowage-data
mkdir -p "$DATA/backups" "$DATA/volumes"

cat >"$STOWAGE_TEMPEST_STATE/stowage.yaml" <<EOF
host: tempest
state_path: $DATA
database_url: sqlite:$DATA/stowage.sqlite
listen: 127.0.0.1:$STOWAGE_TEMPEST_PORT
volumes_dir: $DATA/volumes
backup_periodic_initialization: true
auth_strategy: keystone
keystone_authtoken:
  auth_url: $OS_AUTH_URL
  www_authenticate_uri: $OS_AUTH_URL
  username: $KEYSTONE_SERVICE_USERNAME
  password_env: KEYSTONE_SERVICE_PASSWORD
  project_name: $KEYSTONE_SERVICE_PROJECT
  user_domain_name: $OS_USER_DOMAIN_NAME
  project_domain_name: $OS_PROJECT_DOMAIN_NAME
  region_name: $OS_REGION_NAME
backends:
  - name: posix
    driver: '@stowage/driver-posix'
    options:
      path: $DATA/backups
EOF

cd "$ROOT/apps/backup-service"
exec node dist/cli.js serve --config "$STOWAGE_TEMPEST_STATE/stowage.yaml"
