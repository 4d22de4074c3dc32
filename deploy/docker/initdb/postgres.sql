-- Runs once, when the postgres container initializes its data directory,
-- in the database POSTGRES_DB (shop). The same small schema as deploy/demo.
CREATE TABLE customers (
  id    bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name  text
);
CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  total       numeric(12,2) NOT NULL,
  placed_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan');

-- The PostgreSQL follower: an empty database the pg-replica sink fills.
CREATE DATABASE replica;
