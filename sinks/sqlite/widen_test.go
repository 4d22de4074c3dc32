package sqlite

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
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
	exec(t, ctx, db, `CREATE TABLE w (id INTEGER PRIMARY KEY, amount VARCHAR(5), code VARCHAR(5))`,
		`CREATE TABLE narrow (id INTEGER PRIMARY KEY, amount DECIMAL(10,2))`,
		`CREATE TABLE floats (id INTEGER PRIMARY KEY, n REAL)`)
	a := sqlsink.New(sqlsink.Config{Sink: "widen", SourceEngines: map[string]string{"pg": "postgres"}}, d,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	defer a.Close()
	col := func(name, typ string, k ordering.Kind) ordering.Column {
		return ordering.Column{Name: name, Type: typ, Kind: k, Nullable: true, Precision: -1, Scale: -1}
	}
	w := &ordering.Table{Schema: "public", Name: "w", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		col("id", "integer", ordering.KindInt), col("amount", "numeric(12,4)", ordering.KindDecimal),
		col("code", "character varying(20)", ordering.KindString)}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{w}); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	ftx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ftx.Rollback()
	ch := ordering.Change{Op: ordering.OpInsert, Table: w, After: []ordering.Value{ordering.Int(1), ordering.Decimal("1.2300"),
		ordering.String(strings.Repeat("x", 20))}}
	if err := ftx.Apply(ctx, "pg", &ch); err != nil {
		t.Fatal(err)
	}
	if err := ftx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
		t.Fatal(err)
	}
	if err := ftx.Commit(); err != nil {
		t.Fatal(err)
	}
	var amount, class, code string
	if err := db.QueryRowContext(ctx, `SELECT amount, typeof(amount), code FROM w WHERE id = 1`).Scan(&amount, &class, &code); err != nil {
		t.Fatal(err)
	}
	if amount != "1.2300" || class != "text" || len(code) != 20 {
		t.Errorf("stored amount %s (%s), code %q", amount, class, code)
	}
	for _, c := range []struct {
		table  string
		column ordering.Column
		have   string
	}{
		{"narrow", col("amount", "numeric(12,4)", ordering.KindDecimal), "decimal(10,2)"},
		{"floats", col("n", "bigint", ordering.KindInt), "real"}, // 2^62 would become a REAL
	} {
		tbl := &ordering.Table{Schema: "public", Name: c.table, PrimaryKey: []string{"id"},
			Columns: []ordering.Column{col("id", "integer", ordering.KindInt), c.column}}
		err := a.EnsureSchema(ctx, "pg", []*ordering.Table{tbl})
		var cte *sqlsink.ColumnTypeError
		if !errors.As(err, &cte) || !errors.Is(err, sqlsink.ErrIncompatible) {
			t.Fatalf("EnsureSchema(%s) = %v, want a ColumnTypeError", c.table, err)
		}
		t.Logf("stop: %v", err)
		if cte.Table != c.table || cte.Column != c.column.Name || cte.Have != c.have || cte.SourceType != c.column.Type {
			t.Errorf("ColumnTypeError %+v does not name the table, column and both types", cte)
		}
	}
}
