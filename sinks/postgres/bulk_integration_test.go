package postgres

import (
	"fmt"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sinktest"
)

// TestIntegrationBulkApply: the applier's bulk paths end to end: 3000
// inserts in one follower transaction (copied, binary), 3000 snapshot
// rows into an empty range (copied straight in), then 3000 snapshot rows
// of which 1000 are there already with other values (the direct copy
// conflicts and the rows are upserted), and a table whose numeric column
// keeps the load in text. Every row must read its last values.
func TestIntegrationBulkApply(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, "DROP SCHEMA IF EXISTS bulk CASCADE")
	a := sinktest.Applier(t, ctx, d, "bulk_apply")
	bin := &ordering.Table{Schema: "bulk", Name: "bin", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		{Name: "id", Type: "bigint", Kind: ordering.KindInt, Precision: -1, Scale: -1},
		sinktest.Col("s", "text", ordering.KindString),
		sinktest.Col("ts", "timestamp with time zone", ordering.KindTimestampTZ),
	}}
	txt := &ordering.Table{Schema: "bulk", Name: "txt", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		{Name: "id", Type: "bigint", Kind: ordering.KindInt, Precision: -1, Scale: -1},
		{Name: "n", Type: "numeric(12,3)", Kind: ordering.KindDecimal, Nullable: true, Precision: 12, Scale: 3},
	}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{bin, txt}); err != nil {
		t.Fatal(err)
	}
	apply := func(op ordering.Op, lo, hi int, tag string) {
		t.Helper()
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := a.Stats().Statements
		for _, tbl := range []*ordering.Table{bin, txt} { // one table's rows after the other's
			for i := lo; i < hi; i++ {
				ch := ordering.Change{Op: op, Table: tbl, After: []ordering.Value{ordering.Int(int64(i)), ordering.Decimal(fmt.Sprintf("%d.125", i))}}
				if tbl == bin {
					s := ordering.String(fmt.Sprintf("%s-%d\t\\", tag, i))
					if i%7 == 0 {
						s = ordering.Null()
					}
					ch.After = []ordering.Value{ordering.Int(int64(i)), s, ordering.TimestampTZ(int64(i) * 1e6)}
				}
				if err := tx.Apply(ctx, "pg", &ch); err != nil {
					tx.Rollback()
					t.Fatal(err)
				}
			}
		}
		if err := tx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := a.Stats().Statements - before; n != 0 {
			t.Errorf("%s: %d statements, want every row in bulk loads", tag, n)
		}
	}
	apply(ordering.OpInsert, 0, 3000, "insert")
	apply(ordering.OpRead, 3000, 6000, "snapshot")
	apply(ordering.OpRead, 5000, 8000, "again")
	check := func(q string, want int) {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
	check("SELECT count(*) FROM bulk.bin", 8000)
	check("SELECT count(*) FROM bulk.txt", 8000)
	check(`SELECT count(*) FROM bulk.bin WHERE s IS DISTINCT FROM CASE WHEN id % 7 = 0 THEN NULL ELSE
		CASE WHEN id < 3000 THEN 'insert' WHEN id < 5000 THEN 'snapshot' ELSE 'again' END || '-' || id || E'\t\\' END
		OR ts <> to_timestamp(id)`, 0)
	check("SELECT count(*) FROM bulk.txt WHERE n::text <> id || '.125'", 0)
}
