package sinktest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/walship/walship/sinks/sqlsink"
)

// Columns is the dialect's Columns of n, as "name:type:nullable" joined
// by spaces; the table must exist.
func Columns(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, n sqlsink.Name) string {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	cols, ok, err := d.Columns(ctx, tx, n)
	if err != nil || !ok {
		t.Fatalf("Columns = %v, %v", ok, err)
	}
	var s []string
	for _, c := range cols {
		s = append(s, fmt.Sprintf("%s:%s:%v", c.Name, c.Type, c.Nullable))
	}
	return strings.Join(s, " ")
}

// Evolve is a table's life on one engine, for [EvolveTable].
type Evolve struct {
	Name    sqlsink.Name
	Lookup  sqlsink.Name        // the name Columns finds the table by (Name when zero)
	Create  []sqlsink.ColumnDef // id (the key), a NOT NULL, b
	Again   []sqlsink.ColumnDef // a CreateTable of the existing table: a no-op
	Created string              // Columns after Create
	Evolve  []string            // add c, drop a's NOT NULL, drop b
	Evolved string              // Columns after Evolve
	Insert  string              // rows for Truncate to remove
	// BeforeTruncate, when set, runs after Insert.
	BeforeTruncate func()
	Missing        []sqlsink.Name // tables Columns must not find
}

// EvolveTable creates a table with CreateTable (twice: the second is a
// no-op), evolves it with the statements of e, checks Columns after each
// step, truncates it, and has Columns find none of e.Missing.
func EvolveTable(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, e Evolve) {
	t.Helper()
	lookup := e.Lookup
	if lookup == (sqlsink.Name{}) {
		lookup = e.Name
	}
	Exec(t, ctx, db, d.CreateTable(e.Name, e.Create, []string{"id"})...)
	Exec(t, ctx, db, d.CreateTable(e.Name, e.Again, nil)...)
	if got := Columns(t, ctx, d, db, lookup); got != e.Created {
		t.Errorf("Columns = %s, want %s", got, e.Created)
	}
	Exec(t, ctx, db, e.Evolve...)
	if got := Columns(t, ctx, d, db, lookup); got != e.Evolved {
		t.Errorf("after evolving: Columns = %s, want %s", got, e.Evolved)
	}
	Exec(t, ctx, db, e.Insert)
	if e.BeforeTruncate != nil {
		e.BeforeTruncate()
	}
	Exec(t, ctx, db, d.Truncate(e.Name))
	if n := Count(t, ctx, d, db, e.Name); n != 0 {
		t.Errorf("after Truncate: %d rows", n)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, n := range e.Missing {
		if _, ok, err := d.Columns(ctx, tx, n); ok || err != nil {
			t.Errorf("Columns(%s) = %v, %v", n, ok, err)
		}
	}
}

// Count is the number of rows of n.
func Count(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, n sqlsink.Name) int {
	t.Helper()
	var count int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+d.QuoteName(n)).Scan(&count); err != nil {
		t.Errorf("count %s: %v", n, err)
	}
	return count
}
