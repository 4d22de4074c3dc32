package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestDDLStops: what the log cannot carry stops every sink, naming the
// table, the change and the way out, and the way out works. A PostgreSQL
// source adds a column with a volatile default (the table is rewritten,
// nothing is logged) and renames a column (which its log does not tell
// from a drop and an add); the daemon is killed with SIGKILL between the
// DDL and the rows after it. Each sink stops at the first; the column is
// added by hand on the followers, with the source's values, and the
// restarted sinks stop at the rename; the column is renamed by hand, and
// after a restart; a decimal column then loses two decimal places at the
// source (the sinks had seen its rows before), which stops the sinks until
// the follower columns are changed the same way (SQLite: the values
// rounded, and walship accept-ddl); on PostgreSQL an ALTER … TYPE … USING
// (the first rewrite of the table, into bigint without USING, passes)
// stops them until the followers' rows are changed the same way and
// walship accept-ddl; walship verify then finds the three followers equal.
func TestDDLStops(t *testing.T) { ddlStops(t, "postgres") }

// TestDDLStopsFromMariaDB is the same with a MariaDB source (DEFAULT
// uuid()).
func TestDDLStopsFromMariaDB(t *testing.T) { ddlStops(t, "mariadb") }

func ddlStops(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	seq := "generate_series(1, 20) g"
	row := "g, 'v' || g, g"
	volatile, uuidType := `ALTER TABLE s_vol ADD COLUMN u uuid DEFAULT gen_random_uuid()`, "uuid"
	if engine != "postgres" {
		seq, row = "seq_1_to_20", "seq, concat('v', seq), seq"
		volatile, uuidType = `ALTER TABLE s_vol ADD COLUMN u varchar(36) DEFAULT uuid()`, "varchar(36)"
	}
	for _, q := range []string{
		`CREATE TABLE s_vol (id bigint PRIMARY KEY, v varchar(20), n int)`,
		`CREATE TABLE s_ren (id bigint PRIMARY KEY, v varchar(20), n int)`,
		`CREATE TABLE s_num (id bigint PRIMARY KEY, amount decimal(10,4))`,
		`INSERT INTO s_num VALUES (1, 1.2345), (2, 2.5)`,
		`INSERT INTO s_vol SELECT ` + row + ` FROM ` + seq,
		`INSERT INTO s_ren SELECT ` + row + ` FROM ` + seq,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.start()
	e.waitRows("s_vol", 20, 60*time.Second)
	e.waitRows("s_ren", 20, 60*time.Second)
	for _, q := range []string{volatile, `ALTER TABLE s_ren RENAME COLUMN v TO w`} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := e.stop(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon was not killed")
	}
	if _, err := e.src.Exec(`INSERT INTO s_vol (id, v, n) VALUES (21, 'v', 21)`); err != nil {
		t.Fatal(err)
	}

	e.start()
	waitSinksStopped(t, e, "s_vol", "column u was added", "DEFAULT", "walship replay --resnapshot")
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The way out: the column, with the source's values, on each follower.
	vals, err := rows(e.src, "SELECT id, u FROM s_vol ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for fe, db := range e.followers {
		typ := map[string]string{"postgres": uuidType, "mysql": "varchar(36)", "sqlite": "TEXT"}[fe]
		if fe == "postgres" && engine != "postgres" {
			typ = "character varying(36)"
		}
		if _, err := db.Exec(`ALTER TABLE s_vol ADD COLUMN u ` + typ); err != nil {
			t.Fatalf("%s follower: %v", fe, err)
		}
		for _, v := range vals {
			id, u, _ := strings.Cut(strings.ReplaceAll(v, "true:", ""), "|")
			if id == "21" {
				continue // not applied yet
			}
			if _, err := db.Exec(fmt.Sprintf(`UPDATE s_vol SET u = '%s' WHERE id = %s`, u, id)); err != nil {
				t.Fatalf("%s follower: %v", fe, err)
			}
		}
	}
	// The rename's first row only now, so that each sink stops at one
	// change at a time (parallel batches may report either first).
	if _, err := e.src.Exec(`INSERT INTO s_ren (id, w, n) VALUES (21, 'v', 21)`); err != nil {
		t.Fatal(err)
	}
	e.start()
	waitSinksStopped(t, e, "s_ren", "column(s) w appeared and v vanished", "RENAME COLUMN v TO w")
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for fe, db := range e.followers {
		if _, err := db.Exec(`ALTER TABLE s_ren RENAME COLUMN v TO w`); err != nil {
			t.Fatalf("%s follower: %v", fe, err)
		}
	}
	e.start()
	e.waitRows("s_ren", 21, 60*time.Second)

	// A type change that rounds the stored values, while the daemon runs
	// (after a row of the table, so the sinks know its shape before).
	if _, err := e.src.Exec(`INSERT INTO s_num VALUES (10, 9.8765)`); err != nil {
		t.Fatal(err)
	}
	e.waitRows("s_num", 3, 60*time.Second)
	narrow := `ALTER TABLE s_num ALTER COLUMN amount TYPE decimal(10,2)`
	if engine != "postgres" {
		narrow = `ALTER TABLE s_num MODIFY amount decimal(10,2)`
	}
	for _, q := range []string{narrow, `INSERT INTO s_num VALUES (3, 3.5)`} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	waitSinksStopped(t, e, "s_num", "column amount", "rounds the values")
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for fe, q := range map[string]string{
		"postgres": `ALTER TABLE s_num ALTER COLUMN amount TYPE numeric(10,2)`,
		"mysql":    `ALTER TABLE s_num MODIFY amount decimal(10,2)`,
		"sqlite":   `UPDATE s_num SET amount = CASE id WHEN 1 THEN '1.23' WHEN 2 THEN '2.50' ELSE '9.88' END`,
	} {
		if _, err := e.followers[fe].Exec(q); err != nil {
			t.Fatalf("%s follower: %s: %v", fe, q, err)
		}
	}
	// SQLite's columns take any value: the sink is told.
	schema := "public"
	if engine != "postgres" {
		schema = e.name
	}
	if out, code := walship(t, "accept-ddl", "-c", e.cfgPath, "--sink", "lite", "--tables", schema+".s_num"); code != 0 {
		t.Fatalf("accept-ddl: exit %d:\n%s", code, out)
	}
	e.start()
	e.waitRows("s_num", 4, 60*time.Second)
	if engine == "postgres" {
		// An ALTER … USING into the same type: the log shows nothing but
		// the source's event trigger noted it. Every sink stops; the
		// followers' rows are changed the same way, and accept-ddl.
		for _, q := range []string{`ALTER TABLE s_ren ALTER COLUMN n TYPE bigint`, `ALTER TABLE s_ren ALTER COLUMN n TYPE bigint USING n * 100`,
			`INSERT INTO s_ren (id, w, n) VALUES (22, 'v', 22)`} {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		waitSinksStopped(t, e, "s_ren", "was rewritten at the source", "USING n * 100", "walship accept-ddl")
		if err := e.stop(syscall.SIGTERM); err != nil {
			t.Fatalf("stop: %v", err)
		}
		for fe, db := range e.followers {
			if _, err := db.Exec(`UPDATE s_ren SET n = n * 100`); err != nil {
				t.Fatalf("%s follower: %v", fe, err)
			}
		}
		for _, sink := range []string{"pgf", "myf", "lite"} {
			if out, code := walship(t, "accept-ddl", "-c", e.cfgPath, "--sink", sink, "--tables", "public.s_ren"); code != 0 {
				t.Fatalf("accept-ddl %s: exit %d:\n%s", sink, code, out)
			}
		}
		e.start()
		e.waitRows("s_ren", 22, 60*time.Second)
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
}
