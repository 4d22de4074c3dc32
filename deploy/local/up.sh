#!/usr/bin/env bash
# deploy/local/up.sh — start every local test server (idempotent). Run by `make env-up`.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

env_lock
[[ -z "$WALSHIP_ENV_DIR_NOTE" ]] || warn "$WALSHIP_ENV_DIR_NOTE"
log "local test environment: $WALSHIP_ENV_DIR"
reserve_ports
bash "$here/postgres.sh" start source
bash "$here/postgres.sh" start follower
bash "$here/postgres.sh" start pg18
bash "$here/postgres.sh" start pg18-primary
bash "$here/postgres.sh" start pg18-standby
bash "$here/mariadb.sh"  start source
bash "$here/mariadb.sh"  start follower
bash "$here/mariadb.sh"  start ha-primary
bash "$here/mariadb.sh"  start ha-replica
bash "$here/kafka.sh"    start
log "all servers up. For tests: . deploy/local/env.sh  (exports WALSHIP_TEST_*)"
