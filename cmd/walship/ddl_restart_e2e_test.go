package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestDDLAcrossRestart: schema changes that the daemon is killed (SIGKILL)
// after, under a workload that moves every checkpoint past them, before
// the changed tables' first rows: a table renamed, a table dropped and
// created again, a column added to a table whose follower keeps a column
// dropped earlier. The restarted daemon follows each (the source's notes,
// the follower's recorded shapes), and walship verify finds the followers
// equal. Then a type change that rounds stored values, across a kill, stops
// every sink, and the way out works: the follower column changed the same
// way (SQLite: the values rounded and walship accept-ddl). walship verify
// --since-ddl compares only the tables changed since.
func TestDDLAcrossRestart(t *testing.T) { ddlAcrossRestart(t, "postgres") }

// TestDDLAcrossRestartFromMariaDB is the same with a MariaDB source.
func TestDDLAcrossRestartFromMariaDB(t *testing.T) { ddlAcrossRestart(t, "mariadb") }

func ddlAcrossRestart(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	e.pace = 5 * time.Millisecond
	exec := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	fill := func(table string) string {
		if engine == "postgres" {
			return fmt.Sprintf(`INSERT INTO %s SELECT g, 'v' || g, g FROM generate_series(1, 20) g`, table)
		}
		return fmt.Sprintf(`INSERT INTO %s SELECT seq, concat('v', seq), seq FROM seq_1_to_20`, table)
	}
	for _, tbl := range []string{"x_ren", "x_rec", "x_keep"} {
		exec(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, v varchar(20), n int)`, tbl), fill(tbl))
	}
	exec(`CREATE TABLE x_num (id bigint PRIMARY KEY, amount decimal(10,4))`, `INSERT INTO x_num VALUES (1, 1.2345), (2, 2.5)`)
	e.start()
	for _, tbl := range []string{"x_ren", "x_rec", "x_keep"} {
		e.waitRows(tbl, 20, 90*time.Second)
	}
	e.waitRows("x_num", 2, 60*time.Second)
	// The sinks see x_keep without n (kept on the followers, nullable).
	exec(`ALTER TABLE x_keep DROP COLUMN n`, `INSERT INTO x_keep VALUES (21, 'after the drop')`)
	e.waitRows("x_keep", 21, 60*time.Second)

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	load := func(seed uint64, base int64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.workload(ctx, seed, base); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}()
	}
	load(17, 0)
	time.Sleep(500 * time.Millisecond)
	rename := `ALTER TABLE x_ren RENAME TO x_ren2`
	if engine != "postgres" {
		rename = `RENAME TABLE x_ren TO x_ren2`
	}
	exec(rename, `DROP TABLE x_rec`, `CREATE TABLE x_rec (id bigint PRIMARY KEY, w varchar(20))`, `ALTER TABLE x_keep ADD COLUMN m int`)
	// The workload's transactions carry every checkpoint past the DDL.
	time.Sleep(2 * time.Second)
	if err := e.stop(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon was not killed")
	}
	exec(`INSERT INTO x_ren2 VALUES (21, 'renamed', 21)`, `UPDATE x_ren2 SET v = 'changed' WHERE id = 2`,
		`INSERT INTO x_rec VALUES (1, 'again'), (100, 'new')`,
		`INSERT INTO x_keep VALUES (22, 'added', 7)`, `UPDATE x_keep SET m = 1 WHERE id = 3`)
	e.start()
	e.waitRows("x_ren2", 21, 60*time.Second)
	e.waitRows("x_rec", 2, 60*time.Second)
	e.waitRows("x_keep", 22, 60*time.Second)
	stopLoad()
	wg.Wait()
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nproblems:\n%s", sink, code, out, e.logProblems())
		}
	}
	for fe, db := range e.followers {
		if got, err := rows(db, "SELECT count(*) FROM x_ren"); err == nil {
			t.Errorf("%s follower: x_ren still exists (%v) beside x_ren2", fe, got)
		}
	}

	// A type change that rounds, across a kill.
	since := time.Now().UTC()
	narrow := `ALTER TABLE x_num ALTER COLUMN amount TYPE decimal(10,2)`
	if engine != "postgres" {
		narrow = `ALTER TABLE x_num MODIFY amount decimal(10,2)`
	}
	ctx, stopLoad = context.WithCancel(context.Background())
	load(18, 1_000_000)
	time.Sleep(500 * time.Millisecond)
	exec(narrow)
	time.Sleep(2 * time.Second)
	if err := e.stop(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon was not killed")
	}
	stopLoad()
	wg.Wait()
	exec(`INSERT INTO x_num VALUES (3, 3.5)`)
	e.start()
	waitSinksStopped(t, e, "x_num", "column amount", "rounds the values")
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for fe, q := range map[string]string{
		"postgres": `ALTER TABLE x_num ALTER COLUMN amount TYPE numeric(10,2)`,
		"mysql":    `ALTER TABLE x_num MODIFY amount decimal(10,2)`,
		"sqlite":   `UPDATE x_num SET amount = CASE id WHEN 1 THEN '1.23' ELSE '2.50' END`,
	} {
		if _, err := e.followers[fe].Exec(q); err != nil {
			t.Fatalf("%s follower: %s: %v", fe, q, err)
		}
	}
	schema := "public"
	if engine != "postgres" {
		schema = e.name
	}
	if out, code := walship(t, "accept-ddl", "-c", e.cfgPath, "--sink", "lite", "--tables", schema+".x_num"); code != 0 || !strings.Contains(out, "x_num") {
		t.Fatalf("accept-ddl: exit %d:\n%s", code, out)
	}
	e.start()
	e.waitRows("x_num", 3, 60*time.Second)
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--since-ddl", since.Format(time.RFC3339Nano))
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") || !strings.Contains(out, "x_num") || strings.Contains(out, "x_ren2") {
			t.Fatalf("verify --since-ddl %s: exit %d:\n%s\nproblems:\n%s", sink, code, out, e.logProblems())
		}
	}
}

// waitSinksStopped waits until every sink failed permanently with an
// error holding all of want.
func waitSinksStopped(t *testing.T, e *e2e, want ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := 0
		for _, l := range strings.Split(e.logProblems(), "\n") {
			if !strings.Contains(l, "failed permanently") {
				continue
			}
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				n++
			}
		}
		if n == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 sinks stopped with %q; problems:\n%s", n, want, e.logProblems())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
