#!/usr/bin/env bash
# deploy/local/failover.sh {pg|mariadb} {promote|reset}
#   promote: kill the pair's primary with SIGKILL and promote its standby
#            (PostgreSQL 18: pg_ctl promote) or replica (MariaDB: replication
#            stopped and reset, read_only off); it then serves on its own port
#            as the primary, and the old primary stays down
#   reset:   rebuild the pair as new (both data folders deleted, the primary
#            initialised again, the standby or replica following it), so the
#            next test starts from a primary with a standby
# The pairs stand apart from the servers other tests share.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

# kill9_pidfile FILE: SIGKILL the process whose pid is the first line of
# FILE (a server's pid file), and wait until it is gone.
kill9_pidfile() {
  local pid
  [[ -s "$1" ]] || return 0
  pid="$(head -1 "$1" | tr -d '[:space:]')"
  kill -9 "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

usage="usage: failover.sh pg|mariadb promote|reset"
engine="${1:?$usage}"
action="${2:?$usage}"
if [[ "$engine" == mariadb ]]; then
  mprimary="$WALSHIP_ENV_DIR/mariadb-ha-primary"
  mreplica="$WALSHIP_ENV_DIR/mariadb-ha-replica"
  mkill() { kill9_pidfile "$1/mariadbd.pid"; }
  case "$action" in
    promote)
      mkill "$mprimary"
      log "mariadb-ha-primary killed (SIGKILL)"
      mariadb --no-defaults --protocol=tcp -h "$WALSHIP_HOST" -P "$WALSHIP_MYSQL_HA_REPLICA_PORT" -u root \
        -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF" || die "mariadb-ha-replica did not promote"
      log "mariadb-ha-replica promoted: the primary is now 127.0.0.1:$WALSHIP_MYSQL_HA_REPLICA_PORT"
      ;;
    reset)
      env_lock
      mkill "$mreplica"
      mkill "$mprimary"
      rm -rf "$mreplica" "$mprimary"
      bash "$here/mariadb.sh" start ha-primary
      bash "$here/mariadb.sh" start ha-replica
      ;;
    *) die "$usage" ;;
  esac
  exit 0
fi
[[ "$engine" == pg ]] || die "$usage"
primary="$WALSHIP_ENV_DIR/pg18-primary"
standby="$WALSHIP_ENV_DIR/pg18-standby"
bin="$WALSHIP_PG18_BIN"

# kill9 DATADIR: SIGKILL the postmaster of DATADIR (and wait until it is gone).
kill9() {
  kill9_pidfile "$1/postmaster.pid"
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
