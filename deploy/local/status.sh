#!/usr/bin/env bash
# deploy/local/status.sh — print each local test server up/down with its address.
# Exits 0 when all are up, 1 otherwise. Run by `make env-status`.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

log "data: $WALSHIP_ENV_DIR   kafka $WALSHIP_KAFKA_VERSION jars: $WALSHIP_KAFKA_CACHE"
rc=0
bash "$here/postgres.sh" status source   || rc=1
bash "$here/postgres.sh" status follower || rc=1
bash "$here/postgres.sh" status pg18 || rc=1
bash "$here/postgres.sh" status pg18-primary || rc=1
bash "$here/postgres.sh" status pg18-standby || rc=1
bash "$here/mariadb.sh"  status source   || rc=1
bash "$here/mariadb.sh"  status follower || rc=1
bash "$here/mariadb.sh"  status ha-primary || rc=1
bash "$here/mariadb.sh"  status ha-replica || rc=1
bash "$here/kafka.sh"    status          || rc=1
exit "$rc"
