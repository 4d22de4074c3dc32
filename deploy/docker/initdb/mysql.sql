-- Runs once, when the mysql container initializes its data directory.
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE shop.products (
  id    INT AUTO_INCREMENT PRIMARY KEY,
  sku   VARCHAR(32) NOT NULL UNIQUE,
  price DECIMAL(10,2) NOT NULL
);
INSERT INTO shop.products (sku, price) VALUES ('tea', 3.50), ('cake', 4.25);

-- The MySQL follower: an empty database the mysql-replica sink fills.
-- (walship captures shop.* only, so rows it writes here are not captured back.)
CREATE DATABASE IF NOT EXISTS replica;
