#!/usr/bin/env bash
# deploy/local/down.sh — stop every local test server, keeping its data. Run by `make env-down`.
# Tries every server even if one fails to stop; exits non-zero if any did.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

[[ -d "$WALSHIP_ENV_DIR" ]] || { log "nothing to stop: $WALSHIP_ENV_DIR does not exist"; exit 0; }
env_lock
rc=0
bash "$here/kafka.sh"    stop          || rc=1
bash "$here/mariadb.sh"  stop ha-replica || rc=1
bash "$here/mariadb.sh"  stop ha-primary || rc=1
bash "$here/mariadb.sh"  stop follower || rc=1
bash "$here/mariadb.sh"  stop source   || rc=1
bash "$here/postgres.sh" stop pg18-standby || rc=1
bash "$here/postgres.sh" stop pg18-primary || rc=1
bash "$here/postgres.sh" stop pg18 || rc=1
bash "$here/postgres.sh" stop follower || rc=1
bash "$here/postgres.sh" stop source   || rc=1
exit "$rc"
