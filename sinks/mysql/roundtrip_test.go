package mysql

import (
	"context"
	"database/sql"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// roundTrip creates a table of cells with CreateTable, writes the values
// with a plain INSERT (row 1) and two Upserts (rows 2 and 3: NULLs then
// values, and values then NULLs), and compares what the follower stored.
func roundTrip(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []sinktest.Cell) {
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Table: "types_" + src},
		ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}, src, cells)
	// One session, so that @@warning_count is that of the statement before:
	// strict mode turns truncation into errors, but rounding is only a note.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	write := func(stmt string, args []any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			t.Fatalf("%.40s…: %v", stmt, err)
		}
		var warnings int
		if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil || warnings != 0 {
			t.Errorf("%.40s… left %d warnings (%v)", stmt, warnings, err)
		}
	}
	write(ct.Insert(d), ct.Row(t, d, int64(1), false))
	upsert := d.Upsert(ct.Name, ct.Names, []string{"id"}, 2)
	write(upsert, append(ct.Row(t, d, int64(2), true), ct.Row(t, d, int64(3), false)...))
	write(upsert, append(ct.Row(t, d, int64(2), false), ct.Row(t, d, int64(3), true)...))
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: false, 3: true}, nil, nil)
}

// addedWithDefaults is [sinktest.AddedWithDefaults] 20 columns to a table
// (the row size limit), each typed as fitRow makes it.
func addedWithDefaults(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []sinktest.Cell) {
	sinktest.AddedWithDefaults(t, ctx, d, db, sqlsink.Name{Table: "defaults_" + src}, src, cells, 20,
		func(typ string) string { return fitRow([]sqlsink.ColumnDef{{Name: "x", Type: typ}}, nil)[0].Type }, nil)
}

// TestIntegrationRoundTrip: the cells of each source engine
// ([sinktest.RoundTrips]) written and read back, then added as column
// defaults.
func TestIntegrationRoundTrip(t *testing.T) {
	sinktest.RoundTrips(t, "mysql", func(t *testing.T, src string, cells []sinktest.Cell) {
		d, db, ctx := follower(t)
		roundTrip(t, d, db, ctx, src, cells)
		addedWithDefaults(t, d, db, ctx, src, cells)
	})
}
