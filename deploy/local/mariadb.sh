#!/usr/bin/env bash
# deploy/local/mariadb.sh {start|stop|status} {source|follower|ha-primary|ha-replica}
# A throwaway MariaDB server per role, run as root, bound to $WALSHIP_HOST.
#   source:     port $WALSHIP_MYSQL_SOURCE_PORT, server_id=1, row binlog with full metadata, GTID strict
#   follower:   port $WALSHIP_MYSQL_FOLLOWER_PORT, server_id=2
#   ha-primary: port $WALSHIP_MYSQL_HA_PRIMARY_PORT, server_id=11, binlog as the source's
#   ha-replica: port $WALSHIP_MYSQL_HA_REPLICA_PORT, server_id=12, binlog as the source's,
#               replicating from ha-primary by GTID (log_slave_updates): the failover pair
# root@localhost and root@127.0.0.1 connect over TCP without a password.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage="usage: mariadb.sh start|stop|status source|follower|ha-primary|ha-replica"
action="${1:?$usage}"
role="${2:?$usage}"
case "$role" in
  source)     port="$WALSHIP_MYSQL_SOURCE_PORT";     server_id=1;  dsn="$WALSHIP_TEST_MYSQL_SOURCE" ;;
  follower)   port="$WALSHIP_MYSQL_FOLLOWER_PORT";   server_id=2;  dsn="$WALSHIP_TEST_MYSQL_FOLLOWER" ;;
  ha-primary) port="$WALSHIP_MYSQL_HA_PRIMARY_PORT"; server_id=11; dsn="$WALSHIP_TEST_MYSQL_HA_PRIMARY" ;;
  ha-replica) port="$WALSHIP_MYSQL_HA_REPLICA_PORT"; server_id=12; dsn="$WALSHIP_TEST_MYSQL_HA_REPLICA" ;;
  *) die "unknown role $role (want source, follower, ha-primary or ha-replica)" ;;
esac

name="mariadb-$role"
dir="$WALSHIP_ENV_DIR/$name"
datadir="$dir/data"
cnf="$dir/my.cnf"
pidfile="$dir/mariadbd.pid"
sock="$dir/mariadbd.sock"
logfile="$dir/error.log"

mariadbd_bin="$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)"
admin() { mariadb-admin --no-defaults --protocol=tcp -h "$WALSHIP_HOST" -P "$port" -u root --connect-timeout=2 "$@"; }
ready()   { admin ping >/dev/null 2>&1; }
running() { pid_alive "$pidfile" "$cnf"; }

write_config() {
  mkdir -p "$dir" "$dir/tmp"
  server_cert
  {
    echo "# Written by deploy/local/mariadb.sh on every start; edits are overwritten."
    echo "[mariadbd]"
    echo "datadir = $datadir"
    echo "socket = $sock"
    echo "pid-file = $pidfile"
    echo "log-error = $logfile"
    # A tmpdir of its own: a MariaDB server deletes every #sql* file in its
    # tmpdir when it starts, so a server started (the failover tests
    # rebuild the HA pair) while another used a shared /tmp took that one's
    # internal temporary tables from under it (Error 6, or signal 11 in
    # ha_maria::drop_table).
    echo "tmpdir = $dir/tmp"
    echo "port = $port"
    echo "bind-address = $WALSHIP_HOST"
    echo "user = root"
    echo "skip-name-resolve"
    echo "character-set-server = utf8mb4"
    echo "collation-server = utf8mb4_general_ci"
    echo "innodb_buffer_pool_size = 128M"
    echo "server_id = $server_id"
    echo "gtid_strict_mode = ON"
    # TLS offered (not required): tests connect with and without it.
    echo "ssl_cert = $WALSHIP_ENV_DIR/tls/server.crt"
    echo "ssl_key = $WALSHIP_ENV_DIR/tls/server.key"
    # A replica takes no writes but its replication's (failover.sh clears it).
    [[ "$role" == ha-replica ]] && echo "read_only = ON"
    if [[ "$role" != follower ]]; then
      echo "log_bin = mariadb-bin"
      echo "binlog_format = ROW"
      echo "binlog_row_image = FULL"
      echo "binlog_row_metadata = FULL"
      echo "log_slave_updates = ON"
    fi
  } >"$cnf"
}

