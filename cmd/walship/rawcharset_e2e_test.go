package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestRawCharsetsEndToEndFromMariaDB (issue 28): with raw_charsets, text
// columns in greek, koi8r and cp1251 reach every follower as their exact
// bytes, also bytes those charsets do not define (which otherwise stop the
// source), from the snapshot and from the stream: bytea on PostgreSQL,
// VARBINARY/BLOB on MariaDB and SQLite. A utf8mb4 column beside them stays
// text. walship verify compares them as bytes and finds each follower
// equal.
func TestRawCharsetsEndToEndFromMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), "flavor: mariadb, tables:", "flavor: mariadb, raw_charsets: [greek, koi8r, cp1251], tables:", 1)), 0o600)
	for _, q := range []string{
		`CREATE TABLE cs (id int PRIMARY KEY, g varchar(10) CHARACTER SET greek, k char(4) CHARACTER SET koi8r,
			t text CHARACTER SET cp1251, u varchar(10) CHARACTER SET utf8mb4)`,
		`INSERT INTO cs VALUES (1, unhex('C1E2D2AEFF'), 'Щи', 'Жж ', 'x'), (2, 'Αβγ', unhex('FF'), unhex('98'), NULL)`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("source: %s: %v", q, err)
		}
	}
	withHTTP(t, e)
	e.start()
	e.waitRows("cs", 2, 60*time.Second)
	for _, q := range []string{
		"INSERT INTO cs VALUES (3, unhex('AEAEFF'), 'ab', unhex('98'), 'y')",
		"UPDATE cs SET g = unhex('D2'), u = 'z' WHERE id = 1",
		"DELETE FROM cs WHERE id = 2",
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	want, err := rows(e.src, "SELECT id, lower(hex(g)), lower(hex(k)), lower(hex(t)), u FROM cs ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{
		"postgres": "SELECT id, encode(g, 'hex'), encode(k, 'hex'), encode(t, 'hex'), u FROM cs ORDER BY id",
		"mysql":    "SELECT id, lower(hex(g)), lower(hex(k)), lower(hex(t)), u FROM cs ORDER BY id",
		"sqlite":   "SELECT id, lower(hex(g)), lower(hex(k)), lower(hex(t)), u FROM cs ORDER BY id",
	}
	deadline := time.Now().Add(60 * time.Second)
	for engine, db := range e.followers {
		for {
			got, err := rows(db, queries[engine])
			if err == nil && strings.Join(want, "\n") == strings.Join(got, "\n") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s follower never converged:\nsource   %v\nfollower %v (%v)\nlog tail:\n%s", engine, want, got, err, e.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
	t.Logf("source rows: %v", want)
}
