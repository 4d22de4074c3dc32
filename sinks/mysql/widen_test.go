package mysql

import (
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
)

// TestIntegrationWidenFollowerColumns: follower tables walship did not
// create have columns narrower than the source's. MariaDB in strict mode
// rounds a decimal's extra fraction digits with only a note, so the
// applier must widen first: it MODIFYs what MariaDB converts by value,
// keeping each column's nullability, collation, default and comment, writes
// 1.2345 unrounded, and stops with a ColumnTypeError naming the table, the
// column and both types where it cannot widen.
func TestIntegrationWidenFollowerColumns(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db,
		"CREATE TABLE w (id INT PRIMARY KEY, amount DECIMAL(10,2) DEFAULT 0.00 COMMENT 'money', "+
			"code VARCHAR(5) COLLATE utf8mb4_bin NOT NULL, n INT, ts DATETIME, e ENUM('a','b'), f FLOAT, note VARCHAR(5))",
		"CREATE TABLE narrow (id INT PRIMARY KEY, amount DOUBLE)",
		"CREATE TABLE dated (id INT PRIMARY KEY, at DATE)")
	a := sinktest.Applier(t, ctx, d, "widen")
	col := sinktest.Col
	codeCol := col("code", "character varying(20)", ordering.KindString)
	codeCol.Length = 20
	e := col("e", "mood", ordering.KindEnum)
	e.Enum = []string{"a", "b", "c"}
	w := &ordering.Table{Schema: "public", Name: "w", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		col("id", "integer", ordering.KindInt), col("amount", "numeric(12,4)", ordering.KindDecimal),
		codeCol, col("n", "bigint", ordering.KindInt), col("ts", "timestamp(6) without time zone", ordering.KindTimestamp), e,
		col("f", "double precision", ordering.KindFloat), col("note", "text", ordering.KindString)}}
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{w}); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	var name, create string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE w").Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`amount` decimal(12,4) DEFAULT 0.0000 COMMENT 'money'",
		"`code` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL", "`n` bigint(20) DEFAULT NULL",
		"`ts` datetime(6) DEFAULT NULL", "`e` enum('a','b','c') DEFAULT NULL", "`f` double DEFAULT NULL", "`note` longtext"} {
		if !strings.Contains(create, want) {
			t.Errorf("after EnsureSchema the table lacks %s:\n%s", want, create)
		}
	}
	// Insert rolls back a failure: DROP DATABASE would wait for its locks.
	if err := sinktest.Insert(ctx, a, w, ordering.Int(1), ordering.Decimal("1.2345"),
		ordering.String(strings.Repeat("x", 20)), ordering.Int(1<<40), ordering.Timestamp(1_700_000_000_123_456),
		ordering.Enum("c"), ordering.Float(0.1), ordering.String(strings.Repeat("y", 100))); err != nil {
		t.Fatal(err)
	}
	var amount, code, ts, ev, f, note string
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT amount, code, n, ts, e, f, note FROM w WHERE id = 1").Scan(&amount, &code, &n, &ts, &ev, &f, &note); err != nil {
		t.Fatal(err)
	}
	if amount != "1.2345" || len(code) != 20 || n != 1<<40 || ts != "2023-11-14 22:13:20.123456" || ev != "c" || f != "0.1" || len(note) != 100 {
		t.Errorf("stored amount %s code %q n %d ts %s e %s f %s", amount, code, n, ts, ev, f)
	}

	sinktest.CheckIncompatible(t, ctx, a, "", false,
		sinktest.Incompatible{Table: "narrow", Column: col("amount", "numeric(12,4)", ordering.KindDecimal), Have: "double"},
		sinktest.Incompatible{Table: "dated", Column: col("at", "timestamp(6) without time zone", ordering.KindTimestamp), Have: "date"})
	var typ string
	if err := db.QueryRowContext(ctx, "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "+
		"AND TABLE_NAME = 'narrow' AND COLUMN_NAME = 'amount'").Scan(&typ); err != nil || typ != "double" {
		t.Errorf("the column the sink stopped on was altered: %s, %v", typ, err)
	}
}
