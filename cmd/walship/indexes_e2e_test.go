package main

import (
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestFollowerIndexesFromPostgres and ...FromMariaDB (issue 26): a source
// table with an index of each kind (unique, composite with a descending
// part, partial, expression, on a text column, a unique constraint; on
// MariaDB a prefix and a FULLTEXT key) is loaded into the three followers,
// which walship creates: each gets the indexes its engine can express,
// built after the load, and the others are logged by name. Then, under a
// writer, the source creates one index and drops another: each follower
// follows. walship verify finds every follower equal.
func TestFollowerIndexesFromPostgres(t *testing.T) {
	followerIndexes(t, "postgres", []string{
		`CREATE TABLE ix_users (id bigint PRIMARY KEY, email varchar(200) NOT NULL, name text, region varchar(10), score int, deleted_at timestamptz)`,
		`CREATE UNIQUE INDEX ix_users_email ON ix_users (email)`,
		`CREATE INDEX ix_users_region_score ON ix_users (region, score DESC)`,
		`CREATE INDEX ix_users_live ON ix_users (region) WHERE deleted_at IS NULL`,
		`CREATE INDEX ix_users_lower ON ix_users (lower(name))`,
		`CREATE INDEX ix_users_name ON ix_users (name)`,
		`ALTER TABLE ix_users ADD CONSTRAINT ix_users_region_name UNIQUE (region, name)`,
		`INSERT INTO ix_users SELECT g, 'u' || g || '@example.com', 'name ' || g, 'r' || (g % 7), g % 100, CASE WHEN g % 5 = 0 THEN now() END
		   FROM generate_series(1, 2000) g`,
		`ALTER TABLE ix_users ADD CONSTRAINT ix_users_score_check CHECK (score >= 0)`,
		`CREATE TABLE ix_orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES ix_users (id) ON DELETE CASCADE, amount int)`,
		`INSERT INTO ix_orders SELECT g, g % 50 + 1, g FROM generate_series(1, 500) g`,
	}, map[string]map[string]bool{
		// index -> unique, per follower engine
		"postgres": {"ix_users_email": true, "ix_users_region_score": false, "ix_users_live": false, "ix_users_lower": false,
			"ix_users_name": false, "ix_users_region_name": true},
		"mysql": {"ix_users_email": true, "ix_users_region_score": false, "ix_users_name": false, "ix_users_region_name": false},
		// SQLite evaluates lower(name) and deleted_at IS NULL alike.
		"sqlite": {"ix_users_email": true, "ix_users_region_score": false, "ix_users_name": false, "ix_users_region_name": true,
			"ix_users_live": false, "ix_users_lower": false},
	}, `INSERT INTO ix_users VALUES ($1, 'w' || $2 || '@example.com', 'writer ' || $2, 'r1', 1, NULL)`)
}

func TestFollowerIndexesFromMariaDB(t *testing.T) {
	followerIndexes(t, "mariadb", []string{
		`CREATE TABLE ix_users (id bigint PRIMARY KEY, email varchar(200) NOT NULL, name text, region varchar(10), score int, bio text,
			UNIQUE KEY ix_users_email (email), KEY ix_users_region_score (region, score DESC), KEY ix_users_name (name(20)),
			UNIQUE KEY ix_users_region_name (region, name(100)), FULLTEXT KEY ix_users_bio (bio))`,
		`INSERT INTO ix_users SELECT seq, CONCAT('u', seq, '@example.com'), CONCAT('name ', seq), CONCAT('r', seq % 7), seq % 100, 'some words'
		   FROM seq_1_to_2000`,
		`ALTER TABLE ix_users ADD CONSTRAINT ix_users_score_check CHECK (score >= 0)`,
		`CREATE TABLE ix_orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, amount int, FOREIGN KEY (user_id) REFERENCES ix_users (id) ON DELETE CASCADE)`,
		`INSERT INTO ix_orders SELECT seq, seq % 50 + 1, seq FROM seq_1_to_500`,
	}, map[string]map[string]bool{
		// A MariaDB source's index names are per table: PostgreSQL and
		// SQLite followers prefix them with the table's.
		"postgres": {"ix_users_ix_users_email": true, "ix_users_ix_users_region_score": false, "ix_users_ix_users_name": false},
		"mysql": {"ix_users_email": true, "ix_users_region_score": false, "ix_users_name": false, "ix_users_region_name": true,
			"ix_users_bio": false},
		"sqlite": {"ix_users_ix_users_email": true, "ix_users_ix_users_region_score": false, "ix_users_ix_users_name": false,
			"ix_users_ix_users_region_name": true},
	}, `INSERT INTO ix_users VALUES (?, CONCAT('w', ?, '@example.com'), CONCAT('writer ', ?), 'r1', 1, NULL)`)
}

func followerIndexes(t *testing.T, engine string, setup []string, want map[string]map[string]bool, insert string) {
	e := newE2EFrom(t, engine, 2)
	for _, q := range setup {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cfg := mustRead(t, e.cfgPath)
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(cfg, "name: pgf, from: [src],", "name: pgf, from: [src], follower_foreign_keys: true,", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	withHTTP(t, e)
	e.start()
	e.waitRows("ix_users", 2000, 120*time.Second)
	e.waitRows("ix_orders", 500, 120*time.Second)
	waitIndexes(t, e, want)
	// The check, where the follower speaks the source's SQL; the foreign
	// key on the PostgreSQL follower (follower_foreign_keys), deferred.
	checkEngine := map[string]string{"postgres": "postgres", "mariadb": "mysql"}[engine]
	for eng, db := range e.followers {
		var q string
		switch eng {
		case "postgres":
			q = `SELECT string_agg(conname || ':' || contype::text || ':' || condeferred::text, ',' ORDER BY conname) FROM pg_constraint
				WHERE conrelid IN ('ix_users'::regclass, 'ix_orders'::regclass) AND contype IN ('c', 'f')`
		case "mysql":
			q = `SELECT GROUP_CONCAT(CONSTRAINT_NAME) FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '` + e.name + `'`
		default:
			continue
		}
		wantC := map[string]string{"postgres": "ix_orders_user_id_fkey:f:true", "mysql": ""}[eng]
		if eng == checkEngine {
			wantC = map[string]string{"postgres": "ix_orders_user_id_fkey:f:true,ix_users_score_check:c:false", "mysql": "ix_users_score_check"}[eng]
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			var got sql.NullString
			err := db.QueryRow(q).Scan(&got)
			if err == nil && got.String == wantC {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s follower's constraints are %q (%v), want %q; log tail:\n%s", eng, got.String, err, wantC, e.logTail())
			}
		}
	}
	if log := mustRead(t, e.dir+"/walship.log"); engine == "postgres" && !strings.Contains(log, "source index not built on the follower") {
		t.Errorf("the partial and expression indexes a MySQL follower cannot build were not logged; log tail:\n%s", e.logTail())
	}

	// Under a writer: an index created, one dropped.
	args := func(id int) []any {
		if engine == "postgres" {
			return []any{id, fmt.Sprint(id)}
		}
		return []any{id, id, id}
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		id := 100000
		for {
			select {
			case <-stop:
				done <- id
				return
			default:
			}
			if _, err := e.src.Exec(insert, args(id)...); err != nil {
				t.Errorf("writer: %v", err)
				done <- id
				return
			}
			id++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	prefix := ""
	if engine != "postgres" {
		prefix = "ix_users_"
	}
	for _, q := range []string{`CREATE INDEX ix_users_score ON ix_users (score)`, dropIndex(engine, "ix_users_region_score")} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A user deleted with its orders (ON DELETE CASCADE): the PostgreSQL
	// follower's deferred foreign key holds at the commit.
	if _, err := e.src.Exec(`DELETE FROM ix_users WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	last := <-done
	for eng := range want {
		delete(want[eng], prefixed(eng, prefix)+"ix_users_region_score")
		want[eng][prefixed(eng, prefix)+"ix_users_score"] = false
	}
	var total int
	if err := e.src.QueryRow(`SELECT count(*) FROM ix_users`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	t.Logf("the writer inserted up to id %d; the source holds %d rows", last-1, total)
	e.waitRows("ix_users", total, 120*time.Second)
	e.waitRows("ix_orders", 490, 120*time.Second)
	waitIndexes(t, e, want)
	verifyAll(t, e)
	// verify warns of the indexes a follower lacks, and only of those.
	for sink, warn := range map[string]string{"pgf": "", "myf": "source index ix_users_live is not on the follower",
		"lite": "source check constraint ix_users_score_check is not on the follower"} {
		if engine != "postgres" {
			warn = map[string]string{"pgf": "source index ix_users_bio is not on the follower (as ix_users_ix_users_bio)", "myf": "",
				"lite": "source index ix_users_bio is not on the follower (as ix_users_ix_users_bio)"}[sink]
		}
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "60s")
		if code != 0 || (warn == "") != !strings.Contains(out, "warning:") || warn != "" && !strings.Contains(out, warn) {
			t.Errorf("verify %s: exit %d, want the warning %q only:\n%s", sink, code, warn, out)
		}
	}
}

// prefixed is prefix for the followers whose index names are not per
// table (PostgreSQL, SQLite), "" for MySQL.
func prefixed(engine, prefix string) string {
	if engine == "mysql" {
		return ""
	}
	return prefix
}

func dropIndex(engine, name string) string {
	if engine == "postgres" {
		return "DROP INDEX " + name
	}
	return "DROP INDEX " + name + " ON ix_users"
}

// waitIndexes waits until each follower's ix_users has exactly the
// secondary indexes want names for its engine, unique as it says.
func waitIndexes(t *testing.T, e *e2e, want map[string]map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for engine, db := range e.followers {
		for {
			got, err := followerIndexList(db, engine, e.name)
			if err == nil && fmt.Sprint(got) == fmt.Sprint(want[engine]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s follower's indexes of ix_users are %v (%v), want %v; log tail:\n%s", engine, got, err, want[engine], e.logTail())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// followerIndexList is ix_users's secondary indexes on a follower: name ->
// unique.
func followerIndexList(db *sql.DB, engine, dbName string) (map[string]bool, error) {
	var q string
	switch engine {
	case "postgres":
		q = `SELECT c.relname, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = 'ix_users'::regclass AND NOT i.indisprimary`
	case "mysql":
		q = `SELECT INDEX_NAME, MIN(NON_UNIQUE) = 0 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '` + dbName + `'
			AND TABLE_NAME = 'ix_users' AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME`
	default:
		q = `SELECT name, "unique" FROM pragma_index_list('ix_users') WHERE origin <> 'pk'`
	}
	rows, err := db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		var unique bool
		if err := rows.Scan(&name, &unique); err != nil {
			return nil, err
		}
		out[name] = unique
	}
	return out, rows.Err()
}

// TestFollowerIndexesTPCC (issue 26): go-tpc's TPC-C tables with secondary
// indexes (customer, orders as oorder (the harness has an orders table), and history, which has no primary key) on
// the MariaDB source: every follower gets idx_customer, idx_order and both
// history indexes.
func TestFollowerIndexesTPCC(t *testing.T) { followerIndexesTPCC(t, "mariadb") }

// TestFollowerIndexesTPCCFromPostgres: the same tables on a PostgreSQL
// source (index names kept on every follower: PostgreSQL's are per schema).
func TestFollowerIndexesTPCCFromPostgres(t *testing.T) { followerIndexesTPCC(t, "postgres") }

func followerIndexesTPCC(t *testing.T, engine string) {
	e := newE2EFrom(t, engine, 2)
	setup := []string{
		`CREATE TABLE customer (c_id INT NOT NULL, c_d_id INT NOT NULL, c_w_id INT NOT NULL, c_first VARCHAR(16), c_middle CHAR(2),
			c_last VARCHAR(16), c_balance DECIMAL(12, 2), c_data VARCHAR(500), PRIMARY KEY (c_w_id, c_d_id, c_id),
			INDEX idx_customer (c_w_id, c_d_id, c_last, c_first))`,
		`CREATE TABLE oorder (o_id INT NOT NULL, o_d_id INT NOT NULL, o_w_id INT NOT NULL, o_c_id INT, o_entry_d DATETIME,
			o_carrier_id INT, o_ol_cnt INT, o_all_local INT, PRIMARY KEY (o_w_id, o_d_id, o_id), INDEX idx_order (o_w_id, o_d_id, o_c_id, o_id))`,
		`CREATE TABLE history (h_c_id INT NOT NULL, h_c_d_id INT NOT NULL, h_c_w_id INT NOT NULL, h_d_id INT NOT NULL, h_w_id INT NOT NULL,
			h_date DATETIME, h_amount DECIMAL(6, 2), h_data VARCHAR(24), INDEX idx_h_w_id (h_w_id, h_d_id), INDEX idx_h_c_w_id (h_c_w_id, h_c_d_id, h_c_id))`,
		`INSERT INTO customer SELECT seq % 3000 + 1, seq DIV 3000 % 10 + 1, 1, CONCAT('F', seq), 'OE', CONCAT('BAR', seq % 1000), 10, 'data'
			FROM seq_0_to_29999`,
		`INSERT INTO oorder SELECT seq % 3000 + 1, seq DIV 3000 % 10 + 1, 1, seq % 3000 + 1, NOW(), NULL, 5, 1 FROM seq_0_to_29999`,
		`INSERT INTO history SELECT seq % 3000 + 1, seq DIV 3000 % 10 + 1, 1, seq DIV 3000 % 10 + 1, 1, NOW(), 10, 'h' FROM seq_0_to_29999`,
	}
	if engine == "postgres" {
		setup = []string{
			`CREATE TABLE customer (c_id int NOT NULL, c_d_id int NOT NULL, c_w_id int NOT NULL, c_first varchar(16), c_middle char(2),
				c_last varchar(16), c_balance numeric(12, 2), c_data varchar(500), PRIMARY KEY (c_w_id, c_d_id, c_id))`,
			`CREATE INDEX idx_customer ON customer (c_w_id, c_d_id, c_last, c_first)`,
			`CREATE TABLE oorder (o_id int NOT NULL, o_d_id int NOT NULL, o_w_id int NOT NULL, o_c_id int, o_entry_d timestamp,
				o_carrier_id int, o_ol_cnt int, o_all_local int, PRIMARY KEY (o_w_id, o_d_id, o_id))`,
			`CREATE INDEX idx_order ON oorder (o_w_id, o_d_id, o_c_id, o_id)`,
			`CREATE TABLE history (h_c_id int NOT NULL, h_c_d_id int NOT NULL, h_c_w_id int NOT NULL, h_d_id int NOT NULL, h_w_id int NOT NULL,
				h_date timestamp, h_amount numeric(6, 2), h_data varchar(24))`,
			`CREATE INDEX idx_h_w_id ON history (h_w_id, h_d_id)`,
			`CREATE INDEX idx_h_c_w_id ON history (h_c_w_id, h_c_d_id, h_c_id)`,
			`INSERT INTO customer SELECT g % 3000 + 1, g / 3000 % 10 + 1, 1, 'F' || g, 'OE', 'BAR' || (g % 1000), 10, 'data' FROM generate_series(0, 29999) g`,
			`INSERT INTO oorder SELECT g % 3000 + 1, g / 3000 % 10 + 1, 1, g % 3000 + 1, now(), NULL, 5, 1 FROM generate_series(0, 29999) g`,
			`INSERT INTO history SELECT g % 3000 + 1, g / 3000 % 10 + 1, 1, g / 3000 % 10 + 1, 1, now(), 10, 'h' FROM generate_series(0, 29999) g`,
		}
	}
	for _, q := range setup {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	withHTTP(t, e)
	e.start()
	for _, tbl := range []string{"customer", "oorder", "history"} {
		e.waitRows(tbl, 30000, 120*time.Second)
	}
	want := map[string][]string{"customer": {"idx_customer"}, "oorder": {"idx_order"}, "history": {"idx_h_c_w_id", "idx_h_w_id"}}
	deadline := time.Now().Add(90 * time.Second)
	for fol, db := range e.followers {
		for tbl, names := range want {
			for {
				got, err := tableIndexes(db, fol, e.name, tbl)
				var exp []string
				for _, n := range names {
					if engine == "mariadb" { // the source engine: MariaDB's names are per table
						exp = append(exp, prefixed(fol, tbl+"_")+n)
					} else {
						exp = append(exp, n)
					}
				}
				if err == nil && fmt.Sprint(got) == fmt.Sprint(exp) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s follower, %s: indexes %v (%v), want %v; log tail:\n%s", fol, tbl, got, err, exp, e.logTail())
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	verifyAll(t, e)
}

// tableIndexes lists the secondary index names of a follower table, sorted.
func tableIndexes(db *sql.DB, engine, dbName, table string) ([]string, error) {
	var q string
	switch engine {
	case "postgres":
		q = `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = '` + table + `'::regclass AND NOT i.indisprimary`
	case "mysql":
		q = `SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '` + dbName + `' AND TABLE_NAME = '` + table + `' AND INDEX_NAME <> 'PRIMARY'`
	default:
		q = `SELECT name FROM pragma_index_list('` + table + `') WHERE origin <> 'pk'`
	}
	rows, err := db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, rows.Err()
}
