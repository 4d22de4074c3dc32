#!/usr/bin/env bash
# deploy/demo/setup.sh — create the demo databases and a small shop schema on
# the local servers (make env-up must have run). Idempotent.
set -euo pipefail
# shellcheck source=deploy/local/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../local/env.sh"

pg_src="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_SOURCE_PORT"
pg_fol="postgres://postgres@$WALSHIP_HOST:$WALSHIP_PG_FOLLOWER_PORT"
psql_q() { psql -v ON_ERROR_STOP=1 -q -X "$@"; }
maria() { mariadb --protocol=TCP -h "$WALSHIP_HOST" -u root "$@"; }

# PostgreSQL source: database shop with a parent/child pair.
psql_q "$pg_src/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'shop'" | grep -q 1 ||
  psql_q "$pg_src/postgres" -c "CREATE DATABASE shop"
psql_q "$pg_src/shop" <<'SQL'
CREATE TABLE IF NOT EXISTS customers (
  id    bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name  text
);
CREATE TABLE IF NOT EXISTS orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  total       numeric(12,2) NOT NULL,
  placed_at   timestamptz NOT NULL DEFAULT now()
);
-- Updates carry their old row, so walship sees the parent an order left
-- and the email a customer freed, and applies them in parallel.
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan')
  ON CONFLICT (email) DO NOTHING;
SQL

# PostgreSQL follower: an empty database the sink fills.
psql_q "$pg_fol/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'replica'" | grep -q 1 ||
  psql_q "$pg_fol/postgres" -c "CREATE DATABASE replica"

# MariaDB source and follower.
maria -P "$WALSHIP_MYSQL_SOURCE_PORT" <<'SQL'
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.products (
  id    INT AUTO_INCREMENT PRIMARY KEY,
  sku   VARCHAR(32) NOT NULL UNIQUE,
  price DECIMAL(10,2) NOT NULL
);
INSERT IGNORE INTO shop.products (sku, price) VALUES ('tea', 3.50), ('cake', 4.25);
SQL
maria -P "$WALSHIP_MYSQL_FOLLOWER_PORT" -e "CREATE DATABASE IF NOT EXISTS replica"

echo "demo databases ready: shop on the sources, replica on the followers"
