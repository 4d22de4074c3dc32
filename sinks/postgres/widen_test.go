package postgres

import (
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestIntegrationWidenFollowerColumns: follower tables walship did not
// create (or created before a source change made while it was stopped)
// have columns narrower than the source's. The applier widens what
// PostgreSQL can alter without changing a value, writes 1.2345 unrounded,
// and stops with a ColumnTypeError naming the table, the column and both
// types where it cannot widen.
func TestIntegrationWidenFollowerColumns(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db,
		`CREATE TABLE public.w (id integer PRIMARY KEY, amount numeric(10,2), code character varying(5), n integer,
			ts timestamp(0) without time zone, f real, keep numeric(20,6))`,
		`CREATE TABLE public.narrow (id integer PRIMARY KEY, amount real)`,
		`CREATE TABLE public.padded (id integer PRIMARY KEY, code character(5))`)
	a := sinktest.Applier(t, ctx, d, "widen")
	col := sinktest.Col
	w := &ordering.Table{Schema: "public", Name: "w", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		col("id", "integer", ordering.KindInt), col("amount", "numeric(12,4)", ordering.KindDecimal),
		col("code", "character varying(20)", ordering.KindString), col("n", "bigint", ordering.KindInt),
		col("ts", "timestamp(6) without time zone", ordering.KindTimestamp), col("f", "double precision", ordering.KindFloat),
		col("keep", "numeric(12,4)", ordering.KindDecimal)}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{w}); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	cols, _, err := d.Columns(ctx, tx, sqlsink.Name{Schema: "public", Table: "w"})
	tx.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+":"+c.Type)
	}
	want := "id:integer amount:numeric(12,4) code:character varying(20) n:bigint ts:timestamp(6) without time zone " +
		"f:double precision keep:numeric(20,6)"
	if strings.Join(got, " ") != want {
		t.Errorf("after EnsureSchema: %s\nwant %s", strings.Join(got, " "), want)
	}
	// Insert rolls back a failure: DROP DATABASE would wait for its locks.
	if err := sinktest.Insert(ctx, a, w, ordering.Int(1), ordering.Decimal("1.2345"),
		ordering.String(strings.Repeat("x", 20)), ordering.Int(1<<40), ordering.Timestamp(1_700_000_000_123_456),
		ordering.Float(0.1), ordering.Decimal("-12345678.9876")); err != nil {
		t.Fatal(err)
	}
	var amount, code, ts, f, keep string
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT amount::text, code, n, ts::text, f::text, keep::text FROM public.w WHERE id = 1`).
		Scan(&amount, &code, &n, &ts, &f, &keep); err != nil {
		t.Fatal(err)
	}
	if amount != "1.2345" || len(code) != 20 || n != 1<<40 || ts != "2023-11-14 22:13:20.123456" || f != "0.1" || keep != "-12345678.987600" {
		t.Errorf("stored amount %s code %q n %d ts %s f %s keep %s", amount, code, n, ts, f, keep)
	}

	sinktest.CheckIncompatible(t, ctx, a, "public.", true,
		sinktest.Incompatible{Table: "narrow", Column: col("amount", "numeric(12,4)", ordering.KindDecimal), Have: "real"},
		sinktest.Incompatible{Table: "padded", Column: col("code", "character(10)", ordering.KindString), Have: "character(5)"})
	var typ string
	if err := db.QueryRowContext(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'public.narrow'::regclass AND attname = 'amount'`).Scan(&typ); err != nil || typ != "real" {
		t.Errorf("the column the sink stopped on was altered: %s, %v", typ, err)
	}
}
