package main

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestSystemVersionedEndToEndFromMariaDB: MariaDB system-versioned tables,
// with implicit period columns (sv) and explicit invisible ones (sx), and
// history rows from before walship started, go into the PostgreSQL,
// MariaDB and SQLite followers as their current rows only: an insert, an
// update, an update of the key, a delete, DELETE HISTORY and an insert,
// update and delete in one transaction. The follower tables have no
// period columns; each follower holds exactly what SELECT returns at the
// source, and walship verify finds each equal.
func TestSystemVersionedEndToEndFromMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	for _, q := range []string{
		`CREATE TABLE sv (id int PRIMARY KEY, v int, u int UNIQUE) WITH SYSTEM VERSIONING`,
		`CREATE TABLE sx (id int PRIMARY KEY, v varchar(10),
			rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE,
			PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING`,
		`INSERT INTO sv (id, v, u) VALUES (1, 1, 1), (2, 2, 2), (3, 3, 3)`,
		`UPDATE sv SET v = 20 WHERE id = 2`,
		`DELETE FROM sv WHERE id = 3`,
		`INSERT INTO sx (id, v) VALUES (1, 'a'), (2, 'b')`,
		`UPDATE sx SET v = 'bb' WHERE id = 2`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("source: %s: %v", q, err)
		}
	}
	withHTTP(t, e)
	e.start()
	e.waitRows("sv", 2, 60*time.Second)
	e.waitRows("sx", 2, 30*time.Second)

	conn, err := e.src.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"INSERT INTO sv (id, v, u) VALUES (4, 4, 4)",
		"UPDATE sv SET v = 41 WHERE id = 4",
		"DELETE FROM sv WHERE id = 1",
		"UPDATE sv SET id = 40, u = 40 WHERE id = 4",
		"UPDATE sv SET v = v + 1",
		"DELETE HISTORY FROM sv",
		"BEGIN", "INSERT INTO sv (id, v) VALUES (5, 5)", "UPDATE sv SET v = 6 WHERE id = 5", "DELETE FROM sv WHERE id = 5", "COMMIT",
		"INSERT INTO sv (id, v, u) VALUES (1, 100, 1)", // a key only history rows hold
		"INSERT INTO sx (id, v) VALUES (3, 'c')",
		"UPDATE sx SET v = 'cc' WHERE id = 3",
		"DELETE FROM sx WHERE id = 1",
		"UPDATE sx SET id = 20 WHERE id = 2",
	} {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	queries := []string{"SELECT id, v, u FROM sv ORDER BY id", "SELECT id, v FROM sx ORDER BY id"}
	deadline := time.Now().Add(60 * time.Second)
	for engine, db := range e.followers {
		for _, q := range queries {
			for {
				want, err1 := rows(e.src, q)
				got, err2 := rows(db, q)
				if err1 == nil && err2 == nil && strings.Join(want, "\n") == strings.Join(got, "\n") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s follower never converged on %q:\nsource   %v (%v)\nfollower %v (%v)\nlog tail:\n%s", engine, q, want, err1, got, err2, e.logTail())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	// No period column reached a follower.
	for engine, db := range e.followers {
		for _, table := range []string{"sv", "sx"} {
			cols, err := columnsOf(db, table)
			if err != nil {
				t.Fatalf("%s follower: columns of %s: %v", engine, table, err)
			}
			want := "id,v"
			if table == "sv" {
				want = "id,v,u"
			}
			if strings.Join(cols, ",") != want {
				t.Errorf("%s follower: %s has columns %v, want %s", engine, table, cols, want)
			}
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
}

// columnsOf is the columns SELECT * of table returns.
func columnsOf(db *sql.DB, table string) ([]string, error) {
	rs, err := db.Query("SELECT * FROM " + table + " WHERE 1 = 0")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	return rs.Columns()
}
