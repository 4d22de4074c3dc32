package sqlite

import (
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
)

// TestFileFollowerColumnAffinity: SQLite has no widths, so a follower
// column declared narrower (VARCHAR(5), DECIMAL(10,2)) only matters
// through its affinity. A TEXT-affinity column takes a longer text and a
// decimal's exact text unchanged (storage class text). A NUMERIC-affinity
// column would turn the decimal text into a REAL (12.3400 → 12.34, and
// long decimals rounded) and SQLite cannot alter it: the applier stops
// with a ColumnTypeError naming the table, the column and both types.
func TestFileFollowerColumnAffinity(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, `CREATE TABLE w (id INTEGER PRIMARY KEY, amount VARCHAR(5), code VARCHAR(5))`,
		`CREATE TABLE narrow (id INTEGER PRIMARY KEY, amount DECIMAL(10,2))`,
		`CREATE TABLE floats (id INTEGER PRIMARY KEY, n REAL)`)
	a := sinktest.Applier(t, ctx, d, "widen")
	col := sinktest.Col
	w := &ordering.Table{Schema: "public", Name: "w", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		col("id", "integer", ordering.KindInt), col("amount", "numeric(12,4)", ordering.KindDecimal),
		col("code", "character varying(20)", ordering.KindString)}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{w}); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	if err := sinktest.Insert(ctx, a, w, ordering.Int(1), ordering.Decimal("1.2300"), ordering.String(strings.Repeat("x", 20))); err != nil {
		t.Fatal(err)
	}
	var amount, class, code string
	if err := db.QueryRowContext(ctx, `SELECT amount, typeof(amount), code FROM w WHERE id = 1`).Scan(&amount, &class, &code); err != nil {
		t.Fatal(err)
	}
	if amount != "1.2300" || class != "text" || len(code) != 20 {
		t.Errorf("stored amount %s (%s), code %q", amount, class, code)
	}
	sinktest.CheckIncompatible(t, ctx, a, "", false,
		sinktest.Incompatible{Table: "narrow", Column: col("amount", "numeric(12,4)", ordering.KindDecimal), Have: "decimal(10,2)"},
		sinktest.Incompatible{Table: "floats", Column: col("n", "bigint", ordering.KindInt), Have: "real"}) // 2^62 would become a REAL
}
