package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestDDLInsideBigTransaction (issue 27): a source transaction of more
// than 10000 changes (applied streamed, in one follower transaction) that
// adds a column midway and fills it. On a MariaDB follower the ALTER would
// wait for the transaction's own metadata lock: the sink rolls back, makes
// the change and applies the transaction again; on PostgreSQL and SQLite
// the DDL runs inside it. All three followers end equal to the source.
func TestDDLInsideBigTransaction(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	if _, err := e.src.Exec(`CREATE TABLE big (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	tx, err := e.src.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 11000) g`,
		`ALTER TABLE big ADD COLUMN w int`,
		`INSERT INTO big SELECT g, 'w' || g, g * 2 FROM generate_series(11001, 11100) g`,
		`UPDATE big SET w = -1 WHERE id <= 5`,
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.waitRows("big", 11100, 120*time.Second)
	if !strings.Contains(e.logProblems(), "schema changed under a follower transaction") {
		t.Errorf("the MariaDB sink did not redo the transaction after the schema change:\n%s", e.logProblems())
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--tables", "public.big")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("sink %s: equal: 1 tables", sink)) {
			t.Fatalf("verify %s: exit %d:\n%s\n%s", sink, code, out, e.logProblems())
		}
	}
}
