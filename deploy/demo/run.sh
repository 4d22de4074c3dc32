#!/usr/bin/env bash
# deploy/demo/run.sh — the demo's last step (make demo): check every server,
# start a small traffic generator on both sources, and run walship in the
# foreground. Ctrl-C stops both cleanly.
set -euo pipefail
# shellcheck source=deploy/local/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../local/env.sh"
cd "$WALSHIP_ROOT"
config="${DEMO_CONFIG:-deploy/demo/walship.yaml}"

bin/walship check -c "$config"

bin/demotraffic \
  -pg "postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_SOURCE_PORT/shop?sslmode=disable" \
  -mysql "root@tcp($WALSHIP_HOST:$WALSHIP_MYSQL_SOURCE_PORT)/shop" -rate "${DEMO_RATE:-20}" &
traffic=$!
trap 'kill -TERM "$traffic" 2>/dev/null || true; wait "$traffic" 2>/dev/null || true' EXIT

cat <<MSG

  walship demo
  ------------
  dashboard   http://127.0.0.1:58080/
  status      bin/walship status -c $config
  metrics     curl -s http://127.0.0.1:58080/metrics | grep '^walship_sink_lag'
  followers   psql "postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_FOLLOWER_PORT/replica" -c 'select count(*) from public.orders'
              mariadb -h $WALSHIP_HOST -P $WALSHIP_MYSQL_FOLLOWER_PORT -u root replica -e 'select count(*) from orders'
              sqlite3 $WALSHIP_ENV_DIR/demo-replica.db "select count(*) from orders"   (with the sqlite3 CLI)
  stop        Ctrl-C (then make env-down to stop the servers)

MSG
bin/walship run -c "$config"
