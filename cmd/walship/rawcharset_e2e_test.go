package main

import (
	"fmt"
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
// text. Every single-byte charset walship decodes carries all 255 non-zero
// bytes the same way (the table "every": a column per charset, a row from
// the snapshot and one from the stream). walship verify compares them as
// bytes and finds each follower equal.
func TestRawCharsetsEndToEndFromMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	cfg, _ := os.ReadFile(e.cfgPath)
	single := []string{"latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257", "cp850", "cp852", "cp866",
		"greek", "hebrew", "koi8r", "koi8u", "macroman", "tis620"}
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), "flavor: mariadb, tables:",
		"flavor: mariadb, raw_charsets: ["+strings.Join(single, ", ")+"], tables:", 1)), 0o600)
	var all strings.Builder
	for b := 1; b < 256; b++ {
		fmt.Fprintf(&all, "%02X", b)
	}
	every := "CREATE TABLE every (id int PRIMARY KEY"
	fill := "INSERT INTO every VALUES (1"
	for _, cs := range single {
		every += ", c_" + cs + " varchar(300) CHARACTER SET " + cs
		fill += ", unhex('" + all.String() + "')"
	}
	for _, q := range []string{every + ")", fill + ")",
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
		strings.Replace(fill, "VALUES (1", "VALUES (2", 1) + ")",
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
	e.waitRows("every", 2, 30*time.Second)
	hexAll := "SELECT id"
	pgAll := "SELECT id"
	for _, cs := range single {
		hexAll += ", lower(hex(c_" + cs + "))"
		pgAll += ", encode(c_" + cs + ", 'hex')"
	}
	wantAll, err := rows(e.src, hexAll+" FROM every ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for engine, db := range e.followers {
		q := hexAll
		if engine == "postgres" {
			q = pgAll
		}
		got, err := rows(db, q+" FROM every ORDER BY id")
		if err != nil || strings.Join(got, "\n") != strings.Join(wantAll, "\n") {
			t.Errorf("%s follower: every charset's bytes differ (%v)", engine, err)
		}
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
