# shellcheck shell=bash
# deploy/local/common.sh — small helpers shared by the deploy/local scripts.
# Configuration lives in env.sh only; this file adds functions, nothing else.

# shellcheck source=deploy/local/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# shellcheck disable=SC2034  # used by the scripts that source this file
PORT_HINT="another checkout's local env? stop it there with make env-down, or override the WALSHIP_*_PORT variables"

log()  { printf '%s\n' "$*"; }
warn() { printf 'WARN: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file to stderr (used when a start fails).
log_tail() {
  local file="$1" n="${2:-40}"
  if [[ -f "$file" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$file" >&2
    tail -n "$n" "$file" >&2
    printf -- '-----\n' >&2
  else
    printf 'no log file at %s\n' "$file" >&2
  fi
}

# resolve_jars CACHE LIBS WHAT: copy the runtime dependencies of the pom in
# CACHE/pom.xml from Maven Central into LIBS (replaced), logging to
# CACHE/mvn.log; WHAT names them in the error.
resolve_jars() {
  local cache="$1" libs="$2" what="$3"
  rm -rf "$libs"
  if ! mvn -B -q -f "$cache/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >"$cache/mvn.log" 2>&1; then
    log_tail "$cache/mvn.log" 60
    die "mvn could not resolve $what (log: $cache/mvn.log)"
  fi
}

# port_open HOST PORT: true when a socket listens on TCP PORT (of HOST or of
# every address). It reads the kernel's socket table rather than connecting:
# our ports lie in the ephemeral range, and a connect to a port nobody listens
# on can pick that same port as its source (a TCP self-connect). The socket it
# leaves in TIME_WAIT then keeps the server from binding for a minute.
port_open() {
  local host="$1" port hexport want f
  port="$2"
  hexport="$(printf '%04X' "$port")"
  want="$(printf '%02X%02X%02X%02X' $(echo "$host" | tr '.' ' ' | awk '{print $4, $3, $2, $1}') 2>/dev/null || true)"
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r "$f" ]] || continue
    # Columns: sl local_address rem_address st ...; st 0A is LISTEN.
    awk -v p=":$hexport" -v a="$want" '
      $4 == "0A" && substr($2, length($2) - 4) == p {
        split($2, la, ":")
        if (la[1] == a || la[1] ~ /^0+$/ || length(la[1]) == 32) { found = 1 }
      }
      END { exit !found }' "$f" && return 0
  done
  return 1
}

# reserve_ports: keep the kernel from giving our servers' ports to outgoing
# connections as their local port. They lie in the ephemeral range (32768-
# 60999), and a client socket that got one keeps the server from binding it
# when it starts again (seen when a test restarts Kafka under load: "Address
# already in use"). Idempotent; needs root, else it says so once and the
# start retries instead.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur p lo hi r missing=()
  [[ -r "$f" ]] || return 0
  cur="$(cat "$f")"
  for p in "$WALSHIP_PG_SOURCE_PORT" "$WALSHIP_PG_FOLLOWER_PORT" "$WALSHIP_MYSQL_SOURCE_PORT" "$WALSHIP_MYSQL_FOLLOWER_PORT" \
    "$WALSHIP_KAFKA_PORT" "$WALSHIP_KAFKA_CONTROLLER_PORT" "$WALSHIP_KAFKA_FAULT_PORT" "$WALSHIP_KAFKA_FAULT_PROXY_PORT" \
    "$WALSHIP_KAFKA_SASL_PORT" "$WALSHIP_KAFKA_TLS_PORT" "$WALSHIP_PG18_PORT" "$WALSHIP_PG18_PRIMARY_PORT" "$WALSHIP_PG18_STANDBY_PORT" \
    "$WALSHIP_MYSQL_HA_PRIMARY_PORT" "$WALSHIP_MYSQL_HA_REPLICA_PORT"; do
    local covered=0
    for r in ${cur//,/ }; do
      lo="${r%-*}"; hi="${r#*-}"
      if (( p >= lo && p <= hi )); then covered=1; break; fi
    done
    (( covered )) || missing+=("$p")
  done
  (( ${#missing[@]} )) || return 0
  local IFS=,
  if ! { echo "${cur:+$cur,}${missing[*]}" >"$f"; } 2>/dev/null; then
    [[ -n "${WALSHIP_RESERVE_NOTED:-}" ]] || warn "could not reserve ports ${missing[*]} from the ephemeral range (needs root); a server restart may find its port taken and retry"
    export WALSHIP_RESERVE_NOTED=1
  fi
}

# pid_alive PIDFILE [PATTERN]: true when the pid in PIDFILE runs and its command
# line contains PATTERN (guards against a recycled pid).
pid_alive() {
  local pidfile="$1" pattern="${2:-}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -d '[:space:]' <"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -z "$pattern" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# wait_until SECONDS CMD...: retry CMD every 0.5 s until it succeeds or time runs out.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# wait_ready SECONDS PID CMD...: like wait_until, but give up at once if PID exits.
wait_ready() {
  local deadline=$((SECONDS + $1)) pid="$2"; shift 2
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# as_postgres CMD...: run CMD as the postgres user when we are root (PostgreSQL refuses root).
# Runs from / so the postgres user never needs access to the caller's directory.
as_postgres() {
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Serialise env-up/env-down so two engineers (or make -j) do not race on initdb.
env_lock() {
  mkdir -p "$WALSHIP_ENV_DIR"
  exec 9>"$WALSHIP_ENV_DIR/.lock"
  flock -w 300 9 || die "another env-up/env-down holds $WALSHIP_ENV_DIR/.lock"
}

# status_line NAME up|down ADDRESS [DETAIL]: one aligned line of `make env-status`.
status_line() { printf '%-17s %-5s %-16s %s\n' "$1" "$2" "$3" "${4:-}"; }

# server_cert: a self-signed certificate for $WALSHIP_HOST (and localhost),
# made once, that the PostgreSQL and MariaDB servers serve TLS with; the
# tests trust it as their CA ($WALSHIP_TEST_TLS_CA).
server_cert() {
  local dir="$WALSHIP_ENV_DIR/tls"
  [[ -s "$dir/server.crt" && -s "$dir/server.key" ]] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$WALSHIP_HOST" \
    -addext "subjectAltName=IP:$WALSHIP_HOST,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$dir/server.key" -out "$dir/server.crt" >"$dir/openssl.log" 2>&1 \
    || { log_tail "$dir/openssl.log"; die "openssl could not make the servers' TLS certificate"; }
  chmod 0644 "$dir/server.crt"
  chmod 0600 "$dir/server.key"
}