# mariadb-install-db once, with password-less (not unix_socket) root.
init_datadir() {
  log "mariadb-install-db $name in $datadir"
  mariadb-install-db --defaults-file="$cnf" --user=root --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install-db.log" 2>&1 \
    || { log_tail "$dir/install-db.log"; die "mariadb-install-db for $name failed"; }
}

# Make sure root can log in over TCP from 127.0.0.1 with no password (skip-name-resolve
# means such connections match 'root'@'127.0.0.1', not 'root'@'localhost').
grant_root() {
  mariadb --no-defaults -S "$sock" -u root <<'SQL'
SET SESSION sql_log_bin = 0;  -- keep setup statements out of the binlog
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
}

start() {
  reserve_ports
  if running; then
    wait_until 30 ready || { log_tail "$logfile"; die "$name runs but does not answer on $WALSHIP_HOST:$port"; }
    log "$name already running on $WALSHIP_HOST:$port  ($dsn)"
    return 0
  fi
  port_open "$WALSHIP_HOST" "$port" && die "$name: port $WALSHIP_HOST:$port is taken by another process ($PORT_HINT)"
  write_config
  [[ -d "$datadir/mysql" ]] || { rm -f "$dir/.root-ok"; init_datadir; }
  rm -f "$pidfile" "$dir/.stopping"
  # --defaults-file must be the first option. 9>&- : do not inherit the env lock.
  if [[ "$role" == ha-* ]]; then
    # The failover pair's servers stay down when a test kills them.
    setsid nohup "$mariadbd_bin" --defaults-file="$cnf" >>"$dir/stdout.log" 2>&1 </dev/null 9>&- &
  else
    # The shared servers come back after a crash, as under mariadbd-safe:
    # a crash of one would fail every test after it. A stop (stop below)
    # marks .stopping first.
    setsid nohup bash -c 'while :; do "$0" --defaults-file="$1" </dev/null; code=$?
      [[ -f "$2/.stopping" || $code -eq 0 ]] && exit $code
      echo "$(date -u +%FT%TZ) mariadbd exited with $code; restarting" >>"$2/stdout.log"; sleep 1; done' \
      "$mariadbd_bin" "$cnf" "$dir" >>"$dir/stdout.log" 2>&1 </dev/null 9>&- &
  fi
  local pid=$!
  if ! wait_ready 90 "$pid" ready; then
    log_tail "$logfile"; log_tail "$dir/stdout.log" 10
    kill -TERM "$pid" 2>/dev/null || true   # do not leave a half-started server behind
    die "$name failed to start (see $logfile)"
  fi
  if [[ ! -f "$dir/.root-ok" ]]; then
    grant_root || { log_tail "$logfile"; die "$name: could not set up root@127.0.0.1"; }
    touch "$dir/.root-ok"
  fi
  if [[ "$role" == ha-replica && ! -f "$dir/.replica-ok" ]]; then
    # Once: replicate from ha-primary by GTID, from its first transaction.
    mariadb --no-defaults -S "$sock" -u root <<SQL || { log_tail "$logfile"; die "$name: could not start replicating from ha-primary"; }
CHANGE MASTER TO MASTER_HOST = '$WALSHIP_HOST', MASTER_PORT = $WALSHIP_MYSQL_HA_PRIMARY_PORT, MASTER_USER = 'root',
  MASTER_PASSWORD = '', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
START SLAVE;
SQL
    touch "$dir/.replica-ok"
  fi
  log "$name up on $WALSHIP_HOST:$port  ($dsn)"
}

stop() {
  if ! running; then log "$name not running"; return 0; fi
  touch "$dir/.stopping"   # the restart loop (start) lets it go
  local pid; pid="$(cat "$pidfile")"
  admin shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 60 bash -c "! kill -0 $pid 2>/dev/null"; then
    warn "$name did not stop in 60 s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "$name stopped"
}

status() {
  if ready; then status_line "$name" up "$WALSHIP_HOST:$port" "$dsn"
  else status_line "$name" down "$WALSHIP_HOST:$port"; return 1; fi
}

"$action"
