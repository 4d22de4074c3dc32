package main

import (
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestEndToEndPartitioned: a PostgreSQL partitioned table with two
// partitions reaches the PostgreSQL, MariaDB and SQLite followers as one
// table named like the root, which walship creates: the snapshot's rows of
// both partitions, then inserts into each, an UPDATE that moves rows
// between partitions (in both directions) and deletes. The followers
// converge row by row, and walship verify finds every sink equal (exit 0),
// the partitioned table included.
func TestEndToEndPartitioned(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	for _, q := range []string{
		`CREATE TABLE pt (id bigint, grp int, v text, PRIMARY KEY (id, grp)) PARTITION BY LIST (grp)`,
		`CREATE TABLE pt_1 PARTITION OF pt FOR VALUES IN (1)`,
		`CREATE TABLE pt_2 PARTITION OF pt FOR VALUES IN (2)`,
		`INSERT INTO pt SELECT g, 1 + g % 2, 'v' || g FROM generate_series(1, 40) g`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.start()
	e.waitRows("pt", 40, 60*time.Second)
	for _, q := range []string{
		`INSERT INTO pt VALUES (41, 1, 'new'), (42, 2, 'new')`,
		`UPDATE pt SET grp = 2, v = 'moved to 2' WHERE id IN (2, 4) AND grp = 1`,
		`UPDATE pt SET grp = 1, v = 'moved to 1' WHERE id = 3 AND grp = 2`,
		`UPDATE pt SET v = 'in place' WHERE id = 6`,
		`DELETE FROM pt WHERE id IN (8, 9)`,
		`UPDATE pt_2 SET v = 'through the partition' WHERE id = 11`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	q := "SELECT id, grp, v FROM pt ORDER BY id, grp"
	deadline := time.Now().Add(60 * time.Second)
	for engine, db := range e.followers {
		for {
			want, err1 := rows(e.src, q)
			got, err2 := rows(db, q)
			if err1 == nil && err2 == nil && strings.Join(want, "\n") == strings.Join(got, "\n") {
				break
			}
			if time.Now().After(deadline) {
				missing, extra := diff(want, got)
				t.Fatalf("%s follower never converged on pt: %d rows at the source, %d on the follower, first missing %v, first extra %v (errors %v %v)\nlog tail:\n%s",
					engine, len(want), len(got), missing, extra, err1, err2, e.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 4 tables") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	for engine, db := range e.followers {
		for _, part := range []string{"pt_1", "pt_2"} {
			var n int
			if db.QueryRow("SELECT count(*) FROM "+part).Scan(&n) == nil {
				t.Errorf("%s follower has a table %s: partitions must not be captured as tables", engine, part)
			}
		}
	}
}
