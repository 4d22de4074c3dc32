#!/usr/bin/env bash
# deploy/local/postgres.sh {start|stop|status} {source|follower}
# A throwaway PostgreSQL cluster per role, run as the postgres user.
#   source:   port $WALSHIP_PG_SOURCE_PORT, wal_level=logical (pgoutput slots)
#   follower: port $WALSHIP_PG_FOLLOWER_PORT, wal_level=replica
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

action="${1:?usage: postgres.sh start|stop|status source|follower}"
role="${2:?usage: postgres.sh start|stop|status source|follower}"
case "$role" in
  source)   port="$WALSHIP_PG_SOURCE_PORT";   wal_level=logical; url="$WALSHIP_TEST_PG_SOURCE" ;;
  follower) port="$WALSHIP_PG_FOLLOWER_PORT"; wal_level=replica; url="$WALSHIP_TEST_PG_FOLLOWER" ;;
  *) die "unknown role $role (want source or follower)" ;;
esac

name="pg-$role"
pgdata="$WALSHIP_ENV_DIR/$name"     # owned by postgres; also holds the unix socket
logfile="$pgdata/server.log"
bin="$WALSHIP_PG_BIN"

running() { [[ -f "$pgdata/PG_VERSION" ]] && as_postgres "$bin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; }
ready()   { "$bin/pg_isready" -q -h "$WALSHIP_HOST" -p "$port" -t 2; }

# initdb once; the walship settings are rewritten on every start.
init_cluster() {
  mkdir -p "$WALSHIP_ENV_DIR"
  as_postgres test -x "$WALSHIP_ENV_DIR" \
    || die "the postgres user cannot reach $WALSHIP_ENV_DIR: choose another WALSHIP_ENV_DIR (every parent must be traversable)"
  install -d -o postgres -g postgres -m 0700 "$pgdata"
  log "initdb $name in $pgdata"
  as_postgres "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C >"$WALSHIP_ENV_DIR/$name-initdb.log" 2>&1 \
    || { log_tail "$WALSHIP_ENV_DIR/$name-initdb.log"; die "initdb for $name failed"; }
  echo "include_if_exists = 'walship.conf'" | as_postgres tee -a "$pgdata/postgresql.conf" >/dev/null
}

write_config() {
  # TLS offered (not required): the key must belong to the server's user.
  server_cert
  install -o postgres -g postgres -m 0600 "$WALSHIP_ENV_DIR/tls/server.key" "$pgdata/server.key"
  install -o postgres -g postgres -m 0644 "$WALSHIP_ENV_DIR/tls/server.crt" "$pgdata/server.crt"
  as_postgres tee "$pgdata/walship.conf" >/dev/null <<CONF
# Written by deploy/local/postgres.sh on every start; edits are overwritten.
listen_addresses = '$WALSHIP_HOST'
port = $port
unix_socket_directories = '$pgdata'
wal_level = $wal_level
max_replication_slots = 64
max_wal_senders = 64
max_connections = 100
logging_collector = off
log_min_messages = warning
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
CONF
  # Trust everything local, including replication connections: test servers only.
  as_postgres tee "$pgdata/pg_hba.conf" >/dev/null <<HBA
# Written by deploy/local/postgres.sh: local test server, no passwords.
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
host    all          all   ::1/128       trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
host    replication  all   ::1/128       trust
HBA
}

start() {
  reserve_ports
  if running; then
    ready || wait_until 30 ready || { log_tail "$logfile"; die "$name runs but does not answer on $WALSHIP_HOST:$port"; }
    log "$name already running on $WALSHIP_HOST:$port  ($url)"
    return 0
  fi
  [[ -f "$pgdata/PG_VERSION" ]] || init_cluster
  port_open "$WALSHIP_HOST" "$port" && die "$name: port $WALSHIP_HOST:$port is taken by another process ($PORT_HINT)"
  write_config
  # 9>&- : do not let the server inherit the env lock.
  if ! as_postgres "$bin/pg_ctl" start -D "$pgdata" -l "$logfile" -w -t 60 >/dev/null 9>&-; then
    log_tail "$logfile"; die "$name failed to start"
  fi
  wait_until 30 ready || { log_tail "$logfile"; die "$name started but does not answer on $WALSHIP_HOST:$port"; }
  log "$name up on $WALSHIP_HOST:$port  ($url)"
}

stop() {
  if running; then
    as_postgres "$bin/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null || { log_tail "$logfile"; die "$name did not stop"; }
    log "$name stopped"
  else
    log "$name not running"
  fi
}

status() {
  if ready; then status_line "$name" up "$WALSHIP_HOST:$port" "$url"
  else status_line "$name" down "$WALSHIP_HOST:$port"; return 1; fi
}

"$action"
