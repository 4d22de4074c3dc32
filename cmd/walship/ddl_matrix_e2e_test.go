package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// ddlCase is one schema change of issue 22's matrix: a table created with
// 20 rows before walship starts, the DDL run under a workload, and the
// changes written after it (after a kill -9 of the daemon).
type ddlCase struct {
	table string
	// pg and my are the DDL on a PostgreSQL and a MariaDB source.
	pg, my []string
	// after are the row changes after the DDL; myAfter replaces them on
	// a MariaDB source when set.
	after, myAfter []string
	// keyless: the table is created without a primary key.
	keyless bool
}

var ddlCases = []ddlCase{
	{table: "d_addnull", pg: []string{`ALTER TABLE d_addnull ADD COLUMN note varchar(20)`},
		my:    []string{`ALTER TABLE d_addnull ADD COLUMN note varchar(20)`},
		after: []string{`INSERT INTO d_addnull VALUES (21, 'v', 21, 'new')`}},
	{table: "d_adddef", pg: []string{`ALTER TABLE d_adddef ADD COLUMN note varchar(20) DEFAULT 'x', ADD COLUMN at timestamptz DEFAULT now()`},
		my:    []string{`ALTER TABLE d_adddef ADD COLUMN note varchar(20) DEFAULT 'x', ADD COLUMN price decimal(8,2) DEFAULT 1.5`},
		after: []string{`INSERT INTO d_adddef (id, v, n, note) VALUES (21, 'v', 21, 'y')`, `UPDATE d_adddef SET n = 0 WHERE id = 2`}},
	{table: "d_addnn", pg: []string{`ALTER TABLE d_addnn ADD COLUMN k int NOT NULL DEFAULT 7`},
		my:      []string{`ALTER TABLE d_addnn ADD COLUMN k int NOT NULL DEFAULT 7, ADD COLUMN z int NOT NULL, ADD COLUMN s varchar(5) NOT NULL`},
		after:   []string{`INSERT INTO d_addnn (id, v, n) VALUES (21, 'v', 21)`},
		myAfter: []string{`INSERT INTO d_addnn (id, v, n, z, s) VALUES (21, 'v', 21, 1, 'a')`}},
	{table: "d_drop", pg: []string{`ALTER TABLE d_drop DROP COLUMN n`}, my: []string{`ALTER TABLE d_drop DROP COLUMN n`},
		after: []string{`INSERT INTO d_drop VALUES (21, 'v')`, `UPDATE d_drop SET v = 'changed' WHERE id = 3`}},
	{table: "d_widen", pg: []string{`ALTER TABLE d_widen ALTER COLUMN v TYPE varchar(50), ALTER COLUMN n TYPE bigint`},
		my:    []string{`ALTER TABLE d_widen MODIFY v varchar(50), MODIFY n bigint`},
		after: []string{`INSERT INTO d_widen VALUES (21, 'a value of fifty characters, more than twenty ....', 5000000000)`}},
	{table: "d_addpk", keyless: true, pg: []string{`ALTER TABLE d_addpk ADD PRIMARY KEY (id)`}, my: []string{`ALTER TABLE d_addpk ADD PRIMARY KEY (id)`},
		after: []string{`INSERT INTO d_addpk VALUES (21, 'v', 21)`, `UPDATE d_addpk SET n = 0 WHERE id = 6`}},
	{table: "d_droppk", pg: []string{`ALTER TABLE d_droppk REPLICA IDENTITY FULL`, `ALTER TABLE d_droppk DROP CONSTRAINT d_droppk_pkey`},
		my:    []string{`ALTER TABLE d_droppk DROP PRIMARY KEY`},
		after: []string{`INSERT INTO d_droppk VALUES (21, 'v', 21)`, `UPDATE d_droppk SET n = 0 WHERE id = 7`}},
	{table: "d_trunc", pg: []string{`TRUNCATE d_trunc`}, my: []string{`TRUNCATE d_trunc`},
		after: []string{`INSERT INTO d_trunc VALUES (21, 'v', 21)`}},
	{table: "d_index", pg: []string{`CREATE INDEX d_index_v ON d_index (v)`}, my: []string{`CREATE INDEX d_index_v ON d_index (v)`},
		after: []string{`INSERT INTO d_index VALUES (21, 'v', 21)`, `UPDATE d_index SET n = 0 WHERE id = 8`}},
}

// TestDDLMatrix runs issue 22's common DDL on a PostgreSQL source under a
// workload, kills the daemon with SIGKILL between the DDL and the first
// rows after it, and walship verify finds the three followers equal to the
// source; the rows a column was added to read its default. (RENAME COLUMN
// and a volatile default stop the sinks: TestDDLStops. RENAME TABLE and
// DROP then CREATE TABLE: see the README's schema-evolution table.)
func TestDDLMatrix(t *testing.T) { ddlMatrix(t, "postgres") }

// TestDDLMatrixFromMariaDB is the same with a MariaDB source.
func TestDDLMatrixFromMariaDB(t *testing.T) { ddlMatrix(t, "mariadb") }

func ddlMatrix(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	e.pace = 5 * time.Millisecond
	for _, c := range ddlCases {
		key := ", PRIMARY KEY (id)"
		if c.keyless {
			key = ""
		}
		stmts := []string{fmt.Sprintf(`CREATE TABLE %s (id bigint NOT NULL, v varchar(20), n int%s)`, c.table, key)}
		if engine == "postgres" {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s SELECT g, 'v' || g, g FROM generate_series(1, 20) g`, c.table))
			if c.keyless {
				stmts = append(stmts, `ALTER TABLE `+c.table+` REPLICA IDENTITY FULL`)
			}
		} else {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s SELECT seq, concat('v', seq), seq FROM seq_1_to_20`, c.table))
		}
		for _, q := range stmts {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	e.start()
	for _, c := range ddlCases {
		e.waitRows(c.table, 20, 90*time.Second)
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.workload(ctx, 17, 0); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	for _, c := range ddlCases {
		ddl := c.pg
		if engine != "postgres" {
			ddl = c.my
		}
		for _, q := range ddl {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.stop(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon was not killed")
	}
	for _, c := range ddlCases {
		after := c.after
		if engine != "postgres" && c.myAfter != nil {
			after = c.myAfter
		}
		for _, q := range after {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	e.start()
	time.Sleep(2 * time.Second)
	stopLoad()
	wg.Wait()
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nproblems:\n%s", sink, code, out, e.logProblems())
		}
	}
	want := "1|x|7"
	for fe, db := range e.followers {
		got, err := rows(db, "SELECT d_adddef.id, note, k FROM d_adddef JOIN d_addnn ON d_addnn.id = d_adddef.id WHERE d_adddef.id = 1")
		if err != nil || len(got) != 1 || strings.ReplaceAll(got[0], "true:", "") != want {
			t.Errorf("%s follower: the existing row reads %q (%v), want %s", fe, got, err, want)
		}
	}
	schema := "public"
	if engine != "postgres" {
		schema = e.name
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		if cmd := "walship verify --sink " + sink + " --tables " + schema + ".d_adddef"; !strings.Contains(e.logAll(), cmd) {
			t.Errorf("the log does not name %q after the DDL", cmd)
		}
	}
	if p := e.logProblems(); p != "" {
		t.Errorf("problems:\n%s", p)
	}
}

// logAll is the whole daemon log.
func (e *e2e) logAll() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	return string(b)
}
