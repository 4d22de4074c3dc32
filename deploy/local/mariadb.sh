#!/usr/bin/env bash
# deploy/local/mariadb.sh {start|stop|status} {source|follower}
# A throwaway MariaDB server per role, run as root, bound to $WALSHIP_HOST.
#   source:   port $WALSHIP_MYSQL_SOURCE_PORT, server_id=1, row binlog with full metadata, GTID strict
#   follower: port $WALSHIP_MYSQL_FOLLOWER_PORT, server_id=2
# root@localhost and root@127.0.0.1 connect over TCP without a password.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

action="${1:?usage: mariadb.sh start|stop|status source|follower}"
role="${2:?usage: mariadb.sh start|stop|status source|follower}"
case "$role" in
  source)   port="$WALSHIP_MYSQL_SOURCE_PORT";   server_id=1; dsn="$WALSHIP_TEST_MYSQL_SOURCE" ;;
  follower) port="$WALSHIP_MYSQL_FOLLOWER_PORT"; server_id=2; dsn="$WALSHIP_TEST_MYSQL_FOLLOWER" ;;
  *) die "unknown role $role (want source or follower)" ;;
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
  mkdir -p "$dir"
  server_cert
  {
    echo "# Written by deploy/local/mariadb.sh on every start; edits are overwritten."
    echo "[mariadbd]"
    echo "datadir = $datadir"
    echo "socket = $sock"
    echo "pid-file = $pidfile"
    echo "log-error = $logfile"
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
    if [[ "$role" == source ]]; then
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
  rm -f "$pidfile"
  # --defaults-file must be the first option. 9>&- : do not inherit the env lock.
  setsid nohup "$mariadbd_bin" --defaults-file="$cnf" >>"$dir/stdout.log" 2>&1 </dev/null 9>&- &
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
  log "$name up on $WALSHIP_HOST:$port  ($dsn)"
}

stop() {
  if ! running; then log "$name not running"; return 0; fi
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
