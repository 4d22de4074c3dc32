#!/usr/bin/env bash
# deploy/local/failover.sh pg {promote|reset}
#   promote: kill the PostgreSQL 18 pair's primary with SIGKILL and promote
#            its standby (the standby then serves on its own port as the
#            primary; the old primary stays down)
#   reset:   rebuild the pair as new (both data folders deleted, the primary
#            initialised again, the standby copied from it), so the next
#            test starts from a primary with a standby
# The pair stands apart from the servers other tests share.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

usage="usage: failover.sh pg promote|reset"
engine="${1:?$usage}"
action="${2:?$usage}"
[[ "$engine" == pg ]] || die "failover.sh: only the PostgreSQL pair (pg) exists yet"
primary="$WALSHIP_ENV_DIR/pg18-primary"
standby="$WALSHIP_ENV_DIR/pg18-standby"
bin="$WALSHIP_PG18_BIN"

# kill9 DATADIR: SIGKILL the postmaster of DATADIR (and wait until it is gone).
kill9() {
  local pid
  [[ -s "$1/postmaster.pid" ]] || return 0
  pid="$(head -1 "$1/postmaster.pid")"
  kill -9 "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  # Its backends die with it once they notice; the port is free then.
  pkill -9 -f -- "-D $1" 2>/dev/null || true
}

case "$action" in
  promote)
    kill9 "$primary"
    log "pg18-primary killed (SIGKILL)"
    as_postgres "$bin/pg_ctl" promote -D "$standby" -w -t 60 >/dev/null || die "pg18-standby did not promote"
    log "pg18-standby promoted: the primary is now 127.0.0.1:$WALSHIP_PG18_STANDBY_PORT"
    ;;
  reset)
    env_lock
    kill9 "$standby"
    kill9 "$primary"
    rm -rf "$standby" "$primary"
    bash "$here/postgres.sh" start pg18-primary
    bash "$here/postgres.sh" start pg18-standby
    ;;
  *) die "$usage" ;;
esac
