package validate

// Source and follower DDL of the workload's tables. The follower schema
// has the foreign key, enforced, on every engine; walship must never
// violate it while applying in parallel.
var sourceDDL = map[string][]string{
	"postgres": {
		`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE customers (id bigint PRIMARY KEY, name text, version bigint NOT NULL)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), amount numeric(12,2) NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE txlog (id bigint PRIMARY KEY)`,
		`CREATE TABLE prefix_seq (id bigint PRIMARY KEY)`,
	},
	"mariadb": {
		`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE customers (id bigint PRIMARY KEY, name longtext, version bigint NOT NULL)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount decimal(12,2) NOT NULL, version bigint NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE txlog (id bigint PRIMARY KEY)`,
		`CREATE TABLE prefix_seq (id bigint PRIMARY KEY)`,
	},
}

// FollowerDDL creates the workload's tables on a follower of engine
// "postgres" (in schema, e.g. public), "mysql" or "sqlite".
func FollowerDDL(engine, schema string) []string {
	switch engine {
	case "postgres":
		q := func(t string) string { return `"` + schema + `".` + t }
		return []string{
			`CREATE SCHEMA IF NOT EXISTS "` + schema + `"`,
			`CREATE TABLE ` + q("accounts") + ` (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
			`CREATE TABLE ` + q("customers") + ` (id bigint PRIMARY KEY, name text, version bigint NOT NULL)`,
			`CREATE TABLE ` + q("orders") + ` (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES ` + q("customers") + `(id), amount numeric(12,2) NOT NULL, version bigint NOT NULL)`,
			`CREATE TABLE ` + q("prefix_seq") + ` (id bigint PRIMARY KEY)`,
		}
	case "mysql":
		return []string{
			`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
			`CREATE TABLE customers (id bigint PRIMARY KEY, name longtext, version bigint NOT NULL)`,
			`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount decimal(12,2) NOT NULL, version bigint NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
			`CREATE TABLE prefix_seq (id bigint PRIMARY KEY)`,
		}
	}
	return []string{
		`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)`,
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, version INTEGER NOT NULL)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), amount TEXT NOT NULL, version INTEGER NOT NULL)`,
		`CREATE TABLE prefix_seq (id INTEGER PRIMARY KEY)`,
	}
}

// txlog holds one row per workload transaction, so a commit whose answer
// was lost (the source restarted) can be told committed or not.

// Tables are the workload's tables, in an order where a parent comes
// before its children.
var Tables = []string{"accounts", "customers", "orders"}

// compareQuery reads a table for comparison, in primary-key order, with
// every column as text the engines agree on.
func compareQuery(table, qualified string) string {
	switch table {
	case "accounts":
		return "SELECT id, balance, version FROM " + qualified + " ORDER BY id"
	case "customers":
		return "SELECT id, name, version FROM " + qualified + " ORDER BY id"
	}
	return "SELECT id, customer_id, amount, version FROM " + qualified + " ORDER BY id"
}
